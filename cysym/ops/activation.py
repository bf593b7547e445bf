"""Activation and LeakyReLU."""
from ..registry import OpDef, Param, register
from .common import same_shape

ACT_TYPES = ("relu", "sigmoid", "tanh", "softrelu", "softsign")
LEAKY_TYPES = ("leaky", "prelu", "elu", "rrelu", "selu", "gelu")

register(OpDef(
    "Activation",
    params=[Param("act_type", "str", doc="Activation function to be applied.", choices=ACT_TYPES)],
    infer_shape=same_shape,
    inplace=[(0, 0)],
    doc="Applies an activation function element-wise: relu max(0, x), sigmoid 1/(1+exp(-x)), "
        "tanh, softrelu log(1+exp(x)), softsign x/(1+|x|).",
))


def _leaky_inputs(params):
    return ["data", "gamma"] if params["act_type"] == "prelu" else ["data"]


def _leaky_shape(ctx, ins, outs):
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


register(OpDef(
    "LeakyReLU",
    params=[
        Param("act_type", "str", "leaky", "Activation function to be applied.", choices=LEAKY_TYPES),
        Param("slope", "float", 0.25, "Init slope for the activation (for leaky and elu)."),
        Param("lower_bound", "float", 0.125, "Lower bound of random slope (for rrelu)."),
        Param("upper_bound", "float", 0.334, "Upper bound of random slope (for rrelu)."),
    ],
    inputs=_leaky_inputs,
    infer_shape=_leaky_shape,
    doc="Leaky variants of ReLU: leaky x>0 ? x : slope*x; prelu with a learned per-channel "
        "slope gamma; elu slope*(exp(x)-1) for x<0; rrelu (at inference the mean slope); selu; gelu.",
))

_SOFTMAX_PARAMS = [
    Param("axis", "int", -1, "The axis along which to compute softmax."),
    Param("temperature", "float", None, "Temperature parameter in softmax (None means 1).", optional=True),
    Param("dtype", "str", None, "Output dtype (None: the input's).", optional=True,
          choices=("float32", "float64")),
    Param("use_length", "bool", False, "Whether to use the length input as a mask (unsupported)."),
]


def _softmax_shape(ctx, ins, outs):
    shape = ins[0] if ins[0] is not None else outs[0]
    if shape is not None and not -len(shape) <= ctx.params["axis"] < max(len(shape), 1):
        raise ctx.error(f"axis {ctx.params['axis']} is out of range for input shape {shape}")
    if ctx.params["use_length"]:
        raise ctx.error("use_length=True is not supported")
    return [shape], [shape]


for _name, _formula in (("softmax", "exp(x/T) / sum(exp(x/T))"),
                        ("log_softmax", "log(softmax(x))")):
    register(OpDef(_name, params=_SOFTMAX_PARAMS, infer_shape=_softmax_shape, inplace=[(0, 0)],
                   doc=f"{_formula} along `axis`, computed stably."))
