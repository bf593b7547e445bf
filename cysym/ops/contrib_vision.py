"""MXNet's contrib vision operators that the ROI family (roi.py) does not hold:
_contrib_RROIAlign, ROI Align over rotated regions (src/operator/contrib/rroi_align.cc).

`rois` is an (R, 6) array of regions [batch_index, center_x, center_y, width, height, theta]
(theta in degrees, counter-clockwise) in image coordinates, which spatial_scale maps onto the
(N, C, H, W) feature map; the output is (R, C, PH, PW). Where this differs from MXNet 1.9.1:
a region whose batch index is outside the batch gives zeros (MXNet reads outside the data).
MXNet registers no gradient for RROIAlign, so its bind for training stops with "non-differentiable";
cysym declares both inputs without a gradient (no_grad): a training bind works, and no gradient
flows through the operator.
"""
from ..registry import OpDef, Param, register
from .common import kernels


def _rroi_align_shape(ctx, ins, outs):
    data, rois = ins[0], ins[1]
    if data is None or rois is None:
        return ins, outs
    if len(data) != 4:
        raise ctx.error(f"data should be a 4D tensor (N, C, H, W), got {data}")
    if len(rois) != 2 or rois[1] != 6:
        raise ctx.error(f"rois should be a 2D tensor of shape (num_rois, 6), got {rois}")
    pooled = tuple(ctx.params["pooled_size"])
    if any(side < 1 for side in pooled):
        raise ctx.error(f"pooled_size={pooled} must be two positive integers (h, w)")
    return ins, [(rois[0], data[1]) + pooled]


register(OpDef(
    "_contrib_RROIAlign",
    params=[
        Param("pooled_size", "shape", doc="RROI align output shape (h,w) ", length=(2,)),
        Param("spatial_scale", "float", doc="Ratio of input feature map height (or width) to raw "
                                            "image height (or width). Equals the reciprocal of "
                                            "total stride in convolutional layers",
              low=0.0, high=1.0),
        # bounded: each bin averages sampling_ratio**2 samples
        Param("sampling_ratio", "int", -1, "Optional sampling ratio of RROI align, using "
                                           "adaptive size by default.", high=1024),
    ],
    inputs=("data", "rois"),
    infer_shape=_rroi_align_shape,
    gradient=lambda g: [None, None],
    no_grad=("data", "rois"),
    kernel=lambda b: kernels("contrib_vision").append_rroi_align(
        b.plan, b.inputs[0], b.inputs[1], b.outputs[0], b.params["spatial_scale"],
        b.params["sampling_ratio"], b.req[0], b.label),
    doc="Performs Rotated ROI Align on the input array: each of the pooled_size bins of a region "
        "rotated by theta degrees about its centre averages sampling_ratio x sampling_ratio "
        "bilinear samples (ceil(bin size) per side when sampling_ratio <= 0).",
))
