/*
 * test_optim_layout.c - the optimizer's layout of tensors and the step of a
 * chain with a per-tensor transform (trust_ratio: lamb, lars; novograd).
 *
 * The layout's refusals (out of order, overlapping, a gap, short, a shape
 * that is not the size, a change after the first step); the trust ratio
 * against a reference written here from optax's formula, tensor by tensor,
 * with zero norms; the same bits at 1, 2 and 4 threads and at every block
 * size (the sums go by slices in a fixed order), on tensors large enough
 * for the step's threads to split their blocks, also for the global
 * transforms with several sums (prodigy, dadapt_adamw); a flat chain that ignores
 * the layout; sharding refused; the layout taken from the objective, or a
 * single tensor without one. Whole-tensor chains (muon): a 1-D tensor
 * refused with its name and the fix, sharding refused, the same bits at 1,
 * 2 and 4 threads with the whole-tensor stage first, in the middle and
 * last, and Newton-Schulz's normalization and orthogonalization.
 */
#include "check.h"
#include "optim/optimizer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static descent_tensor_info tensor(const char *name, size_t offset, size_t rows, size_t cols) {
  descent_tensor_info t = {.offset = offset, .size = rows * cols};
  snprintf(t.name, sizeof t.name, "%s", name);
  t.shape = cols > 1 ? (descent_shape){2, {rows, cols}} : (descent_shape){1, {rows}};
  return t;
}

static void check_refusals(void) {
  descent_optimizer *opt = NULL;
  CHECK_OK(descent_optimizer_create(&opt, "lamb", NULL, 30));
  if (!opt) return;
  descent_tensor_info t[3] = {tensor("w", 0, 4, 5), tensor("b", 20, 4, 1), tensor("c", 24, 6, 1)};
  CHECK_FAILS(descent_optimizer_set_tensors(opt, t, 0), DESCENT_EINVAL, "no tensors");
  t[1].offset = 19;
  CHECK_FAILS(descent_optimizer_set_tensors(opt, t, 3), DESCENT_EINVAL,
              "tensor 1 (b) starts at 19, where it overlaps the previous one");
  t[1].offset = 21;
  CHECK_FAILS(descent_optimizer_set_tensors(opt, t, 3), DESCENT_EINVAL, "a gap precedes it");
  t[1].offset = 20;
  CHECK_FAILS(descent_optimizer_set_tensors(opt, t, 2), DESCENT_EINVAL,
              "cover 24 of the 30 parameters");
  t[2].size = 7;
  CHECK_FAILS(descent_optimizer_set_tensors(opt, t, 3), DESCENT_EINVAL,
              "the product of its shape's dimensions is not its size");
  t[2].shape.dims[0] = 7;
  CHECK_FAILS(descent_optimizer_set_tensors(opt, t, 3), DESCENT_EINVAL, "ends past the 30");
  t[2] = tensor("c", 24, 6, 1);
  t[0].shape.ndim = 0;
  CHECK_FAILS(descent_optimizer_set_tensors(opt, t, 3), DESCENT_EINVAL, "ndim");
  t[0] = tensor("w", 0, 4, 5);
  t[1].size = 0;
  CHECK_FAILS(descent_optimizer_set_tensors(opt, t, 3), DESCENT_EINVAL, "empty (size 0)");
  t[1] = tensor("b", 20, 4, 1);
  memset(t[1].name, 'x', sizeof t[1].name);
  CHECK_FAILS(descent_optimizer_set_tensors(opt, t, 3), DESCENT_EINVAL, "not NUL-terminated");
  t[1] = tensor("b", 20, 4, 1);
  size_t count = 7;
  CHECK(descent_optimizer_tensors(opt, &count) == NULL && count == 0);
  CHECK_OK(descent_optimizer_set_tensors(opt, t, 3));
  CHECK(descent_optimizer_tensors(opt, &count) != NULL && count == 3);
  CHECK(descent_optimizer_uses_tensors(opt));

  /* A step fixes the layout: the same again is fine, another is refused. */
  descent_real p[30], g[30];
  for (int i = 0; i < 30; i++) p[i] = (descent_real)(i - 10), g[i] = (descent_real)(i % 4 - 1.5);
  CHECK_OK(descent_optimizer_step_buffers(opt, p, g, 30));
  CHECK_OK(descent_optimizer_set_tensors(opt, t, 3));
  descent_tensor_info two[2] = {tensor("w", 0, 4, 6), tensor("c", 24, 6, 1)};
  CHECK_FAILS(descent_optimizer_set_tensors(opt, two, 2), DESCENT_EINVAL,
              "has taken 1 steps with another layout (tensor 0 differs)");
  descent_optimizer_free(opt);

  /* An objective's table is checked as set_tensors checks it. */
  CHECK_OK(descent_optimizer_create(&opt, "lars", NULL, 30));
  if (!opt) return;
  descent_objective obj = {.n_params = 30, .params = p, .grad = g, .n_tensors = 2, .tensors = t};
  CHECK_FAILS(descent_optimizer_step(opt, &obj), DESCENT_EINVAL,
              "the objective's tensors: the tensors cover 24 of the 30 parameters");
  CHECK(descent_optimizer_steps(opt) == 0);
  descent_optimizer_free(opt);

  /* Sharding: a shard's edge could cut a tensor. */
  CHECK_OK(descent_optimizer_create(&opt, "l2(0.1) | trust_ratio | lr(0.1)", NULL, 30));
  if (!opt) return;
  CHECK_FAILS(descent_optimizer_set_shard(opt, 0, 15, NULL, NULL), DESCENT_EINVAL,
              "transform trust_ratio works per tensor");
  descent_optimizer_free(opt);
  CHECK_OK(descent_optimizer_create(&opt, "novograd", NULL, 30));
  if (!opt) return;
  CHECK_FAILS(descent_optimizer_set_shard(opt, 0, 15, NULL, NULL), DESCENT_EINVAL,
              "transform novograd works per tensor");
  descent_optimizer_free(opt);
}

/* "trust_ratio | lr(1)" from theta and g, tensor by tensor, as optax writes
   it: u = g ||theta|| / ||g||, 1 where a norm is 0; theta - u. */
static void check_trust_ratio_formula(void) {
  enum { N = 5000 };
  descent_tensor_info t[4] = {tensor("w", 0, 40, 100), tensor("zero_theta", 4000, 300, 1),
                              tensor("zero_grad", 4300, 200, 1), tensor("v", 4500, 500, 1)};
  descent_real *p = malloc(N * sizeof *p), *g = malloc(N * sizeof *g),
               *want = malloc(N * sizeof *want);
  descent_optimizer *opt = NULL;
  CHECK_OK(descent_optimizer_create(&opt, "trust_ratio | lr(1)", NULL, N));
  if (!opt || !p || !g || !want) goto done;
  for (size_t i = 0; i < N; i++) {
    p[i] = (descent_real)(sin((double)i) * (i < 4000 ? 1 : 3));
    g[i] = (descent_real)(cos(0.37 * (double)i) * 1e-3);
    if (i >= 4000 && i < 4300) p[i] = 0;
    if (i >= 4300 && i < 4500) g[i] = 0;
  }
  for (int k = 0; k < 4; k++) {
    double pp = 0, gg = 0;
    for (size_t i = t[k].offset; i < t[k].offset + t[k].size; i++)
      pp += (double)p[i] * p[i], gg += (double)g[i] * g[i];
    double ratio = pp == 0 || gg == 0 ? 1 : sqrt(pp) / sqrt(gg);
    for (size_t i = t[k].offset; i < t[k].offset + t[k].size; i++)
      want[i] = p[i] + (descent_real)-1 * (g[i] * (descent_real)ratio);
  }
  CHECK_OK(descent_optimizer_set_tensors(opt, t, 4));
  CHECK_OK(descent_optimizer_step_buffers(opt, p, g, N));
  double worst = 0;
  for (size_t i = 0; i < N; i++) {
    double err = fabs((double)p[i] - (double)want[i]) / fmax(fabs((double)want[i]), 1);
    if (err > worst) worst = err;
  }
  CHECK_MSG(worst <= (sizeof(descent_real) == 8 ? 1e-13 : 1e-6),
            "trust_ratio against its formula: worst error %.3g (relative; absolute below 1)",
            worst);
  /* The zero-norm tensors moved by g itself (ratio 1) or not at all. */
  CHECK(p[4100] == (descent_real)0 - g[4100] && p[4400] == want[4400]);
done:
  descent_optimizer_free(opt);
  free(p), free(g), free(want);
}

/* LAMB on large tensors (the step's threads split their blocks): one
   digest of the parameters after some steps, at a thread count and block
   size. The same for the global transforms with two sums per block
   (prodigy, dadapt_adamw), after a per-tensor transform (the layout's step)
   and alone (the flat step). */
enum { BIG = 3 * 2048 * 128 + 333 };

static const char *const big_specs[] = {
    "clip(10) | optax_adam | wd(0.01) | trust_ratio | lr(0.01)",
    "trust_ratio | prodigy(estim_lr0=1e-3, estim_lr_coef=1000, weight_decay=0.01, lr=1)",
    "clip(1) | dadapt_adamw(estim_lr0=1e-3, lr=1)",
    "prodigy(estim_lr_coef=100)",
    "novograd(weight_decay=0.01) | lr(0.01)",
};

static void run_big(const char *spec, int threads, size_t block_size, descent_real *out) {
  descent_tensor_info t[3] = {tensor("w", 0, 1000, 700), tensor("b", 700000, 77, 1),
                              tensor("w2", 700077, BIG - 700077, 1)};
  descent_optimizer *opt = NULL;
  descent_real *g = malloc(BIG * sizeof *g);
  CHECK_OK(descent_optimizer_create(&opt, spec, NULL, BIG));
  if (!opt || !g) goto done;
  CHECK_OK(descent_optimizer_set_threads(opt, threads));
  CHECK_OK(optimizer_set_block_size(opt, block_size));
  CHECK_OK(descent_optimizer_set_tensors(opt, t, 3));
  for (size_t i = 0; i < BIG; i++) out[i] = (descent_real)sin(0.001 * (double)i + 1);
  const double d0 = opt->chain[opt->n_transforms - 1].persist[0];
  for (int s = 0; s < 3; s++) {
    for (size_t i = 0; i < BIG; i++)
      g[i] =
          (descent_real)((cos(0.37 * (double)i) + 0.5 * cos((double)(i * (size_t)(s + 3)))) * 1e-2);
    CHECK_OK(descent_optimizer_step_buffers(opt, out, g, BIG));
  }
  /* d (the last transform's persistent scalar 0) must rise for the sums to
     matter to the result: the gradients share a direction. */
  if (opt->chain[opt->n_transforms - 1].def->global_sums)
    CHECK_MSG(opt->chain[opt->n_transforms - 1].persist[0] > d0, "%s: d stayed at %g", spec, d0);
done:
  descent_optimizer_free(opt);
  free(g);
}

static void check_threads_and_blocks(const char *spec) {
  descent_real *first = malloc(BIG * sizeof *first), *other = malloc(BIG * sizeof *other);
  if (!first || !other) exit(2);
  static const struct {
    int threads;
    size_t block;
  } runs[] = {{2, OPTIMIZER_BLOCK}, {4, OPTIMIZER_BLOCK}, {1, 512}, {2, 1024}, {3, 8192}};
  for (size_t k = 0; k < sizeof big_specs / sizeof big_specs[0]; k++) {
    run_big(big_specs[k], 1, OPTIMIZER_BLOCK, first);
    for (size_t r = 0; r < sizeof runs / sizeof runs[0]; r++) {
      run_big(big_specs[k], runs[r].threads, runs[r].block, other);
      size_t differ = 0;
      for (size_t i = 0; i < BIG; i++) differ += memcmp(&first[i], &other[i], sizeof *first) != 0;
      CHECK_MSG(differ == 0,
                "%s: %d threads, blocks of %zu: %zu of %d parameters differ from 1 thread",
                big_specs[k], runs[r].threads, runs[r].block, differ, BIG);
    }
  }
  descent_optimizer *opt = NULL;
  CHECK_OK(descent_optimizer_create(&opt, "lamb", NULL, 10));
  if (opt) {
    CHECK_FAILS(optimizer_set_block_size(opt, 700), DESCENT_EINVAL, "multiple of 512");
    descent_optimizer_free(opt);
  }
  free(first), free(other);
}

/* A flat chain keeps its flat step: a layout changes no bit. A per-tensor
   chain without any table steps on one tensor of every parameter, which is
   what a one-tensor table gives. */
static void check_defaults(void) {
  enum { N = 3000 };
  descent_real p[3][N], g[N];
  for (size_t i = 0; i < N; i++) g[i] = (descent_real)cos((double)i);
  descent_tensor_info split[2] = {tensor("a", 0, 1000, 1), tensor("b", 1000, 20, 100)};
  descent_tensor_info whole[1] = {tensor("all", 0, N, 1)};
  for (int spec = 0; spec < 2; spec++) {
    for (int k = 0; k < 3; k++) {
      descent_optimizer *opt = NULL;
      CHECK_OK(descent_optimizer_create(&opt, spec ? "lars" : "adam", NULL, N));
      if (!opt) return;
      for (size_t i = 0; i < N; i++) p[k][i] = (descent_real)sin((double)i);
      if (k == 1) CHECK_OK(descent_optimizer_set_tensors(opt, spec ? whole : split, spec ? 1 : 2));
      descent_objective obj = {.n_params = N, .params = p[k], .grad = g};
      for (int s = 0; s < 4; s++)
        CHECK_OK(k == 2 ? descent_optimizer_step_buffers(opt, p[k], g, N)
                        : descent_optimizer_step(opt, &obj));
      size_t count = 0;
      const descent_tensor_info *got = descent_optimizer_tensors(opt, &count);
      if (spec && k != 1) CHECK(count == 1 && got && got[0].size == N);
      if (!spec && k != 1) CHECK(count == 0);
      descent_optimizer_free(opt);
    }
    CHECK_MSG(memcmp(p[0], p[1], sizeof p[0]) == 0 && memcmp(p[0], p[2], sizeof p[0]) == 0,
              "%s: the layout changed the step", spec ? "lars" : "adam");
  }
}

/* ---- whole-tensor transforms (muon) ------------------------------------------ */

/* A layout with a 1-D tensor is refused with the tensor's name and the fix,
   when set and at the first step of an optimizer that has none; sharding
   is refused. */
static void check_whole_tensor_refusals(void) {
  descent_optimizer *opt = NULL;
  CHECK_OK(descent_optimizer_create(&opt, "muon", NULL, 30));
  if (!opt) return;
  CHECK(descent_optimizer_uses_tensors(opt));
  descent_tensor_info t[3] = {tensor("w", 0, 4, 5), tensor("b", 20, 4, 1), tensor("c", 24, 2, 3)};
  CHECK_FAILS(descent_optimizer_set_tensors(opt, t, 3), DESCENT_EINVAL,
              "descent_optimizer_set_tensors: tensor 1 (b): it is 1-D (a bias, or a norm's "
              "scale), and transform newton_schulz takes only matrices (2-D, or conv kernels read "
              "as out x in*kh*kw): use parameter groups: muon for the 2-D weights, adamw for the "
              "rest");
  size_t count = 7;
  CHECK(descent_optimizer_tensors(opt, &count) == NULL && count == 0);
  /* Without a table: one 1-D tensor of every parameter, refused at the step. */
  descent_real p[30] = {0}, g[30] = {0};
  CHECK_FAILS(descent_optimizer_step_buffers(opt, p, g, 30), DESCENT_EINVAL,
              "optimizer: tensor 0 (params): it is 1-D");
  CHECK(descent_optimizer_steps(opt) == 0);
  t[1] = tensor("b", 20, 2, 2);
  t[2] = tensor("c", 24, 3, 2);
  CHECK_OK(descent_optimizer_set_tensors(opt, t, 3));
  CHECK_FAILS(descent_optimizer_set_shard(opt, 0, 15, NULL, NULL), DESCENT_EINVAL,
              "transform newton_schulz works per tensor");
  CHECK_OK(descent_optimizer_step_buffers(opt, p, g, 30));
  descent_optimizer_free(opt);
}

enum { MATRICES = 64 * 200 + 200 * 64 + 8 * 27 + 50 * 50 + 10 * 700 };

/* A chain with a whole-tensor stage on five matrices (wide, tall, a conv
   kernel, square, very wide) after some steps, at a thread count. */
static void run_whole(const char *spec, int threads, descent_real *out) {
  descent_tensor_info t[5] = {tensor("a", 0, 64, 200), tensor("b", 12800, 200, 64),
                              tensor("k", 25600, 8, 27), tensor("s", 25816, 50, 50),
                              tensor("v", 28316, 10, 700)};
  t[2].shape = (descent_shape){4, {8, 3, 3, 3}};
  descent_optimizer *opt = NULL;
  descent_real *g = malloc(MATRICES * sizeof *g);
  CHECK_OK(descent_optimizer_create(&opt, spec, NULL, MATRICES));
  if (!opt || !g) goto done;
  CHECK_OK(descent_optimizer_set_threads(opt, threads));
  CHECK_OK(descent_optimizer_set_tensors(opt, t, 5));
  for (size_t i = 0; i < MATRICES; i++) out[i] = (descent_real)sin(0.001 * (double)i + 1);
  for (int s = 0; s < 3; s++) {
    for (size_t i = 0; i < MATRICES; i++)
      g[i] = (descent_real)(cos((double)(i * (size_t)(s + 3))) * (i < 25600 ? 1e-2 : 10));
    CHECK_OK(descent_optimizer_step_buffers(opt, out, g, MATRICES));
  }
done:
  descent_optimizer_free(opt);
  free(g);
}

/* Each tensor on one thread, its products on that thread: the same bits at
   1, 2 and 4 threads, with the whole-tensor stage first, in the middle
   (before a global and a per-tensor reduction) and last. */
static void check_whole_tensor_threads(void) {
  static const char *const specs[] = {
      "muon",
      "clip(1) | muon_momentum(0.9, nesterov=0) | newton_schulz(steps=3) | clip(0.5) | "
      "trust_ratio | lr(0.1)",
      "newton_schulz | muon_lr(weight_decay=0.01, adjust_lr=1, lr=0.02)",
      "shampoo(grafting=4, max_preconditioner_dim=16) | lr(0.01)",
      "clip(1) | soap(precondition_frequency=2, lr=0.01)",
  };
  descent_real *first = malloc(MATRICES * sizeof *first), *other = malloc(MATRICES * sizeof *other);
  if (!first || !other) exit(2);
  for (size_t k = 0; k < sizeof specs / sizeof specs[0]; k++) {
    run_whole(specs[k], 1, first);
    for (int threads = 2; threads <= 4; threads += 2) {
      run_whole(specs[k], threads, other);
      size_t differ = 0;
      for (size_t i = 0; i < MATRICES; i++)
        differ += memcmp(&first[i], &other[i], sizeof *first) != 0;
      CHECK_MSG(differ == 0, "%s, %d threads: %zu of %d parameters differ from 1 thread", specs[k],
                threads, differ, MATRICES);
    }
  }
  free(first), free(other);
}

/* newton_schulz(steps=0) | lr(1) on one matrix: theta - g / ||g||_F, the
   normalization alone; and with the default steps, the singular values of
   a matrix pushed towards 1 (X X^T near the identity, within the quintic's
   band of about 0.7 to 1.2). */
static void check_newton_schulz_formula(void) {
  enum { R = 3, C = 5 };
  descent_real p[R * C], g[R * C];
  descent_tensor_info t = tensor("w", 0, R, C);
  double norm = 0;
  for (int i = 0; i < R * C; i++) {
    g[i] = (descent_real)(0.3 * sin(1.7 * i) + (i % C == i / C ? 1 : 0));
    norm += (double)g[i] * (double)g[i];
  }
  norm = sqrt(norm);
  descent_optimizer *opt = NULL;
  CHECK_OK(descent_optimizer_create(&opt, "newton_schulz(steps=0) | lr(1)", NULL, R * C));
  if (!opt) return;
  CHECK_OK(descent_optimizer_set_tensors(opt, &t, 1));
  memset(p, 0, sizeof p);
  CHECK_OK(descent_optimizer_step_buffers(opt, p, g, R * C));
  for (int i = 0; i < R * C; i++)
    CHECK_CLOSE((double)p[i], -(double)(g[i] / (descent_real)norm), 1e-6);
  descent_optimizer_free(opt);
  CHECK_OK(descent_optimizer_create(&opt, "newton_schulz | lr(1)", NULL, R * C));
  if (!opt) return;
  CHECK_OK(descent_optimizer_set_tensors(opt, &t, 1));
  memset(p, 0, sizeof p);
  CHECK_OK(descent_optimizer_step_buffers(opt, p, g, R * C));
  for (int i = 0; i < R; i++) {
    double dot = 0;
    for (int k = 0; k < C; k++) dot += (double)p[i * C + k] * (double)p[i * C + k];
    CHECK_MSG(dot > 0.5 && dot < 1.5, "row %d of the orthogonalized matrix has norm^2 %g", i, dot);
  }
  descent_optimizer_free(opt);
}

int main(void) {
  check_whole_tensor_refusals();
  check_whole_tensor_threads();
  check_newton_schulz_formula();
  check_refusals();
  check_trust_ratio_formula();
  check_threads_and_blocks("clip(10) | optax_adam | wd(0.01) | trust_ratio | lr(0.01)");
  check_threads_and_blocks("clip(10) | novograd(weight_decay=0.01) | lr(0.01)");
  check_defaults();
  return check_report();
}
