"""The C lines a patch added or changed, as they are in the tree after it.

Read from `git diff` between the commits before and after the patch in the
worktree, not from the mail: that is what was really applied (3-way merged
or partly), with the line numbers the compiler sees.  Blank and comment-only
lines are left out: no compiler can be said to have compiled them.
"""
from __future__ import annotations

import re

import git

C_SUFFIXES = (".c", ".h")
_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@", re.M)
_FILE = re.compile(r"^\+\+\+ b/(.+)$", re.M)


def changed_lines(repo: git.Git, before: str, after: str, files: list[str]) -> dict[str, list[int]]:
    """{path: post-image line numbers} of the added/changed C code lines in `files`."""
    paths = [f for f in files if f.endswith(C_SUFFIXES)]
    if not paths or before == after:
        return {}
    diff = repo.diff("--unified=0", "--no-color", "--no-renames", before, after, "--", *paths)
    lines: dict[str, list[int]] = {}
    for chunk in re.split(r"^diff --git ", diff, flags=re.M)[1:]:
        m = _FILE.search(chunk)
        if not m:
            continue  # a deleted file: nothing left to compile
        path = m.group(1)
        numbers = [n for start, count in _HUNK.findall(chunk)
                   for n in range(int(start), int(start) + (1 if count == "" else int(count)))]
        if numbers:
            text = repo.show(f"{after}:{path}").split("\n")
            code = code_lines(text)
            kept = [n for n in numbers if n in code]
            if kept:
                lines[path] = kept
    return lines


def code_lines(text: list[str]) -> set[int]:
    """Line numbers (1-based) that hold something other than blanks and comments."""
    keep: set[int] = set()
    in_comment = False
    for number, line in enumerate(text, 1):
        rest, code = line, False
        while rest:
            if in_comment:
                end = rest.find("*/")
                if end < 0:
                    rest = ""
                    continue
                rest, in_comment = rest[end + 2:], False
                continue
            start = rest.find("/*")
            slash = rest.find("//")
            cut = min(x for x in (start, slash, len(rest)) if x >= 0)
            if rest[:cut].strip():
                code = True
            if cut == start and start >= 0 and (slash < 0 or start < slash):
                rest, in_comment = rest[start + 2:], True
            else:
                rest = ""
        if code:
            keep.add(number)
    return keep
