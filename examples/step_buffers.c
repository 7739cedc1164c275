/*
 * step_buffers.c - an optimizer from libdescent on your own arrays.
 *
 * The program fits the weights w of a linear model y = X w by least squares,
 * computing the loss and its gradient itself on plain arrays, and lets a
 * descent optimizer take the steps: no network, no objective struct, only
 * descent_optimizer_step_buffers(opt, w, grad, n). It also registers an
 * optimizer of its own, signum (the sign of a momentum), which then works in
 * any chain like a built-in transform.
 *
 *   step_buffers [SPEC [LR [STEPS]]]
 *     SPEC   a named optimizer or a chain (default "adam"); `descent
 *            optimizers` lists them, e.g. "sgd(momentum=0.9)",
 *            "clip(1) | adam | lr(cosine(0.01, 2000))",
 *            "signum(beta=0.9) | lr(0.005)"
 *     LR     the learning rate or schedule, when SPEC does not set it
 *            (default: the optimizer's own; "-" keeps it)
 *     STEPS  number of steps (default 3000)
 *
 * It prints the fitted weights beside the true ones and the largest error.
 */
#include <descent.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_SAMPLES  200
#define N_FEATURES 8

/* ---- the problem: least squares on plain arrays ---------------------------- */

/* A small deterministic generator, so every run fits the same data. */
static double uniform(unsigned long long *state) {
  *state = *state * 6364136223846793005ull + 1442695040888963407ull;
  return (double)(*state >> 11) / 9007199254740992.0; /* [0, 1) */
}

typedef struct problem {
  descent_real x[N_SAMPLES][N_FEATURES]; /* the inputs */
  descent_real y[N_SAMPLES];             /* the targets, X w_true exactly */
  descent_real w_true[N_FEATURES];
} problem;

static void make_problem(problem *p) {
  unsigned long long state = 12345;
  for (int j = 0; j < N_FEATURES; j++) p->w_true[j] = (descent_real)(2 * uniform(&state) - 1);
  for (int i = 0; i < N_SAMPLES; i++) {
    double y = 0;
    for (int j = 0; j < N_FEATURES; j++) {
      p->x[i][j] = (descent_real)(2 * uniform(&state) - 1);
      y += (double)p->x[i][j] * (double)p->w_true[j];
    }
    p->y[i] = (descent_real)y;
  }
}

/* loss = mean of (x_i . w - y_i)^2 / 2; grad = mean of (x_i . w - y_i) x_i. */
static double loss_and_gradient(const problem *p, const descent_real *w, descent_real *grad) {
  double loss = 0, g[N_FEATURES] = {0};
  for (int i = 0; i < N_SAMPLES; i++) {
    double residual = -(double)p->y[i];
    for (int j = 0; j < N_FEATURES; j++) residual += (double)p->x[i][j] * (double)w[j];
    loss += residual * residual / 2;
    for (int j = 0; j < N_FEATURES; j++) g[j] += residual * (double)p->x[i][j];
  }
  for (int j = 0; j < N_FEATURES; j++) grad[j] = (descent_real)(g[j] / N_SAMPLES);
  return loss / N_SAMPLES;
}

/* ---- an optimizer of our own: signum --------------------------------------- */

/* Signum (Bernstein et al. 2018): m <- beta m + (1 - beta) g, u <- sign(m).
   The library calls this on slices of the buffers, possibly from several
   threads at once; m is the transform's one state vector, which the library
   allocates, zeroes and saves with the optimizer's state. */
static void signum_update(const double *hp, const double *scalars, descent_real *const *state,
                          descent_real *u, const descent_real *params, size_t n, int64_t step) {
  (void)scalars, (void)params, (void)step; /* signum needs neither */
  descent_real *m = state[0];
  const descent_real beta = (descent_real)hp[0], rest = (descent_real)(1 - hp[0]);
  for (size_t i = 0; i < n; i++) {
    m[i] = beta * m[i] + rest * u[i];
    u[i] = (descent_real)(m[i] > 0) - (descent_real)(m[i] < 0);
  }
}

static const descent_transform_param signum_params[] = {
    /* name, kind, default, range [0, 1), help */
    {"beta", DESCENT_PARAM_NUMBER, 0.9, 0, 1, 0, 1, 0, "decay of the momentum m"},
};

static const descent_transform_def signum = {
    .name = "signum",
    .summary = "the sign of a momentum (Bernstein et al. 2018)",
    .formula = "m <- beta m + (1 - beta) u;  u <- sign(m)",
    .params = signum_params,
    .n_params = 1,
    .n_state = 1, /* m */
    .update = signum_update,
};

/* ---- the program ----------------------------------------------------------- */

int main(int argc, char **argv) {
  const char *spec = argc > 1 ? argv[1] : "adam";
  const char *lr = argc > 2 && strcmp(argv[2], "-") != 0 ? argv[2] : NULL;
  long steps = argc > 3 ? strtol(argv[3], NULL, 10) : 3000;
  if (steps <= 0) {
    fprintf(stderr, "step_buffers: STEPS must be a positive number, got '%s'\n", argv[3]);
    return 2;
  }

  /* Register signum before any optimizer that may use it is created. */
  if (descent_transform_register(&signum) != DESCENT_OK) {
    fprintf(stderr, "step_buffers: %s\n", descent_last_error());
    return 1;
  }

  static problem p;
  make_problem(&p);
  descent_real w[N_FEATURES] = {0}, grad[N_FEATURES];

  /* One optimizer for our N_FEATURES numbers; it keeps its state, we keep w. */
  descent_optimizer *opt = NULL;
  if (descent_optimizer_create(&opt, spec, lr, N_FEATURES) != DESCENT_OK) {
    fprintf(stderr, "step_buffers: %s\n", descent_last_error());
    return 1;
  }
  char text[1024];
  descent_optimizer_describe(opt, text, sizeof text);
  printf("optimizer: %s\n", text);

  double loss = 0;
  for (long k = 0; k < steps; k++) {
    loss = loss_and_gradient(&p, w, grad);
    if (k % (steps / 5 > 0 ? steps / 5 : 1) == 0) printf("step %6ld  loss %.6g\n", k, loss);
    if (descent_optimizer_step_buffers(opt, w, grad, N_FEATURES) != DESCENT_OK) {
      fprintf(stderr, "step_buffers: %s\n", descent_last_error());
      descent_optimizer_free(opt);
      return 1;
    }
  }
  /* Schedule-free optimizers are evaluated at another point than the one
     they take gradients at; for the others this changes nothing. */
  descent_optimizer_eval_buffers(opt, w, N_FEATURES);
  loss = loss_and_gradient(&p, w, grad);

  double max_error = 0;
  printf("%-8s %10s %10s\n", "weight", "fitted", "true");
  for (int j = 0; j < N_FEATURES; j++) {
    printf("w[%d]     %10.6f %10.6f\n", j, (double)w[j], (double)p.w_true[j]);
    max_error = fmax(max_error, fabs((double)w[j] - (double)p.w_true[j]));
  }
  printf("loss %.6g after %ld steps\n", loss, steps);
  printf("max error %.6g\n", max_error);
  descent_optimizer_free(opt);
  return 0;
}
