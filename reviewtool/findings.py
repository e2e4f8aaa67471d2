"""Every stage's result as `Finding`s, judged by one rule (`judge`).

show, check, apply, build, review and b4-check each turn what they ran into
findings here and exit 1 when one of them counts, so the same problem makes
every command say the same thing. The rule: a finding counts when its
severity is "error" or "warning"; `SEVERITY` says which grade of which stage
is which.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from kernel.checkpatch import CheckpatchResult
from kernel.coverage import PatchCoverage
from kernel.model import CLEAN, PREPARE, BuildResult, Diagnostic, SeriesApply, SeriesBuild
from kernel.pairdiff import PatchPairFinding
from reviewtool.errors import EXIT_CLEAN, EXIT_FINDINGS
from reviewtool.model import (APPLY, BOT_REPORT, BUILD_ERROR, CHECKPATCH, MISSING_PATCH, NEW_WARNING, NO_HISTORY,
                              OPEN_COMMENT, PAIRSCAN, UNCOMPILED, Finding)
from series.difflines import file_lines
from series.model import FileChange, Series

ANY = "*"
# kind -> the stage's grade -> severity; ANY for the rest of that kind
SEVERITY: dict[str, dict[str, str]] = {
    APPLY: {"3way": "info", ANY: "error"},  # partial, failed, skipped: the tree lacks some of the patch
    BUILD_ERROR: {ANY: "error"},
    NEW_WARNING: {ANY: "warning"},
    # CHECK is --strict style advice; "moved": style of code the patch only moves is not the author's to fix
    CHECKPATCH: {"ERROR": "error", "WARNING": "warning", ANY: "info"},
    PAIRSCAN: {"high": "error", "medium": "warning", ANY: "info"},
    MISSING_PATCH: {ANY: "error"},
    BOT_REPORT: {"error": "error", "warning": "warning", ANY: "info"},  # only lines the robot marks new
    OPEN_COMMENT: {ANY: "comment"},  # what a person said on an earlier revision, not the tool's finding
    NO_HISTORY: {ANY: "info"},  # a check this tree cannot do, said once
    UNCOMPILED: {ANY: "warning"},  # the review says nothing of code no compiler saw
}
COUNTED_SEVERITIES = ("error", "warning")
MOVED = "moved"
NEEDS_HISTORY = ("UNKNOWN_COMMIT_ID",)  # checkpatch types that look commit ids up in git log
MIN_MOVED_CHARS = 8  # "}" or "return 0;" on both sides is not code moved


def judge(kind: str, grade: str) -> tuple[str, bool]:
    """(severity, counts for the exit code) of a finding: the one rule every command uses."""
    rules = SEVERITY[kind]
    severity = rules.get(grade, rules[ANY]) if ANY in rules else rules[grade]
    return severity, severity in COUNTED_SEVERITIES


def finding(kind: str, grade: str, patch: int | None, title: str, message: str, *, file: str = "",
            line: int | None = None, **extra: Any) -> Finding:
    severity, counts = judge(kind, grade)
    return Finding(kind, grade, severity, counts, patch, file, line, title, message, **extra)


def exit_code(findings: Iterable[Finding]) -> int:
    return EXIT_FINDINGS if any(f.counts for f in findings) else EXIT_CLEAN


def counter_of(label: str) -> int:
    """6 from Series.label's "06/15"."""
    return int(label.split("/")[0])


def ranges(numbers: list[int]) -> str:
    """"1-20, 26-48, 50": runs of consecutive patch numbers."""
    runs: list[list[int]] = []
    for n in sorted(numbers):
        if runs and n == runs[-1][1] + 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)


def missing_text(series: Series) -> str:
    """"missing 9 of 15" / "missing 1-20, 26-48 of 129": for the progress line and the finding."""
    return f"missing {ranges(series.missing)} of {series.expected}" if series.missing else ""


def series_findings(series: Series) -> list[Finding]:
    """What the thread alone shows: missing patches (one finding) and the robot's new errors."""
    out = []
    if series.missing:
        out.append(finding(MISSING_PATCH, MISSING_PATCH, None, f"patches not in the thread: {missing_text(series)}",
                           "not applied, built or checked; later patches may depend on them"))
    for report in series.bot_reports:
        for e in report.errors:
            if not e.new:
                continue
            col = f":{e.column}" if e.column else ""
            out.append(finding(BOT_REPORT, e.severity, report.patch_counter,
                               f"kernel test robot ({report.config}, {report.compiler})",
                               f">> {e.path}:{e.line}{col}: {e.severity}: {e.message}", file=e.path, line=e.line,
                               link=report.msgid))
    return out


def apply_findings(applied: SeriesApply) -> list[Finding]:
    """One per hunk that does not apply (or per patch when git gave no hunk)."""
    out = []
    for p in applied.patches:
        if p.status == CLEAN:
            continue
        if not p.failed:
            out.append(finding(APPLY, p.status, p.counter, f"does not apply ({p.status})"
                               if p.status != "3way" else "applied with a 3-way merge", p.message))
        for hf in p.failed:
            out.append(finding(APPLY, p.status, p.counter, f"hunk does not apply ({p.status})", hf.reason,
                               file=hf.file, hunk=hf.hunk))
    return out


def _diagnostic_findings(builds: Iterable[tuple[BuildResult, str]], patch_of: Callable[[BuildResult], int | None],
                         title: Callable[[BuildResult, str], str]) -> list[Finding]:
    """Errors and new warnings, the same message at the same place in several configs once."""
    merged: dict[tuple, Finding] = {}
    for b, cell in builds:
        for kind, diags in ((BUILD_ERROR, b.errors), (NEW_WARNING, b.new_warnings)):
            for d in diags:
                key = (patch_of(b), kind, d.file, d.line, d.message)
                if key in merged:  # a patch's prepare and its objects may show the same error
                    if cell not in merged[key].configs:
                        merged[key].configs.append(cell)
                    continue
                flag = f" [{d.flag}]" if d.flag else ""
                merged[key] = finding(kind, d.severity, patch_of(b), title(b, kind), f"{d.message}{flag}",
                                      file=d.file, line=d.line, configs=[cell])
    for f in merged.values():
        f.title += f" ({', '.join(f.configs)})"
    return list(merged.values())


def _failed_without_message(b: BuildResult, cell: str, patch: int | None, what: str) -> list[Finding]:
    if b.status == "timeout" or (b.status == "errors" and not b.errors):
        return [finding(BUILD_ERROR, b.status, patch, f"{what} {cell}: {b.status}", b.log_tail, configs=[cell])]
    return []


def build_findings(builds: list[SeriesBuild]) -> list[Finding]:
    """Per-patch build errors and new warnings; then what only the full build at the tip showed."""
    cell = {id(r): f"{s.arch}/{s.config}" for s in builds for r in [s.base, *s.patches, *([s.tip] if s.tip else [])]}
    per_patch = [(r, cell[id(r)]) for s in builds for r in s.patches]
    # A patch's own `make prepare` is a result of its own, found before its objects' (it runs first).
    per_patch = [(p, c) for r, c in per_patch for p in ([r.prepare] if r.prepare else []) + [r]]
    out = _diagnostic_findings(per_patch, lambda b: b.patch, _build_title)
    for r, c in per_patch:
        out += _failed_without_message(r, c, r.patch, "build" if r.target != PREPARE else "make prepare")
    seen = {_diag_key(d) for r, _ in per_patch for d in [*r.errors, *r.new_warnings]}
    tips = [(s.tip, cell[id(s.tip)]) for s in builds if s.tip]
    tip_only = [(_tip_copy(t, seen), c) for t, c in tips]
    out += _diagnostic_findings(tip_only, lambda b: None, lambda b, kind: "vmlinux at the series tip")
    for t, c in tips:
        out += _failed_without_message(t, c, None, "vmlinux at the series tip")
    return out


def _build_title(b: BuildResult, kind: str) -> str:
    what = "make prepare" if b.target == PREPARE else "build"
    return f"{what} error" if kind == BUILD_ERROR else f"{what} new warning"


def _diag_key(d: Diagnostic) -> tuple:
    return (d.file, d.line, d.severity, d.message)


def _tip_copy(tip: BuildResult, seen: set[tuple]) -> BuildResult:
    """The tip build with only the diagnostics no per-patch build reported."""
    return BuildResult(tip.patch, tip.arch, tip.config, tip.target, tip.status, tip.partial,
                       errors=[d for d in tip.errors if _diag_key(d) not in seen],
                       new_warnings=[d for d in tip.new_warnings if _diag_key(d) not in seen])


def checkpatch_findings(results: list[CheckpatchResult], files: dict[int, list[FileChange]],
                        history: bool) -> list[Finding]:
    """checkpatch's findings; on moved code demoted, commit-id checks without history said once.
    `files`: each patch's parsed diff, by counter."""
    moved = {counter: _moved_lines(fcs) for counter, fcs in files.items()}
    out, unchecked = [], 0
    for r in results:
        counter = counter_of(r.patch)
        for f in r.findings:
            if f.type in NEEDS_HISTORY and not history:
                unchecked += 1
                continue
            title = f"checkpatch {f.level} {f.type}"
            grade = f.level
            if f.file and (f.file, f.line) in moved.get(counter, set()):
                grade, title = MOVED, title + " (on moved code: the patch removes this line elsewhere)"
            out.append(finding(CHECKPATCH, grade, counter, title, f.message, file=f.file, line=f.line or None))
    if unchecked:
        out.append(finding(NO_HISTORY, NO_HISTORY, None, "this tree has no history: commit ids not checked",
                           f"checkpatch could not look up the commit ids of {unchecked} references "
                           "(UNKNOWN_COMMIT_ID); review with --tree set to a kernel git clone to check them"))
    return out


def patch_files(series: Series) -> dict[int, list[FileChange]]:
    return {p.counter: p.files for p in series.patches}


def _moved_lines(files: list[FileChange]) -> set[tuple[str, int]]:
    """(file, line) of the lines a patch adds and also removes: code it moves."""
    lines = file_lines(files)
    removed = {d.text for d in lines if d.sign == "-"}
    return {(d.path, d.line) for d in lines
            if d.sign == "+" and len(d.text) >= MIN_MOVED_CHARS and d.text in removed}


def pairscan_findings(found: list[tuple[int, PatchPairFinding]]) -> list[Finding]:
    """(patch counter, finding) of the pair scan."""
    out = []
    for counter, f in found:
        text = f.message + (("\n\npath: " + "; ".join(f.path)) if f.path else "")
        # what the scan could not see, or that its line numbers are the tree's, not the patch's
        text += "".join(f"\n\nnote: {n}" for n in f.notes)
        out.append(finding(PAIRSCAN, f.confidence, counter,
                           f"pair scan: {f.kind} in {f.function}() [{f.confidence} confidence]", text,
                           file=f.file, line=f.line, hunk=f.hunk))
    return out


def open_comment_findings(versions: dict[str, Any] | None) -> list[Finding]:
    """Comments on an earlier revision whose code is still there (from the version report)."""
    out = []
    for row in (versions or {}).get("open_comments", []):
        confidence = f" [{row['confidence']} confidence]" if row.get("confidence") else ""
        out.append(finding(OPEN_COMMENT, OPEN_COMMENT, row["new_patch"],
                           f"still open from v{row['old_revision']}: {row['author']}{confidence}", row["text"],
                           file=row.get("new_path") or "", line=row.get("new_line"), link=row["msgid"]))
    return out


def coverage_findings(patches: list[PatchCoverage], labels: dict[int, str]) -> list[Finding]:
    """One finding per run of changed lines that no build compiled."""
    return [finding(UNCOMPILED, "not-compiled", p.patch, f"patch {labels.get(p.patch, p.patch)}: changed lines "
                    "not compiled", f"{u.where()} {u.reason} on every build tried ({', '.join(p.tried) or 'none'})",
                    file=u.path, line=u.first)
            for p in patches for u in p.not_compiled]


def in_patch_order(findings: list[Finding]) -> list[Finding]:
    """Series-wide findings first, then by patch; stable within a patch."""
    return sorted(findings, key=lambda f: -1 if f.patch is None else f.patch)
