"""N-dimensional gathers and scatters, and the contrib indexing operators: gather_nd,
scatter_nd, _scatter_set_nd, batch_take, _contrib_index_copy, _contrib_index_array,
_contrib_boolean_mask (declared so that graphs holding it load; it cannot be bound).

Index inputs are float arrays as in MXNet graphs (the kernels also read int32/int64 ones);
they never receive a gradient.  gather_nd's indices have shape (M, Y...): column y addresses
data[indices[0, y], ..., indices[M-1, y], ...] (cysym/_ops/gather.pyx says which coordinates
are valid).  The gradient of gather_nd is a scatter-add (repeated positions add up), the
gradient of scatter_nd a gather_nd.  batch_take and _scatter_set_nd have no gradient in MXNet;
here they have the exact one (pick's, and a scatter/gather pair), so that a graph holding them
can still train.
"""
import numpy as np

from ..registry import NUMBER_DTYPES, OpDef, Param, register
from .common import kernels, normalize_axis, prod
from .index import _data_and_index_type, _gradient_and_index_type

MAX_INDEXED_AXES = 10     # MXNet's limit on M


def _indexed_axes(ctx, indices, shape, what):
    """M, the number of leading axes of `shape` that an index array of shape `indices` addresses."""
    if len(indices) < 2:
        raise ctx.error(f"input 'indices' has shape {tuple(indices)}; it needs at least 2 "
                        f"dimensions (M, ...)")
    m = indices[0]
    if not 1 <= m <= min(len(shape), MAX_INDEXED_AXES):
        raise ctx.error(f"input 'indices' of shape {tuple(indices)} addresses {m} axes of {what} "
                        f"{tuple(shape)} (from 1 to {min(len(shape), MAX_INDEXED_AXES)} possible)")
    return m


# ---------------------------------------------------------------------------------------------
# gather_nd and its gradient

def _gather_nd_shape(ctx, ins, outs):
    """data, indices (M, *rest) with M <= data's rank -> (*rest, *data.shape[M:])."""
    data, indices = ins
    if data is None or indices is None:
        return ins, outs
    m = _indexed_axes(ctx, indices, data, "data")
    return ins, [tuple(indices[1:]) + tuple(data[m:])]


register(OpDef(
    "gather_nd",
    dtypes={"indices": NUMBER_DTYPES},
    aliases=("_npi_gather_nd", "_npx_gather_nd"),
    inputs=("data", "indices"),
    infer_shape=_gather_nd_shape,
    infer_type=_data_and_index_type,
    kernel=lambda b: kernels("gather").append_gather_nd(b.plan, b.inputs[0], b.inputs[1],
                                                        b.outputs[0], b.req[0], b.label),
    gradient=lambda g: [g.op("_backward_gather_nd", g.out_grads[0], g.inputs[1], g.inputs[0]),
                        None],
    no_grad=("indices",),
    doc="Gathers elements or slices of data into an array of shape (Y_0, ..., Y_{K-1}, X_M, "
        "..., X_{N-1}): output[y, x] = data[indices[0, y], ..., indices[M-1, y], x] for indices "
        "of shape (M, Y_0, ..., Y_{K-1}).  A coordinate v along an axis of size n must lie in "
        "[-n, n-1] (negative ones count from the end); another one stops forward with an error "
        "naming the operator.\n\n"
        "Example: data = [[0, 1], [2, 3]], indices = [[1, 1, 0], [0, 1, 0]] -> "
        "gather_nd(data, indices) = [2, 3, 0].",
))

register(OpDef(
    "_backward_gather_nd",
    dtypes={"indices": NUMBER_DTYPES},
    inputs=("out_grad", "indices", "data"),
    outputs=("data_grad",),
    infer_shape=lambda ctx, ins, outs: (ins, [ins[2] if ins[2] is not None else outs[0]]),
    infer_type=_gradient_and_index_type(2),
    shape_only=("data",),
    kernel=lambda b: kernels("gather").append_gather_nd_backward(
        b.plan, b.inputs[0], b.inputs[1], b.outputs[0], b.req[0], b.label),
    hidden=True,
    doc="data_grad = zeros with out_grad added at the gathered positions (repeated ones add up).",
))


# ---------------------------------------------------------------------------------------------
# scatter_nd, _scatter_set_nd

_SHAPE_PARAM = Param("shape", "shape", doc="Shape of output.")


def _scattered_shape(ctx, data, indices):
    """The shape param, checked against data and indices: data must have the shape
    indices.shape[1:] + shape[M:] (inferred from indices when unknown)."""
    out = tuple(ctx.params["shape"])
    if indices is None:
        return data, out
    m = _indexed_axes(ctx, indices, out, "shape")
    expected = tuple(indices[1:]) + out[m:]
    if data is not None and tuple(data) != expected:
        raise ctx.error(f"data of shape {tuple(data)} cannot be scattered by indices of shape "
                        f"{tuple(indices)} into shape {out}: data must have shape {expected}")
    return expected, out


def _scatter_nd_shape(ctx, ins, outs):
    """data (*rest, *shape[M:]), indices (M, *rest) -> shape (the parameter)."""
    data, indices = ins
    data, out = _scattered_shape(ctx, data, indices)
    return [data, indices], [out]


register(OpDef(
    "scatter_nd",
    dtypes={"indices": NUMBER_DTYPES},
    params=[_SHAPE_PARAM],
    inputs=("data", "indices"),
    infer_shape=_scatter_nd_shape,
    infer_type=_data_and_index_type,
    kernel=lambda b: kernels("gather").append_scatter_nd(b.plan, b.inputs[0], b.inputs[1],
                                                         b.outputs[0], b.req[0], b.label),
    gradient=lambda g: [g.op("gather_nd", g.out_grads[0], g.inputs[1]), None],
    no_grad=("indices",),
    doc="Scatters data into a new array of the given shape, zeros elsewhere: "
        "output[indices[0, y], ..., indices[M-1, y], x] = data[y, x] (the inverse of gather_nd; "
        "coordinates as gather_nd's).  With repeated positions the last value is kept, and the "
        "gradient (a gather_nd) is not that of the kept value, as in MXNet.\n\n"
        "Example: data = [2, 3, 0], indices = [[1, 1, 0], [0, 1, 0]], shape = (2, 2) -> "
        "scatter_nd(data, indices, shape) = [[0, 0], [2, 3]].",
))


def _scatter_set_nd_shape(ctx, ins, outs):
    """lhs of shape, rhs (*rest, *shape[M:]), indices (M, *rest) -> shape (the parameter): lhs with
    the values set."""
    lhs, rhs, indices = ins
    rhs, out = _scattered_shape(ctx, rhs, indices)
    if lhs is not None and tuple(lhs) != out:
        raise ctx.error(f"input 'lhs' has shape {tuple(lhs)}, but shape={out}: the output is "
                        f"lhs with values set")
    return [out, rhs, indices], [out]


def _scatter_set_nd_type(ctx, ins, outs):
    known = next((t for t in (ins[0], ins[1], outs[0]) if t is not None), None)
    return [known, known, ins[2]], [known]


def _scatter_set_nd_gradient(g):
    dy, indices = g.out_grads[0], g.inputs[2]
    # lhs's values survive where nothing was set; rhs's are the ones gathered back
    kept = g.op("_scatter_set_nd", dy, g.op("zeros_like", g.inputs[1]), indices,
                **g.forward_attrs())
    return [kept, g.op("gather_nd", dy, indices), None]


register(OpDef(
    "_scatter_set_nd",
    dtypes={"indices": NUMBER_DTYPES},
    aliases=("_npi_scatter_set_nd",),
    params=[_SHAPE_PARAM],
    inputs=("lhs", "rhs", "indices"),
    infer_shape=_scatter_set_nd_shape,
    infer_type=_scatter_set_nd_type,
    inplace=[(0, 0)],
    kernel=lambda b: kernels("gather").append_scatter_set_nd(
        b.plan, b.inputs[0], b.inputs[1], b.inputs[2], b.outputs[0], b.req[0], b.label),
    gradient=_scatter_set_nd_gradient,
    no_grad=("indices",),
    doc="Returns lhs with the positions that indices address set to rhs (scatter_nd without "
        "zeroing the rest); shape is lhs's shape.  MXNet defines no gradient for it; here "
        "lhs's gradient is the output gradient with those positions zeroed and rhs's the output "
        "gradient gathered from them.\n\n"
        "Example: lhs = [[1, 1], [1, 1]], rhs = [2, 3, 0], indices = [[1, 1, 0], [0, 1, 0]] -> "
        "[[0, 1], [2, 3]].",
))


# ---------------------------------------------------------------------------------------------
# batch_take: pick along the last axis of rows

def _batch_take_shape(ctx, ins, outs):
    """a (*batch, K), indices with one index per row of a (prod(batch) of them) -> indices' shape."""
    a, indices = ins
    indices = indices if indices is not None else outs[0]
    if a is not None:
        if len(a) < 2:
            raise ctx.error(f"input 'a' has shape {tuple(a)}; it needs at least 2 dimensions")
        if indices is not None and prod(indices) != prod(a[:-1]):
            raise ctx.error(f"input 'indices' has shape {tuple(indices)}: it needs one index per "
                            f"row of 'a' {tuple(a)}, {prod(a[:-1])} in all")
    return [a, indices], [indices]


register(OpDef(
    "batch_take",
    dtypes={"indices": NUMBER_DTYPES},
    inputs=("a", "indices"),
    infer_shape=_batch_take_shape,
    infer_type=_data_and_index_type,
    kernel=lambda b: kernels("index").append_pick(
        b.plan, b.inputs[0], b.inputs[1], b.outputs[0], b.inputs[0].ndim - 1, "clip", b.req[0],
        b.label),
    gradient=lambda g: [g.op("_backward_pick", g.out_grads[0], g.inputs[1], g.inputs[0],
                             axis=-1, mode="clip"), None],
    no_grad=("indices",),
    doc="Takes one element per row: output[i] = a[i, indices[i]] for a of shape (d0, d1) (rows "
        "are a's leading axes together, indices clipped to the last axis).  Deprecated in "
        "MXNet in favour of pick; MXNet defines no gradient for it, here it is pick's.\n\n"
        "Example: x = [[1, 2], [3, 4], [5, 6]] -> batch_take(x, [0, 1, 0]) = [1, 4, 5].",
))


# ---------------------------------------------------------------------------------------------
# _contrib_index_copy

def _index_copy_shape(ctx, ins, outs):
    """old_tensor (N, *rest), index_vector (K,), new_tensor (K, *rest) with K <= N -> old_tensor's
    shape."""
    old, index, new = ins
    old = old if old is not None else outs[0]
    if index is not None and len(index) != 1:
        raise ctx.error(f"input 'index_vector' has shape {tuple(index)}; it must be 1-D")
    if new is not None and index is None:
        index = (new[0],) if new else None
    if old is not None and new is None and index is not None:
        new = (index[0],) + tuple(old[1:])
    if old is not None and new is not None and (
            len(new) != len(old) or not new or tuple(new[1:]) != tuple(old[1:]) or new[0] > old[0]):
        raise ctx.error(f"input 'new_tensor' has shape {tuple(new)}; it needs old_tensor's shape "
                        f"{tuple(old)} but for a first axis of at most {old[0] if old else 0}")
    if index is not None and new is not None and index[0] != new[0]:
        raise ctx.error(f"input 'index_vector' has shape {tuple(index)}, but new_tensor has "
                        f"{new[0]} rows {tuple(new)}")
    return [old, index, new], [old]


def _index_copy_type(ctx, ins, outs):
    known = next((t for t in (ins[0], ins[2], outs[0]) if t is not None), None)
    return [known, ins[1], known], [known]


def _index_copy_gradient(g):
    old_grad, new_grad = g.op("_contrib_backward_index_copy", g.out_grads[0], g.inputs[1])
    return [old_grad, None, new_grad]


register(OpDef(
    "_contrib_index_copy",
    dtypes={"index_vector": NUMBER_DTYPES},
    inputs=("old_tensor", "index_vector", "new_tensor"),
    infer_shape=_index_copy_shape,
    infer_type=_index_copy_type,
    inplace=[(0, 0)],
    kernel=lambda b: kernels("gather").append_index_copy(
        b.plan, b.inputs[0], b.inputs[1], b.inputs[2], b.outputs[0], b.req[0], b.label),
    gradient=_index_copy_gradient,
    no_grad=("index_vector",),
    doc="Copies the rows of new_tensor into old_tensor at the rows index_vector gives: "
        "output[index_vector[i]] = new_tensor[i], the other rows old_tensor's.  An index "
        "outside [0, old_tensor.shape[0]) stops forward with an error.\n\n"
        "Example: x = zeros((5, 3)), t = [[1, 2, 3], [4, 5, 6], [7, 8, 9]], index = [0, 4, 2] "
        "-> index_copy(x, index, t) = [[1, 2, 3], [0, 0, 0], [7, 8, 9], [0, 0, 0], [4, 5, 6]].",
))


def _index_copy_backward_shape(ctx, ins, outs):
    out_grad, index = ins
    if out_grad is None or index is None:
        return ins, outs
    return ins, [out_grad, (index[0],) + tuple(out_grad[1:])]


def _index_copy_backward_kernel(b):
    kernels("gather").append_index_copy_backward(b.plan, b.inputs[0], b.inputs[1], b.outputs[0],
                                                 b.outputs[1], b.req[0], b.req[1], b.label)


register(OpDef(
    "_contrib_backward_index_copy",
    dtypes={"index_vector": NUMBER_DTYPES},
    inputs=("out_grad", "index_vector"),
    outputs=("old_tensor_grad", "new_tensor_grad"),
    infer_shape=_index_copy_backward_shape,
    infer_type=lambda ctx, ins, outs: (ins, [ins[0], ins[0]]),
    kernel=_index_copy_backward_kernel,
    hidden=True,
    doc="old_tensor_grad = out_grad with the copied rows zeroed; new_tensor_grad[i] = "
        "out_grad[index_vector[i]].",
))


# ---------------------------------------------------------------------------------------------
# _contrib_index_array

def _index_array_axes(params, ndim):
    """The chosen axes, each taken modulo ndim as MXNet does (None: every axis in order)."""
    axes = params["axes"]
    return tuple(range(ndim)) if axes is None else tuple(a % ndim for a in axes)


def _index_array_shape(ctx, ins, outs):
    """data (*S) -> (*S, len(axes)), or (*S, len(S)) without axes."""
    data = ins[0]
    if data is None:
        return ([tuple(outs[0][:-1])], outs) if outs[0] is not None else (ins, outs)
    if not data:
        raise ctx.error("the input needs at least one dimension")
    return ins, [tuple(data) + (len(_index_array_axes(ctx.params, len(data))),)]


register(OpDef(
    "_contrib_index_array",
    dtypes={"output": ("int64",)},
    params=[Param("axes", "shape", None, "The axes to include in the index array. Supports "
                                         "negative values.", optional=True)],
    infer_shape=_index_array_shape,
    infer_type=lambda ctx, ins, outs: (ins, [np.dtype(np.int64)]),
    shape_only=("data",),
    kernel=lambda b: kernels("gather").append_index_array(
        b.plan, b.inputs[0].shape, b.params["axes"], b.outputs[0], b.req[0], b.label),
    gradient=lambda g: [None],
    doc="Returns the coordinates of every element of the input: for data of shape (d_1, ..., "
        "d_n), an int64 array idx of shape (d_1, ..., d_n, n) with idx[i_1, ..., i_n, :] = "
        "[i_1, ..., i_n]; with axes, idx[..., j] = i_{axes[j]}.\n\n"
        "Example: index_array(ones((3, 2))) = [[[0, 0], [0, 1]], [[1, 0], [1, 1]], "
        "[[2, 0], [2, 1]]].",
))


# ---------------------------------------------------------------------------------------------
# _contrib_boolean_mask: its output has as many rows as the mask has non-zero entries, a number
# known only when it runs, so it has no kernel and binding it is an error (registry.dynamic_shape)

def _boolean_mask_shape(ctx, ins, outs):
    """data, index (data.shape[axis],) -> unknown until run (the rows where index is non-zero);
    MXNet has no shape rule for it either."""
    data, index = ins
    if data is not None:
        axis = normalize_axis(ctx, ctx.params["axis"], len(data))
        if index is not None and tuple(index) != (data[axis],):
            raise ctx.error(f"input 'index' has shape {tuple(index)}; it must be 1-D with the "
                            f"size of axis {axis} of data {tuple(data)}")
    return ins, outs     # as MXNet, which has no shape rule for it: the output is unknown


register(OpDef(
    "_contrib_boolean_mask",
    aliases=("_npi_boolean_mask",),
    params=[Param("axis", "int", 0, "An integer that represents the axis in NDArray to mask "
                                    "from.")],
    inputs=("data", "index"),
    infer_shape=_boolean_mask_shape,
    infer_type=_data_and_index_type,
    no_grad=("index",),
    dynamic_shape="its output shape depends on the values of its input 'index' (one row per "
                  "non-zero entry)",
    doc="Returns the rows of data where index is non-zero (index is 1-D, one entry per row).  "
        "The output's shape depends on index's values: cysym loads, composes and saves graphs "
        "that hold it, but binding one is an error, as cysym plans every shape at bind.\n\n"
        "Example: data = [[1, 2, 3], [4, 5, 6], [7, 8, 9]], index = [0, 1, 0] -> [[4, 5, 6]].",
))
