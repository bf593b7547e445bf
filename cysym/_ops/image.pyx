"""Kernels of cysym/ops/image.py (MXNet's mx.nd.image operators): to_tensor, an (N,) H x W x C
image of any array dtype to an (N,) C x H x W float32 tensor divided by 255; normalize,
(x - mean[c]) / std[c] over the channels of an (N,) C x H x W tensor, with its gradient; and
adjust_lighting, a per-channel offset of an H x W x C image.

As in the other families, every `append_*` function checks sizes with the GIL and appends one
native call; the loops never raise.
"""
from libc.stdint cimport int8_t, uint8_t, int32_t, int64_t
from cysym._ops._blas cimport real
from cysym._ops._common cimport (common_dtype, numeric_code, req_code, REQ_ADD, REQ_NULL,
                                 DTYPE_FLOAT32, DTYPE_FLOAT64, DTYPE_INT32, DTYPE_INT64,
                                 DTYPE_UINT8)
from cysym._ops.runner cimport Plan, KernelCall, RunContext

cdef enum:
    MAX_CHANNELS = 3     # MXNet's image operators take 1 or 3 channels


ctypedef fused pixel:
    float
    double
    int32_t
    int64_t
    uint8_t
    int8_t


# ---------------------------------------------------------------------------------------------
# to_tensor: out[n, c, i] = image[n, i, c] / 255 (i over the H x W positions)

cdef void _to_tensor(const pixel* image, float* out, Py_ssize_t batch, Py_ssize_t length,
                     Py_ssize_t channels, int req) noexcept nogil:
    cdef Py_ssize_t n, c, i, base
    cdef float value
    for n in range(batch):
        base = n * length * channels
        for c in range(channels):
            for i in range(length):
                # MXNet divides in the image's type promoted with float: a double image in
                # double, every other one in float
                if pixel is double:
                    value = <float>(image[base + i * channels + c] / 255.0)
                else:
                    value = <float>image[base + i * channels + c] / <float>255.0
                if req == REQ_ADD:
                    out[base + c * length + i] += value
                else:
                    out[base + c * length + i] = value


cdef void to_tensor_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    # arrays: image, out (float32); ints: batch, length, channels, req, the image's dtype code
    cdef Py_ssize_t batch = c.ints[0], length = c.ints[1], channels = c.ints[2]
    cdef int req = <int>c.ints[3], source = <int>c.ints[4]
    cdef float* out = <float*>c.arrays[1]
    if source == DTYPE_FLOAT32:
        _to_tensor(<const float*>c.arrays[0], out, batch, length, channels, req)
    elif source == DTYPE_FLOAT64:
        _to_tensor(<const double*>c.arrays[0], out, batch, length, channels, req)
    elif source == DTYPE_INT32:
        _to_tensor(<const int32_t*>c.arrays[0], out, batch, length, channels, req)
    elif source == DTYPE_INT64:
        _to_tensor(<const int64_t*>c.arrays[0], out, batch, length, channels, req)
    elif source == DTYPE_UINT8:
        _to_tensor(<const uint8_t*>c.arrays[0], out, batch, length, channels, req)
    else:
        _to_tensor(<const int8_t*>c.arrays[0], out, batch, length, channels, req)


def append_to_tensor(Plan plan, image, out, str req="write", str label="to_tensor"):
    """out (float32, (N,) C x H x W) = image ((N,) H x W x C, any array dtype) / 255."""
    code = req_code(req, label)
    if image.ndim not in (3, 4) or numeric_code(out) != DTYPE_FLOAT32:
        raise ValueError(f"{label}: expected a 3-D or 4-D image and a float32 output, got "
                         f"{image.shape} {image.dtype} and {out.dtype}")
    first = image.ndim - 3     # the image axes follow the batch axis, when there is one
    batch = image.shape[0] if first else 1
    height, width, channels = image.shape[first], image.shape[first + 1], image.shape[first + 2]
    if out.size != image.size:
        raise ValueError(f"{label}: image {image.shape} and output {out.shape} differ in size")
    if code == REQ_NULL:
        return
    plan.add(to_tensor_kernel, DTYPE_FLOAT32, [image, out],
             [batch, height * width, channels, code, numeric_code(image)], [], label)


# ---------------------------------------------------------------------------------------------
# normalize: out[n, c, i] = (x[n, c, i] - mean[c]) / std[c]; its gradient dy[n, c, i] / std[c]

cdef void _normalize(KernelCall* c, real* dummy) noexcept nogil:
    # arrays: x (or dy), out; ints: batch, channels, length, req, backward;
    # floats: mean[0..channels), std[0..channels) (MXNet's float32 values)
    cdef Py_ssize_t batch = c.ints[0], channels = c.ints[1], length = c.ints[2], n, k, i, at
    cdef int req = <int>c.ints[3]
    cdef bint backward = c.ints[4] != 0
    cdef const real* x = <real*>c.arrays[0]
    cdef real* out = <real*>c.arrays[1]
    cdef real mean, std, value
    cdef double scale
    for n in range(batch):
        for k in range(channels):
            mean = <real><float>c.floats[k]
            std = <real><float>c.floats[channels + k]
            # MXNet's gradient multiplies by the double 1.0 / std
            scale = 1.0 / <double><float>c.floats[channels + k]
            at = (n * channels + k) * length
            for i in range(length):
                if backward:
                    value = <real>(x[at + i] * scale)
                else:
                    value = (x[at + i] - mean) / std
                if req == REQ_ADD:
                    out[at + i] += value
                else:
                    out[at + i] = value


cdef void normalize_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    if c.dtype == DTYPE_FLOAT32:
        _normalize(c, <float*>NULL)
    else:
        _normalize(c, <double*>NULL)


def append_normalize(Plan plan, x, out, means, stds, str req="write", bint backward=False,
                     str label="normalize"):
    """out = (x - means[c]) / stds[c] over the channel axis of an (N,) C x H x W x, or, with
    backward, out = x * (1 / stds[c]) (x is then the output's gradient); one mean and std per
    channel."""
    code = req_code(req, label)
    if x.ndim not in (3, 4) or x.shape != out.shape:
        raise ValueError(f"{label}: expected one 3-D or 4-D shape, got {x.shape} and {out.shape}")
    first = x.ndim - 3         # the channel axis follows the batch axis, when there is one
    channels = x.shape[first]
    if not 0 < channels <= MAX_CHANNELS or len(means) != channels or len(stds) != channels:
        raise ValueError(f"{label}: {channels} channels need as many means and stds, got "
                         f"{len(means)} and {len(stds)}")
    if code == REQ_NULL:
        return
    batch = x.shape[0] if first else 1
    plan.add(normalize_kernel, common_dtype([x, out]), [x, out],
             [batch, channels, x.shape[first + 1] * x.shape[first + 2], code, backward],
             [float(v) for v in means] + [float(v) for v in stds], label)


# ---------------------------------------------------------------------------------------------
# adjust_lighting: out[i, c] = x[i, c] + offset[c], in float32 as MXNet adds (float64 images too)

cdef void _adjust_lighting(KernelCall* c, real* dummy) noexcept nogil:
    # arrays: x, out; ints: pixels, channels, req; floats: one offset per channel
    cdef Py_ssize_t pixels = c.ints[0], channels = c.ints[1], i, k
    cdef int req = <int>c.ints[2]
    cdef const real* x = <real*>c.arrays[0]
    cdef real* out = <real*>c.arrays[1]
    cdef float offset[MAX_CHANNELS]
    cdef real value
    for k in range(channels):
        offset[k] = <float>c.floats[k]
    for i in range(pixels):
        for k in range(channels):
            value = <real>(<float>x[i * channels + k] + offset[k])
            if req == REQ_ADD:
                out[i * channels + k] += value
            else:
                out[i * channels + k] = value


cdef void adjust_lighting_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    if c.dtype == DTYPE_FLOAT32:
        _adjust_lighting(c, <float*>NULL)
    else:
        _adjust_lighting(c, <double*>NULL)


def append_adjust_lighting(Plan plan, x, out, offsets, str req="write", str label="adjust_lighting"):
    """out = x + offsets[c] over the last (channel) axis, each sum in float32 (MXNet's)."""
    code = req_code(req, label)
    channels = x.shape[x.ndim - 1] if x.ndim else 0
    if x.shape != out.shape or not 0 < channels <= MAX_CHANNELS or len(offsets) != channels:
        raise ValueError(f"{label}: input {x.shape}, output {out.shape} and {len(offsets)} offsets "
                         f"do not agree")
    if code == REQ_NULL:
        return
    plan.add(adjust_lighting_kernel, common_dtype([x, out]), [x, out],
             [x.size // channels, channels, code], [float(v) for v in offsets], label)
