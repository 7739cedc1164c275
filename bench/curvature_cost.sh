#!/usr/bin/env bash
# bench/curvature_cost.sh - one G v and one H v product against one gradient
# (bench/curvature_cost.c) on the big MLP (784-1024-1024-10) and the CNN
# (fmnist_2c2d), batches of 128, at 1 and 2 threads.
#
# Usage: bench/curvature_cost.sh [--steps S] [--build DIR]
#   --steps S    calls of each operation; the fastest is quoted (default 20)
#   --build DIR  CMake build directory with libdescent.a (default build)
# Prints one `curvature-cost ...` line per model and thread count.
set -euo pipefail

steps=20
build=build
while [ $# -gt 0 ]; do
    case $1 in
    --steps) steps=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    *) echo "curvature_cost.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# shellcheck source=compile.sh
source bench/compile.sh
bench_compile "$tmp/curvature_cost" bench/curvature_cost.c "$build/libdescent.a" -O2 -march=native
for model in mlp:784-1024-1024-10 cnn:fmnist_2c2d; do
    for threads in 1 2; do
        "$tmp/curvature_cost" "$model" "$threads" "$steps"
    done
done
