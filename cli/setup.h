/*
 * setup.h - the model, data and optimizer a command starts from: the options
 * `descent train` and `descent lr-find` share (--data, --model, --opt, ...),
 * parsed and built in one place so that both read them the same way.
 */
#ifndef DESCENT_CLI_SETUP_H
#define DESCENT_CLI_SETUP_H

#include "data_source.h"
#include "descent.h"
#include "options.h"

/* The shared options, as entries of a command's cli_option table (put them
   first, then the command's own). */
// clang-format off
#define CLI_SETUP_OPTIONS \
  {"data", "SOURCE", \
   "the data: idx:DIR (train-images-idx3-ubyte[.gz], ... in DIR), " \
   "csv:PATH[,test=PATH][,shape=CxHxW][,header=auto|yes|no][,label=last|first|N]" \
   "[,delimiter=comma|tab|semicolon|space|pipe|C] or " \
   "libsvm:PATH[,test=PATH][,shape=CxHxW][,features=N]; without test= there is no test " \
   "set (--val holds out a validation set); shape= defaults to the data's own (a CSV's: a " \
   "flat vector of its width) (default: idx:" DESCENT_FASHION_MNIST_DIR ")", \
   NULL, 0}, \
  {"data-dir", "DIR", "the same as --data idx:DIR", DESCENT_FASHION_MNIST_DIR, 0}, \
  {"model", "SPEC", "network: mlp:IN-H1-...-OUT[/ACT] or a layer list 'dense(256), relu, ...'", \
   "mlp:784-256-128-10", 0}, \
  {"loss", "NAME", "xent (softmax cross-entropy) or mse", "xent", 0}, \
  {"opt", "SPEC", "optimizer name or chain; see 'descent optimizers'", "sgd", 0}, \
  {"lr", "RATE", "learning rate: a number or a schedule (default: the optimizer's own)", NULL, 0}, \
  {"no-decay", "KINDS", \
   "no weight decay on these tensors: the optimizer split into two parameter groups, " \
   "'OPT(weight_decay=0) @ KINDS ; OPT @ *' (KINDS: bias, norm, weight, globs on tensor names, " \
   "comma-separated; e.g. bias,norm)", NULL, 0}, \
  {"batch-size", "N", "examples per minibatch (gd: per chunk of the full batch)", "128", 0}, \
  {"seed", "N", "seed of the initialization, the shuffling and the split", "1", 0}, \
  {"precision", "P", \
   "fp32, or bf16: dense and conv products on bf16 operands with float sums, weights and " \
   "optimizer in float, as torch.autocast; needs AVX512_BF16 (a resumed run keeps its own)", \
   "fp32", 0}, \
  {"threads", "N", \
   "threads of the network, optimizer and trainer; 0 uses every core (a resumed run keeps its " \
   "count: OpenBLAS rounds differently with another)", \
   "0", 0}, \
  {"preprocess", "KIND", \
   "input preprocessing fitted on the training set: none, standardize, pca, zca", "standardize", \
   0}, \
  {"preprocess-eps", "EPS", \
   "standardize: added to each std; pca, zca: added to each eigenvalue of the covariance", \
   "1e-3 standardize, 1e-2 pca and zca", 0}, \
  {"val", "N", "hold out N training examples as a validation set", "0", 0}, \
  {"limit", "N", "train on the first N training examples only (0: all)", "0", 0}
// clang-format on

/* The values of the shared options. */
typedef struct cli_setup {
  const char *model, *opt, *lr; /* lr NULL: the optimizer's default rate */
  char opt_groups[512];         /* --no-decay's grouped spec, which opt then points at */
  cli_data_source data;
  char data_text[8400]; /* data's canonical text, as saved and printed */
  descent_loss_kind loss;
  descent_preprocess_kind preprocess;
  double preprocess_eps;
  size_t batch_size, threads, val, limit;
  uint64_t seed;
  descent_precision precision;
} cli_setup;

/* Reads the shared options from a parsed table o[0, n) that holds them.
   Returns 0, or -1 after printing one line "descent COMMAND: ..." naming
   the option and the problem. */
int cli_setup_read(const char *command, cli_option *o, int n, cli_setup *s);

/* What a setup builds; cli_setup_free releases it. */
typedef struct cli_setup_built {
  descent_dataset train, val, test; /* val: --val examples moved out of train */
  descent_preprocess pp;            /* fitted on train and applied to all three */
  descent_net *net;
  descent_optimizer *opt; /* checked against the network's objective */
  int threads;            /* the thread count in effect */
} cli_setup_built;

/* Sets the thread count, loads the data, builds the network (checked
   against the data's classes), cuts the training set to --limit, splits
   off --val, fits the preprocessing on the training set (or takes over
   *fitted, zeroing it, when fitted is not NULL: a resumed run's own) and
   applies it, and builds the optimizer. Returns 0, 1 for a failure (after
   printing one line why) or 2 for a usage error (likewise); b is then
   still to be freed. */
int cli_setup_build(const char *command, const cli_setup *s, descent_preprocess *fitted,
                    cli_setup_built *b);
void cli_setup_free(cli_setup_built *b);

/* mkdir -p dir (--out's folder and its parents). Returns 0, or -1 after
   printing one line naming the folder that cannot be made. */
int cli_make_folders(const char *command, const char *dir);

/* What --out holds, for the commands whose folder must be new or empty:
   copies the name of its first entry other than ".", ".." and `ignore`
   (NULL: none) into found (cap bytes) and returns 1; returns 0 when it holds
   none; -1 when it cannot be read (errno says why: ENOENT for a folder that
   does not exist yet). */
int cli_folder_first_entry(const char *dir, const char *ignore, char *found, size_t cap);

#endif /* DESCENT_CLI_SETUP_H */
