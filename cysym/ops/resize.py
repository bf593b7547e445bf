"""Spatial resampling of (N, C, H, W) data: _contrib_AdaptiveAvgPooling2D and
_contrib_BilinearResize2D.

Both kernels are fixed by the shapes alone, so the window bounds and interpolation weights
are computed once at bind (cysym/_ops/resize.pyx) with MXNet's own float32 arithmetic, and
the loops only gather and scatter.  Each op has a `_backward_<Op>` node that takes the
forward data for its shape only.
"""
import numpy as np

from ..registry import OpDef, Param, register
from .common import kernels


def _data_4d(ctx, shape, what="data"):
    if len(shape) != 4:
        raise ctx.error(f"{what} must be 4-D (N, C, H, W), got {shape}")
    return shape


def _backward_shape(ctx, ins, outs):
    """(out_grad, data) -> data_grad: the gradient has the data's shape."""
    return ins, [ins[1]]


def _backward_node(op_name):
    def gradient(g):
        if g.out_grads[0] is None:
            return [None] * len(g.inputs)
        grad = g.op(op_name, g.out_grads[0], g.inputs[0], **g.forward_attrs())
        # `like` is read for its shape only: MXNet gives it a zero gradient
        return [grad] + [None] * (len(g.inputs) - 1)
    return gradient


# ---------------------------------------------------------------------------------------------
# _contrib_AdaptiveAvgPooling2D

def _adaptive_output_size(ctx):
    size = tuple(ctx.params["output_size"])
    if any(d is None or d < 1 for d in size):
        raise ctx.error(f"output_size={size} must hold positive integers")
    if not size:
        return 1, 1
    return (size[0], size[0]) if len(size) == 1 else size


def _adaptive_shape(ctx, ins, outs):
    """data (N, C, H, W) -> (N, C, *output_size) (one value: a square; none: (1, 1))."""
    data = ins[0]
    if data is None:
        return ins, outs
    _data_4d(ctx, data)
    return ins, [tuple(data[:2]) + _adaptive_output_size(ctx)]


_ADAPTIVE_PARAMS = [
    Param("output_size", "shape", (), "int (output size) or a tuple of int for output "
                                      "(height, width).", length=(0, 1, 2)),
]

register(OpDef(
    "_contrib_AdaptiveAvgPooling2D",
    params=_ADAPTIVE_PARAMS,
    infer_shape=_adaptive_shape,
    kernel=lambda b: kernels("resize").append_adaptive_avg_pool(
        b.plan, b.inputs[0], b.outputs[0], req=b.req[0], label=b.label),
    gradient=_backward_node("_backward_contrib_AdaptiveAvgPooling2D"),
    doc="Applies a 2D adaptive average pooling over a 4D input with the shape of (NCHW): "
        "output cell (i, j) of an (Ho, Wo) output averages the rows "
        "[floor(i * H / Ho), ceil((i + 1) * H / Ho)) and the columns likewise.\n\n"
        "output_size: one int (a square output), (height, width), or () for 1x1.",
))

register(OpDef(
    "_backward_contrib_AdaptiveAvgPooling2D",
    params=_ADAPTIVE_PARAMS,
    inputs=("out_grad", "data"),
    outputs=("data_grad",),
    shape_only=("data",),
    infer_shape=_backward_shape,
    kernel=lambda b: kernels("resize").append_adaptive_avg_pool_backward(
        b.plan, b.inputs[0], b.outputs[0], req=b.req[0], label=b.label),
    hidden=True,
    doc="Each output cell's gradient spread evenly over its window (windows may overlap).",
))


# ---------------------------------------------------------------------------------------------
# _contrib_BilinearResize2D

_MODES = ("size", "odd_scale", "like", "to_even_down", "to_even_up", "to_odd_down", "to_odd_up")


def _scaled(ctx, name, size):
    """int(scale * size) in float32, as MXNet computes it."""
    scale = ctx.params[name]
    if scale is None:
        raise ctx.error(f"mode={ctx.params['mode']!r} with these parameters needs {name}")
    return int(np.float32(scale) * np.float32(size))


def _resized(ctx, data, like):
    """(height, width) of the output, by MXNet's rules for each mode."""
    mode = ctx.params["mode"]
    height, width = data[2], data[3]
    if mode == "size":
        # as MXNet 1.9: scale_height alone decides whether both scales are used
        if ctx.params["scale_height"] is not None:
            return _scaled(ctx, "scale_height", height), _scaled(ctx, "scale_width", width)
        return ctx.params["height"], ctx.params["width"]
    if mode == "odd_scale":
        return tuple(_scaled(ctx, name, size) if size % 2 == 0 else
                     _scaled(ctx, name, size - 1) + 1
                     for name, size in (("scale_height", height), ("scale_width", width)))
    if mode == "like":
        return like[2], like[3]
    step = 1 if mode.endswith("_up") else -1
    keep = 0 if mode.startswith("to_even") else 1      # the parity that is kept as it is
    return tuple(size if size % 2 == keep else size + step for size in (height, width))


def _bilinear_shape(ctx, ins, outs):
    """data (N, C, H, W) -> (N, C, h, w): height and width, or scaled by scale_height and
    scale_width, or like's (mode 'like'), as mode says."""
    data = ins[0]
    like = ins[1] if len(ins) > 1 else None
    if data is None or (ctx.params["mode"] == "like" and like is None):
        return ins, outs
    _data_4d(ctx, data)
    if like is not None:
        _data_4d(ctx, like, "like")
    height, width = _resized(ctx, data, like)
    if height < 1 or width < 1:
        raise ctx.error(f"mode={ctx.params['mode']!r} resizes data {data} to an empty "
                        f"({height}, {width})")
    return ins, [tuple(data[:2]) + (height, width)]


def _bilinear_kernel(b):
    kernels("resize").append_bilinear_resize(
        b.plan, b.inputs[0], b.outputs[0], align_corners=b.params["align_corners"],
        req=b.req[0], label=b.label)


def _bilinear_backward_kernel(b):
    kernels("resize").append_bilinear_resize_backward(
        b.plan, b.inputs[0], b.outputs[0], align_corners=b.params["align_corners"],
        workspace=b.workspace, req=b.req[0], label=b.label)


def _bilinear_backward_workspace(params, in_shapes, out_shapes, dtype):
    return kernels("resize").bilinear_backward_workspace_bytes(in_shapes[1][3],
                                                               np.dtype(dtype).itemsize)


_BILINEAR_PARAMS = [
    Param("height", "int", 1, "output height (required, but ignored if scale_height is "
                              "defined or mode is not \"size\")", low=1),
    Param("width", "int", 1, "output width (required, but ignored if scale_width is defined "
                             "or mode is not \"size\")", low=1),
    Param("scale_height", "float", None, "sampling scale of the height (optional, used in "
                                         "modes \"scale\" and \"odd_scale\")", optional=True),
    Param("scale_width", "float", None, "sampling scale of the width (optional, used in modes "
                                        "\"scale\" and \"odd_scale\")", optional=True),
    Param("mode", "str", "size",
          "resizing mode. \"size\" - output height equals parameter \"height\" if "
          "\"scale_height\" parameter is not defined or input height multiplied by "
          "\"scale_height\" otherwise. Same for width; \"odd_scale\" - if original height or "
          "width is odd, then result height is calculated like result_h = (original_h - 1) * "
          "scale + 1; \"like\" - resize first input to the height and width of second input; "
          "\"to_even_down\"/\"to_even_up\" - resize input to the nearest lower/bigger even "
          "height and width; \"to_odd_down\"/\"to_odd_up\" - to the nearest lower/bigger odd "
          "height and width.", choices=_MODES),
    Param("align_corners", "bool", True,
          "With align_corners = True, the interpolating doesn't proportionally align the "
          "output and input pixels, and thus the output values can depend on the input size."),
]

register(OpDef(
    "_contrib_BilinearResize2D",
    params=_BILINEAR_PARAMS,
    inputs=lambda params: ("data", "like") if params["mode"] == "like" else ("data",),
    shape_only=lambda params: ("like",) if params["mode"] == "like" else (),
    infer_shape=_bilinear_shape,
    kernel=_bilinear_kernel,
    gradient=_backward_node("_backward_contrib_BilinearResize2D"),
    doc="Perform 2D resizing (upsampling or downsampling) for 4D input using bilinear "
        "interpolation.\n\nExpected input is a 4 dimensional NDArray (NCHW) and the output "
        "with the shape of (N x C x height x width).  Source coordinates are "
        "dst * (in - 1) / (out - 1) with align_corners, else (dst + 0.5) * in / out - 0.5 "
        "clamped at 0, computed in float32 as MXNet does.  With mode='like' a second input "
        "`like` gives the output's height and width (its values are not read).",
))

register(OpDef(
    "_backward_contrib_BilinearResize2D",
    params=_BILINEAR_PARAMS,
    inputs=("out_grad", "data"),
    outputs=("data_grad",),
    shape_only=("data",),
    infer_shape=_backward_shape,
    workspace=_bilinear_backward_workspace,
    kernel=_bilinear_backward_kernel,
    hidden=True,
    doc="Each output's gradient scattered onto its four source pixels with the forward's "
        "weights (along the columns, then the rows).",
))
