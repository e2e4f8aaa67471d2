"""report.html / report.md from what a real review produced, checked in headless Chromium.

The input is the typed Review of `reviewtool review --bundled pte-v3 --previous
bundled:pte-v2 --no-build` on the managed 6.1 tree (the `v3_review` fixture);
the built case is in tests/test_exit_codes.py. The hostile thread is made here
from a real patch mail of the bundled v3 thread (copies changed with the email
package; the bundled files are never edited): its mail text must show up as
text and never run.
"""
from __future__ import annotations

import copy
import dataclasses
import email.policy
import html as html_lib
import json
import re
import subprocess
from email.message import EmailMessage
from functools import cache
from html.parser import HTMLParser
from pathlib import Path

import pytest
from markupsafe import escape

from kernel.model import BaseChoice
from reviewtool.model import Review
from reviewtool.report.grouping import group_findings, link_root_causes
from reviewtool.report.placement import Note
from reviewtool.report.render import fence, md_escape, write_report
from reviewtool.report.view import base_text, build_view
from series.assemble import assemble_series
from series.comments import extract_comments
from series.load import bundled_thread_path, load_thread
from series.model import Series

DATA = Path(__file__).parent / "data"

CHROMIUM = "/usr/bin/chromium"
COVER = "<20211110105428.32458-1-zhengqi.arch@bytedance.com>"
PATCH1 = "<20211110105428.32458-2-zhengqi.arch@bytedance.com>"


def dump_dom(html: Path, tmp_path: Path) -> str:
    """The DOM Chromium builds from the file, after any script had its chance to run."""
    out = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'chromium-profile'}", "--virtual-time-budget=3000",
         "--dump-dom", html.resolve().as_uri()],
        capture_output=True, text=True, timeout=180, check=True,
    )
    assert "</html>" in out.stdout
    return out.stdout


class _Ids(HTMLParser):
    """ids, in-page links and anything that would load a resource."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.local_links: list[str] = []
        self.resources: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = dict(attrs)
        self.tags.append(tag)
        if "id" in a:
            self.ids.add(a["id"])
        if tag == "a" and (a.get("href") or "").startswith("#"):
            self.local_links.append(a["href"][1:])
        if "src" in a or tag in ("link", "script", "iframe", "object", "embed") or \
                (tag == "a" and not (a.get("href") or "").startswith(("#", "https://lore.kernel.org/r/", "versions/"))):
            self.resources.append(f"{tag} {a}")


def parse(html: str) -> _Ids:
    p = _Ids()
    p.feed(html)
    return p


@cache
def v3() -> Series:
    return assemble_series(load_thread(str(bundled_thread_path("pte-v3"))).messages)


def _first_added(series: Series, counter: int) -> tuple[str, int, str]:
    """(path, post-image line, text) of the first added line of a patch: a real place to put findings."""
    patch = next(p for p in series.patches if p.counter == counter)
    for fc in patch.files:
        for h in fc.hunks:
            n = h.target_start
            for line in h.text.splitlines()[1:]:
                if line.startswith("+"):
                    return fc.path, n, line
                if line.startswith(" "):
                    n += 1
    raise AssertionError("no added line")


@pytest.fixture(scope="module")
def report(v3_review: Review, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """report.html and report.md of the real v3 review."""
    out = tmp_path_factory.mktemp("report")
    assert [p.name for p in write_report(build_view(v3_review), out)] == ["report.html", "report.md"]
    return out


@pytest.fixture(scope="module")
def dom(report: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    return dump_dom(report / "report.html", tmp_path_factory.mktemp("chromium"))


def _row_then_note(dom: str, row_id: str, note_text: str) -> None:
    """The note is shown right under the diff row `row_id` (before the next diff row)."""
    start = dom.index(f'id="{row_id}"')
    nxt = re.search(r'<tr id="patch-', dom[start + 10:])
    end = start + 10 + nxt.start() if nxt else len(dom)
    assert note_text in dom[start:end], f"{note_text!r} not under {row_id}"


def _row_id(dom: str, counter: int, line: str) -> str:
    """id of the diff row of patch `counter` showing `line` (sign included) in its code cell."""
    rows = rf'<tr id="(patch-{counter}-f\d+-h\d+-l\d+)"[^>]*>.*?<td class="code">(.*?)</td></tr>'
    for m in re.finditer(rows, dom, re.S):
        if html_lib.unescape(re.sub(r"<[^>]+>", "", m.group(2))) == line:
            return m.group(1)
    raise AssertionError(f"no row {line!r} in patch {counter}")


pytestmark = pytest.mark.kernel


def test_report_of_real_review(report: Path, dom: str, v3_review: Review) -> None:
    series = v3()
    page = parse((report / "report.html").read_text())
    assert page.resources == []  # self-contained: nothing loaded, no links off lore
    assert set(page.local_links) <= page.ids  # every overview link lands on a detail
    assert {f"patch-{p.counter}" for p in series.patches} <= set(page.local_links)
    text = re.sub(r"<[^>]+>", " ", dom)
    assert "14 of 15 present" in text and "missing: 9" in text
    assert "patches not in the thread: missing 9 of 15" in text
    assert "which this tree does not name; using HEAD" in text  # the base warning
    assert "build (--no-build)" in text
    # reviewers' comment under the line it quotes: "+.. _pte_ref:" of patch 14
    row = _row_id(dom, 14, "+.. _pte_ref:")
    _row_then_note(dom, row, "Do you need this label anywhere?")
    _row_then_note(dom, row, "I will remove this label in the next version.")
    # the findings at their lines: checkpatch on 06/15's new header, the robot on 02/15
    spdx = _row_id(dom, 6, "+// SPDX-License-Identifier: GPL-2.0")
    _row_then_note(dom, spdx, "Improper SPDX comment style")
    assert f'href="#{spdx}"' in dom  # the overview's finding list links to the row holding it
    # one box per mail and place: Jason's paragraphs on the cover letter read together
    first = dom.index("So, this approach basically adds two atomics")
    assert dom.index("Compared to two atomics per PTE") < dom.index('<div class="note', first)
    assert '<span class="k">' in dom or '<span class="kt">' in dom  # highlighting from pygments
    # stage timings, as the pipeline measured them
    timings = dom[dom.index('<table id="timings">'):]
    assert {"comments", "tree", "base", "apply", "checkpatch", "pair scan", "versions"} <= {
        t.stage for t in v3_review.timings}
    assert "<td>checkpatch</td>" in timings[:timings.index("</table>")]


def test_findings_are_the_ones_before_the_typed_model(v3_review: Review) -> None:
    """tests/data/v3-findings-before.json: the findings main's report.py showed for the same run
    (how it was made is in its "note")."""
    before = json.loads((DATA / "v3-findings-before.json").read_text())
    view = build_view(v3_review)
    now = {(p.counter, n.title, (n.text.splitlines() or [""])[0], n.at or n.where)
           for p in view.patches for n in p.findings()}
    assert now == {(d["patch"], d["title"], d["message"], d["at"]) for d in before["findings"]}
    titles = [n.title for n in view.series_findings]
    assert titles[0] == "patches not in the thread: missing 9 of 15"
    # the rest: v2 comments that quote no v3 code and are judged open (issue 15: objections stay open)
    assert titles[1:] and all(t.startswith("still open from v2: ") for t in titles[1:]), titles
    assert before["missing"] == v3_review.series.missing


def test_version_report_parts(report: Path, dom: str) -> None:
    html = (report / "report.html").read_text()
    assert "v2 (8/9 patches, 2021-08-19), v3 (14/15 patches, 2021-11-10)" in html
    assert "<td>split</td>" in html or "<td>reworked</td>" in html
    assert "<td>3/9 mm: rework the parameter of lock_page_or_retry()</td>" in html  # names, not only numbers
    assert ("| 3/9 mm: rework the parameter of lock\\_page\\_or\\_retry() | 4/15 mm: rework the parameter of "
            "lock\\_page\\_or\\_retry() |" in (report / "report.md").read_text())
    opened = dom.index("still open from v2: David Hildenbrand")
    assert "if (pmd_trans_unstable() || !pte_try_get()) ..." in dom[opened:opened + 2000]


def test_pair_finding_placed_on_its_acquire_despite_worktree_line_offsets(v3_review: Review) -> None:
    view = next(p for p in build_view(v3_review).patches if p.counter == 11)
    placed = [(dl.sign + dl.text, n.where) for f in view.files for h in f.hunks for dl in h.lines
              for n in dl.notes if n.kind == "pairscan"]
    assert placed == [("+\tptep = pte_tryget_map(pmdp, addr);", "mm/hmm.c:393")]


def test_pair_finding_notes_say_whose_line_numbers_they_are(report: Path, v3_review: Review, tmp_path: Path) -> None:
    """The scan's lines are the worktree's; its note saying so must reach the report and the draft,
    or the author looks for 'line 384' in their own numbering."""
    from reviewtool.drafts import write_drafts

    note = "line numbers are the post-image's on this tree; the patch numbers them +2"
    assert f"note: {note}" in (report / "report.md").read_text()
    (draft,) = [p for p in write_drafts(build_view(v3_review), tmp_path, "Me <me@example.org>")
                if p.name.startswith("0011")]
    assert "note: line numbers are the post-image's on this tree; the patch" in " ".join(draft.read_text().split())


# --- hostile mail ---------------------------------------------------------------------------------

EVIL_SCRIPT = "<script>document.title='PWNED';document.body.appendChild(document.createElement('pwned'))</script>"
EVIL_IMG = "<img src=x onerror=\"document.body.appendChild(document.createElement('pwned'))\">"
EVIL_LINK = "<a href=\"javascript:alert(1)\">click</a> [also](javascript:alert(2))"
EVIL_SUBJECT = "mm: $(touch /tmp/reviewtool-pwned); `id` | rm -rf ~ && echo '<b>x</b>' > /dev/null"


def _hostile_messages() -> list[EmailMessage]:
    """Cover + patch 1 of v3 (patch subject made hostile) + a hostile review of patch 1."""
    msgs = load_thread(str(bundled_thread_path("pte-v3"))).messages
    cover = next(m for m in msgs if m["Message-ID"].strip() == COVER)
    patch = copy.deepcopy(next(m for m in msgs if m["Message-ID"].strip() == PATCH1))
    patch.replace_header("Subject", f"[PATCH v3 01/15] {EVIL_SUBJECT}")
    diff = patch.get_body(("plain",)).get_content()
    hunk_lines = diff[diff.index("@@ "):].splitlines()[:6]
    review = EmailMessage(policy=email.policy.default)
    review["From"] = f'"{EVIL_IMG}" <evil@example.org>'
    review["To"] = "Qi Zheng <zhengqi.arch@bytedance.com>"
    review["Subject"] = f"Re: [PATCH v3 01/15] {EVIL_SUBJECT} {EVIL_SCRIPT}"
    review["Date"] = "Fri, 12 Nov 2021 10:00:00 +0000"
    review["Message-ID"] = "<evil-1@example.org>"
    review["In-Reply-To"] = PATCH1
    review["References"] = f"{COVER} {PATCH1}"
    review.set_content("On Wed, Qi Zheng wrote:\n" + "\n".join("> " + x for x in hunk_lines)
                       + f"\n\n{EVIL_SCRIPT}\n{EVIL_IMG}\n{EVIL_LINK}\n\n> {EVIL_SCRIPT}\n\nmore {EVIL_SCRIPT}\n")
    return [cover, patch, review]


def test_hostile_mail_is_shown_as_text_and_never_runs(v3_review: Review, tmp_path: Path) -> None:
    series = assemble_series(_hostile_messages())
    comments = extract_comments(series)
    assert any(EVIL_SCRIPT in c.text for c in comments)
    # the real run's tree side, the hostile mail side
    review = dataclasses.replace(v3_review, series=series, comments=comments,
                                 meta=dataclasses.replace(v3_review.meta, source=EVIL_SUBJECT),
                                 findings=[f for f in v3_review.findings if f.patch == 1])
    write_report(build_view(review), tmp_path)
    html = (tmp_path / "report.html").read_text()
    page = parse(html)
    assert "script" not in page.tags and "img" not in page.tags
    assert page.resources == []

    dom = dump_dom(tmp_path / "report.html", tmp_path)
    title = re.search(r"<title>(.*?)</title>", dom, re.S).group(1)
    assert title.startswith("reviewtool: [PATCH v3]") and "PWNED" not in title
    assert "<pwned" not in dom and "<script" not in dom and "<img" not in dom
    assert not re.search(r"<a\b[^>]*href=\"?javascript", dom, re.I)
    # ... and the text is there, as text
    assert "&lt;script&gt;document.title='PWNED'" in dom
    assert "onerror=\"document.body" in dom and "&lt;img src=x" in dom
    assert "&lt;a href=\"javascript:alert(1)\"&gt;click&lt;/a&gt;" in dom
    assert "$(touch /tmp/reviewtool-pwned); `id` | rm -rf ~ &amp;&amp; echo" in dom
    assert not Path("/tmp/reviewtool-pwned").exists()

    md = (tmp_path / "report.md").read_text()
    outside = _outside_fences(md)
    # "\\<img" shows "<img" as text: a tag only where a "<" is not backslash-escaped
    assert not re.search(r"(?<!\\)<(script|img)", outside) and "](javascript:" not in outside
    assert re.findall(r"(?<!\\)<(?!https://lore\.kernel\.org/r/)", outside) == []  # only our autolinks
    assert "&lt;" not in outside and "&amp;" not in outside  # and no HTML entities in prose
    assert EVIL_SCRIPT in md  # verbatim, inside a code fence


def _outside_fences(md: str) -> str:
    out, fence_ticks = [], ""
    for line in md.splitlines():
        m = re.match(r"^(`{3,})", line)
        if fence_ticks:
            if m and m.group(1) == fence_ticks and line.strip() == fence_ticks:
                fence_ticks = ""
            continue
        if m:
            fence_ticks = m.group(1)
            continue
        out.append(line)
    return "\n".join(out)


@pytest.mark.parametrize("text", ["```\n<script>x</script>", "a ```` b\n`````", "plain"])
def test_fence_cannot_be_closed_by_its_content(text: str) -> None:
    block = fence(text)
    ticks = block.split("\n", 1)[0]
    assert block.endswith("\n" + ticks)
    assert all(not line.startswith(ticks) for line in text.splitlines())


def test_md_escape_keeps_prose_readable_and_inert() -> None:
    assert md_escape("<b>&lt;[x](javascript:y)|`") == "\\<b>\\&lt;\\[x\\](javascript:y)\\|\\`"
    assert md_escape("a < b && c > d") == "a < b && c > d"  # nothing a renderer would take as HTML
    assert md_escape("Qi Zheng <zhengqi.arch@bytedance.com>") == "Qi Zheng \\<zhengqi.arch@bytedance.com>"
    assert md_escape(">> mm/memory.c:1149") == "\\>> mm/memory.c:1149"


def test_overview_tells_apart_robot_errors_and_groups_same_findings(report: Path) -> None:
    """The robot's three is_huge_pmd errors on 02/15 read the same; only their file:line and the
    robot's ">>" tell them apart. Hunks failing for the same reason are one line with each place."""
    md = (report / "report.md").read_text()
    listed = md[md.index("### Findings"):md.index("## [01/15]")]
    robot = [line for line in listed.splitlines() if "kernel test robot" in line and line.startswith("- 02/15")]
    assert len(robot) == 3
    for path in ("mm/memory.c:1149", "mm/mprotect.c:260", "mm/mremap.c:535"):
        assert sum(f">> {path}:" in line for line in robot) == 1, path
    (apply,) = [line for line in listed.splitlines() if line.startswith("- 07/15 hunk does not apply")]
    assert "21 places: " in apply
    html = (report / "report.html").read_text()
    items = re.findall(r'<li class="sev-[a-z]+">(.*?)</li>', html, re.S)
    (apply_item,) = [i for i in items if "07/15</a> hunk does not apply" in i]
    assert len(re.findall(r'<a href="#patch-7-f\d+-h\d+-l0">', apply_item)) == 21  # each hunk linked


def test_same_root_cause_is_listed_once() -> None:
    """v3 02/15 without THP: the implicit is_huge_pmd() makes three BUILD_BUG()s fail to fold away;
    the overview lists the implicit declaration once with the three under it. (Messages as gcc 12
    prints them; the built end-to-end case is tests/test_exit_codes.py.)"""
    root = Note("build-error", "error", "build error (x86_64/mm-off)",
                "implicit declaration of function 'is_huge_pmd'; did you mean 'is_hugepd'?", at="mm/mremap.c:535",
                counts=True)
    asserts = [Note("build-error", "error", "build error (x86_64/mm-off)",
                    f"call to '__compiletime_assert_{n}' declared with attribute error: BUILD_BUG failed",
                    at=f"include/linux/huge_mm.h:{n}", counts=True) for n in (340, 346, 352)]
    other = Note("build-error", "error", "build error (x86_64/mm-off)", "'foo' undeclared", at="mm/a.c:1", counts=True)
    notes = [root, *asserts, other]
    link_root_causes(notes)
    groups = group_findings(notes)
    assert [len(g.followers) for g in groups] == [3, 0]
    assert all("follows from: implicit declaration of function 'is_huge_pmd'" in n.title for n in asserts)


def test_notes_in_the_diff_have_no_blank_lines_around_them(report: Path, tmp_path: Path) -> None:
    """Notes sit in a cell of the diff table, whose code cells keep white space: the template's
    line breaks around a note must not show as empty lines above and below it."""
    measured = _probe(report, tmp_path,
                      "const td = document.querySelector('tr.notes td'); const n = td.querySelector('.note');"
                      "const t = n.querySelector('.title');"
                      "[td.getBoundingClientRect().height - n.getBoundingClientRect().height,"
                      " t.getBoundingClientRect().top - n.getBoundingClientRect().top].join(' ')")
    cell_extra, title_offset = map(float, measured.split())
    assert cell_extra < 28, cell_extra  # padding and margins (19 px), no empty lines (38 px with them)
    assert title_offset < 8, title_offset  # the note starts with its title, not an empty line


@pytest.mark.parametrize(("base", "shown"), [
    (BaseChoice("34f48ff8da49" + "0" * 28, "34f48ff", "head", ""), "34f48ff8da49, the tree's HEAD"),
    (BaseChoice("830b3c68c1fb" + "0" * 28, "v6.1", "base-commit", ""), "v6.1 (830b3c68c1fb), the series' base-commit"),
])
def test_base_is_named_once_and_in_words(base: BaseChoice, shown: str) -> None:
    """A describe that is only the abbreviated hash is not repeated; "from head" is said in words."""
    assert base_text(base) == shown


def test_base_line_of_the_reports(report: Path, v3_review: Review) -> None:
    shown = base_text(v3_review.apply.base)
    assert shown == "94ea191e7acb, the tree's HEAD"
    assert f"- Base: {md_escape(shown)}: **" in (report / "report.md").read_text()
    assert f"<tr><th>Base</th><td>\n{escape(shown)}" in (report / "report.html").read_text()


def test_missing_patch_has_its_row_in_patch_order(report: Path) -> None:
    md = (report / "report.md").read_text()
    numbers = [int(m) for m in re.findall(r"^\| (\d+) \|", md, re.M)]
    assert numbers == list(range(1, 16))
    assert re.search(r"^\| 9 \| \*\*missing from the thread\*\* \|", md, re.M)
    html = (report / "report.html").read_text()
    matrix = html[html.index('<table id="matrix">'):]
    matrix = matrix[:matrix.index("</table>")]
    assert [int(m) for m in re.findall(r"<tr><td>(\d+)</td>", matrix)] == list(range(1, 16))


def test_checkpatch_on_moved_code_is_said_to_be_moved(v3_review: Review, tmp_path: Path) -> None:
    """v3 03/15 moves pte_offset_map_lock() & co from mm.h to pgtable.h: checkpatch's AVOID_BUG on a
    moved VM_BUG_ON_PAGE() is not the author's new code, and the reply draft must not ask to fix it."""
    from reviewtool.drafts import write_drafts

    view = build_view(v3_review)
    notes3 = [n for n in next(p for p in view.patches if p.counter == 3).findings() if n.kind == "checkpatch"]
    notes13 = [n for n in next(p for p in view.patches if p.counter == 13).findings() if n.kind == "checkpatch"]
    assert notes3 and all(n.moved and "on moved code" in n.title and n.severity == "info" for n in notes3)
    assert notes13 and not any(n.moved for n in notes13) and {n.severity for n in notes13} == {"warning"}
    drafts = {p.name[:4] for p in write_drafts(view, tmp_path, "Me <me@example.org>")}
    assert drafts == {"0000", "0006", "0011", "0013", "0014", "0015"}  # not 0003


def _probe(report: Path, tmp_path: Path, script: str) -> str:
    """What `script` (JavaScript, its last expression) gives on tmp_path/report.html as Chromium lays it out.
    The copy it runs in has the report's script-blocking policy removed; the report itself is untouched."""
    html = (report / "report.html").read_text()
    html = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", html)
    js = f"<script>document.title = String(eval({json.dumps(script)}));</script>"
    (tmp_path / "probe.html").write_text(html.replace("</body>", js + "</body>"))
    dom = dump_dom(tmp_path / "probe.html", tmp_path)
    return html_lib.unescape(re.search(r"<title>(.*?)</title>", dom, re.S).group(1))


def test_commit_message_is_monospace_like_its_ascii_diagrams(report: Path, tmp_path: Path) -> None:
    """v3 11/15 draws thread A / thread B columns with spaces: only a fixed-width font keeps them aligned."""
    family = _probe(report, tmp_path, "getComputedStyle(document.querySelector('#patch-11 .commit')).fontFamily")
    assert "monospace" in family, family
