"""_float16_convert: the conversions that the bind-time float16 pass (cysym/float16.py) puts
around operators without a float16 kernel.  Hidden: it exists in executors only, never in a
user's graph or a JSON file."""
import numpy as np

from ..float16 import STORAGE_DTYPES
from ..registry import OpDef, Param, register
from .common import kernels


def _target_dtypes(params):
    return [np.dtype(name) for name in params["dtypes"].split(",")]


def _convert_shape(ctx, ins, outs):
    """Output k has input k's shape."""
    known = [i if i is not None else o for i, o in zip(ins, outs)]
    return known, known


def _convert_type(ctx, ins, outs):
    return ins, _target_dtypes(ctx.params)


def _convert_kernel(b):
    for src, dst, req in zip(b.inputs, b.outputs, b.req):
        kernels("half").append_convert(b.plan, src, dst, b.params["req"] if req != "null" else req,
                                       b.label)


register(OpDef(
    "_float16_convert",
    params=[Param("num_args", "int", doc="How many arrays are converted.", low=1),
            Param("dtypes", "str", doc="The output dtypes, comma-separated (float16 or float32 "
                                       "where the input is the other one, else the input's)."),
            Param("req", "str", "write", "write: convert; add: accumulate into the output.",
                  choices=("write", "add"))],
    variadic="num_args",
    # one output is named as a Cast's, so a converting Cast keeps its entry's label
    outputs=lambda params: (["output"] if params["num_args"] == 1
                            else [f"output{k}" for k in range(params["num_args"])]),
    dtypes=STORAGE_DTYPES,
    infer_shape=_convert_shape,
    infer_type=_convert_type,
    kernel=_convert_kernel,
    hidden=True,
    doc="output k = arg k converted to the k-th of dtypes (float16 rounds to nearest even), or "
        "added to it with req='add'.",
))
