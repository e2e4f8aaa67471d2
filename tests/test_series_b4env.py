"""b4's state does not leak in (user config) or out (cache, environment)."""
from __future__ import annotations

import os
from pathlib import Path

import b4
import pytest

from series.assemble import assemble_series
from series.b4env import DEFAULT_MIDMASK, isolated_b4, user_midmask
from series.load import bundled_thread_path, load_thread


@pytest.fixture
def user_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A user with b4 settings that must not change our parse, and a cache we must not touch."""
    gitconfig = tmp_path / "gitconfig"
    gitconfig.write_text(
        "[b4]\n\tmidmask = https://mirror.example.org/all/%s\n"
        "\tattestation-policy = hardfail\n\tcache-expire = 1\n"
    )
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(gitconfig))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_only_the_midmask_comes_from_the_user(user_env: Path) -> None:
    assert user_midmask() == "https://mirror.example.org/all/%s"
    with isolated_b4():
        config = b4.get_main_config()
        assert config["midmask"] == "https://mirror.example.org/all/%s"
        assert config["attestation-policy"] == "off"
        assert str(config["cache-expire"]) != "1"
        assert os.environ["GIT_CONFIG_GLOBAL"] == os.devnull
        assert not b4.can_network
    with isolated_b4(midmask="http://127.0.0.1:1/all/%s", network=True):
        assert b4.get_main_config()["midmask"] == "http://127.0.0.1:1/all/%s"
        assert b4.can_network


def test_environment_restored_and_user_cache_untouched(user_env: Path) -> None:
    before = {k: os.environ.get(k) for k in ("GIT_CONFIG_GLOBAL", "XDG_CACHE_HOME", "XDG_DATA_HOME", "GIT_CONFIG_NOSYSTEM")}
    series = assemble_series(load_thread(str(bundled_thread_path("pte-v3"))).messages)
    assert series.missing == [9]
    after = {k: os.environ.get(k) for k in before}
    assert after == before
    assert not (user_env / "cache").exists() and not (user_env / "data").exists()
    assert b4.LORENODE is None


def test_default_midmask_without_user_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.chdir(tmp_path)
    assert user_midmask() == DEFAULT_MIDMASK
