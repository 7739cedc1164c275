#!/usr/bin/env bash
# bench/logreg_lbfgs.sh - L-BFGS against tuned gradient descent and tuned
# Adam on full-batch multinomial logistic regression on Fashion-MNIST
# (bench/logreg_lbfgs.c): evaluations and seconds to a loss within 1e-6
# (relative) of the optimum's, a table, and the curves drawn with gnuplot.
#
# Usage: bench/logreg_lbfgs.sh [--quick] [--build DIR] [--out DIR] [ARGS...]
#        bench/logreg_lbfgs.sh --plot DIR
#   --quick      a smoke run (its figures mean nothing; see the program)
#   --plot DIR   only draw DIR's CSV files and summary.tsv (say, the
#                files of runs made one method at a time, --methods,
#                gathered in one folder)
#   --build DIR  CMake build directory with libdescent64.a (default build;
#                configured and built when it holds none)
#   --out DIR    where the CSV files and the picture go (default
#                BUILD/logreg_lbfgs-out)
#   ARGS         passed to the program: --examples, --lambda, --target,
#                --cap, --tune-cap, --history, --threads, --gd-lrs,
#                --adam-lrs, --fstar, --fstar-cap, --methods, --data-dir
#                (see bench/logreg_lbfgs.c)
# Writes OUT/{lbfgs,gd,adam,fstar,grid}.csv, OUT/summary.tsv, OUT/log.txt
# (what the program printed) and, when
# gnuplot is installed, OUT/logreg_lbfgs.png (the gap (f - f*)/f* against
# evaluations and against seconds, log scale). See bench/README.md.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

# Read by lib.sh (its messages, and describe_machine's descent):
# shellcheck disable=SC2034
bench_name=logreg_lbfgs.sh
caller_dir=$PWD
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

build=build
out=""
plot_only=0
args=()
while [ $# -gt 0 ]; do
    case $1 in
        -h | --help) usage; exit 0 ;;
        --plot)
            [ $# -ge 2 ] || die "$1 needs a value"
            out=$2 plot_only=1
            shift 2 ;;
        --build | --out)
            [ $# -ge 2 ] || die "$1 needs a value"
            if [ "$1" = --build ]; then build=$2; else out=$2; fi
            shift 2 ;;
        *) args+=("$1"); shift ;;
    esac
done

# Relative paths are the caller's; lib.sh has moved into the repository.
[ -z "$out" ] || [[ $out == /* ]] || out=$caller_dir/$out
[[ $build == /* ]] || [ ! -d "$caller_dir/$build" ] || build=$caller_dir/$build
[ -n "$out" ] || out=$build/logreg_lbfgs-out

# Builds the program and runs it into $out.
run_benchmark() {
    # shellcheck source=compile.sh
    source bench/compile.sh
    bench_build "$build" descent_cli descent64
    bench_compile "$tmp/logreg_lbfgs" bench/logreg_lbfgs.c "$build/libdescent64.a" -std=c11 -O2 \
        -march=native -DDESCENT_DOUBLE
    # shellcheck disable=SC2034
    descent=$build/descent
    mkdir -p "$out"
    {
        describe_machine
        echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
        "$tmp/logreg_lbfgs" --out "$out" "${args[@]}"
    } | tee "$out/log.txt"
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/descent-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
if [ "$plot_only" = 0 ]; then
    run_benchmark
fi
for f in lbfgs.csv gd.csv adam.csv summary.tsv; do
    [ -f "$out/$f" ] || die "$out/$f not found"
done

if ! command -v gnuplot >/dev/null; then
    warn "gnuplot not found (Debian package gnuplot-nox): no picture; the CSV files are in $out"
    exit 0
fi
# The legend: method, rate, and what it reached (from summary.tsv).
title() {
    awk -F'\t' -v m="$1" '$1 == m {
        lr = (m == "lbfgs") ? "strong Wolfe" : "lr " $2
        reached = $3 ? $4 " evals, " $5 " s" : "gap " $6 " at " $4 " evals"
        printf "%s (%s): %s", m, lr, reached }' "$out/summary.tsv"
}
cat >"$tmp/plot.gp" <<EOF
set terminal pngcairo size 1400,560 font ",11"
set output "$out/logreg_lbfgs.png"
set datafile separator ","
set key top right
set logscale y
set format y "10^{%L}"
set ylabel "(f - f*) / f*, lowest so far"
set grid
set multiplot layout 1,2 title "Fashion-MNIST multinomial logistic regression, full batch, small L2: the gap to the optimum's loss"
set xlabel "gradient evaluations"
plot "$out/lbfgs.csv" using 1:(\$6 > 0 ? \$6 : 1e-17) every ::1 with lines lw 2 title "$(title lbfgs)", \
     "$out/gd.csv" using 1:(\$6 > 0 ? \$6 : 1e-17) every ::1 with lines lw 2 title "$(title gd)", \
     "$out/adam.csv" using 1:(\$6 > 0 ? \$6 : 1e-17) every ::1 with lines lw 2 title "$(title adam)"
set xlabel "seconds"
plot "$out/lbfgs.csv" using 2:(\$6 > 0 ? \$6 : 1e-17) every ::1 with lines lw 2 notitle, \
     "$out/gd.csv" using 2:(\$6 > 0 ? \$6 : 1e-17) every ::1 with lines lw 2 notitle, \
     "$out/adam.csv" using 2:(\$6 > 0 ? \$6 : 1e-17) every ::1 with lines lw 2 notitle
unset multiplot
EOF
gnuplot "$tmp/plot.gp"
echo "picture: $out/logreg_lbfgs.png"
