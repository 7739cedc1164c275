/*
 * cmd_eval.c - `descent eval`: evaluate a saved model (descent train writes
 * RUN/model.bin) on a test set and print its loss and accuracy.
 *
 * The model file carries its own preprocessing, fitted on the training set
 * it was trained on; it is applied to the test inputs before the forward
 * passes, exactly as during training. A label the model has no output for
 * is refused naming the labels file and the example. --data takes the same
 * sources as descent train's and evaluates on their test set.
 */
#include "commands.h"
#include "data_source.h"
#include "descent.h"
#include "options.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static cli_option eval_options[] = {
    {"model-file", "PATH", "a model saved by descent train (RUN/model.bin)", NULL, 0},
    {"data", "SOURCE",
     "the data, as descent train's --data; evaluates on its test set: idx:DIR's t10k files, a "
     "text source's test=PATH, or its PATH when it has no test= (default: "
     "idx:" DESCENT_FASHION_MNIST_DIR ")",
     NULL, 0},
    {"data-dir", "DIR", "the same as --data idx:DIR", DESCENT_FASHION_MNIST_DIR, 0},
    {"images", "FILE", "IDX images to evaluate on instead (with --labels)", NULL, 0},
    {"labels", "FILE", "IDX labels of --images", NULL, 0},
    {"batch-size", "N", "examples per forward pass", "1000", 0},
    {"threads", "N", "threads of the network and of loading the data; 0 uses every core", "0", 0},
};
enum { N_EVAL_OPTIONS = sizeof eval_options / sizeof eval_options[0] };

/* dir/name.gz if it exists, else dir/name (the loader reports what is
   missing). */
static void find_file(const char *dir, const char *name, char *path, size_t cap) {
  struct stat st;
  snprintf(path, cap, "%s/%s.gz", dir, name);
  if (stat(path, &st) != 0) snprintf(path, cap, "%s/%s", dir, name);
}

int cmd_eval(int argc, char **argv) {
  cli_option *o = eval_options;
  int n = N_EVAL_OPTIONS;
  int rc =
      cli_parse(argc, argv, 1, o, n, "eval",
                "Evaluate a saved model on a test set (Fashion-MNIST's by default): print the\n"
                "mean loss and the accuracy.");
  if (rc) return rc < 0 ? 2 : 0;
  size_t batch_size, threads;
  if (cli_get_size(o, n, "batch-size", 1, 1 << 20, &batch_size) ||
      cli_get_size(o, n, "threads", 0, 1024, &threads))
    return 2;
  const char *model = cli_get(o, n, "model-file"), *images = cli_get(o, n, "images"),
             *labels = cli_get(o, n, "labels");
  if (!model) {
    fprintf(stderr, "descent eval: --model-file PATH is required (descent train writes "
                    "RUN/model.bin)\n");
    return 2;
  }
  if (!images != !labels) {
    fprintf(stderr, "descent eval: --images and --labels go together\n");
    return 2;
  }
  int sources = cli_flag(o, n, "data") + cli_flag(o, n, "data-dir") + !!images;
  if (sources > 1) {
    fprintf(stderr, "descent eval: --data, --data-dir and --images/--labels each name the data; "
                    "give one of them\n");
    return 2;
  }
  cli_data_source source;
  if (cli_flag(o, n, "data") && cli_data_parse("eval", cli_get(o, n, "data"), &source)) return 2;
  char image_path[4096], label_path[4096];
  if (!images && !cli_flag(o, n, "data")) {
    const char *dir = cli_get(o, n, "data-dir");
    find_file(dir, "t10k-images-idx3-ubyte", image_path, sizeof image_path);
    find_file(dir, "t10k-labels-idx1-ubyte", label_path, sizeof label_path);
    images = image_path, labels = label_path;
  }
  cli_set_threads((int)threads); /* this thread's work, and the network's below */
  descent_net *net = NULL;
  descent_preprocess pp = {0};
  descent_dataset test = {0};
  double loss, acc;
  int status = 1;
  if (descent_net_load(&net, &pp, model, batch_size) ||
      descent_net_set_threads(net, descent_get_threads()) ||
      (images && descent_idx_load_dataset(images, labels, &test))) {
    fprintf(stderr, "descent eval: %s\n", descent_last_error());
    goto done;
  }
  /* Named here, with both files: the layers below only see two counts. */
  descent_shape input = descent_net_input_shape(net);
  if (!images) {
    if (cli_data_load_eval("eval", &source, descent_shape_size(&input), &test, label_path,
                           sizeof label_path))
      goto done;
    labels = label_path;
    cli_data_describe(&source, image_path, sizeof image_path);
    images = image_path; /* named by the source in the output */
  }
  if (test.features != descent_shape_size(&input)) {
    fprintf(stderr,
            "descent eval: %s: examples of %zu features; the model %s takes %zu; evaluate it on "
            "data shaped like its training set\n",
            images, test.features, model, descent_shape_size(&input));
    goto done;
  }
  if (cli_check_address_space("eval", descent_get_threads())) goto done;
  if (descent_dataset_check_labels(&test, descent_net_outputs(net), labels) ||
      descent_preprocess_apply(&pp, &test) || descent_net_evaluate(net, &test, &loss, &acc)) {
    fprintf(stderr, "descent eval: %s\n", descent_last_error());
    goto done;
  }
  printf("model       %s: %s, %zu parameters, preprocess %s\n", model, descent_net_spec(net),
         descent_net_objective(net)->n_params, descent_preprocess_name(pp.kind));
  printf("data        %s: %zu examples\n", images, test.n);
  printf("test loss %.4f acc %.2f%%\n", loss, 100 * acc);
  status = 0;
done:
  descent_dataset_free(&test);
  descent_preprocess_free(&pp);
  descent_net_free(net);
  return status;
}
