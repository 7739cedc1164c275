/*
 * cmd_optimizers.c - `descent optimizers`: every optimizer, transform and
 * schedule with its parameters, defaults and formula.
 */
#include "commands.h"
#include "descent.h"
#include "options.h"

#include <stdio.h>

int cmd_optimizers(int argc, char **argv) {
  cli_option opts[1] = {{"none", NULL, "", NULL, 0}};
  int rc = cli_parse(argc, argv, 1, opts, 0, "optimizers",
                     "List every named optimizer, transform and learning-rate schedule.");
  if (rc) return rc < 0 ? 2 : 0;
  descent_optimizer_help(stdout);
  return 0;
}
