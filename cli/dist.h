/*
 * dist.h - the processes of one run: the MPI job when descent is built with
 * MPI and started by a launcher (mpirun, mpiexec, srun), else a group of
 * one process.
 *
 * This is the one place that knows MPI. dist_mpi.c implements it with the
 * plain MPI-3 C API (Open MPI and MPICH alike); dist_single.c is the group
 * of one of a build without MPI, where every collective is the identity.
 * Everything above (data-parallel training, sweeps across ranks) calls these
 * functions and never includes <mpi.h>.
 *
 * Collectives are called by every rank in the same order, from the thread
 * that called dist_start (MPI_THREAD_FUNNELED: OpenMP threads never call
 * MPI). Counts are in elements and may exceed INT_MAX (they are split).
 * A failing collective prints one line naming the operation and the rank and
 * ends the whole job (MPI_Abort): after a failed collective the ranks no
 * longer agree on anything, and a rank that went on alone would hang the
 * others.
 */
#ifndef DESCENT_CLI_DIST_H
#define DESCENT_CLI_DIST_H

#include <stddef.h>
#include <stdint.h>

#include "descent.h"

/* Starts MPI when the process was started by an MPI launcher (its
   environment says so: OMPI_COMM_WORLD_SIZE, PMI_SIZE, PMIX_RANK, ...) and
   the build has MPI; otherwise the group of one. Call once, first thing in
   main. Returns 0, or -1 after printing why (a launcher's environment in a
   build without MPI with more than one process, an MPI_Init failure). */
int dist_start(int *argc, char ***argv);
/* Ends MPI if started (MPI_Finalize). */
void dist_finish(void);

/* This process's rank in [0, dist_size()), and the number of processes. */
int dist_rank(void);
int dist_size(void);
/* 1 when MPI was started (even with one process), 0 for the group of one
   of a plain start. */
int dist_active(void);
/* The processes of this job on this machine (1 for the group of one): how
   many share its cores. */
int dist_local_size(void);
/* This machine's name, as the ranks report it. */
const char *dist_host(void);
/* 1 when an environment entry ("NAME=VALUE") is one a launcher sets for its
   ranks (OMPI_*, PMIX_*, PMI_*, ...): dist_start reads these, and a child
   process that must run alone (a sweep's trial) is started without them. */
int dist_launcher_variable(const char *entry);
/* 1 when this process's environment says a launcher started it. */
int dist_launched(void);
/* The MPI library's own version line ("Open MPI v4.1.4, ...", MPI_Get_
   library_version's first line) and the standard's version ("3.1"), or NULL
   when descent is built without MPI. */
const char *dist_library(void);
const char *dist_standard(void);

/* Every rank gets root's bytes. */
void dist_broadcast(void *buf, size_t bytes, int root);
/* In-place sums over the ranks; every rank gets the result. The reduction
   order is MPI's: fast, but not fixed (see dist_reduce_fixed). */
void dist_sum_real(descent_real *buf, size_t n);
void dist_sum_double(double *buf, size_t n);
/* Every rank gets the largest (smallest) of the ranks' values. */
double dist_max_double(double value);
int64_t dist_min_i64(int64_t value);
int64_t dist_max_i64(int64_t value);
/* out[rank * n, (rank + 1) * n) <- each rank's in[0, n) (MPI_Allgather);
   out holds size * n values. */
void dist_gather_double(const double *in, double *out, size_t n);
void dist_gather_real(const descent_real *in, descent_real *out, size_t n);
/* MPI_Alltoall of doubles: rank r sends in[s * n, (s + 1) * n) to rank s and
   gets rank s's block for r in out[s * n, (s + 1) * n). */
void dist_exchange_double(const double *in, double *out, size_t n);
/* Blocks of varying size, counts[s] values for rank s (the counts agree on
   every rank): dist_sum_scatter_real sums in[0, n) (n the counts' total)
   over the ranks and gives this rank its block's sums in out (MPI_Reduce_
   scatter); dist_gatherv_real gives every rank out[0, n), the ranks' pieces
   in rank order (MPI_Allgatherv). in and out must not overlap. */
void dist_sum_scatter_real(const descent_real *in, descent_real *out, const size_t *counts);
void dist_gatherv_real(const descent_real *in, descent_real *out, const size_t *counts);
void dist_barrier(void);

/* Sums started now and finished later (MPI_Iallreduce), to overlap a
   reduction with the computation still to come (the backward pass of the
   layers below): dist_sum_real_start starts summing buf[0, n) in place over
   the ranks (every rank starts the same sums in the same order; n fits an
   int), dist_progress lets MPI move the started ones along (MPI progresses
   them only inside its calls), dist_wait_all waits for all of them. At most
   DIST_MAX_STARTED at once: the next start waits for the oldest. */
enum { DIST_MAX_STARTED = 64 };
void dist_sum_real_start(descent_real *buf, size_t n);
void dist_progress(void);
void dist_wait_all(void);

/* Memory the ranks share when all of them run on one machine: an MPI-3
   shared-memory window of `blocks` blocks of n values per rank, every block
   readable by every rank. The fast reduction sums the gradients there
   (dp_objective.c): each backward pass writes its rank's block, and every
   rank reads the others' straight from their memory, with none of the
   copies through MPI's buffers that an all-reduce makes.

   dist_shared_create is collective. It returns NULL, having allocated
   nothing, in a group of one, when the ranks span several machines, when
   the environment asks for MPI's all-reduce (DESCENT_MPI_SHARED=0), or when
   the window cannot be had (rank 0 then says why on stderr, and the job goes
   on with the all-reduce). Each rank's blocks are touched at creation, so a
   shortage of shared memory shows then, not in the middle of a run (an MPI
   that maps a sparse file on a full file system would end the process with
   SIGBUS there, before any training). Blocks start on 64-byte lines and each
   rank's on its own pages.
   dist_shared_block is rank r's block b. dist_shared_fence is collective:
   every rank's writes before it are seen by every rank's reads after it (a
   barrier with the window's memory synchronized on both sides).
   dist_shared_free is collective too; NULL is accepted. */
typedef struct dist_shared dist_shared;
dist_shared *dist_shared_create(size_t blocks, size_t n);
descent_real *dist_shared_block(dist_shared *s, int rank, size_t block);
void dist_shared_fence(dist_shared *s);
void dist_shared_free(dist_shared *s);

/* A command that ends with a failure on one rank ends the whole job
   (dist_abort), for the others would wait for it forever. A command whose
   every rank reaches the same end (the guard's divergence, seen by all at
   the same step; a stop they agreed on) says so first, and the job ends
   normally with that status. */
void dist_set_outcome_agreed(void);
int dist_outcome_agreed(void);

/* Errors every rank meets alike (a bad option, a resume that disagrees
   with its checkpoint) are said once, by rank 0: dist_quiet_followers sends
   the other ranks' stderr to /dev/null and returns what dist_speak_again
   restores (-1 on rank 0: nothing to restore). */
int dist_quiet_followers(void);
void dist_speak_again(int saved);

/* Ends the whole job at once with status (MPI_Abort; exit for a group of
   one), after the caller printed why. */
_Noreturn void dist_abort(int status);

/* The watchdog of collectives. A rank that died cannot answer; MPI-3 gives
   no portable way to learn it inside a collective, so a rank waiting longer
   than the timeout (seconds, > 0; 0 turns it off) for the others prints one
   line naming the operation, the step and the ranks that are gone (those on
   this machine whose process no longer exists, by the process ids gathered
   at start) and ends the job. dist_watch arms it before a collective that
   may wait on a dead rank, dist_unwatch disarms it after. */
void dist_set_timeout(double seconds);
void dist_watch(const char *what, int64_t step);
void dist_unwatch(void);

#endif /* DESCENT_CLI_DIST_H */
