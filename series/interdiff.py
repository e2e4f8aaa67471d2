"""Interdiff of two revisions of a patch, computed from the mails alone.

`b4 diff` / `git range-diff` need the preimage blobs in a local tree; this
compares the patches as diffs instead (a diff of diffs, as range-diff prints
it), so it works on any thread. Hunk line numbers and `index` lines are
left out: a patch rebased onto a newer tree has moved, not changed.
"""
from __future__ import annotations

import difflib

from series.model import Patch


def _as_text(patches: list[Patch]) -> dict[str, list[str]]:
    """Per file: its hunks with @@ numbers replaced by the function name only."""
    files: dict[str, list[str]] = {}
    for patch in patches:
        for fc in patch.files:
            lines = files.setdefault(fc.path, [])
            for hunk in fc.hunks:
                body = hunk.text.splitlines()[1:]  # the first line is the @@ header
                lines.append(f"@@ {hunk.section_header}".rstrip())
                lines.extend(b for b in body if b[:1] in ("+", "-", " "))
    return files


def _message(patches: list[Patch]) -> list[str]:
    return [line for p in patches for line in p.commit_message.rstrip().splitlines()]


def interdiff(old: Patch | list[Patch], new: Patch | list[Patch], context: int = 3) -> str:
    """Changes from `old` to `new`, file by file; "" when they are the same.

    Lists of patches compare a split or merge as a whole. Output lines are
    `-`/`+`/` ` followed by the patch line (itself starting with +, - or
    space), like `git range-diff`. The commit message comes first.
    """
    olds = old if isinstance(old, list) else [old]
    news = new if isinstance(new, list) else [new]
    out: list[str] = []
    msg = list(difflib.unified_diff(_message(olds), _message(news), "old commit message",
                                    "new commit message", n=context, lineterm=""))
    out.extend(msg)
    a, b = _as_text(olds), _as_text(news)
    for path in sorted(set(a) | set(b)):
        la, lb = a.get(path, []), b.get(path, [])
        if la == lb:
            continue
        if not la:
            out.append(f"## {path}: only in the new revision ({sum(1 for x in lb if x[:1] in '+-')} changed lines)")
        elif not lb:
            out.append(f"## {path}: no longer touched ({sum(1 for x in la if x[:1] in '+-')} changed lines)")
        out.extend(difflib.unified_diff(la, lb, f"a/{path}", f"b/{path}", n=context, lineterm=""))
    return "\n".join(out) + ("\n" if out else "")


def interdiff_stats(text: str) -> tuple[int, int]:
    """(lines only in old, lines only in new) of an interdiff, for a summary column."""
    minus = sum(1 for line in text.splitlines() if line.startswith("-") and not line.startswith("---"))
    plus = sum(1 for line in text.splitlines() if line.startswith("+") and not line.startswith("+++"))
    return minus, plus
