"""Batch normalization and its relatives: BatchNorm, _contrib_SyncBatchNorm (one machine:
BatchNorm's maths), _contrib_BatchNormWithReLU (BatchNorm then ReLU in one kernel) and
GroupNorm."""
import numpy as np

from ..registry import OpDef, Param, register
from .common import backward_grads, kernels, normalize_axis


def _channel_axis(params):
    # _contrib_SyncBatchNorm has no axis parameter: its channels are on axis 1
    return params.get("axis", 1)


def _bn_shape(ctx, ins, outs):
    """data -> out of data's shape; gamma, beta, moving_mean, moving_var and the mean and var
    outputs (C,), C = data.shape[axis]."""
    data = ins[0] if ins[0] is not None else outs[0]
    if data is None:
        return ins, outs
    axis = normalize_axis(ctx, _channel_axis(ctx.params), len(data))
    channel = (data[axis],)
    # _contrib_BatchNormWithReLU has a fourth output, MKL-DNN's workspace in MXNet, hidden and
    # never written here: one value per channel, so that it costs no planned memory to speak of
    return [data, channel, channel, channel, channel], [data, channel, channel, channel][:len(outs)]


def _bn_type(data_inputs):
    """The dtype rule of a batch norm node whose inputs at `data_inputs` (and first output) are
    data-like: MXNet's BatchNormType, where float16 data has float32 gamma, beta, statistics
    and their gradients (mshadow's AccReal); other dtypes are the data's.  Without the data's
    dtype, a known statistic's gives it (float32 statistics read as float32 data)."""
    def rule(ctx, ins, outs):
        data = next((ins[k] for k in data_inputs if ins[k] is not None), outs[0])
        if data is None:
            data = next((t for t in ins + outs if t is not None), None)
            if data is None:
                return ins, outs
        param = np.dtype(np.float32) if np.dtype(data) == np.float16 else data
        return ([data if k in data_inputs else param for k in range(len(ins))],
                [data] + [param] * (len(outs) - 1))
    return rule


def _bn_kernel(b, relu=False):
    x, gamma, beta, moving_mean, moving_var = b.inputs
    y, mean, var = b.outputs[:3]
    p = b.params
    # mean and var are always written (the backward reads them); req only governs the output
    kernels("norm").append_batch_norm(b.plan, x, gamma, beta, moving_mean, moving_var, y, mean, var,
                                 eps=p["eps"], fix_gamma=p["fix_gamma"],
                                 use_global_stats=p["use_global_stats"], axis=_channel_axis(p),
                                 relu=relu,
                                 req=b.req[0], label=b.label)


def _bn_gradient(g):
    # One node computes dX, dgamma and dbeta from the saved batch mean/var.  It also takes the
    # moving statistics: MXNet 1.x updates them in the training *backward* pass (the fixture
    # lenet-io.npz shows them unchanged after forward, changed after backward).
    data, gamma, _beta, moving_mean, moving_var = g.inputs
    return backward_grads(g, "_backward_BatchNorm", data, gamma, g.outputs[1], g.outputs[2],
                          moving_mean, moving_var)


_MOVING_INIT = {"moving_mean": {"__init__": '["zero", {}]'},
                "moving_var": {"__init__": '["one", {}]'}}

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
    # MXNet's pre-1.0 layer: a subset of these parameters (the channel axis is 1)
    aliases=("BatchNorm_v1",),
    params=_BN_PARAMS,
    inputs=("data", "gamma", "beta"),
    aux=("moving_mean", "moving_var"),
    outputs=("output", "mean", "var"),
    var_attrs=_MOVING_INIT,
    num_visible_outputs=lambda params: 3 if params["output_mean_var"] else 1,
    infer_shape=_bn_shape,
    infer_type=_bn_type((0,)),
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
        use_global_stats=p["use_global_stats"], axis=_channel_axis(p),
        req_dx=b.req[0], req_dgamma=b.req[1], req_dbeta=b.req[2], label=b.label)


register(OpDef(
    "_backward_BatchNorm",
    params=_BN_PARAMS,
    inputs=("out_grad", "data", "gamma", "mean", "var", "moving_mean", "moving_var"),
    outputs=("data_grad", "gamma_grad", "beta_grad"),
    infer_shape=_bn_backward_shape,
    infer_type=_bn_type((0, 1)),
    kernel=_bn_backward_kernel,
    hidden=True,
    doc="dX, dgamma (0 with fix_gamma), dbeta in one pass; in training also moves "
        "moving_mean/moving_var toward the batch statistics (as MXNet 1.x, in backward).",
))


# ---------------------------------------------------------------------------------------------
# _contrib_SyncBatchNorm: on one machine there is nothing to synchronise, and the maths is
# BatchNorm's over axis 1 (batch statistics in training, moving ones otherwise, the moving
# statistics updated in the backward pass); its gradient is BatchNorm's node.

register(OpDef(
    "_contrib_SyncBatchNorm",
    params=[p for p in _BN_PARAMS if p.name in ("eps", "momentum", "fix_gamma",
                                               "use_global_stats", "output_mean_var")] + [
        Param("ndev", "int", 1, "The count of GPU devices (one machine here: accepted, unused)"),
        Param("key", "str", doc="Hash key for synchronization, please set the same hash key for "
                                "same layer, Block.prefix is typically used as in "
                                ":class:`gluon.nn.contrib.SyncBatchNorm`."),
    ],
    inputs=("data", "gamma", "beta"),
    aux=("moving_mean", "moving_var"),
    outputs=("output", "mean", "var"),
    var_attrs=_MOVING_INIT,
    num_visible_outputs=lambda params: 3 if params["output_mean_var"] else 1,
    infer_shape=_bn_shape,
    infer_type=_bn_type((0,)),
    kernel=_bn_kernel,
    gradient=_bn_gradient,
    doc="Batch normalization over the whole mini-batch of every device (here: one device, "
        "so BatchNorm over axis 1): (x - mean) / sqrt(var + eps) * gamma + beta, with "
        "moving_mean and moving_var as auxiliary states.",
))


# ---------------------------------------------------------------------------------------------
# _contrib_BatchNormWithReLU: max(BatchNorm(x), 0) in one pass.  MXNet's fourth output is
# MKL-DNN's workspace for the ReLU's backward; the backward here masks the output gradient
# by the output itself (y > 0 exactly where the normalized value is), so the workspace is
# declared (keeping MXNet's outputs and node_row_ptr) but never written or read.

def _bn_relu_gradient(g):
    data, gamma, _beta, moving_mean, moving_var = g.inputs
    return backward_grads(g, "_backward_contrib_BatchNormWithReLU", data, gamma, g.outputs[1],
                          g.outputs[2], moving_mean, moving_var, g.outputs[0])


def _bn_relu_backward_kernel(b):
    dy, x, gamma, mean, var, moving_mean, moving_var, y = b.inputs
    p = b.params
    kernels("norm").append_batch_norm_backward(
        b.plan, dy, x, gamma, mean, var, moving_mean, moving_var, *b.outputs,
        eps=p["eps"], momentum=p["momentum"], fix_gamma=p["fix_gamma"],
        use_global_stats=p["use_global_stats"], axis=p["axis"], relu_output=y,
        req_dx=b.req[0], req_dgamma=b.req[1], req_dbeta=b.req[2], label=b.label)


register(OpDef(
    "_contrib_BatchNormWithReLU",
    params=_BN_PARAMS,
    inputs=("data", "gamma", "beta"),
    aux=("moving_mean", "moving_var"),
    outputs=("output", "mean", "var", "workspace"),
    var_attrs=_MOVING_INIT,
    num_visible_outputs=lambda params: 3 if params["output_mean_var"] else 1,
    infer_shape=_bn_shape,
    infer_type=_bn_type((0,)),
    kernel=lambda b: _bn_kernel(b, relu=True),
    gradient=_bn_relu_gradient,
    doc="Batch normalization with ReLU fusion: max(BatchNorm(data), 0), with BatchNorm's "
        "parameters, statistics and moving-statistics updates.",
))

register(OpDef(
    "_backward_contrib_BatchNormWithReLU",
    params=_BN_PARAMS,
    inputs=("out_grad", "data", "gamma", "mean", "var", "moving_mean", "moving_var", "output"),
    outputs=("data_grad", "gamma_grad", "beta_grad"),
    infer_shape=_bn_backward_shape,
    infer_type=_bn_type((0, 1, 7)),
    kernel=_bn_relu_backward_kernel,
    hidden=True,
    doc="BatchNorm's backward of the output gradient masked by output > 0.",
))


# ---------------------------------------------------------------------------------------------
# GroupNorm: MXNet 1.9.1's gamma and beta have one value per group, (num_groups,), as its
# shape rule and Gluon's nn.GroupNorm declare them

def _gn_shape(ctx, ins, outs):
    """data (N, C, ...) with num_groups dividing C -> out of data's shape, mean and std (N,
    num_groups); gamma, beta (num_groups,)."""
    data = ins[0] if ins[0] is not None else outs[0]
    if data is None:
        return ins, outs
    groups = ctx.params["num_groups"]
    if len(data) < 3:
        raise ctx.error(f"data {data} must have at least 3 dimensions (N, C, ...)")
    if groups < 1 or data[1] % groups:
        raise ctx.error(f"# of channels must be divisible by # of groups: data {data}, "
                        f"num_groups={groups}")
    moments = (data[0], groups)
    return [data, (groups,), (groups,)], [data, moments, moments]


def _gn_gradient(g):
    data, gamma, _beta = g.inputs
    return backward_grads(g, "_backward_GroupNorm", data, gamma, g.outputs[1], g.outputs[2])


_GN_PARAMS = [
    Param("num_groups", "int", 1, "Total number of groups."),
    Param("eps", "float", 1e-5, "An `epsilon` parameter to prevent division by 0."),
    Param("output_mean_var", "bool", False, "Output the mean and std calculated along the "
                                            "given axis."),
]

register(OpDef(
    "GroupNorm",
    params=_GN_PARAMS,
    inputs=("data", "gamma", "beta"),
    outputs=("output", "mean", "std"),
    num_visible_outputs=lambda params: 3 if params["output_mean_var"] else 1,
    infer_shape=_gn_shape,
    inplace=((0, 0),),
    kernel=lambda b: kernels("norm").append_group_norm(
        b.plan, *b.inputs, *b.outputs, num_groups=b.params["num_groups"], eps=b.params["eps"],
        req=b.req[0], label=b.label),
    gradient=_gn_gradient,
    doc="Group normalization: the channels of (N, C, ...) data are split into num_groups "
        "groups, and each group of each sample is normalized on its own,\n\n"
        "  data = data.reshape((N, num_groups, C // num_groups, ...))\n"
        "  out = (data - mean(data, axis)) / sqrt(var(data, axis) + eps) * gamma + beta\n\n"
        "gamma and beta have shape (num_groups,).  With output_mean_var=True the mean and "
        "std = sqrt(var + eps), (N, num_groups), are outputs too; no gradient flows through "
        "them.",
))

register(OpDef(
    "_backward_GroupNorm",
    params=_GN_PARAMS,
    inputs=("out_grad", "data", "gamma", "mean", "std"),
    outputs=("data_grad", "gamma_grad", "beta_grad"),
    infer_shape=lambda ctx, ins, outs: (ins, [ins[1], ins[2], ins[2]]),
    inplace=((0, 0),),
    kernel=lambda b: kernels("norm").append_group_norm_backward(
        b.plan, *b.inputs, *b.outputs, num_groups=b.params["num_groups"], req_dx=b.req[0],
        req_dgamma=b.req[1], req_dbeta=b.req[2], label=b.label),
    hidden=True,
    doc="dX = w - mean(w) - x̂·mean(w·x̂) per group with w = dY·gamma/std; "
        "dgamma = Σ dY·x̂; dbeta = Σ dY.",
))
