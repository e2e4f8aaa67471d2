"""`reviewtool diff`: what changed between revisions of a series, and what became of the review."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from reviewtool.commands._source import add_fetch_arguments, check_fetch_arguments, output_dir
from reviewtool.diffreport import version_report, write_version_report
from reviewtool.errors import EXIT_CLEAN, UsageError
from series.assemble import assemble_series, revisions
from series.b4env import quiet_b4
from series.earlier import find_earlier_revisions, find_predecessor_by_content
from series.load import bundled_thread_path, load_thread
from series.model import Series
from series.rangediff import is_repository
from series.versions import posting_date

EPILOG = """\
examples:
  reviewtool diff --bundled pte-v1 --bundled pte-v2 --bundled pte-v3 --out /tmp/pte
  reviewtool diff --bundled pte-v2 --bundled pte-v3 --json > versions.json
  reviewtool diff 20211110105428.32458-1-zhengqi.arch@bytedance.com   # from lore, earlier versions looked up

Each SOURCE is an mbox, a maildir, a Message-ID or a lore URL; a thread holding
several revisions gives all of them. Revisions may be given in any order.
Several postings with the same version number (a re-post, a new RFC, a
re-titled series) are ordered by date; a posting linked to the one before it
by content only (re-titled, same version number) is marked "inferred".
A single Message-ID or URL alone: the earlier revisions are looked up on the
server as b4 diff does (change-id, else subject + author), and failing that
the author's latest earlier posting on the same files that shares functions
or changed lines (a re-titled re-post or new RFC; the link is "inferred").
Writes versions.html, versions.md and versions.json into --out (default: ./versions).
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "diff",
        help="compare revisions of a series: patch pairing, interdiffs, changelog, review comments",
        description="Compare the revisions of a series (v1, v2, v3...) without a kernel tree.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("sources", nargs="*", metavar="SOURCE", help="thread: mbox, maildir, Message-ID or lore URL")
    parser.add_argument("--mbox", action="append", default=[], metavar="FILE", help="a thread as an mbox file (repeatable)")
    parser.add_argument("--bundled", action="append", default=[], metavar="NAME",
                        help="a thread shipped with reviewtool, e.g. pte-v2 (repeatable)")
    add_fetch_arguments(parser)
    parser.add_argument("--tree", type=Path, metavar="DIR",
                        help="a git tree with the preimage blobs: also show git range-diff (the tree is only read)")
    parser.add_argument("--out", type=Path, default=Path("versions"), metavar="DIR", help="report directory")
    parser.add_argument("--json", action="store_true", help="print the report as JSON on stdout")
    parser.set_defaults(command_module=sys.modules[__name__])


def _is_network(source: str) -> bool:
    return source != "-" and not Path(source).exists()


def load_revisions(sources: list[str], midmask: str | None = None, timeout: float = 30.0) -> list[Series]:
    """Every revision found in the given threads.

    Two sources may hold postings with the same version number (a re-post
    under a new title, a fresh RFC): both are kept, and ordered by date
    later. When the only input is one revision fetched from a server, its
    earlier revisions are looked up there too, as `b4 diff` does.
    """
    threads = []
    for source in sources:
        print(f"reviewtool diff: reading {source}", file=sys.stderr)
        thread = load_thread(source, midmask=midmask, timeout=timeout)
        threads.append((source, thread.messages, revisions(thread.messages)))
    if len(threads) == 1 and len(threads[0][2]) == 1 and _is_network(sources[0]):
        source, messages, (newest,) = threads[0]
        earlier = find_earlier_revisions(messages, newest, midmask=midmask, timeout=timeout)
        if earlier:
            threads.append((f"the server's search for v1..v{newest - 1}", earlier, revisions(earlier)))
        else:
            earlier = find_predecessor_by_content(assemble_series(messages, newest), midmask=midmask,
                                                  timeout=timeout)
            if earlier:
                threads.append(("the server's search by author and files (inferred)", earlier, revisions(earlier)))
            else:
                print("reviewtool diff: the server found no earlier revision", file=sys.stderr)
    found: list[tuple[Series, str]] = []
    for source, messages, revs in threads:
        for rev in revs:
            found.append((assemble_series(messages, rev), source))
    for rev in sorted({s.revision for s, _ in found}):
        same = sorted(((posting_date(s), src) for s, src in found if s.revision == rev))
        if len(same) > 1:
            print(f"reviewtool diff: v{rev} is posted {len(same)} times; ordered by date: "
                  + ", then ".join(f"{src} ({date[:10]})" for date, src in same), file=sys.stderr)
    return [s for s, _ in found]


def run(args: argparse.Namespace) -> int:
    quiet_b4(getattr(args, "verbose", False))
    sources = [*args.mbox, *(str(bundled_thread_path(n)) for n in args.bundled), *args.sources]
    if not sources:
        raise UsageError("give the threads to compare: SOURCE..., --mbox FILE or --bundled NAME")
    check_fetch_arguments(args)
    if args.tree and not is_repository(args.tree):
        raise UsageError(f"--tree {args.tree}: not a git repository")
    output_dir(args.out, "--out", create=False)
    report = version_report(load_revisions(sources, args.midmask, args.timeout), tree=args.tree)
    paths = write_version_report(report, output_dir(args.out, "--out"))  # made only for a report
    if args.json:
        json.dump(report, sys.stdout, indent=1, ensure_ascii=False)
        sys.stdout.write("\n")
    for p in paths:
        print(f"reviewtool diff: wrote {p}", file=sys.stderr)
    return EXIT_CLEAN
