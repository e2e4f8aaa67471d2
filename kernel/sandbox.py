"""Run code from a patched tree (make, the tree's own scripts) under bubblewrap, with limits.

A patch from a list can change any Makefile, Kconfig or script, and Kbuild
runs them; so every command that executes the tree's code goes through
`Sandbox.run`:

- bwrap: no network (its own, empty net namespace), its own PID, IPC and UTS
  namespaces, the root file system read-only, a private /tmp, the user's home
  directory replaced by an empty one, writable only the paths the caller
  names (the worktree, the O= directory, the ccache directory), no
  capabilities even when run as root, an environment of only what a build
  needs, and killed with its parent (--die-with-parent).
- Limits: per process CPU time (the run's timeout), file size, address space
  and no core files (prlimit, inherited by every child), the wall time (the
  run's timeout: the whole sandbox is killed), and the number of processes.
  RLIMIT_NPROC counts every process of the real user, and the kernel never
  enforces it for root; so the process limit is a `pids` cgroup where one can
  be made (root), else RLIMIT_NPROC above the user's current count.

`Sandbox(enabled=False)` (the user's explicit --no-sandbox) runs the command
as before: the user's environment, no isolation, no limits.
"""
from __future__ import annotations

import functools
import itertools
import math
import os
import pwd
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

from kernel.errors import KernelToolError

BWRAP = "bwrap"
BUBBLEWRAP = "bubblewrap"
NO_SANDBOX = "none (--no-sandbox)"
HOW_TO_FIX = ("install bubblewrap (apt-get install bubblewrap) and allow user namespaces "
              "(sysctl kernel.unprivileged_userns_clone=1 user.max_user_namespaces=10000), "
              "or pass --no-sandbox to run the patched tree's code as yourself, unconfined")
_PATH = "/usr/local/bin:/usr/bin:/bin"
_counter = itertools.count()


@dataclass(frozen=True)
class Limits:
    """Per sandbox run. A kernel build writes files of at most a few hundred MB (vmlinux with
    debug info) and runs -jN compilers of at most ~1 GB each."""

    file_bytes: int = 4 << 30
    memory_bytes: int = 8 << 30  # address space of one process
    procs: int = 1024  # processes and threads of the whole run


@dataclass
class Run:
    returncode: int
    stdout: str  # with stderr in it when the caller merged them
    stderr: str
    duration_s: float
    timed_out: bool


@dataclass(frozen=True)
class Sandbox:
    """How code from the patched tree runs: under bubblewrap, or (only when asked) unconfined."""

    enabled: bool = True
    limits: Limits = field(default_factory=Limits)

    @property
    def label(self) -> str:
        """What results.json records in meta.sandbox."""
        return BUBBLEWRAP if self.enabled else NO_SANDBOX

    def require(self) -> None:
        """Refuse (KernelToolError, exit 3: the machine lacks a tool) when bubblewrap cannot run."""
        if self.enabled and (problem := bwrap_problem()):
            raise KernelToolError(f"cannot sandbox the build ({problem}): {HOW_TO_FIX}")

    def run(self, cmd: Sequence[str], *, cwd: Path, env: dict[str, str], timeout_s: float | None,
            writable: Sequence[Path] = (), readable: Sequence[Path] = (),
            merge_stderr: bool = False) -> Run:
        """Run `cmd` in `cwd`; `env` is added to a clean build environment (to the user's with
        --no-sandbox). `readable` are paths under the hidden /tmp or home the command reads.
        On timeout the whole sandbox is killed and Run.timed_out is set."""
        if not self.enabled:
            return _run(list(cmd), cwd, {**os.environ, **env}, timeout_s, merge_stderr)
        self.require()
        with _pids_cgroup(self.limits.procs) as procs_file:
            argv = [*_rlimits(self.limits, timeout_s, procs_file is None),
                    *bwrap_args(cwd, env, writable, readable), "--", *cmd]
            if procs_file is not None:
                # Into the cgroup before exec, so no child starts outside it; the path is ours, not mail's.
                argv = ["sh", "-c", 'echo $$ > "$0" && exec "$@"', str(procs_file), *argv]
            return _run(argv, cwd, {"PATH": _user_path()}, timeout_s, merge_stderr)


def bwrap_args(cwd: Path, env: dict[str, str], writable: Sequence[Path], readable: Sequence[Path]) -> list[str]:
    """The bwrap options for one run (order matters: later mounts go on top of earlier ones)."""
    homes = list(dict.fromkeys(p for p in (os.environ.get("HOME"), _passwd_home()) if p and p != "/"))
    args = [BWRAP, "--die-with-parent", "--new-session", "--unshare-net", "--unshare-pid",
            "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try", "--cap-drop", "ALL",
            "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]
    for home in homes:
        args += ["--tmpfs", home]
    hidden = [Path("/tmp"), *map(Path, homes)]
    if any(cwd.is_relative_to(h) for h in hidden) and not any(cwd.is_relative_to(p) for p in [*readable, *writable]):
        readable = [*readable, cwd]  # bwrap must be able to chdir there
    for kind, paths in (("--ro-bind", readable), ("--bind", writable)):
        for path in _with_targets(paths):
            args += [kind, str(path), str(path)]
    args += ["--chdir", str(cwd), "--clearenv"]
    clean = {"PATH": _user_path(), "HOME": homes[0] if homes else "/tmp",
             "TMPDIR": "/tmp", "LANG": "C", "TERM": "dumb", **env}
    for key, value in clean.items():
        args += ["--setenv", key, value]
    return args


@functools.cache
def bwrap_problem() -> str:
    """'' when bwrap can make the sandbox here, else why not (checked once per process)."""
    if shutil.which(BWRAP) is None:
        return "bwrap is not on PATH"
    probe = [*bwrap_args(Path("/"), {}, [], []), "--", "true"]
    try:
        proc = subprocess.run(probe, capture_output=True, text=True, timeout=30, env={"PATH": _user_path()})
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bwrap does not run: {exc}"
    if proc.returncode:
        return "bwrap fails: " + (proc.stderr.strip().splitlines() or ["?"])[-1]
    return ""


def _user_path() -> str:
    """The user's PATH: bwrap, prlimit and the compilers are found where the user has them."""
    return os.environ.get("PATH") or _PATH


def _rlimits(limits: Limits, timeout_s: float | None, nproc: bool) -> list[str]:
    args = ["prlimit", f"--fsize={limits.file_bytes}", f"--as={limits.memory_bytes}", "--core=0"]
    if timeout_s is not None:
        args.append(f"--cpu={math.ceil(timeout_s)}")
    if nproc:  # counts all of the user's tasks, so above what is running now
        args.append(f"--nproc={_user_tasks() + limits.procs}")
    return [*args, "--"]


def _user_tasks() -> int:
    uid, count = os.getuid(), 0
    for entry in os.scandir("/proc"):
        try:
            if entry.name.isdigit() and entry.stat().st_uid == uid:
                count += len(os.listdir(f"/proc/{entry.name}/task"))
        except OSError:  # gone meanwhile
            continue
    return count


@contextmanager
def _pids_cgroup(limit: int) -> Iterator[Path | None]:
    """A fresh pids cgroup with pids.max = limit (its cgroup.procs file), or None where none can
    be made (not root, or no pids controller): then RLIMIT_NPROC is the limit. Every process
    left in it is killed on exit."""
    parent = _pids_cgroup_parent() if os.geteuid() == 0 else None
    if parent is None:
        yield None
        return
    group = parent / f"reviewtool-{os.getpid()}-{next(_counter)}"
    try:
        group.mkdir()
        (group / "pids.max").write_text(f"{limit}\n")
    except OSError:
        with suppress(OSError):
            group.rmdir()
        yield None
        return
    try:
        yield group / "cgroup.procs"
    finally:
        for _ in range(100):  # a fork bomb may still be forking while we kill
            pids = [int(p) for p in (group / "cgroup.procs").read_text().split()]
            if not pids:
                break
            for pid in pids:
                with suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.05)
        with suppress(OSError):
            group.rmdir()


@functools.cache
def _pids_cgroup_parent() -> Path | None:
    """Our own cgroup in the pids hierarchy (v1 `pids`, else v2 with the pids controller)."""
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _hier, controllers, path = line.split(":", 2)
        if "pids" in controllers.split(","):
            base = Path("/sys/fs/cgroup/pids")
        elif controllers == "" and "pids" in _read("/sys/fs/cgroup/cgroup.controllers").split():
            base = Path("/sys/fs/cgroup")
        else:
            continue
        parent = base / path.lstrip("/")
        if parent.is_dir() and os.access(parent, os.W_OK):
            return parent
    return None


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def _with_targets(paths: Sequence[Path]) -> list[Path]:
    """`paths` and, for a symlink among them (a tree linked into the cache), its target too:
    a command given the resolved path must find it under the hidden home as well."""
    return list(dict.fromkeys(p for path in paths for p in (Path(path), Path(path).resolve())))


def _passwd_home() -> str | None:
    try:
        return pwd.getpwuid(os.getuid()).pw_dir
    except KeyError:
        return None


def _run(argv: list[str], cwd: Path, env: dict[str, str], timeout_s: float | None, merge_stderr: bool) -> Run:
    """Popen in a session of its own, so a timeout kills it and everything under it."""
    start = time.monotonic()
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT if merge_stderr else subprocess.PIPE,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout_s)
        timed_out = False
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        timed_out = True
    except BaseException:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise
    return Run(proc.returncode, out.decode("utf-8", "replace"), (err or b"").decode("utf-8", "replace"),
               time.monotonic() - start, timed_out)
