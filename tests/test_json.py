"""MXNet's JSON graph format: the MXNet 1.9.1 fixtures, old keys, every op, and bad files."""
import json
import os
import signal
from contextlib import contextmanager

import numpy as np
import pytest

import cysym as mx
from cysym.base import JSONFormatError, MXNetError
from cysym.registry import all_ops
from cysym.symbol import json_format
from cysym.symbol.symbol import create_op

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures", "mxnet")
with open(os.path.join(FIXTURES, "manifest.json")) as _f:
    MANIFEST = json.load(_f)["networks"]
NETS = sorted(MANIFEST)


# -- the builders of tests/fixtures/mxnet/README.md ------------------------------------------

def build_mlp2():
    net = mx.sym.FullyConnected(mx.sym.Variable("data"), num_hidden=16, name="fc1")
    net = mx.sym.Activation(net, act_type="tanh")
    net = mx.sym.FullyConnected(net, num_hidden=7, no_bias=True, name="fc2")
    return mx.sym.SoftmaxOutput(net, name="softmax", normalization="batch")


def build_lenet():
    net = mx.sym.Convolution(mx.sym.Variable("data"), kernel=(3, 3), num_filter=4, pad=(1, 1), name="conv1")
    net = mx.sym.Activation(net, act_type="relu")
    net = mx.sym.Pooling(net, pool_type="max", kernel=(2, 2), stride=(2, 2))
    net = mx.sym.Convolution(net, kernel=(3, 3), num_filter=6, stride=(1, 1), name="conv2")
    net = mx.sym.BatchNorm(net, fix_gamma=False, name="bn1")
    net = mx.sym.Activation(net, act_type="sigmoid")
    net = mx.sym.Pooling(net, pool_type="avg", kernel=(2, 2), stride=(2, 2))
    net = mx.sym.Flatten(net)
    net = mx.sym.FullyConnected(net, num_hidden=10, name="fc1")
    net = mx.sym.Activation(net, act_type="relu")
    net = mx.sym.FullyConnected(net, num_hidden=4, name="fc2")
    return mx.sym.SoftmaxOutput(net, name="softmax")


def build_arith():
    a, b, c = mx.sym.Variable("a"), mx.sym.Variable("b"), mx.sym.Variable("c")
    net = ((a + b) * 2.5 - mx.sym.broadcast_mul(a, c.reshape((1, 3, 4)))) / (b ** 2 + 1)
    return mx.sym.MakeLoss(net.sum(axis=1))


def build_compose():
    net1 = mx.sym.FullyConnected(mx.sym.Variable("data"), num_hidden=6, name="fc1")
    net2 = mx.sym.FullyConnected(mx.sym.Variable("data"), num_hidden=5, name="fc2")
    net2 = mx.sym.LeakyReLU(net2, act_type="leaky", slope=0.1)
    composed = net2(data=net1, name="composed")
    emb = mx.sym.Embedding(mx.sym.Variable("tokens"), input_dim=9, output_dim=5, name="embed")
    net = mx.sym.Concat(composed, emb, dim=1, name="concat")
    return mx.sym.LinearRegressionOutput(net, name="lro")


def build_multi():
    shared_w = mx.sym.Variable("shared_w")
    fa = mx.sym.FullyConnected(mx.sym.Variable("data"), weight=shared_w, num_hidden=3, name="fca")
    fb = mx.sym.FullyConnected(mx.sym.Variable("data2"), weight=shared_w, num_hidden=3, name="fcb")
    return mx.sym.Group([mx.sym.LogisticRegressionOutput(fa, name="logistic"),
                         mx.sym.MAERegressionOutput(fb, name="mae")])


BUILDERS = {"mlp2": build_mlp2, "lenet": build_lenet, "arith": build_arith,
            "compose": build_compose, "multi": build_multi}


def load_fixture(net):
    return mx.sym.load(os.path.join(FIXTURES, MANIFEST[net]["symbol_file"]))


@contextmanager
def time_limit(seconds):
    """Fail instead of hanging (the loader must reject absurd sizes quickly)."""
    def on_alarm(signum, frame):
        raise AssertionError(f"took more than {seconds} s")
    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


# -- MXNet 1.9.1 fixtures ---------------------------------------------------------------------

def test_manifest_lists_the_five_nets():
    assert NETS == ["arith", "compose", "lenet", "mlp2", "multi"]


@pytest.mark.parametrize("net", NETS)
def test_fixture_lists_match_mxnet(net):
    sym = load_fixture(net)
    expected = MANIFEST[net]
    assert sym.list_arguments() == expected["list_arguments"]
    assert sym.list_outputs() == expected["list_outputs"]
    assert sym.list_auxiliary_states() == expected["list_auxiliary_states"]
    assert sym.get_internals().list_outputs() == expected["internals_list_outputs"]


@pytest.mark.parametrize("net", NETS)
def test_fixture_infer_shape_matches_mxnet(net):
    sym = load_fixture(net)
    expected = MANIFEST[net]["infer_shape"]
    kwargs = {k: tuple(v) for k, v in MANIFEST[net]["infer_shape_kwargs"].items()}
    arg_shapes, out_shapes, aux_shapes = sym.infer_shape(**kwargs)
    assert dict(zip(sym.list_arguments(), arg_shapes)) == {
        k: tuple(v) for k, v in expected["arg_shapes"].items()}
    assert out_shapes == [tuple(s) for s in expected["out_shapes"]]
    assert dict(zip(sym.list_auxiliary_states(), aux_shapes)) == {
        k: tuple(v) for k, v in expected["aux_shapes"].items()}
    # the list order is list_arguments() order, as MXNet returns it
    assert list(expected["arg_shapes"]) == sym.list_arguments()


@pytest.mark.parametrize("net", NETS)
def test_fixture_infer_type_matches_mxnet(net):
    sym = load_fixture(net)
    expected = MANIFEST[net]["infer_type_float32"]
    arg_types, out_types, aux_types = sym.infer_type(
        **{k: np.float32 for k in MANIFEST[net]["infer_shape_kwargs"]})
    assert [np.dtype(t).name for t in arg_types] == [expected["arg_types"][a] for a in sym.list_arguments()]
    assert [np.dtype(t).name for t in out_types] == expected["out_types"]
    assert [np.dtype(t).name for t in aux_types] == [
        expected["aux_types"][a] for a in sym.list_auxiliary_states()]


def test_arith_without_c_is_incomplete_as_in_mxnet():
    sym = load_fixture("arith")
    record = MANIFEST["arith"]["infer_shape_without_c"]
    kwargs = {k: tuple(v) for k, v in record["kwargs"].items()}
    assert record["infer_shape_returns_all_none"]
    assert sym.infer_shape(**kwargs) == (None, None, None)
    arg_shapes, out_shapes, aux_shapes = sym.infer_shape_partial(**kwargs)
    partial = record["infer_shape_partial"]
    assert dict(zip(sym.list_arguments(), arg_shapes)) == {
        k: tuple(v) for k, v in partial["arg_shapes"].items()}
    assert out_shapes == [tuple(s) for s in partial["out_shapes"]]
    assert aux_shapes == []


@pytest.mark.parametrize("net", NETS)
def test_fixture_tojson_is_byte_identical(net):
    sym = load_fixture(net)
    assert sym.tojson() == MANIFEST[net]["tojson"]
    with open(os.path.join(FIXTURES, MANIFEST[net]["symbol_file"]), encoding="utf-8") as f:
        assert f.read() == MANIFEST[net]["tojson"]


@pytest.mark.parametrize("net", NETS)
def test_fixture_built_from_code_gives_mxnet_json(net):
    with mx.name.NameManager():
        sym = BUILDERS[net]()
    assert sym.tojson() == MANIFEST[net]["tojson"]
    assert sym.list_arguments() == MANIFEST[net]["list_arguments"]


@pytest.mark.parametrize("net", NETS)
def test_fixture_save_then_load(net, tmp_path):
    sym = load_fixture(net)
    path = tmp_path / f"{net}-symbol.json"
    sym.save(str(path))
    assert path.read_text(encoding="utf-8") == MANIFEST[net]["tojson"]
    again = mx.sym.load(str(path))
    assert again.tojson() == MANIFEST[net]["tojson"]
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".tmp-")]


def test_loaded_json_keeps_pooling_workspace_output_hidden():
    # MXNet's max Pooling has a hidden second output: node_row_ptr counts it, users do not see it
    sym = load_fixture("lenet")
    graph = json.loads(sym.tojson())
    pool = [i for i, n in enumerate(graph["nodes"]) if n["name"] == "pooling0"][0]
    row = graph["node_row_ptr"]
    assert row[pool + 1] - row[pool] == 2
    assert "pooling0_workspace" not in sym.get_internals().list_outputs()


# -- older format keys --------------------------------------------------------------------------

def _old_format(json_text, key):
    graph = json.loads(json_text)
    for node in graph["nodes"]:
        if "attrs" in node:
            node[key] = node.pop("attrs")
    graph.pop("attrs")
    return json.dumps(graph)


@pytest.mark.parametrize("key", ["attr", "param"])
@pytest.mark.parametrize("net", ["lenet", "arith"])
def test_older_attr_and_param_keys_are_accepted(net, key):
    sym = mx.sym.load_json(_old_format(MANIFEST[net]["tojson"], key))
    assert sym.tojson() == MANIFEST[net]["tojson"]


def test_param_and_attr_keys_are_merged_with_attrs_winning():
    graph = {
        "nodes": [
            {"op": "null", "name": "data", "inputs": []},
            {"op": "null", "name": "fc_weight", "inputs": []},
            {"op": "FullyConnected", "name": "fc", "param": {"num_hidden": "3", "no_bias": "True"},
             "attr": {"ctx_group": "dev1"}, "attrs": {"num_hidden": "5"},
             "inputs": [[0, 0, 0], [1, 0, 0]]},
        ],
        "heads": [[2, 0, 0]],
    }
    sym = mx.sym.load_json(json.dumps(graph))
    assert sym.attr("num_hidden") == "5"
    assert sym.attr("no_bias") == "True"
    assert sym.attr("ctx_group") == "dev1"
    assert sym.infer_shape(data=(2, 7))[1] == [(2, 5)]


def test_load_json_accepts_bytes():
    sym = mx.sym.load_json(MANIFEST["mlp2"]["tojson"].encode("utf-8"))
    assert sym.list_outputs() == ["softmax_output"]


# -- every registered operator through JSON ----------------------------------------------------

# A small valid value for every required parameter (by name), and extra ones per op.
@mx.operator.register("test_json_identity")
class IdentityProp(mx.operator.CustomOpProp):
    def create_operator(self, ctx, shapes, dtypes):
        return mx.operator.CustomOp()


REQUIRED_VALUES = {
    "op_type": "test_json_identity", "num_hidden": 5, "begin": 0, "end": 2, "reps": (2, 1),
    "repeats": 2, "dtype": "float64", "depth": 4, "nsize": 3, "scale": 2, "sample_type": "nearest",
    "act_type": "tanh", "kernel": (3, 2), "num_filter": 4, "num_args": 2,
    "num_outputs": 3, "input_dim": 7, "output_dim": 6, "a_min": -0.5, "a_max": 2.0, "axis": 1,
    "heads": 2, "block_size": 2, "mode": "constant", "pad_width": (0, 0, 0, 0, 1, 2, 2, 1),
    "shape": (4, 3),
    "start": 1.0, "stop": 4.0, "num": 4, "value": 1.5, "N": 3,   # init ops
    "state_size": 3, "num_layers": 2,   # RNN
    "pooled_size": (2, 3), "spatial_scale": 0.0625, "key": "sbn0",   # ROI ops, SyncBatchNorm
    "threshold": 0.5,   # bipartite matching
    "low": 0, "high": 5, "range_max": 8,   # _random_randint, _sample_unique_zipfian
    "transform_type": "affine", "sampler_type": "bilinear", "output_size": (4, 3),   # spatial ops
    "lr": 0.1, "eta": 1.0, "t": 2, "wd": 0.01, "lrs": (0.1,), "wds": (0.0,), "etas": (1.0,),
    "eps": 1e-8, "num_arrays": 2, "learning_rates": (0.1,), "step_count": (1,),   # optimizer updates
    "indices": (0, 2),   # _split_v2
    "alpha": (0.1, 0.2, 0.3), "x": 1, "y": 0, "width": 2, "height": 3,   # image ops
    "min_factor": 0.5, "max_factor": 1.5, "brightness": 0.1, "contrast": 0.2, "saturation": 0.3,
    "hue": 0.1,   # random image transforms
    "group_size": 2,   # DeformablePSROIPooling
}
EXTRA_PARAMS = {
    "Reshape": {"shape": (0, -1)},
    "RNN": {"mode": "lstm", "bidirectional": True, "state_outputs": True, "p": 0.2},
    "Pooling": {"kernel": (2, 3), "pool_type": "avg"},
    "_plus_scalar": {"scalar": 2.5}, "transpose": {"axes": (1, 0, 2)},
    "sum": {"axis": (1,), "keepdims": True}, "LeakyReLU": {"act_type": "prelu"},
    "_contrib_PSROIPooling": {"pooled_size": 3},   # an int here, (h, w) for the other ROI ops
    "_contrib_DeformablePSROIPooling": {"pooled_size": 3},
    "multi_all_finite": {"num_arrays": 2},
}


def visible_ops():
    return [op for op in all_ops() if not op.hidden]


def make_op(op, name):
    params = {k: REQUIRED_VALUES[k] for k, p in op.params.items() if p.required}
    params.update(EXTRA_PARAMS.get(op.name, {}))
    if op.variadic:
        inputs = [mx.sym.Variable(f"{name}_in{i}") for i in range(params[op.variadic])]
        return mx.sym.__dict__[op.name](*inputs, name=name, **params)
    function = getattr(mx.sym, op.name, None) or getattr(mx.sym._internal, op.name)
    if not op.input_names(op.parse_params(params)):   # _zeros: no inputs
        return function(name=name, **params)
    return function(mx.sym.Variable(f"{name}_in"), name=name, **params)


def test_every_required_parameter_has_a_test_value():
    missing = sorted({f"{op.name}.{k}" for op in visible_ops() for k, p in op.params.items()
                      if p.required and k not in REQUIRED_VALUES})
    assert missing == []


def test_there_are_many_operators_to_round_trip():
    names = {op.name for op in visible_ops()}
    for expected in ("FullyConnected", "Convolution", "Pooling", "BatchNorm", "SoftmaxOutput",
                     "Reshape", "Concat", "SliceChannel", "Embedding", "dot", "transpose",
                     "sum", "mean", "max", "min", "elemwise_add", "broadcast_add",
                     "_plus_scalar", "clip", "zeros_like", "ones_like", "expand_dims",
                     "LeakyReLU", "Dropout", "MakeLoss", "BlockGrad", "Flatten", "softmax",
                     "log_softmax", "LinearRegressionOutput", "LogisticRegressionOutput",
                     "MAERegressionOutput", "Activation"):
        assert expected in names


@pytest.mark.parametrize("op", visible_ops(), ids=lambda op: op.name)
def test_every_operator_round_trips_through_json(op):
    with mx.name.NameManager():
        sym = make_op(op, "node")
    text = sym.tojson()
    graph = json.loads(text)
    assert graph["nodes"][-1]["op"] == op.name
    again = mx.sym.load_json(text)
    assert again.tojson() == text
    assert again.list_arguments() == sym.list_arguments()
    assert again.list_outputs() == sym.list_outputs()
    assert again.list_auxiliary_states() == sym.list_auxiliary_states()
    assert again.attr_dict() == sym.attr_dict()


# The attributes MXNet and Gluon write beside an operator's parameters (MXNet 1.9.1 exports carry
# them on op nodes as well as on variables)
DUNDER_ATTRS = {"__layout__": "NCHW", "__lr_mult__": "0.5", "__wd_mult__": "0.0",
                "__init__": '["zero", {}]', "__dtype__": "0", "__storage_type__": "0",
                "__profiler_scope__": "net:", "__ctx_group__": "dev1", "__force_mirroring__": "True"}


@pytest.mark.parametrize("op", visible_ops(), ids=lambda op: op.name)
def test_every_operator_keeps_mxnet_dunder_attrs(op):
    with mx.name.NameManager():
        sym = make_op(op, "node")
    graph = json.loads(sym.tojson())
    graph["nodes"][-1].setdefault("attrs", {}).update(DUNDER_ATTRS)
    text = json.dumps(graph, indent=2)
    loaded = mx.sym.load_json(text)
    assert loaded.attr_dict()["node"].items() >= DUNDER_ATTRS.items()
    assert json.loads(loaded.tojson())["nodes"][-1]["attrs"] == graph["nodes"][-1]["attrs"]
    assert loaded.list_arguments() == sym.list_arguments()


def test_unknown_operator_names_the_node_and_the_closest_operators():
    text = graph_text([VAR_X, relu("stage1_conv0", (0, 0, 0)) | {"op": "convolution"}], [(1, 0, 0)])
    with pytest.raises(JSONFormatError) as info:
        mx.sym.load_json(text)
    message = str(info.value)
    assert "node 1 ('stage1_conv0')" in message
    assert "unknown operator 'convolution'" in message
    assert "closest registered: Convolution" in message
    with pytest.raises(mx.base.OperatorError, match="closest registered: FullyConnected"):
        create_op("FullyConected", mx.sym.Variable("x"), num_hidden=2)


# -- bad files ------------------------------------------------------------------------------------

VAR_X = {"op": "null", "name": "x", "inputs": []}


def graph_text(nodes, heads=((0, 0, 0),), **extra):
    graph = {"nodes": list(nodes), "heads": [list(h) if isinstance(h, tuple) else h for h in heads]}
    graph.update(extra)
    return json.dumps(graph)


def relu(name, *inputs):
    return {"op": "relu", "name": name, "inputs": [list(i) for i in inputs]}


BAD_FILES = {
    "truncated": ('{"nodes": [', "not valid JSON"),
    "garbage": ("this is not json", "not valid JSON"),
    "empty": ("", "not valid JSON"),
    "list at top": ("[1, 2, 3]", "JSON object at the top level"),
    "string at top": ('"nodes"', "JSON object at the top level"),
    "no nodes": ('{"heads": [[0, 0, 0]]}', "'nodes'"),
    "nodes not a list": ('{"nodes": {}, "heads": [[0, 0, 0]]}', "'nodes'"),
    "no heads": (json.dumps({"nodes": [VAR_X]}), "'heads'"),
    "node not an object": (graph_text([5]), "node 0"),
    "name not a string": (graph_text([{"op": "null", "name": 3, "inputs": []}]), "node 0"),
    "op missing": (graph_text([{"name": "x", "inputs": []}]), "node 0"),
    "inputs not a list": (graph_text([{"op": "null", "name": "x", "inputs": {}}]), "'inputs'"),
    "attrs not an object": (graph_text([{"op": "null", "name": "x", "attrs": [1], "inputs": []}]), "'attrs'"),
    "attr value not a string": (graph_text([{"op": "null", "name": "x", "attrs": {"k": [1]}, "inputs": []}]),
                                "attribute 'k'"),
    "unknown op": (graph_text([VAR_X, relu("y", (0, 0, 0)) | {"op": "NoSuchOp"}], [(1, 0, 0)]),
                   "unknown operator 'NoSuchOp'"),
    "hidden op": (graph_text([VAR_X, {"op": "_backward_FullyConnected", "name": "b", "attrs": {"num_hidden": "2"},
                                      "inputs": [[0, 0, 0]] * 3}], [(1, 0, 0)]), "unknown operator"),
    "dangling input": (graph_text([VAR_X, relu("y", (5, 0, 0))], [(1, 0, 0)]), "refers to node 5"),
    "negative input": (graph_text([VAR_X, relu("y", (-1, 0, 0))], [(1, 0, 0)]), "refers to node -1"),
    "self reference": (graph_text([VAR_X, relu("y", (1, 0, 0))], [(1, 0, 0)]), "refers to node 1"),
    "cycle": (graph_text([VAR_X, relu("y", (2, 0, 0)), relu("z", (1, 0, 0))], [(2, 0, 0)]),
              "cyclic"),
    "dangling head": (graph_text([VAR_X], [(10 ** 7, 0, 0)]), "refers to node 10000000"),
    "bad output index": (graph_text([VAR_X, relu("y", (0, 3, 0))], [(1, 0, 0)]), "output 3"),
    "huge output index": (graph_text([VAR_X], [(0, 10 ** 9, 0)]), "output 1000000000"),
    "entry not a list": (graph_text([VAR_X], [5]), "head 0"),
    "entry of strings": (graph_text([VAR_X], [("0", 0, 0)]), "head 0"),
    "entry of floats": (graph_text([VAR_X, relu("y", (0.0, 0, 0))], [(1, 0, 0)]), "input 0"),
    "entry of bools": (graph_text([VAR_X], [(False, 0, 0)]), "head 0"),
    "duplicate variables": (graph_text([VAR_X, VAR_X]), "duplicate name"),
    "duplicate op names": (graph_text([VAR_X, relu("y", (0, 0, 0)), relu("y", (1, 0, 0))], [(2, 0, 0)]),
                           "duplicate name"),
    "variable with inputs": (graph_text([VAR_X, {"op": "null", "name": "v", "inputs": [[0, 0, 0]]}]),
                             "variable cannot have inputs"),
    "too few inputs": (graph_text([VAR_X, {"op": "FullyConnected", "name": "fc", "attrs": {"num_hidden": "4"},
                                           "inputs": [[0, 0, 0]]}], [(1, 0, 0)]), "takes 3 inputs"),
    "missing required param": (graph_text([VAR_X, {"op": "FullyConnected", "name": "fc",
                                                   "inputs": [[0, 0, 0]] * 3}], [(1, 0, 0)]), "num_hidden"),
    "bad param value": (graph_text([VAR_X, {"op": "Activation", "name": "act", "attrs": {"act_type": "swish"},
                                            "inputs": [[0, 0, 0]]}], [(1, 0, 0)]), "act_type"),
    "deeply nested": ("[" * 100000 + "]" * 100000, "not valid JSON"),
    "not utf-8": (b"\xff\xfe{}", "JSON"),
    "variadic count mismatch": (graph_text([VAR_X, {"op": "Concat", "name": "c", "attrs": {"num_args": "3"},
                                                    "inputs": [[0, 0, 0]] * 2}], [(1, 0, 0)]), "num_args"),
    "absurd variadic count": (graph_text([VAR_X, {"op": "Concat", "name": "c", "attrs": {"num_args": "1000000000"},
                                                  "inputs": [[0, 0, 0]]}], [(1, 0, 0)]), "num_args"),
    "absurd output count": (graph_text([VAR_X, {"op": "SliceChannel", "name": "s",
                                                "attrs": {"num_outputs": "1000000000"},
                                                "inputs": [[0, 0, 0]]}], [(1, 0, 0)]), "num_outputs"),
    "absurd shape attr": (graph_text([{"op": "null", "name": "x", "inputs": [],
                                       "attrs": {"__shape__": "(100000000000, 100000000000, 1000000)"}}]),
                          "__shape__"),
    "unparsable shape attr": (graph_text([{"op": "null", "name": "x", "inputs": [],
                                           "attrs": {"__shape__": "(" + "9" * 5000 + ",)"}}]), "__shape__"),
    "negative shape attr": (graph_text([{"op": "null", "name": "x", "inputs": [],
                                         "attrs": {"__shape__": "(2, -3)"}}]), "__shape__"),
    "bad dtype attr": (graph_text([{"op": "null", "name": "x", "inputs": [],
                                    "attrs": {"__dtype__": "99"}}]), "__dtype__"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_json_is_a_clear_error(case):
    text, expected = BAD_FILES[case]
    with time_limit(10), pytest.raises(JSONFormatError) as info:
        mx.sym.load_json(text)
    assert expected in str(info.value)
    assert isinstance(info.value, MXNetError)


def test_too_many_nodes_is_refused_before_building_them():
    text = json.dumps({"nodes": [0] * (json_format.MAX_NODES + 1), "heads": [[0, 0, 0]]})
    with time_limit(10), pytest.raises(JSONFormatError, match="nodes is more than"):
        mx.sym.load_json(text)


def test_bad_file_error_names_the_file(tmp_path):
    path = tmp_path / "broken-symbol.json"
    path.write_text('{"nodes": [', encoding="utf-8")
    with pytest.raises(JSONFormatError, match="broken-symbol.json"):
        mx.sym.load(str(path))
    path.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(JSONFormatError, match="broken-symbol.json"):
        mx.sym.load(str(path))


def test_missing_file_is_an_mxnet_error(tmp_path):
    with pytest.raises(MXNetError, match="cannot read"):
        mx.sym.load(str(tmp_path / "absent-symbol.json"))


def test_load_json_of_a_non_string_is_a_type_error():
    with pytest.raises(TypeError):
        mx.sym.load_json({"nodes": []})


def test_unknown_node_keys_and_top_level_keys_are_ignored():
    # MXNet ignores fields it does not know (e.g. a missing or odd node_row_ptr)
    sym = mx.sym.load_json(graph_text([VAR_X | {"extra": 1}], node_row_ptr="whatever", arg_nodes=[0]))
    assert sym.list_arguments() == ["x"]
