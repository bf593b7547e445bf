"""Registry-table rows for the region-of-interest poolings (cysym/ops/roi.py).

The NumPy references follow MXNet 1.9.1's CPU code (src/operator/roi_pooling.cc,
contrib/roi_align.cc, contrib/psroi_pooling.cc) in float64; the regions are chosen so that
no bin edge falls within rounding distance of an integer, where float32 and float64 could
round differently.  Regions with a batch index outside the batch pool nothing (MXNet reads,
and PSROIPooling's backward writes, out of bounds there).  Rows marked "MXNet 1.9.1" compare
with values MXNet computed; the rois never get a gradient."""
import math

import numpy as np

from opcase import Case, distinct, signed
from opcases_resize import mxnet_pattern


def fixed(values):
    values = np.asarray(values, dtype=np.float64)
    return lambda rng, shape: values.reshape(shape)


def round_half_away(value):
    """C's round(): halves away from zero (NumPy's rounds them to even)."""
    return int(math.copysign(math.floor(abs(value) + 0.5), value))


def as_stored(spatial_scale):
    """MXNet keeps spatial_scale in a float32 parameter."""
    return float(np.float32(spatial_scale))


def clamp(value, high):
    return min(max(value, 0), high)


ROIS = fixed([[0, 1.3, 2.2, 14.6, 12.1],
              [1, 0.0, 0.0, 21.0, 17.0],
              [0, 7.7, 3.1, 8.4, 5.9],
              [1, -3.0, -2.0, 6.2, 30.0],
              [0, 18.0, 14.0, 40.0, 30.0],      # beyond the map: empty bins
              [-1, 1.0, 1.0, 5.0, 5.0]])        # outside the batch: zeros


# ---------------------------------------------------------------------------------------------
# ROIPooling

def np_roi_pooling(data, rois, pooled_size, spatial_scale):
    spatial_scale = as_stored(spatial_scale)
    n, c, h, w = data.shape
    ph_count, pw_count = pooled_size
    out = np.zeros((len(rois), c) + tuple(pooled_size))
    for r, roi in enumerate(rois):
        batch = int(roi[0])
        if not 0 <= batch < n:
            continue
        start_w, start_h, end_w, end_h = (round_half_away(v * spatial_scale) for v in roi[1:])
        bin_h = max(end_h - start_h + 1, 1) / ph_count
        bin_w = max(end_w - start_w + 1, 1) / pw_count
        for ph in range(ph_count):
            rows = slice(clamp(math.floor(ph * bin_h) + start_h, h),
                         clamp(math.ceil((ph + 1) * bin_h) + start_h, h))
            for pw in range(pw_count):
                cols = slice(clamp(math.floor(pw * bin_w) + start_w, w),
                             clamp(math.ceil((pw + 1) * bin_w) + start_w, w))
                window = data[batch, :, rows, cols]
                if window.size:
                    out[r, :, ph, pw] = window.max(axis=(1, 2))
    return out


# ---------------------------------------------------------------------------------------------
# _contrib_ROIAlign

def np_bilinear_sample(plane, y, x):
    h, w = plane.shape[-2:]
    if y < -1.0 or y > h or x < -1.0 or x > w:
        return 0.0
    y, x = max(y, 0.0), max(x, 0.0)
    y_low, x_low = int(y), int(x)
    if y_low >= h - 1:
        y_low = y_high = h - 1
        y = float(y_low)
    else:
        y_high = y_low + 1
    if x_low >= w - 1:
        x_low = x_high = w - 1
        x = float(x_low)
    else:
        x_high = x_low + 1
    ly, lx = y - y_low, x - x_low
    return ((1 - ly) * (1 - lx) * plane[..., y_low, x_low]
            + (1 - ly) * lx * plane[..., y_low, x_high]
            + ly * (1 - lx) * plane[..., y_high, x_low]
            + ly * lx * plane[..., y_high, x_high])


def np_roi_align(data, rois, pooled_size, spatial_scale, sample_ratio=-1,
                 position_sensitive=False, aligned=False):
    spatial_scale = as_stored(spatial_scale)
    n, c, h, w = data.shape
    ph_count, pw_count = pooled_size
    bins = ph_count * pw_count
    channels = c // bins if position_sensitive else c
    out = np.zeros((len(rois), channels, ph_count, pw_count))
    for r, roi in enumerate(rois):
        batch = int(roi[0])
        if not 0 <= batch < n:
            continue
        offset = 0.5 if aligned else 0.0
        start_w, start_h, end_w, end_h = (v * spatial_scale - offset for v in roi[1:])
        width, height = end_w - start_w, end_h - start_h
        if not aligned:
            width, height = max(width, 1.0), max(height, 1.0)
        bin_h, bin_w = height / ph_count, width / pw_count
        grid_h = sample_ratio if sample_ratio > 0 else math.ceil(height / ph_count)
        grid_w = sample_ratio if sample_ratio > 0 else math.ceil(width / pw_count)
        for ph in range(ph_count):
            for pw in range(pw_count):
                if position_sensitive:
                    planes = data[batch, ph * pw_count + pw::bins]
                else:
                    planes = data[batch]
                total = np.zeros(channels)
                for iy in range(grid_h):
                    y = start_h + ph * bin_h + (iy + 0.5) * bin_h / grid_h
                    for ix in range(grid_w):
                        x = start_w + pw * bin_w + (ix + 0.5) * bin_w / grid_w
                        total = total + np_bilinear_sample(planes, y, x)
                out[r, :, ph, pw] = total / (grid_h * grid_w)
    return out


# ---------------------------------------------------------------------------------------------
# _contrib_PSROIPooling

def np_psroi_pooling(data, rois, spatial_scale, output_dim, pooled_size, group_size=0):
    spatial_scale = as_stored(spatial_scale)
    n, c, h, w = data.shape
    group = group_size or pooled_size
    out = np.zeros((len(rois), output_dim, pooled_size, pooled_size))
    for r, roi in enumerate(rois):
        batch = int(roi[0])
        if not 0 <= batch < n:
            continue
        start_w = round_half_away(roi[1]) * spatial_scale
        start_h = round_half_away(roi[2]) * spatial_scale
        end_w = (round_half_away(roi[3]) + 1) * spatial_scale
        end_h = (round_half_away(roi[4]) + 1) * spatial_scale
        bin_h = max(end_h - start_h, 0.1) / pooled_size
        bin_w = max(end_w - start_w, 0.1) / pooled_size
        for ph in range(pooled_size):
            rows = slice(clamp(math.floor(ph * bin_h + start_h), h),
                         clamp(math.ceil((ph + 1) * bin_h + start_h), h))
            gh = clamp(math.floor(ph * group / pooled_size), group - 1)
            for pw in range(pooled_size):
                cols = slice(clamp(math.floor(pw * bin_w + start_w), w),
                             clamp(math.ceil((pw + 1) * bin_w + start_w), w))
                gw = clamp(math.floor(pw * group / pooled_size), group - 1)
                for ctop in range(output_dim):
                    window = data[batch, (ctop * group + gh) * group + gw, rows, cols]
                    if window.size:
                        out[r, ctop, ph, pw] = window.mean()
    return out


BAD_REGIONS = [("shapes", {"data": (2, 8, 9, 11), "rois": (6, 4)}),
               ("shapes", {"data": (2, 8, 9), "rois": (6, 5)})]

# the fixed inputs of the MXNet rows
MXNET_ROIS = fixed([[0, 1.5, 0.6, 7.3, 5.1], [0, 4.2, 2.9, 9.8, 7.7]])

CASE_LIST = [
    Case("ROIPooling", {"data": ((2, 8, 9, 11), distinct), "rois": ((6, 5), ROIS)},
         params=dict(pooled_size=(3, 2), spatial_scale=0.5), ref=np_roi_pooling,
         bad=BAD_REGIONS + [("params", {"pooled_size": (3,)}),
                            ("params", {"pooled_size": (3, 0)}),
                            ("params", {"spatial_scale": 1.5})]),
    Case("ROIPooling", {"data": ((2, 3, 9, 11), distinct), "rois": ((6, 5), ROIS)},
         params=dict(pooled_size=(2, 4), spatial_scale=0.7), ref=np_roi_pooling,
         id="ROIPooling-scale-0.7"),
    # MXNet 1.9.1: mx.nd.ROIPooling(x, rois, pooled_size=(2, 2), spatial_scale=0.5) on
    # x = mxnet_pattern((1, 2, 4, 5)), rois = MXNET_ROIS in float64 (x has ties: no
    # finite-difference check)
    Case("ROIPooling", {"data": ((1, 2, 4, 5), mxnet_pattern), "rois": ((2, 5), MXNET_ROIS)},
         params=dict(pooled_size=(2, 2), spatial_scale=0.5), grad=(),
         ref=lambda data, rois, **_: np.array([
             0.75, 1.25, 1.0, 1.25, 1.0, 0.75, 0.5, 1.0, 1.25, -0.5, 0.25, 1.25, 1.0, 0.25, 1.0,
             -0.75]).reshape(2, 2, 2, 2), id="ROIPooling-mxnet"),

    Case("_contrib_ROIAlign", {"data": ((2, 8, 9, 11), signed), "rois": ((6, 5), ROIS)},
         params=dict(pooled_size=(3, 2), spatial_scale=0.5), ref=np_roi_align,
         bad=BAD_REGIONS + [("params", {"pooled_size": (3, 2, 1)}),
                            ("params", {"spatial_scale": -0.5}),
                            ("params", {"position_sensitive": True, "pooled_size": (3, 3)})]),
    Case("_contrib_ROIAlign", {"data": ((2, 8, 9, 11), signed), "rois": ((6, 5), ROIS)},
         params=dict(pooled_size=(2, 3), spatial_scale=0.7, sample_ratio=2), ref=np_roi_align,
         id="_contrib_ROIAlign-sample-ratio"),
    Case("_contrib_ROIAlign", {"data": ((2, 8, 9, 11), signed), "rois": ((6, 5), ROIS)},
         params=dict(pooled_size=(3, 2), spatial_scale=0.5, aligned=True), ref=np_roi_align,
         id="_contrib_ROIAlign-aligned"),
    Case("_contrib_ROIAlign", {"data": ((2, 8, 9, 11), signed), "rois": ((6, 5), ROIS)},
         params=dict(pooled_size=(2, 2), spatial_scale=0.5, position_sensitive=True),
         ref=np_roi_align, id="_contrib_ROIAlign-position-sensitive"),
    # MXNet 1.9.1: mx.nd.contrib.ROIAlign(x, rois, pooled_size=(2, 2), spatial_scale=0.5) on
    # x = mxnet_pattern((1, 2, 4, 5)), rois = MXNET_ROIS in float64
    Case("_contrib_ROIAlign", {"data": ((1, 2, 4, 5), mxnet_pattern), "rois": ((2, 5), MXNET_ROIS)},
         params=dict(pooled_size=(2, 2), spatial_scale=0.5),
         ref=lambda data, rois, **_: np.array([
             -0.20625000000000007, 0.48137695312499995, -0.5747460937500002, 0.3390576171875,
             0.27025390625, -0.28063964843749994, -0.018749999999999982, -0.48161132812500007,
             0.35484374999999985, -0.44859375, 0.05734375000000022, 1.12390625,
             -0.40593749999999995, -0.31390625, 0.5615624999999999, -0.6114062500000002,
         ]).reshape(2, 2, 2, 2), id="_contrib_ROIAlign-mxnet"),
    # the same with aligned=True, sample_ratio=2
    Case("_contrib_ROIAlign", {"data": ((1, 2, 4, 5), mxnet_pattern), "rois": ((2, 5), MXNET_ROIS)},
         params=dict(pooled_size=(2, 2), spatial_scale=0.5, aligned=True, sample_ratio=2),
         ref=lambda data, rois, **_: np.array([
             -0.26310546875000007, 0.24867187500000015, -0.48593750000000013, 0.4312499999999999,
             -0.002089843749999952, -0.43304687500000005, -0.009003906250000054,
             0.012500000000000316, 0.27500000000000024, -0.2062500000000001, -0.2626562499999999,
             0.5520312500000002, 0.13124999999999976, -0.35, 0.19171875000000016,
             -0.28953125]).reshape(2, 2, 2, 2), id="_contrib_ROIAlign-mxnet-aligned"),

    Case("_contrib_PSROIPooling", {"data": ((2, 8, 9, 11), signed), "rois": ((6, 5), ROIS)},
         params=dict(spatial_scale=0.5, output_dim=2, pooled_size=2), ref=np_psroi_pooling,
         bad=BAD_REGIONS + [("params", {"output_dim": 3}), ("params", {"pooled_size": 0}),
                            ("params", {"spatial_scale": 2.0})]),
    Case("_contrib_PSROIPooling", {"data": ((2, 8, 9, 11), signed), "rois": ((6, 5), ROIS)},
         params=dict(spatial_scale=0.55, output_dim=2, pooled_size=3, group_size=2),
         ref=np_psroi_pooling, id="_contrib_PSROIPooling-group"),
    # MXNet 1.9.1: mx.nd.contrib.PSROIPooling(x, rois, spatial_scale=0.5, output_dim=2,
    # pooled_size=2) on x = mxnet_pattern((1, 8, 4, 5)), rois = MXNET_ROIS in float64
    Case("_contrib_PSROIPooling", {"data": ((1, 8, 4, 5), mxnet_pattern),
                                   "rois": ((2, 5), MXNET_ROIS)},
         params=dict(spatial_scale=0.5, output_dim=2, pooled_size=2),
         ref=lambda data, rois, **_: np.array([
             0.0, -0.3125, 0.3125, 0.0, 0.25, -0.0625, -0.125, 0.25, 0.5, -0.5, -0.125, 0.25,
             0.0625, -0.25, 0.125, 0.5]).reshape(2, 2, 2, 2), id="_contrib_PSROIPooling-mxnet"),
]
