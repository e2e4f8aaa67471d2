"""What became of the code each review comment on v(n-1) quoted, in v(n).

Gerrit ports comments across patch sets because it has both trees; on a
mailing list we only have the two sets of patches. A comment follows the
lines it quoted: if its patch was dropped the comment is outdated; if the
quoted code is gone or changed in the patches that carry the old one on, it
is addressed; if the same code is still there, it is still open, and we say
where (patch, file, line in the new revision) so the report can show it there.
This is evidence for a reviewer, not a verdict: a comment asking to *add*
something is "open" until the quoted code changes. series.commentstatus
weighs it with the comment's kind and what the thread says.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from series.difflines import DiffLine, diff_lines, is_telling, normalise
from series.model import Patch, ReviewComment, Series
from series.textmatch import IDENT
from series.versions import Pairing

# The code a comment is about is the quoted code right above it.
KEY_LINES = 3


@dataclass
class Evidence:
    """One thing a status rests on: a line of the new diff, a mail, a changelog line."""

    kind: str  # "diff-line" | "code" | "message" | "changelog" | "trailer" | "pairing"
    text: str
    msgid: str = ""  # the mail, for "message" and "trailer"
    revision: int | None = None
    patch: int | None = None
    path: str = ""
    line: int | None = None


@dataclass
class CarriedComment:
    """One old comment (or one item of a list in it) with its status in the new revision."""

    msgid: str
    author: str
    date: str
    text: str
    old_revision: int
    old_patch: int | None  # counter in the old revision, None for the series
    old_path: str
    old_line: int | None
    new_revision: int
    status: str  # "addressed" | "open" | "outdated" | "unknown" | "no-action"
    evidence: str  # one line saying why, for tables
    new_patch: int | None = None  # where the code still is (open) in the new revision
    new_path: str = ""
    new_line: int | None = None
    confidence: str = "medium"  # "high" | "medium" | "low"
    quoted: list[str] = field(default_factory=list)
    item: str = ""  # "1", "a" ... when the comment is one item of a numbered or bulleted list
    kind: str = "request"  # series.commentkinds.KINDS
    kind_rule: str = "default"  # the rule of commentkinds.toml that gave the kind
    status_rule: str = "code"  # the rule of series.commentstatus that gave the status
    evidence_items: list[Evidence] = field(default_factory=list)


def carry_by_code(c: ReviewComment, old: Series, new: Series, pairing: Pairing,
                  text: str | None = None) -> CarriedComment:
    """The status the code alone gives `c` (or its list item `text`) in `new`."""
    a = c.anchor
    text = c.text if text is None else text
    out = CarriedComment(c.msgid, c.author, c.date, text, old.revision, a.patch_counter, a.path,
                         a.line, new.revision, "unknown", "", quoted=list(a.quoted))
    if a.patch_counter is None:
        out = _by_identifiers(out, text, old.patches, new.patches, "the series")
        return out if out.status != "unknown" else _by_patch_numbers(out, text, old, pairing)
    succ = pairing.successors(a.patch_counter)
    new_refs = {r.counter: r for r in pairing.new_patches}
    if not succ:
        out.status, out.confidence = "outdated", "high"
        out.evidence = (f"v{old.revision} {a.patch_counter}/{old.expected} has no successor in v{new.revision} "
                        "(no patch-id, subject or content match): dropped")
        return out
    present = [p for p in new.patches if p.counter in succ]
    missing = [n for n in succ if new_refs[n].missing]
    where = f"v{new.revision} " + ", ".join(str(n) for n in succ)
    if not present:
        out.confidence = "high"
        out.evidence = (f"its successor {where}/{new.expected} is missing from the archive "
                        f"(paired by subject): cannot tell")
        return out
    if a.level == "commit-message":
        return _in_messages(out, a.quoted, present, where)
    keys = _key_lines(a.quoted)
    if a.level != "hunk" or not keys:
        return _by_identifiers(out, text, [p for p in old.patches if p.counter == a.patch_counter],
                               present, where)
    hits = _find(keys, present, a.path) or _find(keys, new.patches, a.path)
    found = [k for k in keys if k in hits]
    changed = [k for k in keys if k[0] in "+-"]
    if len(found) == len(keys):
        d, patch = hits[keys[-1]]
        out.status, out.confidence = "open", "high"
        out.new_patch, out.new_path, out.new_line = patch, d.path, d.line
        out.evidence = (f"all {len(keys)} quoted lines still in v{new.revision}, last at "
                        f"{patch}/{new.expected} {d.path}:{d.line}: {d.raw.strip()!r}")
    elif not found and not changed:
        out.evidence = (f"quoted only context lines, which {where} no longer show: "
                        "the code may be unchanged outside the patches")
        out.confidence = "low"
    else:
        gone = next(k for k in reversed(keys) if k not in hits)
        out.status = "addressed"
        out.confidence = "low" if missing else ("high" if not found else "medium")
        out.evidence = (f"quoted line {gone!r} no longer in {where}"
                        + (f" ({len(found)}/{len(keys)} quoted lines remain)" if found else "")
                        + (f"; v{new.revision} {', '.join(map(str, missing))} missing from the archive" if missing else ""))
    return out


_PATCH_NO = re.compile(r"(?:#|\bpatch(?:es)?\s+#?|\[PATCH[^\]]*?\s)(\d{1,4})(?!\d)(?:/\d+\])?", re.I)
_RESTRUCTURED = {"split", "merged", "reworked", "dropped"}


def _by_patch_numbers(out: CarriedComment, text: str, old: Series, pairing: Pairing) -> CarriedComment:
    """A series-level comment naming patches ("merge #8 into #6") is about the series' shape.

    If every patch it names was split, merged, reworked or dropped, the
    author restructured around it; if they all carried on one to one, not.
    """
    named = sorted({int(n) for n in _PATCH_NO.findall(text) if 1 <= int(n) <= old.expected})
    kinds = {g.kind for n in named for g in pairing.groups if n in g.old}
    if not named or not kinds or "missing" in kinds:
        return out
    groups = "; ".join(f"{g.kind}: v{old.revision} {', '.join(map(str, g.old))} -> "
                       f"v{pairing.new_revision} {', '.join(map(str, g.new)) or 'nothing'}"
                       for g in pairing.groups if set(g.old) & set(named))
    out.confidence = "low"
    if kinds <= _RESTRUCTURED:
        out.status = "addressed"
        out.evidence = f"names patch(es) {', '.join(map(str, named))}, restructured since: {groups}"
    elif not kinds & _RESTRUCTURED:
        out.status = "open"
        out.evidence = f"names patch(es) {', '.join(map(str, named))}, carried on one to one: {groups}"
    return out


def _key_lines(quoted: list[str]) -> list[str]:
    """The last telling code lines quoted, as normalised '<sign><text>' keys.

    '+' and context lines are code that exists after the patch; a quoted '-'
    line is a removal the reviewer questions, and stays one if still removed.
    """
    keys = []
    for q in quoted:
        if q[:1] in "+- " and is_telling(q[1:]):
            keys.append(q[0] + normalise(q[1:]))
    return keys[-KEY_LINES:]


def _find(keys: list[str], patches: list[Patch], path: str) -> dict[str, tuple[DiffLine, int]]:
    """Where each key is in the patches' file `path`; '+' and context count as the same code."""
    hits: dict[str, tuple[DiffLine, int]] = {}
    for p in patches:
        for d in diff_lines(p):
            if path and d.path != path:
                continue
            for k in keys:
                if k in hits:
                    continue
                same_code = k[0] in "+ " and d.sign in "+ " and d.text == k[1:]
                same_removal = k[0] == "-" and d.sign == "-" and d.text == k[1:]
                if same_code or same_removal:
                    hits[k] = (d, p.counter)
    return hits


def _in_messages(out: CarriedComment, quoted: list[str], present: list[Patch], where: str) -> CarriedComment:
    want = [normalise(q) for q in quoted if is_telling(q)][-KEY_LINES:]
    text = " ".join(normalise(p.commit_message) for p in present)
    if not want:
        out.evidence = "no commit-message text quoted"
        return out
    kept = [w for w in want if w in text]
    if len(kept) == len(want):
        # Reviewers quote the end of a message to reply to the whole patch, so
        # unchanged text says little about the point they made.
        out.status, out.confidence = "open", "low"
        out.new_patch = next(p.counter for p in present if want[-1] in normalise(p.commit_message))
        out.evidence = f"quoted commit-message text still in {where}"
    else:
        out.status, out.confidence = "addressed", "medium"
        out.evidence = f"quoted commit-message text rewritten in {where} ({len(kept)}/{len(want)} lines remain)"
    return out


def _introduced(patches: list[Patch]) -> set[str]:
    """Names the series adds before any patch shows them as existing code: its own API.

    Decided at the first patch that mentions a name, since later patches
    naturally show the series' own names as context.
    """
    seen: set[str] = set()
    introduced: set[str] = set()
    for p in patches:
        added: set[str] = set()
        existing: set[str] = set()
        for d in diff_lines(p):
            (added if d.sign == "+" else existing).update(IDENT.findall(d.text))
        introduced |= (added - existing) - seen
        seen |= added | existing
    return introduced


def _by_identifiers(out: CarriedComment, text: str, old_patches: list[Patch], new_patches: list[Patch],
                    where: str) -> CarriedComment:
    """For a comment quoting no code: follow the names it mentions that the old series introduced."""
    introduced = _introduced(old_patches)
    named = [i for i in dict.fromkeys(IDENT.findall(text)) if i in introduced]
    if not named:
        out.evidence = "quotes no code and names nothing the patches introduce: check by hand"
        return out
    still: dict[str, tuple[DiffLine, int]] = {}
    for p in new_patches:
        for d in diff_lines(p):
            if d.sign == "+":
                for ident in named:
                    if ident not in still and re.search(rf"\b{re.escape(ident)}\b", d.text):
                        still[ident] = (d, p.counter)
    out.confidence = "low"
    gone = [i for i in named if i not in still]
    if gone:
        out.status = "addressed"
        out.evidence = (f"names {', '.join(gone)}, introduced in v{out.old_revision}, no longer added in {where}"
                        + (f"; still added: {', '.join(still)}" if still else ""))
    else:
        d, patch = still[named[0]]
        out.status = "open"
        out.new_patch, out.new_path, out.new_line = patch, d.path, d.line
        out.evidence = (f"names {', '.join(named)}, introduced in v{out.old_revision} and still added in "
                        f"v{out.new_revision} (first at {patch}: {d.path}:{d.line})")
    return out
