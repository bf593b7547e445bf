"""Registry-table rows for the spatial operators (cysym/ops/spatial.py): im2col, col2im,
GridGenerator, BilinearSampler, SpatialTransformer and Correlation.

References are NumPy written from MXNet 1.9.1's CPU code (src/operator/nn/im2col.h,
grid_generator-inl.h, bilinear_sampler.cc, spatial_transformer.cc, correlation.cc);
test_spatial_ops.py compares a few values with MXNet's own."""
import itertools

import numpy as np

from opcase import Case, signed


def _window(ndim, stride=(), dilate=(), pad=()):
    return (tuple(stride) or (1,) * ndim, tuple(dilate) or (1,) * ndim, tuple(pad) or (0,) * ndim)


def _taps(spatial, kernel, stride, dilate, pad):
    """Per block position and kernel tap: the image position read (None when in the padding),
    in im2col's column order (taps outer, positions inner)."""
    out = [(s + 2 * p - (1 + (k - 1) * d)) // st + 1
           for s, k, st, d, p in zip(spatial, kernel, stride, dilate, pad)]
    for tap in itertools.product(*map(range, kernel)):
        row = []
        for block in itertools.product(*map(range, out)):
            position = tuple(b * st - p + t * d for b, t, st, d, p in
                             zip(block, tap, stride, dilate, pad))
            inside = all(0 <= q < s for q, s in zip(position, spatial))
            row.append(position if inside else None)
        yield row


def np_im2col(data, kernel, stride=(), dilate=(), pad=()):
    stride, dilate, pad = _window(len(kernel), stride, dilate, pad)
    n, c = data.shape[:2]
    rows = list(_taps(data.shape[2:], kernel, stride, dilate, pad))
    out = np.zeros((n, c, len(rows), len(rows[0])))
    for t, row in enumerate(rows):
        for b, position in enumerate(row):
            if position is not None:
                out[:, :, t, b] = data[(slice(None), slice(None)) + position]
    return out.reshape(n, c * len(rows), len(rows[0]))


def np_col2im(data, output_size, kernel, stride=(), dilate=(), pad=()):
    stride, dilate, pad = _window(len(kernel), stride, dilate, pad)
    rows = list(_taps(output_size, kernel, stride, dilate, pad))
    n = data.shape[0]
    c = data.shape[1] // len(rows)
    cols = data.reshape(n, c, len(rows), -1)
    out = np.zeros((n, c) + tuple(output_size))
    for t, row in enumerate(rows):
        for b, position in enumerate(row):
            if position is not None:
                out[(slice(None), slice(None)) + position] += cols[:, :, t, b]
    return out


def np_target_grid(height, width):
    """(3, H*W): normalized target x, y and 1."""
    ys, xs = np.meshgrid(np.arange(height), np.arange(width), indexing="ij")
    return np.stack([-1 + xs.ravel() * 2.0 / (width - 1), -1 + ys.ravel() * 2.0 / (height - 1),
                     np.ones(height * width)])


def np_grid_generator(data, transform_type, target_shape=(0, 0)):
    if transform_type == "affine":
        height, width = target_shape
        grid = data.reshape(-1, 2, 3) @ np_target_grid(height, width)
        return grid.reshape(-1, 2, height, width)
    height, width = data.shape[2:]
    ys, xs = np.meshgrid(np.arange(height), np.arange(width), indexing="ij")
    half = np.array([(width - 1) / 2, (height - 1) / 2]).reshape(1, 2, 1, 1)
    return (data + np.stack([xs, ys])[None]) / half - 1


def np_bilinear_sampler(data, grid, **_):
    n, c, height, width = data.shape
    x = (grid[:, 0] + 1) * (width - 1) / 2
    y = (grid[:, 1] + 1) * (height - 1) / 2
    x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
    out = np.zeros((n, c) + grid.shape[2:])
    for dy, dx in itertools.product((0, 1), (0, 1)):
        xs, ys = x0 + dx, y0 + dy
        weight = (1 - np.abs(x - xs)) * (1 - np.abs(y - ys))
        inside = (xs >= 0) & (xs < width) & (ys >= 0) & (ys < height)
        for b in range(n):
            values = data[b][:, np.clip(ys[b], 0, height - 1), np.clip(xs[b], 0, width - 1)]
            out[b] += values * (weight[b] * inside[b])[None]
    return out


def np_spatial_transformer(data, loc, target_shape, **_):
    grid = np_grid_generator(loc, "affine", target_shape)
    return np_bilinear_sampler(data, grid)


def np_correlation(data1, data2, kernel_size=1, max_displacement=1, stride1=1, stride2=1,
                   pad_size=0, is_multiply=True):
    n, c, height, width = data1.shape
    p = pad_size
    a = np.pad(data1, ((0, 0), (0, 0), (p, p), (p, p)))
    b = np.pad(data2, ((0, 0), (0, 0), (p, p), (p, p)))
    border = max_displacement + (kernel_size - 1) // 2
    out_h = int(np.ceil((height + 2 * p - 2 * border) / stride1))
    out_w = int(np.ceil((width + 2 * p - 2 * border) / stride1))
    radius = max_displacement // stride2
    grid = 2 * radius + 1
    out = np.zeros((n, grid * grid, out_h, out_w))
    for q, i, j in itertools.product(range(grid * grid), range(out_h), range(out_w)):
        y1, x1 = i * stride1 + max_displacement, j * stride1 + max_displacement
        y2 = y1 + (q // grid - radius) * stride2
        x2 = x1 + (q % grid - radius) * stride2
        pa = a[:, :, y1:y1 + kernel_size, x1:x1 + kernel_size]
        pb = b[:, :, y2:y2 + kernel_size, x2:x2 + kernel_size]
        term = pa * pb if is_multiply else np.abs(pa - pb)
        out[:, q, i, j] = term.sum(axis=(1, 2, 3)) / (kernel_size * kernel_size * c)
    return out


def uniform(low, high):
    return lambda rng, shape: rng.uniform(low, high, shape)


CASE_LIST = [
    # -- im2col, col2im: 2-D with every window parameter, 1-D and 3-D ---------------------------
    Case("im2col", {"data": ((2, 3, 5, 7), signed)},
         params=dict(kernel=(2, 3), stride=(2, 1), dilate=(1, 2), pad=(1, 0)), ref=np_im2col,
         bad=[("params", {"kernel": (8, 3)}), ("params", {"stride": (1,)}),
              ("params", {"kernel": (2, 3, 1)}), ("params", {"stride": (0, 1)})]),
    Case("im2col", {"data": ((2, 3, 7), signed)}, params=dict(kernel=(3,), stride=(2,), pad=(1,)),
         ref=np_im2col, id="im2col-1d"),
    Case("im2col", {"data": ((2, 3, 4, 5, 6), signed)}, params=dict(kernel=(2, 1, 3), pad=(0, 1, 1)),
         ref=np_im2col, id="im2col-3d"),
    Case("col2im", {"data": ((2, 18, 9), signed)},
         params=dict(output_size=(5, 7), kernel=(2, 3), stride=(2, 1), dilate=(1, 2), pad=(1, 0)),
         ref=np_col2im,
         bad=[("shapes", {"data": (2, 18, 8)}), ("shapes", {"data": (2, 17, 9)}),
              ("params", {"output_size": (5,)})]),
    Case("col2im", {"data": ((2, 8, 3), signed)}, params=dict(output_size=(6,), kernel=(4,), stride=(2,),
                                                             pad=(1,)),
         ref=np_col2im, id="col2im-1d"),
    # -- GridGenerator ---------------------------------------------------------------------------
    Case("GridGenerator", {"data": ((2, 6), signed)},
         params=dict(transform_type="affine", target_shape=(4, 5)), ref=np_grid_generator,
         bad=[("shapes", {"data": (2, 5)}), ("params", {"target_shape": (0, 5)}),
              ("params", {"transform_type": "perspective"})]),
    Case("GridGenerator", {"data": ((3, 2, 4, 5), signed)}, params=dict(transform_type="warp"),
         ref=np_grid_generator, bad=[("shapes", {"data": (2, 3, 4, 5)})], id="GridGenerator-warp"),
    # -- BilinearSampler: a grid reaching past the borders -------------------------------------
    Case("BilinearSampler", {"data": ((3, 4, 5, 6), signed), "grid": ((3, 2, 5, 7), uniform(-1.3, 1.3))},
         ref=np_bilinear_sampler,
         bad=[("shapes", {"data": (3, 4, 5, 6), "grid": (3, 4, 5, 7)}),
              ("shapes", {"data": (3, 4, 5, 6), "grid": (2, 2, 5, 7)})]),
    Case("BilinearSampler", {"data": ((1, 2, 5, 3), signed), "grid": ((1, 2, 4, 3), uniform(-1, 1))},
         params=dict(cudnn_off=True), ref=np_bilinear_sampler, id="BilinearSampler-cudnn-off"),
    # -- SpatialTransformer ----------------------------------------------------------------------
    Case("SpatialTransformer", {"data": ((2, 3, 4, 5), signed), "loc": ((2, 6), uniform(-1.2, 1.2))},
         params=dict(target_shape=(3, 6), transform_type="affine", sampler_type="bilinear"),
         ref=np_spatial_transformer,
         bad=[("shapes", {"data": (2, 3, 4, 5), "loc": (2, 4)}),
              ("params", {"target_shape": (3, 0)}), ("params", {"sampler_type": "nearest"})]),
    # -- Correlation -----------------------------------------------------------------------------
    Case("Correlation", {"data1": ((2, 3, 5, 7), signed), "data2": ((2, 3, 5, 7), signed)},
         params=dict(kernel_size=3, max_displacement=2, stride1=2, stride2=1, pad_size=2),
         ref=np_correlation,
         bad=[("shapes", {"data1": (2, 3, 5, 7), "data2": (2, 3, 5, 6)}),
              ("params", {"kernel_size": 2}), ("params", {"max_displacement": 9})]),
    Case("Correlation", {"data1": ((2, 3, 5, 6), signed), "data2": ((2, 3, 5, 6), signed)},
         params=dict(kernel_size=1, max_displacement=2, stride1=1, stride2=2, pad_size=1,
                     is_multiply=False),
         ref=np_correlation, id="Correlation-subtract"),
]
