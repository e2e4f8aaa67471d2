"""git range-diff from a tree holding the preimage blobs; the tree is only read."""
from __future__ import annotations

import subprocess
from functools import cache
from pathlib import Path

import pytest

from reviewtool.cli import main
from series.assemble import assemble_series
from series.load import bundled_thread_path, load_thread
from series.model import Series
from series.rangediff import range_diff


def _git(repo: Path, *args: str) -> str:
    env = {"GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(repo.parent),
           "PATH": "/usr/bin:/bin"}
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True,
                          env=env).stdout


def _two_revisions(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A repo and two revisions of a two-patch series (git format-patch -v1 / -v2)."""
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    _git(repo, "config", "user.name", "Jane Doe")
    _git(repo, "config", "user.email", "jane@example.org")
    (repo / "a.c").write_text("".join(f"int v{i};\n" for i in range(30)))
    _git(repo, "add", "a.c")
    _git(repo, "commit", "-qm", "base")
    _git(repo, "tag", "base")
    mboxes = []
    for rev, tweak in ((1, ""), (2, " = 1")):
        _git(repo, "checkout", "-q", "-B", f"v{rev}", "base")
        for n in (10, 20):
            (repo / "a.c").write_text((repo / "a.c").read_text().replace(f"int v{n};", f"long v{n}{tweak};"))
            _git(repo, "commit", "-qam", f"foo: widen v{n}\n\nBecause.\n\nSigned-off-by: Jane Doe <jane@example.org>")
        out = tmp_path / f"v{rev}"
        _git(repo, "format-patch", "-q", f"-v{rev}", "--cover-letter", "--thread", "-o", str(out), "base")
        mbox = tmp_path / f"v{rev}.mbox"
        mbox.write_text("".join(p.read_text() for p in sorted(out.glob("*.patch"))))
        mboxes.append(mbox)
    _git(repo, "checkout", "-q", "base")
    return repo, mboxes[0], mboxes[1]


def _series(path: Path) -> Series:
    return assemble_series(load_thread(str(path)).messages)


def test_range_diff_from_preimage_blobs_leaves_the_repo_alone(tmp_path: Path) -> None:
    repo, v1, v2 = _two_revisions(tmp_path)
    before = (_git(repo, "count-objects", "-v"), _git(repo, "status", "--porcelain"), _git(repo, "branch"))
    result = range_diff(_series(v1), _series(v2), repo)
    assert result.available, result.reason
    assert "1:  " in result.text and "! 1:  " in result.text and "foo: widen v10" in result.text
    assert "-+long v10;" in result.text and "++long v10 = 1;" in result.text
    assert (_git(repo, "count-objects", "-v"), _git(repo, "status", "--porcelain"), _git(repo, "branch")) == before


def test_range_diff_says_why_not(tmp_path: Path) -> None:
    repo, v1, v2 = _two_revisions(tmp_path)
    assert "not a git repository" in range_diff(_series(v1), _series(v2), tmp_path).reason
    other = tmp_path / "empty"
    other.mkdir()
    _git(other, "init", "-q")
    why = range_diff(_series(v1), _series(v2), other)
    assert not why.available and "1 of 1 preimage blobs of v1 are not in" in why.reason


def test_diff_command_shows_range_diff(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo, v1, v2 = _two_revisions(tmp_path)
    assert main(["diff", str(v2), str(v1), "--tree", str(repo), "--out", str(tmp_path / "out")]) == 0
    html = (tmp_path / "out" / "versions.html").read_text()
    assert "git range-diff" in html and "++long v10 = 1;" in html
    assert main(["diff", str(v2), str(v1), "--tree", str(tmp_path / "nope")]) == 2
    assert "--tree" in capsys.readouterr().err


@cache
def _pte(n: int) -> Series:
    return assemble_series(load_thread(str(bundled_thread_path(f"pte-v{n}"))).messages)


@pytest.mark.kernel
def test_pte_series_blobs_are_not_in_the_debian_tree(kernel_tree: Path) -> None:
    """The real series is based on next-20211108: a 6.1 tree lacks its preimages, and says so."""
    result = range_diff(_pte(1), _pte(3), kernel_tree)
    assert not result.available
    assert "preimage blobs of v1 are not in" in result.reason
    missing = range_diff(_pte(2), _pte(3), kernel_tree)
    assert "v2 misses patch(es) 2" in missing.reason
