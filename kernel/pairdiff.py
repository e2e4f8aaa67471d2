"""Pair-scan findings that a patch introduces or changes (after vs before).

The functions a patch touches are scanned as they are after the patch and as
they were before it (kernel.pairscan); only findings the post-image has more
of than the pre-image are reported, matched by (function, kind, resource,
statement text) so that line shifts do not matter.

When the post-image of a file is not known (the patch did not apply), each
hunk is scanned alone (its context and added lines, then its context and
removed lines): only returns and double releases inside the hunk can be
judged, and findings have "low" confidence.  When only some hunks are in the
post-image (series_pair_findings on a tree that is not the series' base),
the functions they touch are analysed whole ("medium" confidence), the
functions of the other hunks from those hunks alone, and a leak whose
release call appears in a hunk that did not fit is not reported.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from unidiff import PatchedFile, PatchSet
from unidiff.errors import UnidiffParseError

from kernel.cparse import functions_in
from kernel.errors import KernelInputError
from kernel.pairrules import Rules
from kernel.pairscan import PairFinding, scan_function

C_SUFFIXES = (".c", ".h")
_HUNK_FUNC = "__hunk__"


@dataclass
class PatchPairFinding:
    """A finding placed in the patch: file, hunk and post-image line."""

    file: str
    hunk: str  # "@@ -a,b +c,d @@ section" of the hunk it falls in
    line: int  # post-image line (return / second release)
    function: str
    kind: str  # "leak" | "double-release"
    resources: list[str]
    acquire: str
    acquire_line: int
    message: str
    path: list[str]
    confidence: str  # "high" | "medium" | "low"
    basis: str  # "post-image" | "hunks only"
    notes: list[str] = field(default_factory=list)
    patch: str = ""  # the caller's label of the patch, e.g. "11/15"


def parse_patch(patch_text: str) -> PatchSet:
    try:
        return PatchSet(patch_text)
    except UnidiffParseError as exc:
        raise KernelInputError(f"cannot parse the patch: {exc}") from None


def apply_hunks(before: str, pf: PatchedFile) -> tuple[str, int]:
    """Apply the hunks of pf that fit `before` by exact context; (text, number that did not fit).

    Used to follow a series in memory (patch N's post-image is patch N+1's
    pre-image) without a worktree; a hunk may have moved (nearest match wins).
    """
    lines = before.splitlines(keepends=True)
    offset = 0
    failed = 0
    for hunk in pf:
        old = [ln.value for ln in hunk if not ln.is_added]
        new = [ln.value for ln in hunk if not ln.is_removed]
        want = max(hunk.source_start - 1 + offset, 0) if hunk.source_length else hunk.source_start + offset
        at = _nearest(lines, old, want)
        if at is None:
            failed += 1
            continue
        lines[at:at + len(old)] = new
        offset += len(new) - len(old)
    return "".join(lines), failed


def post_image(before: str, pf: PatchedFile) -> str | None:
    """The file after applying all of pf's hunks to `before`, or None if one does not fit."""
    text, failed = apply_hunks(before, pf)
    return None if failed else text


def _nearest(lines: list[str], seq: list[str], want: int) -> int | None:
    """0-based index of the occurrence of seq in lines nearest to want."""
    if not seq:
        return min(max(want, 0), len(lines))
    first = seq[0]
    spots = [i for i, ln in enumerate(lines[:len(lines) - len(seq) + 1])
             if ln == first and lines[i:i + len(seq)] == seq]
    return min(spots, key=lambda i: abs(i - want)) if spots else None


def _hunk_header(hunk) -> str:
    head = f"@@ -{hunk.source_start},{hunk.source_length} +{hunk.target_start},{hunk.target_length} @@"
    return f"{head} {hunk.section_header}".rstrip()


def _landing(pf: PatchedFile, before: str, after: str) -> list[tuple[int, int] | None]:
    """For each hunk, the 1-based lines where its pre-image starts in `before` and its
    post-image in `after`; None for a hunk that is not there (it did not apply)."""
    b_lines, a_lines = before.splitlines(keepends=True), after.splitlines(keepends=True)
    out: list[tuple[int, int] | None] = []
    for h in pf:
        pre = _nearest(b_lines, [ln.value for ln in h if not ln.is_added], h.source_start - 1)
        post = _nearest(a_lines, [ln.value for ln in h if not ln.is_removed], h.target_start - 1)
        out.append((pre + 1, post + 1) if pre is not None and post is not None else None)
    return out


def _touched_lines(pf: PatchedFile, landing: list[tuple[int, int] | None]) -> tuple[set[int], set[int]]:
    """Lines added (or next to a removal) in the post-image and removed in the pre-image."""
    after: set[int] = set()
    before: set[int] = set()
    for hunk, land in zip(pf, landing):
        if land is None:
            continue
        pre_at, post_at = land
        pre_i = post_i = 0
        for ln in hunk:
            if ln.is_added:
                after.add(post_at + post_i)
                post_i += 1
            elif ln.is_removed:
                before.add(pre_at + pre_i)
                after.add(post_at + post_i)
                pre_i += 1
            else:
                pre_i += 1
                post_i += 1
    return after, before


def _signature(f: PairFinding, resource: str) -> tuple:
    return (f.function, f.kind, resource, f.statement)


def _new_findings(after: list[PairFinding], before: list[PairFinding]) -> list[PairFinding]:
    """After-findings (split per resource) the before-side has fewer of."""
    budget = Counter(_signature(f, r) for f in before for r in f.resources)
    kept: list[PairFinding] = []
    for f in sorted(after, key=lambda f: (f.function, f.line)):
        new = []
        for r in f.resources:
            if budget[_signature(f, r)] > 0:
                budget[_signature(f, r)] -= 1
            else:
                new.append(r)
        if new:
            kept.append(PairFinding(**{**f.__dict__, "resources": new}))
            kept[-1].message = kept[-1].describe()
    return kept


def group(findings: list[PairFinding]) -> list[PairFinding]:
    """One finding per (function, kind, acquire site, exit) listing all its resources."""
    out: dict[tuple, PairFinding] = {}
    for f in findings:
        k = (f.function, f.kind, f.acquire_line, f.line)
        if k in out:
            g = out[k]
            g.resources = sorted(set(g.resources) | set(f.resources))
            g.missing = g.missing + [m for m in f.missing if m not in g.missing]
            g.message = g.describe()
        else:
            out[k] = PairFinding(**{**f.__dict__, "resources": list(f.resources), "missing": list(f.missing)})
    return sorted(out.values(), key=lambda f: (f.line, f.acquire_line))


def _place(pf: PatchedFile, f: PairFinding, basis: str,
           landing: list[tuple[int, int] | None] | None = None) -> PatchPairFinding:
    """Attach a finding to the hunk it is in (else the one holding its acquire, else the nearest)."""
    hunks = [(h, land[1]) for h, land in zip(pf, landing)
             if land is not None] if landing else [(h, h.target_start) for h in pf]

    def inside(line: int):
        return next(((h, at) for h, at in hunks if at <= line < at + max(h.target_length, 1)), None)

    hunk, at = inside(f.line) or inside(f.acquire_line) or min(hunks, key=lambda ha: abs(ha[1] - f.line))
    placed = PatchPairFinding(pf.path, _hunk_header(hunk), f.line, f.function, f.kind, f.resources,
                              f.acquire, f.acquire_line, f.message, f.path, f.confidence, basis)
    if at != hunk.target_start:
        placed.notes.append(f"line numbers are the post-image's on this tree; the patch numbers them "
                            f"{hunk.target_start - at:+d}")
    return placed


def _scan_named(text: str, names: set[str], rules: Rules) -> list[PairFinding]:
    out: list[PairFinding] = []
    for func in functions_in(text):
        if func.name in names:
            out.extend(scan_function(func, rules))
    return out


_DEFINED = re.compile(r"(\w+)\s*\(")


def _diff_full(pf: PatchedFile, before: str, after: str, rules: Rules) -> list[PatchPairFinding]:
    landing = _landing(pf, before, after)
    added, removed = _touched_lines(pf, landing)
    names = {fn.name for fn in functions_in(after) if any(fn.start_line <= n <= fn.end_line for n in added)}
    names |= {fn.name for fn in functions_in(before)
              if any(fn.start_line <= n <= fn.end_line for n in removed)}
    missed = [h for h, land in zip(pf, landing) if land is None]
    # A function that a hunk which did not fit also changes has no true post-image here.
    for h in missed:
        names -= set(_DEFINED.findall(h.section_header)[:1])
    new = _new_findings(_scan_named(after, names, rules), _scan_named(before, names, rules))
    # The missing release may well be in a hunk that did not fit: then say nothing.
    missed_text = "".join(ln.value for h in missed for ln in h if ln.is_added)
    new = [f for f in new if not any(re.search(rf"\b{re.escape(n)}\s*\(", missed_text)
                                     for r in f.resources for n in rules.release_names_for(r))]
    out = [_place(pf, f, "post-image", landing) for f in group(new)]
    if missed:
        for f in out:
            f.confidence = "medium" if f.confidence == "high" else f.confidence
            f.notes.append(f"{len(missed)} of {len(landing)} hunks of this file did not fit the tree: "
                           "the function was analysed in the tree's version")
        out.extend(_diff_hunks(pf, rules, missed))
    return out


def _fragment(lines: list[tuple[int, str]]) -> str:
    """Hunk lines as the body of a dummy function, padded so line numbers stay file lines."""
    first = lines[0][0] if lines else 1
    text = "".join(t if t.endswith("\n") else t + "\n" for _, t in lines)
    # A hunk that starts inside a comment: open one so the C parser is not misled.
    in_comment = "*/" in text and text.find("*/") < (text.find("/*") if "/*" in text else len(text))
    head = f"void {_HUNK_FUNC}(void) {{" + (" /*" if in_comment else "")
    if first < 2:
        return f"{head} {text}}}\n"
    return "\n" * (first - 2) + head + "\n" + text + "}\n"


def _scan_fragment(lines: list[tuple[int, str]], rules: Rules, section: str) -> list[PairFinding]:
    funcs = functions_in(_fragment(lines))
    found: list[PairFinding] = []
    for func in funcs:
        if func.name != _HUNK_FUNC:
            continue
        for f in scan_function(func, rules, confidence="low"):
            # The end of a hunk is not the end of the function: only returns and releases count.
            if f.kind == "leak" and f.statement == "<end of function>":
                continue
            f.function = section or "(hunk)"
            found.append(f)
    return found


def _diff_hunks(pf: PatchedFile, rules: Rules, hunks: list | None = None) -> list[PatchPairFinding]:
    out: list[PatchPairFinding] = []
    for hunk in (pf if hunks is None else hunks):
        post = [(ln.target_line_no, ln.value) for ln in hunk if not ln.is_removed]
        pre = [(ln.source_line_no, ln.value) for ln in hunk if not ln.is_added]
        section = hunk.section_header.strip()
        new = _new_findings(_scan_fragment(post, rules, section), _scan_fragment(pre, rules, section))
        for f in group(new):
            placed = _place(pf, f, "hunks only")
            placed.notes.append("only the hunk was analysed: acquires before it or releases after it are not seen")
            out.append(placed)
    return out


def patch_pair_findings(patch_text: str, before: dict[str, str], after: dict[str, str],
                        rules: Rules) -> list[PatchPairFinding]:
    """Imbalances a patch introduces in the C functions it touches.

    `before` / `after` map a file path (as in the diff, without a/ b/) to its
    full text before / after the patch; a new file has before "" and a
    deleted one after "".  A path missing from either map is analysed from
    its hunks alone.
    """
    out: list[PatchPairFinding] = []
    for pf in parse_patch(patch_text):
        path = pf.path
        if not path.endswith(C_SUFFIXES) or pf.is_removed_file:
            continue
        if path in after and (path in before or pf.is_added_file):
            out.extend(_diff_full(pf, before.get(path, ""), after[path], rules))
        else:
            out.extend(_diff_hunks(pf, rules))
    return out


def series_pair_findings(patches: list[tuple[str, str]], tree: Path | None,
                         rules: Rules) -> list[PatchPairFinding]:
    """The pair scan over a series: (label, diff) in order, on top of the files in `tree`.

    Each patch's post-image is made in memory from the previous one (the tree's
    file for the first patch that touches it) with apply_hunks(); the hunks
    that do not fit the tree are analysed alone (and the functions they touch
    are not analysed whole), a file not in the tree from its hunks alone.  The
    review pipeline, which has real worktrees, calls patch_pair_findings()
    with their files instead.
    """
    current: dict[str, str | None] = {}  # path -> text after the patches so far; None: unknown
    out: list[PatchPairFinding] = []
    for label, diff in patches:
        before: dict[str, str] = {}
        after: dict[str, str] = {}
        for pf in parse_patch(diff):
            path = pf.path
            if path not in current:
                current[path] = "" if pf.is_added_file else _read(tree, path)
            old = current[path]
            if old is not None:
                new, _failed = apply_hunks(old, pf)
                before[path], after[path] = old, new
                current[path] = new
        for f in patch_pair_findings(diff, before, after, rules):
            f.patch = label
            out.append(f)
    return out


def _read(tree: Path | None, path: str) -> str | None:
    """A file of the tree, None when there is no tree or no such file (or it escapes the tree)."""
    if tree is None:
        return None
    full = (tree / path).resolve()
    if not full.is_relative_to(tree.resolve()) or not full.is_file():
        return None
    return full.read_text(errors="surrogateescape")
