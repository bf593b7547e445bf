"""3x3 stride-1 convolutions by Winograd's minimal filtering F(2x2, 3x3) (Lavin & Gray, 2015).

Each 2x2 block ("tile") of outputs is computed from the 4x4 input patch under it: the patch and
every 3x3 filter are transformed to 4x4 (V = Bᵀ d B, U = G g Gᵀ), the 16 transformed positions
are 16 independent channel sums, done as 16 GEMMs over a block of tiles
(M[ξ] = U[ξ] · V[ξ], (F x C) · (C x tiles)), and each tile's 2x2 outputs are Aᵀ M A.  That is
16 multiply-adds per tile and channel pair where im2col + GEMM does 36: 2.25x fewer.  The
transform matrices hold only 0, ±1 and ±1/2, so float32 results stay as close to the direct
sum as im2col's are.

The same routine computes the data gradient of such a convolution: dX is dY convolved with the
filters flipped and their in/out channels swapped, with padding 2 - pad.  The weights are
transformed on every call (the user may change them between calls).  Scratch, in the caller's
workspace: U (16 x F x C), then V (16 x C x block) and M (16 x F x block) for one block of tiles.
"""
import numpy as np
from cython.parallel cimport prange

from cysym._ops cimport threads
from cysym._ops._blas cimport real, gemm_unsplit
from cysym._ops._common cimport common_dtype, scratch, REQ_NULL, REQ_WRITE, REQ_ADD, req_code
from cysym._ops.runner cimport Plan, KernelCall, RunContext
from cysym._ops._epilogue cimport Epilogue, epilogue_of, epilogue_floats, fused_scale, activate

# tiles per block: enough columns for the GEMMs to run near their peak, few enough that V and
# M of a block stay in the last-level cache (see block_tiles)
DEF BLOCK_BYTES = 4 << 20
DEF MIN_BLOCK = 64
# tiles per pass of the vectorized transforms (their stack arrays hold 16 values per tile)
DEF RUN = 64


cdef struct Shape:
    # C in and F out channels of this call, TH x TW tiles per image, `block` tiles per GEMM
    Py_ssize_t N, C, H, W, F, ph, pw, Ho, Wo, TH, TW, block
    bint flip          # the data gradient: w is the forward's (C, F, 3, 3) filters


cdef void _transform_weights(const real* w, real* U, Shape* s, Py_ssize_t f0,
                             Py_ssize_t f1) noexcept nogil:
    # U[ξ, f, c] = (G g Gᵀ)[ξ] with g = w[f, c] (forward, w of shape (F, C, 3, 3)), or for the data
    # gradient g = w[c, f] turned by 180 degrees (w of shape (C, F, 3, 3): the forward's filters).
    # RUN channels at a time through stack arrays, so that the arithmetic and the sixteen
    # contiguous stores vectorize (see _input_run).
    cdef Py_ssize_t f, c0, k, i, count, tap
    cdef Py_ssize_t FC = s.F * s.C
    cdef Py_ssize_t stride = 9 * s.F if s.flip else 9
    cdef real g[9][RUN]
    cdef real t[4][3][RUN]     # G g
    cdef const real* src
    cdef real* u
    for f in range(f0, f1):
        for c0 in range(0, s.C, RUN):
            count = min(RUN, s.C - c0)
            src = w + (c0 * s.F + f) * 9 if s.flip else w + (f * s.C + c0) * 9
            for i in range(9):
                tap = 8 - i if s.flip else i
                for k in range(count):
                    g[i][k] = src[k * stride + tap]
            for i in range(3):
                for k in range(count):
                    t[0][i][k] = g[i][k]
                    t[1][i][k] = <real>0.5 * (g[i][k] + g[3 + i][k] + g[6 + i][k])
                    t[2][i][k] = <real>0.5 * (g[i][k] - g[3 + i][k] + g[6 + i][k])
                    t[3][i][k] = g[6 + i][k]
            for i in range(4):
                u = U + 4 * i * FC + f * s.C + c0
                for k in range(count):
                    u[k] = t[i][0][k]
                u += FC
                for k in range(count):
                    u[k] = <real>0.5 * (t[i][0][k] + t[i][1][k] + t[i][2][k])
                u += FC
                for k in range(count):
                    u[k] = <real>0.5 * (t[i][0][k] - t[i][1][k] + t[i][2][k])
                u += FC
                for k in range(count):
                    u[k] = t[i][2][k]


cdef void _input_run(const real** rows, Py_ssize_t count, real* v, Py_ssize_t step) noexcept nogil:
    # v[ξ * step + k] = (Bᵀ d B)[ξ] for the `count` <= RUN tiles whose 4x4 patches start at
    # column 2k of the four rows.  Two passes through stack arrays, each loop storing to one
    # place, so that the compiler vectorizes them (with sixteen stores beside the input's loads,
    # it cannot prove they do not overlap and leaves the loop scalar).
    cdef Py_ssize_t k, r, j
    cdef real e[4][4][RUN]      # e[r][j] = (row r of d) B, column j
    cdef const real* row
    for r in range(4):
        row = rows[r]
        for k in range(count):
            e[r][0][k] = row[2 * k] - row[2 * k + 2]
            e[r][1][k] = row[2 * k + 1] + row[2 * k + 2]
            e[r][2][k] = row[2 * k + 2] - row[2 * k + 1]
            e[r][3][k] = row[2 * k + 1] - row[2 * k + 3]
    for j in range(4):
        for k in range(count):
            v[j * step + k] = e[0][j][k] - e[2][j][k]
        for k in range(count):
            v[(4 + j) * step + k] = e[1][j][k] + e[2][j][k]
        for k in range(count):
            v[(8 + j) * step + k] = e[2][j][k] - e[1][j][k]
        for k in range(count):
            v[(12 + j) * step + k] = e[1][j][k] - e[3][j][k]


cdef void _input_edge_tile(const real* plane, Py_ssize_t r0, Py_ssize_t c0, Shape* s, real* v,
                           Py_ssize_t step) noexcept nogil:
    # the tile whose patch at (r0, c0) reaches past a side of the input, through a copy of the
    # patch with zeros outside the input
    cdef Py_ssize_t r, q
    cdef real patch[4][4]
    cdef const real* rows[4]
    for r in range(4):
        for q in range(4):
            patch[r][q] = (plane[(r0 + r) * s.W + c0 + q]
                           if 0 <= r0 + r < s.H and 0 <= c0 + q < s.W else 0)
        rows[r] = patch[r]
    _input_run(rows, 1, v, step)


# the rows of a run of patches above or below the input: zeros, as float or double
cdef double _zero_row[2 * RUN + 2]


cdef void _input_row(const real* plane, Py_ssize_t r0, Py_ssize_t c_begin, Py_ssize_t count,
                     Shape* s, real* v, Py_ssize_t step) noexcept nogil:
    # `count` tiles of one tile row, the first at input column c_begin (padding included),
    # to v[ξ * step + k] for the k-th.  Every tile goes through the vectorized _input_run: the
    # patches inside the input's columns in runs whose rows above or below the input read
    # zeros, each one that reaches past a side from a zero-padded 4x4 copy (tile by tile
    # through scalar code, the edge tiles took half the transform's time at 56x56).
    cdef Py_ssize_t k, n, r, lo, hi
    cdef const real* rows[4]
    # tiles k with c_begin + 2k >= 0 and c_begin + 2k + 4 <= W
    lo = min(count, 0 if c_begin >= 0 else (1 - c_begin) // 2)
    hi = (s.W - 4 - c_begin) // 2 + 1 if s.W - 4 - c_begin >= 0 else 0
    hi = max(lo, min(hi, count))
    k = lo
    while k < hi:
        n = min(hi - k, RUN)
        for r in range(4):
            rows[r] = (plane + (r0 + r) * s.W + c_begin + 2 * k if 0 <= r0 + r < s.H
                       else <const real*>_zero_row)
        _input_run(rows, n, v + k, step)
        k += n
    for k in range(lo):
        _input_edge_tile(plane, r0, c_begin + 2 * k, s, v + k, step)
    for k in range(hi, count):
        _input_edge_tile(plane, r0, c_begin + 2 * k, s, v + k, step)


cdef inline Py_ssize_t _tile_run(Py_ssize_t t, Py_ssize_t t1, Shape* s, Py_ssize_t* n,
                                 Py_ssize_t* th, Py_ssize_t* tw) noexcept nogil:
    # tile t's image, tile row and tile column; returns how many tiles from t to t1 lie in that
    # tile row (tiles are numbered image by image, row by row)
    cdef Py_ssize_t per_image = s.TH * s.TW
    n[0] = t // per_image
    th[0] = (t % per_image) // s.TW
    tw[0] = t % s.TW
    return min(s.TW - tw[0], t1 - t)


cdef void _transform_input(const real* x, real* V, Py_ssize_t t0, Py_ssize_t t1,
                           Shape* s, Py_ssize_t c0, Py_ssize_t c1) noexcept nogil:
    # V[ξ, c, t - t0] = (Bᵀ d B)[ξ], d the 4x4 patch of x[n, c] under tile t, one run of a tile
    # row at a time (tiles are numbered image by image, row by row)
    cdef Py_ssize_t c, t, n, th, tw, count
    cdef Py_ssize_t ld = t1 - t0
    for c in range(c0, c1):
        t = t0
        while t < t1:
            count = _tile_run(t, t1, s, &n, &th, &tw)
            _input_row(x + (n * s.C + c) * s.H * s.W, 2 * th - s.ph, 2 * tw - s.pw, count, s,
                       V + c * ld + (t - t0), s.C * ld)
            t += count


cdef void _output_run(const real* m, Py_ssize_t step, real scale, real bias, real* y0, real* y1,
                      Py_ssize_t count, int req, const Epilogue* e) noexcept nogil:
    # y0[2k + j], y1[2k + j] (+)= (Aᵀ m A)[0 or 1, j] * scale + bias for `count` <= RUN whole
    # tiles, m[ξ * step + k]; Aᵀ rows (1,1,1,0) (0,1,-1,-1).  Through stack arrays, so each loop
    # vectorizes (see _input_run).
    cdef Py_ssize_t k, j
    cdef real a[4][RUN]         # (Aᵀ m) row 0, by column
    cdef real b[4][RUN]         # (Aᵀ m) row 1
    cdef real o[4][RUN]
    for j in range(4):
        for k in range(count):
            a[j][k] = m[j * step + k] + m[(4 + j) * step + k] + m[(8 + j) * step + k]
        for k in range(count):
            b[j][k] = m[(4 + j) * step + k] - m[(8 + j) * step + k] - m[(12 + j) * step + k]
    for k in range(count):
        o[0][k] = (a[0][k] + a[1][k] + a[2][k]) * scale + bias
        o[1][k] = (a[1][k] - a[2][k] - a[3][k]) * scale + bias
        o[2][k] = (b[0][k] + b[1][k] + b[2][k]) * scale + bias
        o[3][k] = (b[1][k] - b[2][k] - b[3][k]) * scale + bias
    if req == REQ_WRITE:
        for j in range(4):
            for k in range(count):
                o[j][k] = activate(o[j][k], e)
        for k in range(count):
            y0[2 * k] = o[0][k]
            y0[2 * k + 1] = o[1][k]
        for k in range(count):
            y1[2 * k] = o[2][k]
            y1[2 * k + 1] = o[3][k]
    else:
        for k in range(count):
            y0[2 * k] += o[0][k]
            y0[2 * k + 1] += o[1][k]
        for k in range(count):
            y1[2 * k] += o[2][k]
            y1[2 * k + 1] += o[3][k]


cdef void _output_cut(const real* m, Py_ssize_t step, real scale, real bias, real* y0,
                      Py_ssize_t row_step, Py_ssize_t count, Py_ssize_t rows, Py_ssize_t cols,
                      int req, const Epilogue* e) noexcept nogil:
    # `count` <= RUN tiles cut by the output's edge, of which the top-left rows x cols outputs
    # exist (at y0, rows row_step apart): through a 2-row scratch and _output_run
    cdef Py_ssize_t i, q
    cdef real part[2][2 * RUN]
    if req == REQ_ADD:
        for i in range(rows):
            for q in range(cols):
                part[i][q] = y0[i * row_step + q]
    _output_run(m, step, scale, bias, part[0], part[1], count, req, e)
    for i in range(rows):
        for q in range(cols):
            y0[i * row_step + q] = part[i][q]


cdef void _output_row(const real* m, Py_ssize_t step, real scale, real bias, real* out,
                      Py_ssize_t r0, Py_ssize_t c_begin, Py_ssize_t count, Shape* s, int req,
                      const Epilogue* e) noexcept nogil:
    # `count` tiles of one tile row from m[ξ * step + k] into out[r0:r0 + 2, c_begin:], RUN
    # tiles at a time; the last tile of a row, or a whole tile row, may be cut by the output's
    # edge (_output_cut)
    cdef Py_ssize_t k, n
    cdef real* y0 = out + r0 * s.Wo + c_begin
    cdef Py_ssize_t rows = min(2, s.Ho - r0)
    cdef Py_ssize_t whole = count if c_begin + 2 * count <= s.Wo else count - 1
    if rows < 2:
        whole = 0
    k = 0
    while k < whole:
        n = min(whole - k, RUN)
        _output_run(m + k, step, scale, bias, y0 + 2 * k, y0 + s.Wo + 2 * k, n, req, e)
        k += n
    while k < count:
        n = min(count - k, RUN)
        _output_cut(m + k, step, scale, bias, y0 + 2 * k, s.Wo, n, rows,
                    min(2 * n, s.Wo - c_begin - 2 * k), req, e)
        k += n


cdef void _transform_output(const real* M, const real* b, real* y, Py_ssize_t t0, Py_ssize_t t1,
                            Shape* s, int req, const Epilogue* e, Py_ssize_t f0,
                            Py_ssize_t f1) noexcept nogil:
    # y[n, f, 2x2 tile] (+)= Aᵀ m A * scale[f] + b[f] (activated by e with req write), m = M[:, f, t - t0], one run of a tile row at a time
    cdef Py_ssize_t f, t, n, th, tw, count
    cdef Py_ssize_t ld = t1 - t0
    cdef real bias, scale
    for f in range(f0, f1):
        bias = b[f] if b != NULL else 0
        scale = (<const real*>e.scale)[f] if e.scale != NULL else 1
        t = t0
        while t < t1:
            count = _tile_run(t, t1, s, &n, &th, &tw)
            _output_row(M + f * ld + (t - t0), s.F * ld, scale, bias,
                        y + (n * s.F + f) * s.Ho * s.Wo, 2 * th, 2 * tw, count, s, req, e)
            t += count


cdef void _winograd(const real* x, const real* w, const real* b, real* y, real* work, Shape* s,
                    int req, const Epilogue* e) noexcept nogil:
    # each phase splits over the kernel threads: filters for the weight and output transforms,
    # channels for the input transform, the 16 GEMMs between them (each on one thread)
    cdef Py_ssize_t t0, t1
    cdef Py_ssize_t tiles = s.N * s.TH * s.TW
    cdef real* U = work
    cdef real* V = U + 16 * s.F * s.C
    cdef real* M = V + 16 * s.C * s.block
    cdef int parts = threads.count()
    cdef int part, xi
    if req == REQ_NULL:
        return
    if parts == 1:
        _transform_weights(w, U, s, 0, s.F)
    else:
        for part in prange(parts, num_threads=parts, schedule="static"):
            _transform_weights(w, U, s, threads.split_point(s.F, parts, part, 1),
                               threads.split_point(s.F, parts, part + 1, 1))
    t0 = 0
    while t0 < tiles:
        t1 = min(t0 + s.block, tiles)
        if parts == 1:
            _transform_input(x, V, t0, t1, s, 0, s.C)
            for xi in range(16):
                _tile_gemm(U, V, M, xi, t1 - t0, s)
            _transform_output(M, b, y, t0, t1, s, req, e, 0, s.F)
        else:
            for part in prange(parts, num_threads=parts, schedule="static"):
                _transform_input(x, V, t0, t1, s, threads.split_point(s.C, parts, part, 1),
                                 threads.split_point(s.C, parts, part + 1, 1))
            for xi in prange(16, num_threads=parts, schedule="static"):
                _tile_gemm(U, V, M, xi, t1 - t0, s)
            for part in prange(parts, num_threads=parts, schedule="static"):
                _transform_output(M, b, y, t0, t1, s, req, e,
                                  threads.split_point(s.F, parts, part, 1),
                                  threads.split_point(s.F, parts, part + 1, 1))
        t0 = t1


cdef inline void _tile_gemm(const real* U, const real* V, real* M, int xi, Py_ssize_t count,
                            Shape* s) noexcept nogil:
    # M[ξ] = U[ξ] · V[ξ]: (F x C) · (C x count); the 16 products are the parts threads share
    gemm_unsplit(False, False, <int>s.F, <int>count, <int>s.C, <real>1, U + xi * s.F * s.C,
                 <int>s.C, V + xi * s.C * count, <int>count, <real>0, M + xi * s.F * count,
                 <int>count)


cdef void winograd_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    # arrays: x, w, b (x when absent), y, work; ints: N C H W F ph pw Ho Wo TH TW block flip
    # has_bias req; floats: none, or a fused activation; then a fused scale (_epilogue.pxd)
    cdef Shape s
    cdef Py_ssize_t* v = c.ints
    s.N = v[0]; s.C = v[1]; s.H = v[2]; s.W = v[3]; s.F = v[4]; s.ph = v[5]; s.pw = v[6]
    s.Ho = v[7]; s.Wo = v[8]; s.TH = v[9]; s.TW = v[10]; s.block = v[11]; s.flip = v[12]
    cdef bint has_bias = v[13]
    cdef int req = <int>v[14]
    cdef Epilogue e = epilogue_of(c, 0, 5)
    if c.dtype == 0:
        _winograd(<float*>c.arrays[0], <float*>c.arrays[1],
                  <float*>c.arrays[2] if has_bias else NULL, <float*>c.arrays[3],
                  <float*>c.arrays[4], &s, req, &e)
    else:
        _winograd(<double*>c.arrays[0], <double*>c.arrays[1],
                  <double*>c.arrays[2] if has_bias else NULL, <double*>c.arrays[3],
                  <double*>c.arrays[4], &s, req, &e)


def block_tiles(in_channels, out_channels, tiles, itemsize):
    """Tiles per block: V and M of one block within BLOCK_BYTES, at least MIN_BLOCK, at most all."""
    per_tile = 16 * (in_channels + out_channels) * itemsize
    return max(1, min(tiles, max(MIN_BLOCK, BLOCK_BYTES // per_tile)))


def _shape(batch, in_channels, height, width, out_channels, pad, itemsize):
    """(N, C, H, W, F, ph, pw, Ho, Wo, TH, TW, block) of a 3x3 stride-1 convolution."""
    out_h, out_w = height + 2 * pad[0] - 2, width + 2 * pad[1] - 2
    tiles_h, tiles_w = (out_h + 1) // 2, (out_w + 1) // 2
    block = block_tiles(in_channels, out_channels, batch * tiles_h * tiles_w, itemsize)
    return [batch, in_channels, height, width, out_channels, pad[0], pad[1], out_h, out_w,
            tiles_h, tiles_w, block]


def workspace_elements(batch, in_channels, height, width, out_channels, pad, itemsize=4):
    """Scratch elements for U, and V and M of one block of tiles."""
    shape = _shape(batch, in_channels, height, width, out_channels, pad, itemsize)
    return 16 * (out_channels * in_channels + (in_channels + out_channels) * shape[11])


def append_winograd(Plan plan, x, w, b, y, pad, workspace=None, str req="write",
                    str label="Convolution", bint data_gradient=False, block=None,
                    activation=None, scale=None):
    """Append y (+)= conv3x3(x, w, pad) + b; fused at bind time, with req 'write',
    y = activation(conv3x3(x, w, pad) * scale + b) (see append_convolution).  With `data_gradient`, x is dY of a convolution
    whose filters are w (shape (F, C, 3, 3)), `pad` is that convolution's padding, and y is its
    dX: the flipped, channel-swapped filters with padding 2 - pad.  `block` sets the tiles per
    GEMM (tests: blocks that end inside a tile row)."""
    if data_gradient:
        out_channels, in_channels = w.shape[1], w.shape[0]
        pad = (2 - pad[0], 2 - pad[1])
    else:
        out_channels, in_channels = w.shape[0], w.shape[1]
    if (x.ndim != 4 or w.ndim != 4 or tuple(w.shape[2:]) != (3, 3) or x.shape[1] != in_channels
            or min(pad) < 0 or max(pad) > 2):
        raise ValueError(f"{label}: the Winograd kernel takes 3x3 filters on 4-D data with pad "
                         f"0..2, not data {tuple(x.shape)}, weight {tuple(w.shape)}, pad {pad}")
    shape = _shape(x.shape[0], in_channels, x.shape[2], x.shape[3], out_channels, pad,
                   x.dtype.itemsize)
    expected = (x.shape[0], out_channels, shape[7], shape[8])
    if tuple(y.shape) != expected:
        raise ValueError(f"{label}: output has shape {tuple(y.shape)}, expected {expected}")
    if b is not None and tuple(b.shape) != (out_channels,):
        raise ValueError(f"{label}: bias has shape {tuple(b.shape)}, expected ({out_channels},)")
    if block is not None:
        shape[11] = max(1, min(block, shape[11]))
    work = scratch(workspace, workspace_elements(x.shape[0], in_channels, x.shape[2], x.shape[3],
                                                  out_channels, pad, x.dtype.itemsize), x.dtype)
    arrays = [x, w, x if b is None else b, y]
    dtype = common_dtype(arrays + ([] if scale is None else [scale]))
    plan.add(winograd_kernel, dtype, arrays + [work] + fused_scale(scale, out_channels, req, label),
             shape + [data_gradient, b is not None, req_code(req, label)],
             epilogue_floats(activation, req_code(req, label), label), label)
