# libm's exp and log at the data's precision (expf for float32 data, exp for float64): the calls
# MXNet's kernels make, for the kernels that reproduce its numbers bit for bit (hawkes.pyx,
# multibox.pyx); _math.pxd's vectorizable versions may differ from libm in the last bit.
from libc.math cimport exp, expf, log, logf
from cysym._ops._blas cimport real


cdef inline real libm_exp(real x) noexcept nogil:
    if real is float:
        return expf(x)
    else:
        return exp(x)


cdef inline real libm_log(real x) noexcept nogil:
    if real is float:
        return logf(x)
    else:
        return log(x)
