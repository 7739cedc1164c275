/*
 * test_gemm.c - the BLAS path against the naive reference kernel, on awkward
 * shapes (1, 7, 129 and mixed) and every combination of transposed operands,
 * with alpha and beta other than 1 and 0.
 *
 * Tolerance: the two sum in different orders, so they differ by rounding. The
 * bound is k * eps * sum|a_ip b_pj| per element, eps the precision's epsilon;
 * a kernel that drops or repeats one term breaks it by far more.
 */
#include "check.h"

#include <float.h>
#include <stdlib.h>

#ifdef DESCENT_DOUBLE
#define EPS DBL_EPSILON
#else
#define EPS FLT_EPSILON
#endif

static void fill(descent_real *x, size_t n, descent_rng *rng) {
  for (size_t i = 0; i < n; i++) x[i] = (descent_real)(2 * descent_rng_uniform(rng) - 1);
}

static void check_shape(size_t m, size_t n, size_t k, int ta, int tb, descent_rng *rng) {
  size_t lda = ta ? m : k, ldb = tb ? k : n;
  descent_real *a = malloc(m * k * sizeof *a), *b = malloc(k * n * sizeof *b);
  descent_real *c = malloc(m * n * sizeof *c), *ref = malloc(m * n * sizeof *ref);
  fill(a, m * k, rng);
  fill(b, k * n, rng);
  fill(c, m * n, rng);
  for (size_t i = 0; i < m * n; i++) ref[i] = c[i];
  descent_real alpha = (descent_real)0.75, beta = (descent_real)-0.5;
  descent_gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, n);
  descent_gemm_reference(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, ref, n);
  double worst = 0;
  for (size_t i = 0; i < m * n; i++) {
    /* |a| and |b| are at most 1, so sum|a b| <= k. */
    double bound = ((double)k + 2) * EPS * ((double)k + 1) + 1e-30;
    double err = fabs((double)c[i] - (double)ref[i]) / bound;
    if (err > worst) worst = err;
  }
  CHECK_MSG(worst <= 1, "m=%zu n=%zu k=%zu ta=%d tb=%d: error %.3g of the bound", m, n, k, ta, tb,
            worst);
  free(a), free(b), free(c), free(ref);
}

/* With beta = 0 the BLAS must not read C: NaN there must not leak through. */
static void check_beta_zero_ignores_c(void) {
  descent_real a[6] = {1, 2, 3, 4, 5, 6}, b[6] = {1, 0, 0, 1, 1, 1};
  descent_real c[4] = {NAN, NAN, NAN, NAN};
  descent_gemm(0, 0, 2, 2, 3, 1, a, 3, b, 2, 0, c, 2);
  CHECK(c[0] == 4 && c[1] == 5 && c[2] == 10 && c[3] == 11);
}

int main(void) {
  descent_rng rng;
  descent_rng_seed(&rng, 7);
  const size_t sizes[] = {1, 7, 129};
  for (int ta = 0; ta < 2; ta++)
    for (int tb = 0; tb < 2; tb++)
      for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
          for (int l = 0; l < 3; l++) check_shape(sizes[i], sizes[j], sizes[l], ta, tb, &rng);
  /* The MLP's own shapes: batch 128 against 784 and 1024, and a ragged last batch. */
  check_shape(128, 1024, 784, 0, 1, &rng);
  check_shape(1024, 784, 128, 1, 0, &rng);
  check_shape(96, 10, 1024, 0, 1, &rng);
  check_beta_zero_ignores_c();
  /* The reference itself, on a product known by hand. */
  descent_real a[4] = {1, 2, 3, 4}, b[4] = {5, 6, 7, 8}, c[4] = {0};
  descent_gemm_reference(0, 0, 2, 2, 2, 1, a, 2, b, 2, 0, c, 2);
  CHECK(c[0] == 19 && c[1] == 22 && c[2] == 43 && c[3] == 50);
  descent_gemm_reference(1, 1, 2, 2, 2, 1, a, 2, b, 2, 0, c, 2);
  CHECK(c[0] == 23 && c[1] == 31 && c[2] == 34 && c[3] == 46);
  return check_report();
}
