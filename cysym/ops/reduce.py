"""Reductions (sum, mean, max, min, prod, nansum, nanprod, _square_sum, norm), moments,
cumulative sums (_np_cumsum) and matrix products (dot, batch_dot)."""
import numpy as np

from ..registry import ARRAY_DTYPES, FLOAT_DTYPES, NUMBER_DTYPES, OpDef, Param, register
from .common import keep_dims_shape, kernels


def reduced_axes(ctx, ndim, axis_param="axis"):
    """The axes a reduction removes: `axis` (all when None or empty), or the others with exclude."""
    given = set()
    for a in ctx.params[axis_param] or ():
        if not -ndim <= a < ndim:
            raise ctx.error(f"{axis_param} {a} is out of range for {ndim} dimensions")
        given.add(a % ndim)
    everything = set(range(ndim))
    if ctx.params.get("exclude"):
        return sorted(everything - given)
    return sorted(given or everything)


def _reduce_shape(ctx, ins, outs, axis_param="axis"):
    """data -> data's shape without the axes of axis (every axis when empty; the others with
    exclude), 1 there with keepdims; (1,) when nothing is left."""
    if ins[0] is None:
        return ins, outs
    axes = reduced_axes(ctx, len(ins[0]), axis_param)
    out = keep_dims_shape(ins[0], axes, ctx.params["keepdims"])
    return ins, [out if out or ctx.params["keepdims"] else (1,)] * len(outs)


_REDUCE_PARAMS = [
    Param("axis", "shape", None, "The axis or axes to reduce; None reduces all.", optional=True),
    Param("keepdims", "bool", False, "Keep the reduced axes with size 1."),
    Param("exclude", "bool", False, "Reduce every axis except those in `axis`."),
]


def _reduce_kernel(kind):
    def kernel(b):
        kernels("reduce").append_reduce(b.plan, kind, b.inputs[0], b.outputs[0], b.params["axis"],
                                 b.params["exclude"], b.req[0], b.label)
    return kernel


# the reductions whose gradient reads the forward output: max and min send it to every position
# equal to the result (ties included, as MXNet), prod and nanprod multiply by output / data
READS_OUTPUT = ("max", "min", "prod", "nanprod")

# what each backward multiplies the broadcast head gradient by
DERIVATIVES = {
    "sum": "1", "mean": "1 / count", "max": "(data == output)", "min": "(data == output)",
    "prod": "output / data (NaN or inf where data is 0, as MXNet's)",
    "nansum": "(data is not NaN)", "nanprod": "output / data where data is not NaN, else 0",
    "square_sum": "2 data",
}


def _reduce_gradient(kind):
    def gradient(g):
        if kind in READS_OUTPUT:
            return [g.op(f"_backward_{kind}", g.out_grads[0], g.inputs[0], g.outputs[0],
                         **g.forward_attrs())]
        # data is passed for its shape (and values, for nansum and square_sum)
        return [g.op(f"_backward_{kind}", g.out_grads[0], g.inputs[0], **g.forward_attrs())]
    return gradient


def _reduce_backward_kernel(kind):
    def kernel(b):
        out = b.inputs[2] if len(b.inputs) > 2 else None
        kernels("reduce").append_reduce_backward(b.plan, kind, b.inputs[0], b.inputs[1], out, b.outputs[0],
                                          b.params["axis"], b.params["exclude"], b.req[0], b.label)
    return kernel


def _reduce_backward_shape(ctx, ins, outs):
    return ins, [ins[1] if ins[1] is not None else outs[0]]


for _name, _kind, _aliases, _what in (
        ("sum", "sum", ("sum_axis",), "sum"), ("mean", "mean", (), "mean"),
        ("max", "max", ("max_axis",), "maximum"), ("min", "min", ("min_axis",), "minimum"),
        ("prod", "prod", (), "product"), ("nansum", "nansum", (), "sum, NaN counted as 0"),
        ("nanprod", "nanprod", (), "product, NaN counted as 1"),
        ("_square_sum", "square_sum", (), "sum of squares")):
    register(OpDef(_name, aliases=_aliases, params=_REDUCE_PARAMS, infer_shape=_reduce_shape,
                   kernel=_reduce_kernel(_kind), gradient=_reduce_gradient(_kind),
                   doc=f"The {_what} of array elements over the given axes."))
    register(OpDef(f"_backward_{_kind}", params=_REDUCE_PARAMS,
                   inputs=("out_grad", "data", "output") if _kind in READS_OUTPUT
                   else ("out_grad", "data"),
                   outputs=("data_grad",), infer_shape=_reduce_backward_shape,
                   # sum and mean only need the data's shape
                   shape_only=("data",) if _kind in ("sum", "mean") else (),
                   kernel=_reduce_backward_kernel(_kind), hidden=True,
                   doc=f"The gradient of {_name}: out_grad broadcast back to the data's shape, "
                       f"times {DERIVATIVES[_kind]}."))


# -- norm ---------------------------------------------------------------------------------------

# the out_dtype / dtype choices of MXNet 1.9.1 (binding one that cysym has no kernel for, float16,
# is refused naming the entry)
OUT_DTYPES = ("float16", "float32", "float64", "int32", "int64", "int8")


def _requested_dtype(param):
    """A type rule: the output has the dtype the param names, or the input's when it is None."""
    def rule(ctx, ins, outs):
        requested = ctx.params[param]
        return ins, [np.dtype(requested) if requested is not None else ins[0]]
    return rule


def _append_then_cast(b, append, source, target, req):
    """append(into) computes in source's dtype; when target has another dtype, into a buffer
    of its shape made at bind time, then cast into target."""
    if target.dtype == source.dtype:
        append(target, req)
        return
    computed = np.empty(target.shape, source.dtype)
    append(computed, "write")
    kernels("index").append_cast(b.plan, computed, target, req, b.label)


def _norm_kind(params):
    return f"norm{params['ord']}"


def _norm_kernel(b):
    x = b.inputs[0]
    _append_then_cast(b, lambda y, req: kernels("reduce").append_reduce(
        b.plan, _norm_kind(b.params), x, y, b.params["axis"], False, req, b.label), x, b.outputs[0], b.req[0])


def _as_dtype(b, array, dtype):
    """array, or a copy in dtype (made at bind time) that a cast appended to the plan fills."""
    if array.dtype == dtype:
        return array
    converted = np.empty(array.shape, dtype)
    kernels("index").append_cast(b.plan, array, converted, "write", b.label)
    return converted


def _norm_backward_kernel(b):
    dy, x, y = b.inputs
    kernels("reduce").append_reduce_backward(
        b.plan, _norm_kind(b.params), _as_dtype(b, dy, x.dtype), x, _as_dtype(b, y, x.dtype),
        b.outputs[0], b.params["axis"], False, b.req[0], b.label)


_NORM_PARAMS = [
    Param("ord", "int", 2, "Order of the norm. Currently ord=1 and ord=2 is supported.", choices=(1, 2)),
    Param("axis", "shape", None, "The axis or axes along which to perform the reduction; None "
                                 "reduces all (a 2-tuple gives the Frobenius norm of matrices).",
          optional=True),
    Param("out_dtype", "str", None, "The data type of the output.", choices=OUT_DTYPES, optional=True),
    Param("keepdims", "bool", False, "Keep the reduced axes with size 1."),
]

register(OpDef(
    "norm",
    aliases=("_sparse_norm",),
    params=_NORM_PARAMS,
    infer_shape=_reduce_shape,
    infer_type=_requested_dtype("out_dtype"),
    dtypes={"output": ARRAY_DTYPES},
    kernel=_norm_kernel,
    gradient=lambda g: [g.op("_backward_norm", g.out_grads[0], g.inputs[0], g.outputs[0],
                             **g.forward_attrs())],
    doc="The L1 (ord=1: sum of |x|) or L2 (ord=2: sqrt of the sum of squares) norm over the axes.",
))

register(OpDef(
    "_backward_norm",
    params=_NORM_PARAMS,
    inputs=("out_grad", "data", "output"),
    outputs=("data_grad",),
    infer_shape=_reduce_backward_shape,
    infer_type=lambda ctx, ins, outs: (ins, [ins[1]]),
    # out_grad and output have norm's out_dtype: converted to the data's first
    dtypes={"out_grad": ARRAY_DTYPES, "output": ARRAY_DTYPES},
    kernel=_norm_backward_kernel,
    hidden=True,
    doc="The gradient of norm: out_grad broadcast back to the data's shape, times sign(data) "
        "(ord=1) or data / output (ord=2: NaN where the norm is 0, as MXNet's).",
))


# -- moments --------------------------------------------------------------------------------------

def _moments_shape(ctx, ins, outs):
    """data -> mean and var: data's shape without axes (1 there with keepdims); axes is not empty."""
    if not ctx.params["axes"]:
        raise ctx.error("empty axes are not supported (as MXNet): pass every axis for global moments")
    return _reduce_shape(ctx, ins, outs, "axes")


def _moments_kernel(b):
    kernels("reduce").append_moments(b.plan, b.inputs[0], b.outputs[0], b.outputs[1], b.params["axes"],
                                     b.req[0], b.req[1], b.label)


def _moments_gradient(g):
    # an output nothing reads has no head gradient: zeros in its place
    heads = [head if head is not None else g.op("zeros_like", output)
             for head, output in zip(g.out_grads, g.outputs)]
    return [g.op("_backward_moments", *heads, g.inputs[0], g.outputs[0], **g.forward_attrs())]


def _moments_backward_kernel(b):
    mean_grad, var_grad, x, mean = b.inputs
    kernels("reduce").append_moments_backward(b.plan, mean_grad, var_grad, x, mean, b.outputs[0],
                                              b.params["axes"], b.req[0], b.label)


_MOMENTS_PARAMS = [
    Param("axes", "shape", None, "Array of ints. Axes along which to compute mean and variance.",
          optional=True),
    Param("keepdims", "bool", False, "produce moments with the same dimensionality as the input."),
]

register(OpDef(
    "moments",
    params=_MOMENTS_PARAMS,
    outputs=("mean", "var"),
    infer_shape=_moments_shape,
    kernel=_moments_kernel,
    gradient=_moments_gradient,
    doc="The mean and the (biased) variance of the data over the given axes.",
))

register(OpDef(
    "_backward_moments",
    params=_MOMENTS_PARAMS,
    inputs=("mean_grad", "var_grad", "data", "mean"),
    outputs=("data_grad",),
    infer_shape=lambda ctx, ins, outs: (ins, [ins[2] if ins[2] is not None else outs[0]]),
    infer_type=lambda ctx, ins, outs: (ins, [ins[2]]),
    kernel=_moments_backward_kernel,
    hidden=True,
    doc="data_grad = (mean_grad + 2 var_grad (data - mean)) / count, broadcast over the axes.",
))


# -- cumulative sum -------------------------------------------------------------------------------

def _cumsum_shape(ctx, ins, outs):
    """data -> data's shape; axis None: the flattened (size,)."""
    shape = ins[0]
    if shape is None:
        return ins, outs
    axis = ctx.params["axis"]
    if axis is None:
        return ins, [(int(np.prod(shape, dtype=np.int64)),)]
    if not -len(shape) <= axis < len(shape):
        raise ctx.error(f"axis {axis} is out of range for input shape {shape}")
    return ins, [shape]


def _cumsum_kernel(b):
    x, y = b.inputs[0], b.outputs[0]
    # MXNet sums in the output's dtype: the input is converted first
    kernels("reduce").append_cumsum(b.plan, _as_dtype(b, x, y.dtype), y, b.params["axis"], False,
                                    b.req[0], b.label)


def _cumsum_backward_kernel(b):
    dy, x = b.inputs
    _append_then_cast(b, lambda dx, req: kernels("reduce").append_cumsum(
        b.plan, dy, dx, b.params["axis"], True, req, b.label), dy, b.outputs[0], b.req[0])


_CUMSUM_PARAMS = [
    Param("axis", "int", None, "Axis along which the cumulative sum is computed. The default "
                               "(None) is to compute the cumsum over the flattened array.",
          optional=True),
    Param("dtype", "str", None, "Type of the returned array and of the accumulator in which the "
                                "elements are summed; None: the input's.", choices=OUT_DTYPES,
          optional=True),
]

register(OpDef(
    "_np_cumsum",
    aliases=("cumsum",),
    params=_CUMSUM_PARAMS,
    inputs=("a",),
    infer_shape=_cumsum_shape,
    infer_type=_requested_dtype("dtype"),
    dtypes={"a": NUMBER_DTYPES, "output": FLOAT_DTYPES},
    kernel=_cumsum_kernel,
    gradient=lambda g: [g.op("_backward_np_cumsum", g.out_grads[0], g.inputs[0], **g.forward_attrs())],
    doc="The cumulative sum of the elements along an axis (of the flattened array when axis is None).",
))

register(OpDef(
    "_backward_np_cumsum",
    params=_CUMSUM_PARAMS,
    inputs=("out_grad", "a"),
    outputs=("a_grad",),
    infer_shape=lambda ctx, ins, outs: (ins, [ins[1] if ins[1] is not None else outs[0]]),
    infer_type=lambda ctx, ins, outs: (ins, [ins[1]]),
    shape_only=("a",),
    kernel=_cumsum_backward_kernel,
    hidden=True,
    doc="a_grad = out_grad summed from the far end of the axis, in the input's shape and dtype.",
))


def _dot_shape(ctx, ins, outs):
    """lhs (*A, k), rhs (k, *B) -> (*A, *B) (transpose_a/transpose_b reverse 1-D and 2-D inputs);
    two vectors -> (1,)."""
    lhs, rhs = ins
    if lhs is None or rhs is None:
        return ins, outs
    ta, tb = ctx.params["transpose_a"], ctx.params["transpose_b"]
    if len(lhs) == 1 and len(rhs) == 1:
        if lhs != rhs:
            raise ctx.error(f"vector shapes {lhs} and {rhs} differ")
        return ins, [(1,)]
    if (ta or tb) and (len(lhs) > 2 or len(rhs) > 2):
        raise ctx.error("transpose_a/transpose_b are supported for 1-D and 2-D inputs")
    left = tuple(reversed(lhs)) if ta else tuple(lhs)
    right = tuple(reversed(rhs)) if tb else tuple(rhs)
    if left[-1] != right[0]:
        raise ctx.error(f"lhs {lhs}{' (transposed)' if ta else ''} and rhs {rhs}"
                        f"{' (transposed)' if tb else ''} do not agree on the summed axis")
    return ins, [left[:-1] + right[1:] or (1,)]


_DOT_PARAMS = [
    Param("transpose_a", "bool", False, "Use the transpose of the first input."),
    Param("transpose_b", "bool", False, "Use the transpose of the second input."),
    Param("forward_stype", "str", None, "Ignored (dense only).", optional=True),
]

def _product_kernel(name):
    def kernel(b):
        append = getattr(kernels("reduce"), f"append_{name}")
        append(b.plan, b.inputs[0], b.inputs[1], b.outputs[0], b.params["transpose_a"],
               b.params["transpose_b"], b.req[0], b.label)
    return kernel


def _product_backward_kernel(name):
    def kernel(b):
        append = getattr(kernels("reduce"), f"append_{name}_backward")
        append(b.plan, b.inputs[0], b.inputs[1], b.inputs[2], b.outputs[0], b.outputs[1],
               b.params["transpose_a"], b.params["transpose_b"], b.req[0], b.req[1], b.label)
    return kernel


def _product_gradient(name):
    # one node computes both gradients with two GEMMs (per batch for batch_dot)
    return lambda g: list(g.op(f"_backward_{name}", g.out_grads[0], g.inputs[0], g.inputs[1],
                               **g.forward_attrs()))


for _name in ("dot", "batch_dot"):
    register(OpDef(f"_backward_{_name}", params=_DOT_PARAMS, inputs=("out_grad", "lhs", "rhs"),
                   outputs=("lhs_grad", "rhs_grad"),
                   infer_shape=lambda ctx, ins, outs: (ins, [ins[1], ins[2]]),
                   kernel=_product_backward_kernel(_name), hidden=True,
                   doc=f"The gradients of {_name} with respect to lhs and rhs."))

register(OpDef("dot", params=_DOT_PARAMS, inputs=("lhs", "rhs"), infer_shape=_dot_shape,
               kernel=_product_kernel("dot"), gradient=_product_gradient("dot"),
               doc="Dot product: matrix product for 2-D inputs, sum over the last axis of lhs "
                   "and the first of rhs for N-D."))


def _batch_dot_shape(ctx, ins, outs):
    """lhs (B, m, k), rhs (B, k, n) (their last two axes swapped by transpose_a/transpose_b) -> (B,
    m, n)."""
    lhs, rhs = ins
    if lhs is None or rhs is None:
        return ins, outs
    if len(lhs) != 3 or len(rhs) != 3 or lhs[0] != rhs[0]:
        raise ctx.error(f"batch_dot needs two 3-D inputs with one batch size, got {lhs} and {rhs}")
    m, k = (lhs[2], lhs[1]) if ctx.params["transpose_a"] else (lhs[1], lhs[2])
    k2, n = (rhs[2], rhs[1]) if ctx.params["transpose_b"] else (rhs[1], rhs[2])
    if k != k2:
        raise ctx.error(f"lhs {lhs} and rhs {rhs} do not agree on the summed axis")
    return ins, [(lhs[0], m, n)]


register(OpDef("batch_dot", params=_DOT_PARAMS, inputs=("lhs", "rhs"), infer_shape=_batch_dot_shape,
               kernel=_product_kernel("batch_dot"), gradient=_product_gradient("batch_dot"),
               doc="Batched matrix product of (B, M, K) and (B, K, N)."))
