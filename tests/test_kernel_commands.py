"""`reviewtool build` end to end on the real tree: results, exit code, and a re-run that builds nothing."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import series_mbox
from tests.test_kernel_build import EDITS

pytestmark = pytest.mark.kernel


def test_build_command_and_a_rerun_with_nothing_changed(kernel_tree: Path, tmp_path: Path) -> None:
    mbox = tmp_path / "series.mbox"
    head = series_mbox(kernel_tree, [EDITS[0], EDITS[3]], mbox)  # clean, then a new W=1 warning
    env = {**os.environ, "REVIEWTOOL_CACHE": str(tmp_path / "cache")}

    def build(out: str, *extra: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "reviewtool", "build", "--mbox", str(mbox), "--tree",
                               str(kernel_tree), "--base", head, "--out", str(tmp_path / out),
                               "--arch", "x86_64", "--config", "mm-on", *extra],
                              capture_output=True, text=True, env=env)

    first = build("run1", "--json")
    assert first.returncode == 1, first.stderr  # 1: a finding (the new warning)
    data = json.loads(first.stdout)
    assert [p["status"] for p in data["apply"]["patches"]] == ["clean", "clean"]
    (only,) = data["builds"]
    assert (only["arch"], only["config"]) == ("x86_64", "mm-on")
    assert [(p["patch"], p["status"], p["objects"]) for p in only["patches"]] == [
        (1, "ok", ["mm/mremap.o"]), (2, "new-warnings", ["kernel/irq/irqdomain.o"])]
    assert json.loads((tmp_path / "run1" / "build.json").read_text()) == data
    assert not (tmp_path / "run1" / "worktree").exists()  # removed at the end

    again = build("run2")  # text output, everything from the cache
    assert again.returncode == 1, again.stderr
    assert "configure" not in again.stderr and "apply " not in again.stderr
    assert not (tmp_path / "run2" / "build").exists()  # no O= dir: nothing was built
    assert ">> new warning: kernel/irq/irqdomain.c:" in again.stdout
    assert "no previous prototype for 'irq_domain_rt_probe' [-Wmissing-prototypes]" in again.stdout

    cached = build("run3", "--json")
    assert json.loads(cached.stdout) == data

    bad = build("run4", "--arch", "sparc")
    assert bad.returncode == 2 and "unknown arch 'sparc'" in bad.stderr and "Traceback" not in bad.stderr
