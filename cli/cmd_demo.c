/*
 * cmd_demo.c - `descent demo NAME`: one figure of the lecture, measured and
 * drawn; `descent demo all` runs every one.
 *
 * The demos live in the library (src/lab) and return their tables; this file
 * turns each demo's option list into command-line options, prints the tables
 * and the notes, keeps every run in a folder of its own, and asks gnuplot for
 * the pictures when it is installed.
 */
#include "commands.h"
#include "descent.h"
#include "lab/lab.h"
#include "options.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define NO_GNUPLOT "pictures skipped: install gnuplot (apt-get install gnuplot-nox) to draw them"
#define NO_GNUPLOT_GIF                                                                             \
  "pictures and animations (--gif) skipped: install gnuplot (apt-get install gnuplot-nox) to "     \
  "draw them"
#define GIF_HELP                                                                                   \
  "also draw the animations (the iterates revealed one at a time) as GIF; about a second of "      \
  "gnuplot each"

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void print_demo_options(const lab_demo *d) {
  for (int i = 0; i < d->n_options; i++) {
    char left[64];
    snprintf(left, sizeof left, "--%s %s", d->options[i].name, d->options[i].metavar);
    printf("      %-26s %s (default: %s)\n", left, d->options[i].help, d->options[i].def);
  }
}

/* The slide's claim, what to look for and the time a demo takes, each on
   its own line when the demo has it. */
static void print_demo_about(const lab_demo *d, const char *indent) {
  if (d->claim) printf("%sclaim: %s\n", indent, d->claim);
  if (d->look_for) printf("%slook for: %s\n", indent, d->look_for);
  if (d->duration)
    printf("%stakes %s (demo all runs it with --networks%s)\n", indent, d->duration,
           lab_demo_quick(d) ? "; --quick runs a small version" : "");
}

static void print_help(void) {
  int n;
  const lab_demo *const *demos = lab_demos(&n);
  printf("usage: descent demo NAME [--out DIR] [--gif] [options]\n"
         "       descent demo all [--out DIR] [--quick | --networks] [--html] [--gif]\n\n"
         "Runs one figure of the lecture: prints the numbers behind it, writes them as CSV\n"
         "and draws the picture as PNG and SVG with gnuplot (when installed). Each demo's\n"
         "options change its steps, start point, condition number, iterations or seed.\n"
         "--out DIR (default runs/demo-NAME-DATE-TIME) must be new or empty. The demos that\n"
         "draw paths also write an animation's script (NAME-anim.gp); --gif renders it as\n"
         "NAME.gif.\n\ndemos:\n");
  for (int i = 0; i < n; i++) {
    printf("  %-14s %s (%s)\n", demos[i]->name, demos[i]->summary, demos[i]->slides);
    print_demo_about(demos[i], "      ");
    print_demo_options(demos[i]);
  }
  printf("  %-14s every demo above with its defaults, each in a folder of its own, except\n"
         "  %-14s those that train networks for long (their time is stated above):\n"
         "  %-14s --quick      runs them in small versions of seconds\n"
         "  %-14s --networks   runs them at full size too\n"
         "  %-14s --html       writes index.html, one page with every demo's claim,\n"
         "  %-14s              command, pictures, animations, numbers and what to look for\n"
         "  %-14s --gif        renders every animation too\n\n"
         "The problems the demos run on (also for descent_problem_create):\n",
         "all", "", "", "", "", "", "");
  descent_problem_help(stdout);
}

/* mkdir -p, refusing a folder that already holds anything: a previous run's
   files are never overwritten. *created tells whether the folder is new. */
static int prepare_dir(const char *dir, int *created) {
  char path[4096];
  if (strlen(dir) >= sizeof path - 64) {
    fprintf(stderr, "descent demo: --out path too long\n");
    return -1;
  }
  snprintf(path, sizeof path, "%s", dir);
  for (char *p = path + 1; *p; p++) {
    if (*p != '/') continue;
    *p = '\0';
    if (mkdir(path, 0777) != 0 && errno != EEXIST) {
      fprintf(stderr, "descent demo: cannot create folder '%s': %s\n", path, strerror(errno));
      return -1;
    }
    *p = '/';
  }
  *created = mkdir(path, 0777) == 0;
  if (!*created && errno != EEXIST) {
    fprintf(stderr, "descent demo: cannot create folder '%s': %s\n", path, strerror(errno));
    return -1;
  }
  if (!*created && rmdir(path) != 0) { /* rmdir only removes an empty folder */
    if (errno == ENOTEMPTY || errno == EEXIST)
      fprintf(stderr,
              "descent demo: '%s' already holds files; choose another --out or move them away\n",
              dir);
    else
      fprintf(stderr, "descent demo: cannot use folder '%s': %s\n", dir, strerror(errno));
    return -1;
  }
  if (!*created && mkdir(path, 0777) != 0) {
    fprintf(stderr, "descent demo: cannot create folder '%s': %s\n", path, strerror(errno));
    return -1;
  }
  *created = 1;
  return 0;
}

static void default_dir(char *buf, size_t cap, const char *name) {
  time_t t = time(NULL);
  struct tm tm;
  localtime_r(&t, &tm);
  char stamp[32];
  strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
  snprintf(buf, cap, "runs/demo-%s-%s", name, stamp);
}

/* Draws every picture of res; returns 0, or 1 when gnuplot failed. Prints the
   line about gnuplot at most once per program run. */
static int draw_pictures(const char *dir, const lab_result *res, int gif, int *warned,
                         char (*made)[320], int *n_made, int max_made) {
  if (!lab_gnuplot_available()) {
    if (!*warned) printf("%s\n", gif ? NO_GNUPLOT_GIF : NO_GNUPLOT);
    *warned = 1;
    return 0;
  }
  for (int i = 0; i < res->n_pictures; i++) {
    if (lab_plot_render(dir, res->pictures[i]) != DESCENT_OK) {
      fprintf(stderr, "descent demo: %s\n", descent_last_error());
      return 1;
    }
    if (*n_made < max_made)
      snprintf(made[(*n_made)++], 320, "%s/%s.png and .svg", dir, res->pictures[i]);
  }
  return 0;
}

/* Renders every animation of res as a GIF, once the pictures are drawn (so
   gnuplot is there); returns 0, or 1 when gnuplot failed. */
static int draw_animations(const char *dir, const lab_result *res, char (*made)[320], int *n_made,
                           int max_made) {
  if (!lab_gnuplot_available()) return 0; /* draw_pictures said so */
  for (int i = 0; i < res->n_animations; i++) {
    if (lab_anim_render(dir, res->animations[i]) != DESCENT_OK) {
      fprintf(stderr, "descent demo: %s\n", descent_last_error());
      return 1;
    }
    if (*n_made < max_made)
      snprintf(made[(*n_made)++], 320, "%s/%s.gif (animated)", dir, res->animations[i]);
  }
  return 0;
}

/* Runs one demo into dir; prints its tables. Returns an exit status; on a
   failure, why (one line, also printed) goes to why[0, why_cap). */
static int run_one(const lab_demo *d, const char *const *overrides, const char *dir, int gif,
                   int *warned, char (*made)[320], int *n_made, int max_made, lab_result *keep,
                   char *why, size_t why_cap) {
  int created = 0;
  if (prepare_dir(dir, &created)) {
    snprintf(why, why_cap, "its folder %s could not be made", dir);
    return 1;
  }
  lab_result res;
  int rc = lab_demo_run(d, overrides, dir, &res);
  if (rc) {
    snprintf(why, why_cap, "%s", descent_last_error());
    fprintf(stderr, "descent demo %s: %s\n", d->name, why);
    if (created) rmdir(dir); /* only if nothing was written */
    return rc == DESCENT_EINVAL ? 2 : 1;
  }
  for (int i = 0; i < res.n_tables; i++) {
    printf("\n");
    lab_table_print(&res.tables[i], stdout);
  }
  for (int i = 0; i < res.n_notes; i++) printf("%s %s\n", i ? " " : "\n*", res.notes[i]);
  fflush(stdout);
  int status = draw_pictures(dir, &res, gif, warned, made, n_made, max_made);
  if (!status && gif) status = draw_animations(dir, &res, made, n_made, max_made);
  if (status) snprintf(why, why_cap, "%s", descent_last_error());
  printf("files in %s:", dir);
  for (int i = 0; i < res.n_files; i++) printf(" %s", res.files[i]);
  printf("\n");
  if (keep)
    *keep = res; /* the caller frees it */
  else
    lab_result_free(&res);
  return status;
}

/* "descent demo NAME --opt value ...": the command that reruns a demo. */
static void demo_command(const lab_demo *d, const char *const *overrides, char *buf, size_t cap) {
  size_t used = (size_t)snprintf(buf, cap, "descent demo %s", d->name);
  for (const char *const *o = overrides; o && o[0] && o[1] && used < cap; o += 2)
    used += (size_t)snprintf(buf + used, cap - used, " --%s %s", o[0], o[1]);
}

/* Why demo all leaves out a demo that trains networks for long, and how
   to run it. */
static void skip_reason(const lab_demo *d, char *buf, size_t cap) {
  snprintf(buf, cap, "trains networks for %s; --networks runs it%s", d->duration,
           lab_demo_quick(d) ? ", --quick runs a small version" : "");
}

static int demo_all(int argc, char **argv) {
  cli_option opts[] = {
      {"out", "DIR", "folder for every demo's folder (must be new or empty)",
       "runs/demo-all-DATE-TIME", 0},
      {"quick", NULL, "the demos that train networks for long run a small version of seconds", NULL,
       0},
      {"networks", NULL, "the demos that train networks for long run too, at full size", NULL, 0},
      {"html", NULL, "write index.html: one page with every demo, its claim, pictures and numbers",
       NULL, 0},
      {"gif", NULL, GIF_HELP, NULL, 0}};
  enum { N_OPTS = sizeof opts / sizeof opts[0] };
  int rc = cli_parse(argc, argv, 2, opts, N_OPTS, "demo all",
                     "Runs every demo of the lecture with its defaults, except those that train\n"
                     "networks for long (their time is in 'descent demo --help'): --quick runs\n"
                     "them small, --networks at full size.");
  if (rc) return rc < 0 ? 2 : 0;
  int quick = opts[1].given, networks = opts[2].given, html = opts[3].given, gif = opts[4].given;
  if (quick && networks) {
    fprintf(stderr, "descent demo all: --quick and --networks: choose one (--quick runs the "
                    "network demos small, --networks at full size)\n");
    return 2;
  }
  char root[4096];
  if (opts[0].given)
    snprintf(root, sizeof root, "%s", opts[0].value);
  else
    default_dir(root, sizeof root, "all");
  int created;
  if (prepare_dir(root, &created)) return 1;
  int n, warned = 0, n_made = 0, status = 0, n_run = 0, n_failed = 0;
  enum { MAX_MADE = 96 };
  char made[MAX_MADE][320];
  const lab_demo *const *demos = lab_demos(&n);
  lab_result *results = calloc((size_t)n, sizeof *results);
  lab_page_demo *page = calloc((size_t)n, sizeof *page);
  char(*commands)[512] = calloc((size_t)n, sizeof *commands);
  char(*skipped)[1536] = calloc((size_t)n, sizeof *skipped);
  char failed_names[512] = "";
  if (!results || !page || !commands || !skipped) {
    fprintf(stderr, "descent demo all: out of memory\n");
    free(results), free(page), free(commands), free(skipped);
    return 1;
  }
  double start = now_seconds();
  /* A demo that fails is said and left out; the others still run, and the
     page says which failed and why. */
  for (int i = 0; i < n; i++) {
    const lab_demo *d = demos[i];
    const char *const *overrides = quick ? lab_demo_quick(d) : NULL;
    page[i].demo = d;
    page[i].folder = d->name;
    printf("\n== %s (%s): %s\n", d->name, d->slides, d->summary);
    demo_command(d, overrides, commands[i], sizeof commands[i]);
    page[i].command = commands[i];
    if (d->duration && !networks && !(quick && overrides)) {
      skip_reason(d, skipped[i], sizeof skipped[i]);
      printf("skipped: %s\n", skipped[i]);
      page[i].skipped = skipped[i];
      continue;
    }
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/%s", root, d->name);
    char why[1024];
    int rc_one = run_one(d, overrides, dir, gif, &warned, made, &n_made, MAX_MADE,
                         html ? &results[i] : NULL, why, sizeof why);
    if (rc_one) {
      lab_result_free(&results[i]); /* drawn badly or not run: no tables on the page */
      snprintf(skipped[i], sizeof skipped[i], "it failed: %s (rerun it: %s)", why, commands[i]);
      page[i].skipped = skipped[i];
      size_t used = strlen(failed_names);
      snprintf(failed_names + used, sizeof failed_names - used, "%s%s", n_failed ? ", " : "",
               d->name);
      n_failed++;
      status = 1;
      continue;
    }
    n_run++;
    page[i].result = html ? &results[i] : NULL;
  }
  double seconds = now_seconds() - start;
  int n_skipped = n - n_run - n_failed;
  printf("\n%s%d demos in %.1f s, in %s", n_failed ? "" : "all ", n_run, seconds, root);
  if (n_skipped) printf(" (%d skipped: see their line above)", n_skipped);
  printf("\n");
  if (html) {
    char notes[5][1024];
    const char *note_ptrs[5];
    int n_notes = 0;
    snprintf(notes[n_notes++], sizeof notes[0],
             "Made by: descent demo all%s%s%s --html (%d demos in %.0f s).",
             quick ? " --quick" : "", networks ? " --networks" : "", gif ? " --gif" : "", n_run,
             seconds);
    if (n_failed)
      snprintf(notes[n_notes++], sizeof notes[0],
               "%d demo%s failed (%s): each section says why and how to rerun it.", n_failed,
               n_failed == 1 ? "" : "s", failed_names);
    if (n_skipped)
      snprintf(notes[n_notes++], sizeof notes[0],
               "%d demo%s networks for long and did not run (each section says how long): "
               "descent demo all --networks runs them at full size, --quick in small versions.",
               n_skipped, n_skipped == 1 ? " trains" : "s train");
    if (quick)
      snprintf(notes[n_notes++], sizeof notes[0],
               "--quick: the network demos ran in small versions (their commands below say "
               "which options), so their numbers are rougher than the lecture's.");
    if (!lab_gnuplot_available()) snprintf(notes[n_notes++], sizeof notes[0], "%s.", NO_GNUPLOT);
    for (int i = 0; i < n_notes; i++) note_ptrs[i] = notes[i];
    if (lab_page_write(root, "The lecture's lab: optimization for deep networks", page, n,
                       note_ptrs, n_notes) != DESCENT_OK) {
      fprintf(stderr, "descent demo all: %s\n", descent_last_error());
      status = 1;
    } else {
      printf("page: %s/index.html\n", root);
    }
  }
  for (int i = 0; i < n; i++) lab_result_free(&results[i]); /* zeroed when not run: safe */
  free(results), free(page), free(commands), free(skipped);
  if (n_failed)
    fprintf(stderr,
            "descent demo all: %d of %d demos failed: %s (their lines above say why; "
            "the others ran, in %s)\n",
            n_failed, n, failed_names, root);
  if (status) return status;
  if (n_made) printf("pictures:\n");
  for (int i = 0; i < n_made; i++) printf("  %s\n", made[i]);
  return 0;
}

int cmd_demo(int argc, char **argv) {
  char names[512];
  lab_demo_names(names, sizeof names);
  if (argc < 2) {
    fprintf(stderr, "descent demo: which demo? valid demos: %s, all; see 'descent demo --help'\n",
            names);
    return 2;
  }
  if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
    print_help();
    return 0;
  }
  if (strcmp(argv[1], "all") == 0) return demo_all(argc, argv);
  const lab_demo *d = lab_demo_find(argv[1]);
  if (!d) {
    fprintf(stderr, "descent demo: unknown demo '%s'; valid demos: %s, all\n", argv[1], names);
    return 2;
  }
  /* The demo's own options, then --out and --gif. */
  cli_option opts[LAB_MAX_OPTIONS + 2];
  int n = d->n_options;
  for (int i = 0; i < n; i++)
    opts[i] = (cli_option){d->options[i].name, d->options[i].metavar, d->options[i].help,
                           d->options[i].def, 0};
  opts[n++] = (cli_option){"out", "DIR",
                           "folder for the CSV files, scripts and pictures (new or "
                           "empty)",
                           "runs/demo-NAME-DATE-TIME", 0};
  opts[n++] = (cli_option){"gif", NULL, GIF_HELP, NULL, 0};
  char command[64], summary[2048];
  snprintf(command, sizeof command, "demo %s", d->name);
  size_t used = (size_t)snprintf(summary, sizeof summary, "%s (%s).", d->summary, d->slides);
  if (d->claim && used < sizeof summary)
    used += (size_t)snprintf(summary + used, sizeof summary - used, "\n\nclaim: %s", d->claim);
  if (d->look_for && used < sizeof summary)
    used += (size_t)snprintf(summary + used, sizeof summary - used, "\nlook for: %s", d->look_for);
  if (d->duration && used < sizeof summary)
    snprintf(summary + used, sizeof summary - used,
             "\ntakes %s with its defaults (demo all runs it with --networks)", d->duration);
  int rc = cli_parse(argc, argv, 2, opts, n, command, summary);
  if (rc) return rc < 0 ? 2 : 0;
  const char *overrides[2 * LAB_MAX_OPTIONS + 1];
  int k = 0;
  printf("descent demo %s (%s): %s\noptions:", d->name, d->slides, d->summary);
  for (int i = 0; i < d->n_options; i++) {
    overrides[k++] = opts[i].name;
    overrides[k++] = opts[i].value;
    printf(" --%s %s", opts[i].name, opts[i].value);
  }
  overrides[k] = NULL;
  char dir[4096];
  int gif = opts[n - 1].given;
  if (opts[n - 2].given)
    snprintf(dir, sizeof dir, "%s", opts[n - 2].value);
  else
    default_dir(dir, sizeof dir, d->name);
  printf(" --out %s%s\n", dir, gif ? " --gif" : "");
  int warned = 0, n_made = 0;
  char made[2 * LAB_MAX_FILES][320];
  char why[1024];
  rc = run_one(d, overrides, dir, gif, &warned, made, &n_made, 2 * LAB_MAX_FILES, NULL, why,
               sizeof why);
  if (!rc && n_made) {
    printf("pictures:\n");
    for (int i = 0; i < n_made; i++) printf("  %s\n", made[i]);
  }
  return rc;
}
