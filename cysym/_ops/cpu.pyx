"""What this CPU can run, so that cysym._ops.load picks the fastest build of a kernel module."""

cdef extern from *:
    """
    /* CPUID's feature bits for AVX2 and FMA, and XGETBV to ask the OS whether it saves the YMM
       registers across context switches (the bits alone do not say so); one spelling per
       compiler family: GCC/Clang/MinGW (cpuid.h, inline asm) and MSVC (intrinsics). */
    #if defined(_MSC_VER) && (defined(_M_X64) || defined(_M_IX86))
    #include <intrin.h>
    #define CYSYM_X86 1
    static void cysym_cpuid(unsigned leaf, unsigned r[4]) {
        int v[4];
        __cpuidex(v, (int)leaf, 0);
        r[0] = (unsigned)v[0]; r[1] = (unsigned)v[1]; r[2] = (unsigned)v[2]; r[3] = (unsigned)v[3];
    }
    static unsigned long long cysym_xgetbv0(void) { return _xgetbv(0); }
    #elif defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
    #include <cpuid.h>
    #define CYSYM_X86 1
    static void cysym_cpuid(unsigned leaf, unsigned r[4]) {
        __cpuid_count(leaf, 0, r[0], r[1], r[2], r[3]);
    }
    static unsigned long long cysym_xgetbv0(void) {
        unsigned lo, hi;
        __asm__ volatile ("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
        return ((unsigned long long)hi << 32) | lo;
    }
    #else
    #define CYSYM_X86 0
    #endif

    static int cysym_has_avx2_fma(void) {
    #if CYSYM_X86
        unsigned r[4];
        cysym_cpuid(0, r);
        if (r[0] < 7) return 0;
        cysym_cpuid(1, r);
        /* ECX: FMA (12), OSXSAVE (27: XGETBV is there), AVX (28) */
        if ((r[2] & (1u << 12 | 1u << 27 | 1u << 28)) != (1u << 12 | 1u << 27 | 1u << 28)) return 0;
        if ((cysym_xgetbv0() & 6) != 6) return 0;   /* the OS saves XMM (bit 1) and YMM (bit 2) */
        cysym_cpuid(7, r);
        return (r[1] >> 5) & 1;                        /* EBX bit 5: AVX2 */
    #else
        return 0;
    #endif
    }

    static int cysym_has_avx512(void) {
    #if CYSYM_X86
        unsigned r[4];
        /* EBX of leaf 7: AVX512F (16), DQ (17), BW (30), VL (31) */
        const unsigned wanted = 1u << 16 | 1u << 17 | 1u << 30 | 1u << 31;
        if (!cysym_has_avx2_fma()) return 0;
        /* the OS saves the opmask (bit 5) and all 512-bit registers (bits 6, 7) too */
        if ((cysym_xgetbv0() & 0xe0) != 0xe0) return 0;
        cysym_cpuid(7, r);
        return (r[1] & wanted) == wanted;
    #else
        return 0;
    #endif
    }
    """
    int cysym_has_avx2_fma() noexcept nogil
    int cysym_has_avx512() noexcept nogil


def runs(str build):
    """True when this CPU and OS run the instructions of a wide build: 'avx2' (AVX2 and FMA,
    x86-64 since 2013-2015) or 'avx512' (AVX-512 F, DQ, BW and VL besides)."""
    if build == "avx2":
        return bool(cysym_has_avx2_fma())
    if build == "avx512":
        return bool(cysym_has_avx512())
    raise ValueError(f"unknown build {build!r}: expected 'avx2' or 'avx512'")
