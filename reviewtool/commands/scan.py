"""`reviewtool scan`: audit C files or directories for unbalanced acquire/release pairs.

Every imbalance that exists is reported, not only new ones (that is what
`reviewtool check` does for a series), so this is an audit aid: read each
finding's path before believing it.  Functions are parsed with tree-sitter-c
and walked path by path; rules come from kernel/pairs.toml or --rules.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from kernel.errors import KernelInputError
from kernel.pairaudit import audit, c_files
from kernel.pairrules import load_rules
from kernel.progress import step
from reviewtool.commands.check import add_rules_argument, check_arguments
from reviewtool.errors import EXIT_CLEAN, EXIT_FINDINGS
from reviewtool.jsondata import to_jsonable

EPILOG = """examples:
  reviewtool scan --tree ~/linux mm/
  reviewtool scan --tree ~/linux mm/memory.c mm/gup.c --json
  cd ~/.cache/reviewtool/linux-source-6.1 && reviewtool scan mm/hmm.c   # the managed tree, once unpacked

PATHs are relative to --tree when it is given, else to the current directory.
exit status: 0 clean, 1 findings, 2 bad input
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "scan", help="audit files or directories for unbalanced get/put, lock/unlock",
        description=__doc__, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="C file or directory")
    parser.add_argument("--tree", type=Path, metavar="DIR", help="kernel source directory PATHs are in")
    add_rules_argument(parser)
    parser.add_argument("-j", "--jobs", type=int, metavar="N", help="parallel processes (default: CPUs)")
    parser.add_argument("--json", action="store_true", help="machine output on stdout")
    parser.set_defaults(command_module=sys.modules[__name__])


def run(args: argparse.Namespace) -> int:
    check_arguments(args)
    if args.tree is not None and not args.tree.is_dir():
        raise KernelInputError(f"--tree {args.tree}: not a directory")
    rules = load_rules(args.rules)
    root = args.tree.resolve() if args.tree else None
    paths = [(root / p if root and not p.is_absolute() else p).resolve() for p in args.paths]
    step(f"scan: {len(c_files(paths))} C files")
    found = audit(paths, rules, root or Path.cwd().resolve(), args.jobs)
    if args.json:
        json.dump(to_jsonable(found), sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        for ff in found:
            f = ff.finding
            sys.stdout.write(f"{ff.file}:{f.line}: {f.function}(): {f.kind} of {', '.join(f.resources)} "
                             f"[{f.confidence}]: {f.message}\n")
        sys.stdout.write(f"{len(found)} findings\n")
    return EXIT_FINDINGS if found else EXIT_CLEAN
