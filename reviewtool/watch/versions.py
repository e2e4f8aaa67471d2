"""Earlier versions of a series, found in the same inbox without anyone naming them.

Like `b4 diff`: the same author and the b4 change-id when both postings have
one, else the same subject without its [PATCH vN] prefix (b4 strips RFC and
RESEND too). A re-titled series still counts when at least half of its patch
subjects were in the earlier posting. Of several postings of one revision
(a RESEND, an RFC then a PATCH) the latest is taken. The chain continues
through the nearest earlier version found, so a v4 that only shares its
change-id with v3 still gets v1 and v2.
"""
from __future__ import annotations

from reviewtool.watch.state import State


def earlier_versions(state: State, series_id: int) -> list[int]:
    """Series ids of the earlier revisions, oldest first."""
    (me,) = state.rows("SELECT * FROM series WHERE id = ?", series_id)
    mine = _patch_subjects(state, series_id)
    chosen: dict[int, int] = {}
    for other in state.rows("SELECT * FROM series WHERE author = ? AND revision < ? ORDER BY id",
                            me["author"], me["revision"]):
        if me["change_id"] and other["change_id"]:
            same = me["change_id"] == other["change_id"]
        else:
            theirs = _patch_subjects(state, other["id"])
            same = (me["subject"].lower() == other["subject"].lower()
                    or (bool(mine) and len(mine & theirs) * 2 >= min(len(mine), len(theirs)) > 0))
        if same:
            chosen[other["revision"]] = other["id"]  # ORDER BY id: a later posting replaces
    if chosen:  # the chain goes on through the nearest one (v4 -> v3 by change-id, v3 -> v2 by subject)
        for earlier in earlier_versions(state, chosen[max(chosen)]):
            (row,) = state.rows("SELECT revision FROM series WHERE id = ?", earlier)
            chosen.setdefault(row["revision"], earlier)
    return [chosen[r] for r in sorted(chosen)]


def _patch_subjects(state: State, series_id: int) -> set[str]:
    return {r["subject"].lower() for r in state.rows(
        "SELECT subject FROM messages WHERE series_id = ? AND kind = 'patch'", series_id)}
