#!/usr/bin/env bash
# run.sh - the main job from a fresh clone: install the dependencies, build,
# and train the default MLP on Fashion-MNIST with plain SGD for 10 epochs.
# Extra arguments go to `descent train` (e.g. --epochs 3 --threads 1).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$(nproc)" >/dev/null
# The main job's settings (SGD at 0.1, 10 epochs), each unless the command
# line gives its own (the program refuses an option given twice).
given() {
  local arg
  for arg in "${@:2}"; do
    case $arg in "$1" | "$1"=*) return 0 ;; esac
  done
  return 1
}
# A resumed run takes its settings from its checkpoint; another optimizer
# keeps its own default rate.
defaults=()
if ! given --resume "$@"; then
  if ! given --opt "$@"; then
    defaults+=(--opt sgd)
    given --lr "$@" || defaults+=(--lr 0.1)
  fi
  given --epochs "$@" || defaults+=(--epochs 10)
fi
exec ./build/descent train "${defaults[@]}" "$@"
