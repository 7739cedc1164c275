/*
 * test_model_io.c - saving and loading models: a round trip gives the same
 * predictions bit for bit (convolution, batch norm with trained statistics,
 * dropout's RNG, each preprocessing), and a truncated file, a flipped byte, a
 * wrong magic number, a newer version, trailing bytes and a missing file are
 * each refused with a message naming the file and the problem. A section the
 * reader does not know (as a checkpoint adds) is skipped.
 */
#include "check.h"
#include "test_files.h"
#include "nn/model_io.h"

#include <math.h>
#include <stdlib.h>

static char dir[512];

static const char *tmp_path(const char *name) {
  static char path[1024];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  return path;
}

#define N 12
static descent_real x[N * 2 * 6 * 6];
static int32_t labels[N];

/* A network with every kind of state, trained a few steps so its batch-norm
   statistics and RNG have moved. */
static descent_net *trained_net(void) {
  descent_shape in = {3, {2, 6, 6}};
  descent_net *net = NULL;
  CHECK_OK(descent_net_create(&net,
                              "conv(4, 3, pad=1), batchnorm, relu, maxpool(2), flatten, "
                              "dropout(0.3), dense(5), batchnorm(momentum=0.2), dense(3)",
                              &in, DESCENT_LOSS_SOFTMAX_XENT, N, 11));
  if (!net) return NULL;
  descent_objective *obj = descent_net_objective(net);
  descent_batch batch = {.n = N, .x = x, .labels = labels};
  for (int step = 0; step < 3; step++) {
    double loss;
    CHECK_OK(descent_objective_value_and_grad(obj, &batch, &loss));
    for (size_t i = 0; i < obj->n_params; i++) obj->params[i] -= (descent_real)0.1 * obj->grad[i];
  }
  return net;
}

static void check_round_trip(descent_preprocess_kind kind) {
  descent_net *net = trained_net();
  if (!net) return;
  descent_dataset ds = {.n = N, .shape = {3, {2, 6, 6}}, .features = 72, .x = x};
  descent_preprocess pp = {0};
  CHECK_OK(descent_preprocess_fit(&pp, kind, &ds, descent_preprocess_default_eps(kind)));
  const char *path = tmp_path("round.bin");
  CHECK_OK(descent_net_save(net, kind == DESCENT_PREPROCESS_NONE ? NULL : &pp, path));
  descent_net *back = NULL;
  descent_preprocess pp2;
  CHECK_OK(descent_net_load(&back, &pp2, path, 5));
  if (!back) return;
  CHECK(strcmp(descent_net_spec(back), descent_net_spec(net)) == 0);
  CHECK(descent_net_max_batch(back) == 5 && descent_net_loss(back) == DESCENT_LOSS_SOFTMAX_XENT);
  descent_objective *a = descent_net_objective(net), *b = descent_net_objective(back);
  CHECK(a->n_params == b->n_params &&
        memcmp(a->params, b->params, a->n_params * sizeof *a->params) == 0);
  size_t na, nb;
  descent_real *ba = descent_net_buffers(net, &na), *bb = descent_net_buffers(back, &nb);
  CHECK(na == nb && na == 2 * 4 + 2 * 5 && memcmp(ba, bb, na * sizeof *ba) == 0);
  CHECK(ba[0] != 0); /* the running mean moved */
  descent_rng ra, rb;
  descent_net_get_rng(net, &ra);
  descent_net_get_rng(back, &rb);
  CHECK(memcmp(&ra, &rb, sizeof ra) == 0);
  CHECK(pp2.kind == kind && pp2.features == 72 && pp2.eps == pp.eps);
  if (kind != DESCENT_PREPROCESS_NONE) CHECK(memcmp(pp.mean, pp2.mean, 72 * sizeof *pp.mean) == 0);
  if (pp.inv_std) CHECK(memcmp(pp.inv_std, pp2.inv_std, 72 * sizeof *pp.inv_std) == 0);
  if (pp.whiten) CHECK(memcmp(pp.whiten, pp2.whiten, 72 * 72 * sizeof *pp.whiten) == 0);
  /* Same predictions, preprocessed the same way. */
  descent_real *x1 = malloc(sizeof x), *x2 = malloc(sizeof x), ya[N * 3], yb[N * 3];
  memcpy(x1, x, sizeof x);
  memcpy(x2, x, sizeof x);
  descent_dataset d1 = ds, d2 = ds;
  d1.x = x1, d2.x = x2;
  CHECK_OK(descent_preprocess_apply(&pp, &d1));
  CHECK_OK(descent_preprocess_apply(&pp2, &d2));
  CHECK(memcmp(x1, x2, sizeof x) == 0);
  for (size_t start = 0; start < N; start += 5) {
    size_t n = N - start < 5 ? N - start : 5;
    CHECK_OK(descent_net_predict(net, x1 + start * 72, n, ya + start * 3));
    CHECK_OK(descent_net_predict(back, x2 + start * 72, n, yb + start * 3));
  }
  CHECK(memcmp(ya, yb, sizeof ya) == 0);
  printf("round trip with %s preprocessing: same parameters, buffers, RNG and predictions\n",
         descent_preprocess_name(kind));
  free(x1), free(x2);
  descent_preprocess_free(&pp);
  descent_preprocess_free(&pp2);
  descent_net_free(net);
  descent_net_free(back);
}

/* Writes data to a file and requires the load to fail with status and a
   message holding the file's name and needle. */
static void refused(const char *name, const unsigned char *data, size_t len, int status,
                    const char *needle) {
  const char *path = tmp_path(name);
  spit(path, data, len);
  descent_net *net = (descent_net *)1;
  CHECK_FAILS(descent_net_load(&net, NULL, path, 4), status, needle);
  CHECK(net == NULL);
  CHECK_MSG(strstr(descent_last_error(), path) != NULL, "message lacks the path: %s",
            descent_last_error());
  printf("%-10s refused: %s\n", name, descent_last_error());
}

static void check_refusals(void) {
  descent_net *net = trained_net();
  if (!net) return;
  const char *path = tmp_path("good.bin");
  CHECK_OK(descent_net_save(net, NULL, path));
  descent_net_free(net);
  size_t len;
  unsigned char *good = slurp(path, &len);
  CHECK(good && len > 100);
  if (!good) return;
  unsigned char *bad = malloc(len + 64);
  refused("short", good, 10, DESCENT_EFORMAT, "file truncated: 10 bytes");
  refused("cut", good, len - 1, DESCENT_EFORMAT, "file truncated: section 'RNG '");
  refused("half", good, len / 2, DESCENT_EFORMAT, "file truncated: section 'PARM' declares");
  memcpy(bad, good, len);
  bad[len / 2] ^= 0x10; /* inside the parameters */
  refused("flipped", bad, len, DESCENT_EFORMAT, "section 'PARM' is corrupted (CRC-32");
  memcpy(bad, good, len);
  bad[0] = 'X';
  refused("magic", bad, len, DESCENT_EFORMAT, "not a descent model file");
  memcpy(bad, good, len);
  bad[8] = 2;
  refused("version", bad, len, DESCENT_ENOTSUP,
          "format version 2; this descent reads version 1 (the file comes from a newer descent)");
  bad[8] = 0;
  refused("version 0", bad, len, DESCENT_EFORMAT, "format version 0; this descent reads version 1");
  memcpy(bad, good, len);
  memcpy(bad + len, "junk", 4);
  refused("trailing", bad, len + 4, DESCENT_EFORMAT, "4 unexpected bytes after the last section");
  memcpy(bad, good, len);
  bad[12] = 9; /* more sections declared than there are */
  refused("count", bad, len, DESCENT_EFORMAT, "file truncated: section 6 of 9");
  descent_net *none = (descent_net *)1;
  CHECK_FAILS(descent_net_load(&none, NULL, tmp_path("missing.bin"), 4), DESCENT_EIO,
              "missing.bin");
  /* An extra section, as a checkpoint would add: skipped. */
  bytes_out o = {0};
  out_bytes(&o, good, len);
  size_t s = section_begin(&o, "OPTM");
  out_u64(&o, 42);
  section_end(&o, s);
  model_file_finish(&o);
  CHECK(!o.failed && o.data[12] == 6);
  spit(tmp_path("extended.bin"), o.data, o.len);
  CHECK_OK(descent_net_load(&none, NULL, tmp_path("extended.bin"), 4));
  descent_net_free(none);
  free(o.data);
  free(bad);
  free(good);
}

/* Writes net and pp with the file-format writer itself (not descent_net_save,
   which may refuse such a model), then requires loading (as a model, and its
   counts and values checked as a checkpoint's are) to fail naming needle. */
static void refused_model(const char *name, const descent_net *net, const descent_preprocess *pp,
                          const char *needle) {
  bytes_out o = {0};
  model_write(&o, net, pp);
  model_file_finish(&o);
  CHECK(!o.failed);
  refused(name, o.data, o.len, DESCENT_EFORMAT, needle);
  free(o.data);
}

/* A non-finite parameter, buffer value or preprocessing constant, or a
   negative running variance, is refused at load, naming the tensor. */
static void check_nonfinite(void) {
  descent_net *net = trained_net();
  if (!net) return;
  descent_objective *obj = descent_net_objective(net);
  size_t n_buffers;
  descent_real *buffers = descent_net_buffers(net, &n_buffers);
  descent_real keep = obj->params[0];
  obj->params[0] = (descent_real)NAN;
  refused_model("nan_param", net, NULL, "parameter 'layer1.conv.weight' holds a non-finite value");
  obj->params[0] = keep;
  keep = obj->params[obj->n_params - 1];
  obj->params[obj->n_params - 1] = (descent_real)INFINITY;
  refused_model("inf_param", net, NULL, "parameter 'layer9.dense.bias' holds a non-finite value");
  obj->params[obj->n_params - 1] = keep;
  keep = buffers[1];
  buffers[1] = (descent_real)NAN;
  refused_model("nan_mean", net, NULL, "buffer 'layer2.batchnorm.running_mean' holds a non-finite");
  buffers[1] = keep;
  keep = buffers[5];
  buffers[5] = -1;
  refused_model(
      "neg_var", net, NULL,
      "buffer 'layer2.batchnorm.running_var' holds a negative variance (-1 at element 1)");
  buffers[5] = keep;
  descent_dataset ds = {.n = N, .shape = {3, {2, 6, 6}}, .features = 72, .x = x};
  descent_preprocess pp = {0};
  CHECK_OK(descent_preprocess_fit(&pp, DESCENT_PREPROCESS_STANDARDIZE, &ds, 1e-3));
  pp.mean[3] = (descent_real)NAN;
  refused_model("nan_prep", net, &pp, "preprocessing mean holds nan at feature 3");
  pp.mean[3] = 0;
  pp.inv_std[2] = -1;
  refused_model("neg_std", net, &pp, "preprocessing inv_std holds -1 at feature 2");
  descent_preprocess_free(&pp);
  CHECK_OK(descent_preprocess_fit(&pp, DESCENT_PREPROCESS_ZCA, &ds, 1e-2));
  pp.whiten[72 + 5] = (descent_real)INFINITY;
  refused_model("inf_white", net, &pp, "whitening matrix holds inf at row 1, column 5");
  descent_preprocess_free(&pp);
  /* All finite again: loads. */
  bytes_out o = {0};
  model_write(&o, net, NULL);
  model_file_finish(&o);
  spit(tmp_path("finite.bin"), o.data, o.len);
  free(o.data);
  descent_net *back = NULL;
  CHECK_OK(descent_net_load(&back, NULL, tmp_path("finite.bin"), 4));
  descent_net_free(back);
  descent_net_free(net);
}

/* A small file whose spec asks for far more parameters than it holds is
   refused by comparing the counts before the network is built. The spec
   here asks for 20 x (2^34 + 2^17) parameters: building it first would ask for
   terabytes. */
static void check_huge_spec(void) {
  char spec[1024] = "";
  for (int i = 0; i < 20; i++) strcat(spec, i ? ", dense(131072)" : "dense(131072)");
  bytes_out o = {0};
  out_bytes(&o, MODEL_MAGIC, 8);
  out_u32(&o, MODEL_VERSION);
  out_u32(&o, 0);
  size_t s = section_begin(&o, "NET ");
  out_u32(&o, (uint32_t)strlen(spec));
  out_bytes(&o, spec, strlen(spec));
  out_u32(&o, 1);
  out_u64(&o, 131072);
  out_u32(&o, DESCENT_LOSS_SOFTMAX_XENT);
  out_u32(&o, sizeof(descent_real));
  section_end(&o, s);
  s = section_begin(&o, "PARM");
  descent_real ten[10] = {0};
  out_u64(&o, 10);
  out_reals(&o, ten, 10, sizeof(descent_real));
  section_end(&o, s);
  s = section_begin(&o, "BUFF");
  out_u64(&o, 0);
  section_end(&o, s);
  s = section_begin(&o, "PREP");
  out_u32(&o, DESCENT_PREPROCESS_NONE);
  out_u64(&o, 131072);
  out_f64(&o, 0);
  section_end(&o, s);
  s = section_begin(&o, "RNG ");
  for (int i = 0; i < 4; i++) out_u64(&o, 1);
  section_end(&o, s);
  model_file_finish(&o);
  CHECK(!o.failed);
  refused("huge_spec", o.data, o.len, DESCENT_ESHAPE,
          "10 parameters and 0 buffer values stored, but the saved spec builds a network with "
          "343600005120 and 0");
  free(o.data);
}

int main(void) {
  const char *base = getenv("DESCENT_TEST_TMP");
  snprintf(dir, sizeof dir, "%s", base ? base : "/tmp");
  descent_rng rng;
  descent_rng_seed(&rng, 2);
  for (size_t i = 0; i < sizeof x / sizeof *x; i++) x[i] = (descent_real)descent_rng_normal(&rng);
  for (int i = 0; i < N; i++) labels[i] = i % 3;
  check_round_trip(DESCENT_PREPROCESS_NONE);
  check_round_trip(DESCENT_PREPROCESS_STANDARDIZE);
  check_round_trip(DESCENT_PREPROCESS_PCA);
  check_round_trip(DESCENT_PREPROCESS_ZCA);
  check_refusals();
  check_nonfinite();
  check_huge_spec();
  return check_report();
}
