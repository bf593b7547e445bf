"""Normalization and resampling layers: LayerNorm, InstanceNorm, L2Normalization, LRN,
SoftmaxActivation, UpSampling (nearest) and Deconvolution.

Each op has a registered `_backward_<Op>` node whose kernel computes every input gradient in
one pass (cysym/_ops/layers.pyx; Deconvolution's lives with Convolution's in conv.pyx, since
it is the same GEMM + im2col/col2im machinery run the other way round).
"""
import numpy as np

from ..registry import OpDef, Param, register
from .common import backward_grads, kernels, normalize_axis
from .conv import WindowParam, conv_geometry, conv_inputs, spatial_param


def _data_or_output(ins, outs):
    return ins[0] if ins[0] is not None else outs[0]


# ---------------------------------------------------------------------------------------------
# LayerNorm

def _ln_shape(ctx, ins, outs):
    """data -> out of data's shape, mean and std of data's shape with 1 on axis; gamma, beta
    (data.shape[axis],)."""
    data = _data_or_output(ins, outs)
    if data is None:
        return ins, outs
    axis = normalize_axis(ctx, ctx.params["axis"], len(data))
    channel = (data[axis],)
    moments = tuple(1 if k == axis else d for k, d in enumerate(data))
    return [data, channel, channel], [data, moments, moments]


_LN_PARAMS = [
    Param("axis", "int", -1, "The axis to perform layer normalization. Usually, this should be "
                             "the axis of the channel dimension. Negative values count from "
                             "the end."),
    Param("eps", "float", 1e-5, "An `epsilon` parameter to prevent division by 0."),
    Param("output_mean_var", "bool", False, "Output the mean and std calculated along the "
                                            "given axis."),
]

register(OpDef(
    "LayerNorm",
    aliases=("_npx_LayerNorm",),
    params=_LN_PARAMS,
    inputs=("data", "gamma", "beta"),
    outputs=("output", "mean", "std"),
    num_visible_outputs=lambda params: 3 if params["output_mean_var"] else 1,
    infer_shape=_ln_shape,
    inplace=((0, 0),),
    kernel=lambda b: kernels("layers").append_layer_norm(
        b.plan, *b.inputs, *b.outputs, axis=b.params["axis"], eps=b.params["eps"],
        req=b.req[0], label=b.label),
    gradient=lambda g: backward_grads(g, "_backward_LayerNorm", g.inputs[0], g.inputs[1],
                                      g.outputs[1], g.outputs[2]),
    doc="Layer normalization: out = (data - mean(data, axis)) / sqrt(var(data, axis) + eps) "
        "* gamma + beta.\n\ngamma and beta have shape (data.shape[axis],).  With "
        "output_mean_var=True the mean and std (data's shape with 1 on `axis`) are outputs "
        "too; no gradient flows through them.",
))

register(OpDef(
    "_backward_LayerNorm",
    params=_LN_PARAMS,
    inputs=("out_grad", "data", "gamma", "mean", "std"),
    outputs=("data_grad", "gamma_grad", "beta_grad"),
    infer_shape=lambda ctx, ins, outs: (ins, [ins[1], ins[2], ins[2]]),
    kernel=lambda b: kernels("layers").append_layer_norm_backward(
        b.plan, *b.inputs, *b.outputs, axis=b.params["axis"], req_dx=b.req[0],
        req_dgamma=b.req[1], req_dbeta=b.req[2], label=b.label),
    hidden=True,
    doc="dX = w - mean(w) - x̂·mean(w·x̂) with w = dY·gamma/std; dgamma = Σ dY·x̂; dbeta = Σ dY.",
))


# ---------------------------------------------------------------------------------------------
# InstanceNorm

def _in_shape(ctx, ins, outs):
    """data (N, C, ...) -> out of data's shape and two statistics (N, C); gamma, beta (C,)."""
    data = _data_or_output(ins, outs)
    if data is None:
        return ins, outs
    if len(data) < 3:
        raise ctx.error(f"InstanceNorm only supports input tensors of rank >= 3, got data {data}")
    channel = (data[1],)
    stats = (data[0], data[1])
    return [data, channel, channel], [data, stats, stats]


_IN_PARAMS = [Param("eps", "float", 1e-3, "An `epsilon` parameter to prevent division by 0.")]

register(OpDef(
    "InstanceNorm",
    params=_IN_PARAMS,
    inputs=("data", "gamma", "beta"),
    outputs=("output", "mean", "var"),
    num_visible_outputs=lambda params: 1,
    infer_shape=_in_shape,
    kernel=lambda b: kernels("layers").append_instance_norm(
        b.plan, *b.inputs, *b.outputs, eps=b.params["eps"], req=b.req[0], label=b.label),
    gradient=lambda g: backward_grads(g, "_backward_InstanceNorm", g.inputs[0], g.inputs[1],
                                      g.outputs[1], g.outputs[2]),
    doc="Instance normalization: out = gamma * (data - mean) / sqrt(var + eps) + beta, with "
        "mean and var over the spatial axes of each sample and channel (data is (N, C, ...)).",
))

register(OpDef(
    "_backward_InstanceNorm",
    params=_IN_PARAMS,
    inputs=("out_grad", "data", "gamma", "mean", "var"),
    outputs=("data_grad", "gamma_grad", "beta_grad"),
    infer_shape=lambda ctx, ins, outs: (ins, [ins[1], ins[2], ins[2]]),
    kernel=lambda b: kernels("layers").append_instance_norm_backward(
        b.plan, *b.inputs, *b.outputs, eps=b.params["eps"], req_dx=b.req[0],
        req_dgamma=b.req[1], req_dbeta=b.req[2], label=b.label),
    hidden=True,
    doc="dX, dgamma, dbeta of InstanceNorm in one pass.",
))


# ---------------------------------------------------------------------------------------------
# L2Normalization

def _l2_shape(ctx, ins, outs):
    """data -> out of data's shape and the norm: (N,) for mode 'instance', (N, 1, *data.shape[2:])
    for 'channel', (N, C) for 'spatial' (rank 3 or more for the last two)."""
    data = _data_or_output(ins, outs)
    if data is None:
        return ins, outs
    mode = ctx.params["mode"]
    if mode == "instance":
        if len(data) < 1:
            raise ctx.error(f"data {data} needs at least one dimension")
        norm = (data[0],)
    else:
        if len(data) < 3:
            raise ctx.error(f"At least 3 dimensions required in {mode} mode, got data {data}")
        norm = (data[0], 1) + tuple(data[2:]) if mode == "channel" else (data[0], data[1])
    return [data], [data, norm]


_L2_PARAMS = [
    Param("eps", "float", 1e-10, "Epsilon to prevent div 0"),
    Param("mode", "str", "instance",
          "Normalization Mode. If set to instance, this operator will compute a norm for each "
          "instance in the batch; this is the default mode. If set to channel, this operator "
          "will compute a cross channel norm at each position of each instance. If set to "
          "spatial, this operator will compute a norm for each channel.",
          choices=("instance", "channel", "spatial")),
]

register(OpDef(
    "L2Normalization",
    params=_L2_PARAMS,
    outputs=("output", "norm"),
    num_visible_outputs=lambda params: 1,
    infer_shape=_l2_shape,
    kernel=lambda b: kernels("layers").append_l2_normalization(
        b.plan, b.inputs[0], *b.outputs, mode=b.params["mode"], eps=b.params["eps"],
        req=b.req[0], label=b.label),
    gradient=lambda g: backward_grads(g, "_backward_L2Normalization", g.outputs[0],
                                      g.outputs[1]),
    doc="out = data / sqrt(sum(data ** 2) + eps), the sum taken per instance (mode "
        "'instance'), across channels at each position ('channel') or over the spatial axes "
        "of each channel ('spatial').",
))

register(OpDef(
    "_backward_L2Normalization",
    params=_L2_PARAMS,
    inputs=("out_grad", "output", "norm"),
    outputs=("data_grad",),
    infer_shape=lambda ctx, ins, outs: (ins, [ins[1]]),
    inplace=((0, 0),),
    kernel=lambda b: kernels("layers").append_l2_normalization_backward(
        b.plan, *b.inputs, b.outputs[0], mode=b.params["mode"], req=b.req[0], label=b.label),
    hidden=True,
    doc="dX = (dY - out * Σ(dY * out)) / norm.",
))


# ---------------------------------------------------------------------------------------------
# LRN

def _lrn_shape(ctx, ins, outs):
    """data (N, C, H, W) -> out and a hidden normaliser, both data's shape; nsize is odd."""
    data = _data_or_output(ins, outs)
    if data is None:
        return ins, outs
    if len(data) != 4:
        raise ctx.error(f"LRN needs 4-D data (N, C, H, W), got {data}")
    if ctx.params["nsize"] % 2 == 0:
        raise ctx.error(f"nsize={ctx.params['nsize']}: LRN only supports odd values for local_size")
    return [data], [data, data]


_LRN_PARAMS = [
    Param("alpha", "float", 1e-4, "The variance scaling parameter alpha in the LRN expression."),
    Param("beta", "float", 0.75, "The power parameter beta in the LRN expression."),
    Param("knorm", "float", 2.0, "The parameter k in the LRN expression."),
    Param("nsize", "int", doc="normalization window width in elements.", low=1),
]


def _lrn_workspace(params, in_shapes, out_shapes, dtype):
    return kernels("layers").lrn_workspace_bytes(in_shapes[1], np.dtype(dtype).itemsize)


register(OpDef(
    "LRN",
    params=_LRN_PARAMS,
    outputs=("output", "tmp_norm"),
    num_visible_outputs=lambda params: 1,
    infer_shape=_lrn_shape,
    kernel=lambda b: kernels("layers").append_lrn(
        b.plan, b.inputs[0], *b.outputs, nsize=b.params["nsize"], alpha=b.params["alpha"],
        beta=b.params["beta"], knorm=b.params["knorm"], req=b.req[0], label=b.label),
    gradient=lambda g: backward_grads(g, "_backward_LRN", g.inputs[0], g.outputs[1]),
    doc="Local response normalization across channels: out = data / (knorm + alpha / nsize "
        "* Σ data²)^beta, the sum over the nsize channels centred on each channel.",
))

register(OpDef(
    "_backward_LRN",
    params=_LRN_PARAMS,
    inputs=("out_grad", "data", "tmp_norm"),
    outputs=("data_grad",),
    infer_shape=lambda ctx, ins, outs: (ins, [ins[1]]),
    workspace=_lrn_workspace,
    kernel=lambda b: kernels("layers").append_lrn_backward(
        b.plan, *b.inputs, b.outputs[0], nsize=b.params["nsize"], alpha=b.params["alpha"],
        beta=b.params["beta"], workspace=b.workspace, req=b.req[0], label=b.label),
    hidden=True,
    doc="dX = dY·t^-β − 2αβ/n · X · chsum(dY·X·t^(−β−1)).",
))


# ---------------------------------------------------------------------------------------------
# SoftmaxActivation

def _sa_shape(ctx, ins, outs):
    """data -> data's shape (rank 3 or more with mode='channel')."""
    data = _data_or_output(ins, outs)
    if data is None:
        return ins, outs
    if ctx.params["mode"] == "channel" and len(data) < 3:
        raise ctx.error(f"Input need to have a least 3 dimensions when mode=channel, got {data}")
    if len(data) < 1:
        raise ctx.error(f"data {data} needs at least one dimension")
    return [data], [data]


_SA_PARAMS = [
    Param("mode", "str", "instance",
          "Specifies how to compute the softmax. If set to ``instance``, it computes softmax "
          "for each instance. If set to ``channel``, It computes cross channel softmax for "
          "each position of each instance.", choices=("instance", "channel")),
]

# The gradient is the exact one over the softmax's own axes.  MXNet 1.x's backward always
# reduces over axis 1 only, which for mode='instance' on data of more than two dimensions is
# not the derivative of its forward; for 2-D data (the usual case) both agree.
register(OpDef(
    "SoftmaxActivation",
    params=_SA_PARAMS,
    infer_shape=_sa_shape,
    inplace=((0, 0),),
    kernel=lambda b: kernels("layers").append_softmax_activation(
        b.plan, b.inputs[0], b.outputs[0], mode=b.params["mode"], req=b.req[0], label=b.label),
    gradient=lambda g: backward_grads(g, "_backward_SoftmaxActivation", g.outputs[0]),
    doc="Softmax of each instance over all but the first axis (mode 'instance'), or over "
        "axis 1 at each position (mode 'channel').  Deprecated in MXNet in favour of softmax.",
))

register(OpDef(
    "_backward_SoftmaxActivation",
    params=_SA_PARAMS,
    inputs=("out_grad", "output"),
    outputs=("data_grad",),
    infer_shape=lambda ctx, ins, outs: (ins, [ins[1]]),
    inplace=((0, 0),),
    kernel=lambda b: kernels("layers").append_softmax_activation_backward(
        b.plan, *b.inputs, b.outputs[0], mode=b.params["mode"], req=b.req[0], label=b.label),
    hidden=True,
    doc="dX = out * (dY - Σ(dY * out)).",
))


# ---------------------------------------------------------------------------------------------
# UpSampling: nearest neighbour (1 to num_args inputs), or bilinear: MXNet's grouped
# Deconvolution of (data, weight) with kernel 2*scale - scale%2, stride scale and pad
# ceil((scale-1)/2), one group per channel (num_filter = channels), no bias

def _is_bilinear(params):
    return params["sample_type"] == "bilinear"


def _up_inputs(params):
    if _is_bilinear(params):
        return ["data", "weight"]
    return [f"arg{i}" for i in range(params["num_args"])]


def _bilinear_deconv_attrs(params):
    """The Deconvolution geometry MXNet's UpSamplingBilinear runs (GetDeconvolutionParam)."""
    scale = params["scale"]
    kernel = 2 * scale - scale % 2
    pad = (scale - 1 + 1) // 2   # ceil((scale - 1) / 2)
    return dict(kernel=(kernel, kernel), stride=(scale, scale), dilate=(1, 1), pad=(pad, pad),
                num_group=params["num_filter"])


def _bilinear_shape(ctx, ins, outs):
    """data (N, C, H, W) with C = num_filter -> (N, C, H * scale, W * scale); weight (C, 1, k, k), k
    = 2 * scale - scale % 2."""
    data = ins[0]
    if data is None:
        return ins, outs
    if len(data) != 4:
        raise ctx.error(f"UpSamplingBilinear: Input data should be 4D in (batch, channel, y, x), "
                        f"got data {data}")
    if ctx.params["num_filter"] != data[1]:
        raise ctx.error(f"num_filter={ctx.params['num_filter']} must be the number of channels "
                        f"of data {data} (bilinear upsampling is one filter per channel)")
    kernel = _bilinear_deconv_attrs(ctx.params)["kernel"]
    scale = ctx.params["scale"]
    return [data, (data[1], 1) + kernel], [(data[0], data[1], data[2] * scale, data[3] * scale)]


def _up_shape(ctx, ins, outs):
    """sample_type 'nearest': arg0 (N, C0, H, W), ... -> (N, C, H * scale, W * scale), C the sum of
    the inputs' channels (multi_input_mode 'concat') or their common count ('sum'); each input's
    size divides the output's. 'bilinear': as _bilinear_shape."""
    params = ctx.params
    if _is_bilinear(params):
        return _bilinear_shape(ctx, ins, outs)
    first = ins[0]
    if first is None or any(s is None for s in ins):
        return ins, outs
    scale = params["scale"]
    out_h, out_w = None, None
    channels = 0
    for k, shape in enumerate(ins):
        if len(shape) != 4:
            raise ctx.error(f"UpSamplingNearest: Input data should be 4D in (batch, channel, y, x), "
                            f"got arg{k} {shape}")
        out_h, out_w = first[2] * scale, first[3] * scale
        if shape[0] != first[0]:
            raise ctx.error(f"arg{k} {shape} has batch size {shape[0]}, arg0 has {first[0]}")
        if shape[2] == 0 or shape[3] == 0 or out_h % shape[2] or out_w % shape[3]:
            raise ctx.error(f"UpSamplingNearest: arg{k} {shape} does not divide the output size "
                            f"({out_h}, {out_w})")
        if params["multi_input_mode"] == "sum":
            if channels and channels != shape[1]:
                raise ctx.error(f"Number of channels must be the same when multi_input_mode==sum: "
                                f"arg{k} {shape} has {shape[1]}, arg0 has {channels}")
            channels = shape[1]
        else:
            channels += shape[1]
    return ins, [(first[0], channels, out_h, out_w)]


def _up_offsets(params, inputs):
    """Channel offset of each input in the output (0 for every input in 'sum' mode)."""
    offsets, begin = [], 0
    for x in inputs:
        offsets.append(0 if params["multi_input_mode"] == "sum" else begin)
        begin += x.shape[1]
    return offsets


def _up_kernel(b):
    if b.req[0] == "null":
        return
    if _is_bilinear(b.params):
        kernels("conv").append_deconvolution(b.plan, b.inputs[0], b.inputs[1], None, b.outputs[0],
                                             workspace=b.workspace, req=b.req[0], label=b.label,
                                             **_bilinear_deconv_attrs(b.params))
        return
    summed = b.params["multi_input_mode"] == "sum" and len(b.inputs) > 1
    for k, (x, offset) in enumerate(zip(b.inputs, _up_offsets(b.params, b.inputs))):
        req = "add" if summed and k > 0 else b.req[0]
        kernels("layers").append_upsampling(b.plan, x, b.outputs[0], offset=offset, req=req,
                                     label=b.label)


def _up_backward_kernel(b):
    if _is_bilinear(b.params):
        dy, x, w = b.inputs
        kernels("conv").append_deconvolution_backward(
            b.plan, dy, x, w, b.outputs[0], b.outputs[1], None, workspace=b.workspace,
            req_dx=b.req[0], req_dw=b.req[1], req_db="null", label=b.label,
            **_bilinear_deconv_attrs(b.params))
        return
    dy, inputs = b.inputs[0], b.inputs[1:]
    for k, (dx, offset) in enumerate(zip(b.outputs, _up_offsets(b.params, inputs))):
        kernels("layers").append_upsampling_backward(b.plan, dy, dx, offset=offset, req=b.req[k],
                                              label=b.label)


def _up_workspace(params, in_shapes, out_shapes, dtype):
    """Bilinear: the im2col buffer of the Deconvolution it runs; nearest needs none."""
    if not _is_bilinear(params):
        return 0
    data = in_shapes[0]
    return kernels("conv").deconv_workspace_bytes(
        out_shapes[0], (data[1], 1) + _bilinear_deconv_attrs(params)["kernel"],
        itemsize=np.dtype(dtype).itemsize, **_bilinear_deconv_attrs(params))


def _up_backward_workspace(params, in_shapes, out_shapes, dtype):
    # inputs are (out_grad, data[, weight]): the forward's buffer
    return _up_workspace(params, in_shapes[1:], [in_shapes[0]], dtype)


_UP_PARAMS = [
    Param("scale", "int", doc="Up sampling scale", low=1),
    Param("num_filter", "int", 0, "Input filter. Only used by bilinear sample_type. Since "
                                  "bilinear upsampling uses deconvolution, num_filters is set "
                                  "to the number of channels.", low=0),
    Param("sample_type", "str", doc="upsampling method", choices=("nearest", "bilinear")),
    Param("multi_input_mode", "str", "concat",
          "How to handle multiple input. concat means concatenate upsampled images along the "
          "channel dimension. sum means add all images together, only available for nearest "
          "neighbor upsampling.", choices=("concat", "sum")),
    Param("num_args", "int", doc="Number of inputs to be upsampled. For nearest neighbor "
                                 "upsampling, this can be 1-N; the size of output will be "
                                 "(scale*h_0,scale*w_0) and all other inputs will be upsampled "
                                 "to the same size. For bilinear upsampling this must be 2; 1 "
                                 "input and 1 weight (MXNet's symbol API stores 1 when only the "
                                 "data is given).", low=1),
    Param("workspace", "int", 512, "Ignored: tmp workspace for deconvolution (MB).", low=0),
]

register(OpDef(
    "UpSampling",
    params=_UP_PARAMS,
    variadic="num_args",
    inputs=_up_inputs,
    variadic_counts=lambda params: not _is_bilinear(params),
    infer_shape=_up_shape,
    kernel=_up_kernel,
    workspace=_up_workspace,
    var_attrs={"weight": {"__init__": '["bilinear", {}]'}},
    # the forward inputs are passed for their shapes (nearest: they size the pieces of the
    # gradient) or values (bilinear: the Deconvolution's data and weight)
    gradient=lambda g: backward_grads(g, "_backward_UpSampling", *g.inputs),
    doc="Upsampling of (N, C, H, W) inputs by `scale`.  sample_type='nearest': each input is "
        "repeated to the first input's upsampled size, and the results are concatenated along "
        "channels (multi_input_mode='concat') or summed ('sum').  sample_type='bilinear': "
        "inputs (data, weight); a Deconvolution of data with weight (C, 1, k, k), k = 2*scale - "
        "scale%2, stride scale, pad ceil((scale-1)/2), one group per channel (num_filter must "
        "be C); the weight variable is initialized 'bilinear'.",
))

register(OpDef(
    "_backward_UpSampling",
    params=_UP_PARAMS,
    inputs=lambda params: ["out_grad"] + _up_inputs(params),
    outputs=lambda params: [f"{name}_grad" for name in _up_inputs(params)],
    infer_shape=lambda ctx, ins, outs: (ins, list(ins[1:])),
    kernel=_up_backward_kernel,
    workspace=_up_backward_workspace,
    hidden=True,
    doc="Nearest: each input's gradient is its slice of dY summed over the upsampled blocks.  "
        "Bilinear: the Deconvolution's data and weight gradients.",
))


# ---------------------------------------------------------------------------------------------
# Deconvolution: the data gradient of a Convolution whose data is Deconvolution's output

def deconv_geometry(ctx, data):
    """(kernel, stride, dilate, pad, adj, out_spatial) for data of shape `data`, with
    MXNet's defaults and, when target_shape is set, the pad and adj that produce it."""
    kernel, stride, dilate, pad = conv_geometry(ctx, len(data))
    ndim = len(kernel)
    adj = spatial_param(ctx, "adj", ndim, 0)
    if min(adj) < 0:
        raise ctx.error(f"adj={adj} must be non-negative")
    target = tuple(ctx.params["target_shape"])
    spatial = tuple(data[2:])
    extent = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilate))
    if any(target):
        if len(target) != ndim or min(target) < 1:
            raise ctx.error(f"target_shape={target} must give {ndim} positive sizes for "
                            f"kernel={kernel}")
        pad, adj = [], []
        for size, s, e, t in zip(spatial, stride, extent, target):
            total = s * (size - 1) + e - t
            if total < 0:
                raise ctx.error(f"target_shape={target} is too big for data {data}: at most "
                                f"{s * (size - 1) + e} per dimension")
            adj.append(total % 2)
            pad.append((total + 1) // 2)
        pad, adj = tuple(pad), tuple(adj)
    for a, s in zip(adj, stride):
        if a > s - 1:
            raise ctx.error(f"adj={adj} must be smaller than stride={stride}")
    out = tuple(s * (size - 1) + e - 2 * p + a
                for size, s, e, p, a in zip(spatial, stride, extent, pad, adj))
    if min(out) < 1:
        raise ctx.error(f"pad={pad} is too large: output spatial size {out} for data {data}")
    return kernel, stride, dilate, pad, adj, out


def _deconv_shape(ctx, ins, outs):
    """data (N, C, *spatial) -> (N, num_filter, *out), out = stride * (size - 1) + dilate * (kernel
    - 1) + 1 - 2 * pad + adj (or target_shape); weight (C, num_filter / num_group, *kernel), bias
    (num_filter,) unless no_bias."""
    data = ins[0]
    filters, groups = ctx.params["num_filter"], ctx.params["num_group"]
    bias = [] if ctx.params["no_bias"] else [(filters,)]
    if data is None:
        return [None, ins[1]] + bias, outs
    _kernel, _stride, _dilate, _pad, _adj, out = deconv_geometry(ctx, data)
    channels = data[1]
    if channels % groups or filters % groups:
        raise ctx.error(f"num_group={groups} must divide the input channels ({channels}) and "
                        f"num_filter ({filters})")
    weight = (channels, filters // groups) + tuple(ctx.params["kernel"])
    return [data, weight] + bias, [(data[0], filters) + out]


class _GeometryContext:
    """A RuleContext stand-in for deconv_geometry at bind time (errors become ValueError)."""

    def __init__(self, params, label):
        self.params, self.label = params, label

    def error(self, message):
        return ValueError(f"{self.label}: {message}")


def _deconv_attrs(params, data_shape, label):
    kernel, stride, dilate, pad, _adj, _out = deconv_geometry(
        _GeometryContext(params, label), tuple(data_shape))
    return dict(kernel=kernel, stride=stride, dilate=dilate, pad=pad,
                num_group=params["num_group"])


def _deconv_workspace(params, in_shapes, out_shapes, dtype):
    """The im2col buffer of the Convolution whose data has Deconvolution's output shape."""
    data, out = in_shapes[0], out_shapes[0]
    weight = (data[1], params["num_filter"] // params["num_group"]) + tuple(params["kernel"])
    return kernels("conv").deconv_workspace_bytes(out, weight, itemsize=np.dtype(dtype).itemsize,
                                                  **_deconv_attrs(params, data, "Deconvolution"))


def _deconv_kernel(b):
    bias = None if b.params["no_bias"] else b.inputs[2]
    kernels("conv").append_deconvolution(b.plan, b.inputs[0], b.inputs[1], bias, b.outputs[0],
                                         workspace=b.workspace, req=b.req[0], label=b.label,
                                         **_deconv_attrs(b.params, b.inputs[0].shape, b.label))


_DECONV_PARAMS = [
    WindowParam("kernel", doc="Deconvolution kernel size: (w,), (h, w) or (d, h, w). This is "
                              "same as the kernel size used for the corresponding convolution",
                length=(1, 2, 3)),
    WindowParam("stride", (), "The stride used for the corresponding convolution: (w,), "
                              "(h, w) or (d, h, w). Defaults to 1 for each dimension."),
    WindowParam("dilate", (), "Dilation factor for each dimension of the input: (w,), (h, w) "
                              "or (d, h, w). Defaults to 1 for each dimension."),
    WindowParam("pad", (), "The amount of implicit zero padding added during convolution "
                           "for each dimension of the input: (w,), (h, w) or (d, h, w). If "
                           "`target_shape` is set, `pad` will be ignored and a padding that "
                           "will generate the target shape will be used. Defaults to no "
                           "padding.", minimum=0),
    Param("adj", "shape", (), "Adjustment for output shape: (w,), (h, w) or (d, h, w). If "
                              "`target_shape` is set, `adj` will be ignored and computed "
                              "accordingly."),
    Param("target_shape", "shape", (), "Shape of the output tensor: (w,), (h, w) or (d, h, w)."),
    Param("num_filter", "int", doc="Number of output filters.", low=1, high=100000),
    Param("num_group", "int", 1, "Number of groups partition.", low=1),
    Param("workspace", "int", 512, "Ignored: workspace is planned at bind time.", low=0,
          high=8192),
    Param("no_bias", "bool", True, "Whether to disable bias parameter."),
    Param("cudnn_tune", "str", None, "Ignored (no cuDNN).", optional=True,
          choices=("off", "limited_workspace", "fastest")),
    Param("cudnn_off", "bool", False, "Ignored (no cuDNN)."),
    Param("layout", "str", None, "Set layout for input, output and weight. Empty for default "
                                 "layout, NCW for 1d, NCHW for 2d and NCDHW for 3d. NHWC and "
                                 "NDHWC are only supported on GPU.", optional=True,
          choices=("NCW", "NCHW", "NCDHW", "NHWC", "NDHWC")),
]

register(OpDef(
    "Deconvolution",
    params=_DECONV_PARAMS,
    inputs=conv_inputs,
    infer_shape=_deconv_shape,
    kernel=_deconv_kernel,
    gradient=lambda g: backward_grads(g, "_backward_Deconvolution", g.inputs[0], g.inputs[1]),
    workspace=_deconv_workspace,
    doc="Transposed convolution of (N, C, [[D,] H,] W) data with (C, num_filter/num_group, "
        "[[kd,] kh,] kw) weights: the gradient of a Convolution with respect to its data.  The output size is "
        "stride * (in - 1) + dilate * (kernel - 1) + 1 - 2 * pad + adj per dimension, or "
        "target_shape when given.  no_bias defaults to True, as in MXNet.",
))


def _deconv_backward_outputs(params):
    return ["data_grad", "weight_grad"] + ([] if params["no_bias"] else ["bias_grad"])


def _deconv_backward_shape(ctx, ins, outs):
    bias = [] if ctx.params["no_bias"] else [(ctx.params["num_filter"],)]
    return ins, [ins[1], ins[2]] + bias


def _deconv_backward_workspace(params, in_shapes, out_shapes, dtype):
    # inputs are (out_grad, data, weight): the same buffer as the forward's
    return _deconv_workspace(params, [in_shapes[1]], [in_shapes[0]], dtype)


def _deconv_backward_kernel(b):
    dy, x, w = b.inputs
    db = None if b.params["no_bias"] else b.outputs[2]
    req_db = "null" if db is None else b.req[2]
    kernels("conv").append_deconvolution_backward(
        b.plan, dy, x, w, b.outputs[0], b.outputs[1], db, workspace=b.workspace,
        req_dx=b.req[0], req_dw=b.req[1], req_db=req_db, label=b.label,
        **_deconv_attrs(b.params, x.shape, b.label))


register(OpDef(
    "_backward_Deconvolution",
    params=_DECONV_PARAMS,
    inputs=("out_grad", "data", "weight"),
    outputs=_deconv_backward_outputs,
    infer_shape=_deconv_backward_shape,
    kernel=_deconv_backward_kernel,
    workspace=_deconv_backward_workspace,
    hidden=True,
    doc="dX = conv(dY, W) (Convolution's forward), dW = Convolution's weight gradient with the "
        "roles of data and output gradient swapped, db = Σ dY.",
))
