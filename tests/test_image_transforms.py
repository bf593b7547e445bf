"""mx.nd.image's resize and random transforms against MXNet 1.9.1: resize's numbers where OpenCV's
arithmetic is not obvious (uint8 rounding, bicubic, Lanczos), and the random transforms' seeding and
distributions (their draws are cysym's own, not MXNet's bits)."""
import json
from pathlib import Path

import numpy as np
import pytest

import cysym as mx

# written by fixtures/mxnet/make_image_transforms.py under MXNet 1.9.1
TRANSFORMS = json.loads((Path(__file__).parent / "fixtures" / "mxnet" /
                         "image-transforms-1.9.1.json").read_text())

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


# ---------------------------------------------------------------------------------------------
# the random transforms

def _image(shape, dtype):
    """The images of make_image_transforms.py."""
    return mx.nd.array(_pattern(shape) * 23 + (0 if dtype == "uint8" else 3.5), dtype=dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64", "uint8"])
@pytest.mark.parametrize("kind", ["brightness", "contrast", "saturation", "hue"])
def test_transform_with_one_factor_is_mxnets(kind, dtype):
    factor = TRANSFORMS["factors"][kind]
    transform = getattr(mx.nd.image, f"random_{kind}")
    out = transform(_image((3, 4, 3), dtype), min_factor=factor, max_factor=factor)
    assert out.dtype == np.dtype(dtype)
    # bit for bit: the same float arithmetic in the same order (uint8 saturated as MXNet's)
    assert out.asnumpy().astype(np.float64).ravel().tolist() == TRANSFORMS["results"][f"{kind}-{dtype}"]


def test_contrast_of_a_gray_image_is_mxnets():
    out = mx.nd.image.random_contrast(_image((3, 4, 1), "float32"), min_factor=0.6, max_factor=0.6)
    assert out.asnumpy().astype(np.float64).ravel().tolist() == TRANSFORMS["results"]["contrast-gray-float32"]


def _draws(transform, image, count, **params):
    return np.stack([transform(image, **params).asnumpy() for _ in range(count)])


def test_seed_repeats_the_draws_and_each_call_draws_again():
    image = _image((3, 4, 3), "float32")
    mx.random.seed(5)
    first = _draws(mx.nd.image.random_color_jitter, image, 6, brightness=0.3, contrast=0.3,
                   saturation=0.3, hue=0.3)
    mx.random.seed(5)
    again = _draws(mx.nd.image.random_color_jitter, image, 6, brightness=0.3, contrast=0.3,
                   saturation=0.3, hue=0.3)
    np.testing.assert_array_equal(first, again)
    assert len({draw.tobytes() for draw in first}) == 6


def test_brightness_factor_is_uniform_between_the_bounds():
    mx.random.seed(1)
    factors = _draws(mx.nd.image.random_brightness, mx.nd.ones((2, 3, 1)), 400, min_factor=0.5,
                     max_factor=1.5)
    assert np.all(factors == factors[:, :1, :1])       # one factor per image
    factors = factors[:, 0, 0, 0]
    assert 0.5 <= factors.min() < 0.55 and 1.45 < factors.max() < 1.5
    # the mean of 400 uniforms on [0.5, 1.5): standard deviation 0.29 / 20
    assert abs(factors.mean() - 1.0) < 4 * 0.29 / 20


@pytest.mark.parametrize("kind, axis", [("flip_left_right", 1), ("flip_top_bottom", 0)])
def test_flips_happen_half_of_the_time(kind, axis):
    image = mx.nd.array(_pattern((3, 4, 3)))
    mx.random.seed(2)
    draws = _draws(getattr(mx.nd.image, f"random_{kind}"), image, 400)
    flipped = np.array([np.array_equal(d, np.flip(image.asnumpy(), axis)) for d in draws])
    kept = np.array([np.array_equal(d, image.asnumpy()) for d in draws])
    assert np.all(flipped ^ kept)
    assert abs(flipped.mean() - 0.5) < 4 * 0.5 / 20      # binomial(400, 1/2)


def test_lighting_alphas_are_normal_with_alpha_std():
    from cysym.ops.image import _LIGHTING_EIGEN
    mx.random.seed(3)
    offsets = _draws(mx.nd.image.random_lighting, mx.nd.zeros((1, 2, 3)), 400,
                     alpha_std=0.2)[:, 0, 0].astype(np.float64)
    alphas = np.linalg.solve(_LIGHTING_EIGEN.astype(np.float64), offsets.T).T
    assert np.all(np.abs(alphas.mean(axis=0)) < 4 * 0.2 / 20)
    assert np.all(np.abs(alphas.std(axis=0) - 0.2) < 0.2 * 4 / np.sqrt(2 * 400))


def test_color_jitter_draws_each_factor_around_one():
    image = mx.nd.array(_pattern((3, 4, 3)) * 23 + 3.5)
    mx.random.seed(4)
    factors = _draws(mx.nd.image.random_color_jitter, image, 200, brightness=0.25, contrast=0.0,
                     saturation=0.0, hue=0.0) / image.asnumpy()
    factors = factors.reshape(200, -1)
    np.testing.assert_allclose(factors, factors[:, :1].repeat(factors.shape[1], 1), rtol=1e-6)
    assert 0.75 <= factors.min() < 0.8 and 1.2 < factors.max() < 1.25


@pytest.mark.parametrize("name, params", [
    ("_image_random_flip_left_right", {}), ("_image_random_flip_top_bottom", {}),
    ("_image_random_brightness", dict(min_factor=0.5, max_factor=2.0)),
    ("_image_random_contrast", dict(min_factor=0.5, max_factor=2.0)),
    ("_image_random_saturation", dict(min_factor=0.5, max_factor=2.0)),
    ("_image_random_hue", dict(min_factor=0.1, max_factor=0.4)),
    ("_image_random_color_jitter", dict(brightness=0.1, contrast=0.2, saturation=0.3, hue=0.4)),
    ("_image_random_lighting", dict(alpha_std=0.3)),
])
def test_gradient_is_the_output_gradient_as_mxnet(name, params):
    net = getattr(mx.sym, name)(mx.sym.var("data"), **params)
    executor = net.simple_bind(mx.cpu(), grad_req="write", data=(3, 4, 3))
    executor.arg_dict["data"][:] = _pattern((3, 4, 3))
    executor.forward(is_train=True)
    head = np.random.default_rng(0).standard_normal((3, 4, 3)).astype(np.float32)
    executor.backward([mx.nd.array(head)])
    np.testing.assert_array_equal(executor.grad_dict["data"].asnumpy(), head)


def test_odd_flip_writes_the_middle_column():
    image = mx.nd.array(_pattern((2, 5, 3)))
    mx.random.seed(0)
    for _ in range(8):
        out = mx.nd.image.random_flip_left_right(image).asnumpy()
        assert np.array_equal(out, image.asnumpy()) or np.array_equal(out, image.asnumpy()[:, ::-1])
