"""`reviewtool check`: checkpatch.pl and the acquire/release pair scan on every patch of a series.

checkpatch.pl is the tree's (or the one --checkpatch names, then no tree is
needed), run on each patch mail in parallel.  The pair scan looks at each C
function a patch touches, after and before the patch, and reports only the
imbalances the patch introduces or changes.  The post-images are made in
memory on top of the tree's files; where a patch's hunks do not fit the tree
the file is judged from its hunks alone (confidence "low").
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from kernel.checkpatch import CheckpatchResult, find_checkpatch, has_history, run_checkpatch
from kernel.pairdiff import PatchPairFinding, series_pair_findings
from kernel.pairrules import DEFAULT_RULES, load_rules
from kernel.progress import step
from kernel.tree import open_user_tree, resolve_tree
from reviewtool.commands._sandbox import add_sandbox_argument, sandbox_from_args
from reviewtool.commands._source import add_source_arguments, series_from_args
from reviewtool.errors import UsageError
from reviewtool.findings import (NEEDS_HISTORY, checkpatch_findings, counter_of, exit_code, missing_text,
                                 pairscan_findings, patch_files, series_findings)
from reviewtool.jsondata import to_jsonable
from reviewtool.model import CHECKPATCH, NO_HISTORY, Finding

EPILOG = """examples:
  reviewtool check --bundled pte-v3                  # on the managed linux-source-6.1 tree
  reviewtool check --bundled pte-v3 --tree ~/linux --json
  reviewtool check --bundled pte-v3 --no-pairs --checkpatch ~/linux/scripts/checkpatch.pl   # no tree
  reviewtool check --bundled pte-v3 --no-checkpatch  # the pair scan alone

The tree's own checkpatch.pl runs under bubblewrap (see `reviewtool build --help`);
without bubblewrap it is refused unless --no-sandbox is given.

exit status: 0 clean, 1 findings (checkpatch ERROR or WARNING, a pair imbalance of high or medium
confidence, a missing patch, the kernel test robot's errors; CHECK is shown, not counted), 2 bad input,
3 a tool failed
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "check", help="checkpatch.pl and the get/put pair scan on each patch",
        description=__doc__, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_source_arguments(parser)
    parser.add_argument("--tree", type=Path, metavar="DIR",
                        help="kernel git checkout (default: the managed linux-source-6.1 tree, "
                             "unless --checkpatch is given)")
    add_check_arguments(parser)
    parser.add_argument("-j", "--jobs", type=int, metavar="N", help="parallel checkpatch runs (default: CPUs)")
    parser.add_argument("--json", action="store_true", help="machine output on stdout")
    parser.set_defaults(command_module=sys.modules[__name__])


def add_rules_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rules", type=Path, default=DEFAULT_RULES, metavar="FILE",
                        help="pair rules (default: kernel/pairs.toml)")


def add_check_arguments(parser: argparse.ArgumentParser) -> None:
    """Which checks run and with what: shared with b4-check (see check_arguments)."""
    parser.add_argument("--checkpatch", type=Path, metavar="PATH", help="checkpatch.pl to run")
    add_rules_argument(parser)
    parser.add_argument("--no-checkpatch", action="store_true", help="skip checkpatch.pl")
    parser.add_argument("--no-pairs", action="store_true", help="skip the pair scan")
    add_sandbox_argument(parser)


def check_arguments(args: argparse.Namespace) -> None:
    """Refuse option values that would only fail (or do nothing) after the slow steps."""
    if getattr(args, "jobs", None) is not None and args.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    if getattr(args, "no_checkpatch", False) and getattr(args, "no_pairs", False):
        raise UsageError("nothing to do: both --no-checkpatch and --no-pairs given")


def run(args: argparse.Namespace) -> int:
    check_arguments(args)
    rules = load_rules(args.rules)  # bad rules or a bad tree fail before any slow step
    tree: Path | None = open_user_tree(args.tree) if args.tree else None
    _thread, series = series_from_args(args)
    if tree is None and not args.checkpatch:
        step("using the managed linux-source-6.1 tree (first use unpacks it)")
        tree = resolve_tree(None)
    labels = [series.label(p.counter) for p in series.patches]
    checks: list[CheckpatchResult] = []
    pairs: list[PatchPairFinding] = []
    if not args.no_checkpatch:
        script = find_checkpatch(tree, args.checkpatch)
        step(f"checkpatch: {len(labels)} patches with {script}")
        checks = run_checkpatch([(lb, p.mbox) for lb, p in zip(labels, series.patches)], script, tree, args.jobs,
                                sandbox_from_args(args))
    if not args.no_pairs:
        step(f"pair scan: {len(labels)} patches" + (f" on top of {tree}" if tree else ", hunks only (no tree)"))
        pairs = series_pair_findings([(lb, p.diff) for lb, p in zip(labels, series.patches)], tree, rules)
    found = (series_findings(series) + checkpatch_findings(checks, patch_files(series), has_history(tree))
             + pairscan_findings([(counter_of(f.patch), f) for f in pairs]))
    if args.json:
        doc = {"revision": series.revision, "subject": series.subject, "tree": str(tree or ""),
               "missing": series.missing, "checkpatch": to_jsonable(checks), "pairs": to_jsonable(pairs),
               "findings": to_jsonable(found)}
        json.dump(doc, sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(render(checks, pairs, args, missing_text(series), found))
    return exit_code(found)


def render(checks: list[CheckpatchResult], pairs: list[PatchPairFinding], args: argparse.Namespace,
           missing: str, found: list[Finding]) -> str:
    """The tools' own lines per patch; what the tree could not check and what is missing, once."""
    lines: list[str] = []
    if missing:
        lines.append(f"note: {missing}: those patches are not checked")
    lines += [f"note: {f.title}" for f in found if f.kind == NO_HISTORY]
    if not args.no_checkpatch:
        shown = [(r.patch, f) for r in checks for f in r.findings
                 if not (f.type in NEEDS_HISTORY and any(x.kind == NO_HISTORY for x in found))]
        counted = sum(1 for f in found if f.kind == CHECKPATCH and f.counts)
        lines.append(f"checkpatch: {len(shown)} findings ({counted} errors and warnings) in "
                     f"{len({label for label, _ in shown})} of {len(checks)} patches")
        for label, f in shown:
            where = f"{f.file}:{f.line}" if f.file else "(commit)"
            lines.append(f"  {label} {f.level}:{f.type} {where}: {f.message.splitlines()[0]}")
    if not args.no_pairs:
        lines.append(f"pair scan: {len(pairs)} imbalances introduced or changed")
        for f in pairs:
            lines.append(f"  {f.patch} {f.file}:{f.line} {f.function}() [{f.kind}, {f.confidence}, {f.basis}]")
            lines.append(f"      {f.message}")
            lines.append(f"      in {f.hunk}")
            if f.path:
                lines.append(f"      path: {'; '.join(f.path)}")
            lines.extend(f"      note: {n}" for n in f.notes)
    return "\n".join(lines) + "\n"
