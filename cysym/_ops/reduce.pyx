"""Reductions (sum, mean, max, min, prod, nansum, nanprod, sum of squares, L1 and L2 norms,
forward and backward), moments, cumulative sums and matrix products (dot, batch_dot).

A reduction walks its input in memory order and sends every element to the output offset
given by per-axis output strides (0 along reduced axes); `coalesce` first merges runs of
reduced or kept axes, so the common cases are one tight inner loop.
"""
from libc.math cimport INFINITY, NAN, sqrt
from cysym._ops._blas cimport real, gemm
from cysym._ops._math cimport _sum
from cysym._ops._common cimport common_dtype, REQ_NULL, REQ_WRITE, REQ_ADD, step_index, req_code
from cysym._ops.runner cimport Plan, KernelCall, RunContext

import numpy as np
from cysym._ops.shape import coalesce, c_strides

cdef enum:
    MAX_DIMS = 32
    KIND_SUM = 0
    KIND_MEAN = 1
    KIND_MAX = 2
    KIND_MIN = 3
    KIND_PROD = 4
    KIND_NANSUM = 5
    KIND_NANPROD = 6
    KIND_SQUARE_SUM = 7
    KIND_NORM1 = 8
    KIND_NORM2 = 9

KINDS = {"sum": KIND_SUM, "mean": KIND_MEAN, "max": KIND_MAX, "min": KIND_MIN, "prod": KIND_PROD,
         "nansum": KIND_NANSUM, "nanprod": KIND_NANPROD, "square_sum": KIND_SQUARE_SUM,
         "norm1": KIND_NORM1, "norm2": KIND_NORM2}
# the reductions whose backward reads the forward output
READS_OUTPUT = frozenset(("max", "min", "prod", "nanprod", "norm2"))


# ---------------------------------------------------------------------------------------------
# reductions

cdef inline real _fold(int kind, real acc, real v) noexcept nogil:
    """acc combined with v by the reductions other than sum, mean, max and min (NaN is skipped
    by nansum and nanprod only)."""
    if kind == KIND_PROD:
        return acc * v
    elif kind == KIND_NANSUM:
        return acc + v if v == v else acc
    elif kind == KIND_NANPROD:
        return acc * v if v == v else acc
    elif kind == KIND_NORM1:
        return acc + (v if v >= 0 else -v)
    else:       # square_sum and norm2
        return acc + v * v

cdef void _reduce(KernelCall* c, real* dummy) noexcept nogil:
    # arrays: x, y; ints: kind, ndim, shape[ndim] (of x, coalesced), ostride[ndim]; floats: scale
    cdef int kind = <int>c.ints[0]
    cdef Py_ssize_t ndim = c.ints[1]
    cdef Py_ssize_t* shape = c.ints + 2
    cdef Py_ssize_t* ostride = c.ints + 2 + ndim
    cdef const real* x = <real*>c.arrays[0]
    cdef real* y = <real*>c.arrays[1]
    cdef Py_ssize_t n_out = c.ints[2 + 2 * ndim]
    cdef Py_ssize_t idx[MAX_DIMS]
    cdef Py_ssize_t total = 1, d, j, n_inner = shape[ndim - 1], s = ostride[ndim - 1]
    cdef Py_ssize_t o = 0, i = 0, rows, r
    cdef real init, acc, v
    if kind == KIND_MAX:
        init = -INFINITY
    elif kind == KIND_MIN:
        init = INFINITY
    elif kind == KIND_PROD or kind == KIND_NANPROD:
        init = 1
    else:
        init = 0
    for j in range(n_out):
        y[j] = init
    for d in range(ndim):
        total *= shape[d]
        idx[d] = 0
    if total > 0:
        rows = total // n_inner
        for r in range(rows):
            if s == 0:
                # y[o] op= x[i:i + n_inner] reduced
                acc = y[o]
                if kind == KIND_MAX:
                    for j in range(n_inner):
                        v = x[i + j]
                        if v > acc or v != v:
                            acc = v
                elif kind == KIND_MIN:
                    for j in range(n_inner):
                        v = x[i + j]
                        if v < acc or v != v:
                            acc = v
                elif kind == KIND_SUM or kind == KIND_MEAN:
                    # in float64 partial sums: faster than one running sum, and exact enough
                    # for float32 rows of millions
                    acc = <real>(acc + _sum(x + i, n_inner))
                else:
                    for j in range(n_inner):
                        acc = _fold(kind, acc, x[i + j])
                y[o] = acc
            else:
                # y[o:o + n_inner] op= x[i:i + n_inner] elementwise (kept inner axis: s == 1)
                if kind == KIND_MAX:
                    for j in range(n_inner):
                        v = x[i + j]
                        if v > y[o + j] or v != v:
                            y[o + j] = v
                elif kind == KIND_MIN:
                    for j in range(n_inner):
                        v = x[i + j]
                        if v < y[o + j] or v != v:
                            y[o + j] = v
                elif kind == KIND_SUM or kind == KIND_MEAN:
                    for j in range(n_inner):
                        y[o + j] += x[i + j]
                else:
                    for j in range(n_inner):
                        y[o + j] = _fold(kind, y[o + j], x[i + j])
            i += n_inner
            step_index(idx, shape, ostride, ndim - 1, &o)
    if kind == KIND_MEAN:
        v = <real>c.floats[0]
        for j in range(n_out):
            y[j] *= v
    elif kind == KIND_NORM2:
        for j in range(n_out):
            y[j] = sqrt(y[j])


cdef void reduce_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    if c.dtype == 0:
        _reduce(c, <float*>NULL)
    else:
        _reduce(c, <double*>NULL)


cdef void _accumulate(KernelCall* c, real* dummy) noexcept nogil:
    # arrays: src, dst; ints: n.  dst += src
    cdef const real* src = <real*>c.arrays[0]
    cdef real* dst = <real*>c.arrays[1]
    cdef Py_ssize_t j
    for j in range(c.ints[0]):
        dst[j] += src[j]


cdef void accumulate_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    if c.dtype == 0:
        _accumulate(c, <float*>NULL)
    else:
        _accumulate(c, <double*>NULL)


cdef void _reduce_backward(KernelCall* c, real* dummy) noexcept nogil:
    # arrays: dy, x, y, dx; ints: kind, req, ndim, shape[ndim] (of x), ostride[ndim]; floats: scale
    cdef int kind = <int>c.ints[0], req = <int>c.ints[1]
    cdef Py_ssize_t ndim = c.ints[2]
    cdef Py_ssize_t* shape = c.ints + 3
    cdef Py_ssize_t* ostride = c.ints + 3 + ndim
    cdef const real* dy = <real*>c.arrays[0]
    cdef const real* x = <real*>c.arrays[1]
    cdef const real* y = <real*>c.arrays[2]
    cdef real* dx = <real*>c.arrays[3]
    cdef real scale = <real>c.floats[0]
    cdef Py_ssize_t idx[MAX_DIMS]
    cdef Py_ssize_t total = 1, d, j, n_inner = shape[ndim - 1], s = ostride[ndim - 1]
    cdef Py_ssize_t o = 0, i = 0, rows, r
    cdef real g, head, value, result
    for d in range(ndim):
        total *= shape[d]
        idx[d] = 0
    if total == 0:
        return
    rows = total // n_inner
    for r in range(rows):
        for j in range(n_inner):
            head = dy[o + j * s]
            value = x[i + j]
            result = y[o + j * s]
            if kind == KIND_SUM or kind == KIND_MEAN:
                # dx = broadcast(dy) * scale
                g = head * scale
            elif kind == KIND_MAX or kind == KIND_MIN:
                # dx = broadcast(dy) * (x == broadcast(y)): every tie gets the gradient, as MXNet
                g = head if value == result else <real>0
            # the others as MXNet's mshadow_op gradients: y / x for prod (NaN or inf where x
            # is 0, as MXNet's), 0 at NaN for the nan* reductions, x / y for the L2 norm
            elif kind == KIND_PROD:
                g = head * result / value
            elif kind == KIND_NANSUM:
                g = head if value == value else <real>0
            elif kind == KIND_NANPROD:
                g = head * result / value if value == value else <real>0
            elif kind == KIND_SQUARE_SUM:
                g = <real>2 * value * head
            elif kind == KIND_NORM1:
                g = head * <real>((value > 0) - (value < 0))
            else:
                g = head * value / result
            if req == REQ_ADD:
                dx[i + j] += g
            else:
                dx[i + j] = g
        i += n_inner
        step_index(idx, shape, ostride, ndim - 1, &o)


cdef void reduce_backward_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    if c.dtype == 0:
        _reduce_backward(c, <float*>NULL)
    else:
        _reduce_backward(c, <double*>NULL)


def reduce_axes(shape, axis=None, bint exclude=False, str label="reduce"):
    """The sorted axes a reduction removes, as MXNet: all when axis is None or empty."""
    ndim = len(shape)
    given = set()
    for a in (() if axis is None else (axis if isinstance(axis, (tuple, list)) else (axis,))):
        if not -ndim <= a < ndim:
            raise ValueError(f"{label}: axis {a} is out of range for input shape {tuple(shape)}")
        given.add(a + ndim if a < 0 else a)
    if exclude:
        return sorted(set(range(ndim)) - given)
    return sorted(given or range(ndim))


def _reduce_walk(x_shape, y, axes, str label):
    """Check y's size against the reduction of x_shape over axes; (shape, ostrides, count)."""
    kept = [d for k, d in enumerate(x_shape) if k not in axes]
    n_out = int(np.prod(kept, dtype=np.int64))
    if y.size != n_out:
        raise ValueError(f"{label}: output shape {y.shape} does not hold the reduction of "
                         f"{tuple(x_shape)} over axes {tuple(axes)} (shape {tuple(kept)})")
    kept_strides = c_strides(kept)
    ostrides, position = [], 0
    for k in range(len(x_shape)):
        if k in axes:
            ostrides.append(0)
        else:
            ostrides.append(kept_strides[position])
            position += 1
    count = int(np.prod([x_shape[k] for k in axes], dtype=np.int64))
    shape, strides = coalesce(x_shape, ostrides)
    return shape, strides, n_out, count


def append_reduce(Plan plan, str kind, x, y, axis=None, bint exclude=False, str req="write",
                  str label="reduce"):
    """y = np.<kind>(x, axis) with kind one of KINDS (y may keep dims of size 1): square_sum is
    sum(x ** 2), norm1 sum(|x|) and norm2 sqrt(sum(x ** 2))."""
    code = req_code(req, label)
    if kind not in KINDS:
        raise ValueError(f"{label}: unknown reduction {kind!r}")
    axes = reduce_axes(x.shape, axis, exclude, label)
    shape, strides, n_out, count = _reduce_walk(x.shape, y, axes, label)
    if code == REQ_NULL:
        return
    dtype = common_dtype([x, y])
    # mean over zero elements is NaN, as NumPy's
    scale = (1.0 / count) if count else NAN
    target = y if code == REQ_WRITE else np.empty_like(y)   # 'add': reduce aside, then add
    plan.add(reduce_kernel, dtype, [x, target],
             [KINDS[kind], len(shape)] + shape + strides + [n_out], [scale], label)
    if code == REQ_ADD:
        plan.add(accumulate_kernel, dtype, [target, y], [n_out], [], label)


def append_reduce_backward(Plan plan, str kind, out_grad, x, y, x_grad, axis=None,
                           bint exclude=False, str req="write", str label="_backward_reduce"):
    """x_grad = broadcast(out_grad) times the derivative of the reduction (1, 1 / count for
    mean, x == y for max and min, y / x for prod, ...; y is read for READS_OUTPUT only)."""
    code = req_code(req, label)
    if kind not in KINDS:
        raise ValueError(f"{label}: unknown reduction {kind!r}")
    if tuple(x_grad.shape) != tuple(x.shape):
        raise ValueError(f"{label}: gradient shape {x_grad.shape} differs from data shape {x.shape}")
    axes = reduce_axes(x.shape, axis, exclude, label)
    shape, strides, n_out, count = _reduce_walk(x.shape, out_grad, axes, label)
    if y is None:
        if kind in READS_OUTPUT:
            raise ValueError(f"{label}: the {kind} backward needs the forward output")
        y = out_grad     # not read
    elif y.size != n_out:
        raise ValueError(f"{label}: output shape {y.shape} differs from out_grad shape {out_grad.shape}")
    if code == REQ_NULL:
        return
    scale = (1.0 / count if count else NAN) if kind == "mean" else 1.0
    arrays = [out_grad, x, y, x_grad]
    plan.add(reduce_backward_kernel, common_dtype(arrays), arrays,
             [KINDS[kind], code, len(shape)] + shape + strides, [scale], label)


# ---------------------------------------------------------------------------------------------
# moments: mean and variance over axes, and their gradient

cdef void _moments(KernelCall* c, real* dummy) noexcept nogil:
    # arrays: x, mean, var; ints: ndim, shape[ndim] (of x, coalesced), ostride[ndim], n_out;
    # floats: 1 / count.  var = mean((x - mean) ** 2), in a second pass as MXNet's
    cdef Py_ssize_t ndim = c.ints[0]
    cdef Py_ssize_t* shape = c.ints + 1
    cdef Py_ssize_t* ostride = c.ints + 1 + ndim
    cdef Py_ssize_t n_out = c.ints[1 + 2 * ndim]
    cdef const real* x = <real*>c.arrays[0]
    cdef real* mean = <real*>c.arrays[1]
    cdef real* var = <real*>c.arrays[2]
    cdef real scale = <real>c.floats[0]
    cdef Py_ssize_t idx[MAX_DIMS]
    cdef Py_ssize_t total = 1, d, j, n_inner = shape[ndim - 1], s = ostride[ndim - 1]
    cdef Py_ssize_t o, i, rows, r
    cdef int sweep
    cdef real deviation
    for j in range(n_out):
        mean[j] = 0
        var[j] = 0
    for d in range(ndim):
        total *= shape[d]
    if total == 0:
        return
    rows = total // n_inner
    for sweep in range(2):
        o = 0
        i = 0
        for d in range(ndim):
            idx[d] = 0
        for r in range(rows):
            if sweep == 0:
                for j in range(n_inner):
                    mean[o + j * s] += x[i + j]
            else:
                for j in range(n_inner):
                    deviation = x[i + j] - mean[o + j * s]
                    var[o + j * s] += deviation * deviation
            i += n_inner
            step_index(idx, shape, ostride, ndim - 1, &o)
        for j in range(n_out):
            if sweep == 0:
                mean[j] *= scale
            else:
                var[j] *= scale


cdef void moments_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    if c.dtype == 0:
        _moments(c, <float*>NULL)
    else:
        _moments(c, <double*>NULL)


cdef void _moments_backward(KernelCall* c, real* dummy) noexcept nogil:
    # arrays: mean_grad, var_grad, x, mean, x_grad; ints: req, ndim, shape[ndim], ostride[ndim];
    # floats: 1 / count.  x_grad = (mean_grad + 2 var_grad (x - mean)) / count, broadcast
    cdef int req = <int>c.ints[0]
    cdef Py_ssize_t ndim = c.ints[1]
    cdef Py_ssize_t* shape = c.ints + 2
    cdef Py_ssize_t* ostride = c.ints + 2 + ndim
    cdef const real* mean_grad = <real*>c.arrays[0]
    cdef const real* var_grad = <real*>c.arrays[1]
    cdef const real* x = <real*>c.arrays[2]
    cdef const real* mean = <real*>c.arrays[3]
    cdef real* dx = <real*>c.arrays[4]
    cdef real scale = <real>c.floats[0]
    cdef Py_ssize_t idx[MAX_DIMS]
    cdef Py_ssize_t total = 1, d, j, n_inner = shape[ndim - 1], s = ostride[ndim - 1]
    cdef Py_ssize_t o = 0, i = 0, rows, r
    cdef real g
    for d in range(ndim):
        total *= shape[d]
        idx[d] = 0
    if total == 0:
        return
    rows = total // n_inner
    for r in range(rows):
        for j in range(n_inner):
            g = (mean_grad[o + j * s] + <real>2 * var_grad[o + j * s] * (x[i + j] - mean[o + j * s])) * scale
            if req == REQ_ADD:
                dx[i + j] += g
            else:
                dx[i + j] = g
        i += n_inner
        step_index(idx, shape, ostride, ndim - 1, &o)


cdef void moments_backward_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    if c.dtype == 0:
        _moments_backward(c, <float*>NULL)
    else:
        _moments_backward(c, <double*>NULL)


def append_moments(Plan plan, x, mean, var, axes, str req_mean="write", str req_var="write",
                   str label="moments"):
    """mean = np.mean(x, axes), var = np.var(x, axes) (either may keep dims of size 1)."""
    reqs = [req_code(req_mean, label), req_code(req_var, label)]
    axes = reduce_axes(x.shape, axes, False, label)
    shape, strides, n_out, count = _reduce_walk(x.shape, mean, axes, label)
    if var.size != n_out:
        raise ValueError(f"{label}: variance shape {var.shape} differs from mean shape {mean.shape}")
    if reqs[0] == REQ_NULL and reqs[1] == REQ_NULL:
        return
    dtype = common_dtype([x, mean, var])
    # 'add' or 'null': computed aside (the variance needs the mean), then added or dropped
    targets = [out if code == REQ_WRITE else np.empty_like(out) for out, code in zip((mean, var), reqs)]
    plan.add(moments_kernel, dtype, [x] + targets,
             [len(shape)] + shape + strides + [n_out], [1.0 / count if count else NAN], label)
    for target, out, code in zip(targets, (mean, var), reqs):
        if code == REQ_ADD:
            plan.add(accumulate_kernel, dtype, [target, out], [n_out], [], label)


def append_moments_backward(Plan plan, mean_grad, var_grad, x, mean, x_grad, axes,
                            str req="write", str label="_backward_moments"):
    """x_grad = (mean_grad + 2 var_grad (x - mean)) / count, the head gradients broadcast."""
    code = req_code(req, label)
    if tuple(x_grad.shape) != tuple(x.shape):
        raise ValueError(f"{label}: gradient shape {x_grad.shape} differs from data shape {x.shape}")
    axes = reduce_axes(x.shape, axes, False, label)
    shape, strides, n_out, count = _reduce_walk(x.shape, mean, axes, label)
    if mean_grad.size != n_out or var_grad.size != n_out:
        raise ValueError(f"{label}: head gradients {mean_grad.shape} and {var_grad.shape} for "
                         f"moments of shape {mean.shape}")
    if code == REQ_NULL:
        return
    arrays = [mean_grad, var_grad, x, mean, x_grad]
    plan.add(moments_backward_kernel, common_dtype(arrays), arrays,
             [code, len(shape)] + shape + strides, [1.0 / count if count else NAN], label)


# ---------------------------------------------------------------------------------------------
# cumulative sum along one axis (and its gradient, the same sum from the far end)

cdef void _cumsum(KernelCall* c, real* dummy) noexcept nogil:
    # arrays: x, y; ints: outer, length (of the summed axis), inner, reverse
    cdef Py_ssize_t outer = c.ints[0], length = c.ints[1], inner = c.ints[2]
    cdef bint reverse = c.ints[3] != 0
    cdef const real* x = <real*>c.arrays[0]
    cdef real* y = <real*>c.arrays[1]
    cdef Py_ssize_t b, k, j, row, previous
    if length == 0:
        return
    for b in range(outer):
        row = b * length * inner + ((length - 1) * inner if reverse else 0)
        for j in range(inner):
            y[row + j] = x[row + j]
        for k in range(1, length):
            previous = row
            row = row - inner if reverse else row + inner
            # y[k] = y[k - 1] + x[k] along the axis (k + 1 when reversed), inner rows at once
            for j in range(inner):
                y[row + j] = y[previous + j] + x[row + j]


cdef void cumsum_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    if c.dtype == 0:
        _cumsum(c, <float*>NULL)
    else:
        _cumsum(c, <double*>NULL)


def append_cumsum(Plan plan, x, y, axis=None, bint reverse=False, str req="write",
                  str label="cumsum"):
    """y = np.cumsum(x, axis) (x flattened when axis is None); reverse: summed from the end
    of the axis (the gradient of cumsum)."""
    code = req_code(req, label)
    if y.size != x.size:
        raise ValueError(f"{label}: output shape {y.shape} for input shape {x.shape}")
    if axis is None:
        outer, length, inner = 1, x.size, 1
    else:
        if not -x.ndim <= axis < x.ndim:
            raise ValueError(f"{label}: axis {axis} is out of range for input shape {x.shape}")
        axis %= x.ndim
        outer = int(np.prod(x.shape[:axis], dtype=np.int64))
        length = x.shape[axis]
        inner = int(np.prod(x.shape[axis + 1:], dtype=np.int64))
    if code == REQ_NULL or y.size == 0:
        return
    dtype = common_dtype([x, y])
    target = y if code == REQ_WRITE else np.empty_like(y)   # 'add': summed aside, then added
    plan.add(cumsum_kernel, dtype, [x, target], [outer, length, inner, int(reverse)], [], label)
    if code == REQ_ADD:
        plan.add(accumulate_kernel, dtype, [target, y], [y.size], [], label)


# ---------------------------------------------------------------------------------------------
# dot and batch_dot: out (M, N) = op(A) (M, K) @ op(B) (K, N), A and B row-major

cdef void _dot_forward(const real* a, const real* b, real* y, int m, int k, int n,
                       bint ta, bint tb, int req) noexcept nogil:
    cdef Py_ssize_t j
    if req == REQ_NULL:
        return
    if k == 0:
        if req == REQ_WRITE:
            for j in range(<Py_ssize_t>m * n):
                y[j] = 0
        return
    # y (+)= op(a) @ op(b)
    gemm(ta, tb, m, n, k, <real>1, a, m if ta else k, b, k if tb else n,
         <real>(1 if req == REQ_ADD else 0), y, n)


cdef void _dot_backward(const real* dy, const real* a, const real* b, real* da, real* db,
                        int m, int k, int n, bint ta, bint tb, int req_a, int req_b) noexcept nogil:
    cdef int lda = m if ta else k
    cdef int ldb = k if tb else n
    cdef Py_ssize_t j
    if req_a != REQ_NULL:
        if n == 0:
            if req_a == REQ_WRITE:
                for j in range(<Py_ssize_t>m * k):
                    da[j] = 0
        elif ta:
            # da (K, M) = op(b) @ dy.T
            gemm(tb, True, k, m, n, <real>1, b, ldb, dy, n, <real>(req_a == REQ_ADD), da, m)
        else:
            # da (M, K) = dy @ op(b).T
            gemm(False, not tb, m, k, n, <real>1, dy, n, b, ldb, <real>(req_a == REQ_ADD), da, k)
    if req_b != REQ_NULL:
        if m == 0:
            if req_b == REQ_WRITE:
                for j in range(<Py_ssize_t>k * n):
                    db[j] = 0
        elif tb:
            # db (N, K) = dy.T @ op(a)
            gemm(True, ta, n, k, m, <real>1, dy, n, a, lda, <real>(req_b == REQ_ADD), db, k)
        else:
            # db (K, N) = op(a).T @ dy
            gemm(not ta, False, k, n, m, <real>1, a, lda, dy, n, <real>(req_b == REQ_ADD), db, n)


cdef void _batch_forward(KernelCall* c, real* dummy) noexcept nogil:
    # arrays: a, b, y; ints: batch, m, k, n, ta, tb, req
    cdef Py_ssize_t batch = c.ints[0], i
    cdef int m = <int>c.ints[1], k = <int>c.ints[2], n = <int>c.ints[3]
    for i in range(batch):
        _dot_forward(<real*>c.arrays[0] + i * m * k, <real*>c.arrays[1] + i * k * n,
                     <real*>c.arrays[2] + i * m * n, m, k, n, c.ints[4], c.ints[5], <int>c.ints[6])


cdef void dot_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    if c.dtype == 0:
        _batch_forward(c, <float*>NULL)
    else:
        _batch_forward(c, <double*>NULL)


cdef void _batch_backward(KernelCall* c, real* dummy) noexcept nogil:
    # arrays: dy, a, b, da, db; ints: batch, m, k, n, ta, tb, req_a, req_b
    cdef Py_ssize_t batch = c.ints[0], i
    cdef int m = <int>c.ints[1], k = <int>c.ints[2], n = <int>c.ints[3]
    for i in range(batch):
        _dot_backward(<real*>c.arrays[0] + i * m * n, <real*>c.arrays[1] + i * m * k,
                      <real*>c.arrays[2] + i * k * n, <real*>c.arrays[3] + i * m * k,
                      <real*>c.arrays[4] + i * k * n, m, k, n, c.ints[4], c.ints[5],
                      <int>c.ints[6], <int>c.ints[7])


cdef void dot_backward_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    if c.dtype == 0:
        _batch_backward(c, <float*>NULL)
    else:
        _batch_backward(c, <double*>NULL)


def _prod(values):
    return int(np.prod(values, dtype=np.int64))


def dot_dims(a_shape, b_shape, bint ta, bint tb, str label="dot"):
    """(M, K, N, ta, tb, out_shape) of MXNet's dot: the last axis of op(a) with the first of op(b).

    Transposes apply to 1-D and 2-D inputs (a 1-D transpose is the vector itself)."""
    a_shape, b_shape = tuple(a_shape), tuple(b_shape)
    if not a_shape or not b_shape:
        raise ValueError(f"{label}: dot needs at least 1-D inputs, got {a_shape} and {b_shape}")
    if (ta and len(a_shape) > 2) or (tb and len(b_shape) > 2):
        raise ValueError(f"{label}: transpose_a/transpose_b take 1-D or 2-D inputs, got "
                         f"{a_shape} and {b_shape}")
    ta = ta and len(a_shape) == 2
    tb = tb and len(b_shape) == 2
    left = a_shape[::-1] if ta else a_shape
    right = b_shape[::-1] if tb else b_shape
    if left[len(left) - 1] != right[0]:
        raise ValueError(f"{label}: lhs {a_shape}{' (transposed)' if ta else ''} and rhs "
                         f"{b_shape}{' (transposed)' if tb else ''} do not agree on the summed axis")
    m, k, n = _prod(left[:len(left) - 1]), right[0], _prod(right[1:])
    return m, k, n, ta, tb, (left[:len(left) - 1] + right[1:]) or (1,)


def _check_int(label, *values):
    for v in values:
        if v > 2**31 - 1:
            raise ValueError(f"{label}: matrix dimension {v} exceeds BLAS's 32-bit limit")


def append_dot(Plan plan, a, b, y, bint transpose_a=False, bint transpose_b=False,
               str req="write", str label="dot"):
    """y = op(a) @ op(b), op(a) of shape (..., K) and op(b) of shape (K, ...), as MXNet's dot."""
    code = req_code(req, label)
    m, k, n, ta, tb, out_shape = dot_dims(a.shape, b.shape, transpose_a, transpose_b, label)
    if y.size != m * n:
        raise ValueError(f"{label}: output shape {y.shape} is not {out_shape} "
                         f"(lhs {a.shape}, rhs {b.shape})")
    _check_int(label, m, k, n)
    arrays = [a, b, y]
    plan.add(dot_kernel, common_dtype(arrays), arrays, [1, m, k, n, ta, tb, code], [], label)


def append_dot_backward(Plan plan, out_grad, a, b, a_grad, b_grad, bint transpose_a=False,
                        bint transpose_b=False, str req_a="write", str req_b="write",
                        str label="_backward_dot"):
    """a_grad, b_grad of y = op(a) @ op(b); a None gradient (or req 'null') is skipped."""
    m, k, n, ta, tb, out_shape = dot_dims(a.shape, b.shape, transpose_a, transpose_b, label)
    codes = [req_code(req_a, label), req_code(req_b, label)]
    grads = [a_grad, b_grad]
    for j, (g, ref) in enumerate(zip(grads, (a, b))):
        if g is None:
            codes[j] = REQ_NULL
            grads[j] = ref      # any valid pointer; not touched
        elif tuple(g.shape) != tuple(ref.shape):
            raise ValueError(f"{label}: gradient shape {g.shape} differs from input shape {ref.shape}")
    if out_grad.size != m * n:
        raise ValueError(f"{label}: out_grad shape {out_grad.shape} is not {out_shape}")
    _check_int(label, m, k, n)
    arrays = [out_grad, a, b] + grads
    plan.add(dot_backward_kernel, common_dtype(arrays), arrays,
             [1, m, k, n, ta, tb] + codes, [], label)


def batch_dot_dims(a_shape, b_shape, bint ta, bint tb, str label="batch_dot"):
    a_shape, b_shape = tuple(a_shape), tuple(b_shape)
    if len(a_shape) != 3 or len(b_shape) != 3 or a_shape[0] != b_shape[0]:
        raise ValueError(f"{label}: batch_dot needs two 3-D inputs with one batch size, got "
                         f"{a_shape} and {b_shape}")
    m, k = (a_shape[2], a_shape[1]) if ta else (a_shape[1], a_shape[2])
    k2, n = (b_shape[2], b_shape[1]) if tb else (b_shape[1], b_shape[2])
    if k != k2:
        raise ValueError(f"{label}: lhs {a_shape} and rhs {b_shape} do not agree on the summed axis")
    return a_shape[0], m, k, n


def append_batch_dot(Plan plan, a, b, y, bint transpose_a=False, bint transpose_b=False,
                     str req="write", str label="batch_dot"):
    """y[i] = op(a[i]) @ op(b[i]) for 3-D a, b."""
    code = req_code(req, label)
    batch, m, k, n = batch_dot_dims(a.shape, b.shape, transpose_a, transpose_b, label)
    if tuple(y.shape) != (batch, m, n):
        raise ValueError(f"{label}: output shape {y.shape} is not {(batch, m, n)} "
                         f"(lhs {a.shape}, rhs {b.shape})")
    _check_int(label, m, k, n)
    arrays = [a, b, y]
    plan.add(dot_kernel, common_dtype(arrays), arrays,
             [batch, m, k, n, transpose_a, transpose_b, code], [], label)


def append_batch_dot_backward(Plan plan, out_grad, a, b, a_grad, b_grad, bint transpose_a=False,
                              bint transpose_b=False, str req_a="write", str req_b="write",
                              str label="_backward_batch_dot"):
    """Per batch, the gradients of op(a[i]) @ op(b[i])."""
    batch, m, k, n = batch_dot_dims(a.shape, b.shape, transpose_a, transpose_b, label)
    codes = [req_code(req_a, label), req_code(req_b, label)]
    grads = [a_grad, b_grad]
    for j, (g, ref) in enumerate(zip(grads, (a, b))):
        if g is None:
            codes[j] = REQ_NULL
            grads[j] = ref
        elif tuple(g.shape) != tuple(ref.shape):
            raise ValueError(f"{label}: gradient shape {g.shape} differs from input shape {ref.shape}")
    if tuple(out_grad.shape) != (batch, m, n):
        raise ValueError(f"{label}: out_grad shape {out_grad.shape} is not {(batch, m, n)}")
    _check_int(label, m, k, n)
    arrays = [out_grad, a, b] + grads
    plan.add(dot_backward_kernel, common_dtype(arrays), arrays,
             [batch, m, k, n, transpose_a, transpose_b] + codes, [], label)
