"""The functions a patch changes, as "path:function".

Pairing reworked patches and linking a re-titled re-post to its predecessor
both ask "do these two patches work on the same functions?". git names the
function of a hunk after its @@ line; a new file has no such names, so the
functions it defines (a line at column 0 opening a parameter list, not a
declaration) count too.
"""
from __future__ import annotations

import re

from series.model import Patch

_SECTION = re.compile(r"(\w+)\s*\(")
# "static int foo(" / "void *bar(" / "int baz(void)" at column 0; not "foo(a);" or "#define".
_DEFINITION = re.compile(r"^(?!#|return\b|if\b|else\b|while\b|for\b|switch\b)[A-Za-z_][\w\s\*]*?\b(\w+)\s*\([^;]*$")


def patch_functions(patch: Patch, hunks_only: bool = False) -> set[str]:
    """path:function of every hunk (from the @@ line) and, unless `hunks_only`, of every definition added."""
    out = set()
    for fc in patch.files:
        for h in fc.hunks:
            m = _SECTION.search(h.section_header)
            if m:
                out.add(f"{fc.path}:{m.group(1)}")
            if hunks_only:
                continue
            for raw in h.text.splitlines()[1:]:
                if raw[:1] in "+-" and not raw.startswith(("+++", "---")):
                    d = _DEFINITION.match(raw[1:])
                    if d:
                        out.add(f"{fc.path}:{d.group(1)}")
    return out
