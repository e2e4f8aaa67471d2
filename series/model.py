"""Plain data the mail side hands to the rest of the tool.

These dataclasses are the contract between `series` and its users: the
`kernel` side never sees them (it gets patch text and paths), `reviewtool`
composes them into results.json. Everything here round-trips through
`dataclasses.asdict` and JSON, so a stage can be cached by content.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Hunk:
    """One @@ hunk of a file diff, with enough to quote it back in a reply."""

    source_start: int
    source_length: int
    target_start: int
    target_length: int
    section_header: str  # the function name git prints after @@ ... @@
    added: int
    removed: int
    text: str  # the hunk as it appears in the mail, header line included


@dataclass
class FileChange:
    """One file touched by a patch, as unidiff sees it."""

    path: str  # post-image path (pre-image path for a deleted file)
    old_path: str  # pre-image path (equals path unless renamed)
    status: str  # "modified" | "added" | "deleted" | "renamed"
    added: int
    removed: int
    is_binary: bool
    hunks: list[Hunk] = field(default_factory=list)


@dataclass
class Trailer:
    """A Reviewed-by/Acked-by/... line; `source_msgid` is the mail that gave it."""

    name: str  # canonical case, e.g. "Reviewed-by"
    value: str  # e.g. "Jane Doe <jane@example.org>"
    source_msgid: str
    # Why this trailer should not be applied blindly, e.g. the 0-day robot's
    # *suggested* Reported-by, or a person trailer whose name is not the sender's.
    caution: str = ""


@dataclass
class Patch:
    """One patch mail of a series, with its diff parsed."""

    counter: int  # 1-based position, "N" of [PATCH vR N/M]
    expected: int  # "M" of [PATCH vR N/M]
    revision: int
    msgid: str
    subject: str  # without the [PATCH ...] prefix
    author: str  # "Name <email>" of the From: line
    date: str  # ISO 8601
    commit_message: str  # body above the first "---" line
    diff: str  # the unified diff as mailed (from the first "diff --git")
    files: list[FileChange]
    git_patch_id: str  # stable patch-id of the diff, "" when it has no diff
    trailers: list[Trailer]  # those written in the patch itself (Signed-off-by...)
    followup_trailers: list[Trailer]  # given in replies to this patch or the cover
    mbox: str  # the mail as `git am` takes it (b4's am-ready message), for apply/checkpatch

    @property
    def added(self) -> int:
        return sum(f.added for f in self.files)

    @property
    def removed(self) -> int:
        return sum(f.removed for f in self.files)


@dataclass
class DiffstatEntry:
    """One line of a cover letter's diffstat: ` mm/memory.c | 12 +++---`."""

    path: str  # as printed: may be shortened with ".../" by git
    changes: int


@dataclass
class DiffstatCheck:
    """The cover's diffstat against the patches present.

    The cover counts the net change of the whole series, the patches count
    each step, so per file the cover can be smaller than the sum (a line added
    then changed again) but never larger, unless a patch is missing. Files the
    cover lists that no present patch touches, or with more changes in the
    cover than in all present patches, are what the missing patches touched.
    """

    cover_files: int  # "N files changed" of the cover
    present_files: int  # distinct files the present patches touch
    only_in_cover: list[str]  # paths (as the cover prints them) no present patch touches
    more_in_cover: list[DiffstatEntry]  # cover count above the present patches' sum (the cover's count)
    only_in_patches: list[str]  # files the patches touch that the cover does not list
    consistent: bool  # True when every difference is explained by a missing patch (or none)
    explanation: str  # one sentence for the report


@dataclass
class Cover:
    """The 0/N mail."""

    msgid: str
    subject: str
    author: str
    date: str
    body: str
    diffstat: list[DiffstatEntry]
    diffstat_summary: str  # "15 files changed, 400 insertions(+), 60 deletions(-)" as printed


@dataclass
class BotError:
    """One error/warning line of a kernel test robot report."""

    path: str
    line: int
    column: int
    severity: str  # "error" | "warning" | "note"
    message: str
    new: bool  # marked ">>" by the robot: introduced by the patch


@dataclass
class BotReport:
    """A kernel test robot (0-day) build report replying to a patch."""

    msgid: str
    in_reply_to: str
    patch_counter: int | None  # the patch it answers, None for the cover
    tree: str  # "url branch" or base commit line as the robot wrote it
    config: str  # e.g. "ia64-defconfig"
    compiler: str
    errors: list[BotError]


@dataclass
class Message:
    """One mail of the thread, placed in the reply tree."""

    msgid: str
    in_reply_to: str  # "" for the thread root
    subject: str
    author: str
    date: str  # ISO 8601
    kind: str  # "cover" | "patch" | "reply" | "bot-report" | "other"
    depth: int  # 0 for the root
    body: str  # decoded text body
    patch_counter: int | None = None  # for kind == "patch"
    # The mail it hangs under in the tree: in_reply_to, or when that mail is not
    # in the thread (lost from the archive) the nearest References entry that is; "" for a root.
    parent: str = ""


@dataclass
class Series:
    """One revision of a series as it is in the thread: nothing guessed."""

    revision: int
    expected: int
    subject: str  # cover subject without prefix, else the first patch's
    author: str
    cover: Cover | None
    patches: list[Patch]  # present patches in counter order
    missing: list[int]  # counters in 1..expected with no mail
    duplicates: list[int]  # counters seen more than once (first one kept)
    base_commit: str  # from "base-commit:" or "", never guessed here
    base_hint: str  # free text such as "next-20211108" from the cover, or ""
    change_id: str
    thread: list[Message]  # every mail, in tree order (depth-first by date)
    bot_reports: list[BotReport]
    revisions_in_thread: list[int]  # all revisions b4 found in the input
    diffstat_check: DiffstatCheck | None = None  # None without a cover diffstat

    @property
    def complete(self) -> bool:
        return not self.missing

    def label(self, counter: int) -> str:
        """"06/15": the counter padded to the width of the total, as in the subjects."""
        return f"{counter:0{len(str(self.expected))}d}/{self.expected}"


@dataclass
class Anchor:
    """Where a review paragraph points: series, patch, file, hunk and lines."""

    level: str  # "series" | "patch" | "commit-message" | "hunk" | "message"
    patch_counter: int | None  # None when it anchors to the series (cover letter)
    path: str = ""  # file of the hunk, "" above hunk level
    hunk_index: int | None = None  # index into FileChange.hunks
    line: int | None = None  # post-image line number the paragraph follows (pre-image for "-" lines)
    quoted: list[str] = field(default_factory=list)  # the quoted lines it follows, as in the patch
    confidence: str = "high"  # "high" | "medium" | "low"
    inherited_from: str = ""  # msgid whose anchor a nested reply inherits


@dataclass
class ReviewComment:
    """One paragraph a person wrote in a reply, tied to what it answers."""

    msgid: str
    author: str
    date: str
    revision: int
    text: str
    anchor: Anchor
    in_reply_to: str = ""
