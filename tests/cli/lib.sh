# shellcheck shell=bash
# lib.sh - what the CLI test scripts share: their two arguments, the tally,
# check and expect_error, tiny IDX data sets, and the closing line that CTest
# shows.
#
# Each script is run as `SCRIPT.sh DESCENT_BINARY SCRATCH_DIR [...]` and
# sources this file first; it then has
#   descent    the program under test
#   scratch    its own folder, emptied
#   count, failures
# and ends with `finish`, whose status is the script's.
set -u
# shellcheck disable=SC2034 # used by the scripts that source this file
descent=$1
scratch=$2
rm -rf "$scratch" && mkdir -p "$scratch"
count=0
failures=0
# The name of the program's process, for pgrep: in a cross build the program
# is a wrapper that execs the emulator (tests/CMakeLists.txt), whose name the
# process then has; emulated is 1 there (scripts that time their kills
# stretch them: the emulated program starts some ten times slower).
descent_process=descent
emulated=0
case "$(basename "$descent")" in *-emulated) emulated=1 ;; esac
if [ "$emulated" = 1 ]; then
  descent_process=$(basename "$(sed -n "s/^exec '\([^']*\)'.*/\1/p" "$descent")")
fi

ok() { echo "ok   $*"; }
fail() {
  echo "FAIL $*"
  failures=$((failures + 1))
}

# check DESCRIPTION CONDITION...: one test, passed when CONDITION succeeds.
check() {
  local what=$1
  shift
  count=$((count + 1))
  if "$@"; then ok "$what"; else fail "$what"; fi
}

# expect_error NAME STATUS PHRASE COMMAND...: COMMAND must exit with STATUS
# ("error": 1 or 2, never 0 nor a signal) and print exactly one line on
# stderr, holding PHRASE. Its output goes to SCRATCH/NAME.out and .err.
expect_error() {
  local name=$1 status=$2 phrase=$3
  shift 3
  count=$((count + 1))
  local err="$scratch/$name.err" rc lines
  "$@" >"$scratch/$name.out" 2>"$err"
  rc=$?
  if [ "$status" = error ]; then
    if [ "$rc" -eq 0 ] || [ "$rc" -ge 128 ]; then
      fail "$name: exit status $rc (want 1 or 2)"; cat "$err"; return
    fi
  elif [ "$rc" -ne "$status" ]; then
    fail "$name: exit status $rc (want $status)"; cat "$err"; return
  fi
  if ! grep -qF -- "$phrase" "$err"; then
    fail "$name: stderr lacks '$phrase':"; cat "$err"; return
  fi
  lines=$(wc -l <"$err")
  if [ "$lines" -ne 1 ]; then
    fail "$name: $lines lines on stderr, want one:"; cat "$err"; return
  fi
  ok "$name: $(cat "$err")"
}

# IDX files written byte by byte. be32 N: four big-endian bytes.
be32() { printf "\\x$(printf %02x $(($1 >> 24 & 255)))\\x$(printf %02x $(($1 >> 16 & 255)))\\x$(printf %02x $(($1 >> 8 & 255)))\\x$(printf %02x $(($1 & 255)))"; }

# images FILE N [ROWS COLS [DATA_BYTES]]: N images of ROWS x COLS (8 x 8)
# pixels from $idx_pixels (random bytes unless a script sets /dev/zero);
# DATA_BYTES, when given, overrides the size the header declares.
idx_pixels=/dev/urandom
images() {
  local n=$2 r=${3:-8} c=${4:-8}
  local bytes=${5:-$((n * r * c))}
  { printf '\x00\x00\x08\x03'; be32 "$n"; be32 "$r"; be32 "$c"; head -c "$bytes" "$idx_pixels"; } >"$1"
}

# labels FILE N: labels 0, 1, ..., 9, 0, 1, ...
labels() {
  { printf '\x00\x00\x08\x01'; be32 "$2"; for i in $(seq 0 $(($2 - 1))); do printf "\\x0$((i % 10))"; done; } >"$1"
}

# dataset DIR TRAIN TEST [ROWS COLS]: a Fashion-MNIST-like folder of
# uncompressed IDX files.
dataset() {
  mkdir -p "$1"
  images "$1/train-images-idx3-ubyte" "$2" "${4:-8}" "${5:-8}"
  labels "$1/train-labels-idx1-ubyte" "$2"
  images "$1/t10k-images-idx3-ubyte" "$3" "${4:-8}" "${5:-8}"
  labels "$1/t10k-labels-idx1-ubyte" "$3"
}

# skip_all REASON: the whole script cannot run here. It says why and exits
# 77, which CTest reports as skipped (SKIP_RETURN_CODE), never as passed.
skip_all() {
  echo "SKIP: $*"
  exit 77
}

# The closing line (CTest shows it) and the script's status.
finish() {
  echo "$((count - failures)) passed, $failures failed"
  [ "$failures" -eq 0 ]
}

# same_run A B: two run folders hold the same model, the same steps.csv, and
# the same metrics.csv but for its timing columns (samples_per_s and
# train_seconds).
same_run() {
  cmp -s "$1/model.bin" "$2/model.bin" && cmp -s "$1/steps.csv" "$2/steps.csv" &&
    cmp -s <(cut -d, -f1-9,12- "$1/metrics.csv") <(cut -d, -f1-9,12- "$2/metrics.csv")
}

# killed_and_resumed NAME STOP ARGS...: the calling script's `train`
# function run with ARGS straight through, and again with a checkpoint
# every $resume_every steps (3 unless set), killed with SIGKILL after step
# STOP and resumed: the two runs must agree (same_run), and so must the
# evaluations (and products) their last epoch lines count, which a method
# prints (expect_counts=0: a chain, whose lines have none).
killed_and_resumed() {
  local name=$1 stop=$2
  shift 2
  train "$@" --out "$scratch/$name-straight" >"$scratch/$name-straight.log" 2>&1
  check "$name: uninterrupted run exits 0" test $? -eq 0
  train "$@" --checkpoint-every "${resume_every:-3}" --stop-after-steps "$stop" \
    --out "$scratch/$name" >"$scratch/$name.log" 2>&1
  check "$name: killed after step $stop (exit status $?, want 137)" test $? -eq 137
  train --resume "$scratch/$name" >"$scratch/$name-resume.log" 2>&1
  check "$name: resumed run exits 0" test $? -eq 0
  check "$name: same model, losses and counts as without the kill" \
    same_run "$scratch/$name-straight" "$scratch/$name"
  [ "${expect_counts:-1}" = 1 ] || return 0
  local pattern='\| [0-9]+ evaluations(, [0-9]+ products)? \|' straight resumed
  straight=$(grep -oE "$pattern" "$scratch/$name-straight.log" | tail -1)
  resumed=$(grep -oE "$pattern" "$scratch/$name-resume.log" | tail -1)
  check "$name: the last epoch line counts the same evaluations ($straight)" \
    test -n "$straight" -a "$straight" = "$resumed"
}
