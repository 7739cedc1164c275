/*
 * test_lab_momentum_noise.c - memory under noise (slide 32), asserted on the
 * tables of `descent demo momentum-noise`: SGD at alpha, momentum at alpha
 * and SGD at the effective step alpha/(1 - mu) on a noisy quadratic.
 *
 * The bounds come from the closed forms the demo derives (the AR(2)
 * process of the heavy ball): the stationary loss (E f - f* = (A sigma^2 /
 * 4) sum h_i / (1 - A h_i c / 2), A = alpha/(1 - mu), c = 1 for SGD and
 * (1 - mu)/(1 + mu) for momentum), the exact expected loss curve (the
 * iterations to a level), the correlation of successive gradients and the
 * length of a step at the floor. The tolerances are the sampling error of
 * ten seeds' time averages (a few per cent), well below what a wrong
 * momentum (dampened, or without the 1/(1 - mu)) would give.
 */
#include "check.h"
#include "lab_check.h"
#include "lab/lab.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const table = "momentum-noise";

static double num(const lab_result *r, const char *tab, const char *row, const char *col) {
  return lab_check_num(r, tab, row, col);
}

static int run(const char *const *overrides, lab_result *r) {
  return lab_check_run("momentum-noise", overrides, NULL, r);
}

static const char *const rows[3] = {"sgd", "momentum", "sgd at alpha/(1-mu)"};

/* Every method's floor, time to the level, agreement and step length
   against the closed forms, for momentum mu. */
static void check_against_theory(const lab_result *r, double mu, const char *label) {
  double floor[3], iters[3];
  for (int k = 0; k < 3; k++) {
    floor[k] = num(r, table, rows[k], "floor");
    double closed = num(r, table, rows[k], "floor closed form");
    iters[k] = num(r, table, rows[k], "iters to level");
    double expected = num(r, table, rows[k], "expected iters");
    double cos_early = num(r, table, rows[k], "cos early");
    double cos_floor = num(r, table, rows[k], "cos at floor");
    double cos_closed = num(r, table, rows[k], "cos closed form");
    double step_floor = num(r, "momentum-noise-steps", rows[k], "at floor");
    double step_closed = num(r, "momentum-noise-steps", rows[k], "at floor closed form");
    double step_early = num(r, "momentum-noise-steps", rows[k], "early");
    printf("%s %-20s floor %.4g (closed %.4g), iters %g (expected %g), cos %.3f -> %.4f "
           "(closed %.4f), step %.3f -> %.4f (closed %.4f)\n",
           label, rows[k], floor[k], closed, iters[k], expected, cos_early, cos_floor, cos_closed,
           step_early, step_floor, step_closed);
    /* the noise floor: within 5% of the closed form */
    CHECK_MSG(fabs(floor[k] / closed - 1) <= 0.05, "%s %s: floor %g, closed form %g", label,
              rows[k], floor[k], closed);
    /* the time to the level (far above the floor): the mean of ten runs
       follows the expected curve within 3% */
    CHECK_MSG(fabs(iters[k] / expected - 1) <= 0.03, "%s %s: %g iterations, expected %g", label,
              rows[k], iters[k], expected);
    /* the gradients agree far from the minimum, not at the floor, where
       their mean cosine is the closed form's correlation within 0.01 */
    CHECK_MSG(cos_early >= 0.8, "%s %s: cos early %g", label, rows[k], cos_early);
    CHECK_MSG(fabs(cos_floor) <= 0.06 && fabs(cos_floor - cos_closed) <= 0.01,
              "%s %s: cos at the floor %g, closed form %g", label, rows[k], cos_floor, cos_closed);
    /* a step's length relative to the effective step's at the floor */
    CHECK_MSG(fabs(step_floor / step_closed - 1) <= 0.03, "%s %s: step %g, closed form %g", label,
              rows[k], step_floor, step_closed);
    CHECK_MSG(step_early >= 0.9 && step_early <= 1.3, "%s %s: early step %g", label, rows[k],
              step_early);
  }
  /* SGD takes steps of exactly alpha |g|; momentum's shrink to about
     sqrt((1 - mu)/(1 + mu)) of the effective step's when gradients disagree */
  CHECK_CLOSE(num(r, "momentum-noise-steps", "sgd", "at floor"), 1, 1e-5);
  double shrunk = num(r, "momentum-noise-steps", "momentum", "at floor");
  CHECK_MSG(fabs(shrunk / sqrt((1 - mu) / (1 + mu)) - 1) <= 0.05, "%s: momentum's step %g", label,
            shrunk);
  /* momentum at alpha is SGD at alpha/(1-mu): the same floor within 5%,
     the same speed within 10%, both 1/(1-mu) times SGD's at alpha (within
     20%: the floors to first order, the speed at the slow coordinates) */
  CHECK_MSG(fabs(floor[1] / floor[2] - 1) <= 0.05, "%s: floors momentum %g, sgd at A %g", label,
            floor[1], floor[2]);
  CHECK_MSG(fabs(iters[1] / iters[2] - 1) <= 0.1, "%s: iterations momentum %g, sgd at A %g", label,
            iters[1], iters[2]);
  double gain = 1 / (1 - mu);
  CHECK_MSG(iters[0] / iters[1] >= 0.8 * gain && iters[0] / iters[1] <= 1.2 * gain,
            "%s: momentum %g times faster than sgd at alpha, 1/(1-mu) = %g", label,
            iters[0] / iters[1], gain);
  CHECK_MSG(fabs(floor[1] / floor[0] / gain - 1) <= 0.2, "%s: floors momentum %g, sgd %g", label,
            floor[1], floor[0]);
}

static void test_defaults(void) {
  lab_result r;
  if (run(NULL, &r)) return;
  check_against_theory(&r, 0.9, "defaults");
  lab_result_free(&r);
}

/* Another momentum, curvature spread and noise. */
static void test_other_setting(void) {
  static const char *const over[] = {"mu",    "0.6",  "lr",    "0.04", "kappa", "4", "sigma", "2",
                                     "iters", "8000", "seeds", "8",    "seed",  "7", NULL};
  lab_result r;
  if (run(over, &r)) return;
  check_against_theory(&r, 0.6, "mu 0.6");
  lab_result_free(&r);
}

static void test_bad_options(void) {
  const lab_demo *d = lab_demo_find("momentum-noise");
  lab_result r;
  static const char *const unstable[] = {"lr", "0.5", NULL}; /* effective step 5 */
  CHECK_FAILS(lab_demo_run(d, unstable, NULL, &r), DESCENT_EINVAL, "lr/(1-mu)");
  static const char *const mu_one[] = {"mu", "1", NULL};
  CHECK_FAILS(lab_demo_run(d, mu_one, NULL, &r), DESCENT_EINVAL, "--mu");
  static const char *const words[] = {"seeds", "many", NULL};
  CHECK_FAILS(lab_demo_run(d, words, NULL, &r), DESCENT_EINVAL, "--seeds");
  static const char *const huge[] = {"iters", "2000000", "dim", "1000", NULL};
  CHECK_FAILS(lab_demo_run(d, huge, NULL, &r), DESCENT_EINVAL, "too many");
  static const char *const long_run[] = {"iters", "10000000", NULL};
  CHECK_FAILS(lab_demo_run(d, long_run, NULL, &r), DESCENT_EINVAL, "--iters");
}

int main(void) {
  test_defaults();
  test_other_setting();
  test_bad_options();
  return check_report();
}
