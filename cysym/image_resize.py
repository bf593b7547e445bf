"""Resizing images as OpenCV 3.4.2 (the OpenCV inside MXNet 1.9.1's wheels) does in cv2.resize:
nearest, bilinear, bicubic, area and Lanczos-4 interpolation, with its 11-bit fixed-point weights,
the rounding of its vectorised loops and its edge rules for uint8 images, so resized images equal
MXNet's pixel for pixel (other OpenCV builds, such as the opencv-python wheels, may round a few
pixels differently). Float images are interpolated without rounding.

mx.image (cysym/image.py) and the _image_resize operator (cysym/ops/image_resize.py) resize through
`resize_array`; it needs NumPy only.
"""
import math

import numpy as np

from .base import MXNetError

NEAREST, LINEAR, CUBIC, AREA, LANCZOS4 = 0, 1, 2, 3, 4
_COEF_SCALE = 2048              # OpenCV's INTER_RESIZE_COEF_SCALE: uint8 weights in 11-bit fixed point


def _cubic_coefficients(fx):
    """OpenCV's bicubic kernel (A = -0.75) at offsets fx (float32) for the taps sx-1 .. sx+2."""
    a = np.float32(-0.75)
    x = fx.astype(np.float32)
    c0 = ((a * (x + 1) - 5 * a) * (x + 1) + 8 * a) * (x + 1) - 4 * a
    c1 = ((a + 2) * x - (a + 3)) * x * x + 1
    c2 = ((a + 2) * (1 - x) - (a + 3)) * (1 - x) * (1 - x) + 1
    return np.stack([c0, c1, c2, 1 - c0 - c1 - c2], axis=1).astype(np.float32)


def _lanczos4_coefficients(fx):
    """OpenCV's Lanczos-4 kernel at offsets fx for the taps sx-3 .. sx+4, normalised to sum 1."""
    s45 = 0.70710678118654752440084436210485
    cs = np.array([[1, 0], [-s45, -s45], [0, 1], [s45, -s45], [-1, 0], [s45, s45], [0, -1], [-s45, s45]])
    x = fx.astype(np.float64)[:, None]
    y0 = -(x + 3) * math.pi * 0.25
    distance = (x + 3 - np.arange(8)).astype(np.float32)
    y = -distance.astype(np.float64) * math.pi * 0.25
    with np.errstate(divide="ignore", invalid="ignore"):
        coefficients = ((cs[:, 0] * np.sin(y0) + cs[:, 1] * np.cos(y0)) / (y * y)).astype(np.float32)
    coefficients[np.abs(distance) < 1e-6] = 1e30
    return coefficients / coefficients.sum(axis=1, keepdims=True, dtype=np.float32)


def _axis_taps(in_size, out_size, interp, area_mode, quantize, horizontal):
    """(indices, coefficients), each (out_size, taps): output pixel i along one axis is
    coefficients[i] @ input[indices[i]], with OpenCV 3.4's offsets, edge clamping and (quantize)
    11-bit coefficients, for the interpolating kernels (bilinear, bicubic, Lanczos-4, and area
    when enlarging). Along the horizontal axis only, bilinear output pixels whose taps pass an
    edge take the edge pixel whole, as OpenCV does."""
    scale = 1.0 / (out_size / in_size)        # as OpenCV computes it, from the inverse scale
    rows = np.arange(out_size)
    if area_mode:
        # OpenCV's INTER_AREA when enlarging: bilinear with offsets from the covered area
        start = np.floor(rows * scale).astype(np.int64)
        fx = ((rows + 1) - (start + 1) / scale).astype(np.float32)
        fx = np.where(fx <= 0, np.float32(0), fx - np.floor(fx)).astype(np.float32)
    else:
        fx = ((rows + 0.5) * scale - 0.5).astype(np.float32)
        start = np.floor(fx).astype(np.int64)
        fx = (fx - start).astype(np.float32)
    if interp in (LINEAR, AREA):
        taps = 2
        if horizontal:
            edge = (start < 0) | (start >= in_size - 1)
            fx[edge] = 0
            start = np.where(edge, np.clip(start, 0, in_size - 1), start)
        coefficients = np.stack([1 - fx, fx], axis=1).astype(np.float32)
    elif interp == CUBIC:
        taps = 4
        coefficients = _cubic_coefficients(fx)
    elif interp == LANCZOS4:
        taps = 8
        coefficients = _lanczos4_coefficients(fx)
    else:
        raise ValueError(f"Unknown interp method {interp}")
    if quantize:
        coefficients = np.rint(coefficients * np.float32(_COEF_SCALE)) / _COEF_SCALE
    # taps past an edge repeat the edge pixel, as OpenCV's border handling does
    indices = np.clip(start[:, None] - (taps // 2 - 1) + np.arange(taps), 0, in_size - 1)
    return indices, coefficients.astype(np.float64)


def _axis_weights(in_size, out_size, interp, area_mode, quantize, horizontal):
    """(out_size, in_size) matrix: output pixel i along one axis is weights[i] @ input pixels."""
    scale = 1.0 / (out_size / in_size)        # as OpenCV computes it, from the inverse scale
    rows = np.arange(out_size)
    weights = np.zeros((out_size, in_size))
    if interp == NEAREST:
        weights[rows, np.minimum(np.floor(rows * scale).astype(np.int64), in_size - 1)] = 1
    elif interp == AREA and not area_mode:
        # shrinking: each output pixel averages the input cells it covers, by covered fraction
        for dx in rows:
            start, end = dx * scale, dx * scale + scale
            cell = min(scale, in_size - start)
            first, last = math.ceil(start), min(math.floor(end), in_size - 1)
            first = min(first, last)
            if first - start > 1e-3:
                weights[dx, first - 1] = np.float32((first - start) / cell)
            weights[dx, first:last] = np.float32(1.0 / cell)
            if end - last > 1e-3:
                weights[dx, last] = np.float32(min(end - last, 1.0, cell) / cell)
    else:
        indices, coefficients = _axis_taps(in_size, out_size, interp, area_mode, quantize, horizontal)
        np.add.at(weights, (np.repeat(rows, indices.shape[1]), indices.ravel()), coefficients.ravel())
    return weights


def _integer_factors(scale_x, scale_y):
    """(factor_x, factor_y) when OpenCV's INTER_AREA shrink takes whole blocks of pixels (both
    inverse scales whole numbers), else None."""
    factor_x, factor_y = round(scale_x), round(scale_y)
    if abs(scale_x - factor_x) < np.finfo(float).eps and abs(scale_y - factor_y) < np.finfo(float).eps:
        return factor_x, factor_y
    return None


def _area_taps(in_size, out_size):
    """(indices, alphas), each (out_size, taps) float32-weighted: the input cells each output
    pixel of an INTER_AREA shrink covers, in increasing order, padded with zero weights."""
    weights = _axis_weights(in_size, out_size, AREA, False, False, None).astype(np.float32)
    count = int((weights != 0).sum(axis=1).max())
    order = np.argsort(weights == 0, axis=1, kind="stable")[:, :count]
    return order, np.take_along_axis(weights, order, axis=1)


def _area_shrink(src, width, height, scale_x, scale_y):
    """OpenCV 3.4's INTER_AREA shrink in its own arithmetic: integer factors average blocks of
    integer sums (2x2: (sum + 2) >> 2); other factors accumulate the covered fractions in float32,
    along each row first, then over rows, and round once."""
    factors = _integer_factors(scale_x, scale_y)
    if factors is not None:
        factor_x, factor_y = factors
        blocks = src.astype(np.int64).reshape((height, factor_y, width, factor_x) + src.shape[2:]).sum(axis=(1, 3))
        if factor_x == factor_y == 2:
            return (blocks + 2) >> 2
        return np.rint(blocks.astype(np.float32) * np.float32(1.0 / (factor_x * factor_y)))

    in_height, in_width = src.shape[:2]
    x_index, x_alpha = _area_taps(in_width, width)
    y_index, y_alpha = _area_taps(in_height, height)
    image = src.astype(np.float32)
    alpha_shape = (1, width) + (1,) * (src.ndim - 2)
    rows = np.zeros((in_height, width) + src.shape[2:], np.float32)
    for k in range(x_index.shape[1]):
        rows += image[:, x_index[:, k]] * x_alpha[:, k].reshape(alpha_shape)
    beta_shape = (height,) + (1,) * (src.ndim - 1)
    out = rows[y_index[:, 0]] * y_alpha[:, 0].reshape(beta_shape)
    for k in range(1, y_index.shape[1]):
        out += rows[y_index[:, k]] * y_alpha[:, k].reshape(beta_shape)
    return np.rint(out)


def _bilinear_uint8_rows(horizontal, indices, coefficients):
    """OpenCV 3.4's vectorised vertical bilinear pass over a uint8 image, whose rows after the
    horizontal pass are in fixed point (pixel * 2048) in horizontal: the products' low bits are
    dropped before rounding, ((top >> 4) * b0 >> 16) + ((bottom >> 4) * b1 >> 16) + 2 >> 2, not
    the exact (top * b0 + bottom * b1 + 2^21) >> 22 of its scalar code (measured against MXNet:
    the vectorised form matches every pixel; the scalar one misses ~1 in 8 by one grey level)."""
    top = horizontal[indices[:, 0]]
    bottom = horizontal[indices[:, 1]]
    beta = np.rint(coefficients * _COEF_SCALE).astype(np.int64)
    b0, b1 = (beta[:, k].reshape((-1,) + (1,) * (top.ndim - 1)) for k in (0, 1))
    return (((top >> 4) * b0 >> 16) + ((bottom >> 4) * b1 >> 16) + 2) >> 2


def _cubic_uint8_rows(horizontal, indices, coefficients):
    """OpenCV 3.4's vertical bicubic pass over a uint8 image (rows after the horizontal pass in
    fixed point, pixel * 2048, in horizontal): its SIMD loop, over the first multiple of 8
    elements of each row, sums in float32 and rounds to nearest even; the scalar tail rounds the
    exact integer sum, (sum + 2^21) >> 22."""
    beta = np.rint(coefficients * _COEF_SCALE).astype(np.int64)
    shape = (-1,) + (1,) * (horizontal.ndim - 1)
    taps = [horizontal[indices[:, k]] for k in range(indices.shape[1])]
    exact = sum(tap * beta[:, k].reshape(shape) for k, tap in enumerate(taps))
    exact = (exact + (1 << 21)) >> 22
    scale = np.float32(1.0 / (_COEF_SCALE * _COEF_SCALE))
    simd = taps[0].astype(np.float32) * (beta[:, 0].astype(np.float32) * scale).reshape(shape)
    for k in range(1, len(taps)):
        simd += taps[k].astype(np.float32) * (beta[:, k].astype(np.float32) * scale).reshape(shape)
    simd = np.rint(simd).astype(np.int64)
    rows = len(exact)
    width = exact[0].size
    out = np.where(np.arange(width) < width // 8 * 8, simd.reshape(rows, width), exact.reshape(rows, width))
    return out.reshape(exact.shape)


def resize_mode(in_width, in_height, width, height, interp):
    """(interp, area_mode) as cv2.resize chooses them: halving both sides bilinearly averages
    2x2 blocks; area interpolation enlarging along either axis is bilinear from the covered area
    (area_mode)."""
    scale_x, scale_y = 1.0 / (width / in_width), 1.0 / (height / in_height)
    if interp == LINEAR and scale_x == scale_y == 2:
        interp = AREA
    return interp, interp == AREA and not (scale_x >= 1 and scale_y >= 1)


def resize_array(src, width, height, interp):
    """src (h, w[, c]) resized to (height, width[, c]) as cv2.resize(src, (width, height),
    interpolation=interp) does; uint8 stays uint8 (rounded and saturated), floats stay floats."""
    in_height, in_width = src.shape[:2]
    if width <= 0 or height <= 0:
        raise MXNetError(f"imresize: the output size must be positive, got width {width}, height {height}")
    if (in_width, in_height) == (width, height):
        return src.copy()
    is_uint8 = src.dtype == np.uint8
    scale_x, scale_y = 1.0 / (width / in_width), 1.0 / (height / in_height)
    interp, area_mode = resize_mode(in_width, in_height, width, height, interp)
    if is_uint8 and interp == AREA and not area_mode:
        return np.clip(_area_shrink(src, width, height, scale_x, scale_y), 0, 255).astype(np.uint8)
    quantize = is_uint8 and interp in (LINEAR, CUBIC, LANCZOS4, AREA) and (interp != AREA or area_mode)
    columns = _axis_weights(in_width, width, interp, area_mode, quantize, horizontal=True)
    # horizontal = image @ columns.T, per channel: (in_height, width[, c])
    horizontal = np.moveaxis(np.tensordot(columns, src.astype(np.float64), axes=([1], [1])), 0, 1)
    if quantize and interp in (LINEAR, AREA, CUBIC):
        indices, coefficients = _axis_taps(in_height, height, interp, area_mode, quantize, horizontal=False)
        fixed_point = np.rint(horizontal * _COEF_SCALE).astype(np.int64)
        vertical = _cubic_uint8_rows if interp == CUBIC else _bilinear_uint8_rows
        return np.clip(vertical(fixed_point, indices, coefficients), 0, 255).astype(np.uint8)
    rows = _axis_weights(in_height, height, interp, area_mode, quantize, horizontal=False)
    out = np.tensordot(rows, horizontal, axes=([1], [0]))          # rows @ horizontal
    if not is_uint8:
        return out.astype(src.dtype)
    if quantize:
        out = np.floor(out + 0.5)          # OpenCV's fixed-point rounding: (sum + 2^21) >> 22
    else:
        out = np.rint(out)                 # cvRound of a float sum
    return np.clip(out, 0, 255).astype(np.uint8)
