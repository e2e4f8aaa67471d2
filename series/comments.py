"""Review comments tied to the code they answer.

Reviewers on the list write between `>` quotes of the patch; what a paragraph
is about is the quote right above it. Here every reply is split into quoted and
own lines by quote depth, and each own paragraph gets an Anchor:

- depth d of the quote above a paragraph says whose text it quotes: the
  message d steps up the reply chain. A quote of the patch is matched line by
  line against the patch's hunks (whitespace-normalised, re-wrapped lines
  re-joined, trimmed parts skipped, @@ and diff --git lines used as hints) or
  against its commit message; a quote of the cover letter anchors to the
  series; a quote of another reply inherits the anchor that reply's quoted
  line had (nested discussions stay on the code they started on).
- text before any quote anchors to the message it answers.

Trailer-only paragraphs (Reviewed-by...: already in Patch.followup_trailers),
greetings, sign-offs and signatures are not comments. Bot reports are skipped.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace

from series.difflines import is_telling, normalise
from series.model import Anchor, Message, Patch, ReviewComment, Series

_QUOTE_PREFIX = re.compile(r"^[ \t]?((?:>[ \t]?)+)")
_TRIM = re.compile(
    r"^(\[\s*(\.\.\.|…|snip(ped)?|trim(med)?|cut)\s*\]|<\s*(\.\.\.|snip(ped)?)\s*>"
    r"|\.\.\.|…|\[\s*\.\.\.\s*snip\s*\.\.\.\s*\])$",
    re.IGNORECASE,
)
_ATTRIBUTION = re.compile(r"(wrote|writes|schrieb|a écrit|escribió)\s*:\s*$", re.IGNORECASE)
_ATTRIBUTION_START = re.compile(r"^(On |Am |Le |El |\S+ \S+ <\S+@\S+>)")
_TRAILER = re.compile(
    r"^[A-Z][\w-]*-(?:by|to|tag)\s*:\s*\S|^(?:Fixes|Link|Closes|Cc)\s*:\s*\S", re.IGNORECASE
)
_PLEASANTRY = re.compile(
    r"^(hi|hello|hey|dear|thanks|thank you|many thanks|thx|regards|best regards|kind regards"
    r"|best|cheers|bye|ciao|greetings|br|sincerely)\b[\w ,.!-]{0,30}[,.!]?$",
    re.IGNORECASE,
)
_HUNK_HEADER = re.compile(r"^@@ -(\d{1,9})(?:,(\d{1,9}))? \+(\d{1,9})(?:,(\d{1,9}))? @@")  # bounded: int() of mail
_DIFF_GIT = re.compile(r"^diff --git a/(\S+)(?: b/(\S+))?")
_FILE_HEADER = re.compile(r"^(?:\+\+\+ b/|--- a/)(\S+)")
_DIFFSTAT = re.compile(
    r"^\S+\s+\|\s+(\d+ ?[+-]*|Bin .*)$|^\d+ files? changed|^(create|delete) mode \d+ \S+"
    r"|^rename .* \(\d+%\)$|^mode change \d+ => \d+"
)
_STRUCTURAL = re.compile(r"^(index [0-9a-f]+\.\.[0-9a-f]+|new file mode|deleted file mode|similarity index"
                         r"|rename (from|to) |old mode|new mode|\\ No newline)")
_MAX_GAP = 12  # patch lines a quote may skip between two quoted lines (trimmed or eaten blanks)
_QUOTED_TAIL = 8  # patch lines kept in Anchor.quoted


@dataclass
class ReplyLine:
    """One line of a mail body: quote depth (0 = own text) and text without the markers."""

    depth: int
    text: str


def split_reply(body: str) -> list[ReplyLine]:
    """Split a body into lines with quote depth; cut at the signature ("-- ")."""
    out: list[ReplyLine] = []
    for raw in body.splitlines():
        m = _QUOTE_PREFIX.match(raw)
        if m and m.group(1).strip():
            depth = m.group(1).count(">")
            text = raw[m.end():]
        else:
            depth, text = 0, raw
        if depth == 0 and (text.rstrip() == "--" or text.startswith("-----Original Message")):
            break  # signature, or a top-posted mail's copy of what it answers
        out.append(ReplyLine(depth, text.rstrip()))
    return out


# --- the patch side: every hunk line and commit-message line with its position ----------------


@dataclass(frozen=True)
class _PatchLine:
    file_index: int
    hunk_index: int
    sign: str
    norm: str
    line: int  # post-image number ("+" and context), pre-image number for "-"
    raw: str


class _PatchIndex:
    """A patch's diff and commit message laid out for matching quoted lines."""

    def __init__(self, patch: Patch) -> None:
        self.patch = patch
        self.lines: list[_PatchLine] = []
        self.hunk_starts: dict[tuple[int, int], int] = {}  # (file, hunk) -> index of first line
        for fi, fc in enumerate(patch.files):
            for hi, hunk in enumerate(fc.hunks):
                self.hunk_starts[(fi, hi)] = len(self.lines)
                pre, post = hunk.source_start, hunk.target_start
                for raw in hunk.text.splitlines()[1:]:
                    sign = raw[:1] or " "
                    if sign not in "+- ":
                        continue
                    if sign == "-":
                        self.lines.append(_PatchLine(fi, hi, sign, normalise(raw[1:]), pre, raw))
                        pre += 1
                    else:
                        self.lines.append(_PatchLine(fi, hi, sign, normalise(raw[1:]), post, raw))
                        post += 1
                        if sign == " ":
                            pre += 1
        self.by_key: dict[tuple[str, str], list[int]] = {}
        for i, pl in enumerate(self.lines):
            if pl.norm:
                self.by_key.setdefault((pl.sign, pl.norm), []).append(i)
        self.cm_lines = patch.commit_message.splitlines()
        self.cm_text, self.cm_offsets = _joined([normalise(x) for x in self.cm_lines])

    def candidates(self, text: str) -> list[int]:
        """Indexes of patch lines a quoted diff line can be."""
        if text[:1] in "+-":
            found = self.by_key.get((text[0], normalise(text[1:])), [])
            if found:
                return found
        norm = normalise(text)
        if not norm:
            return []
        return self.by_key.get((" ", norm), [])

    def hunk_at(self, path: str, target_start: int) -> tuple[int, int] | None:
        """(file, hunk) whose @@ line says +target_start, in `path` when it is known."""
        for fi, fc in enumerate(self.patch.files):
            if path and path not in (fc.path, fc.old_path):
                continue
            for hi, hunk in enumerate(fc.hunks):
                if hunk.target_start == target_start:
                    return fi, hi
        return None

    def is_last_line(self, index: int) -> bool:
        return index == len(self.lines) - 1 or all(not pl.norm for pl in self.lines[index + 1:])


def _joined(norms: list[str]) -> tuple[str, list[int]]:
    """Lines joined with spaces plus each line's start offset: matches survive re-wrapping."""
    offsets, parts, pos = [], [], 0
    for n in norms:
        offsets.append(pos)
        parts.append(n)
        pos += len(n) + 1
    return " ".join(parts), offsets


def _line_at(offsets: list[int], pos: int) -> int:
    """0-based index of the joined line holding character `pos`."""
    lo = 0
    for i, start in enumerate(offsets):
        if start <= pos:
            lo = i
        else:
            break
    return lo


# --- matching one quote block against a patch --------------------------------------------------


@dataclass
class _Quoted:
    text: str
    kind: str  # "content" | "diffstat" | "header"
    hint_file: str = ""
    hint_target: int | None = None
    cands: tuple[int, ...] = ()
    cm_line: int | None = None  # 0-based commit-message line it matched


def _classify(pidx: _PatchIndex, texts: list[str]) -> list[_Quoted]:
    out: list[_Quoted] = []
    in_diff = False
    cm_from = 0
    file_hint = ""
    i = 0
    while i < len(texts):
        t = texts[i].rstrip()
        s = t.strip()
        i += 1
        if not s:
            continue
        m = _DIFF_GIT.match(s)
        if m:
            if not m.group(2) and i < len(texts) and texts[i].strip().startswith("b/"):
                i += 1  # "diff --git a/x" wrapped before " b/x"
            file_hint, in_diff = m.group(2) or m.group(1), True
            out.append(_Quoted(s, "header", hint_file=file_hint))
            continue
        m = _FILE_HEADER.match(s)
        if m:
            file_hint, in_diff = m.group(1), True
            out.append(_Quoted(s, "header", hint_file=file_hint))
            continue
        m = _HUNK_HEADER.match(s)
        if m:
            in_diff = True
            out.append(_Quoted(s, "header", hint_file=file_hint, hint_target=int(m.group(3))))
            continue
        if _STRUCTURAL.match(s) or s.startswith(("--- /dev/null", "+++ /dev/null")):
            in_diff = True
            continue
        if s == "---" or _DIFFSTAT.match(s):
            out.append(_Quoted(s, "diffstat"))
            continue
        q = _Quoted(t, "content", cands=tuple(pidx.candidates(t)))
        if not in_diff and not q.cands:
            q.cm_line, cm_from = _match_commit_message(pidx, t, cm_from)
        if not q.cands and q.cm_line is None and out and out[-1].kind == "content":
            # a line the mailer wrapped: glue it back to the previous one
            prev = out[-1]
            glued = prev.text + " " + s
            cands = tuple(pidx.candidates(glued))
            if cands:
                out[-1] = _Quoted(glued, "content", cands=cands)
                continue
            if prev.cm_line is not None:
                continue  # the rest of a re-wrapped commit-message line
        out.append(q)
    return out


def _match_commit_message(pidx: _PatchIndex, text: str, start: int) -> tuple[int | None, int]:
    norm = normalise(text)
    if not norm or not pidx.cm_text:
        return None, start
    pos = pidx.cm_text.find(norm, start)
    if pos < 0:
        pos = pidx.cm_text.find(norm)
    if pos < 0:
        return None, start
    end = pos + len(norm) - 1
    return _line_at(pidx.cm_offsets, end), pos + len(norm)


def _align(pidx: _PatchIndex, quoted: list[_Quoted], last: int) -> tuple[list[int], int, bool]:
    """Best chain of patch lines ending at quoted[last]: (chain, score, ambiguous)."""
    hint_file, hint_target = "", None
    for q in quoted[:last]:
        if q.kind == "header":
            hint_file = q.hint_file or hint_file
            hint_target = q.hint_target if q.hint_target is not None else hint_target
    best: tuple[int, list[int]] | None = None
    ambiguous = False
    for cand in quoted[last].cands:
        chain = [cand]
        cur, misses = cand, 0
        for q in reversed(quoted[:last]):
            if q.kind != "content":
                if q.kind == "header" and q.hint_target is not None:
                    break  # an @@ line starts the run of this hunk
                continue
            prev = [c for c in q.cands if c < cur and cur - c <= _MAX_GAP
                    and pidx.lines[c].file_index == pidx.lines[cur].file_index]
            if prev:
                cur = max(prev)
                chain.append(cur)
                misses = 0
            else:
                misses += 1
                if misses > 3:
                    break
        pl = pidx.lines[cand]
        fc = pidx.patch.files[pl.file_index]
        score = len(chain) * 2
        if hint_file and (fc.path == hint_file or fc.old_path == hint_file):
            score += 3
        if hint_target is not None and fc.hunks[pl.hunk_index].target_start == hint_target:
            score += 5
        if best is None or score > best[0]:
            best, ambiguous = (score, chain[::-1]), False
        elif score == best[0]:
            ambiguous = True
    assert best is not None
    return best[1], best[0], ambiguous


def anchor_in_patch(patch: Patch, quote: list[str], pidx: _PatchIndex | None = None) -> Anchor | None:
    """Anchor of a paragraph written under `quote` (lines of the patch mail, markers removed).

    None when nothing in the quote is from this patch. `pidx`: the patch's index, when reused.
    """
    pidx = pidx or _PatchIndex(patch)
    quoted = _classify(pidx, quote)
    significant = [i for i, q in enumerate(quoted) if q.kind != "content" or q.cands or q.cm_line is not None]
    if not significant:
        return None
    last = significant[-1]
    trailing_noise = sum(1 for q in quoted[last + 1:] if q.kind == "content")
    q = quoted[last]
    if q.kind == "diffstat":
        return Anchor("patch", patch.counter, confidence="high")
    if q.kind == "header":
        return _header_anchor(patch, q)
    if q.cm_line is not None and not q.cands:
        if _TRAILER.match(pidx.cm_lines[q.cm_line].strip()):
            # quoted down to the sign-offs: a comment on the patch as a whole
            return Anchor("patch", patch.counter, confidence="high")
        first = max(0, q.cm_line - _QUOTED_TAIL + 1)
        covered = [i for i in range(len(quoted)) if quoted[i].cm_line is not None]
        start = min(quoted[i].cm_line for i in covered) if covered else q.cm_line
        return Anchor("commit-message", patch.counter, line=q.cm_line + 1,
                      quoted=pidx.cm_lines[max(start, first): q.cm_line + 1],
                      confidence="high" if trailing_noise == 0 else "medium")
    chain, score, ambiguous = _align(pidx, quoted, last)
    end = pidx.lines[chain[-1]]
    hunks_quoted = {(pidx.lines[q.cands[0]].file_index, pidx.lines[q.cands[0]].hunk_index)
                    for q in quoted if len(q.cands) == 1}
    hunks_quoted |= {pidx.hunk_at(q.hint_file, q.hint_target) for q in quoted if q.hint_target is not None}
    hunks_quoted.discard(None)
    if len(hunks_quoted) > 1 and pidx.is_last_line(chain[-1]):
        # the whole patch quoted with the comment at its end: about the patch, not its last line
        return Anchor("patch", patch.counter, confidence="high")
    fc = patch.files[end.file_index]
    start = pidx.hunk_starts[(end.file_index, end.hunk_index)]
    first = max(start, chain[0], chain[-1] - _QUOTED_TAIL + 1)
    if ambiguous:
        confidence = "low"
    elif len(chain) >= 2 or is_telling(end.norm) or score >= 5:
        confidence = "high" if trailing_noise == 0 else "medium"
    else:
        confidence = "medium"
    return Anchor("hunk", patch.counter, path=fc.path, hunk_index=end.hunk_index, line=end.line,
                  quoted=[pl.raw for pl in pidx.lines[first: chain[-1] + 1]], confidence=confidence)


def _header_anchor(patch: Patch, q: _Quoted) -> Anchor:
    for fc in patch.files:
        if q.hint_file in (fc.path, fc.old_path):
            for hi, hunk in enumerate(fc.hunks):
                if q.hint_target is not None and hunk.target_start == q.hint_target:
                    return Anchor("hunk", patch.counter, path=fc.path, hunk_index=hi,
                                  line=hunk.target_start, quoted=[hunk.text.splitlines()[0]])
            return Anchor("hunk", patch.counter, path=fc.path, confidence="medium")
    return Anchor("patch", patch.counter, confidence="medium")


# --- the thread side ---------------------------------------------------------------------------


@dataclass
class _OwnText:
    """Own lines of one analysed reply, joined, with the anchor each line was written under."""

    text: str
    offsets: list[int]
    anchors: list[Anchor]


class _ThreadAnchoring:
    def __init__(self, series: Series) -> None:
        self.series = series
        self.by_msgid = {m.msgid: m for m in series.thread}
        self.patches = {p.counter: p for p in series.patches}
        self.patch_by_msgid = {p.msgid: p for p in series.patches}
        self.own: dict[str, _OwnText] = {}
        self.indexes: dict[str, _PatchIndex] = {}

    def ancestor(self, msg: Message, steps: int) -> Message | None:
        cur: Message | None = msg
        for _ in range(steps):
            if cur is None:
                return None
            cur = self.by_msgid.get(cur.in_reply_to)
        return cur

    def ancestor_id(self, msg: Message, steps: int) -> str:
        """Message-ID `steps` up the chain, even when that mail is missing from the thread."""
        cur_id = msg.msgid
        for _ in range(steps):
            cur = self.by_msgid.get(cur_id)
            if cur is None:
                return ""
            cur_id = cur.in_reply_to
        return cur_id

    def subthread_patch(self, msg: Message) -> Patch | None:
        """The patch whose sub-thread holds `msg`, None under the cover letter."""
        cur: Message | None = msg
        seen: set[str] = set()
        while cur is not None and cur.msgid not in seen:
            seen.add(cur.msgid)
            if cur.kind == "patch":
                return self.patch_by_msgid.get(cur.msgid) or self.patches.get(cur.patch_counter or -1)
            if cur.kind == "cover":
                return None
            parent = self.by_msgid.get(cur.in_reply_to)
            if parent is None:
                return self._patch_from_subject(cur.subject)
            cur = parent
        return None

    def _patch_from_subject(self, subject: str) -> Patch | None:
        """Parent missing from the thread: `Re: [PATCH v2 6/9]` still says which patch."""
        m = re.search(r"\[[^\]]*?\b(\d{1,4})/(\d{1,4})\s*\]", subject)
        return self.patches.get(int(m.group(1))) if m else None

    def default_anchor(self, msg: Message) -> Anchor:
        """Where text that quotes nothing points: the message it answers."""
        parent = self.by_msgid.get(msg.in_reply_to)
        patch = self.subthread_patch(msg)
        if parent is not None and parent.kind == "cover":
            return Anchor("series", None)
        if parent is not None and parent.kind == "patch" and patch is not None:
            return Anchor("patch", patch.counter)
        if parent is None:
            return Anchor("patch", patch.counter, confidence="low") if patch else \
                Anchor("series", None, confidence="low")
        return Anchor("message", patch.counter if patch else None, inherited_from=parent.msgid,
                      confidence="medium")

    def quote_anchor(self, msg: Message, run: list[ReplyLine]) -> Anchor:
        """Anchor for own text written under the quote lines in `run`.

        The last quoted block decides; when it cannot be placed (its message is
        missing from the thread, or it quotes nothing known), the deeper block
        it answered is tried: the comment inherits what that one was about.
        """
        segments: list[tuple[int, list[str]]] = []
        for rl in run:
            if segments and segments[-1][0] == rl.depth:
                segments[-1][1].append(rl.text)
            else:
                segments.append((rl.depth, [rl.text]))
        patch = self.subthread_patch(msg)
        min_depth = 0
        for depth, tail in reversed(segments):
            if depth <= min_depth:
                continue
            found = self._place(msg, depth, tail, patch)
            if found is not None:
                if depth != segments[-1][0]:
                    # the quoted reply could not be placed; it answered this deeper quote
                    found = replace(found, confidence="medium" if found.confidence == "high" else "low",
                                    inherited_from=found.inherited_from
                                    or self.ancestor_id(msg, segments[-1][0]))
                return found
            min_depth = depth
        last_target = self.ancestor(msg, segments[-1][0])
        if last_target is not None and last_target.kind not in ("patch", "cover"):
            return Anchor("message", patch.counter if patch else None,
                          inherited_from=last_target.msgid, confidence="low")
        return self.default_anchor(msg)

    def _place(self, msg: Message, depth: int, tail: list[str], patch: Patch | None) -> Anchor | None:
        """Anchor of a quote of the message `depth` steps up, None if it cannot be placed."""
        target = self.ancestor(msg, depth)
        if target is not None and target.kind == "cover":
            return Anchor("series", None)
        if target is not None and target.kind != "patch":
            inherited = self._inherit(target, tail)
            if inherited is not None:
                return inherited
        if patch is None:
            return None
        if patch.msgid not in self.indexes:
            self.indexes[patch.msgid] = _PatchIndex(patch)
        found = anchor_in_patch(patch, tail, self.indexes[patch.msgid])
        if found is not None and (target is None or target.kind != "patch"):
            # not where the quote depth says the patch is: trust it less
            found = replace(found, confidence="medium" if found.confidence == "high" else "low")
        return found

    def _inherit(self, target: Message, tail: list[str]) -> Anchor | None:
        own = self.own.get(target.msgid)
        if own is None or not own.text:
            return None
        norms = [normalise(t) for t in tail if normalise(t)]
        if not norms:
            return None
        for probe in (" ".join(norms), norms[-1]):
            pos = own.text.rfind(probe)
            if pos >= 0:
                got = own.anchors[_line_at(own.offsets, pos + len(probe) - 1)]
                if got.inherited_from and got.level == "message":
                    return replace(got)
                return replace(got, inherited_from=target.msgid)
        return None


def _is_pleasantry(lines: list[str], author: str) -> bool:
    """A greeting or sign-off ("Thanks,", "Jason", "David / dhildenb"), not a comment."""
    name_words = {w.lower() for w in re.findall(r"[\w.-]+", author.split("<")[0]) if len(w) > 1}
    for line in lines:
        s = line.strip()
        if _PLEASANTRY.match(s):
            continue
        words = [w.lower() for w in re.findall(r"[\w.-]+", s)]
        if words and len(words) <= 4 and all(w in name_words or len(w) <= 2 or
                                             w.rstrip(".") in name_words for w in words) \
                and any(w in name_words for w in words):
            continue
        if len(s) <= 20 and "/" in s and len(lines) <= 2:
            continue  # "David / dhildenb"
        if len(lines) == 1 and re.fullmatch(r"-{0,2}\s?[A-Za-z][\w.'-]{0,15}", s):
            continue  # a bare name or nickname: "jon", "-Kees"
        if len(lines) == 1 and 1 < len(words) <= 3 and words[-1] in name_words:
            continue  # "Thinks, Qi": a sign-off, typo or not
        return False
    return True


def _paragraphs(lines: list[ReplyLine]) -> list[tuple[list[ReplyLine], list[ReplyLine]]]:
    """(quote run above, own lines) for each own paragraph, in order."""
    out: list[tuple[list[ReplyLine], list[ReplyLine]]] = []
    run: list[ReplyLine] = []
    current: list[ReplyLine] | None = None
    wrote_since_quote = run_changed = False
    for i, rl in enumerate(lines):
        text = rl.text.strip()
        if rl.depth > 0:
            current = None
            if text and not _TRIM.match(text) and not _is_attribution(lines, i):
                if wrote_since_quote:
                    run, wrote_since_quote = [], False
                run.append(rl)
                run_changed = True
            continue
        if not text or _TRIM.match(text) or _is_attribution(lines, i):
            current = None
            continue
        if current is None and out and not run_changed and rl.text[:1].isspace():
            current = out[-1][1]  # an indented snippet inside the previous paragraph
            current.append(ReplyLine(0, ""))
        if current is None:
            current = []
            out.append((list(run), current))
        wrote_since_quote, run_changed = True, False
        current.append(rl)
    return out


def _is_attribution(lines: list[ReplyLine], i: int) -> bool:
    """`On <date>, X wrote:` (maybe wrapped onto two lines) introducing a quote."""
    text = lines[i].text.strip()
    nxt = lines[i + 1] if i + 1 < len(lines) else None
    if _ATTRIBUTION.search(text) and len(text) < 250:
        return True
    return bool(nxt and nxt.depth == lines[i].depth and _ATTRIBUTION_START.match(text)
                and _ATTRIBUTION.search(nxt.text.strip()) and len(nxt.text.strip()) < 80)


def extract_comments(series: Series) -> list[ReviewComment]:
    """Every own paragraph of every human reply in the thread, anchored (see module doc)."""
    ctx = _ThreadAnchoring(series)
    comments: list[ReviewComment] = []
    for msg in series.thread:
        if msg.kind != "reply":
            continue
        lines = split_reply(msg.body)
        own_norms: list[str] = []
        own_anchors: list[Anchor] = []
        for run, para in _paragraphs(lines):
            anchor = ctx.quote_anchor(msg, run) if run else ctx.default_anchor(msg)
            own_norms.extend(normalise(rl.text) for rl in para)
            own_anchors.extend(anchor for _ in para)
            kept = [rl.text for rl in para if not _TRAILER.match(rl.text.strip())]
            if not kept or _is_pleasantry(kept, msg.author):
                continue
            comments.append(ReviewComment(
                msgid=msg.msgid, author=msg.author, date=msg.date, revision=series.revision,
                text="\n".join(kept).strip("\n"), anchor=anchor, in_reply_to=msg.in_reply_to,
            ))
        text, offsets = _joined(own_norms)
        ctx.own[msg.msgid] = _OwnText(text, offsets, own_anchors)
    return comments
