"""N-dimensional gathers and scatters: gather_nd and its gradient (a scatter-add), scatter_nd,
_scatter_set_nd, _contrib_index_copy and its gradient, _contrib_index_array.

gather_nd's index array has shape (M, N...): column i addresses data[idx[0, i], ..., idx[M-1, i]]
and the K elements after it.  A coordinate v along an axis of size n is valid in [-n, n-1]
(negative ones wrap, a float is truncated after the wrap) as MXNet checks; scatter_nd and the
scatters take the same coordinates, where MXNet leaves an index outside [0, n) undefined.
Every kernel checks all coordinates before it writes anything and reports a bad one through
the run context (MXNet raises IndexError); index arrays are read through their dtype code
(cysym/_ops/_index.pxd).
"""
from libc.string cimport memcpy, memset
from cysym._ops._blas cimport real
from cysym._ops._common cimport REQ_NULL, REQ_WRITE, REQ_ADD, common_dtype, req_code
from cysym._ops._index cimport index_code, read_index, store_index
from cysym._ops.runner cimport Plan, KernelCall, RunContext

cdef enum:
    MAX_INDEXED_AXES = 10      # MXNet's limit on M
    ERROR_INDEX_RANGE = 1      # runner.KERNEL_ERRORS[1]: "index out of range"
    # what a scatter does to its output before placing the values
    BASE_KEEP = 0              # nothing (req 'add')
    BASE_ZEROS = 1             # out = 0 (scatter_nd, the gradient of gather_nd)
    BASE_COPY = 2              # out = lhs (_scatter_set_nd)


cdef inline bint _offset(const char* indices, int code, Py_ssize_t columns, Py_ssize_t m,
                         Py_ssize_t column, const Py_ssize_t* sizes, const Py_ssize_t* strides,
                         Py_ssize_t* offset) noexcept nogil:
    """offset = the element that index column `column` addresses (MXNet's gather_nd: (v + n) % n
    along each axis); False when a coordinate lies outside [-n, n-1] or is NaN."""
    cdef Py_ssize_t j, n
    cdef double v
    offset[0] = 0
    for j in range(m):
        v = read_index(indices, code, j * columns + column)
        n = sizes[j]
        if not (v >= -n and v <= n - 1):
            return False
        offset[0] += strides[j] * (<Py_ssize_t>(v + n) % n)
    return True


cdef bint _all_valid(KernelCall* c, const char* indices) noexcept nogil:
    # ints: columns, m, k, index_code, ..., sizes at 8, strides at 8 + m
    cdef Py_ssize_t columns = c.ints[0], m = c.ints[1], i, offset
    cdef int code = <int>c.ints[3]
    for i in range(columns):
        if not _offset(indices, code, columns, m, i, c.ints + 8, c.ints + 8 + m, &offset):
            return False
    return True


def _nd_layout(data_shape, indices, gathered_shape, str label, str what):
    """(columns, m, k, sizes, strides) of an nd gather/scatter between an array of data_shape
    (the one indexed) and one of gathered_shape (indices.shape[1:] + data_shape[m:])."""
    if indices.ndim < 2:
        raise ValueError(f"{label}: indices of shape {indices.shape} need at least 2 dimensions")
    m = indices.shape[0]
    if not 1 <= m <= min(len(data_shape), MAX_INDEXED_AXES):
        raise ValueError(f"{label}: indices of shape {indices.shape} index {m} axes of {what} "
                         f"shape {tuple(data_shape)} (at most {MAX_INDEXED_AXES})")
    expected = tuple(indices.shape[1:]) + tuple(data_shape[m:])
    if tuple(gathered_shape) != expected:
        raise ValueError(f"{label}: shape {tuple(gathered_shape)} does not match {expected} "
                         f"(indices {indices.shape}, {what} {tuple(data_shape)})")
    k = 1
    for d in data_shape[m:]:
        k *= d
    strides = []
    step = k
    for d in reversed(data_shape[:m]):
        strides.append(step)
        step *= d
    return indices.size // m, m, k, list(data_shape[:m]), strides[::-1]


# ---------------------------------------------------------------------------------------------
# gather_nd

cdef void _gather_nd(KernelCall* c, RunContext* ctx, real* dummy) noexcept nogil:
    # arrays: data, indices, out; ints: columns, m, k, index_code, req, 0, 0, 0, sizes, strides
    cdef Py_ssize_t columns = c.ints[0], m = c.ints[1], k = c.ints[2], i, t, offset
    cdef int code = <int>c.ints[3], req = <int>c.ints[4]
    cdef const real* data = <real*>c.arrays[0]
    cdef real* out = <real*>c.arrays[2]
    if not _all_valid(c, c.arrays[1]):
        ctx.error_code = ERROR_INDEX_RANGE
        return
    for i in range(columns):
        _offset(c.arrays[1], code, columns, m, i, c.ints + 8, c.ints + 8 + m, &offset)
        # out[i] (=|+=) data[idx[:, i]] (k elements)
        if req == REQ_ADD:
            for t in range(k):
                out[i * k + t] += data[offset + t]
        else:
            memcpy(out + i * k, data + offset, k * sizeof(real))


cdef void gather_nd_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    if c.dtype == 0:
        _gather_nd(c, ctx, <float*>NULL)
    else:
        _gather_nd(c, ctx, <double*>NULL)


def append_gather_nd(Plan plan, data, indices, out, str req="write", str label="gather_nd"):
    """out[i...] = data[indices[0, i...], ..., indices[M-1, i...]] (with the trailing axes of
    data); a coordinate outside [-n, n-1] stops the run with an error."""
    code = req_code(req, label)
    columns, m, k, sizes, strides = _nd_layout(data.shape, indices, out.shape, label, "data")
    indices_code = index_code(indices, label, "indices")
    if code == REQ_NULL or out.size == 0:
        return
    plan.add(gather_nd_kernel, common_dtype([data, out]), [data, indices, out],
             [columns, m, k, indices_code, code, 0, 0, 0] + sizes + strides, [], label)


# ---------------------------------------------------------------------------------------------
# scatters: scatter_nd, _scatter_set_nd, and gather_nd's gradient

cdef void _scatter_nd(KernelCall* c, RunContext* ctx, real* dummy) noexcept nogil:
    # arrays: source, indices, out, lhs; ints: columns, m, k, index_code, base, accumulate,
    # out_size, 0, sizes, strides
    cdef Py_ssize_t columns = c.ints[0], m = c.ints[1], k = c.ints[2], i, t, offset
    cdef int code = <int>c.ints[3], base = <int>c.ints[4]
    cdef bint accumulate = c.ints[5] != 0
    cdef Py_ssize_t out_size = c.ints[6]
    cdef const real* source = <real*>c.arrays[0]
    cdef real* out = <real*>c.arrays[2]
    cdef const real* lhs = <real*>c.arrays[3]
    if not _all_valid(c, c.arrays[1]):
        ctx.error_code = ERROR_INDEX_RANGE
        return
    if base == BASE_ZEROS:
        memset(out, 0, out_size * sizeof(real))
    elif base == BASE_COPY and <const real*>out != lhs:
        memcpy(out, lhs, out_size * sizeof(real))
    for i in range(columns):
        _offset(c.arrays[1], code, columns, m, i, c.ints + 8, c.ints + 8 + m, &offset)
        # out[idx[:, i]] (=|+=) source[i] (k elements); repeated columns: the last one wins,
        # or all add up
        if accumulate:
            for t in range(k):
                out[offset + t] += source[i * k + t]
        else:
            memcpy(out + offset, source + i * k, k * sizeof(real))


cdef void scatter_nd_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    if c.dtype == 0:
        _scatter_nd(c, ctx, <float*>NULL)
    else:
        _scatter_nd(c, ctx, <double*>NULL)


def _append_scatter(Plan plan, source, indices, out, lhs, int base, bint accumulate, str label):
    columns, m, k, sizes, strides = _nd_layout(out.shape, indices, source.shape, label, "output")
    indices_code = index_code(indices, label, "indices")
    if out.size == 0:
        return
    arrays = [source, indices, out, out if lhs is None else lhs]
    plan.add(scatter_nd_kernel, common_dtype([source, out, lhs]), arrays,
             [columns, m, k, indices_code, base, accumulate, out.size, 0] + sizes + strides, [],
             label)


def append_scatter_nd(Plan plan, data, indices, out, str req="write", str label="scatter_nd"):
    """out = 0, then out[indices[:, i...]] = data[i...] (req 'write'; a repeated position keeps
    the last value), or out[indices[:, i...]] += data[i...] (req 'add')."""
    code = req_code(req, label)
    if code == REQ_NULL:
        return
    _append_scatter(plan, data, indices, out, None, BASE_ZEROS if code == REQ_WRITE else BASE_KEEP,
                    code == REQ_ADD, label)


def append_gather_nd_backward(Plan plan, out_grad, indices, data_grad, str req="write",
                              str label="_backward_gather_nd"):
    """data_grad = 0 (req 'write'), then data_grad[indices[:, i...]] += out_grad[i...]
    (repeated positions add up)."""
    code = req_code(req, label)
    if code == REQ_NULL:
        return
    _append_scatter(plan, out_grad, indices, data_grad, None,
                    BASE_ZEROS if code == REQ_WRITE else BASE_KEEP, True, label)


def append_scatter_set_nd(Plan plan, lhs, rhs, indices, out, str req="write",
                          str label="_scatter_set_nd"):
    """out = lhs (no copy when out is lhs), then out[indices[:, i...]] = rhs[i...]."""
    code = req_code(req, label)
    if code == REQ_ADD:
        raise ValueError(f"{label}: req 'add' is not supported (the output is lhs, overwritten)")
    if tuple(lhs.shape) != tuple(out.shape):
        raise ValueError(f"{label}: lhs shape {lhs.shape} differs from the output's {out.shape}")
    if code == REQ_NULL:
        return
    _append_scatter(plan, rhs, indices, out, lhs, BASE_COPY, False, label)


# ---------------------------------------------------------------------------------------------
# _contrib_index_copy: out = old with rows index[i] replaced by new[i]

cdef bint _rows_valid(const char* index, int code, Py_ssize_t m, Py_ssize_t n) noexcept nogil:
    """Every index truncates to a row in [0, n) (NaN does not)."""
    cdef Py_ssize_t i
    cdef double v
    for i in range(m):
        v = read_index(index, code, i)
        if not (v > -1.0 and v < <double>n):
            return False
    return True


cdef void _index_copy(KernelCall* c, RunContext* ctx, real* dummy) noexcept nogil:
    # arrays: old, index, new, out; ints: n, m, row_size, index_code
    cdef Py_ssize_t n = c.ints[0], m = c.ints[1], row_size = c.ints[2], i, row
    cdef int code = <int>c.ints[3]
    cdef const real* old = <real*>c.arrays[0]
    cdef const real* replacement = <real*>c.arrays[2]
    cdef real* out = <real*>c.arrays[3]
    if not _rows_valid(c.arrays[1], code, m, n):
        ctx.error_code = ERROR_INDEX_RANGE
        return
    if <const real*>out != old:
        memcpy(out, old, n * row_size * sizeof(real))
    for i in range(m):
        # out[index[i]] = new[i]; a repeated row keeps the last one
        row = <Py_ssize_t>read_index(c.arrays[1], code, i)
        memcpy(out + row * row_size, replacement + i * row_size, row_size * sizeof(real))


cdef void index_copy_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    if c.dtype == 0:
        _index_copy(c, ctx, <float*>NULL)
    else:
        _index_copy(c, ctx, <double*>NULL)


def _index_copy_layout(old_shape, index, new_shape, str label):
    """(n, m, row_size): old has n rows, index and new m, each row row_size elements."""
    old_shape, new_shape = tuple(old_shape), tuple(new_shape)
    if (index.ndim != 1 or len(new_shape) != len(old_shape) or not new_shape
            or new_shape[1:] != old_shape[1:] or new_shape[0] != index.shape[0]):
        raise ValueError(f"{label}: new_tensor {new_shape} must have old_tensor's shape "
                         f"{old_shape} but for its first axis, whose size is index_vector's "
                         f"{index.shape}")
    row_size = 1
    for d in old_shape[1:]:
        row_size *= d
    return old_shape[0], index.shape[0], row_size


def append_index_copy(Plan plan, old, index, new, out, str req="write",
                      str label="_contrib_index_copy"):
    """out = old (no copy when out is old), then out[int(index[i])] = new[i]; an index outside
    [0, old.shape[0]) stops the run with an error.  req 'add' is refused, as MXNet does."""
    code = req_code(req, label)
    if code == REQ_ADD:
        raise ValueError(f"{label}: req 'add' is not supported")
    if tuple(out.shape) != tuple(old.shape):
        raise ValueError(f"{label}: output shape {out.shape} differs from old_tensor's {old.shape}")
    n, m, row_size = _index_copy_layout(old.shape, index, new.shape, label)
    indices_code = index_code(index, label, "index_vector")
    if code == REQ_NULL or out.size == 0:
        return
    plan.add(index_copy_kernel, common_dtype([old, new, out]), [old, index, new, out],
             [n, m, row_size, indices_code], [], label)


cdef void _index_copy_backward(KernelCall* c, RunContext* ctx, real* dummy) noexcept nogil:
    # arrays: out_grad, index, old_grad, new_grad; ints: n, m, row_size, index_code, req_old,
    # req_new
    cdef Py_ssize_t n = c.ints[0], m = c.ints[1], row_size = c.ints[2], i, row
    cdef int code = <int>c.ints[3], req_old = <int>c.ints[4], req_new = <int>c.ints[5]
    cdef const real* dy = <real*>c.arrays[0]
    cdef real* old_grad = <real*>c.arrays[2]
    cdef real* new_grad = <real*>c.arrays[3]
    if not _rows_valid(c.arrays[1], code, m, n):
        ctx.error_code = ERROR_INDEX_RANGE
        return
    if req_old == REQ_WRITE:
        # old_grad = out_grad with the replaced rows zeroed
        memcpy(old_grad, dy, n * row_size * sizeof(real))
        for i in range(m):
            row = <Py_ssize_t>read_index(c.arrays[1], code, i)
            memset(old_grad + row * row_size, 0, row_size * sizeof(real))
    if req_new == REQ_WRITE:
        # new_grad[i] = out_grad[index[i]] (a repeated row passes its gradient to every copy,
        # as MXNet does)
        for i in range(m):
            row = <Py_ssize_t>read_index(c.arrays[1], code, i)
            memcpy(new_grad + i * row_size, dy + row * row_size, row_size * sizeof(real))


cdef void index_copy_backward_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    if c.dtype == 0:
        _index_copy_backward(c, ctx, <float*>NULL)
    else:
        _index_copy_backward(c, ctx, <double*>NULL)


def append_index_copy_backward(Plan plan, out_grad, index, old_grad, new_grad,
                               str req_old="write", str req_new="write",
                               str label="_contrib_backward_index_copy"):
    """old_grad = out_grad with rows int(index[i]) zeroed; new_grad[i] = out_grad[int(index[i])].
    A None gradient or req 'null' is skipped; 'add' is refused (the executor never asks it)."""
    reqs = [req_code(req_old, label), req_code(req_new, label)]
    outs = [old_grad, new_grad]
    for position in range(2):
        if reqs[position] == REQ_ADD:
            raise ValueError(f"{label}: req 'add' is not supported")
        if outs[position] is None:
            reqs[position] = REQ_NULL
    if old_grad is not None and tuple(old_grad.shape) != tuple(out_grad.shape):
        raise ValueError(f"{label}: old_tensor gradient {old_grad.shape} differs from the output "
                         f"gradient {out_grad.shape}")
    new_shape = new_grad.shape if new_grad is not None else index.shape[:1] + out_grad.shape[1:]
    n, m, row_size = _index_copy_layout(out_grad.shape, index, new_shape, label)
    indices_code = index_code(index, label, "index_vector")
    if reqs == [REQ_NULL, REQ_NULL] or out_grad.size == 0:
        return
    arrays = [out_grad, index] + [out_grad if a is None else a for a in outs]
    plan.add(index_copy_backward_kernel, common_dtype([out_grad] + outs), arrays,
             [n, m, row_size, indices_code] + reqs, [], label)


# ---------------------------------------------------------------------------------------------
# _contrib_index_array

cdef void index_array_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    # arrays: out; ints: positions, naxes, out_code, req, then (period, step) per axis
    cdef Py_ssize_t positions = c.ints[0], naxes = c.ints[1], i, j
    cdef int code = <int>c.ints[2], req = <int>c.ints[3]
    for i in range(positions):
        for j in range(naxes):
            # the coordinate of flat position i along the j-th chosen axis
            store_index(c.arrays[0], code, i * naxes + j,
                        (i % c.ints[4 + 2 * j]) // c.ints[5 + 2 * j], req)


def append_index_array(Plan plan, shape, axes, out, str req="write",
                       str label="_contrib_index_array"):
    """out[i_0, ..., i_{n-1}, j] = i_{axes[j]} for an array of `shape` (axes None: every axis,
    in order); an axis is taken modulo len(shape), as MXNet does.  out is float32, float64,
    int32 or int64."""
    code = req_code(req, label)
    shape = tuple(int(d) for d in shape)
    ndim = len(shape)
    axes = tuple(range(ndim)) if axes is None else tuple(a % ndim for a in axes)
    if tuple(out.shape) != shape + (len(axes),):
        raise ValueError(f"{label}: output shape {out.shape} is not {shape + (len(axes),)}")
    out_code = index_code(out, label, "the output")
    if code == REQ_NULL or out.size == 0:
        return
    # the coordinate along axis a of flat position i is (i % products[a]) // products[a + 1]
    products = [1] * (ndim + 1)
    for a in range(ndim - 1, -1, -1):
        products[a] = products[a + 1] * shape[a]
    walk = [v for a in axes for v in (products[a], products[a + 1])]
    plan.add(index_array_kernel, 0, [out], [products[0], len(axes), out_code, code] + walk, [],
             label)
