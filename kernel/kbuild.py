"""Which objects Kbuild builds under a config, asked of Kbuild itself.

A Makefile's `obj-$(CONFIG_FOO) += foo.o` lines, composite objects and
subdirectories are only evaluated right by Kbuild, so we let it evaluate them:
a rule injected with `make --eval` prints `real-obj-y`, `real-obj-m`, `lib-y`,
`extra-y` and `subdir-ym` of each directory asked (one make call).  A source is
built when its object is in its directory's lists and the directory is
reachable from the top through `subdir-ym`.

For a changed header we build a bounded sample of its users: C files that
include it directly, else through headers that include it (up to 3 levels),
those in directories the patch touches first, then by path; at most
`HEADER_USERS` of them that the config builds.
"""
from __future__ import annotations

import posixpath
import re
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import git

from kernel.make import Make
from kernel.progress import step

HEADER_USERS = 4  # objects built per changed header
_CANDIDATES = 40  # includers asked of Kbuild per header, to find HEADER_USERS that are built
_HEADER_DEPTH = 3
# Injected with --eval into every make: in the top make (after its O= re-exec,
# `sub_make_done`) a goal that runs Makefile.build for each directory of
# $(RT_KBUILD_DIRS) without `prepare`, which a patch's broken header must not
# stop; in each Makefile.build, the rule that prints the directory's lists.
_EVAL = """
ifdef obj
rt-kbuild-query := $(patsubst ./%,%,$(obj)/rt-kbuild-query.o)
ifneq ($(filter $(rt-kbuild-query),$(MAKECMDGOALS)),)
.PHONY: $(rt-kbuild-query)
$(rt-kbuild-query):
	@echo 'KBUILD-OBJS $(obj) y: $(real-obj-y) $(lib-y) $(extra-y) m: $(real-obj-m) sub: $(subdir-ym)'
endif
else ifdef sub_make_done
.PHONY: rt-kbuild-query
rt-kbuild-query:
	@for d in $(RT_KBUILD_DIRS); do \\
	  $(MAKE) $(build)=$$d need-builtin=1 $$(echo $$d/rt-kbuild-query.o | sed 's|^\\./||') || true; done
endif
"""
_LINE = re.compile(r"^KBUILD-OBJS (\S+) y: (.*) m: (.*) sub: (.*)$", re.M)
# Injected with --eval: in the top make, a goal that does what Kbuild's single-target rule does
# for `make a/b.o a/b.i` (its `$(build-dir)` recipe), minus its `prepare` prerequisite.
_UNPREPARED = """
ifndef obj
ifdef sub_make_done
.PHONY: rt-unprepared
rt-unprepared:
	$(Q)$(MAKE) $(build)=. need-builtin=1 $(addprefix ./,$(RT_GOALS))
endif
endif
"""
_SOURCE_SUFFIXES = (".c", ".S")


@dataclass
class Plan:
    """What to build for one patch under one arch and config."""

    objects: list[str] = field(default_factory=list)
    not_built: list[str] = field(default_factory=list)  # touched sources/headers this config never compiles
    header_users: dict[str, list[str]] = field(default_factory=dict)


def plan_objects(make: Make, files: list[str], timeout_s: float | None = None) -> Plan:
    """Objects to build for a patch touching `files` (paths in the worktree make.src)."""
    sources = [f for f in files if f.endswith(_SOURCE_SUFFIXES)]
    headers = [f for f in files if f.endswith(".h")]
    touched_dirs = {posixpath.dirname(f) for f in files}
    candidates = {h: _includers(make.src, h, make.arch.srcarch, touched_dirs) for h in headers}
    all_sources = sources + [c for cs in candidates.values() for c in cs]
    built = compiled(make, all_sources, timeout_s)
    plan = Plan()
    for src in sources:
        if src in built:
            plan.objects.append(built[src])
        else:
            plan.not_built.append(src)
    for header, cands in candidates.items():
        cands = sorted(cands, key=lambda c: c not in sources)  # objects built anyway cost nothing more
        users = [built[c] for c in cands if c in built][:HEADER_USERS]
        if users:
            plan.header_users[header] = users
            plan.objects.extend(o for o in users if o not in plan.objects)
        else:
            plan.not_built.append(header)
    return plan


def unprepared(goals: list[str]) -> tuple[list[str], list[str]]:
    """(goals, options) for make to build single targets (objects, .i files) without running
    `prepare` first, in an O= dir prepared before: a patch that breaks prepare (a header
    asm-offsets.c includes) must not hide what its objects say, or stop their preprocessing."""
    return ["rt-unprepared"], [f"--eval={_UNPREPARED}", f"RT_GOALS={' '.join(goals)}"]


def compiled(make: Make, sources: list[str], timeout_s: float | None = None) -> dict[str, str]:
    """source -> object for the sources that Kbuild compiles under the O= dir's config
    (none when the query times out: a patched Makefile may hang it)."""
    if not sources:
        return {}
    dirs = set()
    for src in sources:
        d = posixpath.dirname(src)
        while d:
            dirs.add(d)
            d = posixpath.dirname(d)
    dirs.add(".")
    run = make.run(["rt-kbuild-query"], f"--eval={_EVAL}", f"RT_KBUILD_DIRS={' '.join(sorted(dirs))}",
                   timeout_s=timeout_s)
    if run.timed_out:
        step(f"warning: the Kbuild query timed out after {timeout_s:.0f} s: nothing built for this patch")
        return {}
    objs: dict[str, set[str]] = {}
    subs: dict[str, set[str]] = {}
    for obj, y, m, sub in _LINE.findall(run.output):
        key = _norm(obj)
        objs[key] = {_norm(o) for o in (y + " " + m).split() if o.endswith(".o")}
        subs[key] = {_norm(s) for s in sub.split()}
    reachable = _reachable(subs)
    result = {}
    for src in sources:
        d = posixpath.dirname(src)
        obj = src.rsplit(".", 1)[0] + ".o"
        if d in reachable and obj in objs.get(d, ()):
            result[src] = obj
    return result


def _reachable(subs: dict[str, set[str]]) -> set[str]:
    seen, queue = {"."}, deque(["."])
    while queue:
        for child in subs.get(queue.popleft(), ()):
            if child not in seen:
                seen.add(child)
                queue.append(child)
    return seen


def _norm(path: str) -> str:
    return path[2:] if path.startswith("./") else path


def _include_names(header: str, srcarch: str) -> list[str] | None:
    """How C code names `header` in #include <...>; [] for a local header; None if not this arch's."""
    m = re.match(r"arch/([^/]+)/include/(?:uapi/|generated/)?(.*)$", header)
    if m:
        return [m.group(2)] if m.group(1) == srcarch else None
    if header.startswith("arch/") and not header.startswith(f"arch/{srcarch}/"):
        return None
    for prefix in ("include/uapi/", "include/"):
        if header.startswith(prefix):
            name = header[len(prefix):]
            return [name, f"uapi/{name}"] if prefix == "include/uapi/" else [name]
    return []


def _includers(src: Path, header: str, srcarch: str, touched_dirs: set[str]) -> list[str]:
    """C files that include `header`, directly or through other headers, best first."""
    repo = git.Git(src)
    found: list[str] = []
    seen = {header}
    level = [header]
    for _ in range(_HEADER_DEPTH):
        next_level = []
        for path in _grep_includers(repo, level, srcarch):
            if path in seen:
                continue
            seen.add(path)
            if path.endswith(_SOURCE_SUFFIXES):
                found.append(path)
            elif path.endswith(".h"):
                next_level.append(path)
        if len(found) >= _CANDIDATES or not next_level:
            break
        level = next_level
    found = [f for f in found if not f.startswith("arch/") or f.startswith(f"arch/{srcarch}/")]
    found.sort(key=lambda f: (posixpath.dirname(f) not in touched_dirs, f))
    return found[:_CANDIDATES]


def _grep_includers(repo: git.Git, headers: list[str], srcarch: str) -> list[str]:
    """Files with an #include of any of `headers` (one git grep per kind of name)."""
    global_patterns: list[str] = []
    hits: list[str] = []
    for header in headers:
        names = _include_names(header, srcarch)
        if names is None:
            continue
        if names:
            global_patterns += [f"#include <{n}>" for n in names]
        else:  # a local header: #include "name.h" from its own directory
            hits += _grep(repo, [f'#include "{posixpath.basename(header)}"'], [posixpath.dirname(header) or "."])
    return hits + _grep(repo, global_patterns, [])


def _grep(repo: git.Git, patterns: list[str], where: list[str]) -> list[str]:
    if not patterns:
        return []
    args = ["-l", "-F"]
    for p in patterns:
        args += ["-e", p]
    try:
        return repo.grep(*args, "--", *where).splitlines()
    except git.GitCommandError:  # exit 1: no match
        return []
