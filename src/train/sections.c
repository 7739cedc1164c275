/*
 * sections.c - the section writer and reader that checkpoint hooks use
 * (descent_section_put, descent_section_get): an objective's or a user's own
 * state as tagged sections of a checkpoint file, beside the trainer's.
 *
 * It also builds a whole checkpoint (checkpoint_serialize): the trainer's
 * sections, the objective's and the user's.
 *
 * The writer appends to the checkpoint being built and remembers every tag
 * in the file, so a hook can neither repeat a tag nor take one of the
 * trainer's (a reader would then refuse the file as having it twice).
 */
#include "trainer_internal.h"

#include "tracker.h"

#include <stdlib.h>
#include <string.h>

/* The trainer's own sections; hooks may not use these tags. */
static const char *const reserved[] = {"OBJ ", "PARM", "PREP", "CKPT", "OPTS",
                                       "BTCH", "EPOC", "LOSS", "CONF", "TRAK"};

static int tag_known(const descent_section_writer *w, const char *tag) {
  for (int i = 0; i < w->count; i++)
    if (memcmp(w->tags[i], tag, 4) == 0) return 1;
  return 0;
}

static int check_tag(const descent_section_writer *w, const char *tag, int own) {
  if (!tag) return descent_fail(DESCENT_EINVAL, "checkpoint section: the tag is NULL");
  for (int i = 0; i < 4; i++)
    if (tag[i] < 32 || tag[i] > 126)
      return descent_fail(DESCENT_EINVAL,
                          "checkpoint section tag: byte %d is not printable ASCII (a tag is 4 "
                          "characters, e.g. \"MYST\" or \"EMA \")",
                          i);
  if (!own)
    for (size_t i = 0; i < sizeof reserved / sizeof *reserved; i++)
      if (memcmp(reserved[i], tag, 4) == 0)
        return descent_fail(DESCENT_EINVAL,
                            "checkpoint section '%.4s' is the trainer's own: choose another tag",
                            tag);
  if (tag_known(w, tag))
    return descent_fail(DESCENT_EINVAL,
                        "checkpoint section '%.4s' is already in the file: each tag once", tag);
  if (w->count >= MODEL_MAX_SECTIONS)
    return descent_fail(DESCENT_ERANGE, "checkpoint: more than %d sections in one file",
                        MODEL_MAX_SECTIONS);
  return DESCENT_OK;
}

size_t writer_begin(descent_section_writer *w, const char *tag) {
  if (w->count < MODEL_MAX_SECTIONS) memcpy(w->tags[w->count++], tag, 4);
  return section_begin(w->out, tag);
}

int descent_section_put(descent_section_writer *w, const char *tag, const void *data, size_t len) {
  if (!w || (!data && len))
    return descent_fail(DESCENT_EINVAL, "descent_section_put: a NULL argument");
  int rc = check_tag(w, tag, 0);
  if (rc) return rc;
  size_t s = writer_begin(w, tag);
  out_bytes(w->out, data, len);
  section_end(w->out, s);
  if (w->out->failed)
    return descent_fail_alloc("checkpoint: a section's buffer", w->out->len + len);
  return DESCENT_OK;
}

int descent_section_get(const descent_section_reader *r, const char *tag, const void **data,
                        size_t *len) {
  if (!r || !tag || !data || !len)
    return descent_fail(DESCENT_EINVAL, "descent_section_get: a NULL argument");
  char t[5] = {0};
  memcpy(t, tag, strnlen(tag, 4));
  const model_section *s = model_section_find(r->sections, r->count, t, r->name);
  if (!s) return DESCENT_EFORMAT;
  *data = s->payload;
  *len = s->len;
  return DESCENT_OK;
}

const char *descent_section_source(const descent_section_reader *r) {
  return r ? r->name : "";
}

/* ---- the whole checkpoint ------------------------------------------------------ */

static void put_obj(descent_section_writer *w, const descent_objective *obj) {
  bytes_out *o = w->out;
  const char *kind = obj->ops->kind ? obj->ops->kind : "";
  size_t s = writer_begin(w, "OBJ ");
  out_u32(o, (uint32_t)strlen(kind));
  out_bytes(o, kind, strlen(kind));
  out_u64(o, obj->n_params);
  out_u32(o, (uint32_t)sizeof(descent_real));
  section_end(o, s);
  s = writer_begin(w, "PARM");
  out_u64(o, obj->n_params);
  out_reals(o, obj->params, obj->n_params, sizeof(descent_real));
  section_end(o, s);
}

static void put_ckpt(descent_section_writer *w, const descent_trainer *t) {
  bytes_out *o = w->out;
  size_t s = writer_begin(w, "CKPT");
  out_u32(o, CHECKPOINT_VERSION);
  out_u32(o, (uint32_t)sizeof(descent_real));
  out_u64(o, (uint64_t)descent_optimizer_steps(t->opt));
  out_u64(o, (uint64_t)t->epoch);
  out_u64(o, t->epoch_batches);
  out_u64(o, t->epoch_samples);
  out_f64(o, t->epoch_loss_sum);
  out_f64(o, t->epoch_lr);
  out_f64(o, t->first_loss);
  out_f64(o, descent_optimizer_lr_scale(t->opt));
  out_u32(o, (uint32_t)t->rollbacks);
  out_u32(o, (uint32_t)t->full_batch);
  out_bytes(o, t->o.run_id.bytes, sizeof t->o.run_id.bytes);
  section_end(o, s);

  s = writer_begin(w, "OPTS");
  size_t size = descent_optimizer_state_size(t->opt);
  unsigned char *blob = malloc(size);
  if (!blob || descent_optimizer_save_state(t->opt, blob, size) != DESCENT_OK)
    o->failed = 1;
  else
    out_bytes(o, blob, size);
  free(blob);
  section_end(o, s);
}

/* Where the data stands: the batcher, or the epoch's length without data. */
static void put_data(descent_section_writer *w, const descent_trainer *t) {
  bytes_out *o = w->out;
  if (!t->train) {
    size_t s = writer_begin(w, "EPOC");
    out_u64(o, (uint64_t)t->o.steps_per_epoch);
    section_end(o, s);
    return;
  }
  const descent_batcher *b = &t->batcher;
  size_t s = writer_begin(w, "BTCH");
  out_u64(o, t->train->n);
  out_u64(o, t->train->features);
  out_u32(o, t->labels_crc);
  out_u64(o, b->batch_size);
  out_u32(o, (uint32_t)b->shuffle);
  for (int i = 0; i < 4; i++) out_u64(o, b->rng.s[i]);
  out_u64(o, b->position);
  out_u64(o, (uint64_t)b->epoch);
  for (size_t i = 0; i < t->train->n; i++) out_u64(o, b->order[i]);
  section_end(o, s);
}

int checkpoint_serialize(const descent_trainer *t, bytes_out *o) {
  descent_section_writer w = {.out = o};
  out_bytes(o, MODEL_MAGIC, 8);
  out_u32(o, MODEL_VERSION);
  out_u32(o, 0); /* section count, filled in by model_file_finish */
  int rc = DESCENT_OK;
  put_obj(&w, t->obj);
  if (t->obj->ops->save_state) rc = t->obj->ops->save_state(t->obj, &w);
  if (rc) return rc;
  if (t->train) {
    size_t s = writer_begin(&w, "PREP");
    model_preprocess_payload(o, t->o.preprocess, t->train->features);
    section_end(o, s);
  }
  put_ckpt(&w, t);
  put_data(&w, t);

  size_t s = writer_begin(&w, "LOSS");
  out_u64(o, t->n_history);
  for (size_t i = 0; i < t->n_history; i++) out_f64(o, t->losses[i]);
  for (size_t i = 0; i < t->n_history; i++) out_f64(o, t->lrs[i]);
  section_end(o, s);

  s = writer_begin(&w, "CONF");
  out_bytes(o, t->config, strlen(t->config));
  section_end(o, s);

  if (t->o.tracker) {
    s = writer_begin(&w, "TRAK");
    tracker_put(t->o.tracker, o);
    section_end(o, s);
  }

  if (!o->failed && t->o.save_sections) {
    descent_error_clear();
    rc = t->o.save_sections(t->o.user, &w);
    if (rc) rc = hook_failed(rc < 0 ? rc : DESCENT_EINVAL, "save_sections");
  }
  if (!rc && o->failed) rc = descent_fail_alloc("trainer: a checkpoint's buffer", o->len + 1);
  model_file_finish(o);
  return rc;
}
