# Helpers shared by the kernel families: their append_ functions (bind time, with the GIL)
# and their loops.
from libc.stdint cimport int32_t, int64_t
from cysym._ops._blas cimport real
from cysym._ops.runner cimport dtype_code

# KernelCall.dtype of the kernels that take integer arrays too (numeric_dtype); the float-only
# kernels see runner.dtype_code's 0 and 1, which these codes keep
cdef enum:
    DTYPE_FLOAT32 = 0
    DTYPE_FLOAT64 = 1
    DTYPE_INT32 = 2
    DTYPE_INT64 = 3
    DTYPE_UINT8 = 4
    DTYPE_INT8 = 5

# the element types of kernels that compute in integers too
ctypedef fused number:
    float
    double
    int32_t
    int64_t

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


cdef inline object scratch(object workspace, Py_ssize_t size, object dtype):
    """`size` elements of `dtype` at the start of a kernel's planned workspace (a uint8 array),
    or a private array when no workspace was planned (kernels called directly)."""
    from numpy import dtype as as_dtype, empty, uint8
    dtype = as_dtype(dtype)
    if workspace is not None and workspace.dtype == uint8 and workspace.nbytes >= size * dtype.itemsize:
        return workspace[:size * dtype.itemsize].view(dtype)
    return empty(max(size, 1), dtype)


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


cdef inline int numeric_code(object array) except -1:
    """The DTYPE_* code of one array's dtype (native float32/64, int32/64, uint8, int8)."""
    dtype = array.dtype
    if dtype.isnative:
        if dtype.kind == "f" and dtype.itemsize in (4, 8):
            return DTYPE_FLOAT32 if dtype.itemsize == 4 else DTYPE_FLOAT64
        if dtype.kind == "i" and dtype.itemsize in (4, 8):
            return DTYPE_INT32 if dtype.itemsize == 4 else DTYPE_INT64
        if dtype.itemsize == 1 and dtype.kind in "iu":
            return DTYPE_INT8 if dtype.kind == "i" else DTYPE_UINT8
    raise TypeError(f"kernel arrays must be float32, float64, int32, int64, uint8 or int8, "
                    f"not {dtype}")


cdef inline int numeric_dtype(list arrays) except -1:
    """The DTYPE_* code shared by every array (None entries are skipped)."""
    cdef int code = -1
    cdef int other
    for a in arrays:
        if a is None:
            continue
        other = numeric_code(a)
        if code == -1:
            code = other
        elif other != code:
            raise TypeError(f"kernel arrays must share one dtype, got {a.dtype} after code {code}")
    return code


cdef inline int move_dtype(list arrays, int req, str label) except -1:
    """The float code (0 or 1) under which a kernel that only moves elements (a copy, gather,
    concatenation or split) handles these arrays: int32 and int64 move as the float of their
    width, whose loads and stores copy bits unchanged.  Accumulating (req 'add') is arithmetic,
    which integer arrays refuse."""
    cdef int code = numeric_dtype(arrays)
    if code == DTYPE_FLOAT32 or code == DTYPE_FLOAT64:
        return code
    if req == REQ_ADD or code == DTYPE_UINT8 or code == DTYPE_INT8:
        for a in arrays:
            if a is not None:
                raise TypeError(f"{label}: {'accumulating' if req == REQ_ADD else 'moving'} "
                                f"{a.dtype} arrays is not supported")
    return DTYPE_FLOAT32 if code == DTYPE_INT32 else DTYPE_FLOAT64
