"""The watcher's one record of what it saw and did, in SQLite.

Every step commits in one transaction with what it read (a batch of messages
together with the epoch's new last commit; a job together with the series'
content it reviews), so a watcher killed at any moment restarts from a
consistent state: messages are read once, and a job is done once per content
of its series (UNIQUE(series_id, content)). A job found `running` at start-up
was cut off by a kill and is queued again.
"""
from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS epochs (
    epoch INTEGER PRIMARY KEY,
    head TEXT NOT NULL               -- last commit read
);
CREATE TABLE IF NOT EXISTS messages (
    commit_sha TEXT NOT NULL,
    epoch INTEGER NOT NULL,
    blob TEXT NOT NULL,
    msgid TEXT,
    seen_at REAL NOT NULL,           -- when the watcher read it (grace and latency count from here)
    status TEXT NOT NULL,            -- ok | malformed | duplicate
    error TEXT NOT NULL DEFAULT '',
    kind TEXT NOT NULL DEFAULT '',   -- cover | patch | reply | other
    thread_root TEXT NOT NULL DEFAULT '',
    refs TEXT NOT NULL DEFAULT '[]', -- JSON: References + In-Reply-To, root first
    revision INTEGER NOT NULL DEFAULT 0,
    counter INTEGER NOT NULL DEFAULT 0,
    expected INTEGER NOT NULL DEFAULT 0,
    author TEXT NOT NULL DEFAULT '',
    subject TEXT NOT NULL DEFAULT '',
    series_id INTEGER,               -- cover and patches only
    PRIMARY KEY (epoch, commit_sha)
);
CREATE INDEX IF NOT EXISTS messages_msgid ON messages(msgid);
CREATE INDEX IF NOT EXISTS messages_root ON messages(thread_root);
CREATE TABLE IF NOT EXISTS series (
    id INTEGER PRIMARY KEY,
    thread_root TEXT NOT NULL,
    revision INTEGER NOT NULL,
    author TEXT NOT NULL,
    subject TEXT NOT NULL DEFAULT '', -- without [PATCH ...]: the cover's, else the lowest patch's
    expected INTEGER NOT NULL DEFAULT 0,
    change_id TEXT NOT NULL DEFAULT '',
    last_patch_at REAL NOT NULL DEFAULT 0,
    dirty INTEGER NOT NULL DEFAULT 1,  -- new mail since its last job was planned
    previous TEXT NOT NULL DEFAULT '[]', -- JSON: series ids of its earlier versions, oldest first
    run_dir TEXT NOT NULL DEFAULT '',
    UNIQUE (thread_root, revision, author)
);
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY,
    series_id INTEGER NOT NULL,
    content TEXT NOT NULL,           -- sha256 of the mails (and earlier versions) it reviews
    state TEXT NOT NULL,             -- queued | running | done | failed | superseded
    error TEXT NOT NULL DEFAULT '',
    missing TEXT NOT NULL DEFAULT '[]',
    messages INTEGER NOT NULL DEFAULT 0,
    queued_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL,
    findings INTEGER,
    by_kind TEXT NOT NULL DEFAULT '{}',
    mails TEXT NOT NULL DEFAULT '[]',          -- JSON [[epoch, blob], ...]: exactly what it reviews
    previous_mails TEXT NOT NULL DEFAULT '[]', -- the same per earlier version, oldest first
    UNIQUE (series_id, content)
);
"""


class State:
    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(path, isolation_level=None, timeout=30)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(SCHEMA)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """All or nothing, also when a signal or a kill lands inside."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def rows(self, sql: str, *args: object) -> list[sqlite3.Row]:
        return self.db.execute(sql, args).fetchall()

    def epoch_head(self, epoch: int) -> str | None:
        row = self.db.execute("SELECT head FROM epochs WHERE epoch = ?", (epoch,)).fetchone()
        return row["head"] if row else None

    def requeue_interrupted(self) -> int:
        """Jobs a killed watcher left running go back to the queue (called with the state lock held)."""
        with self.transaction() as db:
            return db.execute("UPDATE jobs SET state = 'queued', started_at = NULL "
                              "WHERE state = 'running'").rowcount

    def requeue(self, job_id: int) -> None:
        """A job whose cluster was lost under it: queued again, as if never started."""
        with self.transaction() as db:
            db.execute("UPDATE jobs SET state = 'queued', started_at = NULL WHERE id = ?", (job_id,))

    def job_started(self, job_id: int) -> None:
        with self.transaction() as db:
            db.execute("UPDATE jobs SET state = 'running', started_at = ? WHERE id = ?", (time.time(), job_id))

    def close(self) -> None:
        self.db.close()
