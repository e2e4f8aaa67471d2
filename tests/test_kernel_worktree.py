"""The user's checkout is never changed, and apply records exactly what fails.

The one thing a run adds to the user's repo is the record of reviewtool's
persistent worktree (in the cache, reused by every later run); the snapshots
leave that record out and the tests check it apart.

A small kernel-shaped git repo stands in for the user's checkout (the real
tree's 78k-file worktree costs a minute per run on this disk; the isolation
does not depend on the size).  Runs go through the real CLI in a subprocess.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import git
import pytest
from unidiff import PatchSet

from kernel.apply import _failing_hunks, _failing_hunks_one_by_one, apply_series
from kernel.base import choose_base
from kernel.model import PARTIAL, PatchText
from kernel.worktree import PERSISTENT_REASON, persistent_worktree, prune_stale, worktree, worktree_git

ENV = {**os.environ, "GIT_AUTHOR_NAME": "U", "GIT_AUTHOR_EMAIL": "u@example.org",
       "GIT_COMMITTER_NAME": "U", "GIT_COMMITTER_EMAIL": "u@example.org"}


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                          text=True, env=ENV).stdout


def _lines(n: int, tag: str) -> str:
    return "".join(f"{tag} line {i}\n" for i in range(n))


@pytest.fixture
def user_repo(tmp_path: Path) -> Path:
    """A kernel-shaped repo with a branch, a tag, a stash, a staged and an unstaged change."""
    repo = tmp_path / "linux"
    (repo / "mm").mkdir(parents=True)
    (repo / "Kbuild").write_text("obj-y += mm/\n")
    (repo / "mm" / "a.c").write_text(_lines(40, "a"))
    (repo / "mm" / "b.c").write_text(_lines(40, "b"))
    _git(tmp_path, "init", "-q", "-b", "master", str(repo))
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "base")
    _git(repo, "tag", "v1")
    _git(repo, "branch", "topic")
    (repo / "mm" / "a.c").write_text(_lines(40, "a") + "stashed\n")
    _git(repo, "stash", "-q")
    (repo / "mm" / "b.c").write_text(_lines(40, "b") + "staged\n")
    _git(repo, "add", "mm/b.c")
    (repo / "mm" / "a.c").write_text("dirty\n" + _lines(40, "a"))
    return repo


def _snapshot(repo: Path) -> dict[str, str]:
    files = {str(p.relative_to(repo)): hashlib.sha256(p.read_bytes()).hexdigest()
             for p in sorted(repo.rglob("*")) if p.is_file() and ".git" not in p.relative_to(repo).parts}
    return {
        "HEAD": _git(repo, "symbolic-ref", "HEAD") + _git(repo, "rev-parse", "HEAD"),
        "index": _git(repo, "ls-files", "-s") + _git(repo, "diff", "--cached"),
        "worktree-diff": _git(repo, "diff"),
        "files": json.dumps(files),
        "stash": _git(repo, "stash", "list", "--format=%H %s"),
        "refs": _git(repo, "for-each-ref", "--format=%(refname) %(objectname)"),
        "worktrees": "\n\n".join(b for b in _git(repo, "worktree", "list", "--porcelain").split("\n\n")
                                  if PERSISTENT_REASON not in b),
    }


def _persistent(repo: Path) -> list[Path]:
    """reviewtool's persistent worktrees of `repo`."""
    return [Path(b.split("\n")[0].removeprefix("worktree ")) for b in
            _git(repo, "worktree", "list", "--porcelain").split("\n\n") if PERSISTENT_REASON in b]


def _series_mbox(repo: Path, tmp: Path, n: int, failing: bool) -> Path:
    """n patches made in a clone (each edits a.c; the last one, if `failing`, edits a line the
    base does not have), as one `git format-patch --stdout` thread."""
    clone = tmp / "author"
    tmp.mkdir(parents=True)
    _git(tmp, "clone", "-q", str(repo), str(clone))
    for i in range(n):
        a = clone / "mm" / "a.c"
        a.write_text(a.read_text().replace(f"a line {i}\n", f"a line {i} changed\n"))
        _git(clone, "commit", "-q", "-am", f"mm/a: change line {i}")
    if failing:
        b = clone / "mm" / "b.c"
        b.write_text(b.read_text().replace("b line 5\n", "b line 5 (prereq)\n"))
        _git(clone, "commit", "-q", "-am", "prereq, not sent")
        b.write_text(b.read_text().replace("b line 5 (prereq)\n", "b line 5 (final)\n"))
        _git(clone, "commit", "-q", "-am", "mm/b: needs the prereq")
    total = n + 2 if failing else n
    text = _git(clone, "format-patch", "--thread=shallow", "--stdout", f"-{total}", "HEAD")
    mails = re.split(r"(?m)^(?=From [0-9a-f]{40} )", text)[1:]
    if failing:  # drop the prereq mail and renumber: the series has n + 1 patches
        mails = mails[:n] + [mails[n + 1].replace(f"[PATCH {n + 2}/{n + 2}]", f"[PATCH {n + 1}/{n + 1}]")]
        mails = [m.replace(f"/{n + 2}]", f"/{n + 1}]") for m in mails]
    mails = "".join(mails)
    path = tmp / "series.mbox"
    path.write_text(mails)
    return path


def _reviewtool(*args: str, cache: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "reviewtool", *args], capture_output=True, text=True,
                          env={**ENV, "REVIEWTOOL_CACHE": str(cache)})


def test_successful_and_failing_runs_leave_the_user_repo_identical(user_repo: Path, tmp_path: Path) -> None:
    before = _snapshot(user_repo)
    good = _series_mbox(user_repo, tmp_path / "good", 3, failing=False)
    run = _reviewtool("apply", "--mbox", str(good), "--tree", str(user_repo), "--out", str(tmp_path / "r1"),
                      "--base", "v1", "--json", cache=tmp_path / "cache")
    assert run.returncode == 0, run.stderr
    assert [p["status"] for p in json.loads(run.stdout)["patches"]] == ["clean"] * 3
    assert _snapshot(user_repo) == before

    bad = _series_mbox(user_repo, tmp_path / "bad", 2, failing=True)
    run = _reviewtool("apply", "--mbox", str(bad), "--tree", str(user_repo), "--out", str(tmp_path / "r2"),
                      "--base", "v1", "--json", cache=tmp_path / "cache")
    assert run.returncode == 1, run.stderr
    patches = json.loads(run.stdout)["patches"]
    assert [p["status"] for p in patches] == ["clean", "clean", "failed"]
    assert patches[2]["failed"] == [{"file": "mm/b.c", "hunk": "@@ -3,7 +3,7 @@ b line 1",
                                     "reason": "context does not match"}]
    assert patches[2]["applies_to_base"] is False
    assert _snapshot(user_repo) == before

    run = _reviewtool("apply", "--mbox", str(good), "--tree", str(user_repo), "--out", str(tmp_path / "r3"),
                      "--base", "no-such-ref", cache=tmp_path / "cache")
    assert run.returncode == 2 and "no such commit" in run.stderr and "Traceback" not in run.stderr
    assert _snapshot(user_repo) == before
    (kept,) = _persistent(user_repo)  # one worktree, in the cache, reused by both runs
    assert kept.is_relative_to(tmp_path / "cache") and kept.name == "wt-0"


def test_run_killed_midway_is_cleaned_up_by_the_next(user_repo: Path, tmp_path: Path) -> None:
    before = _snapshot(user_repo)
    mbox = _series_mbox(user_repo, tmp_path / "s", 30, failing=False)
    proc = subprocess.Popen([sys.executable, "-m", "reviewtool", "apply", "--mbox", str(mbox), "--tree",
                             str(user_repo), "--out", str(tmp_path / "r1"), "--base", "v1", "--no-cache"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env={**ENV, "REVIEWTOOL_CACHE": str(tmp_path / "cache")})
    admin = user_repo / ".git" / "worktrees"
    deadline = time.monotonic() + 60
    # Kill inside the git am loop (rebase-apply exists while `git am` runs). Earlier moments
    # are no test of the clean-up: killed inside `git worktree add`, git removes its own
    # half-made worktree.
    while not any(admin.glob("*/rebase-apply")) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.002)
    assert proc.poll() is None, "the run ended before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert _snapshot(user_repo) == before
    (killed,) = _persistent(user_repo)  # left mid-`git am`, its lock file unlocked by the kill

    run = _reviewtool("apply", "--mbox", str(mbox), "--tree", str(user_repo), "--out", str(tmp_path / "r2"),
                      "--base", "v1", "--json", cache=tmp_path / "cache")
    assert run.returncode == 0, run.stderr
    assert [p["status"] for p in json.loads(run.stdout)["patches"]] == ["clean"] * 30
    assert _snapshot(user_repo) == before
    assert _persistent(user_repo) == [killed]  # the same worktree, repaired, not a second one
    assert not any(admin.glob("*/rebase-apply"))


def test_persistent_worktree_is_reset_shared_safely_and_remade_when_damaged(user_repo: Path,
                                                                              tmp_path: Path) -> None:
    before = _snapshot(user_repo)
    v1 = _git(user_repo, "rev-parse", "v1").strip()
    root = tmp_path / "worktrees"
    with persistent_worktree(user_repo, v1, root) as first:
        (first / "mm" / "a.c").write_text("scribbled\n")
        (first / "mm" / "a.o").write_text("untracked\n")
        with persistent_worktree(user_repo, v1, root) as second:  # a second run at once: its own
            assert second != first and (second / "mm" / "a.c").read_text() == _lines(40, "a")
    with persistent_worktree(user_repo, v1, root) as again:  # reused, with what the last run left undone
        assert again == first
        assert (again / "mm" / "a.c").read_text() == _lines(40, "a") and not (again / "mm" / "a.o").exists()
    shutil.rmtree(first)  # damaged: its files are gone
    with persistent_worktree(user_repo, v1, root) as remade:
        assert remade == first and (remade / "mm" / "b.c").read_text() == _lines(40, "b")
    assert sorted(_persistent(user_repo)) == sorted([first, second])
    assert _snapshot(user_repo) == before


def test_partial_apply_keeps_the_files_that_apply(user_repo: Path, tmp_path: Path) -> None:
    """A patch with one good and one stale file: the good file goes in, status partial."""
    repo = git.Repo(user_repo)
    base = repo.git.rev_parse("v1")
    diff_a = repo.git.diff(base, "--", "mm/a.c") or ""
    assert diff_a  # the unstaged 'dirty' line: a real, applicable change of a.c
    stale_b = ("diff --git a/mm/b.c b/mm/b.c\n--- a/mm/b.c\n+++ b/mm/b.c\n"
               "@@ -10,3 +10,3 @@ b line 8\n b line 9\n-no such line\n+new\n b line 11\n")
    mbox = ("From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001\n"
            "From: A <a@example.org>\nDate: Mon, 1 Jan 2024 00:00:00 +0000\n"
            "Subject: [PATCH] mm: two files\n\nBody.\n---\n" + diff_a + "\n" + stale_b + "-- \n2.39\n")
    choice = choose_base(user_repo, [mbox], "v1")
    assert choice.source == "option" and choice.commit == base
    with worktree(user_repo, tmp_path / "wt", base) as work:
        result = apply_series(work, choice, [PatchText(1, "mm: two files", mbox)]).patches[0]
        assert (work / "mm" / "a.c").read_text().startswith("dirty\n")
    assert result.status == PARTIAL and result.applied_files == ["mm/a.c"]
    assert [(f.file, f.hunk, f.reason) for f in result.failed] == [
        ("mm/b.c", "@@ -10,3 +10,3 @@ b line 8", "context does not match")]
    assert result.partial and result.applies_to_base is False
    assert repo.git.worktree("list", "--porcelain").count("worktree ") == 1
    assert prune_stale(user_repo) == []


def test_base_from_base_commit_then_preimage_blobs_then_head(user_repo: Path, tmp_path: Path) -> None:
    v1 = _git(user_repo, "rev-parse", "v1").strip()
    patch = _series_mbox(user_repo, tmp_path / "s", 1, failing=False).read_text()  # edits a.c of v1
    clone = tmp_path / "later"
    _git(tmp_path, "clone", "-q", str(user_repo), str(clone))
    (clone / "mm" / "a.c").write_text("moved on\n")
    _git(clone, "commit", "-q", "-am", "later work")
    _git(user_repo, "fetch", "-q", str(clone), "master:later")
    _git(user_repo, "update-ref", "refs/heads/master", "later")  # HEAD is past v1, a.c differs
    choice = choose_base(user_repo, [patch], base_commit=v1)
    assert (choice.source, choice.commit, choice.warning) == ("base-commit", v1, "")
    choice = choose_base(user_repo, [patch], base_commit="1" * 40, base_hint="next-20211108")
    assert (choice.source, choice.commit) == ("index-blobs", v1)  # found in the history of a.c
    assert "1111111111" in choice.warning and "next-20211108" in choice.warning
    unrelated = patch.replace("index ", "index 0123456789abcdef", 1)
    choice = choose_base(user_repo, [unrelated])
    assert choice.source == "head" and choice.warning.startswith("base unknown: the series names no base commit")


def _mail(subject: str, diff: str) -> str:
    return ("From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001\n"
            "From: A <a@example.org>\nDate: Mon, 1 Jan 2024 00:00:00 +0000\n"
            f"Subject: [PATCH] {subject}\n\nBody.\n---\n{diff}-- \n2.39\n")


def test_failing_hunks_from_one_git_run_equal_the_checks_one_by_one(user_repo: Path, tmp_path: Path) -> None:
    """git's --reject answer, read, names what the per-file and per-hunk checks name; a hunk
    whose context mimics git's own error lines does not fool it."""
    diff = ("diff --git a/mm/a.c b/mm/a.c\n--- a/mm/a.c\n+++ b/mm/a.c\n"
            "@@ -2,3 +2,3 @@\n a line 1\n-a line 2\n+A 2\n a line 3\n"
            "@@ -20,3 +20,3 @@\n a line 19\n-error: patch failed: mm/a.c:2\n+x\n a line 21\n"
            "diff --git a/mm/gone.c b/mm/gone.c\n--- a/mm/gone.c\n+++ b/mm/gone.c\n"
            "@@ -1,2 +1,2 @@\n-x\n+y\n z\n"
            "diff --git a/mm/b.c b/mm/b.c\n--- a/mm/b.c\n+++ b/mm/b.c\n"
            "@@ -5,3 +5,3 @@\n b line 4\n-b line 5\n+B 5\n b line 6\n")
    files = PatchSet(diff)
    with worktree(user_repo, tmp_path / "wt", _git(user_repo, "rev-parse", "v1").strip()) as work:
        g = worktree_git(work)
        fast, slow = _failing_hunks(g, files, env={}), _failing_hunks_one_by_one(g, files, env={})
    assert [(f.file, f.hunk, f.reason) for f in fast] == [(f.file, f.hunk, f.reason) for f in slow] == [
        ("mm/a.c", "@@ -20,3 +20,3 @@", "context does not match"),
        ("mm/gone.c", "@@ -1,2 +1,2 @@", "file does not exist")]


def test_a_three_way_merge_is_still_tried_when_the_tree_has_the_preimage(user_repo: Path, tmp_path: Path) -> None:
    """A patch made on an older a.c fails plainly but merges 3-way: skipping `git am -3` is only
    for patches whose preimage blobs the tree lacks."""
    v1 = _git(user_repo, "rev-parse", "v1").strip()
    older = _lines(40, "a").replace("a line 27\n", "a line twenty-seven\n")  # as the author had it
    newer = older.replace("a line 30\n", "a line thirty\n")  # their change, 3 lines from the other
    (tmp_path / "older").write_text(older)
    (tmp_path / "newer").write_text(newer)
    blob, new_blob = (_git(user_repo, "hash-object", "-w", str(tmp_path / n)).strip() for n in ("older", "newer"))
    patch = _git(user_repo, "diff", "--full-index", blob, new_blob).replace(
        f"a/{blob}", "a/mm/a.c").replace(f"b/{new_blob}", "b/mm/a.c")
    assert patch.startswith("diff --git a/mm/a.c b/mm/a.c") and "a line twenty-seven" in patch
    choice = choose_base(user_repo, [_mail("mm: 3-way", patch)], "v1")
    with worktree(user_repo, tmp_path / "wt", v1) as work:
        (result,) = apply_series(work, choice, [PatchText(1, "mm: 3-way", _mail("mm: 3-way", patch))]).patches
        merged = (work / "mm" / "a.c").read_text()
    assert result.status == "3way", result
    assert merged == _lines(40, "a").replace("a line 30\n", "a line thirty\n")
