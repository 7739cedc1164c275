#!/usr/bin/env bash
# runs.sh - a run's folder belongs to one run, and nothing in it is lost:
#  - a new run refuses a folder that holds anything (a model, a log, a
#    checkpoint), and takes an empty or new one;
#  - the folder is locked for the whole run: a second trainer on it, and a
#    --resume while it runs, exit 1 naming the holder's pid (the process
#    that holds the lock, not the pid the file holds), and the running run's
#    results stay intact; a .lock that is a link is refused, nothing is
#    written through it;
#  - every run has a random id (two runs with one seed differ); a checkpoint
#    copied in from another run, or whose name says another step than it
#    holds, is refused naming both values; a folder whose run-id file is
#    gone while its checkpoints have an id is refused, saying how to restore
#    it; a file that --resume skipped is moved aside (NAME.skipped, bytes
#    kept), never overwritten when the run reaches its step, and a newer
#    format version refuses the folder;
#  - parameters that turn NaN or Inf at an epoch's end never replace a good
#    model.bin; a failed write of model.bin names the file and the reason;
#  - the divergence hint never suggests a rate that is not finite;
#  - options that cannot work are refused (--limit beyond the data, --keep 0
#    with --checkpoint-every, a network whose width is not the class count),
#    and a warmup longer than the run is noted.
#
# usage: runs.sh DESCENT_BINARY SCRATCH_DIR
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

# 256 + 64 random 8x8 images, labels 0..9 in turn: 8 steps per epoch.
data=$scratch/data
dataset "$data" 256 64
base=(train --quiet --threads 1 --data-dir "$data" --batch-size 32)
train() { "$descent" "${base[@]}" --model 'dense(10)' "$@"; }
# lacks PATTERN FILE: no line of FILE matches PATTERN.
lacks() { ! grep -q "$1" "$2"; }

# ---- a folder that holds anything is refused ----
for file in model.bin config.txt steps.csv ckpt-3.dsc; do
  mkdir -p "$scratch/old-$file"
  echo "an old run's $file" >"$scratch/old-$file/$file"
  expect_error "non-empty-$file" 1 "already exists; choose another --out" \
    train --epochs 1 --out "$scratch/old-$file"
  check "non-empty-$file: names the file" grep -qF "it holds '$file'" "$scratch/non-empty-$file.err"
  check "non-empty-$file: the file keeps its bytes" \
    test "$(cat "$scratch/old-$file/$file")" = "an old run's $file"
  check "non-empty-$file: nothing written beside it" \
    test "$(ls "$scratch/old-$file")" = "$file"
done
# A .lock planted as a link (to a file, or to where none is yet): refused,
# and nothing is written through it.
echo "precious" >"$scratch/precious"
mkdir -p "$scratch/linked" "$scratch/dangling"
ln -s "$scratch/precious" "$scratch/linked/.lock"
ln -s "$scratch/nothing-here" "$scratch/dangling/.lock"
for name in linked dangling; do
  expect_error "lock-$name" 1 "the lock file '$scratch/$name/.lock' is not a regular file (a symbolic link); remove it" \
    train --epochs 1 --out "$scratch/$name"
  check "lock-$name: nothing written beside the link" test "$(ls -A "$scratch/$name")" = .lock
done
check "lock-linked: the link's target keeps its bytes" test "$(cat "$scratch/precious")" = precious
check "lock-dangling: no file made where the link points" test ! -e "$scratch/nothing-here"
expect_error lock-linked-resume 1 "is not a regular file (a symbolic link)" \
  train --resume "$scratch/linked"
mkdir -p "$scratch/empty"
train --epochs 1 --out "$scratch/empty" >/dev/null 2>&1
check "an empty existing folder is taken" test $? -eq 0
train --epochs 1 --out "$scratch/new/deeper" >/dev/null 2>&1
check "a new folder is made" test -f "$scratch/new/deeper/model.bin"
# A folder left by a refused or finished run holds its lock file: a resume
# takes it, a new run still refuses the folder for its other files.
train --resume "$scratch/empty" --epochs 2 >/dev/null 2>&1
check "a resume is not refused for the lock file" test $? -eq 0

# ---- one writer per folder ----
# wait_for_lock FILE PID: until FILE names PID as the lock's holder (10 s at
# most).
wait_for_lock() {
  for _ in $(seq 200); do
    [ "$(cat "$1" 2>/dev/null)" = "$2" ] && return 0
    sleep 0.05
  done
  return 1
}
locked=$scratch/locked
# Long enough to outlast the checks below; bounded, should one of them fail.
timeout 120 "$descent" "${base[@]}" --model 'dense(10)' --epochs 5000 --out "$locked" \
  >"$scratch/locked.log" 2>"$scratch/locked.err" &
wrapper=$!
holder=
for _ in $(seq 100); do
  holder=$(pgrep -P "$wrapper" -x "$descent_process") && break
  sleep 0.05
done
trap 'kill "$wrapper" 2>/dev/null' EXIT
check "the first trainer holds the lock (pid $holder)" wait_for_lock "$locked/.lock" "$holder"
expect_error second-writer 1 "is in use by another descent train (pid $holder holds the lock" \
  timeout 60 "$descent" "${base[@]}" --model 'dense(10)' --epochs 1 --out "$locked"
expect_error resume-during-run 1 "is in use by another descent train (pid $holder holds the lock" \
  timeout 60 "$descent" "${base[@]}" --resume "$locked"
check "the first trainer still runs" kill -0 "$holder"
kill -TERM "$holder"
wait "$wrapper"
rc=$?
check "the first trainer stops on SIGTERM (exit status $rc, want 143)" test "$rc" -eq 143
step=$(sed -n 's/.* at step \([0-9]*\);.*/\1/p' "$scratch/locked.err")
check "its results are intact: the checkpoint of step ${step:-?} verifies" \
  "$descent" checkpoint verify "$locked/ckpt-$step.dsc"
check "its results are intact: one row per step in steps.csv" \
  test "$(($(wc -l <"$locked/steps.csv") - 1))" -eq "${step:-0}"
check "its results are intact: model.bin loads" \
  "$descent" eval --data-dir "$data" --threads 1 --model-file "$locked/model.bin"

# The holder is named from the lock itself, not from the file: until a run
# is under way the file still names the run before it, long gone. Here a
# lock is held (by flock(1)) on a folder whose file names its finished run.
held=$scratch/held
train --epochs 1 --out "$held" >/dev/null 2>&1
if command -v flock >/dev/null; then
  flock "$held/.lock" sleep 60 &
  flocker=$!
  for _ in $(seq 100); do
    grep -q "FLOCK .* $flocker " /proc/locks && break
    sleep 0.05
  done
  cp "$held/.lock" "$scratch/held-lock-before"
  expect_error held-resume 1 "is in use by another descent train (pid $flocker holds the lock" \
    train --resume "$held" --epochs 2
  check "held-resume: the lock file keeps its bytes" cmp -s "$scratch/held-lock-before" "$held/.lock"
  pkill -P "$flocker"
  kill "$flocker"
  wait "$flocker" 2>/dev/null
else
  echo "SKIP held-resume: no flock program to hold a lock with"
fi

# ---- run identity ----
train --epochs 3 --out "$scratch/run-a" >/dev/null 2>&1
train --epochs 1 --out "$scratch/run-b" >/dev/null 2>&1
id_a=$(cat "$scratch/run-a/run-id")
id_b=$(cat "$scratch/run-b/run-id")
check "two runs with one seed have different ids ($id_a, $id_b)" \
  test -n "$id_a" -a -n "$id_b" -a "$id_a" != "$id_b"
cp "$scratch/run-a/ckpt-24.dsc" "$scratch/run-b/ckpt-24.dsc"
expect_error foreign-verify 1 "ckpt-24.dsc belongs to run $id_a, but its folder's run is $id_b" \
  "$descent" checkpoint verify "$scratch/run-b/ckpt-24.dsc"
cp "$scratch/run-b/ckpt-8.dsc" "$scratch/run-b/ckpt-99.dsc"
expect_error misnamed-verify 1 "ckpt-99.dsc holds step 8, but its name says step 99" \
  "$descent" checkpoint verify "$scratch/run-b/ckpt-99.dsc"
train --resume "$scratch/run-b" --epochs 2 >"$scratch/run-b.log" 2>&1
check "resume: exits 0" test $? -eq 0
check "resume: takes its own newest checkpoint" grep -q "^resume .*/ckpt-8.dsc: step 8" "$scratch/run-b.log"
check "resume: skips the misnamed file, naming both steps" \
  grep -q "skipped .*ckpt-99.dsc holds step 8, but its name says step 99" "$scratch/run-b.log"
check "resume: skips the other run's file, naming both ids" \
  grep -q "skipped .*ckpt-24.dsc belongs to run $id_a, but its folder's run is $id_b" "$scratch/run-b.log"
check "resume: the other run's file is moved aside, its bytes kept" \
  cmp -s "$scratch/run-a/ckpt-24.dsc" "$scratch/run-b/ckpt-24.dsc.skipped"
check "resume: and said so" \
  grep -q "moved ckpt-24.dsc aside to ckpt-24.dsc.skipped" "$scratch/run-b.log"
check "resume: the misnamed file too" cmp -s "$scratch/run-b/ckpt-8.dsc" "$scratch/run-b/ckpt-99.dsc.skipped"
# A skipped file is never overwritten when the resumed run reaches its step:
# b's file of step 24 in a's folder is moved aside with its bytes, and a's
# run writes its own.
train --epochs 3 --out "$scratch/run-c" >/dev/null 2>&1
cp "$scratch/run-c/ckpt-24.dsc" "$scratch/run-a/ckpt-24.dsc"
train --resume "$scratch/run-a" --epochs 4 >"$scratch/foreign-at-step.log" 2>&1
check "foreign-at-step: exits 0" test $? -eq 0
check "foreign-at-step: resumed from its own step 16" \
  grep -q "^resume .*/ckpt-16.dsc: step 16" "$scratch/foreign-at-step.log"
check "foreign-at-step: the other run's file keeps its bytes" \
  cmp -s "$scratch/run-c/ckpt-24.dsc" "$scratch/run-a/ckpt-24.dsc.skipped"
check "foreign-at-step: its own checkpoint of step 24 verifies" \
  "$descent" checkpoint verify "$scratch/run-a/ckpt-24.dsc"
# A reason that holds "; " is shown whole, on its line (a damaged container
# version: byte 8 of the file).
cp "$scratch/run-b/ckpt-8.dsc" "$scratch/run-b/ckpt-40.dsc"
printf '\x00' | dd of="$scratch/run-b/ckpt-40.dsc" bs=1 seek=8 conv=notrunc 2>/dev/null
train --resume "$scratch/run-b" --epochs 2 >"$scratch/run-b2.log" 2>&1
check "resume: a reason holding '; ' is shown whole" \
  grep -q "^ *skipped .*ckpt-40.dsc: format version 0; this descent reads version 1\$" "$scratch/run-b2.log"
# A newer container version (byte 8 beyond this program's) is not skipped:
# the folder is refused, and the file keeps its bytes.
cp "$scratch/run-b/ckpt-8.dsc" "$scratch/newer-ckpt"
printf '\x63' | dd of="$scratch/newer-ckpt" bs=1 seek=8 conv=notrunc 2>/dev/null
cp "$scratch/newer-ckpt" "$scratch/run-b/ckpt-40.dsc"
expect_error newer-container 1 "ckpt-40.dsc: format version 99; this descent reads version 1 (the file comes from a newer descent); '$scratch/run-b' is a run of a newer descent" \
  train --resume "$scratch/run-b" --epochs 2
check "newer-container: the file keeps its bytes" cmp -s "$scratch/newer-ckpt" "$scratch/run-b/ckpt-40.dsc"
# A folder whose run-id file was deleted, while its checkpoints have an id:
# not taken for a run from before run ids (that would turn every identity
# check off); refused, saying how to restore the file, which then resumes.
train --epochs 1 --out "$scratch/lost-id" >/dev/null 2>&1
id_lost=$(cat "$scratch/lost-id/run-id")
rm "$scratch/lost-id/run-id"
cp "$scratch/run-b/ckpt-16.dsc" "$scratch/lost-id/ckpt-16.dsc" # another run's, newer
expect_error lost-run-id 1 "$scratch/lost-id/run-id is missing, but $scratch/lost-id/ckpt-16.dsc belongs to run $id_b; if that is this run, restore the file with: echo $id_b > $scratch/lost-id/run-id" \
  train --resume "$scratch/lost-id" --epochs 2
check "lost-run-id: the other run's file keeps its bytes" \
  cmp -s "$scratch/run-b/ckpt-16.dsc" "$scratch/lost-id/ckpt-16.dsc"
rm "$scratch/lost-id/ckpt-16.dsc"
expect_error lost-run-id-own 1 "restore the file with: echo $id_lost > $scratch/lost-id/run-id" \
  train --resume "$scratch/lost-id" --epochs 2
echo "$id_lost" >"$scratch/lost-id/run-id"
train --resume "$scratch/lost-id" --epochs 2 >/dev/null 2>&1
check "lost-run-id: resumes once the file is restored" test $? -eq 0

# ---- non-finite parameters never reach model.bin ----
# The rate is multiplied by 1e300 after step 15, the last of epoch 2: the
# parameters are NaN or Inf when epoch 2 ends, before any batch sees them.
blowup=(--lr 'step(0.05, 15, gamma=1e300)')
train "${blowup[@]}" --epochs 1 --out "$scratch/finite" >/dev/null 2>&1
expect_error non-finite 1 "the parameters hold NaN or Inf after step 16" \
  train "${blowup[@]}" --epochs 3 --out "$scratch/non-finite"
check "non-finite: model.bin keeps the bytes of epoch 1" \
  cmp -s "$scratch/finite/model.bin" "$scratch/non-finite/model.bin"
check "non-finite: no checkpoint after epoch 1" test ! -e "$scratch/non-finite/ckpt-16.dsc"
check "non-finite: one row in metrics.csv" test "$(wc -l <"$scratch/non-finite/metrics.csv")" -eq 2

# ---- a failed write of model.bin ----
train --epochs 1 --out "$scratch/blocked" >/dev/null 2>&1
rm "$scratch/blocked/model.bin" && mkdir "$scratch/blocked/model.bin"
expect_error model-write 1 "model.bin': Is a directory" train --resume "$scratch/blocked" --epochs 2

# ---- the divergence hint ----
# The rate grows to 5e298 at step 2 and to infinity at step 3.
expect_error infinite-rate 1 "with learning rate inf; the learning rate is not finite" \
  train --lr 'step(0.05, 1, gamma=1e300)' --out "$scratch/infinite"
check "infinite-rate: no rate of inf or nan suggested" \
  lacks "try inf\|try nan\|try -nan" "$scratch/infinite-rate.err"

# ---- options that cannot work ----
expect_error limit-beyond 2 "--limit 1000: the training set has only 256 examples" \
  train --limit 1000 --out "$scratch/limit"
check "limit-beyond: no folder made" test ! -e "$scratch/limit"
expect_error keep-0-every 2 "--checkpoint-every 5 with --keep 0" \
  train --keep 0 --checkpoint-every 5 --out "$scratch/keep0"
expect_error too-wide 1 "the data has 10 classes but the network has 12 outputs" \
  "$descent" "${base[@]}" --model 'dense(12)' --out "$scratch/wide"
expect_error too-narrow 1 "the network has 3 outputs but the data has 10 classes" \
  "$descent" "${base[@]}" --model 'dense(3)' --loss mse --out "$scratch/narrow"
train --lr 'constant(0.05, warmup=100)' --epochs 2 --out "$scratch/warmup" >"$scratch/warmup.log" 2>&1
check "a warmup longer than the run is noted" \
  grep -q "^note .*warmup of 100 steps is longer than the run's 16 steps" "$scratch/warmup.log"

finish
