"""A public-inbox v2 read the way mirrors read it: its git epochs, cloned once, then fetched.

A v2 inbox keeps its mail in epochs `git/0.git`, `git/1.git` ...; each
message is one commit whose tree holds the mail as the blob `m` (a purged
message is a commit with `d`). Over HTTP, public-inbox serves the epoch list as
a grokmirror manifest (`URL/manifest.js.gz`) and each epoch as a git
repository at `URL/N`. The watcher keeps bare mirrors of the epochs and reads
the commits after the last one it recorded, so nothing is skipped after
downtime and nothing is read twice.
"""
from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import git

from reviewtool.errors import ToolError, UsageError

_EPOCH_RE = re.compile(r"/git/(\d+)\.git$")


@dataclass
class NewMail:
    """One message commit of an epoch, in inbox order."""

    epoch: int
    commit: str
    blob: str


def inbox_epochs(source: str, timeout: float) -> dict[int, str]:
    """Epoch number -> git URL or path of each epoch of the inbox `source` (a v2 directory or its URL)."""
    if source.startswith(("http://", "https://")):
        return _http_epochs(source.rstrip("/"), timeout)
    path = Path(source)
    if not path.is_dir():
        raise UsageError(f"INBOX {source}: no such directory, and not an http(s) URL")
    epochs = {int(p.name[:-4]): str(p.resolve()) for p in (path / "git").glob("*.git")
              if p.name[:-4].isdigit() and p.is_dir()}
    if not epochs:
        raise UsageError(f"INBOX {source}: not a public-inbox v2 directory (no git/N.git epochs in it)")
    return epochs


def _http_epochs(url: str, timeout: float) -> dict[int, str]:
    manifest = f"{url}/manifest.js.gz"
    try:
        with urllib.request.urlopen(manifest, timeout=timeout) as answer:
            data = json.loads(gzip.decompress(answer.read()))
    except urllib.error.HTTPError as exc:
        if exc.code < 500:
            raise UsageError(f"INBOX {url}: not a public-inbox (HTTP {exc.code} for manifest.js.gz)") from exc
        raise ToolError(f"INBOX {url}: the server failed (HTTP {exc.code} for manifest.js.gz)") from exc
    except urllib.error.URLError as exc:
        raise UsageError(f"INBOX {url}: no answer ({exc.reason}); check the URL and the network") from exc
    except (OSError, EOFError, ValueError) as exc:
        raise ToolError(f"INBOX {url}: unreadable manifest.js.gz ({exc})") from exc
    epochs = {int(m.group(1)): f"{url}/{m.group(1)}" for key in data if (m := _EPOCH_RE.search(key))}
    if not epochs:
        raise UsageError(f"INBOX {url}: its manifest lists no v2 epoch (a v1 inbox is not supported)")
    return epochs


class Mirror:
    """Bare mirrors of the epochs under one directory (DIR/N.git), only touched by one watcher."""

    def __init__(self, directory: Path, timeout: float) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        # a stalled HTTP transfer fails instead of hanging the watcher
        self.env = {"GIT_TERMINAL_PROMPT": "0", "GIT_HTTP_LOW_SPEED_LIMIT": "1",
                    "GIT_HTTP_LOW_SPEED_TIME": str(max(1, int(timeout)))}
        self._repos: dict[int, git.Repo] = {}

    def path(self, epoch: int) -> Path:
        return self.directory / f"{epoch}.git"

    def sync(self, epoch: int, url: str) -> str:
        """Clone (first time) or fetch one epoch; returns its head commit."""
        path = self.path(epoch)
        try:
            if not (path / "HEAD").is_file():
                tmp = self.directory / f".{epoch}.git.tmp"
                shutil.rmtree(tmp, ignore_errors=True)  # a clone killed half-way
                git.Repo.clone_from(url, tmp, mirror=True, env=self.env)
                tmp.rename(path)
            else:
                _remove_stale_locks(path)  # a fetch killed half-way leaves *.lock behind
                self.repo(epoch).git.fetch("--prune", "origin", env=self.env)
            return self.repo(epoch).git.rev_parse("HEAD")
        except git.GitCommandError as exc:
            raise ToolError(f"git {'fetch' if path.exists() else 'clone'} of epoch {epoch} from {url} "
                            f"failed: {exc.stderr.strip() or exc}") from exc

    def repo(self, epoch: int) -> git.Repo:
        if epoch not in self._repos:
            self._repos[epoch] = git.Repo(self.path(epoch))
        return self._repos[epoch]

    def new_mail(self, epoch: int, since: str | None, head: str) -> Iterator[NewMail]:
        """The message commits after `since` up to `head`, oldest first (purges skipped)."""
        span = f"{since}..{head}" if since else head
        out = self.repo(epoch).git.log("--reverse", "--format=commit %H", "--raw", "--no-abbrev",
                                       "--no-renames", span, "--", "m")
        commit = ""
        for line in out.splitlines():
            if line.startswith("commit "):
                commit = line[7:]
            elif line.startswith(":") and line.endswith("\tm"):
                fields = line.split()
                if fields[4] in ("A", "M"):
                    yield NewMail(epoch, commit, fields[3])

    def read(self, epoch: int, blob: str) -> bytes:
        return self.repo(epoch).odb.stream(bytes.fromhex(blob)).read()

    def close(self) -> None:
        for repo in self._repos.values():
            repo.close()
        self._repos.clear()


def _remove_stale_locks(path: Path) -> None:
    for lock in [*path.glob("*.lock"), *(path / "refs").rglob("*.lock")]:
        os.unlink(lock)
