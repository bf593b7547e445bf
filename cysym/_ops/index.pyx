"""Indexing-family kernels: the scatter-add adjoint of the strided gather that slice,
broadcast_to, tile and repeat use (cysym._ops.shape), dtype conversion (Cast), argmax/argmin,
one_hot, pick, take and where.

Index arrays (pick's index, take's indices, one_hot's indices, where's condition) are float32,
float64, int32 or int64 whatever the data's dtype: they are read through their own dtype code
(cysym/_ops/_index.pxd).  Every
`append_*` function validates sizes with the GIL and appends one native call; the kernels
never raise (take with mode='raise' reports an out-of-range index through the run context).
"""
from libc.math cimport fmod, trunc
from libc.string cimport memset
from cysym._ops._blas cimport real
from libc.stdint cimport int8_t, uint8_t, int32_t, int64_t
from cysym._ops._common cimport (common_dtype, move_dtype, numeric_code, REQ_NULL, REQ_WRITE, REQ_ADD, step_index,
                                 req_code, DTYPE_FLOAT32, DTYPE_FLOAT64, DTYPE_INT32, DTYPE_INT64,
                                 DTYPE_UINT8)
from cysym._ops._index cimport index_code as index_dtype_code, read_index
from cysym._ops.runner cimport Plan, KernelCall, RunContext, dtype_code
from cysym._ops.shape import append_strided_copy as append_gather, axis_layout, strided_walk

MODES = {"clip": 0, "wrap": 1, "raise": 2}
cdef enum:
    MAX_DIMS = 32
    MODE_CLIP = 0
    MODE_WRAP = 1
    MODE_RAISE = 2
    ERROR_INDEX_RANGE = 1     # runner.KERNEL_ERRORS[1]: "index out of range"


def mode_code(mode, str label):
    try:
        return MODES[mode]
    except KeyError:
        raise ValueError(f"{label}: mode must be one of {list(MODES)}, not {mode!r}") from None


cdef inline Py_ssize_t _position(double v, Py_ssize_t n, int mode) noexcept nogil:
    """The position along an axis of size n that index value v addresses: truncated toward
    zero as C++ does, then clipped into [0, n) or wrapped modulo n; -1 when mode is raise and
    v is outside [0, n) (NaN counts as 0 under clip and wrap)."""
    cdef double r
    if mode == MODE_RAISE:
        if v > -1.0 and v < <double>n:
            return <Py_ssize_t>v
        return -1
    if v != v:
        return 0
    if mode == MODE_WRAP:
        # np.mod(trunc(v), n) in doubles, so huge values cannot overflow the integer cast
        r = fmod(trunc(v), <double>n)
        if r < 0:
            r += n
        return <Py_ssize_t>r
    if not v > 0:
        return 0
    if v >= <double>(n - 1):
        return n - 1
    return <Py_ssize_t>v


# ---------------------------------------------------------------------------------------------
# scatter-add, the adjoint of the strided gather (cysym._ops.shape.append_strided_copy)

cdef void _scatter_add(KernelCall* c, real* dummy) noexcept nogil:
    # arrays: src (contiguous), dst; ints: req, ndim, offset, dst_size, shape[ndim], stride[ndim]
    cdef int req = <int>c.ints[0]
    cdef Py_ssize_t ndim = c.ints[1]
    cdef Py_ssize_t* shape = c.ints + 4
    cdef Py_ssize_t* stride = c.ints + 4 + ndim
    cdef const real* src = <real*>c.arrays[0]
    cdef real* dst = <real*>c.arrays[1]
    cdef Py_ssize_t idx[MAX_DIMS]
    cdef Py_ssize_t total = 1, d, j, n_inner = shape[ndim - 1], s = stride[ndim - 1]
    cdef Py_ssize_t o = 0, i = 0, rows, r
    if req == REQ_WRITE:
        memset(dst, 0, c.ints[3] * sizeof(real))
    dst += c.ints[2]
    for d in range(ndim):
        total *= shape[d]
        idx[d] = 0
    if total == 0:
        return
    rows = total // n_inner
    for r in range(rows):
        # dst[i::s][:n_inner] += src[o:o + n_inner]
        for j in range(n_inner):
            dst[i + j * s] += src[o + j]
        o += n_inner
        step_index(idx, shape, stride, ndim - 1, &i)


cdef void scatter_add_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    if c.dtype == 0:
        _scatter_add(c, <float*>NULL)
    else:
        _scatter_add(c, <double*>NULL)


def append_scatter_add(Plan plan, src, dst, Py_ssize_t offset, strides, str req="write",
                       str label="scatter_add"):
    """The adjoint of append_gather for a window whose addresses do not repeat (a slice):
    dst = 0 (req 'write'), then the view of dst at `offset`/`strides` with src's shape += src."""
    code = req_code(req, label)
    shape, walk = strided_walk(src.shape, strides, offset, dst.size, label, "gradient")
    if code == REQ_NULL:
        return
    if any(s == 0 for d, s in zip(shape, walk) if d > 1):
        raise ValueError(f"{label}: a scatter window may not repeat addresses (zero stride)")
    arrays = [src, dst]
    plan.add(scatter_add_kernel, common_dtype(arrays), arrays,
             [code, len(shape), offset, dst.size] + shape + walk, [], label)


# ---------------------------------------------------------------------------------------------
# Cast between any two of float32, float64, int32, int64, uint8, int8

ctypedef fused cast_source:
    float
    double
    int32_t
    int64_t
    uint8_t
    int8_t

ctypedef fused cast_target:
    float
    double
    int32_t
    int64_t
    uint8_t
    int8_t


cdef inline cast_target _converted(cast_source x, cast_target* like) noexcept nogil:
    """static_cast<target>(x) as MXNet's x86-64 build computes it: a float goes to an 8-bit
    integer through a 32-bit one (so -1.5 -> 255 as uint8, 300.7 -> 44), and a float outside
    a 32- or 64-bit integer's range (or NaN) becomes its smallest value."""
    if (cast_target is uint8_t or cast_target is int8_t) and (cast_source is float or cast_source is double):
        return <cast_target><int32_t>x
    else:
        return <cast_target>x


cdef void _cast_loop(const cast_source* x, cast_target* y, Py_ssize_t n, int req) noexcept nogil:
    cdef Py_ssize_t i
    if req == REQ_ADD:
        for i in range(n):
            y[i] = y[i] + _converted(x[i], y)
    else:
        for i in range(n):
            y[i] = _converted(x[i], y)


cdef void _cast_from(const cast_source* x, char* y, int target, Py_ssize_t n, int req) noexcept nogil:
    if target == DTYPE_FLOAT32: _cast_loop(x, <float*>y, n, req)
    elif target == DTYPE_FLOAT64: _cast_loop(x, <double*>y, n, req)
    elif target == DTYPE_INT32: _cast_loop(x, <int32_t*>y, n, req)
    elif target == DTYPE_INT64: _cast_loop(x, <int64_t*>y, n, req)
    elif target == DTYPE_UINT8: _cast_loop(x, <uint8_t*>y, n, req)
    else: _cast_loop(x, <int8_t*>y, n, req)


cdef void cast_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    # arrays: src, dst; ints: n, src_code, dst_code, req (codes: _common's DTYPE_*)
    cdef Py_ssize_t n = c.ints[0]
    cdef int source = <int>c.ints[1], target = <int>c.ints[2], req = <int>c.ints[3]
    cdef char* y = c.arrays[1]
    if source == DTYPE_FLOAT32: _cast_from(<const float*>c.arrays[0], y, target, n, req)
    elif source == DTYPE_FLOAT64: _cast_from(<const double*>c.arrays[0], y, target, n, req)
    elif source == DTYPE_INT32: _cast_from(<const int32_t*>c.arrays[0], y, target, n, req)
    elif source == DTYPE_INT64: _cast_from(<const int64_t*>c.arrays[0], y, target, n, req)
    elif source == DTYPE_UINT8: _cast_from(<const uint8_t*>c.arrays[0], y, target, n, req)
    else: _cast_from(<const int8_t*>c.arrays[0], y, target, n, req)


def append_cast(Plan plan, src, dst, str req="write", str label="Cast"):
    """dst = src.astype(dst.dtype) as MXNet converts, for arrays of one size whose dtypes are
    float32, float64, int32, int64, uint8 or int8."""
    code = req_code(req, label)
    if src.size != dst.size:
        raise ValueError(f"{label}: cannot cast {src.shape} into {dst.shape}")
    source, target = numeric_code(src), numeric_code(dst)
    if code == REQ_NULL:
        return
    plan.add(cast_kernel, target, [src, dst], [src.size, source, target, code], [], label)


# ---------------------------------------------------------------------------------------------
# argmax / argmin along one axis of a (outer, n, inner) view

cdef void _search(KernelCall* c, real* dummy) noexcept nogil:
    # arrays: x, y; ints: outer, n, inner, find_min, req
    cdef Py_ssize_t outer = c.ints[0], n = c.ints[1], inner = c.ints[2], o, i, k, best_k
    cdef bint find_min = c.ints[3] != 0
    cdef int req = <int>c.ints[4]
    cdef const real* x = <real*>c.arrays[0]
    cdef real* y = <real*>c.arrays[1]
    cdef const real* row
    cdef real best, v
    for o in range(outer):
        for i in range(inner):
            # np.argmax(x[o, :, i]): the first best value; the first NaN wins, as in NumPy
            row = x + o * n * inner + i
            best = row[0]
            best_k = 0
            if best == best:
                for k in range(1, n):
                    v = row[k * inner]
                    if v != v:
                        best_k = k
                        break
                    if (v < best) if find_min else (v > best):
                        best = v
                        best_k = k
            if req == REQ_ADD:
                y[o * inner + i] += <real>best_k
            else:
                y[o * inner + i] = <real>best_k


cdef void search_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    if c.dtype == 0:
        _search(c, <float*>NULL)
    else:
        _search(c, <double*>NULL)


def append_search(Plan plan, str kind, x, y, axis=None, str req="write", str label="argmax"):
    """y = np.argmax(x, axis) (kind 'max') or np.argmin (kind 'min') as float values;
    axis None searches the flattened array.  y holds outer * inner elements."""
    code = req_code(req, label)
    if kind not in ("max", "min"):
        raise ValueError(f"{label}: kind must be 'max' or 'min', not {kind!r}")
    if axis is not None and not 0 <= axis < x.ndim:
        raise ValueError(f"{label}: axis {axis} is out of range for input shape {x.shape}")
    outer, n, inner = axis_layout(x.shape, axis)
    if y.size != outer * inner:
        raise ValueError(f"{label}: output shape {y.shape} does not match input {x.shape} "
                         f"reduced over axis {axis}")
    if n == 0 and y.size:
        raise ValueError(f"{label}: cannot search an empty axis of input shape {x.shape}")
    if code == REQ_NULL or y.size == 0:
        return
    arrays = [x, y]
    plan.add(search_kernel, common_dtype(arrays), arrays,
             [outer, n, inner, kind == "min", code], [], label)


# ---------------------------------------------------------------------------------------------
# one_hot

cdef void _one_hot(KernelCall* c, real* dummy) noexcept nogil:
    # arrays: indices, out; ints: n, depth, index_code, req; floats: on_value, off_value
    cdef Py_ssize_t n = c.ints[0], depth = c.ints[1], i, j
    cdef int index_code = <int>c.ints[2], req = <int>c.ints[3]
    cdef real on = <real>c.floats[0], off = <real>c.floats[1]
    cdef real* out = <real*>c.arrays[1]
    cdef real* row
    cdef double v
    for i in range(n):
        row = out + i * depth
        if req == REQ_ADD:
            for j in range(depth):
                row[j] += off
        else:
            for j in range(depth):
                row[j] = off
        # an index outside [0, depth) (after truncation toward zero) leaves the row off
        v = read_index(c.arrays[0], index_code, i)
        if v > -1.0 and v < <double>depth:
            j = <Py_ssize_t>v
            row[j] += on - off
            if req != REQ_ADD:
                row[j] = on     # exact, whatever on - off rounds to


cdef void one_hot_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    if c.dtype == 0:
        _one_hot(c, <float*>NULL)
    else:
        _one_hot(c, <double*>NULL)


def append_one_hot(Plan plan, indices, out, double on_value=1.0, double off_value=0.0,
                   str req="write", str label="one_hot"):
    """out[..., j] = on_value where j == int(indices[...]), else off_value."""
    code = req_code(req, label)
    if out.ndim != indices.ndim + 1 or tuple(out.shape[:out.ndim - 1]) != tuple(indices.shape):
        raise ValueError(f"{label}: output shape {out.shape} is not indices shape "
                         f"{indices.shape} plus a depth axis")
    if code == REQ_NULL or out.size == 0:
        return
    plan.add(one_hot_kernel, dtype_code(out), [indices, out],
             [indices.size, out.shape[out.ndim - 1], index_dtype_code(indices, label, "indices"), code],
             [on_value, off_value], label)


# ---------------------------------------------------------------------------------------------
# pick: out[o, i] = data[o, index[o, i], i] over a (outer, n, inner) view

cdef void _pick(KernelCall* c, real* dummy) noexcept nogil:
    # arrays: data, index, out; ints: outer, n, inner, index_code, mode, req
    cdef Py_ssize_t outer = c.ints[0], n = c.ints[1], inner = c.ints[2], o, i, j
    cdef int index_code = <int>c.ints[3], mode = <int>c.ints[4], req = <int>c.ints[5]
    cdef const real* data = <real*>c.arrays[0]
    cdef real* out = <real*>c.arrays[2]
    for o in range(outer):
        for i in range(inner):
            j = _position(read_index(c.arrays[1], index_code, o * inner + i), n, mode)
            if req == REQ_ADD:
                out[o * inner + i] += data[(o * n + j) * inner + i]
            else:
                out[o * inner + i] = data[(o * n + j) * inner + i]


cdef void pick_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    if c.dtype == 0:
        _pick(c, <float*>NULL)
    else:
        _pick(c, <double*>NULL)


cdef void _pick_backward(KernelCall* c, real* dummy) noexcept nogil:
    # arrays: out_grad, index, data_grad; ints: outer, n, inner, index_code, mode, req
    cdef Py_ssize_t outer = c.ints[0], n = c.ints[1], inner = c.ints[2], o, i, j
    cdef int index_code = <int>c.ints[3], mode = <int>c.ints[4], req = <int>c.ints[5]
    cdef const real* dy = <real*>c.arrays[0]
    cdef real* dx = <real*>c.arrays[2]
    if req == REQ_WRITE:
        memset(dx, 0, outer * n * inner * sizeof(real))
    for o in range(outer):
        for i in range(inner):
            j = _position(read_index(c.arrays[1], index_code, o * inner + i), n, mode)
            dx[(o * n + j) * inner + i] += dy[o * inner + i]


cdef void pick_backward_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    if c.dtype == 0:
        _pick_backward(c, <float*>NULL)
    else:
        _pick_backward(c, <double*>NULL)


def _pick_layout(data, index, picked, int axis, str label):
    if not 0 <= axis < data.ndim:
        raise ValueError(f"{label}: axis {axis} is out of range for data shape {data.shape}")
    outer, n, inner = axis_layout(data.shape, axis)
    if index.size != outer * inner or picked.size != outer * inner:
        raise ValueError(f"{label}: index shape {index.shape} and output shape {picked.shape} "
                         f"do not match data {data.shape} without axis {axis}")
    if n == 0 and picked.size:
        raise ValueError(f"{label}: cannot pick along an empty axis of data shape {data.shape}")
    return outer, n, inner


def append_pick(Plan plan, data, index, out, int axis, str mode="clip", str req="write",
                str label="pick"):
    """out = np.take_along_axis(data, index[..., None, ...], axis) with clipped or wrapped
    indices; index and out hold data's shape without `axis`."""
    code = req_code(req, label)
    mode_value = mode_code(mode, label)
    outer, n, inner = _pick_layout(data, index, out, axis, label)
    if code == REQ_NULL or out.size == 0:
        return
    plan.add(pick_kernel, common_dtype([data, out]), [data, index, out],
             [outer, n, inner, index_dtype_code(index, label, "index"), mode_value, code], [], label)


def append_pick_backward(Plan plan, out_grad, index, data_grad, int axis, str mode="clip",
                         str req="write", str label="_backward_pick"):
    """data_grad = 0 (req 'write'), then data_grad[picked positions] += out_grad."""
    code = req_code(req, label)
    mode_value = mode_code(mode, label)
    outer, n, inner = _pick_layout(data_grad, index, out_grad, axis, label)
    if code == REQ_NULL:
        return
    plan.add(pick_backward_kernel, common_dtype([out_grad, data_grad]), [out_grad, index, data_grad],
             [outer, n, inner, index_dtype_code(index, label, "index"), mode_value, code], [], label)


# ---------------------------------------------------------------------------------------------
# take: out[o, k, i] = a[o, indices[k], i] over (outer, n, inner) and (outer, m, inner) views

cdef bint _all_in_range(const char* indices, int code, Py_ssize_t m, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t k
    for k in range(m):
        if _position(read_index(indices, code, k), n, MODE_RAISE) < 0:
            return False
    return True


cdef void _take(KernelCall* c, RunContext* ctx, real* dummy) noexcept nogil:
    # arrays: a, indices, out; ints: outer, n, inner, m, index_code, mode, req
    cdef Py_ssize_t outer = c.ints[0], n = c.ints[1], inner = c.ints[2], m = c.ints[3]
    cdef int index_code = <int>c.ints[4], mode = <int>c.ints[5], req = <int>c.ints[6]
    cdef const real* a = <real*>c.arrays[0]
    cdef real* out = <real*>c.arrays[2]
    cdef const real* src
    cdef real* dst
    cdef Py_ssize_t o, k, t, j
    if mode == MODE_RAISE and not _all_in_range(c.arrays[1], index_code, m, n):
        ctx.error_code = ERROR_INDEX_RANGE
        return
    for o in range(outer):
        for k in range(m):
            j = _position(read_index(c.arrays[1], index_code, k), n, mode)
            # out[o, k, :] (=|+=) a[o, j, :]
            src = a + (o * n + j) * inner
            dst = out + (o * m + k) * inner
            if req == REQ_ADD:
                for t in range(inner):
                    dst[t] += src[t]
            else:
                for t in range(inner):
                    dst[t] = src[t]


cdef void take_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    if c.dtype == 0:
        _take(c, ctx, <float*>NULL)
    else:
        _take(c, ctx, <double*>NULL)


cdef void _take_backward(KernelCall* c, real* dummy) noexcept nogil:
    # arrays: out_grad, indices, a_grad; ints: outer, n, inner, m, index_code, mode, req
    cdef Py_ssize_t outer = c.ints[0], n = c.ints[1], inner = c.ints[2], m = c.ints[3]
    cdef int index_code = <int>c.ints[4], mode = <int>c.ints[5], req = <int>c.ints[6]
    cdef const real* dy = <real*>c.arrays[0]
    cdef real* da = <real*>c.arrays[2]
    cdef const real* src
    cdef real* dst
    cdef Py_ssize_t o, k, t, j
    if mode == MODE_RAISE:
        mode = MODE_CLIP    # the forward pass has already checked every index
    if req == REQ_WRITE:
        memset(da, 0, outer * n * inner * sizeof(real))
    for o in range(outer):
        for k in range(m):
            # np.add.at(a_grad, (o, j), out_grad[o, k]): repeated indices accumulate
            j = _position(read_index(c.arrays[1], index_code, k), n, mode)
            src = dy + (o * m + k) * inner
            dst = da + (o * n + j) * inner
            for t in range(inner):
                dst[t] += src[t]


cdef void take_backward_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    if c.dtype == 0:
        _take_backward(c, <float*>NULL)
    else:
        _take_backward(c, <double*>NULL)


def _take_layout(a, indices, taken, int axis, str label):
    if not 0 <= axis < a.ndim:
        raise ValueError(f"{label}: axis {axis} is out of range for input shape {a.shape}")
    outer, n, inner = axis_layout(a.shape, axis)
    expected = tuple(a.shape[:axis]) + tuple(indices.shape) + tuple(a.shape[axis + 1:])
    if tuple(taken.shape) != expected:
        raise ValueError(f"{label}: output shape {taken.shape} is not {expected} (a {a.shape}, "
                         f"indices {indices.shape}, axis {axis})")
    if n == 0 and taken.size:
        raise ValueError(f"{label}: cannot take from an empty axis of input shape {a.shape}")
    return outer, n, inner, indices.size


def append_take(Plan plan, a, indices, out, int axis=0, str mode="clip", str req="write",
                str label="take"):
    """out = np.take(a, indices, axis, mode): clip, wrap, or raise (the run reports an index
    outside [0, n) as an error instead of writing)."""
    code = req_code(req, label)
    mode_value = mode_code(mode, label)
    outer, n, inner, m = _take_layout(a, indices, out, axis, label)
    if code == REQ_NULL or out.size == 0:
        return
    plan.add(take_kernel, common_dtype([a, out]), [a, indices, out],
             [outer, n, inner, m, index_dtype_code(indices, label, "indices"), mode_value, code], [], label)


def append_take_backward(Plan plan, out_grad, indices, a_grad, int axis=0, str mode="clip",
                         str req="write", str label="_backward_take"):
    """a_grad = 0 (req 'write'), then np.add.at(a_grad, indices along axis, out_grad)."""
    code = req_code(req, label)
    mode_value = mode_code(mode, label)
    outer, n, inner, m = _take_layout(a_grad, indices, out_grad, axis, label)
    if code == REQ_NULL:
        return
    plan.add(take_backward_kernel, common_dtype([out_grad, a_grad]), [out_grad, indices, a_grad],
             [outer, n, inner, m, index_dtype_code(indices, label, "indices"), mode_value, code], [], label)


# ---------------------------------------------------------------------------------------------
# where: out = condition ? x : y, the condition read once per `inner` elements

cdef void _where(KernelCall* c, real* dummy) noexcept nogil:
    # arrays: condition, x, y, out; ints: n_condition, inner, condition_code, req
    cdef Py_ssize_t n = c.ints[0], inner = c.ints[1], k, t
    cdef int code = <int>c.ints[2], req = <int>c.ints[3]
    cdef const real* x = <real*>c.arrays[1]
    cdef const real* y = <real*>c.arrays[2]
    cdef real* out = <real*>c.arrays[3]
    cdef const real* src
    for k in range(n):
        src = x if read_index(c.arrays[0], code, k) != 0 else y     # NaN counts as true
        if req == REQ_ADD:
            for t in range(k * inner, (k + 1) * inner):
                out[t] += src[t]
        else:
            for t in range(k * inner, (k + 1) * inner):
                out[t] = src[t]


cdef void where_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    if c.dtype == 0:
        _where(c, <float*>NULL)
    else:
        _where(c, <double*>NULL)


cdef void _where_backward(KernelCall* c, real* dummy) noexcept nogil:
    # arrays: out_grad, condition, x_grad, y_grad; ints: n_condition, inner, code, req_x, req_y
    cdef Py_ssize_t n = c.ints[0], inner = c.ints[1], k, t
    cdef int code = <int>c.ints[2], req_x = <int>c.ints[3], req_y = <int>c.ints[4]
    cdef const real* dy = <real*>c.arrays[0]
    cdef real* dx = <real*>c.arrays[2]
    cdef real* dz = <real*>c.arrays[3]
    cdef bint chosen
    for k in range(n):
        chosen = read_index(c.arrays[1], code, k) != 0
        for t in range(k * inner, (k + 1) * inner):
            # x_grad = where(condition, dy, 0), y_grad = where(condition, 0, dy)
            if req_x == REQ_WRITE:
                dx[t] = dy[t] if chosen else 0
            elif req_x == REQ_ADD and chosen:
                dx[t] += dy[t]
            if req_y == REQ_WRITE:
                dz[t] = 0 if chosen else dy[t]
            elif req_y == REQ_ADD and not chosen:
                dz[t] += dy[t]


cdef void where_backward_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    if c.dtype == 0:
        _where_backward(c, <float*>NULL)
    else:
        _where_backward(c, <double*>NULL)


def _where_inner(condition, x, str label):
    if tuple(condition.shape) == tuple(x.shape):
        return 1
    if condition.ndim == 1 and x.ndim >= 1 and condition.shape[0] == x.shape[0]:
        return x.size // x.shape[0] if x.shape[0] else 0
    raise ValueError(f"{label}: condition shape {condition.shape} is neither x's shape "
                     f"{x.shape} nor ({x.shape[0] if x.ndim else 0},)")


def append_where(Plan plan, condition, x, y, out, str req="write", str label="where"):
    """out = np.where(condition != 0, x, y); a 1-D condition selects whole rows of x and y
    (which may be int32 or int64: they are only moved)."""
    code = req_code(req, label)
    if tuple(y.shape) != tuple(x.shape) or tuple(out.shape) != tuple(x.shape):
        raise ValueError(f"{label}: x {x.shape}, y {y.shape} and output {out.shape} differ")
    inner = _where_inner(condition, x, label)
    if code == REQ_NULL or out.size == 0:
        return
    plan.add(where_kernel, move_dtype([x, y, out], code, label), [condition, x, y, out],
             [condition.size, inner, index_dtype_code(condition, label, "condition"), code], [], label)


def append_where_backward(Plan plan, out_grad, condition, x_grad, y_grad, str req_x="write",
                          str req_y="write", str label="_backward_where"):
    """x_grad = where(condition, out_grad, 0), y_grad = where(condition, 0, out_grad); a None
    gradient or req 'null' is skipped."""
    reqs = [req_code(req_x, label), req_code(req_y, label)]
    outs = [x_grad, y_grad]
    for k in range(2):
        if outs[k] is None:
            reqs[k] = REQ_NULL
            outs[k] = out_grad
        elif tuple(outs[k].shape) != tuple(out_grad.shape):
            raise ValueError(f"{label}: gradient shape {outs[k].shape} is not {out_grad.shape}")
    inner = _where_inner(condition, out_grad, label)
    if reqs[0] == REQ_NULL and reqs[1] == REQ_NULL or out_grad.size == 0:
        return
    arrays = [out_grad, condition] + outs
    plan.add(where_backward_kernel, common_dtype([out_grad] + outs), arrays,
             [condition.size, inner, index_dtype_code(condition, label, "condition")] + reqs, [], label)
