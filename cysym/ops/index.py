"""Indexing and data-movement operators: slice_axis, slice, SwapAxis, broadcast_to,
broadcast_like, tile, repeat, stack, Cast, argmax/argmin/argmax_channel, one_hot, pick,
take, where.

Index inputs (pick's index, take's indices, one_hot's indices, where's condition) are float
or integer arrays (float32, float64, int32, int64) as in MXNet; they never receive a gradient
and may have a type other than the data's.  The data-movement operators and Cast also take
integer arrays.  Most forward kernels are one strided gather (cysym._ops.index.append_gather): a
slice reads the input through offset strides, a broadcast through zero strides, tile and
repeat through zero strides of a view with extra unit axes.  Their gradients sum the
broadcast back (cysym._ops.elemwise.append_sum_to) or scatter into a zeroed gradient.
"""
import numpy as np

from ..registry import ARRAY_DTYPES, NUMBER_DTYPES, OpDef, Param, register
from .common import kernels, normalize_axis, prod, same_shape


def _c_strides(shape):
    strides, step = [], 1
    for d in reversed(tuple(shape)):
        strides.append(step)
        step *= int(d)
    return strides[::-1]


def _as_list(entries):
    return entries if isinstance(entries, list) else [entries]


def _data_and_index_type(ctx, ins, outs):
    """dtype rule of (data, index) ops: the data and the output share a dtype; the index keeps
    its own (it is read as float32 or float64 whatever the data is)."""
    known = ins[0] if ins[0] is not None else outs[0]
    return [known] + list(ins[1:]), [known]


class _BindRules:
    """Lets a kernel reuse a shape rule's range computation (errors cannot happen by then)."""

    def __init__(self, b):
        self.params = b.params
        self.label = b.label

    def error(self, message):
        return ValueError(f"{self.label}: {message}")


# ---------------------------------------------------------------------------------------------
# SwapAxis: a transpose that exchanges two axes

def _swap_axes(ctx, ndim):
    axes = list(range(ndim))
    first = normalize_axis(ctx, ctx.params["dim1"], ndim)
    second = normalize_axis(ctx, ctx.params["dim2"], ndim)
    axes[first], axes[second] = axes[second], axes[first]
    return tuple(axes)


def _swapaxis_shape(ctx, ins, outs):
    """data -> data's shape with axes dim1 and dim2 swapped."""
    known = ins[0] if ins[0] is not None else outs[0]
    if known is None:
        return ins, outs
    axes = _swap_axes(ctx, len(known))   # its own inverse: works in both directions
    swapped = tuple(known[a] for a in axes)
    return ([known], [swapped]) if ins[0] is not None else ([swapped], [known])


register(OpDef(
    "SwapAxis",
    dtypes=NUMBER_DTYPES,
    aliases=("swapaxes",),
    params=[Param("dim1", "int", 0, "the first axis to be swapped."),
            Param("dim2", "int", 0, "the second axis to be swapped.")],
    infer_shape=_swapaxis_shape,
    kernel=lambda b: kernels("shape").append_transpose(
        b.plan, b.inputs[0], b.outputs[0], _swap_axes(_BindRules(b), b.inputs[0].ndim), b.req[0],
        b.label),
    # swapping twice is the identity: the gradient is the same swap of the output gradient
    gradient=lambda g: [g.op("SwapAxis", g.out_grads[0], **g.forward_attrs())],
    doc="Interchanges two axes of an array.\n\n"
        "Example: x of shape (1, 2, 3) -> swapaxes(x, dim1=0, dim2=2) has shape (3, 2, 1).",
))


# ---------------------------------------------------------------------------------------------
# stack: Concat of views that carry a new unit axis

def _stack_shape(ctx, ins, outs):
    """num_args inputs of one shape S -> S with num_args inserted at axis (an axis of the output)."""
    count = ctx.params["num_args"]
    known = next((s for s in ins if s is not None), None)
    if known is None and outs[0] is not None:
        axis = normalize_axis(ctx, ctx.params["axis"], len(outs[0]))
        known = tuple(outs[0][:axis]) + tuple(outs[0][axis + 1:])
    if known is None:
        return ins, outs
    for position, shape in enumerate(ins):
        if shape is not None and tuple(shape) != tuple(known):
            raise ctx.error(f"input 'arg{position}' has shape {tuple(shape)}, but stack needs "
                            f"every input to have shape {tuple(known)}")
    axis = normalize_axis(ctx, ctx.params["axis"], len(known) + 1)
    out = tuple(known[:axis]) + (count,) + tuple(known[axis:])
    return [tuple(known)] * len(ins), [out]


def _stack_axis(params, ndim_out):
    return params["axis"] % ndim_out


def _stack_kernel(b):
    axis = _stack_axis(b.params, b.outputs[0].ndim)
    pieces = [x.reshape(x.shape[:axis] + (1,) + x.shape[axis:]) for x in b.inputs]
    kernels("shape").append_concat(b.plan, pieces, b.outputs[0], axis, b.req[0], b.label)


register(OpDef(
    "stack",
    dtypes=NUMBER_DTYPES,
    params=[Param("axis", "int", 0, "The axis in the result array along which the input arrays "
                                    "are stacked."),
            Param("num_args", "int", doc="Number of inputs to be stacked.", low=1)],
    variadic="num_args",
    infer_shape=_stack_shape,
    kernel=_stack_kernel,
    gradient=lambda g: _as_list(g.op("_backward_stack", g.out_grads[0], **g.forward_attrs())),
    doc="Joins a sequence of arrays of one shape along a new axis.\n\n"
        "Example: two arrays of shape (2, 3) stacked with axis=1 give shape (2, 2, 3).",
))


def _stack_backward_shape(ctx, ins, outs):
    count = ctx.params["num_args"]
    if ins[0] is None:
        return ins, outs
    axis = normalize_axis(ctx, ctx.params["axis"], len(ins[0]))
    piece = tuple(ins[0][:axis]) + tuple(ins[0][axis + 1:])
    return ins, [piece] * count


register(OpDef(
    "_backward_stack",
    params=[Param("axis", "int", 0), Param("num_args", "int", low=1)],
    inputs=("out_grad",),
    outputs=lambda params: [f"arg{i}_grad" for i in range(params["num_args"])],
    infer_shape=_stack_backward_shape,
    kernel=lambda b: kernels("shape").append_split(
        b.plan, b.inputs[0], list(b.outputs), _stack_axis(b.params, b.inputs[0].ndim), True,
        b.req, b.label),
    hidden=True,
    doc="Splits the output gradient of stack back into its inputs' gradients.",
))


# ---------------------------------------------------------------------------------------------
# slice_axis and slice: strided gathers; their gradients scatter into a zeroed gradient

def _slice_axis_range(ctx, shape):
    """(axis, begin, end) of slice_axis on `shape`, with MXNet's checks."""
    axis = normalize_axis(ctx, ctx.params["axis"], len(shape))
    size = shape[axis]
    begin, end = ctx.params["begin"], ctx.params["end"]
    first = begin + size if begin < 0 else begin
    last = size if end is None else (end + size if end < 0 else end)
    if size > 0 and not (0 <= first < last <= size):
        raise ctx.error(f"begin={begin}, end={end} select nothing (or too much) from axis "
                        f"{axis} of size {size} in input shape {tuple(shape)}")
    if size == 0:
        first = last = 0
    return axis, first, last


def _slice_axis_shape(ctx, ins, outs):
    """data -> data's shape with axis cut to end - begin (end None: to the end; negative values
    count from the end)."""
    if ins[0] is None:
        return ins, outs
    axis, first, last = _slice_axis_range(ctx, ins[0])
    out = tuple(last - first if k == axis else d for k, d in enumerate(ins[0]))
    return ins, [out]


def _slice_axis_walk(b, data_shape):
    """(offset, strides) of the sliced window inside an array of data_shape."""
    axis, first, _ = _slice_axis_range(_BindRules(b), data_shape)
    strides = _c_strides(data_shape)
    return first * strides[axis], strides


_SLICE_AXIS_PARAMS = [
    Param("axis", "int", doc="Axis along which to be sliced, supports negative indexes."),
    Param("begin", "int", doc="The beginning index along the axis to be sliced, supports "
                              "negative indexes."),
    Param("end", "int", doc="The ending index along the axis to be sliced, supports negative "
                            "indexes; None slices to the end.", optional=True),
]


def _slice_axis_kernel(b):
    offset, strides = _slice_axis_walk(b, b.inputs[0].shape)
    kernels("index").append_gather(b.plan, b.inputs[0], b.outputs[0], offset, strides, b.req[0], b.label)


def _slice_axis_backward_kernel(b):
    offset, strides = _slice_axis_walk(b, b.outputs[0].shape)
    kernels("index").append_scatter_add(b.plan, b.inputs[0], b.outputs[0], offset, strides, b.req[0],
                                  b.label)


register(OpDef(
    "slice_axis",
    dtypes=NUMBER_DTYPES,
    params=_SLICE_AXIS_PARAMS,
    infer_shape=_slice_axis_shape,
    kernel=_slice_axis_kernel,
    # the data is passed for its shape: the gradient is the output gradient placed in zeros
    gradient=lambda g: [g.op("_backward_slice_axis", g.out_grads[0], g.inputs[0],
                             **g.forward_attrs())],
    doc="Slices along a given axis: data[..., begin:end, ...] on `axis`.\n\n"
        "Example: x of shape (3, 4) -> slice_axis(x, axis=1, begin=1, end=-1) has shape (3, 2).",
))

register(OpDef(
    "_backward_slice_axis",
    params=_SLICE_AXIS_PARAMS,
    inputs=("out_grad", "data"),
    outputs=("data_grad",),
    infer_shape=lambda ctx, ins, outs: (ins, [ins[1] if ins[1] is not None else outs[0]]),
    kernel=_slice_axis_backward_kernel,
    hidden=True,
    doc="data_grad = zeros with out_grad in the sliced window.",
))


def _slice_range(ctx, shape):
    """Per axis (begin, step, size) of slice on `shape`, as MXNet's GetIndexRange: indices
    must lie inside the axis (no clipping) and an empty result is an error."""
    begin, end, step = ctx.params["begin"], ctx.params["end"], ctx.params["step"]
    if len(begin) != len(end):
        raise ctx.error(f"begin={tuple(begin)} and end={tuple(end)} must have the same length")
    if len(begin) > len(shape):
        raise ctx.error(f"begin={tuple(begin)} slices more axes than the input shape "
                        f"{tuple(shape)} has")
    if step and len(step) != len(begin):
        raise ctx.error(f"step={tuple(step)} and begin={tuple(begin)} must have the same length")
    ranges = []
    for axis, size in enumerate(shape):
        if axis >= len(begin):
            ranges.append((0, 1, size))
            continue
        s = step[axis] if step and step[axis] is not None else 1
        if s == 0:
            raise ctx.error(f"step[{axis}] cannot be 0")
        if size == 0:
            ranges.append((0, s, 0))
            continue
        b = begin[axis] if begin[axis] is not None else (size - 1 if s < 0 else 0)
        e = end[axis] if end[axis] is not None else (-1 if s < 0 else size)
        b = b + size if b < 0 else b
        if end[axis] is not None and e < 0:
            e += size
        where = f"begin[{axis}]={begin[axis]}, end[{axis}]={end[axis]}, step[{axis}]={s}"
        if not 0 <= b < size or not -1 <= e <= size:
            raise ctx.error(f"slicing with {where} exceeds axis {axis} of size {size} in input "
                            f"shape {tuple(shape)}")
        if (s > 0 and b >= e) or (s < 0 and e >= b):
            raise ctx.error(f"slicing with {where} selects nothing from input shape "
                            f"{tuple(shape)} (empty results are not supported)")
        ranges.append((b, s, (e - b - 1) // s + 1 if s > 0 else (b - e - 1) // (-s) + 1))
    return ranges


def _slice_shape(ctx, ins, outs):
    """data -> on each sliced axis the number of indices in range(begin, end, step) (None: the whole
    axis; negative values count from the end); the other axes unchanged."""
    if ins[0] is None:
        return ins, outs
    return ins, [tuple(size for _, _, size in _slice_range(ctx, ins[0]))]


def _slice_walk(b, data_shape):
    ranges = _slice_range(_BindRules(b), data_shape)
    strides = _c_strides(data_shape)
    offset = sum(first * stride for (first, _, _), stride in zip(ranges, strides))
    return offset, [step * stride for (_, step, _), stride in zip(ranges, strides)]


def _slice_kernel(b):
    offset, strides = _slice_walk(b, b.inputs[0].shape)
    kernels("index").append_gather(b.plan, b.inputs[0], b.outputs[0], offset, strides, b.req[0], b.label)


def _slice_backward_kernel(b):
    offset, strides = _slice_walk(b, b.outputs[0].shape)
    kernels("index").append_scatter_add(b.plan, b.inputs[0], b.outputs[0], offset, strides, b.req[0],
                                  b.label)


_SLICE_PARAMS = [
    Param("begin", "shape", doc="starting indices for the slice operation, supports negative "
                                "indices; None entries take the default."),
    Param("end", "shape", doc="ending indices for the slice operation, supports negative "
                              "indices; None entries take the default."),
    Param("step", "shape", (), "step for the slice operation, supports negative values."),
]

register(OpDef(
    "slice",
    dtypes=NUMBER_DTYPES,
    aliases=("crop",),
    params=_SLICE_PARAMS,
    infer_shape=_slice_shape,
    kernel=_slice_kernel,
    gradient=lambda g: [g.op("_backward_slice", g.out_grads[0], g.inputs[0], **g.forward_attrs())],
    doc="Slices a region of the array: data[b0:e0:s0, b1:e1:s1, ...] for the given begin, end "
        "and step; axes beyond len(begin) are kept whole.\n\n"
        "Unlike NumPy, indices outside the axis and empty results are errors (as MXNet).\n"
        "Example: x of shape (3, 4) -> slice(x, begin=(0, 1), end=(2, 4)) has shape (2, 3).",
))

register(OpDef(
    "_backward_slice",
    params=_SLICE_PARAMS,
    inputs=("out_grad", "data"),
    outputs=("data_grad",),
    infer_shape=lambda ctx, ins, outs: (ins, [ins[1] if ins[1] is not None else outs[0]]),
    kernel=_slice_backward_kernel,
    hidden=True,
    doc="data_grad = zeros with out_grad in the sliced window.",
))


# ---------------------------------------------------------------------------------------------
# broadcast_to, broadcast_like: a gather with zero strides; the gradient sums back

def _broadcast_target(ctx, shape, target, what):
    if len(target) != len(shape):
        raise ctx.error(f"input of shape {tuple(shape)} cannot be broadcast to {what}")
    out = []
    for d, t in zip(shape, target):
        if t and d != t and d != 1:
            raise ctx.error(f"input of shape {tuple(shape)} cannot be broadcast to {what}")
        out.append(t if t else d)
    return tuple(out)


def _broadcast_to_shape(ctx, ins, outs):
    """data -> shape (the parameter, of data's rank): data's size-1 axes broadcast, and a 0 keeps
    data's size."""
    if ins[0] is None:
        return ins, outs
    target = tuple(ctx.params["shape"])
    return ins, [_broadcast_target(ctx, ins[0], target, f"shape={target}")]


def _broadcast_kernel(b):
    """out = np.broadcast_to(x, out.shape) for x of out's rank (unit axes read with stride 0)."""
    x, out = b.inputs[0], b.outputs[0]
    strides = [0 if d == 1 else s for d, s in zip(x.shape, _c_strides(x.shape))]
    kernels("index").append_gather(b.plan, x, out, 0, strides, b.req[0], b.label)


register(OpDef(
    "broadcast_to",
    dtypes=NUMBER_DTYPES,
    params=[Param("shape", "shape", (), "The shape of the desired array. A 0 keeps the input's "
                                        "size on that axis: broadcast_to(B, shape=(10, 0, 0)).")],
    infer_shape=_broadcast_to_shape,
    kernel=_broadcast_kernel,
    gradient=lambda g: [g.op("_reduce_like", g.out_grads[0], g.inputs[0])],
    doc="Broadcasts the input array to a new shape: axes of size 1 are repeated.\n\n"
        "Example: x of shape (2, 1, 3) -> broadcast_to(x, shape=(0, 4, 0)) has shape (2, 4, 3).",
))


def _broadcast_axis_shape(ctx, ins, outs):
    """data -> data's shape with each size-1 axis of axis set to the matching entry of size."""
    data = ins[0]
    if data is None:
        return ins, outs
    axes, sizes = tuple(ctx.params["axis"]), tuple(ctx.params["size"])
    if len(axes) != len(sizes):
        raise ctx.error(f"axis={axes} and size={sizes} must have one length")
    out = list(data)
    for axis, size in zip(axes, sizes):
        axis = normalize_axis(ctx, axis, len(data))
        if data[axis] != 1:
            raise ctx.error(f"axis {axis} of input shape {tuple(data)} has size {data[axis]}; "
                            f"only size-1 axes broadcast")
        out[axis] = size
    return ins, [tuple(out)]


register(OpDef(
    "broadcast_axis",
    dtypes=NUMBER_DTYPES,
    aliases=("broadcast_axes",),
    params=[Param("axis", "shape", (), "The axes to perform the broadcasting."),
            Param("size", "shape", (), "Target sizes of the broadcasting axes.", low=1)],
    infer_shape=_broadcast_axis_shape,
    kernel=_broadcast_kernel,
    gradient=lambda g: [g.op("_reduce_like", g.out_grads[0], g.inputs[0])],
    doc="Broadcasts the input along the given size-1 axes: broadcast_axis(x, axis=(0, 2), "
        "size=(2, 4)) turns (1, 3, 1) into (2, 3, 4).",
))


def _broadcast_like_shape(ctx, ins, outs):
    """lhs, rhs -> rhs's shape (lhs's size-1 axes broadcast to it); with lhs_axes and rhs_axes,
    lhs's shape with each lhs_axes[i] (size 1) set to rhs's size on rhs_axes[i]."""
    lhs, rhs = ins
    if lhs is None or rhs is None:
        return ins, outs
    lhs_axes, rhs_axes = ctx.params["lhs_axes"], ctx.params["rhs_axes"]
    if lhs_axes is None or rhs_axes is None:
        return ins, [_broadcast_target(ctx, lhs, rhs, f"rhs's shape {tuple(rhs)}")]
    if len(lhs_axes) != len(rhs_axes) or not lhs_axes:
        raise ctx.error(f"lhs_axes={tuple(lhs_axes)} and rhs_axes={tuple(rhs_axes)} must be "
                        f"non-empty and of one length")
    out = list(lhs)
    for source, target in zip(lhs_axes, rhs_axes):
        source = normalize_axis(ctx, source, len(lhs))
        target = normalize_axis(ctx, target, len(rhs))
        if lhs[source] != 1:
            raise ctx.error(f"axis {source} of lhs shape {tuple(lhs)} has size {lhs[source]}; "
                            f"only size-1 axes broadcast (to rhs's {rhs[target]})")
        out[source] = rhs[target]
    return ins, [tuple(out)]


def _lhs_type(ctx, ins, outs):
    # rhs is read for its shape only: the output has lhs's dtype
    known = ins[0] if ins[0] is not None else outs[0]
    return [known, ins[1]], [known]


register(OpDef(
    "broadcast_like",
    dtypes=NUMBER_DTYPES,
    params=[Param("lhs_axes", "shape", None, "Axes to perform broadcast on in the first input "
                                             "array", optional=True),
            Param("rhs_axes", "shape", None, "Axes to copy from the second input array",
                  optional=True)],
    inputs=("lhs", "rhs"),
    infer_shape=_broadcast_like_shape,
    infer_type=_lhs_type,
    kernel=_broadcast_kernel,
    gradient=lambda g: [g.op("_reduce_like", g.out_grads[0], g.inputs[0]), None],
    no_grad=("rhs",),
    doc="Broadcasts lhs to the shape of rhs (read for its shape only); with lhs_axes and "
        "rhs_axes, only lhs's listed axes take the sizes of rhs's.\n\n"
        "Example: lhs (1, 3), rhs (2, 3) -> output (2, 3).",
))


# ---------------------------------------------------------------------------------------------
# tile and repeat: a broadcast of a view with extra unit axes; the gradient sums them away

def _tile_views(shape, reps):
    """(input view, output view) shapes: tile is a broadcast of (1, d0, 1, d1, ...) to
    (r0, d0, r1, d1, ...), both padded on the left to one rank (MXNet's TileOp)."""
    ndim = max(len(shape), len(reps))
    shape = (1,) * (ndim - len(shape)) + tuple(shape)
    reps = (1,) * (ndim - len(reps)) + tuple(reps)
    source = tuple(v for d in shape for v in (1, d))
    target = tuple(v for r, d in zip(reps, shape) for v in (r, d))
    return source, target


def _tile_shape(ctx, ins, outs):
    """data -> each axis times its entry of reps, the two aligned on the right (the shorter padded
    with leading 1s)."""
    if ins[0] is None:
        return ins, outs
    reps = tuple(ctx.params["reps"])
    if any(r <= 0 for r in reps):
        raise ctx.error(f"reps={reps} must be positive")
    if not reps:
        return ins, [tuple(ins[0])]
    _, target = _tile_views(ins[0], reps)
    return ins, [tuple(target[2 * k] * target[2 * k + 1] for k in range(len(target) // 2))]


def _views_kernel(views):
    def kernel(b):
        source, target = views(b.params, b.inputs[0].shape)
        x = b.inputs[0].reshape(source)
        strides = [0 if d == 1 else s for d, s in zip(source, _c_strides(source))]
        kernels("index").append_gather(b.plan, x, b.outputs[0].reshape(target), 0, strides, b.req[0],
                                 b.label)
    return kernel


def _views_backward_kernel(views):
    def kernel(b):
        dy, dx = b.inputs[0], b.outputs[0]
        if dy.size == 0:     # repeats=0: nothing reached the output
            kernels("shape").append_fill(b.plan, dx, 0.0, b.req[0], b.label)
            return
        source, target = views(b.params, dx.shape)
        kernels("elemwise").append_sum_to(b.plan, dy.reshape(target), dx.reshape(source),
                                          b.req[0], b.label)
    return kernel


def _tile_params_views(params, shape):
    return _tile_views(shape, tuple(params["reps"]) or (1,) * len(shape))


_TILE_PARAMS = [Param("reps", "shape", doc="The number of times for repeating the tensor a, per "
                                           "axis (aligned to the right, as NumPy's tile).")]

register(OpDef(
    "tile",
    dtypes=NUMBER_DTYPES,
    params=_TILE_PARAMS,
    infer_shape=_tile_shape,
    kernel=_views_kernel(_tile_params_views),
    gradient=lambda g: [g.op("_backward_tile", g.out_grads[0], g.inputs[0], **g.forward_attrs())],
    doc="Repeats the whole array reps times along each axis, as np.tile.\n\n"
        "Example: x of shape (2, 3) -> tile(x, reps=(2, 1, 2)) has shape (2, 2, 6).",
))

register(OpDef(
    "_backward_tile",
    params=_TILE_PARAMS,
    inputs=("out_grad", "data"),
    outputs=("data_grad",),
    infer_shape=lambda ctx, ins, outs: (ins, [ins[1] if ins[1] is not None else outs[0]]),
    kernel=_views_backward_kernel(_tile_params_views),
    hidden=True,
    doc="data_grad = out_grad summed over the tiled copies.",
))


def _repeat_views(params, shape):
    """(input view, output view): repeat is a broadcast of (..., d_axis, 1, ...) to
    (..., d_axis, repeats, ...), or of (size, 1) to (size, repeats) when axis is None."""
    repeats, axis = params["repeats"], params["axis"]
    if axis is None:
        size = prod(shape)
        return (size, 1), (size, repeats)
    axis %= len(shape)
    head, tail = tuple(shape[:axis + 1]), tuple(shape[axis + 1:])
    return head + (1,) + tail, head + (repeats,) + tail


def _repeat_shape(ctx, ins, outs):
    """data -> data's shape with axis times repeats; axis None: the flattened (size * repeats,)."""
    if ins[0] is None:
        return ins, outs
    repeats, axis = ctx.params["repeats"], ctx.params["axis"]
    if axis is not None:
        axis = normalize_axis(ctx, axis, len(ins[0]))
    if repeats == 0:
        return ins, [(0,)]
    if axis is None:
        return ins, [(prod(ins[0]) * repeats,)]
    return ins, [tuple(d * repeats if k == axis else d for k, d in enumerate(ins[0]))]


_REPEAT_PARAMS = [
    Param("repeats", "int", doc="The number of repetitions for each element.", low=0),
    Param("axis", "int", None, "The axis along which to repeat values; negative counts from the "
                               "back; None repeats the flattened input into a flat output.",
          optional=True),
]

register(OpDef(
    "repeat",
    dtypes=NUMBER_DTYPES,
    params=_REPEAT_PARAMS,
    infer_shape=_repeat_shape,
    kernel=_views_kernel(_repeat_views),
    gradient=lambda g: [g.op("_backward_repeat", g.out_grads[0], g.inputs[0],
                             **g.forward_attrs())],
    doc="Repeats each element of the array `repeats` times, as np.repeat.\n\n"
        "Example: x = [[1, 2], [3, 4]] -> repeat(x, repeats=2) = [1, 1, 2, 2, 3, 3, 4, 4]; "
        "repeat(x, repeats=2, axis=1) = [[1, 1, 2, 2], [3, 3, 4, 4]].",
))

register(OpDef(
    "_backward_repeat",
    params=_REPEAT_PARAMS,
    inputs=("out_grad", "data"),
    outputs=("data_grad",),
    infer_shape=lambda ctx, ins, outs: (ins, [ins[1] if ins[1] is not None else outs[0]]),
    kernel=_views_backward_kernel(_repeat_views),
    hidden=True,
    doc="data_grad = out_grad summed over the repeated copies.",
))


# ---------------------------------------------------------------------------------------------
# Cast

DTYPES = ("float32", "float64", "float16", "bfloat16", "uint8", "int8", "int32", "int64")


# NumPy knows bfloat16 only once ml_dtypes is imported (onnx does): cysym has no such arrays
_NO_NUMPY_DTYPE = ("bfloat16",)


def _numpy_dtype(ctx, name):
    try:
        if name in _NO_NUMPY_DTYPE:
            raise TypeError(name)
        return np.dtype(name)
    except TypeError:
        raise ctx.error(f"dtype {name} has no NumPy equivalent; bound arrays may be "
                        f"{', '.join(ARRAY_DTYPES)}") from None


def _cast_type(ctx, ins, outs):
    return ins, [_numpy_dtype(ctx, ctx.params["dtype"])]


register(OpDef(
    "Cast",
    dtypes=ARRAY_DTYPES,
    aliases=("cast",),
    params=[Param("dtype", "str", doc="Output data type. The kernel converts between any two "
                                      "of float32, float64, int32, int64, uint8 and int8 as "
                                      "MXNet does; binding another type is an error.",
                  choices=DTYPES + ("bool",))],
    infer_shape=same_shape,
    infer_type=_cast_type,
    kernel=lambda b: kernels("index").append_cast(b.plan, b.inputs[0], b.outputs[0], b.req[0], b.label),
    gradient=lambda g: [g.op("_backward_cast", g.out_grads[0], g.inputs[0])],
    doc="Casts all elements of the input to a new type.\n\n"
        "Example: cast(x, dtype='float64') where x is float32.",
))

register(OpDef(
    "_backward_cast",
    inputs=("out_grad", "data"),
    outputs=("data_grad",),
    infer_shape=lambda ctx, ins, outs: (ins, [ins[1] if ins[1] is not None else outs[0]]),
    infer_type=lambda ctx, ins, outs: (ins, [ins[1] if ins[1] is not None else outs[0]]),
    kernel=lambda b: kernels("index").append_cast(b.plan, b.inputs[0], b.outputs[0], b.req[0], b.label),
    hidden=True,
    doc="data_grad = out_grad cast back to the data's dtype (data is read for its dtype only).",
))


# ---------------------------------------------------------------------------------------------
# argmax, argmin, argmax_channel: float indices, no gradient

def _search_axis(ctx, shape):
    """The searched axis (None: the flattened input), checked against the input's rank."""
    axis = ctx.params["axis"]
    return None if axis is None else normalize_axis(ctx, axis, len(shape))


def reduce_axis_shape(shape, axis, keepdims):
    """MXNet's ReduceAxisShapeImpl: axis None (or a 1-D input) reduces everything to (1,)."""
    if axis is None or len(shape) == 1:
        return (1,) * len(shape) if keepdims else (1,)
    if keepdims:
        return tuple(1 if k == axis else d for k, d in enumerate(shape))
    return tuple(d for k, d in enumerate(shape) if k != axis)


def _search_shape(ctx, ins, outs):
    """data -> data's shape without axis (1 there with keepdims); axis None or a 1-D input: (1,)."""
    if ins[0] is None:
        return ins, outs
    if not ins[0]:
        raise ctx.error("the input needs at least one dimension")
    axis = _search_axis(ctx, ins[0])
    return ins, [reduce_axis_shape(ins[0], axis, ctx.params["keepdims"])]


def _search_kernel(kind):
    def kernel(b):
        ndim = b.inputs[0].ndim
        axis = b.params["axis"]
        kernels("index").append_search(b.plan, kind, b.inputs[0], b.outputs[0],
                                 None if axis is None else axis % ndim, b.req[0], b.label)
    return kernel


_SEARCH_PARAMS = [
    Param("axis", "int", None, "The axis along which to search; negative counts from the back; "
                               "None searches the flattened input.", optional=True),
    Param("keepdims", "bool", False, "Keep the searched axis with size one."),
]

for _kind in ("max", "min"):
    register(OpDef(
        f"arg{_kind}",
        params=_SEARCH_PARAMS,
        infer_shape=_search_shape,
        kernel=_search_kernel(_kind),
        gradient=lambda g: [None],     # piecewise constant: the gradient is zero
        doc=f"Returns the indices of the {_kind}imum values along an axis, as floats of the "
            f"input's dtype (the first one on ties).\n\n"
            f"Example: x = [[0, 1, 2], [3, 4, 5]] -> arg{_kind}(x, axis=1) = "
            f"{'[2., 2.]' if _kind == 'max' else '[0., 0.]'}.",
    ))


def _argmax_channel_shape(ctx, ins, outs):
    """data -> data's shape without its last axis; a 1-D input gives (1,)."""
    if ins[0] is None:
        return ins, outs
    if not ins[0]:
        raise ctx.error("the input needs at least one dimension")
    return ins, [reduce_axis_shape(ins[0], len(ins[0]) - 1, False)]


register(OpDef(
    "argmax_channel",
    infer_shape=_argmax_channel_shape,
    kernel=lambda b: kernels("index").append_search(b.plan, "max", b.inputs[0], b.outputs[0],
                                              b.inputs[0].ndim - 1, b.req[0], b.label),
    gradient=lambda g: [None],
    doc="Returns the argmax indices along the last axis, as floats.\n\n"
        "Example: x = [[0, 1, 2], [3, 4, 5]] -> argmax_channel(x) = [2., 2.].",
))


# ---------------------------------------------------------------------------------------------
# one_hot

def _one_hot_shape(ctx, ins, outs):
    """indices -> (*indices.shape, depth)."""
    if ins[0] is None:
        return ins, outs
    return ins, [tuple(ins[0]) + (ctx.params["depth"],)]


register(OpDef(
    "one_hot",
    dtypes={"indices": NUMBER_DTYPES},
    params=[Param("depth", "int", doc="Depth of the one hot dimension.", low=0),
            Param("on_value", "float", 1.0, "The value assigned to the locations represented "
                                            "by indices."),
            Param("off_value", "float", 0.0, "The value assigned to the locations not "
                                             "represented by indices."),
            Param("dtype", "str", "float32", "DType of the output.", choices=DTYPES)],
    inputs=("indices",),
    infer_shape=_one_hot_shape,
    infer_type=lambda ctx, ins, outs: (ins, [_numpy_dtype(ctx, ctx.params["dtype"])]),
    kernel=lambda b: kernels("index").append_one_hot(b.plan, b.inputs[0], b.outputs[0],
                                               b.params["on_value"], b.params["off_value"],
                                               b.req[0], b.label),
    gradient=lambda g: [None],
    no_grad=("indices",),
    doc="Returns a one-hot array: out[..., j] = on_value where j == int(indices[...]), "
        "off_value elsewhere; an index outside [0, depth) gives a row of off_value.\n\n"
        "Example: one_hot([1, 0, 2, 0], depth=3) = [[0, 1, 0], [1, 0, 0], [0, 0, 1], [1, 0, 0]].",
))


# ---------------------------------------------------------------------------------------------
# pick

def _pick_axis(ctx, shape):
    if ctx.params["axis"] is None:
        raise ctx.error("axis=None is not supported by pick yet. Must specify an axis.")
    return normalize_axis(ctx, ctx.params["axis"], len(shape))


def _pick_shape(ctx, ins, outs):
    """data, index -> data's shape without axis (1 there with keepdims); index has that shape, or
    data's with 1 on axis."""
    data, index = ins
    if data is None:
        return ins, outs
    axis = _pick_axis(ctx, data)
    out = reduce_axis_shape(data, axis, ctx.params["keepdims"])
    if index is None:
        return [data, out], [out]
    # as MXNet: an index of data's rank has the keepdims shape, otherwise the reduced one
    expected = reduce_axis_shape(data, axis, len(index) == len(data))
    if tuple(index) != expected:
        raise ctx.error(f"input 'index' has shape {tuple(index)}; data {tuple(data)} picked on "
                        f"axis {axis} needs {expected}")
    return ins, [out]


_PICK_PARAMS = [
    Param("axis", "int", -1, "int or None. The axis to picking the elements. Negative values "
                             "means indexing from right to left. None is not supported yet.",
          optional=True),
    Param("keepdims", "bool", False, "If true, the axis where we pick the elements is left in "
                                     "the result as dimension with size one."),
    Param("mode", "str", "clip", "Specify how out-of-bound indices behave: clip to the range, "
                                 "or wrap around.", choices=("wrap", "clip")),
]


def _pick_kernel(b):
    data = b.inputs[0]
    kernels("index").append_pick(b.plan, data, b.inputs[1], b.outputs[0], b.params["axis"] % data.ndim,
                           b.params["mode"], b.req[0], b.label)


def _pick_backward_kernel(b):
    data_grad = b.outputs[0]
    kernels("index").append_pick_backward(b.plan, b.inputs[0], b.inputs[1], data_grad,
                                    b.params["axis"] % data_grad.ndim, b.params["mode"],
                                    b.req[0], b.label)


register(OpDef(
    "pick",
    aliases=("choose_element_0index",),
    dtypes={"index": NUMBER_DTYPES},
    params=_PICK_PARAMS,
    inputs=("data", "index"),
    infer_shape=_pick_shape,
    infer_type=_data_and_index_type,
    kernel=_pick_kernel,
    gradient=lambda g: [g.op("_backward_pick", g.out_grads[0], g.inputs[1], g.inputs[0],
                             **g.forward_attrs()), None],
    no_grad=("index",),
    doc="Picks one element per position along an axis: out[i, k] = data[i, index[i, k], k] "
        "for axis=1.\n\n"
        "Example: x = [[1, 2], [3, 4], [5, 6]], index = [0, 1, 0] -> pick(x, index, axis=1) = "
        "[1, 4, 5].",
))


def _gradient_and_index_type(data_pos):
    """dtype rule of a backward node (out_grad, index, data): out_grad, data and the gradient
    share a dtype; the index keeps its own."""
    def rule(ctx, ins, outs):
        known = next((t for t in (ins[0], ins[data_pos], outs[0]) if t is not None), None)
        ins = list(ins)
        ins[0] = ins[data_pos] = known
        return ins, [known]
    return rule


register(OpDef(
    "_backward_pick",
    dtypes={"index": NUMBER_DTYPES},
    params=_PICK_PARAMS,
    inputs=("out_grad", "index", "data"),
    outputs=("data_grad",),
    infer_shape=lambda ctx, ins, outs: (ins, [ins[2] if ins[2] is not None else outs[0]]),
    infer_type=_gradient_and_index_type(2),
    kernel=_pick_backward_kernel,
    hidden=True,
    doc="data_grad = zeros with out_grad added at the picked positions.",
))


# ---------------------------------------------------------------------------------------------
# take

def _take_shape(ctx, ins, outs):
    """a, indices -> (*a.shape[:axis], *indices.shape, *a.shape[axis + 1:])."""
    a, indices = ins
    if a is None or indices is None:
        return ins, outs
    if not a:
        raise ctx.error("input 'a' needs at least one dimension")
    axis = normalize_axis(ctx, ctx.params["axis"], len(a))
    return ins, [tuple(a[:axis]) + tuple(indices) + tuple(a[axis + 1:])]


_TAKE_PARAMS = [
    Param("axis", "int", 0, "The axis of input array to be taken. For input tensor of rank r, "
                            "it could be in the range of [-r, r-1]"),
    Param("mode", "str", "clip", "Specify how out-of-bound indices behave: clip to the range, "
                                 "wrap around, or raise an error when the graph runs.",
          choices=("raise", "wrap", "clip")),
]


def _take_kernel(b):
    a = b.inputs[0]
    kernels("index").append_take(b.plan, a, b.inputs[1], b.outputs[0], b.params["axis"] % a.ndim,
                           b.params["mode"], b.req[0], b.label)


def _take_backward_kernel(b):
    a_grad = b.outputs[0]
    kernels("index").append_take_backward(b.plan, b.inputs[0], b.inputs[1], a_grad,
                                    b.params["axis"] % a_grad.ndim, b.params["mode"], b.req[0],
                                    b.label)


register(OpDef(
    "take",
    dtypes={"indices": NUMBER_DTYPES},
    params=_TAKE_PARAMS,
    inputs=("a", "indices"),
    infer_shape=_take_shape,
    infer_type=_data_and_index_type,
    kernel=_take_kernel,
    gradient=lambda g: [g.op("_backward_take", g.out_grads[0], g.inputs[1], g.inputs[0],
                             **g.forward_attrs()), None],
    no_grad=("indices",),
    doc="Takes elements from an input array along an axis, as np.take: the output has shape "
        "a.shape[:axis] + indices.shape + a.shape[axis+1:].  With mode='raise' an index outside "
        "[0, n) stops forward with an error naming the operator.\n\n"
        "Example: x = [[1, 2], [3, 4], [5, 6]] -> take(x, [[0, 1], [1, 2]]) = "
        "[[[1, 2], [3, 4]], [[3, 4], [5, 6]]].",
))

register(OpDef(
    "_backward_take",
    dtypes={"indices": NUMBER_DTYPES},
    params=_TAKE_PARAMS,
    inputs=("out_grad", "indices", "a"),
    outputs=("a_grad",),
    infer_shape=lambda ctx, ins, outs: (ins, [ins[2] if ins[2] is not None else outs[0]]),
    infer_type=_gradient_and_index_type(2),
    kernel=_take_backward_kernel,
    hidden=True,
    doc="a_grad = zeros with out_grad added at the taken rows (repeated indices accumulate).",
))


# ---------------------------------------------------------------------------------------------
# where

def _where_shape(ctx, ins, outs):
    """condition, x, y -> x's shape; y has x's shape, and condition too or (x.shape[0],) (then it
    picks rows)."""
    condition, x, y = ins
    known = next((s for s in (x, y, outs[0]) if s is not None), None)
    if known is None:
        return ins, outs
    for name, shape in (("x", x), ("y", y)):
        if shape is not None and tuple(shape) != tuple(known):
            raise ctx.error(f"input '{name}' has shape {tuple(shape)}, but x, y and the output "
                            f"need one shape ({tuple(known)})")
    if condition is None:
        condition = known
    elif tuple(condition) != tuple(known) and not (
            len(condition) == 1 and len(known) >= 1 and condition[0] == known[0]):
        raise ctx.error(f"input 'condition' has shape {tuple(condition)}; it must be x's shape "
                        f"{tuple(known)} or ({known[0] if known else 0},)")
    return [condition, known, known], [known]


def _where_type(ctx, ins, outs):
    known = next((t for t in (ins[1], ins[2], outs[0]) if t is not None), None)
    return [ins[0], known, known], [known]


def _where_backward_kernel(b):
    kernels("index").append_where_backward(b.plan, b.inputs[0], b.inputs[1], b.outputs[0], b.outputs[1],
                                     b.req[0], b.req[1], b.label)


register(OpDef(
    "where",
    dtypes=NUMBER_DTYPES,
    inputs=("condition", "x", "y"),
    infer_shape=_where_shape,
    infer_type=_where_type,
    inplace=[(1, 0), (2, 0)],
    kernel=lambda b: kernels("index").append_where(b.plan, b.inputs[0], b.inputs[1], b.inputs[2],
                                             b.outputs[0], b.req[0], b.label),
    gradient=lambda g: [None] + _as_list(g.op("_backward_where", g.out_grads[0], g.inputs[0])),
    no_grad=("condition",),
    doc="Returns elements of x where condition is non-zero, else of y.  The condition has x's "
        "shape, or is 1-D of size x.shape[0] and selects whole rows.\n\n"
        "Example: cond = [[0, 1], [-1, 0]], x = [[1, 2], [3, 4]], y = [[5, 6], [7, 8]] -> "
        "where(cond, x, y) = [[5, 2], [3, 8]].",
))

register(OpDef(
    "_backward_where",
    dtypes={"condition": NUMBER_DTYPES},
    inputs=("out_grad", "condition"),
    outputs=("x_grad", "y_grad"),
    infer_shape=lambda ctx, ins, outs: (ins, [ins[0], ins[0]]),
    infer_type=lambda ctx, ins, outs: (ins, [ins[0], ins[0]]),
    kernel=_where_backward_kernel,
    hidden=True,
    doc="x_grad = where(condition, out_grad, 0), y_grad = where(condition, 0, out_grad).",
))
