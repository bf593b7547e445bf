"""Kernels of cysym/ops/contrib_vision.py: _contrib_RROIAlign, the average of bilinear samples
over the bins of rotated regions of an (N, C, H, W) feature map, in MXNet's arithmetic
(src/operator/contrib/rroi_align.cc): each step in the data's type, with the float and double
constants of MXNet's expressions.

As in the other families, every `append_*` function checks sizes with the GIL and appends one
native call; the loops never raise.
"""
from libc.math cimport ceil, cos, sin, M_PI
from libc.string cimport memset
from cysym._ops._blas cimport real
from cysym._ops._common cimport common_dtype, req_code, REQ_ADD, REQ_NULL, DTYPE_FLOAT32
from cysym._ops.runner cimport Plan, KernelCall, RunContext


# ---------------------------------------------------------------------------------------------
# RROIAlign: region (batch, x, y, w, h, theta in degrees), its bins sampled on a grid rotated by
# theta about the region's centre

cdef void _rroi_align(KernelCall* c, real* dummy) noexcept nogil:
    # arrays: data (N, C, H, W), rois (R, 6), out (R, C, PH, PW); ints: N, C, H, W, R, PH, PW,
    # sampling_ratio; floats: spatial_scale (float32)
    cdef const real* data = <real*>c.arrays[0]
    cdef const real* rois = <real*>c.arrays[1]
    cdef real* out = <real*>c.arrays[2]
    cdef Py_ssize_t batch = c.ints[0], channels = c.ints[1], height = c.ints[2], width = c.ints[3]
    cdef Py_ssize_t regions = c.ints[4], pooled_h = c.ints[5], pooled_w = c.ints[6]
    cdef int sampling_ratio = <int>c.ints[7]
    cdef float scale = <float>c.floats[0]
    cdef Py_ssize_t n, ch, ph, pw, iy, ix, image, plane = height * width, bins = pooled_h * pooled_w
    cdef Py_ssize_t y_low, x_low, y_high, x_high, at
    cdef const real* region
    cdef const real* source
    cdef real* target
    cdef real center_w, center_h, roi_w, roi_h, theta, start_h, start_w, bin_h, bin_w
    cdef real cos_theta, sin_theta, yy, xx, x, y, ly, lx, hy, hx, w1, w2, w3, w4, count
    cdef int grid_h, grid_w
    memset(out, 0, regions * channels * bins * sizeof(real))
    for n in range(regions):
        region = rois + n * 6
        image = <Py_ssize_t>region[0]
        if image < 0 or image >= batch:       # MXNet reads outside the batch: zeros here
            continue
        center_w = region[1] * scale
        center_h = region[2] * scale
        roi_w = region[3] * scale
        roi_h = region[4] * scale
        theta = <real>(region[5] * M_PI / 180.0)
        roi_w = roi_w if roi_w > 1 else 1     # malformed regions count as 1 x 1
        roi_h = roi_h if roi_h > 1 else 1
        start_h = <real>(-roi_h / 2.0)
        start_w = <real>(-roi_w / 2.0)
        bin_h = roi_h / <real>pooled_h
        bin_w = roi_w / <real>pooled_w
        grid_h = sampling_ratio if sampling_ratio > 0 else <int>ceil(roi_h / pooled_h)
        grid_w = sampling_ratio if sampling_ratio > 0 else <int>ceil(roi_w / pooled_w)
        count = grid_h * grid_w
        cos_theta = cos(theta)
        sin_theta = sin(theta)
        for ph in range(pooled_h):
            for pw in range(pooled_w):
                target = out + n * channels * bins + ph * pooled_w + pw
                for iy in range(grid_h):
                    yy = start_h + ph * bin_h + <real>(<float>iy + <float>0.5) * bin_h / <real>grid_h
                    for ix in range(grid_w):
                        xx = start_w + pw * bin_w + <real>(<float>ix + <float>0.5) * bin_w / <real>grid_w
                        # rotated by theta about the centre
                        x = xx * cos_theta + yy * sin_theta + center_w
                        y = yy * cos_theta - xx * sin_theta + center_h
                        if y < -1.0 or y > height or x < -1.0 or x > width:
                            continue
                        if y <= 0:
                            y = 0
                        if x <= 0:
                            x = 0
                        y_low = <Py_ssize_t>y
                        x_low = <Py_ssize_t>x
                        if y_low >= height - 1:
                            y_high = y_low = height - 1
                            y = <real>y_low
                        else:
                            y_high = y_low + 1
                        if x_low >= width - 1:
                            x_high = x_low = width - 1
                            x = <real>x_low
                        else:
                            x_high = x_low + 1
                        ly = y - y_low
                        lx = x - x_low
                        hy = <real>(1.0 - ly)
                        hx = <real>(1.0 - lx)
                        w1 = hy * hx
                        w2 = hy * lx
                        w3 = ly * hx
                        w4 = ly * lx
                        for ch in range(channels):
                            source = data + (image * channels + ch) * plane
                            target[ch * bins] += (w1 * source[y_low * width + x_low]
                                                  + w2 * source[y_low * width + x_high]
                                                  + w3 * source[y_high * width + x_low]
                                                  + w4 * source[y_high * width + x_high])
                for ch in range(channels):
                    target[ch * bins] /= count


cdef void rroi_align_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    if c.dtype == DTYPE_FLOAT32:
        _rroi_align(c, <float*>NULL)
    else:
        _rroi_align(c, <double*>NULL)


def append_rroi_align(Plan plan, data, rois, out, double spatial_scale, int sampling_ratio=-1,
                      str req="write", str label="_contrib_RROIAlign"):
    """out = the average of each bin's bilinear samples of each rotated region of data."""
    code = req_code(req, label)
    if code == REQ_NULL:
        return
    if code == REQ_ADD:
        raise ValueError(f"{label}: pooled regions cannot be added to their output (req 'add')")
    if (data.ndim != 4 or rois.ndim != 2 or rois.shape[1] != 6 or out.ndim != 4
            or out.shape[:2] != (rois.shape[0], data.shape[1])):
        raise ValueError(f"{label}: data {data.shape}, rois {rois.shape} and output {out.shape} "
                         f"do not agree")
    if out.size and data.size == 0:
        raise ValueError(f"{label}: data {data.shape} is empty: there is no image to sample "
                         f"{rois.shape[0]} regions from")
    if out.size == 0:
        return
    arrays = [data, rois, out]
    plan.add(rroi_align_kernel, common_dtype(arrays), arrays,
             [data.shape[0], data.shape[1], data.shape[2], data.shape[3], rois.shape[0],
              out.shape[2], out.shape[3], sampling_ratio], [spatial_scale], label)
