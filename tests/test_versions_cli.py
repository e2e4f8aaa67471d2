"""`reviewtool diff` end to end: reports written, bad input gives one line and exit 2."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from reviewtool.cli import main
from reviewtool.diffreport import version_report, write_version_report
from series.assemble import assemble_series
from series.load import bundled_thread_path, load_thread


def _other_series_mbox(tmp_path: Path) -> Path:
    """A real two-patch v2 series of another author, made by git format-patch."""
    repo = tmp_path / "repo"
    repo.mkdir()

    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True,
                              env={"GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1",
                                   "HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}).stdout

    git("init", "-q")
    git("config", "user.name", "Jane Doe")
    git("config", "user.email", "jane@example.org")
    (repo / "a.c").write_text("int a;\n")
    git("add", "a.c")
    git("commit", "-qm", "base")
    for n in (1, 2):
        (repo / "a.c").write_text((repo / "a.c").read_text() + f"int value_{n} = {n};\n")
        git("commit", "-qam", f"foo: add value {n}\n\nBecause.\n\nSigned-off-by: Jane Doe <jane@example.org>")
    out = tmp_path / "patches"
    git("format-patch", "-q", "-v2", "--cover-letter", "--thread", "-o", str(out), "HEAD~2")
    mbox = tmp_path / "other.mbox"
    mbox.write_text("".join(p.read_text() for p in sorted(out.glob("*.patch"))))
    return mbox


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["diff", *argv])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def test_diff_writes_html_markdown_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "--bundled", "pte-v3", "--bundled", "pte-v1", "--bundled", "pte-v2",
                          "--out", str(tmp_path), "--json")
    assert code == 0
    report = json.loads(out)
    assert [(p["old_revision"], p["new_revision"]) for p in report["pairs"]] == [(1, 2), (2, 3), (1, 3)]
    assert json.loads((tmp_path / "versions.json").read_text()) == report
    html = (tmp_path / "versions.html").read_text()
    md = (tmp_path / "versions.md").read_text()
    assert "mm: remove redundant smp_wmb()" in html and "v2 &rarr; v3" in html
    assert "mm: remove redundant smp\\_wmb()" in md and "## v2 -> v3" in md  # escaped like report.md
    assert "missing from the archive" in html and "missing from the archive" in md
    assert "<script" not in html.lower() and "http://" not in html.split("<body>")[0]
    assert "v1 -> v2: pairing" in err  # progress per step


def test_open_comments_for_the_review_report() -> None:
    series = [assemble_series(load_thread(str(bundled_thread_path(f"pte-v{n}"))).messages) for n in (1, 2)]
    report = version_report(series)
    rows = report["open_comments"]
    assert rows and all(r["status"] == "open" and r["new_revision"] == 2 for r in rows)
    assert {"new_patch", "new_path", "new_line", "text", "evidence"} <= set(rows[0])


def test_mail_text_is_escaped(tmp_path: Path) -> None:
    series = [assemble_series(load_thread(str(bundled_thread_path(f"pte-v{n}"))).messages) for n in (1, 2)]
    report = version_report(series)
    report["pairs"][0]["comments"][0]["text"] = "<script>alert(1)</script> | ~~~~"
    report["pairs"][0]["interdiffs"][0]["text"] = "~~~~\n-<b>x</b>\n"
    report["pairs"][0]["interdiffs"][0]["identical"] = False
    html_path, md_path, _ = write_version_report(report, tmp_path)
    html = html_path.read_text()
    assert "<script>alert" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;b&gt;x&lt;/b&gt;" in html
    md = md_path.read_text()
    # Markdown without entities: a backslash before "<" makes it text (CommonMark), never a tag
    assert "\\<script>alert(1)\\</script> \\| ~~~~" in md and not re.search(r"(?<!\\)<script", md)
    assert "\n ~~~~\n-<b>x</b>" in md  # cannot close the fence


def test_file_paths_from_diffs_are_escaped(tmp_path: Path) -> None:
    """A path in a diff is mail text too: a backtick in it must not end a code span and let HTML in."""
    series = [assemble_series(load_thread(str(bundled_thread_path(f"pte-v{n}"))).messages) for n in (1, 2)]
    report = version_report(series)
    hostile = "mm/x`<img src=x onerror=alert(1)>`.c"
    report["pairs"][0]["comments"][0]["old_path"] = hostile
    report["open_comments"][0]["new_path"] = hostile
    html_path, md_path, _ = write_version_report(report, tmp_path)
    md = md_path.read_text()
    assert not re.search(r"(?<!\\)<img", md) and "<img" not in html_path.read_text()
    assert md.count("mm/x\\`\\<img src=x onerror=alert(1)>\\`.c") == 2


def test_single_version_is_exit_2_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "--bundled", "pte-v2", "--out", str(tmp_path))
    assert code == 2
    assert err.strip().splitlines()[-1] == (
        "reviewtool: error: need at least two revisions of a series to compare, got only v2")
    assert "Traceback" not in err


def test_same_revision_twice_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "--bundled", "pte-v2", "--mbox", str(bundled_thread_path("pte-v2")),
                        "--out", str(tmp_path))
    assert code == 2 and "v2 is given twice" in err


def test_different_series_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    other = _other_series_mbox(tmp_path)
    code, _, err = _run(capsys, "--bundled", "pte-v3", str(other), "--out", str(tmp_path / "out"))
    assert code == 2
    assert "do not look like the same series" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_no_source_and_bad_source(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(capsys, "--out", str(tmp_path))[0] == 2
    code, _, err = _run(capsys, str(tmp_path / "nope.mbox"), "--bundled", "pte-v3")
    assert code == 2 and "no such file" in err


def test_command_line_entry_point(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "reviewtool", "diff", "--bundled", "pte-v2", "--bundled", "pte-v3",
                           "--out", str(tmp_path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["versions.html", "versions.json", "versions.md"]


def test_one_thread_holding_all_revisions_gives_the_same_report(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    combined = tmp_path / "all.mbox"
    combined.write_bytes(b"".join(bundled_thread_path(f"pte-v{n}").read_bytes() for n in (2, 3, 1)))
    code, out, _ = _run(capsys, str(combined), "--out", str(tmp_path / "one"), "--json")
    assert code == 0
    one = json.loads(out)
    code, out, _ = _run(capsys, "--bundled", "pte-v1", "--bundled", "pte-v2", "--bundled", "pte-v3",
                        "--out", str(tmp_path / "three"), "--json")
    three = json.loads(out)
    assert [v["revision"] for v in one["revisions"]] == [1, 2, 3]
    assert one["pairings"] == three["pairings"]
    # replies to v1 are not read as comments on v2 just because they share the file
    assert [p["comments"] for p in one["pairs"]] == [p["comments"] for p in three["pairs"]]


def test_a_huge_revision_number_from_mail_is_refused_at_once(tmp_path: Path) -> None:
    """'[PATCH v99999999999 ...]' made the changelog walk loop over every number between
    (112 s CPU and counting); now the mail guard refuses such a revision (series.mailguard's
    cap) in one line, and the walk itself follows only the revisions cover letters name."""
    import time

    from series.load import bundled_thread_path

    raw = bundled_thread_path("pte-v3").read_bytes().replace(b"PATCH v3 ", b"PATCH v99999999999 ")
    (tmp_path / "huge.mbox").write_bytes(raw)
    start = time.monotonic()
    proc = subprocess.run(["reviewtool", "diff", "--bundled", "pte-v2", str(tmp_path / "huge.mbox"),
                           "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=120, check=False,
                          env={**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"})
    assert time.monotonic() - start < 60  # a hang guard, not a speed target (about 2 s idle)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    (line,) = [l for l in proc.stderr.splitlines() if "error" in l]
    assert "revision v99999999999 is over the cap of 1000" in line


def test_the_changelog_walk_follows_what_the_cover_letters_name() -> None:
    """Defence in depth behind the cap: a jump from v2 to v999 reads the cover's changelog
    entries, not the 997 numbers between."""
    from dataclasses import replace

    from reviewtool.diffreport import changelog_claims
    from series.assemble import assemble_series
    from series.load import bundled_thread_path, load_thread

    v2 = assemble_series(load_thread(str(bundled_thread_path("pte-v2"))).messages)
    v3 = assemble_series(load_thread(str(bundled_thread_path("pte-v3"))).messages)
    far = replace(v3, revision=999)
    assert changelog_claims(v2, far, [v2, far]) == changelog_claims(v2, v3, [v2, v3])
    assert changelog_claims(v2, v3, [v2, v3])  # v3's cover says what changed since v2
