"""Element-wise kernels: unary maps (math, activations, scalar arithmetic), binary maps with
NumPy broadcasting, their partial derivatives, the broadcast reduction used by backward
(sum to a smaller shape) and add_n.

A map is picked by a small integer code at bind time; the per-element `switch` sits in an
inline function that the compiler unswitches out of the loop (-O3), so each code runs as
its own tight loop.

int32 and int64 arrays run the maps of INTEGER_UNARY and INTEGER_BINARY through the same
loops, specialized for them (the fused `number` type), with MXNet's integer semantics
(_integer_binary); only those maps' integer loops are compiled.
"""
cimport cython
from libc.math cimport fabs, fabsf, sqrt, pow, hypot, erfc, sqrtf, powf, hypotf, fmod, floor, floorf
from libc.math cimport (sin, sinf, cos, cosf, tan, tanf, asin, asinf, acos, acosf, atan, atanf, sinh,
                        sinhf, cosh, coshf, asinh, asinhf, acosh, acoshf, atanh, atanhf, ceil, ceilf,
                        round, roundf, trunc, truncf, cbrt, cbrtf, log10, log10f, log2, log2f, erf, erff,
                        tgamma, tgammaf, lgamma, lgammaf)
from scipy.special.cython_special cimport erfinv as _special_erfinv, psi as _special_psi
from libc.stdint cimport int32_t, int64_t, uint64_t
from cython.parallel cimport prange

from cysym._ops cimport threads
from cysym._ops._blas cimport real
from cysym._ops._math cimport _erfc_single, _exp, _expm1, _log, _log1p, _sum, _tanh
from cysym._ops._common cimport (common_dtype, number, numeric_dtype, REQ_NULL, REQ_WRITE, REQ_ADD, req_code,
                                 step_index, DTYPE_FLOAT32, DTYPE_FLOAT64, DTYPE_INT32, DTYPE_INT64)
from cysym._ops.runner cimport Plan, KernelCall, RunContext, data_pointer
cimport numpy as cnp
from cysym._ops.shape import coalesce_walks

import numpy as np

cnp.import_array()

MAX_DIMS = 8          # the broadcast loops keep their multi-indices in arrays of 8

ctypedef fused integer:
    int32_t
    int64_t

UNARY = {name: code for code, name in enumerate((
    "copy", "negative", "exp", "log", "sqrt", "rsqrt", "square", "abs", "sign", "relu",
    "sigmoid", "tanh", "reciprocal", "softsign", "softrelu", "plus_scalar", "minus_scalar",
    "rminus_scalar", "mul_scalar", "div_scalar", "rdiv_scalar", "power_scalar",
    "rpower_scalar", "maximum_scalar", "minimum_scalar", "clip", "fill", "leaky", "elu",
    "selu", "gelu", "equal_scalar", "not_equal_scalar", "greater_scalar", "greater_equal_scalar",
    "lesser_scalar", "lesser_equal_scalar", "logical_and_scalar", "logical_or_scalar",
    "logical_xor_scalar", "hypot_scalar", "mod_scalar", "rmod_scalar", "logical_not",
    "sin", "cos", "tan", "arcsin", "arccos", "arctan", "sinh", "cosh", "arcsinh", "arccosh",
    "arctanh", "degrees", "radians", "floor", "ceil", "round", "rint", "fix", "trunc", "cbrt",
    "rcbrt", "log10", "log2", "log1p", "expm1", "erf", "erfinv", "gamma", "gammaln",
    "hard_sigmoid", "smooth_l1"))}

BINARY = {name: code for code, name in enumerate((
    "add", "sub", "mul", "div", "power", "maximum", "minimum", "hypot", "equal", "not_equal",
    "greater", "greater_equal", "lesser", "lesser_equal", "logical_and", "logical_or", "logical_xor",
    "mod",
    # derivatives: first operand is the head gradient dy, second the forward output y or input x
    "relu_grad_y", "sigmoid_grad_y", "tanh_grad_y", "softrelu_grad_y", "softsign_grad_x",
    "sqrt_grad_y", "rsqrt_grad_y", "square_grad_x", "abs_grad_x", "reciprocal_grad_y",
    "log_grad_x", "clip_grad_x", "leaky_grad_x", "elu_grad_x", "selu_grad_x", "gelu_grad_x",
    "power_scalar_grad_x", "rpower_scalar_grad_y", "rdiv_scalar_grad_x",
    "maximum_scalar_grad_x", "minimum_scalar_grad_x", "hypot_scalar_grad_x", "rmod_scalar_grad_x",
    "prelu", "sin_grad_x", "cos_grad_x", "tan_grad_y", "arcsin_grad_x", "arccos_grad_x",
    "arctan_grad_x", "sinh_grad_x", "cosh_grad_x", "arcsinh_grad_x", "arccosh_grad_x",
    "arctanh_grad_x", "cbrt_grad_y", "rcbrt_grad_x", "log10_grad_x", "log2_grad_x", "log1p_grad_x",
    "expm1_grad_x", "erf_grad_x", "erfinv_grad_y", "gamma_grad_x", "gammaln_grad_x",
    "hard_sigmoid_grad_x", "smooth_l1_grad_x"))}

# the unary maps that also compute in int32 and int64, the scalars truncated first as MXNet does
INTEGER_UNARY = frozenset((
    "copy", "negative", "abs", "sign", "square", "plus_scalar", "minus_scalar", "rminus_scalar",
    "mul_scalar", "div_scalar", "rdiv_scalar", "maximum_scalar", "minimum_scalar", "mod_scalar",
    "rmod_scalar", "equal_scalar", "not_equal_scalar", "greater_scalar", "greater_equal_scalar",
    "lesser_scalar", "lesser_equal_scalar", "logical_and_scalar", "logical_or_scalar",
    "logical_xor_scalar", "logical_not", "clip", "fill"))

# the unary maps that run on one thread whatever the array: libm's lgamma writes glibc's global
# signgam, a data race between threads
SERIAL_UNARY = frozenset(("gammaln",))
# element ranges split between threads start at multiples of this (whole cache lines)
DEF SPLIT_UNIT = 64

# the binary maps that also compute in int32 and int64, with MXNet's integer semantics
INTEGER_BINARY = frozenset((
    "add", "sub", "mul", "div", "maximum", "minimum", "equal", "not_equal", "greater",
    "greater_equal", "lesser", "lesser_equal", "logical_and", "logical_or", "logical_xor", "mod"))

# partial derivatives of a binary map, written at the head gradient's (broadcast) shape
BINARY_BACKWARD = {name: code for code, name in enumerate((
    "add", "sub", "mul", "div", "power", "maximum", "minimum", "hypot", "prelu", "mod"))}

cdef double SELU_ALPHA = 1.6732632423543772848170429916717
cdef double SELU_LAMBDA = 1.0507009873554804934193349852946
cdef double SQRT_HALF = 0.70710678118654752440
cdef double INV_SQRT_2PI = 0.39894228040143267794
cdef double DEGREES_PER_RADIAN = 57.295779513082320877     # 180 / pi, as MXNet's degrees in double
cdef double RADIANS_PER_DEGREE = 0.017453292519943295769
cdef double LN10 = 2.30258509299404568402
cdef double LN2 = 0.69314718055994530942
cdef double TWO_OVER_SQRT_PI = 1.12837916709551257390
cdef double HALF_SQRT_PI = 0.88622692545275801365


# float32 maps call the float libm functions, which are several times faster than double;
# exp, expm1, log, log1p and tanh come from _math.pxd, written so that loops over them vectorize.
cdef inline real _fabs(real x) noexcept nogil:
    if real is float: return fabsf(x)
    else: return fabs(x)
cdef inline real _sqrt(real x) noexcept nogil:
    if real is float: return sqrtf(x)
    else: return sqrt(x)
cdef inline real _pow(real x, real y) noexcept nogil:
    if real is float: return powf(x, y)
    else: return pow(x, y)
cdef inline real _hypot(real x, real y) noexcept nogil:
    if real is float: return hypotf(x, y)
    else: return hypot(x, y)
cdef inline real _floor(real x) noexcept nogil:
    if real is float: return floorf(x)
    else: return floor(x)
cdef inline real _ceil(real x) noexcept nogil:
    if real is float: return ceilf(x)
    else: return ceil(x)
cdef inline real _sin(real x) noexcept nogil:
    if real is float: return sinf(x)
    else: return sin(x)
cdef inline real _cos(real x) noexcept nogil:
    if real is float: return cosf(x)
    else: return cos(x)
cdef inline real _sinh(real x) noexcept nogil:
    if real is float: return sinhf(x)
    else: return sinh(x)
cdef inline real _cosh(real x) noexcept nogil:
    if real is float: return coshf(x)
    else: return cosh(x)
cdef inline real _cbrt(real x) noexcept nogil:
    if real is float: return cbrtf(x)
    else: return cbrt(x)
cdef inline real _tgamma(real x) noexcept nogil:
    if real is float: return tgammaf(x)
    else: return tgamma(x)


cdef inline real _rint(real x) noexcept nogil:
    """MXNet's rint (mshadow_op::rint): the nearer of floor and ceil, ties to floor (not to
    even: rint(2.5) = 2, rint(-2.5) = -3)."""
    cdef real below = _floor(x), above = _ceil(x)
    return below if x - below <= above - x else above


cdef inline real _fix(real x) noexcept nogil:
    """MXNet's fix: of floor and ceil, the one nearer to 0."""
    cdef real below = _floor(x), above = _ceil(x)
    return below if _fabs(below) < _fabs(above) else above


cdef inline real _smooth_l1(real x, real sigma, bint derivative) noexcept nogil:
    """MXNet's smooth_l1 (mshadow_op::smooth_l1_loss) and its derivative: (sigma x)^2 / 2 where
    |x| <= 1 / sigma^2, |x| - 1 / (2 sigma^2) elsewhere."""
    cdef real sigma2 = sigma * sigma
    cdef real bound = <real>1 / sigma2
    if x > bound:
        return <real>1 if derivative else x - <real>0.5 * bound
    if x < -bound:
        return <real>-1 if derivative else -x - <real>0.5 * bound
    return sigma2 * x if derivative else <real>0.5 * x * x * sigma2


cdef inline real _hard_sigmoid(real x, real alpha, real beta, bint derivative) noexcept nogil:
    """max(0, min(1, alpha x + beta)); the derivative is alpha strictly inside (0, 1), as MXNet's."""
    cdef real y = alpha * x + beta
    if derivative:
        return alpha if y > <real>0 and y < <real>1 else <real>0
    return <real>0 if y < <real>0 else (<real>1 if y > <real>1 else y)


cdef inline real _mod(real a, real b) noexcept nogil:
    """MXNet's mod (mshadow_op::mod): a - b * floor(a / b) with the sign of b, 0 where b is 0,
    through fmod in double on |a| and |b| as MXNet computes it (exact, unlike the formula), so
    that zeros get MXNet's signs: -4 mod 2 = 0, -4 mod -2 = -0, -0 mod 2 = -0, -0 mod -2 = 0."""
    cdef double x = a, y = b, r
    if y == 0:
        return 0
    if y < 0:
        if x < 0:
            return <real>(-fmod(-x, -y))
        r = fmod(x, -y)
        return <real>(r + (y if r != 0 else 0.0))
    if x < 0:
        r = fmod(-x, y)
        return <real>(-r + (y if r != 0 else 0.0))
    return <real>fmod(x, y)

# One empty struct per map, used only as a compile-time tag: each fused specialization of
# a loop below is its own tight (vectorizable) C loop, with no per-element dispatch.
ctypedef struct Copy:
    char tag
ctypedef struct Negative:
    char tag
ctypedef struct Exp:
    char tag
ctypedef struct Log:
    char tag
ctypedef struct Sqrt:
    char tag
ctypedef struct Rsqrt:
    char tag
ctypedef struct Square:
    char tag
ctypedef struct Abs:
    char tag
ctypedef struct Sign:
    char tag
ctypedef struct Relu:
    char tag
ctypedef struct Sigmoid:
    char tag
ctypedef struct Tanh:
    char tag
ctypedef struct Reciprocal:
    char tag
ctypedef struct Softsign:
    char tag
ctypedef struct Softrelu:
    char tag
ctypedef struct PlusScalar:
    char tag
ctypedef struct MinusScalar:
    char tag
ctypedef struct RMinusScalar:
    char tag
ctypedef struct MulScalar:
    char tag
ctypedef struct DivScalar:
    char tag
ctypedef struct RDivScalar:
    char tag
ctypedef struct PowerScalar:
    char tag
ctypedef struct RPowerScalar:
    char tag
ctypedef struct MaximumScalar:
    char tag
ctypedef struct MinimumScalar:
    char tag
ctypedef struct Clip:
    char tag
ctypedef struct Fill:
    char tag
ctypedef struct Leaky:
    char tag
ctypedef struct Elu:
    char tag
ctypedef struct Selu:
    char tag
ctypedef struct Gelu:
    char tag
ctypedef struct EqualScalar:
    char tag
ctypedef struct NotEqualScalar:
    char tag
ctypedef struct GreaterScalar:
    char tag
ctypedef struct GreaterEqualScalar:
    char tag
ctypedef struct LesserScalar:
    char tag
ctypedef struct LesserEqualScalar:
    char tag
ctypedef struct LogicalAndScalar:
    char tag
ctypedef struct LogicalOrScalar:
    char tag
ctypedef struct LogicalXorScalar:
    char tag
ctypedef struct HypotScalar:
    char tag
ctypedef struct ModScalar:
    char tag
ctypedef struct RModScalar:
    char tag
ctypedef struct LogicalNot:
    char tag
ctypedef struct Sin:
    char tag
ctypedef struct Cos:
    char tag
ctypedef struct Tan:
    char tag
ctypedef struct Arcsin:
    char tag
ctypedef struct Arccos:
    char tag
ctypedef struct Arctan:
    char tag
ctypedef struct Sinh:
    char tag
ctypedef struct Cosh:
    char tag
ctypedef struct Arcsinh:
    char tag
ctypedef struct Arccosh:
    char tag
ctypedef struct Arctanh:
    char tag
ctypedef struct Degrees:
    char tag
ctypedef struct Radians:
    char tag
ctypedef struct Floor:
    char tag
ctypedef struct Ceil:
    char tag
ctypedef struct Round:
    char tag
ctypedef struct Rint:
    char tag
ctypedef struct Fix:
    char tag
ctypedef struct Trunc:
    char tag
ctypedef struct Cbrt:
    char tag
ctypedef struct Rcbrt:
    char tag
ctypedef struct Log10:
    char tag
ctypedef struct Log2:
    char tag
ctypedef struct Log1p:
    char tag
ctypedef struct Expm1:
    char tag
ctypedef struct Erf:
    char tag
ctypedef struct Erfinv:
    char tag
ctypedef struct Gamma:
    char tag
ctypedef struct Gammaln:
    char tag
ctypedef struct HardSigmoid:
    char tag
ctypedef struct SmoothL1:
    char tag

ctypedef fused unary_map:
    Copy
    Negative
    Exp
    Log
    Sqrt
    Rsqrt
    Square
    Abs
    Sign
    Relu
    Sigmoid
    Tanh
    Reciprocal
    Softsign
    Softrelu
    PlusScalar
    MinusScalar
    RMinusScalar
    MulScalar
    DivScalar
    RDivScalar
    PowerScalar
    RPowerScalar
    MaximumScalar
    MinimumScalar
    Clip
    Fill
    Leaky
    Elu
    Selu
    Gelu
    EqualScalar
    NotEqualScalar
    GreaterScalar
    GreaterEqualScalar
    LesserScalar
    LesserEqualScalar
    LogicalAndScalar
    LogicalOrScalar
    LogicalXorScalar
    HypotScalar
    ModScalar
    RModScalar
    LogicalNot
    Sin
    Cos
    Tan
    Arcsin
    Arccos
    Arctan
    Sinh
    Cosh
    Arcsinh
    Arccosh
    Arctanh
    Degrees
    Radians
    Floor
    Ceil
    Round
    Rint
    Fix
    Trunc
    Cbrt
    Rcbrt
    Log10
    Log2
    Log1p
    Expm1
    Erf
    Erfinv
    Gamma
    Gammaln
    HardSigmoid
    SmoothL1


cdef inline real _unary(unary_map* tag, real x, real s0, real s1) noexcept nogil:
    if unary_map is Copy: return x
    elif unary_map is Negative: return -x
    elif unary_map is Exp: return _exp(x)
    elif unary_map is Log: return _log(x)
    elif unary_map is Sqrt: return _sqrt(x)
    elif unary_map is Rsqrt: return <real>1 / _sqrt(x)
    elif unary_map is Square: return x * x
    elif unary_map is Abs: return _fabs(x)       # one and-mask, and |-0| = +0
    elif unary_map is Sign: return <real>((x > <real>0) - (x < <real>0))
    elif unary_map is Relu: return x if x > <real>0 else <real>0
    elif unary_map is Sigmoid: return <real>1 / (<real>1 + _exp(-x))
    elif unary_map is Tanh: return _tanh(x)
    elif unary_map is Reciprocal: return <real>1 / x
    elif unary_map is Softsign: return x / (<real>1 + (x if x >= <real>0 else -x))
    # log(1 + exp(x)) without overflow
    elif unary_map is Softrelu: return (x if x > <real>0 else <real>0) + _log1p(_exp(-(x if x >= <real>0 else -x)))
    elif unary_map is PlusScalar: return x + s0
    elif unary_map is MinusScalar: return x - s0
    elif unary_map is RMinusScalar: return s0 - x
    elif unary_map is MulScalar: return x * s0
    elif unary_map is DivScalar: return x / s0
    elif unary_map is RDivScalar: return s0 / x
    elif unary_map is PowerScalar: return _pow(x, s0)
    elif unary_map is RPowerScalar: return _pow(s0, x)
    elif unary_map is MaximumScalar: return x if x > s0 else s0
    elif unary_map is MinimumScalar: return x if x < s0 else s0
    elif unary_map is Clip: return s0 if x < s0 else (s1 if x > s1 else x)
    elif unary_map is Fill: return s0
    elif unary_map is Leaky: return x if x > <real>0 else s0 * x
    elif unary_map is Elu: return x if x > <real>0 else s0 * _expm1(x)
    elif unary_map is Selu: return <real>SELU_LAMBDA * (x if x > <real>0 else <real>SELU_ALPHA * _expm1(x))
    elif unary_map is EqualScalar: return <real>(x == s0)
    elif unary_map is NotEqualScalar: return <real>(x != s0)
    elif unary_map is GreaterScalar: return <real>(x > s0)
    elif unary_map is GreaterEqualScalar: return <real>(x >= s0)
    elif unary_map is LesserScalar: return <real>(x < s0)
    elif unary_map is LesserEqualScalar: return <real>(x <= s0)
    # logical maps: any non-zero value (NaN too) is true
    elif unary_map is LogicalAndScalar: return <real>(x != 0 and s0 != 0)
    elif unary_map is LogicalOrScalar: return <real>(x != 0 or s0 != 0)
    elif unary_map is LogicalXorScalar: return <real>((x != 0) != (s0 != 0))
    elif unary_map is HypotScalar: return _hypot(x, s0)
    elif unary_map is ModScalar: return _mod(x, s0)
    elif unary_map is RModScalar: return _mod(s0, x)
    elif unary_map is LogicalNot: return <real>(x == 0)
    elif unary_map is Sin: return _sin(x)
    elif unary_map is Cos: return _cos(x)
    elif unary_map is Tan: return tanf(x) if real is float else tan(x)
    elif unary_map is Arcsin: return asinf(x) if real is float else asin(x)
    elif unary_map is Arccos: return acosf(x) if real is float else acos(x)
    elif unary_map is Arctan: return atanf(x) if real is float else atan(x)
    elif unary_map is Sinh: return _sinh(x)
    elif unary_map is Cosh: return _cosh(x)
    elif unary_map is Arcsinh: return asinhf(x) if real is float else asinh(x)
    elif unary_map is Arccosh: return acoshf(x) if real is float else acosh(x)
    elif unary_map is Arctanh: return atanhf(x) if real is float else atanh(x)
    elif unary_map is Degrees: return <real>(x * DEGREES_PER_RADIAN)
    elif unary_map is Radians: return <real>(x * RADIANS_PER_DEGREE)
    elif unary_map is Floor: return _floor(x)
    elif unary_map is Ceil: return _ceil(x)
    elif unary_map is Round: return roundf(x) if real is float else round(x)   # halves away from 0
    elif unary_map is Rint: return _rint(x)
    elif unary_map is Fix: return _fix(x)
    elif unary_map is Trunc: return truncf(x) if real is float else trunc(x)
    elif unary_map is Cbrt: return _cbrt(x)
    elif unary_map is Rcbrt: return <real>1 / _cbrt(x)
    elif unary_map is Log10: return log10f(x) if real is float else log10(x)
    elif unary_map is Log2: return log2f(x) if real is float else log2(x)
    elif unary_map is Log1p: return _log1p(x)
    elif unary_map is Expm1: return _expm1(x)
    elif unary_map is Erf: return erff(x) if real is float else erf(x)
    elif unary_map is Erfinv: return <real>_special_erfinv(<double>x)
    elif unary_map is Gamma: return _tgamma(x)
    elif unary_map is Gammaln: return lgammaf(x) if real is float else lgamma(x)
    elif unary_map is HardSigmoid: return _hard_sigmoid(x, s0, s1, False)
    elif unary_map is SmoothL1: return _smooth_l1(x, s0, False)
    # x Phi(x) = x erfc(-x / sqrt 2) / 2: erfc keeps its precision where Phi(x) is tiny
    elif real is float: return <float>(0.5 * x * _erfc_single(-x * SQRT_HALF))
    else: return 0.5 * x * erfc(-x * SQRT_HALF)


# -- unary ------------------------------------------------------------------------------------

cdef inline number _unary_value(unary_map* tag, number x, number s0, number s1) noexcept nogil:
    if number is float or number is double:
        return _unary(tag, x, s0, s1)
    else:
        return _integer_unary(tag, x, s0, s1)


cdef void _unary_loop(unary_map* tag, number* x, number* y, Py_ssize_t n, number s0, number s1,
                      int req) noexcept nogil:
    cdef Py_ssize_t i
    if req == REQ_ADD:
        for i in range(n):
            y[i] += _unary_value(tag, x[i], s0, s1)
    else:
        for i in range(n):
            y[i] = _unary_value(tag, x[i], s0, s1)


cdef void _unary_dispatch(int code, real* x, real* y, Py_ssize_t n, real s0, real s1, int req) noexcept nogil:
    if code == 0: _unary_loop(<Copy*>NULL, x, y, n, s0, s1, req)
    elif code == 1: _unary_loop(<Negative*>NULL, x, y, n, s0, s1, req)
    elif code == 2: _unary_loop(<Exp*>NULL, x, y, n, s0, s1, req)
    elif code == 3: _unary_loop(<Log*>NULL, x, y, n, s0, s1, req)
    elif code == 4: _unary_loop(<Sqrt*>NULL, x, y, n, s0, s1, req)
    elif code == 5: _unary_loop(<Rsqrt*>NULL, x, y, n, s0, s1, req)
    elif code == 6: _unary_loop(<Square*>NULL, x, y, n, s0, s1, req)
    elif code == 7: _unary_loop(<Abs*>NULL, x, y, n, s0, s1, req)
    elif code == 8: _unary_loop(<Sign*>NULL, x, y, n, s0, s1, req)
    elif code == 9: _unary_loop(<Relu*>NULL, x, y, n, s0, s1, req)
    elif code == 10: _unary_loop(<Sigmoid*>NULL, x, y, n, s0, s1, req)
    elif code == 11: _unary_loop(<Tanh*>NULL, x, y, n, s0, s1, req)
    elif code == 12: _unary_loop(<Reciprocal*>NULL, x, y, n, s0, s1, req)
    elif code == 13: _unary_loop(<Softsign*>NULL, x, y, n, s0, s1, req)
    elif code == 14: _unary_loop(<Softrelu*>NULL, x, y, n, s0, s1, req)
    elif code == 15: _unary_loop(<PlusScalar*>NULL, x, y, n, s0, s1, req)
    elif code == 16: _unary_loop(<MinusScalar*>NULL, x, y, n, s0, s1, req)
    elif code == 17: _unary_loop(<RMinusScalar*>NULL, x, y, n, s0, s1, req)
    elif code == 18: _unary_loop(<MulScalar*>NULL, x, y, n, s0, s1, req)
    elif code == 19: _unary_loop(<DivScalar*>NULL, x, y, n, s0, s1, req)
    elif code == 20: _unary_loop(<RDivScalar*>NULL, x, y, n, s0, s1, req)
    elif code == 21: _unary_loop(<PowerScalar*>NULL, x, y, n, s0, s1, req)
    elif code == 22: _unary_loop(<RPowerScalar*>NULL, x, y, n, s0, s1, req)
    elif code == 23: _unary_loop(<MaximumScalar*>NULL, x, y, n, s0, s1, req)
    elif code == 24: _unary_loop(<MinimumScalar*>NULL, x, y, n, s0, s1, req)
    elif code == 25: _unary_loop(<Clip*>NULL, x, y, n, s0, s1, req)
    elif code == 26: _unary_loop(<Fill*>NULL, x, y, n, s0, s1, req)
    elif code == 27: _unary_loop(<Leaky*>NULL, x, y, n, s0, s1, req)
    elif code == 28: _unary_loop(<Elu*>NULL, x, y, n, s0, s1, req)
    elif code == 29: _unary_loop(<Selu*>NULL, x, y, n, s0, s1, req)
    elif code == 30: _unary_loop(<Gelu*>NULL, x, y, n, s0, s1, req)
    elif code == 31: _unary_loop(<EqualScalar*>NULL, x, y, n, s0, s1, req)
    elif code == 32: _unary_loop(<NotEqualScalar*>NULL, x, y, n, s0, s1, req)
    elif code == 33: _unary_loop(<GreaterScalar*>NULL, x, y, n, s0, s1, req)
    elif code == 34: _unary_loop(<GreaterEqualScalar*>NULL, x, y, n, s0, s1, req)
    elif code == 35: _unary_loop(<LesserScalar*>NULL, x, y, n, s0, s1, req)
    elif code == 36: _unary_loop(<LesserEqualScalar*>NULL, x, y, n, s0, s1, req)
    elif code == 37: _unary_loop(<LogicalAndScalar*>NULL, x, y, n, s0, s1, req)
    elif code == 38: _unary_loop(<LogicalOrScalar*>NULL, x, y, n, s0, s1, req)
    elif code == 39: _unary_loop(<LogicalXorScalar*>NULL, x, y, n, s0, s1, req)
    elif code == 40: _unary_loop(<HypotScalar*>NULL, x, y, n, s0, s1, req)
    elif code == 41: _unary_loop(<ModScalar*>NULL, x, y, n, s0, s1, req)
    elif code == 42: _unary_loop(<RModScalar*>NULL, x, y, n, s0, s1, req)
    elif code == 43: _unary_loop(<LogicalNot*>NULL, x, y, n, s0, s1, req)
    elif code == 44: _unary_loop(<Sin*>NULL, x, y, n, s0, s1, req)
    elif code == 45: _unary_loop(<Cos*>NULL, x, y, n, s0, s1, req)
    elif code == 46: _unary_loop(<Tan*>NULL, x, y, n, s0, s1, req)
    elif code == 47: _unary_loop(<Arcsin*>NULL, x, y, n, s0, s1, req)
    elif code == 48: _unary_loop(<Arccos*>NULL, x, y, n, s0, s1, req)
    elif code == 49: _unary_loop(<Arctan*>NULL, x, y, n, s0, s1, req)
    elif code == 50: _unary_loop(<Sinh*>NULL, x, y, n, s0, s1, req)
    elif code == 51: _unary_loop(<Cosh*>NULL, x, y, n, s0, s1, req)
    elif code == 52: _unary_loop(<Arcsinh*>NULL, x, y, n, s0, s1, req)
    elif code == 53: _unary_loop(<Arccosh*>NULL, x, y, n, s0, s1, req)
    elif code == 54: _unary_loop(<Arctanh*>NULL, x, y, n, s0, s1, req)
    elif code == 55: _unary_loop(<Degrees*>NULL, x, y, n, s0, s1, req)
    elif code == 56: _unary_loop(<Radians*>NULL, x, y, n, s0, s1, req)
    elif code == 57: _unary_loop(<Floor*>NULL, x, y, n, s0, s1, req)
    elif code == 58: _unary_loop(<Ceil*>NULL, x, y, n, s0, s1, req)
    elif code == 59: _unary_loop(<Round*>NULL, x, y, n, s0, s1, req)
    elif code == 60: _unary_loop(<Rint*>NULL, x, y, n, s0, s1, req)
    elif code == 61: _unary_loop(<Fix*>NULL, x, y, n, s0, s1, req)
    elif code == 62: _unary_loop(<Trunc*>NULL, x, y, n, s0, s1, req)
    elif code == 63: _unary_loop(<Cbrt*>NULL, x, y, n, s0, s1, req)
    elif code == 64: _unary_loop(<Rcbrt*>NULL, x, y, n, s0, s1, req)
    elif code == 65: _unary_loop(<Log10*>NULL, x, y, n, s0, s1, req)
    elif code == 66: _unary_loop(<Log2*>NULL, x, y, n, s0, s1, req)
    elif code == 67: _unary_loop(<Log1p*>NULL, x, y, n, s0, s1, req)
    elif code == 68: _unary_loop(<Expm1*>NULL, x, y, n, s0, s1, req)
    elif code == 69: _unary_loop(<Erf*>NULL, x, y, n, s0, s1, req)
    elif code == 70: _unary_loop(<Erfinv*>NULL, x, y, n, s0, s1, req)
    elif code == 71: _unary_loop(<Gamma*>NULL, x, y, n, s0, s1, req)
    elif code == 72: _unary_loop(<Gammaln*>NULL, x, y, n, s0, s1, req)
    elif code == 73: _unary_loop(<HardSigmoid*>NULL, x, y, n, s0, s1, req)
    else: _unary_loop(<SmoothL1*>NULL, x, y, n, s0, s1, req)


cdef void unary_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    # arrays: x, y; ints: code, req, size, s0 and s1 truncated (integer arrays), splittable;
    # floats: s0, s1.  Large arrays are split into element ranges over the kernel threads.
    cdef Py_ssize_t n = c.ints[2]
    cdef int part
    cdef int parts = threads.parts_for(2.0 * n) if c.ints[5] else 1
    if parts == 1:
        _unary_range(c, 0, n)
        return
    for part in prange(parts, num_threads=parts, schedule="static"):
        _unary_range(c, threads.split_point(n, parts, part, SPLIT_UNIT),
                     threads.split_point(n, parts, part + 1, SPLIT_UNIT))


cdef void _unary_range(KernelCall* c, Py_ssize_t first, Py_ssize_t last) noexcept nogil:
    # elements first..last of unary_kernel's call
    cdef Py_ssize_t n = last - first
    if n <= 0:
        return
    if c.dtype == DTYPE_FLOAT32:
        _unary_dispatch(<int>c.ints[0], <float*>c.arrays[0] + first, <float*>c.arrays[1] + first,
                        n, <float>c.floats[0], <float>c.floats[1], <int>c.ints[1])
    elif c.dtype == DTYPE_FLOAT64:
        _unary_dispatch(<int>c.ints[0], <double*>c.arrays[0] + first, <double*>c.arrays[1] + first,
                        n, c.floats[0], c.floats[1], <int>c.ints[1])
    elif c.dtype == DTYPE_INT32:
        _integer_unary_dispatch(<int>c.ints[0], <int32_t*>c.arrays[0] + first,
                                <int32_t*>c.arrays[1] + first, n, <int32_t>c.ints[3],
                                <int32_t>c.ints[4], <int>c.ints[1])
    else:
        _integer_unary_dispatch(<int>c.ints[0], <int64_t*>c.arrays[0] + first,
                                <int64_t*>c.arrays[1] + first, n, <int64_t>c.ints[3],
                                <int64_t>c.ints[4], <int>c.ints[1])


# -- binary with broadcasting ------------------------------------------------------------------
# second operand of the *Grad* maps: the forward output y or input x; the first is dy
ctypedef struct Add:
    char tag
ctypedef struct Sub:
    char tag
ctypedef struct Mul:
    char tag
ctypedef struct Div:
    char tag
ctypedef struct Power:
    char tag
ctypedef struct Maximum:
    char tag
ctypedef struct Minimum:
    char tag
ctypedef struct Hypot:
    char tag
ctypedef struct Equal:
    char tag
ctypedef struct NotEqual:
    char tag
ctypedef struct Greater:
    char tag
ctypedef struct GreaterEqual:
    char tag
ctypedef struct Lesser:
    char tag
ctypedef struct LesserEqual:
    char tag
ctypedef struct LogicalAnd:
    char tag
ctypedef struct LogicalOr:
    char tag
ctypedef struct LogicalXor:
    char tag
ctypedef struct Mod:
    char tag
ctypedef struct ReluGradY:
    char tag
ctypedef struct SigmoidGradY:
    char tag
ctypedef struct TanhGradY:
    char tag
ctypedef struct SoftreluGradY:
    char tag
ctypedef struct SoftsignGradX:
    char tag
ctypedef struct SqrtGradY:
    char tag
ctypedef struct RsqrtGradY:
    char tag
ctypedef struct SquareGradX:
    char tag
ctypedef struct AbsGradX:
    char tag
ctypedef struct ReciprocalGradY:
    char tag
ctypedef struct LogGradX:
    char tag
ctypedef struct ClipGradX:
    char tag
ctypedef struct LeakyGradX:
    char tag
ctypedef struct EluGradX:
    char tag
ctypedef struct SeluGradX:
    char tag
ctypedef struct GeluGradX:
    char tag
ctypedef struct PowerScalarGradX:
    char tag
ctypedef struct RPowerScalarGradY:
    char tag
ctypedef struct RDivScalarGradX:
    char tag
ctypedef struct MaximumScalarGradX:
    char tag
ctypedef struct MinimumScalarGradX:
    char tag
ctypedef struct HypotScalarGradX:
    char tag
ctypedef struct RModScalarGradX:
    char tag
ctypedef struct Prelu:
    char tag
ctypedef struct SinGradX:
    char tag
ctypedef struct CosGradX:
    char tag
ctypedef struct TanGradY:
    char tag
ctypedef struct ArcsinGradX:
    char tag
ctypedef struct ArccosGradX:
    char tag
ctypedef struct ArctanGradX:
    char tag
ctypedef struct SinhGradX:
    char tag
ctypedef struct CoshGradX:
    char tag
ctypedef struct ArcsinhGradX:
    char tag
ctypedef struct ArccoshGradX:
    char tag
ctypedef struct ArctanhGradX:
    char tag
ctypedef struct CbrtGradY:
    char tag
ctypedef struct RcbrtGradX:
    char tag
ctypedef struct Log10GradX:
    char tag
ctypedef struct Log2GradX:
    char tag
ctypedef struct Log1pGradX:
    char tag
ctypedef struct Expm1GradX:
    char tag
ctypedef struct ErfGradX:
    char tag
ctypedef struct ErfinvGradY:
    char tag
ctypedef struct GammaGradX:
    char tag
ctypedef struct GammalnGradX:
    char tag
ctypedef struct HardSigmoidGradX:
    char tag
ctypedef struct SmoothL1GradX:
    char tag

ctypedef fused binary_map:
    Add
    Sub
    Mul
    Div
    Power
    Maximum
    Minimum
    Hypot
    Equal
    NotEqual
    Greater
    GreaterEqual
    Lesser
    LesserEqual
    LogicalAnd
    LogicalOr
    LogicalXor
    Mod
    ReluGradY
    SigmoidGradY
    TanhGradY
    SoftreluGradY
    SoftsignGradX
    SqrtGradY
    RsqrtGradY
    SquareGradX
    AbsGradX
    ReciprocalGradY
    LogGradX
    ClipGradX
    LeakyGradX
    EluGradX
    SeluGradX
    GeluGradX
    PowerScalarGradX
    RPowerScalarGradY
    RDivScalarGradX
    MaximumScalarGradX
    MinimumScalarGradX
    HypotScalarGradX
    RModScalarGradX
    Prelu
    SinGradX
    CosGradX
    TanGradY
    ArcsinGradX
    ArccosGradX
    ArctanGradX
    SinhGradX
    CoshGradX
    ArcsinhGradX
    ArccoshGradX
    ArctanhGradX
    CbrtGradY
    RcbrtGradX
    Log10GradX
    Log2GradX
    Log1pGradX
    Expm1GradX
    ErfGradX
    ErfinvGradY
    GammaGradX
    GammalnGradX
    HardSigmoidGradX
    SmoothL1GradX


cdef inline real _binary(binary_map* tag, real a, real b, real s0, real s1) noexcept nogil:
    if binary_map is Add: return a + b
    elif binary_map is Sub: return a - b
    elif binary_map is Mul: return a * b
    elif binary_map is Div: return a / b
    elif binary_map is Power: return _pow(a, b)
    elif binary_map is Maximum: return a if a > b else b
    elif binary_map is Minimum: return a if a < b else b
    elif binary_map is Hypot: return _hypot(a, b)
    elif binary_map is Equal: return <real>(a == b)
    elif binary_map is NotEqual: return <real>(a != b)
    elif binary_map is Greater: return <real>(a > b)
    elif binary_map is GreaterEqual: return <real>(a >= b)
    elif binary_map is Lesser: return <real>(a < b)
    elif binary_map is LesserEqual: return <real>(a <= b)
    elif binary_map is LogicalAnd: return <real>(a != 0 and b != 0)
    elif binary_map is LogicalOr: return <real>(a != 0 or b != 0)
    elif binary_map is LogicalXor: return <real>((a != 0) != (b != 0))
    elif binary_map is Mod: return _mod(a, b)
    elif binary_map is ReluGradY: return a if b > <real>0 else <real>0
    elif binary_map is SigmoidGradY: return a * b * (<real>1 - b)
    elif binary_map is TanhGradY: return a * (<real>1 - b * b)
    elif binary_map is SoftreluGradY: return -a * _expm1(-b)
    elif binary_map is SoftsignGradX: return a / ((<real>1 + (b if b >= <real>0 else -b)) * (<real>1 + (b if b >= <real>0 else -b)))
    elif binary_map is SqrtGradY: return a / (<real>2 * b)
    elif binary_map is RsqrtGradY: return <real>-0.5 * a * b * b * b
    elif binary_map is SquareGradX: return <real>2 * a * b
    elif binary_map is AbsGradX: return a * ((b > <real>0) - (b < <real>0))
    elif binary_map is ReciprocalGradY: return -a * b * b
    elif binary_map is LogGradX: return a / b
    elif binary_map is ClipGradX: return <real>0 if (b < s0 or b > s1) else a
    elif binary_map is LeakyGradX: return a if b > <real>0 else s0 * a
    elif binary_map is EluGradX: return a if b > <real>0 else s0 * a * _exp(b)
    elif binary_map is SeluGradX: return <real>SELU_LAMBDA * (a if b > <real>0 else a * <real>SELU_ALPHA * _exp(b))
    elif binary_map is GeluGradX:
        # Phi(x) + x phi(x)
        return <real>(a * (0.5 * (_erfc_single(-b * SQRT_HALF) if real is float else erfc(-b * SQRT_HALF))
                           + b * INV_SQRT_2PI * _exp(<double>(-0.5 * b * b))))
    elif binary_map is PowerScalarGradX: return a * s0 * _pow(b, s0 - <real>1)
    elif binary_map is RPowerScalarGradY: return a * b * _log(s0)
    elif binary_map is RDivScalarGradX: return -a * s0 / (b * b)
    elif binary_map is MaximumScalarGradX: return a if b >= s0 else <real>0
    elif binary_map is MinimumScalarGradX: return a if b <= s0 else <real>0
    elif binary_map is HypotScalarGradX: return a * b / _hypot(b, s0)
    # d/dx (s0 mod x) = -floor(s0 / x)
    elif binary_map is RModScalarGradX: return -a * _floor(s0 / b)
    elif binary_map is Prelu: return a if a > <real>0 else a * b
    # the derivatives of the math maps, as MXNet's mshadow_op *_grad maps
    elif binary_map is SinGradX: return a * _cos(b)
    elif binary_map is CosGradX: return -a * _sin(b)
    elif binary_map is TanGradY: return a * (b * b + <real>1)
    # 1 - b^2 as (1 - b)(1 + b): exact near |b| = 1, and the same with or without FMA
    elif binary_map is ArcsinGradX: return a / _sqrt((<real>1 - b) * (<real>1 + b))
    elif binary_map is ArccosGradX: return -a / _sqrt((<real>1 - b) * (<real>1 + b))
    elif binary_map is ArctanGradX: return a / (b * b + <real>1)
    elif binary_map is SinhGradX: return a * _cosh(b)
    elif binary_map is CoshGradX: return a * _sinh(b)
    elif binary_map is ArcsinhGradX: return a / _hypot(b, <real>1)
    elif binary_map is ArccoshGradX: return a / _sqrt((b - <real>1) * (b + <real>1))
    elif binary_map is ArctanhGradX: return a / ((<real>1 - b) * (<real>1 + b))
    elif binary_map is CbrtGradY: return a / (<real>3 * b * b)
    elif binary_map is RcbrtGradX: return -a / (<real>3 * _cbrt(b) * b)
    elif binary_map is Log10GradX: return <real>(a / (b * LN10))
    elif binary_map is Log2GradX: return <real>(a / (b * LN2))
    elif binary_map is Log1pGradX: return a / (<real>1 + b)
    elif binary_map is Expm1GradX: return a * _exp(b)
    elif binary_map is ErfGradX: return <real>(a * TWO_OVER_SQRT_PI * _exp(<double>(-b * b)))
    elif binary_map is ErfinvGradY: return <real>(a * HALF_SQRT_PI * _exp(<double>(b * b)))
    elif binary_map is GammaGradX: return <real>(a * tgamma(<double>b) * _special_psi(<double>b))
    elif binary_map is GammalnGradX: return <real>(a * _special_psi(<double>b))
    elif binary_map is HardSigmoidGradX: return a * _hard_sigmoid(b, s0, s1, True)
    else: return a * _smooth_l1(b, s0, True)


@cython.cdivision(True)
cdef inline integer _integer_binary(binary_map* tag, integer a, integer b) noexcept nogil:
    """MXNet's integer maps (mshadow_op): wrapping arithmetic, division truncated toward zero,
    mod with the divisor's sign, 1 or 0 from comparisons.  A zero divisor gives 0, as mod does
    (MXNet's CPU build dies of SIGFPE there), and a divisor of -1 negates, as the smallest
    integer divided by -1 traps too."""
    cdef integer r
    # in unsigned arithmetic, where overflow wraps instead of being undefined
    if binary_map is Add: return <integer>(<uint64_t>a + <uint64_t>b)
    elif binary_map is Sub: return <integer>(<uint64_t>a - <uint64_t>b)
    elif binary_map is Mul: return <integer>(<uint64_t>a * <uint64_t>b)
    elif binary_map is Div:
        if b == 0:
            return 0
        if b == -1:
            return <integer>(<uint64_t>0 - <uint64_t>a)
        return a / b
    elif binary_map is Mod:
        if b == 0 or b == -1:
            return 0
        r = a % b
        return r + b if r != 0 and ((r < 0) != (b < 0)) else r
    elif binary_map is Maximum: return a if a > b else b
    elif binary_map is Minimum: return a if a < b else b
    elif binary_map is Equal: return a == b
    elif binary_map is NotEqual: return a != b
    elif binary_map is Greater: return a > b
    elif binary_map is GreaterEqual: return a >= b
    elif binary_map is Lesser: return a < b
    elif binary_map is LesserEqual: return a <= b
    elif binary_map is LogicalAnd: return a != 0 and b != 0
    elif binary_map is LogicalOr: return a != 0 or b != 0
    elif binary_map is LogicalXor: return (a != 0) != (b != 0)
    else: return 0      # no integer form (append_binary refuses it)


cdef inline integer _integer_unary(unary_map* tag, integer x, integer s0, integer s1) noexcept nogil:
    """The integer unary maps: the scalar ones are the binary maps with the scalar as an operand."""
    if unary_map is Copy: return x
    elif unary_map is Negative: return _integer_binary(<Sub*>NULL, 0, x)
    elif unary_map is Abs: return _integer_binary(<Sub*>NULL, 0, x) if x < 0 else x
    elif unary_map is Sign: return (x > 0) - (x < 0)
    elif unary_map is Square: return _integer_binary(<Mul*>NULL, x, x)
    elif unary_map is PlusScalar: return _integer_binary(<Add*>NULL, x, s0)
    elif unary_map is MinusScalar: return _integer_binary(<Sub*>NULL, x, s0)
    elif unary_map is RMinusScalar: return _integer_binary(<Sub*>NULL, s0, x)
    elif unary_map is MulScalar: return _integer_binary(<Mul*>NULL, x, s0)
    elif unary_map is DivScalar: return _integer_binary(<Div*>NULL, x, s0)
    elif unary_map is RDivScalar: return _integer_binary(<Div*>NULL, s0, x)
    elif unary_map is MaximumScalar: return x if x > s0 else s0
    elif unary_map is MinimumScalar: return x if x < s0 else s0
    elif unary_map is ModScalar: return _integer_binary(<Mod*>NULL, x, s0)
    elif unary_map is RModScalar: return _integer_binary(<Mod*>NULL, s0, x)
    elif unary_map is EqualScalar: return x == s0
    elif unary_map is NotEqualScalar: return x != s0
    elif unary_map is GreaterScalar: return x > s0
    elif unary_map is GreaterEqualScalar: return x >= s0
    elif unary_map is LesserScalar: return x < s0
    elif unary_map is LesserEqualScalar: return x <= s0
    elif unary_map is LogicalAndScalar: return x != 0 and s0 != 0
    elif unary_map is LogicalOrScalar: return x != 0 or s0 != 0
    elif unary_map is LogicalXorScalar: return (x != 0) != (s0 != 0)
    elif unary_map is LogicalNot: return x == 0
    elif unary_map is Clip: return s0 if x < s0 else (s1 if x > s1 else x)
    elif unary_map is Fill: return s0
    else: return 0      # no integer form (append_unary refuses it)


cdef void _integer_unary_dispatch(int code, integer* x, integer* y, Py_ssize_t n, integer s0, integer s1,
                                  int req) noexcept nogil:
    # the maps of INTEGER_UNARY only, so that no integer loop of another map is compiled
    if code == 0: _unary_loop(<Copy*>NULL, x, y, n, s0, s1, req)
    elif code == 1: _unary_loop(<Negative*>NULL, x, y, n, s0, s1, req)
    elif code == 6: _unary_loop(<Square*>NULL, x, y, n, s0, s1, req)
    elif code == 7: _unary_loop(<Abs*>NULL, x, y, n, s0, s1, req)
    elif code == 8: _unary_loop(<Sign*>NULL, x, y, n, s0, s1, req)
    elif code == 15: _unary_loop(<PlusScalar*>NULL, x, y, n, s0, s1, req)
    elif code == 16: _unary_loop(<MinusScalar*>NULL, x, y, n, s0, s1, req)
    elif code == 17: _unary_loop(<RMinusScalar*>NULL, x, y, n, s0, s1, req)
    elif code == 18: _unary_loop(<MulScalar*>NULL, x, y, n, s0, s1, req)
    elif code == 19: _unary_loop(<DivScalar*>NULL, x, y, n, s0, s1, req)
    elif code == 20: _unary_loop(<RDivScalar*>NULL, x, y, n, s0, s1, req)
    elif code == 23: _unary_loop(<MaximumScalar*>NULL, x, y, n, s0, s1, req)
    elif code == 24: _unary_loop(<MinimumScalar*>NULL, x, y, n, s0, s1, req)
    elif code == 25: _unary_loop(<Clip*>NULL, x, y, n, s0, s1, req)
    elif code == 26: _unary_loop(<Fill*>NULL, x, y, n, s0, s1, req)
    elif code == 31: _unary_loop(<EqualScalar*>NULL, x, y, n, s0, s1, req)
    elif code == 32: _unary_loop(<NotEqualScalar*>NULL, x, y, n, s0, s1, req)
    elif code == 33: _unary_loop(<GreaterScalar*>NULL, x, y, n, s0, s1, req)
    elif code == 34: _unary_loop(<GreaterEqualScalar*>NULL, x, y, n, s0, s1, req)
    elif code == 35: _unary_loop(<LesserScalar*>NULL, x, y, n, s0, s1, req)
    elif code == 36: _unary_loop(<LesserEqualScalar*>NULL, x, y, n, s0, s1, req)
    elif code == 37: _unary_loop(<LogicalAndScalar*>NULL, x, y, n, s0, s1, req)
    elif code == 38: _unary_loop(<LogicalOrScalar*>NULL, x, y, n, s0, s1, req)
    elif code == 39: _unary_loop(<LogicalXorScalar*>NULL, x, y, n, s0, s1, req)
    elif code == 41: _unary_loop(<ModScalar*>NULL, x, y, n, s0, s1, req)
    elif code == 42: _unary_loop(<RModScalar*>NULL, x, y, n, s0, s1, req)
    else: _unary_loop(<LogicalNot*>NULL, x, y, n, s0, s1, req)


cdef inline number _binary_value(binary_map* tag, number a, number b, number s0, number s1) noexcept nogil:
    if number is float or number is double:
        return _binary(tag, a, b, s0, s1)
    else:
        return _integer_binary(tag, a, b)


cdef void _binary_loop(binary_map* tag, number* a, number* b, number* y, Py_ssize_t* shape,
                       number s0, number s1, int req) noexcept nogil:
    # shape: ndim, dims[ndim], stride_a[ndim], stride_b[ndim] (elements; 0 where broadcast)
    cdef int ndim = <int>shape[0]
    cdef Py_ssize_t* dims = shape + 1
    cdef Py_ssize_t* sa = shape + 1 + ndim
    cdef Py_ssize_t* sb = shape + 1 + 2 * ndim
    cdef Py_ssize_t index_a[8]
    cdef Py_ssize_t index_b[8]
    cdef Py_ssize_t i, inner = dims[ndim - 1], ia = sa[ndim - 1], ib = sb[ndim - 1]
    cdef Py_ssize_t offset_a = 0, offset_b = 0, position = 0
    cdef int d
    if ndim == 1 and ia == 1 and ib == 1:
        # same shapes: one flat loop
        if req == REQ_ADD:
            for i in range(inner):
                y[i] += _binary_value(tag, a[i], b[i], s0, s1)
        else:
            for i in range(inner):
                y[i] = _binary_value(tag, a[i], b[i], s0, s1)
        return
    for d in range(ndim):
        index_a[d] = 0
        index_b[d] = 0
    while True:
        if req == REQ_ADD:
            for i in range(inner):
                y[position + i] += _binary_value(tag, a[offset_a + i * ia], b[offset_b + i * ib], s0, s1)
        else:
            for i in range(inner):
                y[position + i] = _binary_value(tag, a[offset_a + i * ia], b[offset_b + i * ib], s0, s1)
        position += inner
        step_index(index_b, dims, sb, ndim - 1, &offset_b)
        if not step_index(index_a, dims, sa, ndim - 1, &offset_a):
            break


cdef void _binary_dispatch(int code, real* a, real* b, real* y, Py_ssize_t* shape, real s0, real s1,
                           int req) noexcept nogil:
    if code == 0: _binary_loop(<Add*>NULL, a, b, y, shape, s0, s1, req)
    elif code == 1: _binary_loop(<Sub*>NULL, a, b, y, shape, s0, s1, req)
    elif code == 2: _binary_loop(<Mul*>NULL, a, b, y, shape, s0, s1, req)
    elif code == 3: _binary_loop(<Div*>NULL, a, b, y, shape, s0, s1, req)
    elif code == 4: _binary_loop(<Power*>NULL, a, b, y, shape, s0, s1, req)
    elif code == 5: _binary_loop(<Maximum*>NULL, a, b, y, shape, s0, s1, req)
    elif code == 6: _binary_loop(<Minimum*>NULL, a, b, y, shape, s0, s1, req)
    elif code == 7: _binary_loop(<Hypot*>NULL, a, b, y, shape, s0, s1, req)
    elif code == 8: _binary_loop(<Equal*>NULL, a, b, y, shape, s0, s1, req)
    elif code == 9: _binary_loop(<NotEqual*>NULL, a, b, y, shape, s0, s1, req)
    elif code == 10: _binary_loop(<Greater*>NULL, a, b, y, shape, s0, s1, req)
    elif code == 11: _binary_loop(<GreaterEqual*>NULL, a, b, y, shape, s0, s1, req)
    elif code == 12: _binary_loop(<Lesser*>NULL, a, b, y, shape, s0, s1, req)
    elif code == 13: _binary_loop(<LesserEqual*>NULL, a, b, y, shape, s0, s1, req)
    elif code == 14: _binary_loop(<LogicalAnd*>NULL, a, b, y, shape, s0, s1, req)
    elif code == 15: _binary_loop(<LogicalOr*>NULL, a, b, y, shape, s0, s1, req)
    elif code == 16: _binary_loop(<LogicalXor*>NULL, a, b, y, shape, s0, s1, req)
    elif code == 17: _binary_loop(<Mod*>NULL, a, b, y, shape, s0, s1, req)
    elif code == 18: _binary_loop(<ReluGradY*>NULL, a, b, y, shape, s0, s1, req)
    elif code == 19: _binary_loop(<SigmoidGradY*>NULL, a, b, y, shape, s0, s1, req)
    elif code == 20: _binary_loop(<TanhGradY*>NULL, a, b, y, shape, s0, s1, req)
    elif code == 21: _binary_loop(<SoftreluGradY*>NULL, a, b, y, shape, s0, s1, req)
    elif code == 22: _binary_loop(<SoftsignGradX*>NULL, a, b, y, shape, s0, s1, req)
    elif code == 23: _binary_loop(<SqrtGradY*>NULL, a, b, y, shape, s0, s1, req)
    elif code == 24: _binary_loop(<RsqrtGradY*>NULL, a, b, y, shape, s0, s1, req)
    elif code == 25: _binary_loop(<SquareGradX*>NULL, a, b, y, shape, s0, s1, req)
    elif code == 26: _binary_loop(<AbsGradX*>NULL, a, b, y, shape, s0, s1, req)
    elif code == 27: _binary_loop(<ReciprocalGradY*>NULL, a, b, y, shape, s0, s1, req)
    elif code == 28: _binary_loop(<LogGradX*>NULL, a, b, y, shape, s0, s1, req)
    elif code == 29: _binary_loop(<ClipGradX*>NULL, a, b, y, shape, s0, s1, req)
    elif code == 30: _binary_loop(<LeakyGradX*>NULL, a, b, y, shape, s0, s1, req)
    elif code == 31: _binary_loop(<EluGradX*>NULL, a, b, y, shape, s0, s1, req)
    elif code == 32: _binary_loop(<SeluGradX*>NULL, a, b, y, shape, s0, s1, req)
    elif code == 33: _binary_loop(<GeluGradX*>NULL, a, b, y, shape, s0, s1, req)
    elif code == 34: _binary_loop(<PowerScalarGradX*>NULL, a, b, y, shape, s0, s1, req)
    elif code == 35: _binary_loop(<RPowerScalarGradY*>NULL, a, b, y, shape, s0, s1, req)
    elif code == 36: _binary_loop(<RDivScalarGradX*>NULL, a, b, y, shape, s0, s1, req)
    elif code == 37: _binary_loop(<MaximumScalarGradX*>NULL, a, b, y, shape, s0, s1, req)
    elif code == 38: _binary_loop(<MinimumScalarGradX*>NULL, a, b, y, shape, s0, s1, req)
    elif code == 39: _binary_loop(<HypotScalarGradX*>NULL, a, b, y, shape, s0, s1, req)
    elif code == 40: _binary_loop(<RModScalarGradX*>NULL, a, b, y, shape, s0, s1, req)
    elif code == 41: _binary_loop(<Prelu*>NULL, a, b, y, shape, s0, s1, req)
    elif code == 42: _binary_loop(<SinGradX*>NULL, a, b, y, shape, s0, s1, req)
    elif code == 43: _binary_loop(<CosGradX*>NULL, a, b, y, shape, s0, s1, req)
    elif code == 44: _binary_loop(<TanGradY*>NULL, a, b, y, shape, s0, s1, req)
    elif code == 45: _binary_loop(<ArcsinGradX*>NULL, a, b, y, shape, s0, s1, req)
    elif code == 46: _binary_loop(<ArccosGradX*>NULL, a, b, y, shape, s0, s1, req)
    elif code == 47: _binary_loop(<ArctanGradX*>NULL, a, b, y, shape, s0, s1, req)
    elif code == 48: _binary_loop(<SinhGradX*>NULL, a, b, y, shape, s0, s1, req)
    elif code == 49: _binary_loop(<CoshGradX*>NULL, a, b, y, shape, s0, s1, req)
    elif code == 50: _binary_loop(<ArcsinhGradX*>NULL, a, b, y, shape, s0, s1, req)
    elif code == 51: _binary_loop(<ArccoshGradX*>NULL, a, b, y, shape, s0, s1, req)
    elif code == 52: _binary_loop(<ArctanhGradX*>NULL, a, b, y, shape, s0, s1, req)
    elif code == 53: _binary_loop(<CbrtGradY*>NULL, a, b, y, shape, s0, s1, req)
    elif code == 54: _binary_loop(<RcbrtGradX*>NULL, a, b, y, shape, s0, s1, req)
    elif code == 55: _binary_loop(<Log10GradX*>NULL, a, b, y, shape, s0, s1, req)
    elif code == 56: _binary_loop(<Log2GradX*>NULL, a, b, y, shape, s0, s1, req)
    elif code == 57: _binary_loop(<Log1pGradX*>NULL, a, b, y, shape, s0, s1, req)
    elif code == 58: _binary_loop(<Expm1GradX*>NULL, a, b, y, shape, s0, s1, req)
    elif code == 59: _binary_loop(<ErfGradX*>NULL, a, b, y, shape, s0, s1, req)
    elif code == 60: _binary_loop(<ErfinvGradY*>NULL, a, b, y, shape, s0, s1, req)
    elif code == 61: _binary_loop(<GammaGradX*>NULL, a, b, y, shape, s0, s1, req)
    elif code == 62: _binary_loop(<GammalnGradX*>NULL, a, b, y, shape, s0, s1, req)
    elif code == 63: _binary_loop(<HardSigmoidGradX*>NULL, a, b, y, shape, s0, s1, req)
    else: _binary_loop(<SmoothL1GradX*>NULL, a, b, y, shape, s0, s1, req)


cdef void _integer_dispatch(int code, integer* a, integer* b, integer* y, Py_ssize_t* shape,
                            int req) noexcept nogil:
    # the maps of INTEGER_BINARY only, so that no integer loop of another map is compiled
    if code == 0: _binary_loop(<Add*>NULL, a, b, y, shape, 0, 0, req)
    elif code == 1: _binary_loop(<Sub*>NULL, a, b, y, shape, 0, 0, req)
    elif code == 2: _binary_loop(<Mul*>NULL, a, b, y, shape, 0, 0, req)
    elif code == 3: _binary_loop(<Div*>NULL, a, b, y, shape, 0, 0, req)
    elif code == 5: _binary_loop(<Maximum*>NULL, a, b, y, shape, 0, 0, req)
    elif code == 6: _binary_loop(<Minimum*>NULL, a, b, y, shape, 0, 0, req)
    elif code == 8: _binary_loop(<Equal*>NULL, a, b, y, shape, 0, 0, req)
    elif code == 9: _binary_loop(<NotEqual*>NULL, a, b, y, shape, 0, 0, req)
    elif code == 10: _binary_loop(<Greater*>NULL, a, b, y, shape, 0, 0, req)
    elif code == 11: _binary_loop(<GreaterEqual*>NULL, a, b, y, shape, 0, 0, req)
    elif code == 12: _binary_loop(<Lesser*>NULL, a, b, y, shape, 0, 0, req)
    elif code == 13: _binary_loop(<LesserEqual*>NULL, a, b, y, shape, 0, 0, req)
    elif code == 14: _binary_loop(<LogicalAnd*>NULL, a, b, y, shape, 0, 0, req)
    elif code == 15: _binary_loop(<LogicalOr*>NULL, a, b, y, shape, 0, 0, req)
    elif code == 16: _binary_loop(<LogicalXor*>NULL, a, b, y, shape, 0, 0, req)
    else: _binary_loop(<Mod*>NULL, a, b, y, shape, 0, 0, req)


cdef void binary_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    # arrays: a, b, y; ints: code, req, ndim, dims..., stride_a..., stride_b...; floats: s0, s1.
    # Operands of the output's shape (one flat walk) are split into element ranges over the
    # kernel threads; broadcasting walks run on one.
    cdef Py_ssize_t* walk = c.ints + 2
    cdef Py_ssize_t n = walk[1]
    cdef int part
    cdef int parts = 1
    if walk[0] == 1 and walk[2] == 1 and walk[3] == 1:
        parts = threads.parts_for(3.0 * n)
    if parts == 1:
        _binary_walk(c, walk)
        return
    for part in prange(parts, num_threads=parts, schedule="static"):
        _binary_range(c, threads.split_point(n, parts, part, SPLIT_UNIT),
                      threads.split_point(n, parts, part + 1, SPLIT_UNIT))


cdef void _binary_range(KernelCall* c, Py_ssize_t first, Py_ssize_t last) noexcept nogil:
    # elements first..last of a flat binary_kernel call, as a walk of its own
    cdef Py_ssize_t walk[4]
    cdef KernelCall part = c[0]
    cdef char* arrays[3]
    cdef Py_ssize_t itemsize = 4 if c.dtype == DTYPE_FLOAT32 or c.dtype == DTYPE_INT32 else 8
    cdef int k
    if last <= first:
        return
    walk[0] = 1
    walk[1] = last - first
    walk[2] = 1
    walk[3] = 1
    for k in range(3):
        arrays[k] = c.arrays[k] + first * itemsize
    part.arrays = arrays
    _binary_walk(&part, walk)


cdef void _binary_walk(KernelCall* c, Py_ssize_t* walk) noexcept nogil:
    if c.dtype == DTYPE_FLOAT32:
        _binary_dispatch(<int>c.ints[0], <float*>c.arrays[0], <float*>c.arrays[1], <float*>c.arrays[2],
                         walk, <float>c.floats[0], <float>c.floats[1], <int>c.ints[1])
    elif c.dtype == DTYPE_FLOAT64:
        _binary_dispatch(<int>c.ints[0], <double*>c.arrays[0], <double*>c.arrays[1], <double*>c.arrays[2],
                         walk, c.floats[0], c.floats[1], <int>c.ints[1])
    elif c.dtype == DTYPE_INT32:
        _integer_dispatch(<int>c.ints[0], <int32_t*>c.arrays[0], <int32_t*>c.arrays[1], <int32_t*>c.arrays[2],
                          walk, <int>c.ints[1])
    else:
        _integer_dispatch(<int>c.ints[0], <int64_t*>c.arrays[0], <int64_t*>c.arrays[1], <int64_t*>c.arrays[2],
                          walk, <int>c.ints[1])


# which operand a partial derivative is taken with respect to, as a compile-time tag
ctypedef struct WrtA:
    char tag
ctypedef struct WrtB:
    char tag

ctypedef fused operand:
    WrtA
    WrtB

ctypedef fused differentiable_map:
    Add
    Sub
    Mul
    Div
    Power
    Maximum
    Minimum
    Hypot
    Prelu
    Mod


cdef inline real _partial(differentiable_map* tag, operand* wrt, real dy, real a, real b) noexcept nogil:
    """dy times the derivative of the map at (a, b) with respect to one operand."""
    if differentiable_map is Add: return dy
    elif differentiable_map is Sub: return -dy if operand is WrtB else dy
    elif differentiable_map is Mul: return dy * a if operand is WrtB else dy * b
    elif differentiable_map is Div: return -dy * a / (b * b) if operand is WrtB else dy / b
    elif differentiable_map is Power:
        return dy * _pow(a, b) * _log(a) if operand is WrtB else dy * b * _pow(a, b - <real>1)
    # ties send the gradient to a, as MXNet does
    elif differentiable_map is Maximum:
        return (<real>0 if a >= b else dy) if operand is WrtB else (dy if a >= b else <real>0)
    elif differentiable_map is Minimum:
        return (<real>0 if a <= b else dy) if operand is WrtB else (dy if a <= b else <real>0)
    elif differentiable_map is Hypot: return dy * (b if operand is WrtB else a) / _hypot(a, b)
    # prelu(a, b) = a if a > 0 else b * a
    elif differentiable_map is Prelu:
        return (<real>0 if a > 0 else dy * a) if operand is WrtB else (dy if a > 0 else dy * b)
    # mod(a, b) = a - b * floor(a / b)
    else: return -dy * _floor(a / b) if operand is WrtB else dy


cdef void _partial_loop(differentiable_map* tag, operand* wrt, real* dy, real* a, real* b, real* out,
                        Py_ssize_t* shape, int req) noexcept nogil:
    # out = dy * d map / d operand at dy's shape, a and b read at their broadcast strides
    cdef int ndim = <int>shape[0]
    cdef Py_ssize_t* dims = shape + 1
    cdef Py_ssize_t* sa = shape + 1 + ndim
    cdef Py_ssize_t* sb = shape + 1 + 2 * ndim
    cdef Py_ssize_t index_a[8]
    cdef Py_ssize_t index_b[8]
    cdef Py_ssize_t i, inner = dims[ndim - 1], ia = sa[ndim - 1], ib = sb[ndim - 1]
    cdef Py_ssize_t offset_a = 0, offset_b = 0, position = 0
    cdef int d
    if ndim == 1 and ia == 1 and ib == 1:
        # same shapes: one flat loop
        if req == REQ_ADD:
            for i in range(inner):
                out[i] += _partial(tag, wrt, dy[i], a[i], b[i])
        else:
            for i in range(inner):
                out[i] = _partial(tag, wrt, dy[i], a[i], b[i])
        return
    for d in range(ndim):
        index_a[d] = 0
        index_b[d] = 0
    while True:
        if req == REQ_ADD:
            for i in range(inner):
                out[position + i] += _partial(tag, wrt, dy[position + i], a[offset_a + i * ia], b[offset_b + i * ib])
        else:
            for i in range(inner):
                out[position + i] = _partial(tag, wrt, dy[position + i], a[offset_a + i * ia], b[offset_b + i * ib])
        position += inner
        step_index(index_b, dims, sb, ndim - 1, &offset_b)
        if not step_index(index_a, dims, sa, ndim - 1, &offset_a):
            break


cdef void _partial_dispatch(int code, operand* wrt, real* dy, real* a, real* b, real* out, Py_ssize_t* shape,
                            int req) noexcept nogil:
    if req == REQ_NULL: return
    elif code == 0: _partial_loop(<Add*>NULL, wrt, dy, a, b, out, shape, req)
    elif code == 1: _partial_loop(<Sub*>NULL, wrt, dy, a, b, out, shape, req)
    elif code == 2: _partial_loop(<Mul*>NULL, wrt, dy, a, b, out, shape, req)
    elif code == 3: _partial_loop(<Div*>NULL, wrt, dy, a, b, out, shape, req)
    elif code == 4: _partial_loop(<Power*>NULL, wrt, dy, a, b, out, shape, req)
    elif code == 5: _partial_loop(<Maximum*>NULL, wrt, dy, a, b, out, shape, req)
    elif code == 6: _partial_loop(<Minimum*>NULL, wrt, dy, a, b, out, shape, req)
    elif code == 7: _partial_loop(<Hypot*>NULL, wrt, dy, a, b, out, shape, req)
    elif code == 8: _partial_loop(<Prelu*>NULL, wrt, dy, a, b, out, shape, req)
    else: _partial_loop(<Mod*>NULL, wrt, dy, a, b, out, shape, req)


cdef void binary_backward_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    # arrays: dy, a, b, da, db; ints: code, req_a, req_b, ndim, dims..., stride_a..., stride_b...
    # one pass per wanted partial, each a loop that vectorizes
    cdef int code = <int>c.ints[0]
    if c.dtype == 0:
        _partial_dispatch(code, <WrtA*>NULL, <float*>c.arrays[0], <float*>c.arrays[1], <float*>c.arrays[2],
                          <float*>c.arrays[3], c.ints + 3, <int>c.ints[1])
        _partial_dispatch(code, <WrtB*>NULL, <float*>c.arrays[0], <float*>c.arrays[1], <float*>c.arrays[2],
                          <float*>c.arrays[4], c.ints + 3, <int>c.ints[2])
    else:
        _partial_dispatch(code, <WrtA*>NULL, <double*>c.arrays[0], <double*>c.arrays[1], <double*>c.arrays[2],
                          <double*>c.arrays[3], c.ints + 3, <int>c.ints[1])
        _partial_dispatch(code, <WrtB*>NULL, <double*>c.arrays[0], <double*>c.arrays[1], <double*>c.arrays[2],
                          <double*>c.arrays[4], c.ints + 3, <int>c.ints[2])


# -- reductions to a broadcast shape, add_n ------------------------------------------------------

cdef void _sum_to_loop(real* x, real* y, Py_ssize_t* shape, Py_ssize_t y_size, int req) noexcept nogil:
    # shape: ndim, dims of x, strides of y within x's shape (0 on reduced axes)
    cdef int ndim = <int>shape[0]
    cdef Py_ssize_t* dims = shape + 1
    cdef Py_ssize_t* sy = shape + 1 + ndim
    cdef Py_ssize_t index[8]
    cdef Py_ssize_t i, inner = dims[ndim - 1], iy = sy[ndim - 1], offset_y = 0, position = 0
    cdef int d
    if req == REQ_WRITE:
        for i in range(y_size):
            y[i] = 0
    for d in range(ndim):
        index[d] = 0
    while True:
        if iy == 0:     # the inner axis is summed away: partial sums, not one chain through y
            y[offset_y] += <real>_sum(x + position, inner)
        else:
            for i in range(inner):
                y[offset_y + i * iy] += x[position + i]
        position += inner
        if not step_index(index, dims, sy, ndim - 1, &offset_y):
            break


cdef void sum_to_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    # arrays: x, y; ints: req, y_size, ndim, dims..., stride_y...
    if c.dtype == 0:
        _sum_to_loop(<float*>c.arrays[0], <float*>c.arrays[1], c.ints + 2, c.ints[1], <int>c.ints[0])
    else:
        _sum_to_loop(<double*>c.arrays[0], <double*>c.arrays[1], c.ints + 2, c.ints[1], <int>c.ints[0])


cdef void _add_n_loop(real** xs, int count, real* y, Py_ssize_t n, int req) noexcept nogil:
    cdef Py_ssize_t i
    cdef int k
    cdef real* first = xs[0]
    if req == REQ_WRITE and first != y:
        for i in range(n):
            y[i] = first[i]
    elif req == REQ_ADD:
        for i in range(n):
            y[i] += first[i]
    for k in range(1, count):
        for i in range(n):
            y[i] += xs[k][i]


cdef void add_n_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    # arrays: x_0 .. x_{k-1}, y; ints: req, size
    cdef int count = c.n_arrays - 1
    if c.dtype == 0:
        _add_n_loop(<float**>c.arrays, count, <float*>c.arrays[count], c.ints[1], <int>c.ints[0])
    else:
        _add_n_loop(<double**>c.arrays, count, <double*>c.arrays[count], c.ints[1], <int>c.ints[0])


# -- bind-time entry points (Python) -------------------------------------------------------------

def _strides_within(shape, full):
    """Element strides of a C-contiguous `shape` read at the broadcast shape `full`."""
    shape = (1,) * (len(full) - len(shape)) + tuple(shape)
    strides, step = [0] * len(full), 1
    for d in range(len(full) - 1, -1, -1):
        if shape[d] != 1:
            if shape[d] != full[d]:
                raise ValueError(f"shape {tuple(shape)} does not broadcast to {tuple(full)}")
            strides[d] = step
        step *= shape[d]
    return strides


def append_unary(Plan plan, str op, x, y, str req="write", str label="unary", double s0=0.0, double s1=0.0):
    """Append y = op(x) (y += op(x) when req is 'add'); s0, s1 are the op's scalars.  int32 and
    int64 arrays take the maps in INTEGER_UNARY, with the scalars truncated toward zero (MXNet).
    A bind calls this once per element-wise node (10^5 in a long chain): the float arrays it
    nearly always gets are recognised from their type numbers, and the call is filled in place."""
    map_code = UNARY.get(op)
    if map_code is None:
        raise ValueError(f"{label}: unknown unary map {op!r}")
    if op == "power_scalar" and s0 == 2:
        op = "square"           # x ** 2 is common, and pow() is a libm call per element
        map_code = UNARY[op]
    cdef cnp.ndarray x_array = <cnp.ndarray?>x
    cdef cnp.ndarray y_array = <cnp.ndarray?>y
    if cnp.PyArray_SIZE(x_array) != cnp.PyArray_SIZE(y_array):
        raise ValueError(f"{label}: input has shape {x.shape}, output {y.shape}")
    cdef int dtype = _float_code(x_array, y_array)
    if dtype < 0:
        dtype = numeric_dtype([x, y])
        if dtype != DTYPE_FLOAT32 and dtype != DTYPE_FLOAT64 and (
                op not in INTEGER_UNARY or (dtype != DTYPE_INT32 and dtype != DTYPE_INT64)):
            raise TypeError(f"{label}: the unary map {op!r} does not compute in {y.dtype}")
    code = req_code(req, label)
    if code == REQ_NULL:
        return
    if dtype <= DTYPE_FLOAT64:
        _add_unary(plan, dtype, map_code, x_array, y_array, code, s0, s1, 0, 0, op not in SERIAL_UNARY, label)
    else:
        _add_unary(plan, dtype, map_code, x_array, y_array, code, s0, s1,
                   int(np.array(s0).astype(y.dtype)), int(np.array(s1).astype(y.dtype)),
                   op not in SERIAL_UNARY, label)


cdef inline int _float_code(cnp.ndarray x, cnp.ndarray y):
    """DTYPE_FLOAT32 or DTYPE_FLOAT64 when x and y are both native arrays of it, else -1."""
    cdef int type_number = cnp.PyArray_TYPE(x)
    if (type_number != cnp.PyArray_TYPE(y) or not cnp.PyArray_ISNOTSWAPPED(x)
            or not cnp.PyArray_ISNOTSWAPPED(y)):
        return -1
    if type_number == cnp.NPY_FLOAT32:
        return DTYPE_FLOAT32
    if type_number == cnp.NPY_FLOAT64:
        return DTYPE_FLOAT64
    return -1


cdef int _add_unary(Plan plan, int dtype, Py_ssize_t map_code, cnp.ndarray x, cnp.ndarray y, int code,
                    double s0, double s1, Py_ssize_t integer_s0, Py_ssize_t integer_s1, bint splittable,
                    str label) except -1:
    """The unary_kernel call (its ints in one place)."""
    cdef char* x_data = data_pointer(x)
    cdef char* y_data = data_pointer(y)
    cdef KernelCall* call = plan.reserve(unary_kernel, dtype, 2, 6, 2, (x, y), label)
    call.arrays[0] = x_data
    call.arrays[1] = y_data
    call.ints[0] = map_code
    call.ints[1] = code
    call.ints[2] = cnp.PyArray_SIZE(y)
    call.ints[3] = integer_s0
    call.ints[4] = integer_s1
    call.ints[5] = splittable
    call.floats[0] = s0
    call.floats[1] = s1
    return 0


def append_binary(Plan plan, str op, a, b, y, str req="write", str label="binary",
                  double s0=0.0, double s1=0.0):
    """Append y = op(a, b) with a and b broadcast to y's shape (int32 and int64 arrays for the
    maps in INTEGER_BINARY)."""
    if op not in BINARY:
        raise ValueError(f"{label}: unknown binary map {op!r}")
    dtype = numeric_dtype([a, b, y])
    if dtype != DTYPE_FLOAT32 and dtype != DTYPE_FLOAT64 and (
            op not in INTEGER_BINARY or (dtype != DTYPE_INT32 and dtype != DTYPE_INT64)):
        raise TypeError(f"{label}: the binary map {op!r} does not compute in {y.dtype}")
    if op == "power_scalar_grad_x" and s0 == 2:
        op = "square_grad_x"    # the derivative of x ** 2 without a pow() per element
    code = req_code(req, label)
    if code == REQ_NULL or y.size == 0:    # the walk below visits at least one element
        return
    try:
        dims, (sa, sb) = coalesce_walks(y.shape, [_strides_within(a.shape, y.shape), _strides_within(b.shape, y.shape)],
                                       label, MAX_DIMS)
    except ValueError as err:
        raise ValueError(f"{label}: operands {a.shape} and {b.shape} for output {y.shape}: {err}") from None
    plan.add(binary_kernel, dtype, [a, b, y], [BINARY[op], code, len(dims)] + dims + sa + sb,
             [s0, s1], label)


def append_binary_backward(Plan plan, str op, dy, a, b, da, db, str req_a="write", str req_b="write",
                           str label="binary_backward"):
    """Append the partials of op at dy's shape: da = dy * d op/da, db = dy * d op/db
    (da and db have dy's shape; a None output or req 'null' is skipped)."""
    if op not in BINARY_BACKWARD:
        raise ValueError(f"{label}: no derivative for {op!r}")
    reqs = [req_code(req_a, label), req_code(req_b, label)]
    outs = [da, db]
    for k in range(2):
        if outs[k] is None:
            reqs[k] = REQ_NULL
            outs[k] = dy
        elif outs[k].shape != dy.shape:
            raise ValueError(f"{label}: gradient output has shape {outs[k].shape}, head gradient {dy.shape}")
    if (reqs[0] == REQ_NULL and reqs[1] == REQ_NULL) or dy.size == 0:   # da, db have dy's shape
        return
    try:
        dims, (sa, sb) = coalesce_walks(dy.shape, [_strides_within(a.shape, dy.shape), _strides_within(b.shape, dy.shape)],
                                       label, MAX_DIMS)
    except ValueError as err:
        raise ValueError(f"{label}: operands {a.shape} and {b.shape} for gradient {dy.shape}: {err}") from None
    arrays = [dy, a, b] + outs
    plan.add(binary_backward_kernel, common_dtype(arrays), arrays,
             [BINARY_BACKWARD[op]] + reqs + [len(dims)] + dims + sa + sb, [], label)


def append_sum_to(Plan plan, x, y, str req="write", str label="sum_to"):
    """Append y = x summed over the axes on which y's shape is broadcast to x's."""
    code = req_code(req, label)
    if code == REQ_NULL or y.size == 0:
        return
    if x.size == 0:         # a sum over an empty axis is 0 (the walk below visits >= 1 element)
        if code == REQ_WRITE:
            _add_unary(plan, common_dtype([x, y]), UNARY["fill"], y, y, code, 0.0, 0.0, 0, 0, True, label)
        return
    if x.shape == y.shape:
        _add_unary(plan, common_dtype([x, y]), UNARY["copy"], x, y, code, 0.0, 0.0, 0, 0, True, label)
        return
    try:
        dims, (sy,) = coalesce_walks(x.shape, [_strides_within(y.shape, x.shape)], label, MAX_DIMS)
    except ValueError as err:
        raise ValueError(f"{label}: cannot sum {x.shape} to {y.shape}: {err}") from None
    plan.add(sum_to_kernel, common_dtype([x, y]), [x, y], [code, y.size, len(dims)] + dims + sy, [], label)


def append_add_n(Plan plan, list xs, y, str req="write", str label="add_n"):
    """Append y = xs[0] + xs[1] + ... (y may be xs[0] itself)."""
    code = req_code(req, label)
    if code == REQ_NULL:
        return
    for x in xs:
        if x.shape != y.shape:
            raise ValueError(f"{label}: input of shape {x.shape} for output {y.shape}")
    if code == REQ_ADD and any(x is y for x in xs):
        raise ValueError(f"{label}: req 'add' with the output aliasing an input")
    plan.add(add_n_kernel, common_dtype(xs + [y]), xs + [y], [code, y.size], [], label)
