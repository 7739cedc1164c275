/*
 * state.c - saving and restoring an optimizer's state as a byte blob.
 *
 * The blob is explicit little-endian with fixed widths, whatever the machine:
 *
 *   offset  bytes  field
 *   0       8      magic "DSCNTOPT"
 *   8       4      format version: 1, or 2 for a method's optimizer
 *   12      4      bytes per number of the slot vectors: 4 (float) or 8 (double)
 *   16      8      number of parameters n
 *   24      8      steps taken
 *   32      4      mode: 0 training, 1 evaluation (descent_optimizer_eval)
 *   36      4      length L of the chain text
 *   40      L      the chain's canonical text (optimizer_describe_chain), no NUL
 *   then    4      number of transforms T
 *   then, per transform: 4 persistent scalars P, 4 slots S, P x 8 (IEEE double)
 *   then, per transform and slot: n numbers
 *   then    8      (version 2 only) length M of the method's state
 *   then    M      (version 2 only) the method's state, as it writes it
 *   then    n      (versions 4 and 5) the training point: the parameters where
 *                  gradients are taken, which descent_optimizer_train restores
 *   then    8      (versions 3 and 5) number of tensors K of the layout (0: none set)
 *   then    K x 100 (versions 3 and 5) per tensor: offset 8, size 8, ndim 4,
 *                  4 dimensions x 8, name 48 (NUL-padded)
 *   then    8      (versions 7 and 8) number V of values kept per tensor
 *   then    V x 8  (versions 7 and 8) the values (IEEE double): per transform
 *                  that keeps some, in chain order, tensor by tensor
 *   then    8      (versions 9 and 10) number W of numbers of state kept per
 *                  tensor by whole-tensor transforms (0: none yet)
 *   then    W      (versions 9 and 10) those numbers, as the slots are
 *                  written: per transform that keeps some, in chain order,
 *                  tensor by tensor
 *   last    8      FNV-1a 64 checksum of every byte before it
 *
 * A chain of transforms is written as version 1, byte for byte as before
 * methods existed; an optimizer that holds a method (lbfgs), whose state has
 * a length of its own, as version 2; a chain with a per-tensor transform
 * (trust_ratio), whose state holds for one layout of tensors only, as
 * version 3, with that layout; a chain saved in evaluation mode whose
 * training point the optimizer kept (schedule-free, asgd: after
 * descent_optimizer_eval), as version 4, or 5 with a layout, so that train()
 * after a load gives the same bits as without one. A chain whose per-tensor
 * transform keeps values from step to step (novograd's second moment) is
 * written as version 7, version 3 with those values after the layout, or 8,
 * version 5 with them. A chain whose whole-tensor transform keeps state of
 * its own size per tensor (adafactor's factors, shampoo's and soap's
 * matrices) is written as version 9, version 7 with that state after the
 * values, or 10, version 8 with it. An optimizer with parameter groups
 * writes version 6 (groups.c): the groups' tensors and each group's own
 * blob of the other versions. All ten are read.
 *
 * Loading checks everything before it changes anything, and refuses with a
 * message naming what differs: another chain or hyperparameters, another
 * parameter count, another precision, a truncated or corrupted blob.
 *
 * A sharded optimizer (shard.c) writes the same blob as the whole one: it
 * gathers each slot vector from the replicas as it writes it, and keeps its
 * shard's slice of each when it loads one.
 */
#include "groups.h"

#include <stdlib.h>
#include <string.h>

#define STATE_MAGIC               "DSCNTOPT"
#define STATE_VERSION             1u
#define STATE_VERSION_METHOD      2u
#define STATE_VERSION_LAYOUT      3u
#define STATE_VERSION_HELD        4u
#define STATE_VERSION_HELD_LAYOUT 5u /* 4 and 3 together */
/* Version 6, a grouped optimizer's, is written and read by groups.c. */
#define STATE_VERSION_GROUPED 6u
/* 7: 3 with the values kept per tensor; 8: 5 with them. */
#define STATE_VERSION_KEPT      7u
#define STATE_VERSION_KEPT_HELD 8u
/* 9: 7 with the whole-tensor transforms' state; 10: 8 with it. */
#define STATE_VERSION_TENSOR_STATE      9u
#define STATE_VERSION_TENSOR_STATE_HELD 10u
#define STATE_VERSION_LAST              10u
/* Bytes of one tensor of a version 3 layout. */
#define LAYOUT_TENSOR_BYTES (8 + 8 + 4 + 8 * DESCENT_MAX_DIMS + 48)
#define HEADER_BYTES        40
/* Room for the canonical text of the longest chain (16 transforms with schedules). */
#define CHAIN_TEXT_MAX 8192

static const char *what = "optimizer state";

/* ---- little-endian writing and reading ----------------------------------- */

typedef struct cursor {
  unsigned char *p;             /* next byte (writing) */
  const unsigned char *q, *end; /* next byte and end (reading) */
  int short_read;               /* 1 once a read would have passed end */
} cursor;

static void put_u32(cursor *c, uint32_t v) {
  for (int i = 0; i < 4; i++) *c->p++ = (unsigned char)(v >> (8 * i));
}

static void put_u64(cursor *c, uint64_t v) {
  for (int i = 0; i < 8; i++) *c->p++ = (unsigned char)(v >> (8 * i));
}

static void put_f64(cursor *c, double v) {
  uint64_t bits;
  memcpy(&bits, &v, sizeof bits);
  put_u64(c, bits);
}

/* Reading never passes c->end: a short blob gives zeros and sets short_read. */
static uint64_t get_uint(cursor *c, int bytes) {
  if ((size_t)(c->end - c->q) < (size_t)bytes) {
    c->short_read = 1;
    c->q = c->end;
    return 0;
  }
  uint64_t v = 0;
  for (int i = 0; i < bytes; i++) v |= (uint64_t)c->q[i] << (8 * i);
  c->q += bytes;
  return v;
}

static double get_f64(cursor *c) {
  uint64_t bits = get_uint(c, 8);
  double v;
  memcpy(&v, &bits, sizeof v);
  return v;
}

static uint64_t fnv1a(const unsigned char *p, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

/* ---- size and saving ----------------------------------------------------- */

static size_t chain_text(const descent_optimizer *opt, char *buf, size_t cap) {
  size_t len = optimizer_describe_chain(opt, buf, cap);
  return len < cap ? len : cap - 1;
}

/* Versions 4 and 5: in evaluation mode with the training point kept. */
static int saves_held(const descent_optimizer *opt) {
  return opt->eval_mode && opt->held_valid && !opt->method;
}

static int version_has_layout(uint32_t version) {
  return version == STATE_VERSION_LAYOUT || version >= STATE_VERSION_HELD_LAYOUT;
}

static int version_has_held(uint32_t version) {
  return version == STATE_VERSION_HELD || version == STATE_VERSION_HELD_LAYOUT ||
         version == STATE_VERSION_KEPT_HELD || version == STATE_VERSION_TENSOR_STATE_HELD;
}

static int version_has_tensor_state(uint32_t version) {
  return version >= STATE_VERSION_TENSOR_STATE;
}

static int version_has_kept(uint32_t version) {
  return version >= STATE_VERSION_KEPT;
}

/* The values this optimizer keeps per tensor, all tensors together. */
static size_t kept_count(const descent_optimizer *opt) {
  return opt->n_tensors * (size_t)optimizer_tensor_persist_per_tensor(opt);
}

/* A chain that keeps values or state per tensor saves them (versions 7
   to 10). */
static int saves_kept(const descent_optimizer *opt) {
  return opt->per_tensor &&
         (optimizer_tensor_persist_per_tensor(opt) > 0 || optimizer_has_tensor_state(opt));
}

/* The numbers of whole-tensor state it saves: none before it has a layout. */
static size_t tensor_state_saved(const descent_optimizer *opt) {
  return opt->tensor_state ? opt->tensor_state_count : 0;
}

size_t descent_optimizer_state_size(const descent_optimizer *opt) {
  if (opt->groups) return groups_state_size(opt);
  char text[CHAIN_TEXT_MAX];
  size_t bytes = HEADER_BYTES + chain_text(opt, text, sizeof text) + 4 + 8;
  for (int i = 0; i < opt->n_transforms; i++) {
    const transform *t = &opt->chain[i];
    bytes += 8 + 8 * (size_t)t->def->n_persist + (size_t)t->n_slots * opt->n * sizeof(descent_real);
  }
  if (opt->method) bytes += 8 + opt->method->state_bytes(opt->method_state);
  if (opt->per_tensor) bytes += 8 + opt->n_tensors * LAYOUT_TENSOR_BYTES;
  if (saves_kept(opt)) bytes += 8 + 8 * (opt->tensor_persist ? kept_count(opt) : 0);
  if (optimizer_has_tensor_state(opt)) bytes += 8 + tensor_state_saved(opt) * sizeof(descent_real);
  if (saves_held(opt)) bytes += opt->n * sizeof(descent_real);
  return bytes;
}

static uint32_t state_version(const descent_optimizer *opt) {
  if (opt->method) return STATE_VERSION_METHOD;
  if (optimizer_has_tensor_state(opt))
    return saves_held(opt) ? STATE_VERSION_TENSOR_STATE_HELD : STATE_VERSION_TENSOR_STATE;
  if (saves_kept(opt)) return saves_held(opt) ? STATE_VERSION_KEPT_HELD : STATE_VERSION_KEPT;
  if (saves_held(opt)) return opt->per_tensor ? STATE_VERSION_HELD_LAYOUT : STATE_VERSION_HELD;
  return opt->per_tensor ? STATE_VERSION_LAYOUT : STATE_VERSION;
}

/* Versions 7 and 8: the values kept per tensor. Before the first step an
   optimizer may have no layout yet: it saves none (V = 0). */
static void put_kept(cursor *c, const descent_optimizer *opt) {
  size_t count = opt->tensor_persist ? kept_count(opt) : 0;
  put_u64(c, (uint64_t)count);
  for (size_t k = 0; k < count; k++) put_f64(c, opt->tensor_persist[k]);
}

/* Version 3's layout: what the per-tensor sums and state belong to. */
static void put_layout(cursor *c, const descent_optimizer *opt) {
  put_u64(c, (uint64_t)opt->n_tensors);
  for (size_t k = 0; k < opt->n_tensors; k++) {
    const descent_tensor_info *t = &opt->tensors[k];
    put_u64(c, (uint64_t)t->offset);
    put_u64(c, (uint64_t)t->size);
    put_u32(c, (uint32_t)t->shape.ndim);
    for (int d = 0; d < DESCENT_MAX_DIMS; d++)
      put_u64(c, (uint64_t)(d < t->shape.ndim ? t->shape.dims[d] : 0));
    size_t len = 0;
    while (len < sizeof t->name - 1 && t->name[len]) len++;
    memset(c->p, 0, sizeof t->name);
    memcpy(c->p, t->name, len);
    c->p += sizeof t->name;
  }
}

/* Reads count tensors of a version 3 layout into out. */
static void get_layout(cursor *c, descent_tensor_info *out, size_t count) {
  for (size_t k = 0; k < count; k++) {
    descent_tensor_info *t = &out[k];
    memset(t, 0, sizeof *t);
    t->offset = (size_t)get_uint(c, 8);
    t->size = (size_t)get_uint(c, 8);
    uint32_t ndim = (uint32_t)get_uint(c, 4);
    t->shape.ndim = ndim <= DESCENT_MAX_DIMS ? (int)ndim : 0;
    for (int d = 0; d < DESCENT_MAX_DIMS; d++) {
      size_t dim = (size_t)get_uint(c, 8);
      if (d < t->shape.ndim) t->shape.dims[d] = dim;
    }
    if (c->q + sizeof t->name <= c->end) memcpy(t->name, c->q, sizeof t->name - 1);
    c->q += sizeof t->name <= (size_t)(c->end - c->q) ? sizeof t->name : (size_t)(c->end - c->q);
  }
}

static void put_vector(cursor *c, const descent_real *v, size_t n) {
  for (size_t j = 0; j < n; j++) {
#ifdef DESCENT_DOUBLE
    uint64_t bits;
    memcpy(&bits, &v[j], 8);
    put_u64(c, bits);
#else
    uint32_t bits;
    memcpy(&bits, &v[j], 4);
    put_u32(c, bits);
#endif
  }
}

/* The whole of one state vector of a sharded optimizer into whole[0, n):
   the replicas' all-gather, with a check that it put this replica's piece
   where its offset says (a gather in another order would scramble the
   blob). */
static int gather_vector(const descent_optimizer *opt, const descent_real *mine,
                         descent_real *whole) {
  int rc = opt->gather(opt->gather_user, mine, opt->shard_count, whole, opt->n);
  if (rc) {
    descent_error_prefix("%s: gathering the shards: ", what);
    return rc < 0 ? rc : DESCENT_EINVAL;
  }
  if (memcmp(whole + opt->shard_offset, mine, opt->shard_count * sizeof *mine) != 0)
    return descent_fail(DESCENT_EINVAL,
                        "%s: the gather function put this replica's shard (parameters %zu to %zu) "
                        "elsewhere: it must join the pieces in replica order, each at its "
                        "offset (MPI_Allgatherv with the shards' counts)",
                        what, opt->shard_offset, opt->shard_offset + opt->shard_count);
  return DESCENT_OK;
}

/* The k-th state vector, in chain and slot order. */
static descent_real *slot_vector(const descent_optimizer *opt, int k) {
  for (int i = 0; i < opt->n_transforms; i++) {
    if (k < opt->chain[i].n_slots) return opt->chain[i].slots[k];
    k -= opt->chain[i].n_slots;
  }
  return NULL;
}

/* Every slot vector, whole, then (versions 4 and 5) the training point: a
   sharded optimizer gathers each (one collective per vector, in chain and
   slot order, on every replica). */
static int write_vectors(const descent_optimizer *opt, cursor *c) {
  descent_real *whole = NULL;
  int slots = optimizer_slot_count(opt), vectors = slots + saves_held(opt), rc = DESCENT_OK;
  if (opt->gather && vectors) {
    whole = descent_alloc_real(opt->n, "gathered optimizer state");
    if (!whole) return DESCENT_ENOMEM;
  }
  for (int k = 0; !rc && k < vectors; k++) {
    const descent_real *v = k < slots ? slot_vector(opt, k) : opt->held;
    if (whole) {
      rc = gather_vector(opt, v, whole);
      v = whole;
    }
    if (!rc) put_vector(c, v, opt->n);
  }
  descent_free_real(whole);
  return rc;
}

int descent_optimizer_save_state(const descent_optimizer *opt, void *buf, size_t size) {
  descent_error_clear();
  if (opt->groups) return groups_save_state(opt, buf, size);
  size_t need = descent_optimizer_state_size(opt);
  if (size < need)
    return descent_fail(DESCENT_ERANGE, "%s: buffer of %zu bytes, %zu needed", what, size, need);
  char text[CHAIN_TEXT_MAX];
  size_t len = chain_text(opt, text, sizeof text);
  cursor c = {.p = buf};
  memcpy(c.p, STATE_MAGIC, 8);
  c.p += 8;
  put_u32(&c, state_version(opt));
  put_u32(&c, (uint32_t)sizeof(descent_real));
  put_u64(&c, (uint64_t)opt->n);
  put_u64(&c, (uint64_t)opt->step);
  put_u32(&c, (uint32_t)opt->eval_mode);
  put_u32(&c, (uint32_t)len);
  memcpy(c.p, text, len);
  c.p += len;
  put_u32(&c, (uint32_t)opt->n_transforms);
  for (int i = 0; i < opt->n_transforms; i++) {
    const transform *t = &opt->chain[i];
    put_u32(&c, (uint32_t)t->def->n_persist);
    put_u32(&c, (uint32_t)t->n_slots);
    for (int k = 0; k < t->def->n_persist; k++) put_f64(&c, t->persist[k]);
  }
  int rc = write_vectors(opt, &c);
  if (rc) return rc;
  if (opt->method) {
    size_t method_bytes = opt->method->state_bytes(opt->method_state);
    put_u64(&c, (uint64_t)method_bytes);
    opt->method->save(opt->method_state, c.p);
    c.p += method_bytes;
  }
  if (opt->per_tensor) put_layout(&c, opt);
  if (saves_kept(opt)) put_kept(&c, opt);
  if (optimizer_has_tensor_state(opt)) {
    put_u64(&c, (uint64_t)tensor_state_saved(opt));
    put_vector(&c, opt->tensor_state, tensor_state_saved(opt));
  }
  put_u64(&c, fnv1a(buf, (size_t)(c.p - (unsigned char *)buf)));
  return DESCENT_OK;
}

/* ---- loading ------------------------------------------------------------- */

/* Names the first transform where two chain texts differ. */
static int chain_mismatch(const char *saved, size_t saved_len, const char *mine) {
  char a[CHAIN_TEXT_MAX];
  snprintf(a, sizeof a, "%.*s", (int)saved_len, saved);
  const char *p = a, *q = mine;
  for (int index = 1;; index++) {
    const char *pe = strstr(p, " | "), *qe = strstr(q, " | ");
    size_t pl = pe ? (size_t)(pe - p) : strlen(p), ql = qe ? (size_t)(qe - q) : strlen(q);
    if (pl != ql || memcmp(p, q, pl) != 0 || !pe != !qe) {
      /* A transform this program does not know was registered by the one
         that saved the state (descent_transform_register). */
      char name[64];
      snprintf(name, sizeof name, "%.*s", (int)strcspn(p, "( |"), p);
      int unknown = pl && *name && !transform_find(name);
      return descent_fail(DESCENT_EINVAL,
                          "%s is for another optimizer: transform %d is '%.*s' in the saved "
                          "state but '%.*s' here (saved chain: %s)%s%s%s",
                          what, index, (int)pl, pl ? p : "(none)", (int)ql, ql ? q : "(none)", a,
                          unknown ? "; '" : "", unknown ? name : "",
                          unknown ? "' is not a transform of this program: register it "
                                    "(descent_transform_register) and build the optimizer with "
                                    "the saved chain"
                                  : "");
    }
    if (!pe) return DESCENT_OK;
    p = pe + 3, q = qe + 3;
  }
}

int descent_optimizer_load_state(descent_optimizer *opt, const void *buf, size_t size) {
  descent_error_clear();
  if (opt->groups) return groups_load_state(opt, buf, size);
  const unsigned char *bytes = buf;
  if (size < HEADER_BYTES + 4 + 8)
    return descent_fail(DESCENT_EFORMAT, "%s: truncated: %zu bytes, a header alone takes %d", what,
                        size, HEADER_BYTES + 12);
  if (memcmp(bytes, STATE_MAGIC, 8) != 0)
    return descent_fail(DESCENT_EFORMAT, "%s: bad magic number: not descent optimizer state", what);
  cursor c = {.q = bytes + 8, .end = bytes + size};
  uint32_t version = (uint32_t)get_uint(&c, 4);
  if (version == STATE_VERSION_GROUPED)
    return descent_fail(
        DESCENT_EINVAL,
        "%s is of an optimizer with parameter groups (format version %u): load it "
        "into an optimizer built from the same grouped spec (CHAIN @ SELECTOR ; ...)",
        what, version);
  if (version < STATE_VERSION || version > STATE_VERSION_LAST)
    return descent_fail(DESCENT_EFORMAT,
                        "%s: format version %u; this library reads versions %u to %u", what,
                        version, STATE_VERSION, STATE_VERSION_LAST);
  uint32_t real_bytes = (uint32_t)get_uint(&c, 4);
  uint64_t n = get_uint(&c, 8);
  int64_t step = (int64_t)get_uint(&c, 8);
  uint32_t mode = (uint32_t)get_uint(&c, 4);
  uint32_t len = (uint32_t)get_uint(&c, 4);
  const char *text = (const char *)c.q;
  if (len > (size_t)(c.end - c.q))
    return descent_fail(DESCENT_EFORMAT, "%s: truncated inside the chain text", what);
  c.q += len;
  uint32_t n_transforms = (uint32_t)get_uint(&c, 4);
  if (n_transforms > OPTIMIZER_MAX_CHAIN || c.short_read)
    return descent_fail(DESCENT_EFORMAT, "%s: corrupted: %u transforms", what, n_transforms);
  /* The size the header describes, overflow-checked, against the blob's. */
  uint32_t persist[OPTIMIZER_MAX_CHAIN], slots[OPTIMIZER_MAX_CHAIN];
  uint64_t total_slots = 0;
  for (uint32_t i = 0; i < n_transforms; i++) {
    persist[i] = (uint32_t)get_uint(&c, 4);
    slots[i] = (uint32_t)get_uint(&c, 4);
    if (c.short_read || persist[i] > TRANSFORM_MAX_PERSIST || slots[i] > TRANSFORM_MAX_SLOTS)
      return descent_fail(DESCENT_EFORMAT, "%s: truncated or corrupted transform table", what);
    c.q += (size_t)8 * persist[i] <= (size_t)(c.end - c.q) ? (size_t)8 * persist[i]
                                                           : (size_t)(c.end - c.q);
    total_slots += slots[i];
  }
  if (version_has_held(version)) total_slots++; /* the training point */
  size_t vector_bytes, described = (size_t)(c.q - bytes) + 8;
  if ((real_bytes != 4 && real_bytes != 8) || n > SIZE_MAX ||
      !descent_mul_ok((size_t)n, (size_t)total_slots * real_bytes, &vector_bytes) ||
      vector_bytes > SIZE_MAX - described)
    return descent_fail(DESCENT_EFORMAT, "%s: corrupted header (%llu parameters of %u bytes)", what,
                        (unsigned long long)n, real_bytes);
  described += vector_bytes;
  /* Version 2: the method's state, its length first. */
  const unsigned char *method_blob = NULL;
  uint64_t method_bytes = 0;
  if (version == STATE_VERSION_METHOD) {
    if (described > size || size - described < 8)
      return descent_fail(DESCENT_EFORMAT, "%s: truncated before the method's state", what);
    method_bytes = get_uint(&(cursor){.q = bytes + described - 8, .end = bytes + size}, 8);
    if (method_bytes > size - described - 8)
      return descent_fail(DESCENT_EFORMAT, "%s: truncated inside the method's state", what);
    method_blob = bytes + described;
    described += 8 + (size_t)method_bytes;
  }
  /* Version 3: the layout, its length first. */
  const unsigned char *layout_blob = NULL;
  uint64_t layout_count = 0;
  if (version_has_layout(version)) {
    if (described > size || size - described < 8)
      return descent_fail(DESCENT_EFORMAT, "%s: truncated before the layout of tensors", what);
    layout_count = get_uint(&(cursor){.q = bytes + described - 8, .end = bytes + size}, 8);
    if (layout_count > (size - described - 8) / LAYOUT_TENSOR_BYTES)
      return descent_fail(DESCENT_EFORMAT, "%s: truncated inside the layout of tensors", what);
    layout_blob = bytes + described;
    described += 8 + (size_t)layout_count * LAYOUT_TENSOR_BYTES;
  }
  /* Versions 7 and 8: the values kept per tensor, their count first. */
  const unsigned char *kept_blob = NULL;
  uint64_t kept_saved = 0;
  if (version_has_kept(version)) {
    if (described > size || size - described < 8)
      return descent_fail(DESCENT_EFORMAT, "%s: truncated before the values kept per tensor", what);
    kept_saved = get_uint(&(cursor){.q = bytes + described - 8, .end = bytes + size}, 8);
    if (kept_saved > (size - described - 8) / 8)
      return descent_fail(DESCENT_EFORMAT, "%s: truncated inside the values kept per tensor", what);
    kept_blob = bytes + described;
    described += 8 + (size_t)kept_saved * 8;
  }
  /* Versions 9 and 10: the whole-tensor state, its count first. */
  const unsigned char *whole_blob = NULL;
  uint64_t whole_saved = 0;
  if (version_has_tensor_state(version)) {
    if (described > size || size - described < 8)
      return descent_fail(DESCENT_EFORMAT, "%s: truncated before the state kept per tensor", what);
    whole_saved = get_uint(&(cursor){.q = bytes + described - 8, .end = bytes + size}, 8);
    if (real_bytes == 0 || whole_saved > (size - described - 8) / real_bytes)
      return descent_fail(DESCENT_EFORMAT, "%s: truncated inside the state kept per tensor", what);
    whole_blob = bytes + described;
    described += 8 + (size_t)whole_saved * real_bytes;
  }
  if (size != described)
    return descent_fail(DESCENT_EFORMAT, "%s: %s: %zu bytes, its header describes %zu", what,
                        size < described ? "truncated" : "trailing bytes", size, described);
  uint64_t sum = get_uint(&(cursor){.q = bytes + size - 8, .end = bytes + size}, 8);
  if (sum != fnv1a(bytes, size - 8))
    return descent_fail(DESCENT_EFORMAT, "%s: corrupted: checksum mismatch", what);

  /* A well-formed blob: does it fit this optimizer? */
  if (real_bytes != sizeof(descent_real))
    return descent_fail(
        DESCENT_EINVAL, "%s was saved by the %s build of descent; this is the %s build", what,
        real_bytes == 8 ? "double" : "float", sizeof(descent_real) == 8 ? "double" : "float");
  if (n != opt->n)
    return descent_fail(DESCENT_ESHAPE, "%s is for %llu parameters; this optimizer has %zu", what,
                        (unsigned long long)n, opt->n);
  char mine[CHAIN_TEXT_MAX];
  chain_text(opt, mine, sizeof mine);
  int rc = chain_mismatch(text, len, mine);
  if (rc) return rc;
  if (n_transforms != (uint32_t)opt->n_transforms)
    return descent_fail(DESCENT_EINVAL, "%s holds %u transforms; this optimizer has %d", what,
                        n_transforms, opt->n_transforms);
  for (int i = 0; i < opt->n_transforms; i++)
    if (persist[i] != (uint32_t)opt->chain[i].def->n_persist ||
        slots[i] != (uint32_t)opt->chain[i].n_slots)
      return descent_fail(DESCENT_EINVAL, "%s: transform %d (%s) has another layout", what, i + 1,
                          opt->chain[i].def->name);
  if (step < 0 || mode > 1)
    return descent_fail(DESCENT_EFORMAT, "%s: corrupted: step %lld, mode %u", what, (long long)step,
                        mode);
  /* The version without the training point (4: 1, 5: 3, 8: 7, 10: 9) is
     this chain's. */
  uint32_t base = version == STATE_VERSION_HELD                ? STATE_VERSION
                  : version == STATE_VERSION_HELD_LAYOUT       ? STATE_VERSION_LAYOUT
                  : version == STATE_VERSION_KEPT_HELD         ? STATE_VERSION_KEPT
                  : version == STATE_VERSION_TENSOR_STATE_HELD ? STATE_VERSION_TENSOR_STATE
                                                               : version;
  int whole_state = optimizer_has_tensor_state(opt);
  if (base != (opt->method       ? STATE_VERSION_METHOD
               : whole_state     ? STATE_VERSION_TENSOR_STATE
               : saves_kept(opt) ? STATE_VERSION_KEPT
               : opt->per_tensor ? STATE_VERSION_LAYOUT
                                 : STATE_VERSION))
    return descent_fail(DESCENT_EFORMAT, "%s: format version %u for %s", what, version,
                        opt->method   ? "a method"
                        : whole_state ? "a chain that keeps state per tensor (adafactor, shampoo, "
                                        "soap)"
                        : saves_kept(opt) ? "a chain that keeps values per tensor (novograd)"
                        : opt->per_tensor ? "a chain with a per-tensor transform"
                                          : "a chain of transforms");
  /* The values kept per tensor: one set per tensor of the saved layout, or
     none (saved before the first step). */
  size_t kept_per = (size_t)optimizer_tensor_persist_per_tensor(opt);
  if (kept_blob && kept_saved && kept_saved != layout_count * kept_per)
    return descent_fail(DESCENT_EFORMAT,
                        "%s: corrupted: %llu values kept per tensor for %llu tensors of %zu "
                        "values each",
                        what, (unsigned long long)kept_saved, (unsigned long long)layout_count,
                        kept_per);
  if (kept_blob && !kept_saved && step > 0 && kept_per)
    return descent_fail(DESCENT_EFORMAT,
                        "%s: corrupted: no values kept per tensor after %lld steps", what,
                        (long long)step);
  if (version_has_held(version) && (mode != 1 || !optimizer_has_eval_point(opt)))
    return descent_fail(DESCENT_EFORMAT, "%s: corrupted: a training point saved %s", what,
                        mode != 1 ? "in training mode" : "for a chain without an evaluation point");
  if (version_has_held(version) && !opt->held) {
    opt->held = descent_alloc_real(opt->shard_count ? opt->shard_count : 1,
                                   "the training point kept in evaluation mode");
    if (!opt->held) return DESCENT_ENOMEM;
  }
  /* The layout the per-tensor state belongs to, against this optimizer's. */
  descent_tensor_info *layout = NULL;
  if (layout_count) {
    layout = descent_calloc((size_t)layout_count, sizeof *layout, "saved layout");
    if (!layout) return DESCENT_ENOMEM;
    get_layout(&(cursor){.q = layout_blob, .end = bytes + size}, layout, (size_t)layout_count);
    rc = optimizer_layout_check_saved(opt, layout, (size_t)layout_count);
    if (rc) {
      free(layout);
      return rc;
    }
  }
  /* The whole-tensor state: as much as the saved layout asks for, or none
     (saved before the first step). */
  if (whole_blob) {
    size_t expected = 0;
    rc = layout ? optimizer_tensor_state_size(opt, layout, (size_t)layout_count, &expected)
                : DESCENT_OK;
    if (!rc && whole_saved && whole_saved != expected)
      rc = descent_fail(DESCENT_EFORMAT,
                        "%s: corrupted: %llu numbers of state kept per tensor where the saved "
                        "layout of %llu tensors asks for %zu",
                        what, (unsigned long long)whole_saved, (unsigned long long)layout_count,
                        expected);
    if (!rc && !whole_saved && step > 0)
      rc = descent_fail(DESCENT_EFORMAT, "%s: corrupted: no state kept per tensor after %lld steps",
                        what, (long long)step);
    if (rc) {
      free(layout);
      return rc;
    }
  }
  /* The method checks its bytes whole before it takes them: the last check,
     and nothing has changed yet. */
  if (opt->method) {
    rc = opt->method->load(opt->method_state, opt->method_hp, method_blob, (size_t)method_bytes);
    if (rc) {
      descent_error_prefix("%s: ", what);
      return rc;
    }
  }
  /* An optimizer without a layout takes the saved one (its only failure,
     for memory, leaves everything as it was). */
  if (layout) {
    rc = optimizer_layout_take_saved(opt, layout, (size_t)layout_count);
    free(layout);
    if (rc) return rc;
  }

  /* Everything checked: copy. */
  if (kept_saved) {
    cursor kc = {.q = kept_blob, .end = bytes + size};
    for (size_t k = 0; k < (size_t)kept_saved; k++) opt->tensor_persist[k] = get_f64(&kc);
  } else if (opt->tensor_persist) {
    memset(opt->tensor_persist, 0, kept_count(opt) * sizeof *opt->tensor_persist);
  }
  if (whole_saved) {
    cursor wc = {.q = whole_blob, .end = bytes + size};
    for (size_t k = 0; k < (size_t)whole_saved; k++) {
#ifdef DESCENT_DOUBLE
      uint64_t bits = get_uint(&wc, 8);
#else
      uint32_t bits = (uint32_t)get_uint(&wc, 4);
#endif
      memcpy(&opt->tensor_state[k], &bits, sizeof bits);
    }
  } else if (opt->tensor_state) {
    memset(opt->tensor_state, 0, opt->tensor_state_count * sizeof *opt->tensor_state);
  }
  c.q = (const unsigned char *)text + len + 4;
  for (int i = 0; i < opt->n_transforms; i++) {
    transform *t = &opt->chain[i];
    c.q += 8;
    for (int k = 0; k < t->def->n_persist; k++) t->persist[k] = get_f64(&c);
  }
  /* A sharded optimizer keeps its shard's slice of each whole vector. */
  size_t before = opt->shard_offset * sizeof(descent_real),
         after = (opt->n - opt->shard_offset - opt->shard_count) * sizeof(descent_real);
  int vectors = optimizer_slot_count(opt) + version_has_held(version);
  for (int k = 0; k < vectors; k++) {
    descent_real *v = k < optimizer_slot_count(opt) ? slot_vector(opt, k) : opt->held;
    c.q += before;
    for (size_t j = 0; j < opt->shard_count; j++) {
#ifdef DESCENT_DOUBLE
      uint64_t bits = get_uint(&c, 8);
#else
      uint32_t bits = (uint32_t)get_uint(&c, 4);
#endif
      memcpy(&v[j], &bits, sizeof bits);
    }
    c.q += after;
  }
  opt->step = step;
  opt->eval_mode = (int)mode;
  opt->held_valid = version_has_held(version);
  return DESCENT_OK;
}
