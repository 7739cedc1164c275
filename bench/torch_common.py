"""What bench/torch_mlp.py and bench/torch_cnn.py share.

Options, the Fashion-MNIST reader, the timed training loop, the checks of
threads and other load, the test evaluation and the printed lines. A script
parses its options with add_options() and check_options(), calls
init_torch() before torch does any work, and hands its model to run().

Lines printed by run(), in this order (the benchmark scripts parse them):

    torch-config version=... parallel_backend=... (what torch uses)
    torch-env OMP_NUM_THREADS=... MKL_NUM_THREADS=... ...
    torch-epoch E loss=<float> timed_samples=N      (one per epoch)
    torch-threads os_threads=... busy_threads=... cpu_per_wall=... busy=[...]
    torch-load other_cores_busy=<cores>
    torch-eval test_accuracy=<float>                (without --no-eval)
    torch-steps threads=N steps=S best_ms=<ms> median_ms=<ms>
    ... lines of the script's own hook ...
    torch version=<torch.__version__> threads=N samples_per_s=<float> final_loss=<float>

and on stderr lines beginning `torch-warning:` (oversubscribed; other
processes used ... cores: the result is disturbed).
"""

import gzip
import os
import struct
import sys
import time

import numpy as np


def add_options(p, lr):
    """Adds the common options to the argparse parser p; lr: the default
    learning rate."""
    p.add_argument("--threads", type=int, default=1,
                   help="intra-op threads (torch.set_num_threads), default 1")
    p.add_argument("--epochs", type=int, default=1, help="default 1")
    p.add_argument("--warmup-batches", type=int, default=20,
                   help="untimed training steps at the start, default 20")
    p.add_argument("--limit", type=int, default=None,
                   help="train only on the first N training examples")
    p.add_argument("--data-dir", default=os.environ.get(
        "DESCENT_DATA_DIR", "/usr/share/datasets/fashion-mnist"),
        help="directory with the Fashion-MNIST *-idx?-ubyte.gz files")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=lr, help=f"default {lr}")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--no-eval", action="store_true",
                   help="skip the (untimed) test-set accuracy at the end")


def add_model_option(p):
    """Adds --model, the layer sizes of an MLP (bench/mlp.sh's --model
    without its "mlp:" prefix)."""
    p.add_argument("--model", default="784-1024-1024-10",
                   help="MLP layer sizes IN-H1-...-OUT, default 784-1024-1024-10")


def parse_mlp_sizes(p, spec):
    """The layer sizes of "784-100-10" as a list of ints (p.error on a bad
    spec): 784 inputs first, 10 classes last."""
    try:
        sizes = [int(v) for v in spec.split("-")]
    except ValueError:
        sizes = []
    if len(sizes) < 2 or min(sizes) < 1 or sizes[0] != 784 or sizes[-1] != 10:
        p.error(f"--model {spec}: expected IN-H1-...-10 with IN = 784, e.g. 784-100-10")
    return sizes


def check_options(p, a):
    """Rejects bad values of the common options (p.error exits)."""
    if a.threads < 1 or a.epochs < 1 or a.warmup_batches < 0 or a.batch_size < 1:
        p.error("--threads, --epochs and --batch-size must be >= 1, "
                "--warmup-batches >= 0")
    if a.limit is not None and a.limit < 1:
        p.error("--limit must be >= 1")


def init_torch(threads):
    """Imports torch and fixes its threads before it does any work:
    intra-op threads drive the GEMMs (MKL/oneDNN via OpenMP), inter-op
    parallelism is not used here."""
    import torch
    torch.set_num_threads(threads)
    torch.set_num_interop_threads(1)
    return torch


def read_idx(path):
    """Reads a gzipped IDX file (ubyte data) into a numpy array."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    zero, dtype, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    arr = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if arr.size != int(np.prod(dims)):
        raise ValueError(f"{path}: size does not match header {dims}")
    return arr.reshape(dims)


def load_split(data_dir, prefix):
    images = read_idx(os.path.join(data_dir, f"{prefix}-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(data_dir, f"{prefix}-labels-idx1-ubyte.gz"))
    x = images.reshape(images.shape[0], -1).astype(np.float32) / 255.0
    return x, labels.astype(np.int64)


def config_summary():
    """One line about the threading and math libraries torch uses."""
    import torch
    info = torch.__config__.parallel_info().splitlines()
    backend = next((ln.split(":", 1)[1].strip() for ln in info
                    if ln.startswith("ATen parallel backend")), "?")
    show = torch.__config__.show()
    blas = "?"
    for tok in show.replace(",", " ").split():
        if tok.startswith("BLAS_INFO="):
            blas = tok.split("=", 1)[1]
    try:
        cap = torch.backends.cpu.get_cpu_capability()
    except AttributeError:  # older torch
        cap = "?"
    return (f"torch-config version={torch.__version__} "
            f"parallel_backend={backend} blas={blas} "
            f"mkl={torch.backends.mkl.is_available()} "
            f"mkldnn={torch.backends.mkldnn.is_available()} "
            f"openmp={torch.backends.openmp.is_available()} "
            f"cpu_capability={cap} "
            f"num_threads={torch.get_num_threads()} "
            f"interop_threads={torch.get_num_interop_threads()}")


def machine_busy_s():
    """CPU seconds spent busy by the whole machine so far, or None."""
    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    # user nice system idle iowait irq softirq steal ...; busy = all - idle
    # - iowait (guest time is already inside user).
    busy = sum(v[:8]) - v[3] - v[4]
    return busy / os.sysconf("SC_CLK_TCK")


def thread_cpu_times():
    """{tid: (name, cpu seconds)} for the threads of this process (Linux)."""
    out = {}
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    try:
        tids = os.listdir("/proc/self/task")
    except OSError:
        return out
    for tid in tids:
        try:
            with open(f"/proc/self/task/{tid}/stat") as f:
                st = f.read()
        except OSError:
            continue
        name = st[st.index("(") + 1:st.rindex(")")]
        fields = st[st.rindex(")") + 2:].split()
        # fields[11], fields[12]: utime, stime (stat fields 14 and 15)
        out[tid] = (name, (int(fields[11]) + int(fields[12])) / tick)
    return out


def usable_cores():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


class Timing:
    """What train() measured over the timed steps."""

    def __init__(self):
        self.step_times = []    # each timed full-size step, in seconds
        self.timed_s = 0.0      # wall seconds of the timed steps
        self.timed_cpu = 0.0    # process CPU seconds over the timed steps
        self.thr0 = None        # per-thread CPU times when the clock started
        self.machine_cpu = 0.0  # whole-machine busy CPU seconds, same period
        self.timed_samples = 0
        self.final_loss = float("nan")  # mean loss of the last epoch
        self.perm = None        # the last epoch's order of the examples


def train(args, step, X, Y):
    """Runs args.epochs epochs of step(xb, yb) -> loss over the minibatches
    of X, Y (each epoch shuffled with a generator seeded by args.seed). The
    first args.warmup_batches steps are not timed; then the clocks cover the
    training steps only (minibatch indexing, forward, loss, backward, update)
    and each full-size step is also timed by itself. Prints a torch-epoch
    line per epoch and returns a Timing."""
    import torch
    n = X.shape[0]
    bs = args.batch_size
    gen = torch.Generator().manual_seed(args.seed)
    r = Timing()
    steps = 0               # training steps done so far (all epochs)
    for epoch in range(args.epochs):
        perm = torch.randperm(n, generator=gen)
        r.perm = perm
        loss_sum = 0.0
        t0 = None
        epoch_timed = 0
        if steps >= args.warmup_batches:
            t0 = time.perf_counter()
            c0 = time.process_time()
            r.thr0 = r.thr0 if r.thr0 is not None else thread_cpu_times()
            m0 = machine_busy_s()
        for i in range(0, n, bs):
            idx = perm[i:i + bs]
            s0 = time.perf_counter()
            loss = step(X[idx], Y[idx])
            if t0 is not None and idx.numel() == bs:
                r.step_times.append(time.perf_counter() - s0)
            loss_sum += loss.item() * idx.numel()
            steps += 1
            if t0 is None:
                if steps == args.warmup_batches:
                    # Warm-up over: start the clocks.
                    r.thr0 = thread_cpu_times()
                    m0 = machine_busy_s()
                    c0 = time.process_time()
                    t0 = time.perf_counter()
            else:
                epoch_timed += idx.numel()
        if t0 is not None:
            r.timed_s += time.perf_counter() - t0
            r.timed_cpu += time.process_time() - c0
            m1 = machine_busy_s()
            if m0 is not None and m1 is not None:
                r.machine_cpu += m1 - m0
            r.timed_samples += epoch_timed
        r.final_loss = loss_sum / n
        print(f"torch-epoch {epoch + 1} loss={r.final_loss:.6f} "
              f"timed_samples={epoch_timed}", flush=True)
    return r


def report_load(args, r, cores):
    """Oversubscription check, part 2: which threads did the work. More busy
    threads than --threads, or a CPU/wall ratio above --threads, means
    threads compete for cores. A ratio near --threads with a low rate means
    threads spin-wait (compare OMP_WAIT_POLICY=PASSIVE). Then the other
    processes (and steal time) competing for the cores."""
    import torch
    thr1 = thread_cpu_times()
    busy = []
    for tid, (name, cpu) in sorted(thr1.items(), key=lambda kv: int(kv[0])):
        d = cpu - (r.thr0 or {}).get(tid, (name, 0.0))[1]
        if d > 0.05 * r.timed_s:
            busy.append(f"{name}:{d / r.timed_s:.2f}")
    print(f"torch-threads os_threads={len(thr1)} busy_threads={len(busy)} "
          f"cpu_per_wall={r.timed_cpu / r.timed_s:.2f} usable_cores={cores} "
          f"torch_num_threads={torch.get_num_threads()} "
          f"busy=[{' '.join(busy)}]")
    other = max(0.0, (r.machine_cpu - r.timed_cpu) / r.timed_s)
    print(f"torch-load other_cores_busy={other:.2f}")
    if other > 0.2:
        print(f"torch-warning: other processes used {other:.2f} cores during "
              "the timed steps: this result is disturbed", file=sys.stderr)
    if len(busy) > args.threads or r.timed_cpu / r.timed_s > args.threads + 0.25:
        print(f"torch-warning: more busy threads than --threads {args.threads}: "
              "oversubscribed", file=sys.stderr)


def evaluate(model, args, mean, std, reshape):
    """Test-set accuracy, standardized with the training set's mean and std;
    reshape turns the (n, 784) input tensor into the model's input."""
    import torch
    x_test, y_test = load_split(args.data_dir, "t10k")
    x_test = (x_test - mean) / (std + 1e-3)
    with torch.no_grad():
        model.eval()
        pred = model(reshape(torch.from_numpy(x_test.astype(np.float32)))).argmax(1)
        acc = (pred == torch.from_numpy(y_test)).float().mean().item()
    print(f"torch-eval test_accuracy={acc:.4f}")


def run(args, name, make_model, reshape=lambda x: x, after=None):
    """The whole benchmark: loads the data (pixels / 255, per-feature
    standardization fitted on the training set), seeds torch with args.seed
    and builds the model with make_model(), trains it with plain SGD (no
    momentum) and softmax cross-entropy, reports, and returns the exit
    status. reshape turns an (n, 784) input tensor into the model's input;
    after(model, xb), if given, runs after the report on one minibatch of
    the last epoch. name prefixes the error messages."""
    import torch
    import torch.nn.functional as F

    print(config_summary(), flush=True)
    env = " ".join(f"{k}={os.environ.get(k, '-')}" for k in (
        "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
        "OMP_WAIT_POLICY", "KMP_BLOCKTIME"))
    print(f"torch-env {env}")

    # Oversubscription check, part 1: more threads than usable cores.
    cores = usable_cores()
    if args.threads > cores:
        print(f"torch-warning: {args.threads} threads on {cores} usable cores "
              "(oversubscribed)", file=sys.stderr)

    x_train, y_train = load_split(args.data_dir, "train")
    if args.limit is not None:
        x_train, y_train = x_train[:args.limit], y_train[:args.limit]
    # Per-feature standardization fitted on the training set.
    mean = x_train.mean(axis=0)
    std = x_train.std(axis=0)
    x_train = (x_train - mean) / (std + 1e-3)

    torch.manual_seed(args.seed)
    X = reshape(torch.from_numpy(np.ascontiguousarray(x_train, dtype=np.float32)))
    Y = torch.from_numpy(y_train)

    model = make_model()
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.0)

    def step(xb, yb):
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(xb), yb)
        loss.backward()
        opt.step()
        return loss

    r = train(args, step, X, Y)
    if r.timed_samples == 0:
        print(f"{name}: no timed steps (data set too small for the warm-up?)",
              file=sys.stderr)
        return 1
    sps = r.timed_samples / r.timed_s
    report_load(args, r, cores)

    if not args.no_eval:
        evaluate(model, args, mean, std, reshape)

    if r.step_times:
        st = sorted(r.step_times)
        print(f"torch-steps threads={args.threads} steps={len(st)} "
              f"best_ms={1e3 * st[0]:.2f} median_ms={1e3 * st[len(st) // 2]:.2f}")
    if after is not None:
        after(model, X[r.perm[:args.batch_size]])
    print(f"torch version={torch.__version__} threads={args.threads} "
          f"samples_per_s={sps:.1f} final_loss={r.final_loss:.6f}", flush=True)
    return 0
