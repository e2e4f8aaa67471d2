"""The kernel test robot's reports re-checked by rebuilding what they name (kernel.botrebuild),
as a cached tree stage; a report that names no .c/.S file is checked against the run's own
builds instead (kernel.botrecheck)."""
from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

from kernel import botrecheck
from kernel.botrebuild import ROBOT, Candidate, RebuildOptions, rebuild_report
from kernel.build import RULES_VERSION, out_dir_lock
from kernel.model import SeriesApply, SeriesBuild
from reviewtool.buildcoverage import Built
from reviewtool.jsondata import to_jsonable
from reviewtool.treestages import BuildOptions, LazyWorktree, TreeJob

# Part of the cached verdicts' key: raised when what a re-check does changes (3: files of the
# patch that did not apply are left out, not the whole report; a header of it said too).
_VERSION = 3


def recheck_reports(job: TreeJob, lazy: LazyWorktree, reports: list[botrecheck.RobotReport], built: list[Built],
                    out_root: Path, opts: BuildOptions, applied: SeriesApply,
                    builds: list[SeriesBuild]) -> list[botrecheck.Recheck]:
    """One verdict per report, in order (cached by base, mails, reports and the run's configs)."""
    if not reports:
        return []
    key = [job.base.commit, job.patch_hashes(), to_jsonable(reports), RULES_VERSION, _VERSION,
           [[b.arch.digest, b.config.digest] for b in built]]

    def compute() -> list[botrecheck.Recheck]:
        candidates = [Candidate(b.arch, b.config, b.out / ".config") for b in built]
        rebuild_opts = RebuildOptions(out_root, opts.timeout_s, opts.jobs, opts.ccache, opts.sandbox)
        out = []
        with ExitStack() as stack:
            for arch in sorted({b.arch.name for b in built}):  # two makes in one O= dir would corrupt it
                stack.enter_context(out_dir_lock(out_root / f"{arch}-{ROBOT}", f"{arch}/{ROBOT}"))
            for report in reports:
                work, here = lazy.get()  # the worktree's own commits: `applied` may come from the cache
                verdict = rebuild_report(work, here, report, candidates, rebuild_opts)
                out.append(verdict or botrecheck.recheck([report], applied, builds)[0])
        return out
    return job.cache.get_or_compute("robot-rebuild", key, list[botrecheck.Recheck], compute)
