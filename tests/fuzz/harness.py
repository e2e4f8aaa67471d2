"""Run fuzz cases through the entry points of `show`, `review --no-build` (mail-side stages) and `diff`.

A case passes when every entry point ends normally or with one of the
project's error types (reviewtool.errors: the CLI turns them into exit 2/3),
and within CASE_LIMIT_S. Cases run one after another in a worker process
that the parent watches, so that a hang is stopped, recorded and the run
goes on (a regex stuck in C cannot be interrupted from inside).
"""
from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import multiprocessing
import multiprocessing.context
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path

from mutate import make_case

CASE_LIMIT_S = 5.0  # CPU seconds of the worker per case
HANG_S = 120.0  # wall seconds: the worker is killed and the case counts as a hang


@dataclass
class Failure:
    case: int
    mutations: list[str]
    kind: str  # "traceback" | "slow" | "hang"
    detail: str
    seconds: float


@dataclass
class Summary:
    seed: int
    cases: int = 0
    seconds: float = 0.0
    expected_errors: int = 0  # cases refused with a project error (exit 2/3)
    slowest: tuple[float, int] = (0.0, -1)  # CPU seconds, case
    failures: list[Failure] = field(default_factory=list)


def entry_points(path: Path, work: Path) -> None:
    """What `show [--json]`, `review --no-build` (its mail-side stages: load, assemble with the bots'
    reports, comments, versions) and `diff --json` do with the mbox at `path`, output included."""
    from reviewtool.cache import StageCache
    from reviewtool.cli import build_parser
    from reviewtool.commands import show
    from reviewtool.diffreport import version_report
    from reviewtool.jsondata import dumps
    from reviewtool.pipeline import load_comments, load_series, sha256
    from series.load import load_thread

    thread = load_thread(str(path))
    cache = StageCache(work / "cache")  # review's stage cache, written as review writes it
    series = load_series(thread, None, cache)
    show.render(series)
    _strict_stdout(lambda: json.dump(dataclasses.asdict(series), sys.stdout, ensure_ascii=False))  # --json
    dumps(load_comments(series, sha256(thread.raw), cache)).encode("utf-8")
    earlier = [load_series(thread, rev, cache) for rev in series.revisions_in_thread[:-1]]
    if earlier:
        dumps(version_report([*earlier, series])).encode("utf-8")
        args = build_parser().parse_args(["diff", str(path), "--json", "--out", str(work / "versions")])
        _strict_stdout(lambda: args.command_module.run(args))


def _strict_stdout(write: Callable[[], object]) -> None:
    """Run `write` with stdout a strict UTF-8 stream, as a terminal or pipe is: invalid text raises."""
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    with contextlib.redirect_stdout(out):
        write()
    out.flush()


def run_one(seed: int, case: int) -> tuple[str, str, float]:
    """("ok" | "error" | "traceback", detail, seconds) of one case, run here."""
    from reviewtool.errors import INFRA_ERRORS, USER_ERRORS

    raw, _mutations = make_case(seed, case)
    with tempfile.TemporaryDirectory(prefix="mailfuzz-") as tmp:
        path = Path(tmp) / "case.mbox"
        path.write_bytes(raw)
        started = time.process_time()  # CPU, not wall: a busy shared machine must not fail a case
        try:
            with contextlib.redirect_stderr(io.StringIO()):
                entry_points(path, Path(tmp))
            result, detail = "ok", ""
        except (*USER_ERRORS, *INFRA_ERRORS) as exc:
            result, detail = "error", f"{type(exc).__name__}: {exc}"[:300]
        except BaseException:  # the point of fuzzing: anything else is a finding  # noqa: BLE001
            result, detail = "traceback", traceback.format_exc(limit=-8)
        return result, detail, time.process_time() - started


def _worker(conn: Connection) -> None:
    with contextlib.suppress(EOFError, BrokenPipeError):  # the parent went away: stop too
        while (job := conn.recv()) is not None:
            conn.send(run_one(*job))


class _Watched:
    """One worker process and the case it runs (so that a hang is stopped and the run goes on)."""

    def __init__(self, ctx: multiprocessing.context.BaseContext) -> None:
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker, args=(child,), daemon=True)
        self.proc.start()
        self.case: int | None = None
        self.since = 0.0

    def give(self, seed: int, case: int) -> None:
        self.case, self.since = case, time.monotonic()
        self.conn.send((seed, case))

    def stop(self, kill: bool = False) -> None:
        if not kill:
            self.conn.send(None)
            self.proc.join(10)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join()


def run_cases(seed: int, cases: int, *, start: int = 0, jobs: int = 1, progress: bool = False) -> Summary:
    """Cases start..start+cases-1 of run `seed`, on `jobs` watched worker processes."""
    ctx = multiprocessing.get_context("fork")
    summary = Summary(seed=seed)
    began = time.monotonic()
    todo = list(range(start, start + cases))[::-1]
    workers = [_Watched(ctx) for _ in range(min(jobs, cases))]
    try:
        for w in workers:
            if todo:
                w.give(seed, todo.pop())
        while any(w.case is not None for w in workers):
            ready = set(wait([w.conn for w in workers if w.case is not None], timeout=1.0))
            for i, w in enumerate(workers):
                if w.case is None:
                    continue
                done = w.case
                if w.conn in ready:
                    _count(summary, done, *w.conn.recv())
                elif time.monotonic() - w.since > HANG_S:
                    _count(summary, done, "hang", f"no answer within {HANG_S:g} s", HANG_S)
                    w.stop(kill=True)
                    w = workers[i] = _Watched(ctx)
                else:
                    continue
                w.case = None
                if todo:
                    w.give(seed, todo.pop())
                if progress and summary.failures and summary.failures[-1].case == done:
                    print(f"fuzz_mail: case {done} fails: {summary.failures[-1].detail.strip().splitlines()[-1]}",
                          file=sys.stderr, flush=True)
                if progress and summary.cases % 100 == 0:
                    print(f"fuzz_mail: {summary.cases}/{cases} cases, {len(summary.failures)} failures, "
                          f"{time.monotonic() - began:.0f} s", file=sys.stderr, flush=True)
    finally:
        for w in workers:
            w.stop(kill=w.case is not None)
    summary.seconds = time.monotonic() - began
    return summary


def _count(summary: Summary, case: int, result: str, detail: str, seconds: float) -> None:
    summary.cases += 1
    summary.expected_errors += result == "error"
    summary.slowest = max(summary.slowest, (seconds, case))
    if result in ("traceback", "hang") or seconds > CASE_LIMIT_S:
        kind = result if result != "ok" and result != "error" else "slow"
        summary.failures.append(Failure(case, make_case(summary.seed, case)[1], kind,
                                        detail or f"{seconds:.1f} s", seconds))


def save_case(seed: int, case: int, directory: Path) -> Path:
    """Write a case's mbox, to rerun it by hand: reviewtool show PATH."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"case-{seed}-{case}.mbox"
    path.write_bytes(make_case(seed, case)[0])
    return path


