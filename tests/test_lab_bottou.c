/*
 * test_lab_bottou.c - Bottou & Bousquet 2008 (slide 18), asserted on the
 * tables of `descent demo bottou-bousquet`: least squares on n examples,
 * SGD (one example per step) against full-batch gradient descent.
 *
 * The bounds come from the theory the demo states: the ERM's test excess
 * s^2 d / (2 (n - d - 1)) and its training error s^2 d / (2n) below the
 * truth's (a chi-square: within a few sd of d / 2n); gradient descent's
 * iterations to a level from its contraction (1 - lambda/L)^2 per
 * iteration; SGD at 1/t reaching twice the ERM's test excess within a few
 * epochs, several times fewer examples than gradient descent; the
 * constant step's floor s^2 Q / (2 (1 - Q)) over the ERM's; the schedules'
 * order at the end: the one whose last steps are largest ends highest.
 */
#include "check.h"
#include "lab_check.h"
#include "lab/lab.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static double num(const lab_result *r, const char *table, const char *row, const char *col) {
  return lab_check_num(r, table, row, col);
}

static int run(const char *const *overrides, lab_result *r) {
  return lab_check_run("bottou-bousquet", overrides, NULL, r);
}

static const char *const T = "bottou-bousquet", *const U = "bottou-bousquet-theory";

static void check_claims(const lab_result *r, const char *label, double n, double d) {
  /* the estimation error: the ERM's test excess is one draw of a quantity
     whose mean is s^2 d / (2 (n - d - 1)) and relative sd about sqrt(2/d);
     its training error below the truth's, a chi-square_d times s^2/(2n) */
  double erm = num(r, U, "ERM's test excess R(w_n) - R*", "value");
  double erm_closed = num(r, U, "ERM's test excess R(w_n) - R*", "closed form");
  CHECK_MSG(fabs(erm / erm_closed - 1) <= 3 * sqrt(2 / d), "%s: ERM's test excess %g, mean %g",
            label, erm, erm_closed);
  double fit = num(r, U, "ERM's training error below w*'s", "value");
  double fit_closed = num(r, U, "ERM's training error below w*'s", "closed form");
  CHECK_MSG(fabs(fit / fit_closed - 1) <= 3 * sqrt(2 / d), "%s: ERM's optimism %g, mean %g", label,
            fit, fit_closed);
  /* speed in examples touched: SGD at 1/t needs a few epochs, gradient
     descent the epochs its contraction predicts (within 20%), several
     times more */
  double gd = num(r, T, "gd", "epochs to level"), sgd = num(r, T, "sgd 1/t", "epochs to level");
  double gd_closed = num(r, U, "gd: epochs to level", "closed form");
  printf("%s: epochs to level: gd %.3g (closed form %.3g), sgd 1/t %.3g: ratio %.3g\n", label, gd,
         gd_closed, sgd, gd / sgd);
  CHECK_MSG(fabs(gd / gd_closed - 1) <= 0.2, "%s: gd %g epochs, closed form %g", label, gd,
            gd_closed);
  CHECK_MSG(sgd <= 5 && gd / sgd >= 4, "%s: sgd %g epochs, gd %g", label, sgd, gd);
  CHECK_CLOSE(num(r, U, "gd / sgd 1/t: evaluations to level", "value"), gd / sgd, 1e-12);
  /* in the end: gradient descent's training error is the ERM's (its excess
     under 1% of the estimation error), SGD's still well above it (more than
     1%, 20 times gradient descent's); their test errors within half the
     estimation error s^2 d / (2 (n - d - 1)) */
  double gd_train = num(r, T, "gd", "train excess"),
         sgd_train = num(r, T, "sgd 1/t", "train excess");
  double gd_test = num(r, T, "gd", "test error"), sgd_test = num(r, T, "sgd 1/t", "test error");
  printf("%s: end: train excess gd %.3g sgd %.3g; test error gd %.5g sgd %.5g (estimation %.3g, "
         "expected %.3g)\n",
         label, gd_train, sgd_train, gd_test, sgd_test, erm, erm_closed);
  CHECK_MSG(gd_train <= 0.01 * erm && sgd_train >= 0.01 * erm && gd_train < 0.05 * sgd_train,
            "%s: train excess gd %g, sgd %g, estimation error %g", label, gd_train, sgd_train, erm);
  CHECK_MSG(fabs(gd_test - sgd_test) <= 0.5 * erm_closed,
            "%s: test errors gd %g, sgd %g (estimation %g)", label, gd_test, sgd_test, erm_closed);
  CHECK_MSG(fabs(num(r, T, "gd", "test excess") / erm - 1) <= 0.05, "%s: gd's test excess %g",
            label, num(r, T, "gd", "test excess"));
  /* the schedules, by their test excess over the last quarter: 1/t and the
     step decay at the ERM's (within half the estimation error), 1/sqrt(t)
     above them, at the floor of its last steps eta_0 sqrt(tau/t) (within
     30%: they still shrink), the constant step highest, at its
     closed-form floor within 10% */
  double inv = num(r, T, "sgd 1/t", "late test excess");
  double sq = num(r, T, "sgd 1/sqrt(t)", "late test excess");
  double step = num(r, T, "sgd step decay", "late test excess");
  double cst = num(r, T, "sgd constant", "late test excess");
  double cst_closed = num(r, U, "sgd constant: late test excess", "closed form");
  double sq_closed = num(r, U, "sgd 1/sqrt(t): late test excess", "closed form");
  printf("%s: late test excess 1/t %.4g, step decay %.4g, 1/sqrt(t) %.4g (closed %.4g), constant "
         "%.4g (closed %.4g)\n",
         label, inv, step, sq, sq_closed, cst, cst_closed);
  CHECK_MSG(fabs(inv - erm) <= 0.5 * erm_closed && fabs(step - erm) <= 0.5 * erm_closed,
            "%s: 1/t %g, step decay %g, ERM %g", label, inv, step, erm);
  CHECK_MSG(sq - erm >= 0.7 * (sq_closed - erm) && sq - erm <= 1.3 * (sq_closed - erm) &&
                sq > fmax(inv, step) + 0.2 * erm_closed,
            "%s: 1/sqrt(t) %g, closed form %g", label, sq, sq_closed);
  CHECK_MSG(fabs(cst / cst_closed - 1) <= 0.1 && cst > 2 * sq, "%s: constant %g, closed form %g",
            label, cst, cst_closed);
}

static void test_defaults(void) {
  lab_result r;
  if (run(NULL, &r)) return;
  check_claims(&r, "defaults", 2000, 20);
  lab_result_free(&r);
}

/* Another sample size, dimension and data. */
static void test_other_setting(void) {
  static const char *const over[] = {"n", "4000", "dim", "10", "seed", "5", "epochs", "40", NULL};
  lab_result r;
  if (run(over, &r)) return;
  check_claims(&r, "n 4000, d 10", 4000, 10);
  lab_result_free(&r);
}

static void test_bad_options(void) {
  const lab_demo *d = lab_demo_find("bottou-bousquet");
  lab_result r;
  static const char *const few[] = {"n", "20", "dim", "20", NULL};
  CHECK_FAILS(lab_demo_run(d, few, NULL, &r), DESCENT_EINVAL, "--n");
  static const char *const level[] = {"level", "1", NULL};
  CHECK_FAILS(lab_demo_run(d, level, NULL, &r), DESCENT_EINVAL, "--level");
  static const char *const huge[] = {"n", "1000000", "epochs", "100000", NULL};
  CHECK_FAILS(lab_demo_run(d, huge, NULL, &r), DESCENT_EINVAL, "--epochs");
  static const char *const big[] = {"n", "1000000", "dim", "200", NULL};
  CHECK_FAILS(lab_demo_run(d, big, NULL, &r), DESCENT_EINVAL, "--n, --dim");
  static const char *const lr[] = {"lr", "fast", NULL};
  CHECK_FAILS(lab_demo_run(d, lr, NULL, &r), DESCENT_EINVAL, "--lr");
}

int main(void) {
  test_defaults();
  test_other_setting();
  test_bad_options();
  return check_report();
}
