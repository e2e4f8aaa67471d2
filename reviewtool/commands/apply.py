"""`reviewtool apply`: apply a series patch by patch to a private worktree of the kernel tree.

The user's checkout is never touched: the series goes into reviewtool's
persistent `git worktree` of the tree, in the cache (kernel.worktree).  A patch that does not apply is
checked file by file and hunk by hunk; the files whose hunks all apply are
applied anyway (status "partial"), so later patches and builds still see them.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path

from kernel.base import choose_base
from kernel.model import CLEAN, THREE_WAY, PatchText, SeriesApply
from kernel.progress import step
from kernel.tree import default_cache_dir, resolve_tree
from reviewtool import treestages
from reviewtool.cache import StageCache
from reviewtool.commands._source import add_source_arguments, series_from_args
from reviewtool.findings import apply_findings, exit_code, missing_text, series_findings
from reviewtool.jsondata import dumps, write_atomic
from reviewtool.treestages import LazyWorktree, TreeJob
from series.model import Series

EPILOG = """examples:
  reviewtool apply --bundled pte-v3                 # on the managed linux-source-6.1 tree
  reviewtool apply --bundled pte-v3 --tree ~/linux --base v6.1 --json
  git format-patch --thread --stdout v6.1..HEAD > s.mbox && reviewtool apply --mbox s.mbox --tree .

exit status: 0 every patch applied (cleanly or 3-way), 1 some patch failed, partly
applied, was skipped or is missing (or the kernel test robot reported errors),
2 bad input, 3 git or the machine failed
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "apply", help="apply the series patch by patch in a private worktree",
        description=__doc__, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_source_arguments(parser)
    add_tree_arguments(parser)
    parser.add_argument("--json", action="store_true", help="machine output on stdout")
    parser.set_defaults(command_module=sys.modules[__name__])


def add_tree_arguments(parser: argparse.ArgumentParser) -> None:
    """--tree, --base, --out, --no-cache: shared with `reviewtool build`."""
    parser.add_argument("--tree", type=Path, metavar="DIR",
                        help="kernel git checkout, never modified (default: the managed "
                             "linux-source-6.1 tree in the cache, unpacked on first use)")
    parser.add_argument("--base", default="", metavar="REF",
                        help="apply on this commit (default: the series' base-commit if the tree has "
                             "it, else a commit matching the patches' preimage blobs, else HEAD)")
    parser.add_argument("--out", type=Path, metavar="DIR",
                        help="run directory for the results (default: runs/<command>-v<N>)")
    parser.add_argument("--no-cache", action="store_true", help="recompute instead of reusing results")


def prepare(args: argparse.Namespace, command: str) -> tuple[Series, TreeJob]:
    """The series, and the job of placing it on the tree: shared with `reviewtool build`."""
    _thread, series = series_from_args(args)
    patches = [PatchText(p.counter, p.subject, p.mbox) for p in series.patches]
    tree = resolve_tree(args.tree)
    base = choose_base(tree, [p.mbox for p in patches], args.base, series.base_commit, series.base_hint)
    step(f"base: {base.describe} ({base.source})")
    if base.warning:
        step(f"warning: {base.warning}")
    run_dir = (args.out or Path("runs") / f"{command}-v{series.revision}").resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    return series, TreeJob(patches, tree, base, run_dir, StageCache(default_cache_dir(), not args.no_cache))


def run(args: argparse.Namespace) -> int:
    series, job = prepare(args, "apply")
    with contextlib.ExitStack() as stack:
        applied = treestages.applied(job, LazyWorktree(job, stack))
    write_atomic(job.run_dir / "apply.json", dumps(applied) + "\n")
    if args.json:
        print(json.dumps(json.loads(dumps(applied)), indent=1))
    else:
        print(format_table(applied, series))
    return exit_code(series_findings(series) + apply_findings(applied))


def format_table(applied: SeriesApply, series: Series) -> str:
    lines = [f"base: {applied.base.describe} ({applied.base.source})"]
    if applied.base.warning:
        lines.append(f"warning: {applied.base.warning}")
    for p in applied.patches:
        alone = {None: "", True: "  (applies alone to the base)", False: "  (not alone either)"}[p.applies_to_base]
        lines.append(f"{p.counter:>3} {p.status:8} {p.subject[:70]}{alone}")
        if p.status not in (CLEAN, THREE_WAY) and p.applied_files:
            lines.append(f"      applied: {', '.join(p.applied_files)}")
        lines += [f"      failed:  {f.file} {f.hunk}  [{f.reason}]" for f in p.failed]
        if p.message and not p.failed:
            lines.append(f"      {p.message.splitlines()[-1]}")
    if series.missing:
        lines.append(f"    {missing_text(series)}  (no mail for these patches in the thread)")
    return "\n".join(lines)
