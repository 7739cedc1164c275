#!/usr/bin/env python3
"""PyTorch reference for the descent MLP benchmark.

Trains the MLP 784-1024-1024-10 (ReLU, nn.Linear default init, softmax
cross-entropy, plain SGD lr 0.1 without momentum, batch 128) on Fashion-MNIST
read directly from the gzipped IDX files, and reports training throughput.

Only the training steps after the warm-up batches are timed. The last line
printed is machine-readable:

    torch version=<torch.__version__> threads=N samples_per_s=<float> final_loss=<float>

final_loss is the mean training loss over the batches of the last epoch.
The training loop, the checks and the other lines printed are those of
bench/torch_common.py, shared with bench/torch_cnn.py.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_common as common  # noqa: E402


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    common.add_options(p, lr=0.1)
    a = p.parse_args()
    common.check_options(p, a)
    return a


def main():
    args = parse_args()
    torch = common.init_torch(args.threads)
    nn = torch.nn

    def make_model():
        return nn.Sequential(
            nn.Linear(784, 1024), nn.ReLU(),
            nn.Linear(1024, 1024), nn.ReLU(),
            nn.Linear(1024, 10),
        )

    return common.run(args, "torch_mlp", make_model)


if __name__ == "__main__":
    sys.exit(main())
