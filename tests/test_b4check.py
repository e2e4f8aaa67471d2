"""`reviewtool b4-check` run the way `b4 review` runs a per-patch check command.

The command is configured as `b4.review-perpatch-check-cmd` in git config,
read back with b4's own `load_check_cmds`, and run with b4's
`_run_external_cmd` on real v3 patch mails, in the kernel tree (b4 runs
checks in the checkout's top directory).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from email.message import EmailMessage
from pathlib import Path

import pytest
from b4.review import checks

from series.b4env import isolated_b4
from series.load import bundled_thread_path, load_thread

# The installed console script, as a user configures it. (`python -m reviewtool` would not do
# here: run in a kernel tree, the tree's kernel/ directory shadows reviewtool's `kernel` package.)
SCRIPT = Path(sys.executable).parent / "reviewtool"
CMD = f"{SCRIPT} b4-check"


def _mail(msgid_prefix: str) -> EmailMessage:
    for m in load_thread(str(bundled_thread_path("pte-v3"))).messages:
        if m["Message-ID"].strip().startswith(msgid_prefix):
            return m
    raise AssertionError(msgid_prefix)


def _run_as_b4(msg: EmailMessage, topdir: Path, monkeypatch: pytest.MonkeyPatch) -> list[dict]:
    """b4 reads the command from git config and runs it on the mail in topdir."""
    monkeypatch.setenv("GIT_CONFIG_COUNT", "1")
    monkeypatch.setenv("GIT_CONFIG_KEY_0", "b4.review-perpatch-check-cmd")
    monkeypatch.setenv("GIT_CONFIG_VALUE_0", CMD)
    with isolated_b4():
        perpatch, _series = checks.load_check_cmds()
        assert perpatch == [CMD]
        return checks._run_external_cmd(checks.parse_cmd(perpatch[0]), msg, str(topdir))


def _details(check: dict) -> list[dict]:
    return json.loads(check["details"]) if check["details"] else []


@pytest.mark.kernel
def test_pair_imbalance_is_a_failing_check(kernel_tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # v3 11/15 takes pte_tryget_map() in hmm_vma_walk_pmd() and returns early without pte_put()
    results = _run_as_b4(_mail("<20211110105428.32458-12-"), kernel_tree, monkeypatch)
    by_tool = {r["tool"]: r for r in results}
    assert set(by_tool) == {"reviewtool-checkpatch", "reviewtool-pairscan"}
    assert all(r["status"] in ("pass", "warn", "fail") for r in results)
    pairs = by_tool["reviewtool-pairscan"]
    assert pairs["status"] == "fail" and pairs["summary"] == "1 error"
    (finding,) = _details(pairs)
    assert finding["description"].startswith("mm/hmm.c:")
    assert "leak in hmm_vma_walk_pmd()" in finding["description"] and "without pte_put()" in finding["description"]


@pytest.mark.kernel
def test_checkpatch_findings_in_b4_form(kernel_tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # v3 06/15 adds include/linux/pte_ref.h with a C++-style SPDX line and spaces before tabs
    results = _run_as_b4(_mail("<20211110105428.32458-7-"), kernel_tree, monkeypatch)
    cp = next(r for r in results if r["tool"] == "reviewtool-checkpatch")
    assert cp["status"] == "warn"
    descriptions = [d["description"] for d in _details(cp)]
    assert cp["summary"] == f"{len(descriptions)} warnings"
    assert any(d.startswith("include/linux/pte_ref.h:1: checkpatch WARNING SPDX_LICENSE_TAG:") for d in descriptions)
    assert all(d["status"] == "warn" for d in _details(cp))
    assert next(r for r in results if r["tool"] == "reviewtool-pairscan")["status"] == "pass"


@pytest.mark.kernel
def test_a_mail_without_a_diff_fails_with_a_message(kernel_tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    review = _mail("<875yt0krcj.fsf@meer.lwn.net>")  # Jonathan Corbet's review: quotes, no patch
    (result,) = _run_as_b4(review, kernel_tree, monkeypatch)
    assert result["status"] == "fail"
    assert result["summary"] == "exited with error code 2"
    assert result["details"] == "reviewtool: error: the mail on stdin has no diff"
    assert "Traceback" not in result["details"]


def test_empty_stdin_is_bad_input(tmp_path: Path) -> None:
    out = subprocess.run([str(SCRIPT), "b4-check", "--no-pairs",
                          "--checkpatch", str(tmp_path / "none.pl")],
                         input=b"", capture_output=True, timeout=60, cwd=tmp_path,
                         env={**os.environ, "GIT_CONFIG_NOSYSTEM": "1"})
    assert out.returncode == 2
    assert out.stderr.decode().strip() == "reviewtool: error: no patch mail on stdin"
    assert out.stdout == b""
