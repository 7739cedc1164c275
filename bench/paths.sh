#!/usr/bin/env bash
# bench/paths.sh - the whole benchmark set for every kernel path this CPU can
# run, in one table: the CNN (bench/cnn.sh), the big and the small MLP
# (bench/mlp.sh, with JAX), the Adam step (bench/adam_step.sh) and, with
# --e2e, the main job's time to 88% (bench/time_to_accuracy.sh), each with
# DESCENT_ISA=avx512, avx2, portable and unset (the default dispatch), at 1
# and 2 threads.
#
# Usage: bench/paths.sh [--repeats R] [--paths LIST] [--e2e] [--quick]
#                       [--build DIR] [--max-wait S]
#
#   --repeats R   alternating runs of each program per workload, path and
#                 thread count (default 3); the table quotes medians
#   --paths LIST  kernel paths (default "avx512 avx2 portable default"; the
#                 ones `descent --version` refuses on this CPU are left out,
#                 and said so)
#   --e2e         also the end-to-end time to 88% test accuracy (5 seeds)
#   --quick       a smoke test in minutes: 1 repeat, 25 batches per run,
#                 20 Adam steps, e2e with 1 seed, 1 epoch and an 80% target,
#                 no waiting for an idle machine; its figures mean nothing
#   --build DIR   CMake build directory (default build)
#   --max-wait S  passed to each script (default 60; --quick: 0)
#   --mlp-limit N the MLPs train on the first N images (default: all 60,000)
#
# On the avx2 path torch runs with ATEN_CPU_CAPABILITY=avx2
# ONEDNN_MAX_CPU_ISA=AVX2 and XLA with --xla_cpu_max_isa=AVX2, so that all
# programs use the same instruction set (bench/lib.sh, peer_isa); on the
# others the peers run at their best. Each script's whole output goes to a
# temporary folder, shown as it runs on stderr; the table is built from
# their `result` lines. Prints only.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

bench_name=paths.sh
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

repeats=3
paths="avx512 avx2 portable default"
e2e=0
quick=0
build=build
max_wait=
mlp_limit=

while [ $# -gt 0 ]; do
    case $1 in
        -h | --help) usage; exit 0 ;;
        --e2e) e2e=1; shift; continue ;;
        --quick) quick=1; shift; continue ;;
        --repeats | --paths | --build | --max-wait | --mlp-limit) [ $# -ge 2 ] || die "$1 needs a value" ;;
        *) usage >&2; die "unknown argument: $1" ;;
    esac
    case $1 in
        --repeats) repeats=$2 ;;
        --paths) paths=$2 ;;
        --build) build=$2 ;;
        --max-wait) max_wait=$2 ;;
        --mlp-limit) mlp_limit=$2 ;;
    esac
    shift 2
done
[[ $repeats =~ ^[1-9][0-9]*$ ]] || die "--repeats must be a positive integer"
for p in $paths; do
    case $p in avx512 | avx2 | portable | default) ;; *) die "--paths: unknown path '$p'" ;; esac
done
if [ "$quick" = 1 ]; then
    repeats=1
    max_wait=${max_wait:-0}
fi
max_wait=${max_wait:-60}
[[ $max_wait =~ ^[0-9]+$ ]] || die "--max-wait must be a number of seconds"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/descent-paths.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# Build once; every script then finds it built.
if [ ! -f "$build/CMakeCache.txt" ]; then
    cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >&2
fi
cmake --build "$build" -j "$(nproc)" >&2
descent=${DESCENT_BIN:-$build/descent}

# The sizes of each workload: full runs, or --quick's.
common=(--build "$build" --max-wait "$max_wait" --repeats "$repeats")
cnn=() mlp=() adam=(--steps 200) tta=()
[ -z "$mlp_limit" ] || mlp=(--limit "$mlp_limit")
if [ "$quick" = 1 ]; then
    cnn=(--limit 3200) mlp=(--limit 3200) adam=(--steps 20)
    tta=(--seeds 1 --epochs 1 --target 80)
fi

# Runs one script (its output into $tmp/<name>.log, shown on stderr) and
# keeps its result lines, each prefixed with the asked path ($1).
run_script() {
    local path=$1 name=$2 log
    shift 2
    log=$tmp/$name-$path.log
    echo "paths.sh: $path: $name $*" >&2
    if ! "$@" 2>&1 | tee "$log" >&2; then
        warn "$name failed on path $path (see above)"
    fi
    sed -n "s/^result /asked=$path /p" "$log" >>"$tmp/results"
}

: >"$tmp/results"
ran=()
for p in $paths; do
    isa=()
    [ "$p" = default ] || isa=(DESCENT_ISA="$p")
    if ! reported=$(env "${isa[@]}" "$descent" --version 2>&1); then
        echo "paths.sh: path $p left out: $reported" >&2
        continue
    fi
    ran+=("$p")
    run_script "$p" cnn env "${isa[@]}" bench/cnn.sh "${common[@]}" "${cnn[@]}"
    run_script "$p" mlp-big env "${isa[@]}" bench/mlp.sh "${common[@]}" "${mlp[@]}"
    run_script "$p" mlp-small env "${isa[@]}" bench/mlp.sh --model mlp:784-100-10 \
        "${common[@]}" "${mlp[@]}"
    run_script "$p" adam env "${isa[@]}" bench/adam_step.sh --build "$build" \
        --max-wait "$max_wait" --repeats "$repeats" "${adam[@]}"
    if [ "$e2e" = 1 ]; then
        for t in 1 2; do
            run_script "$p" "e2e-$t" env "${isa[@]}" bench/time_to_accuracy.sh --build "$build" \
                --max-wait "$max_wait" --threads "$t" "${tta[@]}"
        done
    fi
done
[ ${#ran[@]} -gt 0 ] || die "no kernel path could run"

# --- The table ----------------------------------------------------------------------
cpu=$(sed -n 's/^cpu: //p' "$tmp"/cnn-"${ran[0]}".log | head -n 1)
torch_version=$(sed -n 's/^torch \([^ ]*\) (.*) via .*/\1/p' "$tmp"/mlp-big-"${ran[0]}".log | head -n 1)
jax_version=$(sed -n 's/^jax \([0-9][^ ]*\)$/\1/p' "$tmp"/mlp-big-"${ran[0]}".log | head -n 1)
echo
echo "## descent on every kernel path"
echo
echo "CPU: ${cpu:-?}. descent $(git rev-parse --short HEAD 2>/dev/null || echo '?')," \
    "torch ${torch_version:-?}, jax ${jax_version:-not run}. Medians of $repeats alternating" \
    "run(s)$([ "$quick" = 1 ] && echo ' (--quick: smoke test, not figures)')."
echo "Path: the DESCENT_ISA asked, then the kernel path \`descent --version\` reported under it."
echo "On the avx2 rows torch runs with ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 and XLA"
echo "with --xla_cpu_max_isa=AVX2 (the same instruction set as descent); on the others at their best."
echo "Units: samples/s (CNN, MLPs), ms per step (Adam), seconds from process start to the target"
echo "test accuracy (e2e; the epochs reached after the time). Ratios: descent's speed / the peer's"
echo "(above 1: descent faster). % of peak: descent's GFLOP/s / (threads x the path's per-core fp32"
echo "peak, 256-bit FMA on avx2). Peak RSS: /usr/bin/time -f %M, descent / torch / JAX, MB."
echo
awk '
    function val(key,   i, kv) {
        for (i = 1; i <= NF; i++) {
            split($i, kv, "=")
            if (kv[1] == key) return substr($i, length(key) + 2)
        }
        return "NA"
    }
    function n(x, spec) { return x == "NA" ? "NA" : sprintf(spec, x) }
    function ratio(x) { return x == "NA" ? "NA" : sprintf("%.2fx", x) }
    BEGIN {
        print "| workload | path | threads | descent | torch best | JAX | ratio torch | ratio JAX | % of peak | peak RSS MB |"
        print "|---|---|---|---|---|---|---|---|---|---|"
    }
    # Rows grouped by workload, in the order the workloads first ran.
    {
        w = val("workload"); if (!(w in seen)) { seen[w] = 1; order[++nw] = w }
        path = val("asked") " -> " val("path"); t = val("threads")
        rss = n(val("rss_descent_mb"), "%.0f") " / " n(val("rss_torch_mb"), "%.0f")
        if (w == "adam-step") {
            row = sprintf("| Adam step (ms) | %s | %s | %s | %s | | %s | | | %s |", path, t,
                val("descent_ms"), val("torch_best_ms"), ratio(val("ratio_torch")), rss)
        } else if (w ~ /^e2e-/) {
            row = sprintf("| main job to %s (s, epoch) | %s | %s | %s (%s) | %s (%s) | | %s | | | %s |",
                substr(w, 5), path, t, val("descent_s"), val("descent_epoch"), val("torch_s"),
                val("torch_epoch"), ratio(val("speedup")), rss)
        } else {
            j = val("jax_best")
            if (j != "NA" || val("rss_jax_mb") != "NA") rss = rss " / " n(val("rss_jax_mb"), "%.0f")
            pk = val("descent_pct_peak")
            row = sprintf("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |", w, path, t,
                n(val("descent"), "%.0f"), n(val("torch_best"), "%.0f"), n(j, "%.0f"),
                ratio(val("ratio_torch")), ratio(val("ratio_jax")),
                pk == "NA" ? "NA" : pk "%", rss)
        }
        rows[w] = rows[w] row "\n"
    }
    END { for (i = 1; i <= nw; i++) printf "%s", rows[order[i]] }' "$tmp/results"
