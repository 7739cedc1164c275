/*
 * report_html.h - the report's one self-contained page: report.html with
 * the run's configuration, the diagnosis, the final numbers and every
 * picture as inline SVG; inline CSS, no script, no external address.
 */
#ifndef DESCENT_CLI_REPORT_HTML_H
#define DESCENT_CLI_REPORT_HTML_H

#include "report_plot.h"
#include "report_rules.h"

#include <stddef.h>
#include <stdio.h>

typedef struct report_page {
  const char *run;                /* the run folder, as given */
  const char *config;             /* config.txt's text, or NULL when absent */
  const report_inputs *in;        /* the parsed files (for the final numbers) */
  const report_finding *findings; /* the diagnosis */
  size_t n_findings;
  const char *untracked;    /* report_untracked's line, or "" */
  const char *const *notes; /* what reading the files left out, one line each */
  size_t n_notes;
  const report_picture *pictures; /* their stem.svg files are in the report folder */
  int n_pictures;
  const char *no_pictures; /* why there are none (no gnuplot), or NULL */
} report_page;

/* Writes dir/report.html. Returns 0, or -1 with one line in err. */
int report_html_write(const char *dir, const report_page *page, char *err, size_t cap);

/* The page's pieces, for the sweep's page (report_sweep_draw.c): text with
   HTML's special characters escaped; gnuplot's SVG file at path inlined
   with its ids prefixed (0, or -1 when it is not an SVG); the inline CSS. */
void report_html_escape(FILE *f, const char *s);
int report_html_svg(FILE *f, const char *path, const char *prefix);
const char *report_html_style(void);

#endif /* DESCENT_CLI_REPORT_HTML_H */
