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

With --opt NAME (bench/optim_step.sh) it times that optimizer's step instead,
at rate --lr (default 1e-3): torch.optim's class for those torch has (adam,
nadam, radam, adamax, adadelta; each variant that the class accepts), a
loop of per-tensor in-place torch ops written here for those it has not
(lion; lamb and novograd as optax computes them), torch.optim.Muon on the
2-D weights with AdamW on the biases for muon (torch's recommended split),
the reference Distributed Shampoo for shampoo (impl torch-ref, where the
environment variable SHAMPOO_REFERENCE names its checkout), and prints
  optim_step impl=torch-foreach opt=NAME threads=T n=N steps=S repeat=K ms_per_step=X
(impl torch-hand for the loops written here). --layout mlp steps the tensors
of the big MLP 784-1024-1024-10 (--n is ignored), as adam_step.c does.
"""
import argparse
import os
import time

import torch

BYTES_PER_PARAM = 28.0
# The big MLP's weights and biases, as adam_step.c's --layout mlp.
MLP_SHAPES = [(1024, 784), (1024,), (1024, 1024), (1024,), (10, 1024), (10,)]
TORCH_CLASSES = {"adam": "Adam", "nadam": "NAdam", "radam": "RAdam", "adamax": "Adamax",
                 "adadelta": "Adadelta"}


def lion_step(params, lr, b1=0.9, b2=0.99):
    """Lion (Chen et al. 2023) with torch ops, as descent's lion | lr."""
    state = [torch.zeros_like(p) for p in params]

    def step():
        with torch.no_grad():
            for p, m in zip(params, state):
                update = m.lerp(p.grad, 1 - b1).sign_()
                p.add_(update, alpha=-lr)
                m.lerp_(p.grad, 1 - b2)
    return step


def lamb_step(params, lr, b1=0.9, b2=0.999, eps=1e-6):
    """optax.lamb with torch ops: optax's Adam, then the trust ratio per tensor."""
    m = [torch.zeros_like(p) for p in params]
    v = [torch.zeros_like(p) for p in params]
    count = [0]

    def step():
        count[0] += 1
        bc1, bc2 = 1 - b1 ** count[0], 1 - b2 ** count[0]
        with torch.no_grad():
            for p, mi, vi in zip(params, m, v):
                g = p.grad
                mi.mul_(b1).add_(g, alpha=1 - b1)
                vi.mul_(b2).addcmul_(g, g, value=1 - b2)
                u = (mi / bc1).div_((vi / bc2).sqrt_().add_(eps))
                pn, un = p.norm(), u.norm()
                ratio = torch.where((pn > 0) & (un > 0), pn / un, torch.ones_like(pn))
                p.add_(u.mul_(ratio), alpha=-lr)
    return step


def novograd_step(params, lr, b1=0.9, b2=0.25, eps=1e-6):
    """optax.novograd with torch ops: a second moment per tensor."""
    m = [torch.zeros_like(p) for p in params]
    nu = [torch.zeros((), dtype=p.dtype) for p in params]
    count = [0]

    def step():
        count[0] += 1
        with torch.no_grad():
            for p, mi, ni in zip(params, m, nu):
                g = p.grad
                sq = g.norm() ** 2
                if count[0] == 1:
                    ni.copy_(sq)
                    mi.copy_(g / (ni.sqrt() + eps))
                else:
                    ni.mul_(b2).add_(sq * (1 - b2))
                    mi.mul_(b1).add_(g / (ni.sqrt() + eps))
                p.add_(mi, alpha=-lr)
    return step


HAND = {"lion": lion_step, "lamb": lamb_step, "novograd": novograd_step}


def muon_adamw(params, lr, variant):
    """torch.optim.Muon on the 2-D weights and AdamW on the rest, as torch's
    documentation recommends (descent: muon @ weight:2d ; adamw @ *); the
    variant (foreach, fused) is AdamW's: Muon has a single path, whose
    Newton-Schulz iteration torch runs in bfloat16."""
    muon = torch.optim.Muon([p for p in params if p.ndim == 2], lr=lr)
    rest = [p for p in params if p.ndim != 2]
    adamw = torch.optim.AdamW(rest, lr=lr, **variant)

    def step():
        muon.step()
        adamw.step()
    return step


def shampoo_reference(params, lr):
    """Distributed Shampoo (facebookresearch/optimizers) at its defaults, the
    reference descent's shampoo follows: its tree where SHAMPOO_REFERENCE
    says (as tools/fixtures/shampoo_fixtures.py); float32 factors, the root
    inverse by eigendecomposition every step, no grafting."""
    path = os.environ.get("SHAMPOO_REFERENCE")
    if not path or not os.path.isdir(os.path.join(path, "distributed_shampoo")):
        raise RuntimeError("set SHAMPOO_REFERENCE to a checkout of facebookresearch/optimizers")
    import sys
    sys.path.insert(0, path)
    from distributed_shampoo import DistributedShampoo
    return DistributedShampoo(params, lr=lr).step


def time_optimizer(args, clock):
    """--opt: the step of args.opt, in each implementation torch offers."""
    gen = torch.Generator().manual_seed(1)
    shapes = MLP_SHAPES if args.layout == "mlp" else [(args.n,)]
    n = sum(torch.Size(s).numel() for s in shapes)
    inits = [torch.randn(s, generator=gen, dtype=torch.float32) for s in shapes]
    grads = [1e-2 * torch.randn(s, generator=gen, dtype=torch.float32) for s in shapes]
    if args.opt in HAND:
        variants = [("torch-hand", None)]
    elif args.opt == "shampoo":
        variants = [("torch-ref", None)]
    elif args.opt in TORCH_CLASSES or args.opt in ("muon", "muon_bf16"):
        variants = [("torch-" + v.replace("=True", "").replace("=False", "-off"), v)
                    for v in args.variants.split(",")]
    else:
        raise SystemExit("adam_step.py: no torch implementation of %s" % args.opt)
    for name, variant in variants:
        params = [torch.nn.Parameter(x.clone()) for x in inits]
        for p, g in zip(params, grads):
            p.grad = g.clone()
        try:
            if args.opt == "shampoo":
                step = shampoo_reference(params, args.lr)
            elif variant is None:
                step = HAND[args.opt](params, args.lr)
            else:
                key, value = variant.split("=")
                if args.opt in ("muon", "muon_bf16"):  # torch's Muon is always bfloat16
                    step = muon_adamw(params, args.lr, {key: value == "True"})
                else:
                    cls = getattr(torch.optim, TORCH_CLASSES[args.opt])
                    step = cls(params, lr=args.lr, **{key: value == "True"}).step
            for _ in range(args.warmup):
                step()
        except (RuntimeError, ValueError, TypeError) as e:
            print("optim_step impl=%s opt=%s unavailable: %s" % (name, args.opt, e))
            continue
        for r in range(args.repeats):
            t0 = clock()
            for _ in range(args.steps):
                step()
            print("optim_step impl=%s opt=%s threads=%d n=%d steps=%d repeat=%d ms_per_step=%.5f"
                  % (name, args.opt, args.threads, n, args.steps, r,
                     1e3 * (clock() - t0) / args.steps))
        if not all(torch.isfinite(p).all() for p in params):
            raise SystemExit("adam_step.py: non-finite parameters after %s %s" % (args.opt, name))


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
    ap.add_argument("--opt", help="time this optimizer instead of Adam (bench/optim_step.sh)")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--layout", choices=("flat", "mlp"), default="flat")
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

    if args.opt:
        time_optimizer(args, clock)
        return
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
