/*
 * isa.c - which instruction-set path the kernels take, chosen at run time.
 *
 * The library is built for the baseline of its architecture; kernels tuned
 * for a wider vector unit (src/core/sgemm_avx512.c, src/nn/conv_direct.c on
 * x86-64) are compiled for it file by file and called only where the CPU has
 * it. The path is the best the CPU runs, unless the environment variable
 * DESCENT_ISA asks for a lower one (avx2, portable), so that every path can
 * be tested and timed on a machine that has a wider one. Asking for a path
 * the CPU cannot run is an error (descent_isa_check), never a silent
 * fallback.
 */
#include "internal.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static const char *const names[] = {"portable", "avx2", "avx512"};

/* Compiled for the baseline, whatever a file-level -m option says: it runs
   on every CPU. */
#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("arch=x86-64"))) static int cpu_path(void) {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return DESCENT_ISA_AVX512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return DESCENT_ISA_AVX2;
  return DESCENT_ISA_PORTABLE;
}
#else
static int cpu_path(void) {
  return DESCENT_ISA_PORTABLE;
}
#endif

/* DESCENT_ISA's path: -1 when unset, empty or "auto"; -2 when unknown. */
static int asked_path(void) {
  const char *v = getenv("DESCENT_ISA");
  if (!v || !*v || strcmp(v, "auto") == 0) return -1;
  for (int i = 0; i < 3; i++)
    if (strcmp(v, names[i]) == 0) return i;
  return -2;
}

int descent_isa_check(void) {
  int asked = asked_path(), cpu = cpu_path();
  if (asked == -2)
    return descent_fail(DESCENT_EINVAL,
                        "DESCENT_ISA: unknown instruction-set path; valid: auto, avx512, avx2, "
                        "portable");
  if (asked > cpu)
    return descent_fail(DESCENT_ENOTSUP,
                        "DESCENT_ISA=%s: this CPU cannot run it (it runs %s); valid here: auto%s%s",
                        names[asked], names[cpu], cpu >= DESCENT_ISA_AVX2 ? ", avx2" : "",
                        ", portable");
  return DESCENT_OK;
}

int descent_cpu_has_avx512(void) {
  return cpu_path() >= DESCENT_ISA_AVX512;
}

int descent_isa_path(void) {
  /* Read once: the path must not change while kernels run. Two first
     callers on two threads compute the same value; the atomic keeps that
     race defined. */
  static atomic_int path = -1;
  int p = atomic_load_explicit(&path, memory_order_relaxed);
  if (p >= 0) return p;
  int cpu = cpu_path(), asked = asked_path();
  p = asked >= 0 && asked < cpu ? asked : cpu;
  atomic_store_explicit(&path, p, memory_order_relaxed);
  return p;
}

const char *descent_isa_name(void) {
  return names[descent_isa_path()];
}
