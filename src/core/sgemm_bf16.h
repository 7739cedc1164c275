/*
 * sgemm_bf16.h - the mixed-precision matrix product of bf16 training
 * (descent_net_set_precision): float matrices in memory, rounded to bfloat16
 * as they are packed, products summed in float, as PyTorch's autocast to
 * bfloat16 runs a matmul on the CPU. sgemm_bf16 uses AVX512_BF16's dot
 * product instruction; sgemm_bf16_reference is its portable scalar
 * reference, for tests.
 */
#ifndef DESCENT_SGEMM_BF16_H
#define DESCENT_SGEMM_BF16_H

#include <stddef.h>

/* x rounded to the nearest bfloat16 (8 significant bits), ties to even, as
   PyTorch's float-to-bfloat16 cast; NaN stays NaN. Returned as the float of
   equal value. */
float sgemm_bf16_round(float x);

/* 1 when this CPU has AVX512_BF16 (with AVX-512F, BW and VL), whatever the
   kernel path. */
int sgemm_bf16_cpu(void);

/* 1 when sgemm_bf16 may be called: the kernel is compiled in, the CPU has
   AVX512_BF16 and the run-time kernel path (src/core/isa.c) is avx512. */
int sgemm_bf16_available(void);

/* C = alpha op(A) op(B) + beta C, row-major, cblas_sgemm's argument order
   (beta == 0: C is not read), with every element of op(A) and op(B) rounded
   to bf16 and the products summed in float; with round_c, each element of C
   is rounded to bf16 once its sum is complete (autocast's bf16 output).
   Inputs and products below float's normal range count as zero (the
   instruction's DAZ and FTZ). Up to `threads` OpenMP threads, each computing
   whole tiles of C: every element is summed in the same order whatever the
   thread count. Returns 0, or -1 when its packing buffers could not be
   allocated (nothing is written then). */
int sgemm_bf16(int trans_a, int trans_b, size_t m, size_t n, size_t k, float alpha, const float *a,
               size_t lda, const float *b, size_t ldb, float beta, float *c, size_t ldc,
               int round_c, int threads);

/* The same product by the definition: each element of op(A) and op(B)
   rounded by sgemm_bf16_round, the products (exact in float) summed in
   double, then alpha, beta and, with round_c, the rounding of C. */
void sgemm_bf16_reference(int trans_a, int trans_b, size_t m, size_t n, size_t k, float alpha,
                          const float *a, size_t lda, const float *b, size_t ldb, float beta,
                          float *c, size_t ldc, int round_c);

#endif /* DESCENT_SGEMM_BF16_H */
