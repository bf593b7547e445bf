"""Spatial operators: im2col and col2im (sliding blocks), GridGenerator, BilinearSampler and
SpatialTransformer (spatial transformer networks), and Correlation (FlowNet's patch
comparison), with their backward nodes.  Kernels: cysym/_ops/spatial.pyx.

As in MXNet, GridGenerator, BilinearSampler, SpatialTransformer and Correlation have hidden
outputs (grids, padded copies) that their backward reads; users see one output.
"""
import numpy as np

from ..registry import OpDef, Param, register
from .common import kernels, prod
from .conv import WindowParam


# ---------------------------------------------------------------------------------------------
# im2col, col2im

def _window(params):
    """(kernel, stride, dilate, pad) with MXNet's defaults (1, 1, 0 per dimension) filled in."""
    kernel = tuple(params["kernel"])
    ndim = len(kernel)
    return (kernel, tuple(params["stride"]) or (1,) * ndim, tuple(params["dilate"]) or (1,) * ndim,
            tuple(params["pad"]) or (0,) * ndim)


def _checked_window(ctx, image_ndim):
    """_window(params) after checking every value fits the kernel's dimensions and the image."""
    window = _window(ctx.params)
    ndim = len(window[0])
    for name, values in zip(("stride", "dilate", "pad"), window[1:]):
        if len(values) != ndim:
            raise ctx.error(f"{name}={values} has {len(values)} values for kernel={window[0]}")
    if image_ndim is not None and image_ndim != ndim + 2:
        raise ctx.error(f"a {ndim}-D kernel {window[0]} needs (N, C, *{ndim} spatial dims) "
                        f"data, got {image_ndim} dimensions")
    return window


def _blocks(ctx, spatial, window):
    """The number of window positions over `spatial`, or an error if a kernel does not fit."""
    kernel, stride, dilate, pad = window
    blocks = 1
    for d, size in enumerate(spatial):
        padded, extent = size + 2 * pad[d], 1 + (kernel[d] - 1) * dilate[d]
        if extent > padded:
            raise ctx.error(f"kernel size exceeds input: dilated kernel {extent} > padded size "
                            f"{padded} along spatial axis {d} (data spatial dims {tuple(spatial)})")
        blocks *= (padded - extent) // stride[d] + 1
    return blocks


def _im2col_shape(ctx, ins, outs):
    """data (N, C, *spatial) -> (N, C * prod(kernel), number of kernel positions)."""
    data = ins[0]
    if data is None:
        return ins, outs
    window = _checked_window(ctx, len(data))
    out = (data[0], data[1] * prod(window[0]), _blocks(ctx, data[2:], window))
    return ins, [out]


def _col2im_image(ctx, col):
    """The image shape col2im makes of columns `col`, after checking they fit."""
    window = _checked_window(ctx, None)
    kernel = window[0]
    size = tuple(ctx.params["output_size"])
    if len(size) != len(kernel):
        raise ctx.error(f"output_size={size} has {len(size)} values for kernel={kernel}")
    if len(col) != 3:
        raise ctx.error(f"data should be (N, C * prod(kernel), blocks), got {col}")
    blocks = _blocks(ctx, size, window)
    if col[2] != blocks:
        raise ctx.error(f"data {col} has {col[2]} blocks; output_size={size} with kernel="
                        f"{kernel} makes {blocks} (output size does not match convolution "
                        f"parameters)")
    if col[1] % prod(kernel):
        raise ctx.error(f"data {col}: the second dim should be a multiple of the kernel size "
                        f"{prod(kernel)}")
    return (col[0], col[1] // prod(kernel)) + size


def _col2im_shape(ctx, ins, outs):
    """data (N, C * prod(kernel), number of kernel positions) -> (N, C, *output_size)."""
    if ins[0] is None:
        return ins, outs
    return ins, [_col2im_image(ctx, ins[0])]


def _window_attrs(params):
    kernel, stride, dilate, pad = _window(params)
    return dict(kernel=kernel, stride=stride, dilate=dilate, pad=pad)


_WINDOW_PARAMS = [
    WindowParam("kernel", doc="Sliding kernel size: (w,), (h, w) or (d, h, w).", length=(1, 2, 3)),
    WindowParam("stride", (), "The stride between adjacent sliding blocks in spatial dimension: "
                              "(w,), (h, w) or (d, h, w). Defaults to 1 for each dimension."),
    WindowParam("dilate", (), "The spacing between adjacent kernel points: (w,), (h, w) or "
                              "(d, h, w). Defaults to 1 for each dimension."),
    WindowParam("pad", (), "The zero-value padding size on both sides of spatial dimension: "
                           "(w,), (h, w) or (d, h, w). Defaults to no padding.", minimum=0),
]

register(OpDef(
    "im2col",
    params=_WINDOW_PARAMS,
    infer_shape=_im2col_shape,
    kernel=lambda b: kernels("spatial").append_im2col(
        b.plan, b.inputs[0], b.outputs[0], req=b.req[0], label=b.label, **_window_attrs(b.params)),
    gradient=lambda g: [None if g.out_grads[0] is None else
                        g.op("_backward_im2col", g.out_grads[0], g.inputs[0], **g.forward_attrs())],
    doc="Extract sliding blocks from input array: data (N, C, *spatial) gives columns "
        "(N, C * prod(kernel), W), W being the number of block positions (the spatial size of "
        "a convolution's output with the same kernel, stride, dilate and pad).  Row "
        "c * prod(kernel) + k holds kernel tap k of channel c.",
))

register(OpDef(
    "_backward_im2col",
    params=_WINDOW_PARAMS,
    inputs=("out_grad", "data"),
    outputs=("data_grad",),
    shape_only=("data",),
    infer_shape=lambda ctx, ins, outs: (ins, [ins[1]]),
    kernel=lambda b: kernels("spatial").append_col2im(
        b.plan, b.inputs[0], b.outputs[0], req=b.req[0], label=b.label, **_window_attrs(b.params)),
    hidden=True,
    doc="The columns' gradient summed back onto the image (col2im).",
))

register(OpDef(
    "col2im",
    params=[Param("output_size", "shape", doc="The spatial dimension of image array: (w,), "
                                               "(h, w) or (d, h, w).", length=(1, 2, 3), low=0)]
    + _WINDOW_PARAMS,
    infer_shape=_col2im_shape,
    kernel=lambda b: kernels("spatial").append_col2im(
        b.plan, b.inputs[0], b.outputs[0], req=b.req[0], label=b.label, **_window_attrs(b.params)),
    # the gradient of summing blocks back is extracting them: im2col itself
    gradient=lambda g: [None if g.out_grads[0] is None else
                        g.op("im2col", g.out_grads[0], **_window_attrs(g.params))],
    doc="Combine the columns of im2col back into an image of spatial size output_size: "
        "overlapping blocks are summed, so col2im is the gradient of im2col and vice versa.",
))


# ---------------------------------------------------------------------------------------------
# GridGenerator

def _positive_target(ctx):
    target = tuple(ctx.params["target_shape"])
    if len(target) != 2 or any(d is None or d <= 0 for d in target):
        raise ctx.error(f"incorrect target_shape={target}: expected two positive sizes (H, W)")
    return target


def _grid_generator_shape(ctx, ins, outs):
    """transform_type 'affine': data (N, 6) -> (N, 2, *target_shape); 'warp': flow (N, 2, H, W) ->
    (N, 2, H, W); and a hidden workspace."""
    data = ins[0]
    if data is None:
        return ins, outs
    if ctx.params["transform_type"] == "affine":
        if len(data) != 2 or data[1] != 6:
            raise ctx.error(f"with transform_type='affine' data holds affine matrices (batch, 6), "
                            f"got {data}")
        height, width = _positive_target(ctx)
        return ins, [(data[0], 2, height, width), (3, height * width)]
    if len(data) != 4 or data[1] != 2:
        raise ctx.error(f"with transform_type='warp' data is an optical flow (batch, 2, h, w), "
                        f"got {data}")
    return ins, [data, (2,) + tuple(data[2:])]


def _is_warp(params):
    return params["transform_type"] == "warp"


_GRID_PARAMS = [
    Param("transform_type", "str", doc="The type of transformation. For `affine`, input data "
          "should be an affine matrix of size (batch, 6). For `warp`, input data should be an "
          "optical flow of size (batch, 2, h, w).", choices=("affine", "warp")),
    Param("target_shape", "shape", (0, 0), "Specifies the output shape (H, W). This is required "
          "if transformation type is `affine`. If transformation type is `warp`, this parameter "
          "is ignored.", length=(2,), low=0),
]

register(OpDef(
    "GridGenerator",
    params=_GRID_PARAMS,
    outputs=("output", "grid_dst"),
    num_visible_outputs=lambda params: 1,
    infer_shape=_grid_generator_shape,
    kernel=lambda b: kernels("spatial").append_grid_generator(
        b.plan, b.inputs[0], b.outputs[0], b.outputs[1], _is_warp(b.params), req=b.req[0],
        label=b.label),
    gradient=lambda g: [None if g.out_grads[0] is None else g.op(
        "_backward_GridGenerator", g.out_grads[0],
        *([] if _is_warp(g.params) else [g.outputs[1]]), **g.forward_attrs())],
    doc="Generates a 2D sampling grid (N, 2, H, W) of normalized source coordinates (x, y) "
        "for bilinear sampling: theta (N, 6) applied to the target pixels' normalized "
        "coordinates (affine), or target pixel + flow normalized by ((W-1)/2, (H-1)/2) (warp).",
))

register(OpDef(
    "_backward_GridGenerator",
    params=_GRID_PARAMS,
    inputs=lambda params: ["out_grad"] + ([] if _is_warp(params) else ["grid_dst"]),
    outputs=("data_grad",),
    infer_shape=lambda ctx, ins, outs: (ins, [None if ins[0] is None else (
        ins[0] if _is_warp(ctx.params) else (ins[0][0], 6))]),
    kernel=lambda b: kernels("spatial").append_grid_generator_backward(
        b.plan, b.inputs[0], None if _is_warp(b.params) else b.inputs[1], b.outputs[0],
        _is_warp(b.params), req=b.req[0], label=b.label),
    hidden=True,
    doc="out_grad @ grid_dst.T per sample (affine), out_grad / ((W-1)/2, (H-1)/2) (warp).",
))


# ---------------------------------------------------------------------------------------------
# BilinearSampler

def _sampler_shape(ctx, ins, outs):
    """data (N, C, H, W), grid (N, 2, h, w) -> (N, C, h, w) and a hidden (N, h, w, 2)."""
    data, grid = ins
    if data is None or grid is None:
        return ins, outs
    if len(data) != 4:
        raise ctx.error(f"data should be 4D in batch-num_filter-y-x, got {data}")
    if len(grid) != 4 or grid[1] != 2 or grid[0] != data[0]:
        raise ctx.error(f"grid should be (batch, 2, h, w) with the data's batch, got grid {grid} "
                        f"for data {data}")
    return ins, [(data[0], data[1], grid[2], grid[3]), (grid[0], grid[2], grid[3], 2)]


_CUDNN_OFF = Param("cudnn_off", "bool", None, "whether to turn cudnn off (ignored: no cuDNN)",
                   optional=True)


def _sampler_gradient(g):
    if g.out_grads[0] is None:
        return [None, None]
    return g.op("_backward_BilinearSampler", g.out_grads[0], *g.inputs, **g.forward_attrs())


register(OpDef(
    "BilinearSampler",
    params=[_CUDNN_OFF],
    inputs=("data", "grid"),
    outputs=("output", "tmp"),
    num_visible_outputs=lambda params: 1,
    infer_shape=_sampler_shape,
    kernel=lambda b: kernels("spatial").append_bilinear_sampler(
        b.plan, b.inputs[0], b.inputs[1], b.outputs[0], req=b.req[0], label=b.label),
    gradient=_sampler_gradient,
    doc="Applies bilinear sampling to input feature map: output[n, c, h, w] is data[n, c] "
        "interpolated at x = (grid[n, 0, h, w] + 1) * (W - 1) / 2, y = (grid[n, 1, h, w] + 1) "
        "* (H - 1) / 2, neighbours outside the map counting as zeros.  The hidden output `tmp` "
        "(MXNet's, for cuDNN) is not written.",
))

register(OpDef(
    "_backward_BilinearSampler",
    params=[_CUDNN_OFF],
    inputs=("out_grad", "data", "grid"),
    outputs=("data_grad", "grid_grad"),
    infer_shape=lambda ctx, ins, outs: (ins, [ins[1], ins[2]]),
    kernel=lambda b: kernels("spatial").append_bilinear_sampler_backward(
        b.plan, *b.inputs, *b.outputs, data_req=b.req[0], grid_req=b.req[1], label=b.label),
    hidden=True,
    doc="The data gradient spread over each sample's neighbours and the grid gradient.",
))


# ---------------------------------------------------------------------------------------------
# SpatialTransformer

def _transformer_shape(ctx, ins, outs):
    """data (N, C, H, W), loc (N, 6) -> (N, C, *target_shape) and two hidden workspaces."""
    data, loc = ins
    if data is None or loc is None:
        return ins, outs
    if len(data) != 4:
        raise ctx.error(f"input data should be 4D in batch-num_filter-y-x, got {data}")
    if len(loc) != 2 or loc[1] != 6 or loc[0] != data[0]:
        raise ctx.error(f"loc should be (batch, 6) affine parameters with the data's batch, got "
                        f"loc {loc} for data {data}")
    height, width = _positive_target(ctx)
    return ins, [(data[0], data[1], height, width), (3, height * width),
                 (data[0], 2, height * width)]


def _transformer_workspace(params, in_shapes, out_shapes, dtype):
    batch, _, height, width = out_shapes[0]
    return kernels("spatial").spatial_transformer_workspace_bytes(batch, height * width,
                                                                  np.dtype(dtype).itemsize)


def _transformer_gradient(g):
    if g.out_grads[0] is None:
        return [None, None]
    return g.op("_backward_SpatialTransformer", g.out_grads[0], g.inputs[0], g.outputs[1],
                g.outputs[2], **g.forward_attrs())


_TRANSFORMER_PARAMS = [
    Param("target_shape", "shape", (0, 0), "output shape(h, w) of spatial transformer: (y, x)",
          length=(2,), low=0),
    Param("transform_type", "str", doc="transformation type", choices=("affine",)),
    Param("sampler_type", "str", doc="sampling type", choices=("bilinear",)),
    _CUDNN_OFF,
]

register(OpDef(
    "SpatialTransformer",
    params=_TRANSFORMER_PARAMS,
    inputs=("data", "loc"),
    outputs=("output", "grid_dst", "grid_src"),
    num_visible_outputs=lambda params: 1,
    infer_shape=_transformer_shape,
    kernel=lambda b: kernels("spatial").append_spatial_transformer(
        b.plan, *b.inputs, *b.outputs, req=b.req[0], label=b.label),
    gradient=_transformer_gradient,
    doc="Applies a spatial transformer (affine + bilinear) to the input feature map: "
        "GridGenerator(loc, 'affine', target_shape) then BilinearSampler(data, grid).",
))

register(OpDef(
    "_backward_SpatialTransformer",
    params=_TRANSFORMER_PARAMS,
    inputs=("out_grad", "data", "grid_dst", "grid_src"),
    outputs=("data_grad", "loc_grad"),
    infer_shape=lambda ctx, ins, outs: (ins, [ins[1], None if ins[1] is None else (ins[1][0], 6)]),
    workspace=lambda params, ins, outs, dtype: kernels("spatial").spatial_transformer_workspace_bytes(
        ins[3][0], ins[3][2], np.dtype(dtype).itemsize),
    kernel=lambda b: kernels("spatial").append_spatial_transformer_backward(
        b.plan, *b.inputs, *b.outputs, workspace=b.workspace, data_req=b.req[0],
        loc_req=b.req[1], label=b.label),
    hidden=True,
    doc="The sampling gradients, the grid's folded into loc through grid_dst.",
))


# ---------------------------------------------------------------------------------------------
# Correlation

def _correlation_attrs(params):
    return {k: params[k] for k in ("kernel_size", "max_displacement", "stride1", "stride2",
                                   "pad_size", "is_multiply")}


def _correlation_shape(ctx, ins, outs):
    """data1, data2 (N, C, H, W) -> (N, (2 * (max_displacement // stride2) + 1)**2, H', W'), H' =
    ceil((H + 2 * pad_size - 2 * (max_displacement + (kernel_size - 1) // 2)) / stride1) and W'
    alike, and two hidden padded copies (N, H + 2 * pad_size, W + 2 * pad_size, C)."""
    data1, data2 = ins
    if data1 is None or data2 is None:
        return ins, outs
    if len(data1) != 4 or data2 != data1:
        raise ctx.error(f"data1 and data2 should be 4D tensors of one shape, got {data1} and "
                        f"{data2}")
    params = ctx.params
    if params["kernel_size"] % 2 == 0:
        raise ctx.error(f"kernel_size={params['kernel_size']}: kernel size should be odd number")
    if params["stride1"] < 1 or params["stride2"] < 1:
        raise ctx.error(f"stride1={params['stride1']} and stride2={params['stride2']} must be "
                        f"positive")
    _, width, height_out, width_out = kernels("spatial").correlation_geometry(
        data1, params["kernel_size"], params["max_displacement"], params["stride1"],
        params["stride2"], params["pad_size"])
    if height_out < 1 or width_out < 1:
        raise ctx.error(f"Correlation cannot be done with current settings: neighborhood and "
                        f"kernel don't fit in data {data1}")
    padded = (data1[0], data1[2] + 2 * params["pad_size"], data1[3] + 2 * params["pad_size"],
              data1[1])
    return ins, [(data1[0], width * width, height_out, width_out), padded, padded]


def _correlation_gradient(g):
    if g.out_grads[0] is None:
        return [None, None]
    return g.op("_backward_Correlation", g.out_grads[0], g.outputs[1], g.outputs[2], g.inputs[0],
                **g.forward_attrs())


_CORRELATION_PARAMS = [
    Param("kernel_size", "int", 1, "kernel size for Correlation must be an odd number", low=0),
    Param("max_displacement", "int", 1, "Max displacement of Correlation ", low=0),
    Param("stride1", "int", 1, "stride1 quantize data1 globally", low=0),
    Param("stride2", "int", 1, "stride2 quantize data2 within the neighborhood centered around "
                               "data1", low=0),
    Param("pad_size", "int", 0, "pad for Correlation", low=0),
    Param("is_multiply", "bool", True, "operation type is either multiplication or subduction"),
]

register(OpDef(
    "Correlation",
    params=_CORRELATION_PARAMS,
    inputs=("data1", "data2"),
    outputs=("output", "tmp1", "tmp2"),
    num_visible_outputs=lambda params: 1,
    infer_shape=_correlation_shape,
    kernel=lambda b: kernels("spatial").append_correlation(
        b.plan, *b.inputs, *b.outputs, req=b.req[0], label=b.label,
        **_correlation_attrs(b.params)),
    gradient=_correlation_gradient,
    doc="Applies correlation to inputs (FlowNet): out[n, q, i, j] is the mean over a "
        "kernel_size x kernel_size x C patch of data1 at (i, j) * stride1 + max_displacement "
        "(padded coordinates) times (or minus, in absolute value, when not is_multiply) the "
        "patch of data2 displaced by the q-th offset of a (2r+1) x (2r+1) grid of step "
        "stride2, r = max_displacement // stride2.  The hidden outputs tmp1 and tmp2 are the "
        "padded channels-last copies of the inputs.",
))

register(OpDef(
    "_backward_Correlation",
    params=_CORRELATION_PARAMS,
    inputs=("out_grad", "tmp1", "tmp2", "data1"),
    outputs=("data1_grad", "data2_grad"),
    shape_only=("data1",),
    infer_shape=lambda ctx, ins, outs: (ins, [ins[3], ins[3]]),
    kernel=lambda b: kernels("spatial").append_correlation_backward(
        b.plan, *b.inputs[:3], *b.outputs, req1=b.req[0], req2=b.req[1], label=b.label,
        **_correlation_attrs(b.params)),
    hidden=True,
    doc="The correlation's gradients, from the padded copies of the inputs.",
))
