#!/usr/bin/env bash
# sdlm.sh - descent train --opt sdlm: a run killed with SIGKILL and resumed
# gives the same model and losses as one never stopped, with the exact
# Gauss-Newton diagonal and with Monte-Carlo estimates (whose draws follow
# the seed and the step count) on a network with dropout; metrics.csv
# counts one evaluation per step and the diagonals' backward passes as
# products; a network with batch norm is refused in one line.
#
# usage: sdlm.sh DESCENT_BINARY SCRATCH_DIR
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

data=$scratch/data
dataset "$data" 256 64

train() { "$descent" train --quiet --threads 2 --data-dir "$data" "$@"; }

# The last row's evaluations and products (metrics.csv's last two columns).
counts() { tail -1 "$1/metrics.csv" | cut -d, -f12-13; }

mlp='dense(16), tanh, dense(10)'
# 256 examples in batches of 64: 4 steps an epoch, 12 in all.
killed_and_resumed exact 7 --model "$mlp" --batch-size 64 --epochs 3 \
  --opt 'sdlm(every=2, decay=0.5, samples=0)' --lr 0.05
# estimates at steps 0, 2, ..., 10: 6 of 10 classes each
check "exact: 12 evaluations and 60 products in metrics.csv ($(counts "$scratch/exact"))" \
  test "$(counts "$scratch/exact")" = "12,60"
check "exact: the epoch line counts them" \
  grep -q '| 12 evaluations, 60 products |' "$scratch/exact-straight.log"

killed_and_resumed monte-carlo 5 --model 'dense(16), relu, dropout(p=0.2), dense(10)' \
  --batch-size 64 --epochs 3 --opt 'sdlm(every=3, samples=3, seed=9)' --lr 0.05
# estimates at steps 0, 3, 6, 9: 4 of 3 samples each
check "monte-carlo: 12 evaluations and 12 products in metrics.csv" \
  test "$(counts "$scratch/monte-carlo")" = "12,12"

expect_error batchnorm error "has parameters and no per-example squared gradients" \
  train --model 'dense(16), batchnorm, relu, dense(10)' --opt sdlm --out "$scratch/batchnorm"
check "batchnorm: refused before its run folder was made" test ! -e "$scratch/batchnorm"
expect_error bad-decay error "sdlm(decay=2): out of range" \
  train --model "$mlp" --opt 'sdlm(decay=2)' --out "$scratch/bad-decay"
finish
