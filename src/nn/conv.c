/*
 * conv.c - 2D convolution over C x H x W inputs, as PyTorch's Conv2d
 * (cross-correlation; weights {out, in, k, k}; zero padding; any stride).
 *
 * The products go through descent_gemm on im2col columns, one example at a
 * time: the example's columns, Kc = C*k*k rows by P output positions, are
 * written to a slice of the shared work area small enough to stay in the
 * core's cache, and the GEMM W (out x Kc) times columns writes the example's
 * output (out x P, already PyTorch's channel-major layout) in place. The
 * bias rides in the products: the columns get a last row of ones and W a
 * last column holding the bias, so the forward GEMM adds it and the weight
 * gradient's GEMM sums dY over the positions into the bias gradient (a
 * separate loop over the outputs cost 30% of the first layer's backward).
 * Stride-1 layers with output channels in blocks of 8 (and at least 100
 * column rows) skip im2col for the forward pass, and those with input
 * channels in blocks of 8 for the input gradient (a stride-1 correlation of
 * dY, padded by k-1-pad, with the kernels flipped): conv_direct.c computes
 * them straight from the padded planes, 22% and 30% faster than im2col +
 * GEMM on fmnist_2c2d's second layer. The weight gradient stays a GEMM.
 * Examples are handed to threads in groups of CONV_GROUP, each thread with
 * its own slice. The BLAS is always called from inside the parallel region,
 * even for a single group, so it always runs single-threaded: OpenBLAS
 * picks other kernels, with other rounding, for some shapes when it may use
 * several threads, and the results would depend on the thread count.
 *
 * Backward, per example: the weight gradient, computed transposed as
 * columns times dY^T (Kc x out: OpenBLAS runs this shape 14% faster than
 * out x Kc), recomputing the columns rather than storing them for the whole
 * batch (the copy costs 1/(2*out) of the GEMM); the input gradient W^T dY,
 * scattered back by col2im. Each group accumulates its own partial weight gradient,
 * examples in order, and the partials are summed in group order, so the
 * result does not depend on the number of threads.
 *
 * Where oneDNN is built in and faster (conv_dnnl.c says where, with the
 * figures), it serves the forward pass, the weight gradient and the input
 * gradient instead, on the same groups of examples and with the same
 * partial sums, so that its results do not depend on the thread count
 * either.
 */
#include "conv_direct.h"
#include "conv_dnnl.h"
#include "layer.h"

#include <omp.h>
#include <string.h>

/* Examples per group: the unit of work of a thread, and of the weight
   gradient's partial sums. */
#define CONV_GROUP 8

static const spec_param conv_params[] = {
    {"out", SPEC_INTEGER, 0, 1, 1 << 16, 0, 0, 1, "number of output channels"},
    {"kernel", SPEC_INTEGER, 0, 1, 64, 0, 0, 1, "kernel size (square)"},
    {"stride", SPEC_INTEGER, 1, 1, 64, 0, 0, 0, "step between windows"},
    {"pad", SPEC_INTEGER, 0, 0, 64, 0, 0, 0, "zero padding on each side"},
    {"bias", SPEC_BOOL, 1, 0, 1, 0, 0, 0, "1: add a learned bias per channel"},
    {"init", SPEC_TEXT, 0, 0, 0, 0, 0, 0, "auto, he, glorot or tnormal"},
    {"std", SPEC_NUMBER, 0.05, 0, 10, 1, 0, 0, "standard deviation of init=tnormal"},
    {"bias_init", SPEC_NUMBER, 0, -10, 10, 0, 0, 0, "initial value of the bias"},
};
enum { N_CONV_PARAMS = sizeof conv_params / sizeof conv_params[0] };

/* A conv layer's configuration. */
typedef struct conv_config {
  size_t units;  /* output channels */
  size_t kernel; /* kernel size (square) */
  size_t stride;
  size_t pad; /* zero padding on each side */
  int bias;   /* has a learned bias per channel */
  layer_weight_init init;
} conv_config;

static const conv_config *conv_of(const layer *l) {
  return l->config;
}

/* The sizes every pass needs, derived from the layer. */
typedef struct conv_geometry {
  size_t c, h, w;   /* input channels and size */
  size_t o, ho, wo; /* output channels and size */
  size_t k, s, pad;
  size_t p;                  /* output positions per example, ho * wo */
  size_t kc;                 /* rows of the columns, c * k * k */
  size_t kb;                 /* kc, plus the row of ones when there is a bias */
  int direct_fwd, direct_dx; /* conv_direct serves the forward pass, the input gradient */
  size_t q;                  /* padding of dY for the direct input gradient, k - 1 - pad */
} conv_geometry;

static void conv_geometry_of(const layer *l, conv_geometry *g) {
  layer_image_dims(&l->in, &g->c, &g->h, &g->w);
  const conv_config *cfg = conv_of(l);
  g->o = cfg->units;
  g->k = cfg->kernel, g->s = cfg->stride, g->pad = cfg->pad;
  g->ho = (g->h + 2 * g->pad - g->k) / g->s + 1;
  g->wo = (g->w + 2 * g->pad - g->k) / g->s + 1;
  g->p = g->ho * g->wo;
  g->kc = g->c * g->k * g->k;
  g->kb = g->kc + (cfg->bias ? 1 : 0);
  /* bf16 products run on im2col columns through the bf16 GEMM. */
  int direct = conv_direct_available() && g->s == 1 && l->precision == DESCENT_PRECISION_FP32;
  /* With few input rows (kc, as the first layer's 25) the kernel's setup per
     tile outweighs its loop, and the GEMM wins. */
  g->direct_fwd = direct && g->o % CONV_DIRECT_BLOCK == 0 && g->kc >= 100;
  g->direct_dx = direct && g->c % CONV_DIRECT_BLOCK == 0 && g->pad < g->k;
  g->q = g->pad < g->k ? g->k - 1 - g->pad : 0;
}

void conv_direct_paths(const layer *l, int *forward, int *input_grad) {
  conv_geometry g;
  conv_geometry_of(l, &g);
  *forward = g.direct_fwd;
  *input_grad = g.direct_dx;
}

/* Reals per work slot: one example's columns and its padded input, each
   rounded to a cache line. */
static size_t round16(size_t n) {
  return (n + 15) / 16 * 16;
}

/* The padded input, with the direct kernel's slack after it. */
static size_t padded_reals(const conv_geometry *g) {
  return round16(g->c * (g->h + 2 * g->pad) * (g->w + 2 * g->pad) + CONV_DIRECT_SLACK);
}

/* The columns' space; it also takes W^T dY, or dY padded by q. */
static size_t cols_reals(const conv_geometry *g) {
  size_t dy = g->o * (g->ho + 2 * g->q) * (g->wo + 2 * g->q) + CONV_DIRECT_SLACK;
  return round16(g->kb * g->p > dy ? g->kb * g->p : dy);
}

static size_t slot_reals(const conv_geometry *g) {
  return cols_reals(g) + padded_reals(g);
}

/* The weights as the direct kernel reads them, for the forward pass and for
   the input gradient, and room to flip them. */
static size_t direct_weights_reals(const conv_geometry *g) {
  return 3 * round16(g->o * g->kc);
}

/* W with the bias as its last column, out x kb, shared by the threads. */
static size_t wext_reals(const conv_geometry *g) {
  return round16(g->o * g->kb);
}

/* One group's weight and bias gradient, kb x out (transposed). */
static size_t partial_reals(const conv_geometry *g) {
  return round16(g->kb * g->o);
}

static int conv_configure(layer *l, const spec_call *call) {
  double v[N_CONV_PARAMS];
  const char *texts[N_CONV_PARAMS];
  int rc = spec_bind(call, conv_params, N_CONV_PARAMS, v, texts, "model spec");
  if (rc) return rc;
  conv_config *c = l->config;
  c->units = (size_t)v[0];
  c->kernel = (size_t)v[1];
  c->stride = (size_t)v[2];
  c->pad = (size_t)v[3];
  c->bias = (int)v[4];
  /* A window lying wholly in the padding only ever sees zeros. */
  if (c->pad >= c->kernel)
    return descent_fail(DESCENT_EINVAL,
                        "model spec: conv(pad=%zu): padding must be smaller than the kernel (%zu)",
                        c->pad, c->kernel);
  return layer_parse_init(&c->init, "conv", texts[5], v[6], v[7]);
}

static int conv_setup(layer *l) {
  const conv_config *cfg = conv_of(l);
  size_t c, h, w;
  if (!layer_image_dims(&l->in, &c, &h, &w))
    return descent_fail(DESCENT_ESHAPE,
                        "model spec: %s needs image inputs (C x H x W or H x W), got %d "
                        "dimension(s); put it before any flatten or dense layer",
                        l->name, l->in.ndim);
  if (h + 2 * cfg->pad < cfg->kernel || w + 2 * cfg->pad < cfg->kernel)
    return descent_fail(DESCENT_ESHAPE,
                        "model spec: %s: kernel %zu is larger than the padded input %zux%zu",
                        l->name, cfg->kernel, h + 2 * cfg->pad, w + 2 * cfg->pad);
  conv_geometry g;
  conv_geometry_of(l, &g);
  size_t weights, act, work;
  if (!descent_mul_ok(g.o, g.kc, &weights) || weights > ((size_t)1 << 32) ||
      !descent_mul_ok(g.o, g.p, &act) || act > ((size_t)1 << 32) ||
      !descent_mul_ok(slot_reals(&g), (size_t)l->work_slots, &work))
    return descent_fail(DESCENT_ERANGE, "model spec: %s is too large", l->name);
  l->out = (descent_shape){3, {g.o, g.ho, g.wo}};
  l->out_size = act;
  l->n_params = weights + (conv_of(l)->bias ? g.o : 0);
  size_t groups = (l->max_batch + CONV_GROUP - 1) / CONV_GROUP;
  size_t total = work + groups * partial_reals(&g) + wext_reals(&g) + direct_weights_reals(&g);
  if (!descent_mul_ok(total, sizeof(descent_real), &l->work_bytes))
    return descent_fail(DESCENT_ERANGE, "model spec: %s is too large", l->name);
  return DESCENT_OK;
}

static int conv_tensors(const layer *l, descent_tensor_info *t) {
  conv_geometry g;
  conv_geometry_of(l, &g);
  snprintf(t[0].name, sizeof t[0].name, "%s.weight", l->name);
  t[0].offset = 0;
  t[0].size = g.o * g.kc;
  t[0].shape = (descent_shape){4, {g.o, g.c, g.k, g.k}};
  if (!conv_of(l)->bias) return 1;
  snprintf(t[1].name, sizeof t[1].name, "%s.bias", l->name);
  t[1].offset = t[0].size;
  t[1].size = g.o;
  t[1].shape = (descent_shape){1, {g.o}};
  return 2;
}

static void conv_init(layer *l, descent_real *params, const layer *next, descent_rng *rng) {
  conv_geometry g;
  conv_geometry_of(l, &g);
  size_t count = g.o * g.kc;
  layer_init_weights(&conv_of(l)->init, params, count, g.kc, g.o * g.k * g.k,
                     conv_of(l)->bias ? params + count : NULL, g.o, next, rng);
}

/* The input with its zero padding made explicit, one example: c planes of
   (h + 2 pad) x (w + 2 pad). With it im2col and col2im need no bounds tests. */
static void pad_planes(const descent_real *x, size_t planes, size_t h, size_t w, size_t pad,
                       descent_real *padded) {
  size_t hp = h + 2 * pad, wp = w + 2 * pad;
  for (size_t c = 0; c < planes; c++) {
    descent_real *plane = padded + c * hp * wp;
    memset(plane, 0, pad * wp * sizeof *plane);
    for (size_t i = 0; i < h; i++) {
      descent_real *row = plane + (i + pad) * wp;
      for (size_t j = 0; j < pad; j++) row[j] = row[pad + w + j] = 0;
      memcpy(row + pad, x + (c * h + i) * w, w * sizeof *row);
    }
    memset(plane + (h + pad) * wp, 0, pad * wp * sizeof *plane);
  }
}

static void pad_input(const conv_geometry *g, const descent_real *x, descent_real *padded) {
  pad_planes(x, g->c, g->h, g->w, g->pad, padded);
}

/* Copies n reals. The rows of a small image are short (14 for a 5x5 kernel
   on 14x14 maps), so a loop's setup and tail would cost more than the copy:
   whole blocks of 8, then one last block of 8 overlapping the previous one. */
static inline void copy_row(descent_real *restrict dst, const descent_real *restrict src,
                            size_t n) {
  if (n < 8) {
    for (size_t i = 0; i < n; i++) dst[i] = src[i];
    return;
  }
  size_t i = 0;
  for (; i + 8 <= n; i += 8) memcpy(dst + i, src + i, 8 * sizeof *dst);
  if (i < n) memcpy(dst + n - 8, src + n - 8, 8 * sizeof *dst);
}

/* dst += src over n reals, in blocks of 8 (each a vector operation). */
static inline void add_row(descent_real *restrict dst, const descent_real *restrict src, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (size_t j = 0; j < 8; j++) dst[i + j] += src[i + j];
  for (; i < n; i++) dst[i] += src[i];
}

/* Writes one example's columns from its padded input: row (c, kh, kw),
   column oh*wo + ow holds padded[c][oh*s + kh][ow*s + kw]. */
static void im2col(const conv_geometry *g, const descent_real *padded, descent_real *cols) {
  size_t hp = g->h + 2 * g->pad, wp = g->w + 2 * g->pad, s = g->s, wo = g->wo;
  for (size_t c = 0; c < g->c; c++)
    for (size_t kh = 0; kh < g->k; kh++)
      for (size_t kw = 0; kw < g->k; kw++) {
        descent_real *dst = cols + ((c * g->k + kh) * g->k + kw) * g->p;
        const descent_real *src = padded + (c * hp + kh) * wp + kw;
        for (size_t oh = 0; oh < g->ho; oh++, dst += wo, src += s * wp) {
          if (s == 1)
            copy_row(dst, src, wo);
          else
            for (size_t ow = 0; ow < wo; ow++) dst[ow] = src[ow * s];
        }
      }
}

/* The adjoint of im2col: adds each column entry back into the padded input
   gradient (which the caller zeroed), in a fixed order. */
static void col2im(const conv_geometry *g, const descent_real *cols, descent_real *padded) {
  size_t hp = g->h + 2 * g->pad, wp = g->w + 2 * g->pad, s = g->s, wo = g->wo;
  for (size_t c = 0; c < g->c; c++)
    for (size_t kh = 0; kh < g->k; kh++)
      for (size_t kw = 0; kw < g->k; kw++) {
        const descent_real *src = cols + ((c * g->k + kh) * g->k + kw) * g->p;
        descent_real *dst = padded + (c * hp + kh) * wp + kw;
        for (size_t oh = 0; oh < g->ho; oh++, src += wo, dst += s * wp) {
          if (s == 1)
            add_row(dst, src, wo);
          else
            for (size_t ow = 0; ow < wo; ow++) dst[ow * s] += src[ow];
        }
      }
}

/* The interior of a padded input gradient. */
static void unpad(const conv_geometry *g, const descent_real *padded, descent_real *dx) {
  size_t hp = g->h + 2 * g->pad, wp = g->w + 2 * g->pad;
  for (size_t c = 0; c < g->c; c++)
    for (size_t i = 0; i < g->h; i++)
      memcpy(dx + (c * g->h + i) * g->w, padded + (c * hp + i + g->pad) * wp + g->pad,
             g->w * sizeof *dx);
}

static int conv_threads(const layer *l) {
  int t = omp_get_max_threads();
  return t < l->work_slots ? t : l->work_slots;
}

/* The work area: the groups' partial gradients, W extended by the bias, then
   one slot per thread. Returns W as the products read it (the parameters
   themselves when there is no bias). */
static const descent_real *conv_layout(const layer *l, const conv_geometry *g,
                                       const descent_real *params, size_t groups,
                                       descent_real **partials, descent_real **slots,
                                       descent_real **direct) {
  *partials = l->work;
  descent_real *wext = *partials + groups * partial_reals(g);
  *direct = wext + wext_reals(g);
  *slots = *direct + direct_weights_reals(g);
  if (!conv_of(l)->bias) return params;
  const descent_real *bias = params + g->o * g->kc;
  for (size_t o = 0; o < g->o; o++) {
    memcpy(wext + o * g->kb, params + o * g->kc, g->kc * sizeof *wext);
    wext[o * g->kb + g->kc] = bias[o];
  }
  return wext;
}

/* The columns of example x: im2col, then the row of ones for the bias. */
/* The groups' partial weight gradients (out x kb, transposed) summed in
   group order into dparams's layout: the weights (out x kc), then the bias. */
static void sum_group_partials(const conv_geometry *g, const descent_real *partials, size_t groups,
                               size_t stride, descent_real *dparams) {
  size_t count = g->o * g->kb;
#pragma omp parallel for schedule(static) if (count * groups > LAYER_PARALLEL_MIN)
  for (size_t j = 0; j < count; j++) {
    size_t k = j / g->o, o = j % g->o;
    descent_real sum = partials[j];
    for (size_t gi = 1; gi < groups; gi++) sum += partials[gi * stride + j];
    if (k < g->kc)
      dparams[o * g->kc + k] = sum;
    else
      dparams[g->o * g->kc + o] = sum;
  }
}

static void columns(const conv_geometry *g, const descent_real *x, descent_real *padded,
                    descent_real *cols) {
  pad_input(g, x, padded);
  im2col(g, padded, cols);
  if (g->kb > g->kc)
    for (size_t p = 0; p < g->p; p++) cols[g->kc * g->p + p] = 1;
}

/* The direct kernel's weights: W for the forward pass; for the input
   gradient, W with its two channel axes swapped and both kernel axes
   flipped (scratch: o x c x k x k reals). */
static void direct_weights(const conv_geometry *g, const descent_real *w, descent_real *fwd,
                           descent_real *bwd, descent_real *scratch) {
  size_t k = g->k, kk = k * k;
  if (fwd) conv_direct_pack(w, g->o, g->c, k, fwd);
  if (!bwd) return;
  for (size_t o = 0; o < g->o; o++)
    for (size_t c = 0; c < g->c; c++)
      for (size_t a = 0; a < k; a++)
        for (size_t b = 0; b < k; b++)
          scratch[((c * g->o + o) * k + (k - 1 - a)) * k + (k - 1 - b)] =
              w[(o * g->c + c) * kk + a * k + b];
  conv_direct_pack(scratch, g->c, g->o, k, bwd);
}

#if CONV_DNNL
/* The operations oneDNN serves for this layer now: none when it was turned
   off since the layer was made, or when the products run in bf16 (the
   primitives are float ones; bf16 takes im2col and the bf16 GEMM). */
static conv_dnnl_ops dnnl_ops(const layer *l) {
  conv_dnnl_ops none = {0, 0, 0};
  if (l->backend && conv_dnnl_available() && l->precision == DESCENT_PRECISION_FP32)
    return conv_dnnl_served(l->backend);
  return none;
}
#endif

static int conv_prepare(layer *l) {
#if CONV_DNNL
  conv_geometry g;
  conv_geometry_of(l, &g);
  conv_dnnl_shape s = {g.c, g.h, g.w, g.o, g.k, g.s, g.pad, CONV_GROUP, conv_of(l)->bias};
  conv_dnnl_ops ops = conv_dnnl_choose(&s);
  if (!ops.forward && !ops.weights && !ops.input_grad) return DESCENT_OK;
  conv_dnnl *d = NULL;
  int rc = conv_dnnl_create(&d, &s, l->work_slots);
  l->backend = d;
  return rc;
#else
  (void)l;
  return DESCENT_OK;
#endif
}

static void conv_release(layer *l) {
#if CONV_DNNL
  conv_dnnl_free(l->backend);
#endif
  l->backend = NULL;
}

#if CONV_DNNL
static void forward_dnnl(layer *l, const conv_geometry *g, const descent_real *params,
                         const descent_real *x, descent_real *y, size_t n) {
  conv_dnnl *d = l->backend;
  conv_dnnl_set_weights(d, params, conv_of(l)->bias ? params + g->o * g->kc : NULL);
  size_t groups = (n + CONV_GROUP - 1) / CONV_GROUP;
#pragma omp parallel for schedule(static) num_threads(conv_threads(l))
  for (size_t gi = 0; gi < groups; gi++) {
    size_t e0 = gi * CONV_GROUP, m = n - e0 < CONV_GROUP ? n - e0 : CONV_GROUP;
    conv_dnnl_forward(d, omp_get_thread_num(), x + e0 * l->in_size, y + e0 * l->out_size, m);
  }
}

/* Each group's weight and bias gradient (o x kc, then o) into its partial,
   summed in group order. */
static void backward_dnnl(layer *l, const conv_geometry *g, const descent_real *params,
                          const descent_real *x, const descent_real *dy, descent_real *dx,
                          descent_real *dparams, size_t n) {
  conv_dnnl *d = l->backend;
  conv_dnnl_set_weights(d, params, conv_of(l)->bias ? params + g->o * g->kc : NULL);
  size_t groups = (n + CONV_GROUP - 1) / CONV_GROUP, stride = partial_reals(g);
  descent_real *partials = l->work;
#pragma omp parallel for schedule(static) num_threads(conv_threads(l))
  for (size_t gi = 0; gi < groups; gi++) {
    size_t e0 = gi * CONV_GROUP, m = n - e0 < CONV_GROUP ? n - e0 : CONV_GROUP;
    descent_real *dw = partials + gi * stride;
    conv_dnnl_backward(d, omp_get_thread_num(), x + e0 * l->in_size, dy + e0 * l->out_size,
                       dx ? dx + e0 * l->in_size : NULL, dw,
                       conv_of(l)->bias ? dw + g->o * g->kc : NULL, m);
  }
  size_t count = g->o * g->kb;
#pragma omp parallel for schedule(static) if (count * groups > LAYER_PARALLEL_MIN)
  for (size_t j = 0; j < count; j++) {
    descent_real sum = partials[j];
    for (size_t gi = 1; gi < groups; gi++) sum += partials[gi * stride + j];
    dparams[j] = sum;
  }
}
#endif

static void conv_forward(layer *l, const descent_real *params, const descent_real *x,
                         descent_real *y, size_t n, int train) {
  conv_geometry g;
  conv_geometry_of(l, &g);
  size_t groups = (n + CONV_GROUP - 1) / CONV_GROUP;
  descent_real *partials, *slots, *direct;
#if CONV_DNNL
  if (dnnl_ops(l).forward) {
    forward_dnnl(l, &g, params, x, y, n);
    return;
  }
#endif
  const descent_real *w = conv_layout(l, &g, params, groups, &partials, &slots, &direct);
  if (g.direct_fwd) {
    direct_weights(&g, params, direct, NULL, NULL);
    const descent_real *bias = conv_of(l)->bias ? params + g.o * g.kc : NULL;
#pragma omp parallel for schedule(static) num_threads(conv_threads(l))
    for (size_t e = 0; e < n; e++) {
      descent_real *padded = slots + (size_t)omp_get_thread_num() * slot_reals(&g) + cols_reals(&g);
      pad_input(&g, x + e * l->in_size, padded);
      conv_direct(padded, g.c, g.h + 2 * g.pad, g.w + 2 * g.pad, direct, g.o, bias, g.k, g.ho, g.wo,
                  y + e * l->out_size);
    }
    return;
  }
#pragma omp parallel for schedule(static) num_threads(conv_threads(l))
  for (size_t gi = 0; gi < groups; gi++) {
    descent_real *cols = slots + (size_t)omp_get_thread_num() * slot_reals(&g);
    descent_real *padded = cols + cols_reals(&g);
    size_t e1 = (gi + 1) * CONV_GROUP < n ? (gi + 1) * CONV_GROUP : n;
    for (size_t e = gi * CONV_GROUP; e < e1; e++) {
      columns(&g, x + e * l->in_size, padded, cols);
      descent_gemm_precision(l->precision, 1, 0, 0, g.o, g.p, g.kb, 1, w, g.kb, cols, g.p, 0,
                             y + e * l->out_size, g.p);
    }
  }
}

static void conv_backward(layer *l, const descent_real *params, const descent_real *x,
                          const descent_real *y, const descent_real *dy, descent_real *dx,
                          descent_real *dparams, size_t n) {
  conv_geometry g;
  conv_geometry_of(l, &g);
#if CONV_DNNL
  conv_dnnl_ops ops = dnnl_ops(l);
  if (ops.weights && (!dx || ops.input_grad)) {
    backward_dnnl(l, &g, params, x, dy, dx, dparams, n);
    return;
  }
#endif
  size_t groups = (n + CONV_GROUP - 1) / CONV_GROUP, stride = partial_reals(&g);
  descent_real *partials, *slots, *direct;
  conv_layout(l, &g, params, groups, &partials, &slots, &direct);
  descent_real *flipped = direct + round16(g.o * g.kc);
  if (dx && g.direct_dx) direct_weights(&g, params, NULL, flipped, flipped + round16(g.o * g.kc));
#pragma omp parallel for schedule(static) num_threads(conv_threads(l))
  for (size_t gi = 0; gi < groups; gi++) {
    descent_real *cols = slots + (size_t)omp_get_thread_num() * slot_reals(&g);
    descent_real *padded = cols + cols_reals(&g);
    descent_real *dwt = partials + gi * stride;
    size_t e0 = gi * CONV_GROUP, e1 = e0 + CONV_GROUP < n ? e0 + CONV_GROUP : n;
    for (size_t e = e0; e < e1; e++) {
      const descent_real *dye = dy + e * l->out_size;
      columns(&g, x + e * l->in_size, padded, cols);
      /* [dW | db]^T += columns dY^T, examples of the group in order. */
      descent_gemm_precision(l->precision, 0, 0, 1, g.kb, g.o, g.p, 1, cols, g.p, dye, g.p,
                             e > e0 ? 1 : 0, dwt, g.o);
      if (dx && g.direct_dx) {
        /* dX = dY, padded by k - 1 - pad, correlated with the flipped kernels;
           the columns' space takes the padded dY. */
        size_t hq = g.ho + 2 * g.q, wq = g.wo + 2 * g.q;
        pad_planes(dye, g.o, g.ho, g.wo, g.q, cols);
        conv_direct(cols, g.o, hq, wq, flipped, g.c, NULL, g.k, g.h, g.w, dx + e * l->in_size);
      } else if (dx) {
        /* The columns are no longer needed: their space takes W^T dY. */
        descent_gemm_precision(l->precision, 1, 1, 0, g.kc, g.p, g.o, 1, params, g.kc, dye, g.p, 0,
                               cols, g.p);
        memset(padded, 0, padded_reals(&g) * sizeof *padded);
        col2im(&g, cols, padded);
        unpad(&g, padded, dx + e * l->in_size);
      }
    }
  }
  /* The groups' partials summed in group order, transposed back to out x kb
     (weights, then the bias). */
  sum_group_partials(&g, partials, groups, stride, dparams);
}

/* The directional derivatives (network_curvature.c) run in descent_real
   whatever the layer's precision. The convolution is bilinear in (x, W):
   ry = conv(x, V) + vb + conv(rx, W), the direction's weights V and bias
   vb. The first term is the forward pass on V (its fastest kernel) in fp32
   precision, the im2col path otherwise; rx's term is added on the im2col
   path, reading the weights without their bias column (its columns' row of
   ones left out). rx NULL is a zero tangent. */
static void conv_jvp(layer *l, const descent_real *params, const descent_real *vparams,
                     const descent_real *x, const descent_real *rx, const descent_real *y,
                     descent_real *ry, size_t n) {
  conv_geometry g;
  conv_geometry_of(l, &g);
  size_t groups = (n + CONV_GROUP - 1) / CONV_GROUP;
  int fast = l->precision == DESCENT_PRECISION_FP32;
  if (fast) conv_forward(l, vparams, x, ry, n, 1);
  if (fast && !rx) return;
  descent_real *partials, *slots, *direct;
  const descent_real *v = conv_layout(l, &g, vparams, groups, &partials, &slots, &direct);
#pragma omp parallel for schedule(static) num_threads(conv_threads(l))
  for (size_t e = 0; e < n; e++) {
    descent_real *cols = slots + (size_t)omp_get_thread_num() * slot_reals(&g);
    descent_real *padded = cols + cols_reals(&g), *out = ry + e * l->out_size;
    if (!fast) {
      columns(&g, x + e * l->in_size, padded, cols);
      descent_gemm(0, 0, g.o, g.p, g.kb, 1, v, g.kb, cols, g.p, 0, out, g.p);
    }
    if (!rx) continue;
    columns(&g, rx + e * l->in_size, padded, cols);
    descent_gemm(0, 0, g.o, g.p, g.kc, 1, params, g.kc, cols, g.p, 1, out, g.p);
  }
}

/* R{[dW | db]} = sum_e rdy_e cols(x_e)^T + dy_e cols(rx_e)^T (the second
   without the bias row: db = sum dy does not depend on rx), and
   R{dx} = col2im(W^T rdy + V^T dy), per group of examples with partial
   sums in group order as the backward pass. */
static void conv_rbackward(layer *l, const descent_real *params, const descent_real *vparams,
                           const descent_real *x, const descent_real *rx, const descent_real *y,
                           const descent_real *ry, const descent_real *dy, const descent_real *rdy,
                           descent_real *rdx, descent_real *rdparams, size_t n) {
  conv_geometry g;
  conv_geometry_of(l, &g);
  size_t groups = (n + CONV_GROUP - 1) / CONV_GROUP, stride = partial_reals(&g);
  descent_real *partials, *slots, *direct;
  conv_layout(l, &g, params, groups, &partials, &slots, &direct);
#pragma omp parallel for schedule(static) num_threads(conv_threads(l))
  for (size_t gi = 0; gi < groups; gi++) {
    descent_real *cols = slots + (size_t)omp_get_thread_num() * slot_reals(&g);
    descent_real *padded = cols + cols_reals(&g);
    descent_real *dwt = partials + gi * stride;
    size_t e0 = gi * CONV_GROUP, e1 = e0 + CONV_GROUP < n ? e0 + CONV_GROUP : n;
    for (size_t e = e0; e < e1; e++) {
      const descent_real *dye = dy + e * l->out_size, *rdye = rdy + e * l->out_size;
      columns(&g, x + e * l->in_size, padded, cols);
      descent_gemm(0, 1, g.kb, g.o, g.p, 1, cols, g.p, rdye, g.p, e > e0 ? 1 : 0, dwt, g.o);
      if (rx) {
        columns(&g, rx + e * l->in_size, padded, cols);
        descent_gemm(0, 1, g.kc, g.o, g.p, 1, cols, g.p, dye, g.p, 1, dwt, g.o);
      }
      if (!rdx) continue;
      descent_gemm(1, 0, g.kc, g.p, g.o, 1, params, g.kc, rdye, g.p, 0, cols, g.p);
      descent_gemm(1, 0, g.kc, g.p, g.o, 1, vparams, g.kc, dye, g.p, 1, cols, g.p);
      memset(padded, 0, padded_reals(&g) * sizeof *padded);
      col2im(&g, cols, padded);
      unpad(&g, padded, rdx + e * l->in_size);
    }
  }
  sum_group_partials(&g, partials, groups, stride, rdparams);
}

/* Each example's own weight and bias gradient, [dW_e | db_e]^T = cols(x_e)
   dy_e^T (kb x out, in the first group's partial), squared and added to
   out, one example after another (the Gauss-Newton diagonal,
   network_diagonal.c). */
static void conv_add_squared_grads(layer *l, const descent_real *x, const descent_real *dy,
                                   descent_real *out, size_t n, descent_real *scratch) {
  (void)scratch; /* the layer's own work area holds the columns */
  conv_geometry g;
  conv_geometry_of(l, &g);
  descent_real *partials, *slots, *direct;
  /* Only the work area's pointers are wanted (the weights it copies are
     never read here). */
  conv_layout(l, &g, out, 1, &partials, &slots, &direct);
  descent_real *padded = slots + cols_reals(&g);
  for (size_t e = 0; e < n; e++) {
    columns(&g, x + e * l->in_size, padded, slots);
    descent_gemm(0, 1, g.kb, g.o, g.p, 1, slots, g.p, dy + e * l->out_size, g.p, 0, partials, g.o);
    for (size_t j = 0; j < g.o * g.kb; j++) {
      size_t k = j / g.o, o = j % g.o;
      descent_real d = partials[j];
      out[k < g.kc ? o * g.kc + k : g.o * g.kc + o] += d * d;
    }
  }
}

/* Each example's own [dW_e | db_e]^T = cols(x_e) dy_e^T (kb x out), formed
   in its group's partial as the backward pass forms the sum, at the cost of
   the batch's weight gradient; its squares and its products with the
   direction are summed in double into the example's sq and dot. Examples
   are independent, so the groups run in parallel with nothing to reduce
   across them. */
static void conv_add_example_grads(layer *l, const descent_real *params, const descent_real *x,
                                   const descent_real *dy, const descent_real *vparams, double *sq,
                                   double *dot, size_t n, descent_real *scratch) {
  (void)scratch; /* the layer's own work area holds the columns */
  conv_geometry g;
  conv_geometry_of(l, &g);
  size_t groups = (n + CONV_GROUP - 1) / CONV_GROUP, stride = partial_reals(&g);
  descent_real *partials, *slots, *direct;
  conv_layout(l, &g, params, groups, &partials, &slots, &direct);
#pragma omp parallel for schedule(static) num_threads(conv_threads(l))
  for (size_t gi = 0; gi < groups; gi++) {
    descent_real *cols = slots + (size_t)omp_get_thread_num() * slot_reals(&g);
    descent_real *padded = cols + cols_reals(&g), *d = partials + gi * stride;
    size_t e0 = gi * CONV_GROUP, e1 = e0 + CONV_GROUP < n ? e0 + CONV_GROUP : n;
    for (size_t e = e0; e < e1; e++) {
      columns(&g, x + e * l->in_size, padded, cols);
      descent_gemm(0, 1, g.kb, g.o, g.p, 1, cols, g.p, dy + e * l->out_size, g.p, 0, d, g.o);
      double s = 0, v = 0;
      for (size_t j = 0; j < g.o * g.kb; j++) {
        s += (double)d[j] * d[j];
        if (vparams) {
          size_t k = j / g.o, o = j % g.o;
          v += (double)d[j] * vparams[k < g.kc ? o * g.kc + k : g.o * g.kc + o];
        }
      }
      sq[e] += s;
      if (vparams) dot[e] += v;
    }
  }
}

void conv_kfac_shape(const layer *l, size_t *patch, size_t *out, size_t *positions) {
  conv_geometry g;
  conv_geometry_of(l, &g);
  *patch = g.kc, *out = g.o, *positions = g.p;
}

/* Each example's columns (kb x p, the row of ones included) times their
   transpose, and dy_e (out x p) times its own, summed over the examples
   in order. */
void conv_kfac_squares(layer *l, const descent_real *params, const descent_real *x,
                       const descent_real *dy, size_t n, descent_real *a_sq, descent_real *g_sq) {
  conv_geometry g;
  conv_geometry_of(l, &g);
  descent_real *partials, *slots, *direct;
  conv_layout(l, &g, params, 1, &partials, &slots, &direct);
  descent_real *padded = slots + cols_reals(&g);
  for (size_t e = 0; e < n; e++) {
    columns(&g, x + e * l->in_size, padded, slots);
    descent_real beta = e ? 1 : 0;
    descent_gemm(0, 1, g.kb, g.kb, g.p, 1, slots, g.p, slots, g.p, beta, a_sq, g.kb);
    const descent_real *d = dy + e * l->out_size;
    descent_gemm(0, 1, g.o, g.o, g.p, 1, d, g.p, d, g.p, beta, g_sq, g.o);
  }
}

const layer_ops layer_conv = {
    .name = "conv",
    .usage = "conv(OUT, KERNEL[, stride=1][, pad=0][, bias=1][, init=auto|he|glorot|tnormal]"
             "[, std=0.05][, bias_init=0])",
    .config_size = sizeof(conv_config),
    .configure = conv_configure,
    .setup = conv_setup,
    .tensors = conv_tensors,
    .init = conv_init,
    .forward = conv_forward,
    .backward = conv_backward,
    .jvp = conv_jvp,
    .rbackward = conv_rbackward,
    .add_squared_grads = conv_add_squared_grads,
    .add_example_grads = conv_add_example_grads,
    .prepare = conv_prepare,
    .release = conv_release,
};
