"""Kernels of the normalization and resampling layers: LayerNorm, InstanceNorm,
L2Normalization, SoftmaxActivation, LRN and nearest-neighbour UpSampling.

Most of them reduce over one axis of a (A, R, B) view of the data: element (a, r, b) is at
(a * R + r) * B + b, the reduction runs over r (stride B) and one statistic is kept per
(a, b) at a * B + b.  LayerNorm's axis, L2Normalization's and SoftmaxActivation's modes are
all such views.  Sums accumulate in double for both dtypes.
"""
from libc.math cimport sqrt, exp, pow
import numpy as np

from cysym._ops._blas cimport real
from cysym._ops._math cimport _sum, _sum_products
from cysym._ops._common cimport common_dtype, store, REQ_NULL, REQ_WRITE, REQ_ADD, req_code
from cysym._ops.runner cimport Plan, KernelCall, RunContext
from cysym._ops.loss import append_softmax, append_softmax_backward


# ---------------------------------------------------------------------------------------
# LayerNorm: (A, R, B) view, normalised over r; gamma and beta are indexed by r

cdef void _layer_norm(const real* x, const real* gamma, const real* beta, real* y, real* mean,
                      real* std, Py_ssize_t A, Py_ssize_t R, Py_ssize_t B, double eps,
                      int req) noexcept nogil:
    cdef Py_ssize_t a, b, r, base
    cdef double total, mu, d, sigma, inv
    for a in range(A):
        for b in range(B):
            base = a * R * B + b
            if B == 1:      # the usual last axis: contiguous rows, partial sums
                mu = _sum(x + base, R) / R
                total = _sum_products(x + base, mu, x + base, mu, R)
            else:
                total = 0
                for r in range(R):
                    total += x[base + r * B]
                mu = total / R
                total = 0
                for r in range(R):
                    d = x[base + r * B] - mu
                    total += d * d
            sigma = sqrt(total / R + eps)
            mean[a * B + b] = <real>mu
            std[a * B + b] = <real>sigma
            inv = 1.0 / sigma
            # y = (x - mean) / std * gamma + beta  (x is read before y is written: y may alias x)
            for r in range(R):
                store(y, base + r * B, (x[base + r * B] - mu) * inv * gamma[r] + beta[r], req)


cdef void layer_norm_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    # arrays: x, gamma, beta, y, mean, std; ints: A, R, B, req; floats: eps
    if c.dtype == 0:
        _layer_norm(<float*>c.arrays[0], <float*>c.arrays[1], <float*>c.arrays[2],
                    <float*>c.arrays[3], <float*>c.arrays[4], <float*>c.arrays[5],
                    c.ints[0], c.ints[1], c.ints[2], c.floats[0], <int>c.ints[3])
    else:
        _layer_norm(<double*>c.arrays[0], <double*>c.arrays[1], <double*>c.arrays[2],
                    <double*>c.arrays[3], <double*>c.arrays[4], <double*>c.arrays[5],
                    c.ints[0], c.ints[1], c.ints[2], c.floats[0], <int>c.ints[3])


cdef void _layer_norm_backward(const real* dy, const real* x, const real* gamma,
                               const real* mean, const real* std, real* dx, real* dgamma,
                               real* dbeta, Py_ssize_t A, Py_ssize_t R, Py_ssize_t B,
                               int req_dx, int req_dg, int req_db) noexcept nogil:
    cdef Py_ssize_t a, b, r, base, k
    cdef double sum_dy, sum_dy_xhat, mu, inv, w, mean_w, mean_w_xhat, xhat
    cdef const real* dy_row
    cdef const real* x_row
    cdef real row_mean, row_inv
    if (req_dg != REQ_NULL or req_db != REQ_NULL) and B == 1:
        # the usual last axis: add whole rows into dgamma and dbeta, in loops over r that
        # vectorize (a column at a time would stride through memory)
        for r in range(R):
            if req_db == REQ_WRITE:
                dbeta[r] = 0
            if req_dg == REQ_WRITE:
                dgamma[r] = 0
        for a in range(A):
            dy_row = dy + a * R
            x_row = x + a * R
            row_mean = mean[a]
            row_inv = <real>1 / std[a]
            if req_db != REQ_NULL:
                for r in range(R):
                    dbeta[r] += dy_row[r]
            if req_dg != REQ_NULL:
                for r in range(R):
                    dgamma[r] += dy_row[r] * ((x_row[r] - row_mean) * row_inv)
    elif req_dg != REQ_NULL or req_db != REQ_NULL:
        # dgamma = sum(dy * xhat) and dbeta = sum(dy) over every axis but r
        for r in range(R):
            sum_dy = 0
            sum_dy_xhat = 0
            for a in range(A):
                for b in range(B):
                    k = a * B + b
                    base = (a * R + r) * B + b
                    sum_dy += dy[base]
                    sum_dy_xhat += dy[base] * (x[base] - mean[k]) / std[k]
            store(dbeta, r, sum_dy, req_db)
            store(dgamma, r, sum_dy_xhat, req_dg)
    if req_dx == REQ_NULL:
        return
    # w = dy * gamma / std;  dx = w - mean(w) - xhat * mean(w * xhat)   (means over r)
    for a in range(A):
        for b in range(B):
            k = a * B + b
            base = a * R * B + b
            mu = mean[k]
            inv = 1.0 / std[k]
            mean_w = 0
            mean_w_xhat = 0
            for r in range(R):
                w = dy[base + r * B] * gamma[r] * inv
                mean_w += w
                mean_w_xhat += w * (x[base + r * B] - mu) * inv
            mean_w /= R
            mean_w_xhat /= R
            for r in range(R):
                xhat = (x[base + r * B] - mu) * inv
                w = dy[base + r * B] * gamma[r] * inv
                store(dx, base + r * B, w - mean_w - xhat * mean_w_xhat, req_dx)


cdef void layer_norm_backward_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    # arrays: dy, x, gamma, mean, std, dx, dgamma, dbeta; ints: A, R, B, req_dx, req_dg, req_db
    if c.dtype == 0:
        _layer_norm_backward(<float*>c.arrays[0], <float*>c.arrays[1], <float*>c.arrays[2],
                             <float*>c.arrays[3], <float*>c.arrays[4], <float*>c.arrays[5],
                             <float*>c.arrays[6], <float*>c.arrays[7], c.ints[0], c.ints[1],
                             c.ints[2], <int>c.ints[3], <int>c.ints[4], <int>c.ints[5])
    else:
        _layer_norm_backward(<double*>c.arrays[0], <double*>c.arrays[1], <double*>c.arrays[2],
                             <double*>c.arrays[3], <double*>c.arrays[4], <double*>c.arrays[5],
                             <double*>c.arrays[6], <double*>c.arrays[7], c.ints[0], c.ints[1],
                             c.ints[2], <int>c.ints[3], <int>c.ints[4], <int>c.ints[5])


# ---------------------------------------------------------------------------------------
# InstanceNorm: rows (n, c) of S contiguous values; gamma and beta are indexed by c

cdef void _instance_norm(const real* x, const real* gamma, const real* beta, real* y,
                         real* mean, real* var, Py_ssize_t N, Py_ssize_t C, Py_ssize_t S,
                         double eps, int req) noexcept nogil:
    cdef Py_ssize_t row, c, i
    cdef double mu, sigma2, scale, shift
    cdef const real* xp
    for row in range(N * C):
        c = row % C
        xp = x + row * S
        mu = _sum(xp, S) / S
        sigma2 = _sum_products(xp, mu, xp, mu, S) / S
        mean[row] = <real>mu
        var[row] = <real>sigma2
        # y = gamma * (x - mean) / sqrt(var + eps) + beta  ==  x * scale + shift
        scale = gamma[c] / sqrt(sigma2 + eps)
        shift = beta[c] - mu * scale
        for i in range(S):
            store(y, row * S + i, xp[i] * scale + shift, req)


cdef void instance_norm_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    # arrays: x, gamma, beta, y, mean, var; ints: N, C, S, req; floats: eps
    if c.dtype == 0:
        _instance_norm(<float*>c.arrays[0], <float*>c.arrays[1], <float*>c.arrays[2],
                       <float*>c.arrays[3], <float*>c.arrays[4], <float*>c.arrays[5],
                       c.ints[0], c.ints[1], c.ints[2], c.floats[0], <int>c.ints[3])
    else:
        _instance_norm(<double*>c.arrays[0], <double*>c.arrays[1], <double*>c.arrays[2],
                       <double*>c.arrays[3], <double*>c.arrays[4], <double*>c.arrays[5],
                       c.ints[0], c.ints[1], c.ints[2], c.floats[0], <int>c.ints[3])


cdef void _instance_norm_backward(const real* dy, const real* x, const real* gamma,
                                  const real* mean, const real* var, real* dx, real* dgamma,
                                  real* dbeta, Py_ssize_t N, Py_ssize_t C, Py_ssize_t S,
                                  double eps, int req_dx, int req_dg, int req_db) noexcept nogil:
    cdef Py_ssize_t n, c, i, row
    cdef double mu, invstd, sum_dy, sum_dy_xhat, total_dy, total_dy_xhat, k, a, b
    cdef const real* xp
    cdef const real* dyp
    for c in range(C):
        total_dy = 0
        total_dy_xhat = 0
        for n in range(N):
            row = n * C + c
            xp = x + row * S
            dyp = dy + row * S
            mu = mean[row]
            invstd = 1.0 / sqrt(<double>var[row] + eps)
            sum_dy = _sum(dyp, S)
            sum_dy_xhat = _sum_products(dyp, 0.0, xp, mu, S) * invstd
            total_dy += sum_dy
            total_dy_xhat += sum_dy_xhat
            if req_dx != REQ_NULL:
                # dx = gamma * invstd * (dy - sum_dy / S - xhat * sum_dy_xhat / S)
                k = gamma[c] * invstd
                a = -k * invstd * sum_dy_xhat / S
                b = -a * mu - k * sum_dy / S
                for i in range(S):
                    store(dx, row * S + i, k * dyp[i] + a * xp[i] + b, req_dx)
        store(dbeta, c, total_dy, req_db)
        store(dgamma, c, total_dy_xhat, req_dg)


cdef void instance_norm_backward_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    # arrays: dy, x, gamma, mean, var, dx, dgamma, dbeta; ints: N, C, S, req x3; floats: eps
    if c.dtype == 0:
        _instance_norm_backward(<float*>c.arrays[0], <float*>c.arrays[1], <float*>c.arrays[2],
                                <float*>c.arrays[3], <float*>c.arrays[4], <float*>c.arrays[5],
                                <float*>c.arrays[6], <float*>c.arrays[7], c.ints[0], c.ints[1],
                                c.ints[2], c.floats[0], <int>c.ints[3], <int>c.ints[4],
                                <int>c.ints[5])
    else:
        _instance_norm_backward(<double*>c.arrays[0], <double*>c.arrays[1], <double*>c.arrays[2],
                                <double*>c.arrays[3], <double*>c.arrays[4], <double*>c.arrays[5],
                                <double*>c.arrays[6], <double*>c.arrays[7], c.ints[0], c.ints[1],
                                c.ints[2], c.floats[0], <int>c.ints[3], <int>c.ints[4],
                                <int>c.ints[5])


# ---------------------------------------------------------------------------------------
# L2Normalization: y = x / sqrt(sum(x**2) + eps) over r

cdef void _l2_normalize(const real* x, real* y, real* norm, Py_ssize_t A, Py_ssize_t R,
                        Py_ssize_t B, double eps, int req) noexcept nogil:
    cdef Py_ssize_t a, b, r, base
    cdef double total, n, inv
    for a in range(A):
        for b in range(B):
            base = a * R * B + b
            total = 0
            for r in range(R):
                total += <double>x[base + r * B] * x[base + r * B]
            n = sqrt(total + eps)
            norm[a * B + b] = <real>n
            inv = 1.0 / n
            for r in range(R):
                store(y, base + r * B, x[base + r * B] * inv, req)


cdef void l2_normalize_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    # arrays: x, y, norm; ints: A, R, B, req; floats: eps
    if c.dtype == 0:
        _l2_normalize(<float*>c.arrays[0], <float*>c.arrays[1], <float*>c.arrays[2],
                      c.ints[0], c.ints[1], c.ints[2], c.floats[0], <int>c.ints[3])
    else:
        _l2_normalize(<double*>c.arrays[0], <double*>c.arrays[1], <double*>c.arrays[2],
                      c.ints[0], c.ints[1], c.ints[2], c.floats[0], <int>c.ints[3])


cdef void _l2_normalize_backward(const real* dy, const real* y, const real* norm, real* dx,
                                 Py_ssize_t A, Py_ssize_t R, Py_ssize_t B, int req) noexcept nogil:
    """dx = (dy - y * s) / norm with s = sum(dy * y) over r.  Each (a, b) reads dy and y
    before writing dx, so dx may alias dy."""
    cdef Py_ssize_t a, b, r, base, i
    cdef double s, inv
    for a in range(A):
        for b in range(B):
            base = a * R * B + b
            s = 0
            for r in range(R):
                i = base + r * B
                s += <double>dy[i] * y[i]
            inv = 1.0 / norm[a * B + b]
            for r in range(R):
                i = base + r * B
                store(dx, i, (dy[i] - y[i] * s) * inv, req)


cdef void l2_normalize_backward_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    # arrays: dy, y, norm, dx; ints: A, R, B, req
    if c.dtype == 0:
        _l2_normalize_backward(<float*>c.arrays[0], <float*>c.arrays[1], <float*>c.arrays[2],
                               <float*>c.arrays[3], c.ints[0], c.ints[1], c.ints[2], <int>c.ints[3])
    else:
        _l2_normalize_backward(<double*>c.arrays[0], <double*>c.arrays[1], <double*>c.arrays[2],
                               <double*>c.arrays[3], c.ints[0], c.ints[1], c.ints[2], <int>c.ints[3])


# ---------------------------------------------------------------------------------------
# ---------------------------------------------------------------------------------------
# LRN across channels: data (N, C, S) with S = H * W

cdef void _lrn(const real* x, real* y, real* tmp_norm, Py_ssize_t N, Py_ssize_t C,
               Py_ssize_t S, Py_ssize_t size, double alpha, double beta, double knorm,
               int req) noexcept nogil:
    cdef Py_ssize_t n, c, j, i, lo, hi, half = size // 2
    cdef double salpha = alpha / size
    cdef const real* xp
    cdef real* tp
    for n in range(N):
        for c in range(C):
            # tmp_norm[c] = knorm + alpha / size * sum(x[c - half : c + half + 1] ** 2)
            tp = tmp_norm + (n * C + c) * S
            for i in range(S):
                tp[i] = 0
            lo = c - half if c >= half else 0
            hi = c + half + 1 if c + half + 1 <= C else C
            for j in range(lo, hi):
                xp = x + (n * C + j) * S
                for i in range(S):
                    tp[i] += xp[i] * xp[i]
            for i in range(S):
                tp[i] = <real>(knorm + salpha * tp[i])
    if req == REQ_NULL:
        return
    for i in range(N * C * S):
        store(y, i, x[i] * pow(<double>tmp_norm[i], -beta), req)


cdef void lrn_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    # arrays: x, y, tmp_norm; ints: N, C, S, nsize, req; floats: alpha, beta, knorm
    if c.dtype == 0:
        _lrn(<float*>c.arrays[0], <float*>c.arrays[1], <float*>c.arrays[2], c.ints[0], c.ints[1],
             c.ints[2], c.ints[3], c.floats[0], c.floats[1], c.floats[2], <int>c.ints[4])
    else:
        _lrn(<double*>c.arrays[0], <double*>c.arrays[1], <double*>c.arrays[2], c.ints[0],
             c.ints[1], c.ints[2], c.ints[3], c.floats[0], c.floats[1], c.floats[2],
             <int>c.ints[4])


cdef void _lrn_backward(const real* dy, const real* x, const real* tmp_norm, real* dx,
                        real* q, Py_ssize_t N, Py_ssize_t C, Py_ssize_t S, Py_ssize_t size,
                        double alpha, double beta, int req) noexcept nogil:
    # dx = dy * t**-beta - 2 * beta * alpha / size * x * chsum(dy * x * t**(-beta - 1))
    # where chsum sums over the same channel window as the forward; q (C * S) holds one
    # sample's dy * x * t**(-beta - 1)
    cdef Py_ssize_t n, c, j, i, lo, hi, k, half = size // 2
    cdef double coef = -2.0 * beta * alpha / size
    cdef double total
    cdef const real* qp
    if req == REQ_NULL:
        return
    for n in range(N):
        k = n * C * S
        for i in range(C * S):
            q[i] = <real>(dy[k + i] * x[k + i] * pow(<double>tmp_norm[k + i], -beta - 1.0))
        for c in range(C):
            lo = c - half if c >= half else 0
            hi = c + half + 1 if c + half + 1 <= C else C
            for i in range(S):
                total = 0
                for j in range(lo, hi):
                    total += q[j * S + i]
                k = (n * C + c) * S + i
                store(dx, k, dy[k] * pow(<double>tmp_norm[k], -beta) + coef * x[k] * total, req)


cdef void lrn_backward_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    # arrays: dy, x, tmp_norm, dx, q; ints: N, C, S, nsize, req; floats: alpha, beta
    if c.dtype == 0:
        _lrn_backward(<float*>c.arrays[0], <float*>c.arrays[1], <float*>c.arrays[2],
                      <float*>c.arrays[3], <float*>c.arrays[4], c.ints[0], c.ints[1], c.ints[2],
                      c.ints[3], c.floats[0], c.floats[1], <int>c.ints[4])
    else:
        _lrn_backward(<double*>c.arrays[0], <double*>c.arrays[1], <double*>c.arrays[2],
                      <double*>c.arrays[3], <double*>c.arrays[4], c.ints[0], c.ints[1],
                      c.ints[2], c.ints[3], c.floats[0], c.floats[1], <int>c.ints[4])


# ---------------------------------------------------------------------------------------
# Nearest-neighbour UpSampling of one input into channels [offset, offset + C) of the output

cdef void _upsample(const real* x, real* y, Py_ssize_t N, Py_ssize_t C, Py_ssize_t H,
                    Py_ssize_t W, Py_ssize_t Cout, Py_ssize_t offset, Py_ssize_t sh,
                    Py_ssize_t sw, int req) noexcept nogil:
    # y[n, offset + c, i, j] (+)= x[n, c, i // sh, j // sw]
    cdef Py_ssize_t n, c, i, j, Ho = H * sh, Wo = W * sw
    cdef const real* xrow
    cdef real* yrow
    for n in range(N):
        for c in range(C):
            for i in range(Ho):
                xrow = x + ((n * C + c) * H + i // sh) * W
                yrow = y + ((n * Cout + offset + c) * Ho + i) * Wo
                if req == REQ_ADD:
                    for j in range(Wo):
                        yrow[j] += xrow[j // sw]
                elif req == REQ_WRITE:
                    for j in range(Wo):
                        yrow[j] = xrow[j // sw]


cdef void upsample_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    # arrays: x, y; ints: N, C, H, W, Cout, offset, sh, sw, req
    if c.dtype == 0:
        _upsample(<float*>c.arrays[0], <float*>c.arrays[1], c.ints[0], c.ints[1], c.ints[2],
                  c.ints[3], c.ints[4], c.ints[5], c.ints[6], c.ints[7], <int>c.ints[8])
    else:
        _upsample(<double*>c.arrays[0], <double*>c.arrays[1], c.ints[0], c.ints[1], c.ints[2],
                  c.ints[3], c.ints[4], c.ints[5], c.ints[6], c.ints[7], <int>c.ints[8])


cdef void _upsample_backward(const real* dy, real* dx, Py_ssize_t N, Py_ssize_t C,
                             Py_ssize_t H, Py_ssize_t W, Py_ssize_t Cout, Py_ssize_t offset,
                             Py_ssize_t sh, Py_ssize_t sw, int req) noexcept nogil:
    # dx[n, c, i, j] (+)= dy[n, offset + c, i*sh : (i+1)*sh, j*sw : (j+1)*sw].sum()
    cdef Py_ssize_t n, c, i, j, a, b, Ho = H * sh, Wo = W * sw
    cdef double total
    cdef const real* dyp
    for n in range(N):
        for c in range(C):
            dyp = dy + (n * Cout + offset + c) * Ho * Wo
            for i in range(H):
                for j in range(W):
                    total = 0
                    for a in range(i * sh, i * sh + sh):
                        for b in range(j * sw, j * sw + sw):
                            total += dyp[a * Wo + b]
                    store(dx, ((n * C + c) * H + i) * W + j, total, req)


cdef void upsample_backward_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    # arrays: dy, dx; ints: N, C, H, W, Cout, offset, sh, sw, req
    if c.dtype == 0:
        _upsample_backward(<float*>c.arrays[0], <float*>c.arrays[1], c.ints[0], c.ints[1],
                           c.ints[2], c.ints[3], c.ints[4], c.ints[5], c.ints[6], c.ints[7],
                           <int>c.ints[8])
    else:
        _upsample_backward(<double*>c.arrays[0], <double*>c.arrays[1], c.ints[0], c.ints[1],
                           c.ints[2], c.ints[3], c.ints[4], c.ints[5], c.ints[6], c.ints[7],
                           <int>c.ints[8])


# ---------------------------------------------------------------------------------------
# append_ functions (bind time, with the GIL): shapes are checked, pointers stored

def _check(array, shape, what, label):
    if array is not None and tuple(array.shape) != tuple(shape):
        raise ValueError(f"{label}: {what} has shape {tuple(array.shape)}, expected {tuple(shape)}")


def _prod(values):
    result = 1
    for v in values:
        result *= int(v)
    return result


def axis_view(shape, axis, label="LayerNorm"):
    """(A, R, B) of `shape` around `axis` (negative counts from the end)."""
    ndim = len(shape)
    if not -ndim <= axis < ndim:
        raise ValueError(f"{label}: axis={axis} is out of range for data of shape {tuple(shape)}")
    axis %= ndim
    return _prod(shape[:axis]), int(shape[axis]), _prod(shape[axis + 1:])


def mode_view(shape, mode, label):
    """(A, R, B) of L2Normalization / SoftmaxActivation's modes."""
    shape = tuple(shape)
    if mode == "instance":
        return int(shape[0]), _prod(shape[1:]), 1
    if len(shape) < 3:
        raise ValueError(f"{label}: mode '{mode}' needs data of at least 3 dimensions, got {shape}")
    if mode == "channel":
        return int(shape[0]), int(shape[1]), _prod(shape[2:])
    if mode == "spatial":
        return int(shape[0]) * int(shape[1]), _prod(shape[2:]), 1
    raise ValueError(f"{label}: unknown mode {mode!r}")


def _reqs(outputs, reqs, shapes, names, fallback, label):
    """req codes, with None outputs (or 'null') replaced by a valid pointer that is not touched."""
    codes = [req_code(r, label) for r in reqs]
    outputs = list(outputs)
    for k, (out, shape) in enumerate(zip(outputs, shapes)):
        if out is None or codes[k] == REQ_NULL:
            codes[k] = REQ_NULL
            outputs[k] = fallback
        else:
            _check(out, shape, names[k], label)
    return outputs, codes


def append_layer_norm(Plan plan, x, gamma, beta, y, mean, std, int axis=-1, double eps=1e-5,
                      str req="write", str label="LayerNorm"):
    """Append y = (x - mean) / std * gamma + beta over `axis`, std = sqrt(var + eps);
    mean and std (x's shape with 1 on `axis`) are always written."""
    A, R, B = axis_view(x.shape, axis, label)
    _check(y, x.shape, "output", label)
    for what, array in (("gamma", gamma), ("beta", beta)):
        _check(array, (R,), what, label)
    for what, array in (("mean", mean), ("std", std)):
        if array.size != A * B:
            raise ValueError(f"{label}: {what} has shape {tuple(array.shape)}, expected {A * B} elements")
    arrays = [x, gamma, beta, y, mean, std]
    plan.add(layer_norm_kernel, common_dtype(arrays), arrays, [A, R, B, req_code(req, label)], [eps],
             label)


def append_layer_norm_backward(Plan plan, dy, x, gamma, mean, std, dx, dgamma, dbeta,
                               int axis=-1, str req_dx="write", str req_dgamma="write",
                               str req_dbeta="write", str label="_backward_LayerNorm"):
    """Append dx, dgamma, dbeta of LayerNorm from the forward's mean and std."""
    A, R, B = axis_view(x.shape, axis, label)
    _check(dy, x.shape, "output gradient", label)
    _check(gamma, (R,), "gamma", label)
    for what, array in (("mean", mean), ("std", std)):
        if array.size != A * B:
            raise ValueError(f"{label}: {what} has shape {tuple(array.shape)}, expected {A * B} elements")
    outputs, codes = _reqs([dx, dgamma, dbeta], [req_dx, req_dgamma, req_dbeta],
                           [x.shape, (R,), (R,)], ["data gradient", "gamma gradient",
                                                  "beta gradient"], dy, label)
    arrays = [dy, x, gamma, mean, std] + outputs
    plan.add(layer_norm_backward_kernel, common_dtype(arrays), arrays, [A, R, B] + codes, [],
             label)


def _instance_layout(x, label):
    if x.ndim < 3:
        raise ValueError(f"{label}: InstanceNorm needs data of at least 3 dimensions, got shape "
                         f"{tuple(x.shape)}")
    return int(x.shape[0]), int(x.shape[1]), _prod(x.shape[2:])


def append_instance_norm(Plan plan, x, gamma, beta, y, mean, var, double eps=1e-3,
                         str req="write", str label="InstanceNorm"):
    """Append y = gamma * (x - mean) / sqrt(var + eps) + beta per (sample, channel);
    mean and var, shape (N, C), are always written."""
    N, C, S = _instance_layout(x, label)
    _check(y, x.shape, "output", label)
    for what, array in (("gamma", gamma), ("beta", beta)):
        _check(array, (C,), what, label)
    for what, array in (("mean", mean), ("var", var)):
        _check(array, (N, C), what, label)
    arrays = [x, gamma, beta, y, mean, var]
    plan.add(instance_norm_kernel, common_dtype(arrays), arrays, [N, C, S, req_code(req, label)], [eps],
             label)


def append_instance_norm_backward(Plan plan, dy, x, gamma, mean, var, dx, dgamma, dbeta,
                                  double eps=1e-3, str req_dx="write", str req_dgamma="write",
                                  str req_dbeta="write", str label="_backward_InstanceNorm"):
    """Append dx, dgamma, dbeta of InstanceNorm from the forward's mean and var."""
    N, C, S = _instance_layout(x, label)
    _check(dy, x.shape, "output gradient", label)
    _check(gamma, (C,), "gamma", label)
    for what, array in (("mean", mean), ("var", var)):
        _check(array, (N, C), what, label)
    outputs, codes = _reqs([dx, dgamma, dbeta], [req_dx, req_dgamma, req_dbeta],
                           [x.shape, (C,), (C,)], ["data gradient", "gamma gradient",
                                                  "beta gradient"], dy, label)
    arrays = [dy, x, gamma, mean, var] + outputs
    plan.add(instance_norm_backward_kernel, common_dtype(arrays), arrays, [N, C, S] + codes,
             [eps], label)


def append_l2_normalization(Plan plan, x, y, norm, str mode="instance", double eps=1e-10,
                            str req="write", str label="L2Normalization"):
    """Append y = x / norm, norm = sqrt(sum(x ** 2) + eps) per instance, per position across
    channels ('channel') or per channel ('spatial'); norm is always written."""
    A, R, B = mode_view(x.shape, mode, label)
    _check(y, x.shape, "output", label)
    if norm.size != A * B:
        raise ValueError(f"{label}: norm has shape {tuple(norm.shape)}, expected {A * B} elements")
    arrays = [x, y, norm]
    plan.add(l2_normalize_kernel, common_dtype(arrays), arrays, [A, R, B, req_code(req, label)], [eps],
             label)


def append_l2_normalization_backward(Plan plan, dy, y, norm, dx, str mode="instance",
                                     str req="write", str label="_backward_L2Normalization"):
    """Append dx = (dy - y * sum(dy * y)) / norm (from the forward's output and norm)."""
    A, R, B = mode_view(y.shape, mode, label)
    _check(dy, y.shape, "output gradient", label)
    if norm.size != A * B:
        raise ValueError(f"{label}: norm has shape {tuple(norm.shape)}, expected {A * B} elements")
    if dx is None or req == "null":
        return
    _check(dx, y.shape, "data gradient", label)
    arrays = [dy, y, norm, dx]
    plan.add(l2_normalize_backward_kernel, common_dtype(arrays), arrays,
             [A, R, B, req_code(req, label)], [], label)


def append_softmax_activation(Plan plan, x, y, str mode="instance", str req="write",
                              str label="SoftmaxActivation"):
    """Append y = softmax(x) over all but the first axis ('instance') or over axis 1 ('channel')."""
    if mode == "spatial":
        raise ValueError(f"{label}: mode must be 'instance' or 'channel'")
    A, R, B = mode_view(x.shape, mode, label)
    _check(y, x.shape, "output", label)
    append_softmax(plan, x.reshape(A, R, B), y.reshape(A, R, B), axis=1, req=req, label=label)


def append_softmax_activation_backward(Plan plan, dy, y, dx, str mode="instance",
                                       str req="write", str label="_backward_SoftmaxActivation"):
    """Append dx = y * (dy - sum(dy * y)) over the softmax's axes."""
    A, R, B = mode_view(y.shape, mode, label)
    _check(dy, y.shape, "output gradient", label)
    if dx is None or req == "null":
        return
    _check(dx, y.shape, "data gradient", label)
    view = (A, R, B)
    append_softmax_backward(plan, dy.reshape(view), y.reshape(view), dx.reshape(view), axis=1, req=req,
                            label=label)


def _lrn_layout(x, nsize, label):
    if x.ndim != 4:
        raise ValueError(f"{label}: LRN needs 4-D data (N, C, H, W), got shape {tuple(x.shape)}")
    if nsize < 1 or nsize % 2 == 0:
        raise ValueError(f"{label}: nsize={nsize}: LRN only supports odd window sizes")
    return int(x.shape[0]), int(x.shape[1]), int(x.shape[2]) * int(x.shape[3])


def append_lrn(Plan plan, x, y, tmp_norm, int nsize, double alpha=1e-4, double beta=0.75,
               double knorm=2.0, str req="write", str label="LRN"):
    """Append tmp_norm = knorm + alpha / nsize * (sum of x**2 over nsize channels around c)
    and y = x * tmp_norm ** -beta; tmp_norm is always written."""
    N, C, S = _lrn_layout(x, nsize, label)
    _check(y, x.shape, "output", label)
    _check(tmp_norm, x.shape, "tmp_norm", label)
    arrays = [x, y, tmp_norm]
    plan.add(lrn_kernel, common_dtype(arrays), arrays, [N, C, S, nsize, req_code(req, label)],
             [alpha, beta, knorm], label)


def lrn_workspace_bytes(shape, itemsize):
    """Scratch for the LRN backward: one sample's C * H * W values."""
    return _prod(shape[1:]) * itemsize


def append_lrn_backward(Plan plan, dy, x, tmp_norm, dx, int nsize, double alpha=1e-4,
                        double beta=0.75, workspace=None, str req="write",
                        str label="_backward_LRN"):
    """Append dx of LRN from the data and the forward's tmp_norm."""
    N, C, S = _lrn_layout(x, nsize, label)
    _check(dy, x.shape, "output gradient", label)
    _check(tmp_norm, x.shape, "tmp_norm", label)
    if dx is None or req == "null":
        return
    _check(dx, x.shape, "data gradient", label)
    size = C * S
    dtype = np.dtype(x.dtype)
    if workspace is not None and workspace.dtype == np.uint8 and workspace.nbytes >= size * dtype.itemsize:
        scratch = workspace[:size * dtype.itemsize].view(dtype)
    else:
        scratch = np.empty(max(size, 1), dtype)
    arrays = [dy, x, tmp_norm, dx, scratch]
    plan.add(lrn_backward_kernel, common_dtype(arrays), arrays, [N, C, S, nsize, req_code(req, label)],
             [alpha, beta], label)


def _upsample_shapes(x, y, offset, label):
    if x.ndim != 4 or y.ndim != 4:
        raise ValueError(f"{label}: UpSampling needs 4-D data (N, C, H, W), got shapes "
                         f"{tuple(x.shape)} and {tuple(y.shape)}")
    N, C, H, W = (int(v) for v in x.shape)
    Cout, Ho, Wo = int(y.shape[1]), int(y.shape[2]), int(y.shape[3])
    if y.shape[0] != N or Ho % H or Wo % W or offset < 0 or offset + C > Cout:
        raise ValueError(f"{label}: input {tuple(x.shape)} does not upsample into channels "
                         f"[{offset}, {offset + C}) of output {tuple(y.shape)}")
    return [N, C, H, W, Cout, offset, Ho // H, Wo // W]


def append_upsampling(Plan plan, x, y, int offset=0, str req="write", str label="UpSampling"):
    """Append y[:, offset:offset + C] (+)= x repeated (Ho / H) times along H and (Wo / W)
    times along W."""
    ints = _upsample_shapes(x, y, offset, label)
    arrays = [x, y]
    plan.add(upsample_kernel, common_dtype(arrays), arrays, ints + [req_code(req, label)], [], label)


def append_upsampling_backward(Plan plan, dy, dx, int offset=0, str req="write",
                               str label="_backward_UpSampling"):
    """Append dx (+)= dy[:, offset:offset + C] summed over each (Ho / H, Wo / W) block."""
    if dx is None or req == "null":
        return
    ints = _upsample_shapes(dx, dy, offset, label)
    arrays = [dy, dx]
    plan.add(upsample_backward_kernel, common_dtype(arrays), arrays, ints + [req_code(req, label)], [],
             label)
