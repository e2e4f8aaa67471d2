"""Builds as Dask tasks on a real `dask scheduler` and two `dask worker` processes on 127.0.0.1
(tests/dask_cluster.py), each worker with a cache of its own standing in for a machine."""
from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from kernel.worktree import worktree_git
from tests.conftest import commit_edits
from tests.dask_cluster import ENV, Cluster, free_port, reviewtool

pytestmark = pytest.mark.kernel
EDITS = [
    ("mm/mremap: a harmless comment",
     {"mm/mremap.c": ("#include <linux/mm.h>\n", "#include <linux/mm.h>\n/* a harmless comment */\n")}),
    # PAGE_KERNEL_NOENC exists on x86 only: an error on arm64 alone.
    ("mm/mprotect: x86-only helper",
     {"mm/mprotect.c": ("", "\nstatic inline pgprot_t rt_noenc_prot(void)\n{\n\treturn PAGE_KERNEL_NOENC;\n}\n")}),
    # one line only arm64 compiles, one only x86_64, one neither: the arches' coverage must be merged
    # (compiler macros, not CONFIG options: `auto` derives nothing from them and stays unbuilt)
    ("mm/mremap: per-arch helpers",
     {"mm/mremap.c": ("", "\n#ifdef __aarch64__\nstatic inline int rt_arm(void) { return 1; }\n#else\n"
                          "static inline int rt_other(void) { return 0; }\n#endif\n#if 0\n"
                          "static inline int rt_never(void) { return 2; }\n#endif\n")}),
]


def _series(tree: Path, edits: list, path: Path) -> Path:
    g = worktree_git(tree)
    head = g.rev_parse("HEAD")
    tip = commit_edits(tree, head, edits)[-1]
    path.write_text(g.format_patch("--thread", "--cover-letter", "--stdout", f"{head}..{tip}",
                                   strip_newline_in_stdout=False))
    return path


@pytest.fixture(scope="module")
def series_mbox(kernel_tree: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A two-patch series made with git format-patch on the managed tree: clean on x86_64,
    an error on arm64."""
    return _series(kernel_tree, EDITS, tmp_path_factory.mktemp("cluster-series") / "series.mbox")


@pytest.fixture(scope="module")
def machines(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The two worker machines' disks, kept across the tests (as a real cluster's are): the
    second test's workers find their tree, worktree and O= dirs from the first."""
    return tmp_path_factory.mktemp("machines")


def _review(mbox: Path, out: Path, cache: Path, *extra: str) -> dict:
    """x86_64 and arm64, mm-off and `auto` (derived: CONFIG_MMU, which mm-off sets, so not built)."""
    proc = reviewtool("review", str(mbox), "--no-checks", "--no-full-build", "--arch", "x86_64", "--arch", "arm64",
                       "--config", "mm-off", "--config", "auto", "--from", "R <r@example.org>", "--out", str(out),
                       "--cache-dir", str(cache), *extra)
    assert proc.returncode == 1, proc.stderr[-3000:]  # the arm64 error is a finding
    return json.loads((out / "results.json").read_text())


def _without_timings(value: object) -> object:
    if isinstance(value, dict):
        return {k: _without_timings(v) for k, v in value.items() if k not in ("duration_s",)}
    if isinstance(value, list):
        return [_without_timings(v) for v in value]
    return value


def test_builds_are_routed_by_arch_and_equal_a_local_run(kernel_tree: Path, series_mbox: Path, machines: Path,
                                                         tmp_path: Path) -> None:
    with Cluster(machines, kernel_tree) as cluster:
        cluster.start_worker("x86-box", "x86_64=1")
        cluster.start_worker("arm-box", "arm64=1")
        workers = {w["name"]: w for w in cluster.wait_for_workers(2)}
        assert workers["x86-box"]["arches"] == ["x86_64"] and workers["arm-box"]["arches"] == ["arm64"]
        remote = _review(series_mbox, tmp_path / "remote", tmp_path / "remote-cache",
                         "--scheduler", cluster.address)
    by_arch = {t["arch"]: t["worker"] for t in remote["cluster"]["tasks"]}
    assert by_arch == {"x86_64": workers["x86-box"]["address"], "arm64": workers["arm-box"]["address"]}
    # each build ran in its worker's own cache, none in the submitter's
    assert list((machines / "arm-box" / "builds").glob("*/arm64-mm-off"))
    assert not list((machines / "arm-box" / "builds").glob("*/x86_64-*"))
    assert not (tmp_path / "remote-cache" / "builds").exists()

    local = _review(series_mbox, tmp_path / "local", tmp_path / "local-cache")
    for part in ("build", "coverage", "skipped", "findings", "robot_recheck"):
        assert _without_timings(remote[part]) == _without_timings(local[part]), part
    arm = next(b for b in remote["build"] if b["arch"] == "arm64")
    assert any("PAGE_KERNEL_NOENC" in e["message"] for p in arm["patches"] for e in p["errors"])
    assert [(d["arch"], d["status"]) for d in remote["coverage"]["auto"]] == [("x86_64", "not needed"),
                                                                            ("arm64", "not needed")]
    per_arch = remote["coverage"]["patches"][2]
    # 8 lines, directives included; rt_arm only on arm64, rt_never nowhere
    assert (per_arch["changed"], per_arch["by_build"]) == (8, {"x86_64/mm-off": 6, "arm64/mm-off": 1})
    (never,) = per_arch["not_compiled"]
    assert never["first"] == never["last"] and never["reason"].startswith("under #if 0")


def test_a_worker_killed_mid_build_has_its_task_finished_by_the_other(kernel_tree: Path, machines: Path,
                                                                      tmp_path: Path) -> None:
    # another series (its stages miss every cache), on the machines of the test above
    other = _series(kernel_tree, [EDITS[1], ("mm/mremap: another comment", {"mm/mremap.c": (
        "#include <linux/mm.h>\n", "#include <linux/mm.h>\n/* another comment */\n")})], tmp_path / "other.mbox")
    with Cluster(machines, kernel_tree) as cluster:
        for name in ("x86-box", "arm-box"):
            cluster.start_worker(name, "x86_64=1,arm64=1")
        workers = {w["address"]: w["name"] for w in cluster.wait_for_workers(2)}
        review = subprocess.Popen(
            ["reviewtool", "review", str(other), "--no-checks", "--no-full-build", "--arch", "arm64",
             "--config", "mm-off",
             "--from", "R <r@example.org>", "--out", str(tmp_path / "run"), "--cache-dir", str(tmp_path / "c"),
             "--scheduler", cluster.address], env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        victim = None
        deadline = time.monotonic() + 300
        while victim is None and time.monotonic() < deadline and review.poll() is None:
            victim = next((w["name"] for w in cluster.status()["workers"] if w["running"]), None)
            time.sleep(0.5)
        assert victim, "the build never started on a worker"
        cluster.kill_worker(victim)  # at once: the task is surely still running
        _, err = review.communicate(timeout=900)
    assert review.returncode == 1, err[-3000:]
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    (task,) = results["cluster"]["tasks"]
    survivor = workers[task["worker"]]
    assert survivor != victim
    assert len(results["build"]) == 1 and results["build"][0]["arch"] == "arm64"
    assert any(p["errors"] for p in results["build"][0]["patches"])


def test_an_unreachable_scheduler_is_one_line_and_exit_3(series_mbox: Path, tmp_path: Path) -> None:
    proc = reviewtool("review", str(series_mbox), "--no-checks", "--arch", "x86_64", "--config", "mm-off",
                       "--from", "R <r@example.org>", "--out", str(tmp_path / "run"),
                       "--scheduler", f"tcp://127.0.0.1:{free_port()}", timeout=300)
    assert proc.returncode == 3
    (line,) = proc.stderr.strip().splitlines()[-1:]
    assert line.startswith("reviewtool: failed: no Dask scheduler at tcp://127.0.0.1:")
    assert "Traceback" not in proc.stderr
