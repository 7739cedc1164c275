#!/usr/bin/env bash
# sweep_resume.sh - a sweep killed with SIGKILL three times at random moments
# and continued with --resume ends with the summary and the trials of a sweep
# that never stopped (timing columns aside), and its event log shows no trial
# started twice; successive halving stops the trials its rungs should stop,
# and the trial it promotes to the end equals one uninterrupted descent train,
# also when the sweep is killed in its second rung and resumed.
#
# usage: sweep_resume.sh DESCENT_BINARY SCRATCH_DIR
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=sweep_lib.sh
source "$(dirname "$0")/sweep_lib.sh"

space=(--param "lr=0.01,0.1" --param "opt=sgd,adam")
options=(-- "${small[@]}" --epochs 3)

# --- Killed three times and resumed -----------------------------------------
u=$scratch/uninterrupted
sweep --out "$u" "${space[@]}" "${options[@]}" >/dev/null 2>&1
check "uninterrupted sweep exits 0" test $? -eq 0

k=$scratch/killed
seed=${SWEEP_KILL_SEED:-$RANDOM}
echo "kill moments from seed $seed (rerun with SWEEP_KILL_SEED=$seed)"
RANDOM=$seed
# The program itself in the background (not the sweep function: $! would be
# a subshell, and killing it would leave the sweep running).
"$descent" sweep --jobs 2 --threads-per-trial 1 --out "$k" "${space[@]}" "${options[@]}" \
  >"$scratch/killed-0.log" 2>&1 &
no_trial_running() { ! pgrep -f -- "(--out|--resume) $k/trial-" >/dev/null; }
checkpoints() { find "$k" -name 'ckpt-*.dsc' 2>/dev/null | wc -l; }
for kill in 1 2 3; do
  pid=$!
  # Each kill after the sweep saved one more checkpoint (trials spend most
  # of their time loading data), plus a random fraction of a second.
  before=$(checkpoints)
  for _ in $(seq 100); do [ "$(checkpoints)" -gt "$before" ] && break; sleep 0.05; done
  wait_s=$(printf '0.%03d' $((RANDOM % 1000)))
  sleep "$wait_s"
  kill -9 "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  # Its trials die with it (PR_SET_PDEATHSIG): none may go on as an orphan.
  for _ in 1 2 3 4; do no_trial_running && break; sleep 0.05; done
  check "kill $kill: no trial outlives the sweep" no_trial_running
  echo "kill $kill $wait_s s after a checkpoint: $(grep -c . "$k/events.log" 2>/dev/null) events"
  [ -e "$k/sweep.txt" ] || break # killed before the plan: nothing to resume
  "$descent" sweep --resume "$k" >"$scratch/killed-$kill.log" 2>&1 &
done
wait $!
if [ ! -e "$k/sweep.txt" ]; then # the first kill came before the plan was saved
  rm -rf "$k"
  sweep --out "$k" "${space[@]}" "${options[@]}" >/dev/null 2>&1
fi
"$descent" sweep --resume "$k" >"$scratch/killed-final.log" 2>&1
check "the last --resume exits 0" test $? -eq 0
check "the same summary as the uninterrupted sweep (timing aside)" \
  cmp -s <(untimed "$u/summary.csv") <(untimed "$k/summary.csv")
for t in 1 2 3 4; do
  check "trial $t: same metrics as uninterrupted" \
    same_metrics "$u/trial-000$t/metrics.csv" "$k/trial-000$t/metrics.csv"
  check "trial $t: same model as uninterrupted" \
    cmp -s "$u/trial-000$t/model.bin" "$k/trial-000$t/model.bin"
done
# A trial starts once; a kill before its first checkpoint saved nothing, and
# the trial restarts (logged as such); any later one resumes.
starts=$(grep -E '^start ' "$k/events.log" | cut -d' ' -f2 | sort | uniq -d)
check "no trial started twice${starts:+ ($starts)}" test -z "$starts"
echo "$(grep -c '^resume ' "$k/events.log") continued from a checkpoint, $(grep -c '^restart ' "$k/events.log") restarted"
check "every trial done once" test "$(grep -c '^done ' "$k/events.log")" -eq 4
check "the finished sweep's --resume prints the table" grep -q "4 trials: 4 done" "$scratch/killed-final.log"
sed 's/^/    /' "$k/events.log"

# --- Successive halving -------------------------------------------------------
h=$scratch/halving
sweep --out "$h" --param lr=0.003,0.01,0.03,0.1 --halving 1,2 -- "${small[@]}" --epochs 4 \
  >"$scratch/halving.log" 2>&1
check "halving: exits 0" test $? -eq 0
# The rungs from the trials' own learning curves: 4 trials run 1 epoch, the
# best 2 by val_acc at epoch 1 go on to 2 epochs, the best of them to 4.
best() { # best EPOCH TRIAL...: the trials by val_acc at EPOCH, best first
  local e=$1
  shift
  for t in "$@"; do
    echo "$(sed -n "$((e + 1))p" "$h/trial-000$t/metrics.csv" | cut -d, -f7) $t"
  done | sort -k1,1gr -k2,2n | cut -d' ' -f2
}
mapfile -t rung1 < <(best 1 1 2 3 4 | head -2)
winner=$(best 2 "${rung1[@]}" | head -1)
expected=""
for t in 1 2 3 4; do
  if [ "$t" = "$winner" ]; then expected+="$t,done,4 "
  elif [ "$t" = "${rung1[0]}" ] || [ "$t" = "${rung1[1]}" ]; then expected+="$t,stopped,2 "
  else expected+="$t,stopped,1 "; fi
done
check "halving: statuses and epochs ($expected)" \
  test "$(tail -n +2 "$h/summary.csv" | cut -d, -f2,3,6 | tr '\n' ' ')" = "$expected"
check "halving: the winner ranks first" \
  test "$(tail -n +2 "$h/summary.csv" | awk -F, '$1 == 1 { print $2 }')" = "$winner"
lr=$(sed -n "$((winner + 1))p" "$h/summary.csv" | cut -d, -f5)
train --epochs 4 --lr "$lr" --seed 1 --opt sgd --out "$scratch/winner-alone" >/dev/null 2>&1
check "halving: the promoted trial (lr $lr) equals 4 uninterrupted epochs: model, steps, metrics" \
  same_run "$scratch/winner-alone" "$h/trial-000$winner"
check "halving: promotions resumed the trials" \
  test "$(grep -c "^resume trial-000$winner from ckpt-" "$h/events.log")" -eq 2

# --- Successive halving killed in its second rung -----------------------------
hk=$scratch/halving-killed
"$descent" sweep --jobs 2 --threads-per-trial 1 --out "$hk" --param lr=0.003,0.01,0.03,0.1 \
  --halving 1,2 -- "${small[@]}" --epochs 4 >/dev/null 2>&1 &
pid=$!
for _ in $(seq 200); do grep -q '^resume ' "$hk/events.log" 2>/dev/null && break; sleep 0.05; done
sleep "0.$((RANDOM % 10))"
kill -9 "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
echo "halving killed after $(grep -c . "$hk/events.log") events"
"$descent" sweep --resume "$hk" >"$scratch/halving-killed.log" 2>&1
check "halving killed and resumed: exits 0" test $? -eq 0
check "halving killed and resumed: the uninterrupted summary (timing aside)" \
  cmp -s <(untimed "$h/summary.csv") <(untimed "$hk/summary.csv")
check "halving killed and resumed: the same winner, bit for bit" \
  same_run "$h/trial-000$winner" "$hk/trial-000$winner"
starts=$(grep -E '^start ' "$hk/events.log" | cut -d' ' -f2 | sort | uniq -d)
check "halving killed and resumed: no trial started twice${starts:+ ($starts)}" test -z "$starts"
finish
