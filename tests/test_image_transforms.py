"""mx.nd.image's resize and random transforms against MXNet 1.9.1: resize's numbers where OpenCV's
arithmetic is not obvious (uint8 rounding, bicubic, Lanczos), and the random transforms' seeding and
distributions (their draws are cysym's own, not MXNet's bits)."""
import numpy as np
import pytest

import cysym as mx

# MXNet 1.9.1, printed by /tmp/mxref (MXNET_SUBGRAPH_BACKEND=NONE):
#   x = mx.nd.array((((np.arange(2*6*4*3) * 37) % 11) * 23).reshape(2, 6, 4, 3), dtype='uint8')
#   mx.nd.image.resize(x, size=(3,), keep_ratio=True, interp=2).asnumpy().ravel().tolist()
RESIZE_UINT8_BICUBIC_KEEP_RATIO = [
    20, 121, 147, 51, 159, 197, 91, 128, 43, 186, 56, 81, 239, 94, 126, 59, 62, 180, 26, 155, 184,
    60, 153, 100, 122, 150, 17, 196, 90, 114, 126, 87, 150, 56, 84, 187, 68, 158, 165, 108, 127, 11,
    139, 164, 61, 200, 92, 156, 21, 61, 196, 73, 99, 226, 85, 134, 4, 142, 165, 34, 171, 197, 74, 43,
    68, 169, 74, 100, 219, 106, 132, 65]
#   x = mx.nd.array((((np.arange(5*4*1) * 37) % 11) / 4.0 - 1.3).reshape(5, 4, 1), dtype='float64')
#   mx.nd.image.resize(x, size=(6, 3), interp=4).asnumpy().ravel().tolist()
RESIZE_FLOAT64_LANCZOS = [
    -1.2020839050695418, -0.4104626363873078, 0.3838616120850821, 0.20121911039646365,
    -0.30342252260528285, -0.5263118073374198, 1.405218494357541, 0.12363819861784582,
    -0.4945707649341784, 0.39457069891504937, -0.22363819843158125, -1.5052186949993485,
    0.42631173889033036, 0.20342252493358925, -0.3012191437979965, -0.48386155887981486,
    0.31046263871561386, 1.102084053729689]


def _pattern(shape):
    return ((np.arange(int(np.prod(shape))) * 37) % 11).reshape(shape)


def test_resize_uint8_bicubic_keep_ratio_as_mxnet():
    image = mx.nd.array(_pattern((2, 6, 4, 3)) * 23, dtype="uint8")
    resized = mx.nd.image.resize(image, size=(3,), keep_ratio=True, interp=2)
    assert resized.dtype == np.uint8 and resized.shape == (2, 4, 3, 3)
    assert resized.asnumpy().ravel().tolist() == RESIZE_UINT8_BICUBIC_KEEP_RATIO


def test_resize_float64_lanczos_as_mxnet():
    image = mx.nd.array(_pattern((5, 4, 1)) / 4.0 - 1.3, dtype="float64")
    resized = mx.nd.image.resize(image, size=(6, 3), interp=4)
    assert resized.shape == (3, 6, 1)
    np.testing.assert_allclose(resized.asnumpy().ravel(), RESIZE_FLOAT64_LANCZOS, rtol=1e-6)


@pytest.mark.parametrize("shape, size, keep_ratio, expected", [
    ((4, 5, 3), (3,), False, (3, 3, 3)),
    ((4, 6, 3), (3,), True, (3, 4, 3)),      # the short side (height) to 3, width 6 * 3 // 4
    ((2, 7, 5, 1), (2,), True, (2, 2, 2, 1)),   # width the short side: height 7 * 2 // 5
    ((4, 5, 3), (7, 2), True, (2, 7, 3)),    # (width, height): keep_ratio has no effect
])
def test_resize_shapes_as_mxnet(shape, size, keep_ratio, expected):
    net = mx.sym.image.resize(mx.sym.var("data"), size=size, keep_ratio=keep_ratio)
    _, out_shapes, _ = net.infer_shape(data=shape)
    assert out_shapes == [expected]
