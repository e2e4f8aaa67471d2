"""Benchmark: the pair scan against Coccinelle on a tree's mm/, same run, findings compared.

Both look for a pte_offset_map() / pte_offset_map_lock() whose pte_unmap() /
pte_unmap_unlock() is missed on a return.  spatch runs bench/mini_lock_pte.cocci
(derived from the kernel's scripts/coccinelle/locks/mini_lock.cocci, which
only knows the shape "map; if (...) { return; } unmap"); the pair scan walks
every path.  A finding is keyed (file, line of the return, line of the map).

    .venv/bin/python bench/bench_pairscan.py [--tree DIR] [--dir mm] [--jobs N] [--json]

The default tree is the managed linux-source-6.1 tree (kernel.tree).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from kernel.pairaudit import audit
from kernel.pairrules import load_rules
from kernel.tree import managed_tree

COCCI = Path(__file__).with_name("mini_lock_pte.cocci")
MAPS = {"pte_offset_map", "pte_offset_map_lock"}
_REPORT = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+):\d+-\d+: (?P<lock>\w+)\(\) on line (?P<acq>\d+) not undone")

Key = tuple[str, int, int]


def run_spatch(tree: Path, subdir: str, jobs: int) -> tuple[set[Key], float]:
    cmd = ["spatch", "--sp-file", str(COCCI), "-D", "report", "--no-includes", "--include-headers",
           "--very-quiet", "--jobs", str(jobs), "--dir", subdir]
    start = time.monotonic()
    proc = subprocess.run(cmd, cwd=tree, capture_output=True, text=True, check=False)
    elapsed = time.monotonic() - start
    if proc.returncode != 0:
        sys.exit(f"spatch failed ({proc.returncode}): {proc.stderr[-500:]}")
    found = {(m["file"], int(m["line"]), int(m["acq"]))
             for m in map(_REPORT.match, proc.stdout.splitlines()) if m}
    return found, elapsed


def run_pairscan(tree: Path, subdir: str, jobs: int) -> tuple[set[Key], float]:
    start = time.monotonic()
    found = audit([tree / subdir], load_rules(), tree, jobs)
    elapsed = time.monotonic() - start
    keys = {(ff.file, ff.finding.line, ff.finding.acquire_line) for ff in found
            if ff.finding.kind == "leak" and ff.finding.acquire in MAPS and "pte_map" in ff.finding.resources
            and ff.finding.statement != "<end of function>"}
    return keys, elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tree", type=Path, help="kernel source directory (default: managed 6.1 tree)")
    parser.add_argument("--dir", default="mm", help="subdirectory to scan (default: mm)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    tree = (args.tree or managed_tree()).resolve()
    print(f"bench: {tree}/{args.dir} with {args.jobs} jobs", file=sys.stderr)
    ours, t_ours = run_pairscan(tree, args.dir, args.jobs)
    cocci, t_cocci = run_spatch(tree, args.dir, args.jobs)
    result = {
        "tree": str(tree), "dir": args.dir, "jobs": args.jobs,
        "pairscan_seconds": round(t_ours, 2), "spatch_seconds": round(t_cocci, 2),
        "both": sorted(ours & cocci), "pairscan_only": sorted(ours - cocci), "spatch_only": sorted(cocci - ours),
    }
    if args.json:
        json.dump(result, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(f"pair scan: {t_ours:6.1f} s, {len(ours)} findings")
        print(f"spatch:    {t_cocci:6.1f} s, {len(cocci)} findings ({COCCI.name})")
        for name in ("both", "pairscan_only", "spatch_only"):
            print(f"{name}: {len(result[name])}")
            for file, line, acq in result[name]:
                print(f"  {file}:{line}: map at line {acq} not undone")
    return 0


if __name__ == "__main__":
    sys.exit(main())
