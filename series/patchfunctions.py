"""The functions a patch changes, as "path:function".

Pairing reworked patches and linking a re-titled re-post to its predecessor
both ask "do these two patches work on the same functions?". git names the
function of a hunk after its @@ line, but that is only the code above the
hunk (any patch appending to a file names the last function in it); a new
function is seen by its definition on a +/- line.
"""
from __future__ import annotations

import re

from series.model import Patch

_SECTION = re.compile(r"(\w+)\s*\(")
# "static int foo(" / "void *bar(" / "int baz(void)" at column 0; not "foo(a);" or "#define".
_DEFINITION = re.compile(r"^(?!#|return\b|if\b|else\b|while\b|for\b|switch\b)[A-Za-z_][\w\s\*]*?\b(\w+)\s*\([^;]*$")


def hunk_functions(patch: Patch) -> set[str]:
    """path:function of every hunk, from the @@ section header git prints."""
    out = set()
    for fc in patch.files:
        for h in fc.hunks:
            m = _SECTION.search(h.section_header)
            if m:
                out.add(f"{fc.path}:{m.group(1)}")
    return out


def defined_functions(patch: Patch) -> set[str]:
    """path:function of every function definition the patch adds or removes."""
    out = set()
    for fc in patch.files:
        for h in fc.hunks:
            for raw in h.text.splitlines()[1:]:
                if raw[:1] in "+-":
                    d = _DEFINITION.match(raw[1:])
                    if d:
                        out.add(f"{fc.path}:{d.group(1)}")
    return out


def patch_functions(patch: Patch) -> set[str]:
    """Every function the patch touches: its hunks' and the ones it defines or removes."""
    return hunk_functions(patch) | defined_functions(patch)
