/*
 * main.c - the descent program: dispatches to a subcommand.
 */
#include "commands.h"
#include "descent.h"

#include <stdio.h>
#include <string.h>

static const struct {
  const char *name;
  int (*run)(int argc, char **argv);
  const char *summary;
} commands[] = {
    {"train", cmd_train, "train a network on a data set (Fashion-MNIST by default)"},
    {"eval", cmd_eval, "evaluate a saved model on a test set"},
    {"checkpoint", cmd_checkpoint, "check that a run's checkpoint loads (checkpoint verify DIR)"},
    {"export", cmd_export, "write a model's weights as a safetensors file for PyTorch"},
    {"import", cmd_import, "read weights from a safetensors file into a model file"},
    {"optimizers", cmd_optimizers, "list every optimizer, transform and schedule"},
    {"demo", cmd_demo, "run a figure of the lecture: measure it, draw it (descent demo --help)"},
};
enum { N_COMMANDS = sizeof commands / sizeof commands[0] };

static void usage(FILE *out) {
  fprintf(out,
          "descent %s: train deep networks and choose, tune and understand their optimizer\n\n"
          "usage: descent COMMAND [options]\n\ncommands:\n",
          DESCENT_VERSION_STRING);
  for (int i = 0; i < N_COMMANDS; i++)
    fprintf(out, "  %-12s %s\n", commands[i].name, commands[i].summary);
  fprintf(out, "\n'descent COMMAND --help' lists a command's options.\n"
               "'descent --version' prints the version and the BLAS in use.\n");
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
      strcmp(argv[1], "help") == 0) {
    usage(stdout);
    return 0;
  }
  if (strcmp(argv[1], "--version") == 0) {
    printf("descent %s (%s, %s)\n", DESCENT_VERSION_STRING, descent_blas_name(),
           sizeof(descent_real) == 8 ? "double" : "float");
    return 0;
  }
  for (int i = 0; i < N_COMMANDS; i++)
    if (strcmp(argv[1], commands[i].name) == 0) return commands[i].run(argc - 1, argv + 1);
  fprintf(stderr, "descent: unknown command '%s'; valid commands:", argv[1]);
  for (int i = 0; i < N_COMMANDS; i++) fprintf(stderr, " %s", commands[i].name);
  fprintf(stderr, "\n");
  return 2;
}
