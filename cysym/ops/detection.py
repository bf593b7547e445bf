"""Object-detection operators: _contrib_box_nms, _contrib_box_iou, _contrib_box_encode,
_contrib_box_decode, _contrib_bipartite_matching (kernels in cysym._ops.detection) and
_contrib_MultiBoxPrior, _contrib_MultiBoxTarget, _contrib_MultiBoxDetection,
_contrib_Proposal, _contrib_MultiProposal (cysym._ops.multibox).

They follow MXNet 1.9.1's CPU code exactly (sort order on ties, -1 padding, float32 arithmetic
where MXNet computes in float whatever the data type), and their output shapes are static as
MXNet's are: suppressed or missing boxes are rows of -1, not a shorter array.  Only box_nms has
a gradient in MXNet (it routes each output row's gradient back to the input row it came from);
the others back-propagate zeros, as MXNet's do.
"""
from ..registry import OpDef, Param, register
from .common import backward_grads, kernels, prod

BOX_FORMATS = ("center", "corner")


def _zero_gradient(g):
    """MXNet back-propagates zeros through these operators."""
    return [None] * len(g.inputs)


def _any_req(b):
    """A forward kernel that fills every output at once runs when any output is read."""
    return "write" if any(r != "null" for r in b.req) else "null"


def _need(ctx, condition, message):
    if not condition:
        raise ctx.error(message)


def _last_is_four(ctx, shape, name, min_ndim):
    _need(ctx, len(shape) >= min_ndim and shape[-1] == 4,
          f"input '{name}' has shape {tuple(shape)}; it needs at least {min_ndim} dimensions and "
          f"4 box coordinates last")


# ---------------------------------------------------------------------------------------------
# box_nms

_NMS_PARAMS = [
    Param("overlap_thresh", "float", 0.5, "Overlapping(IoU) threshold to suppress object with "
                                          "smaller score."),
    Param("valid_thresh", "float", 0.0, "Filter input boxes to those whose scores greater than "
                                        "valid_thresh."),
    Param("topk", "int", -1, "Apply nms to topk boxes with descending scores, -1 to no "
                             "restriction."),
    Param("coord_start", "int", 2, "Start index of the consecutive 4 coordinates."),
    Param("score_index", "int", 1, "Index of the scores/confidence of boxes."),
    Param("id_index", "int", -1, "Optional, index of the class categories, -1 to disable."),
    Param("background_id", "int", -1, "Optional, id of the background class which will be "
                                      "ignored in nms."),
    Param("force_suppress", "bool", False, "Optional, if set false and id_index is provided, "
                                           "nms will only apply to boxes belongs to the same "
                                           "category"),
    Param("in_format", "str", "corner", "The input box encoding type: 'corner' is [xmin, ymin, "
                                        "xmax, ymax], 'center' is [x, y, width, height].",
          choices=BOX_FORMATS),
    Param("out_format", "str", "corner", "The output box encoding type ('corner' or 'center').",
          choices=BOX_FORMATS),
]


def _box_nms_shape(ctx, ins, outs):
    """data (..., num_box, width) -> out of data's shape and a hidden (..., num_box, 1); width >= 5
    (6 with id_index), and score_index, coord_start..coord_start+3, id_index name distinct
    columns."""
    data = ins[0] if ins[0] is not None else outs[0]
    if data is None:
        return ins, outs
    p = ctx.params
    _need(ctx, len(data) >= 2, f"input 'data' has shape {tuple(data)}; it needs at least 2 "
                               f"dimensions (..., num_box, box_width)")
    width = data[-1]
    expected = 6 if p["id_index"] >= 0 else 5
    _need(ctx, width >= expected, f"input 'data' has shape {tuple(data)}: boxes of width {width}, "
                                  f"at least {expected} expected")
    coords = range(p["coord_start"], p["coord_start"] + 4)
    _need(ctx, 0 <= p["score_index"] < width and p["score_index"] not in coords,
          f"score_index={p['score_index']} is outside boxes of width {width} or among the "
          f"coordinates {tuple(coords)}")
    _need(ctx, p["coord_start"] >= 0 and coords[-1] < width,
          f"coordinates {tuple(coords)} are outside boxes of width {width}")
    if p["id_index"] >= 0:
        _need(ctx, p["id_index"] < width and p["id_index"] not in coords
              and p["id_index"] != p["score_index"],
              f"id_index={p['id_index']} is outside boxes of width {width}, among the "
              f"coordinates {tuple(coords)} or equal to score_index")
    return [tuple(data)], [tuple(data), tuple(data[:-1]) + (1,)]


def _box_nms_kernel(b):
    p = b.params
    kernels("detection").append_box_nms(
        b.plan, b.inputs[0], b.outputs[0], b.outputs[1], overlap_thresh=p["overlap_thresh"],
        valid_thresh=p["valid_thresh"], topk=p["topk"], coord_start=p["coord_start"],
        score_index=p["score_index"], id_index=p["id_index"], background_id=p["background_id"],
        force_suppress=p["force_suppress"], in_format=p["in_format"], out_format=p["out_format"],
        workspace=b.workspace, req=_any_req(b), label=b.label)


def _box_nms_gradient(g):
    return backward_grads(g, "_backward_contrib_box_nms", g.outputs[1])


register(OpDef(
    "_contrib_box_nms",
    aliases=("_contrib_box_non_maximum_suppression",),
    params=_NMS_PARAMS,
    outputs=("output0", "output1"),
    num_visible_outputs=lambda params: 1,
    infer_shape=_box_nms_shape,
    kernel=_box_nms_kernel,
    workspace=lambda params, ins, outs, dtype:
        kernels("detection").box_nms_workspace_bytes(ins[0][-2]),
    gradient=_box_nms_gradient,
    doc="Non-maximum suppression over the boxes (..., num_box, box_width) of each image.\n\n"
        "Boxes scoring above valid_thresh (and not of background_id) are sorted by descending "
        "score (ties keep their input order); among the first topk, a box whose IoU with a "
        "kept, higher-scoring box (of the same class unless force_suppress) exceeds "
        "overlap_thresh is removed.  The kept boxes come first, the other rows are -1.  The "
        "hidden second output records each row's input position: the gradient of a kept box "
        "goes back to its input row, removed boxes get 0.\n\n"
        "Example: x = [[0, 0.5, 0.1, 0.1, 0.2, 0.2], [1, 0.4, 0.1, 0.1, 0.2, 0.2],\n"
        "              [0, 0.3, 0.1, 0.1, 0.14, 0.14], [2, 0.6, 0.5, 0.5, 0.7, 0.8]]\n"
        "box_nms(x, overlap_thresh=0.1, id_index=0, force_suppress=True) =\n"
        "    [[2, 0.6, 0.5, 0.5, 0.7, 0.8], [0, 0.5, 0.1, 0.1, 0.2, 0.2],\n"
        "     [-1, -1, -1, -1, -1, -1], [-1, -1, -1, -1, -1, -1]]",
))

register(OpDef(
    "_backward_contrib_box_nms",
    params=_NMS_PARAMS,
    inputs=("out_grad", "record"),
    outputs=("data_grad",),
    infer_shape=lambda ctx, ins, outs: (ins, [ins[0] if ins[0] is not None else outs[0]]),
    kernel=lambda b: kernels("detection").append_box_nms_backward(
        b.plan, b.inputs[0], b.inputs[1], b.outputs[0], req=b.req[0], label=b.label),
    hidden=True,
    doc="data_grad = zeros, with each output row's gradient at the input row it came from.",
))


# ---------------------------------------------------------------------------------------------
# box_iou

def _box_iou_shape(ctx, ins, outs):
    """lhs (*A, 4), rhs (*B, 4) -> (*A, *B)."""
    lhs, rhs = ins
    if lhs is None or rhs is None:
        return ins, outs
    _last_is_four(ctx, lhs, "lhs", 2)
    _last_is_four(ctx, rhs, "rhs", 2)
    return ins, [tuple(lhs[:-1]) + tuple(rhs[:-1])]


register(OpDef(
    "_contrib_box_iou",
    params=[Param("format", "str", "corner", "The box encoding type: 'corner' is [xmin, ymin, "
                                             "xmax, ymax], 'center' is [x, y, width, height].",
                  choices=BOX_FORMATS)],
    inputs=("lhs", "rhs"),
    infer_shape=_box_iou_shape,
    kernel=lambda b: kernels("detection").append_box_iou(
        b.plan, b.inputs[0], b.inputs[1], b.outputs[0], fmt=b.params["format"], req=b.req[0],
        label=b.label),
    gradient=_zero_gradient,
    doc="Intersection-over-union of every box of lhs (a_1, ..., a_n, 4) with every box of rhs "
        "(b_1, ..., b_m, 4): an array (a_1, ..., a_n, b_1, ..., b_m).  The gradient is zero "
        "(as MXNet's).\n\n"
        "Example: x = [[0.5, 0.5, 1.0, 1.0], [0.0, 0.0, 0.5, 0.5]], y = [[0.25, 0.25, 0.75, "
        "0.75]] -> box_iou(x, y) = [[0.1428], [0.1428]].",
))


# ---------------------------------------------------------------------------------------------
# box_encode, box_decode

def _box_encode_shape(ctx, ins, outs):
    """samples (B, N), matches (B, N), anchors (B, N, 4), refs (B, M, 4), means (4,), stds (4,) ->
    targets (B, N, 4) and masks (B, N, 4)."""
    samples, matches, anchors, refs, means, stds = ins
    for name, shape in (("means", means), ("stds", stds)):
        _need(ctx, shape is None or tuple(shape) == (4,),
              f"input '{name}' has shape {shape}; it must be (4,)")
    anchors = next((s for s in (anchors, *outs) if s is not None), None)
    if anchors is None:
        return [samples, matches, None, refs, (4,), (4,)], outs
    _need(ctx, len(anchors) == 3 and anchors[-1] == 4,
          f"input 'anchors' has shape {tuple(anchors)}; it must be (batch, num_anchor, 4)")
    pair = tuple(anchors[:2])
    for name, shape in (("samples", samples), ("matches", matches)):
        _need(ctx, shape is None or tuple(shape) == pair,
              f"input '{name}' has shape {shape}; anchors {tuple(anchors)} need {pair}")
    _need(ctx, refs is None or (len(refs) == 3 and refs[-1] == 4 and refs[0] == anchors[0]),
          f"input 'refs' has shape {refs}; it must be ({anchors[0]}, num_ref, 4)")
    return [pair, pair, tuple(anchors), refs, (4,), (4,)], [tuple(anchors)] * 2


register(OpDef(
    "_contrib_box_encode",
    inputs=("samples", "matches", "anchors", "refs", "means", "stds"),
    outputs=("output0", "output1"),
    infer_shape=_box_encode_shape,
    kernel=lambda b: kernels("detection").append_box_encode(
        b.plan, *b.inputs, b.outputs[0], b.outputs[1], req_targets=b.req[0],
        req_masks=b.req[1], label=b.label),
    gradient=_zero_gradient,
    doc="Encodes training targets of bounding boxes with normalized center offsets.\n\n"
        "samples (B, N): +1 positive, -1 negative, 0 ignore; matches (B, N): the ref each anchor "
        "matches; anchors (B, N, 4) and refs (B, M, 4) in corner format; means, stds (4,).  "
        "Outputs (B, N, 4): targets ((dx / width, dy / height, log(w ratio), log(h ratio)) - "
        "means) / stds where samples > 0.5, else 0, and the mask (1 there, else 0).  The "
        "gradient is zero (as MXNet's).",
))


def _box_decode_shape(ctx, ins, outs):
    """data (B, N, 4), anchors (1, N, 4) -> (B, N, 4)."""
    data, anchors = ins
    data = data if data is not None else outs[0]
    if data is None:
        return ins, outs
    _need(ctx, len(data) == 3 and data[-1] == 4,
          f"input 'data' has shape {tuple(data)}; it must be (batch, num_box, 4)")
    if anchors is not None:
        _last_is_four(ctx, anchors, "anchors", 3)
        _need(ctx, prod(anchors) == data[1] * 4,
              f"input 'anchors' has shape {tuple(anchors)}; data {tuple(data)} needs "
              f"(1, {data[1]}, 4)")
    return [tuple(data), anchors], [tuple(data)]


register(OpDef(
    "_contrib_box_decode",
    params=[Param("std0", "float", 1.0, "value to be divided from the 1st encoded values"),
            Param("std1", "float", 1.0, "value to be divided from the 2nd encoded values"),
            Param("std2", "float", 1.0, "value to be divided from the 3rd encoded values"),
            Param("std3", "float", 1.0, "value to be divided from the 4th encoded values"),
            Param("clip", "float", -1.0, "If larger than 0, bounding box target will be clipped "
                                         "to this value."),
            Param("format", "str", "center", "The anchors' encoding type: 'corner' is [xmin, "
                                             "ymin, xmax, ymax], 'center' is [x, y, width, "
                                             "height].", choices=BOX_FORMATS)],
    inputs=("data", "anchors"),
    infer_shape=_box_decode_shape,
    kernel=lambda b: kernels("detection").append_box_decode(
        b.plan, b.inputs[0], b.inputs[1], b.outputs[0],
        stds=[b.params[f"std{k}"] for k in range(4)], clip=b.params["clip"],
        fmt=b.params["format"], req=b.req[0], label=b.label),
    gradient=_zero_gradient,
    doc="Decodes box offsets data (B, N, 4) relative to anchors (1, N, 4) into corner boxes: "
        "center = anchor center + offset * std * anchor size, size = anchor size * "
        "exp(min(offset * std, clip)).  The gradient is zero (as MXNet's).",
))


# ---------------------------------------------------------------------------------------------
# bipartite_matching

def _matching_shape(ctx, ins, outs):
    """data (*batch, N, M) scores -> row matches (*batch, N) and column matches (*batch, M)."""
    data = ins[0]
    if data is None:
        return ins, outs
    _need(ctx, len(data) >= 2, f"input 'data' has shape {tuple(data)}; the score matrix needs "
                               f"at least 2 dimensions")
    return ins, [tuple(data[:-1]), tuple(data[:-2]) + (data[-1],)]


register(OpDef(
    "_contrib_bipartite_matching",
    params=[Param("is_ascend", "bool", False, "Use ascend order for scores instead of "
                                              "descending. Please set threshold accordingly."),
            Param("threshold", "float", doc="Ignore matching when score < thresh, if "
                                            "is_ascend=false, or ignore score > thresh, if "
                                            "is_ascend=true."),
            Param("topk", "int", -1, "Limit the number of matches to topk, set -1 for no limit")],
    outputs=("output0", "output1"),
    infer_shape=_matching_shape,
    kernel=lambda b: kernels("detection").append_bipartite_matching(
        b.plan, b.inputs[0], b.outputs[0], b.outputs[1], threshold=b.params["threshold"],
        is_ascend=b.params["is_ascend"], topk=b.params["topk"], workspace=b.workspace,
        req=_any_req(b), label=b.label),
    workspace=lambda params, ins, outs, dtype:
        kernels("detection").bipartite_matching_workspace_bytes(ins[0][-2], ins[0][-1]),
    gradient=_zero_gradient,
    doc="Greedy bipartite matching of each score matrix (..., N, M): the best remaining score "
        "whose row and column are both free matches them, until a free pair fails the "
        "threshold.  Outputs the matched column of each row (..., N) and the matched row of "
        "each column (..., M), -1 where unmatched.  As MXNet, topk > 0 stops after topk + 1 "
        "matches.  The gradient is zero.\n\n"
        "Example: s = [[0.5, 0.6], [0.1, 0.2], [0.3, 0.4]] -> bipartite_matching(s, "
        "threshold=1e-12) = ([1, -1, 0], [2, 0]).",
))


# ---------------------------------------------------------------------------------------------
# MultiBoxPrior

def _check_prior_params(ctx):
    p = ctx.params
    _need(ctx, len(p["sizes"]) > 0 and len(p["ratios"]) > 0, "sizes and ratios cannot be empty")
    _need(ctx, len(p["steps"]) == 2, f"steps={p['steps']} must be (step_y, step_x)")
    _need(ctx, p["steps"][0] * p["steps"][1] >= 0, "Must specify both step_y and step_x")
    _need(ctx, len(p["offsets"]) == 2 and all(0 <= v <= 1 for v in p["offsets"]),
          f"offsets={p['offsets']} must be two values in [0, 1]")


def _multibox_prior_shape(ctx, ins, outs):
    """data (N, C, H, W) -> anchors (1, H * W * (len(sizes) + len(ratios) - 1), 4)."""
    data = ins[0]
    _check_prior_params(ctx)
    if data is None:
        return ins, outs
    _need(ctx, len(data) >= 4 and data[2] > 0 and data[3] > 0,
          f"input 'data' has shape {tuple(data)}; it must be (batch, channel, y, x) with y, x > 0")
    per_cell = len(ctx.params["sizes"]) + len(ctx.params["ratios"]) - 1
    return ins, [(1, data[2] * data[3] * per_cell, 4)]


register(OpDef(
    "_contrib_MultiBoxPrior",
    params=[Param("sizes", "floats", (1.0,), "List of sizes of generated MultiBoxPriores."),
            Param("ratios", "floats", (1.0,), "List of aspect ratios of generated "
                                              "MultiBoxPriores."),
            Param("clip", "bool", False, "Whether to clip out-of-boundary boxes."),
            Param("steps", "floats", (-1.0, -1.0), "Priorbox step across y and x, -1 for auto "
                                                  "calculation."),
            Param("offsets", "floats", (0.5, 0.5), "Priorbox center offsets, y and x "
                                                  "respectively")],
    infer_shape=_multibox_prior_shape,
    shape_only=("data",),
    kernel=lambda b: kernels("multibox").append_multibox_prior(
        b.plan, b.inputs[0], b.outputs[0], sizes=b.params["sizes"], ratios=b.params["ratios"],
        clip=b.params["clip"], steps=b.params["steps"], offsets=b.params["offsets"],
        req=b.req[0], label=b.label),
    gradient=_zero_gradient,
    doc="Generates prior (anchor) boxes of SSD over the (y, x) grid of data (N, C, H, W): per "
        "cell, every size with the first ratio, then the first size with each other ratio, as "
        "corner boxes in [0, 1] image coordinates; output (1, H * W * (len(sizes) + "
        "len(ratios) - 1), 4).  Computed in float32, as MXNet.  The gradient is zero.",
))


# ---------------------------------------------------------------------------------------------
# MultiBoxTarget

_VARIANCES = Param("variances", "floats", (0.1, 0.1, 0.2, 0.2), "Variances to be encoded in "
                                                                "box regression target.",
                   length=(4,))


def _multibox_target_shape(ctx, ins, outs):
    """anchor (1, A, 4), label (B, L, >= 5), cls_pred (B, num_class, A) -> loc_target (B, A * 4),
    loc_mask (B, A * 4), cls_target (B, A)."""
    anchor, label, cls_pred = ins
    if anchor is None or label is None or cls_pred is None:
        return ins, outs
    _need(ctx, len(anchor) == 3 and anchor[0] == 1 and anchor[1] > 0 and anchor[2] == 4,
          f"input 'anchor' has shape {tuple(anchor)}; it must be (1, num_anchor > 0, 4)")
    _need(ctx, len(label) == 3 and label[1] > 0 and label[2] >= 5,
          f"input 'label' has shape {tuple(label)}; it must be (batch, num_label > 0, >= 5)")
    _need(ctx, len(cls_pred) == 3 and cls_pred[0] == label[0] and cls_pred[2] == anchor[1],
          f"input 'cls_pred' has shape {tuple(cls_pred)}; it must be ({label[0]}, num_class, "
          f"{anchor[1]})")
    loc = (label[0], anchor[1] * 4)
    return ins, [loc, loc, (label[0], anchor[1])]


register(OpDef(
    "_contrib_MultiBoxTarget",
    params=[Param("overlap_threshold", "float", 0.5, "Anchor-GT overlap threshold to be regarded "
                                                     "as a positive match."),
            Param("ignore_label", "float", -1.0, "Label for ignored anchors."),
            Param("negative_mining_ratio", "float", -1.0, "Max negative to positive samples "
                                                          "ratio, use -1 to disable mining"),
            Param("negative_mining_thresh", "float", 0.5, "Threshold used for negative mining."),
            Param("minimum_negative_samples", "int", 0, "Minimum number of negative samples "
                                                        "(unused by MXNet's CPU code)."),
            _VARIANCES],
    inputs=("anchor", "label", "cls_pred"),
    outputs=("loc_target", "loc_mask", "cls_target"),
    infer_shape=_multibox_target_shape,
    kernel=lambda b: kernels("multibox").append_multibox_target(
        b.plan, *b.inputs, *b.outputs, overlap_threshold=b.params["overlap_threshold"],
        ignore_label=b.params["ignore_label"],
        negative_mining_ratio=b.params["negative_mining_ratio"],
        negative_mining_thresh=b.params["negative_mining_thresh"],
        variances=b.params["variances"], workspace=b.workspace, req=_any_req(b), label=b.label),
    workspace=lambda params, ins, outs, dtype:
        kernels("multibox").multibox_target_workspace_bytes(ins[0][1], ins[1][1]),
    gradient=_zero_gradient,
    doc="SSD training targets.  Each ground truth of label (B, M, >= 5: class, xmin, ymin, xmax, "
        "ymax; a class of -1 ends the list) takes its best anchor, then every anchor whose best "
        "IoU passes overlap_threshold is positive; with negative_mining_ratio > 0 only the "
        "hardest negatives (lowest background probability in cls_pred) are kept.  Outputs "
        "loc_target (B, 4N), loc_mask (B, 4N) and cls_target (B, N: class + 1, 0 for "
        "negatives, ignore_label otherwise).  The gradient is zero.",
))


# ---------------------------------------------------------------------------------------------
# MultiBoxDetection

def _multibox_detection_shape(ctx, ins, outs):
    """cls_prob (B, num_class, A), loc_pred (B, A * 4), anchor (1, A, 4) -> (B, A, 6): rows of
    (class id, score, xmin, ymin, xmax, ymax)."""
    cls_prob, loc_pred, anchor = ins
    if cls_prob is None or loc_pred is None or anchor is None:
        return ins, outs
    _need(ctx, len(cls_prob) == 3 and len(loc_pred) == 2 and len(anchor) == 3,
          f"inputs cls_prob {tuple(cls_prob)}, loc_pred {tuple(loc_pred)}, anchor "
          f"{tuple(anchor)} must be 3-, 2- and 3-D")
    _need(ctx, cls_prob[2] == anchor[1] and anchor[1] > 0 and anchor[2] == 4,
          f"input 'anchor' has shape {tuple(anchor)}; cls_prob {tuple(cls_prob)} needs "
          f"(1, {cls_prob[2]}, 4)")
    _need(ctx, loc_pred == (cls_prob[0], cls_prob[2] * 4),
          f"input 'loc_pred' has shape {tuple(loc_pred)}; cls_prob {tuple(cls_prob)} needs "
          f"{(cls_prob[0], cls_prob[2] * 4)}")
    return ins, [(cls_prob[0], anchor[1], 6)]


register(OpDef(
    "_contrib_MultiBoxDetection",
    params=[Param("clip", "bool", True, "Clip out-of-boundary boxes."),
            Param("threshold", "float", 0.01, "Threshold to be a positive prediction."),
            Param("background_id", "int", 0, "Background id (MXNet's CPU code takes class 0 as "
                                             "the background whatever this says)."),
            Param("nms_threshold", "float", 0.5, "Non-maximum suppression threshold."),
            Param("force_suppress", "bool", False, "Suppress all detections regardless of "
                                                   "class_id."),
            Param("variances", "floats", (0.1, 0.1, 0.2, 0.2), "Variances to be decoded from box "
                                                              "regression output.", length=(4,)),
            Param("nms_topk", "int", -1, "Keep maximum top k detections before nms, -1 for no "
                                         "limit.")],
    inputs=("cls_prob", "loc_pred", "anchor"),
    infer_shape=_multibox_detection_shape,
    kernel=lambda b: kernels("multibox").append_multibox_detection(
        b.plan, *b.inputs, b.outputs[0], clip=b.params["clip"], threshold=b.params["threshold"],
        nms_threshold=b.params["nms_threshold"], force_suppress=b.params["force_suppress"],
        variances=b.params["variances"], nms_topk=b.params["nms_topk"], workspace=b.workspace,
        req=b.req[0], label=b.label),
    workspace=lambda params, ins, outs, dtype:
        kernels("multibox").multibox_detection_workspace_bytes(ins[2][1]),
    gradient=_zero_gradient,
    doc="SSD detections: per anchor the most probable non-background class of cls_prob "
        "(B, C, N) (-1 below threshold) and its box decoded from loc_pred (B, 4N) and anchor "
        "(1, N, 4); valid detections sorted by score, then non-maximum suppression per class.  "
        "Output (B, N, 6) rows [class, score, xmin, ymin, xmax, ymax], class -1 for removed "
        "rows.  The gradient is zero.",
))


# ---------------------------------------------------------------------------------------------
# Proposal, MultiProposal

_PROPOSAL_PARAMS = [
    Param("rpn_pre_nms_top_n", "int", 6000, "Number of top scoring boxes to keep before "
                                            "applying NMS to RPN proposals"),
    Param("rpn_post_nms_top_n", "int", 300, "Number of top scoring boxes to keep after applying "
                                            "NMS to RPN proposals"),
    Param("threshold", "float", 0.7, "NMS value, below which to suppress."),
    Param("rpn_min_size", "int", 16, "Minimum height or width in proposal"),
    Param("scales", "floats", (4.0, 8.0, 16.0, 32.0), "Used to generate anchor windows by "
                                                      "enumerating scales"),
    Param("ratios", "floats", (0.5, 1.0, 2.0), "Used to generate anchor windows by enumerating "
                                               "ratios"),
    Param("feature_stride", "int", 16, "The size of the receptive field each unit in the "
                                       "convolution layer of the rpn, for example the product "
                                       "of all stride's prior to this layer."),
    Param("output_score", "bool", False, "Add score to outputs"),
    Param("iou_loss", "bool", False, "Usage of IoU Loss"),
]


def _proposal_shape(per_image):
    def rule(ctx, ins, outs):
        """cls_prob (B, 2 * K, H, W) with K = len(scales) * len(ratios), bbox_pred (B, 4 * K, H, W),
        im_info (B, 3) -> rois (R, 5) and scores (R, 1): R = rpn_post_nms_top_n for Proposal (B
        must be 1), B * rpn_post_nms_top_n for MultiProposal."""
        cls_prob = ins[0]
        if cls_prob is None:
            return ins, outs
        _need(ctx, len(cls_prob) == 4, f"input 'cls_prob' has shape {tuple(cls_prob)}; it must "
                                       f"be (batch, 2 * num_anchor, height, width)")
        batch, channels, height, width = cls_prob
        anchors = len(ctx.params["scales"]) * len(ctx.params["ratios"])
        _need(ctx, channels == 2 * anchors,
              f"input 'cls_prob' has shape {tuple(cls_prob)}: {channels} channels, but "
              f"{len(ctx.params['scales'])} scales x {len(ctx.params['ratios'])} ratios need "
              f"{2 * anchors}")
        # MXNet fails at its first forward; here the shapes say it at once
        _need(ctx, batch == 1 or not per_image,
              f"input 'cls_prob' has shape {tuple(cls_prob)}: Sorry, multiple images each "
              f"device is not implemented; _contrib_MultiProposal takes a batch")
        rows = ctx.params["rpn_post_nms_top_n"] * (1 if per_image else batch)
        return ([tuple(cls_prob), (batch, channels * 2, height, width), (batch, 3)],
                [(rows, 5), (rows, 1)])
    return rule


def _proposal_kernel(b):
    p = b.params
    kernels("multibox").append_proposal(
        b.plan, *b.inputs, *b.outputs, rpn_pre_nms_top_n=p["rpn_pre_nms_top_n"],
        rpn_post_nms_top_n=p["rpn_post_nms_top_n"], threshold=p["threshold"],
        rpn_min_size=p["rpn_min_size"], scales=p["scales"], ratios=p["ratios"],
        feature_stride=p["feature_stride"], iou_loss=p["iou_loss"], workspace=b.workspace,
        req=_any_req(b), label=b.label)


def _proposal_workspace(params, ins, outs, dtype):
    multibox = kernels("multibox")
    count, pre_nms, _ = multibox.proposal_sizes(ins[0], params["rpn_pre_nms_top_n"],
                                                params["rpn_post_nms_top_n"])
    return multibox.proposal_workspace_bytes(count, pre_nms, ins[0][1] // 2)


for _name, _single in (("_contrib_Proposal", True), ("_contrib_MultiProposal", False)):
    register(OpDef(
        _name,
        params=_PROPOSAL_PARAMS,
        inputs=("cls_prob", "bbox_pred", "im_info"),
        outputs=("output", "score"),
        num_visible_outputs=lambda params: 2 if params["output_score"] else 1,
        infer_shape=_proposal_shape(_single),
        kernel=_proposal_kernel,
        workspace=_proposal_workspace,
        gradient=_zero_gradient,
        doc=("Region proposals of a Faster R-CNN RPN" + (" for one image" if _single else "") +
             ": anchors of feature_stride-sized cells (ratios x scales) shifted over the "
             "(height, width) grid, moved by bbox_pred (B, 4A, H, W), clipped to the image of "
             "im_info (B, 3: height, width, scale), boxes smaller than rpn_min_size * scale "
             "dropped; non-maximum suppression over the rpn_pre_nms_top_n best foreground "
             "scores of cls_prob (B, 2A, H, W) keeps rpn_post_nms_top_n (repeated when fewer "
             "survive).  Output rows [image index, x1, y1, x2, y2]; the hidden score output "
             "is visible with output_score.  Computed in float32, as MXNet.  The gradient is "
             "zero."),
    ))
