/*
 * dp_objective.h - data-parallel training: a network objective whose every
 * evaluation is that of the whole global batch, computed by all the ranks of
 * the job (dist.h) together. Handed to an ordinary trainer, it makes every
 * rank's trainer take the same steps.
 *
 * Each rank computes its shard of each batch: rows of the global batch
 * (which, its order and its content, does not depend on the number of
 * ranks: every rank's batcher draws the same one). Two reductions:
 *   fast   one shard per rank; each rank's mean gradient, weighted by its
 *          share of the batch, summed in the precision of the parameters:
 *          when every rank runs on one machine, through memory they share
 *          (an MPI-3 window the backward passes write into; rank order, the
 *          same bits on every run); otherwise by MPI's all-reduce (MPI's
 *          order: the last bits may vary from run to run and with the
 *          number of ranks). Two ranks get the same bits either way.
 *   fixed  the batch is cut into S micro-batches (S a multiple of the number
 *          of ranks N with S / N a power of two); each rank computes its S / N
 *          consecutive ones, each micro-batch's gradient times its size is
 *          summed in double in one fixed binary tree over the S of them (a
 *          node splits its items at the largest power of two below their
 *          count, so each rank's block is a subtree), by an all-to-all and an
 *          all-gather of doubles, then divided by the batch size. N ranks
 *          give the bits of one process with the same S, for every N that
 *          divides S so.
 * Batch norm takes each shard's (micro-batch's) own statistics, as PyTorch's
 * DistributedDataParallel does per rank; the running statistics follow the
 * first shard only (rank 0's, which DDP broadcasts), so they do not depend
 * on N either. Dropout draws each shard's masks from the network's RNG at
 * the step's start and the shard's index (fixed: the micro-batch's), and
 * every rank's RNG then moves to the same next state.
 */
#ifndef DESCENT_CLI_DP_OBJECTIVE_H
#define DESCENT_CLI_DP_OBJECTIVE_H

#include <signal.h>
#include <stdint.h>

#include "descent.h"

typedef struct dp_options {
  /* 0: the fast reduction. >= 1: the fixed one over this many micro-batches
     (a multiple of dist_size() whose quotient is a power of two). */
  int shards;
  /* Set by a signal on this rank (NULL: none). A stop requested on any rank
     sets *stop_agreed on every rank during the same step's reduction, so
     every trainer stops after the same step (hand stop_agreed to the
     trainer as options.stop). */
  volatile sig_atomic_t *stop_requested, *stop_agreed;
  /* 1: the optimizer state is sharded (ZeRO stage 1): the gradient is
     reduce-scattered, each rank gets its shard's sums (the rest of its
     gradient is zero) and steps its shard (dp_objective_shard_optimizer),
     and the parameters are all-gathered after each update
     (dp_objective_gather_parameters). Needs 2 or more processes. */
  int zero;
  /* The fast reduction (without zero) starts summing the gradient of the
     last layers while the backward pass computes the first ones (as PyTorch's
     DDP): in buckets of at least this many bytes, each an MPI_Iallreduce.
     0: one sum once the backward pass is done (through shared memory when
     every rank runs on one machine). */
  size_t bucket_bytes;
  /* 1: batch norm takes its statistics over the whole global batch, summed
     over the ranks (PyTorch's SyncBatchNorm); 0: each shard's own. With the
     fixed reduction it needs one micro-batch per process. */
  int sync_bn;
  /* Its steps name the step in a watchdog's message and the fault below. */
  const descent_optimizer *opt;
  /* Testing the guard across ranks: at update nan_step (counted from 1;
     0: never) rank nan_rank's own gradient gets a NaN before the sum. */
  int64_t nan_step;
  int nan_rank;
} dp_options;

/* What the reductions cost this rank so far. */
typedef struct dp_traffic {
  double bytes;        /* sent (as much received) by the bandwidth-optimal algorithms
                          (ring all-reduce; all-to-all then all-gather): 2 (N - 1) / N
                          times each reduction's bytes; 0 with one process */
  double seconds;      /* spent in the collectives, waiting for the slowest rank included */
  int64_t evaluations; /* reductions (one per step for a chain; more for lbfgs) */
  int shared;          /* 1: the fast sum goes through memory the ranks share (one
                          machine); bytes then counts what a rank reads from the
                          others' memory */
} dp_traffic;

void dp_objective_traffic(const descent_objective *obj, dp_traffic *t);

/* Checks a fixed reduction's shard count against the job's size: 0, or -1
   with a message naming the valid counts (descent_last_error). */
int dp_check_shards(int shards, int size);

/* The objective over net (not owned: keep it alive). Free with
   dp_objective_free. */
int dp_objective_create(descent_objective **out, descent_net *net, const dp_options *o);
void dp_objective_free(descent_objective *obj);

/* With zero: restricts opt to this rank's shard (descent_optimizer_set_
   shard, its state gathered over the ranks when saved), before the trainer
   is made; and gathers every rank's shard of the parameters after each
   update (the trainer's after_step). */
int dp_objective_shard_optimizer(descent_objective *obj, descent_optimizer *opt);
int dp_objective_gather_parameters(descent_objective *obj);

#endif /* DESCENT_CLI_DP_OBJECTIVE_H */
