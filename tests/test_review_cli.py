"""`reviewtool review` end to end on the bundled v3 thread and the real 6.1 tree.

Builds are left to tests/test_kernel_build*.py (they are the slow part); here
every other stage runs for real, through the installed console command.
"""
from __future__ import annotations

import email
import email.policy
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from reviewtool.model import read_review, to_json

pytestmark = pytest.mark.kernel


def _review(out: Path, cache: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["reviewtool", "review", "--bundled", "pte-v3",
         "--previous", "bundled:pte-v2", "--no-build", "--from", "Rev Iewer <rev@example.org>",
         "--out", str(out), "--cache-dir", str(cache), *extra],
        capture_output=True, text=True, timeout=1200, check=False,
        env={**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"})


@pytest.fixture(scope="module")
def run(kernel_tree: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    """One review run on the session's managed tree, with a stage cache of its own."""
    cache = tmp_path_factory.mktemp("stage-cache")
    out = tmp_path_factory.mktemp("review") / "run"
    proc = _review(out, cache)
    assert proc.returncode == 1, proc.stderr[-3000:]  # v3 has checkpatch warnings: findings
    return out, cache, proc.stderr


def test_run_directory_is_complete(run: tuple[Path, Path, str]) -> None:
    out, _, _ = run
    for name in ("thread.mbox", "results.json", "report.html", "report.md",
                 "versions/versions.html", "drafts/0000-cover.eml"):
        assert (out / name).is_file(), name
    assert not (out / "worktree").exists(), "the worktree must be removed at the end"
    bundled = Path(__file__).parents[1] / "series" / "threads" / "pte-v3.mbox"
    assert (out / "thread.mbox").read_bytes() == bundled.read_bytes()
    assert 'href="versions/versions.html"' in (out / "report.html").read_text()


def test_results_record_every_stage(run: tuple[Path, Path, str]) -> None:
    results = json.loads((run[0] / "results.json").read_text())
    assert results["series"]["missing"] == [9]
    statuses = {p["counter"]: p["status"] for p in results["apply"]["patches"]}
    assert sorted(statuses) == [n for n in range(1, 16) if n != 9]
    assert statuses[1] == "failed"  # filemap_map_pmd() differs in 6.1
    assert {statuses[8], statuses[12], statuses[14]} == {"clean"}
    assert results["apply"]["base"]["source"] == "head"
    assert "next-20211108" in results["apply"]["base"]["warning"]
    assert [c["patch"] for c in results["checkpatch"]] == [f"{n:02d}/15" for n in statuses]
    assert any(f["type"] == "SPDX_LICENSE_TAG" for c in results["checkpatch"] for f in c["findings"])
    assert len(results["pairscan"]) == 14
    assert results["build"] is None and results["skipped"]["build"] == "--no-build"
    assert [r["revision"] for r in results["versions"]["revisions"]] == [2, 3]


def test_drafts_thread_under_the_patches(run: tuple[Path, Path, str]) -> None:
    out = run[0]
    results = json.loads((out / "results.json").read_text())
    msgids = {p["counter"]: p["msgid"] for p in results["series"]["patches"]}
    drafts = sorted((out / "drafts").glob("00[0-9][1-9]-*.eml"))
    assert drafts
    for path in drafts:
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        counter = int(path.name[:4])
        assert msg["In-Reply-To"] == f"<{msgids[counter]}>"
        assert msg["From"] == "Rev Iewer <rev@example.org>"
        assert msg["To"] == "Qi Zheng <zhengqi.arch@bytedance.com>"


def test_rerun_takes_stages_from_the_cache(run: tuple[Path, Path, str], tmp_path: Path) -> None:
    _, cache, first = run
    assert "checkpatch: 14 patches (0 cached)" in first
    proc = _review(tmp_path / "again", cache)
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert "checkpatch:" not in proc.stderr  # every patch's checkpatch result came from the cache
    again = json.loads((tmp_path / "again" / "results.json").read_text())
    first_results = json.loads((run[0] / "results.json").read_text())
    for stage in ("series", "apply", "checkpatch", "pairscan", "comments"):
        assert again[stage] == first_results[stage], stage
    # Nothing changed, so no worktree was made and nothing re-applied.
    assert "apply  1:" in first and "apply  1:" not in proc.stderr
    stages = {t["stage"]: t for t in again["timings"]}
    assert "worktree" not in stages and stages["checkpatch"]["detail"] == "14 of 14 cached"
    assert "time: checkpatch" in proc.stderr
    # The earlier versions and the diffs' highlighting come from the cache too, unchanged.
    assert "diff: reading " in first and "diff: reading " not in proc.stderr
    html = [(d / "report.html").read_text() for d in (run[0], tmp_path / "again")]
    assert html[0].count('<span class="') == html[1].count('<span class="') > 1000
    assert html[0].split('id="patch-1"')[1][:20000] == html[1].split('id="patch-1"')[1][:20000]


def test_timings_name_every_stage_that_ran(run: tuple[Path, Path, str]) -> None:
    results = json.loads((run[0] / "results.json").read_text())
    stages = [t["stage"] for t in results["timings"]]
    for stage in ("thread", "series", "comments", "worktree", "apply", "checkpatch", "pair scan",
                  "versions", "report", "drafts"):
        assert stage in stages, stage
    assert all(t["seconds"] >= 0 and isinstance(t["detail"], str) for t in results["timings"])
    apply = next(t for t in results["timings"] if t["stage"] == "apply")
    worktree = next(t for t in results["timings"] if t["stage"] == "worktree")
    assert apply["seconds"] >= worktree["seconds"]  # the worktree was taken inside the apply stage


def test_results_json_is_the_typed_review(run: tuple[Path, Path, str]) -> None:
    path = run[0] / "results.json"
    review = read_review(path)
    assert to_json(review) == path.read_text()  # nothing lost or reshaped on the way back
    assert review.skipped == {"build": "--no-build", "coverage": "--no-build"} and review.build is None
    assert [t.stage for t in review.timings][-2:] == ["report", "drafts"]  # results.json is written last
    missing = [f for f in review.findings if f.kind == "missing-patch"]
    assert [(f.title, f.counts) for f in missing] == [("patches not in the thread: missing 9 of 15", True)]


def test_report_command_renders_the_run_again_and_refuses_another_schema(run: tuple[Path, Path, str],
                                                                          tmp_path: Path) -> None:
    copy = tmp_path / "run"
    copy.mkdir()
    (copy / "results.json").write_text((run[0] / "results.json").read_text())
    again = subprocess.run(["reviewtool", "report", str(copy)], capture_output=True, text=True, timeout=300,
                           env={**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"})
    assert again.returncode == 1, again.stderr  # the same findings as the review
    # the same report, but for the time table: the review wrote it before the report and drafts stages ended
    assert _without_timings((copy / "report.md").read_text()) == _without_timings((run[0] / "report.md").read_text())
    old = json.loads((copy / "results.json").read_text())
    old["schema_version"] = 0
    (copy / "results.json").write_text(json.dumps(old))
    refused = subprocess.run(["reviewtool", "report", str(copy)], capture_output=True, text=True, timeout=300,
                             env={**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"})
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert refused.stderr.strip().splitlines() == [
        f"reviewtool: error: {copy / 'results.json'}: schema_version 0, this reviewtool reads 1; "
        "re-run the review with this version"]
    (copy / "results.json").unlink()  # not a results.json of this schema: kept from the schema check


def _without_timings(markdown: str) -> str:
    return re.sub(r"(?ms)^### Time per stage\n.*?\n\n", "", markdown)
