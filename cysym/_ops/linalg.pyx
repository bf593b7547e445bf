"""Kernels of the linalg family (cysym/ops/linalg.py): batched BLAS 3 and LAPACK on the
trailing two dimensions of each array, through scipy's cython_blas / cython_lapack
(cysym/_ops/_lapack.pxd).

Every matrix is contiguous, row-major: the batch is the product of the leading dimensions
(gemm and gemm2 also take a row axis other than -2: their arrays are viewed as
(outer, rows, inner, cols) and each of the outer * inner matrices has a row stride of
inner * cols).  A factorization that fails (potrf of a matrix that is not positive definite,
the inverse of a singular matrix) leaves NaN in that matrix's outputs.  Scratch memory (LAPACK
work arrays, pivots, the temporaries of the backward formulas) is the planned workspace,
whose size workspace_bytes() gives.
"""
from libc.math cimport log, fabs, INFINITY, NAN
from libc.string cimport memset
from cysym._ops._blas cimport real, gemm
from cysym._ops._common cimport common_dtype, req_code, REQ_NULL
from cysym._ops._lapack cimport (copy_values, fill, matmul, trmm, trsm, zero_triangle,
                                 mirror_triangle, potrf, potri, getrf, invert)
from cysym._ops.runner cimport Plan, KernelCall, RunContext, kernel_fn
from scipy.linalg cimport cython_lapack as lapack

cdef enum:
    # the LAPACK work array of getri, geqrf and orgqr: 64 per column (LAPACK's usual block size)
    BLOCK = 64


def work_length(str kind, int n):
    """The number of real (and int) scratch elements the kernel `kind` needs for matrices of
    order n (for gelqf: n rows)."""
    if kind == "gelqf":              # tau, then the work array
        return n + BLOCK * max(n, 1), 0
    if kind == "syevd":              # LAPACK's minimum for jobz='V'
        return 1 + 6 * n + 2 * n * n, 3 + 5 * n
    if kind == "inverse":
        return BLOCK * max(n, 1), n
    if kind == "det":                # the LU copy; pivots
        return n * n, n
    if kind == "inverse_of_input":   # det/slogdet backward: a copy to invert, getri's work
        return n * n + BLOCK * max(n, 1), n
    if kind == "square":             # one n x n temporary
        return n * n, 0
    raise ValueError(f"no workspace for {kind!r}")


def workspace_bytes(str kind, int n, int itemsize):
    reals, ints = work_length(kind, n)
    return reals * itemsize + ints * sizeof(int)


cdef inline int* _ints_after(char* workspace, Py_ssize_t reals, Py_ssize_t itemsize) noexcept nogil:
    return <int*>(workspace + reals * itemsize)


cdef _add(Plan plan, kernel_fn kernel, list arrays, list ints, list floats, str req, str label):
    if req_code(req, label) == REQ_NULL:
        return
    plan.add(kernel, common_dtype([a for a in arrays if a.dtype.kind == "f"]), arrays, ints, floats,
             label)


# ---------------------------------------------------------------------------------------------
# gemm, gemm2: out = alpha * op(A) @ op(B) (+ beta * C) over (outer, rows, inner, cols) views

cdef void _gemm(KernelCall* c, real* dummy) noexcept nogil:
    # ints: outer, inner, rows_a, cols_a, rows_b, cols_b, rows_out, cols_out, trans_a, trans_b,
    # has_c; floats: alpha, beta; arrays: A, B, [C], out
    cdef Py_ssize_t outer = c.ints[0], inner = c.ints[1], o, i
    cdef int ra = <int>c.ints[2], ca = <int>c.ints[3], rb = <int>c.ints[4], cb = <int>c.ints[5]
    cdef int ro = <int>c.ints[6], co = <int>c.ints[7]
    cdef bint ta = c.ints[8], tb = c.ints[9], has_c = c.ints[10]
    cdef real alpha = <real>c.floats[0], beta = <real>c.floats[1] if has_c else 0
    cdef const real* a = <real*>c.arrays[0]
    cdef const real* b = <real*>c.arrays[1]
    cdef real* out = <real*>c.arrays[3 if has_c else 2]
    cdef int k = ra if ta else ca
    if has_c:
        copy_values(out, <real*>c.arrays[2], outer * ro * inner * co)
    for o in range(outer):
        for i in range(inner):
            # out[o, :, i, :] = alpha * op(a[o, :, i, :]) @ op(b[o, :, i, :]) + beta * out[...]
            gemm(ta, tb, ro, co, k, alpha, a + (o * ra * inner + i) * ca, <int>(inner * ca),
                 b + (o * rb * inner + i) * cb, <int>(inner * cb), beta,
                 out + (o * ro * inner + i) * co, <int>(inner * co))


cdef void gemm_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    if c.dtype == 0:
        _gemm(c, <float*>NULL)
    else:
        _gemm(c, <double*>NULL)


def append_gemm(Plan plan, A, B, C, out, tuple layout_a, tuple layout_b, tuple layout_out,
                bint transpose_a, bint transpose_b, double alpha, double beta, str req, str label):
    """out = alpha * op(A) @ op(B) + beta * C (C None: gemm2); layouts are (outer, rows, inner,
    cols) views of the arrays."""
    arrays = [A, B] + ([] if C is None else [C]) + [out]
    _add(plan, gemm_kernel, arrays,
         [layout_out[0], layout_out[2], layout_a[1], layout_a[3], layout_b[1], layout_b[3],
          layout_out[1], layout_out[3], transpose_a, transpose_b, C is not None],
         [alpha, beta], req, label)


# ---------------------------------------------------------------------------------------------
# Cholesky: potrf, potri

cdef void _potrf(KernelCall* c, real* dummy) noexcept nogil:
    # ints: batch, n, lower; arrays: A, out
    cdef Py_ssize_t batch = c.ints[0], b, size
    cdef int n = <int>c.ints[1]
    cdef bint lower = c.ints[2]
    cdef real* out = <real*>c.arrays[1]
    size = <Py_ssize_t>n * n
    copy_values(out, <real*>c.arrays[0], batch * size)
    for b in range(batch):
        if potrf(lower, n, out + b * size) != 0:
            fill(out + b * size, size, <real>NAN)
        else:
            zero_triangle(out + b * size, n, not lower)


cdef void potrf_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    if c.dtype == 0:
        _potrf(c, <float*>NULL)
    else:
        _potrf(c, <double*>NULL)


cdef void _potri(KernelCall* c, real* dummy) noexcept nogil:
    # ints: batch, n, lower; arrays: A (a Cholesky factor), out
    cdef Py_ssize_t batch = c.ints[0], b, size
    cdef int n = <int>c.ints[1]
    cdef bint lower = c.ints[2]
    cdef real* out = <real*>c.arrays[1]
    size = <Py_ssize_t>n * n
    copy_values(out, <real*>c.arrays[0], batch * size)
    for b in range(batch):
        if potri(lower, n, out + b * size) != 0:
            fill(out + b * size, size, <real>NAN)
        else:
            mirror_triangle(out + b * size, n, not lower)


cdef void potri_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    if c.dtype == 0:
        _potri(c, <float*>NULL)
    else:
        _potri(c, <double*>NULL)


def append_cholesky(Plan plan, str which, A, out, int batch, int n, bint lower, str req, str label):
    """which 'potrf': out = cholesky(A); 'potri': out = inv(A @ A.T) (A lower) or inv(A.T @ A)."""
    cdef kernel_fn kernel = potrf_kernel if which == "potrf" else potri_kernel
    _add(plan, kernel, [A, out], [batch, n, lower], [], req, label)


# ---------------------------------------------------------------------------------------------
# trmm, trsm: out = alpha * op(A) @ B, B @ op(A) (trmm) or with op(A)^-1 (trsm)

cdef void _triangular(KernelCall* c, real* dummy) noexcept nogil:
    # ints: batch, m, n, rightside, lower, transpose, solve; floats: alpha; arrays: A, B, out
    cdef Py_ssize_t batch = c.ints[0], b
    cdef int m = <int>c.ints[1], n = <int>c.ints[2]
    cdef bint rightside = c.ints[3], lower = c.ints[4], transpose = c.ints[5], solve = c.ints[6]
    cdef real alpha = <real>c.floats[0]
    cdef Py_ssize_t order = n if rightside else m
    cdef const real* a = <real*>c.arrays[0]
    cdef real* out = <real*>c.arrays[2]
    copy_values(out, <real*>c.arrays[1], batch * m * n)
    for b in range(batch):
        if solve:
            trsm(rightside, lower, transpose, m, n, alpha, a + b * order * order, out + b * m * n)
        else:
            trmm(rightside, lower, transpose, m, n, alpha, a + b * order * order, out + b * m * n)


cdef void triangular_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    if c.dtype == 0:
        _triangular(c, <float*>NULL)
    else:
        _triangular(c, <double*>NULL)


def append_triangular(Plan plan, A, B, out, int batch, int m, int n, bint rightside, bint lower,
                      bint transpose, double alpha, bint solve, str req, str label):
    """B has shape (batch, m, n); solve selects trsm over trmm."""
    _add(plan, triangular_kernel, [A, B, out], [batch, m, n, rightside, lower, transpose, solve],
         [alpha], req, label)


# ---------------------------------------------------------------------------------------------
# syrk: out = alpha * A @ A.T (or A.T @ A)

cdef void _syrk(KernelCall* c, real* dummy) noexcept nogil:
    # ints: batch, m, n, transpose; floats: alpha; arrays: A (batch, m, n), out
    cdef Py_ssize_t batch = c.ints[0], b
    cdef int m = <int>c.ints[1], n = <int>c.ints[2]
    cdef bint transpose = c.ints[3]
    cdef real alpha = <real>c.floats[0]
    cdef const real* a = <real*>c.arrays[0]
    cdef real* out = <real*>c.arrays[1]
    cdef Py_ssize_t order = n if transpose else m
    for b in range(batch):
        # out[b] = alpha * a[b] @ a[b].T, or alpha * a[b].T @ a[b]
        matmul(transpose, not transpose, m, n, m, n, alpha, a + b * m * n, a + b * m * n, 0,
               out + b * order * order)


cdef void syrk_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    if c.dtype == 0:
        _syrk(c, <float*>NULL)
    else:
        _syrk(c, <double*>NULL)


def append_syrk(Plan plan, A, out, int batch, int m, int n, bint transpose, double alpha, str req,
                str label):
    _add(plan, syrk_kernel, [A, out], [batch, m, n, transpose], [alpha], req, label)


# ---------------------------------------------------------------------------------------------
# gelqf: A = L @ Q, through LAPACK's QR of A^T (geqrf + orgqr)

cdef void _gelqf(KernelCall* c, real* dummy) noexcept nogil:
    # ints: batch, m, n; arrays: A (batch, m, n), Q (batch, m, n), L (batch, m, m), workspace
    cdef Py_ssize_t batch = c.ints[0], b
    cdef int m = <int>c.ints[1], n = <int>c.ints[2], r, col, info = 0
    cdef real* q = <real*>c.arrays[1]
    cdef real* l = <real*>c.arrays[2]
    cdef real* tau = <real*>c.arrays[3]
    cdef real* work = tau + m
    cdef int lwork = BLOCK * (m if m > 0 else 1)
    copy_values(q, <real*>c.arrays[0], batch * m * n)
    for b in range(batch):
        # column-major, the matrix is A^T (n x m): A^T = Q' R, so A = R^T Q'^T
        if real is float:
            lapack.sgeqrf(&n, &m, q, &n, tau, work, &lwork, &info)
        else:
            lapack.dgeqrf(&n, &m, q, &n, tau, work, &lwork, &info)
        for r in range(m):
            for col in range(m):
                l[r * m + col] = q[r * n + col] if col <= r else 0
        if real is float:
            lapack.sorgqr(&n, &m, &m, q, &n, tau, work, &lwork, &info)
        else:
            lapack.dorgqr(&n, &m, &m, q, &n, tau, work, &lwork, &info)
        q += m * n
        l += m * m


cdef void gelqf_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    if c.dtype == 0:
        _gelqf(c, <float*>NULL)
    else:
        _gelqf(c, <double*>NULL)


def append_gelqf(Plan plan, A, Q, L, workspace, int batch, int m, int n, str label):
    plan.add(gelqf_kernel, common_dtype([A, Q, L]), [A, Q, L, workspace], [batch, m, n], [], label)


# ---------------------------------------------------------------------------------------------
# syevd: U @ A = diag(L) @ U, eigenvalues ascending, each row of U signed by its largest entry

cdef void _syevd(KernelCall* c, real* dummy) noexcept nogil:
    # ints: batch, n; arrays: A, U, L, workspace
    cdef Py_ssize_t batch = c.ints[0], b
    cdef int n = <int>c.ints[1], r, j, largest, info = 0
    cdef int lwork = 1 + 6 * n + 2 * n * n, liwork = 3 + 5 * n
    cdef real* u = <real*>c.arrays[1]
    cdef real* w = <real*>c.arrays[2]
    cdef real* work = <real*>c.arrays[3]
    cdef int* iwork = _ints_after(c.arrays[3], lwork, sizeof(real))
    cdef char jobz = b'V'
    cdef char uplo = b'U'     # the row-major lower triangle
    copy_values(u, <real*>c.arrays[0], batch * n * n)
    for b in range(batch):
        if real is float:
            lapack.ssyevd(&jobz, &uplo, &n, u, &n, w, work, &lwork, iwork, &liwork, &info)
        else:
            lapack.dsyevd(&jobz, &uplo, &n, u, &n, w, work, &lwork, iwork, &liwork, &info)
        if info != 0:
            fill(u, n * n, <real>NAN)
            fill(w, n, <real>NAN)
        # column-major eigenvectors are the rows of the row-major U
        for r in range(n):
            largest = 0
            for j in range(1, n):
                if fabs(u[r * n + j]) > fabs(u[r * n + largest]):
                    largest = j
            if u[r * n + largest] < 0:
                for j in range(n):
                    u[r * n + j] = -u[r * n + j]
        u += n * n
        w += n


cdef void syevd_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    if c.dtype == 0:
        _syevd(c, <float*>NULL)
    else:
        _syevd(c, <double*>NULL)


def append_syevd(Plan plan, A, U, L, workspace, int batch, int n, str label):
    plan.add(syevd_kernel, common_dtype([A, U, L]), [A, U, L, workspace], [batch, n], [], label)


# ---------------------------------------------------------------------------------------------
# inverse, det, slogdet (LU with partial pivoting)

cdef void _inverse(KernelCall* c, real* dummy) noexcept nogil:
    # ints: batch, n; arrays: A, out, workspace
    cdef Py_ssize_t batch = c.ints[0], b
    cdef int n = <int>c.ints[1]
    cdef int lwork = BLOCK * (n if n > 0 else 1)
    cdef real* out = <real*>c.arrays[1]
    cdef real* work = <real*>c.arrays[2]
    cdef int* pivots = _ints_after(c.arrays[2], lwork, sizeof(real))
    copy_values(out, <real*>c.arrays[0], batch * n * n)
    for b in range(batch):
        if invert(n, out + b * n * n, pivots, work, lwork) != 0:
            fill(out + b * n * n, n * n, <real>NAN)


cdef void inverse_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    if c.dtype == 0:
        _inverse(c, <float*>NULL)
    else:
        _inverse(c, <double*>NULL)


def append_inverse(Plan plan, A, out, workspace, int batch, int n, str req, str label):
    _add(plan, inverse_kernel, [A, out, workspace], [batch, n], [], req, label)


cdef void _det(KernelCall* c, real* dummy) noexcept nogil:
    # ints: batch, n, log; arrays: A, then det (log 0) or sign, logabsdet (log 1), workspace
    cdef Py_ssize_t batch = c.ints[0], b
    cdef int n = <int>c.ints[1], j
    cdef bint take_log = c.ints[2]
    cdef const real* a = <real*>c.arrays[0]
    cdef real* first = <real*>c.arrays[1]
    cdef real* logabsdet = <real*>c.arrays[2]
    cdef real* lu = <real*>c.arrays[3 if take_log else 2]
    cdef int* pivots = _ints_after(<char*>lu, n * n, sizeof(real))
    cdef double permutation, product, logsum, diagonal
    for b in range(batch):
        copy_values(lu, a + b * n * n, n * n)
        getrf(n, lu, pivots)
        permutation = 1.0       # det(P): the parity of the row swaps
        product = 1.0
        logsum = 0.0
        for j in range(n):
            if pivots[j] != j + 1:
                permutation = -permutation
            diagonal = lu[j * n + j]
            product *= diagonal
            logsum += log(fabs(diagonal))
        if take_log:
            first[b] = <real>(permutation * ((product > 0) - (product < 0)))
            logabsdet[b] = <real>logsum
        else:
            first[b] = <real>(permutation * product)   # det(P) * prod(diag(U))


cdef void det_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    if c.dtype == 0:
        _det(c, <float*>NULL)
    else:
        _det(c, <double*>NULL)


def append_det(Plan plan, A, outputs, workspace, int batch, int n, str label):
    """outputs: [det] or [sign, logabsdet] (slogdet)."""
    plan.add(det_kernel, common_dtype([A] + outputs), [A] + outputs + [workspace],
             [batch, n, len(outputs) == 2], [], label)


# ---------------------------------------------------------------------------------------------
# sumlogdiag, extractdiag/makediag, extracttrian/maketrian

cdef void _sumlogdiag(KernelCall* c, real* dummy) noexcept nogil:
    # ints: batch, n; arrays: A, out
    cdef Py_ssize_t batch = c.ints[0], b
    cdef int n = <int>c.ints[1], j
    cdef const real* a = <real*>c.arrays[0]
    cdef real* out = <real*>c.arrays[1]
    cdef real total
    for b in range(batch):
        total = 0
        for j in range(n):
            total += log(a[b * n * n + j * (n + 1)])
        out[b] = total


cdef void sumlogdiag_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    if c.dtype == 0:
        _sumlogdiag(c, <float*>NULL)
    else:
        _sumlogdiag(c, <double*>NULL)


def append_sumlogdiag(Plan plan, A, out, int batch, int n, str req, str label):
    _add(plan, sumlogdiag_kernel, [A, out], [batch, n], [], req, label)


cdef inline Py_ssize_t _trian_index(int row, int col, int n, int offset, bint lower) noexcept nogil:
    """Position of A[row, col] in the packed triangle (MXNet's CopyTrian), -1 outside it; the
    upper triangle is packed column by column."""
    cdef int swap
    if offset > 0 or (offset == 0 and not lower):
        swap = row
        row = col
        col = swap
    row -= offset if offset > 0 else -offset
    if row < col:
        return -1
    return (<Py_ssize_t>row * (row + 1)) // 2 + col


cdef void _packing(KernelCall* c, real* dummy) noexcept nogil:
    # ints: batch, n (matrix order), offset, lower, triangle, extract; arrays: matrices, packed
    # (extract: packed := matrices; else matrices := packed, zero elsewhere)
    cdef Py_ssize_t batch = c.ints[0], b, position, length
    cdef int n = <int>c.ints[1], offset = <int>c.ints[2], row, col, k
    cdef bint lower = c.ints[3], triangle = c.ints[4], extract = c.ints[5]
    cdef real* matrices = <real*>c.arrays[0]
    cdef real* packed = <real*>c.arrays[1]
    k = offset if offset > 0 else -offset
    length = ((n - k) * (n - k + 1)) // 2 if triangle else n - k
    if not extract:
        memset(matrices, 0, batch * n * n * sizeof(real))
    for b in range(batch):
        for row in range(n):
            for col in range(n):
                if triangle:
                    position = _trian_index(row, col, n, offset, lower)
                else:
                    position = col - (offset if offset > 0 else 0) \
                        if col - row == offset else -1
                if position < 0:
                    continue
                if extract:
                    packed[b * length + position] = matrices[(b * n + row) * n + col]
                else:
                    matrices[(b * n + row) * n + col] = packed[b * length + position]


cdef void packing_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    if c.dtype == 0:
        _packing(c, <float*>NULL)
    else:
        _packing(c, <double*>NULL)


def append_packing(Plan plan, matrices, packed, int batch, int n, int offset, bint lower,
                   bint triangle, bint extract, str req, str label):
    """extractdiag/extracttrian (extract) or makediag/maketrian between (batch, n, n) matrices
    and their packed diagonal or triangle at `offset`."""
    if req_code(req, label) == REQ_NULL:
        return
    plan.add(packing_kernel, common_dtype([matrices, packed]), [matrices, packed],
             [batch, n, offset, lower, triangle, extract], [], label)


include "linalg_backward.pxi"
