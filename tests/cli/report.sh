#!/usr/bin/env bash
# report.sh - `descent report RUN`: on a real run (untracked) and on
# synthetic tracked ones, the pictures the files can fill (each script drawing
# without a warning), the page self-contained, the diagnosis, the run's own
# files untouched, the --out and --format rules; hostile run folders (a
# header of another program, NUL bytes, a line cut short, NaN and infinite
# values, odd column names) each refused in one line or reported with a note,
# never a crash; without gnuplot, the numbers and the page still come out.
#
# usage: report.sh DESCENT_BINARY SCRATCH_DIR
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=report_lib.sh
source "$(dirname "$0")/report_lib.sh"


# self_contained PAGE: no script, no address, nothing loaded from elsewhere.
self_contained() {
  ! grep -qiE "<script|https?:|src=|@import|url\([^#]|href=[\"'][^#]" "$1"
}

# ---- a real run, not tracked ------------------------------------------------
data=$scratch/data
dataset "$data" 256 64
run=$scratch/real
"$descent" train --quiet --threads 1 --data-dir "$data" --batch-size 32 --model mlp:64-16-10 \
  --epochs 3 --val 32 --out "$run" >"$scratch/train.log" 2>&1
check "a 3-epoch run trains" test $? -eq 0
before=$(fingerprint "$run")
"$descent" report "$run" >"$scratch/real.out" 2>"$scratch/real.err"
check "report on the real run exits 0" test $? -eq 0
check "nothing on stderr" test ! -s "$scratch/real.err"
check "the pictures of an untracked run" pictures_ok "$run/report" losses steps
check "no curvature, noise, alpha or layer pictures without diagnostics.csv" \
  test ! -e "$run/report/sharpness.gp" -a ! -e "$run/report/noise.gp" -a ! -e "$run/report/alpha.gp" \
  -a ! -e "$run/report/layers.gp"
check "says the run was not tracked and how to track it" \
  grep -q "note: no diagnostics.csv: the run was not tracked; train with --track all" "$scratch/real.out"
check "the page is there and self-contained" self_contained "$run/report/report.html"
if [ "$have_gnuplot" = 1 ]; then
  check "the page inlines both pictures" test "$(grep -c "<svg" "$run/report/report.html")" -eq 2
fi
check "the page holds the configuration and the diagnosis" \
  grep -q "mlp:64-16-10" "$run/report/report.html"
check "the run's own files are untouched" test "$before" = "$(fingerprint "$run")"
"$descent" report "$run" >/dev/null 2>&1
check "a second report replaces the first" test $? -eq 0
"$descent" train --resume "$run" --epochs 4 --quiet >"$scratch/resume.log" 2>&1
check "the run resumes with its report folder inside" test $? -eq 0

# ---- --out and --format ---------------------------------------------------------
echo "mine" >"$run/report/notes.txt"
expect_error out-stranger 1 "holds 'notes.txt', which is not a report's file" \
  "$descent" report "$run"
check "out-stranger: the stranger keeps its bytes" test "$(cat "$run/report/notes.txt")" = mine
check "out-stranger: the previous report is still there" test -s "$run/report/report.html"
expect_error out-is-run 1 "which is not a report's file" "$descent" report "$run" --out "$run"
check "out-is-run: the run's files are untouched" test "$(fingerprint "$run")" != "" -a \
  -s "$run/metrics.csv" -a -s "$run/model.bin"
"$descent" report "$run" --out "$scratch/elsewhere/deep" --format png >/dev/null 2>&1
check "--out a new nested folder, --format png" test $? -eq 0 -a -e "$scratch/elsewhere/deep/losses.gp" \
  -a ! -e "$scratch/elsewhere/deep/report.html" -a ! -e "$scratch/elsewhere/deep/losses.svg"
"$descent" report "$run" --out "$scratch/html-only" --format html >/dev/null 2>&1
check "--format html: the page, its SVGs inlined and not left beside it" \
  test $? -eq 0 -a -s "$scratch/html-only/report.html" -a ! -e "$scratch/html-only/losses.svg" \
  -a ! -e "$scratch/html-only/losses.png"
expect_error format-unknown 2 "unknown format 'pdf'; valid: png, svg, html" \
  "$descent" report "$run" --format png,pdf
expect_error format-empty 2 "give one or more of png, svg, html" "$descent" report "$run" --format ,
expect_error no-run 2 "which run?" "$descent" report
expect_error unknown-option 2 "unknown option" "$descent" report "$run" --colour red
"$descent" report --help >"$scratch/help.out" 2>&1
check "--help describes the command" grep -q "usage: descent report RUN" "$scratch/help.out"

# ---- synthetic tracked runs -------------------------------------------------------
synthetic_run "$scratch/tracked" tracked
"$descent" report "$scratch/tracked" >"$scratch/tracked.out" 2>&1
check "report on a tracked run exits 0" test $? -eq 0
check "every picture of a tracked run" \
  pictures_ok "$scratch/tracked/report" losses steps sharpness noise alpha layers
check "a healthy tracked run: no rule fires" \
  grep -q "none of the rules found trouble" "$scratch/tracked.out"
check "every instrument tracked: no note about it" bash -c "! grep -q 'not tracked' '$scratch/tracked.out'"
if [ "$have_gnuplot" = 1 ]; then
  check "the page inlines six pictures" test "$(grep -c "<svg" "$scratch/tracked/report/report.html")" -eq 6
fi
check "the tracked page is self-contained" self_contained "$scratch/tracked/report/report.html"
synthetic_run "$scratch/edge" edge
"$descent" report "$scratch/edge" >"$scratch/edge.out" 2>&1
check "the edge of stability is diagnosed, with its number" \
  grep -qE "^\* sharpness has sat at 1.00x its stability limit \(2/lr = 100 .*edge of stability" \
  "$scratch/edge.out"

# ---- hostile run folders ----------------------------------------------------------
expect_error not-a-folder 1 "is not a folder" "$descent" report "$scratch/nothing-here"
mkdir -p "$scratch/empty"
expect_error empty-folder 1 "neither metrics.csv nor steps.csv: not a run folder" \
  "$descent" report "$scratch/empty"
check "empty-folder: no report folder made" test ! -e "$scratch/empty/report"
hostile() { # hostile NAME: a synthetic tracked run to damage
  synthetic_run "$scratch/h-$1" "${2:-tracked}"
  echo "$scratch/h-$1"
}
h=$(hostile header)
printf 'time,value\n1,2\n' >"$h/metrics.csv"
expect_error wrong-header 1 "metrics.csv: the header lacks the column 'epoch'" "$descent" report "$h"
h=$(hostile nul)
printf 'step,epoch,lr,loss\n1,1\0000.1,2\n' >"$h/steps.csv"
expect_error nul-byte 1 "steps.csv holds a NUL byte" "$descent" report "$h"
h=$(hostile dir)
rm "$h/diagnostics.csv" && mkdir "$h/diagnostics.csv"
expect_error csv-is-a-folder 1 "diagnostics.csv" "$descent" report "$h"
h=$(hostile empty-file)
: >"$h/steps.csv"
expect_error empty-file 1 "steps.csv is empty" "$descent" report "$h"
h=$(hostile cut)
head -c -7 "$h/diagnostics.csv" >"$h/d" && mv "$h/d" "$h/diagnostics.csv"
echo "1,2,3" >>"$h/steps.csv"
"$descent" report "$h" >"$scratch/cut.out" 2>&1
check "a line cut short and a malformed line: exit 0" test $? -eq 0
check "the line cut short is noted" grep -q "diagnostics.csv: its last line is cut short" "$scratch/cut.out"
check "the malformed line is noted" \
  grep -q "steps.csv: 1 malformed line left out (the first: line 2002, 3 fields where the header has 4)" \
  "$scratch/cut.out"
# Every value NaN, infinite, negative or huge, and names that are not names.
h=$(hostile values)
awk -F, -v OFS=, 'NR == 1 { $22 = "x\"<b>&\\\\y.grad_norm"; print; next }
  { for (i = 6; i <= NF; i++) $i = (NR % 4 == 0 ? "nan" : NR % 4 == 1 ? "inf" : NR % 4 == 2 ? "-1e308" : "-inf"); print }' \
  "$h/diagnostics.csv" >"$h/d" && mv "$h/d" "$h/diagnostics.csv"
"$descent" report "$h" >"$scratch/values.out" 2>&1
check "NaN, infinite and negative values everywhere: exit 0" test $? -eq 0
check "odd column names are escaped on the page" bash -c "! grep -q '<b>&' '$h/report/report.html'"
check "the page with odd names is self-contained" self_contained "$h/report/report.html"
h=$(hostile one-row)
head -2 "$h/diagnostics.csv" >"$h/d" && mv "$h/d" "$h/diagnostics.csv"
head -2 "$h/metrics.csv" >"$h/m" && mv "$h/m" "$h/metrics.csv"
head -2 "$h/steps.csv" >"$h/s" && mv "$h/s" "$h/steps.csv"
"$descent" report "$h" >"$scratch/one-row.out" 2>&1
check "one row in each file: exit 0" test $? -eq 0
check "one row: the pictures draw without a warning" \
  pictures_ok "$h/report" losses steps sharpness noise alpha layers
h=$(hostile header-only)
head -1 "$h/diagnostics.csv" >"$h/d" && mv "$h/d" "$h/diagnostics.csv"
head -1 "$h/metrics.csv" >"$h/m" && mv "$h/m" "$h/metrics.csv"
"$descent" report "$h" >"$scratch/header-only.out" 2>&1
check "headers only: exit 0, the steps still drawn" test $? -eq 0 -a -e "$h/report/steps.gp" \
  -a ! -e "$h/report/losses.gp" -a ! -e "$h/report/sharpness.gp"
h=$(hostile partial)
cut -d, -f1-5,19-21 "$h/diagnostics.csv" >"$h/d" && mv "$h/d" "$h/diagnostics.csv"
"$descent" report "$h" >"$scratch/partial.out" 2>&1
check "alpha alone: the note names what was not tracked and how to track it" \
  grep -q "not tracked: sharpness,ggn,negative,noise,layers; train with --track sharpness,ggn,negative,noise,layers" \
  "$scratch/partial.out"
check "alpha alone: its picture and no other of the instruments'" \
  test -e "$h/report/alpha.gp" -a ! -e "$h/report/sharpness.gp" -a ! -e "$h/report/noise.gp"

# ---- without gnuplot ----------------------------------------------------------------
synthetic_run "$scratch/plain" untracked
env PATH=/nonexistent "$descent" report "$scratch/plain" >"$scratch/plain.out" 2>"$scratch/plain.err"
check "without gnuplot: exit 0, nothing on stderr" test $? -eq 0 -a ! -s "$scratch/plain.err"
check "without gnuplot: one line says how to get the pictures" \
  test "$(grep -c "pictures skipped: install gnuplot (apt-get install gnuplot-nox)" "$scratch/plain.out")" -eq 1
check "without gnuplot: the page, the scripts, no picture" \
  test -s "$scratch/plain/report/report.html" -a -s "$scratch/plain/report/losses.gp" \
  -a ! -e "$scratch/plain/report/losses.png"

finish
