"""Softmax family and loss-head kernels: softmax / log_softmax over any axis and their
backward, SoftmaxOutput's cross-entropy gradient, the regression outputs' gradients and
MakeLoss's constant gradient.

An axis is addressed as (outer, n, inner): element j of the softmax at (o, i) sits at
o * n * inner + j * inner + i.
"""
from libc.math cimport log
from cysym._ops._blas cimport dot, real
from cysym._ops._math cimport _exp, _log, _max, _sum
from cysym._ops._common cimport common_dtype, store, REQ_NULL, REQ_WRITE, REQ_ADD, req_code
from cysym._ops.runner cimport Plan, KernelCall, RunContext
from cysym._ops.shape import axis_layout

NORMALIZATION = {"null": 0, "batch": 1, "valid": 2}
REGRESSION = {"linear": 0, "logistic": 1, "mae": 2}
cdef int ERROR_LABEL_RANGE = 1   # runner.KERNEL_ERRORS[1]: index out of range


cdef void _softmax_rows(real* x, real* y, Py_ssize_t rows, Py_ssize_t n, real inv_temperature,
                        bint as_log, int req) noexcept nogil:
    """The softmax of contiguous rows, in loops that vectorize: exp from _math.pxd, written to
    y (or, when y accumulates or receives log-probabilities, to a stack buffer) and summed
    from partial sums."""
    cdef real buffer[256]
    cdef real* out
    cdef real largest, scale, log_total
    cdef double total
    cdef Py_ssize_t row, j, start, width
    for row in range(rows):
        largest = _max(x, n)
        total = 0
        # subtracting the max keeps exp() finite; y may be x itself
        for start in range(0, n, 256):
            width = min(256, n - start)
            out = y + start if (req == REQ_WRITE and not as_log) else buffer
            for j in range(width):
                out[j] = _exp((x[start + j] - largest) * inv_temperature)
            total += _sum(out, width)
        if as_log:
            log_total = <real>log(total)
            if req == REQ_ADD:
                for j in range(n):
                    y[j] += (x[j] - largest) * inv_temperature - log_total
            else:
                for j in range(n):
                    y[j] = (x[j] - largest) * inv_temperature - log_total
        else:
            scale = <real>(1.0 / total)
            if req == REQ_ADD:
                for j in range(n):
                    y[j] += _exp((x[j] - largest) * inv_temperature) * scale
            else:
                for j in range(n):
                    y[j] *= scale
        x += n
        y += n


cdef void _softmax_columns(real* x, real* y, Py_ssize_t outer, Py_ssize_t n, Py_ssize_t inner,
                           real inv_temperature, bint as_log, int req) noexcept nogil:
    """The softmax over the middle axis of (outer, n, inner), inner > 1, a tile of up to 256
    positions at a time: each pass runs along the contiguous positions, so it vectorizes, and
    the tile's maxima and sums wait in stack buffers."""
    cdef real largest[256]
    cdef real factor[256]
    cdef double total[256]
    cdef real* xs
    cdef real* ys
    cdef real* xr
    cdef real* yr
    cdef Py_ssize_t o, j, t, start, width
    for o in range(outer):
        for start in range(0, inner, 256):
            width = min(256, inner - start)
            xs = x + o * n * inner + start
            ys = y + o * n * inner + start
            for t in range(width):
                largest[t] = xs[t]
                total[t] = 0
            for j in range(1, n):
                for t in range(width):
                    largest[t] = xs[j * inner + t] if xs[j * inner + t] > largest[t] else largest[t]
            # subtracting the max keeps exp() finite; y may be x itself, and receives the
            # exponentials only when it neither accumulates nor takes log-probabilities
            for j in range(n):
                xr = xs + j * inner
                yr = ys + j * inner
                if req == REQ_WRITE and not as_log:
                    for t in range(width):
                        yr[t] = _exp((xr[t] - largest[t]) * inv_temperature)
                        total[t] += yr[t]
                else:
                    for t in range(width):
                        total[t] += _exp((xr[t] - largest[t]) * inv_temperature)
            # the tile's log-sums or reciprocal sums, in y's precision
            for t in range(width):
                factor[t] = <real>(_log(total[t]) if as_log else 1.0 / total[t])
            # one branch per row, so that each loop over the tile is a plain vectorizable loop
            for j in range(n):
                xr = xs + j * inner
                yr = ys + j * inner
                if as_log and req == REQ_ADD:
                    for t in range(width):
                        yr[t] += (xr[t] - largest[t]) * inv_temperature - factor[t]
                elif as_log:
                    for t in range(width):
                        yr[t] = (xr[t] - largest[t]) * inv_temperature - factor[t]
                elif req == REQ_ADD:
                    for t in range(width):
                        yr[t] += _exp((xr[t] - largest[t]) * inv_temperature) * factor[t]
                else:
                    for t in range(width):
                        yr[t] *= factor[t]


cdef void _softmax(real* x, real* y, Py_ssize_t outer, Py_ssize_t n, Py_ssize_t inner,
                   double inv_temperature, bint as_log, int req) noexcept nogil:
    if inner == 1:
        _softmax_rows(x, y, outer, n, <real>inv_temperature, as_log, req)
    else:
        _softmax_columns(x, y, outer, n, inner, <real>inv_temperature, as_log, req)


cdef void softmax_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    # arrays: x, y; ints: outer, n, inner, as_log, req; floats: 1/temperature
    if c.dtype == 0:
        _softmax(<float*>c.arrays[0], <float*>c.arrays[1], c.ints[0], c.ints[1], c.ints[2],
                 c.floats[0], <bint>c.ints[3], <int>c.ints[4])
    else:
        _softmax(<double*>c.arrays[0], <double*>c.arrays[1], c.ints[0], c.ints[1], c.ints[2],
                 c.floats[0], <bint>c.ints[3], <int>c.ints[4])


cdef void _softmax_backward_rows(real* dy, real* y, real* dx, Py_ssize_t rows, Py_ssize_t n,
                                 real inv_temperature, bint as_log, int req) noexcept nogil:
    """The backward of softmax over contiguous rows, in loops that vectorize."""
    cdef real total
    cdef Py_ssize_t row, j
    for row in range(rows):
        # d log_softmax: dy - softmax * sum(dy); d softmax: y * (dy - sum(dy * y))
        total = <real>_sum(dy, n) if as_log else dot(<int>n, dy, y)
        if as_log and req == REQ_ADD:
            for j in range(n):
                dx[j] += (dy[j] - _exp(y[j]) * total) * inv_temperature
        elif as_log:
            for j in range(n):
                dx[j] = (dy[j] - _exp(y[j]) * total) * inv_temperature
        elif req == REQ_ADD:
            for j in range(n):
                dx[j] += y[j] * (dy[j] - total) * inv_temperature
        else:
            for j in range(n):
                dx[j] = y[j] * (dy[j] - total) * inv_temperature
        dy += n
        y += n
        dx += n


cdef void _softmax_backward_columns(real* dy, real* y, real* dx, Py_ssize_t outer, Py_ssize_t n,
                                    Py_ssize_t inner, real inv_temperature, bint as_log,
                                    int req) noexcept nogil:
    """The backward of softmax over the middle axis of (outer, n, inner), inner > 1, in tiles
    of up to 256 positions, as _softmax_columns."""
    cdef double total[256]
    cdef real sums[256]
    cdef real* dyr
    cdef real* yr
    cdef real* dxr
    cdef Py_ssize_t o, j, t, start, width, offset
    for o in range(outer):
        for start in range(0, inner, 256):
            width = min(256, inner - start)
            offset = o * n * inner + start
            for t in range(width):
                total[t] = 0
            # d log_softmax: dy - softmax * sum(dy); d softmax: y * (dy - sum(dy * y))
            for j in range(n):
                dyr = dy + offset + j * inner
                yr = y + offset + j * inner
                if as_log:
                    for t in range(width):
                        total[t] += dyr[t]
                else:
                    for t in range(width):
                        total[t] += dyr[t] * yr[t]
            for t in range(width):
                sums[t] = <real>total[t]
            for j in range(n):
                dyr = dy + offset + j * inner
                yr = y + offset + j * inner
                dxr = dx + offset + j * inner
                if as_log and req == REQ_ADD:
                    for t in range(width):
                        dxr[t] += (dyr[t] - _exp(yr[t]) * sums[t]) * inv_temperature
                elif as_log:
                    for t in range(width):
                        dxr[t] = (dyr[t] - _exp(yr[t]) * sums[t]) * inv_temperature
                elif req == REQ_ADD:
                    for t in range(width):
                        dxr[t] += yr[t] * (dyr[t] - sums[t]) * inv_temperature
                else:
                    for t in range(width):
                        dxr[t] = yr[t] * (dyr[t] - sums[t]) * inv_temperature


cdef void _softmax_backward(real* dy, real* y, real* dx, Py_ssize_t outer, Py_ssize_t n,
                            Py_ssize_t inner, double inv_temperature, bint as_log, int req) noexcept nogil:
    if inner == 1:
        _softmax_backward_rows(dy, y, dx, outer, n, <real>inv_temperature, as_log, req)
    else:
        _softmax_backward_columns(dy, y, dx, outer, n, inner, <real>inv_temperature, as_log, req)


cdef void softmax_backward_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    # arrays: dy, y, dx; ints: outer, n, inner, as_log, req; floats: 1/temperature
    if c.dtype == 0:
        _softmax_backward(<float*>c.arrays[0], <float*>c.arrays[1], <float*>c.arrays[2],
                          c.ints[0], c.ints[1], c.ints[2], c.floats[0], <bint>c.ints[3], <int>c.ints[4])
    else:
        _softmax_backward(<double*>c.arrays[0], <double*>c.arrays[1], <double*>c.arrays[2],
                          c.ints[0], c.ints[1], c.ints[2], c.floats[0], <bint>c.ints[3], <int>c.ints[4])


cdef int _softmax_output_backward(real* prob, real* label, real* head, real* dx, Py_ssize_t outer,
                                  Py_ssize_t n, Py_ssize_t inner, Py_ssize_t* opts,
                                  double* values) noexcept nogil:
    # opts: use_ignore, req, normalization, label_is_prob, has_head
    # values: grad_scale / divisor, ignore_label, smooth_alpha
    cdef bint use_ignore = opts[0], label_is_prob = opts[3], has_head = opts[4]
    cdef int req = <int>opts[1], normalization = <int>opts[2]
    cdef double scale = values[0], smooth = values[2]
    cdef int ignore = <int>values[1]
    cdef Py_ssize_t o, j, k, base, positions = outer * inner, valid = positions, target
    cdef double value, off_target = smooth / (n - 1) if n > 1 else 0.0
    if label_is_prob:
        for k in range(outer * n * inner):
            value = (prob[k] - label[k]) * scale
            store(dx, k, value * head[k] if has_head else value, req)
        return 0
    if normalization == 2:
        for k in range(positions):
            if <int>label[k] == ignore:
                valid -= 1
        scale /= valid if valid > 0 else 1
    if inner > 1:
        return _label_gradient_columns(prob, label, head, dx, outer, n, inner, use_ignore, ignore,
                                       <real>(1.0 - smooth), <real>off_target, <real>scale, has_head, req)
    # one label per row (inner == 1)
    for o in range(outer):
        base = o * n
        if use_ignore and <int>label[o] == ignore:
            for j in range(n):
                store(dx, base + j, 0.0, req)
            continue
        target = <Py_ssize_t>label[o]
        if target < 0 or target >= n or label[o] != <real>target:
            return ERROR_LABEL_RANGE
        # the classes before and after the target in their own loops, which vectorize
        _label_gradient(prob + base, head + base, dx + base, 0, target, off_target, scale, has_head, req)
        _label_gradient(prob + base, head + base, dx + base, target, target + 1, 1.0 - smooth, scale,
                        has_head, req)
        _label_gradient(prob + base, head + base, dx + base, target + 1, n, off_target, scale, has_head, req)
    return 0


cdef int _label_gradient_columns(real* prob, real* label, real* head, real* dx, Py_ssize_t outer,
                                 Py_ssize_t n, Py_ssize_t inner, bint use_ignore, int ignore,
                                 real on_target, real off_target, real scale, bint has_head,
                                 int req) noexcept nogil:
    """SoftmaxOutput's gradient with one label per position (multi_output), a tile of up to 256
    positions at a time: their labels checked once, then each class's row of the tile in a
    loop along contiguous memory.  head is prob itself when there is no head gradient."""
    cdef real target[256]
    cdef real keep[256]
    cdef real* labels
    cdef real* p
    cdef real* h
    cdef real* d
    cdef real klass, value
    cdef Py_ssize_t o, j, t, start, width, offset, whole
    cdef bint ignored
    for o in range(outer):
        for start in range(0, inner, 256):
            width = min(256, inner - start)
            labels = label + o * inner + start
            for t in range(width):
                ignored = use_ignore and <int>labels[t] == ignore
                whole = <Py_ssize_t>labels[t]
                if not ignored and (whole < 0 or whole >= n or labels[t] != <real>whole):
                    return ERROR_LABEL_RANGE
                # an ignored position matches no class and gets a zero gradient
                target[t] = -1 if ignored else labels[t]
                keep[t] = 0 if ignored else 1
            for j in range(n):
                offset = (o * n + j) * inner + start
                p = prob + offset
                h = head + offset
                d = dx + offset
                klass = <real>j
                if req == REQ_ADD:
                    for t in range(width):
                        value = (p[t] - (on_target if target[t] == klass else off_target)) * scale * keep[t]
                        d[t] += value * h[t] if has_head else value
                else:
                    for t in range(width):
                        value = (p[t] - (on_target if target[t] == klass else off_target)) * scale * keep[t]
                        d[t] = value * h[t] if has_head else value
    return 0


cdef inline void _label_gradient(real* prob, real* head, real* dx, Py_ssize_t start, Py_ssize_t stop,
                                 double label_prob, double scale, bint has_head, int req) noexcept nogil:
    """dx = (prob - label_prob) * scale, times the head gradient when there is one, for the
    classes start..stop-1 of one row (head is prob itself when there is no head gradient)."""
    cdef Py_ssize_t j
    cdef real shift = <real>label_prob, factor = <real>scale
    if req == REQ_ADD:
        for j in range(start, stop):
            dx[j] += (prob[j] - shift) * factor * (head[j] if has_head else <real>1)
    else:
        for j in range(start, stop):
            dx[j] = (prob[j] - shift) * factor * (head[j] if has_head else <real>1)


cdef void softmax_output_backward_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    # arrays: prob, label, head (or prob when absent), dx
    # ints: outer, n, inner, use_ignore, req, normalization, label_is_prob, has_head
    cdef int status
    if c.dtype == 0:
        status = _softmax_output_backward(<float*>c.arrays[0], <float*>c.arrays[1], <float*>c.arrays[2],
                                          <float*>c.arrays[3], c.ints[0], c.ints[1], c.ints[2],
                                          c.ints + 3, c.floats)
    else:
        status = _softmax_output_backward(<double*>c.arrays[0], <double*>c.arrays[1], <double*>c.arrays[2],
                                          <double*>c.arrays[3], c.ints[0], c.ints[1], c.ints[2],
                                          c.ints + 3, c.floats)
    if status:
        ctx.error_code = status


cdef void _regression_backward(real* out, real* label, real* dx, Py_ssize_t size, int kind,
                               double scale, int req) noexcept nogil:
    cdef Py_ssize_t k
    cdef double diff
    for k in range(size):
        diff = out[k] - label[k]
        if kind == 2:
            diff = (diff > 0) - (diff < 0)
        store(dx, k, diff * scale, req)


cdef void regression_backward_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    # arrays: out, label, dx; ints: size, kind, req; floats: grad_scale / num_output
    if c.dtype == 0:
        _regression_backward(<float*>c.arrays[0], <float*>c.arrays[1], <float*>c.arrays[2],
                             c.ints[0], <int>c.ints[1], c.floats[0], <int>c.ints[2])
    else:
        _regression_backward(<double*>c.arrays[0], <double*>c.arrays[1], <double*>c.arrays[2],
                             c.ints[0], <int>c.ints[1], c.floats[0], <int>c.ints[2])


cdef void _make_loss_backward(real* data, real* dx, Py_ssize_t size, int normalization,
                              Py_ssize_t batch, double grad_scale, double valid_thresh, int req) noexcept nogil:
    cdef Py_ssize_t k, valid = 0
    cdef double value = grad_scale
    if normalization == 1:
        value /= batch
    elif normalization == 2:
        for k in range(size):
            if data[k] > valid_thresh:
                valid += 1
        value /= valid if valid > 0 else 1
    for k in range(size):
        store(dx, k, value, req)


cdef void make_loss_backward_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    # arrays: data, dx; ints: size, normalization, batch, req; floats: grad_scale, valid_thresh
    if c.dtype == 0:
        _make_loss_backward(<float*>c.arrays[0], <float*>c.arrays[1], c.ints[0], <int>c.ints[1],
                            c.ints[2], c.floats[0], c.floats[1], <int>c.ints[3])
    else:
        _make_loss_backward(<double*>c.arrays[0], <double*>c.arrays[1], c.ints[0], <int>c.ints[1],
                            c.ints[2], c.floats[0], c.floats[1], <int>c.ints[3])


# -- SVMOutput, softmax_cross_entropy, IdentityAttachKLSparseReg -----------------------------------


cdef void _svm_output_backward(real* out, real* label, real* dx, Py_ssize_t rows, Py_ssize_t n,
                               bint use_linear, double margin, double coefficient,
                               int req) noexcept nogil:
    """MXNet's L1_SVM / L2_SVM gradient of each row against its class label[row]."""
    cdef Py_ssize_t row, j, target
    cdef real x, m = <real>margin, c = <real>coefficient
    cdef double value
    for row in range(rows):
        target = <Py_ssize_t><int>label[row]
        for j in range(n):
            x = out[row * n + j]
            if use_linear:
                value = -(m > x) * c if j == target else (m > -x) * c
            elif j == target:
                value = -c * 2 * (m - x) if m > x else 0
            else:
                value = c * 2 * (m + x) if m > -x else 0
            store(dx, row * n + j, value, req)


cdef void svm_output_backward_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    # arrays: out, label, dx; ints: rows, n, use_linear, req; floats: margin, coefficient
    if c.dtype == 0:
        _svm_output_backward(<float*>c.arrays[0], <float*>c.arrays[1], <float*>c.arrays[2],
                             c.ints[0], c.ints[1], <bint>c.ints[2], c.floats[0], c.floats[1],
                             <int>c.ints[3])
    else:
        _svm_output_backward(<double*>c.arrays[0], <double*>c.arrays[1], <double*>c.arrays[2],
                             c.ints[0], c.ints[1], <bint>c.ints[2], c.floats[0], c.floats[1],
                             <int>c.ints[3])


cdef int _cross_entropy(real* data, real* label, real* out, real* head, real* dx,
                        Py_ssize_t rows, Py_ssize_t n, int req) noexcept nogil:
    """Without dx: out[0] (+)= sum over rows of -log(max(softmax(row)[label], 1e-8)).
    With dx: dx (+)= head[0] * (softmax(row) - onehot(label)), MXNet's gradient (which
    ignores the 1e-8 floor)."""
    cdef Py_ssize_t row, j, target
    cdef real largest, log_total, p
    cdef double total, loss = 0
    cdef real* x
    for row in range(rows):
        target = <Py_ssize_t><int>label[row]
        if target < 0 or target >= n:
            return ERROR_LABEL_RANGE
        x = data + row * n
        largest = _max(x, n)
        total = 0
        for j in range(n):
            total += _exp(x[j] - largest)
        log_total = <real>log(total)
        if dx == NULL:
            p = _exp(x[target] - largest - log_total)
            loss -= log(p if p > <real>1e-8 else <real>1e-8)
            continue
        for j in range(n):
            store(dx, row * n + j, head[0] * (_exp(x[j] - largest - log_total) - (j == target)), req)
    if dx == NULL:
        store(out, 0, loss, req)
    return 0


cdef void cross_entropy_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    # arrays: data, label, out; ints: rows, n, req
    cdef int status
    if c.dtype == 0:
        status = _cross_entropy(<float*>c.arrays[0], <float*>c.arrays[1], <float*>c.arrays[2],
                                NULL, NULL, c.ints[0], c.ints[1], <int>c.ints[2])
    else:
        status = _cross_entropy(<double*>c.arrays[0], <double*>c.arrays[1], <double*>c.arrays[2],
                                NULL, NULL, c.ints[0], c.ints[1], <int>c.ints[2])
    if status:
        ctx.error_code = status


cdef void cross_entropy_backward_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    # arrays: head, data, label, dx; ints: rows, n, req
    cdef int status
    if c.dtype == 0:
        status = _cross_entropy(<float*>c.arrays[1], <float*>c.arrays[2], NULL,
                                <float*>c.arrays[0], <float*>c.arrays[3], c.ints[0], c.ints[1],
                                <int>c.ints[2])
    else:
        status = _cross_entropy(<double*>c.arrays[1], <double*>c.arrays[2], NULL,
                                <double*>c.arrays[0], <double*>c.arrays[3], c.ints[0], c.ints[1],
                                <int>c.ints[2])
    if status:
        ctx.error_code = status


cdef void _kl_sparse_reg_backward(real* dy, real* data, real* moving_avg, real* dx,
                                  Py_ssize_t rows, Py_ssize_t n, double penalty, double target,
                                  double momentum, int req) noexcept nogil:
    """moving_avg = momentum * moving_avg + (1 - momentum) * mean of data over rows; then
    dx (+)= dy + penalty * (-target / moving_avg + (1 - target) / (1 - moving_avg)).
    dx may be dy itself."""
    cdef Py_ssize_t row, j
    cdef double mean
    for j in range(n):
        mean = 0
        for row in range(rows):
            mean += data[row * n + j]
        moving_avg[j] = <real>(momentum * moving_avg[j] + (1 - momentum) * (mean / rows))
    for row in range(rows):
        for j in range(n):
            store(dx, row * n + j, dy[row * n + j] + penalty * (
                -target / moving_avg[j] + (1 - target) / (1 - moving_avg[j])), req)


cdef void kl_sparse_reg_backward_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    # arrays: dy, data, moving_avg, dx; ints: rows, n, req; floats: penalty, target, momentum
    if c.dtype == 0:
        _kl_sparse_reg_backward(<float*>c.arrays[0], <float*>c.arrays[1], <float*>c.arrays[2],
                                <float*>c.arrays[3], c.ints[0], c.ints[1], c.floats[0],
                                c.floats[1], c.floats[2], <int>c.ints[2])
    else:
        _kl_sparse_reg_backward(<double*>c.arrays[0], <double*>c.arrays[1], <double*>c.arrays[2],
                                <double*>c.arrays[3], c.ints[0], c.ints[1], c.floats[0],
                                c.floats[1], c.floats[2], <int>c.ints[2])


# -- bind-time entry points ----------------------------------------------------------------------


def _layout(shape, axis, label):
    if not -len(shape) <= axis < len(shape):
        raise ValueError(f"{label}: axis {axis} is out of range for shape {shape}")
    return axis_layout(shape, axis % len(shape))


def append_softmax(Plan plan, x, y, int axis=-1, double temperature=1.0, bint as_log=False,
                   str req="write", str label="softmax"):
    """Append y (=|+=) softmax(x / temperature) along axis (log_softmax when as_log); y may be x."""
    code = req_code(req, label)
    if x.shape != y.shape:
        raise ValueError(f"{label}: input {x.shape} and output {y.shape} differ")
    if temperature == 0:
        raise ValueError(f"{label}: temperature must not be 0")
    if code == REQ_NULL or x.size == 0:    # the kernel reads the first element of every row
        return
    outer, n, inner = _layout(x.shape, axis, label)
    plan.add(softmax_kernel, common_dtype([x, y]), [x, y], [outer, n, inner, as_log, code],
             [1.0 / temperature], label)


def append_softmax_backward(Plan plan, dy, y, dx, int axis=-1, double temperature=1.0,
                            bint as_log=False, str req="write", str label="_backward_softmax"):
    """Append dx = d softmax(x)/dx applied to dy, from the forward output y."""
    code = req_code(req, label)
    if code == REQ_NULL:
        return
    if not dy.shape == y.shape == dx.shape:
        raise ValueError(f"{label}: shapes {dy.shape}, {y.shape}, {dx.shape} differ")
    if dx.size == 0:
        return
    outer, n, inner = _layout(y.shape, axis, label)
    plan.add(softmax_backward_kernel, common_dtype([dy, y, dx]), [dy, y, dx],
             [outer, n, inner, as_log, code], [1.0 / temperature], label)


def append_softmax_output_backward(Plan plan, prob, label_array, dx, head_grad=None, *, int outer,
                                   int n, int inner, double grad_scale=1.0, double ignore_label=-1.0,
                                   bint use_ignore=False, str normalization="null",
                                   double smooth_alpha=0.0, str req="write",
                                   str label="_backward_SoftmaxOutput"):
    """Append SoftmaxOutput's gradient: grad_scale * (prob - onehot(label)) / norm, as MXNet.

    The caller gives the softmax layout (outer, n, inner); norm is 1, the batch size (outer)
    or the number of labels not equal to ignore_label.  With multi_output MXNet also divides
    by the number of positions per sample (inner) unless normalization is 'valid'; the
    caller folds that into grad_scale.
    """
    code = req_code(req, label)
    if code == REQ_NULL or dx.size == 0:
        return
    if normalization not in NORMALIZATION:
        raise ValueError(f"{label}: normalization must be one of {list(NORMALIZATION)}")
    label_is_prob = label_array.shape == prob.shape
    if not label_is_prob and label_array.size != outer * inner:
        raise ValueError(f"{label}: label has shape {label_array.shape}; expected {outer * inner} "
                         f"labels for output {prob.shape}")
    scale = grad_scale
    if not label_is_prob and normalization == "batch":
        scale /= outer
    has_head = head_grad is not None
    arrays = [prob, label_array, head_grad if has_head else prob, dx]
    plan.add(softmax_output_backward_kernel, common_dtype(arrays), arrays,
             [outer, n, inner, use_ignore, code, NORMALIZATION[normalization], label_is_prob, has_head],
             [scale, ignore_label, smooth_alpha], label)


def append_regression_backward(Plan plan, str kind, out, label_array, dx, double grad_scale=1.0,
                               str req="write", str label="_backward_RegressionOutput"):
    """Append grad_scale * (out - label) / num_output (sign(...) for 'mae'), where num_output
    is the number of outputs per sample."""
    code = req_code(req, label)
    if code == REQ_NULL:
        return
    if kind not in REGRESSION:
        raise ValueError(f"{label}: unknown regression kind {kind!r}")
    if label_array.size != out.size or dx.size != out.size:
        raise ValueError(f"{label}: label {label_array.shape} and output {out.shape} differ in size")
    num_output = out.size // out.shape[0] if out.ndim and out.shape[0] else 1
    plan.add(regression_backward_kernel, common_dtype([out, label_array, dx]), [out, label_array, dx],
             [out.size, REGRESSION[kind], code], [grad_scale / max(num_output, 1)], label)


def append_make_loss_backward(Plan plan, data, dx, double grad_scale=1.0, str normalization="null",
                              double valid_thresh=0.0, str req="write", str label="_backward_MakeLoss"):
    """Append dx = grad_scale / norm (norm: 1, batch size, or count of data > valid_thresh)."""
    code = req_code(req, label)
    if code == REQ_NULL:
        return
    if normalization not in NORMALIZATION:
        raise ValueError(f"{label}: normalization must be one of {list(NORMALIZATION)}")
    batch = data.shape[0] if data.ndim else 1
    plan.add(make_loss_backward_kernel, common_dtype([data, dx]), [data, dx],
             [data.size, NORMALIZATION[normalization], max(batch, 1), code], [grad_scale, valid_thresh], label)


def _product(sizes):
    result = 1
    for size in sizes:
        result *= size
    return result


def append_svm_output_backward(Plan plan, out, label_array, dx, double margin=1.0,
                               double regularization_coefficient=1.0, bint use_linear=False,
                               str req="write", str label="_backward_SVMOutput"):
    """Append SVMOutput's gradient (L1-SVM when use_linear, else L2-SVM) from its output and
    the class labels, one per row of the last axis."""
    cdef int code = req_code(req, label)
    if out.ndim == 0:
        raise ValueError(f"{label}: expected an output with a class axis, got shape {out.shape}")
    rows, n = _product(out.shape[:out.ndim - 1]), out.shape[out.ndim - 1]
    if label_array.size != rows or dx.shape != out.shape:
        raise ValueError(f"{label}: label {label_array.shape} and gradient {dx.shape} do not fit "
                         f"output {out.shape}")
    if code == REQ_NULL or dx.size == 0:
        return
    arrays = [out, label_array, dx]
    plan.add(svm_output_backward_kernel, common_dtype(arrays), arrays, [rows, n, use_linear, code],
             [margin, regularization_coefficient], label)


def _check_cross_entropy(data, label_array, label):
    if data.ndim != 2 or label_array.shape != (data.shape[0],):
        raise ValueError(f"{label}: expected (N, K) data and (N,) labels, got {data.shape} and "
                         f"{label_array.shape}")


def append_softmax_cross_entropy(Plan plan, data, label_array, out, str req="write",
                                 str label="softmax_cross_entropy"):
    """Append out[0] (+)= sum of -log(softmax(data)[row, label[row]]) over the rows."""
    cdef int code = req_code(req, label)
    _check_cross_entropy(data, label_array, label)
    if out.size != 1:
        raise ValueError(f"{label}: the output has shape {out.shape}, expected (1,)")
    if code == REQ_NULL:
        return
    arrays = [data, label_array, out]
    plan.add(cross_entropy_kernel, common_dtype(arrays), arrays, [data.shape[0], data.shape[1], code],
             [], label)


def append_softmax_cross_entropy_backward(Plan plan, head, data, label_array, dx, str req="write",
                                          str label="_backward_softmax_cross_entropy"):
    """Append dx (+)= head[0] * (softmax(data) - onehot(label))."""
    cdef int code = req_code(req, label)
    _check_cross_entropy(data, label_array, label)
    if head.size != 1 or dx.shape != data.shape:
        raise ValueError(f"{label}: head gradient {head.shape} and gradient {dx.shape} do not fit "
                         f"data {data.shape}")
    if code == REQ_NULL or dx.size == 0:
        return
    arrays = [head, data, label_array, dx]
    plan.add(cross_entropy_backward_kernel, common_dtype(arrays), arrays,
             [data.shape[0], data.shape[1], code], [], label)


def append_kl_sparse_reg_backward(Plan plan, dy, data, moving_avg, dx, double penalty,
                                  double sparseness_target, double momentum, str req="write",
                                  str label="_backward_IdentityAttachKLSparseReg"):
    """Append the moving average's update (in place) and dx (+)= dy plus the KL sparseness
    penalty's gradient, data seen as (N, features)."""
    cdef int code = req_code(req, label)
    rows = data.shape[0] if data.ndim else 1
    n = _product(data.shape[1:])
    if moving_avg.size != n or dy.shape != data.shape or dx.shape != data.shape:
        raise ValueError(f"{label}: moving_avg {moving_avg.shape}, gradients {dy.shape} and "
                         f"{dx.shape} do not fit data {data.shape}")
    if rows == 0:
        return
    arrays = [dy, data, moving_avg, dx]
    plan.add(kl_sparse_reg_backward_kernel, common_dtype(arrays), arrays, [rows, n, code],
             [penalty, sparseness_target, momentum], label)
