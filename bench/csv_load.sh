#!/usr/bin/env bash
# bench/csv_load.sh - how long descent_csv_load takes on a CSV the size of
# Fashion-MNIST's training set (60,000 x 785 numbers, about 170 MB).
#
# Usage: bench/csv_load.sh [--rows N] [--repeats R] [--build DIR]
# Builds the library (Release) if needed, compiles bench/csv_load.c against
# it, writes the CSV into a temporary folder (removed afterwards) and prints
# one csv_load line per repeat. Writes nothing into the repository besides
# the build directory.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
rows=60000
repeats=3
build=build
while [ $# -gt 0 ]; do
  case $1 in
    --rows) rows=$2; shift 2 ;;
    --repeats) repeats=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    *) echo "csv_load.sh: unknown option '$1'" >&2; exit 2 ;;
  esac
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# shellcheck source=compile.sh
source bench/compile.sh
bench_build "$build" descent_cli
bench_compile "$tmp/csv_load" bench/csv_load.c "$build/libdescent.a" -O2
"$tmp/csv_load" "$tmp/data.csv" --rows "$rows" --repeats "$repeats"
