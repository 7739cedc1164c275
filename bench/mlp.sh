#!/usr/bin/env bash
# bench/mlp.sh - descent vs PyTorch: training throughput of the MLP
# 784-1024-1024-10 (ReLU, softmax cross-entropy, SGD lr 0.1, batch 128) on
# Fashion-MNIST, at 1 and 2 threads, with the share of the fp32 peak.
#
# Usage: bench/mlp.sh [--repeats R] [--epochs E] [--build DIR] [--threads LIST]
#                     [--max-wait S]
#
#   --repeats R    runs of each program per thread count (default 3); the
#                  table quotes medians
#   --epochs E     epochs per run (default 1)
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

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
self=$here/$(basename "${BASH_SOURCE[0]}")
repo=$(cd "$here/.." && pwd)
cd "$repo"

repeats=3
epochs=1
build=build
threads_list="1 2"
max_wait=60

usage() { sed -n '2,25p' "$self" | sed 's/^# \{0,1\}//'; }
die() { printf 'mlp.sh: %s\n' "$*" >&2; exit 1; }

while [ $# -gt 0 ]; do
    case $1 in
        --repeats) [ $# -ge 2 ] || die "--repeats needs a value"; repeats=$2; shift 2 ;;
        --epochs) [ $# -ge 2 ] || die "--epochs needs a value"; epochs=$2; shift 2 ;;
        --build) [ $# -ge 2 ] || die "--build needs a value"; build=$2; shift 2 ;;
        --threads) [ $# -ge 2 ] || die "--threads needs a value"; threads_list=$2; shift 2 ;;
        --max-wait) [ $# -ge 2 ] || die "--max-wait needs a value"; max_wait=$2; shift 2 ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; die "unknown argument: $1" ;;
    esac
done
[[ $repeats =~ ^[1-9][0-9]*$ ]] || die "--repeats must be a positive integer"
[[ $epochs =~ ^[1-9][0-9]*$ ]] || die "--epochs must be a positive integer"
[[ $max_wait =~ ^[0-9]+$ ]] || die "--max-wait must be a number of seconds"
for t in $threads_list; do
    [[ $t =~ ^[1-9][0-9]*$ ]] || die "--threads: bad thread count '$t'"
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/descent-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

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

# --- Oversubscription check, machine side ------------------------------------
ncores=$(nproc)
for t in $threads_list; do
    if [ "$t" -gt "$ncores" ]; then
        echo "mlp.sh: WARNING: $t threads > $ncores usable cores: oversubscribed," \
            "numbers for $t threads are meaningless" >&2
    fi
done

# --- descent -------------------------------------------------------------------
if [ -n "${DESCENT_BIN:-}" ]; then
    descent=$DESCENT_BIN
else
    if [ ! -f "$build/CMakeCache.txt" ]; then
        cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >&2
    fi
    cmake --build "$build" -j "$ncores" >&2
    btype=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$build/CMakeCache.txt")
    if [ "$btype" != Release ]; then
        echo "mlp.sh: WARNING: $build is a '$btype' build, not Release" >&2
    fi
    descent=$build/descent
fi
[ -x "$descent" ] || die "descent program not found: $descent"
extra_args=()
read -ra extra_args <<<"${DESCENT_TRAIN_ARGS:-}"

# --- PyTorch -----------------------------------------------------------------------
# shellcheck source=venv.sh
source "$repo/bench/venv.sh"
torch_version=$("$DESCENT_PYTHON" -c 'import torch; print(torch.__version__)')

# --- Per-core fp32 peak ----------------------------------------------------------
maxt=1
for t in $threads_list; do
    if [ "$t" -gt "$maxt" ]; then maxt=$t; fi
done
if ! cc -O2 -march=native -fopenmp bench/peak_flops.c -o "$tmp/peak_flops" 2>"$tmp/cc.err"; then
    echo "mlp.sh: cc -fopenmp failed, building peak_flops without OpenMP" >&2
    cc -O2 -march=native bench/peak_flops.c -o "$tmp/peak_flops"
fi
"$tmp/peak_flops" "$maxt" >"$tmp/peak.txt"
cat "$tmp/peak.txt"
peak_core=$(awk '/^peak_flops threads=1 / { sub("gflops=", "", $4); print $4 }' "$tmp/peak.txt")
peak_all=$(awk -v t="$maxt" '$2 == "threads=" t { sub("gflops=", "", $4); print $4 }' "$tmp/peak.txt")
vbits=$(awk '/^peak_flops threads=1 / { sub("vector_bits=", "", $3); print $3 }' "$tmp/peak.txt")
[ -n "$peak_core" ] || die "could not measure the per-core peak"

# --- Oversubscription check, during the runs ----------------------------------
# Whole-machine busy CPU time (user+nice+system+irq+softirq+steal), in ticks.
hz=$(getconf CLK_TCK)
busy_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat; }

# Waits (up to --max-wait seconds) until less than 0.15 core is busy over 1 s.
wait_quiet() {
    local i b0 b1
    for ((i = 0; i < max_wait; i++)); do
        b0=$(busy_ticks)
        sleep 1
        b1=$(busy_ticks)
        if [ $((b1 - b0)) -le $((hz * 15 / 100)) ]; then return 0; fi
    done
    if [ "$max_wait" -gt 0 ]; then
        echo "mlp.sh: WARNING: machine still busy after ${max_wait}s, running anyway" >&2
    fi
}

# Runs "$@" with T=$1 threads allowed; warns when the machine was busier than
# T cores during the run (other processes competing: the result is low).
run_watched() {
    local t=$1 b0 b1 w0 w1 rc=0
    shift
    wait_quiet
    b0=$(busy_ticks)
    w0=$(date +%s%N)
    "$@" || rc=$?
    w1=$(date +%s%N)
    b1=$(busy_ticks)
    if ! awk -v b="$((b1 - b0))" -v hz="$hz" -v w="$((w1 - w0))" -v t="$t" 'BEGIN {
        cores = (b / hz) / (w * 1e-9)
        if (cores > t + 0.2) {
            printf "mlp.sh: WARNING: %.2f cores busy during a %d-thread run:" \
                " other load, this run is disturbed\n", cores, t > "/dev/stderr"
            exit 3
        }
    }'; then
        : >"$tmp/disturbed"
    fi
    return "$rc"
}

# Runs "$@" (a run_* function printing samples/s) and, if other load
# disturbed it, once more; prints the last result.
measure() {
    local sps
    rm -f "$tmp/disturbed"
    sps=$("$@")
    if [ -e "$tmp/disturbed" ] && [ "$sps" != NA ]; then
        echo "mlp.sh: disturbed run ($sps samples/s) discarded, running it again" >&2
        rm -f "$tmp/disturbed"
        sps=$("$@")
        if [ -e "$tmp/disturbed" ]; then
            echo "mlp.sh: WARNING: disturbed again, keeping $sps samples/s" >&2
        fi
    fi
    echo "$sps"
}

# --- Runs ---------------------------------------------------------------------------
# Prints the samples/s of one descent run, or "NA" when it fails.
run_descent() { # $1: threads
    local t=$1 out=$tmp/descent-out log=$tmp/descent.log sps
    rm -rf "$out"
    if ! run_watched "$t" env OMP_NUM_THREADS="$t" OPENBLAS_NUM_THREADS="$t" "$descent" train \
        --model mlp:784-1024-1024-10 --batch-size 128 --opt sgd --lr 0.1 \
        --epochs "$epochs" --threads "$t" --out "$out" --quiet \
        "${extra_args[@]}" >"$log" 2>&1; then
        echo "mlp.sh: descent failed (threads=$t):" >&2
        tail -n 5 "$log" >&2
        echo NA
        return 0
    fi
    sps=$(sed -n 's/^.*train samples\/s:[[:space:]]*\([0-9.eE+-]*\).*$/\1/p' "$log" | tail -n 1)
    if [ -z "$sps" ]; then
        echo "mlp.sh: no 'train samples/s:' line in descent's output" >&2
        echo NA
    else
        echo "$sps"
    fi
}

# Prints the samples/s of one torch run, or "NA". $1: threads, $2: wait
# policy ("" = the OpenMP runtime's default, or PASSIVE).
run_torch() {
    local t=$1 policy=$2 log=$tmp/torch.log sps
    local envs=(OMP_NUM_THREADS="$t" OPENBLAS_NUM_THREADS="$t" MKL_NUM_THREADS="$t")
    [ -n "$policy" ] && envs+=(OMP_WAIT_POLICY="$policy")
    if ! run_watched "$t" env "${envs[@]}" "$DESCENT_PYTHON" bench/torch_mlp.py --threads "$t" \
        --epochs "$epochs" --no-eval >"$log" 2>&1; then
        echo "mlp.sh: torch_mlp.py failed (threads=$t):" >&2
        tail -n 5 "$log" >&2
        echo NA
        return 0
    fi
    grep -E '^torch-(threads|load|warning)' "$log" | sed 's/^/    /' >&2
    if grep -q '^torch-warning: other processes' "$log"; then
        : >"$tmp/disturbed"
    fi
    sps=$(sed -n 's/^torch version=.* samples_per_s=\([0-9.eE+-]*\) .*$/\1/p' "$log" | tail -n 1)
    echo "${sps:-NA}"
}

# Median of the numeric arguments ("NA" ignored); "NA" if none.
median() {
    printf '%s\n' "$@" | { grep -v '^NA$' || true; } | sort -g |
        awk '{ v[NR] = $1 } END {
            if (NR == 0) { print "NA"; exit }
            if (NR % 2) print v[(NR + 1) / 2]
            else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2
        }'
}

echo "descent: $descent"
echo "torch $torch_version ($DESCENT_TORCH_SOURCE) via $DESCENT_PYTHON"
echo "model 784-1024-1024-10, batch 128, SGD lr 0.1, $epochs epoch(s), $repeats repeat(s)"
echo "flop/sample = $flop_per_sample; per-core peak ${peak_core} GFLOP/s ($vbits-bit FMA)"
echo

declare -A med_d med_t med_tp
for t in $threads_list; do
    d=() ta=() tp=()
    for ((r = 1; r <= repeats; r++)); do
        # Alternate the programs so that drifts (thermal, noisy neighbours)
        # hit all of them alike. A run disturbed by other load is redone once.
        d+=("$(measure run_descent "$t")")
        echo "threads=$t run=$r descent samples/s=${d[-1]}"
        ta+=("$(measure run_torch "$t" "")")
        echo "threads=$t run=$r torch samples/s=${ta[-1]} (OMP_WAIT_POLICY default)"
        tp+=("$(measure run_torch "$t" PASSIVE)")
        echo "threads=$t run=$r torch samples/s=${tp[-1]} (OMP_WAIT_POLICY=PASSIVE)"
    done
    med_d[$t]=$(median "${d[@]}")
    med_t[$t]=$(median "${ta[@]}")
    med_tp[$t]=$(median "${tp[@]}")
done

# --- Table -------------------------------------------------------------------------
echo
echo "MLP 784-1024-1024-10, batch 128, SGD; medians of $repeats run(s), samples/s"
echo "flop/sample $flop_per_sample; peak = threads x ${peak_core} GFLOP/s per core" \
    "(measured ${maxt}-thread peak: ${peak_all:-n/a} GFLOP/s)"
echo "torch $torch_version ($DESCENT_TORCH_SOURCE); torch best = faster of" \
    "default and OMP_WAIT_POLICY=PASSIVE medians"
echo
printf '%-7s %12s %12s %12s %12s %7s %12s %12s %12s %12s\n' \
    threads descent torch-dflt torch-PASS torch-best ratio \
    'descent GF/s' 'desc %peak' 'torch GF/s' 'torch %peak'
for t in $threads_list; do
    awk -v t="$t" -v d="${med_d[$t]}" -v a="${med_t[$t]}" -v p="${med_tp[$t]}" \
        -v f="$flop_per_sample" -v pc="$peak_core" '
        function num(x) { return x != "NA" && x != "" }
        function fmt(x, spec) { return num(x) ? sprintf(spec, x) : "NA" }
        BEGIN {
            best = "NA"
            if (num(a)) best = a
            if (num(p) && (!num(best) || p > best)) best = p
            peak = t * pc
            ratio = (num(d) && num(best)) ? d / best : "NA"
            dg = num(d) ? d * f * 1e-9 : "NA"
            tg = num(best) ? best * f * 1e-9 : "NA"
            dp = num(dg) ? 100 * dg / peak : "NA"
            tp = num(tg) ? 100 * tg / peak : "NA"
            printf "%-7s %12s %12s %12s %12s %7s %12s %12s %12s %12s\n", t,
                fmt(d, "%.1f"), fmt(a, "%.1f"), fmt(p, "%.1f"), fmt(best, "%.1f"),
                fmt(ratio, "%.3f"), fmt(dg, "%.1f"), fmt(dp, "%.1f%%"),
                fmt(tg, "%.1f"), fmt(tp, "%.1f%%")
        }'
done
