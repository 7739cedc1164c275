#!/usr/bin/env bash
# inputs.sh - hostile input files at the command line: a FIFO given as any
# input is refused at once (each run under a timeout: opening one used to
# wait for a writer forever); an IDX label the model has no output for names
# the file and the example; export and import never replace an existing
# --out without --force; a model file holding a NaN is refused by eval and
# export, naming the tensor.
#
# usage: inputs.sh DESCENT_BINARY SCRATCH_DIR
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

data=$scratch/data
dataset "$data" 60 30
run=$scratch/run
"$descent" train --data-dir "$data" --model 'dense(10)' --epochs 1 --batch-size 20 --quiet \
  --threads 1 --out "$run" >/dev/null 2>&1
check "train exits 0" test $? -eq 0
good=$run/model.bin
ckpt=$(ls "$run"/ckpt-*.dsc | tail -n 1)
"$descent" export --model-file "$good" --out "$scratch/w.safetensors" >/dev/null
check "export exits 0" test $? -eq 0

# --- FIFOs, each command under a timeout ---------------------------------------
fifo=$scratch/fifo
mkfifo "$fifo"
t() { timeout 10 "$@"; }
img=$data/t10k-images-idx3-ubyte lab=$data/t10k-labels-idx1-ubyte
expect_error fifo-images 1 "'$fifo' is not a regular file (a FIFO)" \
  t "$descent" eval --model-file "$good" --images "$fifo" --labels "$lab"
expect_error fifo-labels 1 "'$fifo' is not a regular file (a FIFO)" \
  t "$descent" eval --model-file "$good" --images "$img" --labels "$fifo"
expect_error fifo-eval-model 1 "(a FIFO)" t "$descent" eval --model-file "$fifo" --data-dir "$data"
expect_error fifo-export-model 1 "(a FIFO)" \
  t "$descent" export --model-file "$fifo" --out "$scratch/x.safetensors"
expect_error fifo-import-model 1 "(a FIFO)" \
  t "$descent" import --model-file "$fifo" --weights "$scratch/w.safetensors" --out "$scratch/x.bin"
expect_error fifo-weights 1 "(a FIFO)" \
  t "$descent" import --model-file "$good" --weights "$fifo" --out "$scratch/x.bin"
expect_error fifo-checkpoint 1 "(a FIFO)" t "$descent" checkpoint verify "$fifo"
fifo_data=$scratch/fifo_data
mkdir -p "$fifo_data"
cp "$data"/* "$fifo_data"/
rm "$fifo_data/train-images-idx3-ubyte" && mkfifo "$fifo_data/train-images-idx3-ubyte"
expect_error fifo-train-data 1 "train-images-idx3-ubyte' is not a regular file (a FIFO)" \
  t "$descent" train --data-dir "$fifo_data" --model 'dense(10)' --epochs 1 --quiet \
  --out "$scratch/fifo_run"
expect_error dir-model 1 "is not a regular file (a directory)" \
  t "$descent" eval --model-file "$scratch" --data-dir "$data"
check "nothing written for refused imports" test ! -e "$scratch/x.bin" -a ! -e "$scratch/x.safetensors"

# --- a label the model has no output for ----------------------------------------
bad_labels=$scratch/labels-255
{ printf '\x00\x00\x08\x01'; be32 30; printf '\x00\x01\x02\x03\xff'; head -c 25 /dev/zero; } >"$bad_labels"
expect_error label-255 1 "$bad_labels: label 255 of example 4 (counted from 0) is outside the valid range 0 to 9" \
  "$descent" eval --model-file "$good" --images "$img" --labels "$bad_labels"

# --- --out is replaced only with --force ----------------------------------------
echo keep >"$scratch/existing"
expect_error export-exists 1 "'$scratch/existing' already exists; pass --force" \
  "$descent" export --model-file "$good" --out "$scratch/existing"
expect_error import-exists 1 "'$scratch/existing' already exists; pass --force" \
  "$descent" import --model-file "$good" --weights "$scratch/w.safetensors" --out "$scratch/existing"
check "the existing file keeps its bytes" test "$(cat "$scratch/existing")" = keep
cp "$good" "$scratch/model-copy.bin"
expect_error import-over-model 1 "already exists" \
  "$descent" import --model-file "$scratch/model-copy.bin" --weights "$scratch/w.safetensors" \
  --out "$scratch/model-copy.bin"
check "import did not replace its own model" cmp -s "$good" "$scratch/model-copy.bin"
"$descent" export --model-file "$good" --out "$scratch/existing" --force >/dev/null
check "export --force replaces" cmp -s "$scratch/existing" "$scratch/w.safetensors"
"$descent" import --model-file "$good" --weights "$scratch/w.safetensors" --out "$scratch/existing" \
  --force >/dev/null
check "import --force replaces" cmp -s "$scratch/existing" "$good"

# --- a model or checkpoint holding a NaN ------------------------------------------
# nan_file IN OUT: IN with its first parameter set to NaN and the PARM
# section's CRC-32 recomputed, so only the value check can refuse it.
nan_file() {
  local out=$2 size at tag n count nan
  cp "$1" "$out"
  size=$(stat -c %s "$out")
  at=16
  while [ "$at" -lt "$size" ]; do
    tag=$(tail -c +$((at + 1)) "$out" | head -c 4)
    n=$(od -An -t u8 -j $((at + 4)) -N 8 "$out" | tr -d ' ')
    if [ "$tag" = PARM ]; then
      count=$(od -An -t u8 -j $((at + 12)) -N 8 "$out" | tr -d ' ')
      if [ $(((n - 8) / count)) -eq 4 ]; then nan='\x00\x00\xc0\x7f'; else nan='\x00\x00\x00\x00\x00\x00\xf8\x7f'; fi
      printf "$nan" | dd of="$out" bs=1 seek=$((at + 20)) conv=notrunc status=none
      # gzip's trailer holds the CRC-32 of its input, little-endian: the
      # section's checksum over its tag, length and payload.
      tail -c +$((at + 1)) "$out" | head -c $((12 + n)) | gzip -c | tail -c 8 | head -c 4 |
        dd of="$out" bs=1 seek=$((at + 12 + n)) conv=notrunc status=none
    fi
    at=$((at + 16 + n))
  done
}
nan_file "$good" "$scratch/nan.bin"
nan_file "$ckpt" "$run/ckpt-nan.dsc"
expect_error nan-eval 1 "nan.bin: parameter 'layer1.dense.weight' holds a non-finite value" \
  "$descent" eval --model-file "$scratch/nan.bin" --data-dir "$data"
expect_error nan-export 1 "nan.bin: parameter 'layer1.dense.weight' holds a non-finite value" \
  "$descent" export --model-file "$scratch/nan.bin" --out "$scratch/nan.safetensors"
check "nothing exported from a NaN model" test ! -e "$scratch/nan.safetensors"
expect_error nan-checkpoint 1 "parameter 'layer1.dense.weight' holds a non-finite value" \
  "$descent" checkpoint verify "$run/ckpt-nan.dsc"
rm -f "$run/ckpt-nan.dsc"

finish
