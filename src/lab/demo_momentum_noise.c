/*
 * demo_momentum_noise.c - memory under noise (slide 32: "to limit
 * stochastic noise we want to go fast when all gradients agree and slowly
 * when they disagree"): SGD against SGD with momentum on a noisy quadratic.
 *
 * The problem: f(theta) = 1/2 sum_i h_i theta_i^2 in d dimensions, the
 * curvatures h_i log-spaced from 1 down to 1/kappa, and a stochastic
 * gradient g = H theta + xi with xi ~ N(0, sigma^2 H) (noise proportional
 * to the curvature, as for least squares near its minimum). The start puts
 * f(theta_0) - f* = 1000, shared equally by the coordinates.
 *
 * Three runs of descent's optimizers on the same noise: `sgd` at alpha,
 * `momentum(momentum=mu)` at alpha (PyTorch's v = mu v + g, theta -= alpha
 * v: the lecture's), and `sgd` at the effective step alpha / (1 - mu).
 *
 * Theory, per coordinate (curvature h, noise variance s2 = sigma^2 h): the
 * heavy ball x+ = a x - mu x- - alpha xi, a = 1 + mu - alpha h, is an AR(2)
 * process; its second moments (p = E x_t^2, q = E x_t x_{t-1}) follow
 *   p+ = a^2 p - 2 a mu q + mu^2 p- + alpha^2 s2,  q+ = a p - mu q,
 * exactly, from x_{-1} = x_0 (PyTorch's first velocity is the gradient),
 * which gives the expected loss at every t (mu = 0: SGD), and its
 * stationary variance
 *   V = (1 + mu) alpha^2 s2 / ((1 - mu) ((1 + mu)^2 - a^2)),
 * i.e. with the effective step A = alpha / (1 - mu),
 *   V = A s2 / (h (2 - A h (1 - mu) / (1 + mu))),
 * so the floor E f - f* = 1/2 sum_i h_i V_i = (A sigma^2 / 4) sum_i h_i /
 * (1 - A h_i c / 2), c = 1 for SGD and (1 - mu)/(1 + mu) for momentum: the
 * same to first order in A, alpha sigma^2 tr(H) / (4 (1 - mu)). Momentum
 * leaves the same floor as SGD at the step it effectively takes.
 *
 * The agreement of successive gradients at the floor: E g_t g_{t-1} = h^2 q
 * - alpha h s2 (x_t holds -alpha xi_{t-1}), E g^2 = h^2 V + s2, q = a V /
 * (1 + mu); for SGD the correlation is -alpha h / 2 (slightly negative),
 * for momentum about A h (mu - 1/2): near zero both, against about 1 early.
 * The length of a step, rms |theta+ - theta| / (A rms |g|): 1 for SGD; for
 * momentum 1 while the gradients agree (the velocity adds up to g/(1 - mu))
 * and sqrt(2 sum (V - q) / sum E g^2) / A, about sqrt((1 - mu)/(1 + mu)),
 * at the floor: momentum does slow down when the gradients disagree, but its
 * short steps are correlated, and over many steps they wander as far as
 * SGD's long independent ones at the step A.
 */
#include "lab.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const lab_option momentum_noise_options[] = {
    {"lr", "ALPHA", "0.01", "the plain step alpha (momentum's, and the slow SGD's)"},
    {"mu", "MU", "0.9", "momentum; the fast SGD runs at alpha / (1 - mu)"},
    {"dim", "D", "20", "dimensions of the quadratic"},
    {"kappa", "K", "10", "curvatures log-spaced from 1 down to 1/K"},
    {"sigma", "S", "1", "gradient noise: covariance sigma^2 H"},
    {"level", "R", "0.01", "speed: iterations until the mean loss gap is R times the initial one"},
    {"iters", "N", "20000", "iterations (gradient evaluations) per run"},
    {"seeds", "K", "10", "runs per method, averaged"},
    {"seed", "N", "1", "seed of the first run's noise"},
};

enum { N_METHODS = 3, N_BINS = 110 };
static const double initial_gap = 1000;
static const char *const method_labels[N_METHODS] = {"sgd", "momentum", "sgd at alpha/(1-mu)"};

typedef struct noise_setup {
  int d;
  double kappa, sigma, alpha, mu, level;
  int64_t iters, seeds, seed;
  double *h, *x0; /* curvatures and start */
} noise_setup;

typedef struct noise_theory {
  double floor, cos, step_ratio; /* stationary loss gap, gradient correlation, step length */
  double *curve;                 /* expected loss gap at t = 0 .. iters */
} noise_theory;

/* The exact expected loss curve and the stationary quantities of the heavy
   ball at (step, mu) on the setup's quadratic (mu = 0: SGD). */
static void theory_of(const noise_setup *s, double step, double mu, noise_theory *th) {
  double loss = 0, gg = 0, g2 = 0, dx2 = 0;
  for (int i = 0; i < s->d; i++) {
    double h = s->h[i], s2 = s->sigma * s->sigma * h, a = 1 + mu - step * h;
    double v = (1 + mu) * step * step * s2 / ((1 - mu) * ((1 + mu) * (1 + mu) - a * a));
    double q = a / (1 + mu) * v;
    loss += 0.5 * h * v;
    gg += h * h * q - step * h * s2;
    g2 += h * h * v + s2;
    dx2 += 2 * (v - q);
  }
  th->floor = loss;
  th->cos = gg / g2;
  th->step_ratio = sqrt(dx2 / g2) / (step / (1 - mu));
  for (int64_t t = 0; t <= s->iters; t++) th->curve[t] = 0;
  for (int i = 0; i < s->d; i++) {
    double h = s->h[i], s2 = s->sigma * s->sigma * h, a = 1 + mu - step * h;
    double p = s->x0[i] * s->x0[i], q = p, p_prev = p;
    for (int64_t t = 0; t <= s->iters; t++) {
      th->curve[t] += 0.5 * h * p;
      double p_next = a * a * p - 2 * a * mu * q + mu * mu * p_prev + step * step * s2;
      q = a * p - mu * q;
      p_prev = p;
      p = p_next;
    }
  }
}

/* The first t whose gap is at most target; -1 when none is. */
static int64_t first_below(const double *gap, int64_t n, double target) {
  for (int64_t t = 0; t <= n; t++)
    if (gap[t] <= target) return t;
  return -1;
}

/* Log-spaced bins over the iterations t = 1 .. iters - 1 (those with a
   gradient before them and a step after them): edge[b] .. edge[b+1] - 1. */
static int make_bins(int64_t iters, int64_t *edge) {
  int n = 0;
  edge[n++] = 1;
  for (int b = 1; b <= N_BINS; b++) {
    int64_t e = (int64_t)llround(pow((double)iters, (double)b / N_BINS));
    if (e > edge[n - 1]) edge[n++] = e;
  }
  edge[n - 1] = iters;
  return n - 1;
}

typedef struct noise_measured {
  double *mean_gap;                     /* over seeds, t = 0 .. iters */
  double *bin_gap, *bin_cos, *bin_step; /* [seed][bin] */
  double floor, cos_early, cos_floor;   /* means over seeds */
  double step_early, step_floor;        /* rms step / (A rms g) */
} noise_measured;

typedef struct window_sums {
  double cos, dx2, g2;
  int64_t n;
} window_sums;

/* One run: `seeds` runs of optimizer (spec, step) on the noise streams
   seed + k * 1000003, with the windows: early = [early[0], early[1]],
   floor = (iters/2, iters]. */
static int measure(const noise_setup *s, const char *spec, double step, double effective,
                   const int64_t *early, const int64_t *edge, int n_bins, noise_measured *m) {
  const int d = s->d;
  descent_real *x = malloc((size_t)d * sizeof *x), *g = malloc((size_t)d * sizeof *g);
  double *g_prev = calloc((size_t)d, sizeof *g_prev), *x_prev = malloc((size_t)d * sizeof *x_prev);
  double *noise_sd = malloc((size_t)d * sizeof *noise_sd);
  int rc = x && g && g_prev && x_prev && noise_sd ? DESCENT_OK : DESCENT_ENOMEM;
  if (rc) rc = descent_fail(rc, "momentum-noise: out of memory");
  for (int i = 0; i < d && !rc; i++) noise_sd[i] = s->sigma * sqrt(s->h[i]);
  window_sums first = {0}, late = {0};
  double floor_sum = 0;
  int64_t floor_n = 0;
  for (int64_t k = 0; k < s->seeds && !rc; k++) {
    descent_optimizer *opt = NULL;
    char lr[LAB_NUM];
    rc = descent_optimizer_create(&opt, spec, lab_num(lr, step), (size_t)d);
    if (rc) break;
    descent_rng rng;
    descent_rng_seed(&rng, (uint64_t)s->seed + (uint64_t)k * 1000003u);
    for (int i = 0; i < d; i++) x[i] = (descent_real)s->x0[i];
    double *bg = m->bin_gap + k * n_bins, *bc = m->bin_cos + k * n_bins;
    double *bs = m->bin_step + k * n_bins;
    int b = 0;
    double sum_gap = 0, sum_cos = 0, sum_dx2 = 0, sum_g2 = 0;
    for (int64_t t = 0; t <= s->iters && !rc; t++) {
      double gap = 0;
      for (int i = 0; i < d; i++) gap += 0.5 * s->h[i] * (double)x[i] * (double)x[i];
      m->mean_gap[t] += gap / (double)s->seeds;
      if (t > s->iters / 2) floor_sum += gap, floor_n++;
      if (t == s->iters) break;
      /* the stochastic gradient at x_t, and its agreement with g_{t-1} */
      double dot = 0, gn = 0, pn = 0;
      for (int i = 0; i < d; i++) {
        double gi = s->h[i] * (double)x[i] + noise_sd[i] * descent_rng_normal(&rng);
        g[i] = (descent_real)gi;
        dot += gi * g_prev[i], gn += gi * gi, pn += g_prev[i] * g_prev[i];
        g_prev[i] = gi;
        x_prev[i] = (double)x[i];
      }
      double cosine = t > 0 ? dot / sqrt(gn * pn) : NAN;
      rc = descent_optimizer_step_buffers(opt, x, g, (size_t)d);
      double dx2 = 0;
      for (int i = 0; i < d; i++) dx2 += ((double)x[i] - x_prev[i]) * ((double)x[i] - x_prev[i]);
      window_sums *w = t >= early[0] && t <= early[1] ? &first : t > s->iters / 2 ? &late : NULL;
      if (w) w->cos += cosine, w->dx2 += dx2, w->g2 += gn, w->n++;
      /* the bin of t (t >= 1): the loss after t evaluations, the cosine of
         evaluations t and t + 1, the step taken from the t + 1-th */
      if (t >= 1 && b < n_bins) {
        sum_gap += gap, sum_cos += cosine, sum_dx2 += dx2, sum_g2 += gn;
        if (t + 1 == edge[b + 1]) {
          double n = (double)(edge[b + 1] - edge[b]);
          bg[b] = sum_gap / n, bc[b] = sum_cos / n, bs[b] = sqrt(sum_dx2 / sum_g2) / effective;
          sum_gap = sum_cos = sum_dx2 = sum_g2 = 0;
          b++;
        }
      }
    }
    descent_optimizer_free(opt);
  }
  if (!rc) {
    m->floor = floor_sum / (double)floor_n;
    m->cos_early = first.cos / (double)first.n;
    m->cos_floor = late.cos / (double)late.n;
    m->step_early = sqrt(first.dx2 / first.g2) / effective;
    m->step_floor = sqrt(late.dx2 / late.g2) / effective;
  }
  free(x), free(g), free(g_prev), free(x_prev), free(noise_sd);
  return rc;
}

static void seed_stats(const double *per_seed, int64_t seeds, int n_bins, int b, lab_stats *st) {
  double v[1000];
  for (int64_t k = 0; k < seeds; k++) v[k] = per_seed[k * n_bins + b];
  lab_stats_of(v, (int)seeds, st);
}

static int noise_files(const char *dir, lab_result *res, const noise_setup *s, const int64_t *edge,
                       int n_bins, noise_measured *m, noise_theory *th, const double *steps) {
  FILE *f = lab_file_open(dir, "momentum-noise-curves.csv", res);
  if (!f) return DESCENT_EIO;
  fprintf(f, "method,label,evaluations,gap_mean,gap_min,gap_max,cos_mean,cos_min,cos_max,"
             "step_mean,step_min,step_max,gap_expected\n");
  for (int k = 0; k < N_METHODS; k++) {
    for (int b = 0; b < n_bins; b++) {
      lab_stats gap, cs, st;
      seed_stats(m[k].bin_gap, s->seeds, n_bins, b, &gap);
      seed_stats(m[k].bin_cos, s->seeds, n_bins, b, &cs);
      seed_stats(m[k].bin_step, s->seeds, n_bins, b, &st);
      double expected = 0;
      for (int64_t t = edge[b]; t < edge[b + 1]; t++) expected += th[k].curve[t];
      expected /= (double)(edge[b + 1] - edge[b]);
      /* x: the gradient evaluations spent, at the bin's geometric middle */
      double x = sqrt((double)edge[b] * (double)(edge[b + 1] - 1)) + 1;
      fprintf(f, "%d,%s,%.6g,%.9g,%.9g,%.9g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.9g\n", k,
              method_labels[k], x, gap.mean, gap.min, gap.max, cs.mean, cs.min, cs.max, st.mean,
              st.min, st.max, expected);
    }
    fprintf(f, "\n\n");
  }
  int rc = lab_file_close(f, "momentum-noise-curves.csv");
  if (rc) return rc;
  f = lab_gp_open(dir, "momentum-noise", 1900, 640,
                  "SGD against momentum at the same effective step under gradient noise", res);
  if (!f) return DESCENT_EIO;
  char title[3][96];
  snprintf(title[0], sizeof title[0], "SGD, α = %g", s->alpha);
  snprintf(title[1], sizeof title[1], "momentum μ = %g, α = %g", s->mu, s->alpha);
  snprintf(title[2], sizeof title[2], "SGD, α/(1-μ) = %g", steps[2]);
  fprintf(f,
          "set termoption enhanced\n"
          "set multiplot layout 1,3 title \"Memory under noise (slide 32): momentum goes fast "
          "while the gradients agree, and ends at the noise floor of SGD with its effective step "
          "α/(1-μ)   (%lld seeds: mean, band from min to max)\" font \",13\"\n"
          "set logscale x\nset xrange [1:%lld]\nset xlabel \"gradient evaluations\"\n"
          "set grid xtics ytics lc rgb \"#eeeeee\"\n",
          (long long)s->seeds, (long long)s->iters);
  /* panel 1: the loss gap, with the closed-form expected curve and floors */
  fprintf(f, "set title \"f(θ_{t}) - f*: measured (bands) and expected (dashed)\"\n"
             "set logscale y\nset format y \"10^{%%L}\"\nset ylabel \"f(θ_{t}) - f*\"\n"
             "set key bottom left\n");
  for (int k = 0; k < N_METHODS; k++)
    fprintf(f,
            "%s'momentum-noise-curves.csv' index %d using 3:5:6 with filledcurves fs transparent "
            "solid 0.2 noborder lc rgb \"%s\" notitle, \\\n"
            "     'momentum-noise-curves.csv' index %d using 3:4 with lines lw 2 lc rgb \"%s\" "
            "title \"%s\", \\\n"
            "     'momentum-noise-curves.csv' index %d using 3:13 with lines dt 2 lw 1.5 lc rgb "
            "\"black\" notitle, \\\n"
            "     %.9g with lines dt 3 lw 1 lc rgb \"%s\" notitle",
            k ? ", \\\n     " : "plot ", k, lab_color(k), k, lab_color(k), title[k], k, th[k].floor,
            lab_color(k));
  fprintf(f, "\n");
  /* panel 2: agreement of successive gradients */
  fprintf(f, "set title \"agreement of successive gradients: mean cos(g_{t}, g_{t-1})\"\n"
             "unset logscale y\nset format y \"%%g\"\nset yrange [-0.3:1.05]\n"
             "set ylabel \"cos(g_{t}, g_{t-1})\"\nset key bottom left\n");
  for (int k = 0; k < N_METHODS; k++)
    fprintf(f,
            "%s'momentum-noise-curves.csv' index %d using 3:8:9 with filledcurves fs transparent "
            "solid 0.2 noborder lc rgb \"%s\" notitle, \\\n"
            "     'momentum-noise-curves.csv' index %d using 3:7 with lines lw 2 lc rgb \"%s\" "
            "title \"%s\"",
            k ? ", \\\n     " : "plot ", k, lab_color(k), k, lab_color(k), title[k]);
  fprintf(f, ", \\\n     0 with lines lc rgb \"black\" notitle\n");
  /* panel 3: how far a step goes, relative to the effective step's */
  fprintf(f, "set title \"length of a step: rms |θ_{t+1} - θ_{t}| / (α_{eff} rms |g_{t}|)\"\n"
             "set yrange [0:1.6]\nset ylabel \"step / (α_{eff} |g|)   (SGD: 1 at any step)\"\n"
             "set key top right\n");
  for (int k = 0; k < N_METHODS; k++)
    fprintf(f,
            "%s'momentum-noise-curves.csv' index %d using 3:11:12 with filledcurves fs "
            "transparent solid 0.2 noborder lc rgb \"%s\" notitle, \\\n"
            "     'momentum-noise-curves.csv' index %d using 3:10 with lines lw 2 lc rgb \"%s\" "
            "title \"%s\"",
            k ? ", \\\n     " : "plot ", k, lab_color(k), k, lab_color(k), title[k]);
  fprintf(f, ", \\\n     %.9g with lines dt 2 lc rgb \"black\" title \"sqrt((1-μ)/(1+μ))\"\n",
          sqrt((1 - s->mu) / (1 + s->mu)));
  return lab_gp_close(f, "momentum-noise", res);
}

static int momentum_noise_run(const lab_args *a, const char *dir, lab_result *res) {
  noise_setup s = {0};
  int64_t dim;
  int rc = lab_arg_double(a, "lr", 1e-6, 10, &s.alpha);
  if (!rc) rc = lab_arg_double(a, "mu", 0, 0.999, &s.mu);
  if (!rc) rc = lab_arg_int(a, "dim", 1, 1000, &dim);
  if (!rc) rc = lab_arg_double(a, "kappa", 1, 1e6, &s.kappa);
  if (!rc) rc = lab_arg_double(a, "sigma", 0, 1e3, &s.sigma);
  if (!rc) rc = lab_arg_double(a, "level", 1e-9, 1, &s.level);
  if (!rc) rc = lab_arg_int(a, "iters", 100, 2000000, &s.iters);
  if (!rc) rc = lab_arg_int(a, "seeds", 1, 1000, &s.seeds);
  if (!rc) rc = lab_arg_int(a, "seed", 0, INT64_MAX / 2, &s.seed);
  if (rc) return rc;
  const double effective = s.alpha / (1 - s.mu);
  /* SGD at alpha/(1-mu) is stable on curvature 1 below 2; momentum at alpha
     is then stable too (alpha < 2 (1 + mu)). */
  if (effective >= 2)
    return descent_fail(DESCENT_EINVAL,
                        "--lr, --mu: the effective step lr/(1-mu) = %g must be below 2 (= 2/L, "
                        "where SGD at that step diverges on the largest curvature 1)",
                        effective);
  /* Every seed runs every method: about a minute at most. */
  if ((double)s.iters * (double)(dim + 3) * N_METHODS * (double)s.seeds > 1e9)
    return descent_fail(DESCENT_EINVAL,
                        "--iters: %lld iterations in %lld dimensions for %lld seeds are too "
                        "many (at most 1e9 / (3 seeds (dim + 3)))",
                        (long long)s.iters, (long long)dim, (long long)s.seeds);
  s.d = (int)dim;
  const double steps[N_METHODS] = {s.alpha, s.alpha, effective};
  const double mus[N_METHODS] = {0, s.mu, 0};
  char specs[N_METHODS][64];
  snprintf(specs[0], 64, "sgd");
  snprintf(specs[1], 64, "momentum(momentum=%.17g)", s.mu);
  snprintf(specs[2], 64, "sgd");
  int64_t edge[N_BINS + 2];
  const int n_bins = make_bins(s.iters, edge);
  const size_t per = (size_t)s.seeds * (size_t)n_bins, curve = (size_t)s.iters + 1;
  noise_measured m[N_METHODS];
  noise_theory th[N_METHODS];
  memset(m, 0, sizeof m);
  memset(th, 0, sizeof th);
  s.h = malloc((size_t)s.d * sizeof *s.h);
  s.x0 = malloc((size_t)s.d * sizeof *s.x0);
  int ok = s.h && s.x0;
  for (int k = 0; k < N_METHODS; k++) {
    m[k].mean_gap = calloc(curve, sizeof(double));
    m[k].bin_gap = calloc(per, sizeof(double));
    m[k].bin_cos = calloc(per, sizeof(double));
    m[k].bin_step = calloc(per, sizeof(double));
    th[k].curve = malloc(curve * sizeof(double));
    ok = ok && m[k].mean_gap && m[k].bin_gap && m[k].bin_cos && m[k].bin_step && th[k].curve;
  }
  if (!ok) rc = descent_fail(DESCENT_ENOMEM, "momentum-noise: out of memory");
  for (int i = 0; i < s.d && !rc; i++) {
    s.h[i] = s.d > 1 ? pow(s.kappa, -(double)i / (s.d - 1)) : 1;
    s.x0[i] = sqrt(2 * initial_gap / (s.d * s.h[i])); /* each coordinate 1000/d of the gap */
  }
  int64_t reach_pred[N_METHODS], reach[N_METHODS];
  const double target = s.level * initial_gap;
  for (int k = 0; k < N_METHODS && !rc; k++) {
    theory_of(&s, steps[k], mus[k], &th[k]);
    reach_pred[k] = first_below(th[k].curve, s.iters, target);
    /* early: from a tenth to a third of the way down to the level, the
       gradient still far above the noise, momentum's velocity built up */
    int64_t way = reach_pred[k] > 0 ? reach_pred[k] : s.iters / 10;
    int64_t early[2] = {way / 10 > 1 ? way / 10 : 1, way / 3 > 2 ? way / 3 : 2};
    rc = measure(&s, specs[k], steps[k], steps[k] / (1 - mus[k]), early, edge, n_bins, &m[k]);
    reach[k] = first_below(m[k].mean_gap, s.iters, target);
  }
  lab_table *t = NULL, *u = NULL;
  if (!rc) {
    char title[160];
    snprintf(title, sizeof title,
             "SGD and momentum on a noisy quadratic (d = %d, kappa = %g, noise sigma^2 H), %lld "
             "seeds: measured against the closed form",
             s.d, s.kappa, (long long)s.seeds);
    t = lab_result_table(res, "momentum-noise", title,
                         "run|step|effective step|iters to level|expected iters|floor|"
                         "floor closed form|cos early|cos at floor|cos closed form");
    u = lab_result_table(res, "momentum-noise-steps",
                         "Length of a step, rms |theta+ - theta| / (effective step x rms |g|): "
                         "early, and at the floor against the closed form",
                         "run|early|at floor|at floor closed form");
    if (!t || !u) rc = DESCENT_ERANGE;
  }
  for (int k = 0; k < N_METHODS && !rc; k++) {
    int r = lab_table_row(t, "%s", method_labels[k]);
    lab_table_num(t, r, "step", steps[k]);
    lab_table_num(t, r, "effective step", steps[k] / (1 - mus[k]));
    if (reach[k] >= 0)
      lab_table_num(t, r, "iters to level", (double)reach[k]);
    else
      lab_table_text(t, r, "iters to level", "never (> %lld)", (long long)s.iters);
    if (reach_pred[k] >= 0)
      lab_table_num(t, r, "expected iters", (double)reach_pred[k]);
    else
      lab_table_text(t, r, "expected iters", "never (> %lld)", (long long)s.iters);
    lab_table_num(t, r, "floor", m[k].floor);
    lab_table_num(t, r, "floor closed form", th[k].floor);
    lab_table_num(t, r, "cos early", m[k].cos_early);
    lab_table_num(t, r, "cos at floor", m[k].cos_floor);
    lab_table_num(t, r, "cos closed form", th[k].cos);
    r = lab_table_row(u, "%s", method_labels[k]);
    lab_table_num(u, r, "early", m[k].step_early);
    lab_table_num(u, r, "at floor", m[k].step_floor);
    lab_table_num(u, r, "at floor closed form", th[k].step_ratio);
  }
  if (!rc) {
    double first_order = effective * s.sigma * s.sigma / 4, tr = 0;
    for (int i = 0; i < s.d; i++) tr += s.h[i];
    lab_result_note(res,
                    "Momentum reaches the level %.3g times sooner than SGD at the same alpha "
                    "(1/(1-mu) = %g), as soon as SGD at alpha/(1-mu): it is that SGD.",
                    reach[1] > 0 && reach[0] > 0 ? (double)reach[0] / (double)reach[1] : NAN,
                    1 / (1 - s.mu));
    lab_result_note(res,
                    "Floors: momentum %.4g, SGD at alpha/(1-mu) %.4g, SGD at alpha %.4g; to "
                    "first order alpha sigma^2 tr(H) / (4 (1 - mu)) = %.4g.",
                    m[1].floor, m[2].floor, m[0].floor, first_order * tr);
    lab_result_note(res,
                    "Successive gradients agree early (cos %.2f) and not at the floor (%.3f, "
                    "%.3f, %.3f): there momentum's steps shrink to %.2f of the effective step's.",
                    m[1].cos_early, m[0].cos_floor, m[1].cos_floor, m[2].cos_floor,
                    m[1].step_floor);
  }
  if (!rc && dir) rc = noise_files(dir, res, &s, edge, n_bins, m, th, steps);
  for (int k = 0; k < N_METHODS; k++) {
    free(m[k].mean_gap), free(m[k].bin_gap), free(m[k].bin_cos), free(m[k].bin_step);
    free(th[k].curve);
  }
  free(s.h), free(s.x0);
  return rc;
}

const lab_demo lab_demo_momentum_noise = {
    "momentum-noise",
    "slide 32",
    "SGD against SGD with momentum at the same effective step alpha/(1-mu) on a noisy quadratic: "
    "speed, noise floor against the closed form, agreement of successive gradients",
    momentum_noise_options,
    sizeof momentum_noise_options / sizeof momentum_noise_options[0],
    momentum_noise_run,
    "To limit stochastic noise we want to go fast when all gradients agree and slowly when they "
    "disagree: memory (momentum) does both.",
    "Far from the minimum the gradients agree (cosine near 1) and momentum moves 1/(1-mu) times "
    "faster than SGD at the same alpha, exactly as SGD at alpha/(1-mu). At the floor they "
    "disagree (cosine near 0) and momentum's steps shrink to about sqrt((1-mu)/(1+mu)) of that "
    "SGD's, yet its floor is the same, the closed form alpha sigma^2 tr(H)/(4(1-mu)): memory "
    "buys speed, not a lower floor, at a given effective step.",
    NULL,
};
