/*
 * lanczos.c - the extreme eigenvalues of a symmetric operator known only
 * through its products A v (a Hessian, a Gauss-Newton matrix): Lanczos's
 * iteration with full reorthogonalization (Golub & Van Loan, "Matrix
 * Computations", 4th ed., 10.1 and 10.3.1).
 *
 * After j products the basis Q_j = [q_0 .. q_{j-1}] of the Krylov space
 * span{q_0, A q_0, ..., A^{j-1} q_0} satisfies A Q_j = Q_j T_j + beta_j
 * q_j e_j^T with T_j tridiagonal (alpha on the diagonal, beta beside it).
 * T_j's eigenvalues theta (the Ritz values) approach A's extreme ones from
 * inside, and with T_j s = theta s the Ritz vector u = Q_j s has the
 * residual |A u - theta u| = beta_j |s_{j-1}| (10.1.4): the error bound,
 * known without another product. In floating point the three-term
 * recurrence loses orthogonality as soon as a Ritz value converges (ghost
 * copies of it appear); every new vector is therefore orthogonalized
 * against the whole stored basis, twice ("twice is enough", Giraud et al.
 * 2005), by classical Gram-Schmidt with the coefficients in double. The
 * basis is kept in double: in a float build the products are the only
 * values rounded to float.
 */
#include "internal.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The iteration's buffers, one allocation each. */
typedef struct lanczos {
  size_t n;
  int cap;           /* the most basis vectors: min(iterations, n) + 1 */
  double *basis;     /* cap vectors of n values */
  double *alpha;     /* T's diagonal */
  double *beta;      /* T's off-diagonal: beta[j] couples q_j and q_{j+1} */
  double *ritz;      /* T_j's eigenvalues, ascending */
  double *vectors;   /* T_j's eigenvectors, row k for ritz[k] */
  double *off;       /* dstev's copy of the off-diagonal */
  double *coef;      /* Gram-Schmidt's coefficients */
  descent_real *in;  /* q_j rounded for apply */
  descent_real *out; /* A q_j */
} lanczos;

static void lanczos_free(lanczos *l) {
  free(l->basis);
  free(l->alpha);
  free(l->beta);
  free(l->ritz);
  free(l->vectors);
  free(l->off);
  free(l->coef);
  free(l->in);
  free(l->out);
}

static int lanczos_alloc(lanczos *l, size_t n, int iterations) {
  memset(l, 0, sizeof *l);
  l->n = n;
  size_t steps = (size_t)iterations < n ? (size_t)iterations : n;
  l->cap = (int)steps + 1;
  if (n > SIZE_MAX / sizeof(double) / (size_t)l->cap)
    return descent_fail(DESCENT_ERANGE, "Lanczos: %d vectors of %zu values do not fit in memory",
                        l->cap, n);
  l->basis = descent_calloc((size_t)l->cap * n, sizeof *l->basis, "Lanczos basis");
  l->alpha = descent_calloc(steps, sizeof *l->alpha, "Lanczos matrix");
  l->beta = descent_calloc(steps, sizeof *l->beta, "Lanczos matrix");
  l->ritz = descent_calloc(steps, sizeof *l->ritz, "Lanczos matrix");
  l->vectors = descent_calloc(steps * steps, sizeof *l->vectors, "Lanczos matrix");
  l->off = descent_calloc(steps, sizeof *l->off, "Lanczos matrix");
  l->coef = descent_calloc((size_t)l->cap, sizeof *l->coef, "Lanczos matrix");
  l->in = descent_calloc(n, sizeof *l->in, "Lanczos vector");
  l->out = descent_calloc(n, sizeof *l->out, "Lanczos vector");
  if (!l->basis || !l->alpha || !l->beta || !l->ritz || !l->vectors || !l->off || !l->coef ||
      !l->in || !l->out) {
    lanczos_free(l);
    return DESCENT_ENOMEM;
  }
  return DESCENT_OK;
}

static double dot(const double *a, const double *b, size_t n) {
  double s = 0;
  for (size_t i = 0; i < n; i++) s += a[i] * b[i];
  return s;
}

/* The first basis vector: start (or a normal draw from seed), normalized.
   A start that is zero or not finite is refused. */
static int lanczos_start(lanczos *l, const descent_real *start, uint64_t seed) {
  double *q = l->basis;
  if (start) {
    for (size_t i = 0; i < l->n; i++) q[i] = (double)start[i];
  } else {
    descent_rng rng;
    descent_rng_seed(&rng, seed);
    for (size_t i = 0; i < l->n; i++) q[i] = descent_rng_normal(&rng);
  }
  double norm = sqrt(dot(q, q, l->n));
  if (!(norm > 0) || !isfinite(norm))
    return descent_fail(DESCENT_EINVAL,
                        "Lanczos: the start vector's norm is %g; pass a vector that is finite and "
                        "not zero, or NULL for a random one",
                        norm);
  for (size_t i = 0; i < l->n; i++) q[i] /= norm;
  return DESCENT_OK;
}

/* w <- w - sum_i (q_i . w) q_i over the first k basis vectors, classical
   Gram-Schmidt (all coefficients from the same w), twice. The coefficient
   on the last vector, q_{k-1}, is returned: a correction to its alpha. */
static double reorthogonalize(const lanczos *l, int k, double *w) {
  double last = 0, *coef = l->coef;
  for (int pass = 0; pass < 2; pass++) {
    for (int i = 0; i < k; i++) coef[i] = dot(l->basis + (size_t)i * l->n, w, l->n);
    for (int i = 0; i < k; i++) {
      const double *q = l->basis + (size_t)i * l->n;
      for (size_t e = 0; e < l->n; e++) w[e] -= coef[i] * q[e];
    }
    last += coef[k - 1];
  }
  return last;
}

/* One step: q_{j+1} beta_j = A q_j - alpha_j q_j - beta_{j-1} q_{j-1},
   reorthogonalized. The unnormalized vector is left in slot j + 1. */
static int lanczos_step(lanczos *l, int j, descent_operator_fn apply, void *user) {
  const size_t n = l->n;
  const double *q = l->basis + (size_t)j * n;
  double *w = l->basis + (size_t)(j + 1) * n;
  for (size_t i = 0; i < n; i++) l->in[i] = (descent_real)q[i];
  int rc = apply(user, l->in, l->out);
  if (rc != DESCENT_OK) return rc;
  for (size_t i = 0; i < n; i++) w[i] = (double)l->out[i];
  if (!isfinite(dot(w, w, n)))
    return descent_fail(DESCENT_EDIVERGED,
                        "Lanczos: the operator's product at step %d is not finite; are the "
                        "parameters and the loss finite?",
                        j + 1);
  if (j > 0) {
    const double *prev = l->basis + (size_t)(j - 1) * n;
    for (size_t i = 0; i < n; i++) w[i] -= l->beta[j - 1] * prev[i];
  }
  double a = dot(q, w, n);
  for (size_t i = 0; i < n; i++) w[i] -= a * q[i];
  l->alpha[j] = a + reorthogonalize(l, j + 1, w);
  l->beta[j] = sqrt(dot(w, w, n));
  return DESCENT_OK;
}

/* Eigenvalues and eigenvectors of T_k (k x k), into ritz and vectors. */
static int lanczos_ritz(lanczos *l, int k) {
  memcpy(l->ritz, l->alpha, (size_t)k * sizeof *l->ritz);
  if (k > 1) memcpy(l->off, l->beta, (size_t)(k - 1) * sizeof *l->off);
  return descent_tridiagonal_eigen((size_t)k, l->ritz, l->off, l->vectors);
}

/* The unit Ritz vector Q_k s of T_k's eigenvector s (row `which`), into v. */
static void ritz_vector(const lanczos *l, int k, int which, descent_real *v) {
  const size_t n = l->n;
  const double *s = l->vectors + (size_t)which * (size_t)k;
  double norm = 0;
  for (size_t e = 0; e < n; e++) {
    double x = 0;
    for (int i = 0; i < k; i++) x += s[i] * l->basis[(size_t)i * n + e];
    norm += x * x;
  }
  double scale = norm > 0 ? 1 / sqrt(norm) : 0;
  for (size_t e = 0; e < n; e++) {
    double x = 0;
    for (int i = 0; i < k; i++) x += s[i] * l->basis[(size_t)i * n + e];
    v[e] = (descent_real)(x * scale);
  }
}

/* beta_k below this is rounding noise: the Krylov space is exhausted (an
   invariant subspace of A), and T_k's eigenvalues are A's own. The products
   carry the rounding of descent_real, so the bound follows its epsilon. */
static int exhausted(double beta, double scale) {
  double eps = sizeof(descent_real) == sizeof(float) ? FLT_EPSILON : DBL_EPSILON;
  return beta <= 64 * eps * scale;
}

/* Whether to solve T_k's eigenproblem (O(k^3)) after product k to test
   convergence: after each of the first 32 products, then every k/8, so that
   a long run spends a few times its last solve, not k times. */
static int ritz_due(int k, double tol) {
  return tol > 0 && (k <= 32 || k % (k / 8) == 0);
}

int descent_lanczos(descent_operator_fn apply, void *user, size_t n, int iterations, double tol,
                    const descent_real *start, uint64_t seed, descent_real *top_vector,
                    descent_real *bottom_vector, descent_lanczos_result *result) {
  if (!apply || !result)
    return descent_fail(DESCENT_EINVAL, "Lanczos: the operator and the result must not be NULL");
  if (n == 0)
    return descent_fail(DESCENT_EINVAL, "Lanczos: the operator has 0 values; pass n >= 1");
  if (iterations < 1)
    return descent_fail(DESCENT_EINVAL, "Lanczos: %d iterations; pass at least 1", iterations);
  if (!(tol >= 0) || !isfinite(tol))
    return descent_fail(DESCENT_EINVAL,
                        "Lanczos: tolerance %g; pass a finite value >= 0 (0: never stop early)",
                        tol);
  lanczos l;
  int rc = lanczos_alloc(&l, n, iterations);
  if (rc) return rc;
  rc = lanczos_start(&l, start, seed);
  int k = 0; /* products taken: T_k is k x k */
  double top_res = 0, bottom_res = 0, scale = 0;
  while (!rc && k < l.cap - 1) {
    rc = lanczos_step(&l, k++, apply, user);
    if (rc) break;
    double beta = l.beta[k - 1];
    /* The size of A, estimated by Gershgorin's bound on T_k's eigenvalues. */
    scale = fmax(scale, fabs(l.alpha[k - 1]) + beta + (k > 1 ? l.beta[k - 2] : 0));
    int done = exhausted(beta, scale) || k == l.cap - 1;
    if (done || ritz_due(k, tol)) {
      rc = lanczos_ritz(&l, k);
      if (rc) break;
      /* The last components of T_k's extreme eigenvectors. */
      top_res = beta * fabs(l.vectors[(size_t)(k - 1) * (size_t)k + (size_t)(k - 1)]);
      bottom_res = beta * fabs(l.vectors[(size_t)(k - 1)]);
      double bound = tol * fabs(l.ritz[k - 1]);
      if (done || (top_res <= bound && (!bottom_vector || bottom_res <= bound))) break;
    }
    double *w = l.basis + (size_t)k * n;
    for (size_t i = 0; i < n; i++) w[i] /= beta;
  }
  if (!rc) {
    result->top = l.ritz[k - 1];
    result->bottom = l.ritz[0];
    result->top_residual = top_res;
    result->bottom_residual = bottom_res;
    result->products = k;
    if (top_vector) ritz_vector(&l, k, k - 1, top_vector);
    if (bottom_vector) ritz_vector(&l, k, 0, bottom_vector);
  }
  lanczos_free(&l);
  return rc;
}
