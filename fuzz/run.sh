#!/usr/bin/env bash
# fuzz/run.sh - fuzz each target for a given time with libFuzzer, ASan and
# UBSan, starting from the committed corpus.
#
# usage: fuzz/run.sh [SECONDS] [TARGET...]     (default: 60 seconds, every target)
#
# New inputs that reach new code collect in build-fuzz/corpus/TARGET (not
# committed); a crash leaves build-fuzz/crash-* and stops with a non-zero exit.
# Turn every crash into a regression test by copying the input into
# fuzz/corpus/TARGET/ after fixing the bug: the corpora replay in CTest.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(idx text spec model options checkpoint)
command -v clang >/dev/null || { echo "fuzz/run.sh: needs clang (apt-get install clang)" >&2; exit 2; }
CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDESCENT_FUZZ=ON \
  -DDESCENT_NATIVE=ON >/dev/null
cmake --build build-fuzz -j "$(nproc)" --target $(printf 'fuzz_%s ' "${targets[@]}") >/dev/null
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
for t in "${targets[@]}"; do
  work=build-fuzz/corpus/$t
  mkdir -p "$work"
  echo "== fuzz_$t for ${seconds}s"
  log=build-fuzz/fuzz_$t.log
  (cd build-fuzz && "./fuzz/fuzz_$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 "corpus/$t" "../fuzz/corpus/$t") >"$log" 2>&1 || {
    tail -n 40 "$log"
    echo "fuzz_$t: FAILED; the crashing input is build-fuzz/crash-*" >&2
    exit 1
  }
  grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$log" | sed "s/^/  /"
done
