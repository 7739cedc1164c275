# shellcheck shell=bash
# bench/lib.sh - what bench/mlp.sh and bench/cnn.sh share: building descent,
# the Python with PyTorch, the fp32 peak, the watch over other load, the
# repeated runs and the ratio table. See bench/README.md.
#
# Sourced by a benchmark script after it has set
#   bench_name   its name, the prefix of every message (e.g. cnn.sh)
# and before it parses its options. Sourcing only defines functions and a few
# paths (here, self, repo) and changes into the repository; bench_setup does
# the work (bench_programs, then the peak; time_to_accuracy.sh calls only
# bench_programs), once the script has set
#   repeats, epochs, limit, build, threads_list, max_wait  (its options)
# and defined
#   run_descent T          prints the samples/s of one descent run, or NA
#   run_torch T POLICY     the same for torch ("" or PASSIVE wait policy)
# and, if it wants them, the hooks
#   after_descent_run T    called after each descent run (cnn.sh: step timer)
#   run_jax T VARIANT      the samples/s of one JAX run (mlp.sh), for each
#                          variant in jax_variants (a list, empty: no JAX)
# Afterwards these are set: tmp (a temporary directory, removed on exit),
# descent, extra_args, torch_version, maxt, peak_core, peak_all, vbits, hz,
# cpu_model, kernel_path, torch_isa_env and jax_isa_args (the instruction
# set the peers may use: AVX2 when DESCENT_ISA=avx2, see peer_isa).
#
# Every program run goes through /usr/bin/time -f %M (rss_cmd), which
# writes the peak resident set size of the run into $tmp/rss; run_all
# keeps it beside each run's throughput.
#
# Variables set by the calling script, or here for it:
# shellcheck disable=SC2154,SC2034
# shellcheck source-path=SCRIPTDIR

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
self=$here/$(basename "${BASH_SOURCE[1]}")
repo=$(cd "$here/.." && pwd)
cd "$repo" || exit 1

# Medians of the runs per thread count, filled by run_all: samples/s of
# descent, torch (default and PASSIVE wait policy), each JAX variant
# (med_j[T,VARIANT]), and peak RSS in MB of descent, torch and JAX.
declare -A med_d=() med_t=() med_tp=() med_j=() rss_d=() rss_t=() rss_j=()
jax_variants=()

# Prints the calling script's header comment (from line 2 to the last comment
# line before the first line that is not a comment, or a shellcheck
# directive).
usage() {
    awk 'NR == 1 { next } !/^#/ || /^# shellcheck/ { exit } { print }' "$self" |
        sed 's/^# \{0,1\}//'
}
die() { printf '%s: %s\n' "$bench_name" "$*" >&2; exit 1; }
warn() { printf '%s: WARNING: %s\n' "$bench_name" "$*" >&2; }

# Takes the option at "$@" if it is one every script has (--repeats,
# --epochs, --limit, --build, --threads, --max-wait, --help), setting its
# variable; anything else is refused with the usage. The caller shifts by 2
# (every one of them takes a value; --help exits).
common_option() {
    case $1 in
        -h | --help) usage; exit 0 ;;
        --repeats | --epochs | --limit | --build | --threads | --max-wait)
            [ $# -ge 2 ] || die "$1 needs a value" ;;
        *) usage >&2; die "unknown argument: $1" ;;
    esac
    case $1 in
        --repeats) repeats=$2 ;;
        --epochs) epochs=$2 ;;
        --limit) limit=$2 ;;
        --build) build=$2 ;;
        --threads) threads_list=$2 ;;
        --max-wait) max_wait=$2 ;;
    esac
}

# Checks the options every script has.
check_options() {
    [[ $repeats =~ ^[1-9][0-9]*$ ]] || die "--repeats must be a positive integer"
    [[ $epochs =~ ^[1-9][0-9]*$ ]] || die "--epochs must be a positive integer"
    [[ $limit =~ ^(0|[1-9][0-9]*)$ ]] || die "--limit must be a whole number"
    # The torch scripts time nothing in their first 20 batches of 128.
    local batches=$(((limit + 127) / 128)) t
    [ "$limit" -eq 0 ] || [ $((batches * epochs)) -gt 20 ] ||
        die "--limit $limit: torch's 20 warm-up batches would be all of the run"
    [[ $max_wait =~ ^[0-9]+$ ]] || die "--max-wait must be a number of seconds"
    for t in $threads_list; do
        [[ $t =~ ^[1-9][0-9]*$ ]] || die "--threads: bad thread count '$t'"
    done
}

# --- Setup -----------------------------------------------------------------------
# The programs (bench_programs) and the fp32 peak.
bench_setup() {
    bench_programs

    # Per-core fp32 peak, and the peak at the largest thread count.
    local t
    maxt=1
    for t in $threads_list; do
        if [ "$t" -gt "$maxt" ]; then maxt=$t; fi
    done
    # The peak of the path's vectors: 256-bit ones on the avx2 path.
    local march=(-march=native)
    [ "$kernel_path" = avx2 ] && march+=(-mno-avx512f)
    if ! cc -O2 "${march[@]}" -fopenmp bench/peak_flops.c -o "$tmp/peak_flops" 2>"$tmp/cc.err"; then
        echo "$bench_name: cc -fopenmp failed, building peak_flops without OpenMP" >&2
        cc -O2 "${march[@]}" bench/peak_flops.c -o "$tmp/peak_flops"
    fi
    "$tmp/peak_flops" "$maxt" >"$tmp/peak.txt"
    cat "$tmp/peak.txt"
    peak_core=$(awk '/^peak_flops threads=1 / { sub("gflops=", "", $4); print $4 }' "$tmp/peak.txt")
    peak_all=$(awk -v t="$maxt" '$2 == "threads=" t { sub("gflops=", "", $4); print $4 }' "$tmp/peak.txt")
    vbits=$(awk '/^peak_flops threads=1 / { sub("vector_bits=", "", $3); print $3 }' "$tmp/peak.txt")
    [ -n "$peak_core" ] || die "could not measure the per-core peak"
}

# The temporary directory, descent (built if needed), the machine and the
# kernel path, the Python with PyTorch.
bench_programs() {
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/descent-bench.XXXXXX")
    trap 'rm -rf "$tmp"' EXIT

    # Oversubscription check, machine side.
    local ncores t btype
    ncores=$(nproc)
    for t in $threads_list; do
        if [ "$t" -gt "$ncores" ]; then
            warn "$t threads > $ncores usable cores: oversubscribed," \
                "numbers for $t threads are meaningless"
        fi
    done

    # descent: DESCENT_BIN, or the build directory, configured and built.
    if [ -n "${DESCENT_BIN:-}" ]; then
        descent=$DESCENT_BIN
    else
        if [ ! -f "$build/CMakeCache.txt" ]; then
            cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >&2
        fi
        cmake --build "$build" -j "$ncores" >&2
        btype=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$build/CMakeCache.txt")
        if [ "$btype" != Release ]; then
            warn "$build is a '$btype' build, not Release"
        fi
        descent=$build/descent
    fi
    [ -x "$descent" ] || die "descent program not found: $descent"
    extra_args=()
    read -ra extra_args <<<"${DESCENT_TRAIN_ARGS:-}"
    describe_machine
    peer_isa

    # PyTorch.
    # shellcheck source=venv.sh
    source "$repo/bench/venv.sh"
    torch_version=$("$DESCENT_PYTHON" -c 'import torch; print(torch.__version__)')
    hz=$(getconf CLK_TCK)
}

# The CPU (model name, family and model numbers, AVX-512 or not) and the
# kernel path descent reports under this DESCENT_ISA (`descent --version`);
# sets cpu_model and kernel_path, prints both, and rss_cmd.
describe_machine() {
    cpu_model=$(awk -F': *' '
        /^model name/ && !m { m = $2 } /^cpu family/ && !f { f = $2 }
        /^model[ \t]*:/ && !n { n = $2 } /^flags/ && !x { x = $2 }
        END { printf "%s (family %s model %s, %s)", m, f, n,
            x ~ /avx512f/ ? "AVX-512" : (x ~ /avx2/ ? "AVX2, no AVX-512" : "no AVX2") }' /proc/cpuinfo)
    kernel_path=$("$descent" --version 2>&1 | sed -n 's/.*kernel path \([a-z0-9]*\).*/\1/p')
    [ -n "$kernel_path" ] || die "DESCENT_ISA=${DESCENT_ISA:-}: $("$descent" --version 2>&1 | tail -n 1)"
    echo "cpu: $cpu_model"
    echo "descent kernel path: $kernel_path (DESCENT_ISA=${DESCENT_ISA:-unset})"
    if [ -x /usr/bin/time ]; then
        rss_cmd=(/usr/bin/time -f %M -o "$tmp/rss")
    else
        warn "/usr/bin/time not found (Debian package time): no peak RSS"
        rss_cmd=()
    fi
}

# The instruction set of the peers: on descent's avx2 path, torch runs with
# ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 and XLA with
# --xla_cpu_max_isa=AVX2, so that all use the same vectors; otherwise each
# runs at its best. Sets torch_isa_env and jax_isa_args.
peer_isa() {
    torch_isa_env=() jax_isa_args=()
    if [ "$kernel_path" = avx2 ]; then
        torch_isa_env=(ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2)
        jax_isa_args=(--xla-max-isa AVX2)
        echo "peers on AVX2 too: ${torch_isa_env[*]}, XLA ${jax_isa_args[*]}"
    fi
}

# The peak RSS of the last run, in MB (from $tmp/rss, in KB), or NA.
last_rss_mb() {
    local kb
    kb=$(tail -n 1 "$tmp/rss" 2>/dev/null || true)
    if [[ $kb =~ ^[0-9]+$ ]]; then
        awk -v k="$kb" 'BEGIN { printf "%.1f\n", k / 1024 }'
    else
        echo NA
    fi
}

# --- Oversubscription check, during the runs ----------------------------------
# Whole-machine busy CPU time (user+nice+system+irq+softirq+steal), in ticks.
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
        warn "machine still busy after ${max_wait}s, running anyway"
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
    if ! awk -v b="$((b1 - b0))" -v hz="$hz" -v w="$((w1 - w0))" -v t="$t" \
        -v name="$bench_name" 'BEGIN {
        cores = (b / hz) / (w * 1e-9)
        if (cores > t + 0.2) {
            printf "%s: WARNING: %.2f cores busy during a %d-thread run:" \
                " other load, this run is disturbed\n", name, cores, t > "/dev/stderr"
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
        echo "$bench_name: disturbed run ($sps samples/s) discarded, running it again" >&2
        rm -f "$tmp/disturbed"
        sps=$("$@")
        if [ -e "$tmp/disturbed" ]; then
            warn "disturbed again, keeping $sps samples/s"
        fi
    fi
    echo "$sps"
}

# For the step benchmarks (adam_step.sh, optim_step.sh), which log every
# line a program prints: runs program $1 (c or torch: the name of its peak
# RSS) with T=$2 threads, "${@:3}" under run_watched and /usr/bin/time; a
# disturbed run is redone once (runs still disturbed are counted in
# $disturbed). Appends the kept run's lines and its peak RSS
# ("adam_rss prog=P threads=T mb=M") to $log (and shows them).
measure_program() {
    local prog=$1 t=$2
    shift 2
    rm -f "$tmp/disturbed" "$tmp/rss"
    run_watched "$t" "${rss_cmd[@]}" "$@" >"$tmp/run.txt" || warn "$* failed"
    if [ -e "$tmp/disturbed" ]; then
        echo "$bench_name: disturbed run discarded, running it again" >&2
        rm -f "$tmp/disturbed" "$tmp/rss"
        run_watched "$t" "${rss_cmd[@]}" "$@" >"$tmp/run.txt" || warn "$* failed"
        if [ -e "$tmp/disturbed" ]; then
            warn "disturbed again, keeping it"
            disturbed=$((disturbed + 1))
        fi
    fi
    echo "adam_rss prog=$prog threads=$t mb=$(last_rss_mb)" >>"$tmp/run.txt"
    tee -a "$log" <"$tmp/run.txt" >&2
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

# --- The two programs ---------------------------------------------------------------
# One `descent train` run with T=$1 threads and the arguments "${@:2}" (plus
# DESCENT_TRAIN_ARGS); prints its last `train samples/s:` figure, or "NA".
descent_train() {
    local t=$1 out=$tmp/descent-out log=$tmp/descent.log sps
    shift
    rm -rf "$out" "$tmp/rss"
    if ! run_watched "$t" "${rss_cmd[@]}" env OMP_NUM_THREADS="$t" OPENBLAS_NUM_THREADS="$t" \
        "$descent" train \
        "$@" --threads "$t" --out "$out" --quiet "${extra_args[@]}" >"$log" 2>&1; then
        echo "$bench_name: descent failed (threads=$t):" >&2
        tail -n 5 "$log" >&2
        echo NA
        return 0
    fi
    sps=$(sed -n 's/^.*train samples\/s:[[:space:]]*\([0-9.eE+-]*\).*$/\1/p' "$log" | tail -n 1)
    if [ -z "$sps" ]; then
        echo "$bench_name: no 'train samples/s:' line in descent's output" >&2
        echo NA
    else
        echo "$sps"
    fi
}

# One run of the torch script $3 with T=$1 threads, wait policy $2 ("" = the
# OpenMP runtime's default, or PASSIVE) and the arguments "${@:4}"; shows its
# thread and load report, marks the run disturbed when it saw other load, and
# prints its samples/s, or "NA". Its output stays in $tmp/torch.log.
torch_train() {
    local t=$1 policy=$2 script=$3 log=$tmp/torch.log sps
    shift 3
    local envs=(OMP_NUM_THREADS="$t" OPENBLAS_NUM_THREADS="$t" MKL_NUM_THREADS="$t"
        "${torch_isa_env[@]}")
    [ -n "$policy" ] && envs+=(OMP_WAIT_POLICY="$policy")
    rm -f "$tmp/rss"
    if ! run_watched "$t" "${rss_cmd[@]}" env "${envs[@]}" "$DESCENT_PYTHON" "$script" --threads "$t" \
        "$@" >"$log" 2>&1; then
        echo "$bench_name: $(basename "$script") failed (threads=$t):" >&2
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

# One run of bench/jax_mlp.py with T=$1 threads, pinned to the first T CPUs
# of this process (taskset; jax_mlp.py adds XLA's one-thread flags for T=1),
# variant $2 and the arguments "${@:3}"; shows its thread and load report,
# marks the run disturbed when it saw other load, and prints its samples/s,
# or "NA". Its output stays in $tmp/jax.log.
jax_train() {
    local t=$1 variant=$2 log=$tmp/jax.log sps cpus
    shift 2
    cpus=$(taskset_cpus "$t")
    rm -f "$tmp/rss"
    if ! run_watched "$t" "${rss_cmd[@]}" taskset -c "$cpus" env OMP_NUM_THREADS="$t" \
        "$DESCENT_PYTHON" bench/jax_mlp.py --threads "$t" --variant "$variant" \
        "${jax_isa_args[@]}" "$@" >"$log" 2>&1; then
        echo "$bench_name: jax_mlp.py failed (threads=$t, $variant):" >&2
        tail -n 5 "$log" >&2
        echo NA
        return 0
    fi
    grep -E '^jax-(config|threads|load|warning)' "$log" | sed 's/^/    /' >&2
    if grep -q '^jax-warning: other processes' "$log"; then
        : >"$tmp/disturbed"
    fi
    sps=$(sed -n 's/^jax version=.* samples_per_s=\([0-9.eE+-]*\) .*$/\1/p' "$log" | tail -n 1)
    echo "${sps:-NA}"
}

# The first $1 CPUs this process may run on, as a taskset list ("0,1").
taskset_cpus() {
    "$DESCENT_PYTHON" -c 'import os, sys
cpus = sorted(os.sched_getaffinity(0))[:int(sys.argv[1])]
print(",".join(map(str, cpus)))' "$1"
}

# Whether DESCENT_PYTHON imports jax (installing it with pip into a venv
# that has pip, unless DESCENT_NO_PIP=1); prints its version.
jax_available() {
    if ! "$DESCENT_PYTHON" -c 'import jax' >/dev/null 2>&1 && [ "${DESCENT_NO_PIP:-0}" != 1 ]; then
        echo "$bench_name: jax not in $DESCENT_PYTHON, pip installing it" >&2
        "$DESCENT_PYTHON" -m pip install --disable-pip-version-check jax >&2 || true
    fi
    "$DESCENT_PYTHON" -c 'import jax; print(jax.__version__)' 2>/dev/null
}

# --- Runs ---------------------------------------------------------------------------
# For each thread count, --repeats rounds of: descent, after_descent_run T
# (if the script defines it), torch with the default wait policy, torch with
# PASSIVE. Fills med_d, med_t, med_tp with the medians.
run_all() {
    local t r v d ta tp rd rt rj
    declare -A j=()
    for t in $threads_list; do
        d=() ta=() tp=() rd=() rt=() rj=() j=()
        for ((r = 1; r <= repeats; r++)); do
            # Alternate the programs so that drifts (thermal, noisy neighbours)
            # hit all of them alike. A run disturbed by other load is redone once.
            d+=("$(measure run_descent "$t")")
            rd+=("$(last_rss_mb)")
            echo "threads=$t run=$r descent samples/s=${d[-1]} peak RSS MB=${rd[-1]}"
            if declare -F after_descent_run >/dev/null; then after_descent_run "$t"; fi
            ta+=("$(measure run_torch "$t" "")")
            rt+=("$(last_rss_mb)")
            echo "threads=$t run=$r torch samples/s=${ta[-1]} (OMP_WAIT_POLICY default)" \
                "peak RSS MB=${rt[-1]}"
            tp+=("$(measure run_torch "$t" PASSIVE)")
            rt+=("$(last_rss_mb)")
            echo "threads=$t run=$r torch samples/s=${tp[-1]} (OMP_WAIT_POLICY=PASSIVE)" \
                "peak RSS MB=${rt[-1]}"
            for v in "${jax_variants[@]}"; do
                j[$v]+=" $(measure run_jax "$t" "$v")"
                rj+=("$(last_rss_mb)")
                echo "threads=$t run=$r jax-$v samples/s=${j[$v]##* } peak RSS MB=${rj[-1]}"
            done
        done
        med_d[$t]=$(median "${d[@]}")
        med_t[$t]=$(median "${ta[@]}")
        med_tp[$t]=$(median "${tp[@]}")
        for v in "${jax_variants[@]}"; do
            # shellcheck disable=SC2086
            med_j[$t,$v]=$(median ${j[$v]})
        done
        rss_d[$t]=$(median "${rd[@]}")
        rss_t[$t]=$(median "${rt[@]}")
        rss_j[$t]=$(median "${rj[@]}")
    done
}

# --- Table -------------------------------------------------------------------------
# The medians side by side, with GFLOP/s, share of the peak and peak RSS;
# $1: the title (model and batch), $2: FLOP per training sample, $3: the
# workload's name in the machine-readable lines. After the table, one line
# per thread count for bench/paths.sh:
#   result workload=W path=P threads=T descent=S torch_best=S jax_best=S
#     ratio_torch=R ratio_jax=R descent_pct_peak=P rss_descent_mb=M
#     rss_torch_mb=M rss_jax_mb=M
# (samples/s; ratios are descent / peer; NA where not measured).
print_table() {
    local title=$1 flop_per_sample=$2 workload=$3 t v js
    echo
    echo "$title; medians of $repeats run(s), samples/s"
    echo "cpu: $cpu_model; descent kernel path: $kernel_path"
    echo "flop/sample $flop_per_sample; peak = threads x ${peak_core} GFLOP/s per core" \
        "($vbits-bit FMA; measured ${maxt}-thread peak: ${peak_all:-n/a} GFLOP/s)"
    echo "torch $torch_version ($DESCENT_TORCH_SOURCE); torch best = faster of" \
        "default and OMP_WAIT_POLICY=PASSIVE medians${torch_isa_env[*]:+; torch with ${torch_isa_env[*]}}"
    if [ ${#jax_variants[@]} -gt 0 ]; then
        echo "jax $jax_version, pinned with taskset to T cores; jax best = faster of the" \
            "variants (${jax_variants[*]})${jax_isa_args[*]:+; XLA with ${jax_isa_args[*]}}"
    fi
    echo "peak RSS: /usr/bin/time -f %M of each run, median over the runs, MB"
    echo
    printf '%-7s %10s %10s %10s %10s %7s %10s %10s %7s %9s %9s %9s %9s %9s %9s %9s\n' \
        threads descent torch-dflt torch-PASS torch-best ratio jax-scan jax-step \
        'd/jax' 'desc GF/s' 'desc %pk' 'torch GF/s' 'torch %pk' 'RSS desc' 'RSS torch' 'RSS jax'
    for t in $threads_list; do
        js=()
        for v in scan step; do
            js+=("${med_j[$t,$v]:-NA}")
        done
        awk -v t="$t" -v d="${med_d[$t]}" -v a="${med_t[$t]}" -v p="${med_tp[$t]}" \
            -v js="${js[0]}" -v jt="${js[1]}" -v f="$flop_per_sample" -v pc="$peak_core" \
            -v rd="${rss_d[$t]}" -v rt="${rss_t[$t]}" -v rj="${rss_j[$t]}" \
            -v w="$workload" -v path="$kernel_path" -v rf="$tmp/results" '
            function num(x) { return x != "NA" && x != "" }
            function fmt(x, spec) { return num(x) ? sprintf(spec, x) : "NA" }
            function best2(x, y) {
                if (num(x) && (!num(y) || x + 0 >= y + 0)) return x
                return num(y) ? y : "NA"
            }
            BEGIN {
                best = best2(a, p)
                jbest = best2(js, jt)
                peak = t * pc
                ratio = (num(d) && num(best)) ? d / best : "NA"
                jratio = (num(d) && num(jbest)) ? d / jbest : "NA"
                dg = num(d) ? d * f * 1e-9 : "NA"
                tg = num(best) ? best * f * 1e-9 : "NA"
                dp = num(dg) ? 100 * dg / peak : "NA"
                tp = num(tg) ? 100 * tg / peak : "NA"
                printf "%-7s %10s %10s %10s %10s %7s %10s %10s %7s %9s %9s %9s %9s %9s %9s %9s\n", t,
                    fmt(d, "%.1f"), fmt(a, "%.1f"), fmt(p, "%.1f"), fmt(best, "%.1f"),
                    fmt(ratio, "%.3f"), fmt(js, "%.1f"), fmt(jt, "%.1f"), fmt(jratio, "%.3f"),
                    fmt(dg, "%.1f"), fmt(dp, "%.1f%%"), fmt(tg, "%.1f"), fmt(tp, "%.1f%%"),
                    fmt(rd, "%.0f"), fmt(rt, "%.0f"), fmt(rj, "%.0f")
                printf "result workload=%s path=%s threads=%s descent=%s torch_best=%s" \
                    " jax_best=%s ratio_torch=%s ratio_jax=%s descent_pct_peak=%s" \
                    " rss_descent_mb=%s rss_torch_mb=%s rss_jax_mb=%s\n", w, path, t,
                    fmt(d, "%.1f"), fmt(best, "%.1f"), fmt(jbest, "%.1f"), fmt(ratio, "%.3f"),
                    fmt(jratio, "%.3f"), fmt(dp, "%.1f"), fmt(rd, "%.1f"), fmt(rt, "%.1f"),
                    fmt(rj, "%.1f") >>rf
            }'
    done
    echo
    cat "$tmp/results"
    rm -f "$tmp/results"
}
