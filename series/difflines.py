"""The lines of a patch that say what it changes, normalised for comparing versions.

Pairing, interdiff and comment carry-over all compare two revisions of a patch
as diffs, without a tree. Line numbers, `index` lines and whitespace move
between revisions without meaning anything, so they are dropped here, once.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from series.model import FileChange, Patch

_WORD = re.compile(r"\w")
# Below this many word characters a line ("}", "break;", "return 0;") says
# nothing about which patch it came from.
MIN_WORD_CHARS = 6
# Lines every new file starts with: they tie nothing to a particular patch.
_BOILERPLATE = re.compile(
    r"^(#\s*(include|ifndef|endif)\b|#\s*define\s+_\w+_H\b|(//|/?\*)?\s*(SPDX-License-Identifier|Copyright|Author)\b)"
)


@dataclass(frozen=True)
class DiffLine:
    """One line of a hunk: sign is '+', '-' or ' ' (context)."""

    path: str
    sign: str
    text: str  # whitespace-normalised content, without the sign
    line: int  # post-image line ('+', ' '), pre-image line ('-')
    raw: str  # the line as mailed, sign included

    @property
    def key(self) -> str:
        return self.sign + self.text


def normalise(text: str) -> str:
    """Collapse whitespace: re-indenting a line is not a change worth showing."""
    return " ".join(text.split())


def is_telling(text: str) -> bool:
    return len(_WORD.findall(text)) >= MIN_WORD_CHARS and not _BOILERPLATE.match(text)


_LINES: dict[tuple[str, str], tuple[DiffLine, ...]] = {}
_LINES_KEPT = 1024  # patches; a whole v1..v3 comparison reads ~40 patches hundreds of times


def diff_lines(patch: Patch) -> list[DiffLine]:
    """Every hunk line of the patch in order, with its file, as mailed.

    Pairing, carry-over and the comment rules ask for the same patches'
    lines many times; they are parsed once per mail and diff text.
    """
    key = (patch.msgid, patch.diff)
    if key not in _LINES:
        if len(_LINES) >= _LINES_KEPT:
            _LINES.clear()
        _LINES[key] = tuple(file_lines(patch.files))
    return list(_LINES[key])


def file_lines(files: list[FileChange]) -> list[DiffLine]:
    """Every hunk line of these file diffs in order (a diff without its mail, as b4-check has)."""
    out: list[DiffLine] = []
    for fc in files:
        for hunk in fc.hunks:
            old_no, new_no = hunk.source_start, hunk.target_start
            for raw in hunk.text.splitlines()[1:]:  # first line is the @@ header
                if not raw or raw[0] not in "+- ":
                    continue  # "\ No newline at end of file"
                if raw[0] == "-":
                    out.append(DiffLine(fc.path, "-", normalise(raw[1:]), old_no, raw))
                    old_no += 1
                    continue
                out.append(DiffLine(fc.path, raw[0], normalise(raw[1:]), new_no, raw))
                new_no += 1
                if raw[0] == " ":
                    old_no += 1
    return out


def changed_keys(patch: Patch) -> Counter[str]:
    """Multiset of the telling +/- lines: the patch's fingerprint for pairing.

    A line both removed and added by the same patch was moved, not written:
    it is left out, or code moved to a new file would pair a patch with every
    earlier patch that once touched that code.
    """
    lines = [d for d in diff_lines(patch) if d.sign != " " and is_telling(d.text)]
    removed = {d.text for d in lines if d.sign == "-"}
    added = {d.text for d in lines if d.sign == "+"}
    moved = removed & added
    return Counter(d.key for d in lines if d.text not in moved)
