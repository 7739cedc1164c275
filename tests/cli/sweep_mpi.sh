#!/usr/bin/env bash
# sweep_mpi.sh - descent sweep under mpirun: the trials spread over 2 ranks
# give the summary, metrics and models of the same sweep in one process (the
# timing columns aside), the event log names the rank of every trial, the
# trials run without the launcher's variables, successive halving promotes
# the same trials, a job killed with SIGKILL (mpirun, then one rank)
# continues with --resume under another rank count and then without mpirun,
# and a rank that does not see the sweep's folder stops the job with one
# line naming it.
#
# usage: sweep_mpi.sh DESCENT_BINARY SCRATCH_DIR
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=sweep_lib.sh
source "$(dirname "$0")/sweep_lib.sh"

"$descent" --version | grep -q 'MPI: ' ||
  skip_all "descent is built without MPI (cmake -DDESCENT_MPI=ON with libopenmpi-dev installed)"
command -v mpirun >/dev/null || skip_all "mpirun is not installed (Debian: openmpi-bin)"
# As root (containers, CI) Open MPI wants --allow-run-as-root; 2 and 3 ranks
# on fewer cores want --oversubscribe.
# Shared memory between the ranks, no network probing (as dist_train.sh).
export OMPI_MCA_btl=self,vader OMPI_MCA_btl_vader_single_copy_mechanism=none
# In a sanitized build the ranks' leak check leaves out Open MPI's own
# allocations (mpi_lsan.supp).
mpi=(env "LSAN_OPTIONS=suppressions=$(cd "$(dirname "$0")" && pwd)/mpi_lsan.supp:fast_unwind_on_malloc=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
  mpirun --allow-run-as-root --oversubscribe)
"${mpi[@]}" -np 2 true >"$scratch/probe.out" 2>&1 ||
  skip_all "mpirun cannot start 2 processes here: $(grep -m1 . "$scratch/probe.out")"
# Under mpirun, --help comes from rank 0 alone and every rank ends with 0.
"${mpi[@]}" -np 2 "$descent" sweep --help >"$scratch/help.out" 2>&1
check "descent sweep --help under mpirun: exit status 0" test $? -eq 0
check "descent sweep --help under mpirun: printed once" \
  test "$(grep -c '^usage: descent sweep \[options\]' "$scratch/help.out")" -eq 1

space=(--param "lr=0.01,0.1" --param "opt=sgd,adam")
options=(-- "${small[@]}" --epochs 2)

# same_sweep A B: the same summary (timing aside), metrics and models.
same_sweep() {
  cmp -s <(untimed "$1/summary.csv") <(untimed "$2/summary.csv") || return 1
  for t in 1 2 3 4; do
    same_metrics "$1/trial-000$t/metrics.csv" "$2/trial-000$t/metrics.csv" || return 1
    cmp -s "$1/trial-000$t/model.bin" "$2/trial-000$t/model.bin" || return 1
  done
}

# --- 2 ranks against one process ----------------------------------------------
p=$scratch/plain
sweep --out "$p" "${space[@]}" "${options[@]}" >"$scratch/plain.log" 2>&1
check "the sweep in one process exits 0" test $? -eq 0

m=$scratch/ranks
"${mpi[@]}" -np 2 "$descent" sweep --jobs 1 --threads-per-trial 1 --out "$m" "${space[@]}" \
  "${options[@]}" >"$scratch/ranks.out" 2>"$scratch/ranks.err" &
pid=$!
# A running trial's environment: none of the launcher's variables, which its
# parent rank has.
trial=""
for _ in $(seq 200); do
  trial=$(pgrep -f -- "--out $m/trial-" | head -1)
  [ -n "$trial" ] && break
  sleep 0.05
done
launcher_vars() { tr '\0' '\n' <"/proc/$1/environ" 2>/dev/null | grep -cE '^(OMPI_|PMIX_|PMI_)'; }
if [ -n "$trial" ]; then
  parent=$(ps -o ppid= -p "$trial" | tr -d ' ')
  check "a trial runs without the launcher's variables (its rank has $(launcher_vars "$parent"))" \
    test "$(launcher_vars "$trial")" -eq 0 -a "$(launcher_vars "$parent")" -gt 0
else
  fail "no trial of the 2-rank sweep seen running"
fi
wait "$pid"
check "mpirun -np 2 sweep exits 0" test $? -eq 0
check "2 ranks: the summary, metrics and models of one process" same_sweep "$p" "$m"
check "only rank 0 prints: one table" test "$(grep -c '^4 trials: 4 done' "$scratch/ranks.out")" -eq 1
check "the start line names the ranks" grep -q "on each of 2 ranks" "$scratch/ranks.err"
check "every trial's end names its rank and host" \
  test "$(grep -cE '^done trial-000[1-4] epochs 2 on rank [01] \(.+\)$' "$m/events.log")" -eq 4
check "both ranks ran trials" \
  test "$(grep '^done ' "$m/events.log" | grep -o 'on rank [0-9]*' | sort -u | wc -l)" -eq 2
sed 's/^/    /' "$m/events.log"

# --- Successive halving on 2 ranks -------------------------------------------------
halving=(--param "lr=0.003,0.01,0.03,0.1" --halving "1,2" -- "${small[@]}" --epochs 4)
sweep --out "$scratch/halving" "${halving[@]}" >/dev/null 2>&1
"${mpi[@]}" -np 2 "$descent" sweep --threads-per-trial 1 --out "$scratch/halving-ranks" \
  "${halving[@]}" >/dev/null 2>&1
check "halving on 2 ranks: exits 0" test $? -eq 0
check "halving on 2 ranks: the summary of one process (timing aside)" \
  cmp -s <(untimed "$scratch/halving/summary.csv") <(untimed "$scratch/halving-ranks/summary.csv")
check "halving on 2 ranks: promotions resumed on any rank" \
  grep -qE '^resume trial-000[1-4] from ckpt-[^ ]+ to epoch 4 on rank [01] ' \
  "$scratch/halving-ranks/events.log"

# --- Killed, resumed on 3 ranks, killed, resumed without mpirun -----------------
k=$scratch/killed
checkpoints() { find "$k" -name 'ckpt-*.dsc' 2>/dev/null | wc -l; }
no_rank_left() { ! pgrep -f -- "sweep .*$k" >/dev/null && ! pgrep -f -- "(--out|--resume) $k/trial-" >/dev/null; }
# kill_after_checkpoint PID [VICTIM]: SIGKILL to VICTIM (default: mpirun,
# PID) once one more checkpoint is saved, then waits for mpirun, whose ranks
# and their trials must all end.
kill_after_checkpoint() {
  local before victim events
  before=$(checkpoints)
  events=$(grep -c . "$k/events.log" 2>/dev/null)
  if [ "${2:-}" = rank ]; then
    # A rank, as soon as the resumed job has started (or resumed) a trial:
    # on a fast machine the job could end before another checkpoint.
    for _ in $(seq 200); do
      [ "$(grep -c . "$k/events.log" 2>/dev/null)" -gt "${events:-0}" ] && break
      sleep 0.05
    done
  else
    for _ in $(seq 200); do [ "$(checkpoints)" -gt "$before" ] && break; sleep 0.05; done
  fi
  victim=${2:-$1}
  [ "$victim" = rank ] && victim=$(pgrep -f -- "^$descent sweep --resume $k" | tail -1)
  kill -9 "${victim:-$1}" 2>/dev/null
  wait "$1" 2>/dev/null
  for _ in $(seq 40); do no_rank_left && break; sleep 0.05; done
}
"${mpi[@]}" -np 2 "$descent" sweep --threads-per-trial 1 --out "$k" "${space[@]}" "${options[@]}" \
  >"$scratch/killed-1.log" 2>&1 &
kill_after_checkpoint $!
check "kill 1 (mpirun): no rank and no trial outlives mpirun" no_rank_left
"${mpi[@]}" -np 3 "$descent" sweep --resume "$k" >"$scratch/killed-2.log" 2>&1 &
kill_after_checkpoint $! rank
check "kill 2 (one of 3 ranks): the launcher ends the job, naming the rank" \
  grep -q "exited on signal 9" "$scratch/killed-2.log"
check "kill 2 (one of 3 ranks): no rank and no trial outlives the job" no_rank_left
echo "killed twice after $(grep -c . "$k/events.log") events"
"$descent" sweep --resume "$k" >"$scratch/killed-final.log" 2>&1
check "--resume without mpirun exits 0" test $? -eq 0
check "killed and resumed: the summary, metrics and models of one uninterrupted process" \
  same_sweep "$p" "$k"
starts=$(grep -E '^start ' "$k/events.log" | cut -d' ' -f2 | sort | uniq -d)
check "killed and resumed: no trial started twice${starts:+ ($starts)}" test -z "$starts"
check "killed and resumed: every trial done once" \
  test "$(grep -c '^done ' "$k/events.log")" -eq 4
sed 's/^/    /' "$k/events.log"

# --- Errors -------------------------------------------------------------------------
# Each rank in a folder of its own: rank 1 cannot see the --out of rank 0.
mkdir -p "$scratch/here" "$scratch/there"
one=(sweep --out apart --param lr=0.1 -- "${small[@]}" --epochs 1)
"${mpi[@]}" -np 1 -wdir "$scratch/here" "$descent" "${one[@]}" : \
  -np 1 -wdir "$scratch/there" "$descent" "${one[@]}" >"$scratch/apart.out" 2>"$scratch/apart.err"
check "a rank that does not see the folder: exit status 1" test $? -eq 1
check "a rank that does not see the folder: one line naming it, its host and the fix" \
  test "$(grep -c "^descent sweep: rank 1 on .* does not see the sweep's folder apart of rank 0 on .*shares" "$scratch/apart.err")" -eq 1
check "a rank that does not see the folder: no trial ran, no folder left" \
  test ! -e "$scratch/here/apart" -a ! -e "$scratch/there/apart"
"${mpi[@]}" -np 2 "$descent" sweep --out "$scratch/bad" --param lr=0.1 --jobs 0 \
  -- "${small[@]}" >"$scratch/bad.out" 2>"$scratch/bad.err"
check "a bad option under mpirun: exit status 2" test $? -eq 2
check "a bad option under mpirun: one line, from rank 0" \
  test "$(grep -c '^descent.*--jobs' "$scratch/bad.err")" -eq 1
finish
