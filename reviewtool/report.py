"""report.html and report.md from the results dict of one run.

One function (`build_context`) turns results.json into what a maintainer
reads: an overview (versions, base, what applied, the build matrix, counts)
and, per patch, the commit message and the diff with every finding and
reviewer comment placed under the line it concerns. Both templates render
that same context, so the two reports cannot disagree.

Everything from mail or tools is untrusted text: the HTML environment
autoescapes, and the Markdown environment escapes every value it prints
(code goes in fences sized to their content) so no renderer sees raw HTML or
a link it did not get from us.
"""
from __future__ import annotations

import re
import urllib.parse
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup, escape
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import TextLexer, get_lexer_for_filename
from pygments.util import ClassNotFound

from reviewtool.coverageview import coverage_findings, coverage_view
from templates import TEMPLATE_DIR

SECTIONS = ("apply", "build", "checkpatch", "pairscan", "comments", "versions")
LORE_URL = "https://lore.kernel.org/r/"
# checkpatch levels that make a finding; CHECK (--strict style advice) is shown but not counted
COUNTED_CHECKPATCH_LEVELS = ("ERROR", "WARNING")


@dataclass
class Note:
    """Something said about a line, a file or a patch: a comment or a finding."""

    kind: str  # "comment" | "open-comment" | "checkpatch" | "pairscan" | "build" | "robot" | "apply"
    severity: str  # "error" | "warning" | "check" | "info" | "comment"
    title: str  # who or what says it, one line
    text: str
    ident: str = ""  # id of the element it is shown in, for links from the overview
    link: str = ""  # the mail on lore, for comments
    where: str = ""  # "file:line" when it could not be placed on a diff line
    at: str = ""  # where it is shown ("file:line", "commit message line N"), for the overview's list
    moved: bool = False  # about a line the patch only moves (it removes the same line elsewhere)


@dataclass
class FindingGroup:
    """Findings of one patch that say the same thing: one line of the overview, each place linked."""

    severity: str
    title: str
    text: str  # the first line of the finding
    places: list[tuple[str, str]]  # (element id, "file:line" or "" for the whole patch)


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


@dataclass
class PatchView:
    counter: int
    subject: str
    author: str
    date: str
    msgid: str
    link: str
    ident: str
    apply: dict[str, Any] | None
    builds: dict[str, str]  # "arch/config" -> status
    commit: list[CommitLine]
    notes: list[Note]  # about the whole patch
    files: list[FileView]
    counts: Counter

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
        return [n for n in self.all_notes() if n.kind not in ("comment", "open-comment")]

    def finding_groups(self) -> list[FindingGroup]:
        """The findings for the overview: the same message at several places is one entry
        (21 hunks that do not apply are one line with 21 links, not 21 identical lines)."""
        groups: dict[tuple[str, str, str, str], FindingGroup] = {}
        for n in self.findings():
            first = n.text.splitlines()[0] if n.text else ""
            group = groups.setdefault((n.kind, n.severity, n.title, first),
                                      FindingGroup(n.severity, n.title, first, []))
            group.places.append((n.ident, n.where or n.at))
        return list(groups.values())


def lore_link(msgid: str) -> str:
    """Link to a message on lore; the msgid is percent-encoded, the scheme is ours."""
    return LORE_URL + urllib.parse.quote(msgid.strip("<>"), safe="@.-_+")


def section(results: dict, key: str) -> tuple[Any, str]:
    """(value, "") for a stage that ran, (None, why not) for one that did not."""
    value = results.get(key)
    if value is None:
        return None, "not run"
    if isinstance(value, dict) and value.get("status") == "skipped":
        return None, str(value.get("reason") or "skipped")
    return value, ""


def _items(value: Any, *keys: str) -> list[dict]:
    if isinstance(value, list):
        return [v for v in value if isinstance(v, dict)]
    if isinstance(value, dict):
        for key in keys:
            if isinstance(value.get(key), list):
                return [v for v in value[key] if isinstance(v, dict)]
    return []


def per_patch_findings(value: Any) -> list[tuple[int, dict]]:
    """(patch counter, finding) from a findings section.

    Accepts a flat list of findings carrying `patch`, or per-patch groups
    `{"patches": [{"counter": N, "findings": [...]}]}`.
    """
    out: list[tuple[int, dict]] = []
    for item in _items(value, "findings", "patches", "results"):
        if isinstance(item.get("findings"), list):
            counter = _counter(item.get("counter", item.get("patch")))
            out.extend((counter, f) for f in item["findings"] if isinstance(f, dict) and counter is not None)
        else:
            counter = _counter(item.get("patch", item.get("counter", item.get("patch_counter"))))
            if counter is not None:
                out.append((counter, item))
    return out


def _counter(value: Any) -> int | None:
    """A patch number from 6, "6" or the kernel side's label "06/15"."""
    m = re.match(r"\s*(\d+)", str(value)) if value is not None else None
    return int(m.group(1)) if m else None


def _build_groups(results: dict) -> list[dict]:
    value, _ = section(results, "build")
    return _items(value, "results", "builds")


def build_results(results: dict) -> list[dict]:
    """Every object build: base (patch 0) and each patch, from per arch/config groups
    (`kernel.model.SeriesBuild`) or a flat list of `BuildResult`."""
    out: list[dict] = []
    for item in _build_groups(results):
        if isinstance(item.get("patches"), list):
            out += [b for b in [item.get("base"), *item["patches"]] if isinstance(b, dict)]
        else:
            out.append(item)
    return out


def tip_builds(results: dict) -> list[dict]:
    """The full vmlinux builds at the series tip (configs that ask for one)."""
    return [g["tip"] for g in _build_groups(results) if isinstance(g.get("tip"), dict)]


def _diag_key(d: dict) -> tuple:
    return (d.get("file"), d.get("line"), d.get("severity"), d.get("message"))


def _new_tip_diagnostics(results: dict) -> list[tuple[dict, dict]]:
    """(tip build, diagnostic) the per-patch builds did not already report."""
    seen = {_diag_key(d) for b in build_results(results) for d in (b.get("errors") or []) + (b.get("new_warnings") or [])}
    return [(t, d) for t in tip_builds(results) for d in (t.get("errors") or []) + (t.get("new_warnings") or [])
            if _diag_key(d) not in seen]


def _is_counted_checkpatch(f: dict) -> bool:
    return str(f.get("level", "")).upper() in COUNTED_CHECKPATCH_LEVELS


def count_findings(results: dict) -> int:
    """Findings that make `reviewtool review` exit 1.

    Patches that did not apply cleanly, missing patches, build errors and new
    warnings, checkpatch errors and warnings, pair-scan findings. Reviewers'
    comments are what people said, not findings of the tool.
    """
    n = len(results.get("series", {}).get("missing", []) or [])
    apply, _ = section(results, "apply")
    n += sum(1 for p in _items(apply, "patches") if p.get("status") not in ("clean", None))
    for b in build_results(results) + tip_builds(results):
        if b.get("status") == "timeout":
            n += 1
    for b in build_results(results):
        n += len(b.get("errors") or []) + len(b.get("new_warnings") or [])
    n += len(_new_tip_diagnostics(results))
    checkpatch, _ = section(results, "checkpatch")
    n += sum(1 for _, f in per_patch_findings(checkpatch) if _is_counted_checkpatch(f))
    pairscan, _ = section(results, "pairscan")
    n += len(per_patch_findings(pairscan))
    return n + coverage_findings(results)


# --- the diff with its line numbers and highlighting ------------------------------------------


def _highlight(path: str, texts: list[str]) -> list[Markup]:
    """Pygments over a hunk's lines at once (comments spanning lines stay comments)."""
    try:
        lexer = get_lexer_for_filename(path, stripnl=False, ensurenl=False)
    except ClassNotFound:
        lexer = TextLexer(stripnl=False, ensurenl=False)
    html = highlight("\n".join(texts) + "\n", lexer, HtmlFormatter(nowrap=True))
    lines = html.split("\n")
    if len(lines) < len(texts):
        return [escape(t) for t in texts]
    return [Markup(x) for x in lines[: len(texts)]]  # pygments escaped the text


_HUNK = re.compile(r"^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@")


def _hunk_view(path: str, text: str, ident: str) -> HunkView:
    raw = text.splitlines()
    header, body = (raw[0], raw[1:]) if raw else ("", [])
    m = _HUNK.match(header)
    old, new = (int(m.group(1)), int(m.group(2))) if m else (0, 0)
    htmls = _highlight(path, [line[1:] for line in body])
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
        lines.append(DiffLine(sign, o, n, line[1:], htmls[i], f"{ident}-l{i}"))
    return HunkView(header, lines)


class _Placer:
    """Finds the diff line (or file, or commit-message line) a note belongs to."""

    def __init__(self, view: PatchView) -> None:
        self.view = view
        self.new: dict[tuple[str, int], DiffLine] = {}
        self.old: dict[tuple[str, int], DiffLine] = {}
        self.files = {f.path: f for f in view.files}
        self.removed = {dl.text.strip() for f in view.files for h in f.hunks for dl in h.lines if dl.sign == "-"}
        for f in view.files:
            for h in f.hunks:
                for dl in h.lines:
                    if dl.new is not None:
                        self.new[(f.path, dl.new)] = dl
                    if dl.old is not None and dl.sign == "-":
                        self.old[(f.path, dl.old)] = dl

    def at_line(self, note: Note, path: str, line: int | None, *, old_side: bool = False,
                fallback: int | None = None) -> DiffLine | None:
        """On diff line `line` of `path`; else on line `fallback` (said where it really is); else on the file.
        Returns the diff line it was put on."""
        path = _strip_ab(path)
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
            return dl
        note.where = f"{path}:{line}" if line else path
        if path in self.files:
            note.ident = f"{self.view.ident}-f{self.view.files.index(self.files[path])}"
            self.files[path].notes.append(note)
        else:
            self.on_patch(note)
        return None

    def is_moved(self, dl: DiffLine) -> bool:
        """An added line the patch also removes (code moved between or within files); short
        lines ("}", "return 0;") are too common to say so."""
        text = dl.text.strip()
        return dl.sign == "+" and len(text) >= 8 and text in self.removed

    def on_hunk(self, note: Note, path: str, header: str) -> None:
        """On the first line of the hunk whose @@ line is `header`; else on the file."""
        f = self.files.get(_strip_ab(path))
        for h in f.hunks if f else []:
            if header and h.lines and h.header.split("@@")[1:2] == header.split("@@")[1:2]:
                note.ident = h.lines[0].ident
                first = h.lines[0]
                note.at = f"{f.path}:{first.new if first.new is not None else first.old}"
                h.lines[0].notes.append(note)
                return
        if header:
            note.text = f"{header}\n{note.text}"
        self.at_line(note, path, None)

    def on_call(self, note: Note, path: str, header: str, call: str, line: int | None) -> bool:
        """On the added line calling `call` in the hunk `header`: the kernel side numbers lines
        in the worktree, which differ from the mail's when a patch applied with an offset."""
        f = self.files.get(_strip_ab(path))
        want = header.split("@@")[1:2]
        for h in f.hunks if f and call and want else []:
            if h.header.split("@@")[1:2] != want:
                continue
            for dl in h.lines:
                if dl.sign == "+" and re.search(rf"\b{re.escape(call)}\s*\(", dl.text):
                    note.ident = dl.ident
                    note.at = f"{_strip_ab(path)}:{dl.new}"
                    if dl.new != line:
                        note.where = f"{_strip_ab(path)}:{line}"
                    dl.notes.append(note)
                    return True
        return False

    def on_patch(self, note: Note) -> None:
        note.ident = note.ident or f"{self.view.ident}-notes"
        self.view.notes.append(note)

    def on_commit_line(self, note: Note, number: int | None) -> None:
        if number and 0 < number <= len(self.view.commit):
            cl = self.view.commit[number - 1]
            note.ident = f"{self.view.ident}-cm{number}"
            note.at = f"commit message line {number}"
            cl.notes.append(note)
        else:
            self.on_patch(note)


def _strip_ab(path: str) -> str:
    return path[2:] if path.startswith(("a/", "b/")) else path


def _patch_view(patch: dict, apply: dict | None) -> PatchView:
    counter = int(patch["counter"])
    ident = f"patch-{counter}"
    files = []
    for fi, fc in enumerate(patch.get("files", [])):
        hunks = [_hunk_view(fc["path"], h["text"], f"{ident}-f{fi}-h{hi}")
                 for hi, h in enumerate(fc.get("hunks", []))]
        files.append(FileView(fc["path"], fc.get("status", ""), fc.get("added", 0), fc.get("removed", 0), hunks))
    commit = [CommitLine(i + 1, t) for i, t in enumerate(patch.get("commit_message", "").splitlines())]
    return PatchView(counter, patch.get("subject", ""), patch.get("author", ""), patch.get("date", ""),
                     patch.get("msgid", ""), lore_link(patch.get("msgid", "")), ident, apply, {}, commit,
                     [], files, Counter())


# --- notes from each stage ----------------------------------------------------------------------


def _comment_note(c: dict) -> Note:
    anchor = c.get("anchor", {})
    title = f"{c.get('author', '')} ({c.get('date', '')[:10]})"
    if anchor.get("inherited_from"):
        title += " in reply"
    if anchor.get("confidence") == "low":
        title += " [placement uncertain]"
    return Note("comment", "comment", title, c.get("text", ""), link=lore_link(c.get("msgid", "")))


def _place_comments(comments: list[dict], views: dict[int, PatchView], placers: dict[int, _Placer],
                    series_notes: list[Note]) -> None:
    for c in comments:
        anchor = c.get("anchor", {})
        note = _comment_note(c)
        counter = anchor.get("patch_counter")
        if counter not in views:
            note.ident = "series-comments"
            series_notes.append(note)
            continue
        views[counter].counts["comments"] += 1
        placer = placers[counter]
        level = anchor.get("level")
        if level == "hunk" and anchor.get("line"):
            last = (anchor.get("quoted") or [" "])[-1]
            placer.at_line(note, anchor.get("path", ""), anchor["line"], old_side=last.startswith("-"))
        elif level == "commit-message":
            placer.on_commit_line(note, anchor.get("line"))
        else:
            placer.on_patch(note)


def _place_open_comments(rows: list[dict], views: dict[int, PatchView], placers: dict[int, _Placer]) -> None:
    """Comments on an earlier revision whose code is still there (from the version report)."""
    for row in rows:
        counter = _counter(row.get("new_patch"))
        if counter not in views:
            continue
        views[counter].counts["open_comments"] += 1
        note = Note("open-comment", "comment",
                    f"still open from v{row.get('old_revision', '?')}: {row.get('author', '')}"
                    + (f" [{row['confidence']} confidence]" if row.get("confidence") else ""),
                    str(row.get("text", "")), link=lore_link(str(row.get("msgid", ""))))
        if row.get("new_path") and row.get("new_line"):
            placers[counter].at_line(note, row["new_path"], row["new_line"])
        else:
            placers[counter].on_patch(note)


def _place_checkpatch(value: Any, views: dict[int, PatchView], placers: dict[int, _Placer]) -> None:
    for counter, f in per_patch_findings(value):
        if counter not in views:
            continue
        level = str(f.get("level", "")).upper()
        views[counter].counts[f"checkpatch_{level.lower()}"] += 1
        note = Note("checkpatch", {"ERROR": "error", "WARNING": "warning"}.get(level, "check"),
                    f"checkpatch {level} {f.get('type', '')}".strip(), str(f.get("message", "")))
        dl = placers[counter].at_line(note, f["file"], f.get("line")) if f.get("file") else None
        if not f.get("file"):
            placers[counter].on_patch(note)
        if dl is not None and placers[counter].is_moved(dl):
            # style of code the patch moves is not the author's to fix here (v3 03/15 moves 149 lines)
            note.moved, note.severity = True, "info"
            note.title += " (on moved code: the patch removes this line elsewhere)"


def _place_pairscan(value: Any, views: dict[int, PatchView], placers: dict[int, _Placer]) -> None:
    for counter, f in per_patch_findings(value):
        if counter not in views:
            continue
        views[counter].counts["pairscan"] += 1
        conf = f.get("confidence", "")
        title = f"pair scan: {f.get('kind', 'imbalance')} in {f.get('function', '?')}()"
        text = str(f.get("message", ""))
        if f.get("path"):
            text += "\n\npath: " + "; ".join(str(p) for p in f["path"])
        # what the scan could not see, or that its line numbers are the tree's, not the patch's
        text += "".join(f"\n\nnote: {n}" for n in f.get("notes") or [])
        note = Note("pairscan", "warning" if conf != "low" else "info", f"{title} [{conf} confidence]", text)
        placer = placers[counter]
        if not placer.on_call(note, f.get("file", ""), f.get("hunk", ""), f.get("acquire", ""), f.get("line")):
            # the return it leaks at may be outside the diff; the acquire the patch added is in it
            placer.at_line(note, f.get("file", ""), f.get("line"), fallback=f.get("acquire_line"))


def _place_builds(builds: list[dict], views: dict[int, PatchView], placers: dict[int, _Placer]) -> None:
    merged: dict[tuple, tuple[Note, list[str]]] = {}
    for b in builds:
        counter = _counter(b.get("patch"))
        cell = f"{b.get('arch', '?')}/{b.get('config', '?')}"
        if counter in views:
            views[counter].builds[cell] = b.get("status", "")
        if counter not in views:
            continue
        for kind, diags in (("error", b.get("errors") or []), ("warning", b.get("new_warnings") or [])):
            for d in diags:
                key = (counter, kind, d.get("file"), d.get("line"), d.get("message"))
                views[counter].counts["build_errors" if kind == "error" else "build_warnings"] += \
                    0 if key in merged else 1
                if key in merged:
                    merged[key][1].append(cell)
                    continue
                flag = f" [{d['flag']}]" if d.get("flag") else ""
                note = Note("build", kind, "", f"{d.get('message', '')}{flag}")
                merged[key] = (note, [cell])
                placers[counter].at_line(note, d.get("file", ""), d.get("line"))
        if b.get("status") == "timeout" or (b.get("status") == "errors" and not b.get("errors")):
            note = Note("build", "error", f"build {cell}: {b.get('status')}", b.get("log_tail", ""))
            placers[counter].on_patch(note)
            views[counter].counts["build_errors"] += 1
    for key, (note, cells) in merged.items():
        kind = key[1]
        note.title = f"build {'error' if kind == 'error' else 'new warning'} ({', '.join(cells)})"


def _place_robot(bot_reports: list[dict], views: dict[int, PatchView], placers: dict[int, _Placer]) -> None:
    for r in bot_reports:
        counter = r.get("patch_counter")
        if counter not in views:
            continue
        for e in r.get("errors", []):
            if not e.get("new"):
                continue
            views[counter].counts["robot"] += 1
            # as the robot wrote it: ">>" marks the lines it blames on the patch, and its
            # file:line is what tells apart the same message in several files
            col = f":{e['column']}" if e.get("column") else ""
            text = f">> {e.get('path', '')}:{e.get('line', '')}{col}: {e.get('severity', 'error')}: {e.get('message', '')}"
            note = Note("robot", e.get("severity", "error"),
                        f"kernel test robot ({r.get('config', '')}, {r.get('compiler', '')})",
                        text, link=lore_link(r.get("msgid", "")))
            placers[counter].at_line(note, e.get("path", ""), e.get("line"))


def _place_apply(apply: dict | None, view: PatchView, placer: _Placer) -> None:
    if not apply or apply.get("status") in ("clean", None):
        return
    view.counts["apply"] += 1
    failures = apply.get("failed") or []
    if not failures:
        placer.on_patch(Note("apply", "error", f"does not apply ({apply.get('status')})",
                             apply.get("message", "")))
    for hf in failures:
        hunk = hf.get("hunk", "")
        note = Note("apply", "error", f"hunk does not apply ({apply.get('status')})",
                    str(hf.get("reason", "")) if hunk else f"{hf.get('reason', '')}")
        placer.on_hunk(note, hf.get("file", ""), hunk)


# --- the context both templates render ---------------------------------------------------------


def build_context(results: dict) -> dict[str, Any]:
    """Everything report.html.j2 and report.md.j2 show, from results.json."""
    series = results.get("series") or {}
    apply, apply_skip = section(results, "apply")
    apply_by_counter = {_counter(p.get("counter")): p for p in _items(apply, "patches")}
    views = {int(p["counter"]): _patch_view(p, apply_by_counter.get(int(p["counter"])))
             for p in series.get("patches", [])}
    placers = {n: _Placer(v) for n, v in views.items()}
    series_notes: list[Note] = []

    comments, _ = section(results, "comments")
    _place_comments(_items(comments, "comments"), views, placers, series_notes)
    checkpatch, _ = section(results, "checkpatch")
    _place_checkpatch(checkpatch, views, placers)
    pairscan, _ = section(results, "pairscan")
    _place_pairscan(pairscan, views, placers)
    builds = build_results(results)
    _place_builds(builds, views, placers)
    versions, _ = section(results, "versions")
    _place_open_comments(_items(versions.get("open_comments") if isinstance(versions, dict) else None),
                         views, placers)
    _place_robot(series.get("bot_reports", []), views, placers)
    for n, v in views.items():
        _place_apply(v.apply, v, placers[n])

    series_notes = _merge_paragraphs(series_notes)
    for v in views.values():
        v.notes = _merge_paragraphs(v.notes)
        for cl in v.commit:
            cl.notes = _merge_paragraphs(cl.notes)
        for f in v.files:
            f.notes = _merge_paragraphs(f.notes)
            for h in f.hunks:
                for dl in h.lines:
                    dl.notes = _merge_paragraphs(dl.notes)

    cells = sorted({f"{b.get('arch', '?')}/{b.get('config', '?')}" for b in builds})
    base_builds = {f"{b.get('arch', '?')}/{b.get('config', '?')}": b.get("status", "")
                   for b in builds if _counter(b.get("patch")) == 0}
    tips = {f"{t.get('arch', '?')}/{t.get('config', '?')}": t.get("status", "") for t in tip_builds(results)}
    tip_notes = [Note("build", d.get("severity", "error"),
                      f"vmlinux at the series tip ({t.get('arch', '?')}/{t.get('config', '?')})",
                      f"{d.get('message', '')}" + (f" [{d['flag']}]" if d.get("flag") else ""),
                      ident="tip-build", where=f"{d.get('file', '')}:{d.get('line', '')}")
                 for t, d in _new_tip_diagnostics(results)]
    tip_notes += [Note("build", "error", f"vmlinux at the series tip ({t.get('arch')}/{t.get('config')}): "
                       f"{t.get('status')}", t.get("log_tail", ""), ident="tip-build")
                  for t in tip_builds(results) if t.get("status") in ("timeout", "errors") and not t.get("errors")]
    config_notes = [f"{g.get('arch', '?')}/{g.get('config', '?')}: not set after olddefconfig: "
                    + ", ".join(g["missing_options"]) for g in _build_groups(results) if g.get("missing_options")]
    totals: Counter = Counter()
    for v in views.values():
        totals.update(v.counts)
    skipped = [(name, why) for name in SECTIONS for why in [section(results, name)[1]] if why]
    return {
        "meta": _meta(results.get("meta") or {}),
        "series": series,
        "cover_link": lore_link(series["cover"]["msgid"]) if series.get("cover") else "",
        "base": (apply or {}).get("base") if isinstance(apply, dict) else None,
        "base_text": base_text((apply or {}).get("base") if isinstance(apply, dict) else None),
        "apply_skipped": apply_skip,
        "patches": [views[n] for n in sorted(views)],
        # the build matrix in patch order, a missing patch in its place (9 between 8 and 10)
        "matrix_rows": sorted([(n, views[n]) for n in views] + [(int(n), None) for n in series.get("missing") or []],
                              key=lambda row: row[0]),
        "series_notes": series_notes,
        "build_cells": cells,
        "base_builds": base_builds,
        "tip_builds": tips,
        "tip_notes": tip_notes,
        "config_notes": config_notes,
        "totals": totals,
        "findings": count_findings(results),
        "coverage": coverage_view(results),
        "skipped": skipped,
        "version_groups": _version_groups(versions),
        "revisions": _items(versions, "revisions"),
    }


BASE_SOURCES = {"option": "given with --base", "base-commit": "the series' base-commit",
                "index-blobs": "where the patches' preimage blobs are", "head": "the tree's HEAD"}


def base_text(base: dict | None) -> str:
    """"v6.1 (830b3c68c1fb), the series' base-commit": git describe only when it says more than the hash."""
    if not base:
        return ""
    commit, describe = str(base.get("commit", ""))[:12], str(base.get("describe", ""))
    name = commit if not describe or commit.startswith(describe) else f"{describe} ({commit})"
    source = str(base.get("source", ""))
    return f"{name}, {BASE_SOURCES.get(source, source)}" if source else name


def _meta(meta: dict) -> dict[str, Any]:
    """The run's header facts, whichever of the pipeline's key spellings are present."""
    tool = meta.get("tool") or (f"reviewtool {meta['tool_version']}" if meta.get("tool_version") else "reviewtool")
    return {"tool": tool, "run_time": meta.get("run_time") or meta.get("started") or "",
            "source": meta.get("source") or "", "arguments": meta.get("arguments") or "",
            "tree": meta.get("tree") or ""}


def _merge_paragraphs(notes: list[Note]) -> list[Note]:
    """Consecutive paragraphs of one mail at one place read as that mail, not as N boxes."""
    out: list[Note] = []
    for n in notes:
        prev = out[-1] if out else None
        if prev and n.kind == prev.kind == "comment" and n.link == prev.link and n.title == prev.title:
            out[-1] = Note(prev.kind, prev.severity, prev.title, f"{prev.text}\n\n{n.text}", prev.ident,
                           prev.link, prev.where)
        else:
            out.append(n)
    return out


def _version_groups(versions: Any) -> list[dict]:
    """Pairing groups of the version report: (old rev, new rev, kind, old, new, note)."""
    out = []
    pairings = _items(versions, "pairings") or ([versions] if isinstance(versions, dict) else [])
    expected = {r.get("revision"): r.get("expected") for r in _items(versions, "revisions")}
    for p in pairings:
        subjects = {(side, x.get("counter")): x.get("subject") or "" for side in ("old", "new")
                    for x in _items(p, f"{side}_patches")}

        def labels(side: str, counters: list, revision: Any) -> list[str]:
            """"1/9 mm: introduce pmd_install() helper": a bare patch number says little."""
            total = f"/{expected[revision]}" if expected.get(revision) else ""
            return [f"{c}{total} {subjects.get((side, c), '')}".rstrip() for c in counters]

        for g in _items(p, "groups"):
            out.append({"old_revision": p.get("old_revision"), "new_revision": p.get("new_revision"), **g,
                        "old_labels": labels("old", g.get("old", []), p.get("old_revision")),
                        "new_labels": labels("new", g.get("new", []), p.get("new_revision"))})
    return out


# --- rendering ----------------------------------------------------------------------------------


def md_escape(value: Any) -> Any:
    """Make mail text inert in Markdown: no HTML, no links, no emphasis tricks."""
    if isinstance(value, Markup) or not isinstance(value, str):
        return value
    text = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return re.sub(r"([\\`*_\[\]|#])", r"\\\1", text)


def fence(text: str, lang: str = "") -> Markup:
    """A fenced block longer than any backtick run inside, so the text cannot close it."""
    runs = [len(m) for m in re.findall(r"`+", text)]
    ticks = "`" * max(3, max(runs, default=0) + 1)
    return Markup(f"{ticks}{lang}\n{text}\n{ticks}")


def environment(kind: str) -> jinja2.Environment:
    """html: autoescaped; md: every printed value escaped by md_escape unless made a fence."""
    loader = jinja2.FileSystemLoader(str(TEMPLATE_DIR))
    if kind == "html":
        env = jinja2.Environment(loader=loader, autoescape=jinja2.select_autoescape(["html.j2", "html"]),
                                 trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)
        env.globals["pygments_css"] = Markup(HtmlFormatter().get_style_defs(".hl"))
    else:
        env = jinja2.Environment(loader=loader, autoescape=False, finalize=md_escape, keep_trailing_newline=True,
                                 trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)
        env.filters["fence"] = fence
    return env


def render(results: dict, kind: str) -> str:
    return environment(kind).get_template(f"report.{kind}.j2").render(**build_context(results))


def write_report(results: dict, run_dir: Path) -> list[Path]:
    """Write report.html and report.md into run_dir; returns their paths."""
    run_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for kind in ("html", "md"):
        path = run_dir / f"report.{kind}"
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(render(results, kind), encoding="utf-8")
        tmp.replace(path)  # never leave a half-written report behind
        written.append(path)
    return written
