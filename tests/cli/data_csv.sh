#!/usr/bin/env bash
# data_csv.sh - descent train --data with each scheme. A Fashion-MNIST subset
# (6,000 training and 1,000 test images) exported as CSV and as IDX files
# (tests/data_export.c, which checks that both read back bit-identical)
# trains to the same metrics and the same model file from either source,
# for an MLP and, with shape=1x28x28, a CNN; descent eval reads the same
# source; a resumed run refuses another source and takes the same one
# spelled otherwise. A generated LIBSVM file trains, with a test file of
# fewer indices. Every malformed source is refused in one line with
# nothing created.
#
# usage: data_csv.sh DESCENT_BINARY SCRATCH_DIR [EMULATOR...] DATA_EXPORT_BINARY
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
here=$(cd "$(dirname "$0")" && pwd)
shift 2
export_cmd=("$@") # the helper, after the emulator's words in a cross build

# A run from before --data (its checkpoint says data-dir=data, written by
# `descent train --data-dir data --model mlp:64-4-10 --epochs 1 --batch-size 5
# --keep 1` on lib.sh's dataset of 20 and 10 examples) resumes as idx:data.
fixture=$here/../fixtures/run-before-data
mkdir -p "$scratch/legacy" && cp "$fixture"/* "$scratch/legacy/" && cd "$scratch" || exit 1
dataset data 20 10
"$descent" train --quiet --threads 1 --resume legacy --epochs 2 >legacy.log 2>&1
check "a checkpoint with data-dir=data resumes" test $? -eq 0
check "as --data idx:data" grep -q "^data        idx:data: 20 train" legacy.log
expect_error legacy-other-source 2 "--data differs: checkpoint has idx:data, command line idx:elsewhere" \
  "$descent" train --quiet --resume legacy --data idx:elsewhere --epochs 3

fmnist=/usr/share/datasets/fashion-mnist
[ -e "$fmnist/train-images-idx3-ubyte.gz" ] ||
  skip_all "no Fashion-MNIST in $fmnist (Debian's dataset-fashion-mnist package)"

ex=$scratch/export
"${export_cmd[@]}" "$fmnist" "$ex" 6000 1000 >"$scratch/export.log" 2>&1
check "the export reads back bit-identical ($(tail -n 1 "$scratch/export.log"))" \
  grep -q "read back bit-identical" "$scratch/export.log"
csv="csv:$ex/train.csv,test=$ex/test.csv,label=first"
canonical="csv:$ex/train.csv,test=$ex/test.csv,label=1" # as saved and printed

# train NAME SOURCE ARGS...: a run in $scratch/NAME, its output in NAME.log.
train() {
  local name=$1 source=$2
  shift 2
  "$descent" train --quiet --threads 2 --seed 5 --data "$source" --out "$scratch/$name" "$@" \
    >"$scratch/$name.log" 2>&1
}
# The columns that do not hold timings.
metrics() { cut -d, -f1-9 "$scratch/$1/metrics.csv"; }

mlp=(--model mlp:784-32-10 --epochs 2 --batch-size 64 --lr 0.1)
train idx "idx:$ex/idx" "${mlp[@]}"
check "the IDX run exits 0" test $? -eq 0
train csv "$csv" "${mlp[@]}"
check "the CSV run exits 0" test $? -eq 0
check "CSV and IDX runs: the same metrics, bit for bit" cmp -s <(metrics idx) <(metrics csv)
acc=$(tail -n 1 "$scratch/csv/metrics.csv" | cut -d, -f9)
check "test accuracy $acc on the CSV run above 0.75" awk -v a="$acc" 'BEGIN { exit !(a > 0.75) }'
# The model files differ in the input shape they record ({1, 28, 28}, {784}).
for run in idx csv; do
  "$descent" export --model-file "$scratch/$run/model.bin" --out "$scratch/$run.safetensors" \
    >/dev/null 2>&1
done
check "the same weights" cmp "$scratch/idx.safetensors" "$scratch/csv.safetensors"
check "the source in the resolved configuration" grep -q \
  "^data        $canonical: 6000 train, 0 validation, 1000 test examples of 784 features$" \
  "$scratch/csv.log"
check "and in the checkpoint's configuration" grep -aq "data=$canonical" \
  "$scratch/csv/ckpt-188.dsc"
# With shape=, the model file (which holds the input shape) is the same too.
train shaped "$csv,shape=1x28x28" "${mlp[@]}"
check "shape=1x28x28: the IDX run's model file, byte for byte" \
  cmp -s "$scratch/idx/model.bin" "$scratch/shaped/model.bin"

# A CNN needs the image shape: from the IDX files, or from shape=.
cnn=(--model 'conv(4, 5), relu, maxpool(2), dense(10)' --limit 1000 --epochs 1 --lr 0.05)
train cnn-idx "idx:$ex/idx" "${cnn[@]}"
train cnn-csv "$csv,shape=1x28x28" "${cnn[@]}"
check "a CNN on CSV with shape=1x28x28: the IDX run's model file" \
  cmp -s "$scratch/cnn-idx/model.bin" "$scratch/cnn-csv/model.bin"
check "and its metrics" cmp -s <(metrics cnn-idx) <(metrics cnn-csv)

# descent eval --data: the source's test set, the same numbers.
eval_acc() { "$descent" eval --threads 2 --model-file "$scratch/$1/model.bin" --data "$2" | tail -n 1; }
idx_eval=$(eval_acc idx "idx:$ex/idx")
check "eval --data csv: as eval --data idx ($idx_eval)" test "$(eval_acc csv "$csv")" = "$idx_eval"
last=$(grep -o "test loss [0-9.]* acc [0-9.]*%" "$scratch/idx.log" | tail -n 1)
check "eval --data idx: the training run's last test numbers ($last)" test "$idx_eval" = "$last"

# --resume: the same source in another spelling continues; another is refused.
expect_error resume-other-source 2 \
  "--data differs: checkpoint has $canonical, command line idx:$ex/idx" \
  "$descent" train --quiet --resume "$scratch/csv" --data "idx:$ex/idx" --epochs 3
expect_error resume-data-dir 2 "--data-dir differs" \
  "$descent" train --quiet --resume "$scratch/csv" --data-dir "$ex/idx" --epochs 3
"$descent" train --quiet --threads 2 --resume "$scratch/csv" --epochs 3 \
  --data "csv:$ex/train.csv,label=1,header=auto,test=$ex/test.csv" >"$scratch/resume.log" 2>&1
check "resumed with the same source spelled otherwise" test "$(wc -l <"$scratch/csv/metrics.csv")" -eq 4

# LIBSVM: three classes, the label the largest of three sparse features; the
# test file never uses index 4 (the training width still applies).
awk 'BEGIN { srand(3); for (i = 0; i < 300; i++) { a = rand(); b = rand(); c = rand();
  l = a > b ? (a > c ? 0 : 2) : (b > c ? 1 : 2);
  printf "%d 1:%.4f 2:%.4f 3:%.4f%s\n", l, a, b, c, i % 2 ? " 4:1" : "" } }' >"$scratch/train.svm"
awk 'BEGIN { srand(4); for (i = 0; i < 100; i++) { a = rand(); b = rand(); c = rand();
  l = a > b ? (a > c ? 0 : 2) : (b > c ? 1 : 2); printf "%d 1:%.4f 2:%.4f 3:%.4f\n", l, a, b, c } }' \
  >"$scratch/test.svm"
svm="libsvm:$scratch/train.svm,test=$scratch/test.svm"
train svm "$svm" --model 'dense(16), relu, dense(3)' --epochs 20 --batch-size 10 --lr 0.1
check "the LIBSVM run exits 0" test $? -eq 0
acc=$(tail -n 1 "$scratch/svm/metrics.csv" | cut -d, -f9)
check "LIBSVM test accuracy $acc above 0.8 (chance: 1/3)" awk -v a="$acc" 'BEGIN { exit !(a > 0.8) }'
check "4 features, 300 train and 100 test examples" \
  grep -q "300 train, 0 validation, 100 test examples of 4 features" "$scratch/svm.log"
train svm-notest "libsvm:$scratch/train.svm" --model 'dense(3)' --epochs 1 --val 50
check "without test=: no test set, said at the start" grep -q "no test set" "$scratch/svm-notest.log"
check "and no test column in the epoch line" grep -q "val loss .* | train samples/s" \
  "$scratch/svm-notest.log"

# Refusals: one line, a non-zero exit, no run folder. On the first 200 and
# 100 examples: each case loads its data.
head -n 201 "$ex/train.csv" >"$scratch/small.csv"
head -n 101 "$ex/test.csv" >"$scratch/small-test.csv"
small="csv:$scratch/small.csv,test=$scratch/small-test.csv,label=first"
refused() {
  local name=$1 phrase=$2
  shift 2
  local -a model=(--model 'dense(10)')
  [[ " $* " == *" --model "* ]] && model=()
  expect_error "$name" error "$phrase" "$descent" train --quiet --out "$scratch/refused-$name" \
    "${model[@]}" "$@"
  check "$name: nothing created" test ! -e "$scratch/refused-$name"
}
refused unknown-scheme "unknown scheme 'json'; valid schemes: idx, csv, libsvm" --data json:x
refused no-scheme "names no scheme" --data "$scratch/small.csv"
refused empty-path "the path is empty" --data csv:
refused missing-file "nowhere.csv" --data "csv:$scratch/nowhere.csv"
refused missing-test "nowhere.csv" --data "csv:$scratch/small.csv,test=$scratch/nowhere.csv,label=1"
refused unknown-key "unknown key 'colour' for csv; valid keys: test, shape, header, label" \
  --data "csv:$scratch/small.csv,colour=red"
refused libsvm-key-on-csv "unknown key 'features' for csv" --data "csv:$scratch/small.csv,features=3"
refused idx-key "unknown key 'test' for idx" --data "idx:$ex/idx,test=x"
refused not-key-value "is not KEY=VALUE" --data "csv:$scratch/small.csv,label"
refused twice "key 'label' given twice" --data "csv:$scratch/small.csv,label=1,label=2"
refused bad-shape "not a shape" --data "$small,shape=28xx28"
refused bad-header "valid values: auto" --data "$small,header=maybe"
refused bad-delimiter "valid values: comma, tab" --data "$small,delimiter=7"
refused shape-width "shape=1x28x27 holds 756 values per example, but $scratch/small.csv has 784 features" \
  --data "$small,shape=1x28x27"
refused both-options "give one of the two" --data "idx:$ex/idx" --data-dir "$ex/idx"
refused few-outputs "network has 5 outputs" --data "$small" --model 'dense(5)'
refused many-outputs "the data has 3 classes but the network has 4 outputs" --data "$svm" \
  --model 'dense(4)'
refused flat-cnn "give their shape in --data" --data "$small" --model 'conv(4, 5), dense(10)'
printf '1,2,0\n3,4,1\n' >"$scratch/narrow.csv"
refused test-width "the test file $scratch/narrow.csv has 2 features per example" \
  --data "csv:$scratch/small.csv,label=1,test=$scratch/narrow.csv"
printf '0 1:1 9:1\n' >"$scratch/wide.svm"
refused svm-test-width "the test file is read with the training file's width" \
  --data "libsvm:$scratch/train.svm,test=$scratch/wide.svm" --model 'dense(3)'
expect_error eval-two-sources 2 "give one of them" "$descent" eval \
  --model-file "$scratch/csv/model.bin" --data "$small" --data-dir "$ex/idx"
expect_error eval-bad-scheme 2 "unknown scheme" "$descent" eval \
  --model-file "$scratch/csv/model.bin" --data "xls:$ex/test.csv"
finish
