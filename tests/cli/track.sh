#!/usr/bin/env bash
# track.sh - `descent train --track`: the instruments' rows in the run's
# diagnostics.csv. A run killed with SIGKILL and resumed writes the same
# diagnostics.csv, byte for byte, as one that never stopped (every
# instrument at a fixed frequency, and alpha alone at the automatic one,
# whose next step comes from the checkpoint); the header names the columns
# in their order; --resume keeps --track (and refuses other instruments);
# a bad list, a full-batch optimizer and the options' bounds are one clear
# error line each; measuring changes nothing in the run.
#
# usage: track.sh DESCENT_BINARY SCRATCH_DIR
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

# 256 + 64 random 8x8 images; batches of 32 are 8 steps an epoch.
data=$scratch/data
dataset "$data" 256 64

train() { "$descent" train --quiet --threads 2 --data-dir "$data" "$@"; }

resume_every=5
expect_counts=0
mlp='dense(16), relu, dropout(0.2), dense(12), tanh, dense(10)'
cnn='conv(4, 3), relu, maxpool(2), conv(4, 3), relu, dense(10)'

# killed_and_resumed (lib.sh), then the two diagnostics.csv files.
same_diagnostics() {
  local name=$1 rows
  killed_and_resumed "$@"
  rows=$(($(wc -l <"$scratch/$name-straight/diagnostics.csv") - 1))
  check "$name: diagnostics.csv identical after the kill and resume ($rows rows)" \
    cmp -s "$scratch/$name-straight/diagnostics.csv" "$scratch/$name/diagnostics.csv"
  check "$name: rows were measured" test "$rows" -ge 3
}
same_diagnostics mlp-all 13 --model "$mlp" --opt adam --lr 0.01 --batch-size 32 --epochs 3 \
  --track all --track-every 3 --track-iterations 8
same_diagnostics cnn-momentum 11 --model "$cnn" --opt momentum --lr 0.02 --batch-size 32 \
  --epochs 2 --track sharpness,ggn,negative,alpha,layers --track-every 2 --track-iterations 5
# Alpha costs one gradient: automatically at step 1, then every 48 steps; the
# kill comes after 49, the resume from the checkpoint of step 45, which
# measures step 48 again.
same_diagnostics alpha-auto 49 --model "$mlp" --opt sgd --lr 0.05 --batch-size 32 --epochs 12 \
  --track alpha
check "alpha-auto: rows at steps 1, 48 and 96" \
  test "$(cut -d, -f1 "$scratch/alpha-auto/diagnostics.csv" | tr '\n' ' ')" = "step 1 48 96 "

# Measuring changes nothing: the same run without instruments.
train --model "$mlp" --opt adam --lr 0.01 --batch-size 32 --epochs 3 --out "$scratch/plain" \
  >/dev/null 2>&1
check "mlp-all: the same model and losses as without --track" \
  same_run "$scratch/plain" "$scratch/mlp-all-straight"
check "a run without --track writes no diagnostics.csv" test ! -e "$scratch/plain/diagnostics.csv"

# The header, in the documented order.
header='step,epoch,lr,loss,cost,hessian_top,stability_limit,precond_top,edge_ratio,ggn_top,hessian_bottom,grad_norm,noise_trace,noise_scale,norm_test,inner_test,ortho_test,batch,alpha,step_norm,loss_after'
header+=',layer1.dense.weight.grad_norm,layer1.dense.weight.update_ratio,layer1.dense.weight.distance'
header+=',layer1.dense.bias.grad_norm,layer1.dense.bias.update_ratio,layer1.dense.bias.distance'
check "the header of --track all" test "$(head -1 "$scratch/mlp-all/diagnostics.csv" | cut -d, -f1-27)" = "$header"
check "the header ends with the activations" test "$(head -1 "$scratch/mlp-all/diagnostics.csv" |
  cut -d, -f40-)" = 'layer2.relu.mean,layer2.relu.std,layer2.relu.dead,layer5.tanh.mean,layer5.tanh.std'
check "config.txt names the instruments" \
  grep -q "^track       sharpness,ggn,negative,noise,alpha,layers every 3 steps, 8 Lanczos" \
  "$scratch/mlp-all/config.txt"
check "the epoch line shows the newest measurement" \
  grep -qE "\| step 24: sharpness [0-9.e+-]+, preconditioned [0-9.e+-]+ / limit [0-9.e+-]+" \
  "$scratch/mlp-all-straight.log"

# --resume keeps the instruments: a resumed run that does not name them
# measured the same (above); a leftover temporary file goes.
touch "$scratch/mlp-all/diagnostics.csv.tmp"
train --resume "$scratch/mlp-all" --epochs 4 >/dev/null 2>&1
check "resume with more epochs exits 0" test $? -eq 0
check "the resume kept --track all" test "$(tail -1 "$scratch/mlp-all/diagnostics.csv" | cut -d, -f1)" = 30
check "the leftover diagnostics.csv.tmp is gone" test ! -e "$scratch/mlp-all/diagnostics.csv.tmp"
expect_error track-differs 1 "was measured with the instruments 'sharpness,ggn,negative,noise,alpha,layers'; this run tracks 'alpha'" \
  train --resume "$scratch/mlp-all" --epochs 5 --track alpha

# Bad input: one line each, nothing made.
expect_error bad-track 2 "--track: unknown instrument 'curvature'; valid: sharpness, ggn, negative, noise, alpha, layers, all, or none" \
  train --model "$mlp" --track sharpness,curvature --out "$scratch/bad1"
expect_error empty-track 2 "--track: instrument list ',alpha': an empty name" \
  train --model "$mlp" --track ,alpha --out "$scratch/bad2"
expect_error track-iterations 2 "--track-iterations" \
  train --model "$mlp" --track sharpness --track-iterations 0 --out "$scratch/bad3"
expect_error full-batch 1 "--track measures on each step's minibatch, and --opt gd steps on the whole training set" \
  train --model "$mlp" --opt gd --lr 0.1 --track alpha --out "$scratch/bad4"
check "no folder for the refused runs" test ! -e "$scratch/bad1" -a ! -e "$scratch/bad4"

finish
