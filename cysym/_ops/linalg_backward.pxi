# The backward kernels of the linalg family (included by linalg.pyx): MXNet's formulas of
# src/operator/tensor/la_op-inl.h, step for step, per matrix of the batch.

# ---------------------------------------------------------------------------------------------
# potrf: dA = 0.5 * L^-T @ copyLTU(L^T @ dL) @ L^-1 (L lower; transposed for upper factors)

cdef void _potrf_backward(KernelCall* c, real* dummy) noexcept nogil:
    # ints: batch, n, lower; arrays: dL (out_grad), L (the forward output), dA
    cdef Py_ssize_t batch = c.ints[0], b, size
    cdef int n = <int>c.ints[1]
    cdef bint lower = c.ints[2]
    cdef const real* factor = <real*>c.arrays[1]
    cdef real* grad = <real*>c.arrays[2]
    size = <Py_ssize_t>n * n
    copy_values(grad, <real*>c.arrays[0], batch * size)
    for b in range(batch):
        trmm(not lower, lower, True, n, n, 1, factor + b * size, grad + b * size)
        mirror_triangle(grad + b * size, n, not lower)
        trsm(False, lower, lower, n, n, 1, factor + b * size, grad + b * size)
        trsm(True, lower, not lower, n, n, 0.5, factor + b * size, grad + b * size)


cdef void potrf_backward_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    if c.dtype == 0:
        _potrf_backward(c, <float*>NULL)
    else:
        _potrf_backward(c, <double*>NULL)


# ---------------------------------------------------------------------------------------------
# potri: dL = -tril(out @ (dout + dout^T) @ L^-T) (L lower; transposed for upper factors)

cdef void _potri_backward(KernelCall* c, real* dummy) noexcept nogil:
    # ints: batch, n, lower; arrays: dout, L (the forward input), out, dL
    cdef Py_ssize_t batch = c.ints[0], b, size
    cdef int n = <int>c.ints[1]
    cdef bint lower = c.ints[2]
    cdef const real* dout = <real*>c.arrays[0]
    cdef const real* factor = <real*>c.arrays[1]
    cdef const real* out = <real*>c.arrays[2]
    cdef real* grad = <real*>c.arrays[3]
    size = <Py_ssize_t>n * n
    for b in range(batch):
        if lower:
            matmul(False, False, n, n, n, n, 1, out + b * size, dout + b * size, 0, grad + b * size)
            matmul(False, True, n, n, n, n, 1, out + b * size, dout + b * size, 1, grad + b * size)
        else:
            matmul(False, False, n, n, n, n, 1, dout + b * size, out + b * size, 0, grad + b * size)
            matmul(True, False, n, n, n, n, 1, dout + b * size, out + b * size, 1, grad + b * size)
        trsm(lower, lower, True, n, n, -1, factor + b * size, grad + b * size)
        zero_triangle(grad + b * size, n, not lower)


cdef void potri_backward_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    if c.dtype == 0:
        _potri_backward(c, <float*>NULL)
    else:
        _potri_backward(c, <double*>NULL)


def append_cholesky_backward(Plan plan, str which, list inputs, grad, int batch, int n,
                             bint lower, str req, str label):
    """which 'potrf': inputs (dL, L); 'potri': inputs (dout, L, out)."""
    cdef kernel_fn kernel = potrf_backward_kernel if which == "potrf" else potri_backward_kernel
    _add(plan, kernel, inputs + [grad], [batch, n, lower], [], req, label)


# ---------------------------------------------------------------------------------------------
# trmm, trsm

cdef void _triangular_backward(KernelCall* c, real* dummy) noexcept nogil:
    # ints: batch, m, n, rightside, lower, transpose, solve; floats: alpha;
    # arrays: dout, A, B, out (trsm only: the solution), dA, dB (either may be absent: NULL)
    cdef Py_ssize_t batch = c.ints[0], b
    cdef int m = <int>c.ints[1], n = <int>c.ints[2]
    cdef bint rightside = c.ints[3], lower = c.ints[4], transpose = c.ints[5], solve = c.ints[6]
    cdef real alpha = <real>c.floats[0]
    cdef int order = n if rightside else m
    cdef Py_ssize_t tri = <Py_ssize_t>order * order, rect = <Py_ssize_t>m * n
    cdef const real* dout = <real*>c.arrays[0]
    cdef const real* a = <real*>c.arrays[1]
    cdef const real* rhs = <real*>c.arrays[2]
    cdef const real* out = <real*>c.arrays[3]
    cdef real* da = <real*>c.arrays[4]
    cdef real* db = <real*>c.arrays[5]
    # the rectangular operand dA pairs with dout: B for trmm, the solution for trsm
    cdef const real* partner = out if solve else rhs
    cdef const real* dpartner
    cdef bint da_left = rightside == transpose
    cdef real scale = -1 / alpha if solve else alpha
    for b in range(batch):
        if solve:
            # dB = alpha * op(A)^-T dout (sides as the forward), before dA, which reads it
            copy_values(db, dout + b * rect, rect)
            trsm(rightside, lower, not transpose, m, n, alpha, a + b * tri, db)
            dpartner = db
        else:
            dpartner = dout + b * rect
        if da_left:
            matmul(transpose, not transpose, m, n, m, n, scale, dpartner, partner + b * rect, 0, da)
        else:
            matmul(not transpose, transpose, m, n, m, n, scale, partner + b * rect, dpartner, 0, da)
        zero_triangle(da, order, not lower)
        if not solve:
            copy_values(db, dout + b * rect, rect)
            trmm(rightside, lower, not transpose, m, n, alpha, a + b * tri, db)
        da += tri
        db += rect


cdef void triangular_backward_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    if c.dtype == 0:
        _triangular_backward(c, <float*>NULL)
    else:
        _triangular_backward(c, <double*>NULL)


def append_triangular_backward(Plan plan, dout, A, B, out, dA, dB, int batch, int m, int n,
                               bint rightside, bint lower, bint transpose, double alpha,
                               bint solve, str label):
    """dA, dB of trmm (out unused: pass dout) or trsm (out: its forward output)."""
    plan.add(triangular_backward_kernel, common_dtype([dout, A, B, out, dA, dB]),
             [dout, A, B, out, dA, dB], [batch, m, n, rightside, lower, transpose, solve], [alpha],
             label)


# ---------------------------------------------------------------------------------------------
# sumlogdiag: dA = diag(dout / diag(A))

cdef void _sumlogdiag_backward(KernelCall* c, real* dummy) noexcept nogil:
    # ints: batch, n; arrays: dout, A, dA
    cdef Py_ssize_t batch = c.ints[0], b, j
    cdef int n = <int>c.ints[1]
    cdef const real* dout = <real*>c.arrays[0]
    cdef const real* a = <real*>c.arrays[1]
    cdef real* da = <real*>c.arrays[2]
    memset(da, 0, batch * n * n * sizeof(real))
    for b in range(batch):
        for j in range(n):
            da[b * n * n + j * (n + 1)] = dout[b] / a[b * n * n + j * (n + 1)]


cdef void sumlogdiag_backward_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    if c.dtype == 0:
        _sumlogdiag_backward(c, <float*>NULL)
    else:
        _sumlogdiag_backward(c, <double*>NULL)


def append_sumlogdiag_backward(Plan plan, dout, A, dA, int batch, int n, str req, str label):
    _add(plan, sumlogdiag_backward_kernel, [dout, A, dA], [batch, n], [], req, label)


# ---------------------------------------------------------------------------------------------
# gelqf: dA = L^-T @ (dQ + copyLTU(M) @ Q), M = L^T @ dL - dQ @ Q^T

cdef void _gelqf_backward(KernelCall* c, real* dummy) noexcept nogil:
    # ints: batch, m, n; arrays: dQ, dL, Q, L, dA, workspace (m x m)
    cdef Py_ssize_t batch = c.ints[0], b
    cdef int m = <int>c.ints[1], n = <int>c.ints[2]
    cdef Py_ssize_t rect = <Py_ssize_t>m * n, square = <Py_ssize_t>m * m
    cdef const real* dq = <real*>c.arrays[0]
    cdef const real* dl = <real*>c.arrays[1]
    cdef const real* q = <real*>c.arrays[2]
    cdef const real* l = <real*>c.arrays[3]
    cdef real* da = <real*>c.arrays[4]
    cdef real* temp = <real*>c.arrays[5]
    copy_values(da, dq, batch * rect)
    for b in range(batch):
        copy_values(temp, dl + b * square, square)
        trmm(False, True, True, m, m, 1, l + b * square, temp)                      # L^T dL
        matmul(False, True, m, n, m, n, -1, da + b * rect, q + b * rect, 1, temp)   # - dQ Q^T
        mirror_triangle(temp, m, False)
        matmul(False, False, m, m, m, n, 1, temp, q + b * rect, 1, da + b * rect)  # + M Q
        trsm(False, True, True, m, n, 1, l + b * square, da + b * rect)             # L^-T


cdef void gelqf_backward_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    if c.dtype == 0:
        _gelqf_backward(c, <float*>NULL)
    else:
        _gelqf_backward(c, <double*>NULL)


# ---------------------------------------------------------------------------------------------
# syevd: dA = U^T @ Y @ U, Y[i, j] = Y[j, i] = (X[i, j] - X[j, i]) / (2 (L[i] - L[j])) (i > j,
# gaps below eps count as eps), Y[i, i] = dL[i], X = dU @ U^T

cdef void _syevd_backward(KernelCall* c, real* dummy) noexcept nogil:
    # ints: batch, n; arrays: dU, dL, U, L, dA, workspace (n x n)
    cdef Py_ssize_t batch = c.ints[0], b
    cdef int n = <int>c.ints[1], i, j
    cdef Py_ssize_t square = <Py_ssize_t>n * n
    cdef const real* du = <real*>c.arrays[0]
    cdef const real* dl = <real*>c.arrays[1]
    cdef const real* u = <real*>c.arrays[2]
    cdef const real* w = <real*>c.arrays[3]
    cdef real* da = <real*>c.arrays[4]
    cdef real* temp = <real*>c.arrays[5]
    cdef real eps = 1e-30 if real is float else 1e-100
    cdef real gap
    for b in range(batch):
        matmul(False, True, n, n, n, n, 1, du + b * square, u + b * square, 0, temp)
        for i in range(n):
            for j in range(i):
                gap = w[b * n + i] - w[b * n + j]
                if gap < eps:
                    gap = eps
                da[i * n + j] = da[j * n + i] = (temp[i * n + j] - temp[j * n + i]) / (2 * gap)
            da[i * n + i] = dl[b * n + i]
        matmul(True, False, n, n, n, n, 1, u + b * square, da, 0, temp)
        matmul(False, False, n, n, n, n, 1, temp, u + b * square, 0, da)
        da += square


cdef void syevd_backward_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    if c.dtype == 0:
        _syevd_backward(c, <float*>NULL)
    else:
        _syevd_backward(c, <double*>NULL)


def append_factor_backward(Plan plan, str which, list arrays, dA, workspace, int batch, int m,
                           int n, str label):
    """which 'gelqf': arrays (dQ, dL, Q, L), A is (m, n); 'syevd': arrays (dU, dL, U, L), A is
    (n, n)."""
    if which == "gelqf":
        plan.add(gelqf_backward_kernel, common_dtype(arrays + [dA]), arrays + [dA, workspace],
                 [batch, m, n], [], label)
    else:
        plan.add(syevd_backward_kernel, common_dtype(arrays + [dA]), arrays + [dA, workspace],
                 [batch, n], [], label)


# ---------------------------------------------------------------------------------------------
# inverse: dA = -out^T @ dout @ out^T;  det: dA = dout * det * inv(A)^T;
# slogdet: dA = dout * inv(A)^T (no gradient where det(A) = 0)

cdef void _inverse_backward(KernelCall* c, real* dummy) noexcept nogil:
    # ints: batch, n; arrays: dout, out, dA, workspace (n x n)
    cdef Py_ssize_t batch = c.ints[0], b
    cdef int n = <int>c.ints[1]
    cdef Py_ssize_t square = <Py_ssize_t>n * n
    cdef const real* dout = <real*>c.arrays[0]
    cdef const real* out = <real*>c.arrays[1]
    cdef real* da = <real*>c.arrays[2]
    cdef real* temp = <real*>c.arrays[3]
    for b in range(batch):
        matmul(False, True, n, n, n, n, 1, dout + b * square, out + b * square, 0, temp)
        matmul(True, False, n, n, n, n, -1, out + b * square, temp, 0, da + b * square)


cdef void inverse_backward_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    if c.dtype == 0:
        _inverse_backward(c, <float*>NULL)
    else:
        _inverse_backward(c, <double*>NULL)


def append_inverse_backward(Plan plan, dout, out, dA, workspace, int batch, int n, str req,
                            str label):
    _add(plan, inverse_backward_kernel, [dout, out, dA, workspace], [batch, n], [], req, label)


cdef void _det_backward(KernelCall* c, real* dummy) noexcept nogil:
    # ints: batch, n, log; arrays: dout, A, value (det, or logabsdet with log), dA, workspace
    cdef Py_ssize_t batch = c.ints[0], b
    cdef int n = <int>c.ints[1], i, j
    cdef bint take_log = c.ints[2]
    cdef Py_ssize_t square = <Py_ssize_t>n * n
    cdef int lwork = BLOCK * (n if n > 0 else 1)
    cdef const real* dout = <real*>c.arrays[0]
    cdef const real* a = <real*>c.arrays[1]
    cdef const real* value = <real*>c.arrays[2]
    cdef real* da = <real*>c.arrays[3]
    cdef real* inverse = <real*>c.arrays[4]
    cdef real* work = inverse + square
    cdef int* pivots = _ints_after(c.arrays[4], square + lwork, sizeof(real))
    cdef real scale
    for b in range(batch):
        if value[b] == (-INFINITY if take_log else 0) or n == 0:
            memset(da, 0, square * sizeof(real))
        else:
            scale = dout[b] if take_log else dout[b] * value[b]
            copy_values(inverse, a + b * square, square)
            invert(n, inverse, pivots, work, lwork)
            for i in range(n):
                for j in range(n):
                    da[i * n + j] = scale * inverse[j * n + i]
        da += square


cdef void det_backward_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    if c.dtype == 0:
        _det_backward(c, <float*>NULL)
    else:
        _det_backward(c, <double*>NULL)


def append_det_backward(Plan plan, dout, A, value, dA, workspace, int batch, int n, bint take_log,
                        str req, str label):
    _add(plan, det_backward_kernel, [dout, A, value, dA, workspace], [batch, n, take_log], [], req,
         label)
