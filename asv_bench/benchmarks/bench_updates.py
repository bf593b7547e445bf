"""The fused optimizer updates on 1M float32 weights, beside the same update written as NumPy
expressions (what a pure-NumPy trainer runs) and a copy of the weights (a memory floor).

Run without asv:  PYTHONPATH=.:asv_bench python3 -m benchmarks.bench_updates
"""
import functools

import numpy as np

import cysym
from cysym._ops import load
from cysym.ndarray_ops import invoke

from .common import best_of

SIZE = 1 << 20


def _numpy_sgd_momentum(w, g, mom, lr=0.01, momentum=0.9, wd=1e-4):
    mom *= momentum
    mom -= lr * (g + wd * w)
    w += mom


def _numpy_adam(w, g, mean, var, lr=0.001, beta1=0.9, beta2=0.999, epsilon=1e-8):
    mean *= beta1
    mean += (1 - beta1) * g
    var *= beta2
    var += (1 - beta2) * g * g
    w -= lr * mean / (np.sqrt(var) + epsilon)


class Updates:
    params = [["sgd_momentum", "adam"]]
    param_names = ["rule"]

    def setup(self, rule):
        rng = np.random.default_rng(0)
        self.w, self.g, self.a, self.b = (rng.standard_normal(SIZE).astype(np.float32) for _ in range(4))
        self.b = np.abs(self.b)
        optim = load("optim")
        if rule == "adam":
            self.fused = lambda: optim.adam_update(self.w, self.g, self.a, self.b, 0.001)
            self.numpy = lambda: _numpy_adam(self.w, self.g, self.a, self.b)
        else:
            self.fused = lambda: optim.sgd_update(self.w, self.g, 0.01, wd=1e-4, mom=self.a, momentum=0.9)
            self.numpy = lambda: _numpy_sgd_momentum(self.w, self.g, self.a)

    def time_fused(self, rule):
        self.fused()

    def track_over_numpy(self, rule):
        return best_of(self.fused) / best_of(self.numpy)

    def track_over_copy(self, rule):
        copy = np.empty_like(self.w)
        return best_of(self.fused) / best_of(lambda: np.copyto(copy, self.w))


class ImperativeSgdUpdate:
    """mx.nd.sgd_update(w, g, lr=..., out=w) on one 256 x 256 float32 weight, as a training loop
    calls it per parameter and step: the direct path (the fused loop on the caller's arrays)
    beside the one-op executor every other mx.nd call runs through (copies in and out)."""
    params = [["direct", "executor"]]
    param_names = ["path"]

    def setup(self, path):
        rng = np.random.default_rng(0)
        self.w, self.g = (rng.standard_normal((256, 256)).astype(np.float32).view(cysym.nd.NDArray)
                          for _ in range(2))
        call = cysym.nd.sgd_update if path == "direct" else functools.partial(invoke, "sgd_update")
        self.update = lambda: call(self.w, self.g, lr=0.01, wd=0.0, out=self.w)

    def time_update(self, path):
        self.update()


class ModuleUpdate:
    """Module.update after a backward pass of a 20-layer MLP (42 parameters; SGD with momentum):
    one kernel call for every parameter (optimizer.SGDStep), beside the updater called per
    parameter (what it ran before, and still runs for the other optimizers).  Width 8 shows the
    cost per parameter beyond the arithmetic, width 256 the peer benchmark's layers."""
    params = [["one_call", "per_parameter"], [8, 256]]
    param_names = ["path", "width"]

    def setup(self, path, width):
        h = cysym.sym.Variable("data")
        for i in range(20):
            h = cysym.sym.Activation(cysym.sym.FullyConnected(h, num_hidden=width, name=f"fc{i}"),
                                     act_type="relu")
        net = cysym.sym.SoftmaxOutput(cysym.sym.FullyConnected(h, num_hidden=10, name="out"), name="softmax")
        self.module = cysym.mod.Module(net, context=cysym.cpu())
        self.module.bind(data_shapes=[("data", (16, width))], label_shapes=[("softmax_label", (16,))])
        self.module.init_params(cysym.init.Xavier())
        self.module.init_optimizer(optimizer="sgd", optimizer_params={"learning_rate": 0.01, "momentum": 0.9})
        if path == "per_parameter":
            self.module._update_in_one_call = lambda: False

    def time_update(self, path, width):
        self.module.update()


if __name__ == "__main__":
    for width in ModuleUpdate.params[1]:
        times = {}
        for path in ModuleUpdate.params[0]:
            module_update = ModuleUpdate()
            module_update.setup(path, width)
            times[path] = best_of(module_update.module.update, number=50)
        print(f"Module.update, 42 parameters of width {width}: one call {times['one_call'] * 1e6:.1f} us, "
              f"per parameter {times['per_parameter'] * 1e6:.1f} us")
    bench = Updates()
    for rule in Updates.params[0]:
        bench.setup(rule)
        print(f"{rule:<13} {best_of(bench.fused) * 1e6:6.0f} us: {bench.track_over_numpy(rule):.2f}x NumPy's "
              f"expressions, {bench.track_over_copy(rule):.2f}x a copy of the weights")
    imperative = ImperativeSgdUpdate()
    for path in ImperativeSgdUpdate.params[0]:
        imperative.setup(path)
        print(f"mx.nd.sgd_update 256x256, {path:<8}: {best_of(imperative.update) * 1e6:6.1f} us")
