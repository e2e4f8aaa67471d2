"""Reading threads from files, maildirs and stdin; bad input is a one-line SeriesInputError.

Crafted inputs are built from the real bundled mails with Python's email
package (new messages; the bundled files are never edited).
"""
from __future__ import annotations

import dataclasses
import email.policy
import io
import mailbox
import sys
from email.message import EmailMessage
from pathlib import Path

import pytest

from series.assemble import assemble_series
from series.errors import SeriesInputError
from series.load import bundled_thread_names, bundled_thread_path, load_thread

V3 = bundled_thread_path("pte-v3")
PATCH_01 = "20211110105428.32458-2-zhengqi.arch@bytedance.com"
CORBET_REPLY_SUBJECT = "Re: [PATCH v3 14/15] Documentation: add document for pte_ref"


@pytest.fixture(scope="module")
def v3_messages() -> list[EmailMessage]:
    return load_thread(str(V3)).messages


@pytest.fixture(scope="module")
def v3_series(v3_messages):
    return assemble_series(v3_messages)


def _find(messages: list[EmailMessage], msgid: str) -> EmailMessage:
    return next(m for m in messages if msgid in m["Message-ID"])


def _reencoded(original: EmailMessage, cte: str) -> EmailMessage:
    """A new mail with the same headers and text as `original`, body in `cte`."""
    text = original.get_content()
    new = EmailMessage(policy=email.policy.SMTP)
    for name in ("From", "Date", "Subject", "Message-ID", "In-Reply-To", "References"):
        if original[name]:
            new[name] = str(original[name])
    new.set_content(text, subtype="plain", charset="utf-8", cte=cte)
    return new


def _write_mbox(path: Path, messages: list[EmailMessage]) -> Path:
    box = mailbox.mbox(str(path))
    for msg in messages:
        box.add(msg)
    box.close()
    return path


def test_bundled_threads_are_package_data() -> None:
    assert bundled_thread_names() == ["pte-v1", "pte-v2", "pte-v3"]
    assert V3.is_file() and V3.parent.name == "threads"
    with pytest.raises(SeriesInputError, match="no bundled thread 'pte-v9'"):
        bundled_thread_path("pte-v9")


def test_local_mbox_keeps_raw_bytes(v3_messages) -> None:
    thread = load_thread(str(V3))
    assert thread.raw == V3.read_bytes() and thread.origin == str(V3)
    assert len(thread.messages) == 40


@pytest.mark.parametrize("cte", ["base64", "quoted-printable"])
def test_encoded_patch_bodies_decode_to_the_same_patch(cte: str, tmp_path: Path, v3_messages, v3_series) -> None:
    crafted = _reencoded(_find(v3_messages, PATCH_01), cte)
    raw = crafted.as_bytes()
    assert f"Content-Transfer-Encoding: {cte}".encode() in raw
    if cte == "base64":
        assert b"diff --git" not in raw  # really encoded
    else:
        assert b"\r\n=20\r\n" in raw  # the blank context lines, encoded
    series = assemble_series(load_thread(str(_write_mbox(tmp_path / "one.mbox", [crafted]))).messages)
    [patch] = series.patches
    original = v3_series.patches[0]
    assert patch.diff == original.diff
    assert dataclasses.asdict(patch)["files"] == dataclasses.asdict(original)["files"]
    assert patch.commit_message == original.commit_message
    assert patch.git_patch_id == original.git_patch_id
    assert "\r" not in patch.mbox and patch.diff in patch.mbox  # am-ready: decoded, LF line ends
    assert series.missing == list(range(2, 16))


def test_single_mail_without_from_line_is_accepted(tmp_path: Path, v3_messages) -> None:
    eml = tmp_path / "patch.eml"
    eml.write_bytes(_find(v3_messages, PATCH_01).as_bytes(policy=email.policy.SMTP))
    assert [p.counter for p in assemble_series(load_thread(str(eml)).messages).patches] == [1]


def test_stdin(monkeypatch: pytest.MonkeyPatch, v3_series) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(V3.read_bytes())))
    thread = load_thread("-")
    assert thread.origin == "stdin"
    assert dataclasses.asdict(assemble_series(thread.messages)) == dataclasses.asdict(v3_series)


def test_maildir(tmp_path: Path, v3_messages, v3_series) -> None:
    box = mailbox.Maildir(str(tmp_path / "md"), create=True)
    for msg in v3_messages:
        box.add(msg.as_bytes(policy=email.policy.SMTP))
    box.close()
    thread = load_thread(str(tmp_path / "md"))
    assert thread.raw.startswith(b"From mboxrd@z") and thread.raw.count(b"\nFrom mboxrd@z") == 39
    series = assemble_series(thread.messages)
    assert [p.counter for p in series.patches] == [p.counter for p in v3_series.patches]
    assert [p.diff for p in series.patches] == [p.diff for p in v3_series.patches]
    assert series.missing == [9]


def _bad(path: Path) -> str:
    with pytest.raises(SeriesInputError) as info:
        assemble_series(load_thread(str(path)).messages)
    message = str(info.value)
    assert "\n" not in message and message
    return message


def test_empty_file(tmp_path: Path) -> None:
    (tmp_path / "empty.mbox").write_bytes(b"")
    assert "empty input" in _bad(tmp_path / "empty.mbox")


def test_not_mail(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("shopping list\n- milk\n- From the shop: bread\n")
    assert "not mail" in _bad(tmp_path / "notes.txt")
    (tmp_path / "binary.mbox").write_bytes(bytes(range(256)) * 8)
    assert "not mail" in _bad(tmp_path / "binary.mbox")


def test_directory_that_is_not_a_maildir(tmp_path: Path) -> None:
    assert "not a maildir" in _bad(tmp_path)


def test_no_such_file_nor_msgid(tmp_path: Path) -> None:
    assert "no such file" in _bad(tmp_path / "missing.mbox")


def test_mbox_cut_off_in_the_middle_of_a_patch(tmp_path: Path) -> None:
    lines = V3.read_bytes().split(b"\n")
    start = lines.index(b"Subject: [PATCH v3 07/15] mm/pte_ref: add support for user PTE page table page allocation")
    first_hunk = next(i for i in range(start, len(lines)) if lines[i].startswith(b"@@ "))
    (tmp_path / "cut.mbox").write_bytes(b"\n".join(lines[: first_hunk + 5]) + b"\n")
    assert "v3 7/15" in (message := _bad(tmp_path / "cut.mbox")) and "cut off" in message


def test_mbox_cut_off_between_two_files_of_a_patch(tmp_path: Path) -> None:
    lines = V3.read_bytes().split(b"\n")
    start = lines.index(b"Subject: [PATCH v3 02/15] mm: introduce is_huge_pmd() helper")
    files = [i for i in range(start, len(lines)) if lines[i].startswith(b"diff --git")]
    (tmp_path / "cut.mbox").write_bytes(b"\n".join(lines[: files[3]]) + b"\n")
    assert "diffstat says 5: cut off?" in _bad(tmp_path / "cut.mbox")


def test_thread_without_patches(tmp_path: Path, v3_messages) -> None:
    replies = [m for m in v3_messages if str(m["Subject"]).startswith("Re:")]
    assert "no patches" in _bad(_write_mbox(tmp_path / "replies.mbox", replies))


def _with_charset(original: EmailMessage, charset: str, body: bytes) -> bytes:
    head = "".join(
        f"{name}: {original[name]}\n" for name in ("From", "Date", "Subject", "Message-ID")
    )
    return (
        f"From mboxrd@z Thu Jan  1 00:00:00 1970\n{head}MIME-Version: 1.0\n"
        f'Content-Type: text/plain; charset="{charset}"\nContent-Transfer-Encoding: 8bit\n\n'
    ).encode() + body


def test_unknown_charset(tmp_path: Path, v3_messages) -> None:
    original = _find(v3_messages, PATCH_01)
    (tmp_path / "bogus.mbox").write_bytes(
        _with_charset(original, "x-no-such-charset", original.get_content().encode()))
    assert "unknown charset 'x-no-such-charset'" in _bad(tmp_path / "bogus.mbox")


def test_bytes_that_do_not_decode_in_the_declared_charset(tmp_path: Path, v3_messages) -> None:
    original = _find(v3_messages, PATCH_01)
    body = original.get_content().encode().replace(b"Deduplicate them", b"Dedupl\xff\xfe them")
    (tmp_path / "badutf8.mbox").write_bytes(_with_charset(original, "utf-8", body))
    assert "not valid utf-8" in _bad(tmp_path / "badutf8.mbox")


def test_non_ascii_patch_stays_exact_in_the_am_mbox(tmp_path: Path, v3_messages) -> None:
    original = _find(v3_messages, PATCH_01)
    crafted = _reencoded(original, "8bit")
    crafted.set_content(original.get_content().replace("Deduplicate them", "Dédupliquer — them"),
                        subtype="plain", charset="utf-8", cte="8bit")
    [patch] = assemble_series(load_thread(str(_write_mbox(tmp_path / "utf8.mbox", [crafted]))).messages).patches
    assert "Dédupliquer — them" in patch.commit_message and "Dédupliquer — them" in patch.mbox
    assert "Content-Transfer-Encoding: 8bit" in patch.mbox


def test_unicode_control_characters_are_refused(tmp_path: Path, v3_messages) -> None:
    """b4 would sys.exit() on these (trojan-source); we turn that into bad input."""
    original = _find(v3_messages, PATCH_01)
    crafted = _reencoded(original, "8bit")
    crafted.set_content(original.get_content().replace("Deduplicate them", "Dedup\u202elicate them"),
                        subtype="plain", charset="utf-8", cte="8bit")
    assert "suspicious Unicode control characters" in _bad(_write_mbox(tmp_path / "rlo.mbox", [crafted]))
