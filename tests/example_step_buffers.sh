#!/bin/bash
# example_step_buffers.sh - runs examples/step_buffers with several
# optimizers (the default, a chain, schedule-free, its own signum) and checks
# the fit it prints; a bad spec must fail with the library's message.
# Usage: example_step_buffers.sh PROGRAM
set -u
program=$1
failures=0

# fits SPEC LR STEPS TOLERANCE: the printed max error is below TOLERANCE.
fits() {
  local out error
  if ! out=$("$program" "$1" "$2" "$3" 2>&1); then
    echo "FAIL: step_buffers '$1' '$2' '$3' exited non-zero:"
    echo "$out"
    failures=$((failures + 1))
    return
  fi
  error=$(printf '%s\n' "$out" | awk '/^max error / { print $3 }')
  if [ -z "$error" ] || ! awk -v e="$error" -v t="$4" 'BEGIN { exit !(e < t) }'; then
    echo "FAIL: step_buffers '$1' '$2' '$3': max error '$error', expected below $4:"
    echo "$out"
    failures=$((failures + 1))
    return
  fi
  echo "ok: '$1' (lr $2, $3 steps): max error $error"
}

fits adam - 3000 0.01
fits "clip(1) | adam | lr(cosine(0.05, 2000))" - 2000 0.001
fits "sgd(momentum=0.9)" 0.1 500 0.001
fits sf_adamw 0.01 2000 0.001
fits "signum(beta=0.9) | lr(cosine(0.01, 2000))" - 2000 0.01

# The optimizer's own description names the custom transform.
out=$("$program" "signum | lr(0.001)" - 1 2>&1)
case $out in
  *"optimizer: signum(beta=0.9) | lr(lr=0.001)"*) echo "ok: signum described" ;;
  *) echo "FAIL: signum's description missing:"; echo "$out"; failures=$((failures + 1)) ;;
esac

# A bad spec: exit status 1 and the library's message naming the keys.
if out=$("$program" "signum(gamma=1)" 2>&1); then
  echo "FAIL: a bad spec was accepted:"; echo "$out"; failures=$((failures + 1))
else
  case $out in
    *"signum has no parameter 'gamma'; valid parameters: beta"*) echo "ok: bad spec refused" ;;
    *) echo "FAIL: bad spec message:"; echo "$out"; failures=$((failures + 1)) ;;
  esac
fi

[ "$failures" -eq 0 ] || { echo "$failures failure(s)"; exit 1; }
echo "all passed"
