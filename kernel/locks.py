"""Exclusive file locks (fcntl) for what two runs must not use at once.

The managed tree's first unpack, a persistent worktree and a build's O=
directory are each guarded by a lock file next to them. The kernel drops an
fcntl lock when its process dies, so a killed run never leaves a lock behind.
"""
from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kernel.progress import step


@contextmanager
def held(lock_path: Path, waiting: str = "") -> Iterator[None]:
    """Hold the lock on `lock_path`; if another process has it, say `waiting` and wait."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a") as fh:
        if not _try(fh):
            if waiting:
                step(waiting)
            fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@contextmanager
def try_held(lock_path: Path) -> Iterator[bool]:
    """Hold the lock on `lock_path` if it is free; yields whether it is held."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a") as fh:
        got = _try(fh)
        try:
            yield got
        finally:
            if got:
                fcntl.flock(fh, fcntl.LOCK_UN)


def _try(fh) -> bool:
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True
