"""What the overview says once although the patch shows it at several places.

- the same message at several places is one entry with a link to each
  (21 hunks that do not apply are one line with 21 links, not 21 lines);
- errors that follow from another one are listed under it: a call to an
  undeclared function makes `if (is_huge_pmd(...)) BUILD_BUG();` impossible to
  fold away, so every BUILD_BUG behind it fails too (v3 02/15 without THP);
- consecutive paragraphs of one mail at one place read as that mail.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from reviewtool.model import BUILD_ERROR
from reviewtool.report.placement import Note

ROOT_CAUSE = re.compile(r"implicit declaration of function '(\w+)'")
FOLLOWS = re.compile(r"__compiletime_assert_\d+|BUILD_BUG")


@dataclass
class FindingGroup:
    """Findings of one patch that say the same thing: one line of the overview, each place linked."""

    severity: str
    title: str
    text: str  # the first line of the finding
    places: list[tuple[str, str]]  # (element id, "file:line" or "" for the whole patch)
    counts: bool  # what the overview's "Findings" number counts
    followers: list[tuple[str, str]] = field(default_factory=list)  # (element id, "title: text") it causes


def first_line(text: str) -> str:
    return text.splitlines()[0] if text else ""


def link_root_causes(notes: list[Note]) -> None:
    """Mark the build errors that follow from an implicit declaration in the same patch."""
    roots = [n for n in notes if n.kind == BUILD_ERROR and ROOT_CAUSE.search(n.text)]
    if not roots:
        return
    root = roots[0]
    cause = f"{first_line(root.text)} at {root.at or root.where}"
    for n in notes:
        if n.kind == BUILD_ERROR and n is not root and FOLLOWS.search(n.text) and not ROOT_CAUSE.search(n.text):
            n.follows = root.title
            n.title += f" (follows from: {cause})"


def group_findings(findings: list[Note]) -> list[FindingGroup]:
    """The overview's entries of one patch: same message grouped, followers under their cause."""
    groups: dict[tuple[str, str, str, str], FindingGroup] = {}
    followers = [n for n in findings if n.follows]
    for n in findings:
        if n.follows:
            continue
        group = groups.setdefault((n.kind, n.severity, n.title, first_line(n.text)),
                                  FindingGroup(n.severity, n.title, first_line(n.text), [], n.counts))
        group.places.append((n.ident, n.where or n.at))
    for n in followers:
        root = next(g for g in groups.values() if g.title == n.follows)
        root.followers.append((n.ident, f"{n.at or n.where}: {first_line(n.text)}"))
    return list(groups.values())


def merge_paragraphs(notes: list[Note]) -> list[Note]:
    """Consecutive paragraphs of one mail at one place read as that mail, not as N boxes."""
    out: list[Note] = []
    for n in notes:
        prev = out[-1] if out else None
        if prev and n.kind == prev.kind == "comment" and n.link == prev.link and n.title == prev.title:
            prev.text = f"{prev.text}\n\n{n.text}"
        else:
            out.append(n)
    return out
