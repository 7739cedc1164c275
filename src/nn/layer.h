/*
 * layer.h - the interface every layer of a sequential network implements.
 *
 * A layer maps a batch of n inputs of shape `in` to n outputs of shape `out`.
 * Its parameters live in the network's flat buffer at param_offset; it reads
 * them, and writes their gradient, through the pointers the network hands it,
 * so a layer never owns parameter memory. The network keeps every layer's
 * output for the backward pass.
 */
#ifndef DESCENT_LAYER_H
#define DESCENT_LAYER_H

#include "core/spec.h"
#include "internal.h"

typedef struct layer layer;

typedef enum layer_init { LAYER_INIT_AUTO, LAYER_INIT_HE, LAYER_INIT_GLOROT } layer_init;

typedef struct layer_ops {
  const char *name;
  const char *usage; /* e.g. "dense(OUT[, init=he|glorot][, bias=1|0])" */
  /* Reads the spec's arguments into the layer's config. */
  int (*configure)(layer *l, const spec_call *call);
  /* Given l->in, sets l->out and l->n_params; refuses inputs it cannot take. */
  int (*setup)(layer *l);
  /* Names and shapes its tensors (up to 4) in table; returns how many. */
  int (*tensors)(const layer *l, descent_tensor_info *table);
  /* Initializes its parameters. next is the following layer (NULL if last),
     used to pick He or Glorot by the activation that follows. */
  void (*init)(layer *l, descent_real *params, const layer *next, descent_rng *rng);
  /* y = f(x) for n examples; train selects training behaviour. */
  void (*forward)(layer *l, const descent_real *params, const descent_real *x, descent_real *y,
                  size_t n, int train);
  /* Given dy, writes dparams (overwriting) and, if dx is not NULL, dx. */
  void (*backward)(layer *l, const descent_real *params, const descent_real *x,
                   const descent_real *y, const descent_real *dy, descent_real *dx,
                   descent_real *dparams, size_t n);
} layer_ops;

struct layer {
  const layer_ops *ops;
  char name[32]; /* "layer2.dense" */
  descent_shape in, out;
  size_t in_size, out_size; /* elements per example */
  size_t n_params;
  size_t param_offset; /* into the network's flat buffer */
  /* Configuration, by kind (unused fields stay zero). */
  size_t units;         /* dense: outputs */
  int bias;             /* dense: has a bias */
  layer_init init_kind; /* dense: initialization */
};

/* Finds a layer kind by name; NULL if unknown. */
const layer_ops *layer_find(const char *name);
/* "dense, relu, tanh, sigmoid" for messages. */
void layer_list_names(char *buf, size_t cap);

extern const layer_ops layer_dense;
extern const layer_ops layer_relu;
extern const layer_ops layer_tanh;
extern const layer_ops layer_sigmoid;

/* True for the activations after which He initialization is the right scale. */
int layer_is_relu(const layer *l);

#endif /* DESCENT_LAYER_H */
