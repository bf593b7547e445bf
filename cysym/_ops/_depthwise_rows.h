/* 3x3 depthwise convolutions of float32 channel planes at stride 1 or 2 straight from x's rows
   (cysym/_ops/conv.pyx), in the AVX-512 build: the forward (and through it the stride-1 data
   gradient, the forward of dy with the kernel turned 180 degrees) and the weight gradient's nine
   sums.  Each vector of 16 output pixels meets nine vectors loaded from x, one per tap, each
   tap's multiply-add masked to the lanes whose input pixel is inside x (the others would be the
   padding's zeros), so there is no padded copy of a plane.  The forward applies the scale, bias
   and activation of a fused BatchNorm + relu in the registers before the store, so there is no
   second pass over y; the weight gradient multiplies the taps by dy's vector instead of a weight
   and keeps nine vectors of sums.

   Loads are plain 64-byte loads wherever all 16 lanes fall inside the tensor (a lane outside
   the plane, masked out of its multiply-add, reads a neighbouring plane); masked loads, which
   read nothing outside their mask, take the planes at the tensor's two ends (on Zen 5 masked
   loads made the small planes' loop 1.7x slower).

   Two ways through a plane:
   - rows: a vector of 16 columns of an output row, four output rows at a time (four
     independent chains of multiply-adds; each input row loaded once for all four).  At stride 2
     a kernel row's even and odd columns are picked out of pairs of loads by one permute each.
   - flat, for planes at most 8 pixels wide at stride 1 with one column of padding each side
     (output rows as wide as x's): the plane's output pixels as one run, 16 a vector whatever the
     row width (a 7-wide row would fill 7 lanes of 16); tap (i, j) of output pixel p reads
     x[p + (i - ph) W + j - 1], its lanes masked where that is in the padding.  The masks depend
     on the geometry only: computed once per layer (cysym_dw_prepare).
   The forward adds the taps kernel row by kernel row from zero, as conv.pyx's padded paths do. */
#if defined(__AVX512F__)
#include "_avx512_finish.h"
#define CYSYM_DEPTHWISE_ROWS 1
#define CYSYM_ROWS_BLOCK 4
/* the most vectors of output pixels of a plane the flat way takes (its masks live in the layer) */
#define CYSYM_FLAT_VECTORS 16
/* what a traversal of a plane does with each vector of taps */
#define CYSYM_DW_FORWARD 0
#define CYSYM_DW_WEIGHT_SUMS 1

/* ceil(a / 2) for either sign */
static inline Py_ssize_t cysym_half_up(Py_ssize_t a) {
    return a >= 0 ? (a + 1) / 2 : -((-a) / 2);
}

/* 16 floats from p: all of them (`masked` 0: p .. p + 16 inside the tensor), or only the lanes
   of `lanes` (the others read nothing and are zero) */
CYSYM_UNROLLED __m512 cysym_load(const int masked, __mmask16 lanes, const float* p) {
    if (!masked) return _mm512_loadu_ps(p);
    return lanes ? _mm512_maskz_loadu_ps(lanes, p) : _mm512_setzero_ps();
}

/* sums + a * b in the lanes of `lanes`, sums in the others */
CYSYM_UNROLLED __m512 cysym_tap(__m512 sums, __m512 a, __m512 b, __mmask16 lanes) {
    return _mm512_mask3_fmadd_ps(a, b, sums, lanes);
}

/* A layer's geometry, its forward's finish, and what its planes' loads reach (relative to a
   plane: x from x_first to x_end, the output vectors from 0 to out_end) */
typedef struct {
    Py_ssize_t H, W, stride, ph, pw, Ho, Wo;
    int add, act, flat;
    float lo, hi;
    Py_ssize_t x_first, x_end, out_end;
    __mmask16 masks[CYSYM_FLAT_VECTORS][10];
} cysym_dw_layer;

/* one plane's forward taps and finish (the weight gradient's sums are a separate array: GCC
   kept a struct of both in memory, and the forward ran 1.3x slower) */
typedef struct {
    const cysym_dw_layer* L;
    __m512 w[9], scale, bias, lo, hi;
} cysym_dw_plane;

/* One vector of columns of an output row: the columns each load reads and the lanes each tap
   adds (`out`: the lanes that are output pixels).  Stride 1: tap j loads from column c + j.
   Stride 2: tap 0's and tap 1's values are the even and odd lanes of the pair of loads from c and
   c + 16, tap 2's the even lanes of the pair from c + 2 and c + 18. */
typedef struct {
    Py_ssize_t c;
    __mmask16 load[4], tap[3], out;
} cysym_dw_columns;

static inline cysym_dw_columns cysym_columns(const cysym_dw_layer* L, Py_ssize_t ow0) {
    cysym_dw_columns k;
    k.out = cysym_lane_range(0, L->Wo - ow0);
    k.c = L->stride * ow0 - L->pw;
    for (int j = 0; j < 3; j++)
        k.tap[j] = k.out & (L->stride == 1
                            ? cysym_lane_range(-(k.c + j), L->W - (k.c + j))
                            : cysym_lane_range(cysym_half_up(-(k.c + j)),
                                               cysym_half_up(L->W - (k.c + j))));
    for (int n = 0; n < 4; n++) {
        Py_ssize_t start = k.c + (L->stride == 1 ? n : (n % 2) * 16 + (n / 2) * 2);
        k.load[n] = cysym_lane_range(-start, L->W - start);
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

/* Output rows oh0 .. oh0 + R of a vector of columns (y and dy start at its first column): the
   forward writes them to y; the weight sums add dy's values times the taps.  A lane that is no
   output pixel is in no tap's mask, so neither dy's nor x's values there count. */
CYSYM_UNROLLED void cysym_rows_block(const float* x, float* y, const float* dy,
                                     const cysym_dw_plane* P, __m512* acc,
                                     const cysym_dw_columns* k, Py_ssize_t oh0, const int R,
                                     const int stride, const int masked, const int job) {
    const cysym_dw_layer* L = P->L;
    __m512 sums[CYSYM_ROWS_BLOCK], d[CYSYM_ROWS_BLOCK];
    Py_ssize_t first = oh0 * stride - L->ph;
#pragma GCC unroll 4
    for (int q = 0; q < R; q++) {
        if (job == CYSYM_DW_FORWARD) sums[q] = _mm512_setzero_ps();
        else d[q] = cysym_load(masked, k->out, dy + (oh0 + q) * L->Wo);
    }
#pragma GCC unroll 16
    for (int n = 0; n < (R - 1) * stride + 3; n++) {
        Py_ssize_t r = first + n;
        __m512 t[3];
        if (r < 0 || r >= L->H) continue;
        cysym_row_taps(x + r * L->W, stride, masked, k, t);
#pragma GCC unroll 4
        for (int q = 0; q < R; q++) {
            int i = n - q * stride;      /* the kernel row that input row r is for output row q */
            if (i < 0 || i > 2) continue;
            for (int j = 0; j < 3; j++) {
                if (job == CYSYM_DW_FORWARD)
                    sums[q] = cysym_tap(sums[q], P->w[3 * i + j], t[j], k->tap[j]);
                else
                    acc[3 * i + j] = cysym_tap(acc[3 * i + j], d[q], t[j], k->tap[j]);
            }
        }
    }
    if (job == CYSYM_DW_FORWARD) {
#pragma GCC unroll 4
        for (int q = 0; q < R; q++)
            cysym_finish(y + (oh0 + q) * L->Wo, k->out, sums[q], L->add, P->scale, P->bias,
                         L->act, P->lo, P->hi);
    }
}

CYSYM_UNROLLED void cysym_rows_plane(const float* x, float* y, const float* dy,
                                     const cysym_dw_plane* P, __m512* acc, const int stride,
                                     const int masked, const int job) {
    const cysym_dw_layer* L = P->L;
    for (Py_ssize_t ow0 = 0; ow0 < L->Wo; ow0 += 16) {
        cysym_dw_columns k = cysym_columns(L, ow0);
        Py_ssize_t oh = 0;
        /* the job's own output (the other is NULL) */
        float* y0 = job == CYSYM_DW_FORWARD ? y + ow0 : NULL;
        const float* dy0 = job == CYSYM_DW_FORWARD ? NULL : dy + ow0;
        for (; oh + CYSYM_ROWS_BLOCK <= L->Ho; oh += CYSYM_ROWS_BLOCK)
            cysym_rows_block(x, y0, dy0, P, acc, &k, oh, CYSYM_ROWS_BLOCK, stride, masked, job);
        for (; oh < L->Ho; oh++)
            cysym_rows_block(x, y0, dy0, P, acc, &k, oh, 1, stride, masked, job);
    }
}

/* output vectors v0 .. v0 + R of a flat plane */
CYSYM_UNROLLED void cysym_flat_vectors(const float* x, float* y, const float* dy,
                                       const cysym_dw_plane* P, __m512* acc, Py_ssize_t v0,
                                       const int R, const int masked, const int job) {
    const cysym_dw_layer* L = P->L;
    __m512 sums[CYSYM_ROWS_BLOCK], d[CYSYM_ROWS_BLOCK];
#pragma GCC unroll 4
    for (int q = 0; q < R; q++) {
        if (job == CYSYM_DW_FORWARD) sums[q] = _mm512_setzero_ps();
        else d[q] = cysym_load(masked, L->masks[v0 + q][9], dy + (v0 + q) * 16);
    }
#pragma GCC unroll 9
    for (int t = 0; t < 9; t++) {
        const float* p = x + v0 * 16 + (t / 3 - L->ph) * L->W + t % 3 - 1;
#pragma GCC unroll 4
        for (int q = 0; q < R; q++) {
            __mmask16 lanes = L->masks[v0 + q][t];
            __m512 tap = cysym_load(masked, lanes, p + 16 * q);
            if (job == CYSYM_DW_FORWARD) sums[q] = cysym_tap(sums[q], P->w[t], tap, lanes);
            else acc[t] = cysym_tap(acc[t], d[q], tap, lanes);
        }
    }
    if (job == CYSYM_DW_FORWARD) {
#pragma GCC unroll 4
        for (int q = 0; q < R; q++)
            cysym_finish(y + (v0 + q) * 16, L->masks[v0 + q][9], sums[q], L->add, P->scale,
                         P->bias, L->act, P->lo, P->hi);
    }
}

CYSYM_UNROLLED void cysym_flat_plane(const float* x, float* y, const float* dy,
                                     const cysym_dw_plane* P, __m512* acc, const int masked,
                                     const int job) {
    Py_ssize_t vectors = (P->L->Ho * P->L->Wo + 15) / 16, v = 0;
    for (; v + CYSYM_ROWS_BLOCK <= vectors; v += CYSYM_ROWS_BLOCK)
        cysym_flat_vectors(x, y, dy, P, acc, v, CYSYM_ROWS_BLOCK, masked, job);
    for (; v < vectors; v++)
        cysym_flat_vectors(x, y, dy, P, acc, v, 1, masked, job);
}

/* One plane through the way its layer takes, with masked loads where the plane's reads would
   leave the tensors (x of x_size elements, the output of out_size, x_at and out_at: the plane's
   offsets in them) */
CYSYM_UNROLLED void cysym_plane(const float* x, Py_ssize_t x_at, Py_ssize_t x_size, float* y,
                                const float* dy, Py_ssize_t out_at, Py_ssize_t out_size,
                                const cysym_dw_plane* P, __m512* acc, const int job) {
    const cysym_dw_layer* L = P->L;
    int masked = x_at + L->x_first < 0 || x_at + L->x_end > x_size
                 || (job == CYSYM_DW_WEIGHT_SUMS && out_at + L->out_end > out_size);
    if (L->flat) {
        if (masked) cysym_flat_plane(x, y, dy, P, acc, 1, job);
        else cysym_flat_plane(x, y, dy, P, acc, 0, job);
    } else if (L->stride == 1) {
        if (masked) cysym_rows_plane(x, y, dy, P, acc, 1, 1, job);
        else cysym_rows_plane(x, y, dy, P, acc, 1, 0, job);
    } else {
        if (masked) cysym_rows_plane(x, y, dy, P, acc, 2, 1, job);
        else cysym_rows_plane(x, y, dy, P, acc, 2, 0, job);
    }
}

/* The layer of a 3x3 depthwise convolution at stride 1 or 2 (input H x W, padding ph, pw,
   output Ho x Wo) whose forward finishes with `add` (y += conv + bias) or else activation `act`
   (0 none, 1 relu, 2 clip to lo .. hi) */
static void cysym_dw_prepare(cysym_dw_layer* L, Py_ssize_t H, Py_ssize_t W, Py_ssize_t stride,
                             Py_ssize_t ph, Py_ssize_t pw, Py_ssize_t Ho, Py_ssize_t Wo, int add,
                             int act, float lo, float hi) {
    L->H = H; L->W = W; L->stride = stride; L->ph = ph; L->pw = pw; L->Ho = Ho; L->Wo = Wo;
    L->add = add; L->act = act; L->lo = lo; L->hi = hi;
    /* flat where rows would fill at most half of each vector (one thread, Zen 5, 1024 planes
       7x7: flat 20.8 us, rows 30.0; 512 planes 14x14: flat 32.1, rows 24.7) */
    L->flat = stride == 1 && pw == 1 && Wo <= 8 && Ho * Wo <= 16 * CYSYM_FLAT_VECTORS;
    if (L->flat) {
        Py_ssize_t vectors = (Ho * Wo + 15) / 16;
        cysym_flat_masks(L->masks, vectors, H, W, ph, Ho, Wo);
        /* from tap (0, 0) of vector 0 to tap (2, 2) of the last */
        L->x_first = -ph * W - 1;
        L->x_end = (vectors - 1) * 16 + (2 - ph) * W + 1 + 16;
        L->out_end = vectors * 16;
    } else {
        /* rows 0 .. H - 1 of x, from the first vector of columns' first load to the last one's
           last; output rows 0 .. Ho - 1 to the last vector of columns' end */
        Py_ssize_t last_ow0 = (Wo - 1) / 16 * 16;
        L->x_first = -pw;
        L->x_end = (H - 1) * W + stride * last_ow0 - pw + (stride == 1 ? 2 : 18) + 16;
        L->out_end = (Ho - 1) * Wo + last_ow0 + 16;
    }
}

/* Planes first, first + step, ... (count of them) of y = the layer's forward of x's (x of
   x_size elements), plane p with the 3x3 weights of channel p % C (turned 180 degrees with
   `flip`), then scaled by scale[p % C] and shifted by bias[p % C] (each may be NULL).  One loop
   over the planes here: a call per plane left GCC too few registers for the weights (the
   forward took 1.25x the time). */
static void cysym_dw_forward(const cysym_dw_layer* L, const float* x, Py_ssize_t x_size,
                             const float* weights, int flip, const float* scale,
                             const float* bias, float* y, Py_ssize_t C, Py_ssize_t first,
                             Py_ssize_t count, Py_ssize_t step) {
    cysym_dw_plane P;
    P.L = L;
    P.lo = _mm512_set1_ps(L->lo);
    P.hi = _mm512_set1_ps(L->hi);
    for (Py_ssize_t k = 0; k < count; k++) {
        Py_ssize_t plane = first + k * step, c = plane % C;
        for (int n = 0; n < 9; n++) P.w[n] = _mm512_set1_ps(weights[9 * c + (flip ? 8 - n : n)]);
        P.scale = _mm512_set1_ps(scale ? scale[c] : 1);
        P.bias = _mm512_set1_ps(bias ? bias[c] : 0);
        cysym_plane(x + plane * L->H * L->W, plane * L->H * L->W, x_size,
                    y + plane * L->Ho * L->Wo, NULL, 0, 0, &P, NULL, CYSYM_DW_FORWARD);
    }
}

/* sums[3 i + j] += the sum over the output pixels of planes first, first + step, ... (count
   of them) of dy times tap (i, j) of x (of x_size and dy_size elements): those planes' share of
   the weight gradient */
static void cysym_dw_weight_sums(const cysym_dw_layer* L, const float* x, Py_ssize_t x_size,
                                 const float* dy, Py_ssize_t dy_size, Py_ssize_t first,
                                 Py_ssize_t count, Py_ssize_t step, double* sums) {
    cysym_dw_plane P;
    __m512 acc[9];
    P.L = L;
    for (Py_ssize_t k = 0; k < count; k++) {
        Py_ssize_t plane = first + k * step;
        Py_ssize_t at = plane * L->Ho * L->Wo;
        for (int n = 0; n < 9; n++) acc[n] = _mm512_setzero_ps();
        cysym_plane(x + plane * L->H * L->W, plane * L->H * L->W, x_size, NULL, dy + at, at,
                    dy_size, &P, acc, CYSYM_DW_WEIGHT_SUMS);
        for (int n = 0; n < 9; n++) sums[n] += _mm512_reduce_add_ps(acc[n]);
    }
}
/* floor(a / 2) for either sign */
static inline Py_ssize_t cysym_half_down(Py_ssize_t a) {
    return a >= 0 ? a / 2 : -((-a + 1) / 2);
}

/* One vector of 16 columns c0 .. c0 + 16 of dx at stride 2: tap j of column c reads dy's column
   (c + pw - j) / 2 where that is whole, so every other lane; those values are the first 8 or 9
   of 16 loaded from dy's column m[j], spread to their lanes by one permute (idx[j]). */
typedef struct {
    Py_ssize_t m[3];
    __m512i idx[3];
    __mmask16 load[3], tap[3], out;
} cysym_dw_spread;

static inline cysym_dw_spread cysym_spread(const cysym_dw_layer* L, Py_ssize_t c0) {
    /* lane l of an even (odd) base takes element l / 2 ((l + 1) / 2) of the load */
    const __m512i from_even = _mm512_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
    const __m512i from_odd = _mm512_setr_epi32(0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8);
    cysym_dw_spread k;
    k.out = cysym_lane_range(0, L->W - c0);
    for (int j = 0; j < 3; j++) {
        Py_ssize_t base = c0 + L->pw - j, m = cysym_half_down(base), odd = base - 2 * m;
        k.m[j] = m;
        k.idx[j] = odd ? from_odd : from_even;
        /* lanes l with base + l even whose column m + (odd + l) / 2 is inside dy's row */
        k.tap[j] = k.out & (__mmask16)(odd ? 0xAAAA : 0x5555)
                   & cysym_lane_range(-2 * m - odd, 2 * (L->Wo - m) - odd);
        k.load[j] = cysym_lane_range(-m, L->Wo - m);
    }
    return k;
}

/* rows 0 .. H of one vector of columns of a plane of dx (dx and dy start at the plane) */
CYSYM_UNROLLED void cysym_transposed_columns(const float* dy, float* dx, const cysym_dw_plane* P,
                                             const cysym_dw_spread* k, Py_ssize_t c0,
                                             const int masked) {
    const cysym_dw_layer* L = P->L;
    for (Py_ssize_t r = 0; r < L->H; r++) {
        __m512 sums = _mm512_setzero_ps();
        for (int i = 0; i < 3; i++) {
            Py_ssize_t t = r + L->ph - i;
            if (t < 0 || t % 2 || t / 2 >= L->Ho) continue;
            const float* row = dy + t / 2 * L->Wo;
            for (int j = 0; j < 3; j++) {
                __m512 v = _mm512_permutexvar_ps(k->idx[j],
                                                 cysym_load(masked, k->load[j], row + k->m[j]));
                sums = cysym_tap(sums, P->w[3 * i + j], v, k->tap[j]);
            }
        }
        cysym_finish(dx + r * L->W + c0, k->out, sums, L->add, P->scale, P->bias, L->act, P->lo,
                     P->hi);
    }
}

/* Planes first, first + step, ... (count of them) of dx = the data gradient of the stride-2
   layer L (whose finish says whether dx is added to) from dy's (of dy_size elements), plane p
   with the weights of channel p % C */
static void cysym_dw_transposed(const cysym_dw_layer* L, const float* dy, Py_ssize_t dy_size,
                                const float* weights, float* dx, Py_ssize_t C, Py_ssize_t first,
                                Py_ssize_t count, Py_ssize_t step) {
    cysym_dw_plane P;
    Py_ssize_t last_c0 = (L->W - 1) / 16 * 16;
    /* dy's elements a plane's loads reach: from the first vector's tap 2 to the last's tap 0 */
    Py_ssize_t read_first = cysym_half_down(L->pw - 2);
    Py_ssize_t read_end = (L->Ho - 1) * L->Wo + cysym_half_down(last_c0 + L->pw) + 16;
    P.L = L;
    P.scale = _mm512_set1_ps(1);
    P.bias = P.lo = P.hi = _mm512_setzero_ps();
    for (Py_ssize_t n = 0; n < count; n++) {
        Py_ssize_t plane = first + n * step, c = plane % C, at = plane * L->Ho * L->Wo;
        int masked = at + read_first < 0 || at + read_end > dy_size;
        for (int t = 0; t < 9; t++) P.w[t] = _mm512_set1_ps(weights[9 * c + t]);
        for (Py_ssize_t c0 = 0; c0 < L->W; c0 += 16) {
            cysym_dw_spread k = cysym_spread(L, c0);
            if (masked)
                cysym_transposed_columns(dy + at, dx + plane * L->H * L->W, &P, &k, c0, 1);
            else
                cysym_transposed_columns(dy + at, dx + plane * L->H * L->W, &P, &k, c0, 0);
        }
    }
}
#else
/* no row kernels in this build: conv.pyx calls them only where CYSYM_DEPTHWISE_ROWS is 1 */
#define CYSYM_DEPTHWISE_ROWS 0
typedef struct { int unused; } cysym_dw_layer;
#define cysym_dw_prepare(layer, ...) ((void)(layer))
#define cysym_dw_forward(layer, ...) ((void)(layer))
#define cysym_dw_weight_sums(layer, ...) ((void)(layer))
#define cysym_dw_transposed(layer, ...) ((void)(layer))
#endif
