#!/usr/bin/env python3
"""Reviews through a real Dask cluster on this machine: series per hour with 1 and 2
workers, and what the Dask path costs against the plain in-process pipeline.

A replay of the bundled threads (v1, v2, v3 by default) is reviewed with builds of
one arch and one config (x86_64/mm-off, objects only), all series submitted at
once, first to a cluster of 1 worker, then of 2 (each worker with a cache and a
ccache of its own, as separate machines would have; the same cold start for
both), then again on the same workers with their base built but their stage
cache and ccache emptied (the steady state of a list: new series, same base). Then one series is reviewed in-process and through a 1-worker cluster,
each on a cold cache and ccache of its own, and the wall times are compared.
The machine may be shared: the load average is printed with the figures.

Not a test: run it by hand (about 30-50 minutes on 2 cores):
    .venv/bin/python bench/bench_cluster.py [--series pte-v1 pte-v2] [--arch x86_64] [--config mm-off]
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from kernel.tree import managed_tree  # noqa: E402
from tests.dask_cluster import ENV, Cluster  # noqa: E402


def _review_cmd(name: str, out: Path, cache: Path, args: argparse.Namespace, *extra: str) -> list[str]:
    return ["reviewtool", "review", "--bundled", name, "--no-checks", "--no-full-build",
            "--arch", args.arch, "--config", args.config, "--from", "Bench <bench@example.org>",
            "--out", str(out), "--cache-dir", str(cache), *extra]


def _all_at_once(cmds: list[list[str]], env: dict[str, str] = ENV) -> float:
    """Run the reviews concurrently; wall seconds until the last one is done."""
    start = time.monotonic()
    procs = [subprocess.Popen(c, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
             for c in cmds]
    for cmd, proc in zip(cmds, procs):
        _, err = proc.communicate()
        if proc.returncode not in (0, 1):
            sys.exit(f"bench: {' '.join(cmd)} exited {proc.returncode}:\n{err[-2000:]}")
    return time.monotonic() - start


def _replay(tmp: Path, workers: int, args: argparse.Namespace) -> tuple[float, float]:
    """Wall seconds of the replay on cold workers, then again on warm ones: each worker's base
    built (its O= dir kept) but its stage cache and ccache emptied, as for new series on that base."""
    with Cluster(tmp / f"cluster-{workers}", managed_tree()) as cluster:
        for i in range(workers):
            cluster.start_worker(f"box-{i}", f"{args.arch}=1")
        cluster.wait_for_workers(workers)
        walls = []
        for state in ("cold", "warm"):
            if state == "warm":
                for i in range(workers):
                    for kept in ("stages", "ccache"):
                        shutil.rmtree(cluster.worker_cache(f"box-{i}") / kept, ignore_errors=True)
            walls.append(_all_at_once([_review_cmd(name, tmp / f"w{workers}-{state}-{name}",
                                                   tmp / f"w{workers}-{state}-cache-{name}", args,
                                                   "--scheduler", cluster.address) for name in args.series]))
        return walls[0], walls[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--series", nargs="+", default=["pte-v1", "pte-v2", "pte-v3"], metavar="NAME")
    parser.add_argument("--arch", default="x86_64")
    parser.add_argument("--config", default="mm-off")
    args = parser.parse_args()
    loads = [os.getloadavg()[0]]
    with tempfile.TemporaryDirectory(prefix="bench-cluster-") as name:
        tmp = Path(name)
        replay = {}
        for n in (1, 2):
            replay[n] = _replay(tmp, n, args)
            loads.append(os.getloadavg()[0])
        one = args.series[-1]
        local = _all_at_once([_review_cmd(one, tmp / "local", tmp / "local-cache", args)],
                             {**ENV, "CCACHE_DIR": str(tmp / "local-cache" / "ccache")})  # cold, as a worker's
        with Cluster(tmp / "cluster-overhead", managed_tree()) as cluster:
            cluster.start_worker("box", f"{args.arch}=1")
            cluster.wait_for_workers(1)
            dask = _all_at_once([_review_cmd(one, tmp / "dask", tmp / "dask-cache", args,
                                             "--scheduler", cluster.address)])
        loads.append(os.getloadavg()[0])
    print(f"replay of {len(args.series)} series ({', '.join(args.series)}), builds {args.arch}/{args.config}, "
          "all submitted at once; cold worker caches, then warm (base built; stage cache and ccache emptied)")
    for n, walls in replay.items():
        print(f"  {n} worker{'s' if n > 1 else ' '}: " + "   ".join(
            f"{state} {wall:6.1f} s wall {len(args.series) * 3600 / wall:6.1f} series/hour"
            for state, wall in zip(("cold", "warm"), walls)))
    print(f"one series ({one}), cold: in-process {local:.1f} s, through a 1-worker Dask cluster {dask:.1f} s "
          f"(overhead {dask - local:+.1f} s, {100 * (dask - local) / local:+.0f}%)")
    print(f"load average (1 min) at the start and after each part, on {os.cpu_count()} cores: "
          + ", ".join(f"{x:.1f}" for x in loads))


if __name__ == "__main__":
    main()
