"""Reply drafts for the real v3 thread, checked with git send-email and a loopback SMTP server."""
from __future__ import annotations

import email
import email.policy
import os
import re
import socket
import subprocess
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from reviewtool.drafts import write_drafts
from reviewtool.errors import UsageError
from series.load import bundled_thread_path
import dataclasses

from series.assemble import assemble_series
from test_report import COVER, EVIL_SCRIPT, EVIL_SUBJECT, _first_added, _hostile_messages, _results, v3

FROM = "Rev Iewer <rev@example.org>"


@pytest.fixture(scope="module")
def drafts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    run_dir = tmp_path_factory.mktemp("run")
    # the pipeline keeps the mails it read as run_dir/thread.mbox; the drafts take the Cc lists from there
    (run_dir / "thread.mbox").write_bytes(bundled_thread_path("pte-v3").read_bytes())
    results = _results(v3())
    results["apply"]["base"]["warning"] = ""  # the series' own base: apply failures are the author's
    paths = write_drafts(results, v3(), run_dir, FROM)
    assert all(p.parent == run_dir / "drafts" for p in paths)
    return {p.name: p for p in paths}


def _read(path: Path) -> email.message.EmailMessage:
    return email.message_from_bytes(path.read_bytes(), policy=email.policy.default)


def _draft(drafts: dict[str, Path], counter: int) -> Path:
    return next(p for name, p in drafts.items() if name.startswith(f"{counter:04d}-"))


def test_one_draft_per_patch_with_findings_and_one_to_the_cover(drafts: dict[str, Path]) -> None:
    series = v3()
    with_findings = {2, 3, 6} | {p.counter for p in series.patches if p.counter >= 4}  # see _results
    assert {int(name[:4]) for name in drafts} == with_findings | {0}
    assert "0000-cover.eml" in drafts


def test_apply_failure_quoted_at_its_hunk(drafts: dict[str, Path]) -> None:
    patch = next(p for p in v3().patches if p.counter == 4)
    body = _read(_draft(drafts, 4)).get_content().splitlines()
    header = patch.files[0].hunks[0].text.splitlines()[0]
    i = body.index("> " + header)
    assert body[i - 1] == f"> diff --git a/{patch.files[0].path} b/{patch.files[0].path}"
    assert body[i + 3] == "hunk does not apply (failed): context does not match"
    assert "Not applying cleanly: 4/15 (failed)" in _read(_draft(drafts, 0)).get_content()  # own base


def test_on_a_guessed_base_apply_failures_are_not_blamed_on_the_author(tmp_path: Path) -> None:
    paths = write_drafts(_results(v3()), v3(), tmp_path, FROM)  # base with a warning
    assert {int(p.name[:4]) for p in paths} == {0, 2, 3, 6}
    summary = _read(tmp_path / "drafts" / "0000-cover.eml").get_content()
    assert "Note: series base next-20211108 not in the tree" in summary
    assert "Not applying cleanly" not in summary and "(failed)" not in summary  # nor in the cover's summary


def test_no_sender_address_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="not a mail address"):
        write_drafts(_results(v3()), v3(), tmp_path, "nobody")


def test_headers_thread_the_reply(drafts: dict[str, Path]) -> None:
    series = v3()
    patch = next(p for p in series.patches if p.counter == 2)
    msg = _read(_draft(drafts, 2))
    assert msg["From"] == FROM
    assert msg["To"] == patch.author
    cc = msg["Cc"]
    assert "linux-mm@kvack.org" in cc and "linux-kernel@vger.kernel.org" in cc
    assert "rev@example.org" not in cc and "zhengqi.arch@bytedance.com" not in cc
    assert msg["Subject"] == "Re: [PATCH v3 02/15] mm: introduce is_huge_pmd() helper"
    assert msg["In-Reply-To"] == f"<{patch.msgid}>"
    assert msg["References"].split() == [COVER, f"<{patch.msgid}>"]
    assert msg["Message-ID"] and msg["Date"]
    cover = _read(drafts["0000-cover.eml"])
    assert cover["Subject"] == "Re: [PATCH v3 00/15] Free user PTE page table pages"
    assert cover["In-Reply-To"] == COVER


def test_body_bottom_posted_quotes_only_the_lines_and_wraps(drafts: dict[str, Path]) -> None:
    series = v3()
    body = _read(_draft(drafts, 2)).get_content()
    lines = body.splitlines()
    assert re.fullmatch(r"On .+, Qi Zheng wrote:", lines[0])
    assert lines[1].startswith("> ")  # the quote comes first: bottom-posted
    for line in lines:
        assert line.startswith(">") or len(line) <= 72, line
    # the finding is written right under the line it concerns
    _, _, cp_line = _first_added(series, 2)
    i = lines.index("> " + cp_line.rstrip())
    assert lines[i + 1] == ""
    assert lines[i + 2].startswith("checkpatch WARNING LONG_LINE: line length of 101")
    # only a few lines around it are quoted, not the patch
    code = [x for x in lines if re.match(r"> [-+ ]", x) and not x.startswith(("> diff --git", "> @@"))]
    patch = next(p for p in series.patches if p.counter == 2)
    assert len(code) == 4 < len(patch.diff.splitlines())  # the line and 3 above it
    summary = _read(drafts["0000-cover.eml"]).get_content()
    assert "Patches missing from the thread: 9." in summary
    assert "2/15 mm: introduce is_huge_pmd() helper: checkpatch 2" in summary
    assert all(len(x) <= 72 for x in summary.splitlines() if not x.startswith(">"))


def _git_env(home: Path) -> dict[str, str]:
    return {**os.environ, "HOME": str(home), "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": str(home / "gitconfig")}


def test_git_send_email_dry_run_accepts_every_draft(drafts: dict[str, Path], tmp_path: Path) -> None:
    out = subprocess.run(
        ["git", "send-email", "--dry-run", "--confirm=never", "--to=list@example.org", f"--from={FROM}",
         "--smtp-server=/bin/true", "--suppress-cc=all", "--no-validate", *map(str, drafts.values())],
        capture_output=True, text=True, timeout=120, env=_git_env(tmp_path), cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("Dry-OK.") == len(drafts)
    assert out.stdout.count("Result: OK") == len(drafts)


class _Inbox:
    def __init__(self) -> None:
        self.received: list[bytes] = []

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 (aiosmtpd's name)
        self.received.append(envelope.original_content or envelope.content)
        return "250 OK"


def test_delivery_to_loopback_smtp_keeps_threading_headers(drafts: dict[str, Path], tmp_path: Path) -> None:
    inbox = _Inbox()
    with socket.socket() as probe:  # a free loopback port (aiosmtpd's self-check cannot use port 0)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        files = [_draft(drafts, 2), drafts["0000-cover.eml"]]
        out = subprocess.run(
            ["git", "send-email", "--confirm=never", f"--from={FROM}", "--smtp-server=127.0.0.1",
             f"--smtp-server-port={port}", "--smtp-encryption=none", "--no-validate", *map(str, files)],
            capture_output=True, text=True, timeout=120, env=_git_env(tmp_path), cwd=tmp_path,
        )
    finally:
        controller.stop()
    assert out.returncode == 0, out.stderr
    assert len(inbox.received) == 2
    for raw, path in zip(inbox.received, files):
        got = email.message_from_bytes(raw, policy=email.policy.default)
        want = _read(path)
        for header in ("In-Reply-To", "References", "Subject"):
            assert " ".join(str(got[header]).split()) == " ".join(str(want[header]).split()), header
        assert got.get_content().replace("\r\n", "\n").strip() == want.get_content().strip()  # SMTP sends CRLF


def test_without_the_original_mails_only_the_author_is_addressed(tmp_path: Path) -> None:
    paths = write_drafts(_results(v3()), v3(), tmp_path, FROM)
    msg = _read(next(p for p in paths if p.name.startswith("0002-")))
    assert msg["To"] == "Qi Zheng <zhengqi.arch@bytedance.com>" and msg["Cc"] is None
    assert msg["In-Reply-To"] == "<20211110105428.32458-3-zhengqi.arch@bytedance.com>"
    assert msg["References"].split() == [COVER, "<20211110105428.32458-3-zhengqi.arch@bytedance.com>"]


def test_hostile_subject_and_sender_stay_inert_in_a_draft(tmp_path: Path) -> None:
    mails = _hostile_messages()
    series = assemble_series(mails)
    path, line, _ = _first_added(series, 1)
    results = {"series": dataclasses.asdict(series),
               "checkpatch": [{"patch": 1, "level": "ERROR", "type": "X", "file": path, "line": line,
                               "message": EVIL_SCRIPT}]}
    paths = write_drafts(results, series, tmp_path, FROM, messages=mails)
    assert sorted(p.name for p in paths)[0] == "0000-cover.eml" and len(paths) == 2
    assert all(re.fullmatch(r"\d{4}-[a-z0-9-]+\.eml", p.name) for p in paths)
    draft = next(p for p in paths if p.name.startswith("0001-"))
    msg = _read(draft)
    assert msg["Subject"] == f"Re: [PATCH v3 01/15] {EVIL_SUBJECT}"
    assert EVIL_SCRIPT in msg.get_content()
    out = subprocess.run(
        ["git", "send-email", "--dry-run", "--confirm=never", f"--from={FROM}", "--smtp-server=/bin/true",
         "--suppress-cc=all", "--no-validate", str(draft)],
        capture_output=True, text=True, timeout=120, env=_git_env(tmp_path), cwd=tmp_path)
    assert out.returncode == 0 and "Dry-OK." in out.stdout, out.stderr
    assert not Path("/tmp/reviewtool-pwned").exists()


def test_no_sender_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError):
        write_drafts(_results(v3()), v3(), tmp_path, "")
