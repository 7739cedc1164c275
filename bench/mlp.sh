#!/usr/bin/env bash
# bench/mlp.sh - descent vs PyTorch and JAX: training throughput of an MLP
# (default 784-1024-1024-10; ReLU, softmax cross-entropy, SGD lr 0.1, batch
# 128) on Fashion-MNIST, at 1 and 2 threads, with the share of the fp32 peak
# and the peak RSS of each program.
#
# Usage: bench/mlp.sh [--repeats R] [--epochs E] [--limit N] [--build DIR]
#                     [--threads LIST] [--max-wait S] [--model mlp:SIZES]
#                     [--jax | --no-jax]
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
#   --model M      the network, mlp:784-H1-...-10 (default
#                  mlp:784-1024-1024-10; the small one: mlp:784-100-10)
#   --jax          also run bench/jax_mlp.py (variants scan and step, pinned
#                  with taskset); the default when jax imports (it is pip
#                  installed into the venv if missing)
#   --no-jax       descent and torch only
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

model=mlp:784-1024-1024-10
jax=auto

while [ $# -gt 0 ]; do
    case $1 in
        --jax) jax=1; shift ;;
        --no-jax) jax=0; shift ;;
        --model) [ $# -ge 2 ] || die "--model needs a value"; model=$2; shift 2 ;;
        *) common_option "$@"; shift 2 ;;
    esac
done
check_options
[[ $model =~ ^mlp:784(-[1-9][0-9]*)*-10$ ]] ||
    die "--model $model: expected mlp:784-H1-...-10, e.g. mlp:784-100-10"
sizes=${model#mlp:}

# --- FLOPs per training sample ---------------------------------------------
# Dense layers, e.g. 784->1024->1024->10; only the GEMMs are counted (biases,
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
# (784-100-10: 3*2*(78,400 + 1,000) - 2*78,400 = 319,600.)
IFS=- read -ra layers <<<"$sizes"
fwd=0
for ((i = 0; i + 1 < ${#layers[@]}; i++)); do
    fwd=$((fwd + 2 * layers[i] * layers[i + 1]))
done
flop_per_sample=$((3 * fwd - 2 * layers[0] * layers[1]))

bench_setup

# JAX, when asked or when it imports.
jax_version=
if [ "$jax" != 0 ]; then
    jax_version=$(jax_available) || true
    if [ -n "$jax_version" ]; then
        jax_variants=(scan step)
    elif [ "$jax" = 1 ]; then
        die "--jax: jax does not import in $DESCENT_PYTHON"
    else
        warn "jax does not import in $DESCENT_PYTHON: no JAX columns"
    fi
fi

# --- Runs ---------------------------------------------------------------------------
lim=()
[ "$limit" -gt 0 ] && lim=(--limit "$limit")

run_descent() { # $1: threads
    descent_train "$1" --model "$model" --batch-size 128 --opt sgd --lr 0.1 \
        --epochs "$epochs" --limit "$limit"
}

run_torch() { # $1: threads, $2: wait policy
    torch_train "$1" "$2" bench/torch_mlp.py --model "$sizes" --epochs "$epochs" "${lim[@]}" \
        --no-eval
}

run_jax() { # $1: threads, $2: variant
    jax_train "$1" "$2" --model "$sizes" --epochs "$epochs" "${lim[@]}" --no-eval
}

echo "descent: $descent"
echo "torch $torch_version ($DESCENT_TORCH_SOURCE) via $DESCENT_PYTHON"
echo "jax ${jax_version:-(not run)}"
echo "model $sizes, batch 128, SGD lr 0.1, $epochs epoch(s) of ${limit/#0/60000} images," \
    "$repeats repeat(s)"
echo "flop/sample = $flop_per_sample; per-core peak ${peak_core} GFLOP/s ($vbits-bit FMA)"
echo

run_all
print_table "MLP $sizes, batch 128, SGD" "$flop_per_sample" "$model"
