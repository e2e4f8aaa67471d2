"""One line per long step on stderr, so a user waiting on a build sees it move."""
from __future__ import annotations

import sys


def step(message: str) -> None:
    print(f"reviewtool: {message}", file=sys.stderr, flush=True)
