/*
 * transforms_matrix.c - the transforms Muon is built from, as
 * torch.optim.Muon (torch 2.15) computes them:
 *
 *   muon_momentum   buf <- lerp(buf, g, 1 - mu); u <- lerp(g, buf, mu)
 *                   (Nesterov) or buf: torch's two lerps, elementwise;
 *   newton_schulz   a whole-tensor transform (transform.h): each tensor,
 *                   read as a matrix, divided by its Frobenius norm and
 *                   orthogonalized by torch's quintic Newton-Schulz
 *                   iteration, with descent's GEMM;
 *   muon_lr         a whole-tensor transform that ends the chain: theta <-
 *                   theta (1 - lr wd), then theta <- theta - lr' u with lr'
 *                   the rate adjusted to the tensor's shape (adjust_lr_fn).
 *
 * A tensor of shape (d0, d1, ...) is read as the d0 x (d1 ...) matrix of
 * its row-major elements: a dense weight (out x in) as it is, a conv kernel
 * (out, in, kh, kw) as out x in*kh*kw. torch's Muon refuses every tensor
 * that is not 2-D; descent takes conv kernels this way (as Keller Jordan's
 * original Muon does) and refuses 1-D tensors (biases, a norm's scale).
 *
 * torch runs the iteration in bfloat16 whatever the parameters' type;
 * descent runs it in the buffers' precision (double in libdescent64, float
 * in libdescent). The fixtures are torch's Muon with the iteration kept in
 * float64 (docs/optimizers.md says why and what bfloat16 changes).
 */
#include "transforms_matrix.h"

#include "transform_kernels.h"

#include "core/sgemm_bf16.h"

#include <string.h>

/* ---- muon_momentum ----------------------------------------------------------- */

static const spec_param muon_momentum_params[] = {
    {"momentum", SPEC_NUMBER, 0.95, 0, 1, 0, 1, 0, "momentum factor mu"},
    {"nesterov", SPEC_BOOL, 1, 0, 1, 0, 0, 0, "1: Nesterov's look-ahead lerp(g, buf, mu)"},
};

static MULTIVERSION_BODY void muon_momentum_apply_body(const transform *t, real *u, real *theta,
                                                       real *const *slots, size_t n) {
  real *buf = slots[0];
  const double mu = t->hp[0];
  /* buf.lerp_(grad, 1 - mu), then grad.lerp(buf, mu): each weight and its
     complement rounded in the buffers' type, as torch's lerp kernel does. */
  const real w = (real)(1 - mu), w1 = (real)1 - w, m = (real)mu, m1 = (real)1 - m;
  const int small_w = fabs(1 - mu) < 0.5, small_m = fabs(mu) < 0.5;
  if (t->hp[1]) {
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
      buf[i] = LERP(buf[i], u[i], w, w1, small_w);
      u[i] = LERP(u[i], buf[i], m, m1, small_m);
    }
  } else {
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
      buf[i] = LERP(buf[i], u[i], w, w1, small_w);
      u[i] = buf[i];
    }
  }
}
APPLY_ON_EVERY_PATH(muon_momentum_apply)

const transform_def transform_muon_momentum = {
    .name = "muon_momentum",
    .summary = "Muon's momentum (torch.optim.Muon): an EMA of the gradient by lerp, and "
               "Nesterov's look-ahead",
    .formula =
        "buf <- lerp(buf, u, 1-momentum);  u <- lerp(u, buf, momentum) if nesterov, else buf",
    .params = muon_momentum_params,
    .n_params = N_OF(muon_momentum_params),
    .slots = 1,
    .apply = muon_momentum_apply,
};

/* ---- the matrix view of a tensor --------------------------------------------- */

/* rows x cols: the first dimension by the product of the others. */
static void matrix_shape(const descent_tensor_info *info, size_t *rows, size_t *cols) {
  *rows = info->shape.dims[0];
  *cols = info->size / info->shape.dims[0];
}

static const char *check_matrix(const transform *t, const descent_tensor_info *info) {
  (void)t;
  return info->shape.ndim < 2 ? "it is 1-D (a bias, or a norm's scale)" : NULL;
}

/* ---- newton_schulz ------------------------------------------------------------ */

static const spec_param newton_schulz_params[] = {
    {"steps", SPEC_INTEGER, 5, 0, 99, 0, 0, 0, "iterations (torch refuses 100 or more)"},
    {"eps", SPEC_NUMBER, 1e-7, 0, INFINITY, 1, 0, 0, "smallest norm divided by"},
    {"a", SPEC_NUMBER, 3.4445, -INFINITY, INFINITY, 1, 1, 0, "coefficient of X"},
    {"b", SPEC_NUMBER, -4.7750, -INFINITY, INFINITY, 1, 1, 0, "coefficient of (X X^T) X"},
    {"c", SPEC_NUMBER, 2.0315, -INFINITY, INFINITY, 1, 1, 0, "coefficient of (X X^T)^2 X"},
};

/* The iteration works on the wide orientation: r = min(rows, cols) rows of
   c = max(rows, cols), as torch transposes a tall matrix first. Work: X and
   the next X (r x c each), the Gram matrix A and b A + c A^2 (r x r each). */
static size_t newton_schulz_work(const transform *t, const descent_tensor_info *info) {
  (void)t;
  size_t rows, cols;
  matrix_shape(info, &rows, &cols);
  size_t r = rows < cols ? rows : cols;
  return 2 * rows * cols + 2 * r * r;
}

/* out (cols x rows) <- in (rows x cols) transposed. */
static void transpose(const real *in, size_t rows, size_t cols, real *out) {
  for (size_t i = 0; i < rows; i++)
    for (size_t j = 0; j < cols; j++) out[j * rows + i] = in[i * cols + j];
}

/* x rounded to the nearest bfloat16, as torch's cast (newton_schulz_bf16,
   which only the float build runs). */
static real round_bf16(real x) {
  return (real)sgemm_bf16_round((float)x);
}

/* Rows of the blocks the symmetric products are cut into. */
#define SYMMETRIC_BLOCK 256

/* C = alpha X X^T + beta C for X of r rows (k numbers each, row stride ld)
   and C r x r: the product is symmetric, so only the blocks on and above
   the diagonal are computed (with descent_gemm, beta applied there) and
   each is mirrored below it. For r of 1024, 10 blocks of 16: 62.5% of the
   multiply-adds of the whole product. Element (i, j) and (j, i) are the
   same bits, the one sum for both. */
void matrix_symmetric_product(int precision, size_t r, size_t k, real alpha, const real *x,
                              size_t ld, real beta, real *c) {
  if (r <= SYMMETRIC_BLOCK) {
    descent_gemm_precision(precision, 1, 0, 1, r, r, k, alpha, x, ld, x, ld, beta, c, r);
    return;
  }
  for (size_t i = 0; i < r; i += SYMMETRIC_BLOCK) {
    size_t rows = r - i < SYMMETRIC_BLOCK ? r - i : SYMMETRIC_BLOCK;
    /* The block row from the diagonal on: rows x (r - i). */
    descent_gemm_precision(precision, 1, 0, 1, rows, r - i, k, alpha, x + i * ld, ld, x + i * ld,
                           ld, beta, c + i * r + i, r);
    for (size_t a = i; a < i + rows; a++)
      for (size_t b = i + rows; b < r; b++) c[b * r + a] = c[a * r + b];
  }
}

/* torch's _zeropower_via_newtonschulz: X = G / max(||G||_F, eps), then
   `steps` times A = X X^T; B = b A + c A A (addmm); X = a X + B X (addmm),
   each product through descent_gemm with torch's alpha and beta. A and B
   are symmetric: A A is A A^T, and both are computed as such, the upper
   blocks only (matrix_symmetric_product).

   In DESCENT_PRECISION_BF16 (newton_schulz_bf16), as torch runs it: G
   rounded to bfloat16, its norm rounded to bfloat16, X = G / norm rounded,
   and every product's factors rounded to bfloat16, summed in float with
   torch's beta term, and rounded to bfloat16 (descent_gemm_precision with
   round_c: addmm's bfloat16 output). */
static void orthogonalize(const transform *t, int precision, real *u,
                          const descent_tensor_info *info, real *work) {
  size_t rows, cols;
  matrix_shape(info, &rows, &cols);
  const int tall = rows > cols, bf16 = precision == DESCENT_PRECISION_BF16;
  const size_t r = tall ? cols : rows, c = tall ? rows : cols, size = r * c;
  real *x = work, *next = work + size, *gram = work + 2 * size, *poly = gram + r * r;
  if (tall)
    transpose(u, rows, cols, x);
  else
    memcpy(x, u, size * sizeof *x);
  if (bf16)
    for (size_t i = 0; i < size; i++) x[i] = round_bf16(x[i]);
  double sum_sq = 0;
  for (size_t i = 0; i < size; i++) sum_sq += (double)x[i] * (double)x[i];
  real norm = (real)sqrt(sum_sq), eps = (real)t->hp[1];
  if (bf16) norm = round_bf16(norm), eps = round_bf16(eps);
  const real divisor = norm < eps ? eps : norm; /* clamp(min=eps); NaN stays NaN */
  for (size_t i = 0; i < size; i++) x[i] = bf16 ? round_bf16(x[i] / divisor) : x[i] / divisor;
  const real a = (real)t->hp[2], b = (real)t->hp[3], cc = (real)t->hp[4];
  for (int step = 0; step < (int)t->hp[0]; step++) {
    matrix_symmetric_product(precision, r, c, 1, x, c, 0, gram);
    memcpy(poly, gram, r * r * sizeof *poly);
    matrix_symmetric_product(precision, r, r, cc, gram, r, b, poly);
    memcpy(next, x, size * sizeof *next);
    descent_gemm_precision(precision, 1, 0, 0, r, c, r, 1, poly, r, x, c, a, next, c);
    real *swap = x;
    x = next, next = swap;
  }
  if (tall)
    transpose(x, cols, rows, u);
  else
    memcpy(u, x, size * sizeof *u);
}

static void newton_schulz_apply(const transform *t, real *u, real *theta, real *const *slots,
                                size_t tensor, const descent_tensor_info *info, real *work) {
  (void)theta, (void)slots, (void)tensor;
  orthogonalize(t, DESCENT_PRECISION_FP32, u, info, work);
}

static void newton_schulz_bf16_apply(const transform *t, real *u, real *theta, real *const *slots,
                                     size_t tensor, const descent_tensor_info *info, real *work) {
  (void)theta, (void)slots, (void)tensor;
  orthogonalize(t, DESCENT_PRECISION_BF16, u, info, work);
}

/* bfloat16 products need the float build and a CPU (and kernel path) that
   has AVX512_BF16. */
static int newton_schulz_bf16_validate(const transform *t) {
  (void)t;
  return descent_bf16_check("newton_schulz_bf16 (muon with bf16=1)",
                            "use newton_schulz (muon with bf16=0)");
}

const transform_def transform_newton_schulz = {
    .name = "newton_schulz",
    .summary = "Muon's orthogonalization of each whole tensor (read as out x in*...) by torch's "
               "quintic Newton-Schulz iteration",
    .formula = "per tensor: X <- U / max(||U||_F, eps) (transposed if tall); steps times "
               "A <- X X^T, X <- a X + (b A + c A A) X;  u <- X",
    .params = newton_schulz_params,
    .n_params = N_OF(newton_schulz_params),
    .whole_tensor = 1,
    .check_tensor = check_matrix,
    .work_size = newton_schulz_work,
    .apply_whole = newton_schulz_apply,
};

const transform_def transform_newton_schulz_bf16 = {
    .name = "newton_schulz_bf16",
    .summary = "newton_schulz in bfloat16, as torch.optim.Muon runs it: factors rounded to "
               "bfloat16, products summed in float and rounded to bfloat16 (AVX512_BF16, "
               "the float library)",
    .formula = "newton_schulz's iteration with U, its norm, X and every product's result "
               "rounded to bfloat16",
    .params = newton_schulz_params,
    .n_params = N_OF(newton_schulz_params),
    .whole_tensor = 1,
    .validate = newton_schulz_bf16_validate,
    .check_tensor = check_matrix,
    .work_size = newton_schulz_work,
    .apply_whole = newton_schulz_bf16_apply,
};

/* ---- muon_lr ------------------------------------------------------------------ */

enum { ADJUST_ORIGINAL, ADJUST_MATCH_RMS_ADAMW, ADJUST_SPECTRAL_UNCLAMPED };

static const spec_param muon_lr_params[] = {
    {"weight_decay", SPEC_NUMBER, 0.1, 0, INFINITY, 0, 0, 0,
     "decoupled decay: theta <- theta (1 - lr weight_decay)"},
    {"adjust_lr", SPEC_INTEGER, ADJUST_ORIGINAL, 0, 2, 0, 0, 0,
     "adjust_lr_fn: 0 original sqrt(max(1, A/B)), 1 match_rms_adamw 0.2 sqrt(max(A, B)), "
     "2 spectral_unclamped sqrt(A/B), for a matrix A x B"},
    {"lr", SPEC_TEXT, 0, 0, 0, 0, 0, 0, "learning rate: a number or a schedule"},
};

static void muon_lr_begin(transform *t, int64_t step) {
  t->scalar[0] = transform_rate(t, step);
}

/* torch's _adjust_lr on the matrix's A x B, in double as Python computes it. */
static double adjusted_ratio(int adjust, size_t rows, size_t cols) {
  double a = (double)rows, b = (double)cols;
  switch (adjust) {
  case ADJUST_MATCH_RMS_ADAMW:
    return 0.2 * sqrt(a > b ? a : b);
  case ADJUST_SPECTRAL_UNCLAMPED:
    return sqrt(a / b);
  default:
    return sqrt(a / b > 1 ? a / b : 1);
  }
}

/* param.mul_(1 - lr wd); param.add_(update, alpha=-adjusted_lr). */
static MULTIVERSION_BODY void muon_lr_step_body(const real *u, real *theta, size_t n, real decay,
                                                real minus_lr) {
#pragma omp simd
  for (size_t i = 0; i < n; i++) {
    real kept = theta[i] * decay;
    theta[i] = kept + minus_lr * u[i];
  }
}
MULTIVERSION_VOID(muon_lr_step, (const real *u, real *theta, size_t n, real decay, real minus_lr),
                  (u, theta, n, decay, minus_lr))

static void muon_lr_apply(const transform *t, real *u, real *theta, real *const *slots,
                          size_t tensor, const descent_tensor_info *info, real *work) {
  (void)slots, (void)tensor, (void)work;
  size_t rows, cols;
  matrix_shape(info, &rows, &cols);
  const double lr = t->scalar[0];
  const double adjusted = lr * adjusted_ratio((int)t->hp[1], rows, cols);
  muon_lr_step(u, theta, info->size, (real)(1 - lr * t->hp[0]), (real)-adjusted);
}

const transform_def transform_muon_lr = {
    .name = "muon_lr",
    .summary = "Muon's step (torch.optim.Muon): decoupled weight decay, then the update at the "
               "rate adjusted to each tensor's shape (adjust_lr_fn)",
    .formula = "per tensor A x B: theta <- theta (1 - lr weight_decay);  theta <- theta - lr "
               "ratio(A, B) u, ratio sqrt(max(1, A/B)) | 0.2 sqrt(max(A, B)) | sqrt(A/B)",
    .params = muon_lr_params,
    .n_params = N_OF(muon_lr_params),
    .has_schedule = 1,
    .final = 1,
    .whole_tensor = 1,
    .check_tensor = check_matrix,
    .begin = muon_lr_begin,
    .apply_whole = muon_lr_apply,
};
