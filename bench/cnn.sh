#!/usr/bin/env bash
# bench/cnn.sh - descent vs PyTorch: training throughput of DeepOBS's
# fmnist_2c2d CNN (conv 5x5 32, ReLU, max pool 2, conv 5x5 64, ReLU, max pool
# 2, dense 1024, ReLU, dense 10; softmax cross-entropy, SGD lr 0.01, batch
# 128) on Fashion-MNIST, at 1 and 2 threads, with the share of the fp32 peak.
# The same procedure as bench/mlp.sh (see bench/README.md), plus the fastest
# single steps of both programs.
#
# Usage: bench/cnn.sh [--repeats R] [--epochs E] [--limit N] [--build DIR]
#                     [--threads LIST] [--max-wait S] [--layers]
#
#   --repeats R    runs of each program per thread count (default 3); the
#                  table quotes medians
#   --epochs E     epochs per run (default 1)
#   --limit N      train on the first N training images (default 12800, 100
#                  batches; 0: all 60,000); more than 20 batches in all, or
#                  torch times nothing (its first 20 batches are a warm-up)
#   --build DIR    CMake build directory (default build), configured as
#                  Release and built if needed
#   --threads LIST thread counts to measure (default "1 2")
#   --max-wait S   before each run, wait up to S seconds (default 60) for the
#                  machine to be idle; 0 disables the wait
#   --layers       at the end, each layer's forward and backward timed by
#                  itself in both programs (fastest of 15), side by side
#
# Environment:
#   DESCENT_BIN        descent program to run (default DIR/descent; no build
#                      is done when this is set)
#   DESCENT_TRAIN_ARGS extra arguments for `descent train` (word-split)
#   DESCENT_VENV, DESCENT_TORCH_INDEX_URL, DESCENT_NO_PIP: see bench/venv.sh
#
# Prints only; writes nothing into the repository besides the build dir and
# the venv.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

bench_name=cnn.sh
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

repeats=3
epochs=1
limit=12800
build=build
threads_list="1 2"
max_wait=60
layers=0

while [ $# -gt 0 ]; do
    case $1 in
        --layers) layers=1; shift ;;
        *) common_option "$@"; shift 2 ;;
    esac
done
check_options

# --- FLOPs per training sample ---------------------------------------------
# Only the GEMMs are counted (pooling, ReLU, biases, softmax and the SGD
# update are O(activations) or O(parameters) and small beside them). A
# convolution with C inputs, O outputs, k x k kernels and P output positions
# costs 2*O*C*k*k*P per sample forward, and as much again for the weight
# gradient and for the input gradient (not needed for the first layer); a
# dense layer 2*n_in*n_out, three times likewise.
#   conv1  1 -> 32, 5x5, 28x28:   2*32*25*784     =  1,254,400  (x2: no dx)
#   conv2 32 -> 64, 5x5, 14x14:   2*64*800*196    = 20,070,400  (x3)
#   dense 3136 -> 1024:           2*3136*1024     =  6,422,528  (x3)
#   dense 1024 -> 10:             2*1024*10       =     20,480  (x3)
# flop/sample = 2*1,254,400 + 3*(20,070,400 + 6,422,528 + 20,480)
#             = 82,049,024 (~82 MFLOP)
conv1=$((2 * 32 * 25 * 784))
conv2=$((2 * 64 * 800 * 196))
dense1=$((2 * 3136 * 1024))
dense2=$((2 * 1024 * 10))
flop_per_sample=$((2 * conv1 + 3 * (conv2 + dense1 + dense2)))

bench_setup

# The step timer (bench/cnn_step.c), against the library of the same build.
lib=$(dirname "$descent")/libdescent.a
# shellcheck source=compile.sh
source bench/compile.sh
bench_compile "$tmp/cnn_step" bench/cnn_step.c "$lib" -O2 -march=native ||
    die "cannot build bench/cnn_step.c"

# --- Runs ---------------------------------------------------------------------------
run_descent() { # $1: threads
    descent_train "$1" --model cnn:fmnist_2c2d --batch-size 128 --opt sgd --lr 0.01 \
        --epochs "$epochs" --limit "$limit"
}

# Also appends torch's fastest full-size step, in ms, to $tmp/torch-best-T.
run_torch() { # $1: threads, $2: wait policy
    local lim=()
    [ "$limit" -gt 0 ] && lim=(--limit "$limit")
    torch_train "$1" "$2" bench/torch_cnn.py --epochs "$epochs" "${lim[@]}" --no-eval
    sed -n 's/^torch-steps .* best_ms=\([0-9.]*\) .*$/\1/p' "$tmp/torch.log" >>"$tmp/torch-best-$1"
}

# After each descent run (see run_all), times 60 single steps of descent with
# T=$1 threads (bench/cnn_step.c); appends the fastest, in ms, to
# $tmp/descent-best-T.
after_descent_run() {
    local t=$1 out
    wait_quiet
    out=$(env OMP_NUM_THREADS="$t" OPENBLAS_NUM_THREADS="$t" "$tmp/cnn_step" "$t" 60 2>&1) ||
        { echo "$bench_name: cnn_step failed: $out" >&2; return 0; }
    echo "$out" | sed -n 's/^descent-steps .* best_ms=\([0-9.]*\) .*$/\1/p' >>"$tmp/descent-best-$t"
}

echo "descent: $descent"
echo "torch $torch_version ($DESCENT_TORCH_SOURCE) via $DESCENT_PYTHON"
echo "model cnn:fmnist_2c2d, batch 128, SGD lr 0.01, $epochs epoch(s) of ${limit/#0/60000} images," \
    "$repeats repeat(s)"
echo "flop/sample = $flop_per_sample; per-core peak ${peak_core} GFLOP/s ($vbits-bit FMA)"
echo

run_all
print_table "CNN fmnist_2c2d, batch 128, SGD" "$flop_per_sample" cnn:fmnist_2c2d

# --- Fastest steps ---------------------------------------------------------------------
# On a machine shared with other work every mean above can be disturbed; the
# fastest single step of all the runs is what each program does when nothing
# else runs. descent: bench/cnn_step.c, 60 steps after 10 of warm-up per
# repeat; torch: every full-size timed step of torch_cnn.py's runs (both wait
# policies). Both time forward, backward and the SGD update.
echo
echo "Fastest single training step of all runs (batch 128), and the samples/s it means"
printf '%-7s %14s %14s %12s %12s %7s\n' threads 'descent ms' 'torch ms' 'descent s/s' 'torch s/s' ratio
for t in $threads_list; do
    db=$(sort -g "$tmp/descent-best-$t" 2>/dev/null | head -n 1)
    tb=$(sort -g "$tmp/torch-best-$t" 2>/dev/null | head -n 1)
    awk -v t="$t" -v d="${db:-NA}" -v b="${tb:-NA}" 'BEGIN {
        ok = d != "NA" && b != "NA"
        printf "%-7s %14s %14s %12s %12s %7s\n", t, d, b,
            d != "NA" ? sprintf("%.0f", 128000 / d) : "NA",
            b != "NA" ? sprintf("%.0f", 128000 / b) : "NA",
            ok ? sprintf("%.3f", b / d) : "NA"
    }'
done

# --- Each layer by itself (--layers) -------------------------------------------------
if [ "$layers" -eq 1 ]; then
    for t in $threads_list; do
        wait_quiet
        env OMP_NUM_THREADS="$t" OPENBLAS_NUM_THREADS="$t" "$tmp/cnn_step" "$t" 15 --layers \
            >"$tmp/layers-d" 2>&1 || true
        wait_quiet
        env OMP_NUM_THREADS="$t" OPENBLAS_NUM_THREADS="$t" MKL_NUM_THREADS="$t" \
            "$DESCENT_PYTHON" bench/torch_cnn.py --threads "$t" --limit 5120 --layers --no-eval \
            >"$tmp/layers-t" 2>&1 || true
        echo
        echo "Each layer by itself, $t thread(s), batch 128, fastest of 15 (ms)"
        printf '%-20s %10s %10s   %-16s %10s %10s\n' descent fwd bwd torch fwd bwd
        paste -d' ' <(sed -n 's/^descent-layer \([^ ]*\) fwd_ms=\([0-9.]*\) bwd_ms=\([0-9.]*\)$/\1 \2 \3/p' "$tmp/layers-d") \
            <(sed -n 's/^torch-layer \([^ ]*\) fwd_ms=\([0-9.]*\) bwd_ms=\([0-9.]*\)$/\1 \2 \3/p' "$tmp/layers-t") |
            awk '{ printf "%-20s %10s %10s   %-16s %10s %10s\n", $1, $2, $3, $4, $5, $6 }'
    done
fi
