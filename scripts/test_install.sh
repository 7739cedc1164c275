#!/usr/bin/env bash
# test_install.sh - the library as another program uses it: installs a build
# into a temporary prefix, then builds every examples/*.c against the
# installed files, once with pkg-config and once with CMake's
# find_package(descent) (examples/CMakeLists.txt), and runs each, checking
# with ldd that the installed shared library is the one that runs. Also: every
# example compiled for double against descent64.pc, and minimize.c linked
# with the static libraries (pkg-config --static, descent::descent_static).
#
#   scripts/test_install.sh BUILD_DIR
#
# An example that exits 77 (say, without Fashion-MNIST) is reported skipped.
# Environment: CC (cc), DESCENT_EXAMPLE_CFLAGS (extra compiler flags: the
# sanitizer builds' libraries need their runtime), DESCENT_TEST_TMP (the
# scratch folder; default a temporary one, removed afterwards).
# The CTest test `install` (label install) runs it on the build it belongs to.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
if [ $# -ne 1 ] || [ ! -f "$1/CMakeCache.txt" ]; then
  echo "usage: scripts/test_install.sh BUILD_DIR (a configured and built CMake build)" >&2
  exit 2
fi
build=$(cd "$1" && pwd)
cc=${CC:-cc}
read -r -a cflags <<<"${DESCENT_EXAMPLE_CFLAGS:-}"
if ! command -v pkg-config >/dev/null; then
  echo "SKIP: pkg-config is not installed (scripts/setup.sh installs it)"
  exit 77
fi
if [ -n "${DESCENT_TEST_TMP:-}" ]; then
  tmp=$DESCENT_TEST_TMP
  rm -rf "${tmp:?}"/*
else
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
fi
failures=0
fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}

# --- Install ---------------------------------------------------------------------
prefix=$tmp/prefix
cmake --install "$build" --prefix "$prefix" >"$tmp/install.log" ||
  { cat "$tmp/install.log"; echo "FAIL: cmake --install $build"; exit 1; }
pc=$(find "$prefix" -name descent.pc -path '*/pkgconfig/*')
[ -n "$pc" ] || { echo "FAIL: no descent.pc installed under $prefix"; exit 1; }
libdir=$(dirname "$(dirname "$pc")")
for f in include/descent.h include/descent_version.h bin/descent; do
  [ -f "$prefix/$f" ] || fail "$f not installed"
done
# The soname carries the ABI version: the major version, and before 1.0 the
# minor too (a 0.x minor may change the ABI): descent 0.2.0 is libdescent.so.0.2.
# The version is the installed header's.
version_h=$prefix/include/descent_version.h
major=$(awk '$2 == "DESCENT_VERSION_MAJOR" { print $3 }' "$version_h" 2>/dev/null || true)
minor=$(awk '$2 == "DESCENT_VERSION_MINOR" { print $3 }' "$version_h" 2>/dev/null || true)
[ -n "$major" ] && [ -n "$minor" ] || fail "no version in $version_h"
abi=$major
[ "$major" = 0 ] && abi=$major.$minor
for f in "libdescent.so.$abi" "libdescent64.so.$abi" libdescent.a libdescent64.a \
         pkgconfig/descent64.pc cmake/descent/descentConfig.cmake \
         cmake/descent/descentConfigVersion.cmake; do
  [ -e "$libdir/$f" ] || fail "${libdir#"$prefix/"}/$f not installed"
done
for lib in libdescent libdescent64; do
  soname=$(objdump -p "$libdir/$lib.so.$abi" 2>/dev/null | awk '$1 == "SONAME" { print $2 }' ||
           true)
  [ "$soname" = "$lib.so.$abi" ] ||
    fail "$lib.so.$abi's soname is '$soname', expected $lib.so.$abi (version $major.$minor)"
done
"$prefix/bin/descent" --version >/dev/null || fail "the installed program does not run"
echo "installed into $prefix"

export PKG_CONFIG_PATH=$libdir/pkgconfig
version=$(sed -n 's/^#define DESCENT_VERSION_STRING *"\(.*\)"/\1/p' "$prefix/include/descent_version.h")
[ "$(pkg-config --modversion descent)" = "$version" ] ||
  fail "descent.pc says version $(pkg-config --modversion descent), the header $version"
case " $(pkg-config --cflags descent64) " in
*" -DDESCENT_DOUBLE "*) ;;
*) fail "descent64.pc's Cflags lack -DDESCENT_DOUBLE: $(pkg-config --cflags descent64)" ;;
esac

# uses_installed EXE LIBRARY: ldd resolves LIBRARY (e.g. libdescent.so.0.2)
# to the prefix's copy (with the loader path set as when EXE runs).
uses_installed() {
  local line path
  line=$(ldd "$1" | grep -F "$2 =>" || true)
  path=$(printf '%s\n' "$line" | awk '{ print $3 }')
  if [ -z "$path" ] || [ "$(realpath "$path")" != "$(realpath "$libdir/$2")" ]; then
    fail "$(basename "$1") does not use $libdir/$2: ldd says '${line:-nothing}'"
    return 1
  fi
}

# run NAME EXE: runs the example in a scratch folder; 0 and 77 (skipped) pass.
skipped=()
run() {
  local name=$1 exe=$2 rc=0
  mkdir -p "$tmp/run/$name"
  echo "== $name"
  (cd "$tmp/run/$name" && timeout 900 "$exe") >"$tmp/run/$name.log" 2>&1 || rc=$?
  sed 's/^/   /' "$tmp/run/$name.log"
  if [ $rc -eq 77 ]; then
    skipped+=("$name")
  elif [ $rc -ne 0 ]; then
    fail "$name exited with status $rc"
  fi
}

examples=("$root"/examples/*.c)
[ -e "${examples[0]}" ] || { echo "FAIL: no examples/*.c"; exit 1; }

# --- pkg-config ------------------------------------------------------------------
mkdir -p "$tmp/pc"
for src in "${examples[@]}"; do
  name=$(basename "$src" .c)
  exe=$tmp/pc/$name
  # shellcheck disable=SC2046 # pkg-config's output is meant to split into words
  if ! "$cc" "${cflags[@]}" -Wall -Wextra -Werror "$src" \
       $(pkg-config --cflags --libs descent) -lm -o "$exe" 2>"$exe.log"; then
    cat "$exe.log"
    fail "$name.c does not build with pkg-config descent"
    continue
  fi
  LD_LIBRARY_PATH=$libdir uses_installed "$exe" "libdescent.so.$abi" || continue
  LD_LIBRARY_PATH=$libdir run "pkg-config: $name" "$exe"
  # The same source for double, against descent64: built; minimize.c also run.
  # shellcheck disable=SC2046
  if ! "$cc" "${cflags[@]}" -Wall -Wextra -Werror "$src" \
       $(pkg-config --cflags --libs descent64) -lm -o "$exe"64 2>"$exe.log"; then
    cat "$exe.log"
    fail "$name.c does not build with pkg-config descent64"
  elif [ "$name" = minimize ] && LD_LIBRARY_PATH=$libdir uses_installed "$exe"64 "libdescent64.so.$abi"
  then
    LD_LIBRARY_PATH=$libdir run "pkg-config: $name (double)" "$exe"64
  fi
done
# minimize.c with the static library: pkg-config --static names its
# dependencies; -l:libdescent.a picks the archive over the shared library.
if [ -f "$root/examples/minimize.c" ]; then
  libs=$(pkg-config --static --libs descent)
  # shellcheck disable=SC2046,SC2086
  if ! "$cc" "${cflags[@]}" "$root/examples/minimize.c" $(pkg-config --cflags descent) \
       ${libs/-ldescent /-l:libdescent.a } -lm -o "$tmp/pc/minimize-static" 2>"$tmp/pc/static.log"
  then
    cat "$tmp/pc/static.log"
    fail "minimize.c does not link statically with pkg-config --static descent"
  elif ldd "$tmp/pc/minimize-static" | grep -q libdescent; then
    fail "minimize-static uses a shared libdescent"
  else
    run "pkg-config --static: minimize" "$tmp/pc/minimize-static"
  fi
fi

# --- find_package(descent) --------------------------------------------------------
# No LD_LIBRARY_PATH: CMake gives the programs the installed library's folder
# as their run path.
configure() { # FOLDER [CMAKE ARGUMENTS...]
  local dir=$1
  shift
  cmake -S "$root/examples" -B "$dir" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_COMPILER="$cc" \
    -DCMAKE_C_FLAGS="${cflags[*]} -Wall -Wextra -Werror" "$@" >"$dir.log" 2>&1 &&
    cmake --build "$dir" -j 2 >>"$dir.log" 2>&1
}
if ! configure "$tmp/cmake"; then
  cat "$tmp/cmake.log"
  fail "the examples do not build with find_package(descent)"
else
  for src in "${examples[@]}"; do
    name=$(basename "$src" .c)
    uses_installed "$tmp/cmake/$name" "libdescent.so.$abi" || continue
    run "find_package: $name" "$tmp/cmake/$name"
  done
fi
# The static target, whose users link OpenBLAS, cJSON and oneDNN as
# descentConfig.cmake finds them.
if [ -f "$root/examples/minimize.c" ]; then
  if ! configure "$tmp/cmake-static" -DDESCENT_EXAMPLES_TARGET=descent::descent_static; then
    cat "$tmp/cmake-static.log"
    fail "the examples do not build with descent::descent_static"
  elif ldd "$tmp/cmake-static/minimize" | grep -q libdescent; then
    fail "minimize built with descent::descent_static uses a shared libdescent"
  else
    run "find_package, static: minimize" "$tmp/cmake-static/minimize"
  fi
fi

echo
if [ ${#skipped[@]} -gt 0 ]; then
  echo "skipped (exit 77): ${skipped[*]}"
fi
if [ $failures -gt 0 ]; then
  echo "test_install: $failures failure(s)"
  exit 1
fi
if [ ${#skipped[@]} -gt 0 ]; then
  echo "test_install: every example built against the installed library; all ran, ${#skipped[@]} skipped"
else
  echo "test_install: every example built and ran against the installed library"
fi
