/*
 * train_mlp.c - trains a multilayer perceptron on Fashion-MNIST through
 * libdescent's public API: load the data, build the network, the optimizer
 * and the trainer, train, then evaluate on the test set.
 *
 *   train_mlp           quick: 1 epoch on the first 10,000 training examples
 *   train_mlp full      5 epochs on all 60,000
 *
 * The data set is Debian's dataset-fashion-mnist
 * (/usr/share/datasets/fashion-mnist); the environment variable
 * DESCENT_FASHION_MNIST names another folder holding the same files. Without
 * it the program prints SKIP and exits 77.
 *
 * Build: cc train_mlp.c $(pkg-config --cflags --libs descent) -lm
 */
#include <descent.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Every libdescent call that can fail returns a negative status and leaves a
 * one-line message in descent_last_error(). */
static int fail(const char *what) {
  fprintf(stderr, "train_mlp: %s: %s\n", what, descent_last_error());
  return 1;
}

/* Whether dir holds the training labels (gzipped or not): when it does not,
 * the data set is not installed, and there is nothing to train on. */
static int data_present(const char *dir) {
  const char *names[] = {"train-labels-idx1-ubyte.gz", "train-labels-idx1-ubyte"};
  for (int i = 0; i < 2; i++) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, names[i]);
    FILE *f = fopen(path, "rb");
    if (f) {
      fclose(f);
      return 1;
    }
  }
  return 0;
}

/* The trainer calls this at the end of every epoch. */
static int print_epoch(void *user, const descent_epoch_report *r) {
  (void)user;
  printf("epoch %lld: training loss %.4f, %.0f examples/s\n", (long long)r->epoch, r->train_loss,
         r->samples_per_s);
  return 0;
}

int main(int argc, char **argv) {
  int full = argc > 1 && strcmp(argv[1], "full") == 0;
  int epochs = full ? 5 : 1;
  const char *dir = getenv("DESCENT_FASHION_MNIST");
  if (!dir) dir = DESCENT_FASHION_MNIST_DIR;
  if (!data_present(dir)) {
    printf("SKIP: no Fashion-MNIST in %s (apt-get install dataset-fashion-mnist)\n", dir);
    return 77;
  }

  /* The data: 60,000 training and 10,000 test images of 28 x 28 pixels in
     [0, 1], labels 0 to 9. The data sets own their arrays. */
  descent_dataset train = {0}, test = {0};
  descent_net *net = NULL;
  descent_optimizer *opt = NULL;
  descent_trainer *trainer = NULL;
  int status = 1;
  if (descent_fashion_mnist_load(dir, &train, &test)) {
    fail("loading the data");
    goto done;
  }
  if (!full && descent_dataset_truncate(&train, 10000)) {
    fail("keeping 10,000 examples");
    goto done;
  }

  /* The network: 784 inputs, 256 hidden units with relu, 10 class scores,
     softmax cross-entropy; batches of up to 128 examples; seed 1. */
  if (descent_net_create(&net, "mlp:784-256-10", &train.shape, DESCENT_LOSS_SOFTMAX_XENT, 128, 1)) {
    fail("building the network");
    goto done;
  }
  /* The optimizer works on the network's flat parameter buffer: Adam with
     PyTorch's defaults at a rate of 1e-3 (any chain works, e.g.
     "clip(1.0) | adam | wd(1e-4)", see `descent optimizers`). */
  if (descent_optimizer_create(&opt, "adam", "1e-3", descent_net_objective(net)->n_params)) {
    fail("building the optimizer");
    goto done;
  }
  /* The trainer: shuffled minibatches, the divergence guard, and (given a
     checkpoint_dir) checkpoints to resume from. */
  descent_trainer_options options;
  descent_trainer_options_default(&options);
  options.batch_size = 128;
  options.seed = 1;
  options.on_epoch = print_epoch;
  if (descent_trainer_create(&trainer, descent_net_objective(net), opt, &train, &options)) {
    fail("building the trainer");
    goto done;
  }
  if (descent_trainer_run(trainer, epochs, 0)) {
    fail("training");
    goto done;
  }

  /* Evaluate where the optimizer wants it (schedule-free methods average
     their iterates; for Adam this changes nothing). */
  double loss, accuracy;
  if (descent_optimizer_eval(opt, descent_net_objective(net)) ||
      descent_net_evaluate(net, &test, &loss, &accuracy)) {
    fail("evaluating");
    goto done;
  }
  printf("trained %d epoch(s) on %zu examples: test accuracy %.4f, test loss %.4f\n", epochs,
         train.n, accuracy, loss);
  /* One epoch on 10,000 examples reaches about 0.8; much less means
     something is broken. */
  status = accuracy > 0.7 ? 0 : 1;
  if (status) fprintf(stderr, "train_mlp: test accuracy %.4f is too low\n", accuracy);

done:
  descent_trainer_free(trainer);
  descent_optimizer_free(opt);
  descent_net_free(net);
  descent_dataset_free(&train);
  descent_dataset_free(&test);
  return status;
}
