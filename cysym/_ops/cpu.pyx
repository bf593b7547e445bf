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


def runs(str build):
    """True when this CPU and OS run the instructions of a wide build: 'avx2' (AVX2 and FMA,
    x86-64 since 2013-2015)."""
    if build == "avx2":
        return bool(cysym_has_avx2_fma())
    raise ValueError(f"unknown build {build!r}: expected 'avx2'")
