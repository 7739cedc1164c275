/*
 * test_optim_formulas.c - each transform's formula on examples small enough
 * to work out by hand, the schedules' values at known points, the canonical
 * describe() texts, and the fused step's independence from the number of
 * threads. (Step-by-step agreement with PyTorch is test_parity's job.)
 */
#include "check.h"
#include "optim/optimizer.h"

#include <math.h>
#include <stdlib.h>

/* float keeps about 7 digits; the double build is checked as tightly. */
#define TOL (sizeof(descent_real) == 4 ? 2e-6 : 1e-13)

#define N_MAX 8

typedef struct run {
  descent_optimizer *opt;
  descent_real p[N_MAX], g[N_MAX];
  descent_objective obj;
} run;

static int run_start(run *r, const char *spec, const char *lr, size_t n, const double *p0) {
  memset(r, 0, sizeof *r);
  for (size_t i = 0; i < n; i++) r->p[i] = (descent_real)p0[i];
  r->obj = (descent_objective){.n_params = n, .params = r->p, .grad = r->g};
  int rc = descent_optimizer_create(&r->opt, spec, lr, n);
  CHECK_MSG(rc == DESCENT_OK, "%s: %s", spec, descent_last_error());
  return rc == DESCENT_OK;
}

static void run_step(run *r, const double *g) {
  for (size_t i = 0; i < r->obj.n_params; i++) r->g[i] = (descent_real)g[i];
  CHECK_OK(descent_optimizer_step(r->opt, &r->obj));
}

static void run_end(run *r) {
  descent_optimizer_free(r->opt);
}

static const double zeros[N_MAX] = {0};

/* v = mu v + g, theta -= alpha v: the lecture's momentum, and PyTorch's. */
static void check_momentum(void) {
  run r;
  double one[1] = {1};
  if (!run_start(&r, "momentum", "0.1", 1, zeros)) return;
  for (int k = 0; k < 3; k++) run_step(&r, one);
  CHECK_REL(r.p[0], -0.1 * (1 + 1.9 + 2.71), TOL);
  run_end(&r);
  /* Dampening scales every gradient but the first, which starts the buffer. */
  if (!run_start(&r, "sgd(momentum=0.5, dampening=0.5)", "1", 1, zeros)) return;
  run_step(&r, one);
  CHECK_REL(r.p[0], -1, TOL);
  run_step(&r, one);
  CHECK_REL(r.p[0], -1 - (0.5 * 1 + 0.5 * 1), TOL);
  run_end(&r);
  /* Nesterov: u = g + mu b with b as above. */
  if (!run_start(&r, "nesterov", "0.1", 1, zeros)) return;
  run_step(&r, one);
  CHECK_REL(r.p[0], -0.1 * 1.9, TOL);
  run_step(&r, one);
  CHECK_REL(r.p[0], -0.1 * 1.9 - 0.1 * (1 + 0.9 * 1.9), TOL);
  run_end(&r);
  /* Coupled weight decay enters the buffer: g + wd theta. */
  double p0[1] = {2};
  if (!run_start(&r, "sgd(weight_decay=0.5)", "0.1", 1, p0)) return;
  run_step(&r, one);
  CHECK_REL(r.p[0], 2 - 0.1 * (1 + 0.5 * 2), TOL);
  run_end(&r);
}

/* The first steps of optax's AdaBelief, Yogi and AdEMAMix, worked out by
   hand from optax's formulas (optimizers.md), then the fused step of each
   (transform, lr and the add in one pass) against the separate passes. */
static void check_optax_methods(void) {
  run r;
  double g[2] = {0.5, -3};
  /* AdaBelief: m = 0.1 g, s = 0.001 (0.9 g)^2 + eps_root; corrected, u =
     g / (sqrt(0.81 g^2 + 1e-13) + 1e-16). */
  if (!run_start(&r, "adabelief", "0.01", 2, zeros)) return;
  run_step(&r, g);
  for (int i = 0; i < 2; i++)
    CHECK_REL(r.p[i], -0.01 * g[i] / (sqrt(0.81 * g[i] * g[i] + 1e-13) + 1e-16), TOL);
  run_end(&r);
  /* Yogi: m and v start at 1e-6; v < g^2 grows by 0.001 g^2; corrected,
     u = (g + 9e-6) / (sqrt(1e-3 + g^2) + 1e-3). */
  if (!run_start(&r, "yogi", "0.01", 2, zeros)) return;
  run_step(&r, g);
  for (int i = 0; i < 2; i++)
    CHECK_REL(r.p[i], -0.01 * (g[i] + 9e-6) / (sqrt(1e-3 + g[i] * g[i]) + 1e-3), TOL);
  run_end(&r);
  /* AdEMAMix: u = (g + alpha (1-b3) g) / (|g| + eps); with the b3 warmup,
     b3 starts at b1 (to rounding), so m2 = 0.1 g; with alpha's, alpha = 0. */
  const char *specs[] = {"ademamix", "ademamix(b3_warmup=10)", "ademamix(alpha_warmup=10)"};
  const double mix[] = {5 * 1e-4, 5 * 0.1, 0};
  for (int s = 0; s < 3; s++) {
    if (!run_start(&r, specs[s], "0.01", 2, zeros)) return;
    run_step(&r, g);
    for (int i = 0; i < 2; i++)
      CHECK_REL(r.p[i], -0.01 * g[i] * (1 + mix[s]) / (fabs(g[i]) + 1e-8), TOL);
    run_end(&r);
  }
  /* Fused (named, "T | lr") and separate passes ("T | wd(0) | lr", where
     u + 0 theta = u): the same bits, on every element and step. */
  const char *fused[][2] = {
      {"adabelief(nesterov=1)", "adabelief(nesterov=1) | wd(0)"},
      {"adabelief", "adabelief | wd(0)"},
      {"yogi", "yogi | wd(0)"},
      {"ademamix(alpha_warmup=2, b3_warmup=3)", "ademamix(alpha_warmup=2, b3_warmup=3) | wd(0)"},
  };
  for (int f = 0; f < 4; f++) {
    run a, b;
    double p0[N_MAX], gk[N_MAX];
    for (int i = 0; i < N_MAX; i++) p0[i] = (i % 3) - 0.7 * i;
    if (!run_start(&a, fused[f][0], "0.01", N_MAX, p0)) return;
    if (!run_start(&b, fused[f][1], "0.01", N_MAX, p0)) {
      run_end(&a);
      return;
    }
    for (int k = 0; k < 6; k++) {
      for (int i = 0; i < N_MAX; i++) gk[i] = k == 2 ? 0 : sin(1.0 + i * 0.7 + k) * (i + 1);
      run_step(&a, gk);
      run_step(&b, gk);
    }
    CHECK_MSG(memcmp(a.p, b.p, sizeof a.p) == 0, "%s: the fused step differs from the passes",
              fused[f][0]);
    run_end(&a);
    run_end(&b);
  }
}

/* Adam's first step moves each coordinate by about lr sign(g). */
static void check_adam(void) {
  run r;
  double g[4] = {0.5, -3, 1e-3, 0};
  if (!run_start(&r, "adam", "0.01", 4, zeros)) return;
  run_step(&r, g);
  CHECK_REL(r.p[0], -0.01 * 0.5 / (0.5 + 1e-8), TOL);
  CHECK_REL(r.p[1], 0.01 * 3 / (3 + 1e-8), TOL);
  CHECK_REL(r.p[2], -0.01 * 1e-3 / (1e-3 + 1e-8), TOL); /* eps: 1e-5 of the value */
  CHECK(r.p[3] == 0);
  run_end(&r);

  /* AMSGrad divides by the largest v seen: after g = 2 then g = 0, v has
     decayed but its maximum has not. */
  double two[1] = {2};
  double b1 = 0.9, b2 = 0.999, v1 = (1 - b2) * 4, m2 = b1 * (1 - b1) * 2;
  double bc1 = 1 - b1 * b1, bc2 = 1 - b2 * b2;
  double first = 0.01 * 2 / (sqrt(4.0) + 1e-8);
  if (!run_start(&r, "amsgrad", "0.01", 1, zeros)) return;
  run_step(&r, two);
  run_step(&r, zeros);
  CHECK_REL(r.p[0], -first - 0.01 * (m2 / bc1) / (sqrt(v1) / sqrt(bc2) + 1e-8), TOL);
  run_end(&r);
  if (!run_start(&r, "adam", "0.01", 1, zeros)) return;
  run_step(&r, two);
  run_step(&r, zeros);
  CHECK_REL(r.p[0], -first - 0.01 * (m2 / bc1) / (sqrt(b2 * v1) / sqrt(bc2) + 1e-8), TOL);
  run_end(&r);

  /* Decoupled (adamw): with a zero gradient only theta (1 - lr wd) remains.
     Coupled (adam's weight_decay): the decay is normalized like a gradient. */
  double p0[1] = {1};
  if (!run_start(&r, "adamw(weight_decay=0.1)", "0.01", 1, p0)) return;
  run_step(&r, zeros);
  CHECK_REL(r.p[0], 1 - 0.01 * 0.1, TOL);
  run_end(&r);
  if (!run_start(&r, "adam(weight_decay=0.1)", "0.01", 1, p0)) return;
  run_step(&r, zeros);
  CHECK_REL(r.p[0], 1 - 0.01 * 0.1 / (0.1 + 1e-8), TOL);
  run_end(&r);
}

/* NAdam, RAdam and Adamax by hand (torch.optim's formulas). */
static void check_adam_family(void) {
  run r;
  double half[1] = {0.5}, one[1] = {1}, two[1] = {2}, p0[1] = {1};
  /* NAdam: the first step's denominator is |g| + eps; the second, with a
     zero gradient, moves by the momentum term alone, through the product
     mu_1 mu_2 of the momentum schedule (persistent state). */
  double b1 = 0.9, b2 = 0.999, psi = 4e-3, eps = 1e-8;
  double mu1 = b1 * (1 - 0.5 * pow(0.96, psi)), mu2 = b1 * (1 - 0.5 * pow(0.96, 2 * psi));
  double mu3 = b1 * (1 - 0.5 * pow(0.96, 3 * psi));
  double d1 = 0.5 + eps, u1 = 0.5 / d1 + mu2 / (1 - mu1 * mu2) * (1 - b1) * 0.5 / d1;
  double m2 = b1 * (1 - b1) * 0.5, v2 = b2 * (1 - b2) * 0.25;
  double d2 = sqrt(v2 / (1 - b2 * b2)) + eps, u2 = mu3 / (1 - mu1 * mu2 * mu3) * m2 / d2;
  if (!run_start(&r, "nadam", "0.01", 1, zeros)) return;
  run_step(&r, half);
  CHECK_REL(r.p[0], -0.01 * u1, TOL);
  run_step(&r, zeros);
  CHECK_REL(r.p[0], -0.01 * u1 - 0.01 * u2, TOL);
  run_end(&r);
  /* Decoupled decay: theta (1 - lr wd) with a zero gradient; coupled: the
     decay normalized like a gradient. */
  if (!run_start(&r, "nadam(weight_decay=0.1, decoupled_weight_decay=1)", "0.01", 1, p0)) return;
  run_step(&r, zeros);
  CHECK_REL(r.p[0], 1 - 0.01 * 0.1, TOL);
  run_end(&r);
  if (!run_start(&r, "radam(weight_decay=0.1, decoupled_weight_decay=1)", "0.01", 1, p0)) return;
  run_step(&r, zeros);
  CHECK_REL(r.p[0], 1 - 0.01 * 0.1, TOL);
  run_end(&r);
  if (!run_start(&r, "adamax(weight_decay=0.1)", "0.01", 1, p0)) return;
  run_step(&r, zeros);
  CHECK_REL(r.p[0], 1 - 0.01 * 0.1 / (0.1 + eps), TOL);
  run_end(&r);

  /* RAdam with g = 1: rho_t <= 5 for five steps, each moving by lr m/(1-b1^t)
     = lr; the sixth is rectified, sqrt(v/(1-b2^t)) = 1. */
  double rho_inf = 2 / (1 - b2) - 1, bc2 = 1 - pow(b2, 6);
  double rho = rho_inf - 2 * 6 * pow(b2, 6) / bc2;
  double rect = sqrt((rho - 4) * (rho - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho));
  if (!run_start(&r, "radam", "0.01", 1, zeros)) return;
  for (int k = 0; k < 5; k++) run_step(&r, one);
  CHECK_REL(r.p[0], -0.05, TOL);
  run_step(&r, one);
  CHECK_REL(r.p[0], -0.05 - 0.01 * sqrt(bc2) / (sqrt(bc2) + eps) * rect, TOL);
  run_end(&r);

  /* Adamax: e = |g| + eps first, then b2 e when that is larger. */
  double e1 = 2 + eps, e2 = b2 * e1;
  if (!run_start(&r, "adamax", "0.01", 1, zeros)) return;
  run_step(&r, two);
  CHECK_REL(r.p[0], -0.01 * 0.2 / e1 / 0.1, TOL);
  run_step(&r, zeros);
  CHECK_REL(r.p[0], -0.01 * 0.2 / e1 / 0.1 - 0.01 * 0.18 / e2 / 0.19, TOL);
  run_end(&r);
}

static void check_adagrad_rmsprop(void) {
  run r;
  double g[2] = {2, -0.5}, one[1] = {1};
  /* First step: s = g^2, so u = g / (|g| + eps) ~ sign(g). */
  if (!run_start(&r, "adagrad", "0.1", 2, zeros)) return;
  run_step(&r, g);
  CHECK_REL(r.p[0], -0.1 * 2 / (2 + 1e-10), TOL);
  CHECK_REL(r.p[1], 0.1 * 0.5 / (0.5 + 1e-10), TOL);
  run_end(&r);
  /* The accumulator starts at initial_accumulator_value; lr_decay divides the
     t-th step's rate by 1 + (t-1) lr_decay. */
  if (!run_start(&r, "adagrad(initial_accumulator_value=1, lr_decay=0.5)", "0.1", 1, zeros)) return;
  run_step(&r, one);
  CHECK_REL(r.p[0], -0.1 / (sqrt(2.0) + 1e-10), TOL);
  run_step(&r, one);
  CHECK_REL(r.p[0], -0.1 / (sqrt(2.0) + 1e-10) - 0.1 / 1.5 / (sqrt(3.0) + 1e-10), TOL);
  run_end(&r);
  /* RMSprop's first step: v = (1-alpha) g^2, eps outside the root. */
  if (!run_start(&r, "rmsprop", "0.01", 2, zeros)) return;
  run_step(&r, g);
  CHECK_REL(r.p[0], -0.01 * 2 / (sqrt(0.01 * 4) + 1e-8), TOL);
  CHECK_REL(r.p[1], 0.01 * 0.5 / (sqrt(0.01 * 0.25) + 1e-8), TOL);
  run_end(&r);
  /* Centered: v - a^2 = alpha (1-alpha) g^2 after one step. */
  if (!run_start(&r, "rmsprop(centered=1)", "0.01", 1, zeros)) return;
  run_step(&r, one);
  CHECK_REL(r.p[0], -0.01 / (sqrt(0.99 * 0.01) + 1e-8), TOL);
  run_end(&r);
  /* With momentum: b = mu b + g / avg, theta -= lr b. */
  if (!run_start(&r, "rmsprop(momentum=0.5, alpha=0.5)", "0.01", 1, zeros)) return;
  run_step(&r, one);
  double u1 = 1 / (sqrt(0.5) + 1e-8), u2 = 1 / (sqrt(0.75) + 1e-8);
  run_step(&r, one);
  CHECK_REL(r.p[0], -0.01 * u1 - 0.01 * (0.5 * u1 + u2), TOL);
  run_end(&r);
  /* bias_correction=1 divides v by 1 - alpha^t: the first step is ~ sign(g). */
  if (!run_start(&r, "rmsprop(alpha=0.999, bias_correction=1) | lr(0.01)", NULL, 2, zeros)) return;
  run_step(&r, g);
  CHECK_REL(r.p[0], -0.01 * 2 / (2 + 1e-8), TOL);
  CHECK_REL(r.p[1], 0.01 * 0.5 / (0.5 + 1e-8), TOL);
  run_end(&r);
}

static void check_lion_and_clipping(void) {
  run r;
  double g[3] = {0.5, -2, 0}, p0[3] = {1, 1, 1};
  if (!run_start(&r, "lion(weight_decay=0.5)", "0.1", 3, p0)) return;
  run_step(&r, g);
  CHECK_REL(r.p[0], 1 - 0.1 * (1 + 0.5), TOL);
  CHECK_REL(r.p[1], 1 - 0.1 * (-1 + 0.5), TOL);
  CHECK_REL(r.p[2], 1 - 0.1 * 0.5, TOL); /* sign(0) = 0 */
  run_end(&r);
  /* Lion's sign comes from b1 m + (1-b1) g, its memory from b2: after g = 1
     then g = -1, m = 0.01 and c = 0.9 * 0.01 - 0.1 < 0. */
  double one[1] = {1}, minus[1] = {-1};
  if (!run_start(&r, "lion", "0.1", 1, zeros)) return;
  run_step(&r, one);
  run_step(&r, minus);
  CHECK_CLOSE(r.p[0], -0.1 + 0.1, TOL);
  run_end(&r);

  /* clip(1): ||(3, 4)|| = 5 is scaled to 1; clip(10) leaves it. */
  double g2[2] = {3, 4};
  if (!run_start(&r, "clip(1)", "1", 2, zeros)) return;
  run_step(&r, g2);
  CHECK_REL(r.p[0], -3 / (5 + 1e-6), TOL);
  CHECK_REL(r.p[1], -4 / (5 + 1e-6), TOL);
  run_end(&r);
  if (!run_start(&r, "clip(10) | lr(1)", NULL, 2, zeros)) return;
  run_step(&r, g2);
  CHECK(r.p[0] == -3 && r.p[1] == -4);
  run_end(&r);
  /* A clip after momentum sees the buffer, not the gradient. */
  if (!run_start(&r, "momentum(0.5) | clip(1)", "1", 2, zeros)) return;
  run_step(&r, g2);
  run_step(&r, g2);
  CHECK_REL(r.p[0], -3 / (5 + 1e-6) - 4.5 / (7.5 + 1e-6), TOL); /* b2 = (4.5, 6) */
  run_end(&r);
  double g3[3] = {2, -3, 0.1};
  if (!run_start(&r, "clip_value(0.5)", "1", 3, zeros)) return;
  run_step(&r, g3);
  CHECK(r.p[0] == -0.5f && r.p[1] == 0.5f && r.p[2] == (descent_real)-0.1);
  run_end(&r);
}

/* Every eps, where it decides the result: gradients small enough that the
   denominator's eps is a percent or more of it, compared relatively. With
   gradients of order 1 an eps of 1e-8 moves the result by 1e-8 of itself,
   below float's resolution: an update computed without it would pass. */
static void check_eps(void) {
  run r;
  double g[1] = {1e-6}, tiny[1] = {1e-9}, small[1] = {1e-7};
  /* Adam's first step: m / (1 - b1) = g and sqrt(v / (1 - b2)) = |g|. */
  if (!run_start(&r, "adam", "0.01", 1, zeros)) return;
  run_step(&r, g);
  CHECK_REL(r.p[0], -0.01 * 1e-6 / (1e-6 + 1e-8), TOL);
  run_end(&r);
  if (!run_start(&r, "amsgrad", "0.01", 1, zeros)) return;
  run_step(&r, g);
  CHECK_REL(r.p[0], -0.01 * 1e-6 / (1e-6 + 1e-8), TOL);
  run_end(&r);
  /* The same through a chain (the unfused loops) and with another eps. */
  if (!run_start(&r, "adam(eps=1e-7) | wd(0) | lr(0.01)", NULL, 1, zeros)) return;
  run_step(&r, g);
  CHECK_REL(r.p[0], -0.01 * 1e-6 / (1e-6 + 1e-7), TOL);
  run_end(&r);
  /* Adagrad's eps (1e-10) against sqrt(s) = |g| = 1e-9. */
  if (!run_start(&r, "adagrad", "0.1", 1, zeros)) return;
  run_step(&r, tiny);
  CHECK_REL(r.p[0], -0.1 * 1e-9 / (1e-9 + 1e-10), TOL);
  run_end(&r);
  /* RMSprop: sqrt(v) = 0.1 |g| = 1e-8, as large as eps; centered:
     sqrt(0.0099) |g|; bias-corrected: |g|. */
  if (!run_start(&r, "rmsprop", "0.01", 1, zeros)) return;
  run_step(&r, small);
  CHECK_REL(r.p[0], -0.01 * 1e-7 / (sqrt(0.01) * 1e-7 + 1e-8), TOL);
  run_end(&r);
  if (!run_start(&r, "rmsprop(centered=1)", "0.01", 1, zeros)) return;
  run_step(&r, small);
  CHECK_REL(r.p[0], -0.01 * 1e-7 / (sqrt(0.0099) * 1e-7 + 1e-8), TOL);
  run_end(&r);
  if (!run_start(&r, "rmsprop(alpha=0.999, bias_correction=1) | lr(0.01)", NULL, 1, zeros)) return;
  run_step(&r, g);
  CHECK_REL(r.p[0], -0.01 * 1e-6 / (1e-6 + 1e-8), TOL);
  run_end(&r);
  /* clip's 1e-6 against a norm of 5e-6: the scale is 1/6, not 1/5. */
  double g2[2] = {3e-6, 4e-6};
  if (!run_start(&r, "clip(1e-6)", "1", 2, zeros)) return;
  run_step(&r, g2);
  CHECK_REL(r.p[0], -3e-6 * 1e-6 / (5e-6 + 1e-6), TOL);
  CHECK_REL(r.p[1], -4e-6 * 1e-6 / (5e-6 + 1e-6), TOL);
  run_end(&r);
}

/* Schedule-free SGD with equal weights: x is the running mean of the z's. */
static void check_schedule_free(void) {
  run r;
  double p0[2] = {1, -1}, g1[2] = {1, 2}, g2[2] = {3, -1};
  double lr = 0.1, mu = 0.9;
  if (!run_start(&r, "sf_sgd", "0.1", 2, p0)) return;
  /* Before the first step, evaluation and training points coincide. */
  CHECK_OK(descent_optimizer_eval(r.opt, &r.obj));
  CHECK(r.p[0] == 1 && r.p[1] == -1);
  CHECK_OK(descent_optimizer_train(r.opt, &r.obj));
  run_step(&r, g1);
  /* c_1 = 1: y = z = x = theta0 - lr g1. */
  for (int i = 0; i < 2; i++) CHECK_REL(r.p[i], p0[i] - lr * g1[i], TOL);
  run_step(&r, g2);
  /* c_2 = 1/2: z2 = z1 - lr g2, x2 = (x1 + z2) / 2, y2 = mu x2 + (1-mu) z2. */
  for (int i = 0; i < 2; i++) {
    double z1 = p0[i] - lr * g1[i], z2 = z1 - lr * g2[i], x2 = (z1 + z2) / 2;
    CHECK_REL(r.p[i], mu * x2 + (1 - mu) * z2, TOL);
  }
  descent_real y[2] = {r.p[0], r.p[1]};
  CHECK_OK(descent_optimizer_eval(r.opt, &r.obj));
  for (int i = 0; i < 2; i++) {
    double z1 = p0[i] - lr * g1[i], z2 = z1 - lr * g2[i];
    CHECK_REL(r.p[i], (z1 + z2) / 2, TOL);
  }
  CHECK_OK(descent_optimizer_eval(r.opt, &r.obj)); /* twice: no further move */
  CHECK_REL(r.p[0], (p0[0] - lr * g1[0] + p0[0] - lr * g1[0] - lr * g2[0]) / 2, TOL);
  CHECK_OK(descent_optimizer_train(r.opt, &r.obj));
  CHECK_REL(r.p[0], y[0], TOL);
  CHECK_REL(r.p[1], y[1], TOL);
  CHECK(descent_optimizer_lr(r.opt) == 0.1);
  run_end(&r);
  /* The built-in warmup shows in the rate. */
  if (!run_start(&r, "sf_sgd(warmup_steps=4)", "1", 2, p0)) return;
  CHECK(descent_optimizer_lr(r.opt) == 0.25);
  run_step(&r, g1);
  CHECK(descent_optimizer_lr(r.opt) == 0.5);
  run_end(&r);
  /* Other optimizers: eval and train leave the parameters alone. */
  if (!run_start(&r, "adam", NULL, 2, p0)) return;
  run_step(&r, g1);
  descent_real before[2] = {r.p[0], r.p[1]};
  CHECK_OK(descent_optimizer_eval(r.opt, &r.obj));
  CHECK(memcmp(before, r.p, sizeof before) == 0);
  CHECK_OK(descent_optimizer_train(r.opt, &r.obj));
  CHECK(memcmp(before, r.p, sizeof before) == 0);
  run_end(&r);
}

/* Adadelta, Rprop and ASGD (transforms_classic.c) on steps worked out by hand. */
static void check_classic(void) {
  run r;
  double one[1] = {1}, minus[1] = {-1};
  /* Adadelta's first step: v = (1-rho) g^2, d = sqrt(eps) / sqrt(v + eps) g. */
  if (!run_start(&r, "adadelta", "0.5", 1, zeros)) return;
  run_step(&r, one);
  CHECK_REL(r.p[0], -0.5 * sqrt(1e-6) / sqrt(0.1 + 1e-6), TOL);
  run_end(&r);
  /* Rprop: the step size grows while the sign holds, shrinks at a flip, and
     the flipped gradient is zeroed (no move, and no change at the next). */
  if (!run_start(&r, "rprop", NULL, 1, zeros)) return;
  run_step(&r, one);
  CHECK_REL(r.p[0], -0.01, TOL);
  run_step(&r, one);
  CHECK_REL(r.p[0], -0.01 - 0.012, TOL);
  run_step(&r, minus);
  CHECK_REL(r.p[0], -0.022, TOL);
  run_step(&r, minus);
  CHECK_REL(r.p[0], -0.022 + 0.006, TOL);
  CHECK(descent_optimizer_lr(r.opt) == 0.01);
  run_end(&r);
  /* ASGD without decay: mu = 1 up to step t0 + 2, then ax averages. */
  if (!run_start(&r, "asgd(lambd=0, t0=1)", "0.1", 1, zeros)) return;
  for (int k = 0; k < 5; k++) run_step(&r, one);
  CHECK_REL(r.p[0], -0.5, TOL);
  descent_real y = r.p[0];
  CHECK_OK(descent_optimizer_eval(r.opt, &r.obj));
  CHECK_REL(r.p[0], -0.35 + (-0.5 + 0.35) / 3, TOL);
  CHECK_OK(descent_optimizer_eval(r.opt, &r.obj)); /* twice: no further move */
  CHECK_REL(r.p[0], -0.4, TOL);
  CHECK_OK(descent_optimizer_train(r.opt, &r.obj));
  CHECK(r.p[0] == y); /* the swap back is exact */
  run_end(&r);
  /* Its rate decays with the step count: eta_2 = lr / (1 + lambd lr)^alpha. */
  if (!run_start(&r, "asgd(lambd=0.5, alpha=1)", "0.1", 1, zeros)) return;
  run_step(&r, zeros);
  run_step(&r, one);
  CHECK_REL(r.p[0], -0.1 / (1 + 0.05), TOL);
  run_end(&r);
}

/* Novograd on one tensor of two parameters: nu = ||g||^2 at the first step,
   then (1-b2) ||g||^2 + b2 nu, kept from step to step; m = g / sqrt(nu) at
   the first step, then b1 m + g / sqrt(nu). */
static void check_novograd(void) {
  run r;
  const double g1[2] = {3, 4}, g2[2] = {0, 5}, g3[2] = {0, 1};
  if (!run_start(&r, "novograd(b1=0.5, b2=0.5, eps=1e-300)", "0.1", 2, zeros)) return;
  run_step(&r, g1); /* nu = 25, m = (0.6, 0.8) */
  CHECK_REL(r.p[0], -0.06, TOL);
  CHECK_REL(r.p[1], -0.08, TOL);
  run_step(&r, g2); /* nu = 25, m = (0.3, 1.4) */
  CHECK_REL(r.p[0], -0.09, TOL);
  CHECK_REL(r.p[1], -0.22, TOL);
  run_step(&r, g3); /* nu = 0.5 + 12.5 = 13, m = (0.15, 0.7 + 1/sqrt(13)) */
  CHECK_REL(r.p[0], -0.105, TOL);
  CHECK_REL(r.p[1], -0.29 - 0.1 / sqrt(13), TOL);
  run_end(&r);
  /* Weight decay is added to the normalized gradient, inside the moment. */
  const double p0[1] = {2}, g[1] = {-1};
  if (!run_start(&r, "novograd(b1=0.5, eps=1e-300, weight_decay=0.25)", "0.1", 1, p0)) return;
  run_step(&r, g); /* m = -1 + 0.5 */
  CHECK_REL(r.p[0], 2.05, TOL);
  run_end(&r);
}

/* Adadelta's fused step (adadelta | lr) and its separate passes (with a
   wd(0) between, which adds zero) give the same bits. */
static void check_fused_adadelta(void) {
  run a, b;
  double p0[3] = {0.5, -1, 2}, g[3] = {0.3, -0.7, 1e-3};
  if (!run_start(&a, "adadelta | lr(0.7)", NULL, 3, p0)) return;
  if (!run_start(&b, "adadelta | wd(0) | lr(0.7)", NULL, 3, p0)) return;
  for (int k = 0; k < 4; k++) {
    run_step(&a, g);
    run_step(&b, g);
  }
  CHECK(memcmp(a.p, b.p, 3 * sizeof a.p[0]) == 0);
  run_end(&a);
  run_end(&b);
}

static double value(const char *text, int64_t t) {
  descent_schedule *s = NULL;
  int rc = descent_schedule_parse(&s, text);
  CHECK_MSG(rc == DESCENT_OK, "%s: %s", text, descent_last_error());
  double v = s ? descent_schedule_value(s, t) : NAN;
  descent_schedule_free(s);
  return v;
}

static void check_schedules(void) {
  CHECK(value("0.1", 1000) == 0.1);
  CHECK(value("constant(0.1)", 0) == 0.1);
  /* Warmup multiplies by (t+1)/W, then leaves the schedule alone. */
  CHECK_REL(value("constant(0.1, warmup=4)", 0), 0.025, 1e-15);
  CHECK_REL(value("constant(0.1, warmup=4)", 1), 0.05, 1e-15);
  CHECK_REL(value("constant(0.1, warmup=4)", 3), 0.1, 1e-15);
  CHECK(value("constant(0.1, warmup=4)", 4) == 0.1);
  CHECK_REL(value("cosine(1, 10, warmup=5)", 1), 0.4 * (1 + cos(3.14159265358979323846 / 10)) / 2,
            1e-15);
  /* Robbins-Monro and polynomial decay. */
  CHECK_REL(value("inv(1, 10)", 10), 0.5, 1e-15);
  CHECK_REL(value("inv(1, tau=10)", 30), 0.25, 1e-15);
  CHECK_REL(value("poly(1, 2)", 1), 0.25, 1e-15);
  CHECK_REL(value("poly(1, 0.5, tau=4)", 12), 0.5, 1e-15);
  /* Step and exponential. */
  CHECK(value("step(1, 3, gamma=0.5)", 2) == 1);
  CHECK(value("step(1, 3, gamma=0.5)", 3) == 0.5);
  CHECK(value("step(1, 3, gamma=0.5)", 6) == 0.25);
  CHECK_REL(value("step(1, 3)", 3), 0.1, 1e-15);
  CHECK(value("exp(1, 0.5)", 3) == 0.125);
  /* Cosine: lr at 0, the midpoint (lr + min) / 2, min at and after `steps`. */
  CHECK(value("cosine(0.1, 100, min_lr=0.02)", 0) == 0.1);
  CHECK_REL(value("cosine(0.1, 100, min_lr=0.02)", 50), 0.06, 1e-15);
  CHECK_REL(value("cosine(0.1, 100, min_lr=0.02)", 100), 0.02, 1e-15);
  CHECK(value("cosine(0.1, 100, min_lr=0.02)", 1000) == 0.02);
  /* Linear: PyTorch's LinearLR factors. */
  CHECK_REL(value("linear(1, 10)", 5), 0.5, 1e-15);
  CHECK(value("linear(1, 10)", 10) == 0);
  CHECK(value("linear(1, 10)", 20) == 0);
  CHECK(value("linear(1, 10, end_factor=1, start_factor=0.5)", 0) == 0.5);
  CHECK_REL(value("linear(1, 10, end_factor=1, start_factor=0.5)", 4), 0.7, 1e-15);
  /* WSD: the plateau, the linear decay over the last 20%, zero at the end. */
  CHECK(value("wsd(1, 100)", 0) == 1);
  CHECK(value("wsd(1, 100)", 79) == 1);
  CHECK(value("wsd(1, 100)", 80) == 1);
  CHECK_REL(value("wsd(1, 100)", 90), 0.5, 1e-15);
  CHECK_REL(value("wsd(1, 100)", 99), 0.05, 1e-15);
  CHECK(value("wsd(1, 100)", 100) == 0);
  CHECK(value("wsd(1, 100, decay=0)", 99) == 1 && value("wsd(1, 100, decay=0)", 100) == 0);
  CHECK_REL(value("wsd(1, 100, warmup=10)", 4), 0.5, 1e-15);
  CHECK(value("wsd(1, 100, warmup=10)", 50) == 1);

  /* describe() reads back as the same schedule. */
  const char *texts[] = {"0.001", "constant(0.1, warmup=3)", "cosine(1e-3, 500, 1e-5, 50)",
                         "wsd(0.3, 1000, decay=0.1)", "poly(0.123456789, 0.75)"};
  for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
    descent_schedule *a = NULL, *b = NULL;
    char text[256];
    CHECK_OK(descent_schedule_parse(&a, texts[i]));
    if (!a) continue;
    descent_schedule_describe(a, text, sizeof text);
    CHECK_OK(descent_schedule_parse(&b, text));
    for (int64_t t = 0; b && t < 600; t += 7)
      CHECK_MSG(descent_schedule_value(a, t) == descent_schedule_value(b, t), "%s -> %s at %lld",
                texts[i], text, (long long)t);
    descent_schedule_free(a);
    descent_schedule_free(b);
  }
  descent_schedule *s = NULL;
  char text[256];
  CHECK_OK(descent_schedule_parse(&s, "cosine(1e-3, warmup=500, steps=10000)"));
  if (s) descent_schedule_describe(s, text, sizeof text);
  CHECK_MSG(s && strcmp(text, "cosine(lr=0.001, steps=10000, min_lr=0, warmup=500)") == 0, "%s",
            text);
  descent_schedule_free(s);
}

static void check_describe(const char *spec, const char *lr, const char *want) {
  descent_optimizer *opt = NULL;
  char text[512] = "";
  CHECK_OK(descent_optimizer_create(&opt, spec, lr, 3));
  if (opt) descent_optimizer_describe(opt, text, sizeof text);
  CHECK_MSG(strcmp(text, want) == 0, "%s gave\n  '%s', want\n  '%s'", spec, text, want);
  descent_optimizer_free(opt);
}

/* Named optimizers are exact expansions into transforms; zero-valued extras
   are left out. */
static void check_expansions(void) {
  check_describe("sgd", NULL, "sgd = lr(lr=0.001)");
  check_describe("gd", "0.5", "gd = lr(lr=0.5)");
  check_describe("sgd(momentum=0.9, weight_decay=1e-4)", NULL,
                 "sgd(momentum=0.9, weight_decay=1e-4) = l2(weight_decay=0.0001) | "
                 "momentum(momentum=0.9, dampening=0, nesterov=0) | lr(lr=0.001)");
  check_describe("nesterov", NULL,
                 "nesterov = momentum(momentum=0.9, dampening=0, nesterov=1) | lr(lr=0.001)");
  check_describe("adagrad", NULL,
                 "adagrad = adagrad(lr_decay=0, initial_accumulator_value=0, eps=1e-10) | "
                 "lr(lr=0.01)");
  check_describe("rmsprop(momentum=0.9, centered=1)", NULL,
                 "rmsprop(momentum=0.9, centered=1) = rmsprop(alpha=0.99, eps=1e-08, centered=1, "
                 "bias_correction=0) | momentum(momentum=0.9, dampening=0, nesterov=0) | "
                 "lr(lr=0.01)");
  check_describe("adam", NULL,
                 "adam = adam(b1=0.9, b2=0.999, eps=1e-08, amsgrad=0) | lr(lr=0.001)");
  check_describe("adamw", NULL,
                 "adamw = adam(b1=0.9, b2=0.999, eps=1e-08, amsgrad=0) | "
                 "wd(weight_decay=0.01) | lr(lr=0.001)");
  check_describe("amsgrad(weight_decay=0.1)", "cosine(0.01, 100, warmup=10)",
                 "amsgrad(weight_decay=0.1) = l2(weight_decay=0.1) | adam(b1=0.9, b2=0.999, "
                 "eps=1e-08, amsgrad=1) | lr(lr=cosine(lr=0.01, steps=100, min_lr=0, warmup=10))");
  check_describe("lion", NULL, "lion = lion(b1=0.9, b2=0.99) | lr(lr=0.0001)");
  check_describe("adabelief", NULL,
                 "adabelief = adabelief(b1=0.9, b2=0.999, eps=1e-16, eps_root=1e-16, nesterov=0) "
                 "| lr(lr=0.001)");
  check_describe("yogi", NULL,
                 "yogi = yogi(b1=0.9, b2=0.999, eps=0.001, eps_root=0, "
                 "initial_accumulator_value=1e-06) | lr(lr=0.01)");
  check_describe("ademamix(weight_decay=0.1, b3_warmup=100)", NULL,
                 "ademamix(weight_decay=0.1, b3_warmup=100) = ademamix(b1=0.9, b2=0.999, "
                 "b3=0.9999, alpha=5, eps=1e-08, eps_root=0, alpha_warmup=0, b3_warmup=100) | "
                 "wd(weight_decay=0.1) | lr(lr=0.001)");
  check_describe("sf_sgd", NULL,
                 "sf_sgd = sf(lr=1, momentum=0.9, warmup_steps=0, r=0, weight_lr_power=2)");
  check_describe("sf_adamw(weight_decay=0.01)", NULL,
                 "sf_adamw(weight_decay=0.01) = rmsprop(alpha=0.999, eps=1e-08, centered=0, "
                 "bias_correction=1) | wd(weight_decay=0.01) | sf(lr=0.0025, momentum=0.9, "
                 "warmup_steps=0, r=0, weight_lr_power=2)");
  check_describe("clip(1.0) | adam(b1=0.9, b2=0.999) | wd(1e-2)", "1e-3",
                 "clip(max_norm=1) | adam(b1=0.9, b2=0.999, eps=1e-08, amsgrad=0) | "
                 "wd(weight_decay=0.01) | lr(lr=0.001)");
  check_describe("adam | lr(cosine(1e-3, 100, warmup=5))", NULL,
                 "adam(b1=0.9, b2=0.999, eps=1e-08, amsgrad=0) | lr(lr=cosine(lr=0.001, "
                 "steps=100, min_lr=0, warmup=5))");
  check_describe("adadelta(weight_decay=0.1)", NULL,
                 "adadelta(weight_decay=0.1) = l2(weight_decay=0.1) | adadelta(rho=0.9, "
                 "eps=1e-06) | lr(lr=1)");
  check_describe("rprop", NULL,
                 "rprop = rprop(etaminus=0.5, etaplus=1.2, step_min=1e-06, step_max=50, "
                 "lr=0.01)");
  check_describe("asgd", NULL, "asgd = asgd(lambd=0.0001, alpha=0.75, t0=1000000, lr=0.01)");
  check_describe("nadam", NULL,
                 "nadam = nadam(b1=0.9, b2=0.999, eps=1e-08, momentum_decay=0.004) | "
                 "lr(lr=0.002)");
  check_describe("nadam(weight_decay=0.1, decoupled_weight_decay=1)", NULL,
                 "nadam(weight_decay=0.1, decoupled_weight_decay=1) = nadam(b1=0.9, b2=0.999, "
                 "eps=1e-08, momentum_decay=0.004) | wd(weight_decay=0.1) | lr(lr=0.002)");
  check_describe("radam(weight_decay=0.1)", NULL,
                 "radam(weight_decay=0.1) = l2(weight_decay=0.1) | radam(b1=0.9, b2=0.999, "
                 "eps=1e-08) | lr(lr=0.001)");
  check_describe("radam(decoupled_weight_decay=1)", NULL,
                 "radam(decoupled_weight_decay=1) = radam(b1=0.9, b2=0.999, eps=1e-08) | "
                 "lr(lr=0.001)");
  check_describe("adamax(weight_decay=0.1)", NULL,
                 "adamax(weight_decay=0.1) = l2(weight_decay=0.1) | adamax(b1=0.9, b2=0.999, "
                 "eps=1e-08) | lr(lr=0.002)");
  check_describe("lamb", NULL,
                 "lamb = optax_adam(b1=0.9, b2=0.999, eps=1e-06, eps_root=0) | "
                 "trust_ratio(trust_coefficient=1, eps=0, min_norm=0) | lr(lr=0.001)");
  check_describe("lamb(weight_decay=0.01)", NULL,
                 "lamb(weight_decay=0.01) = optax_adam(b1=0.9, b2=0.999, eps=1e-06, eps_root=0) | "
                 "wd(weight_decay=0.01) | trust_ratio(trust_coefficient=1, eps=0, min_norm=0) | "
                 "lr(lr=0.001)");
  check_describe("lars", NULL,
                 "lars = trust_ratio(trust_coefficient=0.001, eps=0, min_norm=0) | "
                 "momentum(momentum=0.9, dampening=0, nesterov=0) | lr(lr=1)");
  check_describe("lars(weight_decay=1e-4, momentum=0)", "0.1",
                 "lars(weight_decay=1e-4, momentum=0) = l2(weight_decay=0.0001) | "
                 "trust_ratio(trust_coefficient=0.001, eps=0, min_norm=0) | lr(lr=0.1)");
  check_describe("muon", NULL,
                 "muon = muon_momentum(momentum=0.95, nesterov=1) | newton_schulz(steps=5, "
                 "eps=1e-07, a=3.4445, b=-4.775, c=2.0315) | muon_lr(weight_decay=0.1, "
                 "adjust_lr=0, lr=0.001)");
  check_describe("muon(nesterov=0, weight_decay=0, adjust_lr=1, ns_steps=3)", "0.02",
                 "muon(nesterov=0, weight_decay=0, adjust_lr=1, ns_steps=3) = "
                 "muon_momentum(momentum=0.95, nesterov=0) | newton_schulz(steps=3, eps=1e-07, "
                 "a=3.4445, b=-4.775, c=2.0315) | muon_lr(weight_decay=0, adjust_lr=1, lr=0.02)");
  check_describe("prodigy", NULL,
                 "prodigy = prodigy(b1=0.9, b2=0.999, b3=-1, eps=1e-08, estim_lr0=1e-06, "
                 "estim_lr_coef=1, weight_decay=0, safeguard_warmup=0, lr=1)");
  check_describe("dadapt_adamw(weight_decay=0.1)", "0.5",
                 "dadapt_adamw(weight_decay=0.1) = dadapt_adamw(b1=0.9, b2=0.999, eps=1e-08, "
                 "estim_lr0=1e-06, weight_decay=0.1, lr=0.5)");
  check_describe("novograd", NULL,
                 "novograd = novograd(b1=0.9, b2=0.25, eps=1e-06, eps_root=0, weight_decay=0) | "
                 "lr(lr=0.001)");
  check_describe("adafactor", NULL,
                 "adafactor = adafactor(beta2_decay=-0.8, eps1=-1, eps2=0.001, d=1, "
                 "weight_decay=0, lr=0.01)");
  check_describe("adafactor(weight_decay=0.1, d=2)", "0.05",
                 "adafactor(weight_decay=0.1, d=2) = adafactor(beta2_decay=-0.8, eps1=-1, "
                 "eps2=0.001, d=2, weight_decay=0.1, lr=0.05)");
  /* gd is flagged for full-batch training, nothing else is. */
  descent_optimizer *opt = NULL;
  CHECK_OK(descent_optimizer_create(&opt, "gd(momentum=0.5)", NULL, 3));
  CHECK(opt && descent_optimizer_full_batch(opt) == 1);
  descent_optimizer_free(opt);
  CHECK_OK(descent_optimizer_create(&opt, "sgd", NULL, 3));
  CHECK(opt && descent_optimizer_full_batch(opt) == 0);
  descent_optimizer_free(opt);
}

/* Many blocks, a ragged end, global norms: one thread or several, the same
   bits. */
static void check_threads(void) {
  static const char *specs[] = {"adam",
                                "clip(0.5) | rmsprop(centered=1) | momentum",
                                "momentum(0.9) | clip(1) | wd(0.1)",
                                "sf_adamw",
                                "adadelta",
                                "rprop",
                                "asgd(t0=1)"};
  size_t n = 100003;
  descent_real *p1 = malloc(n * sizeof *p1), *p2 = malloc(n * sizeof *p2);
  descent_real *g = malloc(n * sizeof *g);
  if (!p1 || !p2 || !g) goto done;
  int threads = descent_get_threads();
  for (size_t s = 0; s < sizeof specs / sizeof specs[0]; s++) {
    for (int pass = 0; pass < 2; pass++) {
      descent_real *p = pass ? p2 : p1;
      descent_set_threads(pass ? 3 : 1);
      descent_optimizer *opt = NULL;
      CHECK_OK(descent_optimizer_create(&opt, specs[s], "0.01", n));
      if (!opt) continue;
      descent_objective obj = {.n_params = n, .params = p, .grad = g};
      for (size_t i = 0; i < n; i++) p[i] = (descent_real)(i % 89) / 89;
      for (int k = 0; k < 3; k++) {
        for (size_t i = 0; i < n; i++)
          g[i] = (descent_real)((double)((i * 7 + (size_t)k) % 23) - 11);
        CHECK_OK(descent_optimizer_step(opt, &obj));
      }
      descent_optimizer_free(opt);
    }
    CHECK_MSG(memcmp(p1, p2, n * sizeof *p1) == 0, "%s: 1 and 3 threads differ", specs[s]);
  }
  descent_set_threads(threads);
done:
  free(p1), free(p2), free(g);
}

/* The chains "T | lr" that run as one pass (apply_lr_add) give the bits of
   the separate passes: a clip that never scales (its factor is exactly 1)
   in front makes the step run them. */
static void check_fused_passes(void) {
  static const char *specs[][2] = {
      {"sgd", "lr(0.01)"},
      {"momentum(dampening=0.2)", "momentum(0.9, dampening=0.2) | lr(0.01)"},
      {"nesterov", "momentum(0.9, nesterov=1) | lr(0.01)"},
      {"adam", "adam | lr(0.01)"},
      {"nadam(momentum_decay=0.05)", "nadam(momentum_decay=0.05) | lr(0.01)"},
      {"radam(b2=0.9)", "radam(b2=0.9) | lr(0.01)"},
      {"adamax(b1=0.3)", "adamax(b1=0.3) | lr(0.01)"},
  };
  size_t n = 3001;
  descent_real *p1 = malloc(n * sizeof *p1), *p2 = malloc(n * sizeof *p2);
  descent_real *g = malloc(n * sizeof *g);
  if (!p1 || !p2 || !g) goto done;
  for (size_t s = 0; s < sizeof specs / sizeof specs[0]; s++) {
    char passes[256];
    snprintf(passes, sizeof passes, "clip(1e300) | %s", specs[s][1]);
    for (int pass = 0; pass < 2; pass++) {
      descent_real *p = pass ? p2 : p1;
      descent_optimizer *opt = NULL;
      CHECK_OK(
          descent_optimizer_create(&opt, pass ? passes : specs[s][0], pass ? NULL : "0.01", n));
      if (!opt) continue;
      descent_objective obj = {.n_params = n, .params = p, .grad = g};
      for (size_t i = 0; i < n; i++) p[i] = (descent_real)((double)(i % 89) / 89 - 0.5);
      for (int k = 0; k < 9; k++) {
        for (size_t i = 0; i < n; i++)
          g[i] =
              (descent_real)(i % 31 == 0 || k == 4 ? 0
                                                   : ((double)((i * 7 + (size_t)k) % 23) - 11) / 3);
        CHECK_OK(descent_optimizer_step(opt, &obj));
      }
      descent_optimizer_free(opt);
    }
    size_t differ = check_count_differences(p1, p2, n);
    CHECK_MSG(differ == 0, "%s: %zu parameters differ between the fused and the separate passes",
              specs[s][0], differ);
  }
done:
  free(p1), free(p2), free(g);
}

/* Muon without momentum and decay is "newton_schulz | lr(lr ratio)", bit
   for bit, with ratio torch's _adjust_lr for the matrix A x B: original
   sqrt(max(1, A/B)), match_rms_adamw 0.2 sqrt(max(A, B)), spectral_unclamped
   sqrt(A/B); weight decay multiplies theta by 1 - lr wd first, with the
   unadjusted lr. */
static void muon_run(const char *spec, const char *lr, size_t rows, size_t cols,
                     descent_real *theta) {
  descent_tensor_info t = {.name = "w", .size = rows * cols, .shape = {2, {rows, cols}}};
  descent_real g[12];
  for (size_t i = 0; i < t.size; i++) {
    theta[i] = (descent_real)(0.5 - 0.1 * (double)i);
    g[i] = (descent_real)sin(1.3 * (double)i + 0.2);
  }
  descent_optimizer *opt = NULL;
  CHECK_OK(descent_optimizer_create(&opt, spec, lr, t.size));
  if (!opt) return;
  CHECK_OK(descent_optimizer_set_tensors(opt, &t, 1));
  CHECK_OK(descent_optimizer_step_buffers(opt, theta, g, t.size));
  descent_optimizer_free(opt);
}

static void check_muon(void) {
  static const struct {
    size_t rows, cols;
    double ratio[3];
  } shapes[] = {{6, 2, {1.7320508075688772, 0.2 * 2.4494897427831779, 1.7320508075688772}},
                {2, 6, {1, 0.2 * 2.4494897427831779, 0.57735026918962573}},
                {3, 4, {1, 0.4, 0.8660254037844386}}};
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
    for (int adjust = 0; adjust < 3; adjust++) {
      descent_real a[12], b[12];
      char spec[96], lr[64];
      snprintf(spec, sizeof spec, "muon(momentum=0, weight_decay=0, adjust_lr=%d)", adjust);
      muon_run(spec, "0.1", shapes[s].rows, shapes[s].cols, a);
      snprintf(lr, sizeof lr, "%.17g", 0.1 * shapes[s].ratio[adjust]);
      muon_run("newton_schulz", lr, shapes[s].rows, shapes[s].cols, b);
      CHECK_MSG(memcmp(a, b, shapes[s].rows * shapes[s].cols * sizeof *a) == 0,
                "muon adjust_lr=%d on %zux%zu: not newton_schulz | lr(%s)", adjust, shapes[s].rows,
                shapes[s].cols, lr);
    }
  /* Weight decay: theta (1 - lr wd), then the step; with a zero gradient the
     step is zero and only the decay remains. */
  descent_tensor_info t = {.name = "w", .size = 6, .shape = {2, {2, 3}}};
  descent_real theta[6] = {1, -2, 3, -4, 5, -6}, g[6] = {0};
  descent_optimizer *opt = NULL;
  CHECK_OK(descent_optimizer_create(&opt, "muon(weight_decay=0.5)", "0.1", 6));
  if (!opt) return;
  CHECK_OK(descent_optimizer_set_tensors(opt, &t, 1));
  CHECK_OK(descent_optimizer_step_buffers(opt, theta, g, 6));
  for (int i = 0; i < 6; i++)
    CHECK_MSG(theta[i] == (descent_real)((i % 2 ? -1 : 1) * (i + 1)) * (descent_real)0.95,
              "muon's decay of a parameter with zero gradient: %g", (double)theta[i]);
  descent_optimizer_free(opt);
}

/* Newton-Schulz on matrices of more than one block of the symmetric
   products (256 rows): the blocked A = X X^T and A A, computed above the
   diagonal and mirrored, against the iteration with whole products in
   double, written out here. Tall and wide, so both orientations run. */
static void reference_newton_schulz(const double *g, size_t rows, size_t cols, double *out) {
  const int tall = rows > cols;
  const size_t r = tall ? cols : rows, c = tall ? rows : cols;
  double *x = malloc(r * c * sizeof *x), *next = malloc(r * c * sizeof *x),
         *gram = malloc(r * r * sizeof *x), *poly = malloc(r * r * sizeof *x);
  if (!x || !next || !gram || !poly) goto done;
  double norm = 0;
  for (size_t i = 0; i < rows * cols; i++) norm += g[i] * g[i];
  norm = sqrt(norm);
  for (size_t i = 0; i < rows; i++)
    for (size_t j = 0; j < cols; j++)
      x[tall ? j * rows + i : i * cols + j] = g[i * cols + j] / norm;
  for (int step = 0; step < 5; step++) {
    for (size_t i = 0; i < r; i++)
      for (size_t j = 0; j < r; j++) {
        double sum = 0;
        for (size_t k = 0; k < c; k++) sum += x[i * c + k] * x[j * c + k];
        gram[i * r + j] = sum;
      }
    for (size_t i = 0; i < r; i++)
      for (size_t j = 0; j < r; j++) {
        double sum = 0;
        for (size_t k = 0; k < r; k++) sum += gram[i * r + k] * gram[k * r + j];
        poly[i * r + j] = -4.7750 * gram[i * r + j] + 2.0315 * sum;
      }
    for (size_t i = 0; i < r; i++)
      for (size_t j = 0; j < c; j++) {
        double sum = 0;
        for (size_t k = 0; k < r; k++) sum += poly[i * r + k] * x[k * c + j];
        next[i * c + j] = 3.4445 * x[i * c + j] + sum;
      }
    double *swap = x;
    x = next, next = swap;
  }
  for (size_t i = 0; i < rows; i++)
    for (size_t j = 0; j < cols; j++) out[i * cols + j] = x[tall ? j * rows + i : i * cols + j];
done:
  free(x), free(next), free(gram), free(poly);
}

static void check_newton_schulz_blocks(void) {
  static const size_t shapes[][2] = {{300, 261}, {261, 530}};
  for (size_t s = 0; s < 2; s++) {
    size_t rows = shapes[s][0], cols = shapes[s][1], n = rows * cols;
    descent_tensor_info t = {.name = "w", .size = n, .shape = {2, {rows, cols}}};
    descent_real *theta = calloc(n, sizeof *theta), *g = malloc(n * sizeof *g);
    double *gd = malloc(n * sizeof *gd), *want = malloc(n * sizeof *want);
    descent_optimizer *opt = NULL;
    if (!theta || !g || !gd || !want) goto next;
    for (size_t i = 0; i < n; i++) {
      g[i] = (descent_real)sin(0.37 * (double)i + 0.1 * (double)(i % 7));
      gd[i] = (double)g[i];
    }
    reference_newton_schulz(gd, rows, cols, want);
    /* theta = 0 - 1 * NS(g). */
    CHECK_OK(descent_optimizer_create(&opt, "newton_schulz", "1", n));
    if (!opt) goto next;
    CHECK_OK(descent_optimizer_set_tensors(opt, &t, 1));
    CHECK_OK(descent_optimizer_step_buffers(opt, theta, g, n));
    double worst = 0, largest = 0;
    for (size_t i = 0; i < n; i++) {
      double gap = fabs(-(double)theta[i] - want[i]);
      worst = gap > worst ? gap : worst;
      largest = fabs(want[i]) > largest ? fabs(want[i]) : largest;
    }
    const double limit = sizeof(descent_real) == 8 ? 1e-12 : 1e-4;
    CHECK_MSG(largest > 0.01 && worst <= limit * largest,
              "newton_schulz on %zux%zu (blocked symmetric products): worst gap %g to the "
              "whole-product iteration, largest value %g",
              rows, cols, worst, largest);
  next:
    descent_optimizer_free(opt);
    free(theta), free(g), free(gd), free(want);
  }
}

/* muon(bf16=1): the iteration in bfloat16, as torch runs it. From theta = 0
   with a rate of 1 on a wide matrix (ratio 1), theta is minus the update:
   every element a bfloat16 value, within bfloat16's rounding of the float
   iteration's, and not all equal to it (the products really ran in
   bfloat16). Refused by the double build and where the CPU lacks
   AVX512_BF16, with the reason. */
static void bf16_muon_run(const char *spec, size_t rows, size_t cols, descent_real *theta,
                          const descent_real *g) {
  descent_tensor_info t = {.name = "w", .size = rows * cols, .shape = {2, {rows, cols}}};
  descent_optimizer *opt = NULL;
  memset(theta, 0, t.size * sizeof *theta);
  CHECK_OK(descent_optimizer_create(&opt, spec, "1", t.size));
  if (!opt) return;
  CHECK_OK(descent_optimizer_set_tensors(opt, &t, 1));
  CHECK_OK(descent_optimizer_step_buffers(opt, theta, g, t.size));
  descent_optimizer_free(opt);
}

static void check_muon_bf16(void) {
  descent_optimizer *opt = NULL;
  int rc = descent_optimizer_create(&opt, "muon(bf16=1)", NULL, 6);
  descent_optimizer_free(opt);
  if (sizeof(descent_real) == 8) {
    CHECK(rc == DESCENT_ENOTSUP && strstr(descent_last_error(), "double build"));
    return;
  }
  if (rc == DESCENT_ENOTSUP) {
    printf("SKIP muon(bf16=1): %s\n", descent_last_error());
    return;
  }
  CHECK_OK(rc);
  static const size_t shapes[][2] = {{40, 60}, {270, 300}};
  for (int s = 0; s < 2; s++) {
    size_t rows = shapes[s][0], cols = shapes[s][1], n = rows * cols;
    descent_real *g = malloc(n * sizeof *g), *half = malloc(n * sizeof *g),
                 *full = malloc(n * sizeof *g);
    if (!g || !half || !full) goto next;
    /* Full rank (a rank-deficient G would have its null directions, noise
       in either precision, blown up by the iteration): hashed uniforms. */
    uint64_t h = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < n; i++) {
      h ^= h << 13, h ^= h >> 7, h ^= h << 17;
      g[i] = (descent_real)((double)(h >> 11) / 9007199254740992.0 - 0.5);
    }
    bf16_muon_run("muon(momentum=0, weight_decay=0, bf16=1)", rows, cols, half, g);
    bf16_muon_run("muon(momentum=0, weight_decay=0)", rows, cols, full, g);
    double worst = 0, largest = 0;
    size_t differ = 0, not_bf16 = 0;
    for (size_t i = 0; i < n; i++) {
      double gap = fabs((double)half[i] - (double)full[i]);
      worst = gap > worst ? gap : worst;
      largest = fabs((double)full[i]) > largest ? fabs((double)full[i]) : largest;
      differ += half[i] != full[i];
      float value = (float)half[i];
      uint32_t bits;
      memcpy(&bits, &value, 4);
      not_bf16 += (bits & 0xffffu) != 0;
    }
    CHECK_MSG(not_bf16 == 0, "muon(bf16=1) on %zux%zu: %zu elements are not bfloat16 values", rows,
              cols, not_bf16);
    CHECK_MSG(differ > n / 10 && worst <= 0.05 * largest,
              "muon(bf16=1) on %zux%zu against float: %zu of %zu differ, worst gap %g of %g", rows,
              cols, differ, n, worst, largest);
  next:
    free(g), free(half), free(full);
  }
}

/* Prodigy and D-Adaptation AdamW. The first step moves by d0 times Adam's
     first step (the sums cannot raise d yet: x = x0, s = 0); later ones raise
     d when the gradient keeps its direction. A first step whose gradient is all
     zero makes d 0/0 = NaN, as optax's jnp.maximum does (not hidden). */
static void check_learning_rate_free(void) {
  run r;
  double two[1] = {2}, zero1[1] = {0};
  const double d0 = 1e-6, bc = sqrt(0.001) / 0.1, dlr = d0 * bc;
  if (!run_start(&r, "prodigy", NULL, 1, zeros)) return;
  run_step(&r, two);
  double dg = d0 * 2, m = 0.1 * dg, v = 0.001 * dg * dg;
  CHECK_REL(r.p[0], -dlr * m / (sqrt(v) + d0 * 1e-8), TOL);
  /* A constant gradient: the bound on d passes d0 at the fourth step (optax:
     d = 1.2708916945521536e-06 then). */
  run_step(&r, two);
  run_step(&r, two);
  CHECK(r.opt->chain[0].persist[0] == d0);
  run_step(&r, two);
  CHECK_REL(r.opt->chain[0].persist[0], 1.2708916945521536e-06, TOL);
  run_end(&r);

  if (!run_start(&r, "dadapt_adamw(weight_decay=0.5)", "2", 1, zeros)) return;
  run_step(&r, two);
  CHECK_REL(r.p[0], -(0.1 * 2 * dlr * 2) / (sqrt(0.001 * 4) + 1e-8), TOL);
  CHECK(r.opt->chain[0].persist[0] == d0);
  run_step(&r, two);
  CHECK(r.opt->chain[0].persist[0] > d0);
  run_end(&r);

  if (!run_start(&r, "prodigy", NULL, 1, zeros)) return;
  run_step(&r, zero1);
  CHECK(isnan(r.opt->chain[0].persist[0]) && isnan(r.p[0]));
  run_end(&r);
  if (!run_start(&r, "dadapt_adamw", NULL, 1, zeros)) return;
  run_step(&r, zero1);
  CHECK(isnan(r.opt->chain[0].persist[0]) && r.p[0] == 0);
  run_end(&r);
}

/* Adafactor's first step on a vector: v = g^2, so u = g / |g| = sign(g),
   whose RMS is 1 (no clipping); the step is rho = min(lr, 1) times the
   parameters' RMS: theta - lr RMS(theta) sign(g). On a matrix whose
   gradient is all ones, row and column means are 1, v = 1 everywhere and the
   step is the same. */
static void check_adafactor(void) {
  for (int matrix = 0; matrix < 2; matrix++) {
    descent_tensor_info t = {.name = "w", .size = 6, .shape = {1, {6}}};
    if (matrix) t.shape = (descent_shape){2, {2, 3}};
    descent_real theta[6], g[6];
    double sum_sq = 0;
    for (int i = 0; i < 6; i++) {
      theta[i] = (descent_real)(0.5 - 0.25 * i);
      sum_sq += (double)theta[i] * (double)theta[i];
      g[i] = matrix ? 1 : (descent_real)((i % 2 ? -1 : 1) * (0.1 + i));
    }
    const double step = 0.01 * sqrt(sum_sq) / sqrt(6.0);
    descent_optimizer *opt = NULL;
    CHECK_OK(descent_optimizer_create(&opt, "adafactor", NULL, 6));
    if (!opt) return;
    CHECK_OK(descent_optimizer_set_tensors(opt, &t, 1));
    CHECK_OK(descent_optimizer_step_buffers(opt, theta, g, 6));
    for (int i = 0; i < 6; i++) {
      double want = (0.5 - 0.25 * i) - step * (g[i] > 0 ? 1 : -1);
      CHECK_MSG(fabs((double)theta[i] - want) <= 1e-6 * fabs(want) + 1e-12,
                "adafactor's first step (%s), element %d: %.17g, not %.17g",
                matrix ? "matrix" : "vector", i, (double)theta[i], want);
    }
    descent_optimizer_free(opt);
  }
}

/* One step of spec at lr 1 on a single tensor of that shape; theta starts
   at zero, so it returns minus the update. */
static int shampoo_step(const char *spec, descent_shape shape, size_t n, const descent_real *g,
                        descent_real *theta) {
  descent_tensor_info t = {.name = "w", .size = n, .shape = shape};
  descent_real grad[16];
  memcpy(grad, g, n * sizeof *g);
  for (size_t i = 0; i < n; i++) theta[i] = 0;
  descent_optimizer *opt = NULL;
  int rc = descent_optimizer_create(&opt, spec, "1", n);
  if (!rc) rc = descent_optimizer_set_tensors(opt, &t, 1);
  if (!rc) rc = descent_optimizer_step_buffers(opt, theta, grad, n);
  CHECK_MSG(rc == DESCENT_OK, "%s: %s", spec, descent_last_error());
  descent_optimizer_free(opt);
  return rc;
}

/* Shampoo's first step, in closed form. A vector: (g g^T + eps I)^(-1/2) g
   = g / sqrt(|g|^2 + eps) (g is an eigenvector), per block of max_preconditioner_dim; with SGD
   grafting each block's step is rescaled to the gradient's norm, so it is
   g itself. A matrix G = U S V^T: (G G^T)^(-1/4) G (G^T G)^(-1/4) = U V^T,
   whose rows are orthonormal (the polar factor Muon approximates). */
static void check_shampoo(void) {
#ifdef DESCENT_DOUBLE
  const double tol = 1e-9;
#else
  const double tol = 1e-3;
#endif
  const descent_real g[6] = {0.3f, -1.2f, 0.5f, 2.0f, -0.7f, 0.9f};
  descent_real theta[6];
  /* blocks {0, 1}, {2, 3}, {4}: each normalized on its own */
  /* eps well above float's rounding of g g^T, whose null space would
     otherwise get eigenvalues of rounding noise (the formula keeps eps) */
  if (!shampoo_step("shampoo(b1=0, eps=1e-4, max_preconditioner_dim=2)", (descent_shape){1, {5}}, 5,
                    g, theta)) {
    for (int start = 0; start < 5; start += 2) {
      const int end = start + 2 < 5 ? start + 2 : 5;
      double norm = 0;
      for (int i = start; i < end; i++) norm += (double)g[i] * (double)g[i];
      for (int i = start; i < end; i++) {
        const double want = -(double)g[i] / sqrt(norm + 1e-4);
        CHECK_MSG(fabs((double)theta[i] - want) <= tol * fabs(want),
                  "shampoo's first step on block %d, element %d: %.17g, not %.17g", start / 2, i,
                  (double)theta[i], want);
      }
    }
  }
  if (!shampoo_step("shampoo(b1=0, eps=1e-4, max_preconditioner_dim=2, grafting=1)",
                    (descent_shape){1, {5}}, 5, g, theta))
    for (int i = 0; i < 5; i++)
      CHECK_MSG(fabs((double)theta[i] + (double)g[i]) <= tol * fabs((double)g[i]),
                "shampoo with SGD grafting, element %d: %.17g, not %.17g", i, (double)theta[i],
                -(double)g[i]);
  /* A 2 x 3 matrix kept 2-D (merge_dims=0): rows of the step orthonormal. */
  if (!shampoo_step("shampoo(b1=0, eps=1e-12, merge_dims=0)", (descent_shape){2, {2, 3}}, 6, g,
                    theta)) {
    for (int r = 0; r < 2; r++)
      for (int c = 0; c < 2; c++) {
        double dot = 0;
        for (int k = 0; k < 3; k++) dot += (double)theta[r * 3 + k] * (double)theta[c * 3 + k];
        CHECK_MSG(fabs(dot - (r == c)) <= tol,
                  "shampoo's first step on a matrix: row %d . row %d "
                  "= %.17g, not %d",
                  r, c, dot, r == c);
      }
  }
}

int main(void) {
  check_shampoo();
  check_adafactor();
  check_muon();
  check_newton_schulz_blocks();
  check_muon_bf16();
  check_momentum();
  check_adam();
  check_adam_family();
  check_adagrad_rmsprop();
  check_lion_and_clipping();
  check_optax_methods();
  check_eps();
  check_schedule_free();
  check_classic();
  check_fused_adadelta();
  check_novograd();
  check_schedules();
  check_expansions();
  check_threads();
  check_fused_passes();
  check_learning_rate_free();
  return check_report();
}
