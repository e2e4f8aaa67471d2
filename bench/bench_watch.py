#!/usr/bin/env python3
"""`reviewtool watch` on a real public-inbox: read rate, and time from a series' last patch to its report.

1. Replay: every mail of the bundled threads (v1, v2, v3: 101 messages) is
   delivered with public-inbox-mda into a fresh v2 inbox; then the watcher's
   reader (clone of the epoch, then reading the new commits into SQLite with
   b4's subject parsing) runs on it from scratch, several times: messages/s.
2. Latency: v1 without its last patch is delivered and watched (the series
   waits); then 7/7 is delivered and `reviewtool watch --once` runs as cron
   or the poll loop would: seconds from the mail entering the inbox to the
   job's report (poll interval not included). The posting gets its own
   Message-IDs and dates, so its stages miss the stage cache while the kernel
   tree, ccache and the build directory's base build stay warm, as on a
   watcher that has been running: with --no-build, and with one build
   (x86_64/mm-off; its first use ever also builds the base, see bench_build.py).

Not a test: run it by hand (5-15 minutes on 2 cores, most of it mail delivery and the build):
    .venv/bin/python bench/bench_watch.py [--no-build-only]
"""
from __future__ import annotations

import argparse
import re
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


def posting(variant: int) -> list[bytes]:
    """The v1 cover and patches, as a new posting: own Message-IDs and dates, so no stage is cached
    from an earlier run, while the kernel tree and the build directories stay warm."""
    mails = [m for m in bundled_messages("pte-v1") if b"76431-" in m.split(b"\n\n", 1)[0]
             and re.search(rb"(?m)^Subject: \[PATCH \d/7\]", m)]
    stamp = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime())
    return [re.sub(rb"(?m)^Date: .*$", f"Date: {stamp}".encode(), m).replace(
        b"20210718043034.76431-", f"20210718043034.{variant}.{int(time.time())}-".encode()) for m in mails]


def latency(base: Path, label: str, args: list[str], variant: int) -> None:
    base = base / "".join(c if c.isalnum() else "-" for c in label)
    inbox = PublicInbox.create(base)
    v1 = posting(variant)
    last = next(m for m in v1 if b"Subject: [PATCH 7/7]" in m)
    v1 = [m for m in v1 if m is not last] + [last]
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
        latency(base, "no-build, new posting", ["--no-build"], 1)
        if not args.no_build_only:
            latency(base, "build x86_64/mm-off, new posting", ["--arch", "x86_64", "--config", "mm-off"], 2)


if __name__ == "__main__":
    main()
