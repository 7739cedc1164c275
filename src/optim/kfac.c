/*
 * kfac.c - K-FAC, Martens & Grosse 2015, "Optimizing neural networks with
 * Kronecker-factored approximate curvature", for the dense layers of a
 * network, and its conv layers as KFC (Grosse & Martens 2016, "A
 * Kronecker-factored approximate Fisher matrix for convolution layers").
 *
 * A dense layer's block of the Fisher is approximated by A (x) G, with
 * A = E[a a^T] over its inputs a (a 1 appended for the bias, so the bias
 * is preconditioned with its weights) and G = E[d d^T] over the
 * per-example gradients d of the loss at its outputs, under labels drawn
 * from the model's softmax (the true Fisher; fisher=empirical takes the
 * batch's labels). Both are running averages with weight
 * eps = min(1 - 1/k, decay) for the k-th estimate (Martens & Grosse
 * section 5, so the first estimate is taken whole). Every inv_every steps
 * the damped factors are inverted by Cholesky (LAPACK dpotrf/dpotri, in
 * double) with factored Tikhonov damping and the pi correction (section
 * 6.3): (A + pi sqrt(lambda) I)^-1 and (G + sqrt(lambda) / pi I)^-1,
 * pi = sqrt((tr A / dim A) / (tr G / dim G)). The layer's gradient
 * V = [dW | db] (out x (in + 1)) becomes G^-1 V A^-1; every other parameter
 * (batch norm, registered kinds) keeps its plain gradient.
 *
 * A conv layer's weights {out, c, k, k} read as out x (c k k), and KFC's
 * approximation F = |T| Omega (x) Gamma (independent, spatially
 * homogeneous and uncorrelated derivatives over the |T| output positions)
 * takes A = Omega, the mean of [patch 1][patch 1]^T over the examples and
 * positions, and G = |T| Gamma, the mean over the examples of the sum over
 * the positions of d d^T (network_kfac.c gives both sums).
 *
 * The factors' running
 * averages and inverses are kept in double; the per-step products (the
 * batch's sums, and G^-1 V A^-1) run in the build's precision, as the
 * network's own products do.
 *
 * Then, as kfac-pytorch (alecwangcq/KFAC-Pytorch, optimizers/kfac.py)
 * does: the KL clip of Ba, Grosse & Martens 2017 scales the whole update v
 * by nu = min(1, sqrt(kl_clip / (lr^2 sum v.g))), weight decay adds
 * weight_decay theta, and SGD's momentum (buf = momentum buf + v, the first
 * step buf = v) moves theta by -lr buf. Unlike kfac-pytorch, the KL sum and
 * nu cover every parameter, not only the preconditioned ones (the same for
 * a network of dense layers only).
 *
 * Randomness: the drawn labels come from a generator seeded by the seed
 * hyperparameter and the step count, so a resumed run draws the same ones.
 */
#include "method.h"

#include "nn/network_kfac.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef descent_real real;

/* hyperparameters, in params order */
enum {
  KF_DAMPING,
  KF_DECAY,
  KF_INV_EVERY,
  KF_STAT_EVERY,
  KF_MOMENTUM,
  KF_KL_CLIP,
  KF_WEIGHT_DECAY,
  KF_SEED,
  KF_FISHER,
  KF_N
};

/* One dense or conv layer's factors. */
typedef struct block {
  net_kfac_layer shape;
  size_t in1;              /* inputs, plus 1 with a bias */
  double *a, *g;           /* running A (in1 x in1) and G (out x out) */
  double *a_inv, *g_inv;   /* their damped inverses at the last refresh */
  real *a_inv_r, *g_inv_r; /* the same in the build's precision, for the products */
} block;

enum { HAS_INVERSES = 1, HAS_MOMENTUM = 2, BOUND = 4 };

struct method_state {
  size_t n;
  int flags;
  int64_t steps, evaluations, products, estimates;
  size_t n_blocks; /* the network's dense and conv layers, once bound */
  block *blocks;
  real *momentum, *update;
  /* scratch, not saved */
  real *v, *t;       /* a layer's gradient and G^-1 V: out x in1 */
  real *a_sq, *g_sq; /* a batch's sums for A and G (network_kfac.h) */
  double eps;        /* the running averages' weight of this estimate */
};

/* ---- the state ---------------------------------------------------------------- */

static void blocks_free(block *b, size_t count) {
  for (size_t i = 0; b && i < count; i++) {
    free(b[i].a);
    free(b[i].g);
    free(b[i].a_inv);
    free(b[i].g_inv);
    descent_free_real(b[i].a_inv_r);
    descent_free_real(b[i].g_inv_r);
  }
  free(b);
}

static void kfac_destroy(method_state *st) {
  if (!st) return;
  blocks_free(st->blocks, st->n_blocks);
  descent_free_real(st->momentum);
  descent_free_real(st->update);
  descent_free_real(st->v);
  descent_free_real(st->t);
  descent_free_real(st->a_sq);
  descent_free_real(st->g_sq);
  free(st);
}

static method_state *kfac_create(const double *hp, size_t n) {
  (void)hp;
  method_state *st = descent_calloc(1, sizeof *st, "kfac state");
  if (!st) return NULL;
  st->n = n;
  size_t len = n ? n : 1;
  st->momentum = descent_alloc_real(len, "kfac momentum");
  st->update = descent_alloc_real(len, "kfac update");
  if (!st->momentum || !st->update) {
    kfac_destroy(st);
    return NULL;
  }
  return st;
}

/* Blocks for these layers, their factors zero; NULL on failure. */
static block *blocks_make(const net_kfac_layer *layers, size_t count) {
  block *b = descent_calloc(count ? count : 1, sizeof *b, "kfac factors");
  for (size_t i = 0; b && i < count; i++) {
    b[i].shape = layers[i];
    b[i].in1 = layers[i].in + (layers[i].bias ? 1 : 0);
    size_t in1 = b[i].in1, out = layers[i].out;
    b[i].a = descent_calloc(in1 * in1, sizeof(double), "kfac factor A");
    b[i].g = descent_calloc(out * out, sizeof(double), "kfac factor G");
    b[i].a_inv = descent_calloc(in1 * in1, sizeof(double), "kfac inverse of A");
    b[i].g_inv = descent_calloc(out * out, sizeof(double), "kfac inverse of G");
    b[i].a_inv_r = descent_alloc_real(in1 * in1, "kfac inverse of A");
    b[i].g_inv_r = descent_alloc_real(out * out, "kfac inverse of G");
    if (!b[i].a || !b[i].g || !b[i].a_inv || !b[i].g_inv || !b[i].a_inv_r || !b[i].g_inv_r) {
      blocks_free(b, i + 1);
      return NULL;
    }
  }
  return b;
}

/* The scratch for the blocks' products (out x in1 numbers, twice) and for
   a batch's sums of the widest factors. */
static int product_scratch(method_state *st) {
  size_t most = 1, a_most = 1, g_most = 1;
  for (size_t i = 0; i < st->n_blocks; i++) {
    const block *b = &st->blocks[i];
    if (b->shape.out * b->in1 > most) most = b->shape.out * b->in1;
    if (b->in1 * b->in1 > a_most) a_most = b->in1 * b->in1;
    if (b->shape.out * b->shape.out > g_most) g_most = b->shape.out * b->shape.out;
  }
  descent_free_real(st->v);
  descent_free_real(st->t);
  descent_free_real(st->a_sq);
  descent_free_real(st->g_sq);
  st->v = descent_alloc_real(most, "kfac scratch");
  st->t = descent_alloc_real(most, "kfac scratch");
  st->a_sq = descent_alloc_real(a_most, "kfac scratch");
  st->g_sq = descent_alloc_real(g_most, "kfac scratch");
  return st->v && st->t && st->a_sq && st->g_sq ? DESCENT_OK : DESCENT_ENOMEM;
}

/* Refuses, before anything is allocated, a layer whose factor cannot be
   inverted (or, near the limit, held): one clear line instead of a failed
   allocation of tens of gigabytes. The widest factor kept is
   descent_spd_inverse's limit, DESCENT_LAPACK_MAX_DIM; 46000^2 doubles are
   17 GB, and a factor is kept with its inverse. */
static int check_widths(const net_kfac_layer *layers, size_t count) {
  for (size_t k = 0; k < count; k++) {
    const net_kfac_layer *l = &layers[k];
    size_t in1 = l->in + (l->bias ? 1 : 0), wide = in1 > l->out ? in1 : l->out;
    if (wide > DESCENT_LAPACK_MAX_DIM)
      return descent_fail(DESCENT_ERANGE,
                          "kfac: dense or conv layer %zu (%zu inputs%s, %zu outputs) needs a %zu x "
                          "%zu factor (%.3g GB of doubles, and as much again for its inverse); "
                          "K-FAC inverts factors of at most %d rows: narrow the layer, or use an "
                          "optimizer without factors (sdlm, adam)",
                          k + 1, l->in, l->bias ? " and a bias" : "", l->out, wide, wide,
                          (double)wide * (double)wide * 8 / 1e9, DESCENT_LAPACK_MAX_DIM);
  }
  return DESCENT_OK;
}

static int same_shape(const net_kfac_layer *a, const net_kfac_layer *b) {
  return a->in == b->in && a->out == b->out && a->bias == b->bias && a->offset == b->offset;
}

/* Binds the state to the network's dense and conv layers at the first step, or
   checks that a loaded state's are the network's. */
static int bind(method_state *st, descent_net *net) {
  size_t count = net_kfac_layers(net, NULL, 0);
  net_kfac_layer *layers = descent_calloc(count ? count : 1, sizeof *layers, "kfac layers");
  if (!layers) return DESCENT_ENOMEM;
  net_kfac_layers(net, layers, count);
  int rc = DESCENT_OK;
  if (st->flags & BOUND) {
    int same = count == st->n_blocks;
    for (size_t i = 0; same && i < count; i++) same = same_shape(&layers[i], &st->blocks[i].shape);
    if (!same)
      rc = descent_fail(
          DESCENT_ESHAPE,
          "kfac: the optimizer state holds factors of %zu dense and conv layers that are not "
          "this network's %zu; resume with the network the state was saved with",
          st->n_blocks, count);
  } else if (!(rc = check_widths(layers, count))) {
    block *b = blocks_make(layers, count);
    if (!b) rc = DESCENT_ENOMEM;
    if (!rc) {
      st->blocks = b;
      st->n_blocks = count;
      st->flags |= BOUND;
    }
  }
  free(layers);
  if (!rc && !st->v) rc = product_scratch(st);
  return rc;
}

/* ---- the factors ------------------------------------------------------------------ */

/* m <- keep m + take (sq + sq^T) / 2, the batch's square sq (the product
   leaves rounding-level asymmetry) folded into the running average. */
static void fold(double *m, const real *sq, size_t n, double keep, double take) {
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < n; j++)
      m[i * n + j] = keep * m[i * n + j] + take * 0.5 * ((double)sq[i * n + j] + sq[j * n + i]);
}

/* net_kfac_visit: folds one layer's batch into its running A and G:
   A <- eps A + (1 - eps) a_sq / a_rows, G likewise. The batch's sums come
   in the build's precision, the averages are kept in double. */
static void accumulate(void *user, size_t k, const descent_real *a_sq, size_t a_rows,
                       const descent_real *g_sq, size_t g_rows) {
  method_state *st = user;
  block *b = &st->blocks[k];
  double keep = st->eps;
  fold(b->a, a_sq, b->in1, keep, (1 - keep) / (double)a_rows);
  fold(b->g, g_sq, b->shape.out, keep, (1 - keep) / (double)g_rows);
}

static double mean_trace(const double *m, size_t n) {
  double sum = 0;
  for (size_t i = 0; i < n; i++) sum += m[i * n + i];
  return sum / (double)n;
}

/* Martens & Grosse's pi for factors a (n x n) and g (m x m): the square
   root of the ratio of their mean eigenvalues; 1 when either is 0 or not
   finite (a layer whose inputs or output gradients are all zero). */
double kfac_pi(const double *a, size_t n, const double *g, size_t m) {
  double ta = mean_trace(a, n), tg = mean_trace(g, m);
  if (!(ta > 0) || !(tg > 0) || !isfinite(ta) || !isfinite(tg)) return 1;
  return sqrt(ta / tg);
}

/* The inverses in the build's precision, for the products. */
static void round_inverses(block *b) {
  for (size_t i = 0; i < b->in1 * b->in1; i++) b->a_inv_r[i] = (real)b->a_inv[i];
  for (size_t i = 0; i < b->shape.out * b->shape.out; i++) b->g_inv_r[i] = (real)b->g_inv[i];
}

/* The damped inverses of every block. */
static int refresh_inverses(method_state *st, double damping) {
  double root = sqrt(damping);
  for (size_t k = 0; k < st->n_blocks; k++) {
    block *b = &st->blocks[k];
    size_t in1 = b->in1, out = b->shape.out;
    double pi = kfac_pi(b->a, in1, b->g, out);
    memcpy(b->a_inv, b->a, in1 * in1 * sizeof *b->a);
    memcpy(b->g_inv, b->g, out * out * sizeof *b->g);
    for (size_t i = 0; i < in1; i++) b->a_inv[i * in1 + i] += pi * root;
    for (size_t i = 0; i < out; i++) b->g_inv[i * out + i] += root / pi;
    int rc = descent_spd_inverse(in1, b->a_inv);
    if (!rc) rc = descent_spd_inverse(out, b->g_inv);
    if (rc) {
      descent_error_prefix("kfac: layer %zu's factors: ", k + 1);
      return rc;
    }
    round_inverses(b);
  }
  st->flags |= HAS_INVERSES;
  return DESCENT_OK;
}

/* update's slice of block b <- G^-1 [dW | db] A^-1 from the gradient. */
static void precondition(method_state *st, const block *b, const real *grad) {
  size_t in = b->shape.in, in1 = b->in1, out = b->shape.out, off = b->shape.offset;
  const real *gw = grad + off, *gb = grad + off + in * out;
  for (size_t o = 0; o < out; o++) {
    for (size_t j = 0; j < in; j++) st->v[o * in1 + j] = gw[o * in + j];
    if (in1 > in) st->v[o * in1 + in] = gb[o];
  }
  descent_gemm(0, 0, out, in1, out, 1, b->g_inv_r, out, st->v, in1, 0, st->t, in1);
  descent_gemm(0, 0, out, in1, in1, 1, st->t, in1, b->a_inv_r, in1, 0, st->v, in1);
  real *uw = st->update + off, *ub = st->update + off + in * out;
  for (size_t o = 0; o < out; o++) {
    for (size_t j = 0; j < in; j++) uw[o * in + j] = (real)st->v[o * in1 + j];
    if (in1 > in) ub[o] = (real)st->v[o * in1 + in];
  }
}

int kfac_factors(const method_state *st, size_t k, const double **a, const double **g,
                 const double **a_inv, const double **g_inv) {
  if (k >= st->n_blocks) return 0;
  *a = st->blocks[k].a, *g = st->blocks[k].g;
  *a_inv = st->blocks[k].a_inv, *g_inv = st->blocks[k].g_inv;
  return 1;
}

/* ---- the step ------------------------------------------------------------------------ */

/* The seed of step k's drawn labels: the seed and the step mixed, so that
   neighbouring steps and seeds give unrelated streams (descent_rng_seed
   runs splitmix64 over it). */
static uint64_t step_seed(double seed, int64_t step) {
  uint64_t z = (uint64_t)seed ^ ((uint64_t)step * 0xd1b54a32d192ed03ull);
  z = (z ^ (z >> 32)) * 0x9e3779b97f4a7c15ull;
  return z ^ (z >> 29);
}

static int64_t kfac_evaluations(const method_state *st) {
  return st->evaluations;
}

static int64_t kfac_products(const method_state *st) {
  return st->products;
}

static int gather(method_state *st, const double *hp, descent_net *net,
                  const descent_batch *batch) {
  double first = 1.0 - 1.0 / (double)(st->estimates + 1);
  st->eps = first < hp[KF_DECAY] ? first : hp[KF_DECAY];
  int rc = net_kfac_statistics(net, batch, hp[KF_FISHER] != 0, step_seed(hp[KF_SEED], st->steps),
                               st->a_sq, st->g_sq, accumulate, st);
  if (rc) return rc;
  st->estimates++;
  st->products++;
  return DESCENT_OK;
}

/* A network, whose dense and conv layers are narrow enough for their
   factors. */
static int kfac_check(const method_state *st, const double *hp, descent_objective *obj) {
  (void)st, (void)hp;
  descent_net *net = net_of_objective(obj);
  if (!net)
    return descent_fail(
        DESCENT_ENOTSUP,
        "kfac needs a descent_net objective (descent_net_objective): its "
        "Kronecker factors come from the network's dense and conv layers; this objective "
        "is a '%s'",
        obj->ops && obj->ops->kind ? obj->ops->kind : "(no kind)");
  size_t count = net_kfac_layers(net, NULL, 0);
  net_kfac_layer *layers = descent_calloc(count ? count : 1, sizeof *layers, "kfac layers");
  if (!layers) return DESCENT_ENOMEM;
  net_kfac_layers(net, layers, count);
  int rc = check_widths(layers, count);
  free(layers);
  return rc;
}

static int kfac_step(method_state *st, const double *hp, double lr, descent_objective *obj,
                     const descent_closure *closure, descent_step_info *info) {
  descent_net *net = net_of_objective(obj);
  if (!net) return kfac_check(st, hp, obj); /* says why */
  if (!closure->batch)
    return descent_fail(DESCENT_EINVAL,
                        "kfac: the step has no batch (closure->batch is NULL); its factors are "
                        "estimated on the step's batch: pass it");
  int rc = bind(st, net);
  if (rc) return rc;
  double loss = closure->loss;
  if (!closure->evaluated) {
    rc = closure->evaluate(closure->user, obj, &loss);
    if (rc) return rc < 0 ? rc : descent_fail(DESCENT_EINVAL, "kfac: the closure returned %d", rc);
  }
  int stats = st->steps % (int64_t)hp[KF_STAT_EVERY] == 0;
  if (stats && (rc = gather(st, hp, net, closure->batch))) return rc;
  int refresh = st->steps % (int64_t)hp[KF_INV_EVERY] == 0 || !(st->flags & HAS_INVERSES);
  if (refresh && st->estimates > 0 && (rc = refresh_inverses(st, hp[KF_DAMPING]))) return rc;

  const size_t n = st->n;
  const real *grad = obj->grad;
  memcpy(st->update, grad, n * sizeof *grad);
  if (st->flags & HAS_INVERSES)
    for (size_t k = 0; k < st->n_blocks; k++) precondition(st, &st->blocks[k], grad);
  /* The KL clip, over every parameter, in double in order. */
  if (hp[KF_KL_CLIP] > 0) {
    double vg = 0;
    for (size_t i = 0; i < n; i++) vg += (double)st->update[i] * (double)grad[i];
    vg *= lr * lr;
    if (vg > 0) {
      double nu = sqrt(hp[KF_KL_CLIP] / vg);
      if (nu < 1)
        for (size_t i = 0; i < n; i++) st->update[i] = (real)((double)st->update[i] * nu);
    }
  }
  const real wd = (real)hp[KF_WEIGHT_DECAY], mu = (real)hp[KF_MOMENTUM], rate = (real)lr;
  real *params = obj->params, *buf = st->momentum;
  if (wd != 0)
    for (size_t i = 0; i < n; i++) st->update[i] += wd * params[i];
  if (st->flags & HAS_MOMENTUM)
    for (size_t i = 0; i < n; i++) buf[i] = mu * buf[i] + st->update[i];
  else
    memcpy(buf, st->update, n * sizeof *buf);
  st->flags |= HAS_MOMENTUM;
  for (size_t i = 0; i < n; i++) params[i] -= rate * buf[i];

  st->steps++;
  st->evaluations++;
  *info = (descent_step_info){.function_evals = 1,
                              .gradient_evals = 1,
                              .product_evals = stats,
                              .iterations = 1,
                              .loss = loss,
                              .last_loss = loss};
  return DESCENT_OK;
}

/* ---- saving and loading ------------------------------------------------------------
 *
 *   8 steps   8 evaluations   8 products   8 estimates of the factors
 *   4 flags (1 inverses held, 2 momentum held, 4 bound to a network)
 *   4 layers L
 *   L x (8 in, 8 out, 8 bias 0|1, 8 parameter offset)
 *   each layer's A ((in+bias)^2 doubles) and G (out^2), then, with flag 1,
 *   its inverses in the same order; with flag 2, the momentum (n numbers)
 */

#define FIXED_BYTES 40
#define LAYER_BYTES 32
#define MAX_WIDTH   ((size_t)1 << 24)

static size_t factor_bytes(size_t in1, size_t out, int inverses) {
  return (in1 * in1 + out * out) * 8 * (inverses ? 2 : 1);
}

static size_t kfac_state_bytes(const method_state *st) {
  size_t len = FIXED_BYTES + LAYER_BYTES * st->n_blocks;
  for (size_t k = 0; k < st->n_blocks; k++)
    len += factor_bytes(st->blocks[k].in1, st->blocks[k].shape.out, st->flags & HAS_INVERSES);
  if (st->flags & HAS_MOMENTUM) len += st->n * sizeof(real);
  return len;
}

static unsigned char *put_doubles(unsigned char *p, const double *v, size_t count) {
  for (size_t i = 0; i < count; i++) {
    uint64_t bits;
    memcpy(&bits, &v[i], 8);
    p = method_put(p, bits, 8);
  }
  return p;
}

static void kfac_save(const method_state *st, unsigned char *p) {
  p = method_put(p, (uint64_t)st->steps, 8);
  p = method_put(p, (uint64_t)st->evaluations, 8);
  p = method_put(p, (uint64_t)st->products, 8);
  p = method_put(p, (uint64_t)st->estimates, 8);
  p = method_put(p, (uint64_t)st->flags, 4);
  p = method_put(p, (uint64_t)st->n_blocks, 4);
  for (size_t k = 0; k < st->n_blocks; k++) {
    const net_kfac_layer *s = &st->blocks[k].shape;
    p = method_put(p, s->in, 8);
    p = method_put(p, s->out, 8);
    p = method_put(p, (uint64_t)s->bias, 8);
    p = method_put(p, s->offset, 8);
  }
  for (size_t k = 0; k < st->n_blocks; k++) {
    const block *b = &st->blocks[k];
    p = put_doubles(p, b->a, b->in1 * b->in1);
    p = put_doubles(p, b->g, b->shape.out * b->shape.out);
    if (st->flags & HAS_INVERSES) {
      p = put_doubles(p, b->a_inv, b->in1 * b->in1);
      p = put_doubles(p, b->g_inv, b->shape.out * b->shape.out);
    }
  }
  if (st->flags & HAS_MOMENTUM)
    for (size_t i = 0; i < st->n; i++) {
#ifdef DESCENT_DOUBLE
      uint64_t bits;
#else
      uint32_t bits;
#endif
      memcpy(&bits, &st->momentum[i], sizeof bits);
      p = method_put(p, bits, (int)sizeof bits);
    }
}

static void get_doubles(const unsigned char **p, double *v, size_t count) {
  for (size_t i = 0; i < count; i++) {
    uint64_t bits = method_get(p, 8);
    memcpy(&v[i], &bits, 8);
  }
}

/* The layers of a state: each within the parameters, and the bytes they
   take; 0 with a message when they cannot be this state's. */
static int read_layers(const unsigned char **p, size_t count, size_t n, size_t len,
                       net_kfac_layer *layers, size_t *bytes, int inverses) {
  *bytes = 0;
  for (size_t k = 0; k < count; k++) {
    uint64_t in = method_get(p, 8), out = method_get(p, 8), bias = method_get(p, 8),
             offset = method_get(p, 8);
    if (in == 0 || out == 0 || in > MAX_WIDTH || out > MAX_WIDTH || bias > 1 || offset > n ||
        n - offset < (in + bias) * out)
      return descent_fail(DESCENT_EFORMAT,
                          "kfac state: corrupted (layer %zu: %llu inputs, %llu outputs, bias %llu "
                          "at parameter %llu, of %zu parameters)",
                          k + 1, (unsigned long long)in, (unsigned long long)out,
                          (unsigned long long)bias, (unsigned long long)offset, n);
    layers[k] = (net_kfac_layer){.in = in, .out = out, .bias = (int)bias, .offset = offset};
    *bytes += factor_bytes(in + bias, out, inverses);
    if (*bytes > len) /* more than the state holds: stop before the sum can overflow */
      return descent_fail(DESCENT_EFORMAT,
                          "kfac state: %zu bytes, too few for the factors of its %zu layers", len,
                          count);
  }
  return DESCENT_OK;
}

static int kfac_load(method_state *st, const double *hp, const unsigned char *in, size_t len) {
  (void)hp;
  if (len < FIXED_BYTES)
    return descent_fail(DESCENT_EFORMAT, "kfac state of %zu bytes: truncated", len);
  const unsigned char *p = in;
  int64_t steps = (int64_t)method_get(&p, 8), evaluations = (int64_t)method_get(&p, 8);
  int64_t products = (int64_t)method_get(&p, 8), estimates = (int64_t)method_get(&p, 8);
  uint32_t flags = (uint32_t)method_get(&p, 4), count = (uint32_t)method_get(&p, 4);
  if (steps < 0 || evaluations < 0 || products < 0 || estimates < 0 || steps > METHOD_MAX_COUNT ||
      evaluations > METHOD_MAX_COUNT || products > METHOD_MAX_COUNT ||
      estimates > METHOD_MAX_COUNT || flags > 7 || (count && !(flags & BOUND)) ||
      (len - FIXED_BYTES) / LAYER_BYTES < count)
    return descent_fail(DESCENT_EFORMAT,
                        "kfac state: corrupted (%lld steps, flags %u, %u layers in %zu bytes)",
                        (long long)steps, flags, count, len);
  net_kfac_layer *layers = descent_calloc(count ? count : 1, sizeof *layers, "kfac layers");
  if (!layers) return DESCENT_ENOMEM;
  size_t bytes = 0;
  int rc = read_layers(&p, count, st->n, len, layers, &bytes, flags & HAS_INVERSES);
  size_t want = FIXED_BYTES + LAYER_BYTES * (size_t)count + bytes +
                (flags & HAS_MOMENTUM ? st->n * sizeof(real) : 0);
  if (!rc && len != want)
    rc = descent_fail(DESCENT_EFORMAT,
                      "kfac state: %zu bytes; %u layers' factors of %zu parameters take %zu", len,
                      count, st->n, want);
  block *b = rc ? NULL : blocks_make(layers, count);
  if (!rc && !b) rc = DESCENT_ENOMEM;
  free(layers);
  if (rc) return rc;
  for (size_t k = 0; k < count; k++) {
    get_doubles(&p, b[k].a, b[k].in1 * b[k].in1);
    get_doubles(&p, b[k].g, b[k].shape.out * b[k].shape.out);
    if (flags & HAS_INVERSES) {
      get_doubles(&p, b[k].a_inv, b[k].in1 * b[k].in1);
      get_doubles(&p, b[k].g_inv, b[k].shape.out * b[k].shape.out);
      round_inverses(&b[k]);
    }
  }
  /* Everything read: the state changes now. */
  blocks_free(st->blocks, st->n_blocks);
  st->blocks = b;
  st->n_blocks = count;
  st->steps = steps, st->evaluations = evaluations;
  st->products = products, st->estimates = estimates;
  st->flags = (int)flags;
  if (flags & HAS_MOMENTUM)
    for (size_t i = 0; i < st->n; i++) {
#ifdef DESCENT_DOUBLE
      uint64_t bits = method_get(&p, 8);
#else
      uint32_t bits = (uint32_t)method_get(&p, 4);
#endif
      memcpy(&st->momentum[i], &bits, sizeof bits);
    }
  descent_free_real(st->v);
  st->v = NULL; /* the product scratch is remade for these layers at the next step */
  return DESCENT_OK;
}

/* ---- the definition -------------------------------------------------------------- */

static const spec_param kfac_params[] = {
    {"damping", SPEC_NUMBER, 0.1, 0, INFINITY, 1, 0, 0,
     "lambda of the factored Tikhonov damping (A + pi sqrt(lambda) I), (G + sqrt(lambda)/pi I)"},
    {"decay", SPEC_NUMBER, 0.95, 0, 1, 0, 1, 0,
     "weight of the old factors in their running averages (the k-th estimate: min(1 - 1/k, "
     "decay))"},
    {"inv_every", SPEC_INTEGER, 10, 1, 1e9, 0, 0, 0,
     "steps between refreshes of the damped inverses (T)"},
    {"stat_every", SPEC_INTEGER, 1, 1, 1e9, 0, 0, 0,
     "steps between estimates of the factors (each one backward pass)"},
    {"momentum", SPEC_NUMBER, 0.9, 0, 1, 0, 1, 0, "SGD momentum on the preconditioned update"},
    {"kl_clip", SPEC_NUMBER, 1e-3, 0, INFINITY, 0, 0, 0,
     "scale the update so that lr^2 sum(v g) <= kl_clip (Ba et al. 2017); 0: off"},
    {"weight_decay", SPEC_NUMBER, 0, 0, INFINITY, 0, 0, 0,
     "adds weight_decay theta to the update after preconditioning (as kfac-pytorch)"},
    {"seed", SPEC_INTEGER, 0, 0, 1e15, 0, 0, 0,
     "seeds the labels drawn for the Fisher, with the step count"},
    {"fisher", SPEC_TEXT, 0, 0, 0, 0, 0, 0,
     "true (labels drawn from the model's softmax) or empirical (the batch's labels)"},
};

static const char *const fisher_words[] = {"true", "empirical", NULL};
static const char *const *const kfac_choices[] = {NULL, NULL, NULL, NULL,        NULL,
                                                  NULL, NULL, NULL, fisher_words};

const method_def method_kfac = {
    .name = "kfac",
    .summary = "K-FAC (Martens & Grosse 2015) on the dense and conv (KFC) layers of a network: "
               "G^-1 V A^-1 per "
               "layer with factored Tikhonov damping and the pi correction, inverses refreshed "
               "every inv_every steps (Cholesky, LAPACK), then the KL clip and SGD momentum as "
               "kfac-pytorch; other layers' parameters (batch norm) take the plain gradient",
    .evaluations = "1 (the step's gradient), and every stat_every steps 1 product: one replayed "
                   "forward and one backward pass with labels drawn from the model",
    .default_lr = "0.01",
    .params = kfac_params,
    .n_params = KF_N,
    .choices = kfac_choices,
    .full_batch_param = -1,
    .create = kfac_create,
    .destroy = kfac_destroy,
    .step = kfac_step,
    .check = kfac_check,
    .evaluations_so_far = kfac_evaluations,
    .products_so_far = kfac_products,
    .state_bytes = kfac_state_bytes,
    .save = kfac_save,
    .load = kfac_load,
};
