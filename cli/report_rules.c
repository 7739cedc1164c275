/*
 * report_rules.c - the diagnosis rules of `descent report` (see
 * report_rules.h for the thresholds and their reasons). Each rule reads the
 * columns it needs, says nothing when they are absent or too short to
 * judge, and writes one line naming its number and what would help.
 */
#include "report_rules.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *report_rule_name(report_rule rule) {
  static const char *const names[REPORT_N_RULES] = {
      "edge-of-stability", "beyond-stability", "noise-above-batch", "noise-below-batch",
      "norm-test",         "alpha-overshoot",  "alpha-timid",       "negative-curvature",
      "dead-relu",         "updates-large",    "updates-small",     "plateau",
      "overfitting"};
  return (unsigned)rule < REPORT_N_RULES ? names[rule] : "unknown";
}

const char *report_format_count(double v, char *buf, size_t cap) {
  if (!(fabs(v) < 1e15) || v != floor(v) || fabs(v) < 1000) {
    snprintf(buf, cap, "%.3g", v);
    return buf;
  }
  char digits[32];
  snprintf(digits, sizeof digits, "%.0f", fabs(v));
  size_t n = strlen(digits), k = 0;
  if (v < 0 && k + 1 < cap) buf[k++] = '-';
  for (size_t i = 0; i < n && k + 2 < cap; i++) {
    buf[k++] = digits[i];
    if ((n - i - 1) % 3 == 0 && i + 1 < n) buf[k++] = ',';
  }
  buf[k] = '\0';
  return buf;
}

/* ---- reading columns ---------------------------------------------------- */

/* A column's values from row `from` on, NaN left out (infinities kept),
   copied to a new array; *n their count. NULL when none (or no memory). */
static double *column_values(const csv_table *t, int col, size_t from, size_t *n) {
  *n = 0;
  if (!t || col < 0 || from >= t->n_rows) return NULL;
  double *v = malloc((t->n_rows - from) * sizeof *v);
  if (!v) return NULL;
  for (size_t r = from; r < t->n_rows; r++) {
    double x = csv_value(t, r, col);
    if (!isnan(x)) v[(*n)++] = x;
  }
  if (*n == 0) {
    free(v);
    return NULL;
  }
  return v;
}

static int compare_doubles(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* The median of v (sorts it). */
static double median_of(double *v, size_t n) {
  qsort(v, n, sizeof *v, compare_doubles);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* The median of a column over rows [from, n_rows); NAN when it has no
   value there. *count: the values it took. */
static double column_median(const csv_table *t, const char *name, size_t from, size_t *count) {
  size_t n;
  double *v = column_values(t, t ? csv_column(t, name) : -1, from, &n);
  *count = n;
  if (!v) return NAN;
  double m = median_of(v, n);
  free(v);
  return m;
}

/* The first row of the later half of a table's rows. */
static size_t later_half(const csv_table *t) {
  return t ? t->n_rows / 2 : 0;
}

static double step_at(const csv_table *t, size_t r) {
  return csv_value(t, r, csv_column(t, "step"));
}

static void say(report_finding *f, report_rule rule, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  f->rule = rule;
  vsnprintf(f->text, sizeof f->text, fmt, ap);
  va_end(ap);
}

/* ---- curvature ------------------------------------------------------------ */

/* Which sharpness the limit is for, in words, at row r. */
static const char *sharpness_kind(const csv_table *d, size_t r) {
  return isfinite(csv_value(d, r, csv_column(d, "precond_top"))) ? "the preconditioned sharpness"
                                                                 : "sharpness";
}

/* The limit as "C/lr = L" at row r (C = limit x lr: 2 for gradient descent,
   38 for Adam at b1 0.9). */
static void limit_words(const csv_table *d, size_t r, char *buf, size_t cap) {
  double limit = csv_value(d, r, csv_column(d, "stability_limit"));
  double lr = csv_value(d, r, csv_column(d, "lr"));
  if (isfinite(lr) && lr > 0)
    snprintf(buf, cap, "%.3g/lr = %.3g", limit * lr, limit);
  else
    snprintf(buf, cap, "%.3g", limit);
}

static int beyond_stability(const csv_table *d, report_finding *f) {
  int ratio = csv_column(d, "edge_ratio"), loss = csv_column(d, "loss");
  if (ratio < 0 || loss < 0) return 0;
  for (size_t start = 0; start < d->n_rows;) {
    size_t end = start;
    while (end < d->n_rows && csv_value(d, end, ratio) > REPORT_BEYOND_RATIO) end++;
    if (end - start >= REPORT_BEYOND_MIN_RUN) {
      /* Rising: the later half of the stretch's losses above the earlier. */
      size_t half = (end - start) / 2;
      double early = 0, late = 0, peak = 0;
      for (size_t r = start; r < start + half; r++) early += csv_value(d, r, loss);
      for (size_t r = end - half; r < end; r++) late += csv_value(d, r, loss);
      for (size_t r = start; r < end; r++) peak = fmax(peak, csv_value(d, r, ratio));
      if (late > early) {
        char limit[64];
        limit_words(d, end - 1, limit, sizeof limit);
        double lr = csv_value(d, end - 1, csv_column(d, "lr"));
        say(f, REPORT_RULE_BEYOND,
            "%s reached %.2gx its stability limit (%s) at steps %.0f-%.0f while the loss rose "
            "from %.3g to %.3g: the steps are unstable; a learning rate below %.3g (the rate "
            "divided by that ratio) or warmup would keep them stable",
            sharpness_kind(d, end - 1), peak, limit, step_at(d, start), step_at(d, end - 1),
            csv_value(d, start, loss), csv_value(d, end - 1, loss), lr / peak);
        return 1;
      }
    }
    start = end > start ? end : start + 1;
  }
  return 0;
}

static int edge_of_stability(const csv_table *d, report_finding *f) {
  int ratio = csv_column(d, "edge_ratio");
  if (ratio < 0 || d->n_rows == 0) return 0;
  size_t best = 0, best_start = 0;
  for (size_t start = 0; start < d->n_rows;) {
    size_t end = start;
    while (end < d->n_rows && csv_value(d, end, ratio) >= REPORT_EDGE_RATIO) end++;
    if (end - start > best) best = end - start, best_start = start;
    start = end > start ? end : start + 1;
  }
  if (best < REPORT_EDGE_MIN_RUN || (double)best < REPORT_EDGE_MIN_SHARE * (double)d->n_rows)
    return 0;
  size_t last = best_start + best - 1, n;
  double *v = malloc(best * sizeof *v);
  if (!v) return 0;
  for (n = 0; n < best; n++) v[n] = csv_value(d, best_start + n, ratio);
  double median = median_of(v, n);
  free(v);
  char limit[64];
  limit_words(d, last, limit, sizeof limit);
  double first = step_at(d, best_start), final = step_at(d, last);
  say(f, REPORT_RULE_EDGE,
      "%s has sat at %.2fx its stability limit (%s at the last of them) for %.0f steps "
      "(steps %.0f-%.0f, %zu measurements): the run is at the edge of stability, where the loss "
      "falls only in fits and starts; a smaller learning rate or warmup would make steps "
      "productive",
      sharpness_kind(d, last), median, limit, final - first, first, final, best);
  return 1;
}

static int negative_curvature(const csv_table *d, report_finding *f) {
  int top = csv_column(d, "hessian_top"), bottom = csv_column(d, "hessian_bottom");
  if (top < 0 || bottom < 0) return 0;
  size_t measured = 0, negative = 0;
  double worst = 0, worst_top = 0;
  for (size_t r = 0; r < d->n_rows; r++) {
    double t = csv_value(d, r, top), b = csv_value(d, r, bottom);
    if (!isfinite(t) || !isfinite(b) || t <= 0) continue;
    measured++;
    if (b < -REPORT_NEGATIVE_RATIO * t) {
      negative++;
      if (b / t < worst / (worst_top > 0 ? worst_top : 1)) worst = b, worst_top = t;
    }
  }
  if (measured < 3 || (double)negative <= 0.5 * (double)measured) return 0;
  say(f, REPORT_RULE_NEGATIVE,
      "the Hessian's most negative eigenvalue was below -%.2g times its top one at %.0f%% of the "
      "measurements (at worst %.3g against %.3g): the run crosses saddles and non-convex "
      "regions; a plateau there is a saddle, not a minimum, and momentum or gradient noise "
      "helps to leave it",
      REPORT_NEGATIVE_RATIO, 100.0 * (double)negative / (double)measured, worst, worst_top);
  return 1;
}

/* ---- gradient noise ------------------------------------------------------- */

static int norm_test_failing(const csv_table *d, report_finding *f) {
  size_t n;
  double *v = column_values(d, csv_column(d, "norm_test"), 0, &n);
  if (!v) return 0;
  size_t failing = 0;
  for (size_t i = 0; i < n; i++) failing += v[i] > 1;
  double median = median_of(v, n);
  free(v);
  if (n < 3 || (double)failing <= REPORT_NORM_TEST_SHARE * (double)n) return 0;
  say(f, REPORT_RULE_NORM_TEST,
      "the norm test fails (> 1) at %.0f%% of the measurements (median %.3g): the noise of the "
      "batch gradient outweighs the gradient itself, so steps often do not descend; a larger "
      "batch, or a smaller learning rate, would make steps trustworthy",
      100.0 * (double)failing / (double)n, median);
  return 1;
}

static int noise_scale(const csv_table *d, report_finding *f, int norm_test_fired) {
  int scale = csv_column(d, "noise_scale"), batch = csv_column(d, "batch");
  if (scale < 0 || batch < 0) return 0;
  size_t from = later_half(d), n = 0;
  double *ratio = malloc((d->n_rows - from + 1) * sizeof *ratio);
  if (!ratio) return 0;
  for (size_t r = from; r < d->n_rows; r++) {
    double s = csv_value(d, r, scale), b = csv_value(d, r, batch);
    if (!isnan(s) && b > 0) ratio[n++] = s / b;
  }
  size_t count;
  double b = column_median(d, "batch", from, &count);
  double median = n ? median_of(ratio, n) : NAN;
  free(ratio);
  if (n < 3 || !(b > 0)) return 0;
  char examples[48], batch_text[48];
  report_format_count(round(median * b), examples, sizeof examples);
  report_format_count(b, batch_text, sizeof batch_text);
  if (median > REPORT_NOISE_FACTOR && !norm_test_fired && isfinite(median)) {
    say(f, REPORT_RULE_NOISE_HIGH,
        "the gradient noise scale is %s examples against a batch of %s (median of the last %zu "
        "measurements): larger batches would cut steps almost linearly, up to about %s "
        "examples per batch, for the same number of examples",
        examples, batch_text, n, examples);
    return 1;
  }
  if (median < 1 / REPORT_NOISE_FACTOR) {
    say(f, REPORT_RULE_NOISE_LOW,
        "the gradient noise scale is %s examples against a batch of %s (median of the last %zu "
        "measurements): the batch is %.0fx what the noise needs; smaller batches (or a larger "
        "learning rate) would reach the same loss with far fewer examples",
        examples, batch_text, n, 1 / median);
    return 1;
  }
  return 0;
}

/* ---- step quality --------------------------------------------------------- */

static int alpha(const csv_table *d, report_finding *f) {
  size_t n;
  double *v = column_values(d, csv_column(d, "alpha"), 0, &n);
  if (!v) return 0;
  size_t finite = 0;
  for (size_t i = 0; i < n; i++)
    if (isfinite(v[i])) v[finite++] = v[i];
  double median = finite ? median_of(v, finite) : NAN;
  free(v);
  if (finite < 5) return 0;
  if (median > REPORT_ALPHA_OVERSHOOT) {
    say(f, REPORT_RULE_ALPHA_OVERSHOOT,
        "alpha's median is %.2g over %zu steps (about 1 for most): steps overshoot the minimum "
        "along the gradient and land on the far side of the valley; a smaller learning rate "
        "would land nearer its floor",
        median, finite);
    return 1;
  }
  if (median < REPORT_ALPHA_TIMID) {
    say(f, REPORT_RULE_ALPHA_TIMID,
        "alpha's median is %.2g over %zu steps (-1 is a step that does not move): steps stop "
        "far short of the minimum along their direction; a larger learning rate would make "
        "more progress per step",
        median, finite);
    return 1;
  }
  return 0;
}

/* ---- layers ------------------------------------------------------------------ */

static int ends_with(const char *s, const char *tail) {
  size_t n = strlen(s), k = strlen(tail);
  return n > k && strcmp(s + n - k, tail) == 0;
}

static int dead_relu(const csv_table *d, report_finding *f) {
  size_t from = later_half(d), layers = 0, count, worst_n = 0;
  double worst = -1;
  const char *worst_name = NULL;
  for (size_t c = 0; c < d->n_cols; c++) {
    if (!ends_with(d->names[c], ".dead")) continue;
    double m = column_median(d, d->names[c], from, &count);
    if (!(m > REPORT_DEAD_SHARE)) continue;
    layers++;
    if (m > worst) worst = m, worst_name = d->names[c], worst_n = count;
  }
  if (!layers) return 0;
  int len = (int)(strlen(worst_name) - strlen(".dead"));
  say(f, REPORT_RULE_DEAD_RELU,
      "%.*s: %.0f%% of its units are dead, zero on every example of the batch (median of the "
      "last %zu measurements%s): they get no gradient and stop learning; a lower learning rate, "
      "He initialization or a leaky ReLU keeps them alive",
      len > 60 ? 60 : len, worst_name, 100 * worst, worst_n,
      layers > 1 ? "; more than half dead in other layers too" : "");
  return 1;
}

/* The update-to-weight ratios of weight tensors (biases start at zero,
   where the ratio means nothing): the one furthest beyond `limit` in
   direction `sign` (+1 above, -1 below), or 0 when none is. */
static int update_ratio(const csv_table *d, report_finding *f, int sign) {
  size_t from = later_half(d), tensors = 0, count, worst_n = 0;
  double worst = NAN, limit = sign > 0 ? REPORT_UPDATE_HIGH : REPORT_UPDATE_LOW;
  const char *worst_name = NULL;
  for (size_t c = 0; c < d->n_cols; c++) {
    const char *name = d->names[c];
    if (!ends_with(name, ".update_ratio")) continue;
    size_t len = strlen(name) - strlen(".update_ratio");
    if (len >= 5 && strncmp(name + len - 5, ".bias", 5) == 0) continue;
    double m = column_median(d, name, from, &count);
    if (!isfinite(m) || !(sign * (m - limit) > 0)) continue;
    tensors++;
    if (isnan(worst) || sign * (m - worst) > 0) worst = m, worst_name = name, worst_n = count;
  }
  if (!tensors) return 0;
  int len = (int)(strlen(worst_name) - strlen(".update_ratio"));
  char others[64] = "";
  if (tensors > 1)
    snprintf(others, sizeof others, "; %zu tensors in all are that far off", tensors);
  if (sign > 0)
    say(f, REPORT_RULE_UPDATES_LARGE,
        "the update-to-weight ratio of %.*s is %.2g (median of the last %zu measurements%s), far "
        "above Karpathy's rule of thumb of about 1e-3: each step changes those weights by "
        "%.2g%% and may undo what they learned; a smaller learning rate would steady them",
        len > 60 ? 60 : len, worst_name, worst, worst_n, others, 100 * worst);
  else
    say(f, REPORT_RULE_UPDATES_SMALL,
        "the update-to-weight ratio of %.*s is %.2g (median of the last %zu measurements%s), far "
        "below Karpathy's rule of thumb of about 1e-3: those weights barely move; a larger "
        "learning rate (for that layer at least) would train them faster",
        len > 60 ? 60 : len, worst_name, worst, worst_n, others);
  return 1;
}

/* ---- the loss ------------------------------------------------------------------ */

static double window_median(const csv_table *t, int col, size_t from, size_t to) {
  double *v = malloc((to - from) * sizeof *v);
  if (!v) return NAN;
  size_t n = 0;
  for (size_t r = from; r < to; r++)
    if (isfinite(csv_value(t, r, col))) v[n++] = csv_value(t, r, col);
  double m = n ? median_of(v, n) : NAN;
  free(v);
  return m;
}

static int plateau(const csv_table *s, report_finding *f) {
  int loss = csv_column(s, "loss"), step = csv_column(s, "step");
  if (loss < 0 || step < 0 || s->n_rows < REPORT_PLATEAU_MIN_STEPS) return 0;
  size_t q = s->n_rows / 4;
  double first = window_median(s, loss, 0, q), before = window_median(s, loss, 2 * q, 3 * q),
         last = window_median(s, loss, s->n_rows - q, s->n_rows);
  if (!isfinite(first) || !isfinite(before) || !isfinite(last) || before == 0) return 0;
  double change = (before - last) / fabs(before);
  if (fabs(change) >= REPORT_PLATEAU_CHANGE || fabs(last) <= 1e-3 * fabs(first)) return 0;
  say(f, REPORT_RULE_PLATEAU,
      "the loss has stopped moving: its median over the last %zu steps (to step %.0f) is %.4g, "
      "%+.2g%% against the %zu steps before: a plateau; a saddle, a learning rate too small to "
      "leave it or too large to settle (try a schedule that decays it), or the model's capacity",
      q, csv_value(s, s->n_rows - 1, step), last, -100 * change, q);
  return 1;
}

static int overfitting(const csv_table *m, report_finding *f) {
  int train = csv_column(m, "train_loss"), epoch = csv_column(m, "epoch");
  const char *held = "val_loss", *words = "validation";
  size_t n;
  double *v = column_values(m, csv_column(m, held), 0, &n);
  free(v);
  if (n < 3) held = "test_loss", words = "test";
  int col = csv_column(m, held);
  if (train < 0 || col < 0 || epoch < 0 || m->n_rows < 3) return 0;
  size_t best = m->n_rows, last = m->n_rows - 1;
  for (size_t r = 0; r < m->n_rows; r++) {
    double x = csv_value(m, r, col);
    if (isfinite(x) && (best == m->n_rows || x < csv_value(m, best, col))) best = r;
  }
  if (best >= last) return 0;
  double low = csv_value(m, best, col), now = csv_value(m, last, col);
  double train_then = csv_value(m, best, train), train_now = csv_value(m, last, train);
  if (!(now > low * (1 + REPORT_OVERFIT_RISE)) || !(train_now < train_then)) return 0;
  say(f, REPORT_RULE_OVERFIT,
      "the %s loss rose from %.4g at epoch %.0f to %.4g at epoch %.0f (%+.0f%%) while the "
      "training loss fell from %.4g to %.4g: the network overfits; the model of epoch %.0f was "
      "the best; weight decay, dropout, more data or fewer epochs would help",
      words, low, csv_value(m, best, epoch), now, csv_value(m, last, epoch), 100 * (now / low - 1),
      train_then, train_now, csv_value(m, best, epoch));
  return 1;
}

/* ---- all of them ------------------------------------------------------------ */

size_t report_diagnose(const report_inputs *in, report_finding *out, size_t cap) {
  report_finding found[REPORT_N_RULES + 1];
  size_t n = 0;
  const csv_table *d = in->diagnostics;
  if (d && d->n_rows) {
    int beyond = beyond_stability(d, &found[n]);
    n += beyond;
    if (!beyond) n += edge_of_stability(d, &found[n]);
    int norm = norm_test_failing(d, &found[n]);
    n += norm;
    n += noise_scale(d, &found[n], norm);
    n += alpha(d, &found[n]);
    n += negative_curvature(d, &found[n]);
    n += dead_relu(d, &found[n]);
    n += update_ratio(d, &found[n], +1);
    n += update_ratio(d, &found[n], -1);
  }
  if (in->steps) n += plateau(in->steps, &found[n]);
  if (in->metrics) n += overfitting(in->metrics, &found[n]);
  size_t k = 0;
  for (int rule = 0; rule < REPORT_N_RULES; rule++)
    for (size_t i = 0; i < n; i++)
      if ((int)found[i].rule == rule && k < cap) out[k++] = found[i];
  return n;
}

void report_untracked(const csv_table *d, char *buf, size_t cap) {
  if (!d) {
    snprintf(buf, cap,
             "no diagnostics.csv: the run was not tracked; train with --track all (or --track "
             "sharpness,ggn,negative,noise,alpha,layers) to measure curvature, gradient noise, "
             "step quality and layers");
    return;
  }
  static const struct {
    const char *instrument, *column;
  } marks[] = {{"sharpness", "hessian_top"},
               {"ggn", "ggn_top"},
               {"negative", "hessian_bottom"},
               {"noise", "noise_scale"},
               {"alpha", "alpha"}};
  char missing[128] = "";
  for (size_t i = 0; i < sizeof marks / sizeof marks[0]; i++)
    if (csv_column(d, marks[i].column) < 0)
      snprintf(missing + strlen(missing), sizeof missing - strlen(missing), "%s%s",
               missing[0] ? "," : "", marks[i].instrument);
  int layers = 0;
  for (size_t c = 0; c < d->n_cols; c++) layers |= ends_with(d->names[c], ".grad_norm");
  if (!layers)
    snprintf(missing + strlen(missing), sizeof missing - strlen(missing), "%slayers",
             missing[0] ? "," : "");
  if (!missing[0]) {
    buf[0] = '\0';
    return;
  }
  snprintf(buf, cap, "not tracked: %s; train with --track %s (or --track all) to measure %s",
           missing, missing, strchr(missing, ',') ? "them" : "it");
}
