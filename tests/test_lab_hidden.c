/*
 * test_lab_hidden.c - the hidden-layer conditioning demo
 * (src/lab/demo_hidden.c, slide 31), asserted on the tables of its quick
 * version (`descent demo all --quick`): a 3 x 64 relu MLP trained plain,
 * with batch norm, on ZCA-whitened pixels and with both. What holds:
 *  - ZCA whitens the input (kappa 99 falls 10-fold and more) and the first
 *    hidden layer reads almost white data (kappa within 5x of the sampling
 *    floor of white data, 5x below the plain network's);
 *  - the next layers are not white again (kappa 10x the first layer's, the
 *    units' variances spread 20-fold and more);
 *  - batch norm evens out the units' variances (ratio below 4 in every
 *    layer, 100 and more without it) and cuts the deep layers' kappa 5-fold
 *    and more, but it does not decorrelate: the correlation matrix alone
 *    keeps kappa 20x above white;
 *  - kappa / kappa corr lies within [1 / var ratio, var ratio] (D^1/2 R
 *    D^1/2), in every row;
 *  - 500 probe images span at most 499 of the 784 pixel directions: the
 *    rest are counted as zero, and kappa stays finite.
 * And in the loss: at lr 0.1 the whitened input starts slower than batch
 * norm's network and than both together; at 0.3 it runs far ahead. Needs Debian's
 * dataset-fashion-mnist: without it, SKIP.
 */
#include "check.h"
#include "lab_check.h"
#include "lab/lab.h"

#include <unistd.h>

static double num(const lab_result *r, const char *table, const char *row, const char *col) {
  return lab_check_num(r, table, row, col);
}

static double layer(const lab_result *r, const char *net, const char *which, const char *col) {
  char row[64];
  snprintf(row, sizeof row, "%s %s", net, which);
  return num(r, "hidden-conditioning-layers", row, col);
}

/* Bad options are refused before any data is read, naming the option. */
static void test_refusals(const lab_demo *d) {
  lab_result r;
  const char *depth[] = {"depth", "7", NULL}, *lr[] = {"lr", "0", NULL};
  const char *other[] = {"compare-lr", "0.1,x", NULL}, *points[] = {"points", "41", NULL};
  const char *many[] = {"train", "59000", NULL}, *option[] = {"act", "tanh", NULL};
  CHECK_FAILS(lab_demo_run(d, depth, NULL, &r), DESCENT_EINVAL, "--depth");
  CHECK_FAILS(lab_demo_run(d, lr, NULL, &r), DESCENT_EINVAL, "--lr");
  CHECK_FAILS(lab_demo_run(d, other, NULL, &r), DESCENT_EINVAL, "--compare-lr: 'x'");
  CHECK_FAILS(lab_demo_run(d, points, NULL, &r), DESCENT_EINVAL, "--points");
  CHECK_FAILS(lab_demo_run(d, many, NULL, &r), DESCENT_EINVAL, "--train 59000 + --probe 2000");
  CHECK_FAILS(lab_demo_run(d, option, NULL, &r), DESCENT_EINVAL, "no option '--act'");
}

static void test_input(const lab_result *r) {
  double std99 = layer(r, "plain", "input", "kappa 99 end");
  double zca99 = layer(r, "zca", "input", "kappa 99 end");
  printf("input: kappa 99 standardized %.4g, zca %.4g; kappa %.4g and %.4g; zero %.4f\n", std99,
         zca99, layer(r, "plain", "input", "kappa end"), layer(r, "zca", "input", "kappa end"),
         layer(r, "zca", "input", "zero end"));
  CHECK(zca99 < std99 / 10);
  /* 500 centred images span at most 499 directions of 784. */
  const char *nets[] = {"plain", "zca"};
  for (int i = 0; i < 2; i++) {
    double kappa = layer(r, nets[i], "input", "kappa end");
    CHECK(layer(r, nets[i], "input", "zero end") >= 1 - 499.0 / 784 - 1e-12);
    CHECK(isfinite(kappa) && kappa >= 1);
  }
}

static void test_not_white_again(const lab_result *r) {
  double floor = layer(r, "zca", "h1", "white floor");
  double q = sqrt(64.0 / 500); /* Marchenko-Pastur: (1 +- sqrt(d/n))^2 */
  CHECK_CLOSE(floor, pow((1 + q) / (1 - q), 2), 1e-9);
  for (int end = 0; end < 2; end++) {
    const char *col = end ? "kappa end" : "kappa start";
    double zca1 = layer(r, "zca", "h1", col), plain1 = layer(r, "plain", "h1", col);
    double zca2 = layer(r, "zca", "h2", col);
    printf("%s: h1 zca %.4g (white %.3g), plain %.4g; h2 zca %.4g\n", col, zca1, floor, plain1,
           zca2);
    CHECK(zca1 >= floor * 0.9 && zca1 < 5 * floor);
    CHECK(zca1 < plain1 / 5);
    CHECK(zca2 > 10 * zca1);
  }
  CHECK(layer(r, "zca", "h2", "var ratio end") > 20);
}

static void test_batch_norm(const lab_result *r) {
  const char *which[] = {"h1", "h2", "h3"};
  for (int l = 0; l < 3; l++)
    for (int end = 0; end < 2; end++) {
      const char *col = end ? "var ratio end" : "var ratio start";
      double bn = layer(r, "batchnorm", which[l], col);
      double both = layer(r, "zca+batchnorm", which[l], col);
      printf("%s %s: batchnorm %.4g, zca+batchnorm %.4g, plain %.4g\n", which[l], col, bn, both,
             layer(r, "plain", which[l], col));
      CHECK(bn < 4 && both < 4);
      if (l) CHECK(layer(r, "plain", which[l], col) > 100);
    }
  for (int l = 0; l < 3; l++) {
    double corr = layer(r, "batchnorm", which[l], "kappa corr end");
    printf("%s: batchnorm kappa %.4g, kappa corr %.4g (white %.3g)\n", which[l],
           layer(r, "batchnorm", which[l], "kappa end"), corr,
           layer(r, "batchnorm", which[l], "white floor"));
    CHECK(corr > 20 * layer(r, "batchnorm", which[l], "white floor"));
  }
  for (int l = 1; l < 3; l++) {
    CHECK(layer(r, "batchnorm", which[l], "kappa end") <
          layer(r, "plain", which[l], "kappa end") / 5);
    CHECK(layer(r, "zca+batchnorm", which[l], "kappa end") <
          layer(r, "zca", which[l], "kappa end") / 5);
  }
}

/* kappa(D^1/2 R D^1/2) / kappa(R) lies in [1 / (dmax/dmin), dmax/dmin]. */
static void test_scale_bound(const lab_result *r) {
  const lab_table *t = lab_result_find(r, "hidden-conditioning-layers");
  CHECK(t && t->n_rows == 16);
  for (size_t i = 0; t && i < t->n_rows; i++) {
    const char *row = t->cells[i * (size_t)t->n_cols].text;
    double k = lab_table_number(t, row, "kappa end"),
           c = lab_table_number(t, row, "kappa corr end");
    double v = lab_table_number(t, row, "var ratio end");
    CHECK_MSG(k / c <= v * (1 + 1e-6) && c / k <= v * (1 + 1e-6),
              "%s: kappa %g, kappa corr %g, var ratio %g", row, k, c, v);
  }
}

/* The loss curve of network v (0 plain, 1 batchnorm, 2 zca, 3 zca+batchnorm)
   from the picture's table; returns its length. */
static int curve(const lab_result *r, int v, double *loss, int cap) {
  const lab_table *t = lab_result_find(r, "hidden-conditioning");
  int n = 0;
  for (size_t i = 0; t && i < t->n_rows && n < cap; i++) {
    const char *row = t->cells[i * (size_t)t->n_cols].text;
    if (lab_table_number(t, row, "network") == v) loss[n++] = lab_table_number(t, row, "loss");
  }
  return n;
}

static void test_speed(const lab_result *r) {
  /* At lr 0.1 the whitened input starts slower than batch norm's network
     and than both together, at every measurement after the start. */
  double bn[64], zca[64], both[64];
  int n = curve(r, 1, bn, 64);
  CHECK(n == 11 && curve(r, 2, zca, 64) == n && curve(r, 3, both, 64) == n);
  for (int i = 1; i < n; i++) {
    CHECK_MSG(zca[i] > bn[i] && zca[i] > both[i], "point %d: zca %g, batchnorm %g, both %g", i,
              zca[i], bn[i], both[i]);
  }
  /* At lr 0.3 it runs far ahead; batch norm's network still trains. */
  const char *t = "hidden-conditioning-speed";
  double bn3 = num(r, t, "lr=0.3", "batchnorm"), zca3 = num(r, t, "lr=0.3", "zca");
  printf("loss at lr 0.3: batchnorm %.4f, zca %.4f\n", bn3, zca3);
  CHECK(bn3 < 0.5);
  CHECK(zca3 < 0.1 && zca3 < bn3 / 3);
}

int main(void) {
  const lab_demo *d = lab_demo_find("hidden-conditioning");
  CHECK(d != NULL);
  if (!d) return check_report();
  CHECK(strcmp(d->slides, "slide 31") == 0 && d->claim && d->look_for && d->duration);
  CHECK(strcmp(lab_demo_find("batchnorm")->slides, "slide 31") == 0);
  test_refusals(d);
  if (access(DESCENT_FASHION_MNIST_DIR "/train-images-idx3-ubyte.gz", R_OK) != 0) {
    printf("SKIP: Fashion-MNIST is not in %s (apt-get install dataset-fashion-mnist)\n",
           DESCENT_FASHION_MNIST_DIR);
    return 77;
  }
  lab_result r;
  const char *const *quick = lab_demo_quick(d);
  CHECK(quick != NULL);
  int rc = lab_demo_run(d, quick, NULL, &r);
  CHECK_MSG(rc == DESCENT_OK, "demo hidden-conditioning --quick: %s", descent_last_error());
  if (rc) return check_report();
  test_input(&r);
  test_not_white_again(&r);
  test_batch_norm(&r);
  test_scale_bound(&r);
  test_speed(&r);
  lab_result_free(&r);
  return check_report();
}
