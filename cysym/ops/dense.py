"""FullyConnected: Y = X·Wᵀ + b."""
from ..registry import OpDef, Param, register
from .common import prod


def _fc_inputs(params):
    return ["data", "weight"] if params["no_bias"] else ["data", "weight", "bias"]


def _fc_shape(ctx, ins, outs):
    hidden = ctx.params["num_hidden"]
    flatten = ctx.params["flatten"]
    data = ins[0]
    weight = bias = out = None
    if data is not None:
        if len(data) < 1:
            raise ctx.error(f"input 'data' has shape {data}; it needs at least one dimension")
        if flatten:
            in_dim = prod(data[1:])
            out = (data[0], hidden)
        else:
            in_dim = data[-1]
            out = tuple(data[:-1]) + (hidden,)
        weight = (hidden, in_dim)
    elif ins[1] is not None and outs[0] is not None and not flatten:
        data = tuple(outs[0][:-1]) + (ins[1][1],)
    if ins[1] is not None and ins[1][0] != hidden:
        weight = (hidden,) + tuple(ins[1][1:])
    if not ctx.params["no_bias"]:
        bias = (hidden,)
        return [data, weight, bias], [out]
    return [data, weight], [out]


register(OpDef(
    "FullyConnected",
    params=[
        Param("num_hidden", "int", doc="Number of hidden nodes of the output.", low=1),
        Param("no_bias", "bool", False, "Whether to disable bias parameter."),
        Param("flatten", "bool", True, "Whether to collapse all but the first axis of the input data tensor."),
    ],
    inputs=_fc_inputs,
    infer_shape=_fc_shape,
    doc="Applies a linear transformation: Y = X W^T + b.\n\n"
        "With flatten=True the input (N, d1, ..., dk) is reshaped to (N, d1*...*dk) first.",
))
