#!/usr/bin/env bash
# readme_example.sh - the program the README shows under "Use it as a
# library" compiles as written (C11, -Wall -Wextra -Werror), links against
# the shared library and prints what the README says it prints, so the
# README cannot drift from the API.
#   readme_example.sh CC README LIBDIR SCRATCH INCLUDE_DIR... [-- CFLAG...]
set -u
cc=$1 readme=$2 libdir=$3 scratch=$4
shift 4
includes=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do includes+=("-I$1"); shift; done
[ $# -gt 0 ] && shift
mkdir -p "$scratch"
# The first C block after the section's heading.
awk '/^## Use it as a library/ { in_section = 1 }
     in_section && /^```c$/ { in_code = 1; next }
     in_code && /^```$/ { exit }
     in_code { print }' "$readme" >"$scratch/example.c"
if [ "$(wc -l <"$scratch/example.c")" -lt 5 ]; then
  echo "FAIL: no C program under \"## Use it as a library\" in $readme"
  exit 1
fi
echo "the README's program: $(wc -l <"$scratch/example.c") lines"
if ! "$cc" -std=c11 -Wall -Wextra -Werror "$@" "${includes[@]}" "$scratch/example.c" \
     -L"$libdir" -Wl,-rpath,"$libdir" -ldescent -lm -o "$scratch/example"; then
  echo "FAIL: the README's program does not build"
  exit 1
fi
out=$("$scratch/example") || { echo "FAIL: the README's program exited with $?"; exit 1; }
echo "it prints: $out"
# The README says: about (0, 1, 2).
if ! printf '%s\n' "$out" | grep -qE '^x = \(0(\.0+[0-9]*)?, 1(\.0+[0-9]*)?, 2(\.0+[0-9]*)?\)$'; then
  echo "FAIL: expected x = (0, 1, 2)"
  exit 1
fi
echo "ok"
