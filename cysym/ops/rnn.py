"""The fused RNN operator (MXNet's `RNN`: vanilla relu/tanh, LSTM, GRU; stacked, bidirectional)
and `_rnn_param_concat`, the Concat that Gluon's rnn layers build their parameter vector with."""
import weakref

import numpy as np

from ..base import BindError
from ..registry import MAX_NODE_ARITY, OpDef, Param, register
from ..shapes import merge_shapes, partial_shape_rule
from .common import backward_grads, kernels, normalize_axis

_MODES = ("rnn_relu", "rnn_tanh", "lstm", "gru")
_GATES = {"rnn_relu": 1, "rnn_tanh": 1, "lstm": 4, "gru": 3}


def _inputs(params):
    names = ["data", "parameters", "state"]
    if params["mode"] == "lstm":
        names.append("state_cell")
    if params["use_sequence_length"]:
        names.append("sequence_length")
    return names


def _outputs(params):
    if not params["state_outputs"]:
        return ["output"]
    return ["output", "state_output"] + (["statecell_output"] if params["mode"] == "lstm" else [])


def param_size(params, input_size):
    """Elements of the flat parameter vector: MXNet's GetRnnParamSize."""
    gates, hidden = _GATES[params["mode"]], params["state_size"]
    width = params["projection_size"] or hidden
    directions = 2 if params["bidirectional"] else 1
    size = 0
    for layer in range(params["num_layers"]):
        inputs = input_size if layer == 0 else width * directions
        size += directions * (gates * hidden * (inputs + width + 2)
                              + (params["projection_size"] or 0) * hidden)
    return size


def _check_params(ctx):
    p = ctx.params
    projection, low, high = p["projection_size"], p["lstm_state_clip_min"], p["lstm_state_clip_max"]
    if projection is not None:
        if p["mode"] != "lstm":
            raise ctx.error(f"projection_size={projection}: projection is only supported for LSTM")
        if not 0 < projection <= p["state_size"]:
            raise ctx.error(f"projection_size={projection} must be in [1, state_size={p['state_size']}]")
    if low is not None or high is not None:
        if p["mode"] != "lstm":
            raise ctx.error("lstm_state_clip_min/max: state clipping is only supported for LSTM")
        if low is None or high is None:
            raise ctx.error("lstm_state_clip_min and lstm_state_clip_max must be specified together")
        if high < low:
            raise ctx.error(f"lstm_state_clip_max={high} must be greater or equal to "
                            f"lstm_state_clip_min={low}")
    if not 0 <= p["p"] < 1:
        raise ctx.error(f"p={p['p']}: the dropout rate must be in [0, 1)")


def _rnn_shape(ctx, ins, outs):
    """data (T, N, I) -> out (T, N, D * P), D = 2 if bidirectional else 1, P = projection_size or
    state_size; parameters (param size,), state (num_layers * D, N, P), state_cell (num_layers *
    D, N, state_size) for 'lstm', sequence_length (N,) when used; state_outputs adds the final
    states in those shapes."""
    _check_params(ctx)
    p = ctx.params
    data = ins[0]
    if data is None:
        return ins, outs
    if len(data) != 3:
        raise ctx.error(f"input 'data' has shape {data}; it must be (sequence length, batch, input size)")
    steps, batch, input_size = data
    units = p["num_layers"] * (2 if p["bidirectional"] else 1)
    hidden = p["state_size"]
    width = p["projection_size"] or hidden
    shapes = [data, (param_size(p, input_size),), (units, batch, width)]
    if p["mode"] == "lstm":
        shapes.append((units, batch, hidden))
    if p["use_sequence_length"]:
        shapes.append((batch,))
    out = [(steps, batch, width * (2 if p["bidirectional"] else 1))]
    if p["state_outputs"]:
        out.append((units, batch, width))
        if p["mode"] == "lstm":
            out.append((units, batch, hidden))
    return shapes, out


# The dropout key of a forward node's last training pass, shared with its backward node (which
# recomputes the forward with the same masks): a one-element array per bound forward, found by
# the identity of the forward's output array, which both kernels are handed.  The plan keeps the
# key alive; the entry goes with it.
_DROPOUT_KEYS = weakref.WeakValueDictionary()


def _dropout_key(params, out):
    if params["p"] == 0 or params["num_layers"] == 1:
        return None
    key = _DROPOUT_KEYS.get(id(out))
    if key is None:
        key = np.zeros(1, np.uint64)
        _DROPOUT_KEYS[id(out)] = key
    return key


def _check_supported(b):
    if b.params["use_sequence_length"]:
        raise BindError(f"{b.label}: use_sequence_length=True is not supported (MXNet 1.9.1 runs it "
                         f"only with cuDNN)")


def _rnn_kernel(b):
    _check_supported(b)
    p = b.params
    lstm = p["mode"] == "lstm"
    extra = b.outputs[1:] if p["state_outputs"] else []
    wanted = [out if req != "null" else None for out, req in zip(extra, b.req[1:])]
    hy = wanted[0] if wanted else None
    cy = wanted[1] if lstm and wanted else None
    kernels("rnn").append_rnn(b.plan, p, b.inputs[0], b.inputs[1], b.inputs[2],
                              b.inputs[3] if lstm else None, b.outputs[0], hy, cy, b.workspace,
                              _dropout_key(p, b.outputs[0]), b.label)


def _rnn_workspace(params, in_shapes, out_shapes, dtype):
    return kernels("rnn").forward_workspace_bytes(params, tuple(in_shapes[0]), np.dtype(dtype).itemsize)


def _rnn_gradient(g):
    heads = [grad if grad is not None else g.op("zeros_like", out)
             for grad, out in zip(g.out_grads, g.outputs)]
    grads = g.op("_backward_RNN", *g.inputs, g.outputs[0], *heads, **g.forward_attrs())
    grads = grads if isinstance(grads, list) else [grads]
    return grads + ([None] if g.params["use_sequence_length"] else [])


_PARAMS = [
    Param("state_size", "int", doc="size of the state for each layer", low=1),
    # bounded: shape rules and kernels walk the layers one by one
    Param("num_layers", "int", doc="number of stacked layers", low=1, high=MAX_NODE_ARITY),
    Param("bidirectional", "bool", False, "whether to use bidirectional recurrent layers"),
    Param("mode", "str", doc="the type of RNN to compute", choices=_MODES),
    Param("p", "float", 0.0, "drop rate of the dropout on the outputs of each RNN layer, except the "
                             "last layer.", low=0.0, high=1.0),
    Param("state_outputs", "bool", False, "Whether to have the states as symbol outputs."),
    Param("projection_size", "int", None, "size of project size", optional=True),
    Param("lstm_state_clip_min", "float", None, "Minimum clip value of LSTM states. This option must "
                                                "be used together with lstm_state_clip_max.",
          optional=True),
    Param("lstm_state_clip_max", "float", None, "Maximum clip value of LSTM states. This option must "
                                                "be used together with lstm_state_clip_min.",
          optional=True),
    Param("lstm_state_clip_nan", "bool", False, "Whether to stop NaN from propagating in state by "
                                                "clipping it to min/max. If clipping range is not "
                                                "specified, this option is ignored."),
    Param("use_sequence_length", "bool", False, "If set to true, this layer takes in an extra input "
                                                "parameter `sequence_length` to specify variable "
                                                "length sequence"),
]

register(OpDef(
    "RNN",
    aliases=("_npx_rnn",),
    params=_PARAMS,
    inputs=_inputs,
    outputs=_outputs,
    infer_shape=_rnn_shape,
    no_grad=("sequence_length",),
    kernel=_rnn_kernel,
    workspace=_rnn_workspace,
    gradient=_rnn_gradient,
    doc="Applies recurrent layers to input data (sequence length, batch, input size): vanilla RNN "
        "(relu or tanh), LSTM (gates i, f, g, o; optional projection and cell clipping) and GRU "
        "(gates r, z, n, with n = tanh(W_in x + b_in + r * (W_hn h + b_hn))), stacked and "
        "bidirectional, with dropout p between layers in training.\n\n"
        "`parameters` is MXNet's flat vector: every unit's (layer by layer, forward direction "
        "first) i2h weight, h2h weight and, with a projection, h2r weight, then every unit's i2h "
        "and h2h biases in the same order.",
))


def _backward_inputs(params):
    heads = ["out_grad"] + [f"{name}_grad" for name in _outputs(params)[1:]]
    return _inputs(params) + ["output"] + heads


def _backward_outputs(params):
    return [f"{name}_grad" for name in _inputs(params) if name != "sequence_length"]


def _backward_shape(ctx, ins, outs):
    count = len(_backward_outputs(ctx.params))
    return ins, list(ins[:count])


def _backward_kernel(b):
    _check_supported(b)
    p = b.params
    lstm = p["mode"] == "lstm"
    forward = len(_inputs(p))
    data, params, state = b.inputs[:3]
    cell = b.inputs[3] if lstm else None
    out = b.inputs[forward]
    heads = b.inputs[forward + 1:]
    dhy = heads[1] if p["state_outputs"] else None
    dcy = heads[2] if p["state_outputs"] and lstm else None
    grads = list(b.outputs) + ([None] if not lstm else [])
    reqs = list(b.req) + (["null"] if not lstm else [])
    kernels("rnn").append_rnn_backward(b.plan, p, data, params, state, cell, heads[0], dhy, dcy,
                                       grads[0], grads[1], grads[2], grads[3], b.workspace,
                                       _dropout_key(p, out), req_data=reqs[0], req_params=reqs[1],
                                       req_hx=reqs[2], req_cx=reqs[3], label=b.label)


def _backward_workspace(params, in_shapes, out_shapes, dtype):
    return kernels("rnn").backward_workspace_bytes(params, tuple(in_shapes[0]), np.dtype(dtype).itemsize)


register(OpDef(
    "_backward_RNN",
    params=_PARAMS,
    inputs=_backward_inputs,
    outputs=_backward_outputs,
    infer_shape=_backward_shape,
    shape_only=("output",),
    kernel=_backward_kernel,
    workspace=_backward_workspace,
    hidden=True,
    doc="Gradients of RNN with respect to data, parameters, state and state_cell: the forward is "
        "recomputed into the workspace (every step's gates kept), then backward through time.",
))


# ---------------------------------------------------------------------------------------------
# _rnn_param_concat

@partial_shape_rule
def _param_concat_shape(ctx, ins, outs):
    """MXNet's RNNParamConcatShape: Concat, where one or two inputs whose size along `dim` is
    unknown share what the known output size leaves (Gluon's deferred-init weights)."""
    dim = ctx.params["dim"]
    known = [s for s in ins + outs if s is not None]
    if not known:
        return ins, outs
    axis = normalize_axis(ctx, dim, len(known[0]))
    template = None
    for position, shape in enumerate(ins + outs):
        if shape is None:
            continue
        try:
            template = merge_shapes(template, tuple(None if k == axis else d for k, d in enumerate(shape)))
        except ValueError:
            name = f"input 'arg{position}'" if position < len(ins) else "the output"
            raise ctx.error(f"{name} has shape {shape}, which does not match {template} outside "
                            f"axis {axis}") from None
    unknown = [k for k, s in enumerate(ins) if s is None or s[axis] is None]
    size = sum(s[axis] for s in ins if s is not None and s[axis] is not None)
    new_ins = [tuple(template[:axis]) + ((s[axis] if s is not None else None),) + tuple(template[axis + 1:])
               for s in ins]
    out = outs[0]
    if not unknown:
        out = template[:axis] + (size,) + template[axis + 1:]
    elif out is not None and out[axis] is not None:
        residual = out[axis] - size
        if residual < 0:
            raise ctx.error(f"the inputs' sizes along axis {axis} ({size}) exceed the output's "
                            f"{out[axis]}")
        if len(unknown) > 2:
            raise ctx.error(f"expecting 1 or 2 inputs that need shape inference, got {len(unknown)}")
        for k in unknown:
            new_ins[k] = template[:axis] + (residual // len(unknown),) + template[axis + 1:]
    if out is None:
        out = template[:axis] + (None,) + template[axis + 1:]
    return new_ins, [out]


register(OpDef(
    "_rnn_param_concat",
    aliases=("_npi_rnn_param_concat",),
    params=[
        Param("num_args", "int", doc="Number of inputs to be concatenated.", low=1),
        Param("dim", "int", 1, "The dimension to be concatenated."),
    ],
    variadic="num_args",
    infer_shape=_param_concat_shape,
    kernel=lambda b: kernels("shape").append_concat(b.plan, list(b.inputs), b.outputs[0],
                                                    b.params["dim"], b.req[0], b.label),
    gradient=lambda g: backward_grads(g, "_backward_Concat", *g.inputs),
    doc="Concat for RNN parameters: one or two inputs whose size along `dim` is unknown take what "
        "the known output size leaves.",
))
