"""The kernel tree to work on: the user's checkout (`--tree`) or a managed one.

The managed default is Debian's `linux-source-6.1` tarball, unpacked once into
the cache directory and committed as a git repo, so worktrees, `git am` and
3-way merges work on it like on a real checkout.  The first unpack takes about
half a minute; it is built in a temporary directory and renamed into place,
under a lock, so an interrupted or concurrent first run never leaves (or sees)
a half-made tree.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import git

from kernel.errors import KernelInputError, KernelToolError
from kernel.locks import held
from kernel.progress import step

DEFAULT_TARBALL = Path("/usr/src/linux-source-6.1.tar.xz")
# Debian appends this block to the top-level .gitignore; it ignores every
# top-level file and directory, which would make `git add` skip the whole tree.
_DEBIAN_IGNORE_BLOCK = re.compile(
    r"#\n# Debian packaging: ignore everything at the top level.*?\n!/debian/\n", re.S
)
# A fixed identity and date make the managed commit the same on every machine.
_COMMIT_ENV = {
    "GIT_AUTHOR_NAME": "reviewtool",
    "GIT_AUTHOR_EMAIL": "reviewtool@localhost",
    "GIT_COMMITTER_NAME": "reviewtool",
    "GIT_COMMITTER_EMAIL": "reviewtool@localhost",
    "GIT_AUTHOR_DATE": "2000-01-01T00:00:00Z",
    "GIT_COMMITTER_DATE": "2000-01-01T00:00:00Z",
}


def default_cache_dir() -> Path:
    """$REVIEWTOOL_CACHE, else $XDG_CACHE_HOME/reviewtool, else ~/.cache/reviewtool."""
    if os.environ.get("REVIEWTOOL_CACHE"):
        return Path(os.environ["REVIEWTOOL_CACHE"])
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "reviewtool"


def managed_tree(cache_dir: Path | None = None, tarball: Path = DEFAULT_TARBALL) -> Path:
    """Path of the managed kernel git repo, unpacking and committing it on first use."""
    cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
    name = tarball.name.split(".tar")[0]
    final = cache_dir / name
    if _is_ready(final):
        return final
    if not tarball.is_file():
        raise KernelInputError(
            f"no kernel tree: {tarball} is missing (apt-get install {name}) and no --tree was given"
        )
    cache_dir.mkdir(parents=True, exist_ok=True)
    with held(cache_dir / f"{name}.lock", f"waiting for another run unpacking {tarball.name}"):
        if _is_ready(final):  # another process finished it while we waited
            return final
        for stale in cache_dir.glob(f".{name}.tmp-*"):
            shutil.rmtree(stale, ignore_errors=True)
        if final.exists():  # not ready yet exists: only a foreign directory can do that
            raise KernelInputError(f"{final} exists but is not a reviewtool-managed tree; remove it")
        tmp = cache_dir / f".{name}.tmp-{os.getpid()}"
        tmp.mkdir()
        try:
            _unpack_and_commit(tarball, tmp, name)
            os.rename(tmp / name, final)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return final


def open_user_tree(path: Path) -> Path:
    """Check that `path` is a non-bare git checkout of a kernel and return its top level."""
    try:
        repo = git.Repo(path, search_parent_directories=False)
    except (git.NoSuchPathError, git.InvalidGitRepositoryError):
        raise KernelInputError(f"--tree {path}: not a git repository") from None
    if repo.bare or not repo.working_tree_dir:
        raise KernelInputError(f"--tree {path}: a bare repository has no files to build")
    top = Path(repo.working_tree_dir)
    if not (top / "Kbuild").is_file() or not (top / "mm").is_dir():
        raise KernelInputError(f"--tree {path}: not a Linux kernel tree (no Kbuild or mm/)")
    return top


def resolve_tree(tree: Path | None, cache_dir: Path | None = None) -> Path:
    """The tree a command works on: the user's `--tree`, else the managed default."""
    return open_user_tree(tree) if tree else managed_tree(cache_dir)


def _is_ready(path: Path) -> bool:
    # The directory only appears by rename after its commit exists.
    return (path / ".git" / "refs" / "heads").is_dir() and (path / "Makefile").is_file()


def _unpack_and_commit(tarball: Path, tmp: Path, name: str) -> None:
    start = time.monotonic()
    step(f"unpacking {tarball} into the cache (once, ~1 min)")
    _run(["tar", "-xf", str(tarball), "-C", str(tmp)])
    top = tmp / name
    if not (top / "Makefile").is_file():
        raise KernelToolError(f"{tarball} did not unpack to {name}/ with a Makefile")
    gitignore = top / ".gitignore"
    if gitignore.is_file():
        gitignore.write_text(_DEBIAN_IGNORE_BLOCK.sub("", gitignore.read_text()))
    repo = git.Repo.init(top, initial_branch=name)
    with repo.config_writer() as cfg:
        cfg.set_value("gc", "auto", "0")  # else `git commit` runs gc for ~90 s on 2 cores
        cfg.set_value("user", "name", "reviewtool")
        cfg.set_value("user", "email", "reviewtool@localhost")
    step("committing the tree to git")
    # -f: the tarball is pure source; keep every file, also upstream dotfiles and
    # files that match ignore patterns (e.g. *.gz test data), as a real checkout has.
    repo.git.add("-f", "-A", ".")
    repo.git.commit("-q", "--no-verify", "-m", f"{name} as shipped by Debian ({tarball.name})", env=_COMMIT_ENV)
    step(f"kernel tree ready in {time.monotonic() - start:.0f} s")


def _run(cmd: list[str]) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode:
        raise KernelToolError(f"{cmd[0]} failed: {proc.stderr.strip()[-500:]}")
