/*
 * test_fast_paths.c - the fast paths of the training loop's own work (the
 * per-feature moments of standardization, ...) give the bits of the plain
 * loops they replace, at every thread count.
 *
 * Each reference below is the straightforward loop the fast path was written
 * from: same operations on each value, in the same order, so the comparisons
 * are exact. The file is rerun under each forced kernel path (tests/
 * CMakeLists.txt), so every path's copy is held to the same reference.
 */
#include "check.h"

#include "data/whiten.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

/* The moments as a walk down each column, two passes, in double. */
static void moments_reference(const descent_dataset *ds, double *mean, double *var) {
  size_t n = ds->n, f = ds->features;
  for (size_t j = 0; j < f; j++) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += ds->x[i * f + j];
    mean[j] = s / (double)n;
    double v = 0;
    for (size_t i = 0; i < n; i++) {
      double d = ds->x[i * f + j] - mean[j];
      v += d * d;
    }
    var[j] = v / (double)n;
  }
}

static void test_moments(void) {
  /* Widths below, at and across the block of 64 features, and a tail. */
  const size_t widths[] = {1, 63, 64, 65, 200, 784};
  for (size_t w = 0; w < sizeof widths / sizeof *widths; w++) {
    size_t n = 1001, f = widths[w];
    descent_dataset ds = {.n = n, .features = f};
    ds.x = malloc(n * f * sizeof *ds.x);
    double *mean = malloc(f * sizeof *mean), *var = malloc(f * sizeof *var);
    double *want_mean = malloc(f * sizeof *mean), *want_var = malloc(f * sizeof *var);
    descent_rng rng;
    descent_rng_seed(&rng, 7 + w);
    /* Pixel-like values with an offset, so the sums round. */
    for (size_t i = 0; i < n * f; i++)
      ds.x[i] = (descent_real)(0.3 + descent_rng_uniform(&rng) * (i % 5 ? 1.0 : 1e3) / 255.0);
    moments_reference(&ds, want_mean, want_var);
    for (int threads = 1; threads <= 3; threads++) {
      omp_set_num_threads(threads);
      memset(mean, 0xff, f * sizeof *mean);
      memset(var, 0xff, f * sizeof *var);
      preprocess_moments(&ds, mean, var);
      CHECK_MSG(memcmp(mean, want_mean, f * sizeof *mean) == 0,
                "moments: means differ from the column walk (%zu features, %d threads)", f,
                threads);
      CHECK_MSG(memcmp(var, want_var, f * sizeof *var) == 0,
                "moments: variances differ from the column walk (%zu features, %d threads)", f,
                threads);
    }
    omp_set_num_threads(1);
    free(ds.x);
    free(mean);
    free(var);
    free(want_mean);
    free(want_var);
  }
}

int main(void) {
  test_moments();
  return check_report();
}
