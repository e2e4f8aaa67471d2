"""Apply a series patch by patch in a worktree, and keep going past failures.

Each patch goes in with `git am -3`.  When it fails, every file of the patch
is checked on its own (`git apply --check`), and a failing file hunk by hunk,
so the result names the exact hunks that do not apply; the files whose hunks
all apply are then applied and committed, so they can still be built (status
"partial").  Each failed patch is also checked alone against the base, which
tells "the base is too old" from "an earlier patch of the series failed".
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import git
from unidiff import PatchSet
from unidiff.errors import UnidiffParseError

from kernel.model import (CLEAN, FAILED, PARTIAL, SKIPPED, THREE_WAY, ApplyResult, BaseChoice,
                          HunkFailure, PatchText, SeriesApply)
from kernel.progress import step
from kernel.worktree import worktree_git


@dataclass
class _Mail:
    """`git mailinfo`'s split of a patch mail."""

    author: str
    email: str
    date: str
    subject: str
    body: str
    diff: str


def apply_series(work: Path, base: BaseChoice, patches: list[PatchText]) -> SeriesApply:
    """Apply `patches` in order in the worktree `work` (checked out at `base.commit` first)."""
    g = worktree_git(work)
    g.checkout("-q", "--detach", base.commit)
    results = []
    for patch in patches:
        result = _apply_one(g, work, base.commit, patch)
        step(f"apply {patch.counter:>2}: {result.status:8} {patch.subject[:60]}")
        results.append(result)
    return SeriesApply(base, results)


def _apply_one(g: git.Git, work: Path, base: str, patch: PatchText) -> ApplyResult:
    mail = _mailinfo(g, patch.mbox)
    try:
        files = PatchSet(mail.diff)
    except UnidiffParseError as exc:
        return ApplyResult(patch.counter, patch.subject, SKIPPED, _head(g), [], [],
                           message=f"diff does not parse: {exc}")
    paths = [f.path for f in files]
    if not paths:
        return ApplyResult(patch.counter, patch.subject, SKIPPED, _head(g), [], [],
                           message="no diff in this mail")
    code, out, err = _git(g, "am", "-3", "--keep-cr", stdin=patch.mbox)
    if code == 0:
        status = THREE_WAY if "3-way merge" in out + err else CLEAN
        return ApplyResult(patch.counter, patch.subject, status, _head(g), paths, paths)
    am_error = _trim(out + "\n" + err)
    g.am("--abort")

    failed = _failing_hunks(g, work, files, index_of=None)
    on_base = _failing_hunks(g, work, files, index_of=base)
    good = [p for p in paths if p not in {f.file for f in failed}]
    result = ApplyResult(patch.counter, patch.subject, FAILED, _head(g), paths, [], failed,
                         applies_to_base=not on_base, failed_on_base=on_base, message=am_error)
    if good and _apply_files(g, mail, good, len(paths)):
        result.status, result.commit, result.applied_files = PARTIAL, _head(g), good
    return result


def _failing_hunks(g: git.Git, work: Path, files: PatchSet, index_of: str | None) -> list[HunkFailure]:
    """Hunks that `git apply --cached --check` refuses, against the current index or `index_of`'s tree."""
    with tempfile.TemporaryDirectory(dir=work.parent) as tmp:
        env = {}
        if index_of:
            env["GIT_INDEX_FILE"] = str(Path(tmp) / "index")
            g.read_tree(index_of, env=env)
        failures = []
        for pf in files:
            header = _file_header(pf)
            if _check(g, header + "".join(str(h) for h in pf), env) is None:
                continue
            if pf.is_binary_file or not len(pf):
                failures.append(HunkFailure(pf.path, "", _check(g, header, env) or "does not apply"))
                continue
            before = len(failures)
            for hunk in pf:
                reason = _check(g, header + str(hunk), env)
                if reason is not None:
                    failures.append(HunkFailure(pf.path, _hunk_header(hunk), reason))
            if len(failures) == before:  # each hunk fits alone, not all together (overlap)
                failures.append(HunkFailure(pf.path, "", "hunks apply one by one but not together"))
        return failures


def _check(g: git.Git, diff: str, env: dict[str, str]) -> str | None:
    """None if `diff` applies to the index, else git's reason in a few words."""
    code, _, err = _git(g, "apply", "--cached", "--check", "-", stdin=diff, env=env)
    if code == 0:
        return None
    if "does not exist in index" in err or "No such file" in err:
        return "file does not exist"
    if "already exists in index" in err:
        return "file already exists"
    if "patch does not apply" in err or "patch failed" in err:
        return "context does not match"
    return _trim(err) or "does not apply"


def _apply_files(g: git.Git, mail: _Mail, good: list[str], total: int) -> bool:
    """Apply and commit only the files in `good`, with the patch's author and message."""
    includes = [f"--include={_glob_escape(p)}" for p in good]
    if _git(g, "apply", "--index", *includes, "-", stdin=mail.diff)[0]:
        g.reset("-q", "--hard")  # the worktree's own index and files, back to its HEAD
        return False
    note = f"[reviewtool: partial apply: {len(good)} of {total} files: {', '.join(good)}]"
    message = f"{mail.subject}\n\n{mail.body.rstrip()}\n\n{note}\n"
    env = {"GIT_AUTHOR_NAME": mail.author, "GIT_AUTHOR_EMAIL": mail.email,
           "GIT_AUTHOR_DATE": mail.date}
    g.commit("-q", "--no-verify", "-F", "-", istream=_stdin(message), env=env)
    return True


def _mailinfo(g: git.Git, mbox: str) -> _Mail:
    with tempfile.TemporaryDirectory() as tmp:
        msg, patch = Path(tmp) / "msg", Path(tmp) / "patch"
        info = g.mailinfo("-k", str(msg), str(patch), istream=_stdin(mbox))
        fields = dict(line.split(": ", 1) for line in info.splitlines() if ": " in line)
        return _Mail(fields.get("Author", ""), fields.get("Email", ""), fields.get("Date", ""),
                     fields.get("Subject", ""), msg.read_text(errors="replace"),
                     patch.read_text(errors="replace"))


def _file_header(pf) -> str:
    """The `diff --git`/mode/index and ---/+++ lines of one file of a diff."""
    whole = str(pf)
    return whole[: len(whole) - sum(len(str(h)) for h in pf)]


def _hunk_header(hunk) -> str:
    return str(hunk).split("\n", 1)[0]


def _head(g: git.Git) -> str:
    return g.rev_parse("HEAD")


def _glob_escape(path: str) -> str:
    return "".join(f"\\{c}" if c in "*?[]\\" else c for c in path)


def _trim(text: str, limit: int = 800) -> str:
    lines = [line for line in text.strip().splitlines() if not line.startswith("hint:")]
    return "\n".join(lines)[-limit:]


def _git(g: git.Git, *args: str, stdin: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """Run git with `stdin`; (exit code, stdout, stderr) without raising."""
    return g.execute(["git", *args], istream=_stdin(stdin), env=env, with_extended_output=True,
                     with_exceptions=False, strip_newline_in_stdout=False)


def _stdin(text: str) -> IO[bytes]:
    """GitPython's `istream` wants a file object; mail text is utf-8 (surrogates kept)."""
    fh = tempfile.TemporaryFile()
    fh.write(text.encode("utf-8", "surrogateescape"))
    fh.seek(0)
    return fh
