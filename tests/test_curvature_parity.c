/*
 * test_curvature_parity.c - Hessian- and Gauss-Newton-vector products of
 * small networks against PyTorch (torch.autograd.functional.hvp; torch.func
 * jvp and vjp for J^T H_L J v), from the fixture
 * tools/fixtures/curvature_fixtures.py writes (tests/fixtures/curvature).
 *
 * Each case builds the case's network and loss, loads torch's parameters,
 * takes a training step on the case's batch (value_and_grad: the products
 * replay it) and compares H v and G v with torch's. Errors are relative to
 * the product's largest entry: max |got - want| / max |want|, at most 1e-10
 * in the double build (inputs are float32 numbers, so the build reads what
 * torch used; torch computed in float64). The float build cannot reach that
 * and says SKIP.
 */
#include "check.h"

#include <stdlib.h>

#ifndef DESCENT_FIXTURE_DIR
#define DESCENT_FIXTURE_DIR "tests/fixtures/curvature"
#endif

#define LIMIT 1e-10

enum { PARAMS, X, LABELS, TARGETS, V, HV, GV, N_KEYS };
static const char *const keys[N_KEYS] = {"params", "x", "labels", "targets", "v", "hv", "gv"};

typedef struct parity_case {
  char name[64], spec[256];
  descent_loss_kind loss;
  descent_shape shape;
  size_t batch;
  double *values[N_KEYS];
  size_t counts[N_KEYS];
} parity_case;

/* The numbers after a line's key; NULL for malformed text. */
static double *parse_values(const char *text, size_t *count) {
  size_t n = 0, cap = 64;
  double *out = malloc(cap * sizeof *out);
  const char *p = text;
  for (;;) {
    char *end;
    double v = strtod(p, &end);
    if (end == p || !out) break;
    if (n == cap) {
      double *grown = realloc(out, (cap *= 2) * sizeof *out);
      if (!grown) {
        free(out);
        return NULL;
      }
      out = grown;
    }
    out[n++] = v;
    p = end;
  }
  while (*p == ' ' || *p == '\n') p++;
  if (*p) {
    free(out);
    return NULL;
  }
  *count = n;
  return out;
}

static double product_error(const descent_real *got, const double *want, size_t n) {
  double diff = 0, scale = 0;
  for (size_t i = 0; i < n; i++) {
    diff = fmax(diff, fabs(got[i] - want[i]));
    scale = fmax(scale, fabs(want[i]));
  }
  return scale > 0 ? diff / scale : diff;
}

static void run_case(parity_case *c) {
  descent_net *net = NULL;
  int rc = descent_net_create(&net, c->spec, &c->shape, c->loss, c->batch, 1);
  CHECK_MSG(rc == DESCENT_OK, "case %s: spec '%s' refused: %s", c->name, c->spec,
            descent_last_error());
  if (rc) return;
  descent_objective *obj = descent_net_objective(net);
  size_t n = obj->n_params, in = descent_shape_size(&c->shape), k = descent_net_outputs(net);
  int xent = c->loss == DESCENT_LOSS_SOFTMAX_XENT;
  CHECK_MSG(c->counts[PARAMS] == n && c->counts[V] == n && c->counts[HV] == n &&
                c->counts[GV] == n && c->counts[X] == c->batch * in &&
                (xent ? c->counts[LABELS] == c->batch : c->counts[TARGETS] == c->batch * k),
            "case %s: the fixture's sizes do not fit the network (%zu parameters)", c->name, n);
  if (check_failures) {
    descent_net_free(net);
    return;
  }
  descent_real *x = calloc(c->batch * in, sizeof *x), *targets = calloc(c->batch * k, sizeof *x);
  descent_real *v = calloc(n, sizeof *v), *out = calloc(n, sizeof *out);
  int32_t *labels = calloc(c->batch, sizeof *labels);
  for (size_t i = 0; i < n; i++) obj->params[i] = c->values[PARAMS][i], v[i] = c->values[V][i];
  for (size_t i = 0; i < c->batch * in; i++) x[i] = c->values[X][i];
  for (size_t i = 0; xent && i < c->batch; i++) labels[i] = (int32_t)c->values[LABELS][i];
  for (size_t i = 0; !xent && i < c->batch * k; i++) targets[i] = c->values[TARGETS][i];
  descent_batch batch = {
      .n = c->batch, .x = x, .labels = xent ? labels : NULL, .targets = xent ? NULL : targets};
  double loss;
  CHECK_OK(descent_objective_value_and_grad(obj, &batch, &loss));
  CHECK_OK(descent_objective_hvp(obj, &batch, v, out));
  double hv = product_error(out, c->values[HV], n);
  CHECK_OK(descent_objective_ggnvp(obj, &batch, v, out));
  double gv = product_error(out, c->values[GV], n);
  CHECK_MSG(hv <= LIMIT && gv <= LIMIT, "case %s: H v error %.3g, G v error %.3g (limit %.0e)",
            c->name, hv, gv, LIMIT);
  printf("%-28s H v %.2e  G v %.2e  (%zu parameters)\n", c->name, hv, gv, n);
  free(x), free(targets), free(v), free(out), free(labels);
  descent_net_free(net);
}

static void clear_case(parity_case *c) {
  for (int i = 0; i < N_KEYS; i++) free(c->values[i]);
  memset(c, 0, sizeof *c);
}

/* Reads the fixture line by line; a case runs at its `end`. Returns the
   number of cases run, or -1. */
static int run_file(const char *path) {
  FILE *f = fopen(path, "r");
  CHECK_MSG(f != NULL, "cannot open %s (regenerate with tools/fixtures/curvature_fixtures.py)",
            path);
  if (!f) return -1;
  char *line = NULL;
  size_t cap = 0;
  int line_no = 0, cases = 0;
  parity_case c;
  memset(&c, 0, sizeof c);
  while (getline(&line, &cap, f) > 0) {
    line_no++;
    if (line[0] == '#' || line[0] == '\n') continue;
    char key[32];
    int used = 0;
    if (sscanf(line, "%31s %n", key, &used) != 1) continue;
    const char *rest = line + used;
    size_t count = 0;
    if (strcmp(key, "case") == 0) {
      clear_case(&c);
      sscanf(rest, "%63s", c.name);
    } else if (strcmp(key, "spec") == 0) {
      snprintf(c.spec, sizeof c.spec, "%s", rest);
      c.spec[strcspn(c.spec, "\n")] = '\0';
    } else if (strcmp(key, "loss") == 0) {
      char name[16] = "";
      sscanf(rest, "%15s", name);
      CHECK_OK(descent_loss_parse(name, &c.loss));
    } else if (strcmp(key, "shape") == 0 || strcmp(key, "batch") == 0) {
      double *v = parse_values(rest, &count);
      CHECK_MSG(v && count >= 1 && count <= DESCENT_MAX_DIMS, "%s:%d: bad %s line", path, line_no,
                key);
      if (v && key[0] == 'b') c.batch = (size_t)v[0];
      if (v && key[0] == 's') {
        c.shape.ndim = (int)count;
        for (size_t i = 0; i < count; i++) c.shape.dims[i] = (size_t)v[i];
      }
      free(v);
    } else if (strcmp(key, "end") == 0) {
      run_case(&c);
      cases++;
    } else {
      int which = -1;
      for (int i = 0; i < N_KEYS; i++)
        if (strcmp(key, keys[i]) == 0) which = i;
      if (which < 0) continue; /* source, and keys added later */
      free(c.values[which]);
      c.values[which] = parse_values(rest, &c.counts[which]);
      CHECK_MSG(c.values[which] != NULL, "%s:%d: bad numbers after %s", path, line_no, key);
    }
  }
  clear_case(&c);
  free(line);
  fclose(f);
  return cases;
}

int main(void) {
  if (sizeof(descent_real) != sizeof(double)) {
    printf("SKIP: products at 1e-10 need the double build\n");
    return 77;
  }
  int cases = run_file(DESCENT_FIXTURE_DIR "/products.txt");
  CHECK_MSG(cases == 5, "expected the fixture's 5 cases, ran %d", cases);
  return check_report();
}
