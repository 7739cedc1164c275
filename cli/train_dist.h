/*
 * train_dist.h - `descent train` across processes: the pieces of its run
 * that concern the ranks together (cli/train_dist.c).
 */
#ifndef DESCENT_CLI_TRAIN_DIST_H
#define DESCENT_CLI_TRAIN_DIST_H

#include <stdio.h>

#include "descent.h"

/* Every rank learns the worst status of all (the ranks go on together or
   stop together; the failing rank printed why); with one process, status. */
int train_dist_agree(int status);

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
