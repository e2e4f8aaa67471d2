"""Kernel test robot reports recognised in the real v3 thread, and refused elsewhere."""
from __future__ import annotations

from series.assemble import assemble_series
from series.bots import parse_bot_report
from series.load import bundled_thread_path, load_thread


def test_v3_02_report_ia64_defconfig_with_new_errors() -> None:
    series = assemble_series(load_thread(str(bundled_thread_path("pte-v3"))).messages)
    [report] = [r for r in series.bot_reports if r.patch_counter == 2]
    assert report.msgid == "202111112105.ExMahDDX-lkp@intel.com"
    assert report.in_reply_to == "20211110105428.32458-3-zhengqi.arch@bytedance.com"
    assert report.config == "ia64-defconfig"
    assert report.compiler == "ia64-linux-gcc (GCC) 11.2.0"
    assert report.tree == "https://github.com/hnaz/linux-mm master"
    new = [(e.path, e.line, e.column, e.severity) for e in report.errors if e.new]
    assert new == [("mm/memory.c", 1149, 21, "error"), ("mm/mprotect.c", 260, 21, "error"),
                   ("mm/mremap.c", 535, 21, "error")]
    assert all(e.message.startswith("implicit declaration of function 'is_huge_pmd'")
               for e in report.errors if e.new)
    old = [e for e in report.errors if not e.new]
    assert old and all(e.path != "mm/memory.c" or e.severity == "note" for e in old)
    assert "vim" not in {e.path for e in report.errors}


def test_v3_06_report_mips() -> None:
    series = assemble_series(load_thread(str(bundled_thread_path("pte-v3"))).messages)
    [report] = [r for r in series.bot_reports if r.patch_counter == 6]
    assert report.config == "mips-allyesconfig"
    assert [(e.path, e.line, e.message) for e in report.errors if e.new] == [
        ("include/linux/mm_types.h", 154, "unknown type name 'pmd_t'")]


def test_only_the_robot_and_only_its_layout() -> None:
    body = "config: x86_64-defconfig (attached)\ncompiler: gcc\n>> mm/a.c:1:2: error: boom\n"
    assert parse_bot_report(msgid="m", in_reply_to="p", patch_counter=1,
                            sender="someone@example.org", body=body) is None
    assert parse_bot_report(msgid="m", in_reply_to="p", patch_counter=1,
                            sender="lkp@intel.com", body="Hi, thanks for the patch") is None
    report = parse_bot_report(msgid="m", in_reply_to="p", patch_counter=1, sender="LKP@intel.com", body=body)
    assert report.config == "x86_64-defconfig" and report.errors[0].new and report.errors[0].column == 2
