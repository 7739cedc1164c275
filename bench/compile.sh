# shellcheck shell=bash
# bench/compile.sh - builds the library and compiles a C benchmark against
# it: what every script with a C program of its own needs. Sourced from the
# repository root; defines
#   bench_build BUILD [TARGET...]
#       configures BUILD (Release) when it is new, then builds TARGETs (all
#       when none are named); cmake's output goes to stderr.
#   bench_compile OUT SOURCE LIB [CC_FLAG...]
#       compiles SOURCE into OUT against the static library LIB
#       (BUILD/libdescent.a, or libdescent64.a for the double build, with
#       -DDESCENT_DOUBLE among the flags) and what the library needs:
#       OpenBLAS (the OpenMP build, which bundles LAPACK), zlib, cJSON,
#       OpenMP and, when LIB was built with it, oneDNN. The headers are the
#       repository's include/ and src/ and the build's generated include/.
#       Libraries of the benchmark's own (bench_libs, an array, empty unless
#       set) come last on the link line, after OpenBLAS.

bench_build() {
    local build=$1
    shift
    if [ ! -f "$build/CMakeCache.txt" ]; then
        cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >&2 || return 1
    fi
    if [ $# -gt 0 ]; then
        cmake --build "$build" -j "$(nproc)" --target "$@" >&2
    else
        cmake --build "$build" -j "$(nproc)" >&2
    fi
}

bench_compile() {
    local out=$1 source=$2 lib=$3 multiarch
    shift 3
    if [ ! -f "$lib" ]; then
        echo "$(basename "$0"): $lib not found: build the library first" >&2
        return 1
    fi
    local dnnl=()
    # (grep reads all of nm's output: with -q it would stop early, nm would
    # die of SIGPIPE, and pipefail would make the test false.)
    if nm -u "$lib" 2>/dev/null | grep ' dnnl_' >/dev/null; then dnnl=(-ldnnl); fi
    multiarch=$(cc -print-multiarch 2>/dev/null || true)
    # shellcheck disable=SC2154 # bench_libs: set by the caller, if at all
    cc "$@" -fopenmp -Iinclude -Isrc -I"$(dirname "$lib")/include" "$source" "$lib" \
        ${multiarch:+-L/usr/lib/$multiarch/openblas-openmp} -lopenblas -lz -ldeflate -lcjson \
        "${dnnl[@]}" ${bench_libs[@]+"${bench_libs[@]}"} -lm -o "$out"
}
