"""The per-series config (`auto`) and changed-line coverage, as cached tree stages.

`auto` is derived from the series (kernel.kconfig) once, then per arch: it is
built only when it sets something the arch's other configs of this run do not
(so an mm series reviewed with mm-on costs no third defconfig build), and the
reason is recorded either way.  Coverage then reads every arch x config built,
patch by patch (kernel.coverage).  Both are cached by content like the builds.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import git

from kernel import coverage, kconfig
from kernel.build import configure
from kernel.make import Make
from kernel.matrix import Arch, ConfigSpec, derived
from kernel.model import SeriesBuild
from kernel.progress import step
from reviewtool import treestages
from reviewtool.treestages import BuildOptions, LazyWorktree, TreeJob


@dataclass
class Built:
    """One arch x config of the run, with where it was built."""

    arch: Arch
    config: ConfigSpec
    out: Path  # O= directory
    build: SeriesBuild


@dataclass
class AutoDecision:
    """What became of `auto` on one arch."""

    arch: str
    status: str  # "built" | "not needed" | "nothing to derive"
    detail: str = ""
    blocked: list[str] = field(default_factory=list)  # "OPTION: depends on ..." after configuring


@dataclass
class BuildMatrix:
    """Every build of a run, and what `auto` became on each arch."""

    builds: list[SeriesBuild] = field(default_factory=list)
    built: list[Built] = field(default_factory=list)
    auto: list[AutoDecision] = field(default_factory=list)
    wants: kconfig.Wants | None = None  # what the series asked of `auto`, if it was asked for


def build_matrix(job: TreeJob, lazy: LazyWorktree, arches: list[Arch], configs: list[ConfigSpec],
                 out_root: Path, opts: BuildOptions) -> BuildMatrix:
    """Every arch x config, O= dir `out_root/<arch>-<config>`. A derived config (`auto`) comes
    last on each arch, so that it is built only when it adds to the arch's other configs."""
    matrix = BuildMatrix()
    defined: set[str] = set()
    for arch in arches:
        done: list[Built] = []
        for config in sorted(configs, key=lambda c: bool(c.derive)):
            if config.derive:
                if matrix.wants is None:
                    matrix.wants = series_wants(job, lazy)
                    defined = kconfig.defined_at(job.tree, job.base.commit, [*matrix.wants.on, *matrix.wants.off])
                spec, decision = auto_config(matrix.wants, defined, arch, config, done)
                step(f"build {arch.name}/{config.name}: {decision.status} {decision.detail}".rstrip())
                matrix.auto.append(decision)
                if spec is None:
                    continue
                config = spec
            out = out_root / f"{arch.name}-{config.name}"
            build = treestages.builds(job, lazy, arch, config, out, opts)
            if config.derive:
                matrix.auto[-1].blocked += build.missing_options
            done.append(Built(arch, config, out, build))
            matrix.builds.append(build)
        matrix.built += done
    return matrix


def series_wants(job: TreeJob, lazy: LazyWorktree) -> kconfig.Wants:
    """The options the series' changed files and lines need (cached by base and mails)."""
    def compute() -> kconfig.Wants:
        work, applied = lazy.get()
        changes = coverage.series_changes(work, applied)
        return kconfig.series_wants(git.Git(work), {c: files for c, files in changes.values()})
    return job.cache.get_or_compute("auto-wants", [job.base.commit, job.patch_hashes()], kconfig.Wants, compute)


def auto_config(wants: kconfig.Wants, defined: set[str], arch: Arch, spec: ConfigSpec,
                others: list[Built]) -> tuple[ConfigSpec | None, AutoDecision]:
    """The derived config to build on `arch`, or None with the reason it adds nothing.

    `defined`: the wanted options the base tree has (the others are new in the series and
    reported as such). Not needed: each option is already as wanted in one of the arch's
    other configs, so the lines it guards are compiled there."""
    new = [o for o in [*wants.on, *wants.off] if o not in defined]
    on = [o for o in wants.on if o in defined]
    off = [o for o in wants.off if o in defined]
    blocked = [f"{o}: not in the base tree's Kconfig (new in the series?)" for o in new]
    if not on and not off:
        return None, AutoDecision(arch.name, "nothing to derive",
                                  "no changed file or line is under a config option the base has", blocked)
    values = [kconfig.read_config(b.out / ".config") for b in others if (b.out / ".config").is_file()]
    if values and all(any(kconfig.is_set(v, o) for v in values) for o in on) \
            and all(any(not kconfig.is_set(v, o) for v in values) for o in off):
        return None, AutoDecision(arch.name, "not needed",
                                  f"{', '.join(b.config.name for b in others)} already set every derived "
                                  "option as wanted", blocked)
    return derived(spec, on, off), AutoDecision(arch.name, "built", "", blocked)


def series_coverage(job: TreeJob, lazy: LazyWorktree, built: list[Built], jobs: int,
                    timeout_s: float) -> list[coverage.PatchCoverage]:
    """Changed-line coverage over every build of the run (cached by base, mails and configs)."""
    key = [job.base.commit, job.patch_hashes(), [[b.arch.digest, b.config.digest] for b in built]]

    def compute() -> list[coverage.PatchCoverage]:
        work, applied = lazy.get()
        dirs = []
        for b in built:
            make = Make(work, b.out, b.arch, jobs=jobs)
            configure(make, b.config, job.base.commit, timeout_s, reuse=True)
            dirs.append(coverage.BuildDir(make, b.build))
        return coverage.series_coverage(work, applied, dirs)
    return job.cache.get_or_compute("coverage", key, list[coverage.PatchCoverage], compute)


def summary(patches: list[coverage.PatchCoverage], labels: dict[int, str]) -> list[dict]:
    """One line per patch, as the report says it."""
    rows = []
    for p in patches:
        tried = ", ".join(p.tried) or "none"
        text = (f"{p.percent}% of {p.changed} changed lines compiled" if p.changed
                else "no changed C code lines")
        missing = [f"{u.where()} {u.reason}" for u in p.not_compiled]
        rows.append({"patch": p.patch, "label": labels.get(p.patch, str(p.patch)), "text": text,
                     "not_compiled": missing, "tried": tried, "finding": bool(missing)})
    return rows
