/*
 * main.c - the descent program: dispatches to a subcommand.
 */
#include "commands.h"
#include "dist.h"
#include "descent.h"
#include "internal.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Under an address-space limit (ulimit -v) OpenBLAS's constructor, which runs
 * before main, retries forever to reserve its per-thread buffers. This runs
 * earlier still (.preinit_array: before any library's constructor, the C
 * library's included, so it reads the environment from envp and changes it
 * only through a new exec). Under a limit it runs the program again with
 * OMP_NUM_THREADS=1, so that OpenBLAS starts with one thread of its own
 * (descent only ever calls it for one; each more would hold a buffer for
 * nothing); the program's own count is set afterwards, within what the
 * limit holds buffers for (threads.c counts them). When the limit cannot
 * hold what starting (or, for a command that computes, one thread) needs,
 * it stops with one line instead of hanging. DESCENT_RESTARTED=1 marks the
 * second run. */
static const char *env_value(char **envp, const char *name) {
  size_t len = strlen(name);
  for (char **e = envp; e && *e; e++)
    if (strncmp(*e, name, len) == 0 && (*e)[len] == '=') return *e + len + 1;
  return NULL;
}

static void exec_with_one_thread(char **argv, char **envp) {
  size_t n = 0;
  while (envp && envp[n]) n++;
  char **env = malloc((n + 3) * sizeof *env);
  static char omp[] = "OMP_NUM_THREADS=1", marker[] = "DESCENT_RESTARTED=1";
  if (env) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
      if (strncmp(envp[i], "OMP_NUM_THREADS=", 16) != 0 &&
          strncmp(envp[i], "DESCENT_RESTARTED=", 18) != 0)
        env[k++] = envp[i];
    env[k++] = omp, env[k++] = marker, env[k] = NULL;
    execve("/proc/self/exe", argv, env);
  }
  fprintf(stderr,
          "descent: under the address-space limit (ulimit -v) OpenBLAS must start with one "
          "thread, and the program could not restart itself so; run it with OMP_NUM_THREADS=1\n");
  _exit(2);
}

/* The commands that compute, and so need OpenBLAS's buffers for their
   threads; the others (reading and writing files, listing) need only what
   OpenBLAS maps when it starts. */
static int computes(int argc, char **argv) {
  static const char *const names[] = {"train", "lr-find", "eval", "sweep", "bench", "demo"};
  if (argc < 2) return 0;
  for (size_t i = 0; i < sizeof names / sizeof *names; i++)
    if (strcmp(argv[1], names[i]) == 0) return 1;
  return 0;
}

static void fit_threads_to_address_space(int argc, char **argv, char **envp) {
  unsigned long long limit;
  if (!descent_address_space_limit(&limit)) return;
  descent_thread_budget_measure();
  int least = computes(argc, argv) ? 1 : 0;
  unsigned long long need = descent_thread_budget_bytes(least);
  if (limit < need) {
    fprintf(stderr,
            "descent: the address-space limit (ulimit -v %llu) is below the %llu MiB that descent "
            "needs to %s; raise it to at least %llu KiB\n",
            limit >> 10, (need + (1 << 20) - 1) >> 20, least ? "compute on one thread" : "start",
            (need + 1023) >> 10);
    _exit(2);
  }
  /* OpenBLAS's OpenMP build starts with OMP_NUM_THREADS threads of its own
     and maps a buffer for each, which descent, calling it for one thread
     only, never uses: it starts with one, and the program's own count is
     set after (--threads, descent_set_threads, within the budget). */
  const char *asked = env_value(envp, "OMP_NUM_THREADS");
  if (asked && strcmp(asked, "1") == 0 && env_value(envp, "DESCENT_RESTARTED")) return;
  exec_with_one_thread(argv, envp);
}
__attribute__((section(".preinit_array"),
               used)) static void (*const preinit)(int, char **,
                                                   char **) = fit_threads_to_address_space;

typedef struct command {
  const char *name;
  int (*run)(int argc, char **argv);
  const char *summary;
} command;

static const command commands[] = {
    {"train", cmd_train, "train a network on a data set (Fashion-MNIST by default)"},
    {"lr-find", cmd_lr_find, "suggest a learning rate with Smith's range test"},
    {"eval", cmd_eval, "evaluate a saved model on a test set"},
    {"checkpoint", cmd_checkpoint, "check that a run's checkpoint loads (checkpoint verify DIR)"},
    {"export", cmd_export, "write a model's weights as a safetensors file for PyTorch"},
    {"import", cmd_import, "read weights from a safetensors file into a model file"},
    {"optimizers", cmd_optimizers, "list every optimizer, transform and schedule"},
    {"demo", cmd_demo, "run a figure of the lecture: measure it, draw it (descent demo --help)"},
    {"report", cmd_report, "draw a training run and diagnose it in plain words (report RUN)"},
    {"bench", cmd_bench,
     "AlgoPerf's benchmark: optimizers tuned on workloads, scored (bench --help)"},
    {"sweep", cmd_sweep,
     "search over train options: grid, random, Sobol, Halton; successive halving"},
};
enum { N_COMMANDS = sizeof commands / sizeof commands[0] };

/* train and sweep run across the ranks of an MPI job (docs/distributed.md);
   every other command is one process's work, and N copies of it would
   write the same files side by side. */
static int run_command(const command *c, int argc, char **argv) {
  int across_ranks = strcmp(c->name, "train") == 0 || strcmp(c->name, "sweep") == 0;
  if (!across_ranks) {
    const char *size = getenv("OMPI_COMM_WORLD_SIZE");
    if (!size) size = getenv("PMI_SIZE");
    if (dist_launched() && size && atoi(size) > 1) {
      const char *rank = getenv("OMPI_COMM_WORLD_RANK");
      if (!rank) rank = getenv("PMI_RANK");
      if (rank && atoi(rank) != 0) return 2; /* rank 0 says it */
      fprintf(stderr,
              "descent %s: runs as one process; only train and sweep run across the ranks of "
              "an MPI job: run it without mpirun\n",
              c->name);
      return 2;
    }
    return c->run(argc - 1, argv + 1);
  }
  if (dist_start(&argc, &argv)) return 2;
  int status = c->run(argc - 1, argv + 1);
  /* A rank that failed alone would leave the others waiting in their next
     collective: the whole job ends with it (the failure's line is out),
     unless every rank reached the same end (a divergence the guard saw on
     all of them, a stop they agreed on). */
  if (status && dist_size() > 1 && !dist_outcome_agreed()) dist_abort(status);
  dist_finish();
  return status;
}

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
  /* The program owns its process: it lets the library pick OpenBLAS's
     kernels (and cap oneDNN's) before any thread starts. A path forced by
     DESCENT_ISA that this CPU cannot run is refused there, not quietly
     replaced. */
  if (descent_cpu_setup()) {
    fprintf(stderr, "descent: %s\n", descent_last_error());
    return 2;
  }
  /* demo computes without cli_set_threads: under an address-space limit
     it runs on every core the limit holds (the program started OpenMP
     with one), with OpenBLAS's buffers for them mapped now, while the room
     fit_threads_to_address_space counted for them is free. sweep's and
     bench's own processes compute nothing: their runs set theirs. */
  unsigned long long limit;
  if (descent_address_space_limit(&limit) && strcmp(argv[1], "demo") == 0)
    descent_threads_reserve(descent_set_threads(0));
  if (strcmp(argv[1], "--version") == 0) {
    const char *mpi = dist_library();
    printf("descent %s (%s, %s; %s; %s%s%s%s)\n", DESCENT_VERSION_STRING, descent_blas_name(),
           sizeof(descent_real) == 8 ? "double" : "float", descent_conv_library(),
           mpi ? "MPI: " : "without MPI", mpi ? mpi : "", mpi ? ", MPI " : "",
           mpi ? dist_standard() : "");
    return 0;
  }
  for (int i = 0; i < N_COMMANDS; i++)
    if (strcmp(argv[1], commands[i].name) == 0) return run_command(&commands[i], argc, argv);
  fprintf(stderr, "descent: unknown command '%s'; valid commands:", argv[1]);
  for (int i = 0; i < N_COMMANDS; i++) fprintf(stderr, " %s", commands[i].name);
  fprintf(stderr, "\n");
  return 2;
}
