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
/* Room for the spec text and its expanded chain, with the NUL; a longer spec
   is refused. */
#define OPTIMIZER_MAX_TEXT 512

struct descent_optimizer {
  size_t n; /* parameters */
  int n_transforms;
  transform chain[OPTIMIZER_MAX_CHAIN];
  descent_real *state;           /* every transform's slots, shard_count each, one allocation */
  descent_real *work;            /* n numbers between stages, if a global transform is not first */
  double *partials;              /* per-block sums of a global reduction, if any */
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

/* The transform that takes the rate: the chain's last. */
static inline transform *optimizer_rate_transform(const descent_optimizer *opt) {
  return (transform *)&opt->chain[opt->n_transforms - 1];
}

#endif /* DESCENT_OPTIMIZER_H */
