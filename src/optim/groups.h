/*
 * groups.h - parameter groups (groups.c): an optimizer whose spec is
 * "CHAIN @ SELECTOR ; CHAIN @ SELECTOR ...", each group a child optimizer
 * stepping its own tensors in place. optimizer.c, layout.c, state.c and
 * hyperparameters.c hand a grouped optimizer (opt->groups set) to these.
 */
#ifndef DESCENT_GROUPS_H
#define DESCENT_GROUPS_H

#include "optimizer.h"

/* The most groups of one spec. */
#define OPTIMIZER_MAX_GROUPS 8

/* 1 when spec is a grouped spec (it holds '@'). */
int groups_is_spec(const char *spec);
/* descent_optimizer_create for a grouped spec. */
int groups_create(descent_optimizer **out, const char *spec, const char *lr, size_t n_params);
void groups_free(descent_optimizer *opt);
/* The layout is known (a checked table, adopted into opt->tensors): every
   tensor to its group, each group's child built over its tensors. */
int groups_assign(descent_optimizer *opt);
int groups_step(descent_optimizer *opt, descent_real *params, const descent_real *grad,
                const descent_tensor_info *tensors, size_t n_tensors);
/* 1 when a group's chain has an evaluation point (schedule-free, asgd). */
int groups_has_eval_point(const descent_optimizer *opt);
/* Every group to its evaluation point (to_eval 1) or back. */
int groups_switch(descent_optimizer *opt, descent_real *params, int to_eval);
double groups_lr(const descent_optimizer *opt);
int groups_set_lr_scale(descent_optimizer *opt, double scale);
double groups_lr_scale(const descent_optimizer *opt);
double groups_base_lr(const descent_optimizer *opt);
int groups_set_base_lr(descent_optimizer *opt, double lr);
int64_t groups_warmup_steps(const descent_optimizer *opt);
size_t groups_describe(const descent_optimizer *opt, char *buf, size_t cap);
/* The index-th hyperparameter over every group, "group2.adam.b1"; -1 past
   the last (as hyperparameters.c's own). */
int groups_hyperparameter_at(const descent_optimizer *opt, int index, char *buf, size_t cap,
                             double *value);
size_t groups_state_size(const descent_optimizer *opt);
int groups_save_state(const descent_optimizer *opt, void *buf, size_t size);
int groups_load_state(descent_optimizer *opt, const void *buf, size_t size);
size_t groups_state_bytes(const descent_optimizer *opt);

#endif /* DESCENT_GROUPS_H */
