/*
 * test_kfac.c - K-FAC (src/optim/kfac.c, src/nn/network_kfac.c).
 *
 *  - The factors: on one dense layer and a tiny batch, A = mean [a 1][a 1]^T
 *    and G = mean d d^T with d = softmax - onehot(label) (fisher=empirical),
 *    as the test builds them from its own forward pass; the running
 *    average min(1 - 1/k, decay).
 *  - Conv layers (KFC): A over the patches (the test's own im2col, in the
 *    weights' order) at every position, G summed over the positions of
 *    the output gradients, against the test's forward pass.
 *  - The drawn labels: the statistics' G averaged over many seeds tends to
 *    the exact Fisher factor mean(diag(p) - p p^T), error ~ 1/sqrt(draws).
 *  - Exactness: for one dense layer and one example, A (x) G is the Fisher
 *    g g^T (g the gradient), so the step solves (F + the factored
 *    damping's terms) u = g: compared with that matrix built from the
 *    gradient and solved by elimination.
 *  - The pi correction's formula, the Cholesky inverse (LAPACK) and the
 *    inverses they give; inverses refreshed every inv_every steps only,
 *    statistics every stat_every.
 *  - Resume: saved and loaded through the state blob after every step,
 *    with dropout, the same bits as the uninterrupted run; the network's
 *    RNG untouched by the statistics.
 *  - Refusals: an objective that is not a network, a step without a batch,
 *    hyperparameters out of range, damaged state, a state of another
 *    network.
 */
#include "check.h"
#include "descent.h"
#include "internal.h"
#include "nn/network_kfac.h"
#include "optim/optimizer.h"

#include <stdlib.h>
#include <string.h>

#ifdef DESCENT_DOUBLE
#define TOL 1e-10
#else
#define TOL 2e-4
#endif

#define IN  4
#define OUT 3
#define IN1 (IN + 1)

static descent_net *make_net(const char *spec, size_t in, size_t max_batch) {
  descent_net *net = NULL;
  descent_shape shape = {1, {in}};
  CHECK_OK(descent_net_create(&net, spec, &shape, DESCENT_LOSS_SOFTMAX_XENT, max_batch, 3));
  return net;
}

static void fill_batch(descent_real *x, int32_t *labels, size_t n, size_t in, size_t classes,
                       uint64_t seed) {
  descent_rng rng;
  descent_rng_seed(&rng, seed);
  for (size_t i = 0; i < n * in; i++) x[i] = (descent_real)descent_rng_normal(&rng);
  for (size_t i = 0; i < n; i++) labels[i] = (int32_t)descent_rng_below(&rng, classes);
}

static descent_optimizer *make_opt(const char *spec, size_t n) {
  descent_optimizer *opt = NULL;
  CHECK_OK(descent_optimizer_create(&opt, spec, NULL, n));
  return opt;
}

/* The factors of layer k of opt's state (copies of pointers). */
static int factors(const descent_optimizer *opt, size_t k, const double **a, const double **g,
                   const double **ai, const double **gi) {
  return kfac_factors(opt->method_state, k, a, g, ai, gi);
}

/* The softmax of the one-layer network's logits for example i, and its
   inputs with a 1 appended. */
static void forward_one(const descent_real *params, const descent_real *x, double *a1, double *p) {
  const descent_real *w = params, *b = params + OUT * IN;
  double z[OUT], max = -1e300, sum = 0;
  for (size_t o = 0; o < OUT; o++) {
    z[o] = b[o];
    for (size_t j = 0; j < IN; j++) z[o] += (double)w[o * IN + j] * x[j];
    max = fmax(max, z[o]);
  }
  for (size_t o = 0; o < OUT; o++) sum += exp(z[o] - max);
  for (size_t o = 0; o < OUT; o++) p[o] = exp(z[o] - max) / sum;
  for (size_t j = 0; j < IN; j++) a1[j] = x[j];
  a1[IN] = 1;
}

/* A and G of a batch, as K-FAC defines them, from the test's forward pass. */
static void batch_factors(const descent_real *params, const descent_real *x, const int32_t *labels,
                          size_t n, double *a, double *g) {
  memset(a, 0, IN1 * IN1 * sizeof *a);
  memset(g, 0, OUT * OUT * sizeof *g);
  for (size_t i = 0; i < n; i++) {
    double a1[IN1], p[OUT], d[OUT];
    forward_one(params, x + i * IN, a1, p);
    for (size_t o = 0; o < OUT; o++) d[o] = p[o] - (o == (size_t)labels[i]);
    for (size_t r = 0; r < IN1; r++)
      for (size_t c = 0; c < IN1; c++) a[r * IN1 + c] += a1[r] * a1[c] / (double)n;
    for (size_t r = 0; r < OUT; r++)
      for (size_t c = 0; c < OUT; c++) g[r * OUT + c] += d[r] * d[c] / (double)n;
  }
}

static double max_rel(const double *a, const double *b, size_t count) {
  double worst = 0, scale = 0;
  for (size_t i = 0; i < count; i++) scale = fmax(scale, fabs(b[i]));
  for (size_t i = 0; i < count; i++) worst = fmax(worst, fabs(a[i] - b[i]) / scale);
  return worst;
}

/* ---- the factors --------------------------------------------------------------------- */

static void test_factors(void) {
  enum { N = 5 };
  descent_net *net = make_net("dense(3)", IN, N);
  descent_objective *obj = descent_net_objective(net);
  descent_optimizer *opt =
      make_opt("kfac(fisher=empirical, decay=0.75, kl_clip=0, lr=0.1)", obj->n_params);
  descent_real x[2][N * IN];
  int32_t labels[2][N];
  double want_a[IN1 * IN1], want_g[OUT * OUT], a2[IN1 * IN1], g2[OUT * OUT];
  for (int step = 0; step < 2; step++) {
    fill_batch(x[step], labels[step], N, IN, OUT, 10 + (uint64_t)step);
    descent_batch batch = {.n = N, .x = x[step], .labels = labels[step]};
    if (step == 0)
      batch_factors(obj->params, x[0], labels[0], N, want_a, want_g);
    else
      batch_factors(obj->params, x[1], labels[1], N, a2, g2);
    descent_step_info info;
    CHECK_OK(descent_optimizer_step_closure(opt, obj, &batch, &info));
    CHECK(info.function_evals == 1 && info.product_evals == 1);
    if (step == 1) { /* the second estimate: min(1 - 1/2, 0.75) = 0.5 of the old */
      for (size_t i = 0; i < IN1 * IN1; i++) want_a[i] = 0.5 * want_a[i] + 0.5 * a2[i];
      for (size_t i = 0; i < OUT * OUT; i++) want_g[i] = 0.5 * want_g[i] + 0.5 * g2[i];
    }
    const double *a, *g, *ai, *gi;
    CHECK(factors(opt, 0, &a, &g, &ai, &gi));
    CHECK_MSG(max_rel(a, want_a, IN1 * IN1) < TOL, "step %d: A differs by %g", step,
              max_rel(a, want_a, IN1 * IN1));
    CHECK_MSG(max_rel(g, want_g, OUT * OUT) < TOL, "step %d: G differs by %g", step,
              max_rel(g, want_g, OUT * OUT));
  }
  CHECK(descent_optimizer_evaluations(opt) == 2 && descent_optimizer_products(opt) == 2);
  descent_optimizer_free(opt);
  descent_net_free(net);
}

/* ---- the drawn labels ------------------------------------------------------------------ */

typedef struct fisher_sum {
  double g[OUT * OUT];
} fisher_sum;

static void add_g(void *user, size_t k, const descent_real *a_sq, size_t a_rows,
                  const descent_real *g_sq, size_t g_rows) {
  fisher_sum *s = user;
  CHECK(k == 0 && a_rows == g_rows && a_sq[IN1 * IN1 - 1] == (descent_real)a_rows);
  for (size_t i = 0; i < OUT * OUT; i++) s->g[i] += (double)g_sq[i] / (double)g_rows;
}

static void test_drawn_labels(void) {
  enum { N = 4 };
  descent_net *net = make_net("dense(3)", IN, N);
  descent_objective *obj = descent_net_objective(net);
  descent_real x[N * IN];
  int32_t labels[N];
  fill_batch(x, labels, N, IN, OUT, 21);
  descent_batch batch = {.n = N, .x = x, .labels = labels};
  double loss;
  CHECK_OK(descent_objective_value_and_grad(obj, &batch, &loss));
  descent_rng before, after;
  descent_net_get_rng(net, &before);
  descent_real a_sq[IN1 * IN1], g_sq[OUT * OUT];
  /* The exact factor: mean over the examples of diag(p) - p p^T. */
  double exact[OUT * OUT] = {0};
  for (size_t i = 0; i < N; i++) {
    double a1[IN1], p[OUT];
    forward_one(obj->params, x + i * IN, a1, p);
    for (size_t r = 0; r < OUT; r++)
      for (size_t c = 0; c < OUT; c++) exact[r * OUT + c] += ((r == c) * p[r] - p[r] * p[c]) / N;
  }
  double err[2];
  size_t draws[2] = {100, 10000};
  for (int t = 0; t < 2; t++) {
    fisher_sum s = {{0}};
    for (size_t d = 0; d < draws[t]; d++)
      CHECK_OK(net_kfac_statistics(net, &batch, 0, 1000 + d, a_sq, g_sq, add_g, &s));
    for (size_t i = 0; i < OUT * OUT; i++) s.g[i] /= (double)draws[t];
    err[t] = max_rel(s.g, exact, OUT * OUT);
  }
  /* 100 times the draws: about a tenth of the error (1/sqrt). */
  CHECK_MSG(err[1] < 0.05 && err[1] < err[0] / 3, "drawn Fisher errors %g (100), %g (10000)",
            err[0], err[1]);
  /* The same seed draws the same labels; the network's RNG is not moved. */
  fisher_sum s1 = {{0}}, s2 = {{0}};
  CHECK_OK(net_kfac_statistics(net, &batch, 0, 7, a_sq, g_sq, add_g, &s1));
  CHECK_OK(net_kfac_statistics(net, &batch, 0, 7, a_sq, g_sq, add_g, &s2));
  CHECK(memcmp(s1.g, s2.g, sizeof s1.g) == 0);
  descent_net_get_rng(net, &after);
  CHECK(memcmp(&before, &after, sizeof before) == 0);
  /* Only a network has them; another batch than the step's is refused. */
  CHECK(net_of_objective(obj) == net);
  descent_batch other = {.n = N - 1, .x = x, .labels = labels};
  CHECK_FAILS(net_kfac_statistics(net, &other, 0, 7, a_sq, g_sq, add_g, &s1), DESCENT_EINVAL,
              "the step's had 4");
  descent_net_free(net);
}

/* ---- conv layers (KFC) ---------------------------------------------------------------------- */

/* conv(2, 3, pad=1) on 1 x 4 x 4 inputs, flatten, dense(3): the test's own
   forward pass, patches in the weights' order (channel, kernel row,
   kernel column), then A and G of both layers. */
enum { CO = 2, SIDE = 4, POS = SIDE * SIDE, PATCH = 9, FLAT = CO * POS };

static void conv_patch(const descent_real *x, size_t t, double *patch) {
  size_t r = t / SIDE, c = t % SIDE, k = 0;
  for (size_t kr = 0; kr < 3; kr++)
    for (size_t kc = 0; kc < 3; kc++, k++) {
      long rr = (long)(r + kr) - 1, cc = (long)(c + kc) - 1;
      int inside = rr >= 0 && rr < SIDE && cc >= 0 && cc < SIDE;
      patch[k] = inside ? (double)x[rr * SIDE + cc] : 0;
    }
  patch[PATCH] = 1;
}

static void test_conv_factors(void) {
  enum { N = 3 };
  descent_net *net = NULL;
  descent_shape shape = {3, {1, SIDE, SIDE}};
  CHECK_OK(descent_net_create(&net, "conv(2, 3, pad=1), flatten, dense(3)", &shape,
                              DESCENT_LOSS_SOFTMAX_XENT, N, 4));
  if (!net) return;
  descent_objective *obj = descent_net_objective(net);
  CHECK(obj->n_params == CO * PATCH + CO + OUT * FLAT + OUT);
  descent_optimizer *opt = make_opt("kfac(fisher=empirical, lr=0.1)", obj->n_params);
  descent_real x[N * POS];
  int32_t labels[N];
  fill_batch(x, labels, N, POS, OUT, 44);
  const descent_real *wc = obj->params, *bc = wc + CO * PATCH;
  const descent_real *wd = bc + CO, *bd = wd + OUT * FLAT;
  double a_conv[(PATCH + 1) * (PATCH + 1)] = {0}, g_conv[CO * CO] = {0};
  static double a_dense[(FLAT + 1) * (FLAT + 1)];
  double g_dense[OUT * OUT] = {0};
  memset(a_dense, 0, sizeof a_dense);
  for (size_t i = 0; i < N; i++) {
    double y[FLAT + 1], patch[POS][PATCH + 1];
    for (size_t t = 0; t < POS; t++) {
      conv_patch(x + i * POS, t, patch[t]);
      for (size_t o = 0; o < CO; o++) {
        double sum = bc[o];
        for (size_t k = 0; k < PATCH; k++) sum += (double)wc[o * PATCH + k] * patch[t][k];
        y[o * POS + t] = sum;
      }
    }
    y[FLAT] = 1;
    double z[OUT], max = -1e300, total = 0, d[OUT];
    for (size_t o = 0; o < OUT; o++) {
      z[o] = bd[o];
      for (size_t j = 0; j < FLAT; j++) z[o] += (double)wd[o * FLAT + j] * y[j];
      max = fmax(max, z[o]);
    }
    for (size_t o = 0; o < OUT; o++) total += exp(z[o] - max);
    for (size_t o = 0; o < OUT; o++) d[o] = exp(z[o] - max) / total - (o == (size_t)labels[i]);
    for (size_t r = 0; r <= FLAT; r++)
      for (size_t c = 0; c <= FLAT; c++) a_dense[r * (FLAT + 1) + c] += y[r] * y[c] / N;
    for (size_t r = 0; r < OUT; r++)
      for (size_t c = 0; c < OUT; c++) g_dense[r * OUT + c] += d[r] * d[c] / N;
    /* The conv layer's output gradient, W^T d, at each position. */
    for (size_t t = 0; t < POS; t++) {
      double delta[CO] = {0};
      for (size_t o = 0; o < CO; o++)
        for (size_t k = 0; k < OUT; k++) delta[o] += d[k] * wd[k * FLAT + o * POS + t];
      for (size_t r = 0; r < CO; r++)
        for (size_t c = 0; c < CO; c++) g_conv[r * CO + c] += delta[r] * delta[c] / N;
      for (size_t r = 0; r <= PATCH; r++)
        for (size_t c = 0; c <= PATCH; c++)
          a_conv[r * (PATCH + 1) + c] += patch[t][r] * patch[t][c] / (N * POS);
    }
  }
  descent_batch batch = {.n = N, .x = x, .labels = labels};
  CHECK_OK(descent_optimizer_step_closure(opt, obj, &batch, NULL));
  const double *a, *g, *ai, *gi;
  CHECK(factors(opt, 0, &a, &g, &ai, &gi) && factors(opt, 1, &a, &g, &ai, &gi));
  CHECK(!factors(opt, 2, &a, &g, &ai, &gi));
  factors(opt, 0, &a, &g, &ai, &gi);
  CHECK_MSG(max_rel(a, a_conv, (PATCH + 1) * (PATCH + 1)) < TOL, "conv A differs by %g",
            max_rel(a, a_conv, (PATCH + 1) * (PATCH + 1)));
  CHECK_MSG(max_rel(g, g_conv, CO * CO) < TOL, "conv G differs by %g", max_rel(g, g_conv, CO * CO));
  factors(opt, 1, &a, &g, &ai, &gi);
  CHECK_MSG(max_rel(a, a_dense, (FLAT + 1) * (FLAT + 1)) < TOL, "dense A differs by %g",
            max_rel(a, a_dense, (FLAT + 1) * (FLAT + 1)));
  CHECK_MSG(max_rel(g, g_dense, OUT * OUT) < TOL, "dense G differs by %g",
            max_rel(g, g_dense, OUT * OUT));
  descent_optimizer_free(opt);
  descent_net_free(net);
}

/* ---- exactness on one example ------------------------------------------------------------ */

/* Solves m x = b (size n) by elimination with partial pivoting. */
static void solve(double *m, double *b, size_t n) {
  for (size_t c = 0; c < n; c++) {
    size_t piv = c;
    for (size_t r = c + 1; r < n; r++)
      if (fabs(m[r * n + c]) > fabs(m[piv * n + c])) piv = r;
    for (size_t k = 0; k < n; k++) {
      double t = m[c * n + k];
      m[c * n + k] = m[piv * n + k], m[piv * n + k] = t;
    }
    double t = b[c];
    b[c] = b[piv], b[piv] = t;
    for (size_t r = c + 1; r < n; r++) {
      double f = m[r * n + c] / m[c * n + c];
      for (size_t k = c; k < n; k++) m[r * n + k] -= f * m[c * n + k];
      b[r] -= f * b[c];
    }
  }
  for (size_t c = n; c-- > 0;) {
    for (size_t k = c + 1; k < n; k++) b[c] -= m[c * n + k] * b[k];
    b[c] /= m[c * n + c];
  }
}

static void test_exact_one_example(void) {
  enum { P = OUT * IN1 };
  const double lambda = 0.05;
  descent_net *net = make_net("dense(3)", IN, 1);
  descent_objective *obj = descent_net_objective(net);
  descent_optimizer *opt =
      make_opt("kfac(fisher=empirical, damping=0.05, momentum=0, kl_clip=0, lr=1)", obj->n_params);
  descent_real x[IN];
  int32_t label;
  fill_batch(x, &label, 1, IN, OUT, 33);
  descent_batch batch = {.n = 1, .x = x, .labels = &label};
  descent_real before[OUT * IN1];
  memcpy(before, obj->params, sizeof before);
  CHECK_OK(descent_optimizer_step_closure(opt, obj, &batch, NULL));
  /* The gradient as a vector over (o, j), j = IN the bias. */
  double g[P];
  for (size_t o = 0; o < OUT; o++) {
    for (size_t j = 0; j < IN; j++) g[o * IN1 + j] = obj->grad[o * IN + j];
    g[o * IN1 + IN] = obj->grad[OUT * IN + o];
  }
  /* The factors from the test's forward pass: A = a a^T, G = d d^T; F = g g^T. */
  double a[IN1 * IN1], gf[OUT * OUT];
  batch_factors(before, x, &label, 1, a, gf);
  double pi = kfac_pi(a, IN1, gf, OUT), s = sqrt(lambda);
  CHECK_REL(pi, sqrt((a[0] + a[6] + a[12] + a[18] + a[24]) / IN1 / ((gf[0] + gf[4] + gf[8]) / OUT)),
            1e-12);
  /* (A + pi s I) (x) (G + s/pi I) = F + pi s (I (x) G) + s/pi (A (x) I) + lambda I, with F built
     from the gradient, not from A and G. */
  static double m[P * P];
  for (size_t o = 0; o < OUT; o++)
    for (size_t j = 0; j < IN1; j++)
      for (size_t o2 = 0; o2 < OUT; o2++)
        for (size_t j2 = 0; j2 < IN1; j2++) {
          size_t r = o * IN1 + j, c = o2 * IN1 + j2;
          m[r * P + c] = g[r] * g[c] + pi * s * (j == j2) * gf[o * OUT + o2] +
                         s / pi * (o == o2) * a[j * IN1 + j2] + lambda * (r == c);
        }
  double u[P];
  memcpy(u, g, sizeof u);
  solve(m, u, P);
  double got[P];
  for (size_t o = 0; o < OUT; o++) {
    for (size_t j = 0; j < IN; j++) got[o * IN1 + j] = before[o * IN + j] - obj->params[o * IN + j];
    got[o * IN1 + IN] = before[OUT * IN + o] - obj->params[OUT * IN + o];
  }
  CHECK_MSG(max_rel(got, u, P) < TOL * 10, "K-FAC step differs from the damped Fisher's by %g",
            max_rel(got, u, P));
  descent_optimizer_free(opt);
  descent_net_free(net);
}

/* ---- pi, and the refresh schedule ---------------------------------------------------------- */

static void test_pi(void) {
  double a[9] = {1, 0.5, 0, 0.5, 2, 0, 0, 0, 3}, g[4] = {8, 1, 1, 0};
  CHECK_REL(kfac_pi(a, 3, g, 2), sqrt(2.0 / 4.0), 1e-15);
  double zero[4] = {0};
  CHECK(kfac_pi(a, 3, zero, 2) == 1 && kfac_pi(zero, 2, g, 2) == 1);
  /* The Cholesky inverse (LAPACK): a's inverse, both triangles; refusal of
     a matrix that is not positive definite. */
  double inv[9];
  memcpy(inv, a, sizeof inv);
  CHECK_OK(descent_spd_inverse(3, inv));
  double worst = 0;
  for (size_t r = 0; r < 3; r++)
    for (size_t c = 0; c < 3; c++) {
      double sum = 0;
      for (size_t t = 0; t < 3; t++) sum += inv[r * 3 + t] * a[t * 3 + c];
      worst = fmax(worst, fabs(sum - (r == c)));
    }
  CHECK_MSG(worst < 1e-14 && inv[1] == inv[3] && inv[2] == inv[6], "inverse off by %g", worst);
  CHECK_FAILS(descent_spd_inverse(2, g), DESCENT_EDIVERGED, "not positive definite");
  /* A factor that is not finite (an input of 1e30 squared in float) is
     refused, not inverted into infinities and NaN. */
  const double bad[][4] = {
      {INFINITY, 0, 0, 1}, {1, 0, 0, INFINITY}, {2, NAN, NAN, 2}, {2, INFINITY, INFINITY, 2}};
  for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
    double m[4];
    memcpy(m, bad[k], sizeof m);
    CHECK_FAILS(descent_spd_inverse(2, m), DESCENT_EDIVERGED, "not finite");
  }
}

static void test_schedule(void) {
  enum { N = 6, STEPS = 8 };
  descent_net *net = make_net("dense(5), tanh, dense(3)", IN, N);
  descent_objective *obj = descent_net_objective(net);
  descent_optimizer *opt =
      make_opt("kfac(inv_every=3, stat_every=2, damping=0.01, lr=0.05)", obj->n_params);
  double old_a[IN1 * IN1], old_ai[IN1 * IN1];
  for (int k = 0; k < STEPS; k++) {
    descent_real x[N * IN];
    int32_t labels[N];
    fill_batch(x, labels, N, IN, OUT, 50 + (uint64_t)k);
    descent_batch batch = {.n = N, .x = x, .labels = labels};
    descent_step_info info;
    CHECK_OK(descent_optimizer_step_closure(opt, obj, &batch, &info));
    CHECK(info.product_evals == (k % 2 == 0));
    const double *a, *g, *ai, *gi;
    CHECK(factors(opt, 0, &a, &g, &ai, &gi));
    if (k > 0) {
      int a_moved = memcmp(a, old_a, sizeof old_a) != 0;
      int inverse_moved = memcmp(ai, old_ai, sizeof old_ai) != 0;
      CHECK_MSG(a_moved == (k % 2 == 0), "step %d: A %s", k, a_moved ? "moved" : "did not move");
      /* Inverses at steps 0, 3, 6 (step 3 has no new statistics, but
         step 2's). */
      CHECK_MSG(inverse_moved == (k % 3 == 0), "step %d: the inverse %s", k,
                inverse_moved ? "moved" : "did not move");
    }
    /* The inverse is that of A + pi sqrt(lambda) I at its refresh. */
    if (k % 3 == 0) {
      const double *g1, *a1;
      const double *unused1, *unused2;
      CHECK(factors(opt, 0, &a1, &g1, &unused1, &unused2));
      double pi = kfac_pi(a1, IN1, g1, 5), worst = 0; /* layer 1 has 5 outputs */
      for (size_t r = 0; r < IN1; r++)
        for (size_t c = 0; c < IN1; c++) {
          double sum = 0;
          for (size_t t = 0; t < IN1; t++)
            sum += ai[r * IN1 + t] * (a1[t * IN1 + c] + (t == c) * pi * 0.1);
          worst = fmax(worst, fabs(sum - (r == c)));
        }
      CHECK_MSG(worst < 1e-9, "step %d: inverse times (A + pi sqrt(lambda) I) is off by %g", k,
                worst);
    }
    memcpy(old_a, a, sizeof old_a);
    memcpy(old_ai, ai, sizeof old_ai);
  }
  CHECK(descent_optimizer_products(opt) == STEPS / 2);
  descent_optimizer_free(opt);
  descent_net_free(net);
}

/* ---- resume -------------------------------------------------------------------------------- */

static void test_resume(void) {
  enum { N = 8, STEPS = 9 };
  const char *spec = "kfac(inv_every=4, damping=0.01, lr=0.05, seed=5)";
  const char *model = "dense(6), relu, dropout(0.25), dense(3)";
  descent_net *na = make_net(model, IN, N), *nb = make_net(model, IN, N);
  descent_objective *a = descent_net_objective(na), *b = descent_net_objective(nb);
  descent_optimizer *oa = make_opt(spec, a->n_params), *ob = make_opt(spec, b->n_params);
  int same = 1;
  for (int k = 0; k < STEPS && same; k++) {
    descent_real x[N * IN];
    int32_t labels[N];
    fill_batch(x, labels, N, IN, OUT, 70 + (uint64_t)k);
    descent_batch batch = {.n = N, .x = x, .labels = labels};
    CHECK_OK(descent_optimizer_step_closure(oa, a, &batch, NULL));
    CHECK_OK(descent_optimizer_step_closure(ob, b, &batch, NULL));
    size_t size = descent_optimizer_state_size(ob);
    unsigned char *blob = malloc(size);
    CHECK_OK(descent_optimizer_save_state(ob, blob, size));
    descent_optimizer_free(ob);
    ob = make_opt(spec, b->n_params);
    CHECK_OK(descent_optimizer_load_state(ob, blob, size));
    free(blob);
    same = memcmp(a->params, b->params, a->n_params * sizeof *a->params) == 0;
  }
  CHECK_MSG(same, "saved and loaded after every step, the run differs");
  CHECK(descent_optimizer_evaluations(ob) == STEPS && descent_optimizer_products(ob) == STEPS);

  /* The statistics leave the network's RNG as the step's evaluation left it:
     a kfac step moves it as much as one value_and_grad. */
  descent_net *nc = make_net(model, IN, N);
  descent_objective *c = descent_net_objective(nc);
  descent_real x[N * IN];
  int32_t labels[N];
  fill_batch(x, labels, N, IN, OUT, 99);
  descent_batch batch = {.n = N, .x = x, .labels = labels};
  descent_rng start = {{1, 2, 3, 4}}, plain, after;
  descent_net_set_rng(nc, &start);
  descent_net_set_rng(na, &start);
  double loss;
  CHECK_OK(descent_objective_value_and_grad(c, &batch, &loss));
  descent_net_get_rng(nc, &plain);
  CHECK_OK(descent_optimizer_step_closure(oa, a, &batch, NULL));
  descent_net_get_rng(na, &after);
  CHECK(memcmp(&plain, &after, sizeof plain) == 0 && memcmp(&start, &after, sizeof start) != 0);

  /* A state of other dense layers (the same parameter count) is refused
     at the step, the parameters untouched. */
  descent_net *nd =
      make_net("dense(6, bias=0), relu, dense(3, bias=0), relu, dense(3, bias=0)", IN, N);
  descent_objective *d = descent_net_objective(nd);
  CHECK(d->n_params == a->n_params);
  size_t size = descent_optimizer_state_size(oa);
  unsigned char *blob = malloc(size);
  CHECK_OK(descent_optimizer_save_state(oa, blob, size));
  descent_optimizer *od = make_opt(spec, d->n_params);
  CHECK_OK(descent_optimizer_load_state(od, blob, size));
  descent_real kept = d->params[0];
  CHECK_FAILS(descent_optimizer_step_closure(od, d, &batch, NULL), DESCENT_ESHAPE,
              "not this network's");
  CHECK(d->params[0] == kept);
  /* Damaged method bytes (the blob's last part): truncated, a layer
     beyond the parameters; the state is left as it was. */
  const method_def *kfac = method_find("kfac");
  size_t own = kfac->state_bytes(oa->method_state);
  unsigned char *mine = blob + size - 8 - own; /* before the checksum */
  CHECK_FAILS(kfac->load(od->method_state, od->method_hp, mine, own - 1), DESCENT_EFORMAT,
              "kfac state");
  unsigned char far[8] = {0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0};
  memcpy(mine + 40 + 24, far, 8); /* the first layer's offset */
  CHECK_FAILS(kfac->load(od->method_state, od->method_hp, mine, own), DESCENT_EFORMAT, "corrupted");
  free(blob);
  descent_optimizer_free(od);
  descent_net_free(nd);
  descent_net_free(nc);
  descent_optimizer_free(oa);
  descent_optimizer_free(ob);
  descent_net_free(na);
  descent_net_free(nb);
}

/* ---- refusals ------------------------------------------------------------------------------- */

static int quadratic(descent_objective *obj, const descent_batch *batch, double *loss) {
  (void)batch;
  *loss = 0;
  for (size_t i = 0; i < obj->n_params; i++) {
    *loss += 0.5 * obj->params[i] * obj->params[i];
    obj->grad[i] = obj->params[i];
  }
  return DESCENT_OK;
}

static void test_refusals(void) {
  descent_objective_ops ops = {.kind = "quadratic", .value_and_grad = quadratic};
  descent_real theta[3] = {1, 2, 3}, grad[3];
  descent_objective q = {.ops = &ops, .n_params = 3, .params = theta, .grad = grad};
  descent_optimizer *opt = make_opt("kfac", 3);
  CHECK_FAILS(descent_optimizer_step_closure(opt, &q, NULL, NULL), DESCENT_ENOTSUP,
              "kfac needs a descent_net objective");
  CHECK(theta[0] == 1);
  descent_optimizer_free(opt);

  descent_net *net = make_net("dense(3)", IN, 4);
  descent_objective *obj = descent_net_objective(net);
  opt = make_opt("kfac", obj->n_params);
  CHECK_FAILS(descent_optimizer_step_closure(opt, obj, NULL, NULL), DESCENT_EINVAL,
              "the step has no batch");
  char text[512];
  descent_optimizer_describe(opt, text, sizeof text);
  CHECK_MSG(strstr(text, "kfac(damping=0.1, decay=0.95, inv_every=10, stat_every=1, "
                         "momentum=0.9, kl_clip=0.001, weight_decay=0, seed=0, fisher=true)"),
            "%s", text);
  double v;
  CHECK_OK(descent_optimizer_hyperparameter(opt, "kfac.inv_every", &v));
  CHECK(v == 10);
  descent_optimizer_free(opt);

  const char *bad[][2] = {
      {"kfac(damping=0)", "damping"},
      {"kfac(decay=1)", "decay"},
      {"kfac(inv_every=0)", "inv_every"},
      {"kfac(stat_every=1.5)", "whole number"},
      {"kfac(momentum=1)", "momentum"},
      {"kfac(kl_clip=-1)", "kl_clip"},
      {"kfac(fisher=emp)", "valid values are true, empirical"},
      {"kfac | adam", "only lr(RATE) may follow"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    descent_optimizer *o = NULL;
    CHECK_FAILS(descent_optimizer_create(&o, bad[i][0], NULL, 3), DESCENT_EINVAL, bad[i][1]);
  }
  /* A layer too wide for its factors (50000 x 50000 doubles, 20 GB, four
     times over) is refused before anything is allocated, naming it. */
  descent_net *wide = make_net("dense(50000), dense(3)", IN, 4);
  descent_objective *w = descent_net_objective(wide);
  descent_real xw[4 * IN];
  int32_t lw[4];
  fill_batch(xw, lw, 4, IN, OUT, 7);
  descent_batch bw = {.n = 4, .x = xw, .labels = lw};
  opt = make_opt("kfac", w->n_params);
  descent_real first = w->params[0];
  CHECK_FAILS(descent_optimizer_step_closure(opt, w, &bw, NULL), DESCENT_ERANGE,
              "kfac: dense or conv layer 1 (4 inputs and a bias, 50000 outputs) needs a 50000 x "
              "50000 factor");
  CHECK(w->params[0] == first);
  descent_optimizer_free(opt);
  descent_net_free(wide);

  opt = make_opt("kfac", obj->n_params);
  unsigned char junk[40] = {0};
  junk[32] = 9; /* flags beyond 7 */
  CHECK_FAILS(opt->method->load(opt->method_state, opt->method_hp, junk, sizeof junk),
              DESCENT_EFORMAT, "kfac state: corrupted");
  CHECK_FAILS(opt->method->load(opt->method_state, opt->method_hp, junk, 12), DESCENT_EFORMAT,
              "truncated");
  descent_optimizer_free(opt);
  descent_net_free(net);
}

int main(void) {
  test_factors();
  test_drawn_labels();
  test_conv_factors();
  test_exact_one_example();
  test_pi();
  test_schedule();
  test_resume();
  test_refusals();
  return check_report();
}
