"""Shared pytest fixtures. Each block belongs to one part of the tool."""
from __future__ import annotations

from pathlib import Path

import pytest


# --- kernel tree (kernel/tree.py) -------------------------------------------
@pytest.fixture(scope="session")
def kernel_tree() -> Path:
    """The managed Debian 6.1 kernel git repo (unpacked once into the user cache,
    ~25 s the first time, reused by every later session). Treat it as read-only:
    make a git worktree (kernel.worktree) to change files."""
    from kernel.tree import managed_tree

    return managed_tree()


Edits = list[tuple[str, dict[str, tuple[str, str]]]]


def commit_edits(tree: Path, base: str, edits: Edits) -> list[str]:
    """Commit scripted edits on top of `base` in `tree`'s object store only (no checkout, no ref):
    one commit per (subject, {path: (old, new)}), `old` replaced once and required to be there,
    old "" appends `new`. Returns the commit shas. Used by the kernel tests and bench/."""
    import tempfile

    from kernel.worktree import worktree_git

    g = worktree_git(tree)
    commits, parent = [], base
    with tempfile.TemporaryDirectory() as tmp:
        env = {"GIT_INDEX_FILE": str(Path(tmp) / "index"), "GIT_AUTHOR_NAME": "T",
               "GIT_AUTHOR_EMAIL": "t@example.org"}
        g.read_tree(parent, env=env)
        for subject, changes in edits:
            for path, (old, new) in changes.items():
                text = g.show(f"{parent}:{path}", strip_newline_in_stdout=False)
                assert old in text, f"{path}: {old!r} not found"
                blob = g.hash_object("-w", "--stdin", "--path", path,
                                     istream=_bytes_io(text.replace(old, new, 1) if old else text + new))
                mode = g.ls_tree(parent, "--", path).split()[0]
                g.update_index("--cacheinfo", f"{mode},{blob},{path}", env=env)
            tree_sha = g.write_tree(env=env)
            message = f"{subject}\n\nScripted test edit.\n\nSigned-off-by: T <t@example.org>\n"
            parent = g.commit_tree(tree_sha, "-p", parent, istream=_bytes_io(message), env=env)
            commits.append(parent)
    return commits


def series_mbox(tree: Path, edits: Edits, path: Path) -> str:
    """Scripted edits on the tree's HEAD as one `git format-patch` thread in `path`; returns HEAD."""
    from kernel.worktree import worktree_git

    g = worktree_git(tree)
    head = g.rev_parse("HEAD")
    last = commit_edits(tree, head, edits)[-1]
    path.write_text(g.format_patch("--thread=shallow", "--stdout", f"{head}..{last}", strip_newline_in_stdout=False))
    return head


def format_patches(tree: Path, commits: list[str]):
    """Each commit as its own `git format-patch` mail (kernel.model.PatchText, counters from 1)."""
    from kernel.model import PatchText
    from kernel.worktree import worktree_git

    g = worktree_git(tree)
    return [PatchText(i, g.log("-1", "--format=%s", sha),
                      g.format_patch("-1", "--stdout", sha, strip_newline_in_stdout=False))
            for i, sha in enumerate(commits, 1)]


def _bytes_io(text: str):
    """A real file: GitPython hands `istream` to Popen, which needs a fileno."""
    import tempfile

    fh = tempfile.TemporaryFile()
    fh.write(text.encode())
    fh.seek(0)
    return fh


# --- results.json (reviewtool/model.py) --------------------------------------
_VALIDATED: set[Path] = set()


@pytest.fixture(autouse=True)
def _results_json_match_the_schema(tmp_path_factory: pytest.TempPathFactory):
    """Every results.json a test writes (a run directory two or three levels below the session's
    temporary directory) is checked against docs/results.schema.json after the test."""
    yield
    import json

    import jsonschema

    base = tmp_path_factory.getbasetemp()
    found = {p for depth in ("*/*", "*/*/*") for p in base.glob(f"{depth}/results.json")} - _VALIDATED
    if not found:
        return
    schema = json.loads((Path(__file__).parent.parent / "docs" / "results.schema.json").read_text())
    for path in sorted(found):
        _VALIDATED.add(path)
        jsonschema.validate(json.loads(path.read_text()), schema)


# --- a real review (reviewtool/pipeline.py) ----------------------------------
@pytest.fixture(scope="session")
def v3_review(kernel_tree: Path, tmp_path_factory: pytest.TempPathFactory):
    """What `reviewtool review --bundled pte-v3 --previous bundled:pte-v2 --no-build` produces (the typed
    Review), run in-process on the managed tree with the user's stage cache: the input of the report
    and draft tests, so they check what the pipeline writes."""
    from kernel.tree import default_cache_dir
    from reviewtool.cache import StageCache
    from reviewtool.pipeline import ReviewOptions, load_series, run_review
    from series.assemble import assemble_series
    from series.load import bundled_thread_path, load_thread

    thread = load_thread(str(bundled_thread_path("pte-v3")))
    cache = StageCache(default_cache_dir())
    series = load_series(thread, None, cache)
    v2 = assemble_series(load_thread(str(bundled_thread_path("pte-v2"))).messages)
    run_dir = tmp_path_factory.mktemp("v3-review")
    opts = ReviewOptions(run_dir=run_dir, cache_dir=default_cache_dir(), tree=kernel_tree, build=False)
    return run_review(thread, series, opts, cache, [v2])
