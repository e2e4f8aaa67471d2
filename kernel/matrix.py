"""The build matrix as data: one TOML file per arch (kernel/arches/) and per config
(kernel/configs/), after tuxmake: adding an arch or a config adds a file, not code."""
from __future__ import annotations

import hashlib
import shutil
import tomllib
from dataclasses import dataclass
from importlib import resources

from kernel.errors import KernelInputError, KernelToolError


@dataclass(frozen=True)
class Arch:
    name: str
    make_arch: str  # ARCH=
    srcarch: str  # arch/<srcarch>/
    cross_compile: str  # CROSS_COMPILE=
    digest: str  # sha256 of the data file, part of every build cache key

    def make_vars(self) -> list[str]:
        return [f"ARCH={self.make_arch}", f"CROSS_COMPILE={self.cross_compile}"]

    @property
    def gcc(self) -> str:
        return f"{self.cross_compile}gcc"


@dataclass(frozen=True)
class ConfigSpec:
    name: str
    base: str  # make target that writes the starting .config: "defconfig", "tinyconfig"
    enable: tuple[str, ...]  # CONFIG_ names without the prefix
    disable: tuple[str, ...]
    full_build: bool  # also build vmlinux at the base and at the series tip
    digest: str


def available(kind: str) -> list[str]:
    """Names of the bundled arches ("arches") or configs ("configs")."""
    return sorted(p.name[:-5] for p in resources.files("kernel").joinpath(kind).iterdir()
                  if p.name.endswith(".toml"))


def load_arch(name: str) -> Arch:
    data, digest = _load("arches", name)
    arch = Arch(data["name"], data["make_arch"], data["srcarch"], data.get("cross_compile", ""), digest)
    if not shutil.which(arch.gcc):
        raise KernelToolError(f"arch {name}: compiler {arch.gcc} not found (run scripts/setup.sh)")
    return arch


def load_config(name: str) -> ConfigSpec:
    data, digest = _load("configs", name)
    return ConfigSpec(data["name"], data["base"], tuple(data.get("enable", [])),
                      tuple(data.get("disable", [])), bool(data.get("full_build", False)), digest)


def _load(kind: str, name: str) -> tuple[dict, str]:
    names = available(kind)
    if name not in names:
        what = {"arches": "arch", "configs": "config"}[kind]
        raise KernelInputError(f"unknown {what} {name!r} (known: {', '.join(names)})")
    raw = resources.files("kernel").joinpath(kind, f"{name}.toml").read_bytes()
    return tomllib.loads(raw.decode()), hashlib.sha256(raw).hexdigest()
