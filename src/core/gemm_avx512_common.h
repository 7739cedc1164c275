/*
 * gemm_avx512_common.h - the pieces of a GotoBLAS/BLIS-style GEMM that the
 * AVX-512 kernels share whatever their element type: edge masks, the 16 x 16
 * transpose their packing uses for operands stored the other way round, the
 * split of a block's rows into micro-panels and of C among threads.
 *
 * Included only by files compiled with -mavx512f (CMakeLists.txt).
 */
#ifndef DESCENT_GEMM_AVX512_COMMON_H
#define DESCENT_GEMM_AVX512_COMMON_H

#include <immintrin.h>
#include <stddef.h>

/* The first `count` of 16 lanes (all of them from 16 on). */
static inline __mmask16 gemm_lanes(size_t count) {
  return count >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << count) - 1);
}

/* Transposes the 16 x 16 block of 32-bit elements in r (r[i] = row i): 64
   shuffles. Bit patterns only, so it serves float and bf16 pairs alike. */
static inline __attribute__((always_inline)) void gemm_transpose16(__m512 r[16]) {
  __m512 t[16];
#pragma GCC unroll 8
  for (int i = 0; i < 8; i++) {
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
#pragma GCC unroll 4
  for (int i = 0; i < 4; i++) {
    r[4 * i + 0] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], _MM_SHUFFLE(1, 0, 1, 0));
    r[4 * i + 1] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], _MM_SHUFFLE(3, 2, 3, 2));
    r[4 * i + 2] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], _MM_SHUFFLE(1, 0, 1, 0));
    r[4 * i + 3] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  /* r[4 i + j], 128-bit lane L: rows 4i..4i+3 of column 4L + j. */
#pragma GCC unroll 4
  for (int j = 0; j < 4; j++) {
    __m512 y0 = _mm512_shuffle_f32x4(r[j], r[4 + j], _MM_SHUFFLE(2, 0, 2, 0));
    __m512 y1 = _mm512_shuffle_f32x4(r[j], r[4 + j], _MM_SHUFFLE(3, 1, 3, 1));
    __m512 y2 = _mm512_shuffle_f32x4(r[8 + j], r[12 + j], _MM_SHUFFLE(2, 0, 2, 0));
    __m512 y3 = _mm512_shuffle_f32x4(r[8 + j], r[12 + j], _MM_SHUFFLE(3, 1, 3, 1));
    t[j] = _mm512_shuffle_f32x4(y0, y2, _MM_SHUFFLE(2, 0, 2, 0));
    t[j + 4] = _mm512_shuffle_f32x4(y1, y3, _MM_SHUFFLE(2, 0, 2, 0));
    t[j + 8] = _mm512_shuffle_f32x4(y0, y2, _MM_SHUFFLE(3, 1, 3, 1));
    t[j + 12] = _mm512_shuffle_f32x4(y1, y3, _MM_SHUFFLE(3, 1, 3, 1));
  }
#pragma GCC unroll 16
  for (int i = 0; i < 16; i++) r[i] = t[i];
}

/* Splits mc rows into panels of mr, the last one or two shorter: a remainder
   under 8 rows is merged with a full panel and halved, since a panel of r
   rows keeps only 2r accumulators busy. Returns the panel count. */
static inline int gemm_plan_rows(size_t mc, size_t mr, int *heights) {
  size_t full = mc / mr, rest = mc % mr;
  int np = 0;
  if (rest && rest < 8 && full > 0) {
    full--;
    rest += mr;
  }
  for (size_t i = 0; i < full; i++) heights[np++] = (int)mr;
  if (rest > mr) {
    heights[np++] = (int)((rest + 1) / 2);
    heights[np++] = (int)(rest / 2);
  } else if (rest) {
    heights[np++] = (int)rest;
  }
  return np;
}

/* Thread t's band [*lo, *hi) of C's columns (by_columns) or rows. */
static inline void gemm_band(int by_columns, size_t m, size_t n, size_t nr, size_t t, size_t nt,
                             size_t *lo, size_t *hi) {
  if (by_columns) {
    size_t units = (n + nr - 1) / nr;
    *lo = units * t / nt * nr;
    *hi = units * (t + 1) / nt * nr;
    if (*hi > n) *hi = n;
    if (*lo > *hi) *lo = *hi;
  } else {
    *lo = m * t / nt;
    *hi = m * (t + 1) / nt;
  }
}

/* The multiply-adds one packed element is worth: packing reads an operand
   (often from L3: a batch of activations, or weights an optimizer pass has
   just written) and writes it once, a 16 x 16 transpose when it is stored
   the other way round; at 32 multiply-adds a cycle (two 16-lane FMAs), an
   element costs about a cycle. Fitted to 29 products of 2 threads on a
   2-core AMD EPYC (Zen 4), each timed split both ways (medians of 3 runs
   of 300-600 calls): with 4 (the cost of the transpose's instructions
   alone) the rule chose rows for 8 products that ran faster by columns, by
   2-43% (the weight gradients dy^T x of layers of 64-512 units on a batch
   of 128: 256x784x128, a row band each, 264 us against 245 by columns);
   with 32 it errs only where the two are within 4% (1024x784x128 stays
   rows, 966 against 992 us). */
#define GEMM_PACK_COST 32.0

/* How `nt` threads share C: 1 when each takes a band of columns (whole
   panels of nr), 0 when each takes a band of rows (m split evenly; any
   height is whole micro-panels, gemm_plan_rows). Each thread packs its band
   of one operand and the whole of the other, so the choice weighs the
   busiest thread's tiles (columns padded to vectors of 16) and packing. Any
   split gives the same bits: each element's sum runs over k in the same
   order whatever band holds it. */
static inline int gemm_split_columns(size_t m, size_t n, size_t k, size_t nr, size_t nt) {
  size_t rows = (m + nt - 1) / nt, cols = 0;
  /* A band of fewer than 8 rows is panels that keep only 2 accumulators
     per row busy: it costs about as much as 8 rows. */
  if (rows < 8) rows = m < 8 ? m : 8;
  /* The widest band gemm_band gives (the last panel of C may be narrow). */
  for (size_t t = 0; t < nt; t++) {
    size_t lo, hi;
    gemm_band(1, m, n, nr, t, nt, &lo, &hi);
    if (hi - lo > cols) cols = hi - lo;
  }
  double by_rows = (double)rows * (double)((n + 15) / 16 * 16) * (double)k +
                   GEMM_PACK_COST * ((double)rows * (double)k + (double)k * (double)n);
  double by_cols = (double)m * (double)((cols + 15) / 16 * 16) * (double)k +
                   GEMM_PACK_COST * ((double)m * (double)k + (double)k * (double)cols);
  return by_cols <= by_rows;
}

/* The micro-kernels for 1 to 14 rows, one and two vectors wide, and their
   table name[rows][vectors - 1]: the including file defines KERNELS(R) (its
   two kernels for R rows, kernel_R_1 and kernel_R_2), the type kernel_fn
   and MR = 14. */
#define GEMM_KERNEL_PAIR_(R)                                                                       \
  { kernel_##R##_1, kernel_##R##_2 }
#define GEMM_KERNEL_TABLE(name)                                                                    \
  KERNELS(1)                                                                                       \
  KERNELS(2)                                                                                       \
  KERNELS(3)                                                                                       \
  KERNELS(4)                                                                                       \
  KERNELS(5)                                                                                       \
  KERNELS(6)                                                                                       \
  KERNELS(7)                                                                                       \
  KERNELS(8)                                                                                       \
  KERNELS(9)                                                                                       \
  KERNELS(10)                                                                                      \
  KERNELS(11)                                                                                      \
  KERNELS(12)                                                                                      \
  KERNELS(13)                                                                                      \
  KERNELS(14)                                                                                      \
  _Static_assert(MR == 14, "the kernel table holds 14 row counts");                                \
  static kernel_fn *const name[MR + 1][2] = {                                                      \
      {NULL, NULL},          GEMM_KERNEL_PAIR_(1),  GEMM_KERNEL_PAIR_(2),  GEMM_KERNEL_PAIR_(3),   \
      GEMM_KERNEL_PAIR_(4),  GEMM_KERNEL_PAIR_(5),  GEMM_KERNEL_PAIR_(6),  GEMM_KERNEL_PAIR_(7),   \
      GEMM_KERNEL_PAIR_(8),  GEMM_KERNEL_PAIR_(9),  GEMM_KERNEL_PAIR_(10), GEMM_KERNEL_PAIR_(11),  \
      GEMM_KERNEL_PAIR_(12), GEMM_KERNEL_PAIR_(13), GEMM_KERNEL_PAIR_(14)};

#endif /* DESCENT_GEMM_AVX512_COMMON_H */
