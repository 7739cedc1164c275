#!/usr/bin/env bash
# bench/gemm_libs.sh - the products of an MLP's training step on every
# matrix library Debian offers (descent's own choice, its AVX-512 kernel,
# OpenBLAS, oneDNN, BLIS, libxsmm), per kernel path and thread count, in one
# table: what gemm.c's choice of library per product rests on.
#
# Usage: bench/gemm_libs.sh [--threads "1 2"] [--repeats R] [--calls N]
#                           [--paths LIST] [--models "mlp:... ..."] [--build DIR]
#
#   --threads LIST  thread counts (default "1 2")
#   --repeats R     alternating runs of the program per path and thread count
#                   (default 3); the table quotes the median of their medians
#   --calls N       timed calls of each product per run (default 50)
#   --paths LIST    kernel paths (DESCENT_ISA; default "avx512 avx2", those
#                   that `descent --version` refuses on this CPU left out)
#   --models LIST   default: the big MLP, the main job and the small MLP
#   --build DIR     CMake build directory (default build)
#
# bench/gemm_libs.c says what is timed and how. oneDNN, BLIS and libxsmm are
# linked when their Debian packages are installed (libdnnl-dev,
# libblis-dev, libxsmm-dev); one that is not is left out of the table, and
# said so. Prints only; writes nothing into the repository besides the
# build directory.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
threads_list="1 2"
repeats=3
calls=50
paths="avx512 avx2"
models="mlp:784-1024-1024-10 mlp:784-256-128-10 mlp:784-100-10"
build=build
die() { echo "gemm_libs.sh: $*" >&2; exit 2; }
while [ $# -gt 0 ]; do
    case $1 in
        --threads | --repeats | --calls | --paths | --models | --build)
            [ $# -ge 2 ] || die "$1 needs a value" ;;&
        --threads) threads_list=$2; shift 2 ;;
        --repeats) repeats=$2; shift 2 ;;
        --calls) calls=$2; shift 2 ;;
        --paths) paths=$2; shift 2 ;;
        --models) models=$2; shift 2 ;;
        --build) build=$2; shift 2 ;;
        -h | --help) sed -n '2,23p' "$0"; exit 0 ;;
        *) die "unknown option '$1' (see --help)" ;;
    esac
done
[[ $repeats =~ ^[1-9][0-9]*$ ]] || die "--repeats must be a positive integer"
if ! [[ $calls =~ ^[1-9][0-9]*$ ]] || [ "$calls" -lt 3 ]; then
    die "--calls must be an integer of at least 3"
fi
read -ra model_list <<<"$models"
[ ${#model_list[@]} -gt 0 ] || die "--models needs at least one model"
for t in $threads_list; do
    [[ $t =~ ^[1-9][0-9]*$ ]] || die "--threads takes positive integers, not '$t'"
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/descent-gemm-libs.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# shellcheck source=compile.sh
source bench/compile.sh
bench_build "$build" descent descent_cli

# The libraries found, as compiler flags.
multiarch=$(cc -print-multiarch 2>/dev/null || true)
flags=() libs=() left_out=()
if [ -f /usr/include/dnnl.h ] || [ -f /usr/include/oneapi/dnnl/dnnl.h ]; then
    flags+=(-DHAVE_DNNL) libs+=(-ldnnl)
else
    left_out+=("oneDNN (apt-get install libdnnl-dev)")
fi
blis_dir=/usr/include/$multiarch/blis-openmp
blis_lib=/usr/lib/$multiarch/blis-openmp/libblis.a
if [ -f "$blis_dir/blis.h" ] && [ -f "$blis_lib" ]; then
    flags+=(-DHAVE_BLIS -isystem "$blis_dir") libs+=("$blis_lib")
else
    left_out+=("BLIS (apt-get install libblis-dev libblis-openmp-dev)")
fi
if [ -f /usr/include/libxsmm.h ] && [ -f /usr/lib/libxsmm.a ]; then
    flags+=(-DHAVE_XSMM) libs+=(/usr/lib/libxsmm.a -ldl -lpthread)
else
    left_out+=("libxsmm (apt-get install libxsmm-dev)")
fi
# The libraries go after OpenBLAS (bench_libs): OpenBLAS keeps the BLAS
# symbols, BLIS's archive gives only its own bli_ functions, and libxsmm
# hands large products to OpenBLAS.
# shellcheck disable=SC2034 # read by bench_compile
bench_libs=(${libs[@]+"${libs[@]}"} -lopenblas)
bench_compile "$tmp/gemm_libs" bench/gemm_libs.c "$build/libdescent.a" -O2 -Ibench \
    ${flags[@]+"${flags[@]}"}

cpu=$(awk -F': *' '/^model name/ && !m { m = $2 } /^cpu family/ && !f { f = $2 }
    /^model[ \t]*:/ && !n { n = $2 } END { printf "%s (family %s model %s)", m, f, n }' /proc/cpuinfo)
echo "cpu: $cpu"
for l in "${left_out[@]}"; do echo "left out: $l"; done

# Per path: the fp32 peak of its vectors, then the runs, thread counts
# alternating within each repeat.
for path in $paths; do
    if ! DESCENT_ISA=$path "$build/descent" --version >/dev/null 2>&1; then
        echo "path $path: left out ($(DESCENT_ISA=$path "$build/descent" --version 2>&1 | tail -n 1))"
        continue
    fi
    march=(-march=native)
    [ "$path" = avx512 ] || march+=(-mno-avx512f)
    cc -O2 "${march[@]}" -fopenmp bench/peak_flops.c -o "$tmp/peak_flops"
    peak=$("$tmp/peak_flops" 1 | awk '/threads=1 / { sub("gflops=", "", $4); print $4 }')
    echo "path $path: fp32 peak $peak GFLOP/s per core"
    for r in $(seq "$repeats"); do
        for t in $threads_list; do
            DESCENT_ISA=$path OMP_NUM_THREADS=$t DESCENT_PEAK_GFLOPS=$peak \
                "$tmp/gemm_libs" "$t" "$calls" "${model_list[@]}" >"$tmp/run.$path.$t.$r"
            grep '^#' "$tmp/run.$path.$t.$r" | grep -v '^# path' >>"$tmp/libs.txt" || true
            grep '^gemm ' "$tmp/run.$path.$t.$r" >>"$tmp/all.txt"
        done
    done
done
[ -s "$tmp/all.txt" ] || die "no path could run"
sort -u "$tmp/libs.txt"

# The table: median over the repeats of each library's median, per path,
# thread count, product and condition; the fastest library, and descent's
# time over the fastest's.
awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^median_ms=/) { sub("median_ms=", "", $i); v = $i }
       print $2 "|" $3 "|" $4 "|" $5 "|" $6 "|" $8 "|" $7, v }' "$tmp/all.txt" |
    sort -t ' ' -k1,1 -k2,2g |
    awk '{ k = $1; if (k != prev && prev != "") { print prev, med(vals, nv); nv = 0 }
           vals[++nv] = $2; prev = k }
         END { if (prev != "") print prev, med(vals, nv) }
         function med(v, n) { return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2 }' \
        >"$tmp/medians.txt"
# Rows in the order the program printed them (all.txt), values from
# medians.txt.
awk -v order="descent kernel openblas onednn blis libxsmm" '
    FNR == NR { key = $2 "|" $3 "|" $4 "|" $5 "|" $6 "|" $8
                if (!(key in seen)) { seen[key] = 1; keys[++n] = key }
                next }
    { split($1, f, "|"); t[f[1] "|" f[2] "|" f[3] "|" f[4] "|" f[5] "|" f[6], f[7]] = $2 }
    END {
      nl = split(order, L, " ")
      printf "| path | threads | model | product | m x n x k | operands |"
      for (i = 1; i <= nl; i++) printf " %s |", L[i]
      printf " fastest | descent / fastest |\n|"
      for (i = 1; i <= nl + 8; i++) printf "---|"
      printf "\n"
      for (j = 1; j <= n; j++) {
        split(keys[j], f, "|"); best = ""; bt = 0
        printf "| %s | %s | %s | %s | %s | %s |", f[1], f[2], f[3], f[4], f[5], f[6]
        for (i = 1; i <= nl; i++) {
          v = t[keys[j], L[i]]
          if (v == "") { printf " |"; continue }
          printf " %.4f |", v
          if (best == "" || v + 0 < bt) { bt = v + 0; best = L[i] }
        }
        printf " %s | %.2fx |\n", best, t[keys[j], "descent"] / bt
      }
    }' "$tmp/all.txt" "$tmp/medians.txt"
echo "(ms per product, median over $repeats run(s) of the median of $calls calls;" \
    "operands: warm = the same call repeated, step = an SGD-like pass over the" \
    "weights and 16 MB before each call, as between a step's products)"
