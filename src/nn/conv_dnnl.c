/*
 * conv_dnnl.c - oneDNN's convolutions for the conv layer (conv.c), where
 * they are faster than descent's own kernels.
 *
 * oneDNN's fast (jit) convolutions read and write blocked layouts (channels
 * in blocks of 8 or 16); given descent's NCHW tensors as they are, it falls
 * back on im2col + its GEMM, slower than descent's own code. So each group
 * of examples is reordered into the layouts the primitive asks for
 * (format_tag any), convolved, and reordered back; bench/dnnl_conv.c times
 * all of it and bench/README.md has the figures behind the choice below.
 *
 * conv.c hands groups of examples to its threads; each call here runs one
 * group on the calling thread. The primitives are made once per layer, for
 * the group size and for one thread, and shared by the threads, each with
 * its own work slot (stream, memory objects, scratchpad): nothing is
 * allocated per step. A last, partial group is copied into the slot's
 * zero-padded staging area, so one set of primitives serves every batch
 * size: the zero examples add exact zeros to the weight gradient. Since every
 * group runs the same single-threaded primitive on the same examples
 * whatever the number of threads, and conv.c sums the groups' weight
 * gradients in group order, the results do not depend on the thread count.
 *
 * The run-time path caps oneDNN: on avx2 it is held to AVX2
 * (dnnl_set_max_cpu_isa, once, process-wide: oneDNN has no narrower
 * setting); on avx512 it takes what the CPU has; the portable path does not
 * use it. oneDNN computes in float: the double build does without it.
 */
#include "conv_dnnl.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int conv_dnnl_enabled = 1;

#if CONV_DNNL

#include <dnnl.h>
#include <omp.h>

int conv_dnnl_available(void) {
  return conv_dnnl_enabled && descent_isa_path() >= DESCENT_ISA_AVX2;
}

/* Measured with bench/dnnl_conv.c on fmnist_2c2d (AMD EPYC Zen 4, batch
   128, 1 thread, ms, fastest of 20, oneDNN's reorders included; descent's
   input gradient is its whole backward pass less its weight gradient):
                       forward          weight grad       input grad
                       dnnl  descent    dnnl  descent     dnnl  descent
   avx512  conv1 1->32  1.9   2.5        2.2   2.7        21.4   2.3
           conv2 32->64 19.9  23.8       20.8  30.4       19.8   23.3
   avx2    conv1 1->32  2.4   2.6        16.2  2.6        19.1   2.1
           conv2 32->64 24.7  45.7       37.0  37.7       24.7   44.0
   (the avx2 rows on a busier machine.) oneDNN's kernels for a single input
   channel compute the input gradient (and, on AVX2, the weight gradient)
   poorly; from 8 channels on it wins or ties every operation. Only these
   two shapes were measured: the rule by input channels is a guess beyond
   them. */
conv_dnnl_ops conv_dnnl_choose(const conv_dnnl_shape *s) {
  conv_dnnl_ops ops = {0, 0, 0};
  if (!conv_dnnl_available()) return ops;
  int avx512 = descent_isa_path() >= DESCENT_ISA_AVX512, wide = s->c >= 8;
  ops.forward = avx512 || wide;
  ops.weights = avx512 || wide;
  ops.input_grad = wide;
  return ops;
}

/* What the layer's tensors look like in descent (NCHW, OIHW) and what the
   primitive wants; the reorder between them is shared by the slots. */
enum { PORT_SRC, PORT_DST, PORT_DDST, PORT_DSRC, PORT_WSRC, PORT_WDDST, PORT_DW, N_PORTS };

typedef struct port {
  dnnl_memory_t user, conv; /* conv == user when the layouts agree */
} port;

typedef struct work_slot {
  dnnl_stream_t stream;
  port ports[N_PORTS];
  dnnl_memory_t bias_grad;
  dnnl_memory_t scratch_fwd, scratch_dx, scratch_dw;
  float *stage_x, *stage_dx, *stage_y, *stage_dy; /* for a last, partial group */
} work_slot;

struct conv_dnnl {
  conv_dnnl_shape s;
  conv_dnnl_ops ops;
  size_t in, out; /* reals per example */
  dnnl_engine_t engine;
  dnnl_primitive_t fwd, bwd_data, bwd_weights;
  dnnl_primitive_t reorders[N_PORTS];
  int inbound[N_PORTS];
  int share_ddst; /* both backward primitives read dY in one layout */
  port w_fwd, w_dx;
  dnnl_primitive_t w_fwd_reorder, w_dx_reorder;
  dnnl_memory_t bias;
  work_slot *slots;
  int n_slots;
};

static int failed(dnnl_status_t s, const char *what) {
  return descent_fail(s == dnnl_out_of_memory ? DESCENT_ENOMEM : DESCENT_ENOTSUP,
                      "oneDNN: %s failed (status %d)", what, (int)s);
}

#define TRY(call, what)                                                                            \
  do {                                                                                             \
    dnnl_status_t s_ = (call);                                                                     \
    if (s_ != dnnl_success) return failed(s_, what);                                               \
  } while (0)

/* Holds oneDNN to AVX2 on the avx2 path, once per process; refuses to go on
   when oneDNN already runs a wider set here (another user in the process
   started it first). */
static int cap_isa(void) {
  if (descent_isa_path() >= DESCENT_ISA_AVX512) return DESCENT_OK;
  int rc = DESCENT_OK;
  /* A mutex of this file's own: a named `omp critical` would be a global
     symbol (.gomp_critical_user_NAME) that the shared library exports. */
  static pthread_mutex_t isa_lock = PTHREAD_MUTEX_INITIALIZER;
  pthread_mutex_lock(&isa_lock);
  dnnl_set_max_cpu_isa(dnnl_cpu_isa_avx2); /* refused when already set: checked below */
  dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
  if ((unsigned)isa & ~(unsigned)dnnl_cpu_isa_avx2)
    rc = descent_fail(DESCENT_ENOTSUP,
                      "oneDNN already runs instruction sets wider than AVX2 in this process "
                      "(0x%x); DESCENT_ISA=avx2 cannot hold its convolutions to AVX2",
                      (unsigned)isa);
  pthread_mutex_unlock(&isa_lock);
  return rc;
}

static int md4(dnnl_memory_desc_t *md, size_t a, size_t b, size_t c, size_t d,
               dnnl_format_tag_t tag) {
  dnnl_dims_t dims = {(dnnl_dim_t)a, (dnnl_dim_t)b, (dnnl_dim_t)c, (dnnl_dim_t)d};
  TRY(dnnl_memory_desc_init_by_tag(md, 4, dims, dnnl_f32, tag), "a memory descriptor");
  return DESCENT_OK;
}

/* A port for the primitive's argument `what`: the user's memory (its handle
   set per call) and, where the layouts differ, the primitive's own and the
   reorder (made once, for the first slot). */
static int port_make(conv_dnnl *d, port *p, const dnnl_memory_desc_t *user,
                     const_dnnl_primitive_desc_t pd, dnnl_query_t what, int inbound,
                     dnnl_primitive_t *reorder) {
  TRY(dnnl_memory_create(&p->user, user, d->engine, DNNL_MEMORY_NONE), "a memory object");
  const dnnl_memory_desc_t *want = dnnl_primitive_desc_query_md(pd, what, 0);
  if (dnnl_memory_desc_equal(want, user)) {
    p->conv = p->user;
    return DESCENT_OK;
  }
  TRY(dnnl_memory_create(&p->conv, want, d->engine, DNNL_MEMORY_ALLOCATE), "a memory object");
  if (*reorder) return DESCENT_OK;
  dnnl_primitive_desc_t rpd;
  TRY(inbound ? dnnl_reorder_primitive_desc_create(&rpd, user, d->engine, want, d->engine, NULL)
              : dnnl_reorder_primitive_desc_create(&rpd, want, d->engine, user, d->engine, NULL),
      "a reorder");
  dnnl_status_t s = dnnl_primitive_create(reorder, rpd);
  dnnl_primitive_desc_destroy(rpd);
  TRY(s, "a reorder");
  return DESCENT_OK;
}

static void port_free(port *p) {
  if (p->conv && p->conv != p->user) dnnl_memory_destroy(p->conv);
  if (p->user) dnnl_memory_destroy(p->user);
  p->conv = p->user = NULL;
}

static int scratchpad_make(conv_dnnl *d, const_dnnl_primitive_desc_t pd, dnnl_memory_t *m) {
  if (!pd) return DESCENT_OK;
  TRY(dnnl_memory_create(m, dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0),
                         d->engine, DNNL_MEMORY_ALLOCATE),
      "a scratchpad");
  return DESCENT_OK;
}

/* The three primitive descriptors, for one thread. */
typedef struct descs {
  dnnl_memory_desc_t src, w, bias, dst;
  dnnl_primitive_desc_t fwd, dx, dw;
} descs;

static int descs_make(conv_dnnl *d, descs *ds) {
  const conv_dnnl_shape *s = &d->s;
  size_t ho = (s->h + 2 * s->pad - s->k) / s->stride + 1;
  size_t wo = (s->w + 2 * s->pad - s->k) / s->stride + 1;
  dnnl_memory_desc_t any_src, any_w, any_dst;
  int rc = md4(&ds->src, s->group, s->c, s->h, s->w, dnnl_nchw);
  if (!rc) rc = md4(&ds->w, s->o, s->c, s->k, s->k, dnnl_oihw);
  if (!rc) rc = md4(&ds->dst, s->group, s->o, ho, wo, dnnl_nchw);
  if (!rc) rc = md4(&any_src, s->group, s->c, s->h, s->w, dnnl_format_tag_any);
  if (!rc) rc = md4(&any_w, s->o, s->c, s->k, s->k, dnnl_format_tag_any);
  if (!rc) rc = md4(&any_dst, s->group, s->o, ho, wo, dnnl_format_tag_any);
  if (rc) return rc;
  dnnl_dims_t bias_dims = {(dnnl_dim_t)s->o};
  TRY(dnnl_memory_desc_init_by_tag(&ds->bias, 1, bias_dims, dnnl_f32, dnnl_x), "the bias");
  const dnnl_memory_desc_t *bias = s->bias ? &ds->bias : NULL;
  dnnl_dims_t strides = {(dnnl_dim_t)s->stride, (dnnl_dim_t)s->stride};
  dnnl_dims_t pad = {(dnnl_dim_t)s->pad, (dnnl_dim_t)s->pad};
  /* Right and bottom padding: what the last window reaches, as descent's
     (and PyTorch's) output size floors. */
  dnnl_dims_t pad_r = {(dnnl_dim_t)((ho - 1) * s->stride + s->k) - (dnnl_dim_t)(s->h + s->pad),
                       (dnnl_dim_t)((wo - 1) * s->stride + s->k) - (dnnl_dim_t)(s->w + s->pad)};
  dnnl_convolution_desc_t fd, dxd, dwd;
  TRY(dnnl_convolution_forward_desc_init(&fd, dnnl_forward_training, dnnl_convolution_direct,
                                         &any_src, &any_w, bias, &any_dst, strides, pad, pad_r),
      "the forward convolution");
  TRY(dnnl_convolution_backward_data_desc_init(&dxd, dnnl_convolution_direct, &any_src, &any_w,
                                               &any_dst, strides, pad, pad_r),
      "the input gradient");
  TRY(dnnl_convolution_backward_weights_desc_init(&dwd, dnnl_convolution_direct, &any_src, &any_w,
                                                  bias, &any_dst, strides, pad, pad_r),
      "the weight gradient");
  dnnl_primitive_attr_t attr;
  TRY(dnnl_primitive_attr_create(&attr), "the attributes");
  dnnl_status_t st = dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user);
  if (st == dnnl_success) st = dnnl_primitive_desc_create(&ds->fwd, &fd, attr, d->engine, NULL);
  if (st == dnnl_success && d->ops.input_grad)
    st = dnnl_primitive_desc_create(&ds->dx, &dxd, attr, d->engine, ds->fwd);
  if (st == dnnl_success && d->ops.weights)
    st = dnnl_primitive_desc_create(&ds->dw, &dwd, attr, d->engine, ds->fwd);
  dnnl_primitive_attr_destroy(attr);
  TRY(st, "a convolution primitive");
  return DESCENT_OK;
}

static void descs_free(descs *ds) {
  if (ds->fwd) dnnl_primitive_desc_destroy(ds->fwd);
  if (ds->dx) dnnl_primitive_desc_destroy(ds->dx);
  if (ds->dw) dnnl_primitive_desc_destroy(ds->dw);
}

static int slot_make(conv_dnnl *d, work_slot *w, const descs *ds) {
  TRY(dnnl_stream_create(&w->stream, d->engine, dnnl_stream_default_flags), "a stream");
  port *p = w->ports;
  dnnl_primitive_t *r = d->reorders;
  int rc = DESCENT_OK;
  if (d->ops.forward) {
    rc = port_make(d, &p[PORT_SRC], &ds->src, ds->fwd, dnnl_query_src_md, 1, &r[PORT_SRC]);
    if (!rc) rc = port_make(d, &p[PORT_DST], &ds->dst, ds->fwd, dnnl_query_dst_md, 0, &r[PORT_DST]);
    if (!rc) rc = scratchpad_make(d, ds->fwd, &w->scratch_fwd);
  }
  if (!rc && ds->dx) {
    rc = port_make(d, &p[PORT_DDST], &ds->dst, ds->dx, dnnl_query_diff_dst_md, 1, &r[PORT_DDST]);
    if (!rc)
      rc = port_make(d, &p[PORT_DSRC], &ds->src, ds->dx, dnnl_query_diff_src_md, 0, &r[PORT_DSRC]);
    if (!rc) rc = scratchpad_make(d, ds->dx, &w->scratch_dx);
  }
  if (!rc && ds->dw) {
    rc = port_make(d, &p[PORT_WSRC], &ds->src, ds->dw, dnnl_query_src_md, 1, &r[PORT_WSRC]);
    if (!rc)
      rc =
          port_make(d, &p[PORT_WDDST], &ds->dst, ds->dw, dnnl_query_diff_dst_md, 1, &r[PORT_WDDST]);
    if (!rc)
      rc = port_make(d, &p[PORT_DW], &ds->w, ds->dw, dnnl_query_diff_weights_md, 0, &r[PORT_DW]);
    if (!rc) rc = scratchpad_make(d, ds->dw, &w->scratch_dw);
    if (!rc && d->s.bias &&
        dnnl_memory_create(&w->bias_grad, &ds->bias, d->engine, DNNL_MEMORY_NONE) != dnnl_success)
      rc = descent_fail(DESCENT_ENOMEM, "oneDNN: a memory object failed");
  }
  if (rc) return rc;
  size_t g = d->s.group;
  w->stage_x = descent_calloc(g * d->in, sizeof(float), "convolution staging");
  w->stage_dx = descent_calloc(g * d->in, sizeof(float), "convolution staging");
  w->stage_y = descent_calloc(g * d->out, sizeof(float), "convolution staging");
  w->stage_dy = descent_calloc(g * d->out, sizeof(float), "convolution staging");
  if (!w->stage_x || !w->stage_dx || !w->stage_y || !w->stage_dy) return DESCENT_ENOMEM;
  return DESCENT_OK;
}

static void slot_free(work_slot *w) {
  for (int i = 0; i < N_PORTS; i++) port_free(&w->ports[i]);
  if (w->bias_grad) dnnl_memory_destroy(w->bias_grad);
  if (w->scratch_fwd) dnnl_memory_destroy(w->scratch_fwd);
  if (w->scratch_dx) dnnl_memory_destroy(w->scratch_dx);
  if (w->scratch_dw) dnnl_memory_destroy(w->scratch_dw);
  if (w->stream) dnnl_stream_destroy(w->stream);
  free(w->stage_x), free(w->stage_dx), free(w->stage_y), free(w->stage_dy);
}

/* The shared weights (read by the forward pass and by the input gradient)
   and bias. */
static int weights_make(conv_dnnl *d, const descs *ds) {
  int rc = DESCENT_OK;
  if (d->ops.forward)
    rc = port_make(d, &d->w_fwd, &ds->w, ds->fwd, dnnl_query_weights_md, 1, &d->w_fwd_reorder);
  if (!rc && ds->dx)
    rc = port_make(d, &d->w_dx, &ds->w, ds->dx, dnnl_query_weights_md, 1, &d->w_dx_reorder);
  if (!rc && d->s.bias &&
      dnnl_memory_create(&d->bias, &ds->bias, d->engine, DNNL_MEMORY_NONE) != dnnl_success)
    rc = descent_fail(DESCENT_ENOMEM, "oneDNN: a memory object failed");
  return rc;
}

static int primitives_make(conv_dnnl *d, const descs *ds) {
  if (d->ops.forward) TRY(dnnl_primitive_create(&d->fwd, ds->fwd), "the forward convolution");
  if (ds->dx) TRY(dnnl_primitive_create(&d->bwd_data, ds->dx), "the input gradient");
  if (ds->dw) TRY(dnnl_primitive_create(&d->bwd_weights, ds->dw), "the weight gradient");
  if (ds->dx && ds->dw)
    d->share_ddst =
        dnnl_memory_desc_equal(dnnl_primitive_desc_query_md(ds->dx, dnnl_query_diff_dst_md, 0),
                               dnnl_primitive_desc_query_md(ds->dw, dnnl_query_diff_dst_md, 0));
  return DESCENT_OK;
}

static int build(conv_dnnl *d) {
  TRY(dnnl_engine_create(&d->engine, dnnl_cpu, 0), "the CPU engine");
  descs ds;
  memset(&ds, 0, sizeof ds);
  int rc = descs_make(d, &ds);
  if (!rc) rc = primitives_make(d, &ds);
  if (!rc) rc = weights_make(d, &ds);
  for (int i = 0; !rc && i < d->n_slots; i++) rc = slot_make(d, &d->slots[i], &ds);
  descs_free(&ds);
  return rc;
}

int conv_dnnl_create(conv_dnnl **out, const conv_dnnl_shape *s, int slots) {
  *out = NULL;
  int rc = cap_isa();
  if (rc) return rc;
  conv_dnnl *d = descent_calloc(1, sizeof *d, "oneDNN convolution");
  if (!d) return DESCENT_ENOMEM;
  d->s = *s;
  d->ops = conv_dnnl_choose(s);
  d->in = s->c * s->h * s->w;
  d->out = s->o * ((s->h + 2 * s->pad - s->k) / s->stride + 1) *
           ((s->w + 2 * s->pad - s->k) / s->stride + 1);
  d->n_slots = slots;
  d->slots = descent_calloc((size_t)slots, sizeof *d->slots, "oneDNN work slots");
  if (!d->slots) {
    conv_dnnl_free(d);
    return DESCENT_ENOMEM;
  }
  /* Made for one thread: conv.c runs each group on one thread. oneDNN
     decides its split of the work when a primitive is made, from the
     thread count it sees then. */
  int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  rc = build(d);
  omp_set_num_threads(threads);
  if (rc) {
    conv_dnnl_free(d);
    return rc;
  }
  *out = d;
  return DESCENT_OK;
}

void conv_dnnl_free(conv_dnnl *d) {
  if (!d) return;
  for (int i = 0; d->slots && i < d->n_slots; i++) slot_free(&d->slots[i]);
  free(d->slots);
  port_free(&d->w_fwd), port_free(&d->w_dx);
  if (d->bias) dnnl_memory_destroy(d->bias);
  dnnl_primitive_t prims[] = {d->fwd, d->bwd_data, d->bwd_weights, d->w_fwd_reorder,
                              d->w_dx_reorder};
  for (size_t i = 0; i < sizeof prims / sizeof prims[0]; i++)
    if (prims[i]) dnnl_primitive_destroy(prims[i]);
  for (int i = 0; i < N_PORTS; i++)
    if (d->reorders[i]) dnnl_primitive_destroy(d->reorders[i]);
  if (d->engine) dnnl_engine_destroy(d->engine);
  free(d);
}

conv_dnnl_ops conv_dnnl_served(const conv_dnnl *d) {
  return d->ops;
}

/* Runs a reorder from one memory to another (none when reorder is NULL). */
static int reorder_run(dnnl_primitive_t reorder, dnnl_stream_t stream, dnnl_memory_t from,
                       dnnl_memory_t to) {
  if (!reorder) return 1;
  dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}};
  return dnnl_primitive_execute(reorder, stream, 2, args) == dnnl_success;
}

/* A port's data in: sets the user handle, reorders into the primitive's
   layout. */
static int port_in(conv_dnnl *d, work_slot *w, int which, const float *data) {
  port *p = &w->ports[which];
  return dnnl_memory_set_data_handle(p->user, (void *)data) == dnnl_success &&
         reorder_run(d->reorders[which], w->stream, p->user, p->conv);
}

/* A port's handle for data out (port_out then reorders into it). */
static int port_target(work_slot *w, int which, float *data) {
  return dnnl_memory_set_data_handle(w->ports[which].user, data) == dnnl_success;
}

static int port_out(conv_dnnl *d, work_slot *w, int which) {
  port *p = &w->ports[which];
  return reorder_run(d->reorders[which], w->stream, p->conv, p->user);
}

/* An operation that failed after its primitives were made (oneDNN does not
   fail there short of a broken installation) leaves NaN, which the loss and
   the trainer's guard report, since the layer interface returns no status. */
static void poison(float *v, size_t n) {
  for (size_t i = 0; i < n; i++) v[i] = NAN;
}

void conv_dnnl_set_weights(conv_dnnl *d, const float *w, const float *bias) {
  dnnl_stream_t stream = d->slots[0].stream;
  int ok = 1;
  if (d->bias) ok = dnnl_memory_set_data_handle(d->bias, (void *)bias) == dnnl_success;
  port *ports[2] = {d->fwd ? &d->w_fwd : NULL, d->bwd_data ? &d->w_dx : NULL};
  dnnl_primitive_t reorders[2] = {d->w_fwd_reorder, d->w_dx_reorder};
  for (int i = 0; i < 2; i++)
    if (ports[i])
      ok = ok && dnnl_memory_set_data_handle(ports[i]->user, (void *)w) == dnnl_success &&
           reorder_run(reorders[i], stream, ports[i]->user, ports[i]->conv);
  ok = ok && dnnl_stream_wait(stream) == dnnl_success;
  /* A failed reorder leaves the blocked weights NaN, and so every output. */
  if (!ok && d->w_fwd.conv != d->w_fwd.user && d->w_fwd.conv) {
    void *h = NULL;
    if (dnnl_memory_get_data_handle(d->w_fwd.conv, &h) == dnnl_success && h)
      poison(h, d->s.o * d->s.c * d->s.k * d->s.k);
  }
}

/* The group's input, or its copy padded with zero examples when the group
   is partial. */
static const float *staged(const float *v, float *stage, size_t m, size_t group, size_t per) {
  if (m == group) return v;
  memcpy(stage, v, m * per * sizeof *stage);
  memset(stage + m * per, 0, (group - m) * per * sizeof *stage);
  return stage;
}

void conv_dnnl_forward(conv_dnnl *d, int slot, const float *x, float *y, size_t m) {
  work_slot *w = &d->slots[slot];
  size_t g = d->s.group;
  float *target = m == g ? y : w->stage_y;
  int ok = port_in(d, w, PORT_SRC, staged(x, w->stage_x, m, g, d->in)) &&
           port_target(w, PORT_DST, target);
  dnnl_exec_arg_t args[5] = {{DNNL_ARG_SRC, w->ports[PORT_SRC].conv},
                             {DNNL_ARG_WEIGHTS, d->w_fwd.conv},
                             {DNNL_ARG_DST, w->ports[PORT_DST].conv},
                             {DNNL_ARG_SCRATCHPAD, w->scratch_fwd},
                             {DNNL_ARG_BIAS, d->bias}};
  ok = ok && dnnl_primitive_execute(d->fwd, w->stream, d->bias ? 5 : 4, args) == dnnl_success &&
       port_out(d, w, PORT_DST) && dnnl_stream_wait(w->stream) == dnnl_success;
  if (m < g) memcpy(y, w->stage_y, m * d->out * sizeof *y);
  if (!ok) poison(y, m * d->out);
}

/* have_ddst: the input gradient has just put dY into its layout, which the
   weight gradient may share. */
static int weight_grad(conv_dnnl *d, work_slot *w, const float *x, const float *dy, float *dw,
                       float *db, int have_ddst) {
  int ok = port_in(d, w, PORT_WSRC, x) && port_target(w, PORT_DW, dw);
  dnnl_memory_t ddst = w->ports[PORT_DDST].conv;
  if (!(d->share_ddst && have_ddst)) {
    ok = ok && port_in(d, w, PORT_WDDST, dy);
    ddst = w->ports[PORT_WDDST].conv;
  }
  if (w->bias_grad) ok = ok && dnnl_memory_set_data_handle(w->bias_grad, db) == dnnl_success;
  dnnl_exec_arg_t args[5] = {{DNNL_ARG_SRC, w->ports[PORT_WSRC].conv},
                             {DNNL_ARG_DIFF_DST, ddst},
                             {DNNL_ARG_DIFF_WEIGHTS, w->ports[PORT_DW].conv},
                             {DNNL_ARG_SCRATCHPAD, w->scratch_dw},
                             {DNNL_ARG_DIFF_BIAS, w->bias_grad}};
  return ok &&
         dnnl_primitive_execute(d->bwd_weights, w->stream, w->bias_grad ? 5 : 4, args) ==
             dnnl_success &&
         port_out(d, w, PORT_DW);
}

static int input_grad(conv_dnnl *d, work_slot *w, const float *dy, float *dx) {
  int ok = port_in(d, w, PORT_DDST, dy) && port_target(w, PORT_DSRC, dx);
  dnnl_exec_arg_t args[4] = {{DNNL_ARG_DIFF_DST, w->ports[PORT_DDST].conv},
                             {DNNL_ARG_WEIGHTS, d->w_dx.conv},
                             {DNNL_ARG_DIFF_SRC, w->ports[PORT_DSRC].conv},
                             {DNNL_ARG_SCRATCHPAD, w->scratch_dx}};
  return ok && dnnl_primitive_execute(d->bwd_data, w->stream, 4, args) == dnnl_success &&
         port_out(d, w, PORT_DSRC);
}

void conv_dnnl_backward(conv_dnnl *d, int slot, const float *x, const float *dy, float *dx,
                        float *dw, float *db, size_t m) {
  work_slot *w = &d->slots[slot];
  size_t g = d->s.group, nw = d->s.o * d->s.c * d->s.k * d->s.k;
  const float *dys = staged(dy, w->stage_dy, m, g, d->out);
  int ok = 1;
  /* The input gradient first: the weight gradient may read its copy of dY. */
  if (dx) ok = input_grad(d, w, dys, m == g ? dx : w->stage_dx);
  ok = ok && weight_grad(d, w, staged(x, w->stage_x, m, g, d->in), dys, dw, db, dx != NULL);
  ok = ok && dnnl_stream_wait(w->stream) == dnnl_success;
  if (dx && m < g) memcpy(dx, w->stage_dx, m * d->in * sizeof *dx);
  if (!ok) {
    poison(dw, nw);
    if (db) poison(db, d->s.o);
    if (dx) poison(dx, m * d->in);
  }
}

#else /* no oneDNN */

int conv_dnnl_available(void) {
  return 0;
}

conv_dnnl_ops conv_dnnl_choose(const conv_dnnl_shape *s) {
  (void)s;
  conv_dnnl_ops none = {0, 0, 0};
  return none;
}

#endif /* CONV_DNNL */

const char *descent_conv_library(void) {
#if CONV_DNNL
  static char text[160];
  const dnnl_version_t *v = dnnl_version();
  if (descent_isa_path() < DESCENT_ISA_AVX2)
    snprintf(text, sizeof text,
             "convolutions: descent's own (oneDNN %d.%d.%d is in, not used on "
             "the portable path)",
             v->major, v->minor, v->patch);
  else
    snprintf(text, sizeof text, "convolutions: oneDNN %d.%d.%d where it is faster", v->major,
             v->minor, v->patch);
  return text;
#elif defined(DESCENT_DOUBLE)
  return "convolutions: descent's own (oneDNN computes in float only)";
#else
  return "convolutions: descent's own (built without oneDNN)";
#endif
}
