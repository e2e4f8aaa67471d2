"""`reviewtool watch` with its builds on a real Dask cluster whose scheduler is killed mid-build:
the job stays queued (not failed, not lost), and is done once the scheduler is back.

Real processes throughout: a public-inbox with the v1 posting, `dask scheduler` and `dask worker`
on 127.0.0.1 (tests/dask_cluster.py), and the watcher itself.
"""
from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest

from public_inbox import PublicInbox
from test_watch import FROM, REVIEWTOOL, _wait_for, done_jobs, results, rows, v1_posting
from tests.dask_cluster import ENV, Cluster

pytestmark = pytest.mark.kernel
LABEL = "job 1 (v1 'Free user PTE page table pages')"


def _building(cluster: Cluster, watcher: subprocess.Popen) -> None:
    deadline = time.monotonic() + 600
    while not any(w["running"] for w in cluster.status()["workers"]):
        assert watcher.poll() is None and time.monotonic() < deadline, "the build never started on the worker"
        time.sleep(0.5)


def test_a_scheduler_killed_mid_build_leaves_the_job_queued_until_it_is_back(kernel_tree: Path,
                                                                             tmp_path: Path) -> None:
    inbox = PublicInbox.create(tmp_path)
    for raw in v1_posting():
        inbox.deliver(raw)
    out, log = tmp_path / "out", tmp_path / "watch.log"
    with Cluster(tmp_path / "machines", kernel_tree) as cluster:
        cmd = [REVIEWTOOL, "watch", str(inbox.path), "--out", str(out), "--from", FROM, "--grace", "0",
               "--no-checks", "--arch", "x86_64", "--config", "mm-off", "--no-full-build",
               "--scheduler", cluster.address]
        cluster.start_worker("box", "x86_64=1")
        cluster.wait_for_workers(1)
        once = subprocess.Popen([*cmd, "--once"], env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                text=True)
        _building(cluster, once)
        cluster.kill_scheduler()
        _, err = once.communicate(timeout=300)
        assert once.returncode == 3, err[-3000:]
        assert err.strip().splitlines()[-1] == (
            f"reviewtool: failed: lost the Dask scheduler {cluster.address} during the builds; {LABEL} stays "
            "queued and runs once a scheduler answers at that address again")
        assert "Traceback" not in err
        assert rows(out, "SELECT state, error FROM jobs") == [("queued", "")]
        assert json.loads((out / "index.json").read_text())["series"][0]["status"] != "reviewed"

        # A watcher polling while the scheduler is still down says so each poll, and resumes.
        with log.open("w") as fh:
            watcher = subprocess.Popen([*cmd, "--interval", "1"], env=ENV, stdout=subprocess.DEVNULL, stderr=fh)
        try:
            _wait_for(watcher, log, lambda: "poll failed" in log.read_text())
            cluster.kill_worker("box")  # its machine went down with the scheduler's
            cluster.start_scheduler()
            cluster.start_worker("box", "x86_64=1")
            _wait_for(watcher, log, lambda: "job 1: done" in log.read_text())
            watcher.send_signal(signal.SIGTERM)
            assert watcher.wait(timeout=120) == 0
        finally:
            if watcher.poll() is None:
                watcher.kill()
                watcher.wait()
    text = log.read_text()
    failed = [line for line in text.splitlines() if "poll failed" in line]
    assert failed[0].startswith(f"reviewtool watch: poll failed, retried in 1 s: no Dask scheduler at {cluster.address}")
    assert all(line.endswith(f"{LABEL} stays queued and runs once a scheduler answers at that address again")
               for line in failed)
    assert "Traceback" not in text and text.count("job 1: done") == 1  # each poll tried it: "reviewing" more
    assert done_jobs(out) == {1: 1}
    assert rows(out, "SELECT state FROM jobs") == [("done",)]
    (series,) = json.loads((out / "index.json").read_text())["series"]
    assert (series["status"], series["reviews"]) == ("reviewed", 1)
    builds = results(out, 1)["build"]
    assert [(b["arch"], b["config"], len(b["patches"])) for b in builds] == [("x86_64", "mm-off", 7)]
    assert results(out, 1)["cluster"]["scheduler"] == cluster.address
