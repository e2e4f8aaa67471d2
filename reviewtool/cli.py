"""Command line: one subcommand per module in reviewtool.commands.

Every error is turned into one line on stderr and an exit code here, and only
here: 0 clean, 1 findings, 2 bad input or usage, 3 a tool or the machine failed.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
from importlib.metadata import version
from types import ModuleType

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
