#!/usr/bin/env bash
# hostile.sh - hundreds of hostile inputs, each refused cleanly: IDX files,
# model files, checkpoints and safetensors files damaged every way
# hostile_corpus.sh knows, FIFOs, directories and symlink loops where files
# belong, and malformed options of every command.
#
# Each case must, under a timeout,
#   - exit with status 1 or 2 (not 0, not a signal, not a hang);
#   - print exactly one line on stderr: "descent[ CMD]: PROBLEM", holding the
#     case's phrase (the file or option at fault), no control characters, no
#     sanitizer report;
#   - leave every file that existed before byte for byte as it was, and add
#     no file to the input folders.
# One "FAIL name: why" per failing case, with its command and stderr, then
# the tally. HOSTILE_TIMEOUT (seconds, default 10) bounds each case;
# HOSTILE_ONLY (a grep pattern) runs only the cases whose names match.
# shellcheck source=tests/cli/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=tests/cli/hostile_corpus.sh
source "$(dirname "$0")/hostile_corpus.sh"

# A sanitizer finding must end the process by a signal, not with status 1.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
limit=${HOSTILE_TIMEOUT:-10}

descent=$(realpath "$descent")
scratch=$(realpath "$scratch")
corpus=$scratch/corpus # every input, and each case's working folder; watched
fresh=$scratch/fresh   # new --out targets; not watched
logs=$scratch/logs
mkdir -p "$fresh" "$logs"

names=() phrases=() commands=()
# hc NAME PHRASE ARGS...: one case of the table.
hc() {
  names+=("$1")
  phrases+=("$2")
  shift 2
  commands+=("$(printf '%q ' "$@")")
}

# Everything under the corpus: each entry's type, mode, name and link
# target, and each regular file's size and modification time (quick), or
# its checksum (exact, when the quick view differs). An empty .lock is left
# out: a refused --resume may create a run folder's lock file (it holds no
# data; a run writes its pid there only once it is under way), while a lock
# file that holds a pid must keep it.
quick_view() {
  (cd "$corpus" && find . \( -name .lock -type f -empty \) -o \( -type f -printf 'f %m %s %T@ %p\n' \) -o -printf '%y %m %p %l\n' |
    LC_ALL=C sort)
}
exact_view() {
  (cd "$corpus" && find . \( -name .lock -type f -empty \) -o -printf '%y %m %p %l\n' | LC_ALL=C sort &&
    find . -type f ! \( -name .lock -empty \) -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum)
}

# A case that changed the corpus must not spoil the cases after it: the
# corpus is put back from the copy made before the first case.
restore_corpus() {
  rm -rf "$corpus" && tar -C "$scratch" -xf "$scratch/corpus.tar"
}

# why ERR RC PHRASE: what is wrong with a case's result, or nothing.
why() {
  local err=$1 rc=$2 phrase=$3 lines first
  if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
    echo "no answer within ${limit} s (a hang)"; return
  fi
  if [ "$rc" -gt 128 ]; then echo "killed by signal $((rc - 128)) (a crash)"; return; fi
  if grep -qE 'Sanitizer|runtime error:' "$err" "$err.out"; then
    echo "sanitizer report"; return
  fi
  if [ "$rc" -eq 0 ]; then echo "exit status 0: the input was accepted"; return; fi
  if [ "$rc" -ne 1 ] && [ "$rc" -ne 2 ]; then echo "exit status $rc (want 1 or 2)"; return; fi
  lines=$(tr -cd '\n' <"$err" | wc -c)
  if [ ! -s "$err" ]; then echo "nothing on stderr"; return; fi
  if [ "$lines" -ne 1 ] || [ "$(tail -c 1 "$err" | xxd -p)" != 0a ]; then
    echo "$lines lines on stderr, want one"; return
  fi
  first=$(head -n 1 "$err")
  if ! [[ $first =~ ^descent(\ [a-z0-9_-]+)*:\ +[^[:space:]] ]]; then
    echo "stderr does not read 'descent[ COMMAND]: PROBLEM'"; return
  fi
  if LC_ALL=C grep -q $'[\x01-\x08\x0b-\x1f\x7f]' "$err"; then
    echo "control characters on stderr"; return
  fi
  # PHRASE may list alternatives: "--lr||learning rate".
  local rest=$phrase alt
  while :; do
    alt=${rest%%||*}
    grep -qF -- "$alt" "$err" && return
    [ "$alt" = "$rest" ] && break
    rest=${rest#*||}
  done
  echo "stderr does not name '${phrase//||/' or '}'"
}

# run_case I: runs case I and records its verdict.
run_case() {
  local name=${names[$1]} phrase=${phrases[$1]} err="$logs/${names[$1]}.err" rc problem
  local -a args
  eval "args=(${commands[$1]})"
  (cd "$corpus" && exec timeout -k 2 "$limit" "$descent" "${args[@]}" >"$err.out" 2>"$err" </dev/null)
  rc=$?
  problem=$(why "$err" "$rc" "$phrase")
  if [ "$(quick_view)" != "$quick" ]; then
    local after
    after=$(exact_view)
    [ "$after" = "$exact" ] ||
      problem+="${problem:+; }files in the corpus changed: $(diff <(echo "$exact") <(echo "$after") |
        grep '^[<>]' | head -4 | tr '\n' ' ')"
    restore_corpus
    quick=$(quick_view)
  fi
  count=$((count + 1))
  if [ -z "$problem" ]; then
    ok "$name"
    return
  fi
  fail "$name: $problem"
  echo "     command: descent ${commands[$1]}"
  sed 's/^/     stderr: /' "$err" | head -5 | cut -c 1-400
}

if ! hostile_corpus_make >"$logs/corpus.log" 2>&1; then
  echo "FAIL making the corpus:"
  cat "$logs/corpus.log"
  exit 1
fi
grep '^SKIP' "$logs/corpus.log"
echo "${#names[@]} hostile cases, each under a ${limit} s timeout"
only=${HOSTILE_ONLY:-.}
tar -C "$scratch" -cf "$scratch/corpus.tar" corpus
quick=$(quick_view)
exact=$(exact_view)
for i in "${!names[@]}"; do
  [[ ${names[i]} =~ $only ]] && run_case "$i"
done
finish
