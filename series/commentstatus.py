"""The status of each review comment on v(n-1) in v(n), judged as a maintainer would.

The code says whether what a comment quoted changed (series.carryover). That
answers a request for a local change, not a design objection: a rewrite is
not an answer to "I don't think we should take this performance hit". So each
comment (each item of a numbered list on its own) gets its kind
(series.commentkinds), then the rules below, in order, with what the thread
says (series.threadanswers); the first rule that applies gives the status,
and the comment records which rule it was and the evidence it rested on.

  praise            nothing to address ("no-action")
  reviewer-approved the reviewer's Reviewed-by/Acked-by on a successor patch: addressed
  reviewer-repeats  the reviewer says the same on the new revision: open, both mails linked
  reviewer-acks     the reviewer's praise on a successor patch: addressed
  patch-dropped     the patch is gone: outdated
  reviewer-satisfied the reviewer agreed with the author's answer in the old thread
  objection-*       open unless a new name it asks for, a changelog line or a kept
                    promise answers it; never addressed because code moved
  promise-*         the author's "will do": kept (a new diff line, the quoted code
                    changed, a changelog line) -> addressed, else open with the promise
  refused           the author declined and the code did not change: open
  process-*         Cc: stable asked -> looked for in the new commit messages
  answered-on-list  a question the author answered in the thread
  changelog / named-in-new-diff   for comments the code cannot place
  code              what the quoted code says
"""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from series.carryover import CarriedComment, Evidence, carry_by_code
from series.commentkinds import comment_kind, split_items
from series.difflines import DiffLine, diff_lines, normalise
from series.model import Patch, ReviewComment, Series
from series.textmatch import identifiers, names_match
from series.threadanswers import (Answer, author_answers, reviewer_approvals, reviewer_follow_ups,
                                  reviewer_satisfied, tied_changelog)
from series.versions import Pairing, author_email

_WEAKER = {"high": "medium", "medium": "low", "low": "low"}
_REPLACEMENT_RATIO = 0.6  # how alike a new line must be to the quoted one to be its replacement
_RESHAPE = re.compile(r"\b(split|separate patch|merge|squash|fold)", re.I)
_STABLE = re.compile(r"^\s*cc:\s*.*stable@|stable@vger\.kernel\.org", re.I | re.M)


def carry_over(comments_old: list[ReviewComment], old: Series, new: Series, pairing: Pairing,
               include_author: bool = False, claims: list[str] | None = None,
               new_comments: list[ReviewComment] | None = None) -> list[CarriedComment]:
    """A status for every reviewer comment on `old` (list items split), in the order given.

    `claims`: the new cover letter's changelog lines for this step;
    `new_comments`: the review comments on `new` (the same reviewer repeating
    a concern keeps it open). The series author's own replies are answers,
    not review comments, and are left out unless `include_author`.
    """
    me = author_email(old.author)
    judge = _Judge(old, new, pairing, claims or [], new_comments or [])
    out = []
    for c in comments_old:
        if not include_author and author_email(c.author) == me:
            continue
        answers = author_answers(c, old)
        for label, text in split_items(c.text):
            out.append(judge(c, label, text, answers))
    return out


@dataclass
class _Case:
    """One comment (or list item) under judgement, with what the rules read about it."""

    out: CarriedComment  # the result so far, starting from what the code says
    comment: ReviewComment
    text: str  # the item's text (the whole paragraph when it is not a list)
    answers: list[Answer]  # the author's answers to the paragraph
    present: list[Patch]  # the new patches that carry the old one on
    successors: set[int]


def _quote(text: str, limit: int = 160) -> str:
    one = " ".join(text.split())
    return one if len(one) <= limit else one[: limit - 1] + "…"


class _Judge:
    """The status rules, with what they need of both revisions computed once."""

    def __init__(self, old: Series, new: Series, pairing: Pairing, claims: list[str],
                 new_comments: list[ReviewComment]) -> None:
        self.old, self.new, self.pairing = old, new, pairing
        self.claims, self.new_comments = claims, new_comments
        old_added = {i for p in old.patches for d in diff_lines(p) if d.sign == "+" for i in identifiers(d.text)}
        # names the new revision adds that the old one never added: what a rename or new API looks like
        self.new_names: list[tuple[str, Patch, DiffLine]] = []
        for p in new.patches:
            for d in diff_lines(p):
                if d.sign == "+":
                    for ident in sorted(identifiers(d.text) - old_added):
                        self.new_names.append((ident, p, d))

    def __call__(self, c: ReviewComment, label: str, text: str, answers: list[Answer]) -> CarriedComment:
        out = carry_by_code(c, self.old, self.new, self.pairing, text)
        out.item = label
        kind = comment_kind(text)
        out.kind, out.kind_rule = kind.kind, kind.rule
        if out.evidence:
            out.evidence_items.append(Evidence("code", out.evidence, revision=self.new.revision,
                                               patch=out.new_patch, path=out.new_path, line=out.new_line))
        if c.anchor.inherited_from and out.status in ("addressed", "open"):
            # The reply quoted no code itself: it was placed where its thread was.
            out.confidence = _WEAKER[out.confidence]
            out.evidence += f" [anchor inherited from {c.anchor.inherited_from}]"
        counter = c.anchor.patch_counter
        successors = (set(self.pairing.successors(counter)) if counter is not None
                      else {p.counter for p in self.new.patches})
        present = [p for p in self.new.patches if p.counter in successors]
        case = _Case(out, c, text, answers, present, successors)
        for rule in (self._praise, self._approved, self._follow_ups, self._dropped, self._satisfied, self._objection,
                     self._promise, self._refused, self._process, self._answered, self._unplaced):
            if rule(case):
                return out
        self._replacement(out, present)
        return out

    # --- helpers --------------------------------------------------------------------------------

    def _set(self, out: CarriedComment, status: str, confidence: str, rule: str, evidence: str) -> bool:
        out.status, out.confidence, out.status_rule, out.evidence = status, confidence, rule, evidence
        return True

    def _message(self, out: CarriedComment, msgid: str, text: str) -> None:
        out.evidence_items.append(Evidence("message", _quote(text), msgid=msgid))

    def _named_lines(self, text: str, present: list[Patch]) -> list[Evidence]:
        """New diff lines adding a name the text asks for ("Maybe pmd_install()?", "map_lock infra")."""
        wanted = identifiers(text)
        keep = {p.counter for p in present}
        found: list[Evidence] = []
        for ident, p, d in self.new_names:
            if p.counter not in keep or not any(names_match(w, ident) for w in wanted):
                continue
            if not any(e.text == d.raw for e in found):
                found.append(Evidence("diff-line", d.raw, revision=self.new.revision, patch=p.counter,
                                      path=d.path, line=d.line))
        return found[:2]

    def _changelog(self, text: str) -> list[Evidence]:
        return [Evidence("changelog", _quote(claim, 300) + f" [{ov.describe()}]", revision=self.new.revision)
                for claim, ov in tied_changelog(text, self.claims)[:2]]

    def _replacement(self, out: CarriedComment, present: list[Patch]) -> Evidence | None:
        """For code that changed: the new line most like the quoted one, as evidence."""
        if out.status != "addressed" or not out.quoted or out.old_path == "":
            return None
        gone = [normalise(q[1:]) for q in out.quoted if q[:1] in "+ " and q[1:].strip()]
        if not gone:
            return None
        best: tuple[float, Patch, DiffLine] | None = None
        for p in present:
            for d in diff_lines(p):
                if d.sign != "+" or d.path != out.old_path:
                    continue
                ratio = max(difflib.SequenceMatcher(None, g, d.text).ratio() for g in gone[-3:])
                if ratio >= _REPLACEMENT_RATIO and (best is None or ratio > best[0]):
                    best = (ratio, p, d)
        if best is None:
            return None
        _, p, d = best
        ev = Evidence("diff-line", d.raw, revision=self.new.revision, patch=p.counter, path=d.path, line=d.line)
        out.evidence_items.append(ev)
        return ev

    def _restructured(self, c: ReviewComment, text: str) -> list[Evidence]:
        """A request to split or merge the comment's patch, and the pairing shows it was."""
        counter = c.anchor.patch_counter
        if counter is None or not _RESHAPE.search(text):
            return []
        return [Evidence("pairing", f"{g.kind}: v{self.old.revision} {', '.join(map(str, g.old))} -> "
                                    f"v{self.new.revision} {', '.join(map(str, g.new))}", revision=self.new.revision)
                for g in self.pairing.groups if counter in g.old and g.kind in ("split", "merged", "reworked")]

    # --- the rules, in order ----------------------------------------------------------------------

    def _praise(self, case: _Case) -> bool:
        out = case.out
        if out.kind != "praise":
            return False
        return self._set(out, "no-action", "high", "praise", "praise or agreement: nothing to address")

    def _approved(self, case: _Case) -> bool:
        out, c, present = case.out, case.comment, case.present
        given = reviewer_approvals(c.author, present)
        if c.anchor.patch_counter is None and {p.counter for p, _, _ in given} != case.successors:
            return False  # a series-level comment needs the series' approval, not one patch's
        if not given:
            return False
        for p, trailer, msgid in given:
            out.evidence_items.append(Evidence("trailer", trailer, msgid=msgid, revision=self.new.revision,
                                               patch=p.counter))
        p, trailer, _ = given[0]
        return self._set(out, "addressed", "high", "reviewer-approved",
                         f"the reviewer gave {trailer} on v{self.new.revision} {p.counter}/{self.new.expected}")

    def _follow_ups(self, case: _Case) -> bool:
        out, c, text, present = case.out, case.comment, case.text, case.present
        parents = {p.msgid for p in present}
        if c.anchor.patch_counter is None and self.new.cover:
            parents = {self.new.cover.msgid}
        follow = reviewer_follow_ups(ReviewComment(c.msgid, c.author, c.date, c.revision, text, c.anchor),
                                     self.new_comments, case.successors, parents)
        if not follow:
            return False
        repeats = [f for f in follow if f.kind != "praise"]
        self._message(out, c.msgid, f"v{self.old.revision}: " + text)
        for f in repeats or follow:
            self._message(out, f.msgid, f"v{self.new.revision}: " + f.text)
        if repeats:
            f = repeats[0]
            return self._set(out, "open", "high", "reviewer-repeats",
                             f"the reviewer says it again on v{self.new.revision} ({f.msgid}): "
                             f"{_quote(f.text, 120)!r} [{f.overlap.describe()}]")
        return self._set(out, "addressed", "medium", "reviewer-acks",
                         f"the reviewer approves on v{self.new.revision} ({follow[0].msgid}): {_quote(follow[0].text, 80)!r}")

    def _dropped(self, case: _Case) -> bool:
        out = case.out
        if out.status == "outdated":
            out.status_rule = "patch-dropped"
            return True
        return False

    def _satisfied(self, case: _Case) -> bool:
        out, c, answers = case.out, case.comment, case.answers
        agreed = reviewer_satisfied(c, answers, self.old)
        if not agreed:
            return False
        msgid, para = agreed[0]
        answer = next(a for a in answers if a.msgid in {m.in_reply_to for m in self.old.thread if m.msgid == msgid})
        self._message(out, answer.msgid, answer.text)
        self._message(out, msgid, para)
        return self._set(out, "addressed", "medium", "reviewer-satisfied",
                         f"the author answered ({answer.msgid}) and the reviewer agreed ({msgid}): {_quote(para, 100)!r}")

    def _objection(self, case: _Case) -> bool:
        out, text, answers, present = case.out, case.text, case.answers, case.present
        if out.kind != "objection":
            return False
        refusal = next((a for a in answers if a.kind == "refusal"), None)
        promise = next((a for a in answers if a.kind == "promise"), None)
        if refusal:
            self._message(out, refusal.msgid, refusal.text)
            return self._set(out, "open", "medium", "objection-refused",
                             f"design objection; the author disagreed ({refusal.msgid}): {_quote(refusal.text, 120)!r}")
        answer = self._named_lines(text + "\n" + (promise.text if promise else ""), present) or self._changelog(text)
        if answer:
            out.evidence_items.extend(answer)
            if promise:
                self._message(out, promise.msgid, promise.text)
            return self._set(out, "addressed", "medium", "objection-answered",
                             f"design objection answered in v{self.new.revision}: {answer[0].kind} {_quote(answer[0].text, 140)!r}")
        moved = f"; code it quoted: {out.evidence}" if out.evidence else ""
        if promise:
            self._message(out, promise.msgid, promise.text)
            return self._set(out, "open", "medium", "objection-promise-not-kept",
                             f"design objection; the author promised ({promise.msgid}): {_quote(promise.text, 120)!r} "
                             f"but no new name, changelog line or reviewer ack shows the answer{moved}")
        return self._set(out, "open", "medium", "objection-unanswered",
                         "design objection with no answer in the thread, the changelog or a reviewer ack "
                         f"(changed code is not an answer){moved}")

    def _promise(self, case: _Case) -> bool:
        out, c, text, answers, present = case.out, case.comment, case.text, case.answers, case.present
        promise = next((a for a in answers if a.kind == "promise"), None)
        if promise is None:
            return False
        self._message(out, promise.msgid, promise.text)
        lines = self._named_lines(text + "\n" + promise.text, present)
        if not lines and out.status == "addressed":
            replaced = self._replacement(out, present)
            lines = [replaced] if replaced else []
        if lines:
            out.evidence_items.extend(e for e in lines if e not in out.evidence_items)
            return self._set(out, "addressed", "high", "promise-kept",
                             f"the author promised {_quote(promise.text, 80)!r}; v{self.new.revision} "
                             f"{lines[0].patch}/{self.new.expected} {lines[0].path}:{lines[0].line}: {lines[0].text.strip()!r}")
        logged = self._changelog(text + "\n" + promise.text) or self._restructured(c, text)
        if logged or out.status == "addressed":
            out.evidence_items.extend(logged)
            why = f"{logged[0].kind}: {logged[0].text!r}" if logged else out.evidence
            return self._set(out, "addressed", "medium", "promise-kept", f"the author promised "
                             f"{_quote(promise.text, 80)!r}; {why}")
        return self._set(out, "open", "medium", "promise-not-kept",
                         f"the author promised ({promise.msgid}): {_quote(promise.text, 160)!r}, "
                         f"not seen in v{self.new.revision}" + (f"; {out.evidence}" if out.evidence else ""))

    def _refused(self, case: _Case) -> bool:
        out, answers = case.out, case.answers
        refusal = next((a for a in answers if a.kind == "refusal"), None)
        if refusal is None:
            return False
        self._message(out, refusal.msgid, refusal.text)
        if out.status == "addressed":
            out.confidence, out.status_rule = "low", "refused-but-changed"
            out.evidence = f"the author declined ({_quote(refusal.text, 80)!r}), yet: {out.evidence}"
            return True
        return self._set(out, "open", "medium", "refused",
                         f"the author declined ({refusal.msgid}): {_quote(refusal.text, 160)!r}")

    def _process(self, case: _Case) -> bool:
        out, text, present = case.out, case.text, case.present
        if out.kind != "process" or not re.search(r"stable", text, re.I):
            return False
        tagged = [p for p in present if _STABLE.search(p.commit_message)]
        if tagged:
            out.evidence_items.append(Evidence("diff-line", "Cc: stable in the commit message",
                                               revision=self.new.revision, patch=tagged[0].counter))
            return self._set(out, "addressed", "high", "process-stable",
                             f"v{self.new.revision} {tagged[0].counter}/{self.new.expected} has Cc: stable")
        return self._set(out, "open", "medium", "process-stable",
                         f"no Cc: stable in v{self.new.revision} " + ", ".join(str(p.counter) for p in present))

    def _answered(self, case: _Case) -> bool:
        out, answers = case.out, case.answers
        reply = next((a for a in answers if a.kind == "reply"), None)
        if out.kind != "question" or reply is None or out.status == "addressed":
            return False
        self._message(out, reply.msgid, reply.text)
        return self._set(out, "addressed", "medium", "answered-on-list",
                         f"the author answered on the list ({reply.msgid}): {_quote(reply.text, 120)!r}")

    def _unplaced(self, case: _Case) -> bool:
        out, text, present = case.out, case.text, case.present
        if out.status != "unknown":
            return False
        logged = self._changelog(text)
        if logged:
            out.evidence_items.extend(logged)
            return self._set(out, "addressed", "medium", "changelog",
                             f"the v{self.new.revision} changelog says: {logged[0].text!r}")
        lines = self._named_lines(text, present)
        if lines:
            out.evidence_items.extend(lines)
            return self._set(out, "addressed", "medium", "named-in-new-diff",
                             f"v{self.new.revision} adds what it names: {lines[0].text.strip()!r}")
        return False
