/*
 * shard.c - sharded optimizer state (ZeRO stage 1, Rajbhandari et al. 2020).
 *
 * N data-parallel replicas each hold the state of 1/N of the parameters. The
 * caller reduce-scatters the gradients, each replica steps its shard with the
 * whole-length buffers (optimizer.c offsets them), and the caller
 * all-gathers the parameters. Every transform a shard may hold works element
 * by element with no contraction (core/multiversion.h), so a shard's
 * elements get the same bits as in the whole optimizer at any offset: the
 * blocks and slices of the step start at the shard's first element instead
 * of the buffer's, and vector bodies and scalar tails round alike. A global
 * transform (clip's norm) would need the whole gradient: refused. The state
 * blob stays the whole optimizer's (state.c gathers and slices it). A
 * per-tensor transform (trust_ratio) sums over each tensor, which a shard's
 * edge may cut: refused too.
 */
#include "groups.h"

#include <string.h>

/* The first transform that needs the whole update, or NULL. */
static const transform *first_global(const descent_optimizer *opt) {
  for (int i = 0; i < opt->n_transforms; i++)
    if (opt->chain[i].def->global) return &opt->chain[i];
  return NULL;
}

/* The first transform that works per tensor, or NULL. */
static const transform *first_per_tensor(const descent_optimizer *opt) {
  for (int i = 0; i < opt->n_transforms; i++)
    if (opt->chain[i].def->per_tensor || opt->chain[i].def->whole_tensor) return &opt->chain[i];
  return NULL;
}

/* The reasons a shard cannot be set, with nothing changed. */
static int check_shard(const descent_optimizer *opt, size_t offset, size_t count,
                       descent_allgather_fn gather) {
  if (opt->method)
    return descent_fail(DESCENT_EINVAL,
                        "descent_optimizer_set_shard: %s is a method whose step needs the whole "
                        "parameter vector (its directions and line searches span every "
                        "parameter): shard a chain of transforms (adam, sgd, ...) instead",
                        opt->method->name);
  const transform *global = first_global(opt);
  if (global)
    return descent_fail(DESCENT_EINVAL,
                        "descent_optimizer_set_shard: transform %s needs the whole gradient (a "
                        "reduction over every parameter) and cannot run on a shard: leave it out "
                        "of the chain (clip the gradient before its reduce-scatter, in the "
                        "caller) or do not shard",
                        global->def->name);
  const transform *per_tensor = first_per_tensor(opt);
  if (per_tensor)
    return descent_fail(DESCENT_EINVAL,
                        "descent_optimizer_set_shard: transform %s works per tensor (a reduction "
                        "over each tensor of the layout, or the whole tensor at once), and a "
                        "shard's edge may cut a tensor, "
                        "whose sums would then need the other replicas: do not shard this chain",
                        per_tensor->def->name);
  if (opt->step > 0)
    return descent_fail(DESCENT_EINVAL,
                        "descent_optimizer_set_shard: the optimizer has taken %lld steps; shard "
                        "it before its first step (to resume, set the shard and then load the "
                        "state)",
                        (long long)opt->step);
  if (count == 0 || offset > opt->n || count > opt->n - offset)
    return descent_fail(DESCENT_EINVAL,
                        "descent_optimizer_set_shard: shard of %zu parameters at offset %zu is "
                        "not inside the optimizer's %zu: need count >= 1 and offset + count <= "
                        "%zu",
                        count, offset, opt->n, opt->n);
  if (!gather)
    return descent_fail(DESCENT_EINVAL,
                        "descent_optimizer_set_shard: the gather function is NULL: pass the "
                        "replicas' all-gather (it joins the state for descent_optimizer_save_"
                        "state)");
  return DESCENT_OK;
}

int descent_optimizer_set_shard(descent_optimizer *opt, size_t offset, size_t count,
                                descent_allgather_fn gather, void *user) {
  descent_error_clear();
  if (opt->groups)
    return descent_fail(DESCENT_ENOTSUP,
                        "descent_optimizer_set_shard: an optimizer with parameter groups cannot be "
                        "sharded yet: train it without ZeRO-1 sharding");
  int rc = check_shard(opt, offset, count, gather);
  if (rc) return rc;
  /* No global transform: no work buffer nor partial sums to shrink. */
  int slots = optimizer_slot_count(opt);
  if (slots) {
    size_t total;
    if (!descent_mul_ok(count, (size_t)slots, &total))
      return descent_fail(DESCENT_ERANGE, "optimizer state overflows");
    descent_real *state = descent_alloc_real(total, "sharded optimizer state");
    if (!state) return DESCENT_ENOMEM;
    descent_free_real(opt->state);
    opt->state = state;
  }
  opt->shard_offset = offset;
  opt->shard_count = count;
  opt->gather = gather;
  opt->gather_user = user;
  optimizer_point_slots(opt);
  return DESCENT_OK;
}

size_t descent_optimizer_state_bytes(const descent_optimizer *opt) {
  if (opt->groups) return groups_state_bytes(opt);
  size_t bytes = (size_t)optimizer_slot_count(opt) * opt->shard_count * sizeof(descent_real);
  if (opt->work) bytes += opt->n * sizeof(descent_real);
  if (opt->held) bytes += opt->shard_count * sizeof(descent_real);
  if (opt->partials)
    bytes += ((opt->n + OPTIMIZER_BLOCK - 1) / OPTIMIZER_BLOCK + 1) * (size_t)opt->partial_sums *
             sizeof(double);
  if (opt->method) bytes += opt->method->state_bytes(opt->method_state);
  return bytes + optimizer_layout_bytes(opt);
}
