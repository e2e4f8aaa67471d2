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
import threading
from dataclasses import dataclass, field
from pathlib import Path

import git

from kernel import pairdiff, pairrules
from kernel.apply import apply_series
from kernel.build import RULES_VERSION, BuildTarget, build_matrix
from kernel.ccachestats import read_stats, stats_log
from kernel.matrix import Arch, ConfigSpec
from kernel.model import BaseChoice, BuildResult, PatchText, SeriesApply, SeriesBuild
from kernel.sandbox import Sandbox
from kernel.worktree import persistent_worktree
from reviewtool.cache import StageCache, content_key
from reviewtool.timing import Timings


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
    sandbox: Sandbox = field(default_factory=Sandbox)  # every make runs in it


def builds_root(cache_dir: Path, tree: Path) -> Path:
    """Where the O= directories of one tree are, one per arch and config, kept across runs (and series)."""
    return cache_dir / "builds" / hashlib.sha256(str(tree.resolve()).encode()).hexdigest()[:12]


def build_dir(cache_dir: Path, tree: Path, arch: str, config: str) -> Path:
    return builds_root(cache_dir, tree) / f"{arch}-{config}"


class LazyWorktree:
    """The worktree with the series applied, taken on first use and released with `stack`.

    Its checkout is timed as stage "worktree", inside whichever stage needed it first.
    """

    def __init__(self, job: TreeJob, stack: contextlib.ExitStack, timings: Timings | None = None) -> None:
        self.job, self.stack = job, stack
        self.timings = timings or Timings()
        self._state: tuple[Path, SeriesApply] | None = None
        self._lock = threading.Lock()

    def get(self) -> tuple[Path, SeriesApply]:
        with self._lock:  # the checks and the builds run in threads of their own
            if self._state is None:
                with self.timings.stage("worktree", "persistent worktree moved to the base"):
                    work = self.stack.enter_context(persistent_worktree(self.job.tree, self.job.base.commit))
                self._state = work, apply_series(work, self.job.base, self.job.patches)
            return self._state


def applied(job: TreeJob, lazy: LazyWorktree) -> SeriesApply:
    """The apply result; its commits are those of this run's worktree only if it was made."""
    return job.cache.get_or_compute("apply", [job.base.commit, job.patch_hashes()], SeriesApply,
                                    lambda: lazy.get()[1])


def builds(job: TreeJob, lazy: LazyWorktree, targets: list[tuple[Arch, ConfigSpec, Path]],
           opts: BuildOptions, timings: Timings | None = None) -> list[SeriesBuild]:
    """Every (arch, config, O= dir) of `targets`, the ones that miss the cache built together.

    Each patch's result is cached by the mails up to it, so a changed patch N
    rebuilds from N on; the base/tip part by all of them. `timings` gets one
    stage per target: the time its makes ran (they overlap with the other
    targets'), with ccache's hit rate, or "cached".
    """
    hashes = job.patch_hashes()
    wanted = []
    for arch, config, out in targets:
        full = config.full_build and opts.full_build
        common = [job.base.commit, arch.digest, config.digest, full, RULES_VERSION]
        keys = [[*common, hashes[: i + 1]] for i in range(len(job.patches))]
        cached = [job.cache.lookup("build-patch", k, BuildResult) for k in keys]
        head = job.cache.lookup("build-head", [*common, hashes], SeriesBuild)
        misses = [p.counter for p, hit in zip(job.patches, cached) if hit is None]
        first = misses[0] if misses else (1 if head is None else 0)
        wanted.append((BuildTarget(arch, config, out, full, first), common, keys, cached, head))
    todo = [w for w in wanted if w[0].first]
    fresh: dict[int, SeriesBuild] = {}
    if todo:
        work, done = lazy.get()
        runs = build_matrix(work, done, [w[0] for w in todo], timeout_s=opts.timeout_s, jobs=opts.jobs,
                            ccache=opts.ccache, sandbox=opts.sandbox)
        fresh = {id(w): run for w, run in zip(todo, runs)}
    results = []
    for w in wanted:
        target, common, keys, cached, head = w
        run = fresh.get(id(w))
        if run is not None:
            built = {r.patch: r for r in run.patches}
            for i, p in enumerate(job.patches):
                if cached[i] is None:
                    cached[i] = built[p.counter]
                    job.cache.store("build-patch", keys[i], cached[i])
            if head is None:
                head = _head_only(run)
                job.cache.store("build-head", [*common, hashes], head)
        results.append(SeriesBuild(head.arch, head.config, head.missing_options, head.base, cached, head.tip))
        if timings is not None:
            timings.add(f"build {target.arch.name}/{target.config.name}", _make_seconds(run),
                        _build_detail(run, target.out))
    return results


def _make_seconds(run: SeriesBuild | None) -> float:
    return sum(r.duration_s for r in [run.base, *run.patches, *([run.tip] if run.tip else [])]) if run else 0.0


def _build_detail(run: SeriesBuild | None, out: Path) -> str:
    if run is None:
        return "cached"
    stats = read_stats(stats_log(out))
    made = f"{len([r for r in run.patches if r.objects])} patches built, time of its makes (overlapping the others)"
    return f"{made}; {stats.describe()}" if stats else made


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
