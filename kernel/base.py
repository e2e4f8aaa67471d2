"""Which commit to apply the series to.

Order: `--base REF`; else the series' base-commit if the tree has it; else a
commit whose files match the patches' preimage blobs (`index abc..def`
lines); else HEAD with a warning.  The blob guess is our own, not b4's
`LoreSeries.find_base`: b4 needs a LoreSeries and searches by the mail's date,
which says nothing in a tree without that history (the managed tree is one
commit); checking blobs against HEAD and then the recent history of the files
the series touches answers "does this tree have the series' preimages" directly.
"""
from __future__ import annotations

import re

import git
from pathlib import Path

from kernel.errors import KernelInputError
from kernel.model import BaseChoice

# "index 1a2b3c4..5d6e7f8 100644" after a "diff --git a/X b/X" line.
_DIFF_GIT = re.compile(r"^diff --git a/(\S+) b/\S+\n(?:.*\n)*?index ([0-9a-f]{7,40})\.\.", re.M)
_NULL_BLOB = re.compile(r"^0+$")
_HISTORY_DEPTH = 300  # commits of the touched files' history to search for the preimages


def preimage_blobs(mboxes: list[str]) -> dict[str, str]:
    """file -> abbreviated preimage blob, for the first patch that touches each file."""
    blobs: dict[str, str] = {}
    for mbox in mboxes:
        for path, blob in _DIFF_GIT.findall(mbox):
            if path not in blobs and not _NULL_BLOB.match(blob):
                blobs[path] = blob
    return blobs


def choose_base(tree: Path, mboxes: list[str], base_ref: str = "", base_commit: str = "",
                base_hint: str = "") -> BaseChoice:
    """Pick the base commit; `base_hint` is free text like "next-20211108" used in messages."""
    repo = git.Repo(tree)
    if base_ref:
        sha = _resolve(repo, base_ref)
        if not sha:
            raise KernelInputError(f"--base {base_ref}: no such commit in {tree}")
        return BaseChoice(sha, _describe(repo, sha), "option", base_commit)
    if base_commit:
        sha = _resolve(repo, base_commit)
        if sha:
            return BaseChoice(sha, _describe(repo, sha), "base-commit", base_commit)
    blobs = preimage_blobs(mboxes)
    found = _commit_with_blobs(repo, blobs)
    wanted_text = _wanted_text(base_commit, base_hint)
    if found:
        sha, matched = found
        warning = f"{wanted_text}; using {_describe(repo, sha)}, where all {matched} preimage blobs match" if base_commit else ""
        return BaseChoice(sha, _describe(repo, sha), "index-blobs", base_commit, warning)
    head = repo.head.commit.hexsha
    matched = _matching_blobs(repo, head, blobs)
    return BaseChoice(
        head, _describe(repo, head), "head", base_commit,
        f"base unknown: {wanted_text}; using HEAD ({_describe(repo, head)}), where "
        f"{matched} of {len(blobs)} preimage blobs match, so expect patches not to apply",
    )


def _wanted_text(base_commit: str, base_hint: str) -> str:
    if base_commit:
        hint = f" ({base_hint})" if base_hint else ""
        return f"the series is based on {base_commit}{hint}, which is not in this tree: fetch it to review against the right base"
    if base_hint:
        return f"the series says it is based on {base_hint}, which this tree does not name"
    return "the series names no base commit"


def _resolve(repo: git.Repo, ref: str) -> str:
    try:
        return repo.git.rev_parse("--verify", "--quiet", f"{ref}^{{commit}}")
    except git.GitCommandError:
        return ""


def _describe(repo: git.Repo, sha: str) -> str:
    try:
        return repo.git.describe("--tags", "--always", sha)
    except git.GitCommandError:
        return sha[:12]


def _matching_blobs(repo: git.Repo, commit: str, blobs: dict[str, str]) -> int:
    if not blobs:
        return 0
    listing = repo.git.ls_tree(commit, "--", *blobs).splitlines()
    have = {line.split("\t", 1)[1]: line.split()[2] for line in listing}
    return sum(1 for path, blob in blobs.items() if have.get(path, "").startswith(blob))


def _commit_with_blobs(repo: git.Repo, blobs: dict[str, str]) -> tuple[str, int] | None:
    """HEAD, else the newest recent commit of the touched files where every preimage blob matches."""
    if not blobs:
        return None
    candidates = [repo.head.commit.hexsha]
    candidates += repo.git.log("--format=%H", f"-{_HISTORY_DEPTH}", "HEAD", "--", *blobs).split()
    for sha in candidates:
        if _matching_blobs(repo, sha, blobs) == len(blobs):
            return sha, len(blobs)
    return None
