"""Builds on a Dask cluster: one task per arch, routed to workers that can build it.

A review's mail-side stages and its report stay where the review runs; only
the builds, the expensive part, go out. A task is plain data (the patch mails,
the base commit, an arch and the config names): the worker builds every config
of its arch on its own kernel tree, in its own cache (its $REVIEWTOOL_CACHE:
tree, O= dirs, ccache, stage cache), derives and builds `auto` where it adds
something, and computes the changed-line coverage of each build there, where
the O= dirs are. The results come back as data, never through a shared disk;
the client merges the arches' coverage (kernel.coverage.merge). The managed
tree is the same commit on every machine (fixed identity and date), so a base
chosen here names the same tree there.

Workers say which arches they build with Dask resources (`dask worker ADDR
--resources "x86_64=1,arm64=1"`), and a task asks for one unit of its arch:
a machine without the arm64 compiler is never given an arm64 build. A worker
that dies mid-build has its task re-run elsewhere (`retries`); a task is safe
to re-run because every stage is a pure function cached by content. A lost
scheduler is `ClusterLost`: the work is not failed, it can be sent again.
"""
from __future__ import annotations

import contextlib
import logging
import os
import socket
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from kernel import coverage
from kernel.errors import KernelToolError
from kernel.kconfig import Wants
from kernel.matrix import available, load_arch, load_config
from kernel.model import BaseChoice, PatchText, SeriesBuild
from kernel.tree import default_cache_dir, resolve_tree
from reviewtool import buildcoverage, treestages
from reviewtool.buildcoverage import BuildMatrix
from reviewtool.cache import StageCache
from reviewtool.errors import ClusterError, ClusterLost
from reviewtool.model import AutoDecision, BuildPlacement, ClusterRun, Coverage
from reviewtool.treestages import BuildOptions, LazyWorktree, TreeJob

# A worker killed mid-build (or its machine lost) may cost a task this many re-runs.
TASK_RETRIES = 2
CONNECT_TIMEOUT_S = 10
QUIET = "critical"  # Dask's own log level: its reconnect tracebacks are not ours to show


@dataclass(frozen=True)
class ArchTask:
    """Every config of one arch for one series: all a worker needs, as plain data."""

    patches: tuple[PatchText, ...]
    base: BaseChoice
    arch: str
    configs: tuple[str, ...]  # `auto` among them is derived there, after the others
    options: BuildOptions  # jobs 0: the worker's core count
    tree: str = ""  # "" = the worker's managed tree; else a path that exists on every worker
    cache_dir: str = ""  # "" = the worker's own cache; set when the cluster is this machine's


@dataclass
class PatchLines:
    """A patch's changed C lines per file: what kernel.coverage.merge reads ranges back through."""

    patch: int
    files: dict[str, list[int]]


@dataclass
class ArchOutcome:
    builds: list[SeriesBuild]  # in run order; `auto` only where it was built
    auto: list[AutoDecision]
    wants: Wants | None
    coverage: list[list[coverage.PatchCoverage]]  # one per build, in the order of `builds`
    changes: list[PatchLines]
    worker: str  # Dask address of the worker that built it ("local" outside a cluster)
    host: str
    seconds: float


def run_arch_task(task: ArchTask) -> ArchOutcome:
    """Runs on a worker: the arch's builds and their coverage on this machine's tree and cache.
    Coverage is taken per build, so that the client can merge the arches line by line exactly
    as one run over every build would (a range of one coverage cannot be split again)."""
    start = time.monotonic()
    cache_dir = Path(task.cache_dir) if task.cache_dir else default_cache_dir()
    tree = resolve_tree(Path(task.tree) if task.tree else None)
    options = replace(task.options, jobs=task.options.jobs or os.cpu_count() or 1)
    runs = cache_dir / "worker-runs"
    runs.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=runs) as run_dir, contextlib.ExitStack() as stack:
        job = TreeJob(list(task.patches), tree, task.base, Path(run_dir), StageCache(cache_dir))
        lazy = LazyWorktree(job, stack)
        matrix = buildcoverage.build_matrix(job, lazy, [load_arch(task.arch)], list(map(load_config, task.configs)),
                                            treestages.builds_root(cache_dir, tree), options)
        parts = [buildcoverage.series_coverage(job, lazy, [b], options) for b in matrix.built]
        changes = _changes(job, lazy) if matrix.built else []
    return ArchOutcome(matrix.builds, matrix.auto, matrix.wants, parts, changes, _worker_address(),
                       socket.gethostname(), time.monotonic() - start)


def _changes(job: TreeJob, lazy: LazyWorktree) -> list[PatchLines]:
    def compute() -> list[PatchLines]:
        return [PatchLines(c, files) for c, (_, files) in coverage.series_changes(*lazy.get()).items()]
    return job.cache.get_or_compute("changed-lines", [job.base.commit, job.patch_hashes()], list[PatchLines],
                                    compute)


def _worker_address() -> str:
    from distributed import get_worker

    try:
        return get_worker().address
    except ValueError:  # called outside a worker
        return "local"


@contextlib.contextmanager
def connect(scheduler: str | None, cache_dir: Path | None = None) -> Iterator[Any]:
    """A Dask client: to `scheduler` (tcp://HOST:PORT), or to a local cluster of this machine
    (local_cluster) for the with-block."""
    from distributed import Client

    _quiet()
    if scheduler:
        try:
            client = Client(scheduler, timeout=CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError) as exc:
            raise ClusterLost(f"no Dask scheduler at {scheduler}: {exc}") from None
        with client:
            yield client
        return
    with local_cluster(cache_dir or default_cache_dir()) as address, Client(address) as client:
        yield client


@contextlib.contextmanager
def local_cluster(cache_dir: Path) -> Iterator[str]:
    """A Dask cluster of this machine for the with-block; yields its scheduler address.

    One worker process (its builds' makes use every core) with a thread per arch whose
    compiler is installed here, offering those arches; its Dask files in the cache."""
    from distributed import LocalCluster

    _quiet()
    arches = {a: 1 for a in local_arches()}
    with LocalCluster(n_workers=1, threads_per_worker=max(1, len(arches)), processes=True, resources=arches,
                      dashboard_address=None, scheduler_kwargs={"dashboard_address": ":0"},  # no 8787 clash
                      host="127.0.0.1", memory_limit=0,
                      local_directory=str(cache_dir / "dask"),
                      env={"DASK_LOGGING__DISTRIBUTED": QUIET}) as cluster:
        yield cluster.scheduler_address


def _quiet() -> None:
    """Dask's loggers (it sets some children's levels itself) to QUIET: a lost scheduler is said
    once, by us, not as Dask's reconnect errors and tracebacks."""
    for name in ["distributed", *logging.root.manager.loggerDict]:
        if name.split(".")[0] == "distributed":
            logging.getLogger(name).setLevel(QUIET.upper())


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


@dataclass
class ClusterBuilds:
    matrix: BuildMatrix  # builds and `auto` as a local run has them (no O= dirs here: `built` is empty)
    coverage: Coverage
    run: ClusterRun


def cluster_builds(scheduler: str, job: TreeJob, arches: list[str], configs: list[str], options: BuildOptions,
                   managed: bool, cache_dir: Path | None) -> ClusterBuilds:
    """Every arch of `job` as a Dask task, merged into what an in-process run gives, with a record of
    where each build ran. `scheduler` is tcp://HOST:PORT, or "local" for a local cluster; `cache_dir`
    is given when the cluster is this machine's (its workers then share this run's cache)."""
    tasks = [ArchTask(tuple(job.patches), job.base, arch, tuple(configs), options,
                      "" if managed else str(job.tree), str(cache_dir) if cache_dir else "")
             for arch in arches]
    rounds = 2 if any(load_config(c).derive for c in configs) else 1  # `auto` after the others
    with connect(None if scheduler == "local" else scheduler, cache_dir) as client:
        outcomes = gather(client, submit_tasks(client, tasks),
                          timeout_s=rounds * options.timeout_s * (len(job.patches) + 2))
    matrix = BuildMatrix([b for o in outcomes for b in o.builds], [], [d for o in outcomes for d in o.auto],
                         next((o.wants for o in outcomes if o.wants), None))
    changes = next((o.changes for o in outcomes if o.changes), [])
    merged = coverage.merge([part for o in outcomes for part in o.coverage], {c.patch: c.files for c in changes})
    where = [BuildPlacement(b.arch, b.config, o.worker, o.host, round(o.seconds, 1)) for o in outcomes for b in o.builds]
    return ClusterBuilds(matrix, Coverage(merged, matrix.auto, matrix.wants), ClusterRun(scheduler, where))


def submit_tasks(client: Any, tasks: list[ArchTask]) -> list[Any]:
    """One Dask future per task, each asking for one unit of its arch's resource."""
    return [client.submit(run_arch_task, task, resources={task.arch: 1}, retries=TASK_RETRIES,
                          pure=False, key=f"build-{task.arch}-{os.urandom(4).hex()}")
            for task in tasks]


def gather(client: Any, futures: list[Any], timeout_s: float) -> list[ArchOutcome]:
    """Wait for every task. A lost scheduler is ClusterLost (nothing failed: send it again once it
    is back); a task that failed every retry or ran out of time is a ClusterError."""
    from concurrent.futures import CancelledError

    from distributed import TimeoutError as DaskTimeout

    try:
        return [f.result(timeout=timeout_s) for f in futures]
    except (CancelledError, OSError) as exc:
        if client.status != "running":
            raise ClusterLost(f"lost the Dask scheduler {client.scheduler.address} during the builds") from None
        raise ClusterError(f"the cluster did not finish the builds: {type(exc).__name__}: {exc}") from None
    except (DaskTimeout, TimeoutError) as exc:
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
