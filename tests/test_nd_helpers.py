"""MXNet's Python helpers of mx.nd (python/mxnet/ndarray/ndarray.py): moveaxis, concatenate,
onehot_encode, the element-wise add ... logical_xor with numbers on either side, eye, linspace,
histogram, split_v2, from_numpy."""
import numpy as np
import pytest

import cysym as mx


def _array(shape, dtype="float32"):
    return mx.nd.array(np.arange(np.prod(shape)).reshape(shape), dtype=dtype)


@pytest.mark.parametrize("source, destination", [(0, -1), ([0, 2], [1, 0]), ((1,), (2,)), (-1, 0)])
@pytest.mark.parametrize("dtype", ["float32", "float64", "int32"])
def test_moveaxis_is_numpys(source, destination, dtype):
    tensor = _array((2, 3, 4), dtype)
    result = mx.nd.moveaxis(tensor, source, destination)
    assert isinstance(result, mx.nd.NDArray) and result.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(result, np.moveaxis(np.asarray(tensor), source, destination))
    result[...] = 0   # a new array, as MXNet's (its transpose operator), not a view
    assert np.asarray(tensor).any()


def test_moveaxis_matches_mxnet_and_refuses_bad_axes():
    # MXNet 1.9.1: mx.nd.moveaxis(arange(24).reshape(2, 3, 4), [0, 2], [1, 0]) has shape (4, 2, 3)
    # and starts 0, 4, 8, 12, 16, 20, 1, 5
    result = mx.nd.moveaxis(_array((2, 3, 4)), [0, 2], [1, 0])
    assert result.shape == (4, 2, 3)
    np.testing.assert_array_equal(result.reshape(-1)[:8], [0, 4, 8, 12, 16, 20, 1, 5])
    with pytest.raises(ValueError, match="axis 3 is out of bounds"):
        mx.nd.moveaxis(_array((2, 3, 4)), 3, 0)
    with pytest.raises(ValueError, match="same number of elements"):
        mx.nd.moveaxis(_array((2, 3, 4)), 0, (0, 1))


@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("dtype", ["float32", "float64", "int32"])
def test_concatenate_joins_along_axis(axis, dtype):
    first, second = _array((2, 5), dtype), _array((2, 5), dtype) * 2
    if axis != 0:
        first = _array((2, 2), dtype)
    result = mx.nd.concatenate([first, second], axis=axis)
    assert isinstance(result, mx.nd.NDArray) and result.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(result, np.concatenate([first, second], axis=axis))


def test_concatenate_copies_unless_told_and_wants_one_dtype():
    only = _array((2, 5))
    assert mx.nd.concatenate([only], always_copy=False) is only
    copy = mx.nd.concatenate([only])
    assert copy is not only
    np.testing.assert_array_equal(copy, only)
    with pytest.raises(TypeError, match="one dtype"):
        mx.nd.concatenate([only, _array((2, 5), "int32")])
    with pytest.raises(ValueError, match="list"):
        mx.nd.concatenate(only)
    with pytest.raises(mx.MXNetError):
        mx.nd.concatenate([only, _array((3, 4))], axis=1)


def test_onehot_encode_writes_out():
    # MXNet 1.9.1: onehot_encode(array([4, 0, 2]), zeros((3, 5))) returns out, holding these rows
    out = mx.nd.zeros((3, 5))
    assert mx.nd.onehot_encode(mx.nd.array([4, 0, 2]), out) is out
    np.testing.assert_array_equal(out, [[0, 0, 0, 0, 1], [1, 0, 0, 0, 0], [0, 0, 1, 0, 0]])
    with pytest.raises(mx.MXNetError, match="rhs"):
        mx.nd.onehot_encode(mx.nd.array([4, 0]), mx.nd.zeros((3, 5)))


# name, NumPy's twin (comparisons give 1/0 in the operands' dtype, as MXNet's)
ELEMENT_WISE = [
    ("add", np.add), ("subtract", np.subtract), ("multiply", np.multiply),
    ("divide", np.divide), ("true_divide", np.divide), ("modulo", np.mod),
    ("power", np.power), ("maximum", np.maximum), ("minimum", np.minimum),
    ("equal", np.equal), ("not_equal", np.not_equal), ("greater", np.greater),
    ("greater_equal", np.greater_equal), ("lesser", np.less), ("lesser_equal", np.less_equal),
    ("logical_and", np.logical_and), ("logical_or", np.logical_or),
    ("logical_xor", np.logical_xor),
]


@pytest.mark.parametrize("name, twin", ELEMENT_WISE, ids=[row[0] for row in ELEMENT_WISE])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_element_wise_helpers_take_arrays_and_numbers(name, twin, dtype):
    function = getattr(mx.nd, name)
    # a zero tests the logical helpers; x / 0 and x % 0 are not what this test is about
    last = 0.5 if twin in (np.divide, np.mod, np.power) else 0.0
    lhs = mx.nd.array([[1.5, -2.0, 3.0, last]], dtype=dtype)
    rhs = mx.nd.array([[2.0], [3.0], [-1.5]], dtype=dtype)
    plain_lhs, plain_rhs = np.asarray(lhs), np.asarray(rhs)
    with np.errstate(invalid="ignore"):   # (-2) ** 1.5 is nan, in MXNet too
        cases = [(function(lhs, rhs), twin(plain_lhs, plain_rhs)),
                 (function(lhs, 2.0), twin(plain_lhs, np.array(2.0, dtype))),
                 (function(2.0, lhs), twin(np.array(2.0, dtype), plain_lhs))]
    for result, expected in cases:
        assert isinstance(result, mx.nd.NDArray) and result.dtype == np.dtype(dtype)
        np.testing.assert_allclose(result, expected.astype(dtype), rtol=1e-6)
    assert function(3, 2) == twin(3, 2)


def test_element_wise_helpers_match_mxnet_values():
    # MXNet 1.9.1 with x = [[1, -2, 3]]: f(2, x) for the reversed scalar operators
    x = mx.nd.array([[1, -2, 3]])
    np.testing.assert_array_equal(mx.nd.subtract(2, x), [[1, 4, -1]])
    np.testing.assert_allclose(mx.nd.divide(2, x), [[2.0, -1.0, 0.6666666865348816]])
    np.testing.assert_array_equal(mx.nd.modulo(2, x), [[0, 0, 2]])
    np.testing.assert_array_equal(mx.nd.power(2, x), [[2, 0.25, 8]])
    np.testing.assert_array_equal(mx.nd.greater(2, x), [[1, 1, 0]])
    np.testing.assert_array_equal(mx.nd.lesser_equal(2, x), [[0, 0, 1]])
    assert mx.nd.greater(3, 2) == 1 and mx.nd.logical_xor(3, 2) == 0
    with pytest.raises(TypeError, match="not supported"):
        mx.nd.add(x, "2")


def test_eye_and_linspace():
    np.testing.assert_array_equal(mx.nd.eye(2, 3, 1), np.eye(2, 3, 1))
    assert mx.nd.eye(3).dtype == np.float32 and mx.nd.eye(3, dtype="float64").dtype == np.float64
    # MXNet 1.9.1: linspace(2, 3, 5, endpoint=False), float32
    np.testing.assert_array_equal(mx.nd.linspace(2, 3, 5, endpoint=False),
                                  np.array([2.0, 2.2, 2.4, 2.6, 2.8], np.float32))
    np.testing.assert_allclose(mx.nd.linspace(-1, 4, 7, dtype="float64"), np.linspace(-1, 4, 7))


def test_histogram_forms():
    data = mx.nd.array([1, 2, 2, 3, 5])
    # MXNet 1.9.1: counts int64 [1, 3, 1, 0], edges float32 [0, 2, 4, 6, 8]
    counts, edges = mx.nd.histogram(data, bins=4, range=(0, 8))
    assert counts.dtype == np.int64 and edges.dtype == np.float32
    np.testing.assert_array_equal(counts, [1, 3, 1, 0])
    np.testing.assert_array_equal(edges, [0, 2, 4, 6, 8])
    counts, _ = mx.nd.histogram(data, bins=mx.nd.array([0, 1.5, 4, 6]))
    np.testing.assert_array_equal(counts, [1, 3, 1])
    counts, edges = mx.nd.histogram(data, bins=3)   # no range: NumPy's, as float32 arrays
    assert counts.dtype == np.float32
    np.testing.assert_array_equal(counts, [3, 1, 1])
    np.testing.assert_allclose(edges, [1, 7 / 3, 11 / 3, 5], rtol=1e-6)
    with pytest.raises(ValueError, match="bins"):
        mx.nd.histogram(data, bins=2.5)


def test_split_v2_sections_and_indices():
    data = _array((6, 2))
    pieces = mx.nd.split_v2(data, (1, 3))
    assert [p.shape for p in pieces] == [(1, 2), (2, 2), (3, 2)]
    np.testing.assert_array_equal(pieces[1], np.asarray(data)[1:3])
    wide = _array((2, 6))
    pieces = mx.nd.split_v2(wide, 3, axis=1)
    np.testing.assert_array_equal(pieces[2], [[4, 5], [10, 11]])
    squeezed = mx.nd.split_v2(_array((2, 3)), 3, axis=1, squeeze_axis=True)
    assert [p.shape for p in squeezed] == [(2,), (2,), (2,)]
    with pytest.raises(ValueError, match="equal division"):
        mx.nd.split_v2(wide, 4, axis=1)
    with pytest.raises(ValueError, match="int or tuple"):
        mx.nd.split_v2(wide, [1, 2])


def test_from_numpy_shares_memory_or_copies():
    source = np.arange(6, dtype=np.float32).reshape(2, 3)
    shared = mx.nd.from_numpy(source)
    assert isinstance(shared, mx.nd.NDArray) and np.shares_memory(shared, source)
    assert not source.flags["WRITEABLE"]   # as MXNet's zero-copy conversion leaves it
    other = np.arange(6.0).reshape(3, 2)
    copy = mx.nd.from_numpy(other, zero_copy=False)
    assert copy.dtype == np.float64 and not np.shares_memory(copy, other)
    with pytest.raises(ValueError, match="c-contiguous"):
        mx.nd.from_numpy(np.arange(6.0).reshape(2, 3).T)
