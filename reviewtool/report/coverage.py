"""What the report shows of changed-line coverage, `auto` per arch and the robot re-checks
(templates/coverage.*.j2, included by the report templates)."""
from __future__ import annotations

from dataclasses import asdict
from typing import Any

from reviewtool.model import Review


def coverage_view(review: Review) -> dict[str, Any]:
    """{"rows": a line per patch, "total", "auto": per-arch decisions, "robot": re-checks}."""
    rows, changed, compiled = [], 0, 0
    if review.coverage is not None:
        for p in review.coverage.patches:
            changed, compiled = changed + p.changed, compiled + p.compiled
            rows.append({"patch": p.patch, "label": review.series.label(p.patch),
                         "text": (f"{p.percent}% of {p.changed} changed lines compiled" if p.changed
                                  else "no changed C code lines"),
                         "not_compiled": [f"{u.where()} {u.reason}" for u in p.not_compiled],
                         "tried": ", ".join(p.tried) or "none", "finding": bool(p.not_compiled)})
    return {
        "rows": rows,
        "total": f"{compiled} of {changed} changed C lines compiled" + (
            f" ({100 * compiled // changed}%)" if changed else ""),
        "auto": [asdict(a) for a in review.coverage.auto] if review.coverage else [],
        "robot": [asdict(r) for r in review.robot_recheck or []],
    }
