"""`make prepare` checked like an object build, on the real 6.1 tree (x86_64, tinyconfig objects).

Three `git format-patch` patches: 1 breaks arch/x86/kernel/asm-offsets.c
(prepare compiles it; no object does); 2 repairs it and plants errors in two
objects, mm/mremap.c and mm/mprotect.c, so that prepare runs in the same patch
as two failing objects (Kbuild's "mixed build" of `prepare` with object goals
stops at the first failing goal: only one of them would be found); 3 breaks
asm-offsets.c again and plants another error in mm/mremap.c: it must still be
found (the object is built without the prepare that fails there) and the
changed line counted by coverage (its `.i` is made without prepare too), like
asm-offsets.c's own (prepare compiles them, no object does).
"""
from __future__ import annotations

from pathlib import Path

import git
import pytest

from kernel import coverage
from kernel.apply import apply_series
from kernel.botrebuild import implied_options
from kernel.botrecheck import RobotError
from kernel.base import choose_base
from kernel.build import build_series
from kernel.make import Make
from kernel.matrix import load_arch, load_config
from kernel.worktree import worktree
from reviewtool.findings import build_findings
from tests.conftest import commit_edits, format_patches

pytestmark = pytest.mark.kernel

BROKEN = "\tOFFSET(TSS_sp2, tss_struct, x86_tss.sp2);\n\tBLANK();\n\t(void)rt_prepare_undeclared;\n"
EDITS = [
    ("x86: asm-offsets breaks",
     {"arch/x86/kernel/asm-offsets.c": ("\tOFFSET(TSS_sp2, tss_struct, x86_tss.sp2);\n", BROKEN)}),
    ("mm: asm-offsets repaired, two objects broken",
     {"arch/x86/kernel/asm-offsets.c": (BROKEN, "\tOFFSET(TSS_sp2, tss_struct, x86_tss.sp2);\n"),
      "mm/mremap.c": ("#include <linux/mm.h>\n", "#include <linux/mm.h>\nint rt_mremap_probe = rt_undeclared_a;\n"),
      "mm/mprotect.c": ("#include <linux/pagewalk.h>\n",
                        "#include <linux/pagewalk.h>\nint rt_mprotect_probe = rt_undeclared_b;\n")}),
    ("mm: asm-offsets broken again, mremap changed",
     {"arch/x86/kernel/asm-offsets.c": ("\tOFFSET(TSS_sp2, tss_struct, x86_tss.sp2);\n", BROKEN),
      "mm/mremap.c": ("int rt_mremap_probe = rt_undeclared_a;\n", "int rt_mremap_probe = rt_undeclared_c;\n")}),
]


@pytest.fixture(scope="module")
def built(kernel_tree: Path, tmp_path_factory: pytest.TempPathFactory):
    run_dir = tmp_path_factory.mktemp("prepare")
    head = git.Repo(kernel_tree).head.commit.hexsha
    patches = format_patches(kernel_tree, commit_edits(kernel_tree, head, EDITS))
    with worktree(kernel_tree, run_dir / "worktree", head) as work:
        applied = apply_series(work, choose_base(kernel_tree, [p.mbox for p in patches], base_ref=head), patches)
        arch, config, out = load_arch("x86_64"), load_config("mm-off"), run_dir / "x86_64-mm-off"
        build = build_series(work, applied, arch, config, out, full_build=False)
        cov = coverage.series_coverage(work, applied, [coverage.BuildDir(Make(work, out, arch), build)])
        yield build, cov


def test_a_broken_asm_offsets_is_reported_as_prepare(built) -> None:
    build, _ = built
    first = build.patches[0]
    assert first.status == "nothing-to-build"  # asm-offsets.c is no object
    assert first.prepare is not None and first.prepare.target == "prepare"
    assert first.prepare.status == "errors"
    assert any(e.file == "arch/x86/kernel/asm-offsets.c" and "rt_prepare_undeclared" in e.message
               for e in first.prepare.errors)
    titles = [f.title for f in build_findings([build]) if f.patch == 1]
    assert titles == ["make prepare error (x86_64/mm-off)"]


def test_both_object_errors_are_found_in_the_patch_that_also_prepares(built) -> None:
    build, _ = built
    second = build.patches[1]
    assert second.prepare is not None and second.prepare.status == "ok"  # repaired: as at the base
    assert second.status == "errors"
    assert {(e.file, e.message.split("'")[1]) for e in second.errors} == {
        ("mm/mremap.c", "rt_undeclared_a"), ("mm/mprotect.c", "rt_undeclared_b")}


def test_objects_and_coverage_behind_a_failing_prepare(built) -> None:
    build, cov = built
    third = build.patches[2]
    assert third.prepare is not None and third.prepare.status == "inherited-errors"
    assert third.status == "errors"  # not hidden behind prepare's own, inherited, error
    assert [(e.file, e.message.split("'")[1]) for e in third.errors] == [("mm/mremap.c", "rt_undeclared_c")]
    row = next(c for c in cov if c.patch == 3)  # asm-offsets.c's two lines (by prepare) and mremap.c's
    assert (row.changed, row.compiled) == (3, 3), row.not_compiled


def test_options_implied_by_an_undeclared_name(kernel_tree: Path) -> None:
    """A helper declared only under #ifdef CONFIG_TRANSPARENT_HUGEPAGE (as v3 02/15's is_huge_pmd) and
    reported undeclared: the robot's config had THP off. A name the tree does not declare implies nothing."""
    head = git.Repo(kernel_tree).head.commit.hexsha
    (commit,) = commit_edits(kernel_tree, head, [("mm: a THP-only helper", {"include/linux/huge_mm.h": (
        "static inline int is_swap_pmd(pmd_t pmd)\n",
        "static inline int rt_thp_only(pmd_t pmd)\n{\n\treturn 0;\n}\n\nstatic inline int is_swap_pmd(pmd_t pmd)\n")})])
    errors = [RobotError("mm/memory.c", 9, "implicit declaration of function 'rt_thp_only'; did you mean 'x'?"),
              RobotError("mm/memory.c", 9, "'rt_nowhere' undeclared (first use in this function)")]
    assert implied_options(git.Git(kernel_tree), commit, "x86", errors) == ([], ["TRANSPARENT_HUGEPAGE"])
    assert implied_options(git.Git(kernel_tree), commit, "x86", errors[1:]) == ([], [])


def test_the_matrix_cell_shows_prepare_only_when_it_is_news() -> None:
    from kernel.model import BuildResult
    from reviewtool.report.view import _cell_status

    def result(status: str, prepare: str) -> BuildResult:
        return BuildResult(3, "x86_64", "mm-on", "objects", status, False,
                           prepare=BuildResult(3, "x86_64", "mm-on", "prepare", prepare, False))

    assert _cell_status(result("errors", "errors")) == "prepare-errors"
    assert _cell_status(result("nothing-to-build", "errors")) == "prepare-errors"
    assert _cell_status(result("ok", "new-warnings")) == "prepare-new-warnings"
    assert _cell_status(result("errors", "inherited-errors")) == "errors"  # an old prepare error hides nothing
    assert _cell_status(result("errors", "new-warnings")) == "errors"
