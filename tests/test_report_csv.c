/*
 * test_report_csv.c - the CSV reader of `descent report` (cli/csv_read.c)
 * on the files a run may leave (cut short, NaN, CRLF) and on hostile ones
 * (wrong headers, NUL bytes, junk, and thousands of randomly damaged
 * copies of a real file): every input is read with a note or refused with
 * one line, and the diagnosis rules run on whatever was read, never
 * crashing (the sanitizer build runs this under ASan and UBSan).
 */
#include "check.h"
#include "csv_read.h"
#include "report_rules.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const steps_required[] = {"step", "epoch", "lr", "loss", NULL};

static int parse(const char *s, csv_table *t, char *err, size_t cap) {
  return csv_parse(s, strlen(s), "steps.csv", steps_required, t, err, cap);
}

static void check_good_files(void) {
  char err[512];
  csv_table t;
  CHECK(parse("step,epoch,lr,loss\n1,1,0.1,2.5\n2,1,0.1,nan\n3,1,0.1,inf\n", &t, err, sizeof err) ==
        0);
  CHECK(t.n_rows == 3 && t.n_cols == 4 && t.note[0] == '\0');
  CHECK(csv_value(&t, 0, 3) == 2.5 && isnan(csv_value(&t, 1, 3)) && isinf(csv_value(&t, 2, 3)));
  CHECK(isnan(csv_value(&t, 9, 3)) && isnan(csv_value(&t, 0, -1)) && csv_column(&t, "x") == -1);
  csv_free(&t);
  /* CRLF line ends, spaces, an empty field (NaN), a blank line. */
  CHECK(parse("step, epoch ,lr,loss\r\n1,1,0.1,\r\n\r\n2,1,0.1,3\r\n", &t, err, sizeof err) == 0);
  CHECK(t.n_rows == 2 && isnan(csv_value(&t, 0, 3)) && csv_column(&t, "epoch") == 1);
  csv_free(&t);
  /* A run stopped while writing: the last line is left out with a note. */
  CHECK(parse("step,epoch,lr,loss\n1,1,0.1,2\n2,1,0.", &t, err, sizeof err) == 0);
  CHECK_MSG(t.n_rows == 1 && t.cut_short && strstr(t.note, "cut short"), "%s", t.note);
  csv_free(&t);
  /* Malformed lines are left out and counted, naming the first. */
  CHECK(parse("step,epoch,lr,loss\n1,1,0.1,2\nx,1,0.1,2\n3,1\n4,1,0.1,2,5\n5,1,0.1,1\n", &t, err,
              sizeof err) == 0);
  CHECK_MSG(t.n_rows == 2 && t.skipped == 3 && strstr(t.note, "3 malformed lines left out") &&
                strstr(t.note, "line 3, field 1 is not a number"),
            "%s", t.note);
  csv_free(&t);
  /* A header only: no rows, no note. */
  CHECK(parse("step,epoch,lr,loss\n", &t, err, sizeof err) == 0 && t.n_rows == 0);
  csv_free(&t);
}

static void check_refused(const char *text, size_t len, const char *needle) {
  char err[512] = "";
  csv_table t;
  int rc = csv_parse(text, len, "steps.csv", steps_required, &t, err, sizeof err);
  CHECK_MSG(rc == -1 && strstr(err, needle) && !strchr(err, '\n'), "rc %d, message '%s', want '%s'",
            rc, err, needle);
  CHECK(t.n_rows == 0 && t.names == NULL && t.values == NULL);
}

static void check_bad_files(void) {
  check_refused("", 0, "steps.csv is empty");
  check_refused("\n\n", 2, "steps.csv is empty");
  check_refused("step,epoch,lr\n1,1,0.1\n", 22,
                "lacks the column 'loss' (it must hold "
                "step,epoch,lr,loss)");
  check_refused("step,epoch,,lr,loss\n", 20, "column 3 of the header is empty");
  check_refused("step,epoch,lr,loss,step\n", 24, "names column 'step' twice");
  check_refused("step,epoch,lr,lo\x01ss\n", 19, "control character");
  check_refused("step,epoch,lr,loss\n1,1\0,2,3\n", 28, "NUL byte");
  char *wide = malloc(8 * CSV_MAX_COLUMNS + 16);
  size_t n = 0;
  for (int i = 0; i <= CSV_MAX_COLUMNS; i++) n += (size_t)sprintf(wide + n, "c%d,", i);
  wide[n - 1] = '\n';
  check_refused(wide, n, "columns (at most 4096)");
  free(wide);
  char err[256];
  csv_table t;
  CHECK(csv_load("/nonexistent/steps.csv", "steps.csv", NULL, &t, err, sizeof err) == 1);
}

/* xorshift64*: the damage is the same on every run. */
static uint64_t next_random(uint64_t *s) {
  *s ^= *s >> 12, *s ^= *s << 25, *s ^= *s >> 27;
  return *s * 0x2545F4914F6CDD1DULL;
}

/* Damaged copies of a real diagnostics file: bytes replaced by ones a CSV
   holds (digits, commas, newlines, signs, "nan"), cut anywhere, lines
   duplicated. Each is read or refused in one line; what is read has
   n_rows x n_cols values and goes through every rule. */
static void check_damaged(void) {
  static const char good[] =
      "step,epoch,lr,loss,cost,hessian_top,stability_limit,precond_top,edge_ratio,noise_scale,"
      "norm_test,batch,alpha,l.weight.update_ratio,l.relu.dead\n"
      "10,1,0.02,2.1,3,50,100,nan,0.5,128,0.5,128,0.1,0.001,0.1\n"
      "20,1,0.02,2.0,3,95,100,nan,0.95,inf,1.5,128,0.9,0.03,0.7\n"
      "30,1,0.02,1.9,3,130,100,nan,1.3,4000,0.97,128,-0.9,3e-5,0.6\n"
      "40,2,0.02,2.2,3,140,100,nan,1.4,5,0.04,128,nan,0.001,0.2\n"
      "50,2,0.02,2.5,3,150,100,nan,1.5,6,0.03,128,1.1,0.001,0.9\n";
  static const char alphabet[] = "0123456789,,,\n\n.-+eEnaif \r";
  uint64_t seed = 0x9e3779b97f4a7c15ULL;
  size_t len = sizeof good - 1, read = 0, refused = 0;
  char *buf = malloc(3 * len);
  for (int trial = 0; trial < 20000; trial++) {
    memcpy(buf, good, len);
    size_t n = len;
    int edits = 1 + (int)(next_random(&seed) % 8);
    for (int e = 0; e < edits; e++) {
      uint64_t r = next_random(&seed);
      size_t at = (size_t)(r >> 8) % n;
      switch (r % 4) {
      case 0:
      case 1:
        buf[at] = alphabet[(r >> 40) % (sizeof alphabet - 1)];
        break;
      case 2:
        n = at + 1;
        break; /* cut short */
      case 3:  /* a stretch repeated */
        if (n + 40 < 3 * len) {
          memmove(buf + at + 40, buf + at, n - at);
          n += 40;
        }
        break;
      }
    }
    char err[512] = "";
    csv_table t;
    if (csv_parse(buf, n, "diagnostics.csv", NULL, &t, err, sizeof err) != 0) {
      refused++;
      if (!err[0] || strchr(err, '\n')) CHECK_MSG(0, "refusal without one line: '%s'", err);
      continue;
    }
    read++;
    for (size_t i = 0; i < t.n_rows * t.n_cols; i++)
      if (t.values[i] != t.values[i] && !isnan(t.values[i])) CHECK(0);
    report_inputs in = {NULL, &t, &t};
    report_finding f[REPORT_N_RULES];
    size_t fired = report_diagnose(&in, f, REPORT_N_RULES);
    for (size_t i = 0; i < fired && i < REPORT_N_RULES; i++)
      if (!f[i].text[0] || strchr(f[i].text, '\n')) CHECK_MSG(0, "bad line: '%s'", f[i].text);
    char line[400];
    report_untracked(&t, line, sizeof line);
    csv_free(&t);
  }
  free(buf);
  printf("damaged files: %zu read, %zu refused\n", read, refused);
  CHECK(read > 1000 && refused > 100);
}

int main(void) {
  check_good_files();
  check_bad_files();
  check_damaged();
  return check_report();
}
