"""Kernels of cysym/ops/contrib_misc.py that the element-wise maps do not cover:
_contrib_allclose's all-elements test.

As in the other families, every `append_*` function checks sizes with the GIL and appends one
native call; the loops never raise.
"""
from libc.stdint cimport uint8_t, int32_t, int64_t
from cysym._ops._common cimport (number, numeric_dtype, numeric_code, req_code, REQ_ADD, REQ_NULL,
                                 DTYPE_FLOAT32, DTYPE_FLOAT64, DTYPE_INT32, DTYPE_INT64, DTYPE_UINT8)
from cysym._ops.runner cimport Plan, KernelCall, RunContext


cdef bint _close(const number* a, const number* b, Py_ssize_t n, float rtol, float atol,
                 bint equal_nan) noexcept nogil:
    """MXNet's allclose_forward over every element, in the arrays' type (float tolerances)."""
    cdef Py_ssize_t i
    cdef number x, y
    cdef bint x_nan, y_nan
    for i in range(n):
        x = a[i]
        y = b[i]
        x_nan = x != x
        y_nan = y != y
        if x_nan or y_nan:
            if not (equal_nan and x_nan == y_nan):
                return False
        elif not (x == y or (x - y if x > y else y - x) <= atol + (rtol * y if y > 0 else -rtol * y)):
            return False
    return True


cdef void allclose_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    # arrays: a, b, out (uint8, one element); ints: n, req, the inputs' dtype code, equal_nan;
    # floats: rtol, atol
    cdef Py_ssize_t n = c.ints[0]
    cdef int req = <int>c.ints[1], code = <int>c.ints[2]
    cdef bint equal_nan = c.ints[3] != 0, close
    cdef float rtol = <float>c.floats[0], atol = <float>c.floats[1]
    if code == DTYPE_FLOAT32:
        close = _close(<const float*>c.arrays[0], <const float*>c.arrays[1], n, rtol, atol, equal_nan)
    elif code == DTYPE_FLOAT64:
        close = _close(<const double*>c.arrays[0], <const double*>c.arrays[1], n, rtol, atol, equal_nan)
    elif code == DTYPE_INT32:
        close = _close(<const int32_t*>c.arrays[0], <const int32_t*>c.arrays[1], n, rtol, atol, equal_nan)
    else:
        close = _close(<const int64_t*>c.arrays[0], <const int64_t*>c.arrays[1], n, rtol, atol, equal_nan)
    if req == REQ_ADD:
        (<uint8_t*>c.arrays[2])[0] += close
    else:
        (<uint8_t*>c.arrays[2])[0] = close


def append_allclose(Plan plan, a, b, out, double rtol, double atol, bint equal_nan,
                    str req="write", str label="allclose"):
    """out[()] = 1 (uint8) when every a[i] is close to b[i], |a - b| <= atol + rtol * |b| (NaN
    equal to NaN with equal_nan), else 0."""
    code = req_code(req, label)
    if a.shape != b.shape or out.size != 1 or numeric_code(out) != DTYPE_UINT8:
        raise ValueError(f"{label}: inputs {a.shape} and {b.shape} must agree, the output must be "
                         f"one uint8, got {out.shape} {out.dtype}")
    dtype = numeric_dtype([a, b])
    if dtype > DTYPE_INT64:
        raise TypeError(f"{label}: compares float32, float64, int32 or int64 arrays, not {a.dtype}")
    if code == REQ_NULL:
        return
    plan.add(allclose_kernel, DTYPE_FLOAT32, [a, b, out], [a.size, code, dtype, equal_nan],
             [rtol, atol], label)
