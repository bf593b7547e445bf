/* The forward of a convolution (one group, 2-D, undilated, stride 1 or 2 across rows; any kernel
   size) with 16 filters in the lanes of a vector: cysym/_ops/conv.pyx, _filter_lanes_forward,
   float32 in the AVX-512 build.  A block of 32 filters x up to 14 output pixels of one row (or of
   two rows up to 7 wide) keeps its 28 sums in registers over all C inputs and taps; each tap is
   two vector loads of weights and one broadcast input value per pixel.  With the filters in the
   lanes no lane is lost to a row narrower than a vector (ResNet's 14- and 28-wide rows fill 14 of
   16 lanes when the pixels are the lanes), and a stride of 2 is a broadcast from every other
   column.  The weights of 32 filters are first packed as [c][i][j][32] (for a batch, all filters
   once per forward, see cysym_fl_packed_floats), the sample's input padded with zeros (so no tap
   needs a test or a mask); the sums of a block are finished (bias, fused BatchNorm scale,
   activation) in the registers and leave transposed. */
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

/* floats of the packed weights of F filters (the last block padded to 32 with zeros) */
static inline Py_ssize_t cysym_fl_packed_floats(Py_ssize_t F, Py_ssize_t C, Py_ssize_t Kh,
                                                Py_ssize_t Kw) {
    return (F + CYSYM_FL_FILTERS - 1) / CYSYM_FL_FILTERS * CYSYM_FL_FILTERS * C * Kh * Kw;
}

/* floats of one thread's scratch: a padded sample, and (unless the packed weights are shared)
   the packed weights of 32 filters */
static inline Py_ssize_t cysym_fl_scratch(Py_ssize_t C, Py_ssize_t Kh, Py_ssize_t Kw,
                                          Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t Ho,
                                          Py_ssize_t Wo, int shared) {
    return C * cysym_fl_padded(Ho, sh, Kh) * cysym_fl_padded(Wo, sw, Kw)
           + (shared ? 0 : cysym_fl_packed_floats(CYSYM_FL_FILTERS, C, Kh, Kw));
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
   the C Kh Kw weights of a filter; turned: packed[taps - 1 - t][32] instead; 16 x 16 tiles
   transposed in registers */
static void cysym_fl_pack(const float* w, Py_ssize_t taps, Py_ssize_t f0, Py_ssize_t nf,
                          float* packed, int turned) {
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
            for (int k = 0; k < 16 && t0 + k < taps; k++) {
                Py_ssize_t t = turned ? taps - 1 - t0 - k : t0 + k;
                _mm512_storeu_ps(packed + t * CYSYM_FL_FILTERS + half * 16, r[k]);
            }
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

/* R rows of P output pixels from (oh, ow0) of the packed filters f0 .. f0 + nf, at column
   stride SW: src the padded input at row oh * sh, column ow0 * SW; y the output at filter 0,
   (oh, ow0); scale and bias the 32 filters' (padded with lanes beyond nf) */
CYSYM_UNROLLED void cysym_fl_block(const float* src, const float* packed,
                                   const cysym_fl_layer* L, const int P, const int R,
                                   const int SW, float* y, const __mmask16 keep[2],
                                   const __m512 scale[2],
                                   const __m512 bias[2]) {
    __m512 acc[2][CYSYM_FL_PIXELS];
    Py_ssize_t plane = L->Hp * L->Wp, row_step = L->sh * L->Wp;
#pragma GCC unroll 14
    for (int q = 0; q < P * R; q++) {
        acc[0][q] = _mm512_setzero_ps();
        acc[1][q] = _mm512_setzero_ps();
    }
    for (Py_ssize_t c = 0; c < L->C; c++)
        for (Py_ssize_t i = 0; i < L->Kh; i++) {
            const float* row = src + c * plane + i * L->Wp;
            const float* weights = packed + (c * L->Kh + i) * L->Kw * CYSYM_FL_FILTERS;
            for (Py_ssize_t j = 0; j < L->Kw; j++) {
                const float* in = row + j;
                const float* below = in + row_step;
#if defined(__GNUC__)
                /* opaque to the optimizer: GCC otherwise carries the inputs from one j to the
                   next in scalar registers and spills them (135 -> 255 GFLOP/s without) */
                __asm__("" : "+r"(in), "+r"(below));
#endif
                __m512 w0 = _mm512_loadu_ps(weights + j * CYSYM_FL_FILTERS);
                __m512 w1 = _mm512_loadu_ps(weights + j * CYSYM_FL_FILTERS + 16);
#pragma GCC unroll 14
                for (int q = 0; q < P * R; q++) {
                    __m512 b = _mm512_set1_ps((q < P ? in : below)[q % P * SW]);
                    acc[0][q] = _mm512_fmadd_ps(w0, b, acc[0][q]);
                    acc[1][q] = _mm512_fmadd_ps(w1, b, acc[1][q]);
                }
            }
        }
    /* the sums of a pixel are a vector of filters and y's rows are filters: the finished
       vectors transposed, each filter's pixels leave in one store (R rows are whole rows, so
       its pixels are contiguous in y); scattering each vector took a quarter of the time of
       ResNet's 7x7 stem (one thread, batch 1: 1.62 -> 1.19 ms) */
    Py_ssize_t HWo = L->Ho * L->Wo;
    __mmask16 pixels = cysym_lane_range(0, P * R);
#pragma GCC unroll 2
    for (int v = 0; v < 2; v++) {
        __m512 r[16];
#pragma GCC unroll 16
        for (int q = 0; q < 16; q++)
            r[q] = q >= P * R ? _mm512_setzero_ps()
                   : L->add ? _mm512_add_ps(acc[v][q], bias[v])
                   : cysym_finished(_mm512_setzero_ps(), acc[v][q], 0, scale[v], bias[v],
                                    L->act, L->lo, L->hi);
        cysym_fl_transpose(r);
        for (int k = 0; k < 16 && (keep[v] >> k & 1); k++) {
            float* out = y + (v * 16 + k) * HWo;
            _mm512_mask_storeu_ps(out, pixels,
                                  L->add ? _mm512_add_ps(_mm512_maskz_loadu_ps(pixels, out), r[k])
                                         : r[k]);
        }
    }
}

/* every output row of the packed filters f0 .. f0 + nf: blocks of at most CYSYM_FL_PIXELS
   pixels evenly along each row, or of two whole rows where two fit (7x7 planes: one row's 7
   pixels left half the registers idle and loaded every weight twice as often) */
CYSYM_UNROLLED void cysym_fl_rows_sw(const float* padded, const float* packed,
                                     const cysym_fl_layer* L, const int SW, float* y,
                                     Py_ssize_t f0, Py_ssize_t nf, const float* scale,
                                     const float* bias) {
    Py_ssize_t blocks = (L->Wo + CYSYM_FL_PIXELS - 1) / CYSYM_FL_PIXELS;
    Py_ssize_t width = (L->Wo + blocks - 1) / blocks, HWo = L->Ho * L->Wo;
    Py_ssize_t rows = 2 * L->Wo <= CYSYM_FL_PIXELS ? 2 : 1;
    __mmask16 keep[2];
    __m512 scales[2], biases[2];
    for (int v = 0; v < 2; v++) {
        keep[v] = cysym_lane_range(0, nf - 16 * v);
        scales[v] = scale ? _mm512_maskz_loadu_ps(keep[v], scale + f0 + 16 * v)
                          : _mm512_set1_ps(1);
        biases[v] = bias ? _mm512_maskz_loadu_ps(keep[v], bias + f0 + 16 * v)
                         : _mm512_setzero_ps();
    }
    for (Py_ssize_t oh = 0; oh < L->Ho; oh += rows)
        for (Py_ssize_t ow0 = 0; ow0 < L->Wo; ow0 += width) {
            const float* src = padded + oh * L->sh * L->Wp + ow0 * SW;
            float* out = y + f0 * HWo + oh * L->Wo + ow0;
            int P = (int)(L->Wo - ow0 < width ? L->Wo - ow0 : width);
#define CYSYM_FL_BLOCK(P, R) \
    case P: cysym_fl_block(src, packed, L, P, R, SW, out, keep, scales, biases); break;
            if (rows == 2 && oh + 1 < L->Ho) {
                switch (P) {
                CYSYM_FL_BLOCK(1, 2) CYSYM_FL_BLOCK(2, 2) CYSYM_FL_BLOCK(3, 2)
                CYSYM_FL_BLOCK(4, 2) CYSYM_FL_BLOCK(5, 2) CYSYM_FL_BLOCK(6, 2)
                CYSYM_FL_BLOCK(7, 2)
                default: break;
                }
            } else {
                switch (P) {
                CYSYM_FL_BLOCK(1, 1) CYSYM_FL_BLOCK(2, 1) CYSYM_FL_BLOCK(3, 1)
                CYSYM_FL_BLOCK(4, 1) CYSYM_FL_BLOCK(5, 1) CYSYM_FL_BLOCK(6, 1)
                CYSYM_FL_BLOCK(7, 1) CYSYM_FL_BLOCK(8, 1) CYSYM_FL_BLOCK(9, 1)
                CYSYM_FL_BLOCK(10, 1) CYSYM_FL_BLOCK(11, 1) CYSYM_FL_BLOCK(12, 1)
                CYSYM_FL_BLOCK(13, 1) CYSYM_FL_BLOCK(14, 1)
                default: break;
                }
            }
#undef CYSYM_FL_BLOCK
        }
}

/* The weights of the data gradient of a stride-1 layer as the forward of dy takes them, with
   the layer's C channels as its filters and the layer's F filters as its channels: for the nc <=
   32 channels from c0, packed[(f Kh Kw + t)][32] = w[f][c0 + l][Kh Kw - 1 - t] (each kernel turned
   by 180 degrees; w is F x C x Kh x Kw, any Kh Kw: cysym_fl_pack tiles the taps by 16) */
static void cysym_fl_pack_turned(const float* w, Py_ssize_t F, Py_ssize_t C, Py_ssize_t K,
                                 Py_ssize_t c0, Py_ssize_t nc, float* packed) {
    for (Py_ssize_t f = 0; f < F; f++)
        cysym_fl_pack(w + f * C * K, K, c0, nc, packed + f * K * CYSYM_FL_FILTERS, 1);
}

/* Filters f_first .. f_last (a multiple of 32 apart but at the end) of one sample x (C x H x
   W), into the sample's output y (F x Ho x Wo), w the weights (F x C x Kh x Kw); add: y += conv
   + bias, else y = act(conv * scale + bias) (act 0 none, 1 relu, 2 clip to lo .. hi; scale and
   bias NULL for none); shared: all filters' weights packed (the block of filter f0 at shared +
   f0 C Kh Kw), or NULL to pack each block into the scratch; scratch: cysym_fl_scratch floats */
static void cysym_filter_lanes_f(const float* x, const float* w, const float* shared,
                                 const float* scale, const float* bias, float* y, Py_ssize_t C,
                                 Py_ssize_t H, Py_ssize_t W, Py_ssize_t Kh, Py_ssize_t Kw,
                                 Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t ph, Py_ssize_t pw,
                                 Py_ssize_t Ho, Py_ssize_t Wo, Py_ssize_t f_first,
                                 Py_ssize_t f_last, int add, int act, float lo, float hi,
                                 float* scratch) {
    cysym_fl_layer L = {C, H, W, Kh, Kw, sh, sw, ph, pw, Ho, Wo,
                        cysym_fl_padded(Ho, sh, Kh), cysym_fl_padded(Wo, sw, Kw), add, act};
    float* padded = scratch;
    float* own = scratch + C * L.Hp * L.Wp;
    Py_ssize_t taps = C * Kh * Kw;
    L.lo = _mm512_set1_ps(lo);
    L.hi = _mm512_set1_ps(hi);
    cysym_fl_pad(x, &L, padded);
    for (Py_ssize_t f0 = f_first; f0 < f_last; f0 += CYSYM_FL_FILTERS) {
        Py_ssize_t nf = f_last - f0 < CYSYM_FL_FILTERS ? f_last - f0 : CYSYM_FL_FILTERS;
        const float* packed = shared ? shared + f0 * taps : own;
        if (!shared) cysym_fl_pack(w, taps, f0, nf, own, 0);
        if (sw == 1)
            cysym_fl_rows_sw(padded, packed, &L, 1, y, f0, nf, scale, bias);
        else
            cysym_fl_rows_sw(padded, packed, &L, 2, y, f0, nf, scale, bias);
    }
}

/* The weight gradient of a 3x3 layer (one group, undilated, stride 1 or 2 across rows) with the
   filters in the lanes: dw[f][c][i][j] = sum over samples and output pixels p of dy[f][p]
   x[c][p's row * sh + i - ph][p's column * sw + j - pw].  For a block of 32 filters and one input
   channel the 9 taps' sums stay in 18 registers over a sample's pixels; each pixel is two vector
   loads of dy (packed as [p][32] with cysym_fl_pack) and one broadcast input value per tap.
   Through im2col and OpenBLAS these products ran at 120-140 GFLOP/s on one core (k, the pixels
   of a chunk of samples, a few thousand; n = 9 C), the im2col block besides. */

/* floats of one thread's scratch: a padded sample, a sample's dy of 32 filters packed, and the
   32 filters' sums as [c][t][32] */
static inline Py_ssize_t cysym_flw_scratch(Py_ssize_t C, Py_ssize_t sh, Py_ssize_t sw,
                                           Py_ssize_t Ho, Py_ssize_t Wo) {
    return C * cysym_fl_padded(Ho, sh, 3) * cysym_fl_padded(Wo, sw, 3)
           + (Ho * Wo + C * 9) * CYSYM_FL_FILTERS;
}

/* sums[t][32] += the 9 taps' products of one padded input plane with a sample's packed dy */
CYSYM_UNROLLED void cysym_flw_channel(const float* plane, const float* dyp,
                                      const cysym_fl_layer* L, const int SW, float* sums) {
    __m512 acc[9][2];
#pragma GCC unroll 9
    for (int t = 0; t < 9; t++) {
        acc[t][0] = _mm512_loadu_ps(sums + t * CYSYM_FL_FILTERS);
        acc[t][1] = _mm512_loadu_ps(sums + t * CYSYM_FL_FILTERS + 16);
    }
    for (Py_ssize_t oh = 0; oh < L->Ho; oh++) {
        const float* row = plane + oh * L->sh * L->Wp;
        const float* d = dyp + oh * L->Wo * CYSYM_FL_FILTERS;
        for (Py_ssize_t ow = 0; ow < L->Wo; ow++) {
            const float* r0 = row + ow * SW;
            const float* r1 = r0 + L->Wp;
            const float* r2 = r1 + L->Wp;
            __m512 d0 = _mm512_loadu_ps(d + ow * CYSYM_FL_FILTERS);
            __m512 d1 = _mm512_loadu_ps(d + ow * CYSYM_FL_FILTERS + 16);
#pragma GCC unroll 9
            for (int t = 0; t < 9; t++) {
                const float* r = t < 3 ? r0 : t < 6 ? r1 : r2;
                __m512 b = _mm512_set1_ps(r[t % 3]);
                acc[t][0] = _mm512_fmadd_ps(d0, b, acc[t][0]);
                acc[t][1] = _mm512_fmadd_ps(d1, b, acc[t][1]);
            }
        }
    }
#pragma GCC unroll 9
    for (int t = 0; t < 9; t++) {
        _mm512_storeu_ps(sums + t * CYSYM_FL_FILTERS, acc[t][0]);
        _mm512_storeu_ps(sums + t * CYSYM_FL_FILTERS + 16, acc[t][1]);
    }
}

/* dw[l][t] (+)= sums[t][l] for the nf <= 32 filters of the block (dw at the block's first
   filter, taps weights a filter): cysym_fl_pack's transposes the other way */
static void cysym_flw_unpack(const float* sums, Py_ssize_t taps, Py_ssize_t nf, float* dw,
                             int add) {
    for (int half = 0; half * 16 < nf; half++)
        for (Py_ssize_t t0 = 0; t0 < taps; t0 += 16) {
            __mmask16 inside = cysym_lane_range(0, taps - t0);
            __m512 r[16];
            for (int k = 0; k < 16; k++)
                r[k] = t0 + k < taps
                       ? _mm512_loadu_ps(sums + (t0 + k) * CYSYM_FL_FILTERS + half * 16)
                       : _mm512_setzero_ps();
            cysym_fl_transpose(r);
            for (int k = 0; k < 16 && half * 16 + k < nf; k++) {
                float* out = dw + (half * 16 + k) * taps + t0;
                _mm512_mask_storeu_ps(out, inside,
                                      add ? _mm512_add_ps(_mm512_maskz_loadu_ps(inside, out), r[k])
                                          : r[k]);
            }
        }
}

/* Filters f_first .. f_last (blocks of 32) of the weight gradient dw (F x C x 3 x 3) from the N
   samples of x (C x H x W) and dy (F x Ho x Wo); add: dw += the gradient; scratch:
   cysym_flw_scratch floats */
static void cysym_fl_weight_grad_f(const float* x, const float* dy, float* dw, Py_ssize_t N,
                                   Py_ssize_t C, Py_ssize_t H, Py_ssize_t W, Py_ssize_t sh,
                                   Py_ssize_t sw, Py_ssize_t ph, Py_ssize_t pw, Py_ssize_t F,
                                   Py_ssize_t Ho, Py_ssize_t Wo, Py_ssize_t f_first,
                                   Py_ssize_t f_last, int add, float* scratch) {
    cysym_fl_layer L = {C, H, W, 3, 3, sh, sw, ph, pw, Ho, Wo,
                        cysym_fl_padded(Ho, sh, 3), cysym_fl_padded(Wo, sw, 3), 0, 0};
    Py_ssize_t P = Ho * Wo, taps = C * 9, plane = L.Hp * L.Wp;
    float* padded = scratch;
    float* dyp = padded + C * plane;
    float* sums = dyp + P * CYSYM_FL_FILTERS;
    for (Py_ssize_t f0 = f_first; f0 < f_last; f0 += CYSYM_FL_FILTERS) {
        Py_ssize_t nf = f_last - f0 < CYSYM_FL_FILTERS ? f_last - f0 : CYSYM_FL_FILTERS;
        memset(sums, 0, sizeof(float) * taps * CYSYM_FL_FILTERS);
        for (Py_ssize_t n = 0; n < N; n++) {
            /* padded again for each block of filters: a fraction of a per cent of its sums */
            cysym_fl_pad(x + n * C * H * W, &L, padded);
            cysym_fl_pack(dy + n * F * P, P, f0, nf, dyp, 0);
            for (Py_ssize_t c = 0; c < C; c++) {
                float* channel_sums = sums + c * 9 * CYSYM_FL_FILTERS;
                if (sw == 1)
                    cysym_flw_channel(padded + c * plane, dyp, &L, 1, channel_sums);
                else
                    cysym_flw_channel(padded + c * plane, dyp, &L, 2, channel_sums);
            }
        }
        cysym_flw_unpack(sums, taps, nf, dw + f0 * taps, add);
    }
}
#else
/* not in this build: conv.pyx calls it only where CYSYM_FILTER_LANES is 1 */
#define CYSYM_FILTER_LANES 0
#define cysym_filter_lanes_f(x, ...) ((void)(x))
#define cysym_fl_scratch(C, ...) ((Py_ssize_t)0)
#define cysym_fl_packed_floats(F, ...) ((Py_ssize_t)0)
#define cysym_fl_pack(w, ...) ((void)(w))
#define cysym_fl_pack_turned(w, ...) ((void)(w))
#define cysym_flw_scratch(C, ...) ((Py_ssize_t)0)
#define cysym_fl_weight_grad_f(x, ...) ((void)(x))
#endif
