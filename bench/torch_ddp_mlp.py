#!/usr/bin/env python3
"""PyTorch DistributedDataParallel reference for bench/dp_scaling.sh.

Trains the MLP of bench/torch_mlp.py (default 784-1024-1024-10, ReLU,
softmax cross-entropy, plain SGD lr 0.1, global batch 128) on N processes
(--procs, spawned here; the gloo backend over this machine's loopback, as a
CPU cluster without InfiniBand would use) with --threads intra-op threads
each: every process takes its 1/N of each global batch (the same shuffled
order on all), DDP all-reduces the gradients in buckets overlapped with the
backward pass. Only the steps after the warm-up batches are timed, between
two barriers. Rank 0 prints, last:

    torch-ddp version=<torch.__version__> procs=N threads=T samples_per_s=<float> final_loss=<float>
"""

import argparse
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_common as common  # noqa: E402


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    common.add_options(p, lr=0.1)
    common.add_model_option(p)
    p.add_argument("--procs", type=int, default=2, help="processes, default 2")
    a = p.parse_args()
    common.check_options(p, a)
    if a.procs < 1 or a.batch_size % a.procs:
        p.error("--procs must be >= 1 and divide --batch-size")
    a.sizes = common.parse_mlp_sizes(p, a.model)
    return a


def worker(rank, args, port):
    torch = common.init_torch(args.threads)
    import torch.distributed as dist
    import torch.nn.functional as F
    nn = torch.nn
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    dist.init_process_group("gloo", rank=rank, world_size=args.procs)

    x, y = common.load_split(args.data_dir, "train")
    if args.limit is not None:
        x, y = x[:args.limit], y[:args.limit]
    x = (x - x.mean(axis=0)) / (x.std(axis=0) + 1e-3)
    X, Y = torch.from_numpy(x.astype("float32")), torch.from_numpy(y)

    torch.manual_seed(args.seed)
    layers = []
    for n_in, n_out in zip(args.sizes, args.sizes[1:]):
        layers += [nn.Linear(n_in, n_out), nn.ReLU()]
    model = nn.parallel.DistributedDataParallel(nn.Sequential(*layers[:-1]))
    opt = torch.optim.SGD(model.parameters(), lr=args.lr)

    n, bs, share = X.shape[0], args.batch_size, args.batch_size // args.procs
    gen = torch.Generator().manual_seed(args.seed)
    steps = timed = 0
    loss_sum = 0.0
    t0 = None
    for _ in range(args.epochs):
        perm = torch.randperm(n, generator=gen)
        loss_sum = 0.0
        for i in range(0, n - bs + 1, bs):  # full global batches only
            if steps == args.warmup_batches:
                dist.barrier()
                t0 = time.perf_counter()
            idx = perm[i + rank * share:i + (rank + 1) * share]
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(X[idx]), Y[idx])
            loss.backward()
            opt.step()
            loss_sum += loss.item() * bs
            steps += 1
            if t0 is not None:
                timed += bs
    dist.barrier()
    seconds = time.perf_counter() - t0 if t0 is not None else 0.0
    if rank == 0:
        if not timed:
            print("torch_ddp_mlp: no timed steps (data set too small for the warm-up?)",
                  file=sys.stderr)
        else:
            print(f"torch-ddp version={torch.__version__} procs={args.procs} "
                  f"threads={args.threads} samples_per_s={timed / seconds:.1f} "
                  f"final_loss={loss_sum / (n - n % bs):.6f}", flush=True)
    dist.destroy_process_group()


def main():
    args = parse_args()
    import torch.multiprocessing as mp
    with socket.socket() as s:  # a free port for the rendezvous
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(worker, args=(args, port), nprocs=args.procs, join=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
