"""A patch's diff and commit message as the report shows them: numbered, highlighted lines
that notes can be attached to."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from markupsafe import Markup, escape
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import TextLexer, get_lexer_for_filename
from pygments.util import ClassNotFound

from series.model import Patch

if TYPE_CHECKING:
    from reviewtool.report.notes import Note

_HUNK = re.compile(r"^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@")


@dataclass
class DiffLine:
    sign: str  # "+", "-", " " or "\\"
    old: int | None
    new: int | None
    text: str  # without the sign
    html: Markup  # highlighted, escaped
    ident: str
    notes: list[Note] = field(default_factory=list)


@dataclass
class HunkView:
    header: str
    lines: list[DiffLine]


@dataclass
class FileView:
    path: str
    status: str
    added: int
    removed: int
    hunks: list[HunkView]
    notes: list[Note] = field(default_factory=list)  # about the file, not a line of the diff


@dataclass
class CommitLine:
    number: int
    text: str
    notes: list[Note] = field(default_factory=list)


def _highlighted(path: str, texts: list[str]) -> list[str]:
    """Pygments over a hunk's lines at once (comments spanning lines stay comments); escaped
    HTML as plain strings, so they can be cached."""
    try:
        lexer = get_lexer_for_filename(path, stripnl=False, ensurenl=False)
    except ClassNotFound:
        lexer = TextLexer(stripnl=False, ensurenl=False)
    html = highlight("\n".join(texts) + "\n", lexer, HtmlFormatter(nowrap=True))
    lines = html.split("\n")
    if len(lines) < len(texts):
        return [str(escape(t)) for t in texts]
    return lines[: len(texts)]  # pygments escaped the text


def highlighted_patch(patch: Patch) -> list[list[list[str]]]:
    """Every hunk's lines highlighted, per file: the slow part of a report (pygments' C lexer),
    so `file_views` can take it from the stage cache on a re-run."""
    return [[_highlighted(fc.path, [line[1:] for line in h.text.splitlines()[1:]]) for h in fc.hunks]
            for fc in patch.files]


def hunk_view(path: str, text: str, ident: str, htmls: list[str] | None = None) -> HunkView:
    """Old and new line numbers from the @@ header, counted down the hunk; `htmls`: its lines
    already highlighted."""
    raw = text.splitlines()
    header, body = (raw[0], raw[1:]) if raw else ("", [])
    m = _HUNK.match(header)
    old, new = (int(m.group(1)), int(m.group(2))) if m else (0, 0)
    if htmls is None or len(htmls) != len(body):
        htmls = _highlighted(path, [line[1:] for line in body])
    lines = []
    for i, line in enumerate(body):
        sign = line[:1] or " "
        o = n = None
        if sign == "-":
            o, old = old, old + 1
        elif sign == "+":
            n, new = new, new + 1
        elif sign == " ":
            o, n, old, new = old, new, old + 1, new + 1
        lines.append(DiffLine(sign, o, n, line[1:], Markup(htmls[i]), f"{ident}-l{i}"))
    return HunkView(header, lines)


def file_views(patch: Patch, ident: str, highlighted: list[list[list[str]]] | None = None) -> list[FileView]:
    """`highlighted`: highlighted_patch(patch), if the caller has it."""
    hl = highlighted or [[None] * len(fc.hunks) for fc in patch.files]
    return [FileView(fc.path, fc.status, fc.added, fc.removed,
                     [hunk_view(fc.path, h.text, f"{ident}-f{fi}-h{hi}", hl[fi][hi]) for hi, h in enumerate(fc.hunks)])
            for fi, fc in enumerate(patch.files)]


def commit_lines(patch: Patch) -> list[CommitLine]:
    return [CommitLine(i + 1, t) for i, t in enumerate(patch.commit_message.splitlines())]
