"""The per-series config (`auto`) and changed-line coverage, on real builds.

A three-patch series made with `git format-patch` on the managed 6.1 tree
touches lib/debugobjects.c, which defconfig does not build (CONFIG_DEBUG_OBJECTS
is off): one plain change, one that changes both branches of an
`#ifdef CONFIG_RT_MUTEXES ... #else`, one with a planted error.  `reviewtool
review` builds it with the `auto` config on x86_64, arm64 and riscv64 (the
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
    ("debugobjects: PI check both ways",
     {"lib/debugobjects.c": ("\treturn current->pi_blocked_on != NULL;\n#else\n\treturn false;\n",
                             "\treturn READ_ONCE(current->pi_blocked_on) != NULL;\n#else\n\treturn 0 != 0;\n")}),
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
    env = {**os.environ, "REVIEWTOOL_CACHE": str(kernel_tree.parent),
           "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    proc = subprocess.run(["reviewtool", "review", str(mbox), "--base", head, "--no-checks",
                           "--arch", ",".join(ARCHES), "--config", "auto",
                           "--cache-dir", str(tmp / "cache"), "--out", str(tmp / "run"),
                           "--from", "T <t@example.org>"],
                          capture_output=True, text=True, env=env, timeout=1500)
    assert proc.returncode in (0, 1), proc.stderr[-3000:]
    return proc, json.loads((tmp / "run" / "results.json").read_text()), tmp / "run"


def _builds(results: dict, config: str) -> dict[str, dict]:
    return {b["arch"]: b for b in results["build"] if b["config"] == config}


def test_auto_derives_the_options_from_the_makefile_and_the_ifdefs(review) -> None:
    _, results, _ = review
    wants = results["coverage"]["wants"]
    assert "DEBUG_OBJECTS" in wants["on"]
    assert "lib/debugobjects.c (Makefile)" in wants["why"]["DEBUG_OBJECTS"]
    assert wants["conflicts"] == ["RT_MUTEXES"]  # wanted set (#ifdef) and unset (#else)
    assert [a["status"] for a in results["coverage"]["auto"]] == ["built"] * len(ARCHES)


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


def test_coverage_is_full_for_the_plain_change_and_names_the_else_branch(review) -> None:
    _, results, run = review
    rows = {r["patch"]: r for r in coverage_view(read_review(run / "results.json"))["rows"]}  # the report's lines
    patches = {p["patch"]: p for p in results["coverage"]["patches"]}
    assert rows[1]["text"] == "100% of 1 changed lines compiled" and not rows[1]["finding"]
    assert patches[1]["by_build"] == {"x86_64/auto": 1}  # the first build that compiled it
    # The #ifdef branch is compiled (RT_MUTEXES=y with futexes), the #else one by nothing tried.
    assert rows[2]["text"] == "50% of 2 changed lines compiled" and rows[2]["finding"]
    (missed,) = patches[2]["not_compiled"]
    assert missed["reason"] == f"under #else (line {missed['first'] - 1}; needs CONFIG_RT_MUTEXES=n)"
    assert f"lib/debugobjects.c:{missed['first']}" in rows[2]["not_compiled"][0]


def test_report_has_the_coverage_section(review) -> None:
    _, _, run = review
    md = (run / "report.md").read_text()
    assert "### Build coverage of the changed lines" in md
    assert "3 of 4 changed C lines compiled (75%)" in md
    assert "50% of 2 changed lines compiled" in md and "on every build tried (x86\\_64/auto, arm64/auto" in md
    html = (run / "report.html").read_text()
    assert '<section id="coverage">' in html and "under #else (line " in html
