"""What the thread says about a review comment, beside what the code says.

Three voices count for a maintainer: the author's answer on the old revision
("will do in v2", "I disagree because ..."), the same reviewer on the new
revision (repeating the concern, or giving a Reviewed-by), and the new cover
letter's changelog. This module finds them; series.commentstatus weighs them.
"""
from __future__ import annotations

from dataclasses import dataclass

from series.commentkinds import answer_kind, comment_kind
from series.comments import split_reply
from series.difflines import normalise
from series.model import Patch, ReviewComment, Series
from series.textmatch import Overlap, overlap
from series.versions import author_email

_MIN_QUOTE_LINE = 12  # characters a quoted line needs to tie an answer to one paragraph
_APPROVALS = ("Reviewed-by", "Acked-by")


@dataclass
class Answer:
    """One paragraph the series author wrote right under a quote of the comment."""

    msgid: str
    date: str
    text: str
    kind: str  # "promise" | "refusal" | "reply"
    rule: str  # the commentkinds.toml rule, "" for a plain reply


@dataclass
class FollowUp:
    """The same reviewer on the new revision, saying something close to the old comment."""

    msgid: str
    date: str
    text: str
    kind: str  # the follow-up's own comment kind: "praise" reads as an ack
    overlap: Overlap


def _paragraphs_under_quotes(body: str) -> list[tuple[str, str]]:
    """[(last quoted line above, own paragraph)] of a reply, in order."""
    out: list[tuple[str, str]] = []
    last_quoted, own = "", []
    for line in split_reply(body):
        if line.depth == 0 and line.text.strip():
            own.append(line.text)
            continue
        if own:
            out.append((last_quoted, "\n".join(own)))
            own = []
        if line.depth > 0 and line.text.strip():
            last_quoted = line.text
    if own:
        out.append((last_quoted, "\n".join(own)))
    return out


def author_answers(comment: ReviewComment, old: Series) -> list[Answer]:
    """The series author's paragraphs written right under the last line of `comment`.

    Replies quote the paragraph they answer just above their answer; a
    paragraph under a quote of another paragraph answers that one instead.
    """
    me = author_email(old.author)
    text = normalise(comment.text)
    out = []
    for m in old.thread:
        if m.in_reply_to != comment.msgid or author_email(m.author) != me:
            continue
        for quoted, para in _paragraphs_under_quotes(m.body):
            q = normalise(quoted)
            if len(q) < _MIN_QUOTE_LINE or not text.endswith(q):
                continue
            kind = answer_kind(para)
            out.append(Answer(m.msgid, m.date, para, kind.kind if kind else "reply", kind.rule if kind else ""))
    return out


def reviewer_satisfied(comment: ReviewComment, answers: list[Answer], old: Series) -> list[tuple[str, str]]:
    """[(msgid, paragraph)] where the reviewer, replying to the author's answer, agrees ("Ok, I see")."""
    who = author_email(comment.author)
    answered = {a.msgid for a in answers}
    out = []
    for m in old.thread:
        if m.in_reply_to not in answered or author_email(m.author) != who:
            continue
        said = [para for quoted, para in _paragraphs_under_quotes(m.body) if quoted]
        if said and comment_kind(said[0]).kind == "praise":
            out.append((m.msgid, said[0]))
    return out


def reviewer_follow_ups(comment: ReviewComment, new_comments: list[ReviewComment],
                        successors: set[int], patch_msgids: set[str]) -> list[FollowUp]:
    """The reviewer's comments on the new revision about the same code and words.

    Only comments on the patches that carry the old one on (or on the
    series, for a series-level comment) count: the same words on another
    patch are another point. Praise counts as an ack only in a direct reply
    to one of those patch mails (`patch_msgids`), not deep in a discussion.
    """
    who = author_email(comment.author)
    out = []
    for c in new_comments:
        if author_email(c.author) != who:
            continue
        where = c.anchor.patch_counter
        if comment.anchor.patch_counter is None:
            if where is not None and where not in successors:
                continue
        elif where not in successors:
            continue
        ov = overlap(comment.text, c.text)
        kind = comment_kind(c.text).kind
        if (kind == "praise" and c.in_reply_to in patch_msgids) or (kind != "praise" and ov.links(4, 0.4)):
            out.append(FollowUp(c.msgid, c.date, c.text, kind, ov))
    return out


def reviewer_approvals(reviewer: str, patches: list[Patch]) -> list[tuple[Patch, str, str]]:
    """[(patch, "Reviewed-by: ...", msgid)] the reviewer gave on these (new) patches in replies."""
    who = author_email(reviewer)
    return [(p, f"{t.name}: {t.value}", t.source_msgid) for p in patches for t in p.followup_trailers
            if t.name in _APPROVALS and author_email(t.value) == who]


def tied_changelog(text: str, claims: list[str]) -> list[tuple[str, Overlap]]:
    """Changelog lines of the new cover letter that answer this comment (shared names or words)."""
    out = []
    for claim in claims:
        ov = overlap(text, claim)
        if ov.links():
            out.append((claim, ov))
    return sorted(out, key=lambda x: -x[1].share)
