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

import dataclasses

from reviewtool.drafts import write_drafts
from reviewtool.errors import UsageError
from reviewtool.findings import finding
from reviewtool.model import Review
from reviewtool.report.view import ReportView, build_view
from series.assemble import assemble_series
from series.load import bundled_thread_path
from test_report import COVER, EVIL_SCRIPT, EVIL_SUBJECT, _first_added, _hostile_messages, v3

FROM = "Rev Iewer <rev@example.org>"
pytestmark = pytest.mark.kernel  # the input is a real review (tests/conftest.py v3_review)


def _on_own_base(review: Review) -> ReportView:
    """The review as if the series' own base had been used: then apply failures are the author's."""
    base = dataclasses.replace(review.apply.base, warning="")
    return build_view(dataclasses.replace(review, apply=dataclasses.replace(review.apply, base=base)))


@pytest.fixture(scope="module")
def drafts(v3_review: Review, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    run_dir = tmp_path_factory.mktemp("run")
    # the pipeline keeps the mails it read as run_dir/thread.mbox; the drafts take the Cc lists from there
    (run_dir / "thread.mbox").write_bytes(bundled_thread_path("pte-v3").read_bytes())
    paths = write_drafts(_on_own_base(v3_review), run_dir, FROM)
    assert all(p.parent == run_dir / "drafts" for p in paths)
    return {p.name: p for p in paths}


def _read(path: Path) -> email.message.EmailMessage:
    return email.message_from_bytes(path.read_bytes(), policy=email.policy.default)


def _draft(drafts: dict[str, Path], counter: int) -> Path:
    return next(p for name, p in drafts.items() if name.startswith(f"{counter:04d}-"))


def test_one_draft_per_patch_with_findings_and_one_to_the_cover(drafts: dict[str, Path], v3_review: Review) -> None:
    not_applied = {p.counter for p in v3_review.apply.patches if p.status != "clean"}
    assert not_applied == {1, 2, 3, 4, 5, 6, 7, 10, 11, 13, 15}
    checked = {6, 11, 13, 14, 15}  # checkpatch warnings, the pair scan on 11
    assert {int(name[:4]) for name in drafts} == not_applied | checked | {0}
    assert "0000-cover.eml" in drafts


def test_apply_failure_quoted_at_its_hunk(drafts: dict[str, Path], v3_review: Review) -> None:
    failed = next(p for p in v3_review.apply.patches if p.counter == 4).failed[0]
    body = _read(_draft(drafts, 4)).get_content().splitlines()
    i = body.index("> " + failed.hunk)
    assert body[i - 1] == f"> diff --git a/{failed.file} b/{failed.file}"
    assert body[i + 3] == "hunk does not apply (partial): context does not match"
    assert "Not applying cleanly: 01/15 (failed), 02/15 (partial)" in _read(_draft(drafts, 0)).get_content()


def test_on_a_guessed_base_apply_failures_are_not_blamed_on_the_author(v3_review: Review, tmp_path: Path) -> None:
    paths = write_drafts(build_view(v3_review), tmp_path, FROM)  # the run's base, with its warning
    assert {int(p.name[:4]) for p in paths} == {0, 6, 11, 13, 14, 15}
    summary = " ".join(_read(tmp_path / "drafts" / "0000-cover.eml").get_content().split())
    assert "Note: base unknown: the series says it is based on next-20211108" in summary
    assert "Not applying cleanly" not in summary and "(partial)" not in summary  # nor in the cover's summary


def test_no_sender_address_is_a_usage_error(v3_review: Review, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="not a mail address"):
        write_drafts(build_view(v3_review), tmp_path, "nobody")


def test_headers_thread_the_reply(drafts: dict[str, Path]) -> None:
    series = v3()
    patch = next(p for p in series.patches if p.counter == 2)
    msg = _read(_draft(drafts, 2))  # 02/15 only partly applies
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


def test_body_bottom_posted_quotes_only_the_lines_and_wraps(drafts: dict[str, Path], v3_review: Review) -> None:
    series = v3()
    body = _read(_draft(drafts, 6)).get_content()
    lines = body.splitlines()
    assert re.fullmatch(r"On .+, Qi Zheng wrote:", lines[0])
    assert lines[1].startswith("> ")  # the quote comes first: bottom-posted
    for line in lines:
        assert line.startswith(">") or len(line) <= 72, line
    # the finding is written right under the line it concerns
    i = lines.index("> +// SPDX-License-Identifier: GPL-2.0")
    assert lines[i + 1] == ""
    assert lines[i + 2].startswith("checkpatch WARNING SPDX_LICENSE_TAG: Improper SPDX comment style")
    # only a few lines around each finding are quoted, not the patch
    code = [x for x in lines if re.match(r"> [-+ ]", x) and not x.startswith(("> diff --git", "> @@"))]
    patch = next(p for p in series.patches if p.counter == 6)
    assert len(code) < len(patch.diff.splitlines()) / 5
    summary = _read(drafts["0000-cover.eml"]).get_content()
    assert "Patches missing from the thread: 9." in summary
    assert "06/15 mm: introduce refcount for user PTE page table page: apply" in " ".join(summary.split())
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


def test_without_the_original_mails_only_the_author_is_addressed(v3_review: Review, tmp_path: Path) -> None:
    paths = write_drafts(build_view(v3_review), tmp_path, FROM)
    msg = _read(next(p for p in paths if p.name.startswith("0006-")))
    assert msg["To"] == "Qi Zheng <zhengqi.arch@bytedance.com>" and msg["Cc"] is None
    assert msg["In-Reply-To"] == "<20211110105428.32458-7-zhengqi.arch@bytedance.com>"
    assert msg["References"].split() == [COVER, "<20211110105428.32458-7-zhengqi.arch@bytedance.com>"]


def test_hostile_subject_and_sender_stay_inert_in_a_draft(v3_review: Review, tmp_path: Path) -> None:
    mails = _hostile_messages()
    series = assemble_series(mails)
    path, line, _ = _first_added(series, 1)
    evil = finding("checkpatch", "ERROR", 1, "checkpatch ERROR X", EVIL_SCRIPT, file=path, line=line)
    review = dataclasses.replace(v3_review, series=series, comments=[], findings=[evil])  # the real run's tree side
    paths = write_drafts(build_view(review), tmp_path, FROM, messages=mails)
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


def test_no_sender_is_a_usage_error(v3_review: Review, tmp_path: Path) -> None:
    with pytest.raises(UsageError):
        write_drafts(build_view(v3_review), tmp_path, "")
