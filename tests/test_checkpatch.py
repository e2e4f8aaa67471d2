"""checkpatch.pl on the real v3 patches: our parsed findings equal a plain run's."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from kernel.checkpatch import find_checkpatch, parse_output, run_checkpatch
from kernel.errors import KernelInputError
from series.assemble import assemble_series
from series.load import bundled_thread_path, load_thread


@pytest.fixture(scope="module")
def v3_patches() -> list[tuple[str, str]]:
    series = assemble_series(load_thread(str(bundled_thread_path("pte-v3"))).messages)
    return [(f"{p.counter:02d}/{p.expected}", p.mbox) for p in series.patches]


def plain_run(tree: Path, patch: Path, no_tree: bool) -> tuple[list[tuple], dict]:
    """checkpatch.pl by hand (no --emacs), read with its own documented block layout."""
    cmd = ["perl", "scripts/checkpatch.pl", "--show-types"] + (["--no-tree"] if no_tree else []) + [str(patch)]
    out = subprocess.run(cmd, cwd=tree, capture_output=True, text=True, check=False).stdout
    found = []
    for block in out.split("\n\n"):
        lines = block.strip("\n").splitlines()
        head = re.match(r"^(ERROR|WARNING|CHECK):([A-Z0-9_]+): (.*)$", lines[0]) if lines else None
        if not head:
            continue
        where = next((re.match(r"^#\d+: (?:FILE: (.+):(\d+):)?", ln) for ln in lines if ln.startswith("#")), None)
        found.append((head[1], head[2], where[1] or "" if where else "", int(where[2] or 0) if where else 0, head[3]))
    total = re.search(r"^total: (\d+) errors, (\d+) warnings, (?:(\d+) checks, )?", out, re.M)
    return found, {"errors": int(total[1]), "warnings": int(total[2]), "checks": int(total[3] or 0)}


@pytest.mark.kernel
@pytest.mark.parametrize("no_tree", [False, True])
def test_findings_equal_a_plain_checkpatch_run(kernel_tree, v3_patches, tmp_path, no_tree):
    script = find_checkpatch(kernel_tree, None)
    results = run_checkpatch(v3_patches, script, None if no_tree else kernel_tree)
    assert [r.patch for r in results] == [label for label, _ in v3_patches]
    total_findings = 0
    for (label, mbox), result in zip(v3_patches, results):
        patch = tmp_path / "p.patch"
        patch.write_text(mbox)
        expected, totals = plain_run(kernel_tree, patch, no_tree)
        ours = [(f.level, f.type, f.file, f.line, f.message.splitlines()[0]) for f in result.findings]
        assert ours == expected, label
        assert result.totals == totals, label
        assert len(result.findings) == sum(totals.values()), label
        total_findings += len(result.findings)
    # The v3 series really has style findings (06/15: SPDX comment style, spaces before tabs...).
    assert total_findings >= 18
    six = next(r for r in results if r.patch == "06/15")
    assert ("WARNING", "SPDX_LICENSE_TAG", "include/linux/pte_ref.h", 1) in {
        (f.level, f.type, f.file, f.line) for f in six.findings}


@pytest.mark.kernel
def test_checkpatch_named_by_path_works_without_a_tree(kernel_tree, v3_patches):
    script = find_checkpatch(None, kernel_tree / "scripts" / "checkpatch.pl")
    (result,) = run_checkpatch(v3_patches[5:6], script, None, jobs=1)
    assert result.patch == "06/15" and result.totals["warnings"] == 7


def test_parse_output_multiline_message_and_whole_patch_finding():
    text = (
        "/tmp/x/0000.patch:12: WARNING:COMMIT_LOG_LONG_LINE: Possible unwrapped commit description "
        "(prefer a maximum 75 chars per line)\n#12: \nthis is a long line\n\n"
        "/tmp/x/0000.patch:40: ERROR:CODE_INDENT: code indent should use tabs where possible\n"
        "#40: FILE: mm/memory.c:4571:\n+        x = 1;$\n\n"
        "total: 1 errors, 1 warnings, 50 lines checked\n"
    )
    r = parse_output("01/02", text)
    assert [(f.level, f.type, f.file, f.line, f.mail_line) for f in r.findings] == [
        ("WARNING", "COMMIT_LOG_LONG_LINE", "", 0, 12), ("ERROR", "CODE_INDENT", "mm/memory.c", 4571, 40)]
    assert r.totals == {"errors": 1, "warnings": 1, "checks": 0}


def test_missing_checkpatch_is_an_input_error(tmp_path):
    with pytest.raises(KernelInputError):
        find_checkpatch(None, None)
    with pytest.raises(KernelInputError):
        find_checkpatch(tmp_path, None)


def test_relative_checkpatch_path_is_the_one_in_the_current_directory(tmp_path, monkeypatch):
    """checkpatch runs in the tree's directory: `--checkpatch tools/checkpatch.pl` still means ./tools/."""
    (tmp_path / "tools").mkdir()
    (tmp_path / "tools" / "checkpatch.pl").write_text(
        'print "x.patch:1: WARNING:TEST_TYPE: from the script given\\n#1: FILE: a.c:1:\\n\\n";\n'
        'print "total: 0 errors, 1 warnings, 1 lines checked\\n"; exit 1;\n')
    tree = tmp_path / "tree"
    tree.mkdir()
    monkeypatch.chdir(tmp_path)
    script = find_checkpatch(tree, Path("tools/checkpatch.pl"))
    (result,) = run_checkpatch([("01/01", "Subject: x\n\nbody\n")], script, tree, jobs=1)
    assert [(f.type, f.message) for f in result.findings] == [("TEST_TYPE", "from the script given")]
