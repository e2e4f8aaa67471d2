"""`reviewtool build`: build every patch of a series for each arch and config.

For each arch (kernel/arches/) and config (kernel/configs/), one O= directory
is reused from the base through every patch: the base is built first, then
the objects each patch touches (Kbuild decides which are built under the
config; a header change also builds a few of its users), and for a
`full_build` config vmlinux at the series tip.  Errors are reported, and only
the W=1 warnings that the base build did not have.

Results are cached by (base, the patches up to this one, arch, config), so a
re-run redoes only what changed; with nothing changed it builds nothing.

A patch can change any Makefile or script, so make runs under bubblewrap: no
network, the file system read-only except the worktree, the O= and ccache
directories, an empty home and /tmp, limits on CPU time, wall time
(--build-timeout), file size, memory and processes.  Without a working
bubblewrap the build is refused (exit 3) unless --no-sandbox is given.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import sys

from kernel.build import DEFAULT_TIMEOUT_S
from kernel.matrix import load_arch, load_config
from kernel.model import BuildResult, SeriesApply, SeriesBuild
from reviewtool import treestages
from reviewtool.buildcoverage import build_matrix
from reviewtool.commands._matrix import add_matrix_arguments
from reviewtool.commands._matrix import arches as matrix_arches
from reviewtool.commands._matrix import configs as matrix_configs
from reviewtool.commands._sandbox import add_sandbox_argument, sandbox_from_args
from reviewtool.commands._source import add_source_arguments
from reviewtool.commands.apply import add_tree_arguments, prepare
from reviewtool.errors import UsageError
from reviewtool.findings import apply_findings, build_findings, exit_code, series_findings
from reviewtool.jsondata import dumps, write_atomic
from reviewtool.treestages import BuildOptions, LazyWorktree

EPILOG = """examples:
  reviewtool build --bundled pte-v3                 # x86_64 and arm64; mm-on, mm-off and auto
  reviewtool build --bundled pte-v3 --arch arm64 --config mm-off --json
  reviewtool build --bundled pte-v3 --arch x86_64 --config mm-off --no-sandbox   # patches you trust, no bwrap
  reviewtool build --bundled pte-v3 --arch x86_64,i386 --config auto --config mm-off
  git format-patch --thread --stdout v6.1..HEAD > s.mbox && reviewtool build --mbox s.mbox --tree . --base v6.1

exit status: 0 no errors and no new warnings, 1 errors, new warnings, time-outs,
patches that did not (fully) apply or are missing, 2 bad input, 3 a tool or the machine failed
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "build", help="build each patch per arch and config (mm-on, mm-off, auto)",
        description=__doc__, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_source_arguments(parser)
    add_tree_arguments(parser)
    add_matrix_arguments(parser)
    parser.add_argument("--build-timeout", type=float, default=DEFAULT_TIMEOUT_S, metavar="SECONDS",
                        help=f"time limit of one make run; it is killed and reported (default: {DEFAULT_TIMEOUT_S:.0f})")
    parser.add_argument("--no-full-build", action="store_true",
                        help="skip vmlinux at the base and tip, even for full_build configs")
    parser.add_argument("--no-ccache", action="store_true", help="compile without ccache")
    add_sandbox_argument(parser)
    parser.add_argument("-j", "--jobs", type=int, default=2, metavar="N", help="make -jN (default: 2)")
    parser.add_argument("--json", action="store_true", help="machine output on stdout")
    parser.set_defaults(command_module=sys.modules[__name__])


def run(args: argparse.Namespace) -> int:
    if args.jobs < 1 or args.build_timeout <= 0:
        raise UsageError("--jobs and --build-timeout must be positive")
    arches = [load_arch(a) for a in matrix_arches(args)]
    configs = [load_config(c) for c in matrix_configs(args)]
    sandbox = sandbox_from_args(args)
    sandbox.require()  # before the slow steps
    series, job = prepare(args, "build")
    opts = BuildOptions(timeout_s=args.build_timeout, jobs=args.jobs, ccache=not args.no_ccache,
                        full_build=not args.no_full_build, sandbox=sandbox)
    with contextlib.ExitStack() as stack:
        lazy = LazyWorktree(job, stack)
        applied = treestages.applied(job, lazy)
        matrix = build_matrix(job, lazy, arches, configs, job.run_dir / "build", opts)
    builds = matrix.builds
    results = {"sandbox": sandbox.label, "apply": applied, "builds": builds, "auto": matrix.auto}
    write_atomic(job.run_dir / "build.json", dumps(results) + "\n")
    if args.json:
        print(json.dumps(json.loads(dumps(results)), indent=1))
    else:
        print(f"sandbox: {sandbox.label}\n{format_table(applied, builds)}")
        for d in matrix.auto:
            if d.status != "built":
                print(f"== {d.arch} / {d.config}: {d.status} ({d.detail})")
    return exit_code(series_findings(series) + apply_findings(applied) + build_findings(builds))


def format_table(applied: SeriesApply, builds: list[SeriesBuild]) -> str:
    lines = []
    for b in builds:
        lines.append(f"== {b.arch} / {b.config}" + (f"  (options not available: {', '.join(b.missing_options)})"
                                                   if b.missing_options else ""))
        lines.append(f"  base  {b.base.status:16} {len(b.base.objects)} objects, "
                     f"{b.base.warnings_total} warnings, {b.base.duration_s:.0f} s")
        for r in [*b.patches, *([b.tip] if b.tip else [])]:
            name = "tip " if r.target == "vmlinux" else f"{r.patch:>3} "
            partial = " [partial]" if r.partial else ""
            if r.prepare:  # the patch's own `make prepare`, before its objects
                lines.append(f"        prepare  {r.prepare.status:16} ({r.prepare.duration_s:.0f} s)")
                lines += _messages(r.prepare, "          ")
            lines.append(f"  {name}  {r.status:16}{partial} {', '.join(r.objects) or '-'}  ({r.duration_s:.0f} s)")
            if r.not_built:
                lines.append(f"        not built under this config: {', '.join(r.not_built)}")
            lines += _messages(r, "        ")
    return "\n".join(lines)


def _messages(r: BuildResult, indent: str) -> list[str]:
    """A build's errors, inherited errors (counted), new warnings, or make's last lines."""
    lines = [f"{indent}error: {_where(d)}{d.message}" for d in r.errors]
    if r.inherited_errors:
        first = r.inherited_errors[0]
        lines.append(f"{indent}+ {len(r.inherited_errors)} errors an earlier patch already had "
                     f"(first: {_where(first)}{first.message})")
    lines += [f"{indent}>> new warning: {_where(d)}{d.message}{f' [{d.flag}]' if d.flag else ''}"
              for d in r.new_warnings]
    if r.log_tail and not r.errors:
        lines += [f"{indent}| {t}" for t in r.log_tail.splitlines()[-5:]]
    return lines


def _where(d) -> str:
    return f"{d.file}:{d.line}: " if d.file else ""
