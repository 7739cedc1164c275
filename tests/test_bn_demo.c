/*
 * test_bn_demo.c - the batch-norm demo (src/lab/demo_batchnorm.c), asserted
 * on the tables `descent demo batchnorm` prints: a 6-layer tanh MLP on
 * Fashion-MNIST trains at small rates with and without batch norm, but only
 * with it at the large ones and at the smallest, so the range of rates that
 * work is wider with batch norm. Needs Debian's dataset-fashion-mnist.
 */
#include "check.h"
#include "lab/lab.h"

static double num(const lab_result *r, const char *table, const char *row, const char *col) {
  const lab_table *t = lab_result_find(r, table);
  double v = t ? lab_table_number(t, row, col) : NAN;
  CHECK_MSG(!isnan(v), "%s: no number at row '%s', column '%s'", table, row, col);
  return v;
}

static const char *text(const lab_result *r, const char *row, const char *col) {
  const lab_table *t = lab_result_find(r, "batchnorm");
  const lab_cell *c = t ? lab_table_get(t, row, col) : NULL;
  CHECK_MSG(c != NULL, "batchnorm: no cell at row '%s', column '%s'", row, col);
  return c ? c->text : "";
}

int main(void) {
  const lab_demo *d = lab_demo_find("batchnorm");
  CHECK(d != NULL);
  if (!d) return check_report();
  lab_result r;
  const char *overrides[] = {"lr", "0.003,0.03,1,3", NULL};
  int rc = lab_demo_run(d, overrides, NULL, &r);
  CHECK_MSG(rc == DESCENT_OK, "demo batchnorm: %s", descent_last_error());
  if (rc) return check_report();
  const char *rows[] = {"lr=0.003", "lr=0.03", "lr=1", "lr=3"};
  for (int i = 0; i < 4; i++)
    printf("%-9s plain: loss %.4f acc %.4f %-8s  batch norm: loss %.4f acc %.4f %s\n", rows[i],
           num(&r, "batchnorm", rows[i], "plain loss"), num(&r, "batchnorm", rows[i], "plain acc"),
           text(&r, rows[i], "plain"), num(&r, "batchnorm", rows[i], "bn loss"),
           num(&r, "batchnorm", rows[i], "bn acc"), text(&r, rows[i], "bn"));
  /* A moderate rate: both learn. */
  CHECK(strcmp(text(&r, "lr=0.03", "plain"), "works") == 0);
  CHECK(strcmp(text(&r, "lr=0.03", "bn"), "works") == 0);
  /* A large rate: only batch norm keeps the loss down. */
  CHECK(strcmp(text(&r, "lr=1", "plain"), "works") != 0);
  CHECK(strcmp(text(&r, "lr=1", "bn"), "works") == 0);
  CHECK(num(&r, "batchnorm", "lr=1", "plain loss") > 2);
  CHECK(num(&r, "batchnorm", "lr=1", "bn loss") < 1);
  CHECK(num(&r, "batchnorm", "lr=3", "bn acc") > num(&r, "batchnorm", "lr=3", "plain acc") + 0.2);
  /* The smallest rate: batch norm learns faster. */
  CHECK(num(&r, "batchnorm", "lr=0.003", "bn loss") <
        num(&r, "batchnorm", "lr=0.003", "plain loss"));
  /* So the range is wider, at both ends. */
  double plain_lo = num(&r, "batchnorm-range", "plain", "lowest");
  double plain_hi = num(&r, "batchnorm-range", "plain", "highest");
  double bn_lo = num(&r, "batchnorm-range", "batch norm", "lowest");
  double bn_hi = num(&r, "batchnorm-range", "batch norm", "highest");
  printf("rates that work: plain %g to %g, batch norm %g to %g\n", plain_lo, plain_hi, bn_lo,
         bn_hi);
  CHECK(bn_lo <= plain_lo && bn_hi > plain_hi);
  CHECK(r.n_notes == 3 && strstr(r.notes[2], "With batch norm the rates from") != NULL);
  lab_result_free(&r);
  return check_report();
}
