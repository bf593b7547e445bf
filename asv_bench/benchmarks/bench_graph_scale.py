"""Load, shape inference and bind of very large graphs from small JSON files: each step must be
linear in the graph's size (issue 15: a 191-byte SliceChannel file bound for more than five
minutes, a 10^5-node chain took 24 s). The target is under 2 s for each graph in all.

`time_load_infer_bind` is the whole path a user takes (`sym.load_json`, `infer_shape`,
`simple_bind`); the `time_*` steps on their own show which one grows.
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


GRAPHS = {
    "chain-100000": lambda: _chain_json(100_000),
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

    def track_json_bytes(self, graph):
        return len(self.text)
