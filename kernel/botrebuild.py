"""Kernel test robot reports re-checked by rebuilding what they name.

The robot builds configs we do not (ia64-defconfig, randconfig).  For each
report we rebuild the .c/.S files its errors name, at the patch it answers,
on the closest arch and config we have: the robot's arch if the run builds
it, else every arch of the run (a file under arch/X/ only on X); from the
arch's config that already has most of what the report's config implies,
plus those options, in an O= directory of its own (`<arch>-robot`).  What the
robot's config implies is read from its errors: a function or identifier
"undeclared" that the tree declares only under `#ifdef CONFIG_X` means X was
off there (e.g. THP off for `is_huge_pmd`).  `make prepare` runs alone, then
the objects, like every build here.  Verdicts: "reproduced" (same file and
message; a line shift is said), "not reproduced" (what was tried), "cannot"
(why).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import git

from kernel import diagnostics, kbuild, kconfig, ppcond
from kernel.botrecheck import Recheck, RobotError, RobotReport, match_error, robot_arch
from kernel.build import configure, rebuild
from kernel.errors import KernelToolError
from kernel.make import Make
from kernel.matrix import Arch, ConfigSpec, derived
from kernel.model import FAILED, SKIPPED, Diagnostic, SeriesApply
from kernel.progress import step
from kernel.sandbox import Sandbox
from kernel.worktree import worktree_git

ROBOT = "robot"  # the config's name, and the O= directory's suffix
_UNDECLARED = re.compile(r"implicit declaration of function '(\w+)'|'(\w+)' undeclared|unknown type name '(\w+)'")
_KEYWORDS = r"(?:return|if|while|else|do|for|switch|case)\b"


@dataclass
class Candidate:
    """One arch x config the run built: a starting point for a rebuild."""

    arch: Arch
    config: ConfigSpec
    dotconfig: Path  # its O=/.config, to see which options it already has


@dataclass
class RebuildOptions:
    out_root: Path  # the `<arch>-robot` O= directories are made here
    timeout_s: float
    jobs: int
    ccache: bool = True
    sandbox: Sandbox = field(default_factory=Sandbox)


def sources(report: RobotReport) -> list[str]:
    """The .c/.S files the report's errors name, in order."""
    return list(dict.fromkeys(e.path for e in report.errors if e.path.endswith((".c", ".S"))))


def rebuild_report(work: Path, applied: SeriesApply, report: RobotReport, candidates: list[Candidate],
                   opts: RebuildOptions) -> Recheck | None:
    """The verdict of rebuilding what `report` names; None when it names no .c/.S file of the
    patch that applied here and no file of it that did not (then our builds are read instead)."""
    counter = report.patch if report.patch is not None else (applied.patches[-1].counter if applied.patches else 0)
    result = next((p for p in applied.patches if p.counter == counter), None)
    if result is None or result.status in (FAILED, SKIPPED) or not result.commit:
        return _verdict(report, "cannot", f"patch {counter} did not apply on this base") if sources(report) else None
    unapplied = list(dict.fromkeys(e.path for e in report.errors
                                   if e.path in result.files and e.path not in result.applied_files))
    named = [f for f in sources(report) if f not in unapplied]
    skipped = f"; {', '.join(unapplied)}: the patch's part did not apply here" if unapplied else ""
    if not named:
        return _verdict(report, "cannot", f"{', '.join(unapplied)} of patch {counter} did not apply on this base") \
            if unapplied else None
    arches = _arches(report, named, candidates)
    if isinstance(arches, str):
        return _verdict(report, "cannot", arches)
    worktree_git(work).checkout("-q", "--detach", result.commit)
    on, off = implied_options(git.Git(work), result.commit, arches[0].srcarch, report.errors)
    matches, tried = [], []
    for arch in arches:
        found, what = _rebuild_on(work, result.commit, arch, named, on, off,
                                  [c for c in candidates if c.arch.name == arch.name], opts)
        tried.append(what)
        for err in report.errors:
            if err.message and (hit := match_error(err, found)):
                shift = "same line" if hit.line == err.line else f"robot: line {err.line}, the bases differ"
                matches.append(f"{arch.name}/{ROBOT}: {hit.file}:{hit.line} ({shift}): {hit.message}")
    worktree_git(work).checkout("-q", "--detach", applied.base.commit)
    if matches:
        files = sorted({m.split(": ", 1)[1].split(" (")[0].rsplit(":", 1)[0] for m in matches})
        return Recheck(report.patch, report.config, "reproduced",
                       f"same error in {', '.join(files)}, rebuilt on {'; '.join(tried)}{skipped}", matches, tried)
    return Recheck(report.patch, report.config, "not reproduced", f"rebuilt on {'; '.join(tried)}{skipped}", [], tried)


def implied_options(repo: git.Git, commit: str, srcarch: str, errors: list[RobotError]) -> tuple[list[str], list[str]]:
    """(set, unset): options the robot's config must have had for its errors, read from where the
    tree declares what they call undeclared (the #if branches around each declaration)."""
    on: list[str] = []
    off: list[str] = []
    files: dict[str, tuple[list[str], list[ppcond.Branch]]] = {}  # path -> its lines, its #if branches
    names = {n for e in errors for m in _UNDECLARED.finditer(e.message) for n in m.groups() if n}
    for name in sorted(names):
        # `#define name`, `type name(`, or `name(` at column 0 (a definition's second line)
        declares = re.compile(rf"^(?:{name}\s*\(|\s*#\s*define\s+{name}\b|\s*(?!{_KEYWORDS})[A-Za-z_][\w \t*]*\b{name}\s*\()")
        for path, line in _grep(repo, commit, name, srcarch):
            if path not in files:
                text = repo.show(f"{commit}:{path}")
                files[path] = text.split("\n"), ppcond.branches(text)
            lines, found = files[path]
            if not declares.match(lines[line - 1]):  # a use, not a declaration
                continue
            for branch in ppcond.enclosing(found, line):
                off += [o for o in branch.on if o not in off]  # declared only with it set: it was unset
                on += [o for o in branch.off if o not in on]
    return on, [o for o in off if o not in on]


def _grep(repo: git.Git, commit: str, name: str, srcarch: str) -> list[tuple[str, int]]:
    try:
        out = repo.grep("-n", "-w", "-e", name, commit, "--", "include/", f"arch/{srcarch}/include/")
    except git.GitCommandError:  # exit 1: no match
        return []
    hits = []
    for row in out.splitlines():
        _, path, line, _ = row.split(":", 3)
        hits.append((path, int(line)))
    return hits


def _arches(report: RobotReport, named: list[str], candidates: list[Candidate]) -> list[Arch] | str:
    """The arches to rebuild on, or why there is none."""
    ours = list({c.arch.name: c.arch for c in candidates}.values())
    if not ours:
        return "nothing was built in this run"
    own = [a for a in ours if a.name == robot_arch(report.config)]
    arches = own or ours
    for path in named:
        m = re.match(r"arch/([^/]+)/", path)
        if m:
            arches = [a for a in arches if a.srcarch == m.group(1)]
            if not arches:
                return (f"{path} is built only for {m.group(1)}, not among the arches of this run "
                        f"({', '.join(a.name for a in ours)})")
    return arches


def _rebuild_on(work: Path, commit: str, arch: Arch, named: list[str], on: list[str], off: list[str],
                candidates: list[Candidate], opts: RebuildOptions) -> tuple[list[Diagnostic], str]:
    """Every error of rebuilding `named` on `arch`, and a line saying what was rebuilt."""
    start = max(candidates, key=lambda c: _score(c, on, off))  # max: the first of the best
    spec = replace(derived(start.config, on, off), name=ROBOT)
    make = Make(work, opts.out_root / f"{arch.name}-{ROBOT}", arch, jobs=opts.jobs, ccache=opts.ccache,
                sandbox=opts.sandbox)
    options = ", ".join([*(f"{o}=y" for o in on), *(f"{o}=n" for o in off)])
    what = f"{arch.name}/{ROBOT} ({start.config.name}{' + ' + options if options else ''})"
    step(f"robot re-check: {what}: {', '.join(named)}")
    try:
        missing = configure(make, spec, commit, opts.timeout_s)
    except KernelToolError as exc:
        return [], f"{what}: could not configure ({exc})"
    built = kbuild.compiled(make, named, opts.timeout_s)
    if not built:
        return [], f"{what}: {', '.join(named)} not built under it"
    prepared, objects = rebuild(make, sorted(set(built.values())), opts.timeout_s)
    errors = []
    for run in (prepared, objects):
        diags, _ = diagnostics.parse(run.output, work, make.out)
        errors += diagnostics.errors(diags)
    notes = [f"not set: {'; '.join(missing)}"] if missing else []
    notes += [f"{', '.join(f for f in named if f not in built)} not built"] if len(built) < len(named) else []
    return errors, what + (f" [{'; '.join(notes)}]" if notes else "")


def _score(c: Candidate, on: list[str], off: list[str]) -> int:
    values = kconfig.read_config(c.dotconfig) if c.dotconfig.is_file() else {}
    return sum(kconfig.is_set(values, o) for o in on) + sum(not kconfig.is_set(values, o) for o in off)


def _verdict(report: RobotReport, verdict: str, detail: str) -> Recheck:
    return Recheck(report.patch, report.config, verdict, detail)

