"""Activation, LeakyReLU, softmax and log_softmax."""
import numpy as np

from ..registry import NUMBER_DTYPES, OpDef, Param, register
from .common import kernels, map_kernel, same_shape
from .elemwise import unary_grad
from .index import _data_and_index_type


# act_type -> the derivative map of cysym._ops.elemwise and whether it reads x or y
_ACT_GRADIENTS = {"relu": ("relu_grad_y", "y"), "sigmoid": ("sigmoid_grad_y", "y"),
                  "tanh": ("tanh_grad_y", "y"), "softrelu": ("softrelu_grad_y", "y"),
                  "softsign": ("softsign_grad_x", "x")}

ACT_TYPES = ("relu", "sigmoid", "tanh", "softrelu", "softsign")
LEAKY_TYPES = ("leaky", "prelu", "elu", "rrelu", "selu", "gelu")


def _activation_call(params):
    return kernels("elemwise").append_unary, params["act_type"], 0.0, 0.0


register(OpDef(
    "Activation",
    params=[Param("act_type", "str", doc="Activation function to be applied.", choices=ACT_TYPES)],
    infer_shape=same_shape,
    inplace=[(0, 0)],
    kernel=map_kernel(_activation_call),
    map_call=_activation_call,
    gradient=lambda g: [unary_grad(g, *_ACT_GRADIENTS[g.params["act_type"]])],
    doc="Applies an activation function element-wise: relu max(0, x), sigmoid 1/(1+exp(-x)), "
        "tanh, softrelu log(1+exp(x)), softsign x/(1+|x|).",
))


def _leaky_inputs(params):
    return ["data", "gamma"] if params["act_type"] == "prelu" else ["data"]


def _leaky_shape(ctx, ins, outs):
    """data -> out of data's shape; act_type='prelu' also takes gamma (C,), C = data.shape[1], or
    (1,) for one slope shared by every channel."""
    data = ins[0] if ins[0] is not None else outs[0]
    if ctx.params["act_type"] != "prelu":
        return [data], [data]
    gamma = None
    if data is not None:
        if len(data) < 2:
            raise ctx.error(f"prelu needs data with a channel axis, got shape {data}")
        gamma = (data[1],)
    if ins[1] is not None and gamma is not None and ins[1] == (1,):
        gamma = (1,)   # one slope shared by every channel
    return [data, gamma], [data]


def _leaky_slope(params):
    # rrelu draws its slope at random in training; cysym uses the mean slope, which is what
    # MXNet uses at inference
    if params["act_type"] == "rrelu":
        return "leaky", (params["lower_bound"] + params["upper_bound"]) / 2
    return params["act_type"], params["slope"]


def _leaky_kernel(b):
    if b.params["act_type"] == "prelu":
        data, gamma = b.inputs
        kernels("elemwise").append_binary(b.plan, "prelu", data, _channel_view(gamma, data.ndim), b.outputs[0],
                                  b.req[0], b.label)
        return
    kind, slope = _leaky_slope(b.params)
    kernels("elemwise").append_unary(b.plan, kind, b.inputs[0], b.outputs[0], b.req[0], b.label, slope)


def _channel_view(gamma, ndim):
    """gamma (C,) seen as (1, C, 1, ...) so that it broadcasts along axis 1."""
    return gamma.reshape((1, gamma.shape[0]) + (1,) * (ndim - 2))


def _leaky_gradient(g):
    if g.params["act_type"] == "prelu":
        return list(g.op("_backward_LeakyReLU_prelu", g.out_grads[0], g.inputs[0], g.inputs[1]))
    kind, slope = _leaky_slope(g.params)
    return [unary_grad(g, f"{kind}_grad_x", "x", scalar=slope)]


register(OpDef(
    "LeakyReLU",
    params=[
        Param("act_type", "str", "leaky", "Activation function to be applied.", choices=LEAKY_TYPES),
        Param("slope", "float", 0.25, "Init slope for the activation (for leaky and elu)."),
        Param("lower_bound", "float", 0.125, "Lower bound of random slope (for rrelu)."),
        Param("upper_bound", "float", 0.334, "Upper bound of random slope (for rrelu)."),
    ],
    inputs=_leaky_inputs,
    # MXNet's LeakyReLU gives its prelu slope variable this initializer (FSetInputVarAttrOnCompose)
    var_attrs={"gamma": {"__init__": '["Constant", {"value": 0.25}]'}},
    infer_shape=_leaky_shape,
    kernel=_leaky_kernel,
    gradient=_leaky_gradient,
    doc="Leaky variants of ReLU: leaky x>0 ? x : slope*x; prelu with a learned per-channel "
        "slope gamma; elu slope*(exp(x)-1) for x<0; rrelu (at inference the mean slope); selu; gelu.",
))

def _prelu_backward_kernel(b):
    dy, data, gamma = b.inputs
    ddata, dgamma = b.outputs
    ops = kernels("elemwise")
    # dgamma is reduced from a full-size partial kept in the workspace (an empty batch has no
    # workspace, and nothing is written to its partial)
    full = b.workspace[:data.nbytes].view(data.dtype).reshape(data.shape) if data.size else data
    ops.append_binary_backward(b.plan, "prelu", dy, data, _channel_view(gamma, data.ndim), ddata, full,
                               b.req[0], b.req[1], b.label)
    ops.append_sum_to(b.plan, full, _channel_view(dgamma, data.ndim), b.req[1], b.label)


register(OpDef(
    "_backward_LeakyReLU_prelu",
    inputs=("out_grad", "data", "gamma"),
    outputs=("data_grad", "gamma_grad"),
    infer_shape=lambda ctx, ins, outs: (ins, [ins[1], ins[2]]),
    kernel=_prelu_backward_kernel,
    workspace=lambda params, ins, outs, dtype: int(np.prod(ins[1])) * np.dtype(dtype).itemsize,
    hidden=True,
    doc="Gradients of prelu with respect to data and the per-channel slope gamma.",
))

_SOFTMAX_PARAMS = [
    Param("axis", "int", -1, "The axis along which to compute softmax."),
    Param("temperature", "float", None, "Temperature parameter in softmax (None means 1).", optional=True),
    Param("dtype", "str", None, "Output dtype (None: the input's).", optional=True,
          choices=("float32", "float64")),
    Param("use_length", "bool", False, "Whether to use the length input as a mask over the data input "
                                       "(softmax only)."),
]


def _softmax_inputs(params):
    return ["data", "length"] if params["use_length"] else ["data"]


def _softmax_shape_rule(takes_length):
    def rule(ctx, ins, outs):
        """data -> out of data's shape (axis within data's rank); use_length=True (softmax only)
        adds length: data's shape without axis."""
        shape = ins[0] if ins[0] is not None else outs[0]
        axis = ctx.params["axis"]
        if shape is not None and not -len(shape) <= axis < max(len(shape), 1):
            raise ctx.error(f"axis {axis} is out of range for input shape {shape}")
        if not ctx.params["use_length"]:
            return [shape], [shape]
        if not takes_length:
            raise ctx.error("use_length=True is supported by softmax only, as in MXNet")
        # one length per softmax: the data's shape without the axis
        length = None if shape is None else shape[:axis % len(shape)] + shape[axis % len(shape) + 1:]
        if length is not None and ins[1] is not None and tuple(ins[1]) != length:
            raise ctx.error(f"input 'length' has shape {tuple(ins[1])}, expected {length} from data {shape}")
        return [shape, length if length is not None else ins[1]], [shape]
    return rule


def _temperature(params):
    return 1.0 if params["temperature"] is None else params["temperature"]


def _softmax_kernel(as_log):
    def kernel(b):
        if b.params["use_length"]:
            kernels("softmax_length").append_softmax_length(
                b.plan, b.inputs[0], b.inputs[1], b.outputs[0], b.params["axis"], _temperature(b.params),
                b.req[0], b.label)
            return
        kernels("loss").append_softmax(b.plan, b.inputs[0], b.outputs[0], b.params["axis"],
                                       _temperature(b.params), as_log, b.req[0], b.label)
    return kernel


def _softmax_gradient(g):
    # the masked softmax's zeros make softmax's own backward zero there: one rule for both
    grad = g.op("_backward_softmax", g.out_grads[0], g.outputs[0], **g.forward_attrs(),
                log=g.node.op.name == "log_softmax")
    return [grad, None] if len(g.inputs) == 2 else [grad]


def _backward_softmax_kernel(b):
    kernels("loss").append_softmax_backward(b.plan, b.inputs[0], b.inputs[1], b.outputs[0], b.params["axis"],
                                            _temperature(b.params), b.params["log"], b.req[0], b.label)


register(OpDef("softmax", params=_SOFTMAX_PARAMS, inputs=_softmax_inputs, infer_shape=_softmax_shape_rule(True),
               infer_type=_data_and_index_type, dtypes={"length": NUMBER_DTYPES}, no_grad=("length",),
               inplace=[(0, 0)], kernel=_softmax_kernel(False), gradient=_softmax_gradient,
               doc="exp(x/T) / sum(exp(x/T)) along `axis`, computed stably; with use_length, over the "
                   "first length[...] elements only, zeros after them."))
register(OpDef("log_softmax", params=_SOFTMAX_PARAMS, infer_shape=_softmax_shape_rule(False), inplace=[(0, 0)],
               kernel=_softmax_kernel(True), gradient=_softmax_gradient,
               doc="log(softmax(x)) along `axis`, computed stably."))

def _softmin_kernel(b):
    # softmax(-x): negated into the output (or a bind-time buffer when adding), then softmax in place
    x, y = b.inputs[0], b.outputs[0]
    if b.req[0] == "null":
        return
    negated = y if b.req[0] == "write" else np.empty_like(y)
    kernels("elemwise").append_unary(b.plan, "negative", x, negated, "write", b.label)
    kernels("loss").append_softmax(b.plan, negated, y, b.params["axis"], _temperature(b.params), False,
                                   b.req[0], b.label)


register(OpDef(
    "softmin", params=_SOFTMAX_PARAMS, infer_shape=_softmax_shape_rule(False), kernel=_softmin_kernel,
    # softmax's gradient at its output, negated
    gradient=lambda g: [g.op("negative", g.op("_backward_softmax", g.out_grads[0], g.outputs[0],
                                              **g.forward_attrs(), log=False))],
    doc="exp(-x/T) / sum(exp(-x/T)) along `axis` (softmax of -x), computed stably."))

register(OpDef(
    "_backward_softmax",
    params=_SOFTMAX_PARAMS + [Param("log", "bool", False, "Backward of log_softmax instead.")],
    inputs=("out_grad", "output"),
    infer_shape=same_shape,
    inplace=[(0, 0)],
    kernel=_backward_softmax_kernel,
    hidden=True,
    doc="Gradient of softmax (or log_softmax) from its output.",
))
