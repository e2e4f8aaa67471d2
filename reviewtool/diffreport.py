"""The per-version report: what changed between revisions, and what became of the review.

Composes the series stages (pairing, interdiff, changelog claims, comment
carry-over) into one JSON-ready dict for each pair of revisions (each
consecutive pair, plus first -> last), and renders it as HTML and Markdown.
`reviewtool review` reads `open_comments` to show still-open comments at the
lines they concern in the newest revision.
"""
from __future__ import annotations

import json
import sys
from dataclasses import asdict, replace
from pathlib import Path

import jinja2

from reviewtool.report import md_escape
from reviewtool.report.render import compiled_templates
from series.carryover import CarriedComment
from series.changelog import check_claims, parse_changelog
from series.comments import extract_comments
from series.commentstatus import carry_over
from series.interdiff import interdiff, interdiff_stats
from series.model import ReviewComment, Series
from series.rangediff import range_diff
from series.versions import (order_versions, pair_patches, posting_date, posting_key, posting_labels,
                             revision_links)

REPORT_FILES = ("versions.html", "versions.md", "versions.json")


def _progress(msg: str) -> None:
    print(f"reviewtool diff: {msg}", file=sys.stderr)


def version_pairs(ordered: list[Series]) -> list[tuple[Series, Series]]:
    """Each consecutive pair, then first -> last when that is not one of them."""
    pairs = list(zip(ordered, ordered[1:]))
    if len(ordered) > 2:
        pairs.append((ordered[0], ordered[-1]))
    return pairs


def changelog_claims(old: Series, new: Series, ordered: list[Series]) -> list[str]:
    """The changelog entries for revisions old+1..new, newest cover letter first to say them."""
    # Walk the revisions the cover letters name, not range(old, new): the numbers come from
    # mail, and "[PATCH v99999999999]" must not mean a hundred billion iterations.
    logs = [(s.revision, parse_changelog(s.cover.body))
            for s in sorted(ordered, key=lambda s: -s.revision) if s.cover and s.revision > old.revision]
    claims: list[str] = []
    for rev in sorted({r for _, log in logs for r in log if old.revision < r <= new.revision}):
        claims.extend(next((log[rev] for srev, log in logs if srev >= rev and log.get(rev)), []))
    return claims


def own_thread(series: Series) -> Series:
    """The series with only the mails of its own revision.

    A thread that holds several revisions gives each Series every mail;
    replies to v1 must not be read as comments on v2.
    """
    roots = {p.msgid for p in series.patches} | ({series.cover.msgid} if series.cover else set())
    children: dict[str, list[str]] = {}
    for m in series.thread:
        children.setdefault(m.parent or m.in_reply_to, []).append(m.msgid)
    keep, todo = set(), list(roots)
    while todo:
        msgid = todo.pop()
        if msgid not in keep:
            keep.add(msgid)
            todo.extend(children.get(msgid, []))
    return replace(series, thread=[m for m in series.thread if m.msgid in keep])


def _pair_report(old: Series, new: Series, ordered: list[Series],
                 comments: list[ReviewComment], tree: Path | None) -> dict:
    pairing = pair_patches(old, new)
    by_old = {p.counter: p for p in old.patches}
    by_new = {p.counter: p for p in new.patches}
    diffs = []
    for g in pairing.groups:
        olds = [by_old[c] for c in g.old if c in by_old]
        news = [by_new[c] for c in g.new if c in by_new]
        if not olds or not news:
            continue
        text = interdiff(olds, news)
        minus, plus = interdiff_stats(text)
        diffs.append({"kind": g.kind, "old": g.old, "new": g.new, "text": text,
                      "lines_removed": minus, "lines_added": plus, "identical": not text})
    said = changelog_claims(old, new, ordered)
    claims = check_claims(said, old, new, pairing)
    carried = carry_over(comments, old, new, pairing, claims=said,
                         new_comments=extract_comments(own_thread(new)))
    counts: dict[str, int] = {}
    for c in carried:
        counts[c.status] = counts.get(c.status, 0) + 1
    return {
        "old_revision": old.revision,
        "new_revision": new.revision,
        "old_expected": old.expected,
        "new_expected": new.expected,
        "old_missing": old.missing,
        "new_missing": new.missing,
        "pairing": asdict(pairing),
        "interdiffs": diffs,
        "changelog": [asdict(c) for c in claims],
        "comments": [asdict(c) for c in carried],
        "comment_counts": counts,
        "range_diff": asdict(range_diff(old, new, tree)) if tree else None,
    }


def open_comment_rows(carried: list[CarriedComment] | list[dict]) -> list[dict]:
    """The still-open comments, shaped for the review report to place at their lines."""
    rows = []
    for c in carried:
        d = c if isinstance(c, dict) else asdict(c)
        if d["status"] != "open":
            continue
        rows.append({key: d[key] for key in (
            "new_revision", "new_patch", "new_path", "new_line", "text", "status", "evidence",
            "author", "msgid", "old_revision", "old_patch", "confidence", "item", "kind", "status_rule",
            "evidence_items")})
    return rows


def version_report(series_list: list[Series],
                   comments: dict[int, list[ReviewComment]] | None = None,
                   tree: Path | None = None) -> dict:
    """Everything the per-version report shows, as plain JSON-ready data.

    `comments` maps a version number to its review comments (for every
    posting of it); the others get theirs from `series.comments.extract_comments`.
    Postings with the same version number are ordered by date and told
    apart by their labels ("v1 (2021-07-18)"). With a git `tree` holding
    the preimage blobs, each pair also gets a `git range-diff`. Raises
    SeriesInputError for fewer than two revisions or revisions of different series.
    """
    ordered = order_versions(series_list)
    labels = dict(zip(map(posting_key, ordered), posting_labels(ordered)))
    links = {(lk.old_label, lk.new_label): asdict(lk) for lk in revision_links(ordered)}
    given = comments or {}
    found: dict[str, list[ReviewComment]] = {}
    pairs = []
    for old, new in version_pairs(ordered):
        old_label, new_label = labels[posting_key(old)], labels[posting_key(new)]
        _progress(f"{old_label} -> {new_label}: pairing, interdiff, changelog, comments")
        key = posting_key(old)
        if key not in found:
            found[key] = given.get(old.revision) or extract_comments(own_thread(old))
        pair = _pair_report(old, new, ordered, found[key], tree)
        pair.update(old_label=old_label, new_label=new_label, link=links.get((old_label, new_label)))
        pairs.append(pair)
    last_consecutive = pairs[len(ordered) - 2]  # version_pairs lists the consecutive pairs first
    return {
        "subject": ordered[-1].subject,
        "author": ordered[-1].author,
        "revisions": [{"revision": s.revision, "label": labels[posting_key(s)], "expected": s.expected,
                       "present": len(s.patches), "missing": s.missing,
                       "cover_msgid": s.cover.msgid if s.cover else "", "subject": s.subject,
                       "date": posting_date(s)}
                      for s in ordered],
        "links": list(links.values()),
        "pairs": pairs,
        "pairings": [p["pairing"] for p in pairs],  # the pairing alone, as the review report reads it
        "open_comments": open_comment_rows(last_consecutive["comments"]),
    }


def _md_cell(text: object) -> str:
    """Mail text inside a Markdown table cell: one line, made inert as the review report does."""
    return md_escape(" ".join(str(text).split()))


def _fence(text: str) -> str:
    """Keep mail text from closing the ~~~~ fence it is shown in."""
    return "\n".join(" " + line if line.startswith("~~~") else line for line in text.rstrip("\n").splitlines())


def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("templates", "."),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html", "html.j2"), default=False),
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
        bytecode_cache=compiled_templates(),
    )
    env.filters["md"] = _md_cell
    env.filters["fence"] = _fence
    return env


def write_version_report(report: dict, out_dir: Path) -> list[Path]:
    """Write versions.html, versions.md and versions.json into `out_dir`; return their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    env = _env()
    paths = []
    for name, template in (("versions.html", "diff.html.j2"), ("versions.md", "diff.md.j2")):
        path = out_dir / name
        path.write_text(env.get_template(template).render(r=report), encoding="utf-8")
        paths.append(path)
    path = out_dir / "versions.json"
    path.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    paths.append(path)
    return paths
