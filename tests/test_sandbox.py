"""kernel.sandbox on small commands, with the real bwrap: what a build inside can and cannot do.

The kernel-backed attacks are in test_sandbox_build.py; these check each
property alone, in a second or two.
"""
from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import pytest

from kernel.errors import KernelToolError
from kernel.sandbox import HOW_TO_FIX, Limits, Sandbox, bwrap_problem


def _sh(script: str, cwd: Path, sandbox: Sandbox = Sandbox(), timeout_s: float = 30, **kw):
    return sandbox.run(["sh", "-c", script], cwd=cwd, env={"RT_GIVEN": "yes"}, timeout_s=timeout_s,
                       merge_stderr=True, **kw)


def test_bwrap_works_here() -> None:
    assert bwrap_problem() == ""


def test_only_the_named_paths_are_writable_and_home_is_empty(tmp_path: Path, monkeypatch) -> None:
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_ed25519").write_text("secret")
    work = home / "work"  # a worktree under $HOME stays reachable when named
    work.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    monkeypatch.setenv("HOME", str(home))
    run = _sh(f'cat "$HOME/.ssh/id_ed25519"; echo x > {outside}/f; echo x > /usr/rt-f; echo x > "$HOME/f"; '
              f'echo ok > {work}/f; ls -A "$HOME"; echo home=$HOME', work, writable=[work])
    assert run.returncode == 0, run.stdout
    assert "secret" not in run.stdout and "No such file" in run.stdout
    assert run.stdout.count("cannot create") == 2  # outside/f (hidden with /tmp) and /usr/rt-f (read-only)
    assert (work / "f").read_text() == "ok\n"
    assert not (outside / "f").exists() and not (home / "f").exists() and not Path("/usr/rt-f").exists()
    assert f"home={home}" in run.stdout


def test_tmp_is_private_and_readable_paths_are_read_only(tmp_path: Path) -> None:
    given = tmp_path / "given"
    given.mkdir()
    (given / "in").write_text("data")
    run = _sh(f"cat {given}/in; echo x > {given}/out; ls /tmp | wc -l; echo y > /tmp/rt-private", Path("/"),
              readable=[given])
    assert run.stdout.startswith("data") and "Read-only file system" in run.stdout
    assert run.stdout.splitlines()[-1].strip() == "1"  # /tmp holds only the named path's parent
    assert not Path("/tmp/rt-private").exists()


def test_a_named_symlink_is_reachable_by_its_target_path_too(tmp_path: Path, monkeypatch) -> None:
    """A tree linked into the cache (the benchmark's, a user's --tree symlink): its scripts are
    run by their resolved path, which must not be hidden with the home."""
    home = tmp_path / "home"
    tree = home / "trees" / "linux"
    (tree / "scripts").mkdir(parents=True)
    (tree / "scripts" / "checkpatch.pl").write_text("print")
    link = home / "cache" / "linux"
    link.parent.mkdir()
    link.symlink_to(tree)
    monkeypatch.setenv("HOME", str(home))
    run = _sh(f"cat {tree}/scripts/checkpatch.pl; echo; cat {link}/scripts/checkpatch.pl; echo; ls $HOME",
              Path("/"), readable=[link])
    assert run.returncode == 0, run.stdout
    assert run.stdout.split() == ["print", "print", "cache", "trees"]


def test_no_network_not_even_loopback_of_the_host(tmp_path: Path) -> None:
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(1)
    try:
        code = f"import socket; socket.create_connection(('127.0.0.1', {server.getsockname()[1]}), 3)"
        run = Sandbox().run(["python3", "-c", code], cwd=tmp_path, env={}, timeout_s=30, merge_stderr=True)
        assert run.returncode != 0 and "ConnectionRefusedError" in run.stdout
        with pytest.raises(TimeoutError):
            server.accept()
    finally:
        server.close()


def test_clean_environment_and_no_capabilities(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("RT_SECRET_TOKEN", "leak")
    run = _sh("env; grep CapEff /proc/self/status; ps -e | wc -l", tmp_path)
    assert "RT_SECRET_TOKEN" not in run.stdout and "RT_GIVEN=yes" in run.stdout
    assert "CapEff:\t0000000000000000" in run.stdout
    assert int(run.stdout.splitlines()[-1]) < 10  # its own PID namespace: only its own processes


def test_limits_file_size_and_processes(tmp_path: Path) -> None:
    sandbox = Sandbox(limits=Limits(file_bytes=1 << 20, procs=32))
    run = _sh(f"dd if=/dev/zero of={tmp_path}/big bs=64k count=100 2>&1; echo dd=$?", tmp_path, sandbox,
              writable=[tmp_path])
    assert "dd=153" in run.stdout  # 128 + SIGXFSZ
    assert (tmp_path / "big").stat().st_size == 1 << 20
    run = _sh("for i in $(seq 64); do sleep 5 & done; wait", tmp_path, sandbox, timeout_s=20)
    assert "cannot fork" in run.stdout.lower(), run.stdout


def test_wall_time_kills_the_whole_sandbox(tmp_path: Path) -> None:
    marker = f"{300 + os.getpid() % 1000 / 1000:.3f}"  # a sleep argument no other process has
    run = _sh(f"sleep {marker} & sleep {marker}", tmp_path, timeout_s=1)
    assert run.timed_out and run.duration_s < 10
    left = subprocess.run(["pgrep", "-f", f"^sleep {marker}$"], capture_output=True, text=True).stdout.split()
    assert left == []


def test_without_bwrap_it_refuses_in_one_line_and_no_sandbox_runs(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no bwrap (nor anything else) on PATH
    bwrap_problem.cache_clear()
    try:
        with pytest.raises(KernelToolError) as refused:
            Sandbox().require()
        assert str(refused.value) == f"cannot sandbox the build (bwrap is not on PATH): {HOW_TO_FIX}"
        run = Sandbox(enabled=False).run(["/bin/sh", "-c", "echo $RT_GIVEN"], cwd=tmp_path, env={"RT_GIVEN": "yes"},
                                         timeout_s=10)
        assert run.stdout == "yes\n" and Sandbox(enabled=False).label == "none (--no-sandbox)"
    finally:
        bwrap_problem.cache_clear()
