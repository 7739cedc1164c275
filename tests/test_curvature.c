/*
 * test_curvature.c - deterministic re-evaluation and the curvature-vector
 * products of networks, in double precision.
 *
 * Re-evaluation: on a network with dropout and batch norm, re-evaluations
 * at one point give the same bits, the step's own loss and gradient, and
 * leave the RNG and the running statistics as the step left them.
 * Products, for every layer and loss that has them: H v against central
 * differences of the (re-evaluated) gradient; G v against J^T H_L J v with
 * the Jacobian J built column by column (central differences of the
 * outputs) and H_L written out here; G symmetric positive semi-definite;
 * H = G where the network is linear in its parameters. Layers without
 * products are refused by name; a registered kind's own jvp and rbackward
 * are used. The Gauss-Newton diagonal: exact, e_j^T G e_j; by Monte Carlo,
 * an error falling as 1/sqrt(samples). The lab's problems' analytic products
 * against differences of their gradients. The float build checks G's
 * symmetry on CNNs that take the fast convolution kernels.
 */
#include "check.h"
#include "nn/network_internal.h"

#include <stdlib.h>

#define BATCH 5
#define IN    6
#define H     1e-5
#define TOL   1e-6

#define IMAGE (2 * 5 * 5)

static descent_real inputs[BATCH * IMAGE];
static descent_shape input = {1, {IN}};
static int32_t labels[BATCH] = {0, 2, 1, 2, 0};
static descent_real targets[BATCH * 3];
static descent_rng rng;

static void random_vector(descent_real *v, size_t n) {
  for (size_t i = 0; i < n; i++) v[i] = (descent_real)(2 * descent_rng_uniform(&rng) - 1);
}

static double dot(const descent_real *a, const descent_real *b, size_t n) {
  double s = 0;
  for (size_t i = 0; i < n; i++) s += (double)a[i] * (double)b[i];
  return s;
}

/* max |a - b| / max(|a|, |b|) over the vectors' largest entries. */
static double rel_error(const descent_real *a, const double *b, size_t n) {
  double diff = 0, scale = 1e-12;
  for (size_t i = 0; i < n; i++) {
    diff = fmax(diff, fabs(a[i] - b[i]));
    scale = fmax(scale, fmax(fabs(a[i]), fabs(b[i])));
  }
  return diff / scale;
}

static descent_net *make(const char *spec, descent_loss_kind loss) {
  descent_net *net = NULL;
  CHECK_OK(descent_net_create(&net, spec, &input, loss, BATCH, 7));
  return net;
}

static descent_batch batch_for(int use_targets) {
  return (descent_batch){
      .n = BATCH, .x = inputs, .labels = labels, .targets = use_targets ? targets : NULL};
}

/* Re-evaluations replay the step: same bits, no side effects. */
static void test_reevaluation(void) {
  descent_net *net =
      make("dense(8), batchnorm, relu, dropout(p=0.4), dense(3)", DESCENT_LOSS_SOFTMAX_XENT);
  descent_objective *obj = descent_net_objective(net);
  descent_batch batch = batch_for(0);
  size_t n = obj->n_params, nb;
  descent_real *g1 = calloc(n, sizeof *g1), *g2 = calloc(n, sizeof *g2);
  descent_real *step_grad = calloc(n, sizeof *step_grad), *saved = calloc(n, sizeof *saved);
  double loss, step_loss, l1, l2;
  CHECK_FAILS(descent_objective_reevaluate(obj, &batch, &loss, g1), DESCENT_EINVAL,
              "call value_and_grad on the batch first");
  CHECK_OK(descent_objective_value_and_grad(obj, &batch, &step_loss));
  memcpy(step_grad, obj->grad, n * sizeof *step_grad);
  memcpy(saved, obj->params, n * sizeof *saved);
  descent_rng rng_after;
  descent_net_get_rng(net, &rng_after);
  descent_real *buffers = descent_net_buffers(net, &nb);
  descent_real *buffers_after = calloc(nb, sizeof *buffers_after);
  memcpy(buffers_after, buffers, nb * sizeof *buffers);

  /* At the step's point: the step's loss and gradient, bit for bit (the
     same dropout mask, batch norm on the same batch statistics). */
  CHECK_OK(descent_objective_reevaluate(obj, &batch, &l1, g1));
  CHECK(l1 == step_loss);
  CHECK(memcmp(g1, step_grad, n * sizeof *g1) == 0);

  /* Elsewhere: twice the same bits, obj->grad untouched. */
  for (size_t i = 0; i < n; i++) obj->params[i] += (descent_real)(0.01 * (double)(i % 7));
  CHECK_OK(descent_objective_reevaluate(obj, &batch, &l1, g1));
  CHECK_OK(descent_objective_reevaluate(obj, &batch, &l2, g2));
  CHECK(l1 == l2 && l1 != step_loss);
  CHECK(memcmp(g1, g2, n * sizeof *g1) == 0);
  CHECK(memcmp(obj->grad, step_grad, n * sizeof *g1) == 0);
  double loss_only;
  CHECK_OK(descent_objective_reevaluate(obj, &batch, &loss_only, NULL));
  CHECK(loss_only == l1);

  /* The state is the step's: the RNG and the running statistics. */
  descent_rng now;
  descent_net_get_rng(net, &now);
  CHECK(memcmp(&now, &rng_after, sizeof now) == 0);
  CHECK(memcmp(buffers, buffers_after, nb * sizeof *buffers) == 0);

  /* The next step still draws a new mask (and moves the statistics). */
  memcpy(obj->params, saved, n * sizeof *saved);
  CHECK_OK(descent_objective_value_and_grad(obj, &batch, &loss));
  CHECK(loss != step_loss);
  CHECK(memcmp(buffers, buffers_after, nb * sizeof *buffers) != 0);

  descent_batch smaller = batch;
  smaller.n = BATCH - 1;
  CHECK_FAILS(descent_objective_reevaluate(obj, &smaller, &loss, g1), DESCENT_EINVAL,
              "the step's had 5");
  printf("re-evaluation: identical bits, state untouched\n");
  free(g1), free(g2), free(step_grad), free(saved), free(buffers_after);
  descent_net_free(net);
}

/* H v against central differences of the re-evaluated gradient, and the
   product's own side effects (none). */
static double hv_versus_differences(descent_net *net, const descent_batch *batch) {
  descent_objective *obj = descent_net_objective(net);
  size_t n = obj->n_params;
  descent_real *v = calloc(n, sizeof *v), *hv = calloc(n, sizeof *hv);
  descent_real *gp = calloc(n, sizeof *gp), *gm = calloc(n, sizeof *gm);
  double *fd = calloc(n, sizeof *fd), loss, worst = 0;
  descent_rng before;
  CHECK_OK(descent_objective_value_and_grad(obj, batch, &loss));
  descent_net_get_rng(net, &before);
  for (int trial = 0; trial < 3; trial++) {
    random_vector(v, n);
    CHECK_OK(descent_objective_hvp(obj, batch, v, hv));
    for (size_t i = 0; i < n; i++) obj->params[i] += (descent_real)(H * v[i]);
    CHECK_OK(descent_objective_reevaluate(obj, batch, &loss, gp));
    for (size_t i = 0; i < n; i++) obj->params[i] -= (descent_real)(2 * H * v[i]);
    CHECK_OK(descent_objective_reevaluate(obj, batch, &loss, gm));
    for (size_t i = 0; i < n; i++) obj->params[i] += (descent_real)(H * v[i]);
    for (size_t i = 0; i < n; i++) fd[i] = ((double)gp[i] - (double)gm[i]) / (2 * H);
    worst = fmax(worst, rel_error(hv, fd, n));
  }
  descent_rng after;
  descent_net_get_rng(net, &after);
  CHECK(memcmp(&before, &after, sizeof before) == 0);
  free(v), free(hv), free(gp), free(gm), free(fd);
  return worst;
}

/* The outputs z (n x k) at the current parameters, with the step's
   randomness. */
static void outputs(descent_net *net, const descent_batch *batch, double *z) {
  double loss;
  CHECK_OK(descent_objective_reevaluate(descent_net_objective(net), batch, &loss, NULL));
  size_t last = net->n_layers - 1, count = batch->n * net->layers[last].out_size;
  for (size_t i = 0; i < count; i++) z[i] = net->acts[last][i];
}

/* G v against J^T H_L J v, J built column by column by central differences
   of the outputs and H_L written out: (diag(p) - p p^T) / n per example for
   cross-entropy, I / n for MSE. Also G's symmetry and semi-definiteness. */
static double gv_versus_jacobian(descent_net *net, const descent_batch *batch) {
  descent_objective *obj = descent_net_objective(net);
  size_t n = obj->n_params, k = descent_net_outputs(net), m = batch->n * k;
  double *jac = calloc(m * n, sizeof *jac), *zp = calloc(m, sizeof *zp);
  double *zm = calloc(m, sizeof *zm), *z = calloc(m, sizeof *z), *jv = calloc(m, sizeof *jv);
  double *hjv = calloc(m, sizeof *hjv), *ref = calloc(n, sizeof *ref), loss;
  descent_real *u = calloc(n, sizeof *u), *v = calloc(n, sizeof *v);
  descent_real *gu = calloc(n, sizeof *gu), *gv = calloc(n, sizeof *gv);
  CHECK_OK(descent_objective_value_and_grad(obj, batch, &loss));
  outputs(net, batch, z);
  for (size_t j = 0; j < n; j++) {
    descent_real saved = obj->params[j];
    obj->params[j] = (descent_real)(saved + H);
    outputs(net, batch, zp);
    obj->params[j] = (descent_real)(saved - H);
    outputs(net, batch, zm);
    obj->params[j] = saved;
    for (size_t r = 0; r < m; r++) jac[r * n + j] = (zp[r] - zm[r]) / (2 * H);
  }
  double worst = 0;
  for (int trial = 0; trial < 3; trial++) {
    random_vector(v, n);
    random_vector(u, n);
    CHECK_OK(descent_objective_ggnvp(obj, batch, v, gv));
    CHECK_OK(descent_objective_ggnvp(obj, batch, u, gu));
    for (size_t r = 0; r < m; r++) {
      jv[r] = 0;
      for (size_t j = 0; j < n; j++) jv[r] += jac[r * n + j] * v[j];
    }
    for (size_t e = 0; e < batch->n; e++) {
      const double *ze = z + e * k, *je = jv + e * k;
      if (descent_net_loss(net) == DESCENT_LOSS_MSE) {
        for (size_t a = 0; a < k; a++) hjv[e * k + a] = je[a] / (double)batch->n;
        continue;
      }
      double zmax = ze[0], sum = 0, pj = 0, p[16];
      for (size_t a = 1; a < k; a++) zmax = fmax(zmax, ze[a]);
      for (size_t a = 0; a < k; a++) sum += p[a] = exp(ze[a] - zmax);
      for (size_t a = 0; a < k; a++) p[a] /= sum, pj += p[a] * je[a];
      for (size_t a = 0; a < k; a++) hjv[e * k + a] = p[a] * (je[a] - pj) / (double)batch->n;
    }
    for (size_t j = 0; j < n; j++) {
      ref[j] = 0;
      for (size_t r = 0; r < m; r++) ref[j] += jac[r * n + j] * hjv[r];
    }
    worst = fmax(worst, rel_error(gv, ref, n));
    double ugv = dot(u, gv, n), vgu = dot(v, gu, n), vgv = dot(v, gv, n);
    CHECK_MSG(fabs(ugv - vgu) <= 1e-10 * fmax(1, fabs(ugv)), "u'Gv %.17g, v'Gu %.17g", ugv, vgu);
    CHECK_MSG(vgv >= 0, "v'Gv = %g", vgv);
  }
  free(jac), free(zp), free(zm), free(z), free(jv), free(hjv), free(ref);
  free(u), free(v), free(gu), free(gv);
  return worst;
}

static void check_products(const char *spec, descent_loss_kind loss) {
  descent_net *net = make(spec, loss);
  if (!net) return;
  descent_batch batch = batch_for(loss == DESCENT_LOSS_MSE);
  double hv_err = hv_versus_differences(net, &batch);
  double gv_err = gv_versus_jacobian(net, &batch);
  CHECK_MSG(hv_err <= TOL, "%s (%s): Hv relative error %.3g", spec, descent_loss_name(loss),
            hv_err);
  CHECK_MSG(gv_err <= TOL, "%s (%s): Gv relative error %.3g", spec, descent_loss_name(loss),
            gv_err);
  printf("%-50s %-4s Hv %.2e  Gv %.2e\n", spec, descent_loss_name(loss), hv_err, gv_err);
  descent_net_free(net);
}

/* A network linear in its parameters under MSE has H = G. */
static void test_linear_h_equals_g(void) {
  descent_net *net = make("dense(3)", DESCENT_LOSS_MSE);
  descent_objective *obj = descent_net_objective(net);
  descent_batch batch = batch_for(1);
  size_t n = obj->n_params;
  descent_real *v = calloc(n, sizeof *v), *hv = calloc(n, sizeof *hv), *gv = calloc(n, sizeof *gv);
  double loss;
  CHECK_OK(descent_objective_value_and_grad(obj, &batch, &loss));
  random_vector(v, n);
  CHECK_OK(descent_objective_hvp(obj, &batch, v, hv));
  CHECK_OK(descent_objective_ggnvp(obj, &batch, v, gv));
  for (size_t i = 0; i < n; i++) CHECK_CLOSE(hv[i], gv[i], 1e-13);
  free(v), free(hv), free(gv);
  descent_net_free(net);
}

/* The Gauss-Newton diagonal: exact, it is e_j^T G e_j from the products;
   by Monte Carlo, its error falls as 1/sqrt(samples). */
static void check_diagonal(const char *spec, descent_loss_kind loss) {
  descent_net *net = make(spec, loss);
  if (!net) return;
  descent_objective *obj = descent_net_objective(net);
  descent_batch batch = batch_for(loss == DESCENT_LOSS_MSE);
  size_t n = obj->n_params;
  descent_real *diag = calloc(n, sizeof *diag), *e = calloc(n, sizeof *e);
  descent_real *ge = calloc(n, sizeof *ge), *estimate = calloc(n, sizeof *estimate);
  double loss_value, worst = 0, norm = 0;
  CHECK_OK(descent_objective_value_and_grad(obj, &batch, &loss_value));
  descent_rng before;
  descent_net_get_rng(net, &before);
  CHECK_OK(descent_objective_ggn_diagonal(obj, &batch, 0, 0, diag));
  for (size_t j = 0; j < n; j++) {
    e[j] = 1;
    CHECK_OK(descent_objective_ggnvp(obj, &batch, e, ge));
    e[j] = 0;
    worst = fmax(worst, fabs(diag[j] - ge[j]) / fmax(1e-12, fabs(ge[j])));
    norm += (double)ge[j] * ge[j];
    CHECK(diag[j] >= 0);
  }
  CHECK_MSG(worst <= 1e-10, "%s: exact diagonal off by %.3g relative", spec, worst);
  /* Relative error of the estimate, the root mean square over 8 seeds, at
     16, 256 and 4096 samples: each 16 times more should divide it by about
     4 (its square by 16). */
  double err[3] = {0};
  size_t counts[3] = {16, 256, 4096};
  for (int a = 0; a < 3; a++)
    for (uint64_t seed = 1; seed <= 8; seed++) {
      CHECK_OK(descent_objective_ggn_diagonal(obj, &batch, counts[a], seed, estimate));
      double d = 0;
      for (size_t j = 0; j < n; j++) d += ((double)estimate[j] - diag[j]) * (estimate[j] - diag[j]);
      err[a] += d / norm / 8;
    }
  for (int a = 0; a < 3; a++) err[a] = sqrt(err[a]);
  for (int a = 1; a < 3; a++)
    CHECK_MSG(err[a] < err[a - 1] / 2.5 && err[a] > err[a - 1] / 6.4,
              "%s: Monte-Carlo error %.3g at %zu samples, %.3g at %zu (expected a ratio near 4)",
              spec, err[a - 1], counts[a - 1], err[a], counts[a]);
  descent_rng after;
  descent_net_get_rng(net, &after);
  CHECK(memcmp(&before, &after, sizeof before) == 0);
  printf("%-40s %-4s diagonal exact %.1e, Monte Carlo %.3f %.3f %.3f at 16, 256, 4096\n", spec,
         descent_loss_name(loss), worst, err[0], err[1], err[2]);
  free(diag), free(e), free(ge), free(estimate);
  descent_net_free(net);
}

static void test_diagonal(void) {
  check_diagonal("dense(6), tanh, dense(3)", DESCENT_LOSS_SOFTMAX_XENT);
  check_diagonal("dense(6), tanh, dense(3)", DESCENT_LOSS_MSE);
  check_diagonal("dense(8, bias=0), relu, dropout(p=0.3), dense(5), sigmoid, dense(3)",
                 DESCENT_LOSS_SOFTMAX_XENT);
  input = (descent_shape){3, {2, 5, 5}};
  check_diagonal("conv(3, 3, pad=1), tanh, maxpool(2), conv(2, 2, bias=0), relu, dense(3)",
                 DESCENT_LOSS_SOFTMAX_XENT);
  check_diagonal("conv(2, 3, stride=2), sigmoid, dense(3)", DESCENT_LOSS_MSE);
  input = (descent_shape){1, {IN}};
  descent_net *net = make("dense(4), batchnorm, dense(3)", DESCENT_LOSS_SOFTMAX_XENT);
  descent_objective *obj = descent_net_objective(net);
  descent_batch batch = batch_for(0);
  descent_real *out = calloc(obj->n_params, sizeof *out);
  double loss;
  CHECK_OK(descent_objective_value_and_grad(obj, &batch, &loss));
  CHECK_FAILS(descent_objective_ggn_diagonal(obj, &batch, 0, 0, out), DESCENT_ENOTSUP,
              "layer2.batchnorm (batchnorm) has parameters");
  free(out);
  descent_net_free(net);
  descent_objective_ops ops = {.kind = "mine"};
  descent_objective mine = {.ops = &ops};
  CHECK_FAILS(descent_objective_ggn_diagonal(&mine, NULL, 0, 0, NULL), DESCENT_ENOTSUP,
              "'mine' offers no Gauss-Newton diagonal");
}

/* A registered kind with the products' callbacks: y = w x^2 per feature,
   so that both its first and its second derivatives are in play. */
static int square_setup(const descent_layer_view *l, descent_layer_sizes *s) {
  s->n_params = l->in_size;
  return DESCENT_OK;
}

static int square_tensors(const descent_layer_view *l, descent_tensor_info *t) {
  snprintf(t[0].name, sizeof t[0].name, "weight");
  t[0].size = l->in_size;
  t[0].shape = (descent_shape){1, {l->in_size}};
  return 1;
}

static void square_init(const descent_layer_view *l, descent_real *w, descent_rng *r) {
  for (size_t j = 0; j < l->in_size; j++) w[j] = (descent_real)(0.5 + descent_rng_uniform(r));
}

static void square_forward(const descent_layer_view *l, const descent_real *w,
                           const descent_real *x, descent_real *y, size_t n, int train) {
  size_t m = l->in_size;
  for (size_t i = 0; i < n * m; i++) y[i] = w[i % m] * x[i] * x[i];
}

static void square_backward(const descent_layer_view *l, const descent_real *w,
                            const descent_real *x, const descent_real *y, const descent_real *dy,
                            descent_real *dx, descent_real *dw, size_t n) {
  size_t m = l->in_size;
  for (size_t j = 0; j < m; j++) dw[j] = 0;
  for (size_t i = 0; i < n * m; i++) {
    dw[i % m] += dy[i] * x[i] * x[i];
    if (dx) dx[i] = dy[i] * 2 * w[i % m] * x[i];
  }
}

static void square_jvp(const descent_layer_view *l, const descent_real *w, const descent_real *vw,
                       const descent_real *x, const descent_real *rx, const descent_real *y,
                       descent_real *ry, size_t n) {
  size_t m = l->in_size;
  for (size_t i = 0; i < n * m; i++)
    ry[i] = vw[i % m] * x[i] * x[i] + (rx ? 2 * w[i % m] * x[i] * rx[i] : 0);
}

static void square_rbackward(const descent_layer_view *l, const descent_real *w,
                             const descent_real *vw, const descent_real *x, const descent_real *rx,
                             const descent_real *y, const descent_real *ry, const descent_real *dy,
                             const descent_real *rdy, descent_real *rdx, descent_real *rdw,
                             size_t n) {
  size_t m = l->in_size;
  for (size_t j = 0; j < m; j++) rdw[j] = 0;
  for (size_t i = 0; i < n * m; i++) {
    descent_real r = rx ? rx[i] : 0;
    rdw[i % m] += rdy[i] * x[i] * x[i] + dy[i] * 2 * x[i] * r;
    if (rdx) rdx[i] = rdy[i] * 2 * w[i % m] * x[i] + dy[i] * 2 * (vw[i % m] * x[i] + w[i % m] * r);
  }
}

static void test_registered_kinds(void) {
  descent_layer_kind square = {.name = "square",
                               .setup = square_setup,
                               .tensors = square_tensors,
                               .init = square_init,
                               .forward = square_forward,
                               .backward = square_backward,
                               .jvp = square_jvp,
                               .rbackward = square_rbackward};
  CHECK_OK(descent_layer_register(&square));
  square.name = "square_plain";
  square.jvp = NULL;
  square.rbackward = NULL;
  CHECK_OK(descent_layer_register(&square));
  check_products("dense(4), square, dense(3)", DESCENT_LOSS_SOFTMAX_XENT);
  check_products("square, dense(5), tanh, square, dense(3)", DESCENT_LOSS_MSE);
  descent_net *net = make("dense(4), square_plain, dense(3)", DESCENT_LOSS_MSE);
  descent_objective *obj = descent_net_objective(net);
  descent_batch batch = batch_for(1);
  descent_real *v = calloc(obj->n_params, sizeof *v), *out = calloc(obj->n_params, sizeof *out);
  double loss;
  CHECK_OK(descent_objective_value_and_grad(obj, &batch, &loss));
  CHECK_FAILS(descent_objective_ggnvp(obj, &batch, v, out), DESCENT_ENOTSUP,
              "layer2.square_plain (square_plain) has no directional derivative");
  free(v), free(out);
  descent_net_free(net);
}

/* A layer without the products' operations (a registered kind that
   offers none, here tanh with them taken away) is refused by name,
   without touching out. */
static void test_refusals(void) {
  descent_net *net = make("dense(4), tanh, dense(3)", DESCENT_LOSS_SOFTMAX_XENT);
  descent_objective *obj = descent_net_objective(net);
  descent_batch batch = batch_for(0);
  size_t n = obj->n_params;
  descent_real *v = calloc(n, sizeof *v), *out = calloc(n, sizeof *out);
  double loss;
  CHECK_FAILS(descent_objective_ggnvp(obj, &batch, v, out), DESCENT_EINVAL,
              "call value_and_grad on the batch first");
  CHECK_OK(descent_objective_value_and_grad(obj, &batch, &loss));
  layer_ops no_rbackward = *net->layers[1].ops, none = no_rbackward;
  no_rbackward.rbackward = NULL;
  none.jvp = NULL;
  net->layers[1].ops = &no_rbackward;
  CHECK_FAILS(descent_objective_hvp(obj, &batch, v, out), DESCENT_ENOTSUP,
              "layer2.tanh (tanh) has no second-order backward");
  CHECK_OK(descent_objective_ggnvp(obj, &batch, v, out));
  net->layers[1].ops = &none;
  out[0] = 42;
  CHECK_FAILS(descent_objective_ggnvp(obj, &batch, v, out), DESCENT_ENOTSUP,
              "layer2.tanh (tanh) has no directional derivative (jvp)");
  CHECK(out[0] == 42);
  descent_net_free(net);
  free(v), free(out);

  /* An objective without products says so. */
  descent_objective_ops ops = {.kind = "mine"};
  descent_objective mine = {.ops = &ops};
  CHECK_FAILS(descent_objective_hvp(&mine, NULL, NULL, NULL), DESCENT_ENOTSUP,
              "'mine' offers no Hessian-vector product");
  CHECK_FAILS(descent_objective_ggnvp(&mine, NULL, NULL, NULL), DESCENT_ENOTSUP, "Gauss-Newton");
}

/* The lab's problems: analytic H v against central differences of the
   gradient, at a point off the minimum, on the whole sum and on a batch of
   terms; G v where the problem is a sum of squares. */
static void test_problems(void) {
  /* The quadratics turned, so that their Gauss-Newton matrix is not
     diagonal and Hutchinson's estimate has an error to shrink. */
  static const char *const specs[] = {
      "quad1d", "logcosh",    "nonconvex1d", "quad2d(angle=30)", "quadnd(dim=20, rotate=1)",
      "linreg", "finite_sum", "saddle",      "plateau",          "rosenbrock",
      "beale"};
  for (size_t s = 0; s < sizeof specs / sizeof *specs; s++) {
    descent_objective *obj = NULL;
    CHECK_OK(descent_problem_create(&obj, specs[s]));
    if (!obj) continue;
    size_t n = obj->n_params;
    const descent_problem_info *info = descent_problem_info_get(obj);
    size_t indices[3] = {0, 2, 3};
    descent_batch terms = {.n = 3, .indices = indices};
    const descent_batch *batch = info->n_terms >= 4 ? &terms : NULL;
    descent_real *v = calloc(n, sizeof *v), *hv = calloc(n, sizeof *hv);
    descent_real *g = calloc(n, sizeof *g), *theta = calloc(n, sizeof *theta);
    double *fd = calloc(n, sizeof *fd), loss, worst = 0;
    random_vector(theta, n);
    for (size_t i = 0; i < n; i++) theta[i] = (descent_real)(0.3 + 0.5 * theta[i]);
    for (int trial = 0; trial < 3; trial++) {
      random_vector(v, n);
      memcpy(obj->params, theta, n * sizeof *theta);
      CHECK_OK(descent_objective_hvp(obj, batch, v, hv));
      for (size_t i = 0; i < n; i++) obj->params[i] = (descent_real)(theta[i] + H * v[i]);
      CHECK_OK(descent_objective_value_and_grad(obj, batch, &loss));
      memcpy(g, obj->grad, n * sizeof *g);
      /* The re-evaluation gives the same, into the caller's buffer. */
      double again;
      descent_real *g2 = calloc(n, sizeof *g2);
      obj->grad[0] = 42;
      CHECK_OK(descent_objective_reevaluate(obj, batch, &again, g2));
      CHECK(again == loss && memcmp(g2, g, n * sizeof *g) == 0 && obj->grad[0] == 42);
      free(g2);
      for (size_t i = 0; i < n; i++) obj->params[i] = (descent_real)(theta[i] - H * v[i]);
      CHECK_OK(descent_objective_value_and_grad(obj, batch, &loss));
      for (size_t i = 0; i < n; i++) fd[i] = ((double)g[i] - (double)obj->grad[i]) / (2 * H);
      worst = fmax(worst, rel_error(hv, fd, n));
    }
    CHECK_MSG(worst <= TOL, "%s: Hv relative error %.3g", specs[s], worst);
    printf("%-12s Hv %.2e%s\n", specs[s], worst, batch ? " (batch of 3 terms)" : "");
    /* G: H itself for linear least squares and the quadratics (sums of
       squares of linear residuals), H without the residuals' curvature for
       Rosenbrock (equal at its minimum), refused elsewhere. */
    memcpy(obj->params, theta, n * sizeof *theta);
    int lsq = strcmp(specs[s], "linreg") == 0 || strcmp(specs[s], "finite_sum") == 0 ||
              strncmp(specs[s], "quad2d", 6) == 0 || strncmp(specs[s], "quadnd", 6) == 0;
    if (lsq) {
      descent_real *gv = calloc(n, sizeof *gv);
      CHECK_OK(descent_objective_hvp(obj, batch, v, hv));
      CHECK_OK(descent_objective_ggnvp(obj, batch, v, gv));
      CHECK(memcmp(hv, gv, n * sizeof *gv) == 0);
      free(gv);
    }
    if (lsq || strcmp(specs[s], "rosenbrock") == 0) {
      /* The diagonal: exact, G e_j; Hutchinson's estimate converges. */
      descent_real *diag = calloc(n, sizeof *diag), *e = calloc(n, sizeof *e);
      descent_real *ge = calloc(n, sizeof *ge), *est = calloc(n, sizeof *est);
      CHECK_OK(descent_objective_ggn_diagonal(obj, batch, 0, 0, diag));
      double norm = 0, err[2] = {0};
      for (size_t j = 0; j < n; j++) {
        e[j] = 1;
        CHECK_OK(descent_objective_ggnvp(obj, batch, e, ge));
        e[j] = 0;
        CHECK_CLOSE(diag[j], ge[j], 1e-14);
        norm += (double)ge[j] * ge[j];
      }
      for (int a = 0; a < 2; a++)
        for (uint64_t seed = 1; seed <= 8; seed++) {
          CHECK_OK(descent_objective_ggn_diagonal(obj, batch, a ? 4096 : 64, seed, est));
          for (size_t j = 0; j < n; j++) err[a] += (est[j] - diag[j]) * (est[j] - diag[j]) / norm;
        }
      /* 64 times the samples: an eighth of the error (a 64th of its square);
         Rosenbrock's 2 x 2 G can have an error of 0 for +-1 vectors only when
         it is diagonal, which it is not here. */
      CHECK_MSG(err[1] < err[0] / 16 && err[1] > 0, "%s: Hutchinson error^2 %.3g then %.3g",
                specs[s], err[0], err[1]);
      free(diag), free(e), free(ge), free(est);
    }
    if (strcmp(specs[s], "rosenbrock") == 0) {
      descent_real gv[2], hv2[2], one[2] = {1, 0}, ge[2], he[2];
      CHECK_OK(descent_objective_ggnvp(obj, NULL, one, ge));
      CHECK_OK(descent_objective_hvp(obj, NULL, one, he));
      /* G_00 - H_00 = 4 b (y - x^2), b = 100 by default */
      double x0 = theta[0], r = theta[1] - x0 * x0;
      CHECK_CLOSE(ge[0] - he[0], 400 * r, 1e-12);
      obj->params[0] = 1, obj->params[1] = 1; /* the minimum, a = 1 */
      CHECK_OK(descent_objective_ggnvp(obj, NULL, v, gv));
      CHECK_OK(descent_objective_hvp(obj, NULL, v, hv2));
      CHECK_CLOSE(gv[0], hv2[0], 1e-13);
      CHECK_CLOSE(gv[1], hv2[1], 1e-13);
    } else if (!lsq) {
      CHECK_FAILS(descent_objective_ggnvp(obj, NULL, v, hv), DESCENT_ENOTSUP,
                  "not a sum of squares");
      CHECK_FAILS(descent_objective_ggn_diagonal(obj, NULL, 0, 0, hv), DESCENT_ENOTSUP,
                  "not a sum of squares");
    }
    free(v), free(hv), free(g), free(theta), free(fd);
    descent_objective_free(obj);
  }
}

/* The float build, where finite differences are too coarse: G's symmetry
   on CNNs whose forward passes take the fast kernels (the direct
   convolution, oneDNN where built in), which the tangent of the first
   term of conv's jvp runs through; a jvp that is not the transpose of the
   backward pass breaks it. */
static void test_float_symmetry(void) {
  input = (descent_shape){3, {4, 6, 6}};
  static const char *const cnns[] = {
      "conv(8, 5, pad=2), relu, maxpool(2), dense(3)",
      "conv(8, 3, pad=1), tanh, conv(8, 5, pad=2), batchnorm, relu, dense(3)",
  };
  static descent_real images[BATCH * 4 * 36];
  random_vector(images, BATCH * 4 * 36);
  for (size_t s = 0; s < sizeof cnns / sizeof *cnns; s++) {
    descent_net *net = make(cnns[s], DESCENT_LOSS_SOFTMAX_XENT);
    if (!net) continue;
    descent_objective *obj = descent_net_objective(net);
    descent_batch batch = {.n = BATCH, .x = images, .labels = labels};
    size_t n = obj->n_params;
    descent_real *u = calloc(n, sizeof *u), *v = calloc(n, sizeof *v);
    descent_real *gu = calloc(n, sizeof *gu), *gv = calloc(n, sizeof *gv);
    double loss;
    CHECK_OK(descent_objective_value_and_grad(obj, &batch, &loss));
    random_vector(u, n);
    random_vector(v, n);
    CHECK_OK(descent_objective_ggnvp(obj, &batch, v, gv));
    CHECK_OK(descent_objective_ggnvp(obj, &batch, u, gu));
    double ugv = dot(u, gv, n), vgu = dot(v, gu, n), vgv = dot(v, gv, n);
    double scale = sqrt(dot(u, gu, n) * vgv);
    CHECK_MSG(fabs(ugv - vgu) <= 1e-4 * scale, "%s: u'Gv %.9g, v'Gu %.9g", cnns[s], ugv, vgu);
    CHECK_MSG(vgv > 0, "%s: v'Gv = %g", cnns[s], vgv);
    printf("%-70s u'Gv %.6g v'Gu %.6g\n", cnns[s], ugv, vgu);
    free(u), free(v), free(gu), free(gv);
    descent_net_free(net);
  }
}

int main(void) {
  descent_rng_seed(&rng, 11);
  if (sizeof(descent_real) != sizeof(double)) {
    test_float_symmetry();
    return check_report();
  }
  random_vector(inputs, BATCH * IMAGE);
  for (size_t i = 0; i < BATCH * IMAGE; i++) inputs[i] *= 2;
  random_vector(targets, BATCH * 3);
  test_reevaluation();
  static const char *const specs[] = {
      "dense(3)",
      "dense(7), tanh, dense(3)",
      "dense(7), sigmoid, dense(3)",
      "dense(7), relu, dense(3)",
      "flatten, dense(6), tanh, dense(5, bias=0), sigmoid, dense(3)",
      "dense(8), relu, dropout(p=0.4), dense(5), tanh, dense(3)",
      "dense(6), batchnorm, tanh, dense(5), batchnorm(eps=0.1), sigmoid, dense(3)",
  };
  for (size_t i = 0; i < sizeof specs / sizeof *specs; i++) {
    check_products(specs[i], DESCENT_LOSS_SOFTMAX_XENT);
    check_products(specs[i], DESCENT_LOSS_MSE);
  }
  /* Images of 2 x 5 x 5. */
  input = (descent_shape){3, {2, 5, 5}};
  static const char *const cnns[] = {
      "conv(3, 3, pad=1), tanh, maxpool(2), flatten, dense(3)",
      "conv(2, 3, stride=2, bias=0), sigmoid, avgpool(2, stride=1), dense(3)",
      "conv(4, 2), relu, dropout(p=0.3), conv(2, 2, pad=1), tanh, maxpool(3, stride=2, pad=1), "
      "dense(3)",
      "conv(3, 3, pad=1), batchnorm, relu, maxpool(2), flatten, dense(4), batchnorm, tanh, "
      "dense(3)",
  };
  for (size_t i = 0; i < sizeof cnns / sizeof *cnns; i++) {
    check_products(cnns[i], DESCENT_LOSS_SOFTMAX_XENT);
    check_products(cnns[i], DESCENT_LOSS_MSE);
  }
  input = (descent_shape){1, {IN}};
  test_linear_h_equals_g();
  test_refusals();
  test_registered_kinds();
  test_diagonal();
  test_problems();
  return check_report();
}
