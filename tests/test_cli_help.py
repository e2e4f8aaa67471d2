"""Every command's --help ends with examples that work when pasted into a shell.

Each example line must be valid shell (a note in parentheses after the
command is a syntax error once pasted), and each `reviewtool ...` in it must
parse with the options the command really has.  The offline examples of
`show` are run for real.
"""
from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from reviewtool.cli import build_parser

REVIEWTOOL = Path(sys.executable).parent / "reviewtool"


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(action.choices)


def examples(parser: argparse.ArgumentParser) -> list[str]:
    """The indented lines of the epilog's "examples:" block."""
    lines = (parser.epilog or "").splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "examples:") + 1
    out = []
    for line in lines[start:]:
        if not line.startswith("  "):
            break
        out.append(line.strip())
    return out


def reviewtool_argvs(line: str) -> list[list[str]]:
    """The argument lists given to reviewtool in a shell line (pipes, &&, redirections and comments cut)."""
    tokens = shlex.split(line, comments=True)
    argvs, current = [], None
    for tok in tokens:
        if tok in ("|", "&&", ";"):
            current = None
        elif tok in (">", "<"):
            current = None
        elif tok == "reviewtool":
            current = []
            argvs.append(current)
        elif current is not None:
            current.append(tok)
    return argvs


@pytest.mark.parametrize("name", sorted(_subparsers()))
def test_examples_are_shell_lines_with_real_options(name: str) -> None:
    lines = examples(_subparsers()[name])
    assert lines, f"{name} --help has no examples"
    for line in lines:
        syntax = subprocess.run(["bash", "-n", "-c", line], capture_output=True, text=True)
        assert syntax.returncode == 0, f"{line!r}: {syntax.stderr}"
        argvs = reviewtool_argvs(line)
        if line.startswith("git config"):
            continue  # sets b4's option to the command; the command itself is checked below
        assert argvs, f"{line!r} does not run reviewtool"
        for argv in argvs:
            try:
                build_parser().parse_args(argv)
            except SystemExit as exc:
                raise AssertionError(f"{line!r}: reviewtool {' '.join(argv)} does not parse") from exc


def test_offline_show_examples_run(tmp_path: Path) -> None:
    for line in examples(_subparsers()["show"]):
        if "--bundled" not in line:
            continue
        proc = subprocess.run(line.replace("reviewtool", str(REVIEWTOOL), 1), shell=True, cwd=tmp_path,
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode in (0, 1) and proc.stdout, (line, proc.stderr)  # 1: findings (v3 lacks 09/15)
