"""Dataclasses to JSON and back, so cached stage results come back as the same types.

Only what the stage results use is supported: dataclasses, list/tuple/dict,
`X | None`, and plain scalars. Anything else is a programming error.
"""
from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import os
import tempfile
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


def to_jsonable(value: Any) -> Any:
    """asdict for dataclasses (also nested in lists/dicts), str for paths."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def from_jsonable(tp: Any, data: Any) -> Any:
    """Rebuild a value of type `tp` from what `to_jsonable` produced."""
    if data is None:
        return None
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        arms = [a for a in typing.get_args(tp) if a is not type(None)]
        return from_jsonable(arms[0], data) if len(arms) == 1 else data
    if origin in (list, tuple):
        (item,) = typing.get_args(tp)[:1] or (Any,)
        items = [from_jsonable(item, v) for v in data]
        return items if origin is list else tuple(items)
    if origin is dict:
        _, val = typing.get_args(tp) or (Any, Any)
        return {k: from_jsonable(val, v) for k, v in data.items()}
    if dataclasses.is_dataclass(tp):
        return tp(**{name: from_jsonable(hint, data[name]) for name, hint in _init_fields(tp) if name in data})
    if tp is Path:
        return Path(data)
    return data


@functools.cache
def _init_fields(tp: type) -> list[tuple[str, Any]]:
    """A dataclass's init fields with their resolved types: resolving them (the annotations are
    strings) was most of the time a re-run spent reading its cached results."""
    hints = typing.get_type_hints(tp)
    return [(f.name, hints[f.name]) for f in dataclasses.fields(tp) if f.init]


def dumps(value: Any) -> str:
    return json.dumps(to_jsonable(value), indent=2, sort_keys=False, ensure_ascii=False)


def write_atomic(path: Path, text: str) -> None:
    """Write so that a reader sees the old file or the whole new one, never half of one.

    Each writer has its own temporary file in the same directory (several runs may store the
    same cache entry at once), synced before the rename and the directory after it, so a
    crash or power loss cannot leave a torn entry behind a valid name.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
