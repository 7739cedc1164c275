/*
 * layout.c - the tensors over an optimizer's parameters, and the step of a
 * chain that holds a per-tensor transform.
 *
 * The optimizer sees one flat vector; its layout names the tensors over it
 * (a network's weights and biases, in order). Elementwise transforms ignore
 * it. A per-tensor transform (trust_ratio: LAMB's and LARS's ratio of norms)
 * reduces over each tensor, so the step of its chain cuts the blocks at the
 * tensors' boundaries and never lets a block straddle two. Its reductions
 * are summed per slice of OPTIMIZER_SLICE numbers counted from each tensor's
 * first element, and the slices' sums are added per tensor in slice order:
 * the sums do not depend on the thread count nor on the block size (blocks
 * only decide which thread runs which slices). A global transform (clip) in
 * such a chain sums its slices in the same order, over every tensor.
 *
 * A whole-tensor transform (Muon's orthogonalization) is a stage of its
 * own: it runs on each tensor as a whole, in place in the work buffer, the
 * tensors spread over the threads (each on one), with a work area per
 * thread cut with the blocks.
 *
 * A chain without a per-tensor transform never comes here: its step is the
 * flat one of optimizer.c, unchanged. Every group of a grouped optimizer
 * (groups.c) does, whatever its chain: its layout is its own tensors
 * renumbered from 0 (its slots hold only them), and tensor_shift[k] says how
 * far tensor k lies past that in the whole parameter and gradient buffers,
 * which the step reads and writes in place.
 */
#include "groups.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

/* ---- the table ------------------------------------------------------------ */

/* One tensor's reason to be refused, or NULL. */
static const char *tensor_problem(const descent_tensor_info *t) {
  if (!memchr(t->name, '\0', sizeof t->name)) return "its name is not NUL-terminated";
  if (t->size == 0) return "it is empty (size 0): leave it out of the table";
  if (t->shape.ndim < 1 || t->shape.ndim > DESCENT_MAX_DIMS)
    return "its shape's ndim is not between 1 and DESCENT_MAX_DIMS";
  size_t product = 1;
  for (int d = 0; d < t->shape.ndim; d++) {
    if (t->shape.dims[d] == 0) return "a dimension of its shape is 0";
    if (!descent_mul_ok(product, t->shape.dims[d], &product))
      return "the product of its shape's dimensions overflows";
  }
  if (product != t->size) return "the product of its shape's dimensions is not its size";
  return NULL;
}

/* Checks a table against n parameters: tensors in order of offset, each
   starting where the previous one ends, the last ending at n. who names the
   table in messages. */
static int check_table(size_t n, const descent_tensor_info *tensors, size_t count,
                       const char *who) {
  if (!tensors || count == 0)
    return descent_fail(DESCENT_EINVAL,
                        "%s: no tensors: pass at least one (a single tensor {\"params\", 0, %zu, "
                        "{1, {%zu}}} covers every parameter)",
                        who, n, n);
  size_t covered = 0;
  for (size_t k = 0; k < count; k++) {
    const descent_tensor_info *t = &tensors[k];
    const char *problem = tensor_problem(t);
    if (problem)
      return descent_fail(DESCENT_EINVAL, "%s: tensor %zu (%.*s): %s", who, k, (int)sizeof t->name,
                          t->name, problem);
    if (t->offset != covered)
      return descent_fail(
          DESCENT_EINVAL,
          "%s: tensor %zu (%.*s) starts at %zu, where %s: the tensors must be in "
          "order of offset, each starting where the previous one ends (at %zu), "
          "and cover the %zu parameters exactly",
          who, k, (int)sizeof t->name, t->name, t->offset,
          t->offset < covered ? "it overlaps the previous one" : "a gap precedes it", covered, n);
    if (t->size > n - covered)
      return descent_fail(DESCENT_EINVAL,
                          "%s: tensor %zu (%.*s) of %zu elements at %zu ends past the %zu "
                          "parameters",
                          who, k, (int)sizeof t->name, t->name, t->size, t->offset, n);
    covered += t->size;
  }
  if (covered != n)
    return descent_fail(DESCENT_EINVAL,
                        "%s: the tensors cover %zu of the %zu parameters: the last must end at "
                        "%zu",
                        who, covered, n, n);
  return DESCENT_OK;
}

/* The index of the first tensor where two layouts differ in offset, size or
   shape (names are for messages and do not count), or -1 when they agree;
   a different count differs at the shorter one's end. */
static long first_difference(const descent_tensor_info *a, size_t count_a,
                             const descent_tensor_info *b, size_t count_b) {
  size_t common = count_a < count_b ? count_a : count_b;
  for (size_t k = 0; k < common; k++) {
    int same =
        a[k].offset == b[k].offset && a[k].size == b[k].size && a[k].shape.ndim == b[k].shape.ndim;
    for (int d = 0; same && d < a[k].shape.ndim; d++)
      same = a[k].shape.dims[d] == b[k].shape.dims[d];
    if (!same) return (long)k;
  }
  return count_a == count_b ? -1 : (long)common;
}

/* Refuses a table with a tensor that a whole-tensor transform of the chain
   cannot take, naming the tensor, the reason and the fix. */
static int check_whole_tensors(const descent_optimizer *opt, const descent_tensor_info *tensors,
                               size_t count, const char *who) {
  for (int i = 0; i < opt->n_transforms; i++) {
    const transform *t = &opt->chain[i];
    if (!t->def->whole_tensor || !t->def->check_tensor) continue;
    for (size_t k = 0; k < count; k++) {
      const char *problem = t->def->check_tensor(t, &tensors[k]);
      if (problem)
        return descent_fail(DESCENT_EINVAL,
                            "%s: tensor %zu (%.*s): %s, and transform %s takes only matrices "
                            "(2-D, or conv kernels read as out x in*kh*kw): use parameter "
                            "groups: %s for the 2-D weights, adamw for the rest",
                            who, k, (int)sizeof tensors[k].name, tensors[k].name, problem,
                            t->def->name, opt->spec);
    }
  }
  return DESCENT_OK;
}

static void free_blocks(descent_optimizer *opt) {
  descent_free_real(opt->whole_work);
  opt->whole_work = NULL;
  opt->work_size = 0;
  opt->work_threads = 0;
  free(opt->blocks);
  free(opt->tensor_slices);
  free(opt->slice_sums);
  free(opt->tensor_values);
  opt->blocks = NULL;
  opt->tensor_slices = NULL;
  opt->slice_sums = opt->tensor_values = NULL;
  opt->n_blocks = opt->n_slices = 0;
  for (int i = 0; i < opt->n_transforms; i++) opt->chain[i].tensor_values = NULL;
}

int optimizer_tensor_persist_per_tensor(const descent_optimizer *opt) {
  int per = 0;
  for (int i = 0; i < opt->n_transforms; i++) per += opt->chain[i].def->tensor_persist;
  return per;
}

/* Points each transform that keeps values per tensor into `values` (count
   tensors), in chain order; NULL for the others. */
static void point_tensor_persist(descent_optimizer *opt, double *values, size_t count) {
  for (int i = 0; i < opt->n_transforms; i++) {
    transform *t = &opt->chain[i];
    t->tensor_persist = t->def->tensor_persist ? values : NULL;
    if (values && t->def->tensor_persist) values += (size_t)t->def->tensor_persist * count;
  }
}

int optimizer_has_tensor_state(const descent_optimizer *opt) {
  for (int i = 0; i < opt->n_transforms; i++)
    if (opt->chain[i].def->tensor_state) return 1;
  return 0;
}

/* Gives each transform with state of its own size per tensor the one
   allocation and its offsets into it (count + 1 in `at` each, in chain
   order); NULL for the others. */
static void point_tensor_state(descent_optimizer *opt, descent_real *state, const size_t *at,
                               size_t count) {
  for (int i = 0; i < opt->n_transforms; i++) {
    transform *t = &opt->chain[i];
    int keeps = t->def->tensor_state && state;
    t->tensor_state = keeps ? state : NULL;
    t->tensor_state_at = keeps ? at : NULL;
    if (keeps) at += count + 1;
  }
}

/* The offsets of every tensor's state into the one allocation, per
   transform that keeps some (count + 1 entries each, in chain order, the
   last its end; none when at is NULL), and the total; a size that
   overflows is refused. */
static int size_tensor_state(const descent_optimizer *opt, const descent_tensor_info *tensors,
                             size_t count, size_t *at, size_t *total) {
  size_t sum = 0;
  for (int i = 0; i < opt->n_transforms; i++) {
    const transform *t = &opt->chain[i];
    if (!t->def->tensor_state) continue;
    for (size_t k = 0; k < count; k++) {
      if (at) *at++ = sum;
      size_t need = t->def->tensor_state(t, &tensors[k]);
      if (need > SIZE_MAX / sizeof(descent_real) - sum)
        return descent_fail(DESCENT_ERANGE,
                            "optimizer: the state %s keeps for tensor %zu (%.*s) overflows",
                            t->def->name, k, (int)sizeof tensors[k].name, tensors[k].name);
      sum += need;
    }
    if (at) *at++ = sum;
  }
  *total = sum;
  return DESCENT_OK;
}

int optimizer_tensor_state_size(const descent_optimizer *opt, const descent_tensor_info *tensors,
                                size_t count, size_t *total) {
  return size_tensor_state(opt, tensors, count, NULL, total);
}

/* Copies a checked table in, replacing the layout and starting the values
   and state kept per tensor at zero (a new layout comes only before the
   first step). */
static int adopt(descent_optimizer *opt, const descent_tensor_info *tensors, size_t count) {
  size_t per = (size_t)optimizer_tensor_persist_per_tensor(opt);
  int keepers = 0;
  for (int i = 0; i < opt->n_transforms; i++) keepers += opt->chain[i].def->tensor_state != NULL;
  descent_tensor_info *copy = descent_calloc(count, sizeof *copy, "optimizer tensor table");
  double *kept =
      per ? descent_calloc(count * per, sizeof *kept, "per-tensor optimizer state") : NULL;
  size_t *at = keepers ? descent_calloc((count + 1) * (size_t)keepers, sizeof *at,
                                        "per-tensor optimizer state offsets")
                       : NULL;
  descent_real *state = NULL;
  size_t state_count = 0;
  int rc = !copy || (per && !kept) || (keepers && !at) ? DESCENT_ENOMEM : DESCENT_OK;
  if (!rc && keepers) rc = size_tensor_state(opt, tensors, count, at, &state_count);
  if (!rc && keepers) {
    state = descent_alloc_real(state_count ? state_count : 1, "per-tensor optimizer state");
    if (state)
      memset(state, 0, state_count * sizeof *state);
    else
      rc = DESCENT_ENOMEM;
  }
  if (rc) {
    free(copy);
    free(kept);
    free(at);
    return rc;
  }
  memcpy(copy, tensors, count * sizeof *copy);
  free_blocks(opt);
  free(opt->tensors);
  free(opt->tensor_persist);
  descent_free_real(opt->tensor_state);
  free(opt->tensor_state_at);
  opt->tensors = copy;
  opt->n_tensors = count;
  opt->tensor_persist = kept;
  opt->tensor_state = state;
  opt->tensor_state_count = state_count;
  opt->tensor_state_at = at;
  point_tensor_persist(opt, kept, count);
  point_tensor_state(opt, state, at, count);
  return DESCENT_OK;
}

int descent_optimizer_set_tensors(descent_optimizer *opt, const descent_tensor_info *tensors,
                                  size_t count) {
  descent_error_clear();
  int rc = check_table(opt->n, tensors, count, "descent_optimizer_set_tensors");
  if (!rc) rc = check_whole_tensors(opt, tensors, count, "descent_optimizer_set_tensors");
  if (rc) return rc;
  long differs = first_difference(opt->tensors, opt->n_tensors, tensors, count);
  if (opt->n_tensors && differs < 0) return DESCENT_OK;
  if (opt->groups && opt->step > 0)
    return descent_fail(DESCENT_EINVAL,
                        "descent_optimizer_set_tensors: the grouped optimizer has taken %lld steps "
                        "with another layout: set the table before the first step",
                        (long long)opt->step);
  if (opt->groups) {
    rc = adopt(opt, tensors, count);
    return rc ? rc : groups_assign(opt);
  }
  if (opt->n_tensors && opt->step > 0)
    return descent_fail(DESCENT_EINVAL,
                        "descent_optimizer_set_tensors: the optimizer has taken %lld steps with "
                        "another layout (tensor %ld differs): its per-tensor state and sums "
                        "belong to that one; set the table before the first step",
                        (long long)opt->step, differs);
  return adopt(opt, tensors, count);
}

const descent_tensor_info *descent_optimizer_tensors(const descent_optimizer *opt, size_t *count) {
  *count = opt->n_tensors;
  return opt->n_tensors ? opt->tensors : NULL;
}

int descent_optimizer_uses_tensors(const descent_optimizer *opt) {
  return opt->per_tensor || opt->groups;
}

/* The layout of tensor k, for messages: "W at 0, 12 elements, shape 3x4". */
static void describe_tensor(const descent_tensor_info *t, char *buf, size_t cap) {
  int used = snprintf(buf, cap, "%.*s at %zu, %zu elements, shape ", (int)sizeof t->name - 1,
                      t->name, t->offset, t->size);
  for (int d = 0; d < t->shape.ndim && used > 0 && (size_t)used < cap; d++)
    used += snprintf(buf + used, cap - (size_t)used, "%s%zu", d ? "x" : "", t->shape.dims[d]);
}

int optimizer_layout_check_saved(const descent_optimizer *opt, const descent_tensor_info *saved,
                                 size_t count) {
  if (!opt->n_tensors) return check_table(opt->n, saved, count, "optimizer state: its layout");
  long k = first_difference(saved, count, opt->tensors, opt->n_tensors);
  if (k < 0) return DESCENT_OK;
  char there[160] = "(none)", here[160] = "(none)";
  if ((size_t)k < count) describe_tensor(&saved[k], there, sizeof there);
  if ((size_t)k < opt->n_tensors) describe_tensor(&opt->tensors[k], here, sizeof here);
  return descent_fail(DESCENT_EINVAL,
                      "optimizer state is for another layout of tensors (%zu tensors; %zu here): "
                      "tensor %ld is %s in the saved state but %s here; its per-tensor sums "
                      "belong to that layout: load it into an optimizer for the same model",
                      count, opt->n_tensors, k, there, here);
}

int optimizer_layout_take_saved(descent_optimizer *opt, const descent_tensor_info *saved,
                                size_t count) {
  return opt->n_tensors ? DESCENT_OK : adopt(opt, saved, count);
}

/* ---- the blocks ------------------------------------------------------------ */

static size_t ceil_div(size_t a, size_t b) {
  return a / b + (a % b != 0);
}

/* Cuts each tensor into blocks of block_size and slices of OPTIMIZER_SLICE
   from its first element, and gives each per-tensor transform its values. */
static int build_blocks(descent_optimizer *opt) {
  size_t n_blocks = 0, n_slices = 0, n_values = 0;
  for (size_t k = 0; k < opt->n_tensors; k++) {
    n_blocks += ceil_div(opt->tensors[k].size, opt->block_size);
    n_slices += ceil_div(opt->tensors[k].size, OPTIMIZER_SLICE);
  }
  for (int i = 0; i < opt->n_transforms; i++)
    n_values += (size_t)opt->chain[i].def->per_tensor * opt->n_tensors;
  opt->blocks = descent_calloc(n_blocks, sizeof *opt->blocks, "optimizer blocks");
  opt->tensor_slices =
      descent_calloc(opt->n_tensors + 1, sizeof *opt->tensor_slices, "optimizer slices");
  opt->slice_sums = descent_calloc(n_slices * TRANSFORM_MAX_TENSOR_SUMS, sizeof *opt->slice_sums,
                                   "optimizer partial sums");
  opt->tensor_values =
      descent_calloc(n_values ? n_values : 1, sizeof *opt->tensor_values, "per-tensor values");
  if (!opt->blocks || !opt->tensor_slices || !opt->slice_sums || !opt->tensor_values) {
    free_blocks(opt);
    return DESCENT_ENOMEM;
  }
  size_t b = 0, s = 0;
  for (size_t k = 0; k < opt->n_tensors; k++) {
    const descent_tensor_info *t = &opt->tensors[k];
    opt->tensor_slices[k] = s;
    for (size_t at = 0; at < t->size; at += opt->block_size)
      opt->blocks[b++] = (optimizer_block){
          .lo = t->offset + at,
          .count = t->size - at < opt->block_size ? t->size - at : opt->block_size,
          .tensor = k,
          .first_slice = s + at / OPTIMIZER_SLICE};
    s += ceil_div(t->size, OPTIMIZER_SLICE);
  }
  opt->tensor_slices[opt->n_tensors] = s;
  opt->n_blocks = n_blocks;
  opt->n_slices = n_slices;
  double *values = opt->tensor_values;
  for (int i = 0; i < opt->n_transforms; i++)
    if (opt->chain[i].def->per_tensor) {
      opt->chain[i].tensor_values = values;
      values += (size_t)opt->chain[i].def->per_tensor * opt->n_tensors;
    }
  return DESCENT_OK;
}

/* The whole-tensor transforms' work areas: one per thread of this step, of
   the most any tensor needs; allocated again only when the thread count
   grows (descent_optimizer_set_threads), never per step. */
static int prepare_work(descent_optimizer *opt) {
  size_t most = 0;
  for (int i = 0; i < opt->n_transforms; i++) {
    const transform *t = &opt->chain[i];
    if (!t->def->whole_tensor || !t->def->work_size) continue;
    for (size_t k = 0; k < opt->n_tensors; k++) {
      size_t need = t->def->work_size(t, &opt->tensors[k]);
      if (need > most) most = need;
    }
  }
  int threads = omp_get_max_threads();
  if (!most || (opt->whole_work && opt->work_threads >= threads)) return DESCENT_OK;
  size_t total;
  if (!descent_mul_ok(most, (size_t)threads, &total))
    return descent_fail(DESCENT_ERANGE, "optimizer work areas overflow");
  descent_real *work = descent_alloc_real(total, "optimizer whole-tensor work areas");
  if (!work) return DESCENT_ENOMEM;
  descent_free_real(opt->whole_work);
  opt->whole_work = work;
  opt->work_size = most;
  opt->work_threads = threads;
  return DESCENT_OK;
}

int optimizer_layout_prepare(descent_optimizer *opt, const descent_tensor_info *obj_tensors,
                             size_t obj_count) {
  if (!opt->n_tensors) {
    /* No table anywhere: every parameter is one tensor. */
    descent_tensor_info whole = {.name = "params", .size = opt->n, .shape = {1, {opt->n}}};
    if (!obj_count) obj_tensors = &whole, obj_count = 1;
    int rc = check_table(opt->n, obj_tensors, obj_count, "optimizer: the objective's tensors");
    if (!rc) rc = adopt(opt, obj_tensors, obj_count);
    if (rc) return rc;
  }
  if (!opt->blocks) {
    /* A table set before the chain could check it (a loaded state's) is
       checked here, at the first step. */
    int rc = check_whole_tensors(opt, opt->tensors, opt->n_tensors, "optimizer");
    if (!rc) rc = build_blocks(opt);
    if (rc) return rc;
  }
  return prepare_work(opt);
}

int optimizer_set_block_size(descent_optimizer *opt, size_t block_size) {
  if (block_size == 0 || block_size % OPTIMIZER_SLICE != 0 || opt->step > 0)
    return descent_fail(DESCENT_EINVAL,
                        "optimizer block size %zu: must be a positive multiple of %d, set before "
                        "the first step",
                        block_size, OPTIMIZER_SLICE);
  free_blocks(opt);
  opt->block_size = block_size;
  return DESCENT_OK;
}

void optimizer_layout_free(descent_optimizer *opt) {
  free_blocks(opt);
  free(opt->tensors);
  free(opt->tensor_shift);
  free(opt->tensor_persist);
  point_tensor_persist(opt, NULL, 0);
  opt->tensor_persist = NULL;
  descent_free_real(opt->tensor_state);
  free(opt->tensor_state_at);
  point_tensor_state(opt, NULL, NULL, 0);
  opt->tensor_state = NULL;
  opt->tensor_state_at = NULL;
  opt->tensor_state_count = 0;
  opt->tensors = NULL;
  opt->tensor_shift = NULL;
  opt->n_tensors = 0;
}

size_t optimizer_layout_bytes(const descent_optimizer *opt) {
  size_t kept =
      opt->tensor_persist ? opt->n_tensors * (size_t)optimizer_tensor_persist_per_tensor(opt) : 0;
  return opt->n_blocks * sizeof *opt->blocks +
         opt->work_size * (size_t)opt->work_threads * sizeof *opt->whole_work +
         opt->n_slices * TRANSFORM_MAX_TENSOR_SUMS * sizeof *opt->slice_sums +
         kept * sizeof *opt->tensor_persist + opt->tensor_state_count * sizeof *opt->tensor_state;
}

/* ---- the step --------------------------------------------------------------- */

/* How far past its own position block blk lies in the buffers stepped: 0
   but for a group's child (groups.c), whose layout is compact. */
static size_t block_shift(const descent_optimizer *opt, const optimizer_block *blk) {
  return opt->tensor_shift ? opt->tensor_shift[blk->tensor] : 0;
}

/* The sums of the slice [at, at + n) of u for the transform that heads the
   next stage (u and theta are the buffers the block's tensor lies in, already
   moved by the block's shift; the slots are the optimizer's, compact). */
static void reduce_slice(const transform *t, const descent_real *u, const descent_real *theta,
                         size_t at, size_t n, double *sums) {
  if (t->def->per_tensor) {
    t->def->reduce_tensor(t, u + at, theta + at, n, sums);
  } else if (t->def->global_sums) {
    descent_real *slots[TRANSFORM_MAX_SLOTS];
    for (int s = 0; s < t->n_slots; s++) slots[s] = t->slots[s] + at;
    t->def->reduce_global(t, u + at, theta + at, slots, n, sums);
  } else {
    sums[0] = t->def->reduce(t, u + at, n);
  }
}

/* Slice by slice over every block: the reduction of t over src, the update
   entering the first transform (the gradient: src_is_input, a whole buffer)
   or the work buffer after a whole-tensor stage (compact). */
static void reduce_input(descent_optimizer *opt, const transform *t, const descent_real *src,
                         int src_is_input, const descent_real *theta) {
  size_t blocks = opt->n_blocks;
#pragma omp parallel for schedule(static) if (blocks >= OPTIMIZER_PARALLEL_BLOCKS)
  for (size_t b = 0; b < blocks; b++) {
    const optimizer_block *blk = &opt->blocks[b];
    size_t end = blk->lo + blk->count, s = blk->first_slice, shift = block_shift(opt, blk);
    const descent_real *in = src_is_input ? src + shift : src;
    for (size_t at = blk->lo; at < end; at += OPTIMIZER_SLICE, s++)
      reduce_slice(t, in, theta + shift, at,
                   end - at < OPTIMIZER_SLICE ? end - at : OPTIMIZER_SLICE,
                   &opt->slice_sums[s * TRANSFORM_MAX_TENSOR_SUMS]);
  }
}

/* The slices' sums added in slice order: over everything for a global
   transform, per tensor for a per-tensor one; then its finish. */
static void finish_stage(descent_optimizer *opt, transform *t) {
  const double *sums = opt->slice_sums;
  if (t->def->global && !t->def->global_sums) {
    double total = 0;
    for (size_t s = 0; s < opt->n_slices; s++) total += sums[s * TRANSFORM_MAX_TENSOR_SUMS];
    t->def->finish(t, total);
    return;
  }
  if (t->def->global) {
    double totals[TRANSFORM_MAX_TENSOR_SUMS] = {0};
    for (size_t s = 0; s < opt->n_slices; s++)
      for (int j = 0; j < t->def->global_sums; j++)
        totals[j] += sums[s * TRANSFORM_MAX_TENSOR_SUMS + (size_t)j];
    t->def->finish_global(t, totals);
    return;
  }
  int per = t->def->per_tensor;
  for (size_t k = 0; k < opt->n_tensors; k++) {
    double *v = t->tensor_values + k * (size_t)per;
    for (int j = 0; j < per; j++) v[j] = 0;
    for (size_t s = opt->tensor_slices[k]; s < opt->tensor_slices[k + 1]; s++)
      for (int j = 0; j < per; j++) v[j] += sums[s * TRANSFORM_MAX_TENSOR_SUMS + (size_t)j];
  }
  t->def->finish_tensor(t, opt->n_tensors);
}

/* Transforms [first, last) over every block; with a dst, each slice's
   output is reduced for `next` while it is in cache. */
static void run_tensor_stage(descent_optimizer *opt, int first, int last, const descent_real *src,
                             int src_is_input, descent_real *dst, descent_real *theta,
                             const transform *next) {
  size_t blocks = opt->n_blocks;
#pragma omp parallel for schedule(static) if (blocks >= OPTIMIZER_PARALLEL_BLOCKS)
  for (size_t b = 0; b < blocks; b++) {
    const optimizer_block *blk = &opt->blocks[b];
    size_t end = blk->lo + blk->count, s = blk->first_slice, shift = block_shift(opt, blk);
    /* The input (the gradient) and theta are the whole buffers; the work
       buffer between stages is the optimizer's own, compact like its slots. */
    const descent_real *in = src_is_input ? src + shift : src;
    for (size_t at = blk->lo; at < end; at += OPTIMIZER_SLICE, s++) {
      size_t count = end - at < OPTIMIZER_SLICE ? end - at : OPTIMIZER_SLICE;
      optimizer_run_slice(opt, first, last, at, count, blk->tensor, in, dst, theta + shift);
      if (dst && next)
        reduce_slice(next, dst, theta + shift, at, count,
                     &opt->slice_sums[s * TRANSFORM_MAX_TENSOR_SUMS]);
    }
  }
}

/* The whole-tensor transform t on every tensor: src's update copied into
   the work buffer (unless it is there already) and transformed there in
   place; added to theta when t ends the chain and does not write theta
   itself (last). Each tensor runs on one thread, with that thread's work
   area; the parallel region makes any matrix product inside run on that
   thread alone, so the bits do not depend on the thread count. */
static void run_whole_stage(descent_optimizer *opt, const transform *t, const descent_real *src,
                            int src_is_input, descent_real *theta, int last) {
  descent_real *u = opt->work;
  long count = (long)opt->n_tensors;
#pragma omp parallel for schedule(dynamic, 1)
  for (long k = 0; k < count; k++) {
    const descent_tensor_info *info = &opt->tensors[k];
    /* A group's child: its tensor lies shift further in the buffers. */
    size_t lo = info->offset, n = info->size, shift = opt->tensor_shift ? opt->tensor_shift[k] : 0;
    const descent_real *in = src_is_input ? src + shift : src;
    descent_real *at = theta + shift;
    if (in != u) memcpy(u + lo, in + lo, n * sizeof *u);
    descent_real *slots[TRANSFORM_MAX_SLOTS];
    for (int s = 0; s < t->n_slots; s++) slots[s] = t->slots[s] + lo;
    descent_real *work =
        opt->whole_work ? opt->whole_work + (size_t)omp_get_thread_num() * opt->work_size : NULL;
    t->def->apply_whole(t, u + lo, at + lo, slots, (size_t)k, info, work);
    if (last && !t->def->final)
      for (size_t i = 0; i < n; i++) at[lo + i] += u[lo + i];
  }
}

void optimizer_step_tensors(descent_optimizer *opt, descent_real *params,
                            const descent_real *grad) {
  const descent_real *src = grad;
  if (transform_needs_reduction(opt->chain[0].def)) {
    reduce_input(opt, &opt->chain[0], src, 1, params);
    finish_stage(opt, &opt->chain[0]);
  }
  int first = 0;
  while (first < opt->n_transforms) {
    int last = first + 1;
    if (!opt->chain[first].def->whole_tensor)
      while (last < opt->n_transforms && !transform_starts_stage(opt->chain[last].def)) last++;
    transform *next = last < opt->n_transforms ? &opt->chain[last] : NULL;
    /* The stage's output goes to the work buffer for the next stage; its
       reduction, if the next stage needs one, is taken on the way when the
       stage runs on blocks, or over the work buffer after a whole-tensor
       stage. */
    const transform *reduce = next && transform_needs_reduction(next->def) ? next : NULL;
    if (opt->chain[first].def->whole_tensor) {
      run_whole_stage(opt, &opt->chain[first], src, src == grad, params, !next);
      if (reduce) reduce_input(opt, reduce, opt->work, 0, params);
    } else {
      run_tensor_stage(opt, first, last, src, src == grad, next ? opt->work : NULL, params, reduce);
    }
    if (reduce) finish_stage(opt, next);
    src = opt->work;
    first = last;
  }
}
