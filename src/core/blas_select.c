/*
 * blas_select.c - makes OpenBLAS use the kernels this CPU can run.
 *
 * OpenBLAS built with DYNAMIC_ARCH (Debian's) picks its kernels from the CPU
 * model number at load time. A model newer than the OpenBLAS release (Debian
 * 12's 0.3.21 on Emerald Rapids, model 207, for one) falls back to the generic
 * "Prescott" SSE3 kernels: measured here, sgemm at 128x1024x1024 runs at 18
 * GFLOP/s on Prescott against 112 on Cooperlake, one core. When that fallback
 * happened, the user has not chosen a core (OPENBLAS_CORETYPE unset), and the
 * CPU reports the instruction sets of a better kernel family, we re-run
 * OpenBLAS's own selection with that family named, exactly as if the user had
 * set OPENBLAS_CORETYPE. test_gemm checks the result against the naive kernel.
 *
 * The kernel path forced with DESCENT_ISA=avx2 (src/core/isa.c) applies to
 * OpenBLAS too: on a CPU with AVX-512 its kernels are moved to Haswell's,
 * the family an AVX2-only CPU gets, so that the forced path times and tests
 * what such a CPU runs. DESCENT_ISA=portable leaves OpenBLAS to its own
 * choice: that path stands for CPUs descent has no tuned kernels for (64-bit
 * ARM, where OpenBLAS has its own), and tests descent's portable C.
 *
 * It runs once, as a constructor: after OpenBLAS's own (a dependency's
 * constructors run first) and before main, while the process has one thread,
 * so the brief setenv cannot race a getenv.
 */
#include "internal.h"

#include <cblas.h>
#include <stdlib.h>
#include <string.h>

/* OpenBLAS's exported selection entry points; weak so a build without them
   (a non-DYNAMIC_ARCH OpenBLAS) links and simply keeps its kernels. */
extern void gotoblas_dynamic_init(void) __attribute__((weak));
extern void gotoblas_dynamic_quit(void) __attribute__((weak));

static char original_core[32];

static const char *better_core(void) {
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq")) {
    if (__builtin_cpu_supports("avx512bf16")) return "Cooperlake";
    return "SkylakeX";
  }
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
#endif
  return NULL;
}

/* The family a forced avx2 path asks for on a CPU with AVX-512, or NULL. */
static const char *forced_core(void) {
  const char *isa = getenv("DESCENT_ISA");
  if (!isa || strcmp(isa, "avx2") != 0) return NULL;
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx2") &&
      __builtin_cpu_supports("fma"))
    return "Haswell";
#endif
  return NULL;
}

__attribute__((constructor)) static void blas_select(void) {
  snprintf(original_core, sizeof original_core, "%s", openblas_get_corename());
  if (getenv("OPENBLAS_CORETYPE") || !gotoblas_dynamic_init || !gotoblas_dynamic_quit) return;
  const char *core = forced_core();
  if (!core && (strcmp(original_core, "Prescott") == 0 || strcmp(original_core, "Core2") == 0))
    core = better_core();
  if (!core || strcmp(core, original_core) == 0) return;
  setenv("OPENBLAS_CORETYPE", core, 1);
  gotoblas_dynamic_quit();
  gotoblas_dynamic_init();
  unsetenv("OPENBLAS_CORETYPE");
}

const char *descent_blas_detected_core(void) {
  return original_core;
}
