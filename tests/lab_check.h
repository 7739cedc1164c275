/*
 * lab_check.h - reading a demo's tables in the lab's tests (test_lab*.c):
 * run a demo by name and read a number or a text by table, row label and
 * column name, each missing piece a failed check that names it. Include
 * after check.h.
 */
#ifndef DESCENT_TESTS_LAB_CHECK_H
#define DESCENT_TESTS_LAB_CHECK_H

#include "lab/lab.h"

#include <math.h>
#include <string.h>

/* Runs demo `name` with its defaults but for overrides (NULL-ended name,
   value pairs; NULL for none), into dir (NULL: numbers only). */
static inline int lab_check_run(const char *name, const char *const *overrides, const char *dir,
                                lab_result *res) {
  const lab_demo *d = lab_demo_find(name);
  CHECK_MSG(d != NULL, "no demo %s", name);
  if (!d) return -1;
  int rc = lab_demo_run(d, overrides, dir, res);
  CHECK_MSG(rc == DESCENT_OK, "demo %s: %s", name, descent_last_error());
  return rc;
}

/* The number at (table, row, col); NAN and a failed check when missing. */
static inline double lab_check_num(const lab_result *r, const char *table, const char *row,
                                   const char *col) {
  const lab_table *t = lab_result_find(r, table);
  double v = t ? lab_table_number(t, row, col) : NAN;
  CHECK_MSG(!isnan(v), "%s: no number at row '%s', column '%s'", table, row, col);
  return v;
}

/* The text at (table, row, col); "" and a failed check when missing. */
static inline const char *lab_check_text(const lab_result *r, const char *table, const char *row,
                                         const char *col) {
  const lab_table *t = lab_result_find(r, table);
  const lab_cell *c = t ? lab_table_get(t, row, col) : NULL;
  CHECK_MSG(c != NULL, "%s: no cell at row '%s', column '%s'", table, row, col);
  return c ? c->text : "";
}

/* Each override (an option name, a bad value, NULL) refused by demo
   `name` with a message that names the option. */
static inline void lab_check_refuses(const char *name, const char *const (*bad)[3], size_t n) {
  const lab_demo *d = lab_demo_find(name);
  CHECK_MSG(d != NULL, "no demo %s", name);
  for (size_t i = 0; d && i < n; i++) {
    lab_result r;
    int rc = lab_demo_run(d, bad[i], NULL, &r);
    CHECK_MSG(rc != DESCENT_OK, "%s --%s %s accepted", name, bad[i][0], bad[i][1]);
    CHECK_MSG(strstr(descent_last_error(), bad[i][0]) != NULL, "%s --%s %s: %s", name, bad[i][0],
              bad[i][1], descent_last_error());
    if (rc == DESCENT_OK) lab_result_free(&r);
  }
}

#endif /* DESCENT_TESTS_LAB_CHECK_H */
