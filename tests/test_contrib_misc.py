"""_contrib_quadratic, _contrib_gradientmultiplier, _contrib_round_ste and _contrib_sign_ste
(cysym/ops/contrib_misc.py) against MXNet 1.9.1: forward values and the gradients that are by
design not the forward's derivative."""
import numpy as np
import pytest

import cysym as mx

X = [[1.5, -2.0, 0.3], [2.5, -0.5, 4.1]]
HEAD = [[1, 2, 3], [4, 5, 6]]

# mx.nd.contrib.<op>(x, **params) under autograd.record(), then y.backward(HEAD): made by MXNet
# 1.9.1 at /tmp/mxref with x = mx.nd.array(X, dtype); (output, x.grad)
MXNET = {
    ("quadratic", "float32"): (
        [[0.025000005960464478, 5.799999713897705, 0.07300001382827759],
         [1.5250000953674316, 1.225000023841858, 6.836999893188477]],
        [[0.7999999523162842, -8.199999809265137, -2.6399998664855957],
         [8.800000190734863, -10.0, 26.639997482299805]]),
    ("quadratic", "float64"): (
        [[0.02500005066394806, 5.799999862909317, 0.07300001919269566],
         [1.525000050663948, 1.2249999791383743, 6.837000001072882]],
        [[0.800000011920929, -8.199999809265137, -2.639999878406525],
         [8.799999952316284, -9.999999701976776, 26.639999699592586]]),
    ("gradientmultiplier", "float32"): (X, [[-0.5, -1.0, -1.5], [-2.0, -2.5, -3.0]]),
    ("round_ste", "float32"): ([[2.0, -2.0, 0.0], [3.0, -1.0, 4.0]], HEAD),
    ("sign_ste", "float32"): ([[1.0, -1.0, 1.0], [1.0, -1.0, 1.0]], HEAD),
}
PARAMS = {"quadratic": dict(a=0.7, b=-1.3, c=0.4), "gradientmultiplier": dict(scalar=-0.5)}


@pytest.mark.parametrize("op, dtype", list(MXNET), ids=[f"{op}-{dtype}" for op, dtype in MXNET])
def test_forward_and_gradient_match_mxnet(op, dtype):
    expected_out, expected_grad = MXNET[op, dtype]
    symbol = getattr(mx.sym.contrib, op)(mx.sym.Variable("x"), **PARAMS.get(op, {}))
    executor = symbol.simple_bind(mx.cpu(), x=(2, 3), type_dict={"x": dtype})
    out = executor.forward(is_train=True, x=np.array(X, dtype))[0]
    executor.backward(mx.nd.array(HEAD, dtype=dtype))
    rtol = 1e-6 if dtype == "float32" else 1e-15
    np.testing.assert_allclose(out, np.array(expected_out, dtype), rtol=rtol)
    np.testing.assert_allclose(executor.grad_dict["x"], np.array(expected_grad, dtype), rtol=rtol)
    imperative = getattr(mx.nd.contrib, op)(mx.nd.array(X, dtype=dtype), **PARAMS.get(op, {}))
    np.testing.assert_allclose(imperative, out, rtol=0)


def test_gradient_multiplier_reverses_a_gradient_in_a_network():
    data = mx.sym.Variable("data")
    features = mx.sym.FullyConnected(data, num_hidden=4, name="fc")
    reversed_grad = mx.sym.contrib.gradientmultiplier(features, scalar=-1.0)
    loss = mx.sym.MakeLoss(mx.sym.sum(mx.sym.square(reversed_grad)))
    plain = mx.sym.MakeLoss(mx.sym.sum(mx.sym.square(features)))
    grads = []
    for net in (loss, plain):
        executor = net.simple_bind(mx.cpu(), data=(3, 5), type_dict={"data": "float64"})
        rng = np.random.default_rng(0)
        for name, array in executor.arg_dict.items():
            array[...] = rng.normal(size=array.shape)
        executor.forward(is_train=True)
        executor.backward()
        grads.append(executor.grad_dict["fc_weight"].copy())
    np.testing.assert_allclose(grads[0], -grads[1], rtol=1e-14)


ALLCLOSE_BASE = np.array([[1.0, -2.0, 3.0], [4.0, 5.0, -0.5]])
# (dtype, relative change of b = base * (1 + change), params, allclose(a, b), allclose(b, a))
# printed by MXNet 1.9.1 at /tmp/mxref (mx.nd.contrib.allclose(...).asscalar())
MXNET_ALLCLOSE = [
    (dtype, change, params, close, close)
    for dtype in ("float32", "float64")
    for change, params, close in [(0.0, {}, 1), (5e-06, {}, 1), (9.9e-06, {}, 1), (1.01e-05, {}, 0),
                                  (2e-05, {}, 0), (0.0009, {"rtol": 0.001}, 1),
                                  (0.0012, {"rtol": 0.001}, 0)]
]


@pytest.mark.parametrize("dtype, change, params, forward, backward", MXNET_ALLCLOSE)
def test_allclose_matches_mxnet(dtype, change, params, forward, backward):
    a = mx.nd.array(ALLCLOSE_BASE, dtype=dtype)
    b = mx.nd.array(ALLCLOSE_BASE * (1 + change), dtype=dtype)
    result = mx.nd.contrib.allclose(a, b, **params)
    assert result.shape == () and result.dtype == np.uint8
    assert (int(result), int(mx.nd.contrib.allclose(b, a, **params))) == (forward, backward)


def test_allclose_nan_integers_and_shapes():
    # MXNet 1.9.1: [1, nan] vs itself is 1, and 0 with equal_nan=False; int32 [1, 2] vs [1, 3]
    # with atol=1 is 1
    with_nan = mx.nd.array([1.0, np.nan])
    assert int(mx.nd.contrib.allclose(with_nan, with_nan)) == 1
    assert int(mx.nd.contrib.allclose(with_nan, with_nan, equal_nan=False)) == 0
    ints = [mx.nd.array(v, dtype="int32") for v in ([1, 2], [1, 3])]
    assert int(mx.nd.contrib.allclose(*ints, atol=1)) == 1
    assert int(mx.nd.contrib.allclose(*ints, atol=0.5)) == 0
    with pytest.raises(mx.MXNetError, match="one shape"):
        mx.nd.contrib.allclose(mx.nd.ones((2, 3)), mx.nd.ones((3, 2)))
