#!/usr/bin/env bash
# errors.sh - bad input to the descent program: each case must print exactly
# one line on stderr naming the problem, exit with 1 or 2 (never 0, never a
# signal), and leave no partial output behind.
#
# usage: errors.sh DESCENT_BINARY SCRATCH_DIR
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

# Pixels are zeros here: the data only has to load.
idx_pixels=/dev/zero

train() { "$descent" train --quiet --epochs 1 --out "$scratch/run-$1" "${@:2}"; }

# Options.
expect_error unknown-command error "unknown command 'trian'" "$descent" trian
expect_error unknown-option error "unknown option '--learning-rate'" "$descent" train --learning-rate 0.1
expect_error missing-value error "option --lr needs a value" "$descent" train --lr
expect_error malformed-number error "--epochs: 'ten' is not a non-negative whole number" "$descent" train --epochs ten
expect_error out-of-range error "--batch-size: 0 is out of range" "$descent" train --batch-size 0
expect_error negative-number error "--seed: '-3' is not a non-negative whole number" "$descent" train --seed -3
expect_error duplicate-option error "option --epochs given twice" "$descent" train --epochs 1 --epochs 2
expect_error stray-argument error "unexpected argument 'fast'" "$descent" train fast
expect_error unknown-loss error "unknown loss 'hinge'" "$descent" train --loss hinge
expect_error unknown-preprocess error "unknown preprocessing 'whiten'" "$descent" train --preprocess whiten

# Files.
dataset "$scratch/good" 10 4 4 4 # labels 0..9: ten classes
expect_error missing-dir error "install Debian's dataset-fashion-mnist package" train missing --data-dir "$scratch/nowhere"
mkdir -p "$scratch/empty"
expect_error missing-file error "no train-images-idx3-ubyte.gz or train-images-idx3-ubyte" train missing-file --data-dir "$scratch/empty"

# A label the network has no output for: named with its file and example.
dataset "$scratch/label255" 10 4 4 4
printf '\xff' | dd of="$scratch/label255/train-labels-idx1-ubyte" bs=1 seek=$((8 + 6)) conv=notrunc status=none
expect_error label-255 error "label255/train-labels-idx1-ubyte: label 255 of example 6 (counted from 0) is outside the valid range 0 to 9" \
  train label255 --data-dir "$scratch/label255" --model 'dense(10)'

dataset "$scratch/truncated" 8 4 4 4
images "$scratch/truncated/train-images-idx3-ubyte" 8 4 4 100
expect_error truncated error "file truncated: header declares 144 bytes, file holds 116" train truncated --data-dir "$scratch/truncated"

dataset "$scratch/truncated-gz" 8 4 4 4
gzip -c "$scratch/good/train-images-idx3-ubyte" | head -c 30 >"$scratch/truncated-gz/train-images-idx3-ubyte.gz"
rm "$scratch/truncated-gz/train-images-idx3-ubyte"
expect_error truncated-gz error "train-images-idx3-ubyte.gz" train truncated-gz --data-dir "$scratch/truncated-gz"

dataset "$scratch/magic" 8 4 4 4
printf 'P5\n4 4\n255\n' >"$scratch/magic/train-images-idx3-ubyte"
head -c 160 /dev/zero >>"$scratch/magic/train-images-idx3-ubyte"
expect_error wrong-magic error "not an IDX file" train magic --data-dir "$scratch/magic"

dataset "$scratch/count" 8 4 4 4
labels "$scratch/count/train-labels-idx1-ubyte" 7
expect_error count-mismatch error "7 labels, but" train count --data-dir "$scratch/count"

dataset "$scratch/overflow" 8 4 4 4
{ printf '\x00\x00\x08\x03'; be32 4294967295; be32 4294967295; be32 4294967295; } >"$scratch/overflow/train-images-idx3-ubyte"
expect_error overflow error "overflow" train overflow --data-dir "$scratch/overflow"

dataset "$scratch/huge" 8 4 4 4
{ printf '\x00\x00\x08\x03'; be32 1000000; be32 1000; be32 1000; head -c 84 /dev/zero; } >"$scratch/huge/train-images-idx3-ubyte"
expect_error huge-claim error "header declares 1000000000016 bytes, file holds 100" train huge --data-dir "$scratch/huge"

# Model and optimizer.
expect_error unknown-layer error "unknown layer 'conv9'" train layer --data-dir "$scratch/good" --model 'dense(32), conv9, dense(10)'
expect_error mlp-width error "does not match the data's 16 features" train width --data-dir "$scratch/good" --model mlp:784-10
expect_error unknown-optimizer error "unknown optimizer or transform 'adamm'" train opt --data-dir "$scratch/good" --model 'dense(10)' --opt adamm
expect_error bad-lr error "learning rate 'fast': not a number or a known schedule" train lr --data-dir "$scratch/good" --model 'dense(10)' --lr fast
expect_error too-few-outputs error "network has 3 outputs" train outputs --data-dir "$scratch/good" --model 'dense(3)'

# Numbers are decimal; what a double cannot hold is out of range.
expect_error hex-lr error "learning rate '0x10': not a decimal number" train hex-lr --data-dir "$scratch/good" --model 'dense(10)' --lr 0x10
expect_error tiny-lr error "learning rate '1e-320': out of range: a double holds 0 or a magnitude from" train tiny-lr --data-dir "$scratch/good" --model 'dense(10)' --lr 1e-320
expect_error min-lr-above-lr error "min_lr=0.5 is above lr=0.1" train min-lr --data-dir "$scratch/good" --model 'dense(10)' --lr 'cosine(0.1, 10, min_lr=0.5)'
expect_error plus-number error "--seed: '+3' is not a non-negative whole number" "$descent" train --seed +3
expect_error hex-number error "--epochs: '0x10' is not a non-negative whole number" "$descent" train --epochs 0x10
expect_error huge-number error "--seed: '99999999999999999999999' is out of range; valid values are 0 to 18446744073709551615" "$descent" train --seed 99999999999999999999999
expect_error huge-size error "--epochs: '99999999999999999999999' is out of range; valid values are 1 to" "$descent" train --epochs 99999999999999999999999

# A long spec keeps its reason; control characters never reach the terminal
# raw (the message stays one line).
long_spec="dense(10),$(printf '%5000s' '')dense(10))"
expect_error long-spec error "model spec: unbalanced ')' at character 5020 of" train long --data-dir "$scratch/good" --model "$long_spec"
expect_error newline-in-spec error "control character at character 18 of 'dense(10, init=he\\nx)'" train newline --data-dir "$scratch/good" --model $'dense(10, init=he\nx)'
expect_error newline-in-option error "unknown option '--lr\\nx'" "$descent" train $'--lr\nx' 0.1
expect_error newline-in-number error "--epochs: '1\\n2' is not a non-negative whole number" "$descent" train --epochs $'1\n2'
expect_error named-in-chain error "'sgd' is a named optimizer and cannot appear inside a chain; write its chain instead: lr(lr=0.001)" train chain --data-dir "$scratch/good" --model 'dense(10)' --opt 'clip(1) | sgd'
# Muon takes matrices only: a network's biases are refused, named, with the fix.
expect_error muon-bias error "tensor 1 (layer1.dense.bias): it is 1-D (a bias, or a norm's scale), and transform newton_schulz takes only matrices (2-D, or conv kernels read as out x in*kh*kw): use parameter groups: muon for the 2-D weights, adamw for the rest" train muon --data-dir "$scratch/good" --model 'dense(64), relu, dense(10)' --opt muon
check "muon-bias: no run folder left behind" test ! -e "$scratch/run-muon"
# Shampoo: a first preconditioned step before the first recomputation.
expect_error shampoo-start error "shampoo: start_preconditioning_step = 2 is below precondition_frequency = 5: pass start_preconditioning_step >= precondition_frequency (or -1)" train shampoo --data-dir "$scratch/good" --model 'dense(10)' --opt 'shampoo(precondition_frequency=5, start_preconditioning_step=2)'
check "shampoo-start: no run folder left behind" test ! -e "$scratch/run-shampoo"
# SOAP's merge_dims is not built: refused with the fix, nothing written.
expect_error soap-merge-dims error "soap: merge_dims=1 is not built: leave merge_dims=0" train soap --data-dir "$scratch/good" --model 'dense(10)' --opt 'soap(merge_dims=1)'
check "soap-merge-dims: no run folder left behind" test ! -e "$scratch/run-soap"
# Parameter groups: --no-decay needs a named optimizer with weight decay;
# every tensor needs a group.
expect_error no-decay-without-decay error "--no-decay: --opt lbfgs has no weight decay" train nodecay --data-dir "$scratch/good" --model 'dense(10)' --opt lbfgs --no-decay bias,norm
expect_error no-decay-method error "--no-decay: --opt sophia is a method (it evaluates the objective itself), which takes no parameter groups: its weight_decay applies to every tensor" train nodecay-method --data-dir "$scratch/good" --model 'dense(10)' --opt sophia --no-decay bias
expect_error sophia-gamma error "sophia(gamma=0): out of range; valid values are (0, inf)" train sophia-gamma --data-dir "$scratch/good" --model 'dense(10)' --opt 'sophia(gamma=0)'
expect_error no-decay-chain error "--no-decay needs a named optimizer (adamw, sgd, ...); --opt 'adam | lr(0.1)' is a chain" train nodecay-chain --data-dir "$scratch/good" --model 'dense(10)' --opt 'adam | lr(0.1)' --no-decay bias
expect_error group-unmatched error "tensor layer1.dense.bias matches no group's selector" train groups --data-dir "$scratch/good" --model 'dense(10)' --opt 'adam @ weight'
expect_error group-unmatched-lr-find error "group 2 (sgd @ bias) matches no tensor" "$descent" lr-find --data-dir "$scratch/good" --model 'dense(10)' --opt 'adam @ * ; sgd @ bias' --out "$scratch/lrf-groups"

# A diverging run stops with a diagnosis.
mkdir -p "$scratch/noisy"
{ printf '\x00\x00\x08\x03'; be32 64; be32 4; be32 4; head -c 1024 /dev/urandom; } >"$scratch/noisy/train-images-idx3-ubyte"
labels "$scratch/noisy/train-labels-idx1-ubyte" 64
cp "$scratch/noisy/train-images-idx3-ubyte" "$scratch/noisy/t10k-images-idx3-ubyte"
cp "$scratch/noisy/train-labels-idx1-ubyte" "$scratch/noisy/t10k-labels-idx1-ubyte"
expect_error diverged error "diverged at step" train diverge --data-dir "$scratch/noisy" --model 'mlp:16-64-64-10' --lr 1e6 --batch-size 8

# An existing run is never overwritten.
"$descent" train --quiet --model 'dense(10)' --epochs 1 --data-dir "$scratch/good" --out "$scratch/kept" >/dev/null 2>&1
before=$(md5sum <"$scratch/kept/metrics.csv")
expect_error existing-run error "already exists; choose another --out" "$descent" train --quiet --model 'dense(10)' --epochs 1 --data-dir "$scratch/good" --out "$scratch/kept"
count=$((count + 1))
if [ "$(md5sum <"$scratch/kept/metrics.csv")" != "$before" ]; then
  echo "FAIL existing-run: metrics.csv was changed"; failures=$((failures + 1))
fi

finish
