"""Registry-table rows for cysym/ops/image.py (MXNet's mx.nd.image operators), with NumPy
references written from src/operator/image/image_random-inl.h."""
import numpy as np

from opcase import Case, positive, signed


def np_to_tensor(data):
    # (N,) H x W x C -> (N,) C x H x W, divided by 255: float32 whatever the image's dtype
    return (np.moveaxis(data, -1, -3) / 255.0).astype(np.float32)


def np_normalize(data, mean, std):
    channels = data.shape[-3]
    # MXNet's mean and std are float32 values, one or one per channel
    mean, std = (np.broadcast_to(np.float32(v), (channels,)).astype(np.float64) for v in (mean, std))
    shape = (channels, 1, 1)
    return (data - mean.reshape(shape)) / std.reshape(shape)


# MXNet's lighting offsets for alpha = (0.03, -0.2, 0.11), float32: its output minus its input
# for the first pixel of tests/test_image_ops.py's image (MXNet 1.9.1)
LIGHTING_OFFSETS = np.array([-1.5831498, -1.0648123, -0.2517439], np.float32)


def np_adjust_lighting(data, alpha):
    if data.shape[2] == 1:   # a gray image is returned unchanged
        return data
    # MXNet adds the float32 offsets in float32, whatever the image's dtype
    assert tuple(alpha) == (0.03, -0.2, 0.11)
    return (data.astype(np.float32) + LIGHTING_OFFSETS).astype(data.dtype)


def pixels(rng, shape):
    return rng.integers(0, 256, shape).astype(np.float64)


CASE_LIST = [
    # no gradient reaches the image (zero_grad): see cysym/ops/image.py
    Case("_image_to_tensor", {"data": ((4, 5, 3), pixels)}, ref=np_to_tensor, zero_grad=True,
         bad=[("shapes", {"data": (4, 5)})]),
    Case("_image_to_tensor", {"data": ((2, 4, 5, 1), pixels)}, ref=np_to_tensor, zero_grad=True,
         id="_image_to_tensor-batch"),
    Case("_image_normalize", {"data": ((3, 4, 5), positive)},
         params=dict(mean=(0.1, 0.25, 0.3), std=(0.5, 2.0, 3.0)), ref=np_normalize,
         bad=[("params", {"mean": (0.1, 0.2)}), ("shapes", {"data": (2, 4, 5)})]),
    Case("_image_normalize", {"data": ((2, 1, 4, 5), signed)}, params=dict(mean=(0.3,), std=(0.7,)),
         ref=np_normalize, id="_image_normalize-batch-one-channel"),
    Case("_image_normalize", {"data": ((2, 3, 4, 5), signed)}, params=dict(mean=(-0.2,), std=(1.5,)),
         ref=np_normalize, id="_image_normalize-batch-one-value"),
    Case("_image_flip_left_right", {"data": ((4, 5, 3), signed)}, ref=lambda data: data[:, ::-1],
         bad=[("shapes", {"data": (2, 4, 5, 3)})]),
    Case("_image_flip_top_bottom", {"data": ((5, 4, 1), signed)}, ref=lambda data: data[::-1],
         bad=[("shapes", {"data": (5, 4, 2)})]),
    Case("_image_crop", {"data": ((4, 5, 3), signed)}, params=dict(x=1, y=2, width=3, height=2),
         ref=lambda data, x, y, width, height: data[y:y + height, x:x + width],
         bad=[("params", {"x": 3}), ("params", {"x": -1}), ("shapes", {"data": (4, 5, 2)})]),
    Case("_image_crop", {"data": ((2, 5, 4, 1), signed)}, params=dict(x=0, y=1, width=4, height=3),
         ref=lambda data, x, y, width, height: data[:, y:y + height, x:x + width],
         id="_image_crop-batch"),
    # the forward computes in float32 (as MXNet's), so float64 finite differences would see
    # its rounding: tests/test_image_ops.py checks the gradient (the identity)
    Case("_image_adjust_lighting", {"data": ((4, 5, 3), signed)}, params=dict(alpha=(0.03, -0.2, 0.11)),
         ref=np_adjust_lighting, grad=(), bad=[("params", {"alpha": (0.1, 0.2)}),
                                              ("shapes", {"data": (4, 5, 2)})]),
    Case("_image_adjust_lighting", {"data": ((5, 4, 1), signed)}, params=dict(alpha=(0.5, 0.5, 0.5)),
         ref=np_adjust_lighting, grad=(), id="_image_adjust_lighting-one-channel"),
]


def _linear_taps(in_size, out_size):
    """OpenCV's bilinear taps along one axis: source index and weights of the two neighbours of
    each output pixel, whose centre maps to (i + 0.5) * in / out - 0.5, clamped at the edges;
    the weights are float32 numbers, for float64 images too (OpenCV's coefficient type)."""
    position = ((np.arange(out_size) + 0.5) * (1 / (out_size / in_size)) - 0.5).astype(np.float32)
    first = np.floor(position).astype(int)
    weight = position - first.astype(np.float32)
    weight[first < 0] = 0
    first[first < 0] = 0
    weight[first >= in_size - 1] = 0
    first[first >= in_size - 1] = in_size - 1
    return first, np.minimum(first + 1, in_size - 1), np.stack([1 - weight, weight]).astype(np.float64)


def np_resize_bilinear(data, size, **_):
    width, height = size
    top, bottom, (w_top, w_bottom) = _linear_taps(data.shape[-3], height)
    left, right, (w_left, w_right) = _linear_taps(data.shape[-2], width)
    rows = (data[..., top, :, :] * w_top[:, None, None]
            + data[..., bottom, :, :] * w_bottom[:, None, None])
    return rows[..., left, :] * w_left[:, None] + rows[..., right, :] * w_right[:, None]


CASE_LIST += [
    # MXNet's gradient is a copy of the resized output's gradient, which cannot fit the image
    # (its backward crashes): cysym passes a zero one, as for to_tensor
    Case("_image_resize", {"data": ((4, 5, 3), signed)}, params=dict(size=(7, 2)),
         ref=np_resize_bilinear, zero_grad=True,
         bad=[("params", {"size": ()}), ("params", {"size": (2, 3, 4)}), ("params", {"size": (0, 3)}),
              ("params", {"interp": 5}), ("shapes", {"data": (4, 5)})]),
    Case("_image_resize", {"data": ((2, 3, 6, 1), signed)}, params=dict(size=(4, 5)),
         ref=np_resize_bilinear, zero_grad=True, id="_image_resize-batch"),
]
