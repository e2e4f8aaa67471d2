"""Comment status from the thread, on small real threads made with git format-patch.

- a "will fix in v2" whose fix is in v2 -> addressed, with the new diff line;
  one whose fix is not -> open, with the promise quoted;
- a design objection on v2 that the same reviewer repeats on v3 -> open in
  v3's report although the code it quoted moved, both mails linked;
- two "v1" postings of a re-titled series -> `reviewtool diff` exits 0,
  pairs by content and marks the link inferred.
"""
from __future__ import annotations

import json
import subprocess
import sys
import urllib.parse
from pathlib import Path

import pytest

from lore_server import LoreHandler, serving, thread_path
from reviewtool.cli import main
from series.commentkinds import answer_kind, comment_kind, split_items
from series.textmatch import names_match, overlap
from tests.mailthreads import AUTHOR, REVIEWER, Repo, mbox, msgid_of, reply

BASE = """#include "lib.h"

struct frob {
\tint lock;
\tint nr_items;
\tint nr_pending;
};

int frob_init(struct frob *f)
{
\tf->nr_items = 0;
\tf->nr_pending = 0;
\treturn 0;
}
"""

COUNT_V1 = """
int frob_count(struct frob *f)
{
\tint count = 0;

\tspin_lock(&f->lock);
\tcount = f->nr_items + f->nr_pending;
\tspin_unlock(&f->lock);
\treturn count;
}
"""
COUNT_V2 = COUNT_V1.replace("\tcount = f->nr_items + f->nr_pending;\n",
                            "\tif (check_add_overflow(f->nr_items, f->nr_pending, &count))\n\t\tcount = INT_MAX;\n")
COUNT_V3 = COUNT_V2.replace("spin_lock(&f->lock)", "spin_lock_irq(&f->lock)").replace(
    "spin_unlock(&f->lock)", "spin_unlock_irq(&f->lock)")
REPORT = """
void frob_report(struct frob *f)
{
\tpr_info("frob: %d items queued or pending\\n", frob_count(f));
}
"""
SOB = "\n\nSigned-off-by: Alice Author <alice@example.org>"


def _posting(repo: Repo, out: Path, count: str, *, version: int, subject: str, date: str,
             titles: tuple[str, str] = ("lib: add frob_count()", "lib: report frob counts"),
             changelog: str = "") -> list[str]:
    repo.git("checkout", "-q", "-B", f"v{version}-{date[:10]}", "base")
    repo.commit({"lib.c": BASE + count}, titles[0] + "\n\nCount what a frob holds." + SOB, date=date)
    repo.commit({"lib.c": BASE + count + REPORT}, titles[1] + "\n\nSay how much is queued." + SOB, date=date)
    return repo.post(out, "base", version=version, subject=subject, date=date, changelog=changelog)


@pytest.fixture(scope="module")
def threads(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """v1, v2, v3 of a two-patch series with review, promises and a repeated objection."""
    root = tmp_path_factory.mktemp("threads")
    repo = Repo(root / "repo")
    repo.commit({"lib.c": BASE}, "base")
    repo.git("tag", "base")
    v1 = _posting(repo, root / "v1", COUNT_V1, version=1, subject="lib: frob counters", date="2021-07-01T10:00:00+00:00")
    review1 = reply(v1[1], REVIEWER, (
        "On Thu, Jul 1, 2021 Alice Author wrote:\n"
        "> +int frob_count(struct frob *f)\n> +{\n> +\tint count = 0;\n\n"
        "Please make count unsigned int, a count is never negative.\n\n"
        "> +\n> +\tspin_lock(&f->lock);\n> +\tcount = f->nr_items + f->nr_pending;\n\n"
        "This sum can overflow; use check_add_overflow() here.\n"), "2021-07-02T09:00:00+00:00")
    answer1 = reply(review1, AUTHOR, (
        "> Please make count unsigned int, a count is never negative.\n\n"
        "OK, I will fix it in v2.\n\n"
        "> This sum can overflow; use check_add_overflow() here.\n\n"
        "Will do in v2, thanks.\n"), "2021-07-02T12:00:00+00:00")
    v2 = _posting(repo, root / "v2", COUNT_V2, version=2, subject="lib: frob counters", date="2021-07-05T10:00:00+00:00",
                  changelog="Changes in v2:\n- use check_add_overflow() in frob_count()\n")
    objection = reply(v2[1], REVIEWER, (
        "> +\tspin_lock(&f->lock);\n> +\tif (check_add_overflow(f->nr_items, f->nr_pending, &count))\n\n"
        "I don't think we should take the frob lock just to read two counters; READ_ONCE() on\n"
        "both is enough here and keeps this path lockless.\n"), "2021-07-06T09:00:00+00:00")
    v3 = _posting(repo, root / "v3", COUNT_V3, version=3, subject="lib: frob counters", date="2021-07-09T10:00:00+00:00",
                  changelog="Changes in v3:\n- disable interrupts around the frob lock\n")
    repeat = reply(v3[1], REVIEWER, (
        "> +\tspin_lock_irq(&f->lock);\n\n"
        "I still don't think we should take the frob lock to read two counters: READ_ONCE() on both\n"
        "counters keeps this lockless.\n"), "2021-07-10T09:00:00+00:00")
    return {
        "v1": mbox([*v1, review1, answer1], root / "v1.mbox"),
        "v2": mbox([*v2, objection], root / "v2.mbox"),
        "v3": mbox([*v3, repeat], root / "v3.mbox"),
        "review1": msgid_of(review1), "answer1": msgid_of(answer1),
        "objection": msgid_of(objection), "repeat": msgid_of(repeat),
        "repo": repo, "root": root,
    }


def _diff(*args: str) -> tuple[int, dict, str]:
    run = subprocess.run([sys.executable, "-m", "reviewtool", "diff", *args, "--json"], capture_output=True, text=True, timeout=300)
    return run.returncode, json.loads(run.stdout) if run.stdout.strip() else {}, run.stderr


@pytest.fixture(scope="module")
def report(threads: dict, tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("report")
    code, data, err = _diff("--mbox", str(threads["v3"]), "--mbox", str(threads["v1"]), "--mbox", str(threads["v2"]),
                            "--out", str(out))
    assert code == 0, err
    data["_out"] = out
    return data


def _pair(report: dict, old: int, new: int) -> dict:
    return next(p for p in report["pairs"] if (p["old_revision"], p["new_revision"]) == (old, new))


def test_promise_kept_is_addressed_with_the_new_line(report: dict, threads: dict) -> None:
    c = next(c for c in _pair(report, 1, 2)["comments"] if c["text"].startswith("This sum can overflow"))
    assert (c["kind"], c["status"], c["status_rule"], c["confidence"]) == ("request", "addressed", "promise-kept", "high")
    line = next(e for e in c["evidence_items"] if e["kind"] == "diff-line")
    assert "check_add_overflow(f->nr_items, f->nr_pending, &count)" in line["text"]
    assert (line["revision"], line["patch"], line["path"]) == (2, 1, "lib.c") and line["line"]
    assert any(e["msgid"] == threads["answer1"] and "Will do in v2" in e["text"] for e in c["evidence_items"])


def test_promise_not_kept_is_open_with_the_promise_quoted(report: dict, threads: dict) -> None:
    c = next(c for c in _pair(report, 1, 2)["comments"] if c["text"].startswith("Please make count unsigned"))
    assert (c["status"], c["status_rule"]) == ("open", "promise-not-kept")
    assert "OK, I will fix it in v2." in c["evidence"] and threads["answer1"] in c["evidence"]
    assert c["msgid"] == threads["review1"]


def test_objection_repeated_on_v3_stays_open_with_both_mails(report: dict, threads: dict) -> None:
    c = next(c for c in _pair(report, 2, 3)["comments"] if c["text"].startswith("I don't think we should take"))
    assert (c["kind"], c["status"], c["status_rule"]) == ("objection", "open", "reviewer-repeats")
    linked = {e["msgid"] for e in c["evidence_items"] if e["kind"] == "message"}
    assert {threads["objection"], threads["repeat"]} <= linked
    # the code it quoted did move (spin_lock -> spin_lock_irq): that alone would have said "addressed"
    assert any(e["kind"] == "code" and "no longer in" in e["text"] for e in c["evidence_items"])
    assert any(r["msgid"] == threads["objection"] for r in report["open_comments"])
    html = (report["_out"] / "versions.html").read_text()
    for msgid in (threads["objection"], threads["repeat"]):
        assert f"https://lore.kernel.org/r/{msgid.replace('@', '%40')}" in html
    assert "reviewer-repeats" in (report["_out"] / "versions.md").read_text()


def test_links_by_version_number_are_not_inferred(report: dict) -> None:
    assert [(lk["old_label"], lk["new_label"], lk["basis"]) for lk in report["links"]] == [
        ("v1", "v2", "version"), ("v2", "v3", "version")]


def test_retitled_repost_is_paired_by_content_and_marked_inferred(threads: dict, tmp_path: Path) -> None:
    repo = threads["repo"]
    first = _posting(repo, tmp_path / "a", COUNT_V1, version=1, subject="lib: frob counters",
                     date="2021-06-01T10:00:00+00:00")
    again = _posting(repo, tmp_path / "b", COUNT_V2, version=1, subject="lib: count frob items without overflow",
                     date="2021-06-20T10:00:00+00:00",
                     titles=("lib/frob: introduce a counting helper", "lib/frob: print the counters"))
    later, earlier = mbox(again, tmp_path / "b.mbox"), mbox(first, tmp_path / "a.mbox")
    code, data, err = _diff("--mbox", str(later), "--mbox", str(earlier), "--out", str(tmp_path / "out"))
    assert code == 0, err
    assert "v1 is posted 2 times; ordered by date" in err
    assert [r["subject"] for r in data["revisions"]] == ["lib: frob counters", "lib: count frob items without overflow"]
    assert [r["label"] for r in data["revisions"]] == ["v1 (2021-06-01)", "v1 (2021-06-20)"]
    (link,) = data["links"]
    assert link["basis"] == "inferred" and "same version number" in link["evidence"]
    assert "lib.c" in link["shared_files"] and "lib.c:frob_report" in link["shared_functions"]
    pairing = data["pairs"][0]["pairing"]
    assert {(lk["old"], lk["new"]) for lk in pairing["links"]} == {(1, 1), (2, 2)}
    assert all(lk["method"].startswith("content") or lk["method"] == "patch-id" for lk in pairing["links"])
    md = (tmp_path / "out" / "versions.md").read_text()
    assert "inferred (weaker than a version number)" in md


class _Inbox(LoreHandler):
    """A public-inbox with one thread by Message-ID and one answer to a search by author and file."""

    thread: tuple[str, bytes] = ("", b"")
    found = b""
    queries: list[str] = []

    def do_GET(self) -> None:  # noqa: N802
        if self.path == thread_path(self.thread[0]):
            return self.send_gzip(self.thread[1])
        self.send_error(404)

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query).get("q", [""])[0]
        self.queries.append(query)
        if 'f:"alice@example.org"' in query and 'dfn:"lib.c"' in query:
            return self.send_gzip(self.found)
        self.send_error(404)


def test_server_finds_the_retitled_predecessor_by_content(threads: dict, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    """A re-titled v1 fetched by Message-ID: b4's subject search finds nothing, the content search does."""
    repo = threads["repo"]
    first = _posting(repo, tmp_path / "a", COUNT_V1, version=1, subject="lib: frob counters",
                     date="2021-06-01T10:00:00+00:00")
    repo.git("checkout", "-q", "-B", "other", "base")
    repo.commit({"lib.c": BASE + "\nvoid frob_reset(struct frob *f)\n{\n\tf->nr_items = f->nr_pending;\n}\n"},
                "lib: add frob_reset()\n\nStart over." + SOB, date="2021-06-10T10:00:00+00:00")
    unrelated = repo.post(tmp_path / "c", "base", subject="lib: frob reset", date="2021-06-10T10:00:00+00:00")
    again = _posting(repo, tmp_path / "b", COUNT_V2, version=1, subject="lib: count frob items without overflow",
                     date="2021-06-20T10:00:00+00:00",
                     titles=("lib/frob: introduce a counting helper", "lib/frob: print the counters"))
    _Inbox.thread = (msgid_of(again[0]), mbox(again, tmp_path / "b.mbox").read_bytes())
    _Inbox.found = mbox([*first, *unrelated], tmp_path / "found.mbox").read_bytes()
    _Inbox.queries = []
    with serving(_Inbox) as url:
        code = main(["diff", msgid_of(again[0]), "--midmask", f"{url}/all/%s", "--json", "--out", str(tmp_path / "o")])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert any('dfn:"lib.c"' in q and "d:20200620..20210620" in q for q in _Inbox.queries)
    report = json.loads(out)
    assert [r["subject"] for r in report["revisions"]] == ["lib: frob counters", "lib: count frob items without overflow"]
    (link,) = report["links"]
    assert link["basis"] == "inferred" and "lib.c:frob_count" in link["shared_functions"]
    assert "search by author and files (inferred)" in err


def test_unrelated_postings_are_still_refused(threads: dict, tmp_path: Path) -> None:
    other = tmp_path / "other"
    repo = Repo(other)
    repo.commit({"x.c": "int x;\n"}, "base")
    repo.git("tag", "base")
    repo.commit({"x.c": "int x;\nint y = 2;\n"}, "x: add y\n\nBecause." + SOB)
    mails = repo.post(tmp_path / "p", "base", subject="x: y", date="2021-06-02T10:00:00+00:00")
    code, _, err = _diff("--mbox", str(mbox(mails, tmp_path / "x.mbox")), "--mbox", str(threads["v1"]),
                         "--out", str(tmp_path / "o"))
    assert code == 2 and "do not look like the same series" in err and "Traceback" not in err


@pytest.mark.parametrize("text, kind", [
    ("I don't think we should take a performance hit for this.", "objection"),
    ("This would be much better if the locking were done by the caller.", "objection"),
    ("Please add Cc: stable@vger.kernel.org.", "process"),
    ("Looks good to me.", "praise"),
    ("Why is this atomic?", "question"),
    ("s/use/uses/", "request"),
    ("1. Merge #6 and #7.", "request"),
])
def test_comment_kinds(text: str, kind: str) -> None:
    assert comment_kind(text).kind == kind


@pytest.mark.parametrize("text, kind", [
    ("OK, I will fix it in v2.", "promise"),
    ("Will do in v2, thanks.", "promise"),
    ("I disagree, because the lock is needed for the write side.", "refusal"),
    ("The lock protects the write side.", None),
])
def test_answer_kinds(text: str, kind: str | None) -> None:
    got = answer_kind(text)
    assert (got.kind if got else None) == kind


def test_numbered_requests_split_into_items() -> None:
    text = "Some feedback:\n1. introduce the API first\n2. convert the users\n3. merge #6 and #7"
    assert split_items(text) == [("1", "Some feedback:\n1. introduce the API first"),
                                 ("2", "2. convert the users"), ("3", "3. merge #6 and #7")]
    assert split_items("One request only.") == [("", "One request only.")]


def test_name_matching_is_by_whole_parts() -> None:
    assert names_match("map_lock", "pte_tryget_map_lock")
    assert not names_match("pmd_t", "pmd_to_page")  # "pmd_t" is not a part of "pmd_to_page"
    assert not names_match("lock", "spin_lock")  # one word is too little to call it the same name


def test_rewritten_words_still_tie_a_changelog_line() -> None:
    tie = overlap("Try introducing the new dummy primitives first, then convert each subsystem",
                  "Introduce the new dummy helpers first; convert each subsystem individually")
    assert tie.links() and {"introduc", "dummy", "subsystem"} <= set(tie.words)
    assert not overlap("Please make count unsigned.", "use check_add_overflow() in frob_count()").links()
