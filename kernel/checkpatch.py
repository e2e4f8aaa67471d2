"""Run a tree's scripts/checkpatch.pl on patch mails, in parallel, and parse its findings.

checkpatch.pl has no --json option (checked: v6.1's GetOptions has none, and
none is known upstream), so we parse the block output every version prints,
with --emacs --show-types:

    /tmp/x/0006.patch:161: WARNING:SPDX_LICENSE_TAG: Improper SPDX comment ...
    #161: FILE: include/linux/pte_ref.h:1:
    +// SPDX-License-Identifier: GPL-2.0
    <blank line>

which, unlike --terse, also gives the file and line in the patched tree.
checkpatch runs with cwd and --root at the tree so it needs no git checkout,
or with --no-tree when there is none.  The tree's own checkpatch.pl is code
from the tree, so it runs in kernel.sandbox.
"""
from __future__ import annotations

import os
import re
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from kernel.errors import KernelInputError, KernelToolError
from kernel.sandbox import Sandbox

TIMEOUT = 300  # seconds for one patch; checkpatch takes well under 1 s per patch
_HEAD = re.compile(r"^(?P<src>.*?):(?P<mailline>\d+): (?P<level>ERROR|WARNING|CHECK):(?P<type>[A-Z0-9_]+): (?P<msg>.*)$")
_WHERE = re.compile(r"^#\d+: (?:FILE: (?P<file>.+?):(?P<line>\d+):)?")
_TOTAL = re.compile(r"^total: (\d+) errors, (\d+) warnings, (?:(\d+) checks, )?\d+ lines checked")


@dataclass
class CheckpatchFinding:
    patch: str  # the caller's label, e.g. "06/15"
    level: str  # ERROR | WARNING | CHECK
    type: str  # e.g. SPDX_LICENSE_TAG
    file: str  # path in the tree, "" for the commit message / whole patch
    line: int  # line in that file (post-image), 0 when none
    message: str
    mail_line: int  # line in the patch mail checkpatch read


@dataclass
class CheckpatchResult:
    patch: str
    findings: list[CheckpatchFinding]
    totals: dict[str, int]  # checkpatch's own "total:" line: errors, warnings, checks


def find_checkpatch(tree: Path | None, script: Path | None) -> Path:
    """The script named by --checkpatch, else the tree's scripts/checkpatch.pl."""
    path = script or (tree / "scripts" / "checkpatch.pl" if tree else None)
    if path is None:
        raise KernelInputError("no checkpatch.pl: give a kernel tree or --checkpatch PATH")
    if not path.is_file():
        raise KernelInputError(f"{path}: no such checkpatch.pl")
    return path.resolve()  # it runs in the tree's directory, where a relative path means another file


def has_history(tree: Path | None) -> bool:
    """Whether checkpatch can check commit ids ("Fixes: <sha>") here: it asks the tree's git
    log, and an unpacked tarball committed once (the managed tree) knows no earlier commit."""
    if tree is None:
        return False
    proc = subprocess.run(["git", "-C", str(tree), "rev-list", "--max-count=2", "HEAD"],
                          capture_output=True, text=True, check=False)
    return proc.returncode == 0 and len(proc.stdout.split()) > 1


def command(script: Path, tree: Path | None, patch_file: Path) -> list[str]:
    cmd = ["perl", str(script), "--show-types", "--emacs", "--no-color"]
    cmd += ["--root", str(tree)] if tree else ["--no-tree"]
    return cmd + [str(patch_file)]


def parse_output(label: str, text: str) -> CheckpatchResult:
    """Parse --emacs --show-types block output."""
    findings: list[CheckpatchFinding] = []
    totals = {"errors": 0, "warnings": 0, "checks": 0}
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        m = _HEAD.match(lines[i])
        t = _TOTAL.match(lines[i])
        if t:
            totals = {"errors": int(t[1]), "warnings": int(t[2]), "checks": int(t[3] or 0)}
        if not m:
            i += 1
            continue
        message = [m["msg"]]
        i += 1
        while i < len(lines) and lines[i] and not _WHERE.match(lines[i]) and not _HEAD.match(lines[i]):
            message.append(lines[i])
            i += 1
        where = _WHERE.match(lines[i]) if i < len(lines) else None
        findings.append(CheckpatchFinding(
            label, m["level"], m["type"], (where["file"] or "") if where else "",
            int(where["line"]) if where and where["line"] else 0, "\n".join(message).strip(),
            int(m["mailline"])))
    return CheckpatchResult(label, findings, totals)


def _run_one(script: Path, tree: Path | None, label: str, mbox: str, workdir: Path,
             index: int, sandbox: Sandbox) -> CheckpatchResult:
    patch_file = workdir / f"{index:04d}.patch"
    patch_file.write_text(mbox, encoding="utf-8", errors="surrogateescape")
    cmd = command(script, tree, patch_file)
    readable = [p for p in (tree, workdir) if p is not None]
    try:
        proc = sandbox.run(cmd, cwd=tree or workdir, env={}, timeout_s=TIMEOUT, readable=readable)
    except FileNotFoundError as exc:
        raise KernelToolError(f"cannot run checkpatch: {exc}") from None
    if proc.timed_out:
        raise KernelToolError(f"checkpatch.pl took more than {TIMEOUT} s on patch {label}")
    # Exit 1 just means "found something"; anything else, or no summary, is a failure.
    if proc.returncode not in (0, 1) or "total:" not in proc.stdout:
        raise KernelToolError(f"checkpatch.pl failed on patch {label} (exit {proc.returncode}): "
                              f"{proc.stderr.strip()[-300:]}")
    return parse_output(label, proc.stdout)


def run_checkpatch(patches: list[tuple[str, str]], script: Path, tree: Path | None = None,
                   jobs: int | None = None, sandbox: Sandbox = Sandbox()) -> list[CheckpatchResult]:
    """Check each (label, am-ready mail text) with checkpatch.pl, os.cpu_count() at a time.

    The tree's own checkpatch.pl runs in `sandbox` (it is code from the tree); one the
    user named outside the tree runs as is.  Results come back in the order of `patches`.
    """
    jobs = jobs or os.cpu_count() or 1
    if tree is None or not script.is_relative_to(tree.resolve()):
        sandbox = Sandbox(enabled=False)
    with tempfile.TemporaryDirectory(prefix="reviewtool-checkpatch-") as tmp, \
            ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(_run_one, script, tree, label, mbox, Path(tmp), i, sandbox)
                   for i, (label, mbox) in enumerate(patches)]
        return [f.result() for f in futures]
