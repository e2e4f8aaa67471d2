"""ccache's hit rate for one build, from a stats log of its own.

The global counters (`ccache --print-stats`) are shared by every build on the
machine, including the other arch/configs of the same run building at the
same time, so their delta would credit one build with another's hits. A
`CCACHE_STATSLOG` file per O= directory counts only the compilations of the
makes run with it.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

LOG_NAME = ".reviewtool-ccache-stats.log"


@dataclass
class CcacheStats:
    hits: int
    misses: int

    def describe(self) -> str:
        total = self.hits + self.misses
        return f"ccache {self.hits}/{total} hits ({100 * self.hits / total:.0f}%)" if total else "ccache: no compilations"


def stats_log(out: Path) -> Path:
    """The stats log of the O= directory `out` (the env var CCACHE_STATSLOG names it)."""
    return out / LOG_NAME


def read_stats(log: Path) -> CcacheStats | None:
    """Hits and misses recorded in `log`; None without ccache or a log."""
    if not (shutil.which("ccache") and log.is_file()):
        return None
    proc = subprocess.run(["ccache", "--show-log-stats", "--print-stats"], capture_output=True, text=True,
                          env={**os.environ, "CCACHE_STATSLOG": str(log)}, check=False)
    if proc.returncode:
        return None
    counters = {}
    for line in proc.stdout.splitlines():
        name, _, value = line.partition("\t")
        if value.strip().isdigit():
            counters[name] = int(value)
    hits = counters.get("direct_cache_hit", 0) + counters.get("preprocessed_cache_hit", 0)
    return CcacheStats(hits, counters.get("cache_miss", 0))
