/*
 * stability.c - the largest curvature an optimizer can follow at its
 * current rate: the edge of stability (Cohen et al. 2021, "Gradient Descent
 * on Neural Networks Typically Occurs at the Edge of Stability", and 2022,
 * "Adaptive Gradient Methods at the Edge of Stability", arXiv 2207.14484).
 *
 * On a quadratic of curvature lambda each of these optimizers is a linear
 * recurrence in (theta, buffer); it converges exactly when its matrix's
 * eigenvalues lie inside the unit circle, and the boundary is crossed at
 * eigenvalue -1, where h = lr lambda reaches
 *   gradient descent            2
 *   heavy ball b <- mu b + (1-d) g, theta -= lr b      (2 + 2 mu) / (1 - d)
 *   Nesterov (PyTorch's: u = g + mu b)                 (2 + 2 mu) / (1 + 2 mu)
 *   EMA momentum m <- b1 m + (1 - b1) g (Adam's)       (2 + 2 b1) / (1 - b1)
 * (the characteristic polynomial z^2 - T z + D of the 2 x 2 matrix is zero
 * at z = -1 when 1 + T + D = 0; docs/instruments.md derives each). Adaptive
 * methods are these recurrences on P^-1 H with P the diagonal
 * preconditioner their state holds (Cohen et al. 2022, section 2: Adam's
 * P = (1 - b1^t) (sqrt(v_t / (1 - b2^t)) + eps), threshold 38 / lr at
 * b1 = 0.9): treating P as frozen, the limit applies to the top eigenvalue
 * of P^-1 H.
 *
 * The chain is read as: optional clipping, weight decay coupled to the
 * gradient (l2 or wd before the scaling; it adds its coefficient to every
 * curvature), one recognised core, optional decoupled weight decay (after
 * an adaptive scaling: outside the limit), lr. Anything else has no limit
 * here (NAN, and the rule says why).
 */
#include "optimizer.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* The recognised core of a chain and what surrounds it. */
typedef struct chain_reading {
  const transform *scale;    /* adam, rmsprop or adagrad; NULL for plain or momentum SGD */
  const transform *momentum; /* momentum after rmsprop or alone; NULL when none */
  double l2;                 /* coupled weight decay, summed */
  double wd;                 /* decoupled weight decay, summed */
  int clipped;               /* 1 when clip or clip_value is in the chain */
  const transform *unknown;  /* the first transform that is not understood */
} chain_reading;

static int is(const transform *t, const char *name) {
  return strcmp(t->def->name, name) == 0;
}

static int is_scale(const transform *t) {
  return is(t, "adam") || is(t, "rmsprop") || is(t, "adagrad");
}

/* Reads the chain (all but its last transform, lr) into *r. Order matters:
   clipping before the core, weight decay coupled (before the scaling, or
   anywhere without one) or decoupled (after it), momentum alone or after
   RMSprop's scaling. */
static void read_chain(const descent_optimizer *opt, chain_reading *r) {
  memset(r, 0, sizeof *r);
  int stage = 0; /* 0: before the core, 1: after the scaling, 2: after momentum or wd */
  for (int i = 0; i < opt->n_transforms - 1 && !r->unknown; i++) {
    const transform *t = &opt->chain[i];
    if (stage == 0 && (is(t, "clip") || is(t, "clip_value")))
      r->clipped = 1;
    else if ((is(t, "l2") || is(t, "wd")) && r->scale)
      r->wd += t->hp[0], stage = 2;
    else if (is(t, "l2") || is(t, "wd"))
      r->l2 += t->hp[0];
    else if (stage == 0 && is_scale(t) && !r->momentum)
      r->scale = t, stage = 1;
    else if (stage < 2 && is(t, "momentum") && (!r->scale || is(r->scale, "rmsprop")))
      r->momentum = t, stage = 2;
    else
      r->unknown = t;
  }
  /* Schedule-free's sf takes the rate itself, with its own recurrence. */
  const transform *last = &opt->chain[opt->n_transforms - 1];
  if (!r->unknown && !is(last, "lr")) r->unknown = last;
  /* RMSprop with momentum is PyTorch's only when the momentum is plain. */
  if (r->scale && r->momentum && (r->momentum->hp[1] != 0 || r->momentum->hp[2] != 0))
    r->unknown = r->momentum;
}

/* "adam | wd | lr": the chain's transform names, for messages. */
static void chain_names(const descent_optimizer *opt, char *buf, size_t cap) {
  size_t used = 0;
  buf[0] = '\0';
  for (int i = 0; i < opt->n_transforms && used < cap; i++)
    used +=
        (size_t)snprintf(buf + used, cap - used, "%s%s", i ? " | " : "", opt->chain[i].def->name);
}

/* The limit's factor on 1 / lr for the momentum part, and its words. */
static double momentum_factor(const transform *m, char *words, size_t cap) {
  double mu = m->hp[0], d = m->hp[1];
  if (m->hp[2]) {
    snprintf(words, cap, "(2+2mu)/((1+2mu) lr), Nesterov, mu %g", mu);
    return (2 + 2 * mu) / (1 + 2 * mu);
  }
  if (d != 0) {
    snprintf(words, cap, "(2+2mu)/((1-d) lr), heavy ball, mu %g, dampening %g", mu, d);
    return (2 + 2 * mu) / (1 - d);
  }
  snprintf(words, cap, "(2+2mu)/lr, heavy ball, mu %g", mu);
  return 2 + 2 * mu;
}

/* The diagonal preconditioner P of the scaling transform as its state
   stands after t >= 1 steps, into p (n values). The next step's own
   statistics are not known yet: its gradient is still to come. */
static void preconditioner(const transform *s, int64_t t, size_t n, descent_real *p) {
  const descent_real *const *slots = (const descent_real *const *)s->slots;
  if (is(s, "adam")) {
    double b1 = s->hp[0], b2 = s->hp[1], eps = s->hp[2];
    double bc1 = 1 - pow(b1, (double)t), bc2 = 1 - pow(b2, (double)t);
    const descent_real *v = s->hp[3] ? slots[2] : slots[1]; /* amsgrad: the running max */
    for (size_t i = 0; i < n; i++) p[i] = (descent_real)(bc1 * (sqrt((double)v[i] / bc2) + eps));
  } else if (is(s, "rmsprop")) {
    double eps = s->hp[1], bc = s->hp[3] ? 1 - pow(s->hp[0], (double)t) : 1;
    for (size_t i = 0; i < n; i++) {
      double v = (double)slots[0][i];
      if (s->hp[2]) v -= (double)slots[1][i] * (double)slots[1][i]; /* centered */
      p[i] = (descent_real)(sqrt(fmax(v, 0) / bc) + eps);
    }
  } else { /* adagrad, with the rate decay of the next step, whose rate the limit takes */
    double eps = s->hp[2], decay = 1 + (double)t * s->hp[0];
    for (size_t i = 0; i < n; i++) p[i] = (descent_real)((sqrt((double)slots[0][i]) + eps) * decay);
  }
}

/* The factor on 1 / lr of an adaptive chain, and its words. */
static double scale_factor(const chain_reading *r, char *words, size_t cap) {
  const transform *s = r->scale;
  if (is(s, "adam")) {
    double b1 = s->hp[0], f = (2 + 2 * b1) / (1 - b1);
    snprintf(words, cap, "%.4g/lr: (2+2 b1)/((1-b1) lr), b1 %g, Adam's preconditioned sharpness", f,
             b1);
    return f;
  }
  const char *name = is(s, "rmsprop") ? "RMSprop" : "Adagrad";
  if (r->momentum) {
    double mu = r->momentum->hp[0];
    snprintf(words, cap, "(2+2mu)/lr, mu %g, %s's preconditioned sharpness", mu, name);
    return 2 + 2 * mu;
  }
  snprintf(words, cap, "2/lr, %s's preconditioned sharpness", name);
  return 2;
}

/* The notes on weight decay and clipping, appended to the rule. */
static void append_notes(const chain_reading *r, char *rule, size_t cap) {
  size_t used = strlen(rule);
  if (r->l2 != 0 && used < cap)
    used += (size_t)snprintf(rule + used, cap - used, "; weight decay adds %g to every curvature",
                             r->l2);
  if (r->wd != 0 && used < cap)
    used +=
        (size_t)snprintf(rule + used, cap - used, "; decoupled wd %g is outside the limit", r->wd);
  if (r->clipped && used < cap) snprintf(rule + used, cap - used, "; for unclipped steps");
}

int descent_optimizer_stability(const descent_optimizer *opt, descent_real *precond, size_t n,
                                descent_stability *out) {
  if (!opt || !out)
    return descent_fail(DESCENT_EINVAL,
                        "descent_optimizer_stability: the optimizer and out must not be NULL");
  if (precond && n != opt->n)
    return descent_fail(DESCENT_EINVAL,
                        "descent_optimizer_stability: precond holds %zu values but the optimizer "
                        "has %zu parameters; pass n = %zu",
                        n, opt->n, opt->n);
  if (precond && opt->gather)
    return descent_fail(DESCENT_EINVAL,
                        "descent_optimizer_stability: the optimizer is sharded and holds the "
                        "state of parameters %zu to %zu only: pass precond = NULL for the limit "
                        "alone, or ask an optimizer that is not sharded for the preconditioner",
                        opt->shard_offset, opt->shard_offset + opt->shard_count);
  memset(out, 0, sizeof *out);
  out->limit = NAN;
  char names[OPTIMIZER_MAX_TEXT];
  if (opt->groups) {
    snprintf(out->rule, sizeof out->rule,
             "no known limit: the optimizer has parameter groups, each with its own chain");
    return DESCENT_OK;
  }
  if (opt->method) {
    snprintf(out->rule, sizeof out->rule,
             "no known limit: %s is a method that chooses its own steps", opt->method->name);
    return DESCENT_OK;
  }
  chain_reading r;
  read_chain(opt, &r);
  if (r.unknown) {
    chain_names(opt, names, sizeof names);
    snprintf(out->rule, sizeof out->rule, "no known limit for the chain %.100s (at %.24s)", names,
             r.unknown->def->name);
    return DESCENT_OK;
  }
  double lr = descent_optimizer_lr(opt), factor;
  char words[sizeof out->rule];
  if (r.scale) {
    if (opt->step == 0) {
      snprintf(out->rule, sizeof out->rule,
               "no limit before the first step: %s's preconditioner comes from its statistics",
               r.scale->def->name);
      return DESCENT_OK;
    }
    factor = scale_factor(&r, words, sizeof words);
    out->preconditioned = 1;
    if (precond) preconditioner(r.scale, opt->step, opt->n, precond);
  } else if (r.momentum) {
    factor = momentum_factor(r.momentum, words, sizeof words);
  } else {
    snprintf(words, sizeof words, "2/lr (gradient descent)");
    factor = 2;
  }
  out->limit = factor / lr;
  snprintf(out->rule, sizeof out->rule, "%s", words);
  append_notes(&r, out->rule, sizeof out->rule);
  return DESCENT_OK;
}
