"""float16 in bound graphs (cysym/float16.py): float16 entries are stored as float16, and the
operators without a float16 kernel compute in float32 between conversions (cysym/_ops/half.pyx).

Tolerances: float16 keeps 11 significant bits, so a float16 net and the same net in float32
differ by about 2**-11 relative per rounding; the tests allow a few such roundings."""
import importlib.util
import os
import re

import numpy as np
import pytest

import cysym as mx
from cysym._ops import half as half_kernels
from cysym._ops import runner
from cysym.base import MXNetError
from cysym.float16 import compute_half_in_float32
from test_ops import CASES, cast, variables

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures", "mxnet")
HALF_EPS = 2.0 ** -10      # the spacing of float16 values in [1, 2)


def _convert(src, dtype, req="write", dst=None):
    dst = np.zeros(src.shape, dtype) if dst is None else dst
    plan = runner.Plan()
    half_kernels.append_convert(plan, src, dst, req)
    plan.run(0, len(plan), False)
    return dst


# -- the conversion kernel -------------------------------------------------------------------------

def test_float32_to_float16_rounds_as_numpy_over_the_bit_patterns():
    # every 997th float32 bit pattern: normal, subnormal, overflowing, inf and NaN
    bits = np.arange(0, 2 ** 32, 997, dtype=np.uint64).astype(np.uint32)
    values = bits.view(np.float32)
    with np.errstate(over="ignore"):
        expected = values.astype(np.float16)
    np.testing.assert_array_equal(_convert(values, np.float16).view(np.uint16), expected.view(np.uint16))


def test_float32_to_float16_ties_go_to_even():
    one = 1.0
    values = np.array([one + 2 ** -11, one + 3 * 2 ** -11, 65520.0, 65519.996, 2 ** -25,
                       3 * 2 ** -25, -2 ** -26, 2 ** -14 - 2 ** -25], np.float32)
    got = _convert(values, np.float16)
    assert got.tolist() == [1.0, 1.001953125, np.inf, 65504.0, 0.0, 2 ** -23, -0.0, 2 ** -14]
    assert np.signbit(got[6])


def test_float16_to_float32_is_exact_for_every_value():
    halves = np.arange(2 ** 16, dtype=np.uint32).astype(np.uint16).view(np.float16)
    np.testing.assert_array_equal(_convert(halves, np.float32).view(np.uint32),
                                  halves.astype(np.float32).view(np.uint32))


def test_add_accumulates_in_float32_and_rounds_once():
    out = np.array([0.1, 1000.0, -2.0], np.float16)
    _convert(np.array([0.2, 0.3, 2 ** -12], np.float32), np.float16, "add", out)
    expected = (np.array([0.1, 1000.0, -2.0], np.float16).astype(np.float32)
                + np.array([0.2, 0.3, 2 ** -12], np.float32)).astype(np.float16)
    np.testing.assert_array_equal(out, expected)


def test_the_kernel_refuses_other_conversions():
    with pytest.raises(ValueError, match="converts float16 and float32"):
        _convert(np.zeros(3, np.float64), np.float16)
    with pytest.raises(ValueError, match="cannot convert"):
        _convert(np.zeros(3, np.float32), np.float16, dst=np.zeros(4, np.float16))


# -- values against MXNet 1.9.1 --------------------------------------------------------------------

def _fixture_builders():
    """make_float16.py, which builds its graphs with the module it is given."""
    path = os.path.join(FIXTURES, "make_float16.py")
    spec = importlib.util.spec_from_file_location("make_float16", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


MAKE_FLOAT16 = _fixture_builders()
SHAPES = MAKE_FLOAT16.SHAPES


def test_elementwise_float16_graph_matches_mxnet():
    """Forward bit for bit: MXNet computes each element in float and rounds it to half, as the
    conversions do.  Gradients: MXNet sums the five gradients of h in float16, pairwise, where
    cysym sums them in float32 and rounds once; both are compared with float64."""
    saved = np.load(os.path.join(FIXTURES, "float16-1.9.1.npz"))
    exe = MAKE_FLOAT16.elementwise(mx).simple_bind(mx.cpu(), type_dict={n: "float16" for n in SHAPES},
                                                   **SHAPES)
    for name in SHAPES:
        assert exe.arg_dict[name].dtype == np.float16 and exe.grad_dict[name].dtype == np.float16
        exe.arg_dict[name][:] = saved[f"in_{name}"]
    outputs = exe.forward(is_train=True)
    for k, out in enumerate(outputs):
        assert out.dtype == np.float16
        np.testing.assert_array_equal(out.view(np.uint16), saved[f"out_{k}"].view(np.uint16))
    heads = [saved[f"head_{k}"] for k in range(len(outputs))]
    exe.backward(heads)
    x, w, b = (saved[f"in_{n}"].astype(np.float64) for n in SHAPES)
    h = x * w + b
    sigmoid = 1 / (1 + np.exp(-h))
    dh = (heads[0] * (1 - np.tanh(h) ** 2) + heads[1] * 0.5 * np.exp(h * 0.5)
          + heads[2] * np.sign(h) * 0.5 / np.sqrt(np.abs(h)) + heads[3] * sigmoid * (1 - sigmoid)
          + heads[4] / 3.0)
    exact = {"x": dh * w, "w": (dh * x).sum(0, keepdims=True), "b": dh.sum(1, keepdims=True)}
    for name in SHAPES:
        tolerance = 4 * HALF_EPS * np.abs(exact[name]).max()
        np.testing.assert_allclose(exe.grad_dict[name], exact[name], rtol=0, atol=tolerance)
        np.testing.assert_allclose(saved[f"grad_{name}"], exact[name], rtol=0, atol=tolerance)


def test_gradient_added_into_float16_arrays_matches_mxnet():
    # x * 3 bound with grad_req='add' under MXNet 1.9.1, x = [1, 2, 3] and the gradient array
    # [0.1, 0.2, 1000] float16 before backward with head [1/3, 0.7, 0.001]: the bits it left
    x = mx.sym.Variable("x")
    exe = (x * 3).simple_bind(mx.cpu(), x=(3,), type_dict={"x": "float16"}, grad_req="add")
    exe.arg_dict["x"][:] = [1, 2, 3]
    exe.grad_dict["x"][:] = [0.1, 0.2, 1000]
    exe.forward(is_train=True)
    exe.backward(np.array([1 / 3, 0.7, 0.001], np.float16))
    assert exe.outputs[0].dtype == np.float16
    assert exe.grad_dict["x"].view(np.uint16).tolist() == [15462, 16538, 25552]


def test_cast_from_float64_rounds_through_float32_as_mxnet():
    # mx.nd.Cast(float64 array, dtype='float16') under MXNet 1.9.1: mshadow's half_t goes
    # through float, so 1 + 2**-11 + 2**-30 becomes 1.0 where NumPy's direct rounding gives
    # 1.0009765625
    values = np.array([1 + 2 ** -11 + 2 ** -30, 1 / 3, 65519.99, 1e-7, -2.5e-8])
    x = mx.sym.Variable("x")
    exe = mx.sym.Cast(x, dtype="float16").simple_bind(mx.cpu(), x=(5,), type_dict={"x": "float64"})
    exe.arg_dict["x"][:] = values
    assert exe.forward()[0].view(np.uint16).tolist() == [15360, 13653, 31743, 2, 32768]


# -- float16 nets against the same nets in float32 --------------------------------------------------

def _mlp():
    net = mx.sym.FullyConnected(mx.sym.Variable("data"), num_hidden=6, name="fc1")
    net = mx.sym.Activation(net, act_type="tanh")
    net = mx.sym.FullyConnected(net, num_hidden=3, name="fc2")
    return mx.sym.SoftmaxOutput(net, name="sm")


def _run(net, values, type_dict, grad_req="write", is_train=True, **shapes):
    exe = net.simple_bind(mx.cpu(), type_dict=type_dict, grad_req=grad_req, **shapes)
    for name, value in values.items():
        exe.arg_dict[name][:] = value
    outputs = [out.copy() for out in exe.forward(is_train=is_train)]
    if grad_req != "null":
        exe.backward()
    return exe, outputs


def test_mlp_bound_in_float16_computes_as_in_float32():
    rng = np.random.default_rng(3)
    shapes = {"data": (4, 5), "fc1_weight": (6, 5), "fc1_bias": (6,), "fc2_weight": (3, 6),
              "fc2_bias": (3,)}
    values = {name: rng.uniform(-1, 1, shape).astype(np.float16) for name, shape in shapes.items()}
    values["sm_label"] = np.array([0, 2, 1, 2], np.float16)
    half, half_out = _run(_mlp(), values, {"data": "float16"}, data=(4, 5))
    single, single_out = _run(_mlp(), values, {"data": "float32"}, data=(4, 5))
    assert all(array.dtype == np.float16 for array in half.arg_dict.values())
    assert half_out[0].dtype == np.float16
    np.testing.assert_allclose(half_out[0], single_out[0], rtol=0, atol=4 * HALF_EPS)
    for name in shapes:
        grad = half.grad_dict[name]
        assert grad.dtype == np.float16
        scale = np.abs(single.grad_dict[name]).max()
        np.testing.assert_allclose(grad, single.grad_dict[name], rtol=0, atol=8 * HALF_EPS * scale)


def _convnet(half):
    data = mx.sym.Variable("data")
    net = mx.sym.Cast(data, dtype="float16") if half else data
    net = mx.sym.Convolution(net, kernel=(3, 3), num_filter=4, name="conv")
    net = mx.sym.BatchNorm(net, fix_gamma=False, name="bn")
    net = mx.sym.Activation(net, act_type="relu")
    net = mx.sym.Pooling(net, kernel=(2, 2), stride=(2, 2), pool_type="max")
    net = mx.sym.FullyConnected(mx.sym.Flatten(net), num_hidden=3, name="fc")
    net = mx.sym.Cast(net, dtype="float32") if half else net
    return mx.sym.SoftmaxOutput(net, name="sm")


@pytest.mark.parametrize("is_train", [True, False], ids=["training", "inference"])
def test_convnet_with_a_float16_cast_inside_computes_as_in_float32(is_train):
    rng = np.random.default_rng(5)
    shapes = {"data": (2, 3, 9, 8), "conv_weight": (4, 3, 3, 3), "conv_bias": (4,), "bn_gamma": (4,),
              "bn_beta": (4,), "fc_weight": (3, 36), "fc_bias": (3,)}
    values = {name: rng.uniform(-1, 1, shape).astype(np.float16) for name, shape in shapes.items()}
    values["sm_label"] = np.array([0, 2])
    grad_req = "write" if is_train else "null"
    half, half_out = _run(_convnet(True), values, {"data": "float32"}, grad_req, is_train, data=(2, 3, 9, 8))
    single, single_out = _run(_convnet(False), values, {"data": "float32"}, grad_req, is_train,
                              data=(2, 3, 9, 8))
    # MXNet's dtypes: float16 weights behind the Cast, BatchNorm's parameters and statistics float32
    dtypes = {name: array.dtype.name for name, array in half.arg_dict.items()}
    assert dtypes == {"data": "float32", "conv_weight": "float16", "conv_bias": "float16",
                      "bn_gamma": "float32", "bn_beta": "float32", "fc_weight": "float16",
                      "fc_bias": "float16", "sm_label": "float32"}
    assert {array.dtype for array in half.aux_dict.values()} == {np.dtype(np.float32)}
    assert half_out[0].dtype == np.float32
    np.testing.assert_allclose(half_out[0], single_out[0], rtol=0, atol=8 * HALF_EPS)
    if is_train:
        for name in shapes:
            # the bias before BatchNorm has a zero gradient in exact arithmetic: both are
            # rounding noise, measured against the convolution weights' gradient
            reference = "conv_weight" if name == "conv_bias" else name
            scale = np.abs(single.grad_dict[reference]).max()
            np.testing.assert_allclose(half.grad_dict[name], single.grad_dict[name], rtol=0,
                                       atol=16 * HALF_EPS * scale, err_msg=name)
        for name, moving in half.aux_dict.items():
            np.testing.assert_allclose(moving, single.aux_dict[name], rtol=0, atol=8 * HALF_EPS)


def test_cast_round_trip_and_its_gradient():
    x = mx.sym.Variable("x")
    net = mx.sym.Cast(mx.sym.Cast(x, dtype="float16") * 2, dtype="float32")
    exe = net.simple_bind(mx.cpu(), x=(2, 3))
    values = np.array([[1 / 3, 70000.0, -1e-8], [2.5, 1e-5, 65504.0]], np.float32)
    exe.arg_dict["x"][:] = values
    out = exe.forward(is_train=True)[0]
    assert out.dtype == np.float32
    with np.errstate(over="ignore"):
        expected = (values.astype(np.float16).astype(np.float32) * 2).astype(np.float16)
    np.testing.assert_array_equal(out, expected.astype(np.float32))
    head = np.array([[1 / 3, 1.0, 2.0], [0.1, 3e-5, 7.0]], np.float32)
    exe.backward(head)
    assert exe.grad_dict["x"].dtype == np.float32
    # the head gradient is rounded to float16 on its way back through the Cast, as in MXNet
    np.testing.assert_array_equal(exe.grad_dict["x"],
                                  (head.astype(np.float16).astype(np.float32) * 2).astype(np.float16))


def test_float16_checkpoint_loads_into_a_module_and_runs():
    """float16-0000.params: MXNet 1.9.1's float16 parameters (make_float16.py).  The reference
    computes each operator in float64 on the stored values and rounds to float16 where the net
    stores float16."""
    symbol, args, aux = mx.model.load_checkpoint(os.path.join(FIXTURES, "float16"), 0)
    assert {array.dtype for array in args.values()} == {np.dtype(np.float16)}
    data = np.load(os.path.join(FIXTURES, "float16-1.9.1.npz"))["data"]
    module = mx.mod.Module(symbol, data_names=["data"], label_names=["softmax_label"])
    module.bind(data_shapes=[("data", data.shape)], label_shapes=[("softmax_label", (2,))])
    module.set_params(args, aux)
    assert {array.dtype for array in module.get_params()[0].values()} == {np.dtype(np.float16)}
    module.forward(mx.io.DataBatch([mx.nd.array(data)], [mx.nd.array([0, 2])]), is_train=True)
    out = module.get_outputs()[0].asnumpy()

    def rounded(value):
        return value.astype(np.float16).astype(np.float64)

    weights = {name: array.asnumpy().astype(np.float64) for name, array in args.items()}
    hidden = rounded(rounded(data) @ weights["fc1_weight"].T + weights["fc1_bias"])
    logits = rounded(np.maximum(hidden, 0) @ weights["fc2_weight"].T + weights["fc2_bias"])
    expected = np.exp(logits - logits.max(1, keepdims=True))
    expected /= expected.sum(1, keepdims=True)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, expected, rtol=0, atol=2 * HALF_EPS)
    module.backward()
    module.init_optimizer(optimizer="sgd", optimizer_params={"learning_rate": 0.5,
                                                             "multi_precision": True})
    module.update()
    updated = module.get_params()[0]
    assert {array.dtype for array in updated.values()} == {np.dtype(np.float16)}
    assert not np.array_equal(updated["fc2_bias"].asnumpy(), args["fc2_bias"].asnumpy())


# -- the memory plan, the pass itself, errors -------------------------------------------------------

def test_float16_entries_are_planned_at_two_bytes():
    x = mx.sym.Variable("x")
    net = mx.sym.Cast(mx.sym.sqrt(mx.sym.Cast(x, dtype="float16", name="half"), name="root"),
                      dtype="float32", name="single")
    exe = net.simple_bind(mx.cpu(), x=(3, 5), grad_req="null")
    lines = (re.match(r"(\S+)\s+\([\d, ]*\)\s+(\d+)", line) for line in exe.debug_str().splitlines())
    planned = {line[1]: int(line[2]) for line in lines if line is not None}
    # sqrt computes in float32 between two conversions: its float32 entries are 4 bytes each
    assert planned == {"half_output": 30, "root_float16_inputs_output": 60, "root_output": 60,
                       "root_float16_output": 30, "single_output": 60}
    exe.arg_dict["x"][:] = np.arange(15).reshape(3, 5) / 7
    expected = np.sqrt((np.arange(15).reshape(3, 5) / 7).astype(np.float16).astype(np.float32))
    np.testing.assert_array_equal(exe.forward()[0], expected.astype(np.float16).astype(np.float32))


def test_the_pass_leaves_graphs_without_float16_alone_and_the_users_graph_unchanged():
    net = _mlp()
    before = net.tojson()
    nodes = net._nodes()
    shapes, dtypes = {}, {(id(node), k): np.dtype(np.float32) for node in nodes
                          for k in range(node.num_outputs())}
    result = compute_half_in_float32(nodes, 4, shapes, dtypes, {})
    assert result.nodes is nodes and not result.renamed and result.forward_count == 4
    exe = net.simple_bind(mx.cpu(), data=(4, 5), type_dict={"data": "float16"})
    assert exe.outputs[0].dtype == np.float16
    assert net.tojson() == before


def test_float16_state_updated_in_place_is_a_clear_error():
    weight, grad, mom = (mx.sym.Variable(name) for name in ("weight", "grad", "mom"))
    update = mx.sym.sgd_mom_update(weight, grad, mom, lr=0.1, name="step")
    with pytest.raises(MXNetError, match=r"Error in operator step: .*input 'mom' is float16.*"
                                         r"updates it in place"):
        update.simple_bind(mx.cpu(), weight=(3,), grad=(3,), mom=(3,), grad_req="null",
                           type_dict={"weight": "float16", "grad": "float16", "mom": "float16"})


def test_bind_refuses_dtypes_no_array_may_have():
    x = mx.sym.Variable("x")
    with pytest.raises(MXNetError, match="bound arrays may be .*float16"):
        mx.sym.exp(x).bind(mx.cpu(), {"x": np.zeros(3, np.complex64)})


def test_amp_casts_take_float16_as_mxnet():
    # infer_type under MXNet 1.9.1: amp_cast converts float16 and float32, amp_multicast casts
    # them to the widest (narrowest with cast_narrow) of them; float64 and integers stay
    a, b, c = (mx.sym.Variable(name) for name in "abc")
    assert mx.sym.amp_cast(a, dtype="float32").infer_type(a="float16")[1] == [np.float32]
    assert mx.sym.amp_cast(a, dtype="float16").infer_type(a="float64")[1] == [np.float64]
    mxnet_types = {
        (("float16", "float32", "int32"), False): [np.float32, np.float32, np.int32],
        (("float16", "float32", "int32"), True): [np.float16, np.float16, np.int32],
        (("float16", "float64", "float32"), False): [np.float32, np.float64, np.float32],
        (("float16", "float64", "float32"), True): [np.float16, np.float64, np.float16],
        (("float64", "int32", "float64"), True): [np.float64, np.int32, np.float64],
    }
    for (types, narrow), expected in mxnet_types.items():
        net = mx.sym.amp_multicast(a, b, c, num_outputs=3, cast_narrow=narrow)
        assert net.infer_type(**dict(zip("abc", types)))[1] == expected
        exe = net.simple_bind(mx.cpu(), a=(2,), b=(2,), c=(2,), type_dict=dict(zip("abc", types)),
                              grad_req="null")
        for array in exe.arg_dict.values():
            array[:] = [1 / 3, 2]
        for out, dtype, source in zip(exe.forward(), expected, types):
            assert out.dtype == dtype
            narrowest = np.float16 if np.float16 in (np.dtype(source), np.dtype(dtype)) else dtype
            np.testing.assert_array_equal(out, np.array([1 / 3, 2], narrowest).astype(dtype))


# every case of tests/test_ops.py binds in float16 and matches float32 within these tolerances
# (checked once over the whole table; the refusals are the in-place updates above, float16
# gamma given to BatchNorm and weight to Embedding, which MXNet refuses too); a sample of
# families here: reductions that read an input for its shape only, multi-output operators,
# integer-valued outputs, Python operators, GEMMs, the fused RNN
SAMPLE_CASES = ["sum-axis=1", "mean", "topk-both-flattened-ascend", "SliceChannel", "Custom",
                "Convolution-dilate-group", "Pooling-avg-include-pad", "softmax-axis1-temperature",
                "LayerNorm-output-mean-var", "RNN-rnn_relu-L2-bi-states", "take-axis1-wrap",
                "argsort", "_contrib_ROIAlign", "batch_dot-ta-tb", "Concat"]


def _run_case(case, dtype, values, aux):
    symbol = case.build(variables(case), np.float32)
    exe = symbol.simple_bind(mx.cpu(), grad_req="write",
                             type_dict={name: dtype for name in symbol.list_arguments()},
                             **{name: shape for name, (shape, _) in case.inputs.items()})
    for name, value in values.items():
        exe.arg_dict[name][:] = value
    for name, value in aux.items():
        exe.aux_dict[next(key for key in exe.aux_dict if key.endswith("_" + name))][:] = value
    outputs = [out.astype(np.float64) for out in exe.forward(is_train=True)]
    exe.backward([np.full(out.shape, 0.5) for out in outputs])
    return exe, outputs


@pytest.mark.parametrize("case_id", SAMPLE_CASES)
def test_operator_cases_bound_in_float16_compute_as_in_float32(case_id):
    case = CASES[case_id]
    values, aux = case.values()
    values, aux = cast(values, np.float16), cast(aux, np.float16)
    half, half_out = _run_case(case, "float16", values, aux)
    single, single_out = _run_case(case, "float32", values, aux)
    # the outputs inferred float16 are float16 (topk's and argsort's indices keep their dtype)
    inferred = case.build(variables(case), np.float32).infer_type(
        **{name: "float16" for name in values})[1]
    assert [out.dtype for out in half.outputs] == [np.dtype(t) for t in inferred]
    pairs = list(zip(half_out, single_out)) + [
        (half.grad_dict[name], grad) for name, grad in single.grad_dict.items() if grad is not None]
    for got, expected in pairs:
        scale = max(np.abs(expected).max(initial=0), 1)
        np.testing.assert_allclose(got, expected, rtol=16 * HALF_EPS, atol=16 * HALF_EPS * scale)


def test_multi_precision_update_in_a_graph_keeps_float32_states():
    # MXNet's use of mp_sgd_mom_update: float16 weight and gradient, float32 momentum and master
    # weight, which the kernel updates in place (they are not converted)
    names = ("weight", "grad", "mom", "weight32")
    weight, grad, mom, weight32 = (mx.sym.Variable(name) for name in names)
    update = mx.sym.mp_sgd_mom_update(weight, grad, mom, weight32, lr=0.5, momentum=0.9, wd=0.0)
    types = {"weight": "float16", "grad": "float16", "mom": "float32", "weight32": "float32"}
    exe = update.simple_bind(mx.cpu(), grad_req="null", type_dict=types,
                             **{name: (2, 3) for name in names})
    start = np.array([[0.1, -0.2, 0.3], [1.5, 2.5, -3.5]])
    gradient = np.array([[1.0, 0.5, -0.25], [0.125, -2.0, 3.0]])
    exe.arg_dict["weight"][:] = start
    exe.arg_dict["grad"][:] = gradient
    exe.arg_dict["mom"][:] = 0.25
    exe.arg_dict["weight32"][:] = start
    out = exe.forward()[0]
    momentum = 0.9 * 0.25 - 0.5 * gradient.astype(np.float16).astype(np.float32)
    master = start.astype(np.float32) + momentum
    assert out.dtype == np.float16
    np.testing.assert_allclose(exe.arg_dict["mom"], momentum, rtol=1e-6)
    np.testing.assert_allclose(exe.arg_dict["weight32"], master, rtol=1e-6)
    np.testing.assert_array_equal(out, master.astype(np.float16))


def test_embedding_with_float16_weights():
    # Embedding(dtype='float16'), as MXNet's float16 language models declare it: float16
    # weight, output and weight gradient, float32 indices
    indices = mx.sym.Variable("indices")
    net = mx.sym.Embedding(indices, input_dim=5, output_dim=3, dtype="float16", name="emb")
    assert net.infer_type(indices="float32") == ([np.float32, np.float16], [np.float16], [])
    exe = net.simple_bind(mx.cpu(), indices=(2,), type_dict={"indices": "float32"})
    table = np.arange(15).reshape(5, 3) / 3
    exe.arg_dict["emb_weight"][:] = table
    exe.arg_dict["indices"][:] = [1, 4]
    np.testing.assert_array_equal(exe.forward(is_train=True)[0], table.astype(np.float16)[[1, 4]])
    exe.backward(np.full((2, 3), 0.5, np.float16))
    expected = np.zeros((5, 3), np.float16)
    expected[[1, 4]] = 0.5
    np.testing.assert_array_equal(exe.grad_dict["emb_weight"], expected)


def test_multi_precision_multi_update_in_a_graph():
    # each group as mp_sgd_mom_update's: float16 weight and grad, float32 mom and master copy
    names = [f"{name}_{i}" for i in range(2) for name in ("weight", "grad", "mom", "weight32")]
    update = mx.sym.multi_mp_sgd_mom_update(*(mx.sym.Variable(name) for name in names),
                                            lrs=(0.5, 0.25), wds=(0.0, 0.0), momentum=0.9,
                                            num_weights=2)
    types = {name: "float16" if name.startswith(("weight_", "grad_")) else "float32" for name in names}
    assert update.infer_type(**types)[1] == [np.float16, np.float16]
    exe = update.simple_bind(mx.cpu(), grad_req="null", type_dict=types, **{name: (3,) for name in names})
    for name in names:
        exe.arg_dict[name][:] = 1.0 if name.startswith("weight") else 0.5
    outputs = exe.forward()
    for i, lr in enumerate((0.5, 0.25)):
        momentum = np.float32(0.9 * 0.5 - lr * 0.5)
        np.testing.assert_allclose(exe.arg_dict[f"mom_{i}"], momentum, rtol=1e-6)
        np.testing.assert_allclose(exe.arg_dict[f"weight32_{i}"], 1 + momentum, rtol=1e-6)
        assert outputs[i].dtype == np.float16
        np.testing.assert_array_equal(outputs[i], np.full(3, 1 + momentum, np.float32).astype(np.float16))


@pytest.mark.parametrize("op, count, params", [
    ("_multi_mp_adamw_update", "num_weights",
     dict(lrs=(0.5, 0.25), wds=(0.01, 0.02), etas=(1.0, 0.5))),
    ("_multi_mp_lamb_update", "num_tensors",
     dict(learning_rates=(0.5, 0.25), wds=(0.01, 0.02), step_count=(1, 3)))])
def test_multi_precision_adamw_and_lamb_keep_float32_states(op, count, params):
    # each group's float16 weight and grad with float32 mean, var and master copy (MXNet
    # 1.9.1's optimizers call them so): the states and master copy end as the float32 form
    # (_multi_adamw_update / _multi_lamb_update) leaves them, run on the master copy
    plain = op.replace("_mp_", "_")
    groups = ("weight", "grad", "mean", "var")
    extra = ["rescale_grad"] if "adamw" in op else []
    rng = np.random.default_rng(4)
    shapes = [(2, 3), (5,)]
    start = [rng.standard_normal(s).astype(np.float16).astype(np.float32) for s in shapes]
    grads = [rng.standard_normal(s).astype(np.float16).astype(np.float32) for s in shapes]
    means = [rng.standard_normal(s).astype(np.float32) * 0.1 for s in shapes]
    variances = [rng.random(s).astype(np.float32) for s in shapes]

    def run(name, with_master):
        group = groups + (("weight32",) if with_master else ())
        names = [f"{n}_{i}" for i in range(2) for n in group] + extra
        update = getattr(mx.sym, name)(*(mx.sym.Variable(n) for n in names),
                                       **{count: 2, **params})
        types = {n: "float16" if with_master and n.startswith(("weight_", "grad_")) else "float32"
                 for n in names}
        shape_of = {f"{n}_{i}": shapes[i] for i in range(2) for n in group}
        exe = update.simple_bind(mx.cpu(), grad_req="null", type_dict=types,
                                 **shape_of, **{n: (1,) for n in extra})
        for i in range(2):
            for n, values in (("weight", start), ("grad", grads), ("mean", means),
                              ("var", variances)) + ((("weight32", start),) if with_master else ()):
                exe.arg_dict[f"{n}_{i}"][:] = values[i]
        for n in extra:
            exe.arg_dict[n][:] = 1.0
        outputs = [o.asnumpy() for o in exe.forward()]
        return exe, outputs

    half, half_out = run(op, True)
    single, single_out = run(plain, False)
    for i in range(2):
        assert half_out[i].dtype == np.float16
        for n in ("mean", "var"):
            np.testing.assert_array_equal(half.arg_dict[f"{n}_{i}"], single.arg_dict[f"{n}_{i}"])
        np.testing.assert_array_equal(half.arg_dict[f"weight32_{i}"], single_out[i])
        np.testing.assert_array_equal(half_out[i], single_out[i].astype(np.float16))
