#!/usr/bin/env python3
"""Per-patch builds vs a naive full build per patch, on both arches; and a re-run.

Makes a 12-patch series from scripted edits to the managed 6.1 tree (11 C
files in mm/, kernel/ and lib/, one header: include/linux/pgtable.h), then:

1. `reviewtool build` (x86_64 + arm64, --config mm-off --no-full-build):
   no ccache; wall and CPU of the whole command (worktree, apply, configure, base, all
   per-patch builds), and the sum of the make runs it reports.
2. The same command again with nothing changed (all results from the cache).
3. The naive way: a clean `make vmlinux` per patch per arch.  Measured ONCE
   per arch (a clean tinyconfig vmlinux, same W=1) and multiplied by the
   number of patches: an extrapolation, printed as such.

Not a test: run it by hand (about 10 minutes on 2 cores):
    .venv/bin/python bench/bench_build.py [--config mm-off] [--keep DIR]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kernel.build import configure  # noqa: E402
from kernel.make import Make  # noqa: E402
from kernel.matrix import load_arch, load_config  # noqa: E402
from kernel.tree import managed_tree  # noqa: E402
from kernel.worktree import worktree, worktree_git  # noqa: E402
from tests.conftest import commit_edits  # noqa: E402

FILES = ["mm/mremap.c", "mm/mprotect.c", "mm/mmap.c", "mm/memory.c", "mm/rmap.c", "mm/gup.c",
         "mm/filemap.c", "mm/page_alloc.c", "kernel/fork.c", "kernel/exit.c", "lib/string.c"]
EDITS = [(f"{path.split('/')[0]}/{Path(path).stem}: bench edit {i + 1}",
          {path: ("", f"\n/* bench edit {i + 1} */\n")}) for i, path in enumerate(FILES)]
EDITS.append(("mm: bench edit of pgtable.h",
              {"include/linux/pgtable.h": ("#ifndef _LINUX_PGTABLE_H\n",
                                           "#ifndef _LINUX_PGTABLE_H\n/* bench edit */\n")}))


def timed(fn):
    """(result, wall s, CPU s of this process and its waited-for children)."""
    def cpu() -> float:
        me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime
    c0, w0 = cpu(), time.monotonic()
    result = fn()
    return result, time.monotonic() - w0, cpu() - c0


def make_series(tree: Path, scratch: Path) -> Path:
    g = worktree_git(tree)
    head = g.rev_parse("HEAD")
    last = commit_edits(tree, head, EDITS)[-1]
    mails = g.format_patch("--thread=shallow", "--stdout", f"{head}..{last}", strip_newline_in_stdout=False)
    path = scratch / "series.mbox"
    path.write_text(mails)
    return path


def reviewtool_build(mbox: Path, tree: Path, out: Path, config: str, cache: Path) -> dict:
    cmd = [sys.executable, "-m", "reviewtool", "build", "--mbox", str(mbox), "--tree", str(tree),
           "--base", "HEAD", "--out", str(out), "--config", config, "--no-full-build", "--no-ccache", "--json"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "REVIEWTOOL_CACHE": str(cache)})
    if proc.returncode not in (0, 1):
        sys.exit(f"reviewtool build failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout)


def naive_samples(tree: Path, scratch: Path, config_name: str) -> dict[str, tuple[float, float]]:
    """Per arch: wall and CPU of one clean vmlinux build (W=1, no ccache) at the base."""
    head = worktree_git(tree).rev_parse("HEAD")
    config = load_config(config_name)
    samples = {}
    with worktree(tree, scratch / "naive", head) as work:
        for arch_name in ("x86_64", "arm64"):
            make = Make(work, scratch / f"naive-{arch_name}-out", load_arch(arch_name), ccache=False)
            configure(make, config, head, 3600)
            run, wall, cpu = timed(lambda: make.run(["vmlinux"], timeout_s=7200))
            if run.returncode:
                sys.exit(f"naive vmlinux build failed on {arch_name}:\n{run.output[-2000:]}")
            samples[arch_name] = (wall, cpu)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="mm-off")
    parser.add_argument("--keep", type=Path, help="work in DIR and keep it (default: a temp dir, removed)")
    args = parser.parse_args()
    scratch = args.keep or Path(tempfile.mkdtemp(prefix="bench-build-"))
    scratch.mkdir(parents=True, exist_ok=True)
    tree = managed_tree()
    try:
        mbox = make_series(tree, scratch)
        n = len(EDITS)
        print(f"series: {n} patches (11 C files, 1 header); arches x86_64 + arm64; config {args.config}; make -j2 W=1")

        first, wall1, cpu1 = timed(lambda: reviewtool_build(mbox, tree, scratch / "run", args.config, scratch / "cache"))
        per_patch = sum(r["duration_s"] for b in first["builds"] for r in b["patches"])
        base = sum(b["base"]["duration_s"] for b in first["builds"])
        objects = sum(len(r["objects"]) for b in first["builds"] for r in b["patches"])
        statuses = sorted({r["status"] for b in first["builds"] for r in b["patches"]})
        print(f"per-patch (reviewtool build, whole command): wall {wall1:7.1f} s  CPU {cpu1:7.1f} s")
        print(f"  of which make: base {base:.1f} s + {2 * n} patch builds {per_patch:.1f} s "
              f"({objects} objects, statuses {statuses})")

        _, wall2, cpu2 = timed(lambda: reviewtool_build(mbox, tree, scratch / "run2", args.config, scratch / "cache"))
        print(f"re-run, nothing changed:                      wall {wall2:7.1f} s  CPU {cpu2:7.1f} s")

        naive_wall = naive_cpu = 0.0
        for arch, (wall, cpu) in naive_samples(tree, scratch, args.config).items():
            print(f"naive sample: one clean {args.config} vmlinux on {arch}: wall {wall:7.1f} s  CPU {cpu:7.1f} s")
            naive_wall += wall * n
            naive_cpu += cpu * n
        print(f"naive, EXTRAPOLATED ({n} patches x the sample per arch): wall {naive_wall:7.1f} s  CPU {naive_cpu:7.1f} s")
        print(f"ratio naive / per-patch: wall {naive_wall / wall1:.1f}x  CPU {naive_cpu / cpu1:.1f}x "
              f"(per-patch includes worktree, apply, configure and base build)")
        print(f"ratio naive / per-patch make runs only (base + patches): wall {naive_wall / (base + per_patch):.1f}x")
    finally:
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
