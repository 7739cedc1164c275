#!/usr/bin/env bash
# bench/track_overhead.sh - what `descent train --track` costs: the training
# time with `--track all` at the automatic frequency against no tracking, on
# the default MLP (`descent train`'s defaults: mlp:784-256-128-10, SGD,
# batch 128) and on the CNN (cnn:fmnist_2c2d), and the cost of one
# measurement (`--track sharpness` and `--track all` at `--track-every 1`,
# 20 warm-started Lanczos iterations) in gradient steps, against the cost
# the tracker counts.
#
# Usage: bench/track_overhead.sh [--repeats R] [--epochs E] [--cnn-limit N]
#                                [--cnn-epochs E] [--steps S] [--threads T]
#                                [--build DIR]
#   --repeats R     runs of each configuration (default 3); medians quoted
#   --epochs E      MLP epochs over all 60,000 images (default 10: the
#                   default run)
#   --cnn-limit N   CNN training images (default 60000)
#   --cnn-epochs E  CNN epochs (default 10: the curvature at step 1, the
#                   rest every 168 steps; 0: no CNN run of this kind)
#   --steps S       steps of the MLP's runs measured at every step (default 60)
#   --cnn-steps S   the same for the CNN (default 10)
#   --threads T     threads of every run (default 1: steadier on a shared
#                   machine)
#   --build DIR     CMake build with the descent program (default build)
#
# Times are the runs' own training seconds (metrics.csv's train_seconds:
# the steps and the instruments, not loading, evaluation or checkpoints;
# no checkpoints are written, --keep 0). The overhead is tracked / plain - 1
# of the medians. A measurement's timed cost is (tracked - plain) / (plain /
# steps) / measurements: gradient steps' worth per measurement, beside the
# cost the tracker counts (diagnostics.csv's cost column: 3 per H v
# product, 1.8 per G v, ...). Prints only; writes nothing into the
# repository.
set -euo pipefail

repeats=3
epochs=10
cnn_limit=60000
cnn_epochs=10
steps=60
cnn_steps=10
threads=1
build=build
while [ $# -gt 0 ]; do
    case $1 in
    --repeats) repeats=$2; shift 2 ;;
    --epochs) epochs=$2; shift 2 ;;
    --cnn-limit) cnn_limit=$2; shift 2 ;;
    --cnn-epochs) cnn_epochs=$2; shift 2 ;;
    --steps) steps=$2; shift 2 ;;
    --cnn-steps) cnn_steps=$2; shift 2 ;;
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

# run ARGS...: one training run; prints its training seconds, then the
# folder it wrote (a new one each time: run is called in subshells).
run() {
    local out
    out=$(mktemp -d "$tmp/run.XXXXXX")
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
if [ "$cnn_epochs" -gt 0 ]; then
    compare "cnn:fmnist_2c2d, sgd 0.01, $cnn_epochs epochs of $cnn_limit" --model cnn:fmnist_2c2d \
        --opt sgd --lr 0.01 --limit "$cnn_limit" --epochs "$cnn_epochs"
fi

# One measurement per step: its time in gradient steps against what the
# tracker counts. At the automatic frequency the counted cost is at most
# 1/32 of the steps, so the time overhead there is about timed / counted /
# 32.
per_measurement() {
    local label=$1 track=$2 steps=$3 plain=() tracked=() last
    shift 3
    local limit=$((steps * 128))
    for _ in $(seq "$repeats"); do
        read -r t _ < <(run "$@" --limit "$limit" --epochs 1)
        plain+=("$t")
        read -r t last < <(run "$@" --limit "$limit" --epochs 1 --track "$track" --track-every 1 \
            --track-iterations 20)
        tracked+=("$t")
    done
    local p t
    p=$(printf '%s\n' "${plain[@]}" | median)
    t=$(printf '%s\n' "${tracked[@]}" | median)
    awk -F, -v p="$p" -v t="$t" -v steps="$steps" -v label="$label" -v track="$track" '
        NR > 1 { n++; c += $5 }
        END { timed = (t - p) / (p / steps) / n
              printf "| %s | %s | %d | %.1f | %.1f | %.2f | %.1f%% |\n", label, track, n, timed,
                  c / n, timed / (c / n), 100 / 32 * timed / (c / n) }' "$last/diagnostics.csv"
}
echo
echo "| model | --track | measurements | timed cost (gradient steps) | counted cost | timed / counted | overhead at the automatic frequency |"
echo "|---|---|---|---|---|---|---|"
per_measurement "mlp:784-256-128-10, sgd" sharpness "$steps" --opt sgd
per_measurement "mlp:784-256-128-10, sgd" all "$steps" --opt sgd
cnn=(--model cnn:fmnist_2c2d --opt sgd --lr 0.01)
per_measurement "cnn:fmnist_2c2d, sgd 0.01" sharpness "$cnn_steps" "${cnn[@]}"
per_measurement "cnn:fmnist_2c2d, sgd 0.01" all "$cnn_steps" "${cnn[@]}"
