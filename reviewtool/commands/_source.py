"""Where a command gets its thread: the source arguments shared by show, apply, build, check, review, diff.

    add_source_arguments(parser)        # SOURCE | --mbox FILE | --bundled NAME, --midmask, --revision, --timeout
    add_fetch_arguments(parser)         # --midmask, --timeout alone (diff takes several sources)
    output_dir(args.out, "--out", create=False)  # a bad path fails before the slow steps
    thread = load_from_args(args)       # series.load.Thread (raw bytes for the run dir)
    thread, series = series_from_args(args)

With no source at all the bundled v3 thread ("pte-v3") is used, so the README's
first command works on a fresh machine without network.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path

from reviewtool.errors import UsageError
from reviewtool.findings import missing_text
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
    add_fetch_arguments(parser)
    parser.add_argument("--revision", type=int, metavar="N", help="series revision vN (default: the highest)")


def add_fetch_arguments(parser: argparse.ArgumentParser) -> None:
    """--midmask and --timeout: how Message-IDs and URLs are fetched (checked by check_fetch_arguments)."""
    parser.add_argument(
        "--midmask", metavar="URL",
        help="public-inbox server for Message-IDs, b4 style: https://lore.kernel.org/all/%%s "
             "(default: git config b4.midmask, else lore.kernel.org)",
    )
    parser.add_argument("--timeout", type=float, default=30.0, metavar="SECONDS",
                        help="network timeout per request (default: 30)")


def check_fetch_arguments(args: argparse.Namespace) -> None:
    if args.midmask and "%s" not in args.midmask:
        raise UsageError("--midmask needs a %s where the Message-ID goes, e.g. https://lore.kernel.org/all/%s")
    if args.midmask and not args.midmask.startswith(("http://", "https://")):
        raise UsageError(f"--midmask {args.midmask}: not an http(s) URL, e.g. https://lore.kernel.org/all/%s")
    if not math.isfinite(args.timeout) or args.timeout <= 0:  # nan and inf reach the socket as errors
        raise UsageError("--timeout must be a positive number of seconds")


def load_from_args(args: argparse.Namespace) -> Thread:
    """The thread the arguments name (exactly one source, or the bundled default)."""
    quiet_b4(getattr(args, "verbose", False))
    given = [name for name in ("source", "mbox", "bundled") if getattr(args, name, None)]
    if len(given) > 1:
        raise UsageError("give one thread source: SOURCE, --mbox or --bundled")
    check_fetch_arguments(args)
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
        f"reviewtool: v{series.revision}: {len(series.patches)} of {series.expected} patches"
        f"{f' ({missing_text(series)})' if series.missing else ''}, {len(series.thread)} mails",
        file=sys.stderr,
    )
    return thread, series


def output_dir(path: Path, option: str, *, create: bool = True) -> Path:
    """The directory an option names, made (create) or only checked, so that a path that
    cannot be a directory is told as bad input before the slow steps, and never as a traceback."""
    existing = next((p for p in (path, *path.parents) if p.exists()), None)
    if existing is not None and not existing.is_dir():
        raise UsageError(f"{option} {path}: {existing} is not a directory")
    if create:
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"{option} {path}: cannot make the directory ({exc.strerror})") from None
        if not os.access(path, os.W_OK | os.X_OK):
            raise UsageError(f"{option} {path}: the directory is not writable")
    return path
