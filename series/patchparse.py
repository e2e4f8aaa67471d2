"""A patch mail's diff, parsed with unidiff into FileChange/Hunk.

The counts must equal `git apply --numstat` on the same text (tests check
this), so binary files count 0/0 and renames without content change have no
hunks.
"""
from __future__ import annotations

import re

import unidiff

from series.errors import SeriesInputError
from series.model import FileChange, Hunk

_DIFF_START_RE = re.compile(r"^(diff --git |--- \S)", re.M)
_SIGNATURE = "\n-- \n"


def extract_diff(body: str) -> str:
    """The diff part of a patch body: from the first `diff --git`, mail signature cut off."""
    match = _DIFF_START_RE.search(body)
    if not match:
        return ""
    diff = body[match.start():]
    cut = diff.rfind(_SIGNATURE)
    if cut >= 0 and "\n@@ " not in diff[cut:] and "\ndiff --git " not in diff[cut:]:
        diff = diff[: cut + 1]
    return diff


def parse_diff(diff: str, *, where: str) -> list[FileChange]:
    """Files and hunks of `diff`; a cut-off or malformed diff is bad input."""
    if not diff.strip():
        return []
    try:
        patchset = unidiff.PatchSet(diff)
    except (unidiff.UnidiffParseError, ValueError) as exc:  # ValueError: int() of a 5,000-digit hunk header
        raise SeriesInputError(f"{where}: the diff is cut off or malformed ({exc})") from exc
    files = [_file_change(pf) for pf in patchset]
    if not files:
        raise SeriesInputError(f"{where}: the diff has no file in it")
    return files


def _file_change(pf: unidiff.PatchedFile) -> FileChange:
    if pf.is_added_file:
        status = "added"
    elif pf.is_removed_file:
        status = "deleted"
    elif pf.is_rename:
        status = "renamed"
    else:
        status = "modified"
    old_path = _strip_prefix(pf.source_file) if not pf.is_added_file else _strip_prefix(pf.target_file)
    return FileChange(
        path=pf.path,
        old_path=old_path if status != "added" else pf.path,
        status=status,
        added=pf.added,
        removed=pf.removed,
        is_binary=pf.is_binary_file,
        hunks=[_hunk(h) for h in pf],
    )


def _hunk(h: unidiff.Hunk) -> Hunk:
    return Hunk(
        source_start=h.source_start,
        source_length=h.source_length,
        target_start=h.target_start,
        target_length=h.target_length,
        section_header=h.section_header,
        added=h.added,
        removed=h.removed,
        text=str(h),
    )


def _strip_prefix(name: str) -> str:
    return name[2:] if name.startswith(("a/", "b/")) else name
