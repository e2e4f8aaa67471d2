#!/usr/bin/env python3
"""Fuzz the mail side: seeded mutations of the bundled threads through show, review --no-build and diff.

Each case is a few mails of the bundled pte threads, mutated (byte flips,
truncation, garbled and duplicated headers, odd [PATCH vN M/N] counters,
reply cycles, nested and broken MIME, NUL bytes, CR-only line ends, 1 MB
lines: tests/fuzz/mutate.py) and run through the entry points of the three
commands (tests/fuzz/harness.py). A case fails on a traceback (any exception
but the project's errors, which exit 2/3), over 5 CPU seconds, or a hang.
CI runs a few hundred cases (tests/fuzz/test_fuzz_mail.py); this is the long run.

Not a test: run it by hand, e.g. (about 1 case/s per job on an idle core):
    .venv/bin/python bench/fuzz_mail.py --cases 10000 --jobs 2
    .venv/bin/python bench/fuzz_mail.py --seed 7 --start 4711 --cases 1 --save /tmp/cases   # rerun one case, kept if it fails
Exit status 1 when a case failed; each failure is printed with its seed and case number.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "fuzz"))

import harness  # noqa: E402 (tests/fuzz is not a package)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=1000, help="number of cases (default: 1000)")
    parser.add_argument("--seed", type=int, default=1, help="run seed (default: 1, CI uses 2026)")
    parser.add_argument("--start", type=int, default=0, help="first case number (default: 0)")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes (default: 1)")
    parser.add_argument("--save", type=Path, metavar="DIR", help="write the mbox of each failing case here")
    args = parser.parse_args()
    if args.cases < 1 or args.jobs < 1:
        parser.error("--cases and --jobs must be at least 1")
    summary = harness.run_cases(args.seed, args.cases, start=args.start, jobs=args.jobs, progress=True)
    for failure in summary.failures:
        print(f"FAIL seed {summary.seed} case {failure.case} ({' '.join(failure.mutations)}): "
              f"{failure.kind}, {failure.seconds:.2f} s\n{failure.detail.rstrip()}\n")
        if args.save:
            print(f"  saved as {harness.save_case(summary.seed, failure.case, args.save)}")
    seconds, slowest = summary.slowest
    print(f"{summary.cases} cases in {summary.seconds:.0f} s ({summary.cases / summary.seconds:.2f} cases/s, "
          f"{args.jobs} job(s)); refused with a project error (exit 2/3): {summary.expected_errors}; "
          f"slowest: case {slowest}, {seconds:.2f} CPU s; failures: {len(summary.failures)}")
    return 1 if summary.failures else 0


if __name__ == "__main__":
    sys.exit(main())
