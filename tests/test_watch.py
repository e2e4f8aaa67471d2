"""`reviewtool watch` on a real public-inbox, with the bundled threads delivered in posting order.

One inbox for the module (public-inbox-init -V2, mail delivered by
public-inbox-mda, ~0.7 s a message): the scenario fixture delivers v1, v2, v3
and the late robot report in batches with `watch --once` between them and
keeps what each step left; the later tests reuse the full inbox with fresh
output directories (HTTP mode, kills, SIGTERM). The stage cache makes the
repeated reviews of the same mails cheap.
"""
from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from public_inbox import PublicInbox, bundled_messages, date_of, posting_order
from test_report import dump_dom

pytestmark = pytest.mark.kernel

REVIEWTOOL = str(Path(sys.executable).with_name("reviewtool"))
FROM = "Watch Er <watcher@example.org>"
LATE_ROBOT = b"<202111112105.ExMahDDX-lkp@intel.com>"
V2_POSTED = 1629343129.0  # 2021-08-19 03:18:49 UTC, the v2 cover
V3_POSTED = 1636541653.0  # 2021-11-10 10:54:13 UTC, the v3 cover
MALFORMED = (b"Subject: [PATCH 1/2] no sender\nMessage-ID: <no-from-1@example.org>\n"
             b"Date: Thu, 11 Nov 2021 22:00:00 +0000\n\nThis mail has no From header.\n")


def watch(inbox: str | Path, out: Path, *args: str, timeout: float = 1800) -> subprocess.CompletedProcess[str]:
    return subprocess.run([REVIEWTOOL, "watch", str(inbox), "--out", str(out), "--from", FROM, *args],
                          capture_output=True, text=True, timeout=timeout, check=False)


def rows(out: Path, sql: str, *args: object) -> list[tuple]:
    with sqlite3.connect(out / "state.sqlite") as db:
        return db.execute(sql, args).fetchall()


def done_jobs(out: Path) -> dict[int, int]:
    """revision -> number of finished reviews."""
    return dict(rows(out, "SELECT s.revision, count(j.id) FROM series s LEFT JOIN jobs j ON j.series_id = s.id "
                          "AND j.state = 'done' GROUP BY s.id"))


def results(out: Path, revision: int) -> dict:
    (run_dir,) = rows(out, "SELECT run_dir FROM series WHERE revision = ?", revision)[0]
    return json.loads((Path(run_dir) / "results.json").read_text())


@pytest.fixture(scope="module")
def scenario(kernel_tree: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    base = tmp_path_factory.mktemp("watch")
    inbox = PublicInbox.create(base)
    out, maildir = base / "out", base / "drafts"
    mails = posting_order()
    v1 = [m for m in mails if date_of(m) < V2_POSTED]
    v2 = [m for m in mails if V2_POSTED <= date_of(m) < V3_POSTED]
    late = [m for m in mails if re.search(rb"(?mi)^Message-ID:\s*" + re.escape(LATE_ROBOT), m)]
    v3 = [m for m in mails if date_of(m) >= V3_POSTED and m not in late]
    assert (len(v1), len(v2), len(v3), len(late)) == (26, 35, 39, 1)
    seen: dict[str, object] = {"inbox": inbox, "out": out, "maildir": maildir}

    def step(name: str, batch: list[bytes], *args: str) -> None:
        for raw in batch:
            inbox.deliver(raw)
        proc = watch(inbox.path, out, "--once", *args)
        assert proc.returncode == 0, proc.stderr[-3000:]
        seen[name] = {"stderr": proc.stderr, "done": done_jobs(out),
                      "index": json.loads((out / "index.json").read_text())}

    step("v1", v1, "--grace", "3600", "--no-build", "--drafts-maildir", str(maildir))
    seen["v1-results"] = results(out, 1)
    step("v2-waiting", v2, "--grace", "3600", "--no-build")
    step("v2", [], "--grace", "0", "--no-build")
    step("v3", v3, "--grace", "0", "--no-build", "--drafts-maildir", str(maildir))
    step("late", [*late, MALFORMED], "--grace", "0", "--no-build", "--drafts-maildir", str(maildir))
    step("again", [], "--grace", "0", "--no-build")
    return seen


def test_each_version_reviewed_once_and_refreshed_by_the_late_robot_report(scenario: dict) -> None:
    assert scenario["v1"]["done"] == {1: 1}
    assert scenario["v2-waiting"]["done"] == {1: 1, 2: 0}  # v2 lacks 2/9: waits for the grace period
    assert scenario["v2"]["done"] == {1: 1, 2: 1}
    assert scenario["v3"]["done"] == {1: 1, 2: 1, 3: 1}
    assert scenario["late"]["done"] == {1: 1, 2: 1, 3: 2}  # only v3 got new mail
    assert scenario["again"]["done"] == {1: 1, 2: 1, 3: 2}  # nothing new: nothing reviewed
    assert "reviewing" not in scenario["again"]["stderr"]
    out = scenario["out"]
    v3 = results(out, 3)
    assert any(b["msgid"] == LATE_ROBOT.decode().strip("<>") for b in v3["series"]["bot_reports"])
    report = (Path(rows(out, "SELECT run_dir FROM series WHERE revision = 3")[0][0]) / "report.html").read_text()
    assert "is_huge_pmd" in report and "kernel test robot" in report


def test_incomplete_series_waits_then_names_the_missing_patch(scenario: dict) -> None:
    (waiting,) = [s for s in scenario["v2-waiting"]["index"]["series"] if s["revision"] == 2]
    assert waiting["status"].startswith("waiting for missing patches") and waiting["report"] == ""
    v2 = results(scenario["out"], 2)
    assert v2["series"]["missing"] == [2]
    (entry,) = [s for s in scenario["v2"]["index"]["series"] if s["revision"] == 2]
    assert entry["missing"] == [2] and entry["status"] == "reviewed"
    assert results(scenario["out"], 3)["series"]["missing"] == [9]


def test_earlier_versions_found_in_the_inbox(scenario: dict) -> None:
    out = scenario["out"]
    ids = dict(rows(out, "SELECT revision, id FROM series"))
    previous = {rev: json.loads(p) for rev, p in rows(out, "SELECT revision, previous FROM series")}
    assert previous == {1: [], 2: [ids[1]], 3: [ids[1], ids[2]]}
    assert scenario["v1-results"]["versions"] is None
    for rev, earlier in ((2, [1]), (3, [1, 2])):
        versions = results(out, rev)["versions"]
        assert [r["revision"] for r in versions["revisions"]] == [*earlier, rev]


def test_malformed_message_recorded_and_skipped(scenario: dict) -> None:
    out = scenario["out"]
    assert rows(out, "SELECT error FROM messages WHERE status = 'malformed'") == [("no From header",)]
    assert "malformed message skipped (no From header)" in scenario["late"]["stderr"]
    assert len(rows(out, "SELECT id FROM series")) == 3


def test_drafts_filed_into_the_maildir_once(scenario: dict) -> None:
    cur = scenario["maildir"] / "cur"
    names = sorted(p.name for p in cur.iterdir())
    assert names and all(n.endswith(":2,D") for n in names)
    # one copy per series and draft: the refreshed v3 replaced its copies instead of adding
    keys = [n.rsplit(".", 1)[0] for n in names]
    assert len(keys) == len(set(keys))
    first = (cur / names[0]).read_bytes()
    assert b"In-Reply-To:" in first and b"watcher@example.org" in first


def test_index_page_in_chromium(scenario: dict, tmp_path: Path) -> None:
    out = scenario["out"]
    data = json.loads((out / "index.json").read_text())
    assert [(s["revision"], s["status"], s["reviews"]) for s in data["series"]] == \
        [(1, "reviewed", 1), (2, "reviewed", 1), (3, "reviewed", 2)]
    v3 = data["series"][2]
    assert [v["revision"] for v in v3["versions"]] == [1, 2, 3]
    assert v3["findings_by_kind"]["bot-report"] >= 1 and v3["seconds_last_patch_to_report"] >= 0
    dom = dump_dom(out / "index.html", tmp_path)
    assert dom.count('<tr id="series-') == 3
    assert "v1</a> → <a" in dom and "<b>v3</b>" in dom and "missing: 09/15" in dom
    for s in data["series"]:
        assert (out / s["report"]).is_file()
        assert f'href="{s["report"]}"' in dom


def test_http_mode_reads_the_same(scenario: dict, tmp_path: Path) -> None:
    with scenario["inbox"].serve() as url:
        proc = watch(url, tmp_path / "out", "--once", "--grace", "0", "--no-build")
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert done_jobs(tmp_path / "out") == {1: 1, 2: 1, 3: 1}
        assert rows(tmp_path / "out", "SELECT count(*) FROM messages") == \
            rows(scenario["out"], "SELECT count(*) FROM messages")
        wrong = watch(url.rsplit("/", 1)[0] + "/no-such-list", tmp_path / "wrong", "--once")
    assert wrong.returncode == 2 and "not a public-inbox (HTTP 404" in wrong.stderr


def _session(pid: int) -> list[str]:
    """Command lines of the processes in the session of `pid` (the watcher and its git/make children)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and int((proc / "stat").read_text().rsplit(")", 1)[1].split()[3]) == pid:
                found.append((proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"))
        except (OSError, IndexError, ValueError):
            pass
    return found


def _kill_when(args: list[str], ready: Callable[[subprocess.Popen], bool]) -> None:
    """Start the watcher, SIGKILL its whole session (as systemd would) once `ready` is true."""
    proc = subprocess.Popen([REVIEWTOOL, "watch", *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 600
        while not ready(proc):
            assert proc.poll() is None, "the watcher ended before the kill"
            assert time.monotonic() < deadline
            time.sleep(0.01)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def test_sigkill_during_fetch_and_review_then_restart(scenario: dict, tmp_path: Path) -> None:
    out = tmp_path / "out"
    with scenario["inbox"].serve() as url:
        common = [url, "--out", str(out), "--from", FROM, "--once", "--grace", "0", "--no-build"]
        _kill_when(common, lambda p: any(" clone " in c or " fetch " in c for c in _session(p.pid)))
        assert not (out / "state.sqlite").exists() or rows(out, "SELECT count(*) FROM jobs") == [(0,)]

        def reviewing(p: subprocess.Popen) -> bool:
            return (out / "state.sqlite").exists() and bool(rows(out, "SELECT 1 FROM jobs WHERE state = 'running'"))
        _kill_when(common, reviewing)
        assert rows(out, "SELECT count(*) FROM jobs WHERE state = 'running'") == [(1,)]
        proc = watch(url, out, "--once", "--grace", "0", "--no-build")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "queued again" in proc.stderr
    assert done_jobs(out) == {1: 1, 2: 1, 3: 1}
    assert rows(out, "SELECT count(*) FROM jobs WHERE state != 'done'") == [(0,)]
    assert rows(out, "SELECT count(*) FROM messages") == rows(scenario["out"], "SELECT count(*) FROM messages")
    runs = sorted(p.name for p in (out / "runs").iterdir())
    assert len(runs) == 3 and not [r for r in runs if r.startswith(".")]


def test_a_series_built_for_one_arch_and_config(kernel_tree: Path, tmp_path: Path) -> None:
    """The one watch test that builds (x86_64/mm-off: tinyconfig, the patches' objects; the
    vmlinux builds are tested in test_kernel_build.py and test_review_overlap.py), on the local
    Dask cluster a watch without --scheduler starts."""
    inbox = PublicInbox.create(tmp_path)
    for raw in v1_posting():
        inbox.deliver(raw)
    proc = watch(inbox.path, tmp_path / "out", "--once", "--grace", "0", "--arch", "x86_64", "--config", "mm-off",
                 "--no-full-build", timeout=3600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    builds = results(tmp_path / "out", 1)["build"]
    assert [(b["arch"], b["config"]) for b in builds] == [("x86_64", "mm-off")]
    assert builds[0]["base"]["patch"] == 0
    # built on the watch's own local Dask cluster, started for its lifetime and gone with it
    assert "starting a local Dask cluster" in proc.stderr
    cluster = results(tmp_path / "out", 1)["cluster"]
    assert cluster["scheduler"].startswith("tcp://127.0.0.1:")
    assert [(t["arch"], t["config"]) for t in cluster["tasks"]] == [("x86_64", "mm-off")]
    assert "Traceback" not in proc.stderr and "UserWarning" not in proc.stderr  # Dask quiet


def v1_posting() -> list[bytes]:
    """The v1 cover letter and its 7 patches, without the replies."""
    return [m for m in bundled_messages("pte-v1") if re.search(rb"(?m)^Subject: \[PATCH \d/7\]", m)]


def _wait_for(proc: subprocess.Popen, log: Path, ready: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 900
    while not ready():
        assert proc.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
        time.sleep(0.1)


def test_sigterm_stops_a_review_and_the_polling_loop_cleanly(kernel_tree: Path, tmp_path: Path) -> None:
    inbox = PublicInbox.create(tmp_path)
    for raw in v1_posting():
        inbox.deliver(raw)
    out, log = tmp_path / "out", tmp_path / "stderr"
    cmd = [REVIEWTOOL, "watch", str(inbox.path), "--out", str(out), "--from", FROM, "--interval", "600",
           "--no-build", "--grace", "0"]
    with log.open("w") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
        _wait_for(proc, log, lambda: "(job 1)" in log.read_text())  # the review has started
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=120) == 0
    assert "stopped by SIGTERM; 1 interrupted review(s) run again at the next start" in log.read_text()
    assert rows(out, "SELECT state FROM jobs") == [("queued",)]
    with log.open("w") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
        _wait_for(proc, log, lambda: "next poll in 600 s" in log.read_text())
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    assert "stopped by SIGTERM" in log.read_text()
    assert done_jobs(out) == {1: 1}
    assert [p.name for p in (out / "runs").iterdir()] == ["free-user-pte-page-table-pages-v1-1"]


@pytest.mark.parametrize("inbox, expected", [
    ("{tmp}/nowhere", "no such directory, and not an http(s) URL"),
    ("{tmp}", "not a public-inbox v2 directory"),
    ("http://127.0.0.1:9/list/", "no answer"),
])
def test_wrong_inbox_is_one_line_exit_2(inbox: str, expected: str, tmp_path: Path) -> None:
    proc = watch(inbox.format(tmp=tmp_path), tmp_path / "out", "--once", "--timeout", "5")
    assert proc.returncode == 2 and not (tmp_path / "out").exists()
    assert proc.stderr.count("\n") == 1 and expected in proc.stderr and "Traceback" not in proc.stderr
