"""Order the revisions of one series and pair the patches of v(n-1) with v(n).

Authors rename, split, merge and rewrite patches between revisions, so the
pairing is evidence, not an identity: each link says how it was found
(patch-id, subject, shared changed lines, same functions) and how strongly,
and each group of linked patches says what happened (unchanged, modified,
split, merged, reworked, dropped, new). A patch missing from the archive is
shown as missing, never as dropped or new: its fate is unknown.
"""
from __future__ import annotations

import difflib
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from series.difflines import changed_keys
from series.patchfunctions import defined_functions, hunk_functions, patch_functions
from series.errors import SeriesInputError
from series.model import Patch, Series

# A content link needs this much of either patch's changed lines in common...
MIN_SHARE = 0.2
MIN_SHARED_LINES = 5
# ...or, for a small patch, at least this share of it (a one-line patch
# taken over whole is still the same patch).
SMALL_PATCH_SHARE = 0.5

_PREFIX = re.compile(r"^\s*(\[[^\]]*\]\s*)*")
_SUBSYSTEM = re.compile(r"^[\w./,{}-]+:\s+")
_SHORTLOG_HEAD = re.compile(r"^\S.*\(\d+\):\s*$")


@dataclass
class PatchRef:
    """One patch slot of a revision; `missing` slots have no mail in the input."""

    counter: int
    subject: str  # from the mail, or from the cover letter's shortlog when missing
    missing: bool


@dataclass
class Link:
    """Evidence that new patch `new` carries on (part of) old patch `old`."""

    old: int
    new: int
    method: str  # "patch-id" | "content" | "content+subject" | "content-weak" | "subject" | "functions"
    score: float  # 0..1, the strongest of the measures below
    shared_lines: int  # changed lines (normalised, moves left out) found in both
    old_share: float  # shared / changed lines of the old patch
    new_share: float  # shared / changed lines of the new patch
    subject_ratio: float  # similarity of the subjects without subsystem prefix
    examples: list[str] = field(default_factory=list)  # a few shared lines or functions
    functions: list[str] = field(default_factory=list)  # "path:function" both patches change


@dataclass
class PairGroup:
    """Patches linked together, and what happened to them."""

    kind: str  # "unchanged" | "modified" | "split" | "merged" | "reworked" | "dropped" | "new" | "missing"
    old: list[int]
    new: list[int]
    note: str = ""


@dataclass
class RevisionLink:
    """Why two postings are taken as one series, one after the other.

    "change-id" and "version" (same author, a subject in common, a higher
    version number) are what b4 goes by; "inferred" links a re-titled
    re-post, a new RFC or a second posting with the same version number by
    its content alone, and is weaker: the report says so.
    """

    old_label: str
    new_label: str
    basis: str  # "change-id" | "version" | "inferred"
    evidence: str
    shared_files: list[str] = field(default_factory=list)
    shared_functions: list[str] = field(default_factory=list)
    shared_lines: int = 0


@dataclass
class Pairing:
    old_revision: int
    new_revision: int
    old_patches: list[PatchRef]
    new_patches: list[PatchRef]
    links: list[Link]
    groups: list[PairGroup]

    def successors(self, old: int) -> list[int]:
        return sorted({lk.new for lk in self.links if lk.old == old})

    def predecessors(self, new: int) -> list[int]:
        return sorted({lk.old for lk in self.links if lk.new == new})


def bare_subject(subject: str) -> str:
    """Subject without [PATCH ...] and subsystem prefix: "mm/pte_ref: x" -> "x"."""
    s = _PREFIX.sub("", subject).strip()
    return _SUBSYSTEM.sub("", s).strip().lower()


def shortlog_subjects(cover_body: str) -> list[str]:
    """The patch subjects git format-patch lists in the cover letter, in order.

    They name the patches that never reached the archive.
    """
    lines = cover_body.splitlines()
    for i, line in enumerate(lines):
        if _SHORTLOG_HEAD.match(line):
            break
    else:
        return []
    subjects: list[str] = []
    indent = None
    for line in lines[i + 1 :]:
        if not line.strip():
            break
        depth = len(line) - len(line.lstrip())
        if indent is None:
            indent = depth
        if depth > indent and subjects:  # wrapped subject
            subjects[-1] += " " + line.strip()
        elif depth == indent:
            subjects.append(line.strip())
        else:
            break
    return subjects


def patch_refs(series: Series) -> list[PatchRef]:
    """All slots 1..expected, missing ones named from the shortlog when it fits."""
    shortlog = shortlog_subjects(series.cover.body) if series.cover else []
    if len(shortlog) != series.expected:
        shortlog = []
    present = {p.counter: p for p in series.patches}
    refs = []
    for n in range(1, series.expected + 1):
        if n in present:
            refs.append(PatchRef(n, present[n].subject, False))
        else:
            refs.append(PatchRef(n, shortlog[n - 1] if shortlog else "", True))
    return refs


def posting_key(series: Series) -> tuple[int, str]:
    """What names one posting: its version and its cover letter's Message-ID, else its first patch's.

    The version is part of it because git format-patch names a cover letter
    after the second it was written, which two quick re-rolls can share.
    """
    if series.cover:
        return series.revision, series.cover.msgid
    return series.revision, series.patches[0].msgid if series.patches else ""


def posting_date(series: Series) -> str:
    return series.cover.date if series.cover else (series.patches[0].date if series.patches else "")


def order_versions(series_list: list[Series]) -> list[Series]:
    """Sort postings oldest first (version number, then date) and check they are one series.

    Several postings may carry the same version number (a re-post, a new
    RFC): they are ordered by date. Raises SeriesInputError for fewer than
    two postings, the same posting given twice, or postings that are clearly
    different series (see revision_links).
    """
    if len(series_list) < 2:
        got = f"only v{series_list[0].revision}" if series_list else "none"
        raise SeriesInputError(f"need at least two revisions of a series to compare, got {got}")
    keys = [posting_key(s) for s in series_list]
    twice = sorted({k for k in keys if keys.count(k) > 1})
    if twice:
        rev, msgid = twice[0]
        raise SeriesInputError(f"v{rev} is given twice: the same posting <{msgid}>")
    ordered = sorted(series_list, key=lambda s: (s.revision, posting_date(s)))
    revision_links(ordered)
    return ordered


def posting_labels(ordered: list[Series]) -> list[str]:
    """"v2" for a version number given once, "v1 (2021-07-18)" for each of several postings of it."""
    revs = [s.revision for s in ordered]
    return [f"v{s.revision}" + (f" ({posting_date(s)[:10]})" if revs.count(s.revision) > 1 else "")
            for s in ordered]


def revision_links(ordered: list[Series]) -> list[RevisionLink]:
    """Why each posting follows the one before it; SeriesInputError when nothing ties them.

    Each posting is also checked against the first, so that a chain of weak
    links cannot join two unrelated series.
    """
    labels = posting_labels(ordered)
    links = []
    for i in range(1, len(ordered)):
        if i > 1:
            _link(ordered[0], ordered[i], labels[0], labels[i])
        links.append(_link(ordered[i - 1], ordered[i], labels[i - 1], labels[i]))
    return links


def _link(a: Series, b: Series, label_a: str, label_b: str) -> RevisionLink:
    if a.change_id and b.change_id and a.change_id != b.change_id:
        raise SeriesInputError(
            f"{label_a} and {label_b} are different series (change-id {a.change_id} vs {b.change_id})"
        )
    if a.change_id and a.change_id == b.change_id:
        return RevisionLink(label_a, label_b, "change-id", f"same change-id {a.change_id}")
    same_author = author_email(a.author) == author_email(b.author)
    subjects_a = {bare_subject(r.subject) for r in patch_refs(a)} | {bare_subject(a.subject)}
    subjects_b = {bare_subject(r.subject) for r in patch_refs(b)} | {bare_subject(b.subject)}
    common = sorted((subjects_a & subjects_b) - {""})
    content = _shared_content(a, b)
    if same_author and common and a.revision < b.revision:
        return RevisionLink(label_a, label_b, "version", f"same author, a higher version, subject in common: "
                            f"{common[0]!r}", *content)
    files, funcs, lines = content
    defined = _union(defined_functions, a) & _union(defined_functions, b)
    if same_author and files and (lines >= MIN_SHARED_LINES or defined):
        what = "re-post with the same version number" if a.revision == b.revision else "re-titled posting"
        return RevisionLink(label_a, label_b, "inferred",
                            f"{what} by the same author, linked by content: {len(files)} file(s), "
                            f"{len(funcs)} function(s) ({len(defined)} defined), {lines} changed line(s) in common",
                            *content)
    raise SeriesInputError(
        f"{label_a} \"{a.subject}\" ({a.author}) and {label_b} \"{b.subject}\" ({b.author}) "
        "do not look like the same series: different author, or no patch subject, function or "
        "changed line in common"
    )


def _union(functions: Callable[[Patch], set[str]], series: Series) -> set[str]:
    return set().union(*map(functions, series.patches))


def _shared_content(a: Series, b: Series) -> tuple[list[str], list[str], int]:
    """(files, path:functions, changed lines) both postings touch."""
    files = sorted({f.path for p in a.patches for f in p.files} & {f.path for p in b.patches for f in p.files})
    funcs = sorted(_union(patch_functions, a) & _union(patch_functions, b))
    keys_a: Counter[str] = Counter()
    keys_b: Counter[str] = Counter()
    for p in a.patches:
        keys_a += changed_keys(p)
    for p in b.patches:
        keys_b += changed_keys(p)
    return files, funcs, sum((keys_a & keys_b).values())


def author_email(author: str) -> str:
    """The address of a "Name <addr>" author, lower-cased, to tell people apart."""
    m = re.search(r"<([^>]+)>", author)
    return (m.group(1) if m else author).strip().lower()


def pair_patches(old: Series, new: Series) -> Pairing:
    """Link each patch of `old` to the patches of `new` that carry it on."""
    old_refs, new_refs = patch_refs(old), patch_refs(new)
    links = _content_links(old.patches, new.patches)
    _add_subject_links(links, old_refs, new_refs)
    _add_function_links(links, old.patches, new.patches)
    links.sort(key=lambda lk: (lk.old, lk.new))
    funcs_old = {p.counter: patch_functions(p) for p in old.patches}
    funcs_new = {p.counter: patch_functions(p) for p in new.patches}
    for lk in links:
        lk.functions = sorted(funcs_old.get(lk.old, set()) & funcs_new.get(lk.new, set()))
    return Pairing(old.revision, new.revision, old_refs, new_refs, links, _groups(links, old_refs, new_refs))


def _content_links(old: list[Patch], new: list[Patch]) -> list[Link]:
    """Links by patch-id, then by shared changed lines.

    A strong link needs a good share of either patch. A patch that would
    otherwise stay unlinked (dropped or new) takes its best partner when they
    still share MIN_SHARED_LINES lines, marked "content-weak": in a heavy
    rework a concept moving into a much larger patch leaves only that much.
    """
    keys_old = {p.counter: changed_keys(p) for p in old}
    keys_new = {q.counter: changed_keys(q) for q in new}
    strong: list[Link] = []
    weak: list[Link] = []
    for p in old:
        ka = keys_old[p.counter]
        for q in new:
            kb = keys_new[q.counter]
            ratio = _subject_ratio(p.subject, q.subject)
            if p.git_patch_id and p.git_patch_id == q.git_patch_id:
                strong.append(Link(p.counter, q.counter, "patch-id", 1.0, sum(ka.values()), 1.0, 1.0, ratio))
                continue
            common = ka & kb
            shared = sum(common.values())
            if not shared:
                continue
            old_share = shared / max(1, sum(ka.values()))
            new_share = shared / max(1, sum(kb.values()))
            best = max(old_share, new_share)
            link = Link(p.counter, q.counter, "content", round(best, 3), shared,
                        round(old_share, 3), round(new_share, 3), ratio,
                        [k for k, _ in common.most_common()][:3])
            if (shared >= MIN_SHARED_LINES and best >= MIN_SHARE) or best >= SMALL_PATCH_SHARE:
                strong.append(link)
            elif shared >= MIN_SHARED_LINES:
                link.method = "content-weak"
                weak.append(link)
    linked_old = {lk.old for lk in strong}
    linked_new = {lk.new for lk in strong}
    for side, linked in (("old", linked_old), ("new", linked_new)):
        best_weak: dict[int, Link] = {}
        for lk in weak:
            c = getattr(lk, side)
            if c not in linked and (c not in best_weak or lk.shared_lines > best_weak[c].shared_lines):
                best_weak[c] = lk
        strong.extend(lk for lk in best_weak.values() if lk not in strong)
    return strong


def _subject_ratio(a: str, b: str) -> float:
    return round(difflib.SequenceMatcher(None, bare_subject(a), bare_subject(b)).ratio(), 3)


def _add_subject_links(links: list[Link], old_refs: list[PatchRef], new_refs: list[PatchRef]) -> None:
    """Same subject (without subsystem prefix) links two slots, missing ones included.

    That is the only evidence a missing patch can give, and a rename of the
    subsystem prefix ("mm:" -> "mm/pte_ref:") is not a new patch.
    """
    have = {(lk.old, lk.new) for lk in links}
    for o in old_refs:
        for n in new_refs:
            if not o.subject or bare_subject(o.subject) != bare_subject(n.subject):
                continue
            if (o.counter, n.counter) in have:
                for lk in links:
                    if (lk.old, lk.new) == (o.counter, n.counter) and lk.method == "content":
                        lk.method = "content+subject"
                continue
            note = "missing from the archive: subject from the cover letter" if (o.missing or n.missing) else ""
            links.append(Link(o.counter, n.counter, "subject", 1.0, 0, 0.0, 0.0, 1.0, [note] if note else []))


def _add_function_links(links: list[Link], old: list[Patch], new: list[Patch]) -> None:
    """Weakest evidence, only for a new patch nothing else explains.

    A small new patch that changes exactly the functions one old patch changed
    was most likely cut out of it (the changed line itself may be renamed).
    """
    linked_new = {lk.new for lk in links}
    funcs_old = {p.counter: hunk_functions(p) for p in old}
    for q in new:
        if q.counter in linked_new:
            continue
        fq = hunk_functions(q)
        if not fq:
            continue
        owners = [c for c, f in funcs_old.items() if fq <= f]
        if len(owners) == 1:
            links.append(
                Link(owners[0], q.counter, "functions", 0.0, 0, 0.0, 0.0,
                     _subject_ratio(next(p.subject for p in old if p.counter == owners[0]), q.subject),
                     sorted(fq)[:3])
            )


def _groups(links: list[Link], old_refs: list[PatchRef], new_refs: list[PatchRef]) -> list[PairGroup]:
    """Connected components of the link graph, each named for its shape."""
    parent: dict[tuple[str, int], tuple[str, int]] = {}

    def find(x: tuple[str, int]) -> tuple[str, int]:
        while parent.setdefault(x, x) != x:
            x = parent[x]
        return x

    for lk in links:
        parent[find(("old", lk.old))] = find(("new", lk.new))
    comps: dict[tuple[str, int], tuple[list[int], list[int]]] = {}
    for r in old_refs:
        comps.setdefault(find(("old", r.counter)), ([], []))[0].append(r.counter)
    for r in new_refs:
        comps.setdefault(find(("new", r.counter)), ([], []))[1].append(r.counter)
    missing_old = {r.counter for r in old_refs if r.missing}
    missing_new = {r.counter for r in new_refs if r.missing}
    groups = []
    for olds, news in comps.values():
        groups.append(_name_group(olds, news, links, missing_old, missing_new))
    groups.sort(key=lambda g: (min(g.old) if g.old else 10**6, min(g.new) if g.new else 0))
    return groups


def _name_group(olds: list[int], news: list[int], links: list[Link],
                missing_old: set[int], missing_new: set[int]) -> PairGroup:
    missing = [f"old {c}" for c in olds if c in missing_old] + [f"new {c}" for c in news if c in missing_new]
    note = ("missing from the archive: " + ", ".join(missing)) if missing else ""
    if not news:
        return PairGroup("missing" if olds[0] in missing_old else "dropped", olds, news, note)
    if not olds:
        return PairGroup("missing" if news[0] in missing_new else "new", olds, news, note)
    if len(olds) == 1 and len(news) == 1:
        same = any(lk.method == "patch-id" and lk.old == olds[0] and lk.new == news[0] for lk in links)
        return PairGroup("unchanged" if same else "modified", olds, news, note)
    if len(olds) == 1:
        return PairGroup("split", olds, news, note)
    if len(news) == 1:
        return PairGroup("merged", olds, news, note)
    return PairGroup("reworked", olds, news, note)
