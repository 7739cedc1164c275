/*
 * test_net_seams.c - the network's two seams for data-parallel training.
 *
 * The gradient-ready hook (descent_net_set_grad_ready): on an MLP, a CNN
 * with batch norm and a dense + dropout net, the ranges it is given arrive
 * last layer first, disjoint and covering every parameter once; each holds
 * its final values when given; a hook that does nothing changes no bit; a
 * hook that halves its range halves the gradient exactly; re-evaluation and
 * the products never call it.
 *
 * Synchronized batch norm (descent_net_set_batch_norm_sync): two replicas
 * run in two threads of this process, each on its share of a batch, their
 * sums met at a barrier (both add the two replicas' values in the same
 * order, so both get the same bits: an all-reduce). Against one network on
 * the whole batch of N examples: the global loss (n0 L0 + n1 L1) / N and
 * the global gradient (n0 g0 + n1 g1) / N, each replica's loss and gradient
 * being the mean over its own n_k examples; the running statistics, equal
 * bit for bit on both replicas. Shards of equal and of unequal sizes. Also:
 * 2L calls per value_and_grad and L per value; the curvature products
 * (G v, H v) combined the same way against the whole network's;
 * re-evaluation replaying the step; a failing sum's status and message; a
 * replica with one value per channel; evaluation unchanged; and the unset
 * sync giving the same bits as a network that never had one.
 */
#include "check.h"

#include <pthread.h>
#include <stdlib.h>

/* Float sums the two halves in another order than one batch does. */
#define TOL       (sizeof(descent_real) == sizeof(float) ? 1e-5 : 1e-12)
#define MAX_BATCH 8
#define MAX_CALLS 64

static descent_rng rng;

static void random_inputs(descent_real *x, int32_t *labels, size_t n, size_t features) {
  for (size_t i = 0; i < n * features; i++) x[i] = (descent_real)descent_rng_normal(&rng);
  for (size_t i = 0; i < n; i++) labels[i] = (int32_t)(descent_rng_uniform(&rng) * 10) % 10;
}

static descent_net *make(const char *spec, const descent_shape *input, size_t max_batch) {
  descent_net *net = NULL;
  CHECK_OK(descent_net_create(&net, spec, input, DESCENT_LOSS_SOFTMAX_XENT, max_batch, 11));
  if (net) CHECK_OK(descent_net_set_threads(net, 1));
  return net;
}

/* max |a - b| over max |b|: the error relative to the vector's scale. */
static double rel_error(const descent_real *a, const double *b, size_t n) {
  double diff = 0, scale = 1e-30;
  for (size_t i = 0; i < n; i++) {
    diff = check_worst(diff, fabs((double)a[i] - b[i]));
    scale = fmax(scale, fabs(b[i]));
  }
  return diff / scale;
}

/* ---- the gradient-ready hook ---- */

typedef struct recorder {
  const descent_objective *obj;
  size_t calls, offset[MAX_CALLS], count[MAX_CALLS];
  descent_real *copy; /* each range's values as the hook saw them */
  int halve;
} recorder;

static void record(void *user, size_t offset, size_t count) {
  recorder *r = user;
  if (r->calls < MAX_CALLS) {
    r->offset[r->calls] = offset;
    r->count[r->calls] = count;
  }
  r->calls++;
  descent_real *g = r->obj->grad;
  for (size_t i = offset; i < offset + count; i++) {
    r->copy[i] = g[i];
    if (r->halve) g[i] *= (descent_real)0.5;
  }
}

static size_t layers_with_params(descent_net *net) {
  /* Runs of one name prefix in the tensor table ("layer1" of
     "layer1.weight" and "layer1.bias"). */
  const descent_objective *obj = descent_net_objective(net);
  size_t layers = 0;
  char last[64] = "";
  for (size_t t = 0; t < obj->n_tensors; t++) {
    char prefix[64];
    snprintf(prefix, sizeof prefix, "%s", obj->tensors[t].name);
    char *dot = strchr(prefix, '.');
    if (dot) *dot = '\0';
    if (strcmp(prefix, last) != 0) layers++;
    snprintf(last, sizeof last, "%s", prefix);
  }
  return layers;
}

static void check_hook(const char *spec, const descent_shape *input) {
  size_t features = descent_shape_size(input), n = 6;
  descent_real x[6 * 64];
  int32_t labels[6];
  random_inputs(x, labels, n, features);
  descent_batch batch = {.n = n, .x = x, .labels = labels};
  descent_net *plain = make(spec, input, n), *hooked = make(spec, input, n),
              *halved = make(spec, input, n);
  if (!plain || !hooked || !halved) return;
  descent_objective *p = descent_net_objective(plain), *h = descent_net_objective(hooked),
                    *q = descent_net_objective(halved);
  size_t np = p->n_params;
  recorder rec = {.obj = h, .copy = calloc(np, sizeof(descent_real))};
  recorder half = {.obj = q, .copy = calloc(np, sizeof(descent_real)), .halve = 1};
  descent_net_set_grad_ready(hooked, record, &rec);
  descent_net_set_grad_ready(halved, record, &half);
  double lp, lh, lq;
  CHECK_OK(descent_objective_value_and_grad(p, &batch, &lp));
  CHECK_OK(descent_objective_value_and_grad(h, &batch, &lh));
  CHECK_OK(descent_objective_value_and_grad(q, &batch, &lq));

  /* Last layer first, each range just below the one before: disjoint and
     covering [0, n_params) once. */
  CHECK_MSG(rec.calls == layers_with_params(plain), "%s: %zu calls for %zu layers with parameters",
            spec, rec.calls, layers_with_params(plain));
  size_t end = np;
  for (size_t c = 0; c < rec.calls && c < MAX_CALLS; c++) {
    CHECK(rec.count[c] > 0);
    CHECK_MSG(rec.offset[c] + rec.count[c] == end,
              "%s: call %zu gives [%zu, %zu), expected to end at %zu", spec, c, rec.offset[c],
              rec.offset[c] + rec.count[c], end);
    end = rec.offset[c];
  }
  CHECK_MSG(end == 0, "%s: the ranges stop at %zu, not 0", spec, end);

  /* Final when given; a hook that only reads changes no bit. */
  CHECK_MSG(memcmp(rec.copy, h->grad, np * sizeof *h->grad) == 0,
            "%s: a range changed after its hook", spec);
  CHECK(lh == lp);
  CHECK_MSG(memcmp(h->grad, p->grad, np * sizeof *p->grad) == 0,
            "%s: the hook changed the gradient", spec);
  /* Halving in the hook halves the gradient, exactly. */
  CHECK(lq == lp);
  size_t wrong = 0;
  for (size_t i = 0; i < np; i++) wrong += q->grad[i] != (descent_real)(p->grad[i] * 0.5f);
  CHECK_MSG(wrong == 0, "%s: %zu of %zu values not halved", spec, wrong, np);

  /* Re-evaluation and the products run without the hook; removing it
     stops the calls. */
  size_t calls = rec.calls;
  double loss;
  descent_real *v = calloc(np, sizeof *v), *out = calloc(np, sizeof *out);
  CHECK_OK(descent_objective_reevaluate(h, &batch, &loss, out));
  CHECK_OK(descent_objective_ggnvp(h, &batch, v, out));
  CHECK_OK(descent_objective_hvp(h, &batch, v, out));
  CHECK(rec.calls == calls);
  free(v);
  free(out);
  descent_net_set_grad_ready(hooked, NULL, &rec);
  CHECK_OK(descent_objective_value_and_grad(h, &batch, &loss));
  CHECK(rec.calls == calls);
  free(rec.copy);
  free(half.copy);
  descent_net_free(plain);
  descent_net_free(hooked);
  descent_net_free(halved);
}

/* ---- synchronized batch norm: two replicas in two threads ---- */

typedef struct meeting {
  pthread_barrier_t barrier;
  double *posted[2];
  size_t n[2];
  int mismatch;  /* the replicas called with different n */
  int fail_call; /* the call (1-based) that fails on both replicas, 0: none */
} meeting;

typedef struct replica {
  meeting *m;
  int id;
  descent_net *net;
  descent_batch batch;
  int what; /* 0 value_and_grad, 1 value, 2 reevaluate (gradient in grad),
               3 G v, 4 H v (v: direction, product in grad) */
  const descent_real *v;
  int rc;
  double loss;
  descent_real *grad; /* reevaluate's */
  size_t calls;
  char error[256];
} replica;

static int barrier_sum(void *user, double *values, size_t n) {
  replica *r = user;
  meeting *m = r->m;
  r->calls++;
  if (m->fail_call && (int)r->calls == m->fail_call)
    return descent_set_error(DESCENT_EIO, "replica link down after %zu calls", r->calls - 1);
  m->posted[r->id] = values;
  m->n[r->id] = n;
  pthread_barrier_wait(&m->barrier);
  if (r->id == 0 && m->n[0] != m->n[1]) m->mismatch = 1; /* one writer */
  double *total = malloc(n * sizeof *total);
  for (size_t i = 0; i < n; i++) total[i] = m->posted[0][i] + m->posted[1][i];
  pthread_barrier_wait(&m->barrier); /* both have read both */
  memcpy(values, total, n * sizeof *total);
  free(total);
  return DESCENT_OK;
}

/* A replica alone: its own values are the totals. */
static int identity_sum(void *user, double *values, size_t n) {
  (void)values, (void)n;
  (*(size_t *)user)++;
  return DESCENT_OK;
}

static void *replica_run(void *arg) {
  replica *r = arg;
  descent_objective *obj = descent_net_objective(r->net);
  r->calls = 0;
  if (r->what == 0)
    r->rc = descent_objective_value_and_grad(obj, &r->batch, &r->loss);
  else if (r->what == 1)
    r->rc = descent_objective_value(obj, &r->batch, &r->loss);
  else if (r->what == 2)
    r->rc = descent_objective_reevaluate(obj, &r->batch, &r->loss, r->grad);
  else if (r->what == 3)
    r->rc = descent_objective_ggnvp(obj, &r->batch, r->v, r->grad);
  else
    r->rc = descent_objective_hvp(obj, &r->batch, r->v, r->grad);
  snprintf(r->error, sizeof r->error, "%s", r->rc ? descent_last_error() : "");
  return NULL;
}

/* Runs both replicas at once, each `what`. */
static void run_pair(meeting *m, replica r[2], int what) {
  pthread_barrier_init(&m->barrier, NULL, 2);
  pthread_t t[2];
  for (int k = 0; k < 2; k++) {
    r[k].what = what;
    pthread_create(&t[k], NULL, replica_run, &r[k]);
  }
  for (int k = 0; k < 2; k++) pthread_join(t[k], NULL);
  pthread_barrier_destroy(&m->barrier);
}

/* Two synchronized replicas, r[0] on the batch's first n0 examples and r[1]
   on the rest, and one network on the whole batch; all from one seed. */
typedef struct pair {
  meeting m;
  replica r[2];
  descent_net *whole;
} pair;

static int pair_make(pair *p, const char *spec, const descent_shape *input, const descent_real *x,
                     const int32_t *labels, size_t n, size_t n0) {
  memset(p, 0, sizeof *p);
  size_t features = descent_shape_size(input);
  p->whole = make(spec, input, n);
  int ok = p->whole != NULL;
  for (int k = 0; k < 2; k++) {
    replica *r = &p->r[k];
    r->m = &p->m, r->id = k;
    r->net = make(spec, input, n);
    if (!r->net) {
      ok = 0;
      continue;
    }
    CHECK_OK(descent_net_set_batch_norm_sync(r->net, barrier_sum, r));
    r->grad = malloc(descent_net_objective(r->net)->n_params * sizeof *r->grad);
    size_t start = k ? n0 : 0;
    r->batch =
        (descent_batch){.n = k ? n - n0 : n0, .x = x + start * features, .labels = labels + start};
  }
  return ok;
}

static void pair_free(pair *p) {
  descent_net_free(p->whole);
  for (int k = 0; k < 2; k++) {
    descent_net_free(p->r[k].net);
    free(p->r[k].grad);
  }
}

static void check_replicas_ok(const char *spec, const char *what, pair *p, size_t calls) {
  for (int k = 0; k < 2; k++) {
    CHECK_MSG(p->r[k].rc == DESCENT_OK, "%s: replica %d's %s: %s", spec, k, what, p->r[k].error);
    CHECK_MSG(p->r[k].calls == calls, "%s: replica %d's %s made %zu calls, expected %zu", spec, k,
              what, p->r[k].calls, calls);
  }
  CHECK(!p->m.mismatch);
}

/* One step of the whole network and of the replicas, compared: the loss
   (n0 L0 + n1 L1) / N, the gradient (n0 g0 + n1 g1) / N, the running
   statistics. */
static void compare_step(const char *spec, pair *p, const descent_batch *batch, size_t bn_layers) {
  descent_objective *whole = descent_net_objective(p->whole);
  descent_objective *o0 = descent_net_objective(p->r[0].net);
  descent_objective *o1 = descent_net_objective(p->r[1].net);
  size_t np = whole->n_params, nb, n = batch->n, n0 = p->r[0].batch.n;
  double loss;
  CHECK_OK(descent_objective_value_and_grad(whole, batch, &loss));
  run_pair(&p->m, p->r, 0);
  check_replicas_ok(spec, "value_and_grad", p, 2 * bn_layers);
  double w0 = (double)n0 / (double)n, w1 = (double)(n - n0) / (double)n;
  double global = w0 * p->r[0].loss + w1 * p->r[1].loss;
  CHECK_MSG(fabs(global - loss) <= TOL * fabs(loss),
            "%s: loss %.17g over the replicas, %.17g whole", spec, global, loss);
  double *g = malloc(np * sizeof *g);
  for (size_t i = 0; i < np; i++) g[i] = w0 * o0->grad[i] + w1 * o1->grad[i];
  double err = rel_error(whole->grad, g, np);
  CHECK_MSG(err <= TOL, "%s: gradient off by %.3g relative", spec, err);
  free(g);
  const descent_real *b0 = descent_net_buffers(p->r[0].net, &nb);
  const descent_real *b1 = descent_net_buffers(p->r[1].net, NULL);
  const descent_real *bw = descent_net_buffers(p->whole, NULL);
  CHECK_MSG(memcmp(b0, b1, nb * sizeof *b0) == 0, "%s: the replicas' running statistics differ",
            spec);
  double *expected = malloc(nb * sizeof *expected);
  for (size_t i = 0; i < nb; i++) expected[i] = bw[i];
  err = rel_error(b0, expected, nb);
  CHECK_MSG(err <= TOL, "%s: running statistics off by %.3g relative", spec, err);
  free(expected);
}

/* The products of the step just taken, G v and H v: (n0 P0 + n1 P1) / N
   against the whole network's, where each replica's calls its sum once
   per layer for the tangents and once (G v) or twice (H v) backward. */
static void check_products(const char *spec, pair *p, const descent_batch *batch,
                           size_t bn_layers) {
  descent_objective *whole = descent_net_objective(p->whole);
  size_t np = whole->n_params, n = batch->n, n0 = p->r[0].batch.n;
  descent_real *v = malloc(np * sizeof *v), *expected = malloc(np * sizeof *expected);
  double *combined = malloc(np * sizeof *combined);
  for (size_t i = 0; i < np; i++) v[i] = (descent_real)descent_rng_normal(&rng);
  double w0 = (double)n0 / (double)n, w1 = (double)(n - n0) / (double)n;
  for (int hessian = 0; hessian < 2; hessian++) {
    const char *what = hessian ? "H v" : "G v";
    if (hessian)
      CHECK_OK(descent_objective_hvp(whole, batch, v, expected));
    else
      CHECK_OK(descent_objective_ggnvp(whole, batch, v, expected));
    for (int k = 0; k < 2; k++) p->r[k].v = v;
    run_pair(&p->m, p->r, 3 + hessian);
    check_replicas_ok(spec, what, p, (3 + (size_t)hessian) * bn_layers);
    for (size_t i = 0; i < np; i++) combined[i] = w0 * p->r[0].grad[i] + w1 * p->r[1].grad[i];
    double err = rel_error(expected, combined, np);
    CHECK_MSG(err <= TOL, "%s: %s off by %.3g relative", spec, what, err);
  }
  free(v);
  free(expected);
  free(combined);
}

/* Re-evaluation replays the step: its loss and gradient bit for bit, the
   running statistics untouched; value makes one call per layer. */
static void check_replay(const char *spec, pair *p, size_t bn_layers) {
  size_t nb, np = descent_net_objective(p->r[0].net)->n_params;
  const descent_real *b0 = descent_net_buffers(p->r[0].net, &nb);
  descent_real *stats = malloc(nb * sizeof *stats);
  memcpy(stats, b0, nb * sizeof *stats);
  double loss[2] = {p->r[0].loss, p->r[1].loss};
  run_pair(&p->m, p->r, 2);
  check_replicas_ok(spec, "reevaluate", p, 2 * bn_layers);
  for (int k = 0; k < 2; k++) {
    CHECK(p->r[k].loss == loss[k]);
    CHECK_MSG(memcmp(p->r[k].grad, descent_net_objective(p->r[k].net)->grad,
                     np * sizeof *p->r[k].grad) == 0,
              "%s: replica %d's re-evaluated gradient differs from its step's", spec, k);
  }
  CHECK(memcmp(b0, stats, nb * sizeof *stats) == 0);
  run_pair(&p->m, p->r, 1);
  check_replicas_ok(spec, "value", p, bn_layers);
  free(stats);
}

/* A sum that fails (on both replicas, at the backward's first call):
   value_and_grad returns its status and message, and calls no more. */
static void check_failing_sum(const char *spec, pair *p, size_t bn_layers) {
  p->m.fail_call = (int)bn_layers + 1;
  run_pair(&p->m, p->r, 0);
  for (int k = 0; k < 2; k++) {
    CHECK_MSG(p->r[k].rc == DESCENT_EIO, "%s: replica %d returned %d", spec, k, p->r[k].rc);
    CHECK_MSG(strstr(p->r[k].error, "batchnorm: batch-norm sync: replica link down") != NULL,
              "message: %s", p->r[k].error);
    CHECK_MSG(p->r[k].calls == bn_layers + 1, "%s: %zu calls, expected none after the failure",
              spec, p->r[k].calls);
  }
  p->m.fail_call = 0;
}

static void check_sync(const char *spec, const descent_shape *input, size_t n, size_t n0,
                       size_t bn_layers) {
  size_t features = descent_shape_size(input);
  descent_real *x = malloc(n * features * sizeof *x);
  int32_t labels[MAX_BATCH];
  random_inputs(x, labels, n, features);
  descent_batch batch = {.n = n, .x = x, .labels = labels};
  pair p;
  if (pair_make(&p, spec, input, x, labels, n, n0)) {
    compare_step(spec, &p, &batch, bn_layers);
    compare_step(spec, &p, &batch, bn_layers); /* on moved running statistics */
    check_products(spec, &p, &batch, bn_layers);
    check_replay(spec, &p, bn_layers);
    check_failing_sum(spec, &p, bn_layers);
    /* Evaluation mode is each replica's own and calls nothing. */
    descent_real out[MAX_BATCH * 10];
    p.r[0].calls = 0;
    CHECK_OK(descent_net_predict(p.r[0].net, p.r[0].batch.x, n0, out));
    CHECK(p.r[0].calls == 0);
  }
  pair_free(&p);
  free(x);
}

/* One value per channel on each replica is enough when the totals hold
   two; a lone replica with one is refused after its sum. Unset, the sync
   leaves the bits of a network that never had it; a lone replica's sum
   (the identity) agrees with the unsynchronized statistics. */
static void check_sync_edges(void) {
  const char *spec = "dense(6), batchnorm, relu, dense(10)";
  descent_shape flat = {1, {10}};
  descent_real x[2 * 10];
  int32_t labels[2];
  random_inputs(x, labels, 2, 10);
  descent_batch batch = {.n = 2, .x = x, .labels = labels},
                one = {.n = 1, .x = x, .labels = labels};
  pair p;
  if (pair_make(&p, spec, &flat, x, labels, 2, 1)) compare_step(spec, &p, &batch, 1);
  pair_free(&p);

  descent_net *plain = make(spec, &flat, 2), *unset = make(spec, &flat, 2),
              *alone = make(spec, &flat, 2);
  if (!plain || !unset || !alone) return;
  size_t calls = 0, np = descent_net_objective(plain)->n_params, nb;
  double loss;
  CHECK_OK(descent_net_set_batch_norm_sync(alone, identity_sum, &calls));
  CHECK_FAILS(descent_objective_value_and_grad(descent_net_objective(alone), &one, &loss),
              DESCENT_ESHAPE, "replicas' batches hold 1 in all");
  CHECK_FAILS(descent_objective_value_and_grad(descent_net_objective(plain), &one, &loss),
              DESCENT_ESHAPE, "more than one value per channel");
  CHECK_OK(descent_net_set_batch_norm_sync(unset, identity_sum, &calls));
  CHECK_OK(descent_net_set_batch_norm_sync(unset, NULL, NULL));
  double lp, lu, la;
  calls = 0;
  CHECK_OK(descent_objective_value_and_grad(descent_net_objective(plain), &batch, &lp));
  CHECK_OK(descent_objective_value_and_grad(descent_net_objective(unset), &batch, &lu));
  CHECK(calls == 0);
  CHECK_OK(descent_objective_value_and_grad(descent_net_objective(alone), &batch, &la));
  CHECK(calls == 2);
  CHECK(lu == lp);
  CHECK(memcmp(descent_net_objective(unset)->grad, descent_net_objective(plain)->grad,
               np * sizeof(descent_real)) == 0);
  const descent_real *bp = descent_net_buffers(plain, &nb);
  CHECK(memcmp(descent_net_buffers(unset, NULL), bp, nb * sizeof *bp) == 0);
  CHECK_MSG(fabs(la - lp) <= TOL * fabs(lp), "alone %.17g, plain %.17g", la, lp);
  double *g = malloc(np * sizeof *g);
  for (size_t i = 0; i < np; i++) g[i] = descent_net_objective(plain)->grad[i];
  CHECK(rel_error(descent_net_objective(alone)->grad, g, np) <= TOL);
  free(g);
  descent_net_free(plain);
  descent_net_free(unset);
  descent_net_free(alone);
}

int main(void) {
  descent_rng_seed(&rng, 2026);
  descent_shape flat = {1, {10}}, image = {3, {1, 8, 8}};
  check_hook("dense(16), relu, dense(10)", &flat);
  check_hook("conv(4, 3), batchnorm, relu, maxpool(2), dense(10)", &image);
  check_hook("dense(16), relu, dropout(0.5), dense(10)", &flat);

  check_sync("conv(4, 3), batchnorm, relu, maxpool(2), dense(10)", &image, 8, 4, 1);
  check_sync("dense(12), batchnorm, relu, dense(8), batchnorm, relu, dense(10)", &flat, 8, 5, 2);
  check_sync_edges();
  return check_report();
}
