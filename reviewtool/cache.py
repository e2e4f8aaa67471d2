"""Content-addressed cache of stage results: a re-run redoes only what changed.

A stage's key is the sha256 of its name, a schema version and every input it
depends on (patch text, base commit, arch, config ...), so a changed input
simply misses. Entries are JSON files written atomically; a corrupt entry is
treated as a miss, never as a result.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from reviewtool.jsondata import dumps, from_jsonable, write_atomic

T = TypeVar("T")
log = logging.getLogger(__name__)

# Bump when the shape of any cached result changes.
SCHEMA = 1


def default_cache_dir() -> Path:
    """$REVIEWTOOL_CACHE, else $XDG_CACHE_HOME/reviewtool, else ~/.cache/reviewtool."""
    if env := os.environ.get("REVIEWTOOL_CACHE"):
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "reviewtool"


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

    def get_or_compute(self, stage: str, parts: list[Any], result_type: Any,
                       compute: Callable[[], T]) -> T:
        key = content_key(stage, *parts)
        path = self.root / stage / f"{key}.json"
        if self.enabled and path.is_file():
            try:
                value = from_jsonable(result_type, json.loads(path.read_text(encoding="utf-8")))
            except (ValueError, KeyError, TypeError) as exc:
                log.warning("cache entry %s unreadable (%s): recomputing", path, exc)
            else:
                self.hits.append(stage)
                return value
        value = compute()
        self.misses.append(stage)
        if self.enabled:
            write_atomic(path, dumps(value))
        return value
