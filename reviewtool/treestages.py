"""The stages that need the kernel tree, cached so that a re-run makes no worktree at all.

apply, the builds and the pair scan all read the series applied in a
worktree (the tree's persistent one, moved to the base). Each stage is looked
up in the cache by content first (base commit, the patch mails up to the one
concerned, arch/config/rules files), and only a miss takes the worktree,
once per run, through `LazyWorktree`. Used by `reviewtool apply`, `build`
and `review` alike.
"""
from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass
from pathlib import Path

import git

from kernel import pairdiff, pairrules
from kernel.apply import apply_series
from kernel.build import build_series
from kernel.ccachestats import read_stats, stats_log
from kernel.matrix import Arch, ConfigSpec
from kernel.model import BaseChoice, BuildResult, PatchText, SeriesApply, SeriesBuild
from kernel.worktree import persistent_worktree
from reviewtool.cache import StageCache, content_key
from reviewtool.timing import StageClock, Timings


@dataclass
class TreeJob:
    """A series placed on a tree: what every tree stage of one run shares."""

    patches: list[PatchText]
    tree: Path
    base: BaseChoice
    run_dir: Path
    cache: StageCache

    def patch_hashes(self) -> list[str]:
        return [content_key("patch", p.mbox) for p in self.patches]


@dataclass
class BuildOptions:
    timeout_s: float
    jobs: int
    ccache: bool = True
    full_build: bool = True  # False: never vmlinux, even for full_build configs


class LazyWorktree:
    """The worktree with the series applied, taken on first use and released with `stack`.

    Its checkout is timed as stage "worktree", inside whichever stage needed it first.
    """

    def __init__(self, job: TreeJob, stack: contextlib.ExitStack, timings: Timings | None = None) -> None:
        self.job, self.stack = job, stack
        self.timings = timings or Timings()
        self._state: tuple[Path, SeriesApply] | None = None

    def get(self) -> tuple[Path, SeriesApply]:
        if self._state is None:
            with self.timings.stage("worktree", "persistent worktree moved to the base"):
                work = self.stack.enter_context(persistent_worktree(self.job.tree, self.job.base.commit))
            self._state = work, apply_series(work, self.job.base, self.job.patches)
        return self._state


def applied(job: TreeJob, lazy: LazyWorktree) -> SeriesApply:
    """The apply result; its commits are those of this run's worktree only if it was made."""
    return job.cache.get_or_compute("apply", [job.base.commit, job.patch_hashes()], SeriesApply,
                                    lambda: lazy.get()[1])


def builds(job: TreeJob, lazy: LazyWorktree, arch: Arch, config: ConfigSpec, out: Path,
           opts: BuildOptions, clock: StageClock | None = None) -> SeriesBuild:
    """One arch x config. Each patch's result is cached by the mails up to it, so a
    changed patch N rebuilds from N on; the base/tip part by all of them. `clock`
    gets ccache's hit rate, or "cached" when nothing was built."""
    full = config.full_build and opts.full_build
    common = [job.base.commit, arch.digest, config.digest, full]
    hashes = job.patch_hashes()
    fresh: dict[int, SeriesBuild] = {}

    def build_from(first: int) -> SeriesBuild:
        if not fresh:
            work, done = lazy.get()
            fresh[first] = build_series(work, done, arch, config, out, first=first, timeout_s=opts.timeout_s,
                                        jobs=opts.jobs, ccache=opts.ccache, full_build=full)
        return next(iter(fresh.values()))

    def patch_result(counter: int) -> BuildResult:
        return next(r for r in build_from(counter).patches if r.patch == counter)

    patches = [job.cache.get_or_compute("build-patch", [*common, hashes[: i + 1]], BuildResult,
                                        lambda c=p.counter: patch_result(c))
               for i, p in enumerate(job.patches)]
    head = job.cache.get_or_compute(
        "build-head", [*common, hashes], SeriesBuild,
        lambda: _head_only(build_from(1)))
    if clock is not None:
        stats = read_stats(stats_log(out)) if fresh else None
        clock.detail = stats.describe() if stats else ("built" if fresh else "cached")
    return SeriesBuild(head.arch, head.config, head.missing_options, head.base, patches, head.tip)


def _head_only(run: SeriesBuild) -> SeriesBuild:
    """The per-series part (base build, tip build, config) without the per-patch results."""
    return SeriesBuild(run.arch, run.config, run.missing_options, run.base, [], run.tip)


def pair_findings(job: TreeJob, lazy: LazyWorktree, diffs: dict[int, str],
                  rules_path: Path | None = None) -> dict[int, list[pairdiff.PatchPairFinding]]:
    """Pair scan per patch. Files the patch put into the worktree are analysed whole,
    before (previous commit) and after (its own commit); files that did not apply
    from their hunks alone, which the findings mark as lower confidence."""
    rules_path = Path(rules_path or pairrules.DEFAULT_RULES)
    rules = pairrules.load_rules(rules_path)
    rules_key = hashlib.sha256(rules_path.read_bytes()).hexdigest()
    hashes = job.patch_hashes()
    out: dict[int, list[pairdiff.PatchPairFinding]] = {}
    for i, patch in enumerate(job.patches):
        out[patch.counter] = job.cache.get_or_compute(
            "pairscan", [rules_key, job.base.commit, hashes[: i + 1]], list[pairdiff.PatchPairFinding],
            lambda i=i, patch=patch: _scan_one(lazy, i, diffs[patch.counter], rules))
    return out


def _scan_one(lazy: LazyWorktree, index: int, diff: str, rules: pairrules.Rules) -> list[pairdiff.PatchPairFinding]:
    work, done = lazy.get()
    result = done.patches[index]
    previous = next((r.commit for r in reversed(done.patches[:index]) if r.commit), done.base.commit)
    before: dict[str, str] = {}
    after: dict[str, str] = {}
    if result.commit:
        repo = git.Repo(work)
        for path in result.applied_files:
            before.update(_file_at(repo, previous, path))
            after.update(_file_at(repo, result.commit, path))
    return pairdiff.patch_pair_findings(diff, before, after, rules)


def _file_at(repo: git.Repo, commit: str, path: str) -> dict[str, str]:
    """{path: text} at `commit`, {} when the file does not exist there (new or deleted)."""
    try:
        return {path: repo.git.show(f"{commit}:{path}", strip_newline_in_stdout=False)}
    except git.GitCommandError:
        return {}
