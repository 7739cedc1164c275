#!/usr/bin/env bash
# exports.sh - what the libraries export and what they need: the shared ones
# (nm -D) and the static archives made for installation (nm -g: their
# globals, since a program that links them statically meets each one).
#   exports.sh NM HEADER LIB...
# Fails when a library exports a symbol that does not start with descent_
# (everything else is built hidden: a helper that leaks breaks programs that
# define the same name), lacks a function HEADER (descent.h) declares, or
# needs fork, exec*, posix_spawn, popen or system (running programs is the
# lab's business, not the library's). Prints every offending symbol.
set -u
nm=$1 header=$2
shift 2
status=0
# The functions descent.h declares: every descent_NAME( in it, but the
# precision markers (one per library: lib_precision_abi tests them).
declared=$(grep -oE '\bdescent_[a-z0-9_]+\(' "$header" | tr -d '(' | grep -v '^descent_abi_' |
           sort -u)
if [ "$(printf '%s\n' "$declared" | wc -l)" -lt 50 ]; then
  echo "FAIL: found only $(printf '%s\n' "$declared" | wc -l) functions in $header"
  exit 1
fi
for lib in "$@"; do
  table=-D
  case $lib in *.a) table=-g ;; esac
  if ! defined=$("$nm" "$table" --defined-only "$lib"); then
    echo "FAIL: $nm $table --defined-only $lib failed"
    status=1
    continue
  fi
  count=$(printf '%s\n' "$defined" | grep -c ' descent_' || true)
  # The third field is the name (versioned symbols would carry @VERSION).
  others=$(printf '%s\n' "$defined" | awk 'NF >= 3 && $3 !~ /^descent_/ { print $3 }')
  if [ -n "$others" ]; then
    echo "FAIL: $lib exports $(printf '%s\n' "$others" | wc -l) symbols without the descent_ prefix:"
    printf '%s\n' "$others" | sed 's/^/  /'
    status=1
  else
    echo "ok: $lib exports $count symbols, all descent_*"
  fi
  missing=$(comm -23 <(printf '%s\n' "$declared") \
                     <(printf '%s\n' "$defined" | awk 'NF >= 3 { sub(/@.*/, "", $3); print $3 }' |
                       sort -u))
  if [ -n "$missing" ]; then
    echo "FAIL: $lib lacks functions $header declares:"
    printf '%s\n' "$missing" | sed 's/^/  /'
    status=1
  else
    echo "ok: $lib defines all $(printf '%s\n' "$declared" | wc -l) functions of $header"
  fi
  if ! undefined=$("$nm" "$table" --undefined-only "$lib"); then
    echo "FAIL: $nm $table --undefined-only $lib failed"
    status=1
    continue
  fi
  spawns=$(printf '%s\n' "$undefined" | awk '{ sub(/@.*/, "", $NF); print $NF }' |
           grep -E '^(fork|vfork|exec[a-z]*|posix_spawn[a-z]*|popen|system)$' || true)
  if [ -n "$spawns" ]; then
    echo "FAIL: $lib needs functions that run programs: $(printf '%s\n' "$spawns" | tr '\n' ' ')"
    status=1
  else
    echo "ok: $lib runs no programs (no fork, exec*, posix_spawn, popen, system)"
  fi
done
exit $status
