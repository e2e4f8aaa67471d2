"""The typed Review: its checked-in JSON Schema, its schema_version, and the one finding rule."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from reviewtool.errors import UsageError
from reviewtool.findings import judge, ranges
from reviewtool.model import SCHEMA_VERSION, from_json, schema_text

DOCS = Path(__file__).parent.parent / "docs"


def test_checked_in_schema_is_the_one_the_model_makes() -> None:
    assert (DOCS / "results.schema.json").read_text() == schema_text(), \
        "regenerate: .venv/bin/python -m reviewtool.model > docs/results.schema.json"


def test_schema_refuses_what_the_model_does_not_write() -> None:
    import jsonschema

    schema = json.loads((DOCS / "results.schema.json").read_text())
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"schema_version": SCHEMA_VERSION, "meta": {}}, schema)
    with pytest.raises(jsonschema.ValidationError):  # the old dict's spelling of a skipped stage
        jsonschema.validate({"schema_version": SCHEMA_VERSION, "build": {"status": "skipped"}}, schema)


@pytest.mark.parametrize("text, said", [
    ('{"schema_version": 0, "meta": {}}', "schema_version 0, this reviewtool reads 1"),
    ('{"meta": {"tool": "reviewtool 0.0"}}', "schema_version None"),
    ("not json", "not JSON"),
])
def test_another_schema_version_is_refused_in_one_line(text: str, said: str) -> None:
    with pytest.raises(UsageError) as err:
        from_json(text, "old/results.json")
    assert said in str(err.value) and "\n" not in str(err.value)


def test_severity_and_counting_come_from_one_rule() -> None:
    assert judge("checkpatch", "WARNING") == ("warning", True)
    assert judge("checkpatch", "CHECK") == ("info", False)
    assert judge("checkpatch", "moved") == ("info", False)
    assert judge("apply", "3way") == ("info", False)
    assert judge("apply", "partial") == ("error", True)
    assert judge("pairscan", "low") == ("info", False)
    assert judge("open-comment", "open-comment") == ("comment", False)
    assert judge("no-history", "no-history") == ("info", False)


def test_missing_patches_as_ranges() -> None:
    assert ranges([*range(1, 21), *range(26, 49), *range(50, 130)]) == "1-20, 26-48, 50-129"
    assert ranges([9]) == "9"


def test_schema_module_runs_as_a_script() -> None:
    out = subprocess.run([sys.executable, "-m", "reviewtool.model"], capture_output=True, text=True,
                         check=True, timeout=60).stdout
    assert out == schema_text()


@pytest.mark.kernel
def test_commit_ids_on_a_tree_without_history_are_said_once_and_not_counted(kernel_tree: Path) -> None:
    """The managed tree is one commit: checkpatch cannot find any commit id a patch names."""
    import git

    from kernel.checkpatch import find_checkpatch, has_history, run_checkpatch
    from reviewtool.findings import checkpatch_findings
    from tests.conftest import commit_edits
    from tests.test_kernel_build import EDITS

    g = git.Git(kernel_tree)
    head = g.rev_parse("HEAD")
    (sha,) = commit_edits(kernel_tree, head, [EDITS[0]])
    mail = g.format_patch("-1", "--stdout", sha, strip_newline_in_stdout=False)
    names = 'Fixes: 0123456789ab ("mm: an old commit")\nFixes: 123456789abc ("mm: another")\n'
    mail = mail.replace("Signed-off-by:", names + "Signed-off-by:", 1)
    (result,) = run_checkpatch([("1/1", mail)], find_checkpatch(kernel_tree, None), kernel_tree)
    assert sum(f.type == "UNKNOWN_COMMIT_ID" for f in result.findings) == 2  # what checkpatch says
    assert not has_history(kernel_tree)
    found = checkpatch_findings([result], {}, history=False)
    (said,) = [f for f in found if f.kind == "no-history"]
    assert said.title == "this tree has no history: commit ids not checked" and not said.counts
    assert not any(f.counts for f in found)
    assert sum(f.counts for f in checkpatch_findings([result], {}, history=True)) == 2  # a clone with history
