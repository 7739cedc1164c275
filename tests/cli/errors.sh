#!/usr/bin/env bash
# errors.sh - bad input to the descent program: each case must print exactly
# one line on stderr naming the problem, exit with 1 or 2 (never 0, never a
# signal), and leave no partial output behind.
#
# usage: errors.sh DESCENT_BINARY SCRATCH_DIR
set -u
descent=$1
scratch=$2
rm -rf "$scratch" && mkdir -p "$scratch"
failures=0
count=0

# expect_error NAME PHRASE COMMAND...
expect_error() {
  local name=$1 phrase=$2
  shift 2
  count=$((count + 1))
  local out="$scratch/$name.out" err="$scratch/$name.err"
  "$@" >"$out" 2>"$err"
  local rc=$?
  local lines
  lines=$(wc -l <"$err")
  if [ "$rc" -eq 0 ] || [ "$rc" -ge 128 ]; then
    echo "FAIL $name: exit status $rc (want 1 or 2)"; cat "$err"; failures=$((failures + 1)); return
  fi
  if ! grep -qF -- "$phrase" "$err"; then
    echo "FAIL $name: stderr lacks '$phrase':"; cat "$err"; failures=$((failures + 1)); return
  fi
  if [ "$lines" -ne 1 ]; then
    echo "FAIL $name: $lines lines on stderr, want one:"; cat "$err"; failures=$((failures + 1)); return
  fi
  echo "ok   $name: $(cat "$err")"
}

# IDX files written byte by byte. be32 N: four big-endian bytes.
be32() { printf "\\x$(printf %02x $(($1 >> 24 & 255)))\\x$(printf %02x $(($1 >> 16 & 255)))\\x$(printf %02x $(($1 >> 8 & 255)))\\x$(printf %02x $(($1 & 255)))"; }
images() { # images FILE N ROWS COLS [DATA_BYTES]
  local n=$2 r=$3 c=$4 bytes=${5:-$(($2 * $3 * $4))}
  { printf '\x00\x00\x08\x03'; be32 "$n"; be32 "$r"; be32 "$c"; head -c "$bytes" /dev/zero; } >"$1"
}
labels() { # labels FILE N: labels 0, 1, ..., 9, 0, 1, ...
  { printf '\x00\x00\x08\x01'; be32 "$2"; for i in $(seq 0 $(($2 - 1))); do printf "\\x0$((i % 10))"; done; } >"$1"
}
dataset() { # dataset DIR: a valid tiny data set of 4x4 images
  mkdir -p "$1"
  images "$1/train-images-idx3-ubyte" 8 4 4
  labels "$1/train-labels-idx1-ubyte" 8
  images "$1/t10k-images-idx3-ubyte" 4 4 4
  labels "$1/t10k-labels-idx1-ubyte" 4
}

train() { "$descent" train --quiet --epochs 1 --out "$scratch/run-$1" "${@:2}"; }

# Options.
expect_error unknown-command "unknown command 'trian'" "$descent" trian
expect_error unknown-option "unknown option '--learning-rate'" "$descent" train --learning-rate 0.1
expect_error missing-value "option --lr needs a value" "$descent" train --lr
expect_error malformed-number "--epochs: 'ten' is not a non-negative whole number" "$descent" train --epochs ten
expect_error out-of-range "--batch-size: 0 is out of range" "$descent" train --batch-size 0
expect_error negative-number "--seed: '-3' is not a non-negative whole number" "$descent" train --seed -3
expect_error duplicate-option "option --epochs given twice" "$descent" train --epochs 1 --epochs 2
expect_error stray-argument "unexpected argument 'fast'" "$descent" train fast
expect_error unknown-loss "unknown loss 'hinge'" "$descent" train --loss hinge
expect_error unknown-preprocess "unknown preprocessing 'whiten'" "$descent" train --preprocess whiten

# Files.
dataset "$scratch/good"
expect_error missing-dir "install Debian's dataset-fashion-mnist package" train missing --data-dir "$scratch/nowhere"
mkdir -p "$scratch/empty"
expect_error missing-file "no train-images-idx3-ubyte.gz or train-images-idx3-ubyte" train missing-file --data-dir "$scratch/empty"

dataset "$scratch/truncated"
images "$scratch/truncated/train-images-idx3-ubyte" 8 4 4 100
expect_error truncated "file truncated: header declares 144 bytes, file holds 116" train truncated --data-dir "$scratch/truncated"

dataset "$scratch/truncated-gz"
gzip -c "$scratch/good/train-images-idx3-ubyte" | head -c 30 >"$scratch/truncated-gz/train-images-idx3-ubyte.gz"
rm "$scratch/truncated-gz/train-images-idx3-ubyte"
expect_error truncated-gz "train-images-idx3-ubyte.gz" train truncated-gz --data-dir "$scratch/truncated-gz"

dataset "$scratch/magic"
printf 'P5\n4 4\n255\n' >"$scratch/magic/train-images-idx3-ubyte"
head -c 160 /dev/zero >>"$scratch/magic/train-images-idx3-ubyte"
expect_error wrong-magic "not an IDX file" train magic --data-dir "$scratch/magic"

dataset "$scratch/count"
labels "$scratch/count/train-labels-idx1-ubyte" 7
expect_error count-mismatch "7 labels, but" train count --data-dir "$scratch/count"

dataset "$scratch/overflow"
{ printf '\x00\x00\x08\x03'; be32 4294967295; be32 4294967295; be32 4294967295; } >"$scratch/overflow/train-images-idx3-ubyte"
expect_error overflow "overflow" train overflow --data-dir "$scratch/overflow"

dataset "$scratch/huge"
{ printf '\x00\x00\x08\x03'; be32 1000000; be32 1000; be32 1000; head -c 84 /dev/zero; } >"$scratch/huge/train-images-idx3-ubyte"
expect_error huge-claim "header declares 1000000000016 bytes, file holds 100" train huge --data-dir "$scratch/huge"

# Model and optimizer.
expect_error unknown-layer "unknown layer 'conv9'" train layer --data-dir "$scratch/good" --model 'dense(32), conv9, dense(10)'
expect_error mlp-width "does not match the data's 16 features" train width --data-dir "$scratch/good" --model mlp:784-10
expect_error unknown-optimizer "unknown optimizer or transform 'adamm'" train opt --data-dir "$scratch/good" --model 'dense(10)' --opt adamm
expect_error bad-lr "learning rate 'fast': not a number or a known schedule" train lr --data-dir "$scratch/good" --model 'dense(10)' --lr fast
expect_error too-few-outputs "network has 3 outputs" train outputs --data-dir "$scratch/good" --model 'dense(3)'

# A diverging run stops with a diagnosis.
mkdir -p "$scratch/noisy"
{ printf '\x00\x00\x08\x03'; be32 64; be32 4; be32 4; head -c 1024 /dev/urandom; } >"$scratch/noisy/train-images-idx3-ubyte"
labels "$scratch/noisy/train-labels-idx1-ubyte" 64
cp "$scratch/noisy/train-images-idx3-ubyte" "$scratch/noisy/t10k-images-idx3-ubyte"
cp "$scratch/noisy/train-labels-idx1-ubyte" "$scratch/noisy/t10k-labels-idx1-ubyte"
expect_error diverged "diverged at step" train diverge --data-dir "$scratch/noisy" --model 'mlp:16-64-64-10' --lr 1e6 --batch-size 8

# An existing run is never overwritten.
"$descent" train --quiet --model 'dense(10)' --epochs 1 --data-dir "$scratch/good" --out "$scratch/kept" >/dev/null 2>&1
before=$(md5sum <"$scratch/kept/metrics.csv")
expect_error existing-run "already exists; choose another --out" "$descent" train --quiet --model 'dense(10)' --epochs 1 --data-dir "$scratch/good" --out "$scratch/kept"
count=$((count + 1))
if [ "$(md5sum <"$scratch/kept/metrics.csv")" != "$before" ]; then
  echo "FAIL existing-run: metrics.csv was changed"; failures=$((failures + 1))
fi

echo "$((count - failures)) passed, $failures failed"
[ "$failures" -eq 0 ]
