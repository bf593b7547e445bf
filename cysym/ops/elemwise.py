"""Element-wise arithmetic: binary, broadcast, scalar and unary operators, add_n, clip."""
from ..registry import OpDef, Param, register
from .common import broadcast_shapes, same_shape

# (canonical name, aliases) — the aliases are what Symbol arithmetic calls, so automatic
# names (`_plus0`) and JSON op names (`elemwise_add`) both match MXNet's.
BINARY = (
    ("elemwise_add", ("_Plus", "_plus", "_add")),
    ("elemwise_sub", ("_Minus", "_minus", "_sub")),
    ("elemwise_mul", ("_Mul", "_mul")),
    ("elemwise_div", ("_Div", "_div")),
    ("_power", ("_Power", "_pow")),
    ("_maximum", ("_Maximum",)),
    ("_minimum", ("_Minimum",)),
    ("_hypot", ("_Hypot",)),
)

BROADCAST = (
    ("broadcast_add", ("broadcast_plus",)),
    ("broadcast_sub", ("broadcast_minus",)),
    ("broadcast_mul", ()),
    ("broadcast_div", ()),
    ("broadcast_power", ()),
    ("broadcast_maximum", ()),
    ("broadcast_minimum", ()),
    ("broadcast_hypot", ()),
    ("broadcast_equal", ()),
    ("broadcast_not_equal", ()),
    ("broadcast_greater", ()),
    ("broadcast_greater_equal", ()),
    ("broadcast_lesser", ()),
    ("broadcast_lesser_equal", ()),
)

SCALAR = (
    ("_plus_scalar", ("_PlusScalar",), "x + scalar"),
    ("_minus_scalar", ("_MinusScalar",), "x - scalar"),
    ("_rminus_scalar", ("_RMinusScalar",), "scalar - x"),
    ("_mul_scalar", ("_MulScalar",), "x * scalar"),
    ("_div_scalar", ("_DivScalar",), "x / scalar"),
    ("_rdiv_scalar", ("_RDivScalar",), "scalar / x"),
    ("_power_scalar", ("_PowerScalar",), "x ** scalar"),
    ("_rpower_scalar", ("_RPowerScalar",), "scalar ** x"),
    ("_maximum_scalar", ("_MaximumScalar",), "max(x, scalar)"),
    ("_minimum_scalar", ("_MinimumScalar",), "min(x, scalar)"),
)

UNARY = (
    ("exp", "exp(x)"), ("log", "natural logarithm"), ("sqrt", "square root"),
    ("rsqrt", "1/sqrt(x)"), ("square", "x*x"), ("abs", "|x|"), ("sign", "sign(x)"),
    ("relu", "max(0, x)"), ("sigmoid", "1/(1+exp(-x))"), ("tanh", "hyperbolic tangent"),
    ("negative", "-x"), ("reciprocal", "1/x"), ("softsign", "x/(1+|x|)"),
)

for _name, _aliases in BINARY:
    register(OpDef(_name, aliases=_aliases, inputs=("lhs", "rhs"), infer_shape=same_shape,
                   inplace=[(0, 0), (1, 0)],
                   doc=f"Element-wise {_name.strip('_').replace('elemwise_', '')} of two arrays of one shape."))


def _broadcast_shape(ctx, ins, outs):
    if ins[0] is None or ins[1] is None:
        return ins, outs
    return ins, [broadcast_shapes(ctx, ins[0], ins[1])]


for _name, _aliases in BROADCAST:
    register(OpDef(_name, aliases=_aliases, inputs=("lhs", "rhs"), infer_shape=_broadcast_shape,
                   doc=f"Element-wise {_name[len('broadcast_'):]} with NumPy broadcasting."))

_SCALAR_PARAM = Param("scalar", "float", 1.0, "The scalar operand.")
for _name, _aliases, _formula in SCALAR:
    register(OpDef(_name, aliases=_aliases, params=[_SCALAR_PARAM], infer_shape=same_shape,
                   inplace=[(0, 0)], doc=f"Element-wise {_formula}."))

for _name, _formula in UNARY:
    register(OpDef(_name, infer_shape=same_shape, inplace=[(0, 0)], doc=f"Element-wise {_formula}."))

register(OpDef(
    "_copy",
    aliases=("identity",),
    infer_shape=same_shape,
    inplace=[(0, 0)],
    doc="Returns a copy of the input.",
))

register(OpDef(
    "add_n",
    aliases=("ElementWiseSum",),
    params=[Param("num_args", "int", doc="Number of inputs to be summed.", low=1)],
    variadic="num_args",
    infer_shape=same_shape,
    inplace=[(0, 0)],
    doc="Adds all input arguments element-wise.",
))

register(OpDef(
    "clip",
    params=[Param("a_min", "float", doc="Minimum value"), Param("a_max", "float", doc="Maximum value")],
    infer_shape=same_shape,
    inplace=[(0, 0)],
    doc="Clips (limits) the values in an array to [a_min, a_max].",
))
