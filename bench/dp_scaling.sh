#!/usr/bin/env bash
# bench/dp_scaling.sh - data-parallel scaling on this machine: descent train
# on 1 process x 1 thread, 1 x 2 threads, and 2 processes x 1 thread (mpirun;
# the fast reduction through shared memory, the same through MPI's
# all-reduce ("fast-mpi", DESCENT_MPI_SHARED=0), and the fixed one), and the ceiling of 2 x 1 (two
# independent one-thread trainings at half the batch each, side by side, with
# no communication: "2 proc x 1 thr none"), against PyTorch on 1 x 1, 1 x 2 and
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
#   --batch B      the global batch (default 128)
#   --weak         weak scaling: each process keeps the batch B, so the
#                  2-process layouts (descent's and torch DDP's) run a global
#                  batch of 2 B against 1 process at B (as DDP benchmarks
#                  quote scaling: a fixed batch per worker); the ceiling pair
#                  runs B each. Default: strong scaling, B in every layout.
#   --bucket-mb MB descent's --bucket-mb (default 0: one all-reduce after the
#                  backward pass)
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
batch=128
bucket=0
weak=0
while [ $# -gt 0 ]; do
    case $1 in
        --batch) [ $# -ge 2 ] || die "--batch needs a value"; batch=$2; shift 2 ;;
        --weak) weak=1; shift ;;
        --bucket-mb) [ $# -ge 2 ] || die "--bucket-mb needs a value"; bucket=$2; shift 2 ;;
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

[[ $batch =~ ^[1-9][0-9]*$ ]] && [ $((batch % 2)) -eq 0 ] || die "--batch must be even"
train_args=(--model "$model" --opt sgd --lr 0.1 --epochs "$epochs" --limit "$limit" --keep 0)
torch_args=(--model "${model#mlp:}" --epochs "$epochs" --lr 0.1)

# The global batch of a layout of P processes.
layout_batch() {
    if [ "$weak" = 1 ]; then echo $(($1 * batch)); else echo "$batch"; fi
}
[ "$limit" -gt 0 ] && torch_args+=(--limit "$limit")

# One descent run: LAYOUT is "P T REDUCTION"; prints its samples/s, and
# keeps its reductions line in $tmp/reductions.
descent_layout() {
    local p=$1 t=$2 reduction=$3 log=$tmp/descent.log out=$tmp/descent-out shared=1
    # fast-mpi: the fast reduction through MPI's all-reduce, not shared memory
    [ "$reduction" = fast-mpi ] && reduction=fast shared=0
    rm -rf "$out"
    local cmd=("$descent" train "${train_args[@]}" --batch-size "$(layout_batch "$p")"
        --threads "$t" --reduction "$reduction" --out "$out" --quiet)
    [ "$p" -gt 1 ] && cmd+=(--bucket-mb "$bucket")
    [ "$p" -gt 1 ] && cmd=(mpirun -np "$p" --bind-to core -x DESCENT_MPI_SHARED "${cmd[@]}")
    if ! run_watched $((p * t)) env OMP_NUM_THREADS="$t" OPENBLAS_NUM_THREADS="$t" \
        DESCENT_MPI_SHARED="$shared" "${cmd[@]}" >"$log" 2>&1; then
        echo "$bench_name: descent failed ($p x $t, $reduction):" >&2
        tail -n 5 "$log" >&2
        echo NA
        return 0
    fi
    grep '^reductions' "$log" >"$tmp/reductions-$p-$3" || true
    sed -n 's/^.*train samples\/s:[[:space:]]*\([0-9.eE+-]*\).*$/\1/p' "$log" | tail -n 1
}

# The ceiling of 2 processes x 1 thread: two independent one-thread trainings
# at half the global batch each, one per core, side by side and with nothing
# to communicate. No reduction, however fast, can beat their summed samples/s.
descent_pair() {
    local half=$(($(layout_batch 2) / 2)) k pids=() sum=0 sps
    local args=(train --model "$model" --opt sgd --lr 0.1 --batch-size "$half" --epochs "$epochs"
        --limit "$limit" --keep 0 --threads 1 --quiet)
    local cpus
    IFS=, read -r -a cpus <<<"$(taskset_cpus 2)"
    for k in 0 1; do
        rm -rf "$tmp/pair-$k"
        env OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 taskset -c "${cpus[$k]}" "$descent" "${args[@]}" \
            --out "$tmp/pair-$k" >"$tmp/pair-$k.log" 2>&1 &
        pids+=($!)
    done
    for k in 0 1; do
        if ! wait "${pids[$k]}"; then
            echo "$bench_name: descent failed (independent pair, process $k):" >&2
            tail -n 5 "$tmp/pair-$k.log" >&2
            echo NA
            return 0
        fi
        sps=$(sed -n 's/^.*train samples\/s:[[:space:]]*\([0-9.eE+-]*\).*$/\1/p' "$tmp/pair-$k.log" |
            tail -n 1)
        [ -n "$sps" ] || { echo NA; return 0; }
        sum=$(awk -v a="$sum" -v b="$sps" 'BEGIN { print a + b }')
    done
    echo "$sum"
}

torch_layout() {
    local p=$1 t=$2 log=$tmp/torch.log sps
    local envs=(OMP_NUM_THREADS="$t" OPENBLAS_NUM_THREADS="$t" MKL_NUM_THREADS="$t"
        "${torch_isa_env[@]}")
    local cmd=("$DESCENT_PYTHON" bench/torch_mlp.py --threads "$t" "${torch_args[@]}"
        --batch-size "$(layout_batch "$p")")
    [ "$p" -gt 1 ] && cmd=("$DESCENT_PYTHON" bench/torch_ddp_mlp.py --procs "$p" --threads "$t"
        "${torch_args[@]}" --batch-size "$(layout_batch "$p")")
    if ! run_watched $((p * t)) env "${envs[@]}" "${cmd[@]}" >"$log" 2>&1; then
        echo "$bench_name: torch failed ($p x $t):" >&2
        tail -n 5 "$log" >&2
        echo NA
        return 0
    fi
    sps=$(sed -n 's/^torch.* samples_per_s=\([0-9.eE+-]*\) .*$/\1/p' "$log" | tail -n 1)
    echo "${sps:-NA}"
}

layouts=("1 1 fast" "1 2 fast" "2 1 fast" "2 1 fast-mpi" "2 1 fixed" "2 1 none")
declare -A d=() tr=()
for ((r = 1; r <= repeats; r++)); do
    for l in "${layouts[@]}"; do
        read -r p t red <<<"$l"
        if [ "$red" = none ]; then
            d[$l]+=" $(measure descent_pair)"
        else
            d[$l]+=" $(measure descent_layout "$p" "$t" "$red")"
        fi
        if [ "$red" = fast ]; then tr[$p $t]+=" $(measure torch_layout "$p" "$t")"; fi
    done
    echo "$bench_name: repeat $r of $repeats done" >&2
done

echo
scaling="global batch $batch in every layout (strong scaling)"
[ "$weak" = 1 ] && scaling="batch $batch per process (weak scaling: 2 processes run a global batch of $((2 * batch)))"
echo "model $model, $scaling, SGD; descent --bucket-mb $bucket; $cpu_model; descent path $kernel_path;"
[ "$bucket" != 0 ] &&
    echo "(--bucket-mb $bucket: the buckets go through MPI's all-reduce, so the fast and fast-mpi rows are both MPI's)"
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

# Projection to clusters of machines like this one (each running its best
# layout above), by the alpha-beta model of a ring all-reduce of the float
# gradient: 2 (N - 1) messages of latency alpha and 2 (N - 1) / N x 4P bytes
# at bandwidth B per machine. Compute per step: the global batch's samples
# over N machines at this machine's best samples/s (strong scaling: batch 128
# in all; optimistic, smaller per-machine batches run less efficiently), or
# 128 per machine (weak scaling: a global batch of 128 N). Communication is
# either not overlapped at all (the sum) or overlapped perfectly (the max).
params=$(awk -v l="${model#mlp:}" 'BEGIN { n = split(l, s, "-"); p = 0
    for (i = 1; i < n; i++) p += s[i] * s[i + 1] + s[i + 1]; print p }')
# One machine's rate at the batch $batch the projection assumes: with --weak
# the 2 x 1 rows ran a batch of 2 x $batch, so only 1 x 2 is counted.
best=$(median ${d[1 2 fast]})
if [ "$weak" = 0 ] && [ "$(median ${d[2 1 fast]})" != NA ] && awk -v a="$(median ${d[2 1 fast]})" -v b="$best" \
    'BEGIN { exit !(b == "NA" || a > b) }'; then best=$(median ${d[2 1 fast]}); fi
echo
echo "projection: $params parameters, this machine's best $best samples/s; ring all-reduce"
printf '%-9s %-9s %6s %12s %11s %10s %12s %12s\n' network machines MB "comm ms" "strong ms" \
    "strong x" "weak eff." "weak eff."
printf '%-9s %-9s %6s %12s %11s %10s %12s %12s\n' "" "" "/step" "/step" "/step" \
    "(no ovl.)" "(no ovl.)" "(overlap)"
for net in "10Gb/s 1.25e9 25e-6" "100Gb/s 12.5e9 5e-6"; do
    read -r name bw alpha <<<"$net"
    for n in 8 64; do
        awk -v name="$name" -v n="$n" -v p="$params" -v bw="$bw" -v a="$alpha" -v sps="$best" \
            -v b="$batch" 'BEGIN {
            bytes = 2 * (n - 1) / n * 4 * p
            comm = 2 * (n - 1) * a + bytes / bw
            one = b / sps                   # one machine, the global batch
            strong = one / n + comm         # the same batch over n machines, no overlap
            weak = one / (one + comm)       # that batch on each machine
            weako = one / (one > comm ? one : comm)
            printf "%-9s %-9d %6.2f %12.2f %11.2f %10.2f %11.0f%% %11.0f%%\n", name, n, bytes / 1e6,
                1e3 * comm, 1e3 * strong, one / strong, 100 * weak, 100 * weako
        }'
    done
done
echo "(alpha: 25 us per message on 10 Gb/s Ethernet with TCP, 5 us on 100 Gb/s with RDMA;"
echo " strong x: speedup over one machine at the same global batch of $batch)"
