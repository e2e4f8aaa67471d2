"""`reviewtool watch`: follow a public-inbox, review every new series once per change, keep an index."""
from __future__ import annotations

import argparse
import contextlib
import fcntl
import math
import os
import signal
import sys
import time
from pathlib import Path
from types import FrameType

from kernel.tree import default_cache_dir, open_user_tree
from reviewtool.cluster import local_cluster
from reviewtool.commands._source import output_dir
from reviewtool.commands.check import check_arguments
from reviewtool.commands._matrix import arches as matrix_arches
from reviewtool.commands._matrix import configs as matrix_configs
from reviewtool.commands.review import add_review_options, draft_sender
from reviewtool.drafts import slug
from reviewtool.errors import EXIT_CLEAN, INFRA_ERRORS, USER_ERRORS, ClusterLost, UsageError, one_line
from reviewtool.jobs import JobOptions, LocalRunner
from reviewtool.watch.inbox import inbox_epochs
from reviewtool.watch.watcher import WatchConfig, Watcher, say

EPILOG = """\
examples:
  reviewtool watch https://lore.kernel.org/linux-mm/ --once --no-build --out watch/linux-mm
  reviewtool watch /srv/public-inbox/linux-mm --interval 300 --grace 1800 --arch x86_64 --config mm-off
  reviewtool watch ~/inboxes/test --once --no-build --drafts-maildir ~/Mail/drafts

INBOX is a public-inbox v2 directory (with git/0.git ...) or its http(s) URL;
its git epochs are mirrored into --out/mirror and fetched incrementally.
--out also holds state.sqlite, runs/<series>-v<N>-<id>/ (one run directory per
series, refreshed when replies arrive) and index.html / index.json.
The builds go to a Dask cluster: --scheduler's, else a local one started for
the watch's lifetime. A scheduler lost mid-review leaves the review queued:
the next poll (or run, with --once) does it once the scheduler is back.
Exit: 0 done or stopped by SIGTERM/SIGINT, 2 bad input or usage, 3 a tool,
the server or the Dask scheduler failed.
"""


class Stopped(BaseException):
    """SIGTERM or SIGINT: leave the current step (its transaction rolls back) and exit cleanly."""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "watch", help="follow a public-inbox: review each new series, refresh on replies, keep an index",
        description="Watch a public-inbox mailing list archive: every new series is reviewed when all its "
                    "patches are there (or after a grace period), compared with its earlier versions found "
                    "in the same inbox, and re-reviewed when replies arrive.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("inbox", metavar="INBOX", help="public-inbox v2 directory or its http(s) URL")
    parser.add_argument("--out", type=Path, metavar="DIR",
                        help="state, mirror, run directories and index (default: watch/<inbox name>)")
    parser.add_argument("--once", action="store_true", help="process what is new, then exit (cron, timers)")
    parser.add_argument("--interval", type=float, default=300.0, metavar="SECONDS",
                        help="seconds between polls (default: 300)")
    parser.add_argument("--grace", type=float, default=3600.0, metavar="SECONDS",
                        help="how long an incomplete series waits for its missing patches before it is "
                             "reviewed with them reported missing (default: 3600)")
    parser.add_argument("--drafts-maildir", type=Path, metavar="DIR",
                        help="also file each reply draft into this Maildir (never sent)")
    parser.add_argument("--timeout", type=float, default=60.0, metavar="SECONDS",
                        help="network timeout of the inbox server (default: 60)")
    add_review_options(parser)
    parser.set_defaults(command_module=sys.modules[__name__])


def _check(args: argparse.Namespace) -> None:
    check_arguments(args)
    for name in ("interval", "grace", "timeout"):
        value = getattr(args, name)
        if not math.isfinite(value) or value < 0 or (name != "grace" and value == 0):
            raise UsageError(f"--{name} must be a {'non-negative' if name == 'grace' else 'positive'} "
                             "number of seconds")
    if args.tree:
        open_user_tree(args.tree)


def _lock(out: Path) -> int:
    """One watcher per output directory: a second one would review everything twice."""
    fd = os.open(out / "lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise UsageError(f"--out {out}: another reviewtool watch is using it") from None
    return fd


def _stop(signum: int, frame: FrameType | None) -> None:
    for other in (signal.SIGTERM, signal.SIGINT):  # a second signal must not cut the clean-up short
        signal.signal(other, signal.SIG_IGN)
    raise Stopped(signal.Signals(signum).name)


def run(args: argparse.Namespace) -> int:
    _check(args)
    sender = draft_sender(args.mail_from)
    source = args.inbox if "://" in args.inbox else str(Path(args.inbox).resolve())
    inbox_epochs(source, args.timeout)  # a wrong INBOX fails before anything is written
    out = output_dir(args.out or Path("watch") / slug(args.inbox.rstrip("/").rsplit("/", 1)[-1], "inbox"), "--out")
    if args.drafts_maildir:
        output_dir(args.drafts_maildir, "--drafts-maildir")
    cache_dir = output_dir(args.cache_dir, "--cache-dir") if args.cache_dir else default_cache_dir()
    options = JobOptions(cache_dir=str(cache_dir.resolve()), mail_from=sender,
                         tree=str(args.tree.resolve()) if args.tree else None,
                         arches=matrix_arches(args), configs=matrix_configs(args),
                         build=not args.no_build, checks=not args.no_checks,
                         checkpatch=str(args.checkpatch.resolve()) if args.checkpatch else None, jobs=args.jobs,
                         full_build=not args.no_full_build, sandbox=not args.no_sandbox, scheduler=args.scheduler)
    config = WatchConfig(source=source,
                         out=out.resolve(), grace=args.grace, timeout=args.timeout, job_options=options,
                         drafts_maildir=args.drafts_maildir.resolve() if args.drafts_maildir else None)
    lock = _lock(out)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _stop)
    stack = contextlib.ExitStack()
    watcher = Watcher(config, LocalRunner())
    try:
        if not args.scheduler and not args.no_build:
            say("starting a local Dask cluster for the builds (one worker: every installed arch, all cores)")
            options.scheduler, options.local_cluster = stack.enter_context(local_cluster(cache_dir.resolve())), True
        _poll(watcher, args, out)
    except Stopped as stop:
        if requeued := watcher.state.requeue_interrupted():
            say(f"stopped by {stop}; {requeued} interrupted review(s) run again at the next start")
        else:
            say(f"stopped by {stop}")
        watcher.write_index()
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        watcher.close()
        stack.close()
        os.close(lock)
    return EXIT_CLEAN


def _poll(watcher: Watcher, args: argparse.Namespace, out: Path) -> None:
    """The first poll's errors end the command (most likely a wrong INBOX or option), and with
    --once every error does; else a server down for a while, or a lost Dask scheduler, is said
    in one line and the next poll catches up."""
    first = True
    while True:
        try:
            watcher.cycle()
        except (*USER_ERRORS, *INFRA_ERRORS) as exc:
            if args.once or (first and not isinstance(exc, ClusterLost)):
                raise
            say(f"poll failed, retried in {args.interval:g} s: {one_line(exc)}")
        if args.once:
            return
        first = False
        say(f"next poll in {args.interval:g} s (index: {out / 'index.html'})")
        time.sleep(args.interval)
