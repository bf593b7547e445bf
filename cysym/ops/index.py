"""Indexing and data-movement operators: slice_axis, slice, SwapAxis, broadcast_to,
broadcast_like, tile, repeat, stack, Cast, argmax/argmin/argmax_channel, one_hot, pick,
take, where.

Index inputs (pick's index, take's indices, one_hot's indices, where's condition) are float
arrays as in MXNet; they never receive a gradient and may have a float type other than the
data's.  Most forward kernels are one strided gather (cysym._ops.index.append_gather): a
slice reads the input through offset strides, a broadcast through zero strides, tile and
repeat through zero strides of a view with extra unit axes.  Their gradients sum the
broadcast back (cysym._ops.elemwise.append_sum_to) or scatter into a zeroed gradient.
"""
import numpy as np

from ..base import dtype_from_code
from ..registry import OpDef, Param, register
from .common import normalize_axis, prod


def _kernels():
    # imported at bind time, so the graph layer loads even while a kernel module is rebuilt
    from .._ops import index
    return index


def _shape_kernels():
    from .._ops import shape
    return shape


def _elemwise_kernels():
    from .._ops import elemwise
    return elemwise


def _c_strides(shape):
    strides, step = [], 1
    for d in reversed(tuple(shape)):
        strides.append(step)
        step *= int(d)
    return strides[::-1]


def _as_list(entries):
    return entries if isinstance(entries, list) else [entries]


def _index_type(data_pos, index_pos):
    """dtype rule: the data input and the output share a dtype; the index input keeps its own
    (it is read as float32 or float64 whatever the data is)."""
    def rule(ctx, ins, outs):
        known = ins[data_pos] if ins[data_pos] is not None else outs[0]
        ins = list(ins)
        ins[data_pos] = known
        return ins, [known]
    return rule


# ---------------------------------------------------------------------------------------------
# SwapAxis: a transpose that exchanges two axes

def _swap_axes(ctx, ndim):
    axes = list(range(ndim))
    first = normalize_axis(ctx, ctx.params["dim1"], ndim)
    second = normalize_axis(ctx, ctx.params["dim2"], ndim)
    axes[first], axes[second] = axes[second], axes[first]
    return tuple(axes)


def _swapaxis_shape(ctx, ins, outs):
    known = ins[0] if ins[0] is not None else outs[0]
    if known is None:
        return ins, outs
    axes = _swap_axes(ctx, len(known))   # its own inverse: works in both directions
    swapped = tuple(known[a] for a in axes)
    return ([known], [swapped]) if ins[0] is not None else ([swapped], [known])


register(OpDef(
    "SwapAxis",
    aliases=("swapaxes",),
    params=[Param("dim1", "int", 0, "the first axis to be swapped."),
            Param("dim2", "int", 0, "the second axis to be swapped.")],
    infer_shape=_swapaxis_shape,
    kernel=lambda b: _shape_kernels().append_transpose(
        b.plan, b.inputs[0], b.outputs[0], _swap_axes_of(b), b.req[0], b.label),
    # swapping twice is the identity: the gradient is the same swap of the output gradient
    gradient=lambda g: [g.op("SwapAxis", g.out_grads[0], **g.forward_attrs())],
    doc="Interchanges two axes of an array.\n\n"
        "Example: x of shape (1, 2, 3) -> swapaxes(x, dim1=0, dim2=2) has shape (3, 2, 1).",
))


def _swap_axes_of(b):
    ndim = b.inputs[0].ndim
    axes = list(range(ndim))
    first, second = b.params["dim1"] % ndim, b.params["dim2"] % ndim
    axes[first], axes[second] = axes[second], axes[first]
    return tuple(axes)


# ---------------------------------------------------------------------------------------------
# stack: Concat of views that carry a new unit axis

def _stack_shape(ctx, ins, outs):
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
    _shape_kernels().append_concat(b.plan, pieces, b.outputs[0], axis, b.req[0], b.label)


register(OpDef(
    "stack",
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
    kernel=lambda b: _shape_kernels().append_split(
        b.plan, b.inputs[0], list(b.outputs), _stack_axis(b.params, b.inputs[0].ndim), True,
        b.req, b.label),
    hidden=True,
    doc="Splits the output gradient of stack back into its inputs' gradients.",
))
