# Row-major triangular BLAS and LAPACK helpers of the linalg family (cysym/_ops/linalg.pyx).
# A row-major matrix is its transpose in Fortran's column-major order, so every helper flips
# what the transpose changes (side, uplo, which dimension is m) and needs no copy.  Matrices
# are contiguous: the leading dimension is the row length.
from libc.string cimport memcpy
from scipy.linalg cimport cython_blas as blas
from scipy.linalg cimport cython_lapack as lapack
from cysym._ops._blas cimport real, gemm


cdef inline void copy_values(real* dst, const real* src, Py_ssize_t n) noexcept nogil:
    """dst[:n] = src[:n], nothing when they are the same buffer (in-place kernels)."""
    if dst != src and n > 0:
        memcpy(dst, src, n * sizeof(real))


cdef inline void fill(real* a, Py_ssize_t n, real value) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        a[i] = value


cdef inline void matmul(bint trans_a, bint trans_b, int rows_a, int cols_a, int rows_b, int cols_b,
                        real alpha, const real* a, const real* b, real beta, real* c) noexcept nogil:
    """C := alpha * op(A) @ op(B) + beta * C for contiguous A (rows_a, cols_a), B (rows_b, cols_b)."""
    cdef int m = cols_a if trans_a else rows_a
    cdef int k = rows_a if trans_a else cols_a
    cdef int n = rows_b if trans_b else cols_b
    gemm(trans_a, trans_b, m, n, k, alpha, a, cols_a, b, cols_b, beta, c, n)


cdef inline void trmm(bint rightside, bint lower, bint transpose, int m, int n, real alpha,
                      const real* a, real* b) noexcept nogil:
    """B[m, n] := alpha * op(A) @ B, or alpha * B @ op(A) with rightside; A triangular."""
    cdef char side = b'L' if rightside else b'R'
    cdef char uplo = b'U' if lower else b'L'
    cdef char trans = b'T' if transpose else b'N'
    cdef char diag = b'N'
    cdef int order = n if rightside else m
    if m == 0 or n == 0:
        return
    if real is float:
        blas.strmm(&side, &uplo, &trans, &diag, &n, &m, &alpha, <float*>a, &order, b, &n)
    else:
        blas.dtrmm(&side, &uplo, &trans, &diag, &n, &m, &alpha, <double*>a, &order, b, &n)


cdef inline void trsm(bint rightside, bint lower, bint transpose, int m, int n, real alpha,
                      const real* a, real* b) noexcept nogil:
    """B[m, n] := alpha * op(A)^-1 @ B, or alpha * B @ op(A)^-1 with rightside; A triangular."""
    cdef char side = b'L' if rightside else b'R'
    cdef char uplo = b'U' if lower else b'L'
    cdef char trans = b'T' if transpose else b'N'
    cdef char diag = b'N'
    cdef int order = n if rightside else m
    if m == 0 or n == 0:
        return
    if real is float:
        blas.strsm(&side, &uplo, &trans, &diag, &n, &m, &alpha, <float*>a, &order, b, &n)
    else:
        blas.dtrsm(&side, &uplo, &trans, &diag, &n, &m, &alpha, <double*>a, &order, b, &n)


cdef inline void zero_triangle(real* a, int n, bint zero_lower) noexcept nogil:
    """The strict lower (or upper) triangle of the square A[n, n] := 0."""
    cdef int r, c
    for r in range(n):
        for c in range(n):
            if (zero_lower and r > c) or (not zero_lower and r < c):
                a[r * n + c] = 0


cdef inline void mirror_triangle(real* a, int n, bint to_lower) noexcept nogil:
    """Make A[n, n] symmetric from its lower triangle (or, to_lower, from its upper one)."""
    cdef int r, c
    for r in range(n):
        for c in range(r):
            if to_lower:
                a[r * n + c] = a[c * n + r]
            else:
                a[c * n + r] = a[r * n + c]


cdef inline int potrf(bint lower, int n, real* a) noexcept nogil:
    """A := its Cholesky factor in the lower (or upper) triangle; LAPACK's info."""
    cdef char uplo = b'U' if lower else b'L'
    cdef int info = 0
    if real is float:
        lapack.spotrf(&uplo, &n, a, &n, &info)
    else:
        lapack.dpotrf(&uplo, &n, a, &n, &info)
    return info


cdef inline int potri(bint lower, int n, real* a) noexcept nogil:
    """The triangle of A (a Cholesky factor) := that triangle of the inverse of the factored matrix."""
    cdef char uplo = b'U' if lower else b'L'
    cdef int info = 0
    if real is float:
        lapack.spotri(&uplo, &n, a, &n, &info)
    else:
        lapack.dpotri(&uplo, &n, a, &n, &info)
    return info


cdef inline int getrf(int n, real* a, int* pivots) noexcept nogil:
    """LU factorization with partial pivoting of A^T (LAPACK sees the row-major A transposed;
    det(A^T) = det(A) and inv(A^T)^T = inv(A), so callers need no transpose)."""
    cdef int info = 0
    if real is float:
        lapack.sgetrf(&n, &n, a, &n, pivots, &info)
    else:
        lapack.dgetrf(&n, &n, a, &n, pivots, &info)
    return info


cdef inline int invert(int n, real* a, int* pivots, real* work, int lwork) noexcept nogil:
    """A := inv(A) through getrf and getri; LAPACK's info (> 0: singular)."""
    cdef int info = getrf(n, a, pivots)
    if info != 0:
        return info
    if real is float:
        lapack.sgetri(&n, a, &n, pivots, work, &lwork, &info)
    else:
        lapack.dgetri(&n, a, &n, pivots, work, &lwork, &info)
    return info
