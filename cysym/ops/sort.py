"""Sorting operators: topk, sort, argsort, and topk's gradient _backward_topk.

One kernel (cysym._ops.sort.append_topk) serves all three; it orders every row as MXNet 1.9.1
does on CPU, ties and NaNs included (MXNet's sorts are not stable: see cysym/_ops/sort.pyx).
Index outputs take the `dtype` parameter (float32 by default, as in MXNet).  topk with
ret_typ='value' and sort also have a hidden second output, the positions of the selected
values, which their gradient reads: the output gradient goes back to those positions.  MXNet
keeps that output as int32, and so does cysym.
"""
import numpy as np

from ..registry import NUMBER_DTYPES, OpDef, Param, register
from .common import kernels, normalize_axis, prod
from .index import _gradient_and_index_type, _numpy_dtype

HIDDEN_INDEX_TYPE = np.dtype(np.int32)
INDEX_DTYPES = ("uint8", "int32", "int64", "float16", "float32", "float64")


def _axis(ctx, shape):
    """The sorted axis of `shape` (None: the flattened array), checked."""
    axis = ctx.params["axis"]
    return None if axis is None else normalize_axis(ctx, axis, len(shape))


def _selection(ctx, shape, k):
    """(axis, n, k): the sorted axis, its length and how many entries are selected (all of
    them for k < 1, as MXNet's k < 1 does), with MXNet's check k <= n."""
    axis = _axis(ctx, shape)
    n = prod(shape) if axis is None else shape[axis]
    selected = n if k <= 0 else k
    if selected > n:
        where = "the flattened input" if axis is None else f"axis {axis}"
        raise ctx.error(f"k={k} is larger than the {n} elements of {where} of input shape "
                        f"{tuple(shape)}")
    return axis, n, selected


def _selected_shape(ctx, shape, k):
    axis, _, selected = _selection(ctx, shape, k)
    if axis is None:
        return (selected,)
    return tuple(selected if position == axis else d for position, d in enumerate(shape))


def _workspace(params, in_shapes, out_shapes, dtype):
    axis, shape = params["axis"], in_shapes[0]
    n = prod(shape) if axis is None else shape[axis % len(shape)]
    return kernels("sort").topk_workspace_bytes(n)


def _append(b, k, is_ascend, values=None, indices=None, mask=None, reqs=("null",) * 3):
    kernels("sort").append_topk(b.plan, b.inputs[0], b.workspace, values, indices, mask,
                                b.params["axis"], k, is_ascend, reqs[0], reqs[1], reqs[2],
                                b.label)


def _scatter_gradient(g, **attrs):
    """The output gradient of the selected values added back at their positions (the
    forward's index output), through _backward_topk; None when no gradient reaches them."""
    if g.out_grads[0] is None:
        return [None]
    return [g.op("_backward_topk", g.out_grads[0], g.outputs[1], g.inputs[0], **attrs)]


_AXIS_DOC = "Axis along which to {}. If not given, the flattened array is used. Default is -1."
_DTYPE_DOC = ("DType of the output indices (the kernels write float32, float64, int32 and "
              "int64: binding another type is an error).")


# ---------------------------------------------------------------------------------------------
# topk

_TOPK_PARAMS = [
    Param("axis", "int", -1, _AXIS_DOC.format("choose the top k indices"), optional=True),
    Param("k", "int", 1, "Number of top elements to select, should be always smaller than or "
                         "equal to the element number in the given axis. A global sort is "
                         "performed if set k < 1."),
    Param("ret_typ", "str", "indices", "The return type. \"value\" means to return the top k "
          "values, \"indices\" means to return the indices of the top k values, \"mask\" means "
          "to return a mask array containing 0 and 1. 1 means the top k values. \"both\" means "
          "to return a list of both values and indices of top k elements.",
          choices=("value", "indices", "mask", "both")),
    Param("is_ascend", "bool", False, "Whether to choose k largest or k smallest elements. Top "
                                      "K largest elements will be chosen if set to false."),
    Param("dtype", "str", "float32", _DTYPE_DOC + " Used when ret_typ is \"indices\" or "
                                                   "\"both\".", choices=INDEX_DTYPES),
]


def _topk_outputs(params):
    return ("output",) if params["ret_typ"] in ("indices", "mask") else ("output0", "output1")


def _topk_shape(ctx, ins, outs):
    """data -> data's shape with axis cut to k (all of it for k < 1; axis None: the flattened (k,)),
    for each output; ret_typ 'mask': data's shape."""
    data = ins[0]
    ret_typ = ctx.params["ret_typ"]
    if data is None:
        # only a mask has the input's shape
        return ([outs[0]], outs) if ret_typ == "mask" else (ins, outs)
    if ret_typ == "mask":
        _selection(ctx, data, ctx.params["k"])
        return ins, [tuple(data)]
    selected = _selected_shape(ctx, data, ctx.params["k"])
    return ins, [selected] * len(outs)


def _topk_type(ctx, ins, outs):
    ret_typ = ctx.params["ret_typ"]
    index_type = _numpy_dtype(ctx, ctx.params["dtype"])
    if ret_typ == "indices":
        return ins, [index_type]
    data = ins[0] if ins[0] is not None else outs[0]
    second = {"value": [HIDDEN_INDEX_TYPE], "both": [index_type], "mask": []}[ret_typ]
    return [data], [data] + second


def _topk_kernel(b):
    ret_typ = b.params["ret_typ"]
    k, is_ascend = b.params["k"], b.params["is_ascend"]
    if ret_typ == "indices":
        _append(b, k, is_ascend, indices=b.outputs[0], reqs=("null", b.req[0], "null"))
    elif ret_typ == "mask":
        _append(b, k, is_ascend, mask=b.outputs[0], reqs=("null", "null", b.req[0]))
    else:
        _append(b, k, is_ascend, values=b.outputs[0], indices=b.outputs[1],
                reqs=(b.req[0], b.req[1], "null"))


def _topk_gradient(g):
    if g.params["ret_typ"] in ("indices", "mask"):
        return [None]      # piecewise constant: the gradient is zero
    return _scatter_gradient(g, **g.forward_attrs())


register(OpDef(
    "topk",
    dtypes={"output": NUMBER_DTYPES, "output1": NUMBER_DTYPES},
    aliases=("_npx_topk",),
    params=_TOPK_PARAMS,
    outputs=_topk_outputs,
    num_visible_outputs=lambda params: 2 if params["ret_typ"] == "both" else 1,
    infer_shape=_topk_shape,
    infer_type=_topk_type,
    kernel=_topk_kernel,
    workspace=_workspace,
    gradient=_topk_gradient,
    doc="Returns the indices of the top k elements along an axis (ret_typ='indices'), their "
        "values ('value'), both, or a 0/1 mask of the input's shape ('mask'); the returned "
        "elements are sorted, largest first (smallest with is_ascend).  axis=None selects "
        "from the flattened array.  Equal values come out in MXNet's order (its sort is not "
        "stable).\n\n"
        "Example: x = [[0.3, 0.2, 0.4], [0.1, 0.3, 0.2]] -> topk(x) = [[2.], [1.]]; "
        "topk(x, ret_typ='value', k=2) = [[0.4, 0.3], [0.3, 0.2]].",
))


def _backward_topk_kernel(b):
    kernels("sort").append_topk_backward(b.plan, b.inputs[0], b.inputs[1], b.outputs[0],
                                         b.params["axis"], b.params["k"], b.req[0], b.label)


register(OpDef(
    "_backward_topk",
    dtypes={"indices": NUMBER_DTYPES},
    params=_TOPK_PARAMS,
    inputs=("out_grad", "indices", "data"),
    outputs=("data_grad",),
    infer_shape=lambda ctx, ins, outs: (ins, [ins[2] if ins[2] is not None else outs[0]]),
    infer_type=_gradient_and_index_type(2),
    shape_only=("data",),
    kernel=_backward_topk_kernel,
    hidden=True,
    doc="data_grad = zeros with out_grad added at the positions topk (or sort) selected.",
))


# ---------------------------------------------------------------------------------------------
# sort, argsort: topk of the whole axis

def _sort_shape(ctx, ins, outs):
    """data -> data's shape; axis None: the flattened (size,)."""
    if ins[0] is not None:
        return ins, [_selected_shape(ctx, ins[0], 0)] * len(outs)
    known = next((s for s in outs if s is not None), None)
    if known is None or ctx.params["axis"] is None:
        return ins, outs    # a flattened output does not give back the input's shape
    return [tuple(known)], [_selected_shape(ctx, known, 0)] * len(outs)


def _same_data_type(ins, outs, rest):
    known = ins[0] if ins[0] is not None else outs[0]
    return [known], [known] + rest


register(OpDef(
    "sort",
    aliases=("_npi_sort",),
    dtypes={"output1": NUMBER_DTYPES},
    params=[Param("axis", "int", -1, _AXIS_DOC.format("sort the input tensor"), optional=True),
            Param("is_ascend", "bool", True, "Whether to sort in ascending or descending order.")],
    outputs=("output0", "output1"),
    num_visible_outputs=lambda params: 1,
    infer_shape=_sort_shape,
    infer_type=lambda ctx, ins, outs: _same_data_type(ins, outs, [HIDDEN_INDEX_TYPE]),
    kernel=lambda b: _append(b, 0, b.params["is_ascend"], values=b.outputs[0],
                             indices=b.outputs[1], reqs=(b.req[0], b.req[1], "null")),
    workspace=_workspace,
    gradient=lambda g: _scatter_gradient(g, axis=g.params["axis"], k=0, ret_typ="value",
                                         is_ascend=g.params["is_ascend"]),
    doc="Returns a sorted copy of the input along an axis (axis=None: the flattened array), "
        "ascending unless is_ascend=False.\n\n"
        "Example: x = [[1, 4], [3, 1]] -> sort(x) = [[1., 4.], [1., 3.]]; "
        "sort(x, axis=None) = [1., 1., 3., 4.]; sort(x, is_ascend=0) = [[4., 1.], [3., 1.]].",
))


register(OpDef(
    "argsort",
    dtypes={"output": NUMBER_DTYPES},
    aliases=("_npi_argsort",),
    params=[Param("axis", "int", -1, _AXIS_DOC.format("sort the input tensor"), optional=True),
            Param("is_ascend", "bool", True, "Whether to sort in ascending or descending order."),
            Param("dtype", "str", "float32", _DTYPE_DOC, choices=INDEX_DTYPES)],
    infer_shape=_sort_shape,
    infer_type=lambda ctx, ins, outs: (ins, [_numpy_dtype(ctx, ctx.params["dtype"])]),
    kernel=lambda b: _append(b, 0, b.params["is_ascend"], indices=b.outputs[0],
                             reqs=("null", b.req[0], "null")),
    workspace=_workspace,
    gradient=lambda g: [None],     # piecewise constant: the gradient is zero
    doc="Returns the indices that sort the input along an axis (axis=None: the flattened "
        "array), ascending unless is_ascend=False, as floats by default.  Equal values come "
        "out in MXNet's order (its sort is not stable).\n\n"
        "Example: x = [[0.3, 0.2, 0.4], [0.1, 0.3, 0.2]] -> argsort(x) = [[1., 0., 2.], "
        "[0., 2., 1.]]; argsort(x, axis=None) = [3., 1., 5., 0., 4., 2.].",
))
