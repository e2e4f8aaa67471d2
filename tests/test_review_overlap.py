"""Two `review` runs at once on one cache and tree, building the same arch/config.

They share the O= directory of x86_64/mm-off, which only one make may use at a
time: the test holds its lock first, so both runs must reach it and wait (with
a message), then build one after the other. Both must finish with the same
results, which are the ones this two-patch series is known to give; the second
builds its base from what the first left for this base (no second vmlinux).
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import series_mbox
from tests.test_kernel_build import EDITS

pytestmark = pytest.mark.kernel
WAITING = "x86_64/mm-off: waiting for another run building in"


def _without_run_specifics(build: list[dict]) -> list[dict]:
    """The build results without what differs between two equal runs: durations, and the
    warning count of the tip's incremental vmlinux (it prints only what it recompiled)."""
    def clean(r: dict | None, *also: str) -> dict | None:
        return r and {k: v for k, v in r.items() if k not in ("duration_s", *also)}
    return [{**b, "base": clean(b["base"]), "patches": [clean(p) for p in b["patches"]],
             "tip": clean(b["tip"], "warnings_total")} for b in build]


def test_two_reviews_at_once_share_the_build_directory_in_turn(kernel_tree: Path, tmp_path: Path) -> None:
    mbox = tmp_path / "series.mbox"
    head = series_mbox(kernel_tree, [EDITS[0], EDITS[3]], mbox)  # clean, then a new W=1 warning
    cache = tmp_path / "cache"
    out_dir = cache / "builds" / hashlib.sha256(str(kernel_tree.resolve()).encode()).hexdigest()[:12] / "x86_64-mm-off"
    out_dir.parent.mkdir(parents=True)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}

    procs, logs = [], []
    with open(out_dir.parent / "x86_64-mm-off.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # as if a third run were building there
        try:
            for name in ("a", "b"):
                logs.append(tmp_path / f"{name}.stderr")
                procs.append(subprocess.Popen(
                    ["reviewtool", "review", "--mbox", str(mbox), "--tree", str(kernel_tree), "--base", head,
                     "--arch", "x86_64", "--config", "mm-off", "--no-checks", "--from", "R <r@example.org>",
                     "--cache-dir", str(cache), "--out", str(tmp_path / name)],
                    stdout=subprocess.DEVNULL, stderr=logs[-1].open("w"), env=env))
            deadline = time.monotonic() + 900
            while not all(WAITING in log.read_text() for log in logs):
                assert all(p.poll() is None for p in procs), [log.read_text()[-2000:] for log in logs]
                assert time.monotonic() < deadline, "the runs never reached the build directory"
                time.sleep(0.5)
            fcntl.flock(lock, fcntl.LOCK_UN)
            for p in procs:
                p.wait(timeout=1800)
        finally:
            for p in procs:
                if p.poll() is None:  # failed or timed out: leave no review (and its makes) behind
                    p.send_signal(signal.SIGINT)
                    p.wait(timeout=120)

    stderrs = [log.read_text() for log in logs]
    assert [p.returncode for p in procs] == [1, 1], [s[-3000:] for s in stderrs]  # 1: the new warning
    results = [json.loads((tmp_path / name / "results.json").read_text()) for name in ("a", "b")]
    builds = [_without_run_specifics(r["build"]) for r in results]
    assert builds[0] == builds[1]
    (only,) = builds[0]
    assert (only["arch"], only["config"], only["base"]["status"], only["base"]["target"]) == (
        "x86_64", "mm-off", "ok", "vmlinux")
    assert [(p["patch"], p["status"], p["objects"]) for p in only["patches"]] == [
        (1, "ok", ["mm/mremap.o"]), (2, "new-warnings", ["kernel/irq/irqdomain.o"])]
    assert only["tip"]["status"] == "ok"  # the new warning is patch 2's; the tip adds no new one
    # The base vmlinux was linked once: the run that came second knew its messages.
    assert sum("build x86_64/mm-off: base (vmlinux)" in s for s in stderrs) == 1, stderrs
    assert sum("base known from an earlier series" in s for s in stderrs) == 1, stderrs
    for r in results:
        stages = {t["stage"]: t for t in r["timings"]}
        assert {"thread", "series", "apply", "builds", "build x86_64/mm-off", "report", "drafts"} <= set(stages)
        assert stages["builds"]["seconds"] > 0 and "ccache" in stages["build x86_64/mm-off"]["detail"]
