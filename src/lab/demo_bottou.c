/*
 * demo_bottou.c - Bottou & Bousquet 2008 (slide 18): stochastic gradient
 * converges more slowly than the full-batch gradient in training error, but
 * as fast in test error, counted in gradient evaluations (examples touched).
 *
 * The model: least squares on n examples x ~ N(0, Sigma), Sigma diagonal
 * with eigenvalues log-spaced from 1 down to 1/kappa, y = w* . x + eps,
 * eps ~ N(0, s^2). Its training error is (1/2n) |X w - y|^2; its test error
 * is the population risk R(w) = (|w - w*|^2_Sigma + s^2) / 2, exactly (no
 * held-out sample needed). The best possible is R* = s^2 / 2.
 *
 * The estimation error: the minimizer w_n of the training error (the ERM,
 * by Cholesky) has E R(w_n) - R* = s^2 d / (2 (n - d - 1)) (Gaussian
 * design), and its training error sits s^2 d / (2n) below R* in
 * expectation. No optimizer can go below the ERM's test error on average
 * with n examples: optimizing the training error further than that is
 * wasted (Bottou & Bousquet's trade-off).
 *
 * Full-batch gradient descent (step 1/L of the training Hessian) closes the
 * gap to the ERM geometrically, (1 - lambda_min / L)^2 per iteration on
 * each error: it needs about (L / (2 lambda_min)) ln(E_0 / target)
 * iterations, each n evaluations. SGD (one example per step, drawn with
 * replacement) at 1/t forgets the start within about 1/(eta_0 lambda_min)
 * steps, then its test error falls like the ERM's on as many examples,
 * about s^2 d / (2t): it reaches twice the estimation error after a few
 * epochs; its training error keeps an excess about as large as its test
 * excess (its iterate wanders around w_n), which only vanishes like 1/t,
 * while gradient descent's training error drops to the ERM's and below
 * R* by s^2 d / (2n).
 *
 * The schedules (eta_0 = lr, tau = 2 / (eta_0 lambda_min), so that 1/t
 * ends as 2 / (lambda_min t), the classical 1/(mu t) with a margin): a
 * constant step stops at a noise floor about eta_0 s^2 tr(Sigma) / 4 (above
 * the estimation error unless eta_0 is tiny); 1/sqrt(t) keeps a floor that
 * falls like its step, eta_t s^2 tr(Sigma) / 4; 1/t falls as fast as the
 * estimation error allows; a step decay (eta_0 halved every few epochs)
 * follows 1/t while its steps still add up to more than the distance left.
 */
#include "lab.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const lab_option bottou_options[] = {
    {"n", "N", "2000", "training examples"},
    {"dim", "D", "20", "features"},
    {"kappa", "K", "10", "condition number of the features' covariance"},
    {"noise", "S", "1", "noise of the targets (standard deviation)"},
    {"lr", "ETA", "0.05", "SGD's first step eta_0 (all schedules)"},
    {"decay-epochs", "E", "3", "step decay: eta_0 halved every E epochs"},
    {"epochs", "E", "60", "passes over the data (both methods' gradient evaluations / n)"},
    {"seeds", "K", "5", "SGD runs per schedule (the order of the examples)"},
    {"seed", "N", "1", "seed of the data (and of the first SGD run)"},
    {"level", "R", "2", "speed: evaluations until the test excess is R times the ERM's"},
};

enum { N_RUNS = 5, N_POINTS = 120, GD_RUN = 0 };
static const char *const run_labels[N_RUNS] = {"gd", "sgd 1/t", "sgd 1/sqrt(t)", "sgd step decay",
                                               "sgd constant"};

typedef struct bb_data {
  int64_t n;
  int d;
  double *x, *y;           /* n x d, n */
  double *lambda, *w_star; /* the covariance's diagonal, the truth */
  double *w_erm;
  double noise;
} bb_data;

typedef struct bb_curve {
  int n;
  double evals[N_POINTS + 8], seconds[N_POINTS + 8], train[N_POINTS + 8], test[N_POINTS + 8];
  double late_test; /* mean test error over the last quarter of the run */
} bb_curve;

/* The thread's processor time: the updates' cost without the time other
   programs take the processor away (on a busy machine that adds jumps of
   milliseconds to runs of milliseconds). */
static double seconds_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double train_error(const bb_data *D, const double *w) {
  double sum = 0;
  for (int64_t i = 0; i < D->n; i++) {
    const double *xi = D->x + i * D->d;
    double r = -D->y[i];
    for (int j = 0; j < D->d; j++) r += xi[j] * w[j];
    sum += r * r;
  }
  return 0.5 * sum / (double)D->n;
}

/* The population risk R(w) = (|w - w*|^2_Sigma + s^2) / 2. */
static double test_error(const bb_data *D, const double *w) {
  double sum = D->noise * D->noise;
  for (int j = 0; j < D->d; j++)
    sum += D->lambda[j] * (w[j] - D->w_star[j]) * (w[j] - D->w_star[j]);
  return 0.5 * sum;
}

/* Solves the d x d system A w = b (A symmetric positive definite) by
   Cholesky, in place of A; 0 when A is not positive definite. */
static int cholesky_solve(double *A, double *b, int d) {
  for (int j = 0; j < d; j++) {
    double s = A[j * d + j];
    for (int k = 0; k < j; k++) s -= A[j * d + k] * A[j * d + k];
    if (!(s > 0)) return 0;
    A[j * d + j] = sqrt(s);
    for (int i = j + 1; i < d; i++) {
      double t = A[i * d + j];
      for (int k = 0; k < j; k++) t -= A[i * d + k] * A[j * d + k];
      A[i * d + j] = t / A[j * d + j];
    }
  }
  for (int i = 0; i < d; i++) { /* L z = b */
    for (int k = 0; k < i; k++) b[i] -= A[i * d + k] * b[k];
    b[i] /= A[i * d + i];
  }
  for (int i = d - 1; i >= 0; i--) { /* L^T w = z */
    for (int k = i + 1; k < d; k++) b[i] -= A[k * d + i] * b[k];
    b[i] /= A[i * d + i];
  }
  return 1;
}

/* The data, the ERM, and the largest eigenvalue of the training Hessian
   X^T X / n (power iteration: gradient descent's step is its inverse). */
static int make_data(bb_data *D, double kappa, uint64_t seed, double *hess_max) {
  const int d = D->d;
  const int64_t n = D->n;
  D->x = malloc((size_t)n * (size_t)d * sizeof *D->x);
  D->y = malloc((size_t)n * sizeof *D->y);
  D->lambda = malloc((size_t)d * sizeof *D->lambda);
  D->w_star = malloc((size_t)d * sizeof *D->w_star);
  D->w_erm = malloc((size_t)d * sizeof *D->w_erm);
  double *A = malloc((size_t)d * (size_t)d * sizeof *A), *v = malloc((size_t)d * 2 * sizeof *v);
  if (!D->x || !D->y || !D->lambda || !D->w_star || !D->w_erm || !A || !v) {
    free(A), free(v);
    return descent_fail(DESCENT_ENOMEM, "bottou-bousquet: out of memory");
  }
  descent_rng rng;
  descent_rng_seed(&rng, seed);
  for (int j = 0; j < d; j++) {
    D->lambda[j] = d > 1 ? pow(kappa, -(double)j / (d - 1)) : 1;
    D->w_star[j] = descent_rng_normal(&rng);
  }
  memset(A, 0, (size_t)d * (size_t)d * sizeof *A);
  memset(D->w_erm, 0, (size_t)d * sizeof *D->w_erm);
  for (int64_t i = 0; i < n; i++) {
    double *xi = D->x + i * d, dot = 0;
    for (int j = 0; j < d; j++) {
      xi[j] = sqrt(D->lambda[j]) * descent_rng_normal(&rng);
      dot += xi[j] * D->w_star[j];
    }
    D->y[i] = dot + D->noise * descent_rng_normal(&rng);
    for (int j = 0; j < d; j++) {
      D->w_erm[j] += xi[j] * D->y[i] / (double)n;
      for (int k = 0; k <= j; k++) A[j * d + k] += xi[j] * xi[k] / (double)n;
    }
  }
  for (int j = 0; j < d; j++)
    for (int k = j + 1; k < d; k++) A[j * d + k] = A[k * d + j];
  /* power iteration on A (before Cholesky overwrites it) */
  double *u = v, *au = v + d, lam = 0;
  for (int j = 0; j < d; j++) u[j] = 1;
  for (int it = 0; it < 500; it++) {
    double norm = 0;
    for (int j = 0; j < d; j++) {
      au[j] = 0;
      for (int k = 0; k < d; k++) au[j] += A[j * d + k] * u[k];
      norm += au[j] * au[j];
    }
    norm = sqrt(norm);
    double dot = 0;
    for (int j = 0; j < d; j++) dot += u[j] * au[j], u[j] = au[j] / norm;
    lam = dot; /* u had norm 1 from the second iteration on */
    if (it == 0) lam = 0;
  }
  *hess_max = lam;
  int ok = cholesky_solve(A, D->w_erm, d);
  free(A), free(v);
  return ok ? DESCENT_OK
            : descent_fail(DESCENT_EINVAL, "bottou-bousquet: X^T X is singular (n = %lld, d = %d)",
                           (long long)n, d);
}

/* Records a point of a curve (not timed). */
static void record(const bb_data *D, const double *w, double evals, double seconds, bb_curve *c) {
  if (c->n >= N_POINTS + 8) return;
  c->evals[c->n] = evals, c->seconds[c->n] = seconds;
  c->train[c->n] = train_error(D, w), c->test[c->n] = test_error(D, w);
  c->n++;
}

/* Full-batch gradient descent at step 1/L for `epochs` iterations. */
static int run_gd(const bb_data *D, double step, int64_t epochs, bb_curve *c) {
  const int d = D->d;
  double *w = calloc((size_t)d, sizeof *w), *g = malloc((size_t)d * sizeof *g);
  if (!w || !g) {
    free(w), free(g);
    return descent_fail(DESCENT_ENOMEM, "bottou-bousquet: out of memory");
  }
  double spent = 0;
  c->n = 0;
  record(D, w, 0, 0, c);
  /* every iteration until the points run short, then evenly in log */
  int64_t next = 1;
  for (int64_t k = 1; k <= epochs; k++) {
    double t0 = seconds_now();
    memset(g, 0, (size_t)d * sizeof *g);
    for (int64_t i = 0; i < D->n; i++) {
      const double *xi = D->x + i * d;
      double r = -D->y[i];
      for (int j = 0; j < d; j++) r += xi[j] * w[j];
      for (int j = 0; j < d; j++) g[j] += r * xi[j];
    }
    for (int j = 0; j < d; j++) w[j] -= step * g[j] / (double)D->n;
    spent += seconds_now() - t0;
    if (k == next || k == epochs) {
      record(D, w, (double)k * (double)D->n, spent, c);
      int64_t grown = (int64_t)ceil((double)next * pow((double)epochs, 1.0 / N_POINTS));
      next = grown > next ? grown : next + 1;
    }
  }
  c->late_test = c->test[c->n - 1]; /* converged: the end is the floor */
  free(w), free(g);
  return DESCENT_OK;
}

/* SGD, one example drawn with replacement per step, at the schedule's rate;
   over the last quarter it also averages the test error every 64 steps
   (c->late_test: the floor, without the noise of a single iterate). */
static int run_sgd(const bb_data *D, const descent_schedule *sched, int64_t steps, uint64_t seed,
                   bb_curve *c) {
  const int d = D->d;
  double *w = calloc((size_t)d, sizeof *w);
  if (!w) return descent_fail(DESCENT_ENOMEM, "bottou-bousquet: out of memory");
  descent_rng rng;
  descent_rng_seed(&rng, seed);
  double spent = 0, growth = pow((double)steps, 1.0 / N_POINTS), mark = 1, late_sum = 0;
  const int64_t late = steps - steps / 4;
  int64_t t = 0, next = 1, late_n = 0;
  c->n = 0;
  record(D, w, 0, 0, c);
  while (t < steps) {
    int64_t until = t >= late && t + 64 < next ? t + 64 : next;
    double t0 = seconds_now();
    for (; t < until; t++) {
      const int64_t i = (int64_t)descent_rng_below(&rng, (uint64_t)D->n);
      const double *xi = D->x + i * d;
      double r = -D->y[i];
      for (int j = 0; j < d; j++) r += xi[j] * w[j];
      const double eta = descent_schedule_value(sched, t) * r;
      for (int j = 0; j < d; j++) w[j] -= eta * xi[j];
    }
    spent += seconds_now() - t0;
    if (t > late) late_sum += test_error(D, w), late_n++;
    if (t == next) {
      record(D, w, (double)t, spent, c);
      mark = fmax(mark * growth, (double)t + 1);
      next = mark >= (double)steps ? steps : (int64_t)mark;
    }
  }
  c->late_test = late_n ? late_sum / (double)late_n : c->test[c->n - 1];
  free(w);
  return DESCENT_OK;
}

/* Evaluations (and seconds) when the test excess first falls to target,
   interpolated between recorded points in log evaluations; NAN when never. */
static double reach_evals(const bb_curve *c, double r_star, double target, double *seconds) {
  for (int k = 1; k < c->n; k++) {
    double e1 = c->test[k] - r_star;
    if (e1 > target) continue;
    double e0 = c->test[k - 1] - r_star;
    double f = e0 > target && e0 > e1 ? (log(e0) - log(target)) / (log(e0) - log(e1)) : 1;
    double x0 = c->evals[k - 1] > 0 ? log(c->evals[k - 1]) : log(c->evals[k]);
    *seconds = c->seconds[k - 1] + f * (c->seconds[k] - c->seconds[k - 1]);
    return exp(x0 + f * (log(c->evals[k]) - x0));
  }
  *seconds = NAN;
  return NAN;
}

typedef struct bb_run_stats {
  lab_stats evals, seconds, train, test; /* over the seeds (gd: one run) */
} bb_run_stats;

static int bottou_files(const char *dir, lab_result *res, const bb_data *D, bb_curve *const *curves,
                        const int *n_curves, double r_star, double erm_test, double erm_train,
                        double floor) {
  FILE *f = lab_file_open(dir, "bottou-bousquet-curves.csv", res);
  if (!f) return DESCENT_EIO;
  fprintf(f, "run,label,evaluations,epochs,seconds_mean,train_excess_mean,train_excess_min,"
             "train_excess_max,test_excess_mean,test_excess_min,test_excess_max\n");
  for (int r = 0; r < N_RUNS; r++) {
    const bb_curve *c = curves[r];
    for (int k = 1; k < c[0].n; k++) {
      double sec[1000], tr[1000], te[1000];
      int m = 0;
      for (int s = 0; s < n_curves[r]; s++) {
        if (k >= c[s].n) continue;
        sec[m] = c[s].seconds[k], tr[m] = c[s].train[k] - erm_train, te[m] = c[s].test[k] - r_star;
        m++;
      }
      lab_stats S, T, E;
      lab_stats_of(sec, m, &S), lab_stats_of(tr, m, &T), lab_stats_of(te, m, &E);
      fprintf(f, "%d,%s,%.9g,%.9g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g\n", r, run_labels[r],
              c[0].evals[k], c[0].evals[k] / (double)D->n, S.mean, T.mean, T.min, T.max, E.mean,
              E.min, E.max);
    }
    fprintf(f, "\n\n");
  }
  int rc = lab_file_close(f, "bottou-bousquet-curves.csv");
  if (rc) return rc;
  f = lab_gp_open(dir, "bottou-bousquet", 1800, 1150,
                  "SGD against full-batch gradient descent: training and test error", res);
  if (!f) return DESCENT_EIO;
  fprintf(
      f,
      "set termoption enhanced\n"
      "set multiplot layout 2,2 title \"Bottou and Bousquet 2008 (slide 18): SGD is slower than "
      "full-batch gradient descent on the training error, not on the test error\\n"
      "least squares, n = %lld examples, d = %d; SGD one example per step, %d seeds: mean, "
      "band from min to max\" font \",13\"\n"
      "set logscale xy\nset format y \"10^{%%L}\"\nset format x \"10^{%%L}\"\n"
      "set grid xtics ytics lc rgb \"#eeeeee\"\nset key bottom left\n",
      (long long)D->n, D->d, n_curves[1]);
  const char *const panels[4][4] = {
      {"training error above its minimum (the ERM's), against examples touched",
       "gradient evaluations (examples touched; n per gradient-descent step)", "6:7:8", "3"},
      {"test error above the best possible R* = s^{2}/2, against examples touched",
       "gradient evaluations (examples touched; n per gradient-descent step)", "9:10:11", "3"},
      {"training error above its minimum, against time", "processor seconds (updates only)",
       "6:7:8", "5"},
      {"test error above R*, against time", "processor seconds (updates only)", "9:10:11", "5"}};
  for (int p = 0; p < 4; p++) {
    int mean_col = atoi(panels[p][2]);
    fprintf(f, "set title \"%s\"\nset xlabel \"%s\"\nset ylabel \"%s\"\n", panels[p][0],
            panels[p][1], p % 2 ? "R(w) - R*" : "training error - ERM's");
    if (p < 2)
      fprintf(f, "set xrange [1:%.9g]\n", curves[0][0].evals[curves[0][0].n - 1]);
    else
      fprintf(f, "set xrange [*:*]\n");
    /* the test panels: room above the curves for the key */
    fprintf(f, "set yrange [%s]\nset key %s\n", p % 2 ? "1e-3:300" : "1e-7:*",
            p % 2 ? "top right" : "bottom left");
    for (int r = 0; r < N_RUNS; r++) {
      fprintf(f,
              "%s'bottou-bousquet-curves.csv' index %d using %s:%d:%d with filledcurves fs "
              "transparent solid 0.2 noborder lc rgb \"%s\" notitle, \\\n"
              "     'bottou-bousquet-curves.csv' index %d using %s:%d with lines lw 2 lc rgb "
              "\"%s\" title \"%s\"",
              r ? ", \\\n     " : "plot ", r, panels[p][3], mean_col + 1, mean_col + 2,
              lab_color(r), r, panels[p][3], mean_col, lab_color(r), run_labels[r]);
    }
    if (p % 2)
      fprintf(
          f,
          ", \\\n     %.9g with lines dt 2 lw 2 lc rgb \"black\" title \"the ERM's: %.3g (expected "
          "s^{2}d/(2(n-d-1)) = %.3g)\"",
          erm_test - r_star, erm_test - r_star, floor);
    fprintf(f, "\n");
  }
  return lab_gp_close(f, "bottou-bousquet", res);
}

static int bottou_run(const lab_args *a, const char *dir, lab_result *res) {
  int64_t n, dim, epochs, seeds, seed, decay_epochs;
  double kappa, noise, lr, level;
  int rc = lab_arg_int(a, "n", 10, 1000000, &n);
  if (!rc) rc = lab_arg_int(a, "dim", 1, 200, &dim);
  if (!rc) rc = lab_arg_double(a, "kappa", 1, 1e4, &kappa);
  if (!rc) rc = lab_arg_double(a, "noise", 1e-3, 1e3, &noise);
  if (!rc) rc = lab_arg_double(a, "lr", 1e-6, 10, &lr);
  if (!rc) rc = lab_arg_int(a, "decay-epochs", 1, 1000, &decay_epochs);
  if (!rc) rc = lab_arg_int(a, "epochs", 1, 100000, &epochs);
  if (!rc) rc = lab_arg_int(a, "seeds", 1, 100, &seeds);
  if (!rc) rc = lab_arg_int(a, "seed", 0, INT64_MAX / 2, &seed);
  if (!rc) rc = lab_arg_double(a, "level", 1.01, 1e6, &level);
  if (rc) return rc;
  if (n < dim + 3)
    return descent_fail(DESCENT_EINVAL,
                        "--n: %lld examples for %lld features: give at least "
                        "dim + 3 (the ERM's test error is finite from there)",
                        (long long)n, (long long)dim);
  if ((double)n * (double)dim > 2e7)
    return descent_fail(DESCENT_EINVAL,
                        "--n, --dim: %lld examples of %lld features are too many (n dim at "
                        "most 2e7)",
                        (long long)n, (long long)dim);
  if ((double)n * (double)epochs * (double)dim * (double)(4 * seeds + 1) > 2e10)
    return descent_fail(DESCENT_EINVAL,
                        "--epochs: %lld epochs of %lld examples in %lld dimensions are too many",
                        (long long)epochs, (long long)n, (long long)dim);
  bb_data D = {.n = n, .d = (int)dim, .noise = noise};
  double hess_max = 0;
  rc = make_data(&D, kappa, (uint64_t)seed, &hess_max);
  /* the schedules end as 2 / (lambda_min t) for 1/t */
  const double tau = 2 * kappa / lr; /* 2 / (eta_0 lambda_min), lambda_min = 1/kappa */
  char texts[N_RUNS][160], eta[LAB_NUM], tau_text[LAB_NUM];
  lab_num(eta, lr), lab_num(tau_text, tau);
  snprintf(texts[0], sizeof texts[0], "full gradient, step 1/L = %.4g", 1 / hess_max);
  snprintf(texts[1], sizeof texts[1], "inv(%s, tau=%s)", eta, tau_text);
  snprintf(texts[2], sizeof texts[2], "poly(%s, 0.5, tau=%s)", eta, tau_text);
  snprintf(texts[3], sizeof texts[3], "step(%s, step_size=%lld, gamma=0.5)", eta,
           (long long)(decay_epochs * n));
  snprintf(texts[4], sizeof texts[4], "%s", eta);
  bb_curve *curves[N_RUNS] = {NULL};
  int n_curves[N_RUNS];
  for (int r = 0; r < N_RUNS && !rc; r++) {
    n_curves[r] = r == GD_RUN ? 1 : (int)seeds;
    curves[r] = calloc((size_t)n_curves[r], sizeof(bb_curve));
    if (!curves[r]) rc = descent_fail(DESCENT_ENOMEM, "bottou-bousquet: out of memory");
  }
  if (!rc) rc = run_gd(&D, 1 / hess_max, epochs, &curves[0][0]);
  for (int r = 1; r < N_RUNS && !rc; r++) {
    descent_schedule *sched = NULL;
    rc = descent_schedule_parse(&sched, texts[r]);
    for (int s = 0; s < n_curves[r] && !rc; s++)
      rc = run_sgd(&D, sched, epochs * n, (uint64_t)seed + 1 + (uint64_t)s * 1000003u,
                   &curves[r][s]);
    descent_schedule_free(sched);
  }
  const double r_star = noise * noise / 2;
  const double erm_test = rc ? NAN : test_error(&D, D.w_erm);
  const double erm_train = rc ? NAN : train_error(&D, D.w_erm);
  const double floor = noise * noise * (double)dim / (2.0 * (double)(n - dim - 1));
  const double target = level * (erm_test - r_star);
  lab_table *t = NULL, *u = NULL;
  if (!rc) {
    char title[200];
    snprintf(title, sizeof title,
             "Least squares, n = %lld, d = %lld: SGD (%lld seeds, means) against full-batch "
             "gradient descent over %lld epochs; errors at the end",
             (long long)n, (long long)dim, (long long)seeds, (long long)epochs);
    t = lab_result_table(res, "bottou-bousquet", title,
                         "run|schedule|epochs to level|seconds to level|train error|test error|"
                         "train excess|test excess|late test excess");
    u = lab_result_table(res, "bottou-bousquet-theory",
                         "The estimation error: what n examples allow, and what each method needs "
                         "to get near it",
                         "quantity|value|closed form");
    if (!t || !u) rc = DESCENT_ERANGE;
  }
  double epochs_to[N_RUNS], final_train[N_RUNS], final_test[N_RUNS], final_late[N_RUNS];
  for (int r = 0; r < N_RUNS && !rc; r++) {
    double ev[100], sec[100], tr[100], te[100], late[100];
    for (int s = 0; s < n_curves[r]; s++) {
      const bb_curve *c = &curves[r][s];
      ev[s] = reach_evals(c, r_star, target, &sec[s]) / (double)n;
      tr[s] = c->train[c->n - 1], te[s] = c->test[c->n - 1], late[s] = c->late_test;
    }
    lab_stats late_st;
    lab_stats_of(late, n_curves[r], &late_st);
    final_late[r] = late_st.mean;
    bb_run_stats st;
    lab_stats_of(ev, n_curves[r], &st.evals), lab_stats_of(sec, n_curves[r], &st.seconds);
    lab_stats_of(tr, n_curves[r], &st.train), lab_stats_of(te, n_curves[r], &st.test);
    int row = lab_table_row(t, "%s", run_labels[r]);
    lab_table_text(t, row, "schedule", "%s", texts[r]);
    /* a run that never reached the level: the mean over those that did is
       no answer, say how many did not */
    int missed = n_curves[r] - st.evals.n;
    if (missed)
      lab_table_text(t, row, "epochs to level", "never (%d of %d runs)", missed, n_curves[r]);
    else
      lab_table_num(t, row, "epochs to level", st.evals.mean);
    epochs_to[r] = missed ? NAN : st.evals.mean;
    final_train[r] = st.train.mean, final_test[r] = st.test.mean;
    if (missed)
      lab_table_text(t, row, "seconds to level", "-");
    else
      lab_table_num(t, row, "seconds to level", st.seconds.mean);
    lab_table_num(t, row, "train error", st.train.mean);
    lab_table_num(t, row, "test error", st.test.mean);
    lab_table_num(t, row, "train excess", st.train.mean - erm_train);
    lab_table_num(t, row, "test excess", st.test.mean - r_star);
    lab_table_num(t, row, "late test excess", late_st.mean - r_star);
  }
  if (!rc) {
    int r = lab_table_row(u, "R* = s^2/2 (best possible test error)");
    lab_table_num(u, r, "value", r_star);
    lab_table_num(u, r, "closed form", r_star);
    r = lab_table_row(u, "ERM's test excess R(w_n) - R*");
    lab_table_num(u, r, "value", erm_test - r_star);
    lab_table_num(u, r, "closed form", floor);
    /* the ERM fits the sample's noise: its training error sits below the
       truth's by s^2 d / (2n) in expectation (a chi-square with d degrees
       of freedom; the truth's own training error scatters by s^2 / sqrt(2n)) */
    r = lab_table_row(u, "ERM's training error below w*'s");
    lab_table_num(u, r, "value", train_error(&D, D.w_star) - erm_train);
    lab_table_num(u, r, "closed form", noise * noise * (double)dim / (2.0 * (double)n));
    r = lab_table_row(u, "level: test excess");
    lab_table_num(u, r, "value", target);
    lab_table_text(u, r, "closed form", "%g x the ERM's", level);
    /* gradient descent from w = 0 with the population's curvatures: the
       test excess is the ERM's plus 1/2 sum_j lambda_j (1 - lambda_j/L)^(2k)
       w*_j^2 after k iterations */
    double gd_k = NAN;
    for (int64_t k = 0; k <= 100 * epochs && isnan(gd_k); k++) {
      double left = 0;
      for (int j = 0; j < D.d; j++)
        left += 0.5 * D.lambda[j] * pow(1 - D.lambda[j] / hess_max, 2.0 * (double)k) * D.w_star[j] *
                D.w_star[j];
      if (left <= target - (erm_test - r_star)) gd_k = (double)k;
    }
    r = lab_table_row(u, "gd: epochs to level");
    lab_table_num(u, r, "value", epochs_to[0]);
    lab_table_num(u, r, "closed form", gd_k);
    r = lab_table_row(u, "sgd 1/t: epochs to level");
    lab_table_num(u, r, "value", epochs_to[1]);
    lab_table_text(u, r, "closed form", "-");
    r = lab_table_row(u, "gd / sgd 1/t: evaluations to level");
    lab_table_num(u, r, "value", epochs_to[0] / epochs_to[1]);
    lab_table_text(u, r, "closed form", "-");
    /* SGD at a constant step eta around w_n (Gaussian inputs: E[x x^T A x
       x^T] = 2 Sigma A Sigma + tr(A Sigma) Sigma): the stationary excess
       is s^2 Q / (2 (1 - Q)), Q = (eta/2) sum_j lambda_j / (1 - eta
       lambda_j), on top of the ERM's */
    /* the floor of a step eta: Q(eta) = (eta/2) sum_j lambda_j / (1 - eta
       lambda_j); for 1/sqrt(t), its step in the middle of the last quarter
       (it changes slowly against the 1/(eta lambda) steps a floor needs) */
    double eta_end = lr / sqrt(1 + 0.875 * (double)(epochs * n) / tau);
    double q = 0, q_end = 0;
    for (int j = 0; j < D.d; j++) {
      q += 0.5 * lr * D.lambda[j] / (1 - lr * D.lambda[j]);
      q_end += 0.5 * eta_end * D.lambda[j] / (1 - eta_end * D.lambda[j]);
    }
    r = lab_table_row(u, "sgd constant: late test excess");
    lab_table_num(u, r, "value", final_late[4] - r_star);
    lab_table_num(u, r, "closed form",
                  q < 1 ? erm_test - r_star + noise * noise * q / (2 * (1 - q)) : INFINITY);
    r = lab_table_row(u, "sgd 1/sqrt(t): late test excess");
    lab_table_num(u, r, "value", final_late[2] - r_star);
    lab_table_num(u, r, "closed form",
                  q_end < 1 ? erm_test - r_star + noise * noise * q_end / (2 * (1 - q_end))
                            : INFINITY);
    lab_result_note(res,
                    "SGD at 1/t reaches a test error within %g x the ERM's in %.3g epochs, "
                    "gradient descent in %.3g: %.3g times fewer examples touched.",
                    level, epochs_to[1], epochs_to[0], epochs_to[0] / epochs_to[1]);
    lab_result_note(res,
                    "At the end gradient descent's training error is the ERM's to %.2g, SGD's "
                    "(1/t) %.3g above it; their test errors differ by %.2g, against an "
                    "estimation error of %.3g.",
                    final_train[0] - erm_train, final_train[1] - erm_train,
                    final_test[1] - final_test[0], erm_test - r_star);
  }
  if (!rc && dir)
    rc = bottou_files(dir, res, &D, curves, n_curves, r_star, erm_test, erm_train, floor);
  for (int r = 0; r < N_RUNS; r++) free(curves[r]);
  free(D.x), free(D.y), free(D.lambda), free(D.w_star), free(D.w_erm);
  return rc;
}

const lab_demo lab_demo_bottou_bousquet = {
    "bottou-bousquet",
    "slide 18",
    "SGD (one example per step, schedules 1/t, 1/sqrt(t), step decay, constant) against "
    "full-batch gradient descent on least squares: training and test error against examples "
    "touched and seconds, with the estimation error s^2 d / (2n)",
    bottou_options,
    sizeof bottou_options / sizeof bottou_options[0],
    bottou_run,
    "Stochastic gradient converges more slowly than the full-batch gradient in training error, "
    "but only in training error: on the test error it converges as fast (Bottou & Bousquet "
    "2008), counted in examples touched.",
    "Against examples touched, SGD's test error reaches the estimation error (the ERM's, "
    "about s^2 d/(2n)) many times sooner than gradient descent's, which then only catches up; "
    "on the training error gradient descent ends far below SGD, an advantage that buys no test "
    "error. Among SGD's schedules, 1/t and the step decay reach the estimation error, 1/sqrt(t) "
    "and the constant step stay above it at floors set by their last steps.",
    NULL,
};
