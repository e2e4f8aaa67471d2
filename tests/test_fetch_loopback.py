"""Fetch by Message-ID / lore URL through b4 from a loopback server that plays lore.

The server answers `GET /all/<quote_plus(msgid)>/t.mbox.gz` with the raw gzip
bytes of the bundled thread (application/gzip, no Content-Encoding), as
public-inbox does, and 404 for anything else.
"""
from __future__ import annotations

import dataclasses
import socket
import time
import urllib.parse
from collections.abc import Iterator

import pytest

from lore_server import LoreHandler, serving, thread_path
from series.assemble import assemble_series
from series.errors import SeriesInputError
from series.load import bundled_thread_path, load_thread

V3_COVER = "20211110105428.32458-1-zhengqi.arch@bytedance.com"
V3_PATCH_02 = "20211110105428.32458-3-zhengqi.arch@bytedance.com"


class _Lore(LoreHandler):
    threads: dict[str, bytes] = {}
    seen: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self.seen.append(self.path)
        for msgid, raw in self.threads.items():
            if self.path == thread_path(msgid):
                return self.send_gzip(raw)
        self.send_error(404)

    do_HEAD = do_GET


@pytest.fixture(scope="module")
def lore() -> Iterator[str]:
    """Base URL of a loopback public-inbox that holds the v3 thread under each of its messages."""
    raw = bundled_thread_path("pte-v3").read_bytes()
    _Lore.threads = {V3_COVER: raw, V3_PATCH_02: raw}
    with serving(_Lore) as url:
        yield url


@pytest.fixture(scope="module")
def local_v3():
    return assemble_series(load_thread(str(bundled_thread_path("pte-v3"))).messages)


def test_fetch_by_msgid_equals_local_mbox(lore: str, local_v3) -> None:
    _Lore.seen.clear()
    thread = load_thread(f"<{V3_COVER}>", midmask=f"{lore}/all/%s", timeout=10)
    assert _Lore.seen == [f"/all/{urllib.parse.quote_plus(V3_COVER)}/t.mbox.gz"]
    assert thread.raw == bundled_thread_path("pte-v3").read_bytes()
    assert thread.origin == f"{lore}/all/{V3_COVER}"
    fetched = assemble_series(thread.messages)
    assert dataclasses.asdict(fetched) == dataclasses.asdict(local_v3)
    assert (fetched.expected, len(fetched.patches), fetched.missing) == (15, 14, [9])


def test_fetch_by_lore_url_of_a_patch_gives_the_whole_series(lore: str, local_v3) -> None:
    thread = load_thread(f"{lore}/all/{V3_PATCH_02}/", timeout=10)
    assert dataclasses.asdict(assemble_series(thread.messages)) == dataclasses.asdict(local_v3)


def test_unknown_msgid_is_bad_input(lore: str) -> None:
    with pytest.raises(SeriesInputError, match=r"has no thread for <nothere@example.org> \(HTTP 404\)"):
        load_thread("nothere@example.org", midmask=f"{lore}/all/%s", timeout=10)


def test_server_that_never_answers_times_out() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)  # accepts connections (the kernel does), never replies
    port = listener.getsockname()[1]
    try:
        start = time.monotonic()
        with pytest.raises(SeriesInputError, match=r"did not answer .* within 1s"):
            load_thread(V3_COVER, midmask=f"http://127.0.0.1:{port}/all/%s", timeout=1)
        assert time.monotonic() - start < 15
    finally:
        listener.close()


def test_cli_by_msgid_prints_what_the_local_mbox_gives(lore: str) -> None:
    import subprocess
    import sys

    def show(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "reviewtool", "show", *args],
                              capture_output=True, text=True, timeout=120)

    fetched = show(V3_COVER, "--midmask", f"{lore}/all/%s", "--json")
    local = show("--bundled", "pte-v3", "--json")
    # v3 lacks 09/15, a finding for every command (reviewtool.findings): exit 1 both ways
    assert fetched.returncode == local.returncode == 1 and fetched.stdout == local.stdout and fetched.stdout
    missing = show("<nothere@example.org>", "--midmask", f"{lore}/all/%s")
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
    assert "reviewtool: error: " in missing.stderr and "HTTP 404" in missing.stderr
