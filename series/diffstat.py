"""The cover letter's diffstat, and how it compares with the patches present.

git prints the net stat of the whole series in the cover. Per file, that net
count can be below the sum of the patches' counts (a line added by one patch
and changed by a later one) but not above it: each line of the net diff was
added or removed by some patch. So a file the cover lists that no present
patch touches, or that has more changes in the cover than in all present
patches, was touched by a patch that is missing; with no patch missing it
means the cover does not describe these patches.
"""
from __future__ import annotations

import re

from series.model import DiffstatCheck, DiffstatEntry, Patch

_ENTRY_RE = re.compile(r"^ (?P<path>\S.*?)\s+\|\s+(?P<changes>\d{1,9}|Bin\b[^|]*?)(?: [+-]+)?\s*$")
_SUMMARY_RE = re.compile(
    r"^ (\d{1,9}) files? changed(?:, (\d{1,9}) insertions?\(\+\))?(?:, (\d{1,9}) deletions?\(-\))?\s*$"
)
_BRACE_RENAME_RE = re.compile(r"\{[^{}]* => ([^{}]*)\}")


def parse_diffstat(body: str) -> tuple[list[DiffstatEntry], str]:
    """Entries and summary line of the first diffstat block in `body` (a cover letter)."""
    entries: list[DiffstatEntry] = []
    for line in body.splitlines():
        if entries and _SUMMARY_RE.match(line):
            return entries, line.strip()
        match = _ENTRY_RE.match(line)
        if match:
            changes = match["changes"]
            entries.append(DiffstatEntry(
                path=match["path"].strip(),
                changes=int(changes) if changes.isdigit() else 0,
            ))
        elif entries:
            entries = []  # not a diffstat after all; look further
    return [], ""


def files_changed(summary: str) -> int | None:
    """N of "N files changed, ...", None for no summary."""
    numbers = _SUMMARY_RE.match(" " + summary)
    return int(numbers.group(1)) if numbers else None


def check(entries: list[DiffstatEntry], summary: str, patches: list[Patch], missing: list[int]) -> DiffstatCheck:
    """Compare the cover's diffstat with the present patches (see the module doc)."""
    per_path: dict[str, int] = {}
    for patch in patches:
        for change in patch.files:
            per_path[change.path] = per_path.get(change.path, 0) + change.added + change.removed
    only_in_cover: list[str] = []
    more_in_cover: list[DiffstatEntry] = []
    matched: set[str] = set()
    for entry in entries:
        paths = [p for p in per_path if _same_path(entry.path, p)]
        matched.update(paths)
        if not paths:
            only_in_cover.append(entry.path)
        elif entry.changes > sum(per_path[p] for p in paths):
            more_in_cover.append(entry)
    only_in_patches = sorted(set(per_path) - matched)
    cover_files = files_changed(summary) or len(entries)
    unexplained = bool(only_in_patches) or (not missing and bool(only_in_cover or more_in_cover))
    return DiffstatCheck(
        cover_files=cover_files,
        present_files=len(per_path),
        only_in_cover=only_in_cover,
        more_in_cover=more_in_cover,
        only_in_patches=only_in_patches,
        consistent=not unexplained,
        explanation=_explain(only_in_cover, more_in_cover, only_in_patches, missing),
    )


def _explain(only_in_cover: list[str], more_in_cover: list[DiffstatEntry],
             only_in_patches: list[str], missing: list[int]) -> str:
    gone = ", ".join(str(c) for c in missing)
    parts = []
    if only_in_cover:
        parts.append(f"{len(only_in_cover)} file(s) in the cover diffstat touched by no present patch")
    if more_in_cover:
        parts.append(f"{len(more_in_cover)} file(s) with more changes in the cover than in the present patches")
    if only_in_patches:
        parts.append(f"{len(only_in_patches)} file(s) touched by patches but absent from the cover diffstat")
    if not parts and missing:
        return (f"the present patches account for every file and count in the cover diffstat, "
                f"so it does not show what the missing patch(es) {gone} touched")
    if not parts:
        return "the cover diffstat matches the patches present"
    text = "; ".join(parts)
    if only_in_patches:
        return f"{text}: the cover does not describe these patches"
    if missing:
        return f"{text}: explained by the missing patch(es) {gone}, which must touch them"
    return f"{text}, yet no patch is missing: the cover does not describe these patches"


def _same_path(printed: str, path: str) -> bool:
    """Match a diffstat path (maybe shortened to ".../x" or a rename "a/{b => c}") to a file."""
    printed = _BRACE_RENAME_RE.sub(r"\1", printed).replace("//", "/")
    if " => " in printed:
        printed = printed.split(" => ", 1)[1]
    if printed.startswith(".../"):
        return path.endswith(printed[3:])
    return printed == path
