"""Content-addressed cache of stage results: a re-run redoes only what changed.

A stage's key is the sha256 of its name, a schema version and every input it
depends on (patch text, base commit, arch, config ...), so a changed input
simply misses. Entries are JSON files written atomically (a temporary file of
each writer's own, fsynced, renamed), so runs sharing one cache may store and
read the same entry at once; a damaged entry is a miss, never a result.
"""
from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from reviewtool.jsondata import dumps, from_jsonable, write_atomic

T = TypeVar("T")
log = logging.getLogger(__name__)

# Bump when the shape of any cached result changes.
SCHEMA = 1


def content_key(stage: str, *parts: Any) -> str:
    blob = json.dumps([stage, SCHEMA, *parts], sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()


class StageCache:
    """get-or-compute by content key; `enabled=False` (--no-cache) always computes."""

    def __init__(self, root: Path, enabled: bool = True) -> None:
        self.root = root / "stages"
        self.enabled = enabled
        self.hits: list[str] = []
        self.misses: list[str] = []

    def _path(self, stage: str, parts: list[Any]) -> Path:
        return self.root / stage / f"{content_key(stage, *parts)}.json"

    def lookup(self, stage: str, parts: list[Any], result_type: Any) -> Any | None:
        """The cached result, or None on a miss (or a disabled cache, or a damaged entry)."""
        path = self._path(stage, parts)
        if not self.enabled:
            return None
        try:
            value = from_jsonable(result_type, json.loads(path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            # Writes are atomic, so this is a damaged disk or an entry of an older shape.
            log.debug("cache entry %s unreadable (%s): treated as a miss", path, exc)
            return None
        self.hits.append(stage)
        return value

    def store(self, stage: str, parts: list[Any], value: Any) -> None:
        """Keep a result; a cache that cannot be written costs speed, never the review."""
        self.misses.append(stage)
        if not self.enabled:
            return
        try:
            write_atomic(self._path(stage, parts), dumps(value))
        except OSError as exc:
            log.warning("cache entry for %s not stored (%s)", stage, exc)

    def get_or_compute(self, stage: str, parts: list[Any], result_type: Any,
                       compute: Callable[[], T]) -> T:
        value = self.lookup(stage, parts, result_type)
        if value is None:
            value = compute()
            self.store(stage, parts, value)
        return value
