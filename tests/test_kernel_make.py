"""A make run past its time limit is killed with everything under it, and reported,
in the sandbox and without it (--no-sandbox)."""
from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from kernel.make import Make
from kernel.matrix import load_arch
from kernel.sandbox import Sandbox


def _processes_with(arg: str) -> list[int]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            state = Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0]
        except OSError:
            continue
        if arg.encode() in cmdline and state != "Z":  # a zombie only awaits its reaper
            found.append(int(pid))
    return found


@pytest.mark.parametrize("sandboxed", [True, False], ids=["bubblewrap", "no-sandbox"])
def test_timeout_kills_the_whole_build(tmp_path: Path, sandboxed: bool) -> None:
    marker = f"{60 + os.getpid() % 1000 / 1000:.3f}"  # a sleep argument no other process has
    (tmp_path / "Makefile").write_text(f"all:\n\tsleep {marker} & wait\n")
    make = Make(tmp_path, tmp_path / "out", load_arch("x86_64"), ccache=False, sandbox=Sandbox(sandboxed))
    start = time.monotonic()
    run = make.run(["all"], timeout_s=2)
    assert run.timed_out and time.monotonic() - start < 20
    time.sleep(0.5)
    assert _processes_with(marker) == []  # the recipe's background sleep is killed too
