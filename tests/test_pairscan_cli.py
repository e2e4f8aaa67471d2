"""`reviewtool scan` and `reviewtool check` from the command line: output, exit codes, bad input."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

DATA = Path(__file__).parent / "data" / "pairscan"


def reviewtool(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "reviewtool", *args], capture_output=True, text=True,
                          check=False, cwd=cwd)


def test_scan_reports_findings_with_tree_relative_paths():
    proc = reviewtool("scan", "--tree", str(DATA), "basic.c", "--json")
    assert proc.returncode == 1, proc.stderr
    found = json.loads(proc.stdout)
    assert {(f["file"], f["finding"]["function"]) for f in found} == {
        ("basic.c", n) for n in ("leak_on_goto_error", "leak_on_early_return", "double_release",
                                 "conditional_acquire_leak", "loop_leak_on_break", "iterator_macro")}
    text = reviewtool("scan", str(DATA / "basic.c"), "-j", "1").stdout
    assert "leak_on_goto_error(): leak of pte_map, spinlock [high]: returns at line 17" in text
    assert text.endswith("6 findings\n")


def test_scan_clean_file_exits_0(tmp_path):
    (tmp_path / "ok.c").write_text("void f(spinlock_t *l)\n{\n\tspin_lock(l);\n\tspin_unlock(l);\n}\n")
    proc = reviewtool("scan", str(tmp_path))
    assert (proc.returncode, proc.stdout) == (0, "0 findings\n")


def test_scan_bad_input_is_one_line_exit_2(tmp_path):
    for args in (["scan", str(tmp_path / "nope.c")],
                 ["scan", "--tree", str(tmp_path / "nope"), "x.c"],
                 ["scan", str(DATA), "--rules", str(tmp_path / "missing.toml")]):
        proc = reviewtool(*args)
        assert proc.returncode == 2, args
        assert proc.stderr.startswith("reviewtool: error: ") and "Traceback" not in proc.stderr


def test_check_without_tree_uses_hunks_only_and_exits_2_on_bad_options(tmp_path):
    proc = reviewtool("check", "--bundled", "pte-v3", "--no-checkpatch", "--checkpatch", "/nonexistent", "--json")
    assert proc.returncode == 1, proc.stderr  # v3 lacks 09/15 and has robot reports: findings for every command
    doc = json.loads(proc.stdout)
    assert doc["pairs"] == []  # no tree: hunks only, v3 shows nothing there
    assert {f["kind"] for f in doc["findings"]} == {"missing-patch", "bot-report"}
    proc = reviewtool("check", "--bundled", "pte-v3", "--no-checkpatch", "--no-pairs")
    assert proc.returncode == 2 and "nothing to do" in proc.stderr
    proc = reviewtool("check", "--bundled", "pte-v3", "--checkpatch", str(tmp_path / "none.pl"))
    assert proc.returncode == 2 and "no such checkpatch.pl" in proc.stderr


def test_check_names_the_missing_patches_as_ranges():
    import argparse

    from reviewtool.commands.check import render

    args = argparse.Namespace(no_checkpatch=True, no_pairs=False)
    assert render([], [], args, "missing 2-5, 9 of 15", []).splitlines()[0] == \
        "note: missing 2-5, 9 of 15: those patches are not checked"