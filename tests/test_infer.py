"""Shape and dtype inference: MXNet's conventions, every operator family, error messages."""
import numpy as np
import pytest

import cysym as mx
from cysym.base import MXNetError, ShapeError, TypeInferenceError

V = mx.sym.Variable


def out_shape(sym, **shapes):
    arg_shapes, out_shapes, aux_shapes = sym.infer_shape(**shapes)
    assert out_shapes is not None, "inference incomplete"
    return out_shapes[0] if len(out_shapes) == 1 else out_shapes


def arg_shapes(sym, **shapes):
    return dict(zip(sym.list_arguments(), sym.infer_shape(**shapes)[0]))


# -- conventions --------------------------------------------------------------------------------

def mlp():
    net = mx.sym.FullyConnected(V("data"), name="fc1", num_hidden=11)
    net = mx.sym.Activation(net, name="relu1", act_type="relu")
    net = mx.sym.FullyConnected(net, name="fc2", num_hidden=4)
    return mx.sym.SoftmaxOutput(net, name="out")


def test_infer_shape_returns_lists_in_mxnet_order():
    arg, out, aux = mlp().infer_shape(data=(7, 30))
    assert arg == [(7, 30), (11, 30), (11,), (4, 11), (4,), (7,)]
    assert out == [(7, 4)]
    assert aux == []
    assert all(isinstance(s, tuple) for s in arg + out)


def test_infer_shape_positional_follows_list_arguments():
    assert mlp().infer_shape((7, 30))[1] == [(7, 4)]
    assert mlp().infer_shape([7, 30])[1] == [(7, 4)]


def test_incomplete_inference_gives_none_and_partial_gives_empty_tuples():
    net = mlp()
    assert net.infer_shape() == (None, None, None)
    arg, out, aux = net.infer_shape_partial()
    assert arg == [(), (), (11,), (), (4,), ()]
    assert out == [()]
    arg, out, aux = net.infer_shape_partial(fc1_weight=(11, 30))
    assert arg[1] == (11, 30) and arg[0] == ()


def test_infer_shape_argument_errors():
    net = mlp()
    with pytest.raises(MXNetError, match="'nothere' is not an input"):
        net.infer_shape(data=(7, 30), nothere=(2,))
    with pytest.raises(MXNetError):
        net.infer_shape((7, 30), data=(7, 30))
    with pytest.raises(MXNetError):
        net.infer_shape((7, 30), (1,), (2,), (3,), (4,), (5,), (6,))
    with pytest.raises(MXNetError):
        net.infer_shape(data=(7, -30))


def test_fully_connected_infers_weight_from_data():
    fc = mx.sym.FullyConnected(V("data"), num_hidden=4, name="fc")
    assert arg_shapes(fc, data=(2, 3, 5)) == {"data": (2, 3, 5), "fc_weight": (4, 15), "fc_bias": (4,)}
    assert out_shape(fc, data=(2, 3, 5)) == (2, 4)
    flat = mx.sym.FullyConnected(V("data"), num_hidden=4, flatten=False, name="fc")
    assert arg_shapes(flat, data=(2, 3, 5))["fc_weight"] == (4, 5)
    assert out_shape(flat, data=(2, 3, 5)) == (2, 3, 4)


def test_inconsistent_shapes_name_op_argument_and_both_shapes():
    with pytest.raises(ShapeError) as info:
        mlp().infer_shape(data=(7, 30), fc1_weight=(11, 31))
    message = str(info.value)
    assert "Error in operator fc1" in message
    assert "FullyConnected(name='fc1')" in message
    assert "'weight'" in message
    assert "(11, 31)" in message and "(11, 30)" in message


def test_inconsistent_elementwise_shapes():
    with pytest.raises(ShapeError) as info:
        (V("x") + V("y")).infer_shape(x=(2, 3), y=(3, 2))
    assert "(2, 3)" in str(info.value) and "(3, 2)" in str(info.value)


def test_shapes_propagate_backwards_through_elementwise_ops():
    net = mx.sym.Activation(V("x") * V("y"), act_type="tanh") + V("z")
    arg, out, _ = net.infer_shape(z=(2, 3, 5))
    assert arg == [(2, 3, 5)] * 3 and out == [(2, 3, 5)]


def test_variable_shape_attribute_is_used():
    net = mx.sym.FullyConnected(V("x", shape=(2, 7)), num_hidden=3, name="fc")
    assert out_shape(net) == (2, 3)
    with pytest.raises(ShapeError):
        mx.sym.FullyConnected(V("x", shape=(2, 7)), num_hidden=3, name="fc",
                              weight=V("w", shape=(3, 5))).infer_shape()


def test_infer_type_conventions():
    arg, out, aux = mlp().infer_type(data=np.float64)
    assert arg == [np.float64] * 6 and out == [np.float64] and aux == []
    assert mlp().infer_type(data="float16")[1] == [np.float16]
    assert mlp().infer_type() == (None, None, None)
    bn = mx.sym.BatchNorm(V("data"), name="bn")
    assert bn.infer_type(data=np.float32)[2] == [np.float32, np.float32]


def test_infer_type_conflict_names_op_and_dtypes():
    with pytest.raises(TypeInferenceError) as info:
        mlp().infer_type(data=np.float64, fc1_weight=np.float32)
    message = str(info.value)
    assert "fc1" in message and "float64" in message and "float32" in message


def test_embedding_types_follow_its_dtype_parameter():
    emb = mx.sym.Embedding(V("tokens"), input_dim=9, output_dim=5, dtype="float64", name="embed")
    arg, out, _ = emb.infer_type(tokens=np.int32)
    assert arg == [np.int32, np.float64] and out == [np.float64]


# -- every operator family -------------------------------------------------------------------------

@pytest.mark.parametrize("make, shapes, expected", [
    (lambda: mx.sym.Convolution(V("data"), kernel=(3, 2), num_filter=4, stride=(2, 1), pad=(1, 0),
                                dilate=(1, 2), name="conv"),
     {"data": (2, 3, 9, 11)}, {"out": (2, 4, 5, 9), "conv_weight": (4, 3, 3, 2), "conv_bias": (4,)}),
    (lambda: mx.sym.Convolution(V("data"), kernel=(3, 2), num_filter=6, num_group=3, name="conv"),
     {"data": (2, 3, 9, 11)}, {"out": (2, 6, 7, 10), "conv_weight": (6, 1, 3, 2)}),
    (lambda: mx.sym.Convolution(V("data"), kernel=(3,), num_filter=4, name="conv"),
     {"data": (2, 3, 11)}, {"out": (2, 4, 9), "conv_weight": (4, 3, 3)}),
    (lambda: mx.sym.Pooling(V("data"), kernel=(2, 3), stride=(2, 2), pool_type="max"),
     {"data": (2, 3, 7, 9)}, {"out": (2, 3, 3, 4)}),
    (lambda: mx.sym.Pooling(V("data"), kernel=(2, 3), stride=(2, 2), pool_type="avg",
                            pooling_convention="full"),
     {"data": (2, 3, 7, 9)}, {"out": (2, 3, 4, 4)}),
    (lambda: mx.sym.Pooling(V("data"), kernel=(3, 3), stride=(2, 3), pad=(1, 1), pool_type="sum"),
     {"data": (2, 3, 7, 9)}, {"out": (2, 3, 4, 3)}),
    (lambda: mx.sym.Pooling(V("data"), global_pool=True, pool_type="avg", kernel=(1, 1)),
     {"data": (2, 3, 7, 9)}, {"out": (2, 3, 1, 1)}),
    (lambda: mx.sym.BatchNorm(V("data"), name="bn"),
     {"data": (2, 3, 5, 7)}, {"out": (2, 3, 5, 7), "bn_gamma": (3,), "bn_beta": (3,),
                              "bn_moving_mean": (3,), "bn_moving_var": (3,)}),
    (lambda: mx.sym.BatchNorm(V("data"), axis=-1, name="bn"),
     {"data": (2, 3, 5, 7)}, {"bn_gamma": (7,), "bn_moving_var": (7,)}),
    (lambda: mx.sym.Concat(V("a"), V("b"), dim=1),
     {"a": (2, 3, 5), "b": (2, 4, 5)}, {"out": (2, 7, 5)}),
    (lambda: mx.sym.Concat(V("a"), V("b"), V("c"), dim=-1),
     {"a": (2, 3, 5), "b": (2, 3, 4), "c": (2, 3, 1)}, {"out": (2, 3, 10)}),
    (lambda: mx.sym.SliceChannel(V("data"), num_outputs=3, axis=1)[2],
     {"data": (2, 6, 5)}, {"out": (2, 2, 5)}),
    (lambda: mx.sym.SliceChannel(V("data"), num_outputs=3, axis=1, squeeze_axis=True)[0],
     {"data": (2, 3, 5)}, {"out": (2, 5)}),
    (lambda: mx.sym.Embedding(V("data"), input_dim=7, output_dim=5, name="emb"),
     {"data": (2, 3)}, {"out": (2, 3, 5), "emb_weight": (7, 5)}),
    (lambda: mx.sym.dot(V("a"), V("b")), {"a": (2, 3), "b": (3, 5)}, {"out": (2, 5)}),
    (lambda: mx.sym.dot(V("a"), V("b"), transpose_a=True), {"a": (3, 2), "b": (3, 5)}, {"out": (2, 5)}),
    (lambda: mx.sym.dot(V("a"), V("b"), transpose_b=True), {"a": (2, 3), "b": (5, 3)}, {"out": (2, 5)}),
    (lambda: mx.sym.dot(V("a"), V("b")), {"a": (2, 3, 4), "b": (4, 5)}, {"out": (2, 3, 5)}),
    (lambda: mx.sym.batch_dot(V("a"), V("b")), {"a": (7, 2, 3), "b": (7, 3, 5)}, {"out": (7, 2, 5)}),
    (lambda: mx.sym.transpose(V("data")), {"data": (2, 3, 5)}, {"out": (5, 3, 2)}),
    (lambda: mx.sym.transpose(V("data"), axes=(1, 0, 2)), {"data": (2, 3, 5)}, {"out": (3, 2, 5)}),
    (lambda: mx.sym.sum(V("data"), axis=1), {"data": (2, 3, 5)}, {"out": (2, 5)}),
    (lambda: mx.sym.sum(V("data"), axis=1, keepdims=True), {"data": (2, 3, 5)}, {"out": (2, 1, 5)}),
    (lambda: mx.sym.sum(V("data"), axis=1, exclude=True), {"data": (2, 3, 5)}, {"out": (3,)}),
    (lambda: mx.sym.sum(V("data"), axis=(0, 2)), {"data": (2, 3, 5)}, {"out": (3,)}),
    (lambda: mx.sym.sum(V("data")), {"data": (2, 3, 5)}, {"out": (1,)}),
    (lambda: mx.sym.mean(V("data"), axis=-1), {"data": (2, 3, 5)}, {"out": (2, 3)}),
    (lambda: mx.sym.max(V("data"), axis=0, keepdims=True), {"data": (2, 3, 5)}, {"out": (1, 3, 5)}),
    (lambda: mx.sym.min(V("data"), axis=(1,), exclude=True, keepdims=True), {"data": (2, 3, 5)},
     {"out": (1, 3, 1)}),
    (lambda: mx.sym.broadcast_add(V("a"), V("b")), {"a": (2, 1, 5), "b": (1, 3, 1)}, {"out": (2, 3, 5)}),
    (lambda: mx.sym.broadcast_mul(V("a"), V("b")), {"a": (3, 5), "b": (2, 1, 5)}, {"out": (2, 3, 5)}),
    (lambda: mx.sym.broadcast_greater(V("a"), V("b")), {"a": (2, 3, 5), "b": (1,)}, {"out": (2, 3, 5)}),
    (lambda: mx.sym.expand_dims(V("data"), axis=1), {"data": (2, 3)}, {"out": (2, 1, 3)}),
    (lambda: mx.sym.expand_dims(V("data"), axis=-1), {"data": (2, 3)}, {"out": (2, 3, 1)}),
    (lambda: mx.sym.Flatten(V("data")), {"data": (2, 3, 5)}, {"out": (2, 15)}),
    (lambda: mx.sym.LeakyReLU(V("data"), act_type="prelu", name="prelu"), {"data": (2, 3, 5)},
     {"out": (2, 3, 5), "prelu_gamma": (3,)}),
    (lambda: mx.sym.SoftmaxOutput(V("data"), name="sm"), {"data": (2, 3)}, {"out": (2, 3), "sm_label": (2,)}),
    (lambda: mx.sym.SoftmaxOutput(V("data"), multi_output=True, name="sm"), {"data": (2, 3, 5)},
     {"out": (2, 3, 5), "sm_label": (2, 5)}),
    (lambda: mx.sym.LinearRegressionOutput(V("data"), name="lro"), {"data": (2, 3)},
     {"lro_label": (2, 3)}),
    (lambda: mx.sym.Dropout(V("data"), p=0.3), {"data": (2, 3, 5)}, {"out": (2, 3, 5)}),
    (lambda: mx.sym.softmax(V("data"), axis=1), {"data": (2, 3, 5)}, {"out": (2, 3, 5)}),
    (lambda: mx.sym.clip(V("data"), a_min=0, a_max=1), {"data": (2, 3)}, {"out": (2, 3)}),
    (lambda: mx.sym.zeros_like(V("data")), {"data": (2, 3)}, {"out": (2, 3)}),
    (lambda: mx.sym.add_n(V("a"), V("b"), V("c")), {"a": (2, 3)}, {"out": (2, 3), "c": (2, 3)}),
    (lambda: mx.sym.MakeLoss(V("data")), {"data": (2, 3)}, {"out": (2, 3)}),
    (lambda: mx.sym.BlockGrad(V("data")), {"data": (2, 3)}, {"out": (2, 3)}),
], ids=["conv2d", "conv-group", "conv1d", "pool-valid", "pool-full", "pool-pad", "pool-global",
        "bn", "bn-axis", "concat", "concat-neg", "split", "split-squeeze", "embedding", "dot",
        "dot-ta", "dot-tb", "dot-nd", "batch_dot", "transpose", "transpose-axes", "sum-axis",
        "sum-keepdims", "sum-exclude", "sum-axes", "sum-all", "mean", "max-keepdims", "min-exclude",
        "broadcast-add", "broadcast-mul", "broadcast-cmp", "expand_dims", "expand_dims-neg", "flatten",
        "prelu", "softmax-output", "softmax-multi", "lro", "dropout", "softmax", "clip", "zeros_like",
        "add_n", "makeloss", "blockgrad"])
def test_operator_family_shapes(make, shapes, expected):
    sym = make()
    arg, out, aux = sym.infer_shape(**shapes)
    assert out is not None
    known = dict(zip(sym.list_arguments(), arg))
    known.update(zip(sym.list_auxiliary_states(), aux))
    known["out"] = out[0]
    assert {k: known[k] for k in expected} == expected


@pytest.mark.parametrize("make, shapes, fragment", [
    (lambda: mx.sym.Concat(V("a"), V("b"), dim=1, name="cat"), {"a": (2, 3, 5), "b": (2, 4, 6)}, "arg1"),
    (lambda: mx.sym.broadcast_add(V("a"), V("b"), name="badd"), {"a": (2, 3), "b": (4, 3)}, "(4, 3)"),
    (lambda: mx.sym.dot(V("a"), V("b"), name="mm"), {"a": (2, 3), "b": (4, 5)}, "(4, 5)"),
    (lambda: mx.sym.SliceChannel(V("a"), num_outputs=4, name="sp")[0], {"a": (2, 6)}, "4"),
    (lambda: mx.sym.Convolution(V("a"), kernel=(5, 5), num_filter=2, name="cv"), {"a": (2, 3, 4, 9)}, "kernel"),
    (lambda: mx.sym.Convolution(V("a"), kernel=(3, 3), num_filter=2, name="cv"), {"a": (2, 3, 9)}, "4-D"),
    (lambda: mx.sym.Pooling(V("a"), kernel=(3, 3), name="pl"), {"a": (2, 3, 2, 9)}, "kernel"),
    (lambda: mx.sym.transpose(V("a"), axes=(0, 0, 1), name="tr"), {"a": (2, 3, 5)}, "permutation"),
    (lambda: mx.sym.sum(V("a"), axis=3, name="sm"), {"a": (2, 3, 5)}, "axis 3"),
    (lambda: mx.sym.expand_dims(V("a"), axis=4, name="ed"), {"a": (2, 3)}, "axis 4"),
    (lambda: mx.sym.BatchNorm(V("a"), axis=2, name="bnx"), {"a": (2, 3)}, "axis 2"),
], ids=["concat", "broadcast", "dot", "split", "conv-kernel", "conv-ndim", "pool-kernel", "transpose",
        "sum-axis", "expand_dims", "bn-axis"])
def test_operator_shape_errors_name_the_instance(make, shapes, fragment):
    sym = make()
    with pytest.raises(ShapeError) as info:
        sym.infer_shape(**shapes)
    message = str(info.value)
    assert f"Error in operator {sym.name}" in message
    assert fragment in message


def test_concat_infers_a_missing_input_from_the_output():
    cat = mx.sym.Concat(V("a"), V("b"), dim=1)
    net = cat + V("c")
    arg = dict(zip(net.list_arguments(), net.infer_shape(a=(2, 3, 5), c=(2, 7, 5))[0]))
    assert arg["b"] == (2, 4, 5)


# -- Reshape --------------------------------------------------------------------------------------

@pytest.mark.parametrize("src, shape, reverse, expected", [
    ((2, 3, 4), (4, 0, 2), False, (4, 3, 2)),
    ((2, 3, 4), (2, 0, 0), False, (2, 3, 4)),
    ((2, 3, 4), (6, 1, -1), False, (6, 1, 4)),
    ((2, 3, 4), (3, -1, 8), False, (3, 1, 8)),
    ((2, 3, 4), (-1,), False, (24,)),
    ((2, 3, 4), (-2,), False, (2, 3, 4)),
    ((2, 3, 4), (2, -2), False, (2, 3, 4)),
    ((2, 3, 4), (-2, 1, 1), False, (2, 3, 4, 1, 1)),
    ((2, 3, 4), (-3, 4), False, (6, 4)),
    ((2, 3, 4, 5), (-3, -3), False, (6, 20)),
    ((2, 3, 4), (0, -3), False, (2, 12)),
    ((2, 3, 4), (-3, -2), False, (6, 4)),
    ((2, 3, 4), (-4, 1, 2, -2), False, (1, 2, 3, 4)),
    ((2, 3, 4), (2, -4, -1, 3, -2), False, (2, 1, 3, 4)),
    ((10, 5, 4), (-1, 0), False, (40, 5)),
    ((10, 5, 4), (-1, 0), True, (50, 4)),
])
def test_reshape_special_codes_as_in_mxnet_docs(src, shape, reverse, expected):
    sym = mx.sym.Reshape(V("data"), shape=shape, reverse=reverse)
    assert out_shape(sym, data=src) == expected


@pytest.mark.parametrize("src, shape, fragment", [
    ((2, 3, 4), (5, 5), "25 elements"),
    ((2, 3, 4), (7, -1), "-1 cannot be inferred"),
    ((2, 3, 4), (-1, -1), "only one -1"),
    ((2, 3, 4), (-4, -1, -1, -2), "both sizes"),
    ((2, 3, 4), (-4, 2, 2, -2), "splits 2"),
    ((2, 3), (0, 0, 0), "0 refers past"),
    ((2, 3), (-5,), "unknown code"),
])
def test_reshape_errors_at_inference(src, shape, fragment):
    sym = mx.sym.Reshape(V("data"), shape=shape, name="rs")
    with pytest.raises(ShapeError) as info:
        sym.infer_shape(data=src)
    assert "Error in operator rs" in str(info.value)
    assert fragment in str(info.value)
    assert str(src) in str(info.value)


def test_reshape_fluent_and_legacy_target_shape():
    assert out_shape(V("x").reshape((3, -1)), x=(2, 3, 5)) == (3, 10)
    assert out_shape(mx.sym.Reshape(V("x"), target_shape=(0, 5)), x=(2, 3, 5)) == (6, 5)


def test_reshape_cannot_infer_its_input_backwards():
    net = mx.sym.Reshape(V("c"), shape=(1, 3, 4)) + V("d")
    assert net.infer_shape(d=(1, 3, 4)) == (None, None, None)
    assert net.infer_shape_partial(d=(1, 3, 4))[0] == [(), (1, 3, 4)]


# -- partial shapes (MXNet's legacy rule: 0 marks an unknown dimension) --------------------------
# Expected values below are what MXNet 1.9.1 returned for the same calls.

def test_gluon_style_shape_attrs_with_unknown_dimensions_are_completed():
    # Gluon exports deferred-init parameters with zeros in `__shape__`
    weight = V("c_weight", shape=(64, 0, 7, 7))
    conv = mx.sym.Convolution(V("data"), weight=weight, num_filter=64, kernel=(7, 7), no_bias=True,
                              name="c")
    assert conv.infer_shape(data=(2, 3, 16, 16)) == (
        [(2, 3, 16, 16), (64, 3, 7, 7)], [(2, 64, 10, 10)], [])
    assert conv.infer_shape_partial() == ([(), (64, 0, 7, 7)], [()], [])
    exe = conv.simple_bind(mx.cpu(), grad_req="null", data=(2, 3, 16, 16))
    assert exe.arg_dict["c_weight"].shape == (64, 3, 7, 7)


def test_known_dimensions_of_an_attr_must_agree():
    weight = V("c_weight", shape=(64, 0, 5, 7))
    conv = mx.sym.Convolution(V("data"), weight=weight, num_filter=64, kernel=(7, 7), no_bias=True,
                              name="c")
    with pytest.raises(ShapeError, match=r"'weight' has shape \(64, \?, 5, 7\).*\(64, 3, 7, 7\)"):
        conv.infer_shape(data=(2, 3, 16, 16))


def test_partial_inference_reports_unknown_dimensions_as_zero():
    assert mlp().infer_shape_partial(data=(0, 30)) == (
        [(0, 30), (11, 30), (11,), (4, 11), (4,), (0,)], [(0, 4)], [])
    assert mlp().infer_shape(data=(0, 30)) == (None, None, None)


def test_elementwise_operands_complete_each_other():
    add = mx.sym.elemwise_add(V("a"), V("b"))
    assert add.infer_shape_partial(a=(0, 3), b=(2, 0)) == ([(2, 3), (2, 3)], [(2, 3)], [])
    with pytest.raises(ShapeError, match=r"'rhs' has shape \(2, \?\)"):
        add.infer_shape(a=(4, 3), b=(2, 0))


def test_zeros_with_an_unknown_batch_take_it_from_their_consumers():
    # MXNet's RNN cells begin with zeros((0, num_hidden)): the batch comes from the data branch
    begin = mx.sym.zeros((0, 5))
    net = (mx.sym.FullyConnected(begin, num_hidden=3, name="f")
           + mx.sym.FullyConnected(V("x"), num_hidden=3, name="g"))
    assert net.infer_shape(x=(4, 6)) == ([(3, 5), (3,), (4, 6), (3, 6), (3,)], [(4, 3)], [])
    exe = net.simple_bind(mx.cpu(), x=(4, 6))
    assert exe.forward()[0].shape == (4, 3)


def test_reshape_fills_one_unknown_input_dimension_from_its_output():
    # Gluon's rnn layers flatten (32, 0) weights with reshape(-1) before _rnn_param_concat
    net = mx.sym.Reshape(V("w", shape=(32, 0)), shape=(-1,)) + V("flat")
    assert net.infer_shape_partial() == ([(32, 0), ()], [()], [])
    assert net.infer_shape(flat=(128,)) == ([(32, 4), (128,)], [(128,)], [])
    with pytest.raises(ShapeError, match=r"cannot fill the unknown dimension of \(32, \?\)"):
        net.infer_shape(flat=(100,))


def test_flatten_completes_its_input_from_its_output():
    net = mx.sym.Flatten(V("x", shape=(0, 3, 0))) + V("y")
    assert net.infer_shape(y=(2, 15)) == ([(2, 3, 5), (2, 15)], [(2, 15)], [])


def test_given_shapes_override_shape_attrs():
    net = mx.sym.FullyConnected(V("data", shape=(9, 7)), num_hidden=4, name="fc")
    assert net.infer_shape()[0][0] == (9, 7)
    assert net.infer_shape(data=(2, 3))[0][0] == (2, 3)


def test_bind_lists_every_unresolved_argument_and_dimension():
    with pytest.raises(mx.base.BindError) as info:
        mlp().simple_bind(mx.cpu(), data=(0, 30))
    message = str(info.value)
    assert "data (?, 30)" in message and "out_label (?,)" in message
    assert "fc1_weight" not in message


def test_infer_type_partial():
    assert mlp().infer_type_partial() == ([None] * 6, [None], [])
    arg, out, aux = mlp().infer_type_partial(data=np.float64)
    assert arg == [np.float64] * 6 and out == [np.float64]
    assert mlp().infer_type() == (None, None, None)
