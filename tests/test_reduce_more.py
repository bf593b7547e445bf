"""prod, nansum, nanprod, norm, moments, cumsum and softmin: values and gradients MXNet 1.9.1 computed,
norm's out_dtype and cumsum's dtype, and MXNet's JSON name for cumsum.

The MXNET rows were made with MXNet 1.9.1 (pip mxnet==1.9.1, CPU, MXNET_SUBGRAPH_BACKEND=NONE):
    a = mx.nd.array(x, dtype='float64'); a.attach_grad()
    with mx.autograd.record():
        y = op(a, **params)
        if isinstance(y, (list, tuple)): y = y[0] * 2 + y[1] * 3     # moments
    y.backward(mx.nd.array(head) if head else mx.nd.ones_like(y))
and y.asnumpy().tolist(), a.grad.asnumpy().tolist() pasted below."""
import json
from pathlib import Path

import numpy as np
import pytest

import cysym as mx

NAN = float("nan")
X = [[1.0, 0.0, 2.0], [3.0, -4.0, 0.5]]

MXNET = [  # (op, params, x, head, y, dx)
    ("moments", {"axes": (1,)}, X, None, [4.0, 24.833333333333336],
     [[0.6666666666666666, -1.3333333333333335, 2.6666666666666665], [7.0, -7.0, 2.0]]),
    ("norm", {"axis": 1}, X, None, [2.23606797749979, 5.024937810560445],
     [[0.4472135954999579, 0.0, 0.8944271909999159],
      [0.5970223141259935, -0.7960297521679913, 0.09950371902099892]]),
    ("norm", {"ord": 1, "axis": 1}, X, None, [3.0, 7.5], [[1.0, 0.0, 1.0], [1.0, -1.0, 1.0]]),
    # the L2 norm's gradient is NaN where the norm is 0
    ("norm", {"axis": 1}, [[0.0, 0.0], [1.0, -2.0]], None, [0.0, 2.23606797749979],
     [[NAN, NAN], [0.4472135954999579, -0.8944271909999159]]),
    # prod's gradient is output / data: NaN where the data is 0 and the product too
    ("prod", {"axis": 1}, X, None, [0.0, -6.0], [[0.0, NAN, 0.0], [-2.0, 1.5, -12.0]]),
    ("nanprod", {"axis": 1}, [[1.0, NAN, 2.0], [3.0, -4.0, 0.5]], None, [2.0, -6.0],
     [[2.0, 0.0, 1.0], [-2.0, 1.5, -12.0]]),
    ("nansum", {"axis": 0}, [[1.0, NAN, 2.0], [3.0, -4.0, 0.5]], None, [4.0, -4.0, 2.5],
     [[1.0, 0.0, 1.0], [1.0, 1.0, 1.0]]),
    ("softmin", {"temperature": 2.0, "axis": 0}, [[1.0, 2.0, 3.0], [0.5, -1.0, 2.0]],
     [[1, 2, 3], [4, 5, 6]],
     [[0.4378234991142019, 0.18242552380635632, 0.37754066879814546],
      [0.5621765008857981, 0.8175744761936437, 0.6224593312018546]],
     [[0.36920112410639744, 0.22371967810549923, 0.3525055683023919],
      [-0.36920112410639755, -0.22371967810549948, -0.35250556830239155]]),
    ("cumsum", {"axis": 1}, X, [[1, 2, 3], [4, 5, 6]], [[1.0, 1.0, 3.0], [3.0, -1.0, -0.5]],
     [[6.0, 5.0, 3.0], [15.0, 11.0, 6.0]]),
    ("cumsum", {}, X, [1, 2, 3, 4, 5, 6], [1.0, 1.0, 3.0, 6.0, 2.0, 2.5],
     [[21.0, 20.0, 18.0], [15.0, 11.0, 6.0]]),
]


@pytest.mark.parametrize("op,params,x,head,y,dx", MXNET,
                         ids=[f"{row[0]}-{i}" for i, row in enumerate(MXNET)])
def test_matches_mxnet(op, params, x, head, y, dx):
    out = getattr(mx.sym, op)(mx.sym.Variable("x"), **params)
    if op == "moments":
        out = out[0] * 2 + out[1] * 3
    exe = out.simple_bind(mx.cpu(), grad_req="write", type_dict={"x": "float64"}, x=np.shape(x))
    exe.arg_dict["x"][:] = np.array(x)
    result = exe.forward(is_train=True)[0]
    exe.backward([np.array(head, np.float64) if head is not None else np.ones(result.shape)])
    np.testing.assert_allclose(result, y, rtol=1e-14)
    np.testing.assert_allclose(exe.grad_dict["x"], dx, rtol=1e-14)


def test_cumsum_is_np_cumsum_in_json():
    """MXNet 1.9.1 registers cumsum as an alias of _np_cumsum, and writes that name."""
    sym = mx.sym.cumsum(mx.sym.Variable("a"), axis=1, name="c")
    assert [n["op"] for n in json.loads(sym.tojson())["nodes"]] == ["null", "_np_cumsum"]
    assert mx.sym.load_json(sym.tojson()).infer_shape(a=(2, 3, 5))[1] == [(2, 3, 5)]


@pytest.mark.parametrize("out_dtype", ["float64", "float32", "int32"])
def test_norm_out_dtype(out_dtype):
    """The output has out_dtype, summed in the data's dtype and converted (MXNet 1.9.1's CPU
    build fails when out_dtype differs from the data's); the gradient reaches float data."""
    data = np.random.default_rng(0).uniform(-3, 3, (2, 3, 5)).astype(np.float32)
    sym = mx.sym.norm(mx.sym.Variable("x"), axis=(0, 2), out_dtype=out_dtype)
    float_out = out_dtype != "int32"
    exe = sym.simple_bind(mx.cpu(), grad_req="write" if float_out else "null",
                          type_dict={"x": "float32"}, x=data.shape)
    exe.arg_dict["x"][:] = data
    out = exe.forward(is_train=True)[0]
    expected = np.sqrt((data.astype(np.float32) ** 2).sum(axis=(0, 2)))
    assert out.dtype == np.dtype(out_dtype)
    np.testing.assert_allclose(out, expected.astype(out_dtype), rtol=1e-6)
    if float_out:
        exe.backward([np.ones(3, out_dtype)])
        grad = exe.grad_dict["x"]
        assert grad.dtype == np.float32
        np.testing.assert_allclose(grad, data / np.asarray(out, np.float32)[None, :, None], rtol=1e-5)


def test_cumsum_dtype():
    """dtype sets the output's type and the accumulator's: the input is converted first."""
    data = np.arange(30, dtype=np.int32).reshape(2, 3, 5) - 7
    sym = mx.sym.cumsum(mx.sym.Variable("a"), axis=1, dtype="float64")
    exe = sym.simple_bind(mx.cpu(), grad_req="null", type_dict={"a": "int32"}, a=data.shape)
    exe.arg_dict["a"][:] = data
    out = exe.forward()[0]
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, np.cumsum(data, axis=1).astype(np.float64))
    # float32 data summed in float64, and the gradient back in float32
    values = np.random.default_rng(1).standard_normal((4, 6)).astype(np.float32)
    sym = mx.sym.cumsum(mx.sym.Variable("a"), dtype="float64")
    exe = sym.simple_bind(mx.cpu(), grad_req="write", type_dict={"a": "float32"}, a=values.shape)
    exe.arg_dict["a"][:] = values
    np.testing.assert_allclose(exe.forward(is_train=True)[0], np.cumsum(values.astype(np.float64)),
                               rtol=1e-15)
    exe.backward([np.ones(24)])
    assert exe.grad_dict["a"].dtype == np.float32
    np.testing.assert_array_equal(exe.grad_dict["a"], np.arange(24, 0, -1).reshape(4, 6))


def test_moments_gradient_with_one_output_used():
    """var alone reaches the loss: mean's missing head gradient counts as zeros."""
    data = np.random.default_rng(2).standard_normal((3, 4, 2))
    var = mx.sym.moments(mx.sym.Variable("x"), axes=(0, 2))[1]
    exe = var.simple_bind(mx.cpu(), grad_req="write", type_dict={"x": "float64"}, x=data.shape)
    exe.arg_dict["x"][:] = data
    exe.forward(is_train=True)
    exe.backward([np.ones(4)])
    mean = data.mean(axis=(0, 2), keepdims=True)
    np.testing.assert_allclose(exe.grad_dict["x"], 2 * (data - mean) / 6, rtol=1e-13)


def test_norm_error_names_operator():
    with pytest.raises(mx.base.MXNetError, match="n1"):
        mx.sym.norm(mx.sym.Variable("x"), axis=(0, 4), name="n1").infer_shape(x=(2, 3, 5))


def test_graph_written_by_mxnet():
    """A graph of these operators that MXNet 1.9.1 wrote loads, and computes MXNet's outputs.
    tests/fixtures/mxnet_math_reductions.json holds the graph ("json"), MXNet's forward outputs
    on float64 data ("outs") and the script that made both ("made_by")."""
    fixture = json.loads((Path(__file__).parent / "fixtures" / "mxnet_math_reductions.json").read_text())
    sym = mx.sym.load_json(json.dumps(fixture["json"]))
    data = np.arange(24).reshape(2, 3, 4) * 0.37 - 4
    exe = sym.simple_bind(mx.cpu(), grad_req="null", type_dict={"x": "float64"}, x=data.shape)
    exe.arg_dict["x"][:] = data
    outputs = exe.forward()
    assert len(outputs) == len(fixture["outs"])
    for out, expected in zip(outputs, fixture["outs"]):
        np.testing.assert_allclose(out, expected, rtol=1e-13, atol=1e-13)
