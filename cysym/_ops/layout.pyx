"""Layout-family kernels: Pad (constant, edge, reflect) and its gradient.

The other layout operators (slice_like, squeeze, reverse, depth_to_space, space_to_depth,
Crop) are strided copies and scatters that cysym._ops.shape and cysym._ops.index already run.
Every `append_*` function validates sizes with the GIL and appends one native call.
"""
from libc.string cimport memcpy, memset
from cysym._ops._blas cimport real
from cysym._ops._common cimport common_dtype, store, REQ_NULL, REQ_WRITE, REQ_ADD, req_code
from cysym._ops.runner cimport Plan, KernelCall, RunContext

PAD_MODES = {"constant": 0, "edge": 1, "reflect": 2}
cdef enum:
    MAX_DIMS = 32
    PAD_CONSTANT = 0
    PAD_EDGE = 1
    PAD_REFLECT = 2


cdef inline Py_ssize_t _source(Py_ssize_t o, Py_ssize_t before, Py_ssize_t n,
                               int mode) noexcept nogil:
    """The input position that output position o of a padded axis copies (numpy.pad's modes:
    reflect mirrors without repeating the edge); -1 for a constant-filled position."""
    cdef Py_ssize_t i = o - before
    if 0 <= i < n:
        return i
    if mode == PAD_CONSTANT:
        return -1
    if mode == PAD_EDGE:
        return 0 if i < 0 else n - 1
    return -i if i < 0 else 2 * (n - 1) - i


cdef Py_ssize_t _source_row(const Py_ssize_t* idx, const Py_ssize_t* in_shape,
                            const Py_ssize_t* before, Py_ssize_t ndim, int mode) noexcept nogil:
    """The offset in the input of the row that output row idx[0:ndim-1] copies; -1 when the
    row lies in a constant-filled band."""
    cdef Py_ssize_t d, s, offset = 0
    for d in range(ndim - 1):
        s = _source(idx[d], before[d], in_shape[d], mode)
        if s < 0:
            return -1
        offset = offset * in_shape[d] + s
    return offset * in_shape[ndim - 1]


cdef inline void _next_row(Py_ssize_t* idx, const Py_ssize_t* out_shape,
                           Py_ssize_t ndim) noexcept nogil:
    """Advance the C-order index of an output row (every axis but the last)."""
    cdef Py_ssize_t d = ndim - 2
    while d >= 0:
        idx[d] += 1
        if idx[d] < out_shape[d]:
            return
        idx[d] = 0
        d -= 1


cdef void _pad(KernelCall* c, real* dummy) noexcept nogil:
    # arrays: x, y; ints: mode, req, ndim, in_shape[ndim], out_shape[ndim], before[ndim]
    # floats: constant_value
    cdef int mode = <int>c.ints[0], req = <int>c.ints[1]
    cdef Py_ssize_t ndim = c.ints[2]
    cdef const Py_ssize_t* in_shape = c.ints + 3
    cdef const Py_ssize_t* out_shape = c.ints + 3 + ndim
    cdef const Py_ssize_t* before = c.ints + 3 + 2 * ndim
    cdef const real* x = <real*>c.arrays[0]
    cdef real* y = <real*>c.arrays[1]
    cdef real value = <real>c.floats[0]
    cdef Py_ssize_t idx[MAX_DIMS]
    cdef Py_ssize_t rows = 1, width = out_shape[ndim - 1], n = in_shape[ndim - 1]
    cdef Py_ssize_t p = before[ndim - 1], r, j, src, s
    cdef const real* row
    for j in range(ndim - 1):
        rows *= out_shape[j]
        idx[j] = 0
    for r in range(rows):
        src = _source_row(idx, in_shape, before, ndim, mode)
        if src < 0:
            for j in range(width):
                store(y, j, value, req)
        else:
            row = x + src
            for j in range(p):
                s = _source(j, p, n, mode)
                store(y, j, value if s < 0 else row[s], req)
            if req == REQ_WRITE:
                # y[p:p + n] = row
                memcpy(y + p, row, n * sizeof(real))
            else:
                for j in range(n):
                    y[p + j] += row[j]
            for j in range(p + n, width):
                s = _source(j, p, n, mode)
                store(y, j, value if s < 0 else row[s], req)
        y += width
        _next_row(idx, out_shape, ndim)


cdef void pad_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    if c.dtype == 0:
        _pad(c, <float*>NULL)
    else:
        _pad(c, <double*>NULL)


cdef void _pad_backward(KernelCall* c, real* dummy) noexcept nogil:
    # arrays: out_grad, data_grad; ints as _pad (in_shape is data_grad's)
    cdef int mode = <int>c.ints[0], req = <int>c.ints[1]
    cdef Py_ssize_t ndim = c.ints[2]
    cdef const Py_ssize_t* in_shape = c.ints + 3
    cdef const Py_ssize_t* out_shape = c.ints + 3 + ndim
    cdef const Py_ssize_t* before = c.ints + 3 + 2 * ndim
    cdef const real* dy = <real*>c.arrays[0]
    cdef real* dx = <real*>c.arrays[1]
    cdef Py_ssize_t idx[MAX_DIMS]
    cdef Py_ssize_t rows = 1, size = 1, width = out_shape[ndim - 1], n = in_shape[ndim - 1]
    cdef Py_ssize_t p = before[ndim - 1], r, j, src, s
    cdef real* row
    for j in range(ndim):
        size *= in_shape[j]
    if req == REQ_WRITE:
        memset(dx, 0, size * sizeof(real))
    for j in range(ndim - 1):
        rows *= out_shape[j]
        idx[j] = 0
    for r in range(rows):
        # every output position adds its gradient to the input position it copied
        src = _source_row(idx, in_shape, before, ndim, mode)
        if src >= 0:
            row = dx + src
            for j in range(width):
                s = _source(j, p, n, mode)
                if s >= 0:
                    row[s] += dy[j]
        dy += width
        _next_row(idx, out_shape, ndim)


cdef void pad_backward_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    if c.dtype == 0:
        _pad_backward(c, <float*>NULL)
    else:
        _pad_backward(c, <double*>NULL)


def _pad_layout(data_shape, padded_shape, pad_width, str mode, str label):
    """ints of a pad call after checking that padded_shape is data_shape grown by pad_width."""
    ndim = len(data_shape)
    if mode not in PAD_MODES:
        raise ValueError(f"{label}: mode must be one of {list(PAD_MODES)}, not {mode!r}")
    if not 1 <= ndim <= MAX_DIMS or len(pad_width) != 2 * ndim:
        raise ValueError(f"{label}: pad_width {tuple(pad_width)} does not give two widths per "
                         f"axis of shape {tuple(data_shape)}")
    before = [int(w) for w in pad_width[0::2]]
    after = [int(w) for w in pad_width[1::2]]
    expected = tuple(int(d) + b + a for d, b, a in zip(data_shape, before, after))
    if any(w < 0 for w in before + after) or tuple(padded_shape) != expected:
        raise ValueError(f"{label}: shape {tuple(data_shape)} padded by {tuple(pad_width)} is "
                         f"{expected}, not {tuple(padded_shape)}")
    if mode == "reflect" and any(b >= d or a >= d for d, b, a in zip(data_shape, before, after)
                                 if b or a):
        raise ValueError(f"{label}: reflect padding must be smaller than the padded axis "
                         f"(shape {tuple(data_shape)}, pad_width {tuple(pad_width)})")
    if mode == "edge" and any(d == 0 and (b or a) for d, b, a in zip(data_shape, before, after)):
        raise ValueError(f"{label}: edge padding of an empty axis (shape {tuple(data_shape)})")
    return ([PAD_MODES[mode]], [ndim] + [int(d) for d in data_shape] + list(expected) + before)


def append_pad(Plan plan, x, y, pad_width, str mode="constant", double constant_value=0.0,
               str req="write", str label="Pad"):
    """y = numpy.pad(x, pad_width pairs, mode) (constant_values=constant_value); numpy's
    'reflect' (the edge is not repeated)."""
    code = req_code(req, label)
    mode_ints, layout = _pad_layout(x.shape, y.shape, pad_width, mode, label)
    if code == REQ_NULL or y.size == 0:
        return
    if x.size == 0 and mode != "constant":
        raise ValueError(f"{label}: cannot {mode}-pad an empty input of shape {x.shape}")
    arrays = [x, y]
    plan.add(pad_kernel, common_dtype(arrays), arrays, mode_ints + [code] + layout,
             [constant_value], label)


def append_pad_backward(Plan plan, out_grad, data_grad, pad_width, str mode="constant",
                        str req="write", str label="_backward_Pad"):
    """data_grad = 0 (req 'write'), then each element of out_grad is added at the input
    position that the forward pad copied into it (constant fills add nothing)."""
    code = req_code(req, label)
    mode_ints, layout = _pad_layout(data_grad.shape, out_grad.shape, pad_width, mode, label)
    if code == REQ_NULL:
        return
    arrays = [out_grad, data_grad]
    plan.add(pad_backward_kernel, common_dtype(arrays), arrays, mode_ints + [code] + layout, [],
             label)
