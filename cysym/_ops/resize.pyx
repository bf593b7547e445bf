"""Kernels of _contrib_AdaptiveAvgPooling2D and _contrib_BilinearResize2D over (N, C, H, W).

Both depend on the shapes only for where they read, so the append_ functions build the
tables at bind with MXNet's arithmetic (float32 window bounds and source coordinates, in
cysym/ops/resize.py's terms) and the loops walk the N * C planes with them.  Backward
kernels scatter into a zeroed gradient ('write') or onto it ('add').
"""
from libc.string cimport memset
import numpy as np

from cysym._ops._blas cimport real
from cysym._ops._common cimport common_dtype, REQ_NULL, REQ_WRITE, REQ_ADD, req_code
from cysym._ops.runner cimport Plan, KernelCall, RunContext
from cysym._ops.shape import append_copy


# ---------------------------------------------------------------------------------------
# Adaptive average pooling: output cell (i, j) averages rows [h_start[i], h_end[i]) and
# columns [w_start[j], w_end[j]) of its plane

cdef void _adaptive_pool(const real* x, real* y, const Py_ssize_t* h_start,
                         const Py_ssize_t* h_end, const Py_ssize_t* w_start,
                         const Py_ssize_t* w_end, Py_ssize_t planes, Py_ssize_t H,
                         Py_ssize_t W, Py_ssize_t Ho, Py_ssize_t Wo, int req) noexcept nogil:
    cdef Py_ssize_t p, i, j, h, w
    cdef double total
    cdef const real* xp
    cdef real* yp
    for p in range(planes):
        xp = x + p * H * W
        yp = y + p * Ho * Wo
        for i in range(Ho):
            for j in range(Wo):
                total = 0
                for h in range(h_start[i], h_end[i]):
                    for w in range(w_start[j], w_end[j]):
                        total += xp[h * W + w]
                # MXNet divides by the window's width, then by its height
                total = total / (w_end[j] - w_start[j]) / (h_end[i] - h_start[i])
                if req == REQ_ADD:
                    yp[i * Wo + j] += <real>total
                else:
                    yp[i * Wo + j] = <real>total


cdef void adaptive_pool_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    # arrays: x, y, h_start, h_end, w_start, w_end; ints: planes, H, W, Ho, Wo, req
    cdef const Py_ssize_t** t = <const Py_ssize_t**>(c.arrays + 2)
    if c.dtype == 0:
        _adaptive_pool(<float*>c.arrays[0], <float*>c.arrays[1], t[0], t[1], t[2], t[3],
                       c.ints[0], c.ints[1], c.ints[2], c.ints[3], c.ints[4], <int>c.ints[5])
    else:
        _adaptive_pool(<double*>c.arrays[0], <double*>c.arrays[1], t[0], t[1], t[2], t[3],
                       c.ints[0], c.ints[1], c.ints[2], c.ints[3], c.ints[4], <int>c.ints[5])


cdef void _adaptive_pool_backward(const real* dy, real* dx, const Py_ssize_t* h_start,
                                  const Py_ssize_t* h_end, const Py_ssize_t* w_start,
                                  const Py_ssize_t* w_end, Py_ssize_t planes, Py_ssize_t H,
                                  Py_ssize_t W, Py_ssize_t Ho, Py_ssize_t Wo,
                                  int req) noexcept nogil:
    cdef Py_ssize_t p, i, j, h, w
    cdef real delta
    cdef real* dxp
    if req == REQ_WRITE:
        memset(dx, 0, planes * H * W * sizeof(real))
    for p in range(planes):
        dxp = dx + p * H * W
        for i in range(Ho):
            for j in range(Wo):
                delta = dy[(p * Ho + i) * Wo + j] / <real>(h_end[i] - h_start[i]) \
                    / <real>(w_end[j] - w_start[j])
                for h in range(h_start[i], h_end[i]):
                    for w in range(w_start[j], w_end[j]):
                        dxp[h * W + w] += delta


cdef void adaptive_pool_backward_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    # arrays: dy, dx, h_start, h_end, w_start, w_end; ints: planes, H, W, Ho, Wo, req
    cdef const Py_ssize_t** t = <const Py_ssize_t**>(c.arrays + 2)
    if c.dtype == 0:
        _adaptive_pool_backward(<float*>c.arrays[0], <float*>c.arrays[1], t[0], t[1], t[2], t[3],
                                c.ints[0], c.ints[1], c.ints[2], c.ints[3], c.ints[4],
                                <int>c.ints[5])
    else:
        _adaptive_pool_backward(<double*>c.arrays[0], <double*>c.arrays[1], t[0], t[1], t[2],
                                t[3], c.ints[0], c.ints[1], c.ints[2], c.ints[3], c.ints[4],
                                <int>c.ints[5])


# ---------------------------------------------------------------------------------------
# Bilinear resize: output (i, j) of a plane reads the pixel at offset row[i] + col[j] and its
# neighbours row_step[i] (0 or W) below and col_step[j] (0 or 1) to the right, weighted by
# row_weight[i] and col_weight[j] (the far neighbour's share)

cdef void _bilinear(const real* x, real* y, const Py_ssize_t* row, const Py_ssize_t* row_step,
                    const real* row_weight, const Py_ssize_t* col, const Py_ssize_t* col_step,
                    const real* col_weight, Py_ssize_t planes, Py_ssize_t H, Py_ssize_t W,
                    Py_ssize_t Ho, Py_ssize_t Wo, int req) noexcept nogil:
    cdef Py_ssize_t p, i, j, down, right
    cdef real h1, h0, w1, w0, value
    cdef const real* xp
    cdef const real* top
    cdef real* yp
    for p in range(planes):
        xp = x + p * H * W
        yp = y + p * Ho * Wo
        for i in range(Ho):
            h1 = row_weight[i]
            h0 = <real>1 - h1
            down = row_step[i]
            for j in range(Wo):
                w1 = col_weight[j]
                w0 = <real>1 - w1
                right = col_step[j]
                top = xp + row[i] + col[j]
                value = h0 * (w0 * top[0] + w1 * top[right]) \
                    + h1 * (w0 * top[down] + w1 * top[down + right])
                if req == REQ_ADD:
                    yp[i * Wo + j] += value
                else:
                    yp[i * Wo + j] = value


cdef void bilinear_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    # arrays: x, y, row, row_step, row_weight, col, col_step, col_weight
    # ints: planes, H, W, Ho, Wo, req
    cdef const Py_ssize_t** t = <const Py_ssize_t**>c.arrays
    if c.dtype == 0:
        _bilinear(<float*>c.arrays[0], <float*>c.arrays[1], t[2], t[3], <float*>c.arrays[4],
                  t[5], t[6], <float*>c.arrays[7], c.ints[0], c.ints[1], c.ints[2], c.ints[3],
                  c.ints[4], <int>c.ints[5])
    else:
        _bilinear(<double*>c.arrays[0], <double*>c.arrays[1], t[2], t[3], <double*>c.arrays[4],
                  t[5], t[6], <double*>c.arrays[7], c.ints[0], c.ints[1], c.ints[2], c.ints[3],
                  c.ints[4], <int>c.ints[5])


cdef void _bilinear_backward(const real* dy, real* dx, const Py_ssize_t* row,
                             const Py_ssize_t* row_step, const real* row_weight,
                             const Py_ssize_t* col, const Py_ssize_t* col_step,
                             const real* col_weight, real* spread, Py_ssize_t planes,
                             Py_ssize_t H, Py_ssize_t W, Py_ssize_t Ho, Py_ssize_t Wo,
                             int req) noexcept nogil:
    # The interpolation is separable, so each output row's gradient is first spread over the
    # W input columns (spread, W scratch values), then onto its two input rows in two
    # contiguous passes (the rows coincide on the last one: two passes, not one)
    cdef Py_ssize_t p, i, j, k, right
    cdef real h1, h0, w1, g
    cdef const real* dyp
    cdef real* upper
    cdef real* lower
    if req == REQ_WRITE:
        memset(dx, 0, planes * H * W * sizeof(real))
    for p in range(planes):
        for i in range(Ho):
            dyp = dy + (p * Ho + i) * Wo
            memset(spread, 0, W * sizeof(real))
            for j in range(Wo):
                w1 = col_weight[j]
                right = col_step[j]
                g = dyp[j]
                spread[col[j]] += (<real>1 - w1) * g
                spread[col[j] + right] += w1 * g
            h1 = row_weight[i]
            h0 = <real>1 - h1
            upper = dx + p * H * W + row[i]
            lower = upper + row_step[i]
            for k in range(W):
                upper[k] += h0 * spread[k]
            for k in range(W):
                lower[k] += h1 * spread[k]


cdef void bilinear_backward_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    # arrays: dy, dx, row, row_step, row_weight, col, col_step, col_weight, spread
    # ints: planes, H, W, Ho, Wo, req
    cdef const Py_ssize_t** t = <const Py_ssize_t**>c.arrays
    if c.dtype == 0:
        _bilinear_backward(<float*>c.arrays[0], <float*>c.arrays[1], t[2], t[3],
                           <float*>c.arrays[4], t[5], t[6], <float*>c.arrays[7],
                           <float*>c.arrays[8], c.ints[0], c.ints[1], c.ints[2], c.ints[3],
                           c.ints[4], <int>c.ints[5])
    else:
        _bilinear_backward(<double*>c.arrays[0], <double*>c.arrays[1], t[2], t[3],
                           <double*>c.arrays[4], t[5], t[6], <double*>c.arrays[7],
                           <double*>c.arrays[8], c.ints[0], c.ints[1], c.ints[2], c.ints[3],
                           c.ints[4], <int>c.ints[5])


# ---------------------------------------------------------------------------------------
# append_ functions (bind time, with the GIL): shapes are checked, tables built

def _planes(x, y, label):
    """(planes, H, W, Ho, Wo) of an (N, C, H, W) input and its (N, C, Ho, Wo) output."""
    if x.ndim != 4 or y.ndim != 4 or x.shape[:2] != y.shape[:2]:
        raise ValueError(f"{label}: expected (N, C, H, W) data and (N, C, Ho, Wo) output, got "
                         f"{tuple(x.shape)} and {tuple(y.shape)}")
    N, C, H, W = (int(v) for v in x.shape)
    return [N * C, H, W, int(y.shape[2]), int(y.shape[3])]


def adaptive_windows(Py_ssize_t size, Py_ssize_t out_size):
    """[start, end) of each of the out_size windows over size cells, by MXNet's START_IND /
    END_IND: floor(i * size / out_size) and ceil((i + 1) * size / out_size) in float32."""
    i = np.arange(out_size)
    start = np.floor((i * size).astype(np.float32) / np.float32(out_size))
    end = np.ceil(((i + 1) * size).astype(np.float32) / np.float32(out_size))
    return start.astype(np.intp), end.astype(np.intp)


def _adaptive_tables(shape):
    planes, H, W, Ho, Wo = shape
    return list(adaptive_windows(H, Ho)) + list(adaptive_windows(W, Wo))


def append_adaptive_avg_pool(Plan plan, x, y, str req="write",
                             str label="_contrib_AdaptiveAvgPooling2D"):
    """Append y (+)= the average of each adaptive window of x."""
    cdef int code = req_code(req, label)
    if code == REQ_NULL:
        return
    shape = _planes(x, y, label)
    arrays = [x, y]
    dtype = common_dtype(arrays)
    plan.add(adaptive_pool_kernel, dtype, arrays + _adaptive_tables(shape), shape + [code], [],
             label)


def append_adaptive_avg_pool_backward(Plan plan, dy, dx, str req="write",
                                      str label="_backward_contrib_AdaptiveAvgPooling2D"):
    """Append dx (+)= each window's dy / window size, summed where windows overlap."""
    cdef int code = req_code(req, label)
    if dx is None or code == REQ_NULL:
        return
    shape = _planes(dx, dy, label)
    arrays = [dy, dx]
    dtype = common_dtype(arrays)
    plan.add(adaptive_pool_backward_kernel, dtype, arrays + _adaptive_tables(shape),
             shape + [code], [], label)


def bilinear_source(Py_ssize_t size, Py_ssize_t out_size, bint align_corners, dtype):
    """(first, step, weight) per output position: the source pixel below, 1 when there is a
    next pixel to blend with (else 0), and the next pixel's weight.  MXNet's
    area_pixel_compute_scale / _source_index, in float32 whatever the data type."""
    if out_size > 1:
        scale = (np.float32(size - 1) / np.float32(out_size - 1) if align_corners
                 else np.float32(size) / np.float32(out_size))
    else:
        scale = np.float32(0)
    dst = np.arange(out_size)
    if align_corners:
        source = scale * dst.astype(np.float32)
    else:
        # (dst + 0.5) is a double in MXNet, so the product is formed in double and rounded
        source = (np.float64(scale) * (dst + 0.5) - 0.5).astype(np.float32)
        source = np.where(source < 0, np.float32(0), source)
    first = source.astype(np.intp)
    step = (first < size - 1).astype(np.intp)
    weight = (source - first.astype(np.float32)).astype(dtype)
    return first, step, weight


def _bilinear_tables(shape, bint align_corners, dtype):
    planes, H, W, Ho, Wo = shape
    row, row_step, row_weight = bilinear_source(H, Ho, align_corners, dtype)
    col, col_step, col_weight = bilinear_source(W, Wo, align_corners, dtype)
    return [row * W, row_step * W, row_weight, col, col_step, col_weight]


def _check_not_empty(x, y, label):
    """An empty image cannot be resized to a non-empty one, nor a non-empty one to nothing:
    the kernels read at least one pixel of each plane."""
    if (x.size == 0) != (y.size == 0):
        raise ValueError(f"{label}: cannot resize data of shape {tuple(x.shape)} to "
                         f"{tuple(y.shape)}: one of them is empty")


def append_bilinear_resize(Plan plan, x, y, bint align_corners=True, str req="write",
                           str label="_contrib_BilinearResize2D"):
    """Append y (+)= x resized to y's height and width by bilinear interpolation."""
    cdef int code = req_code(req, label)
    if code == REQ_NULL:
        return
    shape = _planes(x, y, label)
    _check_not_empty(x, y, label)
    if y.size == 0:
        return
    arrays = [x, y]
    dtype = common_dtype(arrays)
    if shape[1:3] == shape[3:5]:    # MXNet copies (no blend with a neighbour that may be inf)
        append_copy(plan, x, y, req, label)
        return
    tables = _bilinear_tables(shape, align_corners, x.dtype)
    plan.add(bilinear_kernel, dtype, arrays + tables, shape + [code], [], label)


def bilinear_backward_workspace_bytes(Py_ssize_t width, Py_ssize_t itemsize):
    """Scratch bytes of append_bilinear_resize_backward for data `width` pixels wide."""
    return width * itemsize


def append_bilinear_resize_backward(Plan plan, dy, dx, bint align_corners=True, workspace=None,
                                    str req="write",
                                    str label="_backward_contrib_BilinearResize2D"):
    """Append dx (+)= dy scattered back onto the pixels each output was blended from.
    workspace: bilinear_backward_workspace_bytes(W) bytes (allocated here when None)."""
    cdef int code = req_code(req, label)
    if dx is None or code == REQ_NULL:
        return
    shape = _planes(dx, dy, label)
    _check_not_empty(dx, dy, label)
    if dx.size == 0:
        return
    arrays = [dy, dx]
    dtype = common_dtype(arrays)
    if shape[1:3] == shape[3:5]:
        append_copy(plan, dy, dx, req, label)
        return
    tables = _bilinear_tables(shape, align_corners, dx.dtype)
    W = shape[2]
    if workspace is not None and workspace.nbytes >= W * dx.itemsize:
        spread = workspace[:W * dx.itemsize].view(dx.dtype)
    else:
        spread = np.empty(W, dx.dtype)
    plan.add(bilinear_backward_kernel, dtype, arrays + tables + [spread], shape + [code], [],
             label)
