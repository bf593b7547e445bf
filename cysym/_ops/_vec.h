/* The vector of a wide build, for the kernels written once for AVX-512 and AVX2 + FMA
   (_pointwise_block.h): its type, lanes and masks of lanes, and the finish of a vector of
   outputs (conv.pyx's finish_copy and its req add).  CYSYM_VEC is 0 in the portable build.  Also
   the inlining that the blocks' unrolled loops need (_avx512_finish.h includes this file for it;
   either may be included first). */
#ifndef CYSYM_VEC_H
#define CYSYM_VEC_H

/* the blocks' loops are unrolled for constant block sizes and kinds: with the loop indices
   known, their weights and sums stay in registers */
#if defined(_MSC_VER)
#define CYSYM_UNROLLED static __forceinline
#else
#define CYSYM_UNROLLED static inline __attribute__((always_inline))
#endif

#if defined(__AVX512F__)
#include <immintrin.h>
#include "_avx512_finish.h"
#define CYSYM_VEC 1
#define CYSYM_VL 16
typedef __m512 cysym_vf;
typedef __mmask16 cysym_vmask;
#define cysym_vzero() _mm512_setzero_ps()
#define cysym_vset1(a) _mm512_set1_ps(a)
#define cysym_vfmadd(a, b, c) _mm512_fmadd_ps(a, b, c)
#define cysym_vloadu(p) _mm512_loadu_ps(p)
#define cysym_vmaskload(p, m) _mm512_maskz_loadu_ps(m, p)
/* lanes 0 <= k < n of a vector */
#define cysym_vlanes(n) cysym_lane_range(0, n)
/* y[lanes of m, or all with masked 0] = act(sums * scale + bias), or with add: y += sums + bias */
#define cysym_vfinish(y, masked, m, ...) \
    cysym_finish(y, (masked) ? (m) : (__mmask16)0xFFFF, __VA_ARGS__)

#elif defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define CYSYM_VEC 1
#define CYSYM_VL 8
typedef __m256 cysym_vf;
typedef __m256i cysym_vmask;      /* a lane is in where its 32 bits are all ones */
#define cysym_vzero() _mm256_setzero_ps()
#define cysym_vset1(a) _mm256_set1_ps(a)
#define cysym_vfmadd(a, b, c) _mm256_fmadd_ps(a, b, c)
#define cysym_vloadu(p) _mm256_loadu_ps(p)
/* masked-off lanes are neither read (no fault past an array's end) nor written */
#define cysym_vmaskload(p, m) _mm256_maskload_ps(p, m)

static inline __m256i cysym_vlanes(Py_ssize_t n) {
    if (n < 0) n = 0;
    if (n > 8) n = 8;
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* as _avx512_finish.h's cysym_finished: relu takes NaN to 0, clip keeps it */
CYSYM_UNROLLED __m256 cysym_vfinished(__m256 old, __m256 sums, int add, __m256 scale,
                                      __m256 bias, int act, __m256 lo, __m256 hi) {
    __m256 v;
    if (add)
        return _mm256_add_ps(old, _mm256_add_ps(sums, bias));
    v = _mm256_fmadd_ps(sums, scale, bias);
    if (act == 1) {
        v = _mm256_max_ps(v, _mm256_setzero_ps());
    } else if (act == 2) {
        __m256 below = _mm256_cmp_ps(v, lo, _CMP_LT_OQ);
        __m256 above = _mm256_andnot_ps(below, _mm256_cmp_ps(v, hi, _CMP_GT_OQ));
        v = _mm256_blendv_ps(v, hi, above);
        v = _mm256_blendv_ps(v, lo, below);
    }
    return v;
}

/* whole vectors stored plainly: AVX2's masked store costs several times a plain one */
CYSYM_UNROLLED void cysym_vfinish(float* y, int masked, __m256i m, __m256 sums, int add,
                                  __m256 scale, __m256 bias, int act, __m256 lo, __m256 hi) {
    __m256 old = !add ? _mm256_setzero_ps() : masked ? _mm256_maskload_ps(y, m)
                                                     : _mm256_loadu_ps(y);
    __m256 v = cysym_vfinished(old, sums, add, scale, bias, act, lo, hi);
    if (masked)
        _mm256_maskstore_ps(y, m, v);
    else
        _mm256_storeu_ps(y, v);
}

#else
#define CYSYM_VEC 0
#endif
#endif
