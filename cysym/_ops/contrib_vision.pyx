"""Kernels of cysym/ops/contrib_vision.py: _contrib_RROIAlign, the average of bilinear samples
over the bins of rotated regions of an (N, C, H, W) feature map, and
_contrib_DeformablePSROIPooling, position-sensitive bins shifted by learned offsets, with its
gradient; in MXNet's arithmetic (src/operator/contrib/rroi_align.cc,
deformable_psroi_pooling.cc): each step in the data's type, with the float and double constants
of MXNet's expressions.

As in the other families, every `append_*` function checks sizes with the GIL and appends one
native call; the loops never raise.
"""
from libc.math cimport ceil, cos, floor, round, sin, M_PI
from libc.string cimport memset
from cysym._ops._bilinear cimport bilinear_weights
from cysym._ops._blas cimport real
from cysym._ops._common cimport common_dtype, req_code, REQ_ADD, REQ_NULL, REQ_WRITE, DTYPE_FLOAT32
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
    cdef Py_ssize_t pos[4]
    cdef const real* region
    cdef const real* source
    cdef real* target
    cdef real center_w, center_h, roi_w, roi_h, theta, start_h, start_w, bin_h, bin_w
    cdef real cos_theta, sin_theta, yy, xx, x, y, count
    cdef real weight[4]
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
                        if not bilinear_weights(y, x, height, width, pos, weight):
                            continue
                        for ch in range(channels):
                            source = data + (image * channels + ch) * plane
                            target[ch * bins] += (weight[0] * source[pos[0]] + weight[1] * source[pos[1]]
                                                  + weight[2] * source[pos[2]] + weight[3] * source[pos[3]])
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


# ---------------------------------------------------------------------------------------------
# DeformablePSROIPooling: output (R, output_dim, P, P); bin (ph, pw) of class channel ctop
# averages sample_per_part^2 bilinear samples of data channel (ctop * G + gh) * G + gw, the bin
# shifted by trans[r, 2 class + (0: x, 1: y), part_h, part_w] * trans_std * the region's size

cdef struct PSBin:
    Py_ssize_t image, channel, trans_at     # trans_at: the x offset's index (-1: no trans)
    double roi_width, roi_height            # in the data's type
    double wstart, hstart, sub_w, sub_h


cdef inline void _ps_bin(const real* rois, const real* trans, Py_ssize_t index, Py_ssize_t output_dim,
                         Py_ssize_t pooled, Py_ssize_t group, Py_ssize_t part, Py_ssize_t samples,
                         Py_ssize_t classes, real scale, real trans_std, PSBin* bin) noexcept nogil:
    cdef Py_ssize_t pw = index % pooled, ph = (index // pooled) % pooled
    cdef Py_ssize_t ctop = (index // pooled // pooled) % output_dim
    cdef Py_ssize_t n = index // pooled // pooled // output_dim
    cdef Py_ssize_t part_h, part_w, class_id, gw, gh
    cdef const real* region = rois + n * 5
    cdef real start_w = <real>(<real>round(region[1]) * scale - 0.5)
    cdef real start_h = <real>(<real>round(region[2]) * scale - 0.5)
    cdef real end_w = <real>(<real>(round(region[3]) + 1.0) * scale - 0.5)
    cdef real end_h = <real>(<real>(round(region[4]) + 1.0) * scale - 0.5)
    cdef real roi_width = end_w - start_w, roi_height = end_h - start_h, tenth = <real>0.1
    cdef real bin_w, bin_h, trans_x = 0, trans_y = 0, wstart, hstart
    roi_width = roi_width if roi_width > tenth else tenth     # too small regions: 0.1 wide
    roi_height = roi_height if roi_height > tenth else tenth
    bin_h = roi_height / <real>pooled
    bin_w = roi_width / <real>pooled
    part_h = <Py_ssize_t>floor(<real>ph / pooled * part)
    part_w = <Py_ssize_t>floor(<real>pw / pooled * part)
    class_id = ctop // (output_dim // classes)
    bin.trans_at = -1
    if trans != NULL:
        bin.trans_at = ((n * classes + class_id) * 2 * part + part_h) * part + part_w
        trans_x = trans[bin.trans_at] * trans_std
        trans_y = trans[bin.trans_at + part * part] * trans_std
    wstart = <real>pw * bin_w + start_w
    wstart += trans_x * roi_width
    hstart = <real>ph * bin_h + start_h
    hstart += trans_y * roi_height
    gw = <Py_ssize_t>floor(<real>pw * group / pooled)
    gh = <Py_ssize_t>floor(<real>ph * group / pooled)
    gw = min(max(gw, 0), group - 1)
    gh = min(max(gh, 0), group - 1)
    bin.image = <Py_ssize_t>region[0]
    bin.channel = (ctop * group + gh) * group + gw
    bin.roi_width = roi_width
    bin.roi_height = roi_height
    bin.wstart = wstart
    bin.hstart = hstart
    bin.sub_w = bin_w / <real>samples
    bin.sub_h = bin_h / <real>samples


cdef inline bint _ps_sample(PSBin* bin, Py_ssize_t ih, Py_ssize_t iw, Py_ssize_t height,
                            Py_ssize_t width, Py_ssize_t* corners, real* dx, real* dy) noexcept nogil:
    """The sample's bilinear neighbours in its plane (top-left, bottom-left, top-right,
    bottom-right) and its offsets from the top-left one, the sample clamped into the map; False
    when it falls outside."""
    cdef real w = <real>bin.wstart + iw * <real>bin.sub_w
    cdef real h = <real>bin.hstart + ih * <real>bin.sub_h
    cdef Py_ssize_t x0, x1, y0, y1
    if w < -0.5 or w > width - 0.5 or h < -0.5 or h > height - 0.5:
        return False
    w = min(max(w, <real>0), <real>(width - 1))
    h = min(max(h, <real>0), <real>(height - 1))
    x0 = <Py_ssize_t>floor(w)
    x1 = <Py_ssize_t>ceil(w)
    y0 = <Py_ssize_t>floor(h)
    y1 = <Py_ssize_t>ceil(h)
    corners[0] = y0 * width + x0
    corners[1] = y1 * width + x0
    corners[2] = y0 * width + x1
    corners[3] = y1 * width + x1
    dx[0] = w - x0
    dy[0] = h - y0
    return True


cdef void _deformable_psroi(KernelCall* c, real* dummy) noexcept nogil:
    # arrays: data (N, C, H, W), rois (R, 5), trans or NULL, out, top_count; ints: N, C, H, W,
    # count of outputs, output_dim, pooled, group, part, samples, classes; floats: spatial_scale,
    # trans_std (float32)
    cdef const real* data = <real*>c.arrays[0]
    cdef const real* rois = <real*>c.arrays[1]
    cdef const real* trans = <real*>c.arrays[2] if c.n_arrays == 5 else NULL
    cdef real* out = <real*>c.arrays[c.n_arrays - 2]
    cdef real* top_count = <real*>c.arrays[c.n_arrays - 1]
    cdef Py_ssize_t batch = c.ints[0], channels = c.ints[1], height = c.ints[2], width = c.ints[3]
    cdef Py_ssize_t total = c.ints[4], index, ih, iw, count
    cdef Py_ssize_t corners[4]
    cdef real scale = <real><float>c.floats[0], trans_std = <real><float>c.floats[1]
    cdef real total_value, dx, dy
    cdef const real* plane
    cdef PSBin bin
    for index in range(total):
        _ps_bin(rois, trans, index, c.ints[5], c.ints[6], c.ints[7], c.ints[8], c.ints[9],
                c.ints[10], scale, trans_std, &bin)
        total_value = 0
        count = 0
        if 0 <= bin.image < batch:      # MXNet reads outside the batch: zeros here
            plane = data + (bin.image * channels + bin.channel) * height * width
            for ih in range(c.ints[9]):
                for iw in range(c.ints[9]):
                    if not _ps_sample(&bin, ih, iw, height, width, corners, &dx, &dy):
                        continue
                    total_value += ((1 - dx) * (1 - dy) * plane[corners[0]]
                                    + (1 - dx) * dy * plane[corners[1]]
                                    + dx * (1 - dy) * plane[corners[2]]
                                    + dx * dy * plane[corners[3]])
                    count += 1
        out[index] = 0 if count == 0 else total_value / count
        top_count[index] = count


cdef void deformable_psroi_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    if c.dtype == DTYPE_FLOAT32:
        _deformable_psroi(c, <float*>NULL)
    else:
        _deformable_psroi(c, <double*>NULL)


cdef void _deformable_psroi_backward(KernelCall* c, real* dummy) noexcept nogil:
    # arrays: out_grad, data, rois, top_count, data_grad, then trans and trans_grad (with trans);
    # ints as the forward's, then the data_grad and trans_grad requests
    cdef const real* out_grad = <real*>c.arrays[0]
    cdef const real* data = <real*>c.arrays[1]
    cdef const real* rois = <real*>c.arrays[2]
    cdef const real* top_count = <real*>c.arrays[3]
    cdef real* data_grad = <real*>c.arrays[4]
    cdef const real* trans = <real*>c.arrays[5] if c.n_arrays == 7 else NULL
    cdef real* trans_grad = <real*>c.arrays[6] if c.n_arrays == 7 else NULL
    cdef Py_ssize_t batch = c.ints[0], channels = c.ints[1], height = c.ints[2], width = c.ints[3]
    cdef Py_ssize_t total = c.ints[4], part = c.ints[8], index, ih, iw, base
    cdef Py_ssize_t corners[4]
    cdef int req_data = <int>c.ints[11], req_trans = <int>c.ints[12]
    cdef real scale = <real><float>c.floats[0], trans_std = <real><float>c.floats[1]
    cdef real diff, dx, dy, u00, u01, u10, u11, diff_x, diff_y
    cdef PSBin bin
    if req_data == REQ_WRITE:
        memset(data_grad, 0, batch * channels * height * width * sizeof(real))
    if trans != NULL and req_trans == REQ_WRITE:
        memset(trans_grad, 0, c.ints[13] * sizeof(real))
    for index in range(total):
        if top_count[index] <= 0:
            continue
        _ps_bin(rois, trans, index, c.ints[5], c.ints[6], c.ints[7], part, c.ints[9],
                c.ints[10], scale, trans_std, &bin)
        if not 0 <= bin.image < batch:
            continue
        diff = out_grad[index] / top_count[index]
        base = (bin.image * channels + bin.channel) * height * width
        for ih in range(c.ints[9]):
            for iw in range(c.ints[9]):
                if not _ps_sample(&bin, ih, iw, height, width, corners, &dx, &dy):
                    continue
                if req_data != REQ_NULL:
                    data_grad[base + corners[0]] += (1 - dx) * (1 - dy) * diff
                    data_grad[base + corners[1]] += (1 - dx) * dy * diff
                    data_grad[base + corners[2]] += dx * (1 - dy) * diff
                    data_grad[base + corners[3]] += dx * dy * diff
                if trans == NULL or req_trans == REQ_NULL:
                    continue
                u00 = data[base + corners[0]]
                u01 = data[base + corners[1]]
                u10 = data[base + corners[2]]
                u11 = data[base + corners[3]]
                diff_x = u11 * dy + u10 * (1 - dy) - u01 * dy - u00 * (1 - dy)
                diff_x *= trans_std * diff * <real>bin.roi_width
                diff_y = u11 * dx + u01 * (1 - dx) - u10 * dx - u00 * (1 - dx)
                diff_y *= trans_std * diff * <real>bin.roi_height
                trans_grad[bin.trans_at] += diff_x
                trans_grad[bin.trans_at + part * part] += diff_y


cdef void deformable_psroi_backward_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    if c.dtype == DTYPE_FLOAT32:
        _deformable_psroi_backward(c, <float*>NULL)
    else:
        _deformable_psroi_backward(c, <double*>NULL)


def _ps_ints(data, rois, trans, out, int output_dim, int group_size, int pooled_size,
             int part_size, int sample_per_part, str label):
    """The kernels' integer arguments after checking the shapes against the parameters."""
    classes = trans.shape[1] // 2 if trans is not None else 1
    expected_trans = (rois.shape[0], 2 * classes, part_size, part_size)
    if (data.ndim != 4 or rois.ndim != 2 or rois.shape[1] != 5
            or out.shape != (rois.shape[0], output_dim, pooled_size, pooled_size)
            or data.shape[1] < output_dim * group_size * group_size
            or (trans is not None and (trans.shape != expected_trans or output_dim % classes))):
        raise ValueError(f"{label}: data {data.shape}, rois {rois.shape}, trans "
                         f"{None if trans is None else trans.shape} and output {out.shape} do not "
                         f"agree with output_dim={output_dim}, group_size={group_size}, "
                         f"pooled_size={pooled_size}, part_size={part_size}")
    if out.size and data.size == 0:
        raise ValueError(f"{label}: data {data.shape} is empty: there is no image to pool "
                         f"{rois.shape[0]} regions from")
    return [data.shape[0], data.shape[1], data.shape[2], data.shape[3], out.size, output_dim,
            pooled_size, group_size, part_size, sample_per_part, classes]


def append_deformable_psroi(Plan plan, data, rois, trans, out, top_count, double spatial_scale,
                            int output_dim, int group_size, int pooled_size, int part_size,
                            int sample_per_part, double trans_std, str req="write",
                            str label="_contrib_DeformablePSROIPooling"):
    """out = the average of each shifted bin's samples; top_count = how many samples it took
    (trans None: no shifts)."""
    code = req_code(req, label)
    if code == REQ_NULL:
        return
    if code == REQ_ADD:
        raise ValueError(f"{label}: pooled regions cannot be added to their output (req 'add')")
    ints = _ps_ints(data, rois, trans, out, output_dim, group_size, pooled_size, part_size,
                    sample_per_part, label)
    if out.size == 0:
        return
    arrays = [data, rois] + ([trans] if trans is not None else []) + [out, top_count]
    plan.add(deformable_psroi_kernel, common_dtype(arrays), arrays, ints,
             [spatial_scale, trans_std], label)


def append_deformable_psroi_backward(Plan plan, out_grad, data, rois, trans, top_count,
                                     data_grad, trans_grad, double spatial_scale, int output_dim,
                                     int group_size, int pooled_size, int part_size,
                                     int sample_per_part, double trans_std, str req_data="write",
                                     str req_trans="write",
                                     str label="_backward_DeformablePSROIPooling"):
    """data_grad (+)= each bin's gradient spread over its samples' neighbours; trans_grad (+)=
    the gradient of its offsets (MXNet's, through the samples' bilinear slopes)."""
    code_data, code_trans = req_code(req_data, label), req_code(req_trans, label)
    if trans is None:
        code_trans = REQ_NULL
    if code_data == REQ_NULL and code_trans == REQ_NULL:
        return
    ints = _ps_ints(data, rois, trans, out_grad, output_dim, group_size, pooled_size, part_size,
                    sample_per_part, label)
    arrays = [out_grad, data, rois, top_count, data_grad]
    if trans is not None:
        arrays += [trans, trans_grad]
    plan.add(deformable_psroi_backward_kernel, common_dtype(arrays), arrays,
             ints + [code_data, code_trans, 0 if trans is None else trans.size],
             [spatial_scale, trans_std], label)
