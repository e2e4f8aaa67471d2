"""Plain data in and out of the code side (apply, build).

`kernel` never sees the mail-side model: it takes `PatchText` (what any caller
can make from an mbox) and returns these dataclasses, which round-trip through
`dataclasses.asdict` and JSON so reviewtool can cache and render them.
"""
from __future__ import annotations

from dataclasses import dataclass, field

# ApplyResult.status values, in order of how much of the patch is in the tree.
CLEAN, THREE_WAY, PARTIAL, FAILED, SKIPPED = "clean", "3way", "partial", "failed", "skipped"
PREPARE = "prepare"  # Kbuild's goal, as BuildResult.target and as a pseudo object of its messages


@dataclass
class PatchText:
    """One patch as `git am` takes it."""

    counter: int  # N of [PATCH N/M]
    subject: str
    mbox: str  # a complete mail, am-ready


@dataclass
class BaseChoice:
    """The commit the series is applied to, and how sure we are of it."""

    commit: str  # full sha in the tree
    describe: str  # `git describe` of it, or its subject line
    source: str  # "option" (--base) | "base-commit" | "index-blobs" | "head"
    wanted: str  # what the series asked for: its base-commit sha, or "" if none
    warning: str = ""  # set when the base is a fallback the user should know about


@dataclass
class HunkFailure:
    """One hunk (or a whole file) that does not apply."""

    file: str
    hunk: str  # "@@ -1234,7 +1234,9 @@ func" as in the patch; "" for a file-level failure
    reason: str  # "context does not match" | "file does not exist" | "file already exists" | git's text


@dataclass
class ApplyResult:
    """What became of one patch, applied in order on top of the earlier ones."""

    counter: int
    subject: str
    status: str  # CLEAN | THREE_WAY | PARTIAL | FAILED | SKIPPED
    commit: str  # worktree commit holding the tree after this patch ("" if nothing ever applied)
    files: list[str]  # every file the patch touches
    applied_files: list[str]  # the ones now in the tree
    failed: list[HunkFailure] = field(default_factory=list)  # in order, against the series so far
    # The same patch checked alone against the base: True/False, None when it
    # applied in order (then checking it alone tells nothing new).
    applies_to_base: bool | None = None
    failed_on_base: list[HunkFailure] = field(default_factory=list)
    message: str = ""  # git am's own complaint, trimmed, for a failed or skipped patch

    @property
    def partial(self) -> bool:
        """True when the tree after this patch lacks some of it: results built on it are partial."""
        return self.status in (PARTIAL, FAILED)


@dataclass
class SeriesApply:
    base: BaseChoice
    patches: list[ApplyResult]

    @property
    def tip(self) -> str:
        commits = [p.commit for p in self.patches if p.commit]
        return commits[-1] if commits else self.base.commit


@dataclass
class Diagnostic:
    """One compiler/linker message, as the 0-day robot quotes them."""

    file: str  # relative to the tree top, "" for a linker message without a file
    line: int
    column: int
    severity: str  # "error" | "warning"
    message: str  # without the [-Wflag] suffix
    flag: str = ""  # "-Wunused-variable", "" if none

    def key(self) -> tuple[str, str, str, str]:
        """Identity for the baseline diff: line numbers move, messages don't."""
        return (self.file, self.severity, self.message, self.flag)


@dataclass
class BuildResult:
    """One build of one tree state for one arch and config.

    `patch` is 0 for the base build that the warnings are diffed against.
    """

    patch: int
    arch: str
    config: str
    target: str  # "objects", "vmlinux" or "prepare"
    # "ok" | "new-warnings" | "errors" (new ones, or make failed without a message) |
    # "inherited-errors" (only errors the base or an earlier patch already had) |
    # "timeout" | "not-applied" | "nothing-to-build"
    status: str
    partial: bool  # built on a tree that lacks part of this patch or an earlier one
    objects: list[str] = field(default_factory=list)  # built (or tried), e.g. "mm/memory.o"
    failed_objects: list[str] = field(default_factory=list)
    # Touched sources this config/arch does not compile: "not built under this config", never breakage.
    not_built: list[str] = field(default_factory=list)
    header_users: dict[str, list[str]] = field(default_factory=dict)  # changed header -> objects built for it
    errors: list[Diagnostic] = field(default_factory=list)  # new in this build, one per place
    inherited_errors: list[Diagnostic] = field(default_factory=list)  # same file+message seen before
    new_warnings: list[Diagnostic] = field(default_factory=list)  # not in the base build
    warnings_total: int = 0  # all warnings of these objects, old ones included
    duration_s: float = 0.0
    timed_out: bool = False
    log_tail: str = ""  # last lines of make's output when it failed without a parsed error
    # The patch's own `make prepare` (target "prepare"), for a patch touching headers, asm-offsets,
    # Kconfig, Makefiles, scripts/ or tools/; its warnings diffed against the base's prepare.
    prepare: BuildResult | None = None


@dataclass
class SeriesBuild:
    """All builds of one series for one arch and config."""

    arch: str
    config: str
    missing_options: list[str]  # asked for by the config file but not set after olddefconfig
    base: BuildResult
    patches: list[BuildResult] = field(default_factory=list)
    tip: BuildResult | None = None  # full vmlinux at the series tip (full_build configs)
