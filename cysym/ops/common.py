"""Shape and dtype rules shared by several operator families, and the way they reach their kernels."""
from .. import _ops
from ..registry import Param
from ..shapes import same_shape  # noqa: F401  (the rule of element-wise operators, re-exported)

__all__ = ["kernels", "map_kernel", "same_shape", "elementwise_params", "prod", "normalize_axis", "broadcast_shapes",
           "GRAD_SCALE", "keep_dims_shape", "backward_grads"]


def kernels(family):
    """The Cython kernel module cysym._ops.<family> (its fastest build for this CPU).  Operators
    import it when they bind, so the graph layer loads without the compiled kernels (or while
    one is being rebuilt)."""
    return _ops.load(family)


def map_kernel(map_call):
    """The kernel (bind -> None) of an operator that computes one element-wise map:
    map_call(params) gives (append, map name, s0, s1) (OpDef.map_call)."""
    def kernel(b):
        append, map_name, s0, s1 = map_call(b.params)
        append(b.plan, map_name, *b.inputs, b.outputs[0], b.req[0], b.label, s0, s1)
    return kernel


def backward_grads(g, op_name, *entries):
    """The input gradients from one `op_name` node reading the first output's gradient and
    `entries`, with the forward node's parameters; none when no gradient arrives at that output
    (the hidden outputs of a multi-output op pass no gradient, as in MXNet)."""
    if g.out_grads[0] is None:
        return [None] * len(g.inputs)
    grads = g.op(op_name, g.out_grads[0], *entries, **g.forward_attrs())
    return grads if isinstance(grads, list) else [grads]


GRAD_SCALE = Param("grad_scale", "float", 1.0, "Scale the gradient by a float factor")


def prod(values):
    result = 1
    for v in values:
        result *= v
    return result


def elementwise_params():
    return []


def normalize_axis(ctx, axis, ndim):
    if not -ndim <= axis < ndim:
        raise ctx.error(f"axis {axis} is out of range for {ndim} dimensions")
    return axis % ndim


def broadcast_shapes(ctx, lhs, rhs):
    """NumPy broadcasting of two shapes, or an error naming both."""
    ndim = max(len(lhs), len(rhs))
    left = (1,) * (ndim - len(lhs)) + tuple(lhs)
    right = (1,) * (ndim - len(rhs)) + tuple(rhs)
    result = []
    for a, b in zip(left, right):
        if a != b and a != 1 and b != 1:
            raise ctx.error(f"shapes {tuple(lhs)} and {tuple(rhs)} cannot be broadcast together")
        result.append(b if a == 1 else a)
    return tuple(result)


def keep_dims_shape(shape, axes, keepdims):
    if keepdims:
        return tuple(1 if i in axes else d for i, d in enumerate(shape))
    return tuple(d for i, d in enumerate(shape) if i not in axes)
