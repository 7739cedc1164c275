#!/usr/bin/env bash
# sweep.sh - descent sweep end to end on a small Fashion-MNIST problem: a
# grid's summary (rows, ranks, parameter columns), every trial bit for bit
# equal to a standalone descent train with the same options, opt.KEY merged
# into the optimizer, a {NAME} placeholder, the quasi-random samplers, a
# trial that fails and one that diverges (the sweep goes on), a second sweep
# refused by the lock, and the errors, each in one line.
#
# usage: sweep.sh DESCENT_BINARY SCRATCH_DIR
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=sweep_lib.sh
source "$(dirname "$0")/sweep_lib.sh"

# --- A grid: 2 rates x 2 optimizers -----------------------------------------
g=$scratch/grid
sweep --out "$g" --param lr=0.01,0.1 --param opt=sgd,adam -- "${small[@]}" --epochs 2 \
  >"$scratch/grid.out" 2>"$scratch/grid.err"
check "grid: exits 0" test $? -eq 0
check "grid: header" test "$(head -1 "$g/summary.csv")" = \
  "rank,trial,status,seed,p.lr,p.opt,epochs,train_loss,val_loss,val_acc,test_loss,test_acc,train_seconds,metric,dir"
check "grid: 4 rows" test "$(($(wc -l <"$g/summary.csv") - 1))" -eq 4
check "grid: the product of the lists, first parameter slowest" test \
  "$(tail -n +2 "$g/summary.csv" | cut -d, -f2,5,6 | tr '\n' ' ')" = \
  "1,0.01,sgd 2,0.01,adam 3,0.1,sgd 4,0.1,adam "
check "grid: every trial done after 2 epochs" test \
  "$(tail -n +2 "$g/summary.csv" | cut -d, -f3,7 | sort -u)" = "done,2"
check "grid: ranks 1..4" test "$(column "$g/summary.csv" rank | sort -n | tr '\n' ' ')" = "1 2 3 4 "
# The ranks follow val_acc (the default metric with --val), best first.
ranked=$(tail -n +2 "$g/summary.csv" | sort -t, -k1,1n | cut -d, -f10 | tr '\n' ' ')
check "grid: ranked by val_acc, highest first ($ranked)" \
  test "$ranked" = "$(tail -n +2 "$g/summary.csv" | cut -d, -f10 | sort -gr | tr '\n' ' ')"
check "grid: metric is val_acc" test "$(column "$g/summary.csv" metric)" = "$(column "$g/summary.csv" val_acc)"
check "grid: the ranked table printed" grep -q "4 trials: 4 done, 0 stopped" "$g/../grid.out"
check "grid: a progress line per trial" test "$(grep -c '^trial-000[1-4] done' "$scratch/grid.err")" -eq 4
check "grid: each trial logged" test -s "$g/logs/trial-0003.log"
check "grid: sweep.txt holds the command line" grep -q "^command descent sweep .*--out $g --param lr=0.01,0.1 --param opt=sgd,adam -- " "$g/sweep.txt"

# --- Each trial equals a standalone run -------------------------------------
for t in 1 2 3 4; do
  lr=$(sed -n "$((t + 1))p" "$g/summary.csv" | cut -d, -f5)
  opt=$(sed -n "$((t + 1))p" "$g/summary.csv" | cut -d, -f6)
  train --epochs 2 --lr "$lr" --opt "$opt" --seed 1 --out "$scratch/alone-$t" >/dev/null 2>&1
  check "trial $t (lr $lr, $opt) equals descent train alone, bit for bit" \
    same_metrics "$scratch/alone-$t/metrics.csv" "$g/trial-000$t/metrics.csv"
  check "trial $t: the same model" cmp -s "$scratch/alone-$t/model.bin" "$g/trial-000$t/model.bin"
done
seconds=$(awk -F, 'NR > 1 { s += $11 } END { printf "%.9g", s }' "$g/trial-0002/metrics.csv")
check "train_seconds is the sum over the epochs ($seconds)" \
  test "$(sed -n 3p "$g/summary.csv" | cut -d, -f13)" = "$seconds"

# --- opt.KEY, a placeholder, seeds, quasi-random samplers --------------------
k=$scratch/keys
sweep --out "$k" --param opt.momentum=0.5,0.9 --param lr=0.05 --seeds 3,4 \
  -- "${small[@]}" --epochs 1 --opt "sgd(nesterov=1)" >/dev/null 2>&1
check "opt.KEY: 2 configurations x 2 seeds" test "$(column "$k/summary.csv" seed | tr '\n' ' ')" = "3 4 3 4 "
check "opt.KEY merged into the optimizer given after --" \
  grep -q "sgd(nesterov=1, momentum=0.9)" "$k/trial-0004/config.txt"
check "--seeds: the trial's seed" grep -q "seed 4" "$k/trial-0004/config.txt"
p=$scratch/placeholder
sweep --out "$p" --param lr=0.2 -- "${small[@]}" --epochs 1 --lr "step(lr={lr}, step_size=5)" \
  >/dev/null 2>&1
check "{lr} filled in the schedule" grep -q "lr(lr=step(lr=0.2, step_size=5," "$p/logs/trial-0001.log"
q=$scratch/sobol
sweep --out "$q" --sampler sobol --trials 3 --param lr=log:0.001:1 --param batch-size=64,128 \
  -- "${small[@]}" --epochs 1 >/dev/null 2>&1
# Sobol points 1..3 in 2 dimensions: (0.5, 0.5), (0.75, 0.25), (0.25, 0.75).
check "sobol: points 1..3 mapped onto the space" test \
  "$(tail -n +2 "$q/summary.csv" | cut -d, -f5,6 | tr '\n' ' ')" = \
  "0.0316228,128 0.177828,64 0.00562341,128 "

# --- A trial that fails, one that diverges: the sweep goes on ----------------
f=$scratch/fail
sweep --out "$f" --param lr=0.05,1e6 --param model=mlp:784-32-10,nonsense -- --limit 2000 \
  --epochs 1 --val 500 >"$scratch/fail.out" 2>"$scratch/fail.err"
check "failures: the sweep exits 0" test $? -eq 0
check "failures: statuses" test "$(column "$f/summary.csv" status | tr '\n' ' ')" = \
  "done failed diverged failed "
check "failures: the failed trial's log named" \
  grep -q "trial-0002 failed (exit status 1); see $f/logs/trial-0002.log" "$scratch/fail.err"
check "failures: no rank nor metric for them" test \
  "$(tail -n +2 "$f/summary.csv" | cut -d, -f1,14 | tr '\n' ' ')" = "1,$(column "$f/summary.csv" val_acc | head -1) nan,nan nan,nan nan,nan "

# --- The lock ---------------------------------------------------------------
l=$scratch/locked
"$descent" sweep --out "$l" --param lr=0.01,0.02,0.03 --threads-per-trial 1 -- "${small[@]}" --epochs 1 >/dev/null 2>&1 &
pid=$!
for _ in $(seq 50); do [ -s "$l/sweep.txt" ] && break; sleep 0.1; done
expect_error lock error "is in use by another descent sweep (pid $pid)" \
  "$descent" sweep --resume "$l"
wait $pid

# --- Errors ------------------------------------------------------------------
e=$scratch/new
expect_error unknown_option 2 "'descent train' has no option --momentum" \
  sweep --out "$e" --param momentum=0.9
expect_error bad_space 2 "--param lr=log:1:0.1: LO must be below HI" \
  sweep --out "$e" --param lr=log:1:0.1
expect_error bad_number 2 "--param lr=lin:a:1: LO and HI must be numbers" \
  sweep --out "$e" --param lr=lin:a:1
expect_error empty_item 2 "the list has an empty item" sweep --out "$e" --param opt=sgd,,adam
expect_error empty_space 2 "the space is empty; give --param NAME=SPACE or --space FILE" \
  sweep --out "$e"
expect_error no_count 2 "the grid needs a point count on a range, e.g. lr=log:1e-3:1:5" \
  sweep --out "$e" --param lr=log:1e-3:1
expect_error twice 2 "--lr is swept and also given after --" \
  sweep --out "$e" --param lr=0.1 -- --lr 0.2
expect_error own_option 2 "drop --out; the sweep sets it" sweep --out "$e" --param lr=0.1 -- --out x
expect_error no_val 2 "--metric val_acc needs a validation set" \
  sweep --out "$e" --param lr=0.1 --metric val_acc
printf 'lr=0.1\n# a comment\n\nwarmup=1,2\n' >"$scratch/space.txt"
expect_error space_file 2 "--space $scratch/space.txt, line 4: warmup: 'descent train' has no option" \
  sweep --out "$e" --space "$scratch/space.txt"
expect_error out_not_empty 1 "--out $g is not empty; choose a new folder, or continue that sweep" \
  sweep --out "$g" --param lr=0.1
mkdir -p "$scratch/plain" && echo text >"$scratch/plain/notes.txt"
expect_error not_a_sweep 1 "--resume $scratch/plain: not a sweep's folder" \
  "$descent" sweep --resume "$scratch/plain"
check "not_a_sweep: the folder left as it was" test "$(ls -A "$scratch/plain")" = notes.txt
expect_error grid_trials 2 "--trials is for --sampler random, sobol or halton" \
  sweep --out "$e" --param lr=0.1 --trials 5
expect_error sobol_seed 2 "--sample-seed is for --sampler random; sobol draws no random numbers" \
  sweep --out "$e" --param lr=lin:0:1 --sampler sobol --sample-seed 3
expect_error sobol_dims 2 "--sampler sobol draws in at most 21 dimensions (22 parameters)" \
  sweep --out "$e" --sampler sobol $(for i in $(seq 22); do printf -- '--param opt.k%d=0,1 ' "$i"; done)
expect_error swept_twice 2 "lr is swept twice" sweep --out "$e" --param lr=0.1 --param lr=0.2
expect_error resume_alone 2 "--resume DIR takes no other option" "$descent" sweep --resume "$g" --jobs 3
check "errors: nothing created" test ! -e "$e"
expect_error halving_bad 2 "--halving 4,2: MIN_EPOCHS must be below" \
  sweep --out "$e" --param lr=0.1 --halving 4,2 -- --epochs 4
finish
