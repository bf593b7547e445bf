/* A 3x3 depthwise convolution of float32 channel planes at stride 1 or 2, straight from x's
   rows to y's (cysym/_ops/conv.pyx, _depthwise_planes), in the AVX-512 build.  Each vector of 16
   output pixels is nine multiply-adds of vectors loaded from x, each tap's multiply-add masked to
   the lanes whose input pixel is inside x (the others would be the padding's zeros), so there is
   no padded copy of a plane; the scale, bias and activation of a fused BatchNorm + relu are
   applied in the registers before the store, so there is no second pass over y.

   Loads are plain 64-byte loads wherever all 16 lanes fall inside x's whole tensor (a lane
   outside the plane, masked out of its multiply-add, reads a neighbouring plane); masked loads,
   which read nothing outside their mask, take the planes at the tensor's two ends (on Zen 5 a
   masked load made the small planes' loop 1.7x slower).

   Two ways through a plane:
   - rows: a vector of 16 columns of an output row, four output rows at a time (four
     independent chains of multiply-adds; each input row loaded once for all four).  At stride 2
     a kernel row's even and odd columns are picked out of pairs of loads by one permute each.
   - flat, for planes at most 8 pixels wide at stride 1 with one column of padding each side
     (output rows as wide as x's): the plane's output pixels as one run, 16 a vector whatever the row width (a 7-wide
     row would fill 7 lanes of 16); tap (i, j) of output pixel p reads x[p + (i - ph) W + j - 1],
     its lanes masked where that is in the padding.  The masks depend on the geometry only.
   The taps are added kernel row by kernel row from zero, as conv.pyx's padded paths add them. */
#if defined(__AVX512F__)
#include <immintrin.h>
#define CYSYM_DEPTHWISE_ROWS 1
/* the block loops below are unrolled for a constant stride, block height and load kind: with
   the loop indices known, the weights stay in registers and the kernel-row tests vanish */
#if defined(_MSC_VER)
#define CYSYM_UNROLLED static __forceinline
#else
#define CYSYM_UNROLLED static inline __attribute__((always_inline))
#endif
#define CYSYM_ROWS_BLOCK 4
/* the most vectors of output pixels of a plane the flat way takes (its masks live on the stack) */
#define CYSYM_FLAT_VECTORS 16

/* lanes lo <= k < hi of a vector (none when hi <= lo) */
static inline __mmask16 cysym_lane_range(Py_ssize_t lo, Py_ssize_t hi) {
    if (lo < 0) lo = 0;
    if (hi > 16) hi = 16;
    if (hi <= lo) return 0;
    return (__mmask16)(((1u << hi) - 1u) & ~((1u << lo) - 1u));
}

/* ceil(a / 2) for either sign */
static inline Py_ssize_t cysym_half_up(Py_ssize_t a) {
    return a >= 0 ? (a + 1) / 2 : -((-a) / 2);
}

/* 16 floats from p: all of them (`masked` 0, p .. p + 16 inside x's tensor), or only the lanes
   of `lanes` (the others read nothing and are zero) */
CYSYM_UNROLLED __m512 cysym_load(const int masked, __mmask16 lanes, const float* p) {
    if (!masked) return _mm512_loadu_ps(p);
    return lanes ? _mm512_maskz_loadu_ps(lanes, p) : _mm512_setzero_ps();
}

/* sums + w * x in the lanes of `lanes`, sums in the others */
CYSYM_UNROLLED __m512 cysym_tap(__m512 sums, __m512 w, __m512 x, __mmask16 lanes) {
    return _mm512_mask3_fmadd_ps(w, x, sums, lanes);
}

/* y[lanes of out] = act(sums * scale + bias), or with add: y += sums + bias (conv.pyx's
   finish_copy and its req add, one vector at a time) */
CYSYM_UNROLLED void cysym_finish(float* y, __mmask16 out, __m512 sums, int add, __m512 scale,
                                 __m512 bias, int act, __m512 lo, __m512 hi) {
    __m512 v;
    if (add) {
        v = _mm512_add_ps(_mm512_maskz_loadu_ps(out, y), _mm512_add_ps(sums, bias));
    } else {
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
    }
    _mm512_mask_storeu_ps(y, out, v);
}

/* what one plane's loops need besides x and y */
typedef struct {
    Py_ssize_t H, W, stride, ph, pw, Ho, Wo;
    int add, act;
    __m512 w[9], scale, bias, lo, hi;
} cysym_dw_plane;

/* One vector of columns of an output row: the columns each load reads and the lanes each tap
   adds.  Stride 1: tap j loads from column c + j.  Stride 2: tap 0's and tap 1's values are the
   even and odd lanes of the pair of loads from c and c + 16, tap 2's the even lanes of the pair
   from c + 2 and c + 18. */
typedef struct {
    Py_ssize_t c;
    __mmask16 load[4], tap[3], out;
} cysym_dw_columns;

static inline cysym_dw_columns cysym_columns(const cysym_dw_plane* g, Py_ssize_t ow0) {
    cysym_dw_columns k;
    k.out = cysym_lane_range(0, g->Wo - ow0);
    k.c = g->stride * ow0 - g->pw;
    for (int j = 0; j < 3; j++)
        k.tap[j] = g->stride == 1 ? cysym_lane_range(-(k.c + j), g->W - (k.c + j))
                                  : cysym_lane_range(cysym_half_up(-(k.c + j)),
                                                     cysym_half_up(g->W - (k.c + j)));
    for (int n = 0; n < 4; n++) {
        Py_ssize_t start = k.c + (g->stride == 1 ? n : (n % 2) * 16 + (n / 2) * 2);
        k.load[n] = cysym_lane_range(-start, g->W - start);
    }
    return k;
}

/* the three taps' values of input row `row` for a vector of columns */
CYSYM_UNROLLED void cysym_row_taps(const float* row, const int stride, const int masked,
                                   const cysym_dw_columns* k, __m512* t) {
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    if (stride == 1) {
        for (int j = 0; j < 3; j++) t[j] = cysym_load(masked, k->load[j], row + k->c + j);
    } else {
        __m512 a = cysym_load(masked, k->load[0], row + k->c);
        __m512 b = cysym_load(masked, k->load[1], row + k->c + 16);
        __m512 a2 = cysym_load(masked, k->load[2], row + k->c + 2);
        __m512 b2 = cysym_load(masked, k->load[3], row + k->c + 18);
        t[0] = _mm512_permutex2var_ps(a, even, b);
        t[1] = _mm512_permutex2var_ps(a, odd, b);
        t[2] = _mm512_permutex2var_ps(a2, even, b2);
    }
}

/* output rows oh0 .. oh0 + R of a vector of columns */
CYSYM_UNROLLED void cysym_rows_block(const float* x, float* y, const cysym_dw_plane* g,
                                     const cysym_dw_columns* k, Py_ssize_t oh0, const int R,
                                     const int stride, const int masked) {
    __m512 sums[CYSYM_ROWS_BLOCK];
    Py_ssize_t first = oh0 * stride - g->ph;
#pragma GCC unroll 4
    for (int q = 0; q < R; q++) sums[q] = _mm512_setzero_ps();
#pragma GCC unroll 16
    for (int n = 0; n < (R - 1) * stride + 3; n++) {
        Py_ssize_t r = first + n;
        __m512 t[3];
        if (r < 0 || r >= g->H) continue;
        cysym_row_taps(x + r * g->W, stride, masked, k, t);
#pragma GCC unroll 4
        for (int q = 0; q < R; q++) {
            int i = n - q * stride;      /* the kernel row that input row r is for output row q */
            if (i < 0 || i > 2) continue;
            for (int j = 0; j < 3; j++) sums[q] = cysym_tap(sums[q], g->w[3 * i + j], t[j], k->tap[j]);
        }
    }
#pragma GCC unroll 4
    for (int q = 0; q < R; q++)
        cysym_finish(y + (oh0 + q) * g->Wo, k->out, sums[q], g->add, g->scale, g->bias, g->act,
                     g->lo, g->hi);
}

CYSYM_UNROLLED void cysym_rows_plane(const float* x, float* y, const cysym_dw_plane* g,
                                     const int stride, const int masked) {
    for (Py_ssize_t ow0 = 0; ow0 < g->Wo; ow0 += 16) {
        cysym_dw_columns k = cysym_columns(g, ow0);
        Py_ssize_t oh = 0;
        for (; oh + CYSYM_ROWS_BLOCK <= g->Ho; oh += CYSYM_ROWS_BLOCK)
            cysym_rows_block(x, y + ow0, g, &k, oh, CYSYM_ROWS_BLOCK, stride, masked);
        for (; oh < g->Ho; oh++)
            cysym_rows_block(x, y + ow0, g, &k, oh, 1, stride, masked);
    }
}

/* where rows would fill at most half of each vector (one thread, Zen 5, 1024 planes 7x7: flat
   20.8 us, rows 30.0; 512 planes 14x14: flat 32.1, rows 24.7) */
static int cysym_flat_applies(const cysym_dw_plane* g) {
    return g->stride == 1 && g->pw == 1 && g->Wo <= 8 && g->Ho * g->Wo <= 16 * CYSYM_FLAT_VECTORS;
}

/* masks[v][3 i + j]: the lanes of output vector v of a flat plane whose tap (i, j) is inside x;
   masks[v][9]: its lanes that are output pixels */
static void cysym_flat_masks(const cysym_dw_plane* g, __mmask16 masks[CYSYM_FLAT_VECTORS][10]) {
    for (Py_ssize_t v = 0; v * 16 < g->Ho * g->Wo; v++) {
        for (int n = 0; n < 10; n++) masks[v][n] = 0;
        for (int l = 0; l < 16 && v * 16 + l < g->Ho * g->Wo; l++) {
            Py_ssize_t oh = (v * 16 + l) / g->Wo, ow = (v * 16 + l) % g->Wo;
            masks[v][9] |= (__mmask16)(1u << l);
            for (int i = 0; i < 3; i++)
                for (int j = 0; j < 3; j++)
                    if (oh + i - g->ph >= 0 && oh + i - g->ph < g->H && ow + j - 1 >= 0
                            && ow + j - 1 < g->W)
                        masks[v][3 * i + j] |= (__mmask16)(1u << l);
        }
    }
}

/* output vectors v0 .. v0 + R of a flat plane */
CYSYM_UNROLLED void cysym_flat_vectors(const float* x, float* y, const cysym_dw_plane* g,
                                       __mmask16 masks[CYSYM_FLAT_VECTORS][10], Py_ssize_t v0,
                                       const int R, const int masked) {
    __m512 sums[CYSYM_ROWS_BLOCK];
#pragma GCC unroll 4
    for (int q = 0; q < R; q++) sums[q] = _mm512_setzero_ps();
#pragma GCC unroll 9
    for (int t = 0; t < 9; t++) {
        const float* p = x + v0 * 16 + (t / 3 - g->ph) * g->W + t % 3 - 1;
#pragma GCC unroll 4
        for (int q = 0; q < R; q++)
            sums[q] = cysym_tap(sums[q], g->w[t], cysym_load(masked, masks[v0 + q][t], p + 16 * q),
                                masks[v0 + q][t]);
    }
#pragma GCC unroll 4
    for (int q = 0; q < R; q++)
        cysym_finish(y + (v0 + q) * 16, masks[v0 + q][9], sums[q], g->add, g->scale, g->bias,
                     g->act, g->lo, g->hi);
}

CYSYM_UNROLLED void cysym_flat_plane(const float* x, float* y, const cysym_dw_plane* g,
                                     __mmask16 masks[CYSYM_FLAT_VECTORS][10], const int masked) {
    Py_ssize_t vectors = (g->Ho * g->Wo + 15) / 16, v = 0;
    for (; v + CYSYM_ROWS_BLOCK <= vectors; v += CYSYM_ROWS_BLOCK)
        cysym_flat_vectors(x, y, g, masks, v, CYSYM_ROWS_BLOCK, masked);
    for (; v < vectors; v++)
        cysym_flat_vectors(x, y, g, masks, v, 1, masked);
}

/* The first and one past the last element a plane's loads read (relative to the plane): the
   flat way reads from tap (0, 0) of vector 0 to tap (2, 2) of the last vector; rows read rows
   0 .. H - 1, from the first vector of columns' first load to the last one's last. */
static void cysym_plane_reads(const cysym_dw_plane* g, int flat, Py_ssize_t* first,
                              Py_ssize_t* end) {
    if (flat) {
        Py_ssize_t last_vector = (g->Ho * g->Wo + 15) / 16 - 1;
        *first = -g->ph * g->W - 1;
        *end = last_vector * 16 + (2 - g->ph) * g->W + 1 + 16;
    } else {
        Py_ssize_t last_c = g->stride * ((g->Wo - 1) / 16 * 16) - g->pw;
        *first = -g->pw;
        *end = (g->H - 1) * g->W + last_c + (g->stride == 1 ? 2 : 18) + 16;
    }
}

/* planes first .. last (plane = n C + c) of a 3x3 depthwise forward at stride 1 or 2 of x, a
   tensor of `planes` planes; scale (a fused BatchNorm's) and bias may be NULL */
static void cysym_depthwise_rows_f(const float* x, Py_ssize_t planes, const float* weights,
                                   const float* bias, const float* scale, float* y, Py_ssize_t C,
                                   Py_ssize_t first, Py_ssize_t last, Py_ssize_t H, Py_ssize_t W,
                                   Py_ssize_t stride, Py_ssize_t ph, Py_ssize_t pw, Py_ssize_t Ho,
                                   Py_ssize_t Wo, int add, int act, float lo, float hi) {
    cysym_dw_plane g = {H, W, stride, ph, pw, Ho, Wo, add, act};
    __mmask16 masks[CYSYM_FLAT_VECTORS][10];
    Py_ssize_t read_first, read_end;
    int flat = cysym_flat_applies(&g);
    g.lo = _mm512_set1_ps(lo);
    g.hi = _mm512_set1_ps(hi);
    if (flat) cysym_flat_masks(&g, masks);
    cysym_plane_reads(&g, flat, &read_first, &read_end);
    for (Py_ssize_t plane = first; plane < last; plane++) {
        Py_ssize_t c = plane % C;
        const float* xp = x + plane * H * W;
        float* yp = y + plane * Ho * Wo;
        /* plain loads where the plane's reads stay inside the tensor */
        int masked = plane * H * W + read_first < 0 || plane * H * W + read_end > planes * H * W;
        for (int n = 0; n < 9; n++) g.w[n] = _mm512_set1_ps(weights[9 * c + n]);
        g.scale = _mm512_set1_ps(scale ? scale[c] : 1);
        g.bias = _mm512_set1_ps(bias ? bias[c] : 0);
        if (flat) {
            if (masked) cysym_flat_plane(xp, yp, &g, masks, 1);
            else cysym_flat_plane(xp, yp, &g, masks, 0);
        } else if (stride == 1) {
            if (masked) cysym_rows_plane(xp, yp, &g, 1, 1);
            else cysym_rows_plane(xp, yp, &g, 1, 0);
        } else {
            if (masked) cysym_rows_plane(xp, yp, &g, 2, 1);
            else cysym_rows_plane(xp, yp, &g, 2, 0);
        }
    }
}
#else
/* no row kernel in this build: conv.pyx takes it only where CYSYM_DEPTHWISE_ROWS is 1 */
#define CYSYM_DEPTHWISE_ROWS 0
#define cysym_depthwise_rows_f(...) ((void)0)
#endif
