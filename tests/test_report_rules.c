/*
 * test_report_rules.c - the diagnosis rules of `descent report`
 * (cli/report_rules.c) on synthetic run files that follow the schemas of
 * diagnostics.csv, steps.csv and metrics.csv exactly: a healthy run fires no
 * rule, and each rule's own case fires that rule and no other. The files
 * are written as text and read back with cli/csv_read.c, as the program
 * reads them.
 */
#include "check.h"
#include "csv_read.h"
#include "report_rules.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROWS  200
#define STEPS 400
#define LR    0.02 /* 2 / lr = 100: the stability limit of gradient descent */
#define BATCH 128

/* A case: a healthy run with one thing changed. */
typedef enum {
  HEALTHY,
  EDGE,
  BEYOND,
  NOISE_HIGH,
  NOISE_LOW,
  NORM_TEST,
  ALPHA_OVER,
  ALPHA_TIMID,
  NEGATIVE,
  DEAD,
  UPDATES_LARGE,
  UPDATES_SMALL,
  PLATEAU,
  OVERFIT,
  N_CASES
} scenario;

static const report_rule expected[N_CASES] = {REPORT_N_RULES,
                                              REPORT_RULE_EDGE,
                                              REPORT_RULE_BEYOND,
                                              REPORT_RULE_NOISE_HIGH,
                                              REPORT_RULE_NOISE_LOW,
                                              REPORT_RULE_NORM_TEST,
                                              REPORT_RULE_ALPHA_OVERSHOOT,
                                              REPORT_RULE_ALPHA_TIMID,
                                              REPORT_RULE_NEGATIVE,
                                              REPORT_RULE_DEAD_RELU,
                                              REPORT_RULE_UPDATES_LARGE,
                                              REPORT_RULE_UPDATES_SMALL,
                                              REPORT_RULE_PLATEAU,
                                              REPORT_RULE_OVERFIT};

/* Appends to a growing text. */
typedef struct text {
  char *s;
  size_t n, cap;
} text;

static void put(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(text *t, const char *fmt, ...) {
  va_list ap;
  for (;;) {
    va_start(ap, fmt);
    int k = vsnprintf(t->s + t->n, t->cap - t->n, fmt, ap);
    va_end(ap);
    if ((size_t)k < t->cap - t->n) {
      t->n += (size_t)k;
      return;
    }
    t->cap = 2 * t->cap + (size_t)k + 1;
    t->s = realloc(t->s, t->cap);
    if (!t->s) abort();
  }
}

/* A small deterministic wiggle in [-1, 1]. */
static double wiggle(int i) {
  return sin(1.7 * i) * cos(0.31 * i);
}

static void diagnostics(scenario c, text *t) {
  put(t, "step,epoch,lr,loss,cost,hessian_top,stability_limit,precond_top,edge_ratio,ggn_top,"
         "hessian_bottom,grad_norm,noise_trace,noise_scale,norm_test,inner_test,ortho_test,batch,"
         "alpha,step_norm,loss_after,layer1.dense.weight.grad_norm,"
         "layer1.dense.weight.update_ratio,layer1.dense.weight.distance,"
         "layer1.dense.bias.grad_norm,layer1.dense.bias.update_ratio,layer1.dense.bias.distance,"
         "layer2.relu.mean,layer2.relu.std,layer2.relu.dead\n");
  for (int i = 0; i < ROWS; i++) {
    double limit = 2 / LR, ratio = 0.5 + 0.05 * wiggle(i);
    double loss = 2 * exp(-i / 80.0) + 0.1 + 0.01 * wiggle(i);
    if (c == EDGE && i >= 50) ratio = 1 + 0.05 * wiggle(i);
    if (c == BEYOND && i >= 150) ratio = 1.5, loss *= pow(1.05, i - 150);
    double top = ratio * limit;
    double noise = BATCH * (1 + 0.3 * wiggle(i)), norm_test = (noise / BATCH) / (1 + noise / BATCH);
    if (c == NOISE_HIGH) noise = 30 * BATCH * (1 + 0.3 * wiggle(i)), norm_test = 30.0 / 31;
    if (c == NOISE_LOW) noise = 5 * (1 + 0.3 * wiggle(i)), norm_test = 5.0 / (BATCH + 5);
    if (c == NORM_TEST && i % 4) noise = INFINITY, norm_test = 1.5;
    double alpha = 0.3 * wiggle(i);
    if (c == ALPHA_OVER) alpha = 0.95 + 0.1 * wiggle(i);
    if (c == ALPHA_TIMID) alpha = -0.9 + 0.05 * wiggle(i);
    double bottom = (c == NEGATIVE ? -0.3 : -0.01) * top;
    double update = 1e-3 * (1 + 0.5 * wiggle(i));
    if (c == UPDATES_LARGE) update = 3e-2;
    if (c == UPDATES_SMALL) update = 3e-5;
    double dead = c == DEAD ? 0.7 : 0.1;
    put(t,
        "%d,%d,%.9g,%.9g,3,%.9g,%.9g,nan,%.9g,%.9g,%.9g,1,%.9g,%.9g,%.9g,%.9g,%.9g,%d,%.9g,"
        "0.01,%.9g,1,%.9g,%.9g,0.1,0.2,%.9g,0.5,1,%.9g\n",
        10 * (i + 1), 1 + i / 100, LR, loss, top, limit, ratio, 0.9 * top, bottom, noise,
        isinf(noise) ? INFINITY : noise, norm_test, 0.5 * norm_test, 0.7 * norm_test, BATCH, alpha,
        0.99 * loss, update, 0.01 * i, 0.01 * i, dead);
  }
}

static void steps(scenario c, text *t) {
  put(t, "step,epoch,lr,loss\n");
  for (int i = 0; i < STEPS; i++) {
    double loss = 2 * exp(-i / 300.0) + 0.1 + 0.02 * wiggle(i);
    if (c == PLATEAU) loss = 0.5 + 0.002 * wiggle(i);
    put(t, "%d,%d,%.17g,%.17g\n", i + 1, 1 + i / 200, (double)LR, loss);
  }
}

static void metrics(scenario c, text *t) {
  put(t, "epoch,step,lr,train_loss,train_acc,val_loss,val_acc,test_loss,test_acc,samples_per_s,"
         "train_seconds,evaluations,products\n");
  for (int e = 1; e <= 10; e++) {
    double train = 1.0 / e, test = 0.3 + 0.7 / e;
    if (c == OVERFIT && e > 4) test = 0.3 + 0.7 / 4 + 0.05 * (e - 4);
    put(t, "%d,%d,%.9g,%.9g,%.9g,nan,nan,%.9g,%.9g,5000,%d,%d,0\n", e, 40 * e, LR, train,
        1 - train / 3, test, 1 - test / 3, e, 40 * e);
  }
}

static int parse(const text *t, const char *file, csv_table *out) {
  char err[512];
  int rc = csv_parse(t->s, t->n, file, NULL, out, err, sizeof err);
  CHECK_MSG(rc == 0, "%s: %s", file, err);
  return rc;
}

/* Diagnoses case c; checks that exactly its rule fired (none for HEALTHY)
   and that every line names a number. */
static void check_case(scenario c) {
  text d = {0}, s = {0}, m = {0};
  diagnostics(c, &d);
  steps(c, &s);
  metrics(c, &m);
  csv_table td, ts, tm;
  if (parse(&d, "diagnostics.csv", &td) || parse(&s, "steps.csv", &ts) ||
      parse(&m, "metrics.csv", &tm))
    return;
  report_inputs in = {&tm, &ts, &td};
  report_finding found[REPORT_N_RULES];
  size_t n = report_diagnose(&in, found, REPORT_N_RULES);
  int want = expected[c] != REPORT_N_RULES;
  CHECK_MSG(n == (size_t)want, "case %d (%s): %zu rules fired, want %d", (int)c,
            want ? report_rule_name(expected[c]) : "healthy", n, want);
  for (size_t i = 0; i < n; i++) {
    CHECK_MSG(want && found[i].rule == expected[c], "case %s: rule %s fired: %s",
              want ? report_rule_name(expected[c]) : "healthy", report_rule_name(found[i].rule),
              found[i].text);
    CHECK_MSG(strpbrk(found[i].text, "0123456789") != NULL, "no number in: %s", found[i].text);
    CHECK_MSG(strchr(found[i].text, '\n') == NULL, "more than one line: %s", found[i].text);
    printf("%-20s %s\n", report_rule_name(found[i].rule), found[i].text);
  }
  csv_free(&td);
  csv_free(&ts);
  csv_free(&tm);
  free(d.s);
  free(s.s);
  free(m.s);
}

/* The numbers the lines name, for a few cases. */
static void check_words(void) {
  char buf[48];
  CHECK(strcmp(report_format_count(4100, buf, sizeof buf), "4,100") == 0);
  CHECK(strcmp(report_format_count(1234567, buf, sizeof buf), "1,234,567") == 0);
  CHECK(strcmp(report_format_count(128, buf, sizeof buf), "128") == 0);
  CHECK(strcmp(report_format_count(0.25, buf, sizeof buf), "0.25") == 0);
  /* The noise case names the noise scale (30 x 128 = 3,840 in the median's
     neighbourhood) and the batch of 128. */
  text d = {0};
  diagnostics(NOISE_HIGH, &d);
  csv_table td;
  if (parse(&d, "diagnostics.csv", &td)) return;
  report_inputs in = {NULL, NULL, &td};
  report_finding f[REPORT_N_RULES];
  size_t n = report_diagnose(&in, f, REPORT_N_RULES);
  CHECK(n == 1 && strstr(f[0].text, "against a batch of 128") && strstr(f[0].text, ",") &&
        strstr(f[0].text, "larger batches would cut steps almost linearly"));
  char line[400];
  report_untracked(&td, line, sizeof line);
  CHECK_MSG(line[0] == '\0', "every instrument is there, yet: %s", line);
  csv_free(&td);
  free(d.s);
}

/* What the diagnostics file lacks is named with the option that adds it. */
static void check_untracked(void) {
  char line[400], err[256];
  report_untracked(NULL, line, sizeof line);
  CHECK(strstr(line, "no diagnostics.csv") && strstr(line, "--track all"));
  const char *file = "step,epoch,lr,loss,cost,hessian_top,stability_limit,precond_top,edge_ratio,"
                     "alpha,step_norm,loss_after\n1,1,0.1,2,3,4,20,nan,0.2,0.1,0.5,1.9\n";
  csv_table t;
  CHECK(csv_parse(file, strlen(file), "diagnostics.csv", NULL, &t, err, sizeof err) == 0);
  report_untracked(&t, line, sizeof line);
  CHECK_MSG(strstr(line, "not tracked: ggn,negative,noise,layers") &&
                strstr(line, "--track ggn,negative,noise,layers"),
            "%s", line);
  csv_free(&t);
}

/* Too little to judge: one measurement, no steps, a single epoch. */
static void check_too_short(void) {
  char err[256];
  const char *d = "step,epoch,lr,loss,cost,edge_ratio,alpha,noise_scale,batch,norm_test\n"
                  "1,1,0.1,2,3,5,0.99,100000,2,9\n";
  const char *m = "epoch,step,lr,train_loss,test_loss\n1,10,0.1,2,3\n";
  csv_table td, tm;
  CHECK(csv_parse(d, strlen(d), "diagnostics.csv", NULL, &td, err, sizeof err) == 0);
  CHECK(csv_parse(m, strlen(m), "metrics.csv", NULL, &tm, err, sizeof err) == 0);
  report_inputs in = {&tm, NULL, &td};
  report_finding f[REPORT_N_RULES];
  CHECK(report_diagnose(&in, f, REPORT_N_RULES) == 0);
  report_inputs none = {NULL, NULL, NULL};
  CHECK(report_diagnose(&none, f, REPORT_N_RULES) == 0);
  csv_free(&td);
  csv_free(&tm);
}

int main(void) {
  for (int c = 0; c < N_CASES; c++) check_case((scenario)c);
  check_words();
  check_untracked();
  check_too_short();
  return check_report();
}
