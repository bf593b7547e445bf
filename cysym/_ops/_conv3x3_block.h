/* The forward of a 3x3 convolution at stride 1 (one group, undilated; cysym/_ops/conv.pyx,
   _conv3x3_forward) on small planes, float32 in the AVX-512 build, without im2col or OpenBLAS:
   the plane's output pixels as one run of 4 vectors, a block of 6 filters keeping its 24 sums in
   registers over all C inputs and nine taps, each tap's weight broadcast once for the 4 vectors,
   the block finished (bias, fused BatchNorm scale, activation) in the registers.  (Larger planes
   went through blocks of 4 rows x 16 columns here until the filter lanes, _filter_lanes.h,
   measured faster on every such layer.) */
#if defined(__AVX512F__)
#include "_avx512_finish.h"
#define CYSYM_CONV3X3_BLOCK 1
#define CYSYM_C3_FILTERS 6
#define CYSYM_C3_ROWS 4

/* a layer: input C x H x W, padding ph, pw, output F x Ho x Wo; the finish */
typedef struct {
    Py_ssize_t C, H, W, ph, pw, F, Ho, Wo;
    int add, act;
    __m512 lo, hi;
} cysym_c3_layer;

/* Small planes (at most 64 output pixels, rows as wide as x's: one column of padding each
   side) the flat way: the plane's output pixels as one run of 4 vectors whatever the row width
   (a 7-wide row would fill 7 lanes of 16), tap (i, j) of pixel p reading x[p + (i - ph) W + j -
   1], its lanes zeroed where that is in the padding (masks[v][3 i + j]; masks[v][9]: the lanes
   of vector v that are output pixels).  A whole plane is one block, so each weight is read once
   per sample (ResNet's 512->512 layers at 7x7 have 9.4 MB of them).  The loads are masked
   rather than the multiply-adds: with 36 masks in turn, masking every multiply-add ran at half
   the rate. */
CYSYM_UNROLLED void cysym_c3_flat_block(const float* x, const cysym_c3_layer* L,
                                        const float* w, const int NF,
                                        const __mmask16 masks[CYSYM_C3_ROWS][10], float* y,
                                        const float* scale, const float* bias) {
    __m512 acc[CYSYM_C3_FILTERS][CYSYM_C3_ROWS];
    Py_ssize_t HW = L->H * L->W, taps = L->C * 9;
#pragma GCC unroll 6
    for (int f = 0; f < NF; f++)
#pragma GCC unroll 4
        for (int v = 0; v < CYSYM_C3_ROWS; v++) acc[f][v] = _mm512_setzero_ps();
    for (Py_ssize_t c = 0; c < L->C; c++) {
#pragma GCC unroll 9
        for (int t = 0; t < 9; t++) {
            const float* p = x + c * HW + (t / 3 - L->ph) * L->W + t % 3 - 1;
            __m512 in[CYSYM_C3_ROWS];
#pragma GCC unroll 4
            for (int v = 0; v < CYSYM_C3_ROWS; v++)
                in[v] = _mm512_maskz_loadu_ps(masks[v][t], p + 16 * v);
#pragma GCC unroll 6
            for (int f = 0; f < NF; f++) {
                __m512 weight = _mm512_set1_ps(w[f * taps + c * 9 + t]);
#pragma GCC unroll 4
                for (int v = 0; v < CYSYM_C3_ROWS; v++)
                    acc[f][v] = _mm512_fmadd_ps(weight, in[v], acc[f][v]);
            }
        }
    }
#pragma GCC unroll 6
    for (int f = 0; f < NF; f++)
#pragma GCC unroll 4
        for (int v = 0; v < CYSYM_C3_ROWS; v++)
            cysym_finish(y + f * L->Ho * L->Wo + 16 * v, masks[v][9], acc[f][v], L->add,
                         _mm512_set1_ps(scale ? scale[f] : 1),
                         _mm512_set1_ps(bias ? bias[f] : 0), L->act, L->lo, L->hi);
}

/* every filter f_first .. f_last of a small plane, CYSYM_C3_FILTERS a block */
CYSYM_UNROLLED void cysym_c3_filters(const float* x, const cysym_c3_layer* L, const float* w,
                                     const __mmask16 masks[CYSYM_C3_ROWS][10], float* y,
                                     const float* scale, const float* bias, Py_ssize_t f_first,
                                     Py_ssize_t f_last) {
    Py_ssize_t f0 = f_first, taps = L->C * 9, plane = L->Ho * L->Wo;
#define CYSYM_C3_BLOCK(NF) \
    cysym_c3_flat_block(x, L, w + f0 * taps, NF, masks, y + f0 * plane, \
                        scale ? scale + f0 : NULL, bias ? bias + f0 : NULL)
    for (; f0 + CYSYM_C3_FILTERS <= f_last; f0 += CYSYM_C3_FILTERS) {
        CYSYM_C3_BLOCK(CYSYM_C3_FILTERS);
    }
    switch (f_last - f0) {
    case 1: CYSYM_C3_BLOCK(1); break;
    case 2: CYSYM_C3_BLOCK(2); break;
    case 3: CYSYM_C3_BLOCK(3); break;
    case 4: CYSYM_C3_BLOCK(4); break;
    case 5: CYSYM_C3_BLOCK(5); break;
    default: break;
    }
#undef CYSYM_C3_BLOCK
}

/* whether a layer's planes go the flat way (and its masks fit CYSYM_C3_ROWS vectors) */
static inline int cysym_c3_flat(Py_ssize_t pw, Py_ssize_t Ho, Py_ssize_t Wo) {
    return pw == 1 && Ho * Wo <= 16 * CYSYM_C3_ROWS;
}

/* Filters f_first .. f_last of one sample (x at the sample's input, y at its output) of a
   layer whose planes go the flat way (cysym_c3_flat): input C x H x W, pad ph and pw, output F x
   Ho x Wo at stride 1, weights w (F x C x 3 x 3); add: y += conv + bias, else y = act(conv *
   scale + bias) (act 0 none, 1 relu, 2 clip to lo .. hi; scale and bias NULL for none) */
static void cysym_conv3x3_f(const float* x, const float* w, const float* scale,
                            const float* bias, float* y, Py_ssize_t C, Py_ssize_t H, Py_ssize_t W,
                            Py_ssize_t ph, Py_ssize_t pw, Py_ssize_t F, Py_ssize_t Ho,
                            Py_ssize_t Wo, Py_ssize_t f_first, Py_ssize_t f_last, int add,
                            int act, float lo, float hi) {
    cysym_c3_layer L = {C, H, W, ph, pw, F, Ho, Wo, add, act};
    __mmask16 masks[CYSYM_C3_ROWS][10];
    L.lo = _mm512_set1_ps(lo);
    L.hi = _mm512_set1_ps(hi);
    cysym_flat_masks(masks, CYSYM_C3_ROWS, H, W, ph, Ho, Wo);
    cysym_c3_filters(x, &L, w, masks, y, scale, bias, f_first, f_last);
}
#else
/* no block in this build: conv.pyx calls it only where CYSYM_CONV3X3_BLOCK is 1 */
#define CYSYM_CONV3X3_BLOCK 0
#define cysym_conv3x3_f(x, ...) ((void)(x))
#define cysym_c3_flat(pw, Ho, Wo) 0
#endif
