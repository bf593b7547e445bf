"""Corners where cysym differed from MXNet 1.9.1, checked against values MXNet computed: the
legacy `_v1` constructors, relu and _eye on integer dtypes, softmax's use_length (the signs of
mod's zeros are in test_mod_signs.py)."""
import numpy as np
import pytest

import cysym as mx


def _v1_network():
    data = mx.sym.Variable("data")
    conv = mx.sym.Convolution_v1(data, kernel=(3, 2), num_filter=4, pad=(1, 0), stride=(1, 2))
    pool = mx.sym.Pooling_v1(conv, kernel=(2, 3), pool_type="avg", pad=(1, 1), stride=(2, 1))
    return mx.sym.BatchNorm_v1(pool, fix_gamma=False, use_global_stats=True)


def test_v1_constructors_as_mxnet():
    """MXNet 1.9.1 names the nodes and computes the same; values from MXNet with these arrays
    (every argument and auxiliary state filled with cos(0.37 * i + its sorted position), the
    variance squared plus 0.5)."""
    net = _v1_network()
    assert net.list_arguments() == ["data", "convolution_v10_weight", "convolution_v10_bias",
                                    "batchnorm_v10_gamma", "batchnorm_v10_beta"]
    assert net.list_auxiliary_states() == ["batchnorm_v10_moving_mean", "batchnorm_v10_moving_var"]
    exe = net.simple_bind(mx.cpu(), data=(2, 3, 7, 9), grad_req="null")
    arrays = sorted(exe.arg_dict.items()) + sorted(exe.aux_dict.items())
    for position, (name, array) in enumerate(arrays):
        values = np.cos(np.arange(array.size) * 0.37 + position).reshape(array.shape)
        array[:] = values * values + 0.5 if "var" in name else values
    out = np.asarray(exe.forward(is_train=False)[0])
    assert out.shape == (2, 4, 4, 4)
    np.testing.assert_allclose(out.ravel()[[0, 7, 30, 77, -1]],
                               [0.8461268544197083, 0.7372898459434509, 0.8966579437255859,
                                1.1211953163146973, 1.3863266706466675], rtol=1e-5)


def test_v1_nodes_are_the_current_operators():
    """cysym writes the current operator names: MXNet loads those, and cysym loads `_v1` ones."""
    ops = [node["op"] for node in __import__("json").loads(_v1_network().tojson())["nodes"]]
    assert [op for op in ops if op != "null"] == ["Convolution", "Pooling", "BatchNorm"]
    assert mx.nd.Pooling_v1(mx.nd.array(np.arange(12.0).reshape(1, 1, 3, 4)), kernel=(1, 2), stride=(1, 2),
                            pool_type="max").asnumpy().ravel().tolist() == [1, 3, 5, 7, 9, 11]


@pytest.mark.parametrize("dtype", ["int32", "int64"])
def test_relu_keeps_integer_dtype(dtype):
    """MXNet 1.9.1: mx.nd.relu of int32/int64 arrays is max(x, 0) in their dtype."""
    out = mx.nd.relu(mx.nd.array([-5, 0, 7, -1], dtype=dtype))
    assert out.dtype == np.dtype(dtype) and out.asnumpy().tolist() == [0, 0, 7, 0]
    exe = mx.sym.relu(mx.sym.Variable("x")).simple_bind(mx.cpu(), x=(2, 3), type_dict={"x": dtype},
                                                       grad_req="null")
    result = exe.forward(x=mx.nd.array([[-3, 4, 0], [9, -9, 1]], dtype=dtype))[0]
    assert result.dtype == np.dtype(dtype) and np.asarray(result).tolist() == [[0, 4, 0], [9, 0, 1]]


@pytest.mark.parametrize("dtype", ["int32", "int64", "uint8", "int8"])
def test_eye_integer_dtypes(dtype):
    out = mx.nd._eye(N=3, M=5, k=1, dtype=dtype)
    assert out.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(out.asnumpy(), np.eye(3, 5, 1, dtype=dtype))
    exe = mx.sym.Cast(mx.sym.eye(N=4, M=2, k=-1, dtype=dtype), dtype="float64").simple_bind(
        mx.cpu(), grad_req="null")
    np.testing.assert_array_equal(np.asarray(exe.forward()[0]), np.eye(4, 2, -1))


def test_softmax_use_length_as_mxnet():
    """MXNet 1.9.1's softmax(x, length, use_length=True, axis=1, temperature=1.5) and its
    gradient for out_grad cos(arange(24)), with int32 lengths (printed by MXNet, rounded to 7
    decimals); MXNet's length input takes no gradient."""
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4) * 0.3 - 2
    length = np.array([[2, 3, 0, 1], [1, 3, 2, 3]], dtype=np.int32)
    expected = [[[0.3100256, 0.1222707, 0.0, 1.0], [0.6899745, 0.2721185, 0.0, 0.0], [0.0, 0.6056108, 0.0, 0.0]],
                [[1.0, 0.1222707, 0.3100256, 0.1222707], [0.0, 0.2721184, 0.6899745, 0.2721185],
                 [0.0, 0.6056108, 0.0, 0.6056108]]]
    gradient = [[[0.2358203, 0.0773435, 0.0, 0.0], [-0.2358203, 0.1255736, 0.0, 0.0], [0.0, -0.2029171, 0.0, 0.0]],
                [[0.0, 0.0980677, -0.0746658, -0.0499807], [0.0, 0.0037136, 0.0746658, 0.205946],
                 [0.0, -0.1017812, 0.0, -0.1559653]]]
    np.testing.assert_allclose(mx.nd.softmax(mx.nd.array(x), mx.nd.array(length, dtype=np.int32), use_length=True,
                                             axis=1, temperature=1.5).asnumpy(), expected, atol=2e-7)
    net = mx.sym.softmax(mx.sym.Variable("x"), mx.sym.Variable("length"), use_length=True, axis=1, temperature=1.5)
    assert net.list_arguments() == ["x", "length"]
    assert mx.sym.softmax(mx.sym.Variable("x"), use_length=True, name="sm").list_arguments() == ["x", "sm_length"]
    exe = net.simple_bind(mx.cpu(), x=x.shape, type_dict={"x": np.float32, "length": np.int32}, grad_req={"x": "write", "length": "null"})
    exe.forward(is_train=True, x=x, length=mx.nd.array(length, dtype=np.int32))
    exe.backward(mx.nd.array(np.cos(np.arange(24)).reshape(2, 3, 4)))
    np.testing.assert_allclose(np.asarray(exe.grad_dict["x"]), gradient, atol=3e-7)


def test_use_length_only_for_softmax():
    for op in (mx.sym.log_softmax, mx.sym.softmin):
        with pytest.raises(mx.MXNetError, match="use_length=True is supported by softmax only"):
            op(mx.sym.Variable("x"), use_length=True).infer_shape(x=(2, 3))
