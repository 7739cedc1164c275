#!/usr/bin/env bash
# demo_page.sh - `descent demo all --quick --html`: index.html has a section
# per demo, references every picture (and animation) the demos drew and
# every gnuplot script, each of which exists beside it, and nothing outside
# its folder; Debian's chromium, headless, opens it without a console
# message, its script runs (the replays' controls appear), and its
# screenshot is a full, non-blank page. Skipped (exit 77) without chromium.
#
# usage: demo_page.sh DESCENT_BINARY SCRATCH_DIR
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

browser=$(command -v chromium || command -v chromium-browser || true)
[ -n "$browser" ] || skip_all "chromium is not installed (apt-get install chromium) to open the page"

out="$scratch/all"
page="$out/index.html"
"$descent" demo all --quick --html --out "$out" >"$scratch/all.out" 2>"$scratch/all.err"
rc=$?
check "demo all --quick --html exits 0 (status $rc)" test "$rc" -eq 0
written() { [ -s "$page" ] && grep -qF "page: $page" "$scratch/all.out"; }
check "index.html written and announced" written
[ -s "$page" ] || finish

# --- one section per demo, in the order they ran -----------------------------
names=$(sed -n 's/^== \([a-z0-9-]*\) (.*/\1/p' "$scratch/all.out")
count=$((count + 1))
missing=""
for d in $names; do grep -q "<section id=\"demo-$d\">" "$page" || missing="$missing $d"; done
order=$(grep -o '<section id="demo-[a-z0-9-]*">' "$page" | sed 's/.*demo-\([a-z0-9-]*\)".*/\1/' | tr '\n' ' ')
if [ -z "$names" ] || [ -n "$missing" ] || [ "$order" != "$(echo "$names" | tr '\n' ' ')" ]; then
  fail "sections: lacking$missing; order $order"
else
  ok "a section per demo, in the lecture's order ($(echo "$names" | wc -w) demos)"
fi

# --- every picture the demos drew, and every script, is on the page ----------
# The pictures: the closing list of the program's output ("DIR/stem.png and
# .svg"); the scripts and animations: the demos' folders.
count=$((count + 1))
missing=""
n_pictures=0
while read -r png; do
  rel=${png#"$out/"}
  n_pictures=$((n_pictures + 1))
  grep -qF "src=\"$rel\"" "$page" || missing="$missing $rel"
done < <(sed -n 's/^  \(.*\.png\) and \.svg$/\1/p' "$scratch/all.out")
for f in "$out"/*/*.gp "$out"/*/*.gif; do
  [ -e "$f" ] || continue
  rel=${f#"$out/"}
  grep -qF "\"$rel\"" "$page" || missing="$missing $rel"
done
if command -v gnuplot >/dev/null 2>&1 && [ "$n_pictures" -eq 0 ]; then
  fail "the program listed no picture"
elif [ -n "$missing" ]; then
  fail "index.html does not reference$missing"
else
  ok "index.html references the $n_pictures pictures, every script and animation"
fi

# --- each address on the page is a file in its folder -------------------------
count=$((count + 1))
missing=""
refs=$(grep -oE '(src|href)="[^"#][^"]*"' "$page" | sed 's/^[a-z]*="\(.*\)"$/\1/' | sort -u)
for ref in $refs; do
  case "$ref" in
  *://* | /* | *..*) missing="$missing $ref(outside)" ;;
  *) [ -s "$out/$ref" ] || missing="$missing $ref" ;;
  esac
done
if [ -z "$refs" ] || [ -n "$missing" ]; then
  fail "addresses that are no file of the folder:$missing"
else
  ok "every address is a file of the folder ($(echo "$refs" | wc -w))"
fi
count=$((count + 1))
if grep -qiE '<link|@import|url\(|https?:' "$page"; then
  fail "the page loads something from outside: $(grep -oiE '<link[^>]*>|@import[^;]*|url\([^)]*\)|https?:[^"]*' "$page" | head -3)"
else
  ok "self-contained: no link, import, url() or web address"
fi

# --- chromium: no console message, the script ran, a real screenshot ----------
# png_size FILE: "WIDTH HEIGHT" from the PNG's header.
png_size() {
  od -An -tu1 -j16 -N8 "$1" | awk '{ print $1 * 16777216 + $2 * 65536 + $3 * 256 + $4, $5 * 16777216 + $6 * 65536 + $7 * 256 + $8 }'
}
shot="$scratch/page.png"
timeout 120 "$browser" --headless --no-sandbox --disable-gpu --no-first-run \
  --user-data-dir="$scratch/profile-shot" --enable-logging=stderr --v=0 \
  --window-size=1280,4000 --screenshot="$shot" "file://$page" >"$scratch/shot.log" 2>&1
rc=$?
count=$((count + 1))
if [ "$rc" -ne 0 ]; then
  fail "chromium (screenshot): exit status $rc"; tail -5 "$scratch/shot.log"
elif grep -qE ':CONSOLE|Uncaught|Page load failed' "$scratch/shot.log"; then
  fail "console messages:"; grep -E ':CONSOLE|Uncaught|Page load failed' "$scratch/shot.log" | head -5
else
  ok "chromium opens the page without a console message"
fi
count=$((count + 1))
size=""
bytes=0
if [ -s "$shot" ]; then
  size=$(png_size "$shot")
  bytes=$(wc -c <"$shot")
fi
if [ ! -s "$shot" ] || [ "$(head -c 4 "$shot" | od -An -tx1 | tr -d ' ')" != 89504e47 ]; then
  fail "no screenshot"
elif [ "$size" != "1280 4000" ]; then
  fail "screenshot of $size pixels, want 1280 4000"
elif [ "$bytes" -lt 100000 ]; then
  # A blank 1280 x 4000 page compresses to a few kilobytes; text and pictures do not.
  fail "screenshot of $bytes bytes: blank?"
else
  ok "screenshot $size, $bytes bytes"
fi

# The DOM after the script: it counted the replays on <body> and showed
# their controls (hidden without JavaScript).
timeout 120 "$browser" --headless --no-sandbox --disable-gpu --no-first-run \
  --user-data-dir="$scratch/profile-dom" --dump-dom "file://$page" >"$scratch/dom.html" 2>"$scratch/dom.log"
replays=$(grep -c '<div class="replay" id="replay-[0-9]*"' "$page")
shown=$(grep -o '<body data-replays="[0-9]*"' "$scratch/dom.html" | grep -o '[0-9]*')
still_hidden=$(grep -c '<div class="replay" id="replay-[0-9]*" hidden' "$scratch/dom.html")
count=$((count + 1))
if [ "$replays" -lt 1 ] || [ "${shown:-x}" != "$replays" ] || [ "$still_hidden" -ne 0 ]; then
  fail "script: $replays replays on the page, the script saw ${shown:-none}, $still_hidden still hidden"
else
  ok "the script ran: $replays replays shown"
fi

finish
