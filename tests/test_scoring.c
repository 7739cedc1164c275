/*
 * test_scoring.c - AlgoPerf's performance profiles and benchmark score, and
 * DeepOBS's speed, against the numbers their own formulas give
 * (tests/fixtures/make_scoring_fixture.py writes tests/fixtures/scoring/),
 * compared bit for bit, and their refusals.
 *
 * Usage: test_scoring [FIXTURE_DIR]
 */
#include "check.h"

#include <stdlib.h>

#ifndef DESCENT_FIXTURE_DIR
#define DESCENT_FIXTURE_DIR "tests/fixtures/scoring"
#endif

enum { MAX_CELLS = 4096, LINE_CAP = 16384 };

/* Reads the numbers after a line's tag ("times 1 inf nan"); strtod reads
 * inf and nan as the fixture writes them. */
static size_t read_numbers(const char *line, const char *tag, double *out, size_t cap) {
  size_t n = 0, len = strlen(tag);
  if (strncmp(line, tag, len) != 0 || line[len] != ' ') return 0;
  const char *p = line + len;
  char *end;
  while (n < cap) {
    double v = strtod(p, &end);
    if (end == p) break;
    out[n++] = v;
    p = end;
  }
  return n;
}

/* Same value, NaN equal to NaN. */
static int same(double a, double b) {
  return (isnan(a) && isnan(b)) || a == b;
}

static double times[MAX_CELLS], taus[MAX_CELLS], want_rho[MAX_CELLS], got_rho[MAX_CELLS];
static double want_scores[64], got_scores[64];

/* One "case" block: its times, taus, every submission's rho, the scores. */
static void check_case(FILE *f, const char *header, char *line) {
  char name[64];
  size_t ns, nw, np;
  double max_tau;
  if (sscanf(header, "case %63s %zu %zu %lf %zu", name, &ns, &nw, &max_tau, &np) != 5 ||
      ns * nw > MAX_CELLS || ns * np > MAX_CELLS || ns > 64) {
    CHECK_MSG(0, "bad case line: %s", header);
    return;
  }
  for (size_t s = 0; s < ns; s++) {
    CHECK(fgets(line, LINE_CAP, f) != NULL);
    CHECK(read_numbers(line, "times", times + s * nw, nw) == nw);
  }
  CHECK(fgets(line, LINE_CAP, f) != NULL);
  CHECK(read_numbers(line, "taus", taus, np) == np);
  for (size_t s = 0; s < ns; s++) {
    CHECK(fgets(line, LINE_CAP, f) != NULL);
    CHECK(read_numbers(line, "rho", want_rho + s * np, np) == np);
  }
  CHECK(fgets(line, LINE_CAP, f) != NULL);
  CHECK(read_numbers(line, "scores", want_scores, ns) == ns);

  CHECK_OK(descent_performance_profile(times, ns, nw, max_tau, taus, np, got_rho));
  size_t wrong = 0;
  for (size_t i = 0; i < ns * np; i++) wrong += !same(got_rho[i], want_rho[i]);
  CHECK_MSG(wrong == 0, "case %s: %zu of %zu profile values differ from AlgoPerf's", name, wrong,
            ns * np);
  CHECK_OK(descent_benchmark_score(times, ns, nw, max_tau, np, got_scores));
  for (size_t s = 0; s < ns; s++)
    CHECK_MSG(got_scores[s] == want_scores[s],
              "case %s submission %zu: score %.17g, AlgoPerf %.17g", name, s, got_scores[s],
              want_scores[s]);
  printf("case %-8s %zu x %zu: profiles and scores as AlgoPerf's\n", name, ns, nw);
}

/* One "speed" block: the runs' curves and DeepOBS's mean. */
static void check_speed(FILE *f, const char *header, char *line) {
  char name[64];
  int maximize;
  double target, want;
  size_t runs, evals;
  if (sscanf(header, "speed %63s %d %lf %zu %zu %lf", name, &maximize, &target, &runs, &evals,
             &want) != 6 ||
      runs * evals > MAX_CELLS) {
    CHECK_MSG(0, "bad speed line: %s", header);
    return;
  }
  for (size_t r = 0; r < runs; r++) {
    CHECK(fgets(line, LINE_CAP, f) != NULL);
    CHECK(read_numbers(line, "curve", times + r * evals, evals) == evals);
  }
  double got = -1;
  CHECK_OK(descent_deepobs_speed(times, runs, evals, target, maximize, &got));
  CHECK_MSG(got == want, "speed %s: %.17g, DeepOBS %.17g", name, got, want);
  printf("speed %-8s %.6g as DeepOBS's\n", name, got);
}

static void check_fixture(const char *dir) {
  static char line[LINE_CAP], header[LINE_CAP];
  char path[1024];
  snprintf(path, sizeof path, "%s/scoring.txt", dir);
  FILE *f = fopen(path, "r");
  CHECK_MSG(f != NULL, "cannot open %s", path);
  if (f == NULL) return;
  int cases = 0, speeds = 0;
  while (fgets(line, sizeof line, f)) {
    memcpy(header, line, sizeof header);
    if (strncmp(line, "case ", 5) == 0) {
      check_case(f, header, line);
      cases++;
    } else if (strncmp(line, "speed ", 6) == 0) {
      check_speed(f, header, line);
      speeds++;
    }
  }
  fclose(f);
  CHECK(cases >= 7 && speeds >= 3);
}

/* Cases whose answer is known without AlgoPerf. */
static void check_known(void) {
  /* Fastest everywhere scores 1; solving nothing scores 0. */
  double t[] = {1, 2, INFINITY, INFINITY};
  double scores[2];
  CHECK_OK(descent_benchmark_score(t, 2, 2, 4, 100, scores));
  CHECK(scores[0] == 1 && scores[1] == 0);
  /* 2x the best: rho is 0 below tau 2 and 1 from it on. */
  double u[] = {1, 2}, tau[] = {1, 1.999, 2, 4}, rho[8];
  CHECK_OK(descent_performance_profile(u, 2, 1, 4, tau, 4, rho));
  CHECK(rho[4] == 0 && rho[5] == 0 && rho[6] == 1 && rho[7] == 1);
  /* Beyond max_tau counts as never, even at a larger tau. */
  double v[] = {1, 5}, big[] = {10};
  CHECK_OK(descent_performance_profile(v, 2, 1, 4, big, 1, rho));
  CHECK(rho[0] == 1 && rho[1] == 0);
}

static void check_errors(void) {
  double t[] = {1, 2}, tau[] = {1}, rho[2], s[2], speed;
  CHECK_FAILS(descent_performance_profile(NULL, 1, 2, 4, tau, 1, rho), DESCENT_EINVAL, "NULL");
  CHECK_FAILS(descent_performance_profile(t, 1, 2, 4, NULL, 1, rho), DESCENT_EINVAL, "NULL");
  CHECK_FAILS(descent_performance_profile(t, 0, 2, 4, tau, 1, rho), DESCENT_EINVAL, "at least one");
  CHECK_FAILS(descent_performance_profile(t, 1, 2, 4, tau, 0, rho), DESCENT_EINVAL, "n_taus");
  CHECK_FAILS(descent_performance_profile(t, 1, 2, 0.5, tau, 1, rho), DESCENT_EINVAL,
              "max_tau 0.5");
  CHECK_FAILS(descent_performance_profile(t, 1, 2, NAN, tau, 1, rho), DESCENT_EINVAL, "max_tau");
  double neg[] = {1, -2};
  CHECK_FAILS(descent_performance_profile(neg, 1, 2, 4, tau, 1, rho), DESCENT_EINVAL,
              "workload 1 is negative");
  CHECK_FAILS(descent_benchmark_score(t, 1, 2, 4, 1, s), DESCENT_EINVAL, "n_points 1");
  CHECK_FAILS(descent_benchmark_score(t, 1, 2, 1, 100, s), DESCENT_EINVAL, "max_tau 1");
  CHECK_FAILS(descent_benchmark_score(t, 1, 2, 4, 100, NULL), DESCENT_EINVAL, "scores is NULL");
  CHECK_FAILS(descent_deepobs_speed(NULL, 1, 2, 0.5, 0, &speed), DESCENT_EINVAL, "NULL");
  CHECK_FAILS(descent_deepobs_speed(t, 1, 0, 0.5, 0, &speed), DESCENT_EINVAL, "at least one");
  CHECK_FAILS(descent_deepobs_speed(t, 1, 2, NAN, 0, &speed), DESCENT_EINVAL, "NaN");
}

int main(int argc, char **argv) {
  check_fixture(argc > 1 ? argv[1] : DESCENT_FIXTURE_DIR);
  check_known();
  check_errors();
  printf("%d checks, %d failed\n", check_count, check_failures);
  return check_failures ? 1 : 0;
}
