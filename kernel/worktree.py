"""Private `git worktree`s of the kernel tree, so the user's checkout is never touched.

`persistent_worktree` keeps one (or, for runs at once, a second) worktree
per tree in the cache and moves it to the commit a run needs with `git
checkout -f` + `git clean`, which rewrite only the files that differ: adding
and removing the 78k files of a kernel per run cost minutes. A run holds its
worktree's fcntl lock while it uses it; a damaged worktree (deleted, pruned,
left mid-`git am` by a killed run) is repaired or made again.

`worktree` is a throw-away one (tests, benchmarks) locked with a reason
naming this process; a run killed with SIGKILL leaves it behind, and the next
run removes every such worktree whose process is gone.  Git commands in them
run with GIT_ENV: none of the user's hooks or config-driven commands, gc.auto=0
and a fixed committer (CI machines often have none).
"""
from __future__ import annotations

import hashlib
import os
import socket
import shutil
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import git

from kernel.errors import KernelToolError
from kernel.locks import try_held
from kernel.progress import step
from kernel.tree import default_cache_dir

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
PERSISTENT_REASON = "reviewtool persistent worktree"
SLOTS = 2  # worktrees per tree: a second run at once gets its own, a third waits for one
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


def worktree_root(tree: Path) -> Path:
    """Where the persistent worktrees of `tree` live: the cache, one directory per tree."""
    return default_cache_dir() / "worktrees" / hashlib.sha256(str(tree.resolve()).encode()).hexdigest()[:12]


@contextmanager
def persistent_worktree(tree: Path, commit: str, root: Path | None = None) -> Iterator[Path]:
    """A worktree of `tree` at `commit`, detached and clean, for this process alone until exit.

    Nothing is removed on exit: the next run starts from what this one left.
    """
    prune_stale(tree)
    root = root or worktree_root(tree)
    with ExitStack() as stack:
        slot = _claim_slot(stack, root, tree)
        path = root / f"wt-{slot}"
        _move_to(tree, path, commit)
        yield path


def _claim_slot(stack: ExitStack, root: Path, tree: Path) -> int:
    """The first free worktree slot, its lock held until `stack` closes; waits while all are busy."""
    said = False
    while True:
        for slot in range(SLOTS):
            if stack.enter_context(try_held(root / f"wt-{slot}.lock")):
                return slot
        if not said:
            step(f"waiting: {SLOTS} other runs are using worktrees of {tree}")
            said = True
        time.sleep(1)


def _move_to(tree: Path, path: Path, commit: str) -> None:
    """Check out `commit` in the worktree at `path`, making it again if it is damaged or missing."""
    g = worktree_git(tree)
    if _registered(g, path):
        w = worktree_git(path)
        try:
            if (path / w.rev_parse("--git-path", "rebase-apply")).exists():
                w.am("--abort")  # a run killed inside `git am`
            w.checkout("-q", "-f", "--detach", commit)
            w.clean("-q", "-f", "-d", "-x")
            return
        except git.GitCommandError as exc:
            step(f"worktree {path} is damaged ({exc.stderr.strip()[-200:]}): making it again")
    _discard(g, path)
    path.parent.mkdir(parents=True, exist_ok=True)
    step(f"worktree: checking out {tree} into {path} (once; later runs reuse it)")
    try:
        g.worktree("add", "--detach", "--lock", "--reason", PERSISTENT_REASON, str(path), commit)
    except git.GitCommandError as exc:
        raise KernelToolError(f"git worktree add failed: {exc.stderr.strip()}") from None


def _registered(g: git.Git, path: Path) -> bool:
    """`path` is a worktree of this tree whose files are there (not pruned, not deleted)."""
    entry = next((e for e in _worktrees(g) if e.get("worktree") == str(path)), None)
    return entry is not None and "prunable" not in entry and (path / ".git").is_file()


def _discard(g: git.Git, path: Path) -> None:
    if any(e.get("worktree") == str(path) for e in _worktrees(g)):
        try:
            g.worktree("remove", "--force", "--force", str(path))
        except git.GitCommandError:
            pass  # its files are gone or broken: removed below, its record pruned
    shutil.rmtree(path, ignore_errors=True)
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
