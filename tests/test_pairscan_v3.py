"""The pair scan over the real v3 "Free user PTE page table pages" series.

Every finding is pinned here; the closing report judges each (real or a known limitation).
"""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from kernel.pairdiff import series_pair_findings
from kernel.pairrules import load_rules
from series.assemble import assemble_series
from series.load import bundled_thread_path, load_thread

RULES = load_rules()


@pytest.fixture(scope="module")
def v3_diffs() -> list[tuple[str, str]]:
    series = assemble_series(load_thread(str(bundled_thread_path("pte-v3"))).messages)
    return [(f"{p.counter:02d}/{p.expected}", p.diff) for p in series.patches]


def test_v3_hunks_only_finds_nothing(v3_diffs):
    # Without a tree every file is judged from its hunks: the one real leak
    # (hmm_vma_walk_pmd, below) has its return outside the hunk, so it is missed.
    assert series_pair_findings(v3_diffs, None, RULES) == []


@pytest.mark.kernel
def test_v3_on_the_61_tree_finds_the_hmm_leak(kernel_tree, v3_diffs):
    found = series_pair_findings(v3_diffs, kernel_tree, RULES)
    assert [(f.patch, f.file, f.function, f.kind, f.resources, f.basis, f.confidence) for f in found] == [
        ("11/15", "mm/hmm.c", "hmm_vma_walk_pmd", "leak", ["pte_ref"], "post-image", "high")]
    (f,) = found
    assert f.message == "returns at line 393 after pte_tryget_map() at line 384 without pte_put()"
    assert f.hunk.startswith("@@ -383,7 +383,9 @@ static int hmm_vma_walk_pmd(")
    assert "line 391: (r) is true" in f.path


@pytest.mark.kernel
def test_check_command_json_on_v3(kernel_tree):
    proc = subprocess.run(
        [sys.executable, "-m", "reviewtool", "check", "--bundled", "pte-v3", "--tree", str(kernel_tree), "--json"],
        capture_output=True, text=True, check=False)
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["revision"] == 3 and doc["missing"] == [9]
    assert [(p["patch"], p["function"]) for p in doc["pairs"]] == [("11/15", "hmm_vma_walk_pmd")]
    assert sum(len(r["findings"]) for r in doc["checkpatch"]) == 19
    assert "pair scan" in proc.stderr and "Traceback" not in proc.stderr
