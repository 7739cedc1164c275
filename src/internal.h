/*
 * internal.h - helpers shared by the library's source files; not installed.
 */
#ifndef DESCENT_INTERNAL_H
#define DESCENT_INTERNAL_H

#include "descent.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#if defined(__GNUC__)
#define DESCENT_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define DESCENT_PRINTF(a, b)
#endif

/* The longest message descent_last_error() holds, with its NUL. */
#define DESCENT_ERROR_CAP 4096

/* Records a formatted message for descent_last_error() and returns status, so a
 * failure reads `return descent_fail(DESCENT_EINVAL, "...", ...);`. */
int descent_fail(int status, const char *fmt, ...) DESCENT_PRINTF(2, 3);

/* Adds context in front of the current message: "file.gz: " + message. */
void descent_error_prefix(const char *fmt, ...) DESCENT_PRINTF(1, 2);

/* Clears the message (at the start of a public call that may fail). */
void descent_error_clear(void);

/* a * b without overflow: returns false (and leaves *out alone) if it would. */
static inline bool descent_mul_ok(size_t a, size_t b, size_t *out) {
  if (a != 0 && b > (size_t)-1 / a) return false;
  *out = a * b;
  return true;
}

/* DESCENT_ENOMEM with "what: cannot allocate bytes", and under an
 * address-space limit (ulimit -v) the limit and the fix. */
int descent_fail_alloc(const char *what, size_t bytes);

/* Allocation helpers that record an error message on failure. count * size is
 * checked for overflow. The memory of descent_alloc_real is 64-byte aligned
 * (one cache line, one AVX-512 register) and zeroed. */
void *descent_calloc(size_t count, size_t size, const char *what);
descent_real *descent_alloc_real(size_t count, const char *what);
void descent_free_real(descent_real *p);

/* Parsing helpers for numbers in specs and options: the whole string must be a
 * finite number (or integer); false otherwise. Numbers are decimal only:
 * [+-]digits[.digits][e[+-]digits], no hexadecimal, inf, nan or spaces. */
bool descent_parse_double(const char *text, double *out);
/* The same, telling why: DESCENT_OK, DESCENT_EINVAL (not a decimal number) or
 * DESCENT_ERANGE (a double cannot hold it: it overflows, or underflows to 0
 * or to a subnormal). Records no message: the caller names the field and
 * quotes DESCENT_NUMBER_RANGE. */
int descent_parse_number(const char *text, double *out);
#define DESCENT_NUMBER_RANGE                                                                       \
  "0 or a magnitude from 2.2250738585072014e-308 to 1.7976931348623157e+308"
bool descent_parse_size(const char *text, size_t *out);

/* Rows [first, first + count) of batch b, whose examples have `features`
 * inputs and `outputs` targets each: pointers into b's arrays (accumulation's
 * micro-batches, a data-parallel rank's shard). */
descent_batch descent_batch_slice(const descent_batch *b, size_t first, size_t count,
                                  size_t features, size_t outputs);

/* Opens path for reading if it is a regular file, into *fd (the caller
 * closes it) and, if st is not NULL, its stat. A FIFO, a directory or a device
 * is refused at once, without blocking, with a message naming what it is. */
struct stat;
int descent_open_regular(const char *path, int *fd, struct stat *st);

/* Example i of ds, a set held as bytes (ds->bytes set), decoded into out
 * (ds->features numbers; see descent_dataset). */
void dataset_decode_row(const descent_dataset *ds, size_t i, descent_real *out);

/* The inputs of examples first .. first + count - 1 of ds (a valid range):
 * where x holds them, or decoded into scratch (count x features numbers)
 * from bytes. */
const descent_real *dataset_inputs(const descent_dataset *ds, size_t first, size_t count,
                                   descent_real *scratch);

/* How many gzipped IDX files idx.c has inflated whole with libdeflate (rather
 * than through zlib's streaming reads), for the tests; and a switch that
 * leaves every file to zlib (on: 1, the default), for the fuzzer to compare
 * the two readers. */
size_t idx_whole_reads(void);
void idx_whole_enable(int on);

/* The most threads whose OpenBLAS buffers fit under the address-space limit
 * (RLIMIT_AS): INT_MAX without a limit, 0 when not even one fits. And the
 * address space that many threads need, for the message that says so (0
 * threads: OpenBLAS started, and nothing computed). Both take OpenBLAS to
 * have started with one thread of its own (OMP_NUM_THREADS=1, which the
 * program sets under a limit: descent only ever calls it for one); a
 * program that starts it with more has less room than they count. */
int descent_thread_budget(void);
unsigned long long descent_thread_budget_bytes(int threads);

/* Has the budget above count what the process maps now as what it maps
 * before OpenBLAS starts: a program calls it from its .preinit_array, which
 * runs before any library's constructor. */
void descent_thread_budget_measure(void);

/* The address space the process maps now (/proc/self/statm), in bytes:
 * 0, or -1 where /proc cannot tell. */
int descent_address_space_used(unsigned long long *bytes);

/* Has OpenBLAS map, now, the buffers that `threads` threads calling it at
 * once use (one each, 128 MiB): a program under an address-space limit
 * does it at start, where the room descent_thread_budget counted for them
 * is still free, rather than at its first products, after its data may
 * have taken that room (where OpenBLAS would retry its allocation
 * forever). Starts the OpenMP threads too. Takes no more than the limit
 * still holds. Returns the count of buffers now held for reuse
 * (descent_blas_buffers_taken), or 0 where OpenBLAS does not export its
 * allocator. */
int descent_blas_buffers_take(int threads);
int descent_blas_buffers_taken(void);

/* 1 and the address-space limit (RLIMIT_AS) in bytes, or 0 without one. */
int descent_address_space_limit(unsigned long long *bytes);

/* Under an address-space limit, readies what `threads` threads will call
 * before a program loads its data: OpenBLAS's buffers
 * (descent_blas_buffers_take) and oneDNN's GEMM kernels, whose generation
 * crashes when it finds too little room. Nothing without a limit. */
void descent_threads_reserve(int threads);

/* The address space `threads` threads still map at their first products
 * beyond what descent_threads_reserve took (OpenBLAS's buffers, the heaps
 * and stacks of threads not yet started), plus a little room. */
unsigned long long descent_threads_room_needed(int threads);

/* DESCENT_OK when threads is a valid object thread count (0: inherit, or a
 * count the address-space limit leaves room for); else a message naming
 * `what` (the setter or option) and the fix. */
int descent_threads_check(int threads, const char *what);

/* An object's thread count applied to the calling thread for one call:
 * begin sets the calling thread's OpenMP count to threads (0: leaves it),
 * unless an outer call on this thread (a trainer running a network) already
 * applied one, which then holds; end puts the caller's setting back. Every
 * public call of a network, optimizer or trainer that computes brackets its
 * work with the two. */
typedef struct descent_thread_scope {
  int caller; /* the calling thread's omp_get_max_threads() before begin */
  int outer;  /* the count applied by an outer call, 0 when none */
} descent_thread_scope;
descent_thread_scope descent_threads_begin(int threads);
void descent_threads_end(descent_thread_scope s);

/* Reads a whole regular file of at most max_bytes into a new buffer with a
 * NUL after the last byte (caller frees). */
int descent_read_file(const char *path, size_t max_bytes, unsigned char **data, size_t *len);

/* Writes a file so that a crash leaves the old or the new content, never a
 * mix: temporary file, fsync, rename, fsync of the folder. */
int descent_write_file_atomic(const char *path, const void *data, size_t len);

/* Flushes the folder holding path (after a rename or unlink in it). */
int descent_fsync_dir(const char *path);

/* C = alpha * op(A) op(B) + beta * C, row-major, op(X) = X or X^T.
 * op(A) is m x k, op(B) is k x n, C is m x n; lda, ldb, ldc are row strides.
 * descent_gemm calls the BLAS; descent_gemm_reference is the naive triple loop
 * it is tested against (accumulating in double). Internal: the static
 * libraries have them (the tests and benchmarks call them), the shared ones
 * do not export them. */
void descent_gemm(int trans_a, int trans_b, size_t m, size_t n, size_t k, descent_real alpha,
                  const descent_real *a, size_t lda, const descent_real *b, size_t ldb,
                  descent_real beta, descent_real *c, size_t ldc);
void descent_gemm_reference(int trans_a, int trans_b, size_t m, size_t n, size_t k,
                            descent_real alpha, const descent_real *a, size_t lda,
                            const descent_real *b, size_t ldb, descent_real beta, descent_real *c,
                            size_t ldc);

/* descent_gemm in double whatever the build's precision (statistics of the
 * data, such as the covariance that whitening diagonalizes). */
void descent_gemm_f64(int trans_a, int trans_b, size_t m, size_t n, size_t k, double alpha,
                      const double *a, size_t lda, const double *b, size_t ldb, double beta,
                      double *c, size_t ldc);

/* descent_gemm in a layer's precision (descent_precision): for
 * DESCENT_PRECISION_BF16, op(A) and op(B) rounded to bf16 and the products
 * summed in float (src/core/sgemm_bf16.c), and C rounded to bf16 when
 * round_c is set (autocast's bf16 outputs); for DESCENT_PRECISION_FP32,
 * descent_gemm itself (round_c is ignored). */
/* A dense layer's own product (dense.c): descent_gemm_precision with alpha
 * 1, except that in fp32 oneDNN takes the
 * products it measured faster at (gemm.c), with the thread count
 * descent_gemm_dnnl_threads gives (0: oneDNN does not take it). The other
 * callers' products were not measured, so they keep descent_gemm. */
void descent_gemm_dense(int precision, int round_c, int trans_a, int trans_b, size_t m, size_t n,
                        size_t k, const descent_real *a, size_t lda, const descent_real *b,
                        size_t ldb, descent_real beta, descent_real *c, size_t ldc);
int descent_gemm_dnnl_threads(int trans_a, int trans_b, size_t m, size_t n, size_t k);
/* Readies the products a dense layer of `in` inputs and `out` units will
 * ask descent_gemm_dense for at batches of up to `batch` examples (its
 * forward x W^T, weight gradient dy^T x and input gradient dy W): where
 * oneDNN takes one at the caller's thread count, its kernels are generated
 * now (sgemm_dnnl_prepare) rather than in the first step. */
void descent_gemm_dense_prepare(size_t out, size_t in, size_t batch);

void descent_gemm_precision(int precision, int round_c, int trans_a, int trans_b, size_t m,
                            size_t n, size_t k, descent_real alpha, const descent_real *a,
                            size_t lda, const descent_real *b, size_t ldb, descent_real beta,
                            descent_real *c, size_t ldc);

/* C = op(A) op(B) + bias (n values added to each row; C is not read), with
 * the work that follows a dense layer's product done on each tile of the
 * product as it is finished, where the float AVX-512 kernel takes it (gemm.c):
 * relu, when not NULL, gets max(C, 0) (leading dimension ldc), and C's
 * elements where mask (m x n, ldc; NULL: none) is not above 0 are 0.
 * Returns 1 when done so, bit for bit the product followed by those
 * passes; 0, with nothing written, where the product would run elsewhere
 * (OpenBLAS, the bf16 kernel, the double build): the caller runs the
 * product and its passes. */
int descent_gemm_fused(int precision, int trans_a, int trans_b, size_t m, size_t n, size_t k,
                       const descent_real *a, size_t lda, const descent_real *b, size_t ldb,
                       descent_real *c, size_t ldc, const descent_real *bias, descent_real *relu,
                       const descent_real *mask);

/* DESCENT_OK when this build, CPU and kernel path run bf16 products
 * (DESCENT_PRECISION_BF16 in descent_gemm_precision); otherwise
 * DESCENT_ENOTSUP with a message naming `what` wants them and, as the fix,
 * `instead` ("use fp32"). */
int descent_bf16_check(const char *what, const char *instead);

/* The largest n for which src/core/eigen.c hands an n x n matrix to LAPACK,
 * whose sizes and offsets are 32-bit integers: n * n must stay below
 * 2^31 - 1 = 2.147e9. 46341 is the true limit; 46000 (46000^2 = 2.116e9) is a
 * round bound under it. Callers that keep n x n factors refuse wider ones
 * before allocating. A macro, so that spec tables can use it. */
#define DESCENT_LAPACK_MAX_DIM 46000

/* Eigenvalues (ascending, in w) and eigenvectors of the symmetric n x n
 * matrix a, by LAPACK's dsyevd; on return row k of a is the unit eigenvector
 * of w[k]. LAPACK is called from src/core/eigen.c only. */
int descent_symmetric_eigen(size_t n, double *a, double *w);

/* Replaces the n x n matrix a (row-major) by the orthonormal Q of its QR
 * factorization a = QR (Householder: LAPACK's dgeqrf, then dorgqr), as
 * torch.linalg.qr gives it; for SOAP's eigenbasis refresh. LAPACK is called
 * from src/core/eigen.c only. */
int descent_qr_orthonormal(size_t n, double *a);

/* Eigenvalues (ascending, into d) and eigenvectors of the symmetric
 * tridiagonal n x n matrix with diagonal d (n values) and off-diagonal e
 * (n - 1 values, overwritten), by LAPACK's dstev; row k of z (n x n) is the
 * unit eigenvector of d[k]. For Lanczos's matrix (src/core/lanczos.c). */
int descent_tridiagonal_eigen(size_t n, double *d, double *e, double *z);

/* Replaces the symmetric positive definite n x n matrix a (row-major, both
 * triangles) by its inverse, both triangles, by LAPACK's Cholesky
 * factorization and inverse (dpotrf, dpotri; src/core/eigen.c).
 * DESCENT_EDIVERGED when a is not positive definite (or not finite). */
int descent_spd_inverse(size_t n, double *a);

/* Whether this CPU runs AVX-512F code, asked from a file compiled for the
 * baseline (src/core/isa.c): the files built with -mavx512f call it before
 * any of their own code runs. */
int descent_cpu_has_avx512(void);

/* The core OpenBLAS picked by itself, before descent_cpu_setup stepped in
 * (the current one when it has not run). */
const char *descent_blas_detected_core(void);

/* descent_cpu_setup's part for oneDNN (src/nn/conv_dnnl.c): on a CPU with
 * AVX-512 and the avx2 path forced, holds oneDNN to AVX2, process-wide. */
int descent_dnnl_setup(void);

/* 1 once descent_cpu_setup has run and succeeded (OpenBLAS's kernels and
 * oneDNN's instruction set settled for the process), else 0. */
int descent_cpu_setup_done(void);

/* 1 on CPUs with AVX-512 that run a 512-bit operation as two 256-bit halves
 * (AMD Zen 4): there OpenBLAS's AVX2 kernels match the AVX-512 ones' peak
 * and were measured faster (blas_select.c, gemm.c). */
int descent_cpu_splits_avx512(void);

/* Whether obj's per-example gradients (descent_objective_example_gradients)
 * can be computed at all, checked before a run starts (a tracker measuring
 * gradient noise): DESCENT_ENOTSUP naming what is missing (the objective's
 * kind, a network's first layer without them, a lab problem's family that
 * is no finite sum), or DESCENT_OK (src/optim/objective.c). */
int descent_objective_check_example_gradients(const descent_objective *obj);

#endif /* DESCENT_INTERNAL_H */
