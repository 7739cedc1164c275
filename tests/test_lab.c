/*
 * test_lab.c - the lecture's lab: one test per phenomenon the lecture shows,
 * asserted on the very tables `descent demo` prints, on fixed seeds.
 *
 * Each test runs a demo without a folder (numbers only) and reads cells by
 * row label and column name. The expected numbers come from theory where it
 * gives them (1 - alpha L per step, ln(1/delta)/ln(1 + 2 alpha) steps to
 * leave a saddle, slopes 1 and 1/2 against the condition number) and from the
 * lecture's pictures otherwise (which minimum each run reaches).
 */
#include "check.h"
#include "lab_check.h"
#include "lab/lab.h"

#include <math.h>
#include <stdlib.h>
#include <sys/stat.h>

static int run_demo(const char *name, const char *const *overrides, const char *dir,
                    lab_result *res) {
  return lab_check_run(name, overrides, dir, res);
}

static double num(const lab_result *r, const char *table, const char *row, const char *col) {
  return lab_check_num(r, table, row, col);
}

static const char *text(const lab_result *r, const char *table, const char *row, const char *col) {
  return lab_check_text(r, table, row, col);
}

/* Gradient descent on a quadratic of curvature L converges for alpha =
   0.99 * 2/L and diverges for 1.01 * 2/L; the good step beats a third of
   itself and the near-unstable one. For two curvatures. */
static void test_step_size(void) {
  static const char *const cases[2][5] = {{"curvature", "0.5", "lr", "0.5,1.5,6", NULL},
                                          {"curvature", "4", "lr", "0.08333,0.25,1", NULL}};
  for (int c = 0; c < 2; c++) {
    lab_result r;
    if (run_demo("step-size", cases[c], NULL, &r)) continue;
    double L = atof(cases[c][1]);
    CHECK(strcmp(text(&r, "step-size", "quadratic, alpha=0.99*2/L", "outcome"), "converged") == 0);
    CHECK(strcmp(text(&r, "step-size", "quadratic, alpha=1.01*2/L", "outcome"), "diverged") == 0);
    CHECK_CLOSE(num(&r, "step-size", "quadratic, alpha=1.01*2/L", "alpha L"), 2.02, 1e-12);
    char good[64], small[64];
    const char *lrs = cases[c][3];
    double a_small = atof(lrs), a_good = atof(strchr(lrs, ',') + 1);
    snprintf(small, sizeof small, "quadratic, alpha=%g", a_small);
    snprintf(good, sizeof good, "quadratic, alpha=%g", a_good);
    double n_good = num(&r, "step-size", good, "iters to eps");
    double n_small = num(&r, "step-size", small, "iters to eps");
    double n_edge = num(&r, "step-size", "quadratic, alpha=0.99*2/L", "iters to eps");
    CHECK_MSG(n_good < n_small && n_good < n_edge, "L %g: good %g, third %g, edge %g", L, n_good,
              n_small, n_edge);
    /* theory: |1 - alpha L| per step, f squared: the edge needs
       ln(1e6) / -2 ln(0.98) = 342 steps */
    CHECK_MSG(fabs(n_edge - 342) <= 2, "edge %g", n_edge);
    /* on logcosh the large step neither converges nor diverges */
    snprintf(good, sizeof good, "logcosh, alpha=%g", atof(strrchr(lrs, ',') + 1));
    if (c == 0) CHECK(strcmp(text(&r, "step-size", good, "outcome"), "not converged") == 0);
    lab_result_free(&r);
  }
}

/* Iterations to eps against kappa = 10, 100, 1000: slope 1 for gradient
   descent, 1/2 for tuned heavy-ball, each within 20%. */
static void test_momentum_slopes(void) {
  lab_result r;
  if (run_demo("momentum", NULL, NULL, &r)) return;
  double gd = num(&r, "momentum-slopes", "gd", "slope");
  double hb = num(&r, "momentum-slopes", "heavy-ball", "slope");
  double nesterov = num(&r, "momentum-slopes", "nesterov", "slope");
  printf("slopes: gd %.3f, heavy-ball %.3f, nesterov %.3f\n", gd, hb, nesterov);
  CHECK_MSG(fabs(gd - 1) <= 0.2, "gd slope %g", gd);
  CHECK_MSG(fabs(hb - 0.5) <= 0.1, "heavy-ball slope %g", hb);
  CHECK_MSG(fabs(nesterov - 0.5) <= 0.1, "nesterov slope %g", nesterov);
  /* and momentum wins at every kappa above 10 */
  CHECK(num(&r, "momentum", "kappa=1000", "heavy-ball") * 10 <
        num(&r, "momentum", "kappa=1000", "gd"));
  /* The lecture's adaptive methods at their fixed steps all reach eps at
     every kappa, and none gets near the tuned heavy ball at kappa 1000 (its
     sqrt(kappa) rate: 204 iterations; theirs are in the thousands). */
  static const char *const adaptive[3] = {"adagrad", "rmsprop", "adam"};
  static const char *const kappas[3] = {"kappa=10", "kappa=100", "kappa=1000"};
  for (int m = 0; m < 3; m++) {
    for (int k = 0; k < 3; k++)
      CHECK_MSG(num(&r, "momentum", kappas[k], adaptive[m]) > 0, "%s at %s", adaptive[m],
                kappas[k]);
    CHECK_MSG(5 * num(&r, "momentum", "kappa=1000", "heavy-ball") <
                  num(&r, "momentum", "kappa=1000", adaptive[m]),
              "%s at kappa 1000", adaptive[m]);
  }
  lab_result_free(&r);
}

/* Momentum's map (slide 32): descent's heavy ball, measured on a grid of
   (alpha, beta), contracts at the closed form's rate (the exponent -log
   rate within 5% in every cell where the run can read it), is stable in
   exactly the cells the closed form says, and its best cell sits next to
   the closed-form optimum and beats gradient descent's best rate. */
static void test_momentum_map(void) {
  static const char *const kappas[] = {"4", "25", "400"};
  for (int k = 0; k < 3; k++) {
    const char *over[] = {"kappa", kappas[k], NULL};
    lab_result r;
    if (run_demo("momentum-map", over, NULL, &r)) return;
    const char *t = "momentum-map";
    double worst = num(&r, t, "worst relative gap of -log(rate)", "measured");
    double compared = num(&r, t, "cells compared", "measured");
    double differ = num(&r, t, "cells classified differently", "measured");
    double best = num(&r, t, "best rate on the grid", "measured");
    double optimum = num(&r, t, "optimal rate", "closed form");
    double gd = num(&r, t, "gradient descent's best rate", "closed form");
    printf("momentum-map kappa %s: worst gap %.4f over %g cells, best %.4f (optimum %.4f, gd "
           "%.4f)\n",
           kappas[k], worst, compared, best, optimum, gd);
    CHECK_MSG(compared >= 500 && worst <= 0.05, "kappa %s: worst gap %g over %g cells", kappas[k],
              worst, compared);
    CHECK_MSG(differ == 0, "kappa %s: %g cells stable in one, not the other", kappas[k], differ);
    CHECK_MSG(best >= optimum * 0.99 && best <= optimum + 0.05 * (1 - optimum) + 0.02 && best < gd,
              "kappa %s: best measured rate %g, optimum %g, gradient descent %g", kappas[k], best,
              optimum, gd);
    lab_result_free(&r);
  }
}

/* Normalizing the badly scaled regression cuts the iterations at least
   10-fold at a scale ratio of 100. */
static void test_normalization(void) {
  lab_result r;
  if (run_demo("normalization", (const char *[]){"scale", "1,100", NULL}, NULL, &r)) return;
  double raw = num(&r, "normalization", "scale=100", "iters raw");
  double normalized = num(&r, "normalization", "scale=100", "iters normalized");
  printf("normalization at scale 100: %g iterations raw, %g normalized\n", raw, normalized);
  CHECK_MSG(raw >= 10 * normalized, "raw %g, normalized %g", raw, normalized);
  CHECK(num(&r, "normalization", "scale=100", "kappa raw") > 1000);
  /* at scale 1 there is nothing to fix */
  CHECK(num(&r, "normalization", "scale=1", "iters raw") < 10);
  lab_result_free(&r);
}

/* A constant step stalls at a floor that shrinks with the step; 1/t keeps
   decreasing; a very fast decay freezes away from the minimum. */
static void test_stochastic(void) {
  lab_result r;
  if (run_demo("stochastic", NULL, NULL, &r)) return;
  const char *t = "stochastic";
  double floor_big = num(&r, t, "constant 0.1", "gap late");
  double floor_small = num(&r, t, "constant 0.025", "gap late");
  printf("stochastic: floors %g (0.1) and %g (0.025), 1/t %g, fast decay %g\n", floor_big,
         floor_small, num(&r, t, "1/t", "gap late"), num(&r, t, "fast decay", "gap late"));
  /* stalled: the second half no better than the quarter before it */
  CHECK(num(&r, t, "constant 0.1", "late/early") > 0.6);
  CHECK(floor_big > 2 * floor_small);
  /* 1/t: still going down, and below both floors */
  CHECK(num(&r, t, "1/t", "late/early") < 0.6);
  CHECK(num(&r, t, "1/t", "gap late") < floor_small);
  /* frozen: not a single move in the second half, far from the minimum */
  CHECK(num(&r, t, "fast decay", "moved in last half") < 1e-6);
  CHECK(num(&r, t, "fast decay", "gap late") > 10 * floor_big);
  CHECK(num(&r, t, "fast decay", "final distance") >
        10 * num(&r, t, "constant 0.1", "final distance"));
  /* the exact gradient, for comparison, goes to the minimum */
  CHECK(num(&r, t, "full batch 0.1", "gap late") < 1e-8);
  lab_result_free(&r);
}

/* The three runs of slides 23 to 25 end where the lecture shows. */
static void test_nonconvex(void) {
  lab_result r;
  if (run_demo("nonconvex", NULL, NULL, &r)) return;
  const char *t = "nonconvex";
  CHECK_CLOSE(num(&r, t, "theta0=0, alpha=0.5", "minimum"), -1.6043, 1e-3);
  CHECK(strcmp(text(&r, t, "theta0=0, alpha=0.5", "global"), "yes") == 0);
  CHECK_CLOSE(num(&r, t, "theta0=5, alpha=0.5", "minimum"), 4.2748, 1e-3);
  CHECK_CLOSE(num(&r, t, "theta0=0, alpha=2", "minimum"), 0.8828, 1e-3);
  /* it bounces before landing */
  CHECK(num(&r, t, "theta0=0, alpha=2", "settled after") > 10);
  lab_result_free(&r);
  /* a step beyond every minimum's stability, 2/curvature, lands in none */
  const char *big[] = {"start", "0", "lr", "4", NULL};
  if (run_demo("nonconvex", big, NULL, &r)) return;
  CHECK(strcmp(text(&r, t, "theta0=0, alpha=4", "minimum"), "none") == 0);
  lab_result_free(&r);
}

/* Gradient descent started on the saddle's stable manifold stays; a
   perturbation of 1e-6 escapes after ln(1e6)/ln(1.2) = 75.8 steps. With
   momentum mu = 0.9 the offset y grows by the larger root of the recurrence:
   z^2 - (1 + mu + 2 alpha) z + mu = 0 for heavy-ball, z = 1.5, so
   ln(1e6)/ln(1.5) = 34.1 steps; z^2 - (1 + mu)(1 + 2 alpha) z + mu (1 + 2
   alpha) = 0 for Nesterov, z = 1.609, 29.1 steps (each plus a step or two
   while the velocity builds up). Adagrad, RMSprop and Adam move y by at
   most about alpha (10 alpha for RMSprop's first step) per step whatever the
   gradient's size, so they need at least 1/alpha = 10 steps to reach |y| = 1,
   far fewer than gradient descent. */
static void test_saddle(void) {
  lab_result r;
  if (run_demo("saddle", NULL, NULL, &r)) return;
  const char *t = "saddle";
  CHECK(strcmp(text(&r, t, "gd, on the manifold", "escaped at"), "stuck") == 0);
  CHECK(fabs(num(&r, t, "gd, on the manifold", "final f")) < 1e-12);
  CHECK(strcmp(text(&r, t, "adam, on the manifold", "escaped at"), "stuck") == 0);
  double gd = num(&r, t, "gd, perturbed", "escaped at");
  double momentum = num(&r, t, "momentum, perturbed", "escaped at");
  double adam = num(&r, t, "adam, perturbed", "escaped at");
  double noise = num(&r, t, "gd + noise, on the manifold", "escaped at");
  printf("saddle: escaped after %g (gd), %g (momentum), %g (adam), %g (noise)\n", gd, momentum,
         adam, noise);
  CHECK_MSG(gd == 76, "gd escaped at %g", gd);
  CHECK(momentum < gd && adam < gd && noise < 1000);
  CHECK_MSG(momentum >= 34 && momentum <= 38, "momentum escaped at %g", momentum);
  double nesterov = num(&r, t, "nesterov, perturbed", "escaped at");
  CHECK_MSG(nesterov >= 29 && nesterov <= 33, "nesterov escaped at %g", nesterov);
  static const char *const adaptive[3] = {"adagrad, perturbed", "rmsprop, perturbed",
                                          "adam, perturbed"};
  for (int m = 0; m < 3; m++) {
    double at = num(&r, t, adaptive[m], "escaped at");
    printf("saddle: %s escaped after %g\n", adaptive[m], at);
    CHECK_MSG(at >= 10 && at < nesterov, "%s escaped at %g", adaptive[m], at);
  }
  lab_result_free(&r);
}

/* On the plateau, steps that do not shrink with the gradient cross it first. */
static void test_plateau(void) {
  lab_result r;
  if (run_demo("plateau", NULL, NULL, &r)) return;
  const char *t = "plateau";
  double gd = num(&r, t, "gd", "escaped at"), adam = num(&r, t, "adam", "escaped at");
  double momentum = num(&r, t, "momentum", "escaped at");
  printf("plateau: escaped after %g (gd), %g (momentum), %g (adam)\n", gd, momentum, adam);
  CHECK(adam * 10 < gd);
  CHECK(momentum * 3 < gd);
  /* Nesterov gathers the same speed as heavy-ball, up to 1/(1 - mu) = 10
     times gradient descent's; Adagrad and RMSprop divide by the gradient's
     size as Adam does */
  double nesterov = num(&r, t, "nesterov", "escaped at");
  double adagrad = num(&r, t, "adagrad", "escaped at");
  double rmsprop = num(&r, t, "rmsprop", "escaped at");
  printf("plateau: nesterov %g, adagrad %g, rmsprop %g\n", nesterov, adagrad, rmsprop);
  CHECK(nesterov * 3 < gd && nesterov * 10 > gd);
  CHECK(momentum * 10 > gd);
  CHECK(adagrad * 10 < gd && rmsprop * 10 < gd);
  lab_result_free(&r);
}

/* Iterations to eps of gradient descent with step alpha on quad2d (curvatures
   1 and 1/kappa) from 1 across the valley and 3 along it: the offset along
   each eigenvector shrinks by |1 - alpha lambda| per step. */
static int64_t quad2d_gd_iterations(double alpha, double kappa, double eps) {
  double lambda[2] = {1, 1 / kappa}, offset[2] = {1, 3}, gap0 = 0;
  for (int i = 0; i < 2; i++) gap0 += lambda[i] * offset[i] * offset[i];
  for (int64_t t = 0; t < 1000000; t++) {
    double gap = 0;
    for (int i = 0; i < 2; i++)
      gap += lambda[i] * offset[i] * offset[i] * pow(fabs(1 - alpha * lambda[i]), 2.0 * (double)t);
    if (gap <= eps * gap0) return t;
  }
  return -1;
}

/* The conditioning and per-direction pictures' claims. */
static void test_valley(void) {
  lab_result r;
  if (run_demo("conditioning", NULL, NULL, &r)) return;
  const char *t = "conditioning";
  CHECK(strcmp(text(&r, t, "alpha=1.01*2/L", "outcome"), "diverged") == 0);
  double best = num(&r, t, "alpha=2/(L+mu)", "iters to eps");
  CHECK(best <= num(&r, t, "alpha=1.6", "iters to eps"));
  /* 2/(L + mu) has the best rate, max |1 - alpha lambda| = (kappa - 1)/(kappa
     + 1); 1.95's is barely worse (0.9805 against 0.9802) and its faster
     decay across the valley makes it arrive sooner from this start, but not
     by much */
  double rate_best = fmax(fabs(num(&r, t, "alpha=2/(L+mu)", "across factor")),
                          fabs(num(&r, t, "alpha=2/(L+mu)", "along factor")));
  CHECK_CLOSE(rate_best, 99.0 / 101.0, 1e-12);
  CHECK(rate_best < fabs(num(&r, t, "alpha=1.95", "along factor")));
  CHECK(best < 1.25 * num(&r, t, "alpha=1.95", "iters to eps"));
  /* At the default kappa = 100 the flat direction sets the pace: alpha =
     1/L takes the closed form's iterations, about kappa/2 ln(1/eps) (564
     from this start), and 2/(L + mu) halves them at best */
  double one = num(&r, t, "alpha=1/L", "iters to eps");
  int64_t closed = quad2d_gd_iterations(1, 100, 1e-6);
  printf("conditioning: alpha = 1/L %g iterations (closed form %lld), 2/(L+mu) %g\n", one,
         (long long)closed, best);
  CHECK_MSG(fabs(one - (double)closed) <= 1, "alpha = 1/L: %g, closed form %lld", one,
            (long long)closed);
  CHECK(one >= 100 / 2.0 * log(1e6) * 0.8 && best >= one / 2 - 2);
  lab_result_free(&r);
  /* and ten times the condition number takes about ten times the iterations */
  if (run_demo("conditioning", (const char *[]){"kappa", "1000", NULL}, NULL, &r)) return;
  double ten = num(&r, t, "alpha=1/L", "iters to eps");
  CHECK_MSG(fabs(ten - (double)quad2d_gd_iterations(1, 1000, 1e-6)) <= 1 && ten > 8 * one,
            "kappa 1000: %g iterations, kappa 100: %g", ten, one);
  lab_result_free(&r);

  if (run_demo("per-direction", NULL, NULL, &r)) return;
  t = "per-direction";
  /* gradient descent does not see the rotation; Adagrad does */
  CHECK(fabs(num(&r, t, "gd, aligned", "iters to eps") -
             num(&r, t, "gd, turned", "iters to eps")) <= 2);
  CHECK(5 * num(&r, t, "adagrad, aligned", "iters to eps") <
        num(&r, t, "adagrad, turned", "iters to eps"));
  CHECK(num(&r, t, "adam, aligned", "iters to eps") < num(&r, t, "adam, turned", "iters to eps"));
  CHECK(10 * num(&r, t, "adagrad, aligned", "iters to eps") <
        num(&r, t, "gd, aligned", "iters to eps"));
  /* Gradient descent, momentum and Nesterov build their steps from
     gradients by sums and scalar factors, and the turned valley's gradient
     at the turned point is the turned gradient: their iterates turn with
     the valley, and their counts agree to rounding. Gradient descent's is
     the closed form's. */
  double gd = num(&r, t, "gd, aligned", "iters to eps");
  CHECK_MSG(fabs(gd - (double)quad2d_gd_iterations(1, 100, 1e-6)) <= 1, "gd %g", gd);
  static const char *const invariant[3] = {"gd", "momentum", "nesterov"};
  double aligned[3];
  for (int m = 0; m < 3; m++) {
    char a[32], b[32];
    snprintf(a, sizeof a, "%s, aligned", invariant[m]);
    snprintf(b, sizeof b, "%s, turned", invariant[m]);
    aligned[m] = num(&r, t, a, "iters to eps");
    CHECK_MSG(fabs(aligned[m] - num(&r, t, b, "iters to eps")) <= 1, "%s: %g aligned, %g turned",
              invariant[m], aligned[m], num(&r, t, b, "iters to eps"));
  }
  /* Heavy ball at alpha = 1/L, mu = 0.9: both modes' roots are complex
     ((1 + mu - alpha lambda)^2 < 4 mu for lambda = 1 and 1/100), of modulus
     sqrt(mu), so f - f* decays like mu^t: about ln(1/eps)/ln(1/mu) = 131
     iterations (112 measured), within 1.5x, a fifth of gradient descent's */
  double envelope = log(1e6) / log(1 / 0.9);
  CHECK_MSG(aligned[1] > envelope / 1.5 && aligned[1] < 1.5 * envelope && 5 * aligned[1] < gd,
            "momentum %g, envelope %g, gd %g", aligned[1], envelope, gd);
  CHECK(aligned[2] < aligned[1]); /* Nesterov kills the steep mode at alpha = 1/L */
  /* RMSprop at 0.03: aligned, each coordinate is divided by its own running
     size, so its steps settle to about lr per coordinate whatever the
     curvature (sign descent): about 3/lr = 100 steps down the valley's
     length (123 measured), far fewer than gradient descent. Turned, the
     steep direction's gradient sets both coordinates' sizes, the flat
     direction gets a step capped by stability at 2/L, and it is gradient
     descent again at best: 475 measured, 3.9 times the aligned count. */
  double rms_aligned = num(&r, t, "rmsprop, aligned", "iters to eps");
  double rms_turned = num(&r, t, "rmsprop, turned", "iters to eps");
  printf("per-direction: gd %g, momentum %g, nesterov %g; rmsprop %g aligned, %g turned\n", gd,
         aligned[1], aligned[2], rms_aligned, rms_turned);
  CHECK_MSG(rms_aligned < 3.0 / 0.03 * 1.5 && 3 * rms_aligned < gd, "rmsprop aligned %g",
            rms_aligned);
  CHECK_MSG(rms_turned > 3 * rms_aligned && rms_turned > 0.5 * gd,
            "rmsprop %g aligned, %g turned (gd %g)", rms_aligned, rms_turned, gd);
  lab_result_free(&r);
  /* and at another angle the invariant methods' counts are the same again */
  if (run_demo("per-direction", (const char *[]){"angle", "30", NULL}, NULL, &r)) return;
  for (int m = 0; m < 3; m++) {
    char b[32];
    snprintf(b, sizeof b, "%s, turned", invariant[m]);
    CHECK_MSG(fabs(aligned[m] - num(&r, t, b, "iters to eps")) <= 1, "%s at 30 degrees: %g",
              invariant[m], num(&r, t, b, "iters to eps"));
  }
  lab_result_free(&r);
}

/* Gauss-Newton takes one step in either valley; the diagonal step two when
   the valley is aligned, and turned by 45 degrees (h_11 = h_22 = (1 +
   1/kappa)/2) it is gradient descent with step eta / (mu + h_kk), whose
   iterations have a closed form. Adagrad's and Adam's running sums, as the
   demo recomputes them, predict every step the optimizers took; Hutchinson's
   estimate of the diagonal loses half its error for 4 times the samples. */
static void test_gauss_newton(void) {
  lab_result r;
  if (run_demo("gauss-newton", NULL, NULL, &r)) return;
  const char *al = "gauss-newton-aligned", *tu = "gauss-newton-turned";
  const double kappa = 100, mu = 1e-4, eps = 1e-6, h = (1 + 1 / kappa) / 2;
  CHECK(num(&r, al, "gauss-newton", "iters to eps") == 1);
  CHECK(num(&r, tu, "gauss-newton", "iters to eps") == 1);
  CHECK(num(&r, tu, "gauss-newton", "final f - f*") < 1e-12);
  double lm_aligned = num(&r, al, "diag-lm", "iters to eps");
  double lm_turned = num(&r, tu, "diag-lm", "iters to eps");
  int64_t expect = quad2d_gd_iterations(1 / (mu + h), kappa, eps);
  printf("gauss-newton: diag-lm %g aligned, %g turned (closed form %lld); adagrad %g, %g; adam "
         "%g, %g\n",
         lm_aligned, lm_turned, (long long)expect, num(&r, al, "adagrad", "iters to eps"),
         num(&r, tu, "adagrad", "iters to eps"), num(&r, al, "adam", "iters to eps"),
         num(&r, tu, "adam", "iters to eps"));
  CHECK_MSG(lm_aligned <= 2, "diag-lm aligned: %g iterations", lm_aligned);
  CHECK_MSG(fabs(lm_turned - (double)expect) <= 1, "diag-lm turned: %g, closed form %lld",
            lm_turned, (long long)expect);
  CHECK(num(&r, tu, "diag-lm", "closed form") == (double)expect);
  CHECK(lm_turned > 100 * lm_aligned);
  /* gradient descent (lr 1) does not see the rotation, as its closed form */
  double gd = (double)quad2d_gd_iterations(1, kappa, eps);
  CHECK(fabs(num(&r, al, "gd", "iters to eps") - gd) <= 1);
  CHECK(fabs(num(&r, tu, "gd", "iters to eps") - gd) <= 1);
  /* the summary is the same numbers */
  CHECK(num(&r, "gauss-newton", "diag-lm", "turned") == lm_turned);
  CHECK(num(&r, "gauss-newton", "gauss-newton", "aligned") == 1);
  /* the exact diagonal, and the curvature the diagonal step divides by */
  CHECK_CLOSE(num(&r, al, "exact h_kk", "curvature 1"), 1, 1e-6);
  CHECK_CLOSE(num(&r, al, "exact h_kk", "curvature 2"), 1 / kappa, 1e-6);
  CHECK_CLOSE(num(&r, tu, "exact h_kk", "curvature 1"), h, 1e-6);
  CHECK_CLOSE(num(&r, tu, "exact h_kk", "curvature 2"), h, 1e-6);
  CHECK_CLOSE(num(&r, tu, "diag-lm", "curvature 1"), mu + h, 1e-6);
  CHECK_CLOSE(num(&r, al, "gd", "curvature 2"), 1, 0);
  /* Adagrad and Adam: the recomputed sums predict each iterate to the
     parameters' precision; Adagrad's first step puts coordinate 1 of the
     aligned valley at its minimum (|g_1| = 1 divided by sqrt(g_1^2) = 1), so
     its curvature stays |g_1| = h_11 while coordinate 2's is 4 times h_22 */
  double tol = sizeof(descent_real) == 4 ? 1e-5 : 1e-12;
  for (int v = 0; v < 2; v++) {
    CHECK(num(&r, v ? tu : al, "adagrad", "replay error") <= tol);
    CHECK(num(&r, v ? tu : al, "adam", "replay error") <= tol);
  }
  CHECK_CLOSE(num(&r, al, "adagrad", "curvature 1"), 1, 1e-6);
  CHECK(num(&r, al, "adagrad", "curvature 2") > 3 / kappa);
  CHECK(5 * num(&r, al, "adagrad", "iters to eps") < num(&r, tu, "adagrad", "iters to eps"));
  CHECK(2 * num(&r, al, "adam", "iters to eps") < num(&r, tu, "adam", "iters to eps"));
  /* Hutchinson: exact for the diagonal G of the aligned valley; turned, the
     RMS error over 64 seeds follows |offdiag G|_F / (|diag G| sqrt(samples))
     and halves for 4 times the samples */
  const lab_table *mc = lab_result_find(&r, "gauss-newton-mc");
  CHECK(mc && mc->n_rows == 7);
  for (size_t i = 0; mc && i < mc->n_rows; i++) {
    const char *row = mc->cells[i * (size_t)mc->n_cols].text;
    double samples = num(&r, "gauss-newton-mc", row, "samples");
    double err = num(&r, "gauss-newton-mc", row, "turned error");
    double theory = num(&r, "gauss-newton-mc", row, "closed form");
    CHECK_CLOSE(theory, (1 - 1 / kappa) / (1 + 1 / kappa) / sqrt(samples), 1e-6);
    CHECK_MSG(err > 0.75 * theory && err < 1.25 * theory, "%g samples: error %g, closed form %g",
              samples, err, theory);
    CHECK(num(&r, "gauss-newton-mc", row, "aligned error") <= 1e-12); /* rounding only */
    if (i > 0) {
      double ratio = num(&r, "gauss-newton-mc", row, "ratio");
      CHECK_MSG(ratio > 0.3 && ratio < 0.75, "%g samples: ratio %g", samples, ratio);
    }
  }
  lab_result_free(&r);
  /* sample counts are whole, and at least two of them make a ratio */
  const lab_demo *d = lab_demo_find("gauss-newton");
  CHECK_FAILS(lab_demo_run(d, (const char *[]){"samples", "4,3.5", NULL}, NULL, &r), DESCENT_EINVAL,
              "--samples: 3.5 is not a whole number");
  CHECK_FAILS(lab_demo_run(d, (const char *[]){"samples", "4", NULL}, NULL, &r), DESCENT_EINVAL,
              "--samples: '4': give 2 numbers");
}

/* Options are refused with the valid choices; files land where asked. */
static void test_options_and_files(void) {
  const lab_demo *d = lab_demo_find("step-size");
  lab_result r;
  CHECK(lab_demo_find("step_size") == NULL);
  CHECK_FAILS(lab_demo_run(d, (const char *[]){"learning-rate", "1", NULL}, NULL, &r),
              DESCENT_EINVAL, "valid options: --lr, --curvature, --start");
  CHECK_FAILS(lab_demo_run(d, (const char *[]){"lr", "1,2", NULL}, NULL, &r), DESCENT_EINVAL,
              "--lr: '1,2': give 3 numbers");
  CHECK_FAILS(lab_demo_run(d, (const char *[]){"lr", "1,x,2", NULL}, NULL, &r), DESCENT_EINVAL,
              "--lr: 'x' is not a number");
  CHECK_FAILS(lab_demo_run(d, (const char *[]){"iters", "0", NULL}, NULL, &r), DESCENT_EINVAL,
              "--iters: 0 is out of range");
  CHECK_FAILS(
      lab_demo_run(lab_demo_find("nonconvex"), (const char *[]){"start", "0,5", NULL}, NULL, &r),
      DESCENT_EINVAL, "as many starts (2) as steps (3)");

  /* With a folder: every file it lists exists and is not empty. */
  const char *tmp = getenv("DESCENT_TEST_TMP");
  char dir[512], path[700];
  snprintf(dir, sizeof dir, "%s/test_lab_files", tmp ? tmp : "/tmp");
  mkdir(tmp ? tmp : "/tmp", 0777);
  mkdir(dir, 0777);
  if (run_demo("saddle", (const char *[]){"iters", "200", NULL}, dir, &r)) return;
  CHECK(r.n_pictures == 1 && strcmp(r.pictures[0], "saddle") == 0);
  int saw_table = 0;
  for (int i = 0; i < r.n_files; i++) {
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, r.files[i]);
    CHECK_MSG(stat(path, &st) == 0 && st.st_size > 0, "%s missing or empty", path);
    saw_table |= strcmp(r.files[i], "saddle.csv") == 0;
  }
  CHECK(saw_table);
  /* The table's CSV: its header, and labels with commas quoted. */
  snprintf(path, sizeof path, "%s/saddle.csv", dir);
  FILE *f = fopen(path, "r");
  char line[512] = "";
  CHECK(f && fgets(line, sizeof line, f));
  CHECK(strcmp(line, "run,optimizer,lr,start,escaped at,final f,final theta\n") == 0);
  const char *row = "\"gd, on the manifold\",sgd,0.1,\"(1, 0)\",stuck,";
  CHECK(f && fgets(line, sizeof line, f) && strncmp(line, row, strlen(row)) == 0);
  if (f) fclose(f);
  lab_result_free(&r);

  /* The stochastic picture's curves: every row's mean lies in its band of
     lowest to highest over the seeds, and a full-batch step counts n = 100
     gradient evaluations where a stochastic one counts its batch of 1. */
  if (run_demo("stochastic", (const char *[]){"iters", "200", "seeds", "3", NULL}, dir, &r)) return;
  snprintf(path, sizeof path, "%s/stochastic-curves.csv", dir);
  f = fopen(path, "r");
  CHECK(f && fgets(line, sizeof line, f));
  CHECK(strcmp(line, "run,method,t,evals,mean,min,max\n") == 0);
  int rows = 0, bad = 0;
  while (f && fgets(line, sizeof line, f)) {
    int run;
    long long t;
    double evals, mean, lo, hi;
    char method[64];
    if (sscanf(line, "%d,%63[^,],%lld,%lf,%lf,%lf,%lf", &run, method, &t, &evals, &mean, &lo,
               &hi) != 7) {
      bad++;
      continue;
    }
    rows++;
    bad += !(lo <= mean * (1 + 1e-9) && mean <= hi * (1 + 1e-9));
    bad += evals != (double)t * (run == 4 ? 100 : 1);
  }
  if (f) fclose(f);
  CHECK_MSG(rows > 100 && bad == 0, "stochastic-curves.csv: %d rows, %d wrong", rows, bad);
  lab_result_free(&r);
}

int main(void) {
  test_step_size();
  test_momentum_slopes();
  test_momentum_map();
  test_normalization();
  test_stochastic();
  test_nonconvex();
  test_saddle();
  test_plateau();
  test_valley();
  test_gauss_newton();
  test_options_and_files();
  return check_report();
}
