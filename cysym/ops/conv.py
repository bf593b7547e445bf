"""Convolution and Pooling (1-D, 2-D and 3-D: layouts NCW / NCHW / NCDHW, and for Pooling the
channels-last NWC / NHWC / NDHWC too)."""
import math

import numpy as np

from ..registry import REQUIRED, OpDef, Param, register
from .common import backward_grads, kernels


CHANNELS_LAST = ("NWC", "NHWC", "NDHWC")
CHANNELS_FIRST = ("NCW", "NCHW", "NCDHW")


class WindowParam(Param):
    """A shape parameter of a sliding window (kernel, stride, dilate, pad), each of whose values
    must be at least `minimum`: checked when the symbol is created or loaded.  MXNet's parser
    refuses a zero kernel or stride; negative values, which it lets through to negative
    shapes, are refused too."""

    def __init__(self, name, default=REQUIRED, doc="", minimum=1, **kwargs):
        super().__init__(name, "shape", default, doc, **kwargs)
        self.minimum = minimum

    def parse(self, value):
        parsed = super().parse(value)
        if parsed is not None and any(v is not None and v < self.minimum for v in parsed):
            raise ValueError(f"each value must be at least {self.minimum}")
        return parsed

    def describe(self):
        return super().describe().replace("\n", f", each at least {self.minimum}\n", 1)


def spatial_param(ctx, name, ndim, default):
    """Parameter `name` as one value per spatial dimension; () means `default` for each."""
    values = ctx.params[name]
    values = tuple(values) if values else (default,) * ndim
    if len(values) != ndim:
        raise ctx.error(f"{name}={values} has {len(values)} values for {ndim} spatial dimensions")
    return values


def conv_inputs(params):
    """Convolution's and Deconvolution's inputs: bias unless no_bias."""
    return ["data", "weight"] if params["no_bias"] else ["data", "weight", "bias"]


def conv_geometry(ctx, data_ndim):
    """(kernel, stride, dilate, pad) with MXNet's defaults filled in."""
    kernel = tuple(ctx.params["kernel"])
    ndim = len(kernel)
    if ndim not in (1, 2, 3):
        raise ctx.error(f"kernel={kernel}: only 1-D, 2-D and 3-D convolution are supported")
    if ctx.params["layout"] in CHANNELS_LAST:
        raise ctx.error(f"layout {ctx.params['layout']} is only supported on GPU (as in MXNet)")
    if ctx.params["layout"] not in (None, CHANNELS_FIRST[ndim - 1]):
        raise ctx.error(f"layout {ctx.params['layout']} does not fit kernel={kernel}")
    if data_ndim is not None and data_ndim != ndim + 2:
        raise ctx.error(f"kernel {kernel} needs {ndim + 2}-D data (N, C, ...), got {data_ndim}-D")
    stride = spatial_param(ctx, "stride", ndim, 1)
    dilate = spatial_param(ctx, "dilate", ndim, 1)
    pad = spatial_param(ctx, "pad", ndim, 0)
    if min(kernel + stride + dilate) < 1 or min(pad) < 0:
        raise ctx.error(f"kernel, stride and dilate must be positive and pad non-negative, got "
                        f"kernel={kernel} stride={stride} dilate={dilate} pad={pad}")
    return kernel, stride, dilate, pad


def conv_output_spatial(ctx, data, kernel, stride, dilate, pad):
    """The spatial sizes of a convolution's output over `data` (N, C, ...)."""
    spatial = []
    for size, k, s, d, p in zip(data[2:], kernel, stride, dilate, pad):
        extent = d * (k - 1) + 1
        if size + 2 * p < extent:
            raise ctx.error(f"kernel {kernel} (dilate {dilate}) is larger than the padded input {data}")
        spatial.append((size + 2 * p - extent) // s + 1)
    return tuple(spatial)


def _conv_shape(ctx, ins, outs):
    """data (N, C, *spatial) -> (N, num_filter, *out), out = (size + 2 * pad - dilate * (kernel - 1)
    - 1) // stride + 1; weight (num_filter, C / num_group, *kernel), bias (num_filter,) unless
    no_bias."""
    data = ins[0]
    kernel, stride, dilate, pad = conv_geometry(ctx, None if data is None else len(data))
    filters, groups = ctx.params["num_filter"], ctx.params["num_group"]
    bias = None if ctx.params["no_bias"] else (filters,)
    if data is None:
        return [None, ins[1]] + ([bias] if bias else []), outs
    channels = data[1]
    if channels % groups or filters % groups:
        raise ctx.error(f"num_group={groups} must divide the input channels ({channels}) and "
                        f"num_filter ({filters})")
    weight = (filters, channels // groups) + kernel
    out = (data[0], filters) + conv_output_spatial(ctx, data, kernel, stride, dilate, pad)
    return [data, weight] + ([bias] if bias else []), [out]


# Winograd F(2x2, 3x3) does 2.25x fewer multiply-adds than im2col + GEMM but transforms the
# data, outputs and weights on every call; it wins when its GEMMs get enough tiles (2x2 output
# blocks, over the whole batch).  One thread, float32, OpenBLAS Haswell kernels, 3x3 pad-1
# layers, im2col time / Winograd time (two runs, loaded machine): 512->512 at 14x14 batch 1
# (49 tiles) 0.92, batch 2 (98) 1.15, batch 4 (196) 1.30; 384->384 at 17x17 (81) 1.01-1.06;
# 64->64 at 56x56 1.5; 512->512 at 28x28 1.25-1.5; 128->128 at 112x112 1.6.
# F(4x4, 3x3) (36 GEMMs; 4x fewer multiply-adds than im2col where F(2x2) has 2.25x) was built
# and measured, and not kept (2026-11-30, one thread, float32, AVX2 builds of both, median of 9
# interleaved rounds, F(4x4) time / F(2x2) time, two runs): 512->512 at 7x7 batch 32 0.80 and
# at 28x28 batch 2 0.88 (one run), but 64->64 at 56x56 batch 32 1.2-1.4, 128->32 at 56x56
# 1.3-1.4, 256->256 at 14x14 batch 2 1.5 (one run).  Its transforms cost 1.65x F(2x2)'s per
# layer, and OpenBLAS packs the operands of each of its 36 GEMMs, so the GEMMs took 0.7x F(2x2)'s
# time rather than 0.56x (perf, 64->64 at 56x56); ResNet-50's inference at batch 32 with it on
# the 512-channel layers only: 1.02x.
WINOGRAD_MIN_TILES = 96
WINOGRAD_MIN_CHANNELS = 16
# Outputs under 8x8 (ResNet's 7x7 stage): tiles cut by the edge waste a quarter of F(2x2)'s
# products at 7x7 and go through the transforms' edge paths.  With OpenBLAS's AVX-512 GEMMs
# (twice the AVX2 ones' rate) im2col then wins below 512 tiles: Winograd time / im2col time, one
# thread, float32, Zen 5, 512->512 at 7x7 batch 8 / 16 / 32 (128 / 256 / 512 tiles) 1.24 / 1.04
# / 0.94-0.96, 256->256 at batch 16 1.09, a training step at batch 8 / 32 1.26 / 1.02; with the
# AVX2 kernels (OPENBLAS_CORETYPE=Haswell) 0.95 / 0.87 at batch 8 / 16, 256->256 0.92.  8x8
# outputs gain from 128 tiles on both (448->384 at batch 8: 0.86).
WINOGRAD_MIN_TILES_SMALL_OUTPUT = 512
SMALL_OUTPUT = 8


def _avx512_gemm():
    """Whether OpenBLAS runs its AVX-512 GEMM kernels (tests set either answer)."""
    return kernels("threads").blas_avx512_kernels()


def _winograd_fits(params, data_shape):
    """Whether this Convolution runs (and its data gradient) by Winograd F(2x2, 3x3): 2-D,
    3x3, stride and dilation 1, one group, pad at most 2, and enough tiles and channels."""
    kernel = tuple(params["kernel"])
    if len(kernel) != 2 or kernel != (3, 3) or params["num_group"] != 1:
        return False
    stride, dilate, pad = (tuple(params[k]) or (default, default)
                           for k, default in (("stride", 1), ("dilate", 1), ("pad", 0)))
    if stride != (1, 1) or dilate != (1, 1) or max(pad) > 2:
        return False
    batch, channels, height, width = data_shape
    tiles = batch * ((height + 2 * pad[0] - 1) // 2) * ((width + 2 * pad[1] - 1) // 2)
    least = WINOGRAD_MIN_TILES
    if min(height + 2 * pad[0] - 2, width + 2 * pad[1] - 2) < SMALL_OUTPUT and _avx512_gemm():
        least = WINOGRAD_MIN_TILES_SMALL_OUTPUT
    return tiles >= least and min(channels, params["num_filter"]) >= WINOGRAD_MIN_CHANNELS


def _winograd_forward(params, data_shape, dtype):
    """Whether the forward runs by Winograd: where it fits and the AVX-512 build's 3x3 blocks
    and filter lanes do not take the layer (the data gradient: _winograd_data_gradient)."""
    return _winograd_fits(params, data_shape) and not kernels("conv").conv_forward_blocks(
        data_shape, _weight_shape(params, data_shape), itemsize=np.dtype(dtype).itemsize,
        **_conv_attrs(params))


def _pad_2d(params):
    return tuple(params["pad"]) or (0, 0)


def _winograd_bytes(params, data_shape, dtype):
    itemsize = np.dtype(dtype).itemsize
    batch, channels, height, width = data_shape
    return itemsize * kernels("winograd").workspace_elements(
        batch, channels, height, width, params["num_filter"], _pad_2d(params), itemsize)


def _is_dense(params, data_shape):
    """A 1x1 convolution of one group over 1x1 inputs without padding (MobileNet v2's and
    SqueezeNet-style classifiers) is a FullyConnected layer on (N, C): the dense kernels run it,
    as gemv at batch 1 (as a GEMM with one column, OpenBLAS is 5-10x slower)."""
    return (params["num_group"] == 1 and all(k == 1 for k in params["kernel"])
            and all(p == 0 for p in params["pad"]) and all(d == 1 for d in data_shape[2:]))


def _conv_workspace(params, in_shapes, out_shapes, dtype):
    """Bytes of the im2col buffer (and staging block) for one chunk of samples, or Winograd's
    transformed weights and one block of transformed tiles."""
    data = in_shapes[0]
    if _winograd_forward(params, data, dtype):
        return _winograd_bytes(params, data, dtype)
    return _im2col_bytes(params, data, dtype, forward=True)


def _weight_shape(params, data_shape):
    """(num_filter, C / num_group) + kernel: the weight of this layer on data of data_shape."""
    return ((params["num_filter"], data_shape[1] // params["num_group"])
            + tuple(params["kernel"]))


def _im2col_bytes(params, data_shape, dtype, forward=False):
    return kernels("conv").conv_workspace_bytes(data_shape, _weight_shape(params, data_shape),
                                                itemsize=np.dtype(dtype).itemsize,
                                                forward=forward, **_conv_attrs(params))


def _conv_attrs(params):
    return dict(kernel=params["kernel"], stride=params["stride"], dilate=params["dilate"],
                pad=params["pad"], num_filter=params["num_filter"], num_group=params["num_group"])


def _conv_kernel(b):
    _append_conv(b, None if b.params["no_bias"] else b.inputs[2], b.workspace)


def _append_conv(b, bias, workspace, activation=None, scale=None):
    """The calls of y = activation(conv(x, weight) * scale + bias), by the fastest path that
    fits (activation and scale: a fused node's, see _FusedConvolution)."""
    x, weight, y = b.inputs[0], b.inputs[1], b.outputs[0]
    if b.req[0] == "write" and _is_dense(b.params, x.shape):
        weight = weight.reshape(weight.shape[0], -1)     # (F, C), a view
        kernels("dense").append_fully_connected(b.plan, x, weight,
                                                bias if scale is None else None, y, label=b.label)
        if scale is not None:       # (N, F) outputs: passes of their own cost little
            per_channel = (1, -1) + (1,) * (y.ndim - 2)
            for op, vector in (("mul", scale), ("add", bias)):
                kernels("elemwise").append_binary(b.plan, op, y, vector.reshape(per_channel), y,
                                                  label=b.label)
        if activation is not None:
            kernels("elemwise").append_unary(b.plan, activation[0], y, y, "write", b.label,
                                             *activation[1:])
        return
    if _winograd_forward(b.params, x.shape, x.dtype):
        kernels("winograd").append_winograd(b.plan, x, weight, bias, y, _pad_2d(b.params),
                                            workspace=workspace, req=b.req[0], label=b.label,
                                            activation=activation, scale=scale)
        return
    kernels("conv").append_convolution(b.plan, x, weight, bias, y, workspace=workspace,
                                       req=b.req[0], label=b.label, activation=activation,
                                       scale=scale, **_conv_attrs(b.params))


def _conv_gradient(g):
    # one node computes dX (GEMM + col2im), dW (im2col + GEMM) and db; bias itself is not needed
    return backward_grads(g, "_backward_Convolution", g.inputs[0], g.inputs[1])


_CONV_PARAMS = [
    WindowParam("kernel", doc="Convolution kernel size: (w,), (h, w) or (d, h, w).",
                length=(1, 2, 3)),
    WindowParam("stride", (), "Convolution stride: (w,), (h, w) or (d, h, w). Defaults to 1 "
                              "for each dimension."),
    WindowParam("dilate", (), "Convolution dilate: (w,), (h, w) or (d, h, w). Defaults to 1 "
                              "for each dimension."),
    WindowParam("pad", (), "Zero pad for convolution: (w,), (h, w) or (d, h, w). Defaults to "
                           "no padding.", minimum=0),
    Param("num_filter", "int", doc="Convolution filter (channel) number.", low=1),
    Param("num_group", "int", 1, "Number of group partitions.", low=1),
    Param("workspace", "int", 1024, "Ignored: workspace is planned at bind time.", low=0),
    Param("no_bias", "bool", False, "Whether to disable bias parameter."),
    Param("cudnn_tune", "str", None, "Ignored (no cuDNN).", optional=True,
          choices=("off", "limited_workspace", "fastest")),
    Param("cudnn_off", "bool", False, "Ignored (no cuDNN)."),
    Param("layout", "str", None, "Set layout for input, output and weight. Empty for default "
                                 "layout: NCW for 1d, NCHW for 2d and NCDHW for 3d. NHWC and "
                                 "NDHWC are only supported on GPU.", optional=True,
          choices=("NCW", "NCHW", "NCDHW", "NHWC", "NDHWC")),
]

register(OpDef(
    "Convolution",
    # MXNet's pre-1.0 layer takes a subset of these parameters and computes the same
    aliases=("Convolution_v1",),
    params=_CONV_PARAMS,
    inputs=conv_inputs,
    infer_shape=_conv_shape,
    kernel=_conv_kernel,
    gradient=_conv_gradient,
    workspace=_conv_workspace,
    doc="Convolution of (N, C, [[D,] H,] W) data with (num_filter, C/num_group, [[kd,] kh,] kw) "
        "weights.",
))


def _conv_backward_outputs(params):
    return ["data_grad", "weight_grad"] + ([] if params["no_bias"] else ["bias_grad"])


def _conv_backward_shape(ctx, ins, outs):
    grads = [ins[1], ins[2]] + ([] if ctx.params["no_bias"] else [(ctx.params["num_filter"],)])
    return ins, grads


def _conv_backward_workspace(params, in_shapes, out_shapes, dtype):
    # inputs are (out_grad, data, weight): the forward's buffer, and where Winograd computes dX,
    # room for whichever of its and im2col's (for dW) is larger: the two run one after the other
    data = in_shapes[1]
    im2col = _im2col_bytes(params, data, dtype)
    if _winograd_data_gradient(params, data, dtype):
        return max(im2col, _winograd_bytes(params, data, dtype))
    return im2col


def _winograd_data_gradient(params, data_shape, dtype):
    """Whether the data gradient runs by Winograd: where it fits and the filter lanes of the
    AVX-512 build do not take it."""
    return _winograd_fits(params, data_shape) and not kernels("conv").conv_data_grad_lanes(
        data_shape, _weight_shape(params, data_shape), itemsize=np.dtype(dtype).itemsize,
        **_conv_attrs(params))


def _conv_backward_kernel(b):
    dy, x, w = b.inputs
    db = None if b.params["no_bias"] else b.outputs[2]
    req_db = "null" if db is None else b.req[2]
    if _is_dense(b.params, x.shape):
        kernels("dense").append_fully_connected_backward(
            b.plan, dy, x, w.reshape(w.shape[0], -1), b.outputs[0], b.outputs[1], db,
            req_dx=b.req[0], req_dw=b.req[1], req_db=req_db, label=b.label)
        return
    winograd_dx = b.req[0] != "null" and _winograd_data_gradient(b.params, x.shape, x.dtype)
    kernels("conv").append_convolution_backward(b.plan, dy, x, w, b.outputs[0], b.outputs[1], db,
                                           workspace=b.workspace,
                                           req_dx="null" if winograd_dx else b.req[0],
                                           req_dw=b.req[1], req_db=req_db, label=b.label,
                                           **_conv_attrs(b.params))
    if winograd_dx:
        kernels("winograd").append_winograd(b.plan, dy, w, None, b.outputs[0],
                                            _pad_2d(b.params),
                                            workspace=b.workspace, req=b.req[0], label=b.label,
                                            data_gradient=True)


register(OpDef(
    "_backward_Convolution",
    params=_CONV_PARAMS,
    inputs=("out_grad", "data", "weight"),
    outputs=_conv_backward_outputs,
    infer_shape=_conv_backward_shape,
    kernel=_conv_backward_kernel,
    workspace=_conv_backward_workspace,
    hidden=True,
    doc="dX = col2im(Wᵀ·dY), dW = Σₙ dYₙ·im2col(Xₙ)ᵀ, db = Σ dY in one pass.",
))


# A Convolution with the BatchNorm (moving statistics) and the relu or clip that follow it,
# fused at bind time by cysym/fusion.py in executors that compute no gradient: the BatchNorm's
# per-channel scale and shift are computed from the live arrays at every run, and the
# convolution's output loop applies them and the activation as each output block is written.
# Never in a symbol the user sees.
FUSED_ACTIVATIONS = ("none", "relu", "clip")
_AFFINE_ALIGN = 64      # bytes: the scale and shift vectors start the workspace, each aligned


def _fused_conv_inputs(params):
    return conv_inputs(params) + (["gamma", "beta", "moving_mean", "moving_var"]
                                  if params["with_bn"] else [])


def _fused_conv_shape(ctx, ins, outs):
    conv_ins, conv_outs = _conv_shape(ctx, ins[:len(conv_inputs(ctx.params))], outs)
    channels = [(ctx.params["num_filter"],)] * (len(ins) - len(conv_ins))
    return conv_ins + channels, conv_outs


def _affine_bytes(params, dtype):
    """Bytes of the aligned scale and shift vectors (none without a BatchNorm)."""
    vector = params["num_filter"] * np.dtype(dtype).itemsize
    return 2 * (-(-vector // _AFFINE_ALIGN) * _AFFINE_ALIGN) if params["with_bn"] else 0


def _fused_conv_workspace(params, in_shapes, out_shapes, dtype):
    return _affine_bytes(params, dtype) + (_conv_workspace(params, in_shapes, out_shapes, dtype) or 0)


def _fused_activation(params):
    act = params["act_type"]
    if act == "none":
        return None
    return ("relu",) if act == "relu" else ("clip", params["a_min"], params["a_max"])


def _fused_conv_kernel(b):
    params = b.params
    bias = None if params["no_bias"] else b.inputs[2]
    workspace, scale = b.workspace, None
    if b.req[0] != "write":     # nothing reads the output
        return
    if params["with_bn"]:
        dtype, filters = b.outputs[0].dtype, params["num_filter"]
        affine = _affine_bytes(params, dtype)
        scale = workspace[:filters * dtype.itemsize].view(dtype)
        shift = workspace[affine // 2:affine // 2 + filters * dtype.itemsize].view(dtype)
        kernels("norm").append_batch_norm_affine(b.plan, bias, *b.inputs[-4:], scale, shift,
                                                 eps=params["eps"], fix_gamma=params["fix_gamma"],
                                                 label=b.label)
        bias = shift
        workspace = workspace[affine:] if workspace.size > affine else None
    _append_conv(b, bias, workspace, _fused_activation(params), scale)


register(OpDef(
    "_FusedConvolution",
    params=_CONV_PARAMS + [
        Param("with_bn", "bool", False, "Whether a BatchNorm (moving statistics) follows."),
        Param("eps", "float", 1e-3, "The BatchNorm's eps."),
        Param("fix_gamma", "bool", True, "The BatchNorm's fix_gamma."),
        Param("act_type", "str", "none", "The activation that follows.", choices=FUSED_ACTIVATIONS),
        Param("a_min", "float", 0.0, "clip's lower bound (act_type 'clip')."),
        Param("a_max", "float", 0.0, "clip's upper bound (act_type 'clip')."),
    ],
    inputs=_fused_conv_inputs,
    infer_shape=_fused_conv_shape,
    kernel=_fused_conv_kernel,
    workspace=_fused_conv_workspace,
    hidden=True,
    doc="Convolution, then BatchNorm with its moving statistics (a scale and shift per channel, "
        "computed at each run), then relu or clip, in one pass over the output: made by "
        "cysym/fusion.py at bind time.",
))


def pool_layout(ctx, ndim):
    """The data layout (MXNet's default for `ndim` spatial dimensions when not given), checked."""
    layout = ctx.params["layout"] or CHANNELS_FIRST[ndim - 1]
    if layout not in (CHANNELS_FIRST[ndim - 1], CHANNELS_LAST[ndim - 1]):
        raise ctx.error(f"layout {layout} does not fit {ndim + 2}-D data")
    return layout


def pool_geometry(ctx, data):
    """(kernel, stride, pad, spatial) for Pooling, with global_pool and defaults applied."""
    if len(data) not in (3, 4, 5):
        raise ctx.error(f"Pooling supports 3-D, 4-D and 5-D data (N, C, [[D,] H,] W), got shape {data}")
    ndim = len(data) - 2
    channels_last = pool_layout(ctx, ndim) in CHANNELS_LAST
    spatial = tuple(data[1:-1] if channels_last else data[2:])
    if ctx.params["pooling_convention"] == "same" and (ndim != 1 or any(ctx.params["pad"])):
        raise ctx.error(f"pooling_convention='same' supports 1-D pooling (3-D data) without pad "
                        f"only, got data {data} and pad={tuple(ctx.params['pad'])}")
    if ctx.params["global_pool"]:
        return spatial, (1,) * ndim, (0,) * ndim, spatial
    kernel = tuple(ctx.params["kernel"])
    if len(kernel) != ndim:
        raise ctx.error(f"kernel={kernel} does not match the {ndim} spatial dimensions of {data}")
    stride = spatial_param(ctx, "stride", ndim, 1)
    # MXNet 1.9.1 runs 'same' only with a 3-value zero pad (its check reads pad[0..2])
    same = ctx.params["pooling_convention"] == "same"
    pad = (0,) * ndim if same else spatial_param(ctx, "pad", ndim, 0)
    return kernel, stride, pad, spatial


def _pool_shape(ctx, ins, outs):
    """data (N, C, *spatial) -> (N, C, *out) (channels-last layouts keep C last): out = (size + 2 *
    pad - kernel) // stride + 1 for pooling_convention 'valid', ceil((size + 2 * pad - kernel) /
    stride) + 1 for 'full', ceil((size + 2 * pad) / stride) for 'same', 1 with global_pool."""
    data = ins[0]
    if data is None:
        return ins, outs
    if ctx.params["pool_type"] == "lp" and ctx.params["p_value"] not in (1, 2, 3):
        raise ctx.error(f"pool_type='lp' needs p_value 1, 2 or 3, got {ctx.params['p_value']}")
    kernel, stride, pad, spatial_in = pool_geometry(ctx, data)
    convention = ctx.params["pooling_convention"]
    spatial = []
    for size, k, s, p in zip(spatial_in, kernel, stride, pad):
        if size + 2 * p < k:
            raise ctx.error(f"kernel {kernel} is larger than the padded input {data}")
        if ctx.params["global_pool"]:
            spatial.append(1)
        elif convention == "full":
            spatial.append(math.ceil((size + 2 * p - k) / s) + 1)
        elif convention == "same":
            spatial.append(math.ceil((size + 2 * p) / s))
        else:
            spatial.append((size + 2 * p - k) // s + 1)
    if pool_layout(ctx, len(data) - 2) in CHANNELS_LAST:
        out = (data[0],) + tuple(spatial) + (data[-1],)
    else:
        out = tuple(data[:2]) + tuple(spatial)
    return ins, [out] * len(outs)


def _pool_outputs(params):
    # MXNet's PyPI (MKL-DNN) build gives max pooling a hidden workspace output when MKL-DNN
    # runs it (a kernel given, channels-first layout); declaring it too keeps node_row_ptr,
    # and so our JSON, byte-identical to MXNet's.
    mkldnn = (params["pool_type"] == "max" and len(params["kernel"]) in (1, 2, 3)
              and params["layout"] in (None,) + CHANNELS_FIRST)
    return ("output", "workspace") if mkldnn else ("output",)


def _pool_attrs(params):
    return dict(pool_type=params["pool_type"], kernel=params["kernel"], stride=params["stride"],
                pad=params["pad"], global_pool=params["global_pool"],
                pooling_convention=params["pooling_convention"],
                count_include_pad=params["count_include_pad"], p_value=params["p_value"],
                layout=params["layout"])


def _pool_kernel(b):
    # max pooling's hidden "workspace" output is left untouched: the backward recomputes the
    # argmax from the data, so nothing reads it
    kernels("conv").append_pooling(b.plan, b.inputs[0], b.outputs[0], req=b.req[0], label=b.label,
                              **_pool_attrs(b.params))


def _pool_gradient(g):
    return backward_grads(g, "_backward_Pooling", g.inputs[0])


_POOL_PARAMS = [
    WindowParam("kernel", (), "Pooling kernel size: (y, x) or (d, y, x)"),
    Param("pool_type", "str", "max", "Pooling type to be applied.",
          choices=("max", "avg", "sum", "lp")),
    Param("global_pool", "bool", False, "Ignore kernel size, do global pooling based on current "
                                        "input feature map. "),
    Param("cudnn_off", "bool", False, "Ignored (no cuDNN)."),
    Param("pooling_convention", "str", "valid", "Pooling convention to be applied: valid "
          "(floor), full (ceil) or same (ceil(in / stride) outputs, 1-D only).",
          choices=("valid", "full", "same")),
    WindowParam("stride", (), "Stride: for pooling (y, x) or (d, y, x). Defaults to 1 for "
                              "each dimension."),
    WindowParam("pad", (), "Pad for pooling: (y, x) or (d, y, x). Defaults to no padding.",
                minimum=0),
    Param("p_value", "int", None, "Value of p for Lp pooling, can be 1, 2 or 3, required for Lp "
                                  "Pooling.", optional=True),
    Param("count_include_pad", "bool", None, "Only used for AvgPool, specify whether to count "
          "padding elements for average calculation (None means True, as MXNet).",
          optional=True),
    Param("layout", "str", None, "Set layout for input and output. Empty for default layout: "
                                 "NCW for 1d, NCHW for 2d and NCDHW for 3d.", optional=True,
          choices=("NCW", "NCHW", "NCDHW", "NWC", "NHWC", "NDHWC")),
]

register(OpDef(
    "Pooling",
    # MXNet's pre-1.0 layer: a subset of these parameters (its avg counts the padding, as
    # count_include_pad's default does)
    aliases=("Pooling_v1",),
    params=_POOL_PARAMS,
    outputs=_pool_outputs,
    num_visible_outputs=lambda params: 1,
    infer_shape=_pool_shape,
    kernel=_pool_kernel,
    gradient=_pool_gradient,
    doc="Pooling over (N, C, [[D,] H,] W) windows (or channels-last layouts): max, avg, sum or "
        "lp ((sum of x**p_value)**(1/p_value)).",
))


def _pool_backward_kernel(b):
    dy, x = b.inputs
    kernels("conv").append_pooling_backward(b.plan, dy, x, b.outputs[0], req=b.req[0], label=b.label,
                                       **_pool_attrs(b.params))


register(OpDef(
    "_backward_Pooling",
    params=_POOL_PARAMS,
    inputs=("out_grad", "data"),
    outputs=("data_grad",),
    infer_shape=lambda ctx, ins, outs: (ins, [ins[1]]),
    kernel=_pool_backward_kernel,
    hidden=True,
    doc="Gradient of Pooling: max routes dY to each window's first maximum (recomputed from "
        "the data); avg and sum spread it over the window; lp gives dY * (x / y)**(p - 1), "
        "y recomputed.",
))
