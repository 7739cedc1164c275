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
 * Reading trusts nothing: the header length is checked against the file size
 * before it is read, the JSON is parsed by cJSON, and every tensor's dtype,
 * shape, offsets and size are checked against the file and against the
 * network before a single value is copied. The data region must be covered
 * exactly, without holes or overlaps, as the format requires.
 */
#include "network_internal.h"

#include <cjson/cJSON.h>
#include <errno.h>
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

static char *build_header(const descent_objective *obj, const char *spec) {
  cJSON *root = cJSON_CreateObject(), *meta = cJSON_CreateObject();
  if (!root || !meta) goto fail;
  cJSON_AddItemToObject(root, "__metadata__", meta);
  cJSON_AddStringToObject(meta, "format", "pt");
  cJSON_AddStringToObject(meta, "descent_model", spec ? spec : "");
  size_t offset = 0;
  for (size_t i = 0; i < obj->n_tensors; i++) {
    const descent_tensor_info *t = &obj->tensors[i];
    char name[64];
    if (torch_name(t->name, name, sizeof name)) goto fail;
    cJSON *entry = cJSON_AddObjectToObject(root, name);
    if (!entry || !cJSON_AddStringToObject(entry, "dtype", VALUE_DTYPE)) goto fail;
    cJSON *shape = cJSON_AddArrayToObject(entry, "shape");
    cJSON *offsets = cJSON_AddArrayToObject(entry, "data_offsets");
    if (!shape || !offsets) goto fail;
    for (int d = 0; d < t->shape.ndim; d++)
      cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)t->shape.dims[d]));
    cJSON_AddItemToArray(offsets, cJSON_CreateNumber((double)offset));
    offset += t->size * VALUE_BYTES;
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
  const descent_objective *obj = &net->objective;
  char *header = build_header(obj, descent_net_spec(net));
  if (!header) return descent_fail(DESCENT_ENOMEM, "%s: cannot build the header", path);
  /* Pad the header with spaces so the data starts 8-byte aligned, as the
     reference writer does. */
  size_t hlen = strlen(header), padded = (hlen + 7) / 8 * 8;
  size_t bytes = 8 + padded + obj->n_params * VALUE_BYTES;
  unsigned char *buf = malloc(bytes);
  if (!buf) {
    cJSON_free(header);
    return descent_fail(DESCENT_ENOMEM, "%s: cannot allocate %zu bytes", path, bytes);
  }
  put_u64le(buf, padded);
  memcpy(buf + 8, header, hlen);
  memset(buf + 8 + hlen, ' ', padded - hlen);
  cJSON_free(header);
  unsigned char *data = buf + 8 + padded;
  for (size_t i = 0; i < obj->n_tensors; i++) {
    const descent_tensor_info *t = &obj->tensors[i];
    for (size_t j = 0; j < t->size; j++)
      put_value(data + VALUE_BYTES * (t->offset + j), obj->params[t->offset + j]);
  }
  int rc = descent_write_file_atomic(path, buf, bytes);
  free(buf);
  return rc;
}

/* ---- reading ------------------------------------------------------------- */

typedef struct st_tensor {
  const char *name;
  int is_f64;
  size_t begin, end; /* byte offsets in the data region */
  descent_shape shape;
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
    t->is_f64 = 0;
  else if (strcmp(dtype->valuestring, "F64") == 0)
    t->is_f64 = 1;
  else
    return descent_fail(DESCENT_EFORMAT,
                        "%s: tensor '%s' has dtype %s; descent reads F32 and F64 (save with "
                        "tensor.float())",
                        path, t->name, dtype->valuestring);
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

static const st_tensor *find_tensor(const st_tensor *ts, size_t n, const char *name) {
  for (size_t i = 0; i < n; i++)
    if (strcmp(ts[i].name, name) == 0) return &ts[i];
  return NULL;
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

/* Matches every network tensor with the file's and copies the values. */
static int import_tensors(descent_net *net, const st_tensor *ts, size_t n,
                          const unsigned char *data, const char *path) {
  descent_objective *obj = &net->objective;
  if (n != obj->n_tensors)
    return descent_fail(DESCENT_ESHAPE, "%s: %zu tensors, the network has %zu", path, n,
                        obj->n_tensors);
  for (size_t i = 0; i < obj->n_tensors; i++) {
    const descent_tensor_info *t = &obj->tensors[i];
    char name[64];
    torch_name(t->name, name, sizeof name);
    const st_tensor *s = find_tensor(ts, n, name);
    if (!s)
      return descent_fail(DESCENT_ESHAPE, "%s: no tensor '%s' (%s) for this network", path, name,
                          t->name);
    if (!shapes_equal(&s->shape, &t->shape))
      return descent_fail(DESCENT_ESHAPE, "%s: tensor '%s' has another shape than the network's",
                          path, name);
  }
  /* Everything matched: only now overwrite the parameters. */
  for (size_t i = 0; i < obj->n_tensors; i++) {
    const descent_tensor_info *t = &obj->tensors[i];
    char name[64];
    torch_name(t->name, name, sizeof name);
    const st_tensor *s = find_tensor(ts, n, name);
    size_t width = s->is_f64 ? 8 : 4;
    for (size_t j = 0; j < t->size; j++)
      obj->params[t->offset + j] = (descent_real)get_value(data + s->begin + j * width, s->is_f64);
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
