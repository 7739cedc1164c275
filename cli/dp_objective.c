/*
 * dp_objective.c - the data-parallel network objective (dp_objective.h): the
 * shards a rank computes, the two reductions, and the rules that keep batch
 * norm's running statistics and dropout's masks independent of the number
 * of ranks.
 */
#include "dp_objective.h"

#include "dist.h"
#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct dp {
  descent_objective self; /* what the trainer sees: the network's parameters, our gradient */
  descent_objective_ops ops;
  descent_net *net;
  descent_objective *inner; /* the network's objective: each shard's gradient lands in its grad */
  dp_options o;
  int rank, size;
  size_t n, features, outputs;
  /* fixed: the rank's micro-batches' weighted gradients, n + 2 doubles each
     (the gradient, the loss, the stop votes), then the exchange's two halves */
  double **partials;
  double *send, *received;
  size_t block; /* values of the n + 2 each rank sums (the exchange's and the shards' block) */
  /* Sharded optimizer state: this rank's parameters [shard_offset, + counts[rank]), every
     rank's count, its shard's sums and room to gather the parameters. */
  size_t shard_offset, *counts;
  descent_real *shard_sums, *gathered;
  descent_real *buffers_saved; /* batch norm's running statistics, kept across shards */
  descent_real *buffers_kept;  /* and across a whole re-evaluation */
  size_t n_buffers;
  descent_rng step_rng; /* the network's RNG as the last evaluation found it */
  dp_traffic traffic;
  /* The fast sum overlapped with the backward pass: the gradient being
     reduced, its weight, the bucket collecting layers [lo, hi) (ranges come
     last layer first), whether this evaluation overlaps, and its NaN. */
  struct {
    descent_real *out, w;
    size_t lo, hi;
    int on, poison;
  } ov;
  size_t last_n; /* that evaluation's batch size; 0 before one */
  /* The fast sum through memory the ranks share (all on one machine; NULL
     otherwise), two blocks per rank. Two ranks: blocks 0 and 1 take each
     rank's gradient on alternate evaluations (parity), written there by its
     backward pass. More: block 0 takes the gradient and block 1 the sums of
     the rank's slice (parity stays 0). inner_grad is the network's own
     gradient buffer, put back after each evaluation. */
  dist_shared *shared;
  size_t parity;
  descent_real *inner_grad;
} dp;

/* ---- what the reductions cost ------------------------------------------------------ */

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Bytes a rank sends in one reduction of values numbers of width bytes by
   the bandwidth-optimal algorithms (a ring all-reduce; an all-to-all and an
   all-gather): 2 (N - 1) / N of them, both ways. */
static double reduction_bytes(const dp *d, size_t values, size_t width) {
  double N = (double)d->size;
  return 2 * (N - 1) / N * (double)values * (double)width;
}

/* Bytes a rank reads from the others' memory in one sum through shared
   memory: their whole gradients (two ranks), or their gradients' slices and
   their slices' sums. */
static double shared_bytes(const dp *d) {
  double N = (double)d->size, bytes = (double)d->n * sizeof(descent_real);
  return d->size == 2 ? bytes : 2 * (N - 1) / N * bytes;
}

void dp_objective_traffic(const descent_objective *obj, dp_traffic *t) {
  const dp *d = obj->impl;
  *t = d->traffic;
  t->shared = d->shared != NULL;
}

/* ---- the fast sum, overlapped with the backward pass ------------------------------------ */

static void start_bucket(dp *d) {
  if (d->ov.hi > d->ov.lo) dist_sum_real_start(d->ov.out + d->ov.lo, d->ov.hi - d->ov.lo);
  d->ov.hi = d->ov.lo;
}

/* The network's gradient-ready hook: layer [offset, offset + count) is
   final; weighted into the bucket, which starts summing once it holds
   bucket_bytes (the layers below are still computing meanwhile). */
static void grad_ready(void *user, size_t offset, size_t count) {
  dp *d = user;
  if (!d->ov.on) return;
  const descent_real *g = d->inner->grad;
  descent_real *out = d->ov.out, w = d->ov.w;
  for (size_t i = offset; i < offset + count; i++) out[i] = g[i] * w;
  if (d->ov.poison && offset == 0) out[0] = NAN;
  if (offset + count != d->ov.lo) start_bucket(d); /* not adjacent: never in one */
  if (d->ov.hi == d->ov.lo) d->ov.hi = offset + count;
  d->ov.lo = offset;
  if ((d->ov.hi - d->ov.lo) * sizeof *out >= d->o.bucket_bytes) start_bucket(d);
  dist_progress();
}

/* The network's batch-norm statistics summed over the ranks (--sync-bn). */
static int sum_statistics(void *user, double *values, size_t n) {
  dp *d = user;
  dist_watch("the batch-norm statistics", descent_optimizer_steps(d->o.opt) + 1);
  dist_sum_double(values, n);
  dist_unwatch();
  return DESCENT_OK;
}

/* ---- shards ----------------------------------------------------------------------- */

int dp_check_shards(int shards, int size) {
  if (shards < 1 || shards % size != 0 || ((shards / size) & (shards / size - 1)) != 0)
    return descent_fail(DESCENT_EINVAL,
                        "--shards %d: the fixed reduction needs a multiple of the %d "
                        "processes whose quotient is a power of two (%d, %d, %d, ...)",
                        shards, size, size, 2 * size, 4 * size);
  return DESCENT_OK;
}

/* Rows [*first, *first + *count) of a batch of n cut into parts: the k-th. */
static void shard_rows(size_t n, size_t parts, size_t k, size_t *first, size_t *count) {
  *first = k * n / parts;
  *count = (k + 1) * n / parts - *first;
}

/* The masks of shard k of a step whose RNG started at base: a generator of
   its own, seeded from both. k = UINT64_MAX gives the state every rank
   moves to after the step. */
static void shard_rng(const descent_rng *base, uint64_t k, descent_rng *out) {
  descent_rng r = *base;
  uint64_t a = descent_rng_next(&r), b = descent_rng_next(&r);
  descent_rng_seed(out, a ^ (b << 1) ^ (0x9e3779b97f4a7c15ULL * (k + 1)));
}

/* One shard's gradient into the network's grad and its loss. Shards other
   than the first leave the running statistics as they found them. */
static int shard_gradient(dp *d, const descent_batch *b, size_t k, size_t parts, size_t *count,
                          double *loss) {
  size_t first;
  shard_rows(b->n, parts, k, &first, count);
  *loss = 0;
  if (*count == 0) return DESCENT_OK;
  descent_rng r;
  shard_rng(&d->step_rng, k, &r);
  descent_net_set_rng(d->net, &r);
  descent_real *buffers = descent_net_buffers(d->net, NULL);
  if (k > 0 && d->n_buffers) memcpy(d->buffers_saved, buffers, d->n_buffers * sizeof *buffers);
  descent_batch s = descent_batch_slice(b, first, *count, d->features, d->outputs);
  int rc = descent_objective_value_and_grad(d->inner, &s, loss);
  if (k > 0 && d->n_buffers) memcpy(buffers, d->buffers_saved, d->n_buffers * sizeof *buffers);
  return rc;
}

/* ---- the fast sum through shared memory ---------------------------------------------------

   Each rank's backward pass writes its gradient into its block of the
   window; after one fence every rank reads every rank's block. Two ranks
   each sum the whole gradient (reading the other's block once); more sum a
   slice each, in a block of their own, and copy the others' slices after a
   second fence. Either way each value is g_0 w_0 + g_1 w_1 + ... in rank
   order, w_k rank k's share of the batch, rounded as the weighted copy and
   MPI's sum round it: with two ranks the bits of MPI_Allreduce's (a sum of
   two is the same either way round), and with any number the same on every
   rank and from run to run. With two ranks the gradient blocks alternate
   between evaluations, so a rank's next backward pass never writes a block
   the other may still be reading: a fence separates each evaluation's reads
   from the writes two evaluations later. With more, the second fence does
   that: every read of a gradient block comes before it, every read of a
   slice's sums before the next evaluation's first fence.

   Summing in place instead, as DDP does (one block per rank that is also
   the trainer's gradient, each rank summing a slice, three fences) reads
   less, but measured slower: 15,900 against 16,900 samples/s for the big
   MLP, 2 ranks of batch 128, best epochs of 6 alternating runs on a 2-core
   AMD EPYC (MPI's all-reduce 16,100). Shared memory gets no transparent huge
   pages (shmem_enabled is "never" by default), so the optimizer would read
   the gradient through 4 KB pages, where the sum's output here is the
   trainer's own buffer. */

/* out[i] <- a[i] wa + b[i] wb: the sum of two ranks, in a loop the compiler
   vectorizes (the general one below walks the ranks inside). */
static void sum_two(const descent_real *restrict a, descent_real wa, const descent_real *restrict b,
                    descent_real wb, size_t n, descent_real *restrict out) {
  for (size_t i = 0; i < n; i++) {
    descent_real x = a[i] * wa, y = b[i] * wb;
    out[i] = x + y;
  }
}

/* out[lo, hi) <- the weighted sum over the ranks of their blocks. */
static void sum_blocks(descent_real *const *blocks, const descent_real *w, size_t ranks, size_t lo,
                       size_t hi, descent_real *out) {
  for (size_t i = lo; i < hi; i++) {
    descent_real v = blocks[0][i] * w[0];
    for (size_t k = 1; k < ranks; k++) {
      descent_real term = blocks[k][i] * w[k];
      v = v + term;
    }
    out[i] = v;
  }
}

static void shared_sum(dp *d, size_t batch, double scale, descent_real *out) {
  size_t N = (size_t)d->size, n = d->n;
  descent_real w[N], *blocks[N];
  for (size_t k = 0; k < N; k++) {
    size_t first, count;
    shard_rows(batch, N, k, &first, &count);
    w[k] = (descent_real)((double)count * scale);
    blocks[k] = dist_shared_block(d->shared, (int)k, d->parity);
  }
  dist_shared_fence(d->shared); /* every rank's gradient is in its block */
  if (N == 2) {
    sum_two(blocks[0], w[0], blocks[1], w[1], n, out);
    return;
  }
  size_t r = (size_t)d->rank;
  descent_real *slice = dist_shared_block(d->shared, d->rank, 1);
  sum_blocks(blocks, w, N, n * r / N, n * (r + 1) / N, slice);
  dist_shared_fence(d->shared); /* every slice is summed */
  for (size_t k = 0; k < N; k++) {
    size_t lo = n * k / N, hi = n * (k + 1) / N;
    memcpy(out + lo, dist_shared_block(d->shared, (int)k, 1) + lo, (hi - lo) * sizeof *out);
  }
}

/* ---- the fixed reduction -------------------------------------------------------------- */

/* items[lo] <- the sum of items[lo, hi) in the tree: a node splits at the
   largest power of two below its count. */
static void tree_sum(double **items, size_t lo, size_t hi, size_t len) {
  size_t count = hi - lo;
  if (count < 2) return;
  size_t half = 1;
  while (half * 2 < count) half *= 2;
  tree_sum(items, lo, lo + half, len);
  tree_sum(items, lo + half, hi, len);
  double *a = items[lo];
  const double *b = items[lo + half];
  for (size_t i = 0; i < len; i++) a[i] += b[i];
}

/* Rank r's partial sum: its micro-batches' gradients times their sizes,
   their losses likewise and the stop votes (len = n + 2 values), summed in
   the tree, into partials[0]. */
static int fixed_partial(dp *d, const descent_batch *b, int stop_vote, int poison) {
  size_t S = (size_t)d->o.shards, per = S / (size_t)d->size;
  for (size_t j = 0; j < per; j++) {
    size_t k = (size_t)d->rank * per + j, count;
    double loss, *p = d->partials[j];
    int rc = shard_gradient(d, b, k, S, &count, &loss);
    if (rc) return rc;
    const descent_real *g = d->inner->grad;
    double w = (double)count;
    if (count)
      for (size_t i = 0; i < d->n; i++) p[i] = (double)g[i] * w;
    else
      memset(p, 0, d->n * sizeof *p);
    p[d->n] = loss * w;
    p[d->n + 1] = j == 0 ? stop_vote : 0;
  }
  tree_sum(d->partials, 0, per, d->n + 2);
  if (poison) d->partials[0][0] = NAN;
  return DESCENT_OK;
}

/* Rank r sums block r (values [r m, r m + m) of the n + 2) of every rank's
   partial, in the tree's order over the ranks: returns those sums. */
static double *fixed_block(dp *d) {
  size_t m = d->block, N = (size_t)d->size, len = d->n + 2;
  const double *mine = d->partials[0];
  memcpy(d->send, mine, len * sizeof *mine);
  memset(d->send + len, 0, (N * m - len) * sizeof *d->send);
  dist_exchange_double(d->send, d->received, m);
  double *items[N > 0 ? N : 1];
  for (size_t s = 0; s < N; s++) items[s] = d->received + s * m;
  tree_sum(items, 0, N, m);
  return items[0];
}

/* Sums of the values [first, first + count) of the n + 2 (gradient, loss,
   stop votes) into grad, *loss and *votes, divided by the batch size where
   they are means. With sharded state the block is this rank's shard alone:
   the gradient outside it is zero (its optimizer steps the shard only), and
   the loss, the votes and whether the shard is finite are summed over the
   ranks, so that every rank's guard sees a NaN anywhere. */
static void spread(dp *d, const double *block, size_t first, size_t count, double scale,
                   descent_real *grad, double *loss, double *votes) {
  double extra[3] = {0, 0, 0}; /* loss, votes, shards not finite */
  if (grad && d->o.zero) memset(grad, 0, d->n * sizeof *grad);
  for (size_t j = 0; j < count; j++) {
    size_t i = first + j;
    if (i < d->n) {
      if (grad) grad[i] = (descent_real)(block[j] * scale);
      if (!isfinite(block[j])) extra[2] = 1;
    } else if (i == d->n) {
      extra[0] = block[j] * scale;
    } else if (i == d->n + 1) {
      extra[1] = block[j];
    }
  }
  if (d->o.zero) dist_sum_double(extra, 3);
  if (grad && extra[2] > 0) grad[0] = NAN;
  *loss = extra[0];
  *votes = extra[1];
}

/* This rank's block of the n + 2 values: [r m, r m + m) clipped. */
static void own_block(const dp *d, size_t *first, size_t *count) {
  size_t len = d->n + 2;
  *first = (size_t)d->rank * d->block;
  if (*first > len) *first = len;
  *count = *first + d->block <= len ? d->block : len - *first;
}

/* ---- evaluations -------------------------------------------------------------------- */

/* The batch's loss from each rank's weighted part, and the ranks' stop
   votes, summed over the ranks (the fast reduction's small values). */
static void sum_loss_and_votes(double part, int vote, double *loss, double *votes) {
  double small[2] = {part, vote};
  dist_sum_double(small, 2);
  *loss = small[0];
  *votes = small[1];
}

/* The global batch's loss and gradient (into grad, when not NULL), every
   rank's the same (with sharded state, each rank's shard of it). replay:
   the randomness of the last evaluation, and no state changed (reevaluate). */
static int evaluate(dp *d, const descent_batch *b, double *loss, descent_real *grad, int replay) {
  if (!b) return descent_fail(DESCENT_EINVAL, "data-parallel training: a step needs a batch");
  if (replay && d->last_n != b->n)
    return descent_fail(DESCENT_EINVAL,
                        "data-parallel training: re-evaluation on a batch of %zu "
                        "after an evaluation on %zu",
                        b->n, d->last_n);
  descent_rng after;
  descent_net_get_rng(d->net, &after);
  if (!replay) d->step_rng = after;
  descent_real *buffers = descent_net_buffers(d->net, NULL);
  if (replay && d->n_buffers) /* the first shard's statistics too */
    memcpy(d->buffers_kept, buffers, d->n_buffers * sizeof *buffers);
  int64_t step = descent_optimizer_steps(d->o.opt) + 1;
  int stop_vote = !replay && d->o.stop_requested && *d->o.stop_requested;
  /* Once: a rollback past the step must find a good gradient there. */
  int poison = !replay && d->o.nan_step == step && d->o.nan_rank == d->rank;
  if (poison) d->o.nan_step = 0;
  if (d->o.sync_bn && b->n < (size_t)d->size) /* every rank must sum its statistics */
    return descent_fail(DESCENT_EINVAL,
                        "--sync-bn: a batch of %zu examples cannot give each of %d processes "
                        "one; use a larger --batch-size",
                        b->n, d->size);
  double scale = 1.0 / (double)b->n, stop_votes = 0;
  size_t len = d->n + 2;
  int rc = DESCENT_OK;
  if (d->o.shards) {
    rc = fixed_partial(d, b, stop_vote, poison);
    if (!rc && d->size == 1) {
      spread(d, d->partials[0], 0, len, scale, grad, loss, &stop_votes);
    } else if (!rc) {
      double start = now_seconds();
      dist_watch("the fixed gradient reduction", step);
      const double *block = fixed_block(d);
      size_t first, count;
      own_block(d, &first, &count);
      if (!d->o.zero) { /* every rank gets every block */
        dist_gather_double(block, d->send, d->block);
        block = d->send, first = 0, count = len;
      }
      spread(d, block, first, count, scale, grad, loss, &stop_votes);
      dist_unwatch();
      d->traffic.seconds += now_seconds() - start;
      d->traffic.bytes += reduction_bytes(d, len, sizeof(double)) / (d->o.zero ? 2 : 1);
    }
  } else {
    size_t count;
    double part;
    descent_real *out = grad ? grad : d->self.grad;
    /* Overlap when every rank has a shard (each then makes the same
       buckets): the hook weighs and starts each layer's sum. */
    int overlapped =
        !replay && !d->o.zero && d->o.bucket_bytes && b->n >= (size_t)d->size && d->size > 1;
    if (overlapped) {
      size_t first;
      shard_rows(b->n, (size_t)d->size, (size_t)d->rank, &first, &count);
      d->ov.out = out, d->ov.w = (descent_real)((double)count * scale);
      d->ov.lo = d->ov.hi = d->n, d->ov.on = 1, d->ov.poison = poison;
    }
    int shared = d->shared && !overlapped;
    descent_real *mine = shared ? dist_shared_block(d->shared, d->rank, d->parity) : NULL;
    if (shared) d->inner->grad = mine; /* the backward pass writes where the others read */
    rc = shard_gradient(d, b, (size_t)d->rank, (size_t)d->size, &count, &part);
    d->inner->grad = d->inner_grad;
    d->ov.on = 0;
    if (!rc && shared) {
      if (!count) memset(mine, 0, d->n * sizeof *mine);
      if (poison) mine[0] = NAN;
      double start = now_seconds();
      dist_watch("the gradient sum through shared memory", step);
      shared_sum(d, b->n, scale, out);
      sum_loss_and_votes(part * (double)count * scale, stop_vote, loss, &stop_votes);
      dist_unwatch();
      if (d->size == 2) d->parity ^= 1;
      d->traffic.seconds += now_seconds() - start;
      d->traffic.bytes += shared_bytes(d);
    } else if (!rc) {
      const descent_real *g = d->inner->grad;
      descent_real w = (descent_real)((double)count * scale);
      if (overlapped)
        ; /* weighted by the hook */
      else if (count)
        for (size_t i = 0; i < d->n; i++) out[i] = g[i] * w;
      else
        memset(out, 0, d->n * sizeof *out);
      if (poison && !overlapped) out[0] = NAN;
      double start = now_seconds();
      dist_watch("the gradient all-reduce", step);
      if (d->o.zero) { /* a reduce-scatter: each rank its shard's sums */
        dist_sum_scatter_real(out, d->shard_sums, d->counts);
        memset(out, 0, d->n * sizeof *out);
        memcpy(out + d->shard_offset, d->shard_sums, d->counts[d->rank] * sizeof *out);
        double extra[3] = {part * (double)count * scale, stop_vote, 0};
        for (size_t i = 0; i < d->counts[d->rank]; i++)
          if (!isfinite(d->shard_sums[i])) extra[2] = 1;
        dist_sum_double(extra, 3);
        if (extra[2] > 0) out[0] = NAN;
        *loss = extra[0];
        stop_votes = extra[1];
        d->traffic.bytes += reduction_bytes(d, d->n, sizeof *out) / 2;
      } else {
        if (overlapped) { /* the layers' buckets started during the backward pass */
          start_bucket(d);
          dist_wait_all();
        } else {
          dist_sum_real(out, d->n);
        }
        sum_loss_and_votes(part * (double)count * scale, stop_vote, loss, &stop_votes);
        d->traffic.bytes += reduction_bytes(d, d->n, sizeof *out);
      }
      dist_unwatch();
      d->traffic.seconds += now_seconds() - start;
    }
  }
  /* Every rank's RNG moves on alike (a re-evaluation leaves it where the
     step left it); a re-evaluation puts every statistic back. */
  if (replay) {
    descent_net_set_rng(d->net, &after);
    if (d->n_buffers) memcpy(buffers, d->buffers_kept, d->n_buffers * sizeof *buffers);
  } else {
    descent_rng next;
    shard_rng(&d->step_rng, UINT64_MAX, &next);
    descent_net_set_rng(d->net, &next);
    d->last_n = b->n;
    if (stop_votes > 0 && d->o.stop_agreed && !*d->o.stop_agreed)
      *d->o.stop_agreed =
          d->o.stop_requested && *d->o.stop_requested ? *d->o.stop_requested : SIGTERM;
  }
  return rc;
}

static int dp_value_and_grad(descent_objective *obj, const descent_batch *batch, double *loss) {
  dp *d = obj->impl;
  d->traffic.evaluations++;
  return evaluate(d, batch, loss, obj->grad, 0);
}

static int dp_reevaluate(descent_objective *obj, const descent_batch *batch, double *loss,
                         descent_real *grad) {
  dp *d = obj->impl;
  d->traffic.evaluations++;
  if (!d->last_n)
    return descent_fail(DESCENT_EINVAL,
                        "data-parallel training: re-evaluation before any evaluation");
  return evaluate(d, batch, loss, grad, 1);
}

/* ---- the rest delegates to the network ---------------------------------------------------- */

static size_t dp_max_batch(const descent_objective *obj) {
  const dp *d = obj->impl;
  return d->inner->ops->max_batch ? d->inner->ops->max_batch(d->inner) : 0;
}

static int dp_check_data(const descent_objective *obj, const descent_dataset *ds) {
  const dp *d = obj->impl;
  return d->inner->ops->check_data ? d->inner->ops->check_data(d->inner, ds) : DESCENT_OK;
}

static int dp_save_state(const descent_objective *obj, descent_section_writer *w) {
  const dp *d = obj->impl;
  return d->inner->ops->save_state ? d->inner->ops->save_state(d->inner, w) : DESCENT_OK;
}

static int dp_check_state(const descent_objective *obj, const descent_section_reader *r) {
  const dp *d = obj->impl;
  return d->inner->ops->check_state ? d->inner->ops->check_state(d->inner, r) : DESCENT_OK;
}

static int dp_load_state(descent_objective *obj, const descent_section_reader *r) {
  dp *d = obj->impl;
  d->last_n = 0;
  return d->inner->ops->load_state ? d->inner->ops->load_state(d->inner, r) : DESCENT_OK;
}

/* ---- sharded optimizer state (ZeRO-1) -------------------------------------------------- */

/* Rank s's parameters are [s block, s block + counts[s]) (clipped to n): the
   blocks the fixed reduction sums, so each rank's sums are its shard's. */
static int zero_setup(dp *d) {
  size_t N = (size_t)d->size;
  if (N < 2 || d->block * (N - 1) >= d->n)
    return descent_fail(DESCENT_EINVAL,
                        "--zero shards the optimizer state over the processes: it needs 2 or "
                        "more, and at least one parameter each (%zu parameters, %zu processes)",
                        d->n, N);
  if (!(d->counts = calloc(N, sizeof *d->counts)))
    return descent_fail(DESCENT_ENOMEM, "data-parallel training: out of memory");
  for (size_t s = 0; s < N; s++) {
    size_t first = s * d->block, last = first + d->block < d->n ? first + d->block : d->n;
    d->counts[s] = last - first;
  }
  d->shard_offset = (size_t)d->rank * d->block;
  d->shard_sums = descent_alloc_real(d->block, "the shard's gradient sums");
  d->gathered = descent_alloc_real(d->n, "the gathered parameters");
  return d->shard_sums && d->gathered ? DESCENT_OK : DESCENT_ENOMEM;
}

/* descent_allgather_fn over the ranks, for the optimizer's state. */
static int gather_state(void *user, const descent_real *mine, size_t count, descent_real *all,
                        size_t total) {
  dp *d = user;
  if (count != d->counts[d->rank] || total != d->n)
    return descent_fail(DESCENT_EINVAL,
                        "data-parallel training: a state gather of %zu of %zu values; this "
                        "rank's shard is %zu of %zu",
                        count, total, d->counts[d->rank], d->n);
  dist_gatherv_real(mine, all, d->counts);
  return DESCENT_OK;
}

int dp_objective_shard_optimizer(descent_objective *obj, descent_optimizer *opt) {
  dp *d = obj->impl;
  return descent_optimizer_set_shard(opt, d->shard_offset, d->counts[d->rank], gather_state, d);
}

int dp_objective_gather_parameters(descent_objective *obj) {
  dp *d = obj->impl;
  double start = now_seconds();
  dist_watch("the parameter all-gather", descent_optimizer_steps(d->o.opt));
  dist_gatherv_real(obj->params + d->shard_offset, d->gathered, d->counts);
  dist_unwatch();
  memcpy(obj->params, d->gathered, d->n * sizeof *obj->params);
  d->traffic.seconds += now_seconds() - start;
  d->traffic.bytes += reduction_bytes(d, d->n, sizeof *obj->params) / 2;
  return DESCENT_OK;
}

void dp_objective_free(descent_objective *obj) {
  if (!obj) return;
  dp *d = obj->impl;
  descent_net_set_grad_ready(d->net, NULL, NULL);
  descent_net_set_batch_norm_sync(d->net, NULL, NULL);
  if (d->partials)
    for (size_t j = 0; j < (size_t)(d->o.shards / d->size); j++) free(d->partials[j]);
  free(d->partials);
  free(d->send);
  free(d->received);
  free(d->counts);
  descent_free_real(d->shard_sums);
  descent_free_real(d->gathered);
  descent_free_real(d->buffers_saved);
  descent_free_real(d->buffers_kept);
  descent_free_real(d->self.grad);
  dist_shared_free(d->shared);
  free(d);
}

int dp_objective_create(descent_objective **out, descent_net *net, const dp_options *o) {
  *out = NULL;
  int size = dist_size();
  if (o->shards && dp_check_shards(o->shards, size)) return DESCENT_EINVAL;
  dp *d = calloc(1, sizeof *d);
  /* Agreed like every later failure (below): a rank that returned alone
     would leave the others waiting in the next collective. */
  if (size > 1 && !dist_min_i64(d != NULL)) {
    int mine = d != NULL;
    free(d);
    return descent_fail(DESCENT_ENOMEM, "data-parallel training: %s",
                        mine ? "another process is out of memory" : "out of memory");
  }
  if (!d) return descent_fail(DESCENT_ENOMEM, "data-parallel training: out of memory");
  d->net = net;
  d->inner = descent_net_objective(net);
  d->inner_grad = d->inner->grad;
  d->o = *o;
  d->rank = dist_rank(), d->size = size;
  d->n = d->inner->n_params;
  descent_shape in = descent_net_input_shape(net);
  d->features = descent_shape_size(&in);
  d->outputs = descent_net_outputs(net);
  descent_net_buffers(net, &d->n_buffers);
  d->ops = *d->inner->ops;
  d->ops.value_and_grad = dp_value_and_grad;
  d->ops.value = NULL;
  d->ops.destroy = NULL;
  d->ops.max_batch = dp_max_batch;
  d->ops.check_data = dp_check_data;
  d->ops.save_state = dp_save_state;
  d->ops.check_state = dp_check_state;
  d->ops.load_state = dp_load_state;
  d->ops.reevaluate = dp_reevaluate;
  /* Curvature products, per-example gradients: not summed over the ranks
     (yet); the methods that need them are refused at the trainer's start. */
  d->ops.hvp = NULL;
  d->ops.ggnvp = NULL;
  d->ops.ggn_diagonal = NULL;
  d->ops.example_gradients = NULL;
  d->self.ops = &d->ops;
  d->self.n_params = d->n;
  d->self.params = d->inner->params;
  d->self.n_tensors = d->inner->n_tensors;
  d->self.tensors = d->inner->tensors;
  d->self.impl = d;
  int ok = (d->self.grad = descent_alloc_real(d->n ? d->n : 1, "data-parallel gradient")) != NULL;
  if (ok && d->n_buffers)
    ok = (d->buffers_saved = descent_alloc_real(d->n_buffers, "batch-norm statistics")) &&
         (d->buffers_kept = descent_alloc_real(d->n_buffers, "batch-norm statistics"));
  d->block = (d->n + 2 + (size_t)size - 1) / (size_t)size;
  int status = ok ? DESCENT_OK : DESCENT_ENOMEM;
  if (ok && o->sync_bn && o->shards && o->shards != size)
    ok = 0, status = descent_fail(DESCENT_EINVAL,
                                  "--sync-bn with --reduction fixed needs one micro-batch per "
                                  "process (--shards %d), not %d",
                                  size, o->shards);
  if (ok) {
    descent_net_set_grad_ready(net, o->bucket_bytes && !o->zero ? grad_ready : NULL, d);
    descent_net_set_batch_norm_sync(net, o->sync_bn ? sum_statistics : NULL, d);
  }
  if (ok && o->zero && (status = zero_setup(d))) ok = 0;
  if (ok && o->shards) {
    size_t per = (size_t)(o->shards / size), len = d->n + 2;
    ok = (d->partials = calloc(per, sizeof *d->partials)) != NULL;
    for (size_t j = 0; ok && j < per; j++)
      ok = (d->partials[j] = malloc(len * sizeof(double))) != NULL;
    if (ok && size > 1) {
      ok = (d->send = malloc(d->block * (size_t)size * sizeof *d->send)) &&
           (d->received = malloc(d->block * (size_t)size * sizeof *d->received));
    }
    if (!ok)
      descent_fail(DESCENT_ENOMEM,
                   "data-parallel training: out of memory for %zu "
                   "micro-batch gradients of %zu values",
                   per, len);
  }
  /* Every rank succeeds or all fail, before the window (made by every rank
     or by none): a rank that failed above makes them all fail (each then
     says so, and the job ends alike, as cmd_train.c expects). Nothing after
     this can fail on one rank alone. */
  if (size > 1 && !dist_min_i64(ok) && ok)
    ok = 0, status = descent_fail(DESCENT_ENOMEM, "data-parallel training: another process "
                                                  "could not set up its buffers (out of memory)");
  /* Collective: every rank has the same options. The overlapped sum keeps
     MPI's all-reduce (its buckets start during the backward pass). */
  if (ok && !o->shards && !o->zero && !o->bucket_bytes && size > 1)
    d->shared = dist_shared_create(2, d->n);
  if (!ok) { /* freeing calls the library, which clears the message: keep it */
    char why[1024];
    snprintf(why, sizeof why, "%s", descent_last_error());
    dp_objective_free(&d->self);
    return descent_fail(status ? status : DESCENT_ENOMEM, "%s", why);
  }
  *out = &d->self;
  return DESCENT_OK;
}
