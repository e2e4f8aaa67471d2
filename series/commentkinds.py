"""What a review paragraph is (request, question, objection, praise, process note) and
what an author's answer to it is (promise, refusal), by the rules in commentkinds.toml.

A maintainer reads "I don't think we should take a performance hit" and "s/use/uses/"
differently: the first is answered only by an argument or a new approach, the
second by the code changing. The rules are data so that a missed phrase is a
one-line fix with a test, not a code change.
"""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

RULES_FILE = Path(__file__).with_name("commentkinds.toml")
KINDS = ("request", "question", "objection", "praise", "process")
DEFAULT_KIND = "request"

# A line that starts an item of a list: "1.", "2)", "a)", "-", "*".
_ITEM = re.compile(r"^\s*(?P<label>\d{1,2}[.)]|[a-z]\)|[-*•])\s+(?=\S)")


@dataclass(frozen=True)
class Rule:
    """One phrase rule: `pattern` found in a text makes it `kind`."""

    name: str
    kind: str
    pattern: re.Pattern[str]


@dataclass(frozen=True)
class Kind:
    """The kind of a text and the rule that said so ("default" when none matched)."""

    kind: str
    rule: str


@cache
def load_rules(path: Path = RULES_FILE) -> tuple[tuple[Rule, ...], tuple[Rule, ...]]:
    """The (comment kind rules, answer kind rules) of the rules file, in file order."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))

    def rules(section: str) -> tuple[Rule, ...]:
        return tuple(Rule(r["name"], r["kind"], re.compile(r["pattern"], re.I | re.M))
                     for r in data.get(section, []))

    kinds = rules("kind")
    unknown = {r.kind for r in kinds} - set(KINDS)
    if unknown:
        raise ValueError(f"{path}: unknown comment kind(s) {sorted(unknown)}")
    return kinds, rules("answer")


def _first(rules: tuple[Rule, ...], text: str) -> Rule | None:
    return next((r for r in rules if r.pattern.search(text)), None)


def comment_kind(text: str) -> Kind:
    """The kind of a review paragraph (first matching rule, else a request)."""
    rule = _first(load_rules()[0], text)
    return Kind(rule.kind, rule.name) if rule else Kind(DEFAULT_KIND, "default")


def answer_kind(text: str) -> Kind | None:
    """"promise" or "refusal" for an author's answer paragraph, None for a plain reply."""
    rule = _first(load_rules()[1], text)
    return Kind(rule.kind, rule.name) if rule else None


def split_items(text: str) -> list[tuple[str, str]]:
    """[(label, item text)] of a paragraph holding a numbered or bulleted list.

    A paragraph with fewer than two list lines is one item with label "".
    Text before the first item ("Some feedback:") is kept with the first.
    """
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines) if _ITEM.match(line)]
    if len(starts) < 2:
        return [("", text)]
    items = []
    for n, start in enumerate(starts):
        end = starts[n + 1] if n + 1 < len(starts) else len(lines)
        begin = 0 if n == 0 else start
        label = lines[start].split(None, 1)[0].rstrip(".)")
        items.append((label, "\n".join(lines[begin:end]).strip()))
    return items
