"""BatchNorm."""
from ..registry import OpDef, Param, register
from .common import kernels, normalize_axis


def _bn_shape(ctx, ins, outs):
    data = ins[0] if ins[0] is not None else outs[0]
    if data is None:
        return ins, outs
    axis = normalize_axis(ctx, ctx.params["axis"], len(data))
    channel = (data[axis],)
    return [data, channel, channel, channel, channel], [data, channel, channel]


def _bn_kernel(b):
    x, gamma, beta, moving_mean, moving_var = b.inputs
    y, mean, var = b.outputs
    p = b.params
    # mean and var are always written (the backward reads them); req only governs the output
    kernels("norm").append_batch_norm(b.plan, x, gamma, beta, moving_mean, moving_var, y, mean, var,
                                 eps=p["eps"], fix_gamma=p["fix_gamma"],
                                 use_global_stats=p["use_global_stats"], axis=p["axis"],
                                 req=b.req[0], label=b.label)


def _bn_gradient(g):
    # One node computes dX, dgamma and dbeta from the saved batch mean/var.  It also takes the
    # moving statistics: MXNet 1.x updates them in the training *backward* pass (the fixture
    # lenet-io.npz shows them unchanged after forward, changed after backward).
    if g.out_grads[0] is None:
        return [None, None, None]
    data, gamma, _beta, moving_mean, moving_var = g.inputs
    grads = g.op("_backward_BatchNorm", g.out_grads[0], data, gamma, g.outputs[1], g.outputs[2],
                 moving_mean, moving_var, **g.forward_attrs())
    return list(grads)


_BN_PARAMS = [
    Param("eps", "float", 1e-3, "Epsilon to prevent div 0.", low=0.0),
    Param("momentum", "float", 0.9, "Momentum for moving average."),
    Param("fix_gamma", "bool", True, "Fix gamma while training (treated as 1)."),
    Param("use_global_stats", "bool", False, "Use the moving statistics in training too."),
    Param("output_mean_var", "bool", False, "Output the batch mean and variance as well."),
    Param("axis", "int", 1, "The channel axis."),
    Param("cudnn_off", "bool", False, "Ignored (no cuDNN)."),
    Param("min_calib_range", "float", None, "Ignored (no quantization).", optional=True),
    Param("max_calib_range", "float", None, "Ignored (no quantization).", optional=True),
]

register(OpDef(
    "BatchNorm",
    params=_BN_PARAMS,
    inputs=("data", "gamma", "beta"),
    aux=("moving_mean", "moving_var"),
    outputs=("output", "mean", "var"),
    var_attrs={"moving_mean": {"__init__": '["zero", {}]'}, "moving_var": {"__init__": '["one", {}]'}},
    num_visible_outputs=lambda params: 3 if params["output_mean_var"] else 1,
    infer_shape=_bn_shape,
    kernel=_bn_kernel,
    gradient=_bn_gradient,
    doc="Batch normalization: (x - mean) / sqrt(var + eps) * gamma + beta over the channel axis; "
        "moving_mean and moving_var are auxiliary states.",
))


def _bn_backward_shape(ctx, ins, outs):
    data, channel = ins[1], ins[2]
    return ins, [data, channel, channel]


def _bn_backward_kernel(b):
    dy, x, gamma, mean, var, moving_mean, moving_var = b.inputs
    p = b.params
    kernels("norm").append_batch_norm_backward(
        b.plan, dy, x, gamma, mean, var, moving_mean, moving_var, *b.outputs,
        eps=p["eps"], momentum=p["momentum"], fix_gamma=p["fix_gamma"],
        use_global_stats=p["use_global_stats"], axis=p["axis"],
        req_dx=b.req[0], req_dgamma=b.req[1], req_dbeta=b.req[2], label=b.label)


register(OpDef(
    "_backward_BatchNorm",
    params=_BN_PARAMS,
    inputs=("out_grad", "data", "gamma", "mean", "var", "moving_mean", "moving_var"),
    outputs=("data_grad", "gamma_grad", "beta_grad"),
    infer_shape=_bn_backward_shape,
    kernel=_bn_backward_kernel,
    hidden=True,
    doc="dX, dgamma (0 with fix_gamma), dbeta in one pass; in training also moves "
        "moving_mean/moving_var toward the batch statistics (as MXNet 1.x, in backward).",
))
