/*
 * test_gemm.c - the BLAS path against the naive reference kernel, on awkward
 * shapes (1, 7, 129 and mixed) and every combination of transposed operands,
 * with alpha and beta other than 1 and 0.
 *
 * On CPUs with AVX-512 the float build's descent_gemm runs its own kernel
 * (src/core/sgemm_avx512.c) for all but small products; `test_gemm avx512`
 * (the CTest test test_gemm_avx512) checks its edge cases by calling it
 * directly, and that its results do not depend on the thread count. Where
 * the kernel cannot run (no AVX-512, a lower DESCENT_ISA path, the double
 * build) that part prints SKIP with the reason and exits 77: it never passes
 * without running. Without an argument the program checks descent_gemm,
 * whatever it dispatches to, and the reference. Products below gemm.c's threading threshold run on
 * one thread with the caller's setting lowered for the call: the setting must come back, and both
 * sides of the threshold must still be right.
 *
 * descent_gemm_fused, the product with a dense layer's bias and ReLU (or
 * ReLU's backward mask) done as its elements leave the kernel, must give
 * the bits of the product and the separate passes, or decline and write
 * nothing; the kernel's epilogue is checked the same way on its edges, with
 * the kernel computing each product directly and as its transpose (which
 * must also agree bit for bit on the plain products).
 *
 * Tolerance: the two sum in different orders, so they differ by rounding. The
 * bound is k * eps * sum|a_ip b_pj| per element, eps the precision's epsilon;
 * a kernel that drops or repeats one term breaks it by far more.
 */
#include "check.h"
#include "internal.h" /* descent_gemm, descent_gemm_reference */

#include "core/sgemm_avx512.h"
#include "core/sgemm_dnnl.h"

#include <float.h>
#include <omp.h>
#include <stdlib.h>

#ifdef DESCENT_DOUBLE
#define EPS DBL_EPSILON
#else
#define EPS FLT_EPSILON
#endif

/* A depth of one of the AVX-512 kernel's packed blocks and `extra` steps:
   two blocks for any extra (the depth depends on the CPU, sgemm_avx512.c;
   256 where the kernel is not built). */
static size_t past_a_block(size_t extra) {
#ifdef DESCENT_DOUBLE
  return 256 + extra;
#else
  return sgemm_avx512_depth() + extra;
#endif
}

static void fill(descent_real *x, size_t n, descent_rng *rng) {
  for (size_t i = 0; i < n; i++) x[i] = (descent_real)(2 * descent_rng_uniform(rng) - 1);
}

/* One product of op(A) (m x k) and op(B) (k x n) into C (m x n), each stored
   with `pad` spare reals per row, against the reference. With beta == 0, C
   starts as NaN (it must not be read). `kernel` >= 1 calls the AVX-512 kernel
   directly with that many threads (the caller checked that it runs here), so
   its edge cases are covered whatever descent_gemm dispatches to it. */
static void check_case(size_t m, size_t n, size_t k, int ta, int tb, descent_real alpha,
                       descent_real beta, size_t pad, int kernel, descent_rng *rng) {
  size_t lda = (ta ? m : k) + pad, ldb = (tb ? k : n) + pad, ldc = n + pad;
  size_t a_rows = ta ? k : m, b_rows = tb ? n : k;
  descent_real *a = malloc(a_rows * lda * sizeof *a), *b = malloc(b_rows * ldb * sizeof *b);
  descent_real *c = malloc(m * ldc * sizeof *c), *ref = malloc(m * ldc * sizeof *ref);
  fill(a, a_rows * lda, rng);
  fill(b, b_rows * ldb, rng);
  fill(c, m * ldc, rng);
  if (beta == 0)
    for (size_t i = 0; i < m * ldc; i++) c[i] = NAN;
  /* The padding of C must come back untouched. */
  for (size_t i = 0; i < m; i++)
    for (size_t j = n; j < ldc; j++) c[i * ldc + j] = 42;
  for (size_t i = 0; i < m * ldc; i++) ref[i] = c[i];
  if (kernel) {
#ifdef DESCENT_DOUBLE
    CHECK_MSG(0, "the double build has no AVX-512 kernel to call");
#else
    CHECK(sgemm_avx512(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, kernel) == 0);
#endif
  } else {
    descent_gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  }
  descent_gemm_reference(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, ref, ldc);
  double worst = 0;
  int padding_kept = 1;
  for (size_t i = 0; i < m; i++) {
    for (size_t j = 0; j < n; j++) {
      /* |a| and |b| are at most 1, so sum|a b| <= k. */
      double bound = ((double)k + 2) * EPS * ((double)k + 1) + 1e-30;
      double err = fabs((double)c[i * ldc + j] - (double)ref[i * ldc + j]) / bound;
      if (!(err <= worst)) worst = err; /* NaN included */
    }
    for (size_t j = n; j < ldc; j++) padding_kept &= c[i * ldc + j] == 42;
  }
  CHECK_MSG(worst <= 1 && padding_kept,
            "m=%zu n=%zu k=%zu ta=%d tb=%d alpha=%g beta=%g pad=%zu kernel=%d: error %.3g of the "
            "bound, padding %s",
            m, n, k, ta, tb, (double)alpha, (double)beta, pad, kernel, worst,
            padding_kept ? "kept" : "overwritten");
  free(a), free(b), free(c), free(ref);
}

static void check_shape(size_t m, size_t n, size_t k, int ta, int tb, descent_rng *rng) {
  check_case(m, n, k, ta, tb, (descent_real)0.75, (descent_real)-0.5, 0, 0, rng);
}

/* The AVX-512 kernel's edges: rows around its tile height (14) and the
   split of a remainder (22 = 2 x 11), columns around its 16 and 32 wide
   panels, depths across its blocks (257: two of 129 where they are 256
   deep; one more than a block wherever), blocks of more than 504 rows or
   1024 columns; row strides wider than the rows; alpha other
   than 1; beta 0 (C NaN), 1 and other. Then the thread count: each element is
   summed in the same order whatever the number of threads, so 1 and 2 give
   the same bits. */
static void check_kernel_edges(descent_rng *rng) {
  const size_t ms[] = {1, 13, 15, 22}, ns[] = {1, 15, 17, 33};
  const size_t ks[] = {1, 17, 257, past_a_block(1)};
  const descent_real betas[] = {0, 1, (descent_real)-0.5};
  for (int ta = 0; ta < 2; ta++)
    for (int tb = 0; tb < 2; tb++)
      for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++)
          for (int l = 0; l < 4; l++)
            check_case(ms[i], ns[j], ks[l], ta, tb, (descent_real)0.75, betas[(i + j + l) % 3],
                       (size_t)(i + l) % 2 * 3, 1, rng);
  for (int ta = 0; ta < 2; ta++)
    for (int tb = 0; tb < 2; tb++)
      for (int bi = 0; bi < 3; bi++) {
        check_case(505, 70, past_a_block(44), ta, tb, (descent_real)1.5, betas[bi], 5, 2, rng);
        check_case(30, 1057, 40, ta, tb, 1, betas[bi], 1, 2, rng);
        check_case(129, 129, 129, ta, tb, (descent_real)-2, betas[bi], 7, 2, rng);
      }
  /* The packing buffers' largest use: a whole block of B (1024 columns, a
     block deep) packed for two passes over A (505 rows), on one and two
     threads. */
  check_case(505, 1024, past_a_block(0), 0, 1, 1, 0, 0, 1, rng);
  check_case(505, 1024, past_a_block(0), 1, 0, (descent_real)0.5, 1, 3, 2, rng);
}

/* Through descent_gemm, shapes large enough for it to pick the AVX-512
   kernel where it runs (and OpenBLAS elsewhere). */
static void check_large_shapes(descent_rng *rng) {
  check_case(128, 1024, 784, 0, 1, 1, 1, 0, 0, rng);
  check_case(1024, 784, 128, 1, 0, 1, 0, 0, 0, rng);
  check_case(128, 784, 1024, 0, 0, 1, 0, 0, 0, rng);
}

static void check_threads_agree(descent_rng *rng) {
#ifdef DESCENT_DOUBLE
  (void)rng;
}
#else
  /* 333 steps: two blocks where they are 256 deep, past_a_block(77) anywhere */
  const size_t shapes[][3] = {{128, 300, past_a_block(77)}, {600, 90, 70}};
  int saved = descent_get_threads();
  for (int s = 0; s < 2; s++)
    for (int ta = 0; ta < 2; ta++)
      for (int tb = 0; tb < 2; tb++) {
        size_t m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
        size_t lda = ta ? m : k, ldb = tb ? k : n;
        descent_real *a = malloc(m * k * sizeof *a), *b = malloc(k * n * sizeof *b);
        descent_real *c1 = malloc(m * n * sizeof *c1), *c2 = malloc(m * n * sizeof *c2);
        fill(a, m * k, rng);
        fill(b, k * n, rng);
        fill(c1, m * n, rng);
        memcpy(c2, c1, m * n * sizeof *c1);
        /* The kernel itself: descent_gemm may hand a product to OpenBLAS on
           one thread and to the kernel on two (AMD Zen 4, gemm.c). */
        descent_set_threads(1);
        CHECK(sgemm_avx512(ta, tb, m, n, k, 0.5f, a, lda, b, ldb, 1, c1, n, 1) == 0);
        descent_set_threads(2);
        CHECK(sgemm_avx512(ta, tb, m, n, k, 0.5f, a, lda, b, ldb, 1, c2, n, 2) == 0);
        CHECK_MSG(memcmp(c1, c2, m * n * sizeof *c1) == 0,
                  "m=%zu n=%zu k=%zu ta=%d tb=%d: 1 and 2 threads differ", m, n, k, ta, tb);
        free(a), free(b), free(c1), free(c2);
      }
  descent_set_threads(saved);
}
#endif

/* At 2 threads, a product below the threshold (one thread) and one above
   it (two) against the reference, each leaving the caller's thread count
   as it found it. */
static void check_thread_policy(descent_rng *rng) {
  int saved = descent_get_threads();
  if (descent_set_threads(2) != 2) {
    printf("thread policy: not checked, an address-space limit leaves room for one thread\n");
    descent_set_threads(saved);
    return;
  }
  const size_t shapes[][3] = {{128, 100, 500}, {128, 100, 784}}; /* 6.4M and 10M multiply-adds */
  for (int s = 0; s < 2; s++)
    for (int ta = 0; ta < 2; ta++) {
      check_case(shapes[s][0], shapes[s][1], shapes[s][2], ta, !ta, 1, s ? 1 : 0, 0, 0, rng);
      CHECK_MSG(descent_get_threads() == 2, "%zu x %zu x %zu: the thread count is now %d",
                shapes[s][0], shapes[s][1], shapes[s][2], descent_get_threads());
    }
  descent_set_threads(saved);
}

/* With beta = 0 the BLAS must not read C: NaN there must not leak through. */
static void check_beta_zero_ignores_c(void) {
  descent_real a[6] = {1, 2, 3, 4, 5, 6}, b[6] = {1, 0, 0, 1, 1, 1};
  descent_real c[4] = {NAN, NAN, NAN, NAN};
  descent_gemm(0, 0, 2, 2, 3, 1, a, 3, b, 2, 0, c, 2);
  CHECK(c[0] == 4 && c[1] == 5 && c[2] == 10 && c[3] == 11);
}

/* The separate passes an epilogue stands for, in place on c (m x n, ldc):
   the mask (0 where mask is not above 0), then relu into relu_out. */
static void passes(size_t m, size_t n, descent_real *c, size_t ldc, const descent_real *mask,
                   descent_real *relu_out) {
  for (size_t i = 0; i < m; i++)
    for (size_t j = 0; j < n; j++) {
      descent_real *x = c + i * ldc + j;
      if (mask && !(mask[i * ldc + j] > 0)) *x = 0;
      if (relu_out) relu_out[i * ldc + j] = *x > 0 ? *x : 0;
    }
}

/* Values that test the passes' edges: some exactly 0, -0 and NaN among
   uniform ones. */
static void fill_edgy(descent_real *x, size_t n, descent_rng *rng) {
  fill(x, n, rng);
  for (size_t i = 0; i < n; i += 7) x[i] = (i / 7) % 3 == 0 ? 0 : (i / 7) % 3 == 1 ? -0.0f : NAN;
}

/* A fused product's operands and outputs: op(A) m x k with a NaN row (row
   1, which the ReLU makes 0), op(B), a bias starting with -0 (which a k = 0
   product must keep), a mask with zeros, -0 and NaN, and C, the ReLU output
   and their expected values, all 42 (so that what is not written shows). */
typedef struct fused_case {
  size_t m, n, k, lda, ldb, ldc;
  int ta, tb;
  descent_real *a, *b, *bias, *mask, *c, *relu, *want, *want_relu;
} fused_case;

static fused_case fused_case_make(size_t m, size_t n, size_t k, int ta, int tb, descent_rng *rng) {
  fused_case f = {.m = m,
                  .n = n,
                  .k = k,
                  .lda = ta ? m : k,
                  .ldb = tb ? k : n,
                  .ldc = n + 3,
                  .ta = ta,
                  .tb = tb};
  size_t cs = m * f.ldc * sizeof *f.c;
  f.a = malloc(m * k * sizeof *f.a + 1), f.b = malloc(k * n * sizeof *f.b + 1);
  f.bias = malloc(n * sizeof *f.bias), f.mask = malloc(cs);
  f.c = malloc(cs), f.relu = malloc(cs), f.want = malloc(cs), f.want_relu = malloc(cs);
  fill(f.a, m * k, rng);
  fill(f.b, k * n, rng);
  fill(f.bias, n, rng);
  f.bias[0] = -0.0f;
  fill_edgy(f.mask, m * f.ldc, rng);
  if (m > 1 && k > 0) f.a[ta ? 1 : k] = NAN;
  for (size_t i = 0; i < m * f.ldc; i++) f.c[i] = f.relu[i] = f.want[i] = f.want_relu[i] = 42;
  return f;
}

/* want, want_relu: the product onto rows holding the bias (beta 1) or onto
   nothing (beta 0), by `product`, then the separate passes. */
typedef void product_fn(int ta, int tb, size_t m, size_t n, size_t k, descent_real alpha,
                        const descent_real *a, size_t lda, const descent_real *b, size_t ldb,
                        descent_real beta, descent_real *c, size_t ldc);

static void fused_case_expect(fused_case *f, int with_bias, int with_relu, int with_mask,
                              product_fn *product) {
  for (size_t i = 0; with_bias && i < f->m; i++)
    memcpy(f->want + i * f->ldc, f->bias, f->n * sizeof *f->bias);
  product(f->ta, f->tb, f->m, f->n, f->k, 1, f->a, f->lda, f->b, f->ldb, with_bias ? 1 : 0, f->want,
          f->ldc);
  passes(f->m, f->n, f->want, f->ldc, with_mask ? f->mask : NULL, with_relu ? f->want_relu : NULL);
}

static int fused_case_matches(const fused_case *f) {
  size_t cs = f->m * f->ldc * sizeof *f->c;
  return memcmp(f->c, f->want, cs) == 0 && memcmp(f->relu, f->want_relu, cs) == 0;
}

static void fused_case_free(fused_case *f) {
  free(f->a), free(f->b), free(f->bias), free(f->mask);
  free(f->c), free(f->relu), free(f->want), free(f->want_relu);
}

/* descent_gemm_fused against the product and passes it stands for, bit for
   bit: where it takes the product (the AVX-512 kernel), and where it
   declines (C and relu untouched, for the caller to run them). */
static int check_fused_case(size_t m, size_t n, size_t k, int ta, int tb, int with_bias,
                            int with_relu, int with_mask, descent_rng *rng) {
  fused_case f = fused_case_make(m, n, k, ta, tb, rng);
  int taken = descent_gemm_fused(DESCENT_PRECISION_FP32, ta, tb, m, n, k, f.a, f.lda, f.b, f.ldb,
                                 f.c, f.ldc, with_bias ? f.bias : NULL, with_relu ? f.relu : NULL,
                                 with_mask ? f.mask : NULL);
  if (!taken) {
    CHECK_MSG(fused_case_matches(&f), "%zux%zux%zu: declined, yet wrote", m, n, k);
  } else {
    fused_case_expect(&f, with_bias, with_relu, with_mask, descent_gemm);
    CHECK_MSG(fused_case_matches(&f),
              "%zux%zux%zu ta=%d tb=%d bias=%d relu=%d mask=%d: differs from the product and its "
              "passes",
              m, n, k, ta, tb, with_bias, with_relu, with_mask);
  }
  fused_case_free(&f);
  return taken;
}

/* descent_gemm_fused on a dense layer's shapes (x W^T with bias and ReLU,
   dy W with the mask), ragged ones and several k blocks, at 1 and 2
   threads; says how many it took, since that depends on the CPU and path. */
static void check_fused(descent_rng *rng) {
  const size_t shapes[][3] = {
      {128, 256, 784}, {128, 100, 784}, {97, 131, past_a_block(44)}, {128, 256, 128}};
  int saved = descent_get_threads(), taken = 0, cases = 0;
  for (int threads = 1; threads <= 2; threads++) {
    descent_set_threads(threads);
    for (int s = 0; s < 4; s++)
      for (int form = 0; form < 4; form++) {
        size_t m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
        /* forward with bias and relu, with bias alone, with relu alone;
           backward with the mask */
        int bias = form < 2, relu = form == 0 || form == 2, mask = form == 3;
        taken += check_fused_case(m, n, k, 0, form < 3, bias, relu, mask, rng);
        taken += check_fused_case(m, n, k, 1, form < 3, bias, relu, mask, rng);
        cases += 2;
      }
  }
  descent_set_threads(saved);
  printf("fused products: %d of %d taken by the AVX-512 kernel on path %s\n", taken, cases,
         descent_isa_name());
#ifndef DESCENT_DOUBLE
  /* On two threads the kernel takes every product of 2^20 multiply-adds
     and more wherever it runs (gemm.c): these all are. */
  if (sgemm_avx512_available())
    CHECK_MSG(taken >= cases / 2, "the kernel runs here, yet took %d of %d fused products", taken,
              cases);
#endif
}

#ifndef DESCENT_DOUBLE
/* The plain kernel on one thread, unswapped, as a product_fn. */
static void kernel_one_thread(int ta, int tb, size_t m, size_t n, size_t k, descent_real alpha,
                              const descent_real *a, size_t lda, const descent_real *b, size_t ldb,
                              descent_real beta, descent_real *c, size_t ldc) {
  int saved = descent_sgemm_swap;
  descent_sgemm_swap = 0;
  CHECK(sgemm_avx512(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, 1) == 0);
  descent_sgemm_swap = saved;
}

/* The kernel computing C^T = op(B)^T op(A)^T (descent_sgemm_swap 1) must
   give C's bits as computed directly (0): tiles of every height (from C's
   columns when swapped), C wider than a block of columns of the swapped
   product (1,100 rows), one and two k blocks, every transpose, alpha and
   beta (C NaN where beta is 0, which must not be read), a ReLU and a mask
   with any alpha and beta, 1 and 2 threads (each splitting by rows or by
   columns). C has padding columns, which neither may touch. The swap count
   shows that the swapped code ran, and the default rule is checked on the
   shapes it was measured on. */
static void check_kernel_swap(descent_rng *rng) {
  const size_t ms[] = {1, 13, 14, 15, 33, 128, 505, 1100};
  const size_t ns[] = {1, 2, 5, 13, 16, 17, 27, 31, 100, 1057};
  const size_t ks[] = {1, 7, past_a_block(44)};
  const float alphas[] = {1, 0.75f, -2}, betas[] = {0, 1, -0.5f};
  int saved_threads = descent_get_threads(), saved_swap = descent_sgemm_swap, cases = 0;
  unsigned long swapped_before = descent_sgemm_swapped;
  for (int i = 0; i < 8; i++)
    for (int j = 0; j < 10; j++)
      for (int l = 0; l < 3; l++) {
        size_t m = ms[i], n = ns[j], k = ks[l], ldc = n + 5;
        if (m * n * (k < 300 ? k : 300) > (size_t)20000000)
          continue; /* the same shapes on any CPU */
        int form = (int)(i + 2 * j + l), ta = form % 2, tb = (form / 2) % 2;
        float alpha = alphas[form % 3], beta = betas[(form / 3) % 3];
        int threads = 1 + (i + j + l) % 2, passes = (i + j) % 3; /* 0: none, 1: ReLU, 2: mask */
        descent_real *a = malloc(m * k * sizeof *a), *b = malloc(k * n * sizeof *b);
        descent_real *c0 = malloc(m * ldc * sizeof *c0), *c1 = malloc(m * ldc * sizeof *c1);
        descent_real *relu0 = malloc(m * ldc * sizeof *relu0),
                     *relu1 = malloc(m * ldc * sizeof *relu1);
        descent_real *mask = malloc(m * ldc * sizeof *mask);
        fill(a, m * k, rng);
        fill(b, k * n, rng);
        fill(c0, m * ldc, rng);
        fill_edgy(mask, m * ldc, rng);
        if (beta == 0)
          for (size_t e = 0; e < m * ldc; e++) c0[e] = NAN;
        memcpy(c1, c0, m * ldc * sizeof *c0);
        for (size_t e = 0; e < m * ldc; e++) relu0[e] = relu1[e] = 42;
        sgemm_epilogue ep0 = {NULL, passes == 1 ? relu0 : NULL, passes == 2 ? mask : NULL};
        sgemm_epilogue ep1 = {NULL, passes == 1 ? relu1 : NULL, passes == 2 ? mask : NULL};
        descent_sgemm_swap = 0;
        CHECK(sgemm_avx512_epilogue(ta, tb, m, n, k, alpha, a, ta ? m : k, b, tb ? k : n, beta, c0,
                                    ldc, passes ? &ep0 : NULL, threads) == 0);
        descent_sgemm_swap = 1;
        CHECK(sgemm_avx512_epilogue(ta, tb, m, n, k, alpha, a, ta ? m : k, b, tb ? k : n, beta, c1,
                                    ldc, passes ? &ep1 : NULL, threads) == 0);
        descent_sgemm_swap = saved_swap;
        CHECK_MSG(memcmp(c0, c1, m * ldc * sizeof *c0) == 0 &&
                      memcmp(relu0, relu1, m * ldc * sizeof *relu0) == 0,
                  "%zux%zux%zu ta=%d tb=%d alpha=%g beta=%g threads=%d passes=%d: the swapped "
                  "product differs",
                  m, n, k, ta, tb, (double)alpha, (double)beta, threads, passes);
        free(a), free(b), free(c0), free(c1), free(relu0), free(relu1), free(mask);
        cases++;
      }
  descent_set_threads(saved_threads);
  CHECK_MSG(descent_sgemm_swapped - swapped_before == (unsigned long)cases,
            "%lu of %d forced products were computed as their transpose",
            descent_sgemm_swapped - swapped_before, cases);
  /* The rule: x W^T of a 100-unit layer swapped, of a 1024-unit one not. */
  const size_t rule[][3] = {{128, 100, 784}, {128, 1024, 784}};
  for (int r = 0; r < 2; r++) {
    size_t m = rule[r][0], n = rule[r][1], k = rule[r][2];
    descent_real *a = calloc(m * k, sizeof *a), *b = calloc(k * n, sizeof *b);
    descent_real *c = malloc(m * n * sizeof *c);
    unsigned long before = descent_sgemm_swapped;
    CHECK(sgemm_avx512(0, 1, m, n, k, 1, a, k, b, k, 0, c, n, 1) == 0);
    CHECK_MSG(descent_sgemm_swapped - before == (r == 0 ? 1u : 0u),
              "x W^T %zux%zux%zu: swapped %lu times, the rule says %s", m, n, k,
              descent_sgemm_swapped - before, r == 0 ? "once" : "never");
    free(a), free(b), free(c);
  }
  printf("swapped products: %d shapes compared\n", cases);
}
#else
static void check_kernel_swap(descent_rng *rng) {
  (void)rng; /* no kernel in the double build: kernel_main skips */
}
#endif

/* The kernel's epilogue itself, at 1 and 2 threads, on its edges: rows
   around the tile height, columns around the panel widths, one and several
   k blocks; and a bias refused with alpha other than 1. */
static void check_kernel_epilogue(descent_rng *rng) {
#ifndef DESCENT_DOUBLE
  /* 505 rows: two blocks of rows; 1057 columns: two blocks of columns (the
     bias's offset in the second); k 0: no arithmetic, the passes alone. */
  const size_t ms[] = {1, 15, 22, 128, 505, 20}, ns[] = {1, 17, 33, 100, 40, 1057};
  const size_t ks[] = {0, 5, past_a_block(1)};
  for (int threads = 1; threads <= 2; threads++)
    for (int swap = 0; swap <= 1; swap++)
      for (int i = 0; i < 6; i++)
        for (int j = 0; j < 6; j++)
          for (int l = 0; l < 3; l++)
            for (int form = 0; form < 4; form++) {
              if ((i >= 4 || j >= 4) && (i != j || l == 0)) continue; /* the big ones as pairs */
              int ta = (i + l) % 2, tb = (j + form) % 2;
              int with_bias = form < 2, with_relu = form % 2 == 0, with_mask = form >= 2;
              fused_case f = fused_case_make(ms[i], ns[j], ks[l], ta, tb, rng);
              sgemm_epilogue ep = {with_bias ? f.bias : NULL, with_relu ? f.relu : NULL,
                                   with_mask ? f.mask : NULL};
              descent_sgemm_swap = swap;
              CHECK(sgemm_avx512_epilogue(ta, tb, f.m, f.n, f.k, 1, f.a, f.lda, f.b, f.ldb, 0, f.c,
                                          f.ldc, &ep, threads) == 0);
              descent_sgemm_swap = -1;
              fused_case_expect(&f, with_bias, with_relu, with_mask, kernel_one_thread);
              CHECK_MSG(fused_case_matches(&f),
                        "epilogue %zux%zux%zu ta=%d tb=%d form=%d threads=%d swapped=%d differs "
                        "from the product and its passes",
                        f.m, f.n, f.k, ta, tb, form, threads, swap);
              fused_case_free(&f);
            }
  float one = 1, c = 42, bias = 1;
  sgemm_epilogue ep = {&bias, NULL, NULL};
  CHECK(sgemm_avx512_epilogue(0, 0, 1, 1, 1, 2, &one, 1, &one, 1, 0, &c, 1, &ep, 1) == -1);
  CHECK(c == 42);
#else
  (void)rng;
#endif
}

/* oneDNN's products (gemm.c gives it some of a dense layer's on the avx512
   and avx2 paths) must be reproducible: the same bits from call to call,
   and whatever the alignment of the operands (a resumed run's buffers need
   not sit where the first run's did), at 1 and 2 threads, every transpose,
   beta 0 (C NaN, never read) and 1, padded rows, and single rows and
   columns. Under dynamic teams it runs all the same, and it leaves the
   caller's thread and dynamic-team settings as it found them. Where the build has oneDNN
   and the path is avx2 or wider, it must run. */
static void check_dnnl_reproducible(descent_rng *rng) {
#ifndef DESCENT_DOUBLE
  if (!sgemm_dnnl_available()) {
#ifdef DESCENT_HAVE_DNNL
    CHECK_MSG(descent_isa_path() < DESCENT_ISA_AVX2,
              "the build has oneDNN and the path is %s, yet oneDNN's GEMM does not run",
              descent_isa_name());
#endif
    printf("oneDNN products: not checked, oneDNN does not run on path %s in this build\n",
           descent_isa_name());
    return;
  }
  const size_t shapes[][3] = {
      {100, 784, 128}, {128, 256, 128}, {10, 1024, 128}, {1, 300, 70}, {90, 1, 200}};
  int cases = 0, saved = omp_get_max_threads();
  for (int s = 0; s < 5; s++)
    for (int threads = 1; threads <= 2; threads++)
      for (int form = 0; form < 4; form++) {
        size_t m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
        int ta = form & 1, tb = form >> 1;
        size_t lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 1, ldc = n + 2;
        size_t as = (ta ? k : m) * lda, bs = (tb ? n : k) * ldb, cs = m * ldc;
        float beta = (float)((s + form) % 2);
        /* One spare float: the second copy of each operand starts 4 bytes on. */
        float *a = malloc((as + 1) * sizeof *a), *b = malloc((bs + 1) * sizeof *b);
        float *c0 = malloc((cs + 1) * sizeof *c0), *c = malloc((cs + 1) * sizeof *c);
        float *first = malloc(cs * sizeof *first);
        fill(a, as, rng);
        fill(b, bs, rng);
        fill(c0, cs, rng);
        if (beta == 0)
          for (size_t e = 0; e < cs; e++) c0[e] = NAN;
        memcpy(first, c0, cs * sizeof *c0);
        memcpy(c, c0, cs * sizeof *c0);
        CHECK(sgemm_dnnl(ta, tb, m, n, k, 1, a, lda, b, ldb, beta, first, ldc, threads) == 0);
        CHECK(omp_get_max_threads() == saved);
        CHECK(sgemm_dnnl(ta, tb, m, n, k, 1, a, lda, b, ldb, beta, c, ldc, threads) == 0);
        CHECK_MSG(memcmp(c, first, cs * sizeof *c) == 0,
                  "oneDNN %zux%zux%zu form %d, %d threads: two calls differ", m, n, k, form,
                  threads);
        memmove(a + 1, a, as * sizeof *a);
        memmove(b + 1, b, bs * sizeof *b);
        memcpy(c + 1, c0, cs * sizeof *c0);
        CHECK(sgemm_dnnl(ta, tb, m, n, k, 1, a + 1, lda, b + 1, ldb, beta, c + 1, ldc, threads) ==
              0);
        CHECK_MSG(memcmp(c + 1, first, cs * sizeof *c) == 0,
                  "oneDNN %zux%zux%zu form %d, %d threads: moved operands give other bits", m, n, k,
                  form, threads);
        free(a), free(b), free(c0), free(c), free(first);
        cases++;
      }
  /* Dynamic teams are turned off for the call, and back on after. */
  float one = 1, c = 42;
  omp_set_dynamic(1);
  CHECK(sgemm_dnnl(0, 0, 1, 1, 1, 1, &one, 1, &one, 1, 0, &c, 1, 1) == 0 && c == 1);
  CHECK(omp_get_dynamic() == 1);
  omp_set_dynamic(0);
  printf("oneDNN products: %d reproducible on path %s\n", cases, descent_isa_name());
#else
  (void)rng;
#endif
}

/* Why the AVX-512 kernel cannot run here, or NULL when it can. */
static const char *kernel_absent(void) {
#ifdef DESCENT_DOUBLE
  return "the double build has no AVX-512 kernel (its products go to the BLAS)";
#else
  static char why[160];
  if (sgemm_avx512_available()) return NULL;
  snprintf(why, sizeof why, "the AVX-512 kernel cannot run on kernel path %s%s", descent_isa_name(),
           descent_isa_path() >= DESCENT_ISA_AVX512
               ? " (it was not compiled in)"
               : " (this CPU lacks AVX-512, or DESCENT_ISA chose a lower path)");
  return why;
#endif
}

/* `test_gemm avx512`: the kernel itself, or SKIP and 77 where it cannot run. */
static int kernel_main(descent_rng *rng) {
  const char *why = kernel_absent();
  if (why) {
    printf("SKIP: %s\n", why);
    return 77;
  }
  check_kernel_edges(rng);
  check_threads_agree(rng);
  check_kernel_epilogue(rng);
  check_kernel_swap(rng);
  return check_report();
}

int main(int argc, char **argv) {
  descent_rng rng;
  descent_rng_seed(&rng, 7);
  if (argc > 1) {
    if (strcmp(argv[1], "avx512") == 0) return kernel_main(&rng);
    fprintf(stderr, "usage: test_gemm [avx512]\n");
    return 2;
  }
  const size_t sizes[] = {1, 7, 129};
  for (int ta = 0; ta < 2; ta++)
    for (int tb = 0; tb < 2; tb++)
      for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
          for (int l = 0; l < 3; l++) check_shape(sizes[i], sizes[j], sizes[l], ta, tb, &rng);
  /* The MLP's own shapes: batch 128 against 784 and 1024, and a ragged last batch. */
  check_shape(128, 1024, 784, 0, 1, &rng);
  check_shape(1024, 784, 128, 1, 0, &rng);
  check_shape(96, 10, 1024, 0, 1, &rng);
  check_beta_zero_ignores_c();
  check_large_shapes(&rng);
  check_thread_policy(&rng);
  check_fused(&rng);
  check_dnnl_reproducible(&rng);
  /* The reference itself, on a product known by hand. */
  descent_real a[4] = {1, 2, 3, 4}, b[4] = {5, 6, 7, 8}, c[4] = {0};
  descent_gemm_reference(0, 0, 2, 2, 2, 1, a, 2, b, 2, 0, c, 2);
  CHECK(c[0] == 19 && c[1] == 22 && c[2] == 43 && c[3] == 50);
  descent_gemm_reference(1, 1, 2, 2, 2, 1, a, 2, b, 2, 0, c, 2);
  CHECK(c[0] == 23 && c[1] == 31 && c[2] == 34 && c[3] == 46);
  return check_report();
}
