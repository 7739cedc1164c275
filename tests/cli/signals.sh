#!/usr/bin/env bash
# signals.sh - SIGTERM and SIGINT stop descent train between two steps: it
# writes a checkpoint of the state reached, prints one line naming the signal,
# the step, the checkpoint and the --resume command, and exits 143 or 130. The
# checkpoint verifies, and the run resumed from it ends with the same model
# and losses, bit for bit, as a run never interrupted. With --keep 0 the line
# says that the run cannot be resumed. The stop's checkpoint prunes nothing
# (--keep 1 keeps the last checked one beside it); with NaN parameters none is
# written and the line says why. A signal during start-up ends the process
# at once, with no folder made; a step that cannot finish (stdout blocked)
# ends 30 s after the signal with one line.
#
# The signal is sent once the run has logged its second epoch, so it always
# lands inside a running trainer (the run is long enough never to finish
# first).
#
# usage: signals.sh DESCENT_BINARY SCRATCH_DIR
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

# 256 + 64 random 8x8 images, labels 0..9 in turn: 8 steps per epoch.
data=$scratch/data
dataset "$data" 256 64
options=(train --quiet --threads 1 --data-dir "$data" --model 'dense(16), relu, dense(10)'
  --opt momentum --lr 0.01 --batch-size 32)

# wait_for_epochs FILE N: until FILE (metrics.csv) has N rows (30 s at most).
wait_for_epochs() {
  for _ in $(seq 600); do
    [ -f "$1" ] && [ "$(($(wc -l <"$1") - 1))" -ge "$2" ] && return 0
    sleep 0.05
  done
  return 1
}

# interrupted NAME SIGNAL STATUS [OPTIONS...]: a run stopped by SIGNAL.
# Job control (set -m) keeps SIGINT from being ignored in a background job.
interrupted() {
  local name=$1 signal=$2 status=$3 run=$scratch/$1
  shift 3
  set -m
  timeout 120 "$descent" "${options[@]}" --epochs 3000 --out "$run" "$@" \
    >"$scratch/$name.log" 2>"$scratch/$name.err" &
  local wrapper=$!
  set +m
  wait_for_epochs "$run/metrics.csv" 2
  kill -"$signal" "$(pgrep -P "$wrapper" -x "$descent_process")"
  wait "$wrapper"
  local rc=$?
  check "$name: exit status $rc, want $status" test "$rc" -eq "$status"
  check "$name: one line on stderr ($(cat "$scratch/$name.err"))" \
    test "$(wc -l <"$scratch/$name.err")" -eq 1
}

# resumed_matches NAME: the checkpoint the message names verifies, and the
# run resumed to two epochs past it equals a run never interrupted.
resumed_matches() {
  local name=$1 run=$scratch/$1 err=$scratch/$1.err
  local step checkpoint epochs
  step=$(sed -n 's/.* at step \([0-9]*\);.*/\1/p' "$err")
  checkpoint=$(sed -n 's/.*; checkpoint \(.*\.dsc\) written;.*/\1/p' "$err")
  check "$name: names the checkpoint of step $step" test "$checkpoint" = "$run/ckpt-$step.dsc"
  check "$name: prints the command to go on" grep -qF "continue with: descent train --resume $run" "$err"
  check "$name: the checkpoint verifies" "$descent" checkpoint verify "$checkpoint"
  epochs=$((step / 8 + 2))
  "$descent" train --resume "$run" --epochs "$epochs" >/dev/null 2>&1
  check "$name: resumed to $epochs epochs, exits 0" test $? -eq 0
  "$descent" "${options[@]}" --epochs "$epochs" --out "$scratch/$name-straight" >/dev/null 2>&1
  check "$name: same model as a run never interrupted" \
    cmp -s "$scratch/$name-straight/model.bin" "$run/model.bin"
  check "$name: same losses at every step" \
    cmp -s "$scratch/$name-straight/steps.csv" "$run/steps.csv"
}

interrupted term TERM 143
check "term: names the signal" grep -q "^descent train: interrupted by SIGTERM at step" "$scratch/term.err"
resumed_matches term

interrupted int INT 130 --checkpoint-every 3
check "int: names the signal" grep -q "^descent train: interrupted by SIGINT at step" "$scratch/int.err"
resumed_matches int

interrupted no-checkpoints TERM 143 --keep 0
check "no-checkpoints: says the run cannot be resumed" \
  grep -q "no checkpoint (--keep 0), so the run cannot be resumed" "$scratch/no-checkpoints.err"

# The stop checkpoint holds a state no batch has checked: it prunes nothing,
# so with --keep 1 the last checked checkpoint stays beside it.
interrupted keep-one TERM 143 --keep 1
stop_step=$(sed -n 's/.* at step \([0-9]*\);.*/\1/p' "$scratch/keep-one.err")
kept=$(cd "$scratch/keep-one" && ls ckpt-*.dsc | grep -vx "ckpt-$stop_step.dsc")
check "keep-one: the last checked checkpoint ($kept) stays beside the stop's (step $stop_step)" \
  test -n "$kept" -a "$(echo "$kept" | wc -l)" -eq 1
check "keep-one: it verifies" "$descent" checkpoint verify "$scratch/keep-one/$kept"

# Parameters that are NaN or Inf when the signal stops the run: no checkpoint
# is written, and the line says so (not "checkpoint written" with an older
# file's name). gd takes one long step per epoch; its rate is 5e298 from
# step 2 on, which makes the parameters infinite; the signal is sent while
# step 2 runs (once epoch 1 is logged).
big=$scratch/big
dataset "$big" 4096 64
set -m
timeout 120 "$descent" train --quiet --threads 1 --data-dir "$big" --opt gd --batch-size 512 \
  --model 'dense(2048), relu, dense(2048), relu, dense(10)' --lr 'step(0.05, 1, gamma=1e300)' \
  --epochs 3 --out "$scratch/nan" >"$scratch/nan.log" 2>"$scratch/nan.err" &
wrapper=$!
set +m
wait_for_epochs "$scratch/nan/metrics.csv" 1
sleep 0.5 # past the checkpoint of epoch 1 kept in memory, well inside step 2
kill -TERM "$(pgrep -P "$wrapper" -x "$descent_process")"
wait "$wrapper"
rc=$?
if [ "$rc" -eq 143 ] && grep -q "at step 2\|stopped at step 2" "$scratch/nan.err"; then
  check "nan: says no checkpoint was written, and why ($(cat "$scratch/nan.err"))" \
    grep -q "^descent train: interrupted by SIGTERM: stopped at step 2; no checkpoint written: the parameters hold NaN or Inf$" "$scratch/nan.err"
  check "nan: no checkpoint of step 2" test ! -e "$scratch/nan/ckpt-2.dsc"
else
  echo "SKIP nan: the signal did not land during step 2 (exit status $rc: $(cat "$scratch/nan.err"))"
fi

# A signal during start-up (here: fitting ZCA on the real data, seconds)
# ends the process at once, as without a handler: no folder, no message.
real=/usr/share/datasets/fashion-mnist
if [ -f "$real/train-images-idx3-ubyte.gz" ]; then
  set -m
  "$descent" train --quiet --threads 1 --preprocess zca --model 'mlp:784-10' --epochs 1 \
    --out "$scratch/startup" >"$scratch/startup.log" 2>"$scratch/startup.err" &
  pid=$!
  set +m
  sleep 0.8
  kill -INT "$pid"
  wait "$pid"
  rc=$?
  check "startup: killed by SIGINT (exit status $rc, want 130)" test "$rc" -eq 130
  check "startup: nothing on stderr ($(cat "$scratch/startup.err"))" test ! -s "$scratch/startup.err"
  check "startup: no run folder made" test ! -e "$scratch/startup"
else
  echo "SKIP startup: $real (dataset-fashion-mnist) is not installed"
fi

# A step that cannot finish (here: stdout is a pipe nobody reads, so a write
# blocks once it is full) does not swallow the signal: 30 s later the
# process ends with one line and the signal's status.
mkfifo "$scratch/stuck.fifo"
exec 3<>"$scratch/stuck.fifo" # a reader that never reads
"$descent" "${options[@]}" --epochs 1000000 --out "$scratch/stuck" \
  >"$scratch/stuck.fifo" 2>"$scratch/stuck.err" 3>&- &
pid=$!
# Blocked: the kernel says the process waits in a pipe write (wchan), or,
# where /proc hides that, metrics.csv (written after each epoch's line) has
# not grown for 3 s. A shorter pause is not proof: on a loaded machine under
# sanitizers one epoch can take longer than that, and the signal would land
# in a run that is not stuck.
rows=-1 still=0
for _ in $(seq 200); do
  sleep 0.3
  case $(cat "/proc/$pid/wchan" 2>/dev/null) in *pipe_write*) break ;; esac
  now=$( (wc -l <"$scratch/stuck/metrics.csv") 2>/dev/null || echo 0)
  if [ "$now" -eq "$rows" ] && [ "$now" -gt 10 ]; then
    still=$((still + 1))
    [ "$still" -ge 10 ] && break
  else
    still=0
  fi
  rows=$now
done
kill -TERM "$pid"
ended=
for _ in $(seq 450); do
  kill -0 "$pid" 2>/dev/null || { ended=1; break; }
  sleep 0.1
done
[ -z "$ended" ] && kill -KILL "$pid"
wait "$pid"
rc=$?
exec 3<&-
check "stuck: ends within 45 s of SIGTERM (exit status $rc, want 143)" test -n "$ended" -a "$rc" -eq 143
check "stuck: says so in one line ($(cat "$scratch/stuck.err"))" \
  test "$(cat "$scratch/stuck.err")" = "descent train: the current step did not finish within 30 s of the signal; stopped without a checkpoint; resume from the last one"

finish
