#!/usr/bin/env bash
# bench/dp_scaling.sh - data-parallel scaling on this machine: descent train
# on 1 process x 1 thread, 1 x 2 threads, and 2 processes x 1 thread (mpirun;
# the fast reduction, and the fixed one), against PyTorch on 1 x 1, 1 x 2 and
# DistributedDataParallel 2 x 1 (gloo), in the same run. The big MLP
# (784-1024-1024-10, SGD lr 0.1, global batch 128) on Fashion-MNIST. Prints
# the samples/s medians, each program's speedup over its 1 x 1, descent's
# ratio to torch per layout, the share of the fp32 peak, and what descent's
# reductions cost per step (bytes and milliseconds; docs/distributed.md
# projects them to 8 and 64 machines).
#
# Usage: bench/dp_scaling.sh [--repeats R] [--epochs E] [--limit N]
#                            [--build DIR] [--max-wait S] [--model mlp:SIZES]
#
#   --repeats R    runs of each layout (default 3); medians are quoted
#   --epochs E     epochs per run (default 1)
#   --limit N      the first N training images only (default 0: all 60,000)
#   --build DIR    CMake build directory, built with MPI (default build)
#   --max-wait S   wait up to S seconds for an idle machine before each run
#                  (default 60; 0: no wait)
#   --model M      mlp:784-H1-...-10 (default mlp:784-1024-1024-10)
#
# Needs mpirun (openmpi-bin) and a descent built with MPI; the torch venv of
# bench/venv.sh. Prints only.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

bench_name=dp_scaling.sh
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

repeats=3
epochs=1
limit=0
build=build
threads_list="1 2"
max_wait=60
model=mlp:784-1024-1024-10
while [ $# -gt 0 ]; do
    case $1 in
        --model) [ $# -ge 2 ] || die "--model needs a value"; model=$2; shift 2 ;;
        --threads) die "--threads: the layouts are fixed (1x1, 1x2, 2x1)" ;;
        *) common_option "$@"; shift 2 ;;
    esac
done
check_options
[[ $model =~ ^mlp:784(-[1-9][0-9]*)*-10$ ]] || die "--model $model: expected mlp:784-H1-...-10"
command -v mpirun >/dev/null || die "no mpirun: apt-get install openmpi-bin"
bench_setup
"$descent" --version | grep -q "MPI: " || die "$descent is built without MPI (cmake -DDESCENT_MPI=ON)"
# Root may start ranks only when it says so.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

# FLOP per training sample: as bench/mlp.sh counts them (GEMMs only; no input
# gradient for the first layer).
IFS=- read -ra layers <<<"${model#mlp:}"
flop=0
for ((i = 0; i + 1 < ${#layers[@]}; i++)); do
    flop=$((flop + 3 * 2 * layers[i] * layers[i + 1]))
done
flop=$((flop - 2 * layers[0] * layers[1]))

train_args=(--model "$model" --opt sgd --lr 0.1 --batch-size 128 --epochs "$epochs"
    --limit "$limit" --keep 0)
torch_args=(--model "${model#mlp:}" --epochs "$epochs" --lr 0.1 --batch-size 128)
[ "$limit" -gt 0 ] && torch_args+=(--limit "$limit")

# One descent run: LAYOUT is "P T REDUCTION"; prints its samples/s, and
# keeps its reductions line in $tmp/reductions.
descent_layout() {
    local p=$1 t=$2 reduction=$3 log=$tmp/descent.log out=$tmp/descent-out
    rm -rf "$out"
    local cmd=("$descent" train "${train_args[@]}" --threads "$t" --reduction "$reduction"
        --out "$out" --quiet)
    [ "$p" -gt 1 ] && cmd=(mpirun -np "$p" --bind-to core "${cmd[@]}")
    if ! run_watched $((p * t)) env OMP_NUM_THREADS="$t" OPENBLAS_NUM_THREADS="$t" "${cmd[@]}" \
        >"$log" 2>&1; then
        echo "$bench_name: descent failed ($p x $t, $reduction):" >&2
        tail -n 5 "$log" >&2
        echo NA
        return 0
    fi
    grep '^reductions' "$log" >"$tmp/reductions-$p-$reduction" || true
    sed -n 's/^.*train samples\/s:[[:space:]]*\([0-9.eE+-]*\).*$/\1/p' "$log" | tail -n 1
}

torch_layout() {
    local p=$1 t=$2 log=$tmp/torch.log sps
    local envs=(OMP_NUM_THREADS="$t" OPENBLAS_NUM_THREADS="$t" MKL_NUM_THREADS="$t"
        "${torch_isa_env[@]}")
    local cmd=("$DESCENT_PYTHON" bench/torch_mlp.py --threads "$t" "${torch_args[@]}")
    [ "$p" -gt 1 ] && cmd=("$DESCENT_PYTHON" bench/torch_ddp_mlp.py --procs "$p" --threads "$t"
        "${torch_args[@]}")
    if ! run_watched $((p * t)) env "${envs[@]}" "${cmd[@]}" >"$log" 2>&1; then
        echo "$bench_name: torch failed ($p x $t):" >&2
        tail -n 5 "$log" >&2
        echo NA
        return 0
    fi
    sps=$(sed -n 's/^torch.* samples_per_s=\([0-9.eE+-]*\) .*$/\1/p' "$log" | tail -n 1)
    echo "${sps:-NA}"
}

layouts=("1 1 fast" "1 2 fast" "2 1 fast" "2 1 fixed")
declare -A d=() tr=()
for ((r = 1; r <= repeats; r++)); do
    for l in "${layouts[@]}"; do
        read -r p t red <<<"$l"
        d[$l]+=" $(measure descent_layout "$p" "$t" "$red")"
        if [ "$red" = fast ]; then tr[$p $t]+=" $(measure torch_layout "$p" "$t")"; fi
    done
    echo "$bench_name: repeat $r of $repeats done" >&2
done

echo
echo "model $model, global batch 128, SGD; $cpu_model; descent path $kernel_path;"
echo "torch $torch_version; $("$descent" --version | sed -n 's/.*MPI: \([^)]*\)).*/\1/p')"
printf '%-22s %12s %9s %12s %9s %9s %8s\n' layout "descent s/s" speedup "torch s/s" speedup \
    "d/torch" "% peak"
d11=$(median ${d[1 1 fast]}) t11=$(median ${tr[1 1]})
for l in "${layouts[@]}"; do
    read -r p t red <<<"$l"
    dm=$(median ${d[$l]})
    tm=NA
    [ "$red" = fast ] && tm=$(median ${tr[$p $t]})
    awk -v name="${p} proc x ${t} thr ${red}" -v dm="$dm" -v tm="$tm" -v d1="$d11" -v t1="$t11" \
        -v flop="$flop" -v peak="$peak_core" -v cores=$((p * t)) 'BEGIN {
        ds = (dm == "NA" || d1 == "NA") ? "NA" : sprintf("%.2fx", dm / d1)
        ts = (tm == "NA" || t1 == "NA") ? "-" : sprintf("%.2fx", tm / t1)
        rs = (tm == "NA" || dm == "NA") ? "-" : sprintf("%.2f", dm / tm)
        pk = (dm == "NA") ? "NA" : sprintf("%.0f%%", 100 * dm * flop / (peak * 1e9 * cores))
        printf "%-22s %12s %9s %12s %9s %9s %8s\n", name, dm, ds, tm == "NA" ? "-" : tm, ts, rs, pk
    }'
done
echo
echo "descent's reductions (last run of each, rank 0):"
for f in "$tmp"/reductions-*; do
    [ -s "$f" ] && sed "s/^/  $(basename "$f" | sed 's/reductions-//'): /" "$f"
done
echo "(% peak: of the per-core fp32 peak times the cores used, ${peak_core} GFLOP/s per core)"
