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
