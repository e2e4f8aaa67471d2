"""Find the earlier revisions of a series on its public-inbox server, the way `b4 diff` does.

b4 asks the server for the series' change-id, or else for its subject and
author within the year before it (`b4.mbox.get_extra_series`); the search
answers with whole threads. Only used when the series itself came from the
network: offline input names its revisions itself.
"""
from __future__ import annotations

import sys
from email.message import EmailMessage

import b4
import b4.mbox
import liblore

from series.b4env import isolated_b4

# How many revisions back to ask for: `newest` comes from mail ("[PATCH v99999999999]"),
# and b4 wants the list of numbers spelled out.
MAX_LOOKBACK = 64


def find_earlier_revisions(messages: list[EmailMessage], newest: int, *, midmask: str | None = None,
                           timeout: float = 30.0) -> list[EmailMessage]:
    """The mails of revisions 1..newest-1 the server finds (none when it finds none or fails);
    at most the MAX_LOOKBACK revisions before `newest`."""
    if newest <= 1:
        return []
    first = max(1, newest - MAX_LOOKBACK)
    with isolated_b4(midmask=midmask, network=True):
        node = b4.get_lore_node()
        # b4's own node, but with our bounded timeout and no cache (as series.load fetches).
        b4.LORENODE = liblore.LoreNode.from_git_config(
            node.url, cache_dir=None, request_timeout=(timeout, timeout), auto_probe=False,
        )
        print(f"reviewtool: looking for v{first}..v{newest - 1} on {node.url} (change-id, else subject + author)"
              + (f"; not before v{first}: at most {MAX_LOOKBACK} revisions back" if first > 1 else ""),
              file=sys.stderr)
        try:
            found = b4.mbox.get_extra_series(list(messages), direction=-1,
                                             wantvers=list(range(first, newest)), nocache=True)
        finally:
            b4.LORENODE.close()
    return found[len(messages):]
