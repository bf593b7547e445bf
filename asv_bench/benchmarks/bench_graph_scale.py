"""Load, shape inference and bind of very large graphs from small JSON files: each step must be
linear in the graph's size (issue 15: a 191-byte SliceChannel file bound for more than five
minutes, a 10^5-node chain took 24 s). The target is under 2 s for each graph in all.

`time_load_infer_bind` is the whole path a user takes (`sym.load_json`, `infer_shape`,
`simple_bind`); the `time_*` steps on their own show which one grows.  tests/test_graph_scale.py
counts what makes them linear (one visit per node and kind per inference, and one rule call per
distinct operator, parameters and known values; one inference of each kind per bind; one walk
of the graph per symbol).

CPU seconds, best of 3, on the shared 2-core machine, 2026-11-30; "before" is the same
benchmark on 0e01324 in the same run, the two trees alternating (`python3
asv_bench/benchmarks/bench_graph_scale.py [graph ...]` runs these functions in one process;
with PYTHONPATH at the tree measured, under `chrt -f 10`).  Load average 7 to 9: the figures
move by a third from run to run (an earlier run at load 6 gave the chain 7.3 -> 3.6 s).

    graph                    step                  0e01324     now
    chain-100000             load                  1.6-1.8     0.9-1.0
                             infer_shape           0.75-0.9    0.3-0.4
                             simple_bind           6.1         3.5
                             load_infer_bind       8.8         5.5-5.8
    slice-65536-one-head     load_infer_bind       0.9-1.0     0.9
    slice-65536-every-head   load_infer_bind       1.3-1.7     1.0-1.3
    add_n-8000-arguments     load_infer_bind       1.35-1.5    0.8-1.0
                             with gradients        2.9-3.1     2.4-2.5

(The first session's chain took 26 s, and bind() of 8,000 arguments given by name 5.6 s while
bind's name checks scanned lists.)

What made the chain faster: inference calls a rule once per distinct (operator, parameters,
known values), not per node; load_json parses each (operator, attributes) once and the nodes
alike share the parameters; bind lays out nodes of one layout from what it worked out once;
the objects a pass with the collector paused leaves go to the oldest generation without a
young collection walking each of them.  What is left is a constant per node in Python: on
this loaded machine about 9 us to load (2 of them json.loads), 3 us per inference (bind infers
shapes and dtypes), and about 25 us for the rest of simple_bind, laying out the entries and
appending the kernel calls: the elemwise kernels' own entry points take about 6 us of it, the
memory planner 2-3 and the bind-time fusion pass 1-2 (cProfile proportions).  The 2 s target
is not met for the chain.
"""
import json

import cysym as mx


def _chain_json(n_nodes):
    """x -> (+1, relu) repeated: n_nodes operators, one input."""
    nodes = [{"op": "null", "name": "x", "inputs": []}]
    for i in range(n_nodes):
        if i % 2:
            nodes.append({"op": "relu", "name": f"relu{i}", "inputs": [[i, 0, 0]]})
        else:
            nodes.append({"op": "_plus_scalar", "name": f"plus{i}", "attrs": {"scalar": "1"},
                          "inputs": [[i, 0, 0]]})
    return json.dumps({"nodes": nodes, "arg_nodes": [0], "heads": [[n_nodes, 0, 0]]}), {"x": (2, 3)}


def _slice_json(num_outputs, all_heads):
    """One SliceChannel of num_outputs outputs (the file is a few hundred bytes), with one head or
    every output as a head."""
    heads = [[1, i, 0] for i in range(num_outputs)] if all_heads else [[1, 0, 0]]
    graph = {"nodes": [{"op": "null", "name": "x", "inputs": []},
                       {"op": "SliceChannel", "name": "split", "attrs": {"num_outputs": str(num_outputs)},
                        "inputs": [[0, 0, 0]]}],
             "arg_nodes": [0], "heads": heads}
    return json.dumps(graph), {"x": (2, num_outputs)}


def _sum_json(num_args):
    """add_n of num_args variables, each also doubled as a head: a graph as wide as it is long."""
    nodes = [{"op": "null", "name": f"v{i}", "inputs": []} for i in range(num_args)]
    nodes.append({"op": "add_n", "name": "sum", "attrs": {"num_args": str(num_args)},
                  "inputs": [[i, 0, 0] for i in range(num_args)]})
    nodes += [{"op": "_mul_scalar", "name": f"double{i}", "attrs": {"scalar": "2"}, "inputs": [[i, 0, 0]]}
              for i in range(num_args)]
    heads = [[num_args, 0, 0]] + [[num_args + 1 + i, 0, 0] for i in range(num_args)]
    graph = {"nodes": nodes, "arg_nodes": list(range(num_args)), "heads": heads}
    return json.dumps(graph), {f"v{i}": (2, 3) for i in range(num_args)}


GRAPHS = {
    "chain-100000": lambda: _chain_json(100_000),
    "add_n-8000-arguments": lambda: _sum_json(8_000),
    "slice-65536-one-head": lambda: _slice_json(65_536, False),
    "slice-65536-every-head": lambda: _slice_json(65_536, True),
}


class LargeGraph:
    params = [list(GRAPHS)]
    param_names = ["graph"]
    timeout = 600

    def setup(self, graph):
        self.text, self.shapes = GRAPHS[graph]()
        self.symbol = mx.sym.load_json(self.text)

    def time_load_infer_bind(self, graph):
        symbol = mx.sym.load_json(self.text)
        symbol.infer_shape(**self.shapes)
        symbol.simple_bind(mx.cpu(), grad_req="null", **self.shapes)

    def time_load(self, graph):
        mx.sym.load_json(self.text)

    def time_infer_shape(self, graph):
        self.symbol.infer_shape(**self.shapes)

    def time_simple_bind(self, graph):
        self.symbol.simple_bind(mx.cpu(), grad_req="null", **self.shapes)

    def time_simple_bind_with_gradients(self, graph):
        """The backward graph too: its nodes are inferred once, the forward ones not again."""
        self.symbol.simple_bind(mx.cpu(), grad_req="write", **self.shapes)

    def track_json_bytes(self, graph):
        return len(self.text)


if __name__ == "__main__":
    import sys
    import time

    def _best_cpu_seconds(function, repeats=3):
        best = float("inf")
        for _ in range(repeats):
            start = time.process_time()
            function()
            best = min(best, time.process_time() - start)
        return best

    for name in sys.argv[1:] or list(GRAPHS):
        bench = LargeGraph()
        bench.setup(name)
        for step in ("time_load", "time_infer_shape", "time_simple_bind", "time_load_infer_bind"):
            seconds = _best_cpu_seconds(lambda: getattr(bench, step)(name))
            print(f"{name:24s} {step:22s} {seconds:6.2f} s", flush=True)
