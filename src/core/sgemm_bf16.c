/*
 * sgemm_bf16.c - a float GEMM with bf16 operands for AVX512_BF16, in the
 * GotoBLAS/BLIS layout of sgemm_avx512.c, and its portable reference.
 *
 * vdpbf16ps multiplies 16 pairs of bf16 values and adds both products of a
 * pair into one float lane: per instruction it does twice the work of a
 * float FMA. The operands are rounded to bf16 while they are packed, so the
 * micro-kernel sees pairs of k steps interleaved: a packed A panel holds, per
 * pair of k steps, one 32-bit word (two bf16) per row, broadcast to all
 * lanes; a packed B panel holds 16 or 32 such words, one per column. The
 * micro-kernel keeps 14 rows x 32 columns in 28 float accumulators, as the
 * float kernel does, each instruction now covering two k steps.
 *
 * Packing is one of two moves whatever the transposes. An operand whose
 * elements of one row (of op(A)) or column (of op(B)) lie along k in memory
 * is converted 32 floats at a time into 16 words and transposed 16 x 16; one
 * lying across k takes two rows of k at a time, converts them together and
 * interleaves their halves. Blocks of at most 512 k steps (256 pairs) keep
 * a B panel (32 KB) in L1 while the A panels of the block (504 rows, 516 KB)
 * stream from L2. B is packed a whole block (up to 1024 columns) at a time:
 * simpler than sgemm_avx512.c's packing a panel ahead, at the price of the
 * copy not overlapping the arithmetic.
 *
 * Threads split C into bands of rows or of column panels (gemm_split_columns); the k
 * sum is never split, so every element is summed in the same order (k blocks
 * in order, alpha and beta at the first block's store, the bf16 rounding of
 * C at the last) whatever the thread count.
 *
 * The file is compiled with -mavx512f -mavx512bf16 -mavx512vl -mavx512bw
 * (CMakeLists.txt); the kernel is only called on CPUs that have them, and
 * the functions every CPU may call are compiled for the baseline.
 */
#include "sgemm_bf16.h"

#include "internal.h"

#include <stdint.h>
#include <string.h>

#if defined(__GNUC__) && defined(__x86_64__)
#define BASELINE __attribute__((target("arch=x86-64")))
#else
#define BASELINE
#endif

BASELINE float sgemm_bf16_round(float x) {
  uint32_t u;
  memcpy(&u, &x, sizeof u);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u)
    u |= 0x00400000u; /* NaN: made quiet, so truncating keeps it NaN */
  else
    u += 0x7FFFu + ((u >> 16) & 1); /* ties to the even neighbour */
  u &= 0xFFFF0000u;
  memcpy(&x, &u, sizeof x);
  return x;
}

BASELINE void sgemm_bf16_reference(int ta, int tb, size_t m, size_t n, size_t k, float alpha,
                                   const float *a, size_t lda, const float *b, size_t ldb,
                                   float beta, float *c, size_t ldc, int round_c) {
  for (size_t i = 0; i < m; i++)
    for (size_t j = 0; j < n; j++) {
      double sum = 0;
      for (size_t p = 0; p < k; p++) {
        float av = sgemm_bf16_round(ta ? a[p * lda + i] : a[i * lda + p]);
        float bv = sgemm_bf16_round(tb ? b[j * ldb + p] : b[p * ldb + j]);
        sum += (double)av * (double)bv;
      }
      double old = beta == 0 ? 0.0 : (double)beta * c[i * ldc + j];
      float out = (float)((double)alpha * sum + old);
      c[i * ldc + j] = round_c ? sgemm_bf16_round(out) : out;
    }
}

#if defined(__GNUC__) && defined(__x86_64__)
BASELINE int sgemm_bf16_cpu(void) {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bf16");
}
#else
int sgemm_bf16_cpu(void) {
  return 0;
}
#endif

#if defined(__GNUC__) && defined(__x86_64__) && defined(__AVX512BF16__) && defined(__AVX512BW__)

#include "gemm_avx512_common.h"
#include "gemm_buffers.h"

#include <omp.h>
#include <stdlib.h>

enum {
  MR = 14,      /* rows of a micro-tile (words broadcast from packed A) */
  NR = 32,      /* columns of a micro-tile (two vectors of packed B) */
  KC_MAX = 512, /* k steps of a packed block (an even number) */
  MC_MAX = 504, /* rows of a packed block of A (a multiple of MR) */
  NC_MAX = 1024 /* columns of a packed block of B (a multiple of NR) */
};

BASELINE int sgemm_bf16_available(void) {
  return descent_isa_path() >= DESCENT_ISA_AVX512 && sgemm_bf16_cpu();
}

/* C's 16 lanes rounded to bf16, kept as floats. */
static inline __m512 round_lanes(__m512 x) {
  __m256i h = (__m256i)_mm512_cvtneps_pbh(x);
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

/* What the micro-kernel does at the store. */
typedef struct tile_store {
  float alpha, beta;
  int first;   /* the first k block: apply beta (or, beta == 0, do not read C) */
  int round_c; /* the last k block of a product whose C is rounded to bf16 */
} tile_store;

/* The micro-kernel: a rows x (16 nv) tile of C from kp pairs of k steps of a
   packed A panel (rows words per pair) and a packed B panel (16 nv words per
   pair), `width` of its columns stored. Inlined with rows and nv constant. */
static inline __attribute__((always_inline)) void micro(const int rows, const int nv, size_t kp,
                                                        const uint32_t *restrict pa,
                                                        const uint32_t *restrict pb,
                                                        float *restrict c, size_t ldc, size_t width,
                                                        const tile_store *st) {
  __m512 acc[MR][2];
#pragma GCC unroll 16
  for (int r = 0; r < rows; r++) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
  const int ns = 16 * nv;
#pragma GCC unroll 2
  for (size_t p = 0; p < kp; p++) {
    __m512bh b0 = (__m512bh)_mm512_load_si512(pb + p * ns), b1 = b0;
    if (nv == 2) b1 = (__m512bh)_mm512_load_si512(pb + p * ns + 16);
#pragma GCC unroll 16
    for (int r = 0; r < rows; r++) {
      __m512bh av = (__m512bh)_mm512_set1_epi32((int)pa[p * rows + r]);
      acc[r][0] = _mm512_dpbf16_ps(acc[r][0], av, b0);
      if (nv == 2) acc[r][1] = _mm512_dpbf16_ps(acc[r][1], av, b1);
    }
  }
  __m512 va = _mm512_set1_ps(st->alpha), vb = _mm512_set1_ps(st->beta);
#pragma GCC unroll 16
  for (int r = 0; r < rows; r++) {
    float *cr = c + (size_t)r * ldc;
#pragma GCC unroll 2
    for (int v = 0; v < nv; v++) {
      size_t col = 16 * (size_t)v;
      if (col >= width) break;
      __mmask16 mk = gemm_lanes(width - col);
      __m512 out;
      if (st->first && st->beta == 0) {
        out = _mm512_mul_ps(va, acc[r][v]);
      } else {
        __m512 old = _mm512_maskz_loadu_ps(mk, cr + col);
        out = st->first ? _mm512_fmadd_ps(va, acc[r][v], _mm512_mul_ps(vb, old))
                        : _mm512_fmadd_ps(va, acc[r][v], old);
      }
      if (st->round_c) out = round_lanes(out);
      _mm512_mask_storeu_ps(cr + col, mk, out);
    }
  }
}

typedef void kernel_fn(size_t kp, const uint32_t *pa, const uint32_t *pb, float *c, size_t ldc,
                       size_t width, const tile_store *st);
#define KERNELS(R)                                                                                 \
  static void kernel_##R##_1(size_t kp, const uint32_t *pa, const uint32_t *pb, float *c,          \
                             size_t ldc, size_t width, const tile_store *st) {                     \
    micro(R, 1, kp, pa, pb, c, ldc, width, st);                                                    \
  }                                                                                                \
  static void kernel_##R##_2(size_t kp, const uint32_t *pa, const uint32_t *pb, float *c,          \
                             size_t ldc, size_t width, const tile_store *st) {                     \
    micro(R, 2, kp, pa, pb, c, ldc, width, st);                                                    \
  }
GEMM_KERNEL_TABLE(kernels)

/* Lines q < count (rows of op(A) or columns of op(B)) of an operand, k steps
   [0, kc), packed as words: dst[pp * stride + q] holds the bf16 of the line's
   steps 2 pp (low half) and 2 pp + 1 (high half), zero past kc. Step p of
   line q is src[q * ld + p] when along_k, src[p * ld + q] otherwise. With
   pad, lanes count..15 of each pair are written as zeros; without, left
   alone. */
static void pack_pairs(const float *src, size_t ld, int along_k, size_t count, size_t kc,
                       uint32_t *dst, size_t stride, int pad) {
  __mmask16 store = pad ? (__mmask16)0xFFFF : gemm_lanes(count);
  if (count == 0) {
    for (size_t pp = 0; pp < (kc + 1) / 2; pp++)
      _mm512_mask_storeu_epi32(dst + pp * stride, store, _mm512_setzero_si512());
    return;
  }
  if (!along_k) {
    /* Word q of a pair: element q of the first row, then of the second. */
    const __m512i interleave =
        _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8, 23, 7, 22, 6,
                         21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
    __mmask16 load = gemm_lanes(count);
    for (size_t pp = 0; 2 * pp < kc; pp++) {
      const float *row = src + 2 * pp * ld;
      __m512 x0 = _mm512_maskz_loadu_ps(load, row);
      __m512 x1 = 2 * pp + 1 < kc ? _mm512_maskz_loadu_ps(load, row + ld) : _mm512_setzero_ps();
      __m512i halves = (__m512i)_mm512_cvtne2ps_pbh(x1, x0); /* x0's 16, then x1's */
      _mm512_mask_storeu_epi32(dst + pp * stride, store,
                               _mm512_permutexvar_epi16(interleave, halves));
    }
    return;
  }
  for (size_t p = 0; p < kc; p += 32) {
    size_t left = kc - p, pairs = left >= 32 ? 16 : (left + 1) / 2;
    __mmask16 m0 = gemm_lanes(left), m1 = gemm_lanes(left > 16 ? left - 16 : 0);
    /* r[q]: line q's 32 steps as 16 words; transposed, r[w] holds word w of
       every line. Every loop unrolled, so r stays in registers. */
    __m512 r[16];
#pragma GCC unroll 16
    for (size_t q = 0; q < 16; q++) {
      if (q < count) {
        const float *line = src + q * ld + p;
        __m512 lo = _mm512_maskz_loadu_ps(m0, line), hi = _mm512_maskz_loadu_ps(m1, line + 16);
        r[q] = (__m512)_mm512_cvtne2ps_pbh(hi, lo);
      } else {
        r[q] = _mm512_setzero_ps();
      }
    }
    gemm_transpose16(r);
#pragma GCC unroll 16
    for (size_t w = 0; w < 16; w++)
      if (w < pairs)
        _mm512_mask_storeu_epi32(dst + (p / 2 + w) * stride, store, _mm512_castps_si512(r[w]));
  }
}

/* Packs op(B)[p0, p0 + kc) x [j0, j0 + nc) into panels of NR columns (16
   when no more than 16 are left), zero-padded, (kc + 1) / 2 pairs each, a
   panel every kp * NR words. */
static void pack_b(int tb, const float *b, size_t ldb, size_t p0, size_t kc, size_t j0, size_t nc,
                   uint32_t *dst) {
  size_t kp = (kc + 1) / 2;
  for (size_t jp = 0; jp < nc; jp += NR) {
    size_t w = nc - jp < NR ? nc - jp : NR, ns = w <= 16 ? 16 : 32;
    for (size_t half = 0; half * 16 < ns; half++) {
      size_t j = j0 + jp + half * 16, count = w > half * 16 ? w - half * 16 : 0;
      if (count > 16) count = 16;
      const float *src = tb ? b + j * ldb + p0 : b + p0 * ldb + j;
      pack_pairs(count ? src : b, ldb, tb, count, kc, dst + half * 16, ns, 1);
    }
    dst += kp * NR;
  }
}

/* Packs op(A)[i0, ...) x [p0, p0 + kc) into panels of heights[0..np) rows,
   (kc + 1) / 2 pairs of its height each. */
static void pack_a(int ta, const float *a, size_t lda, size_t i0, const int *heights, int np,
                   size_t p0, size_t kc, uint32_t *dst) {
  size_t kp = (kc + 1) / 2;
  for (int ip = 0; ip < np; ip++) {
    size_t h = (size_t)heights[ip];
    const float *src = ta ? a + p0 * lda + i0 : a + i0 * lda + p0;
    pack_pairs(src, lda, !ta, h, kc, dst, h, 0);
    dst += kp * h;
    i0 += h;
  }
}

/* This thread's packing buffers (gemm_buffers.c), fetched before each
   product on the thread that runs it. */
static _Thread_local uint32_t *buffer_a, *buffer_b;

static int buffers(void) {
  void *a, *b;
  if (gemm_thread_buffers(sizeof(uint32_t) * MC_MAX * (KC_MAX / 2),
                          sizeof(uint32_t) * (KC_MAX / 2) * NC_MAX, &a, &b))
    return -1;
  buffer_a = a, buffer_b = b;
  return 0;
}

static void gemm_serial(int ta, int tb, size_t m, size_t n, size_t k, float alpha, const float *a,
                        size_t lda, const float *b, size_t ldb, float beta, float *c, size_t ldc,
                        int round_c) {
  /* Blocks of equal depth (even, so that only the last may end on half a
     pair) and equal height, so none is a thin remainder. */
  size_t kblocks = (k + KC_MAX - 1) / KC_MAX, kc_base = (k + kblocks - 1) / kblocks;
  kc_base += kc_base % 2;
  size_t mblocks = (m + MC_MAX - 1) / MC_MAX, mc_base = (m + mblocks - 1) / mblocks;
  mc_base = (mc_base + MR - 1) / MR * MR;
  int heights[MC_MAX / MR + 2];
  for (size_t jc = 0; jc < n; jc += NC_MAX) {
    size_t nc = n - jc < NC_MAX ? n - jc : NC_MAX, panels = (nc + NR - 1) / NR;
    for (size_t pc = 0; pc < k; pc += kc_base) {
      size_t kc = k - pc < kc_base ? k - pc : kc_base, kp = (kc + 1) / 2;
      tile_store st = {alpha, beta, pc == 0, round_c && pc + kc == k};
      pack_b(tb, b, ldb, pc, kc, jc, nc, buffer_b);
      for (size_t ic = 0; ic < m; ic += mc_base) {
        size_t mc = m - ic < mc_base ? m - ic : mc_base;
        int np = gemm_plan_rows(mc, MR, heights);
        pack_a(ta, a, lda, ic, heights, np, pc, kc, buffer_a);
        for (size_t jp = 0; jp < panels; jp++) {
          size_t jr = jp * NR, w = nc - jr < NR ? nc - jr : NR;
          const uint32_t *panel_a = buffer_a, *panel_b = buffer_b + jp * kp * NR;
          float *ct = c + ic * ldc + jc + jr;
          for (int ip = 0; ip < np; ip++) {
            kernels[heights[ip]][w <= 16 ? 0 : 1](kp, panel_a, panel_b, ct, ldc, w, &st);
            panel_a += (size_t)heights[ip] * kp;
            ct += (size_t)heights[ip] * ldc;
          }
        }
      }
    }
  }
}

/* C = beta C (rounded with round_c), which is all that is left when alpha
   or k is 0. */
static void scale(size_t m, size_t n, float beta, float *c, size_t ldc, int round_c) {
  for (size_t i = 0; i < m; i++)
    for (size_t j = 0; j < n; j++) {
      float v = beta == 0 ? 0 : beta * c[i * ldc + j];
      c[i * ldc + j] = round_c ? sgemm_bf16_round(v) : v;
    }
}

int sgemm_bf16(int ta, int tb, size_t m, size_t n, size_t k, float alpha, const float *a,
               size_t lda, const float *b, size_t ldb, float beta, float *c, size_t ldc,
               int round_c, int threads) {
  if (m == 0 || n == 0) return 0;
  if (alpha == 0 || k == 0) {
    scale(m, n, beta, c, ldc, round_c);
    return 0;
  }
  if (threads <= 1) {
    if (buffers()) return -1;
    gemm_serial(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, round_c);
    return 0;
  }
  int by_columns = gemm_split_columns(m, n, k, NR, (size_t)threads), failed = 0;
#pragma omp parallel num_threads(threads)
  {
    if (buffers()) {
#pragma omp atomic write
      failed = 1;
    }
#pragma omp barrier
    int stop;
#pragma omp atomic read
    stop = failed;
    size_t lo, hi;
    gemm_band(by_columns, m, n, NR, (size_t)omp_get_thread_num(), (size_t)omp_get_num_threads(),
              &lo, &hi);
    if (!stop && hi > lo) {
      if (by_columns)
        gemm_serial(ta, tb, m, hi - lo, k, alpha, a, lda, tb ? b + lo * ldb : b + lo, ldb, beta,
                    c + lo, ldc, round_c);
      else
        gemm_serial(ta, tb, hi - lo, n, k, alpha, ta ? a + lo : a + lo * lda, lda, b, ldb, beta,
                    c + lo * ldc, ldc, round_c);
    }
  }
  return failed ? -1 : 0;
}

#else /* no AVX512_BF16 kernel in this build */

int sgemm_bf16_available(void) {
  return 0;
}

int sgemm_bf16(int trans_a, int trans_b, size_t m, size_t n, size_t k, float alpha, const float *a,
               size_t lda, const float *b, size_t ldb, float beta, float *c, size_t ldc,
               int round_c, int threads) {
  return -1;
}

#endif
