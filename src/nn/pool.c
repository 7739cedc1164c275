/*
 * pool.c - max and average pooling over C x H x W inputs, as PyTorch's
 * MaxPool2d and AvgPool2d (square windows, floor output size, padding at most
 * half the window; max pooling pads with -inf, average pooling counts the
 * padding, i.e. always divides by k*k), and flatten.
 *
 * Max pooling records, for each output, which input won (the first of equal
 * values in scan order, as PyTorch), and backward sends the gradient there.
 * Both run in parallel over the (example, channel) planes; no sum crosses a
 * plane, so the results do not depend on the thread count.
 */
#include "layer.h"

#include "core/multiversion.h"

#include <omp.h>
#include <stdint.h>
#include <string.h>

static const spec_param pool_params[] = {
    {"kernel", SPEC_INTEGER, 0, 1, 64, 0, 0, 1, "window size (square)"},
    /* The default, 0, stands for "the window size": it lies outside the range,
       so only the default can be 0, never a stride the user wrote. */
    {"stride", SPEC_INTEGER, 0, 1, 64, 0, 0, 0, "step between windows (default: the window size)"},
    {"pad", SPEC_INTEGER, 0, 0, 32, 0, 0, 0, "padding on each side, at most kernel/2"},
};

/* A pooling layer's configuration: its window. */
typedef struct pool_config {
  size_t kernel; /* window size (square) */
  size_t stride; /* step between windows */
  size_t pad;    /* padding on each side */
} pool_config;

static const pool_config *pool_of(const layer *l) {
  return l->config;
}

void pool_window(const layer *l, size_t *kernel, size_t *stride, size_t *pad) {
  const pool_config *c = pool_of(l);
  *kernel = c->kernel, *stride = c->stride, *pad = c->pad;
}

static int pool_configure(layer *l, const spec_call *call) {
  double v[3];
  int rc = spec_bind(call, pool_params, 3, v, NULL, "model spec");
  if (rc) return rc;
  pool_config *c = l->config;
  c->kernel = (size_t)v[0];
  c->stride = v[1] > 0 ? (size_t)v[1] : c->kernel;
  c->pad = (size_t)v[2];
  if (c->pad > c->kernel / 2)
    return descent_fail(DESCENT_EINVAL,
                        "model spec: %s(pad=%zu): padding must be at most half the window "
                        "(%zu)",
                        call->name, c->pad, c->kernel / 2);
  return DESCENT_OK;
}

typedef struct pool_geometry {
  size_t c, h, w, ho, wo, k, s, pad;
} pool_geometry;

static void pool_geometry_of(const layer *l, pool_geometry *g) {
  layer_image_dims(&l->in, &g->c, &g->h, &g->w);
  pool_window(l, &g->k, &g->s, &g->pad);
  g->ho = (g->h + 2 * g->pad - g->k) / g->s + 1;
  g->wo = (g->w + 2 * g->pad - g->k) / g->s + 1;
}

/* A thread's share of the 2x2 path's scratch, ho x w values, rounded up to
   whole 64-byte lines: with the shares packed end to end, two threads wrote
   the line they shared at every plane, and the second pooling of
   fmnist_2c2d took 1.28 ms on 2 threads against 0.48 ms on one. */
static size_t stage_slot(const pool_geometry *g) {
  return (g->ho * g->w + 15) / 16 * 16;
}

static int pool_setup(layer *l) {
  const pool_config *cfg = pool_of(l);
  size_t c, h, w;
  if (!layer_image_dims(&l->in, &c, &h, &w))
    return descent_fail(DESCENT_ESHAPE,
                        "model spec: %s needs image inputs (C x H x W or H x W), got %d "
                        "dimension(s)",
                        l->name, l->in.ndim);
  if (h + 2 * cfg->pad < cfg->kernel || w + 2 * cfg->pad < cfg->kernel)
    return descent_fail(DESCENT_ESHAPE,
                        "model spec: %s: window %zu is larger than the padded input %zux%zu",
                        l->name, cfg->kernel, h + 2 * cfg->pad, w + 2 * cfg->pad);
  pool_geometry g;
  pool_geometry_of(l, &g);
  l->out = (descent_shape){3, {g.c, g.ho, g.wo}};
  l->out_size = g.c * g.ho * g.wo;
  l->n_params = 0;
  if (l->ops == &layer_maxpool &&
      !descent_mul_ok(l->max_batch * l->out_size, sizeof(int32_t), &l->scratch_bytes))
    return descent_fail(DESCENT_ERANGE, "model spec: %s is too large", l->name);
  /* The 2x2 path's first stage, per thread: ho x w values and their indices. */
  if (l->ops == &layer_maxpool && cfg->kernel == 2 && cfg->stride == 2 && cfg->pad == 0)
    l->work_bytes =
        (size_t)l->work_slots * stage_slot(&g) * (sizeof(descent_real) + sizeof(int32_t));
  if (l->in_size > INT32_MAX)
    return descent_fail(DESCENT_ERANGE, "model spec: %s: input planes too large", l->name);
  return DESCENT_OK;
}

static int no_tensors(const layer *l, descent_tensor_info *t) {
  return 0;
}

static void no_init(layer *l, descent_real *params, const layer *next, descent_rng *rng) {}

/* Window rows [h0, h1) and columns [w0, w1) of output (oh, ow), clipped to
   the input. */
static void window(const pool_geometry *g, size_t oh, size_t ow, size_t *h0, size_t *h1, size_t *w0,
                   size_t *w1) {
  size_t hs = oh * g->s, ws = ow * g->s; /* in padded coordinates */
  *h0 = hs > g->pad ? hs - g->pad : 0;
  *w0 = ws > g->pad ? ws - g->pad : 0;
  *h1 = hs + g->k - g->pad < g->h ? hs + g->k - g->pad : g->h;
  *w1 = ws + g->k - g->pad < g->w ? ws + g->k - g->pad : g->w;
}

/* The common 2x2 window with stride 2 on an even width, written so that the
   compiler vectorizes it. Output rows of 8 or more: each window's four
   values in scan order. Shorter rows (7 in fmnist_2c2d): two stages, the
   larger of each vertical pair (rows 2i and 2i+1), then the larger of each
   horizontal pair of those, which (the width being 2 wo) lie next to each
   other for the whole plane, one long loop.
   Every comparison is a select, none a branch: on real data the winner is
   unpredictable and mispredictions would cost more than the arithmetic.
   Ties go to the first element in scan order, as in PyTorch (each column
   keeps its upper element; then the smaller index wins); a NaN propagates.
   Loops run in blocks of exactly 8 (straight vector code), the last block
   overlapping the one before when the length is not a multiple of 8: the
   rows are short (14 in fmnist_2c2d) and a scalar tail would cost more than
   recomputing a few values. */
static MULTIVERSION_BODY void vertical8(const descent_real *restrict top,
                                        const descent_real *restrict bottom, int32_t base,
                                        int32_t w, descent_real *restrict v, int32_t *restrict vi) {
#pragma omp simd
  for (int32_t j = 0; j < 8; j++) {
    int t = (bottom[j] > top[j]) | (bottom[j] != bottom[j]);
    v[j] = t ? bottom[j] : top[j];
    vi[j] = base + j + (t ? w : 0);
  }
}

static MULTIVERSION_BODY void horizontal8(const descent_real *restrict v,
                                          const int32_t *restrict vi, descent_real *restrict dst,
                                          int32_t *restrict where) {
#pragma omp simd
  for (int j = 0; j < 8; j++) {
    descent_real a = v[2 * j], b = v[2 * j + 1];
    int32_t ia = vi[2 * j], ib = vi[2 * j + 1];
    int t = (b > a) | (b != b) | ((b == a) & (ib < ia));
    dst[j] = t ? b : a;
    where[j] = t ? ib : ia;
  }
}

/* The starts of the blocks of 8 covering [0, n), n >= 8: 0, 8, ..., and
   n - 8 for a partial last block. */
#define FOR_BLOCKS8(j, n)                                                                          \
  for (size_t j = 0; j < (n); j = j + 8 < (n) && j + 16 > (n) ? (n)-8 : j + 8)

/* One output row of at least 8, in one stage: the four values of each
   window compared in scan order. */
static MULTIVERSION_BODY void window8(const descent_real *restrict r0,
                                      const descent_real *restrict r1, int32_t base, int32_t w,
                                      descent_real *restrict out, int32_t *restrict at) {
#pragma omp simd
  for (int32_t j = 0; j < 8; j++) {
    descent_real a = r0[2 * j], b = r0[2 * j + 1], c = r1[2 * j], d = r1[2 * j + 1], m = a;
    int32_t i0 = base + 2 * j, i = i0;
    int t = (b > m) | (b != b);
    m = t ? b : m, i = t ? i0 + 1 : i;
    t = (c > m) | (c != c);
    m = t ? c : m, i = t ? i0 + w : i;
    t = (d > m) | (d != d);
    m = t ? d : m, i = t ? i0 + w + 1 : i;
    out[j] = m;
    at[j] = i;
  }
}

/* vmax and vidx hold ho x w values of scratch. Compiled once per
   instruction-set path (core/multiversion.h): a block of 8 floats is one
   AVX vector, two SSE ones. */
static MULTIVERSION_BODY void maxpool_2x2_body(const descent_real *restrict src,
                                               descent_real *restrict dst, int32_t *restrict where,
                                               size_t w, size_t ho, descent_real *restrict vmax,
                                               int32_t *restrict vidx) {
  size_t wo = w / 2, outputs = ho * wo;
  if (wo >= 8) { /* rows long enough: one stage */
    for (size_t r = 0; r < ho; r++) {
      const descent_real *r0 = src + 2 * r * w;
      FOR_BLOCKS8(j, wo)
      window8(r0 + 2 * j, r0 + w + 2 * j, (int32_t)(2 * r * w + 2 * j), (int32_t)w,
              dst + r * wo + j, where + r * wo + j);
    }
    return;
  }
  if (w < 8 || outputs < 8) { /* tiny planes: plain loops */
    for (size_t r = 0; r < ho; r++)
      for (size_t j = 0; j < w; j++) {
        const descent_real *top = src + 2 * r * w + j, *bottom = top + w;
        int t = (*bottom > *top) | (*bottom != *bottom);
        vmax[r * w + j] = t ? *bottom : *top;
        vidx[r * w + j] = (int32_t)((2 * r + (size_t)t) * w + j);
      }
    for (size_t q = 0; q < outputs; q++) {
      descent_real a = vmax[2 * q], b = vmax[2 * q + 1];
      int32_t ia = vidx[2 * q], ib = vidx[2 * q + 1];
      int t = (b > a) | (b != b) | ((b == a) & (ib < ia));
      dst[q] = t ? b : a;
      where[q] = t ? ib : ia;
    }
    return;
  }
  for (size_t r = 0; r < ho; r++) {
    const descent_real *top = src + 2 * r * w;
    FOR_BLOCKS8(j, w)
    vertical8(top + j, top + w + j, (int32_t)(2 * r * w + j), (int32_t)w, vmax + r * w + j,
              vidx + r * w + j);
  }
  FOR_BLOCKS8(q, outputs) horizontal8(vmax + 2 * q, vidx + 2 * q, dst + q, where + q);
}
/* clang-format off */
MULTIVERSION_VOID(maxpool_2x2,
                  (const descent_real *restrict src, descent_real *restrict dst,
                   int32_t *restrict where, size_t w, size_t ho, descent_real *restrict vmax,
                   int32_t *restrict vidx),
                  (src, dst, where, w, ho, vmax, vidx))
/* clang-format on */

static void maxpool_forward(layer *l, const descent_real *params, const descent_real *x,
                            descent_real *y, size_t n, int train) {
  pool_geometry g;
  pool_geometry_of(l, &g);
  int32_t *arg = l->scratch;
  size_t planes = n * g.c, in_plane = g.h * g.w, out_plane = g.ho * g.wo;
  int threads = omp_get_max_threads() < l->work_slots ? omp_get_max_threads() : l->work_slots;
#pragma omp parallel for schedule(static)                                                          \
    num_threads(threads) if (planes * in_plane > LAYER_PARALLEL_MIN)
  for (size_t pl = 0; pl < planes; pl++) {
    const descent_real *src = x + pl * in_plane;
    descent_real *dst = y + pl * out_plane;
    int32_t *where = arg + pl * out_plane;
    if (g.k == 2 && g.s == 2 && g.pad == 0 && g.w % 2 == 0) {
      size_t slot = (size_t)omp_get_thread_num() * stage_slot(&g);
      maxpool_2x2(src, dst, where, g.w, g.ho, (descent_real *)l->work + slot,
                  (int32_t *)((descent_real *)l->work + (size_t)l->work_slots * stage_slot(&g)) +
                      slot);
      continue;
    }
    if (g.pad == 0) {
      /* Every window inside the input: no clipping. */
      for (size_t oh = 0; oh < g.ho; oh++)
        for (size_t ow = 0; ow < g.wo; ow++) {
          size_t best = oh * g.s * g.w + ow * g.s;
          descent_real max = src[best];
          for (size_t i = 0; i < g.k; i++)
            for (size_t j = 0; j < g.k; j++) {
              size_t at = (oh * g.s + i) * g.w + ow * g.s + j;
              /* Branch-free: on real data the winner is unpredictable. */
              int take = (src[at] > max) | (src[at] != src[at]);
              max = take ? src[at] : max;
              best = take ? at : best;
            }
          dst[oh * g.wo + ow] = max;
          where[oh * g.wo + ow] = (int32_t)best;
        }
      continue;
    }
    for (size_t oh = 0; oh < g.ho; oh++)
      for (size_t ow = 0; ow < g.wo; ow++) {
        size_t h0, h1, w0, w1;
        window(&g, oh, ow, &h0, &h1, &w0, &w1);
        size_t best = h0 * g.w + w0;
        descent_real max = src[best];
        for (size_t i = h0; i < h1; i++)
          for (size_t j = w0; j < w1; j++)
            if (src[i * g.w + j] > max || src[i * g.w + j] != src[i * g.w + j]) {
              max = src[i * g.w + j];
              best = i * g.w + j;
            }
        dst[oh * g.wo + ow] = max;
        where[oh * g.wo + ow] = (int32_t)best;
      }
  }
}

static void maxpool_backward(layer *l, const descent_real *params, const descent_real *x,
                             const descent_real *y, const descent_real *dy, descent_real *dx,
                             descent_real *dparams, size_t n) {
  if (!dx) return;
  pool_geometry g;
  pool_geometry_of(l, &g);
  const int32_t *arg = l->scratch;
  size_t planes = n * g.c, in_plane = g.h * g.w, out_plane = g.ho * g.wo;
#pragma omp parallel for schedule(static) if (planes * in_plane > LAYER_PARALLEL_MIN)
  for (size_t pl = 0; pl < planes; pl++) {
    descent_real *dst = dx + pl * in_plane;
    memset(dst, 0, in_plane * sizeof *dst);
    for (size_t j = 0; j < out_plane; j++) dst[arg[pl * out_plane + j]] += dy[pl * out_plane + j];
  }
}

static void avgpool_forward(layer *l, const descent_real *params, const descent_real *x,
                            descent_real *y, size_t n, int train) {
  pool_geometry g;
  pool_geometry_of(l, &g);
  size_t planes = n * g.c, in_plane = g.h * g.w, out_plane = g.ho * g.wo;
  double scale = 1.0 / (double)(g.k * g.k);
#pragma omp parallel for schedule(static) if (planes * in_plane > LAYER_PARALLEL_MIN)
  for (size_t pl = 0; pl < planes; pl++) {
    const descent_real *src = x + pl * in_plane;
    for (size_t oh = 0; oh < g.ho; oh++)
      for (size_t ow = 0; ow < g.wo; ow++) {
        size_t h0, h1, w0, w1;
        window(&g, oh, ow, &h0, &h1, &w0, &w1);
        double sum = 0;
        for (size_t i = h0; i < h1; i++)
          for (size_t j = w0; j < w1; j++) sum += src[i * g.w + j];
        y[pl * out_plane + oh * g.wo + ow] = (descent_real)(sum * scale);
      }
  }
}

static void avgpool_backward(layer *l, const descent_real *params, const descent_real *x,
                             const descent_real *y, const descent_real *dy, descent_real *dx,
                             descent_real *dparams, size_t n) {
  if (!dx) return;
  pool_geometry g;
  pool_geometry_of(l, &g);
  size_t planes = n * g.c, in_plane = g.h * g.w, out_plane = g.ho * g.wo;
  descent_real scale = (descent_real)(1.0 / (double)(g.k * g.k));
#pragma omp parallel for schedule(static) if (planes * in_plane > LAYER_PARALLEL_MIN)
  for (size_t pl = 0; pl < planes; pl++) {
    descent_real *dst = dx + pl * in_plane;
    memset(dst, 0, in_plane * sizeof *dst);
    for (size_t oh = 0; oh < g.ho; oh++)
      for (size_t ow = 0; ow < g.wo; ow++) {
        size_t h0, h1, w0, w1;
        window(&g, oh, ow, &h0, &h1, &w0, &w1);
        descent_real d = dy[pl * out_plane + oh * g.wo + ow] * scale;
        for (size_t i = h0; i < h1; i++)
          for (size_t j = w0; j < w1; j++) dst[i * g.w + j] += d;
      }
  }
}

/* Pooling's directional derivatives: with the winners of the forward just
   run fixed, max pooling is a selection and average pooling a fixed linear
   map, so ry picks (or averages) rx and R{dx} is the backward pass of rdy.
   rx NULL is a zero tangent. */
static void maxpool_jvp(layer *l, const descent_real *params, const descent_real *vparams,
                        const descent_real *x, const descent_real *rx, const descent_real *y,
                        descent_real *ry, size_t n) {
  pool_geometry g;
  pool_geometry_of(l, &g);
  const int32_t *arg = l->scratch;
  size_t planes = n * g.c, in_plane = g.h * g.w, out_plane = g.ho * g.wo;
  for (size_t pl = 0; pl < planes; pl++)
    for (size_t j = 0; j < out_plane; j++)
      ry[pl * out_plane + j] = rx ? rx[pl * in_plane + (size_t)arg[pl * out_plane + j]] : 0;
}

static void maxpool_rbackward(layer *l, const descent_real *params, const descent_real *vparams,
                              const descent_real *x, const descent_real *rx, const descent_real *y,
                              const descent_real *ry, const descent_real *dy,
                              const descent_real *rdy, descent_real *rdx, descent_real *rdparams,
                              size_t n) {
  maxpool_backward(l, params, x, y, rdy, rdx, rdparams, n);
}

static void avgpool_jvp(layer *l, const descent_real *params, const descent_real *vparams,
                        const descent_real *x, const descent_real *rx, const descent_real *y,
                        descent_real *ry, size_t n) {
  if (rx)
    avgpool_forward(l, params, rx, ry, n, 1);
  else
    memset(ry, 0, n * l->out_size * sizeof *ry);
}

static void avgpool_rbackward(layer *l, const descent_real *params, const descent_real *vparams,
                              const descent_real *x, const descent_real *rx, const descent_real *y,
                              const descent_real *ry, const descent_real *dy,
                              const descent_real *rdy, descent_real *rdx, descent_real *rdparams,
                              size_t n) {
  avgpool_backward(l, params, x, y, rdy, rdx, rdparams, n);
}

const layer_ops layer_maxpool = {
    .name = "maxpool",
    .usage = "maxpool(KERNEL[, stride=KERNEL][, pad=0])",
    .config_size = sizeof(pool_config),
    .configure = pool_configure,
    .setup = pool_setup,
    .tensors = no_tensors,
    .init = no_init,
    .forward = maxpool_forward,
    .backward = maxpool_backward,
    .jvp = maxpool_jvp,
    .rbackward = maxpool_rbackward,
};

const layer_ops layer_avgpool = {
    .name = "avgpool",
    .usage = "avgpool(KERNEL[, stride=KERNEL][, pad=0])",
    .config_size = sizeof(pool_config),
    .configure = pool_configure,
    .setup = pool_setup,
    .tensors = no_tensors,
    .init = no_init,
    .forward = avgpool_forward,
    .backward = avgpool_backward,
    .jvp = avgpool_jvp,
    .rbackward = avgpool_rbackward,
};

/* flatten: C x H x W to one vector of C*H*W, in the same (row-major) order,
   so it only changes the shape the next layer sees. */
static int flatten_configure(layer *l, const spec_call *call) {
  if (call->n_args > 0)
    return descent_fail(DESCENT_EINVAL, "model spec: flatten takes no arguments, got '%s'",
                        call->args[0].value);
  return DESCENT_OK;
}

static int flatten_setup(layer *l) {
  l->out = (descent_shape){1, {l->in_size}};
  l->out_size = l->in_size;
  return DESCENT_OK;
}

static void flatten_forward(layer *l, const descent_real *params, const descent_real *x,
                            descent_real *y, size_t n, int train) {
  memcpy(y, x, n * l->in_size * sizeof *y);
}

static void flatten_backward(layer *l, const descent_real *params, const descent_real *x,
                             const descent_real *y, const descent_real *dy, descent_real *dx,
                             descent_real *dparams, size_t n) {
  if (dx) memcpy(dx, dy, n * l->in_size * sizeof *dx);
}

/* Its directional derivatives are copies too (rx NULL: a zero tangent). */
static void flatten_jvp(layer *l, const descent_real *params, const descent_real *vparams,
                        const descent_real *x, const descent_real *rx, const descent_real *y,
                        descent_real *ry, size_t n) {
  if (rx)
    memcpy(ry, rx, n * l->in_size * sizeof *ry);
  else
    memset(ry, 0, n * l->in_size * sizeof *ry);
}

static void flatten_rbackward(layer *l, const descent_real *params, const descent_real *vparams,
                              const descent_real *x, const descent_real *rx, const descent_real *y,
                              const descent_real *ry, const descent_real *dy,
                              const descent_real *rdy, descent_real *rdx, descent_real *rdparams,
                              size_t n) {
  flatten_backward(l, params, x, y, rdy, rdx, rdparams, n);
}

const layer_ops layer_flatten = {
    .name = "flatten",
    .usage = "flatten",
    .configure = flatten_configure,
    .setup = flatten_setup,
    .tensors = no_tensors,
    .init = no_init,
    .forward = flatten_forward,
    .backward = flatten_backward,
    .jvp = flatten_jvp,
    .rbackward = flatten_rbackward,
};
