#!/usr/bin/env bash
# weights.sh - descent export and descent import without Python: a model's
# weights exported to safetensors and imported back give the same model file
# byte for byte (a checkpoint exports too); a file for another network, a
# damaged file and missing options are refused with one line. The round trip
# through PyTorch itself is tools/interop/roundtrip.sh.
#
# usage: weights.sh DESCENT_BINARY SCRATCH_DIR
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

run=$scratch/run
"$descent" train --model 'conv(4, 3, pad=1), relu, maxpool(2), flatten, dense(10)' --limit 500 \
  --epochs 1 --quiet --threads 2 --out "$run" >/dev/null 2>&1
check "train exits 0" test $? -eq 0
"$descent" export --model-file "$run/model.bin" --out "$scratch/w.safetensors" >/dev/null
check "export exits 0" test $? -eq 0
"$descent" import --model-file "$run/model.bin" --weights "$scratch/w.safetensors" \
  --out "$scratch/back.bin" >/dev/null
check "import exits 0" test $? -eq 0
check "the model comes back byte for byte" cmp -s "$run/model.bin" "$scratch/back.bin"
ckpt=$(ls "$run"/ckpt-*.dsc | tail -n 1)
"$descent" export --model-file "$ckpt" --out "$scratch/c.safetensors" >/dev/null
check "a checkpoint exports too" test $? -eq 0

"$descent" train --model 'dense(10)' --limit 200 --epochs 1 --quiet --keep 0 --out "$scratch/other" \
  >/dev/null 2>&1
expect_error other-network 1 "w.safetensors" \
  "$descent" import --model-file "$scratch/other/model.bin" --weights "$scratch/w.safetensors" \
  --out "$scratch/x.bin"
check "nothing written for a refused import" test ! -e "$scratch/x.bin"
head -c 100 "$scratch/w.safetensors" >"$scratch/cut.safetensors"
expect_error truncated 1 "cut.safetensors" \
  "$descent" import --model-file "$run/model.bin" --weights "$scratch/cut.safetensors" \
  --out "$scratch/x.bin"
expect_error no-out 2 "--out PATH is required" "$descent" export --model-file "$run/model.bin"
expect_error no-weights 2 "--weights PATH is required" \
  "$descent" import --model-file "$run/model.bin" --out "$scratch/x.bin"
expect_error missing-model 1 "cannot open" \
  "$descent" export --model-file "$scratch/none.bin" --out "$scratch/x.safetensors"

finish
