/*
 * minimize.c - minimizes an objective written here, Rosenbrock's function
 *   f(x, y) = (1 - x)^2 + 100 (y - x^2)^2   (minimum 0 at (1, 1)),
 * with any optimizer chain libdescent knows, from (-1.5, 2).
 *
 *   minimize [CHAIN [LR [STEPS]]]
 *   minimize                                      adam at 0.02, 5000 steps
 *   minimize "momentum(momentum=0.9)" 1e-3 20000
 *   minimize "clip(1.0) | adam(b2=0.99)" "cosine(0.05, 5000)" 5000
 *
 * It prints the point found and its distance to (1, 1). `descent optimizers`
 * lists every optimizer, transform and schedule.
 *
 * Build: cc minimize.c $(pkg-config --cflags --libs descent) -lm
 */
#include <descent.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* The objective: the loss and its gradient at obj->params, the gradient
   written to obj->grad. Rosenbrock has no data: batch is NULL. */
static int rosenbrock(descent_objective *obj, const descent_batch *batch, double *loss) {
  (void)batch;
  double x = obj->params[0], y = obj->params[1];
  *loss = (1 - x) * (1 - x) + 100 * (y - x * x) * (y - x * x);
  obj->grad[0] = (descent_real)(-2 * (1 - x) - 400 * x * (y - x * x));
  obj->grad[1] = (descent_real)(200 * (y - x * x));
  return DESCENT_OK;
}

static const descent_objective_ops rosenbrock_ops = {
    .kind = "rosenbrock",
    .value_and_grad = rosenbrock,
};

int main(int argc, char **argv) {
  const char *chain = argc > 1 ? argv[1] : "adam";
  const char *lr = argc > 2 ? argv[2] : "0.02";
  long steps = argc > 3 ? strtol(argv[3], NULL, 10) : 5000;
  if (steps < 1) {
    fprintf(stderr, "minimize: STEPS must be a whole number >= 1, not %s\n", argv[3]);
    return 2;
  }

  /* An objective of our own: two parameters and their gradient, in buffers
     this program owns. */
  descent_real params[2] = {-1.5, 2}, grad[2] = {0, 0};
  descent_objective obj = {.ops = &rosenbrock_ops, .n_params = 2, .params = params, .grad = grad};

  descent_optimizer *opt = NULL;
  if (descent_optimizer_create(&opt, chain, lr, obj.n_params)) {
    fprintf(stderr, "minimize: %s\n", descent_last_error());
    return 2;
  }
  char described[512];
  descent_optimizer_describe(opt, described, sizeof described);
  printf("optimizer: %s\n", described);

  /* The loop: gradient, then one update of params. */
  double f = 0;
  for (long t = 0; t < steps; t++) {
    if (descent_objective_value_and_grad(&obj, NULL, &f) || descent_optimizer_step(opt, &obj)) {
      fprintf(stderr, "minimize: step %ld: %s\n", t + 1, descent_last_error());
      descent_optimizer_free(opt);
      return 1;
    }
    if (!isfinite(f)) {
      printf("diverged at step %ld (f = %g): try a smaller LR\n", t + 1, f);
      descent_optimizer_free(opt);
      return 1;
    }
  }
  /* Where to read the result: schedule-free methods evaluate at their
     average (for the others this changes nothing). */
  descent_optimizer_eval(opt, &obj);
  descent_objective_value(&obj, NULL, &f);
  double dx = params[0] - 1, dy = params[1] - 1;
  printf("after %ld steps: minimizer (%.6f, %.6f), f = %.3g, distance to (1, 1): %.3g\n", steps,
         (double)params[0], (double)params[1], f, sqrt(dx * dx + dy * dy));
  descent_optimizer_free(opt);
  return 0;
}
