/*
 * sgemm_avx512.c - a float GEMM for AVX-512, in the GotoBLAS/BLIS layout,
 * for the products of a training step (gemm.c says which it takes).
 *
 * op(A) is packed into panels of up to 14 rows and op(B) into panels of 32
 * columns, each k step of a panel contiguous, so the micro-kernel sees one
 * layout whatever the transposes: per k step it loads two vectors of B and
 * broadcasts 14 reals of A into 28 accumulators (28 fused multiply-adds for
 * 16 loads; it runs at 98% of the FMA peak with its operands in L1). Blocks
 * of at most 256 k steps keep a B panel (32 KB) in L1 while every A panel
 * of the block (up to 504 rows, 516 KB) streams past it from L2; on AMD
 * Zen 4 blocks of up to 1024 steps are faster, the B panel streaming from
 * L2 (sgemm_avx512_depth).
 *
 * What makes it faster than OpenBLAS on the MLP's shapes is around the
 * kernel. The weights (3-4 MB, in L3) are packed a panel ahead of their use,
 * a slice before each tile, with the source of the panel after that fetched
 * into L2, so the copy (a 16 x 16 transpose for x W^T) overlaps the
 * arithmetic instead of preceding it; with a single block of A the packed B
 * panels take turns in two slots that stay in cache, rather than filling a
 * megabyte buffer that the next call finds evicted. With beta = 0, C is written
 * without being read (OpenBLAS clears it in a separate pass first), and each
 * kernel prefetches the next tile of C. A remainder of fewer than 8 rows is
 * merged with a full panel and halved (128 = 8 x 14 + 2 x 8), since a panel
 * of r rows keeps only 2r accumulators busy.
 *
 * x W^T with fewer columns than rows (a narrow layer: n = 100 against a
 * batch of 128) runs as its transpose W x^T, whose tiles are stored
 * transposed (sgemm_swap): its columns then fill the vectors. Such a tile
 * goes through a scratch tile in L1, so nothing prefetches C for it.
 *
 * Threads split C (C^T when swapped) into bands of rows or of whole column
 * panels, whichever
 * leaves the busiest thread least to do (gemm_split_columns), each with its
 * own packing buffers; nothing splits the k sum, so every element
 * is summed in the same order (k blocks in order, then alpha and beta at
 * the store) whatever the thread count.
 *
 * The file is compiled with -mavx512f -mfma (CMakeLists.txt) and only called
 * on CPUs that have AVX-512F. The kernel is written with GCC's vector
 * extensions (as conv_direct.c); masks for the ragged edges and the
 * transposes use intrinsics.
 */
#include "sgemm_avx512.h"

#include "internal.h"

int descent_sgemm_enabled = 1;
int descent_sgemm_swap = -1;
unsigned long descent_sgemm_swapped = 0;

#if defined(__GNUC__) && defined(__x86_64__) && defined(__AVX512F__)

#include "gemm_avx512_common.h"
#include "gemm_buffers.h"

#include <immintrin.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

typedef float v16 __attribute__((vector_size(64)));

enum {
  MR = 14,       /* rows of a micro-tile (broadcast from packed A) */
  NR = 32,       /* columns of a micro-tile (two vectors of packed B) */
  KC_MAX = 1024, /* depth of a packed block, at most (sgemm_avx512_depth) */
  MC_MAX = 504,  /* rows of a packed block of A (a multiple of MR) */
  NC_MAX = 1024  /* columns of a packed block of B (a multiple of NR) */
};

/* Called on any CPU, so compiled for the baseline instruction set whatever
   this file's -mavx512f lets the compiler use elsewhere. */
__attribute__((target("arch=x86-64"))) int sgemm_avx512_available(void) {
  return descent_cpu_has_avx512() && descent_isa_path() >= DESCENT_ISA_AVX512;
}

/* The epilogue of one tile (sgemm_epilogue, at the tile's corner): the
   bias after the first k block, the mask and the ReLU output after the
   last one, where the elements are final. */
typedef struct tile_epilogue {
  const float *bias; /* the tile's first column, or NULL (not the first block) */
  float *relu;       /* the tile's corner, or NULL */
  const float *mask; /* the tile's corner, or NULL */
  int last;          /* this k block is the last one */
} tile_epilogue;

/* Stores the lanes mk of the sums x at c: alpha x after the first k block
   (plus beta C where beta is not 0, C not read otherwise), C + alpha x
   after the later ones. The one rounding of C's elements, shared by the
   micro-kernel and the transposed store so that both give the same bits. */
static inline __attribute__((always_inline)) void
store_sums(__m512 x, float *c, __mmask16 mk, __m512 va, __m512 vb, float beta, int first) {
  __m512 out;
  if (first && beta == 0) {
    out = _mm512_mul_ps(va, x);
  } else {
    __m512 old = _mm512_maskz_loadu_ps(mk, c);
    out = first ? _mm512_fmadd_ps(va, x, _mm512_mul_ps(vb, old)) : _mm512_fmadd_ps(va, x, old);
  }
  _mm512_mask_storeu_ps(c, mk, out);
}

/* The micro-kernel: a rows x (16 nv) tile of C from kc steps of a packed A
   panel (rows reals per step) and a packed B panel (16 nv reals per step),
   `width` of its columns stored. Inlined with rows and nv constant. */
static inline __attribute__((always_inline)) void micro(const int rows, const int nv, size_t kc,
                                                        const float *restrict pa,
                                                        const float *restrict pb, float *restrict c,
                                                        size_t ldc, size_t width, float alpha,
                                                        float beta, int first, const float *next) {
  v16 acc[MR][2];
#pragma GCC unroll 16
  for (int r = 0; r < rows; r++) {
    __builtin_prefetch(next + (size_t)r * ldc, 1, 3);
    __builtin_prefetch(next + (size_t)r * ldc + 31, 1, 3);
    acc[r][0] = (v16){0};
    acc[r][1] = (v16){0};
  }
  const int ns = 16 * nv;
#pragma GCC unroll 2
  for (size_t p = 0; p < kc; p++) {
    v16 b0 = *(const v16 *)(pb + p * ns), b1 = {0};
    if (nv == 2) b1 = *(const v16 *)(pb + p * ns + 16);
#pragma GCC unroll 16
    for (int r = 0; r < rows; r++) {
      float av = pa[p * rows + r];
      acc[r][0] += av * b0;
      if (nv == 2) acc[r][1] += av * b1;
    }
  }
  __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
#pragma GCC unroll 16
  for (int r = 0; r < rows; r++) {
    float *cr = c + (size_t)r * ldc;
#pragma GCC unroll 2
    for (int v = 0; v < nv; v++) {
      size_t col = 16 * (size_t)v;
      if (col >= width) break;
      __mmask16 mk = gemm_lanes(width - col);
      store_sums((__m512)acc[r][v], cr + col, mk, va, vb, beta, first);
    }
  }
}

/* The epilogue on a tile the kernel has just stored (rows x width at c,
   still in L1; or on all of C, for a product without arithmetic): the bias after the first k block
   (alpha is 1 and beta 0, so C holds the exact sum and adding the bias rounds once, as the sum onto
   a C that held the bias), the mask and the ReLU after the last. Kept out of the kernel, whose 28
   accumulators leave no register to spare. */
static void tile_epilogue_apply(size_t rows, size_t width, float *c, size_t ldc,
                                const tile_epilogue *te) {
  __m512 zero = _mm512_setzero_ps();
  for (size_t r = 0; r < rows; r++) {
    float *cr = c + (size_t)r * ldc;
    for (size_t col = 0; col < width; col += 16) {
      __mmask16 mk = gemm_lanes(width - col);
      __m512 out = _mm512_maskz_loadu_ps(mk, cr + col);
      if (te->bias) out = _mm512_add_ps(out, _mm512_maskz_loadu_ps(mk, te->bias + col));
      if (te->last && te->mask) {
        __m512 y = _mm512_maskz_loadu_ps(mk, te->mask + (size_t)r * ldc + col);
        out = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(y, zero, _CMP_GT_OQ), out);
      }
      _mm512_mask_storeu_ps(cr + col, mk, out);
      /* VMAXPS returns its second operand when either is NaN and when both
         are zeros: max(out, 0) is then +0 for a NaN and for -0, as relu's
         x > 0 ? x : 0 (the operand order is kept: the build does not let
         the compiler assume no NaN or no signed zero). */
      if (te->last && te->relu)
        _mm512_mask_storeu_ps(te->relu + (size_t)r * ldc + col, mk, _mm512_max_ps(out, zero));
    }
  }
}

typedef void kernel_fn(size_t kc, const float *pa, const float *pb, float *c, size_t ldc,
                       size_t width, float alpha, float beta, int first, const float *next);
#define KERNELS(R)                                                                                 \
  static void kernel_##R##_1(size_t kc, const float *pa, const float *pb, float *c, size_t ldc,    \
                             size_t width, float alpha, float beta, int first,                     \
                             const float *next) {                                                  \
    micro(R, 1, kc, pa, pb, c, ldc, width, alpha, beta, first, next);                              \
  }                                                                                                \
  static void kernel_##R##_2(size_t kc, const float *pa, const float *pb, float *c, size_t ldc,    \
                             size_t width, float alpha, float beta, int first,                     \
                             const float *next) {                                                  \
    micro(R, 2, kc, pa, pb, c, ldc, width, alpha, beta, first, next);                              \
  }
GEMM_KERNEL_TABLE(kernels)

/* dst[q * stride + i] = src[i * ld + q] for i < rows, q < cols (both <= 16),
   lanes of `store` only; rows past `rows` read as zero. */
static inline __attribute__((always_inline)) void transpose_block(const float *src, size_t ld,
                                                                  size_t rows, size_t cols,
                                                                  float *dst, size_t stride,
                                                                  __mmask16 store) {
  /* Every loop unrolled, so r stays in registers. */
  __m512 r[16];
  __mmask16 load = gemm_lanes(cols);
#pragma GCC unroll 16
  for (size_t i = 0; i < 16; i++)
    r[i] = i < rows ? _mm512_maskz_loadu_ps(load, src + i * ld) : _mm512_setzero_ps();
  gemm_transpose16(r);
#pragma GCC unroll 16
  for (size_t q = 0; q < 16; q++)
    if (q < cols) _mm512_mask_storeu_ps(dst + q * stride, store, r[q]);
}

/* Packs op(B)[p0, p0 + kc) x [j0, j0 + nc) into panels of NR columns (16
   when no more than 16 are left), zero-padded, kc steps each. */
static void pack_b(int tb, const float *b, size_t ldb, size_t p0, size_t kc, size_t j0, size_t nc,
                   float *dst) {
  for (size_t jp = 0; jp < nc; jp += NR) {
    size_t w = nc - jp < NR ? nc - jp : NR, ns = w <= 16 ? 16 : 32;
    if (!tb) {
      const float *src = b + p0 * ldb + j0 + jp;
      __mmask16 m0 = gemm_lanes(w), m1 = gemm_lanes(w > 16 ? w - 16 : 0);
      if (ns == 32)
        for (size_t p = 0; p < kc; p++) {
          _mm512_store_ps(dst + p * 32, _mm512_maskz_loadu_ps(m0, src + p * ldb));
          _mm512_store_ps(dst + p * 32 + 16, _mm512_maskz_loadu_ps(m1, src + p * ldb + 16));
        }
      else
        for (size_t p = 0; p < kc; p++)
          _mm512_store_ps(dst + p * 16, _mm512_maskz_loadu_ps(m0, src + p * ldb));
    } else {
      for (size_t half = 0; half * 16 < ns; half++) {
        size_t rows = w > half * 16 ? w - half * 16 : 0;
        if (rows > 16) rows = 16;
        const float *src = b + (j0 + jp + half * 16) * ldb + p0;
        for (size_t p = 0; p < kc; p += 16)
          transpose_block(src + p, ldb, rows, kc - p < 16 ? kc - p : 16, dst + p * ns + half * 16,
                          ns, 0xFFFF);
      }
    }
    dst += kc * ns;
  }
}

/* Fetches the source of op(B)[p0, p0 + kc) x [j0, j0 + w) into L2. */
static void prefetch_b(int tb, const float *b, size_t ldb, size_t p0, size_t kc, size_t j0,
                       size_t w) {
  if (!tb) {
    for (size_t p = 0; p < kc; p++) {
      const float *row = b + (p0 + p) * ldb + j0;
      for (size_t q = 0; q < w; q += 16) __builtin_prefetch(row + q, 0, 2);
      __builtin_prefetch(row + w - 1, 0, 2);
    }
  } else {
    for (size_t j = 0; j < w; j++) {
      const float *row = b + (j0 + j) * ldb + p0;
      for (size_t q = 0; q < kc; q += 16) __builtin_prefetch(row + q, 0, 2);
      __builtin_prefetch(row + kc - 1, 0, 2);
    }
  }
}

/* Packs op(A)[i0, ...) x [p0, p0 + kc) into panels of heights[0..np) rows,
   each kc steps of its height. */
static void pack_a(int ta, const float *a, size_t lda, size_t i0, const int *heights, int np,
                   size_t p0, size_t kc, float *dst) {
  for (int ip = 0; ip < np; ip++) {
    size_t h = (size_t)heights[ip];
    __mmask16 mk = gemm_lanes(h);
    if (ta) {
      const float *src = a + p0 * lda + i0;
      for (size_t p = 0; p < kc; p++)
        _mm512_mask_storeu_ps(dst + p * h, mk, _mm512_maskz_loadu_ps(mk, src + p * lda));
    } else {
      const float *src = a + i0 * lda + p0;
      for (size_t p = 0; p < kc; p += 16)
        transpose_block(src + p, lda, h, kc - p < 16 ? kc - p : 16, dst + p * h, h, mk);
    }
    dst += kc * h;
    i0 += h;
  }
}

/* The depth of a packed block (k steps), by CPU (called on any CPU, as
   sgemm_avx512_available). 256 keeps a B panel
   (32 KB) in L1 while the A panels stream past it from L2, the classic
   layout, as tuned on an Intel Xeon. On AMD Zen 4 blocks of up to 1024
   are faster: its L2 feeds the kernel's B loads (two vectors every 14
   cycles) as well (and its L3 the A panels of blocks too tall for L2, over
   about 200 rows), and fewer blocks mean fewer passes over each tile of C
   (loaded, added to and stored once a block) and fewer packing calls.
   Measured on a 2-core AMD EPYC (Zen 4), medians of 3 runs of 150 calls,
   256 -> 1024, us at 1 | 2 threads: x W^T 128x1024x784 2130 -> 1931 |
   1043 -> 963, 128x1024x1024 2834 -> 2658 | 1450 -> 1328, the CNN's
   128x1024x3136 9822 -> 8775 | 5109 -> 4436; dy W 128x1024x1024 2761 ->
   2657 | 1372 -> 1347, 128x3136x1024 9267 -> 8959 | 4691 -> 4545; larger
   products too (1024x1024x1024 x W^T 21.8 -> 20.2 ms | 11.2 -> 10.5,
   2048x1024x1024 42.7 -> 39.5 | 21.3 -> 20.2); 512 and 768 fell between.
   Products of k <= 256 (the weight gradients of a batch of 128) are one
   block either way. The depth sets where each element's sum is rounded
   into C, so products of k > 256 have other bits on Zen 4 than on other
   AVX-512 CPUs (the same on both thread counts). */
__attribute__((target("arch=x86-64"))) size_t sgemm_avx512_depth(void) {
  return descent_cpu_splits_avx512() ? KC_MAX : 256;
}

/* This thread's packing buffers (gemm_buffers.c), fetched before each
   product on the thread that runs it. */
static _Thread_local float *buffer_a, *buffer_b;

static int buffers(size_t depth) {
  void *a, *b;
  if (gemm_thread_buffers(sizeof(float) * MC_MAX * depth, sizeof(float) * depth * NC_MAX, &a, &b))
    return -1;
  buffer_a = a, buffer_b = b;
  return 0;
}

/* This thread's tile of C^T, for a swapped product (store_transposed). */
static _Thread_local float swap_tile[MR * NR] __attribute__((aligned(64)));

/* Stores the rows x width tile t (leading dimension NR: op(A) op(B)'s sums
   as the kernel left them, alpha 1 and beta 0) transposed into C (width x
   rows at c), each element rounded as the kernel rounds it (store_sums). */
static void store_transposed(const float *t, size_t rows, size_t width, float *c, size_t ldc,
                             float alpha, float beta, int first) {
  __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
  __mmask16 mk = gemm_lanes(rows);
  for (size_t half = 0; half * 16 < width; half++) {
    __m512 r[16];
#pragma GCC unroll 16
    for (size_t i = 0; i < 16; i++)
      r[i] = i < rows ? _mm512_load_ps(t + i * NR + half * 16) : _mm512_setzero_ps();
    gemm_transpose16(r);
    size_t cols = width - half * 16 < 16 ? width - half * 16 : 16;
    /* Unrolled, so that r stays in registers. */
#pragma GCC unroll 16
    for (size_t q = 0; q < 16; q++) {
      if (q >= cols) break;
      store_sums(r[q], c + (half * 16 + q) * ldc, mk, va, vb, beta, first);
    }
  }
}

/* C = alpha op(A) op(B) + beta C on this thread, with the epilogue ep (or
   NULL). Swapped: the product given is op(B)^T op(A)^T = C^T (sgemm_swap),
   while c, ldc and ep are C's: each tile is computed into swap_tile and
   stored transposed. */
static void gemm_serial(int ta, int tb, size_t m, size_t n, size_t k, size_t depth, float alpha,
                        const float *a, size_t lda, const float *b, size_t ldb, float beta,
                        float *c, size_t ldc, const sgemm_epilogue *ep, int swapped) {
  float *pa = buffer_a, *pb = buffer_b;
  /* Blocks of equal depth and equal height, so none is a thin remainder. */
  size_t kblocks = (k + depth - 1) / depth, kc_base = (k + kblocks - 1) / kblocks;
  size_t mblocks = (m + MC_MAX - 1) / MC_MAX, mc_base = (m + mblocks - 1) / mblocks;
  mc_base = (mc_base + MR - 1) / MR * MR;
  int heights[MC_MAX / MR + 2];
  for (size_t jc = 0; jc < n; jc += NC_MAX) {
    size_t nc = n - jc < NC_MAX ? n - jc : NC_MAX, panels = (nc + NR - 1) / NR;
    for (size_t pc = 0; pc < k; pc += kc_base) {
      size_t kc = k - pc < kc_base ? k - pc : kc_base;
      int first = pc == 0;
      for (size_t ic = 0; ic < m; ic += mc_base) {
        size_t mc = m - ic < mc_base ? m - ic : mc_base;
        int np = gemm_plan_rows(mc, MR, heights);
        pack_a(ta, a, lda, ic, heights, np, pc, kc, pa);
        /* B is packed on the first pass over A, a panel ahead: a slice of
           the next panel before each tile, while the source of the panel
           after it is fetched into L2. With a single pass (m <= mc) two
           panel slots take turns. */
        size_t slices = (size_t)np, chunk = (kc + slices - 1) / slices;
        chunk = (chunk + 15) / 16 * 16;
        float *slot[2] = {pb, pb + kc * NR};
        if (ic == 0) {
          size_t w0 = nc < NR ? nc : NR;
          pack_b(tb, b, ldb, pc, kc, jc, w0, pb);
          if (panels > 1) prefetch_b(tb, b, ldb, pc, kc, jc + NR, nc - NR < NR ? nc - NR : NR);
        }
        for (size_t jp = 0; jp < panels; jp++) {
          size_t jr = jp * NR, w = nc - jr < NR ? nc - jr : NR;
          int nv = w <= 16 ? 1 : 2;
          const float *panel_b = mc == m ? slot[jp & 1] : pb + jp * kc * NR;
          float *next_b = mc == m ? slot[(jp + 1) & 1] : pb + (jp + 1) * kc * NR;
          size_t w1 = jp + 1 < panels ? (nc - jr - NR < NR ? nc - jr - NR : NR) : 0;
          size_t w2 = jp + 2 < panels ? (nc - jr - 2 * NR < NR ? nc - jr - 2 * NR : NR) : 0;
          size_t ns1 = w1 <= 16 ? 16 : 32;
          const float *panel_a = pa;
          size_t panel_row = ic; /* the tile's first row (of C^T when swapped) */
          float *ct = swapped ? c + (jc + jr) * ldc + ic : c + ic * ldc + jc + jr;
          for (int ip = 0; ip < np; ip++) {
            size_t s0 = (size_t)ip * chunk;
            if (ic == 0 && w1 && s0 < kc) {
              size_t len = kc - s0 < chunk ? kc - s0 : chunk;
              pack_b(tb, b, ldb, pc + s0, len, jc + jr + NR, w1, next_b + s0 * ns1);
              if (w2) prefetch_b(tb, b, ldb, pc + s0, len, jc + jr + 2 * NR, w2);
            }
            size_t h = (size_t)heights[ip];
            if (!swapped) {
              /* The tile after this one, for the kernel to prefetch. */
              const float *next = ip + 1 < np ? ct + h * ldc : c + ic * ldc + jc + jr + NR;
              kernels[h][nv - 1](kc, panel_a, panel_b, ct, ldc, w, alpha, beta, first, next);
            } else {
              kernels[h][nv - 1](kc, panel_a, panel_b, swap_tile, NR, w, 1, 0, 1, swap_tile);
              store_transposed(swap_tile, h, w, ct, ldc, alpha, beta, first);
            }
            if (ep && ((first && ep->bias) || (pc + kc >= k && (ep->relu || ep->mask)))) {
              /* The tile's rows and columns in C, its bias the columns' */
              size_t corner = (size_t)(ct - c), bias_at = swapped ? panel_row : jc + jr;
              tile_epilogue te = {first && ep->bias ? ep->bias + bias_at : NULL,
                                  ep->relu ? ep->relu + corner : NULL,
                                  ep->mask ? ep->mask + corner : NULL, pc + kc >= k};
              tile_epilogue_apply(swapped ? w : h, swapped ? h : w, ct, ldc, &te);
            }
            panel_a += h * kc;
            panel_row += h;
            ct += swapped ? h : h * ldc;
          }
        }
      }
    }
  }
}

/* C = beta C, which is all that is left when alpha or k is 0. */
static void scale(size_t m, size_t n, float beta, float *c, size_t ldc) {
  for (size_t i = 0; i < m; i++)
    for (size_t j = 0; j < n; j++) c[i * ldc + j] = beta == 0 ? 0 : beta * c[i * ldc + j];
}

/* The epilogue of a band of C starting at row r0 and column c0. */
static sgemm_epilogue band_epilogue(const sgemm_epilogue *ep, size_t r0, size_t c0, size_t ldc) {
  size_t corner = r0 * ldc + c0;
  return (sgemm_epilogue){ep->bias ? ep->bias + c0 : NULL, ep->relu ? ep->relu + corner : NULL,
                          ep->mask ? ep->mask + corner : NULL};
}

/* Whether a product runs as its transpose C^T = op(B)^T op(A)^T
   (descent_sgemm_swap; -1: by this rule). x W^T with fewer outputs than
   rows (n < m) leaves the last column panel of 16 lanes partly empty
   (n = 100: 12 of 112 columns computed for nothing) and few panels of B to
   reuse each packed block of A; swapped, the rows (a batch of 128: four
   full panels) are the columns. Each tile is then stored transposed, which
   costs more than it saves when C is wide, since the tile's 32 rows of C
   lie a row apart in memory. Measured on a 2-core AMD EPYC (Zen 4),
   median of 200 calls, direct -> swapped, ms at 1 thread | 2 threads:
   128x100x784 0.217 -> 0.201 | 0.133 -> 0.107; 256x100x784 0.429 -> 0.398
   | 0.254 -> 0.206; 128x10x1024 0.056 -> 0.043 | 0.035 -> 0.026;
   128x120x1000 0.314 -> 0.304 | 0.183 -> 0.167; 128x64x512 0.082 -> 0.083
   | 0.048 -> 0.046; but 1000x500x256 2.385 -> 2.532 | 1.264 -> 1.339 and
   128x1024x1024 2.96 -> 3.00 | 1.41 -> 1.51 (m < n). The bits are the
   same either way: each element is the same sum in the same order. */
static int sgemm_swap(int ta, int tb, size_t m, size_t n) {
  if (descent_sgemm_swap >= 0) return descent_sgemm_swap;
  return !ta && tb && n < m && m <= 256;
}

int sgemm_avx512(int ta, int tb, size_t m, size_t n, size_t k, float alpha, const float *a,
                 size_t lda, const float *b, size_t ldb, float beta, float *c, size_t ldc,
                 int threads) {
  return sgemm_avx512_epilogue(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, NULL, threads);
}

int sgemm_avx512_epilogue(int ta, int tb, size_t m, size_t n, size_t k, float alpha, const float *a,
                          size_t lda, const float *b, size_t ldb, float beta, float *c, size_t ldc,
                          const sgemm_epilogue *ep, int threads) {
  if (m == 0 || n == 0) return 0;
  if (ep && !ep->bias && !ep->relu && !ep->mask) ep = NULL;
  if (ep && ep->bias && (alpha != 1 || beta != 0)) return -1;
  if (alpha == 0 || k == 0) {
    scale(m, n, beta, c, ldc);
    if (ep) { /* C = bias (a -0 kept, as 1 x bias would), then the tile's passes over all of C */
      for (size_t i = 0; ep->bias && i < m; i++) memcpy(c + i * ldc, ep->bias, n * sizeof *c);
      tile_epilogue te = {NULL, ep->relu, ep->mask, 1};
      tile_epilogue_apply(m, n, c, ldc, &te);
    }
    return 0;
  }
  /* From here on the product run is C^T = op(B)^T op(A)^T where it is
     swapped: m, n, ta, tb, a and b are then those of that product, while
     c, ldc and ep stay C's. */
  int swapped = sgemm_swap(ta, tb, m, n);
  /* The same for every thread: the bits do not depend on their count. The
     buffers need no deeper blocks than k (kc_base <= min(k, depth)). */
  size_t depth = sgemm_avx512_depth(), buffer_depth = k < depth ? k : depth;
  if (swapped) {
#pragma omp atomic update
    descent_sgemm_swapped++;
    int t = ta;
    ta = !tb, tb = !t;
    size_t rows = m, ld = lda;
    m = n, n = rows, lda = ldb, ldb = ld;
    const float *operand = a;
    a = b, b = operand;
  }
  if (threads <= 1) {
    if (buffers(buffer_depth)) return -1;
    gemm_serial(ta, tb, m, n, k, depth, alpha, a, lda, b, ldb, beta, c, ldc, ep, swapped);
    return 0;
  }
  int by_columns = gemm_split_columns(m, n, k, NR, (size_t)threads), failed = 0;
#pragma omp parallel num_threads(threads)
  {
    int ok = buffers(buffer_depth) == 0;
    if (!ok) {
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
      /* The band's corner in C (a band of the product's columns is one of
         C's rows when swapped). */
      size_t r0 = by_columns ? 0 : lo, c0 = by_columns ? lo : 0;
      if (swapped) {
        size_t t = r0;
        r0 = c0;
        c0 = t;
      }
      sgemm_epilogue band;
      if (ep) band = band_epilogue(ep, r0, c0, ldc);
      float *cb = c + r0 * ldc + c0;
      if (by_columns)
        gemm_serial(ta, tb, m, hi - lo, k, depth, alpha, a, lda, tb ? b + lo * ldb : b + lo, ldb,
                    beta, cb, ldc, ep ? &band : NULL, swapped);
      else
        gemm_serial(ta, tb, hi - lo, n, k, depth, alpha, ta ? a + lo : a + lo * lda, lda, b, ldb,
                    beta, cb, ldc, ep ? &band : NULL, swapped);
    }
  }
  return failed ? -1 : 0;
}

#else /* no AVX-512 kernel in this build */

int sgemm_avx512_available(void) {
  return 0;
}

size_t sgemm_avx512_depth(void) {
  return 256;
}

int sgemm_avx512(int trans_a, int trans_b, size_t m, size_t n, size_t k, float alpha,
                 const float *a, size_t lda, const float *b, size_t ldb, float beta, float *c,
                 size_t ldc, int threads) {
  return -1;
}

int sgemm_avx512_epilogue(int trans_a, int trans_b, size_t m, size_t n, size_t k, float alpha,
                          const float *a, size_t lda, const float *b, size_t ldb, float beta,
                          float *c, size_t ldc, const sgemm_epilogue *epilogue, int threads) {
  return -1;
}

#endif
