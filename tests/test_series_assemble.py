"""The bundled real threads assembled with b4: what is present, missing, and counted right."""
from __future__ import annotations

import dataclasses
import json
import subprocess
from pathlib import Path

import pytest

from series.assemble import assemble_series, revisions
from series.load import bundled_thread_path, load_thread
from series.trailers import BOT_SUGGESTION


def _series(name: str):
    return assemble_series(load_thread(str(bundled_thread_path(name))).messages)


@pytest.fixture(scope="module")
def v1():
    return _series("pte-v1")


@pytest.fixture(scope="module")
def v2():
    return _series("pte-v2")


@pytest.fixture(scope="module")
def v3():
    return _series("pte-v3")


def test_v3_has_14_of_15_and_reports_09_missing(v3) -> None:
    assert (v3.revision, v3.expected) == (3, 15)
    assert [p.counter for p in v3.patches] == [1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 14, 15]
    assert v3.missing == [9] and not v3.complete
    assert v3.duplicates == []
    assert v3.cover is not None and v3.cover.subject == "Free user PTE page table pages"
    assert v3.base_commit == "" and v3.base_hint == "next-20211108"
    assert v3.revisions_in_thread == [3]
    assert v3.patches[1].subject == "mm: introduce is_huge_pmd() helper"
    assert v3.patches[1].author == "Qi Zheng <zhengqi.arch@bytedance.com>"
    assert v3.patches[1].date == "2021-11-10T10:54:15+00:00"


def test_v2_has_8_of_9_and_reports_02_missing(v2) -> None:
    assert (v2.revision, v2.expected, v2.missing) == (2, 9, [2])
    assert [p.counter for p in v2.patches] == [1, 3, 4, 5, 6, 7, 8, 9]
    assert v2.base_hint == "next-20210812"


def test_v1_is_complete(v1) -> None:
    assert (v1.revision, v1.expected, v1.missing, len(v1.patches)) == (1, 7, [], 7)
    assert v1.complete and v1.base_hint == "next-20210708"


@pytest.mark.parametrize("name", ["pte-v1", "pte-v2", "pte-v3"])
def test_files_and_counts_equal_git_apply_numstat(name: str, tmp_path: Path) -> None:
    for patch in _series(name).patches:
        out = subprocess.run(
            ["git", "apply", "--numstat", "-"], input=patch.diff.encode(),
            capture_output=True, check=True, cwd=tmp_path,
        ).stdout.decode()
        numstat = [(row.split("\t")[2], int(row.split("\t")[0]), int(row.split("\t")[1]))
                   for row in out.splitlines()]
        assert [(f.path, f.added, f.removed) for f in patch.files] == numstat, patch.subject
        assert (patch.added, patch.removed) == (sum(n[1] for n in numstat), sum(n[2] for n in numstat))


def test_hunks_add_up_and_new_files_are_marked(v3) -> None:
    docs = v3.patches[12]  # 14/15 adds Documentation/vm/pte_ref.rst
    assert docs.counter == 14
    [rst] = [f for f in docs.files if f.path == "Documentation/vm/pte_ref.rst"]
    assert rst.status == "added" and rst.removed == 0 and rst.added == sum(h.added for h in rst.hunks)
    for patch in v3.patches:
        for change in patch.files:
            assert change.added == sum(h.added for h in change.hunks)
            assert all(h.text.startswith("@@ -") for h in change.hunks)


def test_cover_diffstat_difference_is_the_missing_patch(v1, v2, v3) -> None:
    assert v3.cover.diffstat_summary == "41 files changed, 1186 insertions(+), 340 deletions(-)"
    assert len(v3.cover.diffstat) == 41
    check = v3.diffstat_check
    assert (check.cover_files, check.present_files) == (41, 39)
    assert check.only_in_cover == ["kernel/events/uprobes.c", "mm/rmap.c"]
    assert check.only_in_patches == [] and check.consistent
    assert "missing patch(es) 9" in check.explanation
    for complete in (v1,):
        assert complete.diffstat_check.consistent
        assert complete.diffstat_check.only_in_cover == complete.diffstat_check.more_in_cover == []
    assert v2.diffstat_check.consistent and "missing patch(es) 2" in v2.diffstat_check.explanation


def test_trailers_own_and_from_replies(v1, v2, v3) -> None:
    assert [(t.name, t.value) for t in v3.patches[0].trailers] == [
        ("Signed-off-by", "Qi Zheng <zhengqi.arch@bytedance.com>")]
    [acked] = v1.patches[0].followup_trailers
    assert (acked.name, acked.value) == ("Acked-by", "Kirill A. Shutemov <kirill.shutemov@linux.intel.com>")
    assert acked.caution == ""
    [reviewed] = v2.patches[0].followup_trailers
    assert (reviewed.name, reviewed.value) == ("Reviewed-by", "David Hildenbrand <david@redhat.com>")


def test_robot_suggested_reported_by_is_kept_with_a_caution(v3) -> None:
    for index, report_id in ((1, "202111112105.ExMahDDX-lkp@intel.com"), (5, "202111110851.zOTlo7RL-lkp@intel.com")):
        [suggested] = v3.patches[index].followup_trailers
        assert (suggested.name, suggested.value) == ("Reported-by", "kernel test robot <lkp@intel.com>")
        assert suggested.source_msgid == report_id
        assert suggested.caution == BOT_SUGGESTION


def test_mbox_is_am_ready(v3, tmp_path: Path) -> None:
    patch = v3.patches[0]
    assert patch.mbox.startswith("From git@z Thu Jan  1 00:00:00 1970\n")
    assert "Subject: [PATCH v3 1/15] mm: do code cleanups to filemap_map_pmd()\n" in patch.mbox
    assert patch.diff in patch.mbox
    mailinfo = subprocess.run(
        ["git", "mailinfo", str(tmp_path / "msg"), str(tmp_path / "patch")],
        input=patch.mbox.encode(), capture_output=True, check=True, cwd=tmp_path,
    ).stdout.decode()
    assert "Author: Qi Zheng" in mailinfo and "Subject: mm: do code cleanups to filemap_map_pmd()" in mailinfo
    assert patch.diff in (tmp_path / "patch").read_text()


def test_commit_message_and_patch_id(v3) -> None:
    patch = v3.patches[0]
    assert patch.commit_message.startswith("Currently we have two times the same few lines repeated")
    assert patch.commit_message.rstrip().endswith("Signed-off-by: Qi Zheng <zhengqi.arch@bytedance.com>")
    assert len(patch.git_patch_id) == 40


def test_series_is_json_serialisable_and_stable(v3) -> None:
    again = _series("pte-v3")  # a fresh LoreMailbox each time: no b4 state carried over
    assert dataclasses.asdict(again) == dataclasses.asdict(v3)
    assert json.loads(json.dumps(dataclasses.asdict(v3)))["missing"] == [9]


def test_revision_selection_over_a_multi_version_mbox(tmp_path: Path) -> None:
    both = tmp_path / "v2v3.mbox"
    both.write_bytes(bundled_thread_path("pte-v2").read_bytes() + bundled_thread_path("pte-v3").read_bytes())
    messages = load_thread(str(both)).messages
    assert revisions(messages) == [2, 3]
    assert assemble_series(messages).revision == 3
    older = assemble_series(messages, revision=2)
    assert (older.revision, older.expected, older.missing) == (2, 9, [2])
    assert older.revisions_in_thread == [2, 3]


def test_trailer_for_someone_else_is_kept_with_a_caution() -> None:
    from email.message import EmailMessage

    messages = load_thread(str(bundled_thread_path("pte-v3"))).messages
    reply = EmailMessage()
    reply["From"] = "Alice Reviewer <alice@example.org>"
    reply["Date"] = "Thu, 11 Nov 2021 10:00:00 +0000"
    reply["Subject"] = "Re: [PATCH v3 01/15] mm: do code cleanups to filemap_map_pmd()"
    reply["Message-ID"] = "<alice-1@example.org>"
    reply["In-Reply-To"] = "<20211110105428.32458-2-zhengqi.arch@bytedance.com>"
    reply["References"] = "<20211110105428.32458-2-zhengqi.arch@bytedance.com>"
    reply.set_content("Looks good.\n\nAcked-by: Alice Reviewer <alice@example.org>\n"
                      "Reviewed-by: Bob Builder <bob@example.org>\n")
    series = assemble_series([*messages, reply])
    got = {(t.name, t.value): t for t in series.patches[0].followup_trailers}
    assert set(got) == {("Acked-by", "Alice Reviewer <alice@example.org>"),
                        ("Reviewed-by", "Bob Builder <bob@example.org>")}
    assert got[("Acked-by", "Alice Reviewer <alice@example.org>")].caution == ""
    bob = got[("Reviewed-by", "Bob Builder <bob@example.org>")]
    assert bob.source_msgid == "alice-1@example.org"
    assert "sent by alice@example.org, who is not the person this trailer names" in bob.caution


def test_a_patch_sent_twice_is_a_duplicate_and_the_next_patch_is_not_lost() -> None:
    """b4 alone would move the older 03/15 into slot 4 and drop the real 04/15."""
    import copy

    messages = load_thread(str(bundled_thread_path("pte-v3"))).messages
    original = next(m for m in messages if "32458-4-" in m["Message-ID"])
    resent = copy.deepcopy(original)
    resent.replace_header("Message-ID", "<resend-03@example.org>")
    resent.replace_header("Date", "Thu, 11 Nov 2021 10:00:00 +0000")
    series = assemble_series([*messages, resent])
    assert series.duplicates == [3] and series.missing == [9]
    assert [p.counter for p in series.patches] == [1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 14, 15]
    assert series.patches[2].msgid == "20211110105428.32458-4-zhengqi.arch@bytedance.com"  # the first kept
    assert series.patches[3].subject == "mm: rework the parameter of lock_page_or_retry()"
