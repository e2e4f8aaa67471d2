"""A bug inside a stage is exit 3 with one line and a crash log, never a traceback and exit 1."""
from __future__ import annotations

from pathlib import Path

import pytest

from reviewtool import cli, pipeline


def _explode(*_args: object) -> None:
    raise RuntimeError("boom\nsecond line")


def test_unexpected_exception_in_a_stage_is_exit_3_with_the_traceback_in_the_run_dir(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(pipeline, "load_comments", _explode)
    out = tmp_path / "run"
    code = cli.main(["review", "--bundled", "pte-v3", "--no-build", "--from", "R <r@example.org>",
                     "--out", str(out), "--cache-dir", str(tmp_path / "cache")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 3
    assert err[-1].startswith("reviewtool: internal error: boom second line; please report it with ")
    assert not any("Traceback" in line for line in err)
    (log,) = out.glob("crash-*.log")
    assert err[-1].endswith(str(log))
    text = log.read_text()
    assert "Traceback" in text and "RuntimeError: boom" in text and "_explode" in text


def test_without_a_run_dir_the_log_goes_to_the_cache(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from reviewtool.commands import show

    monkeypatch.setenv("REVIEWTOOL_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(show, "series_from_args", _explode)
    assert cli.main(["show", "--bundled", "pte-v1"]) == 3
    (log,) = (tmp_path / "cache" / "crashes").glob("crash-*.log")
    assert "RuntimeError: boom" in log.read_text()
    assert str(log) in capsys.readouterr().err
