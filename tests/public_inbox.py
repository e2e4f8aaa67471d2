"""A real public-inbox (Debian's `public-inbox`) for the watch tests and bench/bench_watch.py.

    inbox = PublicInbox.create(tmp_path)          # public-inbox-init -V2, spamcheck off
    inbox.deliver(raw_message)                    # public-inbox-mda --no-precheck
    with inbox.serve() as url: ...                # public-inbox-httpd on 127.0.0.1, stopped after
    posting_order()                               # the bundled threads' mails, oldest first
"""
from __future__ import annotations

import contextlib
import email.utils
import os
import re
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from series.load import bundled_thread_path

ADDRESS = "watch-test@example.org"
NAME = "watch-test"


@dataclass
class PublicInbox:
    path: Path  # the v2 inbox directory (INBOX for `reviewtool watch`)
    env: dict[str, str]

    @classmethod
    def create(cls, base: Path) -> "PublicInbox":
        config = base / "pi-config"
        home = base / "pi-home"
        home.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "PI_CONFIG": str(config), "HOME": str(home), "ORIGINAL_RECIPIENT": ADDRESS}
        subprocess.run(["git", "config", "-f", str(config), "publicinboxmda.spamcheck", "none"], check=True)
        path = base / "inbox"
        subprocess.run(["public-inbox-init", "-V2", NAME, str(path), f"http://127.0.0.1/{NAME}", ADDRESS],
                       env=env, check=True, capture_output=True)
        return cls(path, env)

    def deliver(self, raw: bytes) -> None:
        done = subprocess.run(["public-inbox-mda", "--no-precheck"], input=raw, env=self.env,
                              capture_output=True, timeout=120)
        assert done.returncode == 0, done.stderr.decode(errors="replace")

    @contextlib.contextmanager
    def serve(self) -> Iterator[str]:
        """http://127.0.0.1:PORT/NAME served by public-inbox-httpd for the with-block."""
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        log = open(self.path.parent / "httpd.log", "wb")
        proc = subprocess.Popen(["public-inbox-httpd", "-l", f"http://127.0.0.1:{port}"], env=self.env,
                                stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}/{NAME}"
        try:
            for _ in range(200):
                with contextlib.suppress(OSError):
                    urllib.request.urlopen(f"{url}/manifest.js.gz", timeout=5).close()
                    break
                assert proc.poll() is None, (self.path.parent / "httpd.log").read_text()
                time.sleep(0.1)
            yield url
        finally:
            proc.terminate()
            proc.wait(timeout=30)
            log.close()


def bundled_messages(name: str) -> list[bytes]:
    """The messages of a bundled thread, each as delivered mail (mboxrd From lines undone)."""
    raw = bundled_thread_path(name).read_bytes()
    parts = re.split(rb"(?m)^From mboxrd@z[^\n]*\n", raw)
    return [re.sub(rb"(?m)^>(>*From )", rb"\1", p) for p in parts if p.strip()]


def date_of(raw: bytes) -> float:
    match = re.search(rb"(?mi)^Date:[ \t]*(.+)$", raw)
    return email.utils.parsedate_to_datetime(match.group(1).decode()).timestamp()


def posting_order(names: tuple[str, ...] = ("pte-v1", "pte-v2", "pte-v3")) -> list[bytes]:
    """Every mail of the bundled threads in the order they were posted."""
    return sorted((m for n in names for m in bundled_messages(n)), key=date_of)
