#!/usr/bin/env bash
# bench/mlp.sh - descent vs PyTorch: training throughput of the MLP
# 784-1024-1024-10 (ReLU, softmax cross-entropy, SGD lr 0.1, batch 128) on
# Fashion-MNIST, at 1 and 2 threads, with the share of the fp32 peak.
#
# Usage: bench/mlp.sh [--repeats R] [--epochs E] [--limit N] [--build DIR]
#                     [--threads LIST] [--max-wait S]
#
#   --repeats R    runs of each program per thread count (default 3); the
#                  table quotes medians
#   --epochs E     epochs per run (default 1)
#   --limit N      train on the first N training images (default 0: all
#                  60,000); more than 20 batches in all, or torch times
#                  nothing (its first 20 batches are a warm-up)
#   --build DIR    CMake build directory (default build), configured as
#                  Release and built if needed
#   --threads LIST thread counts to measure (default "1 2")
#   --max-wait S   before each run, wait up to S seconds (default 60) for the
#                  machine to be idle; 0 disables the wait
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

bench_name=mlp.sh
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

repeats=3
epochs=1
limit=0
build=build
threads_list="1 2"
max_wait=60

while [ $# -gt 0 ]; do
    common_option "$@"
    shift 2
done
check_options

# --- FLOPs per training sample ---------------------------------------------
# Dense layers 784->1024->1024->10; only the GEMMs are counted (biases,
# ReLU, softmax and the SGD update are O(parameters) or O(activations) and
# negligible). For a layer with n_in inputs and n_out outputs:
#   forward:   y = x W          2*n_in*n_out FLOP per sample
#   backward:  dW = x^T dy      2*n_in*n_out
#              dx = dy W^T      2*n_in*n_out, except for the first layer,
#                               whose input gradient is never needed.
# flop/sample = 2*(784*1024 + 1024*1024 + 1024*10)            (forward)
#             + 2 * 2*(784*1024 + 1024*1024 + 1024*10)        (backward)
#             - 2*784*1024                                     (no dx, layer 1)
#             = 3*3,723,264 - 1,605,632 = 9,564,160 (~9.56 MFLOP)
layers=(784 1024 1024 10)
fwd=0
for ((i = 0; i + 1 < ${#layers[@]}; i++)); do
    fwd=$((fwd + 2 * layers[i] * layers[i + 1]))
done
flop_per_sample=$((3 * fwd - 2 * layers[0] * layers[1]))

bench_setup

# --- Runs ---------------------------------------------------------------------------
run_descent() { # $1: threads
    descent_train "$1" --model mlp:784-1024-1024-10 --batch-size 128 --opt sgd --lr 0.1 \
        --epochs "$epochs" --limit "$limit"
}

run_torch() { # $1: threads, $2: wait policy
    local lim=()
    [ "$limit" -gt 0 ] && lim=(--limit "$limit")
    torch_train "$1" "$2" bench/torch_mlp.py --epochs "$epochs" "${lim[@]}" --no-eval
}

echo "descent: $descent"
echo "torch $torch_version ($DESCENT_TORCH_SOURCE) via $DESCENT_PYTHON"
echo "model 784-1024-1024-10, batch 128, SGD lr 0.1, $epochs epoch(s) of ${limit/#0/60000} images," \
    "$repeats repeat(s)"
echo "flop/sample = $flop_per_sample; per-core peak ${peak_core} GFLOP/s ($vbits-bit FMA)"
echo

run_all
print_table "MLP 784-1024-1024-10, batch 128, SGD" "$flop_per_sample"
