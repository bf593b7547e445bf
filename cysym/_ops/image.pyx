"""Kernels of cysym/ops/image.py and image_random.py (MXNet's mx.nd.image operators): to_tensor,
an (N,) H x W x C image of any array dtype to an (N,) C x H x W float32 tensor divided by 255;
normalize, (x - mean[c]) / std[c] over the channels of an (N,) C x H x W tensor, with its
gradient; adjust_lighting, a per-channel offset of an H x W x C image; and image_transform, the
random transforms' steps (flips, brightness, contrast, saturation, hue, lighting) with the
parameters a Python call drew just before it.

As in the other families, every `append_*` function checks sizes with the GIL and appends one
native call; the loops never raise.
"""
from libc.math cimport fmaxf, fminf, fmodf
from libc.stdint cimport int8_t, uint8_t, int32_t, int64_t
from libc.float cimport FLT_EPSILON
from libc.string cimport memcpy
from cysym._ops._blas cimport real
from cysym._ops._common cimport (common_dtype, numeric_code, req_code, REQ_ADD, REQ_NULL,
                                 DTYPE_FLOAT32, DTYPE_FLOAT64, DTYPE_INT32, DTYPE_INT64,
                                 DTYPE_UINT8)
from cysym._ops.runner cimport Plan, KernelCall, RunContext

import numpy as np

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


# ---------------------------------------------------------------------------------------------
# image_transform: the steps of a random transform, drawn at run time (image_random.py), applied
# to an H x W x C image (C 1 or 3) as src/operator/image/image_random-inl.h computes them: each
# value through float, saturated into the image's dtype (uint8: clamped to [0, 255], truncated)

cdef enum:
    STEP_FLIP_LEFT_RIGHT = 0
    STEP_FLIP_TOP_BOTTOM = 1
    STEP_BRIGHTNESS = 2
    STEP_CONTRAST = 3
    STEP_SATURATION = 4
    STEP_HUE = 5
    STEP_LIGHTING = 6
    MAX_STEPS = 4        # color_jitter: brightness, contrast, saturation and hue
    STEP_VALUES = 4      # a step's code and its three parameters

STEP_CODES = {"flip_left_right": STEP_FLIP_LEFT_RIGHT, "flip_top_bottom": STEP_FLIP_TOP_BOTTOM,
              "brightness": STEP_BRIGHTNESS, "contrast": STEP_CONTRAST,
              "saturation": STEP_SATURATION, "hue": STEP_HUE, "lighting": STEP_LIGHTING}
STEP_ARRAY_SIZE = 1 + MAX_STEPS * STEP_VALUES   # the step count, then the steps

# MXNet's luma weights (ITU-R BT.601) for R, G, B
cdef float LUMA[3]
LUMA[:] = [0.299, 0.587, 0.114]
# HLS2RGBConvert's table: which of (p2, p1, rising, falling) each of B, G, R takes in a sector
cdef int HLS_SECTOR[6][3]
HLS_SECTOR[:] = [[1, 3, 0], [1, 0, 2], [3, 0, 1], [0, 2, 1], [0, 1, 3], [2, 1, 0]]


cdef inline pixel _saturate(float value, pixel* kind) noexcept nogil:
    """MXNet's saturate_cast: a plain cast, but for uint8, clamped to [0, 255] first."""
    if pixel is uint8_t:
        return <uint8_t>fminf(fmaxf(value, 0.0), 255.0)   # fmaxf takes 0 for NaN
    else:
        return <pixel>value


cdef inline float _affine(pixel x, float factor, float offset) noexcept nogil:
    """x * factor + offset in the types C gives them (double for a double image), rounded to
    float, as MXNet's `float val = input[l] * alpha + beta` is."""
    if pixel is double:
        return <float>(x * <double>factor + offset)
    else:
        return <float>x * factor + offset


cdef void _flip(const pixel* src, pixel* dst, Py_ssize_t head, Py_ssize_t mid,
                Py_ssize_t tail) noexcept nogil:
    """dst = src reversed along its middle axis (head x mid x tail elements), pair by pair so
    that dst may be src; unlike MXNet's FlipImpl it also writes the middle of an odd axis."""
    cdef Py_ssize_t i, j, k, first, last
    cdef pixel value
    for i in range(head):
        for j in range((mid + 1) // 2):
            first = (i * mid + j) * tail
            last = (i * mid + mid - 1 - j) * tail
            for k in range(tail):
                value = src[first + k]
                dst[first + k] = src[last + k]
                dst[last + k] = value


cdef void _brightness(const pixel* x, pixel* out, Py_ssize_t size, float alpha) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(size):
        out[i] = _saturate(_affine(x[i], alpha, 0), out)


cdef void _contrast(const pixel* x, pixel* out, Py_ssize_t pixels, Py_ssize_t channels,
                    float alpha) noexcept nogil:
    """out = x * alpha + (1 - alpha) * the mean gray level, summed in float as MXNet's."""
    cdef Py_ssize_t i, c
    cdef float total = 0, beta
    for i in range(pixels):
        if channels > 1:
            for c in range(3):
                total = _affine(x[i * 3 + c], LUMA[c], total)
        else:
            total = _affine(x[i], 1, total)
    beta = (1 - alpha) * (total / <float>pixels)
    for i in range(pixels * channels):
        out[i] = _saturate(_affine(x[i], alpha, beta), out)


cdef void _saturation(const pixel* x, pixel* out, Py_ssize_t pixels, Py_ssize_t channels,
                      float alpha) noexcept nogil:
    """out = gray * (1 - alpha) + x * alpha per pixel; as MXNet 1.9.1's loop assigns instead of
    summing, its gray is the blue value times 0.114."""
    cdef Py_ssize_t i, c
    cdef float gray
    if channels == 1:
        if out != x:
            memcpy(out, x, pixels * sizeof(pixel))
        return
    for i in range(pixels):
        gray = _affine(x[i * 3 + 2], LUMA[2], 0) * (1 - alpha)
        for c in range(3):
            out[i * 3 + c] = _saturate(_affine(x[i * 3 + c], alpha, gray), out)


cdef void _hue(const pixel* x, pixel* out, Py_ssize_t pixels, float alpha) noexcept nogil:
    """Each RGB pixel to HLS, hue + alpha * 360 degrees, back to RGB: MXNet's RGB2HLSConvert and
    HLS2RGBConvert, every operation in float (hence the float constants)."""
    cdef Py_ssize_t i
    cdef int sector, k
    cdef float r, g, b, h, l, s, vmax, vmin, diff, p1, p2
    cdef float half = 0.5, two = 2, full = 255, sixty = 60, turn = 360, third = 120
    cdef float two_thirds = 240, sixtieth = 1.0 / 60.0
    cdef float tab[4]
    cdef float rgb[3]
    for i in range(pixels):
        r = <float>x[i * 3] / full
        g = <float>x[i * 3 + 1] / full
        b = <float>x[i * 3 + 2] / full
        vmax = fmaxf(fmaxf(r, g), b)
        vmin = fminf(fminf(r, g), b)
        diff = vmax - vmin
        l = (vmax + vmin) * half
        h = 0
        s = 0
        if diff > FLT_EPSILON:
            s = (l < half) * diff / (vmax + vmin)
            s += (l >= half) * diff / (two - vmax - vmin)
            diff = sixty / diff
            h = (vmax == r) * (g - b) * diff
            h += (vmax != r and vmax == g) * ((b - r) * diff + third)
            h += (vmax != r and vmax != g) * ((r - g) * diff + two_thirds)
            h += (h < 0) * turn
        h += alpha * turn
        rgb[0] = l
        rgb[1] = l
        rgb[2] = l
        if s != 0:
            p2 = (l <= half) * l * (1 + s)
            p2 += (l > half) * (l + s - l * s)
            p1 = 2 * l - p2
            h *= sixtieth
            # into [0, 6) as MXNet's loops adding or taking 6 (exact there); a sum that rounds
            # to 6, or a NaN, would index past MXNet's table: sector 0 instead
            if h < 0:
                h = fmodf(h, 6) + 6
            if h >= 6:
                h = fmodf(h, 6)
            if not (0 <= h < 6):
                h = 0
            sector = <int>h
            h -= sector
            tab[0] = p2
            tab[1] = p1
            tab[2] = p1 + (p2 - p1) * (1 - h)
            tab[3] = p1 + (p2 - p1) * h
            rgb[2] = tab[HLS_SECTOR[sector][0]]
            rgb[1] = tab[HLS_SECTOR[sector][1]]
            rgb[0] = tab[HLS_SECTOR[sector][2]]
        for k in range(3):
            out[i * 3 + k] = _saturate(rgb[k] * full, out)


cdef void _lighting(const pixel* x, pixel* out, Py_ssize_t pixels, const double* offsets) noexcept nogil:
    cdef Py_ssize_t i, c
    for i in range(pixels):
        for c in range(3):
            out[i * 3 + c] = _saturate(<float>x[i * 3 + c] + <float>offsets[c], out)


cdef void _transform(const pixel* x, pixel* out, Py_ssize_t height, Py_ssize_t width,
                     Py_ssize_t channels, const double* steps) noexcept nogil:
    cdef Py_ssize_t count = <Py_ssize_t>steps[0], k, pixels = height * width
    cdef const pixel* source = x
    cdef const double* step
    cdef int code
    cdef float alpha
    if count == 0 and out != x:
        memcpy(out, x, pixels * channels * sizeof(pixel))
    for k in range(count):
        step = steps + 1 + k * STEP_VALUES
        code = <int>step[0]
        alpha = <float>step[1]
        if code == STEP_FLIP_LEFT_RIGHT:
            _flip(source, out, height, width, channels)
        elif code == STEP_FLIP_TOP_BOTTOM:
            _flip(source, out, 1, height, width * channels)
        elif code == STEP_BRIGHTNESS:
            _brightness(source, out, pixels * channels, alpha)
        elif code == STEP_CONTRAST:
            _contrast(source, out, pixels, channels, alpha)
        elif code == STEP_SATURATION:
            _saturation(source, out, pixels, channels, alpha)
        elif channels == 1:         # hue and lighting leave a gray image as it is
            if source != out:
                memcpy(out, source, pixels * sizeof(pixel))
        elif code == STEP_HUE:
            _hue(source, out, pixels, alpha)
        else:
            _lighting(source, out, pixels, step + 1)
        source = out               # later steps work on the output, as MXNet's color_jitter


cdef void image_transform_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    # arrays: x, out, steps (float64); ints: height, width, channels, the image's dtype code
    cdef Py_ssize_t height = c.ints[0], width = c.ints[1], channels = c.ints[2]
    cdef int code = <int>c.ints[3]
    cdef const double* steps = <const double*>c.arrays[2]
    if code == DTYPE_FLOAT32:
        _transform(<const float*>c.arrays[0], <float*>c.arrays[1], height, width, channels, steps)
    elif code == DTYPE_FLOAT64:
        _transform(<const double*>c.arrays[0], <double*>c.arrays[1], height, width, channels, steps)
    elif code == DTYPE_INT32:
        _transform(<const int32_t*>c.arrays[0], <int32_t*>c.arrays[1], height, width, channels, steps)
    elif code == DTYPE_INT64:
        _transform(<const int64_t*>c.arrays[0], <int64_t*>c.arrays[1], height, width, channels, steps)
    elif code == DTYPE_UINT8:
        _transform(<const uint8_t*>c.arrays[0], <uint8_t*>c.arrays[1], height, width, channels, steps)
    else:
        _transform(<const int8_t*>c.arrays[0], <int8_t*>c.arrays[1], height, width, channels, steps)


def append_image_transform(Plan plan, x, out, steps, str req="write", str label="image_transform"):
    """out = the steps held by `steps` applied in turn to x (H x W x C, C 1 or 3, any array
    dtype): steps[0] is their count, then each is (code, parameters...) of STEP_CODES, written by
    a Python call that runs before this kernel; no step copies x."""
    code = req_code(req, label)
    if x.ndim != 3 or x.shape != out.shape or x.dtype != out.dtype or x.shape[2] not in (1, 3):
        raise ValueError(f"{label}: expected one (H, W, C) image shape and dtype with C 1 or 3, "
                         f"got {x.shape} {x.dtype} and {out.shape} {out.dtype}")
    if steps.dtype != np.float64 or steps.shape != (STEP_ARRAY_SIZE,):
        raise ValueError(f"{label}: expected {STEP_ARRAY_SIZE} float64 step values, got "
                         f"{steps.shape} {steps.dtype}")
    if code == REQ_ADD:
        raise ValueError(f"{label}: a transformed image cannot be added to its output (req 'add')")
    if code == REQ_NULL:
        return
    plan.add(image_transform_kernel, numeric_code(x), [x, out, steps],
             [x.shape[0], x.shape[1], x.shape[2], numeric_code(x)], [], label)
