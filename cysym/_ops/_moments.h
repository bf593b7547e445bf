/* One-pass float64 sums for the normalization layers (cysym/_ops/_math.pxd, _moments and
   _sum_and_products): sixteen partial sums per quantity, in two vectors of eight float64 lanes
   with GCC's vector extension (GCC, Clang, MinGW), or in plain loops over the same sixteen
   lanes elsewhere (MSVC; CYSYM_PLAIN_MOMENTS forces those, tests compare the two).  Written as
   plain C loops, GCC 12 kept two sums per element scalar: a third of a core's rate, below the
   memory's.  The lanes are fixed, so every build adds in the same order.  The masked form
   takes only the values of `a` where y > 0 (BatchNorm's backward through a fused ReLU, whose
   output is y). */
#include <string.h>

#define CYSYM_MOMENT_LANES 16

#if (defined(__GNUC__) || defined(__clang__)) && !defined(CYSYM_PLAIN_MOMENTS)
typedef double cysym_m8d __attribute__((vector_size(64)));
typedef float cysym_m8f __attribute__((vector_size(32)));
typedef long long cysym_m8l __attribute__((vector_size(64)));

/* vectors go by pointer: a 64-byte vector argument or result is ABI-dependent without AVX-512 */
static inline void cysym_load8_f(cysym_m8d* v, const float* p) {
    cysym_m8f f;
    memcpy(&f, p, sizeof f);
    *v = __builtin_convertvector(f, cysym_m8d);
}

static inline void cysym_load8_d(cysym_m8d* v, const double* p) {
    memcpy(v, p, sizeof *v);
}

static inline double cysym_lanes_total(const cysym_m8d* a, const cysym_m8d* b) {
    double la[8], lb[8], t = 0;
    memcpy(la, a, sizeof la);
    memcpy(lb, b, sizeof lb);
    for (int j = 0; j < 8; j++) t += la[j] + lb[j];
    return t;
}

#define CYSYM_MOMENTS(suffix, T) \
static inline Py_ssize_t cysym_moments_##suffix(const T* x, double shift, Py_ssize_t n, \
                                                double* total, double* squares) { \
    cysym_m8d s0 = {0}, s1 = {0}, q0 = {0}, q1 = {0}, d0, d1; \
    Py_ssize_t i, whole = n - n % CYSYM_MOMENT_LANES; \
    for (i = 0; i < whole; i += CYSYM_MOMENT_LANES) { \
        cysym_load8_##suffix(&d0, x + i); \
        cysym_load8_##suffix(&d1, x + i + 8); \
        d0 -= shift; d1 -= shift; \
        s0 += d0; s1 += d1; \
        q0 += d0 * d0; q1 += d1 * d1; \
    } \
    *total += cysym_lanes_total(&s0, &s1); \
    *squares += cysym_lanes_total(&q0, &q1); \
    return whole; \
} \
static inline Py_ssize_t cysym_sum_and_products_##suffix(const T* a, const T* b, double shift_b, \
                                                         Py_ssize_t n, double* total, \
                                                         double* products) { \
    cysym_m8d s0 = {0}, s1 = {0}, p0 = {0}, p1 = {0}, a0, a1, b0, b1; \
    Py_ssize_t i, whole = n - n % CYSYM_MOMENT_LANES; \
    for (i = 0; i < whole; i += CYSYM_MOMENT_LANES) { \
        cysym_load8_##suffix(&a0, a + i); \
        cysym_load8_##suffix(&a1, a + i + 8); \
        cysym_load8_##suffix(&b0, b + i); \
        cysym_load8_##suffix(&b1, b + i + 8); \
        s0 += a0; s1 += a1; \
        p0 += a0 * (b0 - shift_b); \
        p1 += a1 * (b1 - shift_b); \
    } \
    *total += cysym_lanes_total(&s0, &s1); \
    *products += cysym_lanes_total(&p0, &p1); \
    return whole; \
} \
static inline Py_ssize_t cysym_masked_sum_and_products_##suffix(const T* a, const T* b, \
                                                                double shift_b, const T* y, \
                                                                Py_ssize_t n, double* total, \
                                                                double* products) { \
    cysym_m8d s0 = {0}, s1 = {0}, p0 = {0}, p1 = {0}, a0, a1, b0, b1, y0, y1; \
    const cysym_m8d zero = {0}; \
    Py_ssize_t i, whole = n - n % CYSYM_MOMENT_LANES; \
    for (i = 0; i < whole; i += CYSYM_MOMENT_LANES) { \
        cysym_load8_##suffix(&a0, a + i); \
        cysym_load8_##suffix(&a1, a + i + 8); \
        cysym_load8_##suffix(&y0, y + i); \
        cysym_load8_##suffix(&y1, y + i + 8); \
        a0 = (cysym_m8d)((cysym_m8l)a0 & (y0 > zero)); \
        a1 = (cysym_m8d)((cysym_m8l)a1 & (y1 > zero)); \
        cysym_load8_##suffix(&b0, b + i); \
        cysym_load8_##suffix(&b1, b + i + 8); \
        s0 += a0; s1 += a1; \
        p0 += a0 * (b0 - shift_b); \
        p1 += a1 * (b1 - shift_b); \
    } \
    *total += cysym_lanes_total(&s0, &s1); \
    *products += cysym_lanes_total(&p0, &p1); \
    return whole; \
}

#else

/* the sums of the sixteen lanes of s and of p, in the vector version's order, added to what
   *total and *other hold */
static void cysym_plain_totals(const double* s, const double* p, double* total, double* other) {
    double t = 0, u = 0;
    for (int j = 0; j < 8; j++) {
        t += s[j] + s[j + 8];
        u += p[j] + p[j + 8];
    }
    *total += t;
    *other += u;
}

#define CYSYM_MOMENTS(suffix, T) \
static inline Py_ssize_t cysym_moments_##suffix(const T* x, double shift, Py_ssize_t n, \
                                                double* total, double* squares) { \
    double s[CYSYM_MOMENT_LANES] = {0}, q[CYSYM_MOMENT_LANES] = {0}, d; \
    Py_ssize_t i, whole = n - n % CYSYM_MOMENT_LANES; \
    int j; \
    for (i = 0; i < whole; i += CYSYM_MOMENT_LANES) { \
        for (j = 0; j < CYSYM_MOMENT_LANES; j++) { \
            d = (double)x[i + j] - shift; \
            s[j] += d; \
            q[j] += d * d; \
        } \
    } \
    cysym_plain_totals(s, q, total, squares); \
    return whole; \
} \
static inline Py_ssize_t cysym_sum_and_products_##suffix(const T* a, const T* b, double shift_b, \
                                                         Py_ssize_t n, double* total, \
                                                         double* products) { \
    double s[CYSYM_MOMENT_LANES] = {0}, p[CYSYM_MOMENT_LANES] = {0}; \
    Py_ssize_t i, whole = n - n % CYSYM_MOMENT_LANES; \
    int j; \
    for (i = 0; i < whole; i += CYSYM_MOMENT_LANES) { \
        for (j = 0; j < CYSYM_MOMENT_LANES; j++) { \
            s[j] += (double)a[i + j]; \
            p[j] += (double)a[i + j] * ((double)b[i + j] - shift_b); \
        } \
    } \
    cysym_plain_totals(s, p, total, products); \
    return whole; \
} \
static inline Py_ssize_t cysym_masked_sum_and_products_##suffix(const T* a, const T* b, \
                                                                double shift_b, const T* y, \
                                                                Py_ssize_t n, double* total, \
                                                                double* products) { \
    double s[CYSYM_MOMENT_LANES] = {0}, p[CYSYM_MOMENT_LANES] = {0}, v; \
    Py_ssize_t i, whole = n - n % CYSYM_MOMENT_LANES; \
    int j; \
    for (i = 0; i < whole; i += CYSYM_MOMENT_LANES) { \
        for (j = 0; j < CYSYM_MOMENT_LANES; j++) { \
            v = y[i + j] > 0 ? (double)a[i + j] : 0.0; \
            s[j] += v; \
            p[j] += v * ((double)b[i + j] - shift_b); \
        } \
    } \
    cysym_plain_totals(s, p, total, products); \
    return whole; \
}

#endif

CYSYM_MOMENTS(f, float)
CYSYM_MOMENTS(d, double)
