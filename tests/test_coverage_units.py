"""The pure parts of `auto` and coverage on small inputs (the real builds: test_build_coverage.py)."""
from __future__ import annotations

from pathlib import Path

from kernel import botrecheck, coverage, kconfig, ppcond
from kernel.changedlines import code_lines
from kernel.model import ApplyResult, BaseChoice, BuildResult, Diagnostic, SeriesApply, SeriesBuild

SOURCE = """#include <linux/x.h>
#ifdef CONFIG_FOO
int a;
#else /* !CONFIG_FOO */
int b;
#endif
#if defined(CONFIG_BAR) && !IS_ENABLED(CONFIG_BAZ)
int c = f(1,
          2);
#elif X > 2
int d;
#endif
#ifndef _GUARD_H
int e;
#endif
"""


def test_branches_name_their_options_and_else_flips_a_single_one() -> None:
    found = {b.first: b for b in ppcond.branches(SOURCE)}
    assert (found[3].on, found[3].off, found[3].condition) == (("FOO",), (), "CONFIG_FOO=y")
    assert (found[5].on, found[5].off, found[5].directive) == ((), ("FOO",), "#else /* !CONFIG_FOO */")
    assert (found[8].on, found[8].off) == (("BAR",), ("BAZ",))
    assert found[8].last == 9 and found[8].condition == "CONFIG_BAR=y && CONFIG_BAZ=n"
    assert (found[11].on, found[11].off, found[11].condition) == ((), (), "X > 2")
    assert (found[14].on, found[14].off) == ((), ())  # not a config option
    assert [b.line for b in ppcond.enclosing(list(found.values()), 9)] == [7]


def test_code_lines_leave_out_blanks_and_comments() -> None:
    text = ["int a;", "", "/* one", " * two */", "x = 1; /* c */", "// only", "  "]
    assert code_lines(text) == {1, 5}


def test_makefile_options_follow_composites_and_directories() -> None:
    files = {
        "Kbuild": "obj-y += lib/\n",
        "lib/Makefile": "obj-$(CONFIG_DEBUG_OBJECTS) += debugobjects.o\nobj-$(CONFIG_ZSTD) += zstd/\n",
        "lib/zstd/Makefile": "obj-$(CONFIG_ZSTD_COMPRESS) += zstd_compress.o\n"
                             "zstd_compress-y := \\\n\tcompress/a.o compress/b.o\n",
    }
    assert kconfig.makefile_options(files.get, "lib/debugobjects.c") == ["DEBUG_OBJECTS"]
    # no lib/zstd/compress/Makefile: b.o is listed as compress/b.o, part of zstd_compress.o
    assert kconfig.makefile_options(files.get, "lib/zstd/compress/b.c") == ["ZSTD_COMPRESS", "ZSTD"]
    assert kconfig.makefile_options(files.get, "lib/zstd/zstd_compress.c") == ["ZSTD_COMPRESS", "ZSTD"]


def test_kconfig_terms_and_why_an_option_is_blocked(tmp_path: Path) -> None:
    symbols: dict[str, kconfig.Symbol] = {}
    kconfig._parse_kconfig('config A\n\tbool "a"\n\tdepends on B && (C || D) && !E\n\thelp\n'
                           '\t  depends on NOTHING\nconfig F\n\tbool\n\tselect G if A\n'
                           'if H\nconfig G\n\tbool "g"\nendif\nconfig C\n\tbool "c"\nconfig E\n\tbool "e"\n', symbols)
    assert symbols["A"].depends == ["B && (C || D) && !E"] and symbols["A"].prompt
    assert symbols["G"].selected_by == ["F"] and symbols["G"].depends == ["H"]
    assert kconfig._terms("B && (C || D) && !E") == ["B", "C || D", "!E"]
    values = {"B": "y", "E": "y"}
    assert kconfig._why_not(symbols, values, "A", True) == "depends on C || D (C=n, D=n) && !E (E=y)"
    more_on, more_off = kconfig._unblockers(symbols, values, ["A"], {"A"})
    assert (more_on, more_off) == (["C"], ["E"])


PREPROCESSED = """# 1 "/src/lib/foo.c"
# 1 "<built-in>"
# 1 "/src/include/linux/x.h" 1
int x;
# 2 "/src/lib/foo.c" 2

int a;


# 13 "/src/lib/foo.c"
int c = f(1,
          2);
"""


def test_preprocessed_lines_and_coverage_of_a_patch(tmp_path: Path) -> None:
    lines: dict[str, set[int]] = {}
    coverage._emitted(PREPROCESSED.replace("/src", str(tmp_path)), tmp_path, tmp_path / "out", lines)
    assert lines == {"lib/foo.c": {3, 13, 14}, "include/linux/x.h": {1}}
    cov = coverage._patch_coverage(1, {"lib/foo.c": [3, 5]}, {"lib/foo.c": SOURCE},
                                   [("x86_64/auto", {"lib/foo.c": {3}})], ["x86_64/auto"])
    assert (cov.changed, cov.compiled, cov.percent) == (2, 1, 50)
    (missed,) = cov.not_compiled
    assert (missed.where(), missed.reason) == ("lib/foo.c:5", "under #else /* !CONFIG_FOO */ (line 4; needs CONFIG_FOO=n)")


def _builds(errors: list[Diagnostic]) -> list[SeriesBuild]:
    base = BuildResult(0, "x86_64", "mm-off", "objects", "ok", False)
    return [SeriesBuild("x86_64", "mm-on", [], base, [BuildResult(2, "x86_64", "mm-on", "objects", "ok", False,
                                                                   ["mm/mremap.o"])]),
            SeriesBuild("x86_64", "mm-off", [], base, [BuildResult(2, "x86_64", "mm-off", "objects", "errors",
                                                                    False, ["mm/mremap.o"], errors=errors)])]


def test_robot_report_reproduced_not_reproduced_and_cannot() -> None:
    applied = SeriesApply(BaseChoice("b", "v6.1", "head", ""), [
        ApplyResult(1, "one", "failed", "", ["a.c"], []),
        ApplyResult(2, "two", "clean", "c2", ["mm/mremap.c"], ["mm/mremap.c"])])
    err = botrecheck.RobotError("mm/mremap.c", 535, "implicit declaration of function ‘is_huge_pmd’; "
                                "did you mean ‘is_hugepd’? [-Werror=implicit-function-declaration]")
    ours = Diagnostic("mm/mremap.c", 540, 21, "error", "implicit declaration of function 'is_huge_pmd'; "
                      "did you mean 'is_huge_zero_pmd'?", "-Werror=implicit-function-declaration")
    found = botrecheck.recheck([botrecheck.RobotReport(2, "ia64-defconfig", [err]),
                                botrecheck.RobotReport(1, "x86_64-allyesconfig", [err])], applied, _builds([ours]))
    assert [r.verdict for r in found] == ["reproduced", "cannot"]
    assert found[0].matches == ["x86_64/mm-off: mm/mremap.c:540 (robot: line 535, the bases differ): "
                                "implicit declaration of function 'is_huge_pmd'; did you mean 'is_huge_zero_pmd'?"]
    assert "the robot's arch ia64 is not among those built" in found[0].detail
    (missed,) = botrecheck.recheck([botrecheck.RobotReport(2, "x86_64-randconfig", [err])], applied, _builds([]))
    assert (missed.verdict, missed.detail) == ("not reproduced", "tried x86_64/mm-on, x86_64/mm-off")


def test_auto_is_built_only_where_it_adds_to_the_other_configs(tmp_path: Path) -> None:
    from kernel.matrix import arch_spec, load_config
    from reviewtool.buildcoverage import Built, auto_config

    arch, spec = arch_spec("x86_64"), load_config("auto")
    base = BuildResult(0, "x86_64", "mm-on", "objects", "ok", False)
    others = []
    for name, text in (("mm-on", "CONFIG_TRANSPARENT_HUGEPAGE=y\nCONFIG_DEBUG_VM=y\n"),
                       ("mm-off", "# CONFIG_TRANSPARENT_HUGEPAGE is not set\n")):
        (tmp_path / name).mkdir()
        (tmp_path / name / ".config").write_text(text)
        others.append(Built(arch, load_config(name), tmp_path / name, SeriesBuild("x86_64", name, [], base)))
    wants = kconfig.Wants(on=["TRANSPARENT_HUGEPAGE", "FREE_USER_PTE"], off=["DEBUG_VM"])
    # THP is on in mm-on; DEBUG_VM off in mm-off; FREE_USER_PTE is new in the series.
    config, decision = auto_config(wants, {"TRANSPARENT_HUGEPAGE", "DEBUG_VM"}, arch, spec, others)
    assert config is None and decision.status == "not needed"
    assert decision.blocked == ["FREE_USER_PTE: not in the base tree's Kconfig (new in the series?)"]
    wants.on.append("DEBUG_OBJECTS")
    config, decision = auto_config(wants, {"TRANSPARENT_HUGEPAGE", "DEBUG_VM", "DEBUG_OBJECTS"}, arch, spec, others)
    assert decision.status == "built" and config is not None
    assert config.enable == ("TRANSPARENT_HUGEPAGE", "DEBUG_OBJECTS")
    assert config.disable == ("WERROR", "DEBUG_VM") and config.digest != spec.digest
    config, decision = auto_config(kconfig.Wants(), set(), arch, spec, others)
    assert config is None and decision.status == "nothing to derive"


def test_auto_off_exists_only_for_options_wanted_both_ways(tmp_path: Path) -> None:
    from kernel.matrix import arch_spec, load_config
    from reviewtool.buildcoverage import Built, auto_off_config

    arch, spec = arch_spec("x86_64"), load_config("auto")
    base = BuildResult(0, "x86_64", "mm-off", "objects", "ok", False)
    (tmp_path / "mm-off").mkdir()
    (tmp_path / "mm-off" / ".config").write_text("# CONFIG_DEBUG_FS is not set\n")
    others = [Built(arch, load_config("mm-off"), tmp_path / "mm-off", SeriesBuild("x86_64", "mm-off", [], base))]
    defined = {"DEBUG_OBJECTS", "DEBUG_FS", "KASAN"}
    assert auto_off_config(kconfig.Wants(on=["DEBUG_OBJECTS"], off=["KASAN"]), defined, arch, spec, others) \
        == (None, None)
    wants = kconfig.Wants(on=["DEBUG_OBJECTS", "DEBUG_FS"], off=["KASAN"], conflicts=["DEBUG_FS"])
    config, decision = auto_off_config(wants, defined, arch, spec, others)
    assert config is not None and (config.name, decision.config, decision.status) == ("auto-off", "auto-off", "built")
    assert config.enable == ("DEBUG_OBJECTS",) and config.disable == ("WERROR", "KASAN", "DEBUG_FS")
    # mm-off has DEBUG_FS off but not DEBUG_OBJECTS on: it does not compile the same #else.
    (tmp_path / "mm-off" / ".config").write_text("# CONFIG_DEBUG_FS is not set\nCONFIG_DEBUG_OBJECTS=y\n")
    config, decision = auto_off_config(wants, defined, arch, spec, others)
    assert config is None and decision.status == "not needed"


def test_prepare_runs_for_what_it_reads() -> None:
    from kernel.build import needs_prepare

    for files in (["include/linux/mm.h"], ["arch/arm64/kernel/asm-offsets.c"], ["mm/Kconfig"], ["mm/Makefile"],
                  ["scripts/checksyscalls.sh"], ["tools/objtool/check.c"], ["kernel/bounds.c"]):
        assert needs_prepare(files), files
    assert not needs_prepare(["mm/memory.c", "Documentation/vm/index.rst"])


def test_a_file_that_did_not_preprocess_is_said_so() -> None:
    seen = [("x86_64/mm-on", {coverage.STOPPED: set()})]
    cov = coverage._patch_coverage(3, {"mm/memory.c": [3]}, {"mm/memory.c": SOURCE}, seen, ["x86_64/mm-on"])
    assert [u.reason for u in cov.not_compiled] == [
        "mm/memory.c is not compiled: a file did not preprocess (see the build errors)"]
