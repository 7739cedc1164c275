/*
 * test_noise.c - per-example gradients and the gradient-noise statistics.
 *
 * Per-example gradients of networks (descent_objective_example_gradients):
 * |g_i|^2 and g_i . v against each example's gradient computed alone (a
 * batch of that one example through value_and_grad), for MLPs (dense,
 * relu, tanh, sigmoid, both losses) and CNNs (conv with and without bias,
 * stride, maxpool, avgpool, flatten). Dropout draws another mask for a
 * batch of one, so it is left out of that comparison; with it and with
 * batch norm (whose per-example terms are not any one example's gradient)
 * the checks are the identities every definition must meet: the mean of
 * g_i . v is g . v, dot is linear in v, and |g_i|^2 is the sum of the
 * squares of g_i's coordinates read through dot with the unit vectors. No
 * side effects: the step's gradient, RNG and running statistics stay.
 * The lab's least squares: closed forms against brute force.
 * descent_noise_compute against the formulas written on explicit vectors,
 * and against Cockpit's own expressions (its per-example gradients being
 * BackPACK's g_i / B). Linear regression with Gaussian design: B_simple
 * against its closed form ((d+1)|delta|^2 + d s^2) / |delta|^2 within 5%,
 * and the trace and |G|^2 estimators unbiased over many batches drawn with
 * replacement (within 3 standard errors). Refusals with their messages.
 */
#include "check.h"
#include "lab/lab.h"
#include "nn/network_internal.h"

#include <stdlib.h>

#define BATCH 5
#define IN    6
#define IMAGE (2 * 5 * 5)

#ifdef DESCENT_DOUBLE
#define TOL 1e-10
#else
#define TOL 2e-4
#endif

static descent_real inputs[BATCH * IMAGE];
static int32_t labels[BATCH] = {0, 2, 1, 2, 0};
static descent_real targets[BATCH * 3];
static descent_rng rng;

static void random_vector(descent_real *v, size_t n) {
  for (size_t i = 0; i < n; i++) v[i] = (descent_real)(2 * descent_rng_uniform(&rng) - 1);
}

static double dot_of(const descent_real *a, const descent_real *b, size_t n) {
  double s = 0;
  for (size_t i = 0; i < n; i++) s += (double)a[i] * (double)b[i];
  return s;
}

static double rel(double a, double b) {
  double scale = fmax(fabs(a), fabs(b));
  return scale > 0 ? fabs(a - b) / scale : 0;
}

static descent_net *make(const char *spec, const descent_shape *input, descent_loss_kind loss) {
  descent_net *net = NULL;
  CHECK_OK(descent_net_create(&net, spec, input, loss, BATCH, 7));
  return net;
}

static descent_batch batch_of(size_t first, size_t n, size_t in_size, int use_targets) {
  return (descent_batch){.n = n,
                         .x = inputs + first * in_size,
                         .labels = labels + first,
                         .targets = use_targets ? targets + first * 3 : NULL};
}

/* Each example alone through value_and_grad (a batch of one: its own
   loss's gradient), then the batch's step and its per-example sums. */
static void check_brute_force(const char *spec, const descent_shape *input,
                              descent_loss_kind loss) {
  descent_net *net = make(spec, input, loss);
  if (!net) return;
  descent_objective *obj = descent_net_objective(net);
  size_t n = obj->n_params, in_size = descent_shape_size(input);
  int use_targets = loss == DESCENT_LOSS_MSE;
  descent_real *g = calloc(BATCH * n, sizeof *g), *v = calloc(n, sizeof *v);
  double loss_value, sq[BATCH], dot[BATCH], sq_alone[BATCH];
  random_vector(v, n);
  for (size_t i = 0; i < BATCH; i++) {
    descent_batch one = batch_of(i, 1, in_size, use_targets);
    CHECK_OK(descent_objective_value_and_grad(obj, &one, &loss_value));
    memcpy(g + i * n, obj->grad, n * sizeof *g);
  }
  descent_batch batch = batch_of(0, BATCH, in_size, use_targets);
  CHECK_OK(descent_objective_value_and_grad(obj, &batch, &loss_value));
  CHECK_OK(descent_objective_example_gradients(obj, &batch, v, sq, dot));
  CHECK_OK(descent_objective_example_gradients(obj, &batch, NULL, sq_alone, NULL));
  double worst = 0, mean_error = 0, v_norm = sqrt(dot_of(v, v, n));
  for (size_t i = 0; i < BATCH; i++) {
    const descent_real *gi = g + i * n;
    double gi_sq = dot_of(gi, gi, n);
    worst = check_worst(worst, rel(sq[i], gi_sq));
    /* g_i . v may cancel: its error is measured against |g_i| |v|. */
    worst = check_worst(worst, fabs(dot[i] - dot_of(gi, v, n)) / (sqrt(gi_sq) * v_norm));
    CHECK(sq_alone[i] == sq[i]);
  }
  /* The examples' gradients average to the step's. */
  for (size_t j = 0; j < n; j++) {
    double mean = 0, scale = 0;
    for (size_t i = 0; i < BATCH; i++) mean += g[i * n + j] / (double)BATCH;
    for (size_t i = 0; i < BATCH; i++) scale = check_worst(scale, fabs(g[i * n + j]));
    mean_error = check_worst(mean_error, fabs(mean - obj->grad[j]) / fmax(scale, 1e-30));
  }
  CHECK_MSG(worst <= TOL, "%s: per-example sums off by %.3g relative", spec, worst);
  CHECK_MSG(mean_error <= TOL, "%s: the mean of g_i is off by %.3g", spec, mean_error);
  free(g), free(v);
  descent_net_free(net);
}

static void test_brute_force(void) {
  descent_shape vec = {1, {IN}}, image = {3, {2, 5, 5}};
  check_brute_force("dense(8), relu, dense(7), tanh, dense(3)", &vec, DESCENT_LOSS_SOFTMAX_XENT);
  check_brute_force("dense(5, bias=0), sigmoid, dense(3)", &vec, DESCENT_LOSS_MSE);
  check_brute_force("conv(3, 3, pad=1), relu, maxpool(2), flatten, dense(3)", &image,
                    DESCENT_LOSS_SOFTMAX_XENT);
  check_brute_force("conv(4, 3, stride=2, bias=0), tanh, conv(2, 2), dense(3)", &image,
                    DESCENT_LOSS_MSE);
  check_brute_force("conv(3, 2), sigmoid, avgpool(2), dense(3)", &image, DESCENT_LOSS_SOFTMAX_XENT);
}

/* Identities that hold for every definition of the per-example terms,
   also where examples share a dropout mask or batch statistics. */
static void check_identities(const char *spec, const descent_shape *input) {
  descent_net *net = make(spec, input, DESCENT_LOSS_SOFTMAX_XENT);
  if (!net) return;
  descent_objective *obj = descent_net_objective(net);
  size_t n = obj->n_params, nb;
  descent_batch batch = batch_of(0, BATCH, descent_shape_size(input), 0);
  double loss, sq[BATCH], dot[BATCH], d1[BATCH], d2[BATCH], d12[BATCH];
  CHECK_OK(descent_objective_value_and_grad(obj, &batch, &loss));
  descent_real *grad = calloc(n, sizeof *grad), *v1 = calloc(n, sizeof *v1);
  descent_real *v2 = calloc(n, sizeof *v2), *v12 = calloc(n, sizeof *v12);
  memcpy(grad, obj->grad, n * sizeof *grad);
  descent_rng rng_before, rng_after;
  descent_net_get_rng(net, &rng_before);
  descent_real *buffers = descent_net_buffers(net, &nb);
  descent_real *saved = calloc(nb ? nb : 1, sizeof *saved);
  memcpy(saved, buffers, nb * sizeof *saved);

  /* v = g: the mean of g_i . g is |g|^2. */
  CHECK_OK(descent_objective_example_gradients(obj, &batch, obj->grad, sq, dot));
  double mean = 0, g_sq = dot_of(grad, grad, n), scale = 0;
  for (size_t i = 0; i < BATCH; i++) mean += dot[i] / BATCH;
  for (size_t i = 0; i < BATCH; i++) scale += sqrt(sq[i] * g_sq) / BATCH;
  CHECK_MSG(fabs(mean - g_sq) <= TOL * scale, "%s: mean g_i . g = %.17g, |g|^2 = %.17g", spec, mean,
            g_sq);

  /* Linear in v. */
  random_vector(v1, n);
  random_vector(v2, n);
  for (size_t j = 0; j < n; j++) v12[j] = v1[j] - 2 * v2[j];
  CHECK_OK(descent_objective_example_gradients(obj, &batch, v1, sq, d1));
  CHECK_OK(descent_objective_example_gradients(obj, &batch, v2, sq, d2));
  CHECK_OK(descent_objective_example_gradients(obj, &batch, v12, sq, d12));
  double norms = sqrt(dot_of(v1, v1, n)) + 2 * sqrt(dot_of(v2, v2, n));
  for (size_t i = 0; i < BATCH; i++)
    CHECK_MSG(fabs(d12[i] - (d1[i] - 2 * d2[i])) <= TOL * sqrt(sq[i]) * norms,
              "%s: dot not linear in v", spec);

  /* |g_i|^2 from g_i's coordinates, each read as g_i . e_j. */
  CHECK_OK(descent_objective_example_gradients(obj, &batch, NULL, sq, NULL));
  double coordinates[BATCH] = {0};
  memset(v1, 0, n * sizeof *v1);
  for (size_t j = 0; j < n; j++) {
    v1[j] = 1;
    CHECK_OK(descent_objective_example_gradients(obj, &batch, v1, d2, d1));
    for (size_t i = 0; i < BATCH; i++) coordinates[i] += d1[i] * d1[i];
    v1[j] = 0;
  }
  for (size_t i = 0; i < BATCH; i++)
    CHECK_MSG(rel(sq[i], coordinates[i]) <= TOL, "%s: |g_%zu|^2 %.17g, from its coordinates %.17g",
              spec, i, sq[i], coordinates[i]);

  /* Nothing moved: the step's gradient, the RNG, the running statistics. */
  descent_net_get_rng(net, &rng_after);
  CHECK(memcmp(obj->grad, grad, n * sizeof *grad) == 0);
  CHECK(memcmp(&rng_before, &rng_after, sizeof rng_after) == 0);
  CHECK(memcmp(buffers, saved, nb * sizeof *saved) == 0);
  free(grad), free(v1), free(v2), free(v12), free(saved);
  descent_net_free(net);
}

static void test_identities(void) {
  descent_shape vec = {1, {IN}}, image = {3, {2, 5, 5}};
  check_identities("dense(8), batchnorm, relu, dropout(p=0.4), dense(3)", &vec);
  check_identities("conv(3, 3, pad=1), batchnorm, relu, maxpool(2), dense(3)", &image);
  check_identities("dense(6), dropout(p=0.5), tanh, dense(3)", &vec);
}

/* The lab's least squares: closed forms against each term's gradient from
   a batch of that one term, on a batch of indices and on the whole sum. */
static void test_least_squares(void) {
  static const char *const specs[] = {"linreg(dim=3, n=40, scale=10)", "finite_sum(n=30)"};
  for (size_t s = 0; s < 2; s++) {
    descent_objective *obj = NULL;
    CHECK_OK(descent_problem_create(&obj, specs[s]));
    if (!obj) continue;
    size_t d = obj->n_params, terms = descent_problem_info_get(obj)->n_terms;
    random_vector(obj->params, d);
    descent_real v[3];
    random_vector(v, d);
    size_t indices[4] = {3, 0, 17, 3};
    descent_batch batch = {.n = 4, .indices = indices};
    double sq[40], dot[40], loss, worst = 0;
    CHECK_OK(descent_objective_example_gradients(obj, &batch, v, sq, dot));
    for (size_t k = 0; k < 4; k++) {
      descent_batch one = {.n = 1, .indices = &indices[k]};
      CHECK_OK(descent_objective_value_and_grad(obj, &one, &loss));
      worst = fmax(worst, rel(sq[k], dot_of(obj->grad, obj->grad, d)));
      worst = fmax(worst, fabs(dot[k] - dot_of(obj->grad, v, d)) / sqrt(sq[k] * dot_of(v, v, d)));
    }
    CHECK_MSG(worst <= TOL, "%s: off by %.3g", specs[s], worst);
    /* The whole sum: one value per term, averaging to the gradient. */
    CHECK_OK(descent_objective_example_gradients(obj, NULL, v, sq, dot));
    CHECK_OK(descent_objective_value_and_grad(obj, NULL, &loss));
    double mean = 0, scale = 0;
    for (size_t k = 0; k < terms; k++) mean += dot[k] / (double)terms;
    for (size_t k = 0; k < terms; k++) scale += sqrt(sq[k] * dot_of(v, v, d)) / (double)terms;
    CHECK_MSG(fabs(mean - dot_of(obj->grad, v, d)) <= TOL * scale, "%s: mean g_i . v", specs[s]);
    descent_objective_free(obj);
  }
}

/* The statistics from explicit vectors: the formulas as written, and
   Cockpit's expressions on its per-example gradients b_i = g_i / B. */
static void test_statistics(void) {
  enum { B = 7, D = 5 };
  double g[B][D], mean[D] = {0}, sq[B], dot[B];
  for (size_t i = 0; i < B; i++)
    for (size_t j = 0; j < D; j++) {
      g[i][j] = 0.3 + (2 * descent_rng_uniform(&rng) - 1) * (1 + (double)j);
      mean[j] += g[i][j] / B;
    }
  double g_sq = 0;
  for (size_t j = 0; j < D; j++) g_sq += mean[j] * mean[j];
  for (size_t i = 0; i < B; i++) {
    sq[i] = dot[i] = 0;
    for (size_t j = 0; j < D; j++) sq[i] += g[i][j] * g[i][j], dot[i] += g[i][j] * mean[j];
  }
  descent_noise out;
  CHECK_OK(descent_noise_compute(sq, dot, B, g_sq, &out));
  double dev = 0, inner = 0, ortho = 0;
  for (size_t i = 0; i < B; i++) {
    double p = 0;
    for (size_t j = 0; j < D; j++) p += g[i][j] * mean[j];
    inner += (p - g_sq) * (p - g_sq);
    for (size_t j = 0; j < D; j++) {
      dev += (g[i][j] - mean[j]) * (g[i][j] - mean[j]);
      double o = g[i][j] - p / g_sq * mean[j];
      ortho += o * o;
    }
  }
  double trace = dev / (B - 1), true_sq = g_sq - trace / B;
  CHECK(out.batch == B && out.grad_sq == g_sq);
  CHECK_REL(out.trace, trace, 1e-12);
  CHECK_REL(out.true_sq, true_sq, 1e-12);
  CHECK_REL(out.noise_scale, trace / true_sq, 1e-12);
  CHECK_REL(out.norm_test, sqrt(dev / ((B - 1) * B * g_sq)), 1e-12);
  CHECK_REL(out.inner_test, sqrt(inner / ((B - 1) * B * g_sq * g_sq)), 1e-12);
  CHECK_REL(out.ortho_test, sqrt(ortho / ((B - 1) * B * g_sq)), 1e-12);

  /* Cockpit: batch_l2 = |b_i|^2, projections = B sum_j b_i . b_j. */
  double l2_sum = 0, proj_sq = 0;
  for (size_t i = 0; i < B; i++) {
    double p = 0;
    l2_sum += sq[i] / (B * B);
    for (size_t k = 0; k < B; k++)
      for (size_t j = 0; j < D; j++) p += g[i][j] / B * g[k][j] / B;
    proj_sq += (B * p) * (B * p);
  }
  double var_l1 = (B * B * l2_sum - B * g_sq) / (B - 1);
  double var_proj = (proj_sq - B * g_sq * g_sq) / (B - 1);
  double var_ortho = (B * B * l2_sum - proj_sq / g_sq) / (B - 1);
  CHECK_REL(out.norm_test, sqrt(var_l1 / B / g_sq), 1e-12);
  CHECK_REL(out.inner_test, sqrt(var_proj / B / (g_sq * g_sq)), 1e-12);
  CHECK_REL(out.ortho_test, sqrt(var_ortho / B / g_sq), 1e-12);

  /* Without dot, the two tests that need it are NAN; equal examples are no
     noise at all (the rounding of sum - B |g|^2 is not taken as some). */
  CHECK_OK(descent_noise_compute(sq, NULL, B, g_sq, &out));
  CHECK(isnan(out.inner_test) && isnan(out.ortho_test));
  CHECK_REL(out.trace, trace, 1e-12);
  double same_sq[3] = {0.1 * 0.1 * 3, 0.1 * 0.1 * 3, 0.1 * 0.1 * 3};
  CHECK_OK(descent_noise_compute(same_sq, same_sq, 3, 0.1 * 0.1 * 3, &out));
  CHECK(out.trace >= 0 && out.trace < 1e-15 && out.norm_test >= 0);
  /* Noise beyond the signal: no critical batch size. */
  double noisy[2] = {1, 1};
  CHECK_OK(descent_noise_compute(noisy, NULL, 2, 0, &out));
  CHECK(out.noise_scale == INFINITY && out.true_sq < 0 && isinf(out.norm_test));
}

/* linreg(scale=1) draws x ~ N(0, I_d) and y = x . 1 + N(0, 0.1^2). */
#define LR_D     5
#define LR_NOISE 0.1

static double closed_form_scale(double delta_sq) {
  return ((LR_D + 1) * delta_sq + LR_D * LR_NOISE * LR_NOISE) / delta_sq;
}

/* B_simple over the whole (large) sample at w* + r u, against the closed
   form, at three distances. */
static void test_linreg_closed_form(void) {
  enum { N = 200000 };
  descent_objective *obj = NULL;
  CHECK_OK(descent_problem_create(&obj, "linreg(scale=1, dim=5, n=200000, seed=11)"));
  if (!obj) return;
  double *sq = calloc(N, sizeof *sq), *dot = calloc(N, sizeof *dot);
  static const double radius[] = {1, 0.3, 0.1};
  for (size_t r = 0; r < 3; r++) {
    double delta_sq = 0;
    for (size_t j = 0; j < LR_D; j++) {
      double u = (j % 2 ? -1.0 : 1.0) / sqrt((double)LR_D);
      obj->params[j] = (descent_real)(1 + radius[r] * u);
      delta_sq += (obj->params[j] - 1) * (obj->params[j] - 1);
    }
    double loss;
    descent_noise out;
    CHECK_OK(descent_objective_value_and_grad(obj, NULL, &loss));
    CHECK_OK(descent_objective_example_gradients(obj, NULL, obj->grad, sq, dot));
    CHECK_OK(descent_noise_compute(sq, dot, N, dot_of(obj->grad, obj->grad, LR_D), &out));
    double expected = closed_form_scale(delta_sq);
    CHECK_MSG(rel(out.noise_scale, expected) <= 0.05, "|delta| %g: B_simple %.6g, closed form %.6g",
              radius[r], out.noise_scale, expected);
    printf("|delta| %-4g B_simple %.4g, closed form %.4g\n", radius[r], out.noise_scale, expected);
  }
  free(sq), free(dot);
  descent_objective_free(obj);
}

/* Batches of B terms drawn with replacement from the sample: the means of
   the trace and |G|^2 estimates over many batches against the sample's own
   values (the population they are drawn from), within 3 standard errors. */
static void test_unbiased(void) {
  enum { N = 2000, B = 8, DRAWS = 4000 };
  descent_objective *obj = NULL;
  CHECK_OK(descent_problem_create(&obj, "linreg(scale=1, dim=5, n=2000, seed=5)"));
  if (!obj) return;
  for (size_t j = 0; j < LR_D; j++) obj->params[j] = (descent_real)(1 + 0.2 * (j % 2 ? -1 : 1));
  double *sq = calloc(N, sizeof *sq), loss;
  /* The population: the mean gradient and the variance (1/N) about it. */
  CHECK_OK(descent_objective_value_and_grad(obj, NULL, &loss));
  CHECK_OK(descent_objective_example_gradients(obj, NULL, NULL, sq, NULL));
  double pop_sq = dot_of(obj->grad, obj->grad, LR_D), pop_trace = 0;
  for (size_t i = 0; i < N; i++) pop_trace += sq[i] / N;
  pop_trace -= pop_sq;
  double sum[2] = {0}, sum2[2] = {0};
  size_t idx[B];
  descent_batch batch = {.n = B, .indices = idx};
  for (int k = 0; k < DRAWS; k++) {
    for (size_t i = 0; i < B; i++) idx[i] = descent_rng_next(&rng) % N;
    descent_noise out;
    CHECK_OK(descent_objective_value_and_grad(obj, &batch, &loss));
    CHECK_OK(descent_objective_example_gradients(obj, &batch, NULL, sq, NULL));
    CHECK_OK(descent_noise_compute(sq, NULL, B, dot_of(obj->grad, obj->grad, LR_D), &out));
    double est[2] = {out.trace, out.true_sq};
    for (int q = 0; q < 2; q++) sum[q] += est[q], sum2[q] += est[q] * est[q];
  }
  double truth[2] = {pop_trace, pop_sq};
  const char *name[2] = {"trace", "|G|^2"};
  for (int q = 0; q < 2; q++) {
    double mean = sum[q] / DRAWS, var = (sum2[q] / DRAWS - mean * mean) * DRAWS / (DRAWS - 1);
    double se = sqrt(var / DRAWS);
    CHECK_MSG(fabs(mean - truth[q]) <= 3 * se,
              "%s: mean %.6g, population %.6g, standard error %.3g", name[q], mean, truth[q], se);
    printf("%s: mean of %d estimates %.5g, population %.5g (%.2f standard errors)\n", name[q],
           DRAWS, mean, truth[q], fabs(mean - truth[q]) / se);
  }
  free(sq);
  descent_objective_free(obj);
}

/* A registered kind with parameters and without per-example gradients. */
static int scale_setup(const descent_layer_view *l, descent_layer_sizes *s) {
  s->n_params = l->in_size;
  return DESCENT_OK;
}

static int scale_tensors(const descent_layer_view *l, descent_tensor_info *t) {
  snprintf(t[0].name, sizeof t[0].name, "weight");
  t[0].size = l->in_size;
  t[0].shape = (descent_shape){1, {l->in_size}};
  return 1;
}

static void scale_forward(const descent_layer_view *l, const descent_real *w, const descent_real *x,
                          descent_real *y, size_t n, int train) {
  for (size_t i = 0; i < n * l->in_size; i++) y[i] = w[i % l->in_size] * x[i];
}

static void scale_backward(const descent_layer_view *l, const descent_real *w,
                           const descent_real *x, const descent_real *y, const descent_real *dy,
                           descent_real *dx, descent_real *dw, size_t n) {
  size_t m = l->in_size;
  for (size_t j = 0; j < m; j++) dw[j] = 0;
  for (size_t i = 0; i < n * m; i++) {
    dw[i % m] += dy[i] * x[i];
    if (dx) dx[i] = dy[i] * w[i % m];
  }
}

static void test_refusals(void) {
  double sq[BATCH] = {1, 2, 3, 4, 5}, dot[BATCH] = {0}, loss;
  descent_noise out;
  CHECK_FAILS(descent_noise_compute(sq, dot, 1, 1, &out), DESCENT_EINVAL, "at least 2");
  CHECK_FAILS(descent_noise_compute(NULL, dot, 4, 1, &out), DESCENT_EINVAL, "sq is NULL");
  CHECK_FAILS(descent_noise_compute(sq, dot, 4, NAN, &out), DESCENT_EINVAL,
              "must be finite and non-negative");

  descent_layer_kind scale = {.name = "noise_scale_layer",
                              .setup = scale_setup,
                              .tensors = scale_tensors,
                              .forward = scale_forward,
                              .backward = scale_backward};
  CHECK_OK(descent_layer_register(&scale));
  descent_shape vec = {1, {IN}};
  descent_net *net = make("dense(4), noise_scale_layer, dense(3)", &vec, DESCENT_LOSS_MSE);
  if (net) {
    descent_objective *obj = descent_net_objective(net);
    descent_batch batch = batch_of(0, BATCH, IN, 1);
    CHECK_OK(descent_objective_value_and_grad(obj, &batch, &loss));
    sq[0] = 42;
    CHECK_FAILS(descent_objective_example_gradients(obj, &batch, NULL, sq, NULL), DESCENT_ENOTSUP,
                "layer2.noise_scale_layer (noise_scale_layer) has parameters and no per-example");
    CHECK(sq[0] == 42);
    CHECK_FAILS(descent_objective_check_example_gradients(obj), DESCENT_ENOTSUP,
                "layer2.noise_scale_layer");
    descent_net_free(net);
  }
  /* A network whose parameterized layers all have them: the call's own
     refusals. */
  net = make("dense(4), relu, dense(3)", &vec, DESCENT_LOSS_SOFTMAX_XENT);
  if (net) {
    descent_objective *obj = descent_net_objective(net);
    descent_batch batch = batch_of(0, BATCH, IN, 0);
    CHECK_OK(descent_objective_check_example_gradients(obj));
    CHECK_FAILS(descent_objective_example_gradients(obj, &batch, NULL, sq, NULL), DESCENT_EINVAL,
                "call value_and_grad on the batch first");
    CHECK_OK(descent_objective_value_and_grad(obj, &batch, &loss));
    CHECK_FAILS(descent_objective_example_gradients(obj, NULL, NULL, sq, NULL), DESCENT_EINVAL,
                "needs a batch of inputs");
    descent_batch smaller = batch_of(0, BATCH - 1, IN, 0);
    CHECK_FAILS(descent_objective_example_gradients(obj, &smaller, NULL, sq, NULL), DESCENT_EINVAL,
                "the step's had 5");
    CHECK_FAILS(descent_objective_example_gradients(obj, &batch, obj->grad, sq, NULL),
                DESCENT_EINVAL, "dot is NULL");
    descent_net_free(net);
  }
  /* The lab's problems that are no sums of examples; objectives without. */
  descent_objective *quad = NULL;
  CHECK_OK(descent_problem_create(&quad, "quad2d"));
  if (quad) {
    CHECK_FAILS(descent_objective_example_gradients(quad, NULL, NULL, sq, NULL), DESCENT_ENOTSUP,
                "quad2d is not a sum over examples");
    CHECK_FAILS(descent_objective_check_example_gradients(quad), DESCENT_ENOTSUP, "quad2d");
    descent_objective_free(quad);
  }
  descent_objective_ops ops = {.kind = "mine"};
  descent_objective mine = {.ops = &ops};
  CHECK_FAILS(descent_objective_example_gradients(&mine, NULL, NULL, sq, NULL), DESCENT_ENOTSUP,
              "'mine' offers no per-example gradients");
  CHECK_FAILS(descent_objective_check_example_gradients(&mine), DESCENT_ENOTSUP, "'mine'");
}

/* The lab's noise-scale demo: B_simple within 5% of its closed form at
   every distance, growing as the distance shrinks; SGD's steps falling as
   1/B below B_simple and levelling off above it. */
static void test_demo(void) {
  lab_result r;
  CHECK_OK(lab_demo_run(lab_demo_find("noise-scale"), NULL, NULL, &r));
  const lab_table *t = lab_result_find(&r, "noise-scale");
  const lab_table *steps = lab_result_find(&r, "noise-steps");
  CHECK(t && t->n_rows == 6 && steps && steps->n_rows == 11);
  if (!t || !steps) return;
  static const char *const rows[] = {"1", "0.5", "0.2", "0.1", "0.05", "0.03"};
  double previous = 0;
  for (size_t i = 0; i < t->n_rows; i++) {
    double measured = lab_table_number(t, rows[i], "B_simple");
    double closed = lab_table_number(t, rows[i], "closed form");
    CHECK_MSG(fabs(measured / closed - 1) <= 0.05, "distance %s: B_simple %g, closed form %g",
              rows[i], measured, closed);
    CHECK(measured > previous);
    previous = measured;
  }
  /* 1/B below B_simple (about 21): 16 times the batch, about 12 times
     fewer steps; above it, 4 times the batch saves less than half. */
  double s1 = lab_table_number(steps, "1", "steps"), s16 = lab_table_number(steps, "16", "steps");
  double s256 = lab_table_number(steps, "256", "steps");
  double s1024 = lab_table_number(steps, "1024", "steps");
  CHECK_MSG(s1 / s16 > 9 && s256 / s1024 < 2, "steps %g, %g, %g, %g", s1, s16, s256, s1024);
  for (size_t i = 0; i < steps->n_rows; i++) {
    const char *b = steps->cells[i * (size_t)steps->n_cols].text;
    double theory = lab_table_number(steps, b, "theory");
    if (theory >= 4)
      CHECK_MSG(fabs(lab_table_number(steps, b, "steps") / theory - 1) <= 0.2,
                "batch %s: %g steps, theory %g", b, lab_table_number(steps, b, "steps"), theory);
  }
  lab_result_free(&r);
}

int main(void) {
  descent_rng_seed(&rng, 2024);
  random_vector(inputs, BATCH * IMAGE);
  random_vector(targets, BATCH * 3);
  test_brute_force();
  test_identities();
  test_least_squares();
  test_statistics();
  test_linreg_closed_form();
  test_unbiased();
  test_refusals();
  test_demo();
  return check_report();
}
