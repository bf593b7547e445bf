"""Convolution and Pooling (1-D and 2-D, layout NCW / NCHW)."""
import math

from ..registry import OpDef, Param, register


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


register(OpDef(
    "Convolution",
    params=[
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
    ],
    inputs=_conv_inputs,
    infer_shape=_conv_shape,
    doc="Convolution of (N, C, [H,] W) data with (num_filter, C/num_group, [kh,] kw) weights.",
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


register(OpDef(
    "Pooling",
    params=[
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
    ],
    outputs=_pool_outputs,
    num_visible_outputs=lambda params: 1,
    infer_shape=_pool_shape,
    doc="Pooling over (N, C, [H,] W) windows: max, avg or sum.",
))
