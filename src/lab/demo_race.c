/*
 * demo_race.c - the optimizer race (slides 30-33): the lecture's six
 * optimizers (gradient descent, heavy-ball and Nesterov momentum, Adagrad,
 * RMSprop, Adam) from the same start on Beale's function and on Rosenbrock's
 * curved valley, each at its own best step.
 *
 * A race is only fair when every runner is tuned: each optimizer runs at
 * every step of a grid and keeps the one that reaches f - f* <= eps (f0 -
 * f*) in the fewest iterations (or, when none does, the one that ends
 * lowest). The tuned runs are then compared on iterations to eps, final gap,
 * and the share of steps that go uphill (f rising), which counts momentum's
 * overshoots: gradient descent with a stable step does not climb, a heavy
 * ball rolls past the valley floor and up the other side.
 *
 * Beale's race starts at (3, 4), on a wall where |grad f| is 6.3e4 while on
 * the plain below it is about 1: a gradient step that is stable on the wall
 * (alpha of 1e-5 and less) crawls on the plain, so gradient descent and both
 * momentums never arrive, while the adaptive methods, whose steps have the
 * length of their rate whatever the gradient's size, get there (RMSprop
 * first). On Rosenbrock the gradient's size varies less and momentum pays:
 * Adam first, then heavy-ball, then Nesterov, while Adagrad (whose steps
 * only shrink) and RMSprop do not reach eps within 3000 iterations. At
 * eps = 1e-8 (the default) the two races have different winners; the
 * ranking depends on eps and the grid (at eps = 1e-6 RMSprop wins both).
 */
#include "lab.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const lab_option race_options[] = {
    {"lr", "A1,A2,...", "1e-6,1e-5,1e-4,2e-4,5e-4,1e-3,2e-3,5e-3,0.01,0.02,0.05,0.1,0.2,0.5,1",
     "the grid of steps each optimizer is tuned on"},
    {"iters", "N", "3000", "most iterations per run"},
    {"eps", "EPS", "1e-8", "reached once f - f* <= eps (f(theta0) - f*)"},
    {"beale-start", "X,Y", "3,4",
     "start on Beale's function (auto: its own, (1, 1.5)); at (3, 4) |gradient| is 6e4"},
    {"rosenbrock-start", "X,Y", "auto", "start on Rosenbrock's (auto: (-1.2, 1))"},
};

enum { N_RACERS = 6, N_TRACKS = 2 };
static const char *const racer_names[N_RACERS] = {"sgd",     "momentum", "nesterov",
                                                  "adagrad", "rmsprop",  "adam"};
static const char *const track_names[N_TRACKS] = {"beale", "rosenbrock"};

/* How good a run is for the tuning: lower is better. A run that reaches eps
   scores its iterations; one that does not scores beyond every such run, in
   the order of its final gap; a diverged run scores worst. */
static double tuning_score(const descent_trace *tr, int64_t iters) {
  if (tr->diverged) return INFINITY;
  if (tr->reached_at >= 0) return (double)tr->reached_at;
  double gap = tr->values[tr->steps] - tr->f_min;
  return (double)iters + 1 + (1 + atan(log10(fmax(gap, 1e-300)) + 300)); /* monotone in gap */
}

/* The share of steps after which f is higher than before. */
static double uphill_share(const descent_trace *tr) {
  int64_t up = 0;
  for (int64_t t = 1; t <= tr->steps; t++) up += tr->values[t] > tr->values[t - 1];
  return tr->steps > 0 ? (double)up / (double)tr->steps : 0;
}

static int race_files(const char *dir, lab_result *res, descent_objective *const *objs,
                      descent_trace (*tr)[N_RACERS], const double (*lr)[N_RACERS]) {
  char paths[N_TRACKS][LAB_TEXT], contours[N_TRACKS][LAB_TEXT];
  double lo[N_TRACKS][2], hi[N_TRACKS][2];
  int rc = DESCENT_OK;
  for (int p = 0; p < N_TRACKS && !rc; p++) {
    snprintf(paths[p], LAB_TEXT, "race-%s-paths.csv", track_names[p]);
    snprintf(contours[p], LAB_TEXT, "race-%s-contours.csv", track_names[p]);
    FILE *f = lab_file_open(dir, paths[p], res);
    if (!f) return DESCENT_EIO;
    lab_write_path_header(f, 2);
    for (int m = 0; m < N_RACERS; m++) lab_write_path(f, m, racer_names[m], &tr[p][m], 1500);
    rc = lab_file_close(f, paths[p]);
    /* The problem's window, widened to every iterate (but those of a run
       flying away); levels down to 1e-8 f0 show the valley floors. */
    const descent_problem_info *info = descent_problem_info_get(objs[p]);
    double levels[20];
    lab_cover_paths(info, tr[p], N_RACERS, 1000000, lo[p], hi[p]);
    int n = lab_levels_geometric(0, tr[p][0].values[0], 0.35, 20, levels);
    if (!rc) rc = lab_write_contours(objs[p], dir, contours[p], lo[p], hi[p], 161, levels, n, res);
  }
  if (rc) return rc;
  FILE *f = lab_gp_open(dir, "race", 1700, 820, "the optimizer race on Beale and Rosenbrock", res);
  if (!f) return DESCENT_EIO;
  fprintf(f,
          "set multiplot layout 1,2 title \"The optimizer race: no optimizer wins on both "
          "(%s)\\neach at the step of the grid that reaches eps soonest\" font \",14\"\n",
          lab_demo_race.slides);
  for (int p = 0; p < N_TRACKS; p++) {
    const descent_problem_info *info = descent_problem_info_get(objs[p]);
    char title[160];
    snprintf(title, sizeof title, "%s from (%g, %g); minimum at (%g, %g)", track_names[p],
             tr[p][0].params[0], tr[p][0].params[1], info->minimizer[0], info->minimizer[1]);
    fprintf(f, "set key inside\n"); /* the panel head's key position, then above the panel */
    lab_gp_panel_2d(f, title, lo[p], hi[p]);
    fprintf(f, "set key top outside center horizontal\n");
    lab_gp_contour_lines(f, 1, contours[p]);
    for (int m = 0; m < N_RACERS; m++) {
      char legend[64];
      snprintf(legend, sizeof legend, "%s, α = %g", racer_names[m], lr[p][m]);
      lab_gp_path(f, 0, paths[p], m, legend, lab_color(m), 0, tr[p][m].steps);
    }
    fprintf(f,
            ", \\\n     '+' using (%.9g):(%.9g) every ::0::0 with points pt 3 ps 3 lw 2 "
            "lc rgb \"black\" title \"minimum\"\n",
            info->minimizer[0], info->minimizer[1]);
  }
  return lab_gp_close(f, "race", res);
}

/* The animation: both tracks side by side, the six optimizers moving together. */
static int race_animation(const char *dir, lab_result *res, const double (*lr)[N_RACERS]) {
  lab_animation anim;
  lab_anim_init(&anim, 2, -1, "The optimizer race (%s)", lab_demo_race.slides);
  for (int p = 0; p < N_TRACKS; p++) {
    char paths[LAB_TEXT], contours[LAB_TEXT];
    snprintf(paths, sizeof paths, "race-%s-paths.csv", track_names[p]);
    snprintf(contours, sizeof contours, "race-%s-contours.csv", track_names[p]);
    lab_anim_panel *panel = lab_anim_panel_add(&anim, contours, paths, "%s", track_names[p]);
    for (int m = 0; m < N_RACERS; m++) {
      char label[64];
      snprintf(label, sizeof label, "%s, α = %g", racer_names[m], lr[p][m]);
      lab_anim_run(panel, m, m, label);
    }
  }
  anim.width = 1300;
  anim.height = 700;
  return lab_gp_animation(dir, "race", &anim, res);
}

static int race_run(const lab_args *a, const char *dir, lab_result *res) {
  double grid[LAB_MAX_LIST], eps, starts[N_TRACKS][2];
  int n_grid, n;
  int64_t iters;
  int rc = lab_arg_list(a, "lr", 1e-9, 1e3, 1, LAB_MAX_LIST, grid, &n_grid);
  if (!rc) rc = lab_arg_int(a, "iters", 1, 100000, &iters);
  if (!rc) rc = lab_arg_double(a, "eps", 1e-15, 0.5, &eps);
  const double *start[N_TRACKS] = {NULL, NULL};
  static const char *const start_options[N_TRACKS] = {"beale-start", "rosenbrock-start"};
  for (int p = 0; p < N_TRACKS && !rc; p++)
    if (!lab_arg_is_auto(a, start_options[p])) {
      rc = lab_arg_list(a, start_options[p], -1e3, 1e3, 2, 2, starts[p], &n);
      start[p] = starts[p];
    }
  if (rc) return rc;
  descent_objective *objs[N_TRACKS] = {NULL, NULL};
  descent_trace tr[N_TRACKS][N_RACERS];
  double lr[N_TRACKS][N_RACERS];
  memset(tr, 0, sizeof tr);
  descent_run_options o;
  descent_run_options_default(&o);
  o.iters = iters;
  o.eps = eps;
  o.record_params = 1; /* the winner's iterates are drawn */
  for (int p = 0; p < N_TRACKS && !rc; p++) {
    rc = lab_problem(&objs[p], "%s", track_names[p]);
    for (int m = 0; m < N_RACERS && !rc; m++) {
      /* the tuning: the best step of the grid, kept with its iterates */
      double best = INFINITY;
      lr[p][m] = grid[0];
      for (int g = 0; g < n_grid && !rc; g++) {
        descent_trace run;
        rc = lab_run(objs[p], racer_names[m], grid[g], start[p], &o, &run);
        if (rc) break;
        double score = tuning_score(&run, iters);
        if (score < best || (g == 0 && !tr[p][m].values)) {
          best = score;
          lr[p][m] = grid[g];
          descent_trace_free(&tr[p][m]);
          tr[p][m] = run;
        } else {
          descent_trace_free(&run);
        }
      }
    }
  }
  lab_table *t =
      rc ? NULL
         : lab_result_table(res, "race",
                            "Each optimizer at its best step of the grid (fewest iterations to "
                            "eps, else lowest final gap); uphill: share of steps where f rose",
                            "optimizer|beale lr|beale iters|beale gap|beale uphill|"
                            "rosenbrock lr|rosenbrock iters|rosenbrock gap|rosenbrock uphill");
  if (!rc && !t) rc = DESCENT_ERANGE;
  for (int m = 0; m < N_RACERS && !rc; m++) {
    int row = lab_table_row(t, "%s", racer_names[m]);
    for (int p = 0; p < N_TRACKS; p++) {
      char col[LAB_TEXT];
      const descent_trace *r = &tr[p][m];
      snprintf(col, sizeof col, "%s lr", track_names[p]);
      lab_table_num(t, row, col, lr[p][m]);
      snprintf(col, sizeof col, "%s iters", track_names[p]);
      lab_table_iterations(t, row, col, r);
      snprintf(col, sizeof col, "%s gap", track_names[p]);
      lab_table_num(t, row, col, r->values[r->steps] - r->f_min);
      snprintf(col, sizeof col, "%s uphill", track_names[p]);
      lab_table_num(t, row, col, uphill_share(r));
    }
  }
  for (int p = 0; p < N_TRACKS && !rc; p++) {
    int won = -1;
    for (int m = 0; m < N_RACERS; m++)
      if (tuning_score(&tr[p][m], iters) < (won < 0 ? INFINITY : tuning_score(&tr[p][won], iters)))
        won = m;
    if (won >= 0 && tr[p][won].reached_at >= 0)
      lab_result_note(res, "%s: %s wins, at lr %g, in %lld iterations.", track_names[p],
                      racer_names[won], lr[p][won], (long long)tr[p][won].reached_at);
    else if (won >= 0)
      lab_result_note(res, "%s: none reaches eps; %s ends lowest, at lr %g.", track_names[p],
                      racer_names[won], lr[p][won]);
  }
  if (!rc && dir) rc = race_files(dir, res, objs, tr, (const double(*)[N_RACERS])lr);
  if (!rc && dir) rc = race_animation(dir, res, (const double(*)[N_RACERS])lr);
  for (int p = 0; p < N_TRACKS; p++) {
    for (int m = 0; m < N_RACERS; m++) descent_trace_free(&tr[p][m]);
    descent_objective_free(objs[p]);
  }
  return rc;
}

const lab_demo lab_demo_race = {
    "race",
    "slides 30-33",
    "sgd, momentum, Nesterov, Adagrad, RMSprop and Adam, each at its best step, racing on "
    "Beale's and Rosenbrock's functions",
    race_options,
    sizeof race_options / sizeof race_options[0],
    race_run,
    "No optimizer is best everywhere: each of the fixes of slides 30-32 (momentum, one step per "
    "direction) helps on some landscapes and not on others.",
    "In the table, the winner on Beale (RMSprop) is not the winner on Rosenbrock (Adam); "
    "momentum's uphill share (steps where f rose) is far above gradient descent's, its path "
    "overshooting the valley floor; in the picture, on Beale the adaptive methods leave the wall "
    "along the diagonal (steps of the same length in both coordinates) and take their own route, "
    "while the gradient methods slide down the wall and stall on the plain.",
    NULL,
};
