/*
 * threads.c - one thread count for OpenMP and the BLAS.
 *
 * descent links the OpenMP build of OpenBLAS, so both draw from the same
 * OpenMP pool: setting the count once here keeps them from oversubscribing the
 * cores (two pools of busy-waiting threads on two cores cost 2-5x).
 */
#include "internal.h"
#include "sgemm_avx512.h"

#include <cblas.h>
#include <omp.h>
#include <stdio.h>
#include <string.h>

int descent_set_threads(int n) {
  if (n <= 0) n = omp_get_num_procs();
  omp_set_num_threads(n);
  openblas_set_num_threads(n);
  return n;
}

int descent_get_threads(void) {
  return omp_get_max_threads();
}

const char *descent_blas_name(void) {
  static char name[256];
  const char *parallel = "";
  switch (openblas_get_parallel()) {
  case 0:
    parallel = "sequential";
    break;
  case 1:
    parallel = "pthreads";
    break;
  case 2:
    parallel = "OpenMP";
    break;
  }
  /* openblas_get_config() names the kernels too, after a space; keep the version. */
  char version[64];
  snprintf(version, sizeof version, "%s", openblas_get_config());
  char *space = strchr(version + sizeof "OpenBLAS", ' ');
  if (space) *space = '\0';
  const char *core = openblas_get_corename(), *detected = descent_blas_detected_core();
  char kernels[160];
  if (strcmp(core, detected) == 0)
    snprintf(kernels, sizeof kernels, "%s kernels", core);
  else
    snprintf(kernels, sizeof kernels, "%s kernels (it detected %s; see blas_select.c)", core,
             detected);
#ifdef DESCENT_DOUBLE
  const int own = 0;
#else
  const int own = descent_sgemm_enabled && sgemm_avx512_available();
#endif
  snprintf(name, sizeof name, "%s, %s threads, %s%s", version, parallel, kernels,
           own ? "; large float products on descent's AVX-512 kernel" : "");
  return name;
}
