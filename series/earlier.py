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


def find_earlier_revisions(messages: list[EmailMessage], newest: int, *, midmask: str | None = None,
                           timeout: float = 30.0) -> list[EmailMessage]:
    """The mails of revisions 1..newest-1 the server finds (none when it finds none or fails)."""
    if newest <= 1:
        return []
    with isolated_b4(midmask=midmask, network=True):
        node = b4.get_lore_node()
        # b4's own node, but with our bounded timeout and no cache (as series.load fetches).
        b4.LORENODE = liblore.LoreNode.from_git_config(
            node.url, cache_dir=None, request_timeout=(timeout, timeout), auto_probe=False,
        )
        print(f"reviewtool: looking for v1..v{newest - 1} on {node.url} (change-id, else subject + author)",
              file=sys.stderr)
        try:
            found = b4.mbox.get_extra_series(list(messages), direction=-1,
                                             wantvers=list(range(1, newest)), nocache=True)
        finally:
            b4.LORENODE.close()
    return found[len(messages):]
