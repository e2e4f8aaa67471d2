"""The managed tree: a clean git repo of the Debian tarball, made once, safely."""
from __future__ import annotations

import subprocess
import tarfile
from pathlib import Path

import git
import pytest

from kernel.errors import KernelInputError
from kernel.tree import managed_tree, open_user_tree


@pytest.mark.kernel
def test_managed_tree_is_a_clean_commit_of_the_whole_tarball(kernel_tree: Path) -> None:
    repo = git.Repo(kernel_tree)
    assert not repo.is_dirty(untracked_files=True)
    tracked = set(repo.git.ls_files().splitlines())
    # Debian's ".gitignore everything at top level" block must not have hidden files.
    assert {"Makefile", "Kbuild", "mm/memory.c", ".clang-format", ".mailmap"} <= tracked
    assert "Debian packaging" not in (kernel_tree / ".gitignore").read_text()
    assert repo.config_reader().get_value("gc", "auto") == 0
    assert open_user_tree(kernel_tree) == kernel_tree


def _tiny_tarball(tmp_path: Path) -> Path:
    src = tmp_path / "src" / "linux-source-9.9"
    (src / "mm").mkdir(parents=True)
    (src / "Makefile").write_text("VERSION = 9\n")
    (src / "Kbuild").write_text("obj-y += mm/\n")
    (src / "mm" / "memory.c").write_text("int x;\n")
    (src / ".gitignore").write_text(
        ".*\n!.gitignore\n#\n# Debian packaging: ignore everything at the top level, since it isn't\n"
        "# included in our repository\n#\n/*\n!/debian/\n"
    )
    (src / ".mailmap").write_text("a <b@c>\n")
    tarball = tmp_path / "linux-source-9.9.tar.xz"
    with tarfile.open(tarball, "w:xz") as tar:
        tar.add(src, arcname="linux-source-9.9")
    return tarball


def test_interrupted_unpack_is_redone_and_second_call_reuses(tmp_path: Path) -> None:
    tarball = _tiny_tarball(tmp_path)
    cache = tmp_path / "cache"
    # What a run killed mid-unpack leaves behind: a temp dir, no final tree.
    (cache / ".linux-source-9.9.tmp-12345" / "linux-source-9.9").mkdir(parents=True)
    tree = managed_tree(cache, tarball)
    assert tree == cache / "linux-source-9.9"
    assert not list(cache.glob(".linux-source-9.9.tmp-*"))
    repo = git.Repo(tree)
    assert sorted(repo.git.ls_files().splitlines()) == [".gitignore", ".mailmap", "Kbuild", "Makefile", "mm/memory.c"]
    head = repo.head.commit.hexsha
    assert managed_tree(cache, tarball) == tree and git.Repo(tree).head.commit.hexsha == head


def test_missing_tarball_and_bad_user_tree_are_input_errors(tmp_path: Path) -> None:
    with pytest.raises(KernelInputError, match="apt-get install"):
        managed_tree(tmp_path, tmp_path / "linux-source-0.0.tar.xz")
    with pytest.raises(KernelInputError, match="not a git repository"):
        open_user_tree(tmp_path)
    subprocess.run(["git", "init", "-q", str(tmp_path / "r")], check=True)
    with pytest.raises(KernelInputError, match="not a Linux kernel tree"):
        open_user_tree(tmp_path / "r")
