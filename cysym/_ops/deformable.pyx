"""Deformable convolution kernels (DCN v1 and the modulated DCN v2), 2-D NCHW.

The im2col + GEMM design of conv.pyx with a deformable im2col: column row (c, i, j), column
(oh, ow) holds the input of channel c sampled bilinearly at
    (oh*sh - ph + i*dh + offset_h, ow*sw - pw + j*dw + offset_w)
with the offsets of c's deformable group for tap (i, j), times the mask of that tap (v2).
Per sample:   y = w @ col + b                    (one GEMM per group)
              dcol = w.T @ dy, dw += dy @ col.T, db += dy summed over positions
              dx, d offset, d mask from dcol through the sampling (its exact derivative).
Sampling follows MXNet's CPU code: v1 samples inside [0, H) x [0, W) and clamps the last
row/column (deformable_im2col.h); v2 zero-pads, sampling inside (-1, H) x (-1, W)
(modulated_deformable_im2col.h).  ints: N C H W F G kh kw sh sw dh dw ph pw Ho Wo dg modulated.
"""
from libc.string cimport memset
from libc.math cimport floor
import numpy as np

from cysym._ops._blas cimport real, gemm
from cysym._ops._math cimport _sum
from cysym._ops._common cimport common_dtype, REQ_NULL, REQ_WRITE, REQ_ADD, req_code
from cysym._ops.runner cimport Plan, KernelCall, RunContext


cdef struct Geom:
    Py_ssize_t N, C, H, W, F, G, kh, kw, sh, sw, dh, dw, ph, pw, Ho, Wo, dg
    bint modulated


cdef inline Geom _geom(Py_ssize_t* v) noexcept nogil:
    cdef Geom g
    g.N = v[0]; g.C = v[1]; g.H = v[2]; g.W = v[3]; g.F = v[4]; g.G = v[5]
    g.kh = v[6]; g.kw = v[7]; g.sh = v[8]; g.sw = v[9]; g.dh = v[10]; g.dw = v[11]
    g.ph = v[12]; g.pw = v[13]; g.Ho = v[14]; g.Wo = v[15]; g.dg = v[16]; g.modulated = v[17]
    return g


DEF GEOM_INTS = 18


cdef struct Sample:
    # the (up to) four grid points a sampling position reads; -1: outside (reads 0)
    Py_ssize_t row0, row1, col0, col1
    double lh, lw          # fractional position between row0/row1 and col0/col1
    bint h_moves, w_moves  # False where v1 clamps: the value does not change with h (or w)


cdef inline bint _locate(double h, double w, Geom* g, Sample* s) noexcept nogil:
    """Where (h, w) samples the plane; False when it reads nothing (the value is 0)."""
    cdef double hf, wf
    if g.modulated:
        if not (h > -1 and w > -1 and h < g.H and w < g.W):
            return False
    elif not (h >= 0 and w >= 0 and h < g.H and w < g.W):
        return False
    hf = floor(h)
    wf = floor(w)
    s.row0 = <Py_ssize_t>hf
    s.col0 = <Py_ssize_t>wf
    s.row1 = s.row0 + 1
    s.col1 = s.col0 + 1
    s.lh = h - hf
    s.lw = w - wf
    s.h_moves = True
    s.w_moves = True
    if not g.modulated:
        # v1: on the last row (column) both rows are it and the position snaps to it
        if s.row0 >= g.H - 1:
            s.row0 = s.row1 = g.H - 1
            s.lh = 0
            s.h_moves = False
        if s.col0 >= g.W - 1:
            s.col0 = s.col1 = g.W - 1
            s.lw = 0
            s.w_moves = False
    if s.row0 < 0:
        s.row0 = -1
    if s.col0 < 0:
        s.col0 = -1
    if s.row1 >= g.H:
        s.row1 = -1
    if s.col1 >= g.W:
        s.col1 = -1
    return True


cdef inline real _at(const real* plane, Py_ssize_t W, Py_ssize_t row, Py_ssize_t col) noexcept nogil:
    if row < 0 or col < 0:
        return 0
    return plane[row * W + col]


cdef inline void _corner_values(const real* plane, Py_ssize_t W, Sample* s, double* v) noexcept nogil:
    v[0] = _at(plane, W, s.row0, s.col0)
    v[1] = _at(plane, W, s.row0, s.col1)
    v[2] = _at(plane, W, s.row1, s.col0)
    v[3] = _at(plane, W, s.row1, s.col1)


cdef inline double _interpolate(double* v, Sample* s) noexcept nogil:
    return ((1 - s.lh) * (1 - s.lw) * v[0] + (1 - s.lh) * s.lw * v[1]
            + s.lh * (1 - s.lw) * v[2] + s.lh * s.lw * v[3])


cdef inline void _scatter(real* plane, Py_ssize_t W, Sample* s, double grad) noexcept nogil:
    """plane[corners] += grad * their interpolation weights (the sampling's data gradient)."""
    if s.row0 >= 0 and s.col0 >= 0:
        plane[s.row0 * W + s.col0] += <real>(grad * (1 - s.lh) * (1 - s.lw))
    if s.row0 >= 0 and s.col1 >= 0:
        plane[s.row0 * W + s.col1] += <real>(grad * (1 - s.lh) * s.lw)
    if s.row1 >= 0 and s.col0 >= 0:
        plane[s.row1 * W + s.col0] += <real>(grad * s.lh * (1 - s.lw))
    if s.row1 >= 0 and s.col1 >= 0:
        plane[s.row1 * W + s.col1] += <real>(grad * s.lh * s.lw)


cdef inline Py_ssize_t _mask_plane(Geom* g, Py_ssize_t group, Py_ssize_t tap) noexcept nogil:
    """Channel of mask[n] holding deformable group `group`, tap i*kw+j."""
    return group * g.kh * g.kw + tap


cdef inline Py_ssize_t _offset_plane(Geom* g, Py_ssize_t group, Py_ssize_t tap, Py_ssize_t axis) noexcept nogil:
    """Channel of offset[n] holding `axis` (0: h, 1: w) of deformable group `group`, tap i*kw+j."""
    return _mask_plane(g, group, tap) * 2 + axis


cdef inline bint _locate_tap(Geom* g, Py_ssize_t i, Py_ssize_t j, Py_ssize_t oh, Py_ssize_t ow,
                             double off_h, double off_w, Sample* s) noexcept nogil:
    """_locate for tap (i, j) of output position (oh, ow), shifted by its offsets."""
    return _locate(oh * g.sh - g.ph + i * g.dh + off_h, ow * g.sw - g.pw + j * g.dw + off_w, g, s)


cdef void _deformable_im2col(const real* x, const real* offset, const real* mask, real* col,
                             Geom* g) noexcept nogil:
    # col[(c, i, j), (oh, ow)] = mask * x[c] sampled at the shifted tap position
    cdef Py_ssize_t c, i, j, oh, ow, tap, group, P = g.Ho * g.Wo
    cdef Py_ssize_t per_group = g.C // g.dg
    cdef const real* plane
    cdef const real* off_h
    cdef const real* off_w
    cdef const real* m
    cdef real* r
    cdef double v[4]
    cdef Sample s
    for c in range(g.C):
        group = c // per_group
        plane = x + c * g.H * g.W
        for i in range(g.kh):
            for j in range(g.kw):
                tap = i * g.kw + j
                off_h = offset + _offset_plane(g, group, tap, 0) * P
                off_w = offset + _offset_plane(g, group, tap, 1) * P
                m = mask + _mask_plane(g, group, tap) * P if g.modulated else NULL
                r = col + ((c * g.kh + i) * g.kw + j) * P
                for oh in range(g.Ho):
                    for ow in range(g.Wo):
                        if _locate_tap(g, i, j, oh, ow, off_h[oh * g.Wo + ow],
                                       off_w[oh * g.Wo + ow], &s):
                            _corner_values(plane, g.W, &s, v)
                            r[oh * g.Wo + ow] = <real>(_interpolate(v, &s)
                                                       * (m[oh * g.Wo + ow] if m != NULL else 1))
                        else:
                            r[oh * g.Wo + ow] = 0


cdef void _deformable_col2im(const real* dcol, const real* x, const real* offset,
                             const real* mask, real* dx, real* doffset, real* dmask,
                             Geom* g) noexcept nogil:
    # the sampling's derivatives: dx += dcol * mask * weights at the corners; d offset_h/w +=
    # dcol * mask * d value / d h, w; d mask += dcol * value.  A NULL output is skipped.
    cdef Py_ssize_t c, i, j, oh, ow, p, tap, group, P = g.Ho * g.Wo
    cdef Py_ssize_t per_group = g.C // g.dg
    cdef const real* plane
    cdef const real* off_h
    cdef const real* off_w
    cdef const real* m
    cdef const real* r
    cdef double v[4]
    cdef double grad, scale
    cdef Sample s
    for c in range(g.C):
        group = c // per_group
        plane = x + c * g.H * g.W
        for i in range(g.kh):
            for j in range(g.kw):
                tap = i * g.kw + j
                off_h = offset + _offset_plane(g, group, tap, 0) * P
                off_w = offset + _offset_plane(g, group, tap, 1) * P
                m = mask + _mask_plane(g, group, tap) * P if g.modulated else NULL
                r = dcol + ((c * g.kh + i) * g.kw + j) * P
                for oh in range(g.Ho):
                    for ow in range(g.Wo):
                        p = oh * g.Wo + ow
                        if not _locate_tap(g, i, j, oh, ow, off_h[p], off_w[p], &s):
                            continue
                        scale = m[p] if m != NULL else 1
                        grad = r[p] * scale
                        if dx != NULL:
                            _scatter(dx + c * g.H * g.W, g.W, &s, grad)
                        if doffset == NULL and dmask == NULL:
                            continue
                        _corner_values(plane, g.W, &s, v)
                        if doffset != NULL:
                            if s.h_moves:
                                doffset[_offset_plane(g, group, tap, 0) * P + p] += <real>(grad * (
                                    (1 - s.lw) * (v[2] - v[0]) + s.lw * (v[3] - v[1])))
                            if s.w_moves:
                                doffset[_offset_plane(g, group, tap, 1) * P + p] += <real>(grad * (
                                    (1 - s.lh) * (v[1] - v[0]) + s.lh * (v[3] - v[2])))
                        if dmask != NULL and m != NULL:
                            dmask[_mask_plane(g, group, tap) * P + p] += <real>(r[p] * _interpolate(v, &s))


cdef inline Py_ssize_t _offset_size(Geom* g) noexcept nogil:
    return g.dg * 2 * g.kh * g.kw * g.Ho * g.Wo


cdef inline Py_ssize_t _mask_size(Geom* g) noexcept nogil:
    return g.dg * g.kh * g.kw * g.Ho * g.Wo


cdef void _forward(const real* x, const real* offset, const real* mask, const real* w,
                   const real* b, real* y, real* col, Geom* g, int req) noexcept nogil:
    cdef Py_ssize_t n, grp, f, p, P = g.Ho * g.Wo
    cdef Py_ssize_t Fg = g.F // g.G
    cdef Py_ssize_t Kg = (g.C // g.G) * g.kh * g.kw
    cdef real* stage = col + g.C * g.kh * g.kw * P
    cdef real* dst
    cdef real* yp
    cdef real bf
    if req == REQ_NULL:
        return
    for n in range(g.N):
        _deformable_im2col(x + n * g.C * g.H * g.W, offset + n * _offset_size(g),
                           mask + n * _mask_size(g) if g.modulated else NULL, col, g)
        dst = y + n * g.F * P if req == REQ_WRITE else stage
        for grp in range(g.G):
            # dst[group] = w[group] @ col[group]   (Fg x Kg) @ (Kg x P)
            gemm(False, False, <int>Fg, <int>P, <int>Kg, <real>1, w + grp * Fg * Kg, <int>Kg,
                 col + grp * Kg * P, <int>P, <real>0, dst + grp * Fg * P, <int>P)
        for f in range(g.F):
            bf = b[f] if b != NULL else 0
            yp = y + (n * g.F + f) * P
            if req == REQ_ADD:
                for p in range(P):
                    yp[p] += stage[f * P + p] + bf
            elif b != NULL:
                for p in range(P):
                    yp[p] += bf


cdef void forward_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    # arrays: x, offset, mask, w, b, y, col (mask/b alias x when absent);
    # ints: geometry(GEOM_INTS), has_bias, req
    cdef Geom g = _geom(c.ints)
    cdef bint has_bias = c.ints[GEOM_INTS]
    cdef int req = <int>c.ints[GEOM_INTS + 1]
    if c.dtype == 0:
        _forward(<float*>c.arrays[0], <float*>c.arrays[1], <float*>c.arrays[2],
                 <float*>c.arrays[3], <float*>c.arrays[4] if has_bias else NULL,
                 <float*>c.arrays[5], <float*>c.arrays[6], &g, req)
    else:
        _forward(<double*>c.arrays[0], <double*>c.arrays[1], <double*>c.arrays[2],
                 <double*>c.arrays[3], <double*>c.arrays[4] if has_bias else NULL,
                 <double*>c.arrays[5], <double*>c.arrays[6], &g, req)


cdef void _backward(const real* dy, const real* x, const real* offset, const real* mask,
                    const real* w, real* dx, real* doffset, real* dmask, real* dw, real* db,
                    real* col, Geom* g, int* req) noexcept nogil:
    # req: dx, doffset, dmask, dw, db; a NULL output has req null
    cdef Py_ssize_t n, grp, f, P = g.Ho * g.Wo
    cdef Py_ssize_t Fg = g.F // g.G
    cdef Py_ssize_t Kg = (g.C // g.G) * g.kh * g.kw
    cdef real* dcol = col + g.C * g.kh * g.kw * P
    cdef const real* dyn
    cdef const real* mask_n
    cdef bint wants_sampling = req[0] != REQ_NULL or req[1] != REQ_NULL or req[2] != REQ_NULL
    if req[0] == REQ_WRITE:
        memset(dx, 0, g.N * g.C * g.H * g.W * sizeof(real))
    if req[1] == REQ_WRITE:
        memset(doffset, 0, g.N * _offset_size(g) * sizeof(real))
    if req[2] == REQ_WRITE:
        memset(dmask, 0, g.N * _mask_size(g) * sizeof(real))
    if req[3] == REQ_WRITE:
        memset(dw, 0, g.F * Kg * sizeof(real))
    if req[4] == REQ_WRITE:
        memset(db, 0, g.F * sizeof(real))
    for n in range(g.N):
        dyn = dy + n * g.F * P
        mask_n = mask + n * _mask_size(g) if g.modulated else NULL
        if req[4] != REQ_NULL:
            for f in range(g.F):
                db[f] += <real>_sum(dyn + f * P, P)
        if req[3] != REQ_NULL:
            _deformable_im2col(x + n * g.C * g.H * g.W, offset + n * _offset_size(g), mask_n,
                               col, g)
            for grp in range(g.G):
                # dw[group] += dy[n, group] @ col[group].T   (Fg x P) @ (P x Kg)
                gemm(False, True, <int>Fg, <int>Kg, <int>P, <real>1, dyn + grp * Fg * P, <int>P,
                     col + grp * Kg * P, <int>P, <real>1, dw + grp * Fg * Kg, <int>Kg)
        if wants_sampling:
            for grp in range(g.G):
                # dcol[group] = w[group].T @ dy[n, group]   (Kg x Fg) @ (Fg x P)
                gemm(True, False, <int>Kg, <int>P, <int>Fg, <real>1, w + grp * Fg * Kg, <int>Kg,
                     dyn + grp * Fg * P, <int>P, <real>0, dcol + grp * Kg * P, <int>P)
            _deformable_col2im(dcol, x + n * g.C * g.H * g.W, offset + n * _offset_size(g), mask_n,
                               dx + n * g.C * g.H * g.W if req[0] != REQ_NULL else NULL,
                               doffset + n * _offset_size(g) if req[1] != REQ_NULL else NULL,
                               dmask + n * _mask_size(g) if req[2] != REQ_NULL else NULL, g)


cdef void backward_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    # arrays: dy, x, offset, mask, w, dx, doffset, dmask, dw, db, col (absent ones alias dy);
    # ints: geometry(GEOM_INTS), req dx, doffset, dmask, dw, db
    cdef Geom g = _geom(c.ints)
    cdef int req[5]
    cdef int k
    for k in range(5):
        req[k] = <int>c.ints[GEOM_INTS + k]
    if c.dtype == 0:
        _backward(<float*>c.arrays[0], <float*>c.arrays[1], <float*>c.arrays[2],
                  <float*>c.arrays[3], <float*>c.arrays[4], <float*>c.arrays[5],
                  <float*>c.arrays[6], <float*>c.arrays[7], <float*>c.arrays[8],
                  <float*>c.arrays[9], <float*>c.arrays[10], &g, req)
    else:
        _backward(<double*>c.arrays[0], <double*>c.arrays[1], <double*>c.arrays[2],
                  <double*>c.arrays[3], <double*>c.arrays[4], <double*>c.arrays[5],
                  <double*>c.arrays[6], <double*>c.arrays[7], <double*>c.arrays[8],
                  <double*>c.arrays[9], <double*>c.arrays[10], &g, req)


# ---------------------------------------------------------------------------------------
# Python entry points

def _pair(values, default, name, label):
    values = tuple(int(v) for v in values) if values else (default, default)
    if len(values) != 2:
        raise ValueError(f"{label}: {name}={values} must have 2 values (2-D deformable convolution)")
    return values


def geometry(data_shape, weight_shape, kernel, stride=(), dilate=(), pad=(), num_filter=None,
             num_group=1, num_deformable_group=1, modulated=False, label="DeformableConvolution"):
    """The GEOM_INTS geometry ints, validated against the data and weight shapes."""
    data_shape, weight_shape = tuple(data_shape), tuple(weight_shape)
    if len(data_shape) != 4:
        raise ValueError(f"{label}: data must be 4-D (N, C, H, W), got shape {data_shape}")
    kh, kw = _pair(kernel, 1, "kernel", label)
    sh, sw = _pair(stride, 1, "stride", label)
    dh, dw = _pair(dilate, 1, "dilate", label)
    ph, pw = _pair(pad, 0, "pad", label)
    if min(kh, kw, sh, sw, dh, dw) < 1 or min(ph, pw) < 0:
        raise ValueError(f"{label}: kernel, stride and dilate must be positive and pad non-negative")
    N, C, H, W = data_shape
    F = weight_shape[0] if num_filter is None else int(num_filter)
    G, dg = int(num_group), int(num_deformable_group)
    if G < 1 or dg < 1 or C % G or F % G or C % dg:
        raise ValueError(f"{label}: num_group={G} must divide the input channels ({C}) and "
                         f"num_filter ({F}), num_deformable_group={dg} the input channels")
    if weight_shape != (F, C // G, kh, kw):
        raise ValueError(f"{label}: weight shape {weight_shape} does not match data {data_shape}: "
                         f"expected {(F, C // G, kh, kw)}")
    Ho = (H + 2 * ph - (dh * (kh - 1) + 1)) // sh + 1
    Wo = (W + 2 * pw - (dw * (kw - 1) + 1)) // sw + 1
    if Ho < 1 or Wo < 1:
        raise ValueError(f"{label}: kernel {(kh, kw)} is larger than the padded input {data_shape}")
    return [N, C, H, W, F, G, kh, kw, sh, sw, dh, dw, ph, pw, Ho, Wo, dg, bool(modulated)]


def workspace_bytes(geo, itemsize):
    """Scratch: the column buffer (C*kh*kw, Ho*Wo) of one sample, then the (F, Ho*Wo) staging
    block of the forward or the column gradient of the backward (the larger of the two)."""
    N, C, H, W, F, G, kh, kw = geo[:8]
    P = geo[14] * geo[15]
    return (C * kh * kw + max(F, C * kh * kw)) * P * itemsize


def _check(array, shape, what, label):
    if array is not None and tuple(array.shape) != tuple(shape):
        raise ValueError(f"{label}: {what} has shape {tuple(array.shape)}, expected {tuple(shape)}")


def _shapes(geo):
    N, C, H, W, F, G, kh, kw = geo[:8]
    Ho, Wo, dg = geo[14], geo[15], geo[16]
    return dict(data=(N, C, H, W), offset=(N, dg * 2 * kh * kw, Ho, Wo),
                mask=(N, dg * kh * kw, Ho, Wo), output=(N, F, Ho, Wo), bias=(F,))


def _scratch(workspace, geo, dtype):
    dtype = np.dtype(dtype)
    size = workspace_bytes(geo, dtype.itemsize)
    if workspace is not None and workspace.dtype == np.uint8 and workspace.nbytes >= size:
        return workspace[:size].view(dtype)
    return np.empty(size // dtype.itemsize, dtype)


def append_forward(Plan plan, x, offset, mask, w, b, y, kernel, stride=(), dilate=(), pad=(),
                   num_filter=None, num_group=1, num_deformable_group=1, workspace=None,
                   str req="write", str label="DeformableConvolution"):
    """Append y = w @ deformable_im2col(x, offset[, mask]) + b; mask None for DCN v1."""
    geo = geometry(x.shape, w.shape, kernel, stride, dilate, pad, num_filter, num_group,
                   num_deformable_group, mask is not None, label)
    shapes = _shapes(geo)
    for array, what in ((offset, "offset"), (mask, "mask"), (b, "bias"), (y, "output")):
        _check(array, shapes[what], what, label)
    arrays = [x, offset, x if mask is None else mask, w, x if b is None else b, y]
    dtype = common_dtype(arrays)
    plan.add(forward_kernel, dtype, arrays + [_scratch(workspace, geo, x.dtype)],
             geo + [b is not None, req_code(req, label)], [], label)


def append_backward(Plan plan, dy, x, offset, mask, w, dx, doffset, dmask, dw, db, kernel,
                    stride=(), dilate=(), pad=(), num_filter=None, num_group=1,
                    num_deformable_group=1, workspace=None, reqs=("write",) * 5,
                    str label="_backward_DeformableConvolution"):
    """Append the gradients of data, offset, mask (v2), weight and bias; a None output or a
    'null' request is skipped."""
    geo = geometry(x.shape, w.shape, kernel, stride, dilate, pad, num_filter, num_group,
                   num_deformable_group, mask is not None, label)
    shapes = _shapes(geo)
    for array, what in ((offset, "offset"), (mask, "mask"), (dy, "output")):
        _check(array, shapes[what], what, label)
    outputs = [dx, doffset, dmask, dw, db]
    codes = []
    for k, (out, shape, what) in enumerate(zip(
            outputs, (shapes["data"], shapes["offset"], shapes["mask"], tuple(w.shape), shapes["bias"]),
            ("data", "offset", "mask", "weight", "bias"))):
        code = req_code(reqs[k], label)
        if out is None or code == REQ_NULL:
            codes.append(REQ_NULL)
            outputs[k] = dy   # any valid pointer; the kernel does not touch it
        else:
            _check(out, shape, what + " gradient", label)
            codes.append(code)
    arrays = [dy, x, offset, x if mask is None else mask, w] + outputs
    dtype = common_dtype(arrays)
    plan.add(backward_kernel, dtype, arrays + [_scratch(workspace, geo, x.dtype)], geo + codes,
             [], label)
