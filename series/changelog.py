"""The cover letter's changelog, and each claim set beside what actually changed.

Authors write "Changes in v3:", "Changelog in v2 -> v3:", "v1 -> v2:",
"Changes since v1:" ... followed by bullets. A maintainer wants to know which
claims the diffs bear out; this module checks the ones that can be checked
(patch numbers, renamed identifiers, added documentation) and says so plainly
for the rest.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from series.difflines import diff_lines
from series.model import Series
from series.versions import Pairing

_HEADERS = [  # (regex, which group is the new revision, add to it)
    (re.compile(r"^\s*(?:changelog|changes)?\s*(?:in|since|from|for)?\s*v(\d{1,4})\s*(?:->|→|=>|to|\.\.)\s*v?(\d{1,4})\s*:?\s*$", re.I), 2, 0),
    (re.compile(r"^\s*(?:changelog|changes)\s+(?:in|for)\s+v(\d{1,4})\s*:?\s*$", re.I), 1, 0),
    (re.compile(r"^\s*(?:changelog|changes)\s+(?:since|from)\s+v(\d{1,4})\s*:?\s*$", re.I), 1, 1),
    (re.compile(r"^\s*v(\d{1,4})\s*:\s*$", re.I), 1, 0),
]
_BULLET = re.compile(r"^(\s*)(?:[-*+•o]|\d+[.)])\s+(.*)$")
# Numbers from mail are at most 4 digits (as b4 reads counters): no int() of a 5,000-digit
# string (ValueError) and no range() of a hundred million patches.
_PATCH_REF = re.compile(r"\[?PATCH\s+v(\d{1,4})\s+(\d{1,4})(?:\s*-\s*(\d{1,4}))?/(\d{1,4})\]?", re.I)
_IDENT = re.compile(r"\b([A-Za-z_]\w*)\(\)")


def _header(line: str) -> int | None:
    for rx, group, add in _HEADERS:
        m = rx.match(line)
        if m:
            return int(m.group(group)) + add
    return None


def parse_changelog(cover_body: str) -> dict[int, list[str]]:
    """{new revision: [claim, ...]} in the order written.

    A claim is a top-level bullet with its continuation and sub-bullets
    joined into one text (sub-bullets kept on their own lines).
    """
    result: dict[int, list[str]] = {}
    current: list[str] | None = None
    base_indent: int | None = None
    lines = cover_body.splitlines()
    for i, line in enumerate(lines):
        rev = _header(line)
        if rev is not None:
            current = result.setdefault(rev, [])
            base_indent = None
            continue
        if current is None:
            continue
        if not line.strip():
            nxt = next((x for x in lines[i + 1 :] if x.strip()), "")
            m = _BULLET.match(nxt)
            if not (m and base_indent is not None and len(m.group(1)) == base_indent):
                current = None
            continue
        m = _BULLET.match(line)
        if m and (base_indent is None or len(m.group(1)) <= base_indent):
            base_indent = len(m.group(1))
            current.append(m.group(2).strip())
        elif current:
            current[-1] += "\n" + line.strip()
        else:
            current = None  # prose after the header, not a list
    return {rev: claims for rev, claims in result.items() if claims}


@dataclass
class ClaimCheck:
    claim: str
    verdict: str  # "seen" | "not seen" | "partly seen" | "not checkable"
    evidence: list[str] = field(default_factory=list)


def _added_text(series: Series) -> str:
    return "\n".join(d.text for p in series.patches for d in diff_lines(p) if d.sign == "+")


def check_claims(claims: list[str], old: Series, new: Series, pairing: Pairing) -> list[ClaimCheck]:
    """Set each changelog claim beside the changes seen between old and new."""
    old_added, new_added = _added_text(old), _added_text(new)
    old_docs = {f.path for p in old.patches for f in p.files if f.path.startswith("Documentation/")}
    new_docs = {f.path for p in new.patches for f in p.files if f.path.startswith("Documentation/")}
    return [_check(c, old, new, pairing, old_added, new_added, new_docs - old_docs) for c in claims]


def _check(claim: str, old: Series, new: Series, pairing: Pairing,
           old_added: str, new_added: str, added_docs: set[str]) -> ClaimCheck:
    evidence: list[str] = []
    results: list[bool] = []
    refs = [(int(m.group(1)), int(m.group(2)), int(m.group(3) or m.group(2))) for m in _PATCH_REF.finditer(claim)]
    old_refs = [c for r, a, b in refs if r == old.revision for c in range(a, b + 1)]
    new_refs = [c for r, a, b in refs if r == new.revision for c in range(a, b + 1)]
    if old_refs and new_refs:
        for o in old_refs:
            succ = pairing.successors(o)
            ok = set(new_refs) <= set(succ)
            results.append(ok)
            evidence.append(f"v{old.revision} {o} -> v{new.revision} {', '.join(map(str, succ)) or 'nothing'} by pairing")
    elif new_refs:
        by_counter = {r.counter: r for r in pairing.new_patches}
        for n in new_refs:
            ref = by_counter.get(n)
            if ref is None:
                results.append(False)
                evidence.append(f"v{new.revision} has no patch {n}")
                continue
            group = next((g for g in pairing.groups if n in g.new), None)
            kind = "missing from the archive" if ref.missing else (group.kind if group else "?")
            came = pairing.predecessors(n)
            evidence.append(f"v{new.revision} {n} \"{ref.subject}\": {kind}"
                            + (f", from v{old.revision} {', '.join(map(str, came))}" if came else ""))
            if not ref.missing:  # a patch not in the archive can neither confirm nor refute
                results.append(True)
    for ident in dict.fromkeys(_IDENT.findall(claim)):
        was = len(re.findall(rf"\b{re.escape(ident)}\b", old_added))
        now = len(re.findall(rf"\b{re.escape(ident)}\b", new_added))
        evidence.append(f"{ident}(): added {was}x in v{old.revision}, {now}x in v{new.revision}")
        results.append(was != now)
    if re.search(r"\bdoc(ument|umentation|s)?\b", claim, re.I):
        results.append(bool(added_docs))
        evidence.append("new documentation: " + (", ".join(sorted(added_docs)) or "none"))
    if not results:
        return ClaimCheck(claim, "not checkable", ["nothing in the claim names a patch, a function or a file"])
    verdict = "seen" if all(results) else "not seen" if not any(results) else "partly seen"
    return ClaimCheck(claim, verdict, evidence)
