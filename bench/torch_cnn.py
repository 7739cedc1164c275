#!/usr/bin/env python3
"""PyTorch reference for the descent CNN benchmark.

Trains DeepOBS's fmnist_2c2d (conv 5x5 32 'same', ReLU, max pool 2x2, conv
5x5 64 'same', ReLU, max pool 2x2, dense 1024, ReLU, dense 10; weights
truncated normal with std 0.05, biases 0.05, as DeepOBS; softmax
cross-entropy, plain SGD lr 0.01 without momentum, batch 128) on
Fashion-MNIST read directly from the gzipped IDX files, and reports training
throughput.

The training loop, its checks (threads, wait policy, other load) and the
lines printed are those of bench/torch_common.py, shared with
bench/torch_mlp.py; the line `torch-steps ... best_ms= median_ms=` (every
full-size step timed by itself) is the counterpart of bench/cnn_step.c.
With --layers, each layer's forward and backward is then timed by itself
(lines `torch-layer NAME fwd_ms= bwd_ms=`). With --autocast bf16 the
forward pass and the loss run under torch.autocast("cpu",
dtype=torch.bfloat16), the counterpart of `descent train --precision bf16`:
the convolutions and linear layers in bf16 with float sums, the weights, the
loss and SGD in float. The last line printed is
machine-readable:

    torch version=<torch.__version__> threads=N samples_per_s=<float> final_loss=<float>
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_common as common  # noqa: E402


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    common.add_options(p, lr=0.01)
    p.add_argument("--autocast", choices=["bf16"], default=None,
                   help="run forward and loss under torch.autocast(\"cpu\", "
                        "dtype=torch.bfloat16)")
    p.add_argument("--layers", action="store_true",
                   help="after training, time each layer's forward and backward by "
                        "itself (fastest of 15), as bench/cnn_step.c --layers does")
    a = p.parse_args()
    common.check_options(p, a)
    if a.autocast and a.layers:
        p.error("--layers times the float layers; drop it with --autocast")
    return a


def time_layers(model, xb, reps=15):
    """Each layer by itself on its activations of one batch: the fastest
    forward, and the fastest backward given a fixed output gradient (the
    first layer without an input gradient, as in training)."""
    import torch
    x = xb
    for i, layer in enumerate(model):
        inp = x.detach().requires_grad_(i > 0)
        fwd = bwd = float("inf")
        for _ in range(reps):
            t0 = time.perf_counter()
            y = layer(inp)
            t1 = time.perf_counter()
            dy = torch.ones_like(y)
            layer.zero_grad(set_to_none=True)
            if inp.requires_grad:
                inp.grad = None
            t2 = time.perf_counter()
            if y.requires_grad:
                y.backward(dy)
            t3 = time.perf_counter()
            fwd, bwd = min(fwd, t1 - t0), min(bwd, t3 - t2)
        print(f"torch-layer {i}.{type(layer).__name__} fwd_ms={1e3 * fwd:.2f} "
              f"bwd_ms={1e3 * bwd:.2f}", flush=True)
        x = y.detach()


def autocast_bf16(torch, model):
    """model with its forward pass under autocast to bf16, returning float
    logits: the cross-entropy that follows is then the float one autocast
    would run (it casts its input to float)."""
    class Autocast(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, x):
            with torch.autocast("cpu", dtype=torch.bfloat16):
                return self.inner(x).float()

    return Autocast(model)


def main():
    args = parse_args()
    torch = common.init_torch(args.threads)
    nn = torch.nn

    def make_model():
        model = nn.Sequential(
            nn.Conv2d(1, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2, 2),
            nn.Conv2d(32, 64, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2, 2),
            nn.Flatten(),
            nn.Linear(7 * 7 * 64, 1024), nn.ReLU(),
            nn.Linear(1024, 10),
        )
        for m in model.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.trunc_normal_(m.weight, std=0.05, a=-0.1, b=0.1)
                nn.init.constant_(m.bias, 0.05)
        return autocast_bf16(torch, model) if args.autocast else model

    if args.autocast:
        print(f"torch-autocast {args.autocast} cpu_capability="
              f"{torch.backends.cpu.get_cpu_capability()}", flush=True)
    return common.run(args, "torch_cnn", make_model,
                      reshape=lambda x: x.reshape(-1, 1, 28, 28),
                      after=time_layers if args.layers else None)


if __name__ == "__main__":
    sys.exit(main())
