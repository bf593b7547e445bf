"""Registry-table rows for the detection operators (cysym/ops/detection.py).

The references are NumPy written from MXNet 1.9.1's CPU code (bounding_box-inl.h,
multibox_*.cc, proposal.cc): stable sorts on descending scores, -1 rows for what is removed,
and float32 arithmetic where MXNet computes in float whatever the data type (MultiBoxPrior,
MultiBoxTarget's location targets, Proposal), so that float64 results match to 1e-12.  The
inputs keep scores distinct and overlaps away from the thresholds, so float32 and float64 make
the same decisions; tests/test_detection_ops.py checks ties and degenerate boxes against
numbers computed by MXNet itself."""
import numpy as np

from opcase import Case

F32 = np.float32


def fixed(values):
    values = np.asarray(values, dtype=np.float64)
    return lambda rng, shape: values.reshape(shape)


def corner_boxes(rng, count, low=0.0, high=1.0, min_size=0.05):
    """count corner boxes [xmin, ymin, xmax, ymax] inside [low, high]^2."""
    start = rng.uniform(low, high - min_size, (count, 2))
    size = rng.uniform(min_size, high - start)
    return np.concatenate([start, start + size], axis=1)


def detections(rng, shape, class_offset=0.5):
    """Rows [class, score, xmin, ymin, xmax, ymax, extra]: distinct scores 0.05 apart (kept
    above 0.1); classes are half-integers by default, so that a finite-difference step never
    changes the class that MXNet truncates to an int."""
    *batch, n, width = shape
    images = int(np.prod(batch))
    rows = []
    for _ in range(images):
        scores = rng.permutation(np.arange(n) * 0.05 + 0.13)
        classes = rng.integers(0, 3, n) + class_offset
        rows.append(np.column_stack([classes, scores, corner_boxes(rng, n),
                                     rng.uniform(-1, 1, (n, width - 6))]))
    return np.stack(rows).reshape(shape)


def integer_class_detections(rng, shape):
    return detections(rng, shape, class_offset=0.0)


# ---------------------------------------------------------------------------------------------
# references

def _area(box, center):
    width, height = (box[2], box[3]) if center else (box[2] - box[0], box[3] - box[1])
    return 0.0 if width < 0 or height < 0 else width * height


def _intersect(a, b, center):
    """MXNet's Intersect along x (a[0], a[2]) then y (a[1], a[3]), multiplied."""
    total = 1.0
    for k in (0, 1):
        if center:
            left = max(a[k] - a[k + 2] / 2, b[k] - b[k + 2] / 2)
            right = min(a[k] + a[k + 2] / 2, b[k] + b[k + 2] / 2)
        else:
            left, right = max(a[k], b[k]), min(a[k + 2], b[k + 2])
        total *= max(right - left, 0.0)
    return total


def np_box_nms(data, overlap_thresh=0.5, valid_thresh=0.0, topk=-1, coord_start=2, score_index=1,
               id_index=-1, background_id=-1, force_suppress=False, in_format="corner",
               out_format="corner"):
    n, width = data.shape[-2:]
    topk = n if topk < 0 else min(n, topk)
    if topk < 1:
        return data.copy()
    images = data.reshape(-1, n, width)
    out = np.full_like(images, -1.0)
    center = in_format == "center"
    for b, rows in enumerate(images):
        valid = rows[:, score_index] > valid_thresh
        if id_index >= 0:
            valid &= rows[:, id_index] != background_id
        order = [j for j in np.argsort(-rows[:, score_index], kind="stable") if valid[j]][:topk]
        kept = []
        for j in order:
            box = rows[j, coord_start:coord_start + 4]
            for i in kept:
                if not force_suppress and id_index >= 0 and \
                        int(rows[i, id_index]) != int(rows[j, id_index]):
                    continue
                other = rows[i, coord_start:coord_start + 4]
                inter = _intersect(other, box, center)
                with np.errstate(invalid="ignore", divide="ignore"):
                    iou = inter / (_area(other, center) + _area(box, center) - inter)
                if iou > overlap_thresh:
                    break
            else:
                kept.append(j)
        out[b, :len(kept)] = rows[kept]
        if in_format != out_format:
            for row in out[b]:
                c = row[coord_start:coord_start + 4]
                if c[0] < 0:
                    continue
                if out_format == "center":
                    c[:] = [(c[0] + c[2]) / 2, (c[1] + c[3]) / 2, c[2] - c[0], c[3] - c[1]]
                else:
                    c[:] = [c[0] - c[2] / 2, c[1] - c[3] / 2, c[0] + c[2] / 2, c[1] + c[3] / 2]
    return out.reshape(data.shape)


def np_box_iou(lhs, rhs, format="corner"):
    left, right = lhs.reshape(-1, 4), rhs.reshape(-1, 4)
    center = format == "center"
    out = np.zeros((len(left), len(right)))
    for i, a in enumerate(left):
        for j, b in enumerate(right):
            inter = _intersect(a, b, center)
            if inter > 0:
                out[i, j] = inter / (_area(a, center) + _area(b, center) - inter)
    return out.reshape(lhs.shape[:-1] + rhs.shape[:-1])


def np_box_encode(samples, matches, anchors, refs, means, stds):
    picked = np.take_along_axis(refs, matches.astype(int)[..., None], axis=1)

    def centers(boxes):
        size = boxes[..., 2:] - boxes[..., :2]
        return boxes[..., :2] + size * 0.5, size

    ref_center, ref_size = centers(picked)
    anchor_center, anchor_size = centers(anchors)
    targets = np.concatenate([(ref_center - anchor_center) / anchor_size,
                              np.log(ref_size / anchor_size)], axis=-1)
    valid = (samples > 0.5)[..., None]
    return [np.where(valid, (targets - means) / stds, 0.0),
            np.broadcast_to(valid, anchors.shape).astype(np.float64)]


def np_box_decode(data, anchors, std0=1.0, std1=1.0, std2=1.0, std3=1.0, clip=-1.0,
                  format="center"):
    a = anchors.reshape(1, -1, 4)
    if format == "corner":
        size = a[..., 2:] - a[..., :2]
        center = a[..., :2] + size * 0.5
    else:
        center, size = a[..., :2], a[..., 2:]
    stds = np.array([std0, std1, std2, std3], np.float32).astype(np.float64)
    offset = data * stds
    log_size = offset[..., 2:] if clip <= 0 else np.minimum(offset[..., 2:], float(F32(clip)))
    mid = offset[..., :2] * size + center
    half = np.exp(log_size) * size * 0.5
    return np.concatenate([mid - half, mid + half], axis=-1)


def np_bipartite_matching(data, threshold, is_ascend=False, topk=-1):
    rows, cols = data.shape[-2:]
    scores = data.reshape(-1, rows * cols)
    row_marker = -np.ones((len(scores), rows))
    col_marker = -np.ones((len(scores), cols))
    threshold = float(F32(threshold))
    for b, flat in enumerate(scores):
        order = np.argsort(flat if is_ascend else -flat, kind="stable")
        count = 0
        for j in order:
            r, c = divmod(j, cols)
            if row_marker[b, r] != -1 or col_marker[b, c] != -1:
                continue
            if (flat[j] < threshold) if is_ascend else (flat[j] > threshold):
                row_marker[b, r], col_marker[b, c] = c, r
                count += 1
                if 0 < topk < count:
                    break
            else:
                break
    return [row_marker.reshape(data.shape[:-1]),
            col_marker.reshape(data.shape[:-2] + (cols,))]


def np_multibox_prior(data, sizes=(1.0,), ratios=(1.0,), clip=False, steps=(-1.0, -1.0),
                      offsets=(0.5, 0.5)):
    """In float32, as MXNet."""
    height, width = data.shape[2:4]
    sizes, ratios = [F32(s) for s in sizes], [F32(r) for r in ratios]
    step_y, step_x = F32(steps[0]), F32(steps[1])
    if step_y <= 0 or step_x <= 0:
        step_y, step_x = F32(1) / F32(height), F32(1) / F32(width)
    shapes = [(s, np.sqrt(ratios[0])) for s in sizes] + [(sizes[0], np.sqrt(r)) for r in ratios[1:]]
    out = []
    for r in range(height):
        cy = (F32(r) + F32(offsets[0])) * step_y
        for c in range(width):
            cx = (F32(c) + F32(offsets[1])) * step_x
            for size, ratio in shapes:
                w = size * F32(height) / F32(width) * ratio / F32(2)
                h = size / ratio / F32(2)
                out.append([cx - w, cy - h, cx + w, cy + h])
    out = np.array(out, np.float32).astype(np.float64)
    return (np.clip(out, 0, 1) if clip else out)[None]


def np_multibox_target(anchor, label, cls_pred, overlap_threshold=0.5, ignore_label=-1.0,
                       negative_mining_ratio=-1.0, negative_mining_thresh=0.5,
                       minimum_negative_samples=0, variances=(0.1, 0.1, 0.2, 0.2)):
    anchors = anchor.reshape(-1, 4)
    num_anchors = len(anchors)
    batch = label.shape[0]
    loc_target = np.zeros((batch, num_anchors, 4))
    loc_mask = np.zeros((batch, num_anchors, 4))
    cls_target = np.full((batch, num_anchors), float(F32(ignore_label)))
    for b in range(batch):
        gts = []
        for row in label[b]:
            if row[0] == -1:
                break
            gts.append(row)
        if not gts:
            continue
        gts = np.array(gts)
        lo = np.maximum(anchors[:, None, :2], gts[None, :, 1:3])
        hi = np.minimum(anchors[:, None, 2:], gts[None, :, 3:5])
        inter = np.prod(np.maximum(hi - lo, 0), axis=2)
        union = (np.prod(anchors[:, 2:] - anchors[:, :2], axis=1)[:, None]
                 + np.prod(gts[:, 3:5] - gts[:, 1:3], axis=1)[None] - inter)
        iou = (inter / union).astype(np.float32)
        flag = np.full(num_anchors, -1)
        match = np.full(num_anchors, -1)
        best = np.full(num_anchors, -1.0, np.float32)
        # each ground truth takes its best anchor, best pairs first
        free = iou.copy()
        while True:
            j, k = np.unravel_index(np.argmax(free), free.shape)
            if free[j, k] <= F32(1e-6):
                break
            flag[j], match[j], best[j] = 1, k, free[j, k]
            free[j, :] = -1
            free[:, k] = -1
        for j in np.flatnonzero(flag != 1):
            match[j], best[j] = np.argmax(iou[j]), iou[j].max()
            if overlap_threshold > 0 and best[j] > F32(overlap_threshold):
                flag[j] = 1
        num_positive = int((flag == 1).sum())
        if negative_mining_ratio > 0:
            count = min(int(F32(num_positive) * F32(negative_mining_ratio)),
                        num_anchors - num_positive)
            scores = cls_pred[b]
            prob = np.exp(scores - scores.max(axis=0))
            background = (prob[0] / prob.sum(axis=0)).astype(np.float32)
            candidates = [j for j in range(num_anchors)
                          if flag[j] == -1 and best[j] < F32(negative_mining_thresh)]
            ranked = sorted(candidates, key=lambda j: background[j])      # stable
            flag[ranked[:count]] = 0
        else:
            flag[flag != 1] = 0
        for j in range(num_anchors):
            if flag[j] == 0:
                cls_target[b, j] = 0
            if flag[j] != 1:
                continue
            gt = gts[match[j]]
            cls_target[b, j] = gt[0] + 1
            loc_mask[b, j] = 1
            a, g = anchors[j].astype(np.float32), gt[1:5].astype(np.float32)
            a_size, g_size = a[2:] - a[:2], g[2:] - g[:2]
            a_center, g_center = (a[:2] + a[2:]) * F32(0.5), (g[:2] + g[2:]) * F32(0.5)
            v = np.array(variances, np.float32)
            log_ratio = np.log((g_size / a_size).astype(np.float64)).astype(np.float32)
            loc_target[b, j] = np.concatenate([(g_center - a_center) / a_size / v[:2],
                                               log_ratio / v[2:]])
    return [loc_target.reshape(batch, -1), loc_mask.reshape(batch, -1), cls_target]


def np_multibox_detection(cls_prob, loc_pred, anchor, clip=True, threshold=0.01, background_id=0,
                          nms_threshold=0.5, force_suppress=False,
                          variances=(0.1, 0.1, 0.2, 0.2), nms_topk=-1):
    batch, num_classes, num_anchors = cls_prob.shape
    v = np.array(variances, np.float32).astype(np.float64)
    a = anchor.reshape(-1, 4)
    size, center = a[:, 2:] - a[:, :2], (a[:, :2] + a[:, 2:]) / 2
    out = -np.ones((batch, num_anchors, 6))
    for b in range(batch):
        p = loc_pred[b].reshape(-1, 4)
        mid = p[:, :2] * v[:2] * size + center
        half = np.exp(p[:, 2:] * v[2:]) * size / 2
        boxes = np.concatenate([mid - half, mid + half], axis=1)
        if clip:
            boxes = np.clip(boxes, 0, 1)
        classes = np.argmax(cls_prob[b, 1:], axis=0)
        scores = cls_prob[b, 1:].max(axis=0)
        valid = scores >= float(F32(threshold))
        rows = np.column_stack([classes, scores, boxes])[valid]
        out[b, :len(rows)] = rows
        if len(rows) == 0 or not 0 < nms_threshold <= 1:
            continue
        order = np.argsort(-rows[:, 1], kind="stable")
        keep = len(rows) if nms_topk <= 0 else min(nms_topk, len(rows))
        out[b, keep:len(rows), 0] = -1
        out[b, :keep] = rows[order[:keep]]
        dets = out[b]
        for i in range(keep):
            if dets[i, 0] < 0:
                continue
            for j in range(i + 1, keep):
                if dets[j, 0] >= 0 and (force_suppress or dets[i, 0] == dets[j, 0]):
                    lo = np.maximum(dets[i, 2:4], dets[j, 2:4])
                    hi = np.minimum(dets[i, 4:6], dets[j, 4:6])
                    inter = np.prod(np.maximum(hi - lo, 0))
                    union = np.prod(dets[i, 4:6] - dets[i, 2:4]) + \
                        np.prod(dets[j, 4:6] - dets[j, 2:4]) - inter
                    if (0 if union <= 0 else inter / union) >= float(F32(nms_threshold)):
                        dets[j, 0] = -1
    return out


def _expf(x):
    return F32(np.exp(np.float64(x)))


def np_proposal(cls_prob, bbox_pred, im_info, rpn_pre_nms_top_n=6000, rpn_post_nms_top_n=300,
                threshold=0.7, rpn_min_size=16, scales=(4.0, 8.0, 16.0, 32.0),
                ratios=(0.5, 1.0, 2.0), feature_stride=16, output_score=False, iou_loss=False):
    """MXNet's float32 arithmetic, term by term (a C double constant is a float64 step)."""
    batch, channels, height, width = cls_prob.shape
    num_anchors = channels // 2
    half, one = F32(0.5), F32(1)
    base = []
    for ratio in ratios:
        for scale in scales:
            side = F32(feature_stride - 1.0) + one
            ctr = F32(0.5 * np.float64(side - one))
            size_ratios = np.floor(side * side / F32(ratio))
            new_w = np.floor(np.sqrt(size_ratios) + half) * F32(scale)
            new_h = np.floor(new_w / F32(scale) * F32(ratio) + half) * F32(scale)
            base.append([ctr - half * (new_w - one), ctr - half * (new_h - one),
                         ctr + half * (new_w - one), ctr + half * (new_h - one)])
    count = num_anchors * height * width
    pre = min(rpn_pre_nms_top_n if rpn_pre_nms_top_n > 0 else count, count)
    post = min(rpn_post_nms_top_n, pre)
    out, out_score = [], []
    for b in range(batch):
        im_h, im_w, scale = (F32(v) for v in im_info[b])
        real_h = int(im_h / F32(feature_stride))
        real_w = int(im_w / F32(feature_stride))
        min_size = F32(rpn_min_size) * scale
        props = []
        for h in range(height):
            for w in range(width):
                for a in range(num_anchors):
                    x1, y1, x2, y2 = (F32(base[a][k] + F32((w if k % 2 == 0 else h) * feature_stride))
                                      for k in range(4))
                    dx, dy, dw, dh = (F32(bbox_pred[b, a * 4 + k, h, w]) for k in range(4))
                    if iou_loss:
                        box = [x1 + dx, y1 + dy, x2 + dw, y2 + dh]
                    else:
                        bw = F32(np.float64(x2 - x1) + 1.0)
                        bh = F32(np.float64(y2 - y1) + 1.0)
                        cx = dx * bw + F32(x1 + 0.5 * (np.float64(bw) - 1.0))
                        cy = dy * bh + F32(y1 + 0.5 * (np.float64(bh) - 1.0))
                        pw, ph = _expf(dw) * bw, _expf(dh) * bh
                        box = [F32(cx - 0.5 * (np.float64(pw) - 1.0)),
                               F32(cy - 0.5 * (np.float64(ph) - 1.0)),
                               F32(cx + 0.5 * (np.float64(pw) - 1.0)),
                               F32(cy + 0.5 * (np.float64(ph) - 1.0))]
                    limits = [im_w - one, im_h - one] * 2
                    box = [max(min(v, hi), F32(0)) for v, hi in zip(box, limits)]
                    score = F32(cls_prob[b, num_anchors + a, h, w])
                    if h >= real_h or w >= real_w:
                        score = F32(-1)
                    if box[2] - box[0] + one < min_size or box[3] - box[1] + one < min_size:
                        box = [box[0] - min_size / F32(2), box[1] - min_size / F32(2),
                               box[2] + min_size / F32(2), box[3] + min_size / F32(2)]
                        score = F32(-1)
                    props.append(box + [score])
        props = np.array(props, np.float32)
        ordered = props[np.argsort(-props[:, 4], kind="stable")][:pre]
        area = (ordered[:, 2] - ordered[:, 0] + one) * (ordered[:, 3] - ordered[:, 1] + one)
        suppressed = np.zeros(pre, bool)
        keep = []
        for i in range(pre):
            if len(keep) >= post:
                break
            if suppressed[i]:
                continue
            keep.append(i)
            lo = np.maximum(ordered[i, :2], ordered[i + 1:, :2])
            hi = np.minimum(ordered[i, 2:4], ordered[i + 1:, 2:4])
            inter = np.prod(np.maximum(hi - lo + one, F32(0)), axis=1)
            suppressed[i + 1:] |= inter / (area[i] + area[i + 1:] - inter) > F32(threshold)
        rows = [keep[i % len(keep)] for i in range(rpn_post_nms_top_n)]
        out.append(np.column_stack([np.full(len(rows), b), ordered[rows, :4]]))
        out_score.append(ordered[rows, 4:5])
    result = [np.concatenate(out).astype(np.float64), np.concatenate(out_score).astype(np.float64)]
    return result if output_score else result[0]


# ---------------------------------------------------------------------------------------------
# inputs

def box_iou_boxes(rng, shape):
    return corner_boxes(rng, int(np.prod(shape[:-1]))).reshape(shape)


def encode_samples(rng, shape):
    return rng.choice([-1.0, 0.0, 1.0], shape)


def encode_matches(rng, shape):
    return rng.integers(0, 3, shape).astype(np.float64)


def encode_anchors(rng, shape):
    return corner_boxes(rng, int(np.prod(shape[:-1]))).reshape(shape)


def distinct_scores(rng, shape):
    """Scores 1/64 apart (no ties, exact in float32), shuffled."""
    n = int(np.prod(shape))
    return rng.permutation(np.arange(n) / 64.0 + 0.02).reshape(shape)


def softmax_scores(rng, shape):
    logits = rng.normal(0, 2, shape)
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def small_offsets(rng, shape):
    return rng.normal(0, 0.4, shape)


def gt_labels(rng, shape):
    """Two images: 2 ground truths, then -1 padding; 3 ground truths."""
    batch, num_labels, width = shape
    label = -np.ones(shape)
    for b, count in enumerate((2, 3)[:batch]):
        label[b, :count, 0] = rng.integers(0, 2, count)
        label[b, :count, 1:5] = corner_boxes(rng, count, 0.1, 0.9, 0.2)
        label[b, :count, 5:] = 0.25
    return label


def grid_anchors(rng, shape):
    """Corner anchors on a jittered 6 x 4 grid of [0, 1]^2 (shape (1, 24, 4))."""
    ys, xs = np.meshgrid(np.linspace(0.1, 0.9, 4), np.linspace(0.08, 0.92, 6), indexing="ij")
    centers = np.column_stack([xs.ravel(), ys.ravel()]) + rng.uniform(-0.02, 0.02, (24, 2))
    sizes = rng.uniform(0.12, 0.3, (24, 2))
    return np.concatenate([centers - sizes / 2, centers + sizes / 2], axis=1).reshape(shape)


def rpn_scores(rng, shape):
    return distinct_scores(rng, shape) / (np.prod(shape) / 64.0 + 0.1)


def rpn_deltas(rng, shape):
    return rng.normal(0, 0.3, shape)


NMS_BAD = [("params", {"score_index": 7}), ("params", {"coord_start": 4}),
           ("params", {"id_index": 1}), ("params", {"in_format": "xywh"}),
           ("shapes", {"data": (2, 9, 4)})]
PROPOSAL_PARAMS = dict(rpn_pre_nms_top_n=30, rpn_post_nms_top_n=14, scales=(2.0, 4.0),
                       ratios=(0.5, 1.0, 2.0), feature_stride=8, rpn_min_size=6, threshold=0.6)

CASE_LIST = [
    # -- box_nms: the gradient moves with the kept boxes --------------------------------------
    Case("_contrib_box_nms", {"data": ((2, 9, 7), detections)},
         params=dict(overlap_thresh=0.3, id_index=0), ref=np_box_nms, bad=NMS_BAD),
    # a step of a background box's class makes it valid: no finite differences here
    Case("_contrib_box_nms", {"data": ((3, 2, 8, 7), integer_class_detections)},
         params=dict(overlap_thresh=0.2, valid_thresh=0.3, topk=6, id_index=0, background_id=1,
                     force_suppress=True), ref=np_box_nms, grad=(),
         id="_contrib_box_nms-topk-background"),
    Case("_contrib_box_nms", {"data": ((11, 7), detections)},
         params=dict(overlap_thresh=0.15), ref=np_box_nms, id="_contrib_box_nms-2d"),
    # a format conversion is not differentiated by MXNet: the gradient stays a copy
    Case("_contrib_box_nms", {"data": ((2, 9, 7), detections)},
         params=dict(overlap_thresh=0.25, in_format="center", out_format="corner"),
         ref=np_box_nms, grad=(), id="_contrib_box_nms-center-to-corner"),
    Case("_contrib_box_nms", {"data": ((2, 9, 7), detections)},
         params=dict(overlap_thresh=0.3, out_format="center", id_index=0), ref=np_box_nms,
         grad=(), id="_contrib_box_nms-corner-to-center"),
    Case("_contrib_box_nms", {"data": ((2, 5, 7), detections)}, params=dict(topk=0),
         ref=np_box_nms, id="_contrib_box_nms-topk0-copies"),
    # -- box_iou, box_encode, box_decode, bipartite_matching: zero gradients -------------------
    Case("_contrib_box_iou", {"lhs": ((2, 3, 4), box_iou_boxes), "rhs": ((5, 4), box_iou_boxes)},
         ref=np_box_iou, zero_grad=True,
         bad=[("shapes", {"lhs": (2, 3, 5), "rhs": (5, 4)}), ("params", {"format": "xywh"})]),
    Case("_contrib_box_iou", {"lhs": ((3, 4), box_iou_boxes), "rhs": ((2, 2, 4), box_iou_boxes)},
         params=dict(format="center"), ref=np_box_iou, zero_grad=True, id="_contrib_box_iou-center"),
    Case("_contrib_box_encode",
         {"samples": ((2, 5), encode_samples), "matches": ((2, 5), encode_matches),
          "anchors": ((2, 5, 4), encode_anchors), "refs": ((2, 3, 4), encode_anchors),
          "means": ((4,), fixed([0.01, -0.02, 0.0, 0.03])),
          "stds": ((4,), fixed([0.1, 0.1, 0.2, 0.2]))},
         ref=np_box_encode, zero_grad=True,
         bad=[("shapes", {"samples": (2, 5), "matches": (2, 5), "anchors": (2, 5, 3),
                          "refs": (2, 3, 4), "means": (4,), "stds": (4,)}),
              ("shapes", {"samples": (2, 4), "matches": (2, 5), "anchors": (2, 5, 4),
                          "refs": (2, 3, 4), "means": (4,), "stds": (4,)})]),
    Case("_contrib_box_decode", {"data": ((2, 5, 4), small_offsets),
                                 "anchors": ((1, 5, 4), encode_anchors)},
         params=dict(std0=0.1, std1=0.1, std2=0.2, std3=0.2, format="corner"), ref=np_box_decode,
         zero_grad=True, bad=[("shapes", {"data": (2, 5, 4), "anchors": (1, 4, 4)}),
                              ("params", {"format": "xywh"})]),
    Case("_contrib_box_decode", {"data": ((3, 4, 4), small_offsets),
                                 "anchors": ((1, 4, 4), encode_anchors)},
         params=dict(clip=0.2), ref=np_box_decode, zero_grad=True, id="_contrib_box_decode-center-clip"),
    Case("_contrib_bipartite_matching", {"data": ((2, 5, 3), distinct_scores)},
         params=dict(threshold=0.5), ref=np_bipartite_matching, zero_grad=True,
         bad=[("shapes", {"data": (5,)})]),
    Case("_contrib_bipartite_matching", {"data": ((4, 6), distinct_scores)},
         params=dict(threshold=0.3, is_ascend=True, topk=2), ref=np_bipartite_matching,
         zero_grad=True, id="_contrib_bipartite_matching-ascend-topk"),
    Case("_contrib_bipartite_matching",
         {"data": ((3, 2), fixed([[0.5, 0.6], [0.1, 0.2], [0.3, 0.4]]))},
         params=dict(threshold=1e-12), zero_grad=True, id="_contrib_bipartite_matching-doc",
         ref=lambda data, **_: [np.array([1.0, -1.0, 0.0]), np.array([2.0, 0.0])]),
    # -- SSD: MultiBoxPrior, MultiBoxTarget, MultiBoxDetection --------------------------------
    Case("_contrib_MultiBoxPrior", {"data": ((2, 3, 5, 7), small_offsets)},
         params=dict(sizes=(0.3, 0.55), ratios=(1.0, 2.0, 0.5)), ref=np_multibox_prior,
         zero_grad=True, bad=[("params", {"steps": (0.1,)}), ("params", {"offsets": (0.5, 1.5)}),
                              ("shapes", {"data": (2, 3, 5)})]),
    Case("_contrib_MultiBoxPrior", {"data": ((1, 2, 3, 4), small_offsets)},
         params=dict(sizes=(0.7,), ratios=(1.0, 3.0), clip=True, steps=(0.1, 0.13),
                     offsets=(0.3, 0.6)), ref=np_multibox_prior, zero_grad=True,
         id="_contrib_MultiBoxPrior-clip-steps"),
    Case("_contrib_MultiBoxTarget", {"anchor": ((1, 24, 4), grid_anchors),
                                     "label": ((2, 4, 6), gt_labels),
                                     "cls_pred": ((2, 3, 24), small_offsets)},
         params=dict(overlap_threshold=0.35), ref=np_multibox_target, zero_grad=True,
         bad=[("shapes", {"anchor": (1, 24, 4), "label": (2, 4, 4), "cls_pred": (2, 3, 24)}),
              ("shapes", {"anchor": (2, 24, 4), "label": (2, 4, 6), "cls_pred": (2, 3, 24)}),
              ("params", {"variances": (0.1, 0.2)})]),
    Case("_contrib_MultiBoxTarget", {"anchor": ((1, 24, 4), grid_anchors),
                                     "label": ((2, 4, 6), gt_labels),
                                     "cls_pred": ((2, 3, 24), small_offsets)},
         params=dict(overlap_threshold=0.3, negative_mining_ratio=2.5,
                     negative_mining_thresh=0.45, ignore_label=-2.0,
                     variances=(0.2, 0.2, 0.1, 0.1)),
         ref=np_multibox_target, zero_grad=True, id="_contrib_MultiBoxTarget-mining"),
    Case("_contrib_MultiBoxDetection", {"cls_prob": ((2, 4, 24), softmax_scores),
                                        "loc_pred": ((2, 96), small_offsets),
                                        "anchor": ((1, 24, 4), grid_anchors)},
         params=dict(threshold=0.2, nms_threshold=0.4), ref=np_multibox_detection,
         zero_grad=True, bad=[("shapes", {"cls_prob": (2, 4, 24), "loc_pred": (2, 95),
                                          "anchor": (1, 24, 4)})]),
    Case("_contrib_MultiBoxDetection", {"cls_prob": ((2, 3, 24), softmax_scores),
                                        "loc_pred": ((2, 96), small_offsets),
                                        "anchor": ((1, 24, 4), grid_anchors)},
         params=dict(clip=False, force_suppress=True, nms_topk=9, nms_threshold=0.3),
         ref=np_multibox_detection, zero_grad=True, id="_contrib_MultiBoxDetection-topk-force"),
    # -- Faster R-CNN: Proposal, MultiProposal ----------------------------------------------------
    Case("_contrib_Proposal", {"cls_prob": ((1, 12, 3, 4), rpn_scores),
                               "bbox_pred": ((1, 24, 3, 4), rpn_deltas),
                               "im_info": ((1, 3), fixed([[20.0, 27.0, 1.0]]))},
         params=PROPOSAL_PARAMS, ref=np_proposal, zero_grad=True,
         bad=[("shapes", {"cls_prob": (1, 10, 3, 4), "bbox_pred": (1, 20, 3, 4),
                          "im_info": (1, 3)})]),
    Case("_contrib_MultiProposal", {"cls_prob": ((2, 12, 3, 4), rpn_scores),
                                    "bbox_pred": ((2, 24, 3, 4), rpn_deltas),
                                    "im_info": ((2, 3), fixed([[20.0, 27.0, 1.0],
                                                               [24.0, 21.0, 0.7]]))},
         params=dict(PROPOSAL_PARAMS, output_score=True, rpn_post_nms_top_n=40), ref=np_proposal,
         zero_grad=True, bad=[("shapes", {"cls_prob": (2, 12, 3, 4), "bbox_pred": (2, 24, 3, 5),
                                          "im_info": (2, 3)})]),
    Case("_contrib_MultiProposal", {"cls_prob": ((2, 12, 3, 4), rpn_scores),
                                    "bbox_pred": ((2, 24, 3, 4), rpn_deltas),
                                    "im_info": ((2, 3), fixed([[24.0, 32.0, 1.0],
                                                               [17.0, 30.0, 1.2]]))},
         params=dict(PROPOSAL_PARAMS, iou_loss=True, rpn_pre_nms_top_n=-1), ref=np_proposal,
         zero_grad=True, id="_contrib_MultiProposal-iou-loss"),
]
