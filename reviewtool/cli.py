"""Command line: one subcommand per module in reviewtool.commands.

Every error is turned into one line on stderr and an exit code here, and only
here: 0 clean, 1 findings, 2 bad input or usage, 3 a tool or the machine failed,
or a bug of ours (its traceback goes to a crash log, not to the terminal).
"""
from __future__ import annotations

import argparse
import datetime
import logging
import os
import sys
import traceback
from importlib.metadata import version
from pathlib import Path
from types import ModuleType

from kernel.tree import default_cache_dir

from reviewtool import commands
from reviewtool.errors import EXIT_INFRA, EXIT_USAGE, INFRA_ERRORS, USER_ERRORS, one_line


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="reviewtool",
        description="Review a Linux kernel patch series from the mailing list.",
        epilog="example: reviewtool review --bundled pte-v3   (see 'reviewtool COMMAND --help')",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging on stderr")
    parser.add_argument("--version", action="version", version=f"reviewtool {version('reviewtool')}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in commands.ALL:
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s: %(message)s",
    )
    module: ModuleType = args.command_module
    try:
        return int(module.run(args))
    except USER_ERRORS as exc:
        print(f"reviewtool: error: {one_line(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except INFRA_ERRORS as exc:
        print(f"reviewtool: failed: {one_line(exc)}", file=sys.stderr)
        return EXIT_INFRA
    except KeyboardInterrupt:
        print("reviewtool: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader went away (`reviewtool show --json | head`): stop quietly, as a killed C tool would
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return 141
    except Exception as exc:  # a bug of ours: never exit 1, which means "findings"
        log = crash_log(args, argv)
        print(f"reviewtool: internal error: {one_line(exc, 300)}; please report it with {log}",
              file=sys.stderr)
        return EXIT_INFRA


def crash_log(args: argparse.Namespace, argv: list[str] | None) -> Path | str:
    """Write the traceback where the user will look: the run directory (--out) if the
    command has one, else the cache's crashes/ directory. Returns its path."""
    out = getattr(args, "out", None)
    folder = Path(out) if out and not Path(out).is_file() else default_cache_dir() / "crashes"
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    path = folder / f"crash-{stamp}-{os.getpid()}.log"
    text = (f"reviewtool {version('reviewtool')}\nargv: {argv if argv is not None else sys.argv[1:]}\n\n"
            + traceback.format_exc())
    try:
        folder.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError:
        print(text, file=sys.stderr)  # nowhere to write it: the traceback must not be lost
        return "the traceback above"
    return path
