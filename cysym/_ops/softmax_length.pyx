"""softmax with use_length=True: the softmax of the first length[o, i] elements along the axis,
zeros after them (MXNet's masked softmax for padded sequences).

An axis is addressed as (outer, n, inner), as in loss.pyx: element j of the softmax at (o, i)
sits at o * n * inner + j * inner + i, and its length at o * inner + i. Lengths are clipped
to [0, n] (MXNet reads past the row for a longer one). The backward is softmax's own: the
output's zeros make the masked elements' gradients zero.
"""
from libc.math cimport exp
from libc.stdint cimport int32_t, int64_t
from cysym._ops._blas cimport real
from cysym._ops._common cimport (common_dtype, numeric_code, store, req_code, REQ_NULL, DTYPE_INT32,
                                 DTYPE_INT64, DTYPE_FLOAT32, DTYPE_FLOAT64)
from cysym._ops.runner cimport Plan, KernelCall, RunContext
from cysym._ops.shape import axis_layout


cdef inline Py_ssize_t _length(char* lengths, int code, Py_ssize_t k, Py_ssize_t n) noexcept nogil:
    cdef double value
    if code == DTYPE_INT32:
        value = (<int32_t*>lengths)[k]
    elif code == DTYPE_INT64:
        value = <double>(<int64_t*>lengths)[k]
    elif code == DTYPE_FLOAT32:
        value = (<float*>lengths)[k]
    else:
        value = (<double*>lengths)[k]
    if value <= 0:
        return 0
    return n if value >= n else <Py_ssize_t>value


cdef void _softmax_length(real* x, char* lengths, real* y, Py_ssize_t outer, Py_ssize_t n,
                          Py_ssize_t inner, int length_code, double inv_temperature,
                          int req) noexcept nogil:
    cdef Py_ssize_t o, i, j, valid, base
    cdef double largest, total
    for o in range(outer):
        for i in range(inner):
            base = o * n * inner + i
            valid = _length(lengths, length_code, o * inner + i, n)
            largest = x[base] if valid else 0
            for j in range(1, valid):
                if x[base + j * inner] > largest:
                    largest = x[base + j * inner]
            total = 0
            for j in range(valid):
                total += exp((x[base + j * inner] - largest) * inv_temperature)
            # y may be x itself: every read of the row is done before the first write
            for j in range(valid):
                store(y, base + j * inner, exp((x[base + j * inner] - largest) * inv_temperature) / total, req)
            for j in range(valid, n):
                store(y, base + j * inner, 0.0, req)


cdef void softmax_length_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    # arrays: x, length, y; ints: outer, n, inner, length dtype code, req; floats: 1/temperature
    if c.dtype == 0:
        _softmax_length(<float*>c.arrays[0], c.arrays[1], <float*>c.arrays[2], c.ints[0], c.ints[1],
                        c.ints[2], <int>c.ints[3], c.floats[0], <int>c.ints[4])
    else:
        _softmax_length(<double*>c.arrays[0], c.arrays[1], <double*>c.arrays[2], c.ints[0], c.ints[1],
                        c.ints[2], <int>c.ints[3], c.floats[0], <int>c.ints[4])


def append_softmax_length(Plan plan, x, length, y, int axis=-1, double temperature=1.0, str req="write",
                          str label="softmax"):
    """Append y (=|+=) softmax(x / temperature) along axis over the first length elements of each
    row, zeros after them; length has x's shape without the axis (int32, int64, float32 or
    float64). y may be x."""
    code = req_code(req, label)
    if x.shape != y.shape:
        raise ValueError(f"{label}: input {x.shape} and output {y.shape} differ")
    if not -x.ndim <= axis < x.ndim:
        raise ValueError(f"{label}: axis {axis} is out of range for shape {x.shape}")
    expected = x.shape[:axis % x.ndim] + x.shape[axis % x.ndim + 1:]
    if length.shape != expected:
        raise ValueError(f"{label}: length has shape {length.shape}, expected {expected}")
    if temperature == 0:
        raise ValueError(f"{label}: temperature must not be 0")
    length_code = numeric_code(length)
    if length_code not in (DTYPE_INT32, DTYPE_INT64, DTYPE_FLOAT32, DTYPE_FLOAT64):
        raise TypeError(f"{label}: length must be int32, int64, float32 or float64, not {length.dtype}")
    if code == REQ_NULL or x.size == 0:
        return
    outer, n, inner = axis_layout(x.shape, axis % x.ndim)
    plan.add(softmax_length_kernel, common_dtype([x, y]), [x, length, y],
             [outer, n, inner, length_code, code], [1.0 / temperature], label)
