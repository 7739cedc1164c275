/*
 * dist_single.c - the group of one process, for a build without MPI: every
 * collective is the identity. A process that a launcher started as one of
 * several ranks is refused at start (each would train the whole run alone).
 */
#include "dist.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int dist_start(int *argc, char ***argv) {
  (void)argc, (void)argv;
  const char *sizes[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "MV2_COMM_WORLD_SIZE"};
  for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
    const char *v = getenv(sizes[i]);
    if (dist_launched() && v && atoi(v) > 1) {
      fprintf(stderr,
              "descent: started by an MPI launcher as one of %s processes, but this descent is "
              "built without MPI ('descent --version' says so): each process would train the "
              "whole run alone. Install libopenmpi-dev and rebuild (cmake -DDESCENT_MPI=ON), or "
              "run without mpirun\n",
              v);
      return -1;
    }
  }
  return 0;
}

void dist_finish(void) {}
int dist_rank(void) {
  return 0;
}
int dist_size(void) {
  return 1;
}
int dist_active(void) {
  return 0;
}
int dist_local_size(void) {
  return 1;
}
const char *dist_library(void) {
  return NULL;
}
const char *dist_standard(void) {
  return NULL;
}

const char *dist_host(void) {
  static char host[256];
  if (!host[0] && gethostname(host, sizeof host - 1) != 0) strcpy(host, "localhost");
  return host;
}

void dist_broadcast(void *buf, size_t bytes, int root) {
  (void)buf, (void)bytes, (void)root;
}
void dist_sum_real(descent_real *buf, size_t n) {
  (void)buf, (void)n;
}
void dist_sum_double(double *buf, size_t n) {
  (void)buf, (void)n;
}
double dist_max_double(double value) {
  return value;
}
int64_t dist_min_i64(int64_t value) {
  return value;
}
int64_t dist_max_i64(int64_t value) {
  return value;
}
void dist_gather_double(const double *in, double *out, size_t n) {
  if (in != out) memmove(out, in, n * sizeof *in);
}
void dist_gather_real(const descent_real *in, descent_real *out, size_t n) {
  if (in != out) memmove(out, in, n * sizeof *in);
}
void dist_exchange_double(const double *in, double *out, size_t n) {
  if (in != out) memmove(out, in, n * sizeof *in);
}
void dist_sum_scatter_real(const descent_real *in, descent_real *out, const size_t *counts) {
  if (in != out) memmove(out, in, counts[0] * sizeof *in);
}
void dist_gatherv_real(const descent_real *in, descent_real *out, const size_t *counts) {
  if (in != out) memmove(out, in, counts[0] * sizeof *in);
}
void dist_barrier(void) {}
dist_shared *dist_shared_create(size_t blocks, size_t n) {
  (void)blocks, (void)n;
  return NULL; /* one process sums nothing */
}
descent_real *dist_shared_block(dist_shared *s, int rank, size_t block) {
  (void)s, (void)rank, (void)block;
  return NULL;
}
void dist_shared_fence(dist_shared *s) {
  (void)s;
}
void dist_shared_free(dist_shared *s) {
  (void)s;
}
void dist_sum_real_start(descent_real *buf, size_t n) {
  (void)buf, (void)n;
}
void dist_progress(void) {}
void dist_wait_all(void) {}
_Noreturn void dist_abort(int status) {
  exit(status);
}
void dist_set_timeout(double seconds) {
  (void)seconds;
}
void dist_watch(const char *what, int64_t step) {
  (void)what, (void)step;
}
void dist_unwatch(void) {}
