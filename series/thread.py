"""The reply tree: who answered what, in the order a mail reader shows it.

A message hangs under its In-Reply-To; when that mail is not in the thread
(e.g. a reply to the patch missing from the archive) it hangs under the
nearest References entry that is, else it starts its own subtree. Its
`in_reply_to` keeps the header's Message-ID either way: it is what the sender
answered.
"""
from __future__ import annotations

from dataclasses import replace

from series.model import Message


def reply_tree(messages: list[Message], references: dict[str, list[str]]) -> list[Message]:
    """`messages` depth-first by date with `depth` and `parent` set; `references` maps msgid -> References."""
    by_id = {m.msgid: m for m in messages}
    children: dict[str, list[Message]] = {}
    roots: list[Message] = []
    parents: dict[str, str] = {}
    for msg in messages:
        parent = parents[msg.msgid] = _parent(msg, references.get(msg.msgid, []), by_id)
        if parent:
            children.setdefault(parent, []).append(msg)
        else:
            roots.append(msg)
    ordered: list[Message] = []
    seen: set[str] = set()

    def walk(top: Message) -> None:
        # Depth-first with a stack, not recursion: a hostile chain of 1,500 replies
        # each answering the one before raised RecursionError.
        stack = [(top, 0)]
        while stack:
            msg, depth = stack.pop()
            if msg.msgid in seen:  # a References loop in hostile mail
                continue
            seen.add(msg.msgid)
            ordered.append(replace(msg, depth=depth, parent=parents[msg.msgid] if depth else ""))
            stack.extend((child, depth + 1) for child in sorted(children.get(msg.msgid, []), key=_when, reverse=True))

    for root in sorted(roots, key=_when):
        walk(root)
    for msg in sorted(messages, key=_when):  # members of an In-Reply-To cycle
        walk(msg)
    return ordered


def _parent(msg: Message, refs: list[str], by_id: dict[str, Message]) -> str:
    if msg.in_reply_to in by_id and msg.in_reply_to != msg.msgid:
        return msg.in_reply_to
    for ref in reversed(refs):
        if ref in by_id and ref != msg.msgid:
            return ref
    return ""


def _when(msg: Message) -> tuple[str, str]:
    # Dates are ISO 8601 in UTC (assemble normalises them), so strings sort by time.
    return (msg.date, msg.msgid)
