"""MXNet's image operators (src/operator/image/image_random-inl.h and resize-inl.h; mx.nd.image,
mx.sym.image): _image_to_tensor, _image_normalize, _image_flip_left_right,
_image_flip_top_bottom, _image_crop, _image_adjust_lighting and _image_resize (the random
transforms are in image_random.py).

Where this differs from MXNet 1.9.1:
* the flips write every column or row: MXNet's FlipImpl swaps pairs and, out of place, leaves
  the middle column (row) of an odd width (height) unwritten;
* the flips' gradient is the flip of the output's gradient (MXNet registers a plain copy, which
  is not the flip's derivative), and they compute in float32, float64, int32 and int64 (MXNet
  takes uint8 images too: Cast them first);
* to_tensor passes no gradient to its image, a zero one (MXNet registers a copy of the
  output's gradient, whose shape, C x H x W, is not the image's).
* crop refuses a negative x or y (MXNet does not check them, and reads outside the image);
* adjust_lighting returns a one-channel image unchanged (MXNet leaves its output unwritten),
  and computes in float32 and float64 only (MXNet saturates uint8 images);
* resize passes a zero gradient to its image, as to_tensor does (MXNet registers a copy of the
  output's gradient, which has the resized shape: its backward crashes), and takes float32,
  float64 and uint8 images (MXNet's other dtypes give OpenCV errors or garbage). Float images
  are interpolated in float64 and rounded once (OpenCV sums in float32: a few ulps apart).
"""
from ..image_resize import resize_array
from ..registry import ARRAY_DTYPES, FLOAT_DTYPES, NUMBER_DTYPES, OpDef, Param, register
from .common import kernels, same_shape
from .layout import _gather, _strides, _window_backward

import numpy as np


def _image_rank_error(ctx, shape, layout):
    return ctx.error(f"input 'data' must have shape {layout} or (N, {layout[1:]}, got {tuple(shape)}")


# ---------------------------------------------------------------------------------------------
# to_tensor: (N,) H x W x C of any array dtype -> (N,) C x H x W float32 in [0, 1]

def _to_tensor_shape(ctx, ins, outs):
    """(H, W, C) -> (C, H, W); (N, H, W, C) -> (N, C, H, W)."""
    data = ins[0]
    if data is None:
        return ins, outs
    if len(data) not in (3, 4):
        raise _image_rank_error(ctx, data, "(H, W, C)")
    *batch, height, width, channels = data
    return ins, [tuple(batch) + (channels, height, width)]


register(OpDef(
    "_image_to_tensor",
    aliases=("_npx__image_to_tensor",),
    dtypes={"data": ARRAY_DTYPES},
    infer_shape=_to_tensor_shape,
    infer_type=lambda ctx, ins, outs: (ins, [np.dtype("float32")]),
    gradient=lambda g: [None],
    kernel=lambda b: kernels("image").append_to_tensor(b.plan, b.inputs[0], b.outputs[0],
                                                       b.req[0], b.label),
    doc="Converts an image of shape (H, W, C) or (N, H, W, C) with values in [0, 255] to a "
        "float32 tensor of shape (C, H, W) or (N, C, H, W) with values in [0, 1] (x / 255).",
))


# ---------------------------------------------------------------------------------------------
# normalize: (x - mean[c]) / std[c] over the channels of (N,) C x H x W

def _per_channel(values, channels):
    """MXNet's mean/std: one value for every channel, or one per channel."""
    return list(values) * channels if len(values) == 1 else list(values)


def _normalize_shape(ctx, ins, outs):
    """data (C, H, W) or (N, C, H, W) with C 1 or 3 -> data's shape; mean and std hold 1 or C
    values."""
    known = ins[0] if ins[0] is not None else outs[0]
    if known is not None:
        if len(known) not in (3, 4):
            raise _image_rank_error(ctx, known, "(C, H, W)")
        channels = known[len(known) - 3]
        if channels not in (1, 3):
            raise ctx.error(f"input 'data' has {channels} channels in shape {tuple(known)}; "
                            f"image operators take 1 or 3")
        for name in ("mean", "std"):
            if len(ctx.params[name]) not in (1, channels):
                raise ctx.error(f"{name} must have either 1 or {channels} elements for input "
                                f"shape {tuple(known)}, got {ctx.params[name]}")
    return same_shape(ctx, ins, outs)


def _normalize_kernel(backward):
    def kernel(b):
        channels = b.inputs[0].shape[b.inputs[0].ndim - 3]
        kernels("image").append_normalize(
            b.plan, b.inputs[0], b.outputs[0], _per_channel(b.params["mean"], channels),
            _per_channel(b.params["std"], channels), b.req[0], backward, b.label)
    return kernel


_NORMALIZE_PARAMS = [
    Param("mean", "floats", (0.0, 0.0, 0.0, 0.0), "Sequence of means for each channel. Default "
                                                  "value is 0."),
    Param("std", "floats", (1.0, 1.0, 1.0, 1.0), "Sequence of standard deviations for each "
                                                 "channel. Default value is 1."),
]

register(OpDef(
    "_image_normalize",
    aliases=("_npx__image_normalize",),
    params=_NORMALIZE_PARAMS,
    infer_shape=_normalize_shape,
    inplace=[(0, 0)],
    kernel=_normalize_kernel(backward=False),
    gradient=lambda g: [g.op("_backward_image_normalize", g.out_grads[0], **g.forward_attrs())],
    doc="Normalizes a tensor of shape (C, H, W) or (N, C, H, W), C 1 or 3: output[c] = "
        "(input[c] - mean[c]) / std[c]; mean and std hold one value, or one per channel (as in "
        "MXNet, the 4-value defaults fit neither: give them).",
))

register(OpDef(
    "_backward_image_normalize",
    params=_NORMALIZE_PARAMS,
    inputs=("out_grad",),
    infer_shape=_normalize_shape,
    inplace=[(0, 0)],
    kernel=_normalize_kernel(backward=True),
    hidden=True,
    doc="The gradient of _image_normalize: out_grad[c] * (1 / std[c]).",
))


# ---------------------------------------------------------------------------------------------
# flip_left_right, flip_top_bottom: an H x W x C image read backwards along W or H

def _flip_shape(ctx, ins, outs):
    """image (H, W, C) with C 1 or 3 -> the same shape."""
    known = ins[0] if ins[0] is not None else outs[0]
    if known is not None and (len(known) != 3 or known[2] not in (1, 3)):
        raise ctx.error(f"input 'data' must be an image of shape (H, W, C) with C 1 or 3, got "
                        f"{tuple(known)}")
    return same_shape(ctx, ins, outs)


def _flip_kernel(axis):
    def kernel(b):
        shape = b.inputs[0].shape
        strides = list(_strides(shape))
        # read axis `axis` from its last element backwards
        offset = (shape[axis] - 1) * strides[axis]
        strides[axis] = -strides[axis]
        _gather(b, offset, strides)
    return kernel


for _name, _axis, _side in (("_image_flip_left_right", 1, "left and right (the W axis)"),
                            ("_image_flip_top_bottom", 0, "top and bottom (the H axis)")):
    register(OpDef(
        _name,
        aliases=(f"_npx_{_name}",),
        dtypes=NUMBER_DTYPES,
        infer_shape=_flip_shape,
        kernel=_flip_kernel(_axis),
        gradient=lambda g: [g.op(g.node.op.name, g.out_grads[0])],
        doc=f"Swaps the {_side} of an image of shape (H, W, C), C 1 or 3.",
    ))


# ---------------------------------------------------------------------------------------------
# crop: the height x width window at (y, x) of an (N,) H x W x C image

_CROP_PARAMS = [
    Param("x", "int", doc="Left boundary of the cropping area.", low=0),
    Param("y", "int", doc="Top boundary of the cropping area.", low=0),
    Param("width", "int", doc="Width of the cropping area.", low=1),
    Param("height", "int", doc="Height of the cropping area.", low=1),
]


def _crop_shape(ctx, ins, outs):
    """(H, W, C) -> (height, width, C); (N, H, W, C) -> (N, height, width, C); C is 1 or 3 and the
    window (x, y, width, height) fits in the image."""
    data = ins[0]
    if data is None:
        return ins, outs
    if len(data) not in (3, 4) or data[-1] not in (1, 3):
        raise ctx.error(f"input 'data' must be an image of shape (H, W, C) or (N, H, W, C) with C "
                        f"1 or 3, got {tuple(data)}")
    p = ctx.params
    if p["x"] + p["width"] > data[-2] or p["y"] + p["height"] > data[-3]:
        raise ctx.error(f"the window x={p['x']}, y={p['y']}, width={p['width']}, "
                        f"height={p['height']} does not fit in the image {tuple(data)}")
    return ins, [tuple(data[:-3]) + (p["height"], p["width"], data[-1])]


def _crop_start(params, shape):
    """The element offset of the window's first pixel in an image of `shape`."""
    strides = _strides(shape)
    return params["y"] * strides[len(shape) - 3] + params["x"] * strides[len(shape) - 2]


register(OpDef(
    "_image_crop",
    aliases=("_npx__image_crop",),
    params=_CROP_PARAMS,
    dtypes=NUMBER_DTYPES,
    infer_shape=_crop_shape,
    kernel=lambda b: _gather(b, _crop_start(b.params, b.inputs[0].shape),
                             _strides(b.inputs[0].shape)),
    gradient=lambda g: [g.op("_backward_image_crop", g.out_grads[0], g.inputs[0],
                             **g.forward_attrs())],
    doc="Crops an image of shape (H, W, C) or (N, H, W, C), C 1 or 3, to the height x width "
        "window whose top-left pixel is (y, x).",
))

_window_backward("_backward_image_crop", lambda b: _crop_start(b.params, b.inputs[1].shape),
                 params=_CROP_PARAMS,
                 doc="data_grad = zeros with out_grad in the cropped window.")


# ---------------------------------------------------------------------------------------------
# adjust_lighting: AlexNet's PCA lighting noise, a fixed offset per RGB channel

# MXNet's eigenvalue-scaled eigenvectors of ImageNet's RGB covariance (float32 values)
_LIGHTING_EIGEN = np.array([[55.46 * -0.5675, 4.794 * 0.7192, 1.148 * 0.4009],
                            [55.46 * -0.5808, 4.794 * -0.0045, 1.148 * -0.8140],
                            [55.46 * -0.5836, 4.794 * -0.6948, 1.148 * 0.4203]], np.float32)


def _lighting_offsets(alpha):
    """offset[c] = sum_k eigen[c, k] * alpha[k] for the R, G, B channels, summed in float32 left
    to right as MXNet's."""
    alpha = np.asarray(alpha, np.float32)
    offsets = []
    for row in _LIGHTING_EIGEN:
        total = row[0] * alpha[0]
        for k in (1, 2):
            total = np.float32(total + row[k] * alpha[k])
        offsets.append(float(total))
    return offsets


def _adjust_lighting_kernel(b):
    image, out = b.inputs[0], b.outputs[0]
    if image.shape[2] == 1:     # no lighting for a gray image: a copy
        kernels("elemwise").append_unary(b.plan, "copy", image, out, b.req[0], b.label)
        return
    kernels("image").append_adjust_lighting(b.plan, image, out, _lighting_offsets(b.params["alpha"]),
                                            b.req[0], b.label)


def _lighting_shape(ctx, ins, outs):
    """image (H, W, C) with C 1 or 3 -> the same shape; alpha holds 3 values (R, G, B)."""
    if len(ctx.params["alpha"]) != 3:
        raise ctx.error(f"alpha must hold 3 values (R, G, B), got {ctx.params['alpha']}")
    return _flip_shape(ctx, ins, outs)


register(OpDef(
    "_image_adjust_lighting",
    aliases=("_npx__image_adjust_lighting",),
    params=[Param("alpha", "floats", doc="The lighting alphas for the R, G, B channels.")],
    infer_shape=_lighting_shape,
    inplace=[(0, 0)],
    kernel=_adjust_lighting_kernel,
    gradient=lambda g: [g.out_grads[0]],
    doc="Adds AlexNet-style PCA lighting to an image of shape (H, W, C), C 1 or 3: channel c "
        "gains sum_k eigen[c, k] * alpha[k] (ImageNet's RGB eigenvectors), in float32.",
))


# ---------------------------------------------------------------------------------------------
# resize: each (H, W, C) image of an (N,) H x W x C batch resized by OpenCV 3.4.2's arithmetic

def _resized_height_width(ctx, height, width):
    """MXNet's GetHeightAndWidth: size (width, height), or one size for both sides, or, with
    keep_ratio, for the short side (the long one scaled in integers, truncated)."""
    size = ctx.params["size"]
    if len(size) not in (1, 2):
        raise ctx.error(f"size must hold 1 or 2 values, (size) or (width, height), got {size}")
    if any(side <= 0 for side in size):
        raise ctx.error(f"size must be positive, got {size}")
    if len(size) == 2:
        return size[1], size[0]
    if not ctx.params["keep_ratio"]:
        return size[0], size[0]
    if height > width:
        return height * size[0] // width, size[0]
    return size[0], width * size[0] // height


def _resize_shape(ctx, ins, outs):
    """(H, W, C) -> (h, w, C); (N, H, W, C) -> (N, h, w, C): size is (w, h), or one value for both
    sides, or with keep_ratio the short side (the long one scaled in integers, truncated)."""
    data = ins[0]
    if data is None:
        return ins, outs
    if len(data) not in (3, 4):
        raise _image_rank_error(ctx, data, "(H, W, C)")
    height, width = _resized_height_width(ctx, data[-3], data[-2])
    return ins, [tuple(data[:-3]) + (height, width, data[-1])]


class _ResizeCall:
    """The Python call resizing every image of the batch into the output: OpenCV's arithmetic,
    whose uint8 rounding rules cysym/image_resize.py reproduces (a data-pipeline operator, not
    one of a network's hot loops)."""

    def __init__(self, image, out, interp):
        self.images = image.reshape((-1,) + image.shape[-3:])
        self.outs = out.reshape((-1,) + out.shape[-3:])
        self.interp = interp

    def __call__(self):
        height, width = self.outs.shape[1:3]
        for image, out in zip(self.images, self.outs):
            out[...] = resize_array(image, width, height, self.interp)


def _resize_kernel(b):
    if b.req[0] != "null":
        b.plan.add_python(_ResizeCall(b.inputs[0], b.outputs[0], b.params["interp"]), b.label)


register(OpDef(
    "_image_resize",
    aliases=("_npx__image_resize",),
    params=[
        Param("size", "shape", (), "Size of new image. Could be (width, height) or (size)"),
        Param("keep_ratio", "bool", False, "Whether to resize the short edge or both edges to "
                                           "`size`, if size is give as an integer."),
        Param("interp", "int", 1, "Interpolation method for resizing: 0 nearest neighbour, 1 "
                                  "bilinear, 2 bicubic over 4x4 pixels, 3 pixel area relation, 4 "
                                  "Lanczos over 8x8 pixels.", choices=(0, 1, 2, 3, 4)),
    ],
    dtypes=FLOAT_DTYPES + ("uint8",),
    infer_shape=_resize_shape,
    kernel=_resize_kernel,
    gradient=lambda g: [None],
    doc="Resizes an image of shape (H, W, C) or (N, H, W, C) to size (width, height), or to "
        "size x size, or, with keep_ratio, its short side to size, as OpenCV's cv2.resize does.",
))
