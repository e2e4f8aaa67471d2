"""The reply tree of the real threads: every mail once, each reply under the mail it answers."""
from __future__ import annotations

import pytest

from series.assemble import assemble_series
from series.load import bundled_thread_path, load_thread
from series.model import Message
from series.thread import reply_tree


@pytest.mark.parametrize("name,count", [("pte-v1", 26), ("pte-v2", 35), ("pte-v3", 40)])
def test_every_reply_hangs_under_the_mail_it_answers(name: str, count: int) -> None:
    thread = load_thread(str(bundled_thread_path(name)))
    tree = assemble_series(thread.messages).thread
    assert len(tree) == count == len({m.msgid for m in tree})
    headers = {str(m["Message-ID"]).strip().strip("<>"): str(m.get("In-Reply-To", "")).strip().strip("<>")
               for m in thread.messages}
    present = set(headers)
    parents: list[Message] = []
    for msg in tree:
        del parents[msg.depth:]
        assert msg.in_reply_to == headers[msg.msgid]
        if msg.depth == 0:
            assert msg.in_reply_to == "" and msg.kind == "cover" and msg.parent == ""
        else:
            assert parents[-1].msgid == msg.parent, msg.subject
            # under the mail it answers; only when that one is lost from the archive,
            # under the nearest earlier mail of its References
            assert msg.parent == msg.in_reply_to or msg.in_reply_to not in present
        parents.append(msg)
    lost = [m for m in tree if m.parent != m.in_reply_to]
    assert len(lost) == {"pte-v1": 1, "pte-v2": 0, "pte-v3": 0}[name]


def test_kinds_and_counters_in_v3() -> None:
    tree = assemble_series(load_thread(str(bundled_thread_path("pte-v3"))).messages).thread
    kinds = [m.kind for m in tree]
    assert kinds.count("cover") == 1 and kinds.count("patch") == 14 and kinds.count("bot-report") == 2
    assert kinds.count("reply") == 40 - 17
    assert sorted(m.patch_counter for m in tree if m.kind == "patch") == [c for c in range(1, 16) if c != 9]
    corbet = next(m for m in tree if m.author.startswith("Jonathan Corbet"))
    assert corbet.depth == 2 and corbet.in_reply_to == "20211110105428.32458-15-zhengqi.arch@bytedance.com"
    assert "pte_ref" in corbet.body


def _msg(msgid: str, parent: str, date: str) -> Message:
    return Message(msgid=msgid, in_reply_to=parent, subject=msgid, author="a", date=date,
                   kind="reply", depth=-1, body="")


def test_reply_to_a_mail_not_in_the_thread_uses_references_and_keeps_its_header() -> None:
    tree = reply_tree(
        [_msg("r", "", "2021-01-01T00:00:00+00:00"),
         _msg("orphan", "missing-09", "2021-01-03T00:00:00+00:00"),
         _msg("a", "r", "2021-01-02T00:00:00+00:00")],
        {"orphan": ["r", "missing-09"]},
    )
    assert [(m.msgid, m.depth, m.in_reply_to, m.parent) for m in tree] == [
        ("r", 0, "", ""), ("a", 1, "r", "r"), ("orphan", 1, "missing-09", "r")]


def test_in_reply_to_cycle_does_not_lose_or_repeat_mail() -> None:
    tree = reply_tree([_msg("x", "y", "2021-01-01T00:00:00+00:00"),
                       _msg("y", "x", "2021-01-02T00:00:00+00:00")], {})
    assert sorted(m.msgid for m in tree) == ["x", "y"]
