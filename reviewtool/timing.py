"""Wall time per review stage, so the slow part of a run is always visible.

A run records one `StageTiming` per stage (and one per build arch/config);
they go into results.json as the Review's `timings` and are printed at the end
of the progress output. Builds of several arch/configs run in threads at
once, so recording is locked and the stages may overlap in time: their sum
can exceed the run's wall time.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from reviewtool.model import StageTiming


class StageClock:
    """A running stage: `detail` may be set while it runs (e.g. "12 of 15 cached")."""

    def __init__(self) -> None:
        self.detail = ""


class Timings:
    """The stage timings of one run, in the order the stages finished."""

    def __init__(self) -> None:
        self.stages: list[StageTiming] = []
        self._lock = threading.Lock()

    @contextmanager
    def stage(self, name: str, detail: str = "") -> Iterator[StageClock]:
        """Time the block as stage `name`; recorded also when the block raises."""
        clock = StageClock()
        clock.detail = detail
        start = time.monotonic()
        try:
            yield clock
        finally:
            self.add(name, time.monotonic() - start, clock.detail)

    def add(self, name: str, seconds: float, detail: str = "") -> None:
        with self._lock:
            self.stages.append(StageTiming(name, round(seconds, 3), detail))

    def summary(self) -> list[str]:
        """One aligned line per stage, for the end of the progress output."""
        width = max((len(t.stage) for t in self.stages), default=0)
        return [f"{t.stage:<{width}} {t.seconds:8.1f} s" + (f"  {t.detail}" if t.detail else "")
                for t in self.stages]
