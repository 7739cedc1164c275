/*
 * test_qmc.c - the Sobol and Halton points against scipy.stats.qmc's
 * (tests/fixtures/qmc/qmc.txt, written by tools/fixtures/qmc_fixtures.py),
 * bit for bit, in every dimension up to the recorded one, and the error paths.
 */
#include "check.h"

#include <stdlib.h>

#ifndef DESCENT_FIXTURE_DIR
#define DESCENT_FIXTURE_DIR "tests/fixtures/qmc"
#endif

enum { MAX_D = 1000 };

/* Compares one block of the fixture: n points of dimension d from index
 * first, against the library's points drawn in dimensions 1..d (a point's
 * coordinates do not depend on the dimension asked for). */
static void check_block(FILE *f, int sobol, size_t d, size_t n, uint64_t first, double scale) {
  static double want[MAX_D], got[MAX_D];
  size_t dims[] = {1, 2, 3, 7, d};
  int bad = 0;
  for (size_t i = 0; i < n; i++) {
    for (size_t j = 0; j < d; j++) {
      if (fscanf(f, "%lf", &want[j]) != 1) {
        CHECK_MSG(0, "fixture ends inside a point (%s block)", sobol ? "sobol" : "halton");
        return;
      }
      want[j] /= scale;
    }
    for (size_t k = 0; k < sizeof dims / sizeof dims[0]; k++) {
      size_t dk = dims[k] < d ? dims[k] : d;
      int rc = sobol ? descent_sobol_point(first + i, dk, got)
                     : descent_halton_point(first + i, dk, got);
      CHECK_OK(rc);
      for (size_t j = 0; j < dk && bad < 10; j++)
        if (got[j] != want[j]) {
          bad++;
          CHECK_MSG(0, "%s point %llu coordinate %zu (of %zu): %.17g, scipy %.17g",
                    sobol ? "sobol" : "halton", (unsigned long long)(first + i), j, dk, got[j],
                    want[j]);
        }
    }
    check_count++;
  }
}

static void check_fixture(void) {
  const char *path = DESCENT_FIXTURE_DIR "/qmc.txt";
  FILE *f = fopen(path, "r");
  CHECK_MSG(f != NULL, "cannot open %s (regenerate with tools/fixtures/make_qmc_fixtures.sh)",
            path);
  if (!f) return;
  char line[256];
  int blocks = 0;
  while (fgets(line, sizeof line, f)) {
    size_t d, n;
    unsigned long long first;
    double scale;
    if (line[0] == '#' || line[0] == '\n') continue;
    if (sscanf(line, "sobol %zu %zu %llu %lf", &d, &n, &first, &scale) == 4 && d <= MAX_D) {
      check_block(f, 1, d, n, first, scale);
    } else if (sscanf(line, "halton %zu %zu %llu", &d, &n, &first) == 3 && d <= MAX_D) {
      check_block(f, 0, d, n, first, 1.0);
    } else {
      CHECK_MSG(0, "%s: unexpected line: %s", path, line);
      break;
    }
    blocks++;
    if (!fgets(line, sizeof line, f) || line[0] != '\n') { /* the rest of the last row */
      if (!feof(f)) CHECK_MSG(0, "%s: a block has more numbers than its header says", path);
    }
  }
  fclose(f);
  CHECK_MSG(blocks == 5, "%s holds %d blocks, expected 5", path, blocks);
}

static void check_errors(void) {
  double x[DESCENT_SOBOL_MAX_DIM + 1];
  CHECK_FAILS(descent_sobol_point(1, 2, NULL), DESCENT_EINVAL, "out is NULL");
  CHECK_FAILS(descent_sobol_point(1, 0, x), DESCENT_EINVAL, "dim 0 is outside 1..21");
  CHECK_FAILS(descent_sobol_point(1, DESCENT_SOBOL_MAX_DIM + 1, x), DESCENT_EINVAL,
              "dim 22 is outside 1..21");
  CHECK_FAILS(descent_sobol_point(UINT64_C(1) << 32, 1, x), DESCENT_EINVAL, "2^32 or above");
  CHECK_OK(descent_sobol_point((UINT64_C(1) << 32) - 1, DESCENT_SOBOL_MAX_DIM, x));
  CHECK_FAILS(descent_halton_point(1, 2, NULL), DESCENT_EINVAL, "out is NULL");
  CHECK_FAILS(descent_halton_point(1, 0, x), DESCENT_EINVAL, "dim 0 is outside 1..1000");
  double *big = malloc(1001 * sizeof *big);
  CHECK_FAILS(descent_halton_point(1, 1001, big), DESCENT_EINVAL, "dim 1001 is outside 1..1000");
  /* Indices below 2^32 (those of Sobol's sequence): every coordinate in
   * [0, 1), the last digits' terms not rounding the sum up to 1. */
  CHECK_OK(descent_halton_point(UINT32_MAX, 1000, big));
  int inside = 1;
  for (int j = 0; j < 1000; j++) inside &= big[j] >= 0 && big[j] < 1;
  CHECK(inside);
  free(big);
}

int main(void) {
  check_fixture();
  check_errors();
  return check_report();
}
