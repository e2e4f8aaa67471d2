"""The #if/#ifdef/#else branches of a C file, and the CONFIG_ options each one needs.

Two users: the per-series config (`auto`) turns on the options a changed line
sits under (or off, for an #else or #ifndef branch), and the coverage stage
names the condition of a changed line no build compiled.  Only what a
directive says literally is read: `#ifdef CONFIG_X`, `#ifndef CONFIG_X`,
`#if [!]defined(CONFIG_X)`, `#if [!]IS_ENABLED(CONFIG_X)` and conjunctions of
them; an `#else` flips a branch that named one option; anything more complex
gives no options (the branch is still known, so coverage can name it).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

_DIRECTIVE = re.compile(r"^\s*#\s*(if|ifdef|ifndef|elif|else|endif)\b(.*)$")
_OPTION = re.compile(r"(!\s*)?(?:(?:defined|IS_ENABLED|IS_BUILTIN|IS_REACHABLE)\s*\(\s*)?CONFIG_(\w+)")


@dataclass(frozen=True)
class Branch:
    """Lines first..last (inclusive) compiled only when `directive` holds."""

    first: int
    last: int
    line: int  # of the directive
    directive: str  # as written, e.g. "#ifdef CONFIG_THP" or "#else /* CONFIG_THP */"
    condition: str  # readable: "CONFIG_THP=y", "CONFIG_THP=n", or the expression
    on: tuple[str, ...]  # options (without CONFIG_) this branch needs set
    off: tuple[str, ...]  # options it needs unset


def branches(text: str) -> list[Branch]:
    """Every branch of every conditional group in `text`, in order of their end."""
    lines = _logical_lines(text)
    found: list[Branch] = []
    stack: list[list] = []  # [directive line, directive text, on, off, condition, opened_at, single]
    for number, line, last_physical in lines:
        m = _DIRECTIVE.match(line)
        if not m:
            continue
        kind, rest = m.group(1), _strip_comments(m.group(2))
        directive = " ".join(line.split())
        if kind in ("if", "ifdef", "ifndef"):
            on, off, cond = _condition(kind, rest)
            stack.append([number, directive, on, off, cond, last_physical, len(on) + len(off) == 1 and "||" not in rest])
            continue
        if not stack:
            continue  # an unbalanced #else/#endif: nothing to attach it to
        opened = stack[-1]
        if number - 1 >= opened[5] + 1:
            found.append(Branch(opened[5] + 1, number - 1, opened[0], opened[1], opened[4],
                                tuple(opened[2]), tuple(opened[3])))
        if kind == "endif":
            stack.pop()
        elif kind == "else":
            on, off = (opened[3], opened[2]) if opened[6] else ((), ())
            cond = _readable(on, off) if opened[6] else f"not ({opened[4]})"
            stack[-1] = [number, directive, on, off, cond, last_physical, opened[6]]
        else:  # elif
            on, off, cond = _condition("if", rest)
            stack[-1] = [number, directive, on, off, cond, last_physical, False]
    return found


def enclosing(found: list[Branch], line: int) -> list[Branch]:
    """The branches around `line`, outermost first."""
    return sorted((b for b in found if b.first <= line <= b.last), key=lambda b: b.first)


def _condition(kind: str, rest: str) -> tuple[tuple[str, ...], tuple[str, ...], str]:
    expr = rest.strip()
    if kind == "ifdef":
        name = expr.split()[0] if expr else ""
        on = (name[7:],) if name.startswith("CONFIG_") else ()
        return on, (), _readable(on, ()) if on else f"defined({name})"
    if kind == "ifndef":
        name = expr.split()[0] if expr else ""
        off = (name[7:],) if name.startswith("CONFIG_") else ()
        return (), off, _readable((), off) if off else f"!defined({name})"
    if "||" in expr:  # one way in is enough: the first option named positively
        first = next((m.group(2) for m in _OPTION.finditer(expr) if not m.group(1)), None)
        return ((first,) if first else ()), (), expr
    on = tuple(m.group(2) for m in _OPTION.finditer(expr) if not m.group(1))
    off = tuple(m.group(2) for m in _OPTION.finditer(expr) if m.group(1))
    return on, off, _readable(on, off) if (on or off) and _only_options(expr) else expr


def _only_options(expr: str) -> bool:
    """True when `expr` is nothing but a conjunction of option tests (so _readable says it all)."""
    rest = _OPTION.sub("", expr)
    return not re.sub(r"[\s()&]", "", rest)


def _readable(on: tuple[str, ...], off: tuple[str, ...]) -> str:
    return " && ".join([f"CONFIG_{o}=y" for o in on] + [f"CONFIG_{o}=n" for o in off])


def _strip_comments(text: str) -> str:
    return re.sub(r"/\*.*?\*/|//.*$", " ", text)


def _logical_lines(text: str) -> list[tuple[int, str, int]]:
    """(first line number, text with continuations joined, last physical line number)."""
    out: list[tuple[int, str, int]] = []
    physical = text.split("\n")
    i = 0
    while i < len(physical):
        start, joined = i, physical[i]
        while joined.endswith("\\") and i + 1 < len(physical):
            i += 1
            joined = joined[:-1] + " " + physical[i]
        out.append((start + 1, joined, i + 1))
        i += 1
    return out
