#!/usr/bin/env bash
# report_sweep.sh - `descent report SWEEP`: on a small real sweep (trial
# folders of descent train, summary.csv written here as the contract says)
# the report's files and pictures, the trials untouched; on made-up
# summaries whose answers are known, the tuning windows (accuracy and loss
# metrics, medians over seeds), the best trials, trials that diverged,
# failed or stopped; a sweep without p.lr (a linear axis) and one with no
# numeric parameter; malformed summaries refused in one line, nothing
# written.
#
# usage: report_sweep.sh DESCENT_BINARY SCRATCH_DIR
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=report_lib.sh
source "$(dirname "$0")/report_lib.sh"


self_contained() { ! grep -qiE "<script|https?:|src=|@import|url\([^#]|href=[\"'][^#]" "$1"; }

# ---- a real sweep --------------------------------------------------------------------
data=$scratch/data
dataset "$data" 2048 64
sweep=$scratch/real
mkdir -p "$sweep"
echo "metric   val_acc" >"$sweep/sweep.txt"
header="rank,trial,status,seed,p.lr,p.opt,epochs,train_loss,val_loss,val_acc,test_loss,test_acc"
echo "$header,train_seconds,metric,dir" >"$sweep/summary.csv.rows"
trial=0
for run in "sgd 0.01 1" "sgd 0.1 1" "sgd 0.1 2" "adam 0.001 1"; do
  read -r opt lr seed <<<"$run"
  trial=$((trial + 1))
  name=$(printf "trial-%04d" "$trial")
  "$descent" train --quiet --threads 1 --data-dir "$data" --model mlp:64-16-10 --batch-size 64 \
    --limit 2000 --val 200 --epochs 2 --keep 0 --opt "$opt" --lr "$lr" --seed "$seed" \
    --out "$sweep/$name" >"$scratch/$name.log" 2>&1
  check "$name trains" test $? -eq 0
  # The last epoch's numbers, train_seconds summed over the epochs.
  awk -F, -v t="$trial" -v opt="$opt" -v lr="$lr" -v seed="$seed" -v dir="$name" 'NR > 1 {
    s += $11; last = $0; split($0, f, ",") }
    END { printf "nan,%d,done,%s,%s,%s,%s,%s,%s,%s,%s,%s,%.9g,%s,%s\n", t, seed, lr, opt, f[1], f[4], f[6], f[7], f[8], f[9], s, f[7], dir }' \
    "$sweep/$name/metrics.csv" >>"$sweep/summary.csv.rows"
done
mkdir -p "$sweep/trial-0005"
echo "nan,5,diverged,1,3,sgd,1,nan,nan,nan,nan,nan,0.1,nan,trial-0005" >>"$sweep/summary.csv.rows"
mv "$sweep/summary.csv.rows" "$sweep/summary.csv"
before=$(fingerprint "$sweep")
"$descent" report "$sweep" >"$scratch/real.out" 2>"$scratch/real.err"
check "report on a real sweep exits 0" test $? -eq 0
check "nothing on stderr" test ! -s "$scratch/real.err"
check "the sensitivity and learning pictures" pictures_ok "$sweep/report" sensitivity learning
check "the data files" test -s "$sweep/report/sweep-points.csv" -a -s "$sweep/report/sweep-marks.csv" \
  -a -s "$sweep/report/sweep-curves.csv"
check "the page, self-contained" self_contained "$sweep/report/report.html"
check "the page inlines the pictures" test "$(grep -c "<svg" "$sweep/report/report.html")" -eq $((2 * have_gnuplot))
check "the trials untouched" test "$before" = "$(fingerprint "$sweep")"
check "one line per optimizer's best trial" \
  test "$(grep -cE "^  (sgd|adam): trial-000[1-4] lr=" "$scratch/real.out")" -eq 2
check "the diverged trial counted" grep -q "1 diverged" "$scratch/real.out"
check "the log axis named" grep -q "x axis lr (log scale)" "$scratch/real.out"
# The learning curves are the best trials' own metrics.csv rows.
best=$(sed -n 's/^  sgd: \(trial-[0-9]*\) .*/\1/p' "$scratch/real.out")
curve_ok() {
  awk -F, 'NR > 1 { printf "%.6g,%.6g\n", $1, $4 }' "$sweep/$best/metrics.csv" >"$scratch/want"
  awk -v b="$best" '/^# / { on = ($3 == b) } on && !/^#/ && NF { split($0, f, ","); printf "%.6g,%.6g\n", f[1], f[3] }' \
    "$sweep/report/sweep-curves.csv" >"$scratch/got"
  cmp -s "$scratch/want" "$scratch/got"
}
check "the learning curve of sgd's best trial is its metrics.csv" curve_ok
"$descent" report "$sweep" >/dev/null 2>&1
check "a second report replaces the first" test $? -eq 0

# ---- made-up summaries: the windows --------------------------------------------------
synthetic_sweep "$scratch/made"
"$descent" report "$scratch/made" --out "$scratch/made-report" >"$scratch/made.out" 2>&1
check "report on a made-up sweep" test $? -eq 0
check "sgd's best trial and its numbers" \
  grep -qF "  sgd: trial-0001 lr=0.01 seed=1 | val_acc 0.9 | test_acc 0.89 | 3 s" "$scratch/made.out"
check "sgd's window: 0.01 to 0.1, x10, 1 decade" \
  grep -qF "tuning window (lr within 1% of its best): x10 (1.00 decades), 0.01 to 0.1" "$scratch/made.out"
check "adam's window: its best value alone, at the edge" \
  grep -qF "tuning window (lr within 1% of its best): only the best value 0.001, at the sweep's edge" \
  "$scratch/made.out"
check "statuses counted" grep -qF "trials: 2 done, 1 stopped, 0 diverged, 1 failed, 0 pending" "$scratch/made.out"
check "the pictures of the made-up sweep" pictures_ok "$scratch/made-report" sensitivity learning

# A loss metric, three seeds per rate: the medians decide (0.5 best at 0.01;
# 0.503 at 0.003 and median 0.504 at 0.03 within 1.01 x; median 0.52 at 0.1
# and 0.6 at 0.001 outside): 0.003 to 0.03, x10.
loss=$scratch/loss
mkdir -p "$loss"
echo "metric val_loss" >"$loss/sweep.txt"
{
  echo "rank,trial,status,seed,p.lr,epochs,train_loss,val_loss,val_acc,test_loss,test_acc,train_seconds,metric,dir"
  n=0
  for row in "0.001 0.6" "0.003 0.503" "0.01 0.5" "0.03 0.504" "0.03 0.9" "0.03 0.5" "0.1 0.505" \
    "0.1 0.52" "0.1 0.53"; do
    read -r lr v <<<"$row"
    n=$((n + 1))
    echo "nan,$n,done,$n,$lr,2,0.4,$v,0.8,$v,0.8,1,$v,trial-$(printf %04d $n)"
  done
} >"$loss/summary.csv"
"$descent" report "$loss" >"$scratch/loss.out" 2>&1
check "report on a loss metric" test $? -eq 0
check "lower is better for a loss" grep -qF "(val_loss, lower is better)" "$scratch/loss.out"
check "the loss window from medians: 0.003 to 0.03" \
  grep -qF "x10 (1.00 decades), 0.003 to 0.03" "$scratch/loss.out"
check "no learning curves without trial folders, said in a note" \
  grep -q "note: all trials's best trial trial-0003 has no readable metrics.csv" "$scratch/loss.out"

# No p.lr: the first numeric parameter, on a linear axis.
mom=$scratch/momentum
mkdir -p "$mom"
{
  echo "rank,trial,status,seed,p.opt,p.momentum,epochs,train_loss,val_loss,val_acc,test_loss,test_acc,train_seconds,metric,dir"
  echo "2,1,done,1,momentum,0.5,2,0.5,0.6,0.85,0.6,0.85,2,0.85,trial-0001"
  echo "1,2,done,1,momentum,0.9,2,0.4,0.5,0.88,0.5,0.87,2,0.88,trial-0002"
  echo "3,3,done,1,momentum,0.99,2,0.7,0.8,0.7,0.8,0.7,2,0.7,trial-0003"
} >"$mom/summary.csv"
"$descent" report "$mom" >"$scratch/mom.out" 2>&1
check "report on a sweep of momentum" test $? -eq 0
check "its x axis: momentum, linear" grep -qE "x axis momentum$" "$scratch/mom.out"
check "its window, linear: the best value alone" grep -qF "only the best value 0.9" "$scratch/mom.out"
check "higher is better from the ranks" grep -qF "(metric, higher is better)" "$scratch/mom.out"
# No numeric parameter at all: the trial number.
cat=$scratch/categorical
mkdir -p "$cat"
cut -d, -f1-5,7- "$mom/summary.csv" >"$cat/summary.csv"
"$descent" report "$cat" >"$scratch/cat.out" 2>&1
check "report on a sweep of optimizers only" test $? -eq 0
check "its x axis: the trial number" grep -q "x axis the trial number" "$scratch/cat.out"

# ---- malformed summaries: one line, exit 1, nothing written -------------------------
bad() {
  local name=$1 phrase=$2
  mkdir -p "$scratch/bad-$name"
  cat >"$scratch/bad-$name/summary.csv"
  expect_error "bad-$name" 1 "$phrase" "$descent" report "$scratch/bad-$name"
  check "bad-$name: no report written" test ! -e "$scratch/bad-$name/report"
}
head="rank,trial,status,seed,p.lr,epochs,train_loss,val_loss,val_acc,test_loss,test_acc,train_seconds,metric,dir"
printf 'rank,trial,status,seed,epochs\n' | bad few-columns "line 1: too few columns in the header"
printf '%s\n' "${head/p.lr/lr}" | bad not-param "a parameter column is not p.NAME: lr"
printf '%s\n' "${head/status/state}" | bad header-word "unexpected column: state"
printf '%s\n1,1,done,1,0.1,2,0.5\n' "$head" | bad width "line 2: a row of the wrong width"
printf '%s\n1,1,finished,1,0.1,2,0.5,0.5,0.9,0.5,0.9,1,0.9,trial-0001\n' "$head" |
  bad status "an unknown status: 'finished' (valid: done, stopped, diverged, failed, pending)"
printf '%s\n1,1,done,1,0.1,2,0.5,0.5,0.9,0.5,0.9,1,high,trial-0001\n' "$head" |
  bad number "metric 'high' is not a number"
printf '%s\n' "$head" | bad empty "no trial yet"
printf '%s\n1,1,do\0ne\n' "$head" | bad nul "a NUL byte"
printf '%s\n1,1,"done,1\n' "$head" | bad quote "a row of the wrong width"

finish
