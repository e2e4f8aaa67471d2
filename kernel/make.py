"""Run Kbuild's make for one arch and O= directory, with a time limit.

Every call uses the same variables (ARCH, CROSS_COMPILE, W=1, CC), so Kbuild
never rebuilds an object only because the command line changed between the
query, the base build and the patch builds.  `-O` keeps each target's output
together, so messages can be tied to the object that printed them.  make runs
the patched tree's Makefiles and scripts, so it runs in kernel.sandbox.
"""
from __future__ import annotations

import functools
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from kernel.matrix import Arch
from kernel.sandbox import Sandbox


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
    sandbox: Sandbox = field(default_factory=Sandbox)
    env: dict[str, str] = field(default_factory=dict)  # added to the environment, e.g. CCACHE_STATSLOG

    def command(self, goals: list[str], *options: str) -> list[str]:
        cmd = ["make", "-C", str(self.src), f"O={self.out}", f"-j{self.jobs}", "-O",
               *self.arch.make_vars(), *self.extra]
        if self.ccache and shutil.which("ccache"):
            cmd.append(f"CC=ccache {self.arch.gcc}")
        return [*cmd, *options, *goals]

    def run(self, goals: list[str], *options: str, timeout_s: float | None = None) -> MakeRun:
        return self.run_tool(self.command(goals, *options), timeout_s=timeout_s)

    def run_tool(self, cmd: list[str], timeout_s: float | None = None) -> MakeRun:
        """Run make or one of the tree's own scripts in the sandbox, writable only the
        worktree, the O= dir and the ccache dir."""
        # Kbuild unexports LC_ALL; LANG/LC_MESSAGES=C give gcc's plain-ASCII quotes.
        env = {"LANG": "C", "LC_MESSAGES": "C", "LC_CTYPE": "C", **self.env}
        self.out.mkdir(parents=True, exist_ok=True)
        writable = [self.src, self.out]
        if self.ccache and (cache_dir := ccache_dir()):
            env.update(CCACHE_DIR=str(cache_dir), CCACHE_BASEDIR=str(self.src), CCACHE_NOHASHDIR="1")
            writable.append(cache_dir)
        run = self.sandbox.run(cmd, cwd=self.src, env=env, timeout_s=timeout_s, writable=writable,
                               merge_stderr=True)
        return MakeRun(run.returncode, run.stdout, run.duration_s, run.timed_out)


@functools.cache
def ccache_dir() -> Path | None:
    """ccache's cache directory (made if missing), or None without ccache."""
    if not shutil.which("ccache"):
        return None
    proc = subprocess.run(["ccache", "--get-config", "cache_dir"], capture_output=True, text=True, check=False)
    if proc.returncode or not proc.stdout.strip():
        return None
    path = Path(proc.stdout.strip())
    path.mkdir(parents=True, exist_ok=True)
    return path
