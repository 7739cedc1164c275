/*
 * test_sdlm.c - the stochastic diagonal Levenberg-Marquardt method (sdlm).
 *
 *  - The formula, to the bit: on Rosenbrock, whose Gauss-Newton diagonal is
 *    known in closed form, (2 + 8 b x^2, 2 b), every step equals
 *    theta - lr / (damping + h) g with h the running average of that
 *    diagonal, computed here (estimates every `every` steps, the first
 *    taken whole); on a network, the same with the exact diagonal of the
 *    library's own descent_objective_ggn_diagonal.
 *  - Not Adagrad: near Rosenbrock's minimum the gradient nearly vanishes and
 *    the curvature does not; h is the curvature, orders of magnitude above
 *    any sum or mean of g^2.
 *  - The Monte-Carlo mode: one estimate's error against the exact diagonal
 *    falls as 1/sqrt(samples); the seed and the step count pick the draws.
 *  - The counts: one evaluation per step; a diagonal costs the network's
 *    classes (exact) or samples, a lab problem's dimension (exact).
 *  - State: saved and loaded into a fresh optimizer after every step of a
 *    run with dropout and Monte-Carlo estimates, the same bits as the
 *    uninterrupted run; damaged blobs refused.
 *  - Refusals: bad hyperparameters, objectives without a Gauss-Newton
 *    diagonal (a network with batch norm, a problem that is not a sum of
 *    squares, an objective of the caller's), each with its message and
 *    the parameters untouched.
 * The method's h is read from the end of its state blob (src/optim/sdlm.c
 * writes it last, before the blob's checksum).
 */
#include "check.h"
#include "descent.h"

#include <stdlib.h>
#include <string.h>

typedef descent_real real;

#define BATCH 5
#define IN    6

static real inputs[4 * BATCH * IN];
static int32_t labels[4 * BATCH];
static const descent_shape input = {1, {IN}};

/* ---- helpers ------------------------------------------------------------------- */

/* The optimizer's state blob (caller frees) and its size. */
static unsigned char *state_blob(const descent_optimizer *opt, size_t *size) {
  *size = descent_optimizer_state_size(opt);
  unsigned char *blob = malloc(*size);
  CHECK_OK(descent_optimizer_save_state(opt, blob, *size));
  return blob;
}

/* The method's running diagonal h: the blob's last n numbers before its
   8-byte checksum. */
static void read_h(const descent_optimizer *opt, size_t n, real *h) {
  size_t size;
  unsigned char *blob = state_blob(opt, &size);
  memcpy(h, blob + size - 8 - n * sizeof *h, n * sizeof *h);
  free(blob);
}

/* The blob's checksum (FNV-1a 64 of every byte before it) written anew,
   so that a deliberately damaged field reaches the method's own checks. */
static void reseal(unsigned char *blob, size_t size) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i + 8 < size; i++) h = (h ^ blob[i]) * 1099511628211ull;
  for (int i = 0; i < 8; i++) blob[size - 8 + i] = (unsigned char)(h >> (8 * i));
}

/* The reference recursion of the method, in the method's roundings. */
static void reference_h(real *h, const real *d, size_t n, double decay, int first) {
  for (size_t i = 0; i < n; i++) {
    double di = d[i] > 0 ? (double)d[i] : 0;
    h[i] = first ? (real)di : (real)((1 - decay) * (double)h[i] + decay * di);
  }
}

static void reference_step(real *theta, const real *h, const real *g, size_t n, double lr,
                           double mu) {
  for (size_t i = 0; i < n; i++)
    theta[i] = (real)((double)theta[i] - lr / (mu + (double)h[i]) * (double)g[i]);
}

static descent_net *make_net(const char *spec) {
  descent_net *net = NULL;
  CHECK_OK(descent_net_create(&net, spec, &input, DESCENT_LOSS_SOFTMAX_XENT, BATCH, 7));
  return net;
}

/* The k-th of four fixed minibatches. */
static descent_batch batch_k(int k) {
  return (descent_batch){.n = BATCH,
                         .x = inputs + (size_t)(k % 4) * BATCH * IN,
                         .labels = labels + (size_t)(k % 4) * BATCH};
}

/* ---- the formula ------------------------------------------------------------------- */

/* Rosenbrock (a = 1, b = 100): G = 2 J^T J of its residuals (1 - x) and
   10 (y - x^2) has the diagonal (2 + 8 b x^2, 2 b). */
static void test_formula_rosenbrock(void) {
  const double lr = 2e-3, mu = 0.5, decay = 0.25, b = 100;
  const int every = 3, steps = 12;
  descent_objective *obj = NULL;
  descent_optimizer *opt = NULL;
  CHECK_OK(descent_problem_create(&obj, "rosenbrock"));
  CHECK_OK(descent_optimizer_create(
      &opt, "sdlm(lr=0.002, damping=0.5, every=3, decay=0.25, samples=0)", NULL, 2));
  if (!obj || !opt) return;
  real theta[2] = {obj->params[0], obj->params[1]}, h[2] = {0}, got[2], g[2];
  int same = 1, products_ok = 1;
  for (int k = 0; k < steps; k++) {
    double loss;
    CHECK_OK(descent_objective_value_and_grad(obj, NULL, &loss));
    memcpy(g, obj->grad, sizeof g);
    if (k % every == 0) {
      double x = (double)theta[0];
      real d[2] = {(real)(2 + 8 * b * x * x), (real)(2 * b)};
      reference_h(h, d, 2, decay, k == 0);
    }
    reference_step(theta, h, g, 2, lr, mu);
    descent_step_info info;
    CHECK_OK(descent_optimizer_step_closure(opt, obj, NULL, &info));
    read_h(opt, 2, got);
    same &= memcmp(obj->params, theta, sizeof theta) == 0 && memcmp(got, h, sizeof h) == 0;
    /* a problem's exact diagonal: one Gauss-Newton product per column */
    products_ok &= info.product_evals == (k % every == 0 ? 2 : 0) && info.function_evals == 1 &&
                   info.gradient_evals == 1 && info.iterations == 1 && info.loss == loss;
  }
  CHECK_MSG(same, "Rosenbrock: the step is not theta - lr / (damping + h) g with h the running "
                  "Gauss-Newton diagonal");
  CHECK(products_ok);
  CHECK(descent_optimizer_evaluations(opt) == steps && descent_optimizer_products(opt) == 4 * 2);
  CHECK(descent_optimizer_steps(opt) == steps);
  descent_optimizer_free(opt);
  descent_objective_free(obj);
}

/* A network: h from the library's exact diagonal (one pass per class). */
static void test_formula_network(void) {
  const double lr = 0.05, mu = 0.01, decay = 0.5;
  const int every = 2, steps = 7;
  descent_net *net = make_net("dense(8), tanh, dense(3)");
  if (!net) return;
  descent_objective *obj = descent_net_objective(net);
  size_t n = obj->n_params;
  descent_optimizer *opt = NULL;
  CHECK_OK(descent_optimizer_create(&opt, "sdlm(damping=0.01, every=2, decay=0.5, samples=0)",
                                    "0.05", n));
  real *theta = calloc(n, sizeof *theta), *h = calloc(n, sizeof *h), *d = calloc(n, sizeof *d);
  real *g = calloc(n, sizeof *g), *got = calloc(n, sizeof *got);
  memcpy(theta, obj->params, n * sizeof *theta);
  int same = 1, counts = 1;
  double g2 = 0, gap = 0;
  for (int k = 0; k < steps && opt; k++) {
    descent_batch batch = batch_k(k);
    double loss;
    CHECK_OK(descent_objective_value_and_grad(obj, &batch, &loss));
    memcpy(g, obj->grad, n * sizeof *g);
    if (k % every == 0) {
      CHECK_OK(descent_objective_ggn_diagonal(obj, &batch, 0, 0, d));
      reference_h(h, d, n, decay, k == 0);
    }
    reference_step(theta, h, g, n, lr, mu);
    descent_step_info info;
    CHECK_OK(descent_optimizer_step_closure(opt, obj, &batch, &info));
    read_h(opt, n, got);
    same &=
        memcmp(obj->params, theta, n * sizeof *theta) == 0 && memcmp(got, h, n * sizeof *h) == 0;
    counts &= info.product_evals == (k % every == 0 ? 3 : 0) && info.function_evals == 1;
    if (k == 0) /* the first h is the diagonal itself; g^2 is another vector */
      for (size_t i = 0; i < n; i++) {
        g2 += (double)g[i] * g[i];
        gap += fabs((double)h[i] - (double)g[i] * g[i]);
      }
  }
  CHECK_MSG(same, "network: the step is not theta - lr / (damping + h) g");
  CHECK(counts);
  CHECK_MSG(gap > 0.5 * g2, "network: h is too close to g^2 (%.3g apart, |g|^2 %.3g)", gap, g2);
  /* 4 estimates (steps 0, 2, 4, 6) of 3 passes each */
  CHECK(descent_optimizer_evaluations(opt) == steps && descent_optimizer_products(opt) == 12);
  free(theta), free(h), free(d), free(g), free(got);
  descent_optimizer_free(opt);
  descent_net_free(net);
}

/* ---- not Adagrad --------------------------------------------------------------------- */

/* Near Rosenbrock's minimum (1, 1) g is about 1e-3 while the curvature is
   (802, 200): h must be the curvature, not a sum or mean of g^2. */
static void test_not_adagrad(void) {
  const int steps = 20;
  descent_objective *obj = NULL;
  descent_optimizer *opt = NULL;
  CHECK_OK(descent_problem_create(&obj, "rosenbrock"));
  CHECK_OK(
      descent_optimizer_create(&opt, "sdlm(damping=1, every=1, decay=0.1, samples=0)", "0.1", 2));
  if (!obj || !opt) return;
  obj->params[0] = (real)1.001;
  obj->params[1] = (real)1.002;
  double sum_g2[2] = {0}, h_ref[2] = {0};
  real h[2];
  for (int k = 0; k < steps; k++) {
    double x = (double)obj->params[0], d[2] = {2 + 800 * x * x, 200};
    for (int i = 0; i < 2; i++) h_ref[i] = k ? 0.9 * h_ref[i] + 0.1 * d[i] : d[i];
    CHECK_OK(descent_optimizer_step_closure(opt, obj, NULL, NULL));
    for (int i = 0; i < 2; i++) sum_g2[i] += (double)obj->grad[i] * obj->grad[i];
  }
  read_h(opt, 2, h);
  for (int i = 0; i < 2; i++) {
    CHECK_REL(h[i], h_ref[i], 1e-5);
    CHECK_MSG(h[i] > 1e5 * sum_g2[i] && h[i] > 1e5 * sum_g2[i] / steps,
              "h[%d] = %g is not far from Adagrad's sum of g^2 %g", i, (double)h[i], sum_g2[i]);
  }
  CHECK_REL(h[0], 802, 1e-2);
  CHECK_REL(h[1], 200, 1e-12);
  printf("near the minimum: h = (%.1f, %.1f), sum of g^2 = (%.2e, %.2e)\n", (double)h[0],
         (double)h[1], sum_g2[0], sum_g2[1]);
  descent_optimizer_free(opt);
  descent_objective_free(obj);
}

/* ---- Monte Carlo ------------------------------------------------------------------------ */

/* The first step's h is one estimate: its error against the exact diagonal,
   the root mean square over 8 seeds, falls by about 4 for 16 times the
   samples. */
static void test_monte_carlo(void) {
  descent_net *net = make_net("dense(8), tanh, dense(3)");
  if (!net) return;
  descent_objective *obj = descent_net_objective(net);
  size_t n = obj->n_params;
  descent_batch batch = batch_k(0);
  real *start = calloc(n, sizeof *start), *exact = calloc(n, sizeof *exact);
  real *h = calloc(n, sizeof *h), *first = calloc(n, sizeof *first);
  memcpy(start, obj->params, n * sizeof *start);
  double loss, norm = 0;
  CHECK_OK(descent_objective_value_and_grad(obj, &batch, &loss));
  CHECK_OK(descent_objective_ggn_diagonal(obj, &batch, 0, 0, exact));
  for (size_t i = 0; i < n; i++) norm += (double)exact[i] * exact[i];
  const int counts[3] = {16, 256, 4096};
  double err[3] = {0};
  int products_ok = 1;
  for (int a = 0; a < 3; a++)
    for (int seed = 1; seed <= 8; seed++) {
      char spec[128];
      snprintf(spec, sizeof spec, "sdlm(samples=%d, seed=%d)", counts[a], seed);
      descent_optimizer *opt = NULL;
      CHECK_OK(descent_optimizer_create(&opt, spec, NULL, n));
      if (!opt) return;
      memcpy(obj->params, start, n * sizeof *start);
      CHECK_OK(descent_optimizer_step_closure(opt, obj, &batch, NULL));
      read_h(opt, n, h);
      products_ok &= descent_optimizer_products(opt) == counts[a];
      double e = 0;
      for (size_t i = 0; i < n; i++) e += ((double)h[i] - exact[i]) * ((double)h[i] - exact[i]);
      err[a] += e / norm / 8;
      descent_optimizer_free(opt);
    }
  CHECK(products_ok);
  for (int a = 0; a < 3; a++) err[a] = sqrt(err[a]);
  for (int a = 1; a < 3; a++)
    CHECK_MSG(err[a] < err[a - 1] / 2.5 && err[a] > err[a - 1] / 6.4,
              "Monte-Carlo error %.3g at %d samples, %.3g at %d (expected a ratio near 4)",
              err[a - 1], counts[a - 1], err[a], counts[a]);
  CHECK(err[2] < 0.05);
  printf("Monte-Carlo h: relative error %.3f %.3f %.3f at 16, 256, 4096 samples\n", err[0], err[1],
         err[2]);

  /* The seed picks the draws: the same seed the same h, another another. */
  real *again = calloc(n, sizeof *again);
  for (int s = 0; s < 3; s++) {
    descent_optimizer *opt = NULL;
    CHECK_OK(descent_optimizer_create(&opt, s == 2 ? "sdlm(samples=4, seed=2)" : "sdlm(samples=4)",
                                      NULL, n));
    memcpy(obj->params, start, n * sizeof *start);
    CHECK_OK(descent_optimizer_step_closure(opt, obj, &batch, NULL));
    read_h(opt, n, s ? again : first);
    if (s == 1) CHECK(memcmp(first, again, n * sizeof *first) == 0);
    if (s == 2) CHECK(memcmp(first, again, n * sizeof *first) != 0);
    descent_optimizer_free(opt);
  }
  free(start), free(exact), free(h), free(first), free(again);
  descent_net_free(net);
}

/* A lab problem's Monte-Carlo diagonal is Hutchinson's z * (G z), which can
   fall below 0 where G is far from diagonal: at x = 0.1 Rosenbrock's
   z0 (G z)0 = 10 +- 40. The method counts such an estimate as 0 (decay=1:
   h is the latest estimate alone). */
static void test_hutchinson_clamped(void) {
  descent_objective *obj = NULL;
  descent_optimizer *opt = NULL;
  CHECK_OK(descent_problem_create(&obj, "rosenbrock"));
  CHECK_OK(descent_optimizer_create(&opt, "sdlm(lr=1e-12, every=1, decay=1, samples=1)", NULL, 2));
  if (!obj || !opt) return;
  obj->params[0] = (real)0.1;
  obj->params[1] = 0;
  int zero = 0, positive = 0, negative = 0;
  for (int k = 0; k < 32; k++) {
    real h[2];
    CHECK_OK(descent_optimizer_step_closure(opt, obj, NULL, NULL));
    read_h(opt, 2, h);
    zero += h[0] == 0;
    positive += h[0] > 40;
    negative += !(h[0] >= 0);
  }
  CHECK_MSG(zero > 0 && positive > 0 && negative == 0,
            "h[0] over 32 one-sample estimates: %d zero, %d near 50, %d negative", zero, positive,
            negative);
  descent_optimizer_free(opt);
  descent_objective_free(obj);
}

/* ---- saving and loading --------------------------------------------------------------------- */

/* A run with dropout and Monte-Carlo estimates, saved and loaded into a
   fresh optimizer after every step, against the same run uninterrupted. */
static void test_resume(void) {
  const char *spec = "sdlm(damping=0.05, every=2, decay=0.3, samples=2, seed=5)";
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
  CHECK_MSG(same, "saved and loaded after every step, the run differs");
  /* 9 steps, 5 estimates (0, 2, 4, 6, 8) of 2 samples */
  CHECK(descent_optimizer_evaluations(ob) == 9 && descent_optimizer_products(ob) == 10);

  /* Damaged blobs: refused whole, the state unchanged. */
  size_t size;
  unsigned char *blob = state_blob(ob, &size);
  unsigned char *bad = malloc(size);
  descent_optimizer *fresh = NULL;
  CHECK_OK(descent_optimizer_create(&fresh, spec, "0.02", n));
  memcpy(bad, blob, size);
  real minus = -1;
  memcpy(bad + size - 8 - n * sizeof(real), &minus, sizeof minus);
  reseal(bad, size);
  CHECK_FAILS(descent_optimizer_load_state(fresh, bad, size), DESCENT_EFORMAT,
              "curvature -1 of parameter 0");
  memcpy(bad, blob, size);
  bad[size - 8 - n * sizeof(real) - 16] ^= 1; /* the evaluations count */
  reseal(bad, size);
  CHECK_FAILS(descent_optimizer_load_state(fresh, bad, size), DESCENT_EFORMAT,
              "each step makes one evaluation");
  CHECK(descent_optimizer_evaluations(fresh) == 0 && descent_optimizer_products(fresh) == 0);
  CHECK_FAILS(descent_optimizer_load_state(fresh, blob, size - 1), DESCENT_EFORMAT, "");
  descent_optimizer *other = NULL;
  CHECK_OK(descent_optimizer_create(&other,
                                    "sdlm(damping=0.05, every=3, decay=0.3, samples=2, "
                                    "seed=5)",
                                    "0.02", n));
  CHECK_FAILS(descent_optimizer_load_state(other, blob, size), DESCENT_EINVAL, "every=3");
  descent_optimizer_free(other);
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
  CHECK_OK(descent_optimizer_create(&opt, "sdlm", NULL, 3));
  descent_optimizer_describe(opt, text, sizeof text);
  CHECK_MSG(strcmp(text, "sdlm = sdlm(damping=0.01, every=10, decay=0.1, samples=1, seed=1) | "
                         "lr(lr=0.002)") == 0,
            "%s", text);
  CHECK(descent_optimizer_is_method(opt) == 1 && descent_optimizer_full_batch(opt) == 0);
  double v = 0;
  CHECK_OK(descent_optimizer_hyperparameter(opt, "sdlm.damping", &v));
  CHECK(v == 0.01);
  CHECK_OK(descent_optimizer_hyperparameter(opt, "sdlm.every", &v));
  CHECK(v == 10);
  CHECK(descent_optimizer_hyperparameter_count(opt) == 7); /* 5 of sdlm, lr's lr and warmup */
  descent_optimizer_free(opt);
  CHECK_OK(descent_optimizer_create(&opt, "sdlm(samples=8) | lr(cosine(0.1, 100))", NULL, 3));
  CHECK(descent_optimizer_lr(opt) == 0.1);
  descent_optimizer_free(opt);

  static const struct {
    const char *spec, *needle;
  } bad[] = {
      {"sdlm(damping=0)", "sdlm(damping=0): out of range; valid values are (0, inf)"},
      {"sdlm(damping=-1)", "damping=-1): out of range"},
      {"sdlm(every=0)", "sdlm(every=0): out of range"},
      {"sdlm(every=2.5)", "sdlm(every=2.5): must be a whole number"},
      {"sdlm(decay=0)", "sdlm(decay=0): out of range; valid values are (0, 1]"},
      {"sdlm(decay=1.5)", "decay=1.5): out of range"},
      {"sdlm(samples=-1)", "samples=-1): out of range"},
      {"sdlm(seed=-1)", "seed=-1): out of range"},
      {"sdlm(mu=1)", "mu"},
      {"sdlm(0.1)", "name its arguments"},
      {"clip(1) | sdlm", "is a method"},
      {"sdlm | adam", "takes no transforms"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    opt = NULL;
    CHECK_FAILS(descent_optimizer_create(&opt, bad[i].spec, NULL, 3), DESCENT_EINVAL,
                bad[i].needle);
    CHECK(opt == NULL);
  }
}

/* An objective without a Gauss-Newton diagonal: its refusal comes through,
   the parameters and the optimizer untouched. */
static void check_refused(descent_optimizer *opt, descent_objective *obj,
                          const descent_batch *batch, int status, const char *needle) {
  size_t n = obj->n_params;
  real *before = calloc(n, sizeof *before);
  memcpy(before, obj->params, n * sizeof *before);
  CHECK_FAILS(descent_optimizer_step_closure(opt, obj, batch, NULL), status, needle);
  CHECK(strncmp(descent_last_error(), "sdlm: ", 6) == 0);
  CHECK(memcmp(before, obj->params, n * sizeof *before) == 0);
  CHECK(descent_optimizer_steps(opt) == 0 && descent_optimizer_products(opt) == 0);
  free(before);
}

static int mine_value_and_grad(descent_objective *obj, const descent_batch *b, double *loss) {
  (void)b;
  *loss = 0.5 * (double)obj->params[0] * obj->params[0];
  obj->grad[0] = obj->params[0];
  return DESCENT_OK;
}

static void test_refusals(void) {
  descent_net *net = make_net("dense(4), batchnorm, relu, dense(3)");
  if (!net) return;
  descent_objective *obj = descent_net_objective(net);
  descent_optimizer *opt = NULL;
  CHECK_OK(descent_optimizer_create(&opt, "sdlm", NULL, obj->n_params));
  descent_batch batch = batch_k(0);
  check_refused(opt, obj, &batch, DESCENT_ENOTSUP, "layer2.batchnorm (batchnorm) has parameters");
  descent_optimizer_free(opt);
  descent_net_free(net);

  descent_objective *saddle = NULL;
  CHECK_OK(descent_problem_create(&saddle, "saddle"));
  CHECK_OK(descent_optimizer_create(&opt, "sdlm", NULL, 2));
  check_refused(opt, saddle, NULL, DESCENT_ENOTSUP, "not a sum of squares");
  descent_optimizer_free(opt);
  descent_objective_free(saddle);

  static const descent_objective_ops ops = {.kind = "mine", .value_and_grad = mine_value_and_grad};
  real theta = 1, grad = 0;
  descent_objective mine = {.ops = &ops, .n_params = 1, .params = &theta, .grad = &grad};
  CHECK_OK(descent_optimizer_create(&opt, "sdlm", NULL, 1));
  check_refused(opt, &mine, NULL, DESCENT_ENOTSUP, "'mine' offers no Gauss-Newton diagonal");
  descent_optimizer_free(opt);
}

int main(void) {
  descent_rng rng;
  descent_rng_seed(&rng, 3);
  for (size_t i = 0; i < sizeof inputs / sizeof *inputs; i++)
    inputs[i] = (real)(2 * descent_rng_uniform(&rng) - 1);
  for (size_t i = 0; i < sizeof labels / sizeof *labels; i++) labels[i] = (int32_t)(i * 7 % 3);
  test_formula_rosenbrock();
  test_formula_network();
  test_not_adagrad();
  test_monte_carlo();
  test_hutchinson_clamped();
  test_resume();
  test_spec();
  test_refusals();
  return check_report();
}
