#!/usr/bin/env bash
# bench/phases.sh - the main job's work besides its training steps, phase by
# phase: reading Fashion-MNIST, fitting and applying the standardization,
# and one evaluation of the test set (bench/phases.c says what each covers).
#
# Usage: bench/phases.sh [--threads "1 2"] [--repeats R] [--build DIR]
# Builds the library (Release) if needed, compiles bench/phases.c against it
# and prints one phases line per thread count, repeat and way of holding the
# images (bytes, as descent train holds them, and numbers), the runs
# alternating. Needs dataset-fashion-mnist. Writes nothing into the
# repository besides the build directory.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
threads_list="1 2"
repeats=5
build=build
while [ $# -gt 0 ]; do
  case $1 in
    --threads) threads_list=$2; shift 2 ;;
    --repeats) repeats=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    *) echo "phases.sh: unknown option '$1'" >&2; exit 2 ;;
  esac
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# shellcheck source=compile.sh
source bench/compile.sh
bench_build "$build" descent_cli
bench_compile "$tmp/phases" bench/phases.c "$build/libdescent.a" -O2
echo "cpu: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
path=$("$build/descent" --version 2>&1 | grep -o 'kernel path [a-z0-9]*' || echo 'kernel path unknown')
echo "$path (DESCENT_ISA=${DESCENT_ISA:-unset})"
for ((r = 0; r < repeats; r++)); do
  for t in $threads_list; do
    for inputs in bytes numbers; do
      "$tmp/phases" --threads "$t" --repeats 1 --inputs "$inputs"
    done
  done
done
