/*
 * group_step.c - times one AdamW step with parameter groups against the same
 * step without them, on the tensors of mlp:784-256-128-10 (235,146 float
 * parameters): "adamw" alone, and "adamw @ weight ; adamw(weight_decay=0) @
 * *" (no decay on the biases), whose groups interleave in the flat buffer.
 *
 * Usage: group_step [--threads T] [--steps S] [--repeats R]
 * Prints, per repeat and spec, the milliseconds per step (CPU time of the
 * process, so that time spent waiting for a core on a shared machine is left
 * out); the lowest of the repeats is the one to compare.
 * Build: cc -O3 -march=native -fopenmp -Iinclude bench/group_step.c build/libdescent.a
 *        -L/usr/lib/x86_64-linux-gnu/openblas-openmp -lopenblas -fopenmp -lz -lm
 */
#include "descent.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

/* The MLP's tensors: weight and bias of three dense layers. */
static size_t mlp_layout(descent_tensor_info *t) {
  static const size_t dims[3][2] = {{256, 784}, {128, 256}, {10, 128}};
  size_t offset = 0, k = 0;
  for (int l = 0; l < 3; l++) {
    for (int part = 0; part < 2; part++, k++) {
      memset(&t[k], 0, sizeof t[k]);
      snprintf(t[k].name, sizeof t[k].name, "layer%d.dense.%s", 2 * l + 1,
               part ? "bias" : "weight");
      t[k].shape.ndim = part ? 1 : 2;
      t[k].shape.dims[0] = dims[l][0];
      if (!part) t[k].shape.dims[1] = dims[l][1];
      t[k].size = part ? dims[l][0] : dims[l][0] * dims[l][1];
      t[k].offset = offset;
      offset += t[k].size;
    }
  }
  return offset;
}

int main(int argc, char **argv) {
  int threads = 1, steps = 200, repeats = 5;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--threads") == 0) threads = atoi(argv[i + 1]);
    if (strcmp(argv[i], "--steps") == 0) steps = atoi(argv[i + 1]);
    if (strcmp(argv[i], "--repeats") == 0) repeats = atoi(argv[i + 1]);
  }
  descent_tensor_info t[6];
  size_t n = mlp_layout(t);
  descent_real *p = calloc(n, sizeof *p), *g = calloc(n, sizeof *g);
  if (!p || !g) return 1;
  for (size_t i = 0; i < n; i++) g[i] = (descent_real)((double)(i % 101) - 50) * 1e-3f;
  const char *specs[] = {"adamw", "adamw @ weight ; adamw(weight_decay=0) @ *"};
  for (int r = 0; r < repeats; r++)
    for (int s = 0; s < 2; s++) {
      descent_optimizer *opt;
      if (descent_optimizer_create(&opt, specs[s], NULL, n) ||
          descent_optimizer_set_tensors(opt, t, 6) || descent_optimizer_set_threads(opt, threads)) {
        fprintf(stderr, "group_step: %s\n", descent_last_error());
        return 1;
      }
      descent_objective obj = {.n_params = n, .params = p, .grad = g, .n_tensors = 6, .tensors = t};
      descent_optimizer_step(opt, &obj); /* the first step allocates */
      double start = now_ms();
      for (int k = 0; k < steps; k++) descent_optimizer_step(opt, &obj);
      double ms = (now_ms() - start) / steps;
      printf("group_step spec=\"%s\" threads=%d n=%zu repeat=%d ms_per_step=%.4f\n", specs[s],
             threads, n, r, ms);
      descent_optimizer_free(opt);
    }
  free(p);
  free(g);
  return 0;
}
