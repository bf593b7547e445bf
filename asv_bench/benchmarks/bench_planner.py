"""The static memory planner on synthetic graphs laid out the way the executor lays them out.

The reference for the arena size is the peak-live lower bound the planner reports (bytes of
the storages live at the busiest op step): ``track_planned_over_lower_bound`` is 1.0 when the
placement is optimal. Graphs are synthetic size patterns (no kernels run), so the numbers do
not depend on the rest of cysym.
"""
import numpy as np

from cysym._ops.planner import memory_plan


def _mlp(hidden, n_layers, classes=10):
    layers, in_dim = [], 784
    for _ in range(n_layers - 1):
        layers += [("fc", (hidden,), hidden * in_dim, 0), ("act", (hidden,), 0, 0)]
        in_dim = hidden
    return layers + [("fc", (classes,), classes * in_dim, 0), ("softmax", (classes,), 0, 0)]


def _lenet():
    return [("conv", (20, 24, 24), 20 * 25, 25 * 576 * 4), ("act", (20, 24, 24), 0, 0),
            ("pool", (20, 12, 12), 0, 0),
            ("conv", (50, 8, 8), 50 * 20 * 25, 500 * 64 * 4), ("act", (50, 8, 8), 0, 0),
            ("pool", (50, 4, 4), 0, 0), ("flatten", (800,), 0, 0),
            ("fc", (500,), 500 * 800, 0), ("act", (500,), 0, 0),
            ("fc", (10,), 5000, 0), ("softmax", (10,), 0, 0)]


def _graph(layers, batch, train, itemsize=4):
    """(entry_bytes, op_inputs, op_outputs, op_inplace, persistent, external) of a sequential net.

    Forward ops, then (train) backward ops in reverse: fc/conv backward reads (dy, x, w) and
    writes (dx, dW, db) with dW, db the user's external gradient arrays; relu forward is in
    place and its backward reads its output; pooling backward reads input and output; the
    softmax output is kept to the end. Convolutions carry a workspace output read by nobody.
    """
    sizes, pers, ext, ins, outs, pairs = [], [], [], [], [], []

    def entry(nbytes, external=False):
        sizes.append(int(nbytes))
        ext.append(external)
        pers.append(False)
        return len(sizes) - 1

    def op(inputs, out_bytes, inplace=(), external_outs=()):
        new = [entry(b, j in external_outs) for j, b in enumerate(out_bytes)]
        ins.append(list(inputs))
        outs.append(new)
        pairs.append(list(inplace))
        return new

    x = entry(batch * 784 * itemsize, True)
    label = entry(batch * itemsize, True)
    saved = []
    for kind, shape, n_param, workspace in layers:
        nbytes = batch * int(np.prod(shape)) * itemsize
        params = ()
        if kind in ("fc", "conv"):
            params = (entry(n_param * itemsize, True), entry(shape[0] * itemsize, True))
            y = op([x, *params], [nbytes] + ([workspace] if workspace else []))[0]
        elif kind in ("act", "flatten"):
            y = op([x], [nbytes], inplace=[(0, 0)])[0]
        elif kind == "pool":
            y = op([x], [nbytes])[0]
        else:                                               # softmax: the kept output
            y = op([x, label], [nbytes], inplace=[(0, 0)])[0]
            pers[y] = True
        saved.append((kind, x, y, params, workspace))
        x = y
    if train:
        grad = None
        for index in range(len(saved) - 1, -1, -1):
            kind, xin, y, params, workspace = saved[index]
            nb = sizes[xin]
            if kind == "softmax":
                grad = op([y, label], [nb])[0]
            elif kind in ("fc", "conv"):
                w, b = params
                first = index == 0
                out_bytes = ([] if first else [nb]) + [sizes[w], sizes[b]]
                param_grads = {len(out_bytes) - 2, len(out_bytes) - 1}
                out_bytes += [workspace] if workspace else []
                res = op([grad, xin, w], out_bytes, external_outs=param_grads)
                if first:
                    break
                grad = res[0]
            elif kind == "act":
                grad = op([grad, y], [nb], inplace=[(0, 0)])[0]
            elif kind == "flatten":
                grad = op([grad], [nb], inplace=[(0, 0)])[0]
            else:
                grad = op([grad, xin, y], [nb])[0]
    return sizes, ins, outs, pairs, pers, ext


def _chain(n_ops, nbytes=4096):
    """n_ops ops in a line, each reading the previous output and none in place: two buffers
    live at a time, and each buffer conflicts with two others only."""
    sizes = [nbytes] * (n_ops + 1)
    pers = [False] * n_ops + [True]
    ext = [True] + [False] * n_ops
    return (sizes, [[k] for k in range(n_ops)], [[k + 1] for k in range(n_ops)],
            [[] for _ in range(n_ops)], pers, ext)


NETS = {"mlp3": (_mlp(128, 3), 32), "mlp20": (_mlp(256, 20), 64), "lenet": (_lenet(), 64),
        "mlp1000": (_mlp(64, 1000), 16)}           # ~8000 entries in training: the speed case
# issue 15's 1e5-node chain: planning must stay near linear in the graph's size
GRAPHS = [f"{net}-{mode}" for net in NETS for mode in ("train", "infer")] + ["chain100000"]


def _make(kind):
    if kind.startswith("chain"):
        return _chain(int(kind[len("chain"):]))
    net, mode = kind.rsplit("-", 1)
    layers, batch = NETS[net]
    return _graph(layers, batch, mode == "train")


class MemoryPlan:
    params = [GRAPHS]
    param_names = ["graph"]

    def setup(self, graph):
        self.args = _make(graph)

    def time_memory_plan(self, graph):
        memory_plan(*self.args, alignment=64)

    def track_planned_over_lower_bound(self, graph):
        plan = memory_plan(*self.args, alignment=64)
        return plan["planned_bytes"] / plan["lower_bound_bytes"]
    track_planned_over_lower_bound.unit = "ratio"

    def track_planned_over_naive(self, graph):
        plan = memory_plan(*self.args, alignment=64)
        return plan["planned_bytes"] / plan["naive_bytes"]
    track_planned_over_naive.unit = "ratio"


if __name__ == "__main__":                          # PYTHONPATH=.:asv_bench python3 -m benchmarks.bench_planner
    import timeit
    bench = MemoryPlan()
    for graph in GRAPHS:
        bench.setup(graph)
        number = 20
        seconds = min(timeit.repeat(lambda: bench.time_memory_plan(graph), number=number,
                                    repeat=3)) / number
        print(f"{graph:14s} entries={len(bench.args[0]):6d} "
              f"planned/lower={bench.track_planned_over_lower_bound(graph):.4f} "
              f"planned/naive={bench.track_planned_over_naive(graph):.3f} "
              f"time={seconds * 1e3:.2f} ms")
