"""One watch cycle: fetch the epochs, read new mail into the state, plan reviews, run them, write the index.

    inbox epochs (git fetch) -> new messages -> SQLite -> series (b4 subjects)
    -> complete, or grace period over -> earlier versions -> job -> runner
    -> run directory + index page + drafts into a Maildir

Each step is a transaction on the state (reviewtool.watch.state), so a kill
between or inside steps loses nothing and repeats nothing: a restart reads
from the last recorded commit, plans from the dirty series, and re-runs the
jobs that were running. A job whose Dask scheduler went away is queued
again (ClusterLost), not failed.
"""
from __future__ import annotations

import hashlib
import json
import sqlite3
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from reviewtool.drafts import slug
from reviewtool.errors import ClusterLost
from reviewtool.jobs import JobOptions, JobResult, ReviewJob, Runner
from reviewtool.watch.detect import MailInfo, MalformedMail, as_mboxrd, parse_mail
from reviewtool.watch.inbox import Mirror, NewMail, inbox_epochs
from reviewtool.watch.index import findings_by_kind, write_index
from reviewtool.watch.maildir import file_drafts
from reviewtool.watch.state import State
from reviewtool.watch.versions import earlier_versions
from series.b4env import isolated_b4

BATCH = 500  # messages per transaction when reading an epoch


def say(message: str) -> None:
    print(f"reviewtool watch: {message}", file=sys.stderr, flush=True)


@dataclass
class WatchConfig:
    source: str  # v2 inbox directory or URL
    out: Path  # state.sqlite, mirror/, runs/, index.html, index.json
    grace: float  # seconds an incomplete series waits for its missing patches
    timeout: float
    job_options: JobOptions
    drafts_maildir: Path | None = None


class Watcher:
    def __init__(self, config: WatchConfig, runner: Runner) -> None:
        self.config = config
        self.runner = runner
        self.state = State(config.out / "state.sqlite")
        self.mirror = Mirror(config.out / "mirror", config.timeout)
        if requeued := self.state.requeue_interrupted():
            say(f"{requeued} review(s) cut off by an earlier stop: queued again")

    def cycle(self) -> None:
        epochs = inbox_epochs(self.config.source, self.config.timeout)
        for epoch, url in sorted(epochs.items()):
            say(f"fetching epoch {epoch} from {url}")
            self.ingest(epoch, self.mirror.sync(epoch, url))
        self.plan()
        self.run_queued()
        self.write_index()

    # --- read ---------------------------------------------------------------------------------
    def ingest(self, epoch: int, head: str) -> int:
        """Record the messages after the epoch's last recorded commit, BATCH per transaction."""
        since = self.state.epoch_head(epoch)
        if since == head:
            return 0
        started, count = time.monotonic(), 0
        batch = []
        for mail in self.mirror.new_mail(epoch, since, head):
            batch.append(mail)
            if len(batch) == BATCH:
                count += self._record(epoch, batch)
                batch = []
        if batch:
            count += self._record(epoch, batch)
        with self.state.transaction() as db:  # also when the last commits held no message (purges)
            db.execute("INSERT OR REPLACE INTO epochs VALUES (?, ?)", (epoch, head))
        say(f"epoch {epoch}: {count} new messages ({count / max(time.monotonic() - started, 1e-6):.0f}/s)")
        return count

    def _record(self, epoch: int, batch: list[NewMail]) -> int:
        now = time.time()
        with isolated_b4(), self.state.transaction() as db:
            for mail in batch:
                raw = self.mirror.read(epoch, mail.blob)
                try:
                    info = parse_mail(raw)
                except MalformedMail as exc:
                    say(f"epoch {epoch} commit {mail.commit[:12]}: malformed message skipped ({exc})")
                    db.execute("INSERT OR IGNORE INTO messages (commit_sha, epoch, blob, seen_at, status, error) "
                               "VALUES (?, ?, ?, ?, 'malformed', ?)", (mail.commit, epoch, mail.blob, now, str(exc)))
                    continue
                self._record_one(db, epoch, mail, info, now)
            db.execute("INSERT OR REPLACE INTO epochs VALUES (?, ?)", (epoch, batch[-1].commit))
        return len(batch)

    def _record_one(self, db: sqlite3.Connection, epoch: int, mail: NewMail, info: MailInfo, now: float) -> None:
        seen = db.execute("SELECT 1 FROM messages WHERE msgid = ? AND status = 'ok'", (info.msgid,)).fetchone()
        root = info.thread_root
        parent = db.execute("SELECT thread_root FROM messages WHERE msgid = ? AND status = 'ok'", (root,)).fetchone()
        if parent and parent["thread_root"]:
            root = parent["thread_root"]  # In-Reply-To without References: the parent's thread
        series_id = None
        if info.is_posting and not seen:
            series_id = self._series_for(db, root, info, now)
        db.execute("INSERT OR IGNORE INTO messages (commit_sha, epoch, blob, msgid, seen_at, status, kind, "
                   "thread_root, refs, revision, counter, expected, author, subject, series_id) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   (mail.commit, epoch, mail.blob, info.msgid, now, "duplicate" if seen else "ok", info.kind,
                    root, json.dumps(info.refs), info.revision, info.counter, info.expected, info.author,
                    info.subject, series_id))
        if not seen:
            db.execute("UPDATE series SET dirty = 1 WHERE thread_root = ?", (root,))

    def _series_for(self, db: sqlite3.Connection, root: str, info: MailInfo, now: float) -> int:
        row = db.execute("SELECT id, subject FROM series WHERE thread_root = ? AND revision = ? AND author = ?",
                         (root, info.revision, info.author)).fetchone()
        if row is None:
            return db.execute("INSERT INTO series (thread_root, revision, author, subject, expected, change_id, "
                              "last_patch_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                              (root, info.revision, info.author, info.subject, info.expected, info.change_id,
                               now)).lastrowid
        db.execute("UPDATE series SET expected = max(expected, ?), last_patch_at = ?, dirty = 1, "
                   "change_id = CASE WHEN change_id = '' THEN ? ELSE change_id END, "
                   "subject = CASE WHEN ? THEN ? ELSE subject END WHERE id = ?",
                   (info.expected, now, info.change_id, info.kind == "cover", info.subject, row["id"]))
        return row["id"]

    # --- plan ---------------------------------------------------------------------------------
    def series_mails(self, series_id: int) -> list[sqlite3.Row]:
        """The messages of one series: its cover and patches, and the replies to them."""
        (s,) = self.state.rows("SELECT * FROM series WHERE id = ?", series_id)
        rows = self.state.rows("SELECT * FROM messages WHERE thread_root = ? AND status = 'ok' ORDER BY rowid",
                               s["thread_root"])
        posting = {r["msgid"]: r["series_id"] for r in rows if r["series_id"]}
        mine = []
        for r in rows:
            owner = r["series_id"] or next((posting[ref] for ref in reversed(json.loads(r["refs"]))
                                            if ref in posting), None)
            if owner == series_id or (owner is None and r["revision"] == s["revision"]):
                mine.append(r)
        return mine

    def missing(self, series_id: int, mails: list[sqlite3.Row]) -> list[int]:
        (s,) = self.state.rows("SELECT expected FROM series WHERE id = ?", series_id)
        have = {r["counter"] for r in mails if r["kind"] == "patch"}
        return [n for n in range(1, s["expected"] + 1) if n not in have]

    def plan(self) -> None:
        """Queue a review for each dirty series that is complete or has waited out the grace period."""
        now = time.time()
        for s in self.state.rows("SELECT * FROM series WHERE dirty = 1 ORDER BY id"):
            mails = self.series_mails(s["id"])
            missing = self.missing(s["id"], mails)
            if missing and now - s["last_patch_at"] < self.config.grace:
                continue
            previous = earlier_versions(self.state, s["id"])
            own = [[r["epoch"], r["blob"]] for r in mails]
            earlier = [[[r["epoch"], r["blob"]] for r in self.series_mails(p)] for p in previous]
            content = hashlib.sha256(json.dumps([own, earlier]).encode()).hexdigest()
            with self.state.transaction() as db:
                new = db.execute("INSERT OR IGNORE INTO jobs (series_id, content, state, missing, messages, "
                                 "queued_at, mails, previous_mails) VALUES (?, ?, 'queued', ?, ?, ?, ?, ?)",
                                 (s["id"], content, json.dumps(missing), len(mails), now, json.dumps(own),
                                  json.dumps(earlier))).rowcount
                db.execute("UPDATE series SET dirty = 0, previous = ? WHERE id = ?", (json.dumps(previous), s["id"]))
                if new:
                    db.execute("UPDATE jobs SET state = 'superseded' WHERE series_id = ? AND state = 'queued' "
                               "AND content != ?", (s["id"], content))
                    for later in db.execute("SELECT id, previous FROM series WHERE author = ? AND revision > ?",
                                            (s["author"], s["revision"])).fetchall():
                        if s["id"] in json.loads(later["previous"]):
                            db.execute("UPDATE series SET dirty = 1 WHERE id = ?", (later["id"],))
            if new:
                label = f"v{s['revision']} {s['subject']!r}"
                say(f"queued {label}: {len(mails)} mails" + (f", missing {missing}" if missing else "")
                    + (f", earlier versions: series {previous}" if previous else ""))

    # --- run ----------------------------------------------------------------------------------
    def run_queued(self) -> None:
        queued = self.state.rows("SELECT jobs.*, series.subject, series.revision FROM jobs JOIN series "
                                 "ON series.id = jobs.series_id WHERE state = 'queued' ORDER BY jobs.id")
        jobs = []
        for row in queued:
            run_dir = self.config.out / "runs" / f"{slug(row['subject'], 'series')}-v{row['revision']}-{row['series_id']}"
            jobs.append(ReviewJob(
                key=str(row["id"]),
                thread_mbox=self._mbox(json.loads(row["mails"])),
                previous_mboxes=[self._mbox(m) for m in json.loads(row["previous_mails"])],
                run_dir=str(run_dir.resolve()), options=self.config.job_options))
        by_key = {j.key: j for j in jobs}
        labels = {str(row["id"]): f"v{row['revision']} {row['subject']!r}" for row in queued}

        def started(key: str) -> None:
            self.state.job_started(int(key))
            say(f"reviewing {labels[key]} (job {key})")
            self.write_index()
        for result in self.runner.run(jobs, started):
            if result.retry:  # the cluster is gone: every later job would fail the same way
                self.state.requeue(int(result.key))
                self.write_index()
                raise ClusterLost(f"{result.error}; job {result.key} ({labels[result.key]}) stays queued and "
                                  "runs once a scheduler answers at that address again")
            self._finish(result, Path(by_key[result.key].run_dir))

    def _mbox(self, mails: list[list]) -> bytes:
        return as_mboxrd([self.mirror.read(epoch, blob) for epoch, blob in mails])

    def _finish(self, result: JobResult, run_dir: Path) -> None:
        """Record a job's outcome; drafts are filed first, so a kill in between files them again
        (idempotent) rather than never."""
        job_id = int(result.key)
        (series_id,) = self.state.rows("SELECT series_id FROM jobs WHERE id = ?", job_id)[0]
        if result.ok and self.config.drafts_maildir:
            if filed := file_drafts(series_id, run_dir / "drafts", self.config.drafts_maildir):
                say(f"filed {filed} draft(s) into {self.config.drafts_maildir}")
        with self.state.transaction() as db:
            db.execute("UPDATE jobs SET state = ?, error = ?, finished_at = ?, findings = ?, by_kind = ? "
                       "WHERE id = ?", ("done" if result.ok else "failed", result.error, time.time(),
                                        result.findings if result.ok else None,
                                        json.dumps(findings_by_kind(result.results) if result.ok else {}), job_id))
            if result.ok:
                db.execute("UPDATE series SET run_dir = ? WHERE id = ?", (str(run_dir), series_id))
        say(f"job {job_id}: " + (f"done, {result.findings} findings" if result.ok else f"failed: {result.error}"))
        self.write_index()

    def write_index(self) -> None:
        write_index(self.state, self.config.out, self.config.source, self.config.grace)

    def close(self) -> None:
        self.mirror.close()
        self.state.close()
