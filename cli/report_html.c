/*
 * report_html.c - report.html (report_html.h). The pictures are gnuplot's
 * SVG files, inlined: their XML prologue and namespace declarations go (the
 * HTML parser puts <svg> in the SVG namespace itself, so the page names no
 * address at all), and their element ids get a prefix per picture, since
 * every gnuplot SVG defines the same ones.
 */
#include "report_html.h"
#include "lab/lab.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The lab's escaper: one definition of what the pages escape. */
static void html_text(FILE *f, const char *s) {
  lab_html_text(f, s);
}

static const char *const style =
    "body{font-family:sans-serif;max-width:1240px;margin:2em auto;padding:0 1em;color:#222}"
    "h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ddd}"
    "pre{background:#f6f6f6;padding:1em;overflow-x:auto;font-size:.85em}"
    "table{border-collapse:collapse}td,th{padding:.2em .8em;text-align:right;"
    "border-bottom:1px solid #eee}th{text-align:left}"
    "li{margin:.4em 0}.note{color:#666}.finding{color:#8a2a00}"
    "figure{margin:1.5em 0}figcaption{color:#555;margin-bottom:.5em}"
    "svg{max-width:100%;height:auto}";

/* Reads a whole small file; NULL when it cannot. */
static char *read_text(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  size_t cap = 1 << 16, n = 0;
  char *buf = malloc(cap + 1);
  for (size_t got; buf && (got = fread(buf + n, 1, cap - n, f)) > 0;) {
    n += got;
    if (n == cap) {
      char *bigger = cap < ((size_t)64 << 20) ? realloc(buf, 2 * cap + 1) : NULL;
      if (!bigger) {
        free(buf);
        buf = NULL;
        break;
      }
      buf = bigger, cap *= 2;
    }
  }
  fclose(f);
  if (buf) buf[n] = '\0', *len = n;
  return buf;
}

static int starts(const char *p, const char *end, const char *word) {
  size_t n = strlen(word);
  return (size_t)(end - p) >= n && memcmp(p, word, n) == 0;
}

/* Copies gnuplot's SVG from its <svg on, without namespace declarations,
   with ids and references to them prefixed by `prefix`. 0, or -1 when the
   file is not an SVG. */
static int inline_svg(FILE *f, const char *path, const char *prefix) {
  size_t len;
  char *text = read_text(path, &len);
  if (!text) return -1;
  const char *p = strstr(text, "<svg"), *end = text + len;
  if (!p) {
    free(text);
    return -1;
  }
  while (p < end) {
    if (starts(p, end, " xmlns=\"") || starts(p, end, " xmlns:xlink=\"") ||
        starts(p, end, "\n xmlns=\"") || starts(p, end, "\n xmlns:xlink=\"")) {
      const char *q = strchr(p, '"');
      q = q ? strchr(q + 1, '"') : NULL;
      if (!q) break;
      p = q + 1;
      continue;
    }
    static const char *const refs[] = {"id='", "id=\"", "href='#", "href=\"#", "url(#"};
    int matched = 0;
    for (size_t i = 0; i < sizeof refs / sizeof refs[0] && !matched; i++)
      if (starts(p, end, refs[i])) {
        fprintf(f, "%s%s-", refs[i], prefix);
        p += strlen(refs[i]);
        matched = 1;
      }
    if (!matched) fputc(*p++, f);
  }
  free(text);
  return 0;
}

/* The last finite value of a column; NAN when none. */
static double last_value(const csv_table *t, const char *name) {
  int col = t ? csv_column(t, name) : -1;
  for (size_t r = t && col >= 0 ? t->n_rows : 0; r > 0; r--)
    if (isfinite(csv_value(t, r - 1, col))) return csv_value(t, r - 1, col);
  return NAN;
}

static void number_row(FILE *f, const char *label, double v, const char *unit) {
  if (!isfinite(v)) return;
  fprintf(f, "<tr><th>%s</th><td>%.6g%s</td></tr>\n", label, v, unit);
}

static void final_numbers(FILE *f, const report_inputs *in) {
  fprintf(f, "<h2 id=\"numbers\">Final numbers</h2>\n<table>\n");
  const csv_table *m = in->metrics, *s = in->steps, *d = in->diagnostics;
  number_row(f, "epochs completed", last_value(m, "epoch"), "");
  number_row(f, "steps", fmax(last_value(m, "step"), last_value(s, "step")), "");
  number_row(f, "learning rate (last step)", last_value(s, "lr"), "");
  number_row(f, "batch loss (last step)", last_value(s, "loss"), "");
  number_row(f, "training loss (last epoch)", last_value(m, "train_loss"), "");
  number_row(f, "training accuracy", 100 * last_value(m, "train_acc"), "%");
  number_row(f, "validation loss", last_value(m, "val_loss"), "");
  number_row(f, "validation accuracy", 100 * last_value(m, "val_acc"), "%");
  number_row(f, "test loss", last_value(m, "test_loss"), "");
  number_row(f, "test accuracy", 100 * last_value(m, "test_acc"), "%");
  number_row(f, "training time", last_value(m, "train_seconds"), " s");
  static const struct {
    const char *column, *label;
  } diag[] = {{"hessian_top", "top Hessian eigenvalue (last measurement)"},
              {"precond_top", "preconditioned sharpness"},
              {"stability_limit", "stability limit"},
              {"edge_ratio", "edge ratio"},
              {"ggn_top", "top GGN eigenvalue"},
              {"hessian_bottom", "most negative Hessian eigenvalue"},
              {"noise_scale", "gradient noise scale (examples)"},
              {"batch", "batch size"},
              {"norm_test", "norm test"},
              {"alpha", "alpha"}};
  for (size_t i = 0; i < sizeof diag / sizeof diag[0]; i++)
    number_row(f, diag[i].label, last_value(d, diag[i].column), "");
  /* What measuring cost, against the steps' own gradient evaluations. */
  int cost = d ? csv_column(d, "cost") : -1;
  double spent = 0;
  for (size_t r = 0; cost >= 0 && r < d->n_rows; r++)
    if (isfinite(csv_value(d, r, cost))) spent += csv_value(d, r, cost);
  if (cost >= 0) {
    number_row(f, "measurements", (double)d->n_rows, "");
    number_row(f, "their cost (gradient evaluations)", spent, "");
  }
  fprintf(f, "</table>\n");
}

static void diagnosis(FILE *f, const report_page *pg) {
  fprintf(f, "<h2 id=\"diagnosis\">Diagnosis</h2>\n<ul>\n");
  for (size_t i = 0; i < pg->n_findings; i++) {
    fprintf(f, "<li class=\"finding\" id=\"%s\">", report_rule_name(pg->findings[i].rule));
    html_text(f, pg->findings[i].text);
    fprintf(f, "</li>\n");
  }
  if (pg->n_findings == 0)
    fprintf(f, "<li>None of the rules found trouble in what the run measured.</li>\n");
  if (pg->untracked && pg->untracked[0]) {
    fprintf(f, "<li class=\"note\">");
    html_text(f, pg->untracked);
    fprintf(f, "</li>\n");
  }
  for (size_t i = 0; i < pg->n_notes; i++) {
    fprintf(f, "<li class=\"note\">");
    html_text(f, pg->notes[i]);
    fprintf(f, "</li>\n");
  }
  fprintf(f, "</ul>\n");
}

static int pictures(FILE *f, const char *dir, const report_page *pg, char *err, size_t cap) {
  fprintf(f, "<h2 id=\"pictures\">Pictures</h2>\n");
  if (pg->no_pictures) {
    fprintf(f, "<p class=\"note\">");
    html_text(f, pg->no_pictures);
    fprintf(f, "</p>\n");
    return 0;
  }
  for (int i = 0; i < pg->n_pictures; i++) {
    const report_picture *p = &pg->pictures[i];
    char path[4200], prefix[40];
    snprintf(path, sizeof path, "%s/%s.svg", dir, p->stem);
    snprintf(prefix, sizeof prefix, "%s", p->stem);
    fprintf(f, "<figure id=\"figure-%s\">\n<figcaption><b>", p->stem);
    html_text(f, p->title);
    fprintf(f, "</b>: ");
    html_text(f, p->about);
    fprintf(f, "</figcaption>\n");
    if (inline_svg(f, path, prefix)) {
      snprintf(err, cap, "cannot read the picture %s (gnuplot wrote no SVG)", path);
      return -1;
    }
    fprintf(f, "\n</figure>\n");
  }
  return 0;
}

int report_html_write(const char *dir, const report_page *pg, char *err, size_t cap) {
  char path[4200];
  snprintf(path, sizeof path, "%s/report.html", dir);
  FILE *f = fopen(path, "w");
  if (!f) {
    snprintf(err, cap, "cannot write %s", path);
    return -1;
  }
  fprintf(f, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>");
  fprintf(f, "descent report: ");
  html_text(f, pg->run);
  fprintf(f, "</title>\n<style>%s</style>\n</head>\n<body>\n<h1>descent report: ", style);
  html_text(f, pg->run);
  fprintf(f, "</h1>\n");
  diagnosis(f, pg);
  final_numbers(f, pg->in);
  int rc = pictures(f, dir, pg, err, cap);
  fprintf(f, "<h2 id=\"configuration\">Configuration (config.txt)</h2>\n<pre>");
  html_text(f, pg->config ? pg->config : "(the run folder has no config.txt)");
  fprintf(f, "</pre>\n</body>\n</html>\n");
  if (fclose(f) != 0 && !rc) {
    snprintf(err, cap, "writing %s failed", path);
    rc = -1;
  }
  return rc;
}

/* ---- for the sweep's page (report_sweep_draw.c) ------------------------------------ */

void report_html_escape(FILE *f, const char *s) {
  html_text(f, s);
}

int report_html_svg(FILE *f, const char *path, const char *prefix) {
  return inline_svg(f, path, prefix);
}

const char *report_html_style(void) {
  return style;
}
