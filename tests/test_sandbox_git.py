"""git never runs the user's hooks or config-driven commands on mail content.

The user's kernel repo (a clone of the managed tree sharing its objects) has
hooks that `git worktree add`, `git am` and `git commit` would run, and a
core.fsmonitor command in its own config; each writes a marker.  After a
review on that tree (--tree) no marker exists, and the series applied.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import git
import pytest

from tests.conftest import commit_edits

pytestmark = pytest.mark.kernel
HOOKS = ("applypatch-msg", "pre-applypatch", "post-applypatch", "pre-commit", "post-commit", "post-checkout",
         "reference-transaction")


def test_review_runs_no_hook_and_no_fsmonitor_of_the_users_repo(kernel_tree: Path, tmp_path: Path) -> None:
    base = git.Repo(kernel_tree).head.commit.hexsha
    commits = commit_edits(kernel_tree, base, [
        ("mm/mremap: a comment", {"mm/mremap.c": ("#include <linux/mm.h>\n", "#include <linux/mm.h>\n/* c */\n")})])
    mbox = tmp_path / "series.mbox"
    mbox.write_text(git.Git(kernel_tree).format_patch("--stdout", f"{base}..{commits[-1]}",
                                                      strip_newline_in_stdout=False))
    user = tmp_path / "linux"
    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull}
    subprocess.run(["git", "clone", "-q", "--shared", "--no-checkout", str(kernel_tree), str(user)], check=True, env=env)
    subprocess.run(["git", "-C", str(user), "checkout", "-q", "HEAD", "--", "Kbuild", "mm"], check=True, env=env)
    markers = tmp_path / "markers"
    markers.mkdir()
    for hook in HOOKS:
        script = user / ".git" / "hooks" / hook
        script.write_text(f"#!/bin/sh\ntouch {markers / hook}\n")
        script.chmod(0o755)
    fsmonitor = tmp_path / "fsmonitor.sh"
    fsmonitor.write_text(f"#!/bin/sh\ntouch {markers / 'fsmonitor'}\n")
    fsmonitor.chmod(0o755)
    subprocess.run(["git", "-C", str(user), "config", "core.fsmonitor", str(fsmonitor)], check=True, env=env)
    # The hooks are real: git runs them when asked.
    subprocess.run(["git", "-C", str(user), "hook", "run", "pre-applypatch"], check=True, env=env)
    assert (markers / "pre-applypatch").exists()
    (markers / "pre-applypatch").unlink()

    run = subprocess.run([sys.executable, "-m", "reviewtool", "review", "--mbox", str(mbox), "--tree", str(user),
                          "--base", base, "--no-build", "--no-checks", "--out", str(tmp_path / "run")],
                         capture_output=True, text=True, env={**os.environ, "REVIEWTOOL_CACHE": str(tmp_path / "cache")},
                         timeout=900)
    assert run.returncode in (0, 1), run.stderr
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert [p["status"] for p in results["apply"]["patches"]] == ["clean"]
    assert results["meta"]["sandbox"] == "bubblewrap"
    assert sorted(p.name for p in markers.iterdir()) == []
