"""A private `git worktree` of the kernel tree, so the user's checkout is never touched.

The worktree lives in the run directory and is locked with a reason naming
this process; a run killed with SIGKILL leaves it behind, and the next run
removes every reviewtool worktree whose process is gone.  Git commands in it
run with GIT_ENV: none of the user's hooks or config-driven commands, gc.auto=0
and a fixed committer (CI machines often have none).
"""
from __future__ import annotations

import os
import socket
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import git

from kernel.errors import KernelToolError

_LOCK_PREFIX = "reviewtool run"
# git runs on mail content (`git am`, `git apply`, checkouts of patched commits), so
# nothing the user configured runs on it: no system or global config (their hooks,
# diff/textconv/filter drivers, aliases, fsmonitor), no attributes file of the
# system, and, set on the command line (GIT_CONFIG_COUNT, which beats the repo's
# own config): hooks looked up in /dev/null, which can hold none; no fsmonitor;
# safe.directory=* because the trees are the one the user named and our own
# worktrees (and their global safe.directory list is no longer read).  gc.auto=0:
# no `git gc --auto` rewriting the user's object store while we commit.
_GIT_CONFIG = {
    "gc.auto": "0",
    "maintenance.auto": "false",
    "core.hooksPath": os.devnull,
    "core.fsmonitor": "false",
    "safe.directory": "*",
}
GIT_ENV = {
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_ATTR_NOSYSTEM": "1",
    "GIT_CONFIG_COUNT": str(len(_GIT_CONFIG)),
    **{f"GIT_CONFIG_{kind}_{i}": text for i, item in enumerate(_GIT_CONFIG.items())
       for kind, text in zip(("KEY", "VALUE"), item)},
    "GIT_COMMITTER_NAME": "reviewtool",
    "GIT_COMMITTER_EMAIL": "reviewtool@localhost",
}


def worktree_git(path: Path) -> git.Git:
    """A git command runner for a worktree, with the safe environment above."""
    runner = git.Git(path)
    runner.update_environment(**GIT_ENV)
    return runner


def prune_stale(tree: Path) -> list[Path]:
    """Remove worktrees left by reviewtool runs that died; return their paths."""
    g = worktree_git(tree)
    removed = []
    for entry in _worktrees(g):
        reason = entry.get("locked", "")
        if not reason.startswith(_LOCK_PREFIX) or _owner_alive(reason):
            continue
        path = Path(entry["worktree"])
        g.worktree("unlock", str(path))
        try:
            g.worktree("remove", "--force", "--force", str(path))
        except git.GitCommandError:
            shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    g.worktree("prune")
    return removed


@contextmanager
def worktree(tree: Path, path: Path, commit: str) -> Iterator[Path]:
    """A detached worktree of `tree` at `commit`, in `path`, removed on exit."""
    prune_stale(tree)
    g = worktree_git(tree)
    if path.exists():
        raise KernelToolError(f"{path} exists already; is another run using this run directory?")
    path.parent.mkdir(parents=True, exist_ok=True)
    reason = f"{_LOCK_PREFIX} pid={os.getpid()} host={socket.gethostname()}"
    try:
        g.worktree("add", "--detach", "--lock", "--reason", reason, str(path), commit)
    except git.GitCommandError as exc:
        raise KernelToolError(f"git worktree add failed: {exc.stderr.strip()}") from None
    try:
        yield path
    finally:
        g.worktree("unlock", str(path))
        g.worktree("remove", "--force", "--force", str(path))
        g.worktree("prune")


def _worktrees(g: git.Git) -> list[dict[str, str]]:
    entries: list[dict[str, str]] = []
    for block in g.worktree("list", "--porcelain").split("\n\n"):
        entry = {}
        for line in block.splitlines():
            key, _, value = line.partition(" ")
            entry[key] = value
        if entry:
            entries.append(entry)
    return entries


def _owner_alive(reason: str) -> bool:
    fields = dict(part.split("=", 1) for part in reason.split() if "=" in part)
    if fields.get("host") != socket.gethostname():
        return True  # another machine's run (shared filesystem): not ours to judge
    try:
        os.kill(int(fields.get("pid", "0")), 0)
    except (ProcessLookupError, ValueError):
        return False
    except PermissionError:
        return True
    return True
