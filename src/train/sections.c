/*
 * sections.c - the section writer and reader that checkpoint hooks use
 * (descent_section_put, descent_section_get): an objective's or a user's own
 * state as tagged sections of a checkpoint file, beside the trainer's.
 *
 * The writer appends to the checkpoint being built and remembers every tag
 * in the file, so a hook can neither repeat a tag nor take one of the
 * trainer's (a reader would then refuse the file as having it twice).
 */
#include "trainer_internal.h"

#include <string.h>

/* The trainer's own sections; hooks may not use these tags. */
static const char *const reserved[] = {"OBJ ", "PARM", "PREP", "CKPT", "OPTS",
                                       "BTCH", "EPOC", "LOSS", "CONF"};

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
    return descent_fail(DESCENT_ENOMEM, "checkpoint: no memory for section '%.4s' (%zu bytes)", tag,
                        len);
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
