"""The interleaved attention matmuls give MXNet 1.9.1's numbers.

The literals were made with MXNet 1.9.1 (pip mxnet==1.9.1, MXNET_SUBGRAPH_BACKEND=NONE): inputs
k of shape s are np.sin((0.37 + 0.11 * k) * np.arange(prod(s))).reshape(s) as float32, heads=2,
forward through mx.nd.contrib.<op>, backward with the head gradient
np.cos(0.23 * np.arange(out.size)).reshape(out.shape); the tests print elements [0, 7, 19, 31, -1]
of the flattened output and of each input gradient, and each gradient's sum of magnitudes.
"""
import numpy as np
import pytest

import cysym as mx

PICK = [0, 7, 19, 31, -1]

MXNET = {
    "_contrib_interleaved_matmul_selfatt_qk": (
        [(4, 3, 30)], (6, 4, 4),
        [0.2757715, 0.956405, 0.18803985, -0.7981355, -0.6195156],
        [([0.26324597, 0.5068927, -0.04436263, 0.17586216, 0.0], 57.15419006347656)]),
    "_contrib_interleaved_matmul_selfatt_valatt": (
        [(4, 3, 30), (6, 4, 4)], (4, 3, 10),
        [0.5336706, -0.45994112, 0.00973576, -0.64856523, 0.02898127],
        [([0.0, 0.0, 0.0, 0.0, -0.25030634], 45.58600616455078),
         ([-3.480793, -0.68667847, 0.7506859, -0.49705252, -0.8607325], 165.41143798828125)]),
    "_contrib_interleaved_matmul_encdec_qk": (
        [(2, 3, 10), (4, 3, 20)], (6, 2, 4),
        [1.1373447, 0.98683363, -0.47037962, -1.442085, -1.1443769],
        [([-0.2155375, 0.22810265, 0.10237351, 0.07107324, -0.09935039], 10.158592224121094),
         ([-0.26945516, 0.0, 0.0, -0.54182875, 0.0], 32.89800262451172)]),
    "_contrib_interleaved_matmul_encdec_valatt": (
        [(4, 3, 20), (6, 2, 4)], (2, 3, 10),
        [-0.3915014, 0.2821028, -0.65624285, 0.49467152, -0.07829182],
        [([0.0, 0.44551906, 0.75667816, 0.0, 0.61447], 64.65733337402344),
         ([2.2322526, -0.52343667, -3.6738515, 0.8853333, -1.3406723], 87.83294677734375)]),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("op", sorted(MXNET))
def test_matches_mxnet(op, dtype):
    shapes, out_shape, out_values, grads = MXNET[op]
    names = [f"x{k}" for k in range(len(shapes))]
    sym = getattr(mx.sym, op)(*[mx.sym.Variable(n) for n in names], heads=2)
    exe = sym.simple_bind(mx.cpu(), grad_req="write", type_dict={n: dtype for n in names},
                          **dict(zip(names, shapes)))
    for k, (name, shape) in enumerate(zip(names, shapes)):
        exe.arg_dict[name][:] = np.sin((0.37 + 0.11 * k) * np.arange(np.prod(shape))).reshape(
            shape).astype(np.float32)
    out = exe.forward(is_train=True)[0]
    assert out.shape == out_shape
    np.testing.assert_allclose(out.ravel()[PICK], out_values, rtol=1e-5, atol=1e-6)
    exe.backward([np.cos(0.23 * np.arange(out.size)).reshape(out.shape).astype(np.float32)])
    for name, (values, magnitude) in zip(names, grads):
        grad = exe.grad_dict[name].ravel()
        np.testing.assert_allclose(grad[PICK], values, rtol=1e-5, atol=1e-6, err_msg=name)
        np.testing.assert_allclose(np.abs(grad).sum(), magnitude, rtol=1e-5, err_msg=name)
