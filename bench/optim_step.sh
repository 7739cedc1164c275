#!/usr/bin/env bash
# bench/optim_step.sh - the step of named optimizers, descent against torch
# 2.15, on the 1,863,690 float32 parameters of the big MLP (784-1024-1024-10:
# its six weights and biases as the optimizer's layout, as the trainer gives
# them), at 1 and 2 threads.
#
# Usage: bench/optim_step.sh [--opts LIST] [--repeats R] [--steps S]
#                            [--threads LIST] [--build DIR] [--max-wait S]
#                            [--clock wall|cpu]
#
#   --opts LIST    named optimizers (default "adam nadam radam adamax adadelta
#                  lion lamb novograd muon"), each with lr 1e-3 and its
#                  defaults; muon as "muon @ weight:2d ; adamw @ *" (torch's
#                  recommended split: Muon refuses the biases); muon_bf16
#                  the same with muon(bf16=1), against the same torch run
#                  (torch's Muon always iterates in bfloat16); shampoo
#                  (not by default: seconds a step at its defaults) against
#                  the reference Distributed Shampoo, whose checkout
#                  SHAMPOO_REFERENCE names (facebookresearch/optimizers)
#   --repeats R    rounds (default 3); each round runs, per thread count and
#                  optimizer, the descent program and then the torch script
#                  once; the table quotes medians over the rounds
#   --steps S      timed steps per kernel and round (default 100)
#   --threads LIST thread counts (default "1 2")
#   --build DIR    CMake build directory (default build), Release
#   --max-wait S   before each run, wait up to S seconds (default 30) for the
#                  machine to be idle; 0 disables the wait
#   --clock C      wall (default) or cpu (the process's CPU time)
#
# descent: descent_optimizer_step of descent_optimizer_create(NAME, "1e-3", n)
# with the MLP's tensors set (bench/adam_step.c --opt NAME --layout mlp).
# torch (bench/adam_step.py --opt NAME --layout mlp, the same six tensors):
# torch.optim's class where torch has one (adam, nadam, radam, adamax,
# adadelta; muon: Muon on the weights and AdamW on the biases) with
# foreach=False, foreach=True and fused=True (each where the
# class accepts it); for lion, lamb and novograd, which torch lacks, a loop
# of in-place torch ops per tensor written in adam_step.py (torch-hand;
# lamb and novograd as optax computes them). The gradient is fixed: the step
# alone is timed. The kernel path is DESCENT_ISA's (unset: the default
# dispatch); on avx2 torch runs on AVX2 too. Run it once per path to compare
# paths. Prints only; writes nothing into the repository besides the build
# directory and the venv.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

bench_name=optim_step.sh
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

opts="adam nadam radam adamax adadelta lion lamb novograd muon"
repeats=3
steps=100
threads_list="1 2"
build=build
max_wait=30
clock=wall

while [ $# -gt 0 ]; do
    case $1 in
        --opts) [ $# -ge 2 ] || die "--opts needs a value"; opts=$2; shift 2 ;;
        --repeats) [ $# -ge 2 ] || die "--repeats needs a value"; repeats=$2; shift 2 ;;
        --steps) [ $# -ge 2 ] || die "--steps needs a value"; steps=$2; shift 2 ;;
        --threads) [ $# -ge 2 ] || die "--threads needs a value"; threads_list=$2; shift 2 ;;
        --build) [ $# -ge 2 ] || die "--build needs a value"; build=$2; shift 2 ;;
        --max-wait) [ $# -ge 2 ] || die "--max-wait needs a value"; max_wait=$2; shift 2 ;;
        --clock) [ $# -ge 2 ] || die "--clock needs a value"; clock=$2; shift 2 ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; die "unknown argument: $1" ;;
    esac
done
for v in "$repeats" "$steps"; do
    [[ $v =~ ^[1-9][0-9]*$ ]] || die "--repeats and --steps must be positive integers"
done
[[ $max_wait =~ ^[0-9]+$ ]] || die "--max-wait must be a number of seconds"
[[ $clock =~ ^(wall|cpu)$ ]] || die "--clock must be wall or cpu"
for o in $opts; do
    [[ $o =~ ^[a-z_0-9]+$ ]] || die "--opts: '$o' is not the name of an optimizer"
done
ncores=$(nproc)
for t in $threads_list; do
    [[ $t =~ ^[1-9][0-9]*$ ]] || die "--threads: bad thread count '$t'"
    [ "$t" -le "$ncores" ] || warn "$t threads > $ncores cores: oversubscribed"
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/descent-optim.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# shellcheck source=compile.sh
source bench/compile.sh
bench_build "$build" descent descent_cli
[ -f "$build/libdescent.a" ] || die "$build/libdescent.a not found"
bench_compile "$tmp/adam_step" bench/adam_step.c "$build/libdescent.a" -O3 -march=native
# shellcheck source=venv.sh
source "$repo/bench/venv.sh"
descent=$build/descent
describe_machine
peer_isa
hz=$(getconf CLK_TCK)

log=$tmp/results.txt
: >"$log"
disturbed=0
for ((r = 1; r <= repeats; r++)); do
    for t in $threads_list; do
        envs=(OMP_NUM_THREADS="$t" OPENBLAS_NUM_THREADS="$t" MKL_NUM_THREADS="$t")
        for o in $opts; do
            measure_program c "$t" env "${envs[@]}" "$tmp/adam_step" --opt "$o" --lr 1e-3 \
                --layout mlp --threads "$t" --steps "$steps" --repeats 1 --clock "$clock"
            measure_program torch "$t" env "${envs[@]}" "${torch_isa_env[@]}" "$DESCENT_PYTHON" \
                bench/adam_step.py --opt "$o" --lr 1e-3 --layout mlp --threads "$t" \
                --steps "$steps" --repeats 1 --clock "$clock"
        done
        echo "optim_step.sh: round $r/$repeats, $t thread(s) done" >&2
    done
done

echo
echo "cpu: $cpu_model; descent kernel path: $kernel_path${torch_isa_env[*]:+; torch with ${torch_isa_env[*]}}"
"$DESCENT_PYTHON" - "$log" "$threads_list" "$repeats" "$steps" "$kernel_path" "$opts" <<'EOF'
import re, statistics, sys
log, threads, repeats, steps, path, opts = (sys.argv[1], sys.argv[2].split(), *sys.argv[3:6],
                                            sys.argv[6].split())
ms = {}
for line in open(log):
    m = re.match(r"optim_step impl=(\S+) opt=(\S+) threads=(\d+) .* ms_per_step=([0-9.eE+-]+)",
                 line)
    if m:
        ms.setdefault((m.group(2), m.group(1), m.group(3)), []).append(float(m.group(4)))
med = {k: statistics.median(v) for k, v in ms.items()}
impls = ["torch-foreach-off", "torch-foreach", "torch-fused", "torch-hand", "torch-ref"]
fmt = lambda x, spec: (spec % x) if x is not None else "-"
print()
print("Optimizer step on the big MLP's 1,863,690 float32 parameters (6 tensors): medians of "
      "%s round(s) x %s steps, ms per step, kernel path %s" % (repeats, steps, path))
print()
row = "%-9s %7s %8s %8s %9s %8s %8s %8s %8s"
print(row % ("optimizer", "threads", "descent", "t-loop", "t-foreach", "t-fused", "t-hand",
             "t-ref", "speedup"))
for o in opts:
    for t in threads:
        d = med.get((o, "descent", t))
        tv = [med.get((o, k, t)) for k in impls]
        avail = [v for v in tv if v is not None]
        best = min(avail) if avail else None
        print(row % (o, t, fmt(d, "%.3f"), *[fmt(v, "%.3f") for v in tv],
                     fmt(best / d if d and best else None, "%.2fx")))
print()
print("t-loop, t-foreach, t-fused: torch.optim with foreach=False, foreach=True, fused=True")
print("(- where the class refuses it); t-hand: the per-tensor loop of torch ops in")
print("bench/adam_step.py for an optimizer torch lacks; t-ref: the reference implementation")
print("(Distributed Shampoo). speedup = torch's best / descent.")
for o in opts:
    for t in threads:
        d = med.get((o, "descent", t))
        avail = [v for v in (med.get((o, k, t)) for k in impls) if v is not None]
        best = min(avail) if avail else None
        print("result workload=optim-step opt=%s path=%s threads=%s descent_ms=%s torch_best_ms=%s "
              "ratio_torch=%s" % (o, path, t, fmt(d, "%.3f"), fmt(best, "%.3f"),
                                  fmt(best / d if d and best else None, "%.3f")))
EOF
if [ "$disturbed" -gt 0 ]; then
    echo "WARNING: $disturbed run(s) were disturbed by other load (more busy cores than" \
        "threads) even when redone: rerun on a quiet machine."
fi
