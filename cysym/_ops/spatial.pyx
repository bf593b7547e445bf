"""Kernels of the spatial operators: im2col / col2im, GridGenerator, BilinearSampler,
SpatialTransformer and Correlation, forward and backward.

The loops follow MXNet 1.9.1's CPU code (src/operator/nn/im2col.h, grid_generator-inl.h,
bilinear_sampler.cc, spatial_transformer.cc, correlation.cc) in the data's precision.  A grid
holds normalized coordinates in [-1, 1]: channel 0 is x (width), channel 1 is y (height).

im2col / col2im have their own loops here (conv.pyx's are private to the convolution and
belong to its chunked GEMM layout); every window problem runs as a 3-D one, a 2-D problem
having depth 1 and a 1-D one depth and height 1.
"""
from libc.math cimport floor, fabs
from libc.string cimport memset
from math import ceil
from numpy import float32

from cysym._ops._blas cimport real
from cysym._ops._common cimport common_dtype, scratch, store, REQ_NULL, REQ_WRITE, req_code
from cysym._ops.runner cimport Plan, KernelCall, RunContext

DEF WINDOW_INTS = 20


# ---------------------------------------------------------------------------------------
# im2col / col2im over one batch: ints N C D H W kd kh kw sd sh sw dd dh dw pd ph pw Do Ho Wo

cdef struct Window:
    Py_ssize_t N, C, D, H, W, kd, kh, kw, sd, sh, sw, dd, dh, dw, pd, ph, pw, Do, Ho, Wo


cdef inline Window _window(const Py_ssize_t* v) noexcept nogil:
    cdef Window g
    g.N = v[0]; g.C = v[1]; g.D = v[2]; g.H = v[3]; g.W = v[4]
    g.kd = v[5]; g.kh = v[6]; g.kw = v[7]; g.sd = v[8]; g.sh = v[9]; g.sw = v[10]
    g.dd = v[11]; g.dh = v[12]; g.dw = v[13]; g.pd = v[14]; g.ph = v[15]; g.pw = v[16]
    g.Do = v[17]; g.Ho = v[18]; g.Wo = v[19]
    return g


cdef inline void _valid_range(Py_ssize_t offset, Py_ssize_t stride, Py_ssize_t size,
                              Py_ssize_t count, Py_ssize_t* lo, Py_ssize_t* hi) noexcept nogil:
    """[lo, hi): the positions o in [0, count) with 0 <= o * stride + offset < size."""
    cdef Py_ssize_t first = 0, stop = 0
    if offset < 0:
        first = (-offset + stride - 1) // stride
    if size > offset:
        stop = (size - offset + stride - 1) // stride
    stop = min(stop, count)
    lo[0] = min(first, stop)
    hi[0] = stop


cdef void _im2col(const real* x, real* col, Window* g, int req) noexcept nogil:
    # col[n, (c, a, i, j), (od, oh, ow)] = x[n, c, od*sd - pd + a*dd, oh*sh - ph + i*dh,
    # ow*sw - pw + j*dw], 0 outside the image; one output row (od, oh) at a time
    cdef Py_ssize_t n, c, a, i, j, od, oh, ow, id_, ih, lo, hi
    cdef const real* plane
    cdef const real* src
    cdef real* row = col
    for n in range(g.N):
        for c in range(g.C):
            plane = x + (n * g.C + c) * g.D * g.H * g.W
            for a in range(g.kd):
                for i in range(g.kh):
                    for j in range(g.kw):
                        _valid_range(j * g.dw - g.pw, g.sw, g.W, g.Wo, &lo, &hi)
                        for od in range(g.Do):
                            id_ = od * g.sd - g.pd + a * g.dd
                            for oh in range(g.Ho):
                                ih = oh * g.sh - g.ph + i * g.dh
                                if not (0 <= id_ < g.D and 0 <= ih < g.H):
                                    for ow in range(g.Wo):
                                        store(row, ow, 0, req)
                                else:
                                    src = plane + (id_ * g.H + ih) * g.W + j * g.dw - g.pw
                                    for ow in range(lo):
                                        store(row, ow, 0, req)
                                    for ow in range(lo, hi):
                                        store(row, ow, src[ow * g.sw], req)
                                    for ow in range(hi, g.Wo):
                                        store(row, ow, 0, req)
                                row += g.Wo


cdef void _col2im(const real* col, real* x, Window* g, int req) noexcept nogil:
    # x[n, c, position] (+)= the sum of the col entries that im2col reads from that position
    cdef Py_ssize_t n, c, a, i, j, od, oh, ow, id_, ih, lo, hi
    cdef real* plane
    cdef real* dst
    cdef const real* row = col
    if req == REQ_WRITE:
        memset(x, 0, g.N * g.C * g.D * g.H * g.W * sizeof(real))
    for n in range(g.N):
        for c in range(g.C):
            plane = x + (n * g.C + c) * g.D * g.H * g.W
            for a in range(g.kd):
                for i in range(g.kh):
                    for j in range(g.kw):
                        _valid_range(j * g.dw - g.pw, g.sw, g.W, g.Wo, &lo, &hi)
                        for od in range(g.Do):
                            id_ = od * g.sd - g.pd + a * g.dd
                            for oh in range(g.Ho):
                                ih = oh * g.sh - g.ph + i * g.dh
                                if 0 <= id_ < g.D and 0 <= ih < g.H:
                                    dst = plane + (id_ * g.H + ih) * g.W + j * g.dw - g.pw
                                    for ow in range(lo, hi):
                                        dst[ow * g.sw] += row[ow]
                                row += g.Wo


cdef void im2col_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    # arrays: x, col; ints: WINDOW_INTS, req
    cdef Window g = _window(c.ints)
    if c.dtype == 0:
        _im2col(<float*>c.arrays[0], <float*>c.arrays[1], &g, <int>c.ints[WINDOW_INTS])
    else:
        _im2col(<double*>c.arrays[0], <double*>c.arrays[1], &g, <int>c.ints[WINDOW_INTS])


cdef void col2im_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    # arrays: col, x; ints: WINDOW_INTS, req
    cdef Window g = _window(c.ints)
    if c.dtype == 0:
        _col2im(<float*>c.arrays[0], <float*>c.arrays[1], &g, <int>c.ints[WINDOW_INTS])
    else:
        _col2im(<double*>c.arrays[0], <double*>c.arrays[1], &g, <int>c.ints[WINDOW_INTS])


# ---------------------------------------------------------------------------------------
# sampling grids

cdef void _target_grid(real* grid_dst, Py_ssize_t H, Py_ssize_t W) noexcept nogil:
    """The (3, H*W) target coordinates (x, y, 1), normalized to [-1, 1]."""
    cdef Py_ssize_t k
    cdef real step_x = <real>(2.0 / (W - 1)) if W > 1 else <real>0
    cdef real step_y = <real>(2.0 / (H - 1)) if H > 1 else <real>0
    for k in range(H * W):
        grid_dst[k] = <real>-1 + <real>(k % W) * step_x
        grid_dst[H * W + k] = <real>-1 + <real>(k // W) * step_y
        grid_dst[2 * H * W + k] = 1


cdef void _affine_grid(const real* theta, real* grid_src, real* grid_dst, Py_ssize_t N,
                       Py_ssize_t H, Py_ssize_t W, int req) noexcept nogil:
    # grid_dst = target coordinates; grid_src[n] (+)= theta[n].reshape(2, 3) @ grid_dst
    cdef Py_ssize_t n, r, k, size = H * W
    cdef const real* row
    _target_grid(grid_dst, H, W)
    for n in range(N):
        for r in range(2):
            row = theta + n * 6 + r * 3
            for k in range(size):
                store(grid_src, (n * 2 + r) * size + k,
                      row[0] * grid_dst[k] + row[1] * grid_dst[size + k] + row[2], req)


cdef void _affine_grid_backward(const real* dgrid, const real* grid_dst, real* dtheta,
                                Py_ssize_t N, Py_ssize_t size, int req) noexcept nogil:
    # dtheta[n].reshape(2, 3) (+)= dgrid[n].reshape(2, size) @ grid_dst.T
    cdef Py_ssize_t n, r, q, k
    cdef double total
    cdef const real* g
    for n in range(N):
        for r in range(2):
            g = dgrid + (n * 2 + r) * size
            for q in range(3):
                total = 0
                for k in range(size):
                    total += g[k] * grid_dst[q * size + k]
                store(dtheta, n * 6 + r * 3 + q, total, req)


cdef void _warp_grid(const real* flow, real* grid_src, real* grid_dst, Py_ssize_t N,
                     Py_ssize_t H, Py_ssize_t W, int req) noexcept nogil:
    # grid_dst = pixel coordinates (x, y); grid_src (+)= (flow + grid_dst) / ((W-1)/2, (H-1)/2) - 1
    cdef Py_ssize_t n, r, k, size = H * W
    cdef real half[2]
    half[0] = (<real>W - <real>1) / <real>2
    half[1] = (<real>H - <real>1) / <real>2
    for k in range(size):
        grid_dst[k] = <real>(k % W)
        grid_dst[size + k] = <real>(k // W)
    for n in range(N):
        for r in range(2):
            for k in range(size):
                store(grid_src, (n * 2 + r) * size + k,
                      (flow[(n * 2 + r) * size + k] + grid_dst[r * size + k]) / half[r] - 1, req)


cdef void _warp_grid_backward(const real* dgrid, real* dflow, Py_ssize_t N, Py_ssize_t H,
                              Py_ssize_t W, int req) noexcept nogil:
    cdef Py_ssize_t n, r, k, size = H * W
    cdef real half[2]
    half[0] = (<real>W - <real>1) / <real>2
    half[1] = (<real>H - <real>1) / <real>2
    for n in range(N):
        for r in range(2):
            for k in range(size):
                store(dflow, (n * 2 + r) * size + k, dgrid[(n * 2 + r) * size + k] / half[r], req)


cdef void grid_generator_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    # arrays: data, output, grid_dst; ints: N, H, W, warp, req
    if c.dtype == 0:
        if c.ints[3]:
            _warp_grid(<float*>c.arrays[0], <float*>c.arrays[1], <float*>c.arrays[2], c.ints[0],
                       c.ints[1], c.ints[2], <int>c.ints[4])
        else:
            _affine_grid(<float*>c.arrays[0], <float*>c.arrays[1], <float*>c.arrays[2], c.ints[0],
                         c.ints[1], c.ints[2], <int>c.ints[4])
    else:
        if c.ints[3]:
            _warp_grid(<double*>c.arrays[0], <double*>c.arrays[1], <double*>c.arrays[2], c.ints[0],
                       c.ints[1], c.ints[2], <int>c.ints[4])
        else:
            _affine_grid(<double*>c.arrays[0], <double*>c.arrays[1], <double*>c.arrays[2],
                         c.ints[0], c.ints[1], c.ints[2], <int>c.ints[4])


cdef void grid_generator_backward_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    # arrays: out_grad, grid_dst (out_grad again for warp), data_grad; ints: N, H, W, warp, req
    if c.dtype == 0:
        if c.ints[3]:
            _warp_grid_backward(<float*>c.arrays[0], <float*>c.arrays[2], c.ints[0], c.ints[1],
                                c.ints[2], <int>c.ints[4])
        else:
            _affine_grid_backward(<float*>c.arrays[0], <float*>c.arrays[1], <float*>c.arrays[2],
                                  c.ints[0], c.ints[1] * c.ints[2], <int>c.ints[4])
    else:
        if c.ints[3]:
            _warp_grid_backward(<double*>c.arrays[0], <double*>c.arrays[2], c.ints[0], c.ints[1],
                                c.ints[2], <int>c.ints[4])
        else:
            _affine_grid_backward(<double*>c.arrays[0], <double*>c.arrays[1], <double*>c.arrays[2],
                                  c.ints[0], c.ints[1] * c.ints[2], <int>c.ints[4])


# ---------------------------------------------------------------------------------------
# bilinear sampling: output[n, c, h, w] = data[n, c] at grid[n, :, h, w], zeros outside

cdef struct Corner:
    Py_ssize_t x, y          # the top-left neighbour
    double wx, wy            # the weights of the top-left neighbour along x and y


cdef inline Corner _corner(real gx, real gy, Py_ssize_t H, Py_ssize_t W) noexcept nogil:
    cdef Corner k
    cdef real x_real = (gx + 1) * <real>(W - 1) / 2
    cdef real y_real = (gy + 1) * <real>(H - 1) / 2
    k.x = <Py_ssize_t>floor(x_real)
    k.y = <Py_ssize_t>floor(y_real)
    k.wx = <real>1.0 - (x_real - <real>k.x)
    k.wy = <real>1.0 - (y_real - <real>k.y)
    return k


cdef inline real _at(const real* plane, Py_ssize_t y, Py_ssize_t x, Py_ssize_t H,
                     Py_ssize_t W) noexcept nogil:
    return plane[y * W + x] if 0 <= x < W and 0 <= y < H else <real>0


cdef void _bilinear(const real* data, const real* grid, real* out, Py_ssize_t N, Py_ssize_t C,
                    Py_ssize_t H, Py_ssize_t W, Py_ssize_t Ho, Py_ssize_t Wo,
                    int req) noexcept nogil:
    cdef Py_ssize_t n, c, k, size = Ho * Wo
    cdef const real* plane
    cdef const real* g
    cdef Corner q
    cdef real wx, wy
    for n in range(N):
        g = grid + n * 2 * size
        for k in range(size):
            q = _corner(g[k], g[size + k], H, W)
            wx = <real>q.wx
            wy = <real>q.wy
            for c in range(C):
                plane = data + (n * C + c) * H * W
                store(out, (n * C + c) * size + k,
                      _at(plane, q.y, q.x, H, W) * wy * wx
                      + _at(plane, q.y, q.x + 1, H, W) * wy * (1 - wx)
                      + _at(plane, q.y + 1, q.x, H, W) * (1 - wy) * wx
                      + _at(plane, q.y + 1, q.x + 1, H, W) * (1 - wy) * (1 - wx), req)


cdef inline void _scatter(real* plane, Py_ssize_t y, Py_ssize_t x, Py_ssize_t H, Py_ssize_t W,
                          real value) noexcept nogil:
    if 0 <= x < W and 0 <= y < H:
        plane[y * W + x] += value


cdef void _bilinear_backward(const real* dy, const real* data, const real* grid, real* ddata,
                             real* dgrid, Py_ssize_t N, Py_ssize_t C, Py_ssize_t H, Py_ssize_t W,
                             Py_ssize_t Ho, Py_ssize_t Wo, int data_req,
                             int grid_req) noexcept nogil:
    """ddata (+)= the output gradient spread over each sample's neighbours; dgrid (+)= the
    derivative of each sample in its coordinates (MXNet's formula, with its one-sided
    derivative at whole pixels)."""
    cdef Py_ssize_t n, c, k, size = Ho * Wo
    cdef const real* plane
    cdef real* grad_plane
    cdef const real* g
    cdef Corner q
    cdef real wx, wy, top_left, top_right, bottom_left, bottom_right, d, gx, gy
    if data_req == REQ_WRITE:
        memset(ddata, 0, N * C * H * W * sizeof(real))
    for n in range(N):
        g = grid + n * 2 * size
        for k in range(size):
            q = _corner(g[k], g[size + k], H, W)
            wx = <real>q.wx
            wy = <real>q.wy
            gx = 0
            gy = 0
            for c in range(C):
                plane = data + (n * C + c) * H * W
                d = dy[(n * C + c) * size + k]
                top_left = _at(plane, q.y, q.x, H, W)
                top_right = _at(plane, q.y, q.x + 1, H, W)
                bottom_left = _at(plane, q.y + 1, q.x, H, W)
                bottom_right = _at(plane, q.y + 1, q.x + 1, H, W)
                if data_req != REQ_NULL:
                    grad_plane = ddata + (n * C + c) * H * W
                    _scatter(grad_plane, q.y, q.x, H, W, d * wy * wx)
                    _scatter(grad_plane, q.y, q.x + 1, H, W, d * wy * (1 - wx))
                    _scatter(grad_plane, q.y + 1, q.x, H, W, d * (1 - wy) * wx)
                    _scatter(grad_plane, q.y + 1, q.x + 1, H, W, d * (1 - wy) * (1 - wx))
                gy -= d * (top_right - bottom_right
                           + (top_left - top_right - bottom_left + bottom_right) * wx)
                gx -= d * (bottom_left - bottom_right
                           + (top_left - top_right - bottom_left + bottom_right) * wy)
            if grid_req != REQ_NULL:
                store(dgrid, n * 2 * size + size + k, gy * <real>(H - 1) / 2, grid_req)
                store(dgrid, n * 2 * size + k, gx * <real>(W - 1) / 2, grid_req)


cdef void bilinear_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    # arrays: data, grid, out; ints: N, C, H, W, Ho, Wo, req
    if c.dtype == 0:
        _bilinear(<float*>c.arrays[0], <float*>c.arrays[1], <float*>c.arrays[2], c.ints[0],
                  c.ints[1], c.ints[2], c.ints[3], c.ints[4], c.ints[5], <int>c.ints[6])
    else:
        _bilinear(<double*>c.arrays[0], <double*>c.arrays[1], <double*>c.arrays[2], c.ints[0],
                  c.ints[1], c.ints[2], c.ints[3], c.ints[4], c.ints[5], <int>c.ints[6])


cdef void bilinear_backward_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    # arrays: dy, data, grid, ddata, dgrid; ints: N, C, H, W, Ho, Wo, data_req, grid_req
    if c.dtype == 0:
        _bilinear_backward(<float*>c.arrays[0], <float*>c.arrays[1], <float*>c.arrays[2],
                           <float*>c.arrays[3], <float*>c.arrays[4], c.ints[0], c.ints[1],
                           c.ints[2], c.ints[3], c.ints[4], c.ints[5], <int>c.ints[6],
                           <int>c.ints[7])
    else:
        _bilinear_backward(<double*>c.arrays[0], <double*>c.arrays[1], <double*>c.arrays[2],
                           <double*>c.arrays[3], <double*>c.arrays[4], c.ints[0], c.ints[1],
                           c.ints[2], c.ints[3], c.ints[4], c.ints[5], <int>c.ints[6],
                           <int>c.ints[7])


cdef void spatial_transformer_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    # arrays: data, loc, out, grid_dst, grid_src; ints: N, C, H, W, Ho, Wo, req
    if c.dtype == 0:
        _affine_grid(<float*>c.arrays[1], <float*>c.arrays[4], <float*>c.arrays[3], c.ints[0],
                     c.ints[4], c.ints[5], REQ_WRITE)
        _bilinear(<float*>c.arrays[0], <float*>c.arrays[4], <float*>c.arrays[2], c.ints[0],
                  c.ints[1], c.ints[2], c.ints[3], c.ints[4], c.ints[5], <int>c.ints[6])
    else:
        _affine_grid(<double*>c.arrays[1], <double*>c.arrays[4], <double*>c.arrays[3], c.ints[0],
                     c.ints[4], c.ints[5], REQ_WRITE)
        _bilinear(<double*>c.arrays[0], <double*>c.arrays[4], <double*>c.arrays[2], c.ints[0],
                  c.ints[1], c.ints[2], c.ints[3], c.ints[4], c.ints[5], <int>c.ints[6])


cdef void spatial_transformer_backward_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    # arrays: dy, data, grid_dst, grid_src, ddata, dloc, dgrid (scratch);
    # ints: N, C, H, W, Ho, Wo, data_req, loc_req
    cdef int grid_req = REQ_WRITE if c.ints[7] != REQ_NULL else REQ_NULL
    if c.dtype == 0:
        _bilinear_backward(<float*>c.arrays[0], <float*>c.arrays[1], <float*>c.arrays[3],
                           <float*>c.arrays[4], <float*>c.arrays[6], c.ints[0], c.ints[1],
                           c.ints[2], c.ints[3], c.ints[4], c.ints[5], <int>c.ints[6], grid_req)
        if grid_req != REQ_NULL:
            _affine_grid_backward(<float*>c.arrays[6], <float*>c.arrays[2], <float*>c.arrays[5],
                                  c.ints[0], c.ints[4] * c.ints[5], <int>c.ints[7])
    else:
        _bilinear_backward(<double*>c.arrays[0], <double*>c.arrays[1], <double*>c.arrays[3],
                           <double*>c.arrays[4], <double*>c.arrays[6], c.ints[0], c.ints[1],
                           c.ints[2], c.ints[3], c.ints[4], c.ints[5], <int>c.ints[6], grid_req)
        if grid_req != REQ_NULL:
            _affine_grid_backward(<double*>c.arrays[6], <double*>c.arrays[2],
                                  <double*>c.arrays[5], c.ints[0], c.ints[4] * c.ints[5],
                                  <int>c.ints[7])


# ---------------------------------------------------------------------------------------
# Correlation: out[n, q, i, j] = mean over the k x k x C patch at (y1, x1) of the product (or
# absolute difference) of data1's padded patch and data2's patch displaced by the q-th offset.
# ints: N C H W pad k max_displacement stride1 stride2 radius grid_width Ho Wo is_multiply

cdef struct Corr:
    Py_ssize_t N, C, H, W, pad, k, md, s1, s2, radius, grid_width, Ho, Wo
    bint multiply


cdef inline Corr _corr(const Py_ssize_t* v) noexcept nogil:
    cdef Corr g
    g.N = v[0]; g.C = v[1]; g.H = v[2]; g.W = v[3]; g.pad = v[4]; g.k = v[5]; g.md = v[6]
    g.s1 = v[7]; g.s2 = v[8]; g.radius = v[9]; g.grid_width = v[10]; g.Ho = v[11]; g.Wo = v[12]
    g.multiply = <bint>v[13]
    return g


cdef void _pad_channels_last(const real* x, real* padded, Corr* g) noexcept nogil:
    # padded[n, y + pad, x + pad, c] = x[n, c, y, x], zeros around
    cdef Py_ssize_t n, c, y, xx
    cdef Py_ssize_t Hp = g.H + 2 * g.pad, Wp = g.W + 2 * g.pad
    memset(padded, 0, g.N * Hp * Wp * g.C * sizeof(real))
    for n in range(g.N):
        for c in range(g.C):
            for y in range(g.H):
                for xx in range(g.W):
                    padded[((n * Hp + y + g.pad) * Wp + xx + g.pad) * g.C + c] = \
                        x[((n * g.C + c) * g.H + y) * g.W + xx]


cdef inline Py_ssize_t _offset(Py_ssize_t q, Corr* g, bint along_y) noexcept nogil:
    """The displacement of data2's patch for output channel q, along y or x."""
    return ((q // g.grid_width if along_y else q % g.grid_width) - g.radius) * g.s2


cdef void _correlation(const real* x1, const real* x2, real* out, real* tmp1, real* tmp2,
                       Corr* g, int req) noexcept nogil:
    cdef Py_ssize_t n, q, i, j, h, w, c, y1, xx1, y2, xx2, channels = g.grid_width * g.grid_width
    cdef Py_ssize_t Hp = g.H + 2 * g.pad, Wp = g.W + 2 * g.pad
    cdef const real* a
    cdef const real* b
    cdef double total
    cdef double count = g.k * g.k * g.C
    _pad_channels_last(x1, tmp1, g)
    _pad_channels_last(x2, tmp2, g)
    for n in range(g.N):
        for q in range(channels):
            for i in range(g.Ho):
                for j in range(g.Wo):
                    y1 = i * g.s1 + g.md
                    xx1 = j * g.s1 + g.md
                    y2 = y1 + _offset(q, g, True)
                    xx2 = xx1 + _offset(q, g, False)
                    total = 0
                    for h in range(g.k):
                        for w in range(g.k):
                            a = tmp1 + ((n * Hp + y1 + h) * Wp + xx1 + w) * g.C
                            b = tmp2 + ((n * Hp + y2 + h) * Wp + xx2 + w) * g.C
                            if g.multiply:
                                for c in range(g.C):
                                    total += a[c] * b[c]
                            else:
                                for c in range(g.C):
                                    total += fabs(a[c] - b[c])
                    store(out, ((n * channels + q) * g.Ho + i) * g.Wo + j, total / count, req)


cdef void _correlation_backward(const real* dy, const real* tmp1, const real* tmp2, real* dx1,
                                real* dx2, Corr* g, int req1, int req2) noexcept nogil:
    cdef Py_ssize_t n, q, i, j, h, w, c, y1, xx1, y2, xx2, channels = g.grid_width * g.grid_width
    cdef Py_ssize_t Hp = g.H + 2 * g.pad, Wp = g.W + 2 * g.pad
    cdef const real* a
    cdef const real* b
    cdef real* d1
    cdef real* d2
    cdef real d, count = <real>(g.k * g.k * g.C)
    cdef bint inside1, inside2
    if req1 == REQ_WRITE:
        memset(dx1, 0, g.N * g.C * g.H * g.W * sizeof(real))
    if req2 == REQ_WRITE:
        memset(dx2, 0, g.N * g.C * g.H * g.W * sizeof(real))
    for n in range(g.N):
        for q in range(channels):
            for i in range(g.Ho):
                for j in range(g.Wo):
                    y1 = i * g.s1 + g.md
                    xx1 = j * g.s1 + g.md
                    y2 = y1 + _offset(q, g, True)
                    xx2 = xx1 + _offset(q, g, False)
                    d = dy[((n * channels + q) * g.Ho + i) * g.Wo + j] / count
                    for h in range(g.k):
                        for w in range(g.k):
                            a = tmp1 + ((n * Hp + y1 + h) * Wp + xx1 + w) * g.C
                            b = tmp2 + ((n * Hp + y2 + h) * Wp + xx2 + w) * g.C
                            # padded positions take no gradient
                            inside1 = req1 != REQ_NULL and g.pad <= y1 + h < g.H + g.pad \
                                and g.pad <= xx1 + w < g.W + g.pad
                            inside2 = req2 != REQ_NULL and g.pad <= y2 + h < g.H + g.pad \
                                and g.pad <= xx2 + w < g.W + g.pad
                            d1 = dx1 + (n * g.C * g.H + y1 + h - g.pad) * g.W + xx1 + w - g.pad
                            d2 = dx2 + (n * g.C * g.H + y2 + h - g.pad) * g.W + xx2 + w - g.pad
                            for c in range(g.C):
                                if g.multiply:
                                    if inside1:
                                        d1[c * g.H * g.W] += d * b[c]
                                    if inside2:
                                        d2[c * g.H * g.W] += d * a[c]
                                else:
                                    # MXNet's sign: +1 for data1 where a >= b, data2 the opposite
                                    if inside1:
                                        d1[c * g.H * g.W] += d if a[c] >= b[c] else -d
                                    if inside2:
                                        d2[c * g.H * g.W] += -d if a[c] >= b[c] else d


cdef void correlation_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    # arrays: data1, data2, out, tmp1, tmp2; ints: Corr, req
    cdef Corr g = _corr(c.ints)
    if c.dtype == 0:
        _correlation(<float*>c.arrays[0], <float*>c.arrays[1], <float*>c.arrays[2],
                     <float*>c.arrays[3], <float*>c.arrays[4], &g, <int>c.ints[14])
    else:
        _correlation(<double*>c.arrays[0], <double*>c.arrays[1], <double*>c.arrays[2],
                     <double*>c.arrays[3], <double*>c.arrays[4], &g, <int>c.ints[14])


cdef void correlation_backward_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    # arrays: dy, tmp1, tmp2, dx1, dx2; ints: Corr, req1, req2
    cdef Corr g = _corr(c.ints)
    if c.dtype == 0:
        _correlation_backward(<float*>c.arrays[0], <float*>c.arrays[1], <float*>c.arrays[2],
                              <float*>c.arrays[3], <float*>c.arrays[4], &g, <int>c.ints[14],
                              <int>c.ints[15])
    else:
        _correlation_backward(<double*>c.arrays[0], <double*>c.arrays[1], <double*>c.arrays[2],
                              <double*>c.arrays[3], <double*>c.arrays[4], &g, <int>c.ints[14],
                              <int>c.ints[15])


# ---------------------------------------------------------------------------------------
# append_ functions (bind time, with the GIL): shapes are checked, pointers stored

def _require(bint condition, str label, str message):
    if not condition:
        raise ValueError(f"{label}: {message}")


def window_out_size(Py_ssize_t size, Py_ssize_t kernel, Py_ssize_t stride, Py_ssize_t dilate,
                    Py_ssize_t pad):
    """The number of window positions along one axis."""
    return (size + 2 * pad - (1 + (kernel - 1) * dilate)) // stride + 1


def _window_ints(image_shape, kernel, stride, dilate, pad):
    """WINDOW_INTS for an (N, C, *spatial) image, spatial dims padded to 3 at the front."""
    nd = len(kernel)
    lead = 3 - nd
    spatial = (1,) * lead + tuple(image_shape[2:])
    kernel = (1,) * lead + tuple(kernel)
    stride = (1,) * lead + tuple(stride)
    dilate = (1,) * lead + tuple(dilate)
    pad = (0,) * lead + tuple(pad)
    out = [window_out_size(spatial[d], kernel[d], stride[d], dilate[d], pad[d]) for d in range(3)]
    return [image_shape[0], image_shape[1], *spatial, *kernel, *stride, *dilate, *pad, *out]


def _check_window(image, col, kernel, stride, dilate, pad, label):
    nd = len(kernel)
    _require(image.ndim == nd + 2 and col.ndim == 3 and nd in (1, 2, 3)
             and len(stride) == len(dilate) == len(pad) == nd, label,
             f"image {tuple(image.shape)} and columns {tuple(col.shape)} do not fit a "
             f"{nd}-D window")
    ints = _window_ints(tuple(image.shape), kernel, stride, dilate, pad)
    blocks = ints[17] * ints[18] * ints[19]
    rows = ints[1] * ints[5] * ints[6] * ints[7]
    _require(col.shape == (ints[0], rows, blocks), label,
             f"columns {tuple(col.shape)} do not match image {tuple(image.shape)}: expected "
             f"{(ints[0], rows, blocks)}")
    return ints


def append_im2col(Plan plan, x, col, kernel, stride, dilate, pad, str req="write",
                  str label="im2col"):
    """Append col (+)= the sliding blocks of x: (N, C * prod(kernel), number of blocks)."""
    cdef int code = req_code(req, label)
    if code == REQ_NULL:
        return
    ints = _check_window(x, col, kernel, stride, dilate, pad, label)
    plan.add(im2col_kernel, common_dtype([x, col]), [x, col], ints + [code], [], label)


def append_col2im(Plan plan, col, x, kernel, stride, dilate, pad, str req="write",
                  str label="col2im"):
    """Append x (+)= the blocks of col summed back onto the image."""
    cdef int code = req_code(req, label)
    if code == REQ_NULL:
        return
    ints = _check_window(x, col, kernel, stride, dilate, pad, label)
    plan.add(col2im_kernel, common_dtype([col, x]), [col, x], ints + [code], [], label)


def append_grid_generator(Plan plan, data, out, grid_dst, bint warp, str req="write",
                          str label="GridGenerator"):
    """Append out (+)= the sampling grid from affine matrices (N, 6) or flows (N, 2, H, W);
    grid_dst receives the target coordinates, (3, H*W) or (2, H, W)."""
    cdef int code = req_code(req, label)
    _require(out.ndim == 4 and out.shape[1] == 2, label, f"output {tuple(out.shape)} is not (N, 2, H, W)")
    N, _, H, W = out.shape
    if warp:
        _require(data.shape == out.shape and grid_dst.shape == (2, H, W), label,
                 f"flow {tuple(data.shape)} and grid {tuple(grid_dst.shape)} do not fit {tuple(out.shape)}")
    else:
        _require(data.shape == (N, 6) and grid_dst.shape == (3, H * W), label,
                 f"affine matrices {tuple(data.shape)} and grid {tuple(grid_dst.shape)} do not "
                 f"fit {tuple(out.shape)}")
    # even when nothing reads the output, the backward may read grid_dst: the call always runs
    arrays = [data, out, grid_dst]
    plan.add(grid_generator_kernel, common_dtype(arrays), arrays, [N, H, W, warp, code], [], label)


def append_grid_generator_backward(Plan plan, dy, grid_dst, dx, bint warp, str req="write",
                                   str label="_backward_GridGenerator"):
    """Append dx (+)= dy @ grid_dst.T (affine) or dy / ((W-1)/2, (H-1)/2) (warp)."""
    cdef int code = req_code(req, label)
    if code == REQ_NULL:
        return
    _require(dy.ndim == 4 and dy.shape[1] == 2, label, f"output gradient {tuple(dy.shape)} is not (N, 2, H, W)")
    N, _, H, W = dy.shape
    _require(dx.shape == (dy.shape if warp else (N, 6)), label,
             f"data gradient {tuple(dx.shape)} does not fit {tuple(dy.shape)}")
    if grid_dst is None:
        grid_dst = dy
    _require(warp or grid_dst.shape == (3, H * W), label, f"grid {tuple(grid_dst.shape)} is not (3, {H * W})")
    arrays = [dy, grid_dst, dx]
    plan.add(grid_generator_backward_kernel, common_dtype(arrays), arrays, [N, H, W, warp, code],
             [], label)


def _sampler_ints(data, grid, out, label):
    _require(data.ndim == 4 and grid.ndim == 4 and out.ndim == 4 and grid.shape[1] == 2
             and grid.shape[0] == data.shape[0]
             and out.shape == (data.shape[0], data.shape[1], grid.shape[2], grid.shape[3]), label,
             f"data {tuple(data.shape)}, grid {tuple(grid.shape)} and output {tuple(out.shape)} "
             f"do not fit (N, C, H, W), (N, 2, Ho, Wo), (N, C, Ho, Wo)")
    return [int(v) for v in data.shape] + [int(grid.shape[2]), int(grid.shape[3])]


def append_bilinear_sampler(Plan plan, data, grid, out, str req="write",
                            str label="BilinearSampler"):
    """Append out (+)= data sampled bilinearly at grid (zeros outside)."""
    cdef int code = req_code(req, label)
    ints = _sampler_ints(data, grid, out, label)
    if code == REQ_NULL or out.size == 0:
        return
    arrays = [data, grid, out]
    plan.add(bilinear_kernel, common_dtype(arrays), arrays, ints + [code], [], label)


def append_bilinear_sampler_backward(Plan plan, dy, data, grid, ddata, dgrid, str data_req="write",
                                     str grid_req="write", str label="_backward_BilinearSampler"):
    """Append ddata (+)= and dgrid (+)= the gradients of bilinear sampling."""
    cdef int dcode = req_code(data_req, label), gcode = req_code(grid_req, label)
    ints = _sampler_ints(data, grid, dy, label)
    _require(ddata.shape == data.shape and dgrid.shape == grid.shape, label,
             f"gradients {tuple(ddata.shape)} and {tuple(dgrid.shape)} do not fit "
             f"{tuple(data.shape)} and {tuple(grid.shape)}")
    if dcode == REQ_NULL and gcode == REQ_NULL:
        return
    arrays = [dy, data, grid, ddata, dgrid]
    plan.add(bilinear_backward_kernel, common_dtype(arrays), arrays, ints + [dcode, gcode], [],
             label)


def _transformer_ints(data, loc, out, grid_dst, grid_src, label):
    _require(data.ndim == 4 and out.ndim == 4 and out.shape[:2] == data.shape[:2]
             and loc.shape == (data.shape[0], 6), label,
             f"data {tuple(data.shape)}, loc {tuple(loc.shape)} and output {tuple(out.shape)} "
             f"do not fit (N, C, H, W), (N, 6), (N, C, Ho, Wo)")
    N, C, H, W = (int(v) for v in data.shape)
    Ho, Wo = int(out.shape[2]), int(out.shape[3])
    _require(grid_dst.shape == (3, Ho * Wo) and grid_src.shape == (N, 2, Ho * Wo), label,
             f"grids {tuple(grid_dst.shape)} and {tuple(grid_src.shape)} do not fit "
             f"{tuple(out.shape)}")
    return [N, C, H, W, Ho, Wo]


def append_spatial_transformer(Plan plan, data, loc, out, grid_dst, grid_src, str req="write",
                               str label="SpatialTransformer"):
    """Append grid_src = loc @ grid_dst (affine) and out (+)= data sampled at grid_src."""
    cdef int code = req_code(req, label)
    ints = _transformer_ints(data, loc, out, grid_dst, grid_src, label)
    arrays = [data, loc, out, grid_dst, grid_src]
    plan.add(spatial_transformer_kernel, common_dtype(arrays), arrays, ints + [code], [], label)


def spatial_transformer_workspace_bytes(Py_ssize_t batch, Py_ssize_t positions, Py_ssize_t itemsize):
    """Scratch bytes of append_spatial_transformer_backward: the gradient of the grid."""
    return batch * 2 * positions * itemsize


def append_spatial_transformer_backward(Plan plan, dy, data, grid_dst, grid_src, ddata, dloc,
                                        workspace=None, str data_req="write",
                                        str loc_req="write",
                                        str label="_backward_SpatialTransformer"):
    """Append ddata (+)= the sampling gradient and dloc (+)= dgrid @ grid_dst.T."""
    cdef int dcode = req_code(data_req, label), lcode = req_code(loc_req, label)
    ints = _transformer_ints(data, dloc, dy, grid_dst, grid_src, label)
    _require(ddata.shape == data.shape, label,
             f"data gradient {tuple(ddata.shape)} does not fit {tuple(data.shape)}")
    if dcode == REQ_NULL and lcode == REQ_NULL:
        return
    dgrid = scratch(workspace, grid_src.size, grid_src.dtype)
    arrays = [dy, data, grid_dst, grid_src, ddata, dloc, dgrid]
    plan.add(spatial_transformer_backward_kernel, common_dtype(arrays), arrays,
             ints + [dcode, lcode], [], label)


def correlation_geometry(shape, int kernel_size, int max_displacement, int stride1, int stride2,
                         int pad_size):
    """(radius, grid_width, Ho, Wo) of a Correlation over (N, C, H, W) data, as MXNet forms
    them (the output size rounded up in float32)."""
    border = max_displacement + (kernel_size - 1) // 2
    Ho = int(ceil(float32(shape[2] + 2 * pad_size - 2 * border) / float32(stride1)))
    Wo = int(ceil(float32(shape[3] + 2 * pad_size - 2 * border) / float32(stride1)))
    radius = max_displacement // stride2
    return radius, 2 * radius + 1, Ho, Wo


def _corr_ints(x1, out, tmp, int kernel_size, int max_displacement, int stride1, int stride2,
               int pad_size, bint is_multiply, label):
    _require(x1.ndim == 4, label, f"data {tuple(x1.shape)} is not (N, C, H, W)")
    N, C, H, W = (int(v) for v in x1.shape)
    radius, width, Ho, Wo = correlation_geometry(x1.shape, kernel_size, max_displacement,
                                                 stride1, stride2, pad_size)
    _require(out.shape == (N, width * width, Ho, Wo)
             and tmp.shape == (N, H + 2 * pad_size, W + 2 * pad_size, C), label,
             f"output {tuple(out.shape)} and padded copy {tuple(tmp.shape)} do not fit data "
             f"{tuple(x1.shape)}")
    return [N, C, H, W, pad_size, kernel_size, max_displacement, stride1, stride2, radius, width,
            Ho, Wo, is_multiply]


def append_correlation(Plan plan, x1, x2, out, tmp1, tmp2, int kernel_size, int max_displacement,
                       int stride1, int stride2, int pad_size, bint is_multiply, str req="write",
                       str label="Correlation"):
    """Append out (+)= the patch correlations of x1 and x2; tmp1/tmp2 receive their padded
    channels-last copies, which the backward reads."""
    cdef int code = req_code(req, label)
    ints = _corr_ints(x1, out, tmp1, kernel_size, max_displacement, stride1, stride2, pad_size,
                      is_multiply, label)
    _require(x2.shape == x1.shape and tmp2.shape == tmp1.shape, label,
             f"data2 {tuple(x2.shape)} differs from data1 {tuple(x1.shape)}")
    arrays = [x1, x2, out, tmp1, tmp2]
    plan.add(correlation_kernel, common_dtype(arrays), arrays, ints + [code], [], label)


def append_correlation_backward(Plan plan, dy, tmp1, tmp2, dx1, dx2, int kernel_size,
                                int max_displacement, int stride1, int stride2, int pad_size,
                                bint is_multiply, str req1="write", str req2="write",
                                str label="_backward_Correlation"):
    """Append dx1 (+)= and dx2 (+)= the gradients of the correlation, from the padded copies."""
    cdef int code1 = req_code(req1, label), code2 = req_code(req2, label)
    ints = _corr_ints(dx1, dy, tmp1, kernel_size, max_displacement, stride1, stride2, pad_size,
                      is_multiply, label)
    _require(dx2.shape == dx1.shape and tmp2.shape == tmp1.shape, label,
             f"gradients {tuple(dx1.shape)} and {tuple(dx2.shape)} differ")
    if code1 == REQ_NULL and code2 == REQ_NULL:
        return
    arrays = [dy, tmp1, tmp2, dx1, dx2]
    plan.add(correlation_backward_kernel, common_dtype(arrays), arrays, ints + [code1, code2], [],
             label)
