"""Load, shape inference and bind of very large graphs from small JSON files: each step must be
linear in the graph's size (issue 15: a 191-byte SliceChannel file bound for more than five
minutes, a 10^5-node chain took 24 s). The target is under 2 s for each graph in all.

`time_load_infer_bind` is the whole path a user takes (`sym.load_json`, `infer_shape`,
`simple_bind`); the `time_*` steps on their own show which one grows.  tests/test_graph_scale.py
counts what makes them linear (one visit per node and kind per inference, and one rule call per
distinct operator, parameters and known values; one inference of each kind per bind; one walk
of the graph per symbol).

CPU seconds, best of 3, on the shared 2-core machine, 2026-12-01 (eighth session's helper):
"6592d54" is the tree before this session's work, "now" after it (f99c5dc), the two trees
alternating in one sitting (`python3 asv_bench/benchmarks/bench_graph_scale.py`, each tree's own
copy with the same compiled kernels, under `nice -n 0`), three rounds at a load average of 2.2
to 2.5.  `time_infer_shape` and `time_simple_bind` run on a symbol loaded once;
`time_load_infer_bind` on a new one each run, as a user's first call is.

    graph                    step                  6592d54     now
    chain-100000             load_infer_bind       0.78-0.81   0.64-0.67
    chain-100000             simple_bind           0.42-0.44   0.28-0.29
    chain-100000             load                  0.25-0.26   0.24-0.26
    slice-65536-one-head     load_infer_bind       0.14-0.15   0.12-0.13
    slice-65536-every-head   load_infer_bind       0.21        0.19-0.21
    add_n-8000-arguments     load_infer_bind       0.12        0.12-0.13

Wall times move by a fifth or more with the machine's load (the seventh session measured the
chain of 6592d54's code at 1.59-2.15 s, at a load of 2.6-4.6); instruction counts do not:
`valgrind --tool=cachegrind --cache-sim=no` of the whole path on a 20,000-node chain ((four runs
less one) / 3 per run, PYTHONHASHSEED=0, `setarch -R`, OPENBLAS_NUM_THREADS=1, so that two runs
of one tree agree to the instruction) counts 1.448e9 instructions at 6592d54 and 1.190e9 now
(-18%); simple_bind alone, inferring afresh, 8.70e8 -> 6.43e8 (-26%); load_json 5.18e8 ->
5.05e8, of which json.loads (and freeing what it made) is 2.52e8. Real models' load + infer +
bind are as they were (cachegrind, tests/fixtures/realmodels, two runs): resnet50_v1 6.848e7 ->
6.884e7 / 9.931e7 -> 9.945e7 instructions inference / training, mobilenetv3_large 1.996e8 ->
1.994e8, lstm_1l training 8.80e6 -> 8.85e6: within 1%, up where fusion and autodiff ask the
entries through infer.EntryDict (a Python call per question). The fifth session measured
2.87-2.95 s at a load of 5-6, the fourth 2.18-2.35 s at 7-12; the first session's chain took
26 s, and bind() of 8,000 arguments given by name 5.6 s while bind's name checks scanned lists.

What made the chain faster, over the sessions: inference calls a rule once per distinct
(operator, parameters, known values), not per node; load_json parses and checks each (operator,
attributes) once, and the nodes alike share the parameters; bind lays out nodes of one layout
from what it worked out once; the objects a pass with the collector paused leaves go to the
oldest generation; elemwise.append_unary fills its plan call in place (runner's Plan.reserve);
a symbol keeps its last inference, so simple_bind after infer_shape with the same shapes does
not infer the shapes again; bind counts readers with one bincount, and makes the monitor's and
profiler's lists of calls only when asked; the entries are numbered once per symbol
(cysym.symbol.graph.EntryIndex), and inference keeps what it knows in lists indexed by entry id;
a loaded file in the order of the graph's depth-first walk (every file MXNet writes) is not
walked, and the loader hands the symbol its variables; bind hands every kernel one BindContext.
This session: an element-wise operator declares its map call (OpDef.map_call: elemwise's
unary, scalar, binary and broadcast ops, clip, hard_sigmoid, _backward_unary, Activation),
which bind makes itself in a graph of float32/float64 arrays, without the kernel function and
its context (simple_bind 8.70e8 -> 7.21e8 instructions); the fusion passes and the
dynamic-shape check look at the distinct operators first (graph.operators_of; -> 6.86e8); bind
lays its entries out from inference's lists, the dicts keyed by (id(node), index) that
autodiff, fusion and float16 read being made only when one of them reads them
(infer.EntryDict; -> 6.56e8); bind keeps its entries' labels, shapes and dtypes as three lists
rather than a tuple per entry (-> 6.43e8); a loaded node without attributes finds its operator
facts by the operator's name (load_json 5.18e8 -> 5.05e8).  Tried and taken out:
building each node's layout, arrays and requests in passes in C before the kernel calls (the
seventh session), and this session the lay-out loop's lists made by map/zip passes over every
op node (simple_bind 7.2e8 -> 8.1e8: each pass makes a list of 10^5 objects that the loop did
not), and the loader's check of a one-input reference inline (-1%, a second copy of _reference).

Where the chain's time goes now (`--phases`, two runs at a load of 1.9, 0.52-0.54 s in all):
load_json 0.20-0.23 (json.loads 0.05-0.07, then the Python loop of about 1.5 us a node:
checks, the operator facts' lookup, a Node, its input list and the numbering); bind's lay-out
0.19 (the map calls about 0.07, the layout loop over the op nodes 0.04, the planner 0.02, the
entries' sizes and views 0.02); two inference sweeps 0.06; fusion 0.00.  In instructions,
json.loads is a fifth of the whole and cannot be made smaller from Python; the rest is
Python's cost per node in loops of a few tenths of a microsecond per step, spread over the
loader's loop, the inference sweeps (one rule outcome looked up per node by a key of nested
tuples), the lay-out loop and the plan calls (append_unary parses its eight arguments and
keeps a label per call).
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

    # A symbol keeps its last inference for a call with the same inputs (infer_shape then
    # simple_bind): each step on its own forgets it first, to measure the inference it makes.

    def time_infer_shape(self, graph):
        self.symbol._last_inference = None
        self.symbol.infer_shape(**self.shapes)

    def time_simple_bind(self, graph):
        self.symbol._last_inference = None
        self.symbol.simple_bind(mx.cpu(), grad_req="null", **self.shapes)

    def time_simple_bind_with_gradients(self, graph):
        """The backward graph too: its nodes are inferred once, the forward ones not again."""
        self.symbol._last_inference = None
        self.symbol.simple_bind(mx.cpu(), grad_req="write", **self.shapes)

    def track_json_bytes(self, graph):
        return len(self.text)


def _phase_seconds(text, shapes, repeats=3):
    """CPU seconds of load_json + infer_shape + simple_bind, and {phase: CPU seconds in the
    function that runs it}, of the best of `repeats` runs: where the whole path's time goes."""
    import functools
    import time

    from cysym import executor, fusion, infer
    from cysym._ops import planner
    from cysym.symbol import graph, json_format, symbol

    spent = {}

    def timed(owner, attribute, phase):
        function = getattr(owner, attribute)

        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            start = time.process_time()
            try:
                return function(*args, **kwargs)
            finally:
                spent[phase] = spent.get(phase, 0.0) + time.process_time() - start
        setattr(owner, attribute, wrapper)
        return owner, attribute, function, phase

    wrapped = [timed(json_format, "_load_json", "load_json"),
               timed(json_format.json, "loads", "  of which json.loads"),
               timed(symbol, "topo_order", "graph walk (Symbol._nodes)"),
               timed(graph.EntryIndex, "__init__", "entry numbering (EntryIndex, not a loader's)"),
               timed(infer, "_propagate", "inference sweeps (each kind, each call)"),
               timed(executor.Executor, "_lay_out", "bind's lay-out (entries, planner, kernel calls)"),
               timed(planner, "memory_plan", "  of which the memory planner"),
               timed(fusion, "fuse_for_inference", "fusion pass")]
    try:
        best = None
        for _ in range(repeats):
            spent.clear()
            start = time.process_time()
            net = mx.sym.load_json(text)
            net.infer_shape(**shapes)
            net.simple_bind(mx.cpu(), grad_req="null", **shapes)
            total = time.process_time() - start
            if best is None or total < best[0]:
                best = (total, {phase: spent.get(phase, 0.0) for *_, phase in wrapped})
    finally:
        for owner, attribute, function, _ in wrapped:
            setattr(owner, attribute, function)
    return best


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

    names = [a for a in sys.argv[1:] if a != "--phases"]
    for name in names or list(GRAPHS):
        if "--phases" in sys.argv:
            total, phases = _phase_seconds(*GRAPHS[name]())
            print(f"{name:24s} load + infer_shape + simple_bind {total:6.2f} s")
            for phase, seconds in phases.items():
                print(f"    {phase:48s} {seconds:6.2f} s", flush=True)
            continue
        bench = LargeGraph()
        bench.setup(name)
        for step in ("time_load", "time_infer_shape", "time_simple_bind", "time_load_infer_bind"):
            seconds = _best_cpu_seconds(lambda: getattr(bench, step)(name))
            print(f"{name:24s} {step:22s} {seconds:6.2f} s", flush=True)
