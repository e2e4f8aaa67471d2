"""The code side: kernel tree, worktrees, apply, cross-builds, checkpatch, pair scan."""
