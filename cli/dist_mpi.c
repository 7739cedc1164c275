/*
 * dist_mpi.c - the processes of a run over MPI: the plain MPI-3 C API, so
 * that Open MPI (Debian's libopenmpi-dev) and MPICH both serve. The only file
 * that includes <mpi.h>; see dist.h for the contract.
 *
 * Every failure of a collective ends the whole job (MPI_Abort) after one line
 * naming the operation and the rank: the communicator's handler is set to
 * return errors so the line can be printed first. A watchdog thread ends a
 * rank that has waited too long in a collective (a dead peer, which MPI-3
 * cannot report), naming the ranks on this machine that no longer exist.
 */
#include "dist.h"

#include <limits.h>
#include <stdint.h>
#include <mpi.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { HOST_CAP = 64 };

static struct {
  int started, rank, size, local_size;
  char host[HOST_CAP];
  char library[MPI_MAX_LIBRARY_VERSION_STRING];
  char standard[16];
  int *pids;   /* every rank's process id */
  char *hosts; /* every rank's host name, HOST_CAP bytes each */
} world = {.size = 1, .local_size = 1};

/* ---- failures ------------------------------------------------------------------ */

static void check(int rc, const char *what) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  if (MPI_Error_string(rc, text, &len) != MPI_SUCCESS) snprintf(text, sizeof text, "code %d", rc);
  fprintf(stderr, "descent: rank %d on %s: %s failed: %s; ending the job\n", world.rank, world.host,
          what, text);
  MPI_Abort(MPI_COMM_WORLD, 1);
  _exit(1);
}

_Noreturn void dist_abort(int status) {
  fflush(stdout);
  fflush(stderr);
  if (world.started) MPI_Abort(MPI_COMM_WORLD, status ? status : 1);
  exit(status);
}

/* ---- the watchdog ---------------------------------------------------------------- */

static double monotonic_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static _Atomic double watch_timeout = 600;
static _Atomic double watch_since;              /* 0: not waiting in a collective */
static _Atomic(const char *) watch_what = NULL; /* the collective waited in */
static _Atomic int64_t watch_step;

void dist_set_timeout(double seconds) {
  watch_timeout = seconds;
}

void dist_watch(const char *what, int64_t step) {
  watch_what = what;
  watch_step = step;
  watch_since = monotonic_seconds();
}

void dist_unwatch(void) {
  watch_since = 0;
}

/* 1 when rank r runs on this machine and its process is gone (or a zombie
   its launcher has not reaped yet). */
static int rank_gone(int r) {
  if (strcmp(world.hosts + (size_t)r * HOST_CAP, world.host) != 0) return 0;
  char path[64], line[512];
  snprintf(path, sizeof path, "/proc/%d/stat", world.pids[r]);
  FILE *f = fopen(path, "r");
  if (!f) return 1;
  int gone = 0;
  if (fgets(line, sizeof line, f)) {
    const char *paren = strrchr(line, ')'); /* the name may hold spaces */
    gone = paren && (paren[2] == 'Z' || paren[2] == 'X');
  }
  fclose(f);
  return gone;
}

static void *watchdog(void *unused) {
  (void)unused;
  for (;;) {
    struct timespec pause = {0, 250 * 1000 * 1000};
    nanosleep(&pause, NULL);
    double since = watch_since, timeout = watch_timeout;
    if (!(since > 0) || !(timeout > 0) || monotonic_seconds() - since < timeout) continue;
    char gone[512] = "";
    size_t used = 0;
    for (int r = 0; r < world.size && used < sizeof gone - 64; r++)
      if (r != world.rank && rank_gone(r))
        used += (size_t)snprintf(gone + used, sizeof gone - used, "%s%d (pid %d)", used ? ", " : "",
                                 r, world.pids[r]);
    /* Only async-safe enough calls from here on: the main thread is stuck in
       MPI and must not be joined; the process ends with this line. */
    if (used)
      fprintf(stderr,
              "descent: rank %d on %s: no answer for %.0f s in %s at step %lld: rank %s no "
              "longer exists; ending this rank (resume from the newest checkpoint)\n",
              world.rank, world.host, timeout, watch_what, (long long)watch_step, gone);
    else
      fprintf(stderr,
              "descent: rank %d on %s: no answer for %.0f s in %s at step %lld: no rank on "
              "this machine is gone, so one is stuck (stopped, or waiting on something else) "
              "or one on another machine died (the launcher's message names it); ending this "
              "rank (resume from the newest checkpoint; --dist-timeout sets the wait)\n",
              world.rank, world.host, timeout, watch_what, (long long)watch_step);
    fflush(stderr);
    _exit(1);
  }
  return NULL;
}

/* ---- start and end ------------------------------------------------------------- */

int dist_start(int *argc, char ***argv) {
  if (gethostname(world.host, sizeof world.host - 1) != 0) strcpy(world.host, "localhost");
  if (!dist_launched()) return 0;
  int provided = 0;
  if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
    fprintf(stderr, "descent: MPI_Init_thread failed: the MPI launcher's environment is set "
                    "but MPI could not start (is it the mpirun of the MPI descent is built "
                    "with? 'descent --version' names it)\n");
    return -1;
  }
  world.started = 1;
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  check(MPI_Comm_rank(MPI_COMM_WORLD, &world.rank), "MPI_Comm_rank");
  check(MPI_Comm_size(MPI_COMM_WORLD, &world.size), "MPI_Comm_size");
  MPI_Comm local;
  check(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &local),
        "MPI_Comm_split_type");
  check(MPI_Comm_size(local, &world.local_size), "MPI_Comm_size");
  MPI_Comm_free(&local);
  world.pids = malloc((size_t)world.size * sizeof *world.pids);
  world.hosts = calloc((size_t)world.size, HOST_CAP);
  if (!world.pids || !world.hosts) {
    fprintf(stderr, "descent: rank %d: out of memory at start\n", world.rank);
    dist_abort(1);
  }
  int pid = (int)getpid();
  check(MPI_Allgather(&pid, 1, MPI_INT, world.pids, 1, MPI_INT, MPI_COMM_WORLD), "MPI_Allgather");
  check(MPI_Allgather(world.host, HOST_CAP, MPI_CHAR, world.hosts, HOST_CAP, MPI_CHAR,
                      MPI_COMM_WORLD),
        "MPI_Allgather");
  if (world.size > 1) {
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&t, &attr, watchdog, NULL) != 0) {
      fprintf(stderr, "descent: rank %d: cannot start the watchdog thread\n", world.rank);
      dist_abort(1);
    }
    pthread_attr_destroy(&attr);
  }
  /* One voice: the other ranks' progress and results would repeat rank 0's
     lines; their errors still reach stderr, each naming its rank. */
  if (world.rank > 0 && !freopen("/dev/null", "w", stdout)) {
    fprintf(stderr, "descent: rank %d: cannot silence stdout\n", world.rank);
    dist_abort(1);
  }
  return 0;
}

void dist_finish(void) {
  if (!world.started) return;
  dist_unwatch();
  MPI_Finalize();
  world.started = 0;
}

int dist_rank(void) {
  return world.rank;
}
int dist_size(void) {
  return world.size;
}
int dist_active(void) {
  return world.started;
}
int dist_local_size(void) {
  return world.local_size;
}
const char *dist_host(void) {
  return world.host;
}

const char *dist_library(void) {
  if (!world.library[0]) {
    int len = 0;
    MPI_Get_library_version(world.library, &len);
    world.library[strcspn(world.library, "\n,")] = '\0';
  }
  return world.library;
}

const char *dist_standard(void) {
  if (!world.standard[0]) {
    int major = 0, minor = 0;
    MPI_Get_version(&major, &minor);
    snprintf(world.standard, sizeof world.standard, "%d.%d", major, minor);
  }
  return world.standard;
}

/* ---- collectives --------------------------------------------------------------- */

/* Counts above this go in pieces: MPI counts are ints. */
#define PIECE ((size_t)1 << 30)

static MPI_Datatype real_type(void) {
  return sizeof(descent_real) == 8 ? MPI_DOUBLE : MPI_FLOAT;
}

/* Without MPI started, this process is the whole group: every collective
   is the identity. */
#define ALONE (!world.started)

void dist_broadcast(void *buf, size_t bytes, int root) {
  if (ALONE) return;
  for (size_t at = 0; at < bytes; at += PIECE) {
    size_t k = bytes - at < PIECE ? bytes - at : PIECE;
    check(MPI_Bcast((char *)buf + at, (int)k, MPI_BYTE, root, MPI_COMM_WORLD), "MPI_Bcast");
  }
}

static void sum(void *buf, size_t n, size_t width, MPI_Datatype type) {
  if (ALONE) return;
  for (size_t at = 0; at < n; at += PIECE) {
    size_t k = n - at < PIECE ? n - at : PIECE;
    check(MPI_Allreduce(MPI_IN_PLACE, (char *)buf + at * width, (int)k, type, MPI_SUM,
                        MPI_COMM_WORLD),
          "MPI_Allreduce");
  }
}

void dist_sum_real(descent_real *buf, size_t n) {
  sum(buf, n, sizeof *buf, real_type());
}
void dist_sum_double(double *buf, size_t n) {
  sum(buf, n, sizeof *buf, MPI_DOUBLE);
}

double dist_max_double(double value) {
  if (ALONE) return value;
  check(MPI_Allreduce(MPI_IN_PLACE, &value, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD),
        "MPI_Allreduce");
  return value;
}

int64_t dist_min_i64(int64_t value) {
  if (ALONE) return value;
  check(MPI_Allreduce(MPI_IN_PLACE, &value, 1, MPI_INT64_T, MPI_MIN, MPI_COMM_WORLD),
        "MPI_Allreduce");
  return value;
}

int64_t dist_max_i64(int64_t value) {
  if (ALONE) return value;
  check(MPI_Allreduce(MPI_IN_PLACE, &value, 1, MPI_INT64_T, MPI_MAX, MPI_COMM_WORLD),
        "MPI_Allreduce");
  return value;
}

/* Gathers and exchanges move size blocks of n: one call must hold them. */
static void check_block(size_t n, const char *what) {
  if (n <= (size_t)INT_MAX) return;
  fprintf(stderr, "descent: rank %d: %s of %zu values per rank: more than one MPI call moves\n",
          world.rank, what, n);
  dist_abort(1);
}

void dist_gather_double(const double *in, double *out, size_t n) {
  if (ALONE) {
    memmove(out, in, n * sizeof *in);
    return;
  }
  check_block(n, "MPI_Allgather");
  check(MPI_Allgather(in, (int)n, MPI_DOUBLE, out, (int)n, MPI_DOUBLE, MPI_COMM_WORLD),
        "MPI_Allgather");
}

void dist_gather_real(const descent_real *in, descent_real *out, size_t n) {
  if (ALONE) {
    memmove(out, in, n * sizeof *in);
    return;
  }
  check_block(n, "MPI_Allgather");
  check(MPI_Allgather(in, (int)n, real_type(), out, (int)n, real_type(), MPI_COMM_WORLD),
        "MPI_Allgather");
}

void dist_exchange_double(const double *in, double *out, size_t n) {
  if (ALONE) {
    memmove(out, in, n * sizeof *in);
    return;
  }
  check_block(n, "MPI_Alltoall");
  check(MPI_Alltoall(in, (int)n, MPI_DOUBLE, out, (int)n, MPI_DOUBLE, MPI_COMM_WORLD),
        "MPI_Alltoall");
}

/* The counts as MPI's ints, and (gatherv) their displacements. */
static int *int_counts(const size_t *counts, int with_displacements, const char *what) {
  int *c = malloc(2 * (size_t)world.size * sizeof *c);
  if (!c) {
    fprintf(stderr, "descent: rank %d: out of memory for %s\n", world.rank, what);
    dist_abort(1);
  }
  size_t at = 0;
  for (int s = 0; s < world.size; s++) {
    check_block(counts[s], what);
    check_block(at, what);
    c[s] = (int)counts[s];
    if (with_displacements) c[world.size + s] = (int)at;
    at += counts[s];
  }
  return c;
}

void dist_sum_scatter_real(const descent_real *in, descent_real *out, const size_t *counts) {
  if (ALONE) {
    memmove(out, in, counts[0] * sizeof *in);
    return;
  }
  int *c = int_counts(counts, 0, "MPI_Reduce_scatter");
  int rc = MPI_Reduce_scatter(in, out, c, real_type(), MPI_SUM, MPI_COMM_WORLD);
  free(c);
  check(rc, "MPI_Reduce_scatter");
}

void dist_gatherv_real(const descent_real *in, descent_real *out, const size_t *counts) {
  if (ALONE) {
    memmove(out, in, counts[0] * sizeof *in);
    return;
  }
  int *c = int_counts(counts, 1, "MPI_Allgatherv");
  int rc = MPI_Allgatherv(in, c[world.rank], real_type(), out, c, c + world.size, real_type(),
                          MPI_COMM_WORLD);
  free(c);
  check(rc, "MPI_Allgatherv");
}

/* The started sums, oldest first. */
static MPI_Request started[DIST_MAX_STARTED];
static int n_started;

void dist_wait_all(void) {
  if (!n_started) return;
  check(MPI_Waitall(n_started, started, MPI_STATUSES_IGNORE), "MPI_Waitall");
  n_started = 0;
}

void dist_sum_real_start(descent_real *buf, size_t n) {
  if (ALONE) return;
  check_block(n, "MPI_Iallreduce");
  if (n_started == DIST_MAX_STARTED) dist_wait_all();
  check(MPI_Iallreduce(MPI_IN_PLACE, buf, (int)n, real_type(), MPI_SUM, MPI_COMM_WORLD,
                       &started[n_started]),
        "MPI_Iallreduce");
  n_started++;
}

void dist_progress(void) {
  if (!n_started) return;
  int done = 0;
  check(MPI_Testall(n_started, started, &done, MPI_STATUSES_IGNORE), "MPI_Testall");
  if (done) n_started = 0;
}

void dist_barrier(void) {
  if (!ALONE) check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier");
}

/* ---- shared memory on one machine ----------------------------------------------------- */

struct dist_shared {
  MPI_Win win;
  size_t blocks, stride; /* blocks per rank, values from one block to the next */
  descent_real **base;   /* every rank's first block, as this process maps it */
};

/* Whether this job may share memory: one machine, more than one rank, and
   not turned off. Every rank must answer alike (an environment set for one
   rank only would split the collective): the answer is agreed. */
static int may_share(void) {
  if (ALONE || world.size < 2 || world.local_size != world.size) return 0;
  const char *env = getenv("DESCENT_MPI_SHARED");
  int mine = !(env && strcmp(env, "0") == 0), all = 0;
  check(MPI_Allreduce(&mine, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD), "MPI_Allreduce");
  return all;
}

/* 1 when every rank's flag is 1. */
static int all_ranks(int flag) {
  int all = 0;
  check(MPI_Allreduce(&flag, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD), "MPI_Allreduce");
  return all;
}

dist_shared *dist_shared_create(size_t blocks, size_t n) {
  if (ALONE || !blocks || !n || !may_share()) return NULL;
  /* Blocks start on cache lines, and each rank's part on its own pages
     (alloc_shared_noncontig): no line is written by two ranks. */
  size_t line = 64 / sizeof(descent_real), stride = (n + line - 1) / line * line;
  size_t values = blocks * stride, bytes = values * sizeof(descent_real);
  int fits = stride >= n && values / blocks == stride && bytes / sizeof(descent_real) == values &&
             bytes <= (size_t)PTRDIFF_MAX;
  dist_shared *s = calloc(1, sizeof *s);
  int ok = s && (s->base = calloc((size_t)world.size, sizeof *s->base)) && fits;
  if (!all_ranks(ok)) {
    if (world.rank == 0)
      fprintf(stderr,
              "descent: the %zu MB of memory the processes would share cannot be "
              "set up (out of memory); summing gradients with MPI_Allreduce\n",
              bytes * (size_t)world.size >> 20);
    if (s) free(s->base);
    free(s);
    return NULL;
  }
  MPI_Info info;
  check(MPI_Info_create(&info), "MPI_Info_create");
  check(MPI_Info_set(info, "alloc_shared_noncontig", "true"), "MPI_Info_set");
  descent_real *mine = NULL;
  MPI_Win win = MPI_WIN_NULL;
  int made = MPI_Win_allocate_shared((MPI_Aint)bytes, (int)sizeof(descent_real), info,
                                     MPI_COMM_WORLD, &mine, &win) == MPI_SUCCESS;
  MPI_Info_free(&info);
  if (!all_ranks(made)) {
    /* Freeing is collective: only when every rank has a window to free.
       Otherwise the ones made are left to MPI_Finalize. */
    if (world.rank == 0)
      fprintf(stderr,
              "descent: %zu MB of memory shared by the processes could not be had "
              "(MPI_Win_allocate_shared); summing gradients with MPI_Allreduce\n",
              bytes * (size_t)world.size >> 20);
    free(s->base);
    free(s);
    return NULL;
  }
  s->win = win;
  s->blocks = blocks, s->stride = stride;
  /* Its failures get check's line, not the default handler's abort. */
  check(MPI_Win_set_errhandler(s->win, MPI_ERRORS_RETURN), "MPI_Win_set_errhandler");
  for (int r = 0; r < world.size; r++) {
    MPI_Aint size = 0;
    int unit = 0;
    descent_real *at = NULL;
    check(MPI_Win_shared_query(s->win, r, &size, &unit, &at), "MPI_Win_shared_query");
    s->base[r] = at;
  }
  /* A passive-target epoch for the window's life: the fences synchronize
     memory with MPI_Win_sync inside it, as MPI-3's shared-memory model asks. */
  check(MPI_Win_lock_all(MPI_MODE_NOCHECK, s->win), "MPI_Win_lock_all");
  /* The pages now, not mid-run: where an MPI maps a sparse file and the
     shared file system is too small, this is where the process would get
     SIGBUS, before any training. */
  memset(mine, 0, bytes);
  dist_shared_fence(s);
  return s;
}

descent_real *dist_shared_block(dist_shared *s, int rank, size_t block) {
  return s->base[rank] + block * s->stride;
}

void dist_shared_fence(dist_shared *s) {
  check(MPI_Win_sync(s->win), "MPI_Win_sync");
  check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier");
  check(MPI_Win_sync(s->win), "MPI_Win_sync");
}

void dist_shared_free(dist_shared *s) {
  if (!s) return;
  check(MPI_Win_unlock_all(s->win), "MPI_Win_unlock_all");
  check(MPI_Win_free(&s->win), "MPI_Win_free");
  free(s->base);
  free(s);
}
