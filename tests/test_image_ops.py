"""mx.nd.image / mx.sym.image (cysym/ops/image.py) against MXNet 1.9.1's numbers, and where
cysym's image operators differ from MXNet's on purpose."""
import numpy as np
import pytest

import cysym as mx

# float32 values (MXNet's float64 run cast its float32 array up)
TENSOR = (np.arange(12).reshape(3, 2, 2) / 7.0).astype(np.float32).astype(np.float64)
MEAN, STD = (0.1, 0.2, 0.3), (0.5, 2.0, 3.0)
# MXNet 1.9.1 at /tmp/mxref: mx.nd.image.normalize(mx.nd.array(TENSOR).astype(dtype), mean=MEAN,
# std=STD)
MXNET_NORMALIZE = {
    "float32": [[[-0.20000000298023224, 0.08571429550647736], [0.37142860889434814, 0.6571428775787354]],
                [[0.18571430444717407, 0.2571428716182709], [0.3285714387893677, 0.4000000059604645]],
                [[0.2809523940086365, 0.3285714089870453], [0.37619051337242126, 0.4238095283508301]]],
    "float64": [[[-0.20000000298023224, 0.08571429550647736], [0.37142859399318695, 0.6571428626775742]],
                [[0.18571429699659348, 0.2571428641676903], [0.3285714313387871, 0.3999999985098839]],
                [[0.2809523940086365, 0.32857141892115277], [0.3761904835700989, 0.42380950848261517]]],
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_normalize_and_its_gradient_match_mxnet(dtype):
    result = mx.nd.image.normalize(mx.nd.array(TENSOR, dtype=dtype), mean=MEAN, std=STD)
    assert result.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(result, np.array(MXNET_NORMALIZE[dtype], dtype))
    symbol = mx.sym.image.normalize(mx.sym.Variable("x"), mean=MEAN, std=STD)
    executor = symbol.simple_bind(mx.cpu(), x=TENSOR.shape, type_dict={"x": dtype})
    executor.forward(is_train=True, x=TENSOR)
    executor.backward(mx.nd.ones(TENSOR.shape, dtype=dtype))
    # MXNet 1.9.1: the float32 gradient of ones is 2, 0.5 and 0.3333333432674408 per channel
    # (out_grad * (1.0 / std[c]), the reciprocal in double)
    expected = np.repeat(np.array([2.0, 0.5, 1 / 3], dtype), 4).reshape(TENSOR.shape)
    np.testing.assert_allclose(executor.grad_dict["x"], expected, rtol=1e-7 if dtype == "float32" else 1e-15)


def test_normalize_wants_one_value_or_one_per_channel():
    # MXNet's defaults hold four values, which fit neither 1 nor 3 channels: MXNet refuses them too
    with pytest.raises(mx.MXNetError, match="mean must have either 1 or 3 elements"):
        mx.nd.image.normalize(mx.nd.array(TENSOR))
    with pytest.raises(mx.MXNetError, match="1 or 3"):
        mx.nd.image.normalize(mx.nd.ones((2, 4, 5)), mean=0.5, std=2.0)
    np.testing.assert_allclose(mx.nd.image.normalize(mx.nd.array(TENSOR), mean=0.25, std=0.5),
                               (TENSOR - 0.25) / 0.5, rtol=1e-6)


@pytest.mark.parametrize("dtype", ["uint8", "int8", "int32", "int64", "float32", "float64"])
def test_to_tensor_takes_every_image_dtype(dtype):
    image = np.arange(2 * 3 * 3).reshape(2, 3, 3).astype(dtype)
    result = mx.nd.image.to_tensor(mx.nd.array(image, dtype=dtype))
    assert result.dtype == np.float32 and result.shape == (3, 2, 3)
    # MXNet 1.9.1: the first values for every one of these dtypes
    np.testing.assert_array_equal(result.reshape(-1)[:4],
                                  np.array([0.0, 0.0117647061124444, 0.0235294122248888,
                                            0.03529411926865578], np.float32))
    batch = mx.nd.image.to_tensor(mx.nd.array(np.stack([image, image + 1]), dtype=dtype))
    assert batch.shape == (2, 3, 2, 3)
    np.testing.assert_array_equal(batch[0], result)


def test_flips_write_every_column_and_row():
    image = np.arange(2 * 3).reshape(2, 3, 1).astype(np.float32)
    # MXNet 1.9.1 gives [2, 0, 0, 5, 0, 3]: out of place, its FlipImpl leaves the middle column
    # of an odd width unwritten
    np.testing.assert_array_equal(mx.nd.image.flip_left_right(mx.nd.array(image)).reshape(-1),
                                  [2, 1, 0, 5, 4, 3])
    np.testing.assert_array_equal(mx.nd.image.flip_top_bottom(mx.nd.array(image)).reshape(-1),
                                  [3, 4, 5, 0, 1, 2])
    ints = mx.nd.image.flip_left_right(mx.nd.array(image, dtype="int32"))
    assert ints.dtype == np.int32
    flip = mx.sym.image.flip_left_right(mx.sym.Variable("image"))
    with pytest.raises(mx.MXNetError, match="uint8"):   # MXNet flips uint8 images: Cast first
        flip.simple_bind(mx.cpu(), image=image.shape, type_dict={"image": "uint8"}, grad_req="null")


def test_image_operators_compose_and_round_trip_through_json():
    data = mx.sym.Variable("data")
    net = mx.sym.image.normalize(mx.sym.image.to_tensor(mx.sym.image.flip_left_right(data)),
                                 mean=(0.5,), std=(0.25,))
    loaded = mx.sym.load_json(net.tojson())
    image = np.random.default_rng(0).integers(0, 256, (4, 5, 1)).astype(np.float32)
    outputs = []
    for symbol in (net, loaded):
        executor = symbol.simple_bind(mx.cpu(), data=image.shape, grad_req="null")
        outputs.append(executor.forward(data=image)[0].copy())
    expected = (np.moveaxis(image[:, ::-1], -1, 0) / np.float32(255) - np.float32(0.5)) / np.float32(0.25)
    np.testing.assert_allclose(outputs[0], expected, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(outputs[0], outputs[1])


def test_crop_and_its_gradient_match_mxnet():
    images = mx.nd.array(np.arange(2 * 4 * 5 * 3).reshape(2, 4, 5, 3))
    # MXNet 1.9.1: mx.nd.image.crop(images, 1, 2, 3, 2)[:, :, :, 0] (x, y, width, height)
    np.testing.assert_array_equal(mx.nd.image.crop(images, 1, 2, 3, 2)[:, :, :, 0],
                                  [[[33, 36, 39], [48, 51, 54]], [[93, 96, 99], [108, 111, 114]]])
    symbol = mx.sym.image.crop(mx.sym.Variable("x"), x=2, y=1, width=2, height=3)
    executor = symbol.simple_bind(mx.cpu(), x=(4, 5, 1))
    executor.forward(is_train=True, x=np.arange(20.0).reshape(4, 5, 1))
    executor.backward(mx.nd.ones((3, 2, 1)) * 2)
    # MXNet 1.9.1: the gradient of crop(x, 2, 1, 2, 3) under a head gradient of twos
    np.testing.assert_array_equal(executor.grad_dict["x"][:, :, 0],
                                  [[0, 0, 0, 0, 0], [0, 0, 2, 2, 0], [0, 0, 2, 2, 0], [0, 0, 2, 2, 0]])
    with pytest.raises(mx.MXNetError, match="does not fit"):
        mx.nd.image.crop(images, 3, 0, 3, 2)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_adjust_lighting_matches_mxnet_and_passes_the_gradient(dtype):
    image = np.arange(2 * 3 * 3).reshape(2, 3, 3) * 1.7 - 4.0
    # MXNet 1.9.1: adjust_lighting(image, alpha=(0.03, -0.2, 0.11)), the first six values; the
    # same for float64 images, which MXNet lights in float32 too
    expected = [-5.5831499099731445, -3.3648123741149902, -0.8517439365386963,
                -0.48314976692199707, 1.7351876497268677, 4.248256206512451]
    symbol = mx.sym.image.adjust_lighting(mx.sym.Variable("x"), alpha=(0.03, -0.2, 0.11))
    executor = symbol.simple_bind(mx.cpu(), x=image.shape, type_dict={"x": dtype})
    out = executor.forward(is_train=True, x=image)[0]
    np.testing.assert_array_equal(out.reshape(-1)[:6], np.array(expected, dtype))
    head = np.random.default_rng(1).normal(size=image.shape)
    executor.backward(mx.nd.array(head, dtype=dtype))
    np.testing.assert_array_equal(executor.grad_dict["x"], head.astype(dtype))
    gray = mx.nd.array(image[:, :, :1], dtype=dtype)
    np.testing.assert_array_equal(mx.nd.image.adjust_lighting(gray, alpha=(0.5, 0.5, 0.5)), gray)
