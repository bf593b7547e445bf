"""Registry-table rows for the layout operators (cysym/ops/layout.py).

References are NumPy written from MXNet 1.9.1's semantics (src/operator/tensor/matrix_op-inl.h,
pad.cc, crop-inl.h): Pad's 'reflect' is numpy.pad's, reverse takes non-negative axes only and
reverses twice for a repeated axis, squeeze keeps at least one axis."""
import numpy as np

from opcase import Case, signed


def np_slice_like(data, shape_like, axes=()):
    axes = [a % data.ndim for a in axes] if axes else range(data.ndim)
    index = [slice(None)] * data.ndim
    for axis in axes:
        index[axis] = slice(0, shape_like.shape[axis])
    return data[tuple(index)]


def np_squeeze(data, axis=None):
    out = np.squeeze(data, axis=axis)
    return out.reshape(1) if out.ndim == 0 else out


def np_reverse(data, axis):
    for a in axis:
        data = np.flip(data, a)
    return data


def np_depth_to_space(data, block_size):
    n, c, h, w = data.shape
    b = block_size
    x = data.reshape(n, b, b, c // (b * b), h, w).transpose(0, 3, 4, 1, 5, 2)
    return x.reshape(n, c // (b * b), h * b, w * b)


def np_space_to_depth(data, block_size):
    n, c, h, w = data.shape
    b = block_size
    x = data.reshape(n, c, h // b, b, w // b, b).transpose(0, 3, 5, 1, 2, 4)
    return x.reshape(n, c * b * b, h // b, w // b)


def np_pad(data, mode, pad_width, constant_value=0.0):
    pairs = list(zip(pad_width[0::2], pad_width[1::2]))
    if mode == "constant":
        return np.pad(data, pairs, mode="constant", constant_values=constant_value)
    return np.pad(data, pairs, mode=mode)


def np_crop(arg0, arg1=None, num_args=None, h_w=(0, 0), offset=(0, 0), center_crop=False):
    height, width = h_w if arg1 is None else arg1.shape[2:4]
    if center_crop:
        offset = ((arg0.shape[2] - height) // 2, (arg0.shape[3] - width) // 2)
    return arg0[:, :, offset[0]:offset[0] + height, offset[1]:offset[1] + width]


PAD_4D = (0, 0, 0, 0, 1, 2, 2, 1)

CASE_LIST = [
    # -- slice_like ----------------------------------------------------------------------------
    Case("slice_like", {"data": ((4, 5, 3), signed), "shape_like": ((3, 4, 2), signed)},
         ref=np_slice_like,
         bad=[("shapes", {"data": (4, 5, 3), "shape_like": (3, 4)}),
              ("shapes", {"data": (4, 5, 3), "shape_like": (3, 6, 2)})]),
    Case("slice_like", {"data": ((4, 5, 3), signed), "shape_like": ((2, 7, 1), signed)},
         params=dict(axes=(0, -1)), ref=np_slice_like, id="slice_like-axes",
         bad=[("params", {"axes": (3,)})]),
    Case("slice_like", {"data": ((4, 5, 3), signed), "shape_like": ((2, 3), signed)},
         params=dict(axes=(1,)), ref=np_slice_like, id="slice_like-other-rank",
         bad=[("params", {"axes": (2,)})]),
    # -- squeeze -------------------------------------------------------------------------------
    Case("squeeze", {"data": ((1, 3, 1, 2), signed)}, ref=np_squeeze,
         bad=[("params", {"axis": (1,)}), ("params", {"axis": (0, 0)}),
              ("params", {"axis": (4,)})]),
    Case("squeeze", {"data": ((1, 3, 1, 2), signed)}, params=dict(axis=(0, -2)), ref=np_squeeze,
         id="squeeze-axes"),
    Case("squeeze", {"data": ((1, 1, 1), signed)}, ref=np_squeeze, id="squeeze-keeps-one-axis"),
    # -- reverse -------------------------------------------------------------------------------
    Case("reverse", {"data": ((2, 3, 5), signed)}, params=dict(axis=(1,)), ref=np_reverse,
         bad=[("params", {"axis": (-1,)}), ("params", {"axis": (3,)})]),
    Case("reverse", {"data": ((2, 3, 5, 4), signed)}, params=dict(axis=(0, 3, 2)),
         ref=np_reverse, id="reverse-three-axes"),
    Case("reverse", {"data": ((2, 3, 5), signed)}, params=dict(axis=(2, 0, 2)), ref=np_reverse,
         id="reverse-repeated-axis"),
    # -- depth_to_space, space_to_depth --------------------------------------------------------
    Case("depth_to_space", {"data": ((2, 8, 3, 5), signed)}, params=dict(block_size=2),
         ref=np_depth_to_space,
         bad=[("params", {"block_size": 3}), ("params", {"block_size": 0}),
              ("shapes", {"data": (2, 8, 3)})]),
    Case("depth_to_space", {"data": ((1, 18, 2, 1), signed)}, params=dict(block_size=3),
         ref=np_depth_to_space, id="depth_to_space-block3"),
    Case("space_to_depth", {"data": ((2, 3, 4, 6), signed)}, params=dict(block_size=2),
         ref=np_space_to_depth,
         bad=[("params", {"block_size": 3}), ("shapes", {"data": (3, 4, 6)})]),
    # -- Pad -----------------------------------------------------------------------------------
    Case("Pad", {"data": ((2, 3, 4, 5), signed)},
         params=dict(mode="constant", pad_width=PAD_4D, constant_value=1.5), ref=np_pad,
         bad=[("params", {"pad_width": (0, 1, 0, 0, 1, 2, 2, 1)}),
              ("params", {"pad_width": (0, 0, 0, 0, 1, 2)}),
              ("params", {"pad_width": (0, 0, 0, 0, -1, 2, 2, 1)}),
              ("params", {"mode": "wrap"}),
              ("shapes", {"data": (2, 3, 4)})]),
    Case("Pad", {"data": ((2, 3, 4, 5), signed)}, params=dict(mode="edge", pad_width=PAD_4D),
         ref=np_pad, id="Pad-edge"),
    Case("Pad", {"data": ((2, 3, 4, 5), signed)}, params=dict(mode="reflect", pad_width=PAD_4D),
         ref=np_pad, id="Pad-reflect",
         bad=[("params", {"pad_width": (0, 0, 0, 0, 4, 0, 0, 0)}),
              ("params", {"pad_width": (0, 0, 0, 0, 0, 0, 0, 5)})]),
    *[Case("Pad", {"data": ((2, 1, 3, 4, 5), signed)},
           params=dict(mode=mode, pad_width=(0, 0, 0, 0, 2, 1, 0, 3, 1, 2)), ref=np_pad,
           id=f"Pad-5d-{mode}",
           bad=[("params", {"pad_width": (0, 0, 0, 0, 0, 0, 0, 0, 0, 5)})] if mode == "reflect"
           else [])
      for mode in ("constant", "edge", "reflect")],
    # -- Crop ----------------------------------------------------------------------------------
    Case("Crop", {"arg0": ((2, 3, 5, 6), signed)}, params=dict(h_w=(2, 4), offset=(1, 2)),
         ref=np_crop,
         bad=[("params", {"h_w": (6, 4)}), ("params", {"h_w": (0, 4)}),
              ("params", {"offset": (4, 0)}), ("params", {"offset": (1,)}),
              ("shapes", {"arg0": (3, 5, 6)})]),
    Case("Crop", {"arg0": ((2, 3, 7, 6), signed), "arg1": ((1, 1, 4, 3), signed)},
         params=dict(center_crop=True), ref=np_crop, id="Crop-like-center",
         bad=[("shapes", {"arg0": (2, 3, 7, 6), "arg1": (1, 1, 8, 3)})]),
    Case("Crop", {"arg0": ((2, 3, 7, 6), signed), "arg1": ((1, 1, 4, 3), signed)},
         params=dict(offset=(3, 2)), ref=np_crop, id="Crop-like-offset",
         bad=[("params", {"offset": (4, 2)})]),
]
