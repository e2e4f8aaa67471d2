"""Run Kbuild's make for one arch and O= directory, with a time limit.

Every call uses the same variables (ARCH, CROSS_COMPILE, W=1, CC), so Kbuild
never rebuilds an object only because the command line changed between the
query, the base build and the patch builds.  `-O` keeps each target's output
together, so messages can be tied to the object that printed them.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from kernel.matrix import Arch


@dataclass
class MakeRun:
    returncode: int
    output: str  # stdout and stderr together, in order
    duration_s: float
    timed_out: bool


@dataclass
class Make:
    src: Path  # the worktree
    out: Path  # O= directory
    arch: Arch
    jobs: int = 2
    ccache: bool = True
    extra: tuple[str, ...] = ("W=1",)
    env: dict[str, str] = field(default_factory=dict)  # added to the environment, e.g. CCACHE_STATSLOG

    def command(self, goals: list[str], *options: str) -> list[str]:
        cmd = ["make", "-C", str(self.src), f"O={self.out}", f"-j{self.jobs}", "-O",
               *self.arch.make_vars(), *self.extra]
        if self.ccache and shutil.which("ccache"):
            cmd.append(f"CC=ccache {self.arch.gcc}")
        return [*cmd, *options, *goals]

    def run(self, goals: list[str], *options: str, timeout_s: float | None = None) -> MakeRun:
        # Kbuild unexports LC_ALL; LANG/LC_MESSAGES=C give gcc's plain-ASCII quotes.
        env = {**os.environ, "LANG": "C", "LC_MESSAGES": "C", "LC_CTYPE": "C",
               "CCACHE_BASEDIR": str(self.src), "CCACHE_NOHASHDIR": "1", **self.env}
        start = time.monotonic()
        # A session of its own, so a timeout kills make and every compiler under it.
        proc = subprocess.Popen(self.command(goals, *options), stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=env, start_new_session=True)
        try:
            output, _ = proc.communicate(timeout=timeout_s)
            timed_out = False
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            output, _ = proc.communicate()
            timed_out = True
        except BaseException:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise
        return MakeRun(proc.returncode, output.decode("utf-8", "replace"),
                       time.monotonic() - start, timed_out)
