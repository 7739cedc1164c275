/*
 * gemm_buffers.h - the packing buffers of descent's own GEMM kernels
 * (sgemm_avx512.c, sgemm_bf16.c): one pair per thread, kept for the thread's
 * later products and freed when the thread ends.
 */
#ifndef DESCENT_GEMM_BUFFERS_H
#define DESCENT_GEMM_BUFFERS_H

#include <stddef.h>

/* Points *a and *b at the calling thread's buffers, at least a_bytes and
   b_bytes, 64-byte aligned (grown, contents lost, when a call asks for
   more). Returns 0, or -1 when an allocation failed (then nothing is kept).
   The pointers stay valid until the thread's next call or its end. */
int gemm_thread_buffers(size_t a_bytes, size_t b_bytes, void **a, void **b);

#endif /* DESCENT_GEMM_BUFFERS_H */
