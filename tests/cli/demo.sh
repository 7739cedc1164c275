#!/usr/bin/env bash
# demo.sh - `descent demo`: every demo runs in under a minute of processor
# time (those that train networks for long in their small versions: `demo
# all --quick`); `demo all` alone skips those, each with a line giving its
# time, and also takes under a minute; each demo writes its CSV files and,
# when gnuplot is installed, its pictures (whose scripts must run without a
# warning); without gnuplot the numbers still come out with one line saying
# how to get the pictures; bad input gives one line and a non-zero exit, and
# leaves no folder behind.
#
# usage: demo.sh DESCENT_BINARY SCRATCH_DIR
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

demos="step-size conditioning normalization stochastic bottou-bousquet nonconvex saddle plateau saddle-index minima scoreboard per-direction gauss-newton whitening batchnorm hidden-conditioning momentum-map momentum-noise momentum race noise-scale edge-of-stability generalization tuning rmsprop-step"

# --- descent demo all ---------------------------------------------------------
# The minute demo all is promised holds for the program as built for use; a
# sanitized build runs two to three times slower, so there it gets three.
limit_ms=60000
[ "${DESCENT_SANITIZED:-0}" = 1 ] && limit_ms=180000
# The limit is on the processor time (user + system) where /usr/bin/time can
# tell it: the wall-clock time grows with whatever else shares the machine.
count=$((count + 1))
start=$(date +%s%N)
if [ -x /usr/bin/time ]; then
  /usr/bin/time -f "%U %S" -o "$scratch/all.cpu" "$descent" demo all --quick --out "$scratch/all" >"$scratch/all.out" 2>"$scratch/all.err"
  rc=$?
  cpu=$(awk 'END { printf "%d", ($1 + $2) * 1000 }' "$scratch/all.cpu")
else
  "$descent" demo all --quick --out "$scratch/all" >"$scratch/all.out" 2>"$scratch/all.err"
  rc=$?
  cpu=""
fi
ms=$((($(date +%s%N) - start) / 1000000))
spent=${cpu:-$ms}
if [ "$rc" -ne 0 ]; then
  fail "demo all --quick: exit status $rc"; cat "$scratch/all.err"
elif [ "$spent" -ge "$limit_ms" ]; then
  fail "demo all took $spent ms${cpu:+ of processor time} (limit $((limit_ms / 1000)) s; $ms ms wall-clock)"
else
  ok "demo all: $spent ms${cpu:+ of processor time} ($ms ms wall-clock)"
fi

# --- descent demo all, without --quick: the demos that train networks for
# long are skipped, each with one line giving its time and the flag that
# runs it; the rest run in under a minute of processor time too.
count=$((count + 1))
start=$(date +%s%N)
if [ -x /usr/bin/time ]; then
  /usr/bin/time -f "%U %S" -o "$scratch/plain-all.cpu" "$descent" demo all --out "$scratch/plain-all" >"$scratch/plain-all.out" 2>"$scratch/plain-all.err"
  rc=$?
  cpu=$(awk 'END { printf "%d", ($1 + $2) * 1000 }' "$scratch/plain-all.cpu")
else
  "$descent" demo all --out "$scratch/plain-all" >"$scratch/plain-all.out" 2>"$scratch/plain-all.err"
  rc=$?
  cpu=""
fi
ms=$((($(date +%s%N) - start) / 1000000))
spent=${cpu:-$ms}
if [ "$rc" -ne 0 ]; then
  fail "demo all: exit status $rc"; cat "$scratch/plain-all.err"
elif [ "$spent" -ge "$limit_ms" ]; then
  fail "demo all (without --quick) took $spent ms${cpu:+ of processor time} (limit $((limit_ms / 1000)) s; $ms ms wall-clock)"
else
  ok "demo all (without --quick): $spent ms${cpu:+ of processor time} ($ms ms wall-clock)"
fi
# Each demo either ran (its folder) or says on the next line why not, with
# its time and --networks; generalization is one of the skipped.
count=$((count + 1))
bad=""
skipped=$(awk '/^== / { name = $2; getline; if ($0 ~ /^skipped: trains networks for .*; --networks runs it/) print name }' "$scratch/plain-all.out")
for d in $demos; do
  if echo "$skipped" | grep -qx "$d"; then
    [ -e "$scratch/plain-all/$d" ] && bad="$bad $d(skipped but has a folder)"
  else
    [ -s "$scratch/plain-all/$d/$d.csv" ] || bad="$bad $d(neither ran nor said why)"
  fi
done
echo "$skipped" | grep -qx generalization || bad="$bad generalization(not skipped)"
n_skipped=$(echo "$skipped" | grep -c .)
grep -q "($n_skipped skipped: see their line above)" "$scratch/plain-all.out" || bad="$bad (closing line does not count $n_skipped skipped)"
if [ -n "$bad" ]; then fail "demo all skips:$bad"; else ok "demo all skips the $n_skipped long network demos, each with its time: $(echo "$skipped" | tr '\n' ' ')"; fi
# A demo that fails does not stop the others: the page is still written,
# saying which failed and why, and the exit status says so. Here gnuplot
# (a stand-in on PATH) fails in step-size's folder and draws nothing elsewhere.
mkdir -p "$scratch/fakebin"
cat >"$scratch/fakebin/gnuplot" <<'FAKE'
#!/bin/sh
case "$PWD" in
  */step-size) echo "fake gnuplot: no terminal here" >&2; exit 1 ;;
esac
exit 0
FAKE
chmod +x "$scratch/fakebin/gnuplot"
PATH="$scratch/fakebin:$PATH" "$descent" demo all --html --out "$scratch/one-fails" \
  >"$scratch/one-fails.out" 2>"$scratch/one-fails.err"
rc=$?
if [ "$rc" -eq 1 ]; then ok "demo all: a failing demo gives exit 1"; else fail "demo all with a failing demo: exit $rc"; fi
if grep -q "1 of [0-9]* demos failed: step-size (their lines above say why; the others ran" "$scratch/one-fails.err"; then
  ok "demo all: names the failed demo"
else fail "demo all: no line naming the failed demo"; cat "$scratch/one-fails.err"; fi
if grep -q "it failed: gnuplot failed on .*step-size.*fake gnuplot: no terminal here" "$scratch/one-fails/index.html" &&
  grep -q "1 demo failed (step-size)" "$scratch/one-fails/index.html"; then
  ok "demo all: the page says step-size failed and why"
else fail "demo all: the page does not say step-size failed"; fi
if [ -s "$scratch/one-fails/race/race.csv" ] && [ -s "$scratch/one-fails/rmsprop-step/rmsprop-step.csv" ]; then
  ok "demo all: the demos after the failed one ran"
else fail "demo all: the demos after the failed one did not run"; fi
expect_error quick-and-networks error "--quick and --networks: choose one" "$descent" demo all --quick --networks --out "$scratch/e6"

have_gnuplot=0
command -v gnuplot >/dev/null 2>&1 && have_gnuplot=1
for d in $demos; do
  count=$((count + 1))
  dir="$scratch/all/$d"
  missing=""
  [ -s "$dir/$d.csv" ] || missing="$missing $d.csv"
  [ -s "$dir/$d.gp" ] || missing="$missing $d.gp"
  # every CSV the script reads exists
  for csv in $(grep -o "'[a-z0-9-]*\.csv'" "$dir/$d.gp" 2>/dev/null | tr -d "'" | sort -u); do
    [ -s "$dir/$csv" ] || missing="$missing $csv"
  done
  if [ "$have_gnuplot" -eq 1 ]; then
    [ -s "$dir/$d.png" ] || missing="$missing $d.png"
    [ -s "$dir/$d.svg" ] || missing="$missing $d.svg"
    if [ -s "$dir/$d.png" ] && [ "$(head -c 4 "$dir/$d.png" | od -An -tx1 | tr -d ' ')" != "89504e47" ]; then
      missing="$missing $d.png(not a PNG)"
    fi
    grep -q "<svg" "$dir/$d.svg" 2>/dev/null || missing="$missing $d.svg(not an SVG)"
    # the script draws without a single warning
    warnings=$(cd "$dir" && gnuplot "$d.gp" 2>&1 >/dev/null)
    [ -z "$warnings" ] || missing="$missing (gnuplot says: $(echo "$warnings" | head -2 | tr '\n' ' '))"
  fi
  if [ -n "$missing" ]; then fail "demo all: $d lacks$missing"; else ok "demo all: $d"; fi
done
# gauss-newton's second picture: the curvature each method estimates
count=$((count + 1))
dir="$scratch/all/gauss-newton"
missing=""
for csv in $(grep -o "'[a-z0-9-]*\.csv'" "$dir/gauss-newton-curvature.gp" 2>/dev/null | tr -d "'" | sort -u); do
  [ -s "$dir/$csv" ] || missing="$missing $csv"
done
[ -s "$dir/gauss-newton-curvature.gp" ] || missing="$missing gauss-newton-curvature.gp"
if [ "$have_gnuplot" -eq 1 ]; then
  [ -s "$dir/gauss-newton-curvature.png" ] || missing="$missing gauss-newton-curvature.png"
  warnings=$(cd "$dir" && gnuplot gauss-newton-curvature.gp 2>&1 >/dev/null)
  [ -z "$warnings" ] || missing="$missing (gnuplot says: $(echo "$warnings" | head -2 | tr '\n' ' '))"
fi
if [ -n "$missing" ]; then fail "demo all: gauss-newton lacks$missing"; else ok "demo all: gauss-newton's curvature picture"; fi
if [ "$have_gnuplot" -eq 1 ]; then
  count=$((count + 1))
  listed=$(grep -c '\.png and \.svg' "$scratch/all.out")
  # one picture per demo, and gauss-newton's second (the curvature each method estimates)
  want=$(($(echo "$demos" | wc -w) + 1))
  if [ "$listed" -ne "$want" ]; then fail "demo all: the closing note lists $listed pictures, want $want"; else ok "closing note lists $want pictures"; fi
  count=$((count + 1))
  if grep -q '\.gif' "$scratch/all.out"; then fail "demo all without --gif drew GIFs"; else ok "no GIF without --gif"; fi
fi

# --- animations: every path demo writes NAME-anim.gp, reading files it wrote;
# with --gif they become GIFs (a 1D demo and the race: each frame drawn
# without a warning, more than one frame)
for d in step-size conditioning normalization stochastic nonconvex saddle plateau momentum per-direction race; do
  count=$((count + 1))
  dir="$scratch/all/$d"
  missing=""
  [ -s "$dir/$d-anim.gp" ] || missing="$missing $d-anim.gp"
  for csv in $(grep -o "'[a-z0-9-]*\.csv'" "$dir/$d-anim.gp" 2>/dev/null | tr -d "'" | sort -u); do
    [ -s "$dir/$csv" ] || missing="$missing $csv"
  done
  if [ -n "$missing" ]; then fail "animation: $d lacks$missing"; else ok "animation script: $d"; fi
done
if [ "$have_gnuplot" -eq 1 ]; then
  for d in step-size race; do
    count=$((count + 1))
    "$descent" demo "$d" --gif --out "$scratch/gif-$d" >"$scratch/gif-$d.out" 2>&1
    rc=$?
    dir="$scratch/gif-$d"
    problems=""
    [ "$rc" -eq 0 ] || problems="$problems exit $rc"
    [ "$(head -c 6 "$dir/$d.gif" 2>/dev/null)" = "GIF89a" ] || problems="$problems $d.gif(not a GIF)"
    grep -q "$d.gif (animated)" "$scratch/gif-$d.out" || problems="$problems (not in the closing note)"
    said=$(cd "$dir" && gnuplot "$d-anim.gp" 2>&1 >/dev/null)
    frames=$(echo "$said" | sed -n 's/^\([0-9]*\) frames in animation sequence$/\1/p')
    others=$(echo "$said" | grep -v "frames in animation sequence")
    [ "${frames:-0}" -gt 1 ] || problems="$problems (${frames:-no} frames)"
    [ -z "$others" ] || problems="$problems (gnuplot says: $(echo "$others" | head -2 | tr '\n' ' '))"
    if [ -n "$problems" ]; then fail "demo $d --gif:$problems"; else ok "demo $d --gif: $frames frames"; fi
  done
fi

# --- without gnuplot: numbers, CSV, and one line about the pictures ---------
count=$((count + 1))
env PATH=/nonexistent "$descent" demo step-size --out "$scratch/plain" >"$scratch/plain.out" 2>"$scratch/plain.err"
rc=$?
lines=$(grep -c "pictures skipped: install gnuplot (apt-get install gnuplot-nox) to draw them" "$scratch/plain.out")
if [ "$rc" -ne 0 ] || [ "$lines" -ne 1 ] || [ ! -s "$scratch/plain/step-size.csv" ] || [ -e "$scratch/plain/step-size.png" ] || [ -s "$scratch/plain.err" ]; then
  fail "without gnuplot: exit $rc, $lines lines about gnuplot"; cat "$scratch/plain.out" "$scratch/plain.err"
else
  ok "without gnuplot: numbers and CSV, one line about the pictures"
fi
count=$((count + 1))
if grep -q "quadratic, alpha=1.01\*2/L .* diverged" "$scratch/plain.out"; then ok "the table is printed"; else fail "the table is not printed"; fi
# --gif without gnuplot: the one line names the animations too
count=$((count + 1))
env PATH=/nonexistent "$descent" demo race --gif --out "$scratch/plain-gif" >"$scratch/plain-gif.out" 2>"$scratch/plain-gif.err"
rc=$?
lines=$(grep -c "gnuplot" "$scratch/plain-gif.out")
if [ "$rc" -ne 0 ] || [ "$lines" -ne 1 ] || ! grep -q "^pictures and animations (--gif) skipped: install gnuplot" "$scratch/plain-gif.out" || [ ! -s "$scratch/plain-gif/race.csv" ] || [ -s "$scratch/plain-gif.err" ]; then
  fail "--gif without gnuplot: exit $rc, $lines lines about gnuplot"; cat "$scratch/plain-gif.out" "$scratch/plain-gif.err"
else
  ok "--gif without gnuplot: numbers and CSV, one line about the pictures and animations"
fi

# --- options change the demo -------------------------------------------------
count=$((count + 1))
"$descent" demo saddle --lr 0.25 --perturb 1e-3 --iters 300 --out "$scratch/saddle" >"$scratch/saddle.out" 2>&1
# y grows by 1.5 per step from 1e-3: f <= -1 after 18 steps
if grep -qE "^  gd, perturbed .* 18 " "$scratch/saddle.out"; then ok "options: saddle escape after 18 steps"; else fail "options: saddle"; cat "$scratch/saddle.out"; fi

# --- help ----------------------------------------------------------------------
count=$((count + 1))
"$descent" demo --help >"$scratch/help.out" 2>&1
rc=$?
missing=""
for d in $demos all; do grep -q "^  $d " "$scratch/help.out" || missing="$missing $d"; done
grep -q -- "--lr SMALL,GOOD,LARGE .*(default: 0.5,1.5,6)" "$scratch/help.out" || missing="$missing step-size's --lr"
grep -q -- "--networks" "$scratch/help.out" || missing="$missing all's --networks"
grep -q -- "--html" "$scratch/help.out" || missing="$missing all's --html"
if [ "$rc" -ne 0 ] || [ -n "$missing" ]; then fail "demo --help: exit $rc, lacks$missing"; else ok "demo --help lists every demo and option"; fi
# A demo that trains networks for long states its time in its help.
count=$((count + 1))
"$descent" demo generalization --help >"$scratch/help-gen.out" 2>&1
if grep -q "^takes .* (demo all runs it with --networks)" "$scratch/help-gen.out"; then
  ok "demo generalization --help states its time"
else
  fail "demo generalization --help does not state its time"; cat "$scratch/help-gen.out"
fi

# --- errors: one line, non-zero exit, no folder left behind -------------------
expect_error no-demo error "which demo? valid demos: step-size, conditioning" "$descent" demo
expect_error unknown-demo error "unknown demo 'zigzag'; valid demos: $(echo $demos | sed 's/ /, /g'), all" "$descent" demo zigzag
expect_error unknown-option error "unknown option '--kappa'; valid options: --lr, --curvature, --start" "$descent" demo step-size --kappa 3 --out "$scratch/e1"
expect_error bad-number error "--lr: 'fast' is not a number" "$descent" demo step-size --lr 0.5,fast,6 --out "$scratch/e2"
expect_error bad-count error "--lr: '1,2': give 3 numbers" "$descent" demo step-size --lr 1,2 --out "$scratch/e3"
expect_error out-of-range error "--kappa: 0.5 is out of range" "$descent" demo conditioning --kappa 0.5 --out "$scratch/e4"
expect_error all-option error "unknown option '--lr'; valid options: --out, --quick" "$descent" demo all --lr 1 --out "$scratch/e5"
# sizes that would run for hours: refused at once, the bound in the message
# (timeout: before the bounds, each of these ran for hours)
expect_error whitening-iters error "--iters: 100000000 iterations in 20 dimensions for 1 rho values are too many (iters dim^2 times the rho values at most 2e10)" timeout 60 "$descent" demo whitening --iters 100000000 --rho 0.999 --scale 1000 --out "$scratch/e7"
expect_error whitening-n error "--n: 1000000 examples of 200 features for 4 rho values are too many" timeout 60 "$descent" demo whitening --dim 200 --n 1000000 --out "$scratch/e8"
expect_error momentum-noise-seeds error "--iters: 20000 iterations in 20 dimensions for 1000 seeds are too many" timeout 60 "$descent" demo momentum-noise --seeds 1000 --out "$scratch/e9"
expect_error race-iters error "--iters: 1000000 is out of range; valid values are 1 to 100000" timeout 60 "$descent" demo race --iters 1000000 --out "$scratch/e10"
expect_error rmsprop-step-steps error "--steps: 10000000 is out of range; valid values are 10 to 1e+06" timeout 60 "$descent" demo rmsprop-step --steps 10000000 --out "$scratch/e11"
expect_error rmsprop-step-seeds error "--seeds: 10000 runs of 6000 steps are too many" timeout 60 "$descent" demo rmsprop-step --seeds 10000 --out "$scratch/e12"
expect_error scoreboard-iters error "--iters: 10000000 is out of range; valid values are 1 to 1e+06" timeout 60 "$descent" demo scoreboard --iters 10000000 --out "$scratch/e13"
expect_error scoreboard-steps error "--steps: 1000000 full-batch steps on 59000 images of 784 pixels at 8 rates are too many" timeout 60 "$descent" demo scoreboard --train 59000 --pool 1 --steps 1000000 --out "$scratch/e14"
expect_error hidden-size error "--epochs: 100 epochs x 55000 images through 99710 weights at 3 rates are too many" timeout 60 "$descent" demo hidden-conditioning --epochs 100 --train 55000 --out "$scratch/e15"
expect_error minima-size error "--epochs: 100 seeds x 20 epochs x 4000 images through 13025280 weights are too many" timeout 60 "$descent" demo minima --widths 4096,4096,4096,4096 --seeds 100 --out "$scratch/e16"
expect_error scoreboard-problem error "--steps: 1000000 steps on 'quadnd(dim=2000)' (2000 parameters, 2000 terms) at 2 rates are too many" timeout 60 "$descent" demo scoreboard --speed-on "quadnd(dim=2000)" --steps 1000000 --speed-lr 0.01,0.1 --out "$scratch/e17"
count=$((count + 1))
left=""
for e in e2 e3 e4 e6 e7 e8 e9 e10 e11 e12 e13 e14 e15 e16 e17; do [ -e "$scratch/$e" ] && left="$left $e"; done
if [ -n "$left" ]; then fail "a refused demo left its folder:$left"; else ok "refused demos leave no folder"; fi

# an earlier run is never overwritten
before=$(md5sum <"$scratch/plain/step-size.csv")
expect_error existing-run error "already holds files; choose another --out" "$descent" demo step-size --out "$scratch/plain"
count=$((count + 1))
if [ "$(md5sum <"$scratch/plain/step-size.csv")" != "$before" ]; then fail "existing-run: step-size.csv was changed"; else ok "existing run kept"; fi
# demo all --html into a folder that holds a page: refused, the page kept
mkdir -p "$scratch/old-page" && echo "the previous page" >"$scratch/old-page/index.html"
expect_error existing-page error "already holds files; choose another --out" "$descent" demo all --quick --html --gif --out "$scratch/old-page"
count=$((count + 1))
if [ "$(cat "$scratch/old-page/index.html")" != "the previous page" ] || [ "$(ls "$scratch/old-page")" != "index.html" ]; then fail "existing-page: the folder was changed"; else ok "existing page kept"; fi

finish
