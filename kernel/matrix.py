"""The build matrix as data: one TOML file per arch (kernel/arches/) and per config
(kernel/configs/), after tuxmake: adding an arch or a config adds a file, not code."""
from __future__ import annotations

import hashlib
import shutil
import tomllib
from dataclasses import dataclass
from importlib import resources

from kernel.errors import KernelInputError, KernelToolError

DEFAULT_ARCHES = ("x86_64", "arm64")  # built unless --arch says otherwise


@dataclass(frozen=True)
class Arch:
    name: str
    make_arch: str  # ARCH=
    srcarch: str  # arch/<srcarch>/
    cross_compile: str  # CROSS_COMPILE=
    digest: str  # sha256 of the data file, part of every build cache key
    defconfig: str = "defconfig"  # the make target a config's `base = "defconfig"` means here
    packages: tuple[str, ...] = ()  # Debian packages of the compiler (scripts/setup.sh --arches)

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
    # "series": the options come from the series itself (kernel/kconfig.py), set with the
    # dependencies they need; the file's enable/disable are only a starting point.
    derive: str = ""


def available(kind: str) -> list[str]:
    """Names of the bundled arches ("arches") or configs ("configs")."""
    return sorted(p.name[:-5] for p in resources.files("kernel").joinpath(kind).iterdir()
                  if p.name.endswith(".toml"))


def load_arch(name: str) -> Arch:
    arch = arch_spec(name)
    if not installed(arch):
        raise KernelToolError(f"arch {name}: compiler {arch.gcc} not found "
                              f"(run: bash scripts/setup.sh --arches {name})")
    return arch


def arch_spec(name: str) -> Arch:
    """The arch's data, whether or not its compiler is installed."""
    data, digest = _load("arches", name)
    return Arch(data["name"], data["make_arch"], data["srcarch"], data.get("cross_compile", ""), digest,
                data.get("defconfig", "defconfig"), tuple(data.get("packages", [])))


def installed(arch: Arch) -> bool:
    return shutil.which(arch.gcc) is not None


def select_arches(asked: list[str] | None, default: tuple[str, ...] = DEFAULT_ARCHES) -> list[str]:
    """Arch names for --arch values: repeatable, comma lists, `all` (every arch whose compiler
    is installed); none given: `default`."""
    names = [n.strip() for a in asked or [] for n in a.split(",") if n.strip()] or list(default)
    if "all" in names:
        return [n for n in available("arches") if installed(arch_spec(n))]
    known = available("arches")
    for n in names:
        if n not in known:
            raise KernelInputError(f"unknown arch {n!r} (known: all, {', '.join(known)})")
    return list(dict.fromkeys(names))


def derived(config: ConfigSpec, on: list[str], off: list[str]) -> ConfigSpec:
    """`config` with the options derived from a series added; its digest covers them."""
    enable = tuple(dict.fromkeys([*config.enable, *on]))
    disable = tuple(dict.fromkeys([*config.disable, *off]))
    digest = hashlib.sha256(f"{config.digest} {' '.join(enable)} / {' '.join(disable)}".encode()).hexdigest()
    return ConfigSpec(config.name, config.base, enable, disable, config.full_build, digest, config.derive)


def load_config(name: str) -> ConfigSpec:
    data, digest = _load("configs", name)
    return ConfigSpec(data["name"], data["base"], tuple(data.get("enable", [])),
                      tuple(data.get("disable", [])), bool(data.get("full_build", False)), digest,
                      data.get("derive", ""))


def _load(kind: str, name: str) -> tuple[dict, str]:
    names = available(kind)
    if name not in names:
        what = {"arches": "arch", "configs": "config"}[kind]
        raise KernelInputError(f"unknown {what} {name!r} (known: {', '.join(names)})")
    raw = resources.files("kernel").joinpath(kind, f"{name}.toml").read_bytes()
    return tomllib.loads(raw.decode()), hashlib.sha256(raw).hexdigest()
