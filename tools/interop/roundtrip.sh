#!/usr/bin/env bash
# roundtrip.sh - weights exchange between descent and PyTorch through
# safetensors files, in both directions, bit for bit.
#
#   descent -> torch -> descent: descent trains a small CNN on Fashion-MNIST
#     and exports it; PyTorch loads the file into the equivalent
#     torch.nn.Sequential (load_state_dict, strict), checks the bits,
#     evaluates it on the test set (its accuracy must be descent's) and saves
#     its state_dict with safetensors' save_file; descent imports that file
#     into the model: the new model file is byte for byte the old one.
#   torch -> descent -> torch: PyTorch initializes the Sequential and saves
#     it; descent imports it and exports it again; the two files hold the
#     same tensors bit for bit.
#
# Needs Python with torch and safetensors (bench/venv.sh makes the venv from
# PyPI); not part of the default test suite. Prints the versions used.
#
# usage: tools/interop/roundtrip.sh [WORK_DIR]   (DESCENT=path/to/descent)
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=/dev/null
source bench/venv.sh
descent=${DESCENT:-build/descent}
work=${1:-$(mktemp -d)}
mkdir -p "$work"
py() { "$DESCENT_PYTHON" tools/interop/safetensors_roundtrip.py "$@"; }
data=/usr/share/datasets/fashion-mnist
spec='conv(8, 5, pad=2), batchnorm, relu, maxpool(2), flatten, dense(32), batchnorm, tanh, dense(10)'

echo "== descent -> torch -> descent"
rm -rf "$work/run"
"$descent" train --model "$spec" --preprocess none --limit 5000 --epochs 2 --lr 0.05 \
  --batch-size 64 --quiet --keep 0 --out "$work/run" | tail -n 2
"$descent" export --model-file "$work/run/model.bin" --out "$work/descent.safetensors" --force
py from-descent "$work/descent.safetensors" "$work/torch.safetensors" --input 1,28,28 \
  --test-dir "$data" | tee "$work/torch.log"
"$descent" eval --model-file "$work/run/model.bin" | tee "$work/eval.log"
want=$(sed -n 's/^test loss \([0-9.]*\) acc \([0-9.]*\)%$/\2/p' "$work/eval.log")
got=$(sed -n 's/^torch test loss \([0-9.]*\) acc \([0-9.]*\)%$/\2/p' "$work/torch.log")
echo "test accuracy: descent $want%, torch $got%"
[ -n "$want" ] && [ "$want" = "$got" ]
"$descent" import --model-file "$work/run/model.bin" --weights "$work/torch.safetensors" \
  --out "$work/back.bin" --force
cmp "$work/run/model.bin" "$work/back.bin"
echo "model file after the round trip: identical, byte for byte"
py compare "$work/descent.safetensors" "$work/torch.safetensors"

echo "== torch -> descent -> torch"
py from-torch "$work/init.safetensors" --spec "$spec" --input 1,28,28 --seed 7
"$descent" import --model-file "$work/run/model.bin" --weights "$work/init.safetensors" \
  --out "$work/init.bin" --force
"$descent" export --model-file "$work/init.bin" --out "$work/init-again.safetensors" --force
py compare "$work/init.safetensors" "$work/init-again.safetensors"
echo "roundtrip: both directions bit for bit (files in $work)"
