#!/usr/bin/env bash
# accumulate.sh - descent train --accumulate K: K micro-batches of
# --batch-size per step.
#  - On Fashion-MNIST (2048 examples, two epochs of the default MLP),
#    --accumulate 4 --batch-size 32 takes the steps of --batch-size 128 on
#    the same examples: every step's loss within 5e-6 relative of theirs
#    (measured: from 6e-9 at the first step to 5e-7 by the 32nd; only the
#    order of the gradient's sums differs, and the float program rounds
#    differently), the same test accuracy to 0.1%.
#  - With batch norm each micro-batch normalizes itself: the losses differ
#    from the large batch's (test_accumulate checks them against the
#    micro-batches done by hand).
#  - Killed and resumed (batch norm and dropout, a last batch smaller than
#    K x B), and stopped by SIGTERM and resumed: the same bits as a run never
#    stopped; the resumed run takes --accumulate from its checkpoint.
#  - config.txt and the start lines say it; a resume with another
#    --accumulate, K out of range, and the combinations it does not support
#    (full-batch optimizers, methods, --track, --reduction fixed) are refused
#    in one line.
#
# usage: accumulate.sh DESCENT_BINARY SCRATCH_DIR
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

data=$scratch/data
dataset "$data" 200 40 # batches of 48: 4 of 48 and one of 8 an epoch
train() { "$descent" train --quiet --threads 1 --data-dir "$data" "$@"; }

# The largest relative difference of column 4 (the loss) of two steps.csv,
# and whether their step and epoch columns agree.
loss_gap() {
  paste -d, "$1" "$2" | awk -F, 'NR > 1 {
      if ($1 != $5 || $2 != $6) bad = 1
      d = $4 - $8; if (d < 0) d = -d
      s = $4 < 0 ? -$4 : $4
      if (d / s > worst) worst = d / s
    } END { if (bad || NR < 2) print "mismatch"; else printf "%.3g\n", worst }'
}
# below X LIMIT: X is a number <= LIMIT.
below() { awk -v x="$1" -v l="$2" 'BEGIN { exit !(x ~ /^[0-9.e+-]+$/ && x + 0 <= l + 0) }'; }
above() { awk -v x="$1" -v l="$2" 'BEGIN { exit !(x ~ /^[0-9.e+-]+$/ && x + 0 > l + 0) }'; }

# ---- the default MLP on Fashion-MNIST: 4 x 32 against 128 ---------------------------------
fmnist=/usr/share/datasets/fashion-mnist
if [ -r "$fmnist/train-images-idx3-ubyte.gz" ] || [ -r "$fmnist/train-images-idx3-ubyte" ]; then
  real=(--data-dir "$fmnist" --limit 2048 --epochs 2 --opt momentum --lr 0.05)
  fm() { "$descent" train --quiet --threads 1 "${real[@]}" "$@"; }
  fm --batch-size 128 --out "$scratch/big" >"$scratch/big.log" 2>&1
  check "fashion-mnist: --batch-size 128 exits 0" test $? -eq 0
  fm --batch-size 32 --accumulate 4 --out "$scratch/acc" >"$scratch/acc.log" 2>&1
  check "fashion-mnist: --accumulate 4 --batch-size 32 exits 0" test $? -eq 0
  gap=$(loss_gap "$scratch/big/steps.csv" "$scratch/acc/steps.csv")
  check "fashion-mnist: the same 32 steps, every loss within 5e-6 relative (gap $gap)" \
    below "$gap" 5e-6
  check "fashion-mnist: 32 steps each" test "$(wc -l <"$scratch/acc/steps.csv")" -eq 33
  acc_big=$(awk -F, 'NR == 3 { print $9 }' "$scratch/big/metrics.csv")
  acc_acc=$(awk -F, 'NR == 3 { print $9 }' "$scratch/acc/metrics.csv")
  check "fashion-mnist: test accuracy $acc_acc against $acc_big, within 0.001" \
    awk -v a="$acc_big" -v b="$acc_acc" 'BEGIN { d = a - b; exit !(a != "" && d <= 0.001 && d >= -0.001) }'
  check "fashion-mnist: config.txt says 4 micro-batches of 32" \
    grep -q "batch size  128 per step, its gradient summed over 4 micro-batches of 32 (--accumulate 4)" \
    "$scratch/acc/config.txt"
else
  echo "note: no Fashion-MNIST in $fmnist; its comparison is left out"
fi

# ---- batch norm: each micro-batch normalizes itself -----------------------------------------
bn='dense(32), batchnorm, relu, dense(10)'
train --model "$bn" --opt sgd --lr 0.05 --batch-size 48 --epochs 2 --out "$scratch/bn-big" \
  >/dev/null 2>&1
train --model "$bn" --opt sgd --lr 0.05 --batch-size 12 --accumulate 4 --epochs 2 \
  --out "$scratch/bn-acc" >/dev/null 2>&1
check "batch norm: both runs exit 0" test -s "$scratch/bn-acc/model.bin" -a -s "$scratch/bn-big/model.bin"
gap=$(loss_gap "$scratch/bn-big/steps.csv" "$scratch/bn-acc/steps.csv")
check "batch norm: the same steps, the losses differ (gap $gap, above 1e-4)" above "$gap" 1e-4

# ---- killed and resumed ----------------------------------------------------------------------
deep='dense(32), batchnorm, relu, dropout(0.2), dense(10)'
resume_every=3
expect_counts=0
killed_and_resumed adam-acc 7 --model "$deep" --opt adam --lr 0.01 --batch-size 12 \
  --accumulate 4 --epochs 3
killed_and_resumed sgd-acc-3 9 --model 'dense(16), relu, dense(10)' --opt momentum --lr 0.05 \
  --batch-size 16 --accumulate 3 --epochs 3
check "resumed: took --accumulate 4 from the checkpoint" \
  grep -q "summed over 4 micro-batches of 12" "$scratch/adam-acc-resume.log"

# SIGTERM within a long run: the step's micro-batches finish, its checkpoint
# holds the state after the step, and the run resumed from it equals one
# never stopped (5 steps an epoch).
signalled=(--model 'dense(16), relu, dense(10)' --opt momentum --lr 0.01 --batch-size 12
  --accumulate 4)
set -m
timeout 120 "$descent" train --quiet --threads 1 --data-dir "$data" "${signalled[@]}" \
  --epochs 3000 --out "$scratch/term" >"$scratch/term.log" 2>"$scratch/term.err" &
wrapper=$!
set +m
for _ in $(seq 600); do
  [ -f "$scratch/term/metrics.csv" ] && [ "$(wc -l <"$scratch/term/metrics.csv")" -ge 3 ] && break
  sleep 0.05
done
kill -TERM "$(pgrep -P "$wrapper" -x "$descent_process")"
wait "$wrapper"
check "sigterm: exit status $?, want 143" test $? -eq 143
step=$(sed -n 's/.* at step \([0-9]*\);.*/\1/p' "$scratch/term.err")
epochs=$((${step:-0} / 5 + 2))
train --resume "$scratch/term" --epochs "$epochs" >/dev/null 2>&1
check "sigterm: stopped at step $step, resumed to $epochs epochs" test $? -eq 0 -a -n "$step"
train "${signalled[@]}" --epochs "$epochs" --out "$scratch/term-straight" >/dev/null 2>&1
check "sigterm: same model and losses as a run never stopped" \
  same_run "$scratch/term-straight" "$scratch/term"

# ---- refusals -----------------------------------------------------------------------------
mlp='dense(16), relu, dense(10)'
run=$scratch/adam-acc
expect_error resume-other-k 2 "--accumulate differs: checkpoint has 4, command line 2" \
  train --resume "$run" --accumulate 2
expect_error resume-added-k 2 "--accumulate differs: checkpoint has 1, command line 4" \
  train --resume "$scratch/bn-big" --accumulate 4
expect_error zero 2 "--accumulate: 0 is out of range; valid values are 1 to 65536" \
  train --accumulate 0 --out "$scratch/r1"
expect_error word 2 "--accumulate: 'four' is not a non-negative whole number" train --accumulate four --out "$scratch/r2"
expect_error huge 2 "--accumulate 2048 x --batch-size 1024: steps of 2097152 examples; at most 1048576" \
  train --accumulate 2048 --batch-size 1024 --out "$scratch/r3"
expect_error full-batch 1 "--accumulate 2 with --opt gd: a full-batch optimizer already sums" \
  train --model "$mlp" --accumulate 2 --opt gd --out "$scratch/r4"
expect_error method 1 "--accumulate 2 with --opt lbfgs: a method evaluates the objective again" \
  train --model "$mlp" --accumulate 2 --opt lbfgs --out "$scratch/r5"
expect_error track 1 "--accumulate 2 with --track: the instruments measure on each step's whole batch" \
  train --model "$mlp" --accumulate 2 --track noise --out "$scratch/r6"
expect_error fixed 2 "--accumulate runs in one process without --reduction fixed" \
  train --accumulate 2 --reduction fixed --out "$scratch/r7"
for r in r1 r2 r3 r4 r5 r6 r7; do
  check "refused $r leaves no run folder" test ! -e "$scratch/$r"
done

finish
