/*
 * test_text_data.c - the CSV and LIBSVM loaders on good, malformed and
 * hostile text.
 */
#include "check.h"

#include <stdlib.h>

static descent_text_options defaults(void) {
  descent_text_options o;
  descent_text_options_init(&o);
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
              "is not a regular file");
}

int main(void) {
  check_csv();
  check_libsvm();
  check_files();
  return check_report();
}
