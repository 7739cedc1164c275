/*
 * test_lab_race.c - the optimizer race (`descent demo race`) and the lab's
 * animations.
 *
 * The race's table is checked against what can be argued without running
 * it: an iteration count means the gap reached eps (f0 - f*) and "never"
 * that it did not; the tuned step is the best of the grid (each other step,
 * run again, does no better); on Beale from (3, 4), where the gradient is
 * 6e4, gradient descent's stable steps are too short to cross the
 * plain in 3000 iterations while the adaptive methods' first steps have the
 * length of their rate whatever the gradient's size; gradient descent below
 * 2/L never climbs, heavy-ball momentum does; and the winners of the two
 * races differ.
 *
 * With the argument "gif" it renders the race's animation with gnuplot
 * (exit 77, skipped, when gnuplot is not installed) and checks the GIF.
 */
#include "check.h"
#include "lab_check.h"
#include "lab/lab.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *const racers[6] = {"sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam"};
static const char *const tracks[2] = {"beale", "rosenbrock"};

static double cell(const lab_result *r, const char *row, const char *col) {
  const lab_table *t = lab_result_find(r, "race");
  return t ? lab_table_number(t, row, col) : NAN;
}

static const char *cell_text(const lab_result *r, const char *row, const char *col) {
  return lab_check_text(r, "race", row, col);
}

/* f at the start of a track, and the iterations and final gap of one
   optimizer at one step from it (eps 1e-8, 3000 iterations, as the demo). */
static void run_one(const char *track, const char *opt, double lr, const double *start,
                    descent_trace *tr) {
  descent_objective *obj = NULL;
  CHECK_OK(descent_problem_create(&obj, track));
  descent_run_options o;
  descent_run_options_default(&o);
  o.iters = 3000;
  o.eps = 1e-8;
  o.record_params = 1;
  CHECK_OK(lab_run(obj, opt, lr, start, &o, tr));
  descent_objective_free(obj);
}

/* The race with its defaults: a coarse grid keeps the test quick. */
static const char *const race_settings[] = {
    "lr", "1e-6,1e-5,1e-4,1e-3,2e-3,5e-3,0.01,0.1,0.2,0.5,1", NULL};
static const double grid[] = {1e-6, 1e-5, 1e-4, 1e-3, 2e-3, 5e-3, 0.01, 0.1, 0.2, 0.5, 1};
enum { N_GRID = sizeof grid / sizeof grid[0] };

static void test_race_table(void) {
  lab_result r;
  int rc = lab_demo_run(lab_demo_find("race"), race_settings, NULL, &r);
  CHECK_MSG(rc == DESCENT_OK, "race: %s", descent_last_error());
  if (rc) return;
  const double starts[2][2] = {{3, 4}, {-1.2, 1}};
  int winner[2] = {-1, -1};
  double best[2] = {INFINITY, INFINITY};
  for (int p = 0; p < 2; p++) {
    descent_objective *obj = NULL;
    double f0;
    CHECK_OK(descent_problem_create(&obj, tracks[p]));
    for (int i = 0; i < 2; i++) obj->params[i] = (descent_real)starts[p][i];
    CHECK_OK(descent_objective_value(obj, NULL, &f0));
    descent_objective_free(obj);
    for (int m = 0; m < 6; m++) {
      char col[64];
      snprintf(col, sizeof col, "%s lr", tracks[p]);
      double lr = cell(&r, racers[m], col);
      snprintf(col, sizeof col, "%s iters", tracks[p]);
      double iters = cell(&r, racers[m], col);
      const char *iters_text = isnan(iters) ? cell_text(&r, racers[m], col) : "";
      snprintf(col, sizeof col, "%s gap", tracks[p]);
      double gap = cell(&r, racers[m], col);
      /* an iteration count is a reached eps; "never" is a gap above it */
      if (!isnan(iters)) {
        CHECK_MSG(gap <= 1e-8 * f0 && iters > 0 && iters <= 3000, "%s on %s: %g iterations, gap %g",
                  racers[m], tracks[p], iters, gap);
        if (iters < best[p]) best[p] = iters, winner[p] = m;
      } else {
        CHECK_MSG(strncmp(iters_text, "never", 5) == 0 && gap > 1e-8 * f0, "%s on %s: '%s', gap %g",
                  racers[m], tracks[p], iters_text, gap);
      }
      /* the tuned step is the grid's best: no other step reaches eps sooner
         or, when none reaches it, ends lower */
      int in_grid = 0;
      for (int g = 0; g < N_GRID; g++) {
        in_grid |= grid[g] == lr;
        if (grid[g] == lr) continue;
        descent_trace tr;
        run_one(tracks[p], racers[m], grid[g], starts[p], &tr);
        if (!isnan(iters))
          CHECK_MSG(tr.diverged || tr.reached_at < 0 || tr.reached_at >= iters,
                    "%s on %s: lr %g reaches eps at %lld, before the tuned %g (%g)", racers[m],
                    tracks[p], grid[g], (long long)tr.reached_at, lr, iters);
        else
          CHECK_MSG(tr.diverged || (tr.reached_at < 0 && tr.values[tr.steps] >= gap * (1 - 1e-9)),
                    "%s on %s: lr %g ends at %g, below the tuned %g (%g)", racers[m], tracks[p],
                    grid[g], tr.values[tr.steps], lr, gap);
        descent_trace_free(&tr);
      }
      CHECK_MSG(in_grid, "%s on %s: lr %g is not in the grid", racers[m], tracks[p], lr);
    }
  }
  /* No optimizer wins both races: RMSprop on Beale, Adam on Rosenbrock. */
  CHECK_MSG(winner[0] == 4 && winner[1] == 5, "winners %d and %d (want rmsprop, adam)", winner[0],
            winner[1]);
  /* Beale from (3, 4): |grad f| is 6.3e4 there, so a first step shorter
     than the window (~10) needs alpha below 1.6e-4; the gradient methods'
     tuned steps are at most 1e-5, and at such steps the plain, where the
     gradient is about 1, is not crossed in 3000 iterations: their final
     gaps stay above 1 (f0 is about 4e4). */
  for (int m = 0; m < 3; m++) {
    CHECK_MSG(cell(&r, racers[m], "beale lr") <= 1e-5, "%s: lr %g on beale", racers[m],
              cell(&r, racers[m], "beale lr"));
    CHECK_MSG(cell(&r, racers[m], "beale gap") > 1, "%s: gap %g on beale", racers[m],
              cell(&r, racers[m], "beale gap"));
  }
  /* Momentum overshoots: gradient descent at its stable step hardly ever
     goes uphill on Rosenbrock (its step is 2/L at the minimum: a few
     rounding-level rises), the heavy ball rolls past the floor on more
     than 2% of its steps. */
  double sgd_up = cell(&r, "sgd", "rosenbrock uphill"),
         mom_up = cell(&r, "momentum", "rosenbrock uphill");
  CHECK_MSG(sgd_up < 0.005 && mom_up > 0.02 && mom_up > 10 * sgd_up,
            "uphill shares: sgd %g, momentum %g", sgd_up, mom_up);
  /* The regression: the winners' counts as measured (float build), within
     20%: RMSprop 1065 on Beale, Adam 662 on Rosenbrock, momentum 850. */
  double counts[3] = {cell(&r, "rmsprop", "beale iters"), cell(&r, "adam", "rosenbrock iters"),
                      cell(&r, "momentum", "rosenbrock iters")};
  static const double expected[3] = {1065, 662, 850};
  for (int k = 0; k < 3; k++)
    CHECK_MSG(fabs(counts[k] - expected[k]) <= 0.2 * expected[k], "count %d: %g, expected %g", k,
              counts[k], expected[k]);
  lab_result_free(&r);
}

/* Adaptive methods take steps of the size of their rate whatever the
   gradient's: Adam's first step is lr sign(g) (m/sqrt(v) = g/|g| after
   bias correction), RMSprop's lr g / sqrt(0.01 g^2) = 10 lr sign(g); a
   gradient step is lr g, |g| = 6.3e4 times longer at (3, 4) on Beale. */
static void test_first_steps(void) {
  const double start[2] = {3, 4};
  static const char *const opts[3] = {"adam", "rmsprop", "sgd"};
  for (int k = 0; k < 3; k++) {
    descent_trace tr;
    run_one("beale", opts[k], 1e-3, start, &tr);
    double dx = fabs(tr.params[2] - 3), dy = fabs(tr.params[3] - 4);
    if (k == 0) CHECK_MSG(fabs(dx - 1e-3) < 1e-5 && fabs(dy - 1e-3) < 1e-5, "adam: %g %g", dx, dy);
    if (k == 1)
      CHECK_MSG(fabs(dx - 1e-2) < 1e-4 && fabs(dy - 1e-2) < 1e-4, "rmsprop: %g %g", dx, dy);
    if (k == 2) CHECK_MSG(hypot(dx, dy) > 50, "sgd: a step of %g", hypot(dx, dy));
    descent_trace_free(&tr);
  }
}

static void scratch_dir(char *dir, size_t cap, const char *name) {
  const char *tmp = getenv("DESCENT_TEST_TMP");
  mkdir(tmp ? tmp : "/tmp", 0777);
  snprintf(dir, cap, "%s/%s", tmp ? tmp : "/tmp", name);
  mkdir(dir, 0777);
}

/* The frames: one per iterate up to LAB_ANIM_HEAD - 1, then increasing,
   logarithmically spaced, at most LAB_ANIM_FRAMES, ending at the last. */
static void test_frames(void) {
  int64_t frames[LAB_ANIM_FRAMES + 1];
  CHECK(lab_anim_frames(5, frames) == 6 && frames[5] == 5);
  static const int64_t lasts[] = {23, 24, 25, 100, 3000, 100000, 10000000};
  for (size_t c = 0; c < sizeof lasts / sizeof lasts[0]; c++) {
    int n = lab_anim_frames(lasts[c], frames);
    CHECK_MSG(n <= LAB_ANIM_FRAMES && frames[n - 1] == lasts[c], "last %lld: %d frames",
              (long long)lasts[c], n);
    for (int i = 0; i < n; i++) {
      if (i < LAB_ANIM_HEAD) CHECK(frames[i] == i);
      if (i > 0) CHECK(frames[i] > frames[i - 1]);
    }
    /* log spacing: past the head each frame at most ratio^2 times the last */
    if (lasts[c] > 1000) {
      double ratio =
          pow((double)lasts[c] / (LAB_ANIM_HEAD - 1), 1.0 / (LAB_ANIM_FRAMES - LAB_ANIM_HEAD));
      for (int i = LAB_ANIM_HEAD + 1; i < n; i++)
        CHECK_MSG((double)frames[i] <= (double)frames[i - 1] * ratio * ratio + 1,
                  "frame %d: %lld after %lld", i, (long long)frames[i], (long long)frames[i - 1]);
    }
  }
}

/* The race's animation script: written with the picture, recorded in
   res.animations, reading files that exist, listing the frames. */
static void test_animation_script(const char *dir, int render) {
  lab_result r;
  const char *settings[] = {"lr", "1e-5,1e-3,2e-3,0.5", NULL};
  if (lab_demo_run(lab_demo_find("race"), settings, dir, &r) != DESCENT_OK) {
    CHECK_MSG(0, "race into %s: %s", dir, descent_last_error());
    return;
  }
  CHECK(r.n_animations == 1 && strcmp(r.animations[0], "race") == 0);
  CHECK(r.n_pictures == 1 && strcmp(r.pictures[0], "race") == 0);
  char path[1024], line[4096];
  snprintf(path, sizeof path, "%s/race-anim.gp", dir);
  FILE *f = fopen(path, "r");
  CHECK_MSG(f != NULL, "%s is missing", path);
  if (!f) return;
  int64_t frames[LAB_ANIM_FRAMES + 1];
  int n = lab_anim_frames(3000, frames); /* sgd never reaches eps: 3000 iterations */
  char expected[2048] = "frames = \"";
  for (int i = 0; i < n; i++)
    snprintf(expected + strlen(expected), sizeof expected - strlen(expected), "%s%lld",
             i ? " " : "", (long long)frames[i]);
  strcat(expected, "\"\n");
  int saw_frames = 0, saw_gif = 0, files_ok = 1;
  while (fgets(line, sizeof line, f)) {
    saw_frames |= strcmp(line, expected) == 0;
    saw_gif |= strstr(line, "set output \"race.gif\"") != NULL;
    for (const char *q = strchr(line, '\''); q; q = strchr(q, '\'')) { /* 'file.csv' */
      const char *end = strchr(q + 1, '\'');
      if (!end) break;
      char csv[256], full[1024];
      snprintf(csv, sizeof csv, "%.*s", (int)(end - q - 1), q + 1);
      snprintf(full, sizeof full, "%s/%s", dir, csv);
      struct stat st;
      if (strstr(csv, ".csv") && (stat(full, &st) != 0 || st.st_size == 0)) {
        files_ok = 0;
        CHECK_MSG(0, "race-anim.gp reads %s, which is missing", csv);
      }
      q = end + 1;
    }
  }
  fclose(f);
  CHECK_MSG(saw_frames, "race-anim.gp does not list the frames %s", expected);
  CHECK(saw_gif && files_ok);
  if (render) {
    CHECK_OK(lab_anim_render(dir, "race"));
    snprintf(path, sizeof path, "%s/race.gif", dir);
    f = fopen(path, "rb");
    CHECK_MSG(f != NULL, "%s was not drawn", path);
    if (f) {
      /* GIF89a, then count the images (0x2c blocks) walking the blocks */
      unsigned char head[13];
      int frames_in_gif = 0;
      CHECK(fread(head, 1, 13, f) == 13 && memcmp(head, "GIF89a", 6) == 0);
      if (head[10] & 0x80) fseek(f, 3L << ((head[10] & 7) + 1), SEEK_CUR);
      for (int c; (c = fgetc(f)) != EOF && c != 0x3b;) {
        if (c == 0x2c) {
          unsigned char d[9];
          if (fread(d, 1, 9, f) != 9) break;
          if (d[8] & 0x80) fseek(f, 3L << ((d[8] & 7) + 1), SEEK_CUR);
          fgetc(f); /* LZW code size */
          frames_in_gif++;
        } else if (c == 0x21) {
          fgetc(f); /* the extension's label */
        } else {
          break;
        }
        for (int len; (len = fgetc(f)) > 0;) fseek(f, len, SEEK_CUR); /* sub-blocks */
      }
      fclose(f);
      CHECK_MSG(frames_in_gif == n + LAB_ANIM_HOLD, "race.gif has %d frames, want %d",
                frames_in_gif, n + LAB_ANIM_HOLD);
    }
  }
  lab_result_free(&r);
}

int main(int argc, char **argv) {
  char dir[512];
  if (argc > 1 && strcmp(argv[1], "gif") == 0) {
    if (!lab_gnuplot_available()) {
      printf("SKIP: gnuplot is not on PATH, so the GIF cannot be drawn "
             "(apt-get install gnuplot-nox)\n");
      return 77;
    }
    scratch_dir(dir, sizeof dir, "race-gif");
    test_animation_script(dir, 1);
    return check_report();
  }
  test_frames();
  test_first_steps();
  test_race_table();
  scratch_dir(dir, sizeof dir, "race-script");
  test_animation_script(dir, 0);
  return check_report();
}
