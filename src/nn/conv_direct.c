/*
 * conv_direct.c - a direct stride-1 convolution, vectorized over the output
 * channels, for the convolutions im2col + GEMM serves poorly.
 *
 * im2col copies the input k*k times and OpenBLAS then packs the copy again;
 * with small images (14x14 in fmnist_2c2d) those copies and the packing cost
 * as much as a third of the arithmetic. Here nothing is copied but the zero
 * padding. When the output channels come in multiples of 16, the kernel
 * computes tiles of V vectors of channels (V = 2 where they divide the
 * channels, else 1: 32 or 16 floats, 16 or 8 doubles) by P consecutive
 * positions of one output row (P up to 14, the row split into tiles of
 * nearly equal width: 11 = 6 + 5, 30 = 10 + 10 + 10), in V x P <= 28
 * accumulators. For each input channel and tap it loads V vectors of
 * weights, packed in the order it reads them, and multiplies each into the
 * P accumulators of its channels by the P input values, broadcast from
 * memory: every lane of every multiply-add is an output. (The earlier scheme
 * ran along the output row, and a 14-column row left 2 of 16 lanes idle.)
 * The accumulators, position by channel, go through a small tile in L1 to
 * the channel-major output. Four vectors by 7 positions measured slower on
 * fmnist_2c2d's 64 channels (28 accumulators, 4 weights and a broadcast do
 * not fit in 32 registers), and 4 by 6 slower still.
 *
 * Other channel counts that are multiples of 8 keep the row-vectorized
 * kernel: 8 channels by up to 3 rows, one vector of each input row times 8
 * weights broadcast from memory; a row shorter than a vector computes a few
 * extra lanes from the next row's data, which are never stored.
 *
 * The kernels are written with GCC's vector extensions (also understood by
 * Clang), so the same source serves AVX-512, AVX2 and other targets; without
 * them conv.c keeps im2col + GEMM. Sums run in a fixed order (the bias, then
 * input channel, kernel row, kernel column), whatever the thread count.
 */
#include "conv_direct.h"

#include <string.h>

/* GCC's predictive commoning would carry the input values of one kernel
   column to the next through the stack, in place of broadcasting them from
   the input plane: a fifth slower on fmnist_2c2d's forward pass. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-predictive-commoning")
#endif

int conv_direct_enabled = 1;

/* The kernel keeps up to 28 accumulators of 64 bytes. AVX-512's 32 registers
   hold them; compiled for a narrower vector unit (AVX2's 16 registers of 32
   bytes, NEON's 16 bytes) each accumulator spans several registers and the
   kernel spills on every operation: fmnist_2c2d's step took 3.1 s in an AVX2
   build against 0.13 s with im2col + GEMM. So on x86-64 this file is compiled
   for AVX-512 whatever -march says (CMakeLists.txt), and the kernel serves
   where the CPU has it and the run-time path is avx512 (src/core/isa.c);
   elsewhere (NEON) it is off by default. */
#if defined(__AVX512F__)
#define CONV_DIRECT_AVX512 1
#else
#define CONV_DIRECT_AVX512 0
#endif

/* Output channels per block of the weights: V vectors for the
   channel-vectorized kernel (V = 2, or 1), CONV_DIRECT_BLOCK for the row
   kernel. */
static size_t conv_direct_block(size_t n_out) {
  enum { L = 64 / sizeof(descent_real) };
  if (n_out % 16) return CONV_DIRECT_BLOCK;
  return n_out % (2 * L) == 0 ? 2 * L : L;
}

void conv_direct_pack(const descent_real *w, size_t n_out, size_t n_in, size_t k,
                      descent_real *wt) {
  size_t kk = k * k, bl = conv_direct_block(n_out);
  for (size_t o = 0; o < n_out; o++)
    for (size_t r = 0; r < n_in * kk; r++)
      wt[((o / bl) * n_in * kk + r) * bl + o % bl] = w[o * n_in * kk + r];
}

#if defined(__GNUC__)

typedef descent_real vreal __attribute__((vector_size(64)));
enum { VL = 64 / sizeof(descent_real) };

/* Called on any CPU, so compiled for the baseline instruction set. */
#if defined(__x86_64__)
__attribute__((target("arch=x86-64")))
#endif
int conv_direct_available(void) {
#if CONV_DIRECT_AVX512
  if (!descent_cpu_has_avx512()) return 0; /* it would not run at all */
#endif
  if (conv_direct_enabled == 2) return 1;
  return conv_direct_enabled == 1 && CONV_DIRECT_AVX512 && descent_isa_path() >= DESCENT_ISA_AVX512;
}

/* `rows` output rows from oh (1 to 3) of outputs [ob, ob + 8), from column
   ow: 8 x rows accumulators. Inlined with rows constant, so each case gets
   its own straight code. */
static inline __attribute__((always_inline)) void
conv_rows(const descent_real *in, size_t n_in, size_t hp, size_t wp, const descent_real *wt,
          const descent_real *bias, size_t k, size_t ho, size_t wo, descent_real *out, size_t ob,
          size_t oh, size_t ow, const int rows) {
  vreal acc[3][CONV_DIRECT_BLOCK];
  for (int r = 0; r < rows; r++)
    for (int j = 0; j < CONV_DIRECT_BLOCK; j++) {
      vreal zero = {0};
      acc[r][j] = zero + (bias ? bias[ob + (size_t)j] : 0);
    }
  for (size_t c = 0; c < n_in; c++)
    for (size_t a = 0; a < k; a++) {
      const descent_real *row = in + (c * hp + oh + a) * wp + ow;
      const descent_real *w =
          wt + ((ob / CONV_DIRECT_BLOCK) * n_in * k * k + (c * k + a) * k) * CONV_DIRECT_BLOCK;
      for (size_t b = 0; b < k; b++, w += CONV_DIRECT_BLOCK) {
        vreal x[3];
        for (int r = 0; r < rows; r++) /* rows below: in the plane or the slack */
          memcpy(&x[r], row + (size_t)r * wp + b, sizeof x[r]);
#pragma GCC unroll 8
        for (int j = 0; j < CONV_DIRECT_BLOCK; j++) {
          descent_real wj = w[j];
          for (int r = 0; r < rows; r++) acc[r][j] += x[r] * wj;
        }
      }
    }
  size_t n = wo - ow < (size_t)VL ? wo - ow : (size_t)VL;
  for (int r = 0; r < rows; r++)
    for (int j = 0; j < CONV_DIRECT_BLOCK; j++) {
      descent_real *dst = out + ((ob + (size_t)j) * ho + oh + (size_t)r) * wo + ow;
      if (n == (size_t)VL)
        memcpy(dst, &acc[r][j], sizeof acc[r][j]);
      else
        for (size_t l = 0; l < n; l++) dst[l] = acc[r][j][l];
    }
}

/* Accumulators of the channel-vectorized kernel, at most. */
enum { TILE_ACC = 28 };

/* One tile: outputs [ob, ob + nv VL) at positions ow to ow + np - 1 of row
   oh, in nv x np accumulators. Inlined with nv and np constant. */
static inline __attribute__((always_inline)) void
conv_tile(const descent_real *in, size_t n_in, size_t hp, size_t wp, const descent_real *wt,
          const descent_real *bias, size_t k, size_t ho, size_t wo, descent_real *out, size_t ob,
          size_t oh, size_t ow, const int nv, const int np) {
  const size_t bl = (size_t)nv * VL;
  vreal acc[TILE_ACC][2];
  for (int v = 0; v < nv; v++) {
    vreal b0 = {0};
    if (bias) memcpy(&b0, bias + ob + (size_t)v * VL, sizeof b0);
    for (int i = 0; i < np; i++) acc[i][v] = b0;
  }
  const descent_real *w = wt + ob * n_in * k * k;
  for (size_t c = 0; c < n_in; c++)
    for (size_t a = 0; a < k; a++) {
      const descent_real *row = in + (c * hp + oh + a) * wp + ow;
      for (size_t b = 0; b < k; b++, w += bl) {
        vreal wv[2];
        for (int v = 0; v < nv; v++) memcpy(&wv[v], w + (size_t)v * VL, sizeof wv[v]);
        for (int i = 0; i < np; i++) {
          descent_real x = row[(size_t)i + b];
          for (int v = 0; v < nv; v++) acc[i][v] += wv[v] * x;
        }
      }
    }
  /* Position by channel in L1, then channel by position to the output. */
  descent_real tile[TILE_ACC * 64 / sizeof(descent_real)] __attribute__((aligned(64)));
  for (int i = 0; i < np; i++)
    for (int v = 0; v < nv; v++) memcpy(tile + (size_t)i * bl + (size_t)v * VL, &acc[i][v], 64);
  for (size_t j = 0; j < bl; j++) {
    descent_real *dst = out + ((ob + j) * ho + oh) * wo + ow;
    for (int i = 0; i < np; i++) dst[i] = tile[(size_t)i * bl + j];
  }
}

#define CONV_TILE_CASE(P)                                                                          \
  case P:                                                                                          \
    conv_tile(in, n_in, hp, wp, wt, bias, k, ho, wo, out, ob, oh, ow, nv, P);                      \
    break;

/* All tiles of nv vectors of channels: each row in ceil(wo / pmax) tiles of
   nearly equal width, pmax = 14 (28 accumulators with nv = 2). */
static inline __attribute__((always_inline)) void
conv_channels(const descent_real *in, size_t n_in, size_t hp, size_t wp, const descent_real *wt,
              size_t n_out, const descent_real *bias, size_t k, size_t ho, size_t wo,
              descent_real *out, const int nv) {
  const size_t pmax = 14;
  size_t nt = (wo + pmax - 1) / pmax, base = wo / nt, extra = wo % nt;
  for (size_t ob = 0; ob < n_out; ob += (size_t)nv * VL)
    for (size_t oh = 0; oh < ho; oh++)
      for (size_t t = 0, ow = 0; t < nt; t++) {
        size_t p = base + (t < extra);
        switch (p) {
          CONV_TILE_CASE(1)
          CONV_TILE_CASE(2)
          CONV_TILE_CASE(3)
          CONV_TILE_CASE(4)
          CONV_TILE_CASE(5)
          CONV_TILE_CASE(6)
          CONV_TILE_CASE(7)
          CONV_TILE_CASE(8)
          CONV_TILE_CASE(9)
          CONV_TILE_CASE(10)
          CONV_TILE_CASE(11)
          CONV_TILE_CASE(12)
          CONV_TILE_CASE(13)
          CONV_TILE_CASE(14)
        }
        ow += p;
      }
}

void conv_direct(const descent_real *in, size_t n_in, size_t hp, size_t wp, const descent_real *wt,
                 size_t n_out, const descent_real *bias, size_t k, size_t ho, size_t wo,
                 descent_real *out) {
  size_t bl = conv_direct_block(n_out);
  if (bl == 2 * VL) {
    conv_channels(in, n_in, hp, wp, wt, n_out, bias, k, ho, wo, out, 2);
    return;
  }
  if (bl == VL) {
    conv_channels(in, n_in, hp, wp, wt, n_out, bias, k, ho, wo, out, 1);
    return;
  }
  for (size_t ob = 0; ob < n_out; ob += CONV_DIRECT_BLOCK)
    for (size_t ow = 0; ow < wo; ow += VL) {
      size_t oh = 0;
      for (; oh + 3 <= ho; oh += 3)
        conv_rows(in, n_in, hp, wp, wt, bias, k, ho, wo, out, ob, oh, ow, 3);
      if (ho - oh == 2) conv_rows(in, n_in, hp, wp, wt, bias, k, ho, wo, out, ob, oh, ow, 2);
      if (ho - oh == 1) conv_rows(in, n_in, hp, wp, wt, bias, k, ho, wo, out, ob, oh, ow, 1);
    }
}

#else

int conv_direct_available(void) {
  return 0;
}

void conv_direct(const descent_real *in, size_t n_in, size_t hp, size_t wp, const descent_real *wt,
                 size_t n_out, const descent_real *bias, size_t k, size_t ho, size_t wo,
                 descent_real *out) {
  (void)in, (void)n_in, (void)hp, (void)wp, (void)wt, (void)n_out, (void)bias, (void)k;
  (void)ho, (void)wo, (void)out;
}

#endif
