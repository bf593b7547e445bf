"""Registry-table rows for cysym/ops/contrib_vision.py, with a NumPy reference written from
src/operator/contrib/rroi_align.cc (MXNet's own numbers are in test_contrib_vision.py)."""
import math

import numpy as np

from opcase import Case, signed


def _bilinear(plane, y, x):
    """MXNet's sample of one plane at (y, x): 0 outside [-1, H] x [-1, W], edges clamped."""
    height, width = plane.shape
    if y < -1.0 or y > height or x < -1.0 or x > width:
        return 0.0
    y, x = max(y, 0.0), max(x, 0.0)
    y_low, x_low = int(y), int(x)
    if y_low >= height - 1:
        y_low = y_high = height - 1
        y = float(y_low)
    else:
        y_high = y_low + 1
    if x_low >= width - 1:
        x_low = x_high = width - 1
        x = float(x_low)
    else:
        x_high = x_low + 1
    ly, lx = y - y_low, x - x_low
    return ((1 - ly) * (1 - lx) * plane[y_low, x_low] + (1 - ly) * lx * plane[y_low, x_high]
            + ly * (1 - lx) * plane[y_high, x_low] + ly * lx * plane[y_high, x_high])


def np_rroi_align(data, rois, pooled_size, spatial_scale, sampling_ratio=-1):
    pooled_h, pooled_w = pooled_size
    out = np.zeros((rois.shape[0], data.shape[1], pooled_h, pooled_w))
    for n, (image, cx, cy, w, h, theta) in enumerate(rois):
        cx, cy = cx * spatial_scale, cy * spatial_scale
        w, h = max(w * spatial_scale, 1.0), max(h * spatial_scale, 1.0)
        theta = theta * math.pi / 180
        grid_h = sampling_ratio if sampling_ratio > 0 else math.ceil(h / pooled_h)
        grid_w = sampling_ratio if sampling_ratio > 0 else math.ceil(w / pooled_w)
        for ph in range(pooled_h):
            for pw in range(pooled_w):
                for iy in range(grid_h):
                    for ix in range(grid_w):
                        # the sample in the region's frame, rotated about its centre
                        yy = -h / 2 + (ph + (iy + 0.5) / grid_h) * h / pooled_h
                        xx = -w / 2 + (pw + (ix + 0.5) / grid_w) * w / pooled_w
                        x = xx * math.cos(theta) + yy * math.sin(theta) + cx
                        y = yy * math.cos(theta) - xx * math.sin(theta) + cy
                        for c in range(data.shape[1]):
                            out[n, c, ph, pw] += _bilinear(data[int(image), c], y, x)
                out[n, :, ph, pw] /= grid_h * grid_w
    return out


def regions(rng, shape):
    """Rotated regions inside a 5 x 7 map (no sample near the dropping edge), in both images."""
    assert shape[1] == 6
    rois = np.column_stack([
        np.arange(shape[0]) % 2, rng.uniform(2.5, 4.5, shape[0]), rng.uniform(1.8, 3.0, shape[0]),
        rng.uniform(1.5, 3.5, shape[0]), rng.uniform(1.2, 2.5, shape[0]),
        rng.uniform(-170, 170, shape[0])])
    return rois


CASE_LIST = [
    # MXNet has no gradient for RROIAlign: its inputs are in no_grad
    Case("_contrib_RROIAlign", {"data": ((2, 3, 5, 7), signed), "rois": ((4, 6), regions)},
         params=dict(pooled_size=(2, 3), spatial_scale=1.0), ref=np_rroi_align,
         bad=[("params", {"pooled_size": (2,)}), ("params", {"spatial_scale": 1.5}),
              ("shapes", {"data": (2, 3, 5, 7), "rois": (4, 5)}),
              ("shapes", {"data": (3, 5, 7), "rois": (4, 6)})]),
    Case("_contrib_RROIAlign", {"data": ((2, 2, 10, 14), signed), "rois": ((3, 6), regions)},
         params=dict(pooled_size=(3, 2), spatial_scale=0.5, sampling_ratio=2), ref=np_rroi_align,
         id="_contrib_RROIAlign-scaled-sampled"),
]
