/*
 * test_edge_demo.c - the edge-of-stability demo (src/lab/demo_edge.c),
 * asserted on the table `descent demo edge-of-stability` prints: full-batch
 * gradient descent on a tanh MLP over Fashion-MNIST images sharpens until
 * the top Hessian eigenvalue reaches 2/lr (Cohen et al. 2021), then stays
 * within 10% of it while the loss keeps falling, no longer monotonically.
 * A smaller run than the demo's default (one step size of its two). Needs
 * Debian's dataset-fashion-mnist: without it, SKIP.
 */
#include "check.h"
#include "lab/lab.h"

#include <unistd.h>

static double num(const lab_result *r, const char *row, const char *col) {
  const lab_table *t = lab_result_find(r, "edge-of-stability");
  double v = t ? lab_table_number(t, row, col) : NAN;
  CHECK_MSG(!isnan(v), "edge-of-stability: no number at row '%s', column '%s'", row, col);
  return v;
}

/* Bad options are refused before any data is read, naming the choices. */
static void test_refusals(const lab_demo *d) {
  lab_result r;
  const char *act[] = {"act", "sigmoid", NULL}, *loss[] = {"loss", "hinge", NULL};
  const char *input[] = {"input", "whiten", NULL}, *lr[] = {"lr", "0", NULL};
  CHECK_FAILS(lab_demo_run(d, act, NULL, &r), DESCENT_EINVAL,
              "--act: 'sigmoid' is not tanh or relu");
  CHECK_FAILS(lab_demo_run(d, loss, NULL, &r), DESCENT_EINVAL,
              "--loss: 'hinge' is not mse or xent");
  CHECK_FAILS(lab_demo_run(d, input, NULL, &r), DESCENT_EINVAL,
              "--input: 'whiten' is not center, standardize or none");
  CHECK_FAILS(lab_demo_run(d, lr, NULL, &r), DESCENT_EINVAL, "--lr");
}

int main(void) {
  const lab_demo *d = lab_demo_find("edge-of-stability");
  CHECK(d != NULL);
  if (!d) return check_report();
  test_refusals(d);
  if (access(DESCENT_FASHION_MNIST_DIR "/train-images-idx3-ubyte.gz", R_OK) != 0) {
    printf("SKIP: Fashion-MNIST is not in %s (apt-get install dataset-fashion-mnist)\n",
           DESCENT_FASHION_MNIST_DIR);
    return 77;
  }
  lab_result r;
  const char *overrides[] = {"lr", "0.3", NULL};
  int rc = lab_demo_run(d, overrides, NULL, &r);
  CHECK_MSG(rc == DESCENT_OK, "demo edge-of-stability: %s", descent_last_error());
  if (rc) return check_report();
  const char *row = "lr=0.3";
  double limit = num(&r, row, "2/lr"), reached = num(&r, row, "reached at");
  double lowest = num(&r, row, "lowest ratio"), median = num(&r, row, "median ratio");
  double highest = num(&r, row, "highest ratio"), then = num(&r, row, "loss then");
  double final = num(&r, row, "final loss"), rises = num(&r, row, "loss rises");
  printf("2/lr %g: reached 0.9 x 2/lr at step %g; sharpness / (2/lr) from then on: %.3f to %.3f, "
         "median %.3f; loss %.4f then, %.4f at the end; %g rises\n",
         limit, reached, lowest, highest, median, then, final, rises);
  /* The limit is gradient descent's, from the optimizer. */
  CHECK_CLOSE(limit, 2 / 0.3, 1e-12);
  /* Progressive sharpening: from below 0.9 x 2/lr up to it, within the run. */
  CHECK(reached > 0 && reached < 600);
  /* Then within 10% of 2/lr: the median, and never far from it. */
  CHECK(median >= 0.9 && median <= 1.1);
  CHECK(lowest >= 0.85 && highest <= 1.25);
  /* While the loss keeps decreasing, not monotonically. */
  CHECK(final < then);
  CHECK(rises > 0);
  lab_result_free(&r);
  return check_report();
}
