/*
 * transforms_soap.c - SOAP (Vyas et al. 2024, "SOAP: Improving and
 * Stabilizing Shampoo using Adam"), as the reference implementation
 * (github.com/nikhilvyas/SOAP, soap.py) computes it, one whole tensor at a
 * time.
 *
 * A tensor of shape (d_0, ..., d_{k-1}) keeps, for each dimension d_i not
 * larger than max_precond_dim, Shampoo's factor GG_i (d_i x d_i, the moving
 * average of the gradient's products over every other dimension) and its
 * eigenbasis Q_i; a 1-D tensor keeps one only with precondition_1d. Adam
 * runs in the rotated coordinates: at step t (counted from 1)
 *
 *   g' = g x_i Q_i^T             (every dimension rotated; a dimension
 *                                 without Q_i is left as it is)
 *   m <- b1 m + (1 - b1) g';  v <- b2 v + (1 - b2) g'^2
 *   n = (m / (sqrt(v) + eps)) x_i Q_i, divided by its RMS (normalize_grads)
 *   theta <- theta - lr sqrt(1 - b2^t) / (1 - b1^t) n   (correct_bias)
 *   theta <- theta - lr weight_decay theta
 *
 * then the preconditioner is updated with this step's gradient:
 * GG_i <- lerp(GG_i, g g^T over the other dimensions, 1 - shampoo_beta);
 * every precondition_frequency steps each Q_i is refreshed by one step of
 * power iteration and a QR factorization (Q_i <- qr(GG_i Q_i)), its columns
 * first sorted by the estimated eigenvalues diag(Q_i^T GG_i Q_i),
 * descending, and v's entries permuted along dimension i to follow them. m
 * is kept in the rotated coordinates: rotated back with the old bases and
 * forward with the new ones after each update. The first step only
 * initializes: GG_i from its gradient and Q_i its eigenvectors (LAPACK's
 * dsyevd, of GG_i + 1e-30 I, in descending order of the eigenvalues), and
 * the parameters do not move.
 *
 * State: m and v in two slots of n; GG_i then Q_i for each preconditioned
 * dimension in the tensor's state (transform.h), 2 sum d_i^2 numbers.
 * The reference casts GG_i and Q_i to float32 for its eigh and QR whatever
 * the parameters' type; descent keeps the buffers' precision and calls
 * LAPACK in double (docs/optimizers.md). merge_dims is not built.
 */
#include "transforms_soap.h"

#include "internal.h"
#include "transform_kernels.h"

#include <string.h>

enum {
  HP_B1,
  HP_B2,
  HP_SHAMPOO_BETA,
  HP_EPS,
  HP_WEIGHT_DECAY,
  HP_FREQUENCY,
  HP_MAX_DIM,
  HP_MERGE_DIMS,
  HP_PRECONDITION_1D,
  HP_NORMALIZE,
  HP_CORRECT_BIAS
};
/* t->scalar: the step's values, set by begin(). */
enum { S_LR, S_STEP, S_STEP_SIZE };

static const spec_param soap_params[] = {
    {"b1", SPEC_NUMBER, 0.95, 0, 1, 0, 1, 0, "decay of the rotated gradient's average m"},
    {"b2", SPEC_NUMBER, 0.95, 0, 1, 0, 1, 0, "decay of the rotated squared gradient's average v"},
    {"shampoo_beta", SPEC_NUMBER, -1, -1, 1, 0, 1, 0,
     "decay of Shampoo's factors GG; negative: b2 (the reference's -1)"},
    {"eps", SPEC_NUMBER, 1e-8, 0, INFINITY, 0, 0, 0, "added to sqrt(v)"},
    {"weight_decay", SPEC_NUMBER, 0.01, 0, INFINITY, 0, 0, 0,
     "decoupled decay after the step: theta <- theta - lr weight_decay theta"},
    {"precondition_frequency", SPEC_INTEGER, 10, 1, 1e9, 0, 0, 0,
     "steps between refreshes of the eigenbases (power iteration and QR)"},
    {"max_precond_dim", SPEC_INTEGER, 10000, 1, DESCENT_LAPACK_MAX_DIM, 0, 0, 0,
     "largest dimension that gets a factor; larger ones are not rotated"},
    {"merge_dims", SPEC_BOOL, 0, 0, 1, 0, 0, 0, "the reference's merge_dims (not built: 0 only)"},
    {"precondition_1d", SPEC_BOOL, 0, 0, 1, 0, 0, 0,
     "1: a 1-D tensor gets a factor too (n x n); 0: plain Adam"},
    {"normalize_grads", SPEC_BOOL, 0, 0, 1, 0, 0, 0,
     "1: the update is divided by its RMS per tensor"},
    {"correct_bias", SPEC_BOOL, 1, 0, 1, 0, 0, 0, "1: Adam's bias correction of the step size"},
    {"lr", SPEC_TEXT, 0, 0, 0, 0, 0, 0, "learning rate: a number or a schedule"},
};

static int soap_validate(const transform *t) {
  if (t->hp[HP_MERGE_DIMS] != 0)
    return descent_fail(DESCENT_EINVAL,
                        "soap: merge_dims=1 is not built: leave merge_dims=0 (each dimension of a "
                        "tensor gets its own factor, as the reference's default does)");
  return DESCENT_OK;
}

/* The reference's state["step"] counts the updates: the first call only
   initializes, so descent's step s (from 0) is its step s. */
static void soap_begin(transform *t, int64_t step) {
  const double lr = transform_rate(t, step);
  double step_size = lr;
  if (step > 0 && t->hp[HP_CORRECT_BIAS] != 0) {
    const double bias_correction1 = 1.0 - pow(t->hp[HP_B1], (double)step);
    const double bias_correction2 = 1.0 - pow(t->hp[HP_B2], (double)step);
    step_size = step_size * pow(bias_correction2, 0.5) / bias_correction1;
  }
  t->scalar[S_LR] = lr;
  t->scalar[S_STEP] = (double)step;
  t->scalar[S_STEP_SIZE] = step_size;
}

/* ---- the tensor's dimensions and state ------------------------------------- */

/* The dimensions SOAP rotates a tensor along ("modes"): the tensor's own,
   and whether each has a factor. */
typedef struct modes {
  int count;
  size_t dims[DESCENT_MAX_DIMS];
  int has[DESCENT_MAX_DIMS];
  size_t largest; /* the largest dimension with a factor; 0: none */
} modes;

static modes tensor_modes(const transform *t, const descent_tensor_info *info) {
  modes m = {0};
  const size_t max_dim = (size_t)t->hp[HP_MAX_DIM];
  m.count = info->shape.ndim;
  for (int i = 0; i < m.count; i++) {
    m.dims[i] = info->shape.dims[i];
    m.has[i] = m.dims[i] <= max_dim && (m.count > 1 || t->hp[HP_PRECONDITION_1D] != 0);
    if (m.has[i] && m.dims[i] > m.largest) m.largest = m.dims[i];
  }
  return m;
}

static size_t soap_tensor_state(const transform *t, const descent_tensor_info *info) {
  modes m = tensor_modes(t, info);
  size_t total = 0;
  for (int i = 0; i < m.count; i++)
    if (m.has[i]) total += 2 * m.dims[i] * m.dims[i];
  return total;
}

/* Work, in double whatever the build: three d x d matrices of the largest
   factor (LAPACK's input, the refresh's products, a basis), its eigenvalues
   and their order (d each), and two buffers of n for the rotations. Every product is
   descent_gemm_f64 (OpenBLAS's dgemm): the float build's descent_gemm takes
   another kernel on some instruction-set paths for large products, and the
   bits must not depend on the path. The size is counted in reals, a
   multiple of 16, so every thread's area stays aligned for doubles. */
static size_t soap_work_size(const transform *t, const descent_tensor_info *info) {
  modes m = tensor_modes(t, info);
  size_t d = m.largest, doubles = 3 * d * d + 2 * d + 2 * info->size;
  size_t size = (doubles * sizeof(double) + sizeof(real) - 1) / sizeof(real);
  return (size + 15) / 16 * 16;
}

typedef struct scratch {
  double *a, *b, *c; /* d x d each */
  double *values;    /* d */
  size_t *order;     /* d */
  double *x, *y;     /* n each */
} scratch;

static scratch carve(real *work, size_t d, size_t n) {
  scratch s;
  s.a = (double *)(void *)work;
  s.b = s.a + d * d;
  s.c = s.b + d * d;
  s.values = s.c + d * d;
  s.order = (size_t *)(void *)(s.values + d);
  s.x = s.values + 2 * d;
  s.y = s.x + n;
  return s;
}

static void to_double(const real *src, double *dst, size_t count) {
  for (size_t k = 0; k < count; k++) dst[k] = (double)src[k];
}

/* A basis as doubles: itself in the double build, else converted into buf. */
static const double *basis_f64(const real *q, size_t d, double *buf) {
#ifdef DESCENT_DOUBLE
  (void)d, (void)buf;
  return q;
#else
  to_double(q, buf, d * d);
  return buf;
#endif
}

/* ---- rotations ------------------------------------------------------------- */

/* The tensor in x rotated along every mode, as the reference's project
   (back = 0: the tensordot of dimension 0 with Q, x_i Q_i^T) or project_back
   (back = 1: with Q^T, x_i Q_i): each pass reads the tensor as d_i x rest,
   writes rest x d_i (its transpose times the basis, or the transpose alone),
   so that after every mode the dimensions are back in their order. The
   passes alternate between x and y; returns the one holding the result. */
static double *rotate(const modes *m, const real *const *bases, double *x, double *y, size_t n,
                      int back, double *basis_buf) {
  double *in = x, *out = y;
  for (int i = 0; i < m->count; i++) {
    size_t d = m->dims[i], rest = n / d;
    if (m->has[i]) {
      const double *q = basis_f64(bases[i], d, basis_buf);
      descent_gemm_f64(1, back, rest, d, d, 1, in, rest, q, d, 0, out, d);
    } else {
      for (size_t r = 0; r < rest; r++)
        for (size_t j = 0; j < d; j++) out[r * d + j] = in[j * rest + r];
    }
    double *done = out;
    out = in;
    in = done;
  }
  return in;
}

/* ---- the factors and their eigenbases -------------------------------------- */

/* GG_i <- lerp(GG_i, the gradient's products over every dimension but i,
   1 - shampoo_beta), as torch's lerp_ computes it. */
static void update_factors(const transform *t, const modes *m, real *const *factors, const real *g,
                           size_t n, scratch *s) {
  const double sb = t->hp[HP_SHAMPOO_BETA] >= 0 ? t->hp[HP_SHAMPOO_BETA] : t->hp[HP_B2];
  const real w = (real)(1 - sb), w1 = (real)1 - w;
  const int small = fabs(1 - sb) < 0.5;
  to_double(g, s->x, n);
  size_t before = 1;
  for (int i = 0; i < m->count; before *= m->dims[i], i++) {
    if (!m->has[i]) continue;
    size_t d = m->dims[i], after = n / before / d, others = before * after;
    /* The tensor as the d x others matrix of dimension i against the rest
       (copied into y unless i is the first), then one product G G^T: a
       product per slice of the dimensions before i would be rank-`after`
       updates of GG, each a pass over its d^2 numbers (for the last
       dimension of a 1024 x 3136 weight, 1024 passes over 79 MB). */
    const double *mat = s->x;
    if (before > 1) {
      for (size_t p = 0; p < before; p++)
        for (size_t j = 0; j < d; j++)
          memcpy(s->y + j * others + p * after, s->x + (p * d + j) * after, after * sizeof *s->y);
      mat = s->y;
    }
    double *prod = s->c;
    descent_gemm_f64(0, 1, d, d, others, 1, mat, others, mat, others, 0, prod, d);
    real *gg = factors[i];
    for (size_t k = 0; k < d * d; k++) gg[k] = LERP(gg[k], (real)prod[k], w, w1, small);
  }
}

static void fill_nan(real *a, size_t count) {
  for (size_t k = 0; k < count; k++) a[k] = (real)NAN;
}

/* The first step: Q_i = eigenvectors of GG_i + 1e-30 I, as columns, in
   descending order of the eigenvalues (dsyevd's ascending order flipped, as
   the reference flips torch.linalg.eigh's). A failure leaves NaN bases,
   which the next step's update carries into the parameters. */
static void init_bases(const modes *m, real *const *factors, real *const *bases, scratch *s) {
  for (int i = 0; i < m->count; i++) {
    if (!m->has[i]) continue;
    size_t d = m->dims[i];
    for (size_t k = 0; k < d * d; k++) s->a[k] = (double)factors[i][k];
    for (size_t k = 0; k < d; k++) s->a[k * d + k] += 1e-30;
    if (descent_symmetric_eigen(d, s->a, s->values) != DESCENT_OK) {
      fill_nan(bases[i], d * d);
      continue;
    }
    /* Row k of a is the eigenvector of the k-th smallest eigenvalue. */
    for (size_t r = 0; r < d; r++)
      for (size_t c = 0; c < d; c++) bases[i][r * d + c] = (real)s->a[(d - 1 - c) * d + r];
  }
}

/* Whether index a goes before index b: the larger key first, ties by index
   (a total order, so the result does not depend on the sort). */
static int goes_before(const double *key, size_t a, size_t b) {
  return key[a] != key[b] ? key[a] > key[b] : a < b;
}

static void sift_down(const double *key, size_t *order, size_t root, size_t count) {
  for (size_t child; (child = 2 * root + 1) < count; root = child) {
    if (child + 1 < count && goes_before(key, order[child], order[child + 1])) child++;
    if (!goes_before(key, order[root], order[child])) return;
    size_t tmp = order[root];
    order[root] = order[child];
    order[child] = tmp;
  }
}

/* order[0, d) <- 0, ..., d-1 sorted by descending key (torch.argsort,
   descending=True), by heapsort: no shared state, as each thread sorts its
   own tensor's. */
static void argsort_descending(const double *key, size_t *order, size_t d) {
  for (size_t j = 0; j < d; j++) order[j] = j;
  for (size_t k = d / 2; k-- > 0;) sift_down(key, order, k, d);
  for (size_t end = d; end-- > 1;) {
    size_t tmp = order[0];
    order[0] = order[end];
    order[end] = tmp;
    sift_down(key, order, 0, end);
  }
}

/* v's entries along mode i put in the given order: v[.., j, ..] <- the old
   v[.., order[j], ..]. */
static void permute_mode(real *v, const modes *m, int i, const size_t *order, real *tmp, size_t n) {
  size_t before = 1;
  for (int k = 0; k < i; k++) before *= m->dims[k];
  size_t d = m->dims[i], after = n / before / d;
  for (size_t p = 0; p < before; p++)
    for (size_t j = 0; j < d; j++)
      memcpy(tmp + (p * d + j) * after, v + (p * d + order[j]) * after, after * sizeof *v);
  memcpy(v, tmp, n * sizeof *v);
}

/* The reference's get_orthogonal_matrix_QR: for each factor, the
   eigenvalues estimated as diag(Q^T GG Q), the columns of Q and v's entries
   along that dimension sorted by them (descending), then Q <- qr(GG Q). */
static void refresh_bases(const modes *m, real *const *factors, real *const *bases, real *v,
                          size_t n, scratch *s) {
  for (int i = 0; i < m->count; i++) {
    if (!m->has[i]) continue;
    size_t d = m->dims[i];
    for (size_t k = 0; k < d * d; k++) s->a[k] = (double)factors[i][k];
    for (size_t k = 0; k < d * d; k++) s->b[k] = (double)bases[i][k];
    descent_gemm_f64(0, 0, d, d, d, 1, s->a, d, s->b, d, 0, s->c, d); /* GG Q */
    for (size_t j = 0; j < d; j++) {
      double sum = 0;
      for (size_t r = 0; r < d; r++) sum += s->b[r * d + j] * s->c[r * d + j];
      s->values[j] = sum;
    }
    argsort_descending(s->values, s->order, d);
    permute_mode(v, m, i, s->order, (real *)(void *)s->x, n);
    /* GG (Q's columns sorted) = (GG Q)'s columns sorted. */
    for (size_t r = 0; r < d; r++)
      for (size_t j = 0; j < d; j++) s->a[r * d + j] = s->c[r * d + s->order[j]];
    if (descent_qr_orthonormal(d, s->a) != DESCENT_OK) {
      fill_nan(bases[i], d * d);
      continue;
    }
    for (size_t k = 0; k < d * d; k++) bases[i][k] = (real)s->a[k];
  }
}

/* ---- the step -------------------------------------------------------------- */

static void soap_apply(const transform *t, real *u, real *theta, real *const *slots, size_t tensor,
                       const descent_tensor_info *info, real *work) {
  const size_t n = info->size;
  if (n == 0) return;
  const modes m = tensor_modes(t, info);
  scratch s = carve(work, m.largest, n);
  real *state = transform_tensor_state(t, tensor);
  real *factors[DESCENT_MAX_DIMS] = {0}, *bases[DESCENT_MAX_DIMS] = {0};
  for (int i = 0; i < m.count; i++) {
    if (!m.has[i]) continue;
    factors[i] = state;
    bases[i] = state + m.dims[i] * m.dims[i];
    state += 2 * m.dims[i] * m.dims[i];
  }
  const real *const *q = (const real *const *)bases;
  real *exp_avg = slots[0], *exp_avg_sq = slots[1];
  const int64_t step = (int64_t)t->scalar[S_STEP];
  if (step == 0) { /* the reference's first step: the preconditioner only */
    update_factors(t, &m, factors, u, n, &s);
    init_bases(&m, factors, bases, &s);
    return;
  }
  const real b1 = (real)t->hp[HP_B1], b2 = (real)t->hp[HP_B2];
  const real a1 = (real)(1.0 - t->hp[HP_B1]), a2 = (real)(1.0 - t->hp[HP_B2]);
  const real eps = (real)t->hp[HP_EPS];
  to_double(u, s.x, n);
  const double *g = rotate(&m, q, s.x, s.y, n, 0, s.a);
  double *ratio = g == s.x ? s.y : s.x;
  for (size_t k = 0; k < n; k++) {
    const real gk = (real)g[k];
    exp_avg[k] = exp_avg[k] * b1 + a1 * gk;
    exp_avg_sq[k] = exp_avg_sq[k] * b2 + a2 * (gk * gk);
    ratio[k] = (double)(exp_avg[k] / (SQRT(exp_avg_sq[k]) + eps));
  }
  double *update = rotate(&m, q, ratio, ratio == s.x ? s.y : s.x, n, 1, s.a);
  real scale = 1;
  if (t->hp[HP_NORMALIZE] != 0) {
    double sum = 0;
    for (size_t k = 0; k < n; k++) sum += (double)(real)update[k] * (double)(real)update[k];
    scale = (real)(1e-30 + pow((double)(real)(sum / (double)n), 0.5));
  }
  const real minus_step = (real)-t->scalar[S_STEP_SIZE];
  /* scale is 1 without normalization, and x / 1 is x: one loop for both. */
  for (size_t k = 0; k < n; k++) theta[k] = theta[k] + minus_step * ((real)update[k] / scale);
  if (t->hp[HP_WEIGHT_DECAY] > 0) {
    const real decay = (real)(-t->scalar[S_LR] * t->hp[HP_WEIGHT_DECAY]);
    for (size_t k = 0; k < n; k++) theta[k] = theta[k] + decay * theta[k];
  }
  /* The preconditioner, with this step's gradient (u, still intact). m
     goes back to the parameters' coordinates and forward into the new
     bases only when they change (a refresh): the reference takes that
     round trip at every step, which changes m by rounding alone (Q Q^T m),
     at the cost of two more rotations of the tensor. */
  update_factors(t, &m, factors, u, n, &s);
  if (step % (int64_t)t->hp[HP_FREQUENCY] != 0) return;
  to_double(exp_avg, s.x, n);
  const double *back = rotate(&m, q, s.x, s.y, n, 1, s.a);
  for (size_t k = 0; k < n; k++) exp_avg[k] = (real)back[k];
  refresh_bases(&m, factors, bases, exp_avg_sq, n, &s);
  to_double(exp_avg, s.x, n);
  const double *forward = rotate(&m, q, s.x, s.y, n, 0, s.a);
  for (size_t k = 0; k < n; k++) exp_avg[k] = (real)forward[k];
}

const transform_def transform_soap = {
    .name = "soap",
    .summary = "SOAP (Vyas et al. 2024, reference soap.py): Adam in the eigenbasis of Shampoo's "
               "per-dimension factors, refreshed every precondition_frequency steps; ends the "
               "chain",
    .formula = "per tensor, GG_i <- lerp(GG_i, g g^T over the dims but i, 1 - shampoo_beta), Q_i "
               "its eigenbasis (eigh at the first step, which does not move theta; then every "
               "precondition_frequency steps Q_i <- qr(GG_i Q_i)); g' = g x_i Q_i^T; m <- b1 m + "
               "(1-b1) g'; v <- b2 v + (1-b2) g'^2; theta <- theta - lr sqrt(1-b2^t)/(1-b1^t) "
               "(m / (sqrt(v) + eps)) x_i Q_i; theta <- theta - lr weight_decay theta",
    .params = soap_params,
    .n_params = N_OF(soap_params),
    .has_schedule = 1,
    .final = 1,
    .slots = 2,
    .whole_tensor = 1,
    .validate = soap_validate,
    .begin = soap_begin,
    .tensor_state = soap_tensor_state,
    .work_size = soap_work_size,
    .apply_whole = soap_apply,
};
