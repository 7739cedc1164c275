#!/usr/bin/env bash
# own_objective.sh - examples/own_objective.c, a user's own objective (softmax
# regression written in plain C) trained by descent's trainer: a run killed
# with SIGKILL mid-run and resumed from its checkpoint folder ends with the
# same parameters, bit for bit, as a run never stopped; at 1000 times the
# learning rate the guard stops it with one line naming the step and the
# fix; resuming where there is nothing to resume is one clear line.
#
# usage: own_objective.sh DESCENT_BINARY SCRATCH_DIR OWN_OBJECTIVE_BINARY
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
example=${3:?usage: own_objective.sh DESCENT SCRATCH OWN_OBJECTIVE}

check "make-data writes 3000 rows and a header" \
  bash -c "'$example' --make-data '$scratch/train.csv' --rows 3000 --seed 4 &&
           [ \$(wc -l <'$scratch/train.csv') -eq 3001 ]"

train() { "$example" --data "$scratch/train.csv" --opt momentum --lr 0.1 --epochs 6 --batch 32 \
  --checkpoint-every 10 "$@"; }

# --- uninterrupted ---------------------------------------------------------------
train --dir "$scratch/full" >"$scratch/full.out" 2>"$scratch/full.err"
check "uninterrupted run exits 0" [ $? -eq 0 ]
full=$(grep '^checksum ' "$scratch/full.out")
check "it prints a checksum ($full)" [ -n "$full" ]
accuracy=$(sed -n 's/^accuracy //p' "$scratch/full.out")
check "it learns (accuracy $accuracy > 0.8)" awk "BEGIN { exit !(${accuracy:-0} > 0.8) }"
check "six epochs reported" [ "$(grep -c '^epoch ' "$scratch/full.out")" -eq 6 ]

# --- killed at step 237 (of 564), then resumed -------------------------------------
train --dir "$scratch/killed" --stop-after 237 >"$scratch/killed.out" 2>"$scratch/killed.err"
rc=$?
check "the run is killed by SIGKILL (exit $rc)" [ "$rc" -eq 137 ]
check "it left checkpoints" bash -c "ls '$scratch/killed'/ckpt-*.dsc >/dev/null"
check "it did not finish" bash -c "! grep -q '^checksum' '$scratch/killed.out'"
train --dir "$scratch/killed" --resume >"$scratch/resumed.out" 2>"$scratch/resumed.err"
check "the resumed run exits 0" [ $? -eq 0 ]
check "it resumed from a checkpoint near the kill" \
  grep -qE '^resumed from .*ckpt-23[0-9].dsc at step 23[0-9]$' "$scratch/resumed.out"
resumed=$(grep '^checksum ' "$scratch/resumed.out")
check "killed and resumed: the same checksum ($resumed)" [ "$resumed" = "$full" ]
check "and the same final loss and accuracy" \
  bash -c "diff <(grep -E '^(final loss|accuracy)' '$scratch/full.out') \
                <(grep -E '^(final loss|accuracy)' '$scratch/resumed.out')"

# --- a fresh run never takes over a folder that holds a run ----------------------------
before=$(cat "$scratch/full/run-id")
expect_error reuse error "holds a run already" \
  "$example" --data "$scratch/train.csv" --dir "$scratch/full"
check "the folder keeps its run id" [ "$(cat "$scratch/full/run-id")" = "$before" ]

# --- the guard: the learning rate x 1000 ----------------------------------------------
expect_error guard error "lower the learning rate" \
  "$example" --data "$scratch/train.csv" --opt momentum --lr 100 --epochs 6 --batch 32 \
  --dir "$scratch/guard"
check "the guard's line names the step" grep -qE 'diverged at step [0-9]+' "$scratch/guard.err"

# --- nothing to resume --------------------------------------------------------------
mkdir -p "$scratch/empty"
expect_error resume-empty error "holds no run to resume" train --dir "$scratch/empty" --resume

finish
