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
 * On AMD Zen 4, which runs 512-bit operations as two 256-bit halves, the
 * AVX-512 families OpenBLAS picks there (Cooperlake, SkylakeX) lose to its
 * Haswell kernels, which it then gets instead. Measured on a 2-core EPYC
 * (family 25 model 17), best of 40 calls, one thread, the MLP's products at
 * batch 128 (x W^T 128x1024x784 and 128x1024x1024, dW 1024x1024x128 and
 * 1024x784x128, dy W 128x1024x1024), ms: Cooperlake 2.12 3.20 2.90 1.98
 * 2.95 (13.16 in all), SkylakeX 12.98 in all, Haswell 2.00 2.78 2.60 1.92
 * 2.59 (11.89).
 *
 * It runs in descent_cpu_setup, a call the program makes (the descent
 * program at its start), never by itself when the library loads: it changes
 * OpenBLAS's kernels for the whole process, the host program's products
 * included, and sets the environment for a moment, so it must come before
 * other threads use OpenBLAS or read the environment. A program that set
 * OPENBLAS_CORETYPE keeps its choice.
 */
#include "internal.h"

#include <cblas.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#if defined(__x86_64__)
#include <cpuid.h>
#endif
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

/* Whether the CPU runs 512-bit operations as two halves (AMD Zen 4), read
   with cpuid: asked on every matrix product (gemm.c), and cpuid is slow (it
   leaves a virtual machine for its hypervisor), so read once. */
static int splits_avx512(void);

int descent_cpu_splits_avx512(void) {
  static atomic_int known = -1; /* two first callers compute the same value */
  int v = atomic_load_explicit(&known, memory_order_relaxed);
  if (v < 0) {
    v = splits_avx512();
    atomic_store_explicit(&known, v, memory_order_relaxed);
  }
  return v;
}

static int splits_avx512(void) {
#if defined(__x86_64__)
  unsigned eax, ebx, ecx, edx;
  if (!descent_cpu_has_avx512() || !__get_cpuid(0, &eax, &ebx, &ecx, &edx)) return 0;
  /* "AuthenticAMD" in ebx, edx, ecx */
  if (ebx != 0x68747541 || edx != 0x69746e65 || ecx != 0x444d4163) return 0;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return 0;
  unsigned family = ((eax >> 8) & 0xf) + ((eax >> 20) & 0xff);
  return family == 0x19; /* Zen 4; Zen 5 (0x1a) has whole 512-bit units */
#else
  return 0;
#endif
}

/* Zen 4 from an AVX-512 family to Haswell's kernels, or NULL. */
static const char *split_core(void) {
  if (!descent_cpu_splits_avx512()) return NULL;
  if (strcmp(original_core, "Cooperlake") != 0 && strcmp(original_core, "SkylakeX") != 0)
    return NULL;
  return "Haswell";
}

/* Moves OpenBLAS to better kernels where it fell back or chose poorly. */
static void blas_select(void) {
  if (getenv("OPENBLAS_CORETYPE") || !gotoblas_dynamic_init || !gotoblas_dynamic_quit) return;
  const char *core = forced_core();
  if (!core) core = split_core();
  if (!core && (strcmp(original_core, "Prescott") == 0 || strcmp(original_core, "Core2") == 0))
    core = better_core();
  if (!core || strcmp(core, original_core) == 0) return;
  setenv("OPENBLAS_CORETYPE", core, 1);
  gotoblas_dynamic_quit();
  gotoblas_dynamic_init();
  unsetenv("OPENBLAS_CORETYPE");
}

/* descent_cpu_setup's status: 1 while it has not run. */
static atomic_int outcome = 1;

int descent_cpu_setup_done(void) {
  return atomic_load(&outcome) == 0;
}

int descent_cpu_setup(void) {
  descent_error_clear();
  int rc = descent_isa_check();
  if (rc) return rc;
  /* Once (a second run would take descent's own choice for OpenBLAS's); later
     calls return the first one's status, and its message when it failed. */
  static char message[256];
  int first = atomic_load(&outcome);
  if (first != 1) return first ? descent_fail(first, "%s", message) : DESCENT_OK;
  snprintf(original_core, sizeof original_core, "%s", openblas_get_corename());
  blas_select();
  rc = descent_dnnl_setup();
  if (rc) snprintf(message, sizeof message, "%s", descent_last_error());
  atomic_store(&outcome, rc);
  return rc;
}

const char *descent_blas_detected_core(void) {
  return original_core[0] ? original_core : openblas_get_corename();
}
