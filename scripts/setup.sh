#!/usr/bin/env bash
# All set-up on a fresh Debian 12 machine: Debian packages (kernel source,
# cross compiler, build tools, checkpatch's needs, chromium for the report
# test, git-email for the drafts test), then a virtualenv in .venv with
# reviewtool installed (non-editable, as a user would have it).
# Idempotent: a second run installs nothing new and takes a few seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

DEBS=(
  git perl make gcc libc6-dev flex bison bc libelf-dev libssl-dev xz-utils  # kernel build
  linux-source-6.1          # the managed default kernel tree (a tarball in /usr/src)
  gcc-aarch64-linux-gnu     # arm64 cross compiler
  ccache sparse             # incremental rebuilds, C=1 checks
  coccinelle                # spatch, for the pair-scan benchmark
  git-email                 # git send-email --dry-run accepts the reply drafts
  chromium                  # headless check of report.html
  public-inbox              # watch tests: a real v2 inbox, delivered by -mda, served by -httpd
)

missing=()
for pkg in "${DEBS[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  "$PY" -m venv .venv
fi
echo "setup: installing reviewtool into .venv"
.venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip >/dev/null
.venv/bin/python -m pip install -q --disable-pip-version-check '.[test]'
echo "setup: done ($(.venv/bin/reviewtool --version 2>/dev/null || echo reviewtool installed))"
