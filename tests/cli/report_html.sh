#!/usr/bin/env bash
# report_html.sh - report.html opens in a headless browser (Debian's
# chromium) without a console message, and its screenshot is a full page
# that is not blank: for a tracked run (every picture), an untracked one,
# one drawn without gnuplot, and a sweep's. Skipped (exit 77) without chromium.
#
# usage: report_html.sh DESCENT_BINARY SCRATCH_DIR
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=report_lib.sh
source "$(dirname "$0")/report_lib.sh"

browser=$(command -v chromium || command -v chromium-browser || true)
[ -n "$browser" ] || skip_all "chromium is not installed (apt-get install chromium) to open the page"

# png_size FILE: "WIDTH HEIGHT" from the PNG's header.
png_size() {
  od -An -tu1 -j16 -N8 "$1" | awk '{ print $1 * 16777216 + $2 * 65536 + $3 * 256 + $4, $5 * 16777216 + $6 * 65536 + $7 * 256 + $8 }'
}

# opens NAME PAGE: chromium loads PAGE headless and takes a 1200 x 3000
# screenshot; no console message, a PNG of that size, not blank.
opens() {
  local name=$1 page=$2 shot="$scratch/$1.png" log="$scratch/$1.log"
  rm -f "$shot"
  timeout 120 "$browser" --headless --no-sandbox --disable-gpu --no-first-run \
    --user-data-dir="$scratch/profile-$name" --enable-logging=stderr --v=0 \
    --window-size=1200,3000 --screenshot="$shot" "file://$page" >"$log" 2>&1
  local rc=$?
  count=$((count + 1))
  if [ "$rc" -ne 0 ]; then
    fail "$name: chromium exit status $rc"; tail -5 "$log"; return
  fi
  if grep -q ":CONSOLE" "$log"; then
    fail "$name: console messages:"; grep ":CONSOLE" "$log"; return
  fi
  if [ ! -s "$shot" ] || [ "$(head -c 4 "$shot" | od -An -tx1 | tr -d ' ')" != 89504e47 ]; then
    fail "$name: no screenshot"; tail -5 "$log"; return
  fi
  local size bytes
  size=$(png_size "$shot")
  bytes=$(wc -c <"$shot")
  if [ "$size" != "1200 3000" ]; then fail "$name: screenshot of $size pixels"; return; fi
  # A blank 1200 x 3000 page compresses to a few kilobytes.
  if [ "$bytes" -lt "${3:-20000}" ]; then fail "$name: screenshot of $bytes bytes: blank?"; return; fi
  ok "$name: opens without a console message; screenshot $size, $bytes bytes"
}

synthetic_run "$scratch/tracked" tracked
"$descent" report "$scratch/tracked" >"$scratch/tracked.out" 2>&1
check "report on a tracked run" test $? -eq 0
opens tracked "$scratch/tracked/report/report.html" 100000

synthetic_run "$scratch/plain" untracked
"$descent" report "$scratch/plain" >"$scratch/plain.out" 2>&1
check "report on an untracked run" test $? -eq 0
opens untracked "$scratch/plain/report/report.html"

synthetic_run "$scratch/nognuplot" edge
env PATH=/nonexistent "$descent" report "$scratch/nognuplot" >"$scratch/nognuplot.out" 2>&1
check "report without gnuplot" test $? -eq 0
opens without-gnuplot "$scratch/nognuplot/report/report.html" 10000

synthetic_sweep "$scratch/sweep"
"$descent" report "$scratch/sweep" >"$scratch/sweep.out" 2>&1
check "report on a sweep" test $? -eq 0
opens sweep "$scratch/sweep/report/report.html" 50000

finish
