"""The stage cache returns the same typed result on a hit and recomputes on a changed input."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from reviewtool.cache import StageCache
from reviewtool.jsondata import from_jsonable, to_jsonable


@dataclass
class Inner:
    name: str
    line: int | None = None


@dataclass
class Outer:
    items: list[Inner]
    by_arch: dict[str, list[Inner]] = field(default_factory=dict)
    note: str | None = None


def _value() -> Outer:
    return Outer(items=[Inner("a", 1), Inner("b")], by_arch={"arm64": [Inner("c", 3)]})


def test_round_trip_keeps_types() -> None:
    back = from_jsonable(Outer, to_jsonable(_value()))
    assert back == _value()
    assert isinstance(back.by_arch["arm64"][0], Inner)


def test_hit_skips_compute_and_changed_input_misses(tmp_path: Path) -> None:
    calls: list[str] = []

    def compute() -> Outer:
        calls.append("x")
        return _value()

    cache = StageCache(tmp_path)
    first = cache.get_or_compute("build", ["base", "patch-1"], Outer, compute)
    again = StageCache(tmp_path).get_or_compute("build", ["base", "patch-1"], Outer, compute)
    other = cache.get_or_compute("build", ["base", "patch-2"], Outer, compute)
    assert first == again == other
    assert len(calls) == 2


def test_corrupt_entry_is_a_miss(tmp_path: Path) -> None:
    cache = StageCache(tmp_path)
    cache.get_or_compute("s", [1], Outer, _value)
    (entry,) = (tmp_path / "stages" / "s").glob("*.json")
    entry.write_text("{not json")
    calls: list[int] = []
    StageCache(tmp_path).get_or_compute("s", [1], Outer, lambda: calls.append(1) or _value())
    assert calls == [1]


def test_disabled_cache_always_computes(tmp_path: Path) -> None:
    calls: list[int] = []
    cache = StageCache(tmp_path, enabled=False)
    for _ in range(2):
        cache.get_or_compute("s", [1], Outer, lambda: calls.append(1) or _value())
    assert calls == [1, 1]
    assert not (tmp_path / "stages").exists()


def _hammer(root: str, worker: int, rounds: int) -> tuple[int, int]:
    """Store and read the same few entries many times; (reads that found an entry, misses)."""
    cache = StageCache(Path(root))
    found = missed = 0
    for i in range(rounds):
        key = [i % 3]
        cache.store("shared", key, Outer(items=[Inner(f"w{worker}-{i}", i)] * 50))
        got = cache.lookup("shared", key, Outer)
        if got is None:
            missed += 1
        else:
            assert len(got.items) == 50 and got.items[0].name.startswith("w")
            found += 1
    return found, missed


def test_concurrent_writers_and_readers_never_collide_or_tear(tmp_path: Path) -> None:
    """4 processes x 200 stores and reads of the same 3 entries: no exception, no torn read
    (a torn read would be a miss here, since the entry was stored just before), no temp file left."""
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(4) as pool:
        results = pool.starmap(_hammer, [(str(tmp_path), w, 200) for w in range(4)])
    assert [missed for _, missed in results] == [0, 0, 0, 0]
    assert sum(found for found, _ in results) == 800
    assert sorted(p.name.endswith(".json") for p in (tmp_path / "stages" / "shared").iterdir()) == [True] * 3


def test_unwritable_cache_costs_speed_not_the_review(tmp_path: Path) -> None:
    (tmp_path / "stages").write_text("a file where the cache directory should be")
    cache = StageCache(tmp_path)
    assert cache.get_or_compute("s", [1], Outer, _value) == _value()
