/* The forward of a convolution (one group, 2-D, undilated, stride 1 or 2 across rows; any
   kernel size) with 16 filters in the lanes of a vector: cysym/_ops/conv.pyx,
   _filter_lanes_forward, float32 in the AVX-512 build.  A block of 32 filters x up to 14 output
   pixels of one row keeps its 28 sums in registers over all C inputs and taps; each tap is two
   vector loads of weights and one broadcast input value per pixel.  With the filters in the
   lanes no lane is lost to a row narrower than a vector (ResNet's 14- and 28-wide rows fill
   14 of 16 lanes when the pixels are the lanes), and a stride of 2 is a broadcast from every
   other column.  The weights of 32 filters are first packed as [c][i][j][32], the sample's input
   padded with zeros (so no tap needs a test or a mask); the sums of a block leave through a
   scatter, finished (bias, fused BatchNorm scale, activation) in the registers. */
#if defined(__AVX512F__)
#include <string.h>
#include "_avx512_finish.h"
#define CYSYM_FILTER_LANES 1
#define CYSYM_FL_FILTERS 32
#define CYSYM_FL_PIXELS 14

/* a layer: input C x H x W, kernel Kh x Kw, stride sh, sw, padding ph, pw, output planes Ho x Wo;
   the padded input Hp x Wp; the finish */
typedef struct {
    Py_ssize_t C, H, W, Kh, Kw, sh, sw, ph, pw, Ho, Wo, Hp, Wp;
    int add, act;
    __m512 lo, hi;
} cysym_fl_layer;

/* the padded input's rows and columns: as far as the taps of the last output reach */
static inline Py_ssize_t cysym_fl_padded(Py_ssize_t out, Py_ssize_t stride, Py_ssize_t k) {
    return (out - 1) * stride + k;
}

/* floats of one thread's scratch: a padded sample and the packed weights of 32 filters */
static inline Py_ssize_t cysym_fl_scratch(Py_ssize_t C, Py_ssize_t Kh, Py_ssize_t Kw,
                                          Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t Ho,
                                          Py_ssize_t Wo) {
    return C * cysym_fl_padded(Ho, sh, Kh) * cysym_fl_padded(Wo, sw, Kw)
           + CYSYM_FL_FILTERS * C * Kh * Kw;
}

/* r[k] <- the k-th column of the 16 x 16 matrix whose rows are r */
CYSYM_UNROLLED void cysym_fl_transpose(__m512 r[16]) {
    __m512 t[16];
#pragma GCC unroll 8
    for (int k = 0; k < 16; k += 2) {
        t[k] = _mm512_unpacklo_ps(r[k], r[k + 1]);
        t[k + 1] = _mm512_unpackhi_ps(r[k], r[k + 1]);
    }
#pragma GCC unroll 4
    for (int k = 0; k < 16; k += 4) {
        r[k] = _mm512_shuffle_ps(t[k], t[k + 2], _MM_SHUFFLE(1, 0, 1, 0));
        r[k + 1] = _mm512_shuffle_ps(t[k], t[k + 2], _MM_SHUFFLE(3, 2, 3, 2));
        r[k + 2] = _mm512_shuffle_ps(t[k + 1], t[k + 3], _MM_SHUFFLE(1, 0, 1, 0));
        r[k + 3] = _mm512_shuffle_ps(t[k + 1], t[k + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
#pragma GCC unroll 8
    for (int k = 0; k < 8; k++) {
        int a = (k / 4) * 8 + k % 4;
        t[k] = _mm512_shuffle_f32x4(r[a], r[a + 4], 0x88);
        t[k + 8] = _mm512_shuffle_f32x4(r[a], r[a + 4], 0xdd);
    }
#pragma GCC unroll 4
    for (int k = 0; k < 4; k++) {
        r[k] = _mm512_shuffle_f32x4(t[k], t[k + 4], 0x88);
        r[k + 8] = _mm512_shuffle_f32x4(t[k], t[k + 4], 0xdd);
        r[k + 4] = _mm512_shuffle_f32x4(t[k + 8], t[k + 12], 0x88);
        r[k + 12] = _mm512_shuffle_f32x4(t[k + 8], t[k + 12], 0xdd);
    }
}

/* packed[t][32] = w[f0 + l][t] for the nf <= 32 filters from f0 (the lanes beyond, 0), t over
   the C Kh Kw weights of a filter; 16 x 16 tiles transposed in registers */
static void cysym_fl_pack(const float* w, Py_ssize_t taps, Py_ssize_t f0, Py_ssize_t nf,
                          float* packed) {
    for (int half = 0; half < 2; half++)
        for (Py_ssize_t t0 = 0; t0 < taps; t0 += 16) {
            __mmask16 inside = cysym_lane_range(0, taps - t0);
            __m512 r[16];
            for (int k = 0; k < 16; k++) {
                Py_ssize_t f = half * 16 + k;
                r[k] = f < nf ? _mm512_maskz_loadu_ps(inside, w + (f0 + f) * taps + t0)
                              : _mm512_setzero_ps();
            }
            cysym_fl_transpose(r);
            for (int k = 0; k < 16 && t0 + k < taps; k++)
                _mm512_storeu_ps(packed + (t0 + k) * CYSYM_FL_FILTERS + half * 16, r[k]);
        }
}

/* padded[c][r][q] = x[c][r - ph][q - pw] inside x, else 0 (Hp x Wp planes) */
static void cysym_fl_pad(const float* x, const cysym_fl_layer* L, float* padded) {
    Py_ssize_t rows = L->H < L->Hp - L->ph ? L->H : L->Hp - L->ph;
    Py_ssize_t cols = L->W < L->Wp - L->pw ? L->W : L->Wp - L->pw;
    for (Py_ssize_t c = 0; c < L->C; c++) {
        float* plane = padded + c * L->Hp * L->Wp;
        memset(plane, 0, sizeof(float) * L->ph * L->Wp);
        for (Py_ssize_t r = 0; r < rows; r++) {
            float* row = plane + (r + L->ph) * L->Wp;
            memset(row, 0, sizeof(float) * L->pw);
            memcpy(row + L->pw, x + (c * L->H + r) * L->W, sizeof(float) * cols);
            memset(row + L->pw + cols, 0, sizeof(float) * (L->Wp - L->pw - cols));
        }
        memset(plane + (rows + L->ph) * L->Wp, 0,
               sizeof(float) * (L->Hp - rows - L->ph) * L->Wp);
    }
}

/* P output pixels from (oh, ow0) of the packed filters f0 .. f0 + nf, at column stride SW: src
   the padded input at row oh * sh, column ow0 * SW; y the output at filter 0, (oh, ow0); scale
   and bias the 32 filters' (padded with lanes beyond nf) */
CYSYM_UNROLLED void cysym_fl_block(const float* src, const float* packed,
                                   const cysym_fl_layer* L, const int P, const int SW, float* y,
                                   __m512i planes, const __mmask16 keep[2], const __m512 scale[2],
                                   const __m512 bias[2]) {
    __m512 acc[2][CYSYM_FL_PIXELS];
    Py_ssize_t plane = L->Hp * L->Wp;
#pragma GCC unroll 14
    for (int p = 0; p < P; p++) {
        acc[0][p] = _mm512_setzero_ps();
        acc[1][p] = _mm512_setzero_ps();
    }
    for (Py_ssize_t c = 0; c < L->C; c++)
        for (Py_ssize_t i = 0; i < L->Kh; i++) {
            const float* row = src + c * plane + i * L->Wp;
            const float* weights = packed + (c * L->Kh + i) * L->Kw * CYSYM_FL_FILTERS;
            for (Py_ssize_t j = 0; j < L->Kw; j++) {
                const float* in = row + j;
#if defined(__GNUC__)
                /* opaque to the optimizer: GCC otherwise carries the inputs from one j to the
                   next in scalar registers and spills them (135 -> 255 GFLOP/s without) */
                __asm__("" : "+r"(in));
#endif
                __m512 w0 = _mm512_loadu_ps(weights + j * CYSYM_FL_FILTERS);
                __m512 w1 = _mm512_loadu_ps(weights + j * CYSYM_FL_FILTERS + 16);
#pragma GCC unroll 14
                for (int p = 0; p < P; p++) {
                    __m512 b = _mm512_set1_ps(in[p * SW]);
                    acc[0][p] = _mm512_fmadd_ps(w0, b, acc[0][p]);
                    acc[1][p] = _mm512_fmadd_ps(w1, b, acc[1][p]);
                }
            }
        }
    Py_ssize_t HWo = L->Ho * L->Wo;
#pragma GCC unroll 14
    for (int p = 0; p < P; p++)
#pragma GCC unroll 2
        for (int v = 0; v < 2; v++) {
            float* out = y + v * 16 * HWo + p;
            __m512 old = L->add ? _mm512_mask_i32gather_ps(_mm512_setzero_ps(), keep[v], planes,
                                                           out, 4)
                                : _mm512_setzero_ps();
            _mm512_mask_i32scatter_ps(out, keep[v], planes,
                                      cysym_finished(old, acc[v][p], L->add, scale[v], bias[v],
                                                     L->act, L->lo, L->hi), 4);
        }
}

/* every output row of the packed filters f0 .. f0 + nf, blocks of at most CYSYM_FL_PIXELS
   pixels evenly along each row */
CYSYM_UNROLLED void cysym_fl_rows_sw(const float* padded, const float* packed,
                                     const cysym_fl_layer* L, const int SW, float* y,
                                     Py_ssize_t f0, Py_ssize_t nf, const float* scale,
                                     const float* bias) {
    Py_ssize_t blocks = (L->Wo + CYSYM_FL_PIXELS - 1) / CYSYM_FL_PIXELS;
    Py_ssize_t width = (L->Wo + blocks - 1) / blocks, HWo = L->Ho * L->Wo;
    __m512i planes = _mm512_mullo_epi32(
        _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
        _mm512_set1_epi32((int)HWo));
    __mmask16 keep[2];
    __m512 scales[2], biases[2];
    for (int v = 0; v < 2; v++) {
        keep[v] = cysym_lane_range(0, nf - 16 * v);
        scales[v] = scale ? _mm512_maskz_loadu_ps(keep[v], scale + f0 + 16 * v)
                          : _mm512_set1_ps(1);
        biases[v] = bias ? _mm512_maskz_loadu_ps(keep[v], bias + f0 + 16 * v)
                         : _mm512_setzero_ps();
    }
    for (Py_ssize_t oh = 0; oh < L->Ho; oh++)
        for (Py_ssize_t ow0 = 0; ow0 < L->Wo; ow0 += width) {
            const float* src = padded + oh * L->sh * L->Wp + ow0 * SW;
            float* out = y + f0 * HWo + oh * L->Wo + ow0;
#define CYSYM_FL_BLOCK(P) \
    case P: cysym_fl_block(src, packed, L, P, SW, out, planes, keep, scales, biases); break;
            switch (L->Wo - ow0 < width ? L->Wo - ow0 : width) {
            CYSYM_FL_BLOCK(1) CYSYM_FL_BLOCK(2) CYSYM_FL_BLOCK(3) CYSYM_FL_BLOCK(4)
            CYSYM_FL_BLOCK(5) CYSYM_FL_BLOCK(6) CYSYM_FL_BLOCK(7) CYSYM_FL_BLOCK(8)
            CYSYM_FL_BLOCK(9) CYSYM_FL_BLOCK(10) CYSYM_FL_BLOCK(11) CYSYM_FL_BLOCK(12)
            CYSYM_FL_BLOCK(13) CYSYM_FL_BLOCK(14)
            default: break;
            }
#undef CYSYM_FL_BLOCK
        }
}

/* Filters f_first .. f_last (a multiple of 32 apart but at the end) of one sample x (C x H x
   W), into the sample's output y (F x Ho x Wo), w the weights (F x C x Kh x Kw); add: y += conv
   + bias, else y = act(conv * scale + bias) (act 0 none, 1 relu, 2 clip to lo .. hi; scale and
   bias NULL for none); scratch: cysym_fl_scratch floats */
static void cysym_filter_lanes_f(const float* x, const float* w, const float* scale,
                                 const float* bias, float* y, Py_ssize_t C, Py_ssize_t H,
                                 Py_ssize_t W, Py_ssize_t Kh, Py_ssize_t Kw, Py_ssize_t sh,
                                 Py_ssize_t sw, Py_ssize_t ph, Py_ssize_t pw,
                                 Py_ssize_t Ho, Py_ssize_t Wo, Py_ssize_t f_first,
                                 Py_ssize_t f_last, int add, int act, float lo, float hi,
                                 float* scratch) {
    cysym_fl_layer L = {C, H, W, Kh, Kw, sh, sw, ph, pw, Ho, Wo,
                        cysym_fl_padded(Ho, sh, Kh), cysym_fl_padded(Wo, sw, Kw), add, act};
    float* padded = scratch;
    float* packed = scratch + C * L.Hp * L.Wp;
    L.lo = _mm512_set1_ps(lo);
    L.hi = _mm512_set1_ps(hi);
    cysym_fl_pad(x, &L, padded);
    for (Py_ssize_t f0 = f_first; f0 < f_last; f0 += CYSYM_FL_FILTERS) {
        Py_ssize_t nf = f_last - f0 < CYSYM_FL_FILTERS ? f_last - f0 : CYSYM_FL_FILTERS;
        cysym_fl_pack(w, C * Kh * Kw, f0, nf, packed);
        if (sw == 1)
            cysym_fl_rows_sw(padded, packed, &L, 1, y, f0, nf, scale, bias);
        else
            cysym_fl_rows_sw(padded, packed, &L, 2, y, f0, nf, scale, bias);
    }
}
#else
/* not in this build: conv.pyx calls it only where CYSYM_FILTER_LANES is 1 */
#define CYSYM_FILTER_LANES 0
#define cysym_filter_lanes_f(x, ...) ((void)(x))
#define cysym_fl_scratch(C, ...) ((Py_ssize_t)0)
#endif
