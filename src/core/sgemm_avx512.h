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

/* C = alpha op(A) op(B) + beta C, row-major, cblas_sgemm's semantics (beta ==
   0: C is not read). Up to `threads` OpenMP threads, each computing whole
   tiles of C: every element is summed in the same order whatever the thread
   count. Returns 0, or -1 when its packing buffers could not be allocated
   (nothing is written then). */
int sgemm_avx512(int trans_a, int trans_b, size_t m, size_t n, size_t k, float alpha,
                 const float *a, size_t lda, const float *b, size_t ldb, float beta, float *c,
                 size_t ldc, int threads);

#endif /* DESCENT_SGEMM_AVX512_H */
