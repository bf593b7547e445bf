/* The forward of a 3x3 convolution at stride 1 (one group, undilated; cysym/_ops/conv.pyx,
   _conv3x3_forward), float32 in the AVX-512 build, without im2col or OpenBLAS: a block of 6
   filters x 4 output rows x 16 columns keeps its 24 sums in registers over all C inputs and
   nine taps, each tap's weight broadcast once for the 4 rows; a tap's multiply-add is masked
   to the lanes whose input pixel is inside x (the others would be the padding's zeros), and the
   block is finished (bias, fused BatchNorm scale, activation) in the registers.  Loads are
   plain wherever they stay inside the tensor (a lane outside a row is masked out of the sums);
   masked loads take the blocks whose reads could leave it. */
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

/* a vector of 16 output columns from ow0: tap j reads from column c + j; the lanes where that
   is inside the row, and the lanes that are output pixels */
typedef struct {
    Py_ssize_t c;
    __mmask16 tap[3], out;
} cysym_c3_columns;

/* filters f0 .. f0 + NF, output rows oh0 .. oh0 + R of a vector of columns: x is the sample's
   input, w the weights from filter f0 (F x C x 3 x 3), y the output at filter f0, row 0,
   column ow0; scale and bias from f0 (NULL: none) */
CYSYM_UNROLLED void cysym_c3_block(const float* x, const cysym_c3_layer* L, const float* w,
                                   const int NF, const int R, const int masked,
                                   const cysym_c3_columns* k, Py_ssize_t oh0, float* y,
                                   const float* scale, const float* bias) {
    __m512 acc[CYSYM_C3_FILTERS][CYSYM_C3_ROWS];
    Py_ssize_t HW = L->H * L->W, taps = L->C * 9;
#pragma GCC unroll 6
    for (int f = 0; f < NF; f++)
#pragma GCC unroll 4
        for (int q = 0; q < R; q++) acc[f][q] = _mm512_setzero_ps();
    for (Py_ssize_t c = 0; c < L->C; c++) {
        const float* plane = x + c * HW;
#pragma GCC unroll 3
        for (int i = 0; i < 3; i++) {
#pragma GCC unroll 3
            for (int j = 0; j < 3; j++) {
                __m512 in[CYSYM_C3_ROWS];
                int any = 0;
#pragma GCC unroll 4
                for (int q = 0; q < R; q++) {
                    Py_ssize_t r = oh0 + q + i - L->ph;
                    int inside = r >= 0 && r < L->H;
                    const float* p = plane + r * L->W + k->c + j;
                    in[q] = !inside ? _mm512_setzero_ps()
                            : masked ? _mm512_maskz_loadu_ps(k->tap[j], p) : _mm512_loadu_ps(p);
                    any |= inside;
                }
                if (!any) continue;
#pragma GCC unroll 6
                for (int f = 0; f < NF; f++) {
                    __m512 weight = _mm512_set1_ps(w[f * taps + c * 9 + 3 * i + j]);
#pragma GCC unroll 4
                    for (int q = 0; q < R; q++)
                        acc[f][q] = _mm512_mask3_fmadd_ps(weight, in[q], acc[f][q], k->tap[j]);
                }
            }
        }
    }
#pragma GCC unroll 6
    for (int f = 0; f < NF; f++)
#pragma GCC unroll 4
        for (int q = 0; q < R; q++)
            cysym_finish(y + f * L->Ho * L->Wo + (oh0 + q) * L->Wo, k->out, acc[f][q], L->add,
                         _mm512_set1_ps(scale ? scale[f] : 1),
                         _mm512_set1_ps(bias ? bias[f] : 0), L->act, L->lo, L->hi);
}

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

/* every filter f_first .. f_last, CYSYM_C3_FILTERS a block: of output rows oh0 .. oh0 + R of
   a vector of columns, or (flat) of a whole small plane (whose loads are always masked) */
CYSYM_UNROLLED void cysym_c3_filters(const float* x, const cysym_c3_layer* L, const float* w,
                                     const int flat, const int R, const int masked,
                                     const cysym_c3_columns* k,
                                     const __mmask16 masks[CYSYM_C3_ROWS][10], Py_ssize_t oh0,
                                     float* y, const float* scale, const float* bias,
                                     Py_ssize_t f_first, Py_ssize_t f_last) {
    Py_ssize_t f0 = f_first, taps = L->C * 9, plane = L->Ho * L->Wo;
#define CYSYM_C3_BLOCK(NF) \
    if (flat) cysym_c3_flat_block(x, L, w + f0 * taps, NF, masks, y + f0 * plane, \
                                  scale ? scale + f0 : NULL, bias ? bias + f0 : NULL); \
    else cysym_c3_block(x, L, w + f0 * taps, NF, R, masked, k, oh0, y + f0 * plane, \
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

/* Filters f_first .. f_last of one sample (x at the sample's input, of which x_before elements
   come before it in the tensor and x_after after its end; y at the sample's output): the layer
   (input C x H x W, pad ph and pw, output F x Ho x Wo at stride 1) with weights w (F x C x 3 x
   3); add: y += conv + bias, else y = act(conv * scale + bias) (act 0 none, 1 relu, 2 clip to
   lo .. hi; scale and bias NULL for none) */
static void cysym_conv3x3_f(const float* x, Py_ssize_t x_before, Py_ssize_t x_after,
                            const float* w, const float* scale, const float* bias, float* y,
                            Py_ssize_t C, Py_ssize_t H, Py_ssize_t W, Py_ssize_t ph,
                            Py_ssize_t pw, Py_ssize_t F, Py_ssize_t Ho, Py_ssize_t Wo,
                            Py_ssize_t f_first, Py_ssize_t f_last, int add, int act, float lo,
                            float hi) {
    cysym_c3_layer L = {C, H, W, ph, pw, F, Ho, Wo, add, act};
    __mmask16 masks[CYSYM_C3_ROWS][10];
    cysym_c3_columns k;
    L.lo = _mm512_set1_ps(lo);
    L.hi = _mm512_set1_ps(hi);
    if (cysym_c3_flat(pw, Ho, Wo)) {
        cysym_flat_masks(masks, CYSYM_C3_ROWS, H, W, ph, Ho, Wo);
        cysym_c3_filters(x, &L, w, 1, 1, 1, &k, masks, 0, y, scale, bias, f_first, f_last);
        return;
    }
    for (Py_ssize_t ow0 = 0; ow0 < Wo; ow0 += 16) {
        k.c = ow0 - pw;
        k.out = cysym_lane_range(0, Wo - ow0);
        for (int j = 0; j < 3; j++)
            k.tap[j] = k.out & cysym_lane_range(-(k.c + j), W - (k.c + j));
        for (Py_ssize_t oh0 = 0; oh0 < Ho; oh0 += CYSYM_C3_ROWS) {
            int R = Ho - oh0 < CYSYM_C3_ROWS ? (int)(Ho - oh0) : CYSYM_C3_ROWS;
            /* the block's reads: from row oh0 - ph of channel 0 at column c to row
               oh0 + R + 1 - ph of channel C - 1, 18 columns on */
            Py_ssize_t first = (oh0 - ph) * W + k.c;
            Py_ssize_t end = (C - 1) * H * W + (oh0 + R + 1 - ph) * W + k.c + 2 + 16;
            int masked = first < -x_before || end > H * W * C + x_after;
            if (R == CYSYM_C3_ROWS) {
                if (masked)
                    cysym_c3_filters(x, &L, w, 0, CYSYM_C3_ROWS, 1, &k, masks, oh0, y + ow0,
                                     scale, bias, f_first, f_last);
                else
                    cysym_c3_filters(x, &L, w, 0, CYSYM_C3_ROWS, 0, &k, masks, oh0, y + ow0,
                                     scale, bias, f_first, f_last);
            } else {
                for (Py_ssize_t oh = oh0; oh < Ho; oh++)
                    cysym_c3_filters(x, &L, w, 0, 1, 1, &k, masks, oh, y + ow0, scale, bias,
                                     f_first, f_last);
            }
        }
    }
}
#else
/* no block in this build: conv.pyx calls it only where CYSYM_CONV3X3_BLOCK is 1 */
#define CYSYM_CONV3X3_BLOCK 0
#define cysym_conv3x3_f(x, ...) ((void)(x))
#define cysym_c3_flat(pw, Ho, Wo) 0
#endif
