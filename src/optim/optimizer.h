/*
 * optimizer.h - the optimizer object, shared by optimizer.c (building and
 * stepping) and state.c (saving and loading its state).
 */
#ifndef DESCENT_OPTIMIZER_H
#define DESCENT_OPTIMIZER_H

#include "method.h"
#include "transform.h"

#define OPTIMIZER_MAX_CHAIN 16
/* Elements per block of the step (optimizer.c): the unit of its threads'
   schedule and of a global reduction's partial sums. */
#define OPTIMIZER_BLOCK 2048
/* Elements per pass of the chain within a block (optimizer.c), and the unit
   of a per-tensor reduction's partial sums (layout.c). */
#define OPTIMIZER_SLICE 512
/* A step splits its blocks over the threads only from this many blocks
   (optimizer.c says why). */
#define OPTIMIZER_PARALLEL_BLOCKS 128
/* Room for the spec text and its expanded chain, with the NUL; a longer spec
   is refused. */
#define OPTIMIZER_MAX_TEXT 512

/* One block of the step of a chain with a per-tensor transform (layout.c):
   inside one tensor, starting at the tensor's first element or a multiple
   of the block size after it. */
typedef struct optimizer_block {
  size_t lo, count;   /* the elements [lo, lo + count) */
  size_t tensor;      /* its tensor's index in the layout */
  size_t first_slice; /* its first slice's index among every tensor's slices */
} optimizer_block;

struct descent_optimizer {
  size_t n; /* parameters */
  int n_transforms;
  transform chain[OPTIMIZER_MAX_CHAIN];
  descent_real *state;           /* every transform's slots, shard_count each, one allocation */
  descent_real *work;            /* n numbers between stages, if a global transform is not first */
  double *partials;              /* per-block sums of a global reduction, if any */
  int partial_sums;              /* sums per block in partials: the most a global transform makes */
  int64_t step;                  /* updates taken */
  int eval_mode;                 /* 1 between descent_optimizer_eval and descent_optimizer_train */
  int full_batch;                /* 1 for gd: meant to see the whole training set per step */
  double spec_base_lr;           /* the base rate the spec gave (descent_optimizer_set_base_lr) */
  int threads;                   /* threads of each call, 0: the caller's */
  char spec[OPTIMIZER_MAX_TEXT]; /* the spec as given */
  char expanded[OPTIMIZER_MAX_TEXT]; /* the chain it expanded to (equal to spec for a chain) */
  /* A method (method.h): its definition, hyperparameters and state; NULL
     for a chain of transforms. The chain then holds only lr. */
  const method_def *method;
  double method_hp[METHOD_MAX_PARAMS];
  method_state *method_state;
  /* ZeRO-1 (descent_optimizer_set_shard, shard.c): the parameters
     [shard_offset, shard_offset + shard_count) this optimizer steps and holds
     state for; 0 and n for one that is not sharded. gather, set once
     sharded, joins the replicas' pieces of a state vector for save_state. */
  size_t shard_offset, shard_count;
  descent_allgather_fn gather;
  void *gather_user;
  /* Schedule-free and any transform with two points: the training point
     (the parameters where gradients are taken), shard_count numbers, kept by
     descent_optimizer_eval so that descent_optimizer_train puts back the
     same bits (held_valid 1) rather than a rounded inverse of the move.
     Allocated at the first eval; saved with the state in evaluation mode. */
  descent_real *held;
  int held_valid;
  /* The layout (layout.c): the tensors over the parameters, copied from
     descent_optimizer_set_tensors or the objective; n_tensors 0 until one is
     set. A chain with a per-tensor transform (per_tensor = 1) steps on
     blocks cut at the tensors' boundaries, built at its first step with
     block_size elements each, and sums its reductions per slice into
     slice_sums (n_slices x TRANSFORM_MAX_TENSOR_SUMS); tensor_slices[k] is
     tensor k's first slice (n_tensors + 1 entries). */
  descent_tensor_info *tensors;
  size_t n_tensors;
  int per_tensor;
  size_t block_size;
  optimizer_block *blocks;
  size_t n_blocks, n_slices;
  size_t *tensor_slices;
  double *slice_sums;
  double *tensor_values; /* every per-tensor transform's values, one allocation */
  /* Whole-tensor transforms' work areas (layout.c): work_threads areas of
     work_size numbers each, one per thread, allocated with the blocks. */
  descent_real *whole_work;
  size_t work_size;
  int work_threads;
  /* A group's child (groups.c): tensor k of its compact layout lies at
     tensors[k].offset + tensor_shift[k] in the buffers it steps; NULL for
     every other optimizer (no shift). */
  size_t *tensor_shift;
  /* Parameter groups (groups.c): the groups of a spec with '@', each a
     child optimizer; NULL for every other optimizer. A grouped optimizer
     has no chain of its own (n_transforms 0). */
  struct optimizer_groups *groups;
  /* Every per-tensor transform's values kept from step to step
     (tensor_persist per tensor each, in chain order), one allocation made
     with the layout, zero until the first step; saved with the state
     (versions 7 and 8). NULL while there is no layout or none to keep. */
  double *tensor_persist;
  /* Whole-tensor transforms' state of their own sizes (def->tensor_state):
     every tensor's, of every such transform in chain order, one allocation
     of tensor_state_count numbers made with the layout, zero until the
     first step; saved with the state (versions 9 and 10). tensor_state_at
     holds n_tensors + 1 offsets per such transform, in chain order. NULL
     while there is no layout or no such transform. */
  descent_real *tensor_state;
  size_t tensor_state_count;
  size_t *tensor_state_at;
};

/* 1 when a transform of the chain has an evaluation point of its own
   (to_eval/to_train: schedule-free). */
int optimizer_has_eval_point(const descent_optimizer *opt);

/* The canonical text of the chain alone, e.g. "adam(b1=0.9, ...) | lr(lr=0.001)":
 * what descent_optimizer_describe prints after "NAME = ", and what the saved
 * state is matched against. Returns the length it wanted. */
size_t optimizer_describe_chain(const descent_optimizer *opt, char *buf, size_t cap);

/* 1 when name is a named optimizer ("adam") or a method ("lbfgs"), which a
   transform may not be called. */
int optimizer_is_named(const char *name);

/* Builds a method optimizer from spec when its first item names a method
   (*handled = 1), leaving lr's transform to be parsed from the text put in
   chain and the rate's text in *lr_text; *handled = 0 otherwise. */
int method_parse(descent_optimizer *opt, const char *spec, const char *lr, char *chain,
                 size_t chain_cap, const char **lr_text, char *lr_buf, size_t lr_cap, int *handled);

/* Points every transform's slots into opt->state, shard_count numbers each,
   in chain and slot order (the order of the state blob). */
void optimizer_point_slots(descent_optimizer *opt);

/* The slots of the whole chain: the state vectors, each shard_count long. */
int optimizer_slot_count(const descent_optimizer *opt);

/* Runs transforms [first, last) over one slice of at most OPTIMIZER_SLICE
   numbers starting at `at`, inside tensor `tensor` (0 for a flat chain):
   reads the update from src, and either writes it to dst or, when dst is
   NULL, adds it to theta unless the last transform has written theta
   itself. */
void optimizer_run_slice(descent_optimizer *opt, int first, int last, size_t at, size_t count,
                         size_t tensor, const descent_real *src, descent_real *dst,
                         descent_real *theta);

/* 1 when a transform must see the whole incoming update (or the whole
   tensor) before it runs: a global or a per-tensor transform, which starts a
   stage of the step. */
static inline int transform_needs_reduction(const transform_def *def) {
  return def->global || def->per_tensor;
}

/* 1 when a transform starts a stage of the step: it needs a reduction
   first, or it works on whole tensors. */
static inline int transform_starts_stage(const transform_def *def) {
  return transform_needs_reduction(def) || def->whole_tensor;
}
/* ---- the layout (layout.c) ---- */

/* Makes the layout ready for a step of a per-tensor chain: adopts the
   objective's table (obj_tensors, obj_count; none: one tensor of n) when
   none is set, refuses an objective whose table differs from the one set,
   and cuts the blocks at the first step. */
int optimizer_layout_prepare(descent_optimizer *opt, const descent_tensor_info *obj_tensors,
                             size_t obj_count);
/* One step of a per-tensor chain on the whole buffers (never sharded),
   after every transform's begin(). */
void optimizer_step_tensors(descent_optimizer *opt, descent_real *params, const descent_real *grad);
/* A loaded state's layout: refused (with a message) when this optimizer
   has another; checked against its parameter count when it has none. Then,
   once every check of the load has passed, taken when it has none. */
int optimizer_layout_check_saved(const descent_optimizer *opt, const descent_tensor_info *saved,
                                 size_t count);
int optimizer_layout_take_saved(descent_optimizer *opt, const descent_tensor_info *saved,
                                size_t count);
/* The values per tensor the chain keeps from step to step (the sum of its
   transforms' tensor_persist); 0 for most chains. */
int optimizer_tensor_persist_per_tensor(const descent_optimizer *opt);
/* 1 when a transform of the chain keeps state of its own size per tensor
   (def->tensor_state). */
int optimizer_has_tensor_state(const descent_optimizer *opt);
/* The numbers of that state the chain keeps for a table of tensors, into
 *total; refuses a size that overflows. */
int optimizer_tensor_state_size(const descent_optimizer *opt, const descent_tensor_info *tensors,
                                size_t count, size_t *total);
/* Frees what the layout holds. */
void optimizer_layout_free(descent_optimizer *opt);
/* Bytes the layout's step buffers and the values kept per tensor hold. */
size_t optimizer_layout_bytes(const descent_optimizer *opt);
/* Sets the block size of a per-tensor chain's step (a multiple of
   OPTIMIZER_SLICE), before its first step; for tests, which check that the
   results do not depend on it. */
int optimizer_set_block_size(descent_optimizer *opt, size_t block_size);

/* descent_optimizer_eval / _train for a group's child (groups.c): its
   tensors moved in place in the whole buffer params, at their shifts. */
int optimizer_switch_shifted(descent_optimizer *opt, descent_real *params, int to_eval);

/* The transform that takes the rate: the chain's last. */
static inline transform *optimizer_rate_transform(const descent_optimizer *opt) {
  return (transform *)&opt->chain[opt->n_transforms - 1];
}

#endif /* DESCENT_OPTIMIZER_H */
