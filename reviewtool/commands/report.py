"""`reviewtool report`: write report.html and report.md again from a run's results.json.

For a run made before the templates changed, or to look again without
re-running anything: nothing is applied, built or fetched. A results.json of
another schema_version is refused with a one-line error (exit 2), never
guessed at.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from reviewtool.commands._source import output_dir
from reviewtool.errors import UsageError
from reviewtool.findings import exit_code
from reviewtool.model import read_review
from reviewtool.pipeline import progress
from reviewtool.report.render import write_report
from reviewtool.report.view import build_view

EPILOG = """examples:
  reviewtool review --bundled pte-v3 --no-build --out /tmp/pte-v3 && reviewtool report /tmp/pte-v3

exit status: 0 the run found nothing, 1 it found something, 2 no or another schema's results.json
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "report", help="re-render report.html and report.md from a run directory's results.json",
        description=__doc__, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="a `reviewtool review --out` directory")
    parser.set_defaults(command_module=sys.modules[__name__])


def run(args: argparse.Namespace) -> int:
    run_dir = output_dir(args.run_dir, "RUN_DIR", create=False)
    if not (run_dir / "results.json").is_file():
        raise UsageError(f"{run_dir}: no results.json (not a `reviewtool review` run directory)")
    review = read_review(run_dir / "results.json")
    view = build_view(review)
    for path in write_report(view, run_dir):
        progress(f"wrote {path}")
    return exit_code(review.findings)
