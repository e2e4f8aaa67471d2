"""Find the earlier revisions of a series on its public-inbox server, the way `b4 diff` does.

b4 asks the server for the series' change-id, or else for its subject and
author within the year before it (`b4.mbox.get_extra_series`); the search
answers with whole threads. Only used when the series itself came from the
network: offline input names its revisions itself.

A series re-sent under a new title, or restarted as a new RFC at v1, has
neither: `find_predecessor_by_content` then asks for the author's postings
touching the same files in that year (public-inbox's `f:` and `dfn:`) and
keeps the latest one that shares functions or changed lines with it. That
link is inferred, and the report says so.
"""
from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from email.message import EmailMessage

import b4
import b4.mbox
import liblore

from series.assemble import assemble_series
from series.b4env import isolated_b4
from series.errors import SeriesInputError
from series.model import Series
from series.versions import author_email, posting_date, posting_key, revision_links

MAX_FILES_ASKED = 5  # dfn: terms in one search; the first files of a series say enough
# How many revisions back to ask for: `newest` comes from mail ("[PATCH v99999999999]"),
# and b4 wants the list of numbers spelled out.
MAX_LOOKBACK = 64


@contextlib.contextmanager
def _server(midmask: str | None, timeout: float) -> Iterator[str]:
    """b4's lore node with our bounded timeout and no cache (as series.load fetches); yields its URL."""
    with isolated_b4(midmask=midmask, network=True):
        node = b4.get_lore_node()
        b4.LORENODE = liblore.LoreNode.from_git_config(
            node.url, cache_dir=None, request_timeout=(timeout, timeout), auto_probe=False,
        )
        try:
            yield node.url
        finally:
            b4.LORENODE.close()


def find_earlier_revisions(messages: list[EmailMessage], newest: int, *, midmask: str | None = None,
                           timeout: float = 30.0) -> list[EmailMessage]:
    """The mails of revisions 1..newest-1 the server finds (none when it finds none or fails);
    at most the MAX_LOOKBACK revisions before `newest`."""
    if newest <= 1:
        return []
    first = max(1, newest - MAX_LOOKBACK)
    with _server(midmask, timeout) as url:
        print(f"reviewtool: looking for v{first}..v{newest - 1} on {url} (change-id, else subject + author)"
              + (f"; not before v{first}: at most {MAX_LOOKBACK} revisions back" if first > 1 else ""),
              file=sys.stderr)
        found = b4.mbox.get_extra_series(list(messages), direction=-1,
                                         wantvers=list(range(first, newest)), nocache=True)
    return found[len(messages):]


def find_predecessor_by_content(newest: Series, *, midmask: str | None = None,
                                timeout: float = 30.0) -> list[EmailMessage]:
    """The thread of the author's latest earlier posting that shares content with `newest`, or [].

    For a re-titled re-post or a new RFC, which b4's change-id and subject
    search cannot find.
    """
    files = list(dict.fromkeys(f.path for p in newest.patches for f in p.files))[:MAX_FILES_ASKED]
    date = datetime.fromisoformat(posting_date(newest)) if posting_date(newest) else None
    if not files or date is None:
        return []
    since = (date - timedelta(days=365)).strftime("%Y%m%d")
    files_q = " OR ".join(f'dfn:"{path}"' for path in files)
    query = f'(f:"{author_email(newest.author)}" AND ({files_q})) AND d:{since}..{date.strftime("%Y%m%d")}'
    with _server(midmask, timeout) as url:
        print(f"reviewtool: looking on {url} for an earlier posting by the same author on the same files",
              file=sys.stderr)
        found = b4.get_pi_search_results(query, nocache=True) or []
    best: tuple[datetime, list[EmailMessage]] | None = None
    for thread in _threads(found):
        try:
            candidate = assemble_series(thread)
        except SeriesInputError:
            continue  # not a patch series
        when = datetime.fromisoformat(posting_date(candidate)) if posting_date(candidate) else None
        if posting_key(candidate) == posting_key(newest) or when is None or when >= date:
            continue
        try:
            revision_links(sorted([candidate, newest], key=lambda s: (s.revision, posting_date(s))))
        except SeriesInputError:
            continue  # same author and files, but nothing else in common
        if best is None or when > best[0]:
            best = (when, thread)
    return best[1] if best else []


def _threads(messages: list[EmailMessage]) -> list[list[EmailMessage]]:
    """Search results split into threads, by following In-Reply-To up to the root."""
    by_id = {b4.LoreMessage.get_clean_msgid(m) or "": m for m in messages}
    parent = {msgid: b4.LoreMessage.get_clean_msgid(m, header="In-Reply-To") or "" for msgid, m in by_id.items()}
    groups: dict[str, list[EmailMessage]] = {}
    for msgid, m in by_id.items():
        root, seen = msgid, set()
        while parent.get(root, "") in by_id and root not in seen:
            seen.add(root)
            root = parent[root]
        groups.setdefault(root, []).append(m)
    return list(groups.values())
