# What a bind-time fusion (cysym/fusion.py) moves into a convolution's output loop: a
# per-channel scale (an inference BatchNorm's; the shift travels as the bias) and an activation,
# computed exactly as the operator it replaces: relu as `relu` (x > 0 ? x : 0, so NaN gives 0),
# clip as `clip` (NaN stays NaN).  A kernel takes the activation as three floats after its own
# (act, lo, hi) and the scale as one array after its own.
from cysym._ops._blas cimport real
from cysym._ops.runner cimport KernelCall

cdef enum:
    ACT_NONE = 0
    ACT_RELU = 1
    ACT_CLIP = 2


cdef struct Epilogue:
    int act
    double lo
    double hi
    const char* scale        # per output channel, the kernel's dtype; NULL: 1


cdef inline Epilogue epilogue_of(KernelCall* c, int first_float, int scale_array) noexcept nogil:
    """The epilogue in c.floats[first_float:first_float + 3] and c.arrays[scale_array] (each
    absent when the call has fewer)."""
    cdef Epilogue e
    e.act = ACT_NONE
    e.lo = 0
    e.hi = 0
    e.scale = NULL
    if c.n_floats >= first_float + 3:
        e.act = <int>c.floats[first_float]
        e.lo = c.floats[first_float + 1]
        e.hi = c.floats[first_float + 2]
    if c.n_arrays > scale_array:
        e.scale = c.arrays[scale_array]
    return e


cdef inline bint is_identity(const Epilogue* e) noexcept nogil:
    return e.act == ACT_NONE and e.scale == NULL


cdef inline real activate(real v, const Epilogue* e) noexcept nogil:
    if e.act == ACT_RELU:
        return v if v > 0 else <real>0
    if e.act == ACT_CLIP:
        return <real>e.lo if v < <real>e.lo else (<real>e.hi if v > <real>e.hi else v)
    return v


cdef inline void finish_copy(real* dst, const real* src, Py_ssize_t n, real scale, real bias,
                             const Epilogue* e) noexcept nogil:
    """dst[:n] = act(src[:n] * scale + bias) (dst may be src); a loop per activation, so that
    each vectorizes."""
    cdef Py_ssize_t i
    cdef real v
    cdef real lo = <real>e.lo
    cdef real hi = <real>e.hi
    if e.act == ACT_RELU:
        for i in range(n):
            v = src[i] * scale + bias
            dst[i] = v if v > 0 else <real>0
    elif e.act == ACT_CLIP:
        for i in range(n):
            v = src[i] * scale + bias
            dst[i] = lo if v < lo else (hi if v > hi else v)
    elif scale != 1:
        for i in range(n):
            dst[i] = src[i] * scale + bias
    elif bias != 0 or dst != src:
        for i in range(n):
            dst[i] = src[i] + bias


cdef inline void finish_row(real* r, Py_ssize_t n, real scale, real bias,
                            const Epilogue* e) noexcept nogil:
    """r[:n] = act(r[:n] * scale + bias)."""
    finish_copy(r, r, n, scale, bias, e)


cdef inline list epilogue_floats(activation, int req, str label):
    """A kernel's epilogue floats for `activation`: None, ('relu',) or ('clip', a_min, a_max).
    Only a fresh write is activated: act(y + conv) is not y + act(conv)."""
    if activation is None:
        return []
    if req != 1:     # REQ_WRITE
        raise ValueError(f"{label}: a fused activation needs req 'write'")
    if activation[0] == "relu" and len(activation) == 1:
        return [ACT_RELU, 0.0, 0.0]
    if activation[0] == "clip" and len(activation) == 3:
        return [ACT_CLIP, float(activation[1]), float(activation[2])]
    raise ValueError(f"{label}: unknown fused activation {activation!r}")


cdef inline list fused_scale(scale, Py_ssize_t channels, str req, str label):
    """The arrays a kernel appends for a fused per-channel `scale` (None: none)."""
    if scale is None:
        return []
    if req != "write":
        raise ValueError(f"{label}: a fused scale needs req 'write'")
    if tuple(scale.shape) != (channels,):
        raise ValueError(f"{label}: the fused scale has shape {tuple(scale.shape)}, expected "
                         f"({channels},)")
    return [scale]
