"""Kernels of the creation operators (cysym/ops/init_op.py): ranges, evenly spaced values,
identity matrices, and the int64 constants of shape_array / size_array.  (Arrays of one value
are shape.append_fill.)"""
from cysym._ops._blas cimport real
from libc.stdint cimport int32_t, int64_t
from cysym._ops._common cimport (common_dtype, number, numeric_dtype, REQ_NULL, REQ_ADD, req_code,
                                 DTYPE_FLOAT32, DTYPE_FLOAT64, DTYPE_INT32, DTYPE_INT64)
from cysym._ops.runner cimport Plan, KernelCall, RunContext

ctypedef long long int64


cdef void _arange(number* y, Py_ssize_t n, Py_ssize_t repeat, number start, number step, int req) noexcept nogil:
    # y[i] = start + (i // repeat) * step in y's dtype, as MXNet's range_fwd computes it
    cdef Py_ssize_t i
    if req == REQ_ADD:
        for i in range(n):
            y[i] += start + <number>(i // repeat) * step
    else:
        for i in range(n):
            y[i] = start + <number>(i // repeat) * step


cdef void arange_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    # arrays: y; ints: size, repeat, req; floats: start, step (converted to y's dtype first)
    if c.dtype == DTYPE_FLOAT32:
        _arange(<float*>c.arrays[0], c.ints[0], c.ints[1], <float>c.floats[0], <float>c.floats[1], <int>c.ints[2])
    elif c.dtype == DTYPE_FLOAT64:
        _arange(<double*>c.arrays[0], c.ints[0], c.ints[1], c.floats[0], c.floats[1], <int>c.ints[2])
    elif c.dtype == DTYPE_INT32:
        _arange(<int32_t*>c.arrays[0], c.ints[0], c.ints[1], <int32_t>c.floats[0], <int32_t>c.floats[1],
                <int>c.ints[2])
    else:
        _arange(<int64_t*>c.arrays[0], c.ints[0], c.ints[1], <int64_t>c.floats[0], <int64_t>c.floats[1],
                <int>c.ints[2])


cdef void _linspace(real* y, Py_ssize_t n, double start, double step, int req) noexcept nogil:
    # y[i] = start + step * i in double, rounded once to y's precision (MXNet's linspace_fwd)
    cdef Py_ssize_t i
    if req == REQ_ADD:
        for i in range(n):
            y[i] += <real>(start + step * i)
    else:
        for i in range(n):
            y[i] = <real>(start + step * i)


cdef void linspace_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    # arrays: y; ints: size, req; floats: start, step
    if c.dtype == 0:
        _linspace(<float*>c.arrays[0], c.ints[0], c.floats[0], c.floats[1], <int>c.ints[1])
    else:
        _linspace(<double*>c.arrays[0], c.ints[0], c.floats[0], c.floats[1], <int>c.ints[1])


cdef void _eye(real* y, Py_ssize_t rows, Py_ssize_t cols, Py_ssize_t k, int req) noexcept nogil:
    # y = 1 on the k-th diagonal (k > 0 above the main one), 0 elsewhere; 'add' adds the ones
    cdef Py_ssize_t i, row = -k if k < 0 else 0
    if req != REQ_ADD:
        for i in range(rows * cols):
            y[i] = 0
    while row < rows and row + k < cols:
        y[row * cols + row + k] += 1
        row += 1


cdef void eye_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    # arrays: y; ints: rows, cols, k, req
    if c.dtype == 0:
        _eye(<float*>c.arrays[0], c.ints[0], c.ints[1], c.ints[2], <int>c.ints[3])
    else:
        _eye(<double*>c.arrays[0], c.ints[0], c.ints[1], c.ints[2], <int>c.ints[3])


cdef void int64_values_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    # arrays: y (int64); ints: req, size, values...
    cdef int64* y = <int64*>c.arrays[0]
    cdef Py_ssize_t i
    if c.ints[0] == REQ_ADD:
        for i in range(c.ints[1]):
            y[i] += c.ints[2 + i]
    else:
        for i in range(c.ints[1]):
            y[i] = c.ints[2 + i]


# -- bind-time entry points (Python) -------------------------------------------------------------

def append_arange(Plan plan, y, double start, double step, Py_ssize_t repeat=1, str req="write",
                  str label="_arange"):
    """Append y[i] = start + (i // repeat) * step (computed in y's dtype, as MXNet does: for
    int32 and int64, start and step are truncated first)."""
    code = req_code(req, label)
    if repeat < 1:
        raise ValueError(f"{label}: repeat must be at least 1, got {repeat}")
    dtype = numeric_dtype([y])
    if dtype > DTYPE_INT64:
        raise TypeError(f"{label}: no {y.dtype} ranges")
    if code == REQ_NULL:
        return
    plan.add(arange_kernel, dtype, [y], [y.size, repeat, code], [start, step], label)


def append_linspace(Plan plan, y, double start, double step, str req="write", str label="_linspace"):
    """Append y[i] = start + step * i (computed in double)."""
    code = req_code(req, label)
    if code == REQ_NULL:
        return
    plan.add(linspace_kernel, common_dtype([y]), [y], [y.size, code], [start, step], label)


def append_eye(Plan plan, y, Py_ssize_t k=0, str req="write", str label="_eye"):
    """Append y = the 2-D matrix with ones on diagonal k and zeros elsewhere."""
    code = req_code(req, label)
    if y.ndim != 2:
        raise ValueError(f"{label}: output must be 2-D, got shape {y.shape}")
    if code == REQ_NULL:
        return
    plan.add(eye_kernel, common_dtype([y]), [y], [y.shape[0], y.shape[1], k, code], [], label)


def append_int64_values(Plan plan, y, values, str req="write", str label="int64_values"):
    """Append y[:] = values, into an int64 array (shape_array, size_array)."""
    code = req_code(req, label)
    values = [int(v) for v in values]
    if y.dtype.name != "int64" or y.size != len(values):
        raise ValueError(f"{label}: expected an int64 output of {len(values)} elements, got "
                         f"{y.dtype} {y.shape}")
    if code == REQ_NULL:
        return
    plan.add(int64_values_kernel, 2, [y], [code, len(values)] + values, [], label)
