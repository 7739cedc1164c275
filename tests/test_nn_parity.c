/*
 * test_nn_parity.c - convolution, pooling and batch norm against PyTorch, from
 * the fixtures tools/fixtures/nn_fixtures.py writes (tests/fixtures/nn).
 *
 * Each case is one layer: the test builds a one-layer network from the case's
 * spec, loads torch's parameters, and for each training step runs the layer's
 * forward pass, then its backward pass with torch's output gradient, and
 * compares the output, the input gradient, the parameter gradient and (batch
 * norm) the running statistics after the step; evaluation passes compare the
 * output only. Errors are relative, except that values smaller than their
 * tensor's RMS are measured against the RMS: err = |got - want| /
 * max(|want|, rms(want)). Limits: 1e-5 in the float build, 1e-13 in the
 * double build (the fixtures' inputs are float32 numbers, so both builds read
 * exactly what torch used; torch computed in float64).
 */
#include "check.h"
#include "nn/network_internal.h"

#include <stdlib.h>

#ifndef DESCENT_FIXTURE_DIR
#define DESCENT_FIXTURE_DIR "tests/fixtures/nn"
#endif

#ifdef DESCENT_DOUBLE
#define LIMIT 1e-13
#else
#define LIMIT 1e-5
#endif

/* The numbers on one fixture line after its key. */
typedef struct values {
  double *v;
  size_t n, cap;
} values;

static int parse_values(const char *text, values *out) {
  out->n = 0;
  const char *p = text;
  for (;;) {
    char *end;
    double v = strtod(p, &end);
    if (end == p) break;
    if (out->n == out->cap) {
      size_t cap = out->cap ? 2 * out->cap : 256;
      double *grown = realloc(out->v, cap * sizeof *grown);
      if (!grown) return -1;
      out->v = grown, out->cap = cap;
    }
    out->v[out->n++] = v;
    p = end;
  }
  while (*p == ' ' || *p == '\n') p++;
  return *p ? -1 : 0;
}

/* Worst error of got against want over one tensor. */
static double tensor_error(const descent_real *got, const double *want, size_t n) {
  double sq = 0, worst = 0;
  for (size_t i = 0; i < n; i++) sq += want[i] * want[i];
  double rms = n ? sqrt(sq / (double)n) : 0;
  for (size_t i = 0; i < n; i++) {
    double scale = fmax(fabs(want[i]), rms);
    double err = scale > 0 ? fabs(got[i] - want[i]) / scale : fabs(got[i] - want[i]);
    if (err > worst || err != err) worst = err;
  }
  return worst;
}

typedef struct parity_case {
  char name[64], spec[256];
  descent_shape shape;
  size_t batch;
  descent_net *net;
  descent_real *x, *dy, *dx;
  double worst[6]; /* y, dx, grad, buffers, eval y, all */
  int steps, evals;
} parity_case;

static const char *what_names[] = {"y", "dx", "grad", "buffers", "eval y"};

static void note(parity_case *c, int what, double err, const char *file, int line_no) {
  if (err > c->worst[what] || err != err) c->worst[what] = err;
  CHECK_MSG(err <= LIMIT, "%s:%d: case %s: %s error %.3g exceeds %.0e", file, line_no, c->name,
            what_names[what], err, LIMIT);
}

static int start_case(parity_case *c) {
  int rc = descent_net_create(&c->net, c->spec, &c->shape, DESCENT_LOSS_MSE, c->batch, 1);
  CHECK_MSG(rc == DESCENT_OK, "case %s: spec '%s' refused: %s", c->name, c->spec,
            descent_last_error());
  if (rc) return -1;
  size_t in = descent_shape_size(&c->shape), out = descent_net_outputs(c->net);
  c->x = calloc(c->batch * in, sizeof *c->x);
  c->dx = calloc(c->batch * in, sizeof *c->dx);
  c->dy = calloc(c->batch * out, sizeof *c->dy);
  return c->x && c->dx && c->dy ? 0 : -1;
}

static void end_case(parity_case *c) {
  descent_net_free(c->net);
  free(c->x), free(c->dx), free(c->dy);
  c->net = NULL, c->x = c->dx = c->dy = NULL;
}

static int run_file(const char *path, int *cases) {
  FILE *f = fopen(path, "r");
  CHECK_MSG(f != NULL, "cannot open %s (regenerate with tools/fixtures/nn_fixtures.py)", path);
  if (!f) return -1;
  char *line = NULL;
  size_t cap = 0;
  int line_no = 0, in_eval = 0, failed = 0;
  values v = {0};
  parity_case c;
  memset(&c, 0, sizeof c);
  while (getline(&line, &cap, f) > 0) {
    line_no++;
    if (line[0] == '#' || line[0] == '\n') continue;
    char key[32];
    int used = 0;
    if (sscanf(line, "%31s %n", key, &used) != 1) continue;
    const char *rest = line + used;
    layer *l = c.net ? &c.net->layers[0] : NULL;
    descent_objective *obj = c.net ? descent_net_objective(c.net) : NULL;
    if (strcmp(key, "case") == 0) {
      memset(&c, 0, sizeof c);
      sscanf(rest, "%63s", c.name);
    } else if (strcmp(key, "source") == 0) {
    } else if (strcmp(key, "spec") == 0) {
      snprintf(c.spec, sizeof c.spec, "%s", rest);
      c.spec[strcspn(c.spec, "\n")] = '\0';
    } else if (strcmp(key, "shape") == 0 || strcmp(key, "batch") == 0) {
      if (parse_values(rest, &v)) goto bad;
      if (key[0] == 'b') {
        c.batch = (size_t)v.v[0];
        if (start_case(&c)) goto bad;
      } else {
        c.shape.ndim = (int)v.n;
        for (size_t i = 0; i < v.n; i++) c.shape.dims[i] = (size_t)v.v[i];
      }
    } else if (!c.net) {
      goto bad;
    } else if (strcmp(key, "params") == 0) {
      if (parse_values(rest, &v) || v.n != obj->n_params) goto bad;
      for (size_t i = 0; i < v.n; i++) obj->params[i] = (descent_real)v.v[i];
    } else if (strcmp(key, "step") == 0 || strcmp(key, "eval") == 0) {
      in_eval = key[0] == 'e';
      in_eval ? c.evals++ : c.steps++;
    } else if (strcmp(key, "end") == 0) {
      double all = 0;
      for (int i = 0; i < 5; i++) all = fmax(all, c.worst[i]);
      printf("%-18s %-38s %d step(s), %d eval(s): worst error y %.1e dx %.1e grad %.1e "
             "buffers %.1e eval %.1e\n",
             c.name, c.spec, c.steps, c.evals, c.worst[0], c.worst[1], c.worst[2], c.worst[3],
             c.worst[4]);
      end_case(&c);
      (*cases)++;
    } else {
      if (parse_values(rest, &v)) goto bad;
      size_t in = c.batch * l->in_size, out = c.batch * l->out_size;
      if (strcmp(key, "x") == 0) {
        if (v.n != in) goto bad;
        for (size_t i = 0; i < in; i++) c.x[i] = (descent_real)v.v[i];
      } else if (strcmp(key, "y") == 0) {
        if (v.n != out) goto bad;
        l->ops->forward(l, obj->params, c.x, c.net->acts[0], c.batch, !in_eval);
        note(&c, in_eval ? 4 : 0, tensor_error(c.net->acts[0], v.v, out), path, line_no);
      } else if (strcmp(key, "dy") == 0) {
        if (v.n != out) goto bad;
        for (size_t i = 0; i < out; i++) c.dy[i] = (descent_real)v.v[i];
        l->ops->backward(l, obj->params, c.x, c.net->acts[0], c.dy, c.dx, obj->grad, c.batch);
      } else if (strcmp(key, "dx") == 0) {
        if (v.n != in) goto bad;
        note(&c, 1, tensor_error(c.dx, v.v, in), path, line_no);
      } else if (strcmp(key, "grad") == 0) {
        if (v.n != obj->n_params) goto bad;
        note(&c, 2, tensor_error(obj->grad, v.v, v.n), path, line_no);
      } else if (strcmp(key, "buffers") == 0) {
        size_t count;
        descent_real *buffers = descent_net_buffers(c.net, &count);
        if (v.n != count) goto bad;
        /* running_mean and running_var are two tensors: each its own RMS. */
        note(&c, 3, tensor_error(buffers, v.v, count / 2), path, line_no);
        note(&c, 3, tensor_error(buffers + count / 2, v.v + count / 2, count / 2), path, line_no);
      } else {
        goto bad;
      }
    }
    continue;
  bad:
    CHECK_MSG(0, "%s:%d: malformed or unexpected line '%.40s'", path, line_no, line);
    failed = 1;
    break;
  }
  end_case(&c);
  free(v.v);
  free(line);
  fclose(f);
  return failed ? -1 : 0;
}

int main(int argc, char **argv) {
  const char *dir = argc > 1 ? argv[1] : DESCENT_FIXTURE_DIR;
  char path[1024];
  snprintf(path, sizeof path, "%s/MANIFEST", dir);
  FILE *m = fopen(path, "r");
  CHECK_MSG(m != NULL, "cannot open %s", path);
  if (!m) return check_report();
  char line[256];
  int files = 0;
  while (fgets(line, sizeof line, m)) {
    char name[128];
    int want;
    if (line[0] == '#' || sscanf(line, "%127s %d", name, &want) != 2) continue;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int got = 0;
    run_file(path, &got);
    CHECK_MSG(got == want, "%s: %d cases, MANIFEST says %d", path, got, want);
    files++;
  }
  fclose(m);
  CHECK_MSG(files == 3, "MANIFEST lists %d files, expected 3", files);
  printf("limit %.0e (%s build)\n", LIMIT, sizeof(descent_real) == 8 ? "double" : "float");
  return check_report();
}
