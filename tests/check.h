/*
 * check.h - the assertion macros of descent's tests.
 *
 * A test program runs its checks, prints each failure with file and line, and
 * exits non-zero if any failed (CTest reads the exit code). CHECK_OK prints the
 * library's last error, so a failing call explains itself.
 */
#ifndef DESCENT_CHECK_H
#define DESCENT_CHECK_H

#include "descent.h"

#include <math.h>
#include <stdio.h>
#include <unistd.h>
#include <string.h>

static int check_failures = 0;
static int check_count = 0;

#define CHECK(cond)                                                                                \
  do {                                                                                             \
    check_count++;                                                                                 \
    if (!(cond)) {                                                                                 \
      check_failures++;                                                                            \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);                     \
    }                                                                                              \
  } while (0)

#define CHECK_MSG(cond, ...)                                                                       \
  do {                                                                                             \
    check_count++;                                                                                 \
    if (!(cond)) {                                                                                 \
      check_failures++;                                                                            \
      fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond);                     \
      fprintf(stderr, __VA_ARGS__);                                                                \
      fputc('\n', stderr);                                                                         \
    }                                                                                              \
  } while (0)

/* A library call that must succeed. */
#define CHECK_OK(call)                                                                             \
  do {                                                                                             \
    int check_status_ = (call);                                                                    \
    CHECK_MSG(check_status_ == DESCENT_OK, "%s returned %d (%s): %s", #call, check_status_,        \
              descent_strerror(check_status_), descent_last_error());                              \
  } while (0)

/* A library call that must fail with `status` and a message containing `needle`. */
#define CHECK_FAILS(call, status, needle)                                                          \
  do {                                                                                             \
    int check_status_ = (call);                                                                    \
    CHECK_MSG(check_status_ == (status), "%s returned %d, expected %d; message: %s", #call,        \
              check_status_, (int)(status), descent_last_error());                                 \
    CHECK_MSG(strstr(descent_last_error(), (needle)) != NULL, "message of %s lacks \"%s\": %s",    \
              #call, (needle), descent_last_error());                                              \
  } while (0)

/* |a - b| <= tol * max(1, |a|, |b|): relative above 1, absolute below it.
 * Below 1 it cannot see a term much smaller than tol (an optimizer's eps, a
 * small correction): compare such values with CHECK_REL. */
#define CHECK_CLOSE(a, b, tol)                                                                     \
  do {                                                                                             \
    double check_a_ = (double)(a), check_b_ = (double)(b);                                         \
    double check_scale_ = fmax(1.0, fmax(fabs(check_a_), fabs(check_b_)));                         \
    CHECK_MSG(fabs(check_a_ - check_b_) <= (tol)*check_scale_, "%s = %.17g, %s = %.17g", #a,       \
              check_a_, #b, check_b_);                                                             \
  } while (0)

/* |a - b| <= tol * max(|a|, |b|): relative at every magnitude, so a value of
 * 1e-5 is held to tol of itself, not of 1. For formulas where a small term
 * (eps, a bias correction) decides the result's last digits. */
#define CHECK_REL(a, b, tol)                                                                       \
  do {                                                                                             \
    double check_a_ = (double)(a), check_b_ = (double)(b);                                         \
    double check_scale_ = fmax(fabs(check_a_), fabs(check_b_));                                    \
    CHECK_MSG(fabs(check_a_ - check_b_) <= (tol)*check_scale_,                                     \
              "%s = %.17g, %s = %.17g (%.3g "                                                      \
              "relative, limit %g)",                                                               \
              #a, check_a_, #b, check_b_,                                                          \
              check_scale_ > 0 ? fabs(check_a_ - check_b_) / check_scale_ : 0.0, (double)(tol));   \
  } while (0)

/* A kernel path forced by DESCENT_ISA (src/core/isa.c) that this CPU cannot
 * run: the program says so and exits 77, which CTest reports as skipped (an
 * unknown path name fails),
 * before any check runs (the library would otherwise run another path under
 * the forced path's name). Then descent_cpu_setup, as the descent program
 * makes it at its start, so that the tests run the kernels the program
 * runs. Runs before main in every test program, unless it defines
 * CHECK_NO_CPU_SETUP before including this file (a test of what the library
 * does without it). */
#ifndef CHECK_NO_CPU_SETUP
__attribute__((constructor)) static void check_forced_path(void) {
  int rc = descent_isa_check();
  if (rc == DESCENT_OK)
    rc = descent_cpu_setup();
  else if (rc == DESCENT_ENOTSUP) { /* only a path this CPU lacks is a skip */
    printf("SKIP: %s\n", descent_last_error());
    fflush(stdout);
    _exit(77);
  }
  if (rc == DESCENT_OK) return;
  printf("FAIL: %s\n", descent_last_error());
  fflush(stdout);
  _exit(1);
}
#endif

/* Prints the tally; use as `return check_report();` at the end of main. A
 * program that made no check at all fails: its code did not run (a loop
 * over an empty list, a missing fixture, an early return), and passing would
 * hide that. A program that cannot run here says SKIP and exits 77 instead. */
static inline int check_report(void) {
  printf("%d checks, %d failed\n", check_count, check_failures);
  if (check_count == 0) {
    printf("FAIL: no check ran; a test that cannot run here must say SKIP and exit 77\n");
    return 1;
  }
  return check_failures ? 1 : 0;
}

/* The larger of a running worst error and a new one, a NaN winning (fmax
   would pass over it, hiding a failure). Also what GCC 12 for aarch64 can
   compile: it stops with an internal error vectorizing some fmax
   reductions. */
static inline double check_worst(double worst, double x) {
  return x > worst || isnan(x) ? x : worst;
}

/* The optimizer tests' starting parameters: a fixed pattern in [-1.5, 1.5). */
static inline void check_init_params(descent_real *p, size_t n) {
  for (size_t i = 0; i < n; i++) p[i] = (descent_real)(((double)(i % 89) - 44) / 30);
}

/* How many of a[0, n) and b[0, n) differ in their bits. */
static inline size_t check_count_differences(const descent_real *a, const descent_real *b,
                                             size_t n) {
  size_t differ = 0;
  for (size_t i = 0; i < n; i++) differ += memcmp(&a[i], &b[i], sizeof a[i]) != 0;
  return differ;
}

#endif /* DESCENT_CHECK_H */
