/*
 * cmd_checkpoint.c - `descent checkpoint verify PATH`: does a checkpoint (or
 * the newest valid one in a run's folder) load?
 *
 * It checks what --resume would check before any data is loaded: the file
 * whole (lengths, CRCs, versions, ranges, the permutation), its identity (the
 * step its name says, its folder's run id), the network
 * rebuilt from it, and the optimizer rebuilt from the saved configuration
 * with the saved state loaded into it. In a folder, it names the newest
 * valid checkpoint and every newer file it skipped, with the reason.
 */
#include "commands.h"
#include "descent.h"
#include "options.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static int verify(const char *path, const char *skipped) {
  descent_checkpoint_info info;
  descent_net *net = NULL;
  descent_optimizer *opt = NULL;
  int status = 1;
  char spec[1024], lr[1024], chain[4096];
  if (descent_checkpoint_inspect(path, &info)) {
    fprintf(stderr, "descent checkpoint: %s\n", descent_last_error());
    return 1;
  }
  if (descent_net_load(&net, NULL, path, 1)) goto fail_lib;
  if (!cli_config_value(info.config, "opt", spec, sizeof spec) ||
      !cli_config_value(info.config, "lr", lr, sizeof lr)) {
    fprintf(stderr,
            "descent checkpoint: %s: no optimizer in its configuration (not written by "
            "descent train)\n",
            path);
    goto done;
  }
  descent_objective *obj = descent_net_objective(net);
  if (descent_optimizer_create(&opt, spec, lr[0] ? lr : NULL, obj->n_params)) goto fail_lib;
  /* Parameter groups (and per-tensor chains) step on the network's tensors,
     as the trainer gives them: the groups' state belongs to that layout. */
  if (descent_optimizer_uses_tensors(opt) && obj->n_tensors &&
      descent_optimizer_set_tensors(opt, obj->tensors, obj->n_tensors))
    goto fail_lib;
  if (descent_optimizer_load_state(opt, info.optimizer_state, info.optimizer_state_size)) {
    fprintf(stderr, "descent checkpoint: %s: %s\n", path, descent_last_error());
    goto done;
  }
  descent_optimizer_describe(opt, chain, sizeof chain);
  printf("ok          %s: step %lld, ", path, (long long)info.step);
  if (info.batch)
    printf("%zu of %zu batches into epoch %lld\n", info.batch, info.batches,
           (long long)info.epoch + 1);
  else
    printf("at the end of epoch %lld\n", (long long)info.epoch);
  printf("model       %s, %zu parameters, preprocess %s\n", info.spec,
         descent_net_objective(net)->n_params, descent_preprocess_name(info.preprocess.kind));
  printf("optimizer   %s\n", chain);
  char id[33];
  descent_run_id_format(&info.run_id, id);
  printf("run         %s (checkpoint version %u)\n", info.version >= 2 ? id : "without an id",
         info.version);
  char copy[8192];
  snprintf(copy, sizeof copy, "%s", skipped);
  for (char *reason = copy[0] ? copy : NULL, *next; reason; reason = next) {
    next = strstr(reason, "; ");
    if (next) *next = '\0', next += 2;
    printf("skipped     %s\n", reason);
  }
  status = 0;
  goto done;
fail_lib:
  fprintf(stderr, "descent checkpoint: %s\n", descent_last_error());
done:
  descent_optimizer_free(opt);
  descent_net_free(net);
  descent_checkpoint_info_free(&info);
  return status;
}

int cmd_checkpoint(int argc, char **argv) {
  static const char *summary =
      "descent checkpoint verify PATH: check that a checkpoint loads (PATH a file), or find\n"
      "the newest checkpoint of a run that loads (PATH a run's folder: ckpt-STEP.dsc files,\n"
      "never temporary ones) and name the newer ones skipped and why. Exit status 0 when\n"
      "one loads, 1 when none does.";
  if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
    printf("usage: %s\n", summary);
    return 0;
  }
  if (argc != 3 || strcmp(argv[1], "verify") != 0) {
    fprintf(stderr, "descent checkpoint: usage: descent checkpoint verify PATH (a checkpoint or a "
                    "run's folder)\n");
    return 2;
  }
  const char *path = argv[2];
  struct stat st;
  if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
    char found[4096], skipped[8192];
    if (descent_checkpoint_find(path, found, sizeof found, skipped, sizeof skipped)) {
      fprintf(stderr, "descent checkpoint: %s\n", descent_last_error());
      return 1;
    }
    return verify(found, skipped);
  }
  return verify(path, "");
}
