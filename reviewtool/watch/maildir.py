"""Reply drafts filed into a Maildir (mutt, neomutt and aerc open it as a drafts folder).

The drafts stay files in the run directory and are never sent; this only
copies them, marked Draft (in cur/ with the "D" flag). Each copy's name is
made of the series, the draft and its content hash, so filing is idempotent:
a re-run after a kill files nothing twice, and a refreshed review replaces its
earlier copy of a draft instead of adding a second one.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path


def file_drafts(series_id: int, drafts: Path, maildir: Path) -> int:
    """Copy drafts/*.eml of one series into `maildir`; returns how many were newly filed."""
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True, exist_ok=True)
    filed = 0
    for path in sorted(drafts.glob("*.eml")) if drafts.is_dir() else []:
        raw = path.read_bytes()
        prefix = f"reviewtool.{series_id}.{path.stem}."
        name = f"{prefix}{hashlib.sha256(raw).hexdigest()[:16]}"
        target = maildir / "cur" / f"{name}:2,D"
        for old in (maildir / "cur").glob(f"{prefix}*"):
            if old != target:
                old.unlink()
        if target.exists():
            continue
        tmp = maildir / "tmp" / name
        tmp.write_bytes(raw)
        os.replace(tmp, target)  # Maildir delivery: written in tmp/, then moved in one step
        filed += 1
    return filed
