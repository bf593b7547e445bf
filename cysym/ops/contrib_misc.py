"""Small contrib operators of MXNet 1.9.1: _contrib_gradientmultiplier, the straight-through
estimators _contrib_round_ste and _contrib_sign_ste, and _contrib_quadratic, built from the
element-wise kernels, and _contrib_allclose, whose loop is in cysym._ops.contrib_misc
(src/operator/contrib/gradient_multiplier_op.cc, stes_op.cc, quadratic_op-inl.h,
allclose_op-inl.h)."""
import numpy as np

from ..registry import NUMBER_DTYPES, OpDef, Param, register
from .common import kernels, prod, same_shape


def _unary(kernel_map, scalar_name=None):
    """The bind function running one map of cysym._ops.elemwise (with one scalar parameter)."""
    def kernel(b):
        scalars = [b.params[scalar_name]] if scalar_name else []
        kernels("elemwise").append_unary(b.plan, kernel_map, b.inputs[0], b.outputs[0], b.req[0],
                                         b.label, *scalars)
    return kernel


register(OpDef(
    "_contrib_gradientmultiplier",
    params=[Param("scalar", "float", 1.0, "lambda multiplier"),
            Param("is_int", "bool", True, "Indicate whether scalar input is int type")],
    dtypes=NUMBER_DTYPES,
    infer_shape=same_shape,
    inplace=[(0, 0)],
    kernel=_unary("copy"),
    gradient=lambda g: [g.op("_mul_scalar", g.out_grads[0], scalar=g.params["scalar"])],
    doc="The identity forward; backward multiplies the gradient by the scalar lambda (a "
        "gradient reversal layer with scalar < 0).",
))

# forward as round / sign, gradient 1 everywhere (instead of 0): quantized training
for _name, _map, _formula in (("_contrib_round_ste", "round", "round(x), halves away from 0"),
                              ("_contrib_sign_ste", "sign", "sign(x)")):
    register(OpDef(
        _name,
        aliases=(f"_sparse_{_name}",),
        infer_shape=same_shape,
        inplace=[(0, 0)],
        kernel=_unary(_map),
        gradient=lambda g: [g.out_grads[0]],
        doc=f"Straight-through estimator of {_map}: the forward is {_formula}, the gradient "
            f"passes through unchanged (d/dx = 1).",
    ))


def _f32(value):
    """MXNet's quadratic takes float32 coefficients: float64 arrays see them rounded."""
    return float(np.float32(value))


def _quadratic_workspace(params, in_shapes, out_shapes, dtype):
    return prod(out_shapes[0]) * np.dtype(dtype).itemsize


def _quadratic_kernel(b):
    """y = x * (a * x + b) + c, in MXNet's order of operations, through a workspace t."""
    x, y = b.inputs[0], b.outputs[0]
    a, linear, c = (_f32(b.params[k]) for k in ("a", "b", "c"))
    t = b.workspace[:x.nbytes].view(x.dtype).reshape(x.shape)
    elemwise = kernels("elemwise")
    elemwise.append_unary(b.plan, "mul_scalar", x, t, "write", b.label, a)
    elemwise.append_unary(b.plan, "plus_scalar", t, t, "write", b.label, linear)
    elemwise.append_binary(b.plan, "mul", x, t, t, "write", b.label)
    elemwise.append_unary(b.plan, "plus_scalar", t, y, b.req[0], b.label, c)


def _quadratic_gradient(g):
    """dx = dy * (2 a x + b)."""
    a, linear = _f32(g.params["a"]), _f32(g.params["b"])
    slope = g.op("_plus_scalar", g.op("_mul_scalar", g.inputs[0], scalar=2 * a), scalar=linear)
    return [g.op("elemwise_mul", g.out_grads[0], slope)]


register(OpDef(
    "_contrib_quadratic",
    params=[Param("a", "float", 0.0, "Coefficient of the quadratic term in the quadratic function."),
            Param("b", "float", 0.0, "Coefficient of the linear term in the quadratic function."),
            Param("c", "float", 0.0, "Constant term in the quadratic function.")],
    infer_shape=same_shape,
    workspace=_quadratic_workspace,
    kernel=_quadratic_kernel,
    gradient=_quadratic_gradient,
    doc="Element-wise a * x^2 + b * x + c (computed as x * (a * x + b) + c, as MXNet's).",
))


# ---------------------------------------------------------------------------------------------
# allclose: one uint8, 1 when every element of a is close to b's

def _allclose_shape(ctx, ins, outs):
    """a, b of one shape -> a 0-d output ()."""
    a, b = ins
    if a is not None and b is not None and tuple(a) != tuple(b):
        raise ctx.error(f"inputs 'a' {tuple(a)} and 'b' {tuple(b)} must have one shape")
    known = a if a is not None else b
    return [known, known], [()]


def _allclose_type(ctx, ins, outs):
    known = next((t for t in ins if t is not None), None)
    return [known, known], [np.dtype("uint8")]


register(OpDef(
    "_contrib_allclose",
    params=[Param("rtol", "float", 1e-05, "Relative tolerance."),
            Param("atol", "float", 1e-08, "Absolute tolerance."),
            Param("equal_nan", "bool", True, "Whether to compare NaN's as equal. If True, NaN's "
                  "in A will be considered equal to NaN's in B in the output array.")],
    inputs=("a", "b"),
    dtypes={"a": NUMBER_DTYPES, "b": NUMBER_DTYPES, "output": ("uint8",)},
    infer_shape=_allclose_shape,
    infer_type=_allclose_type,
    kernel=lambda b: kernels("contrib_misc").append_allclose(
        b.plan, b.inputs[0], b.inputs[1], b.outputs[0], b.params["rtol"], b.params["atol"],
        b.params["equal_nan"], b.req[0], b.label),
    gradient=lambda g: [None, None],
    doc="1 (a 0-d uint8 array) when abs(a - b) <= atol + rtol * abs(b) for every element (NaN "
        "equal to NaN when equal_nan), else 0; no gradient flows through it.",
))
