/*
 * demo_rmsprop_step.c - "beware of changing the step size during
 * optimization" (slide 36; RMSprop, Tieleman & Hinton 2012): RMSprop changes
 * each coordinate's step by itself, alpha / (sqrt(v) + eps) with
 * v <- beta v + (1 - beta) g^2, and that step can grow without bound.
 *
 * (a) A plateau. f(x, y) = p(x) + 0.001 |y| where p falls with slope s for
 * x <= 0, creeps with slope delta (1e-10) on the plateau 0 <= x <= P, and
 * is the well (h/2) (x - P - c)^2 past P (h c^2 / 2 on the plateau, so p is
 * continuous). Once the gradient drops from s to delta, v decays like
 * beta^t: the effective step grows by beta^(-1/2) a step (1.00504 at beta
 * 0.99), until sqrt(v) reaches delta and eps: the cap alpha / (delta + eps),
 * about alpha / eps = 10^6 alpha. That huge step times the tiny gradient
 * carries RMSprop across the plateau. At the well's edge the gradient
 * returns (h c); v takes it in at once, but only with weight 1 - beta, so
 * the first step is alpha / sqrt(1 - beta) (10 alpha, ten times RMSprop's
 * usual step) and overshoots a well of half-width c: the loss jumps from
 * h c^2 / 2 to (h/2) (alpha / sqrt(1 - beta) - c)^2, a factor
 * (alpha / (c sqrt(1 - beta)) - 1)^2 (81 with the defaults). SGD stops on
 * the plateau (its step is alpha delta); Adam's v decays like beta2^t
 * (0.999), so its step grows 10 times slower (twice that early on, as its
 * bias correction 1 - beta2^t drifts), and its m decays too. The
 * valley |y| beside the plateau keeps a gradient of one size (0.001), so
 * its effective step stays alpha / 0.001: the blow-up is x's alone. Past
 * the plateau RMSprop converges in the well, x's gradient vanishes again,
 * and its step grows again until the well's curvature makes it unstable:
 * a second burst (RMSprop at its edge of stability).
 *
 * (b) The learning rate multiplied by M at step T, on a stochastic quadratic
 * (curvatures 1 and 0.1, gradient noise sigma per coordinate), the loss
 * averaged over seeds. SGD's loss rises smoothly to its new noise floor,
 * sum_i alpha sigma^2 / (2 (2 - alpha h_i)) at the new alpha (E theta_i^2
 * moves monotonically from one floor to the other). With little noise,
 * RMSprop sits where its preconditioned curvature alpha h / sqrt(v) is
 * near 2 (its edge of stability): after the change it is near 2 M, each
 * step multiplies theta by about 1 - 2 M until v catches up, and the loss
 * spikes far above the level it then settles at. Adam's v, with beta2
 * 0.999, still remembers the large gradients of the start: its
 * preconditioned curvature is far below its limit 38/lr, and the change
 * raises its floor without a spike.
 *
 * Every effective step is descent's own: lr / P with P the diagonal
 * preconditioner read out of the optimizer's state
 * (descent_optimizer_stability), and lr the optimizer's current rate.
 */
#include "lab.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const lab_option rmsprop_step_options[] = {
    {"lr", "A", "0.01", "learning rate of the three optimizers on the plateau"},
    {"decay", "B", "0.99", "RMSprop's decay beta of the mean square (torch's alpha)"},
    {"eps", "E", "1e-8", "RMSprop's and Adam's eps"},
    {"slope", "D", "1e-10", "the plateau's slope delta"},
    {"width", "P", "0.5", "the plateau's width"},
    {"well", "C", "0.01", "distance from the plateau's end to the well's minimum"},
    {"steps", "N", "12000", "steps on the plateau problem"},
    {"change", "M", "10", "(b) the learning rate is multiplied by M ..."},
    {"change-at", "T", "4000", "(b) ... at step T"},
    {"after", "N", "2000", "(b) steps after the change"},
    {"change-lr", "A,A,A", "0.1,0.001,0.001", "(b) learning rates of sgd, rmsprop, adam"},
    {"noise", "S", "1e-4", "(b) standard deviation of the gradient noise per coordinate"},
    {"seeds", "N", "40", "(b) runs averaged"},
};

enum { N_OPT = 3, SPIKE_WINDOW = 10, DENSE = 40, PEAK_SPAN = 10 };
static const char *const opt_names[N_OPT] = {"sgd", "rmsprop", "adam"};

/* ---- (a) the plateau -------------------------------------------------------- */

#define PLATEAU_SLOPE_BEFORE   1.0 /* s: the slope that leads onto the plateau */
#define PLATEAU_WELL_CURVATURE 100.0
#define PLATEAU_START_X        -1.0
#define PLATEAU_START_Y        0.05
#define VALLEY_SLOPE           1e-3 /* of the V-shaped valley |y| beside the plateau */

typedef struct plateau_setup {
  double lr, beta, eps, delta, width, c;
  int64_t steps;
} plateau_setup;

static double plateau_height(const plateau_setup *s) {
  return PLATEAU_WELL_CURVATURE * s->c * s->c / 2;
}

static double plateau_f(const plateau_setup *s, double x, double y, double *gx, double *gy) {
  const double h = PLATEAU_WELL_CURVATURE, top = plateau_height(s);
  double p;
  if (x <= 0) {
    p = top + s->delta * s->width - PLATEAU_SLOPE_BEFORE * x;
    *gx = -PLATEAU_SLOPE_BEFORE;
  } else if (x <= s->width) {
    p = top + s->delta * (s->width - x);
    *gx = -s->delta;
  } else {
    double d = x - s->width - s->c;
    p = h / 2 * d * d;
    *gx = h * d;
  }
  *gy = y >= 0 ? VALLEY_SLOPE : -VALLEY_SLOPE; /* never 0: the valley's gradient keeps its size */
  return p + VALLEY_SLOPE * fabs(y);
}

/* One optimizer's run: per step the loss, x, and the effective step of
   each coordinate after it. */
typedef struct plateau_run {
  double *f, *x, *step_x, *step_y; /* steps + 1 values (index 0: the start) */
  int64_t entered, left;           /* first t with x > 0 and x > width; -1: never */
} plateau_run;

/* The highest loss within SPIKE_WINDOW steps of leaving the plateau (the
   run must have left it: left >= 1). */
static double spike_peak(const plateau_run *p, int64_t steps) {
  double peak = 0;
  for (int64_t i = p->left; i <= steps && i < p->left + SPIKE_WINDOW; i++)
    peak = p->f[i] > peak ? p->f[i] : peak;
  return peak;
}

static int optimizer_spec(int k, const plateau_setup *s, char *buf, size_t cap) {
  if (k == 0)
    snprintf(buf, cap, "sgd");
  else if (k == 1)
    snprintf(buf, cap, "rmsprop(alpha=%.17g, eps=%.17g)", s->beta, s->eps);
  else
    snprintf(buf, cap, "adam(eps=%.17g)", s->eps);
  return 0;
}

/* lr / P per coordinate, P from the optimizer's state; plain lr for a
   chain that does not precondition (sgd). */
static int effective_steps(const descent_optimizer *opt, descent_real *p, size_t n, double *out) {
  descent_stability st;
  int rc = descent_optimizer_stability(opt, p, n, &st);
  if (rc) return rc;
  double lr = descent_optimizer_lr(opt);
  for (size_t i = 0; i < n; i++) out[i] = st.preconditioned ? lr / (double)p[i] : lr;
  return DESCENT_OK;
}

static int plateau_run_one(const plateau_setup *s, int k, plateau_run *r) {
  const size_t len = (size_t)s->steps + 1;
  r->f = calloc(len, sizeof *r->f), r->x = calloc(len, sizeof *r->x);
  r->step_x = calloc(len, sizeof *r->step_x), r->step_y = calloc(len, sizeof *r->step_y);
  if (!r->f || !r->x || !r->step_x || !r->step_y)
    return descent_fail(DESCENT_ENOMEM, "rmsprop-step: out of memory");
  char spec[128], lr[LAB_NUM];
  optimizer_spec(k, s, spec, sizeof spec);
  descent_optimizer *opt = NULL;
  int rc = descent_optimizer_create(&opt, spec, lab_num(lr, s->lr), 2);
  if (rc) return rc;
  descent_real theta[2] = {(descent_real)PLATEAU_START_X, (descent_real)PLATEAU_START_Y}, g[2],
               p[2];
  double gx, gy, eff[2] = {NAN, NAN};
  r->entered = r->left = -1;
  r->f[0] = plateau_f(s, theta[0], theta[1], &gx, &gy);
  r->x[0] = theta[0];
  r->step_x[0] = r->step_y[0] = NAN; /* no statistics before the first step */
  for (int64_t t = 1; t <= s->steps && !rc; t++) {
    plateau_f(s, theta[0], theta[1], &gx, &gy);
    g[0] = (descent_real)gx, g[1] = (descent_real)gy;
    rc = descent_optimizer_step_buffers(opt, theta, g, 2);
    if (!rc) rc = effective_steps(opt, p, 2, eff);
    r->f[t] = plateau_f(s, theta[0], theta[1], &gx, &gy);
    r->x[t] = theta[0];
    r->step_x[t] = eff[0], r->step_y[t] = eff[1];
    if (r->entered < 0 && theta[0] > 0) r->entered = t;
    if (r->left < 0 && theta[0] > s->width) r->left = t;
  }
  descent_optimizer_free(opt);
  return rc;
}

static void plateau_run_free(plateau_run *r) {
  free(r->f), free(r->x), free(r->step_x), free(r->step_y);
}

/* The effective step's growth per step on the plateau: the geometric mean
   over the stretch from 10 steps after entering it until the step reaches
   1/100 of the cap (beyond that eps and delta bend it), at most 2000
   steps, whose ends go to *from and *to. NAN when the run does not stay
   long enough. */
static double plateau_growth(const plateau_setup *s, const plateau_run *r, int64_t *from_out,
                             int64_t *to_out) {
  if (r->entered < 0) return NAN;
  int64_t from = r->entered + 10, to = from;
  const double cap = s->lr / (s->delta + s->eps) / 100;
  while (to + 1 <= s->steps && to - from < 2000 && r->step_x[to + 1] < cap &&
         (r->left < 0 || to + 1 < r->left))
    to++;
  if (to - from < 50) return NAN;
  *from_out = from, *to_out = to;
  return pow(r->step_x[to] / r->step_x[from], 1.0 / (double)(to - from));
}

/* ---- (b) the learning rate changed mid-run ------------------------------- */

static const double change_curvature[2] = {1.0, 0.1};

typedef struct change_setup {
  double m, lr[N_OPT], noise;
  int64_t at, after, seeds;
} change_setup;

/* The seed-averaged loss of optimizer k (its decay and eps those of opts), at
   steps 0 .. at + after, and the
   seed-averaged ratio, just before the change, of the largest
   (preconditioned) curvature h_i / P_i to the optimizer's stability limit
   (descent_optimizer_stability: 2/lr for sgd and rmsprop, 38/lr for adam). */
static int change_run(const change_setup *s, const plateau_setup *opts, int k, double *mean,
                      double *edge) {
  const int64_t total = s->at + s->after;
  *edge = 0;
  memset(mean, 0, (size_t)(total + 1) * sizeof *mean);
  char spec[128], lr[LAB_NUM];
  optimizer_spec(k, opts, spec, sizeof spec); /* --decay and --eps, as in (a) */
  int rc = DESCENT_OK;
  for (int64_t seed = 1; seed <= s->seeds && !rc; seed++) {
    descent_optimizer *opt = NULL;
    rc = descent_optimizer_create(&opt, spec, lab_num(lr, s->lr[k]), 2);
    if (rc) break;
    descent_rng rng;
    descent_rng_seed(&rng, (uint64_t)seed);
    descent_real theta[2] = {1, 1}, g[2];
    for (int64_t t = 0; t <= total && !rc; t++) {
      double f = 0;
      for (int i = 0; i < 2; i++)
        f += change_curvature[i] * (double)theta[i] * (double)theta[i] / 2;
      mean[t] += f / (double)s->seeds;
      if (t == total) break;
      if (t == s->at) {
        descent_stability st;
        descent_real p[2];
        rc = descent_optimizer_stability(opt, p, 2, &st);
        double worst = 0;
        for (int i = 0; i < 2 && !rc; i++) {
          double h = change_curvature[i] / (st.preconditioned ? (double)p[i] : 1);
          worst = h > worst ? h : worst;
        }
        *edge += worst / st.limit / (double)s->seeds;
        if (!rc) rc = descent_optimizer_set_base_lr(opt, s->lr[k] * s->m);
      }
      for (int i = 0; i < 2; i++)
        g[i] = (descent_real)(change_curvature[i] * (double)theta[i] +
                              s->noise * descent_rng_normal(&rng));
      if (!rc) rc = descent_optimizer_step_buffers(opt, theta, g, 2);
    }
    descent_optimizer_free(opt);
  }
  return rc;
}

/* SGD's noise floor E f = sum_i alpha sigma^2 / (2 (2 - alpha h_i)). */
static double sgd_floor(double alpha, double sigma) {
  double f = 0;
  for (int i = 0; i < 2; i++) f += alpha * sigma * sigma / (2 * (2 - alpha * change_curvature[i]));
  return f;
}

static double mean_of(const double *x, int64_t from, int64_t to) {
  double sum = 0;
  for (int64_t t = from; t < to; t++) sum += x[t];
  return sum / (double)(to - from);
}

/* ---- files ------------------------------------------------------------------ */

/* Whether step t goes into the plateau CSV: every step near the start and
   near where a run enters or leaves the plateau, every 10th elsewhere. */
static int plateau_keeps(const plateau_run *runs, int64_t t) {
  if (t < 200 || t % 10 == 0) return 1;
  for (int k = 0; k < N_OPT; k++) {
    if (runs[k].entered >= 0 && llabs(t - runs[k].entered) < DENSE) return 1;
    if (runs[k].left >= 0 && llabs(t - runs[k].left) < DENSE) return 1;
  }
  return 0;
}

static int rmsprop_step_files(const char *dir, lab_result *res, const plateau_setup *s,
                              const plateau_run *runs, const change_setup *c,
                              double *const *change_mean) {
  FILE *f = lab_file_open(dir, "rmsprop-step-plateau-runs.csv", res);
  if (!f) return DESCENT_EIO;
  fprintf(f, "t");
  for (int k = 0; k < N_OPT; k++)
    fprintf(f, ",%s_f,%s_x,%s_step_x,%s_step_y", opt_names[k], opt_names[k], opt_names[k],
            opt_names[k]);
  fprintf(f, "\n");
  for (int64_t t = 1; t <= s->steps; t++) {
    if (!plateau_keeps(runs, t)) continue;
    fprintf(f, "%lld", (long long)t);
    for (int k = 0; k < N_OPT; k++)
      fprintf(f, ",%.17g,%.17g,%.17g,%.17g", runs[k].f[t], runs[k].x[t], runs[k].step_x[t],
              runs[k].step_y[t]);
    fprintf(f, "\n");
  }
  int rc = lab_file_close(f, "rmsprop-step-plateau-runs.csv");
  if (rc) return rc;
  f = lab_file_open(dir, "rmsprop-step-change-runs.csv", res);
  if (!f) return DESCENT_EIO;
  fprintf(f, "t,sgd,rmsprop,adam\n");
  for (int64_t t = 0; t <= c->at + c->after; t++)
    fprintf(f, "%lld,%.17g,%.17g,%.17g\n", (long long)t, change_mean[0][t], change_mean[1][t],
            change_mean[2][t]);
  rc = lab_file_close(f, "rmsprop-step-change-runs.csv");
  if (rc) return rc;

  f = lab_gp_open(dir, "rmsprop-step", 1900, 720, "RMSprop's effective step", res);
  if (!f) return DESCENT_EIO;
  fprintf(f,
          "set multiplot layout 1,3 title \"Beware of changing the step size during optimization "
          "(slide 36; RMSprop, Tieleman and Hinton 2012)\" font \",14\"\n"
          "set termoption enhanced\n");
  const plateau_run *rms = &runs[1];
  /* Panel 1: the effective step of each coordinate. */
  fprintf(f,
          "set title \"effective step lr/P, P read from the optimizer's state\\nsolid: θ_{1} = x "
          "(the plateau); dashed: θ_{2} = y (the valley |y|)\" \nset logscale y\nset "
          "format y \"10^{%%L}\"\n"
          "set xlabel \"step t\"\nset ylabel \"effective step (log)\"\n"
          "set key at graph 0.70, graph 0.78 right box opaque\n"
          "set xrange [0:%lld]\nset yrange [1e-3:1e8]\n",
          (long long)s->steps);
  fprintf(f,
          "set arrow 1 from graph 0, first %.17g to graph 1, first %.17g nohead dt 2 lc rgb "
          "\"black\"\nset label 1 \"cap α/ε = %g\" at graph 0.7, first %.17g offset 0,0.8\n",
          s->lr / s->eps, s->lr / s->eps, s->lr / s->eps, s->lr / s->eps);
  if (rms->entered >= 0)
    fprintf(f,
            "set arrow 2 from first %lld, graph 0 to first %lld, graph 1 nohead dt 3 lc rgb "
            "\"gray40\"\nset label 2 \"RMSprop reaches the plateau\" at first %lld, graph 0.08 "
            "offset 0.5,0 font \",9\"\n",
            (long long)rms->entered, (long long)rms->entered, (long long)rms->entered);
  if (rms->left >= 0)
    fprintf(f,
            "set arrow 3 from first %lld, graph 0 to first %lld, graph 1 nohead dt 3 lc rgb "
            "\"gray40\"\nset label 3 \"leaves it\" at first %lld, graph 0.08 right offset -0.5,0 "
            "font \",9\"\n",
            (long long)rms->left, (long long)rms->left, (long long)rms->left);
  for (int k = 0; k < N_OPT; k++)
    fprintf(
        f,
        "%s'rmsprop-step-plateau-runs.csv' skip 1 using 1:%d with lines lw 2 lc rgb \"%s\" "
        "title \"%s: θ_{1}\", \\\n"
        "     'rmsprop-step-plateau-runs.csv' skip 1 using 1:%d with lines lw 2 dt 2 lc rgb \"%s\" "
        "title \"%s: θ_{2}\"",
        k ? ", \\\n     " : "plot ", 2 + 4 * k + 2, lab_color(k), opt_names[k], 2 + 4 * k + 3,
        lab_color(k), opt_names[k]);
  /* Panel 2: the loss, with the spike. */
  fprintf(
      f,
      "\nunset label 1\nunset arrow 1\nset title \"loss f(θ_{t}): flat on the plateau, the spike "
      "on leaving it\"\nset ylabel \"f (log)\"\nset yrange [1e-9:10]\nset key default\nset key "
      "inside top right\n");
  if (rms->left >= 1) { /* the jump, beside the spike */
    double before = rms->f[rms->left - 1], after = spike_peak(rms, s->steps);
    fprintf(f, "set label 4 \"loss × %.0f\" at first %lld, first %.17g right offset -0.5,0\n",
            after / before, (long long)rms->left, after);
  }
  for (int k = 0; k < N_OPT; k++)
    fprintf(f,
            "%s'rmsprop-step-plateau-runs.csv' skip 1 using 1:%d with lines lw 2 lc rgb \"%s\" "
            "title \"%s\"",
            k ? ", \\\n     " : "plot ", 2 + 4 * k, lab_color(k), opt_names[k]);
  /* Panel 3: the learning rate changed mid-run. */
  fprintf(f,
          "\nunset arrow\nunset label\nset key default\nset key inside bottom right\nset title "
          "\"stochastic quadratic, lr × %g at step %lld "
          "(mean of %lld runs)\"\nset ylabel \"mean f (log)\"\nset yrange [*:*]\n"
          "set xrange [%lld:%lld]\n"
          "set arrow 1 from first %lld, graph 0 to first %lld, graph 1 nohead dt 2 lc rgb "
          "\"black\"\nset label 1 \"lr × %g\" at first %lld, graph 0.5 offset 0.5,0\n",
          c->m, (long long)c->at, (long long)c->seeds, (long long)(c->at - c->after / 2),
          (long long)(c->at + c->after), (long long)c->at, (long long)c->at, c->m,
          (long long)c->at);
  for (int k = 0; k < N_OPT; k++)
    fprintf(f,
            "%s'rmsprop-step-change-runs.csv' skip 1 using 1:%d with lines lw 2 lc rgb \"%s\" "
            "title \"%s, lr %g → %g\"",
            k ? ", \\\n     " : "plot ", 2 + k, lab_color(k), opt_names[k], c->lr[k],
            c->lr[k] * c->m);
  fprintf(f, "\nunset arrow\nunset label\nunset multiplot\n");
  return lab_gp_close(f, "rmsprop-step", res);
}

/* ---- the demo --------------------------------------------------------------- */

static void text_or_number(lab_table *t, int row, const char *col, int known, double v) {
  if (known)
    lab_table_num(t, row, col, v);
  else
    lab_table_text(t, row, col, "-");
}

static int plateau_table(lab_result *res, const plateau_setup *s, const plateau_run *runs) {
  lab_table *t = lab_result_table(
      res, "rmsprop-step",
      "A plateau (slope 1, then delta over a width P, then a well): each optimizer's effective "
      "step on the plateau and the loss on leaving it",
      "quantity|sgd|rmsprop|adam|theory");
  if (!t) return DESCENT_ERANGE;
  const double adam_b2 = 0.999, adam_b1 = 0.9;
  int r = lab_table_row(t, "step reaching the plateau");
  for (int k = 0; k < N_OPT; k++)
    text_or_number(t, r, opt_names[k], runs[k].entered >= 0, (double)runs[k].entered);
  lab_table_text(t, r, "theory", "-");
  r = lab_table_row(t, "steps on the plateau");
  for (int k = 0; k < N_OPT; k++) {
    if (runs[k].left >= 0 && runs[k].entered >= 0)
      lab_table_num(t, r, opt_names[k], (double)(runs[k].left - runs[k].entered));
    else
      lab_table_text(t, r, opt_names[k], "never left (> %lld)", (long long)s->steps);
  }
  lab_table_text(t, r, "theory", "-");
  r = lab_table_row(t, "effective step growth per step (percent)");
  int64_t from = 0, to = 0;
  for (int k = 0; k < N_OPT; k++) {
    double g = plateau_growth(s, &runs[k], &from, &to);
    text_or_number(t, r, opt_names[k], isfinite(g), 100 * (g - 1));
  }
  lab_table_num(t, r, "theory", 100 * (1 / sqrt(s->beta) - 1));
  /* Adam's P = (1 - b1^t) (sqrt(v / (1 - b2^t)) + eps) over the same
     stretch of its run (from, to: the last run measured): v's decay by b2
     a step and the bias corrections' drift. */
  r = lab_table_row(t, "adam's theory with bias correction (percent)");
  for (int k = 0; k < N_OPT; k++) lab_table_text(t, r, opt_names[k], "-");
  if (to > from) {
    double ratio = pow(adam_b2, -(double)(to - from) / 2) *
                   sqrt((1 - pow(adam_b2, (double)to)) / (1 - pow(adam_b2, (double)from))) *
                   (1 - pow(adam_b1, (double)from)) / (1 - pow(adam_b1, (double)to));
    lab_table_num(t, r, "theory", 100 * (pow(ratio, 1.0 / (double)(to - from)) - 1));
  } else {
    lab_table_text(t, r, "theory", "-");
  }
  r = lab_table_row(t, "largest effective step on the plateau");
  for (int k = 0; k < N_OPT; k++) {
    double big = 0;
    const plateau_run *p = &runs[k];
    if (p->entered >= 0)
      for (int64_t i = p->entered; i <= s->steps && (p->left < 0 || i < p->left); i++)
        big = p->step_x[i] > big ? p->step_x[i] : big;
    text_or_number(t, r, opt_names[k], p->entered >= 0, big);
  }
  lab_table_num(t, r, "theory", s->lr / (s->delta + s->eps)); /* rmsprop's cap */
  r = lab_table_row(t, "cap alpha/eps");
  for (int k = 0; k < N_OPT; k++) lab_table_text(t, r, opt_names[k], "-");
  lab_table_num(t, r, "theory", s->lr / s->eps);
  /* The loss on leaving: the last plateau value and the largest of the next
     SPIKE_WINDOW; and the first step past the plateau. */
  int r_before = lab_table_row(t, "loss on the plateau's edge");
  int r_after = lab_table_row(t, "largest loss just after");
  int r_factor = lab_table_row(t, "spike factor");
  int r_step = lab_table_row(t, "first step past the edge");
  for (int k = 0; k < N_OPT; k++) {
    const plateau_run *p = &runs[k];
    if (p->left < 1) {
      for (int q = 0; q < 4; q++) lab_table_text(t, r_before + q, opt_names[k], "never left");
      continue;
    }
    double before = p->f[p->left - 1], after = spike_peak(p, s->steps);
    lab_table_num(t, r_before, opt_names[k], before);
    lab_table_num(t, r_after, opt_names[k], after);
    lab_table_num(t, r_factor, opt_names[k], after / before);
    double step = p->left + 1 <= s->steps ? fabs(p->x[p->left + 1] - p->x[p->left]) : NAN;
    text_or_number(t, r_step, opt_names[k], isfinite(step), step);
  }
  const double top = plateau_height(s), jump = s->lr / sqrt(1 - s->beta);
  lab_table_num(t, r_before, "theory", top);
  lab_table_num(t, r_after, "theory", PLATEAU_WELL_CURVATURE / 2 * (jump - s->c) * (jump - s->c));
  lab_table_num(t, r_factor, "theory", pow(jump / s->c - 1, 2));
  lab_table_num(t, r_step, "theory", jump);
  lab_result_note(res,
                  "on the plateau RMSprop's step grows by beta^(-1/2) = %.5f a step (Adam's by "
                  "b2^(-1/2) = %.5f, and its bias correction) up to alpha/(delta + eps) = %.4g",
                  1 / sqrt(s->beta), 1 / sqrt(adam_b2), s->lr / (s->delta + s->eps));
  lab_result_note(res,
                  "leaving it, RMSprop's first step is alpha/sqrt(1 - beta) = %.3g: the loss "
                  "jumps by (alpha/(c sqrt(1 - beta)) - 1)^2 = %.3g; Adam's would be at most "
                  "alpha (1 - b1)/sqrt(1 - b2) = %.3g",
                  jump, pow(jump / s->c - 1, 2), s->lr * (1 - adam_b1) / sqrt(1 - adam_b2));
  return DESCENT_OK;
}

static int change_table(lab_result *res, const change_setup *c, double *const *mean,
                        const double *edge) {
  lab_table *t = lab_result_table(
      res, "rmsprop-step-change",
      "Stochastic quadratic (curvatures 1 and 0.1): the seed-averaged loss when the learning "
      "rate is multiplied mid-run",
      "optimizer|lr before|lr after|curvature/limit after|loss before|peak after|settled after|"
      "peak/before|peak/settled|sgd theory settled/before");
  if (!t) return DESCENT_ERANGE;
  const int64_t window = c->after / 3 < c->at / 3 ? c->after / 3 : c->at / 3;
  for (int k = 0; k < N_OPT; k++) {
    const double *m = mean[k];
    double before = mean_of(m, c->at - window, c->at);
    double settled = mean_of(m, c->at + c->after + 1 - window, c->at + c->after + 1);
    /* The peak of the loss's mean over PEAK_SPAN steps: a single step's
       maximum would also catch the noise of the seeds' mean. */
    double peak = 0;
    for (int64_t i = c->at + 1; i + PEAK_SPAN <= c->at + c->after + 1; i++) {
      double avg = mean_of(m, i, i + PEAK_SPAN);
      peak = avg > peak ? avg : peak;
    }
    int r = lab_table_row(t, "%s", opt_names[k]);
    lab_table_num(t, r, "lr before", c->lr[k]);
    lab_table_num(t, r, "lr after", c->lr[k] * c->m);
    lab_table_num(t, r, "curvature/limit after", c->m * edge[k]);
    lab_table_num(t, r, "loss before", before);
    lab_table_num(t, r, "peak after", peak);
    lab_table_num(t, r, "settled after", settled);
    lab_table_num(t, r, "peak/before", peak / before);
    lab_table_num(t, r, "peak/settled", peak / settled);
    if (k == 0)
      lab_table_num(t, r, "sgd theory settled/before",
                    sgd_floor(c->lr[0] * c->m, c->noise) / sgd_floor(c->lr[0], c->noise));
    else
      lab_table_text(t, r, "sgd theory settled/before", "-");
  }
  const lab_table *done = t;
  lab_result_note(res,
                  "lr x %g at step %lld: SGD's mean loss rises x%.3g (theory x%.3g) to its new "
                  "noise floor and peaks only %.2g times above it",
                  c->m, (long long)c->at,
                  lab_table_number(done, "sgd", "settled after") /
                      lab_table_number(done, "sgd", "loss before"),
                  lab_table_number(done, "sgd", "sgd theory settled/before"),
                  lab_table_number(done, "sgd", "peak/settled"));
  lab_result_note(res,
                  "RMSprop sat at its edge of stability (curvature/limit %.2g before the change, "
                  "%.2g after): "
                  "its loss spikes %.3g times above where it settles; Adam, at %.2g of its limit, "
                  "peaks %.2g times above",
                  lab_table_number(done, "rmsprop", "curvature/limit after") / c->m,
                  lab_table_number(done, "rmsprop", "curvature/limit after"),
                  lab_table_number(done, "rmsprop", "peak/settled"),
                  lab_table_number(done, "adam", "curvature/limit after"),
                  lab_table_number(done, "adam", "peak/settled"));
  return DESCENT_OK;
}

static int rmsprop_step_run(const lab_args *a, const char *dir, lab_result *res) {
  plateau_setup s;
  change_setup c;
  int n_lr = 0;
  int rc = lab_arg_double(a, "lr", 1e-6, 1, &s.lr);
  if (!rc) rc = lab_arg_double(a, "decay", 0.5, 0.9999, &s.beta);
  if (!rc) rc = lab_arg_double(a, "eps", 1e-12, 1e-2, &s.eps);
  if (!rc) rc = lab_arg_double(a, "slope", 0, 1e-2, &s.delta);
  if (!rc) rc = lab_arg_double(a, "width", 1e-6, 100, &s.width);
  if (!rc) rc = lab_arg_double(a, "well", 1e-6, 10, &s.c);
  if (!rc) rc = lab_arg_int(a, "steps", 10, 1000000, &s.steps);
  if (!rc) rc = lab_arg_double(a, "change", 1e-3, 1e3, &c.m);
  if (!rc) rc = lab_arg_int(a, "change-at", 10, 1000000, &c.at);
  if (!rc) rc = lab_arg_int(a, "after", 10, 1000000, &c.after);
  if (!rc) rc = lab_arg_list(a, "change-lr", 1e-9, 10, N_OPT, N_OPT, c.lr, &n_lr);
  if (!rc) rc = lab_arg_double(a, "noise", 0, 100, &c.noise);
  if (!rc) rc = lab_arg_int(a, "seeds", 1, 10000, &c.seeds);
  if (rc) return rc;
  /* (b) runs every seed for change-at + after steps: about a minute at most. */
  if ((double)c.seeds * (double)(c.at + c.after) > 2e7)
    return descent_fail(DESCENT_EINVAL,
                        "--seeds: %lld runs of %lld steps are too many (seeds (change-at + "
                        "after) at most 2e7)",
                        (long long)c.seeds, (long long)(c.at + c.after));
  plateau_run runs[N_OPT];
  memset(runs, 0, sizeof runs);
  double *mean[N_OPT] = {NULL, NULL, NULL}, edge[N_OPT] = {0, 0, 0};
  for (int k = 0; k < N_OPT && !rc; k++) rc = plateau_run_one(&s, k, &runs[k]);
  for (int k = 0; k < N_OPT && !rc; k++) {
    mean[k] = malloc((size_t)(c.at + c.after + 1) * sizeof *mean[k]);
    rc = mean[k] ? change_run(&c, &s, k, mean[k], &edge[k])
                 : descent_fail(DESCENT_ENOMEM, "rmsprop-step: out of memory");
  }
  if (!rc) rc = plateau_table(res, &s, runs);
  if (!rc) rc = change_table(res, &c, mean, edge);
  if (!rc && dir) rc = rmsprop_step_files(dir, res, &s, runs, &c, mean);
  for (int k = 0; k < N_OPT; k++) plateau_run_free(&runs[k]), free(mean[k]);
  return rc;
}

const lab_demo lab_demo_rmsprop_step = {
    "rmsprop-step",
    "slide 36",
    "RMSprop's effective step per coordinate: its blow-up on a plateau, the loss spike on "
    "leaving it, and the spike when the learning rate changes mid-run",
    rmsprop_step_options,
    sizeof rmsprop_step_options / sizeof rmsprop_step_options[0],
    rmsprop_step_run,
    "Beware of changing the step size during optimization (RMSprop, Tieleman & Hinton 2012): "
    "an adaptive method changes its own step, and a change of the learning rate hits it hard.",
    "On the plateau RMSprop's effective step for x grows by beta^(-1/2) a step up to alpha/eps "
    "(a straight line on log y, then flat), and the loss jumps about 80 times on leaving it; SGD "
    "never crosses, Adam's step grows ten times slower. When the rate is multiplied mid-run, "
    "SGD's loss climbs to a new floor while RMSprop's spikes far above it first.",
    NULL,
};
