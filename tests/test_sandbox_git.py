"""git never runs the user's hooks or config-driven commands on mail content.

The user's kernel repo (a few files of the managed tree, so the worktree is
cheap) has hooks that `git worktree add`, `git am` and `git commit` would run, and a
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


pytestmark = pytest.mark.kernel
HOOKS = ("applypatch-msg", "pre-applypatch", "post-applypatch", "pre-commit", "post-commit", "post-checkout",
         "reference-transaction")


def test_review_runs_no_hook_and_no_fsmonitor_of_the_users_repo(kernel_tree: Path, tmp_path: Path) -> None:
    user = tmp_path / "linux"  # a small kernel repo: the files a review of this patch needs
    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull,
           "GIT_AUTHOR_NAME": "U", "GIT_AUTHOR_EMAIL": "u@example.org", "GIT_COMMITTER_NAME": "U",
           "GIT_COMMITTER_EMAIL": "u@example.org"}
    repo = git.Repo.init(user)
    for path in ("Kbuild", "Makefile", "mm/Makefile", "mm/mremap.c"):
        (user / path).parent.mkdir(parents=True, exist_ok=True)
        (user / path).write_text(git.Git(kernel_tree).show(f"HEAD:{path}", strip_newline_in_stdout=False))
    subprocess.run(["git", "-C", str(user), "add", "."], check=True, env=env)
    subprocess.run(["git", "-C", str(user), "commit", "-qm", "base"], check=True, env=env)
    base = repo.head.commit.hexsha
    (user / "mm/mremap.c").write_text((user / "mm/mremap.c").read_text().replace(
        "#include <linux/mm.h>\n", "#include <linux/mm.h>\n/* c */\n", 1))
    subprocess.run(["git", "-C", str(user), "commit", "-qam", "mm/mremap: a comment"], check=True, env=env)
    mbox = tmp_path / "series.mbox"
    mbox.write_text(repo.git.format_patch("--thread", "--stdout", f"{base}..HEAD", strip_newline_in_stdout=False))
    subprocess.run(["git", "-C", str(user), "reset", "-q", "--hard", base], check=True, env=env)
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
    assert results["meta"]["sandbox"] == ""  # --no-build --no-checks: none of the tree's code ran
    assert sorted(p.name for p in markers.iterdir()) == []
