"""FullyConnected: Y = X·Wᵀ + b, and its one-pass backward."""
import numpy as np

from ..registry import OpDef, Param, register
from ..shapes import partial_shape_rule, size_of
from .common import kernels


def _fc_inputs(params):
    return ["data", "weight"] if params["no_bias"] else ["data", "weight", "bias"]


@partial_shape_rule
def _fc_shape(ctx, ins, outs):
    """data (N, *rest) -> (N, num_hidden) with flatten, else (*data[:-1], num_hidden); weight
    (num_hidden, prod(rest)) with flatten, else (num_hidden, data[-1]); bias (num_hidden,) unless
    no_bias. Unknown leading dimensions come back from the output."""
    hidden, flatten = ctx.params["num_hidden"], ctx.params["flatten"]
    data, weight, out = ins[0], ins[1], outs[0]
    bias = [] if ctx.params["no_bias"] else [(hidden,)]
    if weight is not None:    # a wrong num_hidden shows as a conflict on 'weight'
        weight = (hidden,) + tuple(weight[1:])
    if data is None:
        if out is not None and weight is not None and not flatten:
            data = tuple(out[:-1]) + (weight[1],)
        return [data, weight] + bias, [out]
    if len(data) < 1:
        raise ctx.error(f"input 'data' has shape {data}; it needs at least one dimension")
    if out is not None:       # leading dimensions come back from the output, as in MXNet
        lead = out[:1] if flatten else out[:-1]
        data = tuple(o if d is None else d for d, o in zip(data, lead)) + tuple(data[len(lead):])
    features = data[1:] if flatten else data[-1:]
    weight = (hidden, size_of(features))
    out = (data[0], hidden) if flatten else tuple(data[:-1]) + (hidden,)
    return [data, weight] + bias, [out]


def _fc_kernel(b):
    bias = None if b.params["no_bias"] else b.inputs[2]
    kernels("dense").append_fully_connected(b.plan, b.inputs[0], b.inputs[1], bias, b.outputs[0], b.label,
                                            workspace=b.workspace, relu=b.params.get("act_type") == "relu")


def _fc_workspace(params, in_shapes, out_shapes, dtype):
    """Bytes of the transposed product a small batch's forward runs through (0: none)."""
    hidden, in_dim = in_shapes[1]
    rows = size_of(out_shapes[0]) // hidden
    itemsize = np.dtype(dtype).itemsize
    return itemsize * kernels("dense").fc_workspace_elements(rows, in_dim, hidden, itemsize)


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
    workspace=_fc_workspace,
    doc="Applies a linear transformation: Y = X W^T + b.\n\n"
        "With flatten=True the input (N, d1, ..., dk) is reshaped to (N, d1*...*dk) first.",
))


def _fc_backward_outputs(params):
    return ["data_grad", "weight_grad"] + ([] if params["no_bias"] else ["bias_grad"])


def _fc_backward_shape(ctx, ins, outs):
    # data and weight are the last two inputs (the fused backward reads the layer's output too)
    grads = list(ins[-2:]) + ([] if ctx.params["no_bias"] else [(ctx.params["num_hidden"],)])
    return ins, grads


def _fc_backward_kernel(b):
    dy, x, w = b.inputs[0], b.inputs[-2], b.inputs[-1]
    relu_of = b.inputs[1] if b.params.get("act_type") == "relu" else None    # the fused layer's output
    db = None if b.params["no_bias"] else b.outputs[2]
    req_db = "null" if db is None else b.req[2]
    kernels("dense").append_fully_connected_backward(b.plan, dy, x, w, b.outputs[0], b.outputs[1], db,
                                                     b.req[0], b.req[1], req_db, b.label, relu_of=relu_of,
                                                     workspace=b.workspace)


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


# -- FullyConnected + relu, fused at bind time (cysym/dense_fusion.py) ---------------------------

_FUSED_FC_PARAMS = _FC_PARAMS + [
    Param("act_type", "str", "relu", "The activation that follows.", choices=("relu",)),
]


register(OpDef(
    "_FusedFullyConnected",
    params=_FUSED_FC_PARAMS,
    kernel=_fc_kernel,
    inputs=_fc_inputs,
    infer_shape=_fc_shape,
    workspace=_fc_workspace,
    hidden=True,
    doc="relu(X W^T + b): FullyConnected and the relu after it, the relu applied while the "
        "product is in cache.",
))


def _fused_fc_backward_workspace(params, in_shapes, out_shapes, dtype):
    """Bytes of the layer's own output gradient (the relu's mask applied)."""
    return size_of(in_shapes[0]) * np.dtype(dtype).itemsize


register(OpDef(
    "_backward_FusedFullyConnected",
    params=_FUSED_FC_PARAMS,
    inputs=("out_grad", "output", "data", "weight"),
    outputs=_fc_backward_outputs,
    infer_shape=_fc_backward_shape,
    kernel=_fc_backward_kernel,
    workspace=_fused_fc_backward_workspace,
    hidden=True,
    doc="The backward of relu(X W^T + b) from its output H: dY = dH where H > 0, and db = "
        "sum(dY, axis=0) in one pass, then dX = dY·W, dW = dYᵀ·X.",
))
