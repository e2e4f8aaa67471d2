"""A loopback public-inbox for the fetch tests: gzip mboxes served the way lore serves them.

public-inbox answers `GET /all/<quote_plus(msgid)>/t.mbox.gz` with the raw
gzip bytes (application/gzip, no Content-Encoding); handlers subclass
LoreHandler and answer with send_gzip().
"""
from __future__ import annotations

import contextlib
import gzip
import http.server
import threading
import urllib.parse
from collections.abc import Iterator


def thread_path(msgid: str) -> str:
    return f"/all/{urllib.parse.quote_plus(msgid)}/t.mbox.gz"


class LoreHandler(http.server.BaseHTTPRequestHandler):
    def send_gzip(self, raw: bytes) -> None:
        body = gzip.compress(raw)
        self.send_response(200)
        self.send_header("Content-Type", "application/gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@contextlib.contextmanager
def serving(handler: type[LoreHandler]) -> Iterator[str]:
    """http://127.0.0.1:PORT of a server running `handler` in a thread, for the with-block."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    worker = threading.Thread(target=server.serve_forever, daemon=True)
    worker.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
