#!/usr/bin/env bash
# kfac.sh - descent train --opt kfac, on an MLP and a CNN (KFC for its conv
# layer): a run killed with SIGKILL between the refreshes of its inverses
# and resumed gives the same model and losses as one never stopped (the
# factors, inverses, momentum and the labels drawn for the Fisher all
# travel in the checkpoint); the epoch line counts the evaluations and
# products; a bad setting is refused in one line.
#
# usage: kfac.sh DESCENT_BINARY SCRATCH_DIR
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

data=$scratch/data
dataset "$data" 256 64

train() { "$descent" train --quiet --threads 2 --data-dir "$data" "$@"; }

mlp='dense(16), tanh, dropout(0.2), dense(10)'
killed_and_resumed true-fisher 7 --model "$mlp" --batch-size 32 --epochs 3 \
  --opt 'kfac(inv_every=4, damping=0.01, seed=3)' --lr 0.02
killed_and_resumed empirical 5 --model "$mlp" --batch-size 64 --epochs 3 \
  --opt 'kfac(inv_every=3, stat_every=2, fisher=empirical, kl_clip=0, damping=0.1)'
killed_and_resumed conv 5 --model 'conv(4, 3, pad=1), relu, maxpool(2), flatten, dense(10)' \
  --batch-size 64 --epochs 2 --opt 'kfac(inv_every=3, damping=0.03)'
check "true-fisher: 24 steps, 24 products" \
  grep -q '| 24 evaluations, 24 products |' "$scratch/true-fisher-straight.log"

expect_error bad-damping error "damping" train --model "$mlp" --opt 'kfac(damping=0)' \
  --out "$scratch/bad-damping"
expect_error bad-word error "valid values are true, empirical" train --model "$mlp" \
  --opt 'kfac(fisher=model)' --out "$scratch/bad-word"
finish
