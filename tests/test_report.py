"""report.html / report.md from a real thread, checked in headless Chromium.

The hostile thread is made here from a real patch mail of the bundled v3
thread (copies changed with the email package; the bundled files are never
edited): its mail text must show up as text and never run.
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

from reviewtool.report import build_context, count_findings, fence, md_escape, write_report
from series.assemble import assemble_series
from series.comments import extract_comments
from series.load import bundled_thread_path, load_thread
from series.model import Series

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
                (tag == "a" and not (a.get("href") or "").startswith(("#", "https://lore.kernel.org/r/"))):
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


def _results(series: Series) -> dict:
    cp_path, cp_line, _ = _first_added(series, 2)
    ps_path, ps_line, _ = _first_added(series, 6)
    b_path, b_line, _ = _first_added(series, 3)
    diag = {"file": b_path, "line": b_line, "column": 5, "severity": "error",
            "message": "implicit declaration of function 'pte_offset_map_lock'", "flag": ""}
    def built(n: int, arch: str) -> dict:
        return {"patch": n, "arch": arch, "config": "tinyconfig+mm", "target": "objects",
                "status": "errors" if n == 3 else "ok", "partial": False,
                "errors": [diag] if n == 3 else [], "new_warnings": []}
    tip_warning = {"file": "mm/memory.c", "line": 77, "column": 1, "severity": "warning",
                   "message": "'pte_free_defer' defined but not used", "flag": "-Wunused-function"}
    builds = [{"arch": arch, "config": "tinyconfig+mm", "missing_options": ["CONFIG_FREE_USER_PTE"] if arch == "arm64" else [],
               "base": built(0, arch), "patches": [built(n, arch) for n in (1, 2, 3)],
               "tip": {**built(15, arch), "target": "vmlinux", "status": "new-warnings", "errors": [diag],
                       "new_warnings": [tip_warning]} if arch == "x86_64" else None}
              for arch in ("x86_64", "arm64")]  # as kernel.model.SeriesBuild
    return {
        "meta": {"tool_version": "0.1.0", "run_time": "2026-11-25T21:00:00Z", "source": "bundled pte-v3",
                 "arguments": ["review", "--bundled", "pte-v3"]},
        "series": dataclasses.asdict(series),
        "comments": [dataclasses.asdict(c) for c in extract_comments(series)],
        "apply": {"base": {"commit": "f" * 40, "describe": "v6.1", "source": "head", "wanted": "",
                           "warning": "series base next-20211108 not in the tree"},
                  "patches": [{"counter": p.counter, "subject": p.subject,
                               "status": "clean" if p.counter < 4 else "failed", "commit": "",
                               "files": [], "applied_files": [],
                               "failed": [] if p.counter < 4 else
                               [{"file": p.files[0].path, "hunk": p.files[0].hunks[0].text.splitlines()[0],
                                 "reason": "context does not match"}]}
                              for p in series.patches]},
        "build": builds,
        "checkpatch": [{"patch": "02/15", "level": "WARNING", "type": "LONG_LINE", "file": cp_path, "line": cp_line,
                        "message": "line length of 101 exceeds 100 columns"},
                       {"patch": 2, "level": "CHECK", "type": "CAMELCASE", "file": "", "line": 0,
                        "message": "Avoid CamelCase"}],
        "pairscan": {"findings": [{"patch": 6, "file": ps_path, "line": ps_line, "function": "pte_alloc_get",
                                   "kind": "leak", "message": "returns without pte_put()",
                                   "confidence": "high", "path": ["pte_try_get() succeeded"]}]},
        "versions": {"status": "skipped", "reason": "no earlier revision given"},
    }


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
    raise AssertionError(f"no row {text!r} in patch {counter}")


def test_report_of_real_thread(tmp_path: Path) -> None:
    series = v3()
    results = _results(series)
    paths = write_report(results, tmp_path)
    assert [p.name for p in paths] == ["report.html", "report.md"]
    html = (tmp_path / "report.html").read_text()
    page = parse(html)
    assert page.resources == []  # self-contained: nothing loaded, no links off lore
    assert set(page.local_links) <= page.ids  # every overview link lands on a detail
    assert {f"patch-{p.counter}" for p in series.patches} <= set(page.local_links)

    dom = dump_dom(tmp_path / "report.html", tmp_path)
    text = re.sub(r"<[^>]+>", " ", dom)
    assert "14 of 15 present" in text and "missing: 9" in text
    assert "series base next-20211108 not in the tree" in text
    assert "versions (no earlier revision given)" in text
    # build matrix: patch x arch x config
    for cell in ("x86_64/tinyconfig+mm", "arm64/tinyconfig+mm"):
        assert f"<th>{cell}</th>" in dom
    assert dom.count('<td class="st-errors">errors</td>') == 2  # patch 3 on both arches
    assert '<td class="st-new-warnings">new-warnings</td>' in dom  # the tip row (x86_64 only)
    assert "arm64/tinyconfig+mm: not set after olddefconfig: CONFIG_FREE_USER_PTE" in text
    tip = dom[dom.index('id="tip-build"'):]
    assert "'pte_free_defer' defined but not used [-Wunused-function]" in tip
    assert "mm/memory.c:77" in tip

    # reviewers' comment under the line it quotes: "+.. _pte_ref:" of patch 14
    row = _row_id(dom, 14, "+.. _pte_ref:")
    _row_then_note(dom, row, "Do you need this label anywhere?")
    _row_then_note(dom, row, "I will remove this label in the next version.")
    # the findings at their lines
    _, _, cp_text = _first_added(series, 2)
    _row_then_note(dom, _row_id(dom, 2, cp_text), "line length of 101 exceeds 100 columns")
    _, _, ps_text = _first_added(series, 6)
    _row_then_note(dom, _row_id(dom, 6, ps_text), "returns without pte_put()")
    _, _, b_text = _first_added(series, 3)
    row3 = _row_id(dom, 3, b_text)
    _row_then_note(dom, row3, "implicit declaration of function")
    _row_then_note(dom, row3, "x86_64/tinyconfig+mm, arm64/tinyconfig+mm")  # merged across builds
    # the overview's finding list links to the row holding the finding
    assert f'href="#{row3}"' in dom
    # one box per mail and place: Jason's paragraphs on the cover letter read together
    first = dom.index("So, this approach basically adds two atomics")
    assert dom.index("Compared to two atomics per PTE") < dom.index('<div class="note', first)
    # syntax highlighting from pygments
    assert '<span class="k">' in dom or '<span class="kt">' in dom

    assert count_findings(results) == (
        1  # missing patch 9
        + sum(1 for p in series.patches if p.counter >= 4)  # failed to apply
        + 2  # build errors (x86_64, arm64); the tip's same error is not counted twice
        + 1  # the tip's new warning
        + 1  # checkpatch warning (CHECK not counted)
        + 1  # pair scan
    )


def test_version_report_parts(tmp_path: Path) -> None:
    series = v3()
    path, line, text = _first_added(series, 14)
    results = {"meta": {"tool": "reviewtool 0.1.0", "started": "2026-11-25T21:00:00+00:00"},
               "series": dataclasses.asdict(series), "comments": [],
               "versions": {"revisions": [{"revision": 2, "expected": 9, "present": 8, "date": "2021-08-19T03:18:00"},
                                          {"revision": 3, "expected": 15, "present": 14, "date": "2021-11-10T10:54:13"}],
                            "pairings": [{"old_revision": 2, "new_revision": 3,
                                          "old_patches": [{"counter": 6, "subject": "mm: free user PTE page table pages"}],
                                          "new_patches": [{"counter": 6, "subject": "mm: introduce refcount"},
                                                          {"counter": 7, "subject": "mm/pte_ref: allocation"}],
                                          "groups": [{"kind": "split", "old": [6], "new": [6, 7], "note": ""}]}],
                            "open_comments": [{"new_patch": 14, "new_path": path, "new_line": line,
                                               "text": "Still no index.rst entry?", "author": "Jonathan Corbet",
                                               "msgid": "x@y", "old_revision": 2, "confidence": "high"}]}}
    write_report(results, tmp_path)
    html = (tmp_path / "report.html").read_text()
    assert "v2 (8/9 patches, 2021-08-19), v3 (14/15 patches, 2021-11-10)" in html
    assert "<td>split</td>" in html and "reviewtool 0.1.0, run 2026-11-25T21:00:00+00:00" in html
    # the pairing names the patches, not only their numbers
    assert "<td>6/9 mm: free user PTE page table pages</td>" in html
    assert "<td>6/15 mm: introduce refcount<br>7/15 mm/pte_ref: allocation</td>" in html
    assert ("| 6/9 mm: free user PTE page table pages | 6/15 mm: introduce refcount; 7/15 mm/pte\\_ref: allocation |"
            in (tmp_path / "report.md").read_text())
    _row_then_note(html, _row_id(html, 14, text), "Still no index.rst entry?")
    _row_then_note(html, _row_id(html, 14, text), "still open from v2: Jonathan Corbet")
    assert count_findings(results) == 1  # open comments are not findings; the missing patch is


def test_pair_finding_placed_on_its_acquire_despite_worktree_line_offsets() -> None:
    series = v3()
    patch = next(p for p in series.patches if p.counter == 11)
    fc = next(f for f in patch.files if f.path == "mm/hmm.c")
    header = fc.hunks[0].text.splitlines()[0]
    finding = {"file": "mm/hmm.c", "hunk": header, "line": 393, "function": "hmm_vma_walk_pmd", "kind": "leak",
               "acquire": "pte_tryget_map", "acquire_line": 384, "confidence": "high",
               "message": "returns at line 393 after pte_tryget_map() at line 384 without pte_put()"}
    results = {"series": dataclasses.asdict(series), "pairscan": [{"patch": 11, "findings": [finding]}]}
    view = next(p for p in build_context(results)["patches"] if p.counter == 11)
    placed = [(dl.sign + dl.text, n.where) for f in view.files for h in f.hunks for dl in h.lines
              for n in dl.notes if n.kind == "pairscan"]
    assert placed == [("+\tptep = pte_tryget_map(pmdp, addr);", "mm/hmm.c:393")]


def test_pair_finding_notes_say_whose_line_numbers_they_are(tmp_path: Path) -> None:
    """The scan's lines are the worktree's; its note saying so must reach the report and the draft,
    or the author looks for 'line 384' in their own numbering."""
    from reviewtool.drafts import write_drafts

    series = v3()
    fc = next(f for f in next(p for p in series.patches if p.counter == 11).files if f.path == "mm/hmm.c")
    note = "line numbers are the post-image's on this tree; the patch numbers them +2"
    finding = {"file": "mm/hmm.c", "hunk": fc.hunks[0].text.splitlines()[0], "line": 393,
               "function": "hmm_vma_walk_pmd", "kind": "leak", "acquire": "pte_tryget_map", "acquire_line": 384,
               "confidence": "high", "message": "returns at line 393 after pte_tryget_map() at line 384 without "
               "pte_put()", "notes": [note]}
    results = {"series": dataclasses.asdict(series), "pairscan": [{"patch": 11, "findings": [finding]}],
               "apply": {"base": {"commit": "f" * 40, "describe": "v6.1", "source": "base-commit"}, "patches": []}}
    write_report(results, tmp_path)
    assert f"note: {note}" in (tmp_path / "report.md").read_text()
    (draft,) = [p for p in write_drafts(results, series, tmp_path, "Me <me@example.org>") if p.name.startswith("0011")]
    assert "note: line numbers are the post-image's on this tree; the patch" in " ".join(draft.read_text().split())


def test_skipped_and_absent_stages_are_named(tmp_path: Path) -> None:
    series = v3()
    results = {"meta": {}, "series": dataclasses.asdict(series), "comments": [],
               "build": {"status": "skipped", "reason": "no cross compiler for arm64"}}
    write_report(results, tmp_path)
    for name in ("report.html", "report.md"):
        out = (tmp_path / name).read_text()
        assert "build (no cross compiler for arm64)" in out
        assert "apply (not run)" in out and "checkpatch (not run)" in out and "pairscan (not run)" in out
    assert count_findings(results) == 1  # only the missing patch


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


def test_hostile_mail_is_shown_as_text_and_never_runs(tmp_path: Path) -> None:
    series = assemble_series(_hostile_messages())
    comments = extract_comments(series)
    assert any(EVIL_SCRIPT in c.text for c in comments)
    results = {"meta": {"source": EVIL_SUBJECT}, "series": dataclasses.asdict(series),
               "comments": [dataclasses.asdict(c) for c in comments]}
    write_report(results, tmp_path)
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
    assert "<script" not in outside and "<img" not in outside and "](javascript:" not in outside
    assert re.findall(r"<(?!https://lore\.kernel\.org/r/)", outside) == []  # only our autolinks
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


def test_md_escape() -> None:
    assert md_escape("<b>&[x](javascript:y)|`") == "&lt;b&gt;&amp;\\[x\\](javascript:y)\\|\\`"


def test_overview_tells_apart_robot_errors_and_groups_same_findings(tmp_path: Path) -> None:
    """The robot's three is_huge_pmd errors on 02/15 read the same; only their file:line and the
    robot's ">>" tell them apart. Hunks failing for the same reason are one line with each place."""
    series = v3()
    patch7 = next(p for p in series.patches if p.counter == 7)
    hunks = [(fc.path, h) for fc in patch7.files for h in fc.hunks][:3]
    results = {"series": dataclasses.asdict(series),
               "apply": {"base": {"commit": "f" * 40, "describe": "v6.1", "source": "head"},
                         "patches": [{"counter": 7, "status": "partial",
                                      "failed": [{"file": path, "hunk": h.text.splitlines()[0],
                                                  "reason": "context does not match"} for path, h in hunks]}]}}
    write_report(results, tmp_path)
    md = (tmp_path / "report.md").read_text()
    listed = md[md.index("### Findings"):md.index("## [1/15]")]
    robot = [line for line in listed.splitlines() if "kernel test robot" in line and line.startswith("- 2/15")]
    assert len(robot) == 3
    for path in ("mm/memory.c:1149", "mm/mprotect.c:260", "mm/mremap.c:535"):
        assert sum(f"&gt;&gt; {path}:" in line for line in robot) == 1, path
    apply = [line for line in listed.splitlines() if line.startswith("- 7/15 hunk does not apply")]
    assert len(apply) == 1 and "3 places: " in apply[0]
    assert all(f"{md_escape(path)}:{h.target_start}" in apply[0] for path, h in hunks)
    html = (tmp_path / "report.html").read_text()
    items = re.findall(r'<li class="sev-[a-z]+">(.*?)</li>', html, re.S)
    (apply_item,) = [i for i in items if "7/15</a> hunk does not apply" in i]
    assert len(re.findall(r'<a href="#patch-7-f\d+-h\d+-l0">', apply_item)) == 3  # each hunk linked


def test_notes_in_the_diff_have_no_blank_lines_around_them(tmp_path: Path) -> None:
    """Notes sit in a cell of the diff table, whose code cells keep white space: the template's
    line breaks around a note must not show as empty lines above and below it."""
    series = v3()
    write_report(_results(series), tmp_path)
    measured = _probe(tmp_path, "const td = document.querySelector('tr.notes td'); const n = td.querySelector('.note');"
                                "const t = n.querySelector('.title');"
                                "[td.getBoundingClientRect().height - n.getBoundingClientRect().height,"
                                " t.getBoundingClientRect().top - n.getBoundingClientRect().top].join(' ')")
    cell_extra, title_offset = map(float, measured.split())
    assert cell_extra < 28, cell_extra  # padding and margins (19 px), no empty lines (38 px with them)
    assert title_offset < 8, title_offset  # the note starts with its title, not an empty line


@pytest.mark.parametrize(("base", "shown"), [
    ({"commit": "34f48ff8da49" + "0" * 28, "describe": "34f48ff", "source": "head"}, "34f48ff8da49, the tree's HEAD"),
    ({"commit": "830b3c68c1fb" + "0" * 28, "describe": "v6.1", "source": "base-commit"},
     "v6.1 (830b3c68c1fb), the series' base-commit"),
])
def test_base_is_named_once_and_in_words(tmp_path: Path, base: dict, shown: str) -> None:
    """A describe that is only the abbreviated hash is not repeated; "from head" is said in words."""
    results = {"series": dataclasses.asdict(v3()), "apply": {"base": base, "patches": []}}
    write_report(results, tmp_path)
    md = (tmp_path / "report.md").read_text()
    assert f"- Base: {md_escape(shown)}\n" in md
    assert f"<tr><th>Base</th><td>\n{escape(shown)}" in (tmp_path / "report.html").read_text()


def test_missing_patch_has_its_row_in_patch_order(tmp_path: Path) -> None:
    write_report({"series": dataclasses.asdict(v3())}, tmp_path)
    md = (tmp_path / "report.md").read_text()
    numbers = [int(m) for m in re.findall(r"^\| (\d+) \|", md, re.M)]
    assert numbers == list(range(1, 16))
    assert re.search(r"^\| 9 \| \*\*missing from the thread\*\* \|", md, re.M)
    html = (tmp_path / "report.html").read_text()
    matrix = html[html.index('<table id="matrix">'):]
    matrix = matrix[:matrix.index("</table>")]
    assert [int(m) for m in re.findall(r"<tr><td>(\d+)</td>", matrix)] == list(range(1, 16))


def test_checkpatch_on_moved_code_is_said_to_be_moved(tmp_path: Path) -> None:
    """v3 03/15 moves pte_offset_map_lock() & co from mm.h to pgtable.h: checkpatch's AVOID_BUG on a
    moved VM_BUG_ON_PAGE() is not the author's new code, and the reply draft must not ask to fix it."""
    from reviewtool.drafts import write_drafts

    series = v3()
    patch3 = next(p for p in series.patches if p.counter == 3)
    fc = next(f for f in patch3.files if f.path == "include/linux/pgtable.h")
    moved = "\tVM_BUG_ON_PAGE(*(unsigned long *)&page->ptl, page);"
    line = fc.hunks[0].target_start + [ln[1:] for ln in fc.hunks[0].text.splitlines()[1:]].index(moved)
    new_path, new_line, _ = _first_added(series, 6)  # a line 06/15 writes
    results = {"series": dataclasses.asdict(series),
               "apply": {"base": {"commit": "f" * 40, "describe": "v6.1", "source": "base-commit"}, "patches": []},
               "checkpatch": [{"patch": "03/15", "level": "WARNING", "type": "AVOID_BUG", "file": fc.path,
                               "line": line, "message": "Do not crash the kernel"},
                              {"patch": "06/15", "level": "WARNING", "type": "AVOID_BUG", "file": new_path,
                               "line": new_line, "message": "Do not crash the kernel"}]}
    ctx = build_context(results)
    (note3,) = [n for n in next(p for p in ctx["patches"] if p.counter == 3).findings() if n.kind == "checkpatch"]
    (note6,) = [n for n in next(p for p in ctx["patches"] if p.counter == 6).findings() if n.kind == "checkpatch"]
    assert note3.moved and "on moved code" in note3.title and note3.severity == "info"
    assert not note6.moved and note6.severity == "warning"
    drafts = {p.name[:4] for p in write_drafts(results, series, tmp_path, "Me <me@example.org>")}
    assert drafts == {"0000", "0006"}


def _probe(tmp_path: Path, script: str) -> str:
    """What `script` (JavaScript, its last expression) gives on tmp_path/report.html as Chromium lays it out.
    The copy it runs in has the report's script-blocking policy removed; the report itself is untouched."""
    html = (tmp_path / "report.html").read_text()
    html = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", html)
    js = f"<script>document.title = String(eval({json.dumps(script)}));</script>"
    (tmp_path / "probe.html").write_text(html.replace("</body>", js + "</body>"))
    dom = dump_dom(tmp_path / "probe.html", tmp_path)
    return html_lib.unescape(re.search(r"<title>(.*?)</title>", dom, re.S).group(1))


def test_commit_message_is_monospace_like_its_ascii_diagrams(tmp_path: Path) -> None:
    """v3 11/15 draws thread A / thread B columns with spaces: only a fixed-width font keeps them aligned."""
    write_report({"series": dataclasses.asdict(v3())}, tmp_path)
    family = _probe(tmp_path, "getComputedStyle(document.querySelector('#patch-11 .commit')).fontFamily")
    assert "monospace" in family, family
