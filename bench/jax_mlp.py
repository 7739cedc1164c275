#!/usr/bin/env python3
"""JAX reference for the descent MLP benchmark.

Trains the same MLP as bench/torch_mlp.py (default 784-1024-1024-10,
--model; ReLU, weights and biases uniform in +-1/sqrt(fan_in) as nn.Linear's
default init, softmax cross-entropy, plain SGD lr 0.1 without momentum,
batch 128) on Fashion-MNIST standardized the same way, and reports training
throughput. Two ways to drive XLA (--variant):

  scan  one epoch compiled as one lax.scan over its minibatches (the fastest
        JAX idiom); the epoch's last, smaller minibatch is a separate step.
        Compilation and one untimed scan over --warmup-batches minibatches
        (on a copy of the parameters) come first; then whole epochs are
        timed.
  step  a jax.jit-compiled training step called once per minibatch from
        Python; the first --warmup-batches steps are not timed, as in
        torch_mlp.py, and the smaller last minibatch is compiled before.

Both gather the minibatch inside the compiled code, from the whole training
set held as one array, and take no host sync per step.

Threads: XLA sizes its thread pool from the CPUs the process may run on, so
pin it (taskset -c 0 for 1 thread, taskset -c 0,1 for 2). With --threads 1,
XLA_FLAGS also gets --xla_cpu_multi_thread_eigen=false and
intra_op_parallelism_threads=1. The CPU time of each thread over the timed
part (from /proc/self/task/*/stat) shows which threads did the work, and
the process CPU time per wall second how many cores: the jax-threads line.
XLA runs a computation on threads of its own beside the Python thread that
dispatches it, so several threads can be busy in turn on one pinned core. A
jax-warning goes to stderr when the process was not pinned to --threads CPUs
or used more than --threads + 0.25 cores.

Lines printed, in this order (bench/mlp.sh parses the last one):

    jax-config version=... xla_flags=... affinity=[...]
    jax-epoch E loss=<float> timed_samples=N      (one per epoch)
    jax-threads os_threads=... busy_threads=... cpu_per_wall=... busy=[...]
    jax-load other_cores_busy=<cores>
    jax-eval test_accuracy=<float>                (without --no-eval)
    jax version=<v> variant=scan|step threads=N samples_per_s=<x> final_loss=<f>
"""

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_common as common  # noqa: E402  (its data and checks import no torch)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    common.add_options(p, lr=0.1)
    common.add_model_option(p)
    p.add_argument("--variant", choices=("scan", "step"), default="scan",
                   help="scan: an epoch as one lax.scan (default); step: a jitted step")
    p.add_argument("--xla-max-isa", default=None,
                   help="highest instruction set XLA may use, e.g. AVX2 "
                        "(--xla_cpu_max_isa)")
    a = p.parse_args()
    common.check_options(p, a)
    a.sizes = common.parse_mlp_sizes(p, a.model)
    return a


def set_xla_flags(args):
    """XLA reads XLA_FLAGS once, when jax starts its backend: set them
    before importing jax. Returns the flags."""
    flags = os.environ.get("XLA_FLAGS", "").split()
    if args.threads == 1:
        flags += ["--xla_cpu_multi_thread_eigen=false", "intra_op_parallelism_threads=1"]
    if args.xla_max_isa:
        flags.append(f"--xla_cpu_max_isa={args.xla_max_isa}")
    os.environ["XLA_FLAGS"] = " ".join(flags)
    return os.environ["XLA_FLAGS"]


def init_params(sizes, seed):
    """[(W, b)] with W (n_in, n_out), both uniform in +-1/sqrt(n_in): the
    bound of nn.Linear's default (Kaiming uniform, a = sqrt(5))."""
    rng = np.random.default_rng(seed)
    params = []
    for n_in, n_out in zip(sizes, sizes[1:]):
        bound = 1.0 / np.sqrt(n_in)
        w = rng.uniform(-bound, bound, (n_in, n_out)).astype(np.float32)
        b = rng.uniform(-bound, bound, n_out).astype(np.float32)
        params.append((w, b))
    return params


def make_functions(jax, lr):
    """The model's forward, the SGD step on a minibatch given by indices
    into the whole training set, and the epoch as one lax.scan."""
    jnp = jax.numpy

    def forward(params, x):
        for w, b in params[:-1]:
            x = jax.nn.relu(x @ w + b)
        w, b = params[-1]
        return x @ w + b

    def loss_fn(params, x, y):
        logits = forward(params, x)
        picked = jnp.take_along_axis(logits, y[:, None], axis=1)[:, 0]
        return jnp.mean(jax.nn.logsumexp(logits, axis=1) - picked)

    def sgd_step(params, X, Y, idx):
        loss, grads = jax.value_and_grad(loss_fn)(params, X[idx], Y[idx])
        params = jax.tree.map(lambda p, g: p - lr * g, params, grads)
        return params, loss

    def scan_epoch(params, X, Y, idx):  # idx: (batches, batch size)
        return jax.lax.scan(lambda p, i: sgd_step(p, X, Y, i), params, idx)

    return forward, sgd_step, scan_epoch


class Clock:
    """Wall, process CPU, per-thread CPU and machine busy time over the
    timed parts (resumed and paused around each)."""

    def __init__(self):
        self.wall = self.cpu = self.machine = 0.0
        self.samples = 0
        self.thr0 = None
        self.running = False

    def start(self):
        if self.thr0 is None:
            self.thr0 = common.thread_cpu_times()
        self.m0 = common.machine_busy_s()
        self.c0 = time.process_time()
        self.t0 = time.perf_counter()
        self.running = True

    def stop(self, samples):
        self.wall += time.perf_counter() - self.t0
        self.cpu += time.process_time() - self.c0
        m1 = common.machine_busy_s()
        if self.m0 is not None and m1 is not None:
            self.machine += m1 - self.m0
        self.samples += samples
        self.running = False


def train_scan(jax, args, fns, params, X, Y, n):
    """--variant scan: returns (params, Clock, mean loss of the last epoch)."""
    jnp = jax.numpy
    _, sgd_step, scan_epoch = fns
    bs = args.batch_size
    full = n // bs
    epoch = jax.jit(scan_epoch, donate_argnums=0)
    tail = jax.jit(sgd_step, donate_argnums=0)
    shape = jax.ShapeDtypeStruct((full, bs), jnp.int32)
    compiled = epoch.lower(params, X, Y, shape).compile() if full else None
    # Warm-up on a copy: the threads, the allocator and the code are hot
    # before the clock starts, and the training itself is not changed.
    gen = np.random.default_rng(args.seed)
    if full and args.warmup_batches:
        w = min(args.warmup_batches, full)
        warm = jax.jit(scan_epoch)(params, X, Y, jnp.zeros((w, bs), jnp.int32))
        jax.block_until_ready(warm)
    if n % bs:
        warm = tail(jax.tree.map(jnp.copy, params), X, Y, jnp.zeros(n % bs, jnp.int32))
        jax.block_until_ready(warm)
    clock = Clock()
    last_loss = float("nan")
    for e in range(args.epochs):
        perm = gen.permutation(n).astype(np.int32)
        idx = jnp.asarray(perm[:full * bs].reshape(full, bs))
        rest = jnp.asarray(perm[full * bs:])
        clock.start()
        losses = []
        if full:
            params, batch_losses = compiled(params, X, Y, idx)
            losses.append(batch_losses * bs)
        if n % bs:
            params, loss = tail(params, X, Y, rest)
            losses.append(loss[None] * (n % bs))
        jax.block_until_ready((params, losses))
        clock.stop(n)
        last_loss = float(sum(jnp.sum(v) for v in losses)) / n
        print(f"jax-epoch {e + 1} loss={last_loss:.6f} timed_samples={n}", flush=True)
    return params, clock, last_loss


def train_step(jax, args, fns, params, X, Y, n):
    """--variant step: returns (params, Clock, mean loss of the last epoch)."""
    jnp = jax.numpy
    _, sgd_step, _ = fns
    bs = args.batch_size
    step = jax.jit(sgd_step, donate_argnums=0)
    if n % bs and n > bs:  # compile the smaller last minibatch now
        jax.block_until_ready(step(jax.tree.map(jnp.copy, params), X, Y,
                                   np.zeros(n % bs, np.int32)))
    gen = np.random.default_rng(args.seed)
    clock = Clock()
    steps = 0
    last_loss = float("nan")
    for e in range(args.epochs):
        perm = gen.permutation(n).astype(np.int32)
        losses = []
        timed = 0
        if steps >= args.warmup_batches:
            clock.start()
        for i in range(0, n, bs):
            idx = perm[i:i + bs]
            params, loss = step(params, X, Y, idx)
            losses.append(loss * len(idx))
            steps += 1
            if steps == args.warmup_batches:
                jax.block_until_ready(params)  # warm-up over: start the clocks
                clock.start()
            elif steps > args.warmup_batches:
                timed += len(idx)
        jax.block_until_ready(params)
        if clock.running:
            clock.stop(timed)
        last_loss = float(sum(losses)) / n
        print(f"jax-epoch {e + 1} loss={last_loss:.6f} timed_samples={timed}", flush=True)
    return params, clock, last_loss


def report_threads(args, clock):
    """Which threads did the work over the timed part, and how much other
    processes took of the machine (as torch_common.report_load)."""
    thr1 = common.thread_cpu_times()
    busy = []
    for tid, (name, cpu) in sorted(thr1.items(), key=lambda kv: int(kv[0])):
        d = cpu - clock.thr0.get(tid, (name, 0.0))[1]
        if d > 0.05 * clock.wall:
            busy.append(f"{name}:{d / clock.wall:.2f}")
    ratio = clock.cpu / clock.wall
    print(f"jax-threads os_threads={len(thr1)} busy_threads={len(busy)} "
          f"cpu_per_wall={ratio:.2f} usable_cores={common.usable_cores()} "
          f"busy=[{' '.join(busy)}]")
    other = max(0.0, (clock.machine - clock.cpu) / clock.wall)
    print(f"jax-load other_cores_busy={other:.2f}")
    if other > 0.2:
        print(f"jax-warning: other processes used {other:.2f} cores during the timed "
              "steps: this result is disturbed", file=sys.stderr)
    # XLA's CPU runtime runs a computation on threads of its own beside the
    # Python thread that dispatches it, so more threads than cores can be
    # busy in turn; the cores used are bounded by the affinity, and the CPU
    # time per wall second says how many were used.
    if ratio > args.threads + 0.25:
        print(f"jax-warning: {ratio:.2f} cores busy for --threads {args.threads}: "
              "oversubscribed", file=sys.stderr)


def main():
    args = parse_args()
    flags = set_xla_flags(args)
    cores = common.usable_cores()
    if cores != args.threads:
        print(f"jax-warning: --threads {args.threads} but the process may run on {cores} "
              f"CPUs; XLA sizes its pool from them: pin it (taskset -c 0 or 0,1)",
              file=sys.stderr)
    import jax
    jax.config.update("jax_platforms", "cpu")
    jnp = jax.numpy
    print(f"jax-config version={jax.__version__} backend={jax.default_backend()} "
          f"devices={jax.device_count()} xla_flags=\"{flags}\" "
          f"affinity={sorted(os.sched_getaffinity(0))}", flush=True)

    x_train, y_train = common.load_split(args.data_dir, "train")
    if args.limit is not None:
        x_train, y_train = x_train[:args.limit], y_train[:args.limit]
    mean = x_train.mean(axis=0)
    std = x_train.std(axis=0)
    n = x_train.shape[0]
    X = jnp.asarray(((x_train - mean) / (std + 1e-3)).astype(np.float32))
    Y = jnp.asarray(y_train.astype(np.int32))
    params = jax.tree.map(jnp.asarray, init_params(args.sizes, args.seed))
    fns = make_functions(jax, args.lr)

    train = train_scan if args.variant == "scan" else train_step
    params, clock, final_loss = train(jax, args, fns, params, X, Y, n)
    if clock.samples == 0 or clock.wall <= 0:
        print("jax_mlp: no timed steps (data set too small for the warm-up?)",
              file=sys.stderr)
        return 1
    report_threads(args, clock)

    if not args.no_eval:
        x_test, y_test = common.load_split(args.data_dir, "t10k")
        x_test = jnp.asarray(((x_test - mean) / (std + 1e-3)).astype(np.float32))
        pred = jnp.argmax(jax.jit(fns[0])(params, x_test), axis=1)
        acc = float(jnp.mean(pred == jnp.asarray(y_test)))
        print(f"jax-eval test_accuracy={acc:.4f}")

    print(f"jax version={jax.__version__} variant={args.variant} threads={args.threads} "
          f"samples_per_s={clock.samples / clock.wall:.1f} final_loss={final_loss:.6f}",
          flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
