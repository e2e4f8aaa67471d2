"""A real Dask cluster on 127.0.0.1 for the cluster tests and bench/bench_cluster.py:
a `dask scheduler` and `dask worker` processes, each worker with a cache directory of its
own standing in for a machine of its own, all killed (process group) on exit.

The managed kernel tree is the same commit on every machine, so each worker's copy is a
hard-linked copy of this machine's (what unpacking the same Debian package there would
give, without the minute it takes).
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

BIN = Path(sys.executable).parent
ENV = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def process(cmd: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    """A server in a session of its own, killed with everything under it at the end."""
    with log.open("wb") as fh:
        proc = subprocess.Popen(cmd, env=env, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def reviewtool(*args: str, timeout: float = 900, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["reviewtool", *args], capture_output=True, text=True, env=env or ENV,
                          timeout=timeout, check=False)


class Cluster:
    """`with Cluster(root, tree) as c: c.start_worker("box", "x86_64=1")`; c.address for clients."""

    def __init__(self, root: Path, tree: Path) -> None:
        self.root, self.tree = root, tree
        self.address = f"tcp://127.0.0.1:{free_port()}"
        self.workers: dict[str, subprocess.Popen] = {}
        self.stack = ExitStack()

    def __enter__(self) -> Cluster:
        self.root.mkdir(parents=True, exist_ok=True)
        self.start_scheduler()
        return self

    def start_scheduler(self) -> None:
        """The scheduler, on this cluster's address (again, after kill_scheduler)."""
        self.scheduler = self.stack.enter_context(process(
            [str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", self.address.rsplit(":", 1)[1],
             "--no-dashboard"], ENV, self.root / "scheduler.log"))

    def kill_scheduler(self) -> None:
        """SIGKILL the scheduler: its machine lost; the workers keep running, reconnecting."""
        os.killpg(self.scheduler.pid, signal.SIGKILL)
        self.scheduler.wait()

    def __exit__(self, *exc: object) -> None:
        self.stack.close()

    def worker_cache(self, name: str) -> Path:
        cache = self.root / name
        if not cache.exists():
            cache.mkdir(parents=True)
            subprocess.run(["cp", "-al", str(self.tree), str(cache / self.tree.name)], check=True)
        return cache

    def start_worker(self, name: str, arches: str) -> subprocess.Popen:
        cache = self.worker_cache(name)
        env = {**ENV, "REVIEWTOOL_CACHE": str(cache), "CCACHE_DIR": str(cache / "ccache")}
        proc = self.stack.enter_context(process(
            [str(BIN / "dask"), "worker", self.address, "--name", name, "--nthreads", "1",
             "--resources", arches, "--no-dashboard", "--local-directory", str(cache / "dask")],
            env, self.root / f"{name}.log"))
        self.workers[name] = proc
        return proc

    def kill_worker(self, name: str) -> None:
        """SIGKILL the worker and its nanny: a machine lost, not a clean shutdown."""
        os.killpg(self.workers[name].pid, signal.SIGKILL)

    def status(self) -> dict:
        proc = reviewtool("workers", "--scheduler", self.address, "--json", timeout=60)
        return json.loads(proc.stdout) if proc.returncode == 0 else {"workers": []}

    def wait_for_workers(self, n: int) -> list[dict]:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            workers = self.status()["workers"]
            if len(workers) == n:
                return workers
            time.sleep(1)
        raise AssertionError(f"{n} workers did not join: {(self.root / 'scheduler.log').read_text()[-2000:]}")
