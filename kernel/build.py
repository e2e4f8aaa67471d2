"""Build every applied patch of a series for each arch and config, all at once.

One O= directory per arch and config, reused from the base through every
patch, so each step only recompiles what the patch changed.  The worktree
holds one commit at a time, so the arch/configs move through the series in
lockstep and build each commit side by side: a patch's few objects, Kbuild's
serial start-up and the link leave cores idle that the other makes use.
Order: configure at the base; ask Kbuild which objects each patch needs (at
that patch's tree); build the base (those objects, or the whole vmlinux for a
`full_build` config) as the warning baseline; then each patch's objects,
deleted first so their warnings are printed again; then, for a `full_build`
config, vmlinux at the series tip, incrementally.

`prepare` (asm-offsets, bounds, scripts/mod: header-order errors often show
only there) is checked like an object for a patch that touches what it
reads (`needs_prepare`), against the base's own prepare, and always as a make
of its own: Kbuild runs `prepare` given with object goals as a "mixed build"
(`__build_one_by_one`, a `set -e` loop over the goals), which stops at the
first failing goal and hides the other objects' errors.  From a patch whose
prepare fails until one whose prepare works again, objects are built without
Kbuild's prepare prerequisite (kbuild.unprepared), which would stop them all.

The base's messages are kept per object in the O= dir (`BaseStore`), so a
later series on the same base compiles at the base only objects no earlier
series needed, and a full_build config links its base vmlinux once per base.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, ExitStack, contextmanager, suppress
from dataclasses import asdict, dataclass, field
from pathlib import Path

from kernel import diagnostics, kbuild, kconfig
from kernel.ccachestats import stats_log
from kernel.errors import KernelToolError
from kernel.kbuild import Plan
from kernel.locks import held
from kernel.make import Make, MakeRun
from kernel.matrix import Arch, ConfigSpec
from kernel.model import FAILED, PREPARE, SKIPPED, BuildResult, Diagnostic, SeriesApply, SeriesBuild
from kernel.progress import step
from kernel.sandbox import Sandbox
from kernel.worktree import worktree_git

DEFAULT_TIMEOUT_S = 1800.0
_STORE = ".reviewtool-base.json"
# Part of every cached build result's key: raised when what a build checks changes, so that
# results cached by an earlier version are not taken for this one's (3: `prepare` checked; errors a
# patch's prepare showed are new, not inherited, in its objects).
RULES_VERSION = 3
# What prepare compiles for every config, deleted first so its messages are printed again.
_PREPARE_OUTPUTS = ("kernel/bounds.s", "arch/{srcarch}/kernel/asm-offsets.s", "scripts/mod/devicetable-offsets.s")
_PREPARE_INPUTS = ("Kconfig", "Makefile", "Kbuild")  # file name prefixes
_PREPARE_DIRS = ("scripts/", "tools/")


@dataclass
class BuildTarget:
    """One arch x config of a matrix build, in its own O= directory `out`."""

    arch: Arch
    config: ConfigSpec
    out: Path
    full_build: bool | None = None  # None: the config's own full_build
    first: int = 1  # patches before it are left out (the caller has their results)


@dataclass
class BaseStore:
    """The base build's messages per object, for one (base commit, arch, config) O= dir.

    `complete`: vmlinux was built from an empty O= dir, so every compiled object
    printed its messages and an object missing from `diags` had none.
    """

    key: str
    complete: bool = False
    built: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    diags: dict[str, list[Diagnostic]] = field(default_factory=dict)

    @classmethod
    def load(cls, out: Path, key: str) -> BaseStore:
        try:
            data = json.loads((out / _STORE).read_text())
            if data["key"] == key:
                return cls(key, data["complete"], data["built"], data["failed"],
                           {o: [Diagnostic(**d) for d in ds] for o, ds in data["diags"].items()})
        except (OSError, ValueError, KeyError, TypeError):
            pass
        return cls(key)

    def save(self, out: Path) -> None:
        tmp = out / f"{_STORE}.tmp"
        tmp.write_text(json.dumps(asdict(self)))
        tmp.replace(out / _STORE)

    def known(self, obj: str) -> bool:
        return self.complete or obj in self.built

    def add(self, objects: list[str], diags: dict[str, list[Diagnostic]], failed: list[str]) -> None:
        self.built = sorted({*self.built, *objects})
        self.failed = sorted({*self.failed, *failed})
        self.diags.update(diags)

    def baseline(self, objects: list[str] | None) -> tuple[dict[str, list[Diagnostic]], list[str]]:
        """(diags, failed) of `objects` at the base; None: of everything (vmlinux)."""
        if objects is None:
            return dict(self.diags), list(self.failed)
        return ({o: self.diags[o] for o in objects if o in self.diags},
                [o for o in self.failed if o in objects])


def build_series(work: Path, applied: SeriesApply, arch: Arch, config: ConfigSpec, out: Path, *,
                 timeout_s: float = DEFAULT_TIMEOUT_S, jobs: int = 2, ccache: bool = True,
                 full_build: bool | None = None, first: int = 1, sandbox: Sandbox = Sandbox()) -> SeriesBuild:
    """Build base, each patch from counter `first` on, and (full_build) the tip, for one arch and config."""
    return build_matrix(work, applied, [BuildTarget(arch, config, out, full_build, first)],
                        timeout_s=timeout_s, jobs=jobs, ccache=ccache, sandbox=sandbox)[0]


def build_matrix(work: Path, applied: SeriesApply, targets: list[BuildTarget], *,
                 timeout_s: float = DEFAULT_TIMEOUT_S, jobs: int = 2, ccache: bool = True,
                 sandbox: Sandbox = Sandbox()) -> list[SeriesBuild]:
    """Every target through the series in lockstep; one SeriesBuild per target, in order.
    Every make runs in `sandbox`.

    Each O= dir is locked for the whole call (two makes in one O= dir would
    corrupt it), in path order so two runs never wait on each other in a circle;
    an overlapping run waits with a message.
    """
    with ExitStack() as stack:
        for t in sorted(targets, key=lambda t: str(t.out)):
            stack.enter_context(out_dir_lock(t.out, f"{t.arch.name}/{t.config.name}"))
        builders = [_Builder(work, applied, t, timeout_s, jobs, ccache, sandbox) for t in targets]
        return _lockstep(work, applied, builders)


def out_dir_lock(out: Path, label: str) -> AbstractContextManager[None]:
    """Held while make runs in O= dir `out` (of arch/config `label`): two makes in one O= dir
    would corrupt it, so an overlapping run waits, and says so."""
    return held(out.parent / f"{out.name}.lock", f"build {label}: waiting for another run building in {out}")


def _lockstep(work: Path, applied: SeriesApply, builders: list[_Builder]) -> list[SeriesBuild]:
    g = worktree_git(work)
    with ThreadPoolExecutor(max_workers=len(builders)) as pool, _makes_killed_on_interrupt():

        def at(commit: str, action: Callable[[_Builder], None], who: list[_Builder]) -> None:
            """Check out `commit`, then run `action` for every builder in `who` side by side."""
            if who:
                g.checkout("-q", "--detach", commit)
                list(pool.map(action, who))  # re-raises the first failure

        base = applied.base.commit
        at(base, _Builder.configure, builders)
        for result in applied.patches:
            if result.status not in (FAILED, SKIPPED):
                at(result.commit, lambda b, r=result: b.plan(r), [b for b in builders if result.counter >= b.first])
        at(base, _Builder.build_base, builders)
        for result in applied.patches:
            at(result.commit, lambda b, r=result: b.build_patch(r),
               [b for b in builders if b.needs_work(result.counter)])
        for b in builders:
            b.record_unbuilt()
        at(applied.tip, _Builder.build_tip, [b for b in builders if b.full and b.plans])
        g.checkout("-q", "--detach", base)
    return [b.series for b in builders]


@contextmanager
def _makes_killed_on_interrupt() -> Iterator[None]:
    """Ctrl-C reaches the main thread only, while the makes run in the pool's threads:
    kill them (each leads a session of its own, see kernel.make) so the run stops now."""
    try:
        yield
    except BaseException:
        for children in Path("/proc/self/task").glob("*/children"):
            for pid in children.read_text().split():
                with suppress(ProcessLookupError, PermissionError):  # not a session leader: not a make
                    if os.getpgid(int(pid)) == int(pid):
                        os.killpg(int(pid), signal.SIGKILL)
        raise


class _Builder:
    """The state of one target while the matrix moves through the series."""

    def __init__(self, work: Path, applied: SeriesApply, target: BuildTarget, timeout_s: float,
                 jobs: int, ccache: bool, sandbox: Sandbox) -> None:
        self.work, self.applied, self.timeout_s = work, applied, timeout_s
        self.arch, self.config, self.out = target.arch, target.config, target.out
        self.full = target.config.full_build if target.full_build is None else target.full_build
        self.first = target.first
        self.make = Make(work, self.out, self.arch, jobs=jobs, ccache=ccache, sandbox=sandbox,
                         env={"CCACHE_STATSLOG": str(stats_log(self.out))})
        self.label = f"{self.arch.name}/{self.config.name}"
        self.todo = [r for r in applied.patches if r.counter >= self.first]
        self.plans: dict[int, Plan] = {}
        self.seen_errors: set = set()
        self.results: dict[int, BuildResult] = {}
        self.prepared: dict[int, BuildResult] = {}  # patch -> its own `make prepare`
        self.unprepared = False  # prepare fails at this point of the series: objects are built without it
        self.store = BaseStore("")
        self.series = SeriesBuild(self.arch.name, self.config.name, [], BuildResult(0, "", "", "", "", False))
        self.base_diags: dict[str, list[Diagnostic]] = {}

    def configure(self) -> None:
        key = config_key(self.make, self.config, self.applied.base.commit)
        # A full build is the baseline of every object only if every object is compiled
        # (and prints its warnings) at the base: so its first one starts from an empty O= dir.
        fresh = self.full and not BaseStore.load(self.out, key).complete
        self.series.missing_options = configure(self.make, self.config, self.applied.base.commit,
                                                self.timeout_s, reuse=not fresh)
        stats_log(self.out).unlink(missing_ok=True)  # counts this run's compilations only
        self.store = BaseStore.load(self.out, key)

    def plan(self, result) -> None:
        self.plans[result.counter] = kbuild.plan_objects(self.make, result.applied_files, self.timeout_s)

    def needs_work(self, counter: int) -> bool:
        return counter in self.plans and (bool(self.plans[counter].objects) or self._prepares(counter))

    def _prepares(self, counter: int) -> bool:
        result = next(r for r in self.applied.patches if r.counter == counter)
        return needs_prepare(result.applied_files)

    def build_base(self) -> None:
        if any(self._prepares(c) for c in self.plans) and PREPARE not in self.store.built:
            step(f"build {self.label}: base (prepare)")
            run = _prepare(self.make, self.timeout_s)
            if not run.timed_out:
                diags, failed = _prepare_diags(run, self.work, self.out)
                self.store.add([PREPARE], diags, failed)
                self.store.save(self.out)
        # An error prepare has at the base is inherited by every patch, like an object's.
        self.seen_errors.update(e.key() for e in diagnostics.errors(self.store.baseline([PREPARE])[0]))
        self.unprepared = PREPARE in self.store.failed
        wanted = sorted({o for p in self.plans.values() for o in p.objects if _source_exists(self.work, o)})
        goals = ["vmlinux"] if self.full else wanted
        if self.full and not self.store.complete:
            step(f"build {self.label}: base (vmlinux)")
            run = _build(self.make, ["vmlinux"], self.timeout_s, fresh=[])
            diags, failed = diagnostics.parse(run.output, self.work, self.out)
            self.store.add([], diags, failed)
            self.store.complete = not run.timed_out
        elif not self.full and (todo := [o for o in wanted if not self.store.known(o)]):
            step(f"build {self.label}: base ({len(todo)} objects"
                 + (f", {len(wanted) - len(todo)} known from an earlier series)" if len(todo) < len(wanted) else ")"))
            run = _build(self.make, todo, self.timeout_s, fresh=todo, prepared=not self.unprepared)
            diags, failed = diagnostics.parse(run.output, self.work, self.out)
            if not run.timed_out:
                self.store.add(todo, diags, failed)
        else:
            step(f"build {self.label}: base known from an earlier series on this base")
            run = MakeRun(0, "", 0.0, False)
        if not run.timed_out:
            self.store.save(self.out)
        self.base_diags, failed = self.store.baseline(None if self.full else wanted)
        if run.timed_out:  # the store has nothing of this run: report what it printed
            self.base_diags, failed = diagnostics.parse(run.output, self.work, self.out)
        # Diffed against itself: the base is the baseline, nothing in it is new.
        self.series.base = _result(0, self.arch, self.config, "vmlinux" if self.full else "objects", False,
                                   run, goals, failed, self.base_diags, self.base_diags, self.seen_errors)

    def build_patch(self, result) -> None:
        # Errors are inherited from the base and earlier patches only: one the patch's own prepare
        # showed is new in its objects too (a broken header errs in both).
        earlier = set(self.seen_errors)
        if self._prepares(result.counter):
            step(f"build {self.label}: patch {result.counter} (prepare)")
            run = _prepare(self.make, self.timeout_s)
            diags, failed = _prepare_diags(run, self.work, self.out)
            base = {PREPARE: self.store.diags.get(PREPARE, [])}
            self.prepared[result.counter] = _result(result.counter, self.arch, self.config, PREPARE,
                                                    self._partial(result.counter), run, [PREPARE], failed,
                                                    diags, base, self.seen_errors)
            self.unprepared = bool(run.returncode) or run.timed_out
        plan = self.plans[result.counter]
        if not plan.objects:
            return
        step(f"build {self.label}: patch {result.counter} ({len(plan.objects)} objects"
             + (", without the prepare that fails here)" if self.unprepared else ")"))
        run = _build(self.make, plan.objects, self.timeout_s, fresh=plan.objects, prepared=not self.unprepared)
        diags, failed = diagnostics.parse(run.output, self.work, self.out)
        self.results[result.counter] = _result(result.counter, self.arch, self.config, "objects",
                                               self._partial(result.counter), run, plan.objects,
                                               failed, diags, self.base_diags, earlier)
        self.seen_errors |= earlier
        self.results[result.counter].not_built = plan.not_built
        self.results[result.counter].header_users = plan.header_users

    def record_unbuilt(self) -> None:
        """The patches' results in order, with those that had nothing to build."""
        for result in self.todo:
            partial = self._partial(result.counter)
            if result.counter in self.results:
                built = self.results[result.counter]
            elif result.counter not in self.plans:
                built = BuildResult(result.counter, self.arch.name, self.config.name, "objects", "not-applied",
                                    partial)
            else:
                plan = self.plans[result.counter]
                built = BuildResult(result.counter, self.arch.name, self.config.name, "objects",
                                    "nothing-to-build", partial, not_built=plan.not_built,
                                    header_users=plan.header_users)
            built.prepare = self.prepared.get(result.counter)
            self.series.patches.append(built)

    def build_tip(self) -> None:
        step(f"build {self.label}: vmlinux at the series tip")
        run = _build(self.make, ["vmlinux"], self.timeout_s, fresh=[])
        diags, failed = diagnostics.parse(run.output, self.work, self.out)
        last = self.applied.patches[-1].counter
        self.series.tip = _result(last, self.arch, self.config, "vmlinux", self._partial(last), run, ["vmlinux"],
                                  failed, diags, self.base_diags, self.seen_errors)

    def _partial(self, counter: int) -> bool:
        """Built on a tree that lacks part of this patch or of an earlier one."""
        return any(r.partial for r in self.applied.patches if r.counter <= counter)


def config_key(make: Make, config: ConfigSpec, base: str) -> str:
    """What an O= dir's configuration depends on: arch and config files, base commit."""
    return hashlib.sha256(f"{make.arch.digest} {config.digest} {base}".encode()).hexdigest()


def configure(make: Make, config: ConfigSpec, base: str, timeout_s: float, reuse: bool = True) -> list[str]:
    """Write O=/.config for `config`; return the options it could not set.

    With `reuse`, an O= dir already configured for this arch, config and base
    (a stamp file says so) is kept with its objects.
    """
    stamp = make.out / ".reviewtool-config"
    key = config_key(make, config, base)
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
        # scripts/config is the tree's own (a patch may change it): it runs like make.
        _checked(make.run_tool([str(make.src / "scripts" / "config"), "--file", str(dotconfig), *args],
                               timeout_s=timeout_s), "scripts/config")
        _checked(make.run(["olddefconfig"], timeout_s=timeout_s), "olddefconfig")
    text = dotconfig.read_text()
    missing = [o for o in config.enable if f"\nCONFIG_{o}=y" not in text and f"\nCONFIG_{o}=m" not in text]
    missing += [o for o in config.disable if f"\nCONFIG_{o}=" in text]
    stamp.write_text(f"{key}\n{' '.join(missing)}\n")
    return missing


def _build(make: Make, goals: list[str], timeout_s: float, fresh: list[str], prepared: bool = True) -> MakeRun:
    """make -k `goals`; objects in `fresh` are deleted first so their messages are printed again.
    Not `prepared`: the objects are built without Kbuild's `prepare` prerequisite (it fails at this
    tree state and would stop them all; the O= dir keeps what the last good prepare generated)."""
    for obj in fresh:
        (make.out / obj).unlink(missing_ok=True)
    if not goals:
        return MakeRun(0, "", 0.0, False)
    if not prepared:
        targets, options = kbuild.unprepared(goals)
        return make.run(targets, "-k", *options, timeout_s=timeout_s)
    return make.run(goals, "-k", timeout_s=timeout_s)


def needs_prepare(files: list[str]) -> bool:
    """Whether a patch touching `files` can change what `make prepare` does: headers (asm-offsets
    and bounds include many), the arch's asm-offsets, Kconfig/Makefiles, scripts/ and tools/."""
    return any(f.endswith(".h") or "/asm-offsets" in f or f == "kernel/bounds.c"
               or f.rsplit("/", 1)[-1].startswith(_PREPARE_INPUTS) or f.startswith(_PREPARE_DIRS) for f in files)


def rebuild(make: Make, objects: list[str], timeout_s: float) -> tuple[MakeRun, MakeRun]:
    """(prepare, objects): `make prepare` alone, then `objects` (deleted first; without prepare if it
    failed), in a configured O= dir."""
    prepared = _prepare(make, timeout_s)
    ok = not prepared.returncode and not prepared.timed_out
    return prepared, _build(make, objects, timeout_s, fresh=objects, prepared=ok)


def _prepare(make: Make, timeout_s: float) -> MakeRun:
    """`make -k prepare`, alone: never with object goals (see the module's docstring)."""
    fresh = [o.format(srcarch=make.arch.srcarch) for o in _PREPARE_OUTPUTS]
    return _build(make, [PREPARE], timeout_s, fresh=fresh)


def _prepare_diags(run: MakeRun, src: Path, out: Path) -> tuple[dict[str, list[Diagnostic]], list[str]]:
    """prepare's messages as those of one pseudo object; `failed` is [PREPARE] when make failed."""
    diags, _ = diagnostics.parse(run.output, src, out)
    merged = [d for ds in diags.values() for d in ds]
    return ({PREPARE: merged} if merged else {}), ([PREPARE] if run.returncode else [])


def _result(patch: int, arch: Arch, config: ConfigSpec, target: str, partial: bool, run: MakeRun,
            objects: list[str], failed: list[str], diags: dict[str, list[Diagnostic]],
            base_diags: dict[str, list[Diagnostic]], seen_errors: set) -> BuildResult:
    """One build's result; errors whose key is in `seen_errors` (the base's or an earlier
    patch's) are inherited, and `seen_errors` grows by this build's errors."""
    errs = diagnostics.errors(diags)
    fresh = [e for e in errs if e.key() not in seen_errors]
    inherited = [e for e in errs if e.key() in seen_errors]
    seen_errors.update(e.key() for e in errs)
    new = diagnostics.new_warnings(base_diags, diags)
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
