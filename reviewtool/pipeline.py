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
import json
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

from kernel import checkpatch
from kernel.base import choose_base
from kernel.matrix import available, load_arch, load_config
from kernel.model import PatchText, SeriesBuild
from kernel.tree import resolve_tree
from reviewtool import treestages
from reviewtool.cache import StageCache
from reviewtool.diffreport import version_report
from reviewtool.jsondata import to_jsonable
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
    arches: list[str] = field(default_factory=lambda: available("arches"))
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


def run_checks(series: Series, job: TreeJob, lazy: LazyWorktree, opts: ReviewOptions,
               timings: Timings) -> dict[str, Any]:
    """checkpatch and the pair scan: {"checkpatch": ..., "pairscan": ...}."""
    with timings.stage("checkpatch") as clock:
        checkpatch_results = to_jsonable(run_checkpatch(series, job.tree, opts, job.cache))
        clock.detail = _cached_detail(job.cache, "checkpatch")
    progress("pair scan: functions the patches touch, before and after")
    with timings.stage("pair scan") as clock:
        pairscan = run_pairscan(series, job, lazy)
        clock.detail = _cached_detail(job.cache, "pairscan")
    return {"checkpatch": checkpatch_results, "pairscan": pairscan}


def run_builds(series: Series, job: TreeJob, lazy: LazyWorktree, opts: ReviewOptions,
               timings: Timings) -> list[SeriesBuild]:
    """Every arch x config, built side by side; one O= directory per tree, arch and config
    kept across runs (and locked while a run builds in it)."""
    tree_id = sha256(str(job.tree.resolve()))[:12]
    build_opts = BuildOptions(timeout_s=opts.build_timeout, jobs=opts.jobs or os.cpu_count() or 1)
    targets = [(arch, config, opts.cache_dir / "builds" / tree_id / f"{arch.name}-{config.name}")
               for arch in map(load_arch, opts.arches) for config in map(load_config, opts.configs)]
    progress(f"build {', '.join(f'{a.name}/{c.name}' for a, c, _ in targets)}: base and "
             f"{len(series.patches)} patches")
    with timings.stage("builds", f"{len(targets)} arch/configs side by side"):
        return treestages.builds(job, lazy, targets, build_opts, timings)


def run_review(thread: Thread, series: Series, opts: ReviewOptions, cache: StageCache,
               earlier: list[Series], timings: Timings) -> dict[str, Any]:
    """All stages for one revision of a thread; returns the dict written as results.json
    (its "timings" are those of `timings` so far: the caller adds report and drafts)."""
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
    with timings.stage("comments"):
        results["comments"] = to_jsonable(load_comments(series, series_key, cache))

    with timings.stage("tree"):
        tree = resolve_tree(opts.tree)
    results["meta"]["tree"] = str(tree)
    with timings.stage("base") as clock:
        base = choose_base(tree, [p.mbox for p in series.patches], opts.base, series.base_commit,
                           series.base_hint)
        clock.detail = base.source
    if base.warning:
        progress(f"base: {base.warning}")
    job = TreeJob(patch_texts(series), tree, base, opts.run_dir, cache)
    with contextlib.ExitStack() as stack:  # the worktree, if a stage missed the cache
        lazy = LazyWorktree(job, stack, timings)
        progress(f"apply: {len(series.patches)} patches on {base.describe}")
        with timings.stage("apply") as clock:
            results["apply"] = to_jsonable(treestages.applied(job, lazy))
            clock.detail = _cached_detail(cache, "apply")
        # The checks read mails and commits only, so they run while the builds check out and make.
        with ThreadPoolExecutor(max_workers=1) as pool:
            checks = pool.submit(run_checks, series, job, lazy, opts, timings) if opts.checks else None
            results["checkpatch"] = results["pairscan"] = {"status": "skipped", "reason": "--no-checks"}
            if opts.build:
                results["build"] = to_jsonable(run_builds(series, job, lazy, opts, timings))
            else:
                results["build"] = {"status": "skipped", "reason": "--no-build"}
            if checks:
                results.update(checks.result())
    if earlier:
        progress(f"versions: v{', v'.join(str(s.revision) for s in earlier)} -> v{series.revision}")
        with timings.stage("versions", f"{len(earlier)} earlier") as clock:
            revisions = [*earlier, series]
            results["versions"] = cache.get_or_compute(
                "versions", [sha256(json.dumps(to_jsonable(revisions), sort_keys=True))], dict[str, Any],
                lambda: version_report(revisions))
            clock.detail += f"; {_cached_detail(cache, 'versions')}"
    results["meta"]["finished"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    results["timings"] = timings.as_json()
    return results


def _cached_detail(cache: StageCache, stage: str) -> str:
    """"12 of 15 cached": how much of a stage the stage cache answered."""
    hits, misses = cache.hits.count(stage), cache.misses.count(stage)
    return f"{hits} of {hits + misses} cached" if hits + misses else ""
