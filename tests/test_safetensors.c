/*
 * test_safetensors.c - weights out and back in through safetensors, and
 * every kind of broken or hostile file refused without touching the network.
 */
#include "check.h"

#include <math.h>
#include <stdlib.h>

static const descent_shape input4 = {1, {4}};
static const char *spec = "dense(3), tanh, dense(2)";
static char dir[512];

static descent_net *make_net(uint64_t seed) {
  descent_net *net = NULL;
  CHECK_OK(descent_net_create(&net, spec, &input4, DESCENT_LOSS_SOFTMAX_XENT, 4, seed));
  return net;
}

/* Writes a safetensors file from a header text and data bytes. */
static void write_raw(const char *path, const char *header, uint64_t header_len, const void *data,
                      size_t data_len) {
  FILE *f = fopen(path, "wb");
  unsigned char len[8];
  for (int i = 0; i < 8; i++) len[i] = (unsigned char)(header_len >> (8 * i));
  fwrite(len, 1, 8, f);
  fwrite(header, 1, strlen(header), f);
  if (data_len) fwrite(data, 1, data_len, f);
  fclose(f);
}

static void check_round_trip(void) {
  char path[600];
  snprintf(path, sizeof path, "%s/net.safetensors", dir);
  descent_net *a = make_net(1), *b = make_net(2);
  descent_objective *oa = descent_net_objective(a), *ob = descent_net_objective(b);
  CHECK(memcmp(oa->params, ob->params, oa->n_params * sizeof *oa->params) != 0);
  CHECK_OK(descent_net_export_safetensors(a, path));
  CHECK_OK(descent_net_import_safetensors(b, path));
  CHECK(memcmp(oa->params, ob->params, oa->n_params * sizeof *oa->params) == 0);
  /* The header names and shapes are PyTorch's. */
  FILE *f = fopen(path, "rb");
  char buf[1024] = {0};
  size_t got = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  CHECK(got > 8);
#ifdef DESCENT_DOUBLE
  CHECK(
      strstr(buf + 8, "\"0.weight\":{\"dtype\":\"F64\",\"shape\":[3,4],\"data_offsets\":[0,96]}"));
#else
  CHECK(
      strstr(buf + 8, "\"0.weight\":{\"dtype\":\"F32\",\"shape\":[3,4],\"data_offsets\":[0,48]}"));
#endif
  CHECK(strstr(buf + 8, "\"2.bias\":{\"dtype\":\"F"));
  /* A network of another shape refuses the file and keeps its weights. */
  descent_net *c = NULL;
  CHECK_OK(descent_net_create(&c, "dense(5), tanh, dense(2)", &input4, DESCENT_LOSS_MSE, 4, 3));
  descent_objective *oc = descent_net_objective(c);
  descent_real first = oc->params[0];
  CHECK_FAILS(descent_net_import_safetensors(c, path), DESCENT_ESHAPE, "another shape");
  CHECK(oc->params[0] == first);
  descent_net_free(a), descent_net_free(b), descent_net_free(c);
}

static void refused(const char *name, const char *header, uint64_t header_len, size_t data_len,
                    int status, const char *needle) {
  char path[600];
  snprintf(path, sizeof path, "%s/%s.safetensors", dir, name);
  static unsigned char data[4096];
  write_raw(path, header, header_len, data, data_len);
  descent_net *net = make_net(1);
  descent_objective *obj = descent_net_objective(net);
  descent_real *before = malloc(obj->n_params * sizeof *before);
  memcpy(before, obj->params, obj->n_params * sizeof *before);
  CHECK_FAILS(descent_net_import_safetensors(net, path), status, needle);
  CHECK_MSG(memcmp(before, obj->params, obj->n_params * sizeof *before) == 0,
            "%s: the network changed", name);
  free(before);
  descent_net_free(net);
}

#define W0 "\"0.weight\":{\"dtype\":\"F32\",\"shape\":[3,4],\"data_offsets\":[0,48]}"
#define B0 "\"0.bias\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[48,60]}"
#define W2 "\"2.weight\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[60,84]}"
#define B2 "\"2.bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[84,92]}"

static void check_hostile(void) {
  const char *good = "{" W0 "," B0 "," W2 "," B2 "}";
  refused("ok-but-short", good, strlen(good), 91, DESCENT_EFORMAT,
          "cover 92 bytes, the file holds 91");
  refused("trailing", good, strlen(good), 93, DESCENT_EFORMAT, "cover 92 bytes, the file holds 93");
  refused("huge-header", good, 1ull << 40, 92, DESCENT_EFORMAT, "does not fit the file");
  refused("header-past-end", good, strlen(good) + 200, 92, DESCENT_EFORMAT, "does not fit");
  refused("not-json", "{\"0.weight\": [", 14, 0, DESCENT_EFORMAT, "not a JSON object");
  refused("array", "[1,2]", 5, 0, DESCENT_EFORMAT, "not a JSON object");
  refused("missing", "{" W0 "," B0 "," W2 "}", strlen("{" W0 "," B0 "," W2 "}"), 84, DESCENT_ESHAPE,
          "3 tensors, the network has 4");
  const char *f16 = "{\"0.weight\":{\"dtype\":\"F16\",\"shape\":[3,4],\"data_offsets\":[0,24]}}";
  refused("f16", f16, strlen(f16), 24, DESCENT_EFORMAT, "dtype F16");
  const char *size = "{\"0.weight\":{\"dtype\":\"F32\",\"shape\":[3,5],\"data_offsets\":[0,48]}}";
  refused("size", size, strlen(size), 48, DESCENT_EFORMAT,
          "needs 15 values but data_offsets span 48");
  const char *overlap =
      "{" W0 ",\"0.bias\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[40,52]}}";
  refused("overlap", overlap, strlen(overlap), 52, DESCENT_EFORMAT, "(overlap)");
  const char *hole =
      "{" W0 ",\"0.bias\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[52,64]}}";
  refused("hole", hole, strlen(hole), 64, DESCENT_EFORMAT, "(hole)");
  const char *neg = "{\"0.weight\":{\"dtype\":\"F32\",\"shape\":[-3,4],\"data_offsets\":[0,48]}}";
  refused("negative", neg, strlen(neg), 48, DESCENT_EFORMAT, "invalid shape");
  const char *big =
      "{\"0.weight\":{\"dtype\":\"F32\",\"shape\":[1e15,1e15],\"data_offsets\":[0,48]}}";
  refused("overflow", big, strlen(big), 48, DESCENT_EFORMAT, "invalid shape");
  const char *nooff = "{\"0.weight\":{\"dtype\":\"F32\",\"shape\":[3,4]}}";
  refused("no-offsets", nooff, strlen(nooff), 48, DESCENT_EFORMAT, "lacks a dtype, a shape or two");
  const char *wrongname = "{" W0 "," B0 "," W2 ",\"3.bias\":{\"dtype\":\"F32\",\"shape\":[2],"
                          "\"data_offsets\":[84,92]}}";
  refused("name", wrongname, strlen(wrongname), 92, DESCENT_ESHAPE, "no tensor '2.bias'");
  refused("tiny", "", 0, 0, DESCENT_EFORMAT, "not a JSON object");
  char path[600];
  snprintf(path, sizeof path, "%s/short.safetensors", dir);
  FILE *f = fopen(path, "wb");
  fwrite("abc", 1, 3, f);
  fclose(f);
  descent_net *net = make_net(1);
  CHECK_FAILS(descent_net_import_safetensors(net, path), DESCENT_EFORMAT, "too short");
  CHECK_FAILS(descent_net_import_safetensors(net, "/nonexistent.safetensors"), DESCENT_EIO,
              "cannot open");
  descent_net_free(net);
}

/* F64 files (PyTorch's double tensors) are read and rounded to float. */
static void check_f64(void) {
  char path[600];
  snprintf(path, sizeof path, "%s/f64.safetensors", dir);
  const char *h = "{\"0.weight\":{\"dtype\":\"F64\",\"shape\":[3,4],\"data_offsets\":[0,96]},"
                  "\"0.bias\":{\"dtype\":\"F64\",\"shape\":[3],\"data_offsets\":[96,120]},"
                  "\"2.weight\":{\"dtype\":\"F64\",\"shape\":[2,3],\"data_offsets\":[120,168]},"
                  "\"2.bias\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[168,184]}}";
  double values[23];
  for (int i = 0; i < 23; i++) values[i] = 0.25 * i - 1;
  write_raw(path, h, strlen(h), values, sizeof values);
  descent_net *net = make_net(1);
  CHECK_OK(descent_net_import_safetensors(net, path));
  descent_objective *obj = descent_net_objective(net);
  int same = 1;
  for (int i = 0; i < 23; i++) same &= obj->params[i] == (descent_real)values[i];
  CHECK(same);
  descent_net_free(net);
}

/* Non-finite values are refused, naming the tensor; an F64 value beyond the
   float range too (in the float build). */
static void check_nonfinite(void) {
  const char *h = "{" W0 "," B0 "," W2 "," B2 "}";
  char path[600];
  snprintf(path, sizeof path, "%s/nan.safetensors", dir);
  float values[23];
  for (int i = 0; i < 23; i++) values[i] = 0.5f;
  values[13] = NAN; /* 0.bias, element 1 */
  write_raw(path, h, strlen(h), values, sizeof values);
  descent_net *net = make_net(1);
  descent_objective *obj = descent_net_objective(net);
  descent_real first = obj->params[0];
  CHECK_FAILS(descent_net_import_safetensors(net, path), DESCENT_EFORMAT,
              "tensor '0.bias' holds nan at element 1: not a finite number");
  values[13] = 0.5f;
  values[22] = -INFINITY;
  write_raw(path, h, strlen(h), values, sizeof values);
  CHECK_FAILS(descent_net_import_safetensors(net, path), DESCENT_EFORMAT,
              "tensor '2.bias' holds -inf at element 1");
  CHECK(obj->params[0] == first);
#ifndef DESCENT_DOUBLE
  const char *h64 = "{\"0.weight\":{\"dtype\":\"F64\",\"shape\":[3,4],\"data_offsets\":[0,96]},"
                    "\"0.bias\":{\"dtype\":\"F64\",\"shape\":[3],\"data_offsets\":[96,120]},"
                    "\"2.weight\":{\"dtype\":\"F64\",\"shape\":[2,3],\"data_offsets\":[120,168]},"
                    "\"2.bias\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[168,184]}}";
  double big[23] = {0};
  big[4] = 1e300; /* 0.weight, element 4 */
  write_raw(path, h64, strlen(h64), big, sizeof big);
  CHECK_FAILS(
      descent_net_import_safetensors(net, path), DESCENT_EFORMAT,
      "tensor '0.weight' holds 1e+300 at element 4, beyond the range of this build's floats");
  CHECK(obj->params[0] == first);
#endif
  descent_net_free(net);
}

/* Batch norm's running statistics go out under PyTorch's buffer names, with
   num_batches_tracked (I64, 0), and come back in. */
static void check_batchnorm(void) {
  const descent_shape in = {1, {4}};
  const char *bn_spec = "dense(3), batchnorm, relu, dense(2)";
  descent_net *a = NULL, *b = NULL;
  CHECK_OK(descent_net_create(&a, bn_spec, &in, DESCENT_LOSS_SOFTMAX_XENT, 4, 1));
  CHECK_OK(descent_net_create(&b, bn_spec, &in, DESCENT_LOSS_SOFTMAX_XENT, 4, 2));
  if (!a || !b) return;
  size_t n;
  descent_real *ba = descent_net_buffers(a, &n), *bb = descent_net_buffers(b, &n);
  CHECK(n == 6);
  for (size_t i = 0; i < n; i++) ba[i] = (descent_real)(0.25 * (double)i + 0.5);
  char path[600];
  snprintf(path, sizeof path, "%s/bn.safetensors", dir);
  CHECK_OK(descent_net_export_safetensors(a, path));
  FILE *f = fopen(path, "rb");
  char buf[2048] = {0};
  size_t got = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
  if (f) fclose(f);
  CHECK(got > 8);
  CHECK(strstr(buf + 8, "\"1.running_mean\":{\"dtype\":\"F"));
  CHECK(strstr(buf + 8, "\"1.running_var\":{\"dtype\":\"F"));
  CHECK(strstr(buf + 8, "\"1.num_batches_tracked\":{\"dtype\":\"I64\",\"shape\":[]"));
  CHECK_OK(descent_net_import_safetensors(b, path));
  CHECK(memcmp(ba, bb, n * sizeof *ba) == 0);
  descent_objective *oa = descent_net_objective(a), *ob = descent_net_objective(b);
  CHECK(memcmp(oa->params, ob->params, oa->n_params * sizeof *oa->params) == 0);
  /* A negative variance is refused, and the network keeps its state. */
  ba[3] = -2;
  CHECK_OK(descent_net_export_safetensors(a, path));
  bb[3] = 7;
  CHECK_FAILS(descent_net_import_safetensors(b, path), DESCENT_EFORMAT,
              "tensor '1.running_var' holds a negative variance (-2 at element 0)");
  CHECK(bb[3] == 7);
  descent_net_free(a), descent_net_free(b);
}

#define BN_W0 "\"0.weight\":{\"dtype\":\"F32\",\"shape\":[3,4],\"data_offsets\":[0,48]}"
#define BN_B0 "\"0.bias\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[48,60]}"
#define BN_G1 "\"1.weight\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[60,72]}"
#define BN_B1 "\"1.bias\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[72,84]}"
#define BN_W3 "\"3.weight\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[84,108]}"
#define BN_B3 "\"3.bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[108,116]}"
#define BN_M1 "\"1.running_mean\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[116,128]}"
#define BN_V1 "\"1.running_var\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[128,140]}"

/* What PyTorch's save_file writes for the twin of a batch-norm network:
   accepted with or without num_batches_tracked; a wrong one, a missing
   statistic or a stray tensor is refused. */
static void check_batchnorm_files(void) {
  const descent_shape in = {1, {4}};
  descent_net *net = NULL;
  CHECK_OK(descent_net_create(&net, "dense(3), batchnorm, relu, dense(2)", &in,
                              DESCENT_LOSS_SOFTMAX_XENT, 4, 1));
  if (!net) return;
  char path[600];
  snprintf(path, sizeof path, "%s/bnfile.safetensors", dir);
  unsigned char data[160] = {0};
  float one = 1;
  for (int i = 0; i < 3; i++) memcpy(data + 128 + 4 * i, &one, 4);
  const char *params =
      "{" BN_W0 "," BN_B0 "," BN_G1 "," BN_B1 "," BN_W3 "," BN_B3 "," BN_M1 "," BN_V1;
  char h[2048];
  snprintf(h, sizeof h, "%s,%s}", params,
           "\"1.num_batches_tracked\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[140,148]}");
  write_raw(path, h, strlen(h), data, 148);
  CHECK_OK(descent_net_import_safetensors(net, path));
  snprintf(h, sizeof h, "%s}", params);
  write_raw(path, h, strlen(h), data, 140);
  CHECK_OK(descent_net_import_safetensors(net, path));
  snprintf(h, sizeof h, "%s,%s}", params,
           "\"1.num_batches_tracked\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[140,144]}");
  write_raw(path, h, strlen(h), data, 144);
  CHECK_FAILS(descent_net_import_safetensors(net, path), DESCENT_EFORMAT,
              "'1.num_batches_tracked' must be one int64 (I64) value");
  snprintf(h, sizeof h, "%s,%s}", params,
           "\"5.num_batches_tracked\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[140,148]}");
  write_raw(path, h, strlen(h), data, 148);
  CHECK_FAILS(descent_net_import_safetensors(net, path), DESCENT_ESHAPE,
              "tensor '5.num_batches_tracked' belongs to no tensor of this network");
  const char *no_stats = "{" BN_W0 "," BN_B0 "," BN_G1 "," BN_B1 "," BN_W3 "," BN_B3 "}";
  write_raw(path, no_stats, strlen(no_stats), data, 116);
  CHECK_FAILS(descent_net_import_safetensors(net, path), DESCENT_ESHAPE,
              "6 tensors, the network has 8");
  descent_net_free(net);
}

int main(void) {
  const char *tmp = getenv("DESCENT_TEST_TMP");
  snprintf(dir, sizeof dir, "%s", tmp ? tmp : "/tmp");
  check_round_trip();
  check_hostile();
  check_f64();
  check_nonfinite();
  check_batchnorm();
  check_batchnorm_files();
  return check_report();
}
