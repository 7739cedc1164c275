#!/usr/bin/env bash
# test.sh - the whole test suite from a fresh clone: install the dependencies,
# build with warnings as errors and run every test, then build again with
# AddressSanitizer (with leak detection) and UndefinedBehaviorSanitizer and run
# every test again. Benchmarks (CTest label `benchmark`: timings) are left out:
# `ctest -L benchmark` runs them.
# Exits non-zero if anything fails.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# For the tests only: cli_report_html opens descent report's page in headless
# chromium (about 105 MB to download, 340 MB installed with chromium-common
# and its libraries). setup.sh, which run.sh shares, leaves it out.
if ! command -v chromium >/dev/null 2>&1; then
  echo "test: installing chromium"
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends chromium
fi
jobs=$(nproc)

# oneDNN and MPI are optional (-DDESCENT_DNNL=OFF -DDESCENT_MPI=OFF, and
# absent on some machines): the build without them must compile, its layer
# tests run (they print SKIP for the oneDNN checks), and under mpirun it
# must refuse to train N copies of one run. First, so that the closing line
# stays the whole suite's.
echo "== build without oneDNN and MPI"
cmake -S . -B build-nodnnl -DCMAKE_BUILD_TYPE=Release -DDESCENT_WERROR=ON -DDESCENT_DNNL=OFF \
  -DDESCENT_MPI=OFF >/dev/null
cmake --build build-nodnnl -j "$jobs"
(cd build-nodnnl && ctest --output-on-failure -j "$jobs" -R '^test_layers|^cli_dist_train')
echo "== release build, warnings as errors"
# MPI is required from here on (setup.sh installs it): a build that lost it
# would skip the data-parallel tests instead of running them.
cmake -S . -B build-ci -DCMAKE_BUILD_TYPE=Release -DDESCENT_WERROR=ON -DDESCENT_MPI=ON >/dev/null
cmake --build build-ci -j "$jobs"
export DESCENT_REQUIRE_MPI=1 # cli_dist_train fails where it would skip
(cd build-ci && ctest --output-on-failure -j "$jobs" -LE benchmark)

echo "== ASan + UBSan build"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDESCENT_WERROR=ON \
  -DDESCENT_SANITIZE=ON -DDESCENT_MPI=ON >/dev/null
cmake --build build-asan -j "$jobs"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
(cd build-asan && ctest --output-on-failure -j "$jobs" -LE benchmark)
