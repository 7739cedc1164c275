#!/usr/bin/env python3
"""safetensors_roundtrip.py - the PyTorch side of tools/interop/roundtrip.sh.

Builds the torch.nn.Sequential equivalent to a descent model spec and moves
weights between it and safetensors files with the `safetensors` package:

  from-descent IN OUT --input C,H,W [--test-dir DIR]
      Loads IN (written by `descent export`), builds the Sequential from the
      spec in its metadata, load_state_dict(strict=True), checks that every
      parameter of the module holds exactly IN's bits, and writes the module's
      state_dict to OUT with safetensors.torch.save_file. With --test-dir,
      also evaluates the module on Fashion-MNIST's test set (raw pixels / 255)
      and prints its loss and accuracy.
  from-torch OUT --spec SPEC --input C,H,W [--seed N]
      Builds the Sequential with PyTorch's own initialization (seeded) and
      writes its state_dict to OUT.
  compare A B
      The same tensor names, dtypes, shapes and bytes, or exit status 1.

Prints the torch and safetensors versions.
"""
import argparse
import gzip
import os
import re
import sys

import numpy as np
import safetensors
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file


def parse_layers(spec):
    """descent's spec grammar, the part a safetensors file can carry."""
    m = re.fullmatch(r"mlp:([0-9-]+)(?:/(relu|tanh|sigmoid))?", spec.strip())
    if m:
        widths = [int(w) for w in m.group(1).split("-")]
        act = m.group(2) or "relu"
        layers = []
        for i, w in enumerate(widths[1:]):
            if i:
                layers.append((act, [], {}))
            layers.append(("dense", [str(w)], {}))
        return layers
    layers = []
    for name, args in re.findall(r"([a-z_0-9]+)\s*(?:\(([^)]*)\))?", spec):
        pos, kw = [], {}
        for a in [a.strip() for a in (args or "").split(",") if a.strip()]:
            if "=" in a:
                k, v = a.split("=", 1)
                kw[k.strip()] = v.strip()
            else:
                pos.append(a)
        layers.append((name, pos, kw))
    return layers


def build(spec, shape):
    """The torch.nn.Sequential for a spec, for inputs of shape (C, H, W) or (F,)."""
    modules = []
    shape = list(shape)
    for name, pos, kw in parse_layers(spec):
        if name == "dense":
            out = int(pos[0])
            bias = kw.get("bias", "1") != "0"
            modules.append(torch.nn.Linear(int(np.prod(shape)), out, bias=bias))
            shape = [out]
        elif name == "conv":
            out, k = int(pos[0]), int(pos[1])
            stride = int(kw.get("stride", 1))
            pad = int(kw.get("pad", 0))
            bias = kw.get("bias", "1") != "0"
            modules.append(torch.nn.Conv2d(shape[0], out, k, stride=stride, padding=pad, bias=bias))
            shape = [out, (shape[1] + 2 * pad - k) // stride + 1, (shape[2] + 2 * pad - k) // stride + 1]
        elif name in ("maxpool", "avgpool"):
            k = int(pos[0])
            stride = int(kw.get("stride", k))
            pad = int(kw.get("pad", 0))
            cls = torch.nn.MaxPool2d if name == "maxpool" else torch.nn.AvgPool2d
            modules.append(cls(k, stride=stride, padding=pad))
            shape = [shape[0], (shape[1] + 2 * pad - k) // stride + 1, (shape[2] + 2 * pad - k) // stride + 1]
        elif name == "flatten":
            modules.append(torch.nn.Flatten())
            shape = [int(np.prod(shape))]
        elif name == "relu":
            modules.append(torch.nn.ReLU())
        elif name == "tanh":
            modules.append(torch.nn.Tanh())
        elif name == "sigmoid":
            modules.append(torch.nn.Sigmoid())
        elif name == "batchnorm":
            # descent writes running_mean, running_var and num_batches_tracked
            # (0: it does not count steps) under the module's own names.
            cls = torch.nn.BatchNorm2d if len(shape) == 3 else torch.nn.BatchNorm1d
            modules.append(cls(shape[0], eps=float(kw.get("eps", 1e-5)),
                               momentum=float(kw.get("momentum", 0.1))))
        elif name == "dropout":
            modules.append(torch.nn.Dropout(float(pos[0]) if pos else float(kw.get("p", 0.5))))
        else:
            sys.exit(f"safetensors_roundtrip.py: layer '{name}' has no state_dict twin here")
    return torch.nn.Sequential(*modules)


def same_bits(a, b):
    # reshape(-1): a 0-dim tensor (num_batches_tracked) has no byte view.
    return a.dtype == b.dtype and a.shape == b.shape and bool(
        torch.equal(a.reshape(-1).contiguous().view(torch.uint8),
                    b.reshape(-1).contiguous().view(torch.uint8)))


def idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def evaluate(model, test_dir, shape):
    x = idx(os.path.join(test_dir, "t10k-images-idx3-ubyte.gz")).astype(np.float32) / 255
    y = idx(os.path.join(test_dir, "t10k-labels-idx1-ubyte.gz")).astype(np.int64)
    x = torch.from_numpy(x).reshape(len(x), *shape)
    if len(model) and isinstance(model[0], torch.nn.Linear):
        x = x.reshape(len(x), -1)
    model.eval()
    with torch.no_grad():
        logits = model(x)
        loss = torch.nn.functional.cross_entropy(logits, torch.from_numpy(y)).item()
        acc = (logits.argmax(1).numpy() == y).mean()
    return loss, acc


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="mode", required=True)
    a = sub.add_parser("from-descent")
    a.add_argument("inp")
    a.add_argument("out")
    a.add_argument("--input", required=True)
    a.add_argument("--test-dir")
    b = sub.add_parser("from-torch")
    b.add_argument("out")
    b.add_argument("--spec", required=True)
    b.add_argument("--input", required=True)
    b.add_argument("--seed", type=int, default=0)
    c = sub.add_parser("compare")
    c.add_argument("a")
    c.add_argument("b")
    args = p.parse_args()
    print(f"torch {torch.__version__}, safetensors {safetensors.__version__}, numpy {np.__version__}")

    if args.mode == "compare":
        ta, tb = load_file(args.a), load_file(args.b)
        if sorted(ta) != sorted(tb):
            sys.exit(f"different tensors: {sorted(ta)} and {sorted(tb)}")
        for k in ta:
            if not same_bits(ta[k], tb[k]):
                sys.exit(f"tensor {k} differs")
        print(f"compare: {len(ta)} tensors, {sum(t.numel() for t in ta.values())} values, "
              f"equal bit for bit")
        return

    shape = [int(s) for s in args.input.split(",")]
    if args.mode == "from-torch":
        torch.manual_seed(args.seed)
        model = build(args.spec, shape)
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, args.out,
                  metadata={"format": "pt"})
        print(f"from-torch: {args.spec}: {len(model.state_dict())} tensors -> {args.out}")
        return

    with safe_open(args.inp, framework="pt") as f:
        spec = f.metadata()["descent_model"]
    tensors = load_file(args.inp)
    model = build(spec, shape)
    model.load_state_dict(tensors, strict=True)
    state = model.state_dict()
    for k, v in tensors.items():
        if not same_bits(state[k], v):
            sys.exit(f"{k}: the module does not hold the file's bits")
    print(f"from-descent: {spec}: load_state_dict(strict=True) took {len(tensors)} tensors, "
          f"every bit as in the file")
    if args.test_dir:
        loss, acc = evaluate(model, args.test_dir, shape)
        print(f"torch test loss {loss:.4f} acc {100 * acc:.2f}%")
    save_file({k: v.contiguous() for k, v in state.items()}, args.out, metadata={"format": "pt"})
    print(f"from-descent: state_dict saved -> {args.out}")


if __name__ == "__main__":
    main()
