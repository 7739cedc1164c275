#!/usr/bin/env bash
# bench.sh - `descent bench` on a tiny plan (quadratic_deep for 20 epochs,
# sgd and adam, 2 trials and the defaults, one study): its files, its scores
# recomputed from its own results.csv by AlgoPerf's formula, a bench killed
# and continued with --resume (finished trials untouched, the same results
# as without the kill), and its refusals.
#
# usage: bench.sh DESCENT_BINARY SCRATCH_DIR
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

tiny=(--workloads quadratic_deep --optimizers "sgd,adam" --trials 2 --studies 1 --epochs 20
  --target 230)

"$descent" bench "${tiny[@]}" --jobs 2 --out "$scratch/b" >"$scratch/b.log" 2>&1
check "tiny bench exits 0" test $? -eq 0
check "bench.txt, results.csv, scores.csv written" \
  test -s "$scratch/b/bench.txt" -a -s "$scratch/b/results.csv" -a -s "$scratch/b/scores.csv"
check "one result file per trial (2 x (2 + 1))" \
  test "$(find "$scratch/b/results" -name '*.txt' | wc -l)" -eq 6
check "results.csv: a header and 6 trials" test "$(wc -l <"$scratch/b/results.csv")" -eq 7
check "scores.csv: both rulesets, both optimizers" test "$(wc -l <"$scratch/b/scores.csv")" -eq 5
check "a trial reached the target" grep -q ',done,20,[1-9]' "$scratch/b/results.csv"
check "the printed table" grep -q "external tuning: AlgoPerf scores" "$scratch/b.log"
# windows.csv: per optimizer, the external trials that reached the target
# (as results.csv counts them) and the decades their rates span.
check "windows.csv: a header and one row per optimizer" test "$(wc -l <"$scratch/b/windows.csv")" -eq 3
for o in sgd adam; do
  want=$(awk -F, -v o="$o" 'NR > 1 && $2 == o && $3 == "external" && $12 != "inf" { n++ }
    END { print n + 0 }' "$scratch/b/results.csv")
  got=$(awk -F, -v o="$o" '$1 == o { print $4 }' "$scratch/b/windows.csv")
  check "windows.csv: $o reached the target in $got of 2 trials, as results.csv says ($want)" \
    test "$got" = "$want"
  span=$(awk -F, -v o="$o" 'NR > 1 && $2 == o && $3 == "external" && $12 != "inf" {
    lr = $8 + 0; if (lo == "" || lr < lo) lo = lr; if (hi == "" || lr > hi) hi = lr }
    END { if (lo == "") print "nan"; else printf "%.6f", log(hi / lo) / log(10) }' "$scratch/b/results.csv")
  have=$(awk -F, -v o="$o" '$1 == o { v = $7; if (v == "nan") print "nan"; else printf "%.6f", v }' \
    "$scratch/b/windows.csv")
  check "windows.csv: $o's window spans $have decades, as results.csv's rates do ($span)" \
    test "$have" = "$span"
done
for r in external self; do
  check "profile-$r.csv and .gp" test -s "$scratch/b/profile-$r.csv" -a -s "$scratch/b/profile-$r.gp"
  if command -v gnuplot >/dev/null 2>&1; then
    check "profile-$r.png is a PNG" \
      test "$(head -c 4 "$scratch/b/profile-$r.png" | od -An -tx1 | tr -d ' ')" = 89504e47
  fi
done

# AlgoPerf's score from results.csv: per optimizer, the trial that reached
# the target at the earliest epoch (first on ties); times above 4x the best
# count as never; rho on 100 taus in [1, 4]; trapezoids summed left to
# right, divided by 3. Column numbers: 2 optimizer, 3 ruleset, 11
# target_epoch, 12 steps, 13 seconds.
expected_scores() { # RULESET COLUMN
  awk -F, -v rs="$1" -v col="$2" '
    NR > 1 && $3 == rs {
      if (!($2 in seen)) { seen[$2] = 1; order[n++] = $2; ep[$2] = 0; t[$2] = "inf" }
      if ($11 > 0 && (ep[$2] == 0 || $11 < ep[$2])) { ep[$2] = $11; t[$2] = $col }
    }
    END {
      best = -1
      for (i = 0; i < n; i++) if (t[order[i]] != "inf" && (best < 0 || t[order[i]] + 0 < best)) best = t[order[i]] + 0
      for (i = 0; i < n; i++) {
        o = order[i]; r = -1
        if (t[o] != "inf" && t[o] + 0 <= 4 * best) r = (t[o] + 0) / best
        sum = 0; step = 3 / 99
        for (k = 0; k < 99; k++) {
          a = 1 + k * step; b = (k == 98) ? 4 : 1 + (k + 1) * step
          ya = (r >= 0 && r <= a); yb = (r >= 0 && r <= b)
          sum += (b - a) * (ya + yb) / 2
        }
        printf "%s %.12f\n", o, sum / 3
      }
    }' "$scratch/b/results.csv"
}
scores_column() { # RULESET COLUMN
  awk -F, -v rs="$1" -v col="$2" 'NR > 1 && $2 == rs { printf "%s %.12f\n", $1, $col }' \
    "$scratch/b/scores.csv"
}
# same_scores A B: the same optimizers in the same order, each score equal
# to the 9 digits scores.csv keeps.
same_scores() {
  paste -d' ' <(echo "$1") <(echo "$2") |
    awk 'NF != 4 || $1 != $3 || ($2 - $4 > 1e-8) || ($4 - $2 > 1e-8) { bad = 1 } END { exit bad }'
}
for rs in external self; do
  check "$rs: score by time as AlgoPerf computes it from results.csv" \
    same_scores "$(expected_scores "$rs" 13)" "$(scores_column "$rs" 3)"
  check "$rs: score by steps as AlgoPerf computes it from results.csv" \
    same_scores "$(expected_scores "$rs" 12)" "$(scores_column "$rs" 4)"
done

# The rows without their timing columns (seconds to target, train seconds).
untimed() { cut -d, -f1-12,14,15,17 "$1/results.csv"; }

# Killed: SIGKILL to the bench and its trials at some point, then --resume.
setsid "$descent" bench "${tiny[@]}" --out "$scratch/k" >"$scratch/k.log" 2>&1 &
pid=$!
sleep 0.3
kill -9 -- "-$pid" 2>/dev/null
wait "$pid" 2>/dev/null
before=$(find "$scratch/k/results" -name '*.txt' | wc -l)
echo "killed with $before of 6 trials finished"
"$descent" bench --resume "$scratch/k" >"$scratch/k-resume.log" 2>&1
check "killed bench resumed: exit 0" test $? -eq 0
check "killed and resumed: the same results as the uninterrupted bench" \
  test "$(untimed "$scratch/b")" = "$(untimed "$scratch/k")"

# A bench stopped with finished trials and one cut short: only the missing
# trials run again, the finished ones' files stay as they were.
cp -r "$scratch/b" "$scratch/r"
rm "$scratch/r/results/quadratic_deep.adam.external.s0.t1.txt" \
  "$scratch/r/results/quadratic_deep.sgd.self.s0.t0.txt"
head -3 "$scratch/b/trials/quadratic_deep.adam.external.s0.t1/metrics.csv" \
  >"$scratch/r/trials/quadratic_deep.adam.external.s0.t1/metrics.csv"
stamp() { (cd "$scratch/r/results" && find . -name '*.txt' -exec stat -c '%n %i %Y %s' {} + | sort); }
kept=$(stamp)
"$descent" bench --resume "$scratch/r" >"$scratch/r.log" 2>&1
check "resume exits 0" test $? -eq 0
check "resume ran only the 2 missing trials" grep -q "6 trials in the plan, 2 to run" "$scratch/r.log"
check "finished trials untouched by the resume" \
  test "$(stamp | grep -v -e adam.external.s0.t1 -e sgd.self.s0.t0)" = "$kept"
check "resumed: the same results as the uninterrupted bench" \
  test "$(untimed "$scratch/b")" = "$(untimed "$scratch/r")"

# Refusals: one line each, nothing written.
expect_error unknown_workload 2 "unknown workload 'cifar'" \
  "$descent" bench --workloads cifar --out "$scratch/e1"
expect_error unknown_optimizer 2 "unknown optimizer 'adamx'; valid: sgd" \
  "$descent" bench --workloads quadratic_deep --optimizers adamx --out "$scratch/e2"
expect_error bad_ruleset 2 "valid rulesets are external, self, both" \
  "$descent" bench --workloads quadratic_deep --ruleset open --out "$scratch/e3"
expect_error not_empty 2 "is not empty" "$descent" bench "${tiny[@]}" --out "$scratch/b"
expect_error resume_nothing 2 "no bench.txt there" "$descent" bench --resume "$scratch/e1"
expect_error epochs_two 2 "name exactly one" \
  "$descent" bench --workloads quadratic_deep,fmnist_logreg --epochs 3 --out "$scratch/e4"
expect_error bad_target 2 "give a finite number" \
  "$descent" bench --workloads quadratic_deep --target abc --out "$scratch/e5"
expect_error no_data 2 "needs Fashion-MNIST" \
  "$descent" bench --workloads fmnist_logreg --data-dir "$scratch/nothing" --out "$scratch/e6"
check "refusals left no folder" test ! -e "$scratch/e1" -a ! -e "$scratch/e2" -a ! -e "$scratch/e4" -a ! -e "$scratch/e6"

finish
