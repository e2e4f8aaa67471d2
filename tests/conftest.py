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


def format_patches(tree: Path, work: Path, edits: list[tuple[str, dict[str, tuple[str, str]]]]):
    """Commit scripted edits in the worktree `work` (one commit per (subject, {path: (old, new)}),
    `old` replaced once and required to be there; old "" appends `new`) and return them as `git format-patch` mails
    (kernel.model.PatchText, counters from 1). Used by the kernel tests and bench/."""
    from kernel.model import PatchText
    from kernel.worktree import worktree_git

    g = worktree_git(work)
    patches = []
    for counter, (subject, changes) in enumerate(edits, 1):
        for path, (old, new) in changes.items():
            text = (work / path).read_text()
            assert old in text, f"{path}: {old!r} not found"
            (work / path).write_text(text.replace(old, new, 1) if old else text + new)
            g.add(path)
        g.commit("-q", "-m", f"{subject}\n\nScripted test edit.\n\nSigned-off-by: T <t@example.org>",
                 env={"GIT_AUTHOR_NAME": "T", "GIT_AUTHOR_EMAIL": "t@example.org"})
        mbox = g.format_patch("-1", "--stdout", "HEAD", strip_newline_in_stdout=False)
        patches.append(PatchText(counter, subject, mbox))
    return patches
