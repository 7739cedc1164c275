#!/usr/bin/env bash
# lbfgs.sh - descent train --opt lbfgs: on minibatches (each step's
# iterations and line search on one minibatch) and full batch
# (lbfgs(full_batch=1): the whole training set per step, in chunks), a run
# killed with SIGKILL and resumed gives the same model and losses as one
# never stopped; the epoch line counts the evaluations; a method inside a
# chain is refused in one line.
#
# usage: lbfgs.sh DESCENT_BINARY SCRATCH_DIR
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

data=$scratch/data
dataset "$data" 256 64

train() { "$descent" train --quiet --threads 2 --data-dir "$data" "$@"; }

mlp='dense(16), tanh, dense(10)'
killed_and_resumed minibatch-wolfe 11 --model "$mlp" --batch-size 64 --epochs 3 \
  --opt 'lbfgs(max_iter=5, history=4, line_search=strong_wolfe)'
killed_and_resumed minibatch-fixed 7 --model "$mlp" --batch-size 64 --epochs 3 \
  --opt 'lbfgs(max_iter=3, history=2)' --lr 0.1
killed_and_resumed full-batch 4 --model "$mlp" --batch-size 100 --epochs 6 \
  --opt 'lbfgs(full_batch=1, max_iter=4, line_search=strong_wolfe)'
check "full batch: one step per epoch" \
  grep -q '^batch size  full batch: one step per epoch' "$scratch/full-batch-straight.log"

expect_error in-chain error "is a method" train --model "$mlp" --opt 'clip(1) | lbfgs' \
  --out "$scratch/in-chain"
expect_error bad-word error "valid values are none, strong_wolfe" train --model "$mlp" \
  --opt 'lbfgs(line_search=wolfe)' --out "$scratch/bad-word"
finish
