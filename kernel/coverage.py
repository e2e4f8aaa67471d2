"""Changed-line build coverage: which added or changed C lines some build compiled.

An object's preprocessed file (`make dir/file.i`, in the same O= directory and
tree state as its build) carries line markers (`# 120 "lib/foo.c"`) for every
stretch of every file the compiler read: a line that comes out with tokens was
compiled.  A changed line that comes out blank (a directive, the second line of
a macro call) counts as compiled when its innermost #if branch (ppcond)
produced tokens elsewhere, or it sits in no branch of a file that was read.
Everything else is "not compiled", named with the branch that kept it out.

The `.i` files are made without `prepare` (the O= dir was prepared by its
builds): a patch that breaks a header asm-offsets.c includes fails prepare,
and behind it every `.i` of the patch, although its files preprocess fine.
Each directory is preprocessed with make -k, so one file that does not
(an #error, a missing include) leaves the others counted.

Builds are asked in order, and a build preprocesses only the objects of files
that still have lines no earlier build compiled: a review of an mm series,
whose lines mm-on mostly covers, costs a few `.i` files, not every object
again on every arch x config.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import git

from kernel import kbuild, ppcond
from kernel.changedlines import changed_lines
from kernel.make import Make
from kernel.model import FAILED, SKIPPED, BuildResult, SeriesApply, SeriesBuild
from kernel.progress import step
from kernel.worktree import worktree_git

_MARKER = re.compile(r'^# (\d+) "([^"]*)"')
STOPPED = "<stopped>"  # key of preprocessed(): some object's .i could not be made
_DID_NOT_PREPROCESS = "is not compiled: a file did not preprocess"  # a reason merge() ranks
# Part of the cached coverage's key: raised when how lines are found compiled changes
# (2: `.i` files made without prepare, and those of the sources prepare compiles).
METHOD_VERSION = 2


@dataclass
class Uncompiled:
    """Changed lines first..last of `path` that no build compiled."""

    path: str
    first: int
    last: int
    reason: str  # "under #ifdef CONFIG_X (line 118)" | "lib/foo.c is not built under any config tried"

    def where(self) -> str:
        return f"{self.path}:{self.first}" + (f"-{self.last}" if self.last != self.first else "")


@dataclass
class PatchCoverage:
    patch: int
    changed: int  # added/changed C code lines (blank and comment lines left out)
    compiled: int  # of those, compiled by at least one arch x config
    # "x86_64/auto" -> lines it compiled first: a build is only asked about lines none before it compiled
    by_build: dict[str, int] = field(default_factory=dict)
    not_compiled: list[Uncompiled] = field(default_factory=list)
    tried: list[str] = field(default_factory=list)  # the arch/config builds looked at

    @property
    def percent(self) -> int:
        return 100 if not self.changed else int(100 * self.compiled / self.changed)


@dataclass
class BuildDir:
    """One arch x config of the run: its make (O= dir configured) and its build results."""

    make: Make
    build: SeriesBuild

    @property
    def label(self) -> str:
        return f"{self.build.arch}/{self.build.config}"


def series_changes(work: Path, applied: SeriesApply) -> dict[int, tuple[str, dict[str, list[int]]]]:
    """{patch: (its commit, {path: changed C lines})} for every patch that put something in the tree."""
    repo = git.Git(work)
    changes: dict[int, tuple[str, dict[str, list[int]]]] = {}
    previous = applied.base.commit
    for result in applied.patches:
        if result.status in (FAILED, SKIPPED) or not result.commit:
            continue
        changes[result.counter] = (result.commit, changed_lines(repo, previous, result.commit, result.applied_files))
        previous = result.commit
    return changes


def series_coverage(work: Path, applied: SeriesApply, dirs: list[BuildDir]) -> list[PatchCoverage]:
    """Coverage of every applied patch over the builds in `dirs` (each configured already)."""
    g = worktree_git(work)
    repo = git.Git(work)
    out: list[PatchCoverage] = []
    tried = [d.label for d in dirs]
    for counter, (commit, files) in series_changes(work, applied).items():
        if not files:
            out.append(PatchCoverage(counter, 0, 0, tried=tried))
            continue
        g.checkout("-q", "--detach", commit)
        step(f"coverage: patch {counter} ({sum(map(len, files.values()))} changed lines, {len(dirs)} builds)")
        texts = {path: repo.show(f"{commit}:{path}") for path in files}
        seen: list[tuple[str, dict[str, set[int]]]] = []
        for d in dirs:
            result = next((r for r in d.build.patches if r.patch == counter), None)
            objects = [*result.objects, *_prepare_objects(files, d.make.arch.srcarch, result)] if result else []
            todo = _still_needed(files, texts, seen, objects, result)
            if todo:
                seen.append((d.label, preprocessed(d.make, todo)))
        out.append(_patch_coverage(counter, files, texts, seen, tried))
    g.checkout("-q", "--detach", applied.base.commit)
    return out


def _prepare_objects(files: dict[str, list[int]], srcarch: str, result: BuildResult) -> list[str]:
    """The changed sources `make prepare` compiles (no object has them), as objects, when this
    build ran the patch's prepare: their `.i` is made like any object's."""
    if result.prepare is None:
        return []
    return [f"{path[:-2]}.o" for path in files if path in (f"arch/{srcarch}/kernel/asm-offsets.c", "kernel/bounds.c")]


def _still_needed(files: dict[str, list[int]], texts: dict[str, str], seen: list[tuple[str, dict[str, set[int]]]],
                  objects: list[str], result: BuildResult | None) -> list[str]:
    """The objects of this build worth preprocessing: those of files with changed lines that no
    earlier build compiled (a .c file's own object; any object for a header, its users)."""
    if result is None:
        return []
    open_files = {path for path, lines in files.items()
                  if _patch_coverage(0, {path: lines}, texts, seen, []).not_compiled}
    if any(path.endswith(".h") for path in open_files):
        return [o for o in objects if o.endswith(".o")]
    return [o for o in objects if o[:-2] + ".c" in open_files]


def preprocessed(make: Make, objects: list[str]) -> dict[str, set[int]]:
    """{source path: lines that produced tokens} over the .i files of `objects`."""
    goals = [o[:-2] + ".i" for o in objects if o.endswith(".o")]
    for goal in goals:
        (make.out / goal).unlink(missing_ok=True)
    if goals:
        targets, options = kbuild.unprepared(goals)
        make.run(targets, "-k", *options)
    lines: dict[str, set[int]] = {}
    for goal in goals:
        path = make.out / goal
        if path.is_file():
            _emitted(path.read_text(errors="replace"), make.src, make.out, lines)
        else:  # the file did not preprocess (#error, a missing include)
            lines[STOPPED] = set()
    return lines


def _emitted(text: str, src: Path, out: Path, lines: dict[str, set[int]]) -> None:
    current: set[int] | None = None
    number = 0
    top = os.path.realpath(src) + os.sep
    names: dict[str, set[int] | None] = {}
    for line in text.split("\n"):
        m = _MARKER.match(line)
        if m:
            number, name = int(m.group(1)), m.group(2)
            if name not in names:
                full = os.path.realpath(os.path.join(out, name))
                inside = full.startswith(top) and not name.startswith("<")  # not <built-in>, <command-line>
                names[name] = lines.setdefault(full[len(top):], set()) if inside else None
            current = names[name]
            continue
        if current is not None and line.strip():
            current.add(number)
        number += 1


def _patch_coverage(counter: int, files: dict[str, list[int]], texts: dict[str, str],
                    seen: list[tuple[str, dict[str, set[int]]]], tried: list[str]) -> PatchCoverage:
    cov = PatchCoverage(counter, sum(map(len, files.values())), 0, tried=tried)
    for path, changed in files.items():
        found = ppcond.branches(texts[path])
        missed: list[int] = []
        for line in changed:
            hit = next((label for label, emitted in seen
                        if path in emitted and _compiled(line, emitted[path], found)), None)
            if hit:
                cov.by_build[hit] = cov.by_build.get(hit, 0) + 1
                cov.compiled += 1
            else:
                missed.append(line)
        read = any(path in emitted for _, emitted in seen)
        stopped = any(STOPPED in emitted for _, emitted in seen)
        cov.not_compiled += _ranges(path, missed, found, read, stopped)
    return cov


def _compiled(line: int, emitted: set[int], found: list[ppcond.Branch]) -> bool:
    if line in emitted:
        return True
    around = ppcond.enclosing(found, line)
    if not around:
        return True  # read, and in no branch: a directive or a continuation line
    inner = around[-1]
    return any(inner.first <= n <= inner.last for n in emitted)


def _ranges(path: str, missed: list[int], found: list[ppcond.Branch], read: bool,
            stopped: bool) -> list[Uncompiled]:
    out: list[Uncompiled] = []
    unread = (f"{path} {_DID_NOT_PREPROCESS} (see the build errors)" if stopped
              else f"{path} is not compiled by any build tried")
    for line in missed:
        around = ppcond.enclosing(found, line)
        reason = (f"under {around[-1].directive} (line {around[-1].line}; needs {around[-1].condition})"
                  if read and around else unread)
        if out and out[-1].reason == reason and out[-1].path == path:
            out[-1].last = line
        else:
            out.append(Uncompiled(path, line, line, reason))
    return out


def merge(parts: list[list[PatchCoverage]], changes: dict[int, dict[str, list[int]]]) -> list[PatchCoverage]:
    """One coverage from coverages each over one build, in the run's order, as series_coverage
    over all those builds gives it: a Dask cluster computes each arch's on the worker that
    built it (kernel.coverage needs the O= dirs), the client merges.

    `changes`: {patch: {path: changed lines}} (series_changes without the commits). A part's
    not-compiled ranges are read back into lines through them: a range groups lines under one
    #if branch, or of a file the build never read, so every changed line inside it was missed.
    A line counts for the first build that compiled it; a line none compiled keeps the most
    telling reason any build gave (its #if branch, else a build that stopped). One difference
    remains: a build taken alone also preprocesses the files earlier builds covered, so if only
    such a file fails to preprocess, an uncovered line's reason says a file did not preprocess."""
    out: list[PatchCoverage] = []
    tried = list(dict.fromkeys(label for part in parts for p in part[:1] for label in p.tried))
    for counter, files in changes.items():
        mine = [next(p for p in part if p.patch == counter) for part in parts]
        merged = PatchCoverage(counter, sum(map(len, files.values())), 0, tried=tried)
        for path, lines in files.items():
            missed: list[int] = []
            reasons: dict[int, str] = {}
            for line in lines:
                why = [_reason(p, path, line) for p in mine]
                hit = next((p for p, reason in zip(mine, why) if reason is None), None)
                if hit is not None:
                    label = hit.tried[0]  # a part is one build
                    merged.by_build[label] = merged.by_build.get(label, 0) + 1
                    merged.compiled += 1
                else:
                    missed.append(line)
                    reasons[line] = min((r for r in why if r is not None), key=_telling)
            for line in missed:
                last = merged.not_compiled[-1] if merged.not_compiled else None
                if last and last.path == path and last.reason == reasons[line]:
                    last.last = line
                else:
                    merged.not_compiled.append(Uncompiled(path, line, line, reasons[line]))
        out.append(merged)
    return out


def _reason(cov: PatchCoverage, path: str, line: int) -> str | None:
    """Why `cov`'s build did not compile `line` of `path`; None if it did."""
    return next((u.reason for u in cov.not_compiled if u.path == path and u.first <= line <= u.last), None)


def _telling(reason: str) -> int:
    """_ranges' reasons, most telling first: the #if branch, a stopped build, not compiled."""
    return 0 if reason.startswith("under ") else 1 if _DID_NOT_PREPROCESS in reason else 2
