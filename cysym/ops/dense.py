"""FullyConnected: Y = X·Wᵀ + b, and its one-pass backward."""
from ..registry import OpDef, Param, register
from .common import kernels, prod


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


def _fc_kernel(b):
    bias = None if b.params["no_bias"] else b.inputs[2]
    kernels("dense").append_fully_connected(b.plan, b.inputs[0], b.inputs[1], bias, b.outputs[0], b.label)


def _fc_gradient(g):
    # one node computes dX, dW and db; the bias value itself is not needed
    grads = g.op("_backward_FullyConnected", g.out_grads[0], g.inputs[0], g.inputs[1],
                 **g.forward_attrs())
    return list(grads)


_FC_PARAMS = [
    Param("num_hidden", "int", doc="Number of hidden nodes of the output.", low=1),
    Param("no_bias", "bool", False, "Whether to disable bias parameter."),
    Param("flatten", "bool", True, "Whether to collapse all but the first axis of the input data tensor."),
]

register(OpDef(
    "FullyConnected",
    params=_FC_PARAMS,
    kernel=_fc_kernel,
    gradient=_fc_gradient,
    inputs=_fc_inputs,
    infer_shape=_fc_shape,
    doc="Applies a linear transformation: Y = X W^T + b.\n\n"
        "With flatten=True the input (N, d1, ..., dk) is reshaped to (N, d1*...*dk) first.",
))


def _fc_backward_outputs(params):
    return ["data_grad", "weight_grad"] + ([] if params["no_bias"] else ["bias_grad"])


def _fc_backward_shape(ctx, ins, outs):
    grads = [ins[1], ins[2]] + ([] if ctx.params["no_bias"] else [(ctx.params["num_hidden"],)])
    return ins, grads


def _fc_backward_kernel(b):
    dy, x, w = b.inputs
    db = None if b.params["no_bias"] else b.outputs[2]
    req_db = "null" if db is None else b.req[2]
    kernels("dense").append_fully_connected_backward(b.plan, dy, x, w, b.outputs[0], b.outputs[1], db,
                                               b.req[0], b.req[1], req_db, b.label)


register(OpDef(
    "_backward_FullyConnected",
    params=_FC_PARAMS,
    inputs=("out_grad", "data", "weight"),
    outputs=_fc_backward_outputs,
    infer_shape=_fc_backward_shape,
    kernel=_fc_backward_kernel,
    hidden=True,
    doc="dX = dY·W, dW = dYᵀ·X, db = sum(dY, axis=0) in one pass.",
))
