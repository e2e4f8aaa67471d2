"""Load the acquire/release rules of the pair scan from a TOML data file.

The rules are data (kernel/pairs.toml) so that adding a lock or a refcount
API means adding a table, not code, as tuxmake does for architectures.
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from kernel.errors import KernelInputError

DEFAULT_RULES = Path(__file__).with_name("pairs.toml")
SUCCESS_VALUES = ("always", "nonnull", "nonzero", "zero")


@dataclass(frozen=True)
class Action:
    """What one call does to held resources (an acquire, a release or a releasing callee)."""

    name: str
    resources: tuple[str, ...]
    keys: dict[str, int] = field(default_factory=dict)  # resource -> argument index naming it
    success: str = "always"  # acquires only: which result means "taken"
    idempotent: bool = False  # releases only: calling it with nothing held is harmless
    note: str = ""
    by_callee: bool = False  # a [[callee]]: releases what its caller took, as a side effect

    def __hash__(self) -> int:
        return hash((self.name, self.resources))


@dataclass(frozen=True)
class Rules:
    """All rules, indexed by function name."""

    acquires: dict[str, Action]
    releases: dict[str, Action]  # both [[release]] and [[callee]] entries
    holders: dict[str, str]  # function -> why it returns holding resources
    zero_constants: frozenset[str]

    def __hash__(self) -> int:
        return id(self)

    def release_names_for(self, resource: str) -> list[str]:
        """Functions that drop `resource`, for messages ("without pte_unmap_unlock()")."""
        return [a.name for a in self.releases.values() if resource in a.resources]


def _action(entry: dict, resources_field: str, source: str, by_callee: bool = False) -> Action:
    try:
        name = entry["name"]
        resources = tuple(entry[resources_field])
    except (KeyError, TypeError) as exc:
        raise KernelInputError(f"{source}: rule {entry!r} lacks {exc}") from None
    success = entry.get("success", "always")
    if success not in SUCCESS_VALUES:
        raise KernelInputError(f"{source}: {name}: success must be one of {SUCCESS_VALUES}")
    keys = {str(k): int(v) for k, v in entry.get("key", {}).items()}
    unknown = set(keys) - set(resources)
    if unknown:
        raise KernelInputError(f"{source}: {name}: key for resources it does not handle: {unknown}")
    return Action(name, resources, keys, success, bool(entry.get("idempotent", False)),
                  entry.get("note", ""), by_callee)


def load_rules(path: Path | str = DEFAULT_RULES) -> Rules:
    """Read a rules file; a malformed file is the user's input error."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise KernelInputError(f"cannot read pair rules {path}: {exc.strerror}") from None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise KernelInputError(f"pair rules {path}: not a TOML file ({exc})") from None
    try:  # wrong shapes (a table where a list is due, a word where a number is) are input errors
        acquires = {a.name: a for a in (_action(e, "takes", str(path)) for e in data.get("acquire", []))}
        releases = {a.name: a for a in [_action(e, "drops", str(path)) for e in data.get("release", [])]
                    + [_action(e, "drops", str(path), by_callee=True) for e in data.get("callee", [])]}
        holders = {str(e.get("name")): str(e.get("note", "")) for e in data.get("holder", [])}
        zero = frozenset(map(str, data.get("zero_constants", [])))
    except (AttributeError, TypeError, ValueError) as exc:
        raise KernelInputError(f"pair rules {path}: malformed ({exc})") from None
    if not acquires or not releases:
        raise KernelInputError(f"pair rules {path}: needs [[acquire]] and [[release]] tables "
                               "(see kernel/pairs.toml)")
    return Rules(acquires, releases, holders, zero)
