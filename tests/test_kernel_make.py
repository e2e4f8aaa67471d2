"""A make run past its time limit is killed with everything under it, and reported."""
from __future__ import annotations

import time
from pathlib import Path

from kernel.make import Make
from kernel.matrix import load_arch


def test_timeout_kills_the_whole_build(tmp_path: Path) -> None:
    (tmp_path / "Makefile").write_text("all:\n\tsleep 60 & echo $$! > pid; wait\n")
    make = Make(tmp_path, tmp_path / "out", load_arch("x86_64"), ccache=False)
    start = time.monotonic()
    run = make.run(["all"], timeout_s=2)
    assert run.timed_out and time.monotonic() - start < 20
    stat = Path(f"/proc/{(tmp_path / 'pid').read_text().strip()}/stat")
    time.sleep(0.5)
    # The recipe's background sleep is killed too (gone, or a zombie awaiting its reaper).
    assert not stat.exists() or stat.read_text().split(") ")[1][0] == "Z"
