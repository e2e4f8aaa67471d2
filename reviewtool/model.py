"""The typed record of one review: what `pipeline.run_review` returns and results.json holds.

Every consumer (report.html, report.md, the drafts, `--json`) reads this
`Review`, never a dict, so a shape exists once. results.json is its JSON
(reviewtool.jsondata) with a `schema_version`; `docs/results.schema.json`
is generated from these dataclasses (`json_schema`), and a file with another
schema_version is refused rather than guessed at.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kernel.botrecheck import Recheck
from kernel.checkpatch import CheckpatchResult
from kernel.coverage import PatchCoverage
from kernel.kconfig import Wants
from kernel.model import SeriesApply, SeriesBuild
from kernel.pairdiff import PatchPairFinding
from reviewtool.errors import UsageError
from reviewtool.jsondata import dumps, from_jsonable
from series.model import ReviewComment, Series

# Raise on any change a reader of an older file would misread (a key renamed,
# removed or given another meaning), and regenerate docs/results.schema.json.
SCHEMA_VERSION = 1

# Finding.kind values
APPLY, BUILD_ERROR, NEW_WARNING, CHECKPATCH = "apply", "build-error", "new-warning", "checkpatch"
PAIRSCAN, MISSING_PATCH, BOT_REPORT, OPEN_COMMENT = "pairscan", "missing-patch", "bot-report", "open-comment"
UNCOMPILED = "uncompiled"  # changed lines no arch x config of the review compiled
NO_HISTORY = "no-history"  # a check the tree cannot do (no git history): said once, never counted


@dataclass
class Finding:
    """One thing the tool found, whichever stage or command found it.

    `severity` and `counts` come from reviewtool.findings.judge and nowhere
    else, so every command agrees on what makes it exit 1.
    """

    kind: str  # APPLY | BUILD_ERROR | NEW_WARNING | CHECKPATCH | PAIRSCAN | MISSING_PATCH | ...
    grade: str  # the stage's own word judged: "partial", "ERROR", "high", "timeout" ...
    severity: str  # "error" | "warning" | "info" | "comment"
    counts: bool  # makes the command exit 1
    patch: int | None  # the patch counter, None for the series
    file: str  # "" when not about a file
    line: int | None
    title: str  # one line: who or what says it ("checkpatch WARNING LONG_LINE")
    message: str
    configs: list[str] = field(default_factory=list)  # "x86_64/mm-on" builds that showed it
    hunk: str = ""  # the "@@ ... @@" line it concerns, when the stage knows it
    link: str = ""  # a mail on lore (bot reports, open comments)


@dataclass
class StageTiming:
    """How long one stage took in this run (a cached stage takes ~0 s)."""

    stage: str
    seconds: float
    detail: str = ""


@dataclass
class Meta:
    tool: str  # "reviewtool 0.1.0"
    started: str  # ISO 8601
    finished: str
    source: str  # Message-ID, URL or mbox path, as given
    tree: str  # the kernel tree used
    sandbox: str = ""  # what make and the tree's checkpatch.pl ran in: "bubblewrap", "none (--no-sandbox)", "" when neither ran


@dataclass
class PatchPairs:
    """The pair scan's findings for one patch."""

    patch: int
    label: str  # Series.label, "06/15"
    findings: list[PatchPairFinding]


@dataclass
class AutoDecision:
    """What became of a per-series config (`auto`, `auto-off`) on one arch (reviewtool.buildcoverage)."""

    arch: str
    status: str  # "built" | "not needed" | "nothing to derive"
    detail: str = ""
    blocked: list[str] = field(default_factory=list)  # "OPTION: depends on ..." after configuring
    config: str = "auto"  # the derived config decided: "auto", or "auto-off" (options wanted both ways off)


@dataclass
class Coverage:
    """Which added or changed C lines the builds compiled, per patch (kernel.coverage)."""

    patches: list[PatchCoverage]
    auto: list[AutoDecision]  # per arch, when `auto` was asked for
    wants: Wants | None  # the options the series' changed files and lines need


@dataclass
class BuildPlacement:
    """Where one arch x config build of a review ran on the Dask cluster (reviewtool.cluster)."""

    arch: str
    config: str
    worker: str  # the worker's Dask address
    host: str
    seconds: float  # of its arch's task: every config of the arch, and their coverage


@dataclass
class ClusterRun:
    scheduler: str  # tcp://HOST:PORT, or "local"
    tasks: list[BuildPlacement]


@dataclass
class Review:
    """One review of one revision of a series."""

    schema_version: int
    meta: Meta
    series: Series
    comments: list[ReviewComment]
    apply: SeriesApply
    checkpatch: list[CheckpatchResult] | None  # None: not run, `skipped` says why
    pairscan: list[PatchPairs] | None
    build: list[SeriesBuild] | None  # one per arch x config
    versions: dict[str, Any] | None  # reviewtool.diffreport.version_report, with --previous
    skipped: dict[str, str]  # stage -> why it did not run ("--no-build")
    findings: list[Finding]  # everything above judged, in patch order
    timings: list[StageTiming] = field(default_factory=list)
    cluster: ClusterRun | None = None  # with --scheduler: where each build ran (its arch's task)
    coverage: Coverage | None = None  # with builds
    robot_recheck: list[Recheck] | None = None  # each kernel test robot report against our builds


def to_json(review: Review) -> str:
    return dumps(review) + "\n"


def from_json(text: str, origin: str = "results.json") -> Review:
    """A Review from results.json; another schema_version is a one-line error, never a guess."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{origin}: not JSON ({exc})") from None
    found = data.get("schema_version") if isinstance(data, dict) else None
    if found != SCHEMA_VERSION:
        raise UsageError(f"{origin}: schema_version {found!r}, this reviewtool reads {SCHEMA_VERSION}; "
                         "re-run the review with this version")
    try:
        return from_jsonable(Review, data)
    except (KeyError, TypeError, ValueError) as exc:
        raise UsageError(f"{origin}: not a results.json of schema {SCHEMA_VERSION} ({exc})") from None


def read_review(path: Path) -> Review:
    return from_json(path.read_text(encoding="utf-8"), str(path))


def schema_text() -> str:
    """docs/results.schema.json as checked in (regenerate: `python -m reviewtool.model > docs/results.schema.json`)."""
    return json.dumps(json_schema(), indent=1, sort_keys=True) + "\n"


def json_schema() -> dict[str, Any]:
    """The JSON Schema of results.json, generated from the dataclasses (pydantic does the walk)."""
    from pydantic import TypeAdapter  # only needed to (re)generate the schema

    schema = TypeAdapter(Review).json_schema(mode="serialization")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"https://reviewtool.invalid/results.schema.v{SCHEMA_VERSION}.json"
    schema["properties"]["schema_version"]["const"] = SCHEMA_VERSION
    for part in [schema, *schema["$defs"].values()]:
        part["additionalProperties"] = False  # a key the model does not have is a bug, not an extension
    return schema


if __name__ == "__main__":
    print(schema_text(), end="")
