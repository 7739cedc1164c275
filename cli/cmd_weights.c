/*
 * cmd_weights.c - `descent export` and `descent import`: a model's weights
 * to and from a safetensors file, the format PyTorch's safetensors package
 * reads and writes.
 *
 * Tensor names and layouts are those of the equivalent torch.nn.Sequential
 * (descent_net_export_safetensors), so `load_state_dict` takes the file. A
 * safetensors file holds weights only: import takes the network (spec,
 * input shape, loss), its batch-norm statistics and the input preprocessing
 * from a model file, replaces the parameters and writes a new model file.
 * Neither replaces an existing --out without --force.
 */
#include "commands.h"
#include "descent.h"
#include "internal.h"
#include "options.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static cli_option export_options[] = {
    {"model-file", "PATH", "a model saved by descent train (RUN/model.bin) or a checkpoint", NULL,
     0},
    {"out", "PATH", "the safetensors file to write (an existing one only with --force)", NULL, 0},
    {"force", NULL, "replace --out if it exists", NULL, 0},
};
enum { N_EXPORT_OPTIONS = sizeof export_options / sizeof export_options[0] };

static cli_option import_options[] = {
    {"model-file", "PATH",
     "the model whose network, batch-norm statistics and preprocessing the weights go into", NULL,
     0},
    {"weights", "PATH", "the safetensors file to read (F32 or F64, PyTorch's names and layouts)",
     NULL, 0},
    {"out", "PATH",
     "the model file to write (descent eval reads it; an existing one only with --force)", NULL, 0},
    {"force", NULL, "replace --out if it exists", NULL, 0},
};
enum { N_IMPORT_OPTIONS = sizeof import_options / sizeof import_options[0] };

/* An existing --out (of any kind) is replaced only with --force: an export
   or import must not silently destroy a file, perhaps the model itself. This
   check gives the early, clear refusal; publish() below is the one that
   holds when another program creates the file in the meantime. */
static int out_free(cli_option *o, int n, const char *out, const char *command) {
  struct stat st;
  if (cli_flag(o, n, "force") || lstat(out, &st) != 0) return 0;
  fprintf(stderr, "descent %s: '%s' already exists; pass --force to replace it\n", command, out);
  return -1;
}

/* The file is first written (atomically) under a temporary name beside
   --out, then moved into place: with --force by rename, which replaces;
   without by link, which fails if --out has appeared since out_free looked,
   so nothing is ever replaced without --force. */
static int staging_path(const char *out, char *path, size_t cap, const char *command) {
  if (snprintf(path, cap, "%s.partial.%ld", out, (long)getpid()) < (int)cap) return 0;
  fprintf(stderr, "descent %s: --out path too long\n", command);
  return -1;
}

static int publish(const char *staged, const char *out, int force, const char *command) {
  int rc = force ? rename(staged, out) : link(staged, out);
  int err = errno;
  if (!force) unlink(staged);
  if (rc != 0) {
    if (force) unlink(staged);
    if (err == EEXIST)
      fprintf(stderr, "descent %s: '%s' already exists; pass --force to replace it\n", command,
              out);
    else
      fprintf(stderr, "descent %s: cannot write '%s': %s\n", command, out, strerror(err));
    return -1;
  }
  /* The new name (and the staging name's removal) made durable. */
  descent_fsync_dir(out);
  return 0;
}

static int required(cli_option *o, int n, const char *name, const char *command) {
  if (cli_get(o, n, name)) return 0;
  fprintf(stderr, "descent %s: --%s PATH is required\n", command, name);
  return -1;
}

int cmd_export(int argc, char **argv) {
  cli_option *o = export_options;
  int n = N_EXPORT_OPTIONS;
  int rc = cli_parse(argc, argv, 1, o, n, "export",
                     "Write a model's weights as a safetensors file that PyTorch loads into the\n"
                     "equivalent torch.nn.Sequential (names such as \"0.weight\", PyTorch's\n"
                     "layouts, F32; the model spec in the metadata).");
  if (rc) return rc < 0 ? 2 : 0;
  if (required(o, n, "model-file", "export") || required(o, n, "out", "export")) return 2;
  const char *model = cli_get(o, n, "model-file"), *out = cli_get(o, n, "out");
  if (out_free(o, n, out, "export")) return 1;
  descent_net *net = NULL;
  int status = 1;
  char staged[4200];
  if (staging_path(out, staged, sizeof staged, "export")) return 1;
  if (descent_net_load(&net, NULL, model, 1) || descent_net_export_safetensors(net, staged)) {
    fprintf(stderr, "descent export: %s\n", descent_last_error());
  } else if (!publish(staged, out, cli_flag(o, n, "force"), "export")) {
    printf("exported    %s: %s, %zu parameters -> %s\n", model, descent_net_spec(net),
           descent_net_objective(net)->n_params, out);
    status = 0;
  }
  descent_net_free(net);
  return status;
}

int cmd_import(int argc, char **argv) {
  cli_option *o = import_options;
  int n = N_IMPORT_OPTIONS;
  int rc =
      cli_parse(argc, argv, 1, o, n, "import",
                "Read weights from a safetensors file (as PyTorch's save_file writes them for\n"
                "the equivalent torch.nn.Sequential) into the network of a model file, and\n"
                "save the result as a new model file. Every name, dtype, shape and offset is\n"
                "checked against the file and the network before anything is written.");
  if (rc) return rc < 0 ? 2 : 0;
  if (required(o, n, "model-file", "import") || required(o, n, "weights", "import") ||
      required(o, n, "out", "import"))
    return 2;
  const char *model = cli_get(o, n, "model-file"), *weights = cli_get(o, n, "weights"),
             *out = cli_get(o, n, "out");
  if (out_free(o, n, out, "import")) return 1;
  descent_net *net = NULL;
  descent_preprocess pp = {0};
  int status = 1;
  char staged[4200];
  if (staging_path(out, staged, sizeof staged, "import")) return 1;
  if (descent_net_load(&net, &pp, model, 1) || descent_net_import_safetensors(net, weights) ||
      descent_net_save(net, &pp, staged)) {
    fprintf(stderr, "descent import: %s\n", descent_last_error());
  } else if (!publish(staged, out, cli_flag(o, n, "force"), "import")) {
    printf("imported    %s into %s: %zu parameters -> %s\n", weights, descent_net_spec(net),
           descent_net_objective(net)->n_params, out);
    status = 0;
  }
  descent_preprocess_free(&pp);
  descent_net_free(net);
  return status;
}
