"""Registry-table rows for the resampling operators (cysym/ops/resize.py).

The NumPy references follow MXNet 1.9.1's sources (src/operator/contrib/
adaptive_avg_pooling.cc, bilinear_resize-inl.h): window bounds and source coordinates are
computed in float32 whatever the data type, as MXNet does, so float64 results match MXNet's
to the last bit.  Rows marked "MXNet 1.9.1" compare with values MXNet computed."""
import math

import numpy as np

from opcase import Case, signed


def mxnet_pattern(rng, shape):
    """The fixed input of the MXNet rows: ((i * 37) % 11 - 5) / 4 over the flat index."""
    n = int(np.prod(shape))
    return (((np.arange(n) * 37) % 11 - 5) / 4.0).reshape(shape)


# ---------------------------------------------------------------------------------------------
# _contrib_AdaptiveAvgPooling2D

def np_adaptive_avg_pool(data, output_size=()):
    size = tuple(np.atleast_1d(output_size)) or (1,)
    out_h, out_w = (size[0], size[0]) if len(size) == 1 else size
    n, c, h, w = data.shape

    def window(i, out, full):   # START_IND / END_IND: float32 division
        start = math.floor(np.float32(i * full) / np.float32(out))
        end = math.ceil(np.float32((i + 1) * full) / np.float32(out))
        return slice(start, end)

    out = np.zeros((n, c, out_h, out_w))
    for i in range(out_h):
        for j in range(out_w):
            out[:, :, i, j] = data[:, :, window(i, out_h, h), window(j, out_w, w)].mean(axis=(2, 3))
    return out


# ---------------------------------------------------------------------------------------------
# _contrib_BilinearResize2D

def np_source(size, out_size, align_corners):
    """MXNet's source coordinate of each output position, in float32."""
    f32 = np.float32
    if out_size > 1:
        scale = f32(size - 1) / f32(out_size - 1) if align_corners else f32(size) / f32(out_size)
    else:
        scale = f32(0)
    positions = []
    for dst in range(out_size):
        if align_corners:
            src = scale * f32(dst)
        else:
            src = max(f32(float(scale) * (dst + 0.5) - 0.5), f32(0))
        positions.append(src)
    return positions


def np_bilinear(data, out_h, out_w, align_corners=True):
    n, c, h, w = data.shape
    if (h, w) == (out_h, out_w):
        return data.copy()
    out = np.zeros((n, c, out_h, out_w))
    for i, y in enumerate(np_source(h, out_h, align_corners)):
        top = int(y)
        bottom = top + 1 if top < h - 1 else top
        wy = float(y - np.float32(top))
        for j, x in enumerate(np_source(w, out_w, align_corners)):
            left = int(x)
            right = left + 1 if left < w - 1 else left
            wx = float(x - np.float32(left))
            out[:, :, i, j] = ((1 - wy) * ((1 - wx) * data[:, :, top, left]
                                           + wx * data[:, :, top, right])
                               + wy * ((1 - wx) * data[:, :, bottom, left]
                                       + wx * data[:, :, bottom, right]))
    return out


def np_resize(data, like=None, height=1, width=1, scale_height=None, scale_width=None,
              mode="size", align_corners=True):
    h, w = data.shape[2:]
    scaled = lambda scale, size: int(np.float32(scale) * np.float32(size))
    if mode == "size":
        if scale_height is not None:
            height, width = scaled(scale_height, h), scaled(scale_width, w)
    elif mode == "odd_scale":
        height = scaled(scale_height, h) if h % 2 == 0 else scaled(scale_height, h - 1) + 1
        width = scaled(scale_width, w) if w % 2 == 0 else scaled(scale_width, w - 1) + 1
    elif mode == "like":
        height, width = like.shape[2:]
    else:
        parity = 0 if mode.startswith("to_even") else 1
        step = 1 if mode.endswith("up") else -1
        height, width = (s if s % 2 == parity else s + step for s in (h, w))
    return np_bilinear(data, height, width, align_corners)


BAD_4D = ("shapes", {"data": (2, 3, 5)})

CASE_LIST = [
    Case("_contrib_AdaptiveAvgPooling2D", {"data": ((2, 3, 5, 7), signed)},
         params=dict(output_size=(3, 2)), ref=np_adaptive_avg_pool,
         bad=[("params", {"output_size": (1, 2, 3)}), ("params", {"output_size": (0, 2)}),
              BAD_4D]),
    # more output cells than input cells: windows overlap, the gradient sums over them
    Case("_contrib_AdaptiveAvgPooling2D", {"data": ((2, 3, 4, 5), signed)},
         params=dict(output_size=(6, 3)), ref=np_adaptive_avg_pool,
         id="_contrib_AdaptiveAvgPooling2D-overlapping"),
    Case("_contrib_AdaptiveAvgPooling2D", {"data": ((2, 3, 5, 7), signed)},
         params=dict(output_size=4), ref=np_adaptive_avg_pool,
         id="_contrib_AdaptiveAvgPooling2D-square"),
    Case("_contrib_AdaptiveAvgPooling2D", {"data": ((2, 3, 5, 7), signed)},
         ref=np_adaptive_avg_pool, id="_contrib_AdaptiveAvgPooling2D-global"),
    # MXNet 1.9.1: mx.nd.contrib.AdaptiveAvgPooling2D(x, output_size=(3, 2)) on x =
    # mxnet_pattern((1, 2, 5, 7)) in float64
    Case("_contrib_AdaptiveAvgPooling2D", {"data": ((1, 2, 5, 7), mxnet_pattern)},
         params=dict(output_size=(3, 2)),
         ref=lambda data, **_: np.array([
             -0.03125, -0.125, 0.041666666666666664, 0.0625, 0.0, -0.09375, -0.09375, 0.15625,
             -0.020833333333333332, 0.0, -0.0625, -0.15625]).reshape(1, 2, 3, 2),
         id="_contrib_AdaptiveAvgPooling2D-mxnet"),

    Case("_contrib_BilinearResize2D", {"data": ((2, 3, 5, 7), signed)},
         params=dict(height=8, width=11), ref=np_resize,
         bad=[("params", {"mode": "nearest"}), ("params", {"height": 0}), BAD_4D,
              ("params", {"scale_height": 2.0})]),   # scale_height needs scale_width
    Case("_contrib_BilinearResize2D", {"data": ((2, 3, 5, 7), signed)},
         params=dict(height=3, width=4, align_corners=False), ref=np_resize,
         id="_contrib_BilinearResize2D-down-not-aligned"),
    Case("_contrib_BilinearResize2D", {"data": ((2, 3, 5, 7), signed)},
         params=dict(height=9, width=4, align_corners=False), ref=np_resize,
         id="_contrib_BilinearResize2D-mixed-not-aligned"),
    Case("_contrib_BilinearResize2D", {"data": ((2, 3, 5, 7), signed)},
         params=dict(height=1, width=7), ref=np_resize, id="_contrib_BilinearResize2D-one-row"),
    Case("_contrib_BilinearResize2D", {"data": ((2, 3, 5, 7), signed)},
         params=dict(height=5, width=7, align_corners=False), ref=np_resize,
         id="_contrib_BilinearResize2D-same-size"),
    Case("_contrib_BilinearResize2D", {"data": ((2, 3, 5, 7), signed)},
         params=dict(scale_height=1.7, scale_width=0.6, height=2, width=2), ref=np_resize,
         id="_contrib_BilinearResize2D-scales"),
    Case("_contrib_BilinearResize2D", {"data": ((2, 3, 5, 6), signed)},
         params=dict(mode="odd_scale", scale_height=2.0, scale_width=0.5), ref=np_resize,
         bad=[("params", {"scale_width": None})], id="_contrib_BilinearResize2D-odd_scale"),
    Case("_contrib_BilinearResize2D",
         {"data": ((2, 3, 4, 7), signed), "like": ((2, 5, 6, 3), signed)},
         params=dict(mode="like", align_corners=False), ref=np_resize,
         bad=[("shapes", {"data": (2, 3, 4, 7), "like": (2, 5, 6)})],
         id="_contrib_BilinearResize2D-like"),
    *[Case("_contrib_BilinearResize2D", {"data": ((2, 3, 5, 4), signed)}, params=dict(mode=mode),
           ref=np_resize, id=f"_contrib_BilinearResize2D-{mode}")
      for mode in ("to_even_down", "to_even_up", "to_odd_down", "to_odd_up")],
    # MXNet 1.9.1: mx.nd.contrib.BilinearResize2D(x, height=2, width=3, align_corners=False)
    # on x = mxnet_pattern((1, 2, 3, 5)) in float64: the float32 weights show in the digits
    Case("_contrib_BilinearResize2D", {"data": ((1, 2, 3, 5), mxnet_pattern)},
         params=dict(height=2, width=3, align_corners=False),
         ref=lambda data, **_: np.array([
             -0.5833333395421505, 0.625, -0.22916671633720398, 0.041666701436042786, -0.125,
             -0.2916663885116577, 0.2083333134651184, -0.875, 0.7916665077209473,
             -0.5416666865348816, 0.4375, 0.041666507720947266]).reshape(1, 2, 2, 3),
         id="_contrib_BilinearResize2D-mxnet-down"),
    # MXNet 1.9.1: mx.nd.contrib.BilinearResize2D(x, height=4, width=7) on
    # x = mxnet_pattern((1, 1, 3, 5)) in float64
    Case("_contrib_BilinearResize2D", {"data": ((1, 1, 3, 5), mxnet_pattern)},
         params=dict(height=4, width=7),
         ref=lambda data, **_: np.array([
             -1.25, -0.5833333134651184, 0.08333337306976318, 0.75, -0.41666680574417114,
             -0.6666665077209473, 0.0, 0.2500000447034836, -0.3055555638339795,
             -0.2499999701976776, 0.4166666567325592, 0.4722222553359181, 0.2222221162584006,
             -0.3333333432674408, 0.8333333134651184, -0.3333333879709244, -0.5833333134651184,
             0.08333331346511841, 0.7500000596046448, 0.4999997019767761, -0.6666666865348816,
             0.5, -0.6666667014360428, -0.9166666269302368, -0.25, 0.41666674613952637,
             0.16666638851165771, -1.0]).reshape(1, 1, 4, 7),
         id="_contrib_BilinearResize2D-mxnet-up"),
]
