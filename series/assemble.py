"""A thread's mails -> one revision of the series (series.model.Series), through b4.

b4 decides what is a patch, a cover letter or a follow-up and which trailers
belong where; we add the unidiff parse, the reply tree, the robot reports and
a strict view of what is missing. Nothing is guessed: partial re-rolls are not
filled in from older revisions, and a missing patch stays missing.

`LoreMailbox.get_series()` is not idempotent (a second call adds the cover
again and loses follow-up trailers), so every query builds a fresh mailbox.
"""
from __future__ import annotations

import datetime
import email.utils
import re
from collections.abc import Iterable
from email.message import EmailMessage

import b4

from series import bots, diffstat, mailguard, thread, trailers
from series.b4env import isolated_b4
from series.errors import SeriesInputError
from series.model import BotReport, Cover, FileChange, Message, Patch, Series, Trailer
from series.patchparse import extract_diff, parse_diff

_BASE_HINT_RE = re.compile(
    r"\b(?:is |are )?(?:based on|applies to|against|on top of)\s+(?:the\s+)?"
    r"(?:tag\s+|branch\s+)?[`'\"]?(?P<ref>(?:next|mmotm|mm|v\d)[\w.-]*\d|[0-9a-f]{12,40})",
    re.I,
)
_COMMIT_MSG_END_RE = re.compile(r"^---\s*$", re.M)


def revisions(messages: Iterable[EmailMessage]) -> list[int]:
    """The revisions (vN) with at least one patch mail in `messages`, ascending."""
    messages, _warnings = mailguard.guard_messages(list(messages))  # said at load; no-op then
    with isolated_b4():
        return sorted(_mailbox(messages).series)


def assemble_series(messages: Iterable[EmailMessage], revision: int | None = None) -> Series:
    """Revision `revision` (default: the highest number) of the series in `messages`."""
    messages, _warnings = mailguard.guard_messages(list(messages))  # said at load; no-op then
    with isolated_b4():
        problems = _charset_problems(messages)
        mailbox = _mailbox(messages)
        present_revisions = sorted(mailbox.series)
        if not present_revisions:
            raise SeriesInputError("the thread has no patches in it (no [PATCH n/m] mail with a diff)")
        wanted = present_revisions[-1] if revision is None else revision
        if wanted not in mailbox.series:
            have = ", ".join(f"v{r}" for r in present_revisions)
            raise SeriesInputError(f"no v{wanted} in this thread (it has {have})")
        lser = mailbox.get_series(wanted, reroll=False, codereview_trailers=False)
        if lser is None:
            raise SeriesInputError(f"v{wanted}: every patch of it is missing")
        aside = _trailers_set_aside(messages, wanted) if lser.trailer_mismatches else {}
        return _series(mailbox, lser, present_revisions, problems, aside)


def _trailers_set_aside(messages: list[EmailMessage], revision: int) -> dict[str, list[b4.LoreTrailer]]:
    """Patch/cover msgid -> person trailers b4 left out because the sender is not the person named.

    b4 only says *that* there were such trailers; a second, sloppy pass on a
    fresh mailbox (get_series is not idempotent) says where they belong.
    """
    mailbox = _mailbox(messages)
    mailbox.get_series(revision, sloppytrailers=True, reroll=False, codereview_trailers=False)
    return {m.msgid: list(m.followup_trailers) for m in mailbox.msgid_map.values() if m.followup_trailers}


def _mailbox(messages: Iterable[EmailMessage]) -> b4.LoreMailbox:
    mailbox = b4.LoreMailbox()
    for msg in messages:
        mailbox.add_message(msg)
    return mailbox


def _series(
    mailbox: b4.LoreMailbox, lser: b4.LoreSeries, present_revisions: list[int], problems: dict[str, str],
    aside: dict[str, list[b4.LoreTrailer]],
) -> Series:
    cover_lmsg = lser.patches[0] if lser.has_cover else None
    cover_trailers = _followups(cover_lmsg, aside) if cover_lmsg else []
    mails, duplicates = _patch_mails(mailbox, lser.revision)
    patches = {
        counter: _patch(lmsg, [*_followups(lmsg, aside), *cover_trailers], problems)
        for counter, lmsg in mails.items()
    }
    expected = max((p.expected for p in patches.values()), default=lser.expected)
    ordered = [patches[c] for c in sorted(patches)]
    cover = _cover(cover_lmsg, problems) if cover_lmsg else None
    messages, reports = _thread(mailbox, {m.msgid: c for c, m in mails.items()} | (
        {cover_lmsg.msgid: 0} if cover_lmsg else {}))
    missing = [c for c in range(1, expected + 1) if c not in patches]
    return Series(
        revision=lser.revision,
        expected=expected,
        subject=cover.subject if cover else ordered[0].subject,
        author=cover.author if cover else ordered[0].author,
        cover=cover,
        patches=ordered,
        missing=missing,
        duplicates=duplicates,
        base_commit=lser.base_commit or "",
        base_hint=_base_hint(cover_lmsg.body if cover_lmsg else ordered[0].commit_message),
        change_id=lser.change_id or "",
        thread=messages,
        bot_reports=reports,
        revisions_in_thread=present_revisions,
        diffstat_check=(
            diffstat.check(cover.diffstat, cover.diffstat_summary, ordered, missing)
            if cover and cover.diffstat else None
        ),
    )


def _patch_mails(mailbox: b4.LoreMailbox, revision: int) -> tuple[dict[int, b4.LoreMessage], list[int]]:
    """counter -> patch mail of `revision` (the earliest when sent twice), and the doubled counters.

    Taken from all mails rather than from b4's LoreSeries slots: on a
    duplicate, b4 moves the older mail to the next slot and so overwrites
    (drops) the real next patch.
    """
    candidates = sorted(
        (m for m in mailbox.msgid_map.values()
         if m.has_diff and not m.reply and m.revision == revision and m.counter >= 1),
        key=lambda m: m.date,
    )
    mails: dict[int, b4.LoreMessage] = {}
    duplicates: set[int] = set()
    for lmsg in candidates:
        if lmsg.counter in mails:
            duplicates.add(lmsg.counter)
        else:
            mails[lmsg.counter] = lmsg
    return dict(sorted(mails.items())), sorted(duplicates)


def _followups(lmsg: b4.LoreMessage, aside: dict[str, list[b4.LoreTrailer]]) -> list[Trailer]:
    """Trailers from replies to `lmsg`: b4's, then those it set aside (with a caution)."""
    kept = [trailers.from_b4(t, lmsg.msgid) for t in lmsg.followup_trailers]
    seen = {(t.name.lower(), t.value) for t in kept}
    return kept + [trailers.set_aside(t, lmsg.msgid) for t in aside.get(lmsg.msgid, [])
                   if (t.name.lower(), t.value) not in seen]


def _patch(lmsg: b4.LoreMessage, followup_trailers: list[Trailer], problems: dict[str, str]) -> Patch:
    where = f"v{lmsg.revision} {lmsg.counter}/{lmsg.expected} <{lmsg.msgid}>"
    body = _strict_body(lmsg, where, problems)
    diff = extract_diff(body)
    files = parse_diff(diff, where=where)
    _check_own_diffstat(body, files, where)
    end = _COMMIT_MSG_END_RE.search(body)
    return Patch(
        counter=lmsg.counter,
        expected=lmsg.expected,
        revision=lmsg.revision,
        msgid=lmsg.msgid,
        subject=lmsg.subject,
        author=_author(lmsg),
        date=_iso(lmsg.msg),
        commit_message=(body[: end.start()] if end else body).strip("\n") + "\n",
        diff=diff,
        files=files,
        git_patch_id=lmsg.git_patch_id or "",
        trailers=trailers.own_trailers(lmsg.body, lmsg.msgid),
        followup_trailers=followup_trailers,
        mbox=_am_mbox(lmsg, where),
    )


def _check_own_diffstat(body: str, files: list[FileChange], where: str) -> None:
    """A diff cut off between two files still parses; its own diffstat tells."""
    _entries, summary = diffstat.parse_diffstat(body)
    stated = diffstat.files_changed(summary)
    if stated is not None and len(files) < stated:
        raise SeriesInputError(
            f"{where}: the diff has {len(files)} file(s) but its diffstat says {stated}: cut off?"
        )


def _am_mbox(lmsg: b4.LoreMessage, where: str) -> str:
    """The mail as `git am` wants it (b4's am-ready message, no trailers added)."""
    try:
        am_msg = lmsg.get_am_message(add_trailers=False)
    except SystemExit as exc:  # b4 exits on Unicode control characters (trojan-source)
        raise SeriesInputError(f"{where}: suspicious Unicode control characters in the mail") from exc
    raw = b"From git@z Thu Jan  1 00:00:00 1970\n" + b4.LoreMessage.get_msg_as_bytes(am_msg, headers="decode")
    return raw.decode("utf-8")


def _cover(lmsg: b4.LoreMessage, problems: dict[str, str]) -> Cover:
    body = _strict_body(lmsg, f"cover letter <{lmsg.msgid}>", problems)
    entries, summary = diffstat.parse_diffstat(body)
    return Cover(
        msgid=lmsg.msgid,
        subject=lmsg.subject,
        author=_author(lmsg),
        date=_iso(lmsg.msg),
        body=body,
        diffstat=entries,
        diffstat_summary=summary,
    )


def _thread(mailbox: b4.LoreMailbox, series_ids: dict[str, int]) -> tuple[list[Message], list[BotReport]]:
    """Every mail as a Message in the reply tree, plus the robot reports on `series_ids` (msgid -> counter)."""
    messages: list[Message] = []
    references: dict[str, list[str]] = {}
    reports: list[BotReport] = []
    for lmsg in mailbox.msgid_map.values():
        body, _charset = b4.LoreMessage.get_payload(lmsg.msg)
        in_reply_to = lmsg.in_reply_to or ""
        report = None
        if lmsg.reply:
            report = bots.parse_bot_report(
                msgid=lmsg.msgid, in_reply_to=in_reply_to,
                patch_counter=series_ids.get(in_reply_to) or None,
                sender=lmsg.fromemail, body=body,
            )
        if report and in_reply_to in series_ids:
            reports.append(report)
        kind, counter = _kind(lmsg, report is not None)
        references[lmsg.msgid] = list(lmsg.references)
        messages.append(Message(
            msgid=lmsg.msgid, in_reply_to=in_reply_to, subject=lmsg.full_subject,
            author=_author(lmsg), date=_iso(lmsg.msg), kind=kind, depth=0, body=body,
            patch_counter=counter,
        ))
    reports.sort(key=lambda r: (r.patch_counter or 0, r.msgid))
    return thread.reply_tree(messages, references), reports


def _kind(lmsg: b4.LoreMessage, is_report: bool) -> tuple[str, int | None]:
    if is_report:
        return "bot-report", None
    if lmsg.reply:
        return "reply", None
    if lmsg.has_diff:
        return "patch", lmsg.counter
    if lmsg.counter == 0 and lmsg.expected > 0 and not lmsg.counters_inferred:
        return "cover", None
    return "other", None


def _charset_problems(messages: list[EmailMessage]) -> dict[str, str]:
    """Message-ID -> why its text does not decode, as series.mailguard found it at load.

    b4 decodes with errors='replace' and rewrites an unknown charset to UTF-8
    in the message itself, which would silently change a patch; the guard
    keeps its finding on the message (a defect), so a patch or cover letter
    listed here is refused however often b4 has read the mail (replies are
    read as b4 decodes them).
    """
    problems = {}
    for msg in messages:
        if reason := mailguard.charset_problem(msg):
            problems[b4.LoreMessage.get_clean_msgid(msg) or ""] = reason
    return problems


def _strict_body(lmsg: b4.LoreMessage, where: str, problems: dict[str, str]) -> str:
    """The text we review must be exactly what was sent: refuse what did not decode."""
    if lmsg.msgid in problems:
        raise SeriesInputError(f"{where}: {problems[lmsg.msgid]}")
    body, _charset = b4.LoreMessage.get_payload(lmsg.msg)
    return body.replace("\r\n", "\n")  # CRLF inside base64/QP bodies, as git am reads them


def _author(lmsg: b4.LoreMessage) -> str:
    return f"{lmsg.fromname} <{lmsg.fromemail}>" if lmsg.fromname else lmsg.fromemail


def _iso(msg: EmailMessage) -> str:
    """The Date header as ISO 8601 in UTC ("" when missing or unparsable)."""
    try:
        when = email.utils.parsedate_to_datetime(str(msg.get("Date", "")))
        if when.tzinfo is None:
            when = when.replace(tzinfo=datetime.timezone.utc)
        return when.astimezone(datetime.timezone.utc).isoformat()
    except (TypeError, ValueError, OverflowError):  # year 9999 at -2359 has no UTC time
        return ""


def _base_hint(text: str) -> str:
    match = _BASE_HINT_RE.search(text)
    return match["ref"] if match else ""
