#!/usr/bin/env bash
# precision_abi.sh - the precision is part of the ABI: a program compiled for
# one descent_real and linked against the other precision's library fails to
# link, naming the symbol that says what is wrong; the matching pairs link
# and run (and descent_version() equals the header's DESCENT_VERSION_STRING).
# Shared and static libraries both, and a link with --gc-sections.
#   precision_abi.sh CC LIBDIR SCRATCH INCLUDE_DIR... [-- CFLAG...]
# LIBDIR holds libdescent.{so,a} and libdescent64.{so,a}. With
# DESCENT_ABI_LINK_ONLY set (a cross build), the programs are linked, not run.
set -u
cc=$1 libdir=$2 scratch=$3
shift 3
includes=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do includes+=("-I$1"); shift; done
[ $# -gt 0 ] && shift
cflags=("$@") # the build's sanitizer flags, if any: the libraries need their runtime
mkdir -p "$scratch"
cat >"$scratch/prog.c" <<'PROG'
#include "descent.h"
#include <stdio.h>
#include <string.h>
int main(void) {
  /* The library's version is the header's (one build). */
  if (strcmp(descent_version(), DESCENT_VERSION_STRING) != 0) {
    printf("library %s, header %s\n", descent_version(), DESCENT_VERSION_STRING);
    return 1;
  }
  printf("descent %s, descent_real of %zu bytes\n", descent_version(), sizeof(descent_real));
  return 0;
}
PROG
status=0
# try PRECISION LIBRARY KIND: compiles prog.c for PRECISION, links it with
# LIBRARY (descent or descent64) of KIND (shared or static).
try() {
  local precision=$1 library=$2 kind=$3 defines=() lib out
  [ "$precision" = double ] && defines=(-DDESCENT_DOUBLE)
  case $kind in
  shared) lib=(-L"$libdir" -Wl,-rpath,"$libdir" -l"$library") ;;
  # The linker's garbage collection must not drop the reference either.
  gc-sections) lib=(-ffunction-sections -fdata-sections -Wl,--gc-sections -L"$libdir"
                    -Wl,-rpath,"$libdir" -l"$library") ;;
  static) lib=("$libdir/lib$library.a") ;;
  esac
  out="$scratch/prog-$precision-$library-$kind"
  if "$cc" "${cflags[@]}" "${includes[@]}" "${defines[@]}" "$scratch/prog.c" "${lib[@]}" \
       -o "$out" >"$out.log" 2>&1; then
    echo "linked: $precision program with lib$library ($kind)"
    return 0
  fi
  echo "refused: $precision program with lib$library ($kind)"
  return 1
}
for kind in shared gc-sections static; do
  for pair in "float descent 4" "double descent64 8"; do
    set -- $pair
    if ! try "$1" "$2" "$kind"; then
      echo "FAIL: the matching library must link:"
      cat "$scratch/prog-$1-$2-$kind.log"
      status=1
    elif [ -n "${DESCENT_ABI_LINK_ONLY:-}" ]; then
      : # a cross build: the program is for another machine
    elif ! run=$("$scratch/prog-$1-$2-$kind") || [ "${run##*of }" != "$3 bytes" ]; then
      echo "FAIL: the $1 program with lib$2 ran with: $run"
      status=1
    fi
  done
  for case in "double descent descent_abi_double_precision_link_descent64" \
              "float descent64 descent_abi_float_precision_link_descent"; do
    set -- $case
    if try "$1" "$2" "$kind"; then
      echo "FAIL: a $1 program linked with lib$2 ($kind): a mismatch must not link"
      status=1
    elif ! grep -Eq "undefined.*$3" "$scratch/prog-$1-$2-$kind.log"; then
      echo "FAIL: the link failed without naming $3:"
      cat "$scratch/prog-$1-$2-$kind.log"
      status=1
    else
      echo "  as it must, naming: $(grep -Eo "undefined.*$3.?" \
        "$scratch/prog-$1-$2-$kind.log" | head -1)"
    fi
  done
done
exit $status
