"""Where in a patch each note is shown: under its diff line, its hunk, its commit-message line,
on its file, or on the patch when it is about none of those.

The stages number lines in the patched tree, which may differ from the mail's numbers when a
patch applied with an offset; a note that cannot be placed where it says is placed nearby and
says where it really is (`Note.where`).
"""
from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass
from typing import TYPE_CHECKING

from reviewtool.report.diffview import DiffLine

if TYPE_CHECKING:
    from reviewtool.report.view import PatchView

LORE_URL = "https://lore.kernel.org/r/"


@dataclass
class Note:
    """Something said about a line, a file or a patch: a finding or a person's comment."""

    kind: str  # a Finding.kind, or "comment"
    severity: str  # "error" | "warning" | "info" | "comment"
    title: str  # who or what says it, one line
    text: str
    ident: str = ""  # id of the element it is shown in, for links from the overview
    link: str = ""  # the mail on lore
    where: str = ""  # "file:line" when it could not be placed on a diff line
    at: str = ""  # where it is shown ("file:line", "commit message line N"), for the overview's list
    moved: bool = False  # about a line the patch only moves (it removes the same line elsewhere)
    counts: bool = False  # a finding that makes the command exit 1
    follows: str = ""  # the title of the finding this one follows from (same root cause), or ""


def lore_link(msgid: str) -> str:
    """Link to a message on lore; the msgid is percent-encoded, the scheme is ours."""
    return LORE_URL + urllib.parse.quote(msgid.strip("<>"), safe="@.-_+") if msgid else ""


def strip_ab(path: str) -> str:
    return path[2:] if path.startswith(("a/", "b/")) else path


def _same_hunk(a: str, b: str) -> bool:
    return bool(a and b) and a.split("@@")[1:2] == b.split("@@")[1:2]


class Placer:
    """Finds the diff line (or file, or commit-message line) a note belongs to in one patch."""

    def __init__(self, view: PatchView) -> None:
        self.view = view
        self.new: dict[tuple[str, int], DiffLine] = {}
        self.old: dict[tuple[str, int], DiffLine] = {}
        self.files = {f.path: f for f in view.files}
        for f in view.files:
            for h in f.hunks:
                for dl in h.lines:
                    if dl.new is not None:
                        self.new[(f.path, dl.new)] = dl
                    if dl.old is not None and dl.sign == "-":
                        self.old[(f.path, dl.old)] = dl

    def at_line(self, note: Note, path: str, line: int | None, *, old_side: bool = False,
                fallback: int | None = None) -> None:
        """On diff line `line` of `path`; else on line `fallback` (said where it really is); else on the file."""
        path = strip_ab(path)
        dl = (self.old if old_side else self.new).get((path, line or -1)) if line else None
        if dl is None and old_side and line:
            dl = self.new.get((path, line))
        if dl is None and fallback:
            dl = self.new.get((path, fallback))
            if dl is not None:
                note.where = f"{path}:{line}"
        if dl is not None:
            note.ident = dl.ident
            note.at = f"{path}:{line if line else dl.new}"
            dl.notes.append(note)
            return
        note.where = f"{path}:{line}" if line else path
        if path in self.files:
            note.ident = f"{self.view.ident}-f{self.view.files.index(self.files[path])}"
            self.files[path].notes.append(note)
        else:
            self.on_patch(note)

    def on_hunk(self, note: Note, path: str, header: str) -> None:
        """On the first line of the hunk whose @@ line is `header`; else on the file."""
        f = self.files.get(strip_ab(path))
        for h in f.hunks if f else []:
            if _same_hunk(h.header, header) and h.lines:
                first = h.lines[0]
                note.ident = first.ident
                note.at = f"{f.path}:{first.new if first.new is not None else first.old}"
                first.notes.append(note)
                return
        if header:
            note.text = f"{header}\n{note.text}"
        self.at_line(note, path, None)

    def on_call(self, note: Note, path: str, header: str, call: str, line: int | None) -> bool:
        """On the added line calling `call` in the hunk `header` (where the pair scan's acquire is)."""
        f = self.files.get(strip_ab(path))
        for h in f.hunks if f and call else []:
            if not _same_hunk(h.header, header):
                continue
            for dl in h.lines:
                if dl.sign == "+" and re.search(rf"\b{re.escape(call)}\s*\(", dl.text):
                    note.ident = dl.ident
                    note.at = f"{f.path}:{dl.new}"
                    if dl.new != line:
                        note.where = f"{f.path}:{line}"
                    dl.notes.append(note)
                    return True
        return False

    def on_patch(self, note: Note) -> None:
        note.ident = note.ident or f"{self.view.ident}-notes"
        self.view.notes.append(note)

    def on_commit_line(self, note: Note, number: int | None) -> None:
        if number and 0 < number <= len(self.view.commit):
            note.ident = f"{self.view.ident}-cm{number}"
            note.at = f"commit message line {number}"
            self.view.commit[number - 1].notes.append(note)
        else:
            self.on_patch(note)
