#!/usr/bin/env python3
"""`reviewtool watch` on a real public-inbox: read rate, and time from a series' last patch to its report.

1. Replay: every mail of the bundled threads (v1, v2, v3: 101 messages) is
   delivered with public-inbox-mda into a fresh v2 inbox; then the watcher's
   reader (clone of the epoch, then reading the new commits into SQLite with
   b4's subject parsing) runs on it from scratch, several times: messages/s.
2. Latency: v1 without its last patch is delivered and watched (the series
   waits); then 7/7 is delivered and `reviewtool watch --once` runs as cron
   or the poll loop would: seconds from the mail entering the inbox to the
   job's report (poll interval not included). Measured with --no-build on a
   fresh stage cache (cold) and again with the cache warm, and with one build
   (x86_64/mm-off) on a fresh cache: the base build included, the worst case.

Not a test: run it by hand (5-15 minutes on 2 cores, most of it mail delivery and the build):
    .venv/bin/python bench/bench_watch.py [--no-build-only]
"""
from __future__ import annotations

import argparse
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from public_inbox import PublicInbox, bundled_messages, posting_order  # noqa: E402

from reviewtool.jobs import JobOptions, LocalRunner  # noqa: E402
from reviewtool.watch.watcher import WatchConfig, Watcher  # noqa: E402

REVIEWTOOL = str(Path(sys.executable).with_name("reviewtool"))
FROM = "Bench <bench@example.org>"


def replay(base: Path, repeats: int) -> None:
    inbox = PublicInbox.create(base / "replay")
    mails = posting_order()
    started = time.monotonic()
    for raw in mails:
        inbox.deliver(raw)
    print(f"delivered {len(mails)} messages with public-inbox-mda: {len(mails) / (time.monotonic() - started):.1f}/s")
    for n in range(repeats):
        out = base / f"replay-out-{n}"
        out.mkdir()
        config = WatchConfig(str(inbox.path), out, grace=0, timeout=30,
                             job_options=JobOptions(cache_dir=str(base / "unused"), mail_from=FROM))
        watcher = Watcher(config, LocalRunner())
        t0 = time.monotonic()
        head = watcher.mirror.sync(0, str(inbox.path / "git" / "0.git"))
        t1 = time.monotonic()
        count = watcher.ingest(0, head)
        t2 = time.monotonic()
        watcher.plan()
        t3 = time.monotonic()
        watcher.close()
        print(f"replay {n + 1}: clone {t1 - t0:.2f} s, read {count} messages in {t2 - t1:.2f} s "
              f"({count / (t2 - t1):.0f} messages/s; {count / (t2 - t0):.0f}/s with the clone), "
              f"series detection and planning {t3 - t2:.2f} s")


def latency(base: Path, label: str, args: list[str]) -> None:
    base = base / "".join(c if c.isalnum() else "-" for c in label)
    inbox = PublicInbox.create(base)
    v1 = bundled_messages("pte-v1")
    last = next(m for m in v1 if b"Subject: [PATCH 7/7]" in m)
    out = base / "out"
    for raw in v1[:v1.index(last)]:
        inbox.deliver(raw)
    cmd = [REVIEWTOOL, "watch", str(inbox.path), "--out", str(out), "--from", FROM, "--once", "--grace", "3600",
           *args]
    subprocess.run(cmd, check=True, capture_output=True)
    inbox.deliver(last)
    entered = time.time()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"bench: {' '.join(cmd)} exited {proc.returncode}:\n{proc.stderr[-2000:]}")
    with sqlite3.connect(out / "state.sqlite") as db:
        finished, state = db.execute("SELECT finished_at, state FROM jobs").fetchone()
    print(f"{label}: last patch in the inbox -> report {finished - entered:.1f} s ({state})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--no-build-only", action="store_true", help="skip the latency with a build")
    parser.add_argument("--repeats", type=int, default=3, help="replays of the read (default: 3)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-watch-") as tmp:
        base = Path(tmp)
        replay(base, args.repeats)
        cold = base / "stage-cache"
        latency(base, "no-build, cold stage cache", ["--no-build", "--cache-dir", str(cold)])
        latency(base, "no-build, warm stage cache", ["--no-build", "--cache-dir", str(cold)])
        if not args.no_build_only:
            latency(base, "build x86_64/mm-off, cold stage cache and build directory",
                    ["--arch", "x86_64", "--config", "mm-off", "--cache-dir", str(base / "build-cache")])


if __name__ == "__main__":
    main()
