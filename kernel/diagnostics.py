"""Compiler and linker messages out of make's output, and the baseline diff.

With `make -O` each target's output is one block that starts with Kbuild's
"  CC      mm/memory.o" line, so every message is tied to the object whose
build printed it.  A warning is new when, for the same object, the patched
build prints it (same file, message and flag; line numbers ignored, since a
patch moves them) more often than the base build did, like the 0-day robot's
">>" marks.
"""
from __future__ import annotations

import os
import re
from collections import Counter, defaultdict
from pathlib import Path

from kernel.model import Diagnostic

LINK = "vmlinux"  # pseudo object for messages of the final link
_DIAG = re.compile(
    r"^(?P<file>[^\s:][^:]*):(?P<line>\d+):(?:(?P<col>\d+):)? "
    r"(?P<sev>warning|error|fatal error): (?P<msg>.*?)(?: \[(?P<flag>-W[^\]]+)\])?$")
_LD = re.compile(r"^(?:\S*-)?ld(?:\.bfd)?: (?P<msg>.*)$")
_LD_NOISE = re.compile(r":\(\.[\w.]+\+0x[0-9a-f]+\)")
_QUIET = re.compile(r"^  [A-Z][A-Z0-9_]*(?: \[M\])?\s+(?P<obj>\S+)$")
_FAILED = re.compile(r"\*\*\* \[[^\]]*?: (?P<obj>[^\]\s]+)\] (?:Error|Killed)")


def parse(output: str, src: Path, out: Path) -> tuple[dict[str, list[Diagnostic]], list[str]]:
    """(object -> its diagnostics, objects make reported as failed)."""
    src, out = src.absolute(), out.absolute()
    by_object: dict[str, list[Diagnostic]] = defaultdict(list)
    failed: list[str] = []
    current = ""
    for line in output.splitlines():
        if m := _QUIET.match(line):
            current = m["obj"] if m["obj"].endswith(".o") else (LINK if "vmlinux" in m["obj"] else current)
            continue
        if m := _DIAG.match(line):
            sev = "error" if m["sev"] == "fatal error" else m["sev"]
            flag = m["flag"] or ""
            if flag.startswith("-Werror="):
                flag, sev = "-W" + flag[len("-Werror="):], "error"
            by_object[current].append(Diagnostic(_relative(m["file"], src, out), int(m["line"]),
                                                 int(m["col"] or 0), sev, _ascii_quotes(m["msg"]), flag))
        elif m := _LD.match(line):
            if "warning:" in m["msg"]:
                by_object[LINK].append(Diagnostic("", 0, 0, "warning", _clean_ld(m["msg"], src, out)))
            elif "undefined reference" in m["msg"] or "error" in m["msg"] or "multiple definition" in m["msg"]:
                by_object[LINK].append(Diagnostic("", 0, 0, "error", _clean_ld(m["msg"], src, out)))
        elif m := _FAILED.search(line):
            obj = _relative(m["obj"], src, out)
            if obj.endswith(".o") and obj not in failed:
                failed.append(obj)
    return dict(by_object), failed


def new_warnings(base: dict[str, list[Diagnostic]], now: dict[str, list[Diagnostic]]) -> list[Diagnostic]:
    """Warnings of `now` that its object's base build did not have."""
    new: list[Diagnostic] = []
    for obj, diags in now.items():
        old = Counter(d.key() for d in base.get(obj, []) if d.severity == "warning")
        old_lines = {(d.key(), d.line) for d in base.get(obj, [])}
        warnings = [d for d in diags if d.severity == "warning"]
        # Occurrences at the very same line are the old ones first; the rest by order.
        for d in sorted(warnings, key=lambda d: (d.key(), d.line) not in old_lines):
            if old[d.key()] > 0:
                old[d.key()] -= 1
            else:
                new.append(d)
    return sorted(new, key=lambda d: (d.file, d.line))


def _ascii_quotes(msg: str) -> str:
    """gcc quotes with U+2018/2019 in UTF-8 locales; the same message must compare equal."""
    return msg.replace("\u2018", "'").replace("\u2019", "'")


def errors(now: dict[str, list[Diagnostic]]) -> list[Diagnostic]:
    """Errors, each place once (a broken header errs in every object that includes it)."""
    unique: dict[tuple, Diagnostic] = {}
    for diags in now.values():
        for d in diags:
            if d.severity == "error":
                unique.setdefault((d.key(), d.line, d.column), d)
    return list(unique.values())


def _relative(path: str, src: Path, out: Path) -> str:
    """Tree-relative path: Kbuild prints sources relative to O= (../wt/mm/x.c) or absolute."""
    full = Path(os.path.normpath(out / path))  # an absolute `path` stays as it is
    for root in (src, out):
        if full.is_relative_to(root):
            return str(full.relative_to(root))
    return path


def _clean_ld(msg: str, src: Path, out: Path) -> str:
    for prefix in (f"{src}/", f"{out}/"):
        msg = msg.replace(prefix, "")
    return _LD_NOISE.sub("", msg)
