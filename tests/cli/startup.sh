#!/usr/bin/env bash
# startup.sh - the program starts under an address-space limit (ulimit -v):
# OpenBLAS, which reserves 128 MiB per thread before main and used to retry
# forever when refused, is started with the threads the limit holds; below
# what one thread needs, the program stops at once with one line.
#
# usage: startup.sh DESCENT_BINARY SCRATCH_DIR
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

# A sanitizer build reserves terabytes of shadow memory and cannot run under
# ulimit -v at all.
if grep -qa __asan_init "$descent"; then
  skip_all "AddressSanitizer build; it cannot run under ulimit -v"
fi

# A cross build runs the program under qemu-user (tests/CMakeLists.txt),
# which needs far more address space than the program: the limit would
# measure the emulator.
case $descent in
  *-emulated) skip_all "the program runs under an emulator, which ulimit -v would limit" ;;
esac

# limited KIB COMMAND...: COMMAND under ulimit -v KIB, stopped after 20 s
# (status 124: it hung).
limited() {
  local kib=$1
  shift
  (ulimit -v "$kib" && timeout 20 "$@")
}

expect_error too-small error "is below the" limited 150000 "$descent" --version

limited 360000 "$descent" --version >"$scratch/version.out" 2>"$scratch/version.err"
check "version under 360 MB: status $? (124: it hung)" grep -q '^descent ' "$scratch/version.out"

idx_pixels=/dev/zero
dataset "$scratch/data" 16 8 4 4
limited 400000 "$descent" train --quiet --epochs 1 --model 'dense(10)' --data-dir "$scratch/data" \
  --out "$scratch/run" >"$scratch/train.out" 2>"$scratch/train.err"
status=$?
check "train under 400 MB: status $status (124: it hung)" test "$status" -eq 0

# A thread count asked for beyond what the limit holds is lowered to it, and
# OMP_NUM_THREADS does not make OpenBLAS start with more.
OMP_NUM_THREADS=64 limited 400000 "$descent" train --quiet --epochs 1 --model 'dense(10)' \
  --threads 64 --data-dir "$scratch/data" --out "$scratch/run64" >"$scratch/train64.out" \
  2>"$scratch/train64.err"
status=$?
check "train under 400 MB with --threads 64 and OMP_NUM_THREADS=64: status $status (124: it hung)" \
  test "$status" -eq 0

# No limit hangs: a run either works or stops with one line that names the
# limit, and leaves no run folder. OpenBLAS maps a 128 MiB buffer for each
# call in progress at once, at the first such call, and retries forever
# when the limit refuses it; where the data had taken that room the run
# used to hang: with 5,000 images at one thread under 400 and 500 MB, with
# a whitening's covariance under 640 to 740 MB, at two threads (Fashion-MNIST
# whole, under 700 MB) and in the whitening at two threads. The program now
# has those buffers mapped before it loads anything. The steps cross every
# transition between start-up, the data, the whitening and the first
# product.
# hang_sweep NAME FROM TO STEP ARGS...: the program with ARGS (and --out)
# under FROM, FROM + STEP, ... up to TO kB.
hang_sweep() {
  local name=$1 from=$2 to=$3 step=$4 kib rc worked=0 refused=0 bad=""
  shift 4
  for ((kib = from; kib <= to; kib += step)); do
    rm -rf "$scratch/sweep"
    limited "$kib" "$descent" "$@" --out "$scratch/sweep" >"$scratch/sweep.out" \
      2>"$scratch/sweep.err"
    rc=$?
    if [ "$rc" -eq 0 ]; then
      worked=$((worked + 1))
    elif [ "$rc" -lt 128 ] && [ "$rc" -ne 124 ] && [ "$(wc -l <"$scratch/sweep.err")" -eq 1 ] &&
      grep -q 'ulimit -v' "$scratch/sweep.err" && [ ! -e "$scratch/sweep" ]; then
      refused=$((refused + 1))
    else
      bad="$bad $kib(status $rc: $(head -c 200 "$scratch/sweep.err"))"
    fi
  done
  check "$name: $worked worked, $refused refused in one line, none hung or failed otherwise:$bad" \
    test -z "$bad"
}
fashion=/usr/share/datasets/fashion-mnist
if [ -d "$fashion" ]; then
  train=(train --quiet --epochs 1 --limit 5000 --data-dir "$fashion")
  hang_sweep one-thread 380000 560000 20000 "${train[@]}" --model mlp:784-256-10 --threads 1
  hang_sweep whitened 620000 760000 20000 "${train[@]}" --model mlp:784-32-10 --preprocess zca \
    --threads 1
  hang_sweep two-threads 560000 920000 40000 "${train[@]}" --model mlp:784-256-10 --threads 2
  hang_sweep whitened-two-threads 700000 940000 40000 "${train[@]}" --model mlp:784-32-10 \
    --preprocess zca --threads 2
  hang_sweep lr-find-two-threads 560000 800000 80000 lr-find --steps 5 --batch-size 256 \
    --limit 2000 --data-dir "$fashion" --model mlp:784-1024-1024-10 --threads 2
else
  echo "SKIP the sweeps: need Debian's dataset-fashion-mnist in $fashion"
fi

finish
