"""The view model: one per review, built here once from the typed Review and rendered by
report.html, report.md and the reply drafts, so they cannot disagree."""
from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pygments

from kernel.model import ApplyResult, BaseChoice, BuildResult
from kernel.pairdiff import PatchPairFinding
from reviewtool.cache import StageCache
from reviewtool.report.coverage import coverage_view
from reviewtool.model import (APPLY, BOT_REPORT, BUILD_ERROR, CHECKPATCH, NEW_WARNING, OPEN_COMMENT, PAIRSCAN,
                              Finding, Meta, Review, StageTiming)
from reviewtool.report.diffview import CommitLine, FileView, commit_lines, file_views, highlighted_patch
from reviewtool.report.grouping import FindingGroup, group_findings, link_root_causes, merge_paragraphs
from reviewtool.report.placement import Note, Placer, lore_link
from series.model import Patch, ReviewComment, Series

BASE_SOURCES = {"option": "given with --base", "base-commit": "the series' base-commit",
                "index-blobs": "where the patches' preimage blobs are", "head": "the tree's HEAD"}
# the overview's per-patch counts, by finding kind (checkpatch by severity)
COUNT_KEYS = {PAIRSCAN: "pairscan", BUILD_ERROR: "build_errors", NEW_WARNING: "build_warnings",
              BOT_REPORT: "robot", OPEN_COMMENT: "open_comments", "comment": "comments"}
CHECKPATCH_KEYS = {"error": "checkpatch_error", "warning": "checkpatch_warning", "info": "checkpatch_check"}


@dataclass
class PatchView:
    counter: int
    label: str  # Series.label, "06/15"
    subject: str
    author: str
    date: str
    link: str
    ident: str
    apply: ApplyResult | None
    commit: list[CommitLine]
    files: list[FileView]
    builds: dict[str, str] = field(default_factory=dict)  # "arch/config" -> status
    notes: list[Note] = field(default_factory=list)  # about the whole patch
    counts: Counter = field(default_factory=Counter)

    def all_notes(self) -> list[Note]:
        """Every note of the patch in reading order: patch, commit message, files, lines."""
        out = list(self.notes)
        for cl in self.commit:
            out.extend(cl.notes)
        for f in self.files:
            out.extend(f.notes)
            for h in f.hunks:
                for dl in h.lines:
                    out.extend(dl.notes)
        return out

    def findings(self) -> list[Note]:
        return [n for n in self.all_notes() if n.kind not in ("comment", OPEN_COMMENT)]

    def finding_groups(self) -> list[FindingGroup]:
        return group_findings(self.findings())


@dataclass
class ReportView:
    meta: Meta
    series: Series
    cover_link: str
    base: BaseChoice
    base_text: str
    patches: list[PatchView]
    matrix_rows: list[tuple[int, PatchView | None]]  # patch order, a missing patch in its place
    series_findings: list[Note]  # missing patches, checks the tree cannot do, the robot on the cover
    series_notes: list[Note]  # comments on the cover letter
    build_cells: list[str]  # "x86_64/mm-on" ...
    base_builds: dict[str, str]
    tip_builds: dict[str, str]
    tip_notes: list[Note]
    config_notes: list[str]
    totals: Counter
    findings: int  # the overview's entries that count (the same message at several places is one)
    skipped: list[tuple[str, str]]
    version_groups: list[dict[str, Any]]
    revisions: list[dict[str, Any]]
    timings: list[StageTiming]
    coverage: dict[str, Any]  # reviewtool.report.coverage.coverage_view

    def any_findings(self) -> bool:
        return bool(self.series_findings) or any(p.findings() for p in self.patches)


def base_text(base: BaseChoice) -> str:
    """"v6.1 (830b3c68c1fb), the series' base-commit": git describe only when it says more than the hash."""
    commit, describe = base.commit[:12], base.describe
    name = commit if not describe or commit.startswith(describe) else f"{describe} ({commit})"
    return f"{name}, {BASE_SOURCES.get(base.source, base.source)}"


def _patch_view(patch: Patch, label: str, apply: ApplyResult | None, cache: StageCache | None) -> PatchView:
    ident = f"patch-{patch.counter}"
    highlighted = cache.get_or_compute("highlight", [hashlib.sha256(patch.diff.encode()).hexdigest(),
                                                     pygments.__version__], list[list[list[str]]],
                                       lambda: highlighted_patch(patch)) if cache else None
    return PatchView(patch.counter, label, patch.subject, patch.author, patch.date, lore_link(patch.msgid), ident,
                     apply, commit_lines(patch), file_views(patch, ident, highlighted))


def _note(f: Finding) -> Note:
    return Note(f.kind, f.severity, f.title, f.message, link=lore_link(f.link), moved=f.grade == "moved",
                counts=f.counts)


def _place_finding(note: Note, f: Finding, placer: Placer, pairs: dict[tuple, PatchPairFinding]) -> None:
    if f.kind == APPLY and f.hunk:
        placer.on_hunk(note, f.file, f.hunk)
    elif f.kind == PAIRSCAN:
        pf = pairs[(f.patch, f.file, f.line, f.hunk)]
        if not placer.on_call(note, f.file, f.hunk, pf.acquire, f.line):
            # the return it leaks at may be outside the diff; the acquire the patch added is in it
            placer.at_line(note, f.file, f.line, fallback=pf.acquire_line)
    elif f.file:
        placer.at_line(note, f.file, f.line)
    else:
        placer.on_patch(note)


def _comment_note(c: ReviewComment) -> Note:
    title = f"{c.author} ({c.date[:10]})"
    if c.anchor.inherited_from:
        title += " in reply"
    if c.anchor.confidence == "low":
        title += " [placement uncertain]"
    return Note("comment", "comment", title, c.text, link=lore_link(c.msgid))


def _place_comment(c: ReviewComment, views: dict[int, PatchView], placers: dict[int, Placer],
                   series_notes: list[Note]) -> None:
    note, anchor = _comment_note(c), c.anchor
    if anchor.patch_counter not in views:
        note.ident = "series-comments"
        series_notes.append(note)
        return
    placer = placers[anchor.patch_counter]
    if anchor.level == "hunk" and anchor.line:
        last = (anchor.quoted or [" "])[-1]
        placer.at_line(note, anchor.path, anchor.line, old_side=last.startswith("-"))
    elif anchor.level == "commit-message":
        placer.on_commit_line(note, anchor.line)
    else:
        placer.on_patch(note)


def _merge_all(view: PatchView) -> None:
    view.notes = merge_paragraphs(view.notes)
    for cl in view.commit:
        cl.notes = merge_paragraphs(cl.notes)
    for f in view.files:
        f.notes = merge_paragraphs(f.notes)
        for h in f.hunks:
            for dl in h.lines:
                dl.notes = merge_paragraphs(dl.notes)


def _count(view: PatchView) -> None:
    for n in view.all_notes():
        key = CHECKPATCH_KEYS[n.severity] if n.kind == CHECKPATCH else COUNT_KEYS.get(n.kind)
        if key:
            view.counts[key] += 1
    if any(n.kind == APPLY for n in view.all_notes()):
        view.counts["apply"] = 1  # a patch does or does not apply; its hunks are listed below


def _version_groups(versions: dict[str, Any]) -> list[dict[str, Any]]:
    """Pairing groups of the version report, each patch named "1/9 subject" (a number says little)."""
    out = []
    expected = {r["revision"]: r["expected"] for r in versions["revisions"]}
    for p in versions["pairings"]:
        subjects = {(side, x["counter"]): x["subject"] for side in ("old", "new") for x in p[f"{side}_patches"]}
        revision = {"old": p["old_revision"], "new": p["new_revision"]}
        for g in p["groups"]:
            labels = {side: [f"{c}/{expected.get(revision[side], '?')} {subjects.get((side, c), '')}".rstrip()
                             for c in g[side]] for side in ("old", "new")}
            out.append({**g, "old_revision": p["old_revision"], "new_revision": p["new_revision"],
                        "old_labels": labels["old"], "new_labels": labels["new"]})
    return out


_NEWS = {"errors": 3, "timeout": 3, "new-warnings": 2}  # what a matrix cell must not hide


def _cell_status(r: BuildResult) -> str:
    """A patch's cell: its objects' status, or its prepare's ("prepare-errors") when that is news
    at least as bad (an error prepare inherited is not)."""
    if r.prepare is not None and _NEWS.get(r.prepare.status, 0) >= max(_NEWS.get(r.status, 0), 1):
        return f"prepare-{r.prepare.status}"
    return r.status


def build_view(review: Review, cache: StageCache | None = None) -> ReportView:
    """Every note placed at its line, counted and grouped: what the templates show. The diffs'
    highlighting comes from `cache` when it has it."""
    series = review.series
    applied = {p.counter: p for p in review.apply.patches}
    views = {p.counter: _patch_view(p, series.label(p.counter), applied.get(p.counter), cache)
             for p in series.patches}
    placers = {n: Placer(v) for n, v in views.items()}
    series_notes: list[Note] = []
    for c in review.comments:
        _place_comment(c, views, placers, series_notes)
    pairs = {(p.patch, f.file, f.line, f.hunk): f for p in review.pairscan or [] for f in p.findings}
    series_findings, tip_notes = [], []
    for f in review.findings:
        note = _note(f)
        if f.patch in views:
            _place_finding(note, f, placers[f.patch], pairs)
        elif f.kind in (BUILD_ERROR, NEW_WARNING):
            note.ident, note.where = "tip-build", f"{f.file}:{f.line}" if f.file else ""
            tip_notes.append(note)
        else:
            note.ident = "overview"
            series_findings.append(note)
    for v in views.values():
        _merge_all(v)
        link_root_causes(v.findings())
        _count(v)
    cells, base_builds, tips, config_notes = [], {}, {}, []
    for s in review.build or []:
        cell = f"{s.arch}/{s.config}"
        cells.append(cell)
        base_builds[cell] = s.base.status
        for r in s.patches:
            if r.patch in views:
                views[r.patch].builds[cell] = _cell_status(r)
        if s.tip:
            tips[cell] = s.tip.status
        if s.missing_options:
            config_notes.append(f"{cell}: not set after olddefconfig: {', '.join(s.missing_options)}")
    totals: Counter = Counter()
    for v in views.values():
        totals.update(v.counts)
    return ReportView(
        review.meta, series, lore_link(series.cover.msgid) if series.cover else "", review.apply.base,
        base_text(review.apply.base), [views[n] for n in sorted(views)],
        sorted([(n, views[n]) for n in views] + [(n, None) for n in series.missing], key=lambda row: row[0]),
        series_findings, merge_paragraphs(series_notes), sorted(cells), base_builds, tips, tip_notes, config_notes,
        totals, sum(n.counts for n in series_findings + tip_notes)
        + sum(g.counts for v in views.values() for g in v.finding_groups()), sorted(review.skipped.items()),
        _version_groups(review.versions) if review.versions else [],
        review.versions["revisions"] if review.versions else [], review.timings,
                      coverage_view(review))
