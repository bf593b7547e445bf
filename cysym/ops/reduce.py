"""Reductions (sum, mean, max, min) and matrix products (dot, batch_dot)."""
from ..registry import OpDef, Param, register
from .common import keep_dims_shape, kernels


def reduced_axes(ctx, ndim):
    """The axes a reduction removes: `axis` (all when None or empty), or the others with exclude."""
    given = set()
    for a in ctx.params["axis"] or ():
        if not -ndim <= a < ndim:
            raise ctx.error(f"axis {a} is out of range for {ndim} dimensions")
        given.add(a % ndim)
    everything = set(range(ndim))
    if ctx.params["exclude"]:
        return sorted(everything - given)
    return sorted(given or everything)


def _reduce_shape(ctx, ins, outs):
    if ins[0] is None:
        return ins, outs
    axes = reduced_axes(ctx, len(ins[0]))
    out = keep_dims_shape(ins[0], axes, ctx.params["keepdims"])
    return ins, [out if out or ctx.params["keepdims"] else (1,)]


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


def _reduce_gradient(kind):
    def gradient(g):
        if kind in ("max", "min"):
            # the gradient goes to every position equal to the result (ties included, as MXNet)
            return [g.op(f"_backward_{kind}", g.out_grads[0], g.inputs[0], g.outputs[0],
                         **g.forward_attrs())]
        # data is passed for its shape: the gradient is out_grad broadcast back to it
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


for _name, _aliases in (("sum", ("sum_axis",)), ("mean", ()), ("max", ("max_axis",)),
                        ("min", ("min_axis",))):
    register(OpDef(_name, aliases=_aliases, params=_REDUCE_PARAMS, infer_shape=_reduce_shape,
                   kernel=_reduce_kernel(_name), gradient=_reduce_gradient(_name),
                   doc=f"The {_name} of array elements over the given axes."))
    register(OpDef(f"_backward_{_name}", params=_REDUCE_PARAMS,
                   inputs=("out_grad", "data", "output") if _name in ("max", "min")
                   else ("out_grad", "data"),
                   outputs=("data_grad",), infer_shape=_reduce_backward_shape,
                   # sum and mean only need the data's shape; max and min compare with it
                   shape_only=("data",) if _name in ("sum", "mean") else (),
                   kernel=_reduce_backward_kernel(_name), hidden=True,
                   doc=f"The gradient of {_name}: out_grad broadcast back to the data's shape"
                       + (" at the positions equal to the result." if _name in ("max", "min")
                          else " (divided by the count)." if _name == "mean" else ".")))


def _dot_shape(ctx, ins, outs):
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
