/*
 * test_fast_paths.c - the fast paths of the training loop's own work (the
 * per-feature moments of standardization, the data set read on two threads,
 * the products of the AVX-512 kernel split over two threads from a lower
 * size, batches gathered on two threads) give the bits of the plain
 * loops they replace, at every thread count.
 *
 * Each reference below is the straightforward loop the fast path was written
 * from: same operations on each value, in the same order, so the comparisons
 * are exact. The file is rerun under each forced kernel path (tests/
 * CMakeLists.txt), so every path's copy is held to the same reference.
 */
#include "check.h"

#include "core/sgemm_avx512.h"
#include "core/sgemm_dnnl.h"
#include "data/whiten.h"
#include "nn/network_internal.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The moments as a walk down each column, two passes, in double. */
static void moments_reference(const descent_dataset *ds, double *mean, double *var) {
  size_t n = ds->n, f = ds->features;
  for (size_t j = 0; j < f; j++) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += ds->x[i * f + j];
    mean[j] = s / (double)n;
    double v = 0;
    for (size_t i = 0; i < n; i++) {
      double d = ds->x[i * f + j] - mean[j];
      v += d * d;
    }
    var[j] = v / (double)n;
  }
}

static void test_moments(void) {
  /* Widths below, at and across the block of 64 features, and a tail. */
  const size_t widths[] = {1, 63, 64, 65, 200, 784};
  for (size_t w = 0; w < sizeof widths / sizeof *widths; w++) {
    size_t n = 1001, f = widths[w];
    descent_dataset ds = {.n = n, .features = f};
    ds.x = malloc(n * f * sizeof *ds.x);
    double *mean = malloc(f * sizeof *mean), *var = malloc(f * sizeof *var);
    double *want_mean = malloc(f * sizeof *mean), *want_var = malloc(f * sizeof *var);
    descent_rng rng;
    descent_rng_seed(&rng, 7 + w);
    /* Pixel-like values with an offset, so the sums round. */
    for (size_t i = 0; i < n * f; i++)
      ds.x[i] = (descent_real)(0.3 + descent_rng_uniform(&rng) * (i % 5 ? 1.0 : 1e3) / 255.0);
    moments_reference(&ds, want_mean, want_var);
    for (int threads = 1; threads <= 3; threads++) {
      omp_set_num_threads(threads);
      memset(mean, 0xff, f * sizeof *mean);
      memset(var, 0xff, f * sizeof *var);
      preprocess_moments(&ds, mean, var);
      CHECK_MSG(memcmp(mean, want_mean, f * sizeof *mean) == 0,
                "moments: means differ from the column walk (%zu features, %d threads)", f,
                threads);
      CHECK_MSG(memcmp(var, want_var, f * sizeof *var) == 0,
                "moments: variances differ from the column walk (%zu features, %d threads)", f,
                threads);
    }
    omp_set_num_threads(1);
    free(ds.x);
    free(mean);
    free(var);
    free(want_mean);
    free(want_var);
  }
}

/* Fashion-MNIST read on two threads (train and test at once) gives what one
   thread reads, and the same message when a split is missing. */
static void test_fashion_threads(void) {
  char probe[512];
  snprintf(probe, sizeof probe, "%s/train-images-idx3-ubyte.gz", DESCENT_FASHION_MNIST_DIR);
  if (access(probe, R_OK) != 0) {
    printf("SKIP fashion threads: %s is not installed (dataset-fashion-mnist)\n", probe);
    return;
  }
  descent_dataset train[2], test[2];
  for (int t = 0; t < 2; t++) {
    omp_set_num_threads(t + 1);
    CHECK_OK(descent_fashion_mnist_load(NULL, &train[t], &test[t]));
  }
  CHECK(train[0].n == train[1].n && test[0].n == test[1].n && train[0].classes == train[1].classes);
  CHECK(memcmp(train[0].x, train[1].x, train[0].n * train[0].features * sizeof *train[0].x) == 0);
  CHECK(memcmp(test[0].x, test[1].x, test[0].n * test[0].features * sizeof *test[0].x) == 0);
  CHECK(memcmp(train[0].labels, train[1].labels, train[0].n * sizeof *train[0].labels) == 0);
  CHECK(memcmp(test[0].labels, test[1].labels, test[0].n * sizeof *test[0].labels) == 0);
  for (int t = 0; t < 2; t++) {
    descent_dataset_free(&train[t]);
    descent_dataset_free(&test[t]);
  }

  /* The training files alone: the test split's message, on either count. */
  const char *tmp = getenv("DESCENT_TEST_TMP");
  char dir[1024], link[1200], target[1200], message[2][1024];
  snprintf(dir, sizeof dir, "%s/fashion-train-only", tmp && *tmp ? tmp : "/tmp");
  mkdir(dir, 0755);
  const char *names[] = {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"};
  for (int i = 0; i < 2; i++) {
    snprintf(link, sizeof link, "%s/%s", dir, names[i]);
    snprintf(target, sizeof target, "%s/%s", DESCENT_FASHION_MNIST_DIR, names[i]);
    remove(link);
    CHECK(symlink(target, link) == 0);
  }
  for (int t = 0; t < 2; t++) {
    omp_set_num_threads(t + 1);
    CHECK_FAILS(descent_fashion_mnist_load(dir, &train[t], &test[t]), DESCENT_EIO,
                "no t10k-images-idx3-ubyte.gz or t10k-images-idx3-ubyte in");
    CHECK(train[t].x == NULL && test[t].x == NULL);
    snprintf(message[t], sizeof message[t], "%s", descent_last_error());
  }
  CHECK_MSG(strcmp(message[0], message[1]) == 0, "messages differ: '%s' and '%s'", message[0],
            message[1]);
  omp_set_num_threads(1);
}

static void fill(float *v, size_t n, descent_rng *rng) {
  for (size_t i = 0; i < n; i++) v[i] = (float)descent_rng_normal(rng);
}

/* The largest |got - ref| / (1 + |ref|) over n values. */
static double worst_error(const float *got, const float *ref, size_t n) {
  double worst = 0;
  for (size_t i = 0; i < n; i++) {
    double e = fabs((double)got[i] - (double)ref[i]) / (1.0 + fabs((double)ref[i]));
    if (e > worst) worst = e;
  }
  return worst;
}

/* The products between the kernel's parallel threshold (2^20 multiply-adds)
   and the general one (2^23) at two threads: on the avx512 path the kernel
   takes them, with the bits of its one-thread run; on the avx2 path oneDNN
   takes them on both
   threads (with the bits of its own two-thread call) where the library has
   it; on the portable path they stay on one thread, with the bits of a
   one-thread call. All close to the double reference. Each is a dense
   layer's product (descent_gemm_dense), the one kind oneDNN is given. */
static void test_product_threads(void) {
  const struct {
    int trans_a, trans_b;
    size_t m, n, k;
    float beta;
  } shapes[] = {
      {0, 1, 128, 128, 256, 1}, /* x W^T, the main job's second layer */
      {0, 0, 128, 256, 128, 0}, /* dy W */
      {1, 0, 128, 256, 128, 0}, /* dy^T x */
      {0, 1, 128, 128, 128, 1}, /* 2^21 */
      {0, 1, 128, 40, 256, 0},  /* 1.3M, as the big MLP's output layer (128 x 10 x 1024) */
      {0, 1, 128, 128, 64, 1},  /* at the threshold */
      {0, 1, 100, 100, 100, 1}, /* below it: one thread everywhere */
  };
  descent_rng rng;
  descent_rng_seed(&rng, 11);
  int kernel = descent_isa_path() == DESCENT_ISA_AVX512 && sgemm_avx512_available();
  int takes_dnnl = 0;
  for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
    int ta = shapes[s].trans_a, tb = shapes[s].trans_b;
    size_t m = shapes[s].m, n = shapes[s].n, k = shapes[s].k;
    size_t lda = ta ? m : k, ldb = tb ? k : n;
    float *a = malloc(m * k * sizeof *a), *b = malloc(k * n * sizeof *b);
    float *c0 = malloc(m * n * sizeof *c0), *two = malloc(m * n * sizeof *two);
    float *one = malloc(m * n * sizeof *one), *ref = malloc(m * n * sizeof *ref);
    fill(a, m * k, &rng);
    fill(b, k * n, &rng);
    fill(c0, m * n, &rng);
    float beta = shapes[s].beta;
    memcpy(two, c0, m * n * sizeof *two);
    memcpy(one, c0, m * n * sizeof *one);
    memcpy(ref, c0, m * n * sizeof *ref);
    omp_set_num_threads(2);
    /* A dense layer's product, which oneDNN may take (gemm.c's rule). */
    int dnnl = descent_gemm_dnnl_threads(ta, tb, m, n, k) == 2;
    descent_gemm_dense(DESCENT_PRECISION_FP32, 1, ta, tb, m, n, k, a, lda, b, ldb, beta, two, n);
    omp_set_num_threads(1);
    int big = (double)m * (double)n * (double)k >= 1048576.0;
    const char *expected = "a one-thread call";
    if (dnnl) {
      CHECK(sgemm_dnnl(ta, tb, m, n, k, 1, a, lda, b, ldb, beta, one, n, 2) == 0);
      expected = "oneDNN on two threads";
    } else if (kernel && big) {
      CHECK(sgemm_avx512(ta, tb, m, n, k, 1, a, lda, b, ldb, beta, one, n, 1) == 0);
      expected = "the kernel on one thread";
    } else {
      descent_gemm(ta, tb, m, n, k, 1, a, lda, b, ldb, beta, one, n);
    }
    takes_dnnl += dnnl;
    descent_gemm_reference(ta, tb, m, n, k, 1, a, lda, b, ldb, beta, ref, n);
    CHECK_MSG(memcmp(one, two, m * n * sizeof *one) == 0,
              "product %zux%zux%zu (trans %d%d) on two threads differs from %s", m, n, k, ta, tb,
              expected);
    double worst = worst_error(two, ref, m * n);
    CHECK_MSG(worst < 1e-5, "product %zux%zux%zu: relative error %g against the reference", m, n, k,
              worst);
    free(a);
    free(b);
    free(c0);
    free(two);
    free(one);
    free(ref);
  }
  printf("products between the thresholds: %d of %d on oneDNN (path %s%s)\n", takes_dnnl,
         (int)(sizeof shapes / sizeof *shapes), descent_isa_name(),
         sgemm_dnnl_available() ? "" : ", oneDNN not available");
  /* Where oneDNN runs, the rule gives it, on the avx2 path, every one of
     these products from 2^20 multiply-adds. */
  int want = sgemm_dnnl_available() && descent_isa_path() == DESCENT_ISA_AVX2 ? 6 : 0;
  CHECK_MSG(takes_dnnl == want, "oneDNN took %d of these products, the rule says %d", takes_dnnl,
            want);
}

/* A network whose products oneDNN will take has oneDNN's kernels generated
   when it is created, not in its first step (sgemm_dnnl_prepare); one whose
   products it never takes does not, nor does laying out a spec's sizes.
   Runs first: the process must not have called oneDNN yet. */
static void test_dnnl_prepare(void) {
  int on = sgemm_dnnl_available() && descent_isa_path() == DESCENT_ISA_AVX2;
  CHECK_MSG(!sgemm_dnnl_prepared(), "oneDNN was prepared before any network was made");
  omp_set_num_threads(1);
  descent_shape input = {1, {784}}, wide = {1, {1024}};
  /* A spec's sizes alone, as a model file's check lays them out (at batch
     1, where 1024 x 1024 is 2^20 multiply-adds), make nothing. */
  net_layout layout;
  CHECK(net_spec_layout("dense(1024) relu dense(10)", &wide, &layout) == DESCENT_OK);
  net_layout_free(&layout);
  CHECK_MSG(!sgemm_dnnl_prepared(), "a spec's layout prepared oneDNN");
  descent_net *net = NULL;
  /* At batch 8 each product of the first layer is 8 x 100 x 784
     multiply-adds (627,200), the second layer's fewer: all below 2^20. */
  CHECK(descent_net_create(&net, "dense(100) relu dense(10)", &input, DESCENT_LOSS_SOFTMAX_XENT, 8,
                           1) == DESCENT_OK);
  descent_net_free(net);
  CHECK_MSG(!sgemm_dnnl_prepared(), "a network of products below 2^20 prepared oneDNN");
  /* At batch 128 the first layer's weight gradient (100 x 784 x 128) is
     oneDNN's on the avx2 path. */
  net = NULL;
  CHECK(descent_net_create(&net, "dense(100) relu dense(10)", &input, DESCENT_LOSS_SOFTMAX_XENT,
                           128, 1) == DESCENT_OK);
  descent_net_free(net);
  CHECK_MSG(sgemm_dnnl_prepared() == on, "the small MLP at batch 128: oneDNN prepared %d, want %d",
            sgemm_dnnl_prepared(), on);
  if (!on)
    printf("SKIP oneDNN preparation: %s\n",
           descent_isa_path() != DESCENT_ISA_AVX2
               ? "only the avx2 path gives oneDNN products"
               : "oneDNN is not available (a build without it, or not an OpenMP build of it)");
}

/* The dense layers' products oneDNN takes at one thread and at two (the
   avx2 path only, gemm.c's rule): from 2^20 multiply-adds, dy^T x
   whatever its size, every product below 2^23, x W^T from 2^23 on one
   thread up to 256 columns and on two all, dy W from 2^23 never. At one
   thread on the bits of oneDNN's own one-thread call. Elsewhere none.
   Each close to the double reference (on every fifth row: the big MLP's
   shapes are 100-134M multiply-adds). */
static void test_dnnl_rule(void) {
  const struct {
    int trans_a, trans_b;
    size_t m, n, k;
    int taken[2]; /* at one and at two threads, on the avx2 path with oneDNN */
  } shapes[] = {
      {1, 0, 1024, 784, 128, {1, 1}},  /* dy^T x, the big MLP's first layer */
      {0, 1, 128, 1024, 1024, {0, 1}}, /* x W^T, its second: 1024 columns */
      {0, 1, 128, 256, 784, {1, 1}},   /* x W^T, the main job's first layer */
      {0, 1, 128, 257, 784, {0, 1}},   /* one column more */
      {0, 0, 128, 1024, 1024, {0, 0}}, /* dy W above 2^23 */
      {0, 0, 128, 256, 256, {0, 0}},   /* dy W at 2^23 */
      {0, 0, 128, 256, 255, {1, 1}},   /* dy W below it */
      {1, 0, 10, 100, 128, {0, 0}},    /* under 2^20 */
  };
  int on = sgemm_dnnl_available() && descent_isa_path() == DESCENT_ISA_AVX2;
  descent_rng rng;
  descent_rng_seed(&rng, 12);
  for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
    int ta = shapes[s].trans_a, tb = shapes[s].trans_b;
    size_t m = shapes[s].m, n = shapes[s].n, k = shapes[s].k;
    size_t lda = ta ? m : k, ldb = tb ? k : n;
    for (int threads = 1; threads <= 2; threads++) {
      omp_set_num_threads(threads);
      int got = descent_gemm_dnnl_threads(ta, tb, m, n, k);
      int want = on && shapes[s].taken[threads - 1] ? threads : 0;
      CHECK_MSG(got == want,
                "%zux%zux%zu (trans %d%d) at %d threads: oneDNN on %d threads, the rule says %d", m,
                n, k, ta, tb, threads, got, want);
    }
    omp_set_num_threads(1);
    int want = on && shapes[s].taken[0];
    float *a = malloc(m * k * sizeof *a), *b = malloc(k * n * sizeof *b);
    float *c = malloc(m * n * sizeof *c), *own = malloc(m * n * sizeof *own);
    float *ref = malloc(n * sizeof *ref);
    if (!a || !b || !c || !own || !ref) {
      CHECK_MSG(0, "out of memory");
    } else {
      fill(a, m * k, &rng);
      fill(b, k * n, &rng);
      descent_gemm_dense(DESCENT_PRECISION_FP32, 1, ta, tb, m, n, k, a, lda, b, ldb, 0, c, n);
      if (want)
        CHECK(sgemm_dnnl(ta, tb, m, n, k, 1, a, lda, b, ldb, 0, own, n, 1) == 0);
      else
        descent_gemm(ta, tb, m, n, k, 1, a, lda, b, ldb, 0, own, n);
      CHECK_MSG(memcmp(c, own, m * n * sizeof *c) == 0,
                "%zux%zux%zu (trans %d%d) at one thread differs from %s", m, n, k, ta, tb,
                want ? "oneDNN's one-thread call" : "descent_gemm");
      double worst = 0;
      for (size_t i = 0; i < m; i += 5) {
        /* Row i of op(A) op(B): op(A)'s row i starts at a + i (transposed:
           its elements lda apart) or at a + i lda. */
        memset(ref, 0, n * sizeof *ref);
        descent_gemm_reference(ta, tb, 1, n, k, 1, ta ? a + i : a + i * lda, lda, b, ldb, 0, ref,
                               n);
        double e = worst_error(c + i * n, ref, n);
        if (e > worst) worst = e;
      }
      CHECK_MSG(worst < 1e-4, "%zux%zux%zu: relative error %g against the reference", m, n, k,
                worst);
    }
    free(a);
    free(b);
    free(c);
    free(own);
    free(ref);
  }
  printf("oneDNN's rule at one and two threads: %s (path %s)\n",
         on ? "checked on oneDNN" : "oneDNN takes nothing here", descent_isa_name());
}

/* OMP_DYNAMIC=true (dynamic teams) in the calling thread costs the dense
   layers neither oneDNN nor their bits: sgemm_dnnl turns dynamic teams off
   for its call and back on after, with the thread count as it was. */
static void test_dnnl_dynamic(void) {
  if (!sgemm_dnnl_available() || descent_isa_path() != DESCENT_ISA_AVX2) {
    printf("SKIP oneDNN under dynamic teams: %s\n", descent_isa_path() != DESCENT_ISA_AVX2
                                                        ? "only the avx2 path gives oneDNN products"
                                                        : "oneDNN is not available");
    return;
  }
  const size_t m = 1024, n = 784, k = 128; /* dy^T x, the big MLP's first layer */
  descent_rng rng;
  descent_rng_seed(&rng, 13);
  float *a = malloc(k * m * sizeof *a), *b = malloc(k * n * sizeof *b);
  float *fixed = malloc(m * n * sizeof *fixed), *dynamic = malloc(m * n * sizeof *dynamic);
  if (!a || !b || !fixed || !dynamic) {
    CHECK_MSG(0, "out of memory");
  } else {
    fill(a, k * m, &rng);
    fill(b, k * n, &rng);
    int saved = omp_get_dynamic();
    omp_set_num_threads(1);
    omp_set_dynamic(0);
    CHECK(sgemm_dnnl(1, 0, m, n, k, 1, a, m, b, n, 0, fixed, n, 2) == 0);
    omp_set_dynamic(1);
    CHECK_MSG(sgemm_dnnl(1, 0, m, n, k, 1, a, m, b, n, 0, dynamic, n, 2) == 0,
              "oneDNN declined a product under dynamic teams");
    CHECK_MSG(omp_get_dynamic() == 1, "dynamic teams not put back on");
    CHECK_MSG(omp_get_max_threads() == 1, "the thread count not put back: %d",
              omp_get_max_threads());
    CHECK_MSG(memcmp(fixed, dynamic, m * n * sizeof *fixed) == 0,
              "oneDNN's product under dynamic teams differs from the one without");
    omp_set_dynamic(saved);
  }
  free(a);
  free(b);
  free(fixed);
  free(dynamic);
}

/* Batches gathered on two threads hold the rows and labels the order names,
   as on one (batches from 65,536 values are gathered in parallel). */
static void test_batcher_threads(void) {
  size_t n = 1500, f = 130, batch = 600; /* 78,000 values a batch, and a short last batch */
  descent_dataset ds = {.n = n, .features = f, .classes = 7};
  ds.x = malloc(n * f * sizeof *ds.x);
  ds.labels = malloc(n * sizeof *ds.labels);
  for (size_t i = 0; i < n * f; i++) ds.x[i] = (descent_real)i;
  for (size_t i = 0; i < n; i++) ds.labels[i] = (int32_t)(i % 7);
  for (int threads = 1; threads <= 2; threads++) {
    omp_set_num_threads(threads);
    descent_batcher *b = NULL;
    CHECK_OK(descent_batcher_create(&b, &ds, batch, 1, 5));
    if (!b) continue;
    descent_batch got;
    size_t batches = 0;
    for (int epoch = 0; epoch < 2; epoch++)
      while (descent_batcher_next(b, &got)) {
        batches++;
        int rows_ok = 1;
        for (size_t i = 0; i < got.n; i++) {
          size_t row = got.indices[i];
          if (memcmp(got.x + i * f, ds.x + row * f, f * sizeof *got.x) != 0 ||
              got.labels[i] != ds.labels[row])
            rows_ok = 0;
        }
        CHECK_MSG(rows_ok, "batcher on %d thread(s): a batch row differs from its example",
                  threads);
      }
    CHECK(batches == 6);
    descent_batcher_free(b);
  }
  omp_set_num_threads(1);
  free(ds.x);
  free(ds.labels);
}

/* Buffers of 4 MB and more are zeroed by giving their pages back to the
   kernel (core/memory.c): a buffer made where a written one was freed must
   still read as zeros, whole, its last value included. */
static void test_large_buffers_zeroed(void) {
  const size_t mb = ((size_t)1 << 20) / sizeof(descent_real); /* values in a MB */
  /* glibc serves a freed mmap's size from its heap afterwards (its mmap
     threshold rises to it, up to 32 MB): the buffers below are then made
     in reused heap memory, not in fresh pages that are zero anyway. */
  descent_real *raise = descent_alloc_real(24 * mb, "test buffer");
  CHECK(raise != NULL);
  if (raise) raise[0] = 1;
  descent_free_real(raise);
  const size_t sizes[] = {4 * mb, 12 * mb + 17, 16 * mb};
  for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++)
    for (int round = 0; round < 3; round++) {
      size_t n = sizes[k];
      descent_real *dirty = descent_alloc_real(n, "test buffer");
      CHECK(dirty != NULL);
      if (!dirty) return;
      for (size_t i = 0; i < n; i++) dirty[i] = (descent_real)(i + 1);
      /* A block made after it keeps the heap from giving the freed one back
         to the kernel, so that the next buffer can be the same memory. */
      void *after = malloc((size_t)3 << 20); /* larger than the alignment gap before it */
      descent_free_real(dirty);
      descent_real *fresh = descent_alloc_real(n, "test buffer");
      free(after);
      CHECK(fresh != NULL);
      if (!fresh) return;
      size_t nonzero = 0;
      for (size_t i = 0; i < n; i++) nonzero += fresh[i] != 0;
      CHECK_MSG(nonzero == 0, "a new buffer of %zu values holds %zu nonzero values", n, nonzero);
      for (size_t i = 0; i < n; i++) fresh[i] = (descent_real)i; /* dirty for the next round */
      descent_free_real(fresh);
    }
}

int main(void) {
  /* As the descent program does first: on a CPU with AVX-512 forced to
     the avx2 path, oneDNN takes products only once this has capped it. A
     path the CPU cannot run is refused here; the tests then run on the
     path descent_isa_path gives. */
  if (descent_cpu_setup()) printf("descent_cpu_setup: %s\n", descent_last_error());
  test_dnnl_prepare();
  test_large_buffers_zeroed();
  test_moments();
  test_fashion_threads();
  test_product_threads();
  test_dnnl_rule();
  test_dnnl_dynamic();
  test_batcher_threads();
  return check_report();
}
