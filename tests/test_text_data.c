/*
 * test_text_data.c - the CSV and LIBSVM loaders on good, malformed and
 * hostile text.
 */
#include "check.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static descent_text_options defaults(void) {
  descent_text_options o;
  descent_text_options_default(&o);
  return o;
}

static int csv(const char *text, descent_dataset *ds) {
  descent_text_options o = defaults();
  return descent_csv_parse(text, strlen(text), "t.csv", &o, ds);
}

static int svm(const char *text, descent_dataset *ds) {
  descent_text_options o = defaults();
  return descent_libsvm_parse(text, strlen(text), "t.svm", &o, ds);
}

static void csv_refused(const char *text, int status, const char *needle) {
  descent_dataset ds;
  CHECK_FAILS(csv(text, &ds), status, needle);
  CHECK(ds.x == NULL && ds.labels == NULL);
}

static void svm_refused(const char *text, int status, const char *needle) {
  descent_dataset ds;
  CHECK_FAILS(svm(text, &ds), status, needle);
  CHECK(ds.x == NULL && ds.labels == NULL);
}

static void check_csv(void) {
  descent_dataset ds;
  CHECK_OK(csv("a,b,label\n1.5,-2,1\n3,4e-1,0\r\n\n5,6,2\n", &ds));
  CHECK(ds.n == 3 && ds.features == 2 && ds.classes == 3);
  CHECK(ds.x[0] == 1.5f && ds.x[1] == -2 && ds.x[3] == (descent_real)0.4 && ds.x[5] == 6);
  CHECK(ds.labels[0] == 1 && ds.labels[1] == 0 && ds.labels[2] == 2);
  descent_dataset_free(&ds);
  /* No header, label in the first column, semicolons, quoted numbers. */
  descent_text_options o = defaults();
  o.label_column = 0;
  o.delimiter = ';';
  const char *t = "1;\"2.5\";3\n0;4;5";
  CHECK_OK(descent_csv_parse(t, strlen(t), "t.csv", &o, &ds));
  CHECK(ds.n == 2 && ds.features == 2 && ds.labels[0] == 1 && ds.x[0] == 2.5f && ds.x[3] == 5);
  descent_dataset_free(&ds);

  csv_refused("1,2,0\n3,nan,1\n", DESCENT_EFORMAT,
              "line 2, column 2: 'nan' is not a finite number");
  csv_refused("1,2,0\n3,inf,1\n", DESCENT_EFORMAT, "'inf' is not a finite number");
  csv_refused("1,2,0\n3,1e999,1\n", DESCENT_EFORMAT, "'1e999' is not a finite number");
#ifndef DESCENT_DOUBLE
  csv_refused("1,2,0\n3,1e39,1\n", DESCENT_EFORMAT, "'1e39' is not a finite number");
  svm_refused("1 2:1e39\n", DESCENT_EFORMAT, "not a finite number");
#endif
  csv_refused("1,2,0\n3,,1\n", DESCENT_EFORMAT, "line 2, column 2");
  csv_refused("1,2,0\n3,4\n", DESCENT_EFORMAT, "line 2 has 2 columns, the first row 3");
  csv_refused("1,2,0\n3,4,1,7\n", DESCENT_EFORMAT, "line 2 has 4 columns");
  csv_refused("1,2,0.5\n", DESCENT_EFORMAT, "label 0.5 is not a whole number");
  csv_refused("1,2,-1\n", DESCENT_EFORMAT, "label -1 is not a whole number");
  csv_refused("x,y\n", DESCENT_EFORMAT, "a header but no data");
  csv_refused("", DESCENT_EFORMAT, "no data");
  csv_refused("1\n2\n", DESCENT_EFORMAT, "one column per line");
  csv_refused("1,2,0\n1,0x10,1\n", DESCENT_EFORMAT, "'0x10' is not a finite number");
  csv_refused("1,2,3\n4,5abc,1\n", DESCENT_EFORMAT, "line 2, column 2");
  {
    const char text[] = "1,2,0\n3,\0,1\n";
    descent_dataset d;
    descent_text_options oo = defaults();
    CHECK_FAILS(descent_csv_parse(text, sizeof text - 1, "t.csv", &oo, &d), DESCENT_EFORMAT,
                "NUL byte");
  }
  o = defaults();
  o.max_elements = 3;
  t = "1,2,0\n3,4,1\n";
  CHECK_FAILS(descent_csv_parse(t, strlen(t), "t.csv", &o, &ds), DESCENT_ERANGE,
              "exceed the limit of 3 values");
  o = defaults();
  o.label_column = 5;
  CHECK_FAILS(descent_csv_parse(t, strlen(t), "t.csv", &o, &ds), DESCENT_EINVAL,
              "label column 6, but lines have 3 columns");
}

/* Whatever a message echoes of the input, it stays one line of printable
   text. */
static void check_one_line(void) {
  const char *msg = descent_last_error();
  int printable = 1;
  for (const char *c = msg; *c; c++)
    if ((unsigned char)*c < 32 || (unsigned char)*c >= 127) printable = 0;
  CHECK_MSG(printable && strlen(msg) < 300, "message not one short printable line: %s", msg);
}

/* A first line that fails to parse is an error naming line and column, not
   a header that silently drops a row; only a declared header, or a first
   line without a single number, is skipped. */
static void check_csv_header(void) {
  descent_dataset ds;
  csv_refused("1,nan,0\n2,3,1\n", DESCENT_EFORMAT, "line 1, column 2: 'nan' is not a finite");
  csv_refused("1,2x,0\n2,3,1\n", DESCENT_EFORMAT, "line 1, column 2: '2x'");
  csv_refused("1,,0\n2,3,1\n", DESCENT_EFORMAT, "line 1, column 2");
  csv_refused("1,inf,0\n2,3,1\n", DESCENT_EFORMAT, "declare it: header = 1");
  csv_refused("\n\n1,2,0\n2,3,x\n", DESCENT_EFORMAT, "line 4, column 3: 'x'");
  csv_refused("a,b,y\n1,2,0\n\n2,3,x\n", DESCENT_EFORMAT, "line 4, column 3: 'x'");
  /* Declared: the first line is skipped whatever it holds. */
  descent_text_options o = defaults();
  o.header = 1;
  const char *t = "5,6,7\n1,2,0\n";
  CHECK_OK(descent_csv_parse(t, strlen(t), "t.csv", &o, &ds));
  CHECK(ds.n == 1 && ds.x[0] == 1 && ds.labels[0] == 0);
  descent_dataset_free(&ds);
  o.header = 0;
  t = "a,b,y\n1,2,0\n";
  CHECK_FAILS(descent_csv_parse(t, strlen(t), "t.csv", &o, &ds), DESCENT_EFORMAT,
              "line 1, column 1: 'a'");
  /* A UTF-8 byte order mark is skipped, not data and not a header. */
  CHECK_OK(csv("\xef\xbb\xbf"
               "1,2,0\n3,4,1\n",
               &ds));
  CHECK(ds.n == 2 && ds.x[0] == 1 && ds.labels[1] == 1);
  descent_dataset_free(&ds);
  CHECK_OK(csv("\xef\xbb\xbf"
               "a,b,y\n3,4,1\n",
               &ds));
  CHECK(ds.n == 1 && ds.x[0] == 3);
  descent_dataset_free(&ds);
}

/* Echoed input is escaped and cut, so the message is one line. */
static void check_echo(void) {
  csv_refused("1,2,0\n3,\x1b[31m\x01,1\n", DESCENT_EFORMAT, "'\\x1b[31m\\x01'");
  check_one_line();
  char line[400] = "1,2,0\n3,";
  memset(line + strlen(line), 'a', 300);
  strcat(line, ",1\n");
  csv_refused(line, DESCENT_EFORMAT, "'aaaaaaaaaaaaaaaaaaaaaaaa...'");
  check_one_line();
  svm_refused("1 1:1\nfoo\rbar\n2 1:1\n", DESCENT_EFORMAT, "line 2: expected a label, found 'foo'");
  check_one_line();
  svm_refused("1 x\n2 1:1\n", DESCENT_EFORMAT, "found 'x'");
  check_one_line();
  svm_refused("1 2=\x7f\x80\n2 1:1\n", DESCENT_EFORMAT, "'2=\\x7f\\x80'");
  check_one_line();
  svm_refused("1 2:1\x02\n", DESCENT_EFORMAT, "unexpected '\\x02'");
  check_one_line();
}

/* Loading is linear in the rows. 600,000 rows take a fraction of a second; when every
   row's line number was counted from the start of the file they took
   minutes, so the generous bound below separates the two on any machine. */
static void check_csv_linear(void) {
  const size_t rows = 600000;
  char *text = malloc(rows * 6 + 1);
  if (!text) return;
  for (size_t r = 0; r < rows; r++) memcpy(text + 6 * r, "1,2,0\n", 6);
  text[rows * 6] = '\0';
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  descent_dataset ds;
  CHECK_OK(csv(text, &ds));
  clock_gettime(CLOCK_MONOTONIC, &b);
  double seconds = (double)(b.tv_sec - a.tv_sec) + 1e-9 * (double)(b.tv_nsec - a.tv_nsec);
  CHECK(ds.n == rows);
  CHECK_MSG(seconds < 20, "600,000 CSV rows took %.1f s", seconds);
  descent_dataset_free(&ds);
  free(text);
}

static void check_libsvm(void) {
  descent_dataset ds;
  CHECK_OK(svm("# comment\n2 1:0.5 3:-1\n0 2:4 # trailing\n\n1\n", &ds));
  CHECK(ds.n == 3 && ds.features == 3 && ds.classes == 3);
  CHECK(ds.x[0] == 0.5f && ds.x[1] == 0 && ds.x[2] == -1 && ds.x[4] == 4);
  CHECK(ds.x[6] == 0 && ds.x[7] == 0 && ds.x[8] == 0);
  CHECK(ds.labels[0] == 2 && ds.labels[1] == 0 && ds.labels[2] == 1);
  descent_dataset_free(&ds);
  CHECK_OK(svm("-1 1:1\n+1 2:1\n-1 1:2\n", &ds));
  CHECK(ds.classes == 2 && ds.labels[0] == 0 && ds.labels[1] == 1 && ds.labels[2] == 0);
  descent_dataset_free(&ds);
  descent_text_options o = defaults();
  o.features = 10;
  const char *t = "1 4:1\n";
  CHECK_OK(descent_libsvm_parse(t, strlen(t), "t.svm", &o, &ds));
  CHECK(ds.features == 10 && ds.x[3] == 1);
  descent_dataset_free(&ds);
  o.features = 2;
  CHECK_FAILS(descent_libsvm_parse(t, strlen(t), "t.svm", &o, &ds), DESCENT_ESHAPE,
              "index 4 beyond the 2 features");

  svm_refused("1 3:1 2:1\n", DESCENT_EFORMAT, "index 2 after 3; indices must increase");
  svm_refused("1 2:1 2:1\n", DESCENT_EFORMAT, "indices must increase");
  svm_refused("1 0:1\n", DESCENT_EFORMAT, "with an index from 1");
  svm_refused("1 a:1\n", DESCENT_EFORMAT, "expected index:value");
  svm_refused("1 2:nan\n", DESCENT_EFORMAT, "not a finite number");
  svm_refused("1 2:1x\n", DESCENT_EFORMAT, "unexpected 'x'");
  svm_refused("1 2=1\n", DESCENT_EFORMAT, "is not index:value");
  svm_refused("x 1:1\n", DESCENT_EFORMAT, "line 1: expected a label");
  svm_refused("0.5 1:1\n", DESCENT_EFORMAT, "label 0.5 is not a class index");
  svm_refused("-1 1:1\n2 1:1\n", DESCENT_EFORMAT, "labels mix -1");
  svm_refused("\n# nothing\n", DESCENT_EFORMAT, "no data");
  svm_refused("1\n0\n", DESCENT_EFORMAT, "no features at all");
  /* A 20-byte file that asks for 10^12 dense values is refused before allocating. */
  svm_refused("0 1099511627776:1\n", DESCENT_ERANGE, "beyond the limit");
  svm_refused("0 1000000000:1\n1 1:1\n", DESCENT_ERANGE,
              "densifying 2 rows of 1000000000 features");
}

static void check_files(void) {
  const char *tmp = getenv("DESCENT_TEST_TMP");
  char path[512];
  snprintf(path, sizeof path, "%s/text.csv", tmp ? tmp : "/tmp");
  FILE *f = fopen(path, "w");
  fputs("f1,f2,y\n0.1,0.2,1\n0.3,0.4,0\n", f);
  fclose(f);
  descent_dataset ds;
  CHECK_OK(descent_csv_load(path, NULL, &ds));
  CHECK(ds.n == 2 && ds.labels[0] == 1);
  descent_dataset_free(&ds);
  descent_text_options o = defaults();
  o.max_bytes = 10;
  CHECK_FAILS(descent_csv_load(path, &o, &ds), DESCENT_ERANGE, "more than the limit of 10 bytes");
  CHECK_FAILS(descent_csv_load("/nonexistent/x.csv", NULL, &ds), DESCENT_EIO,
              "cannot open '/nonexistent/x.csv'");
  CHECK_FAILS(descent_libsvm_load(tmp ? tmp : "/tmp", NULL, &ds), DESCENT_EIO,
              "is not a regular file (a directory)");
  /* A FIFO is refused at once; before, opening it waited for a writer
     forever (the alarm turns such a hang into a failure). */
  snprintf(path, sizeof path, "%s/fifo.csv", tmp ? tmp : "/tmp");
  unlink(path);
  CHECK(mkfifo(path, 0600) == 0);
  alarm(20);
  CHECK_FAILS(descent_csv_load(path, NULL, &ds), DESCENT_EIO, "is not a regular file (a FIFO)");
  CHECK_FAILS(descent_libsvm_load(path, NULL, &ds), DESCENT_EIO, "(a FIFO)");
  alarm(0);
  unlink(path);
  CHECK_FAILS(descent_csv_load("/dev/null", NULL, &ds), DESCENT_EIO, "(a character device)");
}

/* The options' two initializers agree, and NULL options mean the defaults
   in every entry point. */
static void check_defaults(void) {
  descent_text_options a, b;
  memset(&a, 0x5a, sizeof a);
  memset(&b, 0xa5, sizeof b);
  descent_text_options_default(&a);
  descent_text_options_init(&b);
  CHECK(a.label_column == b.label_column && a.header == b.header && a.delimiter == b.delimiter &&
        a.features == b.features && a.max_bytes == b.max_bytes && a.max_elements == b.max_elements);
  CHECK(a.label_column == -1 && a.header == -1 && a.delimiter == ',' && a.features == 0);
  descent_dataset ds;
  const char *svm_text = "1 1:0.5 3:2\n0 2:1\n";
  CHECK_OK(descent_libsvm_parse(svm_text, strlen(svm_text), "t.svm", NULL, &ds));
  CHECK(ds.n == 2 && ds.features == 3 && ds.classes == 2);
  descent_dataset_free(&ds);
  const char *csv_text = "1,2,0\n3,4,1\n";
  CHECK_OK(descent_csv_parse(csv_text, strlen(csv_text), "t.csv", NULL, &ds));
  CHECK(ds.n == 2 && ds.features == 2 && ds.classes == 2);
  descent_dataset_free(&ds);
}

int main(void) {
  check_defaults();
  check_csv();
  check_csv_header();
  check_echo();
  check_csv_linear();
  check_libsvm();
  check_files();
  return check_report();
}
