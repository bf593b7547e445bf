"""Convolution and Pooling (1-D and 2-D, layout NCW / NCHW)."""
import math

import numpy as np

from ..registry import OpDef, Param, register
from .common import kernels


def _spatial(ctx, name, values, ndim, default):
    values = tuple(values) if values else (default,) * ndim
    if len(values) != ndim:
        raise ctx.error(f"{name}={values} has {len(values)} values for {ndim} spatial dimensions")
    return values


def _conv_inputs(params):
    return ["data", "weight"] if params["no_bias"] else ["data", "weight", "bias"]


def conv_geometry(ctx, data_ndim):
    """(kernel, stride, dilate, pad) with MXNet's defaults filled in."""
    kernel = tuple(ctx.params["kernel"])
    ndim = len(kernel)
    if ndim not in (1, 2):
        raise ctx.error(f"kernel={kernel}: only 1-D and 2-D convolution are supported")
    if data_ndim is not None and data_ndim != ndim + 2:
        raise ctx.error(f"kernel {kernel} needs {ndim + 2}-D data (N, C, ...), got {data_ndim}-D")
    stride = _spatial(ctx, "stride", ctx.params["stride"], ndim, 1)
    dilate = _spatial(ctx, "dilate", ctx.params["dilate"], ndim, 1)
    pad = _spatial(ctx, "pad", ctx.params["pad"], ndim, 0)
    if min(kernel + stride + dilate) < 1 or min(pad) < 0:
        raise ctx.error(f"kernel, stride and dilate must be positive and pad non-negative, got "
                        f"kernel={kernel} stride={stride} dilate={dilate} pad={pad}")
    return kernel, stride, dilate, pad


def _conv_shape(ctx, ins, outs):
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
    spatial = []
    for size, k, s, d, p in zip(data[2:], kernel, stride, dilate, pad):
        extent = d * (k - 1) + 1
        if size + 2 * p < extent:
            raise ctx.error(f"kernel {kernel} (dilate {dilate}) is larger than the padded input {data}")
        spatial.append((size + 2 * p - extent) // s + 1)
    out = (data[0], filters) + tuple(spatial)
    return [data, weight] + ([bias] if bias else []), [out]


def _conv_workspace(params, in_shapes, out_shapes, dtype):
    """Bytes of the im2col buffer (and staging block) for one chunk of samples."""
    data = in_shapes[0]
    filters, groups = params["num_filter"], params["num_group"]
    weight = (filters, data[1] // groups) + tuple(params["kernel"])
    return kernels("conv").conv_workspace_bytes(data, weight, itemsize=np.dtype(dtype).itemsize,
                                           **_conv_attrs(params))


def _conv_attrs(params):
    return dict(kernel=params["kernel"], stride=params["stride"], dilate=params["dilate"],
                pad=params["pad"], num_filter=params["num_filter"], num_group=params["num_group"])


def _conv_kernel(b):
    bias = None if b.params["no_bias"] else b.inputs[2]
    kernels("conv").append_convolution(b.plan, b.inputs[0], b.inputs[1], bias, b.outputs[0],
                                  workspace=b.workspace, req=b.req[0], label=b.label,
                                  **_conv_attrs(b.params))


def _conv_gradient(g):
    # one node computes dX (GEMM + col2im), dW (im2col + GEMM) and db; bias itself is not needed
    grads = g.op("_backward_Convolution", g.out_grads[0], g.inputs[0], g.inputs[1],
                 **g.forward_attrs())
    return list(grads)


_CONV_PARAMS = [
    Param("kernel", "shape", doc="Convolution kernel size: (w,) or (h, w).", length=(1, 2, 3)),
    Param("stride", "shape", (), "Convolution stride; default 1 per dimension."),
    Param("dilate", "shape", (), "Convolution dilation; default 1 per dimension."),
    Param("pad", "shape", (), "Zero padding on both sides; default 0."),
    Param("num_filter", "int", doc="Convolution filter (channel) number.", low=1),
    Param("num_group", "int", 1, "Number of group partitions.", low=1),
    Param("workspace", "int", 1024, "Ignored: workspace is planned at bind time."),
    Param("no_bias", "bool", False, "Whether to disable bias parameter."),
    Param("cudnn_tune", "str", None, "Ignored (no cuDNN).", optional=True),
    Param("cudnn_off", "bool", False, "Ignored (no cuDNN)."),
    Param("layout", "str", None, "Only NCW / NCHW are supported.", optional=True,
          choices=("NCW", "NCHW")),
]

register(OpDef(
    "Convolution",
    params=_CONV_PARAMS,
    inputs=_conv_inputs,
    infer_shape=_conv_shape,
    kernel=_conv_kernel,
    gradient=_conv_gradient,
    workspace=_conv_workspace,
    doc="Convolution of (N, C, [H,] W) data with (num_filter, C/num_group, [kh,] kw) weights.",
))


def _conv_backward_outputs(params):
    return ["data_grad", "weight_grad"] + ([] if params["no_bias"] else ["bias_grad"])


def _conv_backward_shape(ctx, ins, outs):
    grads = [ins[1], ins[2]] + ([] if ctx.params["no_bias"] else [(ctx.params["num_filter"],)])
    return ins, grads


def _conv_backward_workspace(params, in_shapes, out_shapes, dtype):
    # inputs are (out_grad, data, weight): the same buffer as the forward's
    return _conv_workspace(params, [in_shapes[1]], [in_shapes[0]], dtype)


def _conv_backward_kernel(b):
    dy, x, w = b.inputs
    db = None if b.params["no_bias"] else b.outputs[2]
    req_db = "null" if db is None else b.req[2]
    kernels("conv").append_convolution_backward(b.plan, dy, x, w, b.outputs[0], b.outputs[1], db,
                                           workspace=b.workspace, req_dx=b.req[0],
                                           req_dw=b.req[1], req_db=req_db, label=b.label,
                                           **_conv_attrs(b.params))


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


def pool_geometry(ctx, data):
    """(kernel, stride, pad) for Pooling, with global_pool and defaults applied."""
    spatial = tuple(data[2:])
    if len(spatial) not in (1, 2):
        raise ctx.error(f"Pooling supports 3-D and 4-D data, got shape {data}")
    if ctx.params["global_pool"]:
        return spatial, (1,) * len(spatial), (0,) * len(spatial)
    kernel = tuple(ctx.params["kernel"])
    if len(kernel) != len(spatial):
        raise ctx.error(f"kernel={kernel} does not match the {len(spatial)} spatial dimensions of {data}")
    stride = _spatial(ctx, "stride", ctx.params["stride"], len(kernel), 1)
    pad = _spatial(ctx, "pad", ctx.params["pad"], len(kernel), 0)
    return kernel, stride, pad


def _pool_shape(ctx, ins, outs):
    data = ins[0]
    if data is None:
        return ins, outs
    kernel, stride, pad = pool_geometry(ctx, data)
    spatial = []
    for size, k, s, p in zip(data[2:], kernel, stride, pad):
        if ctx.params["global_pool"]:
            spatial.append(1)
            continue
        if size + 2 * p < k:
            raise ctx.error(f"kernel {kernel} is larger than the padded input {data}")
        if ctx.params["pooling_convention"] == "full":
            spatial.append(math.ceil((size + 2 * p - k) / s) + 1)
        else:
            spatial.append((size + 2 * p - k) // s + 1)
    out = tuple(data[:2]) + tuple(spatial)
    return ins, [out] * len(outs)


def _pool_outputs(params):
    # MXNet's PyPI (MKL-DNN) build gives max pooling a hidden workspace output; declaring it
    # too keeps node_row_ptr, and so our JSON, byte-identical to MXNet's.
    return ("output", "workspace") if params["pool_type"] == "max" else ("output",)


def _pool_attrs(params):
    return dict(pool_type=params["pool_type"], kernel=params["kernel"], stride=params["stride"],
                pad=params["pad"], global_pool=params["global_pool"],
                pooling_convention=params["pooling_convention"],
                count_include_pad=params["count_include_pad"])


def _pool_kernel(b):
    # max pooling's hidden "workspace" output is left untouched: the backward recomputes the
    # argmax from the data, so nothing reads it
    kernels("conv").append_pooling(b.plan, b.inputs[0], b.outputs[0], req=b.req[0], label=b.label,
                              **_pool_attrs(b.params))


def _pool_gradient(g):
    if g.out_grads[0] is None:
        return [None]
    return [g.op("_backward_Pooling", g.out_grads[0], g.inputs[0], **g.forward_attrs())]


_POOL_PARAMS = [
    Param("kernel", "shape", (), "Pooling kernel size: (w,) or (h, w)."),
    Param("pool_type", "str", "max", "Pooling type to be applied.", choices=("max", "avg", "sum")),
    Param("global_pool", "bool", False, "Ignore kernel size, do global pooling."),
    Param("cudnn_off", "bool", False, "Ignored (no cuDNN)."),
    Param("pooling_convention", "str", "valid", "Output size: valid (floor) or full (ceil).",
          choices=("valid", "full")),
    Param("stride", "shape", (), "Stride for pooling; default 1."),
    Param("pad", "shape", (), "Pad for pooling; default 0."),
    Param("p_value", "int", None, "Value of p for Lp pooling (unsupported).", optional=True),
    Param("count_include_pad", "bool", None, "avg: count padded cells in the divisor "
                                             "(None means True, as MXNet).", optional=True),
    Param("layout", "str", None, "Only NCW / NCHW are supported.", optional=True,
          choices=("NCW", "NCHW")),
]

register(OpDef(
    "Pooling",
    params=_POOL_PARAMS,
    outputs=_pool_outputs,
    num_visible_outputs=lambda params: 1,
    infer_shape=_pool_shape,
    kernel=_pool_kernel,
    gradient=_pool_gradient,
    doc="Pooling over (N, C, [H,] W) windows: max, avg or sum.",
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
        "the data); avg and sum spread it over the window.",
))
