"""Hostile mail found by fuzzing (issue 10): each case a tiny mbox built here, run through the real CLI.

Every case used to end in a traceback, a hang, invalid UTF-8 on stdout or a
half-written cache entry. Now a mail that cannot be read safely is repaired
or left out with a warning on stderr (series.mailguard), a patch whose text
is not what was sent is refused (exit 2), and nothing else changes.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from reviewtool.cache import StageCache
from reviewtool.pipeline import load_series
from series.load import load_thread
from series.mailguard import MAX_PATCHES, MAX_REVISION, MAX_TRAILER_LINE

REVIEWTOOL = Path(sys.executable).parent / "reviewtool"

PATCH = """\
From: Ann Author <ann@example.org>
Subject: [PATCH v2 1/1] mm: fix a thing
Date: Fri, 04 Dec 2026 10:00:00 +0000
Message-ID: <p1@x>
Content-Type: text/plain; charset={charset}

Fix the thing.{extra_text}

Signed-off-by: Ann Author <ann@example.org>
---
 mm/a.c | 2 +-
 1 file changed, 1 insertion(+), 1 deletion(-)

diff --git a/mm/a.c b/mm/a.c
index 1111111..2222222 100644
--- a/mm/a.c
+++ b/mm/a.c
@@ -1,3 +1,3 @@
 int a;
-int b;
+int c;
 int d;
--
2.39.0
"""
REPLY = """\
From: {sender}
Subject: Re: [PATCH v2 1/1] mm: fix a thing
Date: {date}
Message-ID: <{msgid}>
In-Reply-To: <{parent}>
References: <p1@x> <{parent}>
Content-Type: text/plain; charset={charset}

> Fix the thing.

{body}
"""


def reply(msgid: str = "r1@x", parent: str = "p1@x", body: str = "Reviewed-by: Rev Iewer <rev@example.org>",
          sender: str = "Rev Iewer <rev@example.org>", date: str = "Fri, 04 Dec 2026 11:00:00 +0000",
          charset: str = "utf-8") -> str:
    return REPLY.format(msgid=msgid, parent=parent, body=body, sender=sender, date=date, charset=charset)


def mbox(path: Path, *replies: str, charset: str = "utf-8", extra_text: str = "",
         patch_edit: tuple[bytes, bytes] = (b"", b"")) -> Path:
    mails = [PATCH.format(charset=charset, extra_text=extra_text), *replies]
    raw = b"".join(b"From mboxrd@z Thu Jan  1 00:00:00 1970\n" + m.encode("utf-8", "surrogateescape") + b"\n"
                   for m in mails)
    if patch_edit[0]:
        raw = raw.replace(patch_edit[0], patch_edit[1], 1)
    path.write_bytes(raw)
    return path


def show(path: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    proc = subprocess.run([str(REVIEWTOOL), "show", str(path), *args], capture_output=True, timeout=120)
    assert b"Traceback" not in proc.stderr, proc.stderr.decode(errors="replace")
    return proc


def shown_json(path: Path) -> dict:
    proc = show(path, "--json")
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    return json.loads(proc.stdout.decode("utf-8"))  # strict: invalid UTF-8 fails here


def warnings(proc: subprocess.CompletedProcess[bytes]) -> str:
    return "\n".join(line for line in proc.stderr.decode().splitlines() if "warning:" in line)


def refused(proc: subprocess.CompletedProcess[bytes]) -> str:
    err = proc.stderr.decode()
    assert proc.returncode == 2, err
    assert err.splitlines()[-1].startswith("reviewtool: error:"), err
    return err.splitlines()[-1]


def test_reply_cycle_is_cut_and_show_returns(tmp_path: Path) -> None:
    """b4's get_series walked In-Reply-To A -> B -> A forever (it only checks a self-loop)."""
    path = mbox(tmp_path / "cycle.mbox",
                reply("r1@x", "r2@x", "Reviewed-by: A Person <a@example.org>"),
                reply("r2@x", "r1@x", "Acked-by: B Person <b@example.org>", date="Fri, 04 Dec 2026 12:00:00 +0000"))
    proc = show(path, "--json")
    assert proc.returncode == 0
    assert "closes a reply cycle" in warnings(proc)
    assert {m["msgid"] for m in json.loads(proc.stdout)["thread"]} == {"p1@x", "r1@x", "r2@x"}


@pytest.mark.parametrize("body", ["Reviewed-by: " + "a" * 50_000, "Reviewed-by: " + " " * 1_000_000,
                                  "Fixes:" + "\n" * 100_000 + "<x@y>"])
def test_overlong_trailer_line_leaves_its_mail_out(tmp_path: Path, body: str) -> None:
    """b4's trailer regexes are quadratic in a line (or a run of white space after "Name:"):
    50,000 characters took seconds, 100,000 nearly a minute, 1 MB of spaces forever."""
    path = mbox(tmp_path / "long.mbox", reply(body=body), reply("r2@x", body="Acked-by: B Person <b@example.org>"))
    proc = show(path, "--json")
    assert proc.returncode == 0
    assert f"over {MAX_TRAILER_LINE} characters" in warnings(proc) and "<r1@x> left out" in warnings(proc)
    series = json.loads(proc.stdout)
    assert [t["name"] for t in series["patches"][0]["followup_trailers"]] == ["Acked-by"]


def test_encoded_from_with_crlf_leaves_the_reply_out(tmp_path: Path) -> None:
    """The stdlib raised ValueError at msg.get("From") for an encoded-word decoding to CR/LF."""
    path = mbox(tmp_path / "from.mbox", reply(sender="=?utf-8?q?Rev=0D=0AEvil?= <rev@example.org>"))
    proc = show(path)
    assert proc.returncode == 0
    assert "<r1@x> left out: its From header cannot be parsed" in warnings(proc)


def test_date_without_utc_time_is_removed(tmp_path: Path) -> None:
    """Year 9999 at -2359 is past datetime.max in UTC: OverflowError."""
    path = mbox(tmp_path / "date.mbox", reply(date="Fri, 31 Dec 9999 23:59:59 -2359"))
    proc = show(path)
    assert proc.returncode == 0
    assert "is out of range: removed" in warnings(proc)


@pytest.mark.parametrize("date", ["=?utf-8?b?A?=", "=?utf-8?q?Fri=2C_31?= =?broken"])
def test_broken_encoded_word_date_on_the_patch(tmp_path: Path, date: str) -> None:
    """b4's clean_header raised HeaderParseError while making the patch's am message."""
    path = mbox(tmp_path / "date.mbox", reply(),
                patch_edit=(b"Date: Fri, 04 Dec 2026 10:00:00 +0000", f"Date: {date}".encode()))
    series = shown_json(path)
    assert series["patches"][0]["date"] == ""


@pytest.mark.parametrize(("charset", "text"), [
    ("idna", "Fix \u00fc."), ("utf-7", "+2D0- lone surrogate"), ("utf-8\0", ""),
])
def test_unusable_charset_refuses_the_patch(tmp_path: Path, charset: str, text: str) -> None:
    """idna raised UnicodeError in b4 (no errors='replace'), utf-7 gave lone surrogates to patch-id,
    a NUL in the name raised ValueError in codecs.lookup."""
    line = refused(show(mbox(tmp_path / "cs.mbox", charset=charset, extra_text=text)))
    assert "v2 1/1 <p1@x>" in line and "charset" in line


@pytest.mark.parametrize("charset", ["idna", "utf-7", "utf-8\0"])
def test_unusable_charset_in_a_reply_is_read_as_utf8(tmp_path: Path, charset: str) -> None:
    path = mbox(tmp_path / "cs.mbox", reply(charset=charset, body="+2D0- \u00fc Reviewed-by: Rev <rev@example.org>"))
    proc = show(path, "--json")
    assert proc.returncode == 0
    assert "read as UTF-8" in warnings(proc)
    json.loads(proc.stdout.decode("utf-8"))


def test_doubled_angle_brackets_in_message_id(tmp_path: Path) -> None:
    """The stdlib's Message-ID parser raised IndexError on <<a@b>>."""
    path = mbox(tmp_path / "id.mbox", reply(), patch_edit=(b"Message-ID: <p1@x>", b"Message-ID: <<a@b>>"))
    series = shown_json(path)
    assert series["patches"][0]["msgid"] == "a@b"


def test_8bit_message_id_gives_valid_json_and_a_whole_cache_entry(tmp_path: Path) -> None:
    """The byte was kept as a lone surrogate: show --json printed invalid UTF-8, review died writing its cache."""
    path = mbox(tmp_path / "8bit.mbox", reply(msgid="r\udce9@x"))
    proc = show(path, "--json")
    assert proc.returncode == 0
    assert "8-bit bytes in its headers read as UTF-8" in warnings(proc)
    assert "r\ufffd@x" in {m["msgid"] for m in json.loads(proc.stdout.decode("utf-8"))["thread"]}
    cache = StageCache(tmp_path / "cache")
    load_series(load_thread(str(path)), None, cache)  # what `review` does first
    entries = list((tmp_path / "cache").rglob("*"))
    assert [p.suffix for p in entries if p.is_file()] == [".json"], entries
    json.loads(next(p for p in entries if p.is_file()).read_text(encoding="utf-8"))


@pytest.mark.parametrize("counter", [f"v{MAX_REVISION + 1} 1/1", "v99999999999 1/2", f"v2 1/{MAX_PATCHES + 1}"])
def test_counters_over_the_caps_are_left_out(tmp_path: Path, counter: str) -> None:
    path = mbox(tmp_path / "cap.mbox", reply(),
                patch_edit=(b"[PATCH v2 1/1] mm: fix", f"[PATCH {counter}] mm: fix".encode()))
    proc = show(path)
    assert "has no patches" in refused(proc)  # the patch mail was left out, the reply stays
    assert "<p1@x> left out" in warnings(proc) and "over the cap" in warnings(proc)


def test_numbers_of_thousands_of_digits_are_not_numbers(tmp_path: Path) -> None:
    """int() of more than 4,300 digits raises ValueError; counters, hunk headers and changelog refs are bounded."""
    huge = "9" * 5000
    path = mbox(tmp_path / "huge.mbox",
                reply(body=f"> @@ -1,3 +{huge},3 @@\n> -int b;\n\nWhy?\n\nSee [PATCH v2 {huge}/1]."),
                extra_text=f"\n\n 1 file changed, {huge} insertions(+)\nChanges in v{huge}:\n- [PATCH v2 1-{huge}/1]")
    series = shown_json(path)
    assert [p["counter"] for p in series["patches"]] == [1]


@pytest.mark.parametrize(("old", "new"), [(b"@@ -1,3 +1,3 @@", b"@@ -1,3 +1," + b"9" * 5000 + b" @@"),
                                          (b"[PATCH v2 1/1]", b"[PATCH v" + b"9" * 5000 + b" 1/1]")])
def test_huge_numbers_in_the_patch(tmp_path: Path, old: bytes, new: bytes) -> None:
    """unidiff and b4 call int() on them (ValueError past 4,300 digits)."""
    refused(show(mbox(tmp_path / "huge.mbox", reply(), patch_edit=(old, new))))


def test_a_chain_of_1500_replies(tmp_path: Path) -> None:
    """The reply tree was walked recursively: RecursionError past Python's 1,000 frames."""
    chain = [reply(f"r{i}@x", f"r{i - 1}@x" if i else "p1@x", body="More.") for i in range(1500)]
    series = shown_json(mbox(tmp_path / "deep.mbox", *chain))
    assert max(m["depth"] for m in series["thread"]) == 1500
