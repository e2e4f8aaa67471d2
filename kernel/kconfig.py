"""The per-series config (`auto`): the options that make Kbuild compile every changed line.

Two halves:
- what a series needs (`series_wants`): for each changed C file, the options on
  the `obj-$(CONFIG_...)` lines that build it, up the directory Makefiles, and
  for each changed line the options of the #if branches around it (ppcond);
- turning them on for one arch (`set_options`): `scripts/config` and
  `olddefconfig` on top of the arch's defconfig, repeated while a wanted option
  is held back by an unmet `depends on` that can itself be turned on (or, for
  an option without a prompt, by turning on something that selects it).  What
  still cannot be set is returned with the dependency that blocks it.

The Kconfig files are read by a small reader (config blocks, `depends on`,
`select`, prompts, enclosing `if` and `menu` conditions): enough to follow
dependency chains, while the kernel's own olddefconfig stays the judge.
"""
from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import git

from kernel import ppcond
from kernel.make import Make, MakeRun

_ASSIGN = re.compile(r"^\s*([\w.-]+?)-(?:\$\(CONFIG_(\w+)\)|(y|objs|m))\s*[:+]?=\s*(.*)$", re.M)
_KBUILD_LISTS = {"obj", "lib", "subdir", "core", "drivers", "libs", "extra"}
_ROUNDS = 5  # dependency levels followed; each round is one olddefconfig
_NEVER = {"COMPILE_TEST", "BROKEN", "EXPERT"}  # never turned on to unblock something else


@dataclass
class Wants:
    """Options to set for a series, and why each one is wanted."""

    on: list[str] = field(default_factory=list)
    off: list[str] = field(default_factory=list)
    why: dict[str, list[str]] = field(default_factory=dict)  # option -> places that need it
    conflicts: list[str] = field(default_factory=list)  # wanted both set and unset: kept set

    def add(self, option: str, value: bool, place: str) -> None:
        chosen = self.on if value else self.off
        if option not in chosen:
            chosen.append(option)
        places = self.why.setdefault(option, [])
        if place not in places and len(places) < 3:
            places.append(place)


def series_wants(repo: git.Git, changes: dict[str, dict[str, list[int]]]) -> Wants:
    """Options for `changes`: {commit: {path: changed lines}} (each patch at its own commit)."""
    wants = Wants()
    for commit, files in changes.items():
        def read(path: str, commit: str = commit) -> str | None:
            try:
                return repo.show(f"{commit}:{path}")
            except git.GitCommandError:
                return None
        for path, lines in files.items():
            if path.endswith(".c"):
                for option in makefile_options(read, path):
                    wants.add(option, True, f"{path} (Makefile)")
            text = read(path) or ""
            found = ppcond.branches(text)
            for line in lines:
                for branch in ppcond.enclosing(found, line):
                    for option in branch.on:
                        wants.add(option, True, f"{path}:{line} ({branch.directive})")
                    for option in branch.off:
                        wants.add(option, False, f"{path}:{line} ({branch.directive})")
    wants.conflicts = sorted(set(wants.on) & set(wants.off))
    wants.off = [o for o in wants.off if o not in wants.conflicts]
    return wants


def makefile_options(read: Callable[[str], str | None], path: str) -> list[str]:
    """Options on the Kbuild lines that build `path` (a .c file), from its directory up."""
    options: list[str] = []
    directory = posixpath.dirname(path)
    target = posixpath.basename(path).rsplit(".", 1)[0] + ".o"
    while True:
        text = _makefile(read, directory)
        options += _options_for(text, target, set()) if text else []
        if not directory:
            return list(dict.fromkeys(options))
        # A directory without a Makefile is listed by its parent's: "compress/b.o".
        target = posixpath.basename(directory) + "/" + (target if text is None else "")
        directory = posixpath.dirname(directory)


def _makefile(read: Callable[[str], str | None], directory: str) -> str | None:
    for name in ("Kbuild", "Makefile"):
        text = read(posixpath.join(directory, name) if directory else name)
        if text is not None:
            return text.replace("\\\n", " ")
    return None


def _options_for(text: str, target: str, seen: set[str]) -> list[str]:
    """Options on the first assignment that lists `target`; composite objects followed."""
    for m in _ASSIGN.finditer(text):
        prefix, option, _plain, rhs = m.groups()
        if target not in rhs.split():
            continue
        own = [option] if option else []
        if prefix in _KBUILD_LISTS:
            return own
        composite = f"{prefix}.o"
        if composite in seen:
            return own
        return own + _options_for(text, composite, seen | {composite})
    return []


def defined_at(tree: Path, commit: str, options: list[str]) -> set[str]:
    """The `options` that some Kconfig file of `commit` defines (one git grep, no checkout):
    an option the series itself adds cannot be set on the base it is configured at."""
    if not options:
        return set()
    pattern = r"^\s*(menu)?config\s+(" + "|".join(map(re.escape, options)) + r")\s*$"
    try:
        out = git.Git(tree).grep("-h", "-E", pattern, commit, "--", "*Kconfig*")
    except git.GitCommandError:  # exit 1: none
        return set()
    return {line.split()[-1] for line in out.splitlines()}


# --- Kconfig: dependencies, prompts, selects -------------------------------------------------

@dataclass
class Symbol:
    depends: list[str] = field(default_factory=list)  # expressions, all must hold
    prompt: bool = False  # settable by a user (scripts/config); else only by select/default
    selected_by: list[str] = field(default_factory=list)


def read_kconfig(src: Path, srcarch: str) -> dict[str, Symbol]:
    """Every config symbol of the tree as seen from `srcarch` (other arches' Kconfig skipped)."""
    files = git.Git(src).ls_files("*Kconfig*").splitlines()
    symbols: dict[str, Symbol] = {}
    for name in files:
        if name.startswith("arch/") and not name.startswith(f"arch/{srcarch}/") and name != "arch/Kconfig":
            continue
        path = src / name
        if path.is_file():
            _parse_kconfig(path.read_text(errors="replace"), symbols)
    return symbols


def _parse_kconfig(text: str, symbols: dict[str, Symbol]) -> None:
    conditions: list[tuple[str, str]] = []  # ("if"|"menu", expr or "")
    current: Symbol | None = None
    name = ""
    help_indent: int | None = None
    for raw in text.replace("\\\n", " ").split("\n"):
        stripped = raw.strip()
        indent = len(raw) - len(raw.lstrip())
        if help_indent is not None:
            if not stripped or indent > help_indent:
                continue
            help_indent = None
        if not stripped or stripped.startswith("#"):
            continue
        word, _, rest = stripped.partition(" ")
        rest = rest.split("#")[0].strip() if '"' not in rest else rest.strip()
        if word in ("config", "menuconfig"):
            name = rest
            current = symbols.setdefault(name, Symbol())
            current.depends.extend(e for kind, e in conditions if e and e not in current.depends)
        elif word in ("choice", "endchoice", "comment", "source", "mainmenu"):
            current = None
        elif word == "if":
            conditions.append(("if", rest))
            current = None
        elif word == "menu":
            conditions.append(("menu", ""))
            current = None
        elif word in ("endif", "endmenu"):
            kind = "if" if word == "endif" else "menu"
            for i in range(len(conditions) - 1, -1, -1):
                if conditions[i][0] == kind:
                    del conditions[i]
                    break
            current = None
        elif word == "depends" and rest.startswith("on "):
            if current is not None:
                current.depends.append(rest[3:].strip())
            elif conditions and conditions[-1] == ("menu", ""):
                conditions[-1] = ("menu", rest[3:].strip())
        elif word in ("help", "---help---"):
            help_indent = indent
        elif current is not None and word in ("bool", "tristate", "string", "int", "hex", "prompt"):
            if rest.startswith('"'):
                current.prompt = True
        elif current is not None and word == "select":
            target = rest.split()[0] if rest else ""
            sel = symbols.setdefault(target, Symbol())
            if name not in sel.selected_by:
                sel.selected_by.append(name)


def read_config(dotconfig: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in dotconfig.read_text().splitlines():
        if line.startswith("CONFIG_"):
            key, _, value = line[7:].partition("=")
            values[key] = value
    return values


def is_set(values: dict[str, str], option: str) -> bool:
    return values.get(option, "n") not in ("n", "")


def set_options(make: Make, on: list[str], off: list[str], timeout_s: float | None,
                checked: Callable[[MakeRun, str], None]) -> dict[str, str]:
    """Set `on`/`off` in make.out/.config with the dependencies they need; {option: why not} for the rest."""
    dotconfig = make.out / ".config"
    symbols = read_kconfig(make.src, make.arch.srcarch)
    enable, disable = list(on), list(off)
    for _ in range(_ROUNDS):
        _scripts_config(make, dotconfig, enable, disable, timeout_s, checked)
        checked(make.run(["olddefconfig"], timeout_s=timeout_s), "olddefconfig")
        values = read_config(dotconfig)
        more_on, more_off = _unblockers(symbols, values, [o for o in enable if not is_set(values, o)],
                                        set(enable) | set(disable))
        more_off += _unselectors(symbols, values, [o for o in off if is_set(values, o)], set(enable) | set(disable))
        if not more_on and not more_off:
            break
        enable += more_on
        disable += more_off
    values = read_config(dotconfig)
    blocked = {o: _why_not(symbols, values, o, True) for o in on if not is_set(values, o)}
    blocked.update({o: _why_not(symbols, values, o, False) for o in off if is_set(values, o)})
    return blocked


def _scripts_config(make: Make, dotconfig: Path, enable: list[str], disable: list[str], timeout_s: float | None,
                    checked: Callable[[MakeRun, str], None]) -> None:
    """scripts/config is the tree's own (a patch may change it): it runs in make's sandbox."""
    args = [a for o in enable for a in ("--enable", o)] + [a for o in disable for a in ("--disable", o)]
    if args:
        checked(make.run_tool([str(make.src / "scripts" / "config"), "--file", str(dotconfig), *args],
                              timeout_s=timeout_s), "scripts/config")


def _unblockers(symbols: dict[str, Symbol], values: dict[str, str], unset: list[str],
                asked: set[str]) -> tuple[list[str], list[str]]:
    """Options to set (and unset) next so that the `unset` ones can be set."""
    more_on: list[str] = []
    more_off: list[str] = []
    for option in unset:
        sym = symbols.get(option)
        if sym is None:
            continue
        for expr in sym.depends:
            for term in _terms(expr):
                if _holds(term, values) is not False:
                    continue
                name, positive = _simple(term)
                if name and name not in asked and name not in _NEVER and name in symbols:
                    (more_on if positive else more_off).append(name)
                    asked.add(name)
        if not sym.prompt and sym.selected_by:
            selector = next((s for s in sym.selected_by if symbols.get(s, Symbol()).prompt
                             and s not in _NEVER), None)
            if selector and selector not in asked:
                more_on.append(selector)
                asked.add(selector)
    return more_on, more_off


def _unselectors(symbols: dict[str, Symbol], values: dict[str, str], stuck: list[str], asked: set[str]) -> list[str]:
    """Options to unset next so that the `stuck` ones (wanted off, set) can be unset: those that
    select them, where a user can unset them (a prompt). Only `off` options are followed, not
    their unblockers, so a config is never stripped further than the series asks."""
    more: list[str] = []
    for option in stuck:
        for selector in symbols.get(option, Symbol()).selected_by:
            sym = symbols.get(selector)
            if sym and sym.prompt and is_set(values, selector) and selector not in asked | _NEVER:
                more.append(selector)
                asked.add(selector)
    return more


def _why_not(symbols: dict[str, Symbol], values: dict[str, str], option: str, want: bool) -> str:
    sym = symbols.get(option)
    if sym is None:
        return "not an option on this arch"
    if not want:
        return "selected by " + ", ".join(s for s in sym.selected_by if is_set(values, s)) \
            if any(is_set(values, s) for s in sym.selected_by) else "turned back on by olddefconfig"
    unmet = [t for e in sym.depends for t in _terms(e) if _holds(t, values) is False]
    if unmet:
        return "depends on " + " && ".join(f"{t} ({_state(t, values)})" for t in unmet)
    if not sym.prompt:
        return "no prompt, and nothing that selects it could be set"
    return "olddefconfig turned it off"


def _state(term: str, values: dict[str, str]) -> str:
    names = [n for n in re.findall(r"\w+", term) if n not in ("y", "m", "n")]
    return ", ".join(f"{n}={values.get(n, 'n') or 'n'}" for n in names[:3])


def _terms(expr: str) -> list[str]:
    """Top-level && operands of a Kconfig expression."""
    terms, depth, start = [], 0, 0
    for i, ch in enumerate(expr):
        depth += ch == "("
        depth -= ch == ")"
        if depth == 0 and expr.startswith("&&", i):
            terms.append(expr[start:i].strip())
            start = i + 2
    terms.append(expr[start:].strip())
    return [_unwrap(t) for t in terms if t]


def _unwrap(term: str) -> str:
    while term.startswith("(") and term.endswith(")") and _balanced(term[1:-1]):
        term = term[1:-1].strip()
    return term


def _balanced(text: str) -> bool:
    depth = 0
    for ch in text:
        depth += (ch == "(") - (ch == ")")
        if depth < 0:
            return False
    return depth == 0


def _simple(term: str) -> tuple[str, bool]:
    """(option, wanted set) for `X`, `!X`, `X=y`, `X!=n`; for `A || B` the first plain option; else ("", True)."""
    if "||" in term:
        for part in term.split("||"):
            name, positive = _simple(_unwrap(part.strip()))
            if name and positive and name not in _NEVER:
                return name, True
        return "", True
    m = re.fullmatch(r"(!\s*)?(\w+)(?:\s*(!?=)\s*(\w+))?", term)
    if not m or m.group(2) in ("y", "m", "n"):
        return "", True
    positive = not m.group(1)
    if m.group(3):
        wants_n = (m.group(3) == "=") == (m.group(4) == "n")
        positive = positive != wants_n
    return m.group(2), positive


def _holds(term: str, values: dict[str, str]) -> bool | None:
    """Whether a term holds under `values`; None when it is beyond this reader."""
    if "||" in term:
        parts = [_holds(_unwrap(p.strip()), values) for p in term.split("||")]
        return True if any(parts) else (None if None in parts else False)
    name, positive = _simple(term)
    if not name:
        return None
    return is_set(values, name) == positive
