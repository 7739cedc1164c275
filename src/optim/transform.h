/*
 * transform.h - the building block of optimizers.
 *
 * A transform turns an incoming update u (the gradient, for the first one)
 * into an outgoing one, element by element over a block, reading the
 * parameters and its own per-parameter state vectors ("slots"). An optimizer
 * is a chain of transforms; the last one's output is added to the parameters.
 * Because apply() works on blocks, the optimizer runs the whole chain block by
 * block in one pass over memory. A transform that needs a number computed over
 * the whole update first (a global norm) sets `global` and provides reduce()
 * and finish(). One that needs several sums, or sums that read the
 * parameters and its own slots (Prodigy's and D-Adaptation's estimate of the
 * distance to the solution: <g, x0 - x> and ||s||_1), sets `global_sums` and
 * provides reduce_global() and finish_global() instead: the same block-order
 * summation, one partial sum per block and sum.
 *
 * Per-tensor transforms (LAMB's and LARS's trust ratio; later Novograd,
 * Adafactor, the matrix methods) need numbers computed over each tensor of
 * the parameters' layout (descent_optimizer_set_tensors) instead: such a
 * transform sets `per_tensor` to the number of sums it needs per tensor and
 * provides reduce_tensor(), finish_tensor() and apply_tensor(). The
 * optimizer then runs the whole chain on blocks that never straddle two
 * tensors (each tensor is cut into blocks from its own first element), sums
 * reduce_tensor()'s values per slice of at most OPTIMIZER_SLICE numbers, and
 * adds those partial sums per tensor in slice order: the result depends
 * neither on the thread count nor on the block size. finish_tensor() turns
 * the sums into per-tensor values (t->tensor_values) and apply_tensor() gets
 * the index of the tensor its block belongs to. Like a global transform, a
 * per-tensor one starts a new stage of the step (its reduction needs the
 * incoming update of the whole tensor first). A chain without one keeps the
 * flat blocks and the flat step's speed. A per-tensor transform may also
 * keep values per tensor from step to step (`tensor_persist`: Novograd's
 * second moment, one number a tensor), which the optimizer allocates with
 * the layout and saves with the state.
 *
 * Whole-tensor transforms (Muon's orthogonalization; later Adafactor's
 * row and column factors, Shampoo's and SOAP's preconditioners) transform
 * each tensor of the layout as one object (a matrix product, row and column
 * sums, an eigendecomposition), not element by element. Such a transform
 * sets `whole_tensor` and provides apply_whole(), which gets the tensor's
 * incoming update, parameters and slots at the tensor's first element, its
 * index and its descent_tensor_info (the shape), and a work area of the
 * numbers work_size() asked for. It is a stage of its own inside the step:
 * the transforms before it run over every block first (their output in the
 * optimizer's work buffer), then it runs on each tensor in place there, then
 * the transforms after it run over the blocks again. The tensors are spread
 * over the optimizer's threads, each tensor on one thread, and a matrix
 * product inside apply_whole() runs on that one thread (descent_gemm inside
 * a parallel region), so the results do not depend on the thread count. The
 * work areas, one per thread, are allocated when the layout's blocks are
 * cut (at the first step), not per step. check_tensor() refuses a layout
 * with a tensor the transform cannot take (Muon: a bias), with the reason;
 * the optimizer names the tensor and the fix. A chain with a whole-tensor
 * transform steps like a per-tensor one (its layout comes from
 * descent_optimizer_set_tensors or the objective) and is never sharded.
 *
 * A whole-tensor transform may keep state of other sizes than n per tensor
 * (Adafactor's row and column factors, Shampoo's and SOAP's factor matrices
 * and their eigenbases): it gives tensor_state(t, info), the numbers it
 * keeps for a tensor, and the optimizer allocates them for every tensor of
 * the layout when it adopts one (zero until the first step), counts them in
 * its memory, and saves them after the values kept per tensor, with the
 * layout that fixes their sizes (state versions 9 and 10, state.c).
 * apply_whole() finds its tensor's with transform_tensor_state().
 *
 * All state is plain data: the slots (n numbers each), up to
 * TRANSFORM_MAX_PERSIST scalars that carry over from step to step, and the
 * per-tensor values and state above. All are saved by descent_optimizer_save_state; everything else
 * a transform uses is recomputed from its hyperparameters and the step count.
 */
#ifndef DESCENT_TRANSFORM_H
#define DESCENT_TRANSFORM_H

#include "core/spec.h"
#include "schedule.h"

/* The built-ins' limits are those of custom transforms (descent.h). */
#define TRANSFORM_MAX_SLOTS   DESCENT_TRANSFORM_MAX_STATE
#define TRANSFORM_MAX_SCALARS 8
#define TRANSFORM_MAX_PERSIST DESCENT_TRANSFORM_MAX_SCALARS
/* The most sums per tensor a per-tensor transform's reduction makes. */
#define TRANSFORM_MAX_TENSOR_SUMS 4
/* The most values per tensor a per-tensor transform carries over steps. */
#define TRANSFORM_MAX_TENSOR_PERSIST 4

typedef struct transform transform;

typedef struct transform_def {
  const char *name;
  const char *summary; /* one line: what it does, and the PyTorch or paper form it follows */
  const char *formula; /* the update, in the notation of `descent optimizers` */
  const spec_param *params;
  int n_params;
  int has_schedule;   /* 1: the parameter named "lr" is a schedule (SPEC_TEXT); must be last */
  int final;          /* 1: apply() writes the parameters itself; nothing is added after it */
  int slots;          /* per-parameter state vectors (the most; see count_slots) */
  int n_persist;      /* scalars in t->persist that carry over between steps */
  int global;         /* 1: reduce() runs over the whole incoming update first */
  int global_sums;    /* global transforms with reduce_global(): its sums per block (1 to
                         TRANSFORM_MAX_TENSOR_SUMS); 0: reduce() and finish() make one */
  int per_tensor;     /* sums per tensor reduce_tensor() makes (1 to TRANSFORM_MAX_TENSOR_SUMS);
                         0: not a per-tensor transform */
  int whole_tensor;   /* 1: apply_whole() runs on one whole tensor at a time (a stage of its own) */
  int tensor_persist; /* per-tensor transforms: values per tensor that carry over between
                         steps (Novograd's second moment), in t->tensor_persist; saved
                         with the state (at most TRANSFORM_MAX_TENSOR_PERSIST) */
  /* Checks combinations of hyperparameters; NULL if none to check. */
  int (*validate)(const transform *t);
  /* Slots in use for these hyperparameters; NULL: def->slots. */
  int (*count_slots)(const transform *t);
  /* Initial values of t->persist, at creation; NULL: zeros. */
  void (*start)(transform *t);
  /* Once per step, before any apply: per-step values into t->scalar (bias
     corrections, the rate) and updates of t->persist. step counts from 0. */
  void (*begin)(transform *t, int64_t step);
  /* Global transforms: the contribution of one block to the reduction (for
     example its sum of squares), and the whole sum, in block order. */
  double (*reduce)(const transform *t, const descent_real *u, size_t n);
  void (*finish)(transform *t, double total);
  /* Global transforms with global_sums: the sums of one block into
     sums[0, global_sums), reading the incoming update u, the parameters and
     the transform's slots (all at the block's first element; the slots as the
     previous step left them: the reduction runs before this step's apply);
     then the totals, each added in block order. */
  void (*reduce_global)(const transform *t, const descent_real *u, const descent_real *theta,
                        descent_real *const *slots, size_t n, double *sums);
  void (*finish_global)(transform *t, const double *totals);
  /* Per-tensor transforms: the sums of one slice of a tensor (its incoming
     update u and its parameters theta, both at the slice's first element)
     into sums[0, per_tensor); then, once the optimizer has added the slices'
     sums per tensor in slice order into t->tensor_values (per_tensor values
     a tensor, tensor k's at k * per_tensor), finish_tensor() rewrites them in
     place into what apply_tensor() reads. apply_tensor() is apply() on a
     block of the tensor of that index (apply is then NULL). */
  void (*reduce_tensor)(const transform *t, const descent_real *u, const descent_real *theta,
                        size_t n, double *sums);
  void (*finish_tensor)(transform *t, size_t n_tensors);
  void (*apply_tensor)(const transform *t, descent_real *u, descent_real *theta,
                       descent_real *const *slots, size_t n, size_t tensor);
  /* Whole-tensor transforms: the reason a tensor cannot be taken ("it is
     1-D"), or NULL; NULL function: every tensor is taken. */
  const char *(*check_tensor)(const transform *t, const descent_tensor_info *info);
  /* The numbers of work memory apply_whole() needs for a tensor; NULL: none. */
  /* Whole-tensor transforms: the numbers of state kept for a tensor beyond
     the slots, zero before the first step, saved with the state, a function
     of the hyperparameters and the tensor's shape only; NULL: none. */
  size_t (*tensor_state)(const transform *t, const descent_tensor_info *info);
  size_t (*work_size)(const transform *t, const descent_tensor_info *info);
  /* u (the tensor's incoming update, info->size numbers), theta and the
     slots at the tensor's first element; work holds work_size() numbers of
     this thread's own. Writes the outgoing update into u (or, `final`, the
     parameters into theta). init() is not called for a whole-tensor
     transform: its slots start at zero. */
  void (*apply_whole)(const transform *t, descent_real *u, descent_real *theta,
                      descent_real *const *slots, size_t tensor, const descent_tensor_info *info,
                      descent_real *work);
  /* On the first step only, before apply on the same block: initial slot
     values that are not zero (Adagrad's accumulator, schedule-free's z = theta). */
  void (*init)(const transform *t, const descent_real *theta, descent_real *const *slots, size_t n);
  /* u[0, n) <- f(u, theta, slots) on one block: every pointer (theta and each
     slot) already points at the block's first element. Only a `final`
     transform writes theta. */
  void (*apply)(const transform *t, descent_real *u, descent_real *theta,
                descent_real *const *slots, size_t n);
  /* Optional: apply() on the incoming update g, then lr's scaling by
     minus_lr and the add to theta, in one pass (the chain "T, lr" ending a
     step, the common case). The same operations in the same order on each
     element, so the same bits as the three passes; it saves the passes over
     the slice that the memory-bound step otherwise makes in L1. Returns 0,
     having done nothing, for hyperparameters it does not cover. */
  int (*apply_lr_add)(const transform *t, const descent_real *g, descent_real *theta,
                      descent_real *const *slots, size_t n, descent_real minus_lr);
  /* Schedule-free methods (and asgd): move theta between the point where
     gradients are taken and the point that is evaluated. NULL for
     everything else. They write theta only (the slots are read): the
     optimizer keeps the training point during evaluation and runs to_eval
     again on a copy of it to find the parameters the caller left alone, which
     get their kept bits back; to_train is the way back for the others. */
  void (*to_eval)(const transform *t, descent_real *theta, descent_real *const *slots, size_t n);
  void (*to_train)(const transform *t, descent_real *theta, descent_real *const *slots, size_t n);
  /* The effective rate at a step, for has_schedule transforms that modify the
     schedule's value (a built-in warmup); NULL: the schedule's value. */
  double (*rate)(const transform *t, int64_t step);
} transform_def;

struct transform {
  const transform_def *def;
  double hp[SPEC_MAX_ARGS];   /* hyperparameters in def->params order */
  descent_schedule *schedule; /* the rate, for has_schedule transforms */
  double rate_scale; /* has_schedule transforms: the rate is the schedule's value times this
                        (1 unless descent_optimizer_set_lr_scale changed it) */
  int n_slots;       /* slots in use */
  double scalar[TRANSFORM_MAX_SCALARS];     /* per-step values set by begin/finish */
  double persist[TRANSFORM_MAX_PERSIST];    /* values that carry over; saved with the state */
  descent_real *slots[TRANSFORM_MAX_SLOTS]; /* state vectors (owned by the optimizer) */
  double *tensor_values;      /* per-tensor transforms: per_tensor values per tensor, set each step
                                 (owned by the optimizer; not state: recomputed every step) */
  double *tensor_persist;     /* def->tensor_persist values per tensor, tensor k's at
                                 k * tensor_persist, zero at the first step; state, saved with
                                 the layout (owned by the optimizer; NULL until it has one) */
  descent_real *tensor_state; /* def->tensor_state: every tensor's state, in layout order
                                 (owned by the optimizer; NULL until it has a layout) */
  const size_t *tensor_state_at; /* tensor k's state starts at tensor_state + tensor_state_at[k]
                                    (n_tensors + 1 entries, the last the total) */
};

/* Tensor k's state of a transform with def->tensor_state. */
static inline descent_real *transform_tensor_state(const transform *t, size_t tensor) {
  return t->tensor_state + t->tensor_state_at[tensor];
}

/* Looks up a transform by name, built-in or registered; NULL if unknown. */
const transform_def *transform_find(const char *name);
/* The built-in transform of that name; NULL if none. */
const transform_def *transform_find_builtin(const char *name);

/* Registered transforms (custom.c): how many, and the index-th, in the order
   of registration. Entries never change once counted. */
int custom_transform_count(void);
const transform_def *custom_transform_at(int index);

/* theta += (-lr) g, rounded as the chain "lr" and the step's final add:
   plain SGD's whole step in one pass. */
void transform_lr_add(const descent_real *g, descent_real *theta, size_t n, descent_real minus_lr);
/* 1 when t is the lr transform (scale by minus the scheduled rate, kept in
   t->scalar[0] by its begin()). */
int transform_is_lr(const transform *t);
void transform_list_names(char *buf, size_t cap);
void transform_help(FILE *out);
/* The rate a has_schedule transform uses at a step. */
double transform_rate(const transform *t, int64_t step);

#endif /* DESCENT_TRANSFORM_H */
