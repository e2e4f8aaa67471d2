"""Kernel test robot (0-day, lkp@intel.com) build reports, read from their replies.

The robot writes a fixed layout: `base:`/`url:` lines, `config: <name> (...)`,
`compiler: ...`, then compiler output where lines it attributes to the patch
start with `>>`. Only that layout is read; anything else from the robot is a
plain reply.
"""
from __future__ import annotations

import re

from series.model import BotError, BotReport

BOT_SENDERS = frozenset({"lkp@intel.com"})

_FIELD_RE = re.compile(r"^(url|base|config|compiler):\s+(.*?)\s*$", re.M)
_AUTO_ON_RE = re.compile(r"^\[auto build test \w+ on ([^\]]+)\]", re.M)
_DIAG_RE = re.compile(
    r"^(?P<new>>>)?\s*(?P<path>[\w./+-]+):(?P<line>\d{1,9}):(?:(?P<col>\d{1,9}):)?\s*"
    r"(?P<sev>error|warning|note):\s*(?P<msg>.*?)\s*$"
)
_END_OF_OUTPUT = re.compile(r"^vim \+\d+ ", re.M)


def is_bot_report_sender(address: str) -> bool:
    return address.strip().lower() in BOT_SENDERS


def parse_bot_report(
    *, msgid: str, in_reply_to: str, patch_counter: int | None, sender: str, body: str,
) -> BotReport | None:
    """The report in `body`, or None when it is not a robot build report."""
    if not is_bot_report_sender(sender):
        return None
    fields = {name: value for name, value in _FIELD_RE.findall(body)}
    if "config" not in fields:
        return None
    auto_on = _AUTO_ON_RE.search(body)
    tree = fields.get("base") or (auto_on.group(1) if auto_on else "")
    return BotReport(
        msgid=msgid,
        in_reply_to=in_reply_to,
        patch_counter=patch_counter,
        tree=tree,
        config=fields["config"].split()[0],
        compiler=fields.get("compiler", ""),
        errors=_diagnostics(body),
    )


def _diagnostics(body: str) -> list[BotError]:
    end = _END_OF_OUTPUT.search(body)
    errors = []
    for line in body[: end.start() if end else len(body)].splitlines():
        match = _DIAG_RE.match(line)
        if not match:
            continue
        errors.append(BotError(
            path=match["path"],
            line=int(match["line"]),
            column=int(match["col"] or 0),
            severity=match["sev"],
            message=match["msg"],
            new=bool(match["new"]),
        ))
    return errors
