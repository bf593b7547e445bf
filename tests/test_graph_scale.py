"""Loading, shape/type inference and binding are linear in the graph's size (issue 15: a
10^5-node chain took 24 s, with the graph walked and inferred again at every step of a bind).

Counted, not timed, where a count says it: how many times the graph is walked and how many
rule calls inference makes.  One timing test compares two sizes in one process with a
generous bound; the absolute figure is a benchmark (asv_bench/benchmarks/bench_graph_scale.py).
"""
import json
import time

import numpy as np
import pytest

import cysym as mx
from cysym import executor, infer
from cysym.registry import get_op
from cysym.symbol import graph, symbol as symbol_module


def _chain_json(n_nodes):
    """x -> (+1, relu) repeated: n_nodes operators, one input."""
    nodes = [{"op": "null", "name": "x", "inputs": []}]
    for i in range(n_nodes):
        if i % 2:
            nodes.append({"op": "relu", "name": f"relu{i}", "inputs": [[i, 0, 0]]})
        else:
            nodes.append({"op": "_plus_scalar", "name": f"plus{i}", "attrs": {"scalar": "1"},
                          "inputs": [[i, 0, 0]]})
    return json.dumps({"nodes": nodes, "arg_nodes": [0], "heads": [[n_nodes, 0, 0]]})


class _Counts:
    """Calls of the graph walk (topo_order, wherever it is imported), node visits of inference's
    sweeps and calls of the operators' rules, by `rule` ('infer_shape' / 'infer_type')."""

    def __init__(self, monkeypatch):
        self.walks = 0
        self.visits = {"infer_shape": 0, "infer_type": 0}
        self.rule_calls = {"infer_shape": 0, "infer_type": 0}
        walk, sweep, apply_rule = graph.topo_order, infer._sweep, infer._apply_rule

        def counted_walk(heads):
            self.walks += 1
            return walk(heads)

        def counted_sweep(order, index, values, rule, outcomes):
            rule_name = rule[0]
            self.visits[rule_name] += len(order)
            return sweep(order, index, values, rule, outcomes)

        def counted_rule(node, known, num_inputs, rule_name, *args):
            self.rule_calls[rule_name] += 1
            return apply_rule(node, known, num_inputs, rule_name, *args)

        for module in (graph, symbol_module, executor):
            monkeypatch.setattr(module, "topo_order", counted_walk)
        monkeypatch.setattr(infer, "_sweep", counted_sweep)
        monkeypatch.setattr(infer, "_apply_rule", counted_rule)


def _load_infer_bind(n_nodes, shape=(2, 3), grad_req="null"):
    net = mx.sym.load_json(_chain_json(n_nodes))
    net.infer_shape(x=shape)
    net.list_arguments()
    net.list_outputs()
    return net.simple_bind(mx.cpu(), grad_req=grad_req, x=shape)


@pytest.mark.parametrize("n_nodes", [7, 300])
def test_bind_infers_each_node_once_and_walks_the_graph_a_fixed_number_of_times(monkeypatch, n_nodes):
    counts = _Counts(monkeypatch)
    net = mx.sym.load_json(_chain_json(n_nodes))
    net.infer_shape(x=(2, 3))
    net.infer_type(x="float64")
    assert counts.visits == {"infer_shape": n_nodes, "infer_type": n_nodes}
    net.simple_bind(mx.cpu(), grad_req="null", x=(2, 3))
    # simple_bind: the shapes infer_shape found for the same input shape, and one rule call per
    # node for dtypes (float32, not infer_type's float64) (before: four sweeps of each, and the
    # graph walked 21 times)
    assert counts.visits == {"infer_shape": n_nodes, "infer_type": 2 * n_nodes}
    net.simple_bind(mx.cpu(), grad_req="null", x=(3, 2))
    assert counts.visits == {"infer_shape": 2 * n_nodes, "infer_type": 2 * n_nodes}
    # the loaded file lists the nodes in the graph's order: no walk at all (before: one)
    assert counts.walks == 0
    # the loaded chain's nodes are two kinds, each at one shape and dtype: one rule call per
    # kind and inference (infer_shape, infer_type, and the binds' shapes at (3, 2) and
    # dtypes at float32), whatever the length
    assert counts.rule_calls == {"infer_shape": 2 * 2, "infer_type": 2 * 2}


def test_an_inference_is_reused_only_for_the_same_graph_and_inputs(monkeypatch):
    """A symbol keeps its last shape and dtype inference for the next call with the same inputs
    (infer_shape then simple_bind); other input shapes, a variable's __shape__, or an operator's
    attributes changed through a symbol sharing the node, infer again."""
    counts = _Counts(monkeypatch)
    x = mx.sym.Variable("x")
    fc = mx.sym.FullyConnected(x, num_hidden=5, name="fc")
    net = mx.sym.relu(fc)
    assert net.infer_shape(x=(2, 3))[1] == [(2, 5)]
    assert net.infer_shape(x=(2, 3))[1] == [(2, 5)]
    assert counts.visits["infer_shape"] == 2      # the two operators, once
    assert net.infer_shape(x=(4, 3))[1] == [(4, 5)]
    assert counts.visits["infer_shape"] == 4
    fc._set_attr(num_hidden="7")            # the node net shares
    assert net.infer_shape(x=(4, 3))[1] == [(4, 7)]
    assert counts.visits["infer_shape"] == 6
    exe = net.simple_bind(mx.cpu(), grad_req="null", x=(4, 3))
    assert counts.visits["infer_shape"] == 6 and exe.outputs[0].shape == (4, 7)
    x._set_attr(__shape__="(6, 3)")
    assert net.infer_shape()[1] == [(6, 7)]
    assert counts.visits["infer_shape"] == 8
    # the executor adds its own entries to what it is given: the kept inference stays as it was
    assert net.infer_shape(x=(4, 3))[1] == [(4, 7)]
    net.simple_bind(mx.cpu(), grad_req="write", x=(4, 3))
    assert net.infer_shape(x=(4, 3)) == ([(4, 3), (7, 3), (7,)], [(4, 7)], [])


def _count_numberings(monkeypatch):
    """A list that gets one item per EntryIndex numbered from nodes (a loader's is not)."""
    made = []
    number = graph.EntryIndex.__init__

    def counted(self, *args, **kwargs):
        made.append(args[0])
        number(self, *args, **kwargs)
    monkeypatch.setattr(graph.EntryIndex, "__init__", counted)
    return made


@pytest.mark.parametrize("grad_req", ["null", "write"])
def test_entries_are_numbered_once_for_inference_and_bind(monkeypatch, grad_req):
    """Inference and bind read one numbering of the graph's entries: a loaded chain's is the
    loader's; a training bind numbers only the backward nodes it adds after them (for their
    inference, and for the lay-out)."""
    made = _count_numberings(monkeypatch)
    exe = _load_infer_bind(30, grad_req=grad_req)
    if grad_req == "null":
        assert made == []
    else:
        forward = {id(node) for node in exe._symbol._nodes()}
        assert made and not any(id(node) in forward for nodes in made for node in nodes)
    # a composed symbol: numbered at its first inference, then shared
    made.clear()
    net = mx.sym.relu(mx.sym.Variable("x") + 1)
    net.infer_shape(x=(2, 3))
    net.simple_bind(mx.cpu(), grad_req="null", x=(2, 3))
    assert len(made) == 1


def test_a_file_whose_order_is_not_the_graph_order_is_numbered_again(monkeypatch):
    """The loader's numbering follows the file; a file may list nodes in another topological
    order than the graph's depth-first one (here x's branch first, though the sum reads y's
    branch first): the symbol numbers its own entries, and computes the same results."""
    nodes = [{"op": "null", "name": "x", "inputs": []},
             {"op": "null", "name": "y", "inputs": []},
             {"op": "_mul_scalar", "name": "twice", "attrs": {"scalar": "2"}, "inputs": [[0, 0, 0]]},
             {"op": "relu", "name": "r", "inputs": [[1, 0, 0]]},
             {"op": "elemwise_add", "name": "sum", "inputs": [[3, 0, 0], [2, 0, 0]]}]
    text = json.dumps({"nodes": nodes, "arg_nodes": [0, 1], "heads": [[4, 0, 0]]})
    made = _count_numberings(monkeypatch)
    net = mx.sym.load_json(text)
    assert net.list_arguments() == ["y", "x"]
    assert net.infer_shape(x=(2, 3))[0] == [(2, 3), (2, 3)]
    assert len(made) == 1 and [n.name for n in made[0]] == ["y", "r", "x", "twice", "sum"]
    exe = net.simple_bind(mx.cpu(), grad_req="null", x=(2, 3))
    x, y = np.arange(6.0).reshape(2, 3), np.arange(-3.0, 3.0).reshape(2, 3)
    out = exe.forward(x=x, y=y)[0].asnumpy()
    assert np.array_equal(out, np.maximum(y, 0) + 2 * x) and len(made) == 1


def _random_graph_json(rng, n_nodes):
    """A file of n_nodes variables and add_n nodes reading earlier nodes at random (some twice),
    with one to three heads: nodes in a topological order, not always the graph's."""
    nodes = []
    for position in range(n_nodes):
        if position == 0 or rng.random() < 0.25:
            nodes.append({"op": "null", "name": f"v{position}", "inputs": []})
            continue
        count = int(rng.integers(1, 4))
        nodes.append({"op": "add_n", "name": f"n{position}", "attrs": {"num_args": str(count)},
                      "inputs": [[int(rng.integers(position)), 0, 0] for _ in range(count)]})
    heads = [[int(rng.integers(n_nodes)), 0, 0] for _ in range(int(rng.integers(1, 4)))]
    return json.dumps({"nodes": nodes, "arg_nodes": [], "heads": heads})


def test_a_file_in_the_graph_order_is_not_walked_and_any_other_is():
    """load_json keeps the file's order as the symbol's when the depth-first walk would meet
    the nodes in that order (checked in one pass over the inputs): for every file MXNet (or
    tojson) writes, and for no other (checked against the walk on random graphs)."""
    rng = np.random.default_rng(15)
    kept = 0
    for _ in range(600):
        net = mx.sym.load_json(_random_graph_json(rng, int(rng.integers(1, 20))))
        walked = graph.topo_order(net._outputs)
        if net._order is not None:
            kept += 1
            assert list(map(id, net._order)) == list(map(id, walked))
        again = mx.sym.load_json(net.tojson())      # nodes in the walk's order
        assert again._order is not None and [n.name for n in again._order] == [n.name for n in walked]
    assert 0 < kept < 600
    # an input read directly and through another input listed after it (x * f(x)): in order
    x = mx.sym.relu(mx.sym.Variable("x"))
    assert mx.sym.load_json((x * mx.sym.sigmoid(x)).tojson())._order is not None
    # its variables, found as the nodes are read: auxiliary states too (a variable read both
    # ways is an auxiliary state, as the walk finds)
    data = mx.sym.Variable("data")
    bn = mx.sym.BatchNorm(mx.sym.FullyConnected(data, num_hidden=4, name="fc"), name="bn")
    shared = mx.sym.Variable("shared")
    net = mx.sym.Group([bn, mx.sym.BatchNorm(data, moving_mean=shared, gamma=shared, name="bn2")])
    loaded = mx.sym.load_json(net.tojson())
    assert loaded._order is not None and loaded._variable_nodes is not None
    assert loaded.list_arguments() == net.list_arguments()
    assert loaded.list_auxiliary_states() == net.list_auxiliary_states()
    assert "shared" in net.list_auxiliary_states()


def test_a_kernel_that_keeps_its_bind_context_keeps_its_own(monkeypatch):
    """Bind hands every kernel one context, its fields set per node; a kernel that keeps it (in
    a closure, say) keeps what it was given: the next node gets another."""
    relu = get_op("relu")
    bind_relu, kept = relu.kernel, []
    monkeypatch.setattr(relu, "map_call", None)     # (bind would make relu's map call itself)

    def keeping(b):
        kept.append(b)
        bind_relu(b)
    monkeypatch.setattr(relu, "kernel", keeping)
    x = mx.sym.Variable("x")
    net = mx.sym.relu(mx.sym.relu(x, name="first") - 1, name="second") * 3
    exe = net.simple_bind(mx.cpu(), grad_req="null", x=(2, 3))
    assert [b.node.name for b in kept] == ["first", "second"]
    assert [b.inputs[0].shape for b in kept] == [(2, 3), (2, 3)] and kept[0].plan is kept[1].plan
    data = np.arange(-3.0, 3.0).reshape(2, 3)
    assert np.array_equal(exe.forward(x=data)[0].asnumpy(), 3 * np.maximum(np.maximum(data, 0) - 1, 0))


def test_bind_makes_the_map_calls_the_kernels_would(monkeypatch):
    """An element-wise op's map call (OpDef.map_call), which bind makes itself in a graph of
    float arrays, appends what its kernel function does: the same calls, the same numbers,
    forward and backward."""
    x, y = mx.sym.Variable("x"), mx.sym.Variable("y")
    net = mx.sym.clip(mx.sym.relu(x + 1.5) * y, a_min=0.25, a_max=4.0, name="limit")
    net = mx.sym.Activation(mx.sym.broadcast_add(net, mx.sym.hard_sigmoid(y)), act_type="tanh") ** 2

    def bound(dtype):
        exe = net.simple_bind(mx.cpu(), grad_req="write", type_dict={"x": dtype, "y": dtype},
                              x=(2, 3), y=(2, 3))
        exe.arg_dict["x"][:] = np.arange(-3.0, 3.0).reshape(2, 3)
        exe.arg_dict["y"][:] = np.linspace(-1.0, 2.0, 6).reshape(2, 3)
        exe.forward(is_train=True)
        exe.backward(np.ones((2, 3), dtype))
        return exe._plan.labels, [a.asnumpy() for a in exe.outputs + exe.grad_arrays]

    mapped = [op for op in {id(op): op for op in map(get_op, mx.registry._REGISTRY)}.values()
              if op.map_call is not None]
    assert {"relu", "clip", "Activation", "_plus_scalar", "elemwise_mul", "_backward_unary"} <= \
        {op.name for op in mapped}
    for dtype in (np.float32, np.float64):
        made = bound(dtype)
        with monkeypatch.context() as patch:
            for op in mapped:
                patch.setattr(op, "map_call", None)
            by_kernels = bound(dtype)
        assert made[0] == by_kernels[0] and len(made[0]) > 10
        assert all(np.array_equal(a, b) for a, b in zip(made[1], by_kernels[1]))


def test_a_bind_that_no_pass_changes_makes_no_entry_dicts(monkeypatch):
    """Bind lays the entries out from inference's lists; the dicts keyed by (id(node), output)
    are made for the passes that read them (here autodiff's)."""
    made, as_dict = [], infer._as_dict
    monkeypatch.setattr(infer, "_as_dict", lambda index, values: made.append(len(values)) or as_dict(index, values))
    net = mx.sym.load_json(_chain_json(40))
    exe = net.simple_bind(mx.cpu(), grad_req="null", x=(2, 3))
    assert made == [] and exe.outputs[0].shape == (2, 3)
    net.simple_bind(mx.cpu(), grad_req="write", x=(2, 3))
    assert made == [41, 41]


def test_an_entry_dict_is_the_dict_of_its_list():
    index = mx.sym.load_json(_chain_json(4))._entries()
    values = [(2, 3)] * (index.count - 1) + [None]
    entries = infer.EntryDict(index, list(values))
    assert entries.values() == values[:-1] and entries.of(index) == values
    assert entries[index.keys[0]] == (2, 3) and index.keys[0] in entries
    assert index.keys[-1] not in entries and entries.get(index.keys[-1]) is None
    entries[index.keys[-1]] = (5,)
    assert entries.of(index) == values[:-1] + [(5,)] == list(entries.dict().values())
    assert entries.dict() == dict(zip(index.keys, values[:-1] + [(5,)]))
    other = mx.sym.load_json(_chain_json(4))._entries()
    assert infer.EntryDict(index, list(values)).of(other) == [None] * other.count


def test_training_bind_infers_the_backward_nodes_only_once(monkeypatch):
    counts = _Counts(monkeypatch)
    n_nodes = 40
    exe = _load_infer_bind(n_nodes, grad_req="write")
    backward_ops = len(exe._node_calls) - exe._forward_count
    assert exe._forward_count == n_nodes and backward_ops > 0
    # infer_shape (which simple_bind reuses), then its backward nodes: each node once
    assert counts.visits["infer_shape"] == n_nodes + backward_ops
    assert counts.visits["infer_type"] == n_nodes + backward_ops
    # the forward and backward graphs twice (who reads what, then the order of every node);
    # the forward graph is in file order
    assert counts.walks == 2
    exe.forward(is_train=True, x=mx.nd.ones((2, 3)))
    exe.backward(mx.nd.ones((2, 3)))
    # d/dx of relu(x + 1) chains: 1 where every intermediate is positive (x = 1 here)
    assert (exe.grad_dict["x"].asnumpy() == 1).all()


def test_a_wide_node_is_visited_once(monkeypatch):
    """A 4,096-output SliceChannel whose every output is a head: one rule call for its shapes
    and one for its dtypes, whatever the number of outputs."""
    counts = _Counts(monkeypatch)
    count = 4096
    graph_json = {"nodes": [{"op": "null", "name": "x", "inputs": []},
                            {"op": "SliceChannel", "name": "s", "attrs": {"num_outputs": str(count)},
                             "inputs": [[0, 0, 0]]}],
                  "arg_nodes": [0], "heads": [[1, i, 0] for i in range(count)]}
    exe = mx.sym.load_json(json.dumps(graph_json)).simple_bind(mx.cpu(), grad_req="null", x=(3, count))
    assert len(exe.outputs) == count and exe.outputs[-1].shape == (3, 1)
    assert counts.visits == {"infer_shape": 1, "infer_type": 1}


def test_nodes_alike_share_a_rule_outcome_only_at_the_same_values():
    """A rule's outcome is shared by nodes of one op and parameters at the same known values;
    the same op at another shape, or with other parameters, gets its own."""
    x, y = mx.sym.Variable("x"), mx.sym.Variable("y")
    net = mx.sym.Group([mx.sym.relu(mx.sym.relu(x)), mx.sym.relu(y),
                        mx.sym.sum(x, axis=0), mx.sym.sum(x, axis=1), mx.sym.sum(y, axis=1)])
    loaded = mx.sym.load_json(net.tojson())
    arg_shapes, out_shapes, _ = loaded.infer_shape(x=(2, 3), y=(5, 4, 7))
    assert arg_shapes == [(2, 3), (5, 4, 7)]
    assert out_shapes == [(2, 3), (5, 4, 7), (3,), (2,), (5, 7)]
    _, out_types, _ = loaded.infer_type(x="float64", y="int32")
    assert out_types == [np.float64, np.int32, np.float64, np.float64, np.int32]


def test_loaded_nodes_alike_share_parsed_parameters_but_not_a_custom_op():
    """Nodes of one op and attributes share their parsed parameters after load_json; a Custom
    node's parameters hold its own CustomOpProp, so each keeps its own."""
    x = mx.sym.Variable("x")
    net = mx.sym.load_json(mx.sym.relu(mx.sym.relu(x + 1) + 1).tojson())
    plus = [n for n in net._nodes() if n.op is not None and n.op.name == "_plus_scalar"]
    assert len(plus) == 2 and plus[0].params is plus[1].params

    @mx.operator.register("scale_graph_scale")
    class ScaleProp(mx.operator.CustomOpProp):
        def list_arguments(self):
            return ["data"]

        def create_operator(self, ctx, shapes, dtypes):
            raise AssertionError("not run")

    twice = mx.sym.Custom(mx.sym.Custom(x, op_type="scale_graph_scale"), op_type="scale_graph_scale")
    custom = [n for n in mx.sym.load_json(twice.tojson())._nodes() if n.op is not None]
    assert len(custom) == 2 and custom[0].params is not custom[1].params
    assert custom[0].params["op_type"] == custom[1].params["op_type"] == "scale_graph_scale"


def test_inference_still_reaches_a_fixed_point_backwards():
    """Settled nodes are skipped, not lost: a shape known only at the end of a chain still
    reaches its input, as before (backward sweeps over the nodes still unsettled)."""
    x = mx.sym.Variable("x")
    y = mx.sym.Variable("y")
    net = mx.sym.relu(mx.sym.relu(x) + 1) + y
    arg_shapes, out_shapes, _ = net.infer_shape(y=(4, 5))
    assert arg_shapes == [(4, 5), (4, 5)] and out_shapes == [(4, 5)]


def test_an_inconsistent_node_is_still_caught_when_its_neighbours_complete_it():
    """A node whose rule first ran with an input unknown runs again once its neighbours make
    it known, even when they complete every entry of the node: a contradiction is an error
    (a second inference at bind used to find it; an infer_shape alone did not)."""
    x = mx.sym.Variable("x")
    fc = mx.sym.FullyConnected(x, num_hidden=5, name="fc")
    # the data's shape comes from x + y, the output's from fc + w: fc_weight contradicts both
    net = mx.sym.Group([fc + mx.sym.Variable("w"), x + mx.sym.Variable("y")])
    shapes = dict(fc_weight=(5, 3), fc_bias=(5,), w=(2, 5), y=(2, 4))
    with pytest.raises(mx.MXNetError, match=r"fc.*weight.*\(5, 3\)"):
        net.infer_shape(**shapes)
    with pytest.raises(mx.MXNetError, match=r"fc.*weight.*\(5, 3\)"):
        net.simple_bind(mx.cpu(), grad_req="null", **shapes)


def _best_time(function, repeats=3):
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        function()
        best = min(best, time.process_time() - start)
    return best


def test_load_infer_bind_time_grows_linearly():
    """4x the nodes may take at most 8x the time (a quadratic step takes 16x).  CPU time, best
    of three, in one process, so that the machine's other work weighs on both sizes alike."""
    small, large = 2_500, 10_000
    _load_infer_bind(small)     # imports and first-call costs out of the way
    ratio = _best_time(lambda: _load_infer_bind(large)) / _best_time(lambda: _load_infer_bind(small))
    assert ratio <= 8, f"{large} nodes took {ratio:.1f}x the time of {small}"


def test_what_a_large_pass_leaves_goes_to_the_oldest_generation():
    """After load_json (a pass with the collector paused) the graph's nodes are not in the young
    generation, which the next collection would walk object by object; a program's own frozen
    objects stay frozen."""
    import gc
    net = mx.sym.load_json(_chain_json(50))
    young = {id(o) for o in gc.get_objects(generation=0)}
    assert not any(id(node) in young for node in net._nodes())
    assert gc.isenabled()
    gc.freeze()
    try:
        count = gc.get_freeze_count()
        mx.sym.load_json(_chain_json(50)).infer_shape(x=(2, 3))
        assert gc.get_freeze_count() == count
    finally:
        gc.unfreeze()


def test_planner_typed_flattening_gives_the_plan_of_the_general_path():
    """memory_plan flattens bind's lists (lists of ints, lists of (int, int) pairs) in typed
    loops; any other form takes the general path, which must plan the same offsets."""
    from cysym._ops.planner import memory_plan
    # x -> a (in place) -> two-output op b reading a twice (not in place), with a workspace ->
    # c reading both outputs of b (in place of the second)
    entry_bytes = [40, 40, 40, 24, 24, 512]
    op_inputs = [[0], [1, 1], [2, 3]]
    op_outputs = [[1], [2, 3, 5], [4]]
    op_inplace = [[(0, 0)], [(0, 1), (1, 0)], [(1, 0)]]
    persistent, external = [False, False, False, False, True, False], [False] * 6
    typed = memory_plan(entry_bytes, op_inputs, op_outputs, op_inplace, persistent, external)
    general = memory_plan(tuple(entry_bytes), [tuple(ins) for ins in op_inputs],
                          [np.asarray(outs) for outs in op_outputs],
                          [[list(pair) for pair in pairs] for pairs in op_inplace],
                          np.asarray(persistent), tuple(external))
    for key in ("offsets", "storage_of"):
        assert np.array_equal(typed[key], general[key]), key
    assert typed["num_in_place"] == general["num_in_place"] == 2
    assert typed["planned_bytes"] == general["planned_bytes"]
    # a pair out of range is still reported by the general path's message
    with pytest.raises(ValueError, match=r"op 2 in-place pair \(2, 0\) is out of range"):
        memory_plan(entry_bytes, op_inputs, op_outputs, op_inplace[:2] + [[(2, 0)]], persistent, external)


def test_loaded_attributes_are_checked_once_per_distinct_set_and_still_refused():
    """load_json checks an operator's "attrs" object only when no earlier node had the same
    attributes; a non-string value is still refused wherever it is."""
    def graph(second_scalar):
        return json.dumps({"nodes": [
            {"op": "null", "name": "x", "inputs": []},
            {"op": "_plus_scalar", "name": "p0", "attrs": {"scalar": "1"}, "inputs": [[0, 0, 0]]},
            {"op": "_plus_scalar", "name": "p1", "attrs": {"scalar": second_scalar}, "inputs": [[1, 0, 0]]}],
            "arg_nodes": [0], "heads": [[2, 0, 0]]})
    net = mx.sym.load_json(graph("1"))
    first, second = [n for n in net._nodes() if n.op is not None]
    assert first.params is second.params and first.attrs == second.attrs == {"scalar": "1"}
    assert first.attrs is not second.attrs     # each node owns its attributes
    for bad in (["1"], {"a": "1"}, None):
        with pytest.raises(mx.MXNetError, match=r"node 2 \('p1'\): attribute 'scalar' must be a string"):
            mx.sym.load_json(graph(bad))


def test_an_inference_bind_without_convolutions_or_batch_norms_fuses_nothing():
    exe = _load_infer_bind(12)
    assert not exe._fused and exe._forward_count == 12 and len(exe._node_calls) == 12
    assert [op for op, _ in exe._call_nodes[:2]] == ["_plus_scalar", "relu"]
    exe.forward(x=-np.ones((2, 3)))
    # relu(x + 1) = 0, then five more (+1, relu) pairs
    assert (exe.outputs[0].asnumpy() == 5).all()
