"""Shared pytest fixtures. Each block belongs to one part of the tool."""
from __future__ import annotations

from pathlib import Path

import pytest


# --- kernel tree (kernel/tree.py) -------------------------------------------
@pytest.fixture(scope="session")
def kernel_tree() -> Path:
    """The managed Debian 6.1 kernel git repo (unpacked once into the user cache,
    ~25 s the first time, reused by every later session). Treat it as read-only:
    make a git worktree (kernel.worktree) to change files."""
    from kernel.tree import managed_tree

    return managed_tree()
