"""`git range-diff` of two revisions, when a local git tree has their preimage blobs.

The mail-only interdiff (series.interdiff) always works; range-diff is the
tool maintainers know, and it compares the resulting code. Like `b4 diff`, each
revision is rebuilt on a fake base made of the blobs its `index` lines name,
then the two ranges are compared. The user's repository is only read: new
objects go to a temporary object directory that borrows the repository's
objects as an alternate, and a temporary index is used.
"""
from __future__ import annotations

import os
import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from series.model import Series

_FILE = re.compile(r"^diff --git a/(\S+) b/(\S+)$")
_INDEX = re.compile(r"^index ([0-9a-f]+)\.\.([0-9a-f]+)(?: (\d+))?$")
_FIXED_IDENTITY = {
    "GIT_AUTHOR_NAME": "reviewtool", "GIT_AUTHOR_EMAIL": "reviewtool@localhost",
    "GIT_COMMITTER_NAME": "reviewtool", "GIT_COMMITTER_EMAIL": "reviewtool@localhost",
    "GIT_AUTHOR_DATE": "1970-01-01T00:00:00Z", "GIT_COMMITTER_DATE": "1970-01-01T00:00:00Z",
}
TIMEOUT = 120


@dataclass
class RangeDiff:
    available: bool
    reason: str  # why there is no range-diff, or "" when there is
    text: str = ""


class _Unavailable(Exception):
    pass


def _preimages(series: Series) -> list[tuple[str, str, str]]:
    """(path, blob abbrev, mode) of every file as it was before the series touched it."""
    seen: set[str] = set()
    out = []
    for patch in series.patches:
        path = None
        for line in patch.diff.splitlines():
            m = _FILE.match(line)
            if m:
                path = m.group(1)
                continue
            m = _INDEX.match(line)
            if m and path and path not in seen:
                seen.add(path)
                if set(m.group(1)) != {"0"}:  # new file: no preimage
                    out.append((path, m.group(1), m.group(3) or "100644"))
    return out


class _Git:
    """git in the user's tree, writing objects only to a scratch directory."""

    def __init__(self, tree: Path, scratch: Path):
        self.tree, self.scratch = tree, scratch
        # The commits hold mail content: none of the user's config-driven commands
        # (diff/textconv drivers, hooks, fsmonitor) may run on them.
        self.env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull}
        common = self.run("rev-parse", "--path-format=absolute", "--git-common-dir").strip()
        (scratch / "objects").mkdir()
        self.env.update(_FIXED_IDENTITY, GIT_OBJECT_DIRECTORY=str(scratch / "objects"),
                        GIT_ALTERNATE_OBJECT_DIRECTORIES=str(Path(common) / "objects"))

    def run(self, *args: str, stdin: str | None = None, index: Path | None = None, check: bool = True) -> str:
        env = {**self.env, "GIT_INDEX_FILE": str(index)} if index else self.env
        proc = subprocess.run(["git", "-C", str(self.tree), *args], input=stdin, capture_output=True,
                              text=True, env=env, timeout=TIMEOUT)
        if check and proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or ["?"])[-1]
            raise _Unavailable(f"git {args[0]}: {last}")
        return proc.stdout

    def blob(self, abbrev: str) -> str | None:
        return self.run("rev-parse", "-q", "--verify", f"{abbrev}^{{blob}}", check=False).strip() or None


def _build(git: _Git, series: Series, name: str) -> tuple[str, str]:
    """Fake base + one commit per patch; returns (base, tip)."""
    if series.missing:
        raise _Unavailable(f"v{series.revision} misses patch(es) {', '.join(map(str, series.missing))}: "
                           "its range cannot be rebuilt")
    pre = _preimages(series)
    if not pre:
        raise _Unavailable(f"v{series.revision} has no index lines to find its preimage blobs")
    found = [(path, git.blob(abbrev), mode) for path, abbrev, mode in pre]
    lacking = [path for path, sha, _ in found if sha is None]
    if lacking:
        raise _Unavailable(f"{len(lacking)} of {len(found)} preimage blobs of v{series.revision} are not in "
                           f"{git.tree} (e.g. {lacking[0]})")
    index = git.scratch / f"{name}.index"
    for path, sha, mode in found:
        git.run("update-index", "--add", "--cacheinfo", f"{mode},{sha},{path}", index=index)
    base = git.run("commit-tree", git.run("write-tree", index=index).strip(),
                   "-m", f"fake base of v{series.revision}", index=index).strip()
    tip = base
    for patch in series.patches:
        patch_file = git.scratch / f"{name}-{patch.counter}.diff"
        patch_file.write_text(patch.diff if patch.diff.endswith("\n") else patch.diff + "\n")
        try:
            git.run("apply", "--cached", str(patch_file), index=index)
        except _Unavailable as exc:
            raise _Unavailable(f"v{series.revision} {patch.counter}/{series.expected} does not apply "
                               f"on its own preimages: {exc}") from None
        message = f"{patch.subject}\n\n{patch.commit_message}"
        tip = git.run("commit-tree", git.run("write-tree", index=index).strip(), "-p", tip,
                      "-F", "-", stdin=message, index=index).strip()
    return base, tip


def is_repository(tree: Path) -> bool:
    """A git checkout or a bare repository (range_diff only reads its objects)."""
    return (tree / ".git").exists() or (tree / "HEAD").is_file()


def range_diff(old: Series, new: Series, tree: Path) -> RangeDiff:
    """`git range-diff` of old against new, or why it cannot be made from `tree`."""
    if not is_repository(tree):
        return RangeDiff(False, f"{tree} is not a git repository")
    with tempfile.TemporaryDirectory(prefix="reviewtool-rangediff-") as tmp:
        try:
            git = _Git(tree, Path(tmp))
            b1, t1 = _build(git, old, "old")
            b2, t2 = _build(git, new, "new")
            text = git.run("range-diff", "--no-color", f"{b1}..{t1}", f"{b2}..{t2}")
        except _Unavailable as exc:
            return RangeDiff(False, str(exc))
        except subprocess.TimeoutExpired:
            return RangeDiff(False, f"git took longer than {TIMEOUT}s")
    return RangeDiff(True, "", text)
