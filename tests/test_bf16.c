/*
 * test_bf16.c - bf16 mixed precision: the rounding to bf16, the AVX512_BF16
 * GEMM (src/core/sgemm_bf16.c) against its portable reference, and the
 * network's precision setting.
 *
 * The rounding must match PyTorch's cast bit for bit (ties to even, NaN,
 * overflow to infinity). With k = 1 there is no sum, so the kernel's result
 * must equal the product of the rounded operands exactly: that checks the
 * rounding inside the packing bit for bit. For longer sums the kernel adds
 * in float, pairs of products at a time, and the reference in double: they
 * differ by float rounding, at most (k + 2) eps sum|a_ip b_pj| per element
 * (eps = 2^-24 per addition, the products being exact), plus one bf16 ulp
 * of C when C is rounded (near a tie the two may round to either
 * neighbour). A
 * kernel that dropped, repeated or failed to round a term breaks it by
 * far more (a missed rounding of the operands costs about 2^-9 of each
 * product).
 *
 * The kernel's checks (`test_bf16 kernel`) need a CPU with AVX512_BF16 and
 * the avx512 path; where either is missing they print SKIP and exit 77.
 * Without an argument the rest runs, and the network check then checks the
 * refusal of the precision instead.
 */
#include "check.h"
#include "internal.h" /* descent_gemm, descent_gemm_reference */

#include "core/sgemm_bf16.h"

#include <float.h>
#include <stdint.h>
#include <stdlib.h>

static float from_bits(uint32_t u) {
  float x;
  memcpy(&x, &u, sizeof x);
  return x;
}

static uint32_t bits(float x) {
  uint32_t u;
  memcpy(&u, &x, sizeof u);
  return u;
}

/* The rounding, on values whose bf16 neighbours are known by hand. */
static void check_rounding(void) {
  const float ulp = 1.0f / 128; /* bf16's spacing in [1, 2) */
  CHECK(sgemm_bf16_round(1.0f) == 1.0f);
  CHECK(sgemm_bf16_round(1 + ulp / 2) == 1.0f);                  /* tie: to even (1) */
  CHECK(sgemm_bf16_round(1 + 3 * ulp / 2) == 1 + 2 * ulp);       /* tie: to even (1 + 2 ulp) */
  CHECK(sgemm_bf16_round(1 + ulp / 2 + 1e-6f) == 1 + ulp);       /* above the tie */
  CHECK(sgemm_bf16_round(-(1 + ulp / 2 + 1e-6f)) == -(1 + ulp)); /* symmetric */
  CHECK(sgemm_bf16_round(1 + ulp / 2 - 1e-6f) == 1.0f);
  CHECK(bits(sgemm_bf16_round(-0.0f)) == 0x80000000u);
  CHECK(sgemm_bf16_round(INFINITY) == INFINITY);
  CHECK(sgemm_bf16_round(FLT_MAX) == INFINITY); /* as PyTorch: past bf16's largest */
  CHECK(isnan(sgemm_bf16_round(NAN)));
  CHECK(isnan(sgemm_bf16_round(from_bits(0x7F800001u)))); /* a NaN that truncation would make inf */
  /* 3.14159274 = 0x40490FDB rounds to 0x40490000; 0x40498000 is a tie with
     an odd lower neighbour and goes up. */
  CHECK(bits(sgemm_bf16_round(from_bits(0x40490FDBu))) == 0x40490000u);
  CHECK(bits(sgemm_bf16_round(from_bits(0x40498000u))) == 0x404A0000u);
  CHECK(bits(sgemm_bf16_round(from_bits(0x40488000u))) == 0x40480000u);
}

/* The reference against descent_gemm_reference on operands that are already
   bf16 values (the rounding then changes nothing), every transpose: its
   loops read the operands the right way round. */
static void check_reference_layout(descent_rng *rng) {
  enum { M = 5, N = 4, K = 3 };
  float a[M * K], b[K * N], c[M * N], ref[M * N];
  for (int i = 0; i < M * K; i++) a[i] = sgemm_bf16_round((float)descent_rng_uniform(rng) * 4 - 2);
  for (int i = 0; i < K * N; i++) b[i] = sgemm_bf16_round((float)descent_rng_uniform(rng) * 4 - 2);
  for (int ta = 0; ta < 2; ta++)
    for (int tb = 0; tb < 2; tb++) {
      for (int i = 0; i < M * N; i++) c[i] = ref[i] = (float)i;
      sgemm_bf16_reference(ta, tb, M, N, K, 0.5f, a, ta ? M : K, b, tb ? K : N, 2, c, N, 0);
#ifndef DESCENT_DOUBLE
      descent_gemm_reference(ta, tb, M, N, K, 0.5f, a, ta ? M : K, b, tb ? K : N, 2, ref, N);
      for (int i = 0; i < M * N; i++) CHECK_CLOSE(c[i], ref[i], 1e-6);
#endif
    }
}

#ifndef DESCENT_DOUBLE
static void fill(float *x, size_t n, descent_rng *rng) {
  for (size_t i = 0; i < n; i++) x[i] = (float)(2 * descent_rng_uniform(rng) - 1);
}

static int kernel_runs(void) {
  if (sgemm_bf16_available()) return 1;
  printf("SKIP: the bf16 kernel's checks: %s\n", !sgemm_bf16_cpu() ? "this CPU has no AVX512_BF16"
                                                 : descent_isa_path() < DESCENT_ISA_AVX512
                                                     ? "the kernel path is not avx512 (DESCENT_ISA)"
                                                     : "the kernel is not compiled in");
  return 0;
}

/* One product, kernel (`threads` threads) against reference, C stored with
   `pad` spare floats per row, which must come back untouched. */
static void check_case(size_t m, size_t n, size_t k, int ta, int tb, float alpha, float beta,
                       int round_c, size_t pad, int threads, descent_rng *rng) {
  size_t lda = (ta ? m : k) + pad, ldb = (tb ? k : n) + pad, ldc = n + pad;
  size_t a_rows = ta ? k : m, b_rows = tb ? n : k;
  float *a = malloc(a_rows * lda * sizeof *a), *b = malloc(b_rows * ldb * sizeof *b);
  float *c = malloc(m * ldc * sizeof *c), *ref = malloc(m * ldc * sizeof *ref);
  fill(a, a_rows * lda, rng);
  fill(b, b_rows * ldb, rng);
  fill(c, m * ldc, rng);
  for (size_t i = 0; i < m; i++)
    for (size_t j = 0; j < ldc; j++)
      if (j >= n)
        c[i * ldc + j] = 42;
      else if (beta == 0)
        c[i * ldc + j] = NAN; /* must not be read */
  memcpy(ref, c, m * ldc * sizeof *c);
  CHECK(sgemm_bf16(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, round_c, threads) == 0);
  sgemm_bf16_reference(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, ref, ldc, round_c);
  double worst = 0;
  int padding_kept = 1;
  for (size_t i = 0; i < m; i++) {
    for (size_t j = 0; j < n; j++) {
      /* |a|, |b| <= 1 before rounding, <= 1 + 2^-8 after; |C| <= 1. */
      double sum_abs = (double)k * 1.01 * fabs(alpha) + fabs(beta);
      double bound = ((double)k + 2) * 0x1p-24 * sum_abs + 1e-30;
      if (round_c) bound += 0x1p-7 * fabs((double)ref[i * ldc + j]); /* one bf16 ulp */
      double err = fabs((double)c[i * ldc + j] - (double)ref[i * ldc + j]) / bound;
      if (!(err <= worst)) worst = err; /* NaN included */
    }
    for (size_t j = n; j < ldc; j++) padding_kept &= c[i * ldc + j] == 42;
  }
  CHECK_MSG(worst <= 1 && padding_kept,
            "m=%zu n=%zu k=%zu ta=%d tb=%d alpha=%g beta=%g round_c=%d pad=%zu threads=%d: "
            "error %.3g of the bound, padding %s",
            m, n, k, ta, tb, (double)alpha, (double)beta, round_c, pad, threads, worst,
            padding_kept ? "kept" : "overwritten");
  free(a), free(b), free(c), free(ref);
}

/* Shapes around the micro-tile (14 rows, 16 and 32 columns) and the split
   of a remainder (22 = 2 x 11); depths odd and even, across the 512-deep
   blocks (513: two of 258, the last ending on half a pair); blocks of more
   than 504 rows or 1024 columns; strides wider than the rows; alpha other
   than 1, beta 0 (C NaN), 1 and other; C rounded or not; 1 and 2 threads. */
static void check_kernel(descent_rng *rng) {
  const size_t ms[] = {1, 13, 15, 22, 29}, ns[] = {1, 15, 17, 33, 47}, ks[] = {1, 2, 3, 17, 513};
  const float betas[] = {0, 1, -0.5f};
  int count = 0;
  for (int ta = 0; ta < 2; ta++)
    for (int tb = 0; tb < 2; tb++)
      for (int i = 0; i < 5; i++)
        for (int j = 0; j < 5; j++)
          for (int l = 0; l < 5; l++, count++)
            check_case(ms[i], ns[j], ks[l], ta, tb, 0.75f, betas[count % 3], count % 2,
                       (size_t)(count % 4 == 1) * 3, 1 + count % 2, rng);
  for (int ta = 0; ta < 2; ta++)
    for (int tb = 0; tb < 2; tb++) {
      check_case(505, 70, 300, ta, tb, 1.5f, 1, 1, 5, 2, rng);
      check_case(30, 1057, 40, ta, tb, 1, 0, 0, 1, 2, rng);
      check_case(129, 129, 1030, ta, tb, -2, -0.5f, 1, 7, 1, rng);
    }
  /* alpha 0 and k 0 leave beta C, rounded when asked. */
  float c[2] = {1.00390625f + 1.0f / 1024, 3}, a[1] = {1}, b[1] = {1};
  CHECK(sgemm_bf16(0, 0, 1, 2, 0, 1, a, 1, b, 2, 1, c, 2, 1, 1) == 0);
  CHECK(c[0] == 1.0078125f && c[1] == 3);
}

/* k = 1: no sum, so C = round(a) round(b) exactly (products of bf16 values
   are exact in float), and round(round(a) round(b)) with round_c. Random
   floats are not bf16 values: an operand not rounded, or rounded otherwise
   than to the nearest even, shows in the last bits. */
static void check_exact_products(descent_rng *rng) {
  enum { M = 37, N = 53 };
  float a[M], b[N], c[M * N];
  for (int i = 0; i < M; i++) a[i] = (float)descent_rng_normal(rng);
  for (int j = 0; j < N; j++) b[j] = (float)descent_rng_normal(rng);
  for (int ta = 0; ta < 2; ta++)
    for (int tb = 0; tb < 2; tb++)
      for (int round_c = 0; round_c < 2; round_c++) {
        /* With k = 1, A is M x 1 (lda 1) or 1 x M (lda M); B likewise. */
        CHECK(sgemm_bf16(ta, tb, M, N, 1, 1, a, ta ? M : 1, b, tb ? 1 : N, 0, c, N, round_c, 1) ==
              0);
        int exact = 1;
        for (int i = 0; i < M; i++)
          for (int j = 0; j < N; j++) {
            float want = sgemm_bf16_round(a[i]) * sgemm_bf16_round(b[j]);
            if (round_c) want = sgemm_bf16_round(want);
            exact &= bits(c[i * N + j]) == bits(want);
          }
        CHECK_MSG(exact, "ta=%d tb=%d round_c=%d: not bit for bit", ta, tb, round_c);
      }
}

/* 1 and 2 threads give the same bits. */
static void check_threads_agree(descent_rng *rng) {
  const size_t m = 130, n = 300, k = 333;
  for (int ta = 0; ta < 2; ta++)
    for (int tb = 0; tb < 2; tb++) {
      float *a = malloc(m * k * sizeof *a), *b = malloc(k * n * sizeof *b);
      float *c1 = malloc(m * n * sizeof *c1), *c2 = malloc(m * n * sizeof *c2);
      fill(a, m * k, rng);
      fill(b, k * n, rng);
      fill(c1, m * n, rng);
      memcpy(c2, c1, m * n * sizeof *c1);
      size_t lda = ta ? m : k, ldb = tb ? k : n;
      CHECK(sgemm_bf16(ta, tb, m, n, k, 0.5f, a, lda, b, ldb, 1, c1, n, 1, 1) == 0);
      CHECK(sgemm_bf16(ta, tb, m, n, k, 0.5f, a, lda, b, ldb, 1, c2, n, 1, 2) == 0);
      CHECK_MSG(memcmp(c1, c2, m * n * sizeof *c1) == 0, "ta=%d tb=%d: 1 and 2 threads differ", ta,
                tb);
      free(a), free(b), free(c1), free(c2);
    }
}

#endif

/* The setting on a network: refused where bf16 cannot run, with the reason;
   where it can, a dense layer's output is the bf16 product (checked
   against the reference), and a CNN's loss and gradient stay within bf16's
   reach of fp32's without being equal to them. */
static void check_network(descent_rng *rng) {
  descent_net *net = NULL;
  descent_shape in = {3, {1, 12, 12}};
  const char *spec = "conv(8, 3, pad=1), relu, maxpool(2), conv(16, 3), relu, flatten, dense(10)";
  enum { BATCH = 16, PIXELS = 144 };
  CHECK_OK(descent_net_create(&net, spec, &in, DESCENT_LOSS_SOFTMAX_XENT, BATCH, 3));
  if (!net) return;
  descent_precision p;
  CHECK_OK(descent_precision_parse("bf16", &p));
  CHECK(p == DESCENT_PRECISION_BF16);
  CHECK_FAILS(descent_precision_parse("fp16", &p), DESCENT_EINVAL, "valid: fp32, bf16");
  CHECK(descent_net_precision(net) == DESCENT_PRECISION_FP32);
  CHECK(strcmp(descent_precision_name(DESCENT_PRECISION_BF16), "bf16") == 0);
#ifdef DESCENT_DOUBLE
  CHECK_FAILS(descent_net_set_precision(net, DESCENT_PRECISION_BF16), DESCENT_ENOTSUP,
              "double build");
  descent_net_free(net);
  (void)rng;
#else
  if (!sgemm_bf16_available()) {
    CHECK_FAILS(descent_net_set_precision(net, DESCENT_PRECISION_BF16), DESCENT_ENOTSUP,
                sgemm_bf16_cpu() ? "avx512 kernel path" : "AVX512_BF16");
    CHECK(descent_net_precision(net) == DESCENT_PRECISION_FP32);
    descent_net_free(net);
    return;
  }
  CHECK_FAILS(descent_net_set_precision(net, (descent_precision)7), DESCENT_EINVAL, "valid");
  float x[BATCH * PIXELS];
  int32_t labels[BATCH];
  for (int i = 0; i < BATCH * PIXELS; i++) x[i] = (float)descent_rng_normal(rng);
  for (int i = 0; i < BATCH; i++) labels[i] = i % 10;
  descent_batch batch = {.n = BATCH, .x = x, .labels = labels};
  descent_objective *obj = descent_net_objective(net);
  size_t count = obj->n_params;
  float *grad32 = malloc(count * sizeof *grad32);
  double loss32, loss16;
  CHECK_OK(descent_objective_value_and_grad(obj, &batch, &loss32));
  memcpy(grad32, obj->grad, count * sizeof *grad32);
  CHECK_OK(descent_net_set_precision(net, DESCENT_PRECISION_BF16));
  CHECK(descent_net_precision(net) == DESCENT_PRECISION_BF16);
  CHECK_OK(descent_objective_value_and_grad(obj, &batch, &loss16));
  double diff = 0, norm = 0;
  for (size_t i = 0; i < count; i++) {
    diff += ((double)obj->grad[i] - grad32[i]) * ((double)obj->grad[i] - grad32[i]);
    norm += (double)grad32[i] * grad32[i];
  }
  diff = sqrt(diff / norm);
  CHECK_MSG(fabs(loss16 - loss32) < 0.02 * fabs(loss32) && loss16 != loss32,
            "loss fp32 %.9g, bf16 %.9g", loss32, loss16);
  CHECK_MSG(diff < 0.03 && diff > 1e-5, "gradient differs from fp32's by %.3g (relative)", diff);
  CHECK_OK(descent_net_set_precision(net, DESCENT_PRECISION_FP32));
  double again;
  CHECK_OK(descent_objective_value_and_grad(obj, &batch, &again));
  CHECK(again == loss32 && memcmp(obj->grad, grad32, count * sizeof *grad32) == 0);
  free(grad32);
  descent_net_free(net);

  /* A dense layer alone: y = bf16(x W^T + b), the bias added in float
     before the rounding. */
  descent_shape flat = {1, {40}};
  CHECK_OK(descent_net_create(&net, "dense(24)", &flat, DESCENT_LOSS_MSE, 9, 5));
  if (!net) return;
  CHECK_OK(descent_net_set_precision(net, DESCENT_PRECISION_BF16));
  float xs[9 * 40], y[9 * 24], want[9 * 24];
  fill(xs, 9 * 40, rng);
  const float *w = descent_net_objective(net)->params, *bias = w + 24 * 40;
  for (int i = 0; i < 9; i++) memcpy(want + i * 24, bias, 24 * sizeof *want);
  sgemm_bf16_reference(0, 1, 9, 24, 40, 1, xs, 40, w, 40, 1, want, 24, 1);
  CHECK_OK(descent_net_predict(net, xs, 9, y));
  for (int i = 0; i < 9 * 24; i++) CHECK_CLOSE(y[i], want[i], 0x1p-8);
  descent_net_free(net);
#endif
}

/* `test_bf16 kernel` (float build): the kernel against its reference, or
   SKIP and 77 where it cannot run: it never passes without running. */
int main(int argc, char **argv) {
  descent_rng rng;
  descent_rng_seed(&rng, 11);
  if (argc > 1) {
#ifndef DESCENT_DOUBLE
    if (strcmp(argv[1], "kernel") == 0) {
      if (!kernel_runs()) return 77;
      check_exact_products(&rng);
      check_kernel(&rng);
      check_threads_agree(&rng);
      return check_report();
    }
#endif
    fprintf(stderr, "usage: test_bf16 [kernel] (kernel: the float build only)\n");
    return 2;
  }
  check_rounding();
  check_reference_layout(&rng);
  check_network(&rng);
  return check_report();
}
