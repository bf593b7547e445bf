/* The forward of a 1x1 convolution with few input channels (cysym/_ops/conv.pyx,
   _pointwise_forward), float32 in the AVX-512 and AVX2 builds: y[f, p] = act(scale[f] sum_c
   w[f, c] x[c, p] + bias[f]).  Through OpenBLAS such a product has an inner dimension of C (16
   to 64 in MobileNet's first layers), too short for its packing and its separate passes over
   the output (zeroing, then accumulating, then the fused BatchNorm + relu) to pay: MobileNet's
   32->64 layer at 112x112 ran at 143 GFLOP/s there.  Here a block of 6 filters x 64 pixels
   keeps its 24 sums in registers over all C inputs (the 64 pixels' inputs, C x 256 bytes, stay
   in the first-level cache while every block of filters passes over them) and is finished in
   the registers: one store per output.  The AVX2 build's block, in its 16 registers, is 4
   filters x 24 pixels. */
#include <string.h>
#include "_vec.h"
#if CYSYM_VEC
#define CYSYM_POINTWISE_BLOCK 1
/* AVX2: the blocks straight from x take only layers whose C x F weights fit a 32 KB first-level
   cache (every block of pixels passes over all of them) and planes of at most 1024 pixels; the
   packed strips (cysym_pointwise_strips) larger planes, and planes of at least 512 pixels with
   more weights; OpenBLAS the rest.  One core of an AMD EPYC (Zen 3), MobileNet v2's layers at
   batch 2 with fused BatchNorm + relu6 against OpenBLAS in one process (best of 9 alternations,
   two runs): at 28x28 1.25-1.62x as fast (data gradient 0.89-1.33x); beyond 32 KB of weights
   0.6-0.8x at batch 1 (128->128 and up).  The strips against the blocks straight from x, in the
   exported models (per node, best of 9 alternations, one process): MobileNet v2 at batch 2,
   112x112 layers 0.54-0.77 of the time, 56x56 0.90-1.04; against OpenBLAS at batch 1, ResNet-50's
   56x56 layers 0.62-0.70, its 28x28 ones 0.78-0.94 (their weights beyond 32 KB), MobileNet v1's
   32->64 at 112x112 0.88; at 14x14 0.86-1.31: OpenBLAS keeps planes under 512 pixels.  The
   AVX-512 build's blocks take every plane straight from x (its strips were never timed). */
#if defined(__AVX512F__)
#define CYSYM_PW_FILTERS 6
#define CYSYM_PW_VECTORS 4
#define CYSYM_PW_MAX_WEIGHTS PY_SSIZE_T_MAX
#define CYSYM_PW_MAX_PIXELS PY_SSIZE_T_MAX
#else
#define CYSYM_PW_FILTERS 4
#define CYSYM_PW_VECTORS 3
#define CYSYM_PW_MAX_WEIGHTS 8192
#define CYSYM_PW_MAX_PIXELS 1024
#endif
#define CYSYM_PW_MIN_STRIP_PIXELS 512
/* the pixels of a block */
#define CYSYM_PW_PIXELS (CYSYM_VL * CYSYM_PW_VECTORS)
/* a strip's packed inputs fill about 32 KB (24-48 KB measured the same) */
#define CYSYM_PW_STRIP_BYTES 32768

/* filters f0 .. f0 + NF (w, y, scale and bias start at f0; filter f's weight for input c at
   w[f wf + c wc]) of pixels p0 .. p0 + CYSYM_VL NV (x and y start at p0, x's rows xs floats
   apart, y's HW; with `masked`, only the lanes of lanes[v] of vector v exist) */
CYSYM_UNROLLED void cysym_pw_block(const float* x, Py_ssize_t xs, Py_ssize_t HW, Py_ssize_t C,
                                   const float* w,
                                   Py_ssize_t wf, Py_ssize_t wc, const int NF, const int NV,
                                   const int masked,
                                   const cysym_vmask* lanes,
                                   float* y, int add, const float* scale, const float* bias,
                                   int act, cysym_vf lo, cysym_vf hi) {
    cysym_vf acc[CYSYM_PW_FILTERS][CYSYM_PW_VECTORS];
#pragma GCC unroll 6
    for (int f = 0; f < NF; f++)
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) acc[f][v] = cysym_vzero();
    for (Py_ssize_t c = 0; c < C; c++) {
        cysym_vf in[CYSYM_PW_VECTORS];
        /* the next block's weight rows, a line ahead of use: the forward's rows are C floats
           apart, short runs that the hardware prefetcher left to stall on a cold cache */
        if (wc == 1 && c % 16 == 0) {
#pragma GCC unroll 6
            for (int f = 0; f < NF; f++)
                _mm_prefetch((const char*)(w + (NF + f) * wf + c), _MM_HINT_T0);
        }
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++)
            in[v] = masked ? cysym_vmaskload(x + c * xs + CYSYM_VL * v, lanes[v])
                           : cysym_vloadu(x + c * xs + CYSYM_VL * v);
#pragma GCC unroll 6
        for (int f = 0; f < NF; f++) {
            cysym_vf weight = cysym_vset1(w[f * wf + c * wc]);
#pragma GCC unroll 4
            for (int v = 0; v < NV; v++)
                acc[f][v] = cysym_vfmadd(weight, in[v], acc[f][v]);
        }
    }
#pragma GCC unroll 6
    for (int f = 0; f < NF; f++)
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++)
            cysym_vfinish(y + f * HW + CYSYM_VL * v, masked, lanes[v], acc[f][v], add,
                          cysym_vset1(scale ? scale[f] : 1), cysym_vset1(bias ? bias[f] : 0), act,
                          lo, hi);
}

/* every filter of pixels p0 .. p0 + CYSYM_VL NV, CYSYM_PW_FILTERS filters a block */
CYSYM_UNROLLED void cysym_pw_pixels(const float* x, Py_ssize_t HW, Py_ssize_t C, Py_ssize_t F,
                                    const float* w, Py_ssize_t wf, Py_ssize_t wc, const int NV,
                                    const int masked,
                                    const cysym_vmask* lanes,
                                    float* y, int add, const float* scale, const float* bias,
                                    int act, cysym_vf lo, cysym_vf hi) {
    Py_ssize_t f0 = 0;
    for (; f0 + CYSYM_PW_FILTERS <= F; f0 += CYSYM_PW_FILTERS)
        cysym_pw_block(x, HW, HW, C, w + f0 * wf, wf, wc, CYSYM_PW_FILTERS, NV, masked, lanes,
                       y + f0 * HW, add, scale ? scale + f0 : NULL, bias ? bias + f0 : NULL, act,
                       lo, hi);
    /* the last F % CYSYM_PW_FILTERS filters, a block of that many */
#define CYSYM_PW_LAST(NF) \
    cysym_pw_block(x, HW, HW, C, w + f0 * wf, wf, wc, NF, NV, masked, lanes, y + f0 * HW, add, \
                   scale ? scale + f0 : NULL, bias ? bias + f0 : NULL, act, lo, hi)
    switch (F - f0) {
    case 1: CYSYM_PW_LAST(1); break;
    case 2: CYSYM_PW_LAST(2); break;
    case 3: CYSYM_PW_LAST(3); break;
#if CYSYM_PW_FILTERS > 4
    case 4: CYSYM_PW_LAST(4); break;
    case 5: CYSYM_PW_LAST(5); break;
#endif
    default: break;
    }
#undef CYSYM_PW_LAST
}

/* Pixels first .. last of one sample: x (C x HW) to y (F x HW), filter f's weight for input c
   at w[f wf + c wc] (the forward's F x C weights: wf = C, wc = 1; their transpose, for the data
   gradient: wf = 1, wc = the forward's C); the finish as in _depthwise_rows.h (add: y += sums +
   bias; else act(sums * scale + bias), scale and bias each NULL for none) */
static void cysym_pointwise_f(const float* x, const float* w, Py_ssize_t wf, Py_ssize_t wc,
                              const float* scale, const float* bias, float* y, Py_ssize_t C,
                              Py_ssize_t F, Py_ssize_t HW, Py_ssize_t first, Py_ssize_t last,
                              int add, int act, float lo, float hi) {
    const cysym_vf vlo = cysym_vset1(lo), vhi = cysym_vset1(hi);
    cysym_vmask lanes[CYSYM_PW_VECTORS];
    Py_ssize_t p0 = first;
    for (; p0 + CYSYM_VL * CYSYM_PW_VECTORS <= last; p0 += CYSYM_VL * CYSYM_PW_VECTORS)
        cysym_pw_pixels(x + p0, HW, C, F, w, wf, wc, CYSYM_PW_VECTORS, 0, lanes, y + p0, add,
                        scale, bias, act, vlo, vhi);
    if (p0 < last) {
        /* the last pixels in as many vectors as they fill, the last one masked */
        for (int v = 0; v < CYSYM_PW_VECTORS; v++)
            lanes[v] = cysym_vlanes(last - p0 - CYSYM_VL * v);
        switch ((last - p0 + CYSYM_VL - 1) / CYSYM_VL) {
#define CYSYM_PW_TAIL(NV) \
    cysym_pw_pixels(x + p0, HW, C, F, w, wf, wc, NV, 1, lanes, y + p0, add, scale, bias, act, vlo, \
                    vhi)
        case 1: CYSYM_PW_TAIL(1); break;
        case 2: CYSYM_PW_TAIL(2); break;
#if CYSYM_PW_VECTORS > 3
        case 3: CYSYM_PW_TAIL(3); break;
#endif
        default: CYSYM_PW_TAIL(CYSYM_PW_VECTORS); break;
#undef CYSYM_PW_TAIL
        }
    }
}

/* filters f0 .. f0 + NF of a packed strip's `blocks` blocks of pixels (see below), the last one
   masked where `masked` */
CYSYM_UNROLLED void cysym_pw_strip_filters(const float* packed, Py_ssize_t blocks, int masked,
                                           const cysym_vmask* lanes, Py_ssize_t HW, Py_ssize_t C,
                                           const float* w, Py_ssize_t wf, Py_ssize_t wc,
                                           const int NF, float* y, int add, const float* scale,
                                           const float* bias, int act, cysym_vf lo, cysym_vf hi) {
    const Py_ssize_t B = CYSYM_PW_PIXELS;
    for (Py_ssize_t b = 0; b < blocks; b++) {
        if (masked && b == blocks - 1)
            cysym_pw_block(packed + b * C * B, B, HW, C, w, wf, wc, NF, CYSYM_PW_VECTORS, 1, lanes,
                           y + b * B, add, scale, bias, act, lo, hi);
        else
            cysym_pw_block(packed + b * C * B, B, HW, C, w, wf, wc, NF, CYSYM_PW_VECTORS, 0, lanes,
                           y + b * B, add, scale, bias, act, lo, hi);
    }
}

/* the pixels of a strip of C inputs: whole blocks, at least one */
static inline Py_ssize_t cysym_pw_strip(Py_ssize_t C) {
    Py_ssize_t blocks = CYSYM_PW_STRIP_BYTES / ((Py_ssize_t)sizeof(float) * C * CYSYM_PW_PIXELS);
    return (blocks > 1 ? blocks : 1) * CYSYM_PW_PIXELS;
}

/* Floats of cysym_pointwise_strips's `packed` for strips of `strip` pixels */
static inline Py_ssize_t cysym_pw_packed_floats(Py_ssize_t C, Py_ssize_t strip) {
    const Py_ssize_t B = CYSYM_PW_PIXELS;
    return C * ((strip + B - 1) / B) * B;
}

/* As cysym_pointwise_f, for planes larger than the caches hold: in strips of `strip` pixels,
   each strip's C input rows first copied into `packed` as [block of CYSYM_VL CYSYM_PW_VECTORS
   pixels][c][pixel] (the last block's masked loads read only the pixels before `last`), then every
   block of filters passes over the whole strip.
   The inputs come from memory once and then in order from the cache, and a block of filters
   writes its rows in runs of the strip's width; cysym_pointwise_f's blocks of pixels read C rows
   and write F rows, each a few vectors long, at once: a stream per row, more than the prefetchers
   follow, and a page per row (MobileNet v2's 16->96 at 112x112: 112 pages a block). */
static void cysym_pointwise_strips(const float* x, const float* w, Py_ssize_t wf, Py_ssize_t wc,
                                   const float* scale, const float* bias, float* y, Py_ssize_t C,
                                   Py_ssize_t F, Py_ssize_t HW, Py_ssize_t first, Py_ssize_t last,
                                   int add, int act, float lo, float hi, float* packed,
                                   Py_ssize_t strip) {
    const Py_ssize_t B = CYSYM_PW_PIXELS;
    const cysym_vf vlo = cysym_vset1(lo), vhi = cysym_vset1(hi);
    cysym_vmask lanes[CYSYM_PW_VECTORS];
    for (Py_ssize_t s0 = first; s0 < last; s0 += strip) {
        Py_ssize_t width = last - s0 < strip ? last - s0 : strip;
        Py_ssize_t full = width / B, tail = width - full * B;
        Py_ssize_t blocks = full + (tail > 0);
        Py_ssize_t f0 = 0;
        Py_ssize_t ahead = last - s0 - width < strip ? last - s0 - width : strip;
        for (Py_ssize_t c = 0; c < C; c++) {
            const float* row = x + c * HW + s0;
            /* the next strip's row, into the cache while this strip is computed: C rows of a few
               lines each are too many short streams for the hardware prefetchers */
            for (Py_ssize_t k = 0; k < ahead; k += 64 / sizeof(float))
                _mm_prefetch((const char*)(row + width + k), _MM_HINT_T1);
            for (Py_ssize_t b = 0; b < full; b++)
                memcpy(packed + (b * C + c) * B, row + b * B, B * sizeof(float));
            if (tail)
                memcpy(packed + (full * C + c) * B, row + full * B, tail * sizeof(float));
        }
        for (int v = 0; v < CYSYM_PW_VECTORS; v++)
            lanes[v] = cysym_vlanes(tail - CYSYM_VL * v);
        for (; f0 + CYSYM_PW_FILTERS <= F; f0 += CYSYM_PW_FILTERS)
            cysym_pw_strip_filters(packed, blocks, tail > 0, lanes, HW, C, w + f0 * wf, wf, wc,
                                   CYSYM_PW_FILTERS, y + f0 * HW + s0, add,
                                   scale ? scale + f0 : NULL, bias ? bias + f0 : NULL, act, vlo,
                                   vhi);
#define CYSYM_PW_STRIP_LAST(NF) \
    cysym_pw_strip_filters(packed, blocks, tail > 0, lanes, HW, C, w + f0 * wf, wf, wc, NF, \
                           y + f0 * HW + s0, add, scale ? scale + f0 : NULL, \
                           bias ? bias + f0 : NULL, act, vlo, vhi)
        switch (F - f0) {
        case 1: CYSYM_PW_STRIP_LAST(1); break;
        case 2: CYSYM_PW_STRIP_LAST(2); break;
        case 3: CYSYM_PW_STRIP_LAST(3); break;
#if CYSYM_PW_FILTERS > 4
        case 4: CYSYM_PW_STRIP_LAST(4); break;
        case 5: CYSYM_PW_STRIP_LAST(5); break;
#endif
        default: break;
        }
#undef CYSYM_PW_STRIP_LAST
    }
}
#else
/* no block in this build: conv.pyx calls it only where CYSYM_POINTWISE_BLOCK is 1 */
#define CYSYM_POINTWISE_BLOCK 0
#define CYSYM_PW_FILTERS 1
#define CYSYM_PW_MAX_WEIGHTS 0
#define CYSYM_PW_MAX_PIXELS 0
#define CYSYM_PW_MIN_STRIP_PIXELS 0
#define cysym_pw_strip(C) ((Py_ssize_t)0)
#define cysym_pointwise_f(x, ...) ((void)(x))
#define cysym_pointwise_strips(x, ...) ((void)(x))
#define cysym_pw_packed_floats(C, strip) ((Py_ssize_t)0)
#endif
