#!/usr/bin/env python3
"""The whole `reviewtool review` on the bundled v3 thread: a cold run, then a re-run.

Both runs use a fresh stage cache of their own (the managed kernel tree is
shared), so the first figure is what a user waits the first time and the
second is what the content-addressed cache saves when nothing changed.
Builds are left out by default (bench_build.py measures them); pass
--with-build to include one arch and config.

Not a test: run it by hand (about 5 minutes on 2 cores):
    .venv/bin/python bench/bench_review.py [--with-build]
"""
from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run(cmd: list[str]) -> tuple[float, float, str]:
    wall, cpu = time.monotonic(), _cpu()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode not in (0, 1):
        sys.exit(f"bench: {' '.join(cmd)} exited {proc.returncode}:\n{proc.stderr[-2000:]}")
    return time.monotonic() - wall, _cpu() - cpu, proc.stderr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--with-build", action="store_true", help="also build x86_64/mm-off")
    args = parser.parse_args()
    reviewtool = str(Path(sys.executable).with_name("reviewtool"))
    with tempfile.TemporaryDirectory(prefix="bench-review-") as tmp:
        base = [reviewtool, "review", "--bundled", "pte-v3", "--previous", "bundled:pte-v2",
                "--from", "Bench <bench@example.org>", "--cache-dir", f"{tmp}/cache"]
        base += ["--arch", "x86_64", "--config", "mm-off"] if args.with_build else ["--no-build"]
        cold = _run([*base, "--out", f"{tmp}/cold"])
        warm = _run([*base, "--out", f"{tmp}/warm"])
    print(f"review v3 ({'with x86_64/mm-off build' if args.with_build else 'no build'})")
    print(f"  cold run : wall {cold[0]:7.1f} s   cpu {cold[1]:7.1f} s")
    print(f"  re-run   : wall {warm[0]:7.1f} s   cpu {warm[1]:7.1f} s   "
          f"(cold/re-run wall ratio {cold[0] / max(warm[0], 0.001):.1f}x)")
    redone = [line for line in warm[2].splitlines() if "checkpatch:" in line or "build " in line]
    print("  stages redone on the re-run: " + ("; ".join(redone) if redone else "none of checkpatch/build"))


if __name__ == "__main__":
    main()
