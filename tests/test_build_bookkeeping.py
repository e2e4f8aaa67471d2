"""What the builds keep beside the compilers: ccache's hit rate per O= dir, the base's
messages per object, the stage timings. Small inputs, the real ccache and gcc."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from kernel.build import BaseStore, _makes_killed_on_interrupt
from kernel.ccachestats import read_stats, stats_log
from kernel.model import Diagnostic
from reviewtool.timing import Timings


def test_ccache_hit_rate_counts_only_the_compilations_logged_for_this_dir(tmp_path: Path) -> None:
    (tmp_path / "a.c").write_text("int f(void) { return 1; }\n")
    out = tmp_path / "O"
    out.mkdir()
    env = {**os.environ, "CCACHE_DIR": str(tmp_path / "ccache"), "CCACHE_STATSLOG": str(stats_log(out))}
    for _ in range(3):  # one miss, then two hits
        subprocess.run(["ccache", "gcc", "-c", "a.c", "-o", "a.o"], cwd=tmp_path, env=env, check=True)
    subprocess.run(["ccache", "gcc", "-c", "a.c", "-o", "b.o"], cwd=tmp_path, check=True,
                   env={**env, "CCACHE_STATSLOG": str(tmp_path / "other.log")})  # another build's
    stats = read_stats(stats_log(out))
    assert (stats.hits, stats.misses) == (2, 1)
    assert stats.describe() == "ccache 2/3 hits (67%)"
    assert read_stats(tmp_path / "no-such.log") is None


def test_base_store_keeps_messages_per_object_for_one_base_only(tmp_path: Path) -> None:
    warning = Diagnostic("mm/a.c", 3, 1, "warning", "unused variable 'x'", "-Wunused-variable")
    store = BaseStore("key-1")
    store.add(["mm/a.o", "mm/b.o"], {"mm/a.o": [warning]}, ["mm/b.o"])
    store.save(tmp_path)

    again = BaseStore.load(tmp_path, "key-1")
    assert again.known("mm/a.o") and again.known("mm/b.o") and not again.known("mm/c.o")
    assert again.baseline(["mm/a.o", "mm/c.o"]) == ({"mm/a.o": [warning]}, [])
    assert again.baseline(["mm/b.o"]) == ({}, ["mm/b.o"])
    assert not BaseStore.load(tmp_path, "key-2").built  # another base: nothing known
    (tmp_path / ".reviewtool-base.json").write_text("{not json")
    assert BaseStore.load(tmp_path, "key-1") == BaseStore("key-1")  # damaged: nothing known


def test_timings_record_a_stage_also_when_it_fails() -> None:
    timings = Timings()
    with timings.stage("apply") as clock:
        clock.detail = "3 of 14 cached"
    try:
        with timings.stage("build x86_64/mm-off"):
            raise RuntimeError("make died")
    except RuntimeError:
        pass
    assert [(t.stage, t.detail) for t in timings.stages] == [
        ("apply", "3 of 14 cached"), ("build x86_64/mm-off", "")]
    assert all(t.seconds >= 0 for t in timings.stages)
    assert timings.summary()[0].startswith("apply ") and timings.summary()[0].endswith("3 of 14 cached")


def test_ctrl_c_kills_the_makes_running_in_other_threads() -> None:
    make = subprocess.Popen(["sleep", "60"], start_new_session=True)  # as kernel.make starts make
    other = subprocess.Popen(["sleep", "60"])  # e.g. a git command: not ours to kill here
    try:
        with pytest.raises(KeyboardInterrupt), _makes_killed_on_interrupt():
            raise KeyboardInterrupt
        assert make.wait(timeout=10) == -9
        assert other.poll() is None
    finally:
        for proc in (make, other):
            proc.kill()
            proc.wait()
