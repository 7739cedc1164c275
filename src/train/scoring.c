/*
 * scoring.c - how a benchmark scores its submissions: AlgoPerf's performance
 * profiles and benchmark score (descent_performance_profile,
 * descent_benchmark_score) and DeepOBS's speed (descent_deepobs_speed).
 *
 * AlgoPerf's scoring code (mlcommons/algorithmic-efficiency,
 * scoring/performance_profile.py, compute_performance_profiles, and
 * scoring/score_submissions.py, compute_leaderboard_score) is followed
 * operation by operation, pandas' conventions included, so that the numbers
 * are theirs to the last bit: the comments name the line each step copies.
 */
#include "internal.h"

#include <math.h>
#include <stdlib.h>

/* Checks the arguments both scoring functions share. */
static int check_times(const double *times, size_t n_submissions, size_t n_workloads,
                       double max_tau) {
  if (times == NULL) return descent_fail(DESCENT_EINVAL, "times is NULL; pass the time matrix");
  if (n_submissions == 0 || n_workloads == 0)
    return descent_fail(DESCENT_EINVAL,
                        "%zu submissions x %zu workloads: a profile needs at least one of each",
                        n_submissions, n_workloads);
  size_t n;
  if (!descent_mul_ok(n_submissions, n_workloads, &n))
    return descent_fail(DESCENT_EINVAL, "%zu submissions x %zu workloads overflow a size",
                        n_submissions, n_workloads);
  if (!(max_tau >= 1) || isinf(max_tau))
    return descent_fail(DESCENT_EINVAL,
                        "max_tau %g must be a finite number of at least 1 "
                        "(AlgoPerf uses 4)",
                        max_tau);
  for (size_t i = 0; i < n; i++)
    if (times[i] < 0)
      return descent_fail(DESCENT_EINVAL,
                          "time %g of submission %zu on workload %zu is negative; times are "
                          "seconds or steps to the target, INFINITY when it was never reached",
                          times[i], i / n_workloads, i % n_workloads);
  return DESCENT_OK;
}

/* The fastest time on workload w: pandas' DataFrame.min(axis=0), which skips
 * NaN (and is NaN when every entry is). */
static double workload_best(const double *times, size_t n_submissions, size_t n_workloads,
                            size_t w) {
  double best = NAN;
  for (size_t s = 0; s < n_submissions; s++) {
    double t = times[s * n_workloads + w];
    if (!isnan(t) && (isnan(best) || t < best)) best = t;
  }
  return best;
}

/* The ratio AlgoPerf compares with tau. performance_profile.py:
 *   best_scores = df.min(axis=0)
 *   df[df.apply(lambda x: x > 4 * best_scores, axis=1)] = np.inf
 *   df.update(df.div(df.min(axis=0), axis=1))
 * The cut leaves the minimum where it was, so one best serves both lines.
 * DataFrame.update skips NaN, so where the division gives NaN (inf / inf on
 * a workload nobody solved, 0 / 0, a NaN time) the time itself stays. */
static double profile_ratio(double t, double best, double max_tau) {
  if (t > max_tau * best) t = INFINITY;
  double r = t / best;
  return isnan(r) ? t : r;
}

int descent_performance_profile(const double *times, size_t n_submissions, size_t n_workloads,
                                double max_tau, const double *taus, size_t n_taus, double *rho) {
  descent_error_clear();
  int rc = check_times(times, n_submissions, n_workloads, max_tau);
  if (rc != DESCENT_OK) return rc;
  if (taus == NULL || rho == NULL)
    return descent_fail(DESCENT_EINVAL, "taus or rho is NULL; pass both arrays");
  if (n_taus == 0) return descent_fail(DESCENT_EINVAL, "n_taus is 0; pass at least one tau");
  size_t cells;
  if (!descent_mul_ok(n_submissions, n_taus, &cells))
    return descent_fail(DESCENT_EINVAL, "%zu submissions x %zu taus overflow a size", n_submissions,
                        n_taus);
  for (size_t i = 0; i < cells; i++) rho[i] = 0;
  /* rho(r, tau) = (r <= tau).sum(axis=1) / NUM_BASE_WORKLOADS: counted as
   * integers, divided once, as pandas does. */
  for (size_t s = 0; s < n_submissions; s++) {
    for (size_t i = 0; i < n_taus; i++) {
      size_t count = 0;
      for (size_t w = 0; w < n_workloads; w++) {
        double best = workload_best(times, n_submissions, n_workloads, w);
        double r = profile_ratio(times[s * n_workloads + w], best, max_tau);
        if (r <= taus[i]) count++;
      }
      rho[s * n_taus + i] = (double)count / (double)n_workloads;
    }
  }
  return DESCENT_OK;
}

/* numpy's sum of a contiguous float64 array (pairwise_sum in
 * loops_utils.h.src): eight running sums over blocks of up to 128 numbers,
 * halves above that. np.mean sums so. */
static double numpy_pairwise_sum(const double *a, size_t n) {
  if (n < 8) {
    double res = 0.;
    for (size_t i = 0; i < n; i++) res += a[i];
    return res;
  }
  if (n <= 128) {
    double r[8];
    for (size_t j = 0; j < 8; j++) r[j] = a[j];
    size_t i;
    for (i = 8; i < n - (n % 8); i += 8)
      for (size_t j = 0; j < 8; j++) r[j] += a[i + j];
    double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; i++) res += a[i];
    return res;
  }
  size_t n2 = n / 2;
  n2 -= n2 % 8;
  return numpy_pairwise_sum(a, n2) + numpy_pairwise_sum(a + n2, n - n2);
}

int descent_benchmark_score(const double *times, size_t n_submissions, size_t n_workloads,
                            double max_tau, size_t n_points, double *scores) {
  descent_error_clear();
  int rc = check_times(times, n_submissions, n_workloads, max_tau);
  if (rc != DESCENT_OK) return rc;
  if (scores == NULL) return descent_fail(DESCENT_EINVAL, "scores is NULL; pass an array");
  if (n_points < 2)
    return descent_fail(DESCENT_EINVAL,
                        "n_points %zu: the integral needs at least 2 (AlgoPerf "
                        "uses 100)",
                        n_points);
  if (max_tau == 1)
    return descent_fail(DESCENT_EINVAL, "max_tau 1 leaves nothing to integrate over; pass a "
                                        "larger one (AlgoPerf uses 4)");
  size_t cells;
  if (!descent_mul_ok(n_submissions, n_points, &cells))
    return descent_fail(DESCENT_EINVAL, "%zu submissions x %zu points overflow a size",
                        n_submissions, n_points);
  double *taus = descent_calloc(n_points, sizeof *taus, "the tau grid");
  double *terms = taus ? descent_calloc(n_points, sizeof *terms, "the integral's terms") : NULL;
  double *rho = terms ? descent_calloc(cells, sizeof *rho, "the performance profiles") : NULL;
  if (rho == NULL) {
    rc = DESCENT_ENOMEM;
    goto done;
  }
  /* np.linspace(min_tau, max_tau, num=num_points): i * step + start, the
   * last point set to stop. */
  double step = (max_tau - 1.0) / (double)(n_points - 1);
  for (size_t i = 0; i < n_points; i++) taus[i] = (double)i * step + 1.0;
  taus[n_points - 1] = max_tau;
  rc = descent_performance_profile(times, n_submissions, n_workloads, max_tau, taus, n_points, rho);
  if (rc != DESCENT_OK) goto done;
  /* np.trapz(df, x=df.columns): add.reduce(d * (y[1:] + y[:-1]) / 2.0),
   * then scores /= df.columns.max() - df.columns.min() (normalize=True).
   * The profile frame pd.concat builds is column-major, so numpy's
   * reduction along a row is strided and adds the terms left to right; a
   * single submission's row is contiguous as well, and numpy sums it
   * pairwise. Summing in the same order keeps the score bit-identical. */
  for (size_t s = 0; s < n_submissions; s++) {
    const double *y = rho + s * n_points;
    for (size_t i = 0; i + 1 < n_points; i++)
      terms[i] = (taus[i + 1] - taus[i]) * (y[i + 1] + y[i]) / 2.0;
    double sum = 0.;
    if (n_submissions == 1)
      sum = numpy_pairwise_sum(terms, n_points - 1);
    else
      for (size_t i = 0; i + 1 < n_points; i++) sum += terms[i];
    scores[s] = sum / (taus[n_points - 1] - taus[0]);
  }
done:
  free(taus);
  free(terms);
  free(rho);
  return rc;
}

int descent_deepobs_speed(const double *curves, size_t n_runs, size_t n_evals, double target,
                          int maximize, double *speed) {
  descent_error_clear();
  if (curves == NULL || speed == NULL)
    return descent_fail(DESCENT_EINVAL, "curves or speed is NULL; pass both");
  if (n_runs == 0 || n_evals == 0)
    return descent_fail(DESCENT_EINVAL,
                        "%zu runs x %zu evaluations: the speed needs at least "
                        "one of each",
                        n_runs, n_evals);
  if (isnan(target)) return descent_fail(DESCENT_EINVAL, "the target is NaN; pass a number");
  /* analyze_utils.py, compute_speed: np.mean(np.argmax(perf <= conv_perf,
   * axis=1) + np.invert(np.max(perf <= conv_perf, axis=1)) * perf.shape[1])
   * (>= for accuracies): the first index that meets the target, the
   * curve's length when none does; np.mean sums pairwise. */
  double *first = descent_calloc(n_runs, sizeof *first, "the runs' first hits");
  if (first == NULL) return DESCENT_ENOMEM;
  for (size_t r = 0; r < n_runs; r++) {
    size_t i = 0;
    for (; i < n_evals; i++) {
      double v = curves[r * n_evals + i];
      if (maximize ? v >= target : v <= target) break;
    }
    first[r] = (double)i;
  }
  *speed = numpy_pairwise_sum(first, n_runs) / (double)n_runs;
  free(first);
  return DESCENT_OK;
}
