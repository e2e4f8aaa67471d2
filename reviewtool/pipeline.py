"""`reviewtool review`: every stage, composed, into one results dict.

Each stage is a function of plain data from `series` or `kernel`; this module
only wires them together, caches the expensive ones by content
(reviewtool.cache) and records what was skipped and why, so results.json is
the whole record of a run. Order:

  series -> comments -> tree/base -> apply -> checkpatch, pair scan,
  builds -> versions -> results

The tree stages (reviewtool.treestages) make a worktree only when one of
them misses the cache, so a re-run with nothing changed touches no tree.
"""
from __future__ import annotations

import contextlib
import datetime
import hashlib
import os
import sys
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

from kernel import botrecheck, checkpatch
from kernel.base import choose_base
from kernel.matrix import DEFAULT_ARCHES, available, load_arch, load_config
from kernel.model import PatchText, SeriesApply, SeriesBuild
from kernel.tree import resolve_tree
from reviewtool import buildcoverage, treestages
from reviewtool.buildcoverage import BuildMatrix
from reviewtool.cache import StageCache
from reviewtool.diffreport import version_report
from reviewtool.jsondata import to_jsonable
from reviewtool.treestages import BuildOptions, LazyWorktree, TreeJob
from series.assemble import assemble_series
from series.comments import extract_comments
from series.load import Thread
from series.model import ReviewComment, Series


@dataclass
class ReviewOptions:
    """What the user asked for; defaults are those of `reviewtool review`."""

    run_dir: Path
    cache_dir: Path  # stage results and the builds' O= directories
    tree: Path | None = None
    base: str = ""
    arches: list[str] = field(default_factory=lambda: list(DEFAULT_ARCHES))
    configs: list[str] = field(default_factory=lambda: available("configs"))
    build: bool = True
    checks: bool = True
    checkpatch_script: Path | None = None
    jobs: int | None = None
    build_timeout: float = 1800.0


def progress(message: str) -> None:
    print(f"reviewtool: {message}", file=sys.stderr, flush=True)


def sha256(text: str | bytes) -> str:
    return hashlib.sha256(text.encode() if isinstance(text, str) else text).hexdigest()


def load_series(thread: Thread, revision: int | None, cache: StageCache) -> Series:
    return cache.get_or_compute("series", [sha256(thread.raw), revision], Series,
                                lambda: assemble_series(thread.messages, revision=revision))


def load_comments(series: Series, series_key: str, cache: StageCache) -> list[ReviewComment]:
    return cache.get_or_compute("comments", [series_key, series.revision], list[ReviewComment],
                                lambda: extract_comments(series))


def patch_texts(series: Series) -> list[PatchText]:
    return [PatchText(p.counter, p.subject, p.mbox) for p in series.patches]


def run_checkpatch(series: Series, tree: Path, opts: ReviewOptions,
                   cache: StageCache) -> list[checkpatch.CheckpatchResult]:
    """checkpatch.pl per patch, in parallel; each result cached by (script, mail)."""
    script = checkpatch.find_checkpatch(tree, opts.checkpatch_script)
    script_key = sha256(script.read_bytes())
    todo: list[tuple[str, str]] = []
    results: dict[str, checkpatch.CheckpatchResult] = {}
    for p in series.patches:
        hit = cache.lookup("checkpatch", [script_key, sha256(p.mbox)], checkpatch.CheckpatchResult)
        if hit is None:
            todo.append((series.label(p.counter), p.mbox))
        else:
            results[hit.patch] = hit
    if todo:
        progress(f"checkpatch: {len(todo)} patches ({len(series.patches) - len(todo)} cached)")
        for result in checkpatch.run_checkpatch(todo, script, tree, jobs=opts.jobs):
            mbox = dict(todo)[result.patch]
            cache.store("checkpatch", [script_key, sha256(mbox)], result)
            results[result.patch] = result
    return [results[series.label(p.counter)] for p in series.patches]


def run_pairscan(series: Series, job: TreeJob, lazy: LazyWorktree) -> list[dict[str, Any]]:
    found = treestages.pair_findings(job, lazy, {p.counter: p.diff for p in series.patches})
    return [{"patch": p.counter, "label": series.label(p.counter), "findings": to_jsonable(found[p.counter])}
            for p in series.patches]


def run_builds(series: Series, job: TreeJob, lazy: LazyWorktree, opts: ReviewOptions) -> BuildMatrix:
    """Every arch x config, one O= directory per tree, arch and config kept across runs."""
    tree_id = sha256(str(job.tree.resolve()))[:12]
    build_opts = BuildOptions(timeout_s=opts.build_timeout, jobs=opts.jobs or os.cpu_count() or 1)
    progress(f"build: base and {len(series.patches)} patches per arch and config")
    return buildcoverage.build_matrix(job, lazy, list(map(load_arch, opts.arches)),
                                      list(map(load_config, opts.configs)),
                                      opts.cache_dir / "builds" / tree_id, build_opts)


def run_coverage(series: Series, job: TreeJob, lazy: LazyWorktree, opts: ReviewOptions,
                 matrix: BuildMatrix) -> dict[str, Any]:
    """Which changed lines the builds compiled, per patch, and what `auto` did per arch."""
    progress(f"coverage: changed lines over {len(matrix.built)} builds")
    patches = buildcoverage.series_coverage(job, lazy, matrix.built, opts.jobs or os.cpu_count() or 1,
                                            opts.build_timeout)
    labels = {p.counter: series.label(p.counter) for p in series.patches}
    return {"auto": to_jsonable(matrix.auto), "wants": to_jsonable(matrix.wants),
            "patches": to_jsonable(patches), "summary": buildcoverage.summary(patches, labels)}


def recheck_robot(series: Series, applied: SeriesApply, builds: list[SeriesBuild]) -> list[dict[str, Any]]:
    """Each kernel test robot report of the thread against our builds of the patch it answers.
    Only the errors it marks ">>" (blamed on the patch) are looked for, if it marks any."""
    reports = []
    for r in series.bot_reports:
        errors = [e for e in r.errors if e.severity == "error"]
        blamed = [e for e in errors if e.new] or errors
        reports.append(botrecheck.RobotReport(r.patch_counter, r.config,
                                              [botrecheck.RobotError(e.path, e.line, e.message) for e in blamed]))
    return to_jsonable(botrecheck.recheck(reports, applied, builds))


def run_review(thread: Thread, series: Series, opts: ReviewOptions, cache: StageCache,
               earlier: list[Series]) -> dict[str, Any]:
    """All stages for one revision of a thread; returns the dict written as results.json."""
    started = datetime.datetime.now(datetime.timezone.utc)
    results: dict[str, Any] = {"meta": {
        "tool": f"reviewtool {version('reviewtool')}",
        "started": started.isoformat(timespec="seconds"),
        "source": thread.origin,
    }}
    series_key = sha256(thread.raw)
    results["series"] = to_jsonable(series)
    progress(f"v{series.revision}: {len(series.patches)} of {series.expected} patches"
             + (f", missing {', '.join(series.label(n) for n in series.missing)}" if series.missing else ""))
    results["comments"] = to_jsonable(load_comments(series, series_key, cache))

    tree = resolve_tree(opts.tree)
    results["meta"]["tree"] = str(tree)
    base = choose_base(tree, [p.mbox for p in series.patches], opts.base, series.base_commit,
                       series.base_hint)
    if base.warning:
        progress(f"base: {base.warning}")
    job = TreeJob(patch_texts(series), tree, base, opts.run_dir, cache)
    with contextlib.ExitStack() as stack:  # the worktree, if a stage missed the cache
        lazy = LazyWorktree(job, stack)
        progress(f"apply: {len(series.patches)} patches on {base.describe}")
        results["apply"] = to_jsonable(treestages.applied(job, lazy))
        if opts.checks:
            results["checkpatch"] = to_jsonable(run_checkpatch(series, tree, opts, cache))
            progress("pair scan: functions the patches touch, before and after")
            results["pairscan"] = run_pairscan(series, job, lazy)
        else:
            results["checkpatch"] = results["pairscan"] = {"status": "skipped", "reason": "--no-checks"}
        if opts.build:
            matrix = run_builds(series, job, lazy, opts)
            results["build"] = to_jsonable(matrix.builds)
            results["coverage"] = run_coverage(series, job, lazy, opts, matrix)
            results["robot_recheck"] = recheck_robot(series, treestages.applied(job, lazy), matrix.builds)
        else:
            results["build"] = results["coverage"] = results["robot_recheck"] = {
                "status": "skipped", "reason": "--no-build"}
    if earlier:
        progress(f"versions: v{', v'.join(str(s.revision) for s in earlier)} -> v{series.revision}")
        results["versions"] = version_report([*earlier, series])
    results["meta"]["finished"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    return results
