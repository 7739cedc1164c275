#!/usr/bin/env bash
# tools/optimizer_table.sh - every named optimizer of `descent optimizers`
# trained 5 epochs at its defaults (its default learning rate, the default
# MLP 784-256-128-10, batch 128, seed 1, real Fashion-MNIST) and one
# Markdown table of test accuracy per epoch, for docs/optimizers.md. The
# runs are deterministic: the accuracies reproduce on any machine with the
# same build (the seconds do not, and are not printed).
#
# Optimizers that cannot step every tensor alone run in the split the
# reference recommends: muon on the 2-D weights, adamw on the rest. gd takes
# one full-batch step per epoch (5 steps in all). Methods (lbfgs, sdlm, sophia,
# kfac, hf, newton_cg) have their own comparisons in docs/optimizers.md.
#
# Usage: tools/optimizer_table.sh [DESCENT] [OUT_DIR] [EPOCHS] [NAME...]
#   NAME...  only these named optimizers (default: every one)
set -euo pipefail
descent=${1:-build/descent}
out=${2:-optimizer-table}
epochs=${3:-5}
[ -x "$descent" ] || { echo "optimizer_table.sh: no program at $descent (build first)" >&2; exit 1; }
mkdir -p "$out"
shift $(($# < 3 ? $# : 3))
names=${*:-}
[ -n "$names" ] || names=$("$descent" optimizers | sed -n '/^Named optimizers/,/^[A-Z]/p' |
    sed -n 's/^  \([a-z_][a-z_0-9]*\) .*/\1/p')
printf '| optimizer | --opt | lr |'
for ((e = 1; e <= epochs; e++)); do printf ' epoch %d |' "$e"; done
printf '\n|---|---|---|'
for ((e = 1; e <= epochs; e++)); do printf -- '---|'; done
printf '\n'
for name in $names; do
    opt=$name
    [ "$name" = muon ] && opt='muon @ weight:2d ; adamw @ *'
    run="$out/$name"
    rm -rf "$run"
    status=ok
    "$descent" train --opt "$opt" --epochs "$epochs" --threads 2 --quiet --keep 0 --out "$run" \
        >"$out/$name.log" 2>&1 || status=stopped
    grep -q 'diverged at step' "$out/$name.log" && status=diverged
    # The rate the chain took: lr(lr=X), or the rate argument of a transform
    # that takes it itself (sf, rprop, asgd, prodigy, ...).
    lr=$(sed -n 's/^optimizer .*[( ]lr=\([0-9.e+-]*\)[,)].*/\1/p' "$run/config.txt" 2>/dev/null |
        head -n 1)
    printf '| %s | `%s` | %s |' "$name" "$opt" "${lr:-default}"
    for ((e = 1; e <= epochs; e++)); do
        acc=$(awk -F, -v e="$e" 'NR > 1 && $1 == e { printf "%.2f%%", 100 * $9 }' \
            "$run/metrics.csv" 2>/dev/null)
        printf ' %s |' "${acc:-${status}}"
    done
    printf '\n'
done
