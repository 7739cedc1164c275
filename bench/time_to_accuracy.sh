#!/usr/bin/env bash
# bench/time_to_accuracy.sh - descent's main job against PyTorch, end to end:
# the wall-clock time from process start (data loading, standardization,
# training, each epoch's test evaluation and checkpoint included) until the
# end of the first epoch whose test accuracy reaches 88%, median over 5
# seeds for both programs, runs alternating.
#
# Usage: bench/time_to_accuracy.sh [--seeds LIST] [--threads T] [--target PCT]
#                                  [--epochs E] [--build DIR] [--max-wait S]
#
#   --seeds LIST   seeds, one run of each program per seed (default "1 2 3 4 5")
#   --threads T    threads of both programs (default: all cores, nproc, as
#                  scripts/run.sh leaves descent's --threads 0)
#   --target PCT   test accuracy to reach, in percent (default 88)
#   --epochs E     epochs of each run (default 10, the main job's)
#   --build DIR    CMake build directory (default build), configured as
#                  Release and built if needed
#   --max-wait S   before each run, wait up to S seconds (default 60) for the
#                  machine to be idle; 0 disables the wait
#
# descent runs as scripts/run.sh runs it, `descent train --opt sgd --lr 0.1
# --epochs 10` with its default model (mlp:784-256-128-10), plus --seed S,
# --threads T and --out <a temporary folder>; PyTorch runs
# bench/torch_main_job.py, the same training in torch. Each line either
# program prints is stamped as it arrives with the seconds since just before
# the process was started; the time to the target is the stamp of the first
# epoch line at or above it (descent flushes its epoch line, torch its
# `torch-main epoch=` line, right after the evaluation). Each run goes
# through /usr/bin/time -f %M for its peak RSS.
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

bench_name=time_to_accuracy.sh
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

seeds="1 2 3 4 5"
threads=$(nproc)
target=88
epochs=10
build=build
max_wait=60
# descent train's default model, which scripts/run.sh keeps; checked
# against the model each descent run prints.
sizes=784-256-128-10

while [ $# -gt 0 ]; do
    case $1 in
        -h | --help) usage; exit 0 ;;
        --seeds | --threads | --target | --epochs | --build | --max-wait)
            [ $# -ge 2 ] || die "$1 needs a value" ;;
        *) usage >&2; die "unknown argument: $1" ;;
    esac
    case $1 in
        --seeds) seeds=$2 ;;
        --threads) threads=$2 ;;
        --target) target=$2 ;;
        --epochs) epochs=$2 ;;
        --build) build=$2 ;;
        --max-wait) max_wait=$2 ;;
    esac
    shift 2
done
for s in $seeds; do
    [[ $s =~ ^[0-9]+$ ]] || die "--seeds: bad seed '$s'"
done
[ -n "${seeds// /}" ] || die "--seeds: no seed"
[[ $threads =~ ^[1-9][0-9]*$ ]] || die "--threads must be a positive integer"
[[ $target =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "--target must be a percentage"
[[ $epochs =~ ^[1-9][0-9]*$ ]] || die "--epochs must be a positive integer"
[[ $max_wait =~ ^[0-9]+$ ]] || die "--max-wait must be a number of seconds"
threads_list=$threads

bench_programs

# Runs "$@" with its output (stdout and stderr) written into the file $1,
# each line stamped with the seconds since just before the start:
# "<seconds> <line>"; the last line is "<seconds> exit-status <rc>".
stamped() {
    local log=$1 t0 line
    shift
    t0=${EPOCHREALTIME/,/.}
    {
        local rc=0
        "$@" 2>&1 || rc=$?
        echo "exit-status $rc"
    } | while IFS= read -r line; do
        printf '%s %s\n' "${EPOCHREALTIME/,/.}" "$line"
    done | awk -v t0="$t0" '{ $1 = sprintf("%.3f", $1 - t0); print }' >"$log"
}

# One run of program $1 (descent or torch) with seed $2, redone once if
# other load disturbed it; prints "seconds epoch final_accuracy total_seconds
# rss_mb" (seconds and epoch NA when the target was not reached).
run_one() {
    local prog=$1 seed=$2 try log=$tmp/$1-$2.log
    for try in 1 2; do
        rm -f "$tmp/disturbed" "$tmp/rss"
        rm -rf "$tmp/out"
        if [ "$prog" = descent ]; then
            run_watched "$threads" stamped "$log" "${rss_cmd[@]}" env OMP_NUM_THREADS="$threads" \
                OPENBLAS_NUM_THREADS="$threads" "$descent" train --opt sgd --lr 0.1 \
                --epochs "$epochs" --seed "$seed" --threads "$threads" --out "$tmp/out" \
                "${extra_args[@]}"
        else
            run_watched "$threads" stamped "$log" "${rss_cmd[@]}" env OMP_NUM_THREADS="$threads" \
                OPENBLAS_NUM_THREADS="$threads" MKL_NUM_THREADS="$threads" "${torch_isa_env[@]}" \
                "$DESCENT_PYTHON" bench/torch_main_job.py --model "$sizes" --epochs "$epochs" \
                --seed "$seed" --threads "$threads"
        fi
        [ -e "$tmp/disturbed" ] || break
        if [ "$try" = 1 ]; then
            echo "$bench_name: disturbed $prog run (seed $seed) discarded, running it again" >&2
        else
            warn "$prog seed $seed disturbed again, keeping it"
        fi
    done
    if ! grep -q ' exit-status 0$' "$log"; then
        echo "$bench_name: $prog failed (seed $seed):" >&2
        tail -n 5 "$log" >&2
        echo "NA NA NA NA NA"
        return 0
    fi
    if [ "$prog" = descent ] && ! grep -Eq "^[0-9.]+ model +mlp:$sizes\$" "$log"; then
        die "descent's model is not mlp:$sizes (see its config): update this script"
    fi
    parse_log "$prog" "$log" "$(last_rss_mb)"
}

# The first epoch at or above the target in a stamped log of program $1:
# "seconds epoch final_accuracy total_seconds rss_mb", with $3 the RSS.
parse_log() {
    awk -v prog="$1" -v target="$target" -v rss="$3" '
        prog == "descent" && $2 == "epoch" && match($0, /test loss [^ ]+ acc [0-9.]+%/) {
            split(substr($0, RSTART, RLENGTH), f, " ")
            acc = f[5] + 0                      # "87.50%" -> 87.5
            split($3, e, "/"); epoch = e[1]
        }
        prog == "torch" && $2 == "torch-main" && $3 ~ /^epoch=/ {
            epoch = substr($3, 7)
            for (i = 4; i <= NF; i++)
                if ($i ~ /^test_accuracy=/) acc = 100 * substr($i, 15)
        }
        epoch != "" && acc != "" && !reached && acc >= target {
            reached = 1; t = $1; at = epoch
        }
        { last = $1 }
        END {
            printf "%s %s %s %s %s\n", reached ? t : "NA", reached ? at : "NA",
                acc != "" ? sprintf("%.2f", acc) : "NA", last, rss
        }' "$2"
}

echo "descent: $descent ($("$descent" --version 2>&1 | head -n 1))"
echo "torch $torch_version ($DESCENT_TORCH_SOURCE) via $DESCENT_PYTHON"
echo "main job: mlp:$sizes, SGD lr 0.1, batch 128, $epochs epochs, $threads thread(s);" \
    "target test accuracy $target%; seeds $seeds"
echo

declare -A res=()
for seed in $seeds; do
    for prog in descent torch; do
        res[$prog,$seed]=$(run_one "$prog" "$seed")
        read -r s e a w m <<<"${res[$prog,$seed]}"
        echo "seed=$seed $prog time_to_target_s=$s epoch=$e final_accuracy=$a total_s=$w" \
            "peak_rss_mb=$m"
    done
done

# --- Table -------------------------------------------------------------------------
echo
echo "Time to $target% test accuracy from process start (s), $threads thread(s); medians of" \
    "$(wc -w <<<"$seeds") seed(s)"
echo "cpu: $cpu_model; descent kernel path: $kernel_path${torch_isa_env[*]:+; torch with ${torch_isa_env[*]}}"
echo "torch $torch_version; peak RSS: /usr/bin/time -f %M, MB"
echo
printf '%-6s %10s %6s %8s %10s %10s %6s %8s %10s %9s\n' seed 'descent s' epoch 'acc %' \
    'RSS MB' 'torch s' epoch 'acc %' 'RSS MB' speedup
for seed in $seeds; do
    echo "$seed ${res[descent,$seed]} ${res[torch,$seed]}"
done | awk -v threads="$threads" -v path="$kernel_path" -v target="$target" '
    function num(x) { return x != "NA" && x != "" }
    function med(a, n,   i, j, t, v, k) {
        k = 0
        for (i = 1; i <= n; i++) if (num(a[i])) v[++k] = a[i] + 0
        if (k == 0) return "NA"
        for (i = 2; i <= k; i++)
            for (j = i; j > 1 && v[j - 1] > v[j]; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
        return k % 2 ? v[(k + 1) / 2] : (v[k / 2] + v[k / 2 + 1]) / 2
    }
    function fmt(x, spec) { return num(x) ? sprintf(spec, x) : "NA" }
    {
        n++
        ds[n] = $2; de[n] = $3; dr[n] = $6; ts[n] = $7; te[n] = $8; tr[n] = $11
        printf "%-6s %10s %6s %8s %10s %10s %6s %8s %10s %9s\n", $1, fmt($2, "%.2f"), $3, $4,
            fmt($6, "%.0f"), fmt($7, "%.2f"), $8, $9, fmt($11, "%.0f"),
            num($2) && num($7) ? sprintf("%.2fx", $7 / $2) : "NA"
    }
    END {
        d = med(ds, n); t = med(ts, n)
        printf "%-6s %10s %6s %8s %10s %10s %6s %8s %10s %9s\n", "median", fmt(d, "%.2f"),
            fmt(med(de, n), "%g"), "", fmt(med(dr, n), "%.0f"), fmt(t, "%.2f"),
            fmt(med(te, n), "%g"), "", fmt(med(tr, n), "%.0f"),
            num(d) && num(t) ? sprintf("%.2fx", t / d) : "NA"
        printf "\nresult workload=e2e-%s%% path=%s threads=%s descent_s=%s torch_s=%s" \
            " speedup=%s descent_epoch=%s torch_epoch=%s rss_descent_mb=%s rss_torch_mb=%s\n",
            target, path, threads, fmt(d, "%.2f"), fmt(t, "%.2f"),
            num(d) && num(t) ? sprintf("%.3f", t / d) : "NA", fmt(med(de, n), "%g"),
            fmt(med(te, n), "%g"), fmt(med(dr, n), "%.1f"), fmt(med(tr, n), "%.1f")
    }'
echo
echo "speedup = torch's time / descent's (above 1: descent reaches the target sooner);" \
    "NA: not reached in $epochs epochs (acc % is the last epoch's)."
