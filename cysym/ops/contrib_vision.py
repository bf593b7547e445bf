"""MXNet's contrib vision operators that the ROI family (roi.py) does not hold:
_contrib_RROIAlign, ROI Align over rotated regions (src/operator/contrib/rroi_align.cc), and
_contrib_DeformablePSROIPooling, R-FCN's position-sensitive pooling with learned bin offsets
(deformable_psroi_pooling.cc, Dai et al. 2017).

RROIAlign: `rois` is an (R, 6) array of regions [batch_index, center_x, center_y, width,
height, theta] (theta in degrees, counter-clockwise) in image coordinates, which spatial_scale
maps onto the (N, C, H, W) feature map; the output is (R, C, PH, PW). MXNet registers no gradient
for it, so its bind for training stops with "non-differentiable"; cysym declares both inputs
without a gradient (no_grad): a training bind works, and no gradient flows through the operator.

DeformablePSROIPooling: `rois` is (R, 5) [batch_index, x1, y1, x2, y2] (rounded, as MXNet's);
`trans` (R, 2 * classes, part_size, part_size) holds each class's x and y offsets of each part,
in units of the region's size times trans_std; the output is (R, output_dim, P, P), P the
pooled_size, and data needs output_dim * group_size^2 channels. A hidden second output counts
each bin's samples, as MXNet's top_count. The gradient of data and trans is MXNet's (its trans
gradient ignores the clamping of samples to the map); the regions get none (MXNet writes zeros).

Where these differ from MXNet 1.9.1: a region whose batch index is outside the batch gives zeros
(MXNet reads outside the data); DeformablePSROIPooling checks that data has the channels its
bins read, that trans has the shape it indexes, and that output_dim is a multiple of its classes
(MXNet reads outside its arrays otherwise).
"""
import numpy as np

from ..registry import OpDef, Param, register
from .common import kernels


def _rroi_align_shape(ctx, ins, outs):
    """data (N, C, H, W), rois (R, 6) -> (R, C, *pooled_size)."""
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


# ---------------------------------------------------------------------------------------------
# _contrib_DeformablePSROIPooling

def _part_size(params):
    """MXNet's part_size: 0 means pooled_size."""
    return params["part_size"] or params["pooled_size"]


def _ps_inputs(params):
    return ("data", "rois") if params["no_trans"] else ("data", "rois", "trans")


def _deformable_psroi_shape(ctx, ins, outs):
    """data (N, C, H, W) with C >= output_dim * group_size**2, rois (R, 5), trans (R, 2 * classes,
    part_size, part_size) unless no_trans -> (R, output_dim, pooled_size, pooled_size) and a hidden
    count of that shape."""
    p = ctx.params
    data, rois = ins[0], ins[1]
    trans = None if p["no_trans"] else ins[2]
    if data is not None and len(data) != 4:
        raise ctx.error(f"data should be a 4D tensor (N, C, H, W), got {data}")
    if rois is not None and (len(rois) != 2 or rois[1] != 5):
        raise ctx.error(f"rois should be a 2D tensor of shape (num_rois, 5), got {rois}")
    needed = p["output_dim"] * p["group_size"] ** 2
    if data is not None and data[1] < needed:
        raise ctx.error(f"data {data} has {data[1]} channels; output_dim={p['output_dim']} "
                        f"x group_size={p['group_size']}^2 bins read {needed}")
    if trans is not None:
        part = _part_size(p)
        if len(trans) != 4 or trans[1] % 2 or trans[1] == 0 or trans[2:] != (part, part):
            raise ctx.error(f"trans should be (num_rois, 2 * classes, {part}, {part}) for "
                            f"part_size {part}, got {trans}")
        if p["output_dim"] % (trans[1] // 2):
            raise ctx.error(f"output_dim={p['output_dim']} is not a multiple of the "
                            f"{trans[1] // 2} classes of trans {trans}")
        if rois is not None and trans[0] != rois[0]:
            raise ctx.error(f"trans {trans} has not one row per region of rois {rois}")
    if rois is None:
        return ins, outs
    pooled = (rois[0], p["output_dim"], p["pooled_size"], p["pooled_size"])
    return ins, [pooled, pooled]


def _ps_attrs(params):
    return dict(spatial_scale=params["spatial_scale"], output_dim=params["output_dim"],
                group_size=params["group_size"], pooled_size=params["pooled_size"],
                part_size=_part_size(params), sample_per_part=params["sample_per_part"],
                trans_std=params["trans_std"])


def _deformable_psroi_kernel(b):
    trans = None if b.params["no_trans"] else b.inputs[2]
    kernels("contrib_vision").append_deformable_psroi(
        b.plan, b.inputs[0], b.inputs[1], trans, b.outputs[0], b.outputs[1], req=b.req[0],
        label=b.label, **_ps_attrs(b.params))


def _deformable_psroi_gradient(g):
    if g.out_grads[0] is None:
        return [None] * len(g.inputs)
    # out_grad, data, rois, [trans,] top_count -> data_grad[, trans_grad]
    grads = g.op("_backward_DeformablePSROIPooling", g.out_grads[0], *g.inputs, g.outputs[1],
                 **g.forward_attrs())
    if g.node.params["no_trans"]:
        return [grads, None]
    return [grads[0], None, grads[1]]


def _backward_ps_kernel(b):
    no_trans = b.params["no_trans"]
    out_grad, data, rois = b.inputs[:3]
    trans = None if no_trans else b.inputs[3]
    kernels("contrib_vision").append_deformable_psroi_backward(
        b.plan, out_grad, data, rois, trans, b.inputs[-1], b.outputs[0],
        None if no_trans else b.outputs[1], req_data=b.req[0],
        req_trans="null" if no_trans else b.req[1], label=b.label, **_ps_attrs(b.params))


_PS_PARAMS = [
    Param("spatial_scale", "float", doc="Ratio of input feature map height (or w) to raw image "
                                        "height (or w). Equals the reciprocal of total stride in "
                                        "convolutional layers", low=0.0, high=1.0),
    Param("output_dim", "int", doc="fix output dim", low=1),
    Param("group_size", "int", doc="fix group size", low=1),
    Param("pooled_size", "int", doc="fix pooled size", low=1),
    Param("part_size", "int", 0, "fix part size", low=0),
    # bounded: each bin averages sample_per_part**2 samples
    Param("sample_per_part", "int", 1, "fix samples per part", low=1, high=1024),
    Param("trans_std", "float", 0.0, "fix transition std", low=0.0, high=1.0),
    Param("no_trans", "bool", False, "Whether to disable trans parameter."),
]

register(OpDef(
    "_contrib_DeformablePSROIPooling",
    params=_PS_PARAMS,
    inputs=_ps_inputs,
    outputs=("output", "top_count"),
    num_visible_outputs=lambda params: 1,
    infer_shape=_deformable_psroi_shape,
    kernel=_deformable_psroi_kernel,
    gradient=_deformable_psroi_gradient,
    no_grad=("rois",),
    doc="Performs deformable position-sensitive region-of-interest pooling on inputs (Dai et "
        "al., Deformable Convolutional Networks, 2017): bin (i, j) of output channel k averages "
        "sample_per_part x sample_per_part bilinear samples of data channel (k * group_size + "
        "gh) * group_size + gw, the bin shifted by the region's size x trans_std x its class's "
        "offsets in trans.",
))

register(OpDef(
    "_backward_DeformablePSROIPooling",
    params=_PS_PARAMS,
    inputs=lambda params: ("out_grad",) + _ps_inputs(params) + ("top_count",),
    outputs=lambda params: ("data_grad",) if params["no_trans"] else ("data_grad", "trans_grad"),
    infer_shape=lambda ctx, ins, outs: (ins, [ins[1]] if ctx.params["no_trans"] else [ins[1], ins[3]]),
    kernel=_backward_ps_kernel,
    hidden=True,
    doc="data_grad: each bin's gradient spread over its samples' neighbours; trans_grad: through "
        "the samples' bilinear slopes.",
))
