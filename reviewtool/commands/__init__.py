"""Subcommands. Each module has `register(subparsers)` and `run(args) -> exit code`.

`register` must call `parser.set_defaults(command_module=<module>)`.
"""
from types import ModuleType

ALL: list[ModuleType] = []
