"""Element-wise arithmetic: binary, broadcast, scalar and unary operators, add_n, clip.

Kernels are the maps of cysym._ops.elemwise, picked by name; gradients compose these ops
with three hidden helpers: `_backward_unary` (dy times a derivative of x or y),
`_backward_binary` (both partials of a binary map at the head gradient's shape) and
`_reduce_like` (sum a broadcast gradient back to an input's shape).
"""
import numpy as np

from ..registry import ARRAY_DTYPES, FLOAT_DTYPES, NUMBER_DTYPES, OpDef, Param, register
from .common import broadcast_shapes, kernels, map_kernel, same_shape


# (canonical name, aliases) — the aliases are what Symbol arithmetic calls, so automatic
# names (`_plus0`) and JSON op names (`elemwise_add`) both match MXNet's; the capitalized and
# `_sparse_` names are MXNet 1.9.1's aliases (add_alias, MXNET_ADD_SPARSE_OP_ALIAS), which
# files written by older versions carry.
BINARY = (   # (name, aliases, kernel map)
    ("elemwise_add", ("_Plus", "_plus", "_add", "_sparse_elemwise_add"), "add"),
    ("elemwise_sub", ("_Minus", "_minus", "_sub", "_sparse_elemwise_sub"), "sub"),
    ("elemwise_mul", ("_Mul", "_mul", "_sparse_elemwise_mul"), "mul"),
    ("elemwise_div", ("_Div", "_div", "_sparse_elemwise_div"), "div"),
    ("_power", ("_Power", "_pow"), "power"),
    ("_maximum", ("_Maximum",), "maximum"),
    ("_minimum", ("_Minimum",), "minimum"),
    ("_hypot", ("_Hypot",), "hypot"),
    ("_mod", ("_Mod",), "mod"),
    ("_equal", ("_Equal",), "equal"),
    ("_not_equal", ("_Not_Equal",), "not_equal"),
    ("_greater", ("_Greater",), "greater"),
    ("_greater_equal", ("_Greater_Equal",), "greater_equal"),
    ("_lesser", ("_Lesser",), "lesser"),
    ("_lesser_equal", ("_Lesser_Equal",), "lesser_equal"),
    ("_logical_and", ("_Logical_And",), "logical_and"),
    ("_logical_or", ("_Logical_Or",), "logical_or"),
    ("_logical_xor", ("_Logical_Xor",), "logical_xor"),
)

BROADCAST = (
    ("broadcast_add", ("broadcast_plus", "_sparse_broadcast_add", "_sparse_broadcast_plus"), "add"),
    ("broadcast_sub", ("broadcast_minus", "_sparse_broadcast_sub", "_sparse_broadcast_minus"), "sub"),
    ("broadcast_mul", ("_sparse_broadcast_mul",), "mul"),
    ("broadcast_div", ("_sparse_broadcast_div",), "div"),
    ("broadcast_mod", (), "mod"),
    ("broadcast_power", (), "power"),
    ("broadcast_maximum", (), "maximum"),
    ("broadcast_minimum", (), "minimum"),
    ("broadcast_hypot", (), "hypot"),
    ("broadcast_equal", (), "equal"),
    ("broadcast_not_equal", (), "not_equal"),
    ("broadcast_greater", (), "greater"),
    ("broadcast_greater_equal", (), "greater_equal"),
    ("broadcast_lesser", (), "lesser"),
    ("broadcast_lesser_equal", (), "lesser_equal"),
    ("broadcast_logical_and", (), "logical_and"),
    ("broadcast_logical_or", (), "logical_or"),
    ("broadcast_logical_xor", (), "logical_xor"),
)

# maps that also compute in int32 and int64 (cysym._ops.elemwise.INTEGER_BINARY), with MXNet's
# integer semantics: division truncates toward zero, mod takes the divisor's sign, and a zero
# divisor gives 0 (MXNet's CPU build dies of SIGFPE)
INTEGER_MAPS = ("add", "sub", "mul", "div", "mod", "maximum", "minimum", "equal", "not_equal",
                "greater", "greater_equal", "lesser", "lesser_equal", "logical_and",
                "logical_or", "logical_xor")

# unary and scalar maps that also compute in int32 and int64 (cysym._ops.elemwise.INTEGER_UNARY);
# the scalars are truncated toward zero first, as MXNet converts them to the array's dtype
INTEGER_UNARY_MAPS = (
    "copy", "negative", "abs", "sign", "square", "plus_scalar", "minus_scalar", "rminus_scalar",
    "mul_scalar", "div_scalar", "rdiv_scalar", "maximum_scalar", "minimum_scalar", "mod_scalar",
    "rmod_scalar", "equal_scalar", "not_equal_scalar", "greater_scalar", "greater_equal_scalar",
    "lesser_scalar", "lesser_equal_scalar", "logical_and_scalar", "logical_or_scalar",
    "logical_xor_scalar", "logical_not", "clip")


# integers are whole already: MXNet's rounding maps return them unchanged, in every integer
# dtype (int8 and uint8 too), so an integer array runs as a same-dtype copy (the index
# family's cast loop, which moves all six array dtypes); so does MXNet's copy (`identity`)
COPYING_MAPS = ("floor", "ceil", "round", "rint", "fix", "trunc", "copy")


# unary maps that int32 and int64 arrays run as another map of INTEGER_UNARY_MAPS, keeping
# their dtype as MXNet does: (map, scalar)
INTEGER_EQUIVALENTS = {"relu": ("maximum_scalar", 0.0)}


def _unary_dtypes(kernel_map):
    if kernel_map in COPYING_MAPS:
        return ARRAY_DTYPES
    integer = kernel_map in INTEGER_UNARY_MAPS or kernel_map in INTEGER_EQUIVALENTS
    return NUMBER_DTYPES if integer else FLOAT_DTYPES


# maps whose derivative is zero almost everywhere: MXNet gives them zero gradients
# (MakeZeroGradNodes)
PIECEWISE_CONSTANT = ("equal", "not_equal", "greater", "greater_equal", "lesser", "lesser_equal",
                      "logical_and", "logical_or", "logical_xor")

SCALAR = (   # (name, aliases, formula, gradient: (map, reads 'x' or 'y') or an op of dy)
    ("_plus_scalar", ("_PlusScalar",), "x + scalar", "dy"),
    ("_minus_scalar", ("_MinusScalar",), "x - scalar", "dy"),
    ("_rminus_scalar", ("_RMinusScalar",), "scalar - x", "negative"),
    ("_mul_scalar", ("_MulScalar",), "x * scalar", "_mul_scalar"),
    ("_div_scalar", ("_DivScalar",), "x / scalar", "_div_scalar"),
    ("_rdiv_scalar", ("_RDivScalar",), "scalar / x", ("rdiv_scalar_grad_x", "x")),
    ("_power_scalar", ("_PowerScalar",), "x ** scalar", ("power_scalar_grad_x", "x")),
    ("_rpower_scalar", ("_RPowerScalar",), "scalar ** x", ("rpower_scalar_grad_y", "y")),
    ("_maximum_scalar", ("_MaximumScalar",), "max(x, scalar)", ("maximum_scalar_grad_x", "x")),
    ("_minimum_scalar", ("_MinimumScalar",), "min(x, scalar)", ("minimum_scalar_grad_x", "x")),
    ("_hypot_scalar", ("_HypotScalar",), "sqrt(x**2 + scalar**2)", ("hypot_scalar_grad_x", "x")),
    # MXNet's mod takes the sign of the divisor (as Python's %) and gives 0 for a 0 divisor
    ("_mod_scalar", ("_ModScalar",), "x mod scalar", "dy"),
    ("_rmod_scalar", ("_RModScalar",), "scalar mod x", ("rmod_scalar_grad_x", "x")),
    ("_equal_scalar", ("_EqualScalar",), "x == scalar (1 or 0)", None),
    ("_not_equal_scalar", ("_NotEqualScalar",), "x != scalar (1 or 0)", None),
    ("_greater_scalar", ("_GreaterScalar",), "x > scalar (1 or 0)", None),
    ("_greater_equal_scalar", ("_GreaterEqualScalar",), "x >= scalar (1 or 0)", None),
    ("_lesser_scalar", ("_LesserScalar",), "x < scalar (1 or 0)", None),
    ("_lesser_equal_scalar", ("_LesserEqualScalar",), "x <= scalar (1 or 0)", None),
    ("_logical_and_scalar", ("_LogicalAndScalar",), "x and scalar (non-zero is true; 1 or 0)", None),
    ("_logical_or_scalar", ("_LogicalOrScalar",), "x or scalar (non-zero is true; 1 or 0)", None),
    ("_logical_xor_scalar", ("_LogicalXorScalar",), "x xor scalar (non-zero is true; 1 or 0)", None),
    # MXNet's Smooth L1 loss with sigma = scalar (mshadow_op::smooth_l1_loss)
    ("smooth_l1", ("_npx_smooth_l1",),
     "(scalar x)^2 / 2 where |x| < 1/scalar^2, else |x| - 1/(2 scalar^2)", ("smooth_l1_grad_x", "x")),
)

UNARY = (   # (name, aliases, formula, gradient as in SCALAR; None: zero almost everywhere)
    ("exp", ("_sparse_exp",), "exp(x)", "exp"),
    ("log", ("_sparse_log",), "natural logarithm", ("log_grad_x", "x")),
    ("sqrt", ("_sparse_sqrt",), "square root", ("sqrt_grad_y", "y")),
    ("rsqrt", ("_sparse_rsqrt",), "1/sqrt(x)", ("rsqrt_grad_y", "y")),
    ("square", ("_sparse_square",), "x*x", ("square_grad_x", "x")),
    ("abs", ("_sparse_abs",), "|x|", ("abs_grad_x", "x")),
    ("sign", ("_sparse_sign",), "sign(x)", None),
    ("relu", ("_sparse_relu",), "max(0, x)", ("relu_grad_y", "y")),
    ("sigmoid", ("_sparse_sigmoid",), "1/(1+exp(-x))", ("sigmoid_grad_y", "y")),
    ("tanh", ("_sparse_tanh",), "hyperbolic tangent", ("tanh_grad_y", "y")),
    ("negative", ("_sparse_negative",), "-x", "negative"),
    ("reciprocal", (), "1/x", ("reciprocal_grad_y", "y")),
    ("softsign", (), "x/(1+|x|)", ("softsign_grad_x", "x")),
    ("logical_not", (), "1 where x == 0, else 0", None),
    # trigonometric and hyperbolic (MXNet's elemwise_unary_op_trig.cc)
    ("sin", ("_sparse_sin",), "sine", ("sin_grad_x", "x")),
    ("cos", ("_sparse_cos",), "cosine", ("cos_grad_x", "x")),
    ("tan", ("_sparse_tan",), "tangent", ("tan_grad_y", "y")),
    ("arcsin", ("_sparse_arcsin",), "inverse sine", ("arcsin_grad_x", "x")),
    ("arccos", ("_sparse_arccos",), "inverse cosine", ("arccos_grad_x", "x")),
    ("arctan", ("_sparse_arctan",), "inverse tangent", ("arctan_grad_x", "x")),
    ("sinh", ("_sparse_sinh",), "hyperbolic sine", ("sinh_grad_x", "x")),
    ("cosh", ("_sparse_cosh",), "hyperbolic cosine", ("cosh_grad_x", "x")),
    ("arcsinh", ("_sparse_arcsinh",), "inverse hyperbolic sine", ("arcsinh_grad_x", "x")),
    ("arccosh", ("_sparse_arccosh",), "inverse hyperbolic cosine", ("arccosh_grad_x", "x")),
    ("arctanh", ("_sparse_arctanh",), "inverse hyperbolic tangent", ("arctanh_grad_x", "x")),
    # linear: the gradient is the same map of dy
    ("degrees", ("_sparse_degrees",), "radians to degrees", "degrees"),
    ("radians", ("_sparse_radians",), "degrees to radians", "radians"),
    # rounding: MXNet's rint sends halves to floor (rint(2.5) = 2, rint(-2.5) = -3), round sends
    # them away from 0, fix and trunc round toward 0
    ("floor", ("_sparse_floor",), "floor", None),
    ("ceil", ("_sparse_ceil",), "ceiling", None),
    ("round", ("_sparse_round",), "round to nearest, halves away from 0", None),
    ("rint", ("_sparse_rint",), "round to nearest, halves down", None),
    ("fix", ("_sparse_fix",), "round toward 0", None),
    ("trunc", ("_sparse_trunc",), "round toward 0", None),
    # powers, logarithms and special functions
    ("cbrt", ("_sparse_cbrt",), "cube root", ("cbrt_grad_y", "y")),
    ("rcbrt", (), "1/cbrt(x)", ("rcbrt_grad_x", "x")),
    ("log10", ("_sparse_log10",), "base-10 logarithm", ("log10_grad_x", "x")),
    ("log2", ("_sparse_log2",), "base-2 logarithm", ("log2_grad_x", "x")),
    ("log1p", ("_sparse_log1p",), "log(1 + x)", ("log1p_grad_x", "x")),
    ("expm1", ("_sparse_expm1",), "exp(x) - 1", ("expm1_grad_x", "x")),
    ("erf", ("_npx_erf",), "error function", ("erf_grad_x", "x")),
    ("erfinv", ("_npx_erfinv",), "inverse error function", ("erfinv_grad_y", "y")),
    ("gamma", ("_sparse_gamma", "_npx_gamma"), "gamma function", ("gamma_grad_x", "x")),
    ("gammaln", ("_sparse_gammaln", "_npx_gammaln"), "log of the absolute gamma function",
     ("gammaln_grad_x", "x")),
)


# -- hidden helpers used by gradient rules -----------------------------------------------------

def unary_grad(g, derivative, reads, **scalars):
    """dy * derivative, where the derivative map reads the forward input x or output y."""
    source = g.inputs[0] if reads == "x" else g.outputs[0]
    return g.op("_backward_unary", g.out_grads[0], source, op=derivative, **scalars)


def _backward_unary_call(params):
    return kernels("elemwise").append_binary, params["op"], params["scalar"], params["scalar2"]


register(OpDef(
    "_backward_unary",
    params=[Param("op", "str", doc="The derivative map of cysym._ops.elemwise.BINARY."),
            Param("scalar", "float", 0.0, "First scalar of the forward op."),
            Param("scalar2", "float", 0.0, "Second scalar of the forward op.")],
    inputs=("out_grad", "data"),
    infer_shape=same_shape,
    inplace=[(0, 0)],
    kernel=map_kernel(_backward_unary_call),
    map_call=_backward_unary_call,
    hidden=True,
    doc="dy times the derivative of a unary map, evaluated from its input or output.",
))


def _backward_binary_shape(ctx, ins, outs):
    return ins, [ins[0], ins[0]]


def _backward_binary_kernel(b):
    dy, lhs, rhs = b.inputs
    kernels("elemwise").append_binary_backward(b.plan, b.params["op"], dy, lhs, rhs, b.outputs[0], b.outputs[1],
                                       b.req[0], b.req[1], b.label)


register(OpDef(
    "_backward_binary",
    params=[Param("op", "str", doc="The binary map whose partials are wanted.")],
    inputs=("out_grad", "lhs", "rhs"),
    outputs=("lhs_grad", "rhs_grad"),
    infer_shape=_backward_binary_shape,
    kernel=_backward_binary_kernel,
    hidden=True,
    doc="dy * d op/d lhs and dy * d op/d rhs, both at dy's (broadcast) shape.",
))


def _reduce_like_shape(ctx, ins, outs):
    return ins, [ins[1]]


def _reduce_like_kernel(b):
    kernels("elemwise").append_sum_to(b.plan, b.inputs[0], b.outputs[0], b.req[0], b.label)


register(OpDef(
    "_reduce_like",
    inputs=("data", "like"),
    infer_shape=_reduce_like_shape,
    kernel=_reduce_like_kernel,
    hidden=True,
    doc="Sums data over the axes along which `like` was broadcast, giving like's shape.",
))


def _grad_write_kernel(b):
    kernels("elemwise").append_unary(b.plan, "copy", b.inputs[0], b.outputs[0], b.params["req"], b.label)


register(OpDef(
    "_grad_write",
    params=[Param("req", "str", "write", "write: copy; add: accumulate.", choices=("write", "add"))],
    infer_shape=same_shape,
    kernel=_grad_write_kernel,
    hidden=True,
    doc="Writes (or adds) a gradient into the user's gradient array.",
))


# -- binary ------------------------------------------------------------------------------------

def _binary_call(kernel_map):
    """OpDef.map_call of a binary map (the arrays broadcast to the output's shape)."""
    return lambda params: (kernels("elemwise").append_binary, kernel_map, 0.0, 0.0)


def _binary_gradient(kernel_map, broadcast):
    def gradient(g):
        dy = g.out_grads[0]
        lhs, rhs = g.inputs
        if kernel_map in PIECEWISE_CONSTANT:
            return [None, None]
        if kernel_map == "add":
            grads = [dy, dy]
        elif kernel_map == "sub":
            grads = [dy, g.op("negative", dy)]
        else:
            grads = g.op("_backward_binary", dy, lhs, rhs, op=kernel_map)
        if broadcast:
            grads = [g.op("_reduce_like", grad, like) for grad, like in zip(grads, (lhs, rhs))]
        return grads
    return gradient


for _name, _aliases, _map in BINARY:
    _call = _binary_call(_map)
    register(OpDef(_name, aliases=_aliases, inputs=("lhs", "rhs"), infer_shape=same_shape,
                   inplace=[(0, 0), (1, 0)], kernel=map_kernel(_call), map_call=_call,
                   dtypes=NUMBER_DTYPES if _map in INTEGER_MAPS else FLOAT_DTYPES,
                   gradient=_binary_gradient(_map, broadcast=False),
                   doc=f"Element-wise {_map} of two arrays of one shape."))


def _broadcast_shape(ctx, ins, outs):
    """lhs, rhs -> NumPy broadcasting of the two shapes: the shorter one padded with leading 1s,
    then on each axis equal sizes or a 1 on one side."""
    if ins[0] is None or ins[1] is None:
        return ins, outs
    return ins, [broadcast_shapes(ctx, ins[0], ins[1])]


for _name, _aliases, _map in BROADCAST:
    _call = _binary_call(_map)
    register(OpDef(_name, aliases=_aliases, inputs=("lhs", "rhs"), infer_shape=_broadcast_shape,
                   kernel=map_kernel(_call), map_call=_call,
                   gradient=_binary_gradient(_map, broadcast=True),
                   dtypes=NUMBER_DTYPES if _map in INTEGER_MAPS else FLOAT_DTYPES,
                   doc=f"Element-wise {_map} with NumPy broadcasting."))


# -- unary and scalar ----------------------------------------------------------------------------

def _unary_gradient(rule, scalar_names=()):
    def gradient(g):
        scalars = [g.params[n] for n in scalar_names]
        if rule is None:
            return [None]
        if rule == "dy":
            return [g.out_grads[0]]
        if rule == "exp":
            return [g.op("elemwise_mul", g.out_grads[0], g.outputs[0])]
        if rule in ("negative", "degrees", "radians"):   # linear: the same map of dy
            return [g.op(rule, g.out_grads[0])]
        if isinstance(rule, str):   # an op of dy with the forward scalar
            return [g.op(rule, g.out_grads[0], scalar=scalars[0])]
        derivative, reads = rule
        named = dict(zip(("scalar", "scalar2"), scalars))
        return [unary_grad(g, derivative, reads, **named)]
    return gradient


def _unary_call(kernel_map, scalar_names=()):
    """OpDef.map_call of a unary map whose scalars (at most two) are these parameters."""
    def map_call(params):
        s0, s1 = ([params[n] for n in scalar_names] + [0.0, 0.0])[:2]
        return kernels("elemwise").append_unary, kernel_map, s0, s1
    return map_call


def _unary_kernel(kernel_map, map_call):
    """The kernel of map_call (_unary_call's), and for int32 and int64 arrays the maps that run
    them as others (COPYING_MAPS, INTEGER_EQUIVALENTS)."""
    map_kernel_ = map_kernel(map_call)
    copying = kernel_map in COPYING_MAPS
    if not copying and kernel_map not in INTEGER_EQUIVALENTS:
        return map_kernel_

    def kernel(b):
        x = b.inputs[0]
        if x.dtype.kind not in "iu":
            map_kernel_(b)
        elif copying:
            kernels("index").append_cast(b.plan, x, b.outputs[0], b.req[0], b.label)
        else:
            map_name, scalar = INTEGER_EQUIVALENTS[kernel_map]
            kernels("elemwise").append_unary(b.plan, map_name, x, b.outputs[0], b.req[0], b.label, scalar)
    return kernel


def _register_unary(name, map_name, scalar_names=(), **declaration):
    """register() an op computing a unary map: its kernel and map_call from the map."""
    map_call = _unary_call(map_name, scalar_names)
    register(OpDef(name, infer_shape=same_shape, inplace=[(0, 0)], kernel=_unary_kernel(map_name, map_call),
                   map_call=map_call, **declaration))


_SCALAR_PARAMS = [
    Param("scalar", "float", 1.0, "The scalar operand."),
    Param("is_int", "bool", True, "Whether the scalar is an integer; MXNet's type rule reads it for "
                                  "integer inputs only, so float inputs ignore it."),
]
for _name, _aliases, _formula, _rule in SCALAR:
    _register_unary(_name, _name.strip("_"), ("scalar",), aliases=_aliases, params=_SCALAR_PARAMS,
                    dtypes=_unary_dtypes(_name.strip("_")), gradient=_unary_gradient(_rule, ("scalar",)),
                    doc=f"Element-wise {_formula}.")

for _name, _aliases, _formula, _rule in UNARY:
    _register_unary(_name, _name, aliases=_aliases, dtypes=_unary_dtypes(_name), gradient=_unary_gradient(_rule),
                    doc=f"Element-wise {_formula}.")



def _real_t(value):
    """A param MXNet declares as real_t (float32): float64 arrays see it rounded, as in MXNet."""
    return float(np.float32(value))


def _hard_sigmoid_call(params):
    return kernels("elemwise").append_unary, "hard_sigmoid", _real_t(params["alpha"]), _real_t(params["beta"])


def _hard_sigmoid_gradient(g):
    return [unary_grad(g, "hard_sigmoid_grad_x", "x", scalar=_real_t(g.params["alpha"]),
                       scalar2=_real_t(g.params["beta"]))]


register(OpDef(
    "hard_sigmoid",
    params=[Param("alpha", "float", 0.2, "Slope of hard sigmoid"),
            Param("beta", "float", 0.5, "Bias of hard sigmoid.")],
    infer_shape=same_shape,
    inplace=[(0, 0)],
    kernel=map_kernel(_hard_sigmoid_call),
    map_call=_hard_sigmoid_call,
    gradient=_hard_sigmoid_gradient,
    doc="Element-wise max(0, min(1, alpha * x + beta)).",
))

_register_unary(
    "_copy", "copy",
    aliases=("identity",),
    dtypes=_unary_dtypes("copy"),
    gradient=_unary_gradient("dy"),
    doc="Returns a copy of the input.",
)


def _add_n_kernel(b):
    kernels("elemwise").append_add_n(b.plan, list(b.inputs), b.outputs[0], b.req[0], b.label)


register(OpDef(
    "add_n",
    aliases=("ElementWiseSum", "_sparse_add_n", "_sparse_ElementWiseSum"),
    params=[Param("num_args", "int", doc="Number of inputs to be summed.", low=1)],
    variadic="num_args",
    infer_shape=same_shape,
    inplace=[(0, 0)],
    kernel=_add_n_kernel,
    gradient=lambda g: [g.out_grads[0]] * len(g.inputs),
    doc="Adds all input arguments element-wise.",
))

_register_unary(
    "clip", "clip", ("a_min", "a_max"),
    aliases=("_sparse_clip",),
    dtypes=NUMBER_DTYPES,
    params=[Param("a_min", "float", doc="Minimum value"), Param("a_max", "float", doc="Maximum value")],
    gradient=_unary_gradient(("clip_grad_x", "x"), ("a_min", "a_max")),
    doc="Clips (limits) the values in an array to [a_min, a_max].",
)
