"""Apply a series patch by patch in a worktree, and keep going past failures.

Each patch goes in with `git am -3`.  When it fails, `git apply --check
--reject` names every file and hunk that does not apply (one git run; each file
and hunk on its own when git's answer cannot be read); the files whose hunks
all apply are then applied and committed, so they can still be built (status
"partial").  Each failed patch is also checked alone against the base, which
tells "the base is too old" from "an earlier patch of the series failed".
"""
from __future__ import annotations

import re
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
    with tempfile.TemporaryDirectory(dir=work.parent) as tmp:
        base_index = _BaseIndex(g, base.commit, Path(tmp) / "index")
        for patch in patches:
            result = _apply_one(g, base_index, patch)
            step(f"apply {patch.counter:>2}: {result.status:8} {patch.subject[:60]}")
            results.append(result)
    return SeriesApply(base, results)


class _BaseIndex:
    """An index file of the base's tree, read once for the whole series (a read-tree of
    78k paths costs about as much as a dozen hunk checks) and only when a patch fails."""

    def __init__(self, g: git.Git, commit: str, path: Path) -> None:
        self._g, self._commit, self._path = g, commit, path

    def env(self) -> dict[str, str]:
        env = {"GIT_INDEX_FILE": str(self._path)}
        if not self._path.exists():
            self._g.read_tree(self._commit, env=env)
        return env


def _apply_one(g: git.Git, base_index: _BaseIndex, patch: PatchText) -> ApplyResult:
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
    failed = _failing_hunks(g, files, env={})
    lacking = _lacking_preimage(g, files, failed)
    if lacking:  # `git am -3` would fail too, after rewriting the index twice (about 1 s a patch)
        am_error = f"git am -3 not tried: a 3-way merge needs {lacking}, which this tree lacks"
    else:
        code, out, err = _git(g, "am", "-3", "--keep-cr", stdin=patch.mbox)
        if code == 0:
            status = THREE_WAY if "3-way merge" in out + err else CLEAN
            return ApplyResult(patch.counter, patch.subject, status, _head(g), paths, paths)
        am_error = _trim(out + "\n" + err)
        g.am("--abort")
        failed = failed or _failing_hunks(g, files, env={})
    on_base = _failing_hunks(g, files, env=base_index.env())
    good = [p for p in paths if p not in {f.file for f in failed}]
    result = ApplyResult(patch.counter, patch.subject, FAILED, _head(g), paths, [], failed,
                         applies_to_base=not on_base, failed_on_base=on_base, message=am_error)
    if good and _apply_files(g, mail, good, len(paths)):
        result.status, result.commit, result.applied_files = PARTIAL, _head(g), good
    return result


def _lacking_preimage(g: git.Git, files: PatchSet, failed: list[HunkFailure]) -> str:
    """'the preimage blob of FILE (index SHA)' for the first failing file whose blob the
    repository lacks, else '' (no failure, or a 3-way merge may still work)."""
    failing = {f.file for f in failed}
    wanted = [(pf.path, m[1]) for pf in files if pf.path in failing
              for m in [_INDEX_LINE.search(_file_header(pf))] if m]
    if not wanted:
        return "" if not failing else "the preimage blobs (the patch names none)"
    answers = _git(g, "cat-file", "--batch-check", stdin="".join(f"{sha}\n" for _, sha in wanted))[1]
    for (path, sha), answer in zip(wanted, answers.splitlines()):
        if not answer.startswith(sha) or answer.split()[1:2] in (["missing"], ["ambiguous"]):
            return f"the preimage blob of {path} (index {sha})"
    return ""


_INDEX_LINE = re.compile(r"^index ([0-9a-f]{7,64})\.\.", re.MULTILINE)
_HUNK_FAILED = re.compile(r"error: patch failed: (.+):(\d+)")
_FILE_FAILED = {"does not exist in index": "file does not exist",
                "already exists in index": "file already exists"}


def _failing_hunks(g: git.Git, files: PatchSet, env: dict[str, str]) -> list[HunkFailure]:
    """Hunks that `git apply --cached --check` refuses against the index `env` names.

    One `--check --reject` run over the whole diff: with --reject git goes on past a
    failing file or hunk and names each ("patch failed: mm/memory.c:1469", the hunk's
    old start), instead of one git run per file and per hunk (v3: 439 runs, 25 s).
    What it prints that we cannot tie to a hunk of this diff sends us to the slow way.
    """
    _, _, err = _git(g, "apply", "--cached", "--check", "--reject", "-",
                     stdin="".join(str(pf) for pf in files), env=env)
    named = _named_failures(err, {name for pf in files for name in _names(pf)})
    if named is None:
        return _failing_hunks_one_by_one(g, files, env)
    failures = []
    for pf in files:
        file_reason = next((named[n] for n in _names(pf) if isinstance(named.get(n), str)), None)
        if file_reason:  # said of each hunk, as the one-by-one checks say it
            failures += ([HunkFailure(pf.path, _hunk_header(h), file_reason) for h in pf]
                         or [HunkFailure(pf.path, "", file_reason)])
            continue
        starts = set().union(*(named.get(n, set()) for n in _names(pf) if isinstance(named.get(n), set)))
        failures += [HunkFailure(pf.path, _hunk_header(h), "context does not match")
                     for h in pf if h.source_start in starts]
    if not failures and _check(g, "".join(str(pf) for pf in files), env) is not None:
        return _failing_hunks_one_by_one(g, files, env)  # refused, but not in a way we read
    return failures


def _named_failures(err: str, names: set[str]) -> dict[str, str | set[int]] | None:
    """{file: reason} or {file: failing hunks' old starts} from `git apply --reject`'s
    errors; None when an error line is not one of those about a file of this diff."""
    named: dict[str, str | set[int]] = {}
    lines = iter(err.splitlines())
    for line in lines:
        if line == "error: while searching for:":  # the hunk's context follows, up to a blank line
            for context in lines:
                if not context:
                    break
            continue
        if not line.startswith("error: "):
            continue
        hunk = _HUNK_FAILED.fullmatch(line)
        if hunk and hunk[1] in names and not isinstance(named.get(hunk[1]), str):
            named.setdefault(hunk[1], set()).add(int(hunk[2]))  # type: ignore[union-attr]
            continue
        name, _, what = line[len("error: "):].rpartition(": ")
        if name in names and what in _FILE_FAILED:
            named[name] = _FILE_FAILED[what]
            continue
        return None
    return named


def _names(pf) -> set[str]:
    """The paths git may call a file of a diff by: old and new name, a/ b/ prefixes off."""
    return {pf.path} | {n.split("/", 1)[1] for n in (pf.source_file, pf.target_file)
                        if n and n != "/dev/null" and "/" in n}


def _failing_hunks_one_by_one(g: git.Git, files: PatchSet, env: dict[str, str]) -> list[HunkFailure]:
    """The slow way: each file alone, then each hunk of a failing file alone."""
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
