"""The watch's front page: every series seen, as index.json and one self-contained index.html.

Written from the state after every job, atomically, so a browser or a script
polling it never sees half a page. Links are relative (runs/.../report.html),
so the whole output directory can be served or copied as it is.
"""
from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import quote

from reviewtool.jsondata import write_atomic
from reviewtool.report.render import environment
from reviewtool.watch.state import State


def findings_by_kind(results: dict[str, Any]) -> dict[str, int]:
    """The findings of one review that count, per kind (reviewtool.model.Finding.kind), from
    its results.json: the same rule the review's exit code follows."""
    return dict(sorted(Counter(f["kind"] for f in results.get("findings", []) if f["counts"]).items()))


def _status(job: Any, series: Any, now: float, grace: float) -> str:
    if job is None:
        if series["dirty"]:
            return f"waiting for missing patches ({max(0, int(series['last_patch_at'] + grace - now))} s of grace left)"
        return "new"
    return {"done": "reviewed", "failed": "failed", "running": "reviewing", "queued": "queued"}[job["state"]]


def index_data(state: State, out: Path, source: str, grace: float) -> dict[str, Any]:
    now = time.time()
    all_series = state.rows("SELECT * FROM series ORDER BY id")
    later: dict[int, list[int]] = {}
    for s in all_series:
        for p in json.loads(s["previous"]):
            later.setdefault(p, []).append(s["id"])
    entries = []
    for s in all_series:
        jobs = state.rows("SELECT * FROM jobs WHERE series_id = ? AND state != 'superseded' ORDER BY id", s["id"])
        latest = jobs[-1] if jobs else None
        done = [j for j in jobs if j["state"] == "done"]
        first_report = next((j["finished_at"] for j in done if j["finished_at"] >= s["last_patch_at"]), None)
        report = Path(s["run_dir"]) / "report.html" if s["run_dir"] else None
        chain = [*json.loads(s["previous"]), s["id"], *later.get(s["id"], [])]
        entries.append({
            "id": s["id"], "subject": s["subject"], "author": s["author"], "revision": s["revision"],
            "expected": s["expected"], "thread": s["thread_root"],
            "link": f"{source.rstrip('/')}/{quote(s['thread_root'], safe='@')}/"
                    if source.startswith(("http://", "https://")) else "",
            "versions": chain,
            "status": _status(latest, s, now, grace),
            "error": latest["error"] if latest else "",
            "missing": json.loads(latest["missing"]) if latest else [],
            "messages": latest["messages"] if latest else 0,
            "reviews": len(done),
            "findings": done[-1]["findings"] if done else None,
            "findings_by_kind": json.loads(done[-1]["by_kind"]) if done else {},
            "seconds_last_patch_to_report": round(first_report - s["last_patch_at"], 1) if first_report else None,
            "report": str(report.relative_to(out.resolve())) if report and report.is_file() else "",
        })
    revisions = {e["id"]: e["revision"] for e in entries}
    for e in entries:
        e["versions"] = [{"id": i, "revision": revisions[i]} for i in e["versions"]]
    return {"inbox": source, "generated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
            "series": entries}


def write_index(state: State, out: Path, source: str, grace: float) -> None:
    data = index_data(state, out, source, grace)
    write_atomic(out / "index.json", json.dumps(data, indent=1, ensure_ascii=False) + "\n")
    html = environment("html").get_template("watch_index.html.j2").render(**data)
    write_atomic(out / "index.html", html)
