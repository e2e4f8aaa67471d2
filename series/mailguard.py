"""Mail is untrusted: make parsed messages safe for b4 and the standard library before either reads them.

Every guard here stands in front of a fault that fuzzing the bundled threads
found in b4 0.16 or Python's `email` package, not in our code; each says
which. The rule is to keep what can be read, say what was changed or left
out (a warning per mail), and never pass on a value that would later raise,
hang or print invalid UTF-8:

- header values are decoded strictly at the boundary: 8-bit bytes (which the
  parser keeps as lone surrogates, so `show --json` printed invalid UTF-8 and
  the stage cache could not be written) are read as UTF-8 (RFC 6532), else
  replaced with U+FFFD;
- a header the stdlib or b4's `clean_header` cannot parse (`<<a@b>>`:
  IndexError; an encoded From that decodes to CR/LF: ValueError; a broken
  encoded-word Date: HeaderParseError) is repaired (Message-IDs, as b4
  reads them) or removed, and a mail without a usable From is left out;
- a Date whose UTC time is out of range (year 9999 at -2359: OverflowError
  when b4 compares dates) is removed (b4 then dates the mail "now");
- a charset Python cannot use for b4's errors='replace' decoding (unknown,
  `utf-8\\0`: ValueError; `idna`: UnicodeError; `utf-7` decoding to lone
  surrogates) is set to UTF-8 for b4, and the problem is kept as a
  `CharsetDefect` on the part so that a patch in it is refused, not reviewed
  garbled (series.assemble reads it);
- a reply cycle (In-Reply-To A -> B -> A) is cut: b4's
  `LoreMailbox.get_series` walks the parent chain with only a self-loop check;
- counters: revisions above MAX_REVISION and counters above MAX_PATCHES are
  refused here, so no loop or list downstream is sized by a number from mail
  (b4 itself keeps only 4-digit counters, revisions unbounded);
- a trailer-shaped line ("Name: value") longer than MAX_TRAILER_LINE, or as
  long a run of white space after "Name:", leaves its mail out: b4's trailer
  regexes are quadratic in it (50,000 characters cost seconds, 100,000 nearly
  a minute, 1 MB of spaces hung `show`).
"""
from __future__ import annotations

import codecs
import datetime
import email.errors
import email.utils
import re
import weakref
from email.message import EmailMessage, Message

import b4
import liblore.utils

MAX_INPUT_BYTES = 256 * 1024 * 1024  # a whole thread; lore's biggest are a few MB
MAX_MESSAGES = 20_000
MAX_REVISION = 1000
MAX_PATCHES = 1000
MAX_TRAILER_LINE = 2000

_ID_HEADERS = ("message-id", "in-reply-to", "references")
# The headers b4, the thread view and the reply drafts parse (probing all of them
# would double the stdlib's parsing time, which is most of a thread's load time).
_READ_HEADERS = frozenset({"from", "to", "cc", "reply-to", "date", "subject", "content-type",
                           "content-transfer-encoding", "list-id", *_ID_HEADERS})
_MSGID_TOKEN_RE = re.compile(r"<[^<>\s]+>")
_NAME_TOKEN_RE = re.compile(rb"^[ \t]*[^\s:]*:", re.M)  # a line whose first token has a colon
_LONG_SPACE_RE = re.compile(rb"\s{%d}" % MAX_TRAILER_LINE)
# What the stdlib header parser and b4's header helpers raise on hostile values.
_PARSE_ERRORS = (ValueError, IndexError, TypeError, AttributeError, LookupError, OverflowError,
                 email.errors.MessageError)


# Mails already guarded (and repaired in place): assemble guards again for callers that
# did not load through series.load, and must not pay the header parsing twice.
_GUARDED: weakref.WeakSet[EmailMessage] = weakref.WeakSet()


class CharsetDefect(email.errors.MessageDefect):
    """A text part whose charset cannot give exactly the text that was sent (str(): why)."""


class _LeaveOut(Exception):
    """This mail cannot be read safely; str(): why."""


def guard_messages(messages: list[EmailMessage]) -> tuple[list[EmailMessage], list[str]]:
    """The mails that are safe to hand to b4 (repaired in place), and one warning per change."""
    warnings: list[str] = []
    if len(messages) > MAX_MESSAGES:
        warnings.append(f"{len(messages)} mails: only the first {MAX_MESSAGES} are read")
        messages = messages[:MAX_MESSAGES]
    kept = []
    for index, msg in enumerate(messages, 1):
        if msg in _GUARDED:
            kept.append(msg)
            continue
        name = f"mail {index} <{_raw_msgid(msg)}>"
        try:
            notes = [*_repair_headers(msg), *_check_date(msg), *_check_charsets(msg)]
            _check_counters(msg)
            _check_trailer_lines(msg)
        except _LeaveOut as why:
            warnings.append(f"{name} left out: {why}")
            continue
        warnings.extend(f"{name}: {note}" for note in notes)
        kept.append(msg)
        _GUARDED.add(msg)
    warnings.extend(_cut_reply_cycles(kept))
    return kept, warnings


def _raw_msgid(msg: EmailMessage) -> str:
    raw = next((v for n, v in msg.raw_items() if n.lower() == "message-id"), "")
    return _strict_text(str(raw)).strip().strip("<>")[:100]


def _strict_text(value: str) -> str:
    """A header value as real text: the parser's surrogates are raw 8-bit bytes, read as UTF-8."""
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _repair_headers(msg: EmailMessage) -> list[str]:
    notes = []
    headers = [(name, _strict_text(value)) for name, value in msg.raw_items()]
    if any(value != original for (_, value), (_, original) in zip(headers, msg.raw_items())):
        notes.append("8-bit bytes in its headers read as UTF-8")
        _replace_headers(msg, headers)
    for name in dict.fromkeys(n.lower() for n, _ in headers if n.lower() in _READ_HEADERS):
        try:
            for value in msg.get_all(name, []):
                b4.LoreMessage.clean_header(str(value))  # b4 decodes encoded words again
        except _PARSE_ERRORS as exc:
            notes.append(_repair_header(msg, name, exc))
    return notes


def _repair_header(msg: EmailMessage, name: str, exc: Exception) -> str:
    """One header the stdlib or b4 cannot parse: Message-IDs kept as b4 reads them, others removed."""
    why = f"{type(exc).__name__} parsing it"
    if name == "from":
        raise _LeaveOut(f"its From header cannot be parsed ({why})")
    repaired = ""
    if name in _ID_HEADERS:  # the <...> tokens, as b4 (liblore) reads Message-IDs from the raw value
        raws = [str(v) for n, v in msg.raw_items() if n.lower() == name]
        tokens = [t for raw in raws for t in _MSGID_TOKEN_RE.findall(raw)]
        repaired = " ".join(tokens if name == "references" else tokens[:1])
    headers = [(n, v) for n, v in msg.raw_items() if n.lower() != name]
    if repaired:
        headers.append((name.title(), repaired))
    _replace_headers(msg, headers)
    if name == "message-id" and not repaired:
        raise _LeaveOut(f"its Message-ID cannot be parsed ({why})")
    return f"{name} header " + (f"read as {repaired}" if repaired else "removed") + f" ({why})"


def _replace_headers(msg: EmailMessage, headers: list[tuple[str, str]]) -> None:
    for name in {n.lower() for n in msg.keys()}:
        del msg[name]
    for name, value in headers:
        msg.set_raw(name, value)


def _check_date(msg: EmailMessage) -> list[str]:
    """b4 compares the dates of mails; a Date that has no UTC time raises there."""
    raw = msg.get("Date")
    if raw is None:
        return []
    try:
        when = email.utils.parsedate_to_datetime(str(raw))
        if when.tzinfo is not None:
            when.astimezone(datetime.timezone.utc)
        return []
    except (TypeError, ValueError, OverflowError, IndexError):
        pass
    if email.utils.parsedate_tz(str(raw)) is None:
        return []  # unparsable: b4 already dates it "now" and we show it undated
    del msg["Date"]
    return [f"Date {str(raw)[:60]!r} is out of range: removed"]


def _check_charsets(msg: EmailMessage) -> list[str]:
    notes = []
    for part in msg.walk():
        if part.get_content_maintype() != "text" and part.get_content_type() != "application/x-patch":
            continue
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes):
            continue
        try:
            charset = part.get_content_charset() or "utf-8"
        except _PARSE_ERRORS:
            charset = "(unreadable)"
        reason, usable = _charset_problem(payload, charset)
        if not reason:
            continue
        part.defects.append(CharsetDefect(reason))
        if not usable:
            part.set_param("charset", "utf-8")
            notes.append(f"{reason}: read as UTF-8")
    return notes


def _charset_problem(payload: bytes, charset: str) -> tuple[str, bool]:
    """Why `payload` is not exactly text in `charset` ("" when it is), and whether b4 can still decode it."""
    try:
        codecs.lookup(charset)
        lenient = payload.decode(charset, "replace")  # as b4 decodes
    except LookupError:
        return f"unknown charset {charset!r}", False
    except (UnicodeError, ValueError, TypeError) as exc:  # idna, "utf-8\0": b4 would raise too
        return f"unusable charset {charset!r} ({exc})", False
    try:
        lenient.encode("utf-8")
    except UnicodeEncodeError:  # utf-7, utf-16: git patch-id, JSON and the cache would fail
        return f"charset {charset!r} decodes to lone surrogates", False
    try:
        payload.decode(charset)
    except (UnicodeError, ValueError) as exc:
        where = f" at byte {exc.start}" if isinstance(exc, UnicodeDecodeError) else ""
        return f"body is not valid {charset} ({getattr(exc, 'reason', exc)}{where})", True
    return "", True


def charset_problem(msg: Message) -> str:
    """Why a mail's text is not what was sent ("" when it is): the guard's CharsetDefect, if any."""
    for part in msg.walk():
        for defect in part.defects:
            if isinstance(defect, CharsetDefect):
                return str(defect)
    return ""


def _check_counters(msg: EmailMessage) -> None:
    try:
        subject = b4.LoreMessage.clean_header(msg.get("Subject"))
    except _PARSE_ERRORS:
        return
    try:
        lsub = b4.LoreSubject(subject)
    except ValueError as exc:  # int() of a 5,000-digit "v9999...": b4 would raise it on this mail
        raise _LeaveOut(f"its subject does not parse ({exc})") from None
    if lsub.revision > MAX_REVISION:
        raise _LeaveOut(f"revision v{lsub.revision} is over the cap of {MAX_REVISION}")
    if max(lsub.counter, lsub.expected) > MAX_PATCHES:
        raise _LeaveOut(f"counter {lsub.counter}/{lsub.expected} is over the cap of {MAX_PATCHES} patches")


def _check_trailer_lines(msg: EmailMessage) -> None:
    """b4 matches `^\\S+:\\s+[^<]+\\n` and the like from every line that starts with a "Name:" token:
    a long line, or a long run of white space after the colon, costs the square of its length."""
    for part in msg.walk():
        if part.get_content_maintype() != "text":
            continue
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes) or len(payload) <= MAX_TRAILER_LINE:
            continue
        for match in _NAME_TOKEN_RE.finditer(payload):
            end = payload.find(b"\n", match.start())
            if ((end if end >= 0 else len(payload)) - match.start() > MAX_TRAILER_LINE
                    or _LONG_SPACE_RE.match(payload, match.end())):
                raise _LeaveOut(f"a 'Name: value' line over {MAX_TRAILER_LINE} characters "
                                "(b4's trailer parsing is quadratic in it)")


def _cut_reply_cycles(messages: list[EmailMessage]) -> list[str]:
    """Remove In-Reply-To where it closes a cycle, as b4 would otherwise walk it forever."""
    ids = [liblore.utils.get_clean_msgid(m) for m in messages]
    by_id = dict(zip(ids, messages))
    parent = {i: liblore.utils.get_clean_msgid(m, "In-Reply-To") for i, m in by_id.items() if i}
    notes, done = [], set()
    for start in parent:
        path, cur = [], start
        while cur in parent and cur not in done and cur not in path:
            path.append(cur)
            cur = parent[cur]
        if cur in path and parent.get(cur) != cur:  # a self-reply b4 guards itself
            del by_id[cur]["In-Reply-To"]
            notes.append(f"<{cur}>: In-Reply-To <{parent[cur]}> closes a reply cycle: ignored")
            parent[cur] = None
        done.update(path)
    return notes
