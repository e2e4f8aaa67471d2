"""The one place that sets b4 up, so its state does not leak in or out.

b4 keeps global state: a config dict filled from the user's git config (and an
in-tree `.b4-config`), a cache under `$XDG_CACHE_HOME/b4`, a cached lore node
(`b4.LORENODE`) and a `can_network` switch. Inside `isolated_b4()`:

- git sees no global/system config (`GIT_CONFIG_GLOBAL=/dev/null`,
  `GIT_CONFIG_NOSYSTEM=1`) and b4 is pointed at an empty directory instead of
  the current repository, so neither the user's `b4.*`/`liblore.*` settings nor
  a `.b4-config` change what we parse. Only `b4.midmask` is taken from the
  user's git config (read once, before isolating), because that is the server
  the user expects `reviewtool` to ask, like `b4` would.
- XDG_CACHE_HOME and XDG_DATA_HOME point at a temporary directory that is
  removed on exit: nothing is read from or written to the user's b4 cache
  (the run directory keeps the raw thread instead).
- attestation is off (it would need DNS), `can_network` is False unless a
  fetch is wanted, and `b4.LORENODE` is reset on entry and exit so a changed
  midmask takes effect and no node outlives the block.
- b4's config, read this way, depends only on the midmask, git's identity
  variables and config given in the environment (GIT_CONFIG_COUNT ...), so it is
  read once per process for each of those (b4 runs git several times for
  it: a tenth of a second, on every block) and each block gets a fresh copy.

The environment variables are process-wide while the block runs (b4 spawns git
with the inherited environment); they are restored on exit. Blocks are
serialised by a lock, but git run by *other* threads meanwhile would also see
no global config (no user.name): do not run `git am`/commits in parallel with
a mail-side stage.
"""
from __future__ import annotations

import argparse
import contextlib
import copy
import logging
import os
import subprocess
import tempfile
import threading
from collections.abc import Iterator

import b4

DEFAULT_MIDMASK = "https://lore.kernel.org/all/%s"

_LOCK = threading.RLock()  # b4's globals: one isolated block at a time (re-entrant for nesting)
_ISOLATING_ENV = ("XDG_CACHE_HOME", "XDG_DATA_HOME", "GIT_CONFIG_GLOBAL", "GIT_CONFIG_NOSYSTEM")
_IDENTITY_ENV = ("GIT_COMMITTER_NAME", "GIT_AUTHOR_NAME", "GIT_COMMITTER_EMAIL", "GIT_AUTHOR_EMAIL")
_CONFIGS: dict[tuple, tuple[dict, dict, dict]] = {}  # b4's three configs, as read


def user_midmask() -> str:
    """The `b4.midmask` the user's git config sets (as `b4` would see it), else lore's."""
    try:
        out = subprocess.run(
            ["git", "config", "--get", "b4.midmask"],
            capture_output=True, text=True, timeout=10, check=False,
        ).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        out = ""
    return out or DEFAULT_MIDMASK


def quiet_b4(verbose: bool = False) -> None:
    """Silence b4 and liblore unless verbose: what they log (duplicates, missing
    patches, fetch failures) we report ourselves, once, as findings or errors."""
    for name in ("b4", "liblore"):
        logging.getLogger(name).setLevel(logging.DEBUG if verbose else logging.CRITICAL + 1)


# Quiet by default, also when used as a library (b4's logger has no handler, so
# Python's last-resort handler would print its warnings); the CLI calls
# quiet_b4(verbose=True) for --verbose.
if logging.getLogger("b4").level == logging.NOTSET:
    quiet_b4()


def _setup_config(mask: str, topdir: str) -> None:
    # GIT_CONFIG_COUNT/KEY_n/VALUE_n are config too (b4.* settings given that way are read)
    key = (mask, *(os.environ.get(name) for name in _IDENTITY_ENV),
           *sorted((k, v) for k, v in os.environ.items() if k.startswith("GIT_CONFIG_") and k not in _ISOLATING_ENV))
    if key not in _CONFIGS:
        b4.setup_config(
            argparse.Namespace(config={"b4.midmask": mask, "b4.attestation-policy": "off"}),
            topdir=topdir,
        )
        _CONFIGS[key] = (b4.MAIN_CONFIG, b4.USER_CONFIG, b4.SENDEMAIL_CONFIG)
    b4.MAIN_CONFIG, b4.USER_CONFIG, b4.SENDEMAIL_CONFIG = copy.deepcopy(_CONFIGS[key])


@contextlib.contextmanager
def isolated_b4(*, midmask: str | None = None, network: bool = False) -> Iterator[None]:
    """Run b4 with a clean config, a throw-away cache, attestation off.

    `midmask` is the `%s` URL template of the public-inbox server
    (default: the user's `b4.midmask`); `network` allows b4 to go online.
    """
    mask = midmask or user_midmask()
    with _LOCK, tempfile.TemporaryDirectory(prefix="reviewtool-b4-") as tmp:
        saved = {name: os.environ.get(name) for name in _ISOLATING_ENV}
        saved_network = b4.can_network
        os.environ.update(
            XDG_CACHE_HOME=tmp, XDG_DATA_HOME=tmp,
            GIT_CONFIG_GLOBAL=os.devnull, GIT_CONFIG_NOSYSTEM="1",
        )
        try:
            _setup_config(mask, tmp)
            b4.can_network = network
            b4.LORENODE = None
            yield
        finally:
            b4.LORENODE = None
            b4.can_network = saved_network
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
