"""Every command judges findings by one rule (reviewtool.findings.judge): on the same series they
exit alike. A one-patch series that is clean everywhere exits 0 from all of them; the same patch
sent as 1/2 with 2/2 lost from the thread exits 1 from all of them (the missing patch counts,
whatever else a command looks at)."""
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
    "build": ["--out", "{tmp}/build", "--arch", "x86_64", "--config", "mm-on"],
    "review": ["--out", "{tmp}/review", "--arch", "x86_64", "--config", "mm-on", "--from", "R <r@example.org>"],
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
    first, second = commit_edits(kernel_tree, head, [EDITS[0], EDITS[4]])  # two comment-only edits
    one = tmp_path / "one.mbox"
    one.write_text(g.format_patch("--thread=shallow", "--stdout", f"{head}..{first}", strip_newline_in_stdout=False))
    assert _exit_codes(one, kernel_tree, head, tmp_path / "one") == dict.fromkeys(COMMANDS, 0)

    both = g.format_patch("--thread=shallow", "--stdout", f"{head}..{second}", strip_newline_in_stdout=False)
    mails = re.split(r"(?m)^(?=From [0-9a-f]{40} )", both)
    lost = tmp_path / "lost.mbox"
    lost.write_text("".join(m for m in mails if "[PATCH 2/2]" not in m))
    assert _exit_codes(lost, kernel_tree, head, tmp_path / "lost") == dict.fromkeys(COMMANDS, 1)
    progress = subprocess.run([sys.executable, "-m", "reviewtool", "show", "--mbox", str(lost)],
                              capture_output=True, text=True, timeout=120).stderr
    assert "1 of 2 patches (missing 2 of 2)" in progress
