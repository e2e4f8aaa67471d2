"""Subcommands. Each module has `register(subparsers)` and `run(args) -> exit code`.

`register` must call `parser.set_defaults(command_module=<module>)`.
"""
from types import ModuleType

from reviewtool.commands import b4check, check, diff, review, scan, show, apply, build, report, watch, workers

ALL: list[ModuleType] = [show, check, scan, review, report, diff, b4check, apply, build, watch, workers]
