"""Load, shape inference and bind of very large graphs from small JSON files: each step must be
linear in the graph's size (issue 15: a 191-byte SliceChannel file bound for more than five
minutes, a 10^5-node chain took 24 s). The target is under 2 s for each graph in all.

`time_load_infer_bind` is the whole path a user takes (`sym.load_json`, `infer_shape`,
`simple_bind`); the `time_*` steps on their own show which one grows.  tests/test_graph_scale.py
counts what makes them linear (one rule call per node and kind per inference, one inference of
each kind per bind, one walk of the graph per symbol).

CPU seconds of time_load_infer_bind on the shared 2-core machine under a load of 7 to 10
(wall times were 2-4x these), 2026-11-30:

    graph                     before       after
    chain-100000              26.2         ~9 (load 1.7, infer_shape 1.5, simple_bind ~6)
    slice-65536-one-head                   1.0
    slice-65536-every-head                 1.4
    add_n-8000-arguments                   1.4 (simple_bind with gradients: 3.3)

(Executor bind() of 8,000 arguments given by name, with gradients, took 5.6 s while bind's
name checks scanned lists; 2.6 s since.)

What is left on the chain is a constant per node in Python (about 15 us to load, 10 to infer
shapes, 10 to infer dtypes, 40 to lay out and append the kernel calls, on this loaded machine);
the 2 s target is not met for it.
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
