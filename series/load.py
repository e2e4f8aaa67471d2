"""Get a thread's mails: from a local mbox or maildir, stdin, or a public-inbox server.

Whatever the source, the result is the same `Thread`: parsed messages (b4's
mboxrd splitting and de-duplication) plus the raw mboxrd bytes, which the run
directory keeps as the record of what was reviewed.
"""
from __future__ import annotations

import gzip
import io
import pathlib
import re
import sys
import zlib
from dataclasses import dataclass, field
from email.message import EmailMessage
from importlib import resources

import b4
import liblore

from series.b4env import isolated_b4
from series.errors import SeriesFetchError, SeriesInputError
from series.mailguard import MAX_INPUT_BYTES, guard_messages

BUNDLED_PACKAGE = "series"  # the mail layer ships its own sample threads: nothing reaches up into reviewtool
BUNDLED_DIR = "threads"

# A Message-ID as people paste it: "<local@domain>" or "local@domain", no spaces.
_MSGID_RE = re.compile(r"^<?[^\s<>/@]+@[^\s<>/@]+>?$")


@dataclass
class Thread:
    """The mails of one thread, as read or fetched."""

    messages: list[EmailMessage]
    raw: bytes  # mboxrd bytes as read/fetched (maildir: written out as mboxrd)
    origin: str  # path, "stdin", or the URL asked
    warnings: list[str] = field(default_factory=list)  # mails repaired or left out (series.mailguard)


def bundled_thread_path(name: str) -> pathlib.Path:
    """The packaged thread `name` ("pte-v3" -> series/threads/pte-v3.mbox)."""
    if not re.fullmatch(r"[A-Za-z0-9._-]+", name):
        raise SeriesInputError(f"bad bundled thread name {name!r}")
    path = resources.files(BUNDLED_PACKAGE).joinpath(BUNDLED_DIR, f"{name}.mbox")
    if not path.is_file():
        known = ", ".join(bundled_thread_names()) or "none"
        raise SeriesInputError(f"no bundled thread {name!r} (bundled: {known})")
    return pathlib.Path(str(path))


def bundled_thread_names() -> list[str]:
    folder = resources.files(BUNDLED_PACKAGE).joinpath(BUNDLED_DIR)
    return sorted(p.name[: -len(".mbox")] for p in folder.iterdir() if p.name.endswith(".mbox"))


def load_thread(source: str, *, midmask: str | None = None, timeout: float = 30.0) -> Thread:
    """Read `source`: an mbox path, a maildir, "-" (stdin), a Message-ID or a lore URL.

    `midmask` (a `https://host/list/%s` template) overrides the user's
    `b4.midmask` for Message-IDs; a URL names its own server. What the mail
    guard repaired or left out is said on stderr (and kept in `warnings`).
    """
    thread = _read_thread(source, midmask=midmask, timeout=timeout)
    for warning in thread.warnings:
        print(f"reviewtool: warning: {thread.origin}: {warning}", file=sys.stderr)
    return thread


def _read_thread(source: str, *, midmask: str | None, timeout: float) -> Thread:
    if source == "-":
        return _thread_from_bytes(sys.stdin.buffer.read(MAX_INPUT_BYTES + 1), "stdin")
    path = pathlib.Path(source)
    if path.exists():
        if path.is_dir():
            return _thread_from_maildir(path)
        try:
            with path.open("rb") as fh:
                raw = fh.read(MAX_INPUT_BYTES + 1)
        except OSError as exc:
            raise SeriesInputError(f"cannot read {source}: {exc.strerror}") from exc
        return _thread_from_bytes(raw, str(path))
    if source.startswith(("http://", "https://")) or _MSGID_RE.match(source):
        return _fetch_thread(source, midmask=midmask, timeout=timeout)
    raise SeriesInputError(f"{source}: no such file, and not a Message-ID or URL")


def _thread_from_bytes(raw: bytes, origin: str) -> Thread:
    _check_size(raw, origin)
    if not raw.strip():
        raise SeriesInputError(f"{origin}: empty input, no mail in it")
    mbox = raw.lstrip(b"\r\n")
    if not mbox.startswith(b"From "):
        # A single mail (.eml, git format-patch output without the From line)
        # is accepted as a one-message mbox; anything else is not mail.
        mbox = b"From mboxrd@z Thu Jan  1 00:00:00 1970\n" + _mboxrd_escape(mbox)
    with isolated_b4():
        messages = b4.split_and_dedupe_pi_results(mbox)
    messages, warnings = _accept(messages, origin)
    return Thread(messages=messages, raw=raw, origin=origin, warnings=warnings)


def _thread_from_maildir(path: pathlib.Path) -> Thread:
    if not b4.is_maildir(str(path)):
        raise SeriesInputError(f"{path}: a directory but not a maildir (needs cur/, new/, tmp/)")
    with isolated_b4():
        messages = b4.get_msgs_from_mailbox_or_maildir(str(path))
        if not messages:
            raise SeriesInputError(f"{path}: empty maildir, no mail in it")
        messages, warnings = _accept(messages, str(path))
        buf = io.BytesIO()
        b4.save_mboxrd_mbox(messages, buf, mangle_from=True)
    _check_size(buf.getvalue(), str(path))
    return Thread(messages=messages, raw=buf.getvalue(), origin=str(path), warnings=warnings)


def _fetch_thread(source: str, *, midmask: str | None, timeout: float) -> Thread:
    with isolated_b4(midmask=midmask, network=True):
        msgid = b4.parse_msgid(source)  # may re-point midmask at the URL's server
        node = b4.get_lore_node()
        # Same node b4 would use, but with our bounded timeout and no cache.
        node = liblore.LoreNode.from_git_config(
            node.url, cache_dir=None, request_timeout=(timeout, timeout), auto_probe=False,
        )
        url = f"{node.url}/{msgid}"
        print(f"reviewtool: fetching {url}", file=sys.stderr)
        try:
            raw = node.get_mbox_by_msgid(msgid, nocache=True)
        except liblore.RemoteError as exc:
            # No answer at all is reported like bad input (exit 2, as the issue's
            # acceptance asks): the server named is wrong or unreachable.
            # A server that answers with an error is an infrastructure failure.
            if exc.status_code is None:
                refused = "Connection refused" in str(exc.__cause__ or exc)
                raise SeriesInputError(
                    f"{node.url} " + ("refused the connection" if refused else "did not answer")
                    + f" for <{msgid}>" + ("" if refused else f" within {timeout:g}s")
                    + " (check --midmask / b4.midmask and the network)"
                ) from exc
            if exc.status_code < 500:
                raise SeriesInputError(
                    f"{node.url} has no thread for <{msgid}> (HTTP {exc.status_code})"
                ) from exc
            raise SeriesFetchError(f"{node.url} failed for <{msgid}>: {exc}") from exc
        except (OSError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
            raise SeriesFetchError(f"{url}: the server sent a broken mbox.gz: {exc}") from exc
        except liblore.LibloreError as exc:
            raise SeriesFetchError(f"{url}: {exc}") from exc
        finally:
            node.close()
        _check_size(raw, url)
        messages, warnings = guard_messages(b4.split_and_dedupe_pi_results(raw))
        strict = b4.get_strict_thread(messages, msgid) if messages else None
    if not strict:
        raise SeriesInputError(f"{url}: the server's answer holds no mail of that thread")
    _check_messages(strict, url)
    return Thread(messages=strict, raw=raw, origin=url, warnings=warnings)


def _mboxrd_escape(raw: bytes) -> bytes:
    return re.sub(rb"(?m)^(>*From )", rb">\1", raw)


def _check_size(raw: bytes, origin: str) -> None:
    if len(raw) > MAX_INPUT_BYTES:
        raise SeriesInputError(f"{origin}: more than {MAX_INPUT_BYTES >> 20} MiB of mail: refused")


def _accept(messages: list[EmailMessage], origin: str) -> tuple[list[EmailMessage], list[str]]:
    """The mails made safe to read (series.mailguard) and its warnings; refuse what is not mail."""
    messages, warnings = guard_messages(messages)
    if not messages and warnings:
        raise SeriesInputError(f"{origin}: no mail left to read: {warnings[-1]}")
    _check_messages(messages, origin)
    return messages, warnings


def _check_messages(messages: list[EmailMessage], origin: str) -> None:
    """Refuse what is not mail: every message needs a Message-ID and a From."""
    if not messages:
        raise SeriesInputError(f"{origin}: not mail (no message with a Message-ID in it)")
    for index, msg in enumerate(messages, 1):
        if msg.defects and not msg.keys():
            raise SeriesInputError(f"{origin}: message {index} is not mail ({msg.defects[0]})")
        if not msg.get("Message-ID") or not msg.get("From"):
            raise SeriesInputError(
                f"{origin}: message {index} is not mail (no Message-ID or From header)"
            )
