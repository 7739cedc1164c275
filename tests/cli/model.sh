#!/usr/bin/env bash
# model.sh - descent train saves RUN/model.bin and descent eval reads it back:
# the evaluation must print the test loss and accuracy the training printed
# after its last epoch. Then every damaged or foreign model file must be
# refused with exactly one line on stderr naming the file and the problem,
# and exit status 1 (2 for a usage error).
#
# usage: model.sh DESCENT_BINARY SCRATCH_DIR
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

# A small CNN with batch norm and dropout, ZCA-whitened inputs: every part of
# the file is exercised.
run=$scratch/run
"$descent" train --model 'conv(4, 5, pad=2), batchnorm, relu, maxpool(2), dropout(0.2), dense(10)' \
  --limit 1000 --epochs 2 --lr 0.05 --batch-size 50 --threads 2 --preprocess zca --quiet \
  --out "$run" >"$scratch/train.log" 2>&1
check "train exits 0" test $? -eq 0
check "train writes model.bin" test -s "$run/model.bin"
want=$(sed -n 's/^epoch 2\/2 .*| test loss \([0-9.]*\) acc \([0-9.]*\)%.*/\1 \2/p' "$scratch/train.log")
"$descent" eval --model-file "$run/model.bin" --threads 1 >"$scratch/eval.log" 2>&1
check "eval exits 0" test $? -eq 0
got=$(sed -n 's/^test loss \([0-9.]*\) acc \([0-9.]*\)%$/\1 \2/p' "$scratch/eval.log")
check "eval prints what training printed ($want / $got)" test -n "$want" -a "$want" = "$got"
check "eval names the preprocessing" grep -q "preprocess zca" "$scratch/eval.log"

# Damaged files, each written from the good one.
good=$run/model.bin
size=$(stat -c %s "$good")
head -c $((size - 1)) "$good" >"$scratch/cut.bin"
expect_error truncated 1 "cut.bin: file truncated" "$descent" eval --model-file "$scratch/cut.bin"
cp "$good" "$scratch/flip.bin"
printf '\xff' | dd of="$scratch/flip.bin" bs=1 seek=1000 conv=notrunc status=none # inside the parameters
expect_error flipped 1 "flip.bin: section 'PARM' is corrupted" "$descent" eval --model-file "$scratch/flip.bin"
{ printf 'NOTMODEL'; tail -c +9 "$good"; } >"$scratch/magic.bin"
expect_error magic 1 "magic.bin: not a descent model file" "$descent" eval --model-file "$scratch/magic.bin"
{ head -c 8 "$good"; printf '\x07\x00\x00\x00'; tail -c +13 "$good"; } >"$scratch/version.bin"
expect_error version 1 "version.bin: format version 7; this descent reads version 1" \
  "$descent" eval --model-file "$scratch/version.bin"
: >"$scratch/empty.bin"
expect_error empty 1 "empty.bin: file truncated: 0 bytes" "$descent" eval --model-file "$scratch/empty.bin"
expect_error missing 1 "cannot open '$scratch/none.bin'" "$descent" eval --model-file "$scratch/none.bin"
expect_error no-model 2 "--model-file PATH is required" "$descent" eval
expect_error half-pair 2 "--images and --labels go together" "$descent" eval --model-file "$good" --images x
expect_error bad-eps 2 "--preprocess-eps: '-1' is not a positive number" "$descent" train --preprocess zca --preprocess-eps -1

finish
