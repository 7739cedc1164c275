/*
 * transforms_shampoo.c - Shampoo as Distributed Shampoo computes it
 * (github.com/facebookresearch/optimizers, distributed_shampoo, commit
 * f606606; single process, the root inverse by eigendecomposition), one
 * whole tensor at a time:
 *
 *   the tensor's shape is merged (dimensions of size 1 dropped, neighbours
 *   merged from the last one while the product stays <= max_preconditioner_dim
 *   and more than merge_dims dimensions are left: merge_small_dims) and cut
 *   into blocks of at most max_preconditioner_dim along every dimension
 *   (multi_dim_split, blocks in row-major order). Per block G of k dims, at
 *   step t (from 1):
 *     F_i <- b2 F_i + w G_(i) G_(i)^T  (w = 1 if b2 = 1, else 1 - b2), i < k
 *     V   <- gb2 V + gw G^2            (the grafting's diagonal, elementwise)
 *     every precondition_frequency steps from start_preconditioning_step:
 *       X_i <- (F_i / bc2 + eps I)^(-1/p), p = 2k (or 1/exponent), by
 *       eigendecomposition, eigenvalues shifted up to eps when the smallest
 *       is below it (the reference's PerturbationConfig)
 *     m <- lerp(m, G, 1 - b1);  Gbar = m / (1 - b1^t)      (b1 > 0)
 *     P = Gbar x_1 X_1 ... x_k X_k   (before start: the grafting's step)
 *     P <- P ||graft(Gbar)|| / (||P|| + 1e-16)             (grafting)
 *   u <- P. Decoupled weight decay, momentum and the rate follow as the
 *   ordinary transforms wd, momentum and lr.
 *
 * The factor matrices F_i and their inverse roots X_i (full b_i x b_i
 * matrices) are the transform's per-tensor state (transform.h); m and V are
 * slots. The eigendecompositions run in double (LAPACK's dsyevd through
 * descent_symmetric_eigen) whatever the buffers' precision.
 */
#include "transforms_shampoo.h"
#include "transforms_matrix.h"

#include "transform_kernels.h"

#include "internal.h"

#include <stdint.h>
#include <string.h>

enum {
  HP_B1,
  HP_B2,
  HP_EPS,
  HP_FREQUENCY,
  HP_START,
  HP_MAX_DIM,
  HP_MERGE_DIMS,
  HP_BIAS_CORRECTION,
  HP_GRAFTING,
  HP_GRAFT_B2,
  HP_GRAFT_EPS,
  HP_EXPONENT,
};
enum { GRAFT_NONE, GRAFT_SGD, GRAFT_ADAGRAD, GRAFT_RMSPROP, GRAFT_ADAM };
/* t->scalar, set by begin(). */
enum { S_BC1, S_BC2, S_GRAFT_BC2, S_AMORTIZE, S_FIRST_ROOT, S_USE_GRAFTING, S_PRECONDITIONED };

static const spec_param shampoo_params[] = {
    {"b1", SPEC_NUMBER, 0.9, 0, 1, 0, 1, 0, "EMA of the gradient preconditioned (0: none)"},
    {"b2", SPEC_NUMBER, 1, 0, 1, 0, 0, 0, "EMA of the factor matrices (1: sums, as AdaGrad)"},
    {"eps", SPEC_NUMBER, 1e-12, 0, INFINITY, 1, 0, 0, "added to the factors' eigenvalues"},
    {"precondition_frequency", SPEC_INTEGER, 1, 1, 1e9, 0, 0, 0,
     "steps between recomputations of the inverse roots"},
    {"start_preconditioning_step", SPEC_INTEGER, -1, -1, 1e9, 0, 0, 0,
     "first step (from 1) preconditioned by Shampoo; before it the grafting's step; -1: "
     "precondition_frequency"},
    {"max_preconditioner_dim", SPEC_INTEGER, 1024, 1, 1e9, 0, 0, 0,
     "largest factor matrix: longer dimensions are cut into blocks"},
    {"merge_dims", SPEC_INTEGER, 1, 0, DESCENT_MAX_DIMS, 0, 0, 0,
     "merge small dimensions down to this many (target_parameter_dimensionality); 0: never"},
    {"bias_correction", SPEC_BOOL, 1, 0, 1, 0, 0, 0, "1: divide by 1 - b1^t and 1 - b2^t"},
    {"grafting", SPEC_INTEGER, GRAFT_NONE, 0, 4, 0, 0, 0,
     "step size per block from: 0 none, 1 SGD, 2 AdaGrad, 3 RMSprop, 4 Adam"},
    {"graft_b2", SPEC_NUMBER, -1, -1, 1, 0, 1, 0,
     "RMSprop's and Adam's grafting decay; -1: 0.99 (RMSprop), 0.999 (Adam)"},
    {"graft_eps", SPEC_NUMBER, 1e-10, 0, INFINITY, 1, 0, 0, "the grafting's epsilon"},
    {"exponent", SPEC_NUMBER, 0, 0, INFINITY, 0, 0, 0,
     "inverse root exponent of every factor (inverse_exponent_override); 0: 1/(2 k) for k dims"},
};

static double graft_b2(const transform *t) {
  const double b2 = t->hp[HP_GRAFT_B2];
  if (b2 >= 0) return b2;
  return t->hp[HP_GRAFTING] == GRAFT_RMSPROP ? 0.99 : 0.999;
}

static int start_step(const transform *t) {
  return t->hp[HP_START] < 0 ? (int)t->hp[HP_FREQUENCY] : (int)t->hp[HP_START];
}

static int shampoo_validate(const transform *t) {
  if (t->hp[HP_START] >= 0 && t->hp[HP_START] < t->hp[HP_FREQUENCY])
    return descent_fail(DESCENT_EINVAL,
                        "shampoo: start_preconditioning_step = %g is below precondition_frequency "
                        "= %g: pass start_preconditioning_step >= precondition_frequency (or -1)",
                        t->hp[HP_START], t->hp[HP_FREQUENCY]);
  const int grafting = (int)t->hp[HP_GRAFTING];
  if (t->hp[HP_GRAFT_B2] >= 0 && grafting != GRAFT_RMSPROP && grafting != GRAFT_ADAM)
    return descent_fail(DESCENT_EINVAL,
                        "shampoo: graft_b2 = %g is only used by RMSprop and Adam grafting "
                        "(grafting=3 or 4); drop it or choose one of them",
                        t->hp[HP_GRAFT_B2]);
  if (t->hp[HP_GRAFT_B2] == 0 || (t->hp[HP_GRAFT_B2] > -1 && t->hp[HP_GRAFT_B2] < 0))
    return descent_fail(DESCENT_EINVAL,
                        "shampoo: graft_b2 = %g is out of range: pass graft_b2 in (0, 1), or -1 "
                        "for the grafting's default",
                        t->hp[HP_GRAFT_B2]);
  return DESCENT_OK;
}

/* Slots: m (the gradient's EMA) when b1 > 0, then V (the grafting's
   diagonal) for AdaGrad, RMSprop and Adam grafting. */
static int uses_momentum(const transform *t) {
  return t->hp[HP_B1] != 0;
}
static int uses_diagonal(const transform *t) {
  return t->hp[HP_GRAFTING] >= GRAFT_ADAGRAD;
}
static int shampoo_slots(const transform *t) {
  return uses_momentum(t) + uses_diagonal(t);
}

/* Python's float ** int for the bias corrections, as torch computes
   beta ** step on a float64 step tensor. */
static void shampoo_begin(transform *t, int64_t step) {
  const int64_t k = step + 1; /* the reference's step, from 1 */
  const double b1 = t->hp[HP_B1], b2 = t->hp[HP_B2];
  const int correct = t->hp[HP_BIAS_CORRECTION] != 0;
  /* 1 - beta3 beta1^(t-1) with beta3 = beta1 (_compute_filtered_grad_list) */
  t->scalar[S_BC1] = correct && b1 != 0 ? 1.0 - b1 * pow(b1, (double)(k - 1)) : 1.0;
  t->scalar[S_BC2] = correct && b2 < 1 ? 1.0 - pow(b2, (double)k) : 1.0;
  t->scalar[S_GRAFT_BC2] =
      t->hp[HP_GRAFTING] == GRAFT_ADAM ? 1.0 - pow(graft_b2(t), (double)k) : 1.0;
  const int64_t freq = (int64_t)t->hp[HP_FREQUENCY], start = start_step(t);
  t->scalar[S_AMORTIZE] = (k % freq == 0 && k > start) || k == start;
  t->scalar[S_FIRST_ROOT] = k == start;
  t->scalar[S_USE_GRAFTING] = k < start && t->hp[HP_GRAFTING] != GRAFT_NONE;
  t->scalar[S_PRECONDITIONED] = k >= start;
}

/* ---- the blocks of a tensor ------------------------------------------------- */

typedef struct blocking {
  int ndim;                       /* of the merged shape */
  size_t dims[DESCENT_MAX_DIMS];  /* the merged shape */
  size_t count[DESCENT_MAX_DIMS]; /* blocks along each dimension */
  size_t n_blocks;
  size_t largest_block, largest_dim; /* numbers in the largest block, its longest side */
} blocking;

static size_t max_dim(const transform *t) {
  return (size_t)t->hp[HP_MAX_DIM];
}

/* merge_small_dims(shape, threshold=max_preconditioner_dim,
   target_tensor_dimensionality=merge_dims or inf), then multi_dim_split. */
static void block_tensor(const transform *t, const descent_tensor_info *info, blocking *b) {
  const size_t threshold = max_dim(t);
  const int target = (int)t->hp[HP_MERGE_DIMS];
  size_t shape[DESCENT_MAX_DIMS];
  int n = 0;
  if (target == 0) { /* math.inf: the shape as it is */
    for (int i = 0; i < info->shape.ndim; i++) shape[n++] = info->shape.dims[i];
  } else {
    size_t squeezed[DESCENT_MAX_DIMS]; /* reversed, without the 1s */
    int ns = 0;
    for (int i = info->shape.ndim - 1; i >= 0; i--)
      if (info->shape.dims[i] != 1) squeezed[ns++] = info->shape.dims[i];
    if (ns == 0) squeezed[ns++] = 1;
    size_t merged[DESCENT_MAX_DIMS];
    int nm = 0;
    merged[nm++] = squeezed[0];
    for (int i = 1; i < ns; i++) {
      const int potential = nm + (ns - i);
      if (potential > target && merged[nm - 1] * squeezed[i] <= threshold)
        merged[nm - 1] *= squeezed[i];
      else
        merged[nm++] = squeezed[i];
    }
    for (int i = 0; i < nm; i++) shape[n++] = merged[nm - 1 - i];
  }
  b->ndim = n;
  b->n_blocks = 1;
  b->largest_block = 1;
  b->largest_dim = 1;
  for (int i = 0; i < n; i++) {
    b->dims[i] = shape[i];
    b->count[i] = (shape[i] + threshold - 1) / threshold;
    b->n_blocks *= b->count[i];
    const size_t side = shape[i] < threshold ? shape[i] : threshold;
    b->largest_block *= side;
    if (side > b->largest_dim) b->largest_dim = side;
  }
}

/* Block `index` (row-major over the blocks): its first element along each
   dimension and its sides. */
static void block_at(const transform *t, const blocking *b, size_t index, size_t *start,
                     size_t *side) {
  const size_t threshold = max_dim(t);
  for (int i = b->ndim - 1; i >= 0; i--) {
    const size_t at = index % b->count[i];
    index /= b->count[i];
    start[i] = at * threshold;
    const size_t left = b->dims[i] - start[i];
    side[i] = left < threshold ? left : threshold;
  }
}

static size_t block_state_size(const blocking *b, const size_t *side) {
  size_t s = 0;
  for (int i = 0; i < b->ndim; i++) s += 2 * side[i] * side[i];
  return s;
}

/* F_i and X_i of every block, block after block. */
static size_t shampoo_tensor_state(const transform *t, const descent_tensor_info *info) {
  blocking b;
  block_tensor(t, info, &b);
  size_t total = 0, start[DESCENT_MAX_DIMS], side[DESCENT_MAX_DIMS];
  for (size_t k = 0; k < b.n_blocks; k++) {
    block_at(t, &b, k, start, side);
    total += block_state_size(&b, side);
  }
  return total;
}

/* Copies the block out of (gather) or into (scatter) the tensor x. */
static void block_copy(const blocking *b, const size_t *start, const size_t *side, real *x,
                       real *block, int gather) {
  size_t stride[DESCENT_MAX_DIMS], at[DESCENT_MAX_DIMS] = {0}, n = 1;
  size_t s = 1;
  for (int i = b->ndim - 1; i >= 0; i--) stride[i] = s, s *= b->dims[i];
  for (int i = 0; i < b->ndim; i++) n *= side[i];
  const int last = b->ndim - 1;
  for (size_t j = 0; j < n; j += side[last]) {
    size_t offset = 0;
    for (int i = 0; i < b->ndim; i++) offset += (start[i] + at[i]) * stride[i];
    if (gather)
      memcpy(block + j, x + offset, side[last] * sizeof *block);
    else
      memcpy(x + offset, block + j, side[last] * sizeof *block);
    for (int i = last - 1; i >= 0; i--) { /* the odometer, last dimension excluded */
      if (++at[i] < side[i]) break;
      at[i] = 0;
    }
  }
}

/* ---- work memory ------------------------------------------------------------ */

/* Real numbers: Gbar and the grafting's step of the whole tensor, four block
   buffers (the block, two for the products, the grafting's block) and an
   outer product; then, aligned for double, three matrices and the
   eigenvalues for the root inverse. */
static size_t shampoo_work(const transform *t, const descent_tensor_info *info) {
  blocking b;
  block_tensor(t, info, &b);
  const size_t d = b.largest_dim, per_double = sizeof(double) / sizeof(real);
  return 2 * info->size + 4 * b.largest_block + d * d + (3 * d * d + d) * per_double + per_double;
}

typedef struct shampoo_work_area {
  real *gbar, *graft, *block, *product_a, *product_b, *graft_block, *outer;
  double *matrix, *scaled, *root, *eigenvalues;
} shampoo_work_area;

static shampoo_work_area work_area(const blocking *b, size_t n, real *work) {
  shampoo_work_area w;
  const size_t d = b->largest_dim, largest = b->largest_block;
  w.gbar = work;
  w.graft = w.gbar + n;
  w.block = w.graft + n;
  w.product_a = w.block + largest;
  w.product_b = w.product_a + largest;
  w.graft_block = w.product_b + largest;
  w.outer = w.graft_block + largest;
  uintptr_t p = (uintptr_t)(w.outer + d * d);
  p = (p + sizeof(double) - 1) / sizeof(double) * sizeof(double);
  w.matrix = (double *)p;
  w.scaled = w.matrix + d * d;
  w.root = w.scaled + d * d;
  w.eigenvalues = w.root + d * d;
  return w;
}

/* ---- the factors ------------------------------------------------------------ */

/* outer <- G_(i) G_(i)^T: the block's products over every dimension but i
   (torch.tensordot(G, G, all but i)), symmetric from its upper triangle as
   the reference's packed storage keeps it. */
static void factor_product(const real *g, int ndim, const size_t *side, int i, real *outer) {
  size_t pre = 1, post = 1;
  for (int j = 0; j < i; j++) pre *= side[j];
  for (int j = i + 1; j < ndim; j++) post *= side[j];
  const size_t d = side[i];
  if (post == 1) {
    descent_gemm(1, 0, d, d, pre, 1, g, d, g, d, 0, outer, d);
  } else {
    /* A sum over the leading dimensions' slices, each product computed on
       and above the diagonal only past 256 rows (matrix_symmetric_product). */
    for (size_t p = 0; p < pre; p++)
      matrix_symmetric_product(DESCENT_PRECISION_FP32, d, post, 1, g + p * d * post, post,
                               p ? 1 : 0, outer);
  }
  for (size_t r = 0; r < d; r++)
    for (size_t c = r + 1; c < d; c++) outer[c * d + r] = outer[r * d + c];
}

/* X <- (F / bc2 + eps I)^(-1/root): matrix_inverse_root with EigenConfig
   (torch.linalg.eigh of the perturbed matrix, the eigenvalues shifted when
   the smallest is below eps, then Q diag(L^(-1/root)) Q^T). */
static void inverse_root(const real *f, size_t d, double bc2, double eps, double root, int first,
                         real *x, const shampoo_work_area *w) {
  double *a = w->matrix, *l = w->eigenvalues, *sc = w->scaled;
  for (size_t i = 0; i < d * d; i++) a[i] = (double)f[i] / bc2;
  for (size_t i = 0; i < d; i++) a[i * d + i] += eps;
  if (descent_symmetric_eigen(d, a, l) != 0) {
    /* dsyevd failed to converge: keep the previous root, as the reference
       keeps its previous preconditioner when the computation fails; before
       the first one that is the identity it starts from (the state starts
       at zero). */
    if (first)
      for (size_t i = 0; i < d * d; i++) x[i] = (real)(i % (d + 1) == 0);
    return;
  }
  double lambda_min = l[0];
  for (size_t k = 1; k < d; k++)
    if (l[k] < lambda_min) lambda_min = l[k];
  if (lambda_min < eps)
    for (size_t k = 0; k < d; k++) l[k] = (l[k] + -lambda_min) + eps;
  const double power = -1.0 / root;
  /* Row k of a is the eigenvector of l[k]: X = a^T diag(l^power) a. */
  for (size_t k = 0; k < d; k++) {
    const double scale = pow(l[k], power);
    for (size_t j = 0; j < d; j++) sc[k * d + j] = a[k * d + j] * scale;
  }
  descent_gemm_f64(1, 0, d, d, d, 1, a, d, sc, d, 0, w->root, d);
  for (size_t i = 0; i < d * d; i++) x[i] = (real)w->root[i];
}

/* ---- the step ------------------------------------------------------------- */

static double norm2(const real *x, size_t n) {
  double s = 0;
  for (size_t i = 0; i < n; i++) s += (double)x[i] * (double)x[i];
  return sqrt(s);
}

/* Gbar x_1 X_1 ... x_k X_k as the reference's chain of tensordot(G, X, [[0], [0]]):
   each product contracts the leading dimension and appends the new one. */
static real *precondition_block(const real *gbar, int ndim, const size_t *side, real *const *roots,
                                real *a, real *b) {
  size_t n = 1;
  for (int i = 0; i < ndim; i++) n *= side[i];
  const real *in = gbar;
  real *out = a;
  for (int i = 0; i < ndim; i++) {
    const size_t d = side[i], rest = n / d;
    out = (in == a) ? b : a;
    descent_gemm(1, 0, rest, d, d, 1, in, rest, roots[i], d, 0, out, d);
    in = out;
  }
  return out;
}

static void shampoo_apply(const transform *t, real *u, real *theta, real *const *slots,
                          size_t tensor, const descent_tensor_info *info, real *work) {
  (void)theta;
  const size_t n = info->size;
  blocking b;
  block_tensor(t, info, &b);
  shampoo_work_area w = work_area(&b, n, work);
  real *m = uses_momentum(t) ? slots[0] : NULL;
  real *v = uses_diagonal(t) ? slots[uses_momentum(t)] : NULL;
  const int grafting = (int)t->hp[HP_GRAFTING];

  /* The grafting's diagonal, from the raw gradient (update_preconditioners). */
  if (v) {
    const double gb2 = grafting == GRAFT_ADAGRAD ? 1.0 : graft_b2(t);
    const real keep = (real)gb2, weight = (real)(grafting == GRAFT_ADAGRAD ? 1.0 : 1.0 - gb2);
    for (size_t i = 0; i < n; i++) {
      if (gb2 != 1.0) v[i] = v[i] * keep;
      v[i] = v[i] + weight * u[i] * u[i]; /* addcmul: value * g * g */
    }
  }

  /* The factors of every block, and their inverse roots when due. */
  const double b2 = t->hp[HP_B2];
  const real fkeep = (real)b2, fweight = (real)(b2 == 1.0 ? 1.0 : 1.0 - b2);
  real *state = transform_tensor_state(t, tensor);
  size_t start[DESCENT_MAX_DIMS], side[DESCENT_MAX_DIMS];
  /* root = 1 / exponent, the exponent 1 / (2 k) unless overridden */
  const double exponent = t->hp[HP_EXPONENT] > 0 ? t->hp[HP_EXPONENT] : 1.0 / (2.0 * b.ndim);
  const double root = 1.0 / exponent;
  real *block_state = state;
  for (size_t k = 0; k < b.n_blocks; k++) {
    block_at(t, &b, k, start, side);
    block_copy(&b, start, side, u, w.block, 1);
    real *at = block_state;
    for (int i = 0; i < b.ndim; i++) {
      const size_t d = side[i];
      real *f = at, *x = at + d * d;
      factor_product(w.block, b.ndim, side, i, w.outer);
      for (size_t j = 0; j < d * d; j++) {
        if (b2 != 1.0) f[j] = f[j] * fkeep;
        f[j] = f[j] + fweight * w.outer[j];
      }
      if (t->scalar[S_AMORTIZE])
        inverse_root(f, d, t->scalar[S_BC2], t->hp[HP_EPS], root, t->scalar[S_FIRST_ROOT] != 0, x,
                     &w);
      at += 2 * d * d;
    }
    block_state = at;
  }

  /* Gbar: the gradient's EMA, bias-corrected (_compute_filtered_grad_list). */
  if (m) {
    const double b1 = t->hp[HP_B1];
    const real wt = (real)(1 - b1), wt1 = (real)1 - wt, bc1 = (real)t->scalar[S_BC1];
    const int small = fabs(1 - b1) < 0.5, correct = t->hp[HP_BIAS_CORRECTION] != 0;
    for (size_t i = 0; i < n; i++) {
      m[i] = LERP(m[i], u[i], wt, wt1, small);
      w.gbar[i] = correct ? m[i] / bc1 : m[i];
    }
  } else {
    memcpy(w.gbar, u, n * sizeof *u);
  }

  /* The grafting's step from Gbar (AdagradPreconditionerList.precondition). */
  if (grafting == GRAFT_SGD) {
    memcpy(w.graft, w.gbar, n * sizeof *u);
  } else if (grafting != GRAFT_NONE) {
    const real bc2 = (real)t->scalar[S_GRAFT_BC2], eps = (real)t->hp[HP_GRAFT_EPS];
    for (size_t i = 0; i < n; i++) w.graft[i] = w.gbar[i] / (SQRT(v[i] / bc2) + eps);
  }

  /* Each block's step. */
  if (t->scalar[S_USE_GRAFTING]) {
    memcpy(u, w.graft, n * sizeof *u);
    return;
  }
  block_state = state;
  for (size_t k = 0; k < b.n_blocks; k++) {
    block_at(t, &b, k, start, side);
    size_t size = 1;
    for (int i = 0; i < b.ndim; i++) size *= side[i];
    real *roots[DESCENT_MAX_DIMS];
    real *at = block_state;
    for (int i = 0; i < b.ndim; i++) {
      roots[i] = at + side[i] * side[i];
      at += 2 * side[i] * side[i];
    }
    block_state = at;
    block_copy(&b, start, side, w.gbar, w.block, 1);
    real *out = w.block;
    if (t->scalar[S_PRECONDITIONED])
      out = precondition_block(w.block, b.ndim, side, roots, w.product_a, w.product_b);
    if (grafting != GRAFT_NONE) {
      block_copy(&b, start, side, w.graft, w.graft_block, 1);
      const double graft_norm = norm2(w.graft_block, size);
      const double shampoo_norm = norm2(out, size) + 1e-16;
      const real ratio = (real)(graft_norm / shampoo_norm);
      for (size_t i = 0; i < size; i++) out[i] = out[i] * ratio;
    }
    block_copy(&b, start, side, u, out, 0);
  }
}

const transform_def transform_shampoo = {
    .name = "shampoo",
    .summary = "Shampoo (Gupta et al. 2018) as Distributed Shampoo computes it: Kronecker factor "
               "preconditioners per block, inverse roots by eigendecomposition, grafting",
    .formula = "per block G: F_i <- b2 F_i + (1-b2) G_(i) G_(i)^T; X_i = (F_i/bc2 + eps I)^(-1/2k) "
               "every precondition_frequency steps; Gbar = ema_b1(G)/bc1; u <- Gbar x_i X_i, "
               "rescaled to the grafting's norm",
    .params = shampoo_params,
    .n_params = N_OF(shampoo_params),
    .slots = 2,
    .whole_tensor = 1,
    .validate = shampoo_validate,
    .count_slots = shampoo_slots,
    .begin = shampoo_begin,
    .tensor_state = shampoo_tensor_state,
    .work_size = shampoo_work,
    .apply_whole = shampoo_apply,
};
