"""ccache's hit rate for one build, from a stats log of its own.

The global counters (`ccache --print-stats`) are shared by every build on the
machine, including the other arch/configs of the same run building at the
same time, so their delta would credit one build with another's hits. A
`CCACHE_STATSLOG` file per O= directory counts only the compilations of the
makes run with it.
"""
from __future__ import annotations

from collections import Counter
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
    """Hits and misses recorded in `log`; None without a log (no ccache, or nothing compiled).

    The log is ccache's own: per compilation a "# source" line, then one
    counter name per line ("direct_cache_hit", "cache_miss", ...). `ccache
    --show-log-stats` only prints it for people (`--print-stats` would print
    the global counters), so the counters are read here.
    """
    try:
        counters = Counter(line.strip() for line in log.read_text(errors="replace").splitlines()
                           if line and not line.startswith("#"))
    except OSError:
        return None
    return CcacheStats(counters["direct_cache_hit"] + counters["preprocessed_cache_hit"], counters["cache_miss"])
