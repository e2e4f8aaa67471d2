"""One review as a job: plain, picklable data in, plain data out, run by a runner.

The watcher only builds `ReviewJob`s and reads `JobResult`s; how and where a
job runs is the runner's business. `LocalRunner` runs them in this process,
one after the other; the job carries every input as bytes, so a runner on
other machines needs no access to the watcher's inbox or state. Builds go to
a Dask cluster when the options name one (the watcher's own LocalCluster by
default): a scheduler lost under a job makes a `retry` result, which the
watcher keeps queued rather than failed.

A job writes its run directory next to the final one (`.NAME.tmp`) and swaps
it in when the review is complete, so a killed job never leaves a half-written
run directory in place of the last good one.
"""
from __future__ import annotations

import json
import shutil
import traceback
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from kernel.matrix import DEFAULT_ARCHES, available
from kernel.sandbox import Sandbox
from reviewtool.cache import StageCache
from reviewtool.errors import INFRA_ERRORS, USER_ERRORS, ClusterLost, one_line
from reviewtool.model import to_json
from reviewtool.pipeline import ReviewOptions, load_series, progress
from reviewtool.timing import Timings


@dataclass
class JobOptions:
    """What every review of a watch uses (the `review` command's options, as plain data)."""

    cache_dir: str
    mail_from: str
    tree: str | None = None
    arches: list[str] = field(default_factory=lambda: list(DEFAULT_ARCHES))
    configs: list[str] = field(default_factory=lambda: available("configs"))
    build: bool = True
    checks: bool = True
    checkpatch: str | None = None
    jobs: int | None = None
    full_build: bool = True
    sandbox: bool = True  # False only with the user's explicit --no-sandbox
    scheduler: str | None = None  # the builds on a Dask cluster (reviewtool.cluster)
    local_cluster: bool = False  # that cluster is the watcher's own LocalCluster (shares cache_dir)


@dataclass
class ReviewJob:
    """One review: the series' thread and its earlier versions as mboxrd bytes."""

    key: str  # the watcher's job id, returned in the result
    thread_mbox: bytes
    previous_mboxes: list[bytes]  # earlier versions, oldest first
    run_dir: str  # final run directory (absolute)
    options: JobOptions


@dataclass
class JobResult:
    key: str
    ok: bool
    error: str = ""  # one line when not ok
    retry: bool = False  # not ok, but nothing failed: the Dask scheduler was lost; run it again later
    findings: int = 0
    results: dict[str, Any] = field(default_factory=dict)  # results.json as written (a Review's JSON)
    files: list[str] = field(default_factory=list)  # written, relative to run_dir


class Runner(Protocol):
    """Runs jobs, calls started(key) when a job is handed to a worker, and yields each result
    as it finishes (in any order)."""

    def run(self, jobs: Iterable[ReviewJob], started: Callable[[str], None]) -> Iterator[JobResult]: ...


class LocalRunner:
    """In this process, one job at a time (the stages themselves use all cores)."""

    def run(self, jobs: Iterable[ReviewJob], started: Callable[[str], None]) -> Iterator[JobResult]:
        for job in jobs:
            started(job.key)
            yield run_review_job(job)


def run_review_job(job: ReviewJob) -> JobResult:
    """The review of job's thread into job.run_dir; a failure is a result, never an exception,
    so one broken series cannot stop a watcher (only KeyboardInterrupt and the like pass)."""
    from reviewtool.commands.diff import load_revisions
    from reviewtool.commands.review import write_review
    from series.load import load_thread

    final = Path(job.run_dir)
    tmp = final.with_name(f".{final.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir(parents=True)
        (tmp / "thread.mbox").write_bytes(job.thread_mbox)
        previous = []
        for n, raw in enumerate(job.previous_mboxes, 1):
            path = tmp / "previous" / f"{n}.mbox"  # earlier versions as the review read them
            path.parent.mkdir(exist_ok=True)
            path.write_bytes(raw)
            previous.append(str(path))
        thread = load_thread(str(tmp / "thread.mbox"))
        o = job.options
        cache = StageCache(Path(o.cache_dir))
        series = load_series(thread, None, cache)
        earlier = [s for s in load_revisions(previous) if s.revision < series.revision] if previous else []
        opts = ReviewOptions(run_dir=tmp.resolve(), cache_dir=Path(o.cache_dir).resolve(),
                             tree=Path(o.tree) if o.tree else None, arches=o.arches, configs=o.configs,
                             build=o.build, checks=o.checks, jobs=o.jobs,
                             checkpatch_script=Path(o.checkpatch) if o.checkpatch else None,
                             full_build=o.full_build, sandbox=Sandbox(enabled=o.sandbox), scheduler=o.scheduler,
                             local_cluster=o.local_cluster)
        review = write_review(thread, series, earlier, opts, cache, o.mail_from, Timings())
        findings = sum(1 for f in review.findings if f.counts)
        results = json.loads(to_json(review))
    except (*USER_ERRORS, *INFRA_ERRORS) as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        return JobResult(job.key, ok=False, error=one_line(exc), retry=isinstance(exc, ClusterLost))
    except Exception as exc:  # a bug in one review must not stop the watch: recorded, with where
        shutil.rmtree(tmp, ignore_errors=True)
        where = traceback.extract_tb(exc.__traceback__)[-1]
        return JobResult(job.key, ok=False, error=one_line(Exception(
            f"internal error {type(exc).__name__}: {exc} (at {Path(where.filename).name}:{where.lineno})")))
    _swap_in(tmp, final)
    progress(f"job {job.key}: {findings} findings in {final}")
    files = sorted(str(p.relative_to(final)) for p in final.rglob("*") if p.is_file())
    return JobResult(job.key, ok=True, findings=findings, results=results, files=files)


def _swap_in(tmp: Path, final: Path) -> None:
    """Replace final by tmp; in between a kill leaves final missing, never mixed (the job reruns)."""
    old = final.with_name(f".{final.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        final.rename(old)
    tmp.rename(final)
    shutil.rmtree(old, ignore_errors=True)
