"""--no-sandbox: shared by every command that runs code from the tree (build, check, review, b4-check).

    add_sandbox_argument(parser)
    sandbox = sandbox_from_args(args)   # kernel.sandbox.Sandbox; .label goes into the results
"""
from __future__ import annotations

import argparse

from kernel.sandbox import Sandbox


def add_sandbox_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--no-sandbox", action="store_true",
        help="run make and the tree's scripts without bubblewrap, as yourself, with your network "
             "and home directory (only for patches you trust; the results say so)")


def sandbox_from_args(args: argparse.Namespace) -> Sandbox:
    return Sandbox(enabled=not args.no_sandbox)
