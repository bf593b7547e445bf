# Index arrays of the sorting and gathering kernels (sort.pyx, gather.pyx), read and written
# through a dtype code: one loop serves the float32/float64 indices that MXNet graphs carry
# and the int32/int64 ones MXNet also accepts.
from libc.stdint cimport int32_t, int64_t
from cysym._ops._common cimport REQ_ADD, REQ_WRITE

cdef enum:
    INDEX_FLOAT32 = 0
    INDEX_FLOAT64 = 1
    INDEX_INT32 = 2
    INDEX_INT64 = 3


cdef inline int index_code(object array, str label, str what) except -1:
    """The code of an index array's dtype; an error naming the kernel and the array otherwise."""
    dtype = array.dtype
    if dtype.isnative:
        if dtype.kind == "f" and dtype.itemsize in (4, 8):
            return INDEX_FLOAT32 if dtype.itemsize == 4 else INDEX_FLOAT64
        if dtype.kind == "i" and dtype.itemsize in (4, 8):
            return INDEX_INT32 if dtype.itemsize == 4 else INDEX_INT64
    raise TypeError(f"{label}: {what} must be float32, float64, int32 or int64, not {dtype}")


cdef inline double read_index(const char* data, int code, Py_ssize_t i) noexcept nogil:
    """Element i of an index array, as a double (exact for every index an array can hold)."""
    if code == INDEX_FLOAT32:
        return (<const float*>data)[i]
    if code == INDEX_FLOAT64:
        return (<const double*>data)[i]
    if code == INDEX_INT32:
        return (<const int32_t*>data)[i]
    return <double>(<const int64_t*>data)[i]


cdef inline void store_index(char* data, int code, Py_ssize_t i, Py_ssize_t value,
                             int req) noexcept nogil:
    """data[i] = value ('write') or data[i] += value ('add') in the array's dtype."""
    if code == INDEX_FLOAT32:
        if req == REQ_ADD:
            (<float*>data)[i] += <float>value
        elif req == REQ_WRITE:
            (<float*>data)[i] = <float>value
    elif code == INDEX_FLOAT64:
        if req == REQ_ADD:
            (<double*>data)[i] += <double>value
        elif req == REQ_WRITE:
            (<double*>data)[i] = <double>value
    elif code == INDEX_INT32:
        if req == REQ_ADD:
            (<int32_t*>data)[i] += <int32_t>value
        elif req == REQ_WRITE:
            (<int32_t*>data)[i] = <int32_t>value
    elif req == REQ_ADD:
        (<int64_t*>data)[i] += <int64_t>value
    elif req == REQ_WRITE:
        (<int64_t*>data)[i] = <int64_t>value
