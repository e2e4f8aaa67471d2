"""Where a command gets its thread: the source arguments shared by show, apply, build, check, review, diff.

    add_source_arguments(parser)        # SOURCE | --mbox FILE | --bundled NAME, --midmask, --revision, --timeout
    thread = load_from_args(args)       # series.load.Thread (raw bytes for the run dir)
    thread, series = series_from_args(args)

With no source at all the bundled v3 thread ("pte-v3") is used, so the README's
first command works on a fresh machine without network.
"""
from __future__ import annotations

import argparse
import sys

from reviewtool.errors import UsageError
from series.assemble import assemble_series
from series.b4env import quiet_b4
from series.load import Thread, bundled_thread_names, bundled_thread_path, load_thread
from series.model import Series

DEFAULT_BUNDLED = "pte-v3"


def add_source_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("thread source (one of; default: --bundled pte-v3)")
    group.add_argument(
        "source", nargs="?", metavar="SOURCE",
        help="Message-ID (<...> optional), lore URL, mbox/maildir path, or - for stdin",
    )
    group.add_argument("--mbox", metavar="FILE", help="local mbox (mboxrd) file or maildir")
    group.add_argument(
        "--bundled", metavar="NAME",
        help=f"a thread shipped with reviewtool ({', '.join(bundled_thread_names())})",
    )
    parser.add_argument(
        "--midmask", metavar="URL",
        help="public-inbox server for Message-IDs, b4 style: https://lore.kernel.org/all/%%s "
             "(default: git config b4.midmask, else lore.kernel.org)",
    )
    parser.add_argument("--revision", type=int, metavar="N", help="series revision vN (default: the highest)")
    parser.add_argument("--timeout", type=float, default=30.0, metavar="SECONDS",
                        help="network timeout per request (default: 30)")


def load_from_args(args: argparse.Namespace) -> Thread:
    """The thread the arguments name (exactly one source, or the bundled default)."""
    quiet_b4(getattr(args, "verbose", False))
    given = [name for name in ("source", "mbox", "bundled") if getattr(args, name, None)]
    if len(given) > 1:
        raise UsageError("give one thread source: SOURCE, --mbox or --bundled")
    if args.midmask and "%s" not in args.midmask:
        raise UsageError("--midmask needs a %s where the Message-ID goes, e.g. https://lore.kernel.org/all/%s")
    if args.timeout <= 0:
        raise UsageError("--timeout must be positive")
    if args.mbox:
        source = args.mbox
    elif args.source:
        source = args.source
    else:
        source = str(bundled_thread_path(args.bundled or DEFAULT_BUNDLED))
    print(f"reviewtool: reading {source if source != '-' else 'stdin'}", file=sys.stderr)
    return load_thread(source, midmask=args.midmask, timeout=args.timeout)


def series_from_args(args: argparse.Namespace) -> tuple[Thread, Series]:
    thread = load_from_args(args)
    series = assemble_series(thread.messages, revision=args.revision)
    print(
        f"reviewtool: v{series.revision}: {len(series.patches)} of {series.expected} patches, "
        f"{len(series.thread)} mails",
        file=sys.stderr,
    )
    return thread, series
