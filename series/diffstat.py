"""The cover letter's diffstat, and how it compares with the patches present.

git prints the stat of the whole series in the cover; when a patch is missing
from the archive, the sum of the present patches differs, and saying by how
much (and in which files) tells the reader what the missing patch touched.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from series.model import DiffstatEntry, Patch

_ENTRY_RE = re.compile(r"^ (?P<path>\S.*?)\s+\|\s+(?P<changes>\d+|Bin\b.*?)(?: [+-]+)?\s*$")
_SUMMARY_RE = re.compile(
    r"^ (\d+) files? changed(?:, (\d+) insertions?\(\+\))?(?:, (\d+) deletions?\(-\))?\s*$"
)


@dataclass
class DiffstatComparison:
    """Cover diffstat against the sum of the present patches, per file and in total."""

    cover_files: int
    cover_insertions: int
    cover_deletions: int
    present_files: int
    present_insertions: int
    present_deletions: int
    differing: list[tuple[str, int, int]]  # (path as printed, cover changes, present changes)

    @property
    def matches(self) -> bool:
        return not self.differing and (
            (self.cover_insertions, self.cover_deletions)
            == (self.present_insertions, self.present_deletions)
        )


def parse_diffstat(body: str) -> tuple[list[DiffstatEntry], str]:
    """Entries and summary line of the first diffstat block in `body` (a cover letter)."""
    entries: list[DiffstatEntry] = []
    for line in body.splitlines():
        summary = _SUMMARY_RE.match(line)
        if summary and entries:
            return entries, line.strip()
        match = _ENTRY_RE.match(line)
        if match:
            changes = match["changes"]
            entries.append(DiffstatEntry(
                path=match["path"].strip(),
                changes=int(changes) if changes.isdigit() else 0,
            ))
        elif entries and line.strip():
            entries = []  # not a diffstat after all; look further
    return [], ""


def compare(entries: list[DiffstatEntry], summary: str, patches: list[Patch]) -> DiffstatComparison:
    """Cover numbers against the present patches. Paths git shortened (".../x") match by suffix."""
    per_path: dict[str, int] = {}
    for patch in patches:
        for change in patch.files:
            per_path[change.path] = per_path.get(change.path, 0) + change.added + change.removed
    differing = []
    for entry in entries:
        present = _lookup(entry.path, per_path)
        if present != entry.changes:
            differing.append((entry.path, entry.changes, present))
    covered = {p for e in entries for p in per_path if _same_path(e.path, p)}
    differing += [(path, 0, n) for path, n in sorted(per_path.items()) if path not in covered]
    numbers = _SUMMARY_RE.match(" " + summary) if summary else None
    return DiffstatComparison(
        cover_files=int(numbers.group(1)) if numbers else len(entries),
        cover_insertions=int(numbers.group(2) or 0) if numbers else 0,
        cover_deletions=int(numbers.group(3) or 0) if numbers else 0,
        present_files=len(per_path),
        present_insertions=sum(p.added for p in patches),
        present_deletions=sum(p.removed for p in patches),
        differing=differing,
    )


def _same_path(printed: str, path: str) -> bool:
    if printed.startswith(".../"):
        return path.endswith(printed[3:])
    return printed == path


def _lookup(printed: str, per_path: dict[str, int]) -> int:
    return sum(n for path, n in per_path.items() if _same_path(printed, path))
