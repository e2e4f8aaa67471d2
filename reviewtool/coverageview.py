"""What the report shows of changed-line coverage, `auto` and the robot re-checks.

Kept out of report.py (one call there) so that the coverage partials
(templates/coverage.*.j2) and the findings count read results.json one way.
"""
from __future__ import annotations

from typing import Any


def coverage_view(results: dict) -> dict[str, Any]:
    """{"rows": per-patch lines, "auto": per-arch decisions, "robot": re-checks}; empty when skipped."""
    cov = results.get("coverage")
    robot = results.get("robot_recheck")
    if not isinstance(cov, dict) or "summary" not in cov:
        cov = {}
    changed = sum(p.get("changed", 0) for p in cov.get("patches", []))
    compiled = sum(p.get("compiled", 0) for p in cov.get("patches", []))
    return {
        "rows": cov.get("summary", []),
        "total": f"{compiled} of {changed} changed C lines compiled" + (
            f" ({100 * compiled // changed}%)" if changed else ""),
        "auto": cov.get("auto", []),
        "robot": robot if isinstance(robot, list) else [],
    }


def coverage_findings(results: dict) -> int:
    """A patch with changed lines no build compiled counts once; so does a robot report we did not reproduce."""
    view = coverage_view(results)
    return (sum(1 for r in view["rows"] if r.get("finding"))
            + sum(1 for r in view["robot"] if r.get("verdict") == "not reproduced"))
