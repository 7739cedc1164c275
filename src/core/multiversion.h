/*
 * multiversion.h - one C function compiled for each instruction-set path
 * (src/core/isa.c) and chosen at run time, from a single body.
 *
 * The library is compiled for its architecture's baseline (SSE2 on x86-64),
 * so a plain loop vectorizes four floats wide on every CPU. Elementwise
 * kernels (optimizer transforms, pooling, batch norm, dropout) are written
 * once as an always-inlined body; the macros below paste that body into one
 * function per path, each compiled with the path's target attribute, and a
 * dispatcher that calls the copy for descent_isa_path() (read once per
 * process, so DESCENT_ISA forces every kernel at once):
 *
 *   static MULTIVERSION_BODY void scale_body(float *x, float k, size_t n) {
 *   #pragma omp simd
 *     for (size_t i = 0; i < n; i++) x[i] *= k;
 *   }
 *   MULTIVERSION_VOID(scale, (float *x, float k, size_t n), (x, k, n))
 *
 * defines `static void scale(float *x, float k, size_t n)`; MULTIVERSION(type,
 * name, params, args) does the same for a body that returns a value.
 *
 * The copies are:
 *   avx512    AVX-512F and FMA with 512-bit vectors preferred: what isa.c
 *             checks for this path (avx512f), and no more, so no copy can
 *             meet an instruction the CPU lacks;
 *   avx2      AVX2 and FMA;
 *   portable  the file's own flags (the baseline).
 * On other architectures, and with compilers other than GCC and Clang, only
 * the portable copy exists and the macros define the function directly.
 *
 * Results do not depend on the path. The library is compiled in ISO C mode,
 * where GCC forms no fused multiply-adds (-ffp-contract=off), and Clang is
 * told the same below; each copy then rounds every operation as the scalar
 * C does, whatever its vector width. A body must therefore not use
 * `#pragma omp simd reduction`, which lets each width sum in its own order.
 * A body must not open an OpenMP parallel region either: the region would be
 * outlined from the body before inlining, and run baseline code on every
 * path. Parallel regions stay in the caller, around the dispatched call.
 */
#ifndef DESCENT_MULTIVERSION_H
#define DESCENT_MULTIVERSION_H

#include "descent.h"

/* The body of a multiversioned function: inlined into each copy, so that it
   is compiled under each copy's target. */
#define MULTIVERSION_BODY inline __attribute__((always_inline))

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))

#ifdef __clang__
/* Clang contracts a * b + c into one rounding by default; GCC in ISO C mode
   does not. Either way the copies must round as the portable one. */
#pragma STDC FP_CONTRACT OFF
/* Clang takes no vector-width preference in a target attribute. */
#define MULTIVERSION_TARGET_AVX512 __attribute__((target("avx512f,fma")))
#else
#define MULTIVERSION_TARGET_AVX512 __attribute__((target("avx512f,fma,prefer-vector-width=512")))
#endif
#define MULTIVERSION_TARGET_AVX2 __attribute__((target("avx2,fma")))

/* RET is `return` or nothing. */
#define MULTIVERSION_DEFINE(type, name, params, args, RET)                                         \
  MULTIVERSION_TARGET_AVX512 static type name##_avx512 params {                                    \
    RET name##_body args;                                                                          \
  }                                                                                                \
  MULTIVERSION_TARGET_AVX2 static type name##_avx2 params {                                        \
    RET name##_body args;                                                                          \
  }                                                                                                \
  static type name##_portable params {                                                             \
    RET name##_body args;                                                                          \
  }                                                                                                \
  static type name params {                                                                        \
    int path_ = descent_isa_path();                                                                \
    if (path_ == DESCENT_ISA_AVX512) {                                                             \
      RET name##_avx512 args;                                                                      \
    } else if (path_ == DESCENT_ISA_AVX2) {                                                        \
      RET name##_avx2 args;                                                                        \
    } else {                                                                                       \
      RET name##_portable args;                                                                    \
    }                                                                                              \
  }

#else /* one path */

#define MULTIVERSION_DEFINE(type, name, params, args, RET)                                         \
  static type name params {                                                                        \
    RET name##_body args;                                                                          \
  }

#endif

#define MULTIVERSION(type, name, params, args)                                                     \
  MULTIVERSION_DEFINE(type, name, params, args, return )
#define MULTIVERSION_VOID(name, params, args) MULTIVERSION_DEFINE(void, name, params, args, )

#endif /* DESCENT_MULTIVERSION_H */
