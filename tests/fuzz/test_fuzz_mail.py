"""CI's seeded fuzz run of the mail side (bench/fuzz_mail.py is the long run).

Pass: no traceback in any entry point (show, show --json, review's mail-side
stages, diff --json), only the project's errors; no case over 5 CPU seconds;
no hang. A failure names its seed and case: rebuild it with
`.venv/bin/python bench/fuzz_mail.py --seed 2026 --start CASE --cases 1 --save DIR`.
"""
from __future__ import annotations

from harness import CASE_LIMIT_S, run_cases
from mutate import MUTATIONS, make_case

SEED = 2026
CASES = 300


def test_seeded_cases_end_cleanly() -> None:
    summary = run_cases(SEED, CASES, jobs=2)
    report = "\n".join(f"case {f.case} {f.mutations}: {f.kind} {f.seconds:.2f} s\n{f.detail}"
                       for f in summary.failures)
    assert summary.cases == CASES
    assert not summary.failures, report
    assert summary.slowest[0] <= CASE_LIMIT_S
    # The run is worth something only if most cases got past loading into the stages.
    assert summary.expected_errors < CASES * 0.8


def test_cases_are_reproducible_and_cover_every_mutation() -> None:
    assert make_case(SEED, 7) == make_case(SEED, 7)
    applied = {name for case in range(CASES) for name in make_case(SEED, case)[1][1:]}
    assert applied == {m.__name__ for m in MUTATIONS}
