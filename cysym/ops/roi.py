"""Region-of-interest pooling of (N, C, H, W) feature maps: ROIPooling, _contrib_ROIAlign and
_contrib_PSROIPooling.

`rois` is an (R, 5) array of regions [batch_index, x1, y1, x2, y2] in image coordinates
(spatial_scale maps them onto the feature map); each op gives an (R, C', PH, PW) output.
The regions get no gradient (MXNet writes zeros for them); the data gradient is one
`_backward_<Op>` node whose kernel scatters the output gradient back (cysym/_ops/roi.pyx).
"""
import numpy as np

from ..registry import OpDef, Param, register
from .common import kernels


def _regions(ctx, ins):
    """(data, rois) shapes after checking them, or None while either is unknown."""
    data, rois = ins[0], ins[1]
    if data is None or rois is None:
        return None
    if len(data) != 4:
        raise ctx.error(f"data should be a 4D tensor (N, C, H, W), got {data}")
    if len(rois) != 2 or rois[1] != 5:
        raise ctx.error(f"rois should be a 2D tensor of shape (num_rois, 5), got {rois}")
    return data, rois


def _pooled_size(ctx):
    size = tuple(ctx.params["pooled_size"])
    if len(size) != 2 or any(d is None or d < 1 for d in size):
        raise ctx.error(f"pooled_size={size} must be two positive integers (h, w)")
    return size


def _region_grad(op_name, *extra_outputs):
    """The data gradient from a `_backward_<Op>` node; none for the regions."""
    def gradient(g):
        if g.out_grads[0] is None:
            return [None, None]
        extra = [g.outputs[k] for k in extra_outputs]
        data_grad = g.op(op_name, g.out_grads[0], g.inputs[1], *extra, g.inputs[0],
                         **g.forward_attrs())
        return [data_grad, None]
    return gradient


def _backward_shape(ctx, ins, outs):
    """(out_grad, rois, ..., data) -> data_grad of the data's shape."""
    return ins, [ins[-1]]


_SPATIAL_SCALE = Param("spatial_scale", "float", doc="Ratio of input feature map height (or "
                       "w) to raw image height (or w). Equals the reciprocal of total stride "
                       "in convolutional layers", low=0.0, high=1.0)


# ---------------------------------------------------------------------------------------------
# ROIPooling

def _roi_pool_shape(ctx, ins, outs):
    """data (N, C, H, W), rois (R, 5) -> (R, C, *pooled_size) and a hidden argmax of that shape."""
    shapes = _regions(ctx, ins)
    if shapes is None:
        return ins, outs
    (_, channels, _, _), rois = shapes
    out = (rois[0], channels) + _pooled_size(ctx)
    return ins, [out, out]


def _roi_pool_kernel(b):
    x, rois = b.inputs
    y, argmax = b.outputs
    kernels("roi").append_roi_pooling(b.plan, x, rois, y, argmax,
                                      spatial_scale=b.params["spatial_scale"], req=b.req[0],
                                      label=b.label)


_ROI_POOL_PARAMS = [
    Param("pooled_size", "shape", doc="ROI pooling output shape (h,w) ", length=(2,)),
    _SPATIAL_SCALE,
]

register(OpDef(
    "ROIPooling",
    aliases=("_npx_roi_pooling",),
    params=_ROI_POOL_PARAMS,
    inputs=("data", "rois"),
    outputs=("output", "maxidx"),
    num_visible_outputs=lambda params: 1,
    infer_shape=_roi_pool_shape,
    kernel=_roi_pool_kernel,
    gradient=_region_grad("_backward_ROIPooling", 1),
    no_grad=("rois",),
    doc="Performs region of interest (ROI) pooling on the input array: each region, its "
        "corners rounded to the feature map, is cut into pooled_size bins and each bin is "
        "max-pooled.  Regions whose batch index is outside the batch give zeros.\n\n"
        "The hidden output `maxidx` holds each maximum's position in its (H, W) plane (MXNet "
        "holds the flat position in the whole data), -1 for an empty bin.",
))


def _roi_pool_backward_kernel(b):
    dy, rois, argmax, _data = b.inputs
    kernels("roi").append_roi_pooling_backward(b.plan, dy, rois, argmax, b.outputs[0],
                                               req=b.req[0], label=b.label)


register(OpDef(
    "_backward_ROIPooling",
    params=_ROI_POOL_PARAMS,
    inputs=("out_grad", "rois", "maxidx", "data"),
    outputs=("data_grad",),
    shape_only=("data",),
    infer_shape=_backward_shape,
    kernel=_roi_pool_backward_kernel,
    hidden=True,
    doc="Each bin's gradient goes to the position of its maximum.",
))


# ---------------------------------------------------------------------------------------------
# _contrib_ROIAlign

def _roi_align_shape(ctx, ins, outs):
    """data (N, C, H, W), rois (R, 5) -> (R, C, *pooled_size); position_sensitive divides C by
    pooled_size[0] * pooled_size[1]."""
    shapes = _regions(ctx, ins)
    if shapes is None:
        return ins, outs
    (_, channels, _, _), rois = shapes
    pooled = _pooled_size(ctx)
    if ctx.params["position_sensitive"]:
        bins = pooled[0] * pooled[1]
        if channels % bins:
            raise ctx.error(f"Input channels should be divided by pooled_size[0]*pooled_size[1]"
                            f" when position_sensitive is true: data {ins[0]}, "
                            f"pooled_size={pooled}")
        channels //= bins
    return ins, [(rois[0], channels) + pooled]


def _roi_align_attrs(params):
    return dict(spatial_scale=params["spatial_scale"], sample_ratio=params["sample_ratio"],
                aligned=params["aligned"], position_sensitive=params["position_sensitive"])


def _roi_align_workspace(params, in_shapes, out_shapes, dtype):
    return kernels("roi").roi_align_workspace_bytes(out_shapes[0][1], np.dtype(dtype).itemsize)


_ROI_ALIGN_PARAMS = [
    Param("pooled_size", "shape", doc="ROI Align output roi feature map height and width: (h, w)",
          length=(2,)),
    _SPATIAL_SCALE,
    # bounded: each bin averages sample_ratio**2 samples (65,536 meant 4e9 per bin)
    Param("sample_ratio", "int", -1, "Optional sampling ratio of ROI align, using adaptive size "
                                     "by default.", high=1024),
    Param("position_sensitive", "bool", False,
          "Whether to perform position-sensitive RoI pooling. PSRoIPooling is first proposaled "
          "by R-FCN and it can reduce the input channels by ph*pw times, where (ph, pw) is the "
          "pooled_size"),
    Param("aligned", "bool", False, "Center-aligned ROIAlign introduced in Detectron2. To "
                                    "enable, set aligned to True."),
]

register(OpDef(
    "_contrib_ROIAlign",
    params=_ROI_ALIGN_PARAMS,
    inputs=("data", "rois"),
    infer_shape=_roi_align_shape,
    workspace=_roi_align_workspace,
    kernel=lambda b: kernels("roi").append_roi_align(
        b.plan, *b.inputs, b.outputs[0], workspace=b.workspace, req=b.req[0], label=b.label,
        **_roi_align_attrs(b.params)),
    gradient=_region_grad("_backward_ROIAlign"),
    no_grad=("rois",),
    doc="Aligns the feature map over sub-regions of input and produces a fixed-sized output "
        "array (Mask R-CNN's RoIAlign): each of the pooled_size bins of a region averages "
        "sample_ratio x sample_ratio bilinear samples (ceil(bin size) per side when "
        "sample_ratio <= 0), with no rounding of the region.  aligned=True shifts the region "
        "by half a pixel (Detectron2).  A region whose batch index is outside the batch (or, "
        "with aligned, that is empty, where MXNet stops with an error) gives zeros.",
))

register(OpDef(
    "_backward_ROIAlign",
    params=_ROI_ALIGN_PARAMS,
    inputs=("out_grad", "rois", "data"),
    outputs=("data_grad",),
    shape_only=("data",),
    infer_shape=_backward_shape,
    kernel=lambda b: kernels("roi").append_roi_align_backward(
        b.plan, b.inputs[0], b.inputs[1], b.outputs[0], req=b.req[0], label=b.label,
        **_roi_align_attrs(b.params)),
    hidden=True,
    doc="Each bin's gradient spread over the four neighbours of each of its samples.",
))


# ---------------------------------------------------------------------------------------------
# _contrib_PSROIPooling

def _group_size(params):
    """group_size, where MXNet's 0 means pooled_size."""
    return params["group_size"] or params["pooled_size"]


def _psroi_shape(ctx, ins, outs):
    """data (N, C, H, W) with C >= output_dim * group_size**2, rois (R, 5) -> (R, output_dim,
    pooled_size, pooled_size)."""
    shapes = _regions(ctx, ins)
    if shapes is None:
        return ins, outs
    (_, channels, _, _), rois = shapes
    pooled, dim = ctx.params["pooled_size"], ctx.params["output_dim"]
    group = _group_size(ctx.params)
    if pooled < 1 or dim < 1 or group < 1:
        raise ctx.error(f"pooled_size={pooled}, output_dim={dim} and group_size={group} must be "
                        f"positive")
    if channels < dim * group * group:
        raise ctx.error(f"data {ins[0]} has {channels} channels, fewer than output_dim * "
                        f"group_size ** 2 = {dim * group * group}")
    return ins, [(rois[0], dim, pooled, pooled)]


_PSROI_PARAMS = [
    _SPATIAL_SCALE,
    Param("output_dim", "int", doc="fix output dim"),
    Param("pooled_size", "int", doc="fix pooled size"),
    Param("group_size", "int", 0, "fix group size (0: pooled_size)"),
]

register(OpDef(
    "_contrib_PSROIPooling",
    params=_PSROI_PARAMS,
    inputs=("data", "rois"),
    infer_shape=_psroi_shape,
    kernel=lambda b: kernels("roi").append_psroi_pooling(
        b.plan, *b.inputs, b.outputs[0], spatial_scale=b.params["spatial_scale"],
        group_size=_group_size(b.params), req=b.req[0], label=b.label),
    gradient=_region_grad("_backward_PSROIPooling"),
    no_grad=("rois",),
    doc="Position-sensitive region-of-interest pooling (R-FCN): bin (ph, pw) of output channel "
        "c averages input channel (c * group_size + gh) * group_size + gw over the bin, where "
        "(gh, gw) is the bin's cell in a group_size x group_size grid.  The output is "
        "(num_rois, output_dim, pooled_size, pooled_size).",
))

register(OpDef(
    "_backward_PSROIPooling",
    params=_PSROI_PARAMS,
    inputs=("out_grad", "rois", "data"),
    outputs=("data_grad",),
    shape_only=("data",),
    infer_shape=_backward_shape,
    kernel=lambda b: kernels("roi").append_psroi_pooling_backward(
        b.plan, b.inputs[0], b.inputs[1], b.outputs[0], spatial_scale=b.params["spatial_scale"],
        group_size=_group_size(b.params), req=b.req[0], label=b.label),
    hidden=True,
    doc="Each bin's gradient spread evenly over the bin of its input channel.",
))
