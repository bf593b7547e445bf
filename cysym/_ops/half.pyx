"""float16 <-> float32 conversion, for the bind-time pass that stores float16 entries and runs
the operators without a float16 kernel in float32 (cysym/float16.py).

float32 -> float16 rounds to nearest, ties to even, as NumPy's `astype(np.float16)` and MXNet's
mshadow::half_t do (bit for bit over every float32 bit pattern's class: overflow to inf,
subnormals, NaN kept a NaN); float16 -> float32 is exact.  'add' accumulates in float32 and
rounds once, as MXNet's half_t `+=` does.
"""
from libc.stdint cimport uint16_t, uint32_t
from libc.string cimport memcpy
from cysym._ops._common cimport REQ_NULL, REQ_ADD, req_code
from cysym._ops.runner cimport Plan, KernelCall, RunContext

cdef enum:
    KIND_FLOAT32 = 0
    KIND_FLOAT16 = 1
    KIND_BYTES = 2      # any other dtype, copied as it is (req 'write' only)

# 2**-24, the value of float16's smallest subnormal
cdef float HALF_SUBNORMAL_UNIT = 5.9604644775390625e-08


cdef inline uint16_t float_to_half(float value) noexcept nogil:
    """NumPy's npy_floatbits_to_halfbits: round to nearest even."""
    cdef uint32_t f
    memcpy(&f, &value, 4)
    cdef uint32_t sign = (f & 0x80000000u) >> 16
    cdef uint32_t exponent = f & 0x7f800000u
    cdef uint32_t significand, nan
    if exponent >= 0x47800000u:
        significand = f & 0x007fffffu
        if exponent == 0x7f800000u and significand != 0:
            # NaN: keep the payload's high bits, and at least one of them
            nan = 0x7c00u + (significand >> 13)
            return <uint16_t>(sign + (nan if nan != 0x7c00u else 0x7c01u))
        return <uint16_t>(sign + 0x7c00u)      # inf, or beyond float16's range
    if exponent <= 0x38000000u:
        if exponent < 0x33000000u:
            return <uint16_t>sign                # below half the smallest subnormal
        # subnormal: the implicit bit made explicit, shifted by one more per missing exponent
        significand = (0x00800000u + (f & 0x007fffffu)) >> (113 - (exponent >> 23))
        # ties go to even; the shift may have dropped up to 11 bits, which break a tie
        if (significand & 0x00003fffu) != 0x00001000u or (f & 0x000007ffu):
            significand += 0x00001000u
        return <uint16_t>(sign + (significand >> 13))    # a carry makes the smallest normal
    significand = f & 0x007fffffu
    if (significand & 0x00003fffu) != 0x00001000u:
        significand += 0x00001000u
    # a carry out of the significand increments the exponent (to inf past the largest)
    return <uint16_t>(sign + ((exponent - 0x38000000u) >> 13) + (significand >> 13))


cdef inline float half_to_float(uint16_t h) noexcept nogil:
    """The float32 of float16 bits h (exact)."""
    cdef uint32_t sign = (<uint32_t>h & 0x8000u) << 16
    cdef uint32_t exponent = h & 0x7c00u
    cdef uint32_t f
    cdef float value
    if exponent == 0:        # zero or subnormal: significand * 2**-24, exact in float32
        value = <float>(h & 0x03ffu) * HALF_SUBNORMAL_UNIT
        return -value if sign else value
    if exponent == 0x7c00u:
        f = sign + 0x7f800000u + ((<uint32_t>h & 0x03ffu) << 13)
    else:
        f = sign + (((<uint32_t>h & 0x7fffu) + 0x1c000u) << 13)
    memcpy(&value, &f, 4)
    return value


cdef void convert_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    # arrays: src, dst; ints: n, src kind, dst kind, req, bytes per element (KIND_BYTES)
    cdef Py_ssize_t n = c.ints[0], i
    cdef int source = <int>c.ints[1], target = <int>c.ints[2], req = <int>c.ints[3]
    cdef const uint16_t* half_in = <const uint16_t*>c.arrays[0]
    cdef const float* float_in = <const float*>c.arrays[0]
    cdef uint16_t* half_out = <uint16_t*>c.arrays[1]
    cdef float* float_out = <float*>c.arrays[1]
    if source == target and req != REQ_ADD:
        memcpy(c.arrays[1], c.arrays[0], n * c.ints[4])
    elif target == KIND_FLOAT16:
        if req == REQ_ADD:
            if source == KIND_FLOAT16:
                for i in range(n):
                    half_out[i] = float_to_half(half_to_float(half_out[i]) + half_to_float(half_in[i]))
            else:
                for i in range(n):
                    half_out[i] = float_to_half(half_to_float(half_out[i]) + float_in[i])
        else:
            for i in range(n):
                half_out[i] = float_to_half(float_in[i])
    elif source == KIND_FLOAT16:
        if req == REQ_ADD:
            for i in range(n):
                float_out[i] += half_to_float(half_in[i])
        else:
            for i in range(n):
                float_out[i] = half_to_float(half_in[i])
    else:
        for i in range(n):
            float_out[i] += float_in[i]


cdef int _kind(array):
    dtype = array.dtype
    if dtype.isnative and dtype.kind == "f" and dtype.itemsize in (2, 4):
        return KIND_FLOAT16 if dtype.itemsize == 2 else KIND_FLOAT32
    return KIND_BYTES


def append_convert(Plan plan, src, dst, str req="write", str label="_float16_convert"):
    """dst = src.astype(dst.dtype) ('write') or dst += src ('add', in float32 then rounded to
    dst's dtype), for arrays of one size that are float16 or float32; arrays of one other dtype
    are copied ('write' only)."""
    code = req_code(req, label)
    if src.size != dst.size:
        raise ValueError(f"{label}: cannot convert {src.shape} into {dst.shape}")
    source, target = _kind(src), _kind(dst)
    if (source == KIND_BYTES or target == KIND_BYTES) and (src.dtype != dst.dtype or code == REQ_ADD):
        raise ValueError(f"{label}: converts float16 and float32 (and copies other dtypes), not "
                         f"{src.dtype} to {dst.dtype} with req {req!r}")
    if code == REQ_NULL or src.size == 0:
        return
    plan.add(convert_kernel, 0, [src, dst], [src.size, source, target, code, src.dtype.itemsize], [],
             label)
