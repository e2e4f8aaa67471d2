"""`reviewtool review`: the main job: every stage, a run directory, a report and reply drafts."""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from kernel.tree import default_cache_dir, open_user_tree
from reviewtool.cache import StageCache
from reviewtool.cluster import check_scheduler
from reviewtool.commands._sandbox import add_sandbox_argument, sandbox_from_args
from reviewtool.commands._source import add_source_arguments, load_from_args, output_dir
from reviewtool.commands._matrix import add_matrix_arguments
from reviewtool.commands._matrix import arches as matrix_arches
from reviewtool.commands._matrix import configs as matrix_configs
from reviewtool.commands.check import check_arguments
from reviewtool.commands.diff import load_revisions
from reviewtool.diffreport import write_version_report
from reviewtool.drafts import check_sender, default_from, slug, write_drafts
from reviewtool.findings import exit_code
from reviewtool.jsondata import write_atomic
from reviewtool.model import to_json
from reviewtool.pipeline import ReviewOptions, load_series, progress, run_review, sha256
from reviewtool.model import Review
from reviewtool.report.render import write_report
from reviewtool.report.view import build_view
from reviewtool.timing import Timings
from series.load import Thread, bundled_thread_path
from series.model import Series

PLACEHOLDER_FROM = "Reviewer <reviewer@example.invalid>"

EPILOG = """\
examples:
  reviewtool review --bundled pte-v3 --previous bundled:pte-v1 --previous bundled:pte-v2 --out runs/pte-v3
  reviewtool review --bundled pte-v3 --no-build --from "Me <me@example.org>" --out /tmp/pte-v3
  reviewtool review --bundled pte-v3 --no-checks --arch x86_64 --config mm-off --scheduler local --out /tmp/pte-v3-dask
  reviewtool review --bundled pte-v3 --arch x86_64,i386 --config auto --out /tmp/pte-v3-auto
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
    add_matrix_arguments(parser)
    parser.add_argument("--no-build", action="store_true", help="skip the builds")
    parser.add_argument("--no-full-build", action="store_true",
                        help="skip vmlinux at the base and tip, even for full_build configs (objects only)")
    parser.add_argument("--scheduler", metavar="ADDR", type=scheduler_address,
                        help="run the builds as tasks on a Dask cluster: tcp://HOST:PORT of a "
                             "`dask scheduler`, or 'local' for a local cluster (default: `review` builds in "
                             "this process, `watch` on a local cluster it starts for its lifetime)")
    parser.add_argument("--no-checks", action="store_true", help="skip checkpatch and the pair scan")
    parser.add_argument("--checkpatch", type=Path, metavar="PATH", help="checkpatch.pl to use")
    add_sandbox_argument(parser)
    parser.add_argument("--from", dest="mail_from", metavar="'NAME <EMAIL>'",
                        help="From: of the reply drafts (default: git config user.name/user.email)")
    parser.add_argument("--jobs", "-j", type=int, metavar="N", help="parallel jobs (default: all cores)")
    parser.add_argument("--cache-dir", type=Path, metavar="DIR",
                        help="stage results and build directories (default: $REVIEWTOOL_CACHE, "
                             "else ~/.cache/reviewtool; the managed kernel tree stays there too)")


def scheduler_address(value: str) -> str:
    """'local', or a Dask scheduler address with its protocol and port."""
    if value == "local" or re.fullmatch(r"(tcp|tls)://[^\s/:]+:\d{1,5}", value):
        return value
    raise argparse.ArgumentTypeError(f"{value!r}: give tcp://HOST:PORT (a `dask scheduler`) or 'local'")


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
    sandbox = sandbox_from_args(args)
    if not (args.no_build and args.no_checks):
        sandbox.require()  # no bubblewrap: refused now, not after fetching and applying
    sender = draft_sender(args.mail_from)  # a bad --from or --tree fails now, not after the builds
    if args.tree:
        open_user_tree(args.tree)
    if args.scheduler and not args.no_build:
        check_scheduler(args.scheduler)
    if args.out:
        output_dir(args.out, "--out", create=False)  # made once the thread is known good
    cache_dir = output_dir(args.cache_dir, "--cache-dir") if args.cache_dir else default_cache_dir()
    timings = Timings()
    with timings.stage("thread"):
        thread = load_from_args(args)
    cache = StageCache(cache_dir, enabled=not args.no_cache)
    with timings.stage("series"):
        series = load_series(thread, args.revision, cache)
    run_dir = output_dir(args.out or Path("runs") / f"{slug(series.subject, 'series')}-v{series.revision}", "--out")
    opts = ReviewOptions(
        run_dir=run_dir.resolve(), cache_dir=cache_dir.resolve(), tree=args.tree, base=args.base,
        arches=matrix_arches(args), configs=matrix_configs(args),
        build=not args.no_build, checks=not args.no_checks, checkpatch_script=args.checkpatch,
        jobs=args.jobs, scheduler=args.scheduler, full_build=not args.no_full_build, sandbox=sandbox)
    with timings.stage("previous", f"{len(args.previous)} threads"):
        earlier = load_previous(_previous_sources(args.previous), args, cache)
    review = write_review(thread, series, earlier, opts, cache, sender, timings)
    if args.json:
        sys.stdout.write(to_json(review))
    return exit_code(review.findings)


def load_previous(sources: list[str], args: argparse.Namespace, cache: StageCache) -> list[Series]:
    """The earlier revisions; from the stage cache when every source is a local file it has seen
    (parsing and assembling three threads is most of a re-run), else read (and fetched) again."""
    if not all(Path(s).is_file() for s in sources):
        return load_revisions(sources, args.midmask, args.timeout)
    key = [sha256(Path(s).read_bytes()) for s in sources]
    return cache.get_or_compute("previous", key, list[Series],
                                lambda: load_revisions(sources, args.midmask, args.timeout))


def write_review(thread: Thread, series: Series, earlier: list[Series], opts: ReviewOptions,
                 cache: StageCache, sender: str, timings: Timings) -> Review:
    """The review of one revision written into opts.run_dir (thread.mbox, results.json, reports,
    drafts, versions/). Shared by `review` and the watcher's jobs, so both write the same run
    directory."""
    run_dir = opts.run_dir
    (run_dir / "thread.mbox").write_bytes(thread.raw)
    review = run_review(thread, series, opts, cache, earlier, timings)
    if review.versions is not None:
        with timings.stage("versions report"):
            write_version_report(review.versions, run_dir / "versions")
    view = build_view(review, cache)  # once, for the reports and the drafts
    with timings.stage("report"):
        written = write_report(view, run_dir)
    with timings.stage("drafts"):
        written += write_drafts(view, run_dir, sender, thread.messages)
    # Written last, so its timings (review.timings is timings.stages) include the report and drafts.
    write_atomic(run_dir / "results.json", to_json(review))
    for line in timings.summary():
        progress(f"time: {line}")
    for path in written:
        progress(f"wrote {path}")
    progress(f"{view.findings} findings; report: {run_dir / 'report.html'}")
    return review
