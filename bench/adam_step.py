#!/usr/bin/env python3
"""adam_step.py - times torch.optim.Adam's step() on N float32 parameters (one
flat tensor, torch's most favourable layout), for bench/adam_step.sh.

Variants: foreach=False (a loop of per-tensor ops), foreach=True (the
multi-tensor path) and fused=True (one fused kernel). Each is warmed up, then
timed over --steps calls of opt.step() per repeat, with the gradient fixed (the
step alone is timed). Prints one line per variant and repeat:
  adam_step impl=torch-fused threads=T n=N steps=S repeat=K ms_per_step=X gbytes_per_s=Y
where gbytes_per_s uses the same bytes model as adam_step.c: 28 bytes per
parameter (read g, theta, m, v; write theta, m, v).
"""
import argparse
import os
import time

import torch

BYTES_PER_PARAM = 28.0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=1900000)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--variants", default="foreach=False,foreach=True,fused=True")
    ap.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                    help="cpu: the process's CPU time, as adam_step.c's --clock cpu")
    args = ap.parse_args()
    clock = time.perf_counter if args.clock == "wall" else time.process_time

    torch.set_num_threads(args.threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass  # already set
    cores = len(os.sched_getaffinity(0))
    if args.threads > cores:
        print("adam_step.py: WARNING: %d threads > %d usable cores" % (args.threads, cores))
    print("adam_step torch version=%s threads=%d (get_num_threads=%d) n=%d capability=%s clock=%s" %
          (torch.__version__, args.threads, torch.get_num_threads(), args.n,
           torch.backends.cpu.get_cpu_capability(), args.clock))

    gen = torch.Generator().manual_seed(1)
    init = torch.randn(args.n, generator=gen, dtype=torch.float32)
    grad = 1e-2 * torch.randn(args.n, generator=gen, dtype=torch.float32)
    for variant in args.variants.split(","):
        key, value = variant.split("=")
        kw = {key: value == "True"}
        p = torch.nn.Parameter(init.clone())
        p.grad = grad.clone()
        try:
            opt = torch.optim.Adam([p], lr=1e-3, **kw)
            for _ in range(args.warmup):
                opt.step()
        except (RuntimeError, ValueError) as e:
            print("adam_step impl=torch-%s unavailable: %s" % (variant, e))
            continue
        name = "torch-" + variant.replace("=True", "").replace("=False", "-off")
        for r in range(args.repeats):
            t0 = clock()
            for _ in range(args.steps):
                opt.step()
            per_step = (clock() - t0) / args.steps
            print("adam_step impl=%s threads=%d n=%d steps=%d repeat=%d ms_per_step=%.5f "
                  "gbytes_per_s=%.2f" % (name, args.threads, args.n, args.steps, r,
                                         1e3 * per_step, BYTES_PER_PARAM * args.n / per_step / 1e9))
        if not torch.isfinite(p).all():
            raise SystemExit("adam_step.py: non-finite parameters after %s" % variant)


if __name__ == "__main__":
    main()
