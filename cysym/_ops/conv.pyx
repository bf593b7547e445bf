"""Convolution (im2col + GEMM) and Pooling kernels, 1-D (NCW), 2-D (NCHW) and 3-D (NCDHW).

Every problem runs as a 3-D one: a 2-D problem has depth 1, a 1-D one depth and height 1, so
each loop below is written once.  Geometry travels in `KernelCall.ints` as the GEOM_INTS values
N C D H W F G kd kh kw sd sh sw dd dh dw pd ph pw Do Ho Wo (see `_conv_geometry`), followed
by each kernel's own ints.
"""
from libc.stdlib cimport malloc, free
from libc.string cimport memcpy, memset
from libc.float cimport FLT_MAX, DBL_MAX
from libc.math cimport sqrt, cbrt
import numpy as np
from cython.parallel cimport prange

from cysym._ops cimport threads
from cysym._ops._blas cimport real, gemm, gemm_unsplit
from cysym._ops._math cimport _sum
from cysym._ops._common cimport common_dtype, REQ_NULL, REQ_WRITE, REQ_ADD, req_code
from cysym._ops.runner cimport Plan, KernelCall, RunContext
from cysym._ops._epilogue cimport (Epilogue, epilogue_of, epilogue_floats, fused_scale,
                                   finish_copy, finish_row, is_identity, ACT_NONE)

POOL_CODES = {"max": 0, "avg": 1, "sum": 2, "lp": 3}
DEF GEOM_INTS = 22
# `nb` (samples per GEMM) of the depthwise path, which has no GEMM (see _depthwise_forward)
DEF DEPTHWISE = -1
# widest kernel row the depthwise path takes (its tap ranges live on the stack)
DEF DEPTHWISE_TAPS = 16
# `nb` of the forward that runs a few-channel convolution directly (see _direct_forward)
DEF DIRECT = -2
# `nb` of the forward through the AVX-512 build's 3x3 blocks (see _conv3x3_forward)
DEF CONV3X3 = -3
# `nb` of the forward with filters in the lanes of the AVX-512 build (see _filter_lanes_forward)
DEF FILTER_LANES = -4
# filters of one block of the direct forward's sums, and the most columns a block has (two
# vectors of the build's width, see _direct_block.h: 2 x 16 floats in the AVX-512 build)
DEF DIRECT_FILTERS = 4
DEF DIRECT_WIDTH = 32
# output rows the direct forward sums for every filter before it moves on
DEF DIRECT_ROWS = 8
# elements of one band of a depthwise plane's sums (and about as many of its phases)
DEF DEPTHWISE_BAND = 2048
# output pixels of the largest plane whose 3x3 depthwise forward runs in interleaved groups of
# channels (_depthwise_lanes) where the row kernel does not (see _rows).  One thread, float32,
# batch 1, fused BatchNorm + relu, per plane -> interleaved (bench_depthwise, Zen 5):
# MobileNet's 1024x7x7 0.078 -> 0.040 ms (AVX-512 build), 0.078 -> 0.046 (AVX2), stride 2 from
# 14x14 0.067 -> 0.033 (AVX-512), 0.039 (AVX2);
# on larger outputs it gains with AVX-512 and loses with AVX2 (512x14x14: 0.071 -> 0.063 and
# 0.089), and loses with both at 28x28 (256 channels: 0.084-0.097 -> 0.091-0.108)
DEF DEPTHWISE_LANES_OUTPUTS = 64
# pixels of the largest plane whose stride-1 3x3 depthwise weight gradient runs as tap sums
# rather than through the stride phases (see _depthwise_backward_channels)
DEF TAP_SUM_MAX_PIXELS = 100
# what the kernels without a fused activation pass (a static struct is zeroed: ACT_NONE)
cdef Epilogue NO_EPILOGUE
cdef enum:
    ERROR_NO_MEMORY = 2        # runner.KERNEL_ERRORS[2]: a kernel's scratch was not allocated


# ---------------------------------------------------------------------------------------
# im2col / col2im for one sample

cdef struct Geom:
    Py_ssize_t N, C, D, H, W, F, G, kd, kh, kw, sd, sh, sw, dd, dh, dw, pd, ph, pw, Do, Ho, Wo


cdef inline Geom _geom(Py_ssize_t* v) noexcept nogil:
    cdef Geom g
    g.N = v[0]; g.C = v[1]; g.D = v[2]; g.H = v[3]; g.W = v[4]; g.F = v[5]; g.G = v[6]
    g.kd = v[7]; g.kh = v[8]; g.kw = v[9]; g.sd = v[10]; g.sh = v[11]; g.sw = v[12]
    g.dd = v[13]; g.dh = v[14]; g.dw = v[15]; g.pd = v[16]; g.ph = v[17]; g.pw = v[18]
    g.Do = v[19]; g.Ho = v[20]; g.Wo = v[21]
    return g


cdef inline void _valid_range(Py_ssize_t off, Py_ssize_t stride, Py_ssize_t size, Py_ssize_t n_out,
                              Py_ssize_t* lo, Py_ssize_t* hi) noexcept nogil:
    """[lo, hi): the outputs o with 0 <= o * stride + off < size."""
    cdef Py_ssize_t a = 0, b
    if off < 0:
        a = (-off + stride - 1) // stride
    if size - off > 0:
        b = (size - off + stride - 1) // stride
    else:
        b = 0
    if b > n_out:
        b = n_out
    if a > n_out:
        a = n_out
    if b < a:
        b = a
    lo[0] = a
    hi[0] = b


cdef inline void _im2col_rows_joined(const real* plane, real* r, Geom* g, Py_ssize_t row_off,
                                     Py_ssize_t off, Py_ssize_t lo, Py_ssize_t hi, Py_ssize_t oh0,
                                     Py_ssize_t oh1) noexcept nogil:
    # One im2col row (one tap) of a plane at unit stride whose output rows are as wide as its
    # input rows ("same" padding): output row oh reads input row oh + row_off shifted by off, so
    # the rows inside the plane are one contiguous run of x.  One copy of the run, then the
    # columns outside [lo, hi) (which the run filled from the neighbouring row) set to zero: a
    # copy per output row cost more than the GEMM itself on 7x7 planes.
    cdef Py_ssize_t first = min(max(oh0, -row_off), oh1)        # the output rows inside x
    cdef Py_ssize_t last = max(min(oh1, g.H - row_off), first)
    cdef Py_ssize_t oh, ow, Wo = g.Wo
    memset(r, 0, (first - oh0) * Wo * sizeof(real))
    if last > first:
        # from column lo of the first row to column hi of the last: never outside x
        memcpy(r + (first - oh0) * Wo + lo, plane + (first + row_off) * g.W + off + lo,
               ((last - first - 1) * Wo + hi - lo) * sizeof(real))
        for oh in range(first - oh0, last - oh0):
            for ow in range(lo):
                r[oh * Wo + ow] = 0
            for ow in range(hi, Wo):
                r[oh * Wo + ow] = 0
    memset(r + (last - oh0) * Wo, 0, (oh1 - last) * Wo * sizeof(real))


cdef void _im2col(const real* x, real* col, Py_ssize_t ld, Geom* g, Py_ssize_t c0,
                  Py_ssize_t c1, Py_ssize_t oh0, Py_ssize_t oh1) noexcept nogil:
    # col[(c, a, i, j), (od, oh, ow)] = x[c, od*sd - pd + a*dd, oh*sh - ph + i*dh, ow*sw - pw + j*dw]
    # (0 outside) for channels c0..c1 and output rows oh0..oh1 (all of them, or a tile of a
    # 2-D problem); rows of col are `ld` elements apart (several samples share a row, side by side)
    cdef Py_ssize_t c, a, i, j, od, oh, ow, id_, ih, off, lo, hi
    cdef Py_ssize_t HWo = (oh1 - oh0) * g.Wo
    cdef real* r
    cdef const real* src
    for c in range(c0, c1):
        for a in range(g.kd):
            for i in range(g.kh):
                for j in range(g.kw):
                    off = j * g.dw - g.pw
                    _valid_range(off, g.sw, g.W, g.Wo, &lo, &hi)
                    r = col + (((c * g.kd + a) * g.kh + i) * g.kw + j) * ld
                    for od in range(g.Do):
                        id_ = od * g.sd - g.pd + a * g.dd
                        if id_ < 0 or id_ >= g.D:
                            memset(r, 0, HWo * sizeof(real))
                            r += HWo
                            continue
                        if g.sw == 1 and g.sh == 1 and g.Wo == g.W:
                            _im2col_rows_joined(x + (c * g.D + id_) * g.H * g.W, r, g,
                                                i * g.dh - g.ph, off, lo, hi, oh0, oh1)
                            r += (oh1 - oh0) * g.Wo
                            continue
                        for oh in range(oh0, oh1):
                            ih = oh * g.sh - g.ph + i * g.dh
                            if ih < 0 or ih >= g.H:
                                memset(r, 0, g.Wo * sizeof(real))
                            else:
                                src = x + ((c * g.D + id_) * g.H + ih) * g.W + off
                                if lo > 0:
                                    memset(r, 0, lo * sizeof(real))
                                if g.sw == 1:
                                    memcpy(r + lo, src + lo, (hi - lo) * sizeof(real))
                                else:
                                    for ow in range(lo, hi):
                                        r[ow] = src[ow * g.sw]
                                if hi < g.Wo:
                                    memset(r + hi, 0, (g.Wo - hi) * sizeof(real))
                            r += g.Wo


cdef void _col2im(const real* col, Py_ssize_t ld, real* x, Geom* g, Py_ssize_t c0,
                  Py_ssize_t c1) noexcept nogil:
    # x[c, id, ih, iw] += col[(c, a, i, j), (od, oh, ow)] over every (a, i, j, od, oh, ow) reading
    # it, for channels c0..c1
    cdef Py_ssize_t c, a, i, j, od, oh, ow, id_, ih, off, lo, hi
    cdef Py_ssize_t HWo = g.Ho * g.Wo
    cdef const real* r
    cdef real* dst
    for c in range(c0, c1):
        for a in range(g.kd):
            for i in range(g.kh):
                for j in range(g.kw):
                    off = j * g.dw - g.pw
                    _valid_range(off, g.sw, g.W, g.Wo, &lo, &hi)
                    r = col + (((c * g.kd + a) * g.kh + i) * g.kw + j) * ld
                    for od in range(g.Do):
                        id_ = od * g.sd - g.pd + a * g.dd
                        if id_ < 0 or id_ >= g.D:
                            r += HWo
                            continue
                        for oh in range(g.Ho):
                            ih = oh * g.sh - g.ph + i * g.dh
                            if ih >= 0 and ih < g.H:
                                dst = x + ((c * g.D + id_) * g.H + ih) * g.W + off
                                if g.sw == 1:
                                    for ow in range(lo, hi):
                                        dst[ow] += r[ow]
                                else:
                                    for ow in range(lo, hi):
                                        dst[ow * g.sw] += r[ow]
                            r += g.Wo


cdef void _columns_of_images(real* x, real* col, Py_ssize_t ld, Py_ssize_t count, Geom* g,
                             bint adjoint, Py_ssize_t oh0, Py_ssize_t oh1) noexcept nogil:
    # im2col of `count` consecutive samples side by side (sample j from column j * HWo), or with
    # `adjoint` its adjoint (x[sample j] += col2im of its columns); output rows oh0..oh1 (a tile:
    # one sample of a 2-D problem, no adjoint); split by channels over the kernel threads
    cdef Py_ssize_t HWo = g.Do * (oh1 - oh0) * g.Wo
    cdef int parts = threads.parts_for(<double>count * g.C * g.kd * g.kh * g.kw * HWo)
    cdef int part
    if parts == 1:
        _channels_of_images(x, col, ld, count, g, adjoint, oh0, oh1, 0, g.C)
        return
    for part in prange(parts, num_threads=parts, schedule="static"):
        _channels_of_images(x, col, ld, count, g, adjoint, oh0, oh1,
                            threads.split_point(g.C, parts, part, 1),
                            threads.split_point(g.C, parts, part + 1, 1))


cdef void _channels_of_images(real* x, real* col, Py_ssize_t ld, Py_ssize_t count, Geom* g,
                              bint adjoint, Py_ssize_t oh0, Py_ssize_t oh1, Py_ssize_t c0,
                              Py_ssize_t c1) noexcept nogil:
    cdef Py_ssize_t in_size = g.C * g.D * g.H * g.W
    cdef Py_ssize_t HWo = g.Do * (oh1 - oh0) * g.Wo
    cdef Py_ssize_t j
    for j in range(count):
        if adjoint:
            _col2im(col + j * HWo, ld, x + j * in_size, g, c0, c1)
        else:
            _im2col(x + j * in_size, col + j * HWo, ld, g, c0, c1, oh0, oh1)


# ---------------------------------------------------------------------------------------
# Convolution
#
# Samples are processed `nb` at a time, side by side in the columns of one im2col buffer, so
# that each GEMM has n = nb * Ho * Wo columns: small per-sample GEMMs (LeNet's 8x8 outputs)
# waste most of their time in BLAS call and threading overhead.  With nb > 1 the GEMM result
# (F, nb * HWo) is scattered into y's (nb, F, HWo), and dY is gathered the other way; both
# copies are O(size of y), small next to the GEMMs.  Workspace: col (C*kd*kh*kw, nb*HWo), then
# the (F, nb*HWo) staging block.
#
# A pointwise convolution (1x1 kernel, unit stride, no padding) needs no im2col: x[n] already is
# its (C, HWo) column matrix, so the GEMMs run straight on x, y, dy and dx, one sample at a time
# (req 'add' through beta = 1), with no workspace.  Samples with few output pixels keep the
# general path's gather into wide GEMMs (see POINTWISE_COLUMNS).

cdef void _add_bias(real* y, const real* b, Py_ssize_t N, Py_ssize_t F,
                    Py_ssize_t size, const Epilogue* e) noexcept nogil:
    # y[n, f, :] = act(y[n, f, :] * scale[f] + b[f]) (see _epilogue.pxd; b may be NULL), split
    # by planes over the kernel threads
    cdef int part
    cdef int parts = threads.parts_for(<double>N * F * size)
    if b == NULL and is_identity(e):
        return
    if parts == 1:
        _add_bias_planes(y, b, F, size, e, 0, N * F)
        return
    for part in prange(parts, num_threads=parts, schedule="static"):
        _add_bias_planes(y, b, F, size, e, threads.split_point(N * F, parts, part, 1),
                         threads.split_point(N * F, parts, part + 1, 1))


cdef void _add_bias_planes(real* y, const real* b, Py_ssize_t F, Py_ssize_t size,
                           const Epilogue* e, Py_ssize_t first, Py_ssize_t last) noexcept nogil:
    cdef Py_ssize_t plane, f
    for plane in range(first, last):
        f = plane % F
        finish_row(y + plane * size, size, (<const real*>e.scale)[f] if e.scale != NULL else 1,
                   b[f] if b != NULL else 0, e)


cdef void _finish_columns(real* y, Py_ssize_t F, Py_ssize_t ld, Py_ssize_t width, const real* b,
                          const Epilogue* e) noexcept nogil:
    # y[f, :width] = act(y[f, :width] * scale[f] + b[f]) for F rows `ld` apart (b may be NULL):
    # a tile of output columns, finished while it is in cache
    cdef Py_ssize_t f
    if b == NULL and is_identity(e):
        return
    for f in range(F):
        finish_row(y + f * ld, width, (<const real*>e.scale)[f] if e.scale != NULL else 1,
                   b[f] if b != NULL else 0, e)


cdef struct PartRange:
    Py_ssize_t n0, n1, f0, f1


cdef inline PartRange _part_range(Py_ssize_t N, Py_ssize_t F, int parts, int part,
                                  Py_ssize_t filter_unit) noexcept nogil:
    # part `part` of `parts` of a forward over N samples and F filters: a share of the samples
    # where they split evenly, else every sample and a share of the filters cut at multiples of
    # filter_unit (a block's filters); one struct, so that prange keeps it private to a thread
    cdef PartRange r
    if N % parts == 0:
        r.n0 = threads.split_point(N, parts, part, 1)
        r.n1 = threads.split_point(N, parts, part + 1, 1)
        r.f0, r.f1 = 0, F
    else:
        r.n0, r.n1 = 0, N
        r.f0 = threads.split_point(F, parts, part, filter_unit)
        r.f1 = threads.split_point(F, parts, part + 1, filter_unit)
    return r


cdef extern from "_pointwise_block.h":
    bint CYSYM_POINTWISE_BLOCK
    int CYSYM_PW_FILTERS
    Py_ssize_t CYSYM_PW_MAX_WEIGHTS
    Py_ssize_t CYSYM_PW_MAX_PIXELS
    Py_ssize_t CYSYM_PW_MIN_STRIP_PIXELS
    void cysym_pointwise_f(const float* x, const float* w, Py_ssize_t wf, Py_ssize_t wc,
                           const float* scale, const float* bias, float* y, Py_ssize_t C,
                           Py_ssize_t F, Py_ssize_t HW, Py_ssize_t first, Py_ssize_t last, int add,
                           int act, float lo, float hi) noexcept nogil
    void cysym_pointwise_strips(const float* x, const float* w, Py_ssize_t wf, Py_ssize_t wc,
                                const float* scale, const float* bias, float* y, Py_ssize_t C,
                                Py_ssize_t F, Py_ssize_t HW, Py_ssize_t first, Py_ssize_t last,
                                int add, int act, float lo, float hi, float* packed,
                                Py_ssize_t strip) noexcept nogil
    Py_ssize_t cysym_pw_packed_floats(Py_ssize_t C, Py_ssize_t strip) noexcept nogil
    Py_ssize_t cysym_pw_strip(Py_ssize_t C) noexcept nogil


cdef inline Py_ssize_t _pointwise_block_way(Geom* g, Py_ssize_t C) noexcept nogil:
    # -1: OpenBLAS; 0: the blocks straight from x; else the pixels of the packed strips (C: the
    # product's inputs, the forward's C or the data gradient's F); see _pointwise_block.h
    cdef Py_ssize_t HWo = g.Do * g.Ho * g.Wo
    if not CYSYM_POINTWISE_BLOCK or g.G != 1:
        return -1
    if g.C * g.F <= CYSYM_PW_MAX_WEIGHTS and HWo <= CYSYM_PW_MAX_PIXELS:
        return 0
    if HWo >= CYSYM_PW_MIN_STRIP_PIXELS:
        return cysym_pw_strip(C)
    return -1


cdef void _pointwise_blocks(const float* x, const float* w, Py_ssize_t wf, Py_ssize_t wc,
                            const float* b, float* y, Py_ssize_t N, Py_ssize_t C, Py_ssize_t F,
                            Py_ssize_t HWo, int req, const Epilogue* e,
                            Py_ssize_t strip) noexcept nogil:
    # the AVX-512 and AVX2 builds' float32 product of a pointwise layer's weights (filter f's
    # for input c at w[f * wf + c * wc]) with each of N samples of C planes, without OpenBLAS
    # (_pointwise_block.h): the threads split the samples where they share them evenly, else the
    # filters (a thread's share of a 7x7 sample's 49 pixels would be a mostly empty block); the
    # work is the C multiply-adds of every output (counting outputs alone kept DenseNet's 1x1
    # layers at 14x14 and batch 1, 25088 outputs, on one thread: 1.01-1.08x on two); strip > 0:
    # in packed strips of that many pixels (cysym_pointwise_strips), or, where a thread's
    # packing buffer cannot be had, the blocks straight from x
    cdef Py_ssize_t n
    cdef const float* scale = <const float*>e.scale
    cdef int part
    cdef int parts = threads.parts_for(<double>N * F * HWo * C)
    cdef PartRange r
    cdef float* packed
    for part in prange(parts, num_threads=parts, schedule="static"):
        r = _part_range(N, F, parts, part, CYSYM_PW_FILTERS)
        packed = NULL
        if strip > 0:
            packed = <float*>malloc(cysym_pw_packed_floats(C, strip) * sizeof(float))
        for n in range(r.n0, r.n1):
            if packed != NULL:
                cysym_pointwise_strips(x + n * C * HWo, w + r.f0 * wf, wf, wc,
                                       scale + r.f0 if scale != NULL else NULL,
                                       b + r.f0 if b != NULL else NULL, y + (n * F + r.f0) * HWo,
                                       C, r.f1 - r.f0, HWo, 0, HWo, req == REQ_ADD, e.act,
                                       <float>e.lo, <float>e.hi, packed, strip)
            else:
                cysym_pointwise_f(x + n * C * HWo, w + r.f0 * wf, wf, wc,
                                  scale + r.f0 if scale != NULL else NULL,
                                  b + r.f0 if b != NULL else NULL, y + (n * F + r.f0) * HWo, C,
                                  r.f1 - r.f0, HWo, 0, HWo, req == REQ_ADD, e.act, <float>e.lo,
                                  <float>e.hi)
        free(packed)


cdef void _pointwise_forward(const real* x, const real* w, const real* b, real* y, Geom* g,
                             int req, const Epilogue* e, Py_ssize_t tile) noexcept nogil:
    # tile > 0: `tile` output columns at a time, finished (bias, scale, activation) while they
    # are in cache (see conv_tile_columns)
    cdef Py_ssize_t n, grp
    cdef Py_ssize_t HWo = g.Do * g.Ho * g.Wo
    cdef Py_ssize_t Fg = g.F // g.G, Cg = g.C // g.G
    cdef real beta = 1 if req == REQ_ADD else 0
    cdef Py_ssize_t way
    if req == REQ_NULL:
        return
    if real is float:
        way = _pointwise_block_way(g, g.C)
        if way >= 0:
            _pointwise_blocks(x, w, g.C, 1, b, y, g.N, g.C, g.F, HWo, req, e, way)
            return
    if tile > 0:
        _pointwise_tiles(x, w, b, y, g, req, e, tile)
        return
    for n in range(g.N):
        for grp in range(g.G):
            # y[n, group] (+)= w[group] @ x[n, group]   (Fg x Cg) @ (Cg x HWo)
            gemm(False, False, <int>Fg, <int>HWo, <int>Cg, <real>1, w + grp * Fg * Cg, <int>Cg,
                 x + (n * g.C + grp * Cg) * HWo, <int>HWo, beta,
                 y + (n * g.F + grp * Fg) * HWo, <int>HWo)
    _add_bias(y, b, g.N, g.F, HWo, e)


cdef void _pointwise_tiles(const real* x, const real* w, const real* b, real* y, Geom* g,
                           int req, const Epilogue* e, Py_ssize_t tile) noexcept nogil:
    # whole tiles over the kernel threads, each tile's GEMMs on one thread: split further, a
    # tile's GEMMs were too narrow to gain (MobileNet's 128x56x56 layer ran slower on 2 threads
    # than on 1), and a tile's numbers do not depend on the thread count
    cdef Py_ssize_t HWo = g.Do * g.Ho * g.Wo
    cdef Py_ssize_t per_sample = (HWo + tile - 1) // tile
    cdef Py_ssize_t t
    cdef int parts = threads.parts_for(<double>g.N * g.F * HWo)
    if parts == 1:
        for t in range(g.N * per_sample):
            _pointwise_tile(x, w, b, y, g, req, e, tile, t // per_sample, t % per_sample * tile)
    else:
        for t in prange(g.N * per_sample, num_threads=parts, schedule="static"):
            _pointwise_tile(x, w, b, y, g, req, e, tile, t // per_sample, t % per_sample * tile)


cdef void _pointwise_tile(const real* x, const real* w, const real* b, real* y, Geom* g, int req,
                          const Epilogue* e, Py_ssize_t tile, Py_ssize_t n,
                          Py_ssize_t p0) noexcept nogil:
    # output columns p0 .. p0 + tile of sample n
    cdef Py_ssize_t grp
    cdef Py_ssize_t HWo = g.Do * g.Ho * g.Wo
    cdef Py_ssize_t Fg = g.F // g.G, Cg = g.C // g.G
    cdef Py_ssize_t width = min(tile, HWo - p0)
    cdef real beta = 1 if req == REQ_ADD else 0
    cdef real* yn = y + n * g.F * HWo
    for grp in range(g.G):
        gemm_unsplit(False, False, <int>Fg, <int>width, <int>Cg, <real>1, w + grp * Fg * Cg,
                     <int>Cg, x + (n * g.C + grp * Cg) * HWo + p0, <int>HWo, beta,
                     yn + grp * Fg * HWo + p0, <int>HWo)
    _finish_columns(yn + p0, g.F, HWo, width, b, e)


cdef void _pointwise_backward(const real* dy, const real* x, const real* w, real* dx, real* dw,
                              real* db, Geom* g, int req_dx, int req_dw, int req_db) noexcept nogil:
    cdef Py_ssize_t n, grp, f
    cdef Py_ssize_t HWo = g.Do * g.Ho * g.Wo
    cdef Py_ssize_t Fg = g.F // g.G, Cg = g.C // g.G
    cdef real beta_dx = 1 if req_dx == REQ_ADD else 0
    cdef const real* dyn
    cdef bint blocks_dx = False
    cdef Py_ssize_t way
    if real is float:
        # dx = w.T @ dy through the forward's blocks, the weights read transposed
        way = _pointwise_block_way(g, g.F)
        blocks_dx = way >= 0 and req_dx != REQ_NULL
        if blocks_dx:
            _pointwise_blocks(dy, w, 1, g.C, NULL, dx, g.N, g.F, g.C, HWo, req_dx, &NO_EPILOGUE,
                              way)
    if req_dw == REQ_WRITE:
        memset(dw, 0, g.F * Cg * sizeof(real))
    if req_db == REQ_WRITE:
        memset(db, 0, g.F * sizeof(real))
    for n in range(g.N):
        dyn = dy + n * g.F * HWo
        if req_db != REQ_NULL:
            for f in range(g.F):
                db[f] += <real>_sum(dyn + f * HWo, HWo)
        for grp in range(g.G):
            if req_dw != REQ_NULL:
                # dw[group] += dy[n, group] @ x[n, group].T   (Fg x HWo) @ (HWo x Cg)
                gemm(False, True, <int>Fg, <int>Cg, <int>HWo, <real>1, dyn + grp * Fg * HWo,
                     <int>HWo, x + (n * g.C + grp * Cg) * HWo, <int>HWo, <real>1,
                     dw + grp * Fg * Cg, <int>Cg)
            if req_dx != REQ_NULL and not blocks_dx:
                # dx[n, group] (+)= w[group].T @ dy[n, group]   (Cg x Fg) @ (Fg x HWo)
                gemm(True, False, <int>Cg, <int>HWo, <int>Fg, <real>1, w + grp * Fg * Cg, <int>Cg,
                     dyn + grp * Fg * HWo, <int>HWo, beta_dx, dx + (n * g.C + grp * Cg) * HWo,
                     <int>HWo)

# A depthwise convolution (num_group == C == F, 1-D or 2-D) is C independent single-channel
# filters: a GEMM per group would have one row, so these loops run it directly.  The forward
# (and the data gradient at stride 1, pad 1) copies each plane, padded and split by the
# stride's phases, into a per-thread scratch (_split_phases), so that every tap reads its
# phase contiguously, then sums the taps in one flat, branch-free loop over all output rows
# (_depthwise_taps).  Against the direct loops over x it replaced (one thread, float32, fused
# BatchNorm + relu, best of 200): MobileNet's stride-2 layer 64x112x112 0.56 -> 0.33 ms, the
# stride-1 128x56x56 one 0.29 -> 0.24 ms.  The backward goes through the same phases
# (_depthwise_backward_plane), except the stride-1, pad-1 3x3 case, whose weight gradient takes
# for each kernel row's tap the output columns where it reads inside x, computed once per call
# (_tap_columns: divisions, which would otherwise cost more than a short row's arithmetic).
# No planned workspace: the scratch is allocated per call and thread.
# The AVX-512 build runs float32 3x3 forwards at stride 1 and 2 without the copy, straight from
# x's rows with masked multiply-adds (_depthwise_rows.h).  One thread, fused BatchNorm + relu,
# batch 1, best of 300, against the copies and the interleaved groups: MobileNet v1/v2's 18
# depthwise layers 1642 -> 817-873 us in all, 32x112x112 134 -> 82, 64x112x112 at stride 2
# 154 -> 88, 512x14x14 71 -> 23, 1024x7x7 37 -> 26.

cdef inline double _dot(const real* a, const real* b, Py_ssize_t n) noexcept nogil:
    # sum of a[k] * b[k] over [0:n] (one row or a whole plane: the caller adds them up in
    # float64), in partial sums (see _math._sum) of a's type, which vectorize without conversions
    cdef real s0 = 0, s1 = 0, s2 = 0, s3 = 0
    cdef real sums[32]
    cdef Py_ssize_t k = 0, t
    if n >= 32:
        # 32 sums: four AVX2 vectors (eight SSE2 ones) whose multiply-adds do not wait on each
        # other; with one vector of sums, each waits for the last (FMA latency), 4x slower
        for t in range(32):
            sums[t] = 0
        while k + 32 <= n:
            for t in range(32):
                sums[t] += a[k + t] * b[k + t]
            k += 32
        for t in range(8):
            s0 += sums[t]
            s1 += sums[8 + t]
            s2 += sums[16 + t]
            s3 += sums[24 + t]
    while k + 4 <= n:
        s0 += a[k] * b[k]
        s1 += a[k + 1] * b[k + 1]
        s2 += a[k + 2] * b[k + 2]
        s3 += a[k + 3] * b[k + 3]
        k += 4
    while k < n:
        s0 += a[k] * b[k]
        k += 1
    return <double>((s0 + s1) + (s2 + s3))


cdef inline void _tap_columns(Geom* g, Py_ssize_t* cols) noexcept nogil:
    # cols[2j], cols[2j + 1]: [lo, hi), the output columns whose tap j of a kernel row reads
    # inside x (kw <= DEPTHWISE_TAPS, see _depthwise)
    cdef Py_ssize_t j
    for j in range(g.kw):
        _valid_range(j * g.dw - g.pw, g.sw, g.W, g.Wo, &cols[2 * j], &cols[2 * j + 1])


cdef inline Py_ssize_t _phase_width(Geom* g) noexcept nogil:
    # columns of each stride phase of the padded plane (see _split_phases)
    return (g.W + 2 * g.pw + g.sw - 1) // g.sw


cdef inline Py_ssize_t _phase_size(Geom* g) noexcept nogil:
    # elements of each stride phase: its rows and one more, which the flat pass over an output
    # row's columns past Wo reads at the last row (see _depthwise_taps)
    return ((g.H + 2 * g.ph + g.sh - 1) // g.sh + 1) * _phase_width(g)


cdef inline Py_ssize_t _depthwise_band(Geom* g) noexcept nogil:
    # output rows of one band of a depthwise plane (see _depthwise_plane)
    return min(g.Ho, max(1, DEPTHWISE_BAND // _phase_width(g)))


cdef inline Py_ssize_t _depthwise_scratch(Geom* g) noexcept nogil:
    # elements of one thread's scratch: the sh * sw phases, then one band's flat output rows
    return g.sh * g.sw * _phase_size(g) + _depthwise_band(g) * _phase_width(g)


cdef void _split_phases(const real* xp, real* phases, Geom* g, Py_ssize_t r0,
                        Py_ssize_t r1) noexcept nogil:
    # Rows r0..r1 of the plane xp, padded (r0 a multiple of sh), split by the stride's phases:
    # padded pixel (r, c) goes to phase (r % sh, c % sw), at row r // sh - r0 // sh and column
    # c // sw.  Every tap then reads its phase at a fixed offset, contiguously (at stride 2 the
    # taps would read every other column: no vector loads).  Only pixels of x are written: the
    # padding stays as the caller zeroed it.
    cdef Py_ssize_t r, pc, c0, k, n, row_phase, row, first, last
    cdef Py_ssize_t Wq = _phase_width(g), size = _phase_size(g)
    cdef const real* src
    cdef real* dst
    first = max(r0, g.ph)                       # the padded rows of x in r0..r1
    last = min(r1, g.ph + g.H)
    for pc in range(g.sw):
        c0 = (pc + g.sw - g.pw % g.sw) % g.sw     # the first column of x in phase pc
        if c0 >= g.W:
            continue
        n = (g.W - c0 + g.sw - 1) // g.sw
        row_phase = first % g.sh
        row = first // g.sh - r0 // g.sh
        for r in range(first, last):
            dst = phases + (row_phase * g.sw + pc) * size + row * Wq + (c0 + g.pw) // g.sw
            src = xp + (r - g.ph) * g.W + c0
            # loops, not memcpy: rows can be 7 wide; a constant stride 2 vectorizes
            if g.sw == 1:
                for k in range(n):
                    dst[k] = src[k]
            elif g.sw == 2:
                for k in range(n):
                    dst[k] = src[2 * k]
            else:
                for k in range(n):
                    dst[k] = src[k * g.sw]
            row_phase += 1
            if row_phase == g.sh:
                row_phase = 0
                row += 1


cdef inline const real* _tap_source(const real* phases, Geom* g, Py_ssize_t i,
                                    Py_ssize_t j) noexcept nogil:
    # where tap (i, j) reads for output 0: its phase at its row and column offset
    cdef Py_ssize_t r = i * g.dh, c = j * g.dw
    return (phases + ((r % g.sh) * g.sw + c % g.sw) * _phase_size(g)
            + (r // g.sh) * _phase_width(g) + c // g.sw)


cdef void _depthwise_taps(const real* phases, const real* wc, real bias, real* out,
                          Geom* g, Py_ssize_t rows) noexcept nogil:
    # out[oh * Wq + ow] = bias + sum of the taps for `rows` output rows (oh, ow), ow running on
    # to Wq (those columns are not used): one flat loop over all rows, which vectorizes however
    # narrow they are (MobileNet's are 7 to 112 wide).  3x3 undilated kernels at stride 1 and 2
    # read through one pointer per kernel row and column phase, the taps at fixed offsets from
    # it (nine pointers would not fit in registers).
    cdef Py_ssize_t p, i, j
    cdef Py_ssize_t n = rows * _phase_width(g)
    cdef const real* r0
    cdef const real* r1
    cdef const real* r2
    cdef const real* q0
    cdef const real* q1
    cdef const real* q2
    cdef real w0, w1, w2, w3, w4, w5, w6, w7, w8, wv
    if g.kh == 3 and g.kw == 3 and g.dh == 1 and g.dw == 1 and g.sw <= 2:
        w0 = wc[0]; w1 = wc[1]; w2 = wc[2]; w3 = wc[3]; w4 = wc[4]; w5 = wc[5]
        w6 = wc[6]; w7 = wc[7]; w8 = wc[8]
        r0 = _tap_source(phases, g, 0, 0); r1 = _tap_source(phases, g, 1, 0)
        r2 = _tap_source(phases, g, 2, 0)
        if g.sw == 1:
            for p in range(n):
                out[p] = (bias + w0 * r0[p] + w1 * r0[p + 1] + w2 * r0[p + 2]
                          + w3 * r1[p] + w4 * r1[p + 1] + w5 * r1[p + 2]
                          + w6 * r2[p] + w7 * r2[p + 1] + w8 * r2[p + 2])
            return
        # stride 2: columns 0 and 2 of a kernel row in the even phase (r), column 1 in the odd (q)
        q0 = _tap_source(phases, g, 0, 1); q1 = _tap_source(phases, g, 1, 1)
        q2 = _tap_source(phases, g, 2, 1)
        for p in range(n):
            out[p] = (bias + w0 * r0[p] + w1 * q0[p] + w2 * r0[p + 1]
                      + w3 * r1[p] + w4 * q1[p] + w5 * r1[p + 1]
                      + w6 * r2[p] + w7 * q2[p] + w8 * r2[p + 1])
        return
    for p in range(n):
        out[p] = bias
    for i in range(g.kh):
        for j in range(g.kw):
            r0 = _tap_source(phases, g, i, j)
            wv = wc[i * g.kw + j]
            for p in range(n):
                out[p] += wv * r0[p]


cdef void _depthwise_plane(const real* xp, const real* wc, real* yc, Geom* g, real* scratch,
                           int req, real scale, real bias, const Epilogue* e) noexcept nogil:
    # one channel plane of the depthwise forward, through the caller's scratch
    # (_depthwise_scratch elements), in bands of output rows whose phases and sums stay in the
    # first-level cache (a whole 112x112 plane's were 100 KB): with req write,
    # yc = act(conv * scale + bias), finished row by row as it is copied out; with req add,
    # yc += conv + bias
    cdef Py_ssize_t oh, ow, oh0, oh1, r0, r1, touched, k
    cdef Py_ssize_t Wq = _phase_width(g), size = _phase_size(g)
    cdef Py_ssize_t band = _depthwise_band(g)
    cdef real* rows = scratch + g.sh * g.sw * size
    cdef real* yr
    cdef const real* tr
    oh0 = 0
    while oh0 < g.Ho:
        oh1 = min(oh0 + band, g.Ho)
        r0 = oh0 * g.sh                                     # the padded rows the band reads
        r1 = (oh1 - 1) * g.sh + (g.kh - 1) * g.dh + 1
        touched = min(((r1 - r0 + g.sh - 1) // g.sh + 1) * Wq, size)
        for k in range(g.sh * g.sw):
            memset(scratch + k * size, 0, touched * sizeof(real))
        _split_phases(xp, scratch, g, r0, r1)
        _depthwise_taps(scratch, wc, 0, rows, g, oh1 - oh0)
        for oh in range(oh0, oh1):
            yr = yc + oh * g.Wo
            tr = rows + (oh - oh0) * Wq
            if req == REQ_WRITE:
                finish_copy(yr, tr, g.Wo, scale, bias, e)
            else:
                for ow in range(g.Wo):
                    yr[ow] += tr[ow] + bias
        oh0 = oh1


cdef extern from "_depthwise_lanes.h":
    Py_ssize_t CYSYM_LANES_F
    Py_ssize_t CYSYM_LANES_D
    void cysym_depthwise_lanes_f(const float* inp, Py_ssize_t in_width, Py_ssize_t stride,
                                 const float* weights, float* out, Py_ssize_t out_height,
                                 Py_ssize_t out_width) noexcept nogil
    void cysym_depthwise_lanes_d(const double* inp, Py_ssize_t in_width, Py_ssize_t stride,
                                 const double* weights, double* out, Py_ssize_t out_height,
                                 Py_ssize_t out_width) noexcept nogil


cdef extern from "_depthwise_rows.h":
    bint CYSYM_DEPTHWISE_ROWS
    ctypedef struct cysym_dw_layer:
        pass
    void cysym_dw_prepare(cysym_dw_layer* layer, Py_ssize_t H, Py_ssize_t W, Py_ssize_t stride,
                          Py_ssize_t ph, Py_ssize_t pw, Py_ssize_t Ho, Py_ssize_t Wo, int add,
                          int act, float lo, float hi) noexcept nogil
    void cysym_dw_forward(const cysym_dw_layer* layer, const float* x, Py_ssize_t x_size,
                          const float* weights, int flip, const float* scale, const float* bias,
                          float* y, Py_ssize_t C, Py_ssize_t first, Py_ssize_t count,
                          Py_ssize_t step) noexcept nogil
    void cysym_dw_weight_sums(const cysym_dw_layer* layer, const float* x, Py_ssize_t x_size,
                              const float* dy, Py_ssize_t dy_size, Py_ssize_t first,
                              Py_ssize_t count, Py_ssize_t step, double* sums) noexcept nogil
    void cysym_dw_transposed(const cysym_dw_layer* layer, const float* dy, Py_ssize_t dy_size,
                             const float* weights, float* dx, Py_ssize_t C, Py_ssize_t first,
                             Py_ssize_t count, Py_ssize_t step) noexcept nogil


cdef inline bint _stride_1_or_2_3x3(Geom* g) noexcept nogil:
    # the 2-D kernels the row and interleaved paths take: 3x3 undilated, stride 1 or 2
    return g.kh == 3 and g.kw == 3 and g.dh == 1 and g.dw == 1 and g.sh == g.sw and g.sh <= 2


cdef inline bint _rows(Geom* g, bint single) noexcept nogil:
    # whether the row kernel (_depthwise_rows.h, float32 in the AVX-512 build) takes the planes
    return CYSYM_DEPTHWISE_ROWS and single and _stride_1_or_2_3x3(g)


cdef inline Py_ssize_t _lanes(Geom* g, bint single) noexcept nogil:
    # channels per group of the interleaved path (_depthwise_lanes), or 0 where it does not
    # apply: planes the row kernel does not take, of 3x3 undilated kernels at stride 1 or 2, with
    # at most DEPTHWISE_LANES_OUTPUTS output pixels per plane
    if (_rows(g, single) or not _stride_1_or_2_3x3(g)
            or g.Ho * g.Wo > DEPTHWISE_LANES_OUTPUTS):
        return 0
    return CYSYM_LANES_F if single else CYSYM_LANES_D


cdef inline Py_ssize_t _lanes_scratch(Geom* g, Py_ssize_t lanes) noexcept nogil:
    # elements of one thread's scratch for the interleaved path: the group's padded planes, its
    # interleaved sums, the interleaved taps
    return ((g.H + 2 * g.ph) * (g.W + 2 * g.pw) + g.Ho * g.Wo + 9) * lanes


cdef void _depthwise_lanes(const real* xp, const real* w, const real* b, real* yp, Geom* g,
                           real* scratch, Py_ssize_t lanes, Py_ssize_t c0, int req,
                           const Epilogue* e) noexcept nogil:
    # channels c0..c0 + lanes of one sample (planes xp, yp), interleaved: pixel (r, q) of channel
    # c0 + l at padded[(r * Wp + q) * lanes + l] (see _depthwise_lanes.h), then each output plane
    # taken out of the sums and finished as _depthwise_plane finishes its rows (for one pixel,
    # the group's values move together: the loops run over channels innermost)
    cdef Py_ssize_t Wp = g.W + 2 * g.pw, HWo = g.Ho * g.Wo, l, r, q, p, c
    cdef real* padded = scratch
    cdef real* sums = padded + (g.H + 2 * g.ph) * Wp * lanes
    cdef real* taps = sums + HWo * lanes
    cdef const real* src
    cdef real* dst
    cdef real bias
    memset(padded, 0, (g.H + 2 * g.ph) * Wp * lanes * sizeof(real))
    for r in range(g.H):
        for q in range(g.W):
            dst = padded + ((r + g.ph) * Wp + q + g.pw) * lanes
            src = xp + r * g.W + q
            for l in range(lanes):
                dst[l] = src[l * g.H * g.W]
    for l in range(lanes):
        for p in range(9):
            taps[p * lanes + l] = w[(c0 + l) * 9 + p]
    if real is float:
        cysym_depthwise_lanes_f(padded, Wp, g.sh, taps, sums, g.Ho, g.Wo)
    else:
        cysym_depthwise_lanes_d(padded, Wp, g.sh, taps, sums, g.Ho, g.Wo)
    if req == REQ_WRITE:
        # the sums straight into y's planes (a pixel's sums are one contiguous load), then
        # finished there
        for p in range(HWo):
            for l in range(lanes):
                yp[l * HWo + p] = sums[p * lanes + l]
    for l in range(lanes):
        c = c0 + l
        bias = b[c] if b != NULL else 0
        if req == REQ_WRITE:
            finish_copy(yp + l * HWo, yp + l * HWo, HWo,
                        (<const real*>e.scale)[c] if e.scale != NULL else 1, bias, e)
        else:
            for p in range(HWo):
                yp[l * HWo + p] += sums[p * lanes + l] + bias


cdef bint _depthwise_forward(const real* x, const real* w, const real* b, real* y, Geom* g,
                             int req, const Epilogue* e) noexcept nogil:
    # False: a thread's scratch could not be allocated
    cdef int parts, part, failed = 0
    # threads split at whole groups of the interleaved path where it applies
    cdef Py_ssize_t unit = max(1, _lanes(g, real is float))
    if req == REQ_NULL:
        return True
    parts = threads.parts_for(<double>g.N * g.C * (g.H * g.W + g.Ho * g.Wo))
    if parts == 1:
        return _depthwise_planes(x, w, b, y, g, req, e, 0, g.N * g.C)
    for part in prange(parts, num_threads=parts, schedule="static"):
        failed += not _depthwise_planes(x, w, b, y, g, req, e,
                                        threads.split_point(g.N * g.C, parts, part, unit),
                                        threads.split_point(g.N * g.C, parts, part + 1, unit))
    return failed == 0


cdef bint _depthwise_planes(const real* x, const real* w, const real* b, real* y, Geom* g,
                            int req, const Epilogue* e, Py_ssize_t first,
                            Py_ssize_t last) noexcept nogil:
    # planes first..last (plane = n * C + c) of the depthwise forward: each through the row
    # kernel where it applies; else whole groups of channels interleaved where that path
    # applies, the channels left one plane at a time (the same bits either way)
    cdef Py_ssize_t plane, c
    cdef Py_ssize_t K = g.kh * g.kw
    cdef Py_ssize_t lanes = _lanes(g, real is float)
    cdef real* scratch
    cdef cysym_dw_layer layer
    if real is float:
        if _rows(g, True):
            cysym_dw_prepare(&layer, g.H, g.W, g.sh, g.ph, g.pw, g.Ho, g.Wo, req == REQ_ADD, e.act,
                             <real>e.lo, <real>e.hi)
            cysym_dw_forward(&layer, x, g.N * g.C * g.H * g.W, w, False, <const real*>e.scale, b, y,
                             g.C, first, last - first, 1)
            return True
    scratch = <real*>malloc(max(_depthwise_scratch(g), _lanes_scratch(g, lanes)) * sizeof(real))
    if scratch == NULL:
        return False
    plane = first
    while plane < last:
        c = plane % g.C
        if lanes and c % lanes == 0 and c + lanes <= g.C and plane + lanes <= last:
            _depthwise_lanes(x + plane * g.H * g.W, w, b, y + plane * g.Ho * g.Wo, g, scratch,
                             lanes, c, req, e)
            plane += lanes
            continue
        _depthwise_plane(x + plane * g.H * g.W, w + c * K, y + plane * g.Ho * g.Wo, g, scratch,
                         req, (<const real*>e.scale)[c] if e.scale != NULL else 1,
                         b[c] if b != NULL else 0, e)
        plane += 1
    free(scratch)
    return True


cdef double _depthwise_tap_sum_3x3(const real* dy, const real* x, Geom* g, Py_ssize_t* cols,
                                   Py_ssize_t i, Py_ssize_t j) noexcept nogil:
    # dw[i, j] of one plane of a 3x3, stride-1, pad-1 depthwise convolution (output as large as
    # x): sum over p of dy[p] * x[p + o], o = (i-1)W + (j-1).  The inner rows as one flat dot
    # product (long, so it vectorizes whatever the row width), less the terms where a first or
    # last column wrapped into the neighbouring row, plus the first and last rows row by row.
    cdef Py_ssize_t W = g.W, H = g.H, oh, ow, p, q, k
    cdef Py_ssize_t o = (i - 1) * W + (j - 1)
    cdef Py_ssize_t begin = W + 1, end = (H - 1) * W - 1     # reads stay inside the plane
    cdef double total = _dot(dy + begin, x + begin + o, end - begin)
    for oh in range(1, H - 1):
        for k in range(2):
            ow = 0 if k == 0 else W - 1
            p = oh * W + ow
            if begin <= p < end:
                total -= <double>dy[p] * x[p + o]
            q = ow + j - 1
            if 0 <= q < W:
                total += <double>dy[p] * x[(oh + i - 1) * W + q]
    for k in range(2):
        oh = 0 if k == 0 else H - 1
        if 0 <= oh + i - 1 < H:
            total += _dot(dy + oh * W + cols[2 * j], x + (oh + i - 1) * W + j - 1 + cols[2 * j],
                          cols[2 * j + 1] - cols[2 * j])
    return total


cdef bint _depthwise_backward(const real* dy, const real* x, const real* w, real* dx, real* dw,
                              real* db, Geom* g, int req_dx, int req_dw,
                              int req_db) noexcept nogil:
    # channels are independent: split over the kernel threads; False: a thread's scratch could
    # not be allocated
    cdef int part, failed = 0
    cdef int parts = threads.parts_for(3.0 * g.N * g.C * (g.H * g.W + g.Ho * g.Wo))
    if parts == 1:
        return _depthwise_backward_channels(dy, x, w, dx, dw, db, g, req_dx, req_dw, req_db, 0,
                                            g.C)
    for part in prange(parts, num_threads=parts, schedule="static"):
        failed += not _depthwise_backward_channels(dy, x, w, dx, dw, db, g, req_dx, req_dw,
                                                   req_db, threads.split_point(g.C, parts, part, 1),
                                                   threads.split_point(g.C, parts, part + 1, 1))
    return failed == 0


cdef void _merge_phases(const real* phases, real* xp, Geom* g, int req) noexcept nogil:
    # The inverse of _split_phases over the whole plane: xp[r, c] (+)= the value at padded pixel
    # (r + ph, c + pw) of `phases` (the padding is dropped)
    cdef Py_ssize_t r, pc, c0, k, n, rp
    cdef Py_ssize_t Wq = _phase_width(g), size = _phase_size(g)
    cdef const real* src
    cdef real* dst
    for pc in range(g.sw):
        c0 = (pc + g.sw - g.pw % g.sw) % g.sw     # the first column of x in phase pc
        if c0 >= g.W:
            continue
        n = (g.W - c0 + g.sw - 1) // g.sw
        for r in range(g.H):
            rp = r + g.ph
            src = phases + ((rp % g.sh) * g.sw + pc) * size + (rp // g.sh) * Wq + (c0 + g.pw) // g.sw
            dst = xp + r * g.W + c0
            if req == REQ_WRITE:
                for k in range(n):
                    dst[k * g.sw] = src[k]
            else:
                for k in range(n):
                    dst[k * g.sw] += src[k]


cdef inline Py_ssize_t _backward_phases_scratch(Geom* g) noexcept nogil:
    # elements of one thread's scratch for _depthwise_backward_plane: x's phases, the data
    # gradient's phases, dy with rows Wq apart
    return 2 * g.sh * g.sw * _phase_size(g) + g.Ho * _phase_width(g)


cdef void _depthwise_backward_plane(const real* dyp, const real* xp, const real* wc, real* dxp,
                                    double* dw_sums, Geom* g, real* scratch,
                                    int req_dx) noexcept nogil:
    # One plane of the depthwise backward through the forward's stride phases: dy is laid out
    # with rows Wq apart (zeros past Wo), so that each tap (i, j), which reads its phase at a
    # fixed offset (_tap_source), adds dy . phase to dw_sums[tap] (if given) and w[tap] * dy
    # into the data gradient's phases, each as one flat, contiguous loop over all rows; the
    # gradient's phases are then merged back into dxp (if given).  Replaces per-row loops that
    # read (dW) and scattered (dX) every sw-th element.
    cdef Py_ssize_t Wq = _phase_width(g), size = _phase_size(g), phases = g.sh * g.sw * size
    cdef Py_ssize_t n = g.Ho * Wq, oh, i, j, p
    cdef real* x_phases = scratch
    cdef real* dx_phases = scratch + phases
    cdef real* dyq = dx_phases + phases
    cdef const real* src
    cdef real* dst
    cdef real wv
    for oh in range(g.Ho):
        memcpy(dyq + oh * Wq, dyp + oh * g.Wo, g.Wo * sizeof(real))
        memset(dyq + oh * Wq + g.Wo, 0, (Wq - g.Wo) * sizeof(real))
    if dw_sums != NULL:
        memset(x_phases, 0, phases * sizeof(real))
        _split_phases(xp, x_phases, g, 0, g.H + 2 * g.ph)
        for i in range(g.kh):
            for j in range(g.kw):
                dw_sums[i * g.kw + j] += _dot(dyq, _tap_source(x_phases, g, i, j), n)
    if dxp == NULL:
        return
    memset(dx_phases, 0, phases * sizeof(real))
    for i in range(g.kh):
        for j in range(g.kw):
            # _tap_source's offset, for the gradient's phases
            dst = dx_phases + (<const real*>_tap_source(dx_phases, g, i, j) - dx_phases)
            wv = wc[i * g.kw + j]
            for p in range(n):
                dst[p] += wv * dyq[p]
    _merge_phases(dx_phases, dxp, g, req_dx)


cdef void _depthwise_backward_rows(const float* dy, const float* x, const float* w, float* dx,
                                   float* dw, Geom* g, int req_dx, int req_dw, Py_ssize_t c0,
                                   Py_ssize_t c1) noexcept nogil:
    # channels c0..c1 of the weight and data gradients through the row kernels
    # (_depthwise_rows.h).  At stride 1, dx is the forward of dy with the kernel turned 180
    # degrees and padding 2 - pad (a negative one crops), as large as x; at stride 2, each of
    # dx's columns gathers from every other column of dy.
    cdef Py_ssize_t c, k
    cdef double sums[9]
    cdef cysym_dw_layer layer, transposed
    cysym_dw_prepare(&layer, g.H, g.W, g.sh, g.ph, g.pw, g.Ho, g.Wo, req_dx == REQ_ADD,
                     ACT_NONE, 0, 0)
    if g.sh == 1:
        cysym_dw_prepare(&transposed, g.Ho, g.Wo, 1, 2 - g.ph, 2 - g.pw, g.H, g.W,
                         req_dx == REQ_ADD, ACT_NONE, 0, 0)
    for c in range(c0, c1):
        # the channel's planes: c, c + C, ... (one per sample)
        if req_dw != REQ_NULL:
            for k in range(9):
                sums[k] = 0
            cysym_dw_weight_sums(&layer, x, g.N * g.C * g.H * g.W, dy, g.N * g.C * g.Ho * g.Wo,
                                 c, g.N, g.C, sums)
            for k in range(9):
                dw[c * 9 + k] = <float>sums[k] + (dw[c * 9 + k] if req_dw == REQ_ADD else 0)
        if req_dx != REQ_NULL and g.sh == 1:
            cysym_dw_forward(&transposed, dy, g.N * g.C * g.Ho * g.Wo, w, True, NULL, NULL, dx,
                             g.C, c, g.N, g.C)
        elif req_dx != REQ_NULL:
            cysym_dw_transposed(&layer, dy, g.N * g.C * g.Ho * g.Wo, w, dx, g.C, c, g.N, g.C)


cdef bint _depthwise_backward_channels(const real* dy, const real* x, const real* w, real* dx,
                                       real* dw, real* db, Geom* g, int req_dx, int req_dw,
                                       int req_db, Py_ssize_t c0, Py_ssize_t c1) noexcept nogil:
    cdef Py_ssize_t n, c, i, j, k
    cdef Py_ssize_t K = g.kh * g.kw, HW = g.H * g.W, HWo = g.Ho * g.Wo
    cdef Py_ssize_t cols[2 * DEPTHWISE_TAPS]
    cdef double total
    cdef double dw_sums[DEPTHWISE_TAPS * DEPTHWISE_TAPS]
    cdef real flipped[9]
    cdef real* scratch = NULL
    cdef bint same_size_3x3 = (g.kh == 3 and g.kw == 3 and g.dh == 1 and g.dw == 1 and g.sh == 1
                               and g.sw == 1 and g.ph == 1 and g.pw == 1)
    # the stride-1 3x3 path: the forward for dx, and on small planes its own weight gradient
    # (tap sums, whose per-row corrections of the flat dot products form one dependent chain:
    # through the phases instead, dW of MobileNet's layers at batch 32 took 0.79x the time at
    # 56x56 and 0.66x at 14x14, but 1.05x at 7x7)
    cdef bint through_phases = not (same_size_3x3 and g.H >= 3 and g.W >= 3
                                    and g.H * g.W <= TAP_SUM_MAX_PIXELS)
    cdef bint phases_dx
    if real is float:
        if _rows(g, True):
            _depthwise_backward_rows(dy, x, w, dx, dw, g, req_dx, req_dw, c0, c1)
            req_dx = REQ_NULL
            req_dw = REQ_NULL
    phases_dx = req_dx != REQ_NULL and not same_size_3x3
    _tap_columns(g, cols)
    if req_dx != REQ_NULL or (req_dw != REQ_NULL and through_phases):
        scratch = <real*>malloc(max(_depthwise_scratch(g), _backward_phases_scratch(g))
                                * sizeof(real))
        if scratch == NULL:
            return False
    for c in range(c0, c1):
        if req_db != REQ_NULL:
            total = 0
            for n in range(g.N):
                total += _sum(dy + (n * g.C + c) * HWo, HWo)
            db[c] = <real>total + (db[c] if req_db == REQ_ADD else 0)
        if req_dw != REQ_NULL and not through_phases:
            for i in range(3):
                for j in range(3):
                    total = 0
                    for n in range(g.N):
                        total += _depthwise_tap_sum_3x3(dy + (n * g.C + c) * HW,
                                                        x + (n * g.C + c) * HW, g, cols, i, j)
                    dw[c * 9 + 3 * i + j] = <real>total + (
                        dw[c * 9 + 3 * i + j] if req_dw == REQ_ADD else 0)
        if (req_dw != REQ_NULL and through_phases) or phases_dx:
            for k in range(K):
                dw_sums[k] = 0
            for n in range(g.N):
                _depthwise_backward_plane(
                    dy + (n * g.C + c) * HWo, x + (n * g.C + c) * HW, w + c * K,
                    dx + (n * g.C + c) * HW if phases_dx else NULL,
                    dw_sums if req_dw != REQ_NULL and through_phases else NULL, g, scratch,
                    req_dx)
            if req_dw != REQ_NULL and through_phases:
                for k in range(K):
                    dw[c * K + k] = <real>dw_sums[k] + (dw[c * K + k] if req_dw == REQ_ADD else 0)
        if req_dx != REQ_NULL and same_size_3x3:
            # stride 1, pad 1: dx is dy filtered by w turned 180 degrees, with the same padding:
            # the forward's 3x3 kernels (gathers, one store per pixel) instead of the scatter
            for j in range(9):
                flipped[j] = w[c * 9 + 8 - j]
            for n in range(g.N):
                _depthwise_plane(dy + (n * g.C + c) * HW, flipped, dx + (n * g.C + c) * HW, g,
                                 scratch, req_dx, 1, 0, &NO_EPILOGUE)
    free(scratch)
    return True


# A convolution with few input channels (a network's first layer: 3 colour planes) has a
# short GEMM inner dimension (C * kh * kw = 27 for a 3x3 kernel): OpenBLAS then spends more
# time copying its operands than multiplying, after im2col gathered them.  The direct forward
# splits each input plane by the stride's phases once (as the depthwise path does), and sums
# every tap's contiguous row of inputs into DIRECT_FILTERS x DIRECT_WIDTH outputs at a time.

cdef bint _direct_forward(const real* x, const real* w, const real* b, real* y, real* phases,
                          Geom* g, int req, const Epilogue* e) noexcept nogil:
    # phases: workspace of conv_workspace_elements (C * sh * sw phases); False: no memory for
    # the taps' offsets
    cdef Py_ssize_t n, c, i, j, t
    cdef Py_ssize_t K = g.C * g.kh * g.kw
    cdef Py_ssize_t per_channel = g.sh * g.sw * _phase_size(g)
    cdef int part, parts
    cdef Py_ssize_t* offsets = <Py_ssize_t*>malloc(K * sizeof(Py_ssize_t))
    if offsets == NULL:
        return False
    for c in range(g.C):
        for i in range(g.kh):
            for j in range(g.kw):
                t = (c * g.kh + i) * g.kw + j
                offsets[t] = c * per_channel + (_tap_source(phases, g, i, j) - phases)
    memset(phases, 0, g.C * per_channel * sizeof(real))
    parts = threads.parts_for(2.0 * g.F * g.Ho * g.Wo * K)
    for n in range(g.N):
        for c in range(g.C):
            _split_phases(x + (n * g.C + c) * g.H * g.W, phases + c * per_channel, g, 0,
                          g.H + 2 * g.ph)
        if parts == 1:
            _direct_rows(phases, w, b, y + n * g.F * g.Ho * g.Wo, g, offsets, 0, g.Ho, req, e)
            continue
        for part in prange(parts, num_threads=parts, schedule="static"):
            _direct_rows(phases, w, b, y + n * g.F * g.Ho * g.Wo, g, offsets,
                         threads.split_point(g.Ho, parts, part, 1),
                         threads.split_point(g.Ho, parts, part + 1, 1), req, e)
    free(offsets)
    return True


cdef extern from "_conv3x3_block.h":
    bint CYSYM_CONV3X3_BLOCK
    bint cysym_c3_flat(Py_ssize_t pw, Py_ssize_t Ho, Py_ssize_t Wo)
    void cysym_conv3x3_f(const float* x, Py_ssize_t x_before, Py_ssize_t x_after, const float* w,
                         const float* scale, const float* bias, float* y, Py_ssize_t C,
                         Py_ssize_t H, Py_ssize_t W, Py_ssize_t ph, Py_ssize_t pw, Py_ssize_t F,
                         Py_ssize_t Ho, Py_ssize_t Wo, Py_ssize_t f_first, Py_ssize_t f_last,
                         int add, int act, float lo, float hi) noexcept nogil


cdef void _conv3x3_forward(const float* x, const float* w, const float* b, float* y, Geom* g,
                           int req, const Epilogue* e) noexcept nogil:
    # the AVX-512 build's float32 3x3 stride-1 forward (_conv3x3_block.h): the threads split
    # the samples where they share them evenly, else the filters
    cdef Py_ssize_t n
    cdef Py_ssize_t in_size = g.C * g.H * g.W
    cdef int part
    cdef int parts = threads.parts_for(<double>g.N * g.F * g.Ho * g.Wo * g.C)
    cdef PartRange r
    if req == REQ_NULL:
        return
    for part in prange(parts, num_threads=parts, schedule="static"):
        r = _part_range(g.N, g.F, parts, part, 6)
        for n in range(r.n0, r.n1):
            cysym_conv3x3_f(x + n * in_size, n * in_size, (g.N - 1 - n) * in_size, w,
                            <const float*>e.scale, b, y + n * g.F * g.Ho * g.Wo, g.C, g.H, g.W,
                            g.ph, g.pw, g.F, g.Ho, g.Wo, r.f0, r.f1, req == REQ_ADD, e.act,
                            <float>e.lo, <float>e.hi)


cdef extern from "_filter_lanes.h":
    bint CYSYM_FILTER_LANES
    Py_ssize_t cysym_fl_packed_floats(Py_ssize_t F, Py_ssize_t C, Py_ssize_t Kh,
                                      Py_ssize_t Kw) noexcept nogil
    Py_ssize_t cysym_fl_scratch(Py_ssize_t C, Py_ssize_t Kh, Py_ssize_t Kw, Py_ssize_t sh,
                                Py_ssize_t sw, Py_ssize_t Ho, Py_ssize_t Wo,
                                int shared) noexcept nogil
    void cysym_fl_pack(const float* w, Py_ssize_t taps, Py_ssize_t f0, Py_ssize_t nf,
                       float* packed, int turned) noexcept nogil
    void cysym_fl_pack_turned(const float* w, Py_ssize_t F, Py_ssize_t C, Py_ssize_t K,
                              Py_ssize_t c0, Py_ssize_t nc, float* packed) noexcept nogil
    Py_ssize_t cysym_flw_scratch(Py_ssize_t C, Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t Ho,
                                 Py_ssize_t Wo) noexcept nogil
    void cysym_fl_weight_grad_f(const float* x, const float* dy, float* dw, Py_ssize_t N,
                                Py_ssize_t C, Py_ssize_t H, Py_ssize_t W, Py_ssize_t sh,
                                Py_ssize_t sw, Py_ssize_t ph, Py_ssize_t pw, Py_ssize_t F,
                                Py_ssize_t Ho, Py_ssize_t Wo, Py_ssize_t f_first,
                                Py_ssize_t f_last, int add, float* scratch) noexcept nogil
    void cysym_filter_lanes_f(const float* x, const float* w, const float* shared,
                              const float* scale, const float* bias, float* y, Py_ssize_t C,
                              Py_ssize_t H, Py_ssize_t W, Py_ssize_t Kh, Py_ssize_t Kw,
                              Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t ph, Py_ssize_t pw,
                              Py_ssize_t Ho, Py_ssize_t Wo, Py_ssize_t f_first,
                              Py_ssize_t f_last, int add, int act, float lo, float hi,
                              float* scratch) noexcept nogil


cdef inline bint _filter_lanes_share_packing(Py_ssize_t N, bint turned) noexcept nogil:
    # A batch packs the weights once per forward rather than once per sample (the packing of a
    # block cost a third of its sums on 7x7 planes); one sample packs block by block into its
    # thread's scratch, which keeps batch 1's workspace at 32 filters' weights per thread.  The
    # data gradient's turned weights are always packed once, before the samples.
    return N > 1 or turned


cdef inline Py_ssize_t _filter_lanes_shared_floats(Geom* g, bint turned) noexcept nogil:
    return (cysym_fl_packed_floats(g.F, g.C, g.kh, g.kw)
            if _filter_lanes_share_packing(g.N, turned) else 0)


cdef inline Py_ssize_t _filter_lanes_part_floats(Geom* g, bint turned) noexcept nogil:
    return cysym_fl_scratch(g.C, g.kh, g.kw, g.sh, g.sw, g.Ho, g.Wo,
                            _filter_lanes_share_packing(g.N, turned))


cdef void _filter_lanes_forward(const float* x, const float* w, const float* b, float* y,
                                float* scratch, Geom* g, int req, const Epilogue* e,
                                int capacity, bint turned) noexcept nogil:
    # the AVX-512 build's float32 forward with filters in the lanes (_filter_lanes.h), on at
    # most `capacity` threads (the scratch holds that many after the shared packed weights):
    # they pack the blocks of 32 filters between them, then split the samples where they share
    # them evenly, else the filters in blocks of 32.  turned: the data gradient of a stride-1
    # layer (g the turned layer of _turned_geometry, x its dy, y its dx, w the layer's weights)
    cdef Py_ssize_t n, block
    cdef Py_ssize_t in_size = g.C * g.H * g.W, out_size = g.F * g.Ho * g.Wo
    cdef Py_ssize_t taps = g.C * g.kh * g.kw
    cdef Py_ssize_t shared_floats = _filter_lanes_shared_floats(g, turned)
    cdef Py_ssize_t per_part = _filter_lanes_part_floats(g, turned)
    cdef float* shared = scratch if shared_floats else NULL
    cdef float* parts_scratch = scratch + shared_floats
    cdef int part
    cdef int parts = min(capacity, threads.parts_for(<double>g.N * g.F * g.Ho * g.Wo * g.C))
    cdef PartRange r
    if req == REQ_NULL:
        return
    if shared != NULL:
        for block in prange((g.F + 31) // 32, num_threads=parts, schedule="static"):
            if turned:
                cysym_fl_pack_turned(w, g.C, g.F, g.kh * g.kw, block * 32,
                                     min(32, g.F - block * 32), shared + block * 32 * taps)
            else:
                cysym_fl_pack(w, taps, block * 32, min(32, g.F - block * 32),
                              shared + block * 32 * taps, 0)
    for part in prange(parts, num_threads=parts, schedule="static"):
        r = _part_range(g.N, g.F, parts, part, 32)
        for n in range(r.n0, r.n1):
            cysym_filter_lanes_f(x + n * in_size, w, shared, <const float*>e.scale, b,
                                 y + n * out_size, g.C, g.H, g.W, g.kh, g.kw, g.sh, g.sw, g.ph,
                                 g.pw, g.Ho, g.Wo, r.f0, r.f1, req == REQ_ADD, e.act,
                                 <float>e.lo, <float>e.hi, parts_scratch + part * per_part)


cdef void data_grad_lanes_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    # the AVX-512 build's float32 data gradient of a stride-1 layer as the forward of dy with
    # filters in the lanes; arrays: dy, w, dx, scratch; ints: the turned geometry
    # (_turned_geometry), req, the threads the scratch holds
    cdef Geom g = _geom(c.ints)
    _filter_lanes_forward(<const float*>c.arrays[0], <const float*>c.arrays[1], NULL,
                          <float*>c.arrays[2], <float*>c.arrays[3], &g, <int>c.ints[GEOM_INTS],
                          &NO_EPILOGUE, <int>c.ints[GEOM_INTS + 1], True)


cdef void weight_grad_lanes_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    # the AVX-512 build's float32 weight gradient of a 3x3 layer with filters in the lanes
    # (_filter_lanes.h); arrays: dy, x, dw, scratch; ints: geometry(GEOM_INTS), req, the threads
    # the scratch holds.  The threads split the filters in blocks of 32 (each block's sums run
    # over every sample, so a thread owns its rows of dw).
    cdef Geom g = _geom(c.ints)
    cdef int req = <int>c.ints[GEOM_INTS]
    cdef Py_ssize_t per_part = cysym_flw_scratch(g.C, g.sh, g.sw, g.Ho, g.Wo)
    cdef int parts = min(<int>c.ints[GEOM_INTS + 1], <int>((g.F + 31) // 32),
                         threads.parts_for(<double>g.N * g.F * g.Ho * g.Wo * g.C))
    cdef int part
    cdef Py_ssize_t f0, f1
    cdef float* scratch = <float*>c.arrays[3]
    if req == REQ_NULL:
        return
    for part in prange(parts, num_threads=parts, schedule="static"):
        f0 = threads.split_point(g.F, parts, part, 32)
        f1 = threads.split_point(g.F, parts, part + 1, 32)
        cysym_fl_weight_grad_f(<const float*>c.arrays[1], <const float*>c.arrays[0],
                               <float*>c.arrays[2], g.N, g.C, g.H, g.W, g.sh, g.sw, g.ph, g.pw,
                               g.F, g.Ho, g.Wo, f0, f1, req == REQ_ADD,
                               scratch + part * per_part)


cdef extern from "_direct_block.h":
    Py_ssize_t CYSYM_DIRECT_WIDTH_F
    Py_ssize_t CYSYM_DIRECT_WIDTH_D
    void cysym_direct_block_f(const float* base, const Py_ssize_t* offsets, Py_ssize_t K,
                              const float* w0, const float* w1, const float* w2, const float* w3,
                              float* out) noexcept nogil
    void cysym_direct_block_d(const double* base, const Py_ssize_t* offsets, Py_ssize_t K,
                              const double* w0, const double* w1, const double* w2,
                              const double* w3, double* out) noexcept nogil


cdef void _direct_rows(const real* phases, const real* w, const real* b, real* y, Geom* g,
                       const Py_ssize_t* offsets, Py_ssize_t oh0, Py_ssize_t oh1, int req,
                       const Epilogue* e) noexcept nogil:
    # output rows oh0..oh1 of one sample, every filter: DIRECT_ROWS rows at a time (their
    # inputs stay in cache while each block of DIRECT_FILTERS filters writes its planes' rows in
    # order), `width` columns per block of sums (a last block of fewer filters repeats its last
    # one's sums)
    cdef Py_ssize_t chunk, oh, ow0, f, k, q, nf, count
    cdef Py_ssize_t K = g.C * g.kh * g.kw, HWo = g.Ho * g.Wo, Wq = _phase_width(g)
    cdef Py_ssize_t width = CYSYM_DIRECT_WIDTH_F if real is float else CYSYM_DIRECT_WIDTH_D
    cdef real sums[DIRECT_FILTERS * DIRECT_WIDTH]
    cdef const real* base
    cdef const real* w0
    cdef const real* w1
    cdef const real* w2
    cdef const real* w3
    cdef const real* row
    cdef real scale, bias
    cdef real* dst
    for chunk in range(oh0, oh1, DIRECT_ROWS):
        for f in range(0, g.F, DIRECT_FILTERS):
            nf = min(DIRECT_FILTERS, g.F - f)
            w0 = w + f * K
            w1 = w + (f + min(1, nf - 1)) * K
            w2 = w + (f + min(2, nf - 1)) * K
            w3 = w + (f + nf - 1) * K
            for oh in range(chunk, min(chunk + DIRECT_ROWS, oh1)):
                ow0 = 0
                while ow0 < g.Wo:       # (a range with a variable step needs the GIL)
                    count = min(width, g.Wo - ow0)
                    base = phases + oh * Wq + ow0      # past Wo the sums read padding: not stored
                    if real is float:
                        cysym_direct_block_f(base, offsets, K, w0, w1, w2, w3, sums)
                    else:
                        cysym_direct_block_d(base, offsets, K, w0, w1, w2, w3, sums)
                    for k in range(nf):
                        dst = y + (f + k) * HWo + oh * g.Wo + ow0
                        row = sums + k * width
                        bias = b[f + k] if b != NULL else 0
                        if req == REQ_WRITE:
                            scale = (<const real*>e.scale)[f + k] if e.scale != NULL else 1
                            finish_copy(dst, row, count, scale, bias, e)
                        else:
                            for q in range(count):
                                dst[q] += row[q] + bias
                    ow0 += width


cdef bint _conv_forward(const real* x, const real* w, const real* b, real* y, real* col,
                        Geom* g, Py_ssize_t nb, Py_ssize_t tile, int req,
                        const Epilogue* e) noexcept nogil:
    # e: a scale and activation fused at bind time, only with req write (see
    # append_convolution); tile > 0: in tiles of `tile` output rows (conv_tile_rows) or, on the
    # pointwise path, columns (conv_tile_columns)
    # nb == 0: the pointwise path, nb == DEPTHWISE the depthwise one (see the banner above),
    # nb == DIRECT the few-channel one (_direct_forward), nb == CONV3X3 and FILTER_LANES the
    # AVX-512 blocks (tile: the threads FILTER_LANES's scratch holds)
    cdef Py_ssize_t n0, cur, ld, grp
    cdef Py_ssize_t HWo = g.Do * g.Ho * g.Wo   # output positions
    cdef Py_ssize_t Fg = g.F // g.G
    cdef Py_ssize_t Kg = (g.C // g.G) * g.kd * g.kh * g.kw
    cdef Py_ssize_t in_size = g.C * g.D * g.H * g.W
    cdef real* stage = col + g.C * g.kd * g.kh * g.kw * nb * HWo
    cdef real* dst
    cdef bint direct = nb == 1 and req == REQ_WRITE
    if nb == 0:
        _pointwise_forward(x, w, b, y, g, req, e, tile)
        return True
    if nb == DEPTHWISE:
        return _depthwise_forward(x, w, b, y, g, req, e)
    if nb == DIRECT:
        return req == REQ_NULL or _direct_forward(x, w, b, y, col, g, req, e)
    if nb == CONV3X3:
        if real is float:
            _conv3x3_forward(x, w, b, y, g, req, e)
        return True
    if nb == FILTER_LANES:
        if real is float:
            _filter_lanes_forward(x, w, b, y, col, g, req, e, <int>tile, False)
        return True
    if req == REQ_NULL:
        return True
    if tile > 0:
        _conv_forward_tiles(x, w, b, y, col, g, tile, req, e)
        return True
    n0 = 0
    while n0 < g.N:
        cur = min(nb, g.N - n0)
        ld = cur * HWo
        _columns_of_images(<real*>x + n0 * in_size, col, ld, cur, g, False, 0, g.Ho)
        dst = y + n0 * g.F * HWo if direct else stage
        for grp in range(g.G):
            # dst[group] = w[group] @ col[group]   (Fg x Kg) @ (Kg x cur*HWo)
            gemm(False, False, <int>Fg, <int>ld, <int>Kg, <real>1, w + grp * Fg * Kg, <int>Kg,
                 col + grp * Kg * ld, <int>ld, <real>0, dst + grp * Fg * ld, <int>ld)
        if direct:
            _add_bias(dst, b, 1, g.F, HWo, e)
        else:
            _unstage(stage, b, y + n0 * g.F * HWo, cur, g.F, HWo, req, e)
        n0 += cur
    return True


cdef void _conv_forward_tiles(const real* x, const real* w, const real* b, real* y, real* col,
                              Geom* g, Py_ssize_t tile_rows, int req,
                              const Epilogue* e) noexcept nogil:
    # one sample at a time, `tile_rows` output rows at a time: the im2col block of a tile stays
    # in cache for its GEMM, which writes (or with req add, adds) straight into y's columns of
    # the tile, and the bias, scale and activation finish those columns while they are in cache
    cdef Py_ssize_t n, oh0, oh1, width, grp
    cdef Py_ssize_t HWo = g.Ho * g.Wo
    cdef Py_ssize_t Fg = g.F // g.G
    cdef Py_ssize_t Kg = (g.C // g.G) * g.kh * g.kw
    cdef real beta = 1 if req == REQ_ADD else 0
    cdef real* tile
    for n in range(g.N):
        oh0 = 0
        while oh0 < g.Ho:
            oh1 = min(oh0 + tile_rows, g.Ho)
            width = (oh1 - oh0) * g.Wo
            _columns_of_images(<real*>x + n * g.C * g.H * g.W, col, width, 1, g, False, oh0, oh1)
            tile = y + n * g.F * HWo + oh0 * g.Wo
            for grp in range(g.G):
                gemm(False, False, <int>Fg, <int>width, <int>Kg, <real>1, w + grp * Fg * Kg,
                     <int>Kg, col + grp * Kg * width, <int>width, beta, tile + grp * Fg * HWo,
                     <int>HWo)
            _finish_columns(tile, g.F, HWo, width, b, e)
            oh0 = oh1


cdef void _unstage(const real* stage, const real* b, real* y, Py_ssize_t count, Py_ssize_t F,
                   Py_ssize_t HWo, int req, const Epilogue* e) noexcept nogil:
    # y[j, f, :] (+)= stage[f, j*HWo:(j+1)*HWo] + b[f] for the `count` samples of a chunk (then
    # the activation, with req write), split by filters over the kernel threads
    cdef int part
    cdef int parts = threads.parts_for(2.0 * count * F * HWo)
    if parts == 1:
        _unstage_filters(stage, b, y, count, F, HWo, req, e, 0, F)
        return
    for part in prange(parts, num_threads=parts, schedule="static"):
        _unstage_filters(stage, b, y, count, F, HWo, req, e, threads.split_point(F, parts, part, 1),
                         threads.split_point(F, parts, part + 1, 1))


cdef void _unstage_filters(const real* stage, const real* b, real* y, Py_ssize_t count,
                           Py_ssize_t F, Py_ssize_t HWo, int req, const Epilogue* e,
                           Py_ssize_t f0, Py_ssize_t f1) noexcept nogil:
    cdef Py_ssize_t j, f, p
    cdef real bf, sf
    cdef real* yp
    cdef const real* sp
    for j in range(count):
        for f in range(f0, f1):
            bf = b[f] if b != NULL else 0
            sf = (<const real*>e.scale)[f] if e.scale != NULL else 1
            yp = y + (j * F + f) * HWo
            sp = stage + f * count * HWo + j * HWo
            if req == REQ_ADD:
                for p in range(HWo):
                    yp[p] += sp[p] + bf
            else:
                for p in range(HWo):
                    yp[p] = sp[p] * sf + bf
                if e.act != ACT_NONE:
                    finish_row(yp, HWo, 1, 0, e)


cdef void conv_forward_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    # arrays: x, w, b, y, col (b is x when there is no bias); ints: geometry(GEOM_INTS), nb,
    # has_bias, req, tile (rows or columns); floats: none, or a fused activation; then a fused scale
    # (_epilogue.pxd)
    cdef Geom g = _geom(c.ints)
    cdef bint has_bias = c.ints[GEOM_INTS + 1]
    cdef int req = <int>c.ints[GEOM_INTS + 2]
    cdef Epilogue e = epilogue_of(c, 0, 5)
    cdef bint done
    if c.dtype == 0:
        done = _conv_forward(<float*>c.arrays[0], <float*>c.arrays[1],
                             <float*>c.arrays[2] if has_bias else NULL, <float*>c.arrays[3],
                             <float*>c.arrays[4], &g, c.ints[GEOM_INTS + 0],
                             c.ints[GEOM_INTS + 3], req, &e)
    else:
        done = _conv_forward(<double*>c.arrays[0], <double*>c.arrays[1],
                             <double*>c.arrays[2] if has_bias else NULL, <double*>c.arrays[3],
                             <double*>c.arrays[4], &g, c.ints[GEOM_INTS + 0],
                             c.ints[GEOM_INTS + 3], req, &e)
    if not done:
        ctx.error_code = ERROR_NO_MEMORY


cdef bint _conv_backward(const real* dy, const real* x, const real* w, real* dx, real* dw,
                         real* db, real* col, Geom* g, Py_ssize_t nb, int req_dx, int req_dw,
                         int req_db) noexcept nogil:
    cdef Py_ssize_t n0, cur, ld, j, grp, f
    cdef Py_ssize_t HWo = g.Do * g.Ho * g.Wo   # output positions
    cdef Py_ssize_t Fg = g.F // g.G
    cdef Py_ssize_t Kg = (g.C // g.G) * g.kd * g.kh * g.kw
    cdef Py_ssize_t in_size = g.C * g.D * g.H * g.W
    cdef real* stage = col + g.C * g.kd * g.kh * g.kw * nb * HWo
    cdef const real* src
    if nb == 0:
        _pointwise_backward(dy, x, w, dx, dw, db, g, req_dx, req_dw, req_db)
        return True
    if nb == DEPTHWISE:
        return _depthwise_backward(dy, x, w, dx, dw, db, g, req_dx, req_dw, req_db)
    if req_dw == REQ_WRITE:
        memset(dw, 0, g.F * Kg * sizeof(real))
    if req_db == REQ_WRITE:
        memset(db, 0, g.F * sizeof(real))
    if req_dx == REQ_WRITE:
        memset(dx, 0, g.N * in_size * sizeof(real))
    n0 = 0
    while n0 < g.N:
        cur = min(nb, g.N - n0)
        ld = cur * HWo
        if cur == 1:
            src = dy + n0 * g.F * HWo
        else:
            # stage[f, j*HWo:(j+1)*HWo] = dy[n0 + j, f, :]
            for j in range(cur):
                for f in range(g.F):
                    memcpy(stage + f * ld + j * HWo, dy + ((n0 + j) * g.F + f) * HWo,
                           HWo * sizeof(real))
            src = stage
        if req_db != REQ_NULL:
            # db += dy[chunk].sum(axis=(0, 2, 3))
            for f in range(g.F):
                db[f] += <real>_sum(src + f * ld, ld)
        if req_dw != REQ_NULL:
            _columns_of_images(<real*>x + n0 * in_size, col, ld, cur, g, False, 0, g.Ho)
            for grp in range(g.G):
                # dw[group] += dy[chunk, group] @ col[group].T   (Fg x ld) @ (ld x Kg)
                gemm(False, True, <int>Fg, <int>Kg, <int>ld, <real>1, src + grp * Fg * ld, <int>ld,
                     col + grp * Kg * ld, <int>ld, <real>1, dw + grp * Fg * Kg, <int>Kg)
        if req_dx != REQ_NULL:
            for grp in range(g.G):
                # col[group] = w[group].T @ dy[chunk, group]   (Kg x Fg) @ (Fg x ld)
                gemm(True, False, <int>Kg, <int>ld, <int>Fg, <real>1, w + grp * Fg * Kg, <int>Kg,
                     src + grp * Fg * ld, <int>ld, <real>0, col + grp * Kg * ld, <int>ld)
            _columns_of_images(dx + n0 * in_size, col, ld, cur, g, True, 0, g.Ho)
        n0 += cur
    return True


cdef void conv_backward_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    # arrays: dy, x, w, dx, dw, db, col; ints: geometry(GEOM_INTS), nb, req_dx, req_dw, req_db
    cdef Geom g = _geom(c.ints)
    cdef bint done
    if c.dtype == 0:
        done = _conv_backward(<float*>c.arrays[0], <float*>c.arrays[1], <float*>c.arrays[2],
                              <float*>c.arrays[3], <float*>c.arrays[4], <float*>c.arrays[5],
                              <float*>c.arrays[6], &g, c.ints[GEOM_INTS + 0],
                              <int>c.ints[GEOM_INTS + 1], <int>c.ints[GEOM_INTS + 2],
                              <int>c.ints[GEOM_INTS + 3])
    else:
        done = _conv_backward(<double*>c.arrays[0], <double*>c.arrays[1], <double*>c.arrays[2],
                              <double*>c.arrays[3], <double*>c.arrays[4], <double*>c.arrays[5],
                              <double*>c.arrays[6], &g, c.ints[GEOM_INTS + 0],
                              <int>c.ints[GEOM_INTS + 1], <int>c.ints[GEOM_INTS + 2],
                              <int>c.ints[GEOM_INTS + 3])
    if not done:
        ctx.error_code = ERROR_NO_MEMORY


def _as_3d(seq, ndim, default, name):
    """`seq` (or `default` per dimension) padded in front to 3 dimensions: depth and height of a
    lower-dimensional problem have size-1 kernels, unit stride and dilation, no padding."""
    seq = tuple(int(v) for v in seq) if seq else (default,) * ndim
    if len(seq) != ndim:
        raise ValueError(f"{name}={seq} has {len(seq)} values for {ndim} spatial dimensions")
    return (0 if name == "pad" else 1,) * (3 - ndim) + seq


def _spatial_3d(shape):
    """The (D, H, W) of an (N, C, ...) shape with 1 to 3 spatial dimensions."""
    return (1,) * (5 - len(shape)) + tuple(shape[2:])


def conv_out_size(size, k, s, d, p):
    return (size + 2 * p - (d * (k - 1) + 1)) // s + 1


def _conv_geometry(x, w, kernel, stride, dilate, pad, num_filter, num_group, label):
    """The GEOM_INTS geometry ints (N C D H W F G kd kh kw sd sh sw dd dh dw pd ph pw Do Ho Wo),
    validated."""
    kernel = tuple(int(k) for k in kernel)
    ndim = len(kernel)
    if ndim not in (1, 2, 3):
        raise ValueError(f"{label}: kernel={kernel}: only 1-D, 2-D and 3-D convolution are supported")
    if x.ndim != ndim + 2:
        raise ValueError(f"{label}: kernel {kernel} needs {ndim + 2}-D data (N, C, ...), got shape {x.shape}")
    ks = _as_3d(kernel, ndim, 1, "kernel")
    ss = _as_3d(stride, ndim, 1, "stride")
    ds = _as_3d(dilate, ndim, 1, "dilate")
    ps = _as_3d(pad, ndim, 0, "pad")
    if min(ks + ss + ds) < 1 or min(ps) < 0:
        raise ValueError(f"{label}: kernel, stride and dilate must be positive and pad non-negative")
    N, C = x.shape[:2]
    spatial = _spatial_3d(tuple(x.shape))
    F, G = int(num_filter), int(num_group)
    if G < 1 or C % G or F % G:
        raise ValueError(f"{label}: num_group={G} must divide the input channels ({C}) and num_filter ({F})")
    expected_w = (F, C // G) + kernel
    if tuple(w.shape) != expected_w:
        raise ValueError(f"{label}: weight shape {tuple(w.shape)} does not match data {tuple(x.shape)}: "
                         f"expected {expected_w}")
    out = [conv_out_size(*args) for args in zip(spatial, ks, ss, ds, ps)]
    if min(out) < 1:
        raise ValueError(f"{label}: kernel {kernel} (dilate {tuple(dilate)}) is larger than the padded "
                         f"input {tuple(x.shape)}")
    return [N, C, *spatial, F, G, *ks, *ss, *ds, *ps, *out]


def _out_shape(geo, ndim):
    """(N, F) + the last `ndim` output sizes."""
    return (geo[0], geo[5]) + tuple(geo[GEOM_INTS - ndim:GEOM_INTS])


# GEMM columns aimed at per chunk of samples (see the Convolution banner above)
CHUNK_COLUMNS = 2048


def _out_positions(geo):
    return geo[19] * geo[20] * geo[21]


def _pointwise(geo):
    """Whether the convolution is 1x1(x1) with unit stride and no padding: x is its own im2col."""
    return geo[7:13] == [1] * 6 and geo[16:19] == [0] * 3


# Output pixels per sample from which a pointwise convolution runs sample by sample rather than
# gathered into wide GEMMs (one core, float32: ResNet-50's 1x1 layers at batch 8 run 6-13% faster
# at 14x14 and 28x28; at 7x7 a 512->2048 one runs 1.5x slower, its per-sample dW GEMMs having
# k = 49 and rewriting all of dW each time)
POINTWISE_COLUMNS = 128


def _depthwise(geo):
    """Whether the convolution is depthwise (num_group == channels == num_filter), 1-D or 2-D,
    with kernel rows of at most DEPTHWISE_TAPS taps."""
    return geo[1] == geo[5] == geo[6] and geo[2] == geo[7] == 1 and geo[9] <= DEPTHWISE_TAPS


# Input channels up to which a convolution's forward runs directly (see _direct_forward).  One
# thread, float32, batch 1, with bias, AVX2 build, OpenBLAS variables unset, best of 30, both
# paths in one process at a load of 7-8, im2col + GEMM -> direct: MobileNet's 3x3 stride-2
# stem (3 -> 32 channels, 224x224) 0.75 -> 0.62 ms, ResNet's 7x7 stride-2 one (3 -> 64)
# 5.28 -> 3.38 ms, VGG's 3x3 stride-1 one 5.16 -> 3.28 ms, Inception's (299x299) 1.71 -> 0.79
# ms, AlexNet's 11x11 stride-4 one 3.02 -> 2.49 ms.
DIRECT_CHANNELS = 4


def _direct(geo):
    """Whether the forward runs directly: 2-D, one group, at most DIRECT_CHANNELS channels."""
    return geo[1] <= DIRECT_CHANNELS and geo[6] == 1 and geo[2] == geo[7] == 1 and geo[3] > 1


cdef Geom _geom_of(list geo):
    # a geometry list (_conv_geometry) as the kernels' struct
    cdef Py_ssize_t values[GEOM_INTS]
    cdef Py_ssize_t k
    for k in range(GEOM_INTS):
        values[k] = geo[k]
    return _geom(values)


def _direct_workspace_elements(list geo):
    """Elements of the direct forward's workspace: the input's C * sh * sw stride phases, and
    the columns its last block of sums reads past them."""
    cdef Geom g = _geom_of(geo)
    return g.C * g.sh * g.sw * _phase_size(&g) + DIRECT_WIDTH + g.kw


# The 3x3 blocks' forward (_conv3x3_block.h) takes float32 3x3 layers at stride 1 whose output
# rows fill most of its 16-column vectors and that have at most CONV3X3_MAX_CHANNELS filters:
# there im2col's GEMMs are short or narrow and Winograd's transforms cost most, and the filter
# lanes, faster on such layers where they have more filters, would hold all of them in one
# block of 32 that threads cannot split (DenseNet's 128->32 at batch 1 ran 0.94-1.02x as fast on
# two threads as on one in the lanes).
# One thread, Zen 5, fused BatchNorm + relu, blocks time / the path before (Winograd or im2col),
# best of 4 alternating: DenseNet's 128->32 at 56x56 / 28x28 / 14x14 0.71 / 1.03 / 0.45 at
# batch 1, 0.82 / 0.72 / 0.58 at batch 32; SqueezeNet's 16->64 at 55x55 0.68 / 0.76 and 32->128
# at 27x27 0.82 / 0.76 (batch 1 / 32).  Against Winograd on wider layers they lose: 64->64 at
# 56x56 1.08, 128->128 at 28x28 1.28, Inception's 96->96 at 35x35 1.34 (batch 1), 256->256 at
# 14x14 0.92 at batch 1 but 1.12 / 1.23 at batch 2 / 32.
CONV3X3_MIN_WIDTH = 14
CONV3X3_MAX_CHANNELS = 32
# Planes of at most 64 output pixels go the flat way (whatever their channels), from 49 pixels
# (4 vectors at least three quarters full), and 8x8 ones up to 8 samples: same measure, ResNet's
# 512->512 at 7x7 0.85 / 0.90 / 0.99 / 0.88 at batch 1 / 2 / 8 / 32, 256->256 at 7x7 0.78,
# DenseNet's 128->32 at 7x7 0.34 / 0.37 (batch 1 / 32), Inception's 448->384 at 8x8 0.77 / 0.83 /
# 0.93 at batch 1 / 2 / 8 but 1.11 at 32 (Winograd's GEMMs full), 512->512 at 6x6 and 5x5 1.10
# and 1.12.  Planes below 64 pixels (a quarter of the flat way's lanes idle) with at least
# CONV3X3_LANES_MIN_CHANNELS inputs and CONV3X3_LANES_MIN_PLANES input planes in the batch go to
# the filter lanes, whose packing the batch shares; same measure, flat time / lanes time:
# 512->512 at 7x7 1.01 / 1.10 / 1.20 at batch 3 / 4 / 32, 256->256 0.95 / 1.11 at batch 4 / 32,
# but DenseNet's 128->32 0.81 / 0.86 at batch 4 / 32; full 8x8 planes stay flat (Inception's
# 448->384 at batch 4: 0.76).
CONV3X3_FLAT_MIN_PIXELS = 49
CONV3X3_FLAT_FULL_MAX_BATCH = 8
CONV3X3_LANES_MIN_CHANNELS = 256
CONV3X3_LANES_MIN_PLANES = 2048


def _conv3x3(geo, itemsize):
    """Whether the forward runs through the AVX-512 build's 3x3 blocks: float32, 2-D, one
    group, 3x3 undilated at stride 1, more channels than the few-channel path takes; planes the
    flat way as CONV3X3_FLAT_* say, others with at most CONV3X3_MAX_CHANNELS filters and output
    rows at least CONV3X3_MIN_WIDTH wide."""
    if not (CYSYM_CONV3X3_BLOCK and itemsize == 4 and geo[6] == 1 and geo[2] == geo[7] == 1
            and geo[8] == geo[9] == 3 and geo[11] == geo[12] == 1 and geo[14] == geo[15] == 1
            and geo[1] > DIRECT_CHANNELS):
        return False
    if cysym_c3_flat(geo[18], geo[20], geo[21]):
        pixels = geo[20] * geo[21]
        if pixels < 64:
            return pixels >= CONV3X3_FLAT_MIN_PIXELS and not (
                geo[1] >= CONV3X3_LANES_MIN_CHANNELS
                and geo[0] * geo[1] >= CONV3X3_LANES_MIN_PLANES)
        return geo[0] <= CONV3X3_FLAT_FULL_MAX_BATCH
    return geo[5] <= CONV3X3_MAX_CHANNELS and geo[21] >= CONV3X3_MIN_WIDTH


# The forward with filters in the lanes (_filter_lanes.h) takes the float32 2-D layers of one
# group, undilated, at a column stride of 1 or 2, with more than DIRECT_CHANNELS inputs or (a
# stem) kernels of at least FILTER_LANES_STEM_TAPS taps, that the 3x3 blocks do not take; 3x3
# layers at stride 1 only up to FILTER_LANES_3X3_MAX_PIXELS output pixels in one sample, or
# FILTER_LANES_3X3_MAX_PIXELS_BATCH in a batch, whose samples share the packed weights (beyond,
# Winograd's fewer multiplications win), and at any batch and size where an output side is odd
# and at most FILTER_LANES_3X3_ODD_MAX_SIDE (Winograd's 2x2 tiles then overrun the plane by 16% or
# more, 31% at 7x7) or the layer has at most FILTER_LANES_3X3_NARROW_CHANNELS inputs (there
# Winograd's transforms cost most).  One thread, Zen 5, fused BatchNorm + relu,
# lanes time / the path before (im2col, Winograd or the direct few-channel path), best of 6
# alternating: stride 2 (ResNet's 64->128, 128->256, 256->512) 0.68 / 0.82 / 0.82, Inception's
# 288->384 from 35x35 0.84; Inception's 1x7 and 7x1 layers at 17x17 0.71-0.83, its 5x5 48->64 at
# 35x35 0.59, AlexNet's 5x5 0.77 and 3x3 at 13x13 0.79-0.84 (all batch 1); ResNet's 7x7 stem
# 0.86 / 0.93 at batch 1 / 32, but MobileNet's and Inception's 3x3 stems 1.23-1.26; 3x3 at
# stride 1 against Winograd: 256->256 at 14x14 0.85 / 0.94 / 1.01 at batch 1 / 2 / 8, 512->512
# at 14x14 0.95, 128->128 at 28x28 1.12 (batch 1), 96->96 at 35x35 1.01, 80->192 at 73x73 1.20,
# batch 32 1.03-1.05; with the packing shared by the batch, 128->128 at 28x28 0.88 / 1.04 at
# batch 2 / 8, 256->256 at 14x14 0.87 / 1.00 at batch 4 / 8, 512->512 at 7x7 0.68 at batch 32.
# 1x1 layers lose: at stride 2 (ResNet-50's) 0.92-1.47 against im2col, and with the sums leaving
# transposed 1.11 / 1.51 (512->1024 and 1024->2048 at batch 1); at stride 1 against the pointwise
# blocks 1.17-1.64 (MobileNet's and ResNet-50's, batch 1).  The odd sides (fourteenth session,
# OpenBLAS variables unset, per node in the exported models, best of 6 alternating in one
# process): AlexNet's 192->384, 384->256 and 256->256 at 13x13, batch 32, 0.94 / 0.91 / 0.81 (the
# model 0.93); Inception's 96->96 at 35x35, where the tiles overrun by 6%, lost (1.15-1.19 at
# batch 8), as did even planes beyond the pixel limits (ResNet's 28x28 and 14x14 at batch 32
# 1.09-1.17).
FILTER_LANES_3X3_MAX_PIXELS = 512
FILTER_LANES_3X3_MAX_PIXELS_BATCH = 1600
FILTER_LANES_3X3_ODD_MAX_SIDE = 13
# Layers of few inputs and more than 32 filters went to the 3x3 blocks before; the lanes against
# those blocks (fourteenth session, fused relu, best of 8 alternating ABBA): SqueezeNet's 16->64 at
# 55x55 0.85 / 0.81 at batch 1 / 32, 32->128 at 27x27 0.84 / 0.83; Inception's 32->64 at 147x147
# 0.96 / 0.90 at batch 1 / 8; per node in the exported SqueezeNet at batch 1 0.84-0.89 on those
# layers.
FILTER_LANES_3X3_NARROW_CHANNELS = 32
FILTER_LANES_STEM_TAPS = 49


def _filter_lanes(geo, itemsize):
    """Whether the forward runs with filters in the lanes of the AVX-512 build."""
    if not (CYSYM_FILTER_LANES and itemsize == 4 and geo[6] == 1 and geo[2] == geo[7] == 1
            and geo[14] == geo[15] == 1 and geo[12] in (1, 2) and geo[8] * geo[9] > 1
            and (geo[1] > DIRECT_CHANNELS or geo[8] * geo[9] >= FILTER_LANES_STEM_TAPS)
            and not _conv3x3(geo, itemsize)):
        return False
    winograd_shape = geo[8] == geo[9] == 3 and geo[11] == geo[12] == 1
    most = FILTER_LANES_3X3_MAX_PIXELS if geo[0] == 1 else FILTER_LANES_3X3_MAX_PIXELS_BATCH
    odd_small = ((geo[20] % 2 or geo[21] % 2)
                 and max(geo[20], geo[21]) <= FILTER_LANES_3X3_ODD_MAX_SIDE)
    narrow = geo[1] <= FILTER_LANES_3X3_NARROW_CHANNELS
    return not winograd_shape or odd_small or narrow or geo[0] * geo[20] * geo[21] <= most


# The weight gradient with filters in the lanes (cysym_fl_weight_grad_f) takes the float32 2-D
# 3x3 layers of one group, undilated, at stride 1 or 2, with more than DIRECT_CHANNELS inputs.
# One thread, Zen 5, batch 32, ResNet's 3x3 layers, im2col + OpenBLAS -> lanes: 64->64 at 56x56
# 68 -> 42 ms, 128->128 at 28x28 62 -> 41-45, 256->256 at 14x14 62-64 -> 45, 512->512 at 7x7
# 58-63 -> 56; a training step (OpenBLAS variables unset) of ResNet-18 / DenseNet-121 /
# Inception v3 at batch 32 0.87 / 0.93 / 0.94 of the time before, ResNet-18's at batch 2 1.00.
def _weight_grad_lanes(geo, itemsize):
    """Whether the weight gradient runs with filters in the lanes of the AVX-512 build."""
    return bool(CYSYM_FILTER_LANES and itemsize == 4 and geo[6] == 1 and geo[2] == geo[7] == 1
                and geo[8] == geo[9] == 3 and geo[14] == geo[15] == 1
                and geo[11] in (1, 2) and geo[12] in (1, 2) and geo[1] > DIRECT_CHANNELS)


def _weight_grad_lanes_elements(list geo, parts):
    """Elements of the lanes' weight gradient scratch for `parts` threads."""
    return parts * cysym_flw_scratch(geo[1], geo[11], geo[12], geo[20], geo[21])


def _filter_lanes_elements(list geo, parts, bint turned=False):
    """Elements of the filter-lanes forward's scratch for `parts` threads (0 parts: the weights
    packed for all of them, if the batch shares them); turned: of the data gradient's, geo the
    turned layer's."""
    cdef Geom g = _geom_of(geo)
    return (_filter_lanes_shared_floats(&g, turned)
            + parts * _filter_lanes_part_floats(&g, turned))


# The data gradient as the forward of dy in the filter lanes takes kernels of at least
# DATA_GRAD_LANES_MIN_TAPS taps.  Per node in the exported models' training steps (fourteenth
# session, one thread, Zen 5, OpenBLAS variables unset, ABBA in one process), lanes time / the
# path before: ResNet's 3x3 layers against Winograd 0.76-1.07 at batch 32 (0.59-0.72 with the
# OpenBLAS variables set); against im2col + col2im, AlexNet's 5x5 64->192 at 27x27 and
# Inception's 1x7 and 7x1 at 17x17 gained (AlexNet's step at batch 2 / 32 0.96 / 0.98), but
# Inception's 1x3 and 3x1 384->384 at 8x8 lost (1.36 -> 2.05 ms per node at batch 2).
DATA_GRAD_LANES_MIN_TAPS = 5


def _data_grad_lanes(geo, itemsize):
    """Whether the data gradient runs as the forward of dy with filters in the lanes of the
    AVX-512 build: float32 2-D layers of one group with at least DATA_GRAD_LANES_MIN_TAPS taps,
    undilated, at stride 1, whose padding leaves the turned layer's padding at least 0."""
    return bool(CYSYM_FILTER_LANES and itemsize == 4 and geo[6] == 1 and geo[2] == geo[7] == 1
                and geo[8] * geo[9] >= DATA_GRAD_LANES_MIN_TAPS and geo[11] == geo[12] == 1
                and geo[14] == geo[15] == 1 and geo[17] < geo[8] and geo[18] < geo[9])


def _turned_geometry(list geo):
    """The geometry of the forward that computes a stride-1 layer's data gradient: dy (F
    channels) in, dx (C filters) out, each kernel turned, padded by k - 1 - pad."""
    turned = list(geo)
    turned[1], turned[5] = geo[5], geo[1]
    turned[3], turned[4], turned[20], turned[21] = geo[20], geo[21], geo[3], geo[4]
    turned[17], turned[18] = geo[8] - 1 - geo[17], geo[9] - 1 - geo[18]
    return turned


def conv_forward_blocks(data_shape, weight_shape, kernel, stride=(), dilate=(), pad=(),
                        num_filter=None, num_group=1, itemsize=4):
    """Whether the forward of this layer runs through the AVX-512 blocks (the 3x3 blocks or
    the filter lanes; so neither im2col nor Winograd: ops/conv.py asks before it plans
    Winograd's forward)."""
    geo = _layer_geometry(data_shape, weight_shape, kernel, stride, dilate, pad, num_filter,
                          num_group)
    return _conv3x3(geo, itemsize) or _filter_lanes(geo, itemsize)


def conv_data_grad_lanes(data_shape, weight_shape, kernel, stride=(), dilate=(), pad=(),
                         num_filter=None, num_group=1, itemsize=4):
    """Whether the data gradient of this layer runs as the forward of dy in the filter lanes
    (so not by Winograd: ops/conv.py asks before it plans Winograd's data gradient)."""
    return _data_grad_lanes(_layer_geometry(data_shape, weight_shape, kernel, stride, dilate,
                                            pad, num_filter, num_group), itemsize)


def conv_chunk(geo, im2col=False):
    """Samples per GEMM: enough for about CHUNK_COLUMNS output pixels, at least one; 0 (the
    kernels' pointwise path, no im2col) for a pointwise convolution at one sample per GEMM or
    with at least POINTWISE_COLUMNS output pixels; DEPTHWISE (the direct loops, no im2col) for a
    depthwise convolution; unless `im2col` forces the general path."""
    if _depthwise(geo) and not im2col:
        return DEPTHWISE
    nb = max(1, min(geo[0], CHUNK_COLUMNS // max(1, _out_positions(geo))))
    wide = nb == 1 or _out_positions(geo) >= POINTWISE_COLUMNS
    return 0 if wide and not im2col and _pointwise(geo) else nb


# A forward whose im2col block for one sample is larger than twice this (elements) runs in
# tiles of output rows whose block fits (see _conv_forward_tiles), at least TILE_MIN_COLUMNS
# wide.  One thread, float32, batch 1, fused with BatchNorm and relu, untiled -> tiled (best of
# 15, interleaved; 16K to 128K elements per tile all within noise of each other): ResNet's 7x7
# stride-2 stem 5.86 -> 5.36 ms (its planned memory 13.8 -> 3.4 MB), MobileNet's 3x3 stride-2
# stem 1.15 -> 0.98 ms, Inception's 2.14 -> 1.72 ms, ResNet-18's 3x3 stride-2 128->256 layer
# 3.18 -> 2.76 ms.
TILE_ELEMENTS = 1 << 16
TILE_MIN_COLUMNS = 256


def conv_tile_rows(geo, im2col=False):
    """Output rows per tile of the forward's tiled path, or 0 for the untiled one: tiles for
    one sample at a time of a 1-D or 2-D problem whose im2col block is larger than
    2 * TILE_ELEMENTS."""
    K, Ho, Wo = geo[1] * geo[7] * geo[8] * geo[9], geo[20], geo[21]
    if conv_chunk(geo, im2col) != 1 or geo[19] != 1 or K * Ho * Wo <= 2 * TILE_ELEMENTS:
        return 0
    rows = max(TILE_ELEMENTS // (K * Wo), -(-TILE_MIN_COLUMNS // Wo), 1)
    return rows if rows < Ho else 0


def conv_tile_columns(geo, im2col=False):
    """Output columns per tile of a pointwise forward, or 0 when one sample's output has at most
    2 * TILE_ELEMENTS elements: about max(TILE_MIN_COLUMNS, TILE_ELEMENTS / F) columns, evened
    out over an even number of tiles per sample (so that two or four threads share them evenly),
    a multiple of 16."""
    F, HWo = geo[5], _out_positions(geo)
    if conv_chunk(geo, im2col) != 0 or F * HWo <= 2 * TILE_ELEMENTS:
        return 0
    columns = max(TILE_MIN_COLUMNS, TILE_ELEMENTS // F)
    if columns >= HWo:
        return 0
    tiles = -(-HWo // columns)
    tiles += tiles % 2
    return -(-HWo // (tiles * 16)) * 16


def conv_workspace_elements(geo, im2col=False, forward=False):
    """Elements of scratch: im2col (C*kd*kh*kw, nb*Do*Ho*Wo), then the (F, nb*Do*Ho*Wo) staging
    block (used when nb > 1, or by a forward with req 'add'); none on the pointwise and
    depthwise paths; for a `forward` in tiles, one tile's im2col block; for a direct forward,
    its stride phases."""
    C, F, kd, kh, kw = geo[1], geo[5], geo[7], geo[8], geo[9]
    if forward and not im2col and _direct(geo):
        return _direct_workspace_elements(geo)
    rows = conv_tile_rows(geo, im2col) if forward else 0
    if rows:
        return C * kd * kh * kw * rows * geo[21]
    return (C * kd * kh * kw + F) * max(0, conv_chunk(geo, im2col)) * _out_positions(geo)


def _layer_geometry(data_shape, weight_shape, kernel, stride, dilate, pad, num_filter,
                    num_group):
    """The geometry of a Convolution on arrays of these shapes."""
    class _Shape:
        def __init__(self, shape):
            self.shape, self.ndim = tuple(shape), len(shape)
    return _conv_geometry(_Shape(data_shape), _Shape(weight_shape), kernel, stride, dilate, pad,
                          weight_shape[0] if num_filter is None else num_filter, num_group,
                          "Convolution")


def conv_workspace_bytes(data_shape, weight_shape, kernel, stride=(), dilate=(), pad=(),
                         num_filter=None, num_group=1, itemsize=4, forward=False):
    """Scratch bytes the `forward` or the backward kernel wants (for the OpDef's workspace
    rules)."""
    geo = _layer_geometry(data_shape, weight_shape, kernel, stride, dilate, pad, num_filter,
                          num_group)
    if forward and _conv3x3(geo, itemsize):
        return 0
    if forward and _filter_lanes(geo, itemsize):
        return _filter_lanes_elements(geo, threads.count()) * itemsize
    elements = conv_workspace_elements(geo, forward=forward)
    # the kernels of the backward run one after the other in one workspace
    if not forward and _weight_grad_lanes(geo, itemsize):
        elements = max(elements, _weight_grad_lanes_elements(geo, threads.count()))
    if not forward and _data_grad_lanes(geo, itemsize):
        elements = max(elements, _filter_lanes_elements(_turned_geometry(geo), threads.count(),
                                                        True))
    return elements * itemsize


def _workspace_parts(workspace, shared, per_part):
    """The threads whose scratch (per_part bytes each, after `shared` bytes for all of them)
    the workspace holds; without one, the threads set now (the kernel then takes a private
    buffer for them)."""
    if workspace is not None and workspace.nbytes >= shared + per_part:
        return (workspace.nbytes - shared) // per_part
    return threads.count()


def _filter_lanes_scratch(workspace, list geo, dtype, bint turned):
    """The filter lanes' scratch (forward or `turned`, see _filter_lanes_elements) in the
    workspace, and the threads it holds."""
    itemsize = np.dtype(dtype).itemsize
    shared = _filter_lanes_elements(geo, 0, turned) * itemsize
    parts = _workspace_parts(workspace, shared,
                             _filter_lanes_elements(geo, 1, turned) * itemsize - shared)
    return _col_buffer(workspace, _filter_lanes_elements(geo, parts, turned), dtype), parts


def _col_buffer(workspace, size, dtype):
    """The workspace viewed as `size` elements of `dtype`, or a private buffer when it is absent."""
    dtype = np.dtype(dtype)
    if workspace is not None and workspace.dtype == np.uint8 and workspace.nbytes >= size * dtype.itemsize:
        return workspace[:size * dtype.itemsize].view(dtype)
    if workspace is not None and workspace.dtype == dtype and workspace.size >= size:
        return workspace[:size]
    return np.empty(max(size, 1), dtype)


def _check_shape(array, shape, what, label):
    if array is not None and tuple(array.shape) != tuple(shape):
        raise ValueError(f"{label}: {what} has shape {tuple(array.shape)}, expected {tuple(shape)}")


def append_convolution(Plan plan, x, w, b, y, kernel, stride=(), dilate=(), pad=(),
                       num_filter=None, num_group=1, workspace=None, str req="write",
                       str label="Convolution", bint im2col=False, activation=None, scale=None):
    """Append y = conv(x, w) + b (b may be None for no_bias); workspace is uint8 scratch or None;
    `im2col` forces the general path on a pointwise convolution (for tests and benchmarks).
    Fused at bind time, with req 'write': y = activation(conv(x, w) * scale + b), scale one
    value per filter, activation None, ('relu',) or ('clip', a_min, a_max)."""
    if num_filter is None:
        num_filter = w.shape[0]
    geo = _conv_geometry(x, w, kernel, stride, dilate, pad, num_filter, num_group, label)
    _check_shape(y, _out_shape(geo, len(kernel)), "output", label)
    _check_shape(b, (geo[5],), "bias", label)
    arrays = [x, w, x if b is None else b, y]
    dtype = common_dtype(arrays + ([] if scale is None else [scale]))
    itemsize = np.dtype(x.dtype).itemsize
    blocks = not im2col and _conv3x3(geo, itemsize)
    lanes = not im2col and _filter_lanes(geo, itemsize)
    direct = not im2col and _direct(geo)
    if lanes:
        col, tile = _filter_lanes_scratch(workspace, geo, x.dtype, False)
        nb = FILTER_LANES
    else:
        col = _col_buffer(workspace, 0 if blocks else
                          conv_workspace_elements(geo, im2col, forward=True), x.dtype)
        nb = CONV3X3 if blocks else DIRECT if direct else conv_chunk(geo, im2col)
        tile = 0 if direct or blocks else (conv_tile_rows(geo, im2col)
                                           or conv_tile_columns(geo, im2col))
    plan.add(conv_forward_kernel, dtype, arrays + [col] + fused_scale(scale, geo[5], req, label),
             geo + [nb, b is not None, req_code(req, label), tile],
             epilogue_floats(activation, req_code(req, label), label), label)


def append_convolution_backward(Plan plan, dy, x, w, dx, dw, db, kernel, stride=(), dilate=(),
                                pad=(), num_filter=None, num_group=1, workspace=None,
                                str req_dx="write", str req_dw="write", str req_db="write",
                                str label="_backward_Convolution", bint im2col=False):
    """Append dx = col2im(w.T @ dy), dw = sum_n dy[n] @ im2col(x[n]).T, db = dy.sum over all axes but 1.

    A None output or req 'null' is skipped; 'add' accumulates into the output; `im2col` as in
    append_convolution."""
    if num_filter is None:
        num_filter = w.shape[0]
    geo = _conv_geometry(x, w, kernel, stride, dilate, pad, num_filter, num_group, label)
    _check_shape(dy, _out_shape(geo, len(kernel)), "output gradient", label)
    reqs = [req_code(r, label) for r in (req_dx, req_dw, req_db)]
    outputs = [dx, dw, db]
    for k, (out, shape) in enumerate(zip(outputs, (x.shape, w.shape, (geo[5],)))):
        if out is None or reqs[k] == REQ_NULL:
            reqs[k] = REQ_NULL
            outputs[k] = dy   # any valid pointer; the kernel does not touch it
        else:
            _check_shape(out, shape, ("data", "weight", "bias")[k] + " gradient", label)
    dtype = common_dtype([dy, x, w] + outputs)
    lanes = False
    if not im2col and reqs[0] != REQ_NULL and _data_grad_lanes(geo, x.dtype.itemsize):
        turned = _turned_geometry(geo)
        scratch, parts = _filter_lanes_scratch(workspace, turned, x.dtype, True)
        plan.add(data_grad_lanes_kernel, dtype, [dy, w, outputs[0], scratch],
                 turned + [reqs[0], parts], [], label)
        reqs[0], outputs[0], lanes = REQ_NULL, dy, True
    if not im2col and reqs[1] != REQ_NULL and _weight_grad_lanes(geo, x.dtype.itemsize):
        parts = _workspace_parts(workspace, 0,
                                 _weight_grad_lanes_elements(geo, 1) * x.dtype.itemsize)
        scratch = _col_buffer(workspace, _weight_grad_lanes_elements(geo, parts), x.dtype)
        plan.add(weight_grad_lanes_kernel, dtype, [dy, x, outputs[1], scratch],
                 geo + [reqs[1], parts], [], label)
        reqs[1], outputs[1], lanes = REQ_NULL, dy, True
    if lanes and reqs == [REQ_NULL] * 3:
        return
    col = _col_buffer(workspace, conv_workspace_elements(geo, im2col), x.dtype)
    plan.add(conv_backward_kernel, dtype, [dy, x, w] + outputs + [col],
             geo + [conv_chunk(geo, im2col)] + reqs, [], label)


# ---------------------------------------------------------------------------------------
# Pooling (MXNet's pool.h semantics: max ignores padding and takes the first maximum; avg
# divides by the window clipped to the padded input, or to the input when
# count_include_pad is False; 'full' and 'same' windows may run past the padded input and
# are clipped; lp is (sum of x**p)**(1/p) over the window, p in 1, 2, 3).
#
# A plane is one (sample, channel) pair.  Channels-first data (NCW/NCHW/NCDHW) keeps a plane
# contiguous; channels-last data (NWC/NHWC/NDHWC) has the plane's elements C apart, so the
# general loops index with an element step `es`.

cdef inline void _window(Py_ssize_t o, Py_ssize_t s, Py_ssize_t p, Py_ssize_t k, Py_ssize_t size,
                         Py_ssize_t* start, Py_ssize_t* end, Py_ssize_t* padded) noexcept nogil:
    cdef Py_ssize_t a = o * s - p
    cdef Py_ssize_t b = a + k
    if b > size + p:
        b = size + p
    padded[0] = b - a
    if a < 0:
        a = 0
    if b > size:
        b = size
    start[0] = a
    end[0] = b


cdef inline bint _is_2x2_stride_2(Geom* g) noexcept nogil:
    """The common CNN pooling: 2x2 windows, stride 2, no padding, every window inside (depth,
    if any, pooled one slice at a time)."""
    return (g.kd == 1 and g.sd == 1 and g.pd == 0 and g.Do == g.D
            and g.kh == 2 and g.kw == 2 and g.sh == 2 and g.sw == 2 and g.ph == 0 and g.pw == 0
            and 2 * g.Ho <= g.H and 2 * g.Wo <= g.W)


cdef inline real _first_max(real a, real b, real c, real d, real lowest) noexcept nogil:
    # the same strict comparisons in the same order as the general loop (NaN never wins)
    cdef real best = lowest
    best = a if a > best else best
    best = b if b > best else best
    best = c if c > best else best
    return d if d > best else best


cdef inline real _pow_p(real v, int p) noexcept nogil:
    if p == 2:
        return v * v
    if p == 3:
        return v * v * v
    return v


cdef inline real _root_p(real v, int p) noexcept nogil:
    if p == 2:
        return sqrt(v)
    if p == 3:
        return cbrt(v)
    return v


cdef inline real _lp_grad(real grad, real x, real y, int p) noexcept nogil:
    """grad * (x / y) ** (p - 1), 0 where y is 0 (MXNet's lp_grad)."""
    cdef real ratio
    if p == 1:
        return grad
    if y == 0:
        return 0
    ratio = x / y
    return grad * ratio if p == 2 else grad * ratio * ratio


cdef void _pool_forward_2x2(const real* x, real* y, Geom* g, int mode, int req,
                            real lowest) noexcept nogil:
    """_pool_forward for 2x2 windows with stride 2: the four reads are explicit and branch-free."""
    cdef Py_ssize_t plane, oh, ow
    cdef const real* top
    cdef const real* bottom
    cdef real* yp
    cdef real value
    for plane in range(g.N * g.C * g.D):
        for oh in range(g.Ho):
            top = x + plane * g.H * g.W + 2 * oh * g.W
            bottom = top + g.W
            yp = y + plane * g.Ho * g.Wo + oh * g.Wo
            for ow in range(g.Wo):
                if mode == 0:
                    value = _first_max(top[2 * ow], top[2 * ow + 1], bottom[2 * ow], bottom[2 * ow + 1],
                                       lowest)
                else:
                    # summed in the general loop's order
                    value = ((top[2 * ow] + top[2 * ow + 1]) + bottom[2 * ow]) + bottom[2 * ow + 1]
                    if mode == 1:
                        value = value / 4
                if req == REQ_ADD:
                    yp[ow] += value
                else:
                    yp[ow] = value


cdef inline real _window_reduce(const real* xp, Py_ssize_t es, Geom* g, Py_ssize_t d0,
                                Py_ssize_t d1, Py_ssize_t h0, Py_ssize_t h1, Py_ssize_t w0,
                                Py_ssize_t w1, int mode, int p, real lowest) noexcept nogil:
    """The window's first maximum (mode 0), or the sum of x**p over it (p is 1 but for lp)."""
    cdef Py_ssize_t d, h, w
    cdef const real* row
    cdef real acc = lowest if mode == 0 else 0
    for d in range(d0, d1):
        for h in range(h0, h1):
            row = xp + (d * g.H + h) * g.W * es
            # one loop per case, so the innermost loop has no branch but the data's
            if mode == 0:
                for w in range(w0, w1):
                    if row[w * es] > acc:
                        acc = row[w * es]
            elif p == 1:
                for w in range(w0, w1):
                    acc += row[w * es]
            else:
                for w in range(w0, w1):
                    acc += _pow_p(row[w * es], p)
    return acc


cdef inline void _plane_pointers(Py_ssize_t plane, Geom* g, bint channels_last, Py_ssize_t* in_off,
                                 Py_ssize_t* out_off, Py_ssize_t* es) noexcept nogil:
    cdef Py_ssize_t n = plane // g.C
    cdef Py_ssize_t c = plane - n * g.C
    cdef Py_ssize_t S = g.D * g.H * g.W, So = g.Do * g.Ho * g.Wo
    if channels_last:
        in_off[0] = n * S * g.C + c
        out_off[0] = n * So * g.C + c
        es[0] = g.C
    else:
        in_off[0] = plane * S
        out_off[0] = plane * So
        es[0] = 1


# Fast paths for channels-first data and every pool type but lp.
#
# Row by row (_pool_*_rows): the windows of one output row are reduced together.  Over the
# interior columns (where every tap of a window row reads inside x, found once per call with
# _valid_range) the loops have no bound check and no division, and the few border columns
# are done apart.  2x2 and 3x3 windows at column stride 1 or 2 whose rows all lie inside x
# are one pass over the output row with the nine (four) taps unrolled (_windows); other
# windows take one pass per window row, its taps unrolled where 2 or 3 wide (_row_reduce).
# Each output meets its window's elements in the general loop's order (rows, then columns):
# max keeps the same first maximum, and the forward's sums add in the same order.  Max's
# backward finds each output row's argmaxes the same way, then adds the gradients at them;
# avg's and sum's spread each output row's gradient over an input row (_spread_row) and add
# that row to every input row of the windows.
#
# Padded planes (_pool_*_padded): at stride 1, 2x2 and 3x3 windows run on each plane copied
# into a buffer with a border that changes no result, as one flat pass whatever the row width
# (small planes would pay a row's overhead for a few outputs).
#
# Whole planes: a window covering the whole plane (global pooling, or a kernel the size of
# the input) is one reduction over contiguous memory; windows tiling the input (DenseNet's
# 2x2 avg) write each element of dx once.  These, and the padded backward, sum in another
# order than the general loop (within rounding).

cdef inline void _taps_reduce(real* acc, const real* row, Py_ssize_t lo, Py_ssize_t hi,
                              Py_ssize_t s, Py_ssize_t k, int mode) noexcept nogil:
    # acc[o] = reduce(acc[o], row[o * s + j] for j in range(k)), o in [lo, hi), `row` starting
    # at the window's first column; max by strict > (NaN never wins).  Called with constant s,
    # k and mode, the tap loop unrolls and the loop over o vectorizes.
    cdef Py_ssize_t o, j
    cdef real v, t
    for o in range(lo, hi):
        v = acc[o]
        for j in range(k):
            t = row[o * s + j]
            if mode == 0:
                v = t if t > v else v
            else:
                v = v + t
        acc[o] = v


cdef inline void _taps_argmax(real* best, Py_ssize_t* arg, const real* row, Py_ssize_t at,
                              Py_ssize_t lo, Py_ssize_t hi, Py_ssize_t s,
                              Py_ssize_t k) noexcept nogil:
    # _taps_reduce's max, also recording where the maximum is (row[i] is the plane's element
    # at + i); selects, not branches, so that the loop vectorizes
    cdef Py_ssize_t o, j, a
    cdef real v, t
    cdef bint take
    for o in range(lo, hi):
        v = best[o]
        a = arg[o]
        for j in range(k):
            t = row[o * s + j]
            take = t > v
            v = t if take else v
            a = at + o * s + j if take else a
        best[o] = v
        arg[o] = a


cdef inline void _border_column(real* acc, Py_ssize_t* arg, const real* row, Py_ssize_t at,
                                Geom* g, Py_ssize_t o, int mode) noexcept nogil:
    # _row_reduce at a column some of whose taps fall outside the row: those are skipped
    cdef Py_ssize_t j, w
    cdef real t
    for j in range(g.kw):
        w = o * g.sw - g.pw + j
        if w < 0 or w >= g.W:
            continue
        t = row[w]
        if mode == -1:
            if t > acc[o]:
                acc[o] = t
                arg[o] = at + w
        elif mode == 0:
            acc[o] = t if t > acc[o] else acc[o]
        else:
            acc[o] = acc[o] + t


cdef inline void _row_reduce(real* acc, Py_ssize_t* arg, const real* row, Py_ssize_t at,
                             Geom* g, Py_ssize_t lo, Py_ssize_t hi, int mode) noexcept nogil:
    """One input row's taps into every output of a row: acc (and arg, for argmax: mode -1)
    over the interior columns [lo, hi), `row` pointing at the input row (plane element `at`)."""
    cdef Py_ssize_t o, s = g.sw, k = g.kw
    cdef const real* first = row - g.pw
    cdef bint narrow = k == 2 or k == 3
    # interior: constant stride and width where common
    if mode == -1:
        if narrow and s == 2:
            if k == 3:
                _taps_argmax(acc, arg, first, at - g.pw, lo, hi, 2, 3)
            else:
                _taps_argmax(acc, arg, first, at - g.pw, lo, hi, 2, 2)
        elif narrow and s == 1:
            if k == 3:
                _taps_argmax(acc, arg, first, at - g.pw, lo, hi, 1, 3)
            else:
                _taps_argmax(acc, arg, first, at - g.pw, lo, hi, 1, 2)
        else:
            _taps_argmax(acc, arg, first, at - g.pw, lo, hi, s, k)
    elif mode == 0:
        if narrow and s == 2:
            if k == 3:
                _taps_reduce(acc, first, lo, hi, 2, 3, 0)
            else:
                _taps_reduce(acc, first, lo, hi, 2, 2, 0)
        elif narrow and s == 1:
            if k == 3:
                _taps_reduce(acc, first, lo, hi, 1, 3, 0)
            else:
                _taps_reduce(acc, first, lo, hi, 1, 2, 0)
        else:
            _taps_reduce(acc, first, lo, hi, s, k, 0)
    else:
        if narrow and s == 2:
            if k == 3:
                _taps_reduce(acc, first, lo, hi, 2, 3, 1)
            else:
                _taps_reduce(acc, first, lo, hi, 2, 2, 1)
        elif narrow and s == 1:
            if k == 3:
                _taps_reduce(acc, first, lo, hi, 1, 3, 1)
            else:
                _taps_reduce(acc, first, lo, hi, 1, 2, 1)
        else:
            _taps_reduce(acc, first, lo, hi, s, k, 1)
    # border columns ([lo, hi) is never reversed: see _interior)
    for o in range(lo):
        _border_column(acc, arg, row, at, g, o, mode)
    for o in range(hi, g.Wo):
        _border_column(acc, arg, row, at, g, o, mode)


cdef inline void _windows_reduce(real* out, const real* top, Py_ssize_t ld, Py_ssize_t lo,
                                 Py_ssize_t hi, Py_ssize_t s, Py_ssize_t k, int mode, real count,
                                 real lowest) noexcept nogil:
    # out[o] = the max (mode 0) or the sum / count of the k x k window whose first element is
    # top[o * s] (rows ld apart), o in [lo, hi); called with constant s, k and mode, the window
    # loops unroll and the loop over o vectorizes
    cdef Py_ssize_t o, i, j
    cdef real v, t
    for o in range(lo, hi):
        v = lowest if mode == 0 else 0
        for i in range(k):
            for j in range(k):
                t = top[i * ld + o * s + j]
                if mode == 0:
                    v = t if t > v else v
                else:
                    v = v + t
        out[o] = v if mode == 0 else v / count


cdef inline void _windows_argmax(int* tap, const real* top, Py_ssize_t ld, Py_ssize_t lo,
                                 Py_ssize_t hi, Py_ssize_t s, Py_ssize_t k,
                                 real lowest) noexcept nogil:
    # tap[o]: i * k + j of the first maximum top[i * ld + o * s + j] of _windows_reduce's window,
    # -1 if none is above `lowest` (an int as wide as a float32 lane: the selects vectorize)
    cdef Py_ssize_t o, i, j
    cdef int t_best
    cdef real v, t
    cdef bint take
    for o in range(lo, hi):
        v = lowest
        t_best = -1
        for i in range(k):
            for j in range(k):
                t = top[i * ld + o * s + j]
                take = t > v
                v = t if take else v
                t_best = <int>(i * k + j) if take else t_best
        tap[o] = t_best


cdef inline bint _unrolled_windows(Geom* g) noexcept nogil:
    """Whether _windows_* run this geometry's windows with constant sizes: 2x2 or 3x3, column
    stride 1 or 2."""
    return g.kh == g.kw and (g.kw == 2 or g.kw == 3) and (g.sw == 1 or g.sw == 2)


cdef inline void _windows(real* out, int* tap, const real* first, Py_ssize_t ld, Geom* g,
                          Py_ssize_t lo, Py_ssize_t hi, int mode, real count,
                          real lowest) noexcept nogil:
    """_windows_reduce (mode 0-2), or _windows_argmax (mode -1), of a geometry that
    _unrolled_windows accepts, `first` pointing at the first window's first element, rows
    `ld` apart."""
    if mode == -1:
        if g.sw == 2:
            if g.kw == 3:
                _windows_argmax(tap, first, ld, lo, hi, 2, 3, lowest)
            else:
                _windows_argmax(tap, first, ld, lo, hi, 2, 2, lowest)
        elif g.kw == 3:
            _windows_argmax(tap, first, ld, lo, hi, 1, 3, lowest)
        else:
            _windows_argmax(tap, first, ld, lo, hi, 1, 2, lowest)
    elif mode == 0:
        if g.sw == 2:
            if g.kw == 3:
                _windows_reduce(out, first, ld, lo, hi, 2, 3, 0, count, lowest)
            else:
                _windows_reduce(out, first, ld, lo, hi, 2, 2, 0, count, lowest)
        elif g.kw == 3:
            _windows_reduce(out, first, ld, lo, hi, 1, 3, 0, count, lowest)
        else:
            _windows_reduce(out, first, ld, lo, hi, 1, 2, 0, count, lowest)
    else:
        if g.sw == 2:
            if g.kw == 3:
                _windows_reduce(out, first, ld, lo, hi, 2, 3, 1, count, lowest)
            else:
                _windows_reduce(out, first, ld, lo, hi, 2, 2, 1, count, lowest)
        elif g.kw == 3:
            _windows_reduce(out, first, ld, lo, hi, 1, 3, 1, count, lowest)
        else:
            _windows_reduce(out, first, ld, lo, hi, 1, 2, 1, count, lowest)


cdef inline void _border_window(real* out, const real* top, Geom* g, Py_ssize_t o,
                                Py_ssize_t n_rows, int mode, real count, real lowest) noexcept nogil:
    # out[o] of a window over n_rows consecutive input rows from `top`, some of whose columns
    # fall outside the input: those are skipped (avg divides by count, 0 for an empty window)
    cdef Py_ssize_t h, j, w0 = o * g.sw - g.pw, w1 = w0 + g.kw
    cdef const real* row
    cdef real v = lowest if mode == 0 else 0
    w0 = w0 if w0 > 0 else 0
    w1 = w1 if w1 < g.W else g.W
    for h in range(n_rows):
        row = top + h * g.W
        for j in range(w0, w1):
            if mode == 0:
                v = row[j] if row[j] > v else v
            else:
                v = v + row[j]
    if mode == 1:
        v = v / count if count > 0 else 0
    out[o] = v


cdef inline void _interior(Geom* g, Py_ssize_t* lo, Py_ssize_t* hi) noexcept nogil:
    """[lo, hi): the output columns whose every window tap reads inside the input row."""
    cdef Py_ssize_t unused
    _valid_range(-g.pw, g.sw, g.W, g.Wo, lo, &unused)
    _valid_range(g.kw - 1 - g.pw, g.sw, g.W, g.Wo, &unused, hi)
    if hi[0] < lo[0]:
        hi[0] = lo[0]


cdef inline void _avg_widths(Geom* g, bint include_pad, real* widths) noexcept nogil:
    """widths[o]: the width avg divides by at output column o (a real: its products with the
    window's rows are exact and need no integer conversion in the loop)."""
    cdef Py_ssize_t o, w0, w1, wp
    for o in range(g.Wo):
        _window(o, g.sw, g.pw, g.kw, g.W, &w0, &w1, &wp)
        widths[o] = <real>(wp if include_pad else w1 - w0)


cdef bint _pool_forward_rows(const real* x, real* y, Geom* g, int mode, bint include_pad,
                             int req, real lowest) noexcept nogil:
    """_pool_forward row by row (modes 0-2, channels-first); False if out of memory."""
    cdef Py_ssize_t plane, od, oh, o, d, h, d0, d1, dp, h0, h1, hp, lo, hi
    cdef const real* xp
    cdef const real* top
    cdef real* yr
    cdef real* acc
    cdef real rows, count
    cdef bint unrolled = _unrolled_windows(g)
    cdef real* widths = <real*>malloc(2 * g.Wo * sizeof(real) + 1)
    if widths == NULL:
        return False
    cdef real* acc_row = widths + g.Wo      # the row's results before 'add' adds them to y
    _avg_widths(g, include_pad, widths)
    _interior(g, &lo, &hi)
    for plane in range(g.N * g.C):
        xp = x + plane * g.D * g.H * g.W
        for od in range(g.Do):
            _window(od, g.sd, g.pd, g.kd, g.D, &d0, &d1, &dp)
            for oh in range(g.Ho):
                _window(oh, g.sh, g.ph, g.kh, g.H, &h0, &h1, &hp)
                yr = y + ((plane * g.Do + od) * g.Ho + oh) * g.Wo
                rows = <real>(dp * hp if include_pad else (d1 - d0) * (h1 - h0))
                if unrolled and req == REQ_WRITE and d1 - d0 == 1 and h1 - h0 == g.kh:
                    # every window row inside: one pass over the interior, then the borders
                    top = xp + (d0 * g.H + h0) * g.W
                    _windows(yr, NULL, top - g.pw, g.W, g, lo, hi, mode,
                             rows * g.kw if mode == 1 else 1, lowest)
                    for o in range(lo):
                        _border_window(yr, top, g, o, h1 - h0, mode, rows * widths[o], lowest)
                    for o in range(hi, g.Wo):
                        _border_window(yr, top, g, o, h1 - h0, mode, rows * widths[o], lowest)
                    continue
                acc = yr if req == REQ_WRITE else acc_row
                for o in range(g.Wo):
                    acc[o] = lowest if mode == 0 else 0
                for d in range(d0, d1):
                    for h in range(h0, h1):
                        _row_reduce(acc, NULL, xp + (d * g.H + h) * g.W, 0, g, lo, hi,
                                    0 if mode == 0 else 1)
                if mode == 1:
                    # an empty window has count 0 (or sums nothing): its average is 0
                    for o in range(g.Wo):
                        count = rows * widths[o]
                        acc[o] = acc[o] / count if count > 0 else 0
                if req == REQ_ADD:
                    for o in range(g.Wo):
                        yr[o] += acc[o]
    free(widths)
    return True


cdef inline bint _padded_planes(Geom* g) noexcept nogil:
    """Whether _pool_*_padded run this geometry: stride 1, 2x2 or 3x3 windows, depth slices
    pooled apart, every window inside the padded plane (so not 'same')."""
    return (g.sh == 1 and g.sw == 1 and g.kh == g.kw and (g.kw == 2 or g.kw == 3)
            and g.kd == 1 and g.sd == 1 and g.pd == 0
            and g.Ho == g.H + 2 * g.ph - g.kh + 1 and g.Wo == g.W + 2 * g.pw - g.kw + 1)


cdef inline void _avg_heights(Geom* g, bint include_pad, real* heights) noexcept nogil:
    # heights[oh]: the height avg divides by at output row oh (see _avg_widths)
    cdef Py_ssize_t oh, h0, h1, hp
    for oh in range(g.Ho):
        _window(oh, g.sh, g.ph, g.kh, g.H, &h0, &h1, &hp)
        heights[oh] = <real>(hp if include_pad else h1 - h0)


cdef bint _pool_forward_padded(const real* x, real* y, Geom* g, int mode, bint include_pad,
                               int req, real lowest) noexcept nogil:
    """_pool_forward at stride 1 (_padded_planes) on each plane copied into a buffer padded
    with elements that change no result (0 for sums, `lowest` for max): its windows are then
    one vectorized pass over the buffer read as a flat array, windows starting in the padding
    columns computed too and dropped.  Small planes (Inception's 17x17 and 8x8) would otherwise
    pay a row's overhead for a few outputs.  False if out of memory."""
    cdef Py_ssize_t plane, h, oh, o
    cdef Py_ssize_t Wp = g.W + 2 * g.pw, Hp = g.H + 2 * g.ph + 1   # + 1: the flat pass's last
    cdef Py_ssize_t n = g.Ho * Wp                                   # windows read into it
    cdef const real* ar
    cdef real* yr
    cdef real v, count
    cdef bint exclude = mode == 1 and not include_pad
    cdef real* padded = <real*>malloc((Hp * Wp + n + g.Wo + g.Ho) * sizeof(real))
    if padded == NULL:
        return False
    cdef real* acc = padded + Hp * Wp
    cdef real* widths = acc + n
    cdef real* heights = widths + g.Wo
    _avg_widths(g, include_pad, widths)
    _avg_heights(g, include_pad, heights)
    # the padding stays as filled here: only the inside is overwritten, plane after plane
    for o in range(Hp * Wp):
        padded[o] = lowest if mode == 0 else 0
    for plane in range(g.N * g.C * g.D):
        for h in range(g.H):
            memcpy(padded + (h + g.ph) * Wp + g.pw, x + (plane * g.H + h) * g.W,
                   g.W * sizeof(real))
        # every window counting the pad has kh * kw elements (stride 1, not 'same')
        _windows(acc, NULL, padded, Wp, g, 0, n, mode,
                 <real>(g.kh * g.kw) if mode == 1 and include_pad else 1, lowest)
        for oh in range(g.Ho):
            ar = acc + oh * Wp
            yr = y + (plane * g.Ho + oh) * g.Wo
            for o in range(g.Wo):
                v = ar[o]
                if exclude:
                    count = heights[oh] * widths[o]
                    v = v / count if count > 0 else 0
                if req == REQ_ADD:
                    yr[o] += v
                else:
                    yr[o] = v
    free(padded)
    return True


cdef bint _whole_planes(Geom* g, bint include_pad, Py_ssize_t* count) noexcept nogil:
    """Whether the only window covers every element of the plane; `count` is what avg divides by."""
    cdef Py_ssize_t d0, d1, dp, h0, h1, hp, w0, w1, wp
    if g.Do != 1 or g.Ho != 1 or g.Wo != 1:
        return False
    _window(0, g.sd, g.pd, g.kd, g.D, &d0, &d1, &dp)
    _window(0, g.sh, g.ph, g.kh, g.H, &h0, &h1, &hp)
    _window(0, g.sw, g.pw, g.kw, g.W, &w0, &w1, &wp)
    count[0] = dp * hp * wp if include_pad else g.D * g.H * g.W
    return (d0 == 0 and d1 == g.D and h0 == 0 and h1 == g.H and w0 == 0 and w1 == g.W
            and count[0] > 0)


cdef Py_ssize_t _first_max_index(const real* x, Py_ssize_t n, real lowest) noexcept nogil:
    """The index of the general loop's maximum of x[0:n] (the first element above `lowest` and
    all elements before it), -1 if none: the largest value from eight partial maxima (as
    _math._max, but starting at `lowest`), then the first element equal to it."""
    cdef real m0 = lowest, m1 = lowest, m2 = lowest, m3 = lowest
    cdef real m4 = lowest, m5 = lowest, m6 = lowest, m7 = lowest
    cdef Py_ssize_t i, whole = n - n % 8
    for i in range(0, whole, 8):
        m0 = x[i] if x[i] > m0 else m0
        m1 = x[i + 1] if x[i + 1] > m1 else m1
        m2 = x[i + 2] if x[i + 2] > m2 else m2
        m3 = x[i + 3] if x[i + 3] > m3 else m3
        m4 = x[i + 4] if x[i + 4] > m4 else m4
        m5 = x[i + 5] if x[i + 5] > m5 else m5
        m6 = x[i + 6] if x[i + 6] > m6 else m6
        m7 = x[i + 7] if x[i + 7] > m7 else m7
    for i in range(whole, n):
        m0 = x[i] if x[i] > m0 else m0
    m0 = m1 if m1 > m0 else m0
    m2 = m3 if m3 > m2 else m2
    m4 = m5 if m5 > m4 else m4
    m6 = m7 if m7 > m6 else m6
    m0 = m2 if m2 > m0 else m0
    m4 = m6 if m6 > m4 else m4
    m0 = m4 if m4 > m0 else m0
    if not m0 > lowest:
        return -1
    # (0.0 == -0.0: the first of either sign, as the general loop's strict comparison keeps)
    for i in range(n):
        if x[i] == m0:
            return i
    return -1


cdef void _pool_forward_planes(const real* x, real* y, Geom* g, int mode, Py_ssize_t count,
                               int req, real lowest) noexcept nogil:
    cdef Py_ssize_t plane, arg, size = g.D * g.H * g.W
    cdef const real* xp
    cdef real value
    for plane in range(g.N * g.C):
        xp = x + plane * size
        if mode == 0:
            arg = _first_max_index(xp, size, lowest)
            value = xp[arg] if arg >= 0 else lowest
        else:
            value = <real>_sum(xp, size)
            if mode == 1:
                value = value / count
        if req == REQ_ADD:
            y[plane] += value
        else:
            y[plane] = value


cdef void _pool_forward(const real* x, real* y, Geom* g, int mode, bint include_pad, int p,
                        bint channels_last, int req) noexcept nogil:
    # geometry: N, C as planes; F unused
    cdef Py_ssize_t plane, od, oh, ow, d0, d1, dp, h0, h1, hp, w0, w1, wp, count
    cdef Py_ssize_t in_off, out_off, es
    cdef const real* xp
    cdef real* yp
    cdef real value, lowest
    if req == REQ_NULL:
        return
    lowest = <real>(-FLT_MAX) if real is float else <real>(-DBL_MAX)
    if mode != 3 and not channels_last:
        if _is_2x2_stride_2(g):
            _pool_forward_2x2(x, y, g, mode, req, lowest)
            return
        if _whole_planes(g, include_pad, &count):
            _pool_forward_planes(x, y, g, mode, count, req, lowest)
            return
        if _padded_planes(g) and _pool_forward_padded(x, y, g, mode, include_pad, req, lowest):
            return
        if _pool_forward_rows(x, y, g, mode, include_pad, req, lowest):
            return
    for plane in range(g.N * g.C):
        _plane_pointers(plane, g, channels_last, &in_off, &out_off, &es)
        xp = x + in_off
        yp = y + out_off
        for od in range(g.Do):
            _window(od, g.sd, g.pd, g.kd, g.D, &d0, &d1, &dp)
            for oh in range(g.Ho):
                _window(oh, g.sh, g.ph, g.kh, g.H, &h0, &h1, &hp)
                for ow in range(g.Wo):
                    _window(ow, g.sw, g.pw, g.kw, g.W, &w0, &w1, &wp)
                    value = _window_reduce(xp, es, g, d0, d1, h0, h1, w0, w1, mode, p, lowest)
                    if mode == 1:
                        count = dp * hp * wp if include_pad else (d1 - d0) * (h1 - h0) * (w1 - w0)
                        value = value / count if (d1 > d0 and h1 > h0 and w1 > w0) else 0
                    elif mode == 3:
                        value = _root_p(value, p)
                    if req == REQ_ADD:
                        yp[((od * g.Ho + oh) * g.Wo + ow) * es] += value
                    else:
                        yp[((od * g.Ho + oh) * g.Wo + ow) * es] = value


cdef inline void _border_argmax(int* tap, const real* top, Geom* g, Py_ssize_t o,
                                real lowest) noexcept nogil:
    # _windows_argmax at a column some of whose taps fall outside the input (see _border_window)
    cdef Py_ssize_t i, j, first = o * g.sw - g.pw
    cdef Py_ssize_t j0 = -first if first < 0 else 0
    cdef Py_ssize_t j1 = g.W - first if g.W - first < g.kw else g.kw
    cdef const real* row
    cdef real v = lowest
    cdef int t_best = -1
    for i in range(g.kh):
        row = top + i * g.W + first
        for j in range(j0, j1):
            if row[j] > v:
                v = row[j]
                t_best = <int>(i * g.kw + j)
    tap[o] = t_best


cdef inline void _spread_row(real* spread, real* padded, const real* grad, Geom* g,
                             Py_ssize_t* cols) noexcept nogil:
    """spread[w] = the sum of grad[o] over the outputs o of a row whose window reads input
    column w.  At stride 1 a gather: `padded` holds grad with kw - 1 zeros on each side, so
    spread[w] = sum over taps j of padded[w + pw + kw - 1 - j] (no border); otherwise tap j
    adds grad[o] at w = o * sw - pw + j for the outputs in its range cols[2j:2j + 2]."""
    cdef Py_ssize_t o, j, w, k = g.kw
    cdef const real* src
    if g.sw == 1:
        memset(padded, 0, (k - 1) * sizeof(real))
        memcpy(padded + k - 1, grad, g.Wo * sizeof(real))
        memset(padded + k - 1 + g.Wo, 0, (k - 1) * sizeof(real))
        src = padded + g.pw + k - 1
        if k == 3:
            for w in range(g.W):
                spread[w] = (src[w] + src[w - 1]) + src[w - 2]
        elif k == 2:
            for w in range(g.W):
                spread[w] = src[w] + src[w - 1]
        else:
            memset(spread, 0, g.W * sizeof(real))
            for j in range(k):
                for w in range(g.W):
                    spread[w] += src[w - j]
        return
    memset(spread, 0, g.W * sizeof(real))
    for j in range(k):
        for o in range(cols[2 * j], cols[2 * j + 1]):
            spread[o * g.sw - g.pw + j] += grad[o]


cdef bint _pool_backward_rows(const real* dy, const real* x, real* dx, Geom* g, int mode,
                              bint include_pad, int req, real lowest) noexcept nogil:
    """_pool_backward row by row (modes 0-2, channels-first); False if out of memory.  Max:
    each output row's argmaxes (as _pool_forward_rows finds the maxima), then the gradient
    added at each; avg and sum: each output row's gradient spread over an input row
    (_spread_row), added to every input row of its windows.  For 'write' on 1-D and 2-D data,
    input rows are zeroed as the windows first reach them (still in cache when added to)."""
    cdef Py_ssize_t plane, od, oh, o, d, h, w, d0, d1, dp, h0, h1, hp, lo, hi, at, i, j, zeroed
    cdef Py_ssize_t offsets[9]
    cdef const real* xp
    cdef const real* dyr
    cdef real* dxp
    cdef real* dx_row
    cdef real rows, count
    cdef bint unrolled = _unrolled_windows(g), lazy = req == REQ_WRITE and g.D == 1
    cdef Py_ssize_t n_pad = g.Wo + 2 * g.kw
    cdef char* block = <char*>malloc((3 * g.Wo + n_pad + g.W) * sizeof(real)
                                     + (g.Wo + 2 * g.kw) * sizeof(Py_ssize_t)
                                     + g.Wo * sizeof(int) + 1)
    if block == NULL:
        return False
    cdef Py_ssize_t* arg = <Py_ssize_t*>block
    cdef Py_ssize_t* cols = arg + g.Wo
    cdef real* widths = <real*>(cols + 2 * g.kw)
    cdef real* best = widths + g.Wo           # max: the maxima so far; avg, sum: the row's gradient
    cdef real* padded = best + g.Wo
    cdef real* spread = padded + n_pad
    cdef int* tap = <int*>(spread + g.W)
    _avg_widths(g, include_pad, widths)
    _interior(g, &lo, &hi)
    for j in range(g.kw):
        _valid_range(j - g.pw, g.sw, g.W, g.Wo, &cols[2 * j], &cols[2 * j + 1])
    if unrolled:
        # a window tap's offset from the window's first element
        for i in range(g.kh):
            for j in range(g.kw):
                offsets[i * g.kw + j] = i * g.W + j
    if req == REQ_WRITE and not lazy:
        memset(dx, 0, g.N * g.C * g.D * g.H * g.W * sizeof(real))
    for plane in range(g.N * g.C):
        xp = x + plane * g.D * g.H * g.W
        dxp = dx + plane * g.D * g.H * g.W
        zeroed = 0
        for od in range(g.Do):
            _window(od, g.sd, g.pd, g.kd, g.D, &d0, &d1, &dp)
            for oh in range(g.Ho):
                _window(oh, g.sh, g.ph, g.kh, g.H, &h0, &h1, &hp)
                if lazy and h1 > zeroed:
                    memset(dxp + zeroed * g.W, 0, (h1 - zeroed) * g.W * sizeof(real))
                    zeroed = h1
                dyr = dy + ((plane * g.Do + od) * g.Ho + oh) * g.Wo
                if mode == 0 and unrolled and d1 - d0 == 1 and h1 - h0 == g.kh:
                    at = (d0 * g.H + h0) * g.W
                    _windows(NULL, tap, xp + at - g.pw, g.W, g, lo, hi, -1, 1, lowest)
                    for o in range(lo):
                        _border_argmax(tap, xp + at, g, o, lowest)
                    for o in range(hi, g.Wo):
                        _border_argmax(tap, xp + at, g, o, lowest)
                    dx_row = dxp + at - g.pw
                    for o in range(g.Wo):
                        if tap[o] >= 0:
                            dx_row[o * g.sw + offsets[tap[o]]] += dyr[o]
                elif mode == 0:
                    for o in range(g.Wo):
                        best[o] = lowest
                        arg[o] = -1
                    for d in range(d0, d1):
                        for h in range(h0, h1):
                            at = (d * g.H + h) * g.W
                            _row_reduce(best, arg, xp + at, at, g, lo, hi, -1)
                    for o in range(g.Wo):
                        if arg[o] >= 0:
                            dxp[arg[o]] += dyr[o]
                elif d1 > d0 and h1 > h0:
                    if mode == 1:
                        rows = <real>(dp * hp if include_pad else (d1 - d0) * (h1 - h0))
                        for o in range(g.Wo):
                            count = rows * widths[o]
                            best[o] = dyr[o] / count if count > 0 else 0
                        _spread_row(spread, padded, best, g, cols)
                    else:
                        _spread_row(spread, padded, dyr, g, cols)
                    for d in range(d0, d1):
                        for h in range(h0, h1):
                            dx_row = dxp + (d * g.H + h) * g.W
                            for w in range(g.W):
                                dx_row[w] += spread[w]
        if lazy and zeroed < g.H:
            memset(dxp + zeroed * g.W, 0, (g.H - zeroed) * g.W * sizeof(real))
    free(block)
    return True


cdef bint _pool_backward_padded(const real* dy, real* dx, Geom* g, int mode, bint include_pad,
                                int req) noexcept nogil:
    """_pool_backward of avg and sum at stride 1 (_padded_planes): dx[h, w] is the sum of the
    gradients (dy over the window's count) of the windows holding (h, w), which is a window
    sum (read backwards) over those gradients with kh - 1 zero rows and kw - 1 zero columns
    around them: _pool_forward_padded's flat pass, writing dx once.  False if out of memory."""
    cdef Py_ssize_t plane, h, w, oh, o
    cdef Py_ssize_t Wg = g.Wo + 2 * (g.kw - 1), Hg = g.Ho + 2 * (g.kh - 1) + 1   # + 1 as above
    cdef Py_ssize_t n = g.H * Wg
    cdef const real* dyr
    cdef const real* ar
    cdef real* gr
    cdef real* dx_row
    cdef real count
    cdef real* grads = <real*>malloc((Hg * Wg + n + g.Wo + g.Ho) * sizeof(real))
    if grads == NULL:
        return False
    cdef real* acc = grads + Hg * Wg
    cdef real* widths = acc + n
    cdef real* heights = widths + g.Wo
    _avg_widths(g, include_pad, widths)
    _avg_heights(g, include_pad, heights)
    memset(grads, 0, Hg * Wg * sizeof(real))
    for plane in range(g.N * g.C * g.D):
        for oh in range(g.Ho):
            dyr = dy + (plane * g.Ho + oh) * g.Wo
            gr = grads + (oh + g.kh - 1) * Wg + g.kw - 1
            if mode == 2:
                memcpy(gr, dyr, g.Wo * sizeof(real))
                continue
            for o in range(g.Wo):
                # an empty window (count 0) reaches no element of dx
                count = heights[oh] * widths[o]
                gr[o] = dyr[o] / count if count > 0 else 0
        _windows(acc, NULL, grads + g.ph * Wg + g.pw, Wg, g, 0, n, 2, 1, 0)
        for h in range(g.H):
            ar = acc + h * Wg
            dx_row = dx + (plane * g.H + h) * g.W
            if req == REQ_ADD:
                for w in range(g.W):
                    dx_row[w] += ar[w]
            else:
                memcpy(dx_row, ar, g.W * sizeof(real))
    free(grads)
    return True


cdef inline bint _tiles(Geom* g) noexcept nogil:
    """Whether the windows tile the input: each element is in exactly one window."""
    return (g.kd == g.sd and g.kh == g.sh and g.kw == g.sw and g.pd == 0 and g.ph == 0
            and g.pw == 0 and g.Do * g.sd == g.D and g.Ho * g.sh == g.H and g.Wo * g.sw == g.W)


cdef void _sum_pool_backward_tiles(const real* dy, real* dx, Geom* g, real count) noexcept nogil:
    """Backward of avg (count: the window's size) and sum (count 1) over tiling windows: dx
    written once, each element its window's dy / count; no zeroing first."""
    cdef Py_ssize_t plane, od, oh, o, a, i, j
    cdef const real* dyr
    cdef real* dx_row
    cdef real v
    for plane in range(g.N * g.C):
        for od in range(g.Do):
            for oh in range(g.Ho):
                dyr = dy + ((plane * g.Do + od) * g.Ho + oh) * g.Wo
                for a in range(g.kd):
                    for i in range(g.kh):
                        dx_row = dx + ((plane * g.D + od * g.kd + a) * g.H + oh * g.kh + i) * g.W
                        if g.kw == 2:
                            for o in range(g.Wo):
                                v = dyr[o] / count
                                dx_row[2 * o] = v
                                dx_row[2 * o + 1] = v
                        else:
                            for o in range(g.Wo):
                                v = dyr[o] / count
                                for j in range(g.kw):
                                    dx_row[o * g.kw + j] = v


cdef void _pool_backward_planes(const real* dy, const real* x, real* dx, Geom* g, int mode,
                                Py_ssize_t count, int req, real lowest) noexcept nogil:
    cdef Py_ssize_t plane, i, arg, size = g.D * g.H * g.W
    cdef real* dxp
    cdef real v
    for plane in range(g.N * g.C):
        dxp = dx + plane * size
        if mode == 0:
            if req == REQ_WRITE:
                memset(dxp, 0, size * sizeof(real))
            arg = _first_max_index(x + plane * size, size, lowest)
            if arg >= 0:
                dxp[arg] += dy[plane]
            continue
        v = dy[plane] / count if mode == 1 else dy[plane]
        if req == REQ_WRITE:
            for i in range(size):
                dxp[i] = v
        else:
            for i in range(size):
                dxp[i] += v


cdef void pool_forward_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    # arrays: x, y; ints: geometry(GEOM_INTS), mode, count_include_pad, p_value, channels_last, req
    cdef Geom g = _geom(c.ints)
    cdef Py_ssize_t* extra = c.ints + GEOM_INTS
    if c.dtype == 0:
        _pool_forward_split(<float*>c.arrays[0], <float*>c.arrays[1], &g, <int>extra[0],
                            <bint>extra[1], <int>extra[2], <bint>extra[3], <int>extra[4])
    else:
        _pool_forward_split(<double*>c.arrays[0], <double*>c.arrays[1], &g, <int>extra[0],
                            <bint>extra[1], <int>extra[2], <bint>extra[3], <int>extra[4])


cdef inline Geom _plane_range(Geom* g, Py_ssize_t first, Py_ssize_t last) noexcept nogil:
    # planes first..last of an NC... pooling as a problem of its own (one sample of
    # last - first channels); the caller offsets the arrays by `first` planes
    cdef Geom part = g[0]
    part.N = 1
    part.C = last - first
    return part


cdef void _pool_forward_split(const real* x, real* y, Geom* g, int mode, bint include_pad, int p,
                              bint channels_last, int req) noexcept nogil:
    # planes are independent: split over the kernel threads (channels-first layouts)
    cdef Py_ssize_t planes = g.N * g.C
    cdef Py_ssize_t in_plane = g.D * g.H * g.W, out_plane = g.Do * g.Ho * g.Wo
    cdef Py_ssize_t first, last
    cdef Geom part_geom
    cdef int part
    cdef int parts = 1 if channels_last else threads.parts_for(
        <double>planes * (in_plane + out_plane))
    if parts == 1:
        _pool_forward(x, y, g, mode, include_pad, p, channels_last, req)
        return
    for part in prange(parts, num_threads=parts, schedule="static"):
        first = threads.split_point(planes, parts, part, 1)
        last = threads.split_point(planes, parts, part + 1, 1)
        if last > first:
            part_geom = _plane_range(g, first, last)
            _pool_forward(x + first * in_plane, y + first * out_plane, &part_geom, mode,
                          include_pad, p, False, req)


cdef void _max_pool_backward_2x2(const real* dy, const real* x, real* dx, Geom* g,
                                 real lowest) noexcept nogil:
    """Max pooling's backward for 2x2 windows with stride 2 tiling the input, writing every
    element of dx once: the gradient at the window's first maximum (as the general loop picks
    it), zero at the other three.  Branch-free, because which element wins is data."""
    cdef Py_ssize_t plane, oh, ow
    cdef const real* top
    cdef const real* bottom
    cdef const real* grads
    cdef real* dx_top
    cdef real* dx_bottom
    cdef real a, b, c, d, best, grad
    cdef bint found, on_a, on_b, on_c
    for plane in range(g.N * g.C * g.D):
        for oh in range(g.Ho):
            top = x + plane * g.H * g.W + 2 * oh * g.W
            bottom = top + g.W
            dx_top = dx + plane * g.H * g.W + 2 * oh * g.W
            dx_bottom = dx_top + g.W
            grads = dy + plane * g.Ho * g.Wo + oh * g.Wo
            for ow in range(g.Wo):
                a = top[2 * ow]
                b = top[2 * ow + 1]
                c = bottom[2 * ow]
                d = bottom[2 * ow + 1]
                best = _first_max(a, b, c, d, lowest)
                grad = grads[ow]
                # comparisons as masks (no integer index), so the loop vectorizes
                found = best > lowest
                on_a = found & (a == best)
                on_b = found & (b == best) & (not on_a)
                on_c = found & (c == best) & (not on_a) & (not on_b)
                dx_top[2 * ow] = grad if on_a else 0
                dx_top[2 * ow + 1] = grad if on_b else 0
                dx_bottom[2 * ow] = grad if on_c else 0
                dx_bottom[2 * ow + 1] = grad if found & (d == best) & (not on_a) & (not on_b) & (not on_c) else 0


cdef void _pool_backward(const real* dy, const real* x, real* dx, Geom* g, int mode,
                         bint include_pad, int p, bint channels_last, int req) noexcept nogil:
    cdef Py_ssize_t plane, od, oh, ow, d, h, w, d0, d1, dp, h0, h1, hp, w0, w1, wp, count, arg, at
    cdef Py_ssize_t in_off, out_off, es
    cdef const real* xp
    cdef const real* dyp
    cdef real* dxp
    cdef real best, grad, lowest, norm
    cdef bint fast
    if req == REQ_NULL:
        return
    lowest = <real>(-FLT_MAX) if real is float else <real>(-DBL_MAX)
    if (mode == 0 and req == REQ_WRITE and not channels_last and _is_2x2_stride_2(g)
            and 2 * g.Ho == g.H and 2 * g.Wo == g.W):
        _max_pool_backward_2x2(dy, x, dx, g, lowest)
        return
    fast = mode != 3 and not channels_last
    if fast and _whole_planes(g, include_pad, &count):
        _pool_backward_planes(dy, x, dx, g, mode, count, req, lowest)
        return
    if (fast and mode != 0 and _padded_planes(g)
            and _pool_backward_padded(dy, dx, g, mode, include_pad, req)):
        return
    if fast and mode != 0 and req == REQ_WRITE and _tiles(g):
        _sum_pool_backward_tiles(dy, dx, g, <real>(g.kd * g.kh * g.kw if mode == 1 else 1))
        return
    if fast and _pool_backward_rows(dy, x, dx, g, mode, include_pad, req, lowest):
        return
    if req == REQ_WRITE:
        memset(dx, 0, g.N * g.C * g.D * g.H * g.W * sizeof(real))
    for plane in range(g.N * g.C):
        _plane_pointers(plane, g, channels_last, &in_off, &out_off, &es)
        xp = x + in_off
        dxp = dx + in_off
        dyp = dy + out_off
        for od in range(g.Do):
            _window(od, g.sd, g.pd, g.kd, g.D, &d0, &d1, &dp)
            for oh in range(g.Ho):
                _window(oh, g.sh, g.ph, g.kh, g.H, &h0, &h1, &hp)
                for ow in range(g.Wo):
                    _window(ow, g.sw, g.pw, g.kw, g.W, &w0, &w1, &wp)
                    grad = dyp[((od * g.Ho + oh) * g.Wo + ow) * es]
                    if mode == 0:
                        # the gradient goes to the first maximum of the window (argmax recomputed)
                        best = lowest
                        arg = -1
                        for d in range(d0, d1):
                            for h in range(h0, h1):
                                for w in range(w0, w1):
                                    at = ((d * g.H + h) * g.W + w) * es
                                    if xp[at] > best:
                                        best = xp[at]
                                        arg = at
                        if arg >= 0:
                            dxp[arg] += grad
                        continue
                    if mode == 3:
                        # the window's output, recomputed as the argmax of max pooling is
                        norm = _root_p(_window_reduce(xp, es, g, d0, d1, h0, h1, w0, w1, mode, p,
                                                      lowest), p)
                    elif mode == 1:
                        count = dp * hp * wp if include_pad else (d1 - d0) * (h1 - h0) * (w1 - w0)
                        if count > 0:
                            grad = grad / count
                    for d in range(d0, d1):
                        for h in range(h0, h1):
                            at = (d * g.H + h) * g.W * es
                            if mode == 3:
                                for w in range(w0, w1):
                                    dxp[at + w * es] += _lp_grad(grad, xp[at + w * es], norm, p)
                            else:
                                for w in range(w0, w1):
                                    dxp[at + w * es] += grad


cdef void pool_backward_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    # arrays: dy, x, dx; ints: geometry(GEOM_INTS), mode, count_include_pad, p_value, channels_last, req
    cdef Geom g = _geom(c.ints)
    cdef Py_ssize_t* extra = c.ints + GEOM_INTS
    if c.dtype == 0:
        _pool_backward_split(<float*>c.arrays[0], <float*>c.arrays[1], <float*>c.arrays[2], &g,
                             <int>extra[0], <bint>extra[1], <int>extra[2], <bint>extra[3],
                             <int>extra[4])
    else:
        _pool_backward_split(<double*>c.arrays[0], <double*>c.arrays[1], <double*>c.arrays[2], &g,
                             <int>extra[0], <bint>extra[1], <int>extra[2], <bint>extra[3],
                             <int>extra[4])


cdef void _pool_backward_split(const real* dy, const real* x, real* dx, Geom* g, int mode,
                               bint include_pad, int p, bint channels_last,
                               int req) noexcept nogil:
    # as _pool_forward_split: each part writes the dx planes of its own planes
    cdef Py_ssize_t planes = g.N * g.C
    cdef Py_ssize_t in_plane = g.D * g.H * g.W, out_plane = g.Do * g.Ho * g.Wo
    cdef Py_ssize_t first, last
    cdef Geom part_geom
    cdef int part
    cdef int parts = 1 if channels_last else threads.parts_for(
        <double>planes * (2 * in_plane + out_plane))
    if parts == 1:
        _pool_backward(dy, x, dx, g, mode, include_pad, p, channels_last, req)
        return
    for part in prange(parts, num_threads=parts, schedule="static"):
        first = threads.split_point(planes, parts, part, 1)
        last = threads.split_point(planes, parts, part + 1, 1)
        if last > first:
            part_geom = _plane_range(g, first, last)
            _pool_backward(dy + first * out_plane, x + first * in_plane, dx + first * in_plane,
                           &part_geom, mode, include_pad, p, False, req)


CHANNELS_LAST = ("NWC", "NHWC", "NDHWC")
_LAYOUTS = {1: ("NCW", "NWC"), 2: ("NCHW", "NHWC"), 3: ("NCDHW", "NDHWC")}


def pool_geometry(shape, kernel=(), stride=(), pad=(), global_pool=False,
                  pooling_convention="valid", layout=None, label="Pooling"):
    """The GEOM_INTS geometry ints for pooling data of `shape` (F = C, G unused, dilation 1), and
    whether the layout is channels-last."""
    shape = tuple(int(s) for s in shape)
    ndim = len(shape) - 2
    if ndim not in (1, 2, 3):
        raise ValueError(f"{label}: Pooling supports 3-D, 4-D and 5-D data, got shape {shape}")
    if layout is not None and layout not in _LAYOUTS[ndim]:
        raise ValueError(f"{label}: layout {layout} does not fit {ndim + 2}-D data {shape}; "
                         f"expected one of {_LAYOUTS[ndim]}")
    channels_last = layout in CHANNELS_LAST
    # (this module is compiled with wraparound=False: no negative indices)
    N, C = (shape[0], shape[ndim + 1]) if channels_last else shape[:2]
    spatial = shape[1:ndim + 1] if channels_last else shape[2:]
    if pooling_convention == "same":
        if ndim != 1 or any(pad or ()):
            raise ValueError(f"{label}: pooling_convention 'same' supports 1-D pooling without "
                             f"pad only, got data {shape} and pad={tuple(pad or ())}")
        pad = ()   # MXNet 1.9.1 wants three zeros here
    if global_pool:
        kernel, stride, pad = spatial, (1,) * ndim, (0,) * ndim
    kernel = tuple(int(k) for k in kernel)
    if len(kernel) != ndim:
        raise ValueError(f"{label}: kernel={kernel} does not match the {ndim} spatial dimensions of {shape}")
    ks = _as_3d(kernel, ndim, 1, "kernel")
    ss = _as_3d(stride, ndim, 1, "stride")
    ps = _as_3d(pad, ndim, 0, "pad")
    if min(ks + ss) < 1 or min(ps) < 0:
        raise ValueError(f"{label}: kernel and stride must be positive and pad non-negative")
    sizes = (1,) * (3 - ndim) + spatial
    out = []
    for size, k, s, p in zip(sizes, ks, ss, ps):
        if size + 2 * p < k:
            raise ValueError(f"{label}: kernel {kernel} is larger than the padded input {shape}")
        if global_pool:
            out.append(1)
        elif pooling_convention == "full":
            out.append(-(-(size + 2 * p - k) // s) + 1)
        elif pooling_convention == "valid":
            out.append((size + 2 * p - k) // s + 1)
        elif pooling_convention == "same":
            out.append(-(-(size + 2 * p) // s))
        else:
            raise ValueError(f"{label}: pooling_convention must be 'valid', 'full' or 'same', "
                             f"not {pooling_convention!r}")
    return [N, C, *sizes, C, 1, *ks, *ss, 1, 1, 1, *ps, *out], channels_last


def pool_output_shape(geo, ndim, channels_last):
    spatial = tuple(geo[GEOM_INTS - ndim:GEOM_INTS])
    return (geo[0],) + spatial + (geo[1],) if channels_last else (geo[0], geo[1]) + spatial


def _pool_args(x, y, pool_type, kernel, stride, pad, global_pool, pooling_convention,
               count_include_pad, p_value, layout, label):
    if pool_type not in POOL_CODES:
        raise ValueError(f"{label}: pool_type must be one of {sorted(POOL_CODES)}, not {pool_type!r}")
    if pool_type == "lp" and p_value not in (1, 2, 3):
        raise ValueError(f"{label}: lp pooling needs p_value 1, 2 or 3, got {p_value!r}")
    geo, channels_last = pool_geometry(x.shape, kernel, stride, pad, global_pool,
                                       pooling_convention, layout, label)
    _check_shape(y, pool_output_shape(geo, x.ndim - 2, channels_last), "output", label)
    with_pad = True if count_include_pad is None else bool(count_include_pad)
    return geo + [POOL_CODES[pool_type], with_pad, p_value if pool_type == "lp" else 1,
                  channels_last]


def append_pooling(Plan plan, x, y, pool_type="max", kernel=(), stride=(), pad=(),
                   global_pool=False, pooling_convention="valid", count_include_pad=None,
                   p_value=None, layout=None, str req="write", str label="Pooling"):
    """Append y = pool(x)."""
    ints = _pool_args(x, y, pool_type, kernel, stride, pad, global_pool, pooling_convention,
                      count_include_pad, p_value, layout, label)
    arrays = [x, y]
    plan.add(pool_forward_kernel, common_dtype(arrays), arrays, ints + [req_code(req, label)], [], label)


def append_pooling_backward(Plan plan, dy, x, dx, pool_type="max", kernel=(), stride=(), pad=(),
                            global_pool=False, pooling_convention="valid", count_include_pad=None,
                            p_value=None, layout=None, str req="write",
                            str label="_backward_Pooling"):
    """Append dx = d pool(x) / dx applied to dy (max recomputes each window's first argmax, lp
    each window's output)."""
    ints = _pool_args(x, dy, pool_type, kernel, stride, pad, global_pool, pooling_convention,
                      count_include_pad, p_value, layout, label)
    if dx is None or req == "null":
        return
    _check_shape(dx, x.shape, "data gradient", label)
    arrays = [dy, x, dx]
    plan.add(pool_backward_kernel, common_dtype(arrays), arrays, ints + [req_code(req, label)], [], label)


# ---------------------------------------------------------------------------------------
# Deconvolution (transposed convolution), run on the Convolution kernels above.
#
# A Deconvolution of x (N, C, H, W) with w (C, F/G, kh, kw) into y (N, F, Ho, Wo) is the data
# gradient of the Convolution of y-shaped data with the same w (num_filter C, C/G = F/G ...):
# the geometry below is that Convolution's, with y as its data and x as its output.  So
#   forward:   y  = col2im(w.T @ x)                  Convolution's data gradient
#   backward:  dx = w @ im2col(dy)                   Convolution's forward
#              dw = sum_n x[n] @ im2col(dy[n]).T     Convolution's weight gradient
#              db = dy.sum over all axes but 1

cdef void deconv_forward_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    # arrays: x, w, b, y, col (b is x when there is no bias); ints: geometry(GEOM_INTS), nb, has_bias, req
    # (geometry of the Convolution whose data is y: g.C = F, g.F = C, g.Do/g.Ho/g.Wo = x's D/H/W)
    cdef Geom g = _geom(c.ints)
    cdef bint has_bias = c.ints[GEOM_INTS + 1]
    cdef int req = <int>c.ints[GEOM_INTS + 2]
    if req == REQ_NULL:
        return
    if c.dtype == 0:
        if not _conv_backward(<float*>c.arrays[0], <float*>c.arrays[3], <float*>c.arrays[1],
                              <float*>c.arrays[3], NULL, NULL, <float*>c.arrays[4], &g,
                              c.ints[GEOM_INTS + 0], req, REQ_NULL, REQ_NULL):
            ctx.error_code = ERROR_NO_MEMORY
            return
        if has_bias:
            _add_bias(<float*>c.arrays[3], <float*>c.arrays[2], g.N, g.C, g.D * g.H * g.W,
                      &NO_EPILOGUE)
    else:
        if not _conv_backward(<double*>c.arrays[0], <double*>c.arrays[3], <double*>c.arrays[1],
                              <double*>c.arrays[3], NULL, NULL, <double*>c.arrays[4], &g,
                              c.ints[GEOM_INTS + 0], req, REQ_NULL, REQ_NULL):
            ctx.error_code = ERROR_NO_MEMORY
            return
        if has_bias:
            _add_bias(<double*>c.arrays[3], <double*>c.arrays[2], g.N, g.C, g.D * g.H * g.W,
                      &NO_EPILOGUE)


cdef bint _deconv_backward(const real* dy, const real* x, const real* w, real* dx, real* dw,
                           real* db, real* col, Geom* g, Py_ssize_t nb, int req_dx, int req_dw,
                           int req_db) noexcept nogil:
    # False: a kernel's scratch could not be allocated
    cdef Py_ssize_t n, f, size = g.D * g.H * g.W
    cdef double total
    # dx = conv(dy, w)
    if not _conv_forward(dy, w, NULL, dx, col, g, nb, 0, req_dx, &NO_EPILOGUE):
        return False
    # dw: the Convolution's weight gradient, its output gradient being x and its data dy
    if req_dw != REQ_NULL:
        if not _conv_backward(x, dy, w, NULL, dw, NULL, col, g, nb, REQ_NULL, req_dw, REQ_NULL):
            return False
    if req_db != REQ_NULL:
        for f in range(g.C):
            total = 0
            for n in range(g.N):
                total += _sum(dy + (n * g.C + f) * size, size)
            if req_db == REQ_ADD:
                db[f] += <real>total
            else:
                db[f] = <real>total
    return True


cdef void deconv_backward_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    # arrays: dy, x, w, dx, dw, db, col; ints: geometry(GEOM_INTS), nb, req_dx, req_dw, req_db
    cdef Geom g = _geom(c.ints)
    cdef bint done
    if c.dtype == 0:
        done = _deconv_backward(<float*>c.arrays[0], <float*>c.arrays[1], <float*>c.arrays[2],
                                <float*>c.arrays[3], <float*>c.arrays[4], <float*>c.arrays[5],
                                <float*>c.arrays[6], &g, c.ints[GEOM_INTS + 0],
                                <int>c.ints[GEOM_INTS + 1], <int>c.ints[GEOM_INTS + 2],
                                <int>c.ints[GEOM_INTS + 3])
    else:
        done = _deconv_backward(<double*>c.arrays[0], <double*>c.arrays[1], <double*>c.arrays[2],
                                <double*>c.arrays[3], <double*>c.arrays[4], <double*>c.arrays[5],
                                <double*>c.arrays[6], &g, c.ints[GEOM_INTS + 0],
                                <int>c.ints[GEOM_INTS + 1], <int>c.ints[GEOM_INTS + 2],
                                <int>c.ints[GEOM_INTS + 3])
    if not done:
        ctx.error_code = ERROR_NO_MEMORY


def _deconv_geometry(x, w, y, kernel, stride, dilate, pad, num_group, label):
    """The Convolution geometry of a Deconvolution x -> y (y is the Convolution's data)."""
    if w.ndim < 1:
        raise ValueError(f"{label}: weight must have dimensions, got shape {tuple(w.shape)}")
    if x.ndim != len(tuple(kernel)) + 2:
        raise ValueError(f"{label}: kernel {tuple(kernel)} needs {len(tuple(kernel)) + 2}-D data, "
                         f"got shape {tuple(x.shape)}")
    geo = _conv_geometry(y, w, kernel, stride, dilate, pad, w.shape[0], num_group, label)
    _check_shape(x, _out_shape(geo, len(tuple(kernel))), "data", label)
    return geo


def deconv_workspace_bytes(out_shape, weight_shape, kernel, stride=(), dilate=(), pad=(),
                           num_group=1, itemsize=4):
    """Scratch bytes of the Deconvolution kernels: the im2col buffer of the Convolution whose
    data has the Deconvolution's output shape."""
    return conv_workspace_bytes(out_shape, weight_shape, kernel, stride, dilate, pad,
                                weight_shape[0], num_group, itemsize)


def append_deconvolution(Plan plan, x, w, b, y, kernel, stride=(), dilate=(), pad=(),
                         num_group=1, workspace=None, str req="write", str label="Deconvolution"):
    """Append y = conv_transpose(x, w) + b (b may be None); pad is the effective padding
    (target_shape already resolved); y's shape carries adj."""
    geo = _deconv_geometry(x, w, y, kernel, stride, dilate, pad, num_group, label)
    _check_shape(b, (geo[1],), "bias", label)
    col = _col_buffer(workspace, conv_workspace_elements(geo), x.dtype)
    arrays = [x, w, x if b is None else b, y]
    dtype = common_dtype(arrays)
    plan.add(deconv_forward_kernel, dtype, arrays + [col],
             geo + [conv_chunk(geo), b is not None, req_code(req, label)], [], label)


def append_deconvolution_backward(Plan plan, dy, x, w, dx, dw, db, kernel, stride=(), dilate=(),
                                  pad=(), num_group=1, workspace=None, str req_dx="write",
                                  str req_dw="write", str req_db="write",
                                  str label="_backward_Deconvolution"):
    """Append dx = conv(dy, w), dw (Convolution's weight gradient with data dy and output
    gradient x) and db = dy.sum over all axes but 1; a None output or req 'null' is skipped."""
    geo = _deconv_geometry(x, w, dy, kernel, stride, dilate, pad, num_group, label)
    reqs = [req_code(r, label) for r in (req_dx, req_dw, req_db)]
    outputs = [dx, dw, db]
    for k, (out, shape) in enumerate(zip(outputs, (x.shape, w.shape, (geo[1],)))):
        if out is None or reqs[k] == REQ_NULL:
            reqs[k] = REQ_NULL
            outputs[k] = dy   # any valid pointer; the kernel does not touch it
        else:
            _check_shape(out, shape, ("data", "weight", "bias")[k] + " gradient", label)
    col = _col_buffer(workspace, conv_workspace_elements(geo), x.dtype)
    arrays = [dy, x, w] + outputs
    dtype = common_dtype(arrays)
    plan.add(deconv_backward_kernel, dtype, arrays + [col], geo + [conv_chunk(geo)] + reqs, [],
             label)
