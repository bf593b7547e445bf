"""BatchNorm forward and one-pass backward (dX, dgamma, dbeta), over any channel axis, with
an optional fused ReLU (_contrib_BatchNormWithReLU); GroupNorm forward and backward.

BatchNorm's data is viewed as (outer, C, inner) around the channel axis.  Per-channel sums
accumulate in double for both dtypes.  As MXNet 1.x does, the moving statistics are updated
by the *backward* kernel of a training pass (moving = momentum * moving + (1 - momentum) *
batch, with the biased 1/m variance); the forward only reads them.
"""
from libc.math cimport sqrt
import numpy as np
from cython.parallel cimport prange

from cysym._ops cimport threads
from cysym._ops._blas cimport real
from cysym._ops._math cimport (_moments, _mean_and_variance, _sum_and_products,
                               _masked_sum_and_products)
from cysym._ops._common cimport common_dtype, store, REQ_NULL, REQ_WRITE, REQ_ADD, req_code
from cysym._ops.runner cimport Plan, KernelCall, RunContext
from cysym._ops.shape import axis_layout


cdef inline void _scale_shift(const real* x, real* y, Py_ssize_t n, double scale, double shift,
                              int req) noexcept nogil:
    """y (=|+=) x * scale + shift"""
    cdef Py_ssize_t i
    if req == REQ_ADD:
        for i in range(n):
            y[i] += <real>(x[i] * scale + shift)
    else:
        for i in range(n):
            y[i] = <real>(x[i] * scale + shift)


cdef inline void _data_grad(const real* dy, const real* x, real* dx, Py_ssize_t n, double a,
                            double b, double shift, int req) noexcept nogil:
    """dx (=|+=) a * dy + b * x + shift: a normalization's data gradient, once its sums are known"""
    cdef Py_ssize_t i
    if req == REQ_ADD:
        for i in range(n):
            dx[i] += <real>(a * dy[i] + b * x[i] + shift)
    else:
        for i in range(n):
            dx[i] = <real>(a * dy[i] + b * x[i] + shift)


cdef inline void _masked_data_grad(const real* dy, const real* y, const real* x, real* dx,
                                   Py_ssize_t n, double a, double b, double shift,
                                   int req) noexcept nogil:
    """_data_grad of dy masked by y > 0 (the gradient through a ReLU whose output is y)"""
    cdef Py_ssize_t i
    cdef real masked
    if req == REQ_ADD:
        for i in range(n):
            masked = dy[i] if y[i] > 0 else <real>0
            dx[i] += <real>(a * masked + b * x[i] + shift)
    else:
        for i in range(n):
            masked = dy[i] if y[i] > 0 else <real>0
            dx[i] = <real>(a * masked + b * x[i] + shift)


cdef void _bn_forward(const real* x, const real* gamma, const real* beta,
                      const real* moving_mean, const real* moving_var,
                      real* y, real* mean, real* var,
                      Py_ssize_t outer, Py_ssize_t C, Py_ssize_t inner,
                      bint fix_gamma, bint batch_stats, bint relu, int req,
                      double eps, Py_ssize_t c0, Py_ssize_t c1) noexcept nogil:
    # channels c0..c1
    cdef Py_ssize_t o, c, i
    cdef Py_ssize_t count = outer * inner
    cdef double pivot, total, squares, mu, sigma2, scale, shift
    cdef real value
    cdef const real* xp
    cdef real* yp
    for c in range(c0, c1):
        if batch_stats:
            # one pass: the sums of x - pivot and of its squares, pivot one of the channel's
            # values (three passes took 3.6x a copy of the data; now two)
            mu = 0
            sigma2 = 0
            if count:
                pivot = x[c * inner]
                total = 0
                squares = 0
                for o in range(outer):
                    _moments(x + (o * C + c) * inner, pivot, inner, &total, &squares)
                _mean_and_variance(pivot, total, squares, count, &mu, &sigma2)
        else:
            mu = moving_mean[c]
            sigma2 = moving_var[c]
        mean[c] = <real>mu
        var[c] = <real>sigma2
        if req == REQ_NULL:
            continue
        # y = (x - mu) / sqrt(var + eps) * gamma + beta  ==  x * scale + shift
        scale = 1.0 / sqrt(sigma2 + eps)
        if not fix_gamma:
            scale *= gamma[c]
        shift = beta[c] - mu * scale
        for o in range(outer):
            xp = x + (o * C + c) * inner
            yp = y + (o * C + c) * inner
            if relu:
                # y = max(x * scale + shift, 0)
                for i in range(inner):
                    value = <real>(xp[i] * scale + shift)
                    value = value if value > 0 else <real>0
                    yp[i] = yp[i] + value if req == REQ_ADD else value
            else:
                _scale_shift(xp, yp, inner, scale, shift, req)


cdef void bn_forward_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    # arrays: x, gamma, beta, moving_mean, moving_var, y, mean, var
    # ints: outer, C, inner, fix_gamma, use_global_stats, req, relu; floats: eps
    if c.dtype == 0:
        _bn_forward_split(<float*>c.arrays[0], c, ctx)
    else:
        _bn_forward_split(<double*>c.arrays[0], c, ctx)


cdef void _bn_forward_split(const real* x, KernelCall* c, RunContext* ctx) noexcept nogil:
    # channels are independent: split over the kernel threads
    cdef bint batch_stats = ctx.is_train and not c.ints[4]
    cdef Py_ssize_t C = c.ints[1]
    cdef int part
    cdef int parts = threads.parts_for(3.0 * c.ints[0] * C * c.ints[2])
    if parts == 1:
        _bn_forward(x, <real*>c.arrays[1], <real*>c.arrays[2], <real*>c.arrays[3],
                    <real*>c.arrays[4], <real*>c.arrays[5], <real*>c.arrays[6],
                    <real*>c.arrays[7], c.ints[0], C, c.ints[2], <bint>c.ints[3], batch_stats,
                    <bint>c.ints[6], <int>c.ints[5], c.floats[0], 0, C)
        return
    for part in prange(parts, num_threads=parts, schedule="static"):
        _bn_forward(x, <real*>c.arrays[1], <real*>c.arrays[2], <real*>c.arrays[3],
                    <real*>c.arrays[4], <real*>c.arrays[5], <real*>c.arrays[6],
                    <real*>c.arrays[7], c.ints[0], C, c.ints[2], <bint>c.ints[3], batch_stats,
                    <bint>c.ints[6], <int>c.ints[5], c.floats[0],
                    threads.split_point(C, parts, part, 1), threads.split_point(C, parts, part + 1, 1))


cdef void _bn_backward(const real* dy, const real* x, const real* gamma,
                       const real* mean, const real* var, real* moving_mean, real* moving_var,
                       real* dx, real* dgamma, real* dbeta, const real* y,
                       Py_ssize_t outer, Py_ssize_t C, Py_ssize_t inner,
                       bint fix_gamma, bint batch_stats, int req_dx, int req_dg, int req_db,
                       double eps, double momentum, Py_ssize_t c0, Py_ssize_t c1) noexcept nogil:
    # channels c0..c1; y: the output of a fused ReLU (dy is then masked by y > 0 as it is read:
    # a separate masking pass wrote and read back a copy of dy), or NULL
    cdef Py_ssize_t o, c, at
    cdef Py_ssize_t count = outer * inner
    cdef double mu, invstd, g, sum_dy, sum_dy_xhat, a, b, k, shift
    for c in range(c0, c1):
        mu = mean[c]
        invstd = 1.0 / sqrt(<double>var[c] + eps)
        g = 1.0 if fix_gamma else <double>gamma[c]
        # sum_dy = dy.sum();  sum_dy_xhat = (dy * (x - mu)).sum() * invstd
        sum_dy = 0
        sum_dy_xhat = 0
        for o in range(outer):
            at = (o * C + c) * inner
            if y != NULL:
                _masked_sum_and_products(dy + at, x + at, mu, y + at, inner, &sum_dy, &sum_dy_xhat)
            else:
                _sum_and_products(dy + at, x + at, mu, inner, &sum_dy, &sum_dy_xhat)
        sum_dy_xhat *= invstd
        store(dbeta, c, sum_dy, req_db)
        store(dgamma, c, 0.0 if fix_gamma else sum_dy_xhat, req_dg)
        if req_dx != REQ_NULL:
            if batch_stats and count:
                # dx = g * invstd * (dy - sum_dy / m - xhat * sum_dy_xhat / m)
                k = g * invstd
                a = k
                b = -k * invstd * sum_dy_xhat / count
                # dx = a * dy + b * (x - mu) - k * sum_dy / m
                shift = -b * mu - k * sum_dy / count
            else:
                # statistics are constants: dx = g * invstd * dy
                a = g * invstd
                b = 0
                shift = 0
            for o in range(outer):
                at = (o * C + c) * inner
                if y != NULL:
                    _masked_data_grad(dy + at, y + at, x + at, dx + at, inner, a, b, shift, req_dx)
                else:
                    _data_grad(dy + at, x + at, dx + at, inner, a, b, shift, req_dx)
        if batch_stats:
            moving_mean[c] = <real>(moving_mean[c] * momentum + mu * (1.0 - momentum))
            moving_var[c] = <real>(moving_var[c] * momentum + <double>var[c] * (1.0 - momentum))


cdef void bn_backward_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    # arrays: dy, x, gamma, mean, var, moving_mean, moving_var, dx, dgamma, dbeta, then a fused
    # ReLU's output (or dy); ints: outer, C, inner, fix_gamma, use_global_stats, req_dx,
    # req_dgamma, req_dbeta, relu; floats: eps, momentum
    if c.dtype == 0:
        _bn_backward_split(<float*>c.arrays[0], c, ctx)
    else:
        _bn_backward_split(<double*>c.arrays[0], c, ctx)


cdef void _bn_backward_split(const real* dy, KernelCall* c, RunContext* ctx) noexcept nogil:
    # channels are independent: split over the kernel threads
    cdef bint batch_stats = ctx.is_train and not c.ints[4]
    cdef Py_ssize_t C = c.ints[1]
    cdef const real* y = <real*>c.arrays[10] if c.ints[8] else NULL
    cdef int part
    cdef int parts = threads.parts_for(4.0 * c.ints[0] * C * c.ints[2])
    if parts == 1:
        _bn_backward(dy, <real*>c.arrays[1], <real*>c.arrays[2], <real*>c.arrays[3],
                     <real*>c.arrays[4], <real*>c.arrays[5], <real*>c.arrays[6],
                     <real*>c.arrays[7], <real*>c.arrays[8], <real*>c.arrays[9], y, c.ints[0], C,
                     c.ints[2], <bint>c.ints[3], batch_stats, <int>c.ints[5], <int>c.ints[6],
                     <int>c.ints[7], c.floats[0], c.floats[1], 0, C)
        return
    for part in prange(parts, num_threads=parts, schedule="static"):
        _bn_backward(dy, <real*>c.arrays[1], <real*>c.arrays[2], <real*>c.arrays[3],
                     <real*>c.arrays[4], <real*>c.arrays[5], <real*>c.arrays[6],
                     <real*>c.arrays[7], <real*>c.arrays[8], <real*>c.arrays[9], y, c.ints[0], C,
                     c.ints[2], <bint>c.ints[3], batch_stats, <int>c.ints[5], <int>c.ints[6],
                     <int>c.ints[7], c.floats[0], c.floats[1],
                     threads.split_point(C, parts, part, 1), threads.split_point(C, parts, part + 1, 1))


# ---------------------------------------------------------------------------------------
# GroupNorm: data (N, C, ...) viewed as N * G rows of M = (C / G) * spatial contiguous values,
# row n * G + g normalised on its own and scaled by gamma[g], shifted by beta[g]

cdef void _group_norm(const real* x, const real* gamma, const real* beta, real* y, real* mean,
                      real* std, Py_ssize_t N, Py_ssize_t G, Py_ssize_t M, double eps,
                      int req) noexcept nogil:
    cdef Py_ssize_t n, g, row
    cdef double total, squares, mu, sigma2, sigma, scale, shift
    cdef const real* xp
    cdef real* yp
    for n in range(N):
        for g in range(G):
            row = n * G + g
            xp = x + row * M
            yp = y + row * M
            mu = 0
            sigma2 = 0
            if M:
                total = 0
                squares = 0
                _moments(xp, xp[0], M, &total, &squares)
                _mean_and_variance(xp[0], total, squares, M, &mu, &sigma2)
            sigma = sqrt(sigma2 + eps)
            mean[row] = <real>mu
            std[row] = <real>sigma
            if req == REQ_NULL:
                continue
            # y = (x - mu) / sigma * gamma + beta  ==  x * scale + shift
            scale = gamma[g] / sigma
            shift = beta[g] - mu * scale
            _scale_shift(xp, yp, M, scale, shift, req)


cdef void group_norm_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    # arrays: x, gamma, beta, y, mean, std; ints: N, G, M, req; floats: eps
    if c.dtype == 0:
        _group_norm(<float*>c.arrays[0], <float*>c.arrays[1], <float*>c.arrays[2],
                    <float*>c.arrays[3], <float*>c.arrays[4], <float*>c.arrays[5], c.ints[0],
                    c.ints[1], c.ints[2], c.floats[0], <int>c.ints[3])
    else:
        _group_norm(<double*>c.arrays[0], <double*>c.arrays[1], <double*>c.arrays[2],
                    <double*>c.arrays[3], <double*>c.arrays[4], <double*>c.arrays[5], c.ints[0],
                    c.ints[1], c.ints[2], c.floats[0], <int>c.ints[3])


cdef void _group_norm_backward(const real* dy, const real* x, const real* gamma,
                               const real* mean, const real* std, real* dx, real* dgamma,
                               real* dbeta, Py_ssize_t N, Py_ssize_t G, Py_ssize_t M,
                               int req_dx, int req_dg, int req_db) noexcept nogil:
    cdef Py_ssize_t n, g, row
    cdef double mu, sigma, sum_dy, sum_dy_xhat, a, b, shift, total_dg, total_db
    cdef const real* xp
    cdef const real* dyp
    for g in range(G):
        total_dg = 0
        total_db = 0
        for n in range(N):
            row = n * G + g
            xp = x + row * M
            dyp = dy + row * M
            mu = mean[row]
            sigma = std[row]
            # sum_dy = dy.sum();  sum_dy_xhat = (dy * xhat).sum(), xhat = (x - mu) / sigma
            sum_dy = 0
            sum_dy_xhat = 0
            _sum_and_products(dyp, xp, mu, M, &sum_dy, &sum_dy_xhat)
            sum_dy_xhat /= sigma
            total_db += sum_dy
            total_dg += sum_dy_xhat
            if req_dx == REQ_NULL or not M:
                continue
            # w = dy * gamma / sigma;  dx = w - mean(w) - xhat * mean(w * xhat)
            #    = a * dy + b * x + shift
            a = gamma[g] / sigma
            b = -a * sum_dy_xhat / (M * sigma)
            shift = -a * sum_dy / M - b * mu
            _data_grad(dyp, xp, dx + row * M, M, a, b, shift, req_dx)
        store(dgamma, g, total_dg, req_dg)
        store(dbeta, g, total_db, req_db)


cdef void group_norm_backward_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    # arrays: dy, x, gamma, mean, std, dx, dgamma, dbeta
    # ints: N, G, M, req_dx, req_dgamma, req_dbeta
    if c.dtype == 0:
        _group_norm_backward(<float*>c.arrays[0], <float*>c.arrays[1], <float*>c.arrays[2],
                             <float*>c.arrays[3], <float*>c.arrays[4], <float*>c.arrays[5],
                             <float*>c.arrays[6], <float*>c.arrays[7], c.ints[0], c.ints[1],
                             c.ints[2], <int>c.ints[3], <int>c.ints[4], <int>c.ints[5])
    else:
        _group_norm_backward(<double*>c.arrays[0], <double*>c.arrays[1], <double*>c.arrays[2],
                             <double*>c.arrays[3], <double*>c.arrays[4], <double*>c.arrays[5],
                             <double*>c.arrays[6], <double*>c.arrays[7], c.ints[0], c.ints[1],
                             c.ints[2], <int>c.ints[3], <int>c.ints[4], <int>c.ints[5])


# ---------------------------------------------------------------------------------------
# append_ functions (bind time, with the GIL): shapes are checked, pointers stored

def _layout(x, axis, label):
    """(outer, C, inner) around the channel axis."""
    ndim = x.ndim
    if ndim < 1:
        raise ValueError(f"{label}: data must have at least one dimension, got shape {x.shape}")
    if not -ndim <= axis < ndim:
        raise ValueError(f"{label}: axis={axis} is out of range for data of shape {x.shape}")
    return axis_layout(x.shape, axis % ndim)


def _check(array, shape, what, label):
    if tuple(array.shape) != tuple(shape):
        raise ValueError(f"{label}: {what} has shape {tuple(array.shape)}, expected {tuple(shape)}")


def append_batch_norm(Plan plan, x, gamma, beta, moving_mean, moving_var, y, mean, var,
                      double eps=1e-3, bint fix_gamma=True, bint use_global_stats=False,
                      int axis=1, bint relu=False, str req="write", str label="BatchNorm"):
    """Append y = (x - mean) / sqrt(var + eps) * gamma + beta over channel `axis` (followed
    by max(y, 0) with relu).

    In a training run (plan.run(is_train=True)) without use_global_stats, mean/var are the
    batch statistics (biased variance) and are written to `mean`/`var`; otherwise the moving
    statistics are used (and copied to `mean`/`var`)."""
    outer, C, inner = _layout(x, axis, label)
    _check(y, x.shape, "output", label)
    for what, array in (("gamma", gamma), ("beta", beta), ("moving_mean", moving_mean),
                        ("moving_var", moving_var), ("mean", mean), ("var", var)):
        _check(array, (C,), what, label)
    arrays = [x, gamma, beta, moving_mean, moving_var, y, mean, var]
    plan.add(bn_forward_kernel, common_dtype(arrays), arrays,
             [outer, C, inner, fix_gamma, use_global_stats, req_code(req, label), relu], [eps],
             label)


# BatchNorm with its moving statistics after a convolution, fused at bind time
# (cysym/fusion.py): BatchNorm(conv + b) = conv * scale + (b * scale + shift) per channel, the
# scale and shift recomputed from the live arrays at every run, applied by the convolution's
# output loop.

cdef void _batch_norm_affine(const real* b, const real* gamma, const real* beta,
                             const real* moving_mean, const real* moving_var, real* scale_out,
                             real* shift_out, Py_ssize_t C, bint fix_gamma,
                             double eps) noexcept nogil:
    cdef Py_ssize_t c
    cdef double scale
    for c in range(C):
        scale = 1.0 / sqrt(<double>moving_var[c] + eps)
        if not fix_gamma:
            scale *= gamma[c]
        scale_out[c] = <real>scale
        shift_out[c] = <real>((b[c] if b != NULL else 0.0) * scale + beta[c]
                              - moving_mean[c] * scale)


cdef void batch_norm_affine_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    # arrays: b (gamma when absent), gamma, beta, moving_mean, moving_var, scale, shift;
    # ints: C, has_bias, fix_gamma; floats: eps
    if c.dtype == 0:
        _batch_norm_affine(<float*>c.arrays[0] if c.ints[1] else NULL, <float*>c.arrays[1],
                           <float*>c.arrays[2], <float*>c.arrays[3], <float*>c.arrays[4],
                           <float*>c.arrays[5], <float*>c.arrays[6], c.ints[0], <bint>c.ints[2],
                           c.floats[0])
    else:
        _batch_norm_affine(<double*>c.arrays[0] if c.ints[1] else NULL, <double*>c.arrays[1],
                           <double*>c.arrays[2], <double*>c.arrays[3], <double*>c.arrays[4],
                           <double*>c.arrays[5], <double*>c.arrays[6], c.ints[0],
                           <bint>c.ints[2], c.floats[0])


def append_batch_norm_affine(Plan plan, b, gamma, beta, moving_mean, moving_var, scale, shift,
                             double eps=1e-3, bint fix_gamma=True, str label="BatchNorm"):
    """Append scale = gamma / sqrt(moving_var + eps) (gamma 1 with fix_gamma) and
    shift = b * scale + beta - moving_mean * scale (b may be None: zero), per channel: the
    inference BatchNorm of (y + b) is y * scale + shift."""
    channels = (gamma.shape[0],) if gamma.ndim == 1 else None
    for what, array in (("bias", b), ("gamma", gamma), ("beta", beta), ("moving_mean", moving_mean),
                        ("moving_var", moving_var), ("scale", scale), ("shift", shift)):
        if array is not None:
            _check(array, channels or (-1,), what, label)
    arrays = [gamma if b is None else b, gamma, beta, moving_mean, moving_var, scale, shift]
    plan.add(batch_norm_affine_kernel, common_dtype(arrays), arrays,
             [gamma.shape[0], b is not None, fix_gamma], [eps], label)


def _gradients(dy, outputs, shapes, reqs, str label):
    """The (data, gamma, beta) gradient arrays and Req codes of a backward kernel, checked: an
    absent output or a 'null' request gets REQ_NULL and dy as a stand-in the kernel does not
    touch."""
    codes = [req_code(r, label) for r in reqs]
    arrays = list(outputs)
    for k, (out, shape) in enumerate(zip(arrays, shapes)):
        if out is None or codes[k] == REQ_NULL:
            codes[k] = REQ_NULL
            arrays[k] = dy
        else:
            _check(out, shape, ("data", "gamma", "beta")[k] + " gradient", label)
    return arrays, codes


def append_batch_norm_backward(Plan plan, dy, x, gamma, mean, var, moving_mean, moving_var,
                               dx, dgamma, dbeta, double eps=1e-3, double momentum=0.9,
                               bint fix_gamma=True, bint use_global_stats=False, int axis=1,
                               relu_output=None,
                               str req_dx="write", str req_dgamma="write", str req_dbeta="write",
                               str label="_backward_BatchNorm"):
    """Append dx, dgamma, dbeta from the forward's saved mean/var; in a training run without
    use_global_stats, also update moving_mean/moving_var in place (MXNet updates them here).

    relu_output: the output of a BatchNorm fused with a ReLU; dy then passes through the ReLU
    (is taken only where relu_output > 0)."""
    outer, C, inner = _layout(x, axis, label)
    _check(dy, x.shape, "output gradient", label)
    if relu_output is not None:
        _check(relu_output, x.shape, "output", label)
    for what, array in (("gamma", gamma), ("mean", mean), ("var", var),
                        ("moving_mean", moving_mean), ("moving_var", moving_var)):
        _check(array, (C,), what, label)
    outputs, reqs = _gradients(dy, (dx, dgamma, dbeta), (x.shape, (C,), (C,)),
                               (req_dx, req_dgamma, req_dbeta), label)
    arrays = [dy, x, gamma, mean, var, moving_mean, moving_var] + outputs
    arrays.append(dy if relu_output is None else relu_output)
    plan.add(bn_backward_kernel, common_dtype(arrays), arrays,
             [outer, C, inner, fix_gamma, use_global_stats] + reqs + [relu_output is not None],
             [eps, momentum], label)


def _group_layout(x, gamma, int num_groups, label):
    """(N, G, M): N * G rows of M values."""
    if x.ndim < 3:
        raise ValueError(f"{label}: data must have at least 3 dimensions (N, C, ...), got "
                         f"shape {x.shape}")
    N, C = int(x.shape[0]), int(x.shape[1])
    if num_groups < 1 or C % num_groups:
        raise ValueError(f"{label}: num_groups={num_groups} does not divide the {C} channels "
                         f"of data {x.shape}")
    _check(gamma, (num_groups,), "gamma", label)
    return N, num_groups, x.size // (N * num_groups) if N else 0


def append_group_norm(Plan plan, x, gamma, beta, y, mean, std, int num_groups, double eps=1e-5,
                      str req="write", str label="GroupNorm"):
    """Append y = (x - mean) / std * gamma + beta per group of C / num_groups channels of each
    sample; mean and std = sqrt(var + eps) are written as (N, num_groups)."""
    N, G, M = _group_layout(x, gamma, num_groups, label)
    _check(beta, (G,), "beta", label)
    _check(y, x.shape, "output", label)
    _check(mean, (N, G), "mean", label)
    _check(std, (N, G), "std", label)
    arrays = [x, gamma, beta, y, mean, std]
    plan.add(group_norm_kernel, common_dtype(arrays), arrays, [N, G, M, req_code(req, label)],
             [eps], label)


def append_group_norm_backward(Plan plan, dy, x, gamma, mean, std, dx, dgamma, dbeta,
                               int num_groups, str req_dx="write", str req_dgamma="write",
                               str req_dbeta="write", str label="_backward_GroupNorm"):
    """Append dx, dgamma, dbeta of GroupNorm from the forward's mean and std."""
    N, G, M = _group_layout(x, gamma, num_groups, label)
    _check(dy, x.shape, "output gradient", label)
    _check(mean, (N, G), "mean", label)
    _check(std, (N, G), "std", label)
    outputs, reqs = _gradients(dy, (dx, dgamma, dbeta), (x.shape, (G,), (G,)),
                               (req_dx, req_dgamma, req_dbeta), label)
    arrays = [dy, x, gamma, mean, std] + outputs
    plan.add(group_norm_backward_kernel, common_dtype(arrays), arrays, [N, G, M] + reqs, [], label)
