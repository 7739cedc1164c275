#!/usr/bin/env bash
# sophia.sh - descent train --opt sophia: a run killed with SIGKILL and
# resumed gives the same model and losses as one never stopped, with
# Hutchinson's estimates (Hessian-vector products) and with Sophia-G's
# Gauss-Newton-Bartlett ones (labels sampled from the model) on a network
# with dropout, both seeded by the step count; metrics.csv counts one
# evaluation per step and one product per estimate; invalid
# hyperparameters are refused in one line, before the run folder is made.
#
# usage: sophia.sh DESCENT_BINARY SCRATCH_DIR
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

data=$scratch/data
dataset "$data" 256 64

train() { "$descent" train --quiet --threads 2 --data-dir "$data" "$@"; }

# The last row's evaluations and products (metrics.csv's last two columns).
counts() { tail -1 "$1/metrics.csv" | cut -d, -f12-13; }

mlp='dense(16), tanh, dense(10)'
# 256 examples in batches of 64: 4 steps an epoch, 12 in all.
killed_and_resumed hutchinson 7 --model "$mlp" --batch-size 64 --epochs 3 \
  --opt 'sophia(update_interval=2, seed=3)' --lr 0.001
# estimates at steps 0, 2, ..., 10
check "hutchinson: 12 evaluations and 6 products in metrics.csv ($(counts "$scratch/hutchinson"))" \
  test "$(counts "$scratch/hutchinson")" = "12,6"
check "hutchinson: the epoch line counts them" \
  grep -q '| 12 evaluations, 6 products |' "$scratch/hutchinson-straight.log"

killed_and_resumed gnb 5 --model 'dense(16), relu, dropout(p=0.2), dense(10)' \
  --batch-size 64 --epochs 3 --opt 'sophia(estimator=gnb, update_interval=3, seed=9)' --lr 0.001
# estimates at steps 0, 3, 6, 9
check "gnb: 12 evaluations and 4 products in metrics.csv" \
  test "$(counts "$scratch/gnb")" = "12,4"

expect_error bad-b2 error "sophia(b2=1): out of range" \
  train --model "$mlp" --opt 'sophia(b2=1)' --out "$scratch/bad-b2"
expect_error bad-estimator error "estimator='fisher': valid values are hutchinson, gnb" \
  train --model "$mlp" --opt 'sophia(estimator=fisher)' --out "$scratch/bad-estimator"
check "bad-estimator: no run folder" test ! -e "$scratch/bad-estimator"
finish
