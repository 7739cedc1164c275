#!/usr/bin/env bash
# hf.sh - descent train --opt hf and newton_cg: each step's CG, backtracking
# and line search on one minibatch; a run killed with SIGKILL and resumed
# gives the same model and losses as one never stopped, the warm start and
# the damping included; the epoch line counts evaluations and products;
# bad hyperparameters and a method inside a chain are refused in one line.
#
# usage: hf.sh DESCENT_BINARY SCRATCH_DIR
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

data=$scratch/data
dataset "$data" 256 64

train() { "$descent" train --quiet --threads 2 --data-dir "$data" "$@"; }

resume_every=2
mlp='dense(16), tanh, dropout(p=0.1), dense(10)'
killed_and_resumed hf 5 --model "$mlp" --batch-size 64 --epochs 3 \
  --opt 'hf(damping=1, max_cg=10, precond=ggn, precond_samples=2)'
killed_and_resumed newton-cg 7 --model "$mlp" --batch-size 64 --epochs 3 \
  --opt 'newton_cg(damping=0.5, max_cg=8, line_search=none)' --lr 0.5

expect_error in-chain error "is a method" train --model "$mlp" --opt 'clip(1) | hf' \
  --out "$scratch/in-chain"
expect_error bad-word error "valid values are none, ggn" train --model "$mlp" \
  --opt 'hf(precond=fisher)' --out "$scratch/bad-word"
expect_error bad-range error "damping" train --model "$mlp" --opt 'hf(damping=-1)' \
  --out "$scratch/bad-range"
finish
