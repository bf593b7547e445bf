/* The direct convolution forward's block of sums (cysym/_ops/conv.pyx, _direct_rows):
   out[k * 2L + j] = sum over t < K of wk[t] * (base + offsets[t])[j], for four filters k and
   2L columns j.  Compilers with GCC's vector extension (GCC, Clang, MinGW) keep the eight sums
   in vector registers of L lanes (AVX2 + FMA in the wide build, SSE2 in the portable one):
   Cython's own loops kept them in memory, at a tenth of the speed.  Others (MSVC) get the
   same sums in plain loops; CYSYM_PLAIN_DIRECT_BLOCK forces those (tests compare the two). */
#include <string.h>

#if defined(__AVX512F__)
#define CYSYM_VECTOR_BYTES 64
#elif defined(__AVX__)
#define CYSYM_VECTOR_BYTES 32
#else
#define CYSYM_VECTOR_BYTES 16
#endif
#define CYSYM_DIRECT_WIDTH_F (2 * CYSYM_VECTOR_BYTES / 4)
#define CYSYM_DIRECT_WIDTH_D (2 * CYSYM_VECTOR_BYTES / 8)

#if (defined(__GNUC__) || defined(__clang__)) && !defined(CYSYM_PLAIN_DIRECT_BLOCK)
#define CYSYM_DIRECT_BLOCK(name, T, L) \
typedef T name##_vec __attribute__((vector_size(CYSYM_VECTOR_BYTES))); \
static inline void name(const T* base, const Py_ssize_t* offsets, Py_ssize_t K, \
                        const T* w0, const T* w1, const T* w2, const T* w3, T* out) { \
    name##_vec a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0}; \
    name##_vec b0 = {0}, b1 = {0}, b2 = {0}, b3 = {0}; \
    name##_vec x0, x1; \
    for (Py_ssize_t t = 0; t < K; t++) { \
        const T* s = base + offsets[t]; \
        memcpy(&x0, s, sizeof x0); \
        memcpy(&x1, s + L, sizeof x1); \
        a0 += w0[t] * x0; b0 += w0[t] * x1; \
        a1 += w1[t] * x0; b1 += w1[t] * x1; \
        a2 += w2[t] * x0; b2 += w2[t] * x1; \
        a3 += w3[t] * x0; b3 += w3[t] * x1; \
    } \
    memcpy(out, &a0, sizeof a0); memcpy(out + L, &b0, sizeof b0); \
    memcpy(out + 2 * L, &a1, sizeof a1); memcpy(out + 3 * L, &b1, sizeof b1); \
    memcpy(out + 4 * L, &a2, sizeof a2); memcpy(out + 5 * L, &b2, sizeof b2); \
    memcpy(out + 6 * L, &a3, sizeof a3); memcpy(out + 7 * L, &b3, sizeof b3); \
}
#else
#define CYSYM_DIRECT_BLOCK(name, T, L) \
static inline void name(const T* base, const Py_ssize_t* offsets, Py_ssize_t K, \
                        const T* w0, const T* w1, const T* w2, const T* w3, T* out) { \
    T sums[8 * (L)]; \
    for (Py_ssize_t j = 0; j < 8 * (L); j++) sums[j] = 0; \
    for (Py_ssize_t t = 0; t < K; t++) { \
        const T* s = base + offsets[t]; \
        for (Py_ssize_t j = 0; j < 2 * (L); j++) { \
            sums[j] += w0[t] * s[j]; \
            sums[2 * (L) + j] += w1[t] * s[j]; \
            sums[4 * (L) + j] += w2[t] * s[j]; \
            sums[6 * (L) + j] += w3[t] * s[j]; \
        } \
    } \
    memcpy(out, sums, sizeof sums); \
}
#endif

CYSYM_DIRECT_BLOCK(cysym_direct_block_f, float, CYSYM_DIRECT_WIDTH_F / 2)
CYSYM_DIRECT_BLOCK(cysym_direct_block_d, double, CYSYM_DIRECT_WIDTH_D / 2)
