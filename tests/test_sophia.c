/*
 * test_sophia.c - Sophia (sophia), beyond its optax parity (test_parity:
 * the update rule on optax's own estimates).
 *
 *  - The estimators, by their means. Hutchinson's z * (H z): averaged over
 *    K draws it must equal diag(H), formed here from Hessian-vector
 *    products with unit vectors, on a rotated quadratic (H = A) and on a
 *    tanh network (whose H is not its Gauss-Newton matrix). For Rademacher
 *    z the variance of one draw is exactly sum_{j != i} H_ij^2, so the
 *    bound is 5 standard errors of the mean, from the Hessian itself.
 *    Sophia-G's Gauss-Newton-Bartlett B g_hat^2 must average to the exact
 *    Gauss-Newton diagonal (descent_objective_ggn_diagonal, samples 0),
 *    within 5 standard errors estimated from the draws, for cross-entropy
 *    (labels drawn from the softmax) and mean squared error (targets drawn
 *    around the outputs). Each bound is also
 *    shown to reject the wrong answer (diag(G) for Hutchinson, diag(H) and
 *    the squared gradient of the true labels for GNB), so it is tight
 *    enough to fail. The seeds are fixed: the test cannot flake. The
 *    estimates are read from the state (with b2 = 0, h is the last
 *    estimate itself), so they are the ones the optimizer uses.
 *  - The wiring on a network: every step is m, theta from the h of the
 *    steps before, then h from the estimate (optax's order); estimates on
 *    steps 0, k, 2k, ...; negative estimates kept; the counts.
 *  - State: saved and loaded into a fresh optimizer after every step of a
 *    run with dropout, both estimators, the same bits as the uninterrupted
 *    run; damaged counters refused.
 *  - Refusals: bad hyperparameters, objectives the estimator cannot use.
 * The state blob ends with h and, before it, m (src/optim/sophia.c), then
 * its 8-byte checksum.
 */
#include "check.h"
#include "descent.h"

#include <stdlib.h>
#include <string.h>

typedef descent_real real;

#define BATCH 5
#define IN    6
#define SIGMA 5.0 /* the statistical bounds, in standard errors of the mean */

static real inputs[4 * BATCH * IN];
static int32_t labels[4 * BATCH];
static const descent_shape input = {1, {IN}};

#ifdef DESCENT_DOUBLE
#define ROUNDING 1e-12
#else
#define ROUNDING 1e-5
#endif

/* ---- helpers ------------------------------------------------------------------- */

static unsigned char *state_blob(const descent_optimizer *opt, size_t *size) {
  *size = descent_optimizer_state_size(opt);
  unsigned char *blob = malloc(*size);
  CHECK_OK(descent_optimizer_save_state(opt, blob, *size));
  return blob;
}

/* The method's m and h (either may be NULL): the blob's last 2n numbers
   before its checksum. */
static void read_moments(const descent_optimizer *opt, size_t n, real *m, real *h) {
  size_t size;
  unsigned char *blob = state_blob(opt, &size);
  if (m) memcpy(m, blob + size - 8 - 2 * n * sizeof *m, n * sizeof *m);
  if (h) memcpy(h, blob + size - 8 - n * sizeof *h, n * sizeof *h);
  free(blob);
}

static void reseal(unsigned char *blob, size_t size) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i + 8 < size; i++) h = (h ^ blob[i]) * 1099511628211ull;
  for (int i = 0; i < 8; i++) blob[size - 8 + i] = (unsigned char)(h >> (8 * i));
}

static descent_net *make_net(const char *spec) {
  descent_net *net = NULL;
  CHECK_OK(descent_net_create(&net, spec, &input, DESCENT_LOSS_SOFTMAX_XENT, BATCH, 7));
  return net;
}

static descent_batch batch_k(int k) {
  return (descent_batch){.n = BATCH,
                         .x = inputs + (size_t)(k % 4) * BATCH * IN,
                         .labels = labels + (size_t)(k % 4) * BATCH};
}

/* The exact Hessian (n x n, row-major) at obj->params on batch, from n
   products with unit vectors. */
static double *hessian(descent_objective *obj, const descent_batch *batch) {
  size_t n = obj->n_params;
  double *hess = calloc(n * n, sizeof *hess);
  real *e = calloc(n, sizeof *e), *col = calloc(n, sizeof *col);
  for (size_t j = 0; j < n; j++) {
    e[j] = 1;
    CHECK_OK(descent_objective_hvp(obj, batch, e, col));
    for (size_t i = 0; i < n; i++) hess[i * n + j] = (double)col[i];
    e[j] = 0;
  }
  free(e), free(col);
  return hess;
}

/* K estimates of the optimizer's spec (b2 = 0 in it) at obj's current
   params: each a first step from the same point, read from the state;
   their mean and the sample variance of one draw. */
static void draw_estimates(const char *spec, descent_objective *obj, const descent_batch *batch,
                           int draws, double *mean, double *var) {
  size_t n = obj->n_params;
  real *start = malloc(n * sizeof *start), *h = malloc(n * sizeof *h);
  memcpy(start, obj->params, n * sizeof *start);
  double *sum2 = calloc(n, sizeof *sum2);
  memset(mean, 0, n * sizeof *mean);
  descent_optimizer *opt = NULL;
  CHECK_OK(descent_optimizer_create(&opt, spec, "1e-3", n));
  for (int k = 0; k < draws && opt; k++) {
    memcpy(obj->params, start, n * sizeof *start);
    CHECK_OK(descent_optimizer_step_closure(opt, obj, batch, NULL));
    read_moments(opt, n, NULL, h);
    for (size_t i = 0; i < n; i++) {
      mean[i] += (double)h[i];
      sum2[i] += (double)h[i] * h[i];
    }
  }
  for (size_t i = 0; i < n; i++) {
    mean[i] /= draws;
    var[i] = (sum2[i] / draws - mean[i] * mean[i]) * draws / (draws - 1);
  }
  CHECK(descent_optimizer_products(opt) == draws);
  memcpy(obj->params, start, n * sizeof *start);
  descent_optimizer_free(opt);
  free(start), free(h), free(sum2);
}

/* How many coordinates of mean lie more than SIGMA standard errors (plus
   rounding) from want; the worst distance, in standard errors. */
static int outside(const double *mean, const double *se, const double *want, size_t n,
                   double *worst) {
  int count = 0;
  *worst = 0;
  for (size_t i = 0; i < n; i++) {
    double gap = fabs(mean[i] - want[i]), allowed = SIGMA * se[i] + ROUNDING * fabs(want[i]);
    if (gap > allowed) count++;
    if (se[i] > 0 && gap / se[i] > *worst) *worst = gap / se[i];
  }
  return count;
}

/* ---- Hutchinson ------------------------------------------------------------------ */

static void check_hutchinson(const char *what, descent_objective *obj, const descent_batch *batch,
                             const double *ggn) {
  const int draws = 4000;
  size_t n = obj->n_params;
  double loss;
  CHECK_OK(descent_objective_value_and_grad(obj, batch, &loss));
  double *hess = hessian(obj, batch);
  double *diag = calloc(n, sizeof *diag), *se = calloc(n, sizeof *se);
  double *mean = calloc(n, sizeof *mean), *var = calloc(n, sizeof *var);
  for (size_t i = 0; i < n; i++) {
    diag[i] = hess[i * n + i];
    double off = 0; /* one draw's variance: sum_{j != i} H_ij^2 */
    for (size_t j = 0; j < n; j++)
      if (j != i) off += hess[i * n + j] * hess[i * n + j];
    se[i] = sqrt(off / draws);
  }
  draw_estimates("sophia(b2=0, update_interval=1, estimator=hutchinson, seed=3)", obj, batch, draws,
                 mean, var);
  double worst;
  int bad = outside(mean, se, diag, n, &worst);
  CHECK_MSG(bad == 0, "%s: Hutchinson's mean over %d draws is off diag(H) at %d of %zu coordinates",
            what, draws, bad, n);
  /* The variance of one draw is the one computed from H. */
  double ratio_lo = INFINITY, ratio_hi = 0;
  for (size_t i = 0; i < n; i++)
    if (se[i] > 0) {
      double r = var[i] / (se[i] * se[i] * draws);
      ratio_lo = fmin(ratio_lo, r), ratio_hi = fmax(ratio_hi, r);
    }
  CHECK_MSG(ratio_lo > 0.8 && ratio_hi < 1.25,
            "%s: the draws' variance is %.3g to %.3g times sum_{j != i} H_ij^2", what, ratio_lo,
            ratio_hi);
  printf("%s: Hutchinson's mean over %d draws within %.2f standard errors of diag(H); one draw's "
         "variance %.3f to %.3f of its exact value\n",
         what, draws, worst, ratio_lo, ratio_hi);
  if (ggn) { /* the bound is tight enough to tell H from G */
    double gap_worst;
    int wrong = outside(mean, se, ggn, n, &gap_worst);
    CHECK_MSG(wrong > 0, "%s: the bound also accepts diag(G) (%.2f standard errors at worst)", what,
              gap_worst);
    printf("%s: and rejects diag(G) at %d of %zu coordinates (up to %.0f standard errors)\n", what,
           wrong, n, gap_worst);
  }
  free(hess), free(diag), free(se), free(mean), free(var);
}

static void test_hutchinson_quadratic(void) {
  descent_objective *obj = NULL;
  CHECK_OK(descent_problem_create(&obj, "quadnd(dim=12, kappa=50, rotate=1, seed=4)"));
  if (!obj) return;
  check_hutchinson("quadnd", obj, NULL, NULL);
  descent_objective_free(obj);
}

static void test_hutchinson_network(void) {
  descent_net *net = make_net("dense(6), tanh, dense(3)");
  if (!net) return;
  descent_objective *obj = descent_net_objective(net);
  size_t n = obj->n_params;
  descent_batch batch = batch_k(0);
  double loss;
  CHECK_OK(descent_objective_value_and_grad(obj, &batch, &loss));
  real *g = calloc(n, sizeof *g);
  double *ggn = calloc(n, sizeof *ggn);
  CHECK_OK(descent_objective_ggn_diagonal(obj, &batch, 0, 0, g));
  for (size_t i = 0; i < n; i++) ggn[i] = (double)g[i];
  check_hutchinson("tanh network", obj, &batch, ggn);
  free(g), free(ggn);
  descent_net_free(net);
}

/* ---- Gauss-Newton-Bartlett ----------------------------------------------------------- */

/* loss: cross-entropy (labels drawn from the softmax) or mean squared
   error (targets drawn around the outputs). */
static void test_gnb(descent_loss_kind kind) {
  const int draws = 20000;
  const char *what = kind == DESCENT_LOSS_MSE ? "GNB (mse)" : "GNB";
  descent_net *net = NULL;
  CHECK_OK(descent_net_create(&net, "dense(6), tanh, dense(3)", &input, kind, BATCH, 7));
  if (!net) return;
  descent_objective *obj = descent_net_objective(net);
  size_t n = obj->n_params;
  descent_batch batch = batch_k(1);
  real targets[BATCH * 3];
  for (int i = 0; i < BATCH * 3; i++) targets[i] = (real)(0.3 * (i % 5) - 0.6);
  if (kind == DESCENT_LOSS_MSE) batch.labels = NULL, batch.targets = targets;
  double loss;
  CHECK_OK(descent_objective_value_and_grad(obj, &batch, &loss));
  double *fisher = calloc(n, sizeof *fisher); /* B g^2 of the batch's own labels */
  for (size_t i = 0; i < n; i++) fisher[i] = BATCH * (double)obj->grad[i] * obj->grad[i];
  real *g = calloc(n, sizeof *g);
  double *ggn = calloc(n, sizeof *ggn), *diag = calloc(n, sizeof *diag);
  CHECK_OK(descent_objective_ggn_diagonal(obj, &batch, 0, 0, g));
  for (size_t i = 0; i < n; i++) ggn[i] = (double)g[i];
  double *hess = hessian(obj, &batch);
  for (size_t i = 0; i < n; i++) diag[i] = hess[i * n + i];
  double *mean = calloc(n, sizeof *mean), *var = calloc(n, sizeof *var);
  double *se = calloc(n, sizeof *se);
  draw_estimates("sophia(b2=0, update_interval=1, estimator=gnb, seed=5)", obj, &batch, draws, mean,
                 var);
  int nonzero = 0;
  for (size_t i = 0; i < n; i++) {
    se[i] = sqrt(var[i] / draws);
    nonzero += se[i] > 0;
  }
  CHECK_MSG(nonzero == (int)n, "%s: %d of %zu coordinates vary from draw to draw", what, nonzero,
            n);
  double worst, worst_h, worst_f;
  int bad = outside(mean, se, ggn, n, &worst);
  CHECK_MSG(bad == 0,
            "%s: the mean over %d draws is off the Gauss-Newton diagonal at %d of %zu "
            "coordinates",
            what, draws, bad, n);
  int wrong_h = outside(mean, se, diag, n, &worst_h);
  int wrong_f = outside(mean, se, fisher, n, &worst_f);
  CHECK_MSG(wrong_h > 0, "%s: the bound also accepts diag(H)", what);
  CHECK_MSG(wrong_f > 0, "%s: the bound also accepts B g^2 of the true labels", what);
  printf("%s: mean over %d draws within %.2f standard errors of diag(G); rejects diag(H) at %d "
         "and the true labels' B g^2 at %d of %zu coordinates\n",
         what, draws, worst, wrong_h, wrong_f, n);
  free(fisher), free(g), free(ggn), free(diag), free(hess), free(mean), free(var), free(se);
  descent_net_free(net);
}

/* ---- the wiring on a network ---------------------------------------------------------- */

/* optax's step from m, h (before this step's estimate) and g, in the
   method's roundings. */
static void reference_step(real *theta, real *m, const real *h, const real *g, size_t n, int t,
                           double lr) {
  const double b1 = 0.9, gamma = 0.5, eps = 1e-6, wd = 0.01, clip = 0.8;
  double correction = 1 - pow(b1, t);
  for (size_t i = 0; i < n; i++) {
    double mi = (1 - b1) * (double)g[i] + b1 * (double)m[i];
    double scaled = gamma * (double)h[i];
    double u = mi / correction / (scaled > eps ? scaled : eps);
    u = u < -clip ? -clip : u > clip ? clip : u;
    m[i] = (real)mi;
    theta[i] = (real)((double)theta[i] - lr * (u + wd * (double)theta[i]));
  }
}

static void test_wiring(const char *estimator) {
  const int interval = 3, steps = 8;
  const double lr = 0.05;
  char spec[256];
  snprintf(spec, sizeof spec,
           "sophia(b1=0.9, b2=0.5, eps=1e-6, weight_decay=0.01, gamma=0.5, clip_threshold=0.8, "
           "update_interval=3, estimator=%s)",
           estimator);
  descent_net *net = make_net("dense(8), tanh, dense(3)");
  if (!net) return;
  descent_objective *obj = descent_net_objective(net);
  size_t n = obj->n_params;
  descent_optimizer *opt = NULL;
  CHECK_OK(descent_optimizer_create(&opt, spec, "0.05", n));
  real *theta = calloc(n, sizeof *theta), *m = calloc(n, sizeof *m), *h = calloc(n, sizeof *h);
  real *g = calloc(n, sizeof *g), *got_m = calloc(n, sizeof *got_m);
  real *got_h = calloc(n, sizeof *got_h);
  int same = 1, h_ok = 1, counts = 1, negative = 0;
  for (int k = 0; k < steps && opt; k++) {
    descent_batch batch = batch_k(k);
    double loss;
    memcpy(theta, obj->params, n * sizeof *theta);
    CHECK_OK(descent_objective_value_and_grad(obj, &batch, &loss));
    memcpy(g, obj->grad, n * sizeof *g);
    reference_step(theta, m, h, g, n, k + 1, lr);
    descent_step_info info;
    CHECK_OK(descent_optimizer_step_closure(opt, obj, &batch, &info));
    read_moments(opt, n, got_m, got_h);
    same &=
        memcmp(obj->params, theta, n * sizeof *theta) == 0 && memcmp(got_m, m, n * sizeof *m) == 0;
    int estimated = k % interval == 0;
    /* h changes on the estimate steps only, to 0.5 h + 0.5 D */
    h_ok &= estimated == (memcmp(got_h, h, n * sizeof *h) != 0);
    for (size_t i = 0; i < n; i++) negative += got_h[i] < 0;
    memcpy(h, got_h, n * sizeof *h);
    counts &= info.product_evals == estimated && info.function_evals == 1 &&
              info.gradient_evals == 1 && info.loss == loss;
  }
  CHECK_MSG(same, "%s: the step is not optax's (m, then theta from the h of the steps before)",
            estimator);
  CHECK_MSG(h_ok, "%s: h changed on other steps than 0, 3, 6", estimator);
  CHECK(counts);
  CHECK(descent_optimizer_evaluations(opt) == steps && descent_optimizer_products(opt) == 3);
  /* Hutchinson's estimates of a tanh network's H fall below 0 at some
     coordinates, and optax keeps them; GNB's never do. */
  if (strcmp(estimator, "hutchinson") == 0)
    CHECK_MSG(negative > 0, "hutchinson: no h below 0 in %d steps", steps);
  else
    CHECK_MSG(negative == 0, "gnb: %d values of h below 0", negative);
  free(theta), free(m), free(h), free(g), free(got_m), free(got_h);
  descent_optimizer_free(opt);
  descent_net_free(net);
}

/* ---- saving and loading ------------------------------------------------------------------ */

static void test_resume(const char *spec) {
  const char *model = "dense(8), relu, dropout(p=0.25), dense(3)";
  descent_net *na = make_net(model), *nb = make_net(model);
  if (!na || !nb) return;
  descent_objective *a = descent_net_objective(na), *b = descent_net_objective(nb);
  size_t n = a->n_params;
  descent_optimizer *oa = NULL, *ob = NULL;
  CHECK_OK(descent_optimizer_create(&oa, spec, "0.02", n));
  CHECK_OK(descent_optimizer_create(&ob, spec, "0.02", n));
  if (!oa || !ob) return;
  int same = 1;
  for (int k = 0; k < 9 && same; k++) {
    descent_batch batch = batch_k(k);
    CHECK_OK(descent_optimizer_step_closure(oa, a, &batch, NULL));
    CHECK_OK(descent_optimizer_step_closure(ob, b, &batch, NULL));
    size_t size;
    unsigned char *blob = state_blob(ob, &size);
    descent_optimizer_free(ob);
    ob = NULL;
    CHECK_OK(descent_optimizer_create(&ob, spec, "0.02", n));
    CHECK_OK(descent_optimizer_load_state(ob, blob, size));
    free(blob);
    same = memcmp(a->params, b->params, n * sizeof *a->params) == 0 &&
           descent_optimizer_evaluations(oa) == descent_optimizer_evaluations(ob) &&
           descent_optimizer_products(oa) == descent_optimizer_products(ob);
  }
  CHECK_MSG(same, "%s: saved and loaded after every step, the run differs", spec);
  /* 9 steps, estimates at 0, 2, 4, 6, 8 */
  CHECK(descent_optimizer_evaluations(ob) == 9 && descent_optimizer_products(ob) == 5);

  size_t size;
  unsigned char *blob = state_blob(ob, &size);
  unsigned char *bad = malloc(size);
  descent_optimizer *fresh = NULL;
  CHECK_OK(descent_optimizer_create(&fresh, spec, "0.02", n));
  size_t counters = size - 8 - 2 * n * sizeof(real) - 24;
  memcpy(bad, blob, size);
  bad[counters + 8] ^= 1; /* the evaluations */
  reseal(bad, size);
  CHECK_FAILS(descent_optimizer_load_state(fresh, bad, size), DESCENT_EFORMAT,
              "each step makes one evaluation");
  memcpy(bad, blob, size);
  bad[counters + 16] ^= 2; /* the products */
  reseal(bad, size);
  CHECK_FAILS(descent_optimizer_load_state(fresh, bad, size), DESCENT_EFORMAT, "corrupted");
  memcpy(bad, blob, size);
  real nan_value = (real)NAN;
  memcpy(bad + size - 8 - sizeof(real), &nan_value, sizeof nan_value); /* the last h */
  reseal(bad, size);
  CHECK_FAILS(descent_optimizer_load_state(fresh, bad, size), DESCENT_EFORMAT, "h of parameter");
  CHECK(descent_optimizer_evaluations(fresh) == 0 && descent_optimizer_products(fresh) == 0);
  CHECK_FAILS(descent_optimizer_load_state(fresh, blob, size - 1), DESCENT_EFORMAT, "");
  descent_optimizer_free(fresh);
  free(blob), free(bad);
  descent_optimizer_free(oa);
  descent_optimizer_free(ob);
  descent_net_free(na);
  descent_net_free(nb);
}

/* ---- the interface and the refusals ------------------------------------------------------- */

static void test_spec(void) {
  descent_optimizer *opt = NULL;
  char text[512];
  CHECK_OK(descent_optimizer_create(&opt, "sophia", NULL, 3));
  descent_optimizer_describe(opt, text, sizeof text);
  CHECK_MSG(strcmp(text, "sophia = sophia(b1=0.965, b2=0.99, eps=1e-08, weight_decay=0.0001, "
                         "gamma=0.01, clip_threshold=1, update_interval=10, "
                         "estimator=hutchinson, seed=1) | lr(lr=0.0001)") == 0,
            "%s", text);
  CHECK(descent_optimizer_is_method(opt) == 1 && descent_optimizer_full_batch(opt) == 0);
  double v = 0;
  CHECK_OK(descent_optimizer_hyperparameter(opt, "sophia.gamma", &v));
  CHECK(v == 0.01);
  descent_optimizer_free(opt);
  CHECK_OK(descent_optimizer_create(&opt, "sophia(estimator=gnb) | lr(cosine(0.1, 100))", NULL, 3));
  CHECK(descent_optimizer_lr(opt) == 0.1);
  descent_optimizer_free(opt);

  static const struct {
    const char *spec, *needle;
  } bad[] = {
      {"sophia(b1=1)", "sophia(b1=1): out of range; valid values are [0, 1)"},
      {"sophia(b1=-0.1)", "b1=-0.1): out of range"},
      {"sophia(b2=1)", "sophia(b2=1): out of range; valid values are [0, 1)"},
      {"sophia(eps=0)", "sophia(eps=0): out of range; valid values are (0, inf)"},
      {"sophia(gamma=0)", "sophia(gamma=0): out of range; valid values are (0, inf)"},
      {"sophia(weight_decay=-1)", "weight_decay=-1): out of range"},
      {"sophia(clip_threshold=-1)", "clip_threshold=-1): out of range"},
      {"sophia(update_interval=0)", "update_interval=0): out of range"},
      {"sophia(update_interval=1.5)", "update_interval=1.5): must be a whole number"},
      {"sophia(estimator=fisher)",
       "optimizer sophia: estimator='fisher': valid values are hutchinson, gnb"},
      {"sophia(seed=-1)", "seed=-1): out of range"},
      {"sophia(rho=1)", "rho"},
      {"clip(1) | sophia", "is a method"},
      {"sophia | adam", "takes no transforms"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    opt = NULL;
    CHECK_FAILS(descent_optimizer_create(&opt, bad[i].spec, NULL, 3), DESCENT_EINVAL,
                bad[i].needle);
    CHECK(opt == NULL);
  }
}

static void check_refused(const char *spec, descent_objective *obj, const descent_batch *batch,
                          const char *needle) {
  size_t n = obj->n_params;
  descent_optimizer *opt = NULL;
  CHECK_OK(descent_optimizer_create(&opt, spec, NULL, n));
  if (!opt) return;
  CHECK_FAILS(descent_optimizer_check_objective(opt, obj), DESCENT_ENOTSUP, needle);
  real *before = calloc(n, sizeof *before);
  memcpy(before, obj->params, n * sizeof *before);
  CHECK_FAILS(descent_optimizer_step_closure(opt, obj, batch, NULL), DESCENT_ENOTSUP, needle);
  CHECK(strncmp(descent_last_error(), "sophia: ", 8) == 0);
  CHECK(memcmp(before, obj->params, n * sizeof *before) == 0);
  CHECK(descent_optimizer_steps(opt) == 0 && descent_optimizer_products(opt) == 0);
  free(before);
  descent_optimizer_free(opt);
}

static int mine_value_and_grad(descent_objective *obj, const descent_batch *b, double *loss) {
  (void)b;
  *loss = 0.5 * (double)obj->params[0] * obj->params[0];
  obj->grad[0] = obj->params[0];
  return DESCENT_OK;
}

/* An estimate of NaN reaches theta (as jnp.maximum passes it on), where
   the trainer's guard sees it, instead of being floored to eps. */
static int nan_hvp(descent_objective *obj, const descent_batch *b, const descent_real *v,
                   descent_real *out) {
  (void)b;
  for (size_t i = 0; i < obj->n_params; i++) out[i] = i ? v[i] : (real)NAN;
  return DESCENT_OK;
}

static void test_nan_estimate(void) {
  static const descent_objective_ops ops = {
      .kind = "nan", .value_and_grad = mine_value_and_grad, .hvp = nan_hvp};
  real theta[2] = {1, 1}, grad[2] = {0, 0};
  descent_objective obj = {.ops = &ops, .n_params = 2, .params = theta, .grad = grad};
  descent_optimizer *opt = NULL;
  CHECK_OK(descent_optimizer_create(&opt, "sophia(update_interval=1)", "0.1", 2));
  if (!opt) return;
  CHECK_OK(descent_optimizer_step_closure(opt, &obj, NULL, NULL));
  CHECK(isfinite(theta[0]) && isfinite(theta[1])); /* the first step uses h = 0 */
  CHECK_OK(descent_optimizer_step_closure(opt, &obj, NULL, NULL));
  CHECK_MSG(isnan(theta[0]) && isfinite(theta[1]), "theta after a NaN estimate: %g %g",
            (double)theta[0], (double)theta[1]);
  descent_optimizer_free(opt);
}

static void test_refusals(void) {
  static const descent_objective_ops ops = {.kind = "mine", .value_and_grad = mine_value_and_grad};
  real theta = 1, grad = 0;
  descent_objective mine = {.ops = &ops, .n_params = 1, .params = &theta, .grad = &grad};
  check_refused("sophia", &mine, NULL, "objective 'mine' has no Hessian-vector product");
  check_refused("sophia(estimator=gnb)", &mine, NULL,
                "objective 'mine' is not a network; use estimator=hutchinson");
  descent_objective *quad = NULL;
  CHECK_OK(descent_problem_create(&quad, "quad2d"));
  check_refused("sophia(estimator=gnb)", quad, NULL, "is not a network");
  descent_objective_free(quad);

  /* GNB needs only the backward pass: batch norm takes part. */
  descent_net *net = make_net("dense(4), batchnorm, relu, dense(3)");
  if (!net) return;
  descent_objective *obj = descent_net_objective(net);
  descent_optimizer *opt = NULL;
  CHECK_OK(descent_optimizer_create(&opt, "sophia(estimator=gnb)", NULL, obj->n_params));
  descent_batch batch = batch_k(0);
  CHECK_OK(descent_optimizer_check_objective(opt, obj));
  CHECK_OK(descent_optimizer_step_closure(opt, obj, &batch, NULL));
  CHECK(descent_optimizer_products(opt) == 1);
  descent_optimizer_free(opt);
  descent_net_free(net);
}

int main(void) {
  descent_rng rng;
  descent_rng_seed(&rng, 3);
  for (size_t i = 0; i < sizeof inputs / sizeof *inputs; i++)
    inputs[i] = (real)(2 * descent_rng_uniform(&rng) - 1);
  for (size_t i = 0; i < sizeof labels / sizeof *labels; i++) labels[i] = (int32_t)(i * 7 % 3);
  test_hutchinson_quadratic();
  test_hutchinson_network();
  test_gnb(DESCENT_LOSS_SOFTMAX_XENT);
  test_gnb(DESCENT_LOSS_MSE);
  test_wiring("hutchinson");
  test_wiring("gnb");
  test_resume("sophia(update_interval=2, seed=5)");
  test_resume("sophia(update_interval=2, estimator=gnb, gamma=0.05)");
  test_spec();
  test_refusals();
  test_nan_estimate();
  return check_report();
}
