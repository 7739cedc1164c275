/*
 * test_lab_saddle_index.c - the demo saddle-index (src/lab/demo_saddle_index.c):
 * the critical points of a linear network y = W_L ... W_1 x, built in closed
 * form, asserted on the table the demo prints.
 *
 * - Every constructed point is critical: the network's gradient there is
 *   zero up to the float rounding of its weights, and its loss is 1/2 the
 *   sum of the dropped eigenvalues (recomputed here from the row's label).
 * - At depth 2 the count of negative Hessian eigenvalues matches its closed
 *   form (one per kept direction i and dropped j with lambda_j > lambda_i,
 *   m - k per unused hidden unit), so the only point of index 0 is the global
 *   minimum (keep the h largest directions), every other point is a saddle,
 *   and with evenly spaced eigenvalues the index never falls as the loss
 *   rises. Full-rank points have exactly h^2 zero eigenvalues (the symmetry
 *   W_1 -> C W_1, W_2 -> W_2 C^-1).
 * - At depth 3 every full-rank point other than the minimum is still a
 *   strict saddle, but the origin has a zero Hessian: index 0, not a minimum
 *   (Kawaguchi 2016's degenerate saddle).
 */
#include "check.h"
#include "lab/lab.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Tolerances: the weights are rounded to descent_real. */
static const double grad_tol = sizeof(descent_real) == 4 ? 1e-5 : 1e-11;
static const double loss_tol = sizeof(descent_real) == 4 ? 1e-5 : 1e-11;

static int col_of(const lab_table *t, const char *name) {
  for (int c = 0; c < t->n_cols; c++)
    if (strcmp(t->cols[c], name) == 0) return c;
  CHECK_MSG(0, "%s: no column '%s'", t->name, name);
  return 0;
}

static double cell(const lab_table *t, size_t row, const char *col) {
  return t->cells[row * (size_t)t->n_cols + (size_t)col_of(t, col)].number;
}

/* "{1,3}" -> bits 0 and 2; the count in *k. */
static unsigned parse_kept(const char *label, int *k) {
  unsigned kept = 0;
  *k = 0;
  for (const char *p = label; *p; p++)
    if (*p >= '1' && *p <= '9') {
      kept |= 1u << (*p - '1');
      ++*k;
    }
  return kept;
}

typedef struct case_setup {
  const char *const *overrides;
  double lambda[8];
  int m, hidden, depth;
} case_setup;

/* The checks every configuration passes; returns the table (NULL on failure). */
static const lab_table *check_points(const case_setup *cs, lab_result *r) {
  const lab_demo *d = lab_demo_find("saddle-index");
  CHECK(d != NULL);
  if (!d) return NULL;
  int rc = lab_demo_run(d, cs->overrides, NULL, r);
  CHECK_MSG(rc == DESCENT_OK, "demo saddle-index: %s", descent_last_error());
  if (rc) return NULL;
  const lab_table *t = lab_result_find(r, "saddle-index");
  CHECK(t != NULL);
  if (!t) return NULL;
  /* One row per set of at most `hidden` of the m directions. */
  size_t expected = 0;
  for (unsigned s = 0; s < (1u << cs->m); s++) expected += __builtin_popcount(s) <= cs->hidden;
  CHECK_MSG(t->n_rows == expected, "%zu critical points, want %zu", t->n_rows, expected);
  const size_t params =
      (size_t)(cs->hidden * 2 * cs->m + (cs->depth - 2) * cs->hidden * cs->hidden);
  double total = 0;
  for (int i = 0; i < cs->m; i++) total += cs->lambda[i];
  for (size_t row = 0; row < t->n_rows; row++) {
    const char *label = t->cells[row * (size_t)t->n_cols].text;
    int k;
    unsigned kept = parse_kept(label, &k);
    double closed = total / 2;
    for (int i = 0; i < cs->m; i++)
      if (kept & (1u << i)) closed -= cs->lambda[i] / 2;
    double loss = cell(t, row, "loss"), grad = cell(t, row, "grad norm");
    CHECK_MSG(grad <= grad_tol * cs->lambda[0], "%s: gradient norm %g is not ~0", label, grad);
    CHECK_MSG(fabs(loss - closed) <= loss_tol * total, "%s: loss %.9g, closed form %.9g", label,
              loss, closed);
    CHECK_MSG(cell(t, row, "closed form") == closed, "%s: the table's closed form is %.17g", label,
              cell(t, row, "closed form"));
    CHECK(cell(t, row, "rank") == k);
    int neg = (int)cell(t, row, "negative"), zero = (int)cell(t, row, "zero"),
        pos = (int)cell(t, row, "positive");
    CHECK_MSG((size_t)(neg + zero + pos) == params, "%s: %d + %d + %d eigenvalues, want %zu", label,
              neg, zero, pos, params);
    CHECK_CLOSE(cell(t, row, "index"), (double)neg / (double)params, 1e-15);
    /* The rows come by loss. */
    if (row) CHECK(cell(t, row, "closed form") >= cell(t, row - 1, "closed form"));
  }
  return t;
}

/* Depth 2, evenly spaced eigenvalues (the demo's defaults). */
static void test_depth2_even(void) {
  case_setup cs = {NULL, {5, 4, 3, 2, 1}, 5, 2, 2};
  lab_result r;
  const lab_table *t = check_points(&cs, &r);
  if (!t) return;
  /* The global minimum: the two largest directions, lowest loss, index 0. */
  CHECK(strcmp(t->cells[0].text, "{1,2}") == 0);
  CHECK_CLOSE(cell(t, 0, "closed form"), (3 + 2 + 1) / 2.0, 0);
  for (size_t row = 0; row < t->n_rows; row++) {
    const char *label = t->cells[row * (size_t)t->n_cols].text;
    int k;
    unsigned kept = parse_kept(label, &k);
    /* The closed-form count of descent directions. */
    int pairs = 0;
    for (int i = 0; i < cs.m; i++)
      for (int j = 0; j < i; j++) pairs += (kept >> i & 1) && !(kept >> j & 1);
    int theory = pairs + (cs.hidden - k) * (cs.m - k);
    CHECK_MSG((int)cell(t, row, "negative") == theory, "%s: %g negative eigenvalues, theory %d",
              label, cell(t, row, "negative"), theory);
    CHECK(cell(t, row, "theory") == theory);
    if (row) {
      CHECK_MSG(cell(t, row, "index") > 0, "%s: a saddle with index 0", label);
      CHECK_MSG(cell(t, row, "closed form") > cell(t, 0, "closed form"), "%s", label);
      CHECK_MSG(cell(t, row, "index") >= cell(t, row - 1, "index"),
                "%s: the index falls from %g to %g as the loss rises", label,
                cell(t, row - 1, "index"), cell(t, row, "index"));
    }
    if (k == cs.hidden) CHECK_MSG(cell(t, row, "zero") == cs.hidden * cs.hidden, "%s", label);
  }
  CHECK(lab_table_number(lab_result_find(&r, "saddle-index-summary"), "points with index 0",
                         "value") == 1);
  CHECK(lab_table_number(lab_result_find(&r, "saddle-index-summary"),
                         "index drops along the loss order", "value") == 0);
  lab_result_free(&r);
}

/* Depth 2, uneven eigenvalues, 3 hidden units, another rotation: the index
   is no longer a function of the loss, but the closed-form count holds and
   only the global minimum has index 0. */
static void test_depth2_uneven(void) {
  static const char *const o[] = {
      "lambda", "16,8,4,2,1,0.5", "sxx", "3,2,1,1,0.5,0.25", "hidden", "3", "seed", "7", NULL};
  case_setup cs = {o, {16, 8, 4, 2, 1, 0.5}, 6, 3, 2};
  lab_result r;
  const lab_table *t = check_points(&cs, &r);
  if (!t) return;
  CHECK(strcmp(t->cells[0].text, "{1,2,3}") == 0);
  CHECK(cell(t, 0, "index") == 0);
  for (size_t row = 1; row < t->n_rows; row++)
    CHECK_MSG(cell(t, row, "index") > 0, "%s: index 0", t->cells[row * (size_t)t->n_cols].text);
  for (size_t row = 0; row < t->n_rows; row++)
    CHECK(cell(t, row, "negative") == cell(t, row, "theory"));
  const lab_table *u = lab_result_find(&r, "saddle-index-summary");
  CHECK(lab_table_number(u, "negatives off the closed form", "value") == 0);
  /* The closed-form counts fix the rank correlation: 0.796 for these
     eigenvalues, the index rising with the loss but not point by point. */
  CHECK_CLOSE(lab_table_number(u, "Kendall tau (loss, index)", "value"), 0.796, 0.001);
  CHECK(lab_table_number(u, "index drops along the loss order", "value") > 0);
  lab_result_free(&r);
}

/* Depth 3: full-rank saddles stay strict; the origin is a degenerate saddle. */
static void test_depth3(void) {
  static const char *const o[] = {"depth", "3", NULL};
  case_setup cs = {o, {5, 4, 3, 2, 1}, 5, 2, 3};
  lab_result r;
  const lab_table *t = check_points(&cs, &r);
  if (!t) return;
  CHECK(strcmp(t->cells[0].text, "{1,2}") == 0);
  CHECK(cell(t, 0, "index") == 0);
  for (size_t row = 1; row < t->n_rows; row++)
    if (cell(t, row, "rank") == cs.hidden)
      CHECK_MSG(cell(t, row, "index") > 0, "%s", t->cells[row * (size_t)t->n_cols].text);
  const size_t last = t->n_rows - 1; /* the origin: the highest loss */
  CHECK(strcmp(t->cells[last * (size_t)t->n_cols].text, "{}") == 0);
  CHECK(cell(t, last, "negative") == 0 && cell(t, last, "positive") == 0);
  CHECK(lab_table_get(t, "{}", "theory") &&
        strcmp(lab_table_get(t, "{}", "theory")->text, "-") == 0);
  lab_result_free(&r);
}

static void test_refusals(void) {
  const lab_demo *d = lab_demo_find("saddle-index");
  if (!d) return;
  lab_result r;
  const char *up[] = {"lambda", "1,2,3", "sxx", "1,1,1", NULL};
  CHECK_FAILS(lab_demo_run(d, up, NULL, &r), DESCENT_EINVAL, "--lambda: the eigenvalues must");
  const char *count[] = {"sxx", "1,1", NULL};
  CHECK_FAILS(lab_demo_run(d, count, NULL, &r), DESCENT_EINVAL, "--sxx: give 5 eigenvalues");
  const char *wide[] = {"hidden", "6", NULL};
  CHECK_FAILS(lab_demo_run(d, wide, NULL, &r), DESCENT_EINVAL, "--hidden: 6 units");
  const char *deep[] = {"depth", "9", NULL};
  CHECK_FAILS(lab_demo_run(d, deep, NULL, &r), DESCENT_EINVAL, "--depth: 9 is out of range");
  const char *neg[] = {"lambda", "2,1,-1", "sxx", "1,1,1", NULL};
  CHECK_FAILS(lab_demo_run(d, neg, NULL, &r), DESCENT_EINVAL, "--lambda: -1 is out of range");
}

int main(void) {
  test_depth2_even();
  test_depth2_uneven();
  test_depth3();
  test_refusals();
  return check_report();
}
