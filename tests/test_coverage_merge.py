"""kernel.coverage.merge: coverages taken one build at a time (as the Dask workers take them, each
on its own arch) merged on the client must equal the coverage of one run over every build."""
from __future__ import annotations

import pytest

from kernel.coverage import STOPPED, PatchCoverage, _patch_coverage, merge

TEXT = """int a;
#ifdef CONFIG_X
int x;
#else
int y;
#endif
#ifdef CONFIG_Z
int z;
int z2;
#endif
int b;
"""
FILES = {"mm/f.c": [1, 3, 5, 8, 9, 11], "mm/g.c": [1, 2]}
TEXTS = {"mm/f.c": TEXT, "mm/g.c": "int g;\nint h;\n"}
X_SET = ("arm64/mm-on", {"mm/f.c": {1, 3, 11}})  # CONFIG_X set, CONFIG_Z not
X_UNSET = ("x86_64/mm-off", {"mm/f.c": {1, 5, 11}})
STOPPED_BUILD = ("arm64/auto", {STOPPED: set()})  # prepare failed: no .i at all
NOTHING = ("x86_64/mm-on", {})  # built none of the patch's objects


def _one_run(seen: list) -> PatchCoverage:
    return _patch_coverage(1, FILES, TEXTS, seen, [label for label, _ in seen])


@pytest.mark.parametrize("seen", [
    [X_UNSET, X_SET],
    [X_SET, X_UNSET],
    [X_UNSET, NOTHING, X_SET, STOPPED_BUILD],
    [STOPPED_BUILD, X_SET],
    [NOTHING],
])
def test_merged_builds_equal_one_run_over_all(seen: list) -> None:
    parts = [[_patch_coverage(1, FILES, TEXTS, [build], [build[0]]),
              PatchCoverage(2, 0, 0, tried=[build[0]])] for build in seen]
    merged = merge(parts, {1: FILES, 2: {}})
    assert merged == [_one_run(seen), PatchCoverage(2, 0, 0, tried=[label for label, _ in seen])]


def test_the_reasons_kept_are_the_most_telling() -> None:
    (cov, _) = merge([[_patch_coverage(1, FILES, TEXTS, [b], [b[0]]), PatchCoverage(2, 0, 0, tried=[b[0]])]
                      for b in (X_UNSET, STOPPED_BUILD, X_SET)], {1: FILES, 2: {}})
    assert cov.compiled == 4 and cov.by_build == {"x86_64/mm-off": 3, "arm64/mm-on": 1}
    assert [(u.where(), u.reason.split(" (")[0]) for u in cov.not_compiled] == [
        ("mm/f.c:8-9", "under #ifdef CONFIG_Z"),
        ("mm/g.c:1-2", "mm/g.c is not compiled: a file did not preprocess")]
