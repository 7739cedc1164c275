/*
 * test_method_state.c - hostile optimizer state blobs for the curvature
 * methods (sdlm, kfac, hf, newton_cg, sophia): a checkpoint can be damaged or
 * forged with a valid checksum, so each method's own bytes are checked by
 * the method alone. For each method, after a few steps on a small network
 * with dropout, the saved blob's method part is
 *  - cut short at every length (the blob's length field and checksum made
 *    to agree): every one refused as DESCENT_EFORMAT, the optimizer
 *    unchanged;
 *  - changed byte by byte (a low bit, the high bit or every bit, in turn;
 *    the checksum recomputed): refused with a negative status, or taken, and
 *    then a step on the network returns a status (no read or write out of
 *    bounds: this test runs under the sanitizers' build too);
 *  - given counters at INT64_MAX: refused, since the next step's count
 *    could not be represented.
 */
#include "check.h"
#include "descent.h"
#include "internal.h"
#include "optim/optimizer.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define IN 4
#define N  8

static uint64_t fnv1a(const unsigned char *p, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

static void put_u64(unsigned char *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}

/* The blob's checksum made to agree with its bytes. */
static void seal(unsigned char *blob, size_t size) {
  put_u64(blob + size - 8, fnv1a(blob, size - 8));
}

static descent_batch batch_of(descent_real *x, int32_t *labels, uint64_t seed) {
  descent_rng rng;
  descent_rng_seed(&rng, seed);
  for (size_t i = 0; i < N * IN; i++) x[i] = (descent_real)descent_rng_normal(&rng);
  for (size_t i = 0; i < N; i++) labels[i] = (int32_t)descent_rng_below(&rng, 3);
  return (descent_batch){.n = N, .x = x, .labels = labels};
}

/* The saved state of a fresh optimizer, to see that a refused load left it
   as it was. */
static unsigned char *saved(const descent_optimizer *opt, size_t *size) {
  *size = descent_optimizer_state_size(opt);
  unsigned char *blob = malloc(*size);
  CHECK(blob != NULL);
  CHECK_OK(descent_optimizer_save_state(opt, blob, *size));
  return blob;
}

static void fuzz(const char *spec, const char *model, descent_shape shape, const size_t *counters,
                 size_t n_counters) {
  descent_net *net = NULL;
  CHECK_OK(descent_net_create(&net, model, &shape, DESCENT_LOSS_SOFTMAX_XENT, N, 3));
  descent_objective *obj = descent_net_objective(net);
  size_t n = obj->n_params;
  descent_real *start = malloc(n * sizeof *start);
  memcpy(start, obj->params, n * sizeof *start);
  descent_optimizer *opt = NULL;
  CHECK_OK(descent_optimizer_create(&opt, spec, NULL, n));
  descent_real x[N * IN];
  int32_t labels[N];
  for (int k = 0; k < 3; k++) {
    descent_batch batch = batch_of(x, labels, 10 + (uint64_t)k);
    CHECK_OK(descent_optimizer_step_closure(opt, obj, &batch, NULL));
  }
  size_t size;
  unsigned char *blob = saved(opt, &size);
  size_t own = opt->method->state_bytes(opt->method_state);
  size_t at = size - 8 - own; /* the method's bytes, after their length */
  CHECK(own > 0 && at >= 8);

  descent_optimizer *fresh = NULL;
  CHECK_OK(descent_optimizer_create(&fresh, spec, NULL, n));
  size_t clean_size;
  unsigned char *clean = saved(fresh, &clean_size);
  unsigned char *copy = malloc(size);
  descent_batch batch = batch_of(x, labels, 99);

  /* Cut short at every length. */
  int refused = 1, unchanged = 1;
  for (size_t len = 0; len < own; len++) {
    memcpy(copy, blob, at + len);
    put_u64(copy + at - 8, len);
    size_t cut = at + len + 8;
    seal(copy, cut);
    refused &= descent_optimizer_load_state(fresh, copy, cut) == DESCENT_EFORMAT;
    size_t now_size;
    unsigned char *now = saved(fresh, &now_size);
    unchanged &= now_size == clean_size && memcmp(now, clean, now_size) == 0;
    free(now);
  }
  CHECK_MSG(refused, "%s: a method state cut short was taken", spec);
  CHECK_MSG(unchanged, "%s: a refused method state changed the optimizer", spec);

  /* Changed byte by byte (a low bit, the high bit or every bit, in turn):
     refused, or taken and stepped on. */
  static const unsigned char flips[] = {0x01, 0x80, 0xff};
  int statuses_ok = 1;
  for (size_t i = 0; i < own; i++) {
    memcpy(copy, blob, size);
    copy[at + i] ^= flips[i % sizeof flips];
    seal(copy, size);
    descent_optimizer *o = NULL;
    CHECK_OK(descent_optimizer_create(&o, spec, NULL, n));
    int rc = descent_optimizer_load_state(o, copy, size);
    statuses_ok &= rc <= 0;
    if (rc == DESCENT_OK) {
      memcpy(obj->params, start, n * sizeof *start);
      rc = descent_optimizer_step_closure(o, obj, &batch, NULL);
      statuses_ok &= rc <= 0;
    }
    descent_optimizer_free(o);
  }
  CHECK_MSG(statuses_ok, "%s: a changed method state gave a positive status", spec);

  /* Counters at INT64_MAX. */
  for (size_t c = 0; c < n_counters; c++) {
    memcpy(copy, blob, size);
    put_u64(copy + at + counters[c], (uint64_t)INT64_MAX);
    seal(copy, size);
    CHECK_FAILS(descent_optimizer_load_state(fresh, copy, size), DESCENT_EFORMAT, "corrupted");
  }

  free(copy);
  free(clean);
  free(blob);
  free(start);
  descent_optimizer_free(fresh);
  descent_optimizer_free(opt);
  descent_net_free(net);
}

int main(void) {
  const char *model = "dense(5), tanh, dropout(0.2), dense(3)";
  const descent_shape flat = {1, {IN}}, image = {3, {1, 2, 2}};
  /* the byte offsets of each method's counters in its own state */
  const size_t sdlm_counters[] = {0, 8, 16};
  const size_t sophia_counters[] = {0, 8, 16};
  const size_t kfac_counters[] = {0, 8, 16, 24};
  const size_t hf_counters[] = {16, 24, 32, 40, 48};
  fuzz("sdlm(every=2)", model, flat, sdlm_counters, 3);
  fuzz("sdlm(samples=0, every=1)", model, flat, sdlm_counters, 3);
  fuzz("kfac(inv_every=2)", model, flat, kfac_counters, 4);
  fuzz("kfac(inv_every=2, momentum=0)", "conv(2, 3, pad=1), relu, flatten, dense(3)", image, NULL,
       0);
  fuzz("hf(max_cg=5)", model, flat, hf_counters, 5);
  fuzz("hf(max_cg=5, precond=ggn)", model, flat, NULL, 0);
  fuzz("newton_cg(max_cg=5)", model, flat, hf_counters, 5);
  fuzz("sophia(update_interval=2)", model, flat, sophia_counters, 3);
  fuzz("sophia(estimator=gnb, update_interval=1)", model, flat, sophia_counters, 3);
  return check_report();
}
