/*
 * test_optim_errors.c - every invalid optimizer or schedule setting is
 * refused, each with its own message naming the valid names or range, and
 * nothing is created.
 */
#include "check.h"

#include <stdlib.h>

static void refused(const char *spec, const char *lr, int status, const char *needle) {
  descent_optimizer *opt = (descent_optimizer *)1;
  CHECK_FAILS(descent_optimizer_create(&opt, spec, lr, 10), status, needle);
  CHECK_MSG(opt == NULL, "%s: an optimizer was created", spec);
}

static void schedule_refused(const char *text, const char *needle) {
  descent_schedule *s = (descent_schedule *)1;
  CHECK_FAILS(descent_schedule_parse(&s, text), DESCENT_EINVAL, needle);
  CHECK_MSG(s == NULL, "%s: a schedule was created", text);
}

static void check_learning_rates(void) {
  refused("sgd", "-1", DESCENT_EINVAL, "learning rate -1: must be non-negative");
  refused("adam(lr=-0.1)", NULL, DESCENT_EINVAL, "learning rate -0.1: must be non-negative");
  refused("adam | lr(-2)", NULL, DESCENT_EINVAL, "learning rate -2: must be non-negative");
  refused("sgd", "constant(lr=-2)", DESCENT_EINVAL,
          "constant(lr=-2): out of range; valid values are [0, inf)");
  refused("sgd", "fast", DESCENT_EINVAL,
          "learning rate 'fast': not a number or a known schedule; valid schedules: constant, "
          "inv, poly, step, exp, cosine, linear, wsd");
  refused("sgd", "inf", DESCENT_EINVAL, "not a number or a known schedule");
  refused("sgd(lr=0.1)", "0.2", DESCENT_EINVAL, "the learning rate is given twice");
  refused("clip(1) | sf(lr=0.1)", "0.2", DESCENT_EINVAL, "the learning rate is given twice");
  refused("adam | lr", NULL, DESCENT_EINVAL, "no learning rate: pass --lr");

  schedule_refused("", "empty learning rate");
  schedule_refused("  ", "empty item");
  schedule_refused("cosin(0.1, 10)", "valid schedules: constant, inv, poly, step, exp, cosine");
  schedule_refused("cosine(0.1)", "cosine needs a value for 'steps'");
  schedule_refused("cosine(0.1, 0)", "cosine(steps=0): out of range; valid values are [1, inf)");
  schedule_refused("cosine(0.1, 10.5)", "cosine(steps=10.5): must be a whole number");
  schedule_refused(
      "cosine(0.1, 10, eta_min=0)",
      "cosine has no parameter 'eta_min'; valid parameters: lr, steps, min_lr, warmup");
  schedule_refused("cosine(0.1, 10, min_lr=-1)", "cosine(min_lr=-1): out of range");
  schedule_refused("cosine(0.1, 10, warmup=-5)",
                   "cosine(warmup=-5): out of range; valid values are [0, inf)");
  schedule_refused("constant(0.1, warmup=2.5)", "constant(warmup=2.5): must be a whole number");
  schedule_refused("constant(0.1, 5, 6)", "constant takes at most 2 arguments, got '6'");
  schedule_refused("constant(lr=0.1, lr=0.2)", "'lr' given twice");
  schedule_refused("constant(warmup=3)", "constant needs a value for 'lr'");
  schedule_refused("inv(0.1)", "inv needs a value for 'tau'");
  schedule_refused("inv(0.1, tau=0)", "inv(tau=0): out of range; valid values are (0, inf)");
  schedule_refused("poly(0.1)", "poly needs a value for 'p'");
  schedule_refused("poly(0.1, -1)", "poly(p=-1): out of range; valid values are [0, inf)");
  schedule_refused("step(0.1, 0)", "step(step_size=0): out of range");
  schedule_refused("step(0.1, 5, gamma=0)",
                   "step(gamma=0): out of range; valid values are (0, inf)");
  schedule_refused("exp(0.1)", "exp needs a value for 'gamma'");
  schedule_refused("exp(0.1, gamma=-0.5)", "exp(gamma=-0.5): out of range");
  schedule_refused("linear(0.1, 10, start_factor=0)",
                   "linear(start_factor=0): out of range; valid values are (0, 1]");
  schedule_refused("linear(0.1, 10, end_factor=2)",
                   "linear(end_factor=2): out of range; valid values are [0, 1]");
  schedule_refused("wsd(0.1, 10, decay=1.5)",
                   "wsd(decay=1.5): out of range; valid values are [0, 1]");
  schedule_refused("wsd(0.1, steps=)", "missing value for 'steps'");
  schedule_refused("cosine(0.1, 10", "missing ')'");
}

/* Hyperparameters out of their ranges: each refused with DESCENT_EINVAL and
   a message naming the value and the valid range. */
static const struct {
  const char *spec, *message;
} bad_hyperparameters[] = {
    /* betas, momentum, alpha: [0, 1) */
    {"adam(b1=1)", "adam(b1=1): out of range; valid values are [0, 1)"},
    {"adam(b1=-0.1)", "adam(b1=-0.1): out of range"},
    {"adam(b2=1.5)", "adam(b2=1.5): out of range; valid values are [0, 1)"},
    {"adamw(b2=1)", "adamw(b2=1): out of range"},
    {"amsgrad(b1=2)", "amsgrad(b1=2): out of range"},
    {"lion(b1=1)", "lion(b1=1): out of range; valid values are [0, 1)"},
    {"lion(b2=-0.5)", "lion(b2=-0.5): out of range"},
    {"sgd(momentum=1)", "sgd(momentum=1): out of range; valid values are [0, 1)"},
    {"momentum(momentum=-0.5)", "momentum(momentum=-0.5): out of range"},
    {"sgd(dampening=1.5)", "sgd(dampening=1.5): out of range; valid values are [0, 1]"},
    {"nesterov(momentum=0)", "nesterov(momentum=0): out of range; valid values are (0, 1)"},
    {"rmsprop(alpha=1)", "rmsprop(alpha=1): out of range; valid values are [0, 1)"},
    {"rmsprop(alpha=-0.1)", "rmsprop(alpha=-0.1): out of range"},
    {"rmsprop(momentum=1)", "rmsprop(momentum=1): out of range"},
    {"sf_sgd(momentum=0)", "sf_sgd(momentum=0): out of range; valid values are (0, 1)"},
    {"sf_sgd(momentum=1)", "sf_sgd(momentum=1): out of range"},
    {"sf_adamw(b1=0)", "sf_adamw(b1=0): out of range; valid values are (0, 1)"},
    {"sf_adamw(b2=1)", "sf_adamw(b2=1): out of range"},
    {"adabelief(b1=1)", "adabelief(b1=1): out of range; valid values are [0, 1)"},
    {"adabelief(b2=-0.1)", "adabelief(b2=-0.1): out of range"},
    {"yogi(b1=1.5)", "yogi(b1=1.5): out of range; valid values are [0, 1)"},
    {"yogi(b2=1)", "yogi(b2=1): out of range"},
    {"ademamix(b1=1)", "ademamix(b1=1): out of range"},
    {"ademamix(b3=1)", "ademamix(b3=1): out of range; valid values are [0, 1)"},
    {"ademamix(b3=-0.5)", "ademamix(b3=-0.5): out of range"},
    {"nadam(b1=1)", "nadam(b1=1): out of range; valid values are [0, 1)"},
    {"nadam(b2=-0.1)", "nadam(b2=-0.1): out of range; valid values are [0, 1)"},
    {"radam(b1=1.5)", "radam(b1=1.5): out of range; valid values are [0, 1)"},
    {"radam(b2=1)", "radam(b2=1): out of range; valid values are [0, 1)"},
    {"adamax(b1=-1)", "adamax(b1=-1): out of range; valid values are [0, 1)"},
    {"adamax(b2=1)", "adamax(b2=1): out of range; valid values are [0, 1)"},
    {"nadam(b2=1) | lr(0.1)", "nadam(b2=1): out of range; valid values are [0, 1)"},
    {"adamax(b1=1) | lr(0.1)", "adamax(b1=1): out of range; valid values are [0, 1)"},
    /* eps > 0 */
    {"adam(eps=0)", "adam(eps=0): out of range; valid values are (0, inf)"},
    {"adam(eps=-1e-8)", "adam(eps=-1e-8): out of range"},
    {"adagrad(eps=0)", "adagrad(eps=0): out of range"},
    {"rmsprop(eps=0)", "rmsprop(eps=0): out of range"},
    {"sf_adamw(eps=0)", "sf_adamw(eps=0): out of range"},
    {"adabelief(eps=0)", "adabelief(eps=0): out of range; valid values are (0, inf)"},
    {"yogi(eps=-1e-3)", "yogi(eps=-1e-3): out of range"},
    {"ademamix(eps=0)", "ademamix(eps=0): out of range"},
    {"nadam(eps=0)", "nadam(eps=0): out of range; valid values are (0, inf)"},
    {"radam(eps=-1e-8)", "radam(eps=-1e-8): out of range; valid values are (0, inf)"},
    {"adamax(eps=0)", "adamax(eps=0): out of range; valid values are (0, inf)"},
    {"radam(eps=0) | lr(0.1)", "radam(eps=0): out of range; valid values are (0, inf)"},
    {"adam(eps=inf)", "adam(eps=...): 'inf' is not a number"},
    /* other ranges */
    {"adam(weight_decay=-1)", "adam(weight_decay=-1): out of range; valid values are [0, inf)"},
    {"adagrad(lr_decay=-1)", "adagrad(lr_decay=-1): out of range"},
    {"adagrad(initial_accumulator_value=-1)",
     "adagrad(initial_accumulator_value=-1): out of range"},
    {"adam(amsgrad=2)", "adam(amsgrad=2): out of range; valid values are 0 or 1"},
    {"rmsprop(centered=0.5)", "rmsprop(centered=0.5): must be a whole number"},
    {"sf_sgd(warmup_steps=1.5)", "sf_sgd(warmup_steps=1.5): must be a whole number"},
    {"sf_sgd(r=-1)", "sf_sgd(r=-1): out of range"},
    {"sf_adamw(weight_lr_power=-2)", "sf_adamw(weight_lr_power=-2): out of range"},
    {"adadelta(rho=1.5)", "adadelta(rho=1.5): out of range; valid values are [0, 1]"},
    {"adadelta(eps=0)", "adadelta(eps=0): out of range; valid values are (0, inf)"},
    {"adadelta(weight_decay=-1)", "adadelta(weight_decay=-1): out of range"},
    {"rprop(etaminus=1)", "rprop(etaminus=1): out of range; valid values are (0, 1)"},
    {"rprop(etaminus=0)", "rprop(etaminus=0): out of range"},
    {"rprop(etaplus=1)", "rprop(etaplus=1): out of range; valid values are (1, inf)"},
    {"rprop(step_min=-1)", "rprop(step_min=-1): out of range; valid values are [0, inf)"},
    {"rprop(step_max=-1)", "rprop(step_max=-1): out of range"},
    {"asgd(lambd=-1)", "asgd(lambd=-1): out of range; valid values are [0, inf)"},
    {"asgd(alpha=-0.5)", "asgd(alpha=-0.5): out of range"},
    {"asgd(t0=-1)", "asgd(t0=-1): out of range"},
    {"asgd(weight_decay=-1)", "asgd(weight_decay=-1): out of range"},
    {"adabelief(eps_root=-1e-16)",
     "adabelief(eps_root=-1e-16): out of range; valid values are [0, inf)"},
    {"adabelief(nesterov=2)", "adabelief(nesterov=2): out of range; valid values are 0 or 1"},
    {"yogi(eps_root=-1) | lr(0.1)", "yogi(eps_root=-1): out of range"},
    {"yogi(initial_accumulator_value=-1e-6) | lr(0.1)",
     "yogi(initial_accumulator_value=-1e-6): out of range; valid values are [0, inf)"},
    {"ademamix(alpha=-1)", "ademamix(alpha=-1): out of range; valid values are [0, inf)"},
    {"ademamix(weight_decay=-0.1)", "ademamix(weight_decay=-0.1): out of range"},
    {"ademamix(alpha_warmup=1.5)", "ademamix(alpha_warmup=1.5): must be a whole number"},
    {"ademamix(b3_warmup=-2)", "ademamix(b3_warmup=-2): out of range"},
    {"ademamix(eps_root=-1)", "ademamix(eps_root=-1): out of range"},
    {"nadam(momentum_decay=-1e-3)",
     "nadam(momentum_decay=-1e-3): out of range; valid values are [0, inf)"},
    {"nadam(momentum_decay=-1) | lr(0.1)", "nadam(momentum_decay=-1): out of range"},
    {"nadam(weight_decay=-0.1)",
     "nadam(weight_decay=-0.1): out of range; valid values are [0, inf)"},
    {"radam(weight_decay=-0.1)", "radam(weight_decay=-0.1): out of range"},
    {"adamax(weight_decay=-0.1)", "adamax(weight_decay=-0.1): out of range"},
    {"nadam(decoupled_weight_decay=2)",
     "nadam(decoupled_weight_decay=2): out of range; valid values are 0 or 1"},
    {"radam(decoupled_weight_decay=0.5)",
     "radam(decoupled_weight_decay=0.5): must be a whole number"},
    /* combinations */
    {"sgd(nesterov=1)",
     "Nesterov momentum requires a momentum > 0 and zero dampening (got momentum=0, "
     "dampening=0)"},
    {"sgd(momentum=0.9, dampening=0.1, nesterov=1)",
     "Nesterov momentum requires a momentum > 0 and zero dampening (got momentum=0.9, "
     "dampening=0.1)"},
    {"momentum(0.9, 0.1, 1) | lr(0.1)",
     "Nesterov momentum requires a momentum > 0 and zero dampening"},
    {"rmsprop(centered=1, bias_correction=1) | lr(0.1)",
     "rmsprop(centered=1) and bias_correction=1 do not combine"},
    {"rprop(step_min=1, step_max=0.5)",
     "rprop's step_min (1) exceeds its step_max (0.5); give step_min <= step_max"},
    {"rprop(lr=cosine(0.01, 100))",
     "rprop's lr is the initial step size, read once at the first step (as torch.optim.Rprop "
     "does), so the schedule cosine(lr=0.01, steps=100, min_lr=0, warmup=0) would have no "
     "effect; give a number"},
    {"rprop(lr=constant(0.01, warmup=5))", "rprop's lr is the initial step size"},
    {"rprop | lr(0.1)", "rprop(...) must come last in the chain"},
    {"asgd | lr(0.1)", "asgd(...) must come last in the chain"},
    /* the per-tensor optimizers and their transforms */
    {"lamb(b1=1)", "lamb(b1=1): out of range; valid values are [0, 1)"},
    {"lamb(b2=-0.1)", "lamb(b2=-0.1): out of range"},
    {"lamb(eps=0)", "lamb(eps=0): out of range; valid values are (0, inf)"},
    {"lamb(eps_root=-1e-9)", "lamb(eps_root=-1e-9): out of range; valid values are [0, inf)"},
    {"lamb(weight_decay=-0.1)", "lamb(weight_decay=-0.1): out of range"},
    {"lars(trust_coefficient=0)",
     "lars(trust_coefficient=0): out of range; valid values are (0, inf)"},
    {"lars(eps=-1)", "lars(eps=-1): out of range; valid values are [0, inf)"},
    {"lars(momentum=1)", "lars(momentum=1): out of range; valid values are [0, 1)"},
    {"lars(nesterov=2)", "lars(nesterov=2): out of range; valid values are 0 or 1"},
    {"lars(weight_decay=-1)", "lars(weight_decay=-1): out of range"},
    {"trust_ratio(trust_coefficient=-1) | lr(0.1)",
     "trust_ratio(trust_coefficient=-1): out of range"},
    {"trust_ratio(min_norm=-1) | lr(0.1)", "trust_ratio(min_norm=-1): out of range"},
    {"optax_adam(eps_root=-1) | lr(0.1)", "optax_adam(eps_root=-1): out of range"},
    /* muon and its transforms */
    {"muon(momentum=1)", "muon(momentum=1): out of range; valid values are [0, 1)"},
    {"muon(nesterov=2)", "muon(nesterov=2): out of range; valid values are 0 or 1"},
    {"muon(weight_decay=-0.1)", "muon(weight_decay=-0.1): out of range; valid values are [0, inf)"},
    {"muon(ns_steps=100)", "muon(ns_steps=100): out of range; valid values are [0, 99]"},
    {"muon(eps=0)", "muon(eps=0): out of range; valid values are (0, inf)"},
    {"muon(adjust_lr=3)", "muon(adjust_lr=3): out of range; valid values are [0, 2]"},
    {"muon(a=inf)", "muon(a=...): 'inf' is not a number"},
    {"muon_momentum(momentum=-0.1) | newton_schulz | lr(0.1)",
     "muon_momentum(momentum=-0.1): out of range; valid values are [0, 1)"},
    {"newton_schulz(steps=-1) | lr(0.1)", "newton_schulz(steps=-1): out of range"},
    {"newton_schulz(steps=2.5) | lr(0.1)", "newton_schulz(steps=2.5): must be a whole number"},
    {"newton_schulz | muon_lr(adjust_lr=5)", "muon_lr(adjust_lr=5): out of range"},
    {"muon_lr(lr=0.1) | lr(0.1)", "muon_lr(...) must come last in the chain"},
    /* the learning-rate-free Adams */
    {"prodigy(b1=1)", "prodigy(b1=1): out of range; valid values are [0, 1)"},
    {"prodigy(b2=-0.1)", "prodigy(b2=-0.1): out of range"},
    {"prodigy(b3=1)", "prodigy(b3=1): out of range; valid values are [-1, 1)"},
    {"prodigy(b3=-0.5)", "prodigy: b3 = -0.5 is out of range: pass b3 in [0, 1), or -1"},
    {"prodigy(eps=0)", "prodigy(eps=0): out of range; valid values are (0, inf)"},
    {"prodigy(estim_lr0=0)", "prodigy(estim_lr0=0): out of range; valid values are (0, inf)"},
    {"prodigy(estim_lr_coef=-1)", "prodigy(estim_lr_coef=-1): out of range"},
    {"prodigy(weight_decay=-0.1)", "prodigy(weight_decay=-0.1): out of range"},
    {"prodigy(safeguard_warmup=2)", "prodigy(safeguard_warmup=2): out of range"},
    {"prodigy | lr(0.1)", "prodigy(...) must come last in the chain"},
    {"dadapt_adamw(b1=1)", "dadapt_adamw(b1=1): out of range; valid values are [0, 1)"},
    {"dadapt_adamw(b2=1)", "dadapt_adamw(b2=1): out of range"},
    {"dadapt_adamw(eps=0)", "dadapt_adamw(eps=0): out of range; valid values are (0, inf)"},
    {"dadapt_adamw(estim_lr0=-1)", "dadapt_adamw(estim_lr0=-1): out of range"},
    {"dadapt_adamw(weight_decay=-1)", "dadapt_adamw(weight_decay=-1): out of range"},
    {"dadapt_adamw | lr(0.1)", "dadapt_adamw(...) must come last in the chain"},
    {"clip(1) | prodigy(b3=-0.25, lr=1)", "prodigy: b3 = -0.25 is out of range"},
    {"novograd(b1=1)", "novograd(b1=1): out of range; valid values are [0, 1)"},
    {"novograd(b2=1)", "novograd(b2=1): out of range; valid values are [0, 1)"},
    {"novograd(eps=-1e-6)", "novograd(eps=-1e-6): out of range; valid values are [0, inf)"},
    {"novograd(eps_root=-1)", "novograd(eps_root=-1): out of range; valid values are [0, inf)"},
    {"novograd(weight_decay=-0.1)", "novograd(weight_decay=-0.1): out of range"},
    {"novograd(eps=0)",
     "novograd with eps = 0 and eps_root = 0 divides by zero for a tensor whose gradient is zero"},
    {"novograd(b1=0.5, weight_decay=nan) | lr(0.1)",
     "novograd(weight_decay=...): 'nan' is not a number"},
    /* adafactor */
    {"adafactor(beta2_decay=0.1)",
     "adafactor(beta2_decay=0.1): out of range; valid values are (-inf, 0]"},
    {"adafactor(eps1=-2)", "adafactor(eps1=-2): out of range; valid values are [-1, inf)"},
    {"adafactor(eps1=-0.5)",
     "adafactor: eps1 = -0.5 is out of range: pass eps1 in [0, inf), or -1 for the machine "
     "epsilon"},
    {"adafactor(eps2=-1)", "adafactor(eps2=-1): out of range; valid values are [0, inf)"},
    {"adafactor(d=0.5)", "adafactor(d=0.5): out of range; valid values are [1, inf)"},
    {"adafactor(weight_decay=-0.1)", "adafactor(weight_decay=-0.1): out of range"},
    {"adafactor | lr(0.1)", "adafactor(...) must come last in the chain"},
    /* shampoo */
    {"shampoo(precondition_frequency=5, start_preconditioning_step=2)",
     "shampoo: start_preconditioning_step = 2 is below precondition_frequency = 5: pass "
     "start_preconditioning_step >= precondition_frequency (or -1)"},
    {"shampoo(graft_b2=0.9)",
     "shampoo: graft_b2 = 0.9 is only used by RMSprop and Adam grafting (grafting=3 or 4)"},
    {"shampoo(grafting=4, graft_b2=-0.5)",
     "shampoo: graft_b2 = -0.5 is out of range: pass graft_b2 in (0, 1), or -1"},
    {"shampoo(eps=0)", "shampoo(eps=0): out of range; valid values are (0, inf)"},
    {"shampoo(grafting=5)", "shampoo(grafting=5): out of range"},
    {"shampoo(max_preconditioner_dim=0)", "shampoo(max_preconditioner_dim=0): out of range"},
    {"shampoo(b2=0)", "shampoo(b2=0): out of range"},
    {"shampoo(exponent=-1) | lr(0.1)", "shampoo(exponent=-1): out of range"},
    /* soap */
    {"soap(merge_dims=1)",
     "soap: merge_dims=1 is not built: leave merge_dims=0 (each dimension of a tensor gets its "
     "own factor"},
    {"soap(b1=1)", "soap(b1=1): out of range; valid values are [0, 1)"},
    {"soap(b2=-0.1)", "soap(b2=-0.1): out of range; valid values are [0, 1)"},
    {"soap(shampoo_beta=1)", "soap(shampoo_beta=1): out of range; valid values are [-1, 1)"},
    {"soap(eps=0)", "soap(eps=0): out of range; valid values are (0, inf)"},
    {"soap(weight_decay=-0.01)", "soap(weight_decay=-0.01): out of range"},
    {"soap(precondition_frequency=0)", "soap(precondition_frequency=0): out of range"},
    {"soap(precondition_frequency=2.5)", "soap(precondition_frequency=2.5)"},
    {"soap(max_precond_dim=50000)", "soap(max_precond_dim=50000): out of range"},
    {"soap | lr(0.1)", "soap(...) must come last in the chain"},
};

static void check_hyperparameters(void) {
  for (size_t i = 0; i < sizeof bad_hyperparameters / sizeof bad_hyperparameters[0]; i++)
    refused(bad_hyperparameters[i].spec, NULL, DESCENT_EINVAL, bad_hyperparameters[i].message);
}

static void check_syntax(void) {
  refused(
      "adamm", NULL, DESCENT_EINVAL,
      "unknown optimizer or transform 'adamm'; named optimizers: sgd, gd, momentum, "
      "nesterov, adagrad, rmsprop, adam, adamw, amsgrad, lion, sf_sgd, sf_adamw, adadelta, "
      "rprop, asgd, adabelief, yogi, ademamix, nadam, radam, adamax, lamb, lars, muon, "
      "prodigy, dadapt_adamw, novograd, adafactor, shampoo, soap; methods (alone or followed by "
      "lr(RATE)): "
      "lbfgs, sdlm, "
      "kfac, "
      "hf, newton_cg, "
      "sophia; transforms: clip, clip_value, l2, momentum, adagrad, rmsprop, adam, "
      "lion, wd, sf, lr, adadelta, rprop, asgd, adabelief, yogi, ademamix, nadam, radam, "
      "adamax, optax_adam, trust_ratio, muon_momentum, newton_schulz, newton_schulz_bf16, "
      "muon_lr, prodigy, "
      "dadapt_adamw, novograd, adafactor, shampoo, soap");
  refused("clip(1) | adamm", NULL, DESCENT_EINVAL, "unknown optimizer or transform 'adamm'");
  refused("adam(beta1=0.9)", NULL, DESCENT_EINVAL,
          "adam has no parameter 'beta1'; valid parameters: b1, b2, eps, weight_decay, amsgrad");
  refused("clip(1) | adam(amsgrad=1, weight_decay=0.1)", NULL, DESCENT_EINVAL,
          "adam has no parameter 'weight_decay'; valid parameters: b1, b2, eps, amsgrad");
  refused("adamax(decoupled_weight_decay=1)", NULL, DESCENT_EINVAL,
          "adamax has no parameter 'decoupled_weight_decay'; valid parameters: b1, b2, eps, "
          "weight_decay");
  refused("nadam(weight_decay=0.1) | lr(0.1)", NULL, DESCENT_EINVAL,
          "nadam has no parameter 'weight_decay'; valid parameters: b1, b2, eps, momentum_decay");
  refused("momentum(nesterov=1)", NULL, DESCENT_EINVAL,
          "momentum has no parameter 'nesterov'; valid parameters: momentum, dampening, "
          "weight_decay");
  refused("adam(b1=)", NULL, DESCENT_EINVAL, "missing value for 'b1' in adam(...)");
  refused("adam(=0.9)", NULL, DESCENT_EINVAL, "missing name before '=' in adam(...)");
  refused("adam(b1=high)", NULL, DESCENT_EINVAL, "adam(b1=...): 'high' is not a number");
  refused("adam(b1=0.9, b1=0.8)", NULL, DESCENT_EINVAL, "'b1' given twice");
  refused("adam(0.9)", NULL, DESCENT_EINVAL, "optimizer adam: name its arguments");
  refused("clip", NULL, DESCENT_EINVAL, "clip needs a value for 'max_norm'");
  refused("clip(0) | adam", NULL, DESCENT_EINVAL,
          "clip(max_norm=0): out of range; valid values are (0, inf)");
  refused("clip(-1) | adam", NULL, DESCENT_EINVAL, "clip(max_norm=-1): out of range");
  refused("clip_value(0) | adam", NULL, DESCENT_EINVAL, "clip_value(value=0): out of range");
  refused("adam | wd", NULL, DESCENT_EINVAL, "wd needs a value for 'weight_decay'");
  refused("adam | wd(-1)", NULL, DESCENT_EINVAL, "wd(weight_decay=-1): out of range");
  refused("l2(-1) | adam", NULL, DESCENT_EINVAL, "l2(weight_decay=-1): out of range");
  refused("sf(lr=0.1) | lr(0.1)", NULL, DESCENT_EINVAL, "sf(...) must come last");
  refused("rprop", "exp(0.01, 0.9)", DESCENT_EINVAL,
          "rprop's lr is the initial step size, read once at the first step");
  refused("lr(0.1) | adam", NULL, DESCENT_EINVAL, "lr(...) must come last");
  refused("adam || wd(1)", NULL, DESCENT_EINVAL, "empty item");
  refused("adam | wd(1", NULL, DESCENT_EINVAL, "missing ')'");
  refused("", NULL, DESCENT_EINVAL, "empty optimizer spec");
  refused("l2(1)|l2(1)|l2(1)|l2(1)|l2(1)|l2(1)|l2(1)|l2(1)|l2(1)|l2(1)|l2(1)|l2(1)|l2(1)|l2(1)|"
          "l2(1)|l2(1)|l2(1)",
          "0.1", DESCENT_ERANGE, "more than 16 items");
  refused("l2(1)|l2(1)|l2(1)|l2(1)|l2(1)|l2(1)|l2(1)|l2(1)|l2(1)|l2(1)|l2(1)|l2(1)|l2(1)|l2(1)|"
          "l2(1)|l2(1)",
          "0.1", DESCENT_ERANGE, "optimizer chain longer than 16 transforms");
}

/* Misuse of a valid optimizer. */
static void check_usage(void) {
  descent_real p[4] = {1, 2, 3, 4}, g[4] = {1, 1, 1, 1};
  descent_objective obj = {.n_params = 4, .params = p, .grad = g};
  descent_objective wrong = {.n_params = 3, .params = p, .grad = g};
  descent_optimizer *opt = NULL;
  CHECK_OK(descent_optimizer_create(&opt, "sf_sgd", "0.1", 4));
  if (!opt) return;
  CHECK_FAILS(descent_optimizer_step(opt, &wrong), DESCENT_ESHAPE, "built for 4 parameters");
  CHECK_FAILS(descent_optimizer_eval(opt, &wrong), DESCENT_ESHAPE, "objective has 3");
  CHECK_OK(descent_optimizer_eval(opt, &obj));
  CHECK_FAILS(descent_optimizer_step(opt, &obj), DESCENT_EINVAL,
              "optimizer step in evaluation mode: call descent_optimizer_train first");
  CHECK(descent_optimizer_steps(opt) == 0);
  CHECK_OK(descent_optimizer_train(opt, &obj));
  CHECK_OK(descent_optimizer_step(opt, &obj));
  descent_optimizer_free(opt);
}

/* Rates are decimal numbers a double can hold; a number it cannot hold is out
 * of range, not "not a number"; relations between parameters are checked. */
static void check_rate_numbers(void) {
  schedule_refused("0x10", "learning rate '0x10': not a decimal number");
  schedule_refused(" 0.1", "learning rate ' 0.1': not a decimal number");
  schedule_refused("0.1 ", "learning rate '0.1 ': not a decimal number");
  schedule_refused("1e-320", "learning rate '1e-320': out of range: a double holds 0 or a "
                             "magnitude from 2.2250738585072014e-308 to 1.7976931348623157e+308");
  schedule_refused("1e400", "learning rate '1e400': out of range");
  schedule_refused("nan", "not a number or a known schedule");
  schedule_refused("cosine(0.1, 0x10)", "cosine(steps=...): '0x10' is not a number");
  schedule_refused("cosine(0.1, 10, min_lr=0.2)",
                   "learning rate cosine(...): min_lr=0.2 is above lr=0.1");
  refused("sgd", "0x10", DESCENT_EINVAL, "not a decimal number");
  refused("sgd", "1e-320", DESCENT_EINVAL, "out of range");

  descent_schedule *s = NULL;
  CHECK_OK(descent_schedule_parse(&s, "cosine(0.1, 10, min_lr=0.1)"));
  descent_schedule_free(s);
  s = NULL;
  CHECK_OK(descent_schedule_parse(&s, "0e-999"));
  if (s) CHECK(descent_schedule_value(s, 0) == 0);
  descent_schedule_free(s);
}

/* The longest warmup a chain holds, for a caller that compares it with the
 * length of its run. */
static void check_warmup_steps(void) {
  descent_schedule *s = NULL;
  CHECK_OK(descent_schedule_parse(&s, "cosine(0.1, 100, warmup=10)"));
  if (s) CHECK(descent_schedule_warmup_steps(s) == 10);
  descent_schedule_free(s);
  s = NULL;
  CHECK_OK(descent_schedule_parse(&s, "0.1"));
  if (s) CHECK(descent_schedule_warmup_steps(s) == 0);
  descent_schedule_free(s);
  s = NULL;
  CHECK_OK(descent_schedule_parse(&s, "constant(0.1, warmup=1e300)"));
  if (s) CHECK(descent_schedule_warmup_steps(s) == INT64_MAX);
  descent_schedule_free(s);

  descent_optimizer *opt = NULL;
  CHECK_OK(descent_optimizer_create(&opt, "adam", "constant(0.1, warmup=7)", 10));
  if (opt) CHECK(descent_optimizer_warmup_steps(opt) == 7);
  descent_optimizer_free(opt);
  opt = NULL;
  CHECK_OK(descent_optimizer_create(&opt, "sf_sgd(warmup_steps=5)", NULL, 10));
  if (opt) CHECK(descent_optimizer_warmup_steps(opt) == 5);
  descent_optimizer_free(opt);
  opt = NULL;
  CHECK_OK(descent_optimizer_create(&opt, "sgd", NULL, 10));
  if (opt) CHECK(descent_optimizer_warmup_steps(opt) == 0);
  descent_optimizer_free(opt);
}

/* An optimizer that cannot step on an objective says so before a run
   starts (descent_optimizer_check_objective), with its step's message. */
static int no_products(descent_objective *obj, const descent_batch *b, double *loss) {
  (void)b;
  *loss = 0;
  for (size_t i = 0; i < obj->n_params; i++) obj->grad[i] = 0;
  return 0;
}

static void check_objectives(void) {
  descent_shape in = {1, {6}};
  descent_net *plain = NULL, *normed = NULL;
  CHECK_OK(
      descent_net_create(&plain, "dense(5), tanh, dense(3)", &in, DESCENT_LOSS_SOFTMAX_XENT, 4, 1));
  CHECK_OK(descent_net_create(&normed, "dense(5), batchnorm, tanh, dense(3)", &in,
                              DESCENT_LOSS_SOFTMAX_XENT, 4, 1));
  descent_objective *p = descent_net_objective(plain), *b = descent_net_objective(normed);
  static const descent_objective_ops ops = {.kind = "mine", .value_and_grad = no_products};
  descent_real theta[2] = {0}, grad[2] = {0};
  descent_objective mine = {.ops = &ops, .n_params = 2, .params = theta, .grad = grad};
  struct {
    const char *spec;
    descent_objective *obj;
    int status;         /* 0: accepted */
    const char *needle; /* in the message */
  } cases[] = {
      {"adam", p, 0, NULL},
      {"adam", b, 0, NULL},
      {"adam", &mine, 0, NULL},
      {"lbfgs", &mine, 0, NULL},
      {"sdlm", p, 0, NULL},
      {"sdlm", b, DESCENT_ENOTSUP, "sdlm: Gauss-Newton diagonal: layer layer2.batchnorm"},
      {"sdlm", &mine, DESCENT_ENOTSUP, "sdlm: objective 'mine' has no Gauss-Newton diagonal"},
      {"hf", p, 0, NULL},
      {"hf", b, 0, NULL},
      {"hf(precond=ggn)", b, DESCENT_ENOTSUP, "hf: Gauss-Newton diagonal: layer layer2.batchnorm"},
      {"hf", &mine, DESCENT_ENOTSUP, "hf: objective 'mine' has no Gauss-Newton-vector product"},
      {"newton_cg", &mine, DESCENT_ENOTSUP, "has no Hessian-vector product"},
      {"kfac", p, 0, NULL},
      {"kfac", b, 0, NULL},
      {"kfac", &mine, DESCENT_ENOTSUP, "kfac needs a descent_net objective"},
      {"sophia", p, 0, NULL},
      {"sophia", b, 0, NULL},
      {"sophia(estimator=gnb)", b, 0, NULL},
      {"sophia", &mine, DESCENT_ENOTSUP, "sophia: objective 'mine' has no Hessian-vector product"},
      {"sophia(estimator=gnb)", &mine, DESCENT_ENOTSUP,
       "sophia: estimator=gnb samples labels from a network's outputs"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    descent_optimizer *opt = NULL;
    CHECK_OK(descent_optimizer_create(&opt, cases[i].spec, NULL, cases[i].obj->n_params));
    if (!opt) continue;
    if (cases[i].status)
      CHECK_FAILS(descent_optimizer_check_objective(opt, cases[i].obj), cases[i].status,
                  cases[i].needle);
    else
      CHECK_MSG(descent_optimizer_check_objective(opt, cases[i].obj) == 0, "%s on case %zu: %s",
                cases[i].spec, i, descent_last_error());
    descent_optimizer_free(opt);
  }
  descent_optimizer *opt = NULL;
  CHECK_OK(descent_optimizer_create(&opt, "sdlm", NULL, 3));
  CHECK_FAILS(descent_optimizer_check_objective(opt, p), DESCENT_ESHAPE, "objective has");
  descent_optimizer_free(opt);
  descent_net_free(plain);
  descent_net_free(normed);
}

int main(void) {
  check_objectives();
  check_learning_rates();
  check_rate_numbers();
  check_warmup_steps();
  check_hyperparameters();
  check_syntax();
  check_usage();
  return check_report();
}
