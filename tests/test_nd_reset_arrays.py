"""mx.nd.reset_arrays zeroes its arrays in place and returns an empty list, as MXNet 1.9.1's
(which refuses integer arrays: "This operation only support floating point types")."""
import numpy as np
import pytest

import cysym as mx


def test_reset_arrays_zeroes_every_array_in_place():
    first = mx.nd.array(np.arange(6).reshape(2, 3) + 1.0)
    second = mx.nd.array([1.5, -2.0, 3.0, 4.0], dtype="float64")
    assert mx.nd.reset_arrays(first, second, num_arrays=2) == []
    np.testing.assert_array_equal(first, np.zeros((2, 3), np.float32))
    np.testing.assert_array_equal(second, np.zeros(4))
    assert first.dtype == np.float32 and second.dtype == np.float64


def test_reset_arrays_refuses_integers_and_a_wrong_count():
    integers = mx.nd.array([1, 2, 3], dtype="int32")
    with pytest.raises(mx.base.MXNetError, match="floating point"):
        mx.nd.reset_arrays(integers, num_arrays=1)
    np.testing.assert_array_equal(integers, [1, 2, 3])
    with pytest.raises(ValueError, match="num_arrays=2"):
        mx.nd.reset_arrays(mx.nd.ones((2, 3)), num_arrays=2)
