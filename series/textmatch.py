"""Do two pieces of mail prose talk about the same thing?

A reviewer repeating a concern on the next revision, or a changelog line
answering a comment, rarely repeats the words exactly ("introducing the
dummy primitives first" / "Introduce the new dummy helpers first"). Shared
word stems and shared code names are enough evidence to link them, and are
shown, so a reader can judge the link.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_]{2,}")
# Code names: with an underscore, or called ("foo(" / "foo()").
IDENT = re.compile(r"\b([A-Za-z_]\w*_\w*|[A-Za-z_]\w*(?=\())")
_SUFFIXES = (("ation", 4), ("ing", 4), ("ed", 4), ("es", 4), ("ly", 4), ("s", 3), ("e", 4))  # (suffix, stem left)
_STOP = frozenset("""
the and for that this with are was were been being have has had not but you your yours our ours they them
their there here then than into onto from what which who whom when where why how can could would should
will shall may might must also just only very really more most much many some any all each both other
such same one two too its it's it’s about above after again against because before below between does
did doing don't dont doesn't isn't aren't wasn't i'm i'd i'll we'd we'll we're you're let's like well
maybe think thought seems seem make makes made need needs needed want wants way ways still even yes okay
thanks thank please patch patches series version code change changes changed
""".split())


def stem(word: str) -> str:
    """A crude suffix stripper: enough to tie "introducing" to "introduce"."""
    w = word.lower()
    for suffix, least in _SUFFIXES:
        if w.endswith(suffix) and len(w) - len(suffix) >= least:
            return w[: -len(suffix)]
    return w


def stems(text: str) -> set[str]:
    """The content-word stems of `text` (stop words and code names left out)."""
    out = set()
    for w in _WORD.findall(text):
        if "_" in w or w.lower() in _STOP:
            continue
        out.add(stem(w))
    return out


def identifiers(text: str) -> set[str]:
    return set(IDENT.findall(text))


def names_match(wanted: str, name: str) -> bool:
    """`name` is `wanted` or holds it as whole '_' parts: "map_lock" in "pte_tryget_map_lock"."""
    if wanted == name:
        return True
    w, n = wanted.strip("_").split("_"), name.strip("_").split("_")
    return len(w) > 1 and any(n[i:i + len(w)] == w for i in range(len(n) - len(w) + 1))


@dataclass(frozen=True)
class Overlap:
    """What two texts share: word stems, code names, and the share of the shorter text."""

    words: tuple[str, ...]
    names: tuple[str, ...]
    share: float

    def links(self, min_words: int = 3, min_share: float = 0.3) -> bool:
        """Enough in common to say both texts are about the same point."""
        named = bool(self.names) and len(self.words) >= 1
        return named or (len(self.words) >= min_words and self.share >= min_share)

    def describe(self) -> str:
        parts = []
        if self.names:
            parts.append("names " + ", ".join(self.names))
        if self.words:
            parts.append("words " + ", ".join(self.words[:6]))
        return "; ".join(parts) + f" ({self.share:.0%} of the shorter text)"


def overlap(a: str, b: str) -> Overlap:
    sa, sb = stems(a), stems(b)
    ia, ib = identifiers(a), identifiers(b)
    words = sorted(sa & sb)
    names = sorted(ia & ib)
    smaller = max(1, min(len(sa) + len(ia), len(sb) + len(ib)))
    return Overlap(tuple(words), tuple(names), round((len(words) + len(names)) / smaller, 3))
