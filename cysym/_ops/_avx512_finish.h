/* What conv.pyx's AVX-512 blocks share (_depthwise_rows.h, _filter_lanes.h, _conv3x3_block.h,
   and through _vec.h _pointwise_block.h): masks of lane ranges and of the 3x3 kernels' flat
   planes, and the finish of a vector of outputs (conv.pyx's finish_copy and its req add, 16
   outputs at a time). */
#ifndef CYSYM_AVX512_FINISH_H
#define CYSYM_AVX512_FINISH_H
#include <immintrin.h>
#include "_vec.h"       /* CYSYM_UNROLLED */

/* lanes lo <= k < hi of a vector (none when hi <= lo) */
static inline __mmask16 cysym_lane_range(Py_ssize_t lo, Py_ssize_t hi) {
    if (lo < 0) lo = 0;
    if (hi > 16) hi = 16;
    if (hi <= lo) return 0;
    return (__mmask16)(((1u << hi) - 1u) & ~((1u << lo) - 1u));
}

/* The masks of a plane that a 3x3 kernel at stride 1 with one column of padding each side
   (output rows as wide as x's) takes the flat way: its Ho x Wo output pixels as one run of
   `vectors` vectors of 16, tap (i, j) of pixel p reading x[p + (i - ph) W + j - 1].
   masks[v][3 i + j]: the pixels of vector v whose tap (i, j) is inside x (H x W); masks[v][9]:
   the lanes of vector v that are output pixels. */
static void cysym_flat_masks(__mmask16 (*masks)[10], Py_ssize_t vectors, Py_ssize_t H,
                             Py_ssize_t W, Py_ssize_t ph, Py_ssize_t Ho, Py_ssize_t Wo) {
    for (Py_ssize_t v = 0; v < vectors; v++) {
        for (int n = 0; n < 10; n++) masks[v][n] = 0;
        for (int l = 0; l < 16 && v * 16 + l < Ho * Wo; l++) {
            Py_ssize_t oh = (v * 16 + l) / Wo, ow = (v * 16 + l) % Wo;
            masks[v][9] |= (__mmask16)(1u << l);
            for (int t = 0; t < 9; t++)
                if (oh + t / 3 - ph >= 0 && oh + t / 3 - ph < H && ow + t % 3 - 1 >= 0
                        && ow + t % 3 - 1 < W)
                    masks[v][t] |= (__mmask16)(1u << l);
        }
    }
}

/* add: old + (sums + bias); else act(sums * scale + bias) (act 0: none, 1: relu, 2: clip to
   lo .. hi) */
CYSYM_UNROLLED __m512 cysym_finished(__m512 old, __m512 sums, int add, __m512 scale,
                                     __m512 bias, int act, __m512 lo, __m512 hi) {
    __m512 v;
    if (add)
        return _mm512_add_ps(old, _mm512_add_ps(sums, bias));
    v = _mm512_fmadd_ps(sums, scale, bias);
    if (act == 1) {
        /* max returns its second operand for NaN: relu's NaN -> 0 */
        v = _mm512_max_ps(v, _mm512_setzero_ps());
    } else if (act == 2) {
        __mmask16 below = _mm512_cmp_ps_mask(v, lo, _CMP_LT_OQ);
        __mmask16 above = _mm512_cmp_ps_mask(v, hi, _CMP_GT_OQ) & ~below;
        v = _mm512_mask_blend_ps(above, v, hi);
        v = _mm512_mask_blend_ps(below, v, lo);
    }
    return v;
}

/* y[lanes of out] = act(sums * scale + bias), or with add: y += sums + bias */
CYSYM_UNROLLED void cysym_finish(float* y, __mmask16 out, __m512 sums, int add, __m512 scale,
                                 __m512 bias, int act, __m512 lo, __m512 hi) {
    __m512 old = add ? _mm512_maskz_loadu_ps(out, y) : _mm512_setzero_ps();
    _mm512_mask_storeu_ps(y, out, cysym_finished(old, sums, add, scale, bias, act, lo, hi));
}
#endif
