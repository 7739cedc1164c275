/*
 * conv_dnnl.h - oneDNN's convolutions behind descent's conv layer
 * (conv_dnnl.c): the forward pass, the weight and bias gradient and the input
 * gradient of one group of examples on one thread, from and to descent's
 * NCHW float tensors.
 */
#ifndef DESCENT_CONV_DNNL_H
#define DESCENT_CONV_DNNL_H

#include "internal.h"

/* oneDNN computes in float: the double build keeps descent's own code. */
#if defined(DESCENT_HAVE_DNNL) && !defined(DESCENT_DOUBLE)
#define CONV_DNNL 1
#else
#define CONV_DNNL 0
#endif

/* A layer's oneDNN primitives, their layouts' buffers and one work slot per
   thread. */
typedef struct conv_dnnl conv_dnnl;

/* The convolution's sizes: PyTorch's Conv2d with square kernels, symmetric
   zero padding; group examples per call. */
typedef struct conv_dnnl_shape {
  size_t c, h, w, o, k, stride, pad, group;
  int bias;
} conv_dnnl_shape;

/* Which operations oneDNN serves for a layer, by the measurements in
   conv_dnnl.c. */
typedef struct conv_dnnl_ops {
  int forward, weights, input_grad;
} conv_dnnl_ops;

/* 1 when conv.c should hand operations to oneDNN: the library was built
   with it, conv_dnnl_enabled asks for it and the run-time path is avx512 or
   avx2 (the portable path keeps descent's own code). conv_dnnl_enabled is 1
   by default; 0 turns oneDNN off, so that tests and benchmarks can compare
   it with descent's own kernels. Not to be changed while a network runs. */
int conv_dnnl_available(void);
extern int conv_dnnl_enabled;

/* The operations oneDNN would serve for shape s (all 0 when unavailable). */
conv_dnnl_ops conv_dnnl_choose(const conv_dnnl_shape *s);

#if CONV_DNNL
/* Makes the primitives for groups of s->group examples and slots threads;
   caps oneDNN at the path's instruction set on first use. Fails with a
   message (out of memory, oneDNN refusing the shape, oneDNN already running
   a wider instruction set in this process than the path allows). */
int conv_dnnl_create(conv_dnnl **out, const conv_dnnl_shape *s, int slots);
void conv_dnnl_free(conv_dnnl *d);
/* The operations d was made to serve. */
conv_dnnl_ops conv_dnnl_served(const conv_dnnl *d);

/* Reorders the weights into the layouts the primitives read: once per pass,
   before the groups, outside any parallel region. bias may be NULL when the
   layer has none. */
void conv_dnnl_set_weights(conv_dnnl *d, const float *w, const float *bias);

/* One group of m <= group examples on the calling thread, in work slot
   `slot`: y = conv(x) + bias. */
void conv_dnnl_forward(conv_dnnl *d, int slot, const float *x, float *y, size_t m);
/* The group's weight gradient dw (o x c x k x k) and bias gradient db (o,
   unless the layer has none), overwritten; and, when dx is not NULL, the
   input gradient (oneDNN must serve it: conv_dnnl_choose). */
void conv_dnnl_backward(conv_dnnl *d, int slot, const float *x, const float *dy, float *dx,
                        float *dw, float *db, size_t m);

#endif /* CONV_DNNL */

#endif /* DESCENT_CONV_DNNL_H */
