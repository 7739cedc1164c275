/*
 * safetensors.c - weights exchange with PyTorch through safetensors files.
 *
 * The format: an 8-byte little-endian header length N, N bytes of JSON
 * mapping each tensor name to {dtype, shape, data_offsets}, then the data.
 * Tensor names follow PyTorch's nn.Sequential state_dict ("0.weight",
 * "2.bias": the layer's 0-based position, then the parameter), and dense and
 * convolution weights share PyTorch's layouts, so a file loads into the
 * equivalent torch.nn.Sequential with load_state_dict and back.
 *
 * Batch norm's running statistics travel too, under PyTorch's buffer names
 * ("1.running_mean", "1.running_var"), and each batch-norm layer gets the
 * int64 scalar "1.num_batches_tracked" that PyTorch's state_dict holds.
 * descent does not count batch-norm steps (its momentum is always set, so
 * the count changes nothing), so it writes 0 there; on import the count is
 * optional, checked for its dtype and shape, and ignored.
 *
 * Reading trusts nothing: the header length is checked against the file size
 * before it is read, the JSON is parsed by cJSON, and every tensor's dtype,
 * shape, offsets and size are checked against the file and against the
 * network, and every value read (finite at the build's precision, so an F64
 * beyond the float range is refused; running variances not negative), before
 * a single value is copied. The data region must be covered exactly, without
 * holes or overlaps, as the format requires.
 */
#include "network_internal.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* The largest header accepted: the format's own reference limit (100 MB). */
#define SAFETENSORS_MAX_HEADER 100000000ull

/* "layer3.dense.weight" -> "2.weight". */
static int torch_name(const char *ours, char *out, size_t cap) {
  unsigned index;
  const char *dot = strchr(ours, '.');
  if (sscanf(ours, "layer%u.", &index) != 1 || index == 0 || !dot) return -1;
  const char *param = strrchr(ours, '.');
  snprintf(out, cap, "%u.%s", index - 1, param + 1);
  return 0;
}

static void put_u64le(unsigned char *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_u64le(const unsigned char *p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
  return v;
}

/* Values are written at the library's own precision: F32, or F64 in the
   double build, so a round trip is exact in both. */
#define VALUE_BYTES sizeof(descent_real)
#define VALUE_DTYPE (sizeof(descent_real) == 8 ? "F64" : "F32")

static void put_value(unsigned char *p, descent_real v) {
  uint64_t u = 0;
  memcpy(&u, &v, sizeof v);
  for (size_t i = 0; i < sizeof v; i++) p[i] = (unsigned char)(u >> (8 * i));
}

/* One tensor of the file: where its values come from in the network. */
typedef struct st_out {
  char name[64];           /* PyTorch's name */
  const char *dtype;       /* VALUE_DTYPE, or "I64" for num_batches_tracked */
  descent_shape shape;     /* ndim 0 for a scalar */
  const descent_real *src; /* size values, or NULL for num_batches_tracked (0) */
  size_t size, bytes;
} st_out;

/* "...running_var" ends a batch-norm layer's buffers. */
static int is_running_var(const char *name) {
  size_t len = strlen(name);
  return len > 12 && strcmp(name + len - 12, ".running_var") == 0;
}

/* The tensors to write, in order: parameters, then each batch-norm layer's
   running mean, running variance and step count. */
static int export_list(const descent_net *net, st_out **out, size_t *count) {
  const descent_objective *obj = &net->objective;
  size_t nb = net->n_buffer_tensors, cap = obj->n_tensors + 2 * nb, n = 0;
  st_out *list = calloc(cap ? cap : 1, sizeof *list);
  if (!list) return -1;
  for (size_t i = 0; i < obj->n_tensors; i++, n++) {
    const descent_tensor_info *t = &obj->tensors[i];
    list[n] = (st_out){.dtype = VALUE_DTYPE,
                       .shape = t->shape,
                       .src = obj->params + t->offset,
                       .size = t->size,
                       .bytes = t->size * VALUE_BYTES};
    if (torch_name(t->name, list[n].name, sizeof list[n].name)) goto fail;
  }
  for (size_t i = 0; i < nb; i++) {
    const descent_tensor_info *t = &net->buffer_tensors[i];
    list[n] = (st_out){.dtype = VALUE_DTYPE,
                       .shape = t->shape,
                       .src = net->buffers + t->offset,
                       .size = t->size,
                       .bytes = t->size * VALUE_BYTES};
    if (torch_name(t->name, list[n].name, sizeof list[n].name)) goto fail;
    n++;
    if (!is_running_var(t->name)) continue;
    unsigned index;
    if (sscanf(t->name, "layer%u.", &index) != 1 || index == 0) goto fail;
    list[n] = (st_out){.dtype = "I64", .shape = {0, {0}}, .size = 1, .bytes = 8};
    snprintf(list[n].name, sizeof list[n].name, "%u.num_batches_tracked", index - 1);
    n++;
  }
  *out = list;
  *count = n;
  return 0;
fail:
  free(list);
  return -1;
}

static char *build_header(const st_out *list, size_t n, const char *spec) {
  cJSON *root = cJSON_CreateObject(), *meta = cJSON_CreateObject();
  if (!root || !meta) goto fail;
  cJSON_AddItemToObject(root, "__metadata__", meta);
  cJSON_AddStringToObject(meta, "format", "pt");
  cJSON_AddStringToObject(meta, "descent_model", spec ? spec : "");
  size_t offset = 0;
  for (size_t i = 0; i < n; i++) {
    const st_out *t = &list[i];
    cJSON *entry = cJSON_AddObjectToObject(root, t->name);
    if (!entry || !cJSON_AddStringToObject(entry, "dtype", t->dtype)) goto fail;
    cJSON *shape = cJSON_AddArrayToObject(entry, "shape");
    cJSON *offsets = cJSON_AddArrayToObject(entry, "data_offsets");
    if (!shape || !offsets) goto fail;
    for (int d = 0; d < t->shape.ndim; d++)
      cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)t->shape.dims[d]));
    cJSON_AddItemToArray(offsets, cJSON_CreateNumber((double)offset));
    offset += t->bytes;
    cJSON_AddItemToArray(offsets, cJSON_CreateNumber((double)offset));
  }
  char *text = cJSON_PrintUnformatted(root);
  cJSON_Delete(root);
  return text;
fail:
  cJSON_Delete(root);
  if (!root) cJSON_Delete(meta);
  return NULL;
}

int descent_net_export_safetensors(const descent_net *net, const char *path) {
  descent_error_clear();
  st_out *list = NULL;
  size_t n = 0;
  if (export_list(net, &list, &n))
    return descent_fail(DESCENT_ENOMEM, "%s: cannot list the network's tensors", path);
  char *header = build_header(list, n, descent_net_spec(net));
  if (!header) {
    free(list);
    return descent_fail(DESCENT_ENOMEM, "%s: cannot build the header", path);
  }
  /* Pad the header with spaces so the data starts 8-byte aligned, as the
     reference writer does. */
  size_t hlen = strlen(header), padded = (hlen + 7) / 8 * 8, data_bytes = 0;
  for (size_t i = 0; i < n; i++) data_bytes += list[i].bytes;
  size_t bytes = 8 + padded + data_bytes;
  unsigned char *buf = malloc(bytes);
  if (!buf) {
    cJSON_free(header);
    free(list);
    return descent_fail_alloc(path, bytes);
  }
  put_u64le(buf, padded);
  memcpy(buf + 8, header, hlen);
  memset(buf + 8 + hlen, ' ', padded - hlen);
  cJSON_free(header);
  unsigned char *data = buf + 8 + padded;
  for (size_t i = 0; i < n; i++) {
    if (list[i].src)
      for (size_t j = 0; j < list[i].size; j++) put_value(data + VALUE_BYTES * j, list[i].src[j]);
    else
      put_u64le(data, 0); /* num_batches_tracked: not counted by descent */
    data += list[i].bytes;
  }
  free(list);
  int rc = descent_write_file_atomic(path, buf, bytes);
  free(buf);
  return rc;
}

/* ---- reading ------------------------------------------------------------- */

typedef enum st_dtype { ST_F32, ST_F64, ST_I64 } st_dtype;

typedef struct st_tensor {
  const char *name;
  st_dtype dtype;
  int is_f64;        /* F64: values are 8 bytes */
  size_t begin, end; /* byte offsets in the data region */
  descent_shape shape;
  int used; /* matched with a tensor of the network */
} st_tensor;

static int parse_entry(const cJSON *item, const char *path, st_tensor *t) {
  t->name = item->string;
  const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(item, "dtype");
  const cJSON *shape = cJSON_GetObjectItemCaseSensitive(item, "shape");
  const cJSON *offsets = cJSON_GetObjectItemCaseSensitive(item, "data_offsets");
  if (!cJSON_IsObject(item) || !cJSON_IsString(dtype) || !cJSON_IsArray(shape) ||
      !cJSON_IsArray(offsets) || cJSON_GetArraySize(offsets) != 2)
    return descent_fail(DESCENT_EFORMAT,
                        "%s: tensor '%s' lacks a dtype, a shape or two data_offsets", path,
                        t->name);
  if (strcmp(dtype->valuestring, "F32") == 0)
    t->dtype = ST_F32;
  else if (strcmp(dtype->valuestring, "F64") == 0)
    t->dtype = ST_F64;
  else if (strcmp(dtype->valuestring, "I64") == 0) /* num_batches_tracked only */
    t->dtype = ST_I64;
  else
    return descent_fail(DESCENT_EFORMAT,
                        "%s: tensor '%s' has dtype %s; descent reads F32 and F64 (save with "
                        "tensor.float())",
                        path, t->name, dtype->valuestring);
  t->is_f64 = t->dtype != ST_F32;
  int ndim = cJSON_GetArraySize(shape);
  if (ndim > DESCENT_MAX_DIMS)
    return descent_fail(DESCENT_EFORMAT, "%s: tensor '%s' has %d dimensions, at most %d", path,
                        t->name, ndim, DESCENT_MAX_DIMS);
  t->shape.ndim = ndim;
  size_t count = 1;
  for (int d = 0; d < ndim; d++) {
    const cJSON *dim = cJSON_GetArrayItem(shape, d);
    if (!cJSON_IsNumber(dim) || dim->valuedouble < 0 || dim->valuedouble > 1e15 ||
        dim->valuedouble != (double)(size_t)dim->valuedouble ||
        !descent_mul_ok(count, (size_t)dim->valuedouble, &count))
      return descent_fail(DESCENT_EFORMAT, "%s: tensor '%s' has an invalid shape", path, t->name);
    t->shape.dims[d] = (size_t)dim->valuedouble;
  }
  double b = cJSON_GetArrayItem(offsets, 0)->valuedouble;
  double e = cJSON_GetArrayItem(offsets, 1)->valuedouble;
  if (!cJSON_IsNumber(cJSON_GetArrayItem(offsets, 0)) ||
      !cJSON_IsNumber(cJSON_GetArrayItem(offsets, 1)) || b < 0 || e < b || e > 1e18 ||
      b != (double)(size_t)b || e != (double)(size_t)e)
    return descent_fail(DESCENT_EFORMAT, "%s: tensor '%s' has invalid data_offsets", path, t->name);
  t->begin = (size_t)b;
  t->end = (size_t)e;
  size_t bytes;
  if (!descent_mul_ok(count, t->is_f64 ? 8 : 4, &bytes) || bytes != t->end - t->begin)
    return descent_fail(DESCENT_EFORMAT,
                        "%s: tensor '%s': its shape needs %zu values but data_offsets span %zu "
                        "bytes",
                        path, t->name, count, t->end - t->begin);
  return DESCENT_OK;
}

static int compare_by_begin(const void *a, const void *b) {
  const st_tensor *x = a, *y = b;
  return x->begin < y->begin ? -1 : x->begin > y->begin;
}

/* Checks that the tensors tile the data region exactly. */
static int check_layout(st_tensor *ts, size_t n, size_t data_bytes, const char *path) {
  st_tensor *sorted = malloc((n ? n : 1) * sizeof *sorted);
  if (!sorted) return descent_fail(DESCENT_ENOMEM, "%s: out of memory", path);
  memcpy(sorted, ts, n * sizeof *ts);
  qsort(sorted, n, sizeof *sorted, compare_by_begin);
  size_t at = 0;
  int rc = DESCENT_OK;
  for (size_t i = 0; i < n && !rc; i++) {
    if (sorted[i].begin != at)
      rc = descent_fail(DESCENT_EFORMAT, "%s: tensor '%s' starts at byte %zu, expected %zu (%s)",
                        path, sorted[i].name, sorted[i].begin, at,
                        sorted[i].begin < at ? "overlap" : "hole");
    at = sorted[i].end;
  }
  if (!rc && at != data_bytes)
    rc = descent_fail(DESCENT_EFORMAT, "%s: the tensors cover %zu bytes, the file holds %zu", path,
                      at, data_bytes);
  free(sorted);
  return rc;
}

static int shapes_equal(const descent_shape *a, const descent_shape *b) {
  if (a->ndim != b->ndim) return 0;
  for (int d = 0; d < a->ndim; d++)
    if (a->dims[d] != b->dims[d]) return 0;
  return 1;
}

static double get_value(const unsigned char *p, int is_f64) {
  uint64_t u = 0;
  int width = is_f64 ? 8 : 4;
  for (int i = 0; i < width; i++) u |= (uint64_t)p[i] << (8 * i);
  if (is_f64) {
    double d;
    memcpy(&d, &u, 8);
    return d;
  }
  uint32_t u32 = (uint32_t)u;
  float f;
  memcpy(&f, &u32, 4);
  return f;
}

/* The file's tensor for one of the network's: present, F32 or F64, of the
   same shape, and every value finite once read at this build's precision
   (and, for a running variance, not negative). */
static int match_tensor(st_tensor *ts, size_t n, const descent_tensor_info *t,
                        const unsigned char *data, const char *path, const st_tensor **out) {
  char name[64];
  torch_name(t->name, name, sizeof name);
  st_tensor *s = NULL;
  for (size_t i = 0; i < n && !s; i++)
    if (strcmp(ts[i].name, name) == 0) s = &ts[i];
  if (!s)
    return descent_fail(DESCENT_ESHAPE, "%s: no tensor '%s' (%s) for this network", path, name,
                        t->name);
  if (s->dtype == ST_I64 || !shapes_equal(&s->shape, &t->shape))
    return descent_fail(DESCENT_ESHAPE, "%s: tensor '%s' has another %s than the network's", path,
                        name, s->dtype == ST_I64 ? "dtype (I64)" : "shape");
  size_t width = s->is_f64 ? 8 : 4;
  int variance = is_running_var(t->name);
  for (size_t j = 0; j < t->size; j++) {
    double stored = get_value(data + s->begin + j * width, s->is_f64);
    descent_real v = (descent_real)stored;
    if (!isfinite(v))
      return descent_fail(
          DESCENT_EFORMAT, "%s: tensor '%s' holds %g at element %zu%s", path, name, stored, j,
          isfinite(stored) ? ", beyond the range of this build's floats" : ": not a finite number");
    if (variance && v < 0)
      return descent_fail(DESCENT_EFORMAT,
                          "%s: tensor '%s' holds a negative variance (%g at element %zu)", path,
                          name, stored, j);
  }
  s->used = 1;
  *out = s;
  return DESCENT_OK;
}

/* A file tensor left over after matching: only a batch-norm layer's
   num_batches_tracked (an int64 scalar, or one element) is allowed. */
static int check_extra(const st_tensor *s, const descent_net *net, const char *path) {
  unsigned index;
  int end = 0;
  if (sscanf(s->name, "%u.num_batches_tracked%n", &index, &end) == 1 && s->name[end] == '\0') {
    char running_var[64];
    int belongs = 0;
    for (size_t i = 0; i < net->n_buffer_tensors && !belongs; i++)
      belongs = is_running_var(net->buffer_tensors[i].name) &&
                torch_name(net->buffer_tensors[i].name, running_var, sizeof running_var) == 0 &&
                (unsigned)atoi(running_var) == index;
    size_t count = 1;
    for (int d = 0; d < s->shape.ndim; d++) count *= s->shape.dims[d];
    if (belongs && s->dtype == ST_I64 && count == 1) return DESCENT_OK;
    if (belongs)
      return descent_fail(DESCENT_EFORMAT,
                          "%s: tensor '%s' must be one int64 (I64) value, as PyTorch writes it",
                          path, s->name);
  }
  return descent_fail(DESCENT_ESHAPE, "%s: tensor '%s' belongs to no tensor of this network", path,
                      s->name);
}

/* The network's tensor k: its parameters', then its buffers'. */
static const descent_tensor_info *tensor_at(const descent_net *net, size_t k) {
  const descent_objective *obj = &net->objective;
  return k < obj->n_tensors ? &obj->tensors[k] : &net->buffer_tensors[k - obj->n_tensors];
}

/* Matches every network tensor (parameters and batch-norm buffers) with the
   file's, checks every value, and only then copies them. */
static int import_tensors(descent_net *net, st_tensor *ts, size_t n, const unsigned char *data,
                          const char *path) {
  descent_objective *obj = &net->objective;
  size_t want = obj->n_tensors + net->n_buffer_tensors, tracked = 0;
  for (size_t i = 0; i < net->n_buffer_tensors; i++)
    tracked += (size_t)is_running_var(net->buffer_tensors[i].name);
  if (n < want || n > want + tracked)
    return descent_fail(DESCENT_ESHAPE, "%s: %zu tensors, the network has %zu%s", path, n, want,
                        tracked ? " (and a num_batches_tracked per batch norm)" : "");
  const st_tensor *s;
  for (size_t k = 0; k < want; k++) {
    int rc = match_tensor(ts, n, tensor_at(net, k), data, path, &s);
    if (rc) return rc;
  }
  for (size_t i = 0; i < n; i++)
    if (!ts[i].used) {
      int rc = check_extra(&ts[i], net, path);
      if (rc) return rc;
    }
  /* Everything matched and checked: only now overwrite the network. */
  for (size_t k = 0; k < want; k++) {
    const descent_tensor_info *t = tensor_at(net, k);
    descent_real *dst = k < obj->n_tensors ? obj->params : net->buffers;
    match_tensor(ts, n, t, data, path, &s);
    size_t width = s->is_f64 ? 8 : 4;
    for (size_t j = 0; j < t->size; j++)
      dst[t->offset + j] = (descent_real)get_value(data + s->begin + j * width, s->is_f64);
  }
  return DESCENT_OK;
}

int descent_net_import_safetensors(descent_net *net, const char *path) {
  descent_error_clear();
  unsigned char *file = NULL;
  size_t size = 0;
  cJSON *root = NULL;
  st_tensor *ts = NULL;
  int rc = descent_read_file(path, (size_t)1 << 36, &file, &size);
  if (rc) return rc;
  if (size < 8) {
    rc = descent_fail(DESCENT_EFORMAT, "%s: %zu bytes, too short for a safetensors file", path,
                      size);
    goto done;
  }
  uint64_t hlen = get_u64le(file);
  if (hlen > SAFETENSORS_MAX_HEADER || hlen > size - 8) {
    rc = descent_fail(DESCENT_EFORMAT,
                      "%s: header length %llu does not fit the file's %zu bytes: not a "
                      "safetensors file, or truncated",
                      path, (unsigned long long)hlen, size);
    goto done;
  }
  root = cJSON_ParseWithLength((const char *)file + 8, (size_t)hlen);
  if (!cJSON_IsObject(root)) {
    rc = descent_fail(DESCENT_EFORMAT, "%s: the header is not a JSON object", path);
    goto done;
  }
  size_t n = 0;
  for (cJSON *it = root->child; it; it = it->next) n += strcmp(it->string, "__metadata__") != 0;
  ts = calloc(n ? n : 1, sizeof *ts);
  if (!ts) {
    rc = descent_fail(DESCENT_ENOMEM, "%s: out of memory", path);
    goto done;
  }
  size_t k = 0;
  for (cJSON *it = root->child; it && !rc; it = it->next)
    if (strcmp(it->string, "__metadata__") != 0) rc = parse_entry(it, path, &ts[k++]);
  if (!rc) rc = check_layout(ts, n, size - 8 - (size_t)hlen, path);
  if (!rc) rc = import_tensors(net, ts, n, file + 8 + hlen, path);
done:
  free(ts);
  cJSON_Delete(root);
  free(file);
  return rc;
}
