/*
 * conv_direct.h - the direct convolution kernel (conv_direct.c) that conv.c
 * uses for stride-1 layers whose output channels come in blocks of 8
 * (vectorized over the channels when they come in blocks of 16).
 */
#ifndef DESCENT_CONV_DIRECT_H
#define DESCENT_CONV_DIRECT_H

#include "internal.h"

/* The smallest block of output channels the kernel takes: the row kernel's
   8 channels by up to three rows (24 accumulators). Multiples of 16 take the
   channel-vectorized kernel, in blocks of 2 or 1 vectors. */
#define CONV_DIRECT_BLOCK 8
/* Reals the kernel may read past the end of its input planes (one vector). */
#define CONV_DIRECT_SLACK (64 / sizeof(descent_real))

/* 1 when conv.c should take the kernel: conv_direct_enabled asks for it
   and the CPU runs it. conv_direct_enabled is 1 by default: the kernel
   serves on the avx512 path (src/core/isa.c; on narrower vector units it
   spills and im2col + GEMM is far faster); 0 turns it off and 2 forces it
   wherever the CPU can run it, so that tests check it whatever the path and
   benchmarks can time it. Not to be changed while a network runs. */
int conv_direct_available(void);
extern int conv_direct_enabled;

/* out[o][i][j] = bias[o] + sum over c, a, b of W[o][c][a][b] in[c][i + a][j + b]
   for o < n_out (a multiple of CONV_DIRECT_BLOCK), i < ho, j < wo: a stride-1
   correlation of n_in planes of hp x wp (already padded; CONV_DIRECT_SLACK
   readable reals after the last) with k x k kernels. The weights come in the
   order the kernel reads them: wt[((o / B) (n_in k k) + (c k + a) k + b) B +
   o % B] = W[o][c][a][b], B the block of n_out's kernel (two vectors of
   reals, 32 floats or 16 doubles, where they divide n_out, else one where it
   is a multiple of 16, else CONV_DIRECT_BLOCK): conv_direct_pack. bias may
   be NULL. */
/* Packs W (n_out x n_in x k x k) into that order. */
void conv_direct_pack(const descent_real *w, size_t n_out, size_t n_in, size_t k, descent_real *wt);

void conv_direct(const descent_real *in, size_t n_in, size_t hp, size_t wp, const descent_real *wt,
                 size_t n_out, const descent_real *bias, size_t k, size_t ho, size_t wo,
                 descent_real *out);

#endif /* DESCENT_CONV_DIRECT_H */
