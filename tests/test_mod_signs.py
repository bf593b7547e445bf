"""mod's zeros carry MXNet 1.9.1's signs (mshadow_op::mod, which computes on |a| and |b|):
broadcast_mod, _mod, _mod_scalar and _rmod_scalar against values MXNet computed."""
import numpy as np
import pytest

import cysym as mx

# MXNet 1.9.1's results for these operands, zero signs included (printed by mx.nd ... .tolist())
MOD_LHS = [-4.0, 4.0, -0.0, 0.0, -3.5, 3.5, -2.0]
MOD_RHS = [2.0, -2.0, 2.0, -2.0, 3.0, -3.0, 0.0]
MOD = [0.0, 0.0, -0.0, 0.0, 2.5, -2.5, 0.0]                   # broadcast_mod and _mod
MOD_SCALAR_2 = [0.0, 0.0, -0.0, 0.0, 0.5, 1.5, 0.0]           # lhs % 2 (MXNet's _mod_scalar)
MOD_SCALAR_MINUS_2 = [-0.0, 0.0, 0.0, 0.0, -1.5, -0.5, -0.0]  # lhs % -2
RMOD_SCALAR = [0.0, -0.0, 0.0, -0.0, 2.0, -1.0, 0.0]          # -4 % rhs


def _same_with_signs(result, expected):
    result = np.asarray(result)
    np.testing.assert_array_equal(result, expected)
    assert np.signbit(result).tolist() == np.signbit(expected).tolist()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_mod_zero_signs_as_mxnet(dtype):
    lhs, rhs = mx.nd.array(MOD_LHS, dtype=dtype), mx.nd.array(MOD_RHS, dtype=dtype)
    _same_with_signs(mx.nd.broadcast_mod(lhs, rhs), MOD)
    _same_with_signs(mx.nd._mod(lhs, rhs), MOD)
    _same_with_signs(mx.nd._mod_scalar(lhs, scalar=2.0), MOD_SCALAR_2)
    _same_with_signs(mx.nd._mod_scalar(lhs, scalar=-2.0), MOD_SCALAR_MINUS_2)
    _same_with_signs(mx.nd._rmod_scalar(rhs, scalar=-4.0), RMOD_SCALAR)
