/*
 * curvature_cost.c - the cost of one curvature-vector product relative to
 * one gradient: for a network on a batch of 128 random examples (the cost
 * does not depend on the values), the fastest of STEPS calls each of
 * value_and_grad, ggnvp (G v), hvp (H v) and the Gauss-Newton diagonal
 * (one Monte-Carlo sample, and exact: one backward pass per class), and the
 * ratios. The
 * R-operator's bound: G v is a forward pass, a forward-mode pass and a
 * backward pass, about 2x a gradient (whose backward costs about 2x its
 * forward); H v adds the backward pass's own R-operator, about 3x.
 * bench/curvature_cost.sh builds and runs it on the big MLP and the CNN.
 *
 * usage: curvature_cost MODEL THREADS STEPS (MODEL: a spec on 1x28x28)
 * Prints: curvature-cost model=M threads=T grad_ms=G ggnvp_ms=A ratio=A/G
 *         hvp_ms=B ratio=B/G diag1_ms=C ratio=C/G diag_ms=D ratio=D/G
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime under -std=c11 */

#include "descent.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "timing.h"

enum { BATCH = 128 };

static void fail(const char *what) {
  fprintf(stderr, "curvature_cost: %s: %s\n", what, descent_last_error());
  exit(1);
}

/* The fastest of steps calls of one operation (0 gradient, 1 G v, 2 H v,
   3 the diagonal from one sample, 4 the exact diagonal), in
   milliseconds. */
static double best_ms(descent_objective *obj, const descent_batch *batch, int op, int steps,
                      const descent_real *v, descent_real *out) {
  double best = 1e30, loss;
  for (int s = 0; s < steps; s++) {
    double t0 = now();
    int rc = op == 0   ? descent_objective_value_and_grad(obj, batch, &loss)
             : op == 1 ? descent_objective_ggnvp(obj, batch, v, out)
             : op == 2 ? descent_objective_hvp(obj, batch, v, out)
                       : descent_objective_ggn_diagonal(obj, batch, op == 3 ? 1 : 0, 1, out);
    double t = now() - t0;
    if (rc) fail(op == 0 ? "gradient" : op == 1 ? "ggnvp" : op == 2 ? "hvp" : "ggn_diagonal");
    if (t < best) best = t;
  }
  return best * 1e3;
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: curvature_cost MODEL THREADS STEPS\n");
    return 2;
  }
  int threads = atoi(argv[2]), steps = atoi(argv[3]);
  descent_shape in = {3, {1, 28, 28}};
  descent_net *net = NULL;
  if (descent_cpu_setup() ||
      descent_net_create(&net, argv[1], &in, DESCENT_LOSS_SOFTMAX_XENT, BATCH, 1))
    fail("network");
  if (descent_net_set_threads(net, threads)) fail("threads");
  descent_objective *obj = descent_net_objective(net);
  descent_rng rng;
  descent_rng_seed(&rng, 1);
  size_t n = obj->n_params;
  descent_real *x = malloc(BATCH * 784 * sizeof *x), *v = malloc(n * sizeof *v),
               *out = malloc(n * sizeof *out);
  int32_t labels[BATCH];
  if (!x || !v || !out) fail("memory");
  for (size_t i = 0; i < BATCH * 784; i++) x[i] = (descent_real)descent_rng_uniform(&rng);
  for (size_t i = 0; i < n; i++) v[i] = (descent_real)descent_rng_normal(&rng);
  for (int i = 0; i < BATCH; i++) labels[i] = (int32_t)descent_rng_below(&rng, 10);
  descent_batch batch = {.n = BATCH, .x = x, .labels = labels};
  double grad = best_ms(obj, &batch, 0, steps, v, out);
  double ggn = best_ms(obj, &batch, 1, steps, v, out);
  double hess = best_ms(obj, &batch, 2, steps, v, out);
  double diag1 = best_ms(obj, &batch, 3, steps, v, out);
  double diag = best_ms(obj, &batch, 4, steps, v, out);
  printf("curvature-cost model=%s threads=%d grad_ms=%.3f ggnvp_ms=%.3f ratio=%.2f hvp_ms=%.3f "
         "ratio=%.2f diag1_ms=%.3f ratio=%.2f diag_ms=%.3f ratio=%.2f\n",
         argv[1], threads, grad, ggn, ggn / grad, hess, hess / grad, diag1, diag1 / grad, diag,
         diag / grad);
  free(x), free(v), free(out);
  descent_net_free(net);
  return 0;
}
