#!/usr/bin/env bash
# signals.sh - SIGTERM and SIGINT stop descent train between two steps: it
# writes a checkpoint of the state reached, prints one line naming the signal,
# the step, the checkpoint and the --resume command, and exits 143 or 130. The
# checkpoint verifies, and the run resumed from it ends with the same model
# and losses, bit for bit, as a run never interrupted. With --keep 0 the line
# says that the run cannot be resumed.
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
  kill -"$signal" "$(pgrep -P "$wrapper" -x descent)"
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

finish
