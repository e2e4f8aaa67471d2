"""Review comments anchored to hunks: hand-labelled real paragraphs plus edge cases."""
from __future__ import annotations

import dataclasses
import tomllib
from functools import cache
from pathlib import Path

import pytest

from series.assemble import assemble_series
from series.comments import extract_comments, split_reply
from series.load import bundled_thread_path, load_thread
from series.model import Message, ReviewComment, Series

LABELS = tomllib.loads((Path(__file__).parent / "data" / "anchors.toml").read_text())["anchor"]


@cache
def bundled_series(name: str) -> Series:
    return assemble_series(load_thread(str(bundled_thread_path(name))).messages)


@cache
def bundled_comments(name: str) -> tuple[ReviewComment, ...]:
    return tuple(extract_comments(bundled_series(name)))


def _find(label: dict) -> ReviewComment:
    found = [c for c in bundled_comments(label["thread"])
             if c.msgid == label["msgid"] and c.text.startswith(label["starts"])]
    assert len(found) == 1, f"no single comment starting {label['starts']!r} in {label['msgid']}"
    return found[0]


def _mismatches(label: dict, comment: ReviewComment) -> list[str]:
    a = comment.anchor
    want = {"level": label["level"], "patch_counter": label.get("patch"),
            "path": label.get("path", ""), "hunk_index": label.get("hunk"), "line": label.get("line")}
    if label["level"] in ("series", "patch"):
        want.pop("line")
        want.pop("hunk_index")
    got = {k: getattr(a, k) for k in want}
    out = [f"{k}: want {want[k]!r} got {got[k]!r}" for k in want if want[k] != got[k]]
    if label["inherited"] != bool(a.inherited_from):
        out.append(f"inherited: want {label['inherited']} got {a.inherited_from!r}")
    return out


def test_labelled_paragraphs_hit_rate() -> None:
    assert len(LABELS) >= 15
    assert {lab["thread"] for lab in LABELS} == {"pte-v1", "pte-v2", "pte-v3"}
    misses = {}
    for label in LABELS:
        wrong = _mismatches(label, _find(label))
        if wrong:
            misses[f"{label['msgid']} {label['starts'][:30]!r}"] = wrong
    rate = (len(LABELS) - len(misses)) / len(LABELS)
    print(f"\nanchor hit rate: {len(LABELS) - len(misses)}/{len(LABELS)} = {rate:.0%}")
    for where, wrong in misses.items():
        print(f"  miss {where}: {'; '.join(wrong)}")
    assert rate >= 0.9, misses


def test_hunk_anchor_carries_the_quoted_patch_lines() -> None:
    label = next(lab for lab in LABELS if lab["starts"].startswith("This is not good on a performance"))
    a = _find(label).anchor
    assert a.quoted[-1] == " \tptep = pte_offset_map_lock(mm, pmd, address, &ptl);"
    assert "+\tif (!pte_try_get(mm, pmd))" in a.quoted
    assert a.confidence == "high"


def test_trailers_signatures_and_bots_are_not_comments() -> None:
    for name in ("pte-v1", "pte-v2", "pte-v3"):
        series = bundled_series(name)
        bots = {m.msgid for m in series.thread if m.kind == "bot-report"}
        for c in bundled_comments(name):
            assert c.msgid not in bots
            assert not c.text.startswith(("Reviewed-by:", "Acked-by:", "Signed-off-by:"))
            assert c.text.strip() not in ("Thanks,", "Jason", "jon", "David / dhildenb", "Thanks,\nQi", "Thinks, Qi")
    acked = [c for c in bundled_comments("pte-v1") if c.msgid.startswith("20210718212814")]
    assert [c.text for c in acked] == ["and add stable@, please."]


def test_split_reply_depths() -> None:
    body = "On Mon, X wrote:\n> > deep\n>> deeper\n> one\nown\n-- \nsig"
    assert [(r.depth, r.text) for r in split_reply(body)] == [
        (0, "On Mon, X wrote:"), (2, "deep"), (2, "deeper"), (1, "one"), (0, "own")]


# --- synthetic replies to a real patch ----------------------------------------------------------

def _with_replies(*bodies: tuple[str, str, str]) -> Series:
    """v3 with extra replies (msgid, in_reply_to, body) appended to its thread."""
    series = bundled_series("pte-v3")
    extra = [Message(msgid=mid, in_reply_to=parent, subject="Re: x", author="Rev Iewer <r@example.org>",
                     date="2021-11-12T00:00:00+00:00", kind="reply", depth=9, body=body)
             for mid, parent, body in bodies]
    return dataclasses.replace(series, thread=series.thread + extra)


def _patch(series: Series, counter: int):
    return next(p for p in series.patches if p.counter == counter)


def _by_msgid(comments, msgid):
    return [c for c in comments if c.msgid == msgid]


def test_rewrapped_trimmed_and_nested_quotes() -> None:
    base = bundled_series("pte-v3")
    p1 = _patch(base, 1)
    hunk = p1.files[0].hunks[0]
    lines = hunk.text.splitlines()
    added = [i for i, line in enumerate(lines) if line.startswith("+") and len(line) > 30]
    target = added[-1]
    long_line = lines[target]
    cut = long_line.rfind(" ", 0, len(long_line) - 5)
    quote = ["> " + x for x in lines[:3]] + ["> [...]"] + ["> " + x for x in lines[target - 2:target]]
    quote += ["> " + long_line[:cut], "> " + long_line[cut + 1:]]  # re-wrapped by the mailer
    review = "On Wed, Qi Zheng wrote:\n" + "\n".join(quote) + "\n\nThis line looks wrong.\n\nReviewed-by: R <r@x>\n"
    answer = "> " + "\n> ".join(review.splitlines()) + "\n\nWill fix.\n"
    answer_noquote = "Sure, will do.\n"
    series = _with_replies(("rev@x", p1.msgid, review), ("ans@x", "rev@x", answer),
                           ("ans2@x", "rev@x", answer_noquote))
    comments = extract_comments(series)
    (rev,) = _by_msgid(comments, "rev@x")
    # expected post-image line of the re-wrapped added line
    post = hunk.target_start + sum(1 for x in lines[1:target] if x[:1] in " +")
    assert (rev.anchor.level, rev.anchor.path, rev.anchor.hunk_index, rev.anchor.line) == \
        ("hunk", p1.files[0].path, 0, post)
    assert rev.text == "This line looks wrong."
    (ans,) = _by_msgid(comments, "ans@x")
    assert ans.anchor.line == post and ans.anchor.inherited_from == "rev@x"
    (ans2,) = _by_msgid(comments, "ans2@x")
    assert (ans2.anchor.level, ans2.anchor.inherited_from, ans2.anchor.patch_counter) == ("message", "rev@x", 1)


def test_reply_without_quote_and_cover_reply() -> None:
    base = bundled_series("pte-v3")
    p2 = _patch(base, 2)
    series = _with_replies(("a@x", p2.msgid, "Looks fine to me overall.\n"),
                           ("b@x", base.cover.msgid, "Hi,\n\nWhy not split this series?\n\nThanks,\nRev\n"))
    comments = extract_comments(series)
    (a,) = _by_msgid(comments, "a@x")
    assert (a.anchor.level, a.anchor.patch_counter) == ("patch", 2)
    (b,) = _by_msgid(comments, "b@x")
    assert (b.anchor.level, b.anchor.patch_counter, b.text) == ("series", None, "Why not split this series?")


@pytest.mark.parametrize("snip", ["<snip>", "[ ... ]", "[snip]", "..."])
def test_commit_message_quote_with_snip(snip: str) -> None:
    base = bundled_series("pte-v3")
    p1 = _patch(base, 1)
    cm = [x for x in p1.commit_message.splitlines()]
    prose = [i for i, x in enumerate(cm) if x.strip() and ":" not in x[:20]]
    first, last = prose[0], prose[-1]
    body = f"> {cm[first]}\n{snip}\n> {cm[last]}\n\nPlease reword this.\n"
    series = _with_replies(("c@x", p1.msgid, body))
    (c,) = _by_msgid(extract_comments(series), "c@x")
    assert (c.anchor.level, c.anchor.line) == ("commit-message", last + 1)


def test_whole_patch_quote_is_about_the_patch_but_last_hunk_quote_is_about_its_line() -> None:
    base = bundled_series("pte-v3")
    patch = next(p for p in base.patches if sum(len(f.hunks) for f in p.files) >= 2)
    last_file = patch.files[-1]
    last_hunk = last_file.hunks[-1]
    whole = "\n".join("> " + x for x in patch.diff.rstrip("\n").splitlines())
    only_last = "\n".join("> " + x for x in last_hunk.text.rstrip("\n").splitlines())
    series = _with_replies(("w@x", patch.msgid, whole + "\n\nNice cleanup.\n"),
                           ("l@x", patch.msgid, only_last + "\n\nThis hunk needs a comment.\n"))
    comments = extract_comments(series)
    (w,) = _by_msgid(comments, "w@x")
    assert (w.anchor.level, w.anchor.patch_counter) == ("patch", patch.counter)
    (last,) = _by_msgid(comments, "l@x")
    lines = last_hunk.text.splitlines()[1:]
    end = last_hunk.target_start + sum(1 for x in lines if x[:1] in " +") - 1
    while lines and not lines[-1][1:].strip():  # blank context lines at the end are not matched
        lines.pop()
        end -= 1
    assert (last.anchor.level, last.anchor.path, last.anchor.hunk_index, last.anchor.line) == \
        ("hunk", last_file.path, len(last_file.hunks) - 1, end)
