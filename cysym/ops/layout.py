"""Operators that rearrange or pad an array: slice_like, squeeze, reverse (flip),
depth_to_space, space_to_depth, Pad, and the legacy Crop.

All but Pad are one strided gather (cysym._ops.shape.append_strided_copy): slice_like and
Crop read a window, reverse reads through negative strides, depth_to_space and
space_to_depth read a 6-D transposed view.  Window gradients scatter into a zeroed
gradient (cysym._ops.index.append_scatter_add); the permutations' gradients are the
inverse permutation, as in MXNet.  Pad runs cysym._ops.layout.
"""
from ..registry import NUMBER_DTYPES, OpDef, Param, register
from .common import kernels, normalize_axis, same_shape
from .shape import _copy_kernel, _reshape_back


def _strides(shape):
    """C-order element strides (the kernels' c_strides, at bind time)."""
    return kernels("shape").c_strides(shape)


def _gather(b, offset, strides, out=None):
    """out (the output, or a view of it) = the view of the input at offset/strides with
    out's shape."""
    kernels("shape").append_strided_copy(b.plan, b.inputs[0], b.outputs[0] if out is None else out,
                                         offset, strides, b.req[0], b.label)


def _scatter(b, offset):
    """data_grad = zeros with out_grad added in the window at `offset` (unit steps)."""
    data_grad = b.outputs[0]
    kernels("index").append_scatter_add(b.plan, b.inputs[0], data_grad, offset,
                                        _strides(data_grad.shape), b.req[0], b.label)


def _data_type(ctx, ins, outs):
    """dtype rule of ops reading a second input for its shape: only data and output agree."""
    known = ins[0] if ins[0] is not None else outs[0]
    return [known] + list(ins[1:]), [known]


def _window_backward(name, offset, params=(), doc=""):
    """A hidden `_backward_<Op>` node (out_grad, data) -> data_grad whose kernel scatters
    out_grad into zeros at offset(b) (data is read for its shape only)."""
    register(OpDef(
        name,
        params=list(params),
        inputs=("out_grad", "data"),
        outputs=("data_grad",),
        shape_only=("data",),
        infer_shape=lambda ctx, ins, outs: (ins, [ins[1] if ins[1] is not None else outs[0]]),
        infer_type=lambda ctx, ins, outs: (ins, [ins[0] if ins[0] is not None else outs[0]]),
        kernel=lambda b: _scatter(b, offset(b)),
        hidden=True,
        doc=doc,
    ))


# ---------------------------------------------------------------------------------------------
# slice_like

def _slice_like_shape(ctx, ins, outs):
    """data, shape_like -> data's shape with each axis of axes (every axis when empty) cut to
    shape_like's size there."""
    data, like = ins
    if data is None or like is None:
        return ins, outs
    axes = ctx.params["axes"]
    if not axes:
        if len(data) != len(like):
            raise ctx.error(f"without axes, slice_like slices every axis, but input 'data' "
                            f"{tuple(data)} and input 'shape_like' {tuple(like)} differ in rank")
        sliced = range(len(data))
    else:
        sliced = []
        for axis in axes:
            position = normalize_axis(ctx, axis, len(data))
            if position >= len(like):
                raise ctx.error(f"axis {axis} exceeds input 'shape_like' {tuple(like)}")
            sliced.append(position)
    out = list(data)
    for axis in sliced:
        if like[axis] > data[axis]:
            raise ctx.error(f"axis {axis} of input 'shape_like' {tuple(like)} is longer than "
                            f"that of input 'data' {tuple(data)}")
        out[axis] = like[axis]
    return ins, [tuple(out)]


register(OpDef(
    "slice_like",
    dtypes=NUMBER_DTYPES,
    params=[Param("axes", "shape", (), "List of axes on which input data will be sliced "
                                       "according to the corresponding size of the second "
                                       "input. By default will slice on all axes. Negative "
                                       "axes are supported.")],
    inputs=("data", "shape_like"),
    infer_shape=_slice_like_shape,
    infer_type=_data_type,
    shape_only=("shape_like",),
    no_grad=("shape_like",),
    kernel=lambda b: _gather(b, 0, _strides(b.inputs[0].shape)),
    gradient=lambda g: [g.op("_backward_slice_like", g.out_grads[0], g.inputs[0]), None],
    doc="Slices the leading part of data to the shape of shape_like: data[:d0, :d1, ...] on "
        "every axis, or on `axes` only (shape_like may then have another rank).\n\n"
        "Example: x of shape (3, 4), y of shape (2, 3) -> slice_like(x, y, axes=(1,)) has "
        "shape (3, 3).",
))

_window_backward("_backward_slice_like", lambda b: 0,
                 doc="data_grad = zeros with out_grad in the leading window.")


# ---------------------------------------------------------------------------------------------
# squeeze

def _squeeze_shape(ctx, ins, outs):
    """data -> data's shape without the size-1 axes of axis (all of them when None); (1,) when none
    would be left."""
    data = ins[0]
    if data is None:
        return ins, outs
    axes = ctx.params["axis"]
    if axes is None:
        dropped = {k for k, d in enumerate(data) if d == 1}
    else:
        dropped = set()
        for axis in axes:
            position = normalize_axis(ctx, axis, len(data))
            if data[position] != 1:
                raise ctx.error(f"cannot squeeze axis {axis} of input shape {tuple(data)}: its "
                                f"size is {data[position]}, not 1")
            if position in dropped:
                raise ctx.error(f"axis={tuple(axes)} names axis {position} twice")
            dropped.add(position)
    # as MXNet, at least one axis is kept: squeeze of (1, 1) is (1,)
    out = tuple(d for k, d in enumerate(data) if k not in dropped) or (1,)
    return ins, [out]


register(OpDef(
    "squeeze",
    dtypes=NUMBER_DTYPES,
    params=[Param("axis", "shape", None, "Selects a subset of the single-dimensional entries "
                                         "in the shape. If an axis is selected with shape "
                                         "entry greater than one, an error is raised.",
                  optional=True)],
    infer_shape=_squeeze_shape,
    inplace=[(0, 0)],
    kernel=_copy_kernel,
    gradient=_reshape_back,
    doc="Removes axes of size one: all of them, or those in `axis`.  Unlike NumPy the "
        "result keeps at least one axis: squeeze of shape (1, 1, 1) has shape (1,).\n\n"
        "Example: x of shape (1, 3, 1) -> squeeze(x) has shape (3,), squeeze(x, axis=2) "
        "has shape (1, 3).",
))


# ---------------------------------------------------------------------------------------------
# reverse (flip)

def _reversed_axes(axes):
    """The axes reversed an odd number of times (reversing twice is the identity)."""
    return sorted(a for a in set(axes) if list(axes).count(a) % 2)


def _reverse_shape(ctx, ins, outs):
    """data -> the same shape; the axes lie in [0, rank)."""
    known = ins[0] if ins[0] is not None else outs[0]
    if known is not None:
        for axis in ctx.params["axis"]:
            if not 0 <= axis < len(known):   # MXNet 1.9 refuses negative axes too
                raise ctx.error(f"axis {axis} is out of range [0, {len(known)}) for input "
                                f"shape {tuple(known)}")
    return same_shape(ctx, ins, outs)


def _reverse_kernel(b):
    shape = b.inputs[0].shape
    strides = list(_strides(shape))
    offset = 0
    for axis in _reversed_axes(b.params["axis"]):
        # read axis `axis` from its last element backwards
        offset += (shape[axis] - 1) * strides[axis]
        strides[axis] = -strides[axis]
    _gather(b, offset, strides)


register(OpDef(
    "reverse",
    dtypes=NUMBER_DTYPES,
    aliases=("flip",),
    params=[Param("axis", "shape", doc="The axis which to reverse elements.")],
    infer_shape=_reverse_shape,
    kernel=_reverse_kernel,
    gradient=lambda g: [g.op("reverse", g.out_grads[0], axis=g.params["axis"])],
    doc="Reverses the order of elements along the given axes, keeping the shape.\n\n"
        "Example: x = [[0, 1, 2], [3, 4, 5]] -> reverse(x, axis=1) = [[2, 1, 0], [5, 4, 3]].",
))


# ---------------------------------------------------------------------------------------------
# depth_to_space, space_to_depth: one 6-D transpose each, each the other's gradient

def _block_shape(ctx, data, to_space):
    if len(data) != 4:
        raise ctx.error(f"input 'data' must be 4-D (N, C, H, W), got shape {tuple(data)}")
    block = ctx.params["block_size"]
    n, c, h, w = data
    if to_space:
        if c % (block * block):
            raise ctx.error(f"the depth {c} of input shape {tuple(data)} is not a multiple of "
                            f"block_size^2 = {block * block}")
        return (n, c // (block * block), h * block, w * block)
    if h % block or w % block:
        raise ctx.error(f"the height and width of input shape {tuple(data)} must be multiples "
                        f"of block_size={block}")
    return (n, c * block * block, h // block, w // block)


def _block_rule(to_space):
    def rule(ctx, ins, outs):
        """depth_to_space: (N, C, H, W) -> (N, C / block_size**2, H * block_size, W * block_size);
        space_to_depth: the inverse."""
        if ins[0] is None:
            return ins, outs
        return ins, [_block_shape(ctx, ins[0], to_space)]
    return rule


def _depth_to_space_kernel(b):
    """out[n, c, h*b + i, w*b + j] = x[n, (i*b + j)*C' + c, h, w]: the output viewed as
    (N, C', H, b, W, b) read through the input's strides."""
    block = b.params["block_size"]
    n, channels, height, width = b.inputs[0].shape
    plane, depth = height * width, channels // (block * block)
    view = b.outputs[0].reshape(n, depth, height, block, width, block)
    _gather(b, 0, [channels * plane, plane, width, block * depth * plane, 1, depth * plane], view)


def _space_to_depth_kernel(b):
    """out[n, (i*b + j)*C + c, h, w] = x[n, c, h*b + i, w*b + j]: the output viewed as
    (N, b, b, C, H/b, W/b) read through the input's strides."""
    block = b.params["block_size"]
    n, channels, height, width = b.inputs[0].shape
    view = b.outputs[0].reshape(n, block, block, channels, height // block, width // block)
    _gather(b, 0, [channels * height * width, width, 1, height * width, block * width, block],
            view)


for _name, _inverse, _to_space, _doc in (
        ("depth_to_space", "space_to_depth", True,
         "Moves blocks of depth into space: (N, C, H, W) -> (N, C/b^2, H*b, W*b), with "
         "out[n, c, h*b + i, w*b + j] = x[n, (i*b + j)*C/b^2 + c, h, w] (ONNX DepthToSpace, "
         "DCR order)."),
        ("space_to_depth", "depth_to_space", False,
         "Moves blocks of space into depth: (N, C, H, W) -> (N, C*b^2, H/b, W/b), with "
         "out[n, (i*b + j)*C + c, h, w] = x[n, c, h*b + i, w*b + j]; the inverse of "
         "depth_to_space.")):
    register(OpDef(
        _name,
        params=[Param("block_size", "int", doc="Blocks of [block_size. block_size] are moved",
                      low=1)],
        infer_shape=_block_rule(_to_space),
        kernel=_depth_to_space_kernel if _to_space else _space_to_depth_kernel,
        gradient=lambda g, inverse=_inverse: [
            g.op(inverse, g.out_grads[0], block_size=g.params["block_size"])],
        doc=_doc + "\n\nExample: x of shape (1, 4, 2, 3) -> depth_to_space(x, 2) has shape "
                   "(1, 1, 4, 6).",
    ))


# ---------------------------------------------------------------------------------------------
# Pad

def _pad_shape(ctx, ins, outs):
    """4-D or 5-D data -> axis k grows by pad_width[2k] + pad_width[2k + 1]; only axes 2 and after
    are padded (mode 'reflect': by less than the axis)."""
    data = ins[0]
    if data is None:
        return ins, outs
    pad, mode = ctx.params["pad_width"], ctx.params["mode"]
    if len(data) not in (4, 5):
        raise ctx.error(f"only 4-D and 5-D inputs can be padded (as MXNet), got shape "
                        f"{tuple(data)}")
    if len(pad) != 2 * len(data):
        raise ctx.error(f"pad_width {tuple(pad)} must have two entries per axis of input "
                        f"shape {tuple(data)}")
    if any(pad[:4]):
        raise ctx.error(f"pad_width {tuple(pad)} pads the first two axes; only the spatial "
                        f"axes (2 and after) can be padded")
    # MXNet checks axes 2 and 3 only (and reads outside a 5-D input's last axis): every one here
    if mode == "reflect" and any(pad[2 * k] >= data[k] or pad[2 * k + 1] >= data[k]
                                 for k in range(2, len(data))):
        raise ctx.error(f"reflect padding must be smaller than the padded axis: pad_width "
                        f"{tuple(pad)}, input shape {tuple(data)}")
    return ins, [tuple(d + pad[2 * k] + pad[2 * k + 1] for k, d in enumerate(data))]


_PAD_PARAMS = [
    Param("mode", "str", doc="Padding type to use. \"constant\" pads with `constant_value` "
                             "\"edge\" pads using the edge values of the input array "
                             "\"reflect\" pads by reflecting values with respect to the edges.",
          choices=("constant", "edge", "reflect")),
    Param("pad_width", "shape", doc="Widths of the padding regions applied to the edges of "
                                    "each axis: (before_1, after_1, ... , before_N, after_N), "
                                    "numpy.pad's pad_width flattened.", low=0),
    Param("constant_value", "float", 0.0, "The value used for padding when `mode` is "
                                          "\"constant\"."),
]

register(OpDef(
    "Pad",
    aliases=("pad",),
    params=_PAD_PARAMS,
    infer_shape=_pad_shape,
    kernel=lambda b: kernels("layout").append_pad(
        b.plan, b.inputs[0], b.outputs[0], b.params["pad_width"], b.params["mode"],
        b.params["constant_value"], b.req[0], b.label),
    gradient=lambda g: [g.op("_backward_Pad", g.out_grads[0], **g.forward_attrs())],
    doc="Pads the spatial axes of a 4-D or 5-D array (the first two pad widths of each must "
        "be 0) with a constant, the edge values, or a reflection (numpy.pad's 'reflect': the "
        "edge is not repeated).\n\n"
        "Example: x of shape (1, 2, 3, 4) -> pad(x, mode='edge', "
        "pad_width=(0, 0, 0, 0, 1, 2, 2, 1)) has shape (1, 2, 6, 7).",
))


def _pad_backward_shape(ctx, ins, outs):
    if ins[0] is None:
        return ins, outs
    pad = ctx.params["pad_width"]
    return ins, [tuple(d - pad[2 * k] - pad[2 * k + 1] for k, d in enumerate(ins[0]))]


register(OpDef(
    "_backward_Pad",
    params=_PAD_PARAMS,
    inputs=("out_grad",),
    outputs=("data_grad",),
    infer_shape=_pad_backward_shape,
    kernel=lambda b: kernels("layout").append_pad_backward(
        b.plan, b.inputs[0], b.outputs[0], b.params["pad_width"], b.params["mode"], b.req[0],
        b.label),
    hidden=True,
    doc="data_grad[i] = the sum of out_grad over the padded positions that copy input i.",
))


# ---------------------------------------------------------------------------------------------
# Crop (deprecated in MXNet for slice; `crop` is slice's alias)

def _crop_offset(params, data, height, width):
    """(y, x) of the top-left corner of the crop window."""
    if params["center_crop"]:
        return (data[2] - height) // 2, (data[3] - width) // 2
    return tuple(params["offset"])


def _crop_shape(ctx, ins, outs):
    """arg0 (N, C, H, W) -> (N, C, h, w): h_w, or arg1's height and width (crop_like) with
    num_args=2."""
    data = ins[0]
    if data is None:
        return ins, outs
    if len(data) != 4:
        raise ctx.error(f"input 'arg0' must be 4-D (batch, channel, y, x), got shape "
                        f"{tuple(data)}")
    if ctx.params["num_args"] == 2:
        like = ins[1]
        if like is None:
            return ins, outs
        if len(like) < 4:
            raise ctx.error(f"input 'arg1' (crop_like) must be 4-D, got shape {tuple(like)}")
        height, width = like[2], like[3]
    else:
        height, width = ctx.params["h_w"]
        if not (1 <= height <= data[2] and 1 <= width <= data[3]):
            raise ctx.error(f"h_w={tuple(ctx.params['h_w'])} must lie between (1, 1) and the "
                            f"input's height and width {tuple(data[2:])}")
    if height > data[2] or width > data[3]:
        raise ctx.error(f"cannot crop ({height}, {width}) out of input shape {tuple(data)}")
    top, left = _crop_offset(ctx.params, data, height, width)
    if not (0 <= top <= data[2] - height and 0 <= left <= data[3] - width):
        raise ctx.error(f"offset={(top, left)} puts the ({height}, {width}) window outside "
                        f"input shape {tuple(data)}")
    return ins, [(data[0], data[1], height, width)]


def _crop_start(b, data_shape, out_shape):
    top, left = _crop_offset(b.params, data_shape, out_shape[2], out_shape[3])
    return top * data_shape[3] + left


def _crop_kernel(b):
    data = b.inputs[0]
    _gather(b, _crop_start(b, data.shape, b.outputs[0].shape), _strides(data.shape))


_CROP_PARAMS = [
    Param("offset", "shape", (0, 0), "crop offset coordinate: (y, x)", length=(2,)),
    Param("h_w", "shape", (0, 0), "crop height and width: (h, w)", length=(2,)),
    Param("center_crop", "bool", False, "If set to true, then it will use be the center_crop,"
                                        "or it will crop using the shape of crop_like"),
]

register(OpDef(
    "Crop",
    params=[Param("num_args", "int", doc="Number of inputs for crop: one uses h_w for the "
                                         "crop height and width, two use the height and width "
                                         "of the second input (crop_like).", low=1, high=2)]
    + _CROP_PARAMS,
    variadic="num_args",
    infer_shape=_crop_shape,
    infer_type=_data_type,
    shape_only=lambda params: ["arg1"] if params["num_args"] == 2 else [],
    no_grad=("arg1",),
    kernel=_crop_kernel,
    gradient=lambda g: [g.op("_backward_Crop", g.out_grads[0], g.inputs[0],
                             offset=g.params["offset"], center_crop=g.params["center_crop"])]
    + [None] * (g.params["num_args"] - 1),
    doc="Crops the last two axes of a 4-D input to h_w, or to the height and width of a "
        "second input, from `offset` or centred.  Deprecated in MXNet in favour of slice.\n\n"
        "Example: x of shape (1, 2, 5, 6) -> Crop(x, num_args=1, h_w=(2, 3), offset=(1, 2)) = "
        "x[:, :, 1:3, 2:5].",
))

_window_backward(
    "_backward_Crop",
    lambda b: _crop_start(b, b.outputs[0].shape, b.inputs[0].shape),
    params=_CROP_PARAMS[0::2],
    doc="data_grad = zeros with out_grad in the cropped window.")
