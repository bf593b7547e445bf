/* A 3x3 depthwise convolution of a group of channels at once (cysym/_ops/conv.pyx,
   _depthwise_lanes): the group's padded planes are interleaved channel by channel, so that one
   64-byte vector holds one pixel of every channel of the group (16 floats or 8 doubles), and
   each output pixel is nine vector multiply-adds.  On small planes (MobileNet's 28x28 to 7x7)
   the one-plane-at-a-time path spends its time on loop set-up of 7- to 28-wide rows.  The taps
   are added in the order that path adds them (kernel row by row, 0 + w0*x0 + w1*x1 + ...), so
   both give the same bits for a channel.  One vector size in every build: the group size, and
   with it which channels take this path, does not depend on the CPU. */
#include <string.h>

#define CYSYM_LANE_BYTES 64
#define CYSYM_LANES_F (CYSYM_LANE_BYTES / 4)
#define CYSYM_LANES_D (CYSYM_LANE_BYTES / 8)

#if (defined(__GNUC__) || defined(__clang__)) && !defined(CYSYM_PLAIN_DIRECT_BLOCK)
#define CYSYM_DEPTHWISE_LANES(name, T, L) \
typedef T name##_vec __attribute__((vector_size(CYSYM_LANE_BYTES))); \
static inline void name(const T* in, Py_ssize_t in_width, Py_ssize_t stride, const T* weights, \
                        T* out, Py_ssize_t out_height, Py_ssize_t out_width) { \
    name##_vec w[9], x, acc; \
    for (int k = 0; k < 9; k++) memcpy(&w[k], weights + k * (L), sizeof x); \
    for (Py_ssize_t oh = 0; oh < out_height; oh++) { \
        for (Py_ssize_t ow = 0; ow < out_width; ow++) { \
            const T* s = in + (oh * stride * in_width + ow * stride) * (L); \
            acc = (name##_vec){0}; \
            for (int i = 0; i < 3; i++) { \
                for (int j = 0; j < 3; j++) { \
                    memcpy(&x, s + j * (L), sizeof x); \
                    acc += w[3 * i + j] * x; \
                } \
                s += in_width * (L); \
            } \
            memcpy(out + (oh * out_width + ow) * (L), &acc, sizeof acc); \
        } \
    } \
}
#else
#define CYSYM_DEPTHWISE_LANES(name, T, L) \
static inline void name(const T* in, Py_ssize_t in_width, Py_ssize_t stride, const T* weights, \
                        T* out, Py_ssize_t out_height, Py_ssize_t out_width) { \
    for (Py_ssize_t oh = 0; oh < out_height; oh++) { \
        for (Py_ssize_t ow = 0; ow < out_width; ow++) { \
            T* o = out + (oh * out_width + ow) * (L); \
            for (int l = 0; l < (L); l++) o[l] = 0; \
            for (int i = 0; i < 3; i++) { \
                const T* s = in + ((oh * stride + i) * in_width + ow * stride) * (L); \
                for (int j = 0; j < 3; j++) \
                    for (int l = 0; l < (L); l++) o[l] += weights[(3 * i + j) * (L) + l] * s[j * (L) + l]; \
            } \
        } \
    } \
}
#endif

CYSYM_DEPTHWISE_LANES(cysym_depthwise_lanes_f, float, CYSYM_LANES_F)
CYSYM_DEPTHWISE_LANES(cysym_depthwise_lanes_d, double, CYSYM_LANES_D)
