/*
 * gemm_libs.c - the products of an MLP's training step on every matrix
 * library Debian offers, to decide which serves each shape on each kernel
 * path.
 *
 * For each dense layer in -> out of a model at batch 128 the step has three
 * products (row-major, as descent stores them): the forward x W^T (128 x out
 * x in, W transposed), the input gradient dy W (128 x in x out; not for the
 * first layer) and the weight gradient dy^T x (out x in x 128). Each is
 * timed, with the same operands, on:
 *  - descent: descent_gemm_dense, as a dense layer's step calls it (its own
 *    choice of kernel, oneDNN or OpenBLAS, and threads on this path);
 *  - kernel: the AVX-512 kernel of sgemm_avx512.c alone, where the path has it;
 *  - openblas: descent_gemm with its kernel and oneDNN switched off
 *    (OpenBLAS, one call per thread on slabs of C, as descent runs it);
 *  - onednn: dnnl_sgemm (oneDNN's JIT GEMM on its own OpenMP threads; its
 *    maximum ISA follows the path: avx512 -> avx512_core, avx2 -> avx2);
 *  - blis: bli_sgemm (BLIS's object-free typed API, its own OpenMP threads,
 *    the configuration BLIS picks for this CPU: printed);
 *  - libxsmm: libxsmm_sgemm, which JIT-compiles small products and hands the
 *    others to the BLAS it is linked with (OpenBLAS here), one thread.
 * A library that was not linked (the script builds with what is installed)
 * is left out. Each product runs in two conditions: warm (the same call
 * repeated), and "step", where before each call an SGD-like pass rewrites 16
 * MB and the weights (B of x W^T and dy W; the weight gradient has none), as
 * the optimizer's pass does between a step's products: the operands then
 * come from L3 or memory. Every library's
 * result is compared with OpenBLAS's (largest difference relative to the
 * largest |C|); one above 1e-4 stops the program, so that a mis-stated
 * transpose cannot pass as a fast product.
 *
 * usage: gemm_libs THREADS [REPS] [MODEL...]   (models: mlp:784-1024-1024-10 ...)
 * Prints lines: gemm PATH THREADS MODEL PRODUCT MxNxK LIB COND median_ms=T best_ms=B
 * peak_share=S (S of THREADS x the path's fp32 peak given by DESCENT_PEAK_GFLOPS,
 * per core, when set)
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime under -std=c11 */

#include "core/sgemm_avx512.h"
#include "core/sgemm_dnnl.h"
#include "internal.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "timing.h"

#ifdef HAVE_DNNL
#include <dnnl.h>
#endif
#ifdef HAVE_BLIS
#include <blis.h>
#endif
#ifdef HAVE_XSMM
#include <libxsmm.h>
#endif

enum { BATCH = 128, MAX_LAYERS = 16 };

typedef struct product {
  const char *name; /* x W^T, dy W, dy^T x */
  int ta, tb;
  size_t m, n, k;
  int weights_are_b; /* B is the weights (forward, input gradient); else none is */
} product;

typedef enum lib {
  LIB_DESCENT,
  LIB_KERNEL,
  LIB_OPENBLAS,
  LIB_ONEDNN,
  LIB_BLIS,
  LIB_XSMM,
  LIBS
} lib;
static const char *lib_names[LIBS] = {"descent", "kernel", "openblas", "onednn", "blis", "libxsmm"};

static int threads;

static int lib_available(lib l) {
  switch (l) {
  case LIB_DESCENT:
  case LIB_OPENBLAS:
    return 1;
  case LIB_KERNEL:
    return sgemm_avx512_available();
#ifdef HAVE_DNNL
  case LIB_ONEDNN:
    return 1;
#endif
#ifdef HAVE_BLIS
  case LIB_BLIS:
    return 1;
#endif
#ifdef HAVE_XSMM
  case LIB_XSMM:
    return threads == 1;
#endif
  default:
    return 0;
  }
}

/* C = op(A) op(B), row-major, on library l. */
static void run(lib l, const product *p, const float *a, const float *b, float *c) {
  size_t lda = p->ta ? p->m : p->k, ldb = p->tb ? p->k : p->n, ldc = p->n;
  switch (l) {
  case LIB_DESCENT:
    descent_gemm_dense(DESCENT_PRECISION_FP32, 0, p->ta, p->tb, p->m, p->n, p->k, a, lda, b, ldb, 0,
                       c, ldc);
    break;
  case LIB_KERNEL:
    if (sgemm_avx512(p->ta, p->tb, p->m, p->n, p->k, 1, a, lda, b, ldb, 0, c, ldc, threads)) {
      fprintf(stderr, "gemm_libs: the kernel refused a product\n");
      exit(1);
    }
    break;
  case LIB_OPENBLAS:
    descent_sgemm_enabled = 0, descent_sgemm_dnnl_enabled = 0;
    descent_gemm(p->ta, p->tb, p->m, p->n, p->k, 1, a, lda, b, ldb, 0, c, ldc);
    descent_sgemm_enabled = 1, descent_sgemm_dnnl_enabled = 1;
    break;
#ifdef HAVE_DNNL
  case LIB_ONEDNN:
    if (dnnl_sgemm(p->ta ? 'T' : 'N', p->tb ? 'T' : 'N', (dnnl_dim_t)p->m, (dnnl_dim_t)p->n,
                   (dnnl_dim_t)p->k, 1.0f, a, (dnnl_dim_t)lda, b, (dnnl_dim_t)ldb, 0.0f, c,
                   (dnnl_dim_t)ldc) != dnnl_success) {
      fprintf(stderr, "gemm_libs: dnnl_sgemm failed\n");
      exit(1);
    }
    break;
#endif
#ifdef HAVE_BLIS
  case LIB_BLIS: {
    float one = 1, zero = 0;
    /* Row-major: a row stride of the leading dimension, a column stride of 1. */
    bli_sgemm(p->ta ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE,
              p->tb ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE, (dim_t)p->m, (dim_t)p->n, (dim_t)p->k,
              &one, (float *)a, (inc_t)lda, 1, (float *)b, (inc_t)ldb, 1, &zero, c, (inc_t)ldc, 1);
    break;
  }
#endif
#ifdef HAVE_XSMM
  case LIB_XSMM: {
    /* Column-major: C^T = op(B)^T op(A)^T. */
    libxsmm_blasint m = (libxsmm_blasint)p->n, n = (libxsmm_blasint)p->m, k = (libxsmm_blasint)p->k,
                    la = (libxsmm_blasint)ldb, lb = (libxsmm_blasint)lda, lc = (libxsmm_blasint)ldc;
    float one = 1, zero = 0;
    char tra = p->tb ? 'T' : 'N', trb = p->ta ? 'T' : 'N';
    libxsmm_sgemm(&tra, &trb, &m, &n, &k, &one, b, &la, a, &lb, &zero, c, &lc);
    break;
  }
#endif
  default:
    break;
  }
}

static float *filled(size_t count, unsigned seed) {
  float *p = aligned_alloc(64, (count * sizeof(float) + 63) / 64 * 64);
  if (!p) {
    fprintf(stderr, "gemm_libs: out of memory\n");
    exit(1);
  }
  unsigned s = seed;
  for (size_t i = 0; i < count; i++) {
    s = s * 1664525u + 1013904223u;
    p[i] = (float)(s >> 8) / 16777216.0f - 0.5f;
  }
  return p;
}

/* What the optimizer's pass does to memory between two products: rewrites
   the weights and 16 MB of other state. */
static float *sweep_a, *sweep_b;
enum { SWEEP = 4 << 20 }; /* floats in each of the two sweep buffers */
static void step_pass(float *weights, size_t count) {
#pragma omp parallel for num_threads(threads) schedule(static)
  for (size_t i = 0; i < SWEEP; i++) sweep_a[i] -= 1e-12f * sweep_b[i];
  for (size_t i = 0; weights && i < count; i++) weights[i] -= 1e-12f * sweep_b[i];
}

/* The layer sizes of "mlp:784-100-10" into sizes (at most MAX_LAYERS + 1):
   their count, or -1 for anything else (a size of 0, a dash too many or at
   the end, too many layers). */
static int parse_model(const char *spec, size_t *sizes) {
  if (strncmp(spec, "mlp:", 4) != 0) return -1;
  int count = 0;
  const char *s = spec + 4;
  for (;;) {
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || v <= 0 || count == MAX_LAYERS + 1) return -1;
    sizes[count++] = (size_t)v;
    if (*end == '\0') break;
    if (*end != '-') return -1;
    s = end + 1;
  }
  return count >= 2 ? count : -1;
}

/* A whole decimal argument of at least `least`, or -1. */
static long whole(const char *text, long least) {
  char *end;
  long v = strtol(text, &end, 10);
  return end != text && *end == '\0' && v >= least ? v : -1;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: gemm_libs THREADS [REPS] [MODEL...]\n");
    return 2;
  }
  threads = (int)whole(argv[1], 1);
  int reps = argc > 2 ? (int)whole(argv[2], 3) : 50;
  if (threads < 1 || reps < 3) {
    fprintf(stderr, "gemm_libs: THREADS must be positive and REPS at least 3\n");
    return 2;
  }
  if (descent_isa_check()) {
    fprintf(stderr, "gemm_libs: %s\n", descent_last_error());
    return 2;
  }
  descent_set_threads(threads);
  omp_set_num_threads(threads);
  printf("# path %s, %d thread(s)\n", descent_isa_name(), threads);
#ifdef HAVE_DNNL
  int path = descent_isa_path();
  if (path != DESCENT_ISA_PORTABLE)
    dnnl_set_max_cpu_isa(path == DESCENT_ISA_AVX512 ? dnnl_cpu_isa_avx512_core : dnnl_cpu_isa_avx2);
#endif
  if (descent_cpu_setup()) {
    fprintf(stderr, "gemm_libs: %s\n", descent_last_error());
    return 2;
  }
#ifdef HAVE_BLIS
  bli_thread_set_num_threads(threads);
  printf("# blis %s, configuration %s\n", bli_info_get_version_str(),
         bli_arch_string(bli_arch_query_id()));
#endif
#ifdef HAVE_XSMM
  libxsmm_init();
  printf("# libxsmm target %s\n", libxsmm_get_target_arch());
#endif
#ifdef HAVE_DNNL
  const dnnl_version_t *v = dnnl_version();
  printf("# onednn %d.%d.%d\n", v->major, v->minor, v->patch);
#endif
  const char *peak_env = getenv("DESCENT_PEAK_GFLOPS");
  double peak = peak_env ? atof(peak_env) * 1e9 * threads : 0;
  sweep_a = filled(SWEEP, 1), sweep_b = filled(SWEEP, 2);
  const char *default_models[] = {"mlp:784-1024-1024-10", "mlp:784-256-128-10", "mlp:784-100-10"};
  int model_count = argc > 3 ? argc - 3 : 3;
  for (int mi = 0; mi < model_count; mi++) { /* every model checked before any timing */
    size_t sizes[MAX_LAYERS + 1];
    const char *model = argc > 3 ? argv[3 + mi] : default_models[mi];
    if (parse_model(model, sizes) < 0) {
      fprintf(stderr, "gemm_libs: %s is not a model like mlp:784-100-10\n", model);
      return 2;
    }
  }
  double *times = malloc(sizeof(double) * (size_t)reps);
  for (int mi = 0; mi < model_count; mi++) {
    const char *model = argc > 3 ? argv[3 + mi] : default_models[mi];
    size_t sizes[MAX_LAYERS + 1];
    int count = parse_model(model, sizes);
    if (count < 0) {
      fprintf(stderr, "gemm_libs: %s is not a model like mlp:784-100-10\n", model);
      return 2;
    }
    for (int layer = 0; layer + 1 < count; layer++) {
      size_t in = sizes[layer], out = sizes[layer + 1];
      product products[3] = {{"xW^T", 0, 1, BATCH, out, in, 1},
                             {"dyW", 0, 0, BATCH, in, out, 1},
                             {"dy^Tx", 1, 0, out, in, BATCH, 0}};
      for (int pi = 0; pi < 3; pi++) {
        const product *p = &products[pi];
        if (pi == 1 && layer == 0) continue; /* no input gradient for the data */
        size_t a_count = p->m * p->k, b_count = p->k * p->n, c_count = p->m * p->n;
        float *a = filled(a_count, 3), *b = filled(b_count, 4), *c = filled(c_count, 5),
              *ref = filled(c_count, 6);
        run(LIB_OPENBLAS, p, a, b, ref);
        double scale = 0;
        for (size_t i = 0; i < c_count; i++) scale = fmax(scale, fabs(ref[i]));
        for (int l = 0; l < LIBS; l++) {
          if (!lib_available((lib)l)) continue;
          run((lib)l, p, a, b, c);
          double diff = 0;
          for (size_t i = 0; i < c_count; i++) diff = fmax(diff, fabs(c[i] - ref[i]));
          if (!(diff <= 1e-4 * scale)) {
            fprintf(stderr, "gemm_libs: %s's %s differs from OpenBLAS's by %g (of %g)\n",
                    lib_names[l], p->name, diff, scale);
            return 1;
          }
          for (int cond = 0; cond < 2; cond++) {
            float *weights = p->weights_are_b ? b : NULL;
            for (int r = 0; r < 2; r++) run((lib)l, p, a, b, c); /* warm-up */
            for (int r = 0; r < reps; r++) {
              if (cond) step_pass(weights, b_count);
              double t0 = now();
              run((lib)l, p, a, b, c);
              times[r] = now() - t0;
            }
            qsort(times, (size_t)reps, sizeof *times, compare);
            double median = times[reps / 2];
            printf("gemm %s %d %s %s %zux%zux%zu %s %s median_ms=%.4f best_ms=%.4f",
                   descent_isa_name(), threads, model, p->name, p->m, p->n, p->k, lib_names[l],
                   cond ? "step" : "warm", median * 1e3, times[0] * 1e3);
            if (peak > 0)
              printf(" peak_share=%.3f",
                     2.0 * (double)p->m * (double)p->n * (double)p->k / median / peak);
            printf("\n");
            fflush(stdout);
          }
        }
        free(a), free(b), free(c), free(ref);
      }
    }
  }
  free(times), free(sweep_a), free(sweep_b);
  return 0;
}
