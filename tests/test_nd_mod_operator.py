"""NDArray's `%`, `%=` and reversed `%` are MXNet's mod operator, as mx.nd.modulo: zeros carry
MXNet 1.9.1's signs and integer arrays keep their dtype (NumPy's remainder gives other signs)."""
import numpy as np
import pytest

import cysym as mx

# MXNet 1.9.1's results, printed by /tmp/mxref with MXNET_SUBGRAPH_BACKEND=NONE:
#   a = mx.nd.array(LHS); b = mx.nd.array(RHS); (a % b), (a % 2), (2 % b); c = a.copy(); c %= b
LHS = [-4.0, 4.0, -0.0, 0.0, -3.5, 3.5]
RHS = [2.0, -2.0, 2.0, -2.0, 1.5, -1.5]
MOD = [0.0, 0.0, -0.0, 0.0, 1.0, -1.0]
MOD_2 = [0.0, 0.0, -0.0, 0.0, 0.5, 1.5]
TWO_MOD = [0.0, 0.0, 0.0, 0.0, 0.5, -1.0]
#   i = mx.nd.array([-4, 5, 7], dtype='int32'); j = mx.nd.array([3, -3, 0], dtype='int32')
#   (i % j), (i % 2.5), (7 % i): int32 results
INT_MOD = [2, -1, 0]
INT_MOD_SCALAR = [0, 1, 1]      # the scalar is cast to the array's dtype: 2.5 -> 2
INT_RMOD = [-1, 2, 0]


def _same_with_signs(result, expected, dtype):
    assert isinstance(result, mx.nd.NDArray)
    assert result.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(result, np.array(expected, dtype))
    assert np.signbit(result).tolist() == np.signbit(expected).tolist()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_mod_operators_are_mxnet_mod(dtype):
    lhs, rhs = mx.nd.array(LHS, dtype=dtype), mx.nd.array(RHS, dtype=dtype)
    _same_with_signs(lhs % rhs, MOD, dtype)
    _same_with_signs(lhs % rhs.asnumpy(), MOD, dtype)
    _same_with_signs(lhs % 2, MOD_2, dtype)
    _same_with_signs(2 % rhs, TWO_MOD, dtype)
    in_place = lhs.copy()
    in_place %= rhs
    _same_with_signs(in_place, MOD, dtype)


def test_mod_operators_on_integers():
    i = mx.nd.array([-4, 5, 7], dtype="int32")
    j = mx.nd.array([3, -3, 0], dtype="int32")
    _same_with_signs(i % j, INT_MOD, "int32")
    _same_with_signs(i % 2.5, INT_MOD_SCALAR, "int32")
    _same_with_signs(7 % i, INT_RMOD, "int32")


def test_mod_broadcasts():
    lhs = mx.nd.array(LHS).reshape((2, 3))
    rhs = mx.nd.array([[2.0], [-1.5]])
    # MXNet 1.9.1: mx.nd.array(LHS).reshape((2, 3)) % mx.nd.array([[2], [-1.5]])
    expected = [[0.0, 0.0, -0.0], [0.0, -0.5, -1.0]]
    _same_with_signs(lhs % rhs, expected, "float32")
