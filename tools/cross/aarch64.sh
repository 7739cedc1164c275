#!/usr/bin/env bash
# aarch64.sh - the build and the test suite for 64-bit ARM Linux on an x86-64
# Debian machine: Debian's cross compiler, the arm64 multiarch libraries, and
# the tests run under qemu-user (no binfmt_misc needed: CTest runs the test
# programs through the emulator and the CLI scripts get a wrapper).
#
# usage: tools/cross/aarch64.sh [BUILD_DIR [CTEST_ARGS...]]
#   BUILD_DIR defaults to build-aarch64; CTEST_ARGS default to every test but
#   the benchmarks, e.g. `tools/cross/aarch64.sh build-aarch64 -R test_gemm`.
# Exits non-zero if anything fails.
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build-aarch64}
shift || true
if [ $# -eq 0 ]; then set -- -LE benchmark; fi
jobs=$(nproc)

packages=(
  gcc-aarch64-linux-gnu libc6-dev-arm64-cross # the cross compiler
  qemu-user                                   # runs the arm64 test programs
  cmake make
  libopenblas-openmp-dev:arm64 zlib1g-dev:arm64 libdeflate-dev:arm64 libcjson-dev:arm64
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "aarch64: installing ${missing[*]}"
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  dpkg --print-foreign-architectures | grep -qx arm64 || $sudo dpkg --add-architecture arm64
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

cmake -S . -B "$build" -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake \
  -DCMAKE_BUILD_TYPE=Release -DDESCENT_NATIVE=OFF -DDESCENT_WERROR=ON >/dev/null
cmake --build "$build" -j "$jobs"
qemu-aarch64 "$build/descent" --version
# Emulated code runs some ten times slower: generous timeouts.
(cd "$build" && ctest --output-on-failure -j "$jobs" --timeout 1800 "$@")
