"""The Symbol layer: naming, variables, inspection, attributes, arithmetic, composition, errors."""
import copy
import json
import pickle

import numpy as np
import pytest

import cysym as mx
from cysym.base import MXNetError, OperatorError


def seed_mlp(**fc1_inputs):
    net = mx.sym.Variable("data")
    net = mx.sym.FullyConnected(data=net, name="fc1", num_hidden=128, **fc1_inputs)
    net = mx.sym.Activation(data=net, name="relu1", act_type="relu")
    net = mx.sym.FullyConnected(data=net, name="fc2", num_hidden=64)
    return mx.sym.SoftmaxOutput(data=net, name="out")


def op_names(sym):
    return [node["op"] for node in json.loads(sym.tojson())["nodes"]]


# -- naming -------------------------------------------------------------------------------------

def test_seed_example_arguments():
    net = seed_mlp()
    assert net.list_arguments() == ["data", "fc1_weight", "fc1_bias", "fc2_weight", "fc2_bias", "out_label"]
    assert net.list_outputs() == ["out_output"]
    assert net.list_auxiliary_states() == []
    assert net.name == "out"


def test_seed_variant_with_given_weight():
    net = seed_mlp(weight=mx.sym.Variable("myweight"))
    assert net.list_arguments() == ["data", "myweight", "fc1_bias", "fc2_weight", "fc2_bias", "out_label"]


def test_seed_variant_with_sum_of_inputs():
    lhs, rhs = mx.sym.Variable("lhs"), mx.sym.Variable("rhs")
    with mx.name.NameManager():
        net = mx.sym.FullyConnected(data=lhs + rhs, name="fc1", num_hidden=10)
    assert net.list_arguments() == ["lhs", "rhs", "fc1_weight", "fc1_bias"]
    assert net.get_internals().list_outputs() == ["lhs", "rhs", "_plus0_output", "fc1_weight",
                                                  "fc1_bias", "fc1_output"]
    assert op_names(net)[2] == "elemwise_add"


def test_automatic_names_count_per_operator():
    with mx.name.NameManager():
        x = mx.sym.Variable("x")
        fc_a = mx.sym.FullyConnected(x, num_hidden=3)
        fc_b = mx.sym.FullyConnected(fc_a, num_hidden=5)
        act = mx.sym.Activation(fc_b, act_type="relu")
        concat = mx.sym.Concat(act, act, dim=1)
    assert (fc_a.name, fc_b.name, act.name, concat.name) == (
        "fullyconnected0", "fullyconnected1", "activation0", "concat0")
    assert concat.list_arguments() == ["x", "fullyconnected0_weight", "fullyconnected0_bias",
                                       "fullyconnected1_weight", "fullyconnected1_bias"]


def test_name_manager_restarts_and_restores():
    with mx.name.NameManager():
        first = mx.sym.Activation(mx.sym.Variable("x"), act_type="tanh")
        with mx.name.NameManager():
            inner = mx.sym.Activation(mx.sym.Variable("x"), act_type="tanh")
        second = mx.sym.Activation(mx.sym.Variable("x"), act_type="tanh")
    assert (first.name, inner.name, second.name) == ("activation0", "activation0", "activation1")


def test_prefix_prepends_to_operator_names_not_variables():
    with mx.name.Prefix("net_"):
        data = mx.sym.Variable("data")
        fc = mx.sym.FullyConnected(data, num_hidden=3)
        named = mx.sym.FullyConnected(fc, num_hidden=2, name="out")
    assert fc.name == "net_fullyconnected0"
    assert named.name == "net_out"
    assert named.list_arguments() == ["data", "net_fullyconnected0_weight", "net_fullyconnected0_bias",
                                      "net_out_weight", "net_out_bias"]


def test_names_of_arithmetic_nodes_follow_mxnet():
    with mx.name.NameManager():
        x, y = mx.sym.Variable("x"), mx.sym.Variable("y")
        names = [s.name for s in (x + y, x - y, x * y, x / y, x ** y, x + 1, 1 + x, x - 1, 1 - x,
                                  x * 2, 2 * x, x / 2, 2 / x, x ** 2, 2 ** x, -x)]
    assert names == ["_plus0", "_minus0", "_mul0", "_div0", "_power0", "_plusscalar0", "_plusscalar1",
                     "_minusscalar0", "_rminusscalar0", "_mulscalar0", "_mulscalar1", "_divscalar0",
                     "_rdivscalar0", "_powerscalar0", "_rpower_scalar0", "_mulscalar2"]
    # (MXNet 1.9.1's __rpow__ calls _internal._rpower_scalar, unlike the others' capitalized names)


# -- attributes -----------------------------------------------------------------------------------

def test_attr_scope_attaches_attributes_and_explicit_ones_win():
    with mx.AttrScope(group="4", data="great"):
        data = mx.sym.Variable("data", attr={"dtype": "data", "group": "1"})
        other = mx.sym.Variable("data2")
        fc = mx.sym.FullyConnected(other, num_hidden=3, name="fc")
    plain = mx.sym.Variable("data3")
    assert other.attr("group") == "4"
    assert data.attr("group") == "1"
    assert data.attr("data") == "great"
    assert data.attr("dtype") == "data"
    assert fc.attr("group") == "4"
    assert fc.get_internals()["fc_weight"].attr("group") == "4"
    assert plain.attr("group") is None


def test_attr_scopes_nest():
    with mx.AttrScope(group="4", mood="calm"):
        with mx.AttrScope(group="7"):
            inner = mx.sym.Variable("a")
        outer = mx.sym.Variable("b")
    assert inner.list_attr() == {"group": "7", "mood": "calm"}
    assert outer.list_attr() == {"group": "4", "mood": "calm"}


def test_attr_scope_rejects_non_strings():
    with pytest.raises(ValueError):
        mx.AttrScope(group=4)


def test_hidden_keys_are_stored_with_underscores_as_mxnet():
    # MXNet's tests/python/unittest/test_attr.py
    data = mx.sym.Variable("data", attr={"force_mirroring": "True"}, lr_mult=1)
    assert data.attr("lr_mult") == "1"
    assert data.attr("__lr_mult__") == "1"
    assert data.attr("force_mirroring") == "True"
    assert data.attr("__force_mirroring__") == "True"
    conv = mx.sym.Convolution(data=data, name="conv", kernel=(1, 1), num_filter=1,
                              attr={"__mood__": "so so", "wd_mult": "x"})
    assert {"__mood__": "so so", "wd_mult": "x", "__wd_mult__": "x"}.items() <= conv.list_attr().items()
    assert '"__wd_mult__": "x"' in conv.tojson()
    assert '"wd_mult"' not in conv.tojson()


def test_lr_mult_given_to_an_operator_is_an_attribute():
    conv = mx.sym.Convolution(mx.sym.Variable("data"), name="conv", kernel=(1, 1), num_filter=1, lr_mult=2)
    attrs = conv.attr_dict()
    assert attrs["conv"]["__lr_mult__"] == "2" and attrs["conv"]["lr_mult"] == "2"
    assert attrs["conv_weight"]["__lr_mult__"] == "2"


def test_ctx_group_scope_is_stored_as_mxnet_reads_it():
    with mx.AttrScope(ctx_group="dev1"):
        fc = mx.sym.FullyConnected(mx.sym.Variable("x"), num_hidden=2, name="fc")
    assert fc.attr("__ctx_group__") == "dev1"
    assert fc.attr("ctx_group") == "dev1"


def test_attribute_ending_in_a_hidden_key_is_refused():
    with pytest.raises(MXNetError, match="deprecated"):
        mx.sym.FullyConnected(mx.sym.Variable("x"), num_hidden=2, weight_lr_mult=2)


def test_variable_attributes_as_mxnet_writes_them():
    class Init:
        def dumps(self):
            return '["xavier", {"magnitude": 2}]'
    v = mx.sym.Variable("v", shape=(2, 3, 5), dtype="float64", init=Init(), lr_mult=0.5, wd_mult=2,
                        attr={"mood": "angry"})
    assert v.list_attr() == {
        "mood": "angry", "__shape__": "(2, 3, 5)", "__dtype__": "1",
        "__init__": '["xavier", {"magnitude": 2}]', "__lr_mult__": "0.5", "__wd_mult__": "2",
        "lr_mult": "0.5", "wd_mult": "2"}
    assert mx.sym.Variable("w", dtype=np.int32).attr("__dtype__") == "4"
    assert mx.sym.Variable("w", init='["zero", {}]').attr("__init__") == '["zero", {}]'
    assert mx.sym.var("w", __extra__=7).attr("__extra__") == "7"


def test_variable_shape_and_dtype_feed_inference():
    v = mx.sym.Variable("v", shape=(2, 3), dtype="float64")
    fc = mx.sym.FullyConnected(v, num_hidden=5, name="fc")
    assert fc.infer_shape()[1] == [(2, 5)]
    assert fc.infer_type()[1] == [np.float64]


def test_variable_errors():
    with pytest.raises(TypeError):
        mx.sym.Variable(3)
    with pytest.raises(ValueError, match="double underscores"):
        mx.sym.Variable("v", mood="angry")
    with pytest.raises(MXNetError):
        mx.sym.Variable("v", dtype="complex64")


def test_set_attr_requires_strings():
    v = mx.sym.Variable("v")
    v._set_attr(mood="angry", lr_mult="3")
    assert v.list_attr() == {"mood": "angry", "__lr_mult__": "3", "lr_mult": "3"}
    with pytest.raises(ValueError):
        v._set_attr(mood=3)


def test_attr_dict_covers_every_node_with_attributes():
    net = seed_mlp()
    attrs = net.attr_dict()
    assert attrs["fc1"] == {"num_hidden": "128"}
    assert attrs["relu1"] == {"act_type": "relu"}
    assert "data" not in attrs and "out" not in attrs


def test_attr_of_a_group_is_an_error():
    with pytest.raises(MXNetError):
        mx.sym.Group([mx.sym.Variable("a"), mx.sym.Variable("b")]).attr("x")


# -- inspection -----------------------------------------------------------------------------------

def test_batchnorm_auxiliary_states_and_inputs():
    bn = mx.sym.BatchNorm(mx.sym.Variable("data"), name="bn")
    assert bn.list_arguments() == ["data", "bn_gamma", "bn_beta"]
    assert bn.list_auxiliary_states() == ["bn_moving_mean", "bn_moving_var"]
    assert bn.list_inputs() == ["data", "bn_gamma", "bn_beta", "bn_moving_mean", "bn_moving_var"]
    assert bn.list_outputs() == ["bn_output"]
    internals = bn.get_internals()
    assert internals["bn_moving_var"].attr("__init__") == '["one", {}]'
    assert internals["bn_moving_mean"].attr("__init__") == '["zero", {}]'
    assert mx.sym.BatchNorm(mx.sym.Variable("data"), name="bn2", output_mean_var=True).list_outputs() == [
        "bn2_output", "bn2_mean", "bn2_var"]


def test_batchnorm_aux_inputs_have_version_one_in_json():
    bn = mx.sym.BatchNorm(mx.sym.Variable("data"), name="bn")
    node = json.loads(bn.tojson())["nodes"][-1]
    assert [entry[2] for entry in node["inputs"]] == [0, 0, 0, 1, 1]


def test_get_internals_and_indexing():
    net = seed_mlp()
    internals = net.get_internals()
    assert internals.list_outputs() == ["data", "fc1_weight", "fc1_bias", "fc1_output", "relu1_output",
                                        "fc2_weight", "fc2_bias", "fc2_output", "out_label", "out_output"]
    fc1 = internals["fc1_output"]
    assert fc1.list_outputs() == ["fc1_output"]
    assert fc1.list_arguments() == ["data", "fc1_weight", "fc1_bias"]
    assert internals[4].list_outputs() == ["relu1_output"]
    assert internals[-1].list_outputs() == ["out_output"]
    assert internals[1:3].list_outputs() == ["fc1_weight", "fc1_bias"]
    with pytest.raises(IndexError):
        internals[10]
    with pytest.raises(ValueError, match="cannot find output"):
        internals["nope"]
    with pytest.raises(TypeError):
        internals[1.5]


def test_get_children():
    net = seed_mlp()
    assert net.get_children().list_outputs() == ["fc2_output", "out_label"]
    assert net.get_children()[0].get_children().list_outputs() == ["relu1_output", "fc2_weight", "fc2_bias"]
    assert mx.sym.Variable("x").get_children() is None


def test_group_iteration_and_names():
    a = mx.sym.FullyConnected(mx.sym.Variable("x"), num_hidden=2, name="a")
    b = mx.sym.Activation(mx.sym.Variable("y"), act_type="tanh", name="b")
    group = mx.sym.Group([a, b])
    assert len(group) == 2
    assert [s.name for s in group] == ["a", "b"]
    assert group.name is None
    assert group.list_outputs() == ["a_output", "b_output"]
    assert group.list_arguments() == ["x", "a_weight", "a_bias", "y"]
    assert group["b_output"].name == "b"
    with pytest.raises(TypeError):
        mx.sym.Group([])
    with pytest.raises(TypeError):
        mx.sym.Group([a, 3])


def test_split_outputs():
    parts = mx.sym.SliceChannel(mx.sym.Variable("x"), num_outputs=3, name="split")
    assert parts.list_outputs() == ["split_output0", "split_output1", "split_output2"]
    assert [p.list_outputs()[0] for p in parts] == parts.list_outputs()
    assert parts[1].infer_shape(x=(2, 9, 5))[1] == [(2, 3, 5)]


def test_shared_variable_is_listed_once():
    w = mx.sym.Variable("w")
    a = mx.sym.FullyConnected(mx.sym.Variable("x"), weight=w, num_hidden=3, no_bias=True, name="a")
    b = mx.sym.FullyConnected(a, weight=w, num_hidden=3, no_bias=True, name="b")
    assert b.list_arguments() == ["x", "w"]


def test_repr_and_debug_str():
    net = seed_mlp()
    assert repr(net) == "<Symbol out>"
    assert repr(mx.sym.Group([net, mx.sym.Variable("z")])) == "<Symbol group [out_output, z]>"
    text = net.debug_str()
    assert text.startswith("Symbol Outputs:\n\toutput[0]=out(0)\n")
    assert "Op:FullyConnected, Name=fc1" in text
    assert "\targ[1]=fc1_weight(0) version=0" in text
    assert "\tnum_hidden=128" in text
    assert "Variable:out_label" in text
    bn_text = mx.sym.BatchNorm(mx.sym.Variable("d"), name="bn").debug_str()
    assert "\targ[3]=bn_moving_mean(0) version=1" in bn_text


@pytest.mark.parametrize("make_copy", [copy.copy, copy.deepcopy,
                                       lambda s: pickle.loads(pickle.dumps(s))],
                         ids=["copy", "deepcopy", "pickle"])
def test_copies_are_equal_and_independent(make_copy):
    net = seed_mlp()
    twin = make_copy(net)
    assert twin.tojson() == net.tojson()
    twin._set_attr(mood="changed")
    assert net.attr("mood") is None
    assert twin.attr("mood") == "changed"


# -- composition ---------------------------------------------------------------------------------

def test_compose_by_keyword_replaces_variable_and_renames_head():
    net1 = mx.sym.FullyConnected(mx.sym.Variable("data"), name="fc1", num_hidden=10)
    net1 = mx.sym.FullyConnected(net1, name="fc2", num_hidden=100)
    net2 = mx.sym.FullyConnected(mx.sym.Variable("data2"), name="fc3", num_hidden=10)
    net2 = mx.sym.Activation(net2, act_type="relu", name="act")
    net2 = mx.sym.FullyConnected(net2, name="fc4", num_hidden=20)
    before_json, before_args = net2.tojson(), net2.list_arguments()
    composed = net2(data2=net1, name="composed")
    assert composed.list_arguments() == ["data", "fc1_weight", "fc1_bias", "fc2_weight", "fc2_bias",
                                         "fc3_weight", "fc3_bias", "fc4_weight", "fc4_bias"]
    assert composed.list_outputs() == ["composed_output"]
    assert net2.tojson() == before_json and net2.list_arguments() == before_args
    assert net2.list_outputs() == ["fc4_output"]
    assert composed.infer_shape(data=(3, 7))[1] == [(3, 20)]


def test_compose_seed_example():
    net = seed_mlp()
    net2 = mx.sym.FullyConnected(mx.sym.Variable("raw"), num_hidden=30, name="pre")
    composed = net(data=net2, name="compose")
    assert composed.list_outputs() == ["compose_output"]
    assert composed.list_arguments()[:3] == ["raw", "pre_weight", "pre_bias"]
    assert net.list_arguments()[0] == "data"
    assert net.name == "out"


def test_compose_positionally_is_refused_as_in_mxnet():
    # MXNet 1.9.1 (nnvm symbolic.cc): "General composition only support kwargs for now"
    net = mx.sym.FullyConnected(mx.sym.Variable("data"), num_hidden=4, name="fc")
    with pytest.raises(MXNetError, match="General composition only support kwargs"):
        net(mx.sym.Variable("x"), mx.sym.Variable("shared"))
    composed = net(data=mx.sym.Variable("x"), fc_weight=mx.sym.Variable("shared"))
    assert composed.list_arguments() == ["x", "shared", "fc_bias"]
    assert composed.name == "fc"


def test_compose_errors():
    net = mx.sym.FullyConnected(mx.sym.Variable("data"), num_hidden=4, name="fc")
    with pytest.raises(MXNetError, match="not a free variable"):
        net(nothere=mx.sym.Variable("x"))
    with pytest.raises(TypeError):
        net(data=3)
    with pytest.raises(MXNetError):
        net(data=mx.sym.Group([mx.sym.Variable("a"), mx.sym.Variable("b")]))
    with pytest.raises(TypeError, match="not both"):
        net(mx.sym.Variable("a"), data=mx.sym.Variable("b"))


# -- arithmetic ----------------------------------------------------------------------------------

@pytest.mark.parametrize("expression, op, scalar", [
    (lambda x, y: x + y, "elemwise_add", None), (lambda x, y: x - y, "elemwise_sub", None),
    (lambda x, y: x * y, "elemwise_mul", None), (lambda x, y: x / y, "elemwise_div", None),
    (lambda x, y: x ** y, "_power", None),
    (lambda x, y: x + 2, "_plus_scalar", "2"), (lambda x, y: 2 + x, "_plus_scalar", "2"),
    (lambda x, y: x - 2.5, "_minus_scalar", "2.5"), (lambda x, y: 2.5 - x, "_rminus_scalar", "2.5"),
    (lambda x, y: x * 3, "_mul_scalar", "3"), (lambda x, y: 3 * x, "_mul_scalar", "3"),
    (lambda x, y: x / 4, "_div_scalar", "4"), (lambda x, y: 4 / x, "_rdiv_scalar", "4"),
    (lambda x, y: x ** 2, "_power_scalar", "2"), (lambda x, y: 2 ** x, "_rpower_scalar", "2"),
    (lambda x, y: -x, "_mul_scalar", "-1.0"), (lambda x, y: x + np.float32(0.5), "_plus_scalar", "0.5"),
], ids=["add", "sub", "mul", "div", "pow", "add_s", "radd_s", "sub_s", "rsub_s", "mul_s", "rmul_s",
        "div_s", "rdiv_s", "pow_s", "rpow_s", "neg", "np_scalar"])
def test_arithmetic_uses_mxnet_op_names(expression, op, scalar):
    x, y = mx.sym.Variable("x"), mx.sym.Variable("y")
    result = expression(x, y)
    node = json.loads(result.tojson())["nodes"][-1]
    assert node["op"] == op
    assert node.get("attrs", {}).get("scalar") == scalar
    shape = (2, 3, 5)
    arg_shapes, out_shapes, _ = result.infer_shape(**{a: shape for a in result.list_arguments()})
    assert out_shapes == [shape]


def test_arithmetic_with_unsupported_operands():
    x = mx.sym.Variable("x")
    for bad in ("a", None, True, [1, 2]):
        with pytest.raises(TypeError):
            x + bad
        with pytest.raises(TypeError):
            bad * x


def test_operator_aliases_create_canonical_ops():
    x, y = mx.sym.Variable("x"), mx.sym.Variable("y")
    assert op_names(mx.sym._internal._Plus(x, y))[-1] == "elemwise_add"
    assert op_names(mx.sym.Softmax(x))[-1] == "SoftmaxOutput"
    assert op_names(mx.sym.split(x, num_outputs=2))[-1] == "SliceChannel"
    assert op_names(x.reshape((2, 3)))[-1] == "Reshape"
    with mx.name.NameManager():
        assert mx.sym.Softmax(x).name == "softmax0"
        assert x.reshape((2, 3)).name == "reshape0"


# -- operator creation errors ----------------------------------------------------------------------

def test_unknown_parameter_names_op_and_lists_parameters():
    with pytest.raises(OperatorError) as info:
        mx.sym.FullyConnected(mx.sym.Variable("x"), num_hidden=3, num_hiden=4, name="fc1")
    message = str(info.value)
    assert "FullyConnected(name='fc1')" in message
    assert "'num_hiden'" in message
    for accepted in ("num_hidden", "no_bias", "flatten"):
        assert accepted in message


def test_bad_parameter_value_names_op_and_choices():
    with pytest.raises(OperatorError) as info:
        mx.sym.Activation(mx.sym.Variable("x"), act_type="swish", name="act1")
    message = str(info.value)
    assert "Activation(name='act1')" in message and "'swish'" in message
    for accepted in ("relu", "sigmoid", "tanh", "softrelu", "softsign"):
        assert accepted in message
    with pytest.raises(OperatorError, match="num_hidden"):
        mx.sym.FullyConnected(mx.sym.Variable("x"), num_hidden="many")
    with pytest.raises(OperatorError, match="num_hidden"):
        mx.sym.FullyConnected(mx.sym.Variable("x"), num_hidden=0)
    with pytest.raises(OperatorError, match="num_hidden"):
        mx.sym.FullyConnected(mx.sym.Variable("x"), num_hidden=2.5)
    with pytest.raises(OperatorError, match="no_bias"):
        mx.sym.FullyConnected(mx.sym.Variable("x"), num_hidden=2, no_bias="perhaps")
    with pytest.raises(OperatorError, match="p"):
        mx.sym.Dropout(mx.sym.Variable("x"), p=1.5)


def test_missing_required_parameter():
    with pytest.raises(OperatorError, match="required parameter 'num_hidden'"):
        mx.sym.FullyConnected(mx.sym.Variable("x"))


def test_input_errors():
    x = mx.sym.Variable("x")
    with pytest.raises(OperatorError, match="given twice"):
        mx.sym.FullyConnected(x, data=x, num_hidden=2)
    with pytest.raises(TypeError):
        mx.sym.FullyConnected(data=np.zeros(3), num_hidden=2)
    with pytest.raises(OperatorError, match="group"):
        mx.sym.FullyConnected(mx.sym.Group([x, x]), num_hidden=2)
    with pytest.raises(OperatorError):
        mx.sym.Concat(x, x, num_args=3)


def test_no_bias_drops_the_bias_argument():
    fc = mx.sym.FullyConnected(mx.sym.Variable("x"), num_hidden=2, no_bias=True, name="fc")
    assert fc.list_arguments() == ["x", "fc_weight"]
    conv = mx.sym.Convolution(mx.sym.Variable("x"), kernel=(3, 2), num_filter=4, no_bias=True, name="conv")
    assert conv.list_arguments() == ["x", "conv_weight"]


def test_op_function_signature_and_doc():
    import inspect
    params = inspect.signature(mx.sym.FullyConnected).parameters
    assert list(params)[:3] == ["data", "weight", "bias"]
    assert params["num_hidden"].default is inspect.Parameter.empty
    assert params["no_bias"].default is False
    assert "num_hidden" in mx.sym.FullyConnected.__doc__
