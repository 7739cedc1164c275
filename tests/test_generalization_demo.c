/*
 * test_generalization_demo.c - the demos generalization and tuning
 * (src/lab/demo_generalization.c, convex.c, demo_tuning.c, compare.c),
 * asserted on the tables they return:
 * - the good window of a made-up accuracy curve, whose ends are known;
 * - Wilson et al.'s example against the paper's closed forms: gradient
 *   descent and momentum reach the minimum-norm solution and classify every
 *   new point correctly, Adagrad, RMSprop and Adam reach sign(X^T y) / 4 and
 *   get every negative point wrong;
 * - on Fashion-MNIST (the demos' small versions; SKIP without the data set):
 *   the convex tie, the comparison at equal training loss, the good windows,
 *   the files, and the same numbers on a second run.
 */
#include "check.h"
#include "lab/lab.h"

#include <math.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static double num(const lab_result *r, const char *table, const char *row, const char *col) {
  const lab_table *t = lab_result_find(r, table);
  double v = t ? lab_table_number(t, row, col) : NAN;
  CHECK_MSG(!isnan(v), "%s: no number at row '%s', column '%s'", table, row, col);
  return v;
}

/* A tent in log10 lr: 0.9 at 1e-2, falling by 0.05 a decade. Within 1% of
   0.9 is |log10 lr + 2| <= 0.009 / 0.05 = 0.18, and the grid's half decades
   hold the tent's straight pieces, so the interpolated ends are exact. */
static void test_window(void) {
  double lr[9], score[9];
  for (int i = 0; i < 9; i++) {
    double x = -4 + 0.5 * i;
    lr[i] = pow(10, x);
    score[i] = 0.9 - 0.05 * fabs(x + 2);
  }
  lab_window w;
  CHECK(lab_tuning_window(lr, score, 9, 0.01, &w) == DESCENT_OK);
  CHECK_CLOSE(w.best_lr, 1e-2, 1e-15);
  CHECK_CLOSE(w.best, 0.9, 1e-15);
  CHECK_CLOSE(w.threshold, 0.891, 1e-12);
  CHECK_CLOSE(w.lo, pow(10, -2.18), 1e-12);
  CHECK_CLOSE(w.hi, pow(10, -1.82), 1e-12);
  CHECK_CLOSE(w.decades, 0.36, 1e-12);
  CHECK_CLOSE(w.ratio, pow(10, 0.36), 1e-12);
  CHECK(!w.lo_open && !w.hi_open);
  /* Within 10%: |x + 2| <= 1.8, both ends inside the grid. */
  CHECK(lab_tuning_window(lr, score, 9, 0.1, &w) == DESCENT_OK);
  CHECK_CLOSE(w.decades, 3.6, 1e-12);
  /* A diverged neighbour (NaN) gives no slope: the window ends at the last
     passing rate. */
  score[5] = 0.9, score[6] = NAN; /* 1e-1.5 passes, 1e-1 diverged */
  CHECK(lab_tuning_window(lr, score, 9, 0.01, &w) == DESCENT_OK);
  CHECK_CLOSE(w.hi, pow(10, -1.5), 1e-12);
  CHECK(!w.hi_open);
  /* A curve still rising at the grid's end: the window is open there. */
  for (int i = 0; i < 9; i++) score[i] = 0.5 + 0.001 * i;
  CHECK(lab_tuning_window(lr, score, 9, 0.01, &w) == DESCENT_OK);
  CHECK(w.hi_open && w.hi == lr[8] && w.best_lr == lr[8]);
  CHECK(!w.lo_open);
  lr[3] = lr[2];
  CHECK_FAILS(lab_tuning_window(lr, score, 9, 0.01, &w), DESCENT_EINVAL,
              "the learning rates must increase");
  lr[3] = 2 * lr[2];
  for (int i = 0; i < 9; i++) score[i] = NAN;
  CHECK_FAILS(lab_tuning_window(lr, score, 9, 0.01, &w), DESCENT_EINVAL, "no positive score");
}

static void test_stats(void) {
  double x[4] = {1, NAN, 2, 3};
  lab_stats s;
  lab_stats_of(x, 4, &s);
  CHECK(s.n == 3 && s.mean == 2 && s.sd == 1 && s.min == 1 && s.max == 3);
  lab_stats_of(x, 1, &s);
  CHECK(s.n == 1 && s.mean == 1 && s.sd == 0);
}

/* Wilson et al.'s section 3.3, without Fashion-MNIST. */
static void test_wilson(void) {
  lab_wilson_setup s = {.n = 30, .test = 5000, .p = 0.6, .seed = 1, .steps = 2000, .n_grid = 4};
  const double grid[] = {0.01, 0.03, 0.1, 0.3};
  memcpy(s.grid, grid, sizeof grid);
  lab_result r;
  memset(&r, 0, sizeof r);
  lab_wilson_summary sum;
  int rc = lab_wilson(&s, &r, &sum);
  CHECK_MSG(rc == DESCENT_OK, "wilson: %s", descent_last_error());
  if (rc) return;
  const char *t = "generalization-wilson";
  /* The closed forms: sign(X^T y) / 4 is (1/4, 1/4, 1/4, ...), since
     X sign(X^T y) = 4 y; it scores y/4 + 1/2 > 0 on every new point, so its
     test error is the share of negative points. The minimum-norm solution
     gets every new point right. */
  CHECK(num(&r, t, "sign(X^T y) / 4", "w1") == 0.25);
  CHECK(num(&r, t, "sign(X^T y) / 4", "w2 = w3") == 0.25);
  CHECK(num(&r, t, "sign(X^T y) / 4", "test error") == sum.negatives);
  CHECK(sum.negatives > 0.3 && sum.negatives < 0.5);
  CHECK(num(&r, t, "min-norm X^T(XX^T)^-1 y", "test error") == 0);
  double w1 = num(&r, t, "min-norm X^T(XX^T)^-1 y", "w1");
  double w2 = num(&r, t, "min-norm X^T(XX^T)^-1 y", "w2 = w3");
  CHECK(w1 > 2 * fabs(w2)); /* y w1 + 2 w2 has the sign of y */
  /* Each optimizer reaches the solution the paper says, to the stopping
     tolerance (training loss 1e-10: a distance of about 1e-5). */
  for (int k = 0; k < LAB_COMPARE_OPTIMIZERS; k++) {
    const char *o = lab_compare_optimizers[k];
    int adaptive = lab_compare_adaptive(k);
    double dist = num(&r, t, o, adaptive ? "to sign/4" : "to min-norm");
    double err = num(&r, t, o, "test error"), paper = num(&r, t, o, "paper");
    printf("wilson %-8s: distance %.3g to %s, test error %.4f, paper %.4f\n", o, dist,
           adaptive ? "sign(X^T y) / 4" : "the minimum-norm solution", err, paper);
    CHECK_MSG(dist < 1e-4, "%s: distance %g", o, dist);
    CHECK(num(&r, t, o, "train loss") <= 1e-10);
    CHECK(err == paper);
    CHECK(paper == (adaptive ? sum.negatives : 0));
  }
  CHECK(sum.worst_sgd < 1e-4 && sum.worst_ada < 1e-4);
  lab_result_free(&r);
  /* A draw with no more positives than negatives does not fit the
     construction: refused, with the way out. */
  s.p = 0.5000001, s.n = 4, s.seed = 0;
  int refused = 0;
  for (s.seed = 0; s.seed < 20 && !refused; s.seed++) {
    rc = lab_wilson(&s, &r, &sum);
    if (rc) {
      refused = 1;
      CHECK(rc == DESCENT_EINVAL && strstr(descent_last_error(), "choose another seed"));
    } else {
      lab_result_free(&r);
    }
  }
  CHECK(refused);
}

static void test_refusals(void) {
  const lab_demo *g = lab_demo_find("generalization"), *t = lab_demo_find("tuning");
  lab_result r;
  const char *p[] = {"wilson-p", "0.5", NULL}, *lr[] = {"lr", "0.1,0.01", NULL};
  const char *target[] = {"target", "low", NULL}, *within[] = {"within", "0.9", NULL};
  CHECK_FAILS(lab_demo_run(g, p, NULL, &r), DESCENT_EINVAL, "--wilson-p: 0.5 must be above 0.5");
  CHECK_FAILS(lab_demo_run(g, lr, NULL, &r), DESCENT_EINVAL,
              "--lr: the learning rates must increase (0.01 after 0.1)");
  CHECK_FAILS(lab_demo_run(g, target, NULL, &r), DESCENT_EINVAL,
              "--target: 'low' is not auto or a loss");
  CHECK_FAILS(lab_demo_run(t, within, NULL, &r), DESCENT_EINVAL, "--within: 0.9 is out of range");
  CHECK_FAILS(lab_demo_run(t, lr, NULL, &r), DESCENT_EINVAL, "the learning rates must increase");
}

static int exists(const char *dir, const char *name) {
  char path[1024];
  struct stat st;
  snprintf(path, sizeof path, "%s/%s", dir, name);
  return stat(path, &st) == 0 && st.st_size > 0;
}

/* The convex tie: every optimizer within 1e-4 of the minimizer (relative),
   never farther than strong convexity allows (sqrt(2 gap / l2), up to the
   rounding of the objective's gap), and so the same test accuracy as the
   minimizer: a distance of 1e-4 moves the scores by about 1e-4 of their
   size, which flips at most an image that sits on a boundary (agreement
   >= 99.8%, accuracy within 0.2%). */
static void check_convex(const lab_result *r) {
  const char *t = "generalization-convex";
  double acc = num(r, t, "W* (Cholesky)", "test acc");
  for (int k = 0; k < LAB_COMPARE_OPTIMIZERS; k++) {
    const char *o = lab_compare_optimizers[k];
    double dist = num(r, t, o, "distance"), bound = num(r, t, o, "bound");
    double a = num(r, t, o, "test acc"), agree = num(r, t, o, "agreement");
    printf("convex %-8s: distance %.3g (bound %.3g), test accuracy %.4f (minimizer %.4f), "
           "agreement %.4f\n",
           o, dist, bound, a, acc, agree);
    CHECK_MSG(dist < 1e-4, "%s: distance %g", o, dist);
    CHECK(dist <= fmax(bound, 1e-6) * 1.0001);
    CHECK(fabs(a - acc) <= 0.002 && agree >= 0.998);
  }
}

/* The comparison at equal training loss: every run reached the automatic
   target (the largest of the runs' lowest losses), and the statistics hold
   together. */
static void check_mlp(const lab_result *r, int seeds) {
  for (int k = 0; k < LAB_COMPARE_OPTIMIZERS; k++) {
    const char *o = lab_compare_optimizers[k];
    double mean = num(r, "generalization", o, "test acc");
    double lo = num(r, "generalization", o, "min"), hi = num(r, "generalization", o, "max");
    CHECK(num(r, "generalization", o, "reached") == seeds);
    CHECK(lo <= mean && mean <= hi && num(r, "generalization", o, "sd") >= 0);
    CHECK(mean > 0.2); /* better than chance (0.1) */
  }
}

static void test_fashion(void) {
  const char *scratch = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
  char dir[512], dir2[600];
  snprintf(dir, sizeof dir, "%s/test_generalization_demo.%d", scratch, (int)getpid());
  snprintf(dir2, sizeof dir2, "%s.tuning", dir);
  mkdir(dir, 0777);
  mkdir(dir2, 0777);
  const lab_demo *g = lab_demo_find("generalization"), *t = lab_demo_find("tuning");
  lab_result r, again;
  const char *too_many[] = {"train", "59000", "val", "2000", NULL};
  CHECK_FAILS(lab_demo_run(t, too_many, NULL, &r), DESCENT_EINVAL,
              "--train 59000 + --val 2000: the training set has 60000 images");
  int rc = lab_demo_run(g, lab_demo_quick(g), dir, &r);
  CHECK_MSG(rc == DESCENT_OK, "generalization: %s", descent_last_error());
  if (!rc) {
    check_convex(&r);
    check_mlp(&r, 2);
    const char *files[] = {"generalization.csv", "generalization-convex.csv",
                           "generalization-wilson.csv", "generalization-curves.csv",
                           "generalization.gp"};
    for (int i = 0; i < 5; i++) CHECK_MSG(exists(dir, files[i]), "%s not written", files[i]);
    lab_result_free(&r);
  }
  rc = lab_demo_run(t, lab_demo_quick(t), dir2, &r);
  CHECK_MSG(rc == DESCENT_OK, "tuning: %s", descent_last_error());
  if (rc) return;
  for (int k = 0; k < LAB_COMPARE_OPTIMIZERS; k++) {
    const char *o = lab_compare_optimizers[k];
    double best = num(&r, "tuning", o, "best lr");
    double lo = num(&r, "tuning", o, "lo"), hi = num(&r, "tuning", o, "hi");
    CHECK(lo <= best && best <= hi);
  }
  const char *files[] = {"tuning.csv", "tuning-curves.csv", "tuning-points.csv", "tuning.gp"};
  for (int i = 0; i < 4; i++) CHECK_MSG(exists(dir2, files[i]), "%s not written", files[i]);
  /* Deterministic: the same numbers again, though the runs went to threads
     in another order. */
  rc = lab_demo_run(t, lab_demo_quick(t), NULL, &again);
  CHECK(rc == DESCENT_OK);
  if (!rc) {
    const lab_table *a = lab_result_find(&r, "tuning-curves"),
                    *b = lab_result_find(&again, "tuning-curves");
    CHECK(a && b && a->n_rows == b->n_rows);
    for (size_t i = 0; a && b && i < a->n_rows * (size_t)a->n_cols; i++)
      CHECK(memcmp(&a->cells[i].number, &b->cells[i].number, sizeof(double)) == 0);
    lab_result_free(&again);
  }
  lab_result_free(&r);
}

int main(void) {
  test_window();
  test_stats();
  test_wilson();
  test_refusals();
  if (access(DESCENT_FASHION_MNIST_DIR "/train-images-idx3-ubyte.gz", R_OK) != 0) {
    printf("SKIP: Fashion-MNIST is not in %s (apt-get install dataset-fashion-mnist)\n",
           DESCENT_FASHION_MNIST_DIR);
    return check_failures ? check_report() : 77;
  }
  test_fashion();
  return check_report();
}
