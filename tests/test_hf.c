/*
 * test_hf.c - Hessian-free (hf) and Newton-CG (newton_cg).
 *
 * On quadratics of the test's own (f = x'Ax/2 - b'x, every product and
 * evaluation counted and the directions recorded):
 *  - one hf step with damping 0 reaches the minimizer A^-1 b (1e-8 in
 *    double, 1e-3 in float), with the counts it reports;
 *  - CG's directions are A-conjugate and the residuals they imply mutually
 *    orthogonal;
 *  - lambda falls by 2/3 after a step the model predicts well and rises by
 *    3/2 after one it does not (a Gauss-Newton product that understates the
 *    curvature), read from the state blob;
 *  - the Gauss-Newton diagonal preconditioner takes fewer CG iterations on
 *    a badly scaled quadratic;
 *  - newton_cg stops at negative curvature (Steihaug) on an indefinite one,
 *    after some iterations, or at once along the gradient;
 * on a small network with dropout: saved and loaded after every step, the
 * run equals the uninterrupted one bit for bit, and the counts travel with
 * the state; refusals with their messages.
 */
#include "check.h"
#include "descent.h"

#include <stdlib.h>
#include <string.h>

#define N       40
#define RECORDS 600

#ifdef DESCENT_DOUBLE
#define MIN_TOL 1e-8
#else
#define MIN_TOL 1e-3
#endif

/* ---- a quadratic that counts ------------------------------------------------- */

typedef struct quad {
  descent_objective obj;
  size_t n;
  double a[N * N], b[N];
  double g_scale;      /* the Gauss-Newton product returns g_scale A v */
  int products, evals; /* calls of ggnvp / hvp, of value_and_grad / reevaluate */
  int recorded;
  double dirs[RECORDS][N]; /* every product's v */
  descent_real theta[N], grad[N];
} quad;

static double quad_eval(quad *q, descent_real *grad) {
  double f = 0;
  for (size_t i = 0; i < q->n; i++) {
    double ax = 0;
    for (size_t j = 0; j < q->n; j++) ax += q->a[i * q->n + j] * q->theta[j];
    f += 0.5 * q->theta[i] * ax - q->b[i] * q->theta[i];
    if (grad) grad[i] = (descent_real)(ax - q->b[i]);
  }
  return f;
}

static int quad_value_and_grad(descent_objective *obj, const descent_batch *batch, double *loss) {
  (void)batch;
  quad *q = obj->impl;
  q->evals++;
  *loss = quad_eval(q, q->grad);
  return DESCENT_OK;
}

static int quad_reevaluate(descent_objective *obj, const descent_batch *batch, double *loss,
                           descent_real *grad) {
  (void)batch;
  quad *q = obj->impl;
  q->evals++;
  *loss = quad_eval(q, grad);
  return DESCENT_OK;
}

static void quad_product(quad *q, double scale, const descent_real *v, descent_real *out) {
  q->products++;
  if (q->recorded < RECORDS) {
    for (size_t i = 0; i < q->n; i++) q->dirs[q->recorded][i] = v[i];
    q->recorded++;
  }
  for (size_t i = 0; i < q->n; i++) {
    double s = 0;
    for (size_t j = 0; j < q->n; j++) s += q->a[i * q->n + j] * v[j];
    out[i] = (descent_real)(scale * s);
  }
}

static int quad_ggnvp(descent_objective *obj, const descent_batch *batch, const descent_real *v,
                      descent_real *out) {
  (void)batch;
  quad *q = obj->impl;
  quad_product(q, q->g_scale, v, out);
  return DESCENT_OK;
}

static int quad_hvp(descent_objective *obj, const descent_batch *batch, const descent_real *v,
                    descent_real *out) {
  (void)batch;
  quad_product(obj->impl, 1, v, out);
  return DESCENT_OK;
}

static int quad_diagonal(descent_objective *obj, const descent_batch *batch, size_t samples,
                         uint64_t seed, descent_real *out) {
  (void)batch, (void)samples, (void)seed;
  quad *q = obj->impl;
  for (size_t i = 0; i < q->n; i++) out[i] = (descent_real)(q->g_scale * q->a[i * q->n + i]);
  return DESCENT_OK;
}

static const descent_objective_ops quad_ops = {.kind = "test_quadratic",
                                               .value_and_grad = quad_value_and_grad,
                                               .reevaluate = quad_reevaluate,
                                               .hvp = quad_hvp,
                                               .ggnvp = quad_ggnvp,
                                               .ggn_diagonal = quad_diagonal};

static uint64_t rng_state = 12345;
static double uniform(void) { /* in [-1, 1) */
  rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
  return (double)(rng_state >> 11) / 9007199254740992.0 * 2 - 1;
}

/* A = Q diag(eig) Q' with Q from Gram-Schmidt on random vectors, or (rotate
   0) A = diag(eig) plus a coupling of `couple` between neighbours scaled by
   sqrt(eig_i eig_j). */
static void quad_init(quad *q, size_t n, const double *eig, int rotate, double couple) {
  memset(q, 0, sizeof *q);
  q->n = n;
  q->g_scale = 1;
  double qm[N][N];
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < n; j++) qm[i][j] = rotate ? uniform() : i == j;
  for (size_t i = 0; rotate && i < n; i++) {
    for (size_t k = 0; k < i; k++) {
      double d = 0;
      for (size_t j = 0; j < n; j++) d += qm[i][j] * qm[k][j];
      for (size_t j = 0; j < n; j++) qm[i][j] -= d * qm[k][j];
    }
    double norm = 0;
    for (size_t j = 0; j < n; j++) norm += qm[i][j] * qm[i][j];
    for (size_t j = 0; j < n; j++) qm[i][j] /= sqrt(norm);
  }
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < n; j++) {
      double s = 0;
      for (size_t k = 0; k < n; k++) s += qm[k][i] * eig[k] * qm[k][j];
      if (!rotate && couple != 0 && (i == j + 1 || j == i + 1)) s = couple * sqrt(eig[i] * eig[j]);
      q->a[i * n + j] = s;
    }
  for (size_t i = 0; i < n; i++) q->b[i] = uniform();
  for (size_t i = 0; i < n; i++) q->theta[i] = (descent_real)uniform();
  q->obj = (descent_objective){
      .ops = &quad_ops, .n_params = n, .params = q->theta, .grad = q->grad, .impl = q};
}

/* Solves A x = b by Gaussian elimination with partial pivoting. */
static void solve(const quad *q, double *x) {
  size_t n = q->n;
  double m[N][N + 1];
  for (size_t i = 0; i < n; i++) {
    for (size_t j = 0; j < n; j++) m[i][j] = q->a[i * n + j];
    m[i][n] = q->b[i];
  }
  for (size_t c = 0; c < n; c++) {
    size_t best = c;
    for (size_t r = c + 1; r < n; r++)
      if (fabs(m[r][c]) > fabs(m[best][c])) best = r;
    for (size_t j = 0; j <= n; j++) {
      double t = m[c][j];
      m[c][j] = m[best][j], m[best][j] = t;
    }
    for (size_t r = c + 1; r < n; r++) {
      double f = m[r][c] / m[c][c];
      for (size_t j = c; j <= n; j++) m[r][j] -= f * m[c][j];
    }
  }
  for (size_t i = n; i-- > 0;) {
    double s = m[i][n];
    for (size_t j = i + 1; j < n; j++) s -= m[i][j] * x[j];
    x[i] = s / m[i][i];
  }
}

static double a_dot(const quad *q, const double *u, const double *v) {
  double s = 0;
  for (size_t i = 0; i < q->n; i++)
    for (size_t j = 0; j < q->n; j++) s += u[i] * q->a[i * q->n + j] * v[j];
  return s;
}

static double vdot(const double *u, const double *v, size_t n) {
  double s = 0;
  for (size_t i = 0; i < n; i++) s += u[i] * v[i];
  return s;
}

static descent_optimizer *make(const char *spec, size_t n) {
  descent_optimizer *opt = NULL;
  CHECK_OK(descent_optimizer_create(&opt, spec, NULL, n));
  return opt;
}

/* lambda, the first 8 bytes of the method's state: the state blob's last
   bytes before its checksum, its length before them. */
static double damping_of(descent_optimizer *opt) {
  size_t size = descent_optimizer_state_size(opt);
  unsigned char *blob = malloc(size);
  double lambda = NAN;
  if (blob && descent_optimizer_save_state(opt, blob, size) == DESCENT_OK) {
    for (size_t m = 64; m + 16 <= size; m += sizeof(descent_real)) {
      uint64_t len = 0;
      for (int i = 0; i < 8; i++) len |= (uint64_t)blob[size - 16 - m + i] << (8 * i);
      if (len == m) {
        memcpy(&lambda, blob + size - 8 - m, 8);
        break;
      }
    }
  }
  free(blob);
  return lambda;
}

/* ---- the quadratic ------------------------------------------------------------- */

static void test_minimum(void) {
  static quad q;
  double eig[N];
  for (int i = 0; i < 10; i++) eig[i] = pow(10, i / 4.5); /* condition 100 */
  const uint64_t seed = rng_state;
  quad_init(&q, 10, eig, 1, 0);
  double x_star[N];
  solve(&q, x_star);
  descent_optimizer *opt = make("hf(damping=0, max_cg=100)", q.n);
  descent_step_info info;
  q.evals = q.products = 0;
  CHECK_OK(descent_optimizer_step_closure(opt, &q.obj, NULL, &info));
  double err = 0, scale = 0;
  for (size_t i = 0; i < q.n; i++) {
    err = check_worst(err, fabs(q.theta[i] - x_star[i]));
    scale = check_worst(scale, fabs(x_star[i]));
  }
  CHECK_MSG(err <= MIN_TOL * scale, "one step misses the minimizer by %g (scale %g)", err, scale);
  /* every product and evaluation reported */
  CHECK_MSG(info.product_evals == q.products && info.function_evals == q.evals &&
                info.gradient_evals == 1 && info.iterations == info.product_evals,
            "%lld products, %lld evaluations, %lld iterations reported; %d and %d made",
            (long long)info.product_evals, (long long)info.function_evals,
            (long long)info.iterations, q.products, q.evals);
  CHECK(info.iterations >= 10 && info.iterations < 100); /* Martens' test stopped it */
  CHECK(descent_optimizer_products(opt) == q.products &&
        descent_optimizer_evaluations(opt) == q.evals);
  CHECK(info.last_loss < info.loss);
  /* a second step warm-starts: one product more than its iterations */
  q.products = 0;
  CHECK_OK(descent_optimizer_step_closure(opt, &q.obj, NULL, &info));
  CHECK_MSG(info.product_evals == info.iterations + 1 && q.products == info.product_evals,
            "%lld products for %lld iterations", (long long)info.product_evals,
            (long long)info.iterations);
  descent_optimizer_free(opt);

  /* newton_cg on the same positive definite quadratic: the same minimizer */
  rng_state = seed;
  quad_init(&q, 10, eig, 1, 0);
  opt = make("newton_cg(damping=0, max_cg=100)", q.n);
  q.products = 0;
  CHECK_OK(descent_optimizer_step_closure(opt, &q.obj, NULL, &info));
  err = 0;
  for (size_t i = 0; i < q.n; i++) err = check_worst(err, fabs(q.theta[i] - x_star[i]));
  CHECK_MSG(err <= MIN_TOL * scale, "newton_cg misses the minimizer by %g", err);
  descent_optimizer_free(opt);
}

/* The recorded directions p_k are A-conjugate; the residuals r_0 = g,
   r_{k+1} = r_k + alpha_k A p_k with CG's exact line minimization alpha_k
   = -r_k.p_k / p_k'Ap_k are mutually orthogonal. */
static void test_cg_properties(void) {
  static quad q;
  double eig[N];
  for (int i = 0; i < 12; i++) eig[i] = 1 + i * i;
  quad_init(&q, 12, eig, 1, 0);
  descent_optimizer *opt = make("hf(damping=0, max_cg=8, cg_tol=0)", q.n);
  descent_step_info info;
  double g[N];
  quad_eval(&q, q.grad);
  for (size_t i = 0; i < q.n; i++) g[i] = q.grad[i];
  CHECK_OK(descent_optimizer_step_closure(opt, &q.obj, NULL, &info));
  CHECK(info.iterations == 8 && q.recorded == 8);
  double r[9][N], worst_conj = 0, worst_orth = 0;
  for (size_t i = 0; i < q.n; i++) r[0][i] = g[i];
  CHECK_MSG(fabs(vdot(q.dirs[0], g, q.n) + vdot(g, g, q.n)) < 1e-6 * vdot(g, g, q.n),
            "the first direction is not -g");
  for (int k = 0; k < 8; k++) {
    double pap = a_dot(&q, q.dirs[k], q.dirs[k]);
    double alpha = -vdot(r[k], q.dirs[k], q.n) / pap;
    for (size_t i = 0; i < q.n; i++) {
      double ap = 0;
      for (size_t j = 0; j < q.n; j++) ap += q.a[i * q.n + j] * q.dirs[k][j];
      r[k + 1][i] = r[k][i] + alpha * ap;
    }
    for (int j = 0; j < k; j++) {
      double c = a_dot(&q, q.dirs[k], q.dirs[j]);
      worst_conj = fmax(worst_conj, fabs(c) / sqrt(pap * a_dot(&q, q.dirs[j], q.dirs[j])));
    }
  }
  for (int k = 0; k <= 8; k++)
    for (int j = 0; j < k; j++)
      worst_orth = fmax(worst_orth, fabs(vdot(r[k], r[j], q.n)) /
                                        sqrt(vdot(r[k], r[k], q.n) * vdot(r[j], r[j], q.n)));
#ifdef DESCENT_DOUBLE
  const double tol = 1e-9;
#else
  const double tol = 1e-3;
#endif
  CHECK_MSG(worst_conj < tol && worst_orth < tol,
            "CG: conjugacy %g, residual orthogonality %g (limit %g)", worst_conj, worst_orth, tol);
  descent_optimizer_free(opt);
}

static void test_damping(void) {
  static quad q;
  double eig[N];
  for (int i = 0; i < 6; i++) eig[i] = 1 + i;
  /* a good step: the model is the function */
  quad_init(&q, 6, eig, 1, 0);
  descent_optimizer *opt = make("hf(damping=1, line_search=none)", q.n);
  CHECK(damping_of(opt) == 1);
  CHECK_OK(descent_optimizer_step_closure(opt, &q.obj, NULL, NULL));
  CHECK_MSG(damping_of(opt) == 1 * (2.0 / 3.0), "after a good step: lambda %.17g", damping_of(opt));
  descent_optimizer_free(opt);
  /* a bad step: the Gauss-Newton product understates the curvature 100 times */
  quad_init(&q, 6, eig, 1, 0);
  q.g_scale = 0.01;
  opt = make("hf(damping=0.001, line_search=none)", q.n);
  descent_step_info info;
  CHECK_OK(descent_optimizer_step_closure(opt, &q.obj, NULL, &info));
  CHECK_MSG(damping_of(opt) == 0.001 * 1.5, "after a bad step: lambda %.17g", damping_of(opt));
  CHECK(info.last_loss > info.loss); /* no line search: the bad step is taken */
  descent_optimizer_free(opt);
  /* the same with Armijo: the step is shortened until the loss falls */
  quad_init(&q, 6, eig, 1, 0);
  q.g_scale = 0.01;
  opt = make("hf(damping=0.001)", q.n);
  q.evals = 0;
  CHECK_OK(descent_optimizer_step_closure(opt, &q.obj, NULL, &info));
  CHECK(info.last_loss < info.loss && info.function_evals > 3 && info.function_evals == q.evals);
  descent_optimizer_free(opt);
  /* A rate so large that Armijo's 60 trials never come down to the CG
     step itself (length 1) is refused, not a silent step of length 0 at
     every step; the parameters are kept. */
  quad_init(&q, 6, eig, 1, 0);
  descent_real kept[6];
  memcpy(kept, q.theta, sizeof kept);
  opt = make("hf(lr=1e30)", q.n);
  CHECK_FAILS(descent_optimizer_step_closure(opt, &q.obj, NULL, NULL), DESCENT_EINVAL,
              "hf: no step length from the rate 1e+30 down to");
  CHECK(memcmp(kept, q.theta, sizeof kept) == 0);
  descent_optimizer_free(opt);
}

static void test_preconditioner(void) {
  static quad q;
  double eig[N];
  for (int i = 0; i < N; i++) eig[i] = pow(10, 6.0 * i / (N - 1)); /* 1 to 1e6 */
  int iterations[2];
  const char *specs[2] = {"hf(damping=1e-8, max_cg=500)",
                          "hf(damping=1e-8, max_cg=500, precond=ggn)"};
  for (int k = 0; k < 2; k++) {
    rng_state = 99;
    quad_init(&q, N, eig, 0, 0.3);
    descent_optimizer *opt = make(specs[k], q.n);
    descent_step_info info;
    CHECK_OK(descent_optimizer_step_closure(opt, &q.obj, NULL, &info));
    iterations[k] = (int)info.iterations;
    /* the diagonal is exact on a test objective: counted as one pass */
    CHECK(info.product_evals == info.iterations + k);
    descent_optimizer_free(opt);
  }
  CHECK_MSG(iterations[1] < iterations[0], "CG iterations: %d without a preconditioner, %d with",
            iterations[0], iterations[1]);
  /* A program's objective whose kind text reads "network" (or "problem")
     is not one of the library's: its diagonal counts one pass, its impl is
     not read as a network. */
  const char *kinds[] = {"network", "problem"};
  for (int k = 0; k < 2; k++) {
    descent_objective_ops ops = quad_ops;
    ops.kind = kinds[k];
    rng_state = 99;
    quad_init(&q, N, eig, 0, 0.3);
    q.obj.ops = &ops;
    descent_optimizer *opt = make(specs[1], q.n);
    descent_step_info info;
    CHECK_OK(descent_optimizer_step_closure(opt, &q.obj, NULL, &info));
    CHECK_MSG(info.product_evals == info.iterations + 1, "kind %s: %lld products, %lld iterations",
              kinds[k], (long long)info.product_evals, (long long)info.iterations);
    descent_optimizer_free(opt);
  }
}

static void test_negative_curvature(void) {
  static quad q;
  double eig[N] = {1, 2, 3, 4, 5, -1, 6, 7};
  quad_init(&q, 8, eig, 1, 0);
  descent_optimizer *opt = make("newton_cg(damping=0, max_cg=50)", q.n);
  descent_step_info info;
  q.products = 0;
  CHECK_OK(descent_optimizer_step_closure(opt, &q.obj, NULL, &info));
  /* stopped by the product that met p'Ap <= 0, before n iterations */
  CHECK_MSG(info.iterations >= 1 && info.iterations < 8 &&
                info.product_evals == info.iterations + 1 && q.products == info.product_evals,
            "%lld iterations, %lld products", (long long)info.iterations,
            (long long)info.product_evals);
  double last[N];
  for (size_t i = 0; i < q.n; i++) last[i] = q.dirs[q.recorded - 1][i];
  CHECK(a_dot(&q, last, last) <= 0);
  CHECK(info.last_loss < info.loss);
  descent_optimizer_free(opt);
  /* hf on the same: its Gauss-Newton (here A, indefinite) meets it too */

  /* the gradient along the negative eigenvector: the first direction has
     negative curvature, and the step follows -g */
  double diag[N] = {1, 2, -3, 4};
  quad_init(&q, 4, diag, 0, 0);
  for (size_t i = 0; i < q.n; i++) q.b[i] = 0, q.theta[i] = i == 2;
  opt = make("newton_cg(damping=0, line_search=none, lr=0.5)", q.n);
  q.products = 0;
  CHECK_OK(descent_optimizer_step_closure(opt, &q.obj, NULL, &info));
  CHECK_MSG(info.iterations == 0 && info.product_evals == 1, "%lld iterations, %lld products",
            (long long)info.iterations, (long long)info.product_evals);
  /* g = A theta = -3 e_2: the step 0.5 (-g) leads to 1 + 1.5 */
  CHECK(q.theta[0] == 0 && q.theta[1] == 0 && q.theta[3] == 0 && q.theta[2] == (descent_real)2.5);
  descent_optimizer_free(opt);
}

/* ---- a network: resume and counts --------------------------------------------- */

#define IN    6
#define BATCH 16

static void run_network(const char *spec, int reload, descent_real *params_out, int64_t *evals_out,
                        int64_t *products_out, int64_t *evals_sum, int64_t *products_sum) {
  descent_net *net = NULL;
  descent_shape input = {1, {IN}};
  CHECK_OK(descent_net_create(&net, "dense(8), tanh, dropout(p=0.2), dense(3)", &input,
                              DESCENT_LOSS_SOFTMAX_XENT, BATCH, 5));
  if (!net) return;
  descent_objective *obj = descent_net_objective(net);
  descent_optimizer *opt = make(spec, obj->n_params);
  descent_real x[BATCH * IN];
  int32_t labels[BATCH];
  *evals_sum = *products_sum = 0;
  for (int step = 0; step < 6 && opt; step++) {
    uint64_t saved = rng_state;
    rng_state = 1000 + (uint64_t)step;
    for (int i = 0; i < BATCH * IN; i++) x[i] = (descent_real)uniform();
    for (int i = 0; i < BATCH; i++) labels[i] = (int32_t)((x[i * IN] > 0) + (x[i * IN + 1] > 0));
    rng_state = saved;
    descent_batch batch = {.n = BATCH, .x = x, .labels = labels};
    descent_step_info info;
    CHECK_OK(descent_optimizer_step_closure(opt, obj, &batch, &info));
    *evals_sum += info.function_evals;
    *products_sum += info.product_evals;
    if (reload) {
      size_t size = descent_optimizer_state_size(opt);
      unsigned char *blob = malloc(size);
      CHECK_OK(descent_optimizer_save_state(opt, blob, size));
      descent_optimizer_free(opt);
      opt = make(spec, obj->n_params);
      CHECK_OK(descent_optimizer_load_state(opt, blob, size));
      free(blob);
    }
  }
  memcpy(params_out, obj->params, obj->n_params * sizeof *params_out);
  *evals_out = descent_optimizer_evaluations(opt);
  *products_out = descent_optimizer_products(opt);
  descent_optimizer_free(opt);
  descent_net_free(net);
}

static void test_resume(void) {
  const char *specs[] = {"hf(damping=0.1, max_cg=20, precond=ggn, precond_samples=2, seed=3)",
                         "newton_cg(damping=0.1, max_cg=20, lr=0.9)"};
  for (int k = 0; k < 2; k++) {
    descent_real a[200], b[200];
    int64_t ea, pa, eb, pb, sum_e, sum_p, sum_e2, sum_p2;
    run_network(specs[k], 0, a, &ea, &pa, &sum_e, &sum_p);
    run_network(specs[k], 1, b, &eb, &pb, &sum_e2, &sum_p2);
    size_t n = 8 * IN + 8 + 8 * 3 + 3;
    CHECK_MSG(memcmp(a, b, n * sizeof *a) == 0,
              "%s: saved and loaded after every step, the run "
              "differs",
              specs[k]);
    CHECK_MSG(ea == sum_e && eb == sum_e && pa == sum_p && pb == sum_p && sum_p > 6,
              "%s: counted %lld and %lld evaluations, %lld and %lld products; made %lld and %lld",
              specs[k], (long long)ea, (long long)eb, (long long)pa, (long long)pb,
              (long long)sum_e, (long long)sum_p);
  }
}

/* ---- refusals -------------------------------------------------------------------- */

/* A layer of the program's own, y = 2x, without the products' jvp. */
static int twice_setup(const descent_layer_view *l, descent_layer_sizes *s) {
  (void)l, (void)s;
  return DESCENT_OK;
}

static void twice_forward(const descent_layer_view *l, const descent_real *params,
                          const descent_real *x, descent_real *y, size_t n, int train) {
  (void)params, (void)train;
  for (size_t i = 0; i < n * l->in_size; i++) y[i] = 2 * x[i];
}

static void twice_backward(const descent_layer_view *l, const descent_real *params,
                           const descent_real *x, const descent_real *y, const descent_real *dy,
                           descent_real *dx, descent_real *dparams, size_t n) {
  (void)params, (void)x, (void)y, (void)dparams;
  if (dx)
    for (size_t i = 0; i < n * l->in_size; i++) dx[i] = 2 * dy[i];
}

static const descent_layer_kind twice_kind = {
    .name = "twice", .setup = twice_setup, .forward = twice_forward, .backward = twice_backward};

static void test_refusals(void) {
  descent_optimizer *opt = NULL;
  char text[512];
  CHECK_OK(descent_optimizer_create(&opt, "hf(damping=1)", NULL, 3));
  descent_optimizer_describe(opt, text, sizeof text);
  CHECK_MSG(strcmp(text, "hf(damping=1) = hf(damping=1, max_cg=250, cg_decay=0.95, "
                         "cg_tol=0.0005, precond=none, precond_samples=0, line_search=armijo, "
                         "seed=0) | lr(lr=1)") == 0,
            "%s", text);
  double v = 0;
  CHECK_OK(descent_optimizer_hyperparameter(opt, "hf.max_cg", &v));
  CHECK(v == 250 && descent_optimizer_is_method(opt));
  descent_optimizer_free(opt);
  opt = NULL;
  CHECK_FAILS(descent_optimizer_create(&opt, "hf(damping=-1)", NULL, 3), DESCENT_EINVAL, "damping");
  CHECK_FAILS(descent_optimizer_create(&opt, "hf(max_cg=0)", NULL, 3), DESCENT_EINVAL, "max_cg");
  CHECK_FAILS(descent_optimizer_create(&opt, "hf(cg_decay=1.5)", NULL, 3), DESCENT_EINVAL,
              "cg_decay");
  CHECK_FAILS(descent_optimizer_create(&opt, "hf(precond=fisher)", NULL, 3), DESCENT_EINVAL,
              "valid values are none, ggn");
  CHECK_FAILS(descent_optimizer_create(&opt, "newton_cg(line_search=wolfe)", NULL, 3),
              DESCENT_EINVAL, "valid values are armijo, none");
  CHECK_FAILS(descent_optimizer_create(&opt, "hf(lambda=1)", NULL, 3), DESCENT_EINVAL, "damping");
  CHECK_FAILS(descent_optimizer_create(&opt, "clip(1) | hf", NULL, 3), DESCENT_EINVAL,
              "is a method");
  CHECK(opt == NULL);

  /* an objective without Gauss-Newton products; the message passes through */
  static quad q;
  double eig[N] = {1, 2, 3};
  quad_init(&q, 3, eig, 0, 0);
  descent_objective_ops ops = quad_ops;
  ops.ggnvp = NULL;
  q.obj.ops = &ops;
  descent_real before[3];
  memcpy(before, q.theta, sizeof before);
  opt = make("hf", 3);
  CHECK_FAILS(descent_optimizer_step_closure(opt, &q.obj, NULL, NULL), DESCENT_ENOTSUP,
              "offers no Gauss-Newton-vector product");
  CHECK(memcmp(before, q.theta, sizeof before) == 0);
  descent_optimizer_free(opt);
  ops.ggn_diagonal = NULL;
  ops.ggnvp = quad_ggnvp;
  opt = make("hf(precond=ggn)", 3);
  CHECK_FAILS(descent_optimizer_step_closure(opt, &q.obj, NULL, NULL), DESCENT_ENOTSUP,
              "offers no Gauss-Newton diagonal");
  descent_optimizer_free(opt);

  /* a network with a layer without products: refused, parameters kept */
  CHECK_OK(descent_layer_register(&twice_kind));
  descent_net *plain = NULL;
  descent_shape in6 = {1, {IN}};
  CHECK_OK(descent_net_create(&plain, "dense(4), twice, dense(3)", &in6, DESCENT_LOSS_SOFTMAX_XENT,
                              BATCH, 1));
  if (plain) {
    descent_objective *obj = descent_net_objective(plain);
    descent_real x[BATCH * IN], kept[64];
    int32_t labels[BATCH];
    for (int i = 0; i < BATCH * IN; i++) x[i] = (descent_real)uniform();
    for (int i = 0; i < BATCH; i++) labels[i] = i % 3;
    descent_batch batch = {.n = BATCH, .x = x, .labels = labels};
    memcpy(kept, obj->params, obj->n_params * sizeof *kept);
    const char *specs[] = {"hf", "newton_cg"};
    for (int k = 0; k < 2; k++) {
      opt = make(specs[k], obj->n_params);
      CHECK_FAILS(descent_optimizer_step_closure(opt, obj, &batch, NULL), DESCENT_ENOTSUP,
                  "has no directional derivative (jvp)");
      CHECK(memcmp(kept, obj->params, obj->n_params * sizeof *kept) == 0);
      descent_optimizer_free(opt);
    }
    descent_net_free(plain);
  }

  /* batch norm has no diagonal */
  descent_net *net = NULL;
  descent_shape input = {1, {IN}};
  CHECK_OK(descent_net_create(&net, "dense(4), batchnorm, relu, dense(3)", &input,
                              DESCENT_LOSS_SOFTMAX_XENT, BATCH, 1));
  if (net) {
    descent_objective *obj = descent_net_objective(net);
    descent_real x[BATCH * IN];
    int32_t labels[BATCH];
    for (int i = 0; i < BATCH * IN; i++) x[i] = (descent_real)uniform();
    for (int i = 0; i < BATCH; i++) labels[i] = i % 3;
    descent_batch batch = {.n = BATCH, .x = x, .labels = labels};
    opt = make("hf(precond=ggn)", obj->n_params);
    CHECK_FAILS(descent_optimizer_step_closure(opt, obj, &batch, NULL), DESCENT_ENOTSUP,
                "batchnorm");
    descent_optimizer_free(opt);
    opt = make("hf", obj->n_params);
    CHECK_OK(descent_optimizer_step_closure(opt, obj, &batch, NULL));
    descent_optimizer_free(opt);
    descent_net_free(net);
  }

  /* damaged state refused, the state unchanged */
  quad_init(&q, 3, eig, 0, 0);
  opt = make("hf(damping=2)", 3);
  CHECK_OK(descent_optimizer_step_closure(opt, &q.obj, NULL, NULL));
  size_t size = descent_optimizer_state_size(opt);
  unsigned char *blob = malloc(size);
  CHECK_OK(descent_optimizer_save_state(opt, blob, size));
  descent_optimizer *other = make("hf(damping=2, max_cg=7)", 3);
  CHECK_FAILS(descent_optimizer_load_state(other, blob, size), DESCENT_EINVAL, "max_cg");
  descent_optimizer_free(other);
  other = make("newton_cg(damping=2)", 3);
  CHECK(descent_optimizer_load_state(other, blob, size) != DESCENT_OK);
  descent_optimizer_free(other);
  free(blob);
  descent_optimizer_free(opt);
}

int main(void) {
  test_minimum();
  test_cg_properties();
  test_damping();
  test_preconditioner();
  test_negative_curvature();
  test_resume();
  test_refusals();
  printf("%d checks, %d failed\n", check_count, check_failures);
  return check_failures != 0;
}
