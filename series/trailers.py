"""b4's trailers as model Trailers, with a caution where one should not be applied blindly.

Choice (documented in docs/show-json.md): the kernel test robot's
"If you fix the issue, kindly add following tag ... Reported-by: kernel test
robot" is kept in `followup_trailers` (b4 collects it, and a maintainer may
want it on the *fixed* version), but marked with `caution` because it is a
bot's suggestion for a fix, not a review.
"""
from __future__ import annotations

import b4

from series.bots import is_bot_report_sender
from series.model import Trailer

BOT_SUGGESTION = (
    "suggested by the kernel test robot for whoever fixes the build error it "
    "reported; not a review: add it only to a version that fixes that error"
)


def from_b4(ltr: b4.LoreTrailer, fallback_msgid: str) -> Trailer:
    """A b4 LoreTrailer as a Trailer; `lmsg` is the reply that gave it, when b4 knows."""
    source = ltr.lmsg
    msgid = source.msgid if source is not None else fallback_msgid
    caution = ""
    if source is not None and source.reply and is_bot_report_sender(source.fromemail):
        caution = BOT_SUGGESTION
    return Trailer(name=ltr.name, value=ltr.value, source_msgid=msgid, caution=caution)


def set_aside(ltr: b4.LoreTrailer, fallback_msgid: str) -> Trailer:
    """A person trailer b4 would not apply: the mail's sender is not the person it names."""
    trailer = from_b4(ltr, fallback_msgid)
    sender = ltr.lmsg.fromemail if ltr.lmsg is not None else "unknown"
    trailer.caution = (
        f"sent by {sender}, who is not the person this trailer names; "
        "b4 leaves it out unless asked to be sloppy: confirm with that person"
    )
    return trailer


def own_trailers(body: str, msgid: str) -> list[Trailer]:
    """Trailers written in the patch itself (Signed-off-by, Cc, Link ...)."""
    _githeaders, _message, trailers, _basement, _signature = b4.LoreMessage.get_body_parts(body)
    return [Trailer(name=t.name, value=t.value, source_msgid=msgid) for t in trailers]
