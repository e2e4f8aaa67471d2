"""Parsing make -O output and the baseline diff, on output as Kbuild prints it."""
from __future__ import annotations

from pathlib import Path

from kernel.kbuild import _include_names
from kernel.base import preimage_blobs
from kernel.diagnostics import LINK, new_warnings, parse

SRC, OUT = Path("/run/wt"), Path("/run/build/arm64-mm-on")

BASE = """\
  CC      kernel/irq/irqdomain.o
../../wt/kernel/irq/irqdomain.c:117: warning: Function parameter or member 'fwnode' not described in 'irq_domain_free_fwnode'
../../wt/kernel/irq/irqdomain.c:1001: warning: Function parameter or member 'd' not described in 'irq_domain_xlate_onecell'
  CC      mm/shmem.o
/run/wt/mm/shmem.c:4189:13: warning: no previous prototype for \u2018shmem_init\u2019 [-Wmissing-prototypes]
 4189 | void __init shmem_init(void)
      |             ^~~~~~~~~~
"""

PATCHED = """\
  CC      mm/shmem.o
/run/wt/mm/shmem.c:4195:13: warning: no previous prototype for 'shmem_init' [-Wmissing-prototypes]
  CC      kernel/irq/irqdomain.o
../../wt/kernel/irq/irqdomain.c:30:5: warning: no previous prototype for 'irq_domain_rt_probe' [-Wmissing-prototypes]
../../wt/kernel/irq/irqdomain.c:123: warning: Function parameter or member 'fwnode' not described in 'irq_domain_free_fwnode'
../../wt/kernel/irq/irqdomain.c:1007: warning: Function parameter or member 'd' not described in 'irq_domain_xlate_onecell'
  CC      mm/memory.o
../../wt/mm/memory.c:5790:16: error: 'transparent_hugepage_flags' undeclared (first use in this function)
make[3]: *** [../../wt/scripts/Makefile.build:250: mm/memory.o] Error 1
  LD      .tmp_vmlinux.kallsyms1
aarch64-linux-gnu-ld: mm/gup.o: in function `foo': gup.c:(.text+0x1c4): undefined reference to `bar'
"""


def test_moved_warnings_are_old_and_only_the_added_one_is_new() -> None:
    base, base_failed = parse(BASE, SRC, OUT)
    now, failed = parse(PATCHED, SRC, OUT)
    assert base_failed == [] and failed == ["mm/memory.o"]
    assert sorted(base) == ["kernel/irq/irqdomain.o", "mm/shmem.o"]
    # gcc's UTF-8 quotes and ASCII quotes are the same message; paths are tree-relative.
    assert base["mm/shmem.o"][0].message == "no previous prototype for 'shmem_init'"
    new = new_warnings(base, now)
    assert [(d.file, d.line, d.column, d.message, d.flag) for d in new] == [
        ("kernel/irq/irqdomain.c", 30, 5, "no previous prototype for 'irq_domain_rt_probe'", "-Wmissing-prototypes")]
    assert [(d.file, d.severity, d.message) for d in now["mm/memory.o"]] == [
        ("mm/memory.c", "error", "'transparent_hugepage_flags' undeclared (first use in this function)")]
    assert [(d.severity, d.message) for d in now[LINK]] == [
        ("error", "mm/gup.o: in function `foo': gup.c: undefined reference to `bar'")]


def test_a_second_copy_of_an_old_warning_is_new() -> None:
    base, _ = parse(BASE, SRC, OUT)
    twice = BASE + "/run/wt/mm/shmem.c:4300:13: warning: no previous prototype for 'shmem_init' [-Wmissing-prototypes]\n"
    now, _ = parse(twice, SRC, OUT)
    assert [(d.line) for d in new_warnings(base, now)] == [4300]


def test_include_names_and_preimage_blobs() -> None:
    assert _include_names("include/linux/pgtable.h", "x86") == ["linux/pgtable.h"]
    assert _include_names("arch/arm64/include/asm/pgtable.h", "arm64") == ["asm/pgtable.h"]
    assert _include_names("arch/arm64/include/asm/pgtable.h", "x86") is None
    assert _include_names("mm/internal.h", "x86") == []
    mbox = ("diff --git a/mm/memory.c b/mm/memory.c\nindex 1a2b3c4d..5e6f7a8b 100644\n--- a/mm/memory.c\n"
            "diff --git a/mm/new.c b/mm/new.c\nnew file mode 100644\nindex 00000000..1234567\n")
    assert preimage_blobs([mbox]) == {"mm/memory.c": "1a2b3c4d"}
