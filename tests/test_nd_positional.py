"""mx.nd.<Op> takes its inputs positionally as MXNet does, counting them under the parameters
given by keyword: LeakyReLU(x, gamma, act_type='prelu'), Deconvolution(x, w, b, no_bias=False)."""
import numpy as np
import pytest

import cysym as mx
from cysym.base import OperatorError


def test_prelu_gamma_positionally():
    # MXNet 1.9.1: mx.nd.LeakyReLU(mx.nd.array([[-1,-2],[3,-4]]), mx.nd.array([0.5,0.25]), act_type='prelu')
    out = mx.nd.LeakyReLU(mx.nd.array([[-1, -2], [3, -4]]), mx.nd.array([0.5, 0.25]), act_type="prelu")
    np.testing.assert_array_equal(out.asnumpy(), [[-0.5, -0.5], [3.0, -1.0]])


def test_deconvolution_bias_positionally():
    x, w, b = mx.nd.ones((1, 2, 3, 3)), mx.nd.ones((2, 4, 2, 2)), mx.nd.ones((4,))
    with_bias = mx.nd.Deconvolution(x, w, b, kernel=(2, 2), num_filter=4, no_bias=False)
    without = mx.nd.Deconvolution(x, w, kernel=(2, 2), num_filter=4)
    # MXNet 1.9.1, the same calls, channel 0
    np.testing.assert_array_equal(without.asnumpy()[0, 0], [[2, 4, 4, 2], [4, 8, 8, 4], [4, 8, 8, 4], [2, 4, 4, 2]])
    np.testing.assert_array_equal(with_bias.asnumpy(), without.asnumpy() + 1)


@pytest.mark.parametrize("call", [
    lambda: mx.nd.Deconvolution(mx.nd.ones((1, 2, 3, 3)), mx.nd.ones((2, 4, 2, 2)), mx.nd.ones((4,)),
                                kernel=(2, 2), num_filter=4),
    lambda: mx.nd.LeakyReLU(mx.nd.ones((2, 2)), mx.nd.ones((2,))),
], ids=["Deconvolution-no_bias-default", "LeakyReLU-leaky"])
def test_more_arrays_than_the_parameters_take_is_a_clear_error(call):
    # MXNet: "Operator Deconvolution expects 2 inputs, but got 3 instead."
    with pytest.raises(OperatorError, match=r"input arrays given, but with these parameters it takes"):
        call()
