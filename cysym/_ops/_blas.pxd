# The one BLAS shim: every kernel cimports these instead of scipy's routines directly.
# `real` resolves at compile time to float (s-routines) or double (d-routines).
# All helpers take row-major operands (NumPy's C order) and swap them into the
# column-major call, since C^T = B^T A^T needs no copy.
from cython.parallel cimport prange
from scipy.linalg cimport cython_blas as blas
from cysym._ops cimport threads

ctypedef fused real:
    float
    double


# Below these sizes (multiply-adds) a product runs on one thread: waking a second costs more.
cdef enum:
    GEMM_SPLIT_WORK = 1 << 19
    GEMV_SPLIT_WORK = 1 << 17
    SPLIT_ALIGN = 16           # column/row blocks of whole micro-kernel tiles


cdef inline void gemm(bint trans_a, bint trans_b, int m, int n, int k, real alpha,
                      const real* a, int lda, const real* b, int ldb, real beta,
                      real* c, int ldc) noexcept nogil:
    """C[m, n] := alpha * op(A) @ op(B) + beta * C, all row-major; lda/ldb/ldc are row strides.
    Large products are split into column (or row) blocks over the kernel threads; the blocks
    agree with one call to float rounding (OpenBLAS's summation depends on the shape)."""
    cdef int parts = threads.count()
    if m == 0 or n == 0:
        return
    if parts > 1 and not threads.omp_in_parallel() and <double>m * n * k >= GEMM_SPLIT_WORK:
        _gemm_split(parts, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
    else:
        _gemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)


cdef inline void _gemm(bint trans_a, bint trans_b, int m, int n, int k, real alpha,
                       const real* a, int lda, const real* b, int ldb, real beta,
                       real* c, int ldc) noexcept nogil:
    cdef char ta = b'T' if trans_a else b'N'
    cdef char tb = b'T' if trans_b else b'N'
    if real is float:
        blas.sgemm(&tb, &ta, &n, &m, &k, &alpha, <float*>b, &ldb, <float*>a, &lda, &beta, c, &ldc)
    else:
        blas.dgemm(&tb, &ta, &n, &m, &k, &alpha, <double*>b, &ldb, <double*>a, &lda, &beta, c, &ldc)


cdef inline void _gemm_split(int parts, bint trans_a, bint trans_b, int m, int n, int k,
                             real alpha, const real* a, int lda, const real* b, int ldb,
                             real beta, real* c, int ldc) noexcept nogil:
    cdef int part, start, stop
    cdef bint by_columns = n >= m
    for part in prange(parts, num_threads=parts, schedule="static"):
        if by_columns:
            start = <int>threads.split_point(n, parts, part, SPLIT_ALIGN)
            stop = <int>threads.split_point(n, parts, part + 1, SPLIT_ALIGN)
            if stop > start:
                _gemm(trans_a, trans_b, m, stop - start, k, alpha, a, lda,
                      b + (start * ldb if trans_b else start), ldb, beta, c + start, ldc)
        else:
            start = <int>threads.split_point(m, parts, part, SPLIT_ALIGN)
            stop = <int>threads.split_point(m, parts, part + 1, SPLIT_ALIGN)
            if stop > start:
                _gemm(trans_a, trans_b, stop - start, n, k, alpha,
                      a + (start if trans_a else start * lda), lda, b, ldb, beta,
                      c + start * ldc, ldc)


cdef inline void gemv(bint trans_a, int m, int n, real alpha, const real* a, int lda,
                      const real* x, int incx, real beta, real* y, int incy) noexcept nogil:
    """y := alpha * op(A) @ x + beta * y, with A row-major of shape (m, n); large products are
    split into blocks of y over the kernel threads."""
    cdef int parts = threads.count()
    cdef int out_length = n if trans_a else m
    cdef int part, start, stop
    if m == 0 or n == 0:
        return
    if parts <= 1 or threads.omp_in_parallel() or <double>m * n < GEMV_SPLIT_WORK:
        _gemv(trans_a, m, n, alpha, a, lda, x, incx, beta, y, incy)
        return
    for part in prange(parts, num_threads=parts, schedule="static"):
        start = <int>threads.split_point(out_length, parts, part, SPLIT_ALIGN)
        stop = <int>threads.split_point(out_length, parts, part + 1, SPLIT_ALIGN)
        if stop > start:
            if trans_a:
                _gemv(True, m, stop - start, alpha, a + start, lda, x, incx, beta,
                      y + start * incy, incy)
            else:
                _gemv(False, stop - start, n, alpha, a + start * lda, lda, x, incx, beta,
                      y + start * incy, incy)


cdef inline void _gemv(bint trans_a, int m, int n, real alpha, const real* a, int lda,
                       const real* x, int incx, real beta, real* y, int incy) noexcept nogil:
    # A row-major (m, n) is A^T column-major (n, m): flip the transpose flag.
    cdef char t = b'N' if trans_a else b'T'
    if real is float:
        blas.sgemv(&t, &n, &m, &alpha, <float*>a, &lda, <float*>x, &incx, &beta, y, &incy)
    else:
        blas.dgemv(&t, &n, &m, &alpha, <double*>a, &lda, <double*>x, &incx, &beta, y, &incy)


cdef inline void ger(int m, int n, real alpha, const real* x, int incx, const real* y, int incy,
                     real* a, int lda) noexcept nogil:
    """A[m, n] += alpha * outer(x, y), with A row-major; lda is its row stride."""
    # A row-major (m, n) is A^T column-major (n, m), and A^T += alpha * outer(y, x).
    if m == 0 or n == 0:
        return
    if real is float:
        blas.sger(&n, &m, &alpha, <float*>y, &incy, <float*>x, &incx, a, &lda)
    else:
        blas.dger(&n, &m, &alpha, <double*>y, &incy, <double*>x, &incx, a, &lda)


cdef inline void axpy(int n, real alpha, const real* x, real* y) noexcept nogil:
    """y += alpha * x"""
    cdef int one = 1
    if real is float:
        blas.saxpy(&n, &alpha, <float*>x, &one, y, &one)
    else:
        blas.daxpy(&n, &alpha, <double*>x, &one, y, &one)


cdef inline real dot(int n, const real* x, const real* y) noexcept nogil:
    """x @ y"""
    cdef int one = 1
    if real is float:
        return blas.sdot(&n, <float*>x, &one, <float*>y, &one)
    else:
        return blas.ddot(&n, <double*>x, &one, <double*>y, &one)


cdef inline void scal(int n, real alpha, real* x) noexcept nogil:
    """x *= alpha"""
    cdef int one = 1
    if real is float:
        blas.sscal(&n, &alpha, x, &one)
    else:
        blas.dscal(&n, &alpha, x, &one)
