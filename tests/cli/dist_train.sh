#!/usr/bin/env bash
# dist_train.sh - descent train across processes (mpirun, oversubscribed on
# this machine's cores): with --reduction fixed, 1, 2 and 4 processes give
# the same model bit for bit for the default MLP and a CNN with batch norm
# and dropout, with every named optimizer (and lbfgs, whose line search
# evaluates again); the fast reduction trains to the same accuracy; a run
# killed with SIGKILL resumes to the bits of one never stopped, with the
# same and with another number of processes; a rank killed from outside
# ends the job within 10 s, naming it, and the newest checkpoint resumes to
# the same bits; a NaN on one rank stops (or rolls back) every rank at the
# same step; bad options are refused.
#
# usage: dist_train.sh DESCENT_BINARY SCRATCH_DIR
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

# DESCENT_REQUIRE_MPI=1 (scripts/test.sh, for its builds with MPI): what
# would be a skip fails, so that a machine without MPI or the data cannot
# pass the suite without these tests.
skip_all_or_fail() {
  if [ "${DESCENT_REQUIRE_MPI:-0}" = 1 ]; then
    echo "FAIL: $* (DESCENT_REQUIRE_MPI=1: these tests must run here)"
    exit 1
  fi
  skip_all "$@"
}
command -v mpirun >/dev/null || skip_all_or_fail "no mpirun (apt-get install openmpi-bin)"
[ "$emulated" = 0 ] || skip_all "MPI ranks under an emulator"
# Root may run mpirun only when it says so; every test oversubscribes.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1
# Shared memory between the ranks, no network probing.
export OMPI_MCA_btl=self,vader OMPI_MCA_btl_vader_single_copy_mechanism=none

# A build without MPI, started as 2 ranks, refuses: each would train the
# whole run alone into the same folder. The rest needs MPI.
if ! "$descent" --version | grep -q "MPI: "; then
  mkdir -p "$scratch/data" && dataset "$scratch/data" 64 16
  mpirun -np 2 "$descent" train --data-dir "$scratch/data" --out "$scratch/copies" \
    >"$scratch/copies.out" 2>"$scratch/copies.err"
  rc=$?
  check "without MPI: 2 ranks are refused (exit $rc)" test "$rc" -ne 0
  check "without MPI: the message says how to rebuild" \
    grep -q "built without MPI.*rebuild (cmake -DDESCENT_MPI=ON)" "$scratch/copies.err"
  check "without MPI: nothing was trained" test ! -e "$scratch/copies/model.bin"
  # The checks above ran, the rest cannot: a failure fails, else CTest's skip.
  finish || exit 1
  skip_all_or_fail "the data-parallel tests: this descent is built without MPI ('descent --version')"
fi
fmnist=${DESCENT_FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}
[ -r "$fmnist/train-images-idx3-ubyte.gz" ] || [ -r "$fmnist/train-images-idx3-ubyte" ] ||
  skip_all_or_fail "no Fashion-MNIST in $fmnist (apt-get install dataset-fashion-mnist)"

# In a sanitized build, the ranks leave Open MPI's own allocations (made in
# MPI_Init and kept) out of the leak check (mpi_lsan.supp).
supp=$(cd "$(dirname "$0")" && pwd)/mpi_lsan.supp
ranks() {
  local n=$1
  shift
  LSAN_OPTIONS="suppressions=$supp:fast_unwind_on_malloc=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}" \
    mpirun -np "$n" "$@"
}

base=(--quiet --threads 1 --data-dir "$fmnist" --batch-size 64 --keep 1)
common=("${base[@]}" --limit 512)
mlp=(--model mlp:784-256-128-10)
cnn=(--model 'conv(4, 5, pad=2), batchnorm, relu, maxpool(2), dropout(0.2), dense(10)')

# same_model A B: two runs' models are the same bits.
same_model() { cmp -s "$1/model.bin" "$2/model.bin"; }

# fixed_parity NAME PROCS... -- ARGS: one process and each count in PROCS
# with --reduction fixed --shards 4 give the same model.
fixed_parity() {
  local name=$1
  shift
  local procs=()
  while [ "$1" != -- ]; do procs+=("$1"); shift; done
  shift
  "$descent" train "${common[@]}" --reduction fixed --shards 4 "$@" --out "$scratch/$name-1" \
    >"$scratch/$name-1.log" 2>&1
  check "$name: one process (exit $?)" test -s "$scratch/$name-1/model.bin"
  for n in "${procs[@]}"; do
    ranks "$n" "$descent" train "${common[@]}" --reduction fixed --shards 4 "$@" \
      --out "$scratch/$name-$n" >"$scratch/$name-$n.log" 2>&1
    check "$name: $n processes exit 0" test $? -eq 0
    check "$name: $n processes give the bits of one" same_model "$scratch/$name-1" "$scratch/$name-$n"
  done
}

# Every named optimizer (the first section of `descent optimizers`; gd runs
# below), with 2 and 4 processes, in the release build; a sanitized build
# (ten times slower) checks the memory of the same code paths with three of
# them and 2 processes.
named=$("$descent" optimizers | sed -n '/^Named optimizers/,/^[A-Z]/s/^  \([a-z][a-z0-9_]*\) .*/\1/p')
optimizers=()
for opt in $named; do [ "$opt" = gd ] || optimizers+=("$opt"); done
check "parity: every named optimizer is run (${#optimizers[@]} + gd: ${optimizers[*]})" \
  test "${#optimizers[@]}" -ge 29
counts=(2 4) # processes, against one: 4 oversubscribes this machine's cores
if [ -n "${ASAN_OPTIONS:-}" ]; then
  optimizers=(sgd rmsprop sf_adamw) counts=(2)
  echo "note: sanitized build: parity of 2 processes for ${optimizers[*]} only (the release" \
    "build runs them all, with 2 and 4 processes)"
fi
for opt in "${optimizers[@]}"; do
  rate=() spec=$opt
  [ "$opt" = rmsprop ] && rate=(--lr 0.001) # its default 0.01 diverges here
  [ "$opt" = muon ] && spec='muon @ weight ; adamw @ *' # matrices only
  fixed_parity "mlp-$opt" "${counts[@]}" -- "${mlp[@]}" --opt "$spec" "${rate[@]}" --epochs 1
done
fixed_parity mlp-gd 2 4 -- "${mlp[@]}" --opt gd --lr 0.1 --epochs 2
fixed_parity mlp-lbfgs 2 -- "${mlp[@]}" --opt 'lbfgs(max_iter=3)' --lr 0.5 --epochs 1
fixed_parity mlp-adam-4 2 4 -- "${mlp[@]}" --opt adam --epochs 2
fixed_parity cnn-momentum 2 4 -- "${cnn[@]}" --opt momentum --lr 0.05 --epochs 2
fixed_parity cnn-adamw 2 -- "${cnn[@]}" --opt adamw --epochs 1

# ZeRO-1 (--zero): the optimizer state sharded over the processes, the same
# bits; each process holds half of it with 2, a quarter with 4.
zero_parity() {
  local name=$1
  shift
  for n in 2 4; do
    ranks "$n" "$descent" train "${common[@]}" --reduction fixed --shards 4 --zero "$@" \
      --out "$scratch/$name-zero-$n" >"$scratch/$name-zero-$n.log" 2>&1
    check "$name --zero: $n processes exit 0" test $? -eq 0
    check "$name --zero: $n processes give the bits of one unsharded" \
      same_model "$scratch/$name-1" "$scratch/$name-zero-$n"
  done
}
zero_parity mlp-adam-4 "${mlp[@]}" --opt adam --epochs 2
zero_parity cnn-momentum "${cnn[@]}" --opt momentum --lr 0.05 --epochs 2
state_mb() { sed -n 's/^state  *\([0-9.]*\) MB.*/\1/p' "$1"; }
whole=$(state_mb "$scratch/mlp-adam-4-2.log") half=$(state_mb "$scratch/mlp-adam-4-zero-2.log")
quarter=$(state_mb "$scratch/mlp-adam-4-zero-4.log")
check "zero: optimizer state per process $whole MB whole, $half MB in 2 shards, $quarter MB in 4" \
  awk -v w="$whole" -v h="$half" -v q="$quarter" 'BEGIN {
    exit !(w > 1 && h > 0.49 * w && h < 0.51 * w && q > 0.24 * w && q < 0.26 * w) }'
ranks 2 "$descent" train "${common[@]}" "${cnn[@]}" --opt adam --epochs 2 --reduction fixed \
  --shards 4 --zero --checkpoint-every 3 --stop-after-steps 11 --out "$scratch/zero-killed" \
  >"$scratch/zero-killed.log" 2>&1
check "zero: killed after step 11" test -s "$scratch/zero-killed/ckpt-9.dsc"
ranks 2 "$descent" train --resume "$scratch/zero-killed" >"$scratch/zero-resume.log" 2>&1
check "zero: resumed with 2 processes exits 0" test $? -eq 0
# With the fast reduction too: the shards' sums come from MPI's
# reduce-scatter, the unsharded run's through shared memory; with two ranks
# both are one sum of two, so the same bits.
for z in unsharded zero; do
  flag=()
  [ "$z" = zero ] && flag=(--zero)
  ranks 2 "$descent" train "${common[@]}" "${mlp[@]}" --opt adam --epochs 2 "${flag[@]}" \
    --out "$scratch/fast-$z" >"$scratch/fast-$z.log" 2>&1
  check "zero, fast reduction: 2 processes $z exit 0" test $? -eq 0
done
check "zero, fast reduction: the unsharded run summed through shared memory" \
  grep -q "through shared memory" "$scratch/fast-unsharded.log"
check "zero, fast reduction: the bits of the unsharded run" \
  same_model "$scratch/fast-unsharded" "$scratch/fast-zero"
check "zero, fast reduction: the state is halved ($(grep '^state' "$scratch/fast-zero.log"))" \
  awk -v w="$(state_mb "$scratch/fast-unsharded.log")" -v h="$(state_mb "$scratch/fast-zero.log")" \
  'BEGIN { exit !(w > 1 && h > 0.49 * w && h < 0.51 * w) }'

# --sync-bn: batch norm over the whole batch, as one process computes it:
# every step's loss within rounding of one process's (the sums come in
# another order), where each rank's own statistics give another training.
bn=(--model 'conv(4, 5, pad=2), batchnorm, relu, maxpool(2), dense(10)' --opt momentum
  --lr 0.05 --epochs 1 --limit 1024)
"$descent" train "${base[@]}" "${bn[@]}" --out "$scratch/bn-1" >"$scratch/bn-1.log" 2>&1
ranks 2 "$descent" train "${base[@]}" "${bn[@]}" --sync-bn --out "$scratch/bn-sync" \
  >"$scratch/bn-sync.log" 2>&1
check "sync-bn: 2 processes exit 0" test $? -eq 0
ranks 2 "$descent" train "${base[@]}" "${bn[@]}" --out "$scratch/bn-own" >"$scratch/bn-own.log" 2>&1
# worst_gap A B: the largest relative difference of the steps' losses.
worst_gap() {
  paste -d, "$1/steps.csv" "$2/steps.csv" | awk -F, 'NR > 1 {
    d = ($4 - $8) / $4; if (d < 0) d = -d; if (d > w) w = d } END { printf "%.3g", w }'
}
gap_sync=$(worst_gap "$scratch/bn-1" "$scratch/bn-sync") gap_own=$(worst_gap "$scratch/bn-1" "$scratch/bn-own")
check "sync-bn: losses within 1e-5 of one process's ($gap_sync; each rank's own statistics: $gap_own)" \
  awk -v s="$gap_sync" -v o="$gap_own" 'BEGIN { exit !(s < 1e-5 && o > 1e-4) }'

# The fast reduction: MPI's sums, the same training (its accuracy within a
# point or two of one process's after the same steps).
acc() { tail -n 1 "$1/metrics.csv" | cut -d, -f9; }
"$descent" train "${base[@]}" "${mlp[@]}" --opt adam --epochs 3 --limit 2048 \
  --out "$scratch/fast-1" >"$scratch/fast-1.log" 2>&1
ranks 2 "$descent" train "${base[@]}" "${mlp[@]}" --opt adam --epochs 3 --limit 2048 \
  --bucket-mb 0.1 --out "$scratch/fast-2" >"$scratch/fast-2.log" 2>&1
check "fast: 2 processes exit 0" test $? -eq 0
a1=$(acc "$scratch/fast-1") a2=$(acc "$scratch/fast-2")
check "fast: test accuracy $a2 with 2 processes, $a1 with one" \
  awk -v a="$a1" -v b="$a2" 'BEGIN { d = a - b; exit !(a > 0.6 && (d < 0 ? -d : d) < 0.03) }'
ranks 2 "$descent" train "${base[@]}" "${mlp[@]}" --opt adam --epochs 3 --limit 2048 \
  --bucket-mb 0 --out "$scratch/fast-2-whole" >"$scratch/fast-2-whole.log" 2>&1
check "fast: buckets overlapped with the backward pass give the bits of one sum after it" \
  same_model "$scratch/fast-2" "$scratch/fast-2-whole"
check "fast: only rank 0 prints (one 'done' line)" test "$(grep -c '^done:' "$scratch/fast-2.log")" -eq 1
# On one machine the fast sum goes through memory the ranks share: with two
# ranks the bits of MPI's all-reduce (a sum of two is the same either way
# round); with four, each rank sums a slice, in rank order, so two runs give
# the same bits and the accuracy of one process.
check "fast: the sum goes through shared memory on one machine (config.txt says so)" \
  grep -q "summed in memory the processes share" "$scratch/fast-2-whole/config.txt"
check "fast: the reductions line says shared memory" \
  grep -q "through shared memory: 0.94 MB read from the others' memory" "$scratch/fast-2-whole.log"
DESCENT_MPI_SHARED=0 ranks 2 -x DESCENT_MPI_SHARED "$descent" train "${base[@]}" "${mlp[@]}" \
  --opt adam --epochs 3 --limit 2048 --out "$scratch/fast-2-mpi" >"$scratch/fast-2-mpi.log" 2>&1
check "fast: DESCENT_MPI_SHARED=0 sums with MPI's all-reduce" \
  grep -q "MPI's all-reduce sums the gradients" "$scratch/fast-2-mpi/config.txt"
check "fast: the sum through shared memory gives the bits of MPI's all-reduce (2 processes)" \
  same_model "$scratch/fast-2-whole" "$scratch/fast-2-mpi"
for k in a b; do
  ranks 4 "$descent" train "${base[@]}" "${mlp[@]}" --opt adam --epochs 3 --limit 2048 \
    --out "$scratch/fast-4$k" >"$scratch/fast-4$k.log" 2>&1
  check "fast: 4 processes through shared memory exit 0 (run $k)" test $? -eq 0
done
for k in a b; do
  ranks 3 "$descent" train "${base[@]}" "${mlp[@]}" --opt adam --epochs 3 --limit 2048 \
    --out "$scratch/fast-3$k" >"$scratch/fast-3$k.log" 2>&1
  check "fast: 3 processes (slices of unequal length) exit 0 (run $k)" test $? -eq 0
done
check "fast: 3 processes through shared memory: two runs, the same bits" \
  same_model "$scratch/fast-3a" "$scratch/fast-3b"
a3=$(acc "$scratch/fast-3a")
check "fast: test accuracy $a3 with 3 processes through shared memory, $a1 with one" \
  awk -v a="$a1" -v b="$a3" 'BEGIN { d = a - b; exit !(a > 0.6 && (d < 0 ? -d : d) < 0.03) }'
# A last batch of one example leaves rank 1 nothing (2049 = 32 x 64 + 1), and
# L-BFGS evaluates again in its line search: the bits of MPI's sums still.
for mode in 1 0; do
  DESCENT_MPI_SHARED=$mode ranks 2 -x DESCENT_MPI_SHARED "$descent" train "${base[@]}" "${mlp[@]}" \
    --opt adam --epochs 1 --limit 2049 --out "$scratch/odd-$mode" >"$scratch/odd-$mode.log" 2>&1
  DESCENT_MPI_SHARED=$mode ranks 2 -x DESCENT_MPI_SHARED "$descent" train "${base[@]}" "${mlp[@]}" \
    --opt 'lbfgs(max_iter=4, line_search=strong_wolfe)' --lr 0.5 --epochs 1 --limit 1024 \
    --out "$scratch/lbfgs-$mode" >"$scratch/lbfgs-$mode.log" 2>&1
done
check "fast: a rank with no example in a batch, shared memory and MPI alike" \
  same_model "$scratch/odd-1" "$scratch/odd-0"
check "fast: lbfgs trains across processes (model written)" test -s "$scratch/lbfgs-1/model.bin"
check "fast: lbfgs (evaluating again) through shared memory gives the bits of MPI's sums" \
  same_model "$scratch/lbfgs-1" "$scratch/lbfgs-0"
# Every rank must end with the same parameters; a rank moved astray is caught.
DESCENT_FAULT_DESYNC=1 ranks 2 -x DESCENT_FAULT_DESYNC "$descent" train "${base[@]}" "${mlp[@]}" \
  --opt sgd --epochs 1 --limit 256 --out "$scratch/desync" >"$scratch/desync.log" 2>&1
rc=$?
check "replicas: parameters that differ at the end fail the run (exit $rc)" test "$rc" -eq 1
check "replicas: the message names the fault" \
  grep -q "the processes ended with different parameters" "$scratch/desync.log"
check "replicas: said once" test "$(grep -c "ended with different parameters" "$scratch/desync.log")" -eq 1
# A misspelt switch or fault is refused before anything starts, said once,
# not ignored (DESCENT_MPI_SHARED=off would have kept shared memory) nor
# read as rank 0 (atoi("abc")), nor aimed at a rank the job lacks.
for bad in "DESCENT_MPI_SHARED=off" "DESCENT_FAULT_DESYNC=abc" "DESCENT_FAULT_DESYNC=2" \
  "DESCENT_FAULT_NAN=5" "DESCENT_FAULT_NAN=0,1" "DESCENT_FAULT_NAN=5,1x"; do
  name=${bad%%=*}
  (
    export "${bad?}"
    ranks 2 -x "$name" "$descent" train "${base[@]}" "${mlp[@]}" --opt sgd \
      --epochs 1 --limit 256 --out "$scratch/env-bad" >"$scratch/env-bad.log" 2>&1
  )
  rc=$?
  check "environment: $bad is refused (exit $rc), said once ($(head -n 1 "$scratch/env-bad.log"))" \
    test "$rc" -eq 1 -a "$(grep -c "^descent train: $bad: expected" "$scratch/env-bad.log")" -eq 1
  check "environment: $bad: no run folder made" test ! -e "$scratch/env-bad"
done
# Only rank 1's environment is wrong (two programs under one mpirun): rank 1
# says so, once, and both end.
ranks 1 "$descent" train "${base[@]}" "${mlp[@]}" --opt sgd --epochs 1 --limit 256 \
  --out "$scratch/env-one" : -np 1 env DESCENT_MPI_SHARED=off "$descent" train "${base[@]}" \
  "${mlp[@]}" --opt sgd --epochs 1 --limit 256 --out "$scratch/env-one" >"$scratch/env-one.log" 2>&1
rc=$?
check "environment: only rank 1's is wrong: refused (exit $rc), said once by rank 1" \
  test "$rc" -eq 1 -a "$(grep -c "^descent train: rank 1: DESCENT_MPI_SHARED=off: expected" \
  "$scratch/env-one.log")" -eq 1
check "environment: only rank 1's is wrong: no run folder made" test ! -e "$scratch/env-one"
check "fast: 4 processes sum slices in rank order: two runs, the same bits" \
  same_model "$scratch/fast-4a" "$scratch/fast-4b"
a4=$(acc "$scratch/fast-4a")
check "fast: test accuracy $a4 with 4 processes through shared memory, $a1 with one" \
  awk -v a="$a1" -v b="$a4" 'BEGIN { d = a - b; exit !(a > 0.6 && (d < 0 ? -d : d) < 0.03) }'

# Killed (every rank, after step 11, as a crash) and resumed: the same bits,
# with the same and with other numbers of processes.
straight=(train "${common[@]}" "${cnn[@]}" --opt adam --epochs 2 --reduction fixed --shards 4
  --checkpoint-every 3)
ranks 2 "$descent" "${straight[@]}" --out "$scratch/straight" >"$scratch/straight.log" 2>&1
check "resume: uninterrupted run exits 0" test $? -eq 0
for n in 2 1 4; do
  ranks 2 "$descent" "${straight[@]}" --stop-after-steps 11 --out "$scratch/killed-$n" \
    >"$scratch/killed-$n.log" 2>&1
  check "resume: killed after step 11 (exit $?)" test -s "$scratch/killed-$n/ckpt-9.dsc"
  if [ "$n" = 1 ]; then
    "$descent" train --resume "$scratch/killed-$n" >"$scratch/resume-$n.log" 2>&1
  else
    ranks "$n" "$descent" train --resume "$scratch/killed-$n" >"$scratch/resume-$n.log" 2>&1
  fi
  check "resume: with $n processes exits 0" test $? -eq 0
  check "resume: with $n processes, the bits of the run never killed" \
    same_run "$scratch/straight" "$scratch/killed-$n"
done
# The fast reduction resumes with the same process count to the same bits
# (Open MPI's all-reduce sums in one order for a given count).
fast_run=(train "${common[@]}" "${cnn[@]}" --opt adam --epochs 2 --checkpoint-every 3)
ranks 2 "$descent" "${fast_run[@]}" --out "$scratch/fast-straight" >"$scratch/fast-straight.log" 2>&1
ranks 2 "$descent" "${fast_run[@]}" --stop-after-steps 11 --out "$scratch/fast-killed" \
  >"$scratch/fast-killed.log" 2>&1
ranks 2 "$descent" train --resume "$scratch/fast-killed" >"$scratch/fast-resume.log" 2>&1
check "resume: the fast reduction, killed and resumed with 2 processes, the bits of one never killed" \
  same_run "$scratch/fast-straight" "$scratch/fast-killed"
check "zero: resumed, the bits of the unsharded run never killed" \
  same_run "$scratch/straight" "$scratch/zero-killed"

# job_gone DIR: no descent process trains into DIR.
job_gone() {
  local pid
  for pid in $(pgrep -x descent); do
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$1" && return 1
  done
  return 0
}

# rank_one DIR: rank 1's process id once the job training into DIR has
# written a checkpoint after its first ("" if none within 10 s).
rank_one() {
  local pid
  for _ in $(seq 200); do
    if ls "$1"/ckpt-*.dsc 2>/dev/null | grep -qv 'ckpt-0.dsc'; then
      for pid in $(pgrep -x descent); do
        tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$1" &&
          grep -qz '^OMPI_COMM_WORLD_RANK=1$' "/proc/$pid/environ" 2>/dev/null && echo "$pid"
      done
      return
    fi
    sleep 0.05
  done
}

# seconds_since START: the seconds from START (date +%s.%N) to now.
seconds_since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

# A rank killed from outside: the job ends within 10 s, naming it, and the
# newest checkpoint resumes to the bits of the uninterrupted run.
long=(train "${base[@]}" "${mlp[@]}" --opt momentum --lr 0.05 --epochs 6 --limit 4096
  --reduction fixed --shards 2 --checkpoint-every 4)
ranks 2 "$descent" "${long[@]}" --out "$scratch/whole" >"$scratch/whole.log" 2>&1
# signal_rank_one NAME SIGNAL ARGS...: starts the 2-rank job `long` with
# ARGS into SCRATCH/NAME, sends SIGNAL to rank 1 once it has checkpointed,
# and waits for the job: sets rc (its exit status) and took (the seconds
# from the signal to its end). Returns 1 when rank 1 was not found.
signal_rank_one() {
  local name=$1 signal=$2 pid job start
  shift 2
  ranks 2 "$descent" "${long[@]}" "$@" --out "$scratch/$name" >"$scratch/$name.log" 2>&1 &
  job=$!
  pid=$(rank_one "$scratch/$name")
  check "$name: found rank 1 mid-run" test -n "$pid"
  if [ -z "$pid" ]; then
    wait "$job"
    return 1
  fi
  kill "-$signal" "$pid"
  start=$(date +%s.%N)
  wait "$job"
  rc=$?
  took=$(seconds_since "$start")
}

if signal_rank_one victim KILL; then
  check "victim: the job ends (exit $rc) within 10 s of the kill ($took s)" \
    awk -v t="$took" -v rc="$rc" 'BEGIN { exit !(rc != 0 && t < 10) }'
  check "victim: the message names rank 1" grep -qE "rank 1\b" "$scratch/victim.log"
  check "victim: no descent process of the job is left" job_gone "$scratch/victim"
  ranks 2 "$descent" train --resume "$scratch/victim" >"$scratch/victim-resume.log" 2>&1
  check "victim: resumed run exits 0" test $? -eq 0
  check "victim: resumed, the bits of the run never killed" same_run "$scratch/whole" "$scratch/victim"
fi

# A rank that stops answering without dying (SIGSTOP): rank 0's watchdog
# ends the job after --dist-timeout seconds, saying where it waited.
if signal_rank_one stuck STOP --dist-timeout 3; then
  check "stuck: the job ends (exit $rc) 3 s after rank 1 stops answering ($took s)" \
    awk -v t="$took" -v rc="$rc" 'BEGIN { exit !(rc != 0 && t >= 2.5 && t < 10) }'
  check "stuck: rank 0 says where it waited" \
    grep -q "rank 0 on .*: no answer for 3 s in the .* at step" "$scratch/stuck.log"
  check "stuck: no descent process of the job is left" job_gone "$scratch/stuck"
fi

# A NaN in rank 1's gradient at step 5: the guard stops every rank at step 5
# (one diagnosis, from rank 0; a clean exit 1, no abort), or rolls back.
DESCENT_FAULT_NAN=5,1 ranks 2 "$descent" train "${common[@]}" "${mlp[@]}" --opt adam \
  --epochs 1 --out "$scratch/nan" >"$scratch/nan.log" 2>&1
rc=$?
check "nan: the job exits 1 (exit $rc)" test "$rc" -eq 1
check "nan: the diagnosis names step 5 and the gradient" grep -q "step 5.*gradient\|gradient.*step 5" "$scratch/nan.log"
check "nan: said once (by rank 0)" test "$(grep -c "step 5" "$scratch/nan.log")" -eq 1
check "nan: no MPI abort" bash -c "! grep -q MPI_ABORT '$scratch/nan.log'"
DESCENT_FAULT_NAN=5,1 ranks 2 "$descent" train "${common[@]}" "${mlp[@]}" --opt adam \
  --epochs 1 --on-diverge rollback --out "$scratch/nan-rollback" >"$scratch/nan-rollback.log" 2>&1
check "nan: with rollback, the job goes on and ends 0" test $? -eq 0
check "nan: with rollback, rolled back at step 5" grep -q "rollback .* at step 5" "$scratch/nan-rollback.log"
# The same through the fixed reduction and with the state sharded (each
# rank then checks only its shard's sums for NaN; the verdict is summed).
for how in fixed zero; do
  opts=(--reduction fixed --shards 4)
  [ "$how" = zero ] && opts=(--zero)
  DESCENT_FAULT_NAN=5,1 ranks 2 "$descent" train "${common[@]}" "${mlp[@]}" --opt adam \
    "${opts[@]}" --epochs 1 --dist-timeout 20 --out "$scratch/nan-$how" >"$scratch/nan-$how.log" 2>&1
  rc=$?
  check "nan ($how): the job exits 1 (exit $rc)" test "$rc" -eq 1
  check "nan ($how): stopped at step 5, said once" \
    test "$(grep -c "step 5" "$scratch/nan-$how.log")" -eq 1 -a \
    "$(grep -c "step 5.*gradient\|gradient.*step 5" "$scratch/nan-$how.log")" -eq 1
  check "nan ($how): every rank stopped (no watchdog, no MPI abort)" \
    bash -c "! grep -qE 'no answer|MPI_ABORT' '$scratch/nan-$how.log'"
done

# Refusals. Under mpirun the launcher adds its own lines to a failed job's
# stderr: the message must come once (from rank 0), with an error status.
expect_error_ranks() {
  local name=$1 phrase=$2 rc
  shift 2
  count=$((count + 1))
  "$@" >"$scratch/$name.out" 2>"$scratch/$name.err"
  rc=$?
  if [ "$rc" -eq 0 ] || [ "$rc" -ge 128 ]; then
    fail "$name: exit status $rc (want 1 or 2)"; cat "$scratch/$name.err"; return
  fi
  if [ "$(grep -cF -- "$phrase" "$scratch/$name.err")" -ne 1 ]; then
    fail "$name: stderr does not say '$phrase' once:"; cat "$scratch/$name.err"; return
  fi
  if grep -q MPI_ABORT "$scratch/$name.err"; then
    fail "$name: the job was aborted, not ended:"; cat "$scratch/$name.err"; return
  fi
  ok "$name: $(grep -F -- "$phrase" "$scratch/$name.err")"
}
expect_error_ranks shards-3 "--shards 3: the fixed reduction needs a multiple of the 2 processes" \
  ranks 2 "$descent" train "${common[@]}" --reduction fixed --shards 3 --out "$scratch/bad1"
expect_error_ranks resume-differs "--batch-size differs" ranks 2 "$descent" train --resume "$scratch/straight" --batch-size 32
expect_error shards-fast error "--shards cuts batches for --reduction fixed" \
  "$descent" train "${common[@]}" --shards 4 --out "$scratch/bad2"
expect_error reduction-kind error "--reduction: unknown kind 'tree'; valid: fast, fixed" \
  "$descent" train "${common[@]}" --reduction tree --out "$scratch/bad3"
expect_error_ranks track "--track measures one process's objective" \
  ranks 2 "$descent" train "${common[@]}" --track sharpness --out "$scratch/bad4"
expect_error_ranks zero-alone "--zero shards the optimizer state over the processes: it needs 2" \
  "$descent" train "${common[@]}" --zero --out "$scratch/bad5"
expect_error_ranks zero-sf "--zero with --opt sf_adamw: a schedule-free optimizer" \
  ranks 2 "$descent" train "${common[@]}" --zero --opt sf_adamw --out "$scratch/bad6"
expect_error_ranks zero-clip "--zero with --opt clip(1) | adam | lr(0.001): " \
  ranks 2 "$descent" train "${common[@]}" --zero --opt 'clip(1) | adam | lr(0.001)' \
  --out "$scratch/bad7"
expect_error_ranks sync-shards "--sync-bn with --reduction fixed needs one micro-batch per process" \
  ranks 2 "$descent" train "${common[@]}" --sync-bn --reduction fixed --shards 4 --out "$scratch/bad8"
expect_error_ranks bucket "--bucket-mb: 'x' is not a size in MB" \
  ranks 2 "$descent" train "${common[@]}" --bucket-mb x --out "$scratch/bad9"
expect_error_ranks other-data "the ranks loaded different training sets" \
  ranks 1 "$descent" train "${common[@]}" --out "$scratch/bad10" : \
  -np 1 "$descent" train "${base[@]}" --limit 600 --out "$scratch/bad10"
check "other-data: no run folder left" test ! -e "$scratch/bad10"
expect_error_ranks eval-ranks "only train and sweep run across the ranks" \
  ranks 2 "$descent" eval --model "$scratch/fast-1/model.bin"

finish
