#!/usr/bin/env bash
# bench/track_overhead.sh - what `descent train --track` costs: the training
# time with `--track all` at the automatic frequency against no tracking, on
# the default MLP (`descent train`'s defaults: mlp:784-256-128-10, SGD,
# batch 128) and on the CNN (cnn:fmnist_2c2d), and the cost of one
# `--track sharpness` measurement at `--track-every 1` with 20 warm-started
# Lanczos iterations, in gradient steps.
#
# Usage: bench/track_overhead.sh [--repeats R] [--epochs E] [--cnn-limit N]
#                                [--cnn-epochs E] [--steps S] [--threads T]
#                                [--build DIR]
#   --repeats R     runs of each configuration (default 3); medians quoted
#   --epochs E      MLP epochs over all 60,000 images (default 10: the
#                   default run)
#   --cnn-limit N   CNN training images (default 60000)
#   --cnn-epochs E  CNN epochs (default 2)
#   --steps S       steps of the sharpness runs (default 60)
#   --threads T     threads of every run (default 1: steadier on a shared
#                   machine)
#   --build DIR     CMake build with the descent program (default build)
#
# Times are the runs' own training seconds (metrics.csv's train_seconds:
# the steps and the instruments, not loading, evaluation or checkpoints;
# no checkpoints are written, --keep 0). The overhead is tracked / plain - 1
# of the medians. The sharpness measurement's cost is (tracked - plain) /
# (plain / steps) / measurements: gradient steps' worth per measurement,
# beside the cost the tracker counts (diagnostics.csv's cost column: 3 per
# H v product) and the products Lanczos took. Prints only; writes nothing
# into the repository.
set -euo pipefail

repeats=3
epochs=10
cnn_limit=60000
cnn_epochs=2
steps=60
threads=1
build=build
while [ $# -gt 0 ]; do
    case $1 in
    --repeats) repeats=$2; shift 2 ;;
    --epochs) epochs=$2; shift 2 ;;
    --cnn-limit) cnn_limit=$2; shift 2 ;;
    --cnn-epochs) cnn_epochs=$2; shift 2 ;;
    --steps) steps=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    -h | --help) sed -n '2,/^set /p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "track_overhead.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
cd "$(dirname "${BASH_SOURCE[0]}")/.."
descent=$build/descent
[ -x "$descent" ] || { echo "track_overhead.sh: $descent not found: build first" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cpu=$(awk -F': *' '/^model name/ && !m { m = $2 } /^flags/ && !x { x = $2 }
    END { printf "%s (%s)", m, x ~ /avx512f/ ? "AVX-512" : "no AVX-512" }' /proc/cpuinfo)
echo "cpu: $cpu; $("$descent" --version 2>&1 | head -1)"
echo "threads $threads, $repeats runs each, medians; load average $(cut -d' ' -f1-3 /proc/loadavg)"

runs=0
# run ARGS...: one training run; prints its training seconds, then the
# folder it wrote.
run() {
    local out=$tmp/run$((runs += 1))
    "$descent" train --quiet --threads "$threads" --keep 0 --out "$out" "$@" >"$out.log" 2>&1 ||
        { echo "track_overhead.sh: descent train $* failed:" >&2; tail -3 "$out.log" >&2; exit 1; }
    awk -F, 'NR > 1 { s += $11 } END { printf "%.3f", s }' "$out/metrics.csv"
    echo " $out"
}

median() { sort -g | awk '{ v[NR] = $1 } END { print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# compare LABEL ARGS...: plain and --track all runs, alternated.
compare() {
    local label=$1 plain=() tracked=() last
    shift
    for _ in $(seq "$repeats"); do
        read -r t _ < <(run "$@")
        plain+=("$t")
        read -r t last < <(run "$@" --track all)
        tracked+=("$t")
    done
    local p t rows cost
    p=$(printf '%s\n' "${plain[@]}" | median)
    t=$(printf '%s\n' "${tracked[@]}" | median)
    rows=$(($(wc -l <"$last/diagnostics.csv") - 1))
    cost=$(awk -F, 'NR > 1 { s += $5 } END { printf "%.0f", s }' "$last/diagnostics.csv")
    printf '| %s | %s s | %s s | %+.1f%% | %d (steps %s) | %s |\n' "$label" "$p" "$t" \
        "$(echo "$t $p" | awk '{ print 100 * ($1 / $2 - 1) }')" "$rows" \
        "$(cut -d, -f1 "$last/diagnostics.csv" | tail -n +2 | tr '\n' ' ' | sed 's/ $//')" "$cost"
}

echo
echo "| model | plain | --track all | overhead | measurements | counted cost (gradients) |"
echo "|---|---|---|---|---|---|"
compare "mlp:784-256-128-10, sgd, $epochs epochs" --epochs "$epochs"
compare "cnn:fmnist_2c2d, sgd 0.01, $cnn_epochs epochs of $cnn_limit" --model cnn:fmnist_2c2d \
    --opt sgd --lr 0.01 --limit "$cnn_limit" --epochs "$cnn_epochs"

# One sharpness measurement per step, 20 warm-started iterations.
sharpness() {
    local label=$1 plain=() tracked=() last
    shift
    local limit=$((steps * 128))
    for _ in $(seq "$repeats"); do
        read -r t _ < <(run "$@" --limit "$limit" --epochs 1)
        plain+=("$t")
        read -r t last < <(run "$@" --limit "$limit" --epochs 1 --track sharpness --track-every 1 \
            --track-iterations 20)
        tracked+=("$t")
    done
    local p t
    p=$(printf '%s\n' "${plain[@]}" | median)
    t=$(printf '%s\n' "${tracked[@]}" | median)
    awk -F, -v p="$p" -v t="$t" -v steps="$steps" -v label="$label" '
        NR > 1 { n++; c += $5 }
        END { printf "| %s | %d | %.2f | %.1f | %.1f |\n", label, n,
              (t - p) / (p / steps) / n, c / n, c / n / 3 }' "$last/diagnostics.csv"
}
echo
echo "| model | measurements | cost per measurement (gradient steps, timed) | counted cost | H v products |"
echo "|---|---|---|---|---|"
sharpness "mlp:784-256-128-10, sgd" --opt sgd
sharpness "cnn:fmnist_2c2d, sgd 0.01" --model cnn:fmnist_2c2d --opt sgd --lr 0.01
