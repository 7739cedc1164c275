/*
 * layer.h - the interface every layer of a sequential network implements.
 *
 * A layer maps a batch of n inputs of shape `in` to n outputs of shape `out`.
 * Its parameters live in the network's flat buffer at param_offset; it reads
 * them, and writes their gradient, through the pointers the network hands it,
 * so a layer never owns parameter memory. The network keeps every layer's
 * output for the backward pass.
 *
 * Besides parameters a layer may ask for three kinds of memory, all allocated
 * once by the network when it is created (a training step allocates nothing):
 *  - buffers: non-learned state that is part of the model (batch norm's
 *    running mean and variance). They live in the network's flat buffer array
 *    at buffer_offset, are saved with the model and never seen by optimizers.
 *  - scratch: memory the layer keeps from forward to backward (pooling's
 *    argmax, dropout's mask, batch norm's batch statistics), scratch_bytes,
 *    64-byte aligned, its own.
 *  - work: temporary memory used within one forward or backward call (the
 *    convolution's im2col columns), work_bytes; one area, the largest any
 *    layer asks for, is shared by all layers.
 * Layers that draw random numbers (dropout) use the network's RNG, rng, whose
 * state is part of what a checkpoint saves.
 *
 * struct layer holds only what every layer has. What one kind is told by the
 * spec (a dense layer's width, a pooling window, dropout's p) is that kind's
 * configuration: a struct in the kind's own file, config_size bytes that the
 * spec parser allocates in l->config before configure fills them, read
 * through a typed accessor of that file (dense_of, pool_of, ...). Kinds that
 * a program registers (descent_layer_register, layer_kind.c) are layer_ops
 * too, whose functions call the program's callbacks.
 */
#ifndef DESCENT_LAYER_H
#define DESCENT_LAYER_H

#include "core/spec.h"
#include "internal.h"

typedef struct layer layer;

/* Batch norm's synchronization over the replicas of a data-parallel run
   (descent_net_set_batch_norm_sync): one per network, shared by its layers
   through l->sync. */
typedef struct layer_sync {
  descent_sum_fn sum; /* NULL: each replica's own batch */
  void *user;
  /* The first failure of the evaluation under way (net_forward clears it),
     or DESCENT_OK. */
  int status;
} layer_sync;

typedef enum layer_init {
  LAYER_INIT_AUTO,   /* he before relu, glorot otherwise */
  LAYER_INIT_HE,     /* normal, std sqrt(2 / fan_in) */
  LAYER_INIT_GLOROT, /* uniform, limit sqrt(6 / (fan_in + fan_out)) */
  LAYER_INIT_TNORMAL /* normal with std init_std, redrawn beyond 2 std (TF/DeepOBS) */
} layer_init;

/* How dense and conv layers draw their initial weights and biases: the
   init=, std= and bias_init= arguments they share. */
typedef struct layer_weight_init {
  layer_init kind;  /* auto: by the activation that follows */
  double std;       /* of init=tnormal */
  double bias_init; /* initial bias value */
} layer_weight_init;

typedef struct layer_ops {
  const char *name;
  const char *usage; /* e.g. "dense(OUT[, init=he|glorot][, bias=1|0])" */
  /* Bytes of the kind's configuration (its own struct, in its own file):
     the network allocates them zeroed in l->config before configure and
     frees them with the layer. 0: no configuration (l->config is NULL). */
  size_t config_size;
  /* Reads the spec's arguments into l->config. */
  int (*configure)(layer *l, const spec_call *call);
  /* Given l->in and l->max_batch, sets l->out, l->n_params and, where needed,
     l->n_buffers, l->scratch_bytes and l->work_bytes; refuses inputs it
     cannot take. */
  int (*setup)(layer *l);
  /* Names and shapes its tensors (up to LAYER_MAX_TENSORS) in table;
     returns how many. */
  int (*tensors)(const layer *l, descent_tensor_info *table);
  /* Initializes its parameters (and buffers, through l->buffers). next is the
     following layer (NULL if last), used to pick He or Glorot by the
     activation that follows. */
  void (*init)(layer *l, descent_real *params, const layer *next, descent_rng *rng);
  /* y = f(x) for n examples; train selects training behaviour. */
  void (*forward)(layer *l, const descent_real *params, const descent_real *x, descent_real *y,
                  size_t n, int train);
  /* Given dy, writes dparams (overwriting) and, if dx is not NULL, dx. */
  void (*backward)(layer *l, const descent_real *params, const descent_real *x,
                   const descent_real *y, const descent_real *dy, descent_real *dx,
                   descent_real *dparams, size_t n);
  /* Optional. Names and shapes its buffers (up to LAYER_MAX_TENSORS) in
     table; returns how many. */
  int (*buffer_tensors)(const layer *l, descent_tensor_info *table);
  /* Optional. Refuses a batch it cannot process (batch norm in training mode
     needs more than one value per channel). */
  int (*check_batch)(const layer *l, size_t n, int train);
  /* Optional. For a network being created (not for a spec's sizes alone),
     after setup: makes what the layer keeps besides memory (the conv
     layer's oneDNN primitives) in l->backend, or readies what it will call
     (the dense layer: oneDNN's GEMM kernels); release frees it, also after
     a failed prepare, and is called for every layer of a freed network. */
  int (*prepare)(layer *l);
  void (*release)(layer *l);
  /* Optional, for curvature-vector products (network_curvature.c): the
     directional derivative of forward (training mode, with the randomness
     of the forward just run: dropout's mask in scratch) along the input's
     tangent rx and the parameters' tangent vparams (the direction's slice
     at param_offset), written to ry. x and y are forward's input and
     output. A kind without it makes both products refuse the network. */
  void (*jvp)(layer *l, const descent_real *params, const descent_real *vparams,
              const descent_real *x, const descent_real *rx, const descent_real *y,
              descent_real *ry, size_t n);
  /* Optional, for Hessian-vector products: the directional derivative of
     backward (Pearlmutter's R-operator) along the same direction, given
     the output gradient dy and its derivative rdy, the input and output
     tangents rx and ry: writes rdparams (overwriting) and, if rdx is not
     NULL, rdx. */
  void (*rbackward)(layer *l, const descent_real *params, const descent_real *vparams,
                    const descent_real *x, const descent_real *rx, const descent_real *y,
                    const descent_real *ry, const descent_real *dy, const descent_real *rdy,
                    descent_real *rdx, descent_real *rdparams, size_t n);
  /* Optional, for the diagonal of the Gauss-Newton matrix
     (network_diagonal.c): adds to out (n_params values) the squares of
     each example's own parameter gradient given dy (row i: example i's
     output gradient), summed over the n examples. scratch holds
     n x (in_size + out_size) values the kind may use. A kind with
     parameters and without it makes the diagonal refuse the network. */
  void (*add_squared_grads)(layer *l, const descent_real *x, const descent_real *dy,
                            descent_real *out, size_t n, descent_real *scratch);
  /* Optional, for per-example gradients (network_examples.c): given dy,
     the gradient of the batch loss with respect to the output (row i:
     example i's), each example's term of the parameter gradient, d_i (the
     batch gradient is their sum); adds |d_i|^2 to sq[i] and, when vparams
     (the layer's slice of a direction) is not NULL, d_i . vparams to
     dot[i]. The network scales them to the example's own loss (times n^2
     and n) once, after every layer has added its share. Layers whose
     examples are independent (dense, conv) give the exact terms; batch
     norm gives example i's term of its sums over the batch. scratch holds
     n x (in_size + out_size) values the kind may use. A kind with
     parameters and without it makes per-example gradients refuse the
     network. */
  void (*add_example_grads)(layer *l, const descent_real *params, const descent_real *x,
                            const descent_real *dy, const descent_real *vparams, double *sq,
                            double *dot, size_t n, descent_real *scratch);
} layer_ops;

/* The most tensors (or buffer tensors) one layer names. */
#define LAYER_MAX_TENSORS 4

/* What every layer has, whatever its kind; a kind's own settings are in
   config, read through the typed accessor of the kind's file. */
struct layer {
  const layer_ops *ops;
  char name[32]; /* "layer2.dense" */
  void *config;  /* ops->config_size bytes, or NULL; owned (layers_free) */
  descent_shape in, out;
  size_t in_size, out_size; /* elements per example */
  size_t n_params;
  size_t param_offset; /* into the network's flat parameter buffer */
  size_t n_buffers;
  size_t buffer_offset; /* into the network's flat buffer array */
  size_t max_batch;     /* set by the network before setup */
  int work_slots;       /* threads that may work at once; set before setup */
  size_t scratch_bytes, work_bytes;
  /* Memory handed over by the network after setup. */
  descent_real *buffers; /* n_buffers values, or NULL */
  void *scratch;         /* scratch_bytes, or NULL */
  void *work;            /* at least work_bytes, or NULL */
  descent_rng *rng;      /* the network's RNG */
  void *backend;         /* a library's state for the layer (prepare), or NULL */
  int precision;         /* the network's descent_precision (dense, conv products) */
  layer_sync *sync;      /* the network's batch-norm synchronization */
};

/* Finds a layer kind by name, built-in or registered; NULL if unknown. */
const layer_ops *layer_find(const char *name);
/* "dense, relu, tanh, sigmoid, ..." (then the registered kinds) for
   messages. */
void layer_list_names(char *buf, size_t cap);

/* Makes layer l of kind ops, at 1-based position index: its name and its
   zeroed configuration. */
int layer_make(layer *l, const layer_ops *ops, int index);
/* Frees the configurations of count layers, then the array. */
void layers_free(layer *layers, size_t count);

extern const layer_ops layer_dense;
extern const layer_ops layer_relu;
extern const layer_ops layer_tanh;
/* ReLU's passes (activation.c): y = max(x, 0), and dx = dy where y > 0,
   else 0 (dx may be dy), on count values. */
void relu_values(const descent_real *x, descent_real *y, size_t count);
void relu_gradient(const descent_real *y, const descent_real *dy, descent_real *dx, size_t count);
/* A dense layer fused with a ReLU beside it (dense.c), for net_forward and
   the gradient's backward pass; each gives the bits of the two layers run
   one after the other, the ReLU's work done as the product's elements
   leave it where the AVX-512 kernel takes the product
   (descent_gemm_fused), forward in the pass that adds the bias where
   oneDNN takes it, in a pass of its own elsewhere.
   dense_relu_forward: the dense layer followed by a ReLU; writes the dense
   output y and the ReLU's output relu_y.
   dense_backward_after_relu: the backward pass of a dense layer whose input
   x is a ReLU's output, and the ReLU's: writes dparams and dx, the gradient
   of the ReLU's input (x > 0 where the ReLU passed its input on). */
void dense_relu_forward(layer *l, const descent_real *params, const descent_real *x,
                        descent_real *y, descent_real *relu_y, size_t n);
void dense_backward_after_relu(layer *l, const descent_real *params, const descent_real *x,
                               const descent_real *dy, descent_real *dx, descent_real *dparams,
                               size_t n);
extern const layer_ops layer_sigmoid;
extern const layer_ops layer_conv;
/* Whether a conv layer takes the direct kernel (conv_direct.c) for its
   forward pass and for its input gradient, as set up now (tests check that
   the shapes they mean for it do). */
void conv_direct_paths(const layer *l, int *forward, int *input_grad);
/* K-FAC's view of a conv layer (network_kfac.c, Grosse & Martens 2016's
   KFC): its patch size c k k, output channels and output positions per
   example; and, for n examples' inputs x and output gradients dy, the sums
   over the examples and positions of [patch 1][patch 1]^T (a_sq, (ckk +
   bias)^2; the 1 with a bias) and of the output gradients' dy dy^T (g_sq,
   out x out). Uses the layer's work area. */
void conv_kfac_shape(const layer *l, size_t *patch, size_t *out, size_t *positions);
void conv_kfac_squares(layer *l, const descent_real *params, const descent_real *x,
                       const descent_real *dy, size_t n, descent_real *a_sq, descent_real *g_sq);
extern const layer_ops layer_maxpool;
extern const layer_ops layer_avgpool;
/* The window of a maxpool or avgpool layer (tests compare with a
   reference). */
void pool_window(const layer *l, size_t *kernel, size_t *stride, size_t *pad);
extern const layer_ops layer_flatten;
extern const layer_ops layer_batchnorm;
extern const layer_ops layer_dropout;

/* The built-in kinds, in the order messages list them. */
extern const layer_ops *const layer_builtin_kinds[];
extern const int layer_builtin_count;
/* The registered kinds (layer_kind.c): the i-th for i below the count, NULL
   beyond. Safe to call while another thread registers one. */
const layer_ops *layer_registered_kind(int i);

/* True for the activations after which He initialization is the right scale. */
int layer_is_relu(const layer *l);

/* Reads init=, std= and bias_init= (texts: init's text, NULL for auto) into
   w; refuses an unknown initialization of kind `kind` ("dense"). */
int layer_parse_init(layer_weight_init *w, const char *kind, const char *text, double std,
                     double bias_init);
/* Fills count weights with fan_in and fan_out per w's kind, then the bias
   (if any) with w->bias_init. */
void layer_init_weights(const layer_weight_init *w, descent_real *weights, size_t count,
                        size_t fan_in, size_t fan_out, descent_real *bias, size_t bias_count,
                        const layer *next, descent_rng *rng);

/* The (C, H, W) view of an input shape: {C, H, W} as is, {H, W} as one
   channel. Returns 0 for other shapes. */
int layer_image_dims(const descent_shape *s, size_t *c, size_t *h, size_t *w);

/* Element-wise loops are parallel only when large enough to pay for the fork. */
#define LAYER_PARALLEL_MIN 32768
/* The same for a copy, a compare or a multiply per value, which are cheaper
   than waiting for a late partner thread (activation.c says why). */
#define LAYER_PARALLEL_MIN_CHEAP 1048576

#endif /* DESCENT_LAYER_H */
