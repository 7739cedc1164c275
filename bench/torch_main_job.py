#!/usr/bin/env python3
"""PyTorch counterpart of descent's main job (scripts/run.sh), end to end.

Does what `descent train --opt sgd --lr 0.1 --epochs 10` does with its
default model: reads Fashion-MNIST from the gzipped IDX files, pixels / 255
then per-feature standardization (x - mean) / (std + 1e-3) fitted on the
training set, an MLP 784-256-128-10 (--model; ReLU, nn.Linear default init),
softmax cross-entropy, plain SGD lr 0.1 without momentum, batch 128, 10
epochs each shuffled anew, and after every epoch the accuracy on the 10,000
test images (inference mode, the whole test set at once).

Nothing is timed inside: bench/time_to_accuracy.sh stamps each line as it
arrives, from the start of the process. After each epoch it prints, and
flushes:

    torch-main epoch=E train_loss=<running mean> test_accuracy=<fraction>

and at the end

    torch-main done epochs=N version=<torch.__version__> threads=T
"""

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_common as common  # noqa: E402


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=1, help="torch.set_num_threads, default 1")
    p.add_argument("--epochs", type=int, default=10, help="default 10")
    p.add_argument("--limit", type=int, default=None,
                   help="train only on the first N training examples")
    p.add_argument("--data-dir", default=os.environ.get(
        "DESCENT_DATA_DIR", "/usr/share/datasets/fashion-mnist"),
        help="directory with the Fashion-MNIST *-idx?-ubyte.gz files")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=0.1, help="default 0.1")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--model", default="784-256-128-10",
                   help="MLP layer sizes, default 784-256-128-10 (descent train's default)")
    a = p.parse_args()
    if a.threads < 1 or a.epochs < 1 or a.batch_size < 1:
        p.error("--threads, --epochs and --batch-size must be >= 1")
    if a.limit is not None and a.limit < 1:
        p.error("--limit must be >= 1")
    a.sizes = common.parse_mlp_sizes(p, a.model)
    return a


def main():
    args = parse_args()
    torch = common.init_torch(args.threads)
    nn, F = torch.nn, torch.nn.functional

    x_train, y_train = common.load_split(args.data_dir, "train")
    if args.limit is not None:
        x_train, y_train = x_train[:args.limit], y_train[:args.limit]
    mean = x_train.mean(axis=0)
    std = x_train.std(axis=0)
    x_test, y_test = common.load_split(args.data_dir, "t10k")
    X = torch.from_numpy(((x_train - mean) / (std + 1e-3)).astype(np.float32))
    Y = torch.from_numpy(y_train)
    Xt = torch.from_numpy(((x_test - mean) / (std + 1e-3)).astype(np.float32))
    Yt = torch.from_numpy(y_test)

    torch.manual_seed(args.seed)
    layers = []
    for n_in, n_out in zip(args.sizes, args.sizes[1:]):
        layers += [nn.Linear(n_in, n_out), nn.ReLU()]
    model = nn.Sequential(*layers[:-1])
    opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.0)
    gen = torch.Generator().manual_seed(args.seed)
    n, bs = X.shape[0], args.batch_size

    for epoch in range(1, args.epochs + 1):
        model.train()
        perm = torch.randperm(n, generator=gen)
        loss_sum = 0.0
        for i in range(0, n, bs):
            idx = perm[i:i + bs]
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(X[idx]), Y[idx])
            loss.backward()
            opt.step()
            loss_sum += loss.item() * idx.numel()
        model.eval()
        with torch.inference_mode():
            acc = (model(Xt).argmax(1) == Yt).float().mean().item()
        print(f"torch-main epoch={epoch} train_loss={loss_sum / n:.6f} "
              f"test_accuracy={acc:.4f}", flush=True)
    print(f"torch-main done epochs={args.epochs} version={torch.__version__} "
          f"threads={torch.get_num_threads()}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
