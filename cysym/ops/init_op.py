"""Creation operators (MXNet's init_op family): _zeros, _ones, _full, _zeros_without_dtype,
_arange, _contrib_arange_like, _linspace, _eye, and shape_array / size_array.

MXNet's RNN cells start from `symbol.zeros(shape=(0, num_hidden))`, where a 0 in `shape`
means "unknown, taken from whoever consumes this array" (MXNet's legacy shape semantics):
the output is a partial shape that the consumers' rules complete.  _arange with
infer_range=True and no stop takes its length from its consumers the same way.
"""
import math

import numpy as np

from ..base import dtype_from_code
from ..registry import ARRAY_DTYPES, NUMBER_DTYPES, OpDef, Param, register
from ..shapes import partial_shape_rule, same_shape
from .common import kernels, normalize_axis

_DTYPES = ("float16", "float32", "float64", "uint8", "int8", "int32", "int64")


@partial_shape_rule
def _zeros_shape(ctx, ins, outs):
    """no inputs -> shape (the parameter); a 0 in it is an unknown dimension, left to inference."""
    wanted = ctx.params["shape"]
    return [], [tuple(d or None for d in wanted) if wanted else None]


def _zeros_type(ctx, ins, outs):
    dtype = ctx.params["dtype"]
    # dtype=None (cysym's default) takes the consumers' dtype, so a float64 graph stays float64;
    # MXNet's default is float32.
    return [], [np.dtype(dtype) if dtype is not None else outs[0]]


for _name, _value in (("_zeros", 0.0), ("_ones", 1.0)):
    register(OpDef(
        _name,
        params=[
            Param("shape", "shape", (), "The shape of the output; 0 marks a dimension inferred from "
                                        "the consumers of the output."),
            Param("ctx", "str", "", "Ignored (cysym runs on the CPU)."),
            Param("dtype", "str", None, "Output data type; None takes it from the consumers.",
                  choices=_DTYPES, optional=True),
        ],
        inputs=(),
        infer_shape=_zeros_shape,
        infer_type=_zeros_type,
        dtypes=NUMBER_DTYPES,
        kernel=lambda b, value=_value: kernels("shape").append_fill(b.plan, b.outputs[0], value, b.req[0],
                                                              b.label),
        gradient=lambda g: [],
        doc=f"An array of {int(_value)}s of the given shape and dtype.",
    ))


# ---------------------------------------------------------------------------------------------
# MXNet's own defaults from here on: dtype float32 unless given (InitOpParam and its kin)

_ALL_TYPES = ("float32", "float64", "float16", "bfloat16", "uint8", "int8", "int32", "int64")
_CTX = Param("ctx", "str", "", "Ignored (cysym runs on the CPU).")


def _dtype_param(choices=_ALL_TYPES):
    return Param("dtype", "str", "float32", "Output data type.", choices=choices)


def _named_type(ctx, ins, outs):
    try:
        return ins, [np.dtype(ctx.params["dtype"])]
    except TypeError:
        raise ctx.error(f"dtype {ctx.params['dtype']} has no NumPy equivalent") from None


register(OpDef(
    "_full",
    dtypes=NUMBER_DTYPES,
    params=[
        Param("shape", "shape", (), "The shape of the output; 0 marks a dimension inferred from "
                                    "the consumers of the output."),
        _CTX,
        _dtype_param(_ALL_TYPES + ("bool",)),
        Param("value", "float", doc="Value with which to fill the output."),
    ],
    inputs=(),
    infer_shape=_zeros_shape,
    infer_type=_named_type,
    kernel=lambda b: kernels("shape").append_fill(b.plan, b.outputs[0], b.params["value"], b.req[0], b.label),
    gradient=lambda g: [],
    doc="An array of the given shape and dtype filled with `value`.",
))


def _without_dtype_type(ctx, ins, outs):
    code = ctx.params["dtype"]
    return [], [outs[0] if code == -1 else dtype_from_code(code)]


register(OpDef(
    "_zeros_without_dtype",
    dtypes=NUMBER_DTYPES,
    params=[
        Param("shape", "shape", (), "The shape of the output; 0 marks a dimension inferred from "
                                    "the consumers of the output."),
        _CTX,
        Param("dtype", "int", -1, "Output type flag (MXNet's code); -1 takes it from the consumers."),
    ],
    inputs=(),
    infer_shape=_zeros_shape,
    infer_type=_without_dtype_type,
    kernel=lambda b: kernels("shape").append_fill(b.plan, b.outputs[0], 0.0, b.req[0], b.label),
    gradient=lambda g: [],
    doc="An array of zeros whose dtype, unless given as a type flag, comes from its consumers.",
))


# -- ranges ----------------------------------------------------------------------------------------

def _range_bounds(params):
    """(start, stop) as MXNet's RangeParamParser reads them: a lone `start` is the stop."""
    if params["stop"] is None and not params["infer_range"]:
        return 0.0, params["start"]
    return params["start"], params["stop"]


@partial_shape_rule
def _arange_shape(ctx, ins, outs):
    """no inputs -> (ceil((stop - start) / step) * repeat,); a lone start is the stop; with
    infer_range and no stop the length comes from the consumers."""
    start, stop = _range_bounds(ctx.params)
    step, repeat = ctx.params["step"], ctx.params["repeat"]
    if step == 0:
        raise ctx.error(f"Range does not support step=0, received {step}")
    if stop is None:           # infer_range without stop: the consumers give the length
        return [], [(None,)]
    if (step > 0 and not start < stop) or (step < 0 and not start > stop):
        raise ctx.error(f"Invalid range (start, stop, step) = ({start}, {stop}, {step})")
    return [], [(int(math.ceil((stop - start) / step)) * repeat,)]


def _arange_kernel(b):
    start, _ = _range_bounds(b.params)
    kernels("init").append_arange(b.plan, b.outputs[0], start, b.params["step"], b.params["repeat"],
                                  b.req[0], b.label)


register(OpDef(
    "_arange",
    dtypes=NUMBER_DTYPES,
    params=[
        Param("start", "float", doc="Start of interval; without `stop`, the stop (and the start is 0)."),
        Param("stop", "float", None, "End of interval (excluded).", optional=True),
        Param("step", "float", 1.0, "Spacing between values."),
        Param("repeat", "int", 1, "How many times each value is repeated.", low=1),
        Param("infer_range", "bool", False, "Without `stop`, take the length of the output from its "
                                            "consumers."),
        _CTX,
        _dtype_param(),
    ],
    inputs=(),
    infer_shape=_arange_shape,
    infer_type=_named_type,
    kernel=_arange_kernel,
    gradient=lambda g: [],
    doc="Evenly spaced values start, start + step, ... (< stop), each repeated `repeat` times; "
        "computed in the output's dtype, as MXNet does.\n\n"
        "Example: arange(start=2, stop=8, step=2, repeat=2) = [2, 2, 4, 4, 6, 6].",
))


@partial_shape_rule
def _arange_like_shape(ctx, ins, outs):
    """data -> data's shape, or (data.shape[axis],) when axis is given."""
    axis = ctx.params["axis"]
    if axis is None:
        return same_shape(ctx, ins, outs)
    if ins[0] is None:
        return ins, outs
    axis = normalize_axis(ctx, axis, len(ins[0]))
    return ins, [(ins[0][axis],)]


register(OpDef(
    "_contrib_arange_like",
    dtypes=NUMBER_DTYPES,
    params=[
        Param("start", "float", 0.0, "Start of interval."),
        Param("step", "float", 1.0, "Spacing between values."),
        Param("repeat", "int", 1, "How many times each value is repeated.", low=1),
        _CTX,
        Param("axis", "int", None, "Count along this axis of the input (a 1-D output); None: an output "
                                   "of the input's shape.", optional=True),
    ],
    infer_shape=_arange_like_shape,
    shape_only=("data",),
    kernel=lambda b: kernels("init").append_arange(b.plan, b.outputs[0], b.params["start"], b.params["step"],
                                                   b.params["repeat"], b.req[0], b.label),
    gradient=lambda g: [None],
    doc="start, start + step, ... filling an array of the input's shape (or of the length of "
        "one of its axes), each value repeated `repeat` times.",
))


def _linspace_kernel(b):
    count = b.params["num"] - 1 if b.params["endpoint"] else b.params["num"]
    step = (b.params["stop"] - b.params["start"]) / count if count > 0 else 0.0
    kernels("init").append_linspace(b.plan, b.outputs[0], b.params["start"], step, b.req[0], b.label)


def _linspace_shape(ctx, ins, outs):
    """no inputs -> (num,)."""
    return [], [(ctx.params["num"],)]


register(OpDef(
    "_linspace",
    params=[
        Param("start", "float", doc="The first value."),
        Param("stop", "float", doc="The last value, or the one after the last with endpoint=False."),
        Param("num", "int", doc="Number of values.", low=0),
        Param("endpoint", "bool", True, "Whether stop is the last value."),
        _CTX,
        _dtype_param(),
    ],
    inputs=(),
    infer_shape=_linspace_shape,
    infer_type=_named_type,
    kernel=_linspace_kernel,
    gradient=lambda g: [],
    doc="`num` evenly spaced values from start to stop (computed in double, as MXNet does).",
))


def _eye_kernel(b):
    y = b.outputs[0]
    if y.dtype.kind in "iu":
        # integer matrices (MXNet's eye takes every dtype) are copied from a constant made at bind
        identity = np.eye(y.shape[0], y.shape[1], b.params["k"], dtype=y.dtype)
        kernels("index").append_cast(b.plan, identity, y, b.req[0], b.label)
        return
    kernels("init").append_eye(b.plan, y, b.params["k"], b.req[0], b.label)


def _eye_shape(ctx, ins, outs):
    """no inputs -> (N, M), or (N, N) when M is 0."""
    return [], [(ctx.params["N"], ctx.params["M"] if ctx.params["M"] > 0 else ctx.params["N"])]


register(OpDef(
    "_eye",
    params=[
        Param("N", "int", doc="Number of rows.", low=0),
        Param("M", "int", 0, "Number of columns; 0 means N."),
        Param("k", "int", 0, "Index of the diagonal: 0 the main one, > 0 above it, < 0 below it."),
        _CTX,
        _dtype_param(("float32", "float64", "float16", "uint8", "int8", "int32", "int64")),
    ],
    inputs=(),
    infer_shape=_eye_shape,
    infer_type=_named_type,
    kernel=_eye_kernel,
    dtypes=ARRAY_DTYPES,
    gradient=lambda g: [],
    doc="A 2-D array with ones on diagonal k and zeros elsewhere.",
))


# -- shape_array, size_array: int64, as in MXNet ---------------------------------------------------

def _int64_type(ctx, ins, outs):
    return ins, [np.dtype(np.int64)]


@partial_shape_rule
def _shape_array_shape(ctx, ins, outs):
    """data -> (data's rank,)."""
    return ins, [None if ins[0] is None else (len(ins[0]),)]   # the rank is all it needs


register(OpDef(
    "shape_array",
    dtypes={"output": ("int64",)},
    infer_shape=_shape_array_shape,
    infer_type=_int64_type,
    shape_only=("data",),
    kernel=lambda b: kernels("init").append_int64_values(b.plan, b.outputs[0], b.inputs[0].shape, b.req[0],
                                                         b.label),
    gradient=lambda g: [None],
    doc="The shape of the input as a 1-D int64 array.\n\nExample: shape_array(x) = [2, 4] for x of "
        "shape (2, 4).",
))

def _size_array_shape(ctx, ins, outs):
    """data -> (1,)."""
    return ins, [(1,)]


register(OpDef(
    "size_array",
    dtypes={"output": ("int64",)},
    infer_shape=_size_array_shape,
    infer_type=_int64_type,
    shape_only=("data",),
    kernel=lambda b: kernels("init").append_int64_values(b.plan, b.outputs[0], [b.inputs[0].size], b.req[0],
                                                         b.label),
    gradient=lambda g: [None],
    doc="The number of elements of the input as a 1-D int64 array of one element.",
))
