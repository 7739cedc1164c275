/*
 * dnnl_conv.c - oneDNN's convolutions beside descent's own, on the two
 * convolutions of fmnist_2c2d, to decide which serves each operation on each
 * kernel path.
 *
 * descent's tensors are NCHW floats and its weights OIHW. oneDNN can take
 * them as they are ("plain": nchw/oihw given to the primitive, which then
 * picks an implementation that reads them, often its GEMM one), or pick its
 * own blocked layouts ("blocked": format_tag any), in which case the data must
 * be reordered in and out; those reorders are timed with the convolution,
 * since descent would have to do them every step. Two ways to run it:
 *  - "batch": one call for the whole batch, oneDNN's own OpenMP threads;
 *  - "group": groups of 8 examples handed to the threads, each call on one
 *    thread (the primitives made for one thread), the weight gradient summed
 *    over the groups in group order: what descent's conv layer does, and
 *    what keeps its results independent of the thread count.
 * Each operation carries the reorders it needs: forward (src, weights in;
 * dst out), backward-data (diff_dst, weights in; diff_src out),
 * backward-weights with the bias gradient (src, diff_dst in; diff_weights
 * out). In the layer diff_dst would be reordered once for both backward
 * operations, so their sum counts that reorder twice.
 *
 * descent's own layer is timed on the same shapes through the layer
 * interface: forward; backward with the input gradient (the whole backward
 * pass) and without it (weights and bias only).
 *
 * The kernel path is descent's (DESCENT_ISA); oneDNN's maximum ISA follows
 * it: avx512 -> avx512_core, avx2 -> avx2 (portable: descent only).
 *
 * usage: dnnl_conv THREADS [REPS]
 * Prints lines: PATH THREADS LAYER BATCH WHO OP best_ms=B median_ms=M
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime under -std=c11 */

#include "nn/network_internal.h"

#include <dnnl.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "timing.h"

#define GROUP 8

#define CK(call)                                                                                   \
  do {                                                                                             \
    dnnl_status_t s_ = (call);                                                                     \
    if (s_ != dnnl_success) {                                                                      \
      fprintf(stderr, "dnnl_conv: %s failed (%d) at line %d\n", #call, (int)s_, __LINE__);         \
      exit(1);                                                                                     \
    }                                                                                              \
  } while (0)

typedef struct conv_shape {
  const char *name;
  int c, h, w, o, k, pad;
} conv_shape;

static const conv_shape shapes[] = {
    {"conv1", 1, 28, 28, 32, 5, 2},
    {"conv2", 32, 14, 14, 64, 5, 2},
};

static dnnl_engine_t engine;

/* A reorder from one memory to another, or nothing when the layouts agree. */
typedef struct reorder {
  dnnl_primitive_t prim;
  dnnl_memory_t from, to;
} reorder;

/* One convolution with everything it needs, for one batch size and layout:
   the user's memories (their handles set per call), the convolution's own
   (the same objects in the plain layout), the three primitives, the
   reorders and a scratchpad per primitive. */
typedef struct plan {
  dnnl_stream_t stream;
  dnnl_memory_t src, w, b, dst, ddst, dsrc, dw, db; /* user, NCHW / OIHW */
  dnnl_memory_t csrc, cw, cdst;                     /* the convolutions' */
  dnnl_memory_t cddst, cwd, cdsrc, csrcw, cddstw, cdw;
  dnnl_memory_t pad_fwd, pad_bwdd, pad_bwdw; /* scratchpads */
  dnnl_primitive_t fwd, bwdd, bwdw;
  reorder r_src, r_w, r_dst, r_ddst, r_wd, r_dsrc, r_srcw, r_ddstw, r_dw;
} plan;

static void md4(dnnl_memory_desc_t *md, int a, int b, int c, int d, dnnl_format_tag_t tag) {
  dnnl_dims_t dims = {a, b, c, d};
  CK(dnnl_memory_desc_init_by_tag(md, 4, dims, dnnl_f32, tag));
}

static dnnl_memory_t memory_of(const dnnl_memory_desc_t *md, void *handle) {
  dnnl_memory_t m;
  CK(dnnl_memory_create(&m, md, engine, handle));
  return m;
}

/* The convolution's memory for pd's argument `what`: the user's own when the
   layouts agree, else a new one and a reorder (in: user -> conv; out: conv ->
   user). */
static dnnl_memory_t conv_memory(const_dnnl_primitive_desc_t pd, dnnl_query_t what,
                                 dnnl_memory_t user, int in, reorder *r) {
  const dnnl_memory_desc_t *want = dnnl_primitive_desc_query_md(pd, what, 0), *have;
  CK(dnnl_memory_get_memory_desc(user, &have));
  r->prim = NULL;
  if (dnnl_memory_desc_equal(want, have)) return user;
  dnnl_memory_t m = memory_of(want, DNNL_MEMORY_ALLOCATE);
  dnnl_primitive_desc_t rpd;
  CK(in ? dnnl_reorder_primitive_desc_create(&rpd, have, engine, want, engine, NULL)
        : dnnl_reorder_primitive_desc_create(&rpd, want, engine, have, engine, NULL));
  CK(dnnl_primitive_create(&r->prim, rpd));
  dnnl_primitive_desc_destroy(rpd);
  r->from = in ? user : m;
  r->to = in ? m : user;
  return m;
}

static dnnl_memory_t scratchpad_of(const_dnnl_primitive_desc_t pd) {
  return memory_of(dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0),
                   DNNL_MEMORY_ALLOCATE);
}

static dnnl_primitive_t primitive_of(const_dnnl_primitive_desc_t pd) {
  dnnl_primitive_t p;
  CK(dnnl_primitive_create(&p, pd));
  return p;
}

static const char *impl_of(const_dnnl_primitive_desc_t pd) {
  const char *s = NULL;
  dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &s);
  return s ? s : "?";
}

/* The plan for mb examples of shape s; blocked: format_tag any. Made with
   the calling thread's OpenMP thread count. */
static void plan_make(plan *p, const conv_shape *s, int mb, int blocked, int verbose) {
  memset(p, 0, sizeof *p);
  CK(dnnl_stream_create(&p->stream, engine, dnnl_stream_default_flags));
  int ho = s->h + 2 * s->pad - s->k + 1, wo = s->w + 2 * s->pad - s->k + 1;
  dnnl_memory_desc_t src, w, b, dst, any_src, any_w, any_dst;
  md4(&src, mb, s->c, s->h, s->w, dnnl_nchw);
  md4(&w, s->o, s->c, s->k, s->k, dnnl_oihw);
  md4(&dst, mb, s->o, ho, wo, dnnl_nchw);
  dnnl_dims_t bd = {s->o};
  CK(dnnl_memory_desc_init_by_tag(&b, 1, bd, dnnl_f32, dnnl_x));
  md4(&any_src, mb, s->c, s->h, s->w, blocked ? dnnl_format_tag_any : dnnl_nchw);
  md4(&any_w, s->o, s->c, s->k, s->k, blocked ? dnnl_format_tag_any : dnnl_oihw);
  md4(&any_dst, mb, s->o, ho, wo, blocked ? dnnl_format_tag_any : dnnl_nchw);
  p->src = memory_of(&src, DNNL_MEMORY_NONE), p->dsrc = memory_of(&src, DNNL_MEMORY_NONE);
  p->w = memory_of(&w, DNNL_MEMORY_NONE), p->dw = memory_of(&w, DNNL_MEMORY_NONE);
  p->b = memory_of(&b, DNNL_MEMORY_NONE), p->db = memory_of(&b, DNNL_MEMORY_NONE);
  p->dst = memory_of(&dst, DNNL_MEMORY_NONE), p->ddst = memory_of(&dst, DNNL_MEMORY_NONE);
  dnnl_dims_t strides = {1, 1}, pad = {s->pad, s->pad};
  dnnl_primitive_attr_t attr;
  CK(dnnl_primitive_attr_create(&attr));
  CK(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user));
  dnnl_convolution_desc_t fd, bdd, bwd;
  CK(dnnl_convolution_forward_desc_init(&fd, dnnl_forward_training, dnnl_convolution_direct,
                                        &any_src, &any_w, &b, &any_dst, strides, pad, pad));
  CK(dnnl_convolution_backward_data_desc_init(&bdd, dnnl_convolution_direct, &any_src, &any_w,
                                              &any_dst, strides, pad, pad));
  CK(dnnl_convolution_backward_weights_desc_init(&bwd, dnnl_convolution_direct, &any_src, &any_w,
                                                 &b, &any_dst, strides, pad, pad));
  dnnl_primitive_desc_t fpd, bdpd, bwpd;
  CK(dnnl_primitive_desc_create(&fpd, &fd, attr, engine, NULL));
  CK(dnnl_primitive_desc_create(&bdpd, &bdd, attr, engine, fpd));
  CK(dnnl_primitive_desc_create(&bwpd, &bwd, attr, engine, fpd));
  if (verbose)
    printf("# %s mb=%d %s: forward %s, backward-data %s, backward-weights %s\n", s->name, mb,
           blocked ? "blocked" : "plain", impl_of(fpd), impl_of(bdpd), impl_of(bwpd));
  p->csrc = conv_memory(fpd, dnnl_query_src_md, p->src, 1, &p->r_src);
  p->cw = conv_memory(fpd, dnnl_query_weights_md, p->w, 1, &p->r_w);
  p->cdst = conv_memory(fpd, dnnl_query_dst_md, p->dst, 0, &p->r_dst);
  p->cddst = conv_memory(bdpd, dnnl_query_diff_dst_md, p->ddst, 1, &p->r_ddst);
  p->cwd = conv_memory(bdpd, dnnl_query_weights_md, p->w, 1, &p->r_wd);
  p->cdsrc = conv_memory(bdpd, dnnl_query_diff_src_md, p->dsrc, 0, &p->r_dsrc);
  /* Each operation its own layouts: with one input channel (conv1) the
     forward pass reads plain NCHW and the weight gradient a blocked copy. */
  p->csrcw = conv_memory(bwpd, dnnl_query_src_md, p->src, 1, &p->r_srcw);
  p->cddstw = conv_memory(bwpd, dnnl_query_diff_dst_md, p->ddst, 1, &p->r_ddstw);
  p->cdw = conv_memory(bwpd, dnnl_query_diff_weights_md, p->dw, 0, &p->r_dw);
  p->pad_fwd = scratchpad_of(fpd), p->pad_bwdd = scratchpad_of(bdpd);
  p->pad_bwdw = scratchpad_of(bwpd);
  p->fwd = primitive_of(fpd), p->bwdd = primitive_of(bdpd), p->bwdw = primitive_of(bwpd);
  dnnl_primitive_desc_destroy(fpd), dnnl_primitive_desc_destroy(bdpd);
  dnnl_primitive_desc_destroy(bwpd), dnnl_primitive_attr_destroy(attr);
}

static void run_reorder(plan *p, const reorder *r) {
  if (!r->prim) return;
  dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, r->from}, {DNNL_ARG_TO, r->to}};
  CK(dnnl_primitive_execute(r->prim, p->stream, 2, args));
}

static void run_forward(plan *p) {
  run_reorder(p, &p->r_src);
  run_reorder(p, &p->r_w);
  dnnl_exec_arg_t args[] = {{DNNL_ARG_SRC, p->csrc},
                            {DNNL_ARG_WEIGHTS, p->cw},
                            {DNNL_ARG_BIAS, p->b},
                            {DNNL_ARG_DST, p->cdst},
                            {DNNL_ARG_SCRATCHPAD, p->pad_fwd}};
  CK(dnnl_primitive_execute(p->fwd, p->stream, 5, args));
  run_reorder(p, &p->r_dst);
  CK(dnnl_stream_wait(p->stream));
}

static void run_backward_data(plan *p) {
  run_reorder(p, &p->r_ddst);
  run_reorder(p, &p->r_wd);
  dnnl_exec_arg_t args[] = {{DNNL_ARG_DIFF_DST, p->cddst},
                            {DNNL_ARG_WEIGHTS, p->cwd},
                            {DNNL_ARG_DIFF_SRC, p->cdsrc},
                            {DNNL_ARG_SCRATCHPAD, p->pad_bwdd}};
  CK(dnnl_primitive_execute(p->bwdd, p->stream, 4, args));
  run_reorder(p, &p->r_dsrc);
  CK(dnnl_stream_wait(p->stream));
}

static void run_backward_weights(plan *p) {
  run_reorder(p, &p->r_srcw);
  run_reorder(p, &p->r_ddstw);
  dnnl_exec_arg_t args[] = {{DNNL_ARG_SRC, p->csrcw},
                            {DNNL_ARG_DIFF_DST, p->cddstw},
                            {DNNL_ARG_DIFF_WEIGHTS, p->cdw},
                            {DNNL_ARG_DIFF_BIAS, p->db},
                            {DNNL_ARG_SCRATCHPAD, p->pad_bwdw}};
  CK(dnnl_primitive_execute(p->bwdw, p->stream, 5, args));
  run_reorder(p, &p->r_dw);
  CK(dnnl_stream_wait(p->stream));
}

/* The buffers of one batch, NCHW, and per group room for the partial weight
   and bias gradients. */
typedef struct tensors {
  float *x, *w, *b, *y, *dy, *dx, *dw, *db;
  size_t in, out, nw; /* reals per example, per weight tensor */
} tensors;

static void set_handles(plan *p, const tensors *t, size_t e0, size_t slot) {
  CK(dnnl_memory_set_data_handle(p->src, t->x + e0 * t->in));
  CK(dnnl_memory_set_data_handle(p->dsrc, t->dx + e0 * t->in));
  CK(dnnl_memory_set_data_handle(p->dst, t->y + e0 * t->out));
  CK(dnnl_memory_set_data_handle(p->ddst, t->dy + e0 * t->out));
  CK(dnnl_memory_set_data_handle(p->w, t->w));
  CK(dnnl_memory_set_data_handle(p->b, t->b));
  CK(dnnl_memory_set_data_handle(p->dw, t->dw + slot * t->nw));
  CK(dnnl_memory_set_data_handle(p->db, t->db + slot * 64));
}

enum { OP_FWD, OP_BWDD, OP_BWDW };
static void (*const runs[])(plan *) = {run_forward, run_backward_data, run_backward_weights};
static const char *const op_names[] = {"fwd", "bwd_data", "bwd_weights"};

/* One operation on the whole batch: a single call (batch mode, plans[0]) or
   groups of GROUP on the threads (plans[thread], tails[thread] for a last
   partial group), the partial weight gradients then summed in group order. */
static void run_op(int op, plan *plans, plan *tails, const tensors *t, size_t n, int group_mode,
                   int threads) {
  if (!group_mode) {
    set_handles(&plans[0], t, 0, 0);
    runs[op](&plans[0]);
    return;
  }
  size_t groups = (n + GROUP - 1) / GROUP;
#pragma omp parallel for schedule(static) num_threads(threads)
  for (size_t g = 0; g < groups; g++) {
    int me = omp_get_thread_num();
    plan *p = (g + 1) * GROUP <= n ? &plans[me] : &tails[me];
    set_handles(p, t, g * GROUP, op == OP_BWDW ? g : 0);
    runs[op](p);
  }
  if (op != OP_BWDW) return;
  for (size_t g = 1; g < groups; g++) {
    for (size_t i = 0; i < t->nw; i++) t->dw[i] += t->dw[g * t->nw + i];
    for (size_t i = 0; i < 64; i++) t->db[i] += t->db[g * 64 + i];
  }
}

static void report(const char *path, int threads, const conv_shape *s, size_t n, const char *who,
                   const char *op, double *times, int reps) {
  qsort(times, (size_t)reps, sizeof *times, compare);
  printf("%s %d %s %zu %s %s best_ms=%.2f median_ms=%.2f\n", path, threads, s->name, n, who, op,
         1e3 * times[0], 1e3 * times[reps / 2]);
  fflush(stdout);
}

static void time_dnnl(const char *path, int threads, const conv_shape *s, size_t n, int train,
                      int blocked, int group_mode, int reps, tensors *t) {
  int slots = group_mode ? threads : 1;
  plan *plans = calloc((size_t)slots, sizeof *plans), *tails = calloc((size_t)slots, sizeof *tails);
  /* Made on one thread for group mode: each call then runs on one thread. */
  int saved = omp_get_max_threads();
  omp_set_num_threads(group_mode ? 1 : threads);
  for (int i = 0; i < slots; i++) {
    plan_make(&plans[i], s, group_mode ? GROUP : (int)n, blocked, i == 0);
    if (group_mode && n % GROUP) plan_make(&tails[i], s, (int)(n % GROUP), blocked, 0);
  }
  omp_set_num_threads(saved);
  double *times = malloc((size_t)reps * sizeof *times);
  char who[32];
  snprintf(who, sizeof who, "dnnl-%s-%s", blocked ? "blocked" : "plain",
           group_mode ? "group" : "batch");
  for (int op = OP_FWD; op <= (train ? OP_BWDW : OP_FWD); op++) {
    for (int r = -3; r < reps; r++) {
      double t0 = now();
      run_op(op, plans, tails, t, n, group_mode, threads);
      if (r >= 0) times[r] = now() - t0;
    }
    report(path, threads, s, n, who, op_names[op], times, reps);
  }
  free(times);
  /* The plans' objects are left to the process's end: a benchmark. */
  free(plans), free(tails);
}

/* descent's own layer on the same shape and data. */
static void time_descent(const char *path, int threads, const conv_shape *s, size_t n, int train,
                         int reps, tensors *t) {
  char spec[64];
  snprintf(spec, sizeof spec, "conv(%d, %d, pad=%d)", s->o, s->k, s->pad);
  descent_shape in = {3, {(size_t)s->c, (size_t)s->h, (size_t)s->w}};
  descent_net *net = NULL;
  if (descent_net_create(&net, spec, &in, DESCENT_LOSS_MSE, n, 1)) {
    fprintf(stderr, "dnnl_conv: %s\n", descent_last_error());
    exit(1);
  }
  layer *l = &net->layers[0];
  descent_objective *obj = descent_net_objective(net);
  double *times = malloc((size_t)reps * sizeof *times);
  for (int op = 0; op < (train ? 3 : 1); op++) {
    for (int r = -3; r < reps; r++) {
      double t0 = now();
      if (op == 0)
        l->ops->forward(l, obj->params, t->x, t->y, n, 1);
      else
        l->ops->backward(l, obj->params, t->x, t->y, t->dy, op == 1 ? t->dx : NULL, obj->grad, n);
      if (r >= 0) times[r] = now() - t0;
    }
    report(path, threads, s, n, "descent",
           op == 0   ? "fwd"
           : op == 1 ? "bwd"
                     : "bwd_weights",
           times, reps);
  }
  free(times);
  descent_net_free(net);
}

static float *filled(size_t count, unsigned seed) {
  float *v = malloc(count * sizeof *v);
  for (size_t i = 0; i < count; i++) {
    seed = seed * 1103515245u + 12345u;
    v[i] = (float)((seed >> 8) & 0xffff) / 65536.0f - 0.5f;
  }
  return v;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: dnnl_conv THREADS [REPS]\n");
    return 2;
  }
  int threads = atoi(argv[1]), reps = argc > 2 ? atoi(argv[2]) : 20;
  if (threads < 1 || reps < 1) {
    fprintf(stderr, "dnnl_conv: THREADS and REPS must be positive integers\n");
    return 2;
  }
  if (descent_isa_check()) {
    fprintf(stderr, "dnnl_conv: %s\n", descent_last_error());
    return 2;
  }
  descent_set_threads(threads);
  omp_set_num_threads(threads);
  int path = descent_isa_path();
  const char *path_name = descent_isa_name();
  int use_dnnl = path != DESCENT_ISA_PORTABLE;
  if (use_dnnl) {
    CK(dnnl_set_max_cpu_isa(path == DESCENT_ISA_AVX512 ? dnnl_cpu_isa_avx512_core
                                                       : dnnl_cpu_isa_avx2));
    CK(dnnl_engine_create(&engine, dnnl_cpu, 0));
  }
  /* OpenBLAS's kernels as the descent program picks them (after the cap
     above: oneDNN's is set once). */
  if (descent_cpu_setup()) {
    fprintf(stderr, "dnnl_conv: %s\n", descent_last_error());
    return 2;
  }
  const dnnl_version_t *v = dnnl_version();
  printf("# path %s, %d thread(s), oneDNN %d.%d.%d, %d reps\n", path_name, threads, v->major,
         v->minor, v->patch, reps);
  const size_t batches[][2] = {{128, 1}, {1000, 0}}; /* batch, train */
  for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
    const conv_shape *s = &shapes[si];
    for (size_t bi = 0; bi < 2; bi++) {
      size_t n = batches[bi][0];
      int train = (int)batches[bi][1];
      tensors t;
      t.in = (size_t)s->c * s->h * s->w, t.out = (size_t)s->o * s->h * s->w;
      t.nw = (size_t)s->o * s->c * s->k * s->k;
      size_t groups = (n + GROUP - 1) / GROUP;
      t.x = filled(n * t.in, 1), t.dy = filled(n * t.out, 2), t.w = filled(t.nw, 3);
      t.b = filled(64, 4), t.y = filled(n * t.out, 5), t.dx = filled(n * t.in, 6);
      t.dw = filled(groups * t.nw, 7), t.db = filled(groups * 64, 8);
      time_descent(path_name, threads, s, n, train, reps, &t);
      for (int blocked = 0; use_dnnl && blocked < 2; blocked++)
        for (int group_mode = 0; group_mode < 2; group_mode++)
          time_dnnl(path_name, threads, s, n, train, blocked, group_mode, reps, &t);
      free(t.x), free(t.dy), free(t.w), free(t.b), free(t.y), free(t.dx), free(t.dw), free(t.db);
    }
  }
  return 0;
}
