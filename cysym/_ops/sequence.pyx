"""Sequence-family kernels: SequenceMask, SequenceLast and SequenceReverse, and the
gradients that are not the forward kernel again.

Data is seen as (d0, d1, rest) with the sequence on axis 0 (d0 steps of d1 sequences) or on
axis 1 (d1 steps of d0 sequences); `rest` contiguous elements move together.  Lengths are
float32 or float64 whatever the data's dtype, truncated toward zero as MXNet's cast does and
clipped into [0, steps] (MXNet reads outside the array for lengths out of range); a run
without lengths uses every step.  Each `append_*` function checks sizes with the GIL and
appends one native call.
"""
from libc.string cimport memset
from cysym._ops._blas cimport real
from cysym._ops._common cimport common_dtype, store, REQ_NULL, REQ_WRITE, REQ_ADD, req_code
from cysym._ops.runner cimport Plan, KernelCall, RunContext, dtype_code, kernel_fn


cdef inline Py_ssize_t _length(const char* lengths, int code, Py_ssize_t b,
                               Py_ssize_t steps) noexcept nogil:
    """The length of sequence b: all steps without lengths (code -1), else the value
    truncated toward zero and clipped into [0, steps] (NaN counts as 0)."""
    cdef double v
    if code < 0:
        return steps
    v = (<const float*>lengths)[b] if code == 0 else (<const double*>lengths)[b]
    if not v > 0:
        return 0
    if v >= <double>steps:
        return steps
    return <Py_ssize_t>v


cdef inline void _move(const real* src, real* dst, Py_ssize_t n, int req) noexcept nogil:
    """dst[:n] = src[:n] (req write) or dst[:n] += src[:n] (req add)."""
    cdef Py_ssize_t i
    if req == REQ_ADD:
        for i in range(n):
            dst[i] += src[i]
    elif dst != src:
        for i in range(n):
            dst[i] = src[i]


# ---------------------------------------------------------------------------------------------
# SequenceMask (its gradient is the same mask with value 0 on the output gradient)

cdef void _sequence_mask(KernelCall* c, real* dummy) noexcept nogil:
    # arrays: x, lengths (x when there are none), y; ints: d0, d1, rest, axis, length_code
    # (-1: no lengths), req
    # floats: value
    cdef Py_ssize_t d0 = c.ints[0], d1 = c.ints[1], rest = c.ints[2], a, b, r, offset
    cdef int axis = <int>c.ints[3], code = <int>c.ints[4], req = <int>c.ints[5]
    cdef const real* x = <real*>c.arrays[0]
    cdef real* y = <real*>c.arrays[2]
    cdef double value = c.floats[0]
    cdef Py_ssize_t steps = d0 if axis == 0 else d1
    for a in range(d0):
        for b in range(d1):
            offset = (a * d1 + b) * rest
            # step a of sequence b (axis 0), or step b of sequence a (axis 1)
            if (a if axis == 0 else b) >= _length(c.arrays[1], code, b if axis == 0 else a, steps):
                for r in range(rest):
                    store(y, offset + r, value, req)
            else:
                _move(x + offset, y + offset, rest, req)


cdef void sequence_mask_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    if c.dtype == 0:
        _sequence_mask(c, <float*>NULL)
    else:
        _sequence_mask(c, <double*>NULL)


def _layout(data, lengths, int axis, str label):
    """(d0, d1, rest, sequences, steps) of data, after checking the lengths against it."""
    if data.ndim < 2:
        raise ValueError(f"{label}: data must have at least two axes, got shape {data.shape}")
    if axis not in (0, 1):
        raise ValueError(f"{label}: axis must be 0 or 1, not {axis}")
    d0, d1 = data.shape[0], data.shape[1]
    rest = data.size // (d0 * d1) if d0 * d1 else 0
    sequences, steps = (d1, d0) if axis == 0 else (d0, d1)
    if lengths is not None and (lengths.ndim != 1 or lengths.shape[0] != sequences):
        raise ValueError(f"{label}: sequence_length has shape {lengths.shape}; data {data.shape} "
                         f"with the sequence on axis {axis} needs ({sequences},)")
    return d0, d1, rest, sequences, steps


def _lengths(lengths, x):
    """(array, dtype code) of the lengths argument; without lengths x stands in, never read,
    with code -1."""
    if lengths is None:
        return x, -1
    return lengths, dtype_code(lengths)


def append_sequence_mask(Plan plan, x, lengths, y, int axis=0, double value=0.0,
                         str req="write", str label="SequenceMask"):
    """y = x with every step at or after its sequence's length set to value (lengths None:
    y = x).  y may be x."""
    code = req_code(req, label)
    if tuple(x.shape) != tuple(y.shape):
        raise ValueError(f"{label}: output shape {y.shape} is not the data's {x.shape}")
    d0, d1, rest, _, _ = _layout(x, lengths, axis, label)
    if code == REQ_NULL or x.size == 0:
        return
    array, length_code = _lengths(lengths, x)
    plan.add(sequence_mask_kernel, common_dtype([x, y]), [x, array, y],
             [d0, d1, rest, axis, length_code, code], [value], label)


# ---------------------------------------------------------------------------------------------
# SequenceLast and its gradient

cdef inline Py_ssize_t _last_offset(const char* lengths, int code, Py_ssize_t s,
                                    Py_ssize_t steps, Py_ssize_t d1, Py_ssize_t rest,
                                    int axis) noexcept nogil:
    """Offset of the last step inside sequence s (the first one for a length of 0)."""
    cdef Py_ssize_t step = _length(lengths, code, s, steps) - 1
    if step < 0:
        step = 0
    return ((step * d1 + s) if axis == 0 else (s * d1 + step)) * rest


cdef void _sequence_last(KernelCall* c, real* dummy) noexcept nogil:
    # arrays: x, lengths, y (sequences, rest); ints: d0, d1, rest, axis, length_code, req
    cdef Py_ssize_t d0 = c.ints[0], d1 = c.ints[1], rest = c.ints[2], s
    cdef int axis = <int>c.ints[3], code = <int>c.ints[4], req = <int>c.ints[5]
    cdef Py_ssize_t sequences = d1 if axis == 0 else d0, steps = d0 if axis == 0 else d1
    cdef const real* x = <real*>c.arrays[0]
    cdef real* y = <real*>c.arrays[2]
    for s in range(sequences):
        _move(x + _last_offset(c.arrays[1], code, s, steps, d1, rest, axis), y + s * rest, rest,
              req)


cdef void sequence_last_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    if c.dtype == 0:
        _sequence_last(c, <float*>NULL)
    else:
        _sequence_last(c, <double*>NULL)


cdef void _sequence_last_backward(KernelCall* c, real* dummy) noexcept nogil:
    # arrays: data_grad, lengths, out_grad (sequences, rest); ints as _sequence_last
    cdef Py_ssize_t d0 = c.ints[0], d1 = c.ints[1], rest = c.ints[2], s
    cdef int axis = <int>c.ints[3], code = <int>c.ints[4], req = <int>c.ints[5]
    cdef Py_ssize_t sequences = d1 if axis == 0 else d0, steps = d0 if axis == 0 else d1
    cdef real* dx = <real*>c.arrays[0]
    cdef const real* dy = <real*>c.arrays[2]
    if req == REQ_WRITE:
        memset(dx, 0, d0 * d1 * rest * sizeof(real))
    for s in range(sequences):
        _move(dy + s * rest, dx + _last_offset(c.arrays[1], code, s, steps, d1, rest, axis), rest,
              REQ_ADD)


cdef void sequence_last_backward_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    if c.dtype == 0:
        _sequence_last_backward(c, <float*>NULL)
    else:
        _sequence_last_backward(c, <double*>NULL)


cdef _append_last(kernel_fn kernel, Plan plan, data, lengths, picked, int axis, str req,
                  str label):
    """Append a SequenceLast forward or backward call on arrays [data (or its gradient),
    lengths, picked steps (the output, or its gradient)]."""
    code = req_code(req, label)
    d0, d1, rest, sequences, steps = _layout(data, lengths, axis, label)
    if picked.size != sequences * rest:
        raise ValueError(f"{label}: shape {picked.shape} is not data {data.shape} without its "
                         f"sequence axis {axis}")
    if steps == 0 and picked.size:
        raise ValueError(f"{label}: data {data.shape} has no steps on axis {axis}")
    if code == REQ_NULL or data.size == 0:
        return
    array, length_code = _lengths(lengths, data)
    plan.add(kernel, common_dtype([data, picked]), [data, array, picked],
             [d0, d1, rest, axis, length_code, code], [], label)


def append_sequence_last(Plan plan, x, lengths, y, int axis=0, str req="write",
                         str label="SequenceLast"):
    """y[s] = x at the last step of sequence s (step length - 1; a length of 0 reads step 0)."""
    _append_last(sequence_last_kernel, plan, x, lengths, y, axis, req, label)


def append_sequence_last_backward(Plan plan, out_grad, lengths, data_grad, int axis=0,
                                  str req="write", str label="_backward_SequenceLast"):
    """data_grad = 0 (req 'write'), then out_grad[s] is added at the step SequenceLast read."""
    _append_last(sequence_last_backward_kernel, plan, data_grad, lengths, out_grad, axis, req,
                 label)


# ---------------------------------------------------------------------------------------------
# SequenceReverse (sequence on axis 0; its own adjoint, so its gradient is the same kernel)

cdef void _sequence_reverse(KernelCall* c, real* dummy) noexcept nogil:
    # arrays: x, lengths, y; ints: steps, sequences, rest, length_code, req
    cdef Py_ssize_t steps = c.ints[0], sequences = c.ints[1], rest = c.ints[2], s, t, n
    cdef int code = <int>c.ints[3], req = <int>c.ints[4]
    cdef const real* x = <real*>c.arrays[0]
    cdef real* y = <real*>c.arrays[2]
    for s in range(sequences):
        n = _length(c.arrays[1], code, s, steps)
        for t in range(steps):
            # y[n - 1 - t, s] = x[t, s] inside the sequence; steps after it stay in place
            _move(x + (t * sequences + s) * rest,
                  y + ((n - 1 - t if t < n else t) * sequences + s) * rest, rest, req)


cdef void sequence_reverse_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    if c.dtype == 0:
        _sequence_reverse(c, <float*>NULL)
    else:
        _sequence_reverse(c, <double*>NULL)


def append_sequence_reverse(Plan plan, x, lengths, y, str req="write",
                            str label="SequenceReverse"):
    """y[:n, s] = x[:n, s][::-1] with n the length of sequence s; later steps are copied.
    y must not be x."""
    code = req_code(req, label)
    if tuple(x.shape) != tuple(y.shape):
        raise ValueError(f"{label}: output shape {y.shape} is not the data's {x.shape}")
    steps, sequences, rest, _, _ = _layout(x, lengths, 0, label)
    if code == REQ_NULL or x.size == 0:
        return
    array, length_code = _lengths(lengths, x)
    plan.add(sequence_reverse_kernel, common_dtype([x, y]), [x, array, y],
             [steps, sequences, rest, length_code, code], [], label)
