/*
 * threads.c - thread counts that belong to objects, and the BLAS's name.
 *
 * A network, an optimizer and a trainer each hold a thread count (0:
 * inherit). Every call of theirs that computes applies it to the calling
 * thread's OpenMP setting for its duration and puts the caller's setting
 * back on return (descent_threads_begin/end): OpenMP's thread count is a
 * per-thread setting, so two objects used from two threads at once each run
 * with their own. Nothing here changes a process-wide setting: OpenBLAS's
 * own count is never set (gemm.c keeps OpenBLAS from changing it either).
 *
 * The count is also kept within what an address-space limit leaves room
 * for.
 */
#include "internal.h"
#include "sgemm_avx512.h"
#include "sgemm_dnnl.h"

#include <cblas.h>
#include <limits.h>
#include <stdatomic.h>
#include <omp.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* OpenBLAS (0.3.21, OpenMP build) maps a 128 MiB buffer (BUFFER_SIZE on
   x86-64) for each of its own threads when it starts, and one for each
   call in progress at once, at the first such call (later ones reuse it);
   when an address-space limit (ulimit -v) refuses one, it retries forever.
   A run on n threads thus needs what the process maps before OpenBLAS
   starts, a buffer for OpenBLAS's one thread (the program starts it with
   one), n buffers for its own threads' calls, and for each thread past the
   first its C library heap (64 MiB reserved) and its stack (8 MiB). What
   the process maps before OpenBLAS starts is measured where a program can
   (descent_thread_budget_measure, before any library's constructor runs);
   else it is taken as 72 MiB, above the program's 56 MiB without MPI,
   below its 88.5 MiB with Open MPI linked. */
#define BLAS_BUFFER_BYTES (128ull << 20)
#define MORE_THREAD_BYTES (72ull << 20)
#define BUDGET_ROOM_BYTES (4ull << 20)
static unsigned long long base_bytes = 72ull << 20;

int descent_address_space_used(unsigned long long *bytes) {
  FILE *f = fopen("/proc/self/statm", "r");
  unsigned long long pages = 0;
  int read = f && fscanf(f, "%llu", &pages) == 1;
  if (f) fclose(f);
  if (!read) return -1;
  *bytes = pages * (unsigned long long)sysconf(_SC_PAGESIZE);
  return 0;
}

void descent_thread_budget_measure(void) {
  unsigned long long used;
  if (descent_address_space_used(&used) == 0) base_bytes = used;
}

unsigned long long descent_thread_budget_bytes(int threads) {
  unsigned long long n = threads > 0 ? (unsigned long long)threads : 0;
  return base_bytes + BLAS_BUFFER_BYTES + n * BLAS_BUFFER_BYTES +
         (n > 1 ? n - 1 : 0) * MORE_THREAD_BYTES + BUDGET_ROOM_BYTES;
}

int descent_thread_budget(void) {
  unsigned long long bytes, one = descent_thread_budget_bytes(1);
  if (!descent_address_space_limit(&bytes)) return INT_MAX;
  if (bytes < one) return 0;
  unsigned long long n = 1 + (bytes - one) / (BLAS_BUFFER_BYTES + MORE_THREAD_BYTES);
  return n > INT_MAX ? INT_MAX : (int)n;
}

/* OpenBLAS's own allocator (driver/others/memory.c), which its shared
   library exports for its LAPACK: the calls below are the ones its GEMM
   makes around a product. Weak, so that an OpenBLAS without them leaves
   the buffers to the first products. */
extern void *blas_memory_alloc(int procpos) __attribute__((weak));
extern void blas_memory_free(void *buffer) __attribute__((weak));

static atomic_int buffers_taken;

int descent_blas_buffers_take(int threads) {
  if (!blas_memory_alloc || !blas_memory_free || threads < 1) return 0;
  /* blas_memory_alloc too retries forever: take only what the limit still
     holds (what happened since the budget was counted, MPI's start say,
     may have used some), and leave the rest to the caller's check. */
  unsigned long long limit, used;
  if (descent_address_space_limit(&limit) && descent_address_space_used(&used) == 0) {
    unsigned long long left = limit > used ? limit - used : 0, fit = 0;
    if (left >= BUDGET_ROOM_BYTES + BLAS_BUFFER_BYTES)
      fit = 1 + (left - BUDGET_ROOM_BYTES - BLAS_BUFFER_BYTES) /
                    (BLAS_BUFFER_BYTES + MORE_THREAD_BYTES);
    if (fit < (unsigned long long)threads) threads = (int)fit;
    if (threads < 1) return 0;
  }
  int got = 0, dynamic = omp_get_dynamic();
  /* Every thread holds its buffer until all hold one: OpenBLAS then has
     as many (whether it keeps them per thread or in one table). Dynamic
     teams, off for the region, would start fewer. */
  if (dynamic) omp_set_dynamic(0);
#pragma omp parallel num_threads(threads) reduction(+ : got)
  {
    void *buffer = blas_memory_alloc(0);
#pragma omp barrier
    blas_memory_free(buffer);
    got = 1;
  }
  if (dynamic) omp_set_dynamic(1);
  if (got > atomic_load(&buffers_taken)) atomic_store(&buffers_taken, got);
  return atomic_load(&buffers_taken);
}

int descent_blas_buffers_taken(void) {
  return atomic_load(&buffers_taken);
}

int descent_address_space_limit(unsigned long long *bytes) {
  struct rlimit limit;
  if (getrlimit(RLIMIT_AS, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return 0;
  *bytes = (unsigned long long)limit.rlim_cur;
  return 1;
}

void descent_threads_reserve(int threads) {
  unsigned long long limit;
  if (!descent_address_space_limit(&limit)) return;
  if (descent_blas_buffers_taken() < threads) descent_blas_buffers_take(threads);
#ifndef DESCENT_DOUBLE
  /* oneDNN 2.6 generates its GEMM kernels at its first product, and
     crashes (SIGSEGV in its kernel generation) where the limit leaves it
     too little then. */
  sgemm_dnnl_prepare();
#endif
}

unsigned long long descent_threads_room_needed(int threads) {
  int taken = descent_blas_buffers_taken();
  unsigned long long need = BUDGET_ROOM_BYTES;
  if (taken < threads)
    need += (unsigned long long)(threads - taken) * BLAS_BUFFER_BYTES +
            (unsigned long long)(threads - (taken > 1 ? taken : 1)) * MORE_THREAD_BYTES;
  return need;
}

int descent_threads_check(int threads, const char *what) {
  if (threads < 0)
    return descent_fail(DESCENT_EINVAL,
                        "%s: thread count %d is negative; give 0 (the calling thread's OpenMP "
                        "setting) or a count of at least 1",
                        what, threads);
  /* More threads than the address space holds buffers for would hang in
     OpenBLAS. */
  int budget = descent_thread_budget();
  if (threads > budget && budget > 0)
    return descent_fail(DESCENT_ERANGE,
                        "%s: %d threads need about %llu MiB of address space; the limit "
                        "(ulimit -v) leaves room for %d: ask for at most %d or raise the limit",
                        what, threads, descent_thread_budget_bytes(threads) >> 20, budget, budget);
  return DESCENT_OK;
}

/* The count of the outermost call in progress on this thread that applied
   one (0: none): a trainer's count then holds for the network and the
   optimizer it runs, whatever theirs. */
static _Thread_local int outer_threads;

descent_thread_scope descent_threads_begin(int threads) {
  descent_thread_scope s = {omp_get_max_threads(), outer_threads};
  int use = outer_threads > 0 ? outer_threads : threads;
  if (use > 0) {
    if (use != s.caller) omp_set_num_threads(use);
    outer_threads = use;
  }
  return s;
}

void descent_threads_end(descent_thread_scope s) {
  if (omp_get_max_threads() != s.caller) omp_set_num_threads(s.caller);
  outer_threads = s.outer;
}

int descent_set_threads(int n) {
  if (n <= 0) n = omp_get_num_procs();
  int budget = descent_thread_budget();
  if (n > budget && budget > 0) n = budget;
  omp_set_num_threads(n); /* the calling thread's setting alone */
  return n;
}

int descent_get_threads(void) {
  return omp_get_max_threads();
}

const char *descent_blas_name(void) {
  static _Thread_local char name[512]; /* every part below at its longest; per thread */
  const char *parallel = "";
  switch (openblas_get_parallel()) {
  case 0:
    parallel = "sequential";
    break;
  case 1:
    parallel = "pthreads";
    break;
  case 2:
    parallel = "OpenMP";
    break;
  }
  /* openblas_get_config() names the kernels too, after a space; keep the version. */
  char version[64];
  snprintf(version, sizeof version, "%s", openblas_get_config());
  char *space = strchr(version + sizeof "OpenBLAS", ' ');
  if (space) *space = '\0';
  const char *core = openblas_get_corename(), *detected = descent_blas_detected_core();
  char kernels[160];
  if (strcmp(core, detected) == 0)
    snprintf(kernels, sizeof kernels, "%s kernels", core);
  else
    snprintf(kernels, sizeof kernels, "%s kernels (it detected %s; see blas_select.c)", core,
             detected);
#ifdef DESCENT_DOUBLE
  const int own = 0;
#else
  const int own = descent_sgemm_enabled && sgemm_avx512_available();
#endif
  char products[160] = "";
  if (own && descent_cpu_splits_avx512())
    snprintf(products, sizeof products,
             "; large float products on descent's AVX-512 kernel (on one thread those with a "
             "transposed operand, x W^T up to %zu deep)",
             sgemm_avx512_depth());
  else if (own)
    snprintf(products, sizeof products, "; large float products on descent's AVX-512 kernel");
  const char *dnnl = "";
#ifndef DESCENT_DOUBLE
  if (sgemm_dnnl_available() && descent_isa_path() == DESCENT_ISA_AVX2)
    dnnl = "; on oneDNN the dense layers' weight gradients and forward products from 2^20 "
           "multiply-adds (on one thread the forward ones of up to 256 units), and their "
           "input gradients of 2^20 to 2^23";
#endif
  snprintf(name, sizeof name, "%s, %s threads, %s%s%s; kernel path %s", version, parallel, kernels,
           products, dnnl, descent_isa_name());
  return name;
}
