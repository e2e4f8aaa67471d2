"""`reviewtool review`: the main job: every stage, a run directory, a report and reply drafts."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from kernel.matrix import available
from kernel.tree import default_cache_dir, open_user_tree
from reviewtool.cache import StageCache
from reviewtool.commands._source import add_source_arguments, load_from_args, output_dir
from reviewtool.commands.check import check_arguments
from reviewtool.commands.diff import load_revisions
from reviewtool.diffreport import write_version_report
from reviewtool.drafts import check_sender, default_from, slug, write_drafts
from reviewtool.errors import EXIT_CLEAN, EXIT_FINDINGS
from reviewtool.jsondata import write_atomic
from reviewtool.pipeline import ReviewOptions, load_series, progress, run_review
from reviewtool.report import count_findings, write_report
from series.load import Thread, bundled_thread_path
from series.model import Series

PLACEHOLDER_FROM = "Reviewer <reviewer@example.invalid>"

EPILOG = """\
examples:
  reviewtool review --bundled pte-v3 --previous bundled:pte-v1 --previous bundled:pte-v2 --out runs/pte-v3
  reviewtool review --bundled pte-v3 --no-build --from "Me <me@example.org>" --out /tmp/pte-v3
  reviewtool review 20211110105428.32458-1-zhengqi.arch@bytedance.com --tree ~/linux --base v6.1 --no-build --json

Writes into --out: thread.mbox (the mails as read), results.json, report.html,
report.md, drafts/*.eml (never sent), versions/ (with --previous).
Exit: 0 nothing found, 1 findings, 2 bad input or usage, 3 a tool failed.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "review", help="the whole review: apply, build, check, comments, versions, report, drafts",
        description="Review a patch series: apply it to a kernel tree in a worktree, cross-build "
                    "each patch, run checkpatch and the pair scan, tie the thread's review comments "
                    "to the hunks, compare with earlier versions, and write a report and reply drafts.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_source_arguments(parser)
    parser.add_argument("--out", type=Path, metavar="DIR",
                        help="run directory (default: runs/<series>-v<N>)")
    parser.add_argument("--base", default="", metavar="REF", help="apply on this commit (default: the "
                        "series' base-commit, else a guess from the index lines, else HEAD)")
    add_review_options(parser)
    parser.add_argument("--previous", action="append", default=[], metavar="SOURCE",
                        help="an earlier version's thread (mbox, Message-ID, or bundled:NAME); repeatable")
    parser.add_argument("--no-cache", action="store_true", help="recompute every stage")
    parser.add_argument("--json", action="store_true", help="print results.json on stdout")
    parser.set_defaults(command_module=sys.modules[__name__])


def add_review_options(parser: argparse.ArgumentParser) -> None:
    """How each review runs: shared by `review` and `watch`."""
    parser.add_argument("--tree", type=Path, metavar="DIR",
                        help="your kernel git checkout (never modified; default: the managed 6.1 tree)")
    parser.add_argument("--arch", action="append", choices=available("arches"), metavar="ARCH",
                        help=f"build this arch (repeatable; default: all of {', '.join(available('arches'))})")
    parser.add_argument("--config", action="append", choices=available("configs"), metavar="NAME",
                        help=f"build this config (repeatable; default: all of {', '.join(available('configs'))})")
    parser.add_argument("--no-build", action="store_true", help="skip the builds")
    parser.add_argument("--no-checks", action="store_true", help="skip checkpatch and the pair scan")
    parser.add_argument("--checkpatch", type=Path, metavar="PATH", help="checkpatch.pl to use")
    parser.add_argument("--from", dest="mail_from", metavar="'NAME <EMAIL>'",
                        help="From: of the reply drafts (default: git config user.name/user.email)")
    parser.add_argument("--jobs", "-j", type=int, metavar="N", help="parallel jobs (default: all cores)")
    parser.add_argument("--cache-dir", type=Path, metavar="DIR",
                        help="stage results and build directories (default: $REVIEWTOOL_CACHE, "
                             "else ~/.cache/reviewtool; the managed kernel tree stays there too)")


def _previous_sources(values: list[str]) -> list[str]:
    return [str(bundled_thread_path(v.removeprefix("bundled:"))) if v.startswith("bundled:") else v
            for v in values]


def draft_sender(given: str | None) -> str:
    """--from, else git's identity, else a placeholder the user must edit (said on stderr)."""
    if given:
        check_sender(given)
        return given
    if given := default_from():
        return given
    progress(f"no --from and no git config user.email: drafts are From: {PLACEHOLDER_FROM}")
    return PLACEHOLDER_FROM


def run(args: argparse.Namespace) -> int:
    check_arguments(args)
    sender = draft_sender(args.mail_from)  # a bad --from or --tree fails now, not after the builds
    if args.tree:
        open_user_tree(args.tree)
    if args.out:
        output_dir(args.out, "--out", create=False)  # made once the thread is known good
    cache_dir = output_dir(args.cache_dir, "--cache-dir") if args.cache_dir else default_cache_dir()
    thread = load_from_args(args)
    cache = StageCache(cache_dir, enabled=not args.no_cache)
    series = load_series(thread, args.revision, cache)
    run_dir = output_dir(args.out or Path("runs") / f"{slug(series.subject, 'series')}-v{series.revision}", "--out")
    opts = ReviewOptions(
        run_dir=run_dir.resolve(), cache_dir=cache_dir.resolve(), tree=args.tree, base=args.base,
        arches=args.arch or available("arches"), configs=args.config or available("configs"),
        build=not args.no_build, checks=not args.no_checks, checkpatch_script=args.checkpatch,
        jobs=args.jobs)
    earlier = load_revisions(_previous_sources(args.previous), args.midmask, args.timeout)
    results, findings = write_review(thread, series, earlier, opts, cache, sender)
    if args.json:
        json.dump(results, sys.stdout, indent=1, ensure_ascii=False)
        sys.stdout.write("\n")
    return EXIT_FINDINGS if findings else EXIT_CLEAN


def write_review(thread: Thread, series: Series, earlier: list[Series], opts: ReviewOptions,
                 cache: StageCache, sender: str) -> tuple[dict, int]:
    """The review of one revision written into opts.run_dir (thread.mbox, results.json, reports,
    drafts, versions/); returns the results and the number of findings. Shared by `review` and
    the watcher's jobs, so both write the same run directory."""
    run_dir = opts.run_dir
    (run_dir / "thread.mbox").write_bytes(thread.raw)
    results = run_review(thread, series, opts, cache, earlier)
    if "versions" in results:
        write_version_report(results["versions"], run_dir / "versions")
    write_atomic(run_dir / "results.json", json.dumps(results, indent=1, ensure_ascii=False) + "\n")
    written = write_report(results, run_dir)
    written += write_drafts(results, series, run_dir, sender, thread.messages)
    findings = count_findings(results)
    for path in written:
        progress(f"wrote {path}")
    progress(f"{findings} findings; report: {run_dir / 'report.html'}")
    return results, findings
