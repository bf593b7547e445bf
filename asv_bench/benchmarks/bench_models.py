"""Whole image classifiers (Gluon's model zoo rebuilt with cysym.sym, see model_zoo.py): inference
at batch 1, 2 and 32 and a training step (forward + backward, SoftmaxOutput loss, no update) at
batch 2 and 32.

time_*   one call of the bound executor; setup builds, binds and fills the arrays.
track_*  the convolution and dense layers' arithmetic rate, and that rate as a fraction of the
         FMA peak measured in the same process:
  - FLOPs: 2 multiply-adds per weight use, counted from the bound shapes, for Convolution and
    FullyConnected only (BatchNorm, activations, pooling and the loss are left out).  A training
    step counts the forward, the weight gradient and the data gradient of every layer except the
    first (its input needs no gradient), i.e. about 3x the forward.
  - Peak: the best rate of a 1024 x 1024 x 1024 float32 GEMM over about a second, run by
    cysym (`dot`: SciPy's OpenBLAS, split over the same kernel threads as the model), probed
    before and after the model is timed, the larger of the two: the FMA rate that this
    machine's BLAS attains right now, not the CPU's nominal peak.  Model and probe run with
    whatever OPENBLAS_CORETYPE the run has.
MemoryPlan.track_planned_over_lower_bound  the bound executor's arena over the peak-live lower
         bound of its buffers (workspaces count in both; the issue's goal: within 1.05x).

Input sizes: Gluon's (224, Inception v3 299), except where one call would take more than ~10 s
on a 2-core machine (a time_* benchmark runs setup and at least two calls, then calls for 10 s
more; every class here allows asv 600 s instead of its default 60): those rows run at the
smaller side given in REDUCED_SIDE (asv's row names do not show it; the table printed by main
marks them "@side").  The last pooling of Inception v3 and DenseNet-121 is global, so the
networks accept those sizes.

Every row runs at 1 and 2 kernel threads (mx.set_num_threads).

Run without asv:  PYTHONPATH=.:asv_bench python3 -m benchmarks.bench_models [--quick]
[--threads N] [model ...]  (--quick: only the smallest batch of each mode; --threads: the kernel
threads, default mx.get_num_threads())
"""
import json
import math
import sys
import time

import numpy as np

import cysym as mx

from .model_zoo import MODELS

INFERENCE_BATCHES = [1, 2, 32]
TRAINING_BATCHES = [2, 32]
THREADS = [1, 2]

# (model, "inference" | "training", batch): the input side used instead of Gluon's, chosen so
# that one call takes at most ~10 s with one OpenBLAS thread on the 2-core development machine
# while it was shared (extrapolated from batch 1 and 2 by the square of the side)
REDUCED_SIDE = {
    ("resnet18_v1", "training", 32): 160,
    ("resnet50_v1", "training", 32): 112,
    ("mobilenetv2_1.0", "training", 32): 160,
    ("vgg11_bn", "inference", 32): 128,
    ("vgg11_bn", "training", 32): 64,
    ("inceptionv3", "inference", 32): 187,
    ("inceptionv3", "training", 32): 107,
    ("densenet121", "inference", 32): 160,
    ("densenet121", "training", 32): 96,
}


def input_side(model, mode, batch):
    return REDUCED_SIDE.get((model, mode, batch), MODELS[model][1])


def _init_arrays(exe, rng):
    """He-uniform weights, unit BatchNorm, integer labels: activations stay in range, no NaN.
    Drawn in float32 straight into the bound arrays (VGG's 133 M weights in well under a second)."""
    for name, array in exe.arg_dict.items():
        if name == "softmax_label":
            array[:] = rng.integers(0, 1000, array.shape)
        elif name.endswith("_gamma"):
            array[:] = 1
        elif name.endswith(("_beta", "_bias")):
            array[:] = 0
        else:
            # uniform on [-limit, limit): variance 2 / fan_in for weights, 1 for the data
            limit = math.sqrt(6 / math.prod(array.shape[1:])) if name.endswith("_weight") else math.sqrt(3)
            rng.random(out=array, dtype=np.float32)
            array *= 2 * limit
            array -= limit
    for name, array in exe.aux_dict.items():
        array[:] = 1 if name.endswith("_var") else 0


def bind(model, mode, batch):
    """(executor, FLOPs per call) for one benchmark row."""
    side = input_side(model, mode, batch)
    net = MODELS[model][0]()
    data_shape = (batch, 3, side, side)
    if mode == "training":
        grad_req = {name: "write" for name in net.list_arguments() if name not in ("data", "softmax_label")}
    else:
        grad_req = "null"
    exe = net.simple_bind(mx.cpu(), grad_req=grad_req, data=data_shape)
    _init_arrays(exe, np.random.default_rng(0))
    return exe, layer_flops(net, data_shape, training=mode == "training")


def layer_flops(net, data_shape, training):
    """2 x the multiply-adds of every Convolution and FullyConnected of `net` at this input."""
    internals = net.get_internals()
    _, out_shapes, _ = internals.infer_shape(data=data_shape)
    out_shape = dict(zip(internals.list_outputs(), out_shapes))
    arg_shapes, _, _ = net.infer_shape(data=data_shape)
    arg_shape = dict(zip(net.list_arguments(), arg_shapes))
    nodes = json.loads(net.tojson())["nodes"]
    total = 0
    for node in nodes:
        if node["op"] not in ("Convolution", "FullyConnected"):
            continue
        # out.size x (input channels per group x kernel size), the weight's trailing dimensions
        forward = 2 * math.prod(out_shape[node["name"] + "_output"]) * math.prod(arg_shape[node["name"] + "_weight"][1:])
        total += forward
        if training:
            source = nodes[node["inputs"][0][0]]
            needs_data_grad = not (source["op"] == "null" and source["name"] == "data")
            total += forward * (2 if needs_data_grad else 1)
    return total


def best_time(call, budget=2.0, min_calls=2, max_calls=20):
    """The fastest of several calls (after one warm-up), calling until `budget` seconds pass."""
    call()
    best, calls, start = float("inf"), 0, time.perf_counter()
    while calls < min_calls or (calls < max_calls and time.perf_counter() - start < budget):
        begin = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - begin)
        calls += 1
    return best


def fma_peak_gflops(n=1024):
    """The best float32 GEMM rate of cysym's GEMM path over about a second, at the kernel
    threads in effect (see the module docstring)."""
    exe = mx.sym.dot(mx.sym.Variable("a"), mx.sym.Variable("b")).simple_bind(
        mx.cpu(), grad_req="null", a=(n, n), b=(n, n))
    rng = np.random.default_rng(0)
    for array in exe.arg_dict.values():
        array[:] = rng.standard_normal(array.shape)
    seconds = best_time(exe.forward, budget=1.0, min_calls=5)
    return 2 * n ** 3 / seconds / 1e9


def _step(exe, mode):
    if mode == "training":
        exe.forward(is_train=True)
        exe.backward()
    else:
        exe.forward(is_train=False)


def _label(model, mode, batch):
    side = input_side(model, mode, batch)
    return model if side == MODELS[model][1] else f"{model} @{side}"


class _Threads:
    """Sets the kernel threads of a row (asv runs each benchmark in a process of its own)."""
    # A batch-32 row takes up to ~10 s a call (REDUCED_SIDE); asv's setup, calibration and
    # samples, or a track_'s three calls and two peak probes, pass asv's default 60 s.
    timeout = 600

    def _threads(self, threads):
        self._before = mx.get_num_threads()
        mx.set_num_threads(threads)

    def teardown(self, *params):
        mx.set_num_threads(self._before)


class Inference(_Threads):
    params = (list(MODELS), INFERENCE_BATCHES, THREADS)
    param_names = ["model", "batch", "threads"]

    def setup(self, model, batch, threads):
        self._threads(threads)
        self.exe, _ = bind(model, "inference", batch)

    def time_forward(self, model, batch, threads):
        self.exe.forward(is_train=False)


class TrainingStep(_Threads):
    params = (list(MODELS), TRAINING_BATCHES, THREADS)
    param_names = ["model", "batch", "threads"]

    def setup(self, model, batch, threads):
        self._threads(threads)
        self.exe, _ = bind(model, "training", batch)

    def time_forward_backward(self, model, batch, threads):
        self.exe.forward(is_train=True)
        self.exe.backward()


class _Throughput(_Threads):
    mode = None

    def setup(self, model, batch, threads):
        self._threads(threads)
        self.exe, self.flops = bind(model, self.mode, batch)

    def _gflops(self):
        return self.flops / best_time(lambda: _step(self.exe, self.mode)) / 1e9

    def track_gflops(self, model, batch, threads):
        return self._gflops()

    def track_fraction_of_fma_peak(self, model, batch, threads):
        # the peak probed before and after: on a shared machine one probe can land in a slow spell
        before = fma_peak_gflops()
        rate = self._gflops()
        return rate / max(before, fma_peak_gflops())

    track_gflops.unit = "GFLOP/s"
    track_fraction_of_fma_peak.unit = "fraction"


class MemoryPlan:
    """The arena over the peak-live lower bound (workspaces count in both), per model and row."""
    params = (list(MODELS), [f"inference {b}" for b in INFERENCE_BATCHES]
              + [f"training {b}" for b in TRAINING_BATCHES])
    param_names = ["model", "row"]
    timeout = 120

    def track_planned_over_lower_bound(self, model, row):
        mode, batch = row.split()
        exe, _ = bind(model, mode, int(batch))
        return planned_over_lower_bound(exe)
    track_planned_over_lower_bound.unit = "ratio"


def planned_over_lower_bound(exe):
    stats = exe.memory_stats()
    return stats["planned_bytes"] / stats["lower_bound_bytes"]


class InferenceThroughput(_Throughput):
    params = (list(MODELS), INFERENCE_BATCHES, THREADS)
    param_names = ["model", "batch", "threads"]
    mode = "inference"


class TrainingThroughput(_Throughput):
    params = (list(MODELS), TRAINING_BATCHES, THREADS)
    param_names = ["model", "batch", "threads"]
    mode = "training"


def main(argv):
    """Print one row per model, mode and batch.  The peak is probed before every row; each
    row's fraction is of the best probe so far."""
    quick = "--quick" in argv
    argv = [arg for arg in argv if arg != "--quick"]
    if "--threads" in argv:
        at = argv.index("--threads")
        mx.set_num_threads(int(argv[at + 1]))
        del argv[at:at + 2]
    models = argv or list(MODELS)
    print(f"kernel threads: {mx.get_num_threads()}")
    probes = [fma_peak_gflops()]
    print(f"{'model (@ reduced side)':<24} {'mode':<10} {'batch':>5} {'ms':>10} {'GFLOP':>8} {'GFLOP/s':>8} {'of peak':>8} {'plan/bound':>10}")
    for model in models:
        for mode, batches in (("inference", INFERENCE_BATCHES), ("training", TRAINING_BATCHES)):
            for batch in batches[:1] if quick else batches:
                exe, flops = bind(model, mode, batch)
                seconds = best_time(lambda: _step(exe, mode))
                plan_ratio = planned_over_lower_bound(exe)
                del exe
                probes.append(fma_peak_gflops())
                rate = flops / seconds / 1e9
                print(f"{_label(model, mode, batch):<24} {mode:<10} {batch:>5} {seconds * 1e3:>10.1f} "
                      f"{flops / 1e9:>8.2f} {rate:>8.1f} {rate / max(probes):>8.2f} {plan_ratio:>10.3f}", flush=True)
    print(f"sgemm 1024^3 peak probes: {min(probes):.1f} to {max(probes):.1f} GFLOP/s")


if __name__ == "__main__":
    main(sys.argv[1:])
