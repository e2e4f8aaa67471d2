"""Builds on a Dask cluster: one task per arch x config, routed to workers that can build it.

A review's mail-side stages and its report stay where the review runs; only
the builds, the expensive part, go out. A task is plain data (the patch mails,
the base commit, arch and config names): the worker builds on its own kernel
tree, in its own cache (its $REVIEWTOOL_CACHE: tree, O= dirs, ccache, stage
cache), and the result comes back as data, never through a shared disk. The
managed tree is the same commit on every machine (fixed identity and date), so
a base chosen here names the same tree there.

Workers say which arches they build with Dask resources (`dask worker ADDR
--resources "x86_64=1,arm64=1"`), and a task asks for one unit of its arch:
a machine without the arm64 compiler is never given an arm64 build. A worker
that dies mid-build has its task re-run elsewhere (`retries`); a task is safe
to re-run because every stage is a pure function cached by content.
"""
from __future__ import annotations

import contextlib
import os
import socket
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kernel.errors import KernelToolError
from kernel.matrix import available, load_arch, load_config
from kernel.model import BaseChoice, PatchText, SeriesBuild
from kernel.tree import default_cache_dir, resolve_tree
from reviewtool import treestages
from reviewtool.cache import StageCache
from reviewtool.errors import ClusterError
from reviewtool.model import BuildPlacement, ClusterRun
from reviewtool.treestages import BuildOptions, LazyWorktree, TreeJob

# A worker killed mid-build (or its machine lost) may cost a task this many re-runs.
TASK_RETRIES = 2
CONNECT_TIMEOUT_S = 10


@dataclass(frozen=True)
class BuildTask:
    """One arch x config of one series: all a worker needs, as plain data."""

    patches: tuple[PatchText, ...]
    base: BaseChoice
    arch: str
    config: str
    options: BuildOptions
    tree: str = ""  # "" = the worker's managed tree; else a path that exists on every worker


@dataclass
class BuildOutcome:
    build: SeriesBuild
    worker: str  # Dask address of the worker that built it ("local" outside a cluster)
    host: str
    seconds: float


def run_build_task(task: BuildTask) -> BuildOutcome:
    """Runs on a worker: the task's builds on this machine's tree and cache."""
    start = time.monotonic()
    cache_dir = default_cache_dir()
    tree = resolve_tree(Path(task.tree) if task.tree else None)
    runs = cache_dir / "worker-runs"
    runs.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=runs) as run_dir, contextlib.ExitStack() as stack:
        job = TreeJob(list(task.patches), tree, task.base, Path(run_dir), StageCache(cache_dir))
        out = treestages.build_dir(cache_dir, tree, task.arch, task.config)
        (build,) = treestages.builds(job, LazyWorktree(job, stack),
                                     [(load_arch(task.arch), load_config(task.config), out)], task.options)
    return BuildOutcome(build, _worker_address(), socket.gethostname(), time.monotonic() - start)


def _worker_address() -> str:
    from distributed import get_worker

    try:
        return get_worker().address
    except ValueError:  # called outside a worker
        return "local"


@contextlib.contextmanager
def connect(scheduler: str | None) -> Iterator[Any]:
    """A Dask client: to `scheduler` (tcp://HOST:PORT), or to a local cluster sized to this
    machine whose one worker offers every arch whose compiler is installed here."""
    from distributed import Client, LocalCluster

    if scheduler:
        try:
            client = Client(scheduler, timeout=CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError) as exc:
            raise ClusterError(f"no Dask scheduler at {scheduler}: {exc}") from None
        with client:
            yield client
        return
    arches = {a: 1 for a in local_arches()}
    with LocalCluster(n_workers=1, threads_per_worker=max(1, len(arches)), processes=True,
                      resources=arches, dashboard_address=None) as cluster, Client(cluster) as client:
        yield client


def check_scheduler(scheduler: str) -> None:
    """Fail now, in one line, if the scheduler does not answer: not after the apply stage."""
    if scheduler != "local":
        with connect(scheduler):
            pass


def local_arches() -> list[str]:
    """The arches this machine can build (their compiler is on PATH)."""
    found = []
    for name in available("arches"):
        try:
            load_arch(name)
        except KernelToolError:  # its compiler is not installed here
            continue
        found.append(name)
    return found


def cluster_builds(scheduler: str, job: TreeJob, arches: list[str], configs: list[str],
                   options: BuildOptions, managed: bool) -> tuple[list[SeriesBuild], ClusterRun]:
    """Every arch x config of `job` as Dask tasks; the builds in matrix order, and a record of
    where each ran. `scheduler` is tcp://HOST:PORT, or "local" for a local cluster."""
    tasks = [BuildTask(tuple(job.patches), job.base, arch, config, options,
                       "" if managed else str(job.tree))
             for arch in arches for config in configs]
    with connect(None if scheduler == "local" else scheduler) as client:
        outcomes = gather(submit_builds(client, tasks), timeout_s=options.timeout_s * (len(job.patches) + 2))
    where = [BuildPlacement(t.arch, t.config, o.worker, o.host, round(o.seconds, 1))
             for t, o in zip(tasks, outcomes)]
    return [o.build for o in outcomes], ClusterRun(scheduler, where)


def submit_builds(client: Any, tasks: list[BuildTask]) -> list[Any]:
    """One Dask future per task, each asking for one unit of its arch's resource."""
    return [client.submit(run_build_task, task, resources={task.arch: 1}, retries=TASK_RETRIES,
                          pure=False, key=f"build-{task.arch}-{task.config}-{os.urandom(4).hex()}")
            for task in tasks]


def gather(futures: list[Any], timeout_s: float) -> list[BuildOutcome]:
    """Wait for every build; a lost scheduler or a task that failed every retry is a ClusterError."""
    from distributed import TimeoutError as DaskTimeout

    try:
        return [f.result(timeout=timeout_s) for f in futures]
    except (OSError, DaskTimeout, TimeoutError) as exc:
        raise ClusterError(f"the cluster did not finish the builds: {type(exc).__name__}: {exc}") from None
    except Exception as exc:
        if type(exc).__name__ == "KilledWorker":
            raise ClusterError(f"a build killed its workers {TASK_RETRIES + 1} times: {exc}") from None
        raise


def cluster_status(client: Any) -> dict[str, Any]:
    """Workers with their arches, and the build tasks running and waiting (for `workers`)."""
    info = client.scheduler_info(n_workers=-1)
    processing = client.processing()
    workers = [{"address": addr, "name": str(w.get("name", "")), "host": w.get("host", ""),
                "arches": sorted(w.get("resources", {})), "threads": w.get("nthreads", 0),
                "running": sorted(processing.get(addr, []))}
               for addr, w in sorted(info["workers"].items())]
    waiting = client.run_on_scheduler(_waiting_tasks)
    return {"scheduler": info.get("address", ""), "workers": workers, "waiting": waiting}


def _waiting_tasks(dask_scheduler: Any = None) -> list[str]:
    """Runs in the scheduler: tasks no worker can take now (queued, or no worker has the arch)."""
    return sorted(str(ts.key) for ts in dask_scheduler.tasks.values()
                  if ts.state in ("queued", "no-worker"))
