/*
 * report_plot.h - the pictures of `descent report`: the run's numbers as
 * clean CSV files in the report folder and one gnuplot script per picture
 * that draws them as PNG and SVG (src/lab/plot.c runs gnuplot).
 */
#ifndef DESCENT_CLI_REPORT_PLOT_H
#define DESCENT_CLI_REPORT_PLOT_H

#include "report_rules.h"

#include <stddef.h>

#define REPORT_MAX_PICTURES 8

typedef struct report_picture {
  char stem[32];   /* stem.gp draws stem.png and stem.svg */
  char title[96];  /* what it shows, for the HTML page */
  char about[320]; /* how to read it, one line */
} report_picture;

/* The data files the scripts read (written only for the tables given). */
#define REPORT_EPOCHS_CSV      "report-epochs.csv"
#define REPORT_STEPS_CSV       "report-steps.csv"
#define REPORT_DIAGNOSTICS_CSV "report-diagnostics.csv"

/* Writes the data files and one script per picture the tables can fill
 * into dir (which exists), each drawing the terminals named in formats
 * ("png", "svg" or "png svg"). Panels appear only for the columns the
 * tables hold with values that can be drawn (on a log scale: positive
 * ones). Fills pictures (at most REPORT_MAX_PICTURES) and *count. Returns
 * 0, or -1 with one line in err. */
int report_plot_write(const char *dir, const report_inputs *in, const char *formats,
                      report_picture *pictures, int *count, char *err, size_t cap);

/* Every file name report_plot_write may write, ended by NULL (what a
   previous report may have left in the folder). */
const char *const *report_plot_files(void);

#endif /* DESCENT_CLI_REPORT_PLOT_H */
