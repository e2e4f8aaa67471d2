"""Kernel test robot reports, re-checked against our own builds of the same patch.

The robot builds hundreds of configs we do not (ia64-defconfig, randconfig);
we build a few.  For each report we look for its errors in what our arches
and configs printed for the patch it answers (errors new in that build or
inherited from an earlier patch): the robot's own arch first, else any arch
(the closest we have is usually a config with the same feature off, e.g. THP
in mm-off).  A match is the same file and the same message; lines are compared
too, and a shift is said (the robot's base is rarely ours).  Verdicts:
"reproduced", "not reproduced" (with what was tried), "cannot" (the patch did
not apply here, or nothing was built for it).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from kernel.model import FAILED, SKIPPED, Diagnostic, SeriesApply, SeriesBuild

# The robot names configs "<arch>-<config>"; our arch files by Debian's names.
_ROBOT_ARCH = {"riscv": "riscv64", "powerpc": "ppc64le", "powerpc64": "ppc64le", "s390": "s390x",
               "x86_64": "x86_64", "i386": "i386", "arm64": "arm64", "arm": "arm", "mips": "mips"}


@dataclass
class RobotError:
    path: str
    line: int
    message: str


@dataclass
class RobotReport:
    """What a report says, as plain data (the mail side parses it)."""

    patch: int | None  # the patch it answers; None: the cover letter (checked at the series tip)
    config: str  # e.g. "ia64-defconfig"
    errors: list[RobotError]


@dataclass
class Recheck:
    patch: int | None
    config: str  # the robot's
    verdict: str  # "reproduced" | "not reproduced" | "cannot"
    detail: str
    matches: list[str] = field(default_factory=list)  # "x86_64/mm-off: mm/mremap.c:535 (robot: 535): ..."
    # What was rebuilt for it (kernel.botrebuild), "x86_64/robot (mm-off + TRANSPARENT_HUGEPAGE=n)";
    # empty: the verdict comes from the run's own builds of the patch.
    rebuilt: list[str] = field(default_factory=list)


def robot_arch(config: str) -> str:
    """Our arch name for a robot config ("" when we have no data file for that arch)."""
    return _ROBOT_ARCH.get(config.split("-", 1)[0], "")


def recheck(reports: list[RobotReport], applied: SeriesApply, builds: list[SeriesBuild]) -> list[Recheck]:
    return [_one(r, applied, builds) for r in reports]


def _one(report: RobotReport, applied: SeriesApply, builds: list[SeriesBuild]) -> Recheck:
    patch = report.patch if report.patch is not None else (applied.patches[-1].counter if applied.patches else 0)
    result = next((p for p in applied.patches if p.counter == patch), None)
    if result is None or result.status in (FAILED, SKIPPED):
        return Recheck(report.patch, report.config, "cannot", f"patch {patch} did not apply on this base")
    errors = [e for e in report.errors if e.message] or []
    if not errors:
        return Recheck(report.patch, report.config, "cannot", "the report quotes no compiler error")
    arch = robot_arch(report.config)
    ordered = sorted(builds, key=lambda b: b.arch != arch)  # the robot's arch first, if we built it
    tried, matches = [], []
    for build in ordered:
        done = next((r for r in build.patches if r.patch == patch), None)
        if done is None or done.status in ("not-applied",):
            continue
        tried.append(f"{build.arch}/{build.config}")
        ours = [*done.errors, *done.inherited_errors]
        for err in errors:
            hit = match_error(err, ours)
            if hit:
                shift = "same line" if hit.line == err.line else f"robot: line {err.line}, the bases differ"
                matches.append(f"{build.arch}/{build.config}: {hit.file}:{hit.line} ({shift}): {hit.message}")
    if not tried:
        return Recheck(report.patch, report.config, "cannot", f"nothing was built for patch {patch}")
    where = "" if arch and any(b.arch == arch for b in builds) else \
        f" (the robot's arch {report.config.split('-', 1)[0]} is not among those built)"
    if matches:
        found = {m.split(": ", 1)[1].split(" (")[0].rsplit(":", 1)[0] for m in matches}
        return Recheck(report.patch, report.config, "reproduced",
                       f"same error in {', '.join(sorted(found))} on {_configs(matches)}{where}", matches)
    return Recheck(report.patch, report.config, "not reproduced", f"tried {', '.join(tried)}{where}")


def _configs(matches: list[str]) -> str:
    return ", ".join(dict.fromkeys(m.split(":", 1)[0] for m in matches))


def match_error(err: RobotError, ours: list[Diagnostic]) -> Diagnostic | None:
    """Our error with the robot's file and message, the one nearest its line."""
    same = [d for d in ours if d.severity == "error" and d.file == err.path
            and _norm(d.message) == _norm(err.message)]
    return min(same, key=lambda d: abs(d.line - err.line)) if same else None


def _norm(message: str) -> str:
    """gcc's quotes vary with the locale; a trailing [-Werror=...] says nothing more, and its
    "; did you mean 'x'?" depends on what the arch's headers declare."""
    text = re.sub(r"[‘’`]", "'", message)
    text = re.sub(r"\s*\[-W[^\]]*\]$", "", text)
    return re.sub(r"; did you mean '[^']*'\?$", "", text).strip()
