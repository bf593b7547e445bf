"""MXNet's 2-bit gradient compression (src/kvstore/gradient_compression-inl.h): each value of
gradient + residual becomes +threshold (bits 11), -threshold (10) or 0 (00), four values to a
byte from the high bits down, sixteen to a float32 word; what was not sent stays in the
residual for the next step."""
cimport numpy as cnp

cnp.import_array()

# the bits of value i % 4 within its byte
cdef unsigned char[4] _POSITIVE = [0xc0, 0x30, 0x0c, 0x03]
cdef unsigned char[4] _NEGATIVE = [0x80, 0x20, 0x08, 0x02]


def compressed_bytes(Py_ssize_t size):
    """Bytes of the code of `size` values: a float32 word per sixteen, as MXNet sends."""
    return 4 * ((size + 15) // 16)


def quantize_2bit(const float[::1] grad, float[::1] residual, unsigned char[::1] code, float threshold):
    """residual += grad; code = 11 where residual >= threshold (residual -= threshold), 10 where
    residual <= -threshold (residual += threshold), else 00."""
    cdef Py_ssize_t i, size = grad.shape[0]
    with nogil:
        for i in range(code.shape[0]):
            code[i] = 0
        for i in range(size):
            residual[i] += grad[i]
            if residual[i] >= threshold:
                code[i >> 2] |= _POSITIVE[i & 3]
                residual[i] -= threshold
            elif residual[i] <= -threshold:
                code[i >> 2] |= _NEGATIVE[i & 3]
                residual[i] += threshold


def add_dequantized_2bit(const unsigned char[::1] code, float[::1] out, float threshold):
    """out += the values `code` stands for (+threshold, -threshold or 0)."""
    cdef Py_ssize_t i
    cdef unsigned char bits
    with nogil:
        for i in range(out.shape[0]):
            bits = code[i >> 2] & _POSITIVE[i & 3]
            if bits == _POSITIVE[i & 3]:
                out[i] += threshold
            elif bits == _NEGATIVE[i & 3]:
                out[i] -= threshold
