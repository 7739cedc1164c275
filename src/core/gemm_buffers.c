/*
 * gemm_buffers.c - the GEMM kernels' per-thread packing buffers.
 *
 * Each thread packs its blocks of A and B into buffers of its own (up to 2
 * and 4 MiB with the AVX-512 kernel's deepest blocks; only the pages a
 * product packs into become resident), allocated at its first product and
 * kept for the next ones. A thread's buffers are freed when it ends: a
 * program that runs descent on threads it starts and ends (each with its
 * own OpenMP threads) would otherwise lose them with every thread. Both
 * kernels share the pair: a thread runs one product at a time.
 */
#include "gemm_buffers.h"

#include <pthread.h>
#include <stdlib.h>

static _Thread_local void *buffer_a, *buffer_b;
static _Thread_local size_t bytes_a, bytes_b;

static pthread_key_t buffers_key;
static pthread_once_t buffers_key_once = PTHREAD_ONCE_INIT;
static int buffers_key_made;

static void buffers_free(void *unused) {
  (void)unused;
  free(buffer_a);
  free(buffer_b);
  buffer_a = buffer_b = NULL;
  bytes_a = bytes_b = 0;
}

static void buffers_key_make(void) {
  buffers_key_made = pthread_key_create(&buffers_key, buffers_free) == 0;
}

/* aligned_alloc wants a size that is a multiple of the alignment. */
static int grow(void **buffer, size_t *have, size_t want) {
  if (*have >= want && *buffer) return 0;
  free(*buffer);
  *buffer = aligned_alloc(64, (want + 63) / 64 * 64);
  *have = *buffer ? want : 0;
  return *buffer ? 0 : -1;
}

int gemm_thread_buffers(size_t a_bytes, size_t b_bytes, void **a, void **b) {
  if (!buffer_a && !buffer_b && pthread_once(&buffers_key_once, buffers_key_make) == 0 &&
      buffers_key_made)
    pthread_setspecific(buffers_key, &buffers_key); /* any non-NULL value: the destructor runs */
  if (grow(&buffer_a, &bytes_a, a_bytes) || grow(&buffer_b, &bytes_b, b_bytes)) {
    buffers_free(NULL);
    return -1;
  }
  *a = buffer_a;
  *b = buffer_b;
  return 0;
}
