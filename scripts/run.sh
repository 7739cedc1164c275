#!/usr/bin/env bash
# run.sh - the main job from a fresh clone: install the dependencies, build,
# and train the default MLP on Fashion-MNIST with plain SGD for 10 epochs.
# Extra arguments go to `descent train` (e.g. --epochs 3 --threads 1).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$(nproc)" >/dev/null
./build/descent train --opt sgd --lr 0.1 --epochs 10 "$@"
