"""What one new mail is for series detection: b4 reads its subject, we place it in a thread.

b4's LoreMessage parses "[RFC PATCH v2 03/15] ..." (revision, counter,
expected, reply, RFC/RESEND prefixes) and the References chain. A series is
then (thread root, revision, author): the cover and patches of one posting
share the root of their References, and a v2 posted in reply to v1 stays a
separate series by its revision. Replies join the series of the nearest
patch or cover they answer.
"""
from __future__ import annotations

import email.parser
import email.policy
import re
from dataclasses import dataclass

import b4

_CHANGE_ID_RE = re.compile(r"^change-id:\s+(\S+)", re.I | re.M)
MBOXRD_FROM = b"From mboxrd@z Thu Jan  1 00:00:00 1970\n"


class MalformedMail(Exception):
    """A message the watcher records and skips."""


@dataclass
class MailInfo:
    msgid: str
    kind: str  # cover | patch | reply | other
    refs: list[str]  # root first, parent last
    revision: int
    counter: int
    expected: int
    author: str  # e-mail address, lower case
    subject: str  # without prefixes
    change_id: str

    @property
    def thread_root(self) -> str:
        return self.refs[0] if self.refs else self.msgid

    @property
    def is_posting(self) -> bool:
        return self.kind in ("cover", "patch")


def parse_mail(raw: bytes) -> MailInfo:
    """Read one inbox message (call inside series.b4env.isolated_b4)."""
    try:
        msg = email.parser.BytesParser(policy=email.policy.default).parsebytes(raw)
        if not msg.keys():
            raise MalformedMail("no mail headers")
        if not msg.get("From"):
            raise MalformedMail("no From header")
        lmsg = b4.LoreMessage(msg)
    except ValueError as exc:  # b4: no valid Message-ID; email: broken headers
        raise MalformedMail(str(exc) or "unreadable headers") from exc
    if not lmsg.fromemail:
        raise MalformedMail("no address in From")
    subject = lmsg.lsubject
    if lmsg.reply:
        kind = "reply"
    elif subject.patch or lmsg.has_diff:
        kind = "cover" if lmsg.counter == 0 else "patch"
    else:
        kind = "reply" if lmsg.references else "other"
    found = _CHANGE_ID_RE.search(lmsg.body or "")
    return MailInfo(msgid=lmsg.msgid, kind=kind, refs=list(lmsg.references), revision=lmsg.revision,
                    counter=lmsg.counter, expected=lmsg.expected, author=lmsg.fromemail.lower(),
                    subject=" ".join(subject.subject.split()), change_id=found.group(1) if found else "")


def as_mboxrd(raws: list[bytes]) -> bytes:
    """Messages as one mboxrd (the format b4 and the review read)."""
    out = []
    for raw in raws:
        body = re.sub(rb"(?m)^(>*From )", rb">\1", raw)
        out.append(MBOXRD_FROM + body + (b"" if body.endswith(b"\n") else b"\n") + b"\n")
    return b"".join(out)
