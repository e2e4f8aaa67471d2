#!/usr/bin/env python3
"""The whole `reviewtool review`: cold, a second series on the warm tree, a re-run.

Three runs on one cache, as a maintainer meets them:

1. cold: pte-v3 with --previous v1 and v2, every arch and config, versions
   and drafts, on an empty cache (stage cache, worktrees, O= dirs and a
   private CCACHE_DIR; the managed tree is already unpacked: that is a
   one-time install step, linked in).
2. warm tree: pte-v2 (another series on the same tree) right after.
3. re-run: pte-v3 again, nothing changed.

Each with the wall time, the time until the report was written, and the
per-stage breakdown from results.json ("timings"). With --baseline DIR (a
checkout of an earlier commit with its own .venv, e.g. made with
`git archive 01c9a5e | tar -x -C DIR && (cd DIR && bash scripts/setup.sh)`)
the same three runs are made with that version first and printed side by
side; --save writes the figures of every version shown (measured or loaded) to a JSON file, --load reads them back.

Not a test: run it by hand (10-40 minutes on 2 cores):
    .venv/bin/python bench/bench_review.py [--baseline DIR | --load FILE] [--save FILE]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kernel.tree import managed_tree  # noqa: E402

RUNS = [  # name, series, extra arguments
    ("cold", "pte-v3", ["--previous", "bundled:pte-v1", "--previous", "bundled:pte-v2"]),
    ("warm tree (v2)", "pte-v2", ["--previous", "bundled:pte-v1"]),
    ("re-run (v3)", "pte-v3", ["--previous", "bundled:pte-v1", "--previous", "bundled:pte-v2"]),
]


def _review(reviewtool: Path, cache: Path, out: Path, series: str, extra: list[str]) -> dict:
    """One run; wall time, time to the report, and the stage timings it recorded."""
    env = {**os.environ, "REVIEWTOOL_CACHE": str(cache), "CCACHE_DIR": str(cache / "ccache")}
    cmd = [str(reviewtool), "review", "--bundled", series, *extra, "--from", "Bench <bench@example.org>",
           "--out", str(out)]
    start = time.monotonic()
    report_at = None
    lines = []
    with subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env) as proc:
        for line in proc.stderr:
            lines.append(line)
            if report_at is None and "wrote " in line and "report" in line:
                report_at = time.monotonic() - start
    wall = time.monotonic() - start
    if proc.returncode not in (0, 1):
        sys.exit(f"bench: {' '.join(cmd)} exited {proc.returncode}:\n{''.join(lines[-30:])}")
    results = json.loads((out / "results.json").read_text())
    return {"wall": round(wall, 1), "report_at": round(report_at or wall, 1),
            "timings": results.get("timings", [])}


def measure(reviewtool: Path, label: str, save: Path | None = None, earlier: list[dict] | None = None) -> dict:
    """The three runs with `reviewtool` on a fresh cache that links the managed tree in;
    the figures so far (after `earlier` versions') are written to `save` after each run."""
    tree = managed_tree()
    figures = {"version": label, "runs": {}}
    with tempfile.TemporaryDirectory(prefix="bench-review-", dir=tree.parent) as tmp:
        cache = Path(tmp) / "cache"
        cache.mkdir()
        (cache / tree.name).symlink_to(tree)
        for name, series, extra in RUNS:
            print(f"bench: {label}: {name} ...", file=sys.stderr, flush=True)
            figures["runs"][name] = _review(reviewtool, cache, Path(tmp) / name.split()[0], series, extra)
            print(f"bench: {label}: {name}: {figures['runs'][name]['wall']} s", file=sys.stderr, flush=True)
            if save:
                save.write_text(json.dumps([*(earlier or []), figures], indent=1) + "\n")
    return figures


def show(all_figures: list[dict]) -> None:
    print(f"{'':16}" + "".join(f"{f['version']:>24}" for f in all_figures))
    for name, _, _ in RUNS:
        print(f"{name:16}" + "".join(
            f"{f['runs'][name]['wall']:>10.1f} s (report {f['runs'][name].get('report_at') or 0:>5.0f} s)"
            if name in f["runs"] else f"{'-':>24}" for f in all_figures))
    for f in all_figures:
        for name, run in f["runs"].items():
            if run["timings"]:
                print(f"\n{f['version']}: {name}, per stage (builds overlap, so they add up to more than the wall)")
                for t in run["timings"]:
                    print(f"  {t['stage']:24} {t['seconds']:8.1f} s  {t['detail']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", type=Path, metavar="DIR", help="an earlier checkout with its own .venv")
    parser.add_argument("--load", type=Path, metavar="FILE", help="earlier figures saved with --save")
    parser.add_argument("--save", type=Path, metavar="FILE", help="write this run's figures as JSON")
    parser.add_argument("--only-baseline", action="store_true", help="measure --baseline only")
    args = parser.parse_args()
    loaded = json.loads(args.load.read_text()) if args.load else []
    figures = loaded if isinstance(loaded, list) else [loaded]
    if args.baseline:
        figures.append(measure(args.baseline / ".venv" / "bin" / "reviewtool", f"before ({args.baseline.name})",
                               args.save, list(figures)))
    if not args.only_baseline:
        figures.append(measure(Path(sys.executable).with_name("reviewtool"), "this checkout", args.save,
                               list(figures)))
    show(figures)


if __name__ == "__main__":
    main()
