#!/usr/bin/env bash
# All set-up on a fresh Debian 12 machine: Debian packages (kernel source,
# cross compiler, build tools, bubblewrap, checkpatch's needs, chromium for the report
# test, git-email for the drafts test), then a virtualenv in .venv with
# reviewtool installed (non-editable, as a user would have it).
# Idempotent: a second run installs nothing new and takes a few seconds.
#
#   bash scripts/setup.sh                          # x86_64 and arm64 (the default arches)
#   bash scripts/setup.sh --arches riscv64,i386    # also the compilers these arch files name
#   bash scripts/setup.sh --arches all             # every arch in kernel/arches/
set -euo pipefail
cd "$(dirname "$0")/.."

ARCHES=""
while (($#)); do
  case "$1" in
    --arches) ARCHES="${2:?--arches needs a list, e.g. riscv64,i386 or all}"; shift 2 ;;
    --arches=*) ARCHES="${1#--arches=}"; shift ;;
    *) echo "setup: unknown option $1 (usage: setup.sh [--arches LIST|all])" >&2; exit 2 ;;
  esac
done

DEBS=(
  git perl make gcc libc6-dev flex bison bc libelf-dev libssl-dev xz-utils  # kernel build
  linux-source-6.1          # the managed default kernel tree (a tarball in /usr/src)
  gcc-aarch64-linux-gnu     # arm64 cross compiler
  ccache sparse             # incremental rebuilds, C=1 checks
  bubblewrap                # the sandbox every build and the tree's checkpatch.pl run in
  coccinelle                # spatch, for the pair-scan benchmark
  git-email libmailtools-perl  # git send-email --dry-run accepts the reply drafts (Mail::Address: a Recommends)
  chromium                  # headless check of report.html
  public-inbox              # watch tests: a real v2 inbox, delivered by -mda, served by -httpd
)

# The Debian packages of the asked arches' compilers, as their data files name them.
if [ -n "$ARCHES" ]; then
  ARCH_DEBS=$(python3 - "$ARCHES" <<'PY'
import sys, tomllib, pathlib
asked = sys.argv[1].split(",")
files = sorted(pathlib.Path("kernel/arches").glob("*.toml"))
names = [f.stem for f in files] if "all" in asked else asked
for name in names:
    path = pathlib.Path("kernel/arches", f"{name}.toml")
    if not path.is_file():
        sys.exit(f"setup: unknown arch {name!r} (known: {', '.join(f.stem for f in files)})")
    print("\n".join(tomllib.loads(path.read_text()).get("packages", [])))
PY
)
  for pkg in $ARCH_DEBS; do DEBS+=("$pkg"); done
fi

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
