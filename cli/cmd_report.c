/*
 * cmd_report.c - `descent report RUN`: draw a training run and diagnose it
 * in plain words.
 *
 * Reads the run folder's metrics.csv, steps.csv, config.txt and (when the
 * run was tracked) diagnostics.csv, never writing there: the report goes to
 * RUN/report or --out DIR, a folder that is new, empty or holds only a
 * previous report (whose files are replaced). The rules are in
 * report_rules.c, the pictures in report_plot.c, the page in report_html.c.
 */
#include "commands.h"
#include "csv_read.h"
#include "lab/lab.h"
#include "options.h"
#include "report_html.h"
#include "report_plot.h"
#include "report_rules.h"
#include "report_sweep.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NO_GNUPLOT "pictures skipped: install gnuplot (apt-get install gnuplot-nox) to draw them"
#define MAX_NOTES  4

enum { FORMAT_PNG = 1, FORMAT_SVG = 2, FORMAT_HTML = 4 };

static int parse_formats(const char *list, unsigned *mask) {
  *mask = 0;
  char buf[128];
  if (strlen(list) >= sizeof buf) list = "(too long)";
  snprintf(buf, sizeof buf, "%s", list);
  for (char *save, *w = strtok_r(buf, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
    if (strcmp(w, "png") == 0)
      *mask |= FORMAT_PNG;
    else if (strcmp(w, "svg") == 0)
      *mask |= FORMAT_SVG;
    else if (strcmp(w, "html") == 0)
      *mask |= FORMAT_HTML;
    else {
      fprintf(stderr,
              "descent report: --format: unknown format '%.40s'; valid: png, svg, html "
              "(comma-separated)\n",
              w);
      return -1;
    }
  }
  if (!*mask) {
    fprintf(stderr, "descent report: --format: give one or more of png, svg, html\n");
    return -1;
  }
  return 0;
}

/* 1 when name is a file a report writes. */
static int report_file(const char *name) {
  if (strcmp(name, "report.html") == 0) return 1;
  for (const char *const *f = report_plot_files(); *f; f++)
    if (strcmp(name, *f) == 0) return 1;
  for (const char *const *f = sweep_report_files(); *f; f++)
    if (strcmp(name, *f) == 0) return 1;
  return 0;
}

/* Creates dir (and its parents), or accepts it when it is empty or holds
   only a previous report's files, which it removes. 0, or -1 after saying
   why. */
static int prepare_out(const char *dir) {
  char path[4096];
  if (strlen(dir) >= sizeof path - 64) {
    fprintf(stderr, "descent report: --out path too long\n");
    return -1;
  }
  snprintf(path, sizeof path, "%s", dir);
  for (char *p = path + 1; *p; p++) {
    if (*p != '/') continue;
    *p = '\0';
    if (mkdir(path, 0777) != 0 && errno != EEXIST) {
      fprintf(stderr, "descent report: cannot create folder '%s': %s\n", path, strerror(errno));
      return -1;
    }
    *p = '/';
  }
  if (mkdir(path, 0777) == 0) return 0;
  DIR *d = errno == EEXIST ? opendir(path) : NULL;
  if (!d) {
    fprintf(stderr, "descent report: cannot use folder '%s': %s\n", dir, strerror(errno));
    return -1;
  }
  const char *stranger = NULL;
  char name[256] = "";
  for (struct dirent *e; (e = readdir(d)) && !stranger;) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    if (!report_file(e->d_name)) snprintf(name, sizeof name, "%s", e->d_name), stranger = name;
  }
  closedir(d);
  if (stranger) {
    fprintf(stderr,
            "descent report: '%s' holds '%.80s', which is not a report's file; choose another "
            "--out or move it away\n",
            dir, stranger);
    return -1;
  }
  char file[4400];
  if (unlink((snprintf(file, sizeof file, "%s/report.html", dir), file)) && errno != ENOENT)
    goto cannot_remove;
  for (const char *const *f = report_plot_files(); *f; f++)
    if (unlink((snprintf(file, sizeof file, "%s/%s", dir, *f), file)) && errno != ENOENT)
      goto cannot_remove;
  for (const char *const *f = sweep_report_files(); *f; f++)
    if (unlink((snprintf(file, sizeof file, "%s/%s", dir, *f), file)) && errno != ENOENT)
      goto cannot_remove;
  return 0;
cannot_remove:
  fprintf(stderr, "descent report: cannot replace the previous report's %s: %s\n", file,
          strerror(errno));
  return -1;
}

/* The run's files. */
typedef struct run_files {
  csv_table metrics, steps, diagnostics;
  int has_metrics, has_steps, has_diagnostics;
  char *config;
  const char *notes[MAX_NOTES];
  size_t n_notes;
} run_files;

static int load_one(const char *run, const char *name, const char *const *required, csv_table *t,
                    int *present, run_files *rf) {
  char path[4200], err[512];
  snprintf(path, sizeof path, "%s/%s", run, name);
  int rc = csv_load(path, name, required, t, err, sizeof err);
  if (rc < 0) {
    fprintf(stderr, "descent report: %s/%s\n", run, err);
    return -1;
  }
  *present = rc == 0;
  if (*present && t->note[0] && rf->n_notes < MAX_NOTES) rf->notes[rf->n_notes++] = t->note;
  return 0;
}

static char *read_config(const char *run) {
  char path[4200];
  snprintf(path, sizeof path, "%s/config.txt", run);
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  size_t cap = 1 << 16;
  char *text = malloc(cap + 1);
  size_t n = text ? fread(text, 1, cap, f) : 0;
  fclose(f);
  if (!text) return NULL;
  text[n] = '\0';
  if (n == cap) snprintf(text + cap - 40, 41, "\n(config.txt continues beyond 64 KiB)\n");
  return text;
}

static int load_run(const char *run, run_files *rf) {
  static const char *const metrics[] = {"epoch", "train_loss", NULL};
  static const char *const steps[] = {"step", "epoch", "lr", "loss", NULL};
  static const char *const diagnostics[] = {"step", "epoch", "lr", "loss", "cost", NULL};
  struct stat st;
  if (stat(run, &st) != 0 || !S_ISDIR(st.st_mode)) {
    fprintf(stderr,
            "descent report: '%s' is not a folder; give the folder descent train --out "
            "wrote\n",
            run);
    return -1;
  }
  if (load_one(run, "metrics.csv", metrics, &rf->metrics, &rf->has_metrics, rf) ||
      load_one(run, "steps.csv", steps, &rf->steps, &rf->has_steps, rf) ||
      load_one(run, "diagnostics.csv", diagnostics, &rf->diagnostics, &rf->has_diagnostics, rf))
    return -1;
  if (!rf->has_metrics && !rf->has_steps) {
    fprintf(stderr,
            "descent report: '%s' holds neither metrics.csv nor steps.csv: not a run "
            "folder; give the folder descent train --out wrote\n",
            run);
    return -1;
  }
  rf->config = read_config(run);
  return 0;
}

static void free_run(run_files *rf) {
  csv_free(&rf->metrics);
  csv_free(&rf->steps);
  csv_free(&rf->diagnostics);
  free(rf->config);
}

/* Draws every picture; returns 0, or -1 after saying why. */
static int draw(const char *dir, const report_picture *pics, int n) {
  for (int i = 0; i < n; i++)
    if (lab_plot_render(dir, pics[i].stem) != DESCENT_OK) {
      fprintf(stderr, "descent report: %s\n", descent_last_error());
      return -1;
    }
  return 0;
}

static void remove_pictures(const char *dir, const report_picture *pics, int n, const char *ext) {
  char path[8400];
  for (int i = 0; i < n; i++) {
    snprintf(path, sizeof path, "%s/%s.%s", dir, pics[i].stem, ext);
    unlink(path);
  }
}

static int make_report(const char *run, const char *dir, unsigned formats, run_files *rf) {
  report_inputs in = {rf->has_metrics ? &rf->metrics : NULL, rf->has_steps ? &rf->steps : NULL,
                      rf->has_diagnostics ? &rf->diagnostics : NULL};
  report_finding findings[REPORT_N_RULES];
  size_t n_findings = report_diagnose(&in, findings, REPORT_N_RULES);
  char untracked[400], err[512];
  report_untracked(in.diagnostics, untracked, sizeof untracked);
  report_picture pics[REPORT_MAX_PICTURES];
  int n_pics = 0, gnuplot = lab_gnuplot_available();
  /* The page inlines the SVG pictures: they are drawn for it, and removed
     afterwards unless svg was asked for too. */
  const char *terminals = (formats & FORMAT_PNG) && (formats & (FORMAT_SVG | FORMAT_HTML))
                              ? "png svg"
                          : (formats & FORMAT_PNG) ? "png"
                                                   : "svg";
  if (prepare_out(dir)) return 1;
  if (report_plot_write(dir, &in, terminals, pics, &n_pics, err, sizeof err)) {
    fprintf(stderr, "descent report: %s\n", err);
    return 1;
  }
  if (gnuplot && draw(dir, pics, n_pics)) return 1;
  if (formats & FORMAT_HTML) {
    report_page page = {run,
                        rf->config,
                        &in,
                        findings,
                        n_findings,
                        untracked,
                        rf->notes,
                        rf->n_notes,
                        pics,
                        n_pics,
                        gnuplot ? NULL : NO_GNUPLOT};
    if (report_html_write(dir, &page, err, sizeof err)) {
      fprintf(stderr, "descent report: %s\n", err);
      return 1;
    }
    if (!(formats & FORMAT_SVG)) remove_pictures(dir, pics, n_pics, "svg");
  }
  printf("descent report %s: %zu epoch%s, %zu steps%s\n", run, in.metrics ? in.metrics->n_rows : 0,
         in.metrics && in.metrics->n_rows == 1 ? "" : "s", in.steps ? in.steps->n_rows : 0,
         in.diagnostics ? ", tracked" : "");
  for (size_t i = 0; i < rf->n_notes; i++) printf("note: %s\n", rf->notes[i]);
  if (untracked[0]) printf("note: %s\n", untracked);
  printf("\ndiagnosis:\n");
  for (size_t i = 0; i < n_findings; i++) printf("* %s\n", findings[i].text);
  if (!n_findings) printf("  none of the rules found trouble in what the run measured\n");
  printf("\n");
  if (!gnuplot) printf("%s\n", NO_GNUPLOT);
  if (formats & FORMAT_HTML) printf("page: %s/report.html\n", dir);
  for (int i = 0; gnuplot && i < n_pics; i++)
    printf("picture: %s/%s%s%s (%s)\n", dir, pics[i].stem, formats & FORMAT_PNG ? ".png" : "",
           formats & FORMAT_SVG ? " .svg" : "", pics[i].title);
  return 0;
}

/* 1 when run is a sweep's folder: it holds a summary.csv. */
static int is_sweep(const char *run) {
  char path[4200];
  struct stat st;
  snprintf(path, sizeof path, "%s/summary.csv", run);
  return stat(path, &st) == 0;
}

/* A sweep folder (SWEEP/summary.csv, docs/tuning.md): the sensitivity of
   each optimizer to the swept value, its tuning window, its best trial's
   learning curves and the results table. */
static int make_sweep_report(const char *sweep, const char *dir, unsigned formats) {
  sweep_report r;
  if (sweep_load(sweep, &r)) {
    sweep_free(&r);
    return 1;
  }
  int gnuplot = lab_gnuplot_available(), n_stems = 0, status = 1;
  char stems[2][32];
  const char *terminals = (formats & FORMAT_PNG) && (formats & (FORMAT_SVG | FORMAT_HTML))
                              ? "png svg"
                          : (formats & FORMAT_PNG) ? "png"
                                                   : "svg";
  if (prepare_out(dir) || sweep_report_draw(sweep, dir, &r, terminals, gnuplot,
                                            (formats & FORMAT_HTML) != 0, stems, &n_stems))
    goto done;
  for (int i = 0; (formats & FORMAT_HTML) && !(formats & FORMAT_SVG) && i < n_stems; i++) {
    char path[4400];
    snprintf(path, sizeof path, "%s/%s.svg", dir, stems[i]);
    unlink(path);
  }
  printf("descent report %s: a sweep of %zu trials, x axis %s%s\n\n", sweep, r.n_trials,
         r.x_param >= 0 ? r.params[r.x_param] : "the trial number (no numeric parameter)",
         r.x_log ? " (log scale)" : "");
  sweep_print_table(stdout, &r);
  printf("\n");
  if (!gnuplot) printf("%s\n", NO_GNUPLOT);
  if (formats & FORMAT_HTML) printf("page: %s/report.html\n", dir);
  for (int i = 0; gnuplot && i < n_stems; i++)
    printf("picture: %s/%s%s%s\n", dir, stems[i], formats & FORMAT_PNG ? ".png" : "",
           formats & FORMAT_SVG ? " .svg" : "");
  status = 0;
done:
  sweep_free(&r);
  return status;
}

int cmd_report(int argc, char **argv) {
  cli_option opts[] = {
      {"out", "DIR", "folder for the report: new, empty or a previous report's", "RUN/report", 0},
      {"format", "LIST",
       "what to write, comma-separated: png, svg (pictures), html (one page "
       "with the SVG pictures inlined)",
       "png,svg,html", 0},
  };
  const char *summary =
      "Draws a training run (the folder descent train --out wrote) and diagnoses it in plain\n"
      "words: losses and accuracies, the learning rate, the step loss and, when the run was\n"
      "tracked (descent train --track), sharpness against the stability limit, the gradient\n"
      "noise scale against the batch, alpha, and per-layer panels; the diagnosis names the\n"
      "number behind each line (rules and thresholds: docs/report.md). Pictures need gnuplot.";
  int has_run = argc >= 2 && strncmp(argv[1], "--", 2) != 0 && strcmp(argv[1], "-h") != 0;
  int rc = cli_parse(argc, argv, has_run ? 2 : 1, opts, 2, "report RUN", summary);
  if (rc) return rc < 0 ? 2 : 0;
  if (!has_run) {
    fprintf(stderr, "descent report: which run? usage: descent report RUN [--out DIR] [--format "
                    "png,svg,html]\n");
    return 2;
  }
  unsigned formats;
  if (parse_formats(opts[1].value, &formats)) return 2;
  const char *run = argv[1];
  char dir[4096];
  if (opts[0].given)
    snprintf(dir, sizeof dir, "%s", opts[0].value);
  else
    snprintf(dir, sizeof dir, "%s/report", run);
  if (is_sweep(run)) return make_sweep_report(run, dir, formats);
  run_files rf = {0};
  int status = load_run(run, &rf) ? 1 : make_report(run, dir, formats, &rf);
  free_run(&rf);
  return status;
}
