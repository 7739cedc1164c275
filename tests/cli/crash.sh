#!/usr/bin/env bash
# crash.sh - SIGKILL at random moments while descent train writes a
# checkpoint at every step, KILLS times (default 200), each time resuming the
# same run. After every kill:
#   - `descent checkpoint verify` finds a checkpoint that loads, and no file
#     under a checkpoint's name is partial or damaged (nothing is skipped):
#     the temporary files that killed writes leave behind (counted) are never
#     taken for checkpoints;
#   - the newest checkpoint's step never goes back.
# At the end the run is resumed to completion and must equal, bit for bit
# (model.bin, steps.csv, metrics.csv but the timing columns), a run that was
# never killed.
#
# usage: crash.sh DESCENT_BINARY SCRATCH_DIR [KILLS]
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
kills=${3:-200}
# Emulated, each kill waits 20 times longer: fewer of them.
if [ "$emulated" = 1 ] && [ -z "${3:-}" ]; then kills=60; fi
RANDOM=20240607 # the same sequence of delays every time

# 128 random 8x8 images, labels 0..9 in turn; 16 steps per epoch.
data=$scratch/data
dataset "$data" 128 16

run=$scratch/run
options=(--data-dir "$data" --model 'dense(16), batchnorm, relu, dense(10)' --opt adam --lr 0.01
  --batch-size 8 --threads 1 --quiet)
newest_step() { sed -n 's/^ok          .*: step \([0-9]*\),.*/\1/p' "$scratch/verify.log"; }

start=$(date +%s.%N)
last=-1
fresh=0 tmp_left=0 progressed=0 bad=0 skipped=0 back=0 finished=0
for ((i = 1; i <= kills; i++)); do
  if [ -e "$run/ckpt-0.dsc" ] || ls "$run"/ckpt-*.dsc >/dev/null 2>&1; then
    "$descent" train --resume "$run" --checkpoint-every 1 >/dev/null 2>&1 &
  else # killed before its first checkpoint: start again
    rm -rf "$run"
    fresh=$((fresh + 1))
    "$descent" train "${options[@]}" --epochs 100000 --checkpoint-every 1 --out "$run" \
      >/dev/null 2>&1 &
  fi
  pid=$!
  delay=$((RANDOM % 60 + 5))
  if [ "$emulated" = 1 ]; then # 0.1 to 1.3 s
    sleep "$((delay / 50)).$(printf %02d $((delay * 2 % 100)))"
  else
    sleep "0.0$delay" 2>/dev/null || sleep 0.05
  fi
  kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  status=$?
  [ "$status" -ne 137 ] && finished=$((finished + 1))
  compgen -G "$run/ckpt-*.dsc.tmp.*" >/dev/null && tmp_left=$((tmp_left + 1))
  ls "$run"/ckpt-*.dsc >/dev/null 2>&1 || continue # nothing written yet
  if ! "$descent" checkpoint verify "$run" >"$scratch/verify.log" 2>&1; then
    bad=$((bad + 1))
    echo "kill $i: no checkpoint loads:"
    cat "$scratch/verify.log"
    continue
  fi
  if grep -q '^skipped' "$scratch/verify.log"; then
    skipped=$((skipped + 1))
    echo "kill $i: a file under a checkpoint's name did not load:"
    grep '^skipped' "$scratch/verify.log"
  fi
  step=$(newest_step)
  [ "${step:--1}" -lt "$last" ] && back=$((back + 1)) && echo "kill $i: newest step $step < $last"
  [ "${step:--1}" -gt "$last" ] && progressed=$((progressed + 1))
  last=${step:--1}
done
elapsed=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
echo "$kills kills in $elapsed s: $progressed with new checkpoints, $tmp_left during a write" \
  "(a temporary file left), $fresh before the first checkpoint; newest checkpoint: step $last"
check "every kill was a kill (none finished or failed: $finished)" test "$finished" -eq 0
check "after every kill a checkpoint loads ($bad failures)" test "$bad" -eq 0
check "no partial or damaged file under a checkpoint's name ($skipped)" test "$skipped" -eq 0
check "the newest checkpoint never went back ($back)" test "$back" -eq 0
check "kills landed during checkpoint writes ($tmp_left)" test "$tmp_left" -gt 0
check "the run made progress (step $last)" test "$last" -gt 0

# Finish: two epochs past the newest checkpoint, against a run never killed.
epochs=$((last / 16 + 2))
"$descent" train --resume "$run" --epochs "$epochs" >"$scratch/finish.log" 2>&1
check "resumed to $epochs epochs, exits 0" test $? -eq 0
check "no temporary file left" test -z "$(compgen -G "$run/*.tmp*")"
"$descent" train "${options[@]}" --epochs "$epochs" --keep 0 --out "$scratch/straight" >/dev/null 2>&1
check "same model as a run never killed" cmp -s "$scratch/straight/model.bin" "$run/model.bin"
check "same losses at every step" cmp -s "$scratch/straight/steps.csv" "$run/steps.csv"
check "same metrics at every epoch, each once" \
  cmp -s <(cut -d, -f1-9 "$scratch/straight/metrics.csv") <(cut -d, -f1-9 "$run/metrics.csv")

finish
