/*
 * plot.c - the pictures: gnuplot scripts that draw each demo's CSV files as
 * PNG and SVG, and running gnuplot on them.
 *
 * A script is written beside its data and reads it by relative name, so a
 * user can edit it and run `gnuplot NAME.gp` in the folder again. gnuplot is
 * found on PATH and run with fork and exec in that folder; its messages are
 * captured, never printed (the library does not print), and the first one
 * explains a failure.
 */
#include "lab.h"

#include <errno.h>
#include <math.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

FILE *lab_gp_open(const char *dir, const char *stem, int width, int height, const char *what,
                  lab_result *r) {
  char name[LAB_TEXT + 8];
  snprintf(name, sizeof name, "%s.gp", stem);
  FILE *f = lab_file_open(dir, name, r);
  if (!f) return NULL;
  lab_gp_header(f, stem, what, "descent demo", "png svg", width, height);
  /* Enhanced text in both terminals: θ_{t} is theta with a subscript t. A
     demo's own text must then escape _ ^ @ & ~ { } where they are literal. */
  fprintf(f, "set termoption enhanced\n");
  return f;
}

void lab_gp_header(FILE *f, const char *stem, const char *what, const char *program,
                   const char *formats, int width, int height) {
  fprintf(f,
          "# %s.gp - %s\n"
          "# Draws %s.png and %s.svg from the CSV files in this folder (written by\n"
          "# `%s`). Edit it and run it again with: gnuplot %s.gp\n"
          "do for [format in \"%s\"] {\n"
          "reset\n"
          "if (format eq \"png\") {\n"
          "  set terminal pngcairo size %d,%d font \"sans,11\" noenhanced\n"
          "} else {\n"
          "  set terminal svg size %d,%d font \"sans,11\" noenhanced background \"white\"\n"
          "}\n"
          "set output \"%s.\" . format\n"
          "set encoding utf8\n"
          "set datafile separator ','\n"
          "set key opaque box lc rgb \"#dddddd\"\n",
          stem, what, stem, stem, program, stem, formats, width, height, width, height, stem);
}

int lab_gp_close(FILE *f, const char *stem, lab_result *r) {
  char name[LAB_TEXT + 8];
  snprintf(name, sizeof name, "%s.gp", stem);
  fprintf(f, "unset multiplot\nset output\n}\n");
  int rc = lab_file_close(f, name);
  if (!rc && r->n_pictures < LAB_MAX_FILES)
    snprintf(r->pictures[r->n_pictures++], LAB_TEXT, "%s", stem);
  return rc;
}

static void clause_start(FILE *f, int first) {
  fprintf(f, first ? "plot " : ", \\\n     ");
}

void lab_gp_contour_lines(FILE *f, int first, const char *csv) {
  clause_start(f, first);
  fprintf(f, "'%s' using 1:2 with lines lc rgb \"#c4c4c4\" lw 1 notitle", csv);
}

void lab_gp_path(FILE *f, int first, const char *csv, int run, const char *title, const char *color,
                 int numbered, int64_t max_t) {
  /* Columns: run,method,t,theta,f (1D) or run,method,t,x,y (2D): the point is
     columns 4 and 5 either way. */
  clause_start(f, first);
  fprintf(f,
          "'%s' using ($1==%d && $3<=%lld ? $4 : NaN):5 with linespoints pt 7 ps 0.6 lw 1.5 "
          "lc rgb \"%s\" title \"%s\"",
          csv, run, (long long)max_t, color, title);
  if (numbered > 0) {
    /* Left-aligned beside the point and above it, so a number never covers
       its own point. */
    clause_start(f, 0);
    fprintf(f,
            "'%s' using ($1==%d && $3<%d ? $4 : NaN):5:(sprintf(\"%%d\", $3)) with labels "
            "left offset char 0.7,0.6 font \",9\" tc rgb \"%s\" notitle",
            csv, run, numbered, color);
  }
}

void lab_gp_gap(FILE *f, int first, const char *csv, int run, const char *title, const char *color,
                int dim) {
  int gap = dim == 1 ? 6 : 7;
  clause_start(f, first);
  fprintf(f,
          "'%s' using ($1==%d ? $3 : NaN):($%d > 0 ? $%d : NaN) with lines lw 2 lc rgb \"%s\" "
          "title \"%s\"",
          csv, run, gap, gap, color, title);
}

const char *lab_color(int i) {
  static const char *const colors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                                       "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"};
  return colors[i % 10];
}

/* ---- panels ---------------------------------------------------------------- */

/* The head of a contour panel: title, equal axes over the window, the key
   below the axes where it hides no path. */
void lab_gp_panel_2d(FILE *f, const char *title, const double *lo, const double *hi) {
  fprintf(f,
          "set title \"%s\"\nset size ratio -1\nunset logscale\nset xrange [%.6g:%.6g]\n"
          "set yrange [%.6g:%.6g]\nset xlabel \"θ_{1}\"\nset ylabel \"θ_{2}\"\n"
          "set key below horizontal\n",
          title, lo[0], hi[0], lo[1], hi[1]);
}

/* The head of a panel of f - f* against the iteration; the key top right,
   where falling curves leave the room. */
void lab_gp_panel_gap(FILE *f, const char *title, int64_t xmax, int logx) {
  fprintf(f,
          "set title \"%s\"\nset size noratio\nunset logscale\nset logscale y\n%s"
          "set xrange [%s:%lld]\nset yrange [*:*]\nset format y \"10^{%%T}\"\n"
          "set xlabel \"iteration t\"\nset ylabel \"f(θ_{t}) - f*\"\nset key inside top right "
          "vertical\n",
          title, logx ? "set logscale x\n" : "", logx ? "1" : "0", (long long)xmax);
}

void lab_gp_panel_end(FILE *f) {
  fprintf(f, "\nset format y \"%%g\"\n");
}

/* ---- running gnuplot -------------------------------------------------------- */

static int find_gnuplot(char *path, size_t cap) {
  const char *env = getenv("PATH");
  if (!env) return 0;
  for (const char *p = env;;) {
    const char *colon = strchr(p, ':');
    size_t len = colon ? (size_t)(colon - p) : strlen(p);
    if (len > 0 && len + 10 < cap) {
      snprintf(path, cap, "%.*s/gnuplot", (int)len, p);
      if (access(path, X_OK) == 0) return 1;
    }
    if (!colon) return 0;
    p = colon + 1;
  }
}

int lab_gnuplot_available(void) {
  char path[4096];
  return find_gnuplot(path, sizeof path);
}

int lab_plot_render(const char *dir, const char *stem) {
  char exe[4096], script[LAB_TEXT + 8];
  if (!find_gnuplot(exe, sizeof exe))
    return descent_fail(DESCENT_ENOTSUP, "gnuplot is not on PATH");
  snprintf(script, sizeof script, "%s.gp", stem);
  int fds[2];
  if (pipe(fds) != 0) return descent_fail(DESCENT_EIO, "gnuplot: pipe: %s", strerror(errno));
  pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return descent_fail(DESCENT_EIO, "gnuplot: fork: %s", strerror(errno));
  }
  if (pid == 0) { /* the child: only calls that are safe after fork */
    int null = open("/dev/null", O_RDWR);
    if (chdir(dir) != 0 || null < 0) _exit(126);
    dup2(null, 0);
    dup2(null, 1);
    dup2(fds[1], 2);
    close(fds[0]);
    close(fds[1]);
    execl(exe, "gnuplot", script, (char *)NULL);
    _exit(127);
  }
  close(fds[1]);
  char messages[1024];
  size_t used = 0;
  for (;;) { /* keep the first messages, drain the rest so gnuplot never blocks */
    char chunk[512];
    ssize_t got = read(fds[0], chunk, sizeof chunk);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    size_t take =
        (size_t)got < sizeof messages - 1 - used ? (size_t)got : sizeof messages - 1 - used;
    memcpy(messages + used, chunk, take);
    used += take;
  }
  messages[used] = '\0';
  close(fds[0]);
  int status;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return descent_fail(DESCENT_EIO, "gnuplot: wait: %s", strerror(errno));
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return DESCENT_OK;
  /* The first line that says something: gnuplot echoes the failing command
     before the line with the reason, so prefer a line that names the script. */
  const char *line = strstr(messages, script) ? strstr(messages, script) : messages;
  size_t len = strcspn(line, "\n");
  if (WIFEXITED(status) && WEXITSTATUS(status) == 126)
    return descent_fail(DESCENT_EIO, "gnuplot: cannot enter folder '%s'", dir);
  return descent_fail(DESCENT_EIO, "gnuplot failed on %s/%s: %.*s", dir, script, (int)len,
                      len ? line : "(no message)");
}
