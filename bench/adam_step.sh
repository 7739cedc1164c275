#!/usr/bin/env bash
# bench/adam_step.sh - descent's Adam step vs torch.optim.Adam's step() vs a
# plain memcpy of the same bytes, on a flat float32 buffer of 1.9M parameters,
# at 1 and 2 threads.
#
# Usage: bench/adam_step.sh [--repeats R] [--steps S] [--n N] [--threads LIST]
#                           [--build DIR] [--max-wait S] [--clock wall|cpu]
#
#   --repeats R    rounds (default 5); each round runs the descent/memcpy
#                  program and then the torch script once per thread count;
#                  the table quotes medians over the rounds
#   --steps S      timed steps per kernel and round (default 200)
#   --n N          parameters (default 1900000)
#   --threads LIST thread counts (default "1 2")
#   --build DIR    CMake build directory (default build), configured as
#                  Release and built if needed
#   --max-wait S   before each run, wait up to S seconds (default 30) for the
#                  machine to be idle; 0 disables the wait
#   --clock C      wall (default) or cpu: time by the process's CPU time,
#                  which holds up better on a machine shared with other work
#
# The kernel path is DESCENT_ISA's (unset: the default dispatch); on avx2
# torch runs on its AVX2 kernels too. Run it once per path to compare paths.
#
# Bytes model: an Adam step reads g, theta, m, v and writes theta, m, v: 28
# bytes per float32 parameter. The memcpy reference copies 14 bytes per
# parameter (14 read + 14 written = the same 28 bytes); the stream reference
# runs Adam's in-place read-4/write-3 pattern with multiply-adds only.
# Effective bandwidth = bytes touched / time. Prints only; writes nothing into
# the repository besides the build directory and the venv.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

bench_name=adam_step.sh
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

repeats=5
steps=200
n=1900000
threads_list="1 2"
build=build
max_wait=30
clock=wall

while [ $# -gt 0 ]; do
    case $1 in
        --repeats) [ $# -ge 2 ] || die "--repeats needs a value"; repeats=$2; shift 2 ;;
        --steps) [ $# -ge 2 ] || die "--steps needs a value"; steps=$2; shift 2 ;;
        --n) [ $# -ge 2 ] || die "--n needs a value"; n=$2; shift 2 ;;
        --threads) [ $# -ge 2 ] || die "--threads needs a value"; threads_list=$2; shift 2 ;;
        --build) [ $# -ge 2 ] || die "--build needs a value"; build=$2; shift 2 ;;
        --max-wait) [ $# -ge 2 ] || die "--max-wait needs a value"; max_wait=$2; shift 2 ;;
        --clock) [ $# -ge 2 ] || die "--clock needs a value"; clock=$2; shift 2 ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; die "unknown argument: $1" ;;
    esac
done
for v in "$repeats" "$steps" "$n"; do
    [[ $v =~ ^[1-9][0-9]*$ ]] || die "--repeats, --steps and --n must be positive integers"
done
[[ $max_wait =~ ^[0-9]+$ ]] || die "--max-wait must be a number of seconds"
[[ $clock =~ ^(wall|cpu)$ ]] || die "--clock must be wall or cpu"
ncores=$(nproc)
for t in $threads_list; do
    [[ $t =~ ^[1-9][0-9]*$ ]] || die "--threads: bad thread count '$t'"
    if [ "$t" -gt "$ncores" ]; then
        echo "adam_step.sh: WARNING: $t threads > $ncores cores: oversubscribed" >&2
    fi
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/descent-adam.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# --- descent, and the benchmark program -------------------------------------
# shellcheck source=compile.sh
source bench/compile.sh
bench_build "$build"
btype=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$build/CMakeCache.txt")
[ "$btype" = Release ] || echo "adam_step.sh: WARNING: $build is a '$btype' build, not Release" >&2
[ -f "$build/libdescent.a" ] || die "$build/libdescent.a not found"
bench_compile "$tmp/adam_step" bench/adam_step.c "$build/libdescent.a" -O3 -march=native

# --- PyTorch -------------------------------------------------------------------
# shellcheck source=venv.sh
source "$repo/bench/venv.sh"

# The CPU, descent's kernel path, the peers' instruction set (torch on AVX2
# on the avx2 path) and rss_cmd (bench/lib.sh).
descent=$build/descent
describe_machine
peer_isa

# --- Quiet machine --------------------------------------------------------------
# wait_quiet and run_watched (bench/lib.sh) watch for other load.
hz=$(getconf CLK_TCK)

# Alternating the programs round by round lets drifts (clock, neighbours) hit
# all kernels alike.
log=$tmp/results.txt
: >"$log"
disturbed=0
for ((r = 1; r <= repeats; r++)); do
    for t in $threads_list; do
        envs=(OMP_NUM_THREADS="$t" OPENBLAS_NUM_THREADS="$t" MKL_NUM_THREADS="$t")
        measure_program c "$t" env "${envs[@]}" "$tmp/adam_step" --n "$n" --threads "$t" \
            --steps "$steps" --repeats 1 --clock "$clock"
        measure_program torch "$t" env "${envs[@]}" "${torch_isa_env[@]}" "$DESCENT_PYTHON" \
            bench/adam_step.py --n "$n" --threads "$t" --steps "$steps" --repeats 1 --clock "$clock"
        echo "adam_step.sh: round $r/$repeats, $t thread(s) done" >&2
    done
done
if [ "$disturbed" -gt 0 ]; then
    echo "adam_step.sh: WARNING: $disturbed run(s) disturbed by other load even when redone;" \
        "the table below is not clean" >&2
fi

# --- Table ----------------------------------------------------------------------
echo
echo "cpu: $cpu_model; descent kernel path: $kernel_path${torch_isa_env[*]:+; torch with ${torch_isa_env[*]}}"
"$DESCENT_PYTHON" - "$log" "$threads_list" "$repeats" "$steps" "$n" "$kernel_path" <<'EOF'
import re, statistics, sys
log, threads, repeats, steps, n, path = sys.argv[1], sys.argv[2].split(), *sys.argv[3:]
ms, rss = {}, {}
for line in open(log):
    m = re.match(r"adam_step impl=(\S+) threads=(\d+) .* ms_per_step=([0-9.eE+-]+)", line)
    if m:
        ms.setdefault((m.group(1), m.group(2)), []).append(float(m.group(3)))
    m = re.match(r"adam_rss prog=(\S+) threads=(\d+) mb=([0-9.]+)$", line)
    if m:
        rss.setdefault((m.group(1), m.group(2)), []).append(float(m.group(3)))
med = {k: statistics.median(v) for k, v in ms.items()}
med_rss = {k: statistics.median(v) for k, v in rss.items()}
bytes_per_step = 28.0 * int(n)
torch_impls = ["torch-foreach-off", "torch-foreach", "torch-fused"]
gbs = lambda t_ms: bytes_per_step / (t_ms * 1e-3) / 1e9
fmt = lambda x, spec: (spec % x) if x is not None else "NA"
print()
print("Adam step on %s float32 parameters: medians of %s round(s) x %s steps, ms per step"
      % (n, repeats, steps))
print("bytes model: 28 B/parameter (read g, theta, m, v; write theta, m, v) = %.1f MB per step"
      % (bytes_per_step / 1e6))
print()
head = ("threads", "descent", "t-loop", "t-foreach", "t-fused", "torch-best", "desc/best",
        "speedup", "memcpy", "stream", "desc GB/s", "copy GB/s", "strm GB/s", "desc/copy",
        "desc/strm")
row = "%-7s %8s %8s %9s %8s %10s %9s %8s %8s %8s %9s %9s %9s %9s %9s"
print(row % head)
for t in threads:
    d, c, st = med.get(("descent", t)), med.get(("memcpy", t)), med.get(("stream", t))
    tv = [med.get((k, t)) for k in torch_impls]
    avail = [v for v in tv if v is not None]
    best = min(avail) if avail else None
    print(row % (
        t, fmt(d, "%.3f"), *[fmt(v, "%.3f") for v in tv], fmt(best, "%.3f"),
        fmt(d / best if d and best else None, "%.3f"),
        fmt(best / d if d and best else None, "%.2fx"), fmt(c, "%.3f"), fmt(st, "%.3f"),
        fmt(gbs(d) if d else None, "%.1f"), fmt(gbs(c) if c else None, "%.1f"),
        fmt(gbs(st) if st else None, "%.1f"),
        fmt(100 * c / d if d and c else None, "%.0f%%"),
        fmt(100 * st / d if d and st else None, "%.0f%%")))
print()
print("ms per step. t-loop = foreach=False, t-foreach = foreach=True, t-fused = fused=True;")
print("torch-best = the fastest of the three; desc/best = descent time / torch-best time;")
print("speedup = its inverse. memcpy = copy of 14 B/parameter (same 28 B touched); stream =")
print("Adam's read-4/write-3 in-place pattern with multiply-adds only. desc/copy and desc/strm =")
print("descent's effective bandwidth as a share of theirs. Goal: speedup >= 4x, desc/copy >= 70%.")
print("Peak RSS (/usr/bin/time -f %M, median over rounds, MB): the C program (descent, memcpy")
print("and stream in one process) and the torch script (its three variants in one process):")
for t in threads:
    print("  threads %s: C %s, torch %s" % (t, fmt(med_rss.get(("c", t)), "%.0f"),
                                           fmt(med_rss.get(("torch", t)), "%.0f")))
print()
for t in threads:
    d = med.get(("descent", t))
    avail = [v for v in (med.get((k, t)) for k in torch_impls) if v is not None]
    best = min(avail) if avail else None
    print("result workload=adam-step path=%s threads=%s descent_ms=%s torch_best_ms=%s "
          "ratio_torch=%s rss_descent_mb=%s rss_torch_mb=%s" % (
              path, t, fmt(d, "%.3f"), fmt(best, "%.3f"),
              fmt(best / d if d and best else None, "%.3f"),
              fmt(med_rss.get(("c", t)), "%.1f"), fmt(med_rss.get(("torch", t)), "%.1f")))
if not any(k[0] == "descent" for k in med):
    print("descent's Adam is not available in this build: torch and memcpy figures only.")
EOF
if [ "$disturbed" -gt 0 ]; then
    echo "WARNING: $disturbed run(s) were disturbed by other load (more busy cores than" \
        "threads) even when redone: rerun on a quiet machine."
fi
