#!/usr/bin/env bash
# bench/hf_autoencoder.sh - Hessian-free against tuned Adam and tuned
# momentum SGD on the deep autoencoder of Hinton & Salakhutdinov / Martens
# (2010) on Fashion-MNIST (bench/hf_autoencoder.c): every configuration of a
# small grid per method for the same budget of seconds at one thread, the
# training reconstruction error (squared error per image on the first 10,000
# training images) against seconds, one CSV per run, a summary table (the
# best configuration of each method first), and a gnuplot picture of the
# best run of each method.
#
# Usage: bench/hf_autoencoder.sh [--budget S] [--net narrow|full] [--jobs J]
#                                [--out DIR] [--build DIR] [--quick]
#   --budget S   seconds of training per run (default 150), CPU seconds of
#                the process (one thread: what a shared machine leaves of a
#                core does not shorten a run); the evaluations are not counted
#   --net        narrow: 784-400-200-100-30 and back (default); full:
#                784-1000-500-250-30 and back
#   --jobs J     runs at once (default 1; each is one thread)
#   --out DIR    where the CSVs, the table and the picture go
#                (default runs/hf_autoencoder)
#   --build DIR  CMake build directory with libdescent.a (default build)
#   --quick      a 20-second budget and one configuration per method (a check
#                that everything runs, not a measurement)
#   --summary    no runs: the table and the picture from the CSVs in --out
set -euo pipefail

budget=150
net=narrow
jobs=1
out=runs/hf_autoencoder
build=build
quick=0
summary=0
while [ $# -gt 0 ]; do
    case $1 in
    --budget) budget=$2; shift 2 ;;
    --net) net=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --quick) quick=1; budget=20; shift ;;
    --summary) summary=1; shift ;;
    *) echo "hf_autoencoder.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
cd "$(dirname "$0")/.."
mkdir -p "$out"
# shellcheck source=compile.sh
source bench/compile.sh
[ "$summary" = 1 ] || bench_compile "$out/hf_autoencoder" bench/hf_autoencoder.c \
    "$build/libdescent.a" -O2 -march=native -std=c11

# label | method | optimizer | lr | batch
grid=(
    "adam-3e-4|adam|adam|3e-4|128"
    "adam-1e-3|adam|adam|1e-3|128"
    "adam-3e-3|adam|adam|3e-3|128"
    "adam-1e-2|adam|adam|1e-2|128"
    "momentum-0.01|momentum|momentum(momentum=0.9)|0.01|128"
    "momentum-0.03|momentum|momentum(momentum=0.9)|0.03|128"
    "momentum-0.1|momentum|momentum(momentum=0.9)|0.1|128"
    "momentum-0.3|momentum|momentum(momentum=0.9)|0.3|128"
    "hf-b1000|hf|hf(damping=0.01, max_cg=100)|1|1000"
    "hf-b500|hf|hf(damping=0.1, max_cg=50)|1|500"
    "hf-b500-precond|hf|hf(damping=0.1, max_cg=50, precond=ggn, precond_samples=1)|1|500"
    "hf-b250|hf|hf(damping=0.1, max_cg=25)|1|250"
)
if [ "$quick" = 1 ]; then grid=("${grid[1]}" "${grid[5]}" "${grid[9]}"); fi

run_one() {
    local label method spec lr batch
    IFS='|' read -r label method spec lr batch <<<"$1"
    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 "$out/hf_autoencoder" --opt "$spec" --lr "$lr" \
        --batch "$batch" --net "$net" --budget "$budget" --eval-every "$((budget / 10))" \
        --threads 1 --label "$label" --csv "$out/$label.csv" 2>"$out/$label.log" >/dev/null
}

if [ "$summary" = 0 ]; then
    echo "hf_autoencoder.sh: $net net, $budget s (CPU) per run, ${#grid[@]} runs, $jobs at once;" \
        "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
    running=0
    for entry in "${grid[@]}"; do
        run_one "$entry" &
        running=$((running + 1))
        if [ "$running" -ge "$jobs" ]; then
            # a run that fails (or is killed) does not stop the others
            wait -n || echo "hf_autoencoder.sh: a run failed; see $out/*.log" >&2
            running=$((running - 1))
        fi
    done
    wait || true
    echo "hf_autoencoder.sh: load after: $(cut -d' ' -f1-3 /proc/loadavg)"
fi

# The table: each run's error at the budget (its last row), wall seconds and
# steps; then the best run of each method.
table=$out/summary.txt
{
    printf '%-20s %-9s %8s %8s %8s %12s %12s\n' run method error steps epochs cpu_s wall_s
    for entry in "${grid[@]}"; do
        IFS='|' read -r label method _ _ _ <<<"$entry"
        tail -n 1 "$out/$label.csv" | awk -F, -v m="$method" \
            '{ printf "%-20s %-9s %8.3f %8d %8.2f %12.1f %12.1f\n", $1, m, $9, $4, $5, $2, $3 }'
    done
} >"$table"
best=$out/best.txt
awk 'NR > 1 && $3 == $3 + 0 { if (!($2 in e) || $3 < e[$2]) { e[$2] = $3; r[$2] = $1 } }
     END { for (m in e) print m, r[m], e[m] }' "$table" | sort >"$best"
cat "$table"
echo "best of each method (method run error):"
cat "$best"

if command -v gnuplot >/dev/null; then
    plot=""
    while read -r method label _; do
        plot+="${plot:+, }'$out/$label.csv' using 2:9 with linespoints title '$label'"
    done <"$best"
    gnuplot <<GP
set terminal pngcairo size 900,600
set output '$out/hf_autoencoder.png'
set datafile separator ','
set key autotitle columnhead
set title "Deep autoencoder ($net) on Fashion-MNIST, 1 thread: the best run of each method"
set xlabel 'training seconds (CPU, 1 thread)'
set ylabel 'training reconstruction error (squared error per image, 10k images)'
set logscale y
set key top right
plot $plot
GP
    echo "picture: $out/hf_autoencoder.png"
fi
