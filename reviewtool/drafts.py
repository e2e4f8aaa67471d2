"""Reply drafts: one .eml per patch with findings, and one to the cover letter.

A draft is what the maintainer would have typed: a reply that threads
(In-Reply-To/References, Re: subject, To the author, Cc everyone the patch
went to), bottom-posted under an attribution line, quoting only the diff
lines each finding is about, with the finding written right below them,
plain text wrapped at 72 columns. The tool never sends anything; the user
edits the .eml and sends it with their own client (`git send-email`,
`mutt -H`, ...).

Headers come from b4's `LoreMessage.make_reply` (Reply-To promotion, To/Cc
folding and de-duplication) applied to the original mail; where the original
mail is not at hand, from the series model (then without the Cc list).
"""
from __future__ import annotations

import email.policy
import email.utils
import re
import subprocess
import textwrap
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path

import b4

from reviewtool.errors import UsageError
from kernel.model import CLEAN
from reviewtool.findings import ranges
from reviewtool.jsondata import write_atomic
from reviewtool.model import APPLY, BUILD_ERROR, CHECKPATCH, NEW_WARNING, PAIRSCAN
from reviewtool.report.diffview import DiffLine
from reviewtool.report.placement import Note
from reviewtool.report.render import environment
from reviewtool.report.view import PatchView, ReportView
from series.b4env import isolated_b4
from series.load import load_thread

WIDTH = 72
CONTEXT_LINES = 3  # diff lines quoted above the line a finding is about
DRAFT_KINDS = (CHECKPATCH, PAIRSCAN, BUILD_ERROR, NEW_WARNING, APPLY)  # what the tool found (not others' words)
# Apply failures are told to the author only when the series' own base was used:
# on a guessed base they say more about the guess than about the patch.


def default_from() -> str:
    """"Name <email>" from git config user.name / user.email, "" when unset."""
    def get(key: str) -> str:
        try:
            return subprocess.run(["git", "config", "--get", key], capture_output=True, text=True,
                                  timeout=10, check=False).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            return ""
    name, addr = get("user.name"), get("user.email")
    return email.utils.formataddr((name, addr)) if addr else ""


def check_sender(mail_from: str) -> None:
    """The drafts' From must hold an address: "nobody" would give drafts no client can send."""
    if not mail_from:
        raise UsageError("no sender address for the reply drafts: set git config user.email or pass --from")
    if "@" not in email.utils.parseaddr(mail_from)[1]:
        raise UsageError(f"--from {mail_from!r}: not a mail address (give 'Name <me@example.org>')")


def wrap(text: str, prefix: str = "") -> str:
    """Wrap each paragraph at 72 columns; lines that look like code are kept as they are."""
    out = []
    for para in re.split(r"\n\s*\n", text.strip()):
        lines = para.splitlines()
        if any(line.startswith(("\t", "    ")) for line in lines):
            out.append("\n".join(prefix + line.rstrip() for line in lines))
        else:
            out.append(textwrap.fill(" ".join(lines), WIDTH, initial_indent=prefix,
                                     subsequent_indent=prefix, break_long_words=False,
                                     break_on_hyphens=False))
    return "\n\n".join(out)


def finding_text(note: Note) -> str:
    """One finding as a reviewer would write it, wrapped."""
    where = f" (at {note.where})" if note.where else ""
    return wrap(f"{note.title}{where}: {note.text}".strip())


@dataclass
class QuoteBlock:
    """Quoted diff lines (already prefixed "> ") followed by the findings about the last one."""

    quote: list[str]
    findings: list[str]


def _blocks(view: PatchView, kinds: tuple[str, ...]) -> tuple[list[QuoteBlock], list[str]]:
    """Quote blocks for findings on diff lines; findings about files or the whole patch apart."""
    blocks: list[QuoteBlock] = []
    loose = [finding_text(n) for n in view.notes if _told(n, kinds)]
    loose += [finding_text(n) for cl in view.commit for n in cl.notes if _told(n, kinds)]
    for f in view.files:
        loose += [finding_text(n) for n in f.notes if _told(n, kinds)]
        file_quoted = False
        for h in f.hunks:
            shown_upto = -1  # index of the last line of this hunk already quoted
            for i, dl in enumerate(h.lines):
                notes = [n for n in dl.notes if _told(n, kinds)]
                if not notes:
                    continue
                quote: list[str] = []
                if not file_quoted:
                    quote.append(f"> diff --git a/{f.path} b/{f.path}")
                    file_quoted = True
                start = max(0, i - CONTEXT_LINES, shown_upto + 1)
                if shown_upto < 0:
                    quote.append(f"> {h.header}")
                if start > max(shown_upto + 1, 0) or (shown_upto < 0 and start > 0):
                    quote.append(">")
                    quote.append("> [...]")
                    quote.append(">")
                quote += [_quote_line(x) for x in h.lines[start:i + 1]]
                shown_upto = i
                blocks.append(QuoteBlock(quote, [finding_text(n) for n in notes]))
    return blocks, loose


def _told(note: Note, kinds: tuple[str, ...]) -> bool:
    """A finding for the author: of a kind the tool found, and one that counts (not CHECK, moved code...)."""
    return note.kind in kinds and note.counts


def _quote_line(dl: DiffLine) -> str:
    return f"> {dl.sign}{dl.text}".rstrip()


def _attribution(date_iso: str, author: str) -> str:
    name = email.utils.parseaddr(author)[0] or author
    try:
        when = datetime.fromisoformat(date_iso)
        return f"On {email.utils.format_datetime(when)}, {name} wrote:"
    except ValueError:
        return f"{name} wrote:"


def slug(text: str, empty: str) -> str:
    """A file or directory name from mail text (a subject): only [a-z0-9-], never a path."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:48] or empty


def _original_from_model(msgid: str, author: str, subject: str, date: str, references: list[str]) -> EmailMessage:
    """Stand-in for an original mail we do not have: enough for make_reply (no Cc known)."""
    msg = EmailMessage(policy=email.policy.default)
    msg["From"] = author
    msg["Subject"] = subject
    msg["Message-ID"] = f"<{msgid}>"
    if references:
        msg["References"] = " ".join(f"<{r}>" for r in references)
    try:
        msg["Date"] = email.utils.format_datetime(datetime.fromisoformat(date))
    except ValueError:
        pass
    msg.set_content("")
    return msg


def _reply(original: EmailMessage, body: str, mail_from: str) -> EmailMessage:
    """The draft: b4 decides the addresses and threading headers, the body stays readable text."""
    name, addr = email.utils.parseaddr(mail_from)
    with isolated_b4():
        headers = b4.LoreMessage(original).make_reply("", mailfrom=(name, addr))
    # No folding below RFC 5322's 998: Python folds a long Subject as "Subject:\n Re: ...",
    # which git send-email reads as no subject at all.
    draft = EmailMessage(policy=email.policy.default.clone(max_line_length=998))
    for key in ("From", "To", "Cc", "Subject", "In-Reply-To", "References"):
        value = headers.get(key)
        if key == "Cc" and value:
            kept = [a for a in email.utils.getaddresses([str(value)]) if a[1].lower() != addr.lower()]
            value = ", ".join(email.utils.formataddr(a) for a in kept)
        if value:
            draft[key] = " ".join(str(value).split())
    draft["Date"] = email.utils.formatdate(localtime=True)
    draft["Message-ID"] = email.utils.make_msgid(idstring="reviewtool", domain=addr.split("@")[-1] or None)
    draft["X-Reviewtool-Draft"] = "edit before sending; nothing was sent"
    draft.set_content(body, charset="utf-8", cte="8bit")
    return draft


def _originals(messages: Iterable[EmailMessage] | None) -> dict[str, EmailMessage]:
    out = {}
    for m in messages or []:
        mid = str(m.get("Message-ID", "")).strip().strip("<>")
        if mid:
            out[mid] = m
    return out


def _summary_lines(view: ReportView, kinds: tuple[str, ...]) -> list[str]:
    """What the cover-letter reply says about the whole series, one wrapped paragraph each."""
    series, patches = view.series, view.patches
    paras = [f"I applied the series on {view.base_text}."]
    if series.missing:
        paras.append(f"Patches missing from the thread: {ranges(series.missing)}.")
    not_clean = [p for p in patches if p.apply and p.apply.status != CLEAN]
    if view.base.warning:
        paras.append(f"Note: {view.base.warning}")
    if not_clean and APPLY in kinds:  # on a guessed base, failures say more about the guess
        paras.append("Not applying cleanly: " + ", ".join(f"{p.label} ({p.apply.status})" for p in not_clean) + ".")
    if view.build_cells:
        broken = sorted({cell for p in patches for cell, st in p.builds.items() if st not in ("ok", "")})
        paras.append(f"Built each patch for {', '.join(view.build_cells)}"
                     + (f"; problems on {', '.join(broken)}." if broken else "; all built cleanly."))
    paras += [f"{n.title}, {n.where}: {n.text}" for n in view.tip_notes]
    paras += [f"Not checked: {name} ({why})." for name, why in view.skipped if name != "versions"]
    per_patch = []
    for p in patches:
        found = Counter(n.kind for n in p.findings() if _told(n, kinds))
        if found:
            what = ", ".join(f"{k} {v}" for k, v in sorted(found.items()))
            per_patch.append(textwrap.fill(f"{p.label} {p.subject}: {what}", WIDTH,
                                           initial_indent="  ", subsequent_indent="      ",
                                           break_long_words=False, break_on_hyphens=False))
    if per_patch:
        paras.append("Findings per patch (details in my replies to each patch):")
    return [wrap(p) for p in paras] + (["\n".join(per_patch)] if per_patch else []) + \
        ([] if per_patch else [wrap("No findings from apply, build, checkpatch or the pair scan.")])


def write_drafts(view: ReportView, run_dir: Path, mail_from: str,
                 messages: Iterable[EmailMessage] | None = None) -> list[Path]:
    """Write drafts/*.eml under run_dir: NNNN-<subject>.eml per patch with findings, 0000-cover.eml.

    `messages` are the thread's original mails (series.load.Thread.messages),
    by default those of run_dir/thread.mbox: with them the drafts Cc everyone
    the patches went to; without them only the author is addressed.
    """
    check_sender(mail_from)
    series = view.series
    if messages is None and (run_dir / "thread.mbox").is_file():
        messages = load_thread(str(run_dir / "thread.mbox")).messages  # the mails as the run read them
    originals = _originals(messages)
    template = environment("txt").get_template("reply.txt.j2")
    out_dir = run_dir / "drafts"
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    cover_refs = [series.cover.msgid] if series.cover else []
    kinds = DRAFT_KINDS if not view.base.warning else tuple(k for k in DRAFT_KINDS if k != APPLY)
    for pview, patch in ((v, p) for v in view.patches for p in series.patches if p.counter == v.counter):
        blocks, loose = _blocks(pview, kinds)
        if not blocks and not loose:
            continue
        # findings on no diff line still answer something: quote the start of the commit message
        head = [] if blocks else [f"> {x}".rstrip() for x in patch.commit_message.strip().splitlines()[:3]]
        body = template.render(attribution=_attribution(patch.date, patch.author), blocks=blocks,
                               loose=loose, summary=[], head_quote=head)
        original = originals.get(patch.msgid) or _original_from_model(
            patch.msgid, patch.author,
            f"[PATCH v{patch.revision} {patch.counter}/{patch.expected}] {patch.subject}", patch.date, cover_refs)
        path = out_dir / f"{patch.counter:04d}-{slug(patch.subject, 'patch')}.eml"
        written.append(_write(path, _reply(original, body, mail_from)))
    head = series.cover or (series.patches[0] if series.patches else None)
    if head is not None:
        text = series.cover.body if series.cover else series.patches[0].commit_message
        head_quote = [f"> {x}".rstrip() for x in text.strip().splitlines()[:3]]
        body = template.render(attribution=_attribution(head.date, head.author), blocks=[], loose=[],
                               summary=_summary_lines(view, kinds), head_quote=head_quote)
        subject = (f"[PATCH v{series.revision} 0/{series.expected}] {series.subject}" if series.cover else
                   f"[PATCH v{series.revision} 1/{series.expected}] {series.patches[0].subject}")
        original = originals.get(head.msgid) or _original_from_model(
            head.msgid, head.author, subject, head.date, [] if series.cover else cover_refs)
        written.append(_write(out_dir / "0000-cover.eml", _reply(original, body, mail_from)))
    return written


def _write(path: Path, msg: EmailMessage) -> Path:
    write_atomic(path, msg.as_bytes(policy=msg.policy).decode("utf-8"))
    return path
