"""Every command judges findings by one rule (reviewtool.findings.judge): on the same series they
exit alike. A two-patch series that is clean everywhere exits 0 from all of them; the same thread
with 2/2 lost exits 1 from all of them (the missing patch counts, whatever else a command looks
at). Patch 1/2 is the same mail in both, so the second round takes every stage from the cache."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import git
import pytest

from tests.conftest import commit_edits
from tests.test_kernel_build import EDITS

pytestmark = pytest.mark.kernel

COMMANDS = {
    "show": [],
    "check": [],
    "apply": ["--out", "{tmp}/apply"],
    # one O= directory for both rounds: the second only rebuilds what changed
    "build": ["--out", "{tmp}/../build", "--arch", "x86_64", "--config", "mm-off", "--no-full-build"],
    "review": ["--out", "{tmp}/review", "--arch", "x86_64", "--config", "mm-off", "--no-full-build",
               "--from", "R <r@example.org>"],
}


def _exit_codes(mbox: Path, tree: Path, base: str, tmp: Path) -> dict[str, int]:
    codes = {}
    for name, extra in COMMANDS.items():
        tree_args = [] if name == "show" else ["--tree", str(tree)] + ([] if name == "check" else ["--base", base])
        proc = subprocess.run([sys.executable, "-m", "reviewtool", name, "--mbox", str(mbox), *tree_args,
                               *[x.format(tmp=tmp) for x in extra]],
                              capture_output=True, text=True, timeout=1800, env=os.environ.copy())
        assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
        codes[name] = proc.returncode
    return codes


def test_all_commands_agree_on_the_same_series(kernel_tree: Path, tmp_path: Path) -> None:
    g = git.Git(kernel_tree)
    head = g.rev_parse("HEAD")
    last = commit_edits(kernel_tree, head, [EDITS[0], EDITS[4]])[-1]  # two comment-only edits
    both = g.format_patch("--thread=shallow", "--stdout", f"{head}..{last}", strip_newline_in_stdout=False)
    whole = tmp_path / "whole.mbox"
    whole.write_text(both)
    assert _exit_codes(whole, kernel_tree, head, tmp_path / "whole") == dict.fromkeys(COMMANDS, 0)
    report = (tmp_path / "whole" / "review" / "report.html").read_text()  # the small built case, rendered
    assert "<th>x86_64/mm-off</th>" in report and report.count('<td class="st-ok">ok</td>') == 3  # base, 1, 2
    assert '<td id="findings-count">0</td>' in report and "<td>builds</td>" in report  # timed

    mails = re.split(r"(?m)^(?=From [0-9a-f]{40} )", both)
    lost = tmp_path / "lost.mbox"
    lost.write_text("".join(m for m in mails if "[PATCH 2/2]" not in m))
    assert _exit_codes(lost, kernel_tree, head, tmp_path / "lost") == dict.fromkeys(COMMANDS, 1)
    progress = subprocess.run([sys.executable, "-m", "reviewtool", "show", "--mbox", str(lost)],
                              capture_output=True, text=True, timeout=120).stderr
    assert "1 of 2 patches (missing 2 of 2)" in progress
