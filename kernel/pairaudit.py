"""Whole-tree audit: the pair scan over files and directories, one process per core.

Unlike kernel.pairdiff this reports every imbalance that exists, not only
those a patch introduced, so expect the false positives the scan is known for
(callees that release on some returns only, functions returning with a lock
held by contract); see tests/test_pairscan.py's known limitations.
"""
from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from kernel.errors import KernelInputError
from kernel.pairdiff import C_SUFFIXES, group
from kernel.pairrules import Rules
from kernel.pairscan import PairFinding, scan_source


@dataclass
class FileFinding:
    """A PairFinding with the file it is in (relative to the tree when under it)."""

    file: str
    finding: PairFinding


def c_files(paths: list[Path]) -> list[Path]:
    """The .c/.h files named, or under the directories named, sorted.

    Naming something that is not C, or directories with no C in them, is an
    input error: "0 findings" would read as "checked and clean".
    """
    found: set[Path] = set()
    for path in paths:
        if path.is_dir():
            found.update(p for p in path.rglob("*") if p.suffix in C_SUFFIXES and p.is_file())
        elif path.is_file():
            if path.suffix not in C_SUFFIXES:
                raise KernelInputError(f"{path}: not a C file (.c or .h)")
            found.add(path)
        else:
            raise KernelInputError(f"{path}: no such file or directory")
    if not found:
        raise KernelInputError(f"no .c or .h files in {', '.join(map(str, paths))}")
    return sorted(found)


def _scan_file(path: Path, rules: Rules) -> list[PairFinding]:
    try:
        text = path.read_text(errors="surrogateescape")
    except OSError as exc:
        raise KernelInputError(f"cannot read {path}: {exc.strerror}") from None
    return group(scan_source(text, rules))


def audit(paths: list[Path], rules: Rules, root: Path | None = None,
          jobs: int | None = None) -> list[FileFinding]:
    """Scan every C file under `paths`; file names are shown relative to `root`."""
    files = c_files(paths)
    jobs = jobs or os.cpu_count() or 1
    if jobs == 1 or len(files) < 2:
        per_file = [_scan_file(f, rules) for f in files]
    else:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            per_file = list(pool.map(_scan_file, files, [rules] * len(files), chunksize=4))
    out: list[FileFinding] = []
    for path, findings in zip(files, per_file):
        shown = str(path.relative_to(root)) if root and path.is_relative_to(root) else str(path)
        out.extend(FileFinding(shown, f) for f in findings)
    return out
