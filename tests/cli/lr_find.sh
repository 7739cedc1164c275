#!/usr/bin/env bash
# lr_find.sh - `descent lr-find`: the files it writes (the curve, the script,
# the pictures) and nothing else, the curve's rates and smoothing, its
# suggestions printed, train's options taken the same way, and its errors:
# methods and full-batch optimizers refused, bad options, a folder that is
# not empty; each in one line, nothing written.
#
# usage: lr_find.sh DESCENT_BINARY SCRATCH_DIR
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

have_gnuplot=0
command -v gnuplot >/dev/null 2>&1 && have_gnuplot=1

# Pixels that tell the label (image i, of class i % 10, is bright on every
# tenth pixel from the (i % 10)-th, with a fixed ripple): the loss falls
# before it blows up, so both suggestions exist. Random pixels left that to
# chance: a curve that never fell has no steepest point, and failed the run.
idx_pixels=$scratch/pixels
perl -e 'for my $i (0 .. 511) { for my $j (0 .. 63) {
  print chr(($j % 10 == $i % 10 ? 180 : 40) + ($i * 7 + $j * 13) % 50) } }' >"$idx_pixels"
data=$scratch/data
dataset "$data" 512 64
base=(--data-dir "$data" --batch-size 32 --threads 1 --steps 40)
common=("${base[@]}" --model mlp:64-32-10 --start 1e-4 --end 100)

# ---- a run -------------------------------------------------------------------------
out=$scratch/cwd/found
(cd "$scratch" && "$descent" lr-find "${common[@]}" --opt momentum --out cwd/found \
  >"$scratch/run.out" 2>"$scratch/run.err")
check "lr-find exits 0" test $? -eq 0
check "nothing on stderr" test ! -s "$scratch/run.err"
expected="lr_find.csv lr_find.gp"
[ "$have_gnuplot" = 1 ] && expected="lr_find.csv lr_find.gp lr_find.png lr_find.svg"
check "it writes the curve, the script and the pictures, nothing else" \
  test "$(cd "$out" && ls | tr '\n' ' ')" = "$expected "
check "nothing else in the working folder (no runs/, no checkpoint)" \
  test "$(cd "$scratch" && ls | tr '\n' ' ')" = "cwd data pixels run.err run.out "
check "the curve's header" test "$(head -1 "$out/lr_find.csv")" = "step,lr,loss,smoothed"
# The rates grow exponentially from --start: lr_i = 1e-4 * 1e6^(i/39); the
# smoothed loss is the bias-corrected average with b = 0.98.
curve_ok() {
  awk -F, 'NR > 1 {
    i = $1; want = 1e-4 * exp(log(1e6) * i / 39)
    if (($2 - want) / want > 1e-6 || (want - $2) / want > 1e-6) { print "lr", i, $2, want; bad = 1 }
    if ($3 != "nan") { avg = 0.98 * avg + 0.02 * $3; s = avg / (1 - 0.98 ^ (i + 1))
      d = $4 - s; if (d < 0) d = -d; if (d > 1e-6 * (s < 0 ? -s : s) + 1e-7) { print "smoothed", i, $4, s; bad = 1 } }
    n++ }
    END { if (n < 5) { print "only", n, "rows"; bad = 1 } exit bad }' "$out/lr_find.csv"
}
check "rates exponential from --start, smoothing bias-corrected" curve_ok
check "prints both suggestions" grep -qE "^  steepest descent  [0-9.e+-]+ " "$scratch/run.out"
check "prints minimum / 10" grep -qE "^  minimum / 10      [0-9.e+-]+ " "$scratch/run.out"
check "explains them" grep -q "Train at a rate on the falling part" "$scratch/run.out"
check "the optimizer as train resolves it" grep -q "optimizer   momentum = " "$scratch/run.out"
if [ "$have_gnuplot" = 1 ]; then
  check "lr_find.png is a PNG" test "$(head -c 4 "$out/lr_find.png" | od -An -tx1 | tr -d ' ')" = 89504e47
  check "lr_find.svg is an SVG with a log axis" grep -q "<svg" "$out/lr_find.svg"
  said=$(cd "$out" && gnuplot lr_find.gp 2>&1 >/dev/null)
  check "gnuplot runs the script again without a word" test -z "$said"
fi
# The test changes nothing: two runs give the same curve (it starts from the
# same network, the same batches).
"$descent" lr-find "${common[@]}" --opt momentum --out "$scratch/again" >/dev/null 2>&1
check "the same curve again" cmp -s "$out/lr_find.csv" "$scratch/again/lr_find.csv"
# An empty folder is accepted.
mkdir -p "$scratch/empty"
"$descent" lr-find "${common[@]}" --opt "clip(1) | adam | lr(1e-3)" --out "$scratch/empty" \
  >/dev/null 2>&1
check "an empty --out folder, and a chain" test -s "$scratch/empty/lr_find.csv"

# ---- errors: one line, nothing written ----------------------------------------------
expect_error method 2 "--opt lbfgs is a method" \
  "$descent" lr-find "${common[@]}" --opt lbfgs --out "$scratch/e1"
expect_error hf 2 "--opt hf is a method" \
  "$descent" lr-find "${common[@]}" --opt hf --out "$scratch/e1"
expect_error full-batch 2 "use sgd" "$descent" lr-find "${common[@]}" --opt gd --out "$scratch/e1"
expect_error bad-start 2 "0 < start < end" \
  "$descent" lr-find "${base[@]}" --start 1 --end 0.1 --out "$scratch/e1"
expect_error bad-number 2 "--start: 'x' is not a finite number" \
  "$descent" lr-find "${base[@]}" --start x --out "$scratch/e1"
expect_error bad-smoothing 2 "[0, 1)" "$descent" lr-find "${common[@]}" --smoothing 1 --out "$scratch/e1"
expect_error bad-factor 2 "above 1" "$descent" lr-find "${common[@]}" --stop-factor 0.5 --out "$scratch/e1"
expect_error bad-steps 2 "--steps" "$descent" lr-find "${common[@]}" --steps 1 --out "$scratch/e1"
expect_error unknown-option 2 "--epochs" "$descent" lr-find "${common[@]}" --epochs 3 --out "$scratch/e1"
expect_error bad-model error "dense" \
  "$descent" lr-find "${base[@]}" --model "dense(" --out "$scratch/e1"
expect_error not-empty 2 "is not empty" "$descent" lr-find "${common[@]}" --out "$out"
check "no folder made by a refused command" test ! -e "$scratch/e1"
check "the earlier results untouched" cmp -s "$out/lr_find.csv" "$scratch/again/lr_find.csv"

finish
