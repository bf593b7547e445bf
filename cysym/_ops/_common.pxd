# Helpers shared by the kernel families: their append_ functions (bind time, with the GIL)
# and their loops.
from cysym._ops._blas cimport real
from cysym._ops.runner cimport dtype_code

cdef enum Req:
    REQ_NULL = 0
    REQ_WRITE = 1
    REQ_ADD = 2


cdef inline void store(real* out, Py_ssize_t i, double value, int req) noexcept nogil:
    """out[i] = value ('write') or out[i] += value ('add'), in out's precision; nothing for 'null'."""
    if req == REQ_ADD:
        out[i] += <real>value
    elif req == REQ_WRITE:
        out[i] = <real>value


cdef inline int req_code(object req, str label) except -1:
    """The Req code of a request 'null', 'write' or 'add'; an error naming the kernel otherwise."""
    if req == "write":
        return REQ_WRITE
    if req == "add":
        return REQ_ADD
    if req == "null":
        return REQ_NULL
    raise ValueError(f"{label}: req must be one of ['null', 'write', 'add'], not {req!r}")


cdef inline int common_dtype(list arrays) except -1:
    """The kernel dtype code shared by every array (None entries are skipped)."""
    cdef int code = -1
    cdef int other
    for a in arrays:
        if a is None:
            continue
        other = dtype_code(a)
        if code == -1:
            code = other
        elif other != code:
            raise TypeError(f"kernel arrays must share one dtype, got {a.dtype} after code {code}")
    return code


cdef inline object expect_size(object array, Py_ssize_t size, str what):
    if array.size != size:
        raise ValueError(f"{what}: expected {size} elements, got shape {array.shape}")
    return array


cdef inline bint step_index(Py_ssize_t* index, const Py_ssize_t* shape, const Py_ssize_t* stride,
                            int ndim, Py_ssize_t* offset) noexcept nogil:
    """Advance a C-order multi-index over shape[0:ndim], moving offset along stride;
    False after the last position."""
    cdef int d = ndim - 1
    while d >= 0:
        index[d] += 1
        offset[0] += stride[d]
        if index[d] < shape[d]:
            return True
        offset[0] -= stride[d] * shape[d]
        index[d] = 0
        d -= 1
    return False
