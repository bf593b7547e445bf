"""Bounding-box kernels: box_nms (and the scatter of its gradient), box_iou, box_encode,
box_decode, bipartite_matching.

They reproduce MXNet 1.9.1's CPU code (src/operator/contrib/bounding_box-inl.h) operation by
operation in the data's precision: the same float32/float64 expressions (a `0.5` constant
promotes to double as in C++), thresholds rounded to float32 as MXNet's float parameters are,
std::stable_sort's order on ties, C's double exp and log where MXNet calls them unqualified.
These ops run once per image on a few thousand boxes, so the loops are plain; scratch memory
comes from the planned workspace.
"""
import numpy as np

from libc.math cimport exp, log
from libc.string cimport memcpy, memset
from cysym._ops._blas cimport real
from cysym._ops._common cimport common_dtype, REQ_NULL, REQ_WRITE, REQ_ADD, req_code
from cysym._ops._detection cimport stable_argsort
from cysym._ops.runner cimport Plan, KernelCall, RunContext

FORMATS = {"corner": 0, "center": 1}
cdef enum:
    CORNER = 0
    CENTER = 1


def float32(double value):
    """A float parameter as MXNet holds it (a C++ float), back in a double."""
    return float(np.float32(value))


def format_code(fmt, str label):
    try:
        return FORMATS[fmt]
    except KeyError:
        raise ValueError(f"{label}: box format must be one of {list(FORMATS)}, not {fmt!r}") from None


def scratch(workspace, Py_ssize_t nbytes, str label):
    """The planned workspace (uint8, at least nbytes), or a private buffer when none is given
    (a kernel appended outside an executor)."""
    if workspace is None:
        return np.empty(max(nbytes, 8), np.uint8)
    if workspace.dtype != np.uint8 or workspace.nbytes < nbytes:
        raise ValueError(f"{label}: workspace of {workspace.nbytes} bytes, {nbytes} needed")
    return workspace


def _forward_req(req, str label):
    """Forward kernels write their outputs: req 'write' or 'null' (nothing reads them)."""
    code = req_code(req, label)
    if code == REQ_ADD:
        raise ValueError(f"{label}: this kernel writes its outputs; req 'add' is not supported")
    return code


cdef inline real _intersect(const real* a, const real* b, int fmt) noexcept nogil:
    """Overlap of two boxes along one axis (a[0], a[2] are its two coordinates), MXNet's
    Intersect: never negative."""
    cdef real left, right, w, a_half, b_half, a_left, a_right, b_left, b_right
    if fmt == CORNER:
        left = a[0] if a[0] > b[0] else b[0]
        right = a[2] if a[2] < b[2] else b[2]
    else:
        # center format: a[0] is the center, a[2] the size
        a_half = a[2] / 2
        b_half = b[2] / 2
        a_left, a_right = a[0] - a_half, a[0] + a_half
        b_left, b_right = b[0] - b_half, b[0] + b_half
        left = b_left if b_left > a_left else a_left
        right = b_right if b_right < a_right else a_right
    w = right - left
    return w if w > 0 else 0


cdef inline real _area(const real* box, int fmt) noexcept nogil:
    """MXNet's BoxArea: 0 for a box of negative width or height."""
    cdef real width, height
    if fmt == CORNER:
        width = box[2] - box[0]
        height = box[3] - box[1]
    else:
        width = box[2]
        height = box[3]
    if width < 0 or height < 0:
        return 0
    return width * height


# ---------------------------------------------------------------------------------------------
# box_nms

def box_nms_workspace_bytes(Py_ssize_t num_elem):
    """Scratch of one image: sort order and its merge buffer, scores and areas."""
    return 4 * 8 * num_elem


cdef void _box_nms(KernelCall* c, real* dummy) noexcept nogil:
    # arrays: data, out, record, workspace
    # ints: num_batch, num_elem, width, coord_start, score_index, id_index, background_id,
    #       topk (already min(num_elem, topk); < 1: copy), force_suppress, in_format, out_format
    # floats: overlap_thresh, valid_thresh (float32 values)
    cdef Py_ssize_t num_batch = c.ints[0], n = c.ints[1], width = c.ints[2]
    cdef Py_ssize_t coord = c.ints[3], score_at = c.ints[4], id_at = c.ints[5]
    cdef real background = <real>c.ints[6]
    cdef Py_ssize_t topk = c.ints[7]
    cdef bint force = c.ints[8] != 0
    cdef int in_format = <int>c.ints[9], out_format = <int>c.ints[10]
    cdef real overlap = <real>c.floats[0], valid_thresh = <real>c.floats[1]
    cdef const real* data = <real*>c.arrays[0]
    cdef real* out = <real*>c.arrays[1]
    cdef real* record = <real*>c.arrays[2]
    cdef Py_ssize_t* order = <Py_ssize_t*>c.arrays[3]
    cdef Py_ssize_t* merge = order + n
    cdef double* keys = <double*>(merge + n)
    cdef real* areas = <real*>(keys + n)
    cdef Py_ssize_t b, i, j, k, r, p, count, num_valid
    cdef const real* rows
    cdef const real* ref
    cdef const real* pos
    cdef real* row
    cdef real score, inter, iou, x, y, w, h
    if topk < 1:
        # MXNet's early exit: the input unchanged, the record the identity (no format change)
        memcpy(out, data, num_batch * n * width * sizeof(real))
        for i in range(num_batch * n):
            record[i] = <real>i
        return
    for b in range(num_batch):
        rows = data + b * n * width
        # the valid boxes in input order, then stably by descending score
        num_valid = 0
        for j in range(n):
            score = rows[j * width + score_at]
            if score > valid_thresh and (id_at < 0 or rows[j * width + id_at] != background):
                order[num_valid] = j
                keys[j] = score
                num_valid += 1
        stable_argsort(order, merge, keys, num_valid, True)
        k = min(topk, num_valid)
        for i in range(k):
            areas[order[i]] = _area(rows + order[i] * width + coord, in_format)
        # each kept box in turn suppresses the later ones (among the first topk) that overlap it;
        # a suppressed box is marked by order[...] = -1
        for r in range(k):
            if order[r] < 0:
                continue
            ref = rows + order[r] * width
            for p in range(r + 1, k):
                if order[p] < 0:
                    continue
                pos = rows + order[p] * width
                if not force and id_at >= 0 and <int>ref[id_at] != <int>pos[id_at]:
                    continue
                inter = _intersect(ref + coord, pos + coord, in_format)
                inter *= _intersect(ref + coord + 1, pos + coord + 1, in_format)
                iou = inter / (areas[order[r]] + areas[order[p]] - inter)
                if iou > overlap:
                    order[p] = -1
        count = 0
        for i in range(k):
            if order[i] >= 0:
                memcpy(out + (b * n + count) * width, rows + order[i] * width, width * sizeof(real))
                record[b * n + count] = <real>(b * n + order[i])
                count += 1
        for i in range(count, n):
            record[b * n + i] = -1
            for j in range(width):
                out[(b * n + i) * width + j] = -1
    if in_format == out_format:
        return
    # as MXNet, a row whose first coordinate is negative (the -1 padding, but also a kept box
    # left of 0) is not converted
    for i in range(num_batch * n):
        row = out + i * width + coord
        if row[0] < 0:
            continue
        if out_format == CENTER:
            x, y, w, h = (row[0] + row[2]) / 2, (row[1] + row[3]) / 2, row[2] - row[0], row[3] - row[1]
        else:
            w = row[2] / 2
            h = row[3] / 2
            x, y, w, h = row[0] - w, row[1] - h, row[0] + w, row[1] + h
        row[0], row[1], row[2], row[3] = x, y, w, h


cdef void box_nms_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    if c.dtype == 0:
        _box_nms(c, <float*>NULL)
    else:
        _box_nms(c, <double*>NULL)


def append_box_nms(Plan plan, data, out, record, double overlap_thresh=0.5,
                   double valid_thresh=0.0, int topk=-1, int coord_start=2, int score_index=1,
                   int id_index=-1, int background_id=-1, bint force_suppress=False,
                   in_format="corner", out_format="corner", workspace=None, req="write",
                   str label="box_nms"):
    """out = the boxes of each image (data (..., n, width)) that survive non-maximum
    suppression, by descending score, then rows of -1; record (..., n, 1) = the flat input
    row of each output row (-1 for padding), which the gradient scatters back through."""
    if _forward_req(req, label) == REQ_NULL:
        return
    if data.ndim < 2 or tuple(out.shape) != tuple(data.shape) or \
            record.size * data.shape[data.ndim - 1] != data.size:
        raise ValueError(f"{label}: data {data.shape}, output {out.shape} and record "
                         f"{record.shape} do not match")
    n, width = data.shape[data.ndim - 2], data.shape[data.ndim - 1]
    num_batch = data.size // (n * width) if n * width else 0
    for what, index in (("coord_start + 3", coord_start + 3), ("score_index", score_index),
                        ("id_index", id_index)):
        if index >= width:
            raise ValueError(f"{label}: {what}={index} is outside rows of width {width}")
    effective_topk = n if topk < 0 else min(n, topk)
    workspace = scratch(workspace, box_nms_workspace_bytes(n), label)
    arrays = [data, out, record]
    plan.add(box_nms_kernel, common_dtype(arrays), arrays + [workspace],
             [num_batch, n, width, coord_start, score_index, id_index, background_id,
              effective_topk, force_suppress, format_code(in_format, label),
              format_code(out_format, label)],
             [float32(overlap_thresh), float32(valid_thresh)], label)


cdef void _box_nms_backward(KernelCall* c, real* dummy) noexcept nogil:
    # arrays: out_grad, record, data_grad; ints: rows, width, req
    cdef Py_ssize_t rows = c.ints[0], width = c.ints[1], i, j, source
    cdef int req = <int>c.ints[2]
    cdef const real* dy = <real*>c.arrays[0]
    cdef const real* record = <real*>c.arrays[1]
    cdef real* dx = <real*>c.arrays[2]
    if req == REQ_WRITE:
        memset(dx, 0, rows * width * sizeof(real))
    for i in range(rows):
        if not (record[i] >= 0 and record[i] < rows):
            continue
        source = <Py_ssize_t>record[i]
        for j in range(width):
            dx[source * width + j] += dy[i * width + j]


cdef void box_nms_backward_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    if c.dtype == 0:
        _box_nms_backward(c, <float*>NULL)
    else:
        _box_nms_backward(c, <double*>NULL)


def append_box_nms_backward(Plan plan, out_grad, record, data_grad, req="write",
                            str label="_backward_contrib_box_nms"):
    """data_grad = 0, then each output row's gradient added to the input row it came from
    (record); suppressed and filtered boxes get 0."""
    code = req_code(req, label)
    if tuple(out_grad.shape) != tuple(data_grad.shape) or out_grad.ndim < 1 or \
            record.size * out_grad.shape[out_grad.ndim - 1] != out_grad.size:
        raise ValueError(f"{label}: out_grad {out_grad.shape}, record {record.shape} and "
                         f"data_grad {data_grad.shape} do not match")
    if code == REQ_NULL or data_grad.size == 0:
        return
    arrays = [out_grad, record, data_grad]
    plan.add(box_nms_backward_kernel, common_dtype(arrays), arrays,
             [record.size, out_grad.shape[out_grad.ndim - 1], code], [], label)


# ---------------------------------------------------------------------------------------------
# box_iou

cdef void _box_iou(KernelCall* c, real* dummy) noexcept nogil:
    # arrays: lhs, rhs, out; ints: num_lhs, num_rhs, format
    cdef Py_ssize_t num_lhs = c.ints[0], num_rhs = c.ints[1], i, j
    cdef int fmt = <int>c.ints[2]
    cdef const real* lhs = <real*>c.arrays[0]
    cdef const real* rhs = <real*>c.arrays[1]
    cdef real* out = <real*>c.arrays[2]
    cdef real inter
    for i in range(num_lhs):
        for j in range(num_rhs):
            inter = _intersect(lhs + 4 * i, rhs + 4 * j, fmt)
            inter *= _intersect(lhs + 4 * i + 1, rhs + 4 * j + 1, fmt)
            if inter <= 0:
                out[i * num_rhs + j] = 0
            else:
                out[i * num_rhs + j] = inter / (_area(lhs + 4 * i, fmt) + _area(rhs + 4 * j, fmt)
                                                - inter)


cdef void box_iou_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    if c.dtype == 0:
        _box_iou(c, <float*>NULL)
    else:
        _box_iou(c, <double*>NULL)


def append_box_iou(Plan plan, lhs, rhs, out, fmt="corner", req="write", str label="box_iou"):
    """out[i, j] = IoU of box i of lhs (..., 4) and box j of rhs (..., 4)."""
    if _forward_req(req, label) == REQ_NULL:
        return
    if lhs.shape[lhs.ndim - 1] != 4 or rhs.shape[rhs.ndim - 1] != 4 or \
            out.size != (lhs.size // 4) * (rhs.size // 4):
        raise ValueError(f"{label}: lhs {lhs.shape}, rhs {rhs.shape} and output {out.shape} "
                         f"do not match")
    arrays = [lhs, rhs, out]
    plan.add(box_iou_kernel, common_dtype(arrays), arrays,
             [lhs.size // 4, rhs.size // 4, format_code(fmt, label)], [], label)


# ---------------------------------------------------------------------------------------------
# box_encode and box_decode

cdef void _box_encode(KernelCall* c, real* dummy) noexcept nogil:
    # arrays: samples, matches, anchors, refs, means, stds, targets, masks; ints: batch, n, m
    cdef Py_ssize_t batch = c.ints[0], n = c.ints[1], m = c.ints[2], i, k, match
    cdef const real* samples = <real*>c.arrays[0]
    cdef const real* matches = <real*>c.arrays[1]
    cdef const real* anchors = <real*>c.arrays[2]
    cdef const real* refs = <real*>c.arrays[3]
    cdef const real* means = <real*>c.arrays[4]
    cdef const real* stds = <real*>c.arrays[5]
    cdef real* targets = <real*>c.arrays[6]
    cdef real* masks = <real*>c.arrays[7]
    cdef const real* ref
    cdef const real* anchor
    cdef real ref_width, ref_height, ref_x, ref_y, a_width, a_height, a_x, a_y, valid
    for i in range(batch * n):
        # MXNet reads refs[matches[i]] unchecked; an unmatched anchor (-1) only has its
        # target zeroed, so clipping the row read changes nothing it computes
        match = <Py_ssize_t>matches[i] if matches[i] > 0 else 0
        match = min(match, m - 1)
        ref = refs + ((i // n) * m + match) * 4
        anchor = anchors + i * 4
        ref_width = ref[2] - ref[0]
        ref_height = ref[3] - ref[1]
        ref_x = ref[0] + ref_width * 0.5
        ref_y = ref[1] + ref_height * 0.5
        a_width = anchor[2] - anchor[0]
        a_height = anchor[3] - anchor[1]
        a_x = anchor[0] + a_width * 0.5
        a_y = anchor[1] + a_height * 0.5
        valid = 1.0 if samples[i] > 0.5 else 0.0
        for k in range(4):
            masks[i * 4 + k] = valid
        if valid > 0.5:
            targets[i * 4 + 0] = ((ref_x - a_x) / a_width - means[0]) / stds[0]
            targets[i * 4 + 1] = ((ref_y - a_y) / a_height - means[1]) / stds[1]
            # the unqualified log of bounding_box-inl.h is C's double log: the rest of the
            # expression runs in double too (MXNet's float32 results show it)
            targets[i * 4 + 2] = (log(ref_width / a_width) - means[2]) / stds[2]
            targets[i * 4 + 3] = (log(ref_height / a_height) - means[3]) / stds[3]
        else:
            for k in range(4):
                targets[i * 4 + k] = 0


cdef void box_encode_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    if c.dtype == 0:
        _box_encode(c, <float*>NULL)
    else:
        _box_encode(c, <double*>NULL)


def append_box_encode(Plan plan, samples, matches, anchors, refs, means, stds, targets, masks,
                      req_targets="write", req_masks="write", str label="box_encode"):
    """targets = (anchor-relative center offsets and log sizes of each anchor's matched ref
    - means) / stds where samples > 0.5, else 0; masks = 1 there, else 0 (4 per anchor)."""
    if _forward_req(req_targets, label) == REQ_NULL and _forward_req(req_masks, label) == REQ_NULL:
        return
    if anchors.ndim != 3 or anchors.shape[2] != 4 or refs.ndim != 3 or refs.shape[2] != 4 or \
            refs.shape[0] != anchors.shape[0] or samples.size * 4 != anchors.size or \
            matches.size * 4 != anchors.size or means.size != 4 or stds.size != 4 or \
            tuple(targets.shape) != tuple(anchors.shape) or tuple(masks.shape) != tuple(anchors.shape):
        raise ValueError(f"{label}: samples {samples.shape}, matches {matches.shape}, anchors "
                         f"{anchors.shape}, refs {refs.shape}, means {means.shape}, stds "
                         f"{stds.shape} do not match")
    if anchors.size == 0:
        return
    if refs.shape[1] == 0:
        raise ValueError(f"{label}: refs {refs.shape} hold no boxes to encode against")
    arrays = [samples, matches, anchors, refs, means, stds, targets, masks]
    plan.add(box_encode_kernel, common_dtype(arrays), arrays,
             [anchors.shape[0], anchors.shape[1], refs.shape[1]], [], label)


cdef void _box_decode(KernelCall* c, real* dummy) noexcept nogil:
    # arrays: data, anchors, out; ints: rows, n, format, has_clip; floats: std0..3, clip
    cdef Py_ssize_t rows = c.ints[0], n = c.ints[1], i
    cdef int fmt = <int>c.ints[2]
    cdef bint has_clip = c.ints[3] != 0
    cdef real std0 = <real>c.floats[0], std1 = <real>c.floats[1], std2 = <real>c.floats[2]
    cdef real std3 = <real>c.floats[3], clip = <real>c.floats[4]
    cdef const real* x = <real*>c.arrays[0]
    cdef const real* anchors = <real*>c.arrays[1]
    cdef real* out = <real*>c.arrays[2]
    cdef const real* anchor
    cdef real a_x, a_y, a_width, a_height, ox, oy, dw, dh, ow, oh
    for i in range(rows):
        anchor = anchors + (i % n) * 4
        a_x, a_y, a_width, a_height = anchor[0], anchor[1], anchor[2], anchor[3]
        if fmt == CORNER:
            a_width = a_width - a_x
            a_height = a_height - a_y
            a_x = a_x + a_width * 0.5
            a_y = a_y + a_height * 0.5
        ox = x[i * 4 + 0] * std0 * a_width + a_x
        oy = x[i * 4 + 1] * std1 * a_height + a_y
        dw = x[i * 4 + 2] * std2
        dh = x[i * 4 + 3] * std3
        if has_clip:
            dw = dw if dw < clip else clip
            dh = dh if dh < clip else clip
        dw = exp(dw)     # C's double exp, as the unqualified exp of bounding_box-inl.h
        dh = exp(dh)
        ow = dw * a_width * 0.5
        oh = dh * a_height * 0.5
        out[i * 4 + 0] = ox - ow
        out[i * 4 + 1] = oy - oh
        out[i * 4 + 2] = ox + ow
        out[i * 4 + 3] = oy + oh


cdef void box_decode_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    if c.dtype == 0:
        _box_decode(c, <float*>NULL)
    else:
        _box_decode(c, <double*>NULL)


def append_box_decode(Plan plan, data, anchors, out, stds=(1.0, 1.0, 1.0, 1.0), double clip=-1.0,
                      fmt="center", req="write", str label="box_decode"):
    """out = corner boxes from offsets data (b, n, 4) relative to anchors (n boxes, in `fmt`):
    center + offset * std * size, size * exp(min(offset * std, clip))."""
    if _forward_req(req, label) == REQ_NULL:
        return
    if data.ndim != 3 or data.shape[2] != 4 or anchors.size != data.shape[1] * 4 or \
            tuple(out.shape) != tuple(data.shape):
        raise ValueError(f"{label}: data {data.shape}, anchors {anchors.shape} and output "
                         f"{out.shape} do not match")
    if len(stds) != 4:
        raise ValueError(f"{label}: 4 stds needed, got {stds!r}")
    if data.size == 0:
        return
    arrays = [data, anchors, out]
    plan.add(box_decode_kernel, common_dtype(arrays), arrays,
             [data.shape[0] * data.shape[1], data.shape[1], format_code(fmt, label),
              float32(clip) > 0.0],
             [float32(s) for s in stds] + [float32(clip)], label)


# ---------------------------------------------------------------------------------------------
# bipartite_matching

def bipartite_matching_workspace_bytes(Py_ssize_t row, Py_ssize_t col):
    """Scratch of one matrix: sort order, its merge buffer and the scores as doubles."""
    return 3 * 8 * row * col


cdef void _bipartite_matching(KernelCall* c, real* dummy) noexcept nogil:
    # arrays: scores, row_marker, col_marker, workspace
    # ints: batch, row, col, is_ascend, topk; floats: threshold (a float32 value)
    cdef Py_ssize_t batch = c.ints[0], row = c.ints[1], col = c.ints[2], topk = c.ints[4]
    cdef Py_ssize_t size = row * col, b, j, r, k, count
    cdef bint ascend = c.ints[3] != 0
    cdef double threshold = c.floats[0], score
    cdef const real* scores = <real*>c.arrays[0]
    cdef real* row_marker = <real*>c.arrays[1]
    cdef real* col_marker = <real*>c.arrays[2]
    cdef Py_ssize_t* order = <Py_ssize_t*>c.arrays[3]
    cdef Py_ssize_t* merge = order + size
    cdef double* keys = <double*>(merge + size)
    for b in range(batch):
        for j in range(size):
            keys[j] = scores[b * size + j]
            order[j] = j
        stable_argsort(order, merge, keys, size, not ascend)
        for r in range(row):
            row_marker[b * row + r] = -1
        for k in range(col):
            col_marker[b * col + k] = -1
        # greedy: the best remaining score whose row and column are both free is a match,
        # until a free pair scores past the threshold; as MXNet, topk > 0 stops after
        # topk + 1 matches
        count = 0
        for j in range(size):
            r = order[j] // col
            k = order[j] % col
            if row_marker[b * row + r] == -1 and col_marker[b * col + k] == -1:
                score = keys[order[j]]
                if (not ascend and score > threshold) or (ascend and score < threshold):
                    row_marker[b * row + r] = <real>k
                    col_marker[b * col + k] = <real>r
                    count += 1
                    if topk > 0 and count > topk:
                        break
                else:
                    break


cdef void bipartite_matching_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    if c.dtype == 0:
        _bipartite_matching(c, <float*>NULL)
    else:
        _bipartite_matching(c, <double*>NULL)


def append_bipartite_matching(Plan plan, scores, row_marker, col_marker, double threshold,
                              bint is_ascend=False, int topk=-1, workspace=None,
                              req="write", str label="bipartite_matching"):
    """Greedy matching of each (row, col) score matrix (..., row, col): row_marker (..., row)
    = matched column or -1, col_marker (..., col) = matched row or -1."""
    if _forward_req(req, label) == REQ_NULL:
        return
    if scores.ndim < 2:
        raise ValueError(f"{label}: scores {scores.shape} need two dimensions")
    row, col = scores.shape[scores.ndim - 2], scores.shape[scores.ndim - 1]
    batch = scores.size // (row * col) if row * col else 0
    if row_marker.size != batch * row or col_marker.size != batch * col:
        raise ValueError(f"{label}: markers {row_marker.shape} and {col_marker.shape} do not "
                         f"match scores {scores.shape}")
    if scores.size == 0:
        return
    workspace = scratch(workspace, bipartite_matching_workspace_bytes(row, col), label)
    arrays = [scores, row_marker, col_marker]
    plan.add(bipartite_matching_kernel, common_dtype(arrays), arrays + [workspace],
             [batch, row, col, is_ascend, topk], [float32(threshold)], label)
