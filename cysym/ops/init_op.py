"""_zeros and _ones: arrays of one value with no inputs (MXNet's init_op family).

MXNet's RNN cells start from `symbol.zeros(shape=(0, num_hidden))`, where a 0 in `shape`
means "unknown, taken from whoever consumes this array" (MXNet's legacy shape semantics):
the output is a partial shape that the consumers' rules complete.
"""
import numpy as np

from ..registry import OpDef, Param, register
from ..shapes import partial_shape_rule
from .common import kernels

_DTYPES = ("float16", "float32", "float64", "uint8", "int8", "int32", "int64")


@partial_shape_rule
def _zeros_shape(ctx, ins, outs):
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
        kernel=lambda b, value=_value: kernels("shape").append_fill(b.plan, b.outputs[0], value, b.req[0],
                                                              b.label),
        gradient=lambda g: [],
        doc=f"An array of {int(_value)}s of the given shape and dtype.",
    ))
