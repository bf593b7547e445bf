"""Operators that move data without arithmetic: Flatten, Reshape, Concat, SliceChannel,
transpose, expand_dims, Embedding, Dropout, the *_like fills."""
import numpy as np

from ..registry import NUMBER_DTYPES, OpDef, Param, register
from ..shapes import is_complete, partial_shape_rule, show_shape, size_of
from .common import kernels, normalize_axis, prod, same_shape


# -- kernels and gradients shared by the copy-like operators ----------------------------------

def _copy_kernel(b):
    """Flatten, Reshape, expand_dims, reshape_like: the output is the input's bytes (nothing is
    copied when the planner placed the output on the input)."""
    kernels("shape").append_copy(b.plan, b.inputs[0], b.outputs[0], b.req[0], b.label)


def _reshape_back(g):
    """The gradient of a reshaping op: the output gradient put back into the input's shape."""
    return [g.op("reshape_like", g.out_grads[0], g.inputs[0])]


@partial_shape_rule
def _flatten_shape(ctx, ins, outs):
    """data (N, *rest) -> (N, prod(rest)); an unknown dimension of data comes back from the output."""
    data, out = ins[0], outs[0]
    if data is None:
        return [None], [out]
    if len(data) < 1:
        raise ctx.error("input 'data' must have at least one dimension")
    if out is not None:
        data = (data[0] if data[0] is not None else out[0],) + tuple(data[1:])
        data = fill_one_unknown(ctx, data, out[1], skip=1)
    return [data], [(data[0], size_of(data[1:]))]


def fill_one_unknown(ctx, shape, size, skip=0):
    """`shape` with its one unknown dimension (after the first `skip`) set so that those
    dimensions hold `size` elements: MXNet's reverse inference through reshapes."""
    rest = shape[skip:]
    if size is None or rest.count(None) != 1:
        return shape
    known = prod(d for d in rest if d is not None)
    if known == 0 or size % known:
        raise ctx.error(f"cannot fill the unknown dimension of {show_shape(shape)} to hold "
                        f"{size} elements")
    return tuple(shape[:skip]) + tuple(size // known if d is None else d for d in rest)


register(OpDef(
    "Flatten",
    dtypes=NUMBER_DTYPES,
    aliases=("flatten",),
    infer_shape=_flatten_shape,
    inplace=[(0, 0)],
    kernel=_copy_kernel,
    gradient=_reshape_back,
    doc="Flattens the input to 2-D: (d1, d2, ..., dk) -> (d1, d2*...*dk).",
))


def _group_reshape_codes(target):
    """Split a Reshape target into units so `reverse` can flip them (-4 keeps its two sizes)."""
    units, i = [], 0
    while i < len(target):
        if target[i] == -4:
            units.append(tuple(target[i:i + 3]))
            i += 3
        else:
            units.append((target[i],))
            i += 1
    return units


def reshape_target(ctx, src, target, reverse):
    """MXNet's Reshape codes: 0 copy, -1 infer, -2 copy the rest, -3 merge two, -4 split one."""
    def fail(why):
        return ctx.error(f"cannot reshape {tuple(src)} to shape={tuple(target)}"
                         f"{' (reverse)' if reverse else ''}: {why}")

    units = _group_reshape_codes(list(target))
    if any(u[0] == -4 and len(u) != 3 for u in units):
        raise fail("-4 must be followed by two sizes")
    if reverse:
        src = tuple(reversed(src))
        units = [(u[0], u[2], u[1]) if len(u) == 3 else u for u in reversed(units)]
    out, infer_at, i = [], None, 0
    for unit in units:
        code = unit[0]
        if code > 0:
            out.append(code)
            i += 1
        elif code == 0:
            if i >= len(src):
                raise fail("0 refers past the last input dimension")
            out.append(src[i])
            i += 1
        elif code == -1:
            if infer_at is not None:
                raise fail("only one -1 is allowed")
            infer_at = len(out)
            out.append(1)
            i += 1
        elif code == -2:
            out.extend(src[i:])
            i = len(src)
        elif code == -3:
            if i + 1 >= len(src):
                raise fail("-3 needs two input dimensions")
            out.append(src[i] * src[i + 1])
            i += 2
        elif code == -4:
            if i >= len(src):
                raise fail("-4 refers past the last input dimension")
            dim, (first, second) = src[i], unit[1:]
            if first == -1 and second == -1:
                raise fail("-4 cannot infer both sizes")
            if first == -1:
                first = dim // second if second else 0
            if second == -1:
                second = dim // first if first else 0
            if first * second != dim:
                raise fail(f"-4 splits {dim} into {first} x {second}")
            out.extend([first, second])
            i += 1
        else:
            raise fail(f"unknown code {code}")
    total = prod(src)
    if infer_at is not None:
        known = prod(out)
        if known == 0 or total % known:
            raise fail(f"-1 cannot be inferred: {total} elements do not divide by {known}")
        out[infer_at] = total // known
    if reverse:
        out.reverse()
    if prod(out) != total:
        raise fail(f"the target has {prod(out)} elements, the input {total}")
    return tuple(out)


def _legacy_target(ctx, src, params):
    target = list(params["target_shape"])
    if params["keep_highest"]:
        target = [src[0]] + target
    target = [-1 if d == 0 else d for d in target]
    return reshape_target(ctx, src, target, False)


@partial_shape_rule
def _reshape_shape(ctx, ins, outs):
    """data -> shape (the parameter) read with MXNet's codes: 0 copies, -1 infers, -2 copies the
    rest, -3 merges two, -4 splits one (reverse: read from the right); or the legacy
    target_shape."""
    data, out = ins[0], outs[0]
    if data is None:
        return [None], [out]
    if not is_complete(data):
        return [fill_one_unknown(ctx, data, prod(out) if is_complete(out) else None)], [out]
    if ctx.params["shape"]:
        return [data], [reshape_target(ctx, data, ctx.params["shape"], ctx.params["reverse"])]
    if ctx.params["target_shape"]:
        return [data], [_legacy_target(ctx, data, ctx.params)]
    raise ctx.error("Reshape needs the 'shape' parameter")


register(OpDef(
    "Reshape",
    dtypes=NUMBER_DTYPES,
    aliases=("reshape",),
    params=[
        Param("shape", "shape", (), "The target shape, with MXNet's special codes 0, -1, -2, -3, -4."),
        Param("reverse", "bool", False, "Apply the special codes from right to left."),
        Param("target_shape", "shape", (), "(Deprecated) target shape; 0 means infer."),
        Param("keep_highest", "bool", False, "(Deprecated) keep the first dimension, reshape the rest."),
    ],
    infer_shape=_reshape_shape,
    inplace=[(0, 0)],
    kernel=_copy_kernel,
    gradient=_reshape_back,
    doc="Reshapes the input without copying. Codes: 0 copies a dimension, -1 infers one, -2 copies "
        "the rest, -3 merges two consecutive dimensions, -4 splits one into the two that follow.\n"
        "Unlike MXNet 1.x, a target whose element count differs from the input's is an error.",
))


def _reshape_like_shape(ctx, ins, outs):
    """lhs, rhs of one size -> rhs's shape."""
    lhs, rhs = ins
    if lhs is not None and rhs is not None and prod(lhs) != prod(rhs):
        raise ctx.error(f"cannot reshape lhs {tuple(lhs)} ({prod(lhs)} elements) like rhs "
                        f"{tuple(rhs)} ({prod(rhs)} elements)")
    return ins, [rhs if rhs is not None else outs[0]]


def _reshape_like_type(ctx, ins, outs):
    # only rhs's shape is used: the output has lhs's dtype
    known = ins[0] if ins[0] is not None else outs[0]
    return [known, ins[1]], [known]


register(OpDef(
    "reshape_like",
    dtypes=NUMBER_DTYPES,
    inputs=("lhs", "rhs"),
    infer_shape=_reshape_like_shape,
    infer_type=_reshape_like_type,
    inplace=[(0, 0)],
    shape_only=("rhs",),
    kernel=_copy_kernel,
    gradient=lambda g: [g.op("reshape_like", g.out_grads[0], g.inputs[0]), None],
    no_grad=("rhs",),
    doc="Reshapes lhs to the shape of rhs (which is read for its shape only).",
))


def _concat_shape(ctx, ins, outs):
    """arg0, ... equal except on dim -> their shape with dim summed; one unknown input comes back
    from the output."""
    dim = ctx.params["dim"]
    template = next((s for s in ins if s is not None), outs[0])
    if template is None:
        return ins, outs
    axis = normalize_axis(ctx, dim, len(template))
    for position, shape in enumerate(ins):
        if shape is not None and (len(shape) != len(template) or any(
                a != b for k, (a, b) in enumerate(zip(shape, template)) if k != axis)):
            raise ctx.error(f"input 'arg{position}' has shape {shape}, which does not match "
                            f"{template} outside axis {axis}")
    unknown = [k for k, s in enumerate(ins) if s is None]
    out = outs[0]
    if not unknown:
        out = tuple(sum(s[axis] for s in ins) if k == axis else d for k, d in enumerate(template))
    elif len(unknown) == 1 and out is not None:
        rest = out[axis] - sum(s[axis] for s in ins if s is not None)
        if rest < 0:
            raise ctx.error(f"output shape {out} is smaller along axis {axis} than the inputs")
        ins = list(ins)
        ins[unknown[0]] = tuple(rest if k == axis else d for k, d in enumerate(template))
    return list(ins), [out]


register(OpDef(
    "Concat",
    dtypes=NUMBER_DTYPES,
    aliases=("concat",),
    params=[
        Param("num_args", "int", doc="Number of inputs to be concatenated.", low=1),
        Param("dim", "int", 1, "The dimension to be concatenated."),
    ],
    variadic="num_args",
    infer_shape=_concat_shape,
    kernel=lambda b: kernels("shape").append_concat(b.plan, list(b.inputs), b.outputs[0],
                                              b.params["dim"], b.req[0], b.label),
    # the forward inputs are passed for their shapes: they size the pieces of the gradient
    gradient=lambda g: _as_list(g.op("_backward_Concat", g.out_grads[0], *g.inputs,
                                     **g.forward_attrs())),
    doc="Joins the inputs along axis `dim`.",
))


def _as_list(entries):
    return entries if isinstance(entries, list) else [entries]


register(OpDef(
    "_backward_Concat",
    params=[Param("num_args", "int", low=1), Param("dim", "int", 1)],
    inputs=lambda params: ["out_grad"] + [f"arg{i}" for i in range(params["num_args"])],
    outputs=lambda params: [f"arg{i}_grad" for i in range(params["num_args"])],
    shape_only=lambda params: [f"arg{i}" for i in range(params["num_args"])],
    infer_shape=lambda ctx, ins, outs: (ins, list(ins[1:])),
    kernel=lambda b: kernels("shape").append_split(b.plan, b.inputs[0], list(b.outputs), b.params["dim"],
                                             False, b.req, b.label),
    hidden=True,
    doc="Splits the output gradient of Concat back into the inputs' gradients.",
))


def _split_outputs(params):
    return [f"output{i}" for i in range(params["num_outputs"])]


def _split_shape(ctx, ins, outs):
    """data -> num_outputs pieces of data's shape with axis divided by num_outputs (dropped with
    squeeze_axis, where it must equal num_outputs)."""
    count, squeeze = ctx.params["num_outputs"], ctx.params["squeeze_axis"]
    data = ins[0]
    if data is None:
        known = next((s for s in outs if s is not None), None)
        if known is None:
            return ins, outs
        axis = ctx.params["axis"] % (len(known) + (1 if squeeze else 0))
        piece = list(known)
        if squeeze:
            piece.insert(axis, 1)
        piece[axis] *= count
        return [tuple(piece)], outs
    axis = normalize_axis(ctx, ctx.params["axis"], len(data))
    if data[axis] % count:
        raise ctx.error(f"axis {axis} of input shape {data} does not split into {count} equal parts")
    if squeeze and data[axis] != count:
        raise ctx.error(f"squeeze_axis needs axis {axis} of {data} to equal num_outputs={count}")
    piece = list(data)
    piece[axis] //= count
    if squeeze:
        del piece[axis]
    return [data], [tuple(piece)] * count


register(OpDef(
    "SliceChannel",
    dtypes=NUMBER_DTYPES,
    aliases=("split",),
    params=[
        Param("num_outputs", "int", doc="Number of splits.", low=1),
        Param("axis", "int", 1, "Axis along which to split."),
        Param("squeeze_axis", "bool", False, "Remove the split axis (its size must equal num_outputs)."),
    ],
    outputs=_split_outputs,
    infer_shape=_split_shape,
    kernel=lambda b: kernels("shape").append_split(b.plan, b.inputs[0], list(b.outputs), b.params["axis"],
                                             b.params["squeeze_axis"], b.req, b.label),
    gradient=lambda g: [g.op("_backward_SliceChannel",
                             *[grad if grad is not None else g.op("zeros_like", out)
                               for grad, out in zip(g.out_grads, g.outputs)],
                             count=g.params["num_outputs"], axis=g.params["axis"],
                             squeeze_axis=g.params["squeeze_axis"])],
    doc="Splits the input along `axis` into num_outputs equal parts.",
))


def _split_backward_shape(ctx, ins, outs):
    known = next((s for s in ins if s is not None), None)
    if known is None:
        return ins, outs
    count, squeeze = ctx.params["count"], ctx.params["squeeze_axis"]
    ndim = len(known) + (1 if squeeze else 0)
    axis = normalize_axis(ctx, ctx.params["axis"], ndim)
    data = list(known)
    if squeeze:
        data.insert(axis, 1)
    data[axis] *= count
    return [known] * len(ins), [tuple(data)]


register(OpDef(
    "_backward_SliceChannel",
    # `count` is SliceChannel's num_outputs (GradContext.op reserves the name num_outputs)
    params=[Param("count", "int", low=1), Param("axis", "int", 1),
            Param("squeeze_axis", "bool", False)],
    inputs=lambda params: [f"out_grad{i}" for i in range(params["count"])],
    outputs=("data_grad",),
    infer_shape=_split_backward_shape,
    kernel=lambda b: _split_backward_kernel(b),
    hidden=True,
    doc="Joins the output gradients of SliceChannel into the input's gradient.",
))


def _split_backward_kernel(b):
    ndim = b.outputs[0].ndim
    axis = b.params["axis"]
    axis = axis + ndim if -ndim <= axis < 0 else axis
    pieces = list(b.inputs)
    if b.params["squeeze_axis"]:
        # views with the squeezed axis restored (same memory)
        pieces = [p.reshape(p.shape[:axis] + (1,) + p.shape[axis:]) for p in pieces]
    kernels("shape").append_concat(b.plan, pieces, b.outputs[0], axis, b.req[0], b.label)
    return axis


def _transpose_axes(ctx, ndim):
    axes = ctx.params["axes"] or tuple(reversed(range(ndim)))
    if sorted(a % ndim if -ndim <= a < ndim else a for a in axes) != list(range(ndim)):
        raise ctx.error(f"axes={tuple(ctx.params['axes'])} is not a permutation of {ndim} dimensions")
    return tuple(a % ndim for a in axes)


def _transpose_shape(ctx, ins, outs):
    """data -> data's axes in the order of axes (reversed when empty)."""
    if ins[0] is not None:
        axes = _transpose_axes(ctx, len(ins[0]))
        return ins, [tuple(ins[0][a] for a in axes)]
    if outs[0] is not None:
        axes = _transpose_axes(ctx, len(outs[0]))
        data = [0] * len(axes)
        for k, a in enumerate(axes):
            data[a] = outs[0][k]
        return [tuple(data)], outs
    return ins, outs


def _inverse_axes(axes):
    """transpose's gradient permutes back: axes=() (reverse) is its own inverse."""
    if not axes:
        return {}
    ndim = len(axes)
    inverse = [0] * ndim
    for k, a in enumerate(axes):
        inverse[a % ndim] = k
    return {"axes": tuple(inverse)}


register(OpDef(
    "transpose",
    dtypes=NUMBER_DTYPES,
    params=[Param("axes", "shape", (), "Target axis order; empty reverses the axes.")],
    infer_shape=_transpose_shape,
    kernel=lambda b: kernels("shape").append_transpose(b.plan, b.inputs[0], b.outputs[0],
                                                 b.params["axes"], b.req[0], b.label),
    gradient=lambda g: [g.op("transpose", g.out_grads[0], **_inverse_axes(g.params["axes"]))],
    doc="Permutes the axes of the input.",
))


def _expand_dims_shape(ctx, ins, outs):
    """data -> data's shape with a 1 inserted at axis (an axis of the output)."""
    if ins[0] is None:
        return ins, outs
    ndim = len(ins[0]) + 1
    axis = normalize_axis(ctx, ctx.params["axis"], ndim)
    return ins, [tuple(ins[0][:axis]) + (1,) + tuple(ins[0][axis:])]


register(OpDef(
    "expand_dims",
    dtypes=NUMBER_DTYPES,
    params=[Param("axis", "int", doc="Position of the new axis of size 1.")],
    infer_shape=_expand_dims_shape,
    inplace=[(0, 0)],
    kernel=_copy_kernel,
    gradient=_reshape_back,
    doc="Inserts an axis of size 1 at position `axis`.",
))


def _embedding_shape(ctx, ins, outs):
    """data (indices of any shape) -> (*data.shape, output_dim); weight (input_dim, output_dim)."""
    weight = (ctx.params["input_dim"], ctx.params["output_dim"])
    out = None if ins[0] is None else tuple(ins[0]) + (ctx.params["output_dim"],)
    return [ins[0], weight], [out]


def _embedding_type(ctx, ins, outs):
    dtype = np.dtype(ctx.params["dtype"])
    return [ins[0] if ins[0] is not None else dtype, dtype], [dtype]


register(OpDef(
    "Embedding",
    dtypes={"data": NUMBER_DTYPES},
    params=[
        Param("input_dim", "int", doc="Vocabulary size of the input indices.", low=1),
        Param("output_dim", "int", doc="Dimension of the embedding vectors.", low=1),
        # float16 weights are computed in float32 (cysym/float16.py)
        Param("dtype", "str", "float32", "Data type of weight.", choices=("float16", "float32", "float64")),
        Param("sparse_grad", "bool", False, "Compute row-sparse gradient in the backward calculation."),
    ],
    inputs=("data", "weight"),
    infer_shape=_embedding_shape,
    infer_type=_embedding_type,
    no_grad=("data",),
    kernel=lambda b: kernels("shape").append_embedding(b.plan, b.inputs[0], b.inputs[1], b.outputs[0],
                                                 b.req[0], b.label),
    gradient=lambda g: [None, g.op("_backward_Embedding", g.out_grads[0], g.inputs[0],
                                   **g.forward_attrs())],
    doc="Maps integer indices (stored as floats) to rows of the weight matrix.",
))

register(OpDef(
    "_backward_Embedding",
    dtypes={"data": NUMBER_DTYPES},
    params=[Param("input_dim", "int", low=1), Param("output_dim", "int", low=1),
            Param("dtype", "str", "float32"), Param("sparse_grad", "bool", False)],
    inputs=("out_grad", "data"),
    outputs=("weight_grad",),
    infer_shape=lambda ctx, ins, outs: (ins, [(ctx.params["input_dim"], ctx.params["output_dim"])]),
    infer_type=lambda ctx, ins, outs: (ins, [ins[0] if ins[0] is not None else outs[0]]),
    kernel=lambda b: kernels("shape").append_embedding_backward(b.plan, b.inputs[0], b.inputs[1],
                                                          b.outputs[0], b.req[0], b.label),
    hidden=True,
    doc="The weight gradient of Embedding: rows of out_grad added at their (clipped) indices; "
        "only the rows that occur are visited after zeroing.",
))


def _dropout_shape(ctx, ins, outs):
    """data -> out of data's shape and a hidden mask: data's shape with 1 on the axes of axes (one
    draw shared along them)."""
    data = ins[0] if ins[0] is not None else outs[0]
    if data is None:
        return ins, outs
    try:
        mask = _dropout_mask_shape(data, ctx.params["axes"])
    except ValueError as err:
        raise ctx.error(str(err)) from None
    return [data], [data, mask]


def _dropout_mask_shape(shape, axes):
    """The mask's shape: the data's with every axis in `axes` set to 1 (variational dropout)."""
    mask = list(shape)
    for a in axes or ():
        if not -len(mask) <= a < len(mask):
            raise ValueError(f"axis {a} in axes={tuple(axes)} is out of range for data shape "
                             f"{tuple(shape)}")
        mask[a % len(mask)] = 1
    return tuple(mask)


def _dropout_kernel(b):
    p = b.params
    kernels("shape").append_dropout(b.plan, b.inputs[0], b.outputs[0], b.outputs[1], p["p"], p["mode"],
                              p["axes"], b.req[0], b.label)


def _dropout_gradient(g):
    if g.out_grads[0] is None:
        return [None]
    return [g.op("_backward_Dropout", g.out_grads[0], g.outputs[1], **g.forward_attrs())]


register(OpDef(
    "Dropout",
    params=[
        Param("p", "float", 0.5, "Fraction of the input that gets dropped out during training.", low=0.0, high=1.0),
        Param("mode", "str", "training", "training: dropout only when training; always: also at inference.",
              choices=("training", "always")),
        Param("axes", "shape", (), "Axes along which one mask value is shared (variational dropout)."),
        Param("cudnn_off", "bool", False, "Ignored (no cuDNN)."),
    ],
    outputs=("output", "mask"),
    num_visible_outputs=lambda params: 1,
    infer_shape=_dropout_shape,
    inplace=[(0, 0)],
    kernel=_dropout_kernel,
    gradient=_dropout_gradient,
    doc="Zeroes each element with probability p in training and scales the rest by 1/(1-p).",
))

register(OpDef(
    "_backward_Dropout",
    params=[Param("p", "float", 0.5), Param("mode", "str", "training"), Param("axes", "shape", ()),
            Param("cudnn_off", "bool", False)],
    inputs=("out_grad", "mask"),
    outputs=("data_grad",),
    infer_shape=lambda ctx, ins, outs: (ins, [ins[0] if ins[0] is not None else outs[0]]),
    inplace=[(0, 0)],
    kernel=lambda b: kernels("shape").append_dropout_backward(b.plan, b.inputs[0], b.inputs[1], b.outputs[0],
                                                        b.params["axes"], b.req[0], b.label),
    hidden=True,
    doc="data_grad = out_grad * mask (the mask already holds 0 or 1/(1-p)).",
))


def _fill_kernel(value):
    return lambda b: kernels("shape").append_fill(b.plan, b.outputs[0], value, b.req[0], b.label)


for _name, _value in (("zeros_like", 0.0), ("ones_like", 1.0)):
    register(OpDef(
        _name,
        infer_shape=same_shape,
        no_grad=("data",),
        shape_only=("data",),
        dtypes=NUMBER_DTYPES,
        kernel=_fill_kernel(_value),
        gradient=lambda g: [None],
        doc=f"An array of {int(_value)}s with the shape and dtype of the input.",
    ))
