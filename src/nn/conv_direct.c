/*
 * conv_direct.c - a direct stride-1 convolution, vectorized along the output
 * rows and blocked over 16 output channels, for the convolutions im2col +
 * GEMM serves poorly.
 *
 * im2col copies the input k*k times and OpenBLAS then packs the copy again;
 * with small images (14x14 in fmnist_2c2d) those copies and the packing cost
 * as much as a third of the arithmetic. Here each step of the inner loop
 * loads one vector of an input row (16 floats, 8 doubles) and multiplies it
 * into 16 accumulators, one per output channel, by 16 weights broadcast from
 * memory: 16 fused multiply-adds per load, the accumulators never leave the
 * registers, and nothing is copied but the zero padding. A row shorter than
 * a vector (14) computes a few extra lanes from the next row's data, which
 * are never stored.
 *
 * The kernel is written with GCC's vector extensions (also understood by
 * Clang), so the same source serves AVX-512, AVX2 and other targets; without
 * them conv.c keeps im2col + GEMM. Sums run in a fixed order (input channel,
 * kernel row, kernel column), whatever the thread count.
 */
#include "conv_direct.h"

#include <string.h>

int conv_direct_enabled = 1;

void conv_direct_pack(const descent_real *w, size_t n_out, size_t n_in, size_t k,
                      descent_real *wt) {
  size_t kk = k * k;
  for (size_t o = 0; o < n_out; o++)
    for (size_t r = 0; r < n_in * kk; r++)
      wt[((o / CONV_DIRECT_BLOCK) * n_in * kk + r) * CONV_DIRECT_BLOCK + o % CONV_DIRECT_BLOCK] =
          w[o * n_in * kk + r];
}

#if defined(__GNUC__)

typedef descent_real vreal __attribute__((vector_size(64)));
enum { VL = 64 / sizeof(descent_real) };

int conv_direct_available(void) {
  return conv_direct_enabled;
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

void conv_direct(const descent_real *in, size_t n_in, size_t hp, size_t wp, const descent_real *wt,
                 size_t n_out, const descent_real *bias, size_t k, size_t ho, size_t wo,
                 descent_real *out) {
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
