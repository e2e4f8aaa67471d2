"""Earlier revisions found on a loopback public-inbox the way b4 diff finds them."""
from __future__ import annotations

import json
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest

from lore_server import LoreHandler, serving, thread_path
from reviewtool.cli import main
from series.load import bundled_thread_path

V3_COVER = "20211110105428.32458-1-zhengqi.arch@bytedance.com"


class _Lore(LoreHandler):
    """Thread by Message-ID (GET t.mbox.gz) and search (POST ?x=m&t=1&q=...), as public-inbox answers."""

    queries: list[str] = []
    search_hits = True

    def do_GET(self) -> None:  # noqa: N802
        if self.path == thread_path(V3_COVER):
            return self.send_gzip(bundled_thread_path("pte-v3").read_bytes())
        self.send_error(404)

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query).get("q", [""])[0]
        self.queries.append(query)
        wanted = 's:"Free user PTE page table pages"' in query and 'f:"zhengqi.arch@bytedance.com"' in query
        if not (wanted and self.search_hits):
            return self.send_error(404)
        self.send_gzip(b"".join(bundled_thread_path(f"pte-v{n}").read_bytes() for n in (1, 2)))


@pytest.fixture()
def lore() -> Iterator[str]:
    _Lore.queries = []
    _Lore.search_hits = True
    with serving(_Lore) as url:
        yield f"{url}/all/%s"


def test_earlier_revisions_found_by_subject_and_author(lore: str, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["diff", V3_COVER, "--midmask", lore, "--out", str(tmp_path), "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    report = json.loads(out)
    assert [v["revision"] for v in report["revisions"]] == [1, 2, 3]
    assert "d:20201110..20211110" in _Lore.queries[0]  # b4's one-year window before v3
    assert "looking for v1..v2" in err
    offline = json.loads((lambda: (main(["diff", "--bundled", "pte-v1", "--bundled", "pte-v2", "--bundled",
                                         "pte-v3", "--out", str(tmp_path / "off"), "--json"]),
                                   capsys.readouterr().out)[1])())
    assert report["pairings"] == offline["pairings"]


def test_nothing_found_online_is_a_clear_error(lore: str, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    _Lore.search_hits = False
    code = main(["diff", V3_COVER, "--midmask", lore, "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2
    assert "need at least two revisions of a series to compare, got only v3" in err
    assert "Traceback" not in err
