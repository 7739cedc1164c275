/*
 * fuzz_model.c - model files and safetensors weights from arbitrary bytes.
 * The first byte picks the reader (and, for safetensors, a network with or
 * without batch norm). Whatever the input, the readers must refuse with a
 * message or produce a network whose parameters and buffers are finite and
 * that predicts without fault.
 */
#include "descent.h"
#include "fuzz_util.h"

#include <math.h>

/* What a reader accepted is finite: non-finite values are refused at load. */
static void check_finite(descent_net *net) {
  descent_objective *obj = descent_net_objective(net);
  size_t n_buffers;
  const descent_real *buffers = descent_net_buffers(net, &n_buffers);
  for (size_t i = 0; i < obj->n_params; i++)
    if (!isfinite(obj->params[i])) abort();
  for (size_t i = 0; i < n_buffers; i++)
    if (!isfinite(buffers[i])) abort();
}

static void predict_once(descent_net *net) {
  check_finite(net);
  descent_shape in = descent_net_input_shape(net);
  size_t features = descent_shape_size(&in), outputs = descent_net_outputs(net);
  if (features > 100000 || outputs > 100000) return;
  descent_real *x = calloc(features, sizeof *x), *y = calloc(outputs, sizeof *y);
  if (!x || !y) abort();
  descent_net_predict(net, x, 1, y);
  free(x);
  free(y);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  char path[64];
  int fd = fuzz_memfile(data + 1, size - 1, path, sizeof path);
  int rc;
  if (data[0] & 1) {
    descent_net *net = NULL;
    descent_preprocess pp;
    rc = descent_net_load(&net, &pp, path, 2);
    if (rc == DESCENT_OK) {
      predict_once(net);
      descent_preprocess_free(&pp);
      descent_net_free(net);
    }
  } else {
    descent_net *net = NULL;
    descent_shape in = {1, {4}};
    const char *spec =
        data[0] & 2 ? "dense(3), batchnorm, tanh, dense(2)" : "dense(3), tanh, dense(2)";
    if (descent_net_create(&net, spec, &in, DESCENT_LOSS_MSE, 2, 1)) abort();
    rc = descent_net_import_safetensors(net, path);
    if (rc == DESCENT_OK) predict_once(net);
    descent_net_free(net);
  }
  if (rc != DESCENT_OK && descent_last_error()[0] == '\0') abort();
  close(fd);
  return 0;
}
