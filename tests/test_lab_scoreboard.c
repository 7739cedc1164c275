/*
 * test_lab_scoreboard.c - the scoreboard of slide 29 (src/lab/demo_scoreboard.c):
 * each column against theory where theory gives it, and the slide's claim
 * that no optimizer has every quality, on the demo's fixed seeds.
 *
 * - the turned valley: gradient descent at its step alpha takes exactly the
 *   t at which (L a^2 (1 - alpha L)^2t + mu b^2 (1 - alpha mu)^2t) / 2
 *   falls to eps f0 (a = 1 across, b = 3 along the valley), about
 *   kappa/2 ln(1/eps) at alpha = 1/L; it does not see the rotation, while
 *   Adagrad, RMSprop and Adam, which rescale coordinates, are far slower
 *   turned than aligned; heavy-ball momentum needs about ln(1/eps) /
 *   -ln(beta) iterations, a fraction of gradient descent's;
 * - the saddle: gradient descent multiplies x by 1 - 2 alpha and y by
 *   1 + 2 alpha a step, so it escapes (f <= -1) at the first t with
 *   (1 - 2 alpha)^2t - delta^2 (1 + 2 alpha)^2t <= -1, about
 *   ln(1/delta) / ln(1 + 2 alpha);
 * - speed and tuning: the scoreboard's numbers are those of its own
 *   per-rate table (the fewest evaluations, lab_tuning_window's width);
 * - the counts of qualities within 2x of the best, recomputed from the
 *   numbers, and none reaching all five.
 * The theory columns run with a synthetic speed problem (no data needed);
 * the default run on Fashion-MNIST is checked when the data set is there
 * (SKIP otherwise).
 */
#include "check.h"
#include "lab_check.h"
#include "lab/lab.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { N_OPT = LAB_LECTURE_OPTIMIZERS, N_Q = 5 };
static const char *const columns[N_Q] = {"speed (evals)", "window (decades)", "turned valley",
                                         "saddle", "plateau"};

static double num(const lab_result *r, const char *table, const char *row, const char *col) {
  return lab_check_num(r, table, row, col);
}

/* A number or NAN, unchecked (a failed optimizer's cell holds text). */
static double maybe(const lab_result *r, const char *table, const char *row, const char *col) {
  const lab_table *t = lab_result_find(r, table);
  return t ? lab_table_number(t, row, col) : NAN;
}

static int run(const char *const *overrides, lab_result *r) {
  return lab_check_run("scoreboard", overrides, NULL, r);
}

/* The closed form of gradient descent on the valley: the first t where the
   gap falls to eps times the start's. */
static int64_t gd_valley(double alpha, double kappa, double eps) {
  const double L = 1, mu = 1 / kappa, a = 1, b = 3;
  double f0 = (L * a * a + mu * b * b) / 2;
  for (int64_t t = 0; t < 10000000; t++) {
    double f = (L * a * a * pow(1 - alpha * L, 2.0 * (double)t) +
                mu * b * b * pow(1 - alpha * mu, 2.0 * (double)t)) /
               2;
    if (f <= eps * f0) return t;
  }
  return -1;
}

/* The closed form at the saddle from (1, delta). */
static int64_t gd_saddle(double alpha, double delta) {
  for (int64_t t = 0; t < 100000; t++)
    if (pow(1 - 2 * alpha, 2.0 * (double)t) - delta * delta * pow(1 + 2 * alpha, 2.0 * (double)t) <=
        -1)
      return t;
  return -1;
}

static void test_valley(const lab_result *r) {
  const double kappa = 1000, eps = 1e-6;
  double gd = num(r, "scoreboard", "sgd", "turned valley");
  double alpha = num(r, "scoreboard-steps", "sgd", "valley lr");
  int64_t closed = gd_valley(alpha, kappa, eps);
  printf("valley: gd %g at lr %g (closed form %lld; kappa ln(1/eps) = %.0f)\n", gd, alpha,
         (long long)closed, kappa * log(1 / eps));
  CHECK_MSG(fabs(gd - (double)closed) <= 2, "gd %g, closed form %lld", gd, (long long)closed);
  /* kappa ln(1/eps) within a factor 4: the start's small share of f along
     the flat direction (0.9%) takes ln(1/0.009) off ln(1/eps) */
  CHECK(gd >= kappa * log(1 / eps) / 4 && gd <= kappa * log(1 / eps));
  /* gradient descent does not see the rotation */
  CHECK(fabs(gd - num(r, "scoreboard-steps", "sgd", "aligned valley")) <= 2);
  /* the coordinate-wise methods are not helped once the valley is turned */
  for (int k = 3; k < N_OPT; k++) {
    const char *o = lab_lecture_optimizers[k];
    double turned = num(r, "scoreboard", o, "turned valley");
    double aligned = num(r, "scoreboard-steps", o, "aligned valley");
    printf("valley: %s turned %g, aligned %g\n", o, turned, aligned);
    CHECK_MSG(turned > (k == 5 ? 3 : 100) * aligned, "%s: turned %g, aligned %g", o, turned,
              aligned);
  }
  /* heavy-ball with beta = 0.9 at a step where both curvatures' roots are
     complex contracts by sqrt(beta) a step, f by beta: ln(1/eps)/-ln(0.9)
     = 131 iterations, about sqrt(kappa) times fewer than gradient descent */
  double momentum = num(r, "scoreboard", "momentum", "turned valley");
  CHECK_MSG(momentum <= log(1 / eps) / -log(0.9) && momentum >= 0.5 * log(1 / eps) / -log(0.9),
            "momentum %g", momentum);
  CHECK(momentum * 10 < gd);
  /* the counts are the lab's: the best momentum step 3 is in the complex
     regime, alpha mu >= (1 - sqrt(beta))^2 and alpha L <= (1 + sqrt(beta))^2 */
  double step = num(r, "scoreboard-steps", "momentum", "valley lr");
  CHECK(step / kappa >= pow(1 - sqrt(0.9), 2) && step <= pow(1 + sqrt(0.9), 2));
}

static void test_saddle_plateau(const lab_result *r) {
  double gd = num(r, "scoreboard", "sgd", "saddle");
  double alpha = num(r, "scoreboard-steps", "sgd", "saddle lr");
  int64_t closed = gd_saddle(alpha, 1e-6);
  printf("saddle: gd %g at lr %g (closed form %lld, ln(1/delta)/ln(1 + 2 alpha) = %.1f)\n", gd,
         alpha, (long long)closed, log(1e6) / log(1 + 2 * alpha));
  CHECK_MSG(fabs(gd - (double)closed) <= 1, "gd %g, closed form %lld", gd, (long long)closed);
  CHECK(fabs(gd - log(1e6) / log(1 + 2 * alpha)) <= 2);
  /* steps that do not shrink with the gradient: the adaptive methods leave
     the saddle and cross the plateau at least 5 (10) times faster */
  double gd_plateau = num(r, "scoreboard", "sgd", "plateau");
  for (int k = 3; k < N_OPT; k++) {
    const char *o = lab_lecture_optimizers[k];
    CHECK_MSG(5 * num(r, "scoreboard", o, "saddle") <= gd, "%s", o);
    CHECK_MSG(10 * num(r, "scoreboard", o, "plateau") <= gd_plateau, "%s", o);
  }
  /* momentum multiplies gradient descent's speed on the plateau by up to
     1/(1 - beta) = 10 */
  double momentum = num(r, "scoreboard", "momentum", "plateau");
  CHECK_MSG(momentum * 3 < gd_plateau && momentum * 10 >= gd_plateau * 0.5, "momentum %g, gd %g",
            momentum, gd_plateau);
}

/* At the escape demo's own step 0.1, gradient descent leaves the saddle
   after ln(1e6)/ln(1.2) = 75.8 steps, as demo saddle shows. */
static void test_saddle_at_escape_step(void) {
  lab_result r;
  if (run((const char *[]){"speed-on", "linreg", "speed-lr", "0.1", "lr", "0.1", NULL}, &r)) return;
  CHECK(num(&r, "scoreboard", "sgd", "saddle") == 76);
  CHECK(num(&r, "scoreboard", "sgd", "saddle") == (double)gd_saddle(0.1, 1e-6));
  lab_result_free(&r);
}

/* The speed and window columns are those of the per-rate table. */
static void test_speed(const lab_result *r) {
  const lab_table *t = lab_result_find(r, "scoreboard-speed");
  CHECK(t != NULL);
  if (!t) return;
  for (int k = 0; k < N_OPT; k++) {
    const char *o = lab_lecture_optimizers[k];
    double lr[LAB_MAX_LIST], score[LAB_MAX_LIST], fewest = INFINITY;
    int n = 0;
    for (size_t i = 0; i < t->n_rows; i++) {
      const lab_cell *row = &t->cells[i * (size_t)t->n_cols];
      if (strcmp(lab_table_get(t, row->text, "optimizer")->text, o) != 0) continue;
      double evals = lab_table_number(t, row->text, "evals to target");
      const char *why = lab_table_get(t, row->text, "evals to target")->text;
      lr[n] = lab_table_number(t, row->text, "lr");
      score[n] = !isnan(evals) ? 1 / fmax(evals, 1) : strcmp(why, "diverged") == 0 ? NAN : 0;
      if (evals < fewest) fewest = evals;
      n++;
    }
    CHECK(n >= 2);
    double evals = maybe(r, "scoreboard", o, "speed (evals)");
    CHECK_MSG(evals == fewest || (isnan(evals) && isinf(fewest)), "%s: %g, table %g", o, evals,
              fewest);
    lab_window w;
    if (lab_tuning_window(lr, score, n, 0.5, &w) == DESCENT_OK)
      CHECK_CLOSE(num(r, "scoreboard", o, "window (decades)"), w.decades, 1e-12);
  }
}

/* Best or within 2x of it, recomputed; nobody has all five qualities. */
static void test_headline(const lab_result *r, const char *what) {
  double v[N_OPT][N_Q], best[N_Q];
  for (int q = 0; q < N_Q; q++) {
    best[q] = NAN;
    for (int k = 0; k < N_OPT; k++) {
      v[k][q] = maybe(r, "scoreboard", lab_lecture_optimizers[k], columns[q]);
      if (!isnan(v[k][q]) && (isnan(best[q]) || (q == 1 ? v[k][q] > best[q] : v[k][q] < best[q])))
        best[q] = v[k][q];
    }
  }
  int most = 0, best_everywhere = 0;
  for (int k = 0; k < N_OPT; k++) {
    int count = 0, top = 0;
    for (int q = 0; q < N_Q; q++) {
      if (isnan(v[k][q])) continue;
      count += q == 1 ? v[k][q] >= best[q] - log10(2) : v[k][q] <= 2 * best[q];
      top += v[k][q] == best[q];
    }
    double shown = num(r, "scoreboard", lab_lecture_optimizers[k], "within 2x of best");
    CHECK_MSG(shown == count, "%s: %s counts %g, recomputed %d", what, lab_lecture_optimizers[k],
              shown, count);
    most = count > most ? count : most;
    best_everywhere += top == N_Q;
  }
  printf("%s: the most rounded optimizer has %d of %d qualities\n", what, most, N_Q);
  CHECK_MSG(best_everywhere == 0, "%s: an optimizer is best on every column", what);
  CHECK_MSG(most < N_Q, "%s: an optimizer is within 2x of the best everywhere", what);
}

static void test_refusals(void) {
  const lab_demo *d = lab_demo_find("scoreboard");
  lab_result r;
  CHECK_FAILS(lab_demo_run(d, (const char *[]){"speed-on", "nonsense", NULL}, NULL, &r),
              DESCENT_EINVAL, "--speed-on");
  CHECK_FAILS(lab_demo_run(d, (const char *[]){"lr", "1,0.1", NULL}, NULL, &r), DESCENT_EINVAL,
              "--lr");
  CHECK_FAILS(lab_demo_run(d, (const char *[]){"kappa", "0", NULL}, NULL, &r), DESCENT_EINVAL,
              "--kappa");
  CHECK_FAILS(lab_demo_run(d, (const char *[]){"within", "1", NULL}, NULL, &r), DESCENT_EINVAL,
              "--within");
  CHECK_FAILS(lab_demo_run(d,
                           (const char *[]){"speed-on", "fmnist", "data-dir", "/nonexistent", NULL},
                           NULL, &r),
              DESCENT_EIO, "");
}

int main(void) {
  /* The shared list: the lecture's six, in its order. */
  CHECK(LAB_LECTURE_OPTIMIZERS == 6 && strcmp(lab_lecture_optimizers[2], "nesterov") == 0 &&
        strcmp(lab_lecture_optimizers[5], "adam") == 0);
  lab_result r;
  /* The landscape columns do not depend on the speed problem: a synthetic
     one (aligned scaled features, Adagrad's favourite) needs no data. */
  if (!run((const char *[]){"speed-on", "linreg(dim=10, scale=10)", NULL}, &r)) {
    test_valley(&r);
    test_saddle_plateau(&r);
    test_speed(&r);
    test_headline(&r, "synthetic speed problem");
    lab_result_free(&r);
  }
  test_saddle_at_escape_step();
  test_refusals();
  if (access(DESCENT_FASHION_MNIST_DIR "/train-images-idx3-ubyte.gz", R_OK) != 0) {
    printf("SKIP: Fashion-MNIST is not in %s (apt-get install dataset-fashion-mnist)\n",
           DESCENT_FASHION_MNIST_DIR);
    return check_failures ? check_report() : 77;
  }
  if (!run(NULL, &r)) {
    test_speed(&r);
    test_headline(&r, "Fashion-MNIST");
    /* full-batch softmax regression: momentum, Nesterov and Adam reach the
       target at least 3x sooner than gradient descent at their best rates */
    double gd = num(&r, "scoreboard", "sgd", "speed (evals)");
    CHECK(3 * num(&r, "scoreboard", "momentum", "speed (evals)") <= gd);
    CHECK(3 * num(&r, "scoreboard", "adam", "speed (evals)") <= gd);
    lab_result_free(&r);
  }
  return check_report();
}
