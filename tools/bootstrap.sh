#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine for rrvm and builds it into build/.
# Idempotent: installs only missing packages, reconfigures and rebuilds
# incrementally. Run as root, or as a user with sudo.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  build-essential cmake pkg-config python3 binutils   # toolchain (objcopy for the guests)
  capnproto libcapnp-dev                              # trace schema
  zstd libzstd-dev                                    # trace compression (+ zstd -t in tests)
  libboost-program-options-dev                        # CLI
  libxxhash-dev                                       # digests
  libcapstone-dev                                     # disassembly in bisect reports
  libslirp-dev libglib2.0-dev                         # --net user (slirp.pc needs glib)
  googletest libgtest-dev libgmock-dev libbenchmark-dev  # tests and benchmarks
  clang clang-format                                  # libFuzzer target, formatting
  qemu-system-x86                                     # differential tests only
  gdb                                                 # GDB server tests (tests/gdb)
)

step() { printf '\n== bootstrap: %s\n' "$*"; }
die() { printf 'bootstrap: error: %s\n' "$*" >&2; exit 1; }

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || die "need root to install: ${missing[*]}"
    SUDO=sudo
  fi
  step "installing ${missing[*]}"
  $SUDO apt-get update -q || die "apt-get update failed (network or sources.list?)"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" \
    || die "apt-get install failed for: ${missing[*]}"
else
  step "all ${#PACKAGES[@]} packages present"
fi

step "fetching the Linux boot test's guest into build/linux"
# A download failure does not stop the build or the demo: the Linux boot test
# then fails and says to run this again.
tests/linux/fetch.sh build/linux || echo "bootstrap: warning: no Linux guest (the Linux boot test will fail)" >&2

step "configuring build/"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null || die "cmake configure failed"
step "building ($(nproc) jobs)"
cmake --build build -j"$(nproc)" || die "build failed"
step "done: build/tools/rrvm"
