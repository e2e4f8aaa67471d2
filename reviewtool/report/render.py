"""The one jinja environment of the reports and drafts, its escaping, and writing the files.

Everything from mail or tools is untrusted text. HTML autoescapes. Markdown
passes every printed value through `md_escape`, which leaves prose readable
(no HTML entities: a `<` that cannot start a tag stays `<`) but inert: a `<`
that could open a tag or an autolink, an `&` that could make an entity, and
Markdown's own syntax are backslash-escaped; code goes in fences sized to
their content. Plain text (the drafts) is not escaped at all: it is mail.
"""
from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup
from pygments.formatters import HtmlFormatter

from kernel.tree import default_cache_dir
from reviewtool.jsondata import write_atomic
from reviewtool.report.view import ReportView
from templates import TEMPLATE_DIR

_MD_SYNTAX = re.compile(r"([\\`*_\[\]|#])")
_TAG_START = re.compile(r"<(?=[A-Za-z/!?])")  # "<a", "</", "<!--", "<?": HTML or an autolink
_ENTITY = re.compile(r"&(?=#?\w+;)")  # "&lt;", "&#60;"
_QUOTE = re.compile(r"(?m)^(\s*)>")  # a blockquote at the start of a line


def md_escape(value: Any) -> Any:
    """Make mail text inert in Markdown: no HTML, no links, no emphasis tricks, no entities."""
    if isinstance(value, Markup) or not isinstance(value, str):
        return value
    text = _MD_SYNTAX.sub(r"\\\1", value)
    text = _TAG_START.sub(r"\\<", text)
    text = _ENTITY.sub(r"\\&", text)
    return _QUOTE.sub(r"\1\\>", text)


def fence(text: str, lang: str = "") -> Markup:
    """A fenced block longer than any backtick run inside, so the text cannot close it."""
    runs = [len(m) for m in re.findall(r"`+", text)]
    ticks = "`" * max(3, max(runs, default=0) + 1)
    return Markup(f"{ticks}{lang}\n{text}\n{ticks}")


def compiled_templates() -> jinja2.FileSystemBytecodeCache:
    """Where compiled templates are kept (jinja2 checks each against its source)."""
    compiled = default_cache_dir() / "templates"
    compiled.mkdir(parents=True, exist_ok=True)
    return jinja2.FileSystemBytecodeCache(str(compiled))


@functools.cache
def environment(kind: str) -> jinja2.Environment:
    """html: autoescaped; md: every printed value escaped by md_escape unless fenced; txt: as is.
    One per kind and process, and compiled templates are kept in the cache directory: a re-run
    spends no time compiling them."""
    options: dict[str, Any] = {"autoescape": kind == "html"}
    if kind == "md":
        options["finalize"] = md_escape
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)), trim_blocks=True,
                             bytecode_cache=compiled_templates(),
                             lstrip_blocks=True, keep_trailing_newline=kind != "html",
                             undefined=jinja2.StrictUndefined, **options)
    env.filters["fence"] = fence
    env.globals["pygments_css"] = Markup(HtmlFormatter().get_style_defs(".hl"))
    return env


def render(view: ReportView, kind: str) -> str:
    return environment(kind).get_template(f"report.{kind}.j2").render(v=view)


def write_report(view: ReportView, run_dir: Path) -> list[Path]:
    """Write report.html and report.md into run_dir; returns their paths."""
    written = []
    for kind in ("html", "md"):
        path = run_dir / f"report.{kind}"
        write_atomic(path, render(view, kind))  # never a half-written report
        written.append(path)
    return written
