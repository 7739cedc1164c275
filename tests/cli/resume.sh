#!/usr/bin/env bash
# resume.sh - a run killed with SIGKILL and resumed gives the same bits as a
# run that never stopped: the final model.bin and every logged loss
# (steps.csv, one row per step; metrics.csv, one row per epoch, but the
# timing columns) are compared byte for byte with an uninterrupted run, for
# every named optimizer and every kind of schedule, schedule-free AdamW
# (whose evaluation at each epoch's end moves the parameters), full-batch gd,
# a network with batch norm and dropout, kills inside an epoch and on an
# epoch's last step, two kills in a row, a newest checkpoint that is damaged,
# a finished run extended with more epochs, and real Fashion-MNIST. Then a
# resume that asks for another run is refused naming the field.
#
# The kills come from --stop-after-steps N, which raises SIGKILL right after
# step N: deterministic, and as abrupt as a crash (no cleanup, no flush of
# what the trainer holds in memory). tests/cli/crash.sh kills from outside at
# random moments.
#
# usage: resume.sh DESCENT_BINARY SCRATCH_DIR
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

# A small IDX data set: 256 + 64 random 8x8 images, labels 0..9 in turn.
data=$scratch/data
dataset "$data" 256 64

train() { "$descent" train --quiet --threads 2 --data-dir "$data" "$@"; }

# killed_and_resumed (lib.sh) with a checkpoint every 5 steps; 256
# examples in batches of 32 are 8 steps per epoch. Chains print no counts.
resume_every=5
expect_counts=0

mlp='dense(32), relu, dense(10)'
deep='dense(32), batchnorm, relu, dropout(0.2), dense(10)'
killed_and_resumed sgd 13 --model "$mlp" --opt sgd --lr 0.05 --batch-size 32 --epochs 4
killed_and_resumed adam-cosine 16 --model "$deep" --opt adam --lr 'cosine(0.01, 32, warmup=4)' \
  --batch-size 32 --epochs 4
killed_and_resumed sf-adamw 19 --model "$deep" --opt sf_adamw --lr 0.01 --batch-size 32 --epochs 4
# Schedule-free with batch norm: the running statistics recomputed at the
# average point before each evaluation (--eval-bn-batches, default 50) change
# what is evaluated (metrics.csv's losses, model.bin's statistics), not the
# training (steps.csv), and --eval-bn-batches 0 keeps the training point's.
for k in 0 50; do
  train --model "$deep" --opt sf_adamw --lr 0.01 --batch-size 32 --epochs 2 --eval-bn-batches "$k" \
    --out "$scratch/sf-bn$k" >/dev/null 2>&1
  check "sf-bn: --eval-bn-batches $k runs" test $? -eq 0
done
check "sf-bn: the same training steps" cmp -s "$scratch/sf-bn0/steps.csv" "$scratch/sf-bn50/steps.csv"
check "sf-bn: another evaluation" test "$(cut -d, -f8 "$scratch/sf-bn0/metrics.csv")" != \
  "$(cut -d, -f8 "$scratch/sf-bn50/metrics.csv")"
check "sf-bn: config.txt says so" grep -q "first 50 training batches" "$scratch/sf-bn50/config.txt"
check "sf-bn: config.txt says 0" grep -q "statistics (--eval-bn-batches 0)" "$scratch/sf-bn0/config.txt"
# ASGD averaging from step 4: each epoch's evaluation swaps in the average ax.
killed_and_resumed asgd-averaged 19 --model "$deep" --opt 'asgd(t0=4)' --lr 0.05 --batch-size 32 \
  --epochs 4
killed_and_resumed gd 3 --model "$mlp" --opt gd --lr 0.5 --batch-size 100 --epochs 6
killed_and_resumed nesterov-step 21 --model "$deep" --opt nesterov --lr 'step(0.05, 10)' \
  --batch-size 32 --epochs 4 --val 32

# Every named optimizer and every kind of schedule, killed inside epoch 2.
for pair in sgd:0.05 momentum:0.05 nesterov:0.05 adagrad:0.05 rmsprop:0.002 adam:0.01 \
  adamw:0.01 amsgrad:0.01 lion:0.001 sf_sgd:0.5 sf_adamw:0.01 adadelta:1.0 rprop:0.001 \
  asgd:0.05 adabelief:0.01 yogi:0.01 ademamix:0.01 nadam:0.005 radam:0.01 adamax:0.005 \
  prodigy:1 dadapt_adamw:1; do
  killed_and_resumed "opt-${pair%%:*}" 13 --model "$deep" --opt "${pair%%:*}" --lr "${pair#*:}" \
    --batch-size 32 --epochs 3
done
killed_and_resumed opt-gd 13 --model "$deep" --opt gd --lr 0.5 --batch-size 64 --epochs 16
# The per-tensor and whole-tensor chains step on the network's tensors (their
# layout, which their saved state records).
for pair in lamb:0.01 lars:1 novograd:0.01 adafactor:0.01 soap:0.003; do
  killed_and_resumed "opt-${pair%%:*}" 13 --model "$deep" --opt "${pair%%:*}" --lr "${pair#*:}" \
    --batch-size 32 --epochs 3
done
# Shampoo, its inverse roots recomputed every third step (so the kill falls
# between two recomputations), the 32-wide layer cut into blocks of 16.
killed_and_resumed opt-shampoo 13 --model "$deep" \
  --opt 'shampoo(grafting=4, precondition_frequency=3, max_preconditioner_dim=16)' --lr 0.01 \
  --batch-size 32 --epochs 3
# Muon, on a network of matrices only (no biases).
killed_and_resumed opt-muon 13 --model 'dense(32, bias=0), relu, dense(10, bias=0)' --opt muon \
  --lr 0.02 --batch-size 32 --epochs 3
# Parameter groups: each group's state in the checkpoint (AdamW without decay
# on biases and batch norm; two different chains, one with its own rate).
killed_and_resumed groups-no-decay 13 --model "$deep" --opt 'adamw(weight_decay=0.1)' \
  --no-decay bias,norm --lr 0.01 --batch-size 32 --epochs 3
killed_and_resumed groups-mixed 13 --model "$deep" \
  --opt 'momentum(momentum=0.9) @ weight ; adam(lr=0.005) @ *' --lr 'cosine(0.05, 24)' \
  --batch-size 32 --epochs 3
killed_and_resumed groups-sf 19 --model "$deep" --opt 'sf_adamw @ weight ; adamw(weight_decay=0) @ *' \
  --lr 0.01 --batch-size 32 --epochs 4
# Muon on the 2-D weights and AdamW on the rest (biases, batch norm), as
# torch.optim.Muon's documentation splits a network.
killed_and_resumed groups-muon-adamw 13 --model "$deep" \
  --opt 'muon(lr=0.02) @ weight:2d ; adamw(lr=0.003) @ *' --batch-size 32 --epochs 3
"$descent" checkpoint verify "$scratch/groups-mixed" >"$scratch/groups-verify.log" 2>&1
check "groups-mixed: descent checkpoint verify loads the groups' state" test $? -eq 0
for schedule in 'inv(0.05, 10)' 'poly(0.05, 0.5, tau=4)' 'step(0.05, 5, gamma=0.5)' \
  'exp(0.05, 0.97)' 'cosine(0.05, 24, min_lr=0.001)' 'linear(0.05, 24, end_factor=0.1)' \
  'wsd(0.05, 24, decay=0.3)' 'constant(0.05, warmup=6)'; do
  killed_and_resumed "schedule-${schedule%%(*}" 13 --model "$deep" --opt momentum \
    --lr "$schedule" --batch-size 32 --epochs 3
done

# Two kills in a row; the second run is told only --stop-after-steps.
common=(--model "$deep" --opt adamw --lr 0.01 --batch-size 32 --epochs 4)
train "${common[@]}" --out "$scratch/twice-straight" >/dev/null 2>&1
train "${common[@]}" --checkpoint-every 3 --stop-after-steps 7 --out "$scratch/twice" >/dev/null 2>&1
check "twice: first kill" test $? -eq 137
train --resume "$scratch/twice" --stop-after-steps 20 >/dev/null 2>&1
check "twice: second kill" test $? -eq 137
train --resume "$scratch/twice" >"$scratch/twice.log" 2>&1
check "twice: resumed run exits 0" test $? -eq 0
check "twice: same model and losses" same_run "$scratch/twice-straight" "$scratch/twice"
check "twice: every epoch logged once" test "$(wc -l <"$scratch/twice/metrics.csv")" -eq 5
check "twice: the newest 3 checkpoints kept" test "$(ls "$scratch/twice"/ckpt-*.dsc | wc -l)" -eq 3

# The newest checkpoint damaged: the one before is taken, and said so.
train "${common[@]}" --checkpoint-every 3 --stop-after-steps 20 --out "$scratch/damaged" >/dev/null 2>&1
newest=$(ls "$scratch/damaged"/ckpt-*.dsc | sed 's/.*ckpt-\([0-9]*\).dsc/\1/' | sort -n | tail -1)
printf '\x55' | dd of="$scratch/damaged/ckpt-$newest.dsc" bs=1 seek=300 conv=notrunc status=none
train --resume "$scratch/damaged" >"$scratch/damaged.log" 2>&1
check "damaged: resumed run exits 0" test $? -eq 0
check "damaged: says which checkpoint it skipped and why" \
  grep -q "skipped .*ckpt-$newest.dsc: section '.*' is corrupted" "$scratch/damaged.log"
check "damaged: same model and losses" same_run "$scratch/twice-straight" "$scratch/damaged"

# A finished run given more epochs (a constant rate: the schedule does not
# depend on the epoch count) matches a longer run.
train --model "$mlp" --lr 0.05 --batch-size 32 --epochs 5 --out "$scratch/long" >/dev/null 2>&1
train --model "$mlp" --lr 0.05 --batch-size 32 --epochs 3 --out "$scratch/extended" >/dev/null 2>&1
train --resume "$scratch/extended" --epochs 5 >/dev/null 2>&1
check "extended: 3 epochs, then --resume --epochs 5, exits 0" test $? -eq 0
check "extended: same as 5 epochs in one go" same_run "$scratch/long" "$scratch/extended"

# Real Fashion-MNIST: 1000 examples, two epochs of a small MLP.
real=(--data-dir /usr/share/datasets/fashion-mnist --limit 1000 --model 'mlp:784-64-10'
  --opt momentum --lr 0.05 --epochs 2)
fmnist() { "$descent" train --quiet --threads 2 "${real[@]}" "$@"; }
fmnist --out "$scratch/real-straight" >/dev/null 2>&1
fmnist --checkpoint-every 4 --stop-after-steps 11 --out "$scratch/real" >/dev/null 2>&1
check "fashion-mnist: killed" test $? -eq 137
"$descent" train --resume "$scratch/real" --quiet >/dev/null 2>&1
check "fashion-mnist: resumed" test $? -eq 0
check "fashion-mnist: same model and losses" same_run "$scratch/real-straight" "$scratch/real"

# A resume must be the same run.
run=$scratch/sgd
expect_error lr-differs 2 "--lr differs: checkpoint has 0.05, command line 0.2" \
  train --resume "$run" --lr 0.2
expect_error model-differs 2 "--model differs: checkpoint has dense(32), relu, dense(10), command line dense(16)" \
  train --resume "$run" --model 'dense(16)'
expect_error batch-differs 2 "--batch-size differs: checkpoint has 32, command line 64" \
  train --resume "$run" --batch-size 64
expect_error seed-differs 2 "--seed differs: checkpoint has 1, command line 2" \
  train --resume "$run" --seed 2
expect_error data-differs 2 "--data-dir differs" \
  "$descent" train --quiet --resume "$run" --data-dir /usr/share/datasets/fashion-mnist
expect_error out-differs 2 "--resume continues the run in its own folder" \
  train --resume "$run" --out "$scratch/elsewhere"
mkdir -p "$scratch/empty"
expect_error no-checkpoint 1 "no checkpoint (ckpt-STEP.dsc) in" train --resume "$scratch/empty"
expect_error existing-run 1 "or continue it with --resume" train --model "$mlp" --out "$run"
# The same value written otherwise is the same value.
train --resume "$run" --lr 0.050 --epochs 4 >/dev/null 2>&1
check "--lr 0.050 agrees with 0.05" test $? -eq 0

finish
