/*
 * sgemm_avx512.h - the float matrix product of sgemm_avx512.c, which
 * descent_gemm (gemm.c) uses in place of OpenBLAS on CPUs with AVX-512F.
 */
#ifndef DESCENT_SGEMM_AVX512_H
#define DESCENT_SGEMM_AVX512_H

#include <stddef.h>

/* 1 when the kernel is compiled in (GCC or Clang on x86-64) and this CPU
   has AVX-512F: sgemm_avx512 may be called. */
int sgemm_avx512_available(void);

/* 1 (the default): descent_gemm uses the kernel where it is available and
   faster; tests and benchmarks clear it to run OpenBLAS on the same calls.
   Not to be changed while another thread multiplies. */
extern int descent_sgemm_enabled;

/* Whether the kernel computes a product as its transpose, C^T = op(B)^T
   op(A)^T (faster for x W^T with fewer columns than rows: sgemm_avx512.c):
   -1 (the default) by its rule, 0 never, 1 always. The bits are the same
   either way; tests set it to compare the two. Not to be changed while
   another thread multiplies. */
extern int descent_sgemm_swap;

/* How many products the kernel has computed as their transpose since the
   program started, for tests to see that the swapped code ran (the bits
   alone cannot tell). */
extern unsigned long descent_sgemm_swapped;

/* The depth (k steps) of the kernel's packed blocks on this CPU: a sum
   over more k steps is rounded into C once a block. For tests, which cross
   the block boundary. */
size_t sgemm_avx512_depth(void);

/* C = alpha op(A) op(B) + beta C, row-major, cblas_sgemm's semantics (beta ==
   0: C is not read). Up to `threads` OpenMP threads, each computing whole
   tiles of C: every element is summed in the same order whatever the thread
   count. Returns 0, or -1 when its packing buffers could not be allocated
   (nothing is written then). */
int sgemm_avx512(int trans_a, int trans_b, size_t m, size_t n, size_t k, float alpha,
                 const float *a, size_t lda, const float *b, size_t ldb, float beta, float *c,
                 size_t ldc, int threads);

/* What the kernel does to each tile of C right after storing it, while the
   tile is in L1: the work around a dense layer's products that would
   otherwise take a pass of its own over C (a serial one, for a small layer
   on several threads). Every field may be NULL. */
typedef struct sgemm_epilogue {
  /* n values added to each row of C, with alpha 1 and beta 0 only: C =
     op(A) op(B) + bias, rounded as the product onto a C that held the bias
     with beta 1. */
  const float *bias;
  /* relu(C) = max(C, 0) written here too (leading dimension ldc): the
     ReLU that follows a dense layer, while C keeps its input. */
  float *relu;
  /* C's elements where this m x n array (leading dimension ldc) is not
     above 0 are written as 0: ReLU's backward pass onto an input gradient,
     given ReLU's output. */
  const float *mask;
} sgemm_epilogue;

/* sgemm_avx512 with an epilogue (NULL: none); its results are those of the
   product followed by the separate passes, bit for bit. Returns -1 as
   sgemm_avx512 does, and for a bias with alpha other than 1 or beta other
   than 0 (nothing is written then). */
int sgemm_avx512_epilogue(int trans_a, int trans_b, size_t m, size_t n, size_t k, float alpha,
                          const float *a, size_t lda, const float *b, size_t ldb, float beta,
                          float *c, size_t ldc, const sgemm_epilogue *epilogue, int threads);

#endif /* DESCENT_SGEMM_AVX512_H */
