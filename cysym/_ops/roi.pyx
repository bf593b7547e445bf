"""Kernels of the region-of-interest poolings over (N, C, H, W) feature maps: ROIPooling,
_contrib_ROIAlign and _contrib_PSROIPooling, forward and data gradient.

A region is a row [batch_index, x1, y1, x2, y2] of `rois`.  The loops follow MXNet 1.9.1's
CPU code (src/operator/roi_pooling.cc, contrib/roi_align.cc, contrib/psroi_pooling.cc) line
for line, in the data's precision, with spatial_scale rounded to float32 first as MXNet
stores it.  Where MXNet reads out of bounds (a batch index outside [0, N)) the region pools
nothing here: its outputs are 0 and it passes no gradient.
"""
from libc.math cimport floor, ceil, round
from libc.float cimport FLT_MAX
from libc.string cimport memset
import numpy as np

from cysym._ops._bilinear cimport bilinear_weights
from cysym._ops._blas cimport real
from cysym._ops._common cimport common_dtype, store, REQ_NULL, REQ_WRITE, REQ_ADD, req_code
from cysym._ops.runner cimport Plan, KernelCall, RunContext


cdef inline Py_ssize_t _clamp(Py_ssize_t value, Py_ssize_t high) noexcept nogil:
    """min(max(value, 0), high)"""
    return 0 if value < 0 else (high if value > high else value)


cdef inline Py_ssize_t _batch_of(const real* roi, Py_ssize_t N) noexcept nogil:
    """The region's batch index (truncated as C++'s static_cast<int>), or -1 if outside [0, N)."""
    cdef Py_ssize_t batch = <Py_ssize_t><int>roi[0]
    return batch if 0 <= batch < N else -1


# ---------------------------------------------------------------------------------------
# ROIPooling: the maximum over each of the PH x PW bins of the rounded region; argmax keeps
# the winner's position in its (H, W) plane (-1 for an empty bin), for the backward

cdef void _roi_pool(const real* x, const real* rois, real* y, real* argmax, Py_ssize_t N,
                    Py_ssize_t C, Py_ssize_t H, Py_ssize_t W, Py_ssize_t R, Py_ssize_t PH,
                    Py_ssize_t PW, real scale, int req) noexcept nogil:
    cdef Py_ssize_t r, c, ph, pw, h, w, batch, hstart, hend, wstart, wend, out, best_at
    cdef Py_ssize_t start_w, start_h, end_w, end_h, roi_h, roi_w
    cdef real bin_h, bin_w, best
    cdef const real* roi
    cdef const real* plane
    for r in range(R):
        roi = rois + r * 5
        batch = _batch_of(roi, N)
        start_w = <Py_ssize_t>round(roi[1] * scale)
        start_h = <Py_ssize_t>round(roi[2] * scale)
        end_w = <Py_ssize_t>round(roi[3] * scale)
        end_h = <Py_ssize_t>round(roi[4] * scale)
        # malformed regions are forced to 1 x 1
        roi_h = max(end_h - start_h + 1, 1)
        roi_w = max(end_w - start_w + 1, 1)
        bin_h = <real>roi_h / <real>PH
        bin_w = <real>roi_w / <real>PW
        for ph in range(PH):
            hstart = _clamp(<Py_ssize_t>floor(<real>ph * bin_h) + start_h, H)
            hend = _clamp(<Py_ssize_t>ceil(<real>(ph + 1) * bin_h) + start_h, H)
            for pw in range(PW):
                wstart = _clamp(<Py_ssize_t>floor(<real>pw * bin_w) + start_w, W)
                wend = _clamp(<Py_ssize_t>ceil(<real>(pw + 1) * bin_w) + start_w, W)
                for c in range(C):
                    out = ((r * C + c) * PH + ph) * PW + pw
                    best = 0
                    best_at = -1
                    if batch >= 0 and hend > hstart and wend > wstart:
                        # MXNet starts from -FLT_MAX and keeps the first strict maximum
                        best = -FLT_MAX
                        plane = x + (batch * C + c) * H * W
                        for h in range(hstart, hend):
                            for w in range(wstart, wend):
                                if plane[h * W + w] > best:
                                    best = plane[h * W + w]
                                    best_at = h * W + w
                    store(y, out, best, req)
                    argmax[out] = <real>best_at


cdef void roi_pool_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    # arrays: x, rois, y, argmax; ints: N, C, H, W, R, PH, PW, req; floats: spatial_scale
    if c.dtype == 0:
        _roi_pool(<float*>c.arrays[0], <float*>c.arrays[1], <float*>c.arrays[2],
                  <float*>c.arrays[3], c.ints[0], c.ints[1], c.ints[2], c.ints[3], c.ints[4],
                  c.ints[5], c.ints[6], <float>c.floats[0], <int>c.ints[7])
    else:
        _roi_pool(<double*>c.arrays[0], <double*>c.arrays[1], <double*>c.arrays[2],
                  <double*>c.arrays[3], c.ints[0], c.ints[1], c.ints[2], c.ints[3], c.ints[4],
                  c.ints[5], c.ints[6], <double>c.floats[0], <int>c.ints[7])


cdef void _roi_pool_backward(const real* dy, const real* rois, const real* argmax, real* dx,
                             Py_ssize_t N, Py_ssize_t C, Py_ssize_t H, Py_ssize_t W,
                             Py_ssize_t R, Py_ssize_t PH, Py_ssize_t PW, int req) noexcept nogil:
    cdef Py_ssize_t r, c, k, batch, at
    cdef Py_ssize_t bins = PH * PW
    if req == REQ_WRITE:
        memset(dx, 0, N * C * H * W * sizeof(real))
    for r in range(R):
        batch = _batch_of(rois + r * 5, N)
        if batch < 0:
            continue
        for c in range(C):
            for k in range(bins):
                at = <Py_ssize_t>argmax[(r * C + c) * bins + k]
                if at >= 0:
                    dx[(batch * C + c) * H * W + at] += dy[(r * C + c) * bins + k]


cdef void roi_pool_backward_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    # arrays: dy, rois, argmax, dx; ints: N, C, H, W, R, PH, PW, req
    if c.dtype == 0:
        _roi_pool_backward(<float*>c.arrays[0], <float*>c.arrays[1], <float*>c.arrays[2],
                           <float*>c.arrays[3], c.ints[0], c.ints[1], c.ints[2], c.ints[3],
                           c.ints[4], c.ints[5], c.ints[6], <int>c.ints[7])
    else:
        _roi_pool_backward(<double*>c.arrays[0], <double*>c.arrays[1], <double*>c.arrays[2],
                           <double*>c.arrays[3], c.ints[0], c.ints[1], c.ints[2], c.ints[3],
                           c.ints[4], c.ints[5], c.ints[6], <int>c.ints[7])


# ---------------------------------------------------------------------------------------
# ROIAlign: each bin averages grid_h x grid_w bilinear samples of the unrounded region.
# With position_sensitive, output channel c of bin (ph, pw) reads input channel
# c * PH * PW + ph * PW + pw (the data has C * PH * PW channels).

cdef bint _align_region(const real* roi, real scale, Py_ssize_t PH, Py_ssize_t PW,
                        Py_ssize_t sample_ratio, bint aligned, real* geometry,
                        Py_ssize_t* grid) noexcept nogil:
    """The region's geometry (start_h, start_w, bin_h, bin_w) and sampling grid (grid_h,
    grid_w) per bin; False when `aligned` and the region is empty."""
    cdef real offset = <real>0.5 if aligned else <real>0
    cdef real start_w = roi[1] * scale - offset
    cdef real start_h = roi[2] * scale - offset
    cdef real end_w = roi[3] * scale - offset
    cdef real end_h = roi[4] * scale - offset
    cdef real width = end_w - start_w
    cdef real height = end_h - start_h
    if aligned:
        if not (width > 0 and height > 0):   # MXNet stops with a CHECK failure here
            return False
    else:   # malformed regions are forced to 1 x 1
        width = width if width > 1 else <real>1
        height = height if height > 1 else <real>1
    geometry[0] = start_h
    geometry[1] = start_w
    geometry[2] = height / <real>PH
    geometry[3] = width / <real>PW
    grid[0] = sample_ratio if sample_ratio > 0 else <Py_ssize_t>ceil(height / <real>PH)
    grid[1] = sample_ratio if sample_ratio > 0 else <Py_ssize_t>ceil(width / <real>PW)
    return True


cdef inline real _sample(real start, Py_ssize_t p, real bin_size, Py_ssize_t i,
                        Py_ssize_t grid) noexcept nogil:
    """Sample i of the grid over bin p, as MXNet forms it (the same roundings)."""
    return start + p * bin_size + <real>(i + <float>0.5) * bin_size / <real>grid


cdef void _roi_align(const real* x, const real* rois, real* y, real* bin_sums, Py_ssize_t N,
                     Py_ssize_t Cin, Py_ssize_t H, Py_ssize_t W, Py_ssize_t R, Py_ssize_t C,
                     Py_ssize_t PH, Py_ssize_t PW, real scale, Py_ssize_t sample_ratio,
                     bint aligned, bint position_sensitive, int req) noexcept nogil:
    # bin_sums: C scratch values, one running sum per output channel of the bin at hand, so
    # that each sample's neighbours and weights are found once for every channel
    cdef Py_ssize_t r, c, ph, pw, iy, ix, k, batch, channel_stride
    cdef Py_ssize_t bins = PH * PW
    cdef Py_ssize_t pos[4]
    cdef real weight[4]
    cdef real geometry[4]
    cdef Py_ssize_t grid[2]
    cdef real sample_y, count
    cdef const real* plane
    for r in range(R):
        batch = _batch_of(rois + r * 5, N)
        if batch < 0 or not _align_region(rois + r * 5, scale, PH, PW, sample_ratio, aligned,
                                           geometry, grid):
            for k in range(C * bins):
                store(y, r * C * bins + k, 0.0, req)
            continue
        count = <real>(grid[0] * grid[1])
        channel_stride = (bins if position_sensitive else 1) * H * W
        for ph in range(PH):
            for pw in range(PW):
                plane = x + batch * Cin * H * W
                if position_sensitive:
                    plane += (ph * PW + pw) * H * W
                for c in range(C):
                    bin_sums[c] = 0
                for iy in range(grid[0]):
                    sample_y = _sample(geometry[0], ph, geometry[2], iy, grid[0])
                    for ix in range(grid[1]):
                        if not bilinear_weights(sample_y,
                                                 _sample(geometry[1], pw, geometry[3], ix, grid[1]),
                                                 H, W, pos, weight):
                            continue
                        for c in range(C):
                            bin_sums[c] += (weight[0] * plane[c * channel_stride + pos[0]]
                                            + weight[1] * plane[c * channel_stride + pos[1]]
                                            + weight[2] * plane[c * channel_stride + pos[2]]
                                            + weight[3] * plane[c * channel_stride + pos[3]])
                for c in range(C):
                    store(y, (r * C + c) * bins + ph * PW + pw, bin_sums[c] / count, req)


cdef void roi_align_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    # arrays: x, rois, y, bin_sums; ints: N, Cin, H, W, R, C, PH, PW, sample_ratio, aligned,
    # position_sensitive, req; floats: spatial_scale
    if c.dtype == 0:
        _roi_align(<float*>c.arrays[0], <float*>c.arrays[1], <float*>c.arrays[2],
                   <float*>c.arrays[3], c.ints[0], c.ints[1], c.ints[2], c.ints[3], c.ints[4],
                   c.ints[5], c.ints[6], c.ints[7], <float>c.floats[0], c.ints[8],
                   <bint>c.ints[9], <bint>c.ints[10], <int>c.ints[11])
    else:
        _roi_align(<double*>c.arrays[0], <double*>c.arrays[1], <double*>c.arrays[2],
                   <double*>c.arrays[3], c.ints[0], c.ints[1], c.ints[2], c.ints[3], c.ints[4],
                   c.ints[5], c.ints[6], c.ints[7], <double>c.floats[0], c.ints[8],
                   <bint>c.ints[9], <bint>c.ints[10], <int>c.ints[11])


cdef void _roi_align_backward(const real* dy, const real* rois, real* dx, Py_ssize_t N,
                              Py_ssize_t Cin, Py_ssize_t H, Py_ssize_t W, Py_ssize_t R,
                              Py_ssize_t C, Py_ssize_t PH, Py_ssize_t PW, real scale,
                              Py_ssize_t sample_ratio, bint aligned, bint position_sensitive,
                              int req) noexcept nogil:
    cdef Py_ssize_t r, c, ph, pw, iy, ix, j, batch, channel_stride, top
    cdef Py_ssize_t bins = PH * PW
    cdef Py_ssize_t pos[4]
    cdef real weight[4]
    cdef real geometry[4]
    cdef Py_ssize_t grid[2]
    cdef real sample_y, count, g
    cdef real* plane
    if req == REQ_WRITE:
        memset(dx, 0, N * Cin * H * W * sizeof(real))
    for r in range(R):
        batch = _batch_of(rois + r * 5, N)
        if batch < 0 or not _align_region(rois + r * 5, scale, PH, PW, sample_ratio, aligned,
                                           geometry, grid):
            continue
        count = <real>(grid[0] * grid[1])
        channel_stride = (bins if position_sensitive else 1) * H * W
        for ph in range(PH):
            for pw in range(PW):
                plane = dx + batch * Cin * H * W
                if position_sensitive:
                    plane += (ph * PW + pw) * H * W
                top = r * C * bins + ph * PW + pw
                for iy in range(grid[0]):
                    sample_y = _sample(geometry[0], ph, geometry[2], iy, grid[0])
                    for ix in range(grid[1]):
                        if not bilinear_weights(sample_y,
                                                 _sample(geometry[1], pw, geometry[3], ix, grid[1]),
                                                 H, W, pos, weight):
                            continue
                        for c in range(C):
                            g = dy[top + c * bins]
                            for j in range(4):
                                plane[c * channel_stride + pos[j]] += g * weight[j] / count


cdef void roi_align_backward_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    # arrays: dy, rois, dx; ints: N, Cin, H, W, R, C, PH, PW, sample_ratio, aligned,
    # position_sensitive, req; floats: spatial_scale
    if c.dtype == 0:
        _roi_align_backward(<float*>c.arrays[0], <float*>c.arrays[1], <float*>c.arrays[2],
                            c.ints[0], c.ints[1], c.ints[2], c.ints[3], c.ints[4], c.ints[5],
                            c.ints[6], c.ints[7], <float>c.floats[0], c.ints[8],
                            <bint>c.ints[9], <bint>c.ints[10], <int>c.ints[11])
    else:
        _roi_align_backward(<double*>c.arrays[0], <double*>c.arrays[1], <double*>c.arrays[2],
                            c.ints[0], c.ints[1], c.ints[2], c.ints[3], c.ints[4], c.ints[5],
                            c.ints[6], c.ints[7], <double>c.floats[0], c.ints[8],
                            <bint>c.ints[9], <bint>c.ints[10], <int>c.ints[11])


# ---------------------------------------------------------------------------------------
# PSROIPooling: output channel ctop of bin (ph, pw) averages input channel
# (ctop * group + gh) * group + gw over the bin, (gh, gw) the bin's cell in a group x group grid

cdef bint _psroi_bin(const real* roi, real scale, Py_ssize_t ph, Py_ssize_t pw,
                     Py_ssize_t PS, Py_ssize_t H, Py_ssize_t W, Py_ssize_t* hstart,
                     Py_ssize_t* hend, Py_ssize_t* wstart, Py_ssize_t* wend) noexcept nogil:
    """The bin's [hstart, hend) x [wstart, wend), clipped to the map; False when empty."""
    cdef real start_w = <real>round(roi[1]) * scale
    cdef real start_h = <real>round(roi[2]) * scale
    cdef real end_w = <real>(round(roi[3]) + 1.) * scale
    cdef real end_h = <real>(round(roi[4]) + 1.) * scale
    # too small regions are forced to 0.1 x 0.1
    cdef real width = end_w - start_w
    cdef real height = end_h - start_h
    width = width if width > <real>0.1 else <real>0.1
    height = height if height > <real>0.1 else <real>0.1
    cdef real bin_h = height / <real>PS
    cdef real bin_w = width / <real>PS
    hstart[0] = _clamp(<Py_ssize_t>floor(<real>ph * bin_h + start_h), H)
    wstart[0] = _clamp(<Py_ssize_t>floor(<real>pw * bin_w + start_w), W)
    hend[0] = _clamp(<Py_ssize_t>ceil(<real>(ph + 1) * bin_h + start_h), H)
    wend[0] = _clamp(<Py_ssize_t>ceil(<real>(pw + 1) * bin_w + start_w), W)
    return hend[0] > hstart[0] and wend[0] > wstart[0]


cdef inline Py_ssize_t _group_cell(real p, Py_ssize_t group, Py_ssize_t PS) noexcept nogil:
    """The cell of bin p in a group-wide grid: floor(p * group / PS) in the data's precision."""
    cdef Py_ssize_t cell = <Py_ssize_t>floor(p * group / PS)
    return min(max(cell, 0), group - 1)


cdef void _psroi_pool(const real* x, const real* rois, real* y, Py_ssize_t N, Py_ssize_t Cin,
                      Py_ssize_t H, Py_ssize_t W, Py_ssize_t R, Py_ssize_t C, Py_ssize_t PS,
                      Py_ssize_t group, real scale, int req) noexcept nogil:
    cdef Py_ssize_t r, ctop, ph, pw, h, w, batch, hstart, hend, wstart, wend, gh, gw
    cdef bint filled
    cdef real total
    cdef const real* plane
    for r in range(R):
        batch = _batch_of(rois + r * 5, N)
        for ph in range(PS):
            gh = _group_cell(<real>ph, group, PS)
            for pw in range(PS):
                gw = _group_cell(<real>pw, group, PS)
                filled = _psroi_bin(rois + r * 5, scale, ph, pw, PS, H, W, &hstart, &hend,
                                    &wstart, &wend) and batch >= 0
                for ctop in range(C):
                    total = 0
                    if filled:
                        plane = x + (batch * Cin + (ctop * group + gh) * group + gw) * H * W
                        for h in range(hstart, hend):
                            for w in range(wstart, wend):
                                total += plane[h * W + w]
                        total = total / <real>((hend - hstart) * (wend - wstart))
                    store(y, ((r * C + ctop) * PS + ph) * PS + pw, total, req)


cdef void psroi_pool_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    # arrays: x, rois, y; ints: N, Cin, H, W, R, C, PS, group, req; floats: spatial_scale
    if c.dtype == 0:
        _psroi_pool(<float*>c.arrays[0], <float*>c.arrays[1], <float*>c.arrays[2], c.ints[0],
                    c.ints[1], c.ints[2], c.ints[3], c.ints[4], c.ints[5], c.ints[6], c.ints[7],
                    <float>c.floats[0], <int>c.ints[8])
    else:
        _psroi_pool(<double*>c.arrays[0], <double*>c.arrays[1], <double*>c.arrays[2], c.ints[0],
                    c.ints[1], c.ints[2], c.ints[3], c.ints[4], c.ints[5], c.ints[6], c.ints[7],
                    <double>c.floats[0], <int>c.ints[8])


cdef void _psroi_pool_backward(const real* dy, const real* rois, real* dx, Py_ssize_t N,
                               Py_ssize_t Cin, Py_ssize_t H, Py_ssize_t W, Py_ssize_t R,
                               Py_ssize_t C, Py_ssize_t PS, Py_ssize_t group,
                               real scale, int req) noexcept nogil:
    cdef Py_ssize_t r, ctop, ph, pw, h, w, batch, hstart, hend, wstart, wend, gh, gw
    cdef real share
    cdef real* plane
    if req == REQ_WRITE:
        memset(dx, 0, N * Cin * H * W * sizeof(real))
    for r in range(R):
        batch = _batch_of(rois + r * 5, N)
        if batch < 0:
            continue
        for ph in range(PS):
            gh = _group_cell(<real>ph, group, PS)
            for pw in range(PS):
                gw = _group_cell(<real>pw, group, PS)
                if not _psroi_bin(rois + r * 5, scale, ph, pw, PS, H, W, &hstart, &hend,
                                  &wstart, &wend):
                    continue
                for ctop in range(C):
                    plane = dx + (batch * Cin + (ctop * group + gh) * group + gw) * H * W
                    share = dy[((r * C + ctop) * PS + ph) * PS + pw] \
                        / <real>((hend - hstart) * (wend - wstart))
                    for h in range(hstart, hend):
                        for w in range(wstart, wend):
                            plane[h * W + w] += share


cdef void psroi_pool_backward_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    # arrays: dy, rois, dx; ints: N, Cin, H, W, R, C, PS, group, req; floats: spatial_scale
    if c.dtype == 0:
        _psroi_pool_backward(<float*>c.arrays[0], <float*>c.arrays[1], <float*>c.arrays[2],
                             c.ints[0], c.ints[1], c.ints[2], c.ints[3], c.ints[4], c.ints[5],
                             c.ints[6], c.ints[7], <float>c.floats[0], <int>c.ints[8])
    else:
        _psroi_pool_backward(<double*>c.arrays[0], <double*>c.arrays[1], <double*>c.arrays[2],
                             c.ints[0], c.ints[1], c.ints[2], c.ints[3], c.ints[4], c.ints[5],
                             c.ints[6], c.ints[7], <double>c.floats[0], <int>c.ints[8])


# ---------------------------------------------------------------------------------------
# append_ functions (bind time, with the GIL): shapes are checked, pointers stored

def _layout(x, rois, y, label):
    """[N, Cin, H, W, R] after checking (N, Cin, H, W) data, (R, 5) rois and (R, ...) output."""
    if x.ndim != 4 or rois.ndim != 2 or rois.shape[1] != 5 or y.ndim != 4 \
            or y.shape[0] != rois.shape[0]:
        raise ValueError(f"{label}: expected (N, C, H, W) data, (R, 5) rois and an (R, C', PH, "
                         f"PW) output, got {tuple(x.shape)}, {tuple(rois.shape)} and "
                         f"{tuple(y.shape)}")
    return [int(v) for v in x.shape] + [int(rois.shape[0])]


def _float32(double value):
    """The value as MXNet's float parameter holds it."""
    return float(np.float32(value))


def append_roi_pooling(Plan plan, x, rois, y, argmax, double spatial_scale, str req="write",
                       str label="ROIPooling"):
    """Append y (+)= the maximum of each bin of each region, and argmax = its position in the
    (H, W) plane (-1 for an empty bin or a region outside the batch)."""
    N, C, H, W, R = _layout(x, rois, y, label)
    if y.shape[1] != C or argmax.shape != y.shape:
        raise ValueError(f"{label}: output {tuple(y.shape)} and argmax {tuple(argmax.shape)} "
                         f"must be (R, {C}, PH, PW)")
    arrays = [x, rois, y, argmax]
    plan.add(roi_pool_kernel, common_dtype(arrays), arrays,
             [N, C, H, W, R, y.shape[2], y.shape[3], req_code(req, label)],
             [_float32(spatial_scale)], label)


def append_roi_pooling_backward(Plan plan, dy, rois, argmax, dx, str req="write",
                                str label="_backward_ROIPooling"):
    """Append dx (+)= dy routed to each bin's maximum."""
    cdef int code = req_code(req, label)
    if dx is None or code == REQ_NULL:
        return
    N, C, H, W, R = _layout(dx, rois, dy, label)
    if argmax.shape != dy.shape or dy.shape[1] != C:
        raise ValueError(f"{label}: output gradient {tuple(dy.shape)} and argmax "
                         f"{tuple(argmax.shape)} must be (R, {C}, PH, PW)")
    arrays = [dy, rois, argmax, dx]
    plan.add(roi_pool_backward_kernel, common_dtype(arrays), arrays,
             [N, C, H, W, R, dy.shape[2], dy.shape[3], code], [], label)


def _align_ints(x, rois, y, int sample_ratio, bint aligned, bint position_sensitive, label):
    N, Cin, H, W, R = _layout(x, rois, y, label)
    C, PH, PW = (int(v) for v in y.shape[1:])
    if Cin != C * (PH * PW if position_sensitive else 1):
        raise ValueError(f"{label}: data {tuple(x.shape)} does not give an output "
                         f"{tuple(y.shape)} (position_sensitive={position_sensitive})")
    return [N, Cin, H, W, R, C, PH, PW, sample_ratio, aligned, position_sensitive]


def append_roi_align(Plan plan, x, rois, y, double spatial_scale, int sample_ratio=-1,
                     bint aligned=False, bint position_sensitive=False, workspace=None,
                     str req="write", str label="_contrib_ROIAlign"):
    """Append y (+)= the average of each bin's bilinear samples of each region.  workspace:
    at least roi_align_workspace_bytes(y) bytes (allocated here when None)."""
    cdef int code = req_code(req, label)
    if code == REQ_NULL:
        return
    ints = _align_ints(x, rois, y, sample_ratio, aligned, position_sensitive, label)
    if y.size == 0:
        return
    if x.size == 0:     # the samples' neighbours are read from the image
        raise ValueError(f"{label}: data {tuple(x.shape)} is empty: there is no image to sample "
                         f"{tuple(rois.shape)[0]} regions from")
    C = ints[5]
    if workspace is not None and workspace.nbytes >= C * y.itemsize:
        bin_sums = workspace[:C * y.itemsize].view(y.dtype)
    else:
        bin_sums = np.empty(max(C, 1), y.dtype)
    arrays = [x, rois, y, bin_sums]
    plan.add(roi_align_kernel, common_dtype(arrays), arrays, ints + [code],
             [_float32(spatial_scale)], label)


def roi_align_workspace_bytes(Py_ssize_t channels, Py_ssize_t itemsize):
    """Scratch bytes of append_roi_align: one running sum per output channel."""
    return channels * itemsize


def append_roi_align_backward(Plan plan, dy, rois, dx, double spatial_scale,
                              int sample_ratio=-1, bint aligned=False,
                              bint position_sensitive=False, str req="write",
                              str label="_backward_ROIAlign"):
    """Append dx (+)= each bin's dy spread over its samples' neighbours."""
    cdef int code = req_code(req, label)
    if dx is None or code == REQ_NULL:
        return
    ints = _align_ints(dx, rois, dy, sample_ratio, aligned, position_sensitive, label)
    if dx.size == 0:    # nothing to scatter into (its forward refused a non-empty output)
        return
    arrays = [dy, rois, dx]
    plan.add(roi_align_backward_kernel, common_dtype(arrays), arrays, ints + [code],
             [_float32(spatial_scale)], label)


def _psroi_ints(x, rois, y, int group_size, label):
    N, Cin, H, W, R = _layout(x, rois, y, label)
    C, PS = int(y.shape[1]), int(y.shape[2])
    if y.shape[3] != PS or group_size < 1 or Cin < C * group_size * group_size:
        raise ValueError(f"{label}: data {tuple(x.shape)} cannot give an output "
                         f"{tuple(y.shape)} with group_size={group_size}")
    return [N, Cin, H, W, R, C, PS, group_size]


def append_psroi_pooling(Plan plan, x, rois, y, double spatial_scale, int group_size,
                         str req="write", str label="_contrib_PSROIPooling"):
    """Append y (+)= the average of each bin over its position-sensitive input channel."""
    cdef int code = req_code(req, label)
    if code == REQ_NULL:
        return
    arrays = [x, rois, y]
    plan.add(psroi_pool_kernel, common_dtype(arrays), arrays,
             _psroi_ints(x, rois, y, group_size, label) + [code], [_float32(spatial_scale)],
             label)


def append_psroi_pooling_backward(Plan plan, dy, rois, dx, double spatial_scale,
                                  int group_size, str req="write",
                                  str label="_backward_PSROIPooling"):
    """Append dx (+)= each bin's dy spread evenly over the bin."""
    cdef int code = req_code(req, label)
    if dx is None or code == REQ_NULL:
        return
    arrays = [dy, rois, dx]
    plan.add(psroi_pool_backward_kernel, common_dtype(arrays), arrays,
             _psroi_ints(dx, rois, dy, group_size, label) + [code], [_float32(spatial_scale)],
             label)
