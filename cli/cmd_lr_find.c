/*
 * cmd_lr_find.c - `descent lr-find`: Leslie Smith's learning-rate range test
 * (descent_lr_find) on the model, data and optimizer `descent train` would
 * use with the same options, and the two rates it suggests.
 *
 * It writes lr_find.csv, lr_find.gp and its pictures into --out and nothing
 * else: no checkpoint, no model, never a run folder.
 */
#include "commands.h"
#include "descent.h"
#include "lab/lab.h"
#include "options.h"
#include "setup.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define NO_GNUPLOT "pictures skipped: install gnuplot (apt-get install gnuplot-nox) to draw them"

static cli_option lr_find_options[] = {
    CLI_SETUP_OPTIONS,
    {"start", "RATE", "the first step's learning rate", "1e-7", 0},
    {"end", "RATE", "the last step's learning rate (the rate grows exponentially to it)", "10", 0},
    {"steps", "N", "minibatch steps from --start to --end", "100", 0},
    {"smoothing", "B",
     "the loss's moving average: avg = B avg + (1-B) loss, bias-corrected; in [0, 1)", "0.98", 0},
    {"stop-factor", "K", "stop once the smoothed loss passes K times its best; > 1", "4", 0},
    {"out", "DIR", "folder for lr_find.csv and lr_find.png/.svg; must be new or empty",
     "runs/lr-find-DATE-TIME", 0},
};
enum { N_OPTIONS = sizeof lr_find_options / sizeof lr_find_options[0] };

static int parse_number(const char *name, double *out) {
  const char *text = cli_get(lr_find_options, N_OPTIONS, name);
  char *end;
  *out = strtod(text, &end);
  if (end == text || *end || !isfinite(*out)) {
    fprintf(stderr, "descent lr-find: --%s: '%s' is not a finite number\n", name, text);
    return -1;
  }
  return 0;
}

static int read_options(cli_setup *s, descent_lr_find_options *o) {
  descent_lr_find_options_default(o);
  size_t steps;
  if (cli_setup_read("lr-find", lr_find_options, N_OPTIONS, s) ||
      parse_number("start", &o->start) || parse_number("end", &o->end) ||
      parse_number("smoothing", &o->smoothing) || parse_number("stop-factor", &o->stop_factor) ||
      cli_get_size(lr_find_options, N_OPTIONS, "steps", 2, 100000000, &steps))
    return -1;
  o->steps = (int64_t)steps;
  if (!(o->start > 0 && o->end > o->start)) {
    fprintf(stderr, "descent lr-find: --start %g --end %g: give rates with 0 < start < end\n",
            o->start, o->end);
    return -1;
  }
  if (!(o->smoothing >= 0 && o->smoothing < 1)) {
    fprintf(stderr, "descent lr-find: --smoothing %g: give a number in [0, 1)\n", o->smoothing);
    return -1;
  }
  if (!(o->stop_factor > 1)) {
    fprintf(stderr, "descent lr-find: --stop-factor %g: give a number above 1\n", o->stop_factor);
    return -1;
  }
  return 0;
}

/* Methods (lbfgs, hf, ...) and full-batch optimizers (gd) are refused before
   the data is loaded. */
static int check_method(const cli_setup *s) {
  descent_optimizer *opt;
  if (descent_optimizer_create(&opt, s->opt, s->lr, 1)) {
    fprintf(stderr, "descent lr-find: %s\n", descent_last_error());
    return -1;
  }
  int method = descent_optimizer_is_method(opt), full = descent_optimizer_full_batch(opt);
  descent_optimizer_free(opt);
  if (method)
    fprintf(stderr,
            "descent lr-find: --opt %s is a method that evaluates the objective (or its "
            "curvature) within each step; the range test sweeps the rate of a first-order "
            "optimizer (sgd, momentum, adam, or a chain ending in lr)\n",
            s->opt);
  else if (full)
    fprintf(stderr,
            "descent lr-find: --opt %s steps on the whole training set; the range test takes "
            "one minibatch per step: use sgd (the same update on minibatches)\n",
            s->opt);
  return method || full ? -1 : 0;
}

/* --out must be new or empty; it is made only once everything is ready. */
static int check_out(const char *dir) {
  char found[256];
  int held = cli_folder_first_entry(dir, NULL, found, sizeof found);
  if (held < 0) {
    if (errno == ENOENT) return 0;
    fprintf(stderr, "descent lr-find: cannot open the folder '%s': %s\n", dir, strerror(errno));
    return -1;
  }
  if (!held) return 0;
  fprintf(stderr,
          "descent lr-find: '%s' is not empty (it holds '%s'); choose another --out or move the "
          "old files away\n",
          dir, found);
  return -1;
}

static void put_number(FILE *f, double v, char sep) {
  if (isfinite(v))
    fprintf(f, "%.9g%c", v, sep);
  else
    fprintf(f, "nan%c", sep);
}

static int write_csv(const char *dir, const descent_lr_find_result *r) {
  char path[4200];
  snprintf(path, sizeof path, "%s/lr_find.csv", dir);
  FILE *f = fopen(path, "w");
  if (!f) {
    fprintf(stderr, "descent lr-find: cannot write %s: %s\n", path, strerror(errno));
    return -1;
  }
  fprintf(f, "step,lr,loss,smoothed\n");
  for (int64_t i = 0; i < r->n; i++) {
    fprintf(f, "%lld,", (long long)i);
    put_number(f, r->lr[i], ',');
    put_number(f, r->loss[i], ',');
    put_number(f, r->smoothed[i], '\n');
  }
  if (fclose(f) != 0) {
    fprintf(stderr, "descent lr-find: writing %s failed: %s\n", path, strerror(errno));
    return -1;
  }
  return 0;
}

/* The y range: from below the lowest loss to above the smoothed curve's
   descent, so that the blow-up at the end does not flatten the rest. */
static void y_range(const descent_lr_find_result *r, double *lo, double *hi) {
  *lo = INFINITY, *hi = -INFINITY;
  int64_t last = r->minimum >= 0 ? r->minimum : r->n - 1;
  for (int64_t i = 0; i < r->n; i++) {
    if (isfinite(r->loss[i]) && r->loss[i] < *lo) *lo = r->loss[i];
    if (isfinite(r->smoothed[i]) && r->smoothed[i] < *lo) *lo = r->smoothed[i];
    if (i <= last && isfinite(r->loss[i]) && r->loss[i] > *hi) *hi = r->loss[i];
  }
  if (!(*lo < *hi)) *lo = *lo - 1, *hi = *lo + 2;
  double pad = 0.08 * (*hi - *lo);
  *lo -= pad, *hi += pad;
}

static void mark(FILE *f, double lr, const char *what, const char *color, double y) {
  if (!isfinite(lr)) return;
  fprintf(f,
          "set arrow from %.9g, graph 0 to %.9g, graph 1 nohead lc rgb \"%s\" dt 2 lw 1.5\n"
          "set label \"%s %.3g\" at %.9g, graph %g left offset 0.5,0 tc rgb \"%s\"\n",
          lr, lr, color, what, lr, lr, y, color);
}

static int write_script(const char *dir, const descent_lr_find_result *r) {
  char path[4200];
  snprintf(path, sizeof path, "%s/lr_find.gp", dir);
  FILE *f = fopen(path, "w");
  if (!f) {
    fprintf(stderr, "descent lr-find: cannot write %s: %s\n", path, strerror(errno));
    return -1;
  }
  double lo, hi;
  y_range(r, &lo, &hi);
  lab_gp_header(f, "lr_find", "the learning-rate range test", "descent lr-find", "png svg", 900,
                560);
  fprintf(f,
          "set title \"Learning-rate range test: batch loss against the rate\"\n"
          "set logscale x\nset format x \"%%.0e\"\nset grid lc rgb \"#e8e8e8\"\n"
          "set xlabel \"learning rate (log scale)\"\nset ylabel \"loss\"\n"
          "set yrange [%.9g:%.9g]\nset key top left\n",
          lo, hi);
  mark(f, r->lr_steepest, "steepest", lab_color(2), 0.95);
  mark(f, r->lr_min_div10, "minimum/10", lab_color(3), 0.88);
  fprintf(f,
          "plot 'lr_find.csv' skip 1 using 2:3 with lines lc rgb \"#b0b0b0\" lw 1 title \"batch "
          "loss\", \\\n  'lr_find.csv' skip 1 using 2:4 with lines lc rgb \"%s\" lw 2 title "
          "\"smoothed loss\"\n"
          "set output\n}\n",
          lab_color(0));
  if (fclose(f) != 0) {
    fprintf(stderr, "descent lr-find: writing %s failed: %s\n", path, strerror(errno));
    return -1;
  }
  return 0;
}

static void print_result(const descent_lr_find_result *r, const descent_lr_find_options *o,
                         const char *dir, int drawn) {
  printf("\n%lld steps, rate %.3g to %.3g%s\n", (long long)r->n, r->lr[0], r->lr[r->n - 1],
         r->stopped ? " (stopped: the smoothed loss passed --stop-factor times its best)" : "");
  if (r->minimum >= 0)
    printf("smoothed loss: lowest %.4g at rate %.3g\n", r->smoothed[r->minimum], r->lr_minimum);
  printf("suggested learning rates:\n");
  if (isfinite(r->lr_steepest))
    printf("  steepest descent  %.3g  where the smoothed loss falls fastest per decade of rate\n",
           r->lr_steepest);
  else
    printf("  steepest descent  none: the smoothed loss never fell; lower --start\n");
  if (isfinite(r->lr_min_div10))
    printf("  minimum / 10      %.3g  a tenth of the rate at the lowest smoothed loss\n",
           r->lr_min_div10);
  printf("The loss falls once the rate is large enough to make progress, and blows up once it "
         "is too large to be stable. Train at a rate on the falling part: the steepest point, or "
         "a tenth of the rate at the minimum (past it the loss is about to rise). Both are "
         "starting points for a sweep around them, not its result.\n");
  if (!r->stopped && r->minimum == r->n - 1)
    printf("note: the loss was still falling at --end %g: raise --end\n", o->end);
  printf("curve: %s/lr_find.csv\n", dir);
  if (drawn)
    printf("picture: %s/lr_find.png .svg\n", dir);
  else
    printf("%s\n", NO_GNUPLOT);
}

static int run(const cli_setup *s, const descent_lr_find_options *o, const char *dir) {
  cli_setup_built b;
  descent_batcher *batcher = NULL;
  descent_lr_find_result r = {0};
  int status = cli_setup_build("lr-find", s, NULL, &b);
  if (status) goto done;
  status = 1;
  /* A limit OpenBLAS cannot work under is refused here, not met as a hang
     at the first product. */
  if (cli_check_address_space("lr-find", descent_get_threads())) goto done;
  /* The trainer's shuffling seed: the batches of descent train's first epoch. */
  if (descent_batcher_create(&batcher, &b.train, s->batch_size, 1, s->seed ^ 0x5eed)) {
    fprintf(stderr, "descent lr-find: %s\n", descent_last_error());
    goto done;
  }
  char text[4096];
  descent_optimizer_describe(b.opt, text, sizeof text);
  printf("descent %s, %s, %d threads\n"
         "data        %s: %zu train, %zu validation examples\n"
         "preprocess  %s (eps %g)\nmodel       %s, seed %llu\noptimizer   %s\n"
         "range       %g to %g over %lld steps of %zu examples, smoothing %g, stop at %g x the "
         "best\n",
         DESCENT_VERSION_STRING, sizeof(descent_real) == 8 ? "double" : "float",
         descent_get_threads(), s->data_text, b.train.n, b.val.n,
         descent_preprocess_name(s->preprocess), s->preprocess_eps, s->model,
         (unsigned long long)s->seed, text, o->start, o->end, (long long)o->steps, s->batch_size,
         o->smoothing, o->stop_factor);
  fflush(stdout);
  if (descent_lr_find(descent_net_objective(b.net), b.opt, batcher, o, &r)) {
    fprintf(stderr, "descent lr-find: %s\n", descent_last_error());
    goto done;
  }
  if (cli_make_folders("lr-find", dir) || write_csv(dir, &r) || write_script(dir, &r)) goto done;
  int drawn = lab_gnuplot_available();
  if (drawn && lab_plot_render(dir, "lr_find") != DESCENT_OK) {
    fprintf(stderr, "descent lr-find: %s\n", descent_last_error());
    goto done;
  }
  print_result(&r, o, dir, drawn);
  status = 0;
done:
  descent_lr_find_result_free(&r);
  descent_batcher_free(batcher);
  cli_setup_free(&b);
  return status;
}

int cmd_lr_find(int argc, char **argv) {
  int rc = cli_parse(
      argc, argv, 1, lr_find_options, N_OPTIONS, "lr-find",
      "Leslie Smith's learning-rate range test: train from the initial network for --steps\n"
      "minibatch steps while the rate grows exponentially from --start to --end, smooth the\n"
      "loss, stop once it blows up, and suggest a rate (the steepest descent of the smoothed\n"
      "loss, and a tenth of the rate at its minimum). Takes train's model, data and optimizer\n"
      "options; writes lr_find.csv and lr_find.png/.svg into --out, nothing else.");
  if (rc) return rc < 0 ? 2 : 0;
  cli_setup s;
  memset(&s, 0, sizeof s);
  descent_lr_find_options o;
  if (read_options(&s, &o) || check_method(&s)) return 2;
  char dir[4096];
  if (cli_find(lr_find_options, N_OPTIONS, "out")->given) {
    snprintf(dir, sizeof dir, "%s", cli_get(lr_find_options, N_OPTIONS, "out"));
  } else {
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(dir, sizeof dir, "runs/lr-find-%Y%m%d-%H%M%S", &tm);
  }
  if (check_out(dir)) return 2;
  return run(&s, &o, dir);
}
