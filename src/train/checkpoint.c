/*
 * checkpoint.c - a trainer's whole state as a file, and back.
 *
 * A checkpoint is a file of the model format (model_io.h: magic, version,
 * sections with a CRC-32 each): OBJ (the objective's kind and size) and PARM,
 * the objective's own sections (a network's NET, BUFF and RNG, so that a
 * network's checkpoint also loads as a model: descent eval reads it), PREP,
 * CKPT (the trainer's counters), OPTS (the optimizer's state blob), BTCH
 * (the batcher: RNG, permutation, position) or EPOC without data, LOSS
 * (every step's loss and rate), CONF (the configuration text), TRAK (the
 * instruments' state, with a tracker; tracker.c documents it) and the
 * user's sections; descent.h documents each field.
 *
 * Reading checks the whole file before anything changes: every section's
 * length against the file and its CRC (model_file_sections), then every
 * field's range, every declared count against its section's length before
 * anything of that size is allocated, the permutation, the fit with the
 * trainer; only then are values copied. Files are named ckpt-STEP.dsc; a
 * name with anything after ".dsc" (the temporary files of atomic writes) is
 * never a checkpoint.
 */
#include "trainer_internal.h"

#include "tracker.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define CKPT_BYTES_V1 80 /* the CKPT section's payload in version 1 (no run id) */
#define CKPT_BYTES    96 /* ... and in version 2: the run id appended */
#define BTCH_FIXED    80 /* the BTCH section's payload before the permutation */
#define MAX_ROLLBACKS 1000000

uint32_t checkpoint_labels_crc(const descent_dataset *ds) {
  if (!ds->labels) return 0;
  uLong crc = crc32(0L, Z_NULL, 0);
  for (size_t i = 0; i < ds->n; i++) {
    uint32_t v = (uint32_t)ds->labels[i];
    unsigned char b[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 24)};
    crc = crc32(crc, b, 4);
  }
  return (uint32_t)crc;
}

/* ---- reading ------------------------------------------------------------------ */

/* Everything a checkpoint file holds, checked for itself (not yet against a
   trainer). Pointers lead into the file's bytes. */
typedef struct parsed {
  model_section sections[MODEL_MAX_SECTIONS];
  size_t count;
  const model_section *parm, *buff, *prep, *rng, *opts, *btch, *epoc, *loss, *conf;
  const model_section *obj, *netsec; /* NULL when absent */
  net_header net;                    /* when netsec: spec allocated */
  char kind[256];                    /* OBJ's kind; "network" without OBJ */
  uint64_t steps_per_epoch;          /* EPOC's; 0 with a data set */
  descent_preprocess pp;
  unsigned width;
  uint32_t version;
  descent_run_id run_id; /* all zero in version 1 */
  int64_t step, epoch;
  uint64_t epoch_batches, epoch_samples;
  double loss_sum, epoch_lr, first_loss, lr_scale;
  uint32_t rollbacks, full_batch;
  uint64_t n_params, n_buffers;
  uint64_t n, features, batch_size;
  uint32_t labels_crc, shuffle;
  descent_rng batcher_rng;
  uint64_t position;
  int64_t batcher_epoch;
  const unsigned char *order;
  uint64_t history;
  const unsigned char *losses; /* history f64 losses, then history f64 rates */
} parsed;

static int check_identity(const char *path, const parsed *p, const descent_run_id *run);

static void parsed_free(parsed *p) {
  free(p->net.spec);
  descent_preprocess_free(&p->pp);
}

static uint64_t le64(const unsigned char *b) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = v << 8 | b[i];
  return v;
}

static double f64_at(const unsigned char *b) {
  uint64_t bits = le64(b);
  double v;
  memcpy(&v, &bits, 8);
  return v;
}

/* A PARM or BUFF section: a count that fits the section's length exactly. */
static int values_count(const model_section *s, const char *name, unsigned width, uint64_t *count) {
  bytes_in in = {s->payload, s->len, 0, 0};
  *count = in_u64(&in);
  if (in.failed || *count > (s->len - 8) / width || 8 + *count * width != s->len)
    return descent_fail(DESCENT_EFORMAT,
                        "%s: section '%s' declares %llu values, its length holds %zu", name, s->tag,
                        (unsigned long long)*count, s->len >= 8 ? (s->len - 8) / width : 0);
  return DESCENT_OK;
}

static int parse_ckpt(const model_section *s, const char *name, parsed *p) {
  bytes_in in = {s->payload, s->len, 0, 0};
  uint32_t version = in_u32(&in);
  /* A newer file is refused as such (not as damage): nothing here may skip,
     overwrite or delete what this program cannot read. */
  if (!in.failed && version > CHECKPOINT_VERSION)
    return descent_fail(DESCENT_ENOTSUP,
                        "%s: checkpoint version %u; this descent reads versions 1 to %u (the file "
                        "comes from a newer descent)",
                        name, version, CHECKPOINT_VERSION);
  if (in.failed || version < 1)
    return descent_fail(DESCENT_EFORMAT, "%s: checkpoint version %u; this descent reads 1 to %u",
                        name, version, CHECKPOINT_VERSION);
  size_t want = version == 1 ? CKPT_BYTES_V1 : CKPT_BYTES;
  if (s->len != want)
    return descent_fail(DESCENT_EFORMAT, "%s: section 'CKPT' holds %zu bytes; version %u has %zu",
                        name, s->len, version, want);
  p->version = version;
  p->width = in_u32(&in);
  p->step = (int64_t)in_u64(&in);
  p->epoch = (int64_t)in_u64(&in);
  p->epoch_batches = in_u64(&in);
  p->epoch_samples = in_u64(&in);
  p->loss_sum = in_f64(&in);
  p->epoch_lr = in_f64(&in);
  p->first_loss = in_f64(&in);
  p->lr_scale = in_f64(&in);
  p->rollbacks = in_u32(&in);
  p->full_batch = in_u32(&in);
  if (version >= 2)
    for (size_t i = 0; i < sizeof p->run_id.bytes; i++) p->run_id.bytes[i] = in.data[in.pos++];
  const char *bad = NULL;
  if (p->width != 4 && p->width != 8)
    bad = "bytes per number (valid: 4 or 8)";
  else if (p->step < 0)
    bad = "step count";
  else if (p->epoch < 0)
    bad = "epoch count";
  else if (!isfinite(p->loss_sum))
    bad = "epoch loss";
  else if (!(p->lr_scale > 0) || !isfinite(p->lr_scale))
    bad = "learning-rate scale";
  else if (isinf(p->first_loss))
    bad = "first loss";
  /* The rate of the epoch's first step: unset (NaN) exactly while the epoch
     has taken no step, and a rate the schedule could give otherwise. */
  else if (p->epoch_batches == 0 ? !isnan(p->epoch_lr) : !isfinite(p->epoch_lr))
    bad = "learning rate of the epoch";
  else if (p->rollbacks > MAX_ROLLBACKS)
    bad = "rollback count";
  else if (p->full_batch > 1)
    bad = "full-batch flag";
  if (bad) return descent_fail(DESCENT_EFORMAT, "%s: section 'CKPT': invalid %s", name, bad);
  return DESCENT_OK;
}

static int parse_batcher(const model_section *s, const char *name, parsed *p) {
  if (s->len < BTCH_FIXED)
    return descent_fail(DESCENT_EFORMAT, "%s: section 'BTCH' is too short (%zu bytes)", name,
                        s->len);
  bytes_in in = {s->payload, s->len, 0, 0};
  p->n = in_u64(&in);
  p->features = in_u64(&in);
  p->labels_crc = in_u32(&in);
  p->batch_size = in_u64(&in);
  p->shuffle = in_u32(&in);
  for (int i = 0; i < 4; i++) p->batcher_rng.s[i] = in_u64(&in);
  p->position = in_u64(&in);
  p->batcher_epoch = (int64_t)in_u64(&in);
  /* The declared count against the section's length, before anything of
     that size exists. */
  if (p->n == 0 || p->n > (s->len - BTCH_FIXED) / 8 || BTCH_FIXED + p->n * 8 != s->len)
    return descent_fail(DESCENT_EFORMAT,
                        "%s: section 'BTCH' declares %llu examples, its length holds %zu", name,
                        (unsigned long long)p->n, (s->len - BTCH_FIXED) / 8);
  p->order = s->payload + BTCH_FIXED;
  const char *bad = NULL;
  if (p->batch_size == 0)
    bad = "batch size 0";
  else if (p->shuffle > 1)
    bad = "shuffle flag";
  else if (p->position > p->n)
    bad = "position beyond the data";
  else if (p->batcher_epoch < 0)
    bad = "epoch count";
  else if ((p->batcher_rng.s[0] | p->batcher_rng.s[1] | p->batcher_rng.s[2] |
            p->batcher_rng.s[3]) == 0)
    bad = "RNG state (all zero)";
  else if (p->epoch_samples > p->n)
    bad = "example count of the epoch";
  if (bad) return descent_fail(DESCENT_EFORMAT, "%s: section 'BTCH': invalid %s", name, bad);
  /* The order must be a permutation of [0, n). */
  unsigned char *seen = descent_calloc((size_t)p->n, 1, "checkpoint: permutation check");
  if (!seen) return DESCENT_ENOMEM;
  int rc = DESCENT_OK;
  for (uint64_t i = 0; i < p->n; i++) {
    uint64_t v = le64(p->order + 8 * i);
    if (v >= p->n || seen[v]) {
      rc = descent_fail(DESCENT_EFORMAT,
                        "%s: section 'BTCH': the order is not a permutation (entry %llu is %llu)",
                        name, (unsigned long long)i, (unsigned long long)v);
      break;
    }
    seen[v] = 1;
  }
  free(seen);
  return rc;
}

static int parse_history(const model_section *s, const char *name, parsed *p) {
  bytes_in in = {s->payload, s->len, 0, 0};
  p->history = in_u64(&in);
  if (in.failed || p->history > (s->len - 8) / 16 || 8 + p->history * 16 != s->len)
    return descent_fail(DESCENT_EFORMAT,
                        "%s: section 'LOSS' declares %llu steps, its length holds %zu", name,
                        (unsigned long long)p->history, s->len >= 8 ? (s->len - 8) / 16 : 0);
  if (p->history > (uint64_t)p->step)
    return descent_fail(DESCENT_EFORMAT,
                        "%s: section 'LOSS' holds %llu steps, more than the %lld taken", name,
                        (unsigned long long)p->history, (long long)p->step);
  p->losses = s->payload + 8;
  return DESCENT_OK;
}

/* The optimizer blob's header, against the other sections (the blob checks
   itself in full when it is loaded). */
static int check_blob(const model_section *s, const char *name, const parsed *p) {
  if (s->len < 52 || memcmp(s->payload, "DSCNTOPT", 8) != 0)
    return descent_fail(DESCENT_EFORMAT, "%s: section 'OPTS' is not an optimizer state", name);
  uint32_t width = (uint32_t)(le64(s->payload + 12) & 0xffffffffu);
  uint64_t n = le64(s->payload + 16), step = le64(s->payload + 24);
  if (width != p->width || n != p->n_params || step != (uint64_t)p->step)
    return descent_fail(DESCENT_EFORMAT,
                        "%s: section 'OPTS' does not match the file (%llu parameters of %u bytes "
                        "after %llu steps; the file has %llu of %u after %lld)",
                        name, (unsigned long long)n, width, (unsigned long long)step,
                        (unsigned long long)p->n_params, p->width, (long long)p->step);
  return DESCENT_OK;
}

/* The one section with this tag, NULL when absent; DESCENT_EFORMAT when it
   appears twice. */
static int optional(const parsed *p, const char *tag, const char *name, const model_section **out) {
  *out = NULL;
  for (size_t i = 0; i < p->count; i++)
    if (memcmp(p->sections[i].tag, tag, 4) == 0) {
      if (*out) return descent_fail(DESCENT_EFORMAT, "%s: section '%s' appears twice", name, tag);
      *out = &p->sections[i];
    }
  return DESCENT_OK;
}

static int parse_obj(const model_section *s, const char *name, parsed *p) {
  bytes_in in = {s->payload, s->len, 0, 0};
  uint32_t klen = in_u32(&in);
  if (in.failed || klen > 255 || (size_t)klen + 16 != s->len)
    return descent_fail(DESCENT_EFORMAT, "%s: section 'OBJ ' has the wrong length", name);
  memcpy(p->kind, s->payload + 4, klen);
  p->kind[klen] = '\0';
  in.pos += klen;
  uint64_t n = in_u64(&in);
  uint32_t width = in_u32(&in);
  if (memchr(p->kind, '\0', klen))
    return descent_fail(DESCENT_EFORMAT, "%s: section 'OBJ ': the kind holds a NUL byte", name);
  if (n != p->n_params || width != p->width)
    return descent_fail(DESCENT_EFORMAT,
                        "%s: section 'OBJ ' declares %llu parameters of %u bytes; the file holds "
                        "%llu of %u",
                        name, (unsigned long long)n, width, (unsigned long long)p->n_params,
                        p->width);
  return DESCENT_OK;
}

/* A network's sections (a model file's), when the file has them: NET, BUFF
   and RNG, and every stored value against the spec. */
static int parse_net(const char *name, parsed *p) {
  int rc;
  if (!(p->buff = model_section_find(p->sections, p->count, "BUFF", name)) ||
      !(p->rng = model_section_find(p->sections, p->count, "RNG ", name)))
    return DESCENT_EFORMAT;
  if ((rc = model_read_net_header(p->netsec, name, &p->net))) return rc;
  if (p->net.width != p->width)
    return descent_fail(DESCENT_EFORMAT,
                        "%s: section 'NET ' has %u-byte numbers, section 'CKPT' %u-byte ones", name,
                        p->net.width, p->width);
  if ((rc = values_count(p->buff, name, p->width, &p->n_buffers))) return rc;
  if ((rc = model_check_stored(&p->net, p->parm, p->buff, name))) return rc;
  if (p->rng->len != 32)
    return descent_fail(DESCENT_EFORMAT, "%s: section 'RNG ' has the wrong length", name);
  if (p->btch && p->features != descent_shape_size(&p->net.input))
    return descent_fail(DESCENT_EFORMAT,
                        "%s: the batcher's examples have %llu features, the network's input %zu",
                        name, (unsigned long long)p->features, descent_shape_size(&p->net.input));
  return DESCENT_OK;
}

/* BTCH and PREP with a data set, EPOC without one. */
static int parse_data(const char *name, parsed *p) {
  int rc;
  if ((rc = optional(p, "BTCH", name, &p->btch)) || (rc = optional(p, "EPOC", name, &p->epoc)) ||
      (rc = optional(p, "PREP", name, &p->prep)))
    return rc;
  if (!p->btch == !p->epoc)
    return descent_fail(DESCENT_EFORMAT, "%s: %s", name,
                        p->btch ? "sections 'BTCH' and 'EPOC' both present"
                                : "section 'BTCH' is missing");
  if (p->epoc) {
    bytes_in in = {p->epoc->payload, p->epoc->len, 0, 0};
    p->steps_per_epoch = in_u64(&in);
    if (p->epoc->len != 8 || p->steps_per_epoch == 0 || p->steps_per_epoch > INT64_MAX)
      return descent_fail(DESCENT_EFORMAT, "%s: section 'EPOC': invalid steps per epoch", name);
    if (p->prep)
      return descent_fail(DESCENT_EFORMAT, "%s: section 'PREP' in a run without a data set", name);
    return DESCENT_OK;
  }
  if (!p->prep) return descent_fail(DESCENT_EFORMAT, "%s: section 'PREP' is missing", name);
  return parse_batcher(p->btch, name, p);
}

static int parse(const unsigned char *data, size_t len, const char *name, parsed *p) {
  memset(p, 0, sizeof *p);
  int rc = model_file_sections(data, len, name, p->sections, &p->count);
  if (rc) return rc;
  const model_section *sec = p->sections, *ckpt = NULL;
  size_t count = p->count;
  /* CKPT first: a plain model file is told apart from a damaged checkpoint. */
  for (size_t i = 0; i < count; i++)
    if (memcmp(sec[i].tag, "CKPT", 4) == 0) ckpt = &sec[i];
  if (!ckpt)
    return descent_fail(DESCENT_EFORMAT, "%s: a model file, not a checkpoint (no section 'CKPT')",
                        name);
  if (!(ckpt = model_section_find(sec, count, "CKPT", name)) ||
      !(p->parm = model_section_find(sec, count, "PARM", name)) ||
      !(p->opts = model_section_find(sec, count, "OPTS", name)) ||
      !(p->loss = model_section_find(sec, count, "LOSS", name)) ||
      !(p->conf = model_section_find(sec, count, "CONF", name)))
    return DESCENT_EFORMAT;
  if ((rc = optional(p, "OBJ ", name, &p->obj)) || (rc = optional(p, "NET ", name, &p->netsec)))
    return rc;
  /* Files without OBJ come from before it: all of them are networks'. */
  if (!p->obj && !p->netsec)
    return descent_fail(DESCENT_EFORMAT, "%s: section 'OBJ ' is missing", name);
  if ((rc = parse_ckpt(ckpt, name, p))) return rc;
  if ((rc = values_count(p->parm, name, p->width, &p->n_params))) return rc;
  snprintf(p->kind, sizeof p->kind, "network");
  if (p->obj && (rc = parse_obj(p->obj, name, p))) return rc;
  if ((rc = parse_data(name, p))) return rc;
  if (p->netsec && (rc = parse_net(name, p))) return rc;
  if ((rc = check_blob(p->opts, name, p)) || (rc = parse_history(p->loss, name, p))) return rc;
  if (memchr(p->conf->payload, '\0', p->conf->len))
    return descent_fail(DESCENT_EFORMAT, "%s: section 'CONF' holds a NUL byte", name);
  if (!p->prep) return DESCENT_OK;
  return model_read_preprocess(p->prep, name, p->width, (size_t)p->features, &p->pp);
}

static size_t batches_per_epoch(const parsed *p) {
  if (p->epoc) return (size_t)p->steps_per_epoch;
  if (p->full_batch) return 1;
  return (size_t)(p->n / p->batch_size + (p->n % p->batch_size != 0));
}

static int same_preprocess(const descent_preprocess *a, const descent_preprocess *b) {
  descent_preprocess_kind ka = a ? a->kind : DESCENT_PREPROCESS_NONE;
  if (ka != b->kind) return 0;
  if (ka == DESCENT_PREPROCESS_NONE) return 1;
  size_t f = a->features;
  if (f != b->features || memcmp(&a->eps, &b->eps, sizeof a->eps) != 0 ||
      memcmp(a->mean, b->mean, f * sizeof *a->mean) != 0)
    return 0;
  if (ka == DESCENT_PREPROCESS_STANDARDIZE)
    return memcmp(a->inv_std, b->inv_std, f * sizeof *a->inv_std) == 0;
  return memcmp(a->whiten, b->whiten, f * f * sizeof *a->whiten) == 0;
}

/* The data set and batching of the checkpoint against the trainer's. */
static int check_data_fit(const descent_trainer *t, const parsed *p, const char *name) {
  if (!t->train != !p->btch)
    return descent_fail(DESCENT_EINVAL, "%s was trained %s a data set; this trainer %s", name,
                        p->btch ? "over" : "without", t->train ? "has one" : "has none");
  if (!t->train) {
    if (p->steps_per_epoch != (uint64_t)t->o.steps_per_epoch)
      return descent_fail(DESCENT_EINVAL,
                          "%s was trained with %llu steps per epoch; this trainer's are %lld", name,
                          (unsigned long long)p->steps_per_epoch, (long long)t->o.steps_per_epoch);
    return DESCENT_OK;
  }
  if (!same_preprocess(t->o.preprocess, &p->pp))
    return descent_fail(
        DESCENT_EINVAL,
        "%s was trained on inputs preprocessed otherwise (%s) than this trainer's "
        "(%s, or fitted to other data)",
        name, descent_preprocess_name(p->pp.kind),
        descent_preprocess_name(t->o.preprocess ? t->o.preprocess->kind : DESCENT_PREPROCESS_NONE));
  if (p->n != t->train->n || p->features != t->train->features || p->labels_crc != t->labels_crc)
    return descent_fail(DESCENT_EINVAL,
                        "%s was trained on another data set (%llu examples of %llu features; "
                        "this one has %zu of %zu%s)",
                        name, (unsigned long long)p->n, (unsigned long long)p->features,
                        t->train->n, t->train->features,
                        p->n == t->train->n ? ", other labels" : "");
  if (p->batch_size != t->o.batch_size || (int)p->shuffle != t->batcher.shuffle)
    return descent_fail(DESCENT_EINVAL,
                        "%s was trained with batches of %llu; this trainer's are %zu", name,
                        (unsigned long long)p->batch_size, t->o.batch_size);
  return DESCENT_OK;
}

/* Does the checkpoint fit this trainer? */
static int check_fit(const descent_trainer *t, const parsed *p, const char *name,
                     const descent_section_reader *r) {
  const char *mine = sizeof(descent_real) == 8 ? "double" : "float";
  if (p->width != sizeof(descent_real))
    return descent_fail(DESCENT_EINVAL,
                        "%s was written by the %s build of descent; this is the %s build, and "
                        "resuming to the same bits needs the same precision",
                        name, p->width == 8 ? "double" : "float", mine);
  const descent_objective_ops *ops = t->obj->ops;
  const char *kind = ops->kind ? ops->kind : "";
  if (strcmp(p->kind, kind) != 0)
    return descent_fail(DESCENT_EINVAL,
                        "%s holds an objective of kind '%s'; this trainer's is '%s'", name, p->kind,
                        kind);
  /* A file from before OBJ: only an objective that checks its own sections
     can tell it is its own. */
  if (!p->obj && !ops->check_state)
    return descent_fail(DESCENT_EINVAL, "%s has no section 'OBJ ' naming its objective", name);
  /* The objective's own check first: it names what differs (a network's
     spec) rather than only a count. */
  descent_error_clear();
  int rc = ops->check_state ? ops->check_state(t->obj, r) : DESCENT_OK;
  if (rc) {
    rc = rc < 0 ? rc : DESCENT_EINVAL;
    if (descent_last_error()[0] == '\0')
      return descent_fail(rc, "%s: the objective (%s) refused it: %s", name, kind,
                          descent_strerror(rc));
    return rc;
  }
  if (p->n_params != t->obj->n_params)
    return descent_fail(DESCENT_ESHAPE, "%s holds %llu parameters; the objective has %zu", name,
                        (unsigned long long)p->n_params, t->obj->n_params);
  if ((rc = check_data_fit(t, p, name))) return rc;
  if ((int)p->full_batch != t->full_batch)
    return descent_fail(DESCENT_EINVAL, "%s was trained %s; this optimizer is %s", name,
                        p->full_batch ? "full batch" : "on minibatches",
                        t->full_batch ? "full batch" : "minibatch");
  if (p->epoch_batches > batches_per_epoch(p))
    return descent_fail(DESCENT_EFORMAT, "%s: %llu batches into an epoch of %zu", name,
                        (unsigned long long)p->epoch_batches, batches_per_epoch(p));
  return DESCENT_OK;
}

static int grow_history(descent_trainer *t, uint64_t count, const char *name) {
  if (count <= t->cap_history) return DESCENT_OK;
  size_t cap = (size_t)count;
  double *l = realloc(t->losses, cap * sizeof *l);
  if (l) t->losses = l;
  double *r = l ? realloc(t->lrs, cap * sizeof *r) : NULL;
  if (r) t->lrs = r;
  if (!l || !r) return descent_fail(DESCENT_ENOMEM, "%s: cannot allocate the loss history", name);
  t->cap_history = cap;
  return DESCENT_OK;
}

/* The optimizer's state, then the user's and the objective's sections: the
   optimizer's blob checks itself whole before it changes anything, and is
   put back when the user's hook refuses the file. */
static int restore_hooks(descent_trainer *t, const parsed *p, const char *name,
                         const descent_section_reader *r) {
  unsigned char *before = NULL;
  size_t before_size = 0;
  if (t->o.load_sections) {
    before_size = descent_optimizer_state_size(t->opt);
    before = descent_calloc(before_size ? before_size : 1, 1, "checkpoint: optimizer state");
    if (!before) return DESCENT_ENOMEM;
    int rc = descent_optimizer_save_state(t->opt, before, before_size);
    if (rc) {
      free(before);
      return rc;
    }
  }
  int rc = descent_optimizer_load_state(t->opt, p->opts->payload, p->opts->len);
  if (rc) descent_error_prefix("%s: ", name);
  if (!rc && t->o.load_sections) {
    descent_error_clear();
    rc = t->o.load_sections(t->o.user, r);
    if (rc) {
      rc = hook_failed(rc < 0 ? rc : DESCENT_EINVAL, "load_sections");
      char why[DESCENT_ERROR_CAP];
      snprintf(why, sizeof why, "%s", descent_last_error());
      descent_optimizer_load_state(t->opt, before, before_size); /* it took this blob before */
      descent_fail(rc, "%s: %s", name, why);
    }
  }
  free(before);
  if (!rc && t->obj->ops->load_state) rc = t->obj->ops->load_state(t->obj, r);
  return rc;
}

int checkpoint_restore(descent_trainer *t, const unsigned char *data, size_t len, const char *name,
                       int from_file) {
  parsed p;
  int rc = parse(data, len, name, &p);
  descent_section_reader reader = {p.sections, p.count, name};
  if (!rc && from_file) rc = check_identity(name, &p, &t->o.run_id);
  if (!rc) rc = check_fit(t, &p, name, &reader);
  if (!rc && t->o.tracker) rc = tracker_check_state(t->o.tracker, p.sections, p.count, name);
  /* Room for the history before anything changes. */
  if (!rc) rc = grow_history(t, p.history, name);
  if (!rc) rc = restore_hooks(t, &p, name, &reader);
  if (rc) {
    parsed_free(&p);
    return rc;
  }
  bytes_in in = {p.parm->payload + 8, p.parm->len - 8, 0, 0};
  in_reals(&in, t->obj->params, t->obj->n_params, p.width);
  descent_optimizer_set_lr_scale(t->opt, p.lr_scale);
  if (t->o.tracker) tracker_restore(t->o.tracker, p.sections, p.count);

  if (t->train) {
    descent_batcher *b = &t->batcher;
    b->rng = p.batcher_rng;
    b->position = (size_t)p.position;
    b->epoch = p.batcher_epoch;
    for (size_t i = 0; i < t->train->n; i++) b->order[i] = (size_t)le64(p.order + 8 * i);
  }

  t->epoch = p.epoch;
  t->epoch_batches = (size_t)p.epoch_batches;
  t->epoch_samples = (size_t)p.epoch_samples;
  t->epoch_loss_sum = p.loss_sum;
  t->epoch_seconds = 0; /* time is measured anew in each process */
  t->timed_samples = 0;
  t->epoch_lr = p.epoch_lr;
  t->first_loss = p.first_loss;
  t->rollbacks = (int)p.rollbacks;
  t->n_history = (size_t)p.history;
  for (size_t i = 0; i < t->n_history; i++) {
    t->losses[i] = f64_at(p.losses + 8 * i);
    t->lrs[i] = f64_at(p.losses + 8 * (t->n_history + i));
  }
  parsed_free(&p);
  return DESCENT_OK;
}

/* The step of a checkpoint's file name "ckpt-STEP.dsc", or -1. */
static int64_t name_step(const char *name);

/* A checkpoint file against its name (ckpt-STEP.dsc must hold STEP), its
   folder's run id (dir/run-id, when the folder has one) and, when `run` is
   not NULL and not zero, the run that loads it. Messages name both values. */
static int check_identity(const char *path, const parsed *p, const descent_run_id *run) {
  const char *slash = strrchr(path, '/');
  int64_t named = name_step(slash ? slash + 1 : path);
  if (named >= 0 && named != p->step)
    return descent_fail(DESCENT_EFORMAT, "%s holds step %lld, but its name says step %lld", path,
                        (long long)p->step, (long long)named);
  char dir[4096], mine[33], theirs[33];
  if (slash)
    snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
  else
    snprintf(dir, sizeof dir, ".");
  descent_run_id folder;
  int rc = descent_run_id_load(dir[0] ? dir : "/", &folder);
  if (rc < 0) return rc;
  descent_run_id_format(&p->run_id, theirs);
  if (rc == 0) {
    descent_run_id_format(&folder, mine);
    if (p->version < 2)
      return descent_fail(
          DESCENT_EINVAL,
          "%s is a version-1 checkpoint without a run id, but its folder belongs to run "
          "%s",
          path, mine);
    if (!checkpoint_run_id_equal(&folder, &p->run_id))
      return descent_fail(DESCENT_EINVAL,
                          "%s belongs to run %s, but its folder's run is %s (copied from another "
                          "run?)",
                          path, theirs, mine);
  }
  if (run && !descent_run_id_is_zero(run) && !checkpoint_run_id_equal(run, &p->run_id)) {
    descent_run_id_format(run, mine);
    if (p->version < 2)
      return descent_fail(DESCENT_EINVAL,
                          "%s is a version-1 checkpoint without a run id, but this run is %s", path,
                          mine);
    return descent_fail(DESCENT_EINVAL, "%s belongs to run %s, but this run is %s", path, theirs,
                        mine);
  }
  descent_error_clear();
  return DESCENT_OK;
}

/* ---- inspection without a trainer ---------------------------------------------- */

int descent_checkpoint_inspect(const char *path, descent_checkpoint_info *info) {
  descent_error_clear();
  if (!path || !info)
    return descent_fail(DESCENT_EINVAL, "descent_checkpoint_inspect: a NULL argument");
  memset(info, 0, sizeof *info);
  unsigned char *data;
  size_t len;
  int rc = descent_read_file(path, CHECKPOINT_MAX_BYTES, &data, &len);
  if (rc) return rc;
  parsed p;
  rc = parse(data, len, path, &p);
  if (!rc && p.epoch_batches > batches_per_epoch(&p))
    rc = descent_fail(DESCENT_EFORMAT, "%s: %llu batches into an epoch of %zu", path,
                      (unsigned long long)p.epoch_batches, batches_per_epoch(&p));
  if (!rc) rc = check_identity(path, &p, NULL);
  if (!rc) {
    info->config = descent_calloc(p.conf->len + 1, 1, "checkpoint: configuration");
    info->optimizer_state = descent_calloc(p.opts->len, 1, "checkpoint: optimizer state");
    info->kind = descent_calloc(strlen(p.kind) + 1, 1, "checkpoint: kind");
    if (!p.net.spec) p.net.spec = descent_calloc(1, 1, "checkpoint: spec");
    if (!info->config || !info->optimizer_state || !info->kind || !p.net.spec) rc = DESCENT_ENOMEM;
  }
  if (rc) {
    free(info->config);
    free(info->optimizer_state);
    free(info->kind);
    memset(info, 0, sizeof *info);
    parsed_free(&p);
    free(data);
    return rc;
  }
  memcpy(info->config, p.conf->payload, p.conf->len);
  memcpy(info->kind, p.kind, strlen(p.kind));
  memcpy(info->optimizer_state, p.opts->payload, p.opts->len);
  info->optimizer_state_size = p.opts->len;
  info->step = p.step;
  info->epoch = p.epoch;
  info->batch = (size_t)p.epoch_batches;
  info->batches = batches_per_epoch(&p);
  info->width = p.width;
  info->version = p.version;
  info->run_id = p.run_id;
  info->spec = p.net.spec;
  info->input = p.net.input;
  info->loss = p.net.loss;
  info->preprocess = p.pp;
  info->n_params = (size_t)p.n_params;
  info->has_data = p.btch != NULL;
  free(data);
  return DESCENT_OK;
}

void descent_checkpoint_info_free(descent_checkpoint_info *info) {
  if (!info) return;
  free(info->spec);
  free(info->config);
  free(info->optimizer_state);
  free(info->kind);
  descent_preprocess_free(&info->preprocess);
  memset(info, 0, sizeof *info);
}

/* ---- the folder ----------------------------------------------------------------- */

/* The step of a checkpoint's file name "ckpt-STEP.dsc", or -1. */
static int64_t name_step(const char *name) {
  if (strncmp(name, "ckpt-", 5) != 0) return -1;
  const char *p = name + 5;
  int64_t step = 0;
  int digits = 0;
  for (; *p >= '0' && *p <= '9'; p++, digits++) {
    if (digits == 18) return -1;
    step = step * 10 + (*p - '0');
  }
  if (digits == 0 || strcmp(p, ".dsc") != 0) return -1;
  return step;
}

static int compare_desc(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x < y) - (x > y);
}

/* The steps of the folder's checkpoints, newest first. */
static int list_steps(const char *dir, int64_t **steps, size_t *count) {
  *steps = NULL;
  *count = 0;
  DIR *d = opendir(dir);
  if (!d) return descent_fail(DESCENT_EIO, "cannot open the folder '%s': %s", dir, strerror(errno));
  size_t cap = 0;
  int rc = DESCENT_OK;
  for (struct dirent *e; (e = readdir(d));) {
    int64_t step = name_step(e->d_name);
    if (step < 0) continue;
    if (*count == cap) {
      cap = cap ? 2 * cap : 16;
      int64_t *grown = realloc(*steps, cap * sizeof *grown);
      if (!grown) {
        rc = descent_fail(DESCENT_ENOMEM, "cannot list '%s'", dir);
        break;
      }
      *steps = grown;
    }
    (*steps)[(*count)++] = step;
  }
  closedir(d);
  if (rc) {
    free(*steps);
    *steps = NULL;
    *count = 0;
    return rc;
  }
  if (*count) qsort(*steps, *count, sizeof **steps, compare_desc);
  return DESCENT_OK;
}

static void checkpoint_path(const char *dir, int64_t step, char *path, size_t cap) {
  snprintf(path, cap, "%s/ckpt-%lld.dsc", dir, (long long)step);
}

/* 1 when path is a valid checkpoint of t's run (its id, or none for a run
   without one) that this program reads: only such files are ever deleted or
   replaced. A newer version, a damaged file or another run's stays where it
   is. When it is not, why is left in why (when not NULL). */
static int own_checkpoint(const descent_trainer *t, const char *path, char *why, size_t cap) {
  unsigned char *data;
  size_t len;
  int own = 0;
  if (!descent_read_file(path, CHECKPOINT_MAX_BYTES, &data, &len)) {
    parsed p;
    int rc = parse(data, len, path, &p);
    if (!rc) rc = check_identity(path, &p, &t->o.run_id);
    own = !rc && memcmp(p.run_id.bytes, t->o.run_id.bytes, sizeof p.run_id.bytes) == 0;
    if (!rc && !own) {
      char theirs[33];
      descent_run_id_format(&p.run_id, theirs);
      descent_fail(DESCENT_EINVAL, "%s belongs to run %s, and this run has no id", path, theirs);
    }
    parsed_free(&p);
    free(data);
  }
  if (!own && why) snprintf(why, cap, "%s", descent_last_error());
  return own;
}

/* A file already at the path of the checkpoint about to be written is
   replaced only when it is a checkpoint of this run: anything else (another
   run's file, a damaged one, a newer version that --resume skipped) stays,
   and the write is refused. */
static int check_target(const descent_trainer *t, const char *path) {
  struct stat st;
  if (lstat(path, &st) != 0) return DESCENT_OK;
  char why[2048];
  if (S_ISREG(st.st_mode) && own_checkpoint(t, path, why, sizeof why)) return DESCENT_OK;
  if (!S_ISREG(st.st_mode)) snprintf(why, sizeof why, "not a regular file");
  return descent_fail(DESCENT_EIO,
                      "%s: not overwritten: it is not a checkpoint of this run (%s); move it out "
                      "of the folder and resume again",
                      path, why);
}

int checkpoint_write(descent_trainer *t, const unsigned char *data, size_t len, int64_t step,
                     int prune) {
  char path[4096];
  checkpoint_path(t->dir, step, path, sizeof path);
  int rc = check_target(t, path);
  if (!rc) rc = descent_write_file_atomic(path, data, len);
  if (rc) return rc;
  snprintf(t->last_checkpoint, sizeof t->last_checkpoint, "%s", path);
  if (!prune) {
    descent_error_clear();
    return DESCENT_OK;
  }
  /* The new file is durable: now the oldest beyond `keep` may go. Files of
     later steps than this one (left by a run that was resumed from an older
     checkpoint) are not counted and not touched. */
  int64_t *steps;
  size_t count;
  if (list_steps(t->dir, &steps, &count)) {
    descent_error_clear();
    return DESCENT_OK; /* pruning is housekeeping; the checkpoint is written */
  }
  int kept = 0, removed = 0;
  for (size_t i = 0; i < count; i++) {
    if (steps[i] > step) continue;
    if (kept < t->o.keep) {
      kept++;
      continue;
    }
    char old[4096];
    checkpoint_path(t->dir, steps[i], old, sizeof old);
    if (own_checkpoint(t, old, NULL, 0) && unlink(old) == 0) removed++;
  }
  free(steps);
  if (removed) descent_fsync_dir(path);
  descent_error_clear();
  return DESCENT_OK;
}

void checkpoint_remove_after(const descent_trainer *t, int64_t step) {
  const char *dir = t->dir;
  int64_t *steps;
  size_t count;
  if (list_steps(dir, &steps, &count)) {
    descent_error_clear();
    return;
  }
  int removed = 0;
  char path[4096];
  for (size_t i = 0; i < count && steps[i] > step; i++) {
    checkpoint_path(dir, steps[i], path, sizeof path);
    removed += own_checkpoint(t, path, NULL, 0) && unlink(path) == 0;
  }
  free(steps);
  if (removed) descent_fsync_dir(path);
  descent_error_clear();
}

void checkpoint_remove_temporaries(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return;
  char path[4096];
  for (struct dirent *e; (e = readdir(d));) {
    if (strncmp(e->d_name, "ckpt-", 5) != 0 || !strstr(e->d_name, ".dsc.tmp.")) continue;
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    unlink(path);
  }
  closedir(d);
}

int descent_checkpoint_find(const char *dir, char *path, size_t path_cap, char *skipped,
                            size_t skipped_cap) {
  descent_error_clear();
  if (!dir || !path || path_cap == 0)
    return descent_fail(DESCENT_EINVAL, "descent_checkpoint_find: a NULL argument");
  path[0] = '\0';
  if (skipped && skipped_cap) skipped[0] = '\0';
  int64_t *steps;
  size_t count;
  int rc = list_steps(dir, &steps, &count);
  if (rc) return rc;
  if (count == 0) return descent_fail(DESCENT_EIO, "no checkpoint (ckpt-STEP.dsc) in '%s'", dir);
  /* The reasons, one a line for `skipped` (a message holds no newline but
     may hold "; "), and on one line for the message when none is valid. */
  char reasons[4096] = "", line[4096] = "";
  size_t used = 0, line_used = 0;
  for (size_t i = 0; i < count; i++) {
    char candidate[4096];
    checkpoint_path(dir, steps[i], candidate, sizeof candidate);
    descent_checkpoint_info info;
    rc = descent_checkpoint_inspect(candidate, &info);
    if (rc == DESCENT_ENOTSUP) { /* from a newer descent: resuming past it would destroy it */
      char why[1024];
      snprintf(why, sizeof why, "%s", descent_last_error());
      free(steps);
      return descent_fail(DESCENT_ENOTSUP,
                          "%s; '%s' is a run of a newer descent: continue it with that version",
                          why, dir);
    }
    if (rc == DESCENT_OK) {
      descent_checkpoint_info_free(&info);
      snprintf(path, path_cap, "%s", candidate);
      if (skipped && skipped_cap) snprintf(skipped, skipped_cap, "%s", reasons);
      free(steps);
      descent_error_clear();
      return DESCENT_OK;
    }
    if (used < sizeof reasons)
      used += (size_t)snprintf(reasons + used, sizeof reasons - used, "%s%s", used ? "\n" : "",
                               descent_last_error());
    if (line_used < sizeof line)
      line_used += (size_t)snprintf(line + line_used, sizeof line - line_used, "%s%s",
                                    line_used ? "; " : "", descent_last_error());
  }
  free(steps);
  if (skipped && skipped_cap) snprintf(skipped, skipped_cap, "%s", reasons);
  return descent_fail(DESCENT_EFORMAT, "no valid checkpoint in '%s': %s", dir, line);
}
