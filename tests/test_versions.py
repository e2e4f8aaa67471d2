"""Versions of a series: pairing, interdiff, changelog, comment carry-over, on the real v1/v2/v3."""
from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path

import pytest

from series.assemble import assemble_series
from series.carryover import carry_by_code
from series.commentstatus import carry_over
from series.changelog import check_claims, parse_changelog
from series.comments import extract_comments
from series.errors import SeriesInputError
from series.interdiff import interdiff
from series.load import bundled_thread_path, load_thread
from series.model import Series
from reviewtool.diffreport import changelog_claims, own_thread
from series.versions import order_versions, pair_patches, shortlog_subjects

DATA = Path(__file__).parent / "data"
PAIRINGS = tomllib.loads((DATA / "pairing.toml").read_text())["pairing"]
CARRIED = tomllib.loads((DATA / "carryover.toml").read_text())["comment"]


@cache
def rev(n: int) -> Series:
    return assemble_series(load_thread(str(bundled_thread_path(f"pte-v{n}"))).messages)


def _patch(series: Series, counter: int):
    return next(p for p in series.patches if p.counter == counter)


@pytest.mark.parametrize("expected", PAIRINGS, ids=lambda p: f"v{p['old']}-v{p['new']}")
def test_pairing_matches_the_table_read_from_the_patches(expected: dict) -> None:
    pairing = pair_patches(rev(expected["old"]), rev(expected["new"]))
    got = {(g.kind, tuple(g.old), tuple(g.new)) for g in pairing.groups}
    want = {(g["kind"], tuple(g["old"]), tuple(g["new"])) for g in expected["group"]}
    assert got == want
    assert {(lk.old, lk.new) for lk in pairing.links} == {tuple(x) for x in expected["links"]}
    # every slot of both revisions is in exactly one group
    assert sorted(c for g in pairing.groups for c in g.old) == list(range(1, rev(expected["old"]).expected + 1))
    assert sorted(c for g in pairing.groups for c in g.new) == list(range(1, rev(expected["new"]).expected + 1))


def test_missing_patches_are_missing_not_dropped_or_new() -> None:
    v1_v2 = pair_patches(rev(1), rev(2))
    two = next(r for r in v1_v2.new_patches if r.counter == 2)
    assert two.missing and two.subject == "mm: remove redundant smp_wmb()"  # from the cover shortlog
    link = next(lk for lk in v1_v2.links if lk.new == 2)
    assert (link.old, link.method) == (3, "subject")
    v2_v3 = pair_patches(rev(2), rev(3))
    kinds = {(tuple(g.old), tuple(g.new)): g.kind for g in v2_v3.groups}
    assert kinds[((2,), ())] == "missing"
    assert kinds[((), (9,))] == "missing"
    nine = next(r for r in v2_v3.new_patches if r.counter == 9)
    assert nine.subject == "mm/pte_ref: add support for the map/unmap of user PTE page table page"


def test_pairing_evidence_is_specific() -> None:
    v1_v2 = pair_patches(rev(1), rev(2))
    rename = next(lk for lk in v1_v2.links if (lk.old, lk.new) == (2, 1))
    assert rename.method == "content" and rename.shared_lines >= 20 and rename.old_share > 0.8
    assert v1_v2.successors(5) == [4, 5, 6, 7]
    assert v1_v2.predecessors(6) == [5]


def test_shortlog_wrapped_subject_is_joined() -> None:
    subjects = shortlog_subjects(rev(3).cover.body)
    assert len(subjects) == 15
    assert subjects[7] == "mm/pte_ref: initialize the refcount of the withdrawn PTE page table page"


def test_order_versions_sorts_out_of_order_input() -> None:
    assert [s.revision for s in order_versions([rev(3), rev(1), rev(2)])] == [1, 2, 3]


def test_single_version_is_a_clear_error() -> None:
    with pytest.raises(SeriesInputError, match="at least two revisions.*only v3"):
        order_versions([rev(3)])
    with pytest.raises(SeriesInputError, match="given twice"):
        order_versions([rev(2), rev(2)])


def test_interdiff_ignores_line_numbers_and_shows_real_changes() -> None:
    text = interdiff(_patch(rev(2), 3), _patch(rev(3), 4))
    assert "-we need the vmf in lock_page_or_retry()" in text
    assert "+We need the vmf in lock_page_or_retry()" in text
    assert "-  * If neither ALLOW_RETRY nor KILLABLE are set, will always return 1" in text
    assert "@@ -3208" not in text and "index " not in text
    assert interdiff(_patch(rev(3), 4), _patch(rev(3), 4)) == ""


def test_interdiff_of_a_split_compares_the_whole() -> None:
    news = [_patch(rev(2), c) for c in (4, 5, 6, 7)]
    text = interdiff(_patch(rev(1), 5), news)
    assert "a/mm/pte_ref.c" in text and "b/mm/pte_ref.c" in text


def test_changelog_parsed_from_real_covers() -> None:
    log = parse_changelog(rev(3).cover.body)
    assert sorted(log) == [2, 3]
    assert log[3][1] == "Add a document."
    assert log[3][0].startswith("Refactored this patch series:\n- [PATCH v3 6/15]")
    assert log[2][0] == "Change pte_install() to pmd_install()."
    assert parse_changelog(rev(2).cover.body) == {2: log[2]}
    assert parse_changelog(rev(1).cover.body) == {}


@pytest.mark.parametrize("body, want", [
    ("Changes in v3:\n- a\n- b\n\nThanks", {3: ["a", "b"]}),
    ("Changes since v1:\n* x\n  continued\n", {2: ["x\ncontinued"]}),
    ("v4 -> v5:\n  - one\n\n  - two\n\nSigned", {5: ["one", "two"]}),
    ("v2:\n - only\n", {2: ["only"]}),
    ("No changelog here.\n- not a claim\n", {}),
])
def test_changelog_header_styles(body: str, want: dict) -> None:
    assert parse_changelog(body) == want


def test_changelog_claims_beside_the_changes() -> None:
    claims = parse_changelog(rev(3).cover.body)
    v1_v2 = check_claims(claims[2], rev(1), rev(2), pair_patches(rev(1), rev(2)))
    assert [c.verdict for c in v1_v2] == ["seen", "not checkable", "seen"]
    assert "pmd_install(): added 0x in v1, 9x in v2" in v1_v2[0].evidence
    v2_v3 = check_claims(claims[3], rev(2), rev(3), pair_patches(rev(2), rev(3)))
    assert [c.verdict for c in v2_v3] == ["seen", "seen"]
    assert any("missing from the archive" in e for e in v2_v3[0].evidence)  # 9/15 named, not judged
    assert "Documentation/vm/pte_ref.rst" in v2_v3[1].evidence[0]


@cache
def judged(old: int, new: int) -> tuple:
    """Every comment on v`old` judged in v`new` with the thread, as `reviewtool diff` does."""
    ordered = [rev(1), rev(2), rev(3)]
    return tuple(carry_over(extract_comments(own_thread(rev(old))), rev(old), rev(new),
                            pair_patches(rev(old), rev(new)), claims=changelog_claims(rev(old), rev(new), ordered),
                            new_comments=extract_comments(own_thread(rev(new)))))


def _labelled(label: dict):
    """The judged comment (or list item) a label names; exactly one must match."""
    old, new = label.get("old", 2), label.get("new", 3)
    found = [c for c in judged(old, new) if c.msgid == label["msgid"] and c.text.startswith(label["starts"])]
    assert len(found) == 1, f"no single comment {label['starts']!r} in {label['msgid']}"
    return found[0]


def _code_only(label: dict) -> str:
    """What the code alone said before comment kinds (issue 15), on the same comment."""
    old, new = label.get("old", 2), label.get("new", 3)
    comment = next(c for c in extract_comments(rev(old))
                   if c.msgid == label["msgid"] and label["starts"] in c.text)
    return carry_by_code(comment, rev(old), rev(new), pair_patches(rev(old), rev(new))).status


def test_hand_checked_comments_carried_over() -> None:
    """Scores before and after issue 15, on the labels it found and on the ones it added."""
    assert len(CARRIED) >= 30
    original = [row for row in CARRIED if "tool" in row]
    added = [row for row in CARRIED if "tool" not in row]
    assert len(original) == 14
    got = [_labelled(row) for row in CARRIED]
    for name, rows in (("labels before issue 15", original), ("labels added by issue 15", added)):
        before = sum(_code_only(row) == row["expected"] for row in rows)
        after = sum(_labelled(row).status == row["expected"] for row in rows)
        print(f"\ncarry-over on the {len(rows)} {name}: before {before}/{len(rows)}, after {after}/{len(rows)}")
    kinds = sum(c.kind == row["kind"] for c, row in zip(got, CARRIED))
    print(f"comment kinds: {kinds}/{len(CARRIED)}")
    for c, row in zip(got, CARRIED):
        if c.status != row["expected"] or c.kind != row["kind"]:
            print(f"  miss {row['starts'][:40]!r}: want {row['expected']}/{row['kind']}, "
                  f"got {c.status}/{c.kind} by {c.status_rule} ({c.evidence[:90]})")
    assert sum(_labelled(row).status == row["expected"] for row in original) >= 13
    assert sum(_labelled(row).status == row["expected"] for row in added) >= 14
    assert kinds >= 28
    assert all(c.evidence and c.evidence_items and c.status_rule for c in got)


def test_design_objection_is_not_addressed_because_code_moved() -> None:
    """Jason's "still not optimal": the gup.c lines it quoted changed, the atomic stayed."""
    row = next(r for r in CARRIED if r["starts"].startswith("It is a bit better with patch 8"))
    c = _labelled(row)
    assert _code_only(row) == "addressed"  # what the code alone says
    assert (c.kind, c.status, c.status_rule) == ("objection", "open", "objection-unanswered")
    assert "changed code is not an answer" in c.evidence


def test_list_items_get_their_own_status() -> None:
    items = [c for c in judged(2, 3) if c.msgid == "5aa3020c-fcf2-87bd-31fe-e2b5c2aafcf2@redhat.com" and c.item]
    assert [c.item for c in items] == ["a", "b", "c"]
    assert items[1].text.startswith("b) each page table walker")


def test_promise_kept_with_the_new_line_as_evidence() -> None:
    """Kirill on v1 2/7: "Maybe pmd_install()?", Qi: "I will use pmd_install()": v2 adds it."""
    row = next(r for r in CARRIED if r["starts"] == "Maybe pmd_install()?")
    c = _labelled(row)
    assert (c.status, c.status_rule, c.confidence) == ("addressed", "promise-kept", "high")
    line = next(e for e in c.evidence_items if e.kind == "diff-line")
    assert "pmd_install(" in line.text and line.revision == 2 and line.patch == 1
    assert any(e.kind == "message" and "I will use pmd_install()" in e.text for e in c.evidence_items)


def test_answered_question_and_reviewer_agreeing_in_the_old_thread() -> None:
    question = _labelled(next(r for r in CARRIED if r["starts"] == "Why pte_refcount is atomic?"))
    assert (question.status, question.status_rule) == ("addressed", "answered-on-list")
    withdrawn = _labelled(next(r for r in CARRIED if r["starts"] == "Yes but if thread B populates"))
    assert withdrawn.status_rule == "reviewer-satisfied"
    assert "ad00037e-cddb-1de5-bd77-1ade053952ed@nextfour.com" in {e.msgid for e in withdrawn.evidence_items}


def test_open_comment_points_at_the_line_in_the_new_revision() -> None:
    carried = carry_over(extract_comments(rev(1)), rev(1), rev(2), pair_patches(rev(1), rev(2)))
    opened = [c for c in carried if c.status == "open" and c.new_line]
    assert opened
    for c in opened:
        patch = _patch(rev(2), c.new_patch)
        assert c.new_path in {f.path for f in patch.files}


def test_author_replies_are_not_review_comments() -> None:
    comments = extract_comments(rev(2))
    carried = carry_over(comments, rev(2), rev(3), pair_patches(rev(2), rev(3)))
    assert not [c for c in carried if "zhengqi.arch@bytedance.com" in c.author]
    every = carry_over(comments, rev(2), rev(3), pair_patches(rev(2), rev(3)), include_author=True)
    assert {c.msgid for c in every} == {c.msgid for c in comments} > {c.msgid for c in carried}
    assert len(every) >= len(comments)  # list items split: never fewer


def test_comment_whose_successor_is_missing_is_unknown() -> None:
    """Muchun's typo fixes on v1 3/7 went to v2 2/9, which the archive lacks: no verdict."""
    comments = [c for c in extract_comments(rev(1)) if c.anchor.patch_counter == 3]
    assert comments
    for c in carry_over(comments, rev(1), rev(2), pair_patches(rev(1), rev(2))):
        assert c.status == "unknown" and "missing from the archive" in c.evidence


def test_reworked_group_links_say_what_each_new_patch_carries() -> None:
    """v2 5, 6, 8 -> v3 1, 5, 6, 7, 10-13 is one group: each link names its share and functions."""
    pairing = pair_patches(rev(2), rev(3))
    group = next(g for g in pairing.groups if g.kind == "reworked")
    assert (group.old, group.new) == ([5, 6, 8], [1, 5, 6, 7, 10, 11, 12, 13])
    links = {(lk.old, lk.new): lk for lk in pairing.links}
    walkers = links[(6, 11)]  # the page table walkers, converted in v3 11/15
    assert "fs/proc/task_mmu.c:smaps_pte_range" in walkers.functions and walkers.shared_lines >= 50
    assert 0.2 < walkers.old_share < walkers.new_share
    rcu = links[(8, 13)]  # v2 8/9's RCU freeing, now inside v3 13/15
    assert "mm/pte_ref.c:pte_free_rcu" in rcu.functions
    assert links[(6, 12)].functions == ["mm/mremap.c:move_normal_pmd"]
