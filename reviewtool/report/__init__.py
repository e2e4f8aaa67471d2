"""report.html, report.md (and the drafts' findings) from the typed Review.

By job: `view` builds the view model once per review, `diffview` numbers and
highlights the diff, `placement` puts each note under the line it concerns,
`grouping` says the same thing once, `render` is the one jinja environment.
"""
from reviewtool.report.render import md_escape  # noqa: E402  (the versions report escapes with it too)

__all__ = ["md_escape"]
