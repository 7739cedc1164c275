/*
 * test_problems.c - the lecture's synthetic problems and the run loop: specs
 * accepted and refused, gradients against finite differences, the known
 * minima and curvatures against closed forms, finite-sum batches, and the
 * run loop's stopping rules (eps, escape, divergence).
 */
#include "check.h"

#include "problems/problem.h"

#include <math.h>
#include <stdlib.h>

#ifndef DESCENT_FIXTURE_DIR
#define DESCENT_FIXTURE_DIR "tests/fixtures/quadratic_deep"
#endif

static const int is_double = sizeof(descent_real) == sizeof(double);

static descent_objective *make(const char *spec) {
  descent_objective *obj = NULL;
  CHECK_OK(descent_problem_create(&obj, spec));
  return obj;
}

static double value_at(descent_objective *obj, const double *theta) {
  for (size_t i = 0; i < obj->n_params; i++) obj->params[i] = (descent_real)theta[i];
  double f = NAN;
  CHECK_OK(descent_objective_value_and_grad(obj, NULL, &f));
  return f;
}

static void test_every_family_gradcheck(void) {
  static const char *const specs[] = {"quad1d",
                                      "quad1d(curvature=3, center=-1)",
                                      "logcosh(2)",
                                      "nonconvex1d",
                                      "quad2d(kappa=50, angle=30)",
                                      "quadnd(dim=7, kappa=20, rotate=1, seed=3)",
                                      "quadnd(dim=5, spectrum=linear)",
                                      "linreg(scale=10, n=50, dim=3)",
                                      "linreg(scale=10, normalize=1, n=50)",
                                      "finite_sum(n=20)",
                                      "saddle",
                                      "plateau(width=2)",
                                      "rosenbrock",
                                      "beale",
                                      "quadratic_deep(n=20)"};
  for (size_t s = 0; s < sizeof specs / sizeof specs[0]; s++) {
    descent_objective *obj = make(specs[s]);
    if (!obj) continue;
    const descent_problem_info *info = descent_problem_info_get(obj);
    CHECK_MSG(info && info->dim == obj->n_params, "%s", specs[s]);
    /* Away from the start, where some gradients vanish. */
    for (size_t i = 0; i < obj->n_params; i++)
      obj->params[i] = (descent_real)(info->start[i] + 0.3 + 0.1 * (double)i);
    descent_gradcheck_result r;
    CHECK_OK(descent_gradcheck(obj, NULL, is_double ? 1e-5 : 1e-2, 1e-3, 0, 1, &r));
    CHECK_MSG(r.max_rel_error < (is_double ? 1e-6 : 2e-2), "%s: gradient error %g at %zu", specs[s],
              r.max_rel_error, r.worst_index);
    descent_objective_free(obj);
  }
}

static void test_specs_refused(void) {
  descent_objective *obj = (descent_objective *)1;
  CHECK_FAILS(descent_problem_create(&obj, "quad3d"), DESCENT_EINVAL,
              "unknown problem 'quad3d'; valid problems: quad1d, logcosh");
  CHECK(obj == NULL);
  CHECK_FAILS(descent_problem_create(&obj, "quad2d(kapa=3)"), DESCENT_EINVAL,
              "valid parameters: kappa, angle, curvature");
  CHECK_FAILS(descent_problem_create(&obj, "quad2d(kappa=0.5)"), DESCENT_EINVAL,
              "out of range; valid values are [1, 1e+12]");
  CHECK_FAILS(descent_problem_create(&obj, "quadnd(spectrum=cubic)"), DESCENT_EINVAL,
              "valid spectra: geometric, linear, two");
  CHECK_FAILS(descent_problem_create(&obj, "linreg(n=1)"), DESCENT_EINVAL, "out of range");
  CHECK_FAILS(descent_problem_create(&obj, ""), DESCENT_EINVAL, "empty problem");
  descent_objective_free(NULL);
}

static void test_info(void) {
  descent_objective *q = make("quad2d(kappa=100, angle=30)");
  const descent_problem_info *info = descent_problem_info_get(q);
  CHECK(strcmp(info->spec, "quad2d(kappa=100, angle=30, curvature=1)") == 0);
  CHECK_CLOSE(info->curvature_max, 1, 1e-12);
  CHECK_CLOSE(info->curvature_min, 0.01, 1e-12);
  /* Along the steep axis (cos 30, sin 30), f = t^2 / 2; along the flat one t^2 / 200. */
  const double pi = 3.14159265358979323846;
  double c = cos(pi / 6), s = sin(pi / 6);
  CHECK_CLOSE(value_at(q, (double[]){2 * c, 2 * s}), 2, 1e-6);
  CHECK_CLOSE(value_at(q, (double[]){-2 * s, 2 * c}), 0.02, 1e-6);
  CHECK(descent_problem_which_minimum(q, (double[]){1e-4, 0}, 1e-3) == 0);
  CHECK(descent_problem_which_minimum(q, (double[]){1e-2, 0}, 1e-3) == -1);
  descent_objective_free(q);

  descent_objective *nc = make("nonconvex1d");
  info = descent_problem_info_get(nc);
  static const double expected[4] = {-7.353, -1.6043, 0.8828, 4.2748};
  CHECK(info->n_minima == 4);
  for (size_t m = 0; m < info->n_minima && m < 4; m++)
    CHECK_MSG(fabs(info->minima[m] - expected[m]) < 1e-3, "minimum %zu at %g", m, info->minima[m]);
  CHECK_CLOSE(info->minimizer[0], -1.6043, 1e-3);
  CHECK_CLOSE(info->f_min, -1.2096, 1e-3);
  CHECK(descent_problem_which_minimum(nc, (double[]){4.2749}, 1e-3) == 3);
  descent_objective_free(nc);

  descent_objective *sd = make("saddle");
  info = descent_problem_info_get(sd);
  CHECK(!info->bounded && info->minimizer == NULL && isinf(info->f_min));
  CHECK(info->escape_value == -1);
  CHECK(descent_problem_which_minimum(sd, (double[]){0, 0}, 1) == -1);
  descent_objective_free(sd);

  descent_objective *rb = make("rosenbrock");
  CHECK_CLOSE(value_at(rb, (double[]){1, 1}), 0, 1e-12);
  CHECK_CLOSE(value_at(rb, (double[]){-1.2, 1}), 24.2, 1e-5);
  descent_objective_free(rb);

  /* Beale: 0 at (3, 0.5); at (1, 1.5) the residuals are 2, 3.5 and 5 */
  descent_objective *be = make("beale");
  CHECK_CLOSE(value_at(be, (double[]){3, 0.5}), 0, 1e-12);
  CHECK_CLOSE(value_at(be, (double[]){1, 1.5}), 4 + 12.25 + 25, 1e-9);
  descent_objective_free(be);

  /* A network's objective is not a problem. */
  CHECK(descent_problem_info_get(NULL) == NULL);
}

/* The minimizer of a least-squares problem zeroes the gradient, and the
   curvatures are the Hessian's eigenvalues. */
static void test_least_squares(void) {
  descent_objective *raw = make("linreg(scale=100, n=200)");
  descent_objective *nrm = make("linreg(scale=100, normalize=1, n=200)");
  const descent_problem_info *ri = descent_problem_info_get(raw);
  const descent_problem_info *ni = descent_problem_info_get(nrm);
  double f = value_at(raw, ri->minimizer);
  CHECK_CLOSE(f, ri->f_min, 1e-6);
  for (size_t i = 0; i < 2; i++)
    CHECK_MSG(fabs(raw->grad[i]) < (is_double ? 1e-9 : 1e-2), "gradient %g at the minimizer",
              raw->grad[i]);
  /* The second feature is 100 times larger: its curvature about 1e4 times. */
  CHECK(ri->curvature_max / ri->curvature_min > 5000);
  CHECK(ni->curvature_max / ni->curvature_min < 1.5);
  /* The same relation in other units: coefficients about 1 and 1/100. */
  CHECK(fabs(ri->minimizer[0] - 1) < 0.1 && fabs(ri->minimizer[1] - 0.01) < 0.001);
  descent_objective_free(raw);
  descent_objective_free(nrm);

  descent_objective *fs = make("finite_sum(n=10, noise=0.5, seed=2)");
  const descent_problem_info *info = descent_problem_info_get(fs);
  CHECK(info->n_terms == 10);
  size_t all[10];
  for (size_t i = 0; i < 10; i++) all[i] = i;
  double whole, batch_all, sum = 0, one;
  CHECK_OK(descent_objective_value(fs, NULL, &whole));
  descent_batch b = {.n = 10, .indices = all};
  CHECK_OK(descent_objective_value(fs, &b, &batch_all));
  CHECK_CLOSE(whole, batch_all, 1e-12);
  for (size_t i = 0; i < 10; i++) {
    descent_batch single = {.n = 1, .indices = &all[i]};
    CHECK_OK(descent_objective_value(fs, &single, &one));
    sum += one;
  }
  CHECK_CLOSE(sum / 10, whole, 1e-12);
  size_t bad = 10;
  descent_batch out_of_range = {.n = 1, .indices = &bad};
  CHECK_FAILS(descent_objective_value(fs, &out_of_range, &one), DESCENT_EINVAL,
              "term index 10 is out of range [0, 10)");
  descent_objective_free(fs);

  descent_objective *q = make("quad1d");
  descent_batch picks = {.n = 1, .indices = all};
  CHECK_FAILS(descent_objective_value(q, &picks, &one), DESCENT_EINVAL, "not a finite sum");
  descent_objective_free(q);
}

/* quadnd: a rotation keeps the spectrum, so the trace of A (twice the sum of
   f at the unit vectors) is the sum of the chosen eigenvalues either way. */
static void test_quadnd(void) {
  for (int rotate = 0; rotate < 2; rotate++) {
    char spec[96];
    snprintf(spec, sizeof spec, "quadnd(dim=6, kappa=32, spectrum=geometric, rotate=%d)", rotate);
    descent_objective *q = make(spec);
    double trace = 0, expected = 0;
    for (int i = 0; i < 6; i++) {
      double e[6] = {0};
      e[i] = 1;
      trace += 2 * value_at(q, e);
      expected += pow(32, -i / 5.0);
    }
    CHECK_CLOSE(trace, expected, 1e-5);
    descent_objective_free(q);
  }
}

/* Reads the numbers of the fixture line that starts with tag. */
static size_t fixture_numbers(const char *tag, double *out, size_t cap) {
  static char line[65536];
  FILE *f = fopen(DESCENT_FIXTURE_DIR "/quadratic_deep.txt", "r");
  CHECK_MSG(f != NULL, "cannot open " DESCENT_FIXTURE_DIR "/quadratic_deep.txt");
  if (!f) return 0;
  size_t n = 0, len = strlen(tag);
  while (fgets(line, sizeof line, f))
    if (strncmp(line, tag, len) == 0 && line[len] == ' ') {
      char *p = line + len, *end;
      while (n < cap) {
        double v = strtod(p, &end);
        if (end == p) break;
        out[n++] = v;
        p = end;
      }
      break;
    }
  fclose(f);
  return n;
}

/* One term's value 1/2 (theta - x)^T Q (theta - x) with Q dense. */
static double qd_term(const double *q, const double *theta, const double *x) {
  double f = 0;
  for (int a = 0; a < 100; a++)
    for (int b = 0; b < 100; b++) f += 0.5 * (theta[a] - x[a]) * q[a * 100 + b] * (theta[b] - x[b]);
  return f;
}

static int compare_doubles(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* quadratic_deep against DeepOBS's own draws (make_quadratic_deep_fixture.py):
   Q's rows, its spectrum, the training and test terms, the loss at the
   start. */
static void test_quadratic_deep(void) {
  static double q[100 * 100], eig[100], want[100], row[100], x[100], theta[100], scratch[100 * 100];
  descent_objective *obj = make("quadratic_deep");
  descent_objective *test = make("quadratic_deep(data_seed=43)");
  if (!obj || !test) return;
  const descent_problem_info *info = descent_problem_info_get(obj);
  CHECK(obj->n_params == 100 && info->n_terms == 1000);
  double tol = is_double ? 1e-12 : 1e-6;
  /* Q column by column from Hessian-vector products (Q is symmetric). */
  static descent_real e[100], out[100];
  for (int j = 0; j < 100; j++) {
    for (int i = 0; i < 100; i++) e[i] = (descent_real)(i == j);
    CHECK_OK(descent_objective_hvp(obj, NULL, e, out));
    for (int i = 0; i < 100; i++) q[i * 100 + j] = (double)out[i];
  }
  CHECK(fixture_numbers("q_row0", row, 100) == 100);
  for (int j = 0; j < 100; j++) CHECK_CLOSE(q[j], row[j], tol);
  CHECK(fixture_numbers("q_row99", row, 100) == 100);
  for (int j = 0; j < 100; j++) CHECK_CLOSE(q[99 * 100 + j], row[j], tol);
  /* The spectrum: Q's eigenvalues are the drawn ones, 90 below 1, 10 in
     (30, 60). */
  CHECK(fixture_numbers("eigenvalues", want, 100) == 100);
  qsort(want, 100, sizeof *want, compare_doubles);
  memcpy(scratch, q, sizeof q);
  problem_symmetric_eigenvalues(scratch, 100, eig);
  for (int k = 0; k < 100; k++) CHECK_CLOSE(eig[k], want[k], is_double ? 1e-9 : 1e-5);
  CHECK(eig[89] < 1 && eig[90] > 30 && eig[99] < 60);
  CHECK(info->curvature_min == want[0] && info->curvature_max == want[99]);
  /* The terms: a batch of one term is that term's loss. */
  for (int i = 0; i < 100; i++) theta[i] = info->start[i];
  CHECK(theta[0] == 1 && theta[99] == 1);
  static const struct {
    const char *tag;
    size_t index;
    int test_set;
  } terms[] = {{"train_row0", 0, 0}, {"train_row999", 999, 0}, {"test_row0", 0, 1}};
  for (size_t t = 0; t < 3; t++) {
    CHECK(fixture_numbers(terms[t].tag, x, 100) == 100);
    descent_objective *o = terms[t].test_set ? test : obj;
    for (int i = 0; i < 100; i++) o->params[i] = 1;
    descent_batch batch = {.n = 1, .indices = &terms[t].index};
    double f = NAN;
    CHECK_OK(descent_objective_value_and_grad(o, &batch, &f));
    CHECK_MSG(fabs(f - qd_term(q, theta, x)) <= 1e-6 * f, "%s: f %.17g, DeepOBS %.17g",
              terms[t].tag, f, qd_term(q, theta, x));
  }
  /* The whole training set's mean loss at the start. */
  double loss = NAN, loss_want;
  CHECK(fixture_numbers("loss_at_start", &loss_want, 1) == 1);
  loss = value_at(obj, theta);
  CHECK_MSG(fabs(loss - loss_want) <= (is_double ? 1e-10 : 1e-5) * loss_want, "%.17g vs %.17g",
            loss, loss_want);
  /* The minimizer is the mean term: the gradient vanishes there. */
  for (int i = 0; i < 100; i++) obj->params[i] = (descent_real)info->minimizer[i];
  double fmin = NAN;
  CHECK_OK(descent_objective_value_and_grad(obj, NULL, &fmin));
  CHECK_CLOSE(fmin, info->f_min, is_double ? 1e-12 : 1e-5);
  double gmax = 0;
  for (size_t i = 0; i < obj->n_params; i++) gmax = check_worst(gmax, fabs((double)obj->grad[i]));
  CHECK_MSG(gmax < (is_double ? 1e-10 : 1e-4), "gradient %g at the minimizer", gmax);
  descent_objective_free(obj);
  descent_objective_free(test);
}

static void test_run_loop(void) {
  descent_objective *q = make("quad1d(curvature=0.5)");
  descent_optimizer *opt = NULL;
  descent_run_options o;
  descent_run_options_default(&o);
  CHECK(o.iters == 1000 && o.blowup == 1e6 && isnan(o.f_min));
  o.eps = 1e-6;
  o.record_params = 1;
  descent_trace tr;
  /* alpha = 1/L lands on the minimum in one step. */
  CHECK_OK(descent_optimizer_create(&opt, "sgd", "2", 1));
  CHECK_OK(descent_run_iterates(q, opt, (double[]){3}, &o, &tr));
  CHECK(tr.reached_at == 1 && tr.steps == 1 && !tr.diverged);
  CHECK(tr.params[0] == 3 && fabs(tr.params[1]) < 1e-12);
  CHECK_CLOSE(tr.values[0], 2.25, 1e-12);
  CHECK(descent_trace_iterations_to(&tr, 0, 1e-6) == 1);
  descent_trace_free(&tr);
  descent_optimizer_free(opt);
  /* alpha L = 3: theta is multiplied by 1 - 3 = -2 per step and f by 4; the
     gap passes 1e6 times the first one after ceil(log(1e6) / log(4)) = 10. */
  CHECK_OK(descent_optimizer_create(&opt, "sgd", "6", 1));
  CHECK_OK(descent_run_iterates(q, opt, (double[]){3}, &o, &tr));
  CHECK(tr.diverged && tr.steps == 10 && tr.reached_at == -1);
  descent_trace_free(&tr);
  descent_optimizer_free(opt);
  /* a batch needs a finite sum */
  o.batch_size = 4;
  CHECK_OK(descent_optimizer_create(&opt, "sgd", "0.1", 1));
  CHECK_FAILS(descent_run_iterates(q, opt, NULL, &o, &tr), DESCENT_EINVAL, "needs a finite sum");
  CHECK(tr.values == NULL);
  descent_optimizer_free(opt);
  descent_objective_free(q);

  /* escape: the saddle from (1, 1e-3) with alpha = 0.25: y grows by 1.5 per
     step, f <= -1 once y >= 1, i.e. after ceil(log(1000) / log(1.5)) = 18 */
  descent_objective *sd = make("saddle");
  descent_run_options_default(&o);
  o.escape_below = -1;
  CHECK_OK(descent_optimizer_create(&opt, "sgd", "0.25", 2));
  CHECK_OK(descent_run_iterates(sd, opt, (double[]){1, 1e-3}, &o, &tr));
  CHECK_MSG(tr.escaped_at == 18 && tr.steps == 18, "escaped at %lld", (long long)tr.escaped_at);
  descent_trace_free(&tr);
  descent_optimizer_free(opt);
  descent_objective_free(sd);

  /* The divergence test on its own. */
  descent_real theta[2] = {1, 2};
  CHECK(descent_run_diverged(NAN, 1, 0, theta, 2, &o));
  CHECK(!descent_run_diverged(1e5, 1, 0, theta, 2, &o));
  CHECK(descent_run_diverged(2e6, 1, 0, theta, 2, &o));
  theta[1] = (descent_real)2e12;
  CHECK(descent_run_diverged(1, 1, 0, theta, 2, &o));
}

/* SGD on the finite sum draws the same terms for the same seed. */
static void test_stochastic_seeds(void) {
  descent_objective *fs = make("finite_sum");
  descent_run_options o;
  descent_run_options_default(&o);
  o.iters = 200;
  o.batch_size = 1;
  double last[3];
  for (int k = 0; k < 3; k++) {
    descent_optimizer *opt = NULL;
    descent_trace tr;
    o.seed = k < 2 ? 7 : 8;
    CHECK_OK(descent_optimizer_create(&opt, "sgd", "0.1", 2));
    CHECK_OK(descent_run_iterates(fs, opt, descent_problem_info_get(fs)->start, &o, &tr));
    last[k] = tr.values[tr.steps];
    descent_trace_free(&tr);
    descent_optimizer_free(opt);
  }
  CHECK(last[0] == last[1]);
  CHECK(last[0] != last[2]);
  descent_objective_free(fs);
}

int main(void) {
  test_every_family_gradcheck();
  test_specs_refused();
  test_info();
  test_least_squares();
  test_quadnd();
  test_quadratic_deep();
  test_run_loop();
  test_stochastic_seeds();
  return check_report();
}
