/*
 * demo_noise.c - the gradient noise scale (McCandlish et al. 2018, "An
 * Empirical Model of Large-Batch Training") where it has a closed form, and
 * what it predicts about batch sizes.
 *
 * Linear regression with Gaussian design, x ~ N(0, I_d) and y = x . w* +
 * N(0, s^2) (the lab's linreg with scale 1: s = 0.1), at w = w* + delta.
 * Example i's gradient of 1/2 (x . w - y)^2 is g_i = x (x . delta - e), of
 * mean G = delta, and since E[x_1^4] = 3, E |x|^2 (x . delta)^2 = (d + 2)
 * |delta|^2, so tr(Sigma) = E |g_i|^2 - |G|^2 = (d + 1) |delta|^2 + d s^2
 * and B_simple = tr(Sigma) / |G|^2 = (d + 1) + d s^2 / |delta|^2: about d
 * far from the optimum, growing as 1 / |delta|^2 near it, where the gradient
 * shrinks and the noise stays. The demo measures it on minibatches drawn
 * with replacement from a large sample (w* is the sample's own minimizer,
 * which the minibatches' expected gradient vanishes at): McCandlish et al.'s
 * unbiased estimates of tr(Sigma) and |G|^2 from per-example gradients
 * (descent_noise_compute), averaged over the minibatches before their ratio
 * is taken (a single minibatch's ratio is noisy, and infinite when its |G|^2
 * estimate is not positive; its median and quartiles show that spread).
 *
 * The consequence: a step on a batch of B examples is worth 1 / (1 +
 * B_noise / B) of a noiseless one, so the steps to reach a loss are
 * S = S_min (1 + B_noise / B) when many small steps are needed: falling as
 * 1 / B while B is below B_noise (doubling the batch halves the steps: the
 * examples E = S B stay the same) and flat at S_min above it (more examples
 * per step buy nothing). Here the Hessian is about the identity, so
 * B_noise = B_simple and a noiseless step of rate 1 lands near the minimum:
 * a step of SGD at rate lr gives E|delta'|^2 = ((1 - lr)^2 + lr^2 B_simple /
 * B) |delta|^2, so the best rate B / (B + B_simple) divides |delta|^2 by
 * 1 + B / B_simple per step and, while B_simple stays about the same (it is
 * d + 1 everywhere when s = 0), S = ln(1/eps) / ln(1 + B / B_simple):
 * ln(1/eps) B_simple / B below B_simple, falling only logarithmically above
 * it. SGD runs on a smaller sample (STEPS_N examples,
 * so that every step's loss on the whole sample is cheap) at each batch
 * size with its best learning rate from a grid; the table shows the steps
 * beside that formula, with B_simple measured at the start, and beside the
 * fit of McCandlish et al.'s law.
 */
#include "lab.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define NOISE_SD 0.1 /* linreg's target noise */

static const lab_option noise_options[] = {
    {"dim", "D", "20", "features of the regression, x ~ N(0, I_D)"},
    {"n", "N", "200000", "examples of the sample the minibatches are drawn from"},
    {"distances", "R1,R2,...", "1,0.5,0.2,0.1,0.05,0.03", "distances |w - w*| measured at"},
    {"batch", "B", "64", "examples per minibatch of the measurement"},
    {"batches", "M", "20000", "minibatches per distance"},
    {"sizes", "B1,B2,...", "1,2,4,8,16,32,64,128,256,512,1024", "batch sizes of the SGD runs"},
    {"target", "EPS", "0.01", "the SGD runs stop once f - f* <= EPS (f(w0) - f*)"},
    {"seeds", "N", "5", "SGD runs per batch size and rate (their mean steps count)"},
    {"seed", "SEED", "1", "seed of the data and of the minibatches"},
};

typedef struct noise_settings {
  int64_t dim, n, batch, batches, seeds, seed;
  double distances[LAB_MAX_LIST], sizes[LAB_MAX_LIST], target;
  int n_distances, n_sizes;
} noise_settings;

/* What the SGD runs found: the fit of S = S_min (1 + B_noise / B), B_simple
   at the start and at the target, and the largest relative distance of the
   steps from the constant-B_simple theory (where it predicts 4 steps or
   more). */
typedef struct noise_fit {
  double s_min, b_noise, at_start, at_target, worst_theory;
} noise_fit;

static int noise_read(const lab_args *a, noise_settings *s) {
  int rc = lab_arg_int(a, "dim", 1, 20, &s->dim);
  if (!rc) rc = lab_arg_int(a, "n", 100, 10000000, &s->n);
  if (!rc)
    rc = lab_arg_list(a, "distances", 1e-4, 100, 1, LAB_MAX_LIST, s->distances, &s->n_distances);
  if (!rc) rc = lab_arg_int(a, "batch", 2, 100000, &s->batch);
  if (!rc) rc = lab_arg_int(a, "batches", 10, 10000000, &s->batches);
  if (!rc) rc = lab_arg_list(a, "sizes", 1, 100000, 2, LAB_MAX_LIST, s->sizes, &s->n_sizes);
  if (!rc) rc = lab_arg_double(a, "target", 1e-9, 0.5, &s->target);
  if (!rc) rc = lab_arg_int(a, "seeds", 1, 1000, &s->seeds);
  if (!rc) rc = lab_arg_int(a, "seed", 0, 1000000000, &s->seed);
  for (int i = 0; !rc && i < s->n_sizes; i++)
    if (s->sizes[i] != floor(s->sizes[i]))
      rc = descent_fail(DESCENT_EINVAL, "--sizes: %g is not a whole number of examples",
                        s->sizes[i]);
  return rc;
}

static int compare_doubles(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* The noise statistics of one minibatch of `batch` terms drawn with
   replacement (descent_noise_compute on its per-example gradients). */
static int minibatch_noise(descent_objective *obj, size_t *idx, size_t batch, size_t n_terms,
                           descent_rng *rng, double *sq, descent_noise *out) {
  for (size_t i = 0; i < batch; i++) idx[i] = (size_t)descent_rng_below(rng, n_terms);
  descent_batch b = {.n = batch, .indices = idx};
  double loss, g_sq = 0;
  int rc = descent_objective_value_and_grad(obj, &b, &loss);
  if (!rc) rc = descent_objective_example_gradients(obj, &b, NULL, sq, NULL);
  for (size_t j = 0; j < obj->n_params; j++) g_sq += (double)obj->grad[j] * obj->grad[j];
  return rc ? rc : descent_noise_compute(sq, NULL, batch, g_sq, out);
}

/* One distance: w = w* + r u, u a fixed unit vector of alternating signs. */
static int measure_distance(descent_objective *obj, const noise_settings *s, double r,
                            descent_rng *rng, lab_table *t) {
  const descent_problem_info *info = descent_problem_info_get(obj);
  size_t d = (size_t)s->dim, batch = (size_t)s->batch, m = (size_t)s->batches;
  for (size_t j = 0; j < d; j++)
    obj->params[j] = (descent_real)(info->minimizer[j] + r * (j % 2 ? -1 : 1) / sqrt((double)d));
  double delta_sq = 0;
  for (size_t j = 0; j < d; j++)
    delta_sq += (obj->params[j] - info->minimizer[j]) * (obj->params[j] - info->minimizer[j]);
  size_t *idx = calloc(batch, sizeof *idx);
  double *sq = calloc(batch, sizeof *sq), *ratios = calloc(m, sizeof *ratios);
  if (!idx || !sq || !ratios) {
    free(idx), free(sq), free(ratios);
    return descent_fail(DESCENT_ENOMEM, "noise-scale: out of memory");
  }
  double sum[2] = {0}, sum2[2] = {0}, cross = 0;
  int rc = DESCENT_OK;
  for (size_t k = 0; !rc && k < m; k++) {
    descent_noise out;
    rc = minibatch_noise(obj, idx, batch, info->n_terms, rng, sq, &out);
    double est[2] = {out.trace, out.true_sq};
    for (int q = 0; q < 2; q++) sum[q] += est[q], sum2[q] += est[q] * est[q];
    cross += est[0] * est[1];
    ratios[k] = out.noise_scale;
  }
  if (!rc) {
    double mt = sum[0] / (double)m, mg = sum[1] / (double)m, measured = mt / mg;
    /* The ratio's standard error by the delta method, from the two means'
       variances and covariance. */
    double vt = sum2[0] / (double)m - mt * mt, vg = sum2[1] / (double)m - mg * mg;
    double cov = cross / (double)m - mt * mg;
    double se = fabs(measured) *
                sqrt(fmax(0, vt / (mt * mt) + vg / (mg * mg) - 2 * cov / (mt * mg)) / (double)m);
    double closed = ((double)(d + 1) * delta_sq + (double)d * NOISE_SD * NOISE_SD) / delta_sq;
    qsort(ratios, m, sizeof *ratios, compare_doubles);
    char label[LAB_NUM];
    int row = lab_table_row(t, "%s", lab_num(label, r));
    lab_table_num(t, row, "G sq", mg);
    lab_table_num(t, row, "trace", mt);
    lab_table_num(t, row, "closed form", closed);
    lab_table_num(t, row, "B_simple", measured);
    lab_table_num(t, row, "std error", se);
    lab_table_num(t, row, "error", measured / closed - 1);
    lab_table_num(t, row, "batch q25", ratios[m / 4]);
    lab_table_num(t, row, "batch median", ratios[m / 2]);
    lab_table_num(t, row, "batch q75", ratios[3 * m / 4]);
  }
  free(idx), free(sq), free(ratios);
  return rc;
}

static int noise_measure(const noise_settings *s, lab_result *res) {
  descent_objective *obj = NULL;
  int rc = lab_problem(&obj, "linreg(scale=1, dim=%lld, n=%lld, seed=%lld)", (long long)s->dim,
                       (long long)s->n, (long long)s->seed);
  if (rc) return rc;
  char title[160];
  snprintf(title, sizeof title,
           "B_simple = tr(Sigma) / |G|^2 on linear regression (d = %lld, s = %g), minibatches of "
           "%lld",
           (long long)s->dim, NOISE_SD, (long long)s->batch);
  lab_table *t =
      lab_result_table(res, "noise-scale", title,
                       "distance|closed form|B_simple|std error|error|trace|G sq|batch q25|"
                       "batch median|batch q75");
  if (!t) rc = DESCENT_ENOMEM;
  descent_rng rng;
  descent_rng_seed(&rng, (uint64_t)s->seed ^ 0x6e6f697365ULL);
  for (int i = 0; !rc && i < s->n_distances; i++)
    rc = measure_distance(obj, s, s->distances[i], &rng, t);
  descent_objective_free(obj);
  return rc;
}

/* ---- steps against the batch size -------------------------------------- */

#define STEPS_N     2000  /* examples of the SGD runs' regression */
#define STEPS_RATES 14    /* learning rates tried, 1.9 / L down by sqrt(2) each */
#define STEPS_MAX   20000 /* most steps of a run */

/* The mean steps of `seeds` SGD runs at rate lr on batches of b to reach
   the target; INFINITY when one of them does not within cap steps. */
static int mean_steps(descent_objective *obj, const noise_settings *s, double b, double lr,
                      int64_t cap, double *steps) {
  descent_run_options o;
  descent_run_options_default(&o);
  o.iters = cap;
  o.batch_size = (size_t)b;
  o.eps = s->target;
  double total = 0;
  *steps = INFINITY;
  for (int64_t k = 0; k < s->seeds; k++) {
    descent_trace tr;
    o.seed = (uint64_t)(s->seed * 1000003 + k);
    int rc = lab_run(obj, "sgd", lr, NULL, &o, &tr);
    int64_t reached = rc ? -1 : tr.reached_at;
    if (!rc) descent_trace_free(&tr);
    if (rc) return rc;
    if (reached < 0) return DESCENT_OK;
    total += (double)reached;
  }
  *steps = total / (double)s->seeds;
  return DESCENT_OK;
}

/* S = S_min + S_min B_noise / B, fitted by least squares on the relative
   errors (weights 1 / S^2) over the sizes that reached the target. */
static void fit_steps(const double *b, const double *steps, int n, double *s_min, double *b_noise) {
  double a11 = 0, a12 = 0, a22 = 0, r1 = 0, r2 = 0;
  for (int i = 0; i < n; i++) {
    if (!isfinite(steps[i])) continue;
    double w = 1 / (steps[i] * steps[i]), x = 1 / b[i];
    a11 += w, a12 += w * x, a22 += w * x * x, r1 += w * steps[i], r2 += w * x * steps[i];
  }
  double det = a11 * a22 - a12 * a12;
  double a = det != 0 ? (r1 * a22 - r2 * a12) / det : NAN;
  double c = det != 0 ? (a11 * r2 - a12 * r1) / det : NAN;
  *s_min = a;
  *b_noise = c / a;
}

/* B_simple at the current parameters, from every example of the sample. */
static int sample_noise_scale(descent_objective *obj, double *b_simple) {
  size_t n = descent_problem_info_get(obj)->n_terms;
  double *sq = calloc(n, sizeof *sq), loss, g_sq = 0;
  if (!sq) return descent_fail(DESCENT_ENOMEM, "noise-scale: out of memory");
  int rc = descent_objective_value_and_grad(obj, NULL, &loss);
  if (!rc) rc = descent_objective_example_gradients(obj, NULL, NULL, sq, NULL);
  for (size_t j = 0; j < obj->n_params; j++) g_sq += (double)obj->grad[j] * obj->grad[j];
  descent_noise out;
  if (!rc) rc = descent_noise_compute(sq, NULL, n, g_sq, &out);
  if (!rc) *b_simple = out.noise_scale;
  free(sq);
  return rc;
}

/* B_simple at the start and on the straight line to the minimum where f -
   f* is the target's fraction of f0 - f* (the Hessian being about the
   identity, at sqrt(target) of the way). */
static int noise_along(descent_objective *obj, const noise_settings *s, double *at_start,
                       double *at_target) {
  const descent_problem_info *info = descent_problem_info_get(obj);
  for (size_t j = 0; j < obj->n_params; j++) obj->params[j] = (descent_real)info->start[j];
  int rc = sample_noise_scale(obj, at_start);
  double k = sqrt(s->target);
  for (size_t j = 0; j < obj->n_params; j++)
    obj->params[j] = (descent_real)(info->minimizer[j] + k * (info->start[j] - info->minimizer[j]));
  return rc ? rc : sample_noise_scale(obj, at_target);
}

static int noise_steps(const noise_settings *s, lab_result *res, noise_fit *fit) {
  descent_objective *obj = NULL;
  int rc = lab_problem(&obj, "linreg(scale=1, dim=%lld, n=%d, seed=%lld)", (long long)s->dim,
                       STEPS_N, (long long)s->seed);
  if (rc) return rc;
  double rates[STEPS_RATES], steps[LAB_MAX_LIST], best_lr[LAB_MAX_LIST];
  double top = 1.9 / descent_problem_info_get(obj)->curvature_max;
  for (int k = 0; k < STEPS_RATES; k++) rates[k] = top * pow(2, -0.5 * k);
  for (int i = 0; !rc && i < s->n_sizes; i++) {
    steps[i] = INFINITY, best_lr[i] = NAN;
    for (int k = 0; !rc && k < STEPS_RATES; k++) {
      int64_t cap = isfinite(steps[i]) ? (int64_t)(2 * steps[i]) + 1 : STEPS_MAX;
      double mean;
      rc = mean_steps(obj, s, s->sizes[i], rates[k], cap, &mean);
      if (!rc && mean < steps[i]) steps[i] = mean, best_lr[i] = rates[k];
    }
  }
  if (!rc) rc = noise_along(obj, s, &fit->at_start, &fit->at_target);
  descent_objective_free(obj);
  if (rc) return rc;
  fit_steps(s->sizes, steps, s->n_sizes, &fit->s_min, &fit->b_noise);
  char title[160];
  snprintf(title, sizeof title,
           "SGD steps to f - f* <= %g (f0 - f*) against the batch size, best of %d rates, mean "
           "of %lld runs",
           s->target, STEPS_RATES, (long long)s->seeds);
  lab_table *t =
      lab_result_table(res, "noise-steps", title, "batch|best lr|steps|examples|fit|theory");
  if (!t) return DESCENT_ENOMEM;
  fit->worst_theory = 0;
  for (int i = 0; i < s->n_sizes; i++) {
    int row = lab_table_row(t, "%g", s->sizes[i]);
    double theory = log(1 / s->target) / log1p(s->sizes[i] / fit->at_start);
    if (isfinite(steps[i])) {
      lab_table_num(t, row, "best lr", best_lr[i]);
      lab_table_num(t, row, "steps", steps[i]);
      lab_table_num(t, row, "examples", steps[i] * s->sizes[i]);
      if (theory >= 4) fit->worst_theory = fmax(fit->worst_theory, fabs(steps[i] / theory - 1));
    } else {
      lab_table_text(t, row, "steps", "never (> %d)", STEPS_MAX);
    }
    lab_table_num(t, row, "fit", fit->s_min * (1 + fit->b_noise / s->sizes[i]));
    lab_table_num(t, row, "theory", theory);
  }
  return DESCENT_OK;
}

/* ---- picture, notes, the demo ------------------------------------------ */

static int noise_picture(const char *dir, lab_result *res, const noise_settings *s,
                         const noise_fit *fit) {
  FILE *f = lab_gp_open(dir, "noise-scale", 1500, 620,
                        "the gradient noise scale against its closed form, and SGD's steps "
                        "against the batch size",
                        res);
  if (!f) return DESCENT_EIO;
  fprintf(f,
          "set multiplot layout 1,2 title \"The gradient noise scale B_{simple} = tr(Sigma) / "
          "|G|^2 (McCandlish et al. 2018), linear regression, d = %lld, s = %g\" font \",14\"\n"
          "set logscale xy\nset grid\nset key top right\n"
          "set title \"B_{simple} against the distance to the optimum, minibatches of %lld\"\n"
          "set xlabel \"distance |w - w*|\"\nset ylabel \"B_{simple} (examples)\"\n"
          "plot 'noise-scale.csv' using 1:2 with lines lw 2 lc rgb \"black\" "
          "title \"closed form (d+1) + d s^2 / |w - w*|^2\", \\\n"
          "     'noise-scale.csv' using 1:3:($3-2*$4):($3+2*$4) with yerrorbars pt 7 ps 1.2 "
          "lc rgb \"%s\" title \"measured: mean tr(Sigma) / mean |G|^2, 2 std errors\", \\\n"
          "     'noise-scale.csv' using ($1*1.08):9:8:10 with yerrorbars pt 6 ps 0.8 "
          "lc rgb \"%s\" title \"one minibatch's ratio: median and quartiles\"\n",
          (long long)s->dim, NOISE_SD, (long long)s->batch, lab_color(0), lab_color(1));
  fprintf(f,
          "set title \"SGD steps to the target at each batch size's best rate\"\n"
          "set xlabel \"batch size B\"\nset ylabel \"steps\"\n"
          "set arrow 1 from %.6g,graph 0 to %.6g,graph 1 nohead dt 2 lc rgb \"%s\"\n"
          "set label 1 \"B_{simple} %.3g\" at %.6g,graph 0.6 offset 0.5,0 tc rgb \"%s\"\n"
          "plot 'noise-steps.csv' using 1:3 with points pt 7 ps 1.3 lc rgb \"%s\" "
          "title \"measured steps\", \\\n"
          "     'noise-steps.csv' using 1:6 with lines lw 2 dt 2 lc rgb \"black\" "
          "title \"ln(1/eps) / ln(1 + B / B_{simple})\", \\\n"
          "     'noise-steps.csv' using 1:5 with lines lw 1.5 lc rgb \"%s\" "
          "title \"fit S_{min} (1 + B_{noise} / B): S_{min} %.3g, B_{noise} %.3g\"\n",
          fit->at_start, fit->at_start, lab_color(2), fit->at_start, fit->at_start, lab_color(2),
          lab_color(0), lab_color(3), fit->s_min, fit->b_noise);
  return lab_gp_close(f, "noise-scale", res);
}

static void noise_notes(lab_result *res, const noise_settings *s, const noise_fit *fit) {
  const lab_table *t = lab_result_find(res, "noise-scale");
  double worst = 0;
  for (size_t r = 0; r < t->n_rows; r++) {
    char label[LAB_NUM];
    worst = fmax(worst, fabs(lab_table_number(t, lab_num(label, s->distances[r]), "error")));
  }
  lab_result_note(res,
                  "B_simple grows from %.3g at |w - w*| = %g to %.3g at %g as the gradient "
                  "shrinks and the noise stays; every distance within %.1f%% of (d+1) + d s^2 / "
                  "|w - w*|^2",
                  t->cells[2].number, s->distances[0],
                  t->cells[(t->n_rows - 1) * (size_t)t->n_cols + 2].number,
                  s->distances[s->n_distances - 1], 100 * worst);
  lab_result_note(res,
                  "one minibatch of %lld gives a noisy ratio (its quartiles): average both "
                  "estimates over many minibatches, then divide",
                  (long long)s->batch);
  lab_result_note(res,
                  "SGD's steps fall as 1/B below B_simple (%.3g at the start, %.3g at the target) "
                  "and level off above it: within %.0f%% of ln(1/eps) / ln(1 + B / B_simple)",
                  fit->at_start, fit->at_target, 100 * fit->worst_theory);
  lab_result_note(res,
                  "McCandlish et al.'s S = S_min (1 + B_noise / B) fits with S_min %.3g, B_noise "
                  "%.3g (a noiseless step nearly reaches the minimum here, so S_min is small)",
                  fit->s_min, fit->b_noise);
}

static int noise_run(const lab_args *a, const char *dir, lab_result *res) {
  noise_settings s;
  noise_fit fit = {NAN, NAN, NAN, NAN, NAN};
  int rc = noise_read(a, &s);
  if (!rc) rc = noise_measure(&s, res);
  if (!rc) rc = noise_steps(&s, res, &fit);
  if (!rc) noise_notes(res, &s, &fit);
  if (!rc && dir) rc = noise_picture(dir, res, &s, &fit);
  return rc;
}

const lab_demo lab_demo_noise_scale = {
    "noise-scale",
    "McCandlish et al. 2018",
    "the gradient noise scale B_simple against its closed form on linear regression, and SGD's "
    "steps against the batch size it predicts",
    noise_options,
    sizeof noise_options / sizeof noise_options[0],
    noise_run,
    "The gradient noise scale B_simple = tr(Sigma)/|G|^2 predicts the useful batch size: "
    "below it doubling the batch halves the steps, above it extra examples per step buy "
    "almost nothing (McCandlish et al. 2018; the lecture's stochastic gradient, slides "
    "17-21).",
    "The measured B_simple follows its closed form (d + 1) + d s^2/|w - w*|^2 at every "
    "distance, growing as the gradient shrinks near the optimum; SGD's steps to the target "
    "fall like 1/B below B_simple and level off above it, as ln(1/eps)/ln(1 + B/B_simple) "
    "predicts.",
    NULL,
};
