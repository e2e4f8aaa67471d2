"""Build every applied patch of a series for one arch and one config.

One O= directory per arch and config, reused from the base through every
patch, so each step only recompiles what the patch changed.  Order:
configure at the base; ask Kbuild which objects each patch needs (at that
patch's tree); build the base (all those objects, or the whole vmlinux for a
`full_build` config) as the warning baseline; then each patch's objects,
deleted first so their warnings are printed again; then, for a `full_build`
config, vmlinux at the series tip.
"""
from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

from kernel import kbuild, kconfig, warnings
from kernel.errors import KernelToolError
from kernel.kbuild import Plan
from kernel.make import Make, MakeRun
from kernel.matrix import Arch, ConfigSpec
from kernel.model import FAILED, SKIPPED, BuildResult, Diagnostic, SeriesApply, SeriesBuild
from kernel.progress import step
from kernel.worktree import worktree_git

DEFAULT_TIMEOUT_S = 1800.0
PREPARE = "prepare"  # Kbuild's goal that generates asm-offsets.h & co., built like an object


def build_series(work: Path, applied: SeriesApply, arch: Arch, config: ConfigSpec, out: Path, *,
                 timeout_s: float = DEFAULT_TIMEOUT_S, jobs: int = 2, ccache: bool = True,
                 full_build: bool | None = None, first: int = 1) -> SeriesBuild:
    """Build base, each patch from counter `first` on, and (full_build) the tip.

    `out` is the O= dir.  Patches before `first` are left out (the caller has
    their results cached); the base is built for the objects of the rest only.
    """
    full = config.full_build if full_build is None else full_build
    make = Make(work, out, arch, jobs=jobs, ccache=ccache)
    g = worktree_git(work)
    label = f"{arch.name}/{config.name}"
    base = applied.base.commit

    g.checkout("-q", "--detach", base)
    # A full build is the baseline of every object only if every object is compiled
    # (and prints its warnings) at the base: so it starts from an empty O= dir.
    missing = configure(make, config, base, timeout_s, reuse=not full)
    plans: dict[int, Plan] = {}
    todo = [r for r in applied.patches if r.counter >= first]
    for result in todo:
        if result.status in (FAILED, SKIPPED):
            continue
        g.checkout("-q", "--detach", result.commit)
        plans[result.counter] = kbuild.plan_objects(make, result.applied_files)
        if any(f.endswith(".h") for f in result.applied_files):
            # Checked like an object: header-order errors often show only in prepare (asm-offsets).
            plans[result.counter].objects.insert(0, PREPARE)

    g.checkout("-q", "--detach", base)
    wanted = sorted({o for p in plans.values() for o in p.objects if _source_exists(work, o)})
    if any(PREPARE in p.objects for p in plans.values()):
        wanted.insert(0, PREPARE)  # the baseline of prepare's own warnings
    step(f"build {label}: base ({'vmlinux' if full else f'{len(wanted)} objects'})")
    base_run = _build(make, ["vmlinux"] if full else wanted, timeout_s, fresh=[] if full else wanted)
    base_diags, base_failed = warnings.parse(base_run.output, work, out)
    # Diffed against itself: the base is the baseline, nothing in it is new.
    seen_errors: set = set()
    base_result = _result(0, arch, config, "vmlinux" if full else "objects", False, base_run,
                          ["vmlinux"] if full else wanted, base_failed, base_diags, base_diags, seen_errors)

    series = SeriesBuild(arch.name, config.name, missing, base_result)
    partial = any(r.partial for r in applied.patches if r.counter < first)
    for result in todo:
        partial = partial or result.partial
        if result.counter not in plans:
            series.patches.append(BuildResult(result.counter, arch.name, config.name, "objects",
                                              "not-applied", partial))
            continue
        plan = plans[result.counter]
        if not plan.objects:
            series.patches.append(BuildResult(result.counter, arch.name, config.name, "objects",
                                              "nothing-to-build", partial, not_built=plan.not_built,
                                              header_users=plan.header_users))
            continue
        g.checkout("-q", "--detach", result.commit)
        step(f"build {label}: patch {result.counter} ({len(plan.objects)} objects)")
        run = _build(make, plan.objects, timeout_s, fresh=plan.objects)
        diags, failed = warnings.parse(run.output, work, out)
        built = _result(result.counter, arch, config, "objects", partial, run, plan.objects,
                        failed, diags, base_diags, seen_errors)
        built.not_built, built.header_users = plan.not_built, plan.header_users
        series.patches.append(built)

    if full and plans:
        g.checkout("-q", "--detach", applied.tip)
        step(f"build {label}: vmlinux at the series tip")
        run = _build(make, ["vmlinux"], timeout_s, fresh=[])
        diags, failed = warnings.parse(run.output, work, out)
        last = applied.patches[-1].counter
        series.tip = _result(last, arch, config, "vmlinux", partial, run, ["vmlinux"], failed,
                             diags, base_diags, seen_errors)
    g.checkout("-q", "--detach", base)
    return series


def configure(make: Make, config: ConfigSpec, base: str, timeout_s: float, reuse: bool = True) -> list[str]:
    """Write O=/.config for `config`; return the options it could not set.

    With `reuse`, an O= dir already configured for this arch, config and base
    (a stamp file says so) is kept with its objects.
    """
    stamp = make.out / ".reviewtool-config"
    key = hashlib.sha256(f"{make.arch.digest} {config.digest} {base}".encode()).hexdigest()
    if reuse and stamp.is_file() and stamp.read_text().split("\n")[0] == key:
        saved = stamp.read_text().split("\n")[1]
        return json.loads(saved) if saved.startswith("[") else saved.split()
    if make.out.exists():
        shutil.rmtree(make.out)
    make.out.mkdir(parents=True)
    step(f"configure {make.arch.name}/{config.name}: {config.base} + {len(config.enable)} options")
    target = make.arch.defconfig if config.base == "defconfig" else config.base
    _checked(make.run([target], timeout_s=timeout_s), target)
    dotconfig = make.out / ".config"
    if config.derive:  # options from the series: with their dependencies, and why not when blocked
        blocked = kconfig.set_options(make, list(config.enable), list(config.disable), timeout_s, _checked)
        missing = [f"{o}: {why}" for o, why in blocked.items()]
        stamp.write_text(f"{key}\n{json.dumps(missing)}\n")
        return missing
    args = [a for opt in config.enable for a in ("--enable", opt)]
    args += [a for opt in config.disable for a in ("--disable", opt)]
    if args:
        subprocess.run([str(make.src / "scripts" / "config"), "--file", str(dotconfig), *args], check=True)
        _checked(make.run(["olddefconfig"], timeout_s=timeout_s), "olddefconfig")
    text = dotconfig.read_text()
    missing = [o for o in config.enable if f"\nCONFIG_{o}=y" not in text and f"\nCONFIG_{o}=m" not in text]
    missing += [o for o in config.disable if f"\nCONFIG_{o}=" in text]
    stamp.write_text(f"{key}\n{' '.join(missing)}\n")
    return missing


def _build(make: Make, goals: list[str], timeout_s: float, fresh: list[str]) -> MakeRun:
    """make -k `goals`; objects in `fresh` are deleted first so their messages are printed again."""
    for obj in fresh:
        (make.out / obj).unlink(missing_ok=True)
    if not goals:
        return MakeRun(0, "", 0.0, False)
    return make.run(goals, "-k", timeout_s=timeout_s)


def _result(patch: int, arch: Arch, config: ConfigSpec, target: str, partial: bool, run: MakeRun,
            objects: list[str], failed: list[str], diags: dict[str, list[Diagnostic]],
            base_diags: dict[str, list[Diagnostic]], seen_errors: set) -> BuildResult:
    """One build's result; errors whose key is in `seen_errors` (the base's or an earlier
    patch's) are inherited, and `seen_errors` grows by this build's errors."""
    errs = warnings.errors(diags)
    fresh = [e for e in errs if e.key() not in seen_errors]
    inherited = [e for e in errs if e.key() in seen_errors]
    seen_errors.update(e.key() for e in errs)
    new = warnings.new_warnings(base_diags, diags)
    unexplained = (run.returncode or failed) and not errs
    if run.timed_out:
        status = "timeout"
    elif fresh or unexplained:
        status = "errors"
    elif inherited:
        status = "inherited-errors"
    elif new:
        status = "new-warnings"
    else:
        status = "ok"
    tail = "\n".join(run.output.strip().splitlines()[-15:]) if unexplained or run.timed_out else ""
    total = sum(1 for ds in diags.values() for d in ds if d.severity == "warning")
    return BuildResult(patch, arch.name, config.name, target, status, partial, list(objects),
                       failed, errors=fresh, inherited_errors=inherited, new_warnings=new,
                       warnings_total=total, duration_s=round(run.duration_s, 1),
                       timed_out=run.timed_out, log_tail=tail)


def _source_exists(work: Path, obj: str) -> bool:
    if not obj.endswith(".o"):
        return False
    stem = obj[:-2]
    return (work / f"{stem}.c").is_file() or (work / f"{stem}.S").is_file()


def _checked(run: MakeRun, what: str) -> None:
    if run.timed_out or run.returncode:
        tail = "\n".join(run.output.strip().splitlines()[-5:])
        raise KernelToolError(f"make {what} failed{' (timed out)' if run.timed_out else ''}: {tail}")
