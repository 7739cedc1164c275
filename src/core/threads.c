/*
 * threads.c - one thread count for OpenMP and the BLAS.
 *
 * descent links the OpenMP build of OpenBLAS, so both draw from the same
 * OpenMP pool: setting the count once here keeps them from oversubscribing the
 * cores (two pools of busy-waiting threads on two cores cost 2-5x).
 */
#include "internal.h"

#include <cblas.h>
#include <omp.h>
#include <stdio.h>

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
  static char name[128];
  const char *parallel = "";
  switch (openblas_get_parallel()) {
  case 0: parallel = "sequential"; break;
  case 1: parallel = "pthreads"; break;
  case 2: parallel = "OpenMP"; break;
  }
  snprintf(name, sizeof name, "%s(%s, %s core)", openblas_get_config(), parallel,
           openblas_get_corename());
  return name;
}
