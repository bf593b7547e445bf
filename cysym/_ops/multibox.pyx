"""SSD and Faster R-CNN kernels: MultiBoxPrior, MultiBoxTarget, MultiBoxDetection, Proposal
and MultiProposal.

They reproduce MXNet 1.9.1's CPU code (src/operator/contrib/multibox_*.cc, proposal.cc,
multi_proposal.cc) expression by expression: where MXNet computes in C++ `float` whatever the
data's type (anchor generation, location targets, proposals), so do these kernels; elsewhere
they compute in the data's precision.  Float parameters are float32 values, as in MXNet.
Scratch memory comes from the planned workspace (cysym._ops.detection.scratch).
"""
from libc.math cimport expf, logf, sqrtf, floorf
from libc.string cimport memcpy
from cysym._ops._blas cimport real
from cysym._ops._libm cimport libm_exp as _exp
from cysym._ops._common cimport common_dtype, REQ_NULL
from cysym._ops._detection cimport stable_argsort
from cysym._ops.runner cimport Plan, KernelCall, RunContext
from cysym._ops.detection import float32, scratch
from cysym._ops.detection import _forward_req as forward_req


# C++ float literals (0.5f, 1.0f): float arithmetic where MXNet's is
cdef float HALF = 0.5
cdef float ONE = 1.0


cdef inline real _clip01(real x) noexcept nogil:
    """std::max(DType(0), std::min(DType(1), x)), NaN included."""
    x = x if x < 1 else 1
    return x if 0 < x else 0


# ---------------------------------------------------------------------------------------------
# MultiBoxPrior

cdef void _multibox_prior(KernelCall* c, real* dummy) noexcept nogil:
    # arrays: out; ints: height, width, num_sizes, num_ratios, clip
    # floats: sizes..., ratios..., step_y, step_x, offset_y, offset_x
    cdef Py_ssize_t height = c.ints[0], width = c.ints[1], num_sizes = c.ints[2]
    cdef Py_ssize_t num_ratios = c.ints[3], r, col, i, count = 0
    cdef bint clip = c.ints[4] != 0
    cdef const double* sizes = c.floats
    cdef const double* ratios = c.floats + num_sizes
    cdef float step_y = <float>c.floats[num_sizes + num_ratios]
    cdef float step_x = <float>c.floats[num_sizes + num_ratios + 1]
    cdef float offset_y = <float>c.floats[num_sizes + num_ratios + 2]
    cdef float offset_x = <float>c.floats[num_sizes + num_ratios + 3]
    cdef real* out = <real*>c.arrays[0]
    cdef float center_x, center_y, ratio, size, w, h
    if step_y <= 0 or step_x <= 0:
        step_y = <float>1.0 / <float>height
        step_x = <float>1.0 / <float>width
    for r in range(height):
        center_y = (<float>r + offset_y) * step_y
        for col in range(width):
            center_x = (<float>col + offset_x) * step_x
            # every size with the first ratio, then the first size with every other ratio
            for i in range(num_sizes + num_ratios - 1):
                size = <float>sizes[i] if i < num_sizes else <float>sizes[0]
                ratio = sqrtf(<float>ratios[0] if i < num_sizes else <float>ratios[i - num_sizes + 1])
                w = size * <float>height / <float>width * ratio / 2
                h = size / ratio / 2
                out[count + 0] = center_x - w
                out[count + 1] = center_y - h
                out[count + 2] = center_x + w
                out[count + 3] = center_y + h
                count += 4
    if clip:
        for i in range(count):
            out[i] = 0 if out[i] < 0 else (1 if out[i] > 1 else out[i])


cdef void multibox_prior_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    if c.dtype == 0:
        _multibox_prior(c, <float*>NULL)
    else:
        _multibox_prior(c, <double*>NULL)


def append_multibox_prior(Plan plan, data, out, sizes=(1.0,), ratios=(1.0,), bint clip=False,
                          steps=(-1.0, -1.0), offsets=(0.5, 0.5), req="write",
                          str label="MultiBoxPrior"):
    """out (1, h * w * (len(sizes) + len(ratios) - 1), 4) = corner anchors centred on each
    cell of data's (h, w) grid (data is read for its shape only)."""
    if forward_req(req, label) == REQ_NULL:
        return
    if data.ndim < 4:
        raise ValueError(f"{label}: data {data.shape} must be (batch, channel, y, x)")
    height, width = data.shape[2], data.shape[3]
    if not sizes or not ratios or len(steps) != 2 or len(offsets) != 2:
        raise ValueError(f"{label}: sizes {sizes}, ratios {ratios}, steps {steps} and offsets "
                         f"{offsets} must be non-empty, 2, 2 values")
    if out.size != height * width * (len(sizes) + len(ratios) - 1) * 4:
        raise ValueError(f"{label}: output {out.shape} does not hold the anchors of a "
                         f"{height}x{width} grid")
    if out.size == 0:
        return
    plan.add(multibox_prior_kernel, common_dtype([out]), [out],
             [height, width, len(sizes), len(ratios), clip],
             [float32(v) for v in tuple(sizes) + tuple(ratios) + tuple(steps) + tuple(offsets)],
             label)


# ---------------------------------------------------------------------------------------------
# MultiBoxTarget

def multibox_target_workspace_bytes(Py_ssize_t num_anchors, Py_ssize_t num_labels):
    """Scratch of one image: the anchor x label overlaps (float), per anchor its best overlap,
    match, flag, and the negative-mining sort (candidates, order, merge buffer, keys); per
    label a matched flag."""
    return 4 * num_anchors * num_labels + 4 * num_anchors + 8 * (6 * num_anchors + num_labels)


cdef void _multibox_target(KernelCall* c, real* dummy) noexcept nogil:
    # arrays: anchors, labels, cls_preds, loc_target, loc_mask, cls_target, workspace
    # ints: batch, num_anchors, num_labels, label_width, num_classes
    # floats: overlap_threshold, ignore_label, negative_mining_ratio, negative_mining_thresh,
    #         variances[4]
    cdef Py_ssize_t batch = c.ints[0], num_anchors = c.ints[1], num_labels = c.ints[2]
    cdef Py_ssize_t label_width = c.ints[3], num_classes = c.ints[4]
    cdef float overlap_threshold = <float>c.floats[0], ignore_label = <float>c.floats[1]
    cdef float mining_ratio = <float>c.floats[2], mining_thresh = <float>c.floats[3]
    cdef float vx = <float>c.floats[4], vy = <float>c.floats[5]
    cdef float vw = <float>c.floats[6], vh = <float>c.floats[7]
    cdef const real* anchors = <real*>c.arrays[0]
    cdef const real* labels = <real*>c.arrays[1]
    cdef const real* cls_preds = <real*>c.arrays[2]
    cdef real* loc_target = <real*>c.arrays[3]
    cdef real* loc_mask = <real*>c.arrays[4]
    cdef real* cls_target = <real*>c.arrays[5]
    cdef Py_ssize_t* match = <Py_ssize_t*>c.arrays[6]
    cdef Py_ssize_t* flag = match + num_anchors           # 1 positive, 0 negative, -1 ignored
    cdef Py_ssize_t* candidates = flag + num_anchors
    cdef Py_ssize_t* order = candidates + num_anchors
    cdef Py_ssize_t* merge = order + num_anchors
    cdef double* keys = <double*>(merge + num_anchors)
    cdef Py_ssize_t* gt_matched = <Py_ssize_t*>(keys + num_anchors)
    cdef float* overlaps = <float*>(gt_matched + num_labels)
    cdef float* best = overlaps + num_anchors * num_labels
    cdef const real* label
    cdef const real* anchor
    cdef const real* gt
    cdef const real* scores
    cdef Py_ssize_t nb, i, j, k, num_gt, best_anchor, best_gt, num_positive, num_negative
    cdef Py_ssize_t num_candidates
    cdef float max_overlap
    cdef real inter_w, inter_h, inter, union, max_score, total, prob
    cdef float al, at, ar, ab, aw, ah, ax, ay, gl, gtop, gr, gb, gw, gh, gx, gy
    cdef bint unmatched
    for i in range(batch * num_anchors * 4):
        loc_target[i] = 0
        loc_mask[i] = 0
    for i in range(batch * num_anchors):
        cls_target[i] = <real>ignore_label
    for nb in range(batch):
        label = labels + nb * num_labels * label_width
        # the ground truths are the rows before the first whose class is -1
        num_gt = 0
        while num_gt < num_labels and <float>label[num_gt * label_width] != -1.0:
            num_gt += 1
        if num_gt == 0:
            continue
        for j in range(num_anchors):
            anchor = anchors + j * 4
            for k in range(num_gt):
                gt = label + k * label_width + 1
                # mshadow's F<maximum>(0, x) = 0 > x ? 0 : x, F<minimum>(a, b) = a < b ? a : b
                inter_w = ((anchor[2] if anchor[2] < gt[2] else gt[2])
                           - (anchor[0] if anchor[0] > gt[0] else gt[0]))
                inter_h = ((anchor[3] if anchor[3] < gt[3] else gt[3])
                           - (anchor[1] if anchor[1] > gt[1] else gt[1]))
                inter = (0 if 0 > inter_w else inter_w) * (0 if 0 > inter_h else inter_h)
                union = ((anchor[2] - anchor[0]) * (anchor[3] - anchor[1])
                         + (gt[2] - gt[0]) * (gt[3] - gt[1]) - inter)
                overlaps[j * num_labels + k] = <float>(0 if union == 0 else inter / union)
            match[j] = -1
            best[j] = -1
            flag[j] = -1
        for k in range(num_gt):
            gt_matched[k] = 0
        # each ground truth takes its best free anchor, best pairs first
        num_positive = 0
        while True:
            unmatched = False
            for k in range(num_gt):
                unmatched = unmatched or not gt_matched[k]
            if not unmatched:
                break
            best_anchor = best_gt = -1
            max_overlap = 1e-6
            for j in range(num_anchors):
                if flag[j] == 1:
                    continue
                for k in range(num_gt):
                    if not gt_matched[k] and overlaps[j * num_labels + k] > max_overlap:
                        best_anchor, best_gt = j, k
                        max_overlap = overlaps[j * num_labels + k]
            if best_anchor == -1:
                break
            best[best_anchor] = max_overlap
            match[best_anchor] = best_gt
            num_positive += 1
            gt_matched[best_gt] = 1
            flag[best_anchor] = 1
        # then every other anchor whose best overlap passes the threshold
        for j in range(num_anchors):
            if overlap_threshold <= 0 or flag[j] == 1:
                continue
            _best_overlap(overlaps + j * num_labels, num_gt, &best[j], &match[j])
            if best[j] > overlap_threshold:
                num_positive += 1
                gt_matched[match[j]] = 1
                flag[j] = 1
        if mining_ratio > 0:
            # hard negatives: the anchors whose background probability is lowest
            num_negative = <Py_ssize_t>(<float>num_positive * mining_ratio)
            num_negative = min(num_negative, num_anchors - num_positive)
            if num_negative > 0:
                scores = cls_preds + nb * num_classes * num_anchors
                num_candidates = 0
                for j in range(num_anchors):
                    if flag[j] == 1:
                        continue
                    if best[j] < 0:
                        _best_overlap(overlaps + j * num_labels, num_gt, &best[j], &match[j])
                    if best[j] < mining_thresh and flag[j] == -1:
                        max_score = scores[j]
                        for k in range(1, num_classes):
                            if scores[j + num_anchors * k] > max_score:
                                max_score = scores[j + num_anchors * k]
                        total = 0
                        for k in range(num_classes):
                            total += _exp(scores[j + num_anchors * k] - max_score)
                        prob = _exp(scores[j] - max_score) / total
                        candidates[num_candidates] = j
                        keys[num_candidates] = <float>(-prob)
                        order[num_candidates] = num_candidates
                        num_candidates += 1
                # MXNet fails when fewer candidates than num_negative remain; take them all
                stable_argsort(order, merge, keys, num_candidates, True)
                for i in range(min(num_negative, num_candidates)):
                    flag[candidates[order[i]]] = 0
        else:
            for j in range(num_anchors):
                if flag[j] != 1:
                    flag[j] = 0
        for i in range(num_anchors):
            j = nb * num_anchors + i
            if flag[i] == 1:
                gt = label + label_width * match[i]
                cls_target[j] = gt[0] + 1     # class 0 is the background
                for k in range(4):
                    loc_mask[j * 4 + k] = 1
                # MXNet's AssignLocTargets, in float
                anchor = anchors + i * 4
                al, at, ar, ab = <float>anchor[0], <float>anchor[1], <float>anchor[2], <float>anchor[3]
                aw = ar - al
                ah = ab - at
                ax = (al + ar) * 0.5
                ay = (at + ab) * 0.5
                gl, gtop, gr, gb = <float>gt[1], <float>gt[2], <float>gt[3], <float>gt[4]
                gw = gr - gl
                gh = gb - gtop
                gx = (gl + gr) * 0.5
                gy = (gtop + gb) * 0.5
                loc_target[j * 4 + 0] = (gx - ax) / aw / vx
                loc_target[j * 4 + 1] = (gy - ay) / ah / vy
                loc_target[j * 4 + 2] = logf(gw / aw) / vw
                loc_target[j * 4 + 3] = logf(gh / ah) / vh
            elif flag[i] == 0:
                cls_target[j] = 0


cdef inline void _best_overlap(const float* overlaps, Py_ssize_t num_gt, float* best,
                               Py_ssize_t* match) noexcept nogil:
    """The first ground truth of highest overlap with one anchor (above -1)."""
    cdef Py_ssize_t k
    cdef float max_iou = -1.0
    cdef Py_ssize_t best_gt = -1
    for k in range(num_gt):
        if overlaps[k] > max_iou:
            best_gt = k
            max_iou = overlaps[k]
    if best_gt != -1:
        best[0] = max_iou
        match[0] = best_gt


cdef void multibox_target_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    if c.dtype == 0:
        _multibox_target(c, <float*>NULL)
    else:
        _multibox_target(c, <double*>NULL)


def append_multibox_target(Plan plan, anchor, labels, cls_pred, loc_target, loc_mask, cls_target,
                           double overlap_threshold=0.5, double ignore_label=-1.0,
                           double negative_mining_ratio=-1.0, double negative_mining_thresh=0.5,
                           variances=(0.1, 0.1, 0.2, 0.2), workspace=None, req="write",
                           str label="MultiBoxTarget"):
    """SSD training targets: each anchor (1, n, 4) is matched to a ground truth of label
    labels (b, m, >= 5: class, xmin, ymin, xmax, ymax; class -1 ends the list); loc_target (b, 4n)
    = encoded offsets of positives, loc_mask (b, 4n) = 1 on positives, cls_target (b, n) =
    class + 1 for positives, 0 for negatives, ignore_label otherwise."""
    if forward_req(req, label) == REQ_NULL:
        return
    if anchor.ndim != 3 or anchor.shape[2] != 4 or labels.ndim != 3 or labels.shape[2] < 5 or \
            cls_pred.ndim != 3 or cls_pred.shape[2] != anchor.shape[1] or \
            cls_pred.shape[0] != labels.shape[0]:
        raise ValueError(f"{label}: anchor {anchor.shape}, label {labels.shape} and cls_pred "
                         f"{cls_pred.shape} do not match")
    if anchor.shape[0] == 0 or cls_pred.shape[1] == 0:   # the kernel reads anchor[0] and class 0
        raise ValueError(f"{label}: anchor {anchor.shape} holds no set of anchors or cls_pred "
                         f"{cls_pred.shape} no class")
    batch, num_anchors, num_labels = labels.shape[0], anchor.shape[1], labels.shape[1]
    if loc_target.size != batch * num_anchors * 4 or loc_mask.size != batch * num_anchors * 4 \
            or cls_target.size != batch * num_anchors:
        raise ValueError(f"{label}: outputs {loc_target.shape}, {loc_mask.shape}, "
                         f"{cls_target.shape} do not match {batch} images of {num_anchors} anchors")
    if len(variances) != 4:
        raise ValueError(f"{label}: 4 variances needed, got {variances!r}")
    workspace = scratch(workspace, multibox_target_workspace_bytes(num_anchors, num_labels), label)
    arrays = [anchor, labels, cls_pred, loc_target, loc_mask, cls_target]
    plan.add(multibox_target_kernel, common_dtype(arrays), arrays + [workspace],
             [batch, num_anchors, num_labels, labels.shape[2], cls_pred.shape[1]],
             [float32(v) for v in (overlap_threshold, ignore_label, negative_mining_ratio,
                                   negative_mining_thresh) + tuple(variances)], label)


# ---------------------------------------------------------------------------------------------
# MultiBoxDetection

def multibox_detection_workspace_bytes(Py_ssize_t num_anchors):
    """Scratch of one image: decoded detections and their sorted copy (6 values each, in
    8-byte slots), the sort order, its merge buffer and the scores as doubles."""
    return 8 * num_anchors * (6 + 6 + 3)


cdef inline real _overlap(const real* a, const real* b) noexcept nogil:
    """MXNet's CalculateOverlap of two corner boxes, with std::min/std::max's tie rules."""
    cdef real w, h, i, u, lo, hi
    hi = b[2] if b[2] < a[2] else a[2]
    lo = b[0] if a[0] < b[0] else a[0]
    w = hi - lo
    w = w if 0 < w else 0
    hi = b[3] if b[3] < a[3] else a[3]
    lo = b[1] if a[1] < b[1] else a[1]
    h = hi - lo
    h = h if 0 < h else 0
    i = w * h
    u = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - i
    return 0 if u <= 0 else i / u


cdef void _multibox_detection(KernelCall* c, real* dummy) noexcept nogil:
    # arrays: cls_prob, loc_pred, anchors, out, workspace
    # ints: batch, num_classes, num_anchors, clip, force_suppress, nms_topk
    # floats: threshold, nms_threshold, variances[4]
    cdef Py_ssize_t batch = c.ints[0], num_classes = c.ints[1], num_anchors = c.ints[2]
    cdef bint clip = c.ints[3] != 0, force = c.ints[4] != 0
    cdef Py_ssize_t nms_topk = c.ints[5]
    cdef real threshold = <real>c.floats[0], nms_threshold = <real>c.floats[1]
    cdef real vx = <real>c.floats[2], vy = <real>c.floats[3]
    cdef real vw = <real>c.floats[4], vh = <real>c.floats[5]
    cdef const real* cls_prob = <real*>c.arrays[0]
    cdef const real* loc_pred = <real*>c.arrays[1]
    cdef const real* anchors = <real*>c.arrays[2]
    cdef real* out = <real*>c.arrays[3]
    cdef real* decoded = <real*>c.arrays[4]
    cdef real* unsorted = <real*>((<double*>c.arrays[4]) + 6 * num_anchors)
    cdef Py_ssize_t* order = <Py_ssize_t*>((<double*>c.arrays[4]) + 12 * num_anchors)
    cdef Py_ssize_t* merge = order + num_anchors
    cdef double* keys = <double*>(merge + num_anchors)
    cdef Py_ssize_t nb, i, j, k, best_class, valid_count, keep
    cdef const real* probs
    cdef const real* anchor
    cdef const real* pred
    cdef real* p_out
    cdef real* det
    cdef real score, aw, ah, ax, ay, ox, oy, ow, oh
    for i in range(batch * num_anchors * 6):
        out[i] = -1
    for nb in range(batch):
        probs = cls_prob + nb * num_classes * num_anchors
        p_out = out + nb * num_anchors * 6
        for i in range(num_anchors):
            # the most probable non-background class (-1 when below threshold)
            score = -1
            best_class = 0
            for j in range(1, num_classes):
                if probs[j * num_anchors + i] > score:
                    score = probs[j * num_anchors + i]
                    best_class = j
            if best_class > 0 and score < threshold:
                best_class = 0
            det = decoded + i * 6
            det[0] = <real>(best_class - 1)
            det[1] = score
            # MXNet's TransformLocations in the data's precision
            anchor = anchors + i * 4
            pred = loc_pred + nb * num_anchors * 4 + i * 4
            aw = anchor[2] - anchor[0]
            ah = anchor[3] - anchor[1]
            ax = (anchor[0] + anchor[2]) / 2
            ay = (anchor[1] + anchor[3]) / 2
            ox = pred[0] * vx * aw + ax
            oy = pred[1] * vy * ah + ay
            ow = _exp(pred[2] * vw) * aw / 2
            oh = _exp(pred[3] * vh) * ah / 2
            det[2] = _clip01(ox - ow) if clip else ox - ow
            det[3] = _clip01(oy - oh) if clip else oy - oh
            det[4] = _clip01(ox + ow) if clip else ox + ow
            det[5] = _clip01(oy + oh) if clip else oy + oh
        valid_count = 0
        for i in range(num_anchors):
            if decoded[i * 6] >= 0:
                memcpy(p_out + valid_count * 6, decoded + i * 6, 6 * sizeof(real))
                valid_count += 1
        if valid_count < 1 or nms_threshold <= 0 or nms_threshold > 1:
            continue
        memcpy(unsorted, p_out, num_anchors * 6 * sizeof(real))
        for i in range(valid_count):
            keys[i] = p_out[i * 6 + 1]
            order[i] = i
        stable_argsort(order, merge, keys, valid_count, True)
        keep = valid_count
        if 0 < nms_topk < keep:
            # as MXNet, rows past topk lose their class but keep their (unsorted) values
            keep = nms_topk
            for i in range(keep, valid_count):
                p_out[i * 6] = -1
        for i in range(keep):
            memcpy(p_out + i * 6, unsorted + order[i] * 6, 6 * sizeof(real))
        for i in range(keep):
            if p_out[i * 6] < 0:
                continue
            for k in range(i + 1, keep):
                if p_out[k * 6] < 0:
                    continue
                if force or p_out[i * 6] == p_out[k * 6]:
                    if _overlap(p_out + i * 6 + 2, p_out + k * 6 + 2) >= nms_threshold:
                        p_out[k * 6] = -1


cdef void multibox_detection_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    if c.dtype == 0:
        _multibox_detection(c, <float*>NULL)
    else:
        _multibox_detection(c, <double*>NULL)


def append_multibox_detection(Plan plan, cls_prob, loc_pred, anchor, out, bint clip=True,
                              double threshold=0.01, double nms_threshold=0.5,
                              bint force_suppress=False, variances=(0.1, 0.1, 0.2, 0.2),
                              int nms_topk=-1, workspace=None, req="write",
                              str label="MultiBoxDetection"):
    """out (b, n, 6) = [class, score, xmin, ymin, xmax, ymax] of each anchor's decoded
    detection, valid ones first by descending score after per-class NMS; -1 class marks
    suppressed or invalid rows."""
    if forward_req(req, label) == REQ_NULL:
        return
    if cls_prob.ndim != 3 or loc_pred.ndim != 2 or anchor.ndim != 3 or \
            cls_prob.shape[2] != anchor.shape[1] or loc_pred.shape[1] != cls_prob.shape[2] * 4 \
            or anchor.shape[2] != 4 or loc_pred.shape[0] != cls_prob.shape[0]:
        raise ValueError(f"{label}: cls_prob {cls_prob.shape}, loc_pred {loc_pred.shape} and "
                         f"anchor {anchor.shape} do not match")
    if anchor.shape[0] == 0:    # the kernel reads the first set of anchors
        raise ValueError(f"{label}: anchor {anchor.shape} holds no set of anchors")
    batch, num_classes, num_anchors = cls_prob.shape
    if tuple(out.shape) != (batch, num_anchors, 6):
        raise ValueError(f"{label}: output {out.shape} is not {(batch, num_anchors, 6)}")
    if len(variances) != 4:
        raise ValueError(f"{label}: 4 variances needed, got {variances!r}")
    workspace = scratch(workspace, multibox_detection_workspace_bytes(num_anchors), label)
    arrays = [cls_prob, loc_pred, anchor, out]
    plan.add(multibox_detection_kernel, common_dtype(arrays), arrays + [workspace],
             [batch, num_classes, num_anchors, clip, force_suppress, nms_topk],
             [float32(threshold), float32(nms_threshold)] + [float32(v) for v in variances], label)


# ---------------------------------------------------------------------------------------------
# Proposal and MultiProposal (one image per batch entry)

def proposal_workspace_bytes(Py_ssize_t count, Py_ssize_t pre_nms, Py_ssize_t num_anchors):
    """Scratch of one image: count proposals (5 floats), their sort (order, merge buffer,
    keys), pre_nms ordered proposals with area and suppressed flag, the kept indices, and the
    base anchors."""
    return 8 * 3 * count + 8 * pre_nms + 4 * (5 * count + 7 * pre_nms + 4 * num_anchors)


cdef void _base_anchors(float* out, float stride, const double* scales, Py_ssize_t num_scales,
                        const double* ratios, Py_ssize_t num_ratios) noexcept nogil:
    """MXNet's GenerateAnchors around the cell [0, stride - 1]^2: ratios outer, scales inner."""
    cdef Py_ssize_t i, j
    cdef float w, h, x_ctr, y_ctr, size, size_ratios, new_w, new_h, scale, ratio
    cdef float base_end = stride - 1.0    # a double expression in MXNet, stored as float
    for i in range(num_ratios):
        for j in range(num_scales):
            ratio = <float>ratios[i]
            scale = <float>scales[j]
            w = base_end - 0 + ONE
            h = base_end - 0 + ONE
            x_ctr = 0 + 0.5 * (w - ONE)
            y_ctr = 0 + 0.5 * (h - ONE)
            size = w * h
            size_ratios = floorf(size / ratio)
            new_w = floorf(sqrtf(size_ratios) + HALF) * scale
            new_h = floorf((new_w / scale * ratio) + HALF) * scale
            out[0] = x_ctr - HALF * (new_w - ONE)
            out[1] = y_ctr - HALF * (new_h - ONE)
            out[2] = x_ctr + HALF * (new_w - ONE)
            out[3] = y_ctr + HALF * (new_h - ONE)
            out += 4


cdef void _proposal(KernelCall* c, real* dummy) noexcept nogil:
    # arrays: cls_prob (b, 2a, h, w), bbox_pred (b, 4a, h, w), im_info (b, 3), out (b*post, 5),
    #         score (b*post, 1), workspace
    # ints: batch, num_anchors, height, width, pre_nms, post_nms (the output rows per image),
    #       post_nms_kept, rpn_min_size, feature_stride, iou_loss, num_scales, num_ratios
    # floats: threshold, scales..., ratios...
    cdef Py_ssize_t batch = c.ints[0], num_anchors = c.ints[1], height = c.ints[2]
    cdef Py_ssize_t width = c.ints[3], pre_nms = c.ints[4], post_nms = c.ints[5]
    cdef Py_ssize_t post_kept = c.ints[6], min_size_param = c.ints[7], stride = c.ints[8]
    cdef bint iou_loss = c.ints[9] != 0
    cdef Py_ssize_t num_scales = c.ints[10], num_ratios = c.ints[11]
    cdef float threshold = <float>c.floats[0]
    cdef const real* cls_prob = <real*>c.arrays[0]
    cdef const real* deltas = <real*>c.arrays[1]
    cdef const real* im_info = <real*>c.arrays[2]
    cdef real* out = <real*>c.arrays[3]
    cdef real* out_score = <real*>c.arrays[4]
    cdef Py_ssize_t count = num_anchors * height * width
    cdef Py_ssize_t* order = <Py_ssize_t*>c.arrays[5]
    cdef Py_ssize_t* merge = order + count
    cdef double* keys = <double*>(merge + count)
    cdef Py_ssize_t* keep = <Py_ssize_t*>(keys + count)
    cdef float* proposals = <float*>(keep + pre_nms)
    cdef float* ordered = proposals + 5 * count
    cdef float* area = ordered + 5 * pre_nms
    cdef float* suppressed = area + pre_nms
    cdef float* base = suppressed + pre_nms
    cdef Py_ssize_t b, index, a, h, w, i, j, kept, plane = height * width
    cdef float* box
    cdef const real* image_deltas
    cdef float im_height, im_width, min_size, bw, bh, ctr_x, ctr_y, dx, dy, dw, dh
    cdef float x1, y1, x2, y2, iarea, xx1, yy1, xx2, yy2, inter_w, inter_h, inter
    cdef int real_height, real_width
    _base_anchors(base, <float>stride, c.floats + 1, num_scales, c.floats + 1 + num_scales,
                  num_ratios)
    for b in range(batch):
        im_height = <float>im_info[b * 3]
        im_width = <float>im_info[b * 3 + 1]
        real_height = <int>(im_height / <float>stride)
        real_width = <int>(im_width / <float>stride)
        min_size = <float>min_size_param * <float>im_info[b * 3 + 2]
        image_deltas = deltas + b * 4 * count
        for index in range(count):
            # index = (h * width + w) * num_anchors + a, as MXNet lays proposals out
            a = index % num_anchors
            w = (index // num_anchors) % width
            h = index // (width * num_anchors)
            box = proposals + index * 5
            box[0] = base[a * 4 + 0] + <float>(w * stride)
            box[1] = base[a * 4 + 1] + <float>(h * stride)
            box[2] = base[a * 4 + 2] + <float>(w * stride)
            box[3] = base[a * 4 + 3] + <float>(h * stride)
            box[4] = <float>cls_prob[((b * 2 * num_anchors) + num_anchors + a) * plane + h * width + w]
            dx = <float>image_deltas[(a * 4 + 0) * plane + h * width + w]
            dy = <float>image_deltas[(a * 4 + 1) * plane + h * width + w]
            dw = <float>image_deltas[(a * 4 + 2) * plane + h * width + w]
            dh = <float>image_deltas[(a * 4 + 3) * plane + h * width + w]
            if iou_loss:
                x1 = box[0] + dx
                y1 = box[1] + dy
                x2 = box[2] + dw
                y2 = box[3] + dh
            else:
                bw = box[2] - box[0] + 1.0
                bh = box[3] - box[1] + 1.0
                ctr_x = box[0] + 0.5 * (bw - 1.0)
                ctr_y = box[1] + 0.5 * (bh - 1.0)
                ctr_x = dx * bw + ctr_x
                ctr_y = dy * bh + ctr_y
                bw = expf(dw) * bw
                bh = expf(dh) * bh
                x1 = ctr_x - 0.5 * (bw - 1.0)
                y1 = ctr_y - 0.5 * (bh - 1.0)
                x2 = ctr_x + 0.5 * (bw - 1.0)
                y2 = ctr_y + 0.5 * (bh - 1.0)
            box[0] = _clip_float(x1, im_width - ONE)
            box[1] = _clip_float(y1, im_height - ONE)
            box[2] = _clip_float(x2, im_width - ONE)
            box[3] = _clip_float(y2, im_height - ONE)
            if h >= real_height or w >= real_width:
                box[4] = -1.0      # a padded position
            # FilterBox: a box smaller than min_size grows by it and loses its score
            bw = box[2] - box[0] + ONE
            bh = box[3] - box[1] + ONE
            if bw < min_size or bh < min_size:
                box[0] -= min_size / 2
                box[1] -= min_size / 2
                box[2] += min_size / 2
                box[3] += min_size / 2
                box[4] = -1.0
        for i in range(count):
            keys[i] = proposals[i * 5 + 4]
            order[i] = i
        stable_argsort(order, merge, keys, count, True)
        for i in range(pre_nms):
            memcpy(ordered + i * 5, proposals + order[i] * 5, 5 * sizeof(float))
            area[i] = (ordered[i * 5 + 2] - ordered[i * 5 + 0] + 1) * \
                      (ordered[i * 5 + 3] - ordered[i * 5 + 1] + 1)
            suppressed[i] = 0
        kept = 0
        for i in range(pre_nms):
            if kept >= post_kept:
                break
            if suppressed[i] > 0:
                continue
            keep[kept] = i
            kept += 1
            x1, y1, x2, y2, iarea = ordered[i * 5], ordered[i * 5 + 1], ordered[i * 5 + 2], \
                ordered[i * 5 + 3], area[i]
            for j in range(i + 1, pre_nms):
                if suppressed[j] > 0:
                    continue
                # std::max(a, b) = a < b ? b : a; std::min(a, b) = b < a ? b : a
                xx1 = ordered[j * 5] if x1 < ordered[j * 5] else x1
                yy1 = ordered[j * 5 + 1] if y1 < ordered[j * 5 + 1] else y1
                xx2 = ordered[j * 5 + 2] if ordered[j * 5 + 2] < x2 else x2
                yy2 = ordered[j * 5 + 3] if ordered[j * 5 + 3] < y2 else y2
                inter_w = xx2 - xx1 + ONE
                inter_h = yy2 - yy1 + ONE
                inter = (inter_w if 0 < inter_w else 0) * (inter_h if 0 < inter_h else 0)
                if inter / (iarea + area[j] - inter) > threshold:
                    suppressed[j] = 1
        # rows past the kept proposals cycle through them again
        for i in range(post_nms):
            j = keep[i] if i < kept else keep[i % kept]
            out[(b * post_nms + i) * 5] = <real>b
            for a in range(4):
                out[(b * post_nms + i) * 5 + 1 + a] = ordered[j * 5 + a]
            out_score[b * post_nms + i] = ordered[j * 5 + 4]


cdef inline float _clip_float(float x, float high) noexcept nogil:
    """std::max(std::min(x, high), 0.0f)."""
    x = high if high < x else x
    return 0 if x < 0 else x


cdef void proposal_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    if c.dtype == 0:
        _proposal(c, <float*>NULL)
    else:
        _proposal(c, <double*>NULL)


def proposal_sizes(cls_prob_shape, int rpn_pre_nms_top_n, int rpn_post_nms_top_n):
    """(count, pre_nms, post_nms_kept) of one image, as MXNet clamps them."""
    count = (cls_prob_shape[1] // 2) * cls_prob_shape[2] * cls_prob_shape[3]
    pre_nms = min(rpn_pre_nms_top_n if rpn_pre_nms_top_n > 0 else count, count)
    return count, pre_nms, min(rpn_post_nms_top_n, pre_nms)


def append_proposal(Plan plan, cls_prob, bbox_pred, im_info, out, score, int rpn_pre_nms_top_n=6000,
                    int rpn_post_nms_top_n=300, double threshold=0.7, int rpn_min_size=16,
                    scales=(4.0, 8.0, 16.0, 32.0), ratios=(0.5, 1.0, 2.0), int feature_stride=16,
                    bint iou_loss=False, workspace=None, req="write", str label="Proposal"):
    """Region proposals of each image: anchors shifted over the (h, w) grid, moved by
    bbox_pred, clipped to im_info's image, NMS over the rpn_pre_nms_top_n best foreground
    scores; out (b * rpn_post_nms_top_n, 5) = [image, x1, y1, x2, y2], score beside it."""
    if forward_req(req, label) == REQ_NULL:
        return
    if cls_prob.ndim != 4 or bbox_pred.ndim != 4 or im_info.ndim != 2:
        raise ValueError(f"{label}: cls_prob {cls_prob.shape}, bbox_pred {bbox_pred.shape}, "
                         f"im_info {im_info.shape} must be 4-, 4- and 2-D")
    batch, channels, height, width = cls_prob.shape
    num_anchors = channels // 2
    if tuple(bbox_pred.shape) != (batch, 4 * num_anchors, height, width) or \
            tuple(im_info.shape) != (batch, 3):
        raise ValueError(f"{label}: bbox_pred {bbox_pred.shape} and im_info {im_info.shape} do "
                         f"not match cls_prob {cls_prob.shape}")
    if num_anchors != len(scales) * len(ratios) or num_anchors == 0:
        raise ValueError(f"{label}: cls_prob {cls_prob.shape} has {num_anchors} anchors per "
                         f"position, but {len(scales)} scales x {len(ratios)} ratios make "
                         f"{len(scales) * len(ratios)}")
    if out.size != batch * max(rpn_post_nms_top_n, 0) * 5 or out.size != score.size * 5:
        raise ValueError(f"{label}: outputs {out.shape} and {score.shape} do not hold "
                         f"{rpn_post_nms_top_n} proposals of {batch} images")
    count, pre_nms, post_kept = proposal_sizes(cls_prob.shape, rpn_pre_nms_top_n,
                                               rpn_post_nms_top_n)
    if out.size == 0:
        return
    if count == 0:
        raise ValueError(f"{label}: cls_prob {cls_prob.shape} has no anchors to propose from")
    workspace = scratch(workspace, proposal_workspace_bytes(count, pre_nms, num_anchors), label)
    arrays = [cls_prob, bbox_pred, im_info, out, score]
    plan.add(proposal_kernel, common_dtype(arrays), arrays + [workspace],
             [batch, num_anchors, height, width, pre_nms, rpn_post_nms_top_n, post_kept,
              rpn_min_size, feature_stride, iou_loss, len(scales), len(ratios)],
             [float32(threshold)] + [float32(v) for v in tuple(scales) + tuple(ratios)], label)
