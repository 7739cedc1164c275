/*
 * animate.c - the animated pictures: a gnuplot script that draws a demo's
 * paths as an animated GIF, revealing the iterates one frame at a time as
 * the lecture's slides do.
 *
 * The script reads the CSV files the demo already wrote for its static
 * picture (the paths, and the contour lines or the curve of f behind them),
 * so an animation costs no computation and stays in step with the picture.
 * Each frame draws every run up to iterate t with a dot on where it is; t
 * goes one by one over the first iterates, where the steps are large and
 * the differences between methods show, then logarithmically: the later
 * iterates change little from one to the next, and a bounded number of
 * frames keeps a GIF small and quick to render. The GIF comes from
 * gnuplot's own gif terminal (libgd), which every gnuplot build has.
 */
#include "lab.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void lab_anim_init(lab_animation *a, int dim, int64_t last, const char *fmt, ...) {
  memset(a, 0, sizeof *a);
  a->dim = dim;
  a->last = last;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(a->title, sizeof a->title, fmt, ap);
  va_end(ap);
}

lab_anim_panel *lab_anim_panel_add(lab_animation *a, const char *background, const char *paths,
                                   const char *fmt, ...) {
  if (a->n_panels >= LAB_ANIM_PANELS) return NULL;
  lab_anim_panel *p = &a->panels[a->n_panels++];
  memset(p, 0, sizeof *p);
  snprintf(p->background, sizeof p->background, "%s", background);
  snprintf(p->paths, sizeof p->paths, "%s", paths);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(p->title, sizeof p->title, fmt, ap);
  va_end(ap);
  return p;
}

void lab_anim_run(lab_anim_panel *p, int run, int color, const char *label) {
  if (!p || p->n_runs >= LAB_ANIM_RUNS) return;
  p->runs[p->n_runs] = run;
  p->colors[p->n_runs] = color;
  snprintf(p->labels[p->n_runs], LAB_TEXT, "%s", label);
  p->n_runs++;
}

int lab_anim_frames(int64_t last, int64_t *frames) {
  int n = 0;
  for (int64_t t = 0; t <= last && t < LAB_ANIM_HEAD; t++) frames[n++] = t;
  if (last < LAB_ANIM_HEAD) return n;
  /* The rest evenly on a log scale from the head to the last iterate, each
     frame a new iterate (rounding can give one twice: it is skipped). */
  int rest = LAB_ANIM_FRAMES - LAB_ANIM_HEAD;
  double ratio = pow((double)last / (double)(LAB_ANIM_HEAD - 1), 1.0 / rest);
  double t = (double)(LAB_ANIM_HEAD - 1);
  for (int k = 1; k <= rest; k++) {
    t *= ratio;
    int64_t step = k == rest ? last : (int64_t)llround(t);
    if (step > frames[n - 1] && step <= last) frames[n++] = step;
  }
  if (frames[n - 1] != last) frames[n++] = last; /* cannot overflow: a skipped k freed a slot */
  return n;
}

/* A label for a gnuplot string in double quotes: no quote or backslash. */
static void quoted(FILE *f, const char *text) {
  fputc('"', f);
  for (const char *c = text; *c; c++) fputc(*c == '"' ? '\'' : *c == '\\' ? '/' : *c, f);
  fputc('"', f);
}

/* Panel k (1-based), once before the frames: each run's rows of the paths
   file in a datablock of its own ($P<k>_<i>: t, x and y), which every frame
   reads again far faster than the file and without the other runs' rows;
   its window, the extent of its background (read from its file each frame:
   a table would lose the blank lines between contour segments), and a curve
   gets room above and below. */
static void panel_setup(FILE *f, const lab_animation *a, int k) {
  const lab_anim_panel *p = &a->panels[k - 1];
  for (int i = 0; i < p->n_runs; i++)
    fprintf(f,
            "set table $P%d_%d separator comma\n"
            "plot '%s' using 3:4:5 with table if (strcol(1) eq \"%d\")\nunset table\n",
            k, i, p->paths, p->runs[i]);
  if (!p->window) {
    fprintf(f, "stats '%s' using 1:2 nooutput prefix \"W%d\"\n", p->background, k);
  } else if (a->dim == 2) {
    fprintf(f, "W%d_min_x = %.9g; W%d_max_x = %.9g; W%d_min_y = %.9g; W%d_max_y = %.9g\n", k,
            p->lo[0], k, p->hi[0], k, p->lo[1], k, p->hi[1]);
  } else { /* the curve's values over the window */
    fprintf(f,
            "stats '%s' using ($1 >= %.9g && $1 <= %.9g ? $1 : NaN):2 nooutput prefix \"W%d\"\n"
            "W%d_min_x = %.9g; W%d_max_x = %.9g\n",
            p->background, p->lo[0], p->hi[0], k, k, p->lo[0], k, p->hi[0]);
  }
  if (a->dim == 1)
    fprintf(f,
            "W%d_pad = 0.05 * (W%d_max_y - W%d_min_y)\n"
            "W%d_min_y = W%d_min_y - W%d_pad\nW%d_max_y = W%d_max_y + W%d_pad\n",
            k, k, k, k, k, k, k, k, k);
}

/* One panel of one frame: where each run is at iterate T (its last row at
   or before T, found by stats), then the background, each run's path up to
   T and a dot on its current iterate; in the frames that hold the end, a
   ring around each dot grows (frames that differ, which libgd keeps). */
static void panel_frame(FILE *f, const lab_animation *a, int k) {
  const lab_anim_panel *p = &a->panels[k - 1];
  fprintf(f, "  unset label\n");
  for (int i = 0; i < p->n_runs; i++) {
    const char *color = lab_color(p->colors[i]);
    fprintf(f,
            "  X = NaN; Y = NaN\n"
            "  stats $P%d_%d using ($1 <= T ? (X = $2, Y = $3) : 0) nooutput\n"
            "  if (X >= W%d_min_x && X <= W%d_max_x && Y >= W%d_min_y && Y <= W%d_max_y) {\n"
            "    set label %d \"\" at X, Y point pt 7 ps 2.2 lc rgb \"%s\" front\n"
            "    if (H > 0) { set label %d \"\" at X, Y point pt 6 ps 2.2 + 0.7 * H lw 2 "
            "lc rgb \"%s\" front }\n"
            "  }\n",
            k, i, k, k, k, k, 2 * i + 1, color, 2 * i + 2, color);
  }
  fprintf(f, "  set title ");
  quoted(f, p->title);
  fprintf(f, "\n  set xrange [W%d_min_x:W%d_max_x]\n  set yrange [W%d_min_y:W%d_max_y]\n", k, k, k,
          k);
  if (a->dim == 1)
    fprintf(f, "  plot '%s' using 1:2 with lines lw 2 lc rgb \"#555555\" title \"f\"",
            p->background);
  else
    fprintf(f, "  plot '%s' using 1:2 with lines lc rgb \"#c4c4c4\" notitle", p->background);
  for (int i = 0; i < p->n_runs; i++) {
    fprintf(f,
            ", \\\n       $P%d_%d using ($1 <= T ? $2 : NaN):3 with linespoints pt 7 ps 0.5 lw 1.5 "
            "lc rgb \"%s\" title ",
            k, i, lab_color(p->colors[i]));
    quoted(f, p->labels[i]);
  }
  fprintf(f, "\n");
}

/* The last iterate of the panel's runs in its paths file (already written):
   the largest t of their rows. */
static int last_in_file(const char *dir, const lab_anim_panel *p, int64_t *last) {
  char path[4096], line[512];
  snprintf(path, sizeof path, "%s/%s", dir, p->paths);
  FILE *f = fopen(path, "r");
  if (!f) return descent_fail(DESCENT_EIO, "animation: cannot read '%s'", path);
  while (fgets(line, sizeof line, f)) {
    char *end;
    long run = strtol(line, &end, 10);
    if (end == line || *end != ',') continue; /* the header */
    const char *t = strchr(end + 1, ',');
    if (!t) continue;
    for (int i = 0; i < p->n_runs; i++)
      if (p->runs[i] == run) {
        int64_t step = strtoll(t + 1, NULL, 10);
        if (step > *last) *last = step;
      }
  }
  fclose(f);
  return DESCENT_OK;
}

int lab_gp_animation(const char *dir, const char *stem, const lab_animation *a, lab_result *r) {
  if (a->n_panels < 1) return descent_fail(DESCENT_EINVAL, "animation %s: no panel to draw", stem);
  int64_t last = a->last;
  if (last < 0) {
    last = 0;
    for (int k = 0; k < a->n_panels; k++) {
      int rc = last_in_file(dir, &a->panels[k], &last);
      if (rc) return rc;
    }
  }
  char name[LAB_TEXT + 16];
  snprintf(name, sizeof name, "%s-anim.gp", stem);
  FILE *f = lab_file_open(dir, name, r);
  if (!f) return DESCENT_EIO;
  int64_t frames[LAB_ANIM_FRAMES + 1];
  int n = lab_anim_frames(last, frames);
  int cols = a->n_panels <= 3 ? a->n_panels : a->n_panels == 4 ? 2 : 3;
  int rows = (a->n_panels + cols - 1) / cols;
  int big = a->n_panels <= 2; /* two panels side by side get more room each */
  int width = a->width > 0 ? a->width : (big ? 640 : 540) * cols;
  int height = a->height > 0 ? a->height : (big ? 600 : 480) * rows + 40;
  fprintf(f,
          "# %s-anim.gp - %s\n"
          "# Draws %s.gif from the CSV files in this folder (written by `descent demo`):\n"
          "# the iterates revealed one frame at a time. Run it again with:\n"
          "# gnuplot %s-anim.gp\n"
          "# The iterates shown, one frame each (the last one then held %d frames):\n"
          "frames = \"",
          stem, a->title, stem, stem, LAB_ANIM_HOLD);
  for (int i = 0; i < n; i++) fprintf(f, "%s%lld", i ? " " : "", (long long)frames[i]);
  fprintf(f,
          "\"\nn_frames = words(frames)\nhold = %d\n"
          "set terminal gif animate delay 15 loop 0 optimize size %d,%d font \"sans,11\" "
          "noenhanced\n"
          "set output \"%s.gif\"\nset encoding utf8\nset datafile separator ','\n"
          "set key top outside center horizontal opaque box lc rgb \"#dddddd\"\n",
          LAB_ANIM_HOLD, width, height, stem);
  if (a->dim == 1)
    fprintf(f, "set size noratio\nset xlabel \"θ\"\nset ylabel \"f(θ)\"\n");
  else
    fprintf(f, "set size ratio -1\nset xlabel \"θ₁\"\nset ylabel \"θ₂\"\n");
  for (int k = 1; k <= a->n_panels; k++) panel_setup(f, a, k);
  fprintf(f, "anim_title = ");
  quoted(f, a->title);
  fprintf(f,
          "\ndo for [i = 1:n_frames + hold] {\n"
          "  T = int(word(frames, i < n_frames ? i : n_frames))\n"
          "  H = i > n_frames ? i - n_frames : 0\n"
          "  set multiplot layout %d,%d title anim_title . sprintf(\"\\niterate t = %%d\", T) "
          "font \",14\"\n",
          rows, cols);
  for (int k = 1; k <= a->n_panels; k++) panel_frame(f, a, k);
  fprintf(f, "  unset multiplot\n}\nset output\n");
  int rc = lab_file_close(f, name);
  if (!rc && r->n_animations < LAB_MAX_FILES)
    snprintf(r->animations[r->n_animations++], LAB_TEXT, "%s", stem);
  return rc;
}

int lab_anim_render(const char *dir, const char *stem) {
  char script[LAB_TEXT + 8];
  snprintf(script, sizeof script, "%s-anim", stem);
  return lab_plot_render(dir, script);
}
