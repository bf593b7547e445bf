"""Registry-table rows for cysym/ops/contrib_vision.py, with a NumPy reference written from
src/operator/contrib/rroi_align.cc (MXNet's own numbers are in test_contrib_vision.py)."""
import math

import numpy as np

from opcase import Case, signed
from opcases_roi import np_bilinear_sample   # ROIAlign's sample, which RROIAlign's is


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
                            out[n, c, ph, pw] += np_bilinear_sample(data[int(image), c], y, x)
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


def np_deformable_psroi(data, rois, trans=None, *, spatial_scale, output_dim, group_size,
                        pooled_size, part_size=0, sample_per_part=1, trans_std=0.0,
                        no_trans=False):
    """Each bin (ph, pw) of class channel k: the mean of the samples inside the map on a
    sample_per_part grid from the bin's corner, the bin moved by trans x trans_std x the
    region's size; data channel (k * G + gh) * G + gw."""
    part = part_size or pooled_size
    # MXNet's float parameters are float32 numbers
    spatial_scale, trans_std = float(np.float32(spatial_scale)), float(np.float32(trans_std))
    classes = 1 if trans is None else trans.shape[1] // 2
    height, width = data.shape[2:]
    out = np.zeros((rois.shape[0], output_dim, pooled_size, pooled_size))
    for n, (image, x1, y1, x2, y2) in enumerate(rois):
        start_w, start_h = round(x1) * spatial_scale - 0.5, round(y1) * spatial_scale - 0.5
        roi_w = max((round(x2) + 1) * spatial_scale - 0.5 - start_w, 0.1)
        roi_h = max((round(y2) + 1) * spatial_scale - 0.5 - start_h, 0.1)
        bin_w, bin_h = roi_w / pooled_size, roi_h / pooled_size
        for k in range(output_dim):
            for ph in range(pooled_size):
                for pw in range(pooled_size):
                    part_h, part_w = int(ph / pooled_size * part), int(pw / pooled_size * part)
                    shift_x = shift_y = 0.0
                    if trans is not None:
                        cls = k // (output_dim // classes)
                        shift_x = trans[n, 2 * cls, part_h, part_w] * trans_std * roi_w
                        shift_y = trans[n, 2 * cls + 1, part_h, part_w] * trans_std * roi_h
                    gw = min(int(pw * group_size / pooled_size), group_size - 1)
                    gh = min(int(ph * group_size / pooled_size), group_size - 1)
                    plane = data[int(image), (k * group_size + gh) * group_size + gw]
                    values = []
                    for ih in range(sample_per_part):
                        for iw in range(sample_per_part):
                            w = pw * bin_w + start_w + shift_x + iw * bin_w / sample_per_part
                            h = ph * bin_h + start_h + shift_y + ih * bin_h / sample_per_part
                            if -0.5 <= w <= width - 0.5 and -0.5 <= h <= height - 0.5:
                                values.append(_interpolate(plane, min(max(h, 0), height - 1),
                                                           min(max(w, 0), width - 1)))
                    out[n, k, ph, pw] = np.mean(values) if values else 0.0
    return out


def _interpolate(plane, y, x):
    y0, x0 = math.floor(y), math.floor(x)
    y1, x1 = math.ceil(y), math.ceil(x)
    dy, dx = y - y0, x - x0
    return ((1 - dx) * (1 - dy) * plane[y0, x0] + (1 - dx) * dy * plane[y1, x0]
            + dx * (1 - dy) * plane[y0, x1] + dx * dy * plane[y1, x1])


def boxes(rng, shape):
    """Regions [image, x1, y1, x2, y2] inside a 12 x 14 image, in both images."""
    x1, y1 = rng.uniform(0.5, 4.0, shape[0]), rng.uniform(0.5, 3.0, shape[0])
    return np.column_stack([np.arange(shape[0]) % 2, x1, y1, x1 + rng.uniform(5.0, 8.0, shape[0]),
                            y1 + rng.uniform(4.0, 7.0, shape[0])])


def offsets(rng, shape):
    return rng.uniform(-0.4, 0.4, shape)


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
    Case("_contrib_DeformablePSROIPooling",
         {"data": ((2, 8, 6, 7), signed), "rois": ((3, 5), boxes), "trans": ((3, 4, 2, 2), offsets)},
         params=dict(spatial_scale=0.5, output_dim=2, group_size=2, pooled_size=2,
                     sample_per_part=2, trans_std=0.1),
         ref=np_deformable_psroi, grad_tol=(1e-4, 1e-6),
         bad=[("shapes", {"data": (2, 7, 6, 7), "rois": (3, 5), "trans": (3, 4, 2, 2)}),
              ("shapes", {"data": (2, 8, 6, 7), "rois": (3, 5), "trans": (3, 4, 3, 3)}),
              ("shapes", {"data": (2, 8, 6, 7), "rois": (3, 5), "trans": (3, 6, 2, 2)}),
              ("params", {"trans_std": 1.5})]),
    Case("_contrib_DeformablePSROIPooling",
         {"data": ((2, 4, 6, 7), signed), "rois": ((3, 5), boxes), "trans": ((3, 2, 2, 2), offsets)},
         params=dict(spatial_scale=0.5, output_dim=4, group_size=1, pooled_size=3, part_size=2,
                     sample_per_part=3, trans_std=0.2),
         ref=np_deformable_psroi, grad_tol=(1e-4, 1e-6), id="_contrib_DeformablePSROIPooling-parts"),
    Case("_contrib_DeformablePSROIPooling", {"data": ((2, 9, 12, 14), signed), "rois": ((3, 5), boxes)},
         params=dict(spatial_scale=1.0, output_dim=1, group_size=3, pooled_size=3, no_trans=True),
         ref=np_deformable_psroi, id="_contrib_DeformablePSROIPooling-no-trans"),
]
