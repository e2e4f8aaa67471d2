"""--arch and --config, the same for `build` and `review`: names from kernel/arches and kernel/configs."""
from __future__ import annotations

import argparse

from kernel.matrix import DEFAULT_ARCHES, available, select_arches


def add_matrix_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--arch", action="append", metavar="ARCH[,ARCH...]",
                        help=f"build these arches: repeatable or comma-separated, or `all` (every arch "
                             f"whose compiler is installed; see scripts/setup.sh --arches). Known: "
                             f"{', '.join(available('arches'))} (default: {', '.join(DEFAULT_ARCHES)})")
    parser.add_argument("--config", action="append", choices=available("configs"), metavar="NAME",
                        help=f"build this config (repeatable; default: all of {', '.join(available('configs'))}; "
                             "`auto` is derived from the series)")


def arches(args: argparse.Namespace) -> list[str]:
    return select_arches(args.arch)


def configs(args: argparse.Namespace) -> list[str]:
    return args.config or available("configs")
