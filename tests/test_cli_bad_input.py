"""Bad input to every command, through the installed `reviewtool` console script.

Each case must end with exit 2 and one line "reviewtool: error: ..." on stderr
(progress lines may come before it), never a Python traceback.  All cases
fail before any kernel tree, worktree or network is used, so none needs the
kernel tree: they are cheap enough to run everywhere.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from series.load import bundled_thread_path

REVIEWTOOL = Path(sys.executable).parent / "reviewtool"
V3 = bundled_thread_path("pte-v3")


def _closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("bad-input")
    (d / "empty.mbox").write_bytes(b"")
    (d / "notmaildir").mkdir()
    (d / "garbage.bin").write_bytes(bytes(range(256)) * 16)
    raw = V3.read_bytes()
    cut = raw.index(b"Subject: [PATCH v3 02/15]")
    (d / "truncated.mbox").write_bytes(raw[: raw.index(b"\n@@ ", cut) + 200])  # cut inside a hunk of 02/15
    (d / "a-file").write_text("not a directory\n")
    (d / "patch.txt").write_text("not C\n")
    (d / "rules.toml").write_text("# no rules\n")
    (d / "out").mkdir()
    return d


MAIL_INPUTS = ["{d}/nonexistent.mbox", "{d}/empty.mbox", "{d}/notmaildir", "{d}/garbage.bin", "{d}/truncated.mbox"]
PORT = _closed_port()
CLOSED = f"http://127.0.0.1:{PORT}/all/%s"

CASES: list[tuple[str, list[str], str]] = [
    *[("show", [src], "") for src in MAIL_INPUTS],
    ("show", ["--bundled", "pte-v3", "--revision", "99"], ""),
    ("show", ["--bundled", "pte-v3", "--timeout", "-1"], ""),
    ("show", ["--bundled", "no-such-thread"], ""),
    ("show", ["not a <message-id>", "--midmask", CLOSED], ""),
    ("show", ["nothing@example.invalid", "--midmask", CLOSED, "--timeout", "3"], ""),
    ("show", ["nothing@example.invalid", "--midmask", "http://127.0.0.1/no-placeholder"], ""),
    ("show", ["nothing@example.invalid", "--midmask", CLOSED, "--timeout", "nan"], "--timeout"),
    ("show", ["nothing@example.invalid", "--midmask", CLOSED, "--timeout", "inf"], "--timeout"),
    ("show", ["nothing@example.invalid", "--midmask", "file:///etc/%s"], "--midmask"),
    ("diff", ["nothing@example.invalid", "--midmask", "%s", "--out", "{d}/out/v"], "--midmask"),
    *[("check", [src, "--no-pairs", "--checkpatch", "/bin/true"], "") for src in MAIL_INPUTS],
    ("check", ["--bundled", "pte-v3", "--jobs", "0"], ""),
    ("check", ["--bundled", "pte-v3", "--revision", "99", "--checkpatch", "/bin/true"], ""),
    ("check", ["--bundled", "pte-v3", "--tree", "{d}/notmaildir"], ""),
    ("check", ["--bundled", "pte-v3", "--tree", "{d}/nonexistent"], ""),
    ("check", ["--bundled", "pte-v3", "--rules", "{d}/garbage.bin"], ""),
    ("check", ["--bundled", "pte-v3", "--rules", "{d}/rules.toml"], ""),
    ("check", ["--bundled", "pte-v3", "--no-pairs", "--checkpatch", "{d}/nonexistent.pl"], ""),
    ("scan", ["{d}/nonexistent.c"], ""),
    ("scan", ["{d}/notmaildir"], ""),
    ("scan", ["{d}/garbage.bin"], ""),
    ("scan", ["{d}/patch.txt"], ""),
    ("scan", ["--jobs", "0", "{d}"], ""),
    ("scan", ["--tree", "{d}/nonexistent", "mm/"], ""),
    ("scan", ["--rules", "{d}/garbage.bin", "{d}"], ""),
    *[("review", [src, "--no-build", "--out", "{d}/out/r"], "") for src in MAIL_INPUTS],
    ("review", ["--bundled", "pte-v3", "--no-build", "--revision", "99", "--out", "{d}/out/r"], ""),
    ("review", ["--bundled", "pte-v3", "--no-build", "--jobs", "0"], ""),
    ("review", ["--bundled", "pte-v3", "--no-build", "--timeout", "-1", "--out", "{d}/out/r"], ""),
    ("review", ["--bundled", "pte-v3", "--no-build", "--out", "{d}/a-file"], "--out"),
    ("review", ["--bundled", "pte-v3", "--no-build", "--out", "{d}/a-file/run"], "--out"),
    ("review", ["--bundled", "pte-v3", "--no-build", "--out", "/proc/reviewtool-qa/run"], "--out"),
    ("review", ["--bundled", "pte-v3", "--no-build", "--cache-dir", "{d}/a-file", "--out", "{d}/out/r"],
     "--cache-dir"),
    ("review", ["--bundled", "pte-v3", "--no-build", "--from", "nobody", "--out", "{d}/out/r"], "--from"),
    ("review", ["--bundled", "pte-v3", "--no-build", "--tree", "{d}/notmaildir", "--out", "{d}/out/r"], "--tree"),
    ("review", ["nothing@example.invalid", "--midmask", CLOSED, "--timeout", "3", "--no-build",
                "--out", "{d}/out/r"], ""),
    *[("diff", [src, "--bundled", "pte-v2", "--out", "{d}/out/v"], "") for src in MAIL_INPUTS],
    ("diff", ["--bundled", "pte-v3", "--out", "{d}/out/v"], "two revisions"),
    ("diff", ["--bundled", "pte-v2", "--bundled", "pte-v3", "--timeout", "-1", "--out", "{d}/out/v"], "--timeout"),
    ("diff", ["--bundled", "pte-v2", "--bundled", "pte-v3", "--out", "{d}/a-file"], "--out"),
    ("diff", ["--bundled", "pte-v2", "--bundled", "pte-v3", "--out", "/proc/reviewtool-qa/v"], "--out"),
    ("diff", ["--bundled", "pte-v2", "--bundled", "pte-v3", "--tree", "{d}/notmaildir", "--out", "{d}/out/v"],
     "--tree"),
    ("diff", ["nothing@example.invalid", "--midmask", CLOSED, "--timeout", "3", "--out", "{d}/out/v"], ""),
    ("b4-check", ["--rules", "{d}/garbage.bin"], ""),
    ("b4-check", ["--no-checkpatch", "--no-pairs"], ""),
]
STDIN = {"b4-check": b""}


def _run(inputs: Path, argv: list[str], stdin: bytes = b"") -> subprocess.CompletedProcess:
    env = {**os.environ, "REVIEWTOOL_CACHE": str(inputs / "cache")}
    return subprocess.run([str(REVIEWTOOL), *[a.format(d=inputs) for a in argv]], input=stdin,
                          capture_output=True, timeout=120, env=env, cwd=inputs)


def _assert_one_error_line(proc: subprocess.CompletedProcess, mentions: str) -> str:
    err = proc.stderr.decode(errors="replace")
    assert "Traceback" not in err, err
    assert proc.returncode == 2, (proc.returncode, err)
    errors = [line for line in err.splitlines() if line.startswith("reviewtool: error:")]
    assert len(errors) == 1 and err.rstrip("\n").splitlines()[-1] == errors[0], err
    assert mentions in errors[0]
    return errors[0]


@pytest.mark.parametrize(("command", "argv", "mentions"), CASES,
                         ids=[f"{c}:{' '.join(a)}"[:90] for c, a, _ in CASES])
def test_bad_input_is_one_line_and_exit_2(inputs: Path, command: str, argv: list[str], mentions: str) -> None:
    proc = _run(inputs, [command, *argv], STDIN.get(command, b""))
    _assert_one_error_line(proc, mentions)


@pytest.mark.parametrize(("name", "mentions"), [("empty.mbox", ""), ("garbage.bin", ""), ("a-file", ""),
                                              ("truncated.mbox", "holds 3 mails")])
def test_b4_check_bad_mail_on_stdin(inputs: Path, name: str, mentions: str) -> None:
    """b4 gives one patch mail; an mbox must not be read as one mail holding every patch."""
    proc = _run(inputs, ["b4-check", "--no-pairs", "--checkpatch", "/bin/true"], (inputs / name).read_bytes())
    _assert_one_error_line(proc, mentions)


def test_b4_check_patch_mail_cut_in_a_hunk(inputs: Path) -> None:
    raw = V3.read_bytes()
    start = raw.rindex(b"From mboxrd", 0, raw.index(b"Subject: [PATCH v3 02/15]"))
    mail = raw[start: raw.index(b"\n@@ ", start) + 200]
    proc = _run(inputs, ["b4-check", "--no-checkpatch"], mail)
    _assert_one_error_line(proc, "")


def test_bad_review_options_fail_before_the_thread_is_read(inputs: Path) -> None:
    """A bad --out, --cache-dir or --from is told at once, not after minutes of apply and builds."""
    for option, value in (("--out", "a-file"), ("--cache-dir", "a-file"), ("--from", "nobody")):
        proc = _run(inputs, ["review", "--bundled", "pte-v3", "--no-build", option, value])
        line = _assert_one_error_line(proc, option)
        assert "reading" not in proc.stderr.decode(), line


def test_output_cut_short_by_the_reader_is_no_traceback(inputs: Path) -> None:
    """`reviewtool show --json | head -3` is how people look at the start of a long output."""
    proc = subprocess.run(f"'{REVIEWTOOL}' show --bundled pte-v3 --json | head -3", shell=True,
                          capture_output=True, timeout=120, cwd=inputs)
    assert proc.stdout.decode().splitlines()[0] == "{"
    assert "Traceback" not in proc.stderr.decode() and "Broken pipe" not in proc.stderr.decode(), proc.stderr


def _patch_mail(counter: str) -> bytes:
    raw = V3.read_bytes()
    start = raw.rindex(b"From mboxrd", 0, raw.index(f"Subject: [PATCH v3 {counter}]".encode()))
    return raw[start: raw.index(b"From mboxrd", start + 10)]


def test_b4_check_tree_that_is_not_git(inputs: Path) -> None:
    proc = _run(inputs, ["b4-check", "--tree", "{d}/notmaildir"], _patch_mail("02/15"))
    _assert_one_error_line(proc, "not a git repository")


@pytest.mark.kernel
def test_review_base_that_is_not_in_the_tree(inputs: Path, kernel_tree: Path) -> None:
    """Needs a kernel tree to look the ref up, and fails before any worktree is made."""
    proc = _run(inputs, ["review", "--bundled", "pte-v3", "--no-build", "--base", "no-such-ref",
                         "--tree", str(kernel_tree), "--out", "{d}/out/base"])
    _assert_one_error_line(proc, "--base no-such-ref")
    assert not (inputs / "out" / "base" / "worktree").exists()


def test_a_tool_failing_with_several_lines_is_still_one_line(inputs: Path) -> None:
    """A tool's stderr quoted in the message (here a checkpatch.pl that dies) must not spill over lines."""
    (inputs / "dying-checkpatch.pl").write_text('print STDERR "first problem\\r\\nsecond problem\\n"; exit 2;\n')
    proc = _run(inputs, ["check", "--bundled", "pte-v3", "--no-pairs", "--checkpatch", "{d}/dying-checkpatch.pl"])
    err = proc.stderr.decode()
    assert proc.returncode == 3 and "Traceback" not in err
    assert err.splitlines()[-1].startswith("reviewtool: failed: ") and "first problem second problem" in err
    assert not [line for line in err.splitlines() if line.startswith("second problem")]
