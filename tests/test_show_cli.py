"""`reviewtool show` end to end, as the installed console command (subprocess)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from series.load import bundled_thread_path

REVIEWTOOL = [sys.executable, "-m", "reviewtool"]


def _run(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*REVIEWTOOL, *args], input=stdin.decode() if stdin else None,
        capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )


def test_table_for_bundled_v3() -> None:
    out = _run("show", "--bundled", "pte-v3")
    assert out.returncode == 1, out.stderr  # findings: patch 9 is missing, the robot's errors
    text = out.stdout
    assert "patches: 14 of 15 present; MISSING: 9" in text
    assert "  09/15  (missing: not in the thread)" in text
    assert "base: next-20211108" in text
    assert "  02/15  mm: introduce is_huge_pmd() helper" in text
    assert "         include/linux/pte_ref.h (added)  +87 -0" in text
    assert "Reported-by: kernel test robot <lkp@intel.com>  [caution:" in text
    assert "02/15: ia64-defconfig, ia64-linux-gcc (GCC) 11.2.0" in text
    assert ">> mm/mremap.c:535:21: error: implicit declaration of function 'is_huge_pmd'" in text
    assert "explained by the missing patch(es) 9" in text
    assert "Traceback" not in out.stderr


def test_default_source_is_bundled_v3() -> None:
    assert _run("show").stdout == _run("show", "--bundled", "pte-v3").stdout


def test_json_is_the_series() -> None:
    out = _run("show", "--mbox", str(bundled_thread_path("pte-v2")), "--json")
    assert out.returncode == 1, out.stderr  # patch 2 is missing
    data = json.loads(out.stdout)
    assert (data["revision"], data["expected"], data["missing"]) == (2, 9, [2])
    assert [p["counter"] for p in data["patches"]] == [1, 3, 4, 5, 6, 7, 8, 9]
    first = data["patches"][0]
    assert {"files", "diff", "mbox", "followup_trailers", "git_patch_id"} <= set(first)
    assert first["files"][0]["hunks"][0]["text"].startswith("@@ ")
    assert data["diffstat_check"]["consistent"] is True
    assert {m["kind"] for m in data["thread"]} == {"cover", "patch", "reply"}


def test_stdin_and_revision(tmp_path: Path) -> None:
    both = bundled_thread_path("pte-v1").read_bytes() + bundled_thread_path("pte-v3").read_bytes()
    out = _run("show", "-", "--revision", "1", "--json", stdin=both)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert (data["revision"], data["expected"], data["revisions_in_thread"]) == (1, 7, [1, 3])


@pytest.mark.parametrize("args,expected", [
    (["--bundled", "nope"], "no bundled thread 'nope'"),
    (["--revision", "4"], "no v4 in this thread (it has v3)"),
    (["--mbox", "/nonexistent/x.mbox"], "no such file"),
    (["--bundled", "pte-v1", "--mbox", "x"], "give one thread source"),
    (["nothere@example.org", "--midmask", "http://127.0.0.1:9/all/%s", "--timeout", "2"],
     "http://127.0.0.1:9/all refused the connection for <nothere@example.org> (check --midmask"),
])
def test_bad_input_is_one_line_and_exit_2(args: list[str], expected: str) -> None:
    out = _run("show", *args)
    assert out.returncode == 2
    errors = [line for line in out.stderr.splitlines() if line.startswith("reviewtool: error:")]
    assert len(errors) == 1 and expected in errors[0], out.stderr
    assert "Traceback" not in out.stderr and out.stdout == ""


def test_bad_files_exit_2(tmp_path: Path) -> None:
    (tmp_path / "empty.mbox").write_bytes(b"")
    (tmp_path / "text.txt").write_text("just some text\n")
    lines = bundled_thread_path("pte-v3").read_bytes().split(b"\n")
    (tmp_path / "cut.mbox").write_bytes(b"\n".join(lines[:2300]))
    for name, expected in (("empty.mbox", "empty input"), ("text.txt", "not mail"), ("cut.mbox", "cut off")):
        out = _run("show", "--mbox", str(tmp_path / name))
        assert out.returncode == 2 and expected in out.stderr and "Traceback" not in out.stderr, name


def test_help_has_an_example() -> None:
    out = _run("show", "--help")
    assert out.returncode == 0 and "reviewtool show --bundled pte-v3" in out.stdout
