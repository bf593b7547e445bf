"""Real networks exported by MXNet 1.9.1 / Gluon, run by MXNet and by cysym on the same cores, with
the same inputs and weights: the time of each, and cysym's time as a ratio of MXNet's.

    PYTHONPATH=. python3 asv_bench/compare_mxnet.py [--mxnet-python /tmp/mxref/bin/python] [--threads 1 2]
        [--batches 1 2 32] [--train-batches 2 32] [--repeat 5] [--models resnet18_v1 ...]

The reference MXNet lives in its own venv, never in cysym's (`python3 -m venv /tmp/mxref &&
/tmp/mxref/bin/pip install mxnet==1.9.1 'numpy<1.24' gluoncv==0.10.5.post0`).  The script runs
itself three ways:
  1. under MXNet's Python, once per model: the Gluon model-zoo network at full size, weights drawn
     from a fixed seed, BatchNorm statistics at random, `hybridize()` and `export()` into the cache
     folder (~/.cache/cysym/compare_mxnet, or --cache); skipped when the files are there;
  2. a child per framework, model and thread count, pinned with sched_setaffinity to the first
     `threads` CPUs, OMP_NUM_THREADS and OPENBLAS_NUM_THREADS set to `threads`: the same code
     (`import mxnet as mx` or `import cysym as mx`) loads the checkpoint, puts SoftmaxOutput on
     the exported head, simple_binds once per row and times it.  The two frameworks' children
     alternate model by model, --rounds times, and each row keeps its best time over the rounds,
     so that on a shared machine both meet the same load;
  3. the parent prints the table.

Rows: inference (`forward(is_train=False)`, grad_req null) at each --batches size and a training
step (`forward(is_train=True)` + `backward()`, parameters' grad_req write, data null, no update)
at each --train-batches size; the time is the best of --repeat calls after one warm-up call, and
MXNet's asynchronous engine is waited on (`mx.nd.waitall()`) inside the timed region.  MXNet
runs with its defaults: oneDNN, and its MKLDNN subgraph backend, active by default, which fuses
Convolution + BatchNorm + ReLU at bind time (with MXNET_SUBGRAPH_BACKEND=NONE, MobileNet v2
batch 1 took 45 ms instead of 9.7 on one thread here), as cysym's bind-time fusion does.  The
OpenBLAS variables are left as the command has them: to time what a user's machine does, run it with
`env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE`; the table's header says which were set.
Real-time priority (`chrt -f`) keeps other processes off the cores for one-thread rows, but not
for two-thread ones: both frameworks' two threads can land on one core, where SCHED_FIFO threads
do not share time (separate processes of one build ran 1.5x apart; without it, within 1%).
"""
import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

# name -> input side (Gluon's model-zoo input sizes)
MODELS = {
    "resnet18_v1": 224, "resnet50_v1": 224, "mobilenet1.0": 224, "mobilenetv2_1.0": 224,
    "vgg11_bn": 224, "inceptionv3": 299, "densenet121": 224, "squeezenet1.0": 224,
    "alexnet": 224,
}
DEFAULT_CACHE = Path.home() / ".cache" / "cysym" / "compare_mxnet"


def export_model(name, cache):
    """(Under MXNet) write <cache>/<name>-symbol.json and -0000.params, full size, seeded."""
    import mxnet as mx
    import numpy as np
    from mxnet.gluon.model_zoo import vision

    mx.random.seed(0)
    net = vision.get_model(name, pretrained=False)
    net.initialize(mx.init.Xavier(magnitude=2))
    rng = np.random.default_rng(0)
    side = MODELS[name]
    net(mx.nd.zeros((1, 3, side, side)))    # materialize the deferred shapes
    for pname, param in net.collect_params().items():
        if pname.endswith(("running_mean", "running_var", "gamma", "beta")):
            values = rng.uniform(0.5, 1.5, param.shape) if pname.endswith(("running_var", "gamma")) \
                else rng.normal(0, 0.1, param.shape)
            param.set_data(mx.nd.array(values.astype(np.float32)))
    net.hybridize()
    net(mx.nd.zeros((1, 3, side, side)))
    net.export(str(cache / name))


def time_rows(framework, models, batches, train_batches, repeat, cache):
    """(In a pinned child) {model: {"inference": {batch: s}, "training": {batch: s}}}."""
    if framework == "mxnet":
        import mxnet as mx
    else:
        import cysym as mx
    import numpy as np

    results = {}
    for name in models:
        prefix = str(cache / name)
        sym, arg_params, aux_params = mx.model.load_checkpoint(prefix, 0)
        net = mx.sym.SoftmaxOutput(sym, name="softmax")
        side = MODELS[name]
        rng = np.random.default_rng(1)
        rows = {"inference": {}, "training": {}}
        for mode, sizes in (("inference", batches), ("training", train_batches)):
            for batch in sizes:
                shape = (batch, 3, side, side)
                train = mode == "training"
                grad_req = {n: ("write" if train and n in arg_params else "null")
                            for n in net.list_arguments()}
                exe = net.simple_bind(mx.cpu(), grad_req=grad_req, data=shape,
                                      softmax_label=(batch,))
                for n, v in arg_params.items():
                    exe.arg_dict[n][:] = v
                for n, v in aux_params.items():
                    exe.aux_dict[n][:] = v
                exe.arg_dict["data"][:] = rng.normal(size=shape).astype(np.float32)
                exe.arg_dict["softmax_label"][:] = rng.integers(0, 1000, batch).astype(np.float32)
                best = float("inf")
                for _ in range(repeat + 1):     # the first call warms up
                    start = time.perf_counter()
                    exe.forward(is_train=train)
                    if train:
                        exe.backward()
                    mx.nd.waitall()
                    best = min(best, time.perf_counter() - start)
                rows[mode][batch] = best
                del exe
        results[name] = rows
        print(f"  {framework}: {name} done", file=sys.stderr, flush=True)
    return results


def _child_env(threads):
    env = dict(os.environ)
    env.update(OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads),
               MKL_NUM_THREADS=str(threads), CYSYM_NUM_THREADS=str(threads))
    return env


def _run_child(python, args, threads):
    command = [python, __file__] + args + ["--pin", str(threads)]
    out = subprocess.run(command, env=_child_env(threads), check=True, stdout=subprocess.PIPE,
                         text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mxnet-python", default="/tmp/mxref/bin/python")
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--batches", nargs="+", type=int, default=[1, 2, 32])
    parser.add_argument("--train-batches", nargs="+", type=int, default=[2, 32])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--only", choices=["mxnet", "cysym"], help=argparse.SUPPRESS)
    parser.add_argument("--export", help=argparse.SUPPRESS)
    parser.add_argument("--pin", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.export:
        export_model(args.export, args.cache)
        return
    if args.only:
        os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:args.pin])
        rows = time_rows(args.only, args.models, args.batches, args.train_batches, args.repeat,
                         args.cache)
        print(json.dumps(rows))
        return

    args.cache.mkdir(parents=True, exist_ok=True)
    for name in args.models:
        if not (args.cache / f"{name}-symbol.json").exists():
            print(f"exporting {name} with MXNet", file=sys.stderr, flush=True)
            subprocess.run([args.mxnet_python, __file__, "--export", name, "--cache",
                            str(args.cache)], check=True)
    common = ["--batches", *map(str, args.batches), "--train-batches", *map(str, args.train_batches),
              "--repeat", str(args.repeat), "--cache", str(args.cache)]
    set_vars = [v for v in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if v in os.environ]
    print(f"# cysym time / MXNet 1.9.1 time, best of {args.repeat} calls x {args.rounds} rounds; "
          f"OpenBLAS variables {'set: ' + ', '.join(set_vars) if set_vars else 'unset'}")
    print("| model | mode | batch | threads | MXNet ms | cysym ms | ratio |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for threads in args.threads:
        for name in args.models:
            best = {}
            for _ in range(args.rounds):
                for framework, python in (("mxnet", args.mxnet_python), ("cysym", sys.executable)):
                    rows = _run_child(python, common + ["--models", name, "--only", framework],
                                      threads)[name]
                    for mode, times in rows.items():
                        for batch, seconds in times.items():
                            key = (framework, mode, batch)
                            best[key] = min(best.get(key, seconds), seconds)
            for mode in ("inference", "training"):
                for batch in (args.batches if mode == "inference" else args.train_batches):
                    reference, ours = best[("mxnet", mode, str(batch))], best[("cysym", mode, str(batch))]
                    print(f"| {name} | {mode} | {batch} | {threads} | {reference * 1e3:.1f} | "
                          f"{ours * 1e3:.1f} | {ours / reference:.2f} |", flush=True)


if __name__ == "__main__":
    main()
