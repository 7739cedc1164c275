#!/usr/bin/env bash
# train_smoke.sh - descent train on real Fashion-MNIST (5,000 examples, two
# epochs): the run must finish, write one CSV row per epoch, and learn (test
# accuracy above 75%; chance is 10%). Also checks that the same seed gives the
# same metrics bit for bit, and that a validation split is reported.
#
# usage: train_smoke.sh DESCENT_BINARY SCRATCH_DIR
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

run() {
  "$descent" train --limit 5000 --val 500 --epochs 2 --lr 0.1 --threads 2 --seed 3 --out "$1" \
    >"$1.log" 2>&1
}
run "$scratch/a"
check "first run exits 0" test $? -eq 0
run "$scratch/b"
check "second run exits 0" test $? -eq 0
check "two rows of metrics plus the header" test "$(wc -l <"$scratch/a/metrics.csv")" -eq 3
acc=$(tail -n 1 "$scratch/a/metrics.csv" | cut -d, -f9)
check "test accuracy $acc above 0.75" awk -v a="$acc" 'BEGIN { exit !(a > 0.75) }'
val=$(tail -n 1 "$scratch/a/metrics.csv" | cut -d, -f7)
check "validation accuracy $val above 0.70" awk -v a="$val" 'BEGIN { exit !(a > 0.70) }'
# samples/s differ between runs; every other column must not.
strip() { cut -d, -f1-9 "$1"; }
check "same seed, same metrics" cmp -s <(strip "$scratch/a/metrics.csv") <(strip "$scratch/b/metrics.csv")
check "resolved configuration printed" grep -q "^optimizer   sgd = lr(lr=0.1)" "$scratch/a.log"
check "config.txt written" grep -q "4500 train, 500 validation, 10000 test" "$scratch/a/config.txt"
finish
