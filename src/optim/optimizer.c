/*
 * optimizer.c - named optimizers, the chain parser, and the fused step.
 *
 * A named optimizer ("adam") is text that expands into a chain of transforms
 * with PyTorch's defaults, so `descent optimizers` can show exactly what runs.
 * The step walks the parameters in blocks that stay in cache and pushes each
 * block through the whole chain before moving on: one pass over memory however
 * many transforms there are. A transform that needs a global reduction (a
 * gradient norm) splits the chain there into stages; the reduction is summed
 * per block and then in block order, so the result does not depend on the
 * number of threads.
 */
#include "optimizer.h"

#include "groups.h"

#include "core/multiversion.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Elements per block, the unit of the threads' schedule and of a global
   reduction's partial sums (so the sums, and their order, do not depend on
   the thread count). */
#define BLOCK OPTIMIZER_BLOCK
/* A step splits its blocks over the threads only from this many blocks
   (256K parameters): below, a second thread saves less than the parallel
   region costs, and far more on a machine where another process holds a
   core (the region then waits for a descheduled thread: the small MLP's
   80K-parameter SGD step took 7 to 15 ms at 2 threads under load, 0.05 ms
   on one). Blocks fix the reduction order, so the split never changes the
   result. */
#define PARALLEL_BLOCKS OPTIMIZER_PARALLEL_BLOCKS
/* Elements per pass of the chain: the update, the parameters and two or
   three state slices of 2048 floats (40 KB and more) spilled out of a 32 KB
   L1 between the chain's loops; slices of 512 (10 KB for Adam) stay in it.
   Measured on Zen 4: the Adam step 1.6 -> 1.0 ms at one thread. */
#define SLICE OPTIMIZER_SLICE

/* ---- named optimizers ---------------------------------------------------- */

typedef struct named_optimizer {
  const char *name;
  const char *summary;
  const char *default_lr;   /* PyTorch's (or the reference implementation's) default */
  const spec_param *params; /* besides lr */
  int n_params;
  const char *chain; /* what it expands to; [...] only when that value is not zero */
  int full_batch;    /* 1: one step per pass over the whole training set */
  /* Writes the chain (without the transform that takes the rate, unless it is
     schedule-free's sf) for these values; refuses combinations. */
  int (*expand)(const double *hp, char *buf, size_t cap);
} named_optimizer;

/* Appends " | " (when not first) and a formatted item to buf. */
static void chain_add(char *buf, size_t cap, const char *fmt, ...) DESCENT_PRINTF(3, 4);
static void chain_add(char *buf, size_t cap, const char *fmt, ...) {
  size_t used = strlen(buf);
  if (used && used < cap) used += (size_t)snprintf(buf + used, cap - used, " | ");
  if (used >= cap) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf + used, cap - used, fmt, ap);
  va_end(ap);
}

/* %.17g reads back exactly; the describe() text of the chain is canonical. */
#define NUM "%.17g"

static void add_l2(char *buf, size_t cap, double wd) {
  if (wd != 0) chain_add(buf, cap, "l2(weight_decay=" NUM ")", wd);
}

static void add_momentum(char *buf, size_t cap, double mu, double dampening, int nesterov) {
  if (mu != 0)
    chain_add(buf, cap, "momentum(momentum=" NUM ", dampening=" NUM ", nesterov=%d)", mu, dampening,
              nesterov);
}

#define P_NUM(name, def, lo, hi, lo_open, hi_open, doc)                                            \
  { name, SPEC_NUMBER, def, lo, hi, lo_open, hi_open, 0, doc }
#define P_BOOL(name, def, doc)                                                                     \
  { name, SPEC_BOOL, def, 0, 1, 0, 0, 0, doc }
#define P_MU(def)          P_NUM("momentum", def, 0, 1, 0, 1, "momentum factor mu")
#define P_DAMPENING        P_NUM("dampening", 0, 0, 1, 0, 0, "dampening of the new gradient")
#define P_WD(def)          P_NUM("weight_decay", def, 0, INFINITY, 0, 0, "weight decay")
#define P_B1(def, lo_open) P_NUM("b1", def, 0, 1, lo_open, 1, "decay of the first moment")
#define P_B2(def)          P_NUM("b2", def, 0, 1, 0, 1, "decay of the second moment")
#define P_EPS(def)         P_NUM("eps", def, 0, INFINITY, 1, 0, "added to the denominator")
#define P_SF_TAIL                                                                                  \
  {"warmup_steps", SPEC_INTEGER, 0, 0, INFINITY, 0, 0, 0, "linear warmup in steps"},               \
      P_NUM("r", 0, 0, INFINITY, 0, 0, "power r of the weighting (t+1)^r"),                        \
      P_NUM("weight_lr_power", 2, 0, INFINITY, 0, 0, "average weight is lr_max^this")
#define N_OF(a) ((int)(sizeof a / sizeof a[0]))

/* sgd and gd: torch.optim.SGD */
static const spec_param sgd_params[] = {
    P_MU(0),
    P_DAMPENING,
    P_BOOL("nesterov", 0, "1: Nesterov momentum"),
    P_WD(0),
};
static int sgd_expand(const double *hp, char *buf, size_t cap) {
  if (hp[2] && (hp[0] == 0 || hp[1] != 0))
    return descent_fail(DESCENT_EINVAL,
                        "optimizer: Nesterov momentum requires a momentum > 0 and zero dampening "
                        "(got momentum=%g, dampening=%g)",
                        hp[0], hp[1]);
  add_l2(buf, cap, hp[3]);
  add_momentum(buf, cap, hp[0], hp[1], (int)hp[2]);
  return DESCENT_OK;
}

static const spec_param momentum_params[] = {P_MU(0.9), P_DAMPENING, P_WD(0)};
static int momentum_expand(const double *hp, char *buf, size_t cap) {
  add_l2(buf, cap, hp[2]);
  add_momentum(buf, cap, hp[0], hp[1], 0);
  return DESCENT_OK;
}

static const spec_param nesterov_params[] = {
    P_NUM("momentum", 0.9, 0, 1, 1, 1, "momentum factor mu"),
    P_WD(0),
};
static int nesterov_expand(const double *hp, char *buf, size_t cap) {
  add_l2(buf, cap, hp[1]);
  add_momentum(buf, cap, hp[0], 0, 1);
  return DESCENT_OK;
}

/* torch.optim.Adagrad */
static const spec_param adagrad_params[] = {
    P_NUM("lr_decay", 0, 0, INFINITY, 0, 0, "rate multiplier 1 / (1 + (t-1) lr_decay)"),
    P_WD(0),
    P_NUM("initial_accumulator_value", 0, 0, INFINITY, 0, 0, "starting sum of squares"),
    P_EPS(1e-10),
};
static int adagrad_expand(const double *hp, char *buf, size_t cap) {
  add_l2(buf, cap, hp[1]);
  chain_add(buf, cap, "adagrad(lr_decay=" NUM ", initial_accumulator_value=" NUM ", eps=" NUM ")",
            hp[0], hp[2], hp[3]);
  return DESCENT_OK;
}

/* torch.optim.RMSprop */
static const spec_param rmsprop_params[] = {
    P_NUM("alpha", 0.99, 0, 1, 0, 1, "decay of the mean square"), P_EPS(1e-8), P_WD(0), P_MU(0),
    P_BOOL("centered", 0, "1: divide by the standard deviation"),
};
static int rmsprop_expand(const double *hp, char *buf, size_t cap) {
  add_l2(buf, cap, hp[2]);
  chain_add(buf, cap, "rmsprop(alpha=" NUM ", eps=" NUM ", centered=%d)", hp[0], hp[1], (int)hp[4]);
  add_momentum(buf, cap, hp[3], 0, 0);
  return DESCENT_OK;
}

/* torch.optim.Adam, AdamW */
static const spec_param adam_params[] = {
    P_B1(0.9, 0), P_B2(0.999), P_EPS(1e-8), P_WD(0), P_BOOL("amsgrad", 0, "1: AMSGrad"),
};
static const spec_param adamw_params[] = {
    P_B1(0.9, 0), P_B2(0.999), P_EPS(1e-8), P_WD(1e-2), P_BOOL("amsgrad", 0, "1: AMSGrad"),
};
static const spec_param amsgrad_params[] = {P_B1(0.9, 0), P_B2(0.999), P_EPS(1e-8), P_WD(0)};
static void add_adam(char *buf, size_t cap, const double *hp, int amsgrad) {
  chain_add(buf, cap, "adam(b1=" NUM ", b2=" NUM ", eps=" NUM ", amsgrad=%d)", hp[0], hp[1], hp[2],
            amsgrad);
}
static int adam_expand(const double *hp, char *buf, size_t cap) {
  add_l2(buf, cap, hp[3]);
  add_adam(buf, cap, hp, (int)hp[4]);
  return DESCENT_OK;
}
static int adamw_expand(const double *hp, char *buf, size_t cap) {
  add_adam(buf, cap, hp, (int)hp[4]);
  if (hp[3] != 0) chain_add(buf, cap, "wd(weight_decay=" NUM ")", hp[3]);
  return DESCENT_OK;
}
static int amsgrad_expand(const double *hp, char *buf, size_t cap) {
  add_l2(buf, cap, hp[3]);
  add_adam(buf, cap, hp, 1);
  return DESCENT_OK;
}

/* Lion, Chen et al. 2023 */
static const spec_param lion_params[] = {
    P_NUM("b1", 0.9, 0, 1, 0, 1, "interpolation used for the update's sign"),
    P_NUM("b2", 0.99, 0, 1, 0, 1, "decay of the momentum"),
    P_WD(0),
};
static int lion_expand(const double *hp, char *buf, size_t cap) {
  chain_add(buf, cap, "lion(b1=" NUM ", b2=" NUM ")", hp[0], hp[1]);
  if (hp[2] != 0) chain_add(buf, cap, "wd(weight_decay=" NUM ")", hp[2]);
  return DESCENT_OK;
}

/* schedulefree.SGDScheduleFree, AdamWScheduleFree */
static const spec_param sf_sgd_params[] = {
    P_NUM("momentum", 0.9, 0, 1, 1, 1, "interpolation mu between x and z"),
    P_WD(0),
    P_SF_TAIL,
};
static int sf_sgd_expand(const double *hp, char *buf, size_t cap) {
  add_l2(buf, cap, hp[1]);
  chain_add(buf, cap,
            "sf(momentum=" NUM ", warmup_steps=" NUM ", r=" NUM ", weight_lr_power=" NUM ")", hp[0],
            hp[2], hp[3], hp[4]);
  return DESCENT_OK;
}

static const spec_param sf_adamw_params[] = {
    P_B1(0.9, 1), P_B2(0.999), P_EPS(1e-8), P_WD(0), P_SF_TAIL,
};
static int sf_adamw_expand(const double *hp, char *buf, size_t cap) {
  chain_add(buf, cap, "rmsprop(alpha=" NUM ", eps=" NUM ", bias_correction=1)", hp[1], hp[2]);
  if (hp[3] != 0) chain_add(buf, cap, "wd(weight_decay=" NUM ")", hp[3]);
  chain_add(buf, cap,
            "sf(momentum=" NUM ", warmup_steps=" NUM ", r=" NUM ", weight_lr_power=" NUM ")", hp[0],
            hp[4], hp[5], hp[6]);
  return DESCENT_OK;
}

/* torch.optim.Adadelta */
static const spec_param adadelta_params[] = {
    P_NUM("rho", 0.9, 0, 1, 0, 0, "decay of both running averages"),
    P_NUM("eps", 1e-6, 0, INFINITY, 1, 0, "added inside both square roots"),
    P_WD(0),
};
static int adadelta_expand(const double *hp, char *buf, size_t cap) {
  add_l2(buf, cap, hp[2]);
  chain_add(buf, cap, "adadelta(rho=" NUM ", eps=" NUM ")", hp[0], hp[1]);
  return DESCENT_OK;
}

/* torch.optim.Rprop: etas=(etaminus, etaplus), step_sizes=(step_min, step_max) */
static const spec_param rprop_params[] = {
    P_NUM("etaminus", 0.5, 0, 1, 1, 1, "step size factor after a sign change"),
    P_NUM("etaplus", 1.2, 1, INFINITY, 1, 0, "step size factor after no change"),
    P_NUM("step_min", 1e-6, 0, INFINITY, 0, 0, "smallest step size"),
    P_NUM("step_max", 50, 0, INFINITY, 0, 0, "largest step size"),
};
static int rprop_expand(const double *hp, char *buf, size_t cap) {
  chain_add(buf, cap,
            "rprop(etaminus=" NUM ", etaplus=" NUM ", step_min=" NUM ", step_max=" NUM ")", hp[0],
            hp[1], hp[2], hp[3]);
  return DESCENT_OK;
}

/* torch.optim.ASGD */
static const spec_param asgd_params[] = {
    P_NUM("lambd", 1e-4, 0, INFINITY, 0, 0, "decay term and rate decay lambda"),
    P_NUM("alpha", 0.75, 0, INFINITY, 0, 0, "power of the rate decay"),
    P_NUM("t0", 1e6, 0, INFINITY, 0, 0, "ax averages the iterates after step t0 + 1"),
    P_WD(0),
};
static int asgd_expand(const double *hp, char *buf, size_t cap) {
  add_l2(buf, cap, hp[3]);
  chain_add(buf, cap, "asgd(lambd=" NUM ", alpha=" NUM ", t0=" NUM ")", hp[0], hp[1], hp[2]);
  return DESCENT_OK;
}

/* optax.adabelief */
static const spec_param adabelief_params[] = {
    P_B1(0.9, 0),
    P_NUM("b2", 0.999, 0, 1, 0, 1, "decay of the second moment of g - m"),
    P_EPS(1e-16),
    P_NUM("eps_root", 1e-16, 0, INFINITY, 0, 0, "added to the second moment at every step"),
    P_BOOL("nesterov", 0, "1: Nesterov's look-ahead on the first moment"),
};
static int adabelief_expand(const double *hp, char *buf, size_t cap) {
  chain_add(buf, cap,
            "adabelief(b1=" NUM ", b2=" NUM ", eps=" NUM ", eps_root=" NUM ", nesterov=%d)", hp[0],
            hp[1], hp[2], hp[3], (int)hp[4]);
  return DESCENT_OK;
}

/* optax.yogi */
static const spec_param yogi_params[] = {
    P_B1(0.9, 0),
    P_NUM("b2", 0.999, 0, 1, 0, 1, "v moves by (1-b2) g^2 a step"),
    P_EPS(1e-3),
};
static int yogi_expand(const double *hp, char *buf, size_t cap) {
  chain_add(buf, cap, "yogi(b1=" NUM ", b2=" NUM ", eps=" NUM ")", hp[0], hp[1], hp[2]);
  return DESCENT_OK;
}

/* optax.contrib.ademamix, with the paper's warmups of alpha and b3 */
static const spec_param ademamix_params[] = {
    P_B1(0.9, 0),
    P_B2(0.999),
    P_NUM("b3", 0.9999, 0, 1, 0, 1, "decay of the slow moment (after warmup)"),
    P_NUM("alpha", 5, 0, INFINITY, 0, 0, "weight of the slow moment (after warmup)"),
    P_EPS(1e-8),
    P_NUM("eps_root", 0, 0, INFINITY, 0, 0, "added inside the square root"),
    P_WD(0),
    {"alpha_warmup", SPEC_INTEGER, 0, 0, INFINITY, 0, 0, 0, "steps of alpha's warmup from 0"},
    {"b3_warmup", SPEC_INTEGER, 0, 0, INFINITY, 0, 0, 0, "steps of b3's warmup from b1"},
};
static int ademamix_expand(const double *hp, char *buf, size_t cap) {
  chain_add(buf, cap,
            "ademamix(b1=" NUM ", b2=" NUM ", b3=" NUM ", alpha=" NUM ", eps=" NUM ", eps_root=" NUM
            ", alpha_warmup=" NUM ", b3_warmup=" NUM ")",
            hp[0], hp[1], hp[2], hp[3], hp[4], hp[5], hp[7], hp[8]);
  if (hp[6] != 0) chain_add(buf, cap, "wd(weight_decay=" NUM ")", hp[6]);
  return DESCENT_OK;
}

/* torch.optim.NAdam, RAdam, Adamax: weight decay coupled (l2 before the
   scaling) or, with decoupled_weight_decay=1, decoupled (wd after it), which
   is torch's theta(1 - lr wd) followed by the step, up to rounding. */
#define P_DECOUPLED P_BOOL("decoupled_weight_decay", 0, "1: decoupled weight decay (as AdamW)")
static const spec_param nadam_params[] = {
    P_B1(0.9, 0),
    P_B2(0.999),
    P_EPS(1e-8),
    P_WD(0),
    P_NUM("momentum_decay", 4e-3, 0, INFINITY, 0, 0, "psi of the momentum schedule"),
    P_DECOUPLED,
};
static int nadam_expand(const double *hp, char *buf, size_t cap) {
  if (!hp[5]) add_l2(buf, cap, hp[3]);
  chain_add(buf, cap, "nadam(b1=" NUM ", b2=" NUM ", eps=" NUM ", momentum_decay=" NUM ")", hp[0],
            hp[1], hp[2], hp[4]);
  if (hp[5] && hp[3] != 0) chain_add(buf, cap, "wd(weight_decay=" NUM ")", hp[3]);
  return DESCENT_OK;
}

static const spec_param radam_params[] = {
    P_B1(0.9, 0), P_B2(0.999), P_EPS(1e-8), P_WD(0), P_DECOUPLED,
};
static int radam_expand(const double *hp, char *buf, size_t cap) {
  if (!hp[4]) add_l2(buf, cap, hp[3]);
  chain_add(buf, cap, "radam(b1=" NUM ", b2=" NUM ", eps=" NUM ")", hp[0], hp[1], hp[2]);
  if (hp[4] && hp[3] != 0) chain_add(buf, cap, "wd(weight_decay=" NUM ")", hp[3]);
  return DESCENT_OK;
}

static const spec_param adamax_params[] = {
    P_B1(0.9, 0),
    P_NUM("b2", 0.999, 0, 1, 0, 1, "decay of the infinity norm"),
    P_EPS(1e-8),
    P_WD(0),
};
static int adamax_expand(const double *hp, char *buf, size_t cap) {
  add_l2(buf, cap, hp[3]);
  chain_add(buf, cap, "adamax(b1=" NUM ", b2=" NUM ", eps=" NUM ")", hp[0], hp[1], hp[2]);
  return DESCENT_OK;
}

/* optax.lamb (You et al. 2019) and optax.lars (You et al. 2017) */
static const spec_param lamb_params[] = {
    P_B1(0.9, 0), P_B2(0.999),
    P_EPS(1e-6),  P_NUM("eps_root", 0, 0, INFINITY, 0, 0, "added inside the square root"),
    P_WD(0),
};
static int lamb_expand(const double *hp, char *buf, size_t cap) {
  chain_add(buf, cap, "optax_adam(b1=" NUM ", b2=" NUM ", eps=" NUM ", eps_root=" NUM ")", hp[0],
            hp[1], hp[2], hp[3]);
  if (hp[4] != 0) chain_add(buf, cap, "wd(weight_decay=" NUM ")", hp[4]);
  chain_add(buf, cap, "trust_ratio");
  return DESCENT_OK;
}

static const spec_param lars_params[] = {
    P_WD(0),
    P_NUM("trust_coefficient", 0.001, 0, INFINITY, 1, 0, "multiplier of the trust ratio"),
    P_NUM("eps", 0, 0, INFINITY, 0, 0, "added to the update's norm in the ratio"),
    P_MU(0.9),
    P_BOOL("nesterov", 0, "1: Nesterov momentum"),
};
/* optax's trace(decay=0) passes the update through, Nesterov or not: no
   momentum transform then. */
static int lars_expand(const double *hp, char *buf, size_t cap) {
  add_l2(buf, cap, hp[0]);
  chain_add(buf, cap, "trust_ratio(trust_coefficient=" NUM ", eps=" NUM ")", hp[1], hp[2]);
  add_momentum(buf, cap, hp[3], 0, (int)hp[4]);
  return DESCENT_OK;
}

/* torch.optim.Muon: 2-D weights (and conv kernels, read as out x in*kh*kw) */
static const spec_param muon_params[] = {
    P_WD(0.1),
    P_MU(0.95),
    P_BOOL("nesterov", 1, "1: Nesterov momentum"),
    {"ns_steps", SPEC_INTEGER, 5, 0, 99, 0, 0, 0, "Newton-Schulz iterations"},
    P_NUM("eps", 1e-7, 0, INFINITY, 1, 0, "smallest norm the update is divided by"),
    P_NUM("a", 3.4445, -INFINITY, INFINITY, 1, 1, "Newton-Schulz coefficient a"),
    P_NUM("b", -4.7750, -INFINITY, INFINITY, 1, 1, "Newton-Schulz coefficient b"),
    P_NUM("c", 2.0315, -INFINITY, INFINITY, 1, 1, "Newton-Schulz coefficient c"),
    {"adjust_lr", SPEC_INTEGER, 0, 0, 2, 0, 0, 0,
     "adjust_lr_fn: 0 original, 1 match_rms_adamw, 2 spectral_unclamped"},
    P_BOOL("bf16", 0,
           "1: the iteration in bfloat16 as torch runs it (newton_schulz_bf16; the float "
           "library on an AVX512_BF16 CPU)"),
};
static int muon_expand(const double *hp, char *buf, size_t cap) {
  chain_add(buf, cap, "muon_momentum(momentum=" NUM ", nesterov=%d)", hp[1], (int)hp[2]);
  chain_add(buf, cap, "%s(steps=%d, eps=" NUM ", a=" NUM ", b=" NUM ", c=" NUM ")",
            hp[9] ? "newton_schulz_bf16" : "newton_schulz", (int)hp[3], hp[4], hp[5], hp[6], hp[7]);
  chain_add(buf, cap, "muon_lr(weight_decay=" NUM ", adjust_lr=%d)", hp[0], (int)hp[8]);
  return DESCENT_OK;
}

/* optax.contrib.prodigy and optax.contrib.dadapt_adamw: the transform takes
   the rate itself (optax's learning_rate multiplies d inside the step). */
static const spec_param prodigy_params[] = {
    P_B1(0.9, 0),
    P_B2(0.999),
    P_NUM("b3", -1, -1, 1, 0, 1, "decay of s and of the numerator; -1: sqrt(b2)"),
    P_EPS(1e-8),
    P_NUM("estim_lr0", 1e-6, 0, INFINITY, 1, 0, "d0, the initial estimate of d"),
    P_NUM("estim_lr_coef", 1, 0, INFINITY, 1, 0, "the estimates of d are times this"),
    P_WD(0),
    P_BOOL("safeguard_warmup", 0, "1: no lr in the denominator of d's estimate"),
};
static int prodigy_expand(const double *hp, char *buf, size_t cap) {
  chain_add(buf, cap,
            "prodigy(b1=" NUM ", b2=" NUM ", b3=" NUM ", eps=" NUM ", estim_lr0=" NUM
            ", estim_lr_coef=" NUM ", weight_decay=" NUM ", safeguard_warmup=%d)",
            hp[0], hp[1], hp[2], hp[3], hp[4], hp[5], hp[6], (int)hp[7]);
  return DESCENT_OK;
}
/* torch.optim.Adafactor: one whole-tensor transform that takes the rate */
static const spec_param adafactor_params[] = {
    P_NUM("beta2_decay", -0.8, -INFINITY, 0, 1, 0, "the second moment's weight is t^beta2_decay"),
    P_NUM("eps1", -1, -1, INFINITY, 0, 0,
          "smallest row mean and (squared) second moment; -1: the machine epsilon"),
    P_NUM("eps2", 1e-3, 0, INFINITY, 0, 0, "smallest parameter RMS the step scales by"),
    P_NUM("d", 1, 1, INFINITY, 0, 0, "clipping threshold of the update's RMS"),
    P_WD(0),
};
static int adafactor_expand(const double *hp, char *buf, size_t cap) {
  chain_add(buf, cap,
            "adafactor(beta2_decay=" NUM ", eps1=" NUM ", eps2=" NUM ", d=" NUM
            ", weight_decay=" NUM ")",
            hp[0], hp[1], hp[2], hp[3], hp[4]);
  return DESCENT_OK;
}
/* Distributed Shampoo (facebookresearch/optimizers), its defaults; momentum
   and the inverse root's exponent through the chain (shampoo | momentum | lr) */
static const spec_param shampoo_params[] = {
    P_B1(0.9, 0),
    P_NUM("b2", 1, 0, 1, 1, 0, "decay of the factor matrices (1: sums, as AdaGrad)"),
    P_NUM("eps", 1e-12, 0, INFINITY, 1, 0, "added to the factors' eigenvalues"),
    P_WD(0),
    {"precondition_frequency", SPEC_INTEGER, 1, 1, 1e9, 0, 0, 0,
     "steps between recomputations of the inverse roots"},
    {"start_preconditioning_step", SPEC_INTEGER, -1, -1, 1e9, 0, 0, 0,
     "first step preconditioned; -1: precondition_frequency"},
    {"max_preconditioner_dim", SPEC_INTEGER, 1024, 1, 1e9, 0, 0, 0,
     "largest factor matrix: longer dimensions are cut into blocks"},
    {"merge_dims", SPEC_INTEGER, 1, 0, DESCENT_MAX_DIMS, 0, 0, 0,
     "merge small dimensions down to this many; 0: never"},
    P_BOOL("bias_correction", 1, "1: divide by 1 - b1^t and 1 - b2^t"),
    {"grafting", SPEC_INTEGER, 0, 0, 4, 0, 0, 0,
     "step size per block from: 0 none, 1 SGD, 2 AdaGrad, 3 RMSprop, 4 Adam"},
    P_NUM("graft_b2", -1, -1, 1, 0, 1, "RMSprop's and Adam's grafting decay; -1: 0.99, 0.999"),
    P_NUM("graft_eps", 1e-10, 0, INFINITY, 1, 0, "the grafting's epsilon"),
};
static int shampoo_expand(const double *hp, char *buf, size_t cap) {
  chain_add(buf, cap,
            "shampoo(b1=" NUM ", b2=" NUM ", eps=" NUM ", precondition_frequency=%d, "
            "start_preconditioning_step=%d, max_preconditioner_dim=%d, merge_dims=%d, "
            "bias_correction=%d, grafting=%d, graft_b2=" NUM ", graft_eps=" NUM ")",
            hp[0], hp[1], hp[2], (int)hp[4], (int)hp[5], (int)hp[6], (int)hp[7], (int)hp[8],
            (int)hp[9], hp[10], hp[11]);
  if (hp[3] != 0) chain_add(buf, cap, "wd(weight_decay=" NUM ")", hp[3]);
  return DESCENT_OK;
}
/* SOAP (nikhilvyas/SOAP's soap.py): one whole-tensor transform that takes
   the rate */
static const spec_param soap_params[] = {
    P_NUM("b1", 0.95, 0, 1, 0, 1, "decay of the rotated gradient's average"),
    P_NUM("b2", 0.95, 0, 1, 0, 1, "decay of the rotated squared gradient's average"),
    P_NUM("shampoo_beta", -1, -1, 1, 0, 1, "decay of Shampoo's factors; negative: b2"),
    P_EPS(1e-8),
    P_WD(0.01),
    {"precondition_frequency", SPEC_INTEGER, 10, 1, 1e9, 0, 0, 0,
     "steps between refreshes of the eigenbases (power iteration and QR)"},
    {"max_precond_dim", SPEC_INTEGER, 10000, 1, DESCENT_LAPACK_MAX_DIM, 0, 0, 0,
     "largest dimension that gets a factor; larger ones are not rotated"},
    P_BOOL("merge_dims", 0, "the reference's merge_dims (not built: 0 only)"),
    P_BOOL("precondition_1d", 0, "1: a 1-D tensor gets a factor too"),
    P_BOOL("normalize_grads", 0, "1: the update is divided by its RMS per tensor"),
    P_BOOL("correct_bias", 1, "1: Adam's bias correction of the step size"),
};
static int soap_expand(const double *hp, char *buf, size_t cap) {
  chain_add(buf, cap,
            "soap(b1=" NUM ", b2=" NUM ", shampoo_beta=" NUM ", eps=" NUM ", weight_decay=" NUM
            ", precondition_frequency=%d, max_precond_dim=%d, merge_dims=%d, precondition_1d=%d, "
            "normalize_grads=%d, correct_bias=%d)",
            hp[0], hp[1], hp[2], hp[3], hp[4], (int)hp[5], (int)hp[6], (int)hp[7], (int)hp[8],
            (int)hp[9], (int)hp[10]);
  return DESCENT_OK;
}
static const spec_param dadapt_adamw_params[] = {
    P_B1(0.9, 0), P_B2(0.999),
    P_EPS(1e-8),  P_NUM("estim_lr0", 1e-6, 0, INFINITY, 1, 0, "d0, the initial estimate of d"),
    P_WD(0),
};
static int dadapt_adamw_expand(const double *hp, char *buf, size_t cap) {
  chain_add(buf, cap,
            "dadapt_adamw(b1=" NUM ", b2=" NUM ", eps=" NUM ", estim_lr0=" NUM ", weight_decay=" NUM
            ")",
            hp[0], hp[1], hp[2], hp[3], hp[4]);
  return DESCENT_OK;
}

/* optax.novograd (Ginsburg et al. 2019) */
static const spec_param novograd_params[] = {
    P_B1(0.9, 0),
    P_NUM("b2", 0.25, 0, 1, 0, 1, "decay of the per-tensor second moment"),
    P_NUM("eps", 1e-6, 0, INFINITY, 0, 0, "added after the square root"),
    P_NUM("eps_root", 0, 0, INFINITY, 0, 0, "added inside the square root"),
    P_WD(0),
};
static int novograd_expand(const double *hp, char *buf, size_t cap) {
  chain_add(buf, cap,
            "novograd(b1=" NUM ", b2=" NUM ", eps=" NUM ", eps_root=" NUM ", weight_decay=" NUM ")",
            hp[0], hp[1], hp[2], hp[3], hp[4]);
  return DESCENT_OK;
}

static const named_optimizer named[] = {
    {"sgd", "stochastic gradient descent (torch.optim.SGD)", "1e-3", sgd_params, N_OF(sgd_params),
     "[l2(weight_decay)] | [momentum(momentum, dampening, nesterov)] | lr", 0, sgd_expand},
    {"gd", "full-batch gradient descent: sgd on the whole training set per step", "1e-3",
     sgd_params, N_OF(sgd_params),
     "[l2(weight_decay)] | [momentum(momentum, dampening, nesterov)] | lr", 1, sgd_expand},
    {"momentum", "heavy-ball momentum (sgd with momentum=0.9)", "1e-3", momentum_params,
     N_OF(momentum_params), "[l2(weight_decay)] | momentum(momentum, dampening) | lr", 0,
     momentum_expand},
    {"nesterov", "Nesterov momentum, PyTorch's form (sgd with nesterov=1)", "1e-3", nesterov_params,
     N_OF(nesterov_params), "[l2(weight_decay)] | momentum(momentum, nesterov=1) | lr", 0,
     nesterov_expand},
    {"adagrad", "Adagrad (torch.optim.Adagrad)", "1e-2", adagrad_params, N_OF(adagrad_params),
     "[l2(weight_decay)] | adagrad(lr_decay, initial_accumulator_value, eps) | lr", 0,
     adagrad_expand},
    {"rmsprop", "RMSprop (torch.optim.RMSprop)", "1e-2", rmsprop_params, N_OF(rmsprop_params),
     "[l2(weight_decay)] | rmsprop(alpha, eps, centered) | [momentum(momentum)] | lr", 0,
     rmsprop_expand},
    {"adam", "Adam with coupled L2 weight decay (torch.optim.Adam)", "1e-3", adam_params,
     N_OF(adam_params), "[l2(weight_decay)] | adam(b1, b2, eps, amsgrad) | lr", 0, adam_expand},
    {"adamw", "Adam with decoupled weight decay (torch.optim.AdamW)", "1e-3", adamw_params,
     N_OF(adamw_params), "adam(b1, b2, eps, amsgrad) | [wd(weight_decay)] | lr", 0, adamw_expand},
    {"amsgrad", "AMSGrad (torch.optim.Adam with amsgrad=True)", "1e-3", amsgrad_params,
     N_OF(amsgrad_params), "[l2(weight_decay)] | adam(b1, b2, eps, amsgrad=1) | lr", 0,
     amsgrad_expand},
    {"lion", "Lion (Chen et al. 2023), decoupled weight decay", "1e-4", lion_params,
     N_OF(lion_params), "lion(b1, b2) | [wd(weight_decay)] | lr", 0, lion_expand},
    {"sf_sgd", "schedule-free SGD (schedulefree.SGDScheduleFree)", "1.0", sf_sgd_params,
     N_OF(sf_sgd_params), "[l2(weight_decay)] | sf(lr, momentum, warmup_steps, r, weight_lr_power)",
     0, sf_sgd_expand},
    {"sf_adamw", "schedule-free AdamW (schedulefree.AdamWScheduleFree)", "0.0025", sf_adamw_params,
     N_OF(sf_adamw_params),
     "rmsprop(alpha=b2, eps, bias_correction=1) | [wd(weight_decay)] | sf(lr, momentum=b1, "
     "warmup_steps, r, weight_lr_power)",
     0, sf_adamw_expand},
    {"adadelta", "Adadelta (torch.optim.Adadelta)", "1.0", adadelta_params, N_OF(adadelta_params),
     "[l2(weight_decay)] | adadelta(rho, eps) | lr", 0, adadelta_expand},
    {"rprop", "Rprop (torch.optim.Rprop): lr, a number, is the initial step size", "1e-2",
     rprop_params, N_OF(rprop_params), "rprop(etaminus, etaplus, step_min, step_max, lr)", 0,
     rprop_expand},
    {"asgd", "averaged SGD (torch.optim.ASGD); evaluation at the average ax", "1e-2", asgd_params,
     N_OF(asgd_params), "[l2(weight_decay)] | asgd(lambd, alpha, t0, lr)", 0, asgd_expand},
    {"adabelief", "AdaBelief (optax.adabelief)", "1e-3", adabelief_params, N_OF(adabelief_params),
     "adabelief(b1, b2, eps, eps_root, nesterov) | lr", 0, adabelief_expand},
    {"yogi", "Yogi (optax.yogi)", "1e-2", yogi_params, N_OF(yogi_params), "yogi(b1, b2, eps) | lr",
     0, yogi_expand},
    {"ademamix", "AdEMAMix (optax.contrib.ademamix), decoupled weight decay", "1e-3",
     ademamix_params, N_OF(ademamix_params),
     "ademamix(b1, b2, b3, alpha, eps, eps_root, alpha_warmup, b3_warmup) | [wd(weight_decay)] | "
     "lr",
     0, ademamix_expand},
    {"nadam", "NAdam: Adam with Nesterov momentum (torch.optim.NAdam)", "2e-3", nadam_params,
     N_OF(nadam_params),
     "[l2(weight_decay)] | nadam(b1, b2, eps, momentum_decay) | [wd(weight_decay)] | lr; wd in "
     "place of l2 with "
     "decoupled_weight_decay=1",
     0, nadam_expand},
    {"radam", "RAdam: Adam with a rectified variance (torch.optim.RAdam)", "1e-3", radam_params,
     N_OF(radam_params),
     "[l2(weight_decay)] | radam(b1, b2, eps) | [wd(weight_decay)] | lr; wd in place of l2 with "
     "decoupled_weight_decay=1",
     0, radam_expand},
    {"adamax", "Adamax: Adam with an infinity norm (torch.optim.Adamax)", "2e-3", adamax_params,
     N_OF(adamax_params), "[l2(weight_decay)] | adamax(b1, b2, eps) | lr", 0, adamax_expand},
    {"lamb",
     "LAMB (You et al. 2019; optax.lamb): Adam's step rescaled per tensor by a trust "
     "ratio",
     "1e-3", lamb_params, N_OF(lamb_params),
     "optax_adam(b1, b2, eps, eps_root) | [wd(weight_decay)] | trust_ratio | lr", 0, lamb_expand},
    {"lars", "LARS (You et al. 2017; optax.lars): momentum SGD with a per-tensor trust ratio", "1",
     lars_params, N_OF(lars_params),
     "[l2(weight_decay)] | trust_ratio(trust_coefficient, eps) | [momentum(momentum, nesterov)] | "
     "lr",
     0, lars_expand},
    {"muon",
     "Muon (torch.optim.Muon): Nesterov momentum orthogonalized per matrix by Newton-Schulz, "
     "for 2-D weights and conv kernels",
     "1e-3", muon_params, N_OF(muon_params),
     "muon_momentum(momentum, nesterov) | newton_schulz(steps=ns_steps, eps, a, b, c) "
     "(newton_schulz_bf16 with bf16=1) | muon_lr(weight_decay, adjust_lr, lr)",
     0, muon_expand},
    {"prodigy",
     "Prodigy (Mishchenko & Defazio 2023; optax.contrib.prodigy): AdamW that estimates its own "
     "step size d; lr multiplies d",
     "1", prodigy_params, N_OF(prodigy_params),
     "prodigy(b1, b2, b3, eps, estim_lr0, estim_lr_coef, weight_decay, safeguard_warmup, lr)", 0,
     prodigy_expand},
    {"dadapt_adamw",
     "D-Adaptation AdamW (Defazio & Mishchenko 2023; optax.contrib.dadapt_adamw): AdamW that "
     "estimates its own step size d; lr multiplies d",
     "1", dadapt_adamw_params, N_OF(dadapt_adamw_params),
     "dadapt_adamw(b1, b2, eps, estim_lr0, weight_decay, lr)", 0, dadapt_adamw_expand},
    {"novograd",
     "Novograd (Ginsburg et al. 2019; optax.novograd): momentum of the gradient normalized by "
     "a per-tensor second moment",
     "1e-3", novograd_params, N_OF(novograd_params),
     "novograd(b1, b2, eps, eps_root, weight_decay) | lr", 0, novograd_expand},
    {"adafactor",
     "Adafactor (torch.optim.Adafactor): second moment factored into row and column means per "
     "matrix, relative step size, update clipping",
     "1e-2", adafactor_params, N_OF(adafactor_params),
     "adafactor(beta2_decay, eps1, eps2, d, weight_decay, lr)", 0, adafactor_expand},
    {"shampoo",
     "Shampoo (Gupta et al. 2018) as Distributed Shampoo (facebookresearch/optimizers) computes "
     "it: Kronecker-factored preconditioners per block, inverse roots by eigendecomposition, "
     "grafting",
     "1e-2", shampoo_params, N_OF(shampoo_params),
     "shampoo(b1, b2, eps, precondition_frequency, start_preconditioning_step, "
     "max_preconditioner_dim, merge_dims, bias_correction, grafting, graft_b2, graft_eps) | "
     "[wd(weight_decay)] | lr",
     0, shampoo_expand},
    {"soap",
     "SOAP (Vyas et al. 2024; nikhilvyas/SOAP): Adam in the eigenbasis of Shampoo's "
     "per-dimension factors, refreshed every precondition_frequency steps",
     "3e-3", soap_params, N_OF(soap_params),
     "soap(b1, b2, shampoo_beta, eps, weight_decay, precondition_frequency, max_precond_dim, "
     "merge_dims, precondition_1d, normalize_grads, correct_bias, lr)",
     0, soap_expand},
};
enum { N_NAMED = sizeof named / sizeof named[0] };

static const named_optimizer *named_find(const char *name) {
  for (int i = 0; i < N_NAMED; i++)
    if (strcmp(named[i].name, name) == 0) return &named[i];
  return NULL;
}

int optimizer_is_named(const char *name) {
  return named_find(name) != NULL || method_find(name) != NULL;
}

static void named_list(char *buf, size_t cap) {
  size_t used = 0;
  buf[0] = '\0';
  for (int i = 0; i < N_NAMED && used < cap; i++)
    used += (size_t)snprintf(buf + used, cap - used, "%s%s", i ? ", " : "", named[i].name);
}

/* Binds a named optimizer's arguments (lr is taken out first) and expands it. */
static int expand_named(const named_optimizer *no, const spec_call *call, char *chain,
                        size_t chain_cap, const char **lr_text, char *lr_buf, size_t lr_cap) {
  spec_call rest = *call;
  rest.n_args = 0;
  for (int i = 0; i < call->n_args; i++) {
    const spec_arg *a = &call->args[i];
    if (strcmp(a->key, "lr") == 0) {
      snprintf(lr_buf, lr_cap, "%s", a->value);
      *lr_text = lr_buf;
    } else {
      if (a->key[0] == '\0') {
        spec_quote q;
        return descent_fail(DESCENT_EINVAL,
                            "optimizer %s: name its arguments, as in %s(lr=0.1); got %s", no->name,
                            no->name, spec_quote_text(&q, a->value));
      }
      rest.args[rest.n_args++] = *a;
    }
  }
  double hp[SPEC_MAX_ARGS];
  int rc = spec_bind(&rest, no->params, no->n_params, hp, NULL, "optimizer");
  if (rc) return rc;
  chain[0] = '\0';
  rc = no->expand(hp, chain, chain_cap);
  if (!rc && strlen(chain) + 1 >= chain_cap)
    return descent_fail(DESCENT_ERANGE, "optimizer %s: its chain is longer than %zu characters",
                        no->name, chain_cap - 2);
  return rc;
}

/* ---- building the chain -------------------------------------------------- */

static int schedule_param(const transform_def *def) {
  for (int j = 0; j < def->n_params; j++)
    if (def->params[j].kind == SPEC_TEXT) return j;
  return -1;
}

/* A named optimizer written inside a chain ("clip(1) | adam"): refused, with
   the chain it stands for, which can be written there instead. */
static int refuse_named_in_chain(const named_optimizer *no, spec_span item, const char *lr_text) {
  char text[512], chain[1024];
  descent_optimizer *alone = NULL;
  snprintf(text, sizeof text, "%.*s", (int)item.len, item.start);
  if (item.len < sizeof text && descent_optimizer_create(&alone, text, lr_text, 1) == DESCENT_OK) {
    optimizer_describe_chain(alone, chain, sizeof chain);
    descent_optimizer_free(alone);
  } else {
    snprintf(chain, sizeof chain, "%s", no->chain);
  }
  return descent_fail(DESCENT_EINVAL,
                      "optimizer: '%s' is a named optimizer and cannot appear inside a chain; "
                      "write its chain instead: %s",
                      no->name, chain);
}

static int add_transform(descent_optimizer *opt, const spec_call *call, const char *lr_text,
                         int lr_option, int is_last, const char *chain) {
  const transform_def *def = transform_find(call->name);
  if (!def && method_find(call->name)) {
    spec_quote q;
    return descent_fail(DESCENT_EINVAL,
                        "optimizer: '%s' is a method (it evaluates the objective itself) and "
                        "cannot appear inside a chain; write it alone, or followed by lr(RATE): %s",
                        call->name, spec_quote_text(&q, chain));
  }
  if (!def) {
    char names[1024], named_names[512], method_names[256];
    transform_list_names(names, sizeof names);
    named_list(named_names, sizeof named_names);
    method_list_names(method_names, sizeof method_names);
    return descent_fail(DESCENT_EINVAL,
                        "unknown optimizer or transform '%s'; named optimizers: %s; methods "
                        "(alone or followed by lr(RATE)): %s; transforms: %s",
                        call->name, named_names, method_names, names);
  }
  if (def->has_schedule && !is_last) {
    spec_quote q;
    return descent_fail(DESCENT_EINVAL, "optimizer: %s(...) must come last in the chain %s",
                        def->name, spec_quote_text(&q, chain));
  }
  if (opt->n_transforms == OPTIMIZER_MAX_CHAIN)
    return descent_fail(DESCENT_ERANGE, "optimizer chain longer than %d transforms",
                        OPTIMIZER_MAX_CHAIN);
  transform *t = &opt->chain[opt->n_transforms++];
  t->def = def;
  t->rate_scale = 1;
  const char *texts[SPEC_MAX_ARGS];
  int rc = spec_bind(call, def->params, def->n_params, t->hp, texts, "optimizer");
  if (rc) return rc;
  if (def->has_schedule) {
    const char *own = texts[schedule_param(def)];
    if (own && lr_text)
      return descent_fail(DESCENT_EINVAL,
                          "the learning rate is given twice (in the optimizer spec and by --lr); "
                          "keep one");
    const char *text = own ? own : lr_text;
    if (!text)
      return descent_fail(DESCENT_EINVAL,
                          "no learning rate: pass --lr or write lr(RATE) at the end of the chain");
    rc = descent_schedule_parse(&t->schedule, text);
    if (rc) {
      /* Say where the rate came from: the spec's own lr= or --lr. */
      descent_error_prefix("%s: ", own || !lr_option ? "optimizer" : "--lr");
      return rc;
    }
  }
  t->n_slots = def->count_slots ? def->count_slots(t) : def->slots;
  if (def->start) def->start(t);
  if (def->validate) return def->validate(t);
  return DESCENT_OK;
}

static int parse_chain(descent_optimizer *opt, const char *chain, const char *lr_text,
                       int lr_option) {
  spec_span items[OPTIMIZER_MAX_CHAIN];
  int n = 0;
  int rc = spec_split(chain, "|", items, OPTIMIZER_MAX_CHAIN, &n, "optimizer");
  if (rc) return rc;
  for (int i = 0; i < n; i++) {
    spec_call call;
    rc = spec_parse_call(items[i], &call, "optimizer");
    const named_optimizer *no = rc || transform_find(call.name) ? NULL : named_find(call.name);
    if (no) return refuse_named_in_chain(no, items[i], lr_text);
    if (!rc) rc = add_transform(opt, &call, lr_text, lr_option, i == n - 1, chain);
    if (rc) return rc;
  }
  if (n == 0 || !opt->chain[n - 1].def->has_schedule) {
    spec_call lr = {.name = "lr"};
    rc = add_transform(opt, &lr, lr_text, lr_option, 1, chain);
    if (rc) return rc;
  }
  return DESCENT_OK;
}

static size_t block_count(size_t n) {
  return (n + BLOCK - 1) / BLOCK;
}

int optimizer_slot_count(const descent_optimizer *opt) {
  int slots = 0;
  for (int i = 0; i < opt->n_transforms; i++) slots += opt->chain[i].n_slots;
  return slots;
}

void optimizer_point_slots(descent_optimizer *opt) {
  size_t next = 0;
  for (int i = 0; i < opt->n_transforms; i++)
    for (int s = 0; s < opt->chain[i].n_slots; s++)
      opt->chain[i].slots[s] = opt->state + opt->shard_count * next++;
}

static int allocate_state(descent_optimizer *opt) {
  int slots = optimizer_slot_count(opt), needs_work = 0, has_global = 0;
  opt->partial_sums = 1;
  for (int i = 0; i < opt->n_transforms; i++)
    if (opt->chain[i].def->global) {
      has_global = 1, needs_work |= i > 0;
      if (opt->chain[i].def->global_sums > opt->partial_sums)
        opt->partial_sums = opt->chain[i].def->global_sums;
    } else if (opt->chain[i].def->per_tensor)
      opt->per_tensor = 1, needs_work |= i > 0;
    else if (opt->chain[i].def->whole_tensor)
      opt->per_tensor = 1, needs_work = 1; /* it runs in place in the work buffer */
  if (slots) {
    size_t total;
    if (!descent_mul_ok(opt->n, (size_t)slots, &total))
      return descent_fail(DESCENT_ERANGE, "optimizer state overflows");
    opt->state = descent_alloc_real(total, "optimizer state");
    if (!opt->state) return DESCENT_ENOMEM;
  }
  if (needs_work) {
    opt->work = descent_alloc_real(opt->n, "optimizer work buffer");
    if (!opt->work) return DESCENT_ENOMEM;
  }
  opt->block_size = BLOCK;
  if (has_global && !opt->per_tensor) {
    opt->partials = descent_calloc((block_count(opt->n) + 1) * (size_t)opt->partial_sums,
                                   sizeof *opt->partials, "optimizer reduction");
    if (!opt->partials) return DESCENT_ENOMEM;
  }
  optimizer_point_slots(opt);
  return DESCENT_OK;
}

int descent_optimizer_create(descent_optimizer **out, const char *spec, const char *lr,
                             size_t n_params) {
  *out = NULL;
  descent_error_clear();
  if (!spec || !*spec) return descent_fail(DESCENT_EINVAL, "empty optimizer spec; try sgd");
  /* The spec is kept as text (for describe and the saved state): refuse what
     would not fit rather than cut it. */
  if (strlen(spec) >= OPTIMIZER_MAX_TEXT) {
    spec_quote q;
    return descent_fail(DESCENT_ERANGE, "optimizer spec longer than the limit of %d characters: %s",
                        OPTIMIZER_MAX_TEXT - 1, spec_quote_text(&q, spec));
  }
  if (groups_is_spec(spec)) return groups_create(out, spec, lr, n_params);
  descent_optimizer *opt = descent_calloc(1, sizeof *opt, "optimizer");
  if (!opt) return DESCENT_ENOMEM;
  opt->n = n_params;
  opt->shard_count = n_params;
  int rc = DESCENT_OK;
  char chain[OPTIMIZER_MAX_TEXT], lr_buf[192];
  const char *lr_text = lr;
  snprintf(chain, sizeof chain, "%s", spec);
  /* A lone name (no '|') is first looked up among the named optimizers. */
  rc = spec_check_text(spec, "optimizer");
  int method = 0;
  if (!rc)
    rc = method_parse(opt, spec, lr, chain, sizeof chain, &lr_text, lr_buf, sizeof lr_buf, &method);
  if (!rc && !method && !strchr(spec, '|')) {
    spec_call call;
    rc = spec_parse_call((spec_span){spec, strlen(spec)}, &call, "optimizer");
    const named_optimizer *no = rc ? NULL : named_find(call.name);
    if (no) {
      const char *own_lr = NULL;
      rc = expand_named(no, &call, chain, sizeof chain, &own_lr, lr_buf, sizeof lr_buf);
      if (!rc && own_lr && lr)
        rc = descent_fail(DESCENT_EINVAL,
                          "the learning rate is given twice (in the optimizer spec and by --lr); "
                          "keep one");
      lr_text = own_lr ? own_lr : lr ? lr : no->default_lr;
      opt->full_batch = no->full_batch;
    }
  }
  /* lr_option: the rate is --lr's text, for messages. */
  if (!rc) rc = parse_chain(opt, chain, lr_text, lr && lr_text == lr);
  if (!rc) rc = allocate_state(opt);
  if (rc) {
    descent_optimizer_free(opt);
    return rc;
  }
  snprintf(opt->spec, sizeof opt->spec, "%s", spec);
  /* A method written alone reads "lbfgs = lbfgs(...) | lr(...)"; with its
     lr(...) it is a chain, described as it is. */
  snprintf(opt->expanded, sizeof opt->expanded, "%s", method && !strchr(spec, '|') ? "" : chain);
  if (method && strchr(spec, '|')) snprintf(opt->expanded, sizeof opt->expanded, "%s", spec);
  opt->spec_base_lr = descent_optimizer_base_lr(opt);
  *out = opt;
  return DESCENT_OK;
}

void descent_optimizer_free(descent_optimizer *opt) {
  if (!opt) return;
  if (opt->groups) groups_free(opt);
  for (int i = 0; i < opt->n_transforms; i++) descent_schedule_free(opt->chain[i].schedule);
  if (opt->method) opt->method->destroy(opt->method_state);
  descent_free_real(opt->state);
  descent_free_real(opt->work);
  descent_free_real(opt->held);
  free(opt->partials);
  optimizer_layout_free(opt);
  free(opt);
}

/* ---- the step ------------------------------------------------------------ */

/* The sums of global transform t over the block b of the buffer u, which
   starts at lo and holds n numbers: one in partials[b], or global_sums of
   them from partials[b * global_sums]. */
static void reduce_block(descent_optimizer *opt, const transform *t, const descent_real *u,
                         const descent_real *theta, size_t b, size_t lo, size_t n) {
  if (!t->def->global_sums) {
    opt->partials[b] = t->def->reduce(t, u + lo, n);
    return;
  }
  descent_real *slots[TRANSFORM_MAX_SLOTS];
  for (int s = 0; s < t->n_slots; s++) slots[s] = t->slots[s] + lo;
  t->def->reduce_global(t, u + lo, theta + lo, slots, n,
                        opt->partials + b * (size_t)t->def->global_sums);
}

/* The reduction of a global transform over a whole buffer, in parallel by
   block and summed in block order. */
static void reduce_all(descent_optimizer *opt, transform *t, const descent_real *src,
                       const descent_real *theta) {
  size_t n = opt->n, blocks = block_count(n);
#pragma omp parallel for schedule(static) if (blocks >= PARALLEL_BLOCKS)
  for (size_t b = 0; b < blocks; b++) {
    size_t lo = b * BLOCK;
    reduce_block(opt, t, src, theta, b, lo, n - lo < BLOCK ? n - lo : BLOCK);
  }
}

static void finish_reduction(descent_optimizer *opt, transform *t) {
  size_t blocks = block_count(opt->n);
  int k = t->def->global_sums;
  if (!k) {
    double total = 0;
    for (size_t b = 0; b < blocks; b++) total += opt->partials[b];
    t->def->finish(t, total);
    return;
  }
  double totals[TRANSFORM_MAX_TENSOR_SUMS] = {0};
  for (size_t b = 0; b < blocks; b++)
    for (int j = 0; j < k; j++) totals[j] += opt->partials[b * (size_t)k + (size_t)j];
  t->def->finish_global(t, totals);
}

/* theta += u over one block, at the width of the kernel path. */
static MULTIVERSION_BODY void add_update_body(const descent_real *u, descent_real *theta,
                                              size_t n) {
#pragma omp simd
  for (size_t i = 0; i < n; i++) theta[i] += u[i];
}
MULTIVERSION_VOID(add_update, (const descent_real *u, descent_real *theta, size_t n), (u, theta, n))

/* (optimizer.h) */
void optimizer_run_slice(descent_optimizer *opt, int first, int last, size_t at, size_t count,
                         size_t tensor, const descent_real *src, descent_real *dst,
                         descent_real *theta) {
  const int init = opt->step == 0, writes_theta = opt->chain[last - 1].def->final;
  const transform *head = &opt->chain[first];
  if (!dst && last - first == 2 && head->def->apply_lr_add && !(init && head->def->init) &&
      transform_is_lr(&opt->chain[first + 1])) {
    descent_real *slots[TRANSFORM_MAX_SLOTS];
    for (int s = 0; s < head->n_slots; s++) slots[s] = head->slots[s] + at;
    if (head->def->apply_lr_add(head, src + at, theta + at, slots, count,
                                (descent_real)-opt->chain[first + 1].scalar[0]))
      return;
  }
  if (!dst && last - first == 1 && transform_is_lr(head)) {
    transform_lr_add(src + at, theta + at, count, (descent_real)-head->scalar[0]);
    return;
  }
  _Alignas(64) descent_real u[SLICE];
  memcpy(u, src + at, count * sizeof *u);
  for (int i = first; i < last; i++) {
    const transform *t = &opt->chain[i];
    descent_real *slots[TRANSFORM_MAX_SLOTS];
    for (int s = 0; s < t->n_slots; s++) slots[s] = t->slots[s] + at;
    if (init && t->def->init) t->def->init(t, theta + at, slots, count);
    if (t->def->apply_tensor)
      t->def->apply_tensor(t, u, theta + at, slots, count, tensor);
    else
      t->def->apply(t, u, theta + at, slots, count);
  }
  if (dst)
    memcpy(dst + at, u, count * sizeof *u);
  else if (!writes_theta)
    add_update(u, theta + at, count);
}

/* Runs transforms [first, last) over every block of the n numbers at src,
   dst and theta (the optimizer's shard: the slots' element 0 is theta's),
   slice by slice; with a dst, also reduces each block of the output for
   `next`, the global transform that heads the following stage. */
static void run_stage(descent_optimizer *opt, int first, int last, size_t n,
                      const descent_real *src, descent_real *dst, descent_real *theta,
                      const transform *next) {
  size_t blocks = block_count(n);
#pragma omp parallel for schedule(static) if (blocks >= PARALLEL_BLOCKS)
  for (size_t b = 0; b < blocks; b++) {
    size_t lo = b * BLOCK, count = n - lo < BLOCK ? n - lo : BLOCK;
    for (size_t at = lo; at < lo + count; at += SLICE)
      optimizer_run_slice(opt, first, last, at, lo + count - at < SLICE ? lo + count - at : SLICE,
                          0, src, dst, theta);
    if (dst && next) reduce_block(opt, next, dst, theta, b, lo, count);
  }
}

/* The buffers' length against the optimizer's, and neither buffer missing. */
static int check_buffers(const descent_optimizer *opt, const descent_real *params,
                         const descent_real *grad, size_t n, int need_grad) {
  if (n != opt->n)
    return descent_fail(DESCENT_ESHAPE,
                        "optimizer built for %zu parameters, given buffers of %zu: pass n = %zu, "
                        "or create the optimizer for %zu parameters",
                        opt->n, n, opt->n, n);
  if (!params || (need_grad && !grad))
    return descent_fail(DESCENT_EINVAL, "optimizer: the %s buffer is NULL",
                        params ? "gradient" : "parameter");
  return DESCENT_OK;
}

static int step_buffers(descent_optimizer *opt, descent_real *params, const descent_real *grad,
                        size_t n, const descent_tensor_info *tensors, size_t n_tensors);

int descent_optimizer_step(descent_optimizer *opt, descent_objective *obj) {
  descent_error_clear();
  if (obj->n_params != opt->n)
    return descent_fail(DESCENT_ESHAPE, "optimizer built for %zu parameters, objective has %zu",
                        opt->n, obj->n_params);
  /* Every transform needs only the gradient (and a per-tensor one the
     objective's table of tensors): the step on the objective is the step on
     its buffers. */
  descent_thread_scope scope = descent_threads_begin(opt->threads);
  int rc = step_buffers(opt, obj->params, obj->grad, obj->n_params, obj->tensors, obj->n_tensors);
  descent_threads_end(scope);
  return rc;
}

static int step_buffers(descent_optimizer *opt, descent_real *params, const descent_real *grad,
                        size_t n, const descent_tensor_info *tensors, size_t n_tensors) {
  if (opt->method)
    return descent_fail(DESCENT_EINVAL,
                        "optimizer %s is a method that evaluates the objective itself: step it "
                        "with descent_optimizer_step_closure (or descent_optimizer_step_with)",
                        opt->method->name);
  int rc = check_buffers(opt, params, grad, n, 1);
  if (rc) return rc;
  if (opt->eval_mode)
    return descent_fail(DESCENT_EINVAL,
                        "optimizer step in evaluation mode: call descent_optimizer_train first");
  if (opt->groups) return groups_step(opt, params, grad, tensors, n_tensors);
  if (opt->per_tensor) {
    rc = optimizer_layout_prepare(opt, tensors, n_tensors);
    if (rc) return rc;
  }
  for (int i = 0; i < opt->n_transforms; i++)
    if (opt->chain[i].def->begin) opt->chain[i].def->begin(&opt->chain[i], opt->step);
  if (opt->per_tensor) {
    optimizer_step_tensors(opt, params, grad);
    opt->step++;
    return DESCENT_OK;
  }
  /* A sharded optimizer steps its own shard (shard.c); a global transform,
     which would need the whole gradient, is never sharded. */
  const descent_real *src = grad + opt->shard_offset;
  params += opt->shard_offset;
  if (opt->chain[0].def->global) {
    reduce_all(opt, &opt->chain[0], src, params);
    finish_reduction(opt, &opt->chain[0]);
  }
  int first = 0;
  while (first < opt->n_transforms) {
    int last = first + 1;
    while (last < opt->n_transforms && !opt->chain[last].def->global) last++;
    transform *next = last < opt->n_transforms ? &opt->chain[last] : NULL;
    run_stage(opt, first, last, opt->shard_count, src, next ? opt->work : NULL, params, next);
    if (next) finish_reduction(opt, next);
    src = opt->work;
    first = last;
  }
  opt->step++;
  return DESCENT_OK;
}

/* Each call that computes runs with the optimizer's thread count (its
   results do not depend on it: global sums go by fixed blocks). */
int descent_optimizer_step_buffers(descent_optimizer *opt, descent_real *params,
                                   const descent_real *grad, size_t n) {
  descent_error_clear();
  descent_thread_scope scope = descent_threads_begin(opt->threads);
  int rc = step_buffers(opt, params, grad, n, NULL, 0);
  descent_threads_end(scope);
  return rc;
}

int optimizer_has_eval_point(const descent_optimizer *opt) {
  if (opt->groups) return groups_has_eval_point(opt);
  for (int i = 0; i < opt->n_transforms; i++)
    if (opt->chain[i].def->to_eval) return 1;
  return 0;
}

int descent_optimizer_has_eval_point(const descent_optimizer *opt) {
  return optimizer_has_eval_point(opt);
}

/* One block of the parameters moved to the evaluation point (to_eval 1) or
   back, by every transform that has two points, in chain order. */
static void move_block(const descent_optimizer *opt, descent_real *theta, size_t lo, size_t count,
                       int to_eval) {
  for (int i = 0; i < opt->n_transforms; i++) {
    const transform *t = &opt->chain[i];
    void (*move)(const transform *, descent_real *, descent_real *const *, size_t) =
        to_eval ? t->def->to_eval : t->def->to_train;
    if (!move) continue;
    descent_real *slots[TRANSFORM_MAX_SLOTS];
    for (int s = 0; s < t->n_slots; s++) slots[s] = t->slots[s] + lo;
    move(t, theta, slots, count);
  }
}

/* One block back to the training point when descent_optimizer_eval kept it:
   an element still equal to what the move to the evaluation point made of
   the kept one gets the kept bits back; an element the caller changed in
   between is moved back by the formula (the reference's train()). */
static void restore_block(const descent_optimizer *opt, descent_real *theta, size_t lo,
                          size_t count) {
  descent_real moved[BLOCK];
  unsigned char same[BLOCK];
  const descent_real *held = opt->held + lo;
  memcpy(moved, held, count * sizeof *moved);
  move_block(opt, moved, lo, count, 1); /* the same bits as the eval move */
  for (size_t j = 0; j < count; j++) same[j] = memcmp(&moved[j], &theta[j], sizeof *moved) == 0;
  move_block(opt, theta, lo, count, 0);
  for (size_t j = 0; j < count; j++)
    if (same[j]) theta[j] = held[j];
}

/* Moves the parameters between the training and the evaluation point of the
   transforms that have two (schedule-free); a no-op for every other chain and
   before the first step, when both points are the starting one. A sharded
   optimizer holds z for its shard alone, and moves that shard. The move to
   the evaluation point keeps the training point, so that the way back is
   exact: x = lerp(y, z, 1 - 1/mu) and back rounds twice otherwise. */
static int switch_points(descent_optimizer *opt, descent_real *params, size_t n_params,
                         int to_eval) {
  int rc = check_buffers(opt, params, NULL, n_params, 0);
  if (rc) return rc;
  if (opt->eval_mode == to_eval) return DESCENT_OK;
  if (opt->groups) {
    rc = groups_switch(opt, params, to_eval);
    if (!rc) opt->eval_mode = to_eval;
    return rc;
  }
  params += opt->shard_offset;
  size_t n = opt->shard_count, blocks = block_count(n);
  int moves = opt->step > 0 && optimizer_has_eval_point(opt);
  if (moves && to_eval && !opt->held) {
    opt->held = descent_alloc_real(n ? n : 1, "the training point kept in evaluation mode");
    if (!opt->held) return DESCENT_ENOMEM;
  }
  if (moves && to_eval) memcpy(opt->held, params, n * sizeof *params);
  int restore = moves && !to_eval && opt->held_valid;
  if (moves) {
#pragma omp parallel for schedule(static) if (blocks >= PARALLEL_BLOCKS)
    for (size_t b = 0; b < blocks; b++) {
      size_t lo = b * BLOCK, count = n - lo < BLOCK ? n - lo : BLOCK;
      if (restore)
        restore_block(opt, params + lo, lo, count);
      else
        move_block(opt, params + lo, lo, count, to_eval);
    }
  }
  opt->held_valid = moves && to_eval;
  opt->eval_mode = to_eval;
  return DESCENT_OK;
}

/* (optimizer.h) switch_points for a group's child, tensor by tensor at its
   shifts in the whole buffer. */
int optimizer_switch_shifted(descent_optimizer *opt, descent_real *params, int to_eval) {
  if (opt->eval_mode == to_eval) return DESCENT_OK;
  int moves = opt->step > 0 && optimizer_has_eval_point(opt);
  if (moves && to_eval && !opt->held) {
    opt->held = descent_alloc_real(opt->n, "the training point kept in evaluation mode");
    if (!opt->held) return DESCENT_ENOMEM;
  }
  int restore = moves && !to_eval && opt->held_valid;
  for (size_t k = 0; moves && k < opt->n_tensors; k++) {
    const descent_tensor_info *t = &opt->tensors[k];
    descent_real *theta = params + opt->tensor_shift[k];
    for (size_t lo = t->offset, end = t->offset + t->size; lo < end; lo += BLOCK) {
      size_t count = end - lo < BLOCK ? end - lo : BLOCK;
      if (to_eval) memcpy(opt->held + lo, theta + lo, count * sizeof *theta);
      if (restore)
        restore_block(opt, theta + lo, lo, count);
      else
        move_block(opt, theta + lo, lo, count, to_eval);
    }
  }
  opt->held_valid = moves && to_eval;
  opt->eval_mode = to_eval;
  return DESCENT_OK;
}

static int switch_mode(descent_optimizer *opt, descent_real *params, size_t n_params, int to_eval) {
  descent_error_clear();
  descent_thread_scope scope = descent_threads_begin(opt->threads);
  int rc = switch_points(opt, params, n_params, to_eval);
  descent_threads_end(scope);
  return rc;
}

/* The objective's length is checked first, for the message that names it. */
static int switch_objective(descent_optimizer *opt, descent_objective *obj, int to_eval) {
  descent_error_clear();
  if (obj->n_params != opt->n)
    return descent_fail(DESCENT_ESHAPE, "optimizer built for %zu parameters, objective has %zu",
                        opt->n, obj->n_params);
  return switch_mode(opt, obj->params, obj->n_params, to_eval);
}

int descent_optimizer_eval(descent_optimizer *opt, descent_objective *obj) {
  return switch_objective(opt, obj, 1);
}

int descent_optimizer_train(descent_optimizer *opt, descent_objective *obj) {
  return switch_objective(opt, obj, 0);
}

int descent_optimizer_eval_buffers(descent_optimizer *opt, descent_real *params, size_t n) {
  return switch_mode(opt, params, n, 1);
}

int descent_optimizer_train_buffers(descent_optimizer *opt, descent_real *params, size_t n) {
  return switch_mode(opt, params, n, 0);
}

int descent_optimizer_set_threads(descent_optimizer *opt, int threads) {
  descent_error_clear();
  int rc = descent_threads_check(threads, "descent_optimizer_set_threads");
  if (rc) return rc;
  opt->threads = threads;
  return DESCENT_OK;
}

int descent_optimizer_threads(const descent_optimizer *opt) {
  return opt->threads;
}

int descent_optimizer_set_lr_scale(descent_optimizer *opt, double scale) {
  descent_error_clear();
  if (!(scale > 0) || !isfinite(scale))
    return descent_fail(DESCENT_EINVAL, "learning-rate scale %g: must be positive and finite",
                        scale);
  if (opt->groups) return groups_set_lr_scale(opt, scale);
  opt->chain[opt->n_transforms - 1].rate_scale = scale;
  return DESCENT_OK;
}

double descent_optimizer_lr_scale(const descent_optimizer *opt) {
  if (opt->groups) return groups_lr_scale(opt);
  return opt->chain[opt->n_transforms - 1].rate_scale;
}

int descent_optimizer_full_batch(const descent_optimizer *opt) {
  return opt->full_batch;
}

int64_t descent_optimizer_warmup_steps(const descent_optimizer *opt) {
  if (opt->groups) return groups_warmup_steps(opt);
  int64_t most = 0;
  for (int i = 0; i < opt->n_transforms; i++) {
    const transform *t = &opt->chain[i];
    if (t->schedule && descent_schedule_warmup_steps(t->schedule) > most)
      most = descent_schedule_warmup_steps(t->schedule);
    for (int j = 0; j < t->def->n_params; j++)
      if (strcmp(t->def->params[j].name, "warmup_steps") == 0 && t->hp[j] > (double)most)
        most = t->hp[j] < 9e18 ? (int64_t)t->hp[j] : INT64_MAX;
  }
  return most;
}

int64_t descent_optimizer_steps(const descent_optimizer *opt) {
  return opt->step;
}

double descent_optimizer_lr(const descent_optimizer *opt) {
  if (opt->groups) return groups_lr(opt);
  return transform_rate(&opt->chain[opt->n_transforms - 1], opt->step);
}

/* ---- text ------------------------------------------------------------------ */

size_t optimizer_describe_chain(const descent_optimizer *opt, char *buf, size_t cap) {
  size_t used = 0;
#define APPEND(...)                                                                                \
  used +=                                                                                          \
      (size_t)snprintf(buf + (used < cap ? used : cap), used < cap ? cap - used : 0, __VA_ARGS__)
  if (cap) buf[0] = '\0';
  if (opt->method) {
    used = method_describe(opt->method, opt->method_hp, buf, cap);
    APPEND(" | ");
  }
  for (int i = 0; i < opt->n_transforms; i++) {
    const transform *t = &opt->chain[i];
    APPEND("%s%s(", i ? " | " : "", t->def->name);
    for (int j = 0; j < t->def->n_params; j++) {
      char value[192];
      if (t->def->params[j].kind == SPEC_TEXT)
        descent_schedule_describe(t->schedule, value, sizeof value);
      else
        optim_format_number(t->hp[j], value, sizeof value);
      APPEND("%s%s=%s", j ? ", " : "", t->def->params[j].name, value);
    }
    APPEND(")");
  }
#undef APPEND
  return used;
}

size_t descent_optimizer_describe(const descent_optimizer *opt, char *buf, size_t cap) {
  if (opt->groups) return groups_describe(opt, buf, cap);
  size_t used = 0;
  double base_lr = descent_optimizer_base_lr(opt);
  if (strcmp(opt->spec, opt->expanded) != 0 && base_lr == opt->spec_base_lr) {
    used = (size_t)snprintf(buf, cap, "%s = ", opt->spec);
  } else if (strcmp(opt->spec, opt->expanded) != 0) {
    /* The spec's own rate no longer holds: say so before the chain. */
    char num[32];
    optim_format_number(base_lr, num, sizeof num);
    used = (size_t)snprintf(buf, cap, "%s with base lr %s = ", opt->spec, num);
  }
  return used + optimizer_describe_chain(opt, buf + (used < cap ? used : cap),
                                         used < cap ? cap - used : 0);
}

void descent_optimizer_help(FILE *out) {
  fprintf(out,
          "Named optimizers (--opt NAME or NAME(key=value, ...); PyTorch's defaults). Each is\n"
          "the chain shown; [...] appears only when its value is not zero:\n");
  for (int i = 0; i < N_NAMED; i++) {
    const named_optimizer *no = &named[i];
    fprintf(out, "  %-12s ", no->name);
    optim_print_wrapped(out, no->summary, 15);
    fprintf(out, "  %-12s = ", "");
    optim_print_wrapped(out, no->chain, 17);
    fprintf(out, "      %-26s learning rate or schedule; default %s\n", "lr", no->default_lr);
    for (int j = 0; j < no->n_params; j++) {
      const spec_param *p = &no->params[j];
      char line[256], range[64], def[32];
      spec_range_text(p, range, sizeof range);
      optim_format_number(p->def, def, sizeof def);
      snprintf(line, sizeof line, "%s; default %s; range %s", p->doc, def, range);
      fprintf(out, "      %-26s ", p->name);
      optim_print_wrapped(out, line, 33);
    }
  }
  fprintf(out,
          "\nParameter groups: CHAIN @ SELECTOR ; CHAIN @ SELECTOR ... (first match wins;\n"
          "  end with CHAIN @ *). SELECTOR: weight, bias, norm, globs on tensor names\n"
          "  (layer1.*), each optionally :1d to :4d; then optionally lr_mult=X. A group\n"
          "  without its own lr takes --lr. e.g. 'adamw @ weight ; adamw(weight_decay=0) @ *'\n"
          "  (docs/optimizers.md, \"Parameter groups\").\n");
  fprintf(out, "\n");
  method_help(out);
  fprintf(out, "\n");
  transform_help(out);
  fprintf(out, "\n");
  schedule_help(out);
  fprintf(out, "\nWhere PyTorch, the papers and other libraries differ (eps inside or outside the\n"
               "square root, bias correction, when momentum starts, weight decay conventions,\n"
               "schedule-free's evaluation point), docs/optimizers.md has the table.\n");
}
