/*
 * demo_saddle_index.c - in high dimension the critical points of high loss
 * are saddles, not minima (slides 26-27; Dauphin et al. 2014, figure 1;
 * Baldi & Hornik 1989; Kawaguchi 2016).
 *
 * The deep linear network y = W_L ... W_1 x (hidden layers of h units, no
 * biases) with the squared loss 1/2 E|y_hat - y|^2 is non-convex, yet all its
 * critical points are known in closed form. With the data's second moments
 * Sxx = E[x x^T], Syx = E[y x^T], write M = Syx Sxx^-1 (the least-squares
 * map) and S = M Sxx M^T = U diag(lambda) U^T (distinct eigenvalues
 * lambda_1 > ... > lambda_m). For each set I of at most h principal
 * directions, the product W = U_I U_I^T M (W projects the least-squares fit
 * onto those directions) is a critical point, realized by
 *
 *   W_1 = rows c_r^(-(L-1)/L) u_r^T M,  W_2..W_(L-1) = diag(c_r^(1/L)),
 *   W_L = columns c_r^(1/L) u_r          (c_r = |M^T u_r|; zero beyond |I|),
 *
 * and its loss is 1/2 (sum of the dropped eigenvalues) when y = M x exactly.
 * The gradient vanishes there because U_I^T (I - P_I) = 0 and
 * (I - P_I) S U_I = 0. Only I = the h largest directions is a minimum (the
 * global one); every other point is a saddle (Baldi & Hornik for L = 2). The
 * demo builds every such point in descent's own network (dense layers without
 * bias, MSE), checks its gradient, builds the full Hessian from the network's
 * exact Hessian-vector products (one per parameter), and counts its negative,
 * zero and positive eigenvalues (src/core/eigen.c). The counts do not depend
 * on how W is split between the layers: the loss is invariant under
 * W_k -> C W_k, W_(k+1) -> W_(k+1) C^-1, a change of variables under which
 * the Hessian at a critical point changes by congruence, which keeps its
 * inertia (Sylvester's law). That invariance is also why every point has
 * zero eigenvalues (about h^2 per hidden layer at full rank).
 *
 * At depth 2 the count is known too: one negative eigenvalue per kept
 * direction i and dropped direction j with lambda_j > lambda_i (turning u_i
 * toward u_j lowers the loss), and m - k per hidden unit that the k kept
 * directions leave unused (its weights in and out meet every dropped
 * direction through a bilinear term). So the global minimum alone has index
 * 0. With evenly spaced eigenvalues (the default 5, 4, 3, 2, 1) the loss too
 * counts the kept directions' positions, and the index of every point that
 * uses h or h - 1 units is an affine function of its loss: Dauphin et al.'s
 * line, exactly (with 2 hidden units, every point but the origin, which lies
 * one eigenvalue above it). With uneven eigenvalues the index still rises
 * with the loss, but not point by point.
 *
 * Dauphin et al.'s index is the fraction of negative eigenvalues. With depth
 * 3 or more, points that use fewer than h directions can have a Hessian
 * without negative eigenvalues and still not be minima (at the origin the
 * loss changes only at order L): Kawaguchi's degenerate saddles, which the
 * demo shows with --depth 3.
 */
#include "lab.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const lab_option saddle_index_options[] = {
    {"lambda", "L1,L2,...", "5,4,3,2,1",
     "eigenvalues of S = Syx Sxx^-1 Sxy (distinct, positive; their count is the input and "
     "output size)"},
    {"sxx", "S1,S2,...", "2,1.5,1,0.7,0.5",
     "eigenvalues of the input covariance Sxx (as many as --lambda)"},
    {"hidden", "H", "2", "units of each hidden layer"},
    {"depth", "L", "2", "weight matrices W_1 .. W_L"},
    {"seed", "N", "1", "seed of the random rotations of Sxx, S and the map between them"},
};

#define SI_MAX_DIM 8
/* An eigenvalue is taken for zero below this fraction of the largest one's
   size: the Hessian comes from float products in the float library, whose
   rounding leaves about 1e-6 of it on the exact zeros. */
#define SI_ZERO_REL 1e-4

typedef struct si_setup {
  double lambda[SI_MAX_DIM], sxx[SI_MAX_DIM];
  int m;
  int64_t hidden, depth, seed;
} si_setup;

/* One critical point: the principal directions it keeps, and what the
   network says there. */
typedef struct si_point {
  unsigned kept; /* bit i: direction i (0 = largest eigenvalue) */
  int rank;
  double loss, closed_form, grad_norm, index;
  int negative, zero, positive;
  int theory; /* the negatives' count in closed form (depth 2), -1 unknown */
} si_point;

/* ---- the data --------------------------------------------------------------- */

/* A random orthogonal n x n matrix (row-major): Gram-Schmidt on Gaussian rows. */
static void random_rotation(descent_rng *rng, int n, double *q) {
  for (int i = 0; i < n; i++)
    for (;;) {
      for (int j = 0; j < n; j++) q[i * n + j] = descent_rng_normal(rng);
      for (int k = 0; k < i; k++) {
        double dot = 0;
        for (int j = 0; j < n; j++) dot += q[i * n + j] * q[k * n + j];
        for (int j = 0; j < n; j++) q[i * n + j] -= dot * q[k * n + j];
      }
      double norm = 0;
      for (int j = 0; j < n; j++) norm += q[i * n + j] * q[i * n + j];
      if (norm < 1e-6) continue; /* (almost) dependent: draw again */
      for (int j = 0; j < n; j++) q[i * n + j] /= sqrt(norm);
      break;
    }
}

/* a = Q^T diag(d) Q for an orthogonal Q (its rows are a's eigenvectors). */
static void from_eigen(int n, const double *q, const double *d, double *a) {
  for (int i = 0; i < n; i++)
    for (int j = 0; j < n; j++) {
      double s = 0;
      for (int k = 0; k < n; k++) s += q[k * n + i] * d[k] * q[k * n + j];
      a[i * n + j] = s;
    }
}

/* The problem: m examples x_i = sqrt(m) Sxx^(1/2) e_i (so that the mean of
   x x^T is Sxx exactly), targets y_i = M x_i, with M = U diag(sqrt lambda)
   R Sxx^(-1/2) (so that M Sxx M^T = U diag(lambda) U^T). u[r * m + i] is
   component i of the r-th principal direction u_r; mt_u[r * m + j] is
   (M^T u_r)_j. */
typedef struct si_data {
  int m;
  descent_real *x, *y;
  double u[SI_MAX_DIM * SI_MAX_DIM], mt_u[SI_MAX_DIM * SI_MAX_DIM];
} si_data;

static int si_data_make(const si_setup *s, si_data *d) {
  const int m = s->m;
  double rot_x[SI_MAX_DIM * SI_MAX_DIM], rot_s[SI_MAX_DIM * SI_MAX_DIM],
      rot_r[SI_MAX_DIM * SI_MAX_DIM];
  double root[SI_MAX_DIM], inv_root[SI_MAX_DIM], sqrt_l[SI_MAX_DIM];
  double sxx_half[SI_MAX_DIM * SI_MAX_DIM], sxx_inv_half[SI_MAX_DIM * SI_MAX_DIM];
  double map[SI_MAX_DIM * SI_MAX_DIM];
  descent_rng rng;
  descent_rng_seed(&rng, (uint64_t)s->seed);
  random_rotation(&rng, m, rot_x);
  random_rotation(&rng, m, rot_s);
  random_rotation(&rng, m, rot_r);
  for (int i = 0; i < m; i++) {
    root[i] = sqrt(s->sxx[i]);
    inv_root[i] = 1 / root[i];
    sqrt_l[i] = sqrt(s->lambda[i]);
  }
  from_eigen(m, rot_x, root, sxx_half);
  from_eigen(m, rot_x, inv_root, sxx_inv_half);
  /* M = U diag(sqrt lambda) R Sxx^(-1/2), U's columns the rows of rot_s. */
  for (int i = 0; i < m; i++)
    for (int j = 0; j < m; j++) {
      double v = 0;
      for (int r = 0; r < m; r++)
        for (int k = 0; k < m; k++)
          v += rot_s[r * m + i] * sqrt_l[r] * rot_r[r * m + k] * sxx_inv_half[k * m + j];
      map[i * m + j] = v;
    }
  memset(d, 0, sizeof *d);
  d->m = m;
  d->x = malloc((size_t)(m * m) * sizeof *d->x);
  d->y = malloc((size_t)(m * m) * sizeof *d->y);
  if (!d->x || !d->y) {
    free(d->x), free(d->y);
    return descent_fail(DESCENT_ENOMEM, "saddle-index: out of memory");
  }
  for (int i = 0; i < m; i++) { /* example i */
    double xi[SI_MAX_DIM];
    for (int j = 0; j < m; j++) xi[j] = sqrt((double)m) * sxx_half[j * m + i];
    for (int j = 0; j < m; j++) {
      double yj = 0;
      for (int k = 0; k < m; k++) yj += map[j * m + k] * xi[k];
      d->x[i * m + j] = (descent_real)xi[j];
      d->y[i * m + j] = (descent_real)yj;
    }
  }
  for (int r = 0; r < m; r++)
    for (int j = 0; j < m; j++) {
      d->u[r * m + j] = rot_s[r * m + j];
      double v = 0;
      for (int i = 0; i < m; i++) v += map[i * m + j] * rot_s[r * m + i];
      d->mt_u[r * m + j] = v;
    }
  return DESCENT_OK;
}

static void si_data_free(si_data *d) {
  free(d->x);
  free(d->y);
}

/* ---- one critical point ------------------------------------------------------ */

/* Writes the closed-form critical point that keeps the directions of `kept`
   into the network's weights (tensor k: W_(k+1), {out, in}). */
static void si_place(const si_setup *s, const si_data *d, descent_objective *obj, unsigned kept) {
  const int m = s->m, h = (int)s->hidden, L = (int)s->depth;
  memset(obj->params, 0, obj->n_params * sizeof *obj->params);
  for (int i = 0, r = 0; i < m; i++) {
    if (!(kept & (1u << i))) continue;
    double c = 0;
    for (int j = 0; j < m; j++) c += d->mt_u[i * m + j] * d->mt_u[i * m + j];
    c = sqrt(c);
    /* Each layer carries c^(1/L) of the direction's size: balanced. */
    double share = pow(c, 1.0 / L);
    descent_real *w1 = obj->params + obj->tensors[0].offset;
    for (int j = 0; j < m; j++) w1[r * m + j] = (descent_real)(d->mt_u[i * m + j] * share / c);
    for (int k = 1; k < L - 1; k++)
      obj->params[obj->tensors[k].offset + (size_t)(r * h + r)] = (descent_real)share;
    descent_real *wl = obj->params + obj->tensors[L - 1].offset;
    for (int j = 0; j < m; j++) wl[j * h + r] = (descent_real)(d->u[i * m + j] * share);
    r++;
  }
}

/* The number of negative Hessian eigenvalues at depth 2, in closed form:
   one per pair of a kept direction i and a dropped one j with lambda_j >
   lambda_i (turning u_i toward u_j lowers the loss by (lambda_j - lambda_i)
   times the turn squared), and m - k per hidden unit left unused by the k
   kept directions (its input weights a and output weights b change the loss
   by -b^T (I - P_I) M Sxx a, a bilinear form with one negative direction per
   dropped direction). -1 for deeper networks. */
static int si_theory(const si_setup *s, unsigned kept) {
  if (s->depth != 2) return -1;
  int k = 0, pairs = 0;
  for (int i = 0; i < s->m; i++)
    if (kept & (1u << i)) {
      k++;
      for (int j = 0; j < i; j++) pairs += !(kept & (1u << j));
    }
  return pairs + ((int)s->hidden - k) * (s->m - k);
}

/* Loss, gradient norm and the Hessian's inertia at the point that keeps `kept`. */
static int si_measure(const si_setup *s, const si_data *d, descent_objective *obj, unsigned kept,
                      double *hess, descent_real *v, descent_real *hv, double *eig, si_point *p) {
  const size_t n = obj->n_params;
  descent_batch batch = {.n = (size_t)s->m, .x = d->x, .targets = d->y};
  memset(p, 0, sizeof *p);
  p->kept = kept;
  si_place(s, d, obj, kept);
  int rc = descent_objective_value_and_grad(obj, &batch, &p->loss);
  if (rc) return rc;
  double g2 = 0;
  for (size_t i = 0; i < n; i++) g2 += (double)obj->grad[i] * (double)obj->grad[i];
  p->grad_norm = sqrt(g2);
  p->closed_form = 0;
  for (int i = 0; i < s->m; i++)
    if (kept & (1u << i))
      p->rank++;
    else
      p->closed_form += s->lambda[i] / 2;
  /* The Hessian, column by column: H e_j from the network's exact
     Hessian-vector product. */
  memset(v, 0, n * sizeof *v);
  for (size_t j = 0; j < n && !rc; j++) {
    v[j] = 1;
    rc = descent_objective_hvp(obj, &batch, v, hv);
    v[j] = 0;
    for (size_t i = 0; i < n; i++) hess[i * n + j] = (double)hv[i];
  }
  if (rc) return rc;
  for (size_t i = 0; i < n; i++) /* symmetric up to rounding */
    for (size_t j = 0; j < i; j++)
      hess[i * n + j] = hess[j * n + i] = (hess[i * n + j] + hess[j * n + i]) / 2;
  rc = descent_symmetric_eigen(n, hess, eig);
  if (rc) return rc;
  double top = fmax(fabs(eig[0]), fabs(eig[n - 1])), zero = SI_ZERO_REL * top;
  for (size_t i = 0; i < n; i++) {
    if (eig[i] < -zero)
      p->negative++;
    else if (eig[i] > zero)
      p->positive++;
    else
      p->zero++;
  }
  p->theory = si_theory(s, kept);
  p->index = (double)p->negative / (double)n;
  return DESCENT_OK;
}

/* ---- tables and picture -------------------------------------------------------- */

static void kept_text(unsigned kept, int m, char *buf, size_t cap) {
  size_t used = (size_t)snprintf(buf, cap, "{");
  int first = 1;
  for (int i = 0; i < m && used < cap; i++)
    if (kept & (1u << i)) {
      used += (size_t)snprintf(buf + used, cap - used, "%s%d", first ? "" : ",", i + 1);
      first = 0;
    }
  if (used < cap) snprintf(buf + used, cap - used, "}");
}

/* By loss (the closed form's, exact: the network's carries float rounding
   that would order equal losses at random), then by index. */
static int by_loss(const void *a, const void *b) {
  const si_point *p = a, *q = b;
  if (p->closed_form != q->closed_form) return p->closed_form < q->closed_form ? -1 : 1;
  if (p->negative != q->negative) return p->negative < q->negative ? -1 : 1;
  return p->kept < q->kept ? -1 : p->kept > q->kept;
}

/* The points' CSV; the label column names every point at the same place
   (same closed-form loss and count) on the first of them, nothing on the
   others, so that coinciding points get one label. */
static int si_points_csv(const char *dir, lab_result *res, const si_setup *s, const si_point *pt,
                         int n) {
  FILE *f = lab_file_open(dir, "saddle-index-points.csv", res);
  if (!f) return DESCENT_EIO;
  fprintf(f, "kept,rank,full_rank,loss,index,negative,zero,positive,label\n");
  for (int i = 0; i < n; i++) {
    char kept[LAB_TEXT], label[256] = "";
    kept_text(pt[i].kept, s->m, kept, sizeof kept);
    int first = 1;
    for (int j = 0; j < i; j++)
      first &= !(pt[j].closed_form == pt[i].closed_form && pt[j].negative == pt[i].negative);
    for (int j = i, used = 0; first && j < n; j++)
      if (pt[j].closed_form == pt[i].closed_form && pt[j].negative == pt[i].negative) {
        char other[LAB_TEXT];
        kept_text(pt[j].kept, s->m, other, sizeof other);
        used += snprintf(label + used, sizeof label - (size_t)used, "%s%s", used ? " " : "", other);
        if ((size_t)used >= sizeof label) break;
      }
    fprintf(f, "\"%s\",%d,%d,%.17g,%.17g,%d,%d,%d,\"%s\"\n", kept, pt[i].rank,
            pt[i].rank == (int)s->hidden, pt[i].loss, pt[i].index, pt[i].negative, pt[i].zero,
            pt[i].positive, label);
  }
  return lab_file_close(f, "saddle-index-points.csv");
}

static int si_files(const char *dir, lab_result *res, const si_setup *s, const si_point *pt, int n,
                    double slope, double intercept) {
  int rc = si_points_csv(dir, res, s, pt, n);
  if (rc) return rc;
  FILE *f =
      lab_gp_open(dir, "saddle-index", 1000, 700, "index against loss at the critical points", res);
  if (!f) return DESCENT_EIO;
  fprintf(f,
          "set title \"Critical points of a linear network (depth %lld, %lld hidden units, %d "
          "inputs and outputs):\\nthe higher the loss, the more directions lead down "
          "(slides 26-27; Dauphin et al. 2014, fig. 1)\" font \",12\"\n"
          "set xlabel \"loss at the critical point (1/2 the sum of the dropped eigenvalues)\"\n"
          "set ylabel \"index: fraction of negative Hessian eigenvalues\"\n"
          "set grid\nset key bottom right\nset offsets graph 0.12, graph 0.04, graph 0.06, 0\n"
          "set yrange [-0.03:*]\n",
          (long long)s->depth, (long long)s->hidden, s->m);
  fprintf(f,
          "plot %.17g + %.17g * x with lines dt 2 lw 2 lc rgb \"#888888\" "
          "title \"least-squares line\", \\\n"
          "     'saddle-index-points.csv' using ($3 == 1 ? $4 : NaN):5 with points pt 7 ps 1.8 "
          "lc rgb \"%s\" title \"uses all %lld hidden units\", \\\n"
          "     '' using ($3 == 0 ? $4 : NaN):5 with points pt 6 ps 2.2 lw 2 lc rgb \"%s\" "
          "title \"uses fewer (rank-deficient)\", \\\n"
          "     '' every ::1::1 using 4:5 with points pt 3 ps 3.5 lw 2 lc rgb \"black\" "
          "title \"lowest loss: global minimum\", \\\n"
          "     '' using 4:5:9 with labels right offset -1.2,0.6 font \",9\" notitle\n",
          intercept, slope, lab_color(0), (long long)s->hidden, lab_color(1));
  return lab_gp_close(f, "saddle-index", res);
}

/* Kendall's tau-b between loss and index over the points: +1 when the
   index never decreases with the loss and the order is strict. */
static double kendall_tau(const si_point *p, int n) {
  double conc = 0, disc = 0, tie_x = 0, tie_y = 0;
  for (int i = 0; i < n; i++)
    for (int j = i + 1; j < n; j++) {
      double dx = p[j].loss - p[i].loss, dy = p[j].index - p[i].index;
      if (dx == 0 && dy == 0) continue;
      if (dx == 0)
        tie_x++;
      else if (dy == 0)
        tie_y++;
      else if ((dx > 0) == (dy > 0))
        conc++;
      else
        disc++;
    }
  double den = sqrt((conc + disc + tie_x) * (conc + disc + tie_y));
  return den > 0 ? (conc - disc) / den : NAN;
}

static int si_read(const lab_args *a, si_setup *s) {
  int n_sxx;
  memset(s, 0, sizeof *s);
  int rc = lab_arg_list(a, "lambda", 1e-3, 1e3, 2, SI_MAX_DIM, s->lambda, &s->m);
  if (!rc) rc = lab_arg_list(a, "sxx", 1e-2, 1e2, 1, SI_MAX_DIM, s->sxx, &n_sxx);
  if (!rc) rc = lab_arg_int(a, "hidden", 1, SI_MAX_DIM, &s->hidden);
  if (!rc) rc = lab_arg_int(a, "depth", 2, 4, &s->depth);
  if (!rc) rc = lab_arg_int(a, "seed", 0, INT64_MAX, &s->seed);
  if (rc) return rc;
  if (n_sxx != s->m)
    return descent_fail(DESCENT_EINVAL, "--sxx: give %d eigenvalues, as many as --lambda (not %d)",
                        s->m, n_sxx);
  if (s->hidden > s->m)
    return descent_fail(DESCENT_EINVAL,
                        "--hidden: %lld units is more than the %d directions of --lambda",
                        (long long)s->hidden, s->m);
  for (int i = 1; i < s->m; i++)
    if (!(s->lambda[i] < s->lambda[i - 1]))
      return descent_fail(DESCENT_EINVAL,
                          "--lambda: the eigenvalues must decrease strictly (%g after %g)",
                          s->lambda[i], s->lambda[i - 1]);
  return DESCENT_OK;
}

/* Whether the eigenvalues are evenly spaced: then, at depth 2, the index of
   every point using h or h - 1 directions is an affine function of its loss
   (both count the kept directions' positions). */
static int si_evenly_spaced(const si_setup *s) {
  double step = s->lambda[0] - s->lambda[1];
  for (int i = 2; i < s->m; i++)
    if (fabs(s->lambda[i - 1] - s->lambda[i] - step) > 1e-9 * step) return 0;
  return 1;
}

static int si_tables(lab_result *res, const si_setup *s, const si_point *pt, int n, size_t params,
                     double *slope, double *intercept) {
  lab_table *t = lab_result_table(res, "saddle-index",
                                  "Critical points of the linear network, by loss: gradient and "
                                  "Hessian in descent's network",
                                  "kept directions|rank|loss|closed form|grad norm|index|negative|"
                                  "zero|positive|theory");
  if (!t) return DESCENT_ERANGE;
  for (int i = 0; i < n; i++) {
    char kept[LAB_TEXT];
    kept_text(pt[i].kept, s->m, kept, sizeof kept);
    int r = lab_table_row(t, "%s", kept);
    lab_table_num(t, r, "rank", pt[i].rank);
    lab_table_num(t, r, "loss", pt[i].loss);
    lab_table_num(t, r, "closed form", pt[i].closed_form);
    lab_table_num(t, r, "grad norm", pt[i].grad_norm);
    lab_table_num(t, r, "index", pt[i].index);
    lab_table_num(t, r, "negative", pt[i].negative);
    lab_table_num(t, r, "zero", pt[i].zero);
    lab_table_num(t, r, "positive", pt[i].positive);
    if (pt[i].theory >= 0)
      lab_table_num(t, r, "theory", pt[i].theory);
    else
      lab_table_text(t, r, "theory", "-");
  }
  /* The summary: what the slide claims, counted. */
  int index_zero = 0, drops = 0, off_theory = 0;
  double worst_grad = 0, worst_gap = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (int i = 0; i < n; i++) {
    index_zero += pt[i].negative == 0;
    off_theory += pt[i].theory >= 0 && pt[i].theory != pt[i].negative;
    if (i && pt[i].index < pt[i - 1].index) drops++;
    worst_grad = fmax(worst_grad, pt[i].grad_norm);
    worst_gap = fmax(worst_gap, fabs(pt[i].loss - pt[i].closed_form));
    sx += pt[i].loss, sy += pt[i].index;
    sxx += pt[i].loss * pt[i].loss, sxy += pt[i].loss * pt[i].index;
  }
  double den = n * sxx - sx * sx;
  *slope = den > 0 ? (n * sxy - sx * sy) / den : 0;
  *intercept = (sy - *slope * sx) / n;
  lab_table *u = lab_result_table(res, "saddle-index-summary", "What the critical points show",
                                  "quantity|value");
  if (!u) return DESCENT_ERANGE;
  int r = lab_table_row(u, "parameters");
  lab_table_num(u, r, "value", (double)params);
  r = lab_table_row(u, "critical points");
  lab_table_num(u, r, "value", n);
  r = lab_table_row(u, "points with index 0");
  lab_table_num(u, r, "value", index_zero);
  r = lab_table_row(u, "index of the lowest-loss point");
  lab_table_num(u, r, "value", pt[0].index);
  r = lab_table_row(u, "largest gradient norm");
  lab_table_num(u, r, "value", worst_grad);
  r = lab_table_row(u, "largest |loss - closed form|");
  lab_table_num(u, r, "value", worst_gap);
  r = lab_table_row(u, "negatives off the closed form");
  if (s->depth == 2)
    lab_table_num(u, r, "value", off_theory);
  else
    lab_table_text(u, r, "value", "- (depth 2 only)");
  r = lab_table_row(u, "index drops along the loss order");
  lab_table_num(u, r, "value", drops);
  r = lab_table_row(u, "Kendall tau (loss, index)");
  lab_table_num(u, r, "value", kendall_tau(pt, n));
  r = lab_table_row(u, "slope of index against loss");
  lab_table_num(u, r, "value", *slope);
  lab_result_note(res,
                  "%d critical points of a depth-%lld linear network with %zu parameters; only "
                  "%d of them %s index 0, the lowest (global minimum, loss %.4g)",
                  n, (long long)s->depth, params, index_zero, index_zero == 1 ? "has" : "have",
                  pt[0].loss);
  lab_result_note(res,
                  "index never falls as the loss rises: %s (%d drop%s along the loss order; "
                  "Kendall tau %.3f)%s",
                  drops ? "no" : "yes", drops, drops == 1 ? "" : "s", kendall_tau(pt, n),
                  s->depth == 2 && si_evenly_spaced(s)
                      ? "; the eigenvalues are evenly spaced: the points that use all hidden "
                        "units or all but one lie on one line"
                      : "");
  if (s->depth == 2)
    lab_result_note(res,
                    "negatives in closed form (theory): one per kept direction i and dropped j "
                    "with lambda_j > lambda_i, plus one per unused hidden unit and dropped "
                    "direction; %d point%s off it",
                    off_theory, off_theory == 1 ? "" : "s");
  lab_result_note(res,
                  "zero eigenvalues: the symmetry W_k -> C W_k, W_(k+1) -> W_(k+1) C^-1 leaves the "
                  "loss unchanged (eigenvalues below %g of the largest count as zero)",
                  SI_ZERO_REL);
  if (s->depth > 2 && index_zero > 1)
    lab_result_note(res,
                    "depth %lld: some points below full rank have no negative eigenvalue "
                    "yet are not minima (Kawaguchi 2016's degenerate saddles: the loss "
                    "changes there only at order 3 or more)",
                    (long long)s->depth);
  return DESCENT_OK;
}

static int saddle_index_run(const lab_args *a, const char *dir, lab_result *res) {
  si_setup s;
  int rc = si_read(a, &s);
  if (rc) return rc;
  si_data d;
  rc = si_data_make(&s, &d);
  if (rc) return rc;
  char spec[256];
  size_t used = 0;
  for (int64_t k = 0; k < s.depth - 1; k++)
    used += (size_t)snprintf(spec + used, sizeof spec - used, "dense(%lld, bias=0), ",
                             (long long)s.hidden);
  snprintf(spec + used, sizeof spec - used, "dense(%d, bias=0)", s.m);
  descent_shape shape = {1, {(size_t)s.m}};
  descent_net *net = NULL;
  rc = descent_net_create(&net, spec, &shape, DESCENT_LOSS_MSE, (size_t)s.m, 1);
  descent_objective *obj = net ? descent_net_objective(net) : NULL;
  const size_t n = obj ? obj->n_params : 0;
  /* Every set of at most `hidden` directions. */
  int n_points = 0;
  si_point *pt = calloc((size_t)1 << s.m, sizeof *pt);
  double *hess = malloc(n * n * sizeof *hess + 1), *eig = malloc(n * sizeof *eig + 1);
  descent_real *v = malloc(n * sizeof *v + 1), *hv = malloc(n * sizeof *hv + 1);
  if (!rc && (!pt || !hess || !eig || !v || !hv))
    rc = descent_fail(DESCENT_ENOMEM, "saddle-index: out of memory");
  for (unsigned kept = 0; !rc && kept < (1u << s.m); kept++) {
    int bits = 0;
    for (int i = 0; i < s.m; i++) bits += (kept >> i) & 1;
    if (bits <= s.hidden) rc = si_measure(&s, &d, obj, kept, hess, v, hv, eig, &pt[n_points++]);
  }
  double slope = 0, intercept = 0;
  if (!rc) {
    qsort(pt, (size_t)n_points, sizeof *pt, by_loss);
    rc = si_tables(res, &s, pt, n_points, n, &slope, &intercept);
  }
  if (!rc && dir) rc = si_files(dir, res, &s, pt, n_points, slope, intercept);
  free(pt), free(hess), free(eig), free(v), free(hv);
  descent_net_free(net);
  si_data_free(&d);
  return rc;
}

const lab_demo lab_demo_saddle_index = {
    "saddle-index",
    "slides 26-27",
    "the critical points of a linear network in closed form: index (fraction of negative Hessian "
    "eigenvalues) against loss, as Dauphin et al. 2014",
    saddle_index_options,
    sizeof saddle_index_options / sizeof saddle_index_options[0],
    saddle_index_run,
    "In high dimension the critical points of high loss are saddles, not minima: the index "
    "rises with the loss, and only the global minimum has none (Dauphin et al. 2014).",
    "In the table, every point's gradient norm is ~0 and its loss equals the closed form; the "
    "index is 0 only at the lowest loss and grows with it. In the picture the points climb from "
    "the global minimum at (lowest loss, 0) along the dashed line.",
    NULL,
};
