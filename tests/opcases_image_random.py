"""Registry-table rows for cysym/ops/image_random.py (mx.nd.image's random transforms).

A draw cannot be predicted, so the rows use parameters or images that make the output one known
image: a point mass (min_factor == max_factor), jitter and noise levels of 0, images symmetric
along the flipped axis; the factors and integer pixels keep the float arithmetic exact, so the
references hold in float64 too. Real draws and MXNet's values are tested in
test_image_transforms.py. The gradient is MXNet's, the output's gradient unchanged, which is not
the derivative of most of these: test_image_transforms.py checks it, not finite differences."""
import numpy as np

from opcase import Case


def pixels(rng, shape):
    return rng.integers(0, 256, shape).astype(np.float64)


def symmetric(axis):
    """Integer pixels that read the same forwards and backwards along `axis`."""
    def gen(rng, shape):
        image = pixels(rng, shape)
        return (image + np.flip(image, axis)) / 2
    return gen


def one_factor(factor):
    return dict(min_factor=factor, max_factor=factor)


def np_contrast_gray(data, min_factor, **_):
    # a gray image's mean is its plain mean (8 pixels: exact), then x * f + (1 - f) * mean
    return data * min_factor + (1 - min_factor) * data.mean()


def identity(data, **_):
    return data


BAD_IMAGE = ("shapes", {"data": (4, 5, 2)})

CASE_LIST = [
    Case("_image_random_flip_left_right", {"data": ((4, 6, 3), symmetric(1))}, ref=identity,
         grad=(), bad=[BAD_IMAGE, ("shapes", {"data": (2, 4, 6, 3)})]),
    Case("_image_random_flip_top_bottom", {"data": ((6, 5, 1), symmetric(0))}, ref=identity,
         grad=(), bad=[BAD_IMAGE]),
    Case("_image_random_brightness", {"data": ((4, 5, 3), pixels)}, params=one_factor(0.5),
         ref=lambda data, min_factor, **_: data * min_factor, grad=(),
         bad=[BAD_IMAGE, ("params", {"min_factor": -0.5}), ("params", {"max_factor": None})]),
    Case("_image_random_contrast", {"data": ((4, 2, 1), pixels)}, params=one_factor(0.5),
         ref=np_contrast_gray, grad=(), bad=[BAD_IMAGE, ("params", {"max_factor": -1.0})]),
    # factor 1: gray * (1 - 1) + x, exact; test_image_transforms.py has MXNet's other values
    Case("_image_random_saturation", {"data": ((4, 5, 3), pixels)}, params=one_factor(1.0),
         ref=identity, grad=(), bad=[BAD_IMAGE]),
    Case("_image_random_hue", {"data": ((5, 4, 1), pixels)}, params=one_factor(0.3),
         ref=identity, grad=(), bad=[BAD_IMAGE], id="_image_random_hue-gray"),
    Case("_image_random_color_jitter", {"data": ((4, 5, 3), pixels)},
         params=dict(brightness=0.0, contrast=0.0, saturation=0.0, hue=0.0), ref=identity,
         grad=(), bad=[BAD_IMAGE, ("params", {"hue": None})]),
    Case("_image_random_lighting", {"data": ((4, 5, 3), pixels)}, params=dict(alpha_std=0.0),
         ref=identity, grad=(), bad=[BAD_IMAGE]),
]
