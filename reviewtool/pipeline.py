"""`reviewtool review`: every stage, composed, into one results dict.

Each stage is a function of plain data from `series` or `kernel`; this module
only wires them together, caches the expensive ones by content
(reviewtool.cache) and records what was skipped and why, so results.json is
the whole record of a run. Order:

  series -> comments -> tree/base -> apply (worktree) -> checkpatch,
  pair scan, builds (on the worktree) -> versions -> results
"""
from __future__ import annotations

import datetime
import hashlib
import os
import sys
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

from kernel import checkpatch, pairdiff, pairrules
from kernel.apply import apply_series
from kernel.base import choose_base
from kernel.build import build_series
from kernel.matrix import load_arch, load_config
from kernel.model import PatchText, SeriesApply, SeriesBuild
from kernel.tree import resolve_tree
from kernel.worktree import worktree
from reviewtool.cache import StageCache
from reviewtool.diffreport import version_report
from reviewtool.jsondata import to_jsonable
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
    arches: list[str] = field(default_factory=lambda: ["x86_64", "arm64"])
    configs: list[str] = field(default_factory=lambda: ["mm-on", "mm-off"])
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


def label(series: Series, counter: int) -> str:
    width = len(str(series.expected))
    return f"{counter:0{width}d}/{series.expected}"


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
            todo.append((label(series, p.counter), p.mbox))
        else:
            results[hit.patch] = hit
    if todo:
        progress(f"checkpatch: {len(todo)} patches ({len(series.patches) - len(todo)} cached)")
        for result in checkpatch.run_checkpatch(todo, script, tree, jobs=opts.jobs):
            mbox = dict(todo)[result.patch]
            cache.store("checkpatch", [script_key, sha256(mbox)], result)
            results[result.patch] = result
    return [results[label(series, p.counter)] for p in series.patches]


def _files_at(tree_git_dir: Path, commit: str, paths: list[str]) -> dict[str, str]:
    """Text of `paths` at `commit` (absent paths left out), read with git, not the checkout."""
    import git

    repo = git.Repo(tree_git_dir)
    out: dict[str, str] = {}
    for path in paths:
        try:
            out[path] = repo.git.show(f"{commit}:{path}", strip_newline_in_stdout=False)
        except git.GitCommandError:
            continue
    return out


def run_pairscan(series: Series, applied: SeriesApply | None, tree: Path,
                 cache: StageCache) -> list[dict[str, Any]]:
    """Pair scan per patch. Files the patch put into the worktree are analysed whole,
    before (previous commit) and after (this patch's commit); files that did not apply
    are analysed from their hunks alone, which the findings mark as lower confidence."""
    rules = pairrules.load_rules(pairrules.DEFAULT_RULES)
    rules_key = sha256(Path(pairrules.DEFAULT_RULES).read_bytes())
    by_counter = {r.counter: r for r in applied.patches} if applied else {}
    previous = applied.base.commit if applied else ""
    out: list[dict[str, Any]] = []
    for p in series.patches:
        result = by_counter.get(p.counter)
        before: dict[str, str] = {}
        after: dict[str, str] = {}
        if result and result.commit and previous:
            done = [f for f in p.files if f.path in result.applied_files]
            before = _files_at(tree, previous, [f.old_path for f in done if f.status != "added"])
            after = _files_at(tree, result.commit, [f.path for f in done if f.status != "deleted"])
            previous = result.commit
        key = [rules_key, sha256(p.diff), sorted((k, sha256(v)) for k, v in before.items()),
               sorted((k, sha256(v)) for k, v in after.items())]
        findings = cache.get_or_compute(
            "pairscan", key, list[pairdiff.PatchPairFinding],
            lambda: pairdiff.patch_pair_findings(p.diff, before, after, rules))
        whole = sorted(after)
        out.append({"patch": p.counter, "label": label(series, p.counter),
                    "post_image_files": whole,
                    "hunks_only_files": [f.path for f in p.files if f.path not in after],
                    "findings": to_jsonable(findings)})
    return out


def run_builds(work: Path, tree: Path, series: Series, applied: SeriesApply, opts: ReviewOptions,
               cache: StageCache) -> list[SeriesBuild]:
    """Every arch x config; each cached by (base, patch mails, apply outcome, arch file,
    config file), with one O= directory per tree, arch and config kept across runs."""
    applied_key = [(r.counter, r.status, sorted(r.applied_files)) for r in applied.patches]
    mails = [sha256(p.mbox) for p in series.patches]
    tree_id = sha256(str(tree.resolve()))[:12]
    results = []
    for arch_name in opts.arches:
        arch = load_arch(arch_name)
        for config_name in opts.configs:
            config = load_config(config_name)
            out = opts.cache_dir / "builds" / tree_id / f"{arch.name}-{config.name}"
            key = [applied.base.commit, mails, applied_key, arch.digest, config.digest, opts.build_timeout]
            progress(f"build {arch.name}/{config.name}: base and {len(applied.patches)} patches")
            results.append(cache.get_or_compute(
                "build", key, SeriesBuild,
                lambda: build_series(work, applied, arch, config, out, timeout_s=opts.build_timeout,
                                     jobs=opts.jobs or os.cpu_count() or 1)))
    return results


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
             + (f", missing {', '.join(label(series, n) for n in series.missing)}" if series.missing else ""))
    results["comments"] = to_jsonable(load_comments(series, series_key, cache))

    tree = resolve_tree(opts.tree)
    results["meta"]["tree"] = str(tree)
    base = choose_base(tree, [p.mbox for p in series.patches], opts.base, series.base_commit,
                       series.base_hint)
    if base.warning:
        progress(f"base: {base.warning}")
    work = opts.run_dir / "worktree"
    with worktree(tree, work, base.commit):
        progress(f"apply: {len(series.patches)} patches on {base.describe}")
        applied = apply_series(work, base, patch_texts(series))
        results["apply"] = to_jsonable(applied)
        if opts.checks:
            results["checkpatch"] = to_jsonable(run_checkpatch(series, tree, opts, cache))
            progress("pair scan: functions the patches touch, before and after")
            results["pairscan"] = run_pairscan(series, applied, tree, cache)
        else:
            results["checkpatch"] = results["pairscan"] = {"status": "skipped", "reason": "--no-checks"}
        if opts.build:
            results["build"] = to_jsonable(run_builds(work, tree, series, applied, opts, cache))
        else:
            results["build"] = {"status": "skipped", "reason": "--no-build"}
    if earlier:
        progress(f"versions: v{', v'.join(str(s.revision) for s in earlier)} -> v{series.revision}")
        results["versions"] = version_report([*earlier, series])
    results["meta"]["finished"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    return results
