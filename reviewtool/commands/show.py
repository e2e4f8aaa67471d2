"""`reviewtool show`: what the thread holds, before anything is applied or built.

Exits 1 when the thread alone shows a finding (missing patches, the kernel
test robot's errors), as every command does (reviewtool.findings).

Patches with files and +/-, replies and trailers per patch, missing patches,
the cover diffstat check and the kernel test robot's reports; `--json` prints
the Series itself (schema: docs/show-json.md).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys

from reviewtool.commands._source import add_source_arguments, series_from_args
from reviewtool.findings import exit_code, ranges, series_findings
from series.model import Message, Patch, Series

EPILOG = """examples:
  reviewtool show --bundled pte-v3
  reviewtool show --bundled pte-v2 --revision 2 --json
  git format-patch --cover-letter --thread --stdout HEAD~2 | reviewtool show -   # your own series
  reviewtool show '<20211110105428.32458-1-zhengqi.arch@bytedance.com>'    # fetched with b4 (b4.midmask)
  reviewtool show https://lore.kernel.org/all/20211110105428.32458-1-zhengqi.arch@bytedance.com/
  reviewtool show 20211110105428.32458-1-zhengqi.arch@bytedance.com --midmask https://lore.kernel.org/linux-mm/%s
"""

SUBJECT_WIDTH = 58


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "show", help="summarise a series: patches, files, replies, trailers, missing, bot reports",
        description=__doc__, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_source_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print the Series as JSON (docs/show-json.md)")
    parser.set_defaults(command_module=sys.modules[__name__])


def run(args: argparse.Namespace) -> int:
    _thread, series = series_from_args(args)
    if args.json:
        json.dump(dataclasses.asdict(series), sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(render(series))
    return exit_code(series_findings(series))


def render(series: Series) -> str:
    """The readable summary: a header, one row per patch (files under it), then the checks."""
    replies = _replies_per_counter(series.thread)
    lines = [
        f"v{series.revision}: {series.subject}",
        f"  from {series.author}; {len(series.thread)} mails in the thread"
        + (f"; revisions in the input: {', '.join(f'v{r}' for r in series.revisions_in_thread)}"
           if len(series.revisions_in_thread) > 1 else ""),
        f"  base: {_base(series)}",
        f"  patches: {len(series.patches)} of {series.expected} present"
        + (f"; MISSING: {ranges(series.missing)}" if series.missing else "")
        + (f"; DUPLICATE: {', '.join(series.label(c) for c in series.duplicates)}"
           if series.duplicates else ""),
        "",
        f"  {'#':>5}  {'subject':<{SUBJECT_WIDTH}}  {'files':>5}  {'+':>5}  {'-':>5}  replies",
    ]
    if series.cover:
        lines.append(f"  {series.label(0):>5}  {_cut(series.cover.subject):<{SUBJECT_WIDTH}}"
                     f"  {len(series.cover.diffstat):>5}  {'':>5}  {'':>5}  {replies.get(0, 0):>7}")
    present = {p.counter: p for p in series.patches}
    for counter in range(1, series.expected + 1):
        patch = present.get(counter)
        if patch is None:
            lines.append(f"  {series.label(counter):>5}  (missing: not in the thread)")
            continue
        lines.extend(_patch_rows(patch, series.label(counter), replies.get(counter, 0)))
    lines.extend(_cover_check(series))
    lines.extend(_bot_reports(series))
    return "\n".join(lines) + "\n"


def _patch_rows(patch: Patch, label: str, replies: int) -> list[str]:
    rows = [f"  {label:>5}  {_cut(patch.subject):<{SUBJECT_WIDTH}}"
            f"  {len(patch.files):>5}  {patch.added:>5}  {patch.removed:>5}  {replies:>7}"]
    for change in patch.files:
        status = "" if change.status == "modified" else f" ({change.status}"
        status += f" from {change.old_path})" if change.status == "renamed" else (")" if status else "")
        rows.append(f"         {change.path}{status}  +{change.added} -{change.removed}"
                    + (" binary" if change.is_binary else ""))
    for trailer in patch.followup_trailers:
        caution = f"  [caution: {trailer.caution}]" if trailer.caution else ""
        rows.append(f"         {trailer.name}: {trailer.value}{caution}")
    return rows


def _cover_check(series: Series) -> list[str]:
    check = series.diffstat_check
    if check is None:
        return ["", "  cover diffstat: none" + (" (no cover letter)" if series.cover is None else "")]
    lines = ["", f"  cover diffstat: {series.cover.diffstat_summary}",
             f"    {'consistent' if check.consistent else 'INCONSISTENT'}: {check.explanation}"]
    for path in check.only_in_cover:
        lines.append(f"    only in the cover: {path}")
    for entry in check.more_in_cover:
        lines.append(f"    more changes in the cover: {entry.path} ({entry.changes})")
    for path in check.only_in_patches:
        lines.append(f"    not in the cover: {path}")
    return lines


def _bot_reports(series: Series) -> list[str]:
    if not series.bot_reports:
        return ["", "  bot reports: none"]
    lines = ["", "  bot reports (kernel test robot):"]
    for report in series.bot_reports:
        target = series.label(report.patch_counter) if report.patch_counter else "cover"
        new = [e for e in report.errors if e.new]
        lines.append(f"    {target}: {report.config}, {report.compiler}, on {report.tree}: "
                     f"{len(new)} new of {len(report.errors)} diagnostics")
        for error in new:
            lines.append(f"      >> {error.path}:{error.line}:{error.column}: {error.severity}: {error.message}")
    return lines


def _replies_per_counter(thread: list[Message]) -> dict[int, int]:
    """Mails below each patch (0: the cover) in the reply tree, robot reports included."""
    by_id = {m.msgid: m for m in thread}
    counts: dict[int, int] = {}
    for msg in thread:
        if msg.kind in ("patch", "cover"):
            continue
        up = by_id.get(msg.parent)
        while up is not None and up.kind not in ("patch", "cover"):
            up = by_id.get(up.parent)
        if up is not None:
            key = up.patch_counter if up.kind == "patch" and up.patch_counter is not None else 0
            counts[key] = counts.get(key, 0) + 1
    return counts


def _base(series: Series) -> str:
    if series.base_commit:
        return f"base-commit {series.base_commit}"
    if series.base_hint:
        return f"{series.base_hint} (named in the cover letter; no base-commit line)"
    return "unknown (no base-commit line, no hint in the cover)"


def _cut(text: str) -> str:
    return text if len(text) <= SUBJECT_WIDTH else text[: SUBJECT_WIDTH - 1] + "…"
