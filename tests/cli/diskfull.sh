#!/usr/bin/env bash
# diskfull.sh - a run whose disk fills up: on a 400 KiB tmpfs the growing
# checkpoints (each holds every step's loss) soon no longer fit. The run must
# fail with one line naming the file and ENOSPC's text, leave no temporary
# file, and its newest checkpoint must verify and resume, elsewhere, to the
# same bits as a run that never failed.
#
# Mounting needs root and a private mount namespace (unshare -m); where that
# is not permitted the test prints SKIP and why, and CTest counts it as skipped.
#
# usage: diskfull.sh DESCENT_BINARY SCRATCH_DIR
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

# 256 + 64 random 8x8 images, labels 0..9 in turn: 8 steps per epoch.
data=$scratch/data
dataset "$data" 256 64
options=(train --quiet --threads 1 --data-dir "$data" --model 'dense(64), relu, dense(10)'
  --opt momentum --lr 0.01 --batch-size 32)
mnt=$scratch/mnt
mkdir -p "$mnt"

# shellcheck disable=SC2016 # expanded by the inner shell
if ! unshare -m sh -c 'mount -t tmpfs -o size=64k tmpfs "$1" && umount "$1"' _ "$mnt" 2>/dev/null; then
  skip_all "cannot mount a tmpfs in a private mount namespace here (needs root and unshare -m)"
fi

# In a private namespace the mount vanishes with the shell, whatever happens;
# it is unmounted explicitly too.
# shellcheck disable=SC2016 # expanded by the inner shell
unshare -m bash -c '
  mnt=$1 scratch=$2
  shift 2
  mount -t tmpfs -o size=400k tmpfs "$mnt" || exit 3
  "$@" --epochs 100000 --checkpoint-every 4 --out "$mnt/run" >"$scratch/full.log" 2>"$scratch/full.err"
  echo $? >"$scratch/full.rc"
  ls -A "$mnt/run" >"$scratch/full.files"
  cp -a "$mnt/run" "$scratch/run"
  umount "$mnt"
' _ "$mnt" "$scratch" "$descent" "${options[@]}"
check "the tmpfs was mounted and unmounted" test -f "$scratch/full.rc" -a -z "$(ls -A "$mnt")"
check "the run fails (exit status $(cat "$scratch/full.rc"), want 1)" test "$(cat "$scratch/full.rc")" = 1
check "one line on stderr: $(cat "$scratch/full.err")" test "$(wc -l <"$scratch/full.err")" -eq 1
check "it names the file" grep -q "^descent train: cannot write '$mnt/run/ckpt-[0-9]*\.dsc" "$scratch/full.err"
check "and the reason" grep -q "No space left on device$" "$scratch/full.err"
check "no temporary file left" test -z "$(grep '\.tmp' "$scratch/full.files")"

"$descent" checkpoint verify "$scratch/run" >"$scratch/verify.log" 2>&1
check "the newest checkpoint verifies" test $? -eq 0
step=$(sed -n 's/^ok          .*: step \([0-9]*\),.*/\1/p' "$scratch/verify.log")
epochs=$((${step:-0} / 8 + 2))
"$descent" train --resume "$scratch/run" --epochs "$epochs" >/dev/null 2>&1
check "resumed from step $step to $epochs epochs, exits 0" test $? -eq 0
"$descent" "${options[@]}" --epochs "$epochs" --out "$scratch/straight" >/dev/null 2>&1
check "same model as a run that never failed" cmp -s "$scratch/straight/model.bin" "$scratch/run/model.bin"
check "same losses at every step" cmp -s "$scratch/straight/steps.csv" "$scratch/run/steps.csv"

finish
