#!/usr/bin/env bash
# guard.sh - the divergence guard of descent train, on Fashion-MNIST.
#
#  - A learning rate 100 times too large (10 for the SGD whose good rate is
#    0.1, as scripts/run.sh trains) stops within a few steps with exit status
#    1 and one line naming the step, the loss, the rate, the hint and the last
#    good checkpoint, which loads.
#  - A warmup to a peak rate 100 x too large stops when the rate passes the
#    edge, and
#    the checkpoints written before keep their bytes: a run killed just before
#    the bad step and resumed diverges at the same step and writes nothing.
#  - --on-diverge rollback restores the last good checkpoint, lowers the rate
#    and finishes; with a rate no rollback can save it gives up.
#  - --max-loss bounds the loss; bad guard options are refused.
#
# usage: guard.sh DESCENT_BINARY SCRATCH_DIR
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

train() { "$descent" train --quiet --threads 2 --limit 2000 --batch-size 64 "$@"; }
# The files of a run's checkpoints with their bytes, one line each.
fingerprint() { (cd "$1" && md5sum ckpt-*.dsc 2>/dev/null); }
# same_but_run_id A B: the same checkpoint files, equal byte for byte but the
# run id each records (16 bytes) and its section's CRC (4 bytes): two runs
# share their trajectory, never their identity.
same_but_run_id() {
  [ "$(cd "$1" && ls ckpt-*.dsc)" = "$(cd "$2" && ls ckpt-*.dsc)" ] || return 1
  local f
  for f in "$1"/ckpt-*.dsc; do
    [ "$(stat -c %s "$f")" = "$(stat -c %s "$2/${f##*/}")" ] || return 1
    [ "$(cmp -l "$f" "$2/${f##*/}" | wc -l)" -le 20 ] || return 1
  done
}

# 100 x too large.
expect_error too-large 1 "with learning rate 10; the step is too large for the curvature" \
  train --lr 10 --checkpoint-every 1 --keep 100 --out "$scratch/too-large"
message=$(cat "$scratch/too-large.err")
step=$(sed -n 's/.*diverged at step \([0-9]*\) .*/\1/p' <<<"$message")
check "stops within a few steps (step $step)" test -n "$step" -a "${step:-99}" -le 5
last=$(sed -n 's/.*the last good checkpoint is \(.*\.dsc\)$/\1/p' <<<"$message")
check "names the last good checkpoint ($last)" test -n "$last" -a -f "$last"
"$descent" checkpoint verify "$last" >/dev/null 2>&1
check "the last good checkpoint loads" test $? -eq 0
check "no later checkpoint was written" test "$(ls "$scratch/too-large"/ckpt-*.dsc | wc -l)" -eq 1

# A warmup to 10: good checkpoints first, then the divergence.
ramp=(--lr 'constant(10, warmup=50)' --checkpoint-every 2 --keep 5)
expect_error ramp 1 "diverged at step" train "${ramp[@]}" --out "$scratch/ramp"
step=$(sed -n 's/.*diverged at step \([0-9]*\) .*/\1/p' "$scratch/ramp.err")
check "the ramp diverges after some good steps (step $step)" test "${step:-0}" -gt 4
last=$(sed -n 's/.*the last good checkpoint is \(.*\.dsc\)$/\1/p' "$scratch/ramp.err")
"$descent" checkpoint verify "$scratch/ramp" >"$scratch/ramp-verify.log" 2>&1
check "the newest checkpoint is the last good one, and loads" \
  grep -qF "ok          $last:" "$scratch/ramp-verify.log"
train "${ramp[@]}" --stop-after-steps $((step - 1)) --out "$scratch/ramp2" >/dev/null 2>&1
check "killed just before the bad step" test $? -eq 137
before=$(fingerprint "$scratch/ramp2")
"$descent" train --resume "$scratch/ramp2" >/dev/null 2>"$scratch/ramp2.err"
check "resumed, it diverges again (exit status 1)" test $? -eq 1
check "at the same step" grep -q "diverged at step $step " "$scratch/ramp2.err"
check "the checkpoints keep their bytes, none is added" test "$before" = "$(fingerprint "$scratch/ramp2")"
check "and they are those of the run that never stopped" \
  same_but_run_id "$scratch/ramp2" "$scratch/ramp"

# Rollback: 10 is too large, 1 and then 0.1 are tried from the last good
# checkpoint.
train --lr 10 --on-diverge rollback --epochs 2 --out "$scratch/rollback" >"$scratch/rollback.log" 2>&1
check "rollback: the run finishes" test $? -eq 0
check "rollback: says so" grep -q "^rollback    loss out of bounds at step .* learning rate x 0.1 (rollback 1 of 3)" "$scratch/rollback.log"
check "rollback: two epochs logged" test "$(wc -l <"$scratch/rollback/metrics.csv")" -eq 3
acc=$(tail -n 1 "$scratch/rollback/metrics.csv" | cut -d, -f9)
check "rollback: it learns (test accuracy $acc above 0.6)" awk -v a="$acc" 'BEGIN { exit !(a > 0.6) }'
lr=$(tail -n 1 "$scratch/rollback/steps.csv" | cut -d, -f3)
check "rollback: the rate was lowered ($lr)" awk -v a="$lr" 'BEGIN { exit !(a < 1) }'
expect_error rollback-gives-up 1 "after 3 rollbacks" \
  train --lr 1e7 --on-diverge rollback --out "$scratch/hopeless"

# The bound.
expect_error max-loss 1 "diverged at step 1 (epoch 1): loss 2.5" train --lr 0.1 --max-loss 1 --out "$scratch/bound"
check "max-loss: names the bound" grep -q "is beyond the bound 1 with learning rate 0.1" "$scratch/max-loss.err"
expect_error bad-policy 2 "--on-diverge: unknown policy 'retry'; valid: stop, rollback" \
  train --on-diverge retry
expect_error bad-factor 2 "--rollback-factor: 2 is out of range" train --rollback-factor 2
expect_error bad-bound 2 "--max-loss: '-1' is not a positive number" train --max-loss -1

finish
