/*
 * fuzz_spec.c - the text syntax: model specs, optimizer chains and learning
 * rates. The first byte picks which; every refusal must carry a message, and
 * an accepted model must train one step on a tiny batch.
 */
#include "descent.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1 || size > 4096) return 0;
  uint8_t mode = data[0];
  char *text = fuzz_text(data + 1, size - 1);
  int rc;
  /* A spec may legitimately ask for billions of parameters; building them is
     slow, not wrong. Keep the fuzzer on parsing: no width of 5 digits or more. */
  int digits = 0;
  for (const char *c = text; *c; c++) {
    digits = (*c >= '0' && *c <= '9') ? digits + 1 : 0;
    if (digits >= 5 && mode % 3 == 0) {
      free(text);
      return 0;
    }
  }
  if (mode % 3 == 0) {
    descent_net *net = NULL;
    descent_shape in = {3, {2, 6, 6}};
    rc = descent_net_create(&net, text, &in, DESCENT_LOSS_SOFTMAX_XENT, 2, 1);
    if (rc == DESCENT_OK) {
      /* Keep the fuzzer fast: only step networks of modest size. */
      descent_objective *obj = descent_net_objective(net);
      if (obj->n_params < 200000 && descent_net_outputs(net) >= 2) {
        descent_real x[2 * 72] = {0};
        int32_t labels[2] = {0, 1};
        descent_batch b = {.n = 2, .x = x, .labels = labels};
        double loss;
        descent_objective_value_and_grad(obj, &b, &loss);
      }
      descent_net_free(net);
    }
  } else if (mode % 3 == 1) {
    descent_optimizer *opt = NULL;
    rc = descent_optimizer_create(&opt, text, NULL, 5);
    if (rc == DESCENT_OK) {
      descent_real p[5] = {1, 2, 3, 4, 5}, g[5] = {1, -1, 0, 2, -2};
      descent_objective obj = {.n_params = 5, .params = p, .grad = g};
      descent_optimizer_step(opt, &obj);
      descent_optimizer_free(opt);
    }
  } else {
    descent_schedule *s = NULL;
    rc = descent_schedule_parse(&s, text);
    if (rc == DESCENT_OK) {
      for (int64_t t = 0; t < 1000000; t = t * 3 + 1) descent_schedule_value(s, t);
      descent_schedule_free(s);
    }
  }
  if (rc != DESCENT_OK && descent_last_error()[0] == '\0') abort();
  free(text);
  return 0;
}
