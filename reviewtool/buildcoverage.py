"""The per-series config (`auto`) and changed-line coverage, as cached tree stages.

`auto` is derived from the series (kernel.kconfig) once, then per arch: it is
built only when it sets something the arch's other configs of this run do not
(so an mm series reviewed with mm-on costs no third defconfig build), and the
reason is recorded either way.  An option wanted both ways (changed lines under
its #ifdef and under its #else) is set in `auto`; `auto-off`, the same
derivation with those options forced off, builds the other side, and exists
only for a series with such lines.  Coverage then reads every arch x config built,
patch by patch (kernel.coverage).  Both are cached by content like the builds.
"""
from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path

import git

from kernel import coverage, kconfig
from kernel.build import configure, out_dir_lock
from kernel.make import Make
from kernel.matrix import Arch, ConfigSpec, derived
from kernel.model import SeriesBuild
from kernel.progress import step
from reviewtool import treestages
from reviewtool.model import AutoDecision
from reviewtool.timing import Timings
from reviewtool.treestages import BuildOptions, LazyWorktree, TreeJob


@dataclass
class Built:
    """One arch x config of the run, with where it was built."""

    arch: Arch
    config: ConfigSpec
    out: Path  # O= directory
    build: SeriesBuild


@dataclass
class BuildMatrix:
    """Every build of a run, and what `auto` became on each arch."""

    builds: list[SeriesBuild] = field(default_factory=list)
    built: list[Built] = field(default_factory=list)
    auto: list[AutoDecision] = field(default_factory=list)
    wants: kconfig.Wants | None = None  # what the series asked of `auto`, if it was asked for


def build_matrix(job: TreeJob, lazy: LazyWorktree, arches: list[Arch], configs: list[ConfigSpec],
                 out_root: Path, opts: BuildOptions, timings: Timings | None = None) -> BuildMatrix:
    """Every arch x config, O= dir `out_root/<arch>-<config>`, built side by side. A derived
    config (`auto`) is built after the others, so that it is built only where it adds to an
    arch's other configs."""
    matrix = BuildMatrix()
    plain = [(arch, config, out_root / f"{arch.name}-{config.name}")
             for arch in arches for config in configs if not config.derive]
    for (arch, config, out), build in zip(plain, treestages.builds(job, lazy, plain, opts, timings)):
        matrix.built.append(Built(arch, config, out, build))
    derive = [c for c in configs if c.derive]
    if not derive:
        matrix.builds = [b.build for b in matrix.built]
        return matrix
    matrix.wants = series_wants(job, lazy)
    defined = defined_options(job, [*matrix.wants.on, *matrix.wants.off])
    wanted: list[tuple[Arch, ConfigSpec, Path]] = []
    for arch in arches:
        for config in derive:
            others = [b for b in matrix.built if b.arch.name == arch.name]
            for spec, decision in (auto_config(matrix.wants, defined, arch, config, others),
                                   auto_off_config(matrix.wants, defined, arch, config, others)):
                if decision is None:
                    continue
                step(f"build {arch.name}/{decision.config}: {decision.status} {decision.detail}".rstrip())
                matrix.auto.append(decision)
                if spec is not None:
                    wanted.append((arch, spec, out_root / f"{arch.name}-{spec.name}"))
    for (arch, config, out), build in zip(wanted, treestages.builds(job, lazy, wanted, opts, timings)):
        next(d for d in matrix.auto if (d.arch, d.config, d.status) == (arch.name, config.name, "built")
             ).blocked += build.missing_options
        matrix.built.append(Built(arch, config, out, build))
    names = [n for c in configs for n in ([c.name, off_name(c)] if c.derive else [c.name])]
    order = {(a.name, n): i for i, (a, n) in enumerate((a, n) for a in arches for n in names)}
    matrix.built.sort(key=lambda b: order[(b.arch.name, b.config.name)])
    matrix.builds = [b.build for b in matrix.built]
    return matrix


def series_wants(job: TreeJob, lazy: LazyWorktree) -> kconfig.Wants:
    """The options the series' changed files and lines need (cached by base and mails)."""
    def compute() -> kconfig.Wants:
        work, applied = lazy.get()
        changes = coverage.series_changes(work, applied)
        return kconfig.series_wants(git.Git(work), {c: files for c, files in changes.values()})
    return job.cache.get_or_compute("auto-wants", [job.base.commit, job.patch_hashes()], kconfig.Wants, compute)


def defined_options(job: TreeJob, options: list[str]) -> set[str]:
    """The `options` the base's Kconfig defines (a git grep over the tree: cached by base)."""
    def compute() -> list[str]:
        return sorted(kconfig.defined_at(job.tree, job.base.commit, options))
    return set(job.cache.get_or_compute("kconfig-defined", [job.base.commit, sorted(options)], list[str], compute))


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
                                  "no changed file or line is under a config option the base has", blocked,
                                  spec.name)
    values = [kconfig.read_config(b.out / ".config") for b in others if (b.out / ".config").is_file()]
    if values and all(any(kconfig.is_set(v, o) for v in values) for o in on) \
            and all(any(not kconfig.is_set(v, o) for v in values) for o in off):
        return None, AutoDecision(arch.name, "not needed",
                                  f"{', '.join(b.config.name for b in others)} already set every derived "
                                  "option as wanted", blocked, spec.name)
    return derived(spec, on, off), AutoDecision(arch.name, "built", "", blocked, spec.name)


def off_name(spec: ConfigSpec) -> str:
    return f"{spec.name}-off"


def auto_off_config(wants: kconfig.Wants, defined: set[str], arch: Arch, spec: ConfigSpec,
                    others: list[Built]) -> tuple[ConfigSpec | None, AutoDecision | None]:
    """`auto-off`: `auto` with the options wanted both ways forced off, so the changed lines
    under their #else (or #ifndef) are compiled too; (None, None) when no option is wanted
    both ways. Not needed: one of the arch's other configs already has every option of `auto`
    as wanted and those off (it compiles the same #else branches)."""
    both = [o for o in wants.conflicts if o in defined]
    if not both:
        return None, None
    on = [o for o in wants.on if o in defined and o not in both]
    off = [o for o in [*wants.off, *both] if o in defined]
    for b in others:
        values = kconfig.read_config(b.out / ".config") if (b.out / ".config").is_file() else {}
        if values and all(kconfig.is_set(values, o) for o in on) and not any(kconfig.is_set(values, o) for o in off):
            return None, AutoDecision(arch.name, "not needed", f"{b.config.name} already has {', '.join(both)} off "
                                      "and every other derived option as wanted", [], off_name(spec))
    return (replace(derived(spec, on, off), name=off_name(spec)),
            AutoDecision(arch.name, "built", f"{', '.join(both)} forced off", [], off_name(spec)))


def series_coverage(job: TreeJob, lazy: LazyWorktree, built: list[Built],
                    opts: BuildOptions) -> list[coverage.PatchCoverage]:
    """Changed-line coverage over every build of the run (cached by base, mails and configs).
    Its makes (`make path/file.i`) run the tree's code: in the sandbox, in O= dirs locked."""
    key = [job.base.commit, job.patch_hashes(), [[b.arch.digest, b.config.digest] for b in built],
           coverage.METHOD_VERSION]

    def compute() -> list[coverage.PatchCoverage]:
        work, applied = lazy.get()
        with ExitStack() as stack:
            dirs = []
            for b in built:
                stack.enter_context(out_dir_lock(b.out, f"{b.arch.name}/{b.config.name}"))
                make = Make(work, b.out, b.arch, jobs=opts.jobs, sandbox=opts.sandbox)
                configure(make, b.config, job.base.commit, opts.timeout_s, reuse=True)
                dirs.append(coverage.BuildDir(make, b.build))
            return coverage.series_coverage(work, applied, dirs)
    return job.cache.get_or_compute("coverage", key, list[coverage.PatchCoverage], compute)
