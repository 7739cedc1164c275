/*
 * train_dist.h - `descent train` across processes: the pieces of its run
 * that concern the ranks together (cli/train_dist.c).
 */
#ifndef DESCENT_CLI_TRAIN_DIST_H
#define DESCENT_CLI_TRAIN_DIST_H

#include <stdint.h>
#include <stdio.h>

#include "descent.h"

/* Every rank learns the worst status of all (the ranks go on together or
   stop together; the failing rank printed why); with one process, status. */
int train_dist_agree(int status);

/* The environment's switches for a run across processes, read once, before
   anything else (each rank reads its own: mpirun -x passes them on). */
typedef struct train_dist_env {
  /* DESCENT_FAULT_NAN=STEP,RANK (a test of the guard across ranks): at
     update nan_step (from 1; 0: never) rank nan_rank's gradient gets a NaN */
  int64_t nan_step;
  int nan_rank;
  /* DESCENT_FAULT_DESYNC=RANK (a test of the replica check): that rank's
     first parameter moves before the check; -1: none */
  int desync_rank;
} train_dist_env;

/* Reads the fault hooks above and checks DESCENT_MPI_SHARED (0: MPI's
   all-reduce; 1 or unset: memory the processes share, where they can).
   Returns 0, or 1 (after one line, when speak, naming the variable, its
   value and what it takes: a misspelt switch would otherwise be ignored,
   or, for a fault, aim at rank 0). Not collective. */
int train_dist_read_env(train_dist_env *env, int speak);

/* train_dist_read_env on every rank, agreed: 0, or 1 when any rank's
   environment is wrong, said once (by rank 0, or by the ranks whose
   environment alone is wrong). Collective. */
int train_dist_read_env_agreed(train_dist_env *env);

/* Rank 0's parameters for every rank, and the check that every rank holds
   the same training set. Returns 0, or 1 after rank 0 printed why. */
int train_dist_share_start(descent_net *net, const descent_dataset *train);

/* After training: 0 when every rank holds the same parameters, as the
   reductions promise; 1, after rank 0 said so, when they differ (the job's
   outcome, agreed by all). Collective. */
int train_dist_check_replicas(const descent_objective *obj);

/* The configuration's lines about the processes: their number and MPI, the
   reduction (batch: the global batch; fixed: --reduction fixed over shards
   micro-batches; shared: the fast sum goes through memory the processes
   share), synchronized batch norm, the optimizer state each holds. Nothing
   for one process with the fast reduction. */
void train_dist_describe(FILE *f, size_t batch, int fixed, size_t shards, int shared, int zero,
                         int sync_bn, const descent_optimizer *opt);

#endif /* DESCENT_CLI_TRAIN_DIST_H */
