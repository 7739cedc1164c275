/*
 * model_io.c - saving and loading a trained model: the network (spec, input
 * shape, loss), its parameters, its buffers (batch-norm statistics), the
 * dropout RNG and the input preprocessing, in the format model_io.h
 * describes.
 *
 * Saving builds the whole file in memory and writes it atomically
 * (descent_write_file_atomic: temporary file, fsync, rename, fsync of the
 * folder). Loading reads the file once, checks the header and every section's
 * length and CRC, then each field's range, the parameter count the spec
 * implies and every stored value (finite; batch-norm variances not negative;
 * preprocessing constants finite) before it builds anything; every message
 * names the file, the tensor and the problem.
 */
#include "model_io.h"

#include "network_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* Files larger than this are refused before they are read. */
#define MODEL_MAX_BYTES ((size_t)1 << 36)

/* ---- writing ------------------------------------------------------------------ */

void out_bytes(bytes_out *o, const void *p, size_t n) {
  if (o->failed) return;
  if (n > o->cap - o->len) {
    size_t cap = o->cap ? o->cap : 4096;
    while (cap - o->len < n) {
      if (cap > ((size_t)-1) / 2) {
        o->failed = 1;
        return;
      }
      cap *= 2;
    }
    unsigned char *grown = realloc(o->data, cap);
    if (!grown) {
      o->failed = 1;
      return;
    }
    o->data = grown, o->cap = cap;
  }
  memcpy(o->data + o->len, p, n);
  o->len += n;
}

static void put_le(unsigned char *b, uint64_t v, int n) {
  for (int i = 0; i < n; i++) b[i] = (unsigned char)(v >> (8 * i));
}

void out_u32(bytes_out *o, uint32_t v) {
  unsigned char b[4];
  put_le(b, v, 4);
  out_bytes(o, b, 4);
}

void out_u64(bytes_out *o, uint64_t v) {
  unsigned char b[8];
  put_le(b, v, 8);
  out_bytes(o, b, 8);
}

void out_f64(bytes_out *o, double v) {
  uint64_t bits;
  memcpy(&bits, &v, 8);
  out_u64(o, bits);
}

void out_reals(bytes_out *o, const descent_real *v, size_t n, unsigned width) {
  for (size_t i = 0; i < n; i++) {
    if (width == 8) {
      out_f64(o, (double)v[i]);
    } else {
      float f = (float)v[i];
      uint32_t bits;
      memcpy(&bits, &f, 4);
      out_u32(o, bits);
    }
  }
}

size_t section_begin(bytes_out *o, const char tag[4]) {
  size_t start = o->len;
  out_bytes(o, tag, 4);
  out_u64(o, 0); /* the length, filled in by section_end */
  return start;
}

void section_end(bytes_out *o, size_t start) {
  if (o->failed) return;
  size_t payload = o->len - start - 12;
  put_le(o->data + start + 4, payload, 8);
  uLong crc = crc32(0L, Z_NULL, 0);
  for (size_t done = 0; done < o->len - start;) { /* crc32 takes uInt lengths */
    size_t chunk = o->len - start - done < (1u << 30) ? o->len - start - done : (1u << 30);
    crc = crc32(crc, o->data + start + done, (uInt)chunk);
    done += chunk;
  }
  out_u32(o, (uint32_t)crc);
}

/* The payloads of the sections, each written by model_write and, for
   checkpoints, by the network's hooks or the trainer. */
static void net_payload(bytes_out *o, const descent_net *net) {
  size_t spec_len = strlen(net->spec);
  out_u32(o, (uint32_t)spec_len);
  out_bytes(o, net->spec, spec_len);
  out_u32(o, (uint32_t)net->input.ndim);
  for (int i = 0; i < net->input.ndim; i++) out_u64(o, net->input.dims[i]);
  out_u32(o, (uint32_t)net->loss);
  out_u32(o, (uint32_t)sizeof(descent_real));
}

static void buffers_payload(bytes_out *o, const descent_net *net) {
  out_u64(o, net->n_buffers);
  out_reals(o, net->buffers, net->n_buffers, sizeof(descent_real));
}

static void rng_payload(bytes_out *o, const descent_net *net) {
  for (int i = 0; i < 4; i++) out_u64(o, net->rng.s[i]);
}

void model_preprocess_payload(bytes_out *o, const descent_preprocess *pp, size_t f) {
  const unsigned width = sizeof(descent_real);
  descent_preprocess_kind kind = pp ? pp->kind : DESCENT_PREPROCESS_NONE;
  out_u32(o, (uint32_t)kind);
  out_u64(o, f);
  out_f64(o, pp ? pp->eps : 0);
  if (kind != DESCENT_PREPROCESS_NONE) out_reals(o, pp->mean, f, width);
  if (kind == DESCENT_PREPROCESS_STANDARDIZE) out_reals(o, pp->inv_std, f, width);
  if (kind == DESCENT_PREPROCESS_PCA || kind == DESCENT_PREPROCESS_ZCA)
    out_reals(o, pp->whiten, f * f, width);
}

void model_write(bytes_out *o, const descent_net *net, const descent_preprocess *pp) {
  const unsigned width = sizeof(descent_real);
  out_bytes(o, MODEL_MAGIC, 8);
  out_u32(o, MODEL_VERSION);
  out_u32(o, 0); /* section count, filled in by model_file_finish */

  size_t s = section_begin(o, "NET ");
  net_payload(o, net);
  section_end(o, s);

  s = section_begin(o, "PARM");
  out_u64(o, net->objective.n_params);
  out_reals(o, net->objective.params, net->objective.n_params, width);
  section_end(o, s);

  s = section_begin(o, "BUFF");
  buffers_payload(o, net);
  section_end(o, s);

  s = section_begin(o, "PREP");
  model_preprocess_payload(o, pp, net->input_size);
  section_end(o, s);

  s = section_begin(o, "RNG ");
  rng_payload(o, net);
  section_end(o, s);
}

void model_file_finish(bytes_out *o) {
  if (o->failed || o->len < 16) return;
  uint32_t count = 0;
  for (size_t at = 16; at + 12 <= o->len; count++) {
    uint64_t len = 0;
    for (int i = 7; i >= 0; i--) len = len << 8 | o->data[at + 4 + (size_t)i];
    at += 12 + (size_t)len + 4;
  }
  put_le(o->data + 12, count, 4);
}

int descent_net_save(const descent_net *net, const descent_preprocess *pp, const char *path) {
  descent_error_clear();
  if (!net || !path) return descent_fail(DESCENT_EINVAL, "descent_net_save: net or path is NULL");
  if (pp && pp->kind != DESCENT_PREPROCESS_NONE && pp->features != net->input_size)
    return descent_fail(DESCENT_ESHAPE,
                        "%s: the preprocessing was fitted on %zu features, the network takes %zu",
                        path, pp->features, net->input_size);
  bytes_out o = {0};
  model_write(&o, net, pp);
  model_file_finish(&o);
  int rc = o.failed ? descent_fail(DESCENT_ENOMEM, "%s: cannot build the file in memory", path)
                    : descent_write_file_atomic(path, o.data, o.len);
  free(o.data);
  return rc;
}

/* ---- reading ------------------------------------------------------------------ */

static uint64_t get_le(const unsigned char *b, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; i--) v = v << 8 | b[i];
  return v;
}

static const unsigned char *take(bytes_in *in, size_t n) {
  if (in->failed || n > in->len - in->pos) {
    in->failed = 1;
    return NULL;
  }
  const unsigned char *p = in->data + in->pos;
  in->pos += n;
  return p;
}

uint32_t in_u32(bytes_in *in) {
  const unsigned char *p = take(in, 4);
  return p ? (uint32_t)get_le(p, 4) : 0;
}

uint64_t in_u64(bytes_in *in) {
  const unsigned char *p = take(in, 8);
  return p ? get_le(p, 8) : 0;
}

double in_f64(bytes_in *in) {
  uint64_t bits = in_u64(in);
  double v;
  memcpy(&v, &bits, 8);
  return v;
}

void in_reals(bytes_in *in, descent_real *v, size_t n, unsigned width) {
  for (size_t i = 0; i < n; i++) {
    if (width == 8) {
      v[i] = (descent_real)in_f64(in);
    } else {
      uint32_t bits = in_u32(in);
      float f;
      memcpy(&f, &bits, 4);
      v[i] = (descent_real)f;
    }
  }
}

int model_file_sections(const unsigned char *data, size_t len, const char *name,
                        model_section *sections, size_t *count) {
  if (len < 16)
    return descent_fail(DESCENT_EFORMAT,
                        "%s: file truncated: %zu bytes, a model file has at "
                        "least 16",
                        name, len);
  if (memcmp(data, MODEL_MAGIC, 8) != 0)
    return descent_fail(DESCENT_EFORMAT,
                        "%s: not a descent model file (the first 8 bytes are not \"%s\")", name,
                        MODEL_MAGIC);
  uint32_t version = (uint32_t)get_le(data + 8, 4), n = (uint32_t)get_le(data + 12, 4);
  /* A newer file is refused as such (DESCENT_ENOTSUP), not as damage: a
     folder holding one is not resumed past it, so it is never overwritten. */
  if (version > MODEL_VERSION)
    return descent_fail(DESCENT_ENOTSUP,
                        "%s: format version %u; this descent reads version %u (the file comes "
                        "from a newer descent)",
                        name, version, MODEL_VERSION);
  if (version != MODEL_VERSION)
    return descent_fail(DESCENT_EFORMAT, "%s: format version %u; this descent reads version %u",
                        name, version, MODEL_VERSION);
  if (n == 0 || n > MODEL_MAX_SECTIONS)
    return descent_fail(DESCENT_EFORMAT, "%s: %u sections declared; valid: 1 to %d", name, n,
                        MODEL_MAX_SECTIONS);
  size_t at = 16;
  for (uint32_t i = 0; i < n; i++) {
    if (len - at < 16)
      return descent_fail(DESCENT_EFORMAT,
                          "%s: file truncated: section %u of %u starts at byte %zu, the file "
                          "ends at %zu",
                          name, i + 1, n, at, len);
    uint64_t payload = get_le(data + at + 4, 8);
    model_section *s = &sections[i];
    memcpy(s->tag, data + at, 4);
    s->tag[4] = '\0';
    for (int j = 0; j < 4; j++)
      if (s->tag[j] < 32 || s->tag[j] > 126) s->tag[j] = '?';
    if (payload > len - at - 16)
      return descent_fail(DESCENT_EFORMAT,
                          "%s: file truncated: section '%s' declares %llu bytes, %zu remain", name,
                          s->tag, (unsigned long long)payload, len - at - 16);
    uLong crc = crc32(0L, Z_NULL, 0);
    for (size_t done = 0; done < 12 + payload;) {
      size_t chunk = 12 + payload - done < (1u << 30) ? 12 + payload - done : (1u << 30);
      crc = crc32(crc, data + at + done, (uInt)chunk);
      done += chunk;
    }
    uint32_t stored = (uint32_t)get_le(data + at + 12 + payload, 4);
    if ((uint32_t)crc != stored)
      return descent_fail(DESCENT_EFORMAT,
                          "%s: section '%s' is corrupted (CRC-32 %08x, stored %08x)", name, s->tag,
                          (unsigned)crc, (unsigned)stored);
    s->payload = data + at + 12;
    s->len = (size_t)payload;
    at += 16 + (size_t)payload;
  }
  if (at != len)
    return descent_fail(DESCENT_EFORMAT, "%s: %zu unexpected bytes after the last section", name,
                        len - at);
  *count = n;
  return DESCENT_OK;
}

/* The one section with this tag: NULL (and a message) if it is missing or
   repeated. */
static const model_section *find(const model_section *s, size_t count, const char *tag,
                                 const char *name) {
  const model_section *found = NULL;
  for (size_t i = 0; i < count; i++) {
    if (memcmp(s[i].tag, tag, 4) != 0) continue;
    if (found) {
      descent_fail(DESCENT_EFORMAT, "%s: section '%s' appears twice", name, tag);
      return NULL;
    }
    found = &s[i];
  }
  if (!found) descent_fail(DESCENT_EFORMAT, "%s: section '%s' is missing", name, tag);
  return found;
}

static int read_net_header(const model_section *s, const char *name, net_header *h) {
  bytes_in in = {s->payload, s->len, 0, 0};
  uint32_t spec_len = in_u32(&in);
  const unsigned char *spec = take(&in, spec_len);
  uint32_t ndim = in_u32(&in);
  if (in.failed || ndim < 1 || ndim > DESCENT_MAX_DIMS)
    return descent_fail(DESCENT_EFORMAT, "%s: section 'NET ': %s", name,
                        in.failed ? "too short" : "input shape must have 1 to 4 dimensions");
  h->input.ndim = (int)ndim;
  size_t size = 1;
  for (uint32_t i = 0; i < ndim; i++) {
    uint64_t d = in_u64(&in);
    if (d == 0 || d > ((size_t)1 << 31) || !descent_mul_ok(size, (size_t)d, &size) ||
        size > ((size_t)1 << 31))
      return descent_fail(DESCENT_EFORMAT, "%s: section 'NET ': input dimension %llu out of range",
                          name, (unsigned long long)d);
    h->input.dims[i] = (size_t)d;
  }
  uint32_t loss = in_u32(&in), width = in_u32(&in);
  if (in.failed || in.pos != in.len)
    return descent_fail(DESCENT_EFORMAT, "%s: section 'NET ' has the wrong length", name);
  if (loss > DESCENT_LOSS_MSE)
    return descent_fail(DESCENT_EFORMAT, "%s: unknown loss %u", name, loss);
  if (width != 4 && width != 8)
    return descent_fail(DESCENT_EFORMAT, "%s: numbers of %u bytes; valid: 4 or 8", name, width);
  for (uint32_t i = 0; i < spec_len; i++)
    if (spec[i] == '\0')
      return descent_fail(DESCENT_EFORMAT, "%s: the model spec holds a NUL byte", name);
  h->spec = descent_calloc((size_t)spec_len + 1, 1, "model spec");
  if (!h->spec) return DESCENT_ENOMEM;
  memcpy(h->spec, spec, spec_len);
  h->loss = (descent_loss_kind)loss;
  h->width = width;
  return DESCENT_OK;
}

/* A PARM or BUFF section: a count that must be `want`, then the values. */
static int read_values(const model_section *s, const char *name, unsigned width, size_t want,
                       descent_real *out, const char *what) {
  bytes_in in = {s->payload, s->len, 0, 0};
  uint64_t count = in_u64(&in);
  if (in.failed || count > (s->len - 8) / width || 8 + count * width != s->len)
    return descent_fail(DESCENT_EFORMAT, "%s: section '%s' has the wrong length for its count",
                        name, s->tag);
  if (count != want)
    return descent_fail(DESCENT_ESHAPE,
                        "%s: %llu %s stored, but the saved spec builds a network with %zu", name,
                        (unsigned long long)count, what, want);
  in_reals(&in, out, want, width);
  return DESCENT_OK;
}

/* A PARM or BUFF section's count, checked against the section's length. */
static int stored_count(const model_section *s, const char *name, unsigned width, uint64_t *count) {
  bytes_in in = {s->payload, s->len, 0, 0};
  *count = in_u64(&in);
  if (in.failed || *count > (s->len - 8) / width || 8 + *count * width != s->len)
    return descent_fail(DESCENT_EFORMAT, "%s: section '%s' has the wrong length for its count",
                        name, s->tag);
  return DESCENT_OK;
}

/* Checks the values of each tensor in table, stored from byte 8 of s: every
   one finite once read at this build's precision (an F64 value beyond the
   float range is not), and a batch-norm running variance not negative. */
static int check_tensors(const model_section *s, const char *name, unsigned width,
                         const descent_tensor_info *table, size_t n, const char *what) {
  for (size_t i = 0; i < n; i++) {
    const descent_tensor_info *t = &table[i];
    bytes_in in = {s->payload + 8 + t->offset * width, t->size * width, 0, 0};
    size_t len = strlen(t->name);
    int variance = len > 12 && strcmp(t->name + len - 12, ".running_var") == 0;
    for (size_t j = 0; j < t->size; j++) {
      descent_real v;
      in_reals(&in, &v, 1, width);
      if (!isfinite(v))
        return descent_fail(DESCENT_EFORMAT,
                            "%s: %s '%s' holds a non-finite value (%g at element %zu): the model "
                            "diverged or the file is damaged; use an earlier checkpoint",
                            name, what, t->name, (double)v, j);
      if (variance && v < 0)
        return descent_fail(DESCENT_EFORMAT,
                            "%s: %s '%s' holds a negative variance (%g at element %zu)", name, what,
                            t->name, (double)v, j);
    }
  }
  return DESCENT_OK;
}

int model_check_stored(const net_header *h, const model_section *parm, const model_section *buff,
                       const char *name) {
  uint64_t n_params, n_buffers;
  int rc = stored_count(parm, name, h->width, &n_params);
  if (!rc) rc = stored_count(buff, name, h->width, &n_buffers);
  if (rc) return rc;
  net_layout layout;
  rc = net_spec_layout(h->spec, &h->input, &layout);
  if (rc) {
    descent_error_prefix("%s: the saved model spec '%s': ", name, h->spec);
    return rc;
  }
  if (n_params != layout.n_params || n_buffers != layout.n_buffers)
    rc = descent_fail(DESCENT_ESHAPE,
                      "%s: %llu parameters and %llu buffer values stored, but the saved spec "
                      "builds a network with %zu and %zu",
                      name, (unsigned long long)n_params, (unsigned long long)n_buffers,
                      layout.n_params, layout.n_buffers);
  if (!rc)
    rc = check_tensors(parm, name, h->width, layout.params, layout.n_param_tensors, "parameter");
  if (!rc)
    rc = check_tensors(buff, name, h->width, layout.buffers, layout.n_buffer_tensors, "buffer");
  net_layout_free(&layout);
  return rc;
}

/* The first non-finite value of v[n], or n. */
static size_t first_nonfinite(const descent_real *v, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!isfinite(v[i])) return i;
  return n;
}

/* Preprocessing constants must be finite, and 1 / (std + eps) positive. */
static int check_preprocess(const descent_preprocess *pp, const char *name) {
  size_t f = pp->features, at;
  if ((at = first_nonfinite(pp->mean, f)) < f)
    return descent_fail(DESCENT_EFORMAT, "%s: preprocessing mean holds %g at feature %zu", name,
                        (double)pp->mean[at], at);
  if (pp->inv_std) {
    for (at = 0; at < f && isfinite(pp->inv_std[at]) && pp->inv_std[at] > 0; at++) {
    }
    if (at < f)
      return descent_fail(DESCENT_EFORMAT,
                          "%s: preprocessing inv_std holds %g at feature %zu; it must be "
                          "positive and finite",
                          name, (double)pp->inv_std[at], at);
  }
  if (pp->whiten && (at = first_nonfinite(pp->whiten, f * f)) < f * f)
    return descent_fail(DESCENT_EFORMAT,
                        "%s: preprocessing whitening matrix holds %g at row %zu, column %zu", name,
                        (double)pp->whiten[at], at / f, at % f);
  return DESCENT_OK;
}

static int read_preprocess(const model_section *s, const char *name, unsigned width,
                           size_t features, descent_preprocess *pp) {
  bytes_in in = {s->payload, s->len, 0, 0};
  uint32_t kind = in_u32(&in);
  uint64_t f = in_u64(&in);
  double eps = in_f64(&in);
  if (in.failed || kind > DESCENT_PREPROCESS_ZCA)
    return descent_fail(DESCENT_EFORMAT, "%s: section 'PREP': %s", name,
                        in.failed ? "too short" : "unknown preprocessing kind");
  if (f != features)
    return descent_fail(DESCENT_ESHAPE,
                        "%s: the preprocessing is for %llu features, the network takes %zu", name,
                        (unsigned long long)f, features);
  int whiten = kind == DESCENT_PREPROCESS_PCA || kind == DESCENT_PREPROCESS_ZCA;
  size_t arrays = kind == DESCENT_PREPROCESS_NONE ? 0 : whiten ? 1 + features : 2;
  if ((s->len - 20) / width / features < arrays || 20 + arrays * features * width != s->len)
    return descent_fail(DESCENT_EFORMAT, "%s: section 'PREP' has the wrong length", name);
  if (kind != DESCENT_PREPROCESS_NONE && !(eps > 0 && isfinite(eps)))
    return descent_fail(DESCENT_EFORMAT, "%s: preprocessing eps %g is not positive", name, eps);
  memset(pp, 0, sizeof *pp);
  pp->kind = (descent_preprocess_kind)kind;
  pp->features = features;
  pp->eps = eps;
  if (kind == DESCENT_PREPROCESS_NONE) return DESCENT_OK;
  pp->mean = descent_alloc_real(features, "preprocessing");
  if (kind == DESCENT_PREPROCESS_STANDARDIZE)
    pp->inv_std = descent_alloc_real(features, "preprocessing");
  else
    pp->whiten = descent_alloc_real(features * features, "preprocessing");
  if (!pp->mean || (!pp->inv_std && !pp->whiten)) {
    descent_preprocess_free(pp);
    return DESCENT_ENOMEM;
  }
  in_reals(&in, pp->mean, features, width);
  if (pp->inv_std) in_reals(&in, pp->inv_std, features, width);
  if (pp->whiten) in_reals(&in, pp->whiten, features * features, width);
  int rc = check_preprocess(pp, name);
  if (rc) descent_preprocess_free(pp);
  return rc;
}

/* A trainer's checkpoint of an objective that is no network has an OBJ
   section and no NET: say so rather than that NET is missing. */
static int not_a_network(const model_section *sections, size_t count, const char *name) {
  for (size_t i = 0; i < count; i++)
    if (memcmp(sections[i].tag, "NET ", 4) == 0) return DESCENT_OK;
  for (size_t i = 0; i < count; i++) {
    const model_section *s = &sections[i];
    if (memcmp(s->tag, "OBJ ", 4) != 0 || s->len < 4) continue;
    uint32_t klen = (uint32_t)get_le(s->payload, 4);
    if (klen > 255 || klen > s->len - 4) break;
    return descent_fail(DESCENT_EFORMAT,
                        "%s: a checkpoint of an objective of kind '%.*s', not of a network: it "
                        "holds no model",
                        name, (int)klen, (const char *)s->payload + 4);
  }
  return DESCENT_OK;
}

int model_read(const model_section *sections, size_t count, const char *name, size_t max_batch,
               descent_net **out, descent_preprocess *pp) {
  int other = not_a_network(sections, count, name);
  if (other) return other;
  const model_section *sn = find(sections, count, "NET ", name);
  const model_section *sp = sn ? find(sections, count, "PARM", name) : NULL;
  const model_section *sb = sp ? find(sections, count, "BUFF", name) : NULL;
  const model_section *sq = sb ? find(sections, count, "PREP", name) : NULL;
  const model_section *sr = sq ? find(sections, count, "RNG ", name) : NULL;
  if (!sr) return DESCENT_EFORMAT;
  if (sr->len != 32)
    return descent_fail(DESCENT_EFORMAT, "%s: section 'RNG ' has the wrong length", name);
  net_header h = {0};
  int rc = read_net_header(sn, name, &h);
  if (rc) return rc;
  /* Counts and values are checked against what the spec implies before the
     network is built: a small file whose spec asks for billions of
     parameters is refused without allocating them. */
  rc = model_check_stored(&h, sp, sb, name);
  descent_net *net = NULL;
  if (!rc) {
    rc = descent_net_create(&net, h.spec, &h.input, h.loss, max_batch, 0);
    if (rc) descent_error_prefix("%s: the saved model spec '%s': ", name, h.spec);
  }
  free(h.spec);
  if (!rc)
    rc = read_values(sp, name, h.width, net->objective.n_params, net->objective.params,
                     "parameters");
  if (!rc) rc = read_values(sb, name, h.width, net->n_buffers, net->buffers, "buffer values");
  descent_preprocess loaded = {0};
  if (!rc) rc = read_preprocess(sq, name, h.width, net->input_size, &loaded);
  if (rc) {
    descent_net_free(net);
    return rc;
  }
  bytes_in in = {sr->payload, sr->len, 0, 0};
  for (int i = 0; i < 4; i++) net->rng.s[i] = in_u64(&in);
  *out = net;
  if (pp)
    *pp = loaded;
  else
    descent_preprocess_free(&loaded);
  return DESCENT_OK;
}

int descent_net_load(descent_net **out, descent_preprocess *pp, const char *path,
                     size_t max_batch) {
  descent_error_clear();
  if (!out || !path) return descent_fail(DESCENT_EINVAL, "descent_net_load: out or path is NULL");
  *out = NULL;
  if (pp) memset(pp, 0, sizeof *pp);
  if (max_batch == 0) return descent_fail(DESCENT_EINVAL, "max_batch must be at least 1");
  unsigned char *data;
  size_t len;
  int rc = descent_read_file(path, MODEL_MAX_BYTES, &data, &len);
  if (rc) return rc;
  model_section sections[MODEL_MAX_SECTIONS];
  size_t count = 0;
  rc = model_file_sections(data, len, path, sections, &count);
  if (!rc) rc = model_read(sections, count, path, max_batch, out, pp);
  free(data);
  return rc;
}

/* ---- for checkpoints (src/train/checkpoint.c) ---------------------------------- */

const model_section *model_section_find(const model_section *sections, size_t count,
                                        const char *tag, const char *name) {
  return find(sections, count, tag, name);
}

int model_read_net_header(const model_section *s, const char *name, net_header *h) {
  return read_net_header(s, name, h);
}

int model_read_preprocess(const model_section *s, const char *name, unsigned width, size_t features,
                          descent_preprocess *pp) {
  return read_preprocess(s, name, width, features, pp);
}

/* ---- the network's checkpoint hooks (descent_objective_ops) ------------------- */

/* One section through the public writer, its payload built by fill. */
static int put_built(descent_section_writer *w, const char *tag, const descent_net *net,
                     void (*fill)(bytes_out *, const descent_net *)) {
  bytes_out o = {0};
  fill(&o, net);
  int rc = o.failed ? descent_fail(DESCENT_ENOMEM, "checkpoint: cannot build section '%s'", tag)
                    : descent_section_put(w, tag, o.data, o.len);
  free(o.data);
  return rc;
}

int model_save_state(const descent_objective *obj, descent_section_writer *w) {
  const descent_net *net = obj->impl;
  int rc = put_built(w, "NET ", net, net_payload);
  if (!rc) rc = put_built(w, "BUFF", net, buffers_payload);
  if (!rc) rc = put_built(w, "RNG ", net, rng_payload);
  return rc;
}

/* The file's NET, BUFF and RNG against this network. The values themselves
   were checked with the file (model_check_stored). */
int model_check_state(const descent_objective *obj, const descent_section_reader *r) {
  const descent_net *net = obj->impl;
  const char *name = descent_section_source(r);
  const void *data;
  size_t len;
  int rc = descent_section_get(r, "NET ", &data, &len);
  if (rc) return rc;
  model_section s = {"NET ", data, len};
  net_header h = {0};
  rc = read_net_header(&s, name, &h);
  if (rc) return rc;
  if (strcmp(h.spec, net->spec) != 0)
    rc = descent_fail(DESCENT_EINVAL, "%s holds the model '%s'; this trainer's is '%s'", name,
                      h.spec, net->spec);
  else if (h.input.ndim != net->input.ndim ||
           memcmp(h.input.dims, net->input.dims, (size_t)h.input.ndim * sizeof h.input.dims[0]) !=
               0 ||
           h.loss != net->loss)
    rc = descent_fail(DESCENT_EINVAL, "%s is for another input shape or loss", name);
  unsigned width = h.width;
  free(h.spec);
  if (rc) return rc;
  if ((rc = descent_section_get(r, "BUFF", &data, &len))) return rc;
  s = (model_section){"BUFF", data, len};
  uint64_t count;
  if ((rc = stored_count(&s, name, width, &count))) return rc;
  if (count != net->n_buffers)
    return descent_fail(DESCENT_ESHAPE, "%s holds %llu buffer values; the network has %zu", name,
                        (unsigned long long)count, net->n_buffers);
  if ((rc = descent_section_get(r, "RNG ", &data, &len))) return rc;
  if (len != 32)
    return descent_fail(DESCENT_EFORMAT, "%s: section 'RNG ' has the wrong length", name);
  return DESCENT_OK;
}

int model_load_state(descent_objective *obj, const descent_section_reader *r) {
  descent_net *net = obj->impl;
  const void *net_data, *buff, *rng;
  size_t net_len, buff_len, rng_len;
  int rc = descent_section_get(r, "NET ", &net_data, &net_len);
  if (!rc) rc = descent_section_get(r, "BUFF", &buff, &buff_len);
  if (!rc) rc = descent_section_get(r, "RNG ", &rng, &rng_len);
  if (rc) return rc;
  /* check_state accepted NET: its last u32 is the width. */
  unsigned width = (unsigned)get_le((const unsigned char *)net_data + net_len - 4, 4);
  bytes_in in = {(const unsigned char *)buff + 8, buff_len - 8, 0, 0};
  in_reals(&in, net->buffers, net->n_buffers, width);
  in = (bytes_in){rng, rng_len, 0, 0};
  for (int i = 0; i < 4; i++) net->rng.s[i] = in_u64(&in);
  /* The restored state has no step to replay (network_curvature.c): a
     re-evaluation now needs a value_and_grad first. */
  net->step_n = 0;
  return DESCENT_OK;
}
