"""Series detection and the earlier-version finder of `reviewtool watch`, on small made-up postings.

The mails go through b4's subject parsing (watch.detect) into a real SQLite
state; no inbox or kernel is needed. What the real threads do end to end is
in test_watch.py.
"""
from __future__ import annotations

import itertools
import time
from pathlib import Path

import pytest

from reviewtool.jobs import JobOptions, LocalRunner
from reviewtool.watch.detect import MalformedMail, parse_mail
from reviewtool.watch.inbox import NewMail
from reviewtool.watch.versions import earlier_versions
from reviewtool.watch.watcher import WatchConfig, Watcher
from series.b4env import isolated_b4

_ids = itertools.count(1)


def mail(subject: str, msgid: str, *, author: str = "a@example.org", refs: tuple[str, ...] = (),
         body: str = "text\n") -> bytes:
    head = [f"From: Someone <{author}>", f"Subject: {subject}", f"Message-ID: <{msgid}>",
            "Date: Thu, 11 Nov 2021 12:00:00 +0000"]
    if refs:
        head += [f"In-Reply-To: <{refs[-1]}>", "References: " + " ".join(f"<{r}>" for r in refs)]
    return ("\n".join(head) + "\n\n" + body).encode()


def posting(prefix: str, cover: str, patches: list[str], tag: str, **kw: str) -> list[bytes]:
    """A cover letter and its patches, threaded as git send-email does."""
    n = len(patches)
    out = [mail(f"[{prefix} 0/{n}] {cover}", f"{tag}-0@x", body=kw.pop("cover_body", "cover\n"), **kw)]
    out += [mail(f"[{prefix} {i}/{n}] {s}", f"{tag}-{i}@x", refs=(f"{tag}-0@x",), **kw)
            for i, s in enumerate(patches, 1)]
    return out


@pytest.fixture
def watcher(tmp_path: Path) -> Watcher:
    config = WatchConfig(str(tmp_path), tmp_path / "out", grace=3600, timeout=5,
                         job_options=JobOptions(cache_dir=str(tmp_path / "cache"), mail_from="W <w@example.org>"))
    (tmp_path / "out").mkdir()
    w = Watcher(config, LocalRunner())
    yield w
    w.close()


def record(w: Watcher, raws: list[bytes]) -> None:
    with isolated_b4(), w.state.transaction() as db:
        for raw in raws:
            n = next(_ids)
            w._record_one(db, 0, NewMail(0, f"{n:040x}", f"{n:040x}"), parse_mail(raw), time.time())


def series_id(w: Watcher, msgid: str) -> int:
    return w.state.rows("SELECT series_id FROM messages WHERE msgid = ?", msgid)[0][0]


def test_rfc_resend_retitled_and_change_id_are_one_family(watcher: Watcher) -> None:
    record(watcher, [
        *posting("RFC PATCH", "mm: foo", ["mm: one", "mm: two"], "rfc"),
        *posting("PATCH v2", "mm: foo", ["mm: one", "mm: two"], "v2"),
        *posting("PATCH RESEND v2", "mm: foo", ["mm: one", "mm: two"], "v2r"),
        *posting("PATCH v3", "mm: bar, re-titled", ["mm: one", "mm: two v3"], "v3",
                 cover_body="cover\n\nchange-id: 20211111-bar-123\n"),
        *posting("PATCH v4", "mm: baz", ["mm: other", "mm: names"], "v4",
                 cover_body="cover\n\nchange-id: 20211111-bar-123\n"),
        *posting("PATCH", "mm: foo", ["mm: one", "mm: two"], "else", author="b@example.org"),
    ])
    ids = {tag: series_id(watcher, f"{tag}-0@x") for tag in ("rfc", "v2", "v2r", "v3", "v4", "else")}
    assert len(set(ids.values())) == 6
    assert earlier_versions(watcher.state, ids["v2"]) == [ids["rfc"]]
    # the RESEND is the later posting of v2; the re-titled v3 shares half its patch subjects
    assert earlier_versions(watcher.state, ids["v3"]) == [ids["rfc"], ids["v2r"]]
    # v4 has nothing in common with v3 but its b4 change-id
    assert earlier_versions(watcher.state, ids["v4"]) == [ids["rfc"], ids["v2r"], ids["v3"]]
    assert earlier_versions(watcher.state, ids["else"]) == []


def test_replies_join_the_series_they_answer(watcher: Watcher) -> None:
    v1 = posting("PATCH", "mm: foo", ["mm: one", "mm: two", "mm: three"], "p1")
    del v1[2]  # 2/3 never arrives
    v2 = [mail("[PATCH v2 0/1] mm: foo", "p2-0@x", refs=("p1-0@x",)),  # v2 posted in reply to v1
          mail("[PATCH v2 1/1] mm: one", "p2-1@x", refs=("p1-0@x", "p2-0@x"))]
    replies = [mail("Re: [PATCH 1/3] mm: one", "r1@x", author="r@example.org", refs=("p1-0@x", "p1-1@x")),
               mail("Re: [PATCH v2 1/1] mm: one", "r2@x", author="r@example.org",
                    refs=("p1-0@x", "p2-0@x", "p2-1@x")),
               mail("Re: Re: nested", "r3@x", author="a@example.org", refs=("p1-0@x", "p1-1@x", "r1@x"))]
    record(watcher, [*v1, *v2, *replies])
    one, two = series_id(watcher, "p1-0@x"), series_id(watcher, "p2-0@x")
    assert one != two
    mails = {one: watcher.series_mails(one), two: watcher.series_mails(two)}
    assert [r["msgid"] for r in mails[one]] == ["p1-0@x", "p1-1@x", "p1-3@x", "r1@x", "r3@x"]
    assert [r["msgid"] for r in mails[two]] == ["p2-0@x", "p2-1@x", "r2@x"]
    assert watcher.missing(one, mails[one]) == [2] and watcher.missing(two, mails[two]) == []
    watcher.plan()  # v2 is complete: queued at once; v1 waits for its grace period
    queued = watcher.state.rows("SELECT series_id FROM jobs")
    assert [r[0] for r in queued] == [two]


@pytest.mark.parametrize("raw, reason", [
    (b"Subject: [PATCH] x\nMessage-ID: <m@x>\n\nbody\n", "no From header"),
    (b"From: A <a@example.org>\nSubject: [PATCH] x\n\nbody\n", "Message-ID"),
    (b"\x00\x01 not mail at all", "no"),
])
def test_malformed_mail_is_refused(raw: bytes, reason: str) -> None:
    with isolated_b4(), pytest.raises(MalformedMail, match=reason):
        parse_mail(raw)
