# The one place that knows how many threads a kernel may use, and that holds the BLAS library
# to one thread while cysym's own threads call it (two thread pools on two cores thrash).

cdef extern from "_omp.h" nogil:
    int omp_in_parallel()
    int omp_get_thread_num()

cdef int count() noexcept nogil
cdef bint deterministic() noexcept nogil
cdef int hold_blas() noexcept nogil
cdef void release_blas(int held) noexcept nogil
cdef bint blas_small_gemm() noexcept nogil


cdef inline Py_ssize_t split_point(Py_ssize_t length, int parts, int part,
                                   Py_ssize_t unit) noexcept nogil:
    """Where part `part` of `parts` near-equal parts of `length`, cut at multiples of `unit`,
    begins (part == parts: the end)."""
    cdef Py_ssize_t units = (length + unit - 1) // unit
    cdef Py_ssize_t start = (units * part // parts) * unit
    return start if start < length else length


# Elements a loop touches below which it runs on one thread (waking a second costs more).
cdef enum:
    MIN_SPLIT_WORK = 1 << 15


cdef inline int parts_for(double work) noexcept nogil:
    """How many parts to split a loop touching `work` elements into: the kernel threads, or
    one for small loops and inside a parallel region."""
    cdef int parts = count()
    if parts <= 1 or work < MIN_SPLIT_WORK or omp_in_parallel():
        return 1
    return parts
