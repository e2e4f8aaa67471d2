"""`reviewtool b4-check`: checkpatch.pl and the pair scan on one patch mail, as a b4 check.

b4 runs the command named by `b4.review-perpatch-check-cmd` with one patch
e-mail on stdin, in the top directory of the kernel checkout, and reads a
JSON list `[{tool, status, summary, url, details}]` from stdout (status is
pass | warn | fail; details is JSON of `[{status, description}]`, the form
b4's own checkpatch check uses). With this command set there, `b4 review`
shows reviewtool's findings next to each patch:

  git config b4.review-perpatch-check-cmd "reviewtool b4-check"
"""
from __future__ import annotations

import argparse
import email
import email.policy
import json
import re
import sys
from pathlib import Path
from typing import Any

from kernel.checkpatch import find_checkpatch, has_history, run_checkpatch
from kernel.pairdiff import series_pair_findings
from kernel.pairrules import load_rules
from kernel.tree import open_user_tree, resolve_tree
from reviewtool.commands._sandbox import sandbox_from_args
from reviewtool.commands.check import add_check_arguments, check_arguments
from reviewtool.errors import UsageError
from reviewtool.findings import checkpatch_findings, counter_of, exit_code, pairscan_findings
from reviewtool.model import Finding
from series.patchparse import extract_diff, parse_diff

EPILOG = """examples:
  git config b4.review-perpatch-check-cmd "reviewtool b4-check"
  cd ~/linux && git format-patch -1 --stdout | reviewtool b4-check   # one patch mail per run

The tree is --tree, else the current directory when it is a kernel checkout
(b4 runs check commands there), else the managed linux-source-6.1 tree.
Output is always b4's check JSON (--json is accepted for uniformity).
exit status: 0 clean, 1 findings, 2 bad input, 3 a tool failed
"""
_MBOX_FROM = re.compile(rb"(?m)^From \S+ .*\d\d:\d\d:\d\d")  # mbox separators: "From <sha> Mon Sep 17 00:00:00 2001"
_COUNTER = re.compile(r"\[[^\]]*?(\d+)/(\d+)[^\]]*\]")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "b4-check", help="checks of one patch mail on stdin, as b4 review-perpatch-check-cmd JSON",
        description=__doc__, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--tree", type=Path, metavar="DIR", help="kernel checkout (see below)")
    add_check_arguments(parser)
    parser.add_argument("--json", action="store_true", help="(always JSON)")
    parser.set_defaults(command_module=sys.modules[__name__])


def read_patch_mail(data: bytes) -> tuple[str, str, str]:
    """(label "06/15", the mail as text, its diff) of one patch mail; bad input raises UsageError."""
    if not data.strip():
        raise UsageError("no patch mail on stdin")
    mails = len(_MBOX_FROM.findall(data))
    if mails > 1:  # the email package would read an mbox as one mail with every patch in its body
        raise UsageError(f"stdin holds {mails} mails (an mbox); b4-check takes one patch mail")
    msg = email.message_from_bytes(data, policy=email.policy.default)
    body_part = msg.get_body(("plain",)) if msg.is_multipart() or msg.get_content_type() == "text/plain" else None
    if body_part is None:
        raise UsageError("stdin is not a plain-text patch mail")
    try:
        body = body_part.get_content()
    except (LookupError, UnicodeError, AssertionError) as exc:
        raise UsageError(f"cannot decode the patch mail: {exc}") from None
    diff = extract_diff(body)
    if not diff:
        raise UsageError("the mail on stdin has no diff")
    m = _COUNTER.search(str(msg.get("Subject", "")))
    label = f"{m.group(1)}/{m.group(2)}" if m else "1/1"
    return label, data.decode("utf-8", errors="surrogateescape"), diff


def _tree(args: argparse.Namespace) -> Path | None:
    if args.tree:
        return open_user_tree(args.tree)
    if (Path.cwd() / "scripts" / "checkpatch.pl").is_file():
        return open_user_tree(Path.cwd())
    if args.checkpatch and args.no_pairs:
        return None
    return resolve_tree(None)


B4_STATUS = {"error": "fail", "warning": "warn"}  # info: shown, passes


def b4_check(tool: str, findings: list[Finding], clean: str) -> dict[str, Any]:
    """b4's check record from our findings: status from the same severity every command uses."""
    details = [{"status": B4_STATUS.get(f.severity, "pass"),
                "description": f"{f.file + ':' + str(f.line) + ': ' if f.file else ''}{f.title}: "
                               f"{f.message.splitlines()[0] if f.message else ''}"} for f in findings]
    if not details:
        return {"tool": tool, "status": "pass", "summary": clean, "url": "", "details": ""}
    fails = sum(1 for d in details if d["status"] == "fail")
    warns = sum(1 for d in details if d["status"] == "warn")
    parts = [f"{n} {word}{'s' if n != 1 else ''}" for n, word in ((fails, "error"), (warns, "warning")) if n]
    status = "fail" if fails else "warn" if warns else "pass"
    return {"tool": tool, "status": status, "summary": ", ".join(parts) or clean,
            "url": "", "details": json.dumps(details)}


def run(args: argparse.Namespace) -> int:
    check_arguments(args)
    rules = None if args.no_pairs else load_rules(args.rules)
    label, mail, diff = read_patch_mail(sys.stdin.buffer.read())
    files = {counter_of(label): parse_diff(diff, where=f"patch {label}")}  # a broken diff fails before the tree
    tree = _tree(args)
    checks, found = [], []
    if not args.no_checkpatch:
        script = find_checkpatch(tree, args.checkpatch)
        (result,) = run_checkpatch([(label, mail)], script, tree, jobs=1, sandbox=sandbox_from_args(args))
        found += checkpatch_findings([result], files, has_history(tree))
        checks.append(b4_check("reviewtool-checkpatch", found, "passed all checks"))
    if rules is not None:
        pairs = pairscan_findings([(counter_of(label), f) for f in series_pair_findings([(label, diff)], tree, rules)])
        found += pairs
        checks.append(b4_check("reviewtool-pairscan", pairs, "no unbalanced acquire/release introduced"))
    json.dump(checks, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
    return exit_code(found)
