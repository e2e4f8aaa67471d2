"""Arches as data: --arch lists and `all`, and setup.sh --arches reading the same files."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from kernel.errors import KernelInputError
from kernel.matrix import DEFAULT_ARCHES, arch_spec, available, installed, select_arches

ROOT = Path(__file__).parents[1]


def test_every_arch_file_loads_and_names_its_compiler_package() -> None:
    assert set(available("arches")) >= {"x86_64", "arm64", "i386", "arm", "riscv64", "ppc64le", "s390x", "mips"}
    for name in available("arches"):
        arch = arch_spec(name)
        assert arch.name == name and arch.make_arch and arch.srcarch
        # a cross compiler comes from a package the file names (the default arches': always installed)
        assert arch.packages or arch.cross_compile == "" or name in DEFAULT_ARCHES, name
    assert arch_spec("ppc64le").defconfig == "ppc64le_defconfig"


def test_arch_selection() -> None:
    assert select_arches(None) == ["x86_64", "arm64"]
    assert select_arches(["riscv64,i386", "x86_64", "i386"]) == ["riscv64", "i386", "x86_64"]
    everything = select_arches(["all"])
    assert {"x86_64", "i386"} <= set(everything)
    assert all(installed(arch_spec(n)) for n in everything)
    with pytest.raises(KernelInputError, match="unknown arch 'sparc'"):
        select_arches(["x86_64,sparc"])


def test_setup_refuses_an_unknown_arch_before_installing_anything() -> None:
    proc = subprocess.run(["bash", "scripts/setup.sh", "--arches", "sparc"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and "unknown arch 'sparc'" in proc.stderr
    assert "installing" not in proc.stdout
