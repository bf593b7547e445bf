"""What this CPU can run, so that cysym._ops.load picks the fastest build of a kernel module."""

cdef extern from *:
    """
    /* libgcc's check also asks the OS (XGETBV) whether it saves the wide registers */
    static int cysym_has_avx2_fma(void) {
    #if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    #else
        return 0;
    #endif
    }
    """
    int cysym_has_avx2_fma() noexcept nogil


def has_avx2_fma():
    """True when this CPU and OS run AVX2 and FMA instructions (x86-64 since 2013-2015)."""
    return bool(cysym_has_avx2_fma())
