"""The per-series config (`auto`) and changed-line coverage, on real builds.

A three-patch series made with `git format-patch` on the managed 6.1 tree
touches lib/debugobjects.c, which defconfig does not build (CONFIG_DEBUG_OBJECTS
is off): one plain change, one that changes both branches of an
`#ifdef CONFIG_DEBUG_FS ... #else`, one with a planted error.  `reviewtool
review` builds it with the `auto` config (DEBUG_FS on) and `auto-off` (DEBUG_FS
forced off: its selectors unset) on x86_64, arm64 and riscv64 (the
third arch built end to end; CI installs its compiler with setup.sh
--arches).  That mm-on and mm-off do not compile the file at all is checked
in test_kernel_build.py, on the O= directories it has configured anyway.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import git
import pytest

from reviewtool.model import read_review
from reviewtool.report.coverage import coverage_view
from tests.conftest import commit_edits

pytestmark = pytest.mark.kernel
ARCHES = ("x86_64", "arm64", "riscv64")

EDITS = [
    ("debugobjects: say when enabled on the command line",
     {"lib/debugobjects.c": ("\tdebug_objects_enabled = 1;\n",
                             "\tdebug_objects_enabled = 1;\n\tpr_info(\"enabled on the command line\\n\");\n")}),
    ("debugobjects: debugfs both ways",
     {"lib/debugobjects.c": ("__initcall(debug_objects_init_debugfs);\n\n#else\n"
                             "static inline void debug_objects_init_debugfs(void) { }\n",
                             "late_initcall(debug_objects_init_debugfs);\n\n#else\n"
                             "static inline void debug_objects_init_debugfs(void) { barrier(); }\n")}),
    ("debugobjects: a planted error",
     {"lib/debugobjects.c": ("\tdebug_objects_enabled = 1;\n",
                             "\tdebug_objects_enabled = rt_planted_undeclared;\n")}),
]


@pytest.fixture(scope="module")
def review(kernel_tree: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess, dict, Path]:
    head = git.Repo(kernel_tree).head.commit.hexsha
    commits = commit_edits(kernel_tree, head, EDITS)
    tmp = tmp_path_factory.mktemp("coverage")
    mbox = tmp / "series.mbox"
    mbox.write_text(git.Git(kernel_tree).format_patch("--cover-letter", "--thread", "--stdout",
                                                      f"{head}..{commits[-1]}", strip_newline_in_stdout=False))
    text = git.Git(kernel_tree).show(f"{commits[2]}:lib/debugobjects.c")
    planted = next(i for i, line in enumerate(text.split("\n"), 1) if "rt_planted_undeclared" in line)
    with mbox.open("a") as fh:
        fh.write(_robot_mail(mbox, 3, "x86_64-randconfig-a001",
                             f"lib/debugobjects.c:{planted}:33: error: 'rt_planted_undeclared' undeclared "
                             "(first use in this function)"))
        fh.write(_robot_mail(mbox, 1, "mips-allnoconfig",
                             "arch/mips/kernel/setup.c:100:5: error: 'rt_mips_only' undeclared"))
    env = {**os.environ, "REVIEWTOOL_CACHE": str(kernel_tree.parent),
           "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    proc = subprocess.run(["reviewtool", "review", str(mbox), "--base", head, "--no-checks",
                           "--arch", ",".join(ARCHES), "--config", "auto",
                           "--cache-dir", str(tmp / "cache"), "--out", str(tmp / "run"),
                           "--from", "T <t@example.org>"],
                          capture_output=True, text=True, env=env, timeout=1500)
    assert proc.returncode in (0, 1), proc.stderr[-3000:]
    return proc, json.loads((tmp / "run" / "results.json").read_text()), tmp / "run"


def _robot_mail(mbox: Path, patch: int, config: str, error: str) -> str:
    """A kernel test robot report on patch `patch` of `mbox`, in the robot's layout."""
    ids = [line.split(":", 1)[1].strip() for line in mbox.read_text().splitlines()
           if line.lower().startswith("message-id:")]
    return (f"\nFrom lkp@intel.com Mon Sep 17 00:00:00 2001\nFrom: kernel test robot <lkp@intel.com>\n"
            f"Subject: Re: [PATCH {patch}/3]\nMessage-Id: <robot-{patch}@intel.com>\nIn-Reply-To: {ids[patch]}\n"
            f"References: {ids[0]} {ids[patch]}\nDate: Mon, 1 Jan 2024 00:00:00 +0000\n\n"
            f"Hi T,\n\nThank you for the patch! Yet something to improve:\n\n"
            f"config: {config} (attached as .config)\ncompiler: gcc (GCC) 12.2.0\n\n"
            f"All errors (new ones prefixed by >>):\n\n>> {error}\n\n"
            f"vim +100 lib/debugobjects.c\n\n-- \n0-DAY CI Kernel Test Service\n")


def _builds(results: dict, config: str) -> dict[str, dict]:
    return {b["arch"]: b for b in results["build"] if b["config"] == config}


def test_auto_derives_the_options_from_the_makefile_and_the_ifdefs(review) -> None:
    _, results, _ = review
    wants = results["coverage"]["wants"]
    assert "DEBUG_OBJECTS" in wants["on"]
    assert "lib/debugobjects.c (Makefile)" in wants["why"]["DEBUG_OBJECTS"]
    assert wants["conflicts"] == ["DEBUG_FS"]  # wanted set (#ifdef) and unset (#else)
    decisions = {(a["arch"], a["config"]): a for a in results["coverage"]["auto"]}
    assert sorted(decisions) == sorted((arch, c) for arch in ARCHES for c in ("auto", "auto-off"))
    assert {a["status"] for a in decisions.values()} == {"built"}
    for arch in ARCHES:  # DEBUG_FS off where auto-off was built, on in auto
        assert decisions[(arch, "auto-off")]["blocked"] == [], arch
        assert _builds(results, "auto-off")[arch]["missing_options"] == [], arch


def test_the_planted_error_is_found_by_auto_on_every_arch(review) -> None:
    proc, results, _ = review
    assert proc.returncode == 1
    builds = _builds(results, "auto")
    assert set(builds) == set(ARCHES)
    for arch, build in builds.items():
        assert build["missing_options"] == [], arch
        third = build["patches"][2]
        assert third["status"] == "errors", arch
        assert any(e["file"] == "lib/debugobjects.c" and "rt_planted_undeclared" in e["message"]
                   for e in third["errors"]), arch
        assert build["patches"][0]["status"] == "ok", arch


def test_coverage_is_full_with_both_sides_of_the_ifdef(review) -> None:
    _, results, run = review
    rows = {r["patch"]: r for r in coverage_view(read_review(run / "results.json"))["rows"]}  # the report's lines
    patches = {p["patch"]: p for p in results["coverage"]["patches"]}
    assert rows[1]["text"] == "100% of 1 changed lines compiled" and not rows[1]["finding"]
    assert patches[1]["by_build"] == {"x86_64/auto": 1}  # the first build that compiled it
    # The #ifdef branch compiled by auto (DEBUG_FS=y), the #else one by auto-off.
    assert rows[2]["text"] == "100% of 2 changed lines compiled" and not rows[2]["finding"]
    assert patches[2]["by_build"] == {"x86_64/auto": 1, "x86_64/auto-off": 1}
    assert patches[2]["not_compiled"] == []


def test_report_has_the_coverage_section(review) -> None:
    _, _, run = review
    md = (run / "report.md").read_text()
    assert "### Build coverage of the changed lines" in md
    assert "4 of 4 changed C lines compiled (100%)" in md
    assert "- `auto-off` on arm64: built (DEBUG\\_FS forced off)" in md
    html = (run / "report.html").read_text()
    assert '<section id="coverage">' in html and "<code>auto-off</code> on x86_64: built" in html


def test_robot_reports_are_rebuilt(review) -> None:
    """The robot's report of the planted error is rebuilt on its arch (x86_64, the closest config:
    auto) in x86_64-robot and reproduced at the same line; one naming a mips-only file cannot be."""
    _, results, run = review
    found = {r["config"]: r for r in results["robot_recheck"]}
    x86 = found["x86_64-randconfig-a001"]
    assert x86["verdict"] == "reproduced", x86
    assert x86["rebuilt"] == ["x86_64/robot (auto)"]
    (match,) = x86["matches"]
    assert match.startswith("x86_64/robot: lib/debugobjects.c:") and "(same line)" in match
    mips = found["mips-allnoconfig"]
    assert mips["verdict"] == "cannot" and mips["rebuilt"] == []
    assert mips["detail"] == ("arch/mips/kernel/setup.c is built only for mips, not among the arches of this run "
                              "(x86_64, arm64, riscv64)")
    assert "**reproduced**" in (run / "report.md").read_text()
