/*
 * test_sharpness.c - Lanczos's extreme eigenvalues and the optimizers'
 * stability limits.
 *
 * Lanczos: on explicit symmetric matrices against LAPACK's full
 * eigendecomposition (exact once the Krylov space is the whole space or an
 * invariant subspace of it), its early stop and its warm start; on the lab's
 * quadratics and saddles through their analytic Hessian-vector products; on
 * small networks (double build) against the dense Hessian and Gauss-Newton
 * matrix built column by column from their products. Stability: every
 * recognised chain's limit and rule, Adam's preconditioner against a
 * recomputation from its moments, and on a 1D quadratic the limits' own
 * meaning: gradient descent, heavy ball and Nesterov converge just below
 * the limit and diverge just above it.
 */
#include "check.h"
#include "internal.h"

#include <stdlib.h>

static const int is_double = sizeof(descent_real) == sizeof(double);

/* ---- operators ------------------------------------------------------------- */

typedef struct dense_op {
  size_t n;
  const double *a; /* n x n, symmetric */
  int products;
} dense_op;

static int dense_apply(void *user, const descent_real *v, descent_real *out) {
  dense_op *op = user;
  for (size_t i = 0; i < op->n; i++) {
    double s = 0;
    for (size_t j = 0; j < op->n; j++) s += op->a[i * op->n + j] * (double)v[j];
    out[i] = (descent_real)s;
  }
  op->products++;
  return DESCENT_OK;
}

typedef struct objective_op {
  descent_objective *obj;
  const descent_batch *batch;
  int ggn;
} objective_op;

static int objective_apply(void *user, const descent_real *v, descent_real *out) {
  objective_op *op = user;
  return op->ggn ? descent_objective_ggnvp(op->obj, op->batch, v, out)
                 : descent_objective_hvp(op->obj, op->batch, v, out);
}

static int failing_apply(void *user, const descent_real *v, descent_real *out) {
  (void)user, (void)v, (void)out;
  return descent_fail(DESCENT_ENOTSUP, "this operator has no product");
}

static int nan_apply(void *user, const descent_real *v, descent_real *out) {
  dense_op *op = user;
  for (size_t i = 0; i < op->n; i++) out[i] = (descent_real)(i == 0 ? NAN : v[i]);
  return DESCENT_OK;
}

/* A random symmetric n x n matrix Q diag(w) Q^T with the given
   eigenvalues (Q from the eigenvectors of a random symmetric matrix). */
static double *matrix_with_spectrum(size_t n, const double *w, uint64_t seed) {
  descent_rng rng;
  descent_rng_seed(&rng, seed);
  double *g = calloc(n * n, sizeof *g), *ev = calloc(n, sizeof *ev), *a = calloc(n * n, sizeof *a);
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j <= i; j++) g[i * n + j] = g[j * n + i] = descent_rng_normal(&rng);
  CHECK_OK(descent_symmetric_eigen(n, g, ev)); /* rows of g: orthonormal vectors */
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < n; j++) {
      double s = 0;
      for (size_t k = 0; k < n; k++) s += g[k * n + i] * w[k] * g[k * n + j];
      a[i * n + j] = s;
    }
  free(g);
  free(ev);
  return a;
}

/* The extreme eigenvalues of a by LAPACK. */
static void full_extremes(size_t n, const double *a, double *lo, double *hi) {
  double *copy = malloc(n * n * sizeof *copy), *w = malloc(n * sizeof *w);
  memcpy(copy, a, n * n * sizeof *copy);
  CHECK_OK(descent_symmetric_eigen(n, copy, w));
  *lo = w[0];
  *hi = w[n - 1];
  free(copy);
  free(w);
}

/* |A u - theta u| for a unit u, in double. */
static double residual(const dense_op *op, const descent_real *u, double theta) {
  double r = 0;
  for (size_t i = 0; i < op->n; i++) {
    double s = 0;
    for (size_t j = 0; j < op->n; j++) s += op->a[i * op->n + j] * (double)u[j];
    r += (s - theta * u[i]) * (s - theta * u[i]);
  }
  return sqrt(r);
}

/* ---- Lanczos on explicit matrices --------------------------------------------- */

static void test_random_matrices(void) {
  /* Random symmetric matrices, indefinite: with n iterations, exact. */
  double tol = is_double ? 1e-10 : 2e-5;
  for (size_t n = 1; n <= 40; n += 13) {
    descent_rng rng;
    descent_rng_seed(&rng, 100 + n);
    double *a = calloc(n * n, sizeof *a);
    for (size_t i = 0; i < n; i++)
      for (size_t j = 0; j <= i; j++) a[i * n + j] = a[j * n + i] = descent_rng_normal(&rng);
    double lo, hi;
    full_extremes(n, a, &lo, &hi);
    dense_op op = {n, a, 0};
    descent_real *top = calloc(n, sizeof *top), *bottom = calloc(n, sizeof *bottom);
    descent_lanczos_result r;
    CHECK_OK(descent_lanczos(dense_apply, &op, n, (int)n + 5, 0, NULL, 3, top, bottom, &r));
    double scale = fmax(fabs(lo), fabs(hi));
    CHECK_MSG(fabs(r.top - hi) <= tol * scale, "n %zu: top %.17g, LAPACK %.17g", n, r.top, hi);
    CHECK_MSG(fabs(r.bottom - lo) <= tol * scale, "n %zu: bottom %.17g, LAPACK %.17g", n, r.bottom,
              lo);
    CHECK_MSG(r.products <= (int)n && op.products == r.products, "n %zu: %d products, %d counted",
              n, r.products, op.products);
    /* The Ritz vectors are unit eigenvectors; the residuals bound them. */
    CHECK(residual(&op, top, r.top) <= 10 * tol * scale);
    CHECK(residual(&op, bottom, r.bottom) <= 10 * tol * scale);
    CHECK(r.top_residual <= 10 * tol * scale && r.bottom_residual <= 10 * tol * scale);
    free(a);
    free(top);
    free(bottom);
  }
}

/* A start in an invariant subspace of 3 eigenvectors: the Krylov space is
   exhausted after 3 products, and the answer is that subspace's exactly. */
static void test_exhausted_space(void) {
  const size_t n = 20;
  double w[20];
  for (size_t i = 0; i < n; i++) w[i] = (double)i - 5; /* -5 .. 14 */
  double *a = calloc(n * n, sizeof *a);
  for (size_t i = 0; i < n; i++) a[i * n + i] = w[i];
  descent_real start[20] = {0};
  start[2] = 1, start[7] = 2, start[11] = -1; /* eigenvalues -3, 2, 6 */
  dense_op op = {n, a, 0};
  descent_lanczos_result r;
  descent_real top[20];
  CHECK_OK(descent_lanczos(dense_apply, &op, n, 15, 0, start, 0, top, NULL, &r));
  CHECK_MSG(r.products == 3, "%d products", r.products);
  CHECK_CLOSE(r.top, 6, 1e-6);
  CHECK_CLOSE(r.bottom, -3, 1e-6);
  CHECK_CLOSE(fabs((double)top[11]), 1, 1e-6);
  CHECK(r.top_residual <= 1e-5 && r.bottom_residual <= 1e-5);
  /* A diagonal matrix with 4 distinct values, from a random start: the
     space has dimension 4. */
  for (size_t i = 0; i < n; i++) a[i * n + i] = (double)(i % 4) - 1.5;
  op.products = 0;
  CHECK_OK(descent_lanczos(dense_apply, &op, n, 15, 0, NULL, 9, NULL, NULL, &r));
  CHECK_MSG(r.products == 4, "%d products", r.products);
  CHECK_CLOSE(r.top, 1.5, 1e-6);
  CHECK_CLOSE(r.bottom, -1.5, 1e-6);
  free(a);
}

/* Early stop: far fewer products than asked when the ends are separated;
   a warm start from the last top vector, on a slightly changed matrix,
   fewer still. */
static void test_early_stop_and_warm_start(void) {
  const size_t n = 300;
  double *w = calloc(n, sizeof *w);
  for (size_t i = 0; i < n; i++) w[i] = (double)i / (double)n; /* [0, 1) */
  w[n - 1] = 3, w[0] = -2;                                     /* separated ends */
  double *a = matrix_with_spectrum(n, w, 5);
  dense_op op = {n, a, 0};
  descent_real *top = calloc(n, sizeof *top), *bottom = calloc(n, sizeof *bottom);
  descent_lanczos_result r;
  double tol = is_double ? 1e-8 : 1e-5;
  CHECK_OK(descent_lanczos(dense_apply, &op, n, 100, tol, NULL, 1, top, bottom, &r));
  CHECK_MSG(r.products < 40, "%d products for separated ends", r.products);
  CHECK_CLOSE(r.top, 3, 10 * tol);
  CHECK_CLOSE(r.bottom, -2, 10 * tol);
  CHECK(r.top_residual <= tol * 3 && r.bottom_residual <= tol * 3);
  int cold = r.products;
  /* Top only (bottom_vector NULL): the top converges first. */
  CHECK_OK(descent_lanczos(dense_apply, &op, n, 100, tol, NULL, 1, top, NULL, &r));
  CHECK(r.products <= cold);
  CHECK(r.top_residual <= tol * 3);
  /* The matrix moves a little; the warm start from top takes a few
     products where the cold start took cold. */
  descent_rng rng;
  descent_rng_seed(&rng, 6);
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j <= i; j++) {
      double e = 5e-5 * descent_rng_normal(&rng);
      a[i * n + j] += e;
      if (j != i) a[j * n + i] += e;
    }
  int warm_products = 0;
  CHECK_OK(descent_lanczos(dense_apply, &op, n, 100, 1e-3, top, 1, top, NULL, &r));
  warm_products = r.products;
  CHECK_MSG(warm_products <= 2, "warm start took %d products", warm_products);
  CHECK_CLOSE(r.top, 3, 1e-3);
  CHECK_OK(descent_lanczos(dense_apply, &op, n, 100, 1e-3, NULL, 2, NULL, NULL, &r));
  CHECK_MSG(r.products > warm_products, "cold %d products, warm %d", r.products, warm_products);
  /* tol 0: every iteration runs. */
  CHECK_OK(descent_lanczos(dense_apply, &op, n, 25, 0, NULL, 1, NULL, NULL, &r));
  CHECK(r.products == 25);
  free(w);
  free(a);
  free(top);
  free(bottom);
}

static void test_errors(void) {
  double a[4] = {1, 0, 0, 2};
  dense_op op = {2, a, 0};
  descent_lanczos_result r;
  descent_real zero[2] = {0, 0}, inf[2] = {INFINITY, 1};
  CHECK_FAILS(descent_lanczos(dense_apply, &op, 0, 5, 0, NULL, 1, NULL, NULL, &r), DESCENT_EINVAL,
              "pass n >= 1");
  CHECK_FAILS(descent_lanczos(dense_apply, &op, 2, 0, 0, NULL, 1, NULL, NULL, &r), DESCENT_EINVAL,
              "0 iterations; pass at least 1");
  CHECK_FAILS(descent_lanczos(dense_apply, &op, 2, 5, -1, NULL, 1, NULL, NULL, &r), DESCENT_EINVAL,
              "tolerance -1");
  CHECK_FAILS(descent_lanczos(dense_apply, &op, 2, 5, 0, zero, 1, NULL, NULL, &r), DESCENT_EINVAL,
              "start vector's norm is 0");
  CHECK_FAILS(descent_lanczos(dense_apply, &op, 2, 5, 0, inf, 1, NULL, NULL, &r), DESCENT_EINVAL,
              "finite and not zero");
  CHECK_FAILS(descent_lanczos(NULL, &op, 2, 5, 0, NULL, 1, NULL, NULL, &r), DESCENT_EINVAL,
              "must not be NULL");
  CHECK_FAILS(descent_lanczos(failing_apply, NULL, 2, 5, 0, NULL, 1, NULL, NULL, &r),
              DESCENT_ENOTSUP, "this operator has no product");
  CHECK_FAILS(descent_lanczos(nan_apply, &op, 2, 5, 0, NULL, 1, NULL, NULL, &r), DESCENT_EDIVERGED,
              "product at step 1 is not finite");
}

/* ---- Lanczos on the lab's problems --------------------------------------------- */

static void problem_extremes(const char *spec, const double *at, int iterations, double *top,
                             double *bottom) {
  descent_objective *obj = NULL;
  CHECK_OK(descent_problem_create(&obj, spec));
  if (!obj) return;
  if (at)
    for (size_t i = 0; i < obj->n_params; i++) obj->params[i] = (descent_real)at[i];
  objective_op op = {obj, NULL, 0};
  descent_lanczos_result r;
  CHECK_OK(
      descent_lanczos(objective_apply, &op, obj->n_params, iterations, 0, NULL, 4, NULL, NULL, &r));
  *top = r.top;
  *bottom = r.bottom;
  descent_objective_free(obj);
}

static void test_problems(void) {
  double tol = is_double ? 1e-10 : 1e-6, top = 0, bottom = 0;
  problem_extremes("quad2d(kappa=100, angle=30, curvature=3)", NULL, 2, &top, &bottom);
  CHECK_REL(top, 3, tol);
  CHECK_REL(bottom, 0.03, tol);
  /* 100 dimensions, turned: exact with 100 products, to 1e-6 with 40. */
  const char *quadnd = "quadnd(dim=100, kappa=100, spectrum=geometric, rotate=1)";
  problem_extremes(quadnd, NULL, 100, &top, &bottom);
  CHECK_REL(top, 1, tol);
  CHECK_REL(bottom, 0.01, is_double ? 1e-8 : 1e-4);
  problem_extremes(quadnd, NULL, 40, &top, &bottom);
  CHECK_REL(top, 1, 1e-6);
  problem_extremes("quadnd(dim=50, kappa=1000, spectrum=linear, rotate=1, seed=3)", NULL, 50, &top,
                   &bottom);
  CHECK_REL(top, 1, tol);
  /* The saddle f = x^2 - y^2 at 0: curvatures 2 and -2. */
  const double origin[2] = {0, 0};
  problem_extremes("saddle", origin, 2, &top, &bottom);
  CHECK_REL(top, 2, tol);
  CHECK_REL(bottom, -2, tol);
  /* Rosenbrock at (0, 1): H = [[2 - 400 (y - 3x^2), -400 x], [-400 x, 200]]
     = diag(-398, 200), a saddle-like point whose negative curvature is
     found. */
  const double point[2] = {0, 1};
  problem_extremes("rosenbrock", point, 2, &top, &bottom);
  CHECK_REL(top, 200, tol);
  CHECK_REL(bottom, -398, tol);
}

/* ---- Lanczos on networks, against the dense matrix ------------------------------ */

/* The n x n matrix of the product, column by column, symmetrized. */
static double *dense_from_products(objective_op *op, size_t n) {
  double *m = calloc(n * n, sizeof *m);
  descent_real *e = calloc(n, sizeof *e), *col = calloc(n, sizeof *col);
  for (size_t j = 0; j < n; j++) {
    e[j] = 1;
    CHECK_OK(objective_apply(op, e, col));
    e[j] = 0;
    for (size_t i = 0; i < n; i++) m[i * n + j] = col[i];
  }
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < i; j++) m[i * n + j] = m[j * n + i] = (m[i * n + j] + m[j * n + i]) / 2;
  free(e);
  free(col);
  return m;
}

static void check_network(const char *spec, const descent_shape *input, descent_loss_kind loss) {
  enum { B = 6 };
  descent_rng rng;
  descent_rng_seed(&rng, 21);
  size_t features = descent_shape_size(input);
  descent_real *x = calloc(B * features, sizeof *x), targets[B * 3];
  for (size_t i = 0; i < B * features; i++) x[i] = (descent_real)descent_rng_normal(&rng);
  for (size_t i = 0; i < B * 3; i++) targets[i] = (descent_real)descent_rng_normal(&rng);
  int32_t labels[B] = {0, 1, 2, 2, 1, 0};
  descent_net *net = NULL;
  CHECK_OK(descent_net_create(&net, spec, input, loss, B, 3));
  if (!net) return;
  descent_objective *obj = descent_net_objective(net);
  descent_batch batch = {.n = B, .x = x, .labels = labels, .targets = targets};
  double value;
  CHECK_OK(descent_objective_value_and_grad(obj, &batch, &value));
  size_t n = obj->n_params;
  for (int ggn = 0; ggn < 2; ggn++) {
    objective_op op = {obj, &batch, ggn};
    double *m = dense_from_products(&op, n), lo, hi;
    full_extremes(n, m, &lo, &hi);
    descent_lanczos_result r;
    CHECK_OK(descent_lanczos(objective_apply, &op, n, (int)n, 0, NULL, 8, NULL, NULL, &r));
    double scale = fmax(fabs(lo), fabs(hi));
    CHECK_MSG(fabs(r.top - hi) <= 1e-10 * scale, "%s %s: top %.17g, dense %.17g", spec,
              ggn ? "G" : "H", r.top, hi);
    CHECK_MSG(fabs(r.bottom - lo) <= 1e-10 * scale, "%s %s: bottom %.17g, dense %.17g", spec,
              ggn ? "G" : "H", r.bottom, lo);
    /* G is positive semi-definite; H of a network is not. */
    if (ggn) CHECK_MSG(r.bottom >= -1e-10 * scale, "%s: G's bottom %.17g", spec, r.bottom);
    /* Twenty products already find the top to a few digits. */
    CHECK_OK(descent_lanczos(objective_apply, &op, n, 20, 0, NULL, 8, NULL, NULL, &r));
    CHECK_MSG(fabs(r.top - hi) <= 1e-2 * scale, "%s: top after 20 products %.17g, dense %.17g",
              spec, r.top, hi);
    free(m);
  }
  descent_net_free(net);
  free(x);
}

static void test_networks(void) {
  descent_shape flat = {1, {5}};
  check_network("dense(7), tanh, dense(3)", &flat, DESCENT_LOSS_SOFTMAX_XENT);
  check_network("dense(6), relu, dense(4), sigmoid, dense(3)", &flat, DESCENT_LOSS_MSE);
  descent_shape image = {3, {2, 5, 5}};
  check_network("conv(3, 3, pad=1), tanh, maxpool(2), flatten, dense(3)", &image,
                DESCENT_LOSS_SOFTMAX_XENT);
}

/* ---- stability limits ---------------------------------------------------------- */

static descent_optimizer *optimizer(const char *spec, const char *lr, size_t n) {
  descent_optimizer *opt = NULL;
  CHECK_OK(descent_optimizer_create(&opt, spec, lr, n));
  return opt;
}

/* The limit of spec at rate lr after one step, its rule containing needle. */
static void check_limit(const char *spec, double lr, double factor, int preconditioned,
                        const char *needle) {
  char rate[32];
  snprintf(rate, sizeof rate, "%.17g", lr);
  descent_optimizer *opt = optimizer(spec, rate, 3);
  if (!opt) return;
  descent_real theta[3] = {1, -2, 0.5}, grad[3] = {0.3, -0.1, 0.2};
  CHECK_OK(descent_optimizer_step_buffers(opt, theta, grad, 3));
  descent_stability s;
  CHECK_OK(descent_optimizer_stability(opt, NULL, 0, &s));
  if (isinf(factor))
    CHECK_MSG(isinf(s.limit), "%s: limit %g, expected infinity at rate 0", spec, s.limit);
  else if (isnan(factor))
    CHECK_MSG(isnan(s.limit), "%s: limit %g, expected none", spec, s.limit);
  else
    CHECK_MSG(fabs(s.limit - factor / lr) <= 1e-12 * factor / lr, "%s: limit %.17g, expected %.17g",
              spec, s.limit, factor / lr);
  CHECK_MSG(s.preconditioned == preconditioned, "%s: preconditioned %d", spec, s.preconditioned);
  CHECK_MSG(strstr(s.rule, needle) != NULL, "%s: rule \"%s\" lacks \"%s\"", spec, s.rule, needle);
  descent_optimizer_free(opt);
}

static void test_limits(void) {
  check_limit("sgd", 0.1, 2, 0, "2/lr (gradient descent)");
  check_limit("gd", 0.05, 2, 0, "2/lr (gradient descent)");
  check_limit("momentum", 0.1, 3.8, 0, "(2+2mu)/lr, heavy ball, mu 0.9");
  check_limit("sgd(momentum=0.5)", 0.1, 3, 0, "heavy ball, mu 0.5");
  check_limit("sgd(momentum=0.5, dampening=0.5)", 0.1, 6, 0, "dampening 0.5");
  check_limit("nesterov", 0.1, 3.8 / 2.8, 0, "(2+2mu)/((1+2mu) lr), Nesterov, mu 0.9");
  check_limit("sgd(momentum=0.9, nesterov=1)", 0.1, 3.8 / 2.8, 0, "Nesterov");
  check_limit("adam", 1e-3, 38, 1, "38/lr: (2+2 b1)/((1-b1) lr), b1 0.9, Adam's preconditioned");
  check_limit("adam(b1=0.5)", 1e-3, 6, 1, "Adam's preconditioned sharpness");
  check_limit("amsgrad", 1e-3, 38, 1, "Adam's preconditioned sharpness");
  check_limit("adamw", 1e-3, 38, 1, "decoupled wd 0.01 is outside the limit");
  check_limit("rmsprop", 1e-2, 2, 1, "2/lr, RMSprop's preconditioned sharpness");
  check_limit("rmsprop(centered=1)", 1e-2, 2, 1, "RMSprop's preconditioned sharpness");
  check_limit("rmsprop(momentum=0.5)", 1e-2, 3, 1, "(2+2mu)/lr, mu 0.5, RMSprop's");
  check_limit("adagrad", 1e-2, 2, 1, "2/lr, Adagrad's preconditioned sharpness");
  /* Weight decay coupled to the gradient and clipping: the limit is the
     loss's, the rule says what they add. */
  check_limit("sgd(weight_decay=0.01)", 0.1, 2, 0, "weight decay adds 0.01 to every curvature");
  check_limit("adam(weight_decay=0.001)", 1e-3, 38, 1, "weight decay adds 0.001");
  check_limit("clip(1) | momentum(0.9) | lr", 0.1, 3.8, 0, "for unclipped steps");
  check_limit("clip_value(1) | adam | lr", 1e-3, 38, 1, "for unclipped steps");
  check_limit("sgd", 0, INFINITY, 0, "gradient descent");
  /* No limit: other chains and methods, with the reason. */
  check_limit("lion", 1e-4, NAN, 0, "no known limit for the chain lion | lr");
  check_limit("sf_sgd", 1, NAN, 0, "no known limit for the chain sf");
  check_limit("adam | momentum(0.9) | lr", 1e-3, NAN, 0, "(at momentum)");
  check_limit("momentum(0.9) | momentum(0.5) | lr", 1e-3, NAN, 0, "(at momentum)");
  check_limit("rmsprop | momentum(0.9, nesterov=1) | lr", 1e-3, NAN, 0, "(at momentum)");
  descent_optimizer *opt = optimizer("lbfgs", NULL, 3);
  descent_stability s;
  if (opt) {
    CHECK_OK(descent_optimizer_stability(opt, NULL, 0, &s));
    CHECK(isnan(s.limit) && strstr(s.rule, "lbfgs is a method") != NULL);
    descent_optimizer_free(opt);
  }
  /* The rate is the next step's: a schedule moves the limit. */
  opt = optimizer("sgd", "step(0.1, step_size=1, gamma=0.5)", 3);
  if (opt) {
    descent_real theta[3] = {1, 2, 3}, grad[3] = {1, 1, 1};
    CHECK_OK(descent_optimizer_step_buffers(opt, theta, grad, 3));
    CHECK_OK(descent_optimizer_stability(opt, NULL, 0, &s));
    CHECK_CLOSE(s.limit, 2 / 0.05, 1e-12);
    descent_optimizer_free(opt);
  }
}

/* Before the first step an adaptive chain has no preconditioner; bad
   arguments are refused. */
static void test_stability_errors(void) {
  descent_optimizer *opt = optimizer("adam", "1e-3", 3);
  if (!opt) return;
  descent_stability s;
  descent_real p[3] = {7, 7, 7};
  CHECK_OK(descent_optimizer_stability(opt, p, 3, &s));
  CHECK(isnan(s.limit) && strstr(s.rule, "no limit before the first step") != NULL);
  CHECK(p[0] == 7); /* untouched */
  CHECK_FAILS(descent_optimizer_stability(opt, p, 2, &s), DESCENT_EINVAL,
              "precond holds 2 values but the optimizer has 3 parameters");
  CHECK_FAILS(descent_optimizer_stability(NULL, p, 3, &s), DESCENT_EINVAL, "must not be NULL");
  CHECK_FAILS(descent_optimizer_stability(opt, p, 3, NULL), DESCENT_EINVAL, "must not be NULL");
  descent_optimizer_free(opt);
  /* Plain SGD needs no statistics: a limit at once, precond untouched. */
  opt = optimizer("sgd", "0.5", 3);
  if (!opt) return;
  CHECK_OK(descent_optimizer_stability(opt, p, 3, &s));
  CHECK(s.limit == 4 && !s.preconditioned && p[0] == 7);
  descent_optimizer_free(opt);
}

/* The preconditioners against a recomputation from the gradients given. */
static void check_preconditioner(const char *spec, int kind) {
  enum { N = 4, STEPS = 5 };
  descent_optimizer *opt = optimizer(spec, "1e-2", N);
  if (!opt) return;
  descent_real theta[N] = {1, -1, 0.5, 2}, grad[N], p[N];
  double m[N] = {0}, v[N] = {0}, vmax[N] = {0}, avg[N] = {0};
  const double b1 = 0.9, b2 = 0.999, alpha = 0.99, eps = kind >= 2 && kind != 3 ? 1e-10 : 1e-8;
  for (int t = 1; t <= STEPS; t++) {
    for (int i = 0; i < N; i++) {
      grad[i] = (descent_real)(0.5 * (i + 1) * theta[i] + 0.1 * t);
      double g = (double)grad[i];
      m[i] = b1 * m[i] + (1 - b1) * g;
      if (kind == 0 || kind == 3) v[i] = b2 * v[i] + (1 - b2) * g * g;
      if (kind == 1)
        v[i] = alpha * v[i] + (1 - alpha) * g * g, avg[i] = alpha * avg[i] + (1 - alpha) * g;
      if (kind == 2 || kind == 4) v[i] += g * g;
      vmax[i] = fmax(vmax[i], v[i]);
    }
    CHECK_OK(descent_optimizer_step_buffers(opt, theta, grad, N));
  }
  descent_stability s;
  CHECK_OK(descent_optimizer_stability(opt, p, N, &s));
  CHECK(s.preconditioned == 1);
  double tol = is_double ? 1e-12 : 1e-5;
  for (int i = 0; i < N; i++) {
    double expected;
    if (kind == 0 || kind == 3)
      expected =
          (1 - pow(b1, STEPS)) * (sqrt((kind == 3 ? vmax[i] : v[i]) / (1 - pow(b2, STEPS))) + eps);
    else if (kind == 1)
      expected = sqrt(v[i] - avg[i] * avg[i]) + eps;
    else if (kind == 2)
      expected = sqrt(v[i]) + eps;
    else /* lr_decay 0.1: the next step's decay, 1 / (1 + STEPS 0.1) */
      expected = (sqrt(v[i]) + eps) * (1 + STEPS * 0.1);
    CHECK_REL(p[i], expected, tol);
  }
  descent_optimizer_free(opt);
}

static void test_preconditioners(void) {
  check_preconditioner("adam", 0);
  check_preconditioner("adamw", 0);
  check_preconditioner("rmsprop(centered=1)", 1);
  check_preconditioner("adagrad", 2);
  check_preconditioner("amsgrad", 3);
  check_preconditioner("adagrad(lr_decay=0.1)", 4);
}

/* The spectral radius of the 2 x 2 recurrence matrix [[a, b], [c, d]]. */
static double spectral_radius(double a, double b, double c, double d) {
  double tr = a + d, det = a * d - b * c, disc = tr * tr / 4 - det;
  if (disc >= 0) return fmax(fabs(tr / 2 + sqrt(disc)), fabs(tr / 2 - sqrt(disc)));
  return sqrt(det); /* complex pair: |z|^2 = det */
}

/* The limits' derivation: on f = lambda theta^2 / 2 with h = lr lambda,
   heavy ball is (theta, lr b) -> ((1 - h) theta - mu lr b, h theta + mu lr
   b) and Nesterov ((1 - h (1 + mu)) theta - mu^2 lr b, h theta + mu lr b):
   the radius crosses 1 at the limit. */
static void test_recurrences(void) {
  const double mus[] = {0, 0.5, 0.9, 0.99};
  for (int k = 0; k < 4; k++) {
    double mu = mus[k], hb = 2 + 2 * mu, nag = (2 + 2 * mu) / (1 + 2 * mu);
    for (int side = -1; side <= 1; side += 2) {
      double h = hb * (1 + side * 1e-6);
      double r = spectral_radius(1 - h, -mu, h, mu);
      CHECK_MSG(side < 0 ? r < 1 : r > 1, "heavy ball mu %g, h %.9g: radius %.12g", mu, h, r);
      h = nag * (1 + side * 1e-6);
      r = spectral_radius(1 - h * (1 + mu), -mu * mu, h, mu);
      CHECK_MSG(side < 0 ? r < 1 : r > 1, "Nesterov mu %g, h %.9g: radius %.12g", mu, h, r);
    }
  }
}

/* The optimizers themselves on f = lambda theta^2 / 2, with lambda 3% below
   (above) the limit they report: |theta| falls (grows) by orders. */
static void check_quadratic(const char *spec) {
  const double lr = 0.1;
  descent_stability s;
  descent_optimizer *probe = optimizer(spec, "0.1", 1);
  if (!probe) return;
  CHECK_OK(descent_optimizer_stability(probe, NULL, 0, &s));
  descent_optimizer_free(probe);
  for (int side = -1; side <= 1; side += 2) {
    double lambda = s.limit * (1 + side * 0.03);
    descent_optimizer *opt = optimizer(spec, "0.1", 1);
    descent_real theta = 1, grad;
    double most = 0;
    for (int t = 0; t < 3000 && fabs((double)theta) < 1e6; t++) {
      grad = (descent_real)(lambda * (double)theta);
      CHECK_OK(descent_optimizer_step_buffers(opt, &theta, &grad, 1));
      if (t >= 2900) most = fmax(most, fabs((double)theta));
    }
    if (side < 0)
      CHECK_MSG(most < 1e-3, "%s at lambda %g (limit %g, lr %g): |theta| %g", spec, lambda, s.limit,
                lr, most);
    else
      CHECK_MSG(fabs((double)theta) >= 1e6, "%s at lambda %g (limit %g): |theta| %g", spec, lambda,
                s.limit, (double)theta);
    descent_optimizer_free(opt);
  }
}

static void test_quadratic_edges(void) {
  check_quadratic("sgd");
  check_quadratic("momentum");
  check_quadratic("sgd(momentum=0.5)");
  check_quadratic("sgd(momentum=0.5, dampening=0.5)");
  check_quadratic("nesterov");
  check_quadratic("sgd(momentum=0.5, nesterov=1)");
}

int main(void) {
  test_random_matrices();
  test_exhausted_space();
  test_early_stop_and_warm_start();
  test_errors();
  test_problems();
  if (is_double) test_networks();
  test_limits();
  test_stability_errors();
  test_preconditioners();
  test_recurrences();
  test_quadratic_edges();
  return check_report();
}
