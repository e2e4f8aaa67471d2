"""`reviewtool review`: every stage, composed, into one typed Review (reviewtool.model).

Each stage is a function of plain data from `series` or `kernel`; this module
only wires them together, caches the expensive ones by content
(reviewtool.cache) and records what was skipped and why, so results.json is
the whole record of a run. Order:

  series -> comments -> tree/base -> apply -> checkpatch, pair scan,
  builds -> versions -> findings (reviewtool.findings) -> Review

The tree stages (reviewtool.treestages) make a worktree only when one of
them misses the cache, so a re-run with nothing changed touches no tree.
"""
from __future__ import annotations

import contextlib
import datetime
import hashlib
import json
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

from kernel import botrecheck, checkpatch
from kernel.checkpatch import has_history
from kernel.base import choose_base
from kernel.matrix import DEFAULT_ARCHES, available, load_arch, load_config
from kernel.model import PatchText, SeriesApply, SeriesBuild
from kernel.sandbox import Sandbox
from kernel.tree import resolve_tree
from reviewtool import buildcoverage, robotrebuild, treestages
from reviewtool.buildcoverage import BuildMatrix
from reviewtool.cache import StageCache
from reviewtool.cluster import cluster_builds
from reviewtool.diffreport import version_report
from reviewtool.findings import (apply_findings, build_findings, checkpatch_findings, coverage_findings, in_patch_order,
                                 missing_text, open_comment_findings, pairscan_findings, patch_files,
                                 series_findings)
from reviewtool.jsondata import to_jsonable
from reviewtool.model import SCHEMA_VERSION, ClusterRun, Coverage, Meta, PatchPairs, Review
from reviewtool.timing import Timings
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
    full_build: bool = True  # False: objects only, no vmlinux even for full_build configs
    scheduler: str | None = None  # builds on a Dask cluster: tcp://HOST:PORT, or "local"
    local_cluster: bool = False  # the scheduler is this machine's (watch's): its workers share cache_dir
    sandbox: Sandbox = field(default_factory=Sandbox)  # for make and the tree's checkpatch.pl


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
        for result in checkpatch.run_checkpatch(todo, script, tree, jobs=opts.jobs, sandbox=opts.sandbox):
            mbox = dict(todo)[result.patch]
            cache.store("checkpatch", [script_key, sha256(mbox)], result)
            results[result.patch] = result
    return [results[series.label(p.counter)] for p in series.patches]


def run_pairscan(series: Series, job: TreeJob, lazy: LazyWorktree) -> list[PatchPairs]:
    found = treestages.pair_findings(job, lazy, {p.counter: p.diff for p in series.patches})
    return [PatchPairs(p.counter, series.label(p.counter), found[p.counter]) for p in series.patches]


def run_checks(series: Series, job: TreeJob, lazy: LazyWorktree, opts: ReviewOptions,
               timings: Timings) -> tuple[list[checkpatch.CheckpatchResult], list[PatchPairs]]:
    """checkpatch and the pair scan."""
    with timings.stage("checkpatch") as clock:
        checks = run_checkpatch(series, job.tree, opts, job.cache)
        clock.detail = _cached_detail(job.cache, "checkpatch")
    progress("pair scan: functions the patches touch, before and after")
    with timings.stage("pair scan") as clock:
        pairs = run_pairscan(series, job, lazy)
        clock.detail = _cached_detail(job.cache, "pairscan")
    return checks, pairs


def _build_options(opts: ReviewOptions, jobs: int) -> BuildOptions:
    """jobs: make's -j unless --jobs was given (0 on a cluster: each worker's core count)."""
    return BuildOptions(timeout_s=opts.build_timeout, jobs=opts.jobs or jobs, full_build=opts.full_build,
                        sandbox=opts.sandbox)


def run_builds(series: Series, job: TreeJob, lazy: LazyWorktree, opts: ReviewOptions,
               timings: Timings) -> BuildMatrix:
    """Every arch x config, built side by side (`auto` after the others: it is built only where
    it adds to them); one O= directory per tree, arch and config kept across runs (and locked
    while a run builds in it)."""
    arches, configs = list(map(load_arch, opts.arches)), list(map(load_config, opts.configs))
    progress(f"build {', '.join(a.name for a in arches)} x {', '.join(c.name for c in configs)}: base and "
             f"{len(series.patches)} patches")
    with timings.stage("builds") as clock:
        matrix = buildcoverage.build_matrix(job, lazy, arches, configs, treestages.builds_root(opts.cache_dir, job.tree),
                                            _build_options(opts, os.cpu_count() or 1), timings)
        clock.detail = f"{len(matrix.built)} arch/configs side by side"  # auto-off included, where built
    return matrix


def run_coverage(job: TreeJob, lazy: LazyWorktree, opts: ReviewOptions, matrix: BuildMatrix,
                 timings: Timings) -> Coverage:
    """Which changed lines the builds compiled, per patch, and what `auto` did per arch."""
    progress(f"coverage: changed lines over {len(matrix.built)} builds")
    with timings.stage("coverage", f"{len(matrix.built)} builds"):
        patches = buildcoverage.series_coverage(job, lazy, matrix.built, _build_options(opts, os.cpu_count() or 1))
    return Coverage(patches, matrix.auto, matrix.wants)


def robot_reports(series: Series) -> list[botrecheck.RobotReport]:
    """The thread's kernel test robot reports as plain data. Only the errors a report marks ">>"
    (blamed on the patch) are looked for, if it marks any."""
    reports = []
    for r in series.bot_reports:
        errors = [e for e in r.errors if e.severity == "error"]
        blamed = [e for e in errors if e.new] or errors
        reports.append(botrecheck.RobotReport(r.patch_counter, r.config,
                                              [botrecheck.RobotError(e.path, e.line, e.message) for e in blamed]))
    return reports


def recheck_robot(series: Series, applied: SeriesApply, builds: list[SeriesBuild]) -> list[botrecheck.Recheck]:
    """Each kernel test robot report of the thread against our builds of the patch it answers."""
    return botrecheck.recheck(robot_reports(series), applied, builds)


def rebuild_robot(series: Series, job: TreeJob, lazy: LazyWorktree, opts: ReviewOptions, matrix: BuildMatrix,
                  applied: SeriesApply, timings: Timings) -> list[botrecheck.Recheck]:
    """Each kernel test robot report re-checked by rebuilding the files it names, at its patch, on
    the closest arch/config we have (O= dirs `<arch>-robot`, kept like the others)."""
    reports = robot_reports(series)
    if reports:
        progress(f"robot re-check: {len(reports)} reports, rebuilding what they name")
    with timings.stage("robot re-check", f"{len(reports)} reports") as clock:
        done = robotrebuild.recheck_reports(job, lazy, reports, matrix.built,
                                            treestages.builds_root(opts.cache_dir, job.tree),
                                            _build_options(opts, os.cpu_count() or 1), applied, matrix.builds)
        clock.detail += f"; {_cached_detail(job.cache, 'robot-rebuild')}"
    return done


def run_builds_on_cluster(series: Series, job: TreeJob, opts: ReviewOptions,
                          timings: Timings) -> tuple[BuildMatrix, Coverage, ClusterRun]:
    """The same builds and coverage as Dask tasks, one per arch (reviewtool.cluster); where each
    ran is kept in the Review."""
    progress(f"build: {len(opts.arches)} arch tasks ({', '.join(opts.configs)}) of {len(series.patches)} "
             f"patches on the Dask cluster {opts.scheduler}")
    own = opts.scheduler == "local" or opts.local_cluster
    with timings.stage("builds", f"{len(opts.arches)} arch tasks on {opts.scheduler}"):
        done = cluster_builds(opts.scheduler, job, opts.arches, opts.configs, _build_options(opts, 0),
                              managed=opts.tree is None, cache_dir=opts.cache_dir if own else None)
    return done.matrix, done.coverage, done.run


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def run_review(thread: Thread, series: Series, opts: ReviewOptions, cache: StageCache,
               earlier: list[Series], timings: Timings | None = None) -> Review:
    """All stages for one revision of a thread, judged into findings; written as results.json.
    Its `timings` is `timings.stages` itself: the caller's later stages (report, drafts) join it."""
    timings = timings or Timings()
    meta = Meta(f"reviewtool {version('reviewtool')}", _now(), "", thread.origin, "")
    series_key = sha256(thread.raw)
    progress(f"v{series.revision}: {len(series.patches)} of {series.expected} patches"
             + (f", {missing_text(series)}" if series.missing else ""))
    with timings.stage("comments"):
        comments = load_comments(series, series_key, cache)
    with timings.stage("tree"):
        tree = resolve_tree(opts.tree)
    meta.tree = str(tree)
    with timings.stage("base") as clock:
        base = choose_base(tree, [p.mbox for p in series.patches], opts.base, series.base_commit,
                           series.base_hint)
        clock.detail = base.source
    if base.warning:
        progress(f"base: {base.warning}")
    job = TreeJob(patch_texts(series), tree, base, opts.run_dir, cache)
    checks: list[checkpatch.CheckpatchResult] | None = None
    pairs: list[PatchPairs] | None = None
    builds: list[SeriesBuild] | None = None
    cluster: ClusterRun | None = None
    coverage: Coverage | None = None
    robot: list[botrecheck.Recheck] | None = None
    skipped: dict[str, str] = {}
    with contextlib.ExitStack() as stack:  # the worktree, if a stage missed the cache
        lazy = LazyWorktree(job, stack, timings)
        progress(f"apply: {len(series.patches)} patches on {base.describe}")
        with timings.stage("apply") as clock:
            applied = treestages.applied(job, lazy)
            clock.detail = _cached_detail(cache, "apply")
        # The checks read mails and commits only, so they run while the builds check out and make.
        with ThreadPoolExecutor(max_workers=1) as pool:
            running = pool.submit(run_checks, series, job, lazy, opts, timings) if opts.checks else None
            if not opts.checks:
                skipped["checkpatch"] = skipped["pairscan"] = "--no-checks"
            if opts.build and opts.scheduler:
                matrix, coverage, cluster = run_builds_on_cluster(series, job, opts, timings)
                builds = matrix.builds
            elif opts.build:
                matrix = run_builds(series, job, lazy, opts, timings)
                builds = matrix.builds
                coverage = run_coverage(job, lazy, opts, matrix, timings)
                robot = rebuild_robot(series, job, lazy, opts, matrix, applied, timings)
            else:
                skipped["build"] = skipped["coverage"] = "--no-build"
            if builds is not None and robot is None:
                robot = recheck_robot(series, applied, builds)
            if running:
                checks, pairs = running.result()
        if opts.build or opts.checks:
            meta.sandbox = opts.sandbox.label
    versions = None
    if earlier:
        progress(f"versions: v{', v'.join(str(s.revision) for s in earlier)} -> v{series.revision}")
        with timings.stage("versions", f"{len(earlier)} earlier") as clock:
            revisions = [*earlier, series]
            versions = cache.get_or_compute(
                "versions", [sha256(json.dumps(to_jsonable(revisions), sort_keys=True))], dict[str, Any],
                lambda: version_report(revisions))
            clock.detail += f"; {_cached_detail(cache, 'versions')}"
    else:
        skipped["versions"] = "no --previous"
    found = series_findings(series) + apply_findings(applied)
    found += checkpatch_findings(checks, patch_files(series), has_history(tree)) if checks is not None else []
    found += pairscan_findings([(p.patch, f) for p in pairs for f in p.findings]) if pairs is not None else []
    found += build_findings(builds) if builds is not None else []
    found += coverage_findings(coverage.patches, {p.counter: series.label(p.counter) for p in series.patches}) \
        if coverage is not None else []
    found += open_comment_findings(versions)
    meta.finished = _now()
    return Review(SCHEMA_VERSION, meta, series, comments, applied, checks, pairs, builds, versions, skipped,
                  in_patch_order(found), timings.stages, cluster, coverage, robot)


def _cached_detail(cache: StageCache, stage: str) -> str:
    """"12 of 15 cached": how much of a stage the stage cache answered."""
    hits, misses = cache.hits.count(stage), cache.misses.count(stage)
    return f"{hits} of {hits + misses} cached" if hits + misses else ""
