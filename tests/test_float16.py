"""float16 arrays: stored, saved and loaded as MXNet 1.9.1 does, Cast to and from, and computed in
float32 by the mx.nd operators, which return float16 where MXNet does. Bound graphs with float16
entries: tests/test_float16_bind.py."""
import numpy as np
import pytest

import cysym as mx

# mx.nd.save('half.params', {'w': mx.nd.array([[0.5, -1.25, 3.0]], dtype='float16'),
#                            'b': mx.nd.array([1 / 3.], dtype='float16')}) under MXNet 1.9.1
MXNET_HALF_PARAMS = bytes.fromhex(
    "120100000000000000000000000000000200000000000000c9fa93f900000000020000000100000000000000"
    "0300000000000000010000000000000002000000003800bd0042c9fa93f90000000001000000010000000000"
    "000001000000000000000200000055350200000000000000010000000000000077010000000000000062")


def test_float16_params_are_mxnets_bytes(tmp_path):
    path = tmp_path / "half.params"
    path.write_bytes(MXNET_HALF_PARAMS)
    loaded = mx.nd.load(str(path))
    assert {name: array.dtype for name, array in loaded.items()} == {"w": np.float16, "b": np.float16}
    np.testing.assert_array_equal(loaded["w"], np.array([[0.5, -1.25, 3.0]], np.float16))
    np.testing.assert_array_equal(loaded["b"], np.array([1 / 3], np.float16))
    again = tmp_path / "again.params"
    mx.nd.save(str(again), {"w": loaded["w"], "b": loaded["b"]})
    assert again.read_bytes() == MXNET_HALF_PARAMS


def _half(values):
    return mx.nd.array(values, dtype="float16")


@pytest.mark.parametrize("name, call", [
    ("exp", lambda x: mx.nd.exp(x)),
    ("relu", lambda x: mx.nd.relu(x)),
    ("softmax", lambda x: mx.nd.softmax(x)),
    ("sum", lambda x: mx.nd.sum(x, axis=1)),
    ("FullyConnected", lambda x: mx.nd.FullyConnected(x, x[:2], x[0, :2], num_hidden=2)),
    ("mod", lambda x: x % 0.75),
])
def test_nd_operators_compute_float16_in_float32(name, call):
    values = np.array([[0.3, -1.7, 2.9], [1.1, 0.45, -0.2]])
    result = call(_half(values))
    assert isinstance(result, mx.nd.NDArray) and result.dtype == np.float16
    # the float32 computation on the same float16 values, rounded once
    expected = call(mx.nd.array(values.astype(np.float16), dtype="float32")).astype(np.float16)
    np.testing.assert_array_equal(result, expected)


def test_mxnet_values_of_float16_exp():
    # mx.nd.exp(mx.nd.array([0.3, -1.7, 2.9], dtype='float16')) under MXNet 1.9.1
    result = mx.nd.exp(_half([0.3, -1.7, 2.9]))
    assert result.dtype == np.float16
    assert result.tolist() == [1.349609375, 0.1826171875, 18.1875]


def test_cast_to_and_from_float16():
    third = mx.nd.Cast(mx.nd.array([1 / 3, 70000.0]), dtype="float16")
    assert third.dtype == np.float16
    np.testing.assert_array_equal(third, np.array([1 / 3, np.inf], np.float16))
    back = mx.nd.Cast(third, dtype="float64")
    assert back.dtype == np.float64 and back[0] == float(np.float16(1 / 3))
    assert mx.nd.amp_cast(mx.nd.array([0.1]), dtype="float16").dtype == np.float16
    assert third.astype("float32").dtype == np.float32


def test_float16_with_a_float32_operand_computes_in_float32():
    result = mx.nd.broadcast_add(_half([1.5, 2.25]), mx.nd.array([1.0, 2.0]))
    assert result.dtype == np.float32


def test_outputs_of_a_fixed_dtype_stay_so():
    # to_tensor is float32 whatever its image; topk's indices take its dtype parameter
    assert mx.nd.image.to_tensor(mx.nd.ones((2, 3, 3), dtype="float16")).dtype == np.float32
    values, indices = mx.nd.topk(_half([0.5, 2.0, 1.0]), k=2, ret_typ="both")
    assert values.dtype == np.float16 and indices.dtype == np.float32
    assert values.tolist() == [2.0, 1.0] and indices.tolist() == [1.0, 2.0]


def test_float16_samples():
    mx.random.seed(0)
    samples = mx.nd.random.uniform(0.25, 0.75, shape=(400,), dtype="float16")
    assert samples.dtype == np.float16
    assert 0.25 <= samples.asnumpy().min() and samples.asnumpy().max() <= 0.75
