/*
 * setup.c - the model, data and optimizer options shared by `descent train`
 * and `descent lr-find`: read from the command line, then built (data
 * loaded, cut and split, preprocessing fitted, network and optimizer made)
 * the same way for both.
 */
#include "setup.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int parse_positive(const char *command, const char *name, const char *text, double *out) {
  char *end;
  *out = strtod(text, &end);
  if (end == text || *end || !(*out > 0) || !isfinite(*out)) {
    fprintf(stderr, "descent %s: --%s: '%s' is not a positive number\n", command, name, text);
    return -1;
  }
  return 0;
}

/* The named optimizer's arguments (inside its parentheses) without any
   weight_decay=..., items split at commas outside nested parentheses. */
static void drop_weight_decay(const char *args, size_t len, char *out, size_t cap) {
  size_t used = 0;
  out[0] = '\0';
  for (size_t at = 0; at < len;) {
    size_t end = at;
    for (int depth = 0; end < len && (depth || args[end] != ','); end++)
      depth += (args[end] == '(') - (args[end] == ')');
    const char *item = args + at;
    size_t item_len = end - at;
    while (item_len && (*item == ' ' || *item == '\t')) item++, item_len--;
    int is_wd = strncmp(item, "weight_decay", 12) == 0 &&
                (item[12] == '=' || item[12] == ' ' || item[12] == '\t');
    if (!is_wd && item_len && used < cap)
      used +=
          (size_t)snprintf(out + used, cap - used, "%s%.*s", used ? ", " : "", (int)item_len, item);
    at = end + 1;
  }
}

/* --no-decay KINDS: the named optimizer --opt split into two parameter
   groups, weight decay 0 on the tensors KINDS selects and the optimizer as
   given on the rest (PyTorch's two param_groups). */
static int apply_no_decay(const char *command, const char *kinds, cli_setup *s) {
  const char *opt = s->opt;
  if (strchr(opt, '@') || strchr(opt, '|')) {
    fprintf(stderr,
            "descent %s: --no-decay needs a named optimizer (adamw, sgd, ...); --opt '%s' is a "
            "%s: write the groups in --opt, e.g. 'CHAIN @ %s ; CHAIN @ *'\n",
            command, opt, strchr(opt, '@') ? "grouped spec already" : "chain", kinds);
    return -1;
  }
  const char *paren = strchr(opt, '(');
  size_t name_len = paren ? (size_t)(paren - opt) : strlen(opt);
  while (name_len && opt[name_len - 1] == ' ') name_len--;
  char args[512] = "", probe_spec[600];
  if (paren) {
    const char *close = strrchr(opt, ')');
    size_t len = close && close > paren ? (size_t)(close - paren - 1) : strlen(paren + 1);
    drop_weight_decay(paren + 1, len, args, sizeof args);
  }
  snprintf(probe_spec, sizeof probe_spec, "%.*s(weight_decay=0)", (int)name_len, opt);
  descent_optimizer *probe = NULL;
  if (descent_optimizer_create(&probe, probe_spec, NULL, 1) != DESCENT_OK) {
    fprintf(stderr,
            "descent %s: --no-decay: --opt %.*s has no weight decay (no weight_decay "
            "parameter; see 'descent optimizers'): drop --no-decay, or use an optimizer with "
            "weight decay (adamw, sgd, adam, ...)\n",
            command, (int)name_len, opt);
    return -1;
  }
  int method = descent_optimizer_is_method(probe);
  descent_optimizer_free(probe);
  if (method) {
    fprintf(stderr,
            "descent %s: --no-decay: --opt %.*s is a method (it evaluates the objective itself), "
            "which takes no parameter groups: its weight_decay applies to every tensor; drop "
            "--no-decay, or pass weight_decay=0 to decay none\n",
            command, (int)name_len, opt);
    return -1;
  }
  int len = snprintf(s->opt_groups, sizeof s->opt_groups, "%.*s(%s%sweight_decay=0) @ %s ; %s @ *",
                     (int)name_len, opt, args, args[0] ? ", " : "", kinds, opt);
  if (len < 0 || (size_t)len >= sizeof s->opt_groups) {
    fprintf(stderr, "descent %s: --no-decay: the grouped spec is too long\n", command);
    return -1;
  }
  s->opt = s->opt_groups;
  return 0;
}

int cli_setup_read(const char *command, cli_option *o, int n, cli_setup *s) {
  if (cli_find(o, n, "data")->given && cli_find(o, n, "data-dir")->given) {
    fprintf(stderr, "descent %s: --data-dir DIR is --data idx:DIR; give one of the two\n", command);
    return -1;
  }
  /* --data when given (or taken from a checkpoint), else --data-dir. */
  if (cli_get(o, n, "data")) {
    if (cli_data_parse(command, cli_get(o, n, "data"), &s->data)) return -1;
  } else {
    cli_data_idx(cli_get(o, n, "data-dir"), &s->data);
  }
  cli_data_describe(&s->data, s->data_text, sizeof s->data_text);
  s->model = cli_get(o, n, "model");
  s->opt = cli_get(o, n, "opt");
  s->lr = cli_get(o, n, "lr");
  if (cli_get(o, n, "no-decay") && apply_no_decay(command, cli_get(o, n, "no-decay"), s)) return -1;
  if (cli_get_size(o, n, "batch-size", 1, 1 << 20, &s->batch_size) ||
      cli_get_size(o, n, "threads", 0, 1024, &s->threads) ||
      cli_get_size(o, n, "val", 0, (size_t)1 << 40, &s->val) ||
      cli_get_size(o, n, "limit", 0, (size_t)1 << 40, &s->limit) ||
      cli_get_u64(o, n, "seed", &s->seed))
    return -1;
  if (descent_loss_parse(cli_get(o, n, "loss"), &s->loss) ||
      descent_preprocess_parse(cli_get(o, n, "preprocess"), &s->preprocess) ||
      descent_precision_parse(cli_get(o, n, "precision"), &s->precision)) {
    fprintf(stderr, "descent %s: %s\n", command, descent_last_error());
    return -1;
  }
  s->preprocess_eps = descent_preprocess_default_eps(s->preprocess);
  if (cli_find(o, n, "preprocess-eps")->given &&
      parse_positive(command, "preprocess-eps", cli_get(o, n, "preprocess-eps"),
                     &s->preprocess_eps))
    return -1;
  return 0;
}

/* The network's outputs against the data's classes, named by file. */
static int check_classes(const char *command, const cli_setup *s, const descent_dataset *train,
                         const descent_dataset *test, size_t outputs) {
  char path[4096];
  cli_data_labels_file(&s->data, 0, path, sizeof path);
  int rc = descent_dataset_check_labels(train, outputs, path);
  if (!rc) {
    cli_data_labels_file(&s->data, 1, path, sizeof path);
    rc = descent_dataset_check_labels(test, outputs, path);
  }
  if (rc) {
    fprintf(stderr,
            "descent %s: the network has %zu outputs but the data has %zu classes (%s); make "
            "the last layer %zu wide, or correct the labels\n",
            command, outputs, train->classes, descent_last_error(), train->classes);
    return -1;
  }
  if (train->classes != outputs) {
    fprintf(stderr,
            "descent %s: the data has %zu classes but the network has %zu outputs; make the "
            "last layer %zu wide\n",
            command, train->classes, outputs, train->classes);
    return -1;
  }
  return 0;
}

/* The data: loaded (as bytes when as_bytes), checked against the network,
   cut and split. */
static int build_data(const char *command, const cli_setup *s, int as_bytes, cli_setup_built *b) {
  if (cli_data_load(command, &s->data, as_bytes, &b->train, &b->test)) return 1;
  if (s->limit > b->train.n) {
    fprintf(stderr,
            "descent %s: --limit %zu: the training set has only %zu examples; give at most %zu "
            "(0: all)\n",
            command, s->limit, b->train.n, b->train.n);
    return 2;
  }
  /* The network before the data is cut or split, so that a label it has no
     output for is named by its file and its example. */
  if (descent_net_create(&b->net, s->model, &b->train.shape, s->loss, s->batch_size, s->seed)) {
    /* A text file's examples are flat unless --data says otherwise. */
    fprintf(stderr, "descent %s: %s%s\n", command, descent_last_error(),
            s->data.scheme != CLI_DATA_IDX && b->train.shape.ndim == 1
                ? " (the examples of a text source are flat vectors; give their shape in "
                  "--data, e.g. shape=1x28x28)"
                : "");
    return 1;
  }
  if (descent_net_set_threads(b->net, b->threads) ||
      descent_net_set_precision(b->net, s->precision))
    return -1;
  if (check_classes(command, s, &b->train, &b->test, descent_net_outputs(b->net))) return 1;
  if (s->limit && s->limit < b->train.n && descent_dataset_truncate(&b->train, s->limit)) return -1;
  if (s->val && descent_dataset_split(&b->train, s->val, s->seed, &b->val)) return -1;
  return 0;
}

int cli_setup_build(const char *command, const cli_setup *s, descent_preprocess *fitted,
                    cli_setup_built *b) {
  memset(b, 0, sizeof *b);
  /* --threads: the count of the network, the optimizer and the trainer, and
     of this thread's own work (loading, preprocessing). */
  b->threads = cli_set_threads((int)s->threads);
  /* Images stay bytes, a quarter of the memory and of a batch's reads,
     unless the preprocessing (a resumed run's own, or the one asked for)
     needs them as numbers: whitening mixes the pixels. */
  descent_preprocess_kind kind = fitted ? fitted->kind : s->preprocess;
  int rc = build_data(command, s,
                      kind == DESCENT_PREPROCESS_NONE || kind == DESCENT_PREPROCESS_STANDARDIZE, b);
  if (rc > 0) return rc;
  if (!rc && fitted) { /* a resumed run's own preprocessing, bit for bit */
    b->pp = *fitted;
    memset(fitted, 0, sizeof *fitted);
  } else if (!rc) {
    rc = descent_preprocess_fit(&b->pp, s->preprocess, &b->train, s->preprocess_eps);
  }
  if (!rc)
    rc = descent_preprocess_apply(&b->pp, &b->train) || descent_preprocess_apply(&b->pp, &b->val) ||
         descent_preprocess_apply(&b->pp, &b->test);
  if (!rc)
    rc =
        descent_optimizer_create(&b->opt, s->opt, s->lr, descent_net_objective(b->net)->n_params) ||
        descent_optimizer_set_threads(b->opt, b->threads) ||
        descent_optimizer_check_objective(b->opt, descent_net_objective(b->net));
  /* Parameter groups and per-tensor chains step on the network's tensors:
     given here, so that lr-find (which steps on the buffers) has them too,
     and a group that matches none is refused before any data moves. */
  const descent_objective *obj = b->net ? descent_net_objective(b->net) : NULL;
  if (!rc && descent_optimizer_uses_tensors(b->opt) && obj->n_tensors)
    rc = descent_optimizer_set_tensors(b->opt, obj->tensors, obj->n_tensors);
  if (rc) {
    fprintf(stderr, "descent %s: %s\n", command, descent_last_error());
    return 1;
  }
  return 0;
}

void cli_setup_free(cli_setup_built *b) {
  descent_optimizer_free(b->opt);
  descent_net_free(b->net);
  descent_preprocess_free(&b->pp);
  descent_dataset_free(&b->train);
  descent_dataset_free(&b->val);
  descent_dataset_free(&b->test);
  memset(b, 0, sizeof *b);
}

int cli_make_folders(const char *command, const char *dir) {
  char path[4096];
  if (strlen(dir) >= sizeof path - 32) {
    fprintf(stderr, "descent %s: --out path too long\n", command);
    return -1;
  }
  snprintf(path, sizeof path, "%s", dir);
  for (char *p = path + 1;; p++) {
    if (*p && *p != '/') continue;
    char was = *p;
    *p = '\0';
    if (mkdir(path, 0777) != 0 && errno != EEXIST) {
      fprintf(stderr, "descent %s: cannot create folder '%s': %s\n", command, path,
              strerror(errno));
      return -1;
    }
    if (!was) return 0;
    *p = '/';
  }
}

int cli_folder_first_entry(const char *dir, const char *ignore, char *found, size_t cap) {
  DIR *d = opendir(dir);
  if (!d) return -1;
  int any = 0;
  for (struct dirent *e; !any && (e = readdir(d));)
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0 &&
        !(ignore && strcmp(e->d_name, ignore) == 0)) {
      snprintf(found, cap, "%s", e->d_name);
      any = 1;
    }
  closedir(d);
  return any;
}
