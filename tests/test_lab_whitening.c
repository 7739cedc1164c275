/*
 * test_lab_whitening.c - `descent demo whitening` (slide 31): on a linear
 * model, whitened inputs (descent's PCA and ZCA preprocessing) give the
 * Hessian X^T X / n condition number 1 and gradient descent at 1/L converges
 * in one step whatever the correlation; raw and standardized inputs take
 * the iterations the spectrum predicts, at most kappa/2 ln(1/eps).
 */
#include "check.h"
#include "lab_check.h"
#include "lab/lab.h"

#include <math.h>
#include <stdlib.h>

static double num(const lab_result *r, const char *row, const char *col) {
  return lab_check_num(r, "whitening", row, col);
}

static const char *const forms[4] = {"raw", "standardized", "pca", "zca"};
static const double rhos[4] = {0, 0.5, 0.9, 0.99};

static void test_defaults(void) {
  lab_result r;
  const lab_demo *d = lab_demo_find("whitening");
  CHECK(d != NULL);
  if (!d) return;
  int rc = lab_demo_run(d, NULL, NULL, &r);
  CHECK_MSG(rc == DESCENT_OK, "%s", descent_last_error());
  if (rc) return;
  /* Whitening is exact up to its eps (1e-10 against eigenvalues >= 0.01)
     and the rounding of W (x - mean) in descent_real. */
  const double kappa_tol = sizeof(descent_real) == 4 ? 1e-4 : 1e-6;
  const double eps = 1e-6, d_feat = 20, n = 2000, scale = 10;
  char row[64];
  for (int i = 0; i < 4; i++) {
    for (int k = 0; k < 4; k++) {
      snprintf(row, sizeof row, "%s, rho=%g", forms[k], rhos[i]);
      double kappa = num(&r, row, "kappa"), it = num(&r, row, "iterations");
      double predicted = num(&r, row, "predicted"), bound = num(&r, row, "kappa/2 ln(1/eps)");
      CHECK_CLOSE(bound, kappa / 2 * log(1 / eps), 1e-9);
      if (k >= 2) { /* whitened: H = I, one step lands on the minimum */
        CHECK_MSG(fabs(kappa - 1) < kappa_tol, "%s: kappa %.12g", row, kappa);
        CHECK_MSG(it >= 1 && it <= 2, "%s: %g iterations", row, it);
        continue;
      }
      /* The exact spectral sum (in double) against descent's gradient
         descent (in descent_real), and the bound every run must meet. */
      CHECK_MSG(fabs(it - predicted) <= 0.01 * predicted + 2, "%s: %g iterations, predicted %g",
                row, it, predicted);
      CHECK_MSG(it <= bound + 1, "%s: %g iterations above kappa/2 ln(1/eps) = %g", row, it, bound);
      CHECK_MSG(it >= bound / 4, "%s: %g iterations, far below kappa/2 ln(1/eps) = %g", row, it,
                bound);
    }
    /* Standardized: H is the sample correlation matrix, whose condition
       number is the population's (1 + (d-1) rho) / (1 - rho) within the
       sample's spread (smallest eigenvalue (1 - sqrt(d/n))^2 times the
       population's, Marchenko-Pastur). */
    snprintf(row, sizeof row, "standardized, rho=%g", rhos[i]);
    double population = (1 + (d_feat - 1) * rhos[i]) / (1 - rhos[i]);
    double spread = pow(1 - sqrt(d_feat / n), -2);
    double kappa = num(&r, row, "kappa");
    CHECK_MSG(kappa >= population / spread && kappa <= population * spread * spread,
              "%s: kappa %g, population %g", row, kappa, population);
  }
  /* Standardizing removes the scales: at rho = 0 raw kappa is about
     scale^2 times the standardized one, and so are the iterations... */
  double ratio = num(&r, "raw, rho=0", "kappa") / num(&r, "standardized, rho=0", "kappa");
  CHECK_MSG(ratio > scale * scale / 2 && ratio < scale * scale * 2, "raw/standardized %g", ratio);
  CHECK(num(&r, "raw, rho=0", "iterations") > 20 * num(&r, "standardized, rho=0", "iterations"));
  /* ... but not the correlation: standardized iterations still grow by
     more than (1 - 0) / (1 - 0.99) / 2 from rho 0 to 0.99, while whitened
     ones stay at one. */
  CHECK(num(&r, "standardized, rho=0.99", "iterations") >
        50 * num(&r, "standardized, rho=0", "iterations"));
  CHECK(num(&r, "standardized, rho=0.99", "kappa") > 1000);
  lab_result_free(&r);
}

static void test_bad_options(void) {
  static const char *const bad[][3] = {
      {"rho", "1", NULL}, {"rho", "-0.1", NULL},  {"n", "30", NULL},   {"dim", "1", NULL},
      {"eps", "0", NULL}, {"scale", "abc", NULL}, {"iters", "0", NULL}};
  lab_check_refuses("whitening", bad, sizeof bad / sizeof bad[0]);
}

int main(void) {
  test_defaults();
  test_bad_options();
  return check_report();
}
