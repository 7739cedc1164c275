/*
 * sweep_ranks.c - the processes that run a sweep's trials: this process
 * alone, or the ranks of an MPI job (`mpirun -np K descent sweep ...`),
 * through cli/dist.h's collectives only.
 *
 * Rank 0 owns the sweep's folder (the plan, the lock, events.log,
 * summary.csv, the progress) and decides; every rank, rank 0 included, runs
 * up to --jobs trials at once as local child processes. They meet in rounds
 * of two collectives: each rank shares how its trials ended and how many it
 * still runs (an all-gather), then rank 0 hands out the next trials to the
 * free slots, rank by rank, and every rank starts its own (a broadcast).
 * Between rounds a rank waits until one of its trials ends, at most
 * ROUND_MS: rounds take no part in any result, so their timing does not
 * matter; a trial is its own process with its own seed and options, and its
 * result does not depend on the rank or the moment that ran it.
 *
 * Alone (no MPI, or one rank) the collectives are the identity and a round
 * waits for the next trial to end, as a plain sweep always did.
 */
#define _GNU_SOURCE
#include "dist.h"
#include "internal.h"
#include "sweep.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* The longest a rank waits for one of its trials before the next round,
   when other ranks may have news (milliseconds). */
#define ROUND_MS 200
/* A host name travels as HOST_DOUBLES doubles of 6 bytes each (exact in a
   double's 53-bit mantissa). */
#define HOST_CHARS   64
#define HOST_DOUBLES 11

typedef struct {
  pid_t pid;
  size_t trial;
  struct timespec started;
} slot;

/* What rank 0 has told the others: nothing yet, the folder (the opening),
   that the plan is saved (ready: the rounds began), that the sweep ended. */
enum { PHASE_START, PHASE_OPENED, PHASE_READY, PHASE_ENDED };

/* This process's part of the sweep (one sweep per process). */
static struct {
  int rank, size, jobs;
  const sweep_plan *plan;
  const char *dir;
  char (*hosts)[HOST_CHARS]; /* every rank's host name */
  slot *slots;               /* jobs of them; pid 0: free */
  int running;               /* local trials running */
  int failed;                /* a local launch failed: told to rank 0 next round */
  int busy;                  /* some rank ran a trial after the last round */
  int phase;                 /* rank 0's messages so far: one of the phases */
  int *running_of;           /* each rank's running trials at the last round */
  double *send, *recv;       /* the all-gather's records */
  int64_t *orders;           /* the broadcast */
  sweep_outcome *outcomes;
} node;

static double since(const struct timespec *t0) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)(t.tv_sec - t0->tv_sec) + 1e-9 * (double)(t.tv_nsec - t0->tv_nsec);
}

int sweep_ranks_start(void) {
  node.rank = dist_rank();
  node.size = dist_size();
  node.hosts = calloc((size_t)node.size, sizeof *node.hosts);
  double mine[HOST_DOUBLES] = {0}, *all = calloc((size_t)node.size * HOST_DOUBLES, sizeof *all);
  char host[HOST_CHARS + 2] = "";
  if (!node.hosts || !all) {
    fprintf(stderr, "descent sweep: out of memory\n");
    dist_abort(1);
  }
  snprintf(host, HOST_CHARS, "%s", dist_host());
  for (int i = 0; i < HOST_DOUBLES; i++)
    for (int b = 5; b >= 0; b--) mine[i] = mine[i] * 256 + (unsigned char)host[6 * i + b];
  dist_gather_double(mine, all, HOST_DOUBLES);
  for (int r = 0; r < node.size; r++)
    for (int i = 0; i < HOST_DOUBLES; i++) {
      double v = all[r * HOST_DOUBLES + i];
      for (int b = 0; b < 6 && 6 * i + b < HOST_CHARS - 1; b++, v = (double)((uint64_t)v / 256))
        node.hosts[r][6 * i + b] = (char)((uint64_t)v % 256);
    }
  free(all);
  return 0;
}

const char *sweep_ranks_host(int rank) {
  return node.hosts && rank >= 0 && rank < node.size ? node.hosts[rank] : "";
}

/* The buffers of the rounds, once the plan (its --jobs) is known. */
static int make_buffers(const sweep_plan *plan, const char *dir) {
  size_t jobs = (size_t)plan->jobs, size = (size_t)node.size;
  node.plan = plan, node.dir = dir, node.jobs = plan->jobs;
  node.slots = calloc(jobs, sizeof *node.slots);
  node.running_of = calloc(size, sizeof *node.running_of);
  node.send = calloc(3 + 4 * jobs, sizeof *node.send);
  node.recv = calloc(size * (3 + 4 * jobs), sizeof *node.recv);
  node.orders = calloc(2 + 4 * size * jobs, sizeof *node.orders);
  node.outcomes = calloc(size * jobs, sizeof *node.outcomes);
  if (node.slots && node.running_of && node.send && node.recv && node.orders && node.outcomes)
    return 0;
  fprintf(stderr, "descent sweep: out of memory\n");
  return -1;
}

/* The shared folder's test: rank 0 wrote DIR/.ranks-check holding `token`;
   each other rank must read the same. Returns 0 on the ranks that do. */
static int read_token(const char *dir, const char *token) {
  char path[4096], got[256] = "";
  snprintf(path, sizeof path, "%s/.ranks-check", dir);
  FILE *f = fopen(path, "r");
  int err = f ? 0 : errno;
  if (f) {
    if (!fgets(got, sizeof got, f)) got[0] = '\0';
    fclose(f);
  }
  if (f && strcmp(got, token) == 0) return 0;
  fprintf(stderr,
          "descent sweep: rank %d on %s does not see the sweep's folder %s of rank 0 on %s "
          "(%s: %s): put the folder on a file system every rank shares (NFS, Lustre, ...), "
          "or run all ranks on one machine\n",
          node.rank, node.hosts[node.rank], dir, node.hosts[0], path,
          f ? "another sweep's content" : strerror(err));
  return -1;
}

/* Every rank checks that it sees what rank 0 wrote into DIR; 0 when all do. */
static int check_shared(const char *dir, const char *token) {
  char path[4096];
  snprintf(path, sizeof path, "%s/.ranks-check", dir);
  int rc = 0;
  if (node.rank == 0 && descent_write_file_atomic(path, token, strlen(token))) {
    fprintf(stderr, "descent sweep: writing %s failed: %s\n", path, descent_last_error());
    rc = -1;
  }
  dist_barrier();
  double ok = rc == 0 && (node.rank == 0 || read_token(dir, token) == 0), *all;
  if (!(all = calloc((size_t)node.size, sizeof *all))) dist_abort(1);
  dist_gather_double(&ok, all, 1);
  for (int r = 0; r < node.size; r++)
    if (all[r] != 1) rc = -1;
  free(all);
  if (node.rank == 0) unlink(path);
  return rc;
}

/* What rank 0 tells the others at the start: how its setup went, and where. */
typedef struct {
  int64_t go;     /* 1: the sweep runs; 0: it ended before its first trial */
  int64_t status; /* then, the exit status */
  char dir[4096];
  char token[256];
} opening;

int sweep_ranks_open(const char *dir) {
  opening o;
  memset(&o, 0, sizeof o);
  o.go = 1;
  snprintf(o.dir, sizeof o.dir, "%s", dir);
  struct timespec t;
  clock_gettime(CLOCK_REALTIME, &t);
  snprintf(o.token, sizeof o.token, "descent sweep %ld %lld.%09ld %s\n", (long)getpid(),
           (long long)t.tv_sec, t.tv_nsec, node.hosts[0]);
  node.phase = PHASE_OPENED;
  if (node.size == 1) return 0;
  dist_broadcast(&o, sizeof o, 0);
  if (check_shared(dir, o.token) == 0) return 0;
  node.phase = PHASE_ENDED;
  return 1;
}

/* The second message: the plan is saved (0), or the exit status. */
static void tell_ready(int64_t status) {
  if (node.size > 1) dist_broadcast(&status, sizeof status, 0);
}

void sweep_ranks_ready(const sweep_plan *plan, const char *dir) {
  tell_ready(0);
  node.phase = PHASE_READY;
  if (make_buffers(plan, dir)) dist_abort(1);
}

void sweep_ranks_end(int status) {
  if (node.size == 1) return;
  if (node.phase == PHASE_START) {
    opening o;
    memset(&o, 0, sizeof o);
    o.status = status;
    dist_broadcast(&o, sizeof o, 0);
  } else if (node.phase == PHASE_OPENED) {
    tell_ready(status ? status : 1);
  } else if (node.phase == PHASE_READY) {
    sweep_outcome *out;
    size_t n;
    int failed;
    sweep_ranks_gather(&out, &n, &failed);
    sweep_ranks_order(NULL, 0, status);
  }
  node.phase = PHASE_ENDED;
}

/* Rank > 0: rank 0's opening, then the plan it saved (read from the shared
   folder, so that every rank runs the very same trials). Returns -1 to go
   on to the rounds, or the exit status (rank 0 said why, or this rank did). */
static int join(sweep_plan *plan, char *dir, size_t cap) {
  opening o;
  int64_t ready;
  dist_broadcast(&o, sizeof o, 0);
  if (!o.go) return (int)o.status; /* rank 0 said why */
  snprintf(dir, cap, "%s", o.dir);
  if (check_shared(dir, o.token)) return 1;
  dist_broadcast(&ready, sizeof ready, 0);
  if (ready) return (int)ready;
  /* The plan is read only now: rank 0 saves it after the check. */
  if (sweep_plan_load(plan, dir)) {
    fprintf(stderr, "descent sweep: rank %d on %s cannot read the plan %s/sweep.txt\n", node.rank,
            node.hosts[node.rank], dir);
    dist_abort(1); /* rank 0 is already in the rounds */
  }
  if (make_buffers(plan, dir)) dist_abort(1);
  return -1;
}

/* Records the end of the trial in slot j. */
static void ended(int j, int wstatus, size_t *n_out) {
  slot *s = &node.slots[j];
  double *o = &node.send[3 + 4 * *n_out];
  o[0] = (double)s->trial;
  o[1] = (double)sweep_trial_outcome(node.dir, s->trial, wstatus);
  o[2] = (double)wstatus;
  o[3] = since(&s->started);
  ++*n_out;
  s->pid = 0;
  node.running--;
}

/* Collects the local trials that ended: waits for one first when block (as
   long as it takes) or for up to ROUND_MS when poll. */
static size_t reap(int block, int poll) {
  size_t n_out = 0;
  int wstatus;
  while (block && node.running > 0 && n_out == 0) {
    pid_t pid = waitpid(-1, &wstatus, 0);
    if (pid < 0 && errno != EINTR) break;
    for (int j = 0; j < node.jobs; j++)
      if (pid > 0 && node.slots[j].pid == pid) ended(j, wstatus, &n_out);
  }
  for (int waited = 0;; waited += 10) {
    for (int j = 0; j < node.jobs; j++)
      if (node.slots[j].pid && waitpid(node.slots[j].pid, &wstatus, WNOHANG) > 0)
        ended(j, wstatus, &n_out);
    /* A rank without trials waits too: in the collective it would spin. */
    if (!poll || n_out > 0 || waited >= ROUND_MS) break;
    nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
  }
  return n_out;
}

int sweep_ranks_gather(sweep_outcome **outcomes, size_t *n_outcomes, int *failed) {
  size_t rec = 3 + 4 * (size_t)node.jobs, n = 0;
  size_t mine = reap(node.size == 1, node.size > 1 && node.busy);
  node.send[0] = node.failed;
  node.send[1] = node.running;
  node.send[2] = (double)mine;
  dist_gather_double(node.send, node.recv, rec);
  *failed = 0;
  for (int r = 0; r < node.size; r++) {
    const double *in = &node.recv[(size_t)r * rec];
    *failed |= in[0] != 0;
    node.running_of[r] = (int)in[1];
    for (size_t i = 0; i < (size_t)in[2]; i++, n++) {
      const double *o = &in[3 + 4 * i];
      node.outcomes[n] = (sweep_outcome){(size_t)o[0], r, (trial_status)o[1], (int)o[2], o[3]};
    }
  }
  *outcomes = node.outcomes;
  *n_outcomes = n;
  return 0;
}

int sweep_ranks_free(int rank) {
  return rank >= 0 && rank < node.size ? node.jobs - node.running_of[rank] : 0;
}

int sweep_ranks_size(void) {
  return node.size;
}

/* Starts this rank's share of the orders in node.orders. */
static int start_orders(void) {
  int rc = 0;
  for (int64_t i = 0; i < node.orders[1]; i++) {
    const int64_t *o = &node.orders[2 + 4 * i];
    if (o[0] != node.rank) continue;
    int j = 0;
    while (j < node.jobs && node.slots[j].pid) j++;
    if (j == node.jobs) { /* rank 0 counted the free slots: never */
      rc = -1;
      continue;
    }
    slot *s = &node.slots[j];
    clock_gettime(CLOCK_MONOTONIC, &s->started);
    s->trial = (size_t)o[1];
    s->pid = sweep_trial_start(node.plan, node.dir, s->trial, (size_t)o[2], (int)o[3]);
    if (s->pid <= 0) {
      if (node.size > 1)
        fprintf(stderr, "descent sweep: rank %d on %s could not start trial-%04zu\n", node.rank,
                node.hosts[node.rank], s->trial + 1);
      s->pid = 0;
      rc = -1;
    } else {
      node.running++;
    }
  }
  if (rc) node.failed = 1;
  return rc;
}

/* The broadcast of a round: orders and whether the sweep goes on. */
static int64_t give_orders(void) {
  int64_t n = (2 + 4 * (int64_t)node.size * node.jobs) * (int64_t)sizeof *node.orders;
  dist_broadcast(node.orders, (size_t)n, 0);
  int64_t total = node.orders[1];
  for (int r = 0; r < node.size; r++) total += node.running_of[r];
  node.busy = total > 0;
  return node.orders[0];
}

int sweep_ranks_order(const sweep_order *orders, size_t n, int stop) {
  node.orders[0] = stop;
  node.orders[1] = (int64_t)n;
  for (size_t i = 0; i < n; i++) {
    int64_t *o = &node.orders[2 + 4 * i];
    o[0] = orders[i].rank, o[1] = (int64_t)orders[i].trial;
    o[2] = (int64_t)orders[i].epochs, o[3] = orders[i].resume;
  }
  give_orders();
  if (stop >= 0) node.phase = PHASE_ENDED;
  return stop >= 0 ? 0 : start_orders();
}

int sweep_ranks_busy(void) {
  return node.busy;
}

int sweep_ranks_serve(void) {
  sweep_plan plan;
  char dir[4096];
  memset(&plan, 0, sizeof plan);
  int rc = join(&plan, dir, sizeof dir);
  while (rc < 0) {
    sweep_outcome *o;
    size_t n;
    int failed;
    sweep_ranks_gather(&o, &n, &failed);
    int64_t stop = give_orders();
    if (stop >= 0) {
      rc = (int)stop;
      break;
    }
    start_orders();
  }
  sweep_plan_free(&plan);
  return rc;
}
