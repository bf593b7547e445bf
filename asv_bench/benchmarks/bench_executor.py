"""Bound executors: the per-op cost of the run loop, whole training steps, and the memory plan.

Run without asv:  PYTHONPATH=.:asv_bench python3 -m benchmarks.bench_executor
"""
import numpy as np

import cysym as mx

from .common import best_of


def seed_mlp():
    net = mx.sym.Variable("data")
    net = mx.sym.FullyConnected(net, name="fc1", num_hidden=128)
    net = mx.sym.Activation(net, name="relu1", act_type="relu")
    net = mx.sym.FullyConnected(net, name="fc2", num_hidden=64)
    net = mx.sym.Activation(net, name="relu2", act_type="relu")
    net = mx.sym.FullyConnected(net, name="fc3", num_hidden=10)
    return mx.sym.SoftmaxOutput(net, name="softmax")


def deep_mlp(layers, hidden):
    net = mx.sym.Variable("data")
    for i in range(layers):
        net = mx.sym.FullyConnected(net, num_hidden=hidden, name=f"fc{i}")
        net = mx.sym.Activation(net, act_type="relu", name=f"relu{i}")
    net = mx.sym.FullyConnected(net, num_hidden=10, name="head")
    return mx.sym.SoftmaxOutput(net, name="softmax")


def lenet():
    net = mx.sym.Variable("data")
    net = mx.sym.Convolution(net, kernel=(5, 5), num_filter=20, name="conv1")
    net = mx.sym.Activation(net, act_type="tanh")
    net = mx.sym.Pooling(net, pool_type="max", kernel=(2, 2), stride=(2, 2))
    net = mx.sym.Convolution(net, kernel=(5, 5), num_filter=50, name="conv2")
    net = mx.sym.Activation(net, act_type="tanh")
    net = mx.sym.Pooling(net, pool_type="max", kernel=(2, 2), stride=(2, 2))
    net = mx.sym.Flatten(net)
    net = mx.sym.FullyConnected(net, num_hidden=500, name="fc1")
    net = mx.sym.Activation(net, act_type="tanh")
    net = mx.sym.FullyConnected(net, num_hidden=10, name="fc2")
    return mx.sym.SoftmaxOutput(net, name="softmax")


NETWORKS = {
    "seed-mlp b32": (seed_mlp, {"data": (32, 784)}),
    "mlp-20 b64": (lambda: deep_mlp(20, 256), {"data": (64, 256)}),
    "lenet b64": (lenet, {"data": (64, 1, 28, 28)}),
}


def _bound(name, grad_req="write"):
    make, shapes = NETWORKS[name]
    exe = make().simple_bind(mx.cpu(), grad_req=grad_req, **shapes)
    rng = np.random.default_rng(0)
    for arg, array in exe.arg_dict.items():
        array[:] = rng.integers(0, 10, array.shape) if arg.endswith("label") else rng.normal(0, 0.05, array.shape)
    return exe




class PerOpOverhead:
    """A deep, narrow MLP with tiny layers (batch 1, 8 units): almost all of a step is the
    framework's cost, not arithmetic.  Reported per kernel call, beside the same kernel calls
    run back to back by the plan loop alone."""

    def setup(self):
        self.exe = deep_mlp(64, 8).simple_bind(mx.cpu(), data=(1, 8))
        self.exe.arg_dict["softmax_label"][:] = 3
        self.plan = self.exe._plan
        self.calls = len(self.plan)

    def _step(self):
        self.exe.forward(is_train=True)
        self.exe.backward()

    def time_train_step(self):
        self._step()

    def track_overhead_ns_per_op(self):
        """(executor step - the same calls in the bare plan loop) / number of calls."""
        step = best_of(self._step, number=200)
        loop = best_of(lambda: self.plan.run(0, -1, True), number=200)
        return (step - loop) / self.calls * 1e9

    def track_ns_per_op_including_kernel(self):
        return best_of(self._step, number=200) / self.calls * 1e9

    track_overhead_ns_per_op.unit = "ns"
    track_ns_per_op_including_kernel.unit = "ns"


class TrainStep:
    params = [list(NETWORKS)]
    param_names = ["network"]

    def setup(self, network):
        self.exe = _bound(network)

    def time_forward_backward(self, network):
        self.exe.forward(is_train=True)
        self.exe.backward()


class MemoryPlan:
    params = [list(NETWORKS), ["training", "inference"]]
    param_names = ["network", "bind"]

    def setup(self, network, bind):
        self.stats = _bound(network, "write" if bind == "training" else "null").memory_stats()

    def track_planned_over_lower_bound(self, network, bind):
        return self.stats["planned_bytes"] / self.stats["lower_bound_bytes"]

    def track_planned_over_naive(self, network, bind):
        return self.stats["planned_bytes"] / self.stats["naive_bytes"]

    def track_planned_bytes(self, network, bind):
        return self.stats["planned_bytes"]

    track_planned_bytes.unit = "bytes"


if __name__ == "__main__":
    overhead = PerOpOverhead()
    overhead.setup()
    print(f"per-op overhead beyond the plan loop: {overhead.track_overhead_ns_per_op():.0f} ns "
          f"({overhead.calls} calls per step); whole step per call: "
          f"{overhead.track_ns_per_op_including_kernel():.0f} ns")
    for network in NETWORKS:
        for bind in ("training", "inference"):
            bench = MemoryPlan()
            bench.setup(network, bind)
            print(f"{network:<14} {bind:<10} planned/lower bound "
                  f"{bench.track_planned_over_lower_bound(network, bind):.3f}  planned/naive "
                  f"{bench.track_planned_over_naive(network, bind):.3f}  planned "
                  f"{bench.track_planned_bytes(network, bind):,} bytes")
