/*
 * test_lab_rmsprop_step.c - `descent demo rmsprop-step` (slide 36): on a
 * plateau RMSprop's effective step alpha / (sqrt(v) + eps), read out of
 * descent's optimizer state, grows by beta^(-1/2) a step up to
 * alpha / (delta + eps); leaving the plateau its first step is
 * alpha / sqrt(1 - beta) and the loss jumps by (alpha / (c sqrt(1 - beta))
 * - 1)^2. A learning rate multiplied mid-run sends RMSprop, which sits at
 * its edge of stability, far past it: a spike SGD and Adam do not show.
 */
#include "check.h"
#include "lab_check.h"
#include "lab/lab.h"

#include <math.h>
#include <stdlib.h>

static double num(const lab_result *r, const char *table, const char *row, const char *col) {
  return lab_check_num(r, table, row, col);
}

static const char *text(const lab_result *r, const char *table, const char *row, const char *col) {
  return lab_check_text(r, table, row, col);
}

static int run(const char *const *overrides, lab_result *r) {
  return lab_check_run("rmsprop-step", overrides, NULL, r);
}

/* (a) at two decays: the growth, the cap, the first step and the spike. */
static void test_plateau(void) {
  static const char *const cases[2][3] = {{"decay", "0.99", NULL}, {"decay", "0.9", NULL}};
  const double alpha = 0.01, eps = 1e-8, delta = 1e-10, c = 0.01;
  for (int i = 0; i < 2; i++) {
    lab_result r;
    if (run(cases[i], &r)) continue;
    const double beta = atof(cases[i][1]);
    const char *T = "rmsprop-step";
    /* The growth per step, in the exponent: -ln(beta)/2. */
    double growth = 1 + num(&r, T, "effective step growth per step (percent)", "rmsprop") / 100;
    CHECK_MSG(fabs(log(growth) / (-log(beta) / 2) - 1) < 0.02, "beta %g: growth %.8g, theory %.8g",
              beta, growth, 1 / sqrt(beta));
    /* Adam's grows too, but by beta2 = 0.999: more slowly (at beta 0.99,
       ten times more slowly in the exponent). */
    double adam = 1 + num(&r, T, "effective step growth per step (percent)", "adam") / 100;
    CHECK(adam > 1 && log(adam) < log(growth) / 3);
    double adam_theory =
        1 + num(&r, T, "adam's theory with bias correction (percent)", "theory") / 100;
    CHECK_MSG(fabs(log(adam) / log(adam_theory) - 1) < 0.05, "adam growth %.8g, theory %.8g", adam,
              adam_theory);
    /* The cap: alpha / (delta + eps), 1% under alpha / eps. */
    double big = num(&r, T, "largest effective step on the plateau", "rmsprop");
    CHECK_MSG(fabs(big / (alpha / (delta + eps)) - 1) < 1e-3, "largest %g", big);
    CHECK_MSG(fabs(big / (alpha / eps) - 1) < 0.02, "largest %g against alpha/eps", big);
    /* SGD's step is its rate and it never crosses. */
    CHECK_CLOSE(num(&r, T, "largest effective step on the plateau", "sgd"), alpha, 1e-6);
    CHECK(strncmp(text(&r, T, "steps on the plateau", "sgd"), "never", 5) == 0);
    CHECK(num(&r, T, "steps on the plateau", "rmsprop") > 1000);
    /* Leaving: the first step alpha / sqrt(1 - beta), and the loss's jump. */
    double jump = alpha / sqrt(1 - beta);
    double step = num(&r, T, "first step past the edge", "rmsprop");
    CHECK_MSG(fabs(step / jump - 1) < 0.02, "beta %g: first step %g, theory %g", beta, step, jump);
    double factor = num(&r, T, "spike factor", "rmsprop"), predicted = pow(jump / c - 1, 2);
    CHECK_MSG(fabs(factor / predicted - 1) < 0.05, "beta %g: spike %g, theory %g", beta, factor,
              predicted);
    CHECK_CLOSE(num(&r, T, "spike factor", "theory"), predicted, 1e-9);
    lab_result_free(&r);
  }
}

/* (b) lr x 10 mid-run on the stochastic quadratic. */
static void test_change(void) {
  lab_result r;
  if (run(NULL, &r)) return;
  const char *T = "rmsprop-step-change";
  const double m = 10;
  /* SGD: curvature 1 at lr 1 is half its limit 2/lr; its loss climbs to
     the new floor sum alpha sigma^2 / (2 (2 - alpha h)), which the seeds'
     mean reads within 25%, and no higher (the peak of 10-step means within
     1.5 of it). */
  CHECK_CLOSE(num(&r, T, "sgd", "curvature/limit after"), 0.5, 1e-6);
  double sgd_up = num(&r, T, "sgd", "settled after") / num(&r, T, "sgd", "loss before");
  double sgd_theory = num(&r, T, "sgd", "sgd theory settled/before");
  CHECK_MSG(fabs(sgd_up / sgd_theory - 1) < 0.25, "sgd: x%g, theory x%g", sgd_up, sgd_theory);
  CHECK_MSG(num(&r, T, "sgd", "peak/settled") < 1.5, "sgd peak/settled %g",
            num(&r, T, "sgd", "peak/settled"));
  /* RMSprop sits at its edge (curvature/limit near 1 before, so near M
     after): the loss spikes more than 10 times above where it settles and
     more than 300 times above where it was. */
  double edge = num(&r, T, "rmsprop", "curvature/limit after");
  CHECK_MSG(edge > 0.7 * m && edge < 1.3 * m, "rmsprop curvature/limit after %g", edge);
  CHECK_MSG(num(&r, T, "rmsprop", "peak/settled") > 10, "rmsprop peak/settled %g",
            num(&r, T, "rmsprop", "peak/settled"));
  CHECK_MSG(num(&r, T, "rmsprop", "peak/before") > 300, "rmsprop peak/before %g",
            num(&r, T, "rmsprop", "peak/before"));
  /* Adam's long memory of v (beta2 0.999) keeps it far below its limit
     (38/lr): no spike. */
  CHECK(num(&r, T, "adam", "curvature/limit after") < 1);
  CHECK_MSG(num(&r, T, "adam", "peak/settled") < 2.5, "adam peak/settled %g",
            num(&r, T, "adam", "peak/settled"));
  lab_result_free(&r);
}

/* (b) takes --decay and --eps too: at another decay RMSprop's edge before
   the change moves, SGD's run (which has neither) stays the same bits. */
static void test_change_options(void) {
  static const char *const other_decay[] = {"decay", "0.9", NULL};
  lab_result base, other;
  if (run(NULL, &base)) return;
  if (run(other_decay, &other)) {
    lab_result_free(&base);
    return;
  }
  const char *T = "rmsprop-step-change";
  double e0 = num(&base, T, "rmsprop", "curvature/limit after"),
         e1 = num(&other, T, "rmsprop", "curvature/limit after");
  CHECK_MSG(fabs(e1 / e0 - 1) > 0.01, "rmsprop's edge %g at decay 0.99 and %g at 0.9", e0, e1);
  CHECK(num(&base, T, "sgd", "settled after") == num(&other, T, "sgd", "settled after"));
  lab_result_free(&base);
  lab_result_free(&other);
}

static void test_bad_options(void) {
  static const char *const bad[][3] = {{"decay", "1.5", NULL},   {"change-lr", "0.1,0.2", NULL},
                                       {"eps", "-1", NULL},      {"steps", "x", NULL},
                                       {"change-at", "0", NULL}, {"seeds", "0", NULL}};
  lab_check_refuses("rmsprop-step", bad, sizeof bad / sizeof bad[0]);
}

int main(void) {
  test_plateau();
  test_change();
  test_change_options();
  test_bad_options();
  return check_report();
}
